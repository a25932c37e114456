#!/bin/bash
# api_wrk.sh - REST throughput through nginx, with wrk (Debian's package),
# 2 threads, 16 connections, 10 s each: a small static file served by nginx
# itself (the ceiling on this machine), GET /api/healthz, and the
# authenticated GET /api/rooms/{code} (token check and one read transaction
# over the room, its users, playlist, anchor, chat and requests; one
# pipelined Redis round trip). Prints each rate and the ratio to static.
# Starts its own stack on a free port in a temporary directory.
# usage: bench/api_wrk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "api_wrk.sh: install wrk (apt-get install wrk)" >&2; exit 1; }
T=$(mktemp -d)
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/run.sh -q -p "$P" -d "$T/data" -r "$T/run" >"$T/log" 2>&1 &
STACK=$!
trap 'kill -TERM $STACK; wait $STACK 2>/dev/null || true; rm -rf "$T"' EXIT
until curl -fsS "http://127.0.0.1:$P/api/healthz" 2>/dev/null | grep -q '"worker":true'; do sleep 0.2; done
room=$(curl -fsS -X POST "http://127.0.0.1:$P/api/rooms" -H 'Content-Type: application/json' -d '{"name":"bench"}')
tok=$(printf '%s' "$room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
code=$(printf '%s' "$room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
# run NAME URL [wrk args]: prints the latency lines and remembers the rate.
run() {
	local name=$1 url=$2 out
	shift 2
	echo "== $name"
	out=$(wrk -t2 -c16 -d10s --latency "$@" "$url")
	printf '%s\n' "$out" | grep -E 'Requests/sec|50%|99%|Non-2xx'
	printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}' >"$T/rate-$name"
}
run static "http://127.0.0.1:$P/css/app.css"
run healthz "http://127.0.0.1:$P/api/healthz"
run room "http://127.0.0.1:$P/api/rooms/$code" -H "Authorization: Bearer $tok"
awk -v s="$(cat "$T/rate-static")" -v h="$(cat "$T/rate-healthz")" -v r="$(cat "$T/rate-room")" \
	'BEGIN { printf "ratio to static: healthz %.2f, GET room %.2f\n", h / s, r / s }'
