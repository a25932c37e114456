#!/bin/bash
# worker_bench.sh - the worker benchmark of issue 5: 1,000 playing rooms
# with beacons every second and control commands at 1,000/s. Measures
# beacon and auto-advance lateness against the worker's own due times,
# command latency (XADD to the playback event) and the worker's CPU and
# RSS. Starts Redis (unix socket) and tutti-worker in a temporary directory
# on a database migrated by tutti-api and filled straight through SQLite
# (rooms with playlists of 5-20 s tracks), then runs bench/worker_bench.c.
# Not part of make test. Needs: libuv1-dev libhiredis-dev libjansson-dev
# redis-server python3 (and bin/tutti-worker, bin/tutti-api from `make`).
#
# usage: bench/worker_bench.sh
# environment: ROOMS (1000), RATE (1000 commands/s), ITEMS (30 per
#   playlist), DUR (60 s window), WARM (10 s after the rooms started),
#   BEACON_MS (1000), LEAD_MS (250), PAUSE_PCT (2: share of the commands to
#   a playing room that pause it; the others are relative seeks; a paused
#   room is resumed by its next command, so about 98 % of the rooms play),
#   RUNS (1), BASE (/tmp: where the temporary directory with the database
#   goes; /dev/shm takes the disk out),
#   PERF=1 records the worker with perf during the window (report in the
#   output), PIN=0 lets the scheduler place processes (default: the worker
#   alone on CPU 0, Redis and the measurer on CPU 1), KEEP=1 keeps the
#   temporary directory, WORKER (bin/tutti-worker).
#
# The measurer alone (the build line this script uses):
#   cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o worker_bench \
#      bench/worker_bench.c -luv -lhiredis -ljansson -lpthread
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROOMS=${ROOMS:-1000}
RATE=${RATE:-1000}
ITEMS=${ITEMS:-30}
DUR=${DUR:-60}
WARM=${WARM:-10}
BEACON_MS=${BEACON_MS:-1000}
LEAD_MS=${LEAD_MS:-250}
PAUSE_PCT=${PAUSE_PCT:-2}
RUNS=${RUNS:-1}
PERF=${PERF:-0}
PIN=${PIN:-1}
WORKER=${WORKER:-bin/tutti-worker}

bench_need redis-server redis-cli python3 cc
[ -x "$WORKER" ] && [ -x bin/tutti-api ] ||
	{ echo "worker_bench.sh: $WORKER or bin/tutti-api is missing: run make" >&2; exit 1; }

bench_tmp "${BASE:-/tmp}/worker-bench.XXXXXX"
bench_pin

cp "$WORKER" "$T/tutti-worker"	# the binary measured, whatever make does meanwhile
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -o "$T/worker_bench" bench/worker_bench.c \
	-luv -lhiredis -ljansson -lpthread

# fill DIR: a migrated database with ROOMS open rooms, 200 tracks of 5-20 s
# and ITEMS random tracks per playlist, nothing playing yet. Room i has the
# code of i + 31^4 in the room-code alphabet (worker_bench.c knows it).
fill() {
	mkdir -p "$1"
	bin/tutti-api -d "$1" -m sql migrate >/dev/null
	python3 - "$1/tutti.db" "$ROOMS" "$ITEMS" <<'EOF'
import hashlib, random, sqlite3, sys, time
db, rooms, items = sqlite3.connect(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
alpha, now, rnd = "23456789ABCDEFGHJKMNPQRSTUVWXYZ", int(time.time() * 1e6), random.Random(5)
def code(i):
    n, s = i + 31 ** 4, ""
    for _ in range(5):
        s, n = alpha[n % 31] + s, n // 31
    return s
with db:
    for t in range(1, 201):
        us = rnd.randrange(5_000_000, 20_000_000)
        db.execute("INSERT INTO tracks (id, sha256, title, samples, sample_rate, channels, "
                   "bitrate, duration_us, size, added_us) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (t, hashlib.sha256(b"%d" % t).hexdigest(), "bench %d" % t,
                    us * 441 // 10000, 44100, 2, 128, us, us // 62, now))
    for i in range(rooms):
        db.execute("INSERT INTO rooms (id, code, created_us) VALUES (?,?,?)",
                   (i + 1, code(i), now))
        for p in range(items):
            db.execute("INSERT INTO playlist_items (room_id, track_id, position, added_us) "
                       "VALUES (?,?,?,?)", (i + 1, rnd.randrange(1, 201), p, now))
EOF
}

# run N: one measurement on a fresh Redis, database and worker.
run() {
	local d="$T/run$1" rpid wpid ppid=
	fill "$d"
	"${CLI[@]}" redis-server --port 0 --unixsocket "$d/redis.sock" --unixsocketperm 700 \
		--save "" --appendonly no --dir "$d" --daemonize no --loglevel warning \
		--logfile "$d/redis.log" &
	rpid=$!
	PIDS+=($rpid)
	for _ in $(seq 100); do [ -S "$d/redis.sock" ] && break; sleep 0.05; done
	"${SRV[@]}" "$T/tutti-worker" -d "$d" -R "$d/redis.sock" -i bench -L "$LEAD_MS" \
		-b "$BEACON_MS" -I 31536000 2>"$d/worker.log" &
	wpid=$!
	PIDS+=($wpid)
	for _ in $(seq 100); do
		[ -n "$(redis-cli -s "$d/redis.sock" GET tutti:worker:alive)" ] && break
		sleep 0.05
	done
	if [ "$PERF" = 1 ]; then
		( sleep $((ROOMS / 500 + WARM + 1))
		  exec perf record -q -F 997 -g -p "$wpid" -o "$d/perf.data" -- sleep "$DUR" \
			>/dev/null 2>&1 ) &
		ppid=$!
	fi
	echo "== run $1: $ROOMS rooms, $RATE commands/s, $DUR s window (worker pid $wpid)"
	"${CLI[@]}" "$T/worker_bench" -R "$d/redis.sock" -p "$wpid" -q "$rpid" -n "$ROOMS" \
		-r "$RATE" -w "$WARM" -d "$DUR" -b "$BEACON_MS" -L "$LEAD_MS" -P "$PAUSE_PCT"
	grep -c -i "err" "$d/worker.log" | sed 's/^/worker log lines with "err": /' || true
	if [ -n "$ppid" ]; then
		wait "$ppid" || true
		perf report -i "$d/perf.data" --no-children --stdio --percent-limit 2 \
			--sort symbol 2>/dev/null | grep -v '^#' | grep '%' | head -25
	fi
	stop "$wpid"
	stop "$rpid"
}

for n in $(seq "$RUNS"); do
	run "$n"
done
