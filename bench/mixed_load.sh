#!/bin/bash
# mixed_load.sh - the mixed-load bench of issue 8 ("Load"): by default 200
# rooms and 20,000 WebSocket listeners over two relays behind nginx for an
# hour, with playback commands, chat and tus uploads through nginx's /api.
# Prints whether anything failed (unexpected HTTP statuses, WebSocket closes,
# seq gaps), whether the memory of every server process stayed flat (RSS
# every 30 s: first, last, max, fitted slope) and whether every listener
# ends in sync (its last anchor and seq equal the room's over REST; beacons
# still arriving). Not part of make test; build with `make` first.
#
# It starts its own stack with scripts/run.sh -n 2 on a free port in a
# temporary directory. The nginx of the development config (1 worker, 4096
# connections) cannot carry 20,000 proxied WebSockets (two descriptors each,
# RLIMIT_NOFILE 20,000 per process here), so run.sh runs from a shadow tree
# (copies of bin/ and scripts/, links to web/ and sql/) whose
# nginx/tutti-dev.conf.in is the repository's with only worker_processes,
# worker_rlimit_nofile, worker_connections and `listen ... reuseport` changed.
# The listeners come from bench/mixload.c (libuv; built here with cc), split
# over processes; bench/mixed_load.py drives the rest and writes the results:
# build/bench/mixed-load-<time>.json, -memory.csv, -listeners.csv, -stack.log.
#
# usage: bench/mixed_load.sh [-t seconds] [-r rooms] [-l listeners]
#          [-j listener_procs] [-p ping_ms] [-c chats_per_room_per_min]
#          [-u upload_every_s] [-m cmd_min_s-cmd_max_s] [-s sample_s] [-k]
#   -t  length of the mixed load (default 3600), after the set-up and ramp
#   -r  rooms (200); -l listeners (20000), one user each, the room's admin
#       among them; -j listener processes (default: enough for the fd limit)
#   -p  time-sync ping per listener every ping_ms (default 2000, as the
#       browser after its first 20 s; 0: none)
#   -c  chat messages per room per minute (default 3); -u an upload every
#       this many seconds (default 60); -m seconds between two commands of a
#       room, uniform (default 10-30); -s RSS sampling period (default 30)
#   -k  keep the temporary directory
# environment: MIXLOAD_CFLAGS (default -O2), e.g. "-O1 -g
#   -fsanitize=address,undefined" to run the listeners under sanitizers.
# Needs: nginx redis-server python3 cc sox lame curl, libuv1-dev
# libjansson-dev libssl-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROOT=$PWD

DUR=3600 ROOMS=200 LISTENERS=20000 PROCS="" PING_MS=2000 CHAT=3 UPLOAD=60
CMD=10-30 SAMPLE=30 KEEP=0
# usage [status]: the usage lines of this header; exits with status (2).
usage() {
	sed -n '/^# usage:/,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
	exit "${1:-2}"
}
while getopts "t:r:l:j:p:c:u:m:s:kh" opt; do
	case $opt in
	t) DUR=$OPTARG ;;
	r) ROOMS=$OPTARG ;;
	l) LISTENERS=$OPTARG ;;
	j) PROCS=$OPTARG ;;
	p) PING_MS=$OPTARG ;;
	c) CHAT=$OPTARG ;;
	u) UPLOAD=$OPTARG ;;
	m) CMD=$OPTARG ;;
	s) SAMPLE=$OPTARG ;;
	k) KEEP=1 ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
[ $# -ge "$OPTIND" ] && usage
case $CMD in
*-*) CMD_MIN=${CMD%-*} CMD_MAX=${CMD#*-} ;;
*) usage ;;
esac

bench_need nginx redis-server python3 cc sox lame curl
for b in tutti-api tutti-worker tutti-relay; do
	[ -x "bin/$b" ] || { echo "mixed_load.sh: bin/$b is missing: run make" >&2; exit 1; }
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# Every process gets the hard limit of open files (20,000 here: root cannot
# raise it in this user namespace); descriptors decide the process counts.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
# Listener processes: each holds its share plus a few descriptors.
[ -n "$PROCS" ] || PROCS=$(((LISTENERS + NOFILE - 1001) / (NOFILE - 1000)))
[ "$PROCS" -ge 1 ] || PROCS=1
# nginx workers: two descriptors per proxied WebSocket, spread by reuseport
# (even within a few %), 15 % headroom; at least 2.
WCONN=$((NOFILE - 200))
NGINX_WORKERS=$(((LISTENERS * 2 * 115 / 100 + WCONN - 1) / WCONN))
[ "$NGINX_WORKERS" -ge 2 ] || NGINX_WORKERS=2
# Enough ephemeral ports for the listeners (spread over 8 source addresses).
sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null ||
	echo "mixed_load.sh: cannot widen net.ipv4.ip_local_port_range" >&2

bench_tmp /tmp/mixed-load.XXXXXX

# The shadow tree run.sh runs from (it reads nginx/tutti-dev.conf.in, bin/,
# sql/, web/ and scripts/demo.sh relative to itself). Copies of the
# binaries: whatever `make` does meanwhile, the processes measured stay.
R=$T/root
mkdir -p "$R/bin" "$R/scripts" "$R/nginx" "$R/build/demo"
cp bin/tutti-api bin/tutti-worker bin/tutti-relay "$R/bin/"
cp scripts/run.sh scripts/demo.sh "$R/scripts/"
ln -s "$ROOT/web" "$R/web"
ln -s "$ROOT/sql" "$R/sql"
cp build/demo/*.mp3 "$R/build/demo/" 2>/dev/null || true
sed -e "s/^worker_processes 1;\$/worker_processes $NGINX_WORKERS;\nworker_rlimit_nofile $NOFILE;/" \
	-e "s/^\(\s*\)worker_connections 4096;\$/\1worker_connections $WCONN;/" \
	-e "s/^\(\s*\)listen 127.0.0.1:@PORT@;\$/\1listen 127.0.0.1:@PORT@ reuseport backlog=4096;/" \
	nginx/tutti-dev.conf.in >"$R/nginx/tutti-dev.conf.in"
for want in "worker_processes $NGINX_WORKERS;" "worker_rlimit_nofile $NOFILE;" \
    "worker_connections $WCONN;" "reuseport backlog=4096;"; do
	grep -qF "$want" "$R/nginx/tutti-dev.conf.in" || {
		echo "mixed_load.sh: nginx/tutti-dev.conf.in changed: cannot set \"$want\"" >&2
		exit 1
	}
done

# shellcheck disable=SC2086
cc -std=c11 -D_GNU_SOURCE ${MIXLOAD_CFLAGS:--O2} -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Icommon -o "$T/mixload" bench/mixload.c bench/wsload.c \
	common/log.c common/clock.c common/ws.c -luv -lcrypto -ljansson

# The upload: 8 s of MP3 (about 130 KB); the driver prepends a new ID3 tag
# each time, so every upload is a new track.
sox -q -n -r 44100 -c 2 "$T/upload.wav" synth 8 sine 330-660 gain -6
lame --quiet -b 128 "$T/upload.wav" "$T/upload.mp3"
rm -f "$T/upload.wav"

PORT=$(free_port)
"$R/scripts/run.sh" -q -p "$PORT" -d "$T/data" -r "$T/run" -n 2 >"$T/stack.log" 2>&1 &
STACK=$!
PIDS+=("$STACK")
for _ in $(seq 300); do
	curl -fsS --max-time 1 "http://127.0.0.1:$PORT/api/healthz" 2>/dev/null |
		grep -q '"worker":true' && break
	kill -0 "$STACK" 2>/dev/null || { cat "$T/stack.log" >&2; exit 1; }
	sleep 0.2
done

mkdir -p build/bench
OUT=build/bench/mixed-load-$(date +%Y%m%d-%H%M%S)
echo "mixed load: $ROOMS rooms, $LISTENERS listeners ($PROCS processes), 2 relays," \
	"nginx with $NGINX_WORKERS workers x $WCONN connections, $DUR s;" \
	"RLIMIT_NOFILE $NOFILE; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
rc=0
"$PY" bench/mixed_load.py --port "$PORT" --stack-pid "$STACK" --dir "$T" --out "$OUT" \
	--mixload "$T/mixload" --mp3 "$T/upload.mp3" --access-log "$T/run/nginx/access.log" \
	--stack-log "$T/stack.log" --redis-sock "$T/run/redis.sock" --rooms "$ROOMS" \
	--listeners "$LISTENERS" --duration "$DUR" \
	--procs "$PROCS" --ping-ms "$PING_MS" --chat-per-min "$CHAT" --upload-every "$UPLOAD" \
	--cmd-min "$CMD_MIN" --cmd-max "$CMD_MAX" --sample "$SAMPLE" || rc=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$STACK" 2>/dev/null || { echo "mixed_load.sh: the stack stopped during the run" >&2; rc=1; }
cp "$T/stack.log" "$OUT-stack.log"
exit "$rc"
