# shellcheck shell=bash
# lib.sh - shell helpers shared by the bench scripts (relay_bench.sh,
# worker_bench.sh, mixed_load.sh), sourced from the repository root after
# `set -euo pipefail`: the commands a bench needs, its temporary directory
# and the processes it started (both gone on exit), CPU pinning, free ports.
# Messages start with the name of the script that sources it.

# bench_need CMD...: exits 1 unless every CMD is on PATH.
bench_need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null || { echo "${0##*/}: $p is missing" >&2; exit 1; }
	done
}

# bench_tmp TEMPLATE: T = a new directory made by mktemp -d TEMPLATE, PIDS
# empty. On exit every PID in PIDS gets TERM and is waited for, and T is
# removed unless KEEP=1; an interrupt or TERM exits with status 130.
bench_tmp() {
	T=$(mktemp -d "$1")
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317  # (called by the trap)
bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "${0##*/}: kept $T" >&2
	else
		rm -rf "$T"
	fi
}

# bench_pin: SRV and CLI, the command prefixes of the processes measured
# (CPU 0) and of the load (CPU 1); both empty with PIN=0, one core or no
# taskset.
# shellcheck disable=SC2034  # (SRV and CLI are the sourcing script's)
bench_pin() {
	SRV=() CLI=()
	if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
		SRV=(taskset -c 0)
		CLI=(taskset -c 1)
	fi
}

# stop PID: TERM, wait, and forget it (drop it from PIDS).
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# free_port: prints a TCP port free on 127.0.0.1 just now (python3, or $PY).
free_port() {
	"${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
