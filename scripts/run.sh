#!/bin/bash
# run.sh - starts the whole tutti stack in the foreground: redis-server,
# tutti-api, two tutti-workers (worker-1 and worker-2: one active, one on
# standby), N tutti-relays and nginx in front of them, all unprivileged, with
# sockets and logs under RUNDIR. Prints the URL when the stack answers;
# Ctrl-C or SIGTERM stops every process it started. When any process but a
# worker exits the whole stack stops; a worker that exits is only reported
# (the standby takes over; with none left commands get 503 until a worker
# is started by hand).
# usage: scripts/run.sh [-p port] [-d datadir] [-r rundir] [-n relays] [-q]
# Extra options for the daemons come from the environment (word-split):
# TUTTI_API_OPTS, TUTTI_WORKER_OPTS (both workers), TUTTI_RELAY_OPTS; e.g. tests shorten
# the admin grace period with TUTTI_WORKER_OPTS="-g 500". With
# TUTTI_RELAY_METRICS_PORT=P, relay N serves /metrics on 127.0.0.1:P+N-1.
# With TUTTI_REDIS_PASSWORD set, redis-server requires that password
# (requirepass) and the daemons, which inherit the variable, send it.
set -euo pipefail

PORT=8080 DATA=$PWD/data RUN=$PWD/run NRELAYS=2 QUIET=0
usage() {
	echo "usage: scripts/run.sh [-p port] [-d datadir] [-r rundir] [-n relays] [-q]" >&2
	exit 2
}
while getopts "p:d:r:n:q" opt; do
	case $opt in
	p) PORT=$OPTARG ;;
	d) DATA=$OPTARG ;;
	r) RUN=$OPTARG ;;
	n) NRELAYS=$OPTARG ;;
	q) QUIET=1 ;;
	*) usage ;;
	esac
done
cd "$(dirname "$0")/.."
ROOT=$PWD
# Refuse a port something already listens on, before starting anything.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "run.sh: port $PORT is in use on 127.0.0.1; choose another with -p (make run PORT=...)" >&2
	exit 1
fi
mkdir -p "$DATA" "$RUN"
DATA=$(cd "$DATA" && pwd) RUN=$(cd "$RUN" && pwd)

PIDS=() WORKER_PIDS=()
stopping=0
stop_all() {
	[ "$stopping" = 1 ] && return
	stopping=1
	trap - INT TERM
	[ ${#PIDS[@]} -gt 0 ] || return 0
	kill -TERM "${PIDS[@]}" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "${PIDS[@]}" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "${PIDS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -f "$RUN"/*.sock
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

# wait_for PATH: until the unix socket PATH exists (5 s at most).
wait_for() {
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	echo "run.sh: $1 did not appear" >&2
	exit 1
}

# The database and the demo library.
bin/tutti-api -d "$DATA" -m sql migrate
[ -s "$DATA/.demo-imported" ] || { scripts/demo.sh "$DATA" && date > "$DATA/.demo-imported"; }

rm -f "$RUN"/*.sock
# (redis-server replaces its command line with its title: ps does not show it.)
redis_auth=()
[ -z "${TUTTI_REDIS_PASSWORD:-}" ] || redis_auth=(--requirepass "$TUTTI_REDIS_PASSWORD")
"$(command -v redis-server)" --port 0 --unixsocket "$RUN/redis.sock" --unixsocketperm 700 \
	--save "" --appendonly no --dir "$RUN" --daemonize no --loglevel warning \
	--enable-debug-command local "${redis_auth[@]}" \
	--logfile "" &
PIDS+=($!)
wait_for "$RUN/redis.sock"

# shellcheck disable=SC2086
bin/tutti-api -d "$DATA" -R "$RUN/redis.sock" -s "$RUN/api.sock" ${TUTTI_API_OPTS:-} serve &
PIDS+=($!)
for i in 1 2; do
	# shellcheck disable=SC2086
	bin/tutti-worker -d "$DATA" -R "$RUN/redis.sock" -i "worker-$i" ${TUTTI_WORKER_OPTS:-} &
	PIDS+=($!) WORKER_PIDS+=($!)
done
relays=""
for i in $(seq "$NRELAYS"); do
	metrics=""
	[ -z "${TUTTI_RELAY_METRICS_PORT:-}" ] ||
		metrics="-m 127.0.0.1:$((TUTTI_RELAY_METRICS_PORT + i - 1))"
	# shellcheck disable=SC2086
	bin/tutti-relay -l "unix:$RUN/relay-$i.sock" -R "$RUN/redis.sock" -i "r$i" $metrics \
		${TUTTI_RELAY_OPTS:-} &
	PIDS+=($!)
	relays+="		server unix:$RUN/relay-$i.sock max_fails=0;"$'\n'
done
wait_for "$RUN/api.sock"
for i in $(seq "$NRELAYS"); do wait_for "$RUN/relay-$i.sock"; done

# nginx: an unprivileged master; as root, its workers run as the invoking user.
mkdir -p "$RUN/nginx"/{body,proxy,fastcgi,uwsgi,scgi}
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
shopt -u patsub_replacement 2>/dev/null || true
conf=$(<nginx/tutti-dev.conf.in)
conf=${conf//@PORT@/$PORT}
conf=${conf//@RUN@/$RUN}
conf=${conf//@DATA@/$DATA}
conf=${conf//@WEB@/$ROOT/web}
conf=${conf//@USER@/$user_line}
conf=${conf//@RELAYS@/$relays}
printf '%s\n' "$conf" > "$RUN/nginx/nginx.conf"
nginx -e stderr -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -t -q
nginx -e stderr -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" &
PIDS+=($!)

# all_alive: whether every process started so far is still running.
all_alive() {
	local p
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
}

healthy=0
for _ in $(seq 100); do
	all_alive || break
	if curl -fsS --max-time 1 "http://127.0.0.1:$PORT/api/healthz" 2>/dev/null |
	    grep -q '"worker":true'; then
		healthy=1
		break
	fi
	sleep 0.1
done
if ! all_alive; then
	echo "run.sh: a process exited during start-up (is port $PORT free?); stopping the stack" >&2
	exit 1
fi
[ "$healthy" = 1 ] || echo "run.sh: warning: /api/healthz does not report a healthy stack yet" >&2
[ "$QUIET" = 1 ] || echo "tutti is running at http://127.0.0.1:$PORT/  (Ctrl-C stops it)"

# is_worker PID: whether PID is one of the workers started above.
is_worker() {
	local p
	for p in "${WORKER_PIDS[@]}"; do
		[ "$p" = "$1" ] && return 0
	done
	return 1
}

# Stop everything as soon as any one process but a worker dies; a worker's
# exit is reported and the rest goes on (wait -n -p needs bash 5.1).
set +e
while :; do
	running=()
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && running+=("$p")
	done
	[ ${#running[@]} -gt 0 ] || { rc=1; break; }
	exited=""
	wait -n -p exited "${running[@]}"
	rc=$?
	[ "$stopping" = 0 ] || break
	if [ -z "$exited" ] || ! is_worker "$exited"; then
		break
	fi
	echo "run.sh: tutti-worker (pid $exited) exited ($rc); the stack goes on" >&2
done
[ "$stopping" = 1 ] || echo "run.sh: a process exited ($rc); stopping the stack" >&2
stop_all
exit "$rc"
