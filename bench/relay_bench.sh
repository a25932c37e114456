#!/bin/bash
# relay_bench.sh - the relay benchmark of issue 4: idle connections held by
# one tutti-relay (straight and through nginx) and its RSS per connection,
# publish-to-delivery latency and CPU per million deliveries at a fixed
# rate, the most deliveries per CPU second; then the same load generator
# against nchan (nginx + libnginx-mod-nchan) on the same Redis. Starts
# Redis, the relay and both nginx on free ports in a temporary directory,
# writes rooms and session tokens straight into Redis, and prints a table.
# Not part of make test. Needs: libuv1-dev libhiredis-dev libssl-dev
# redis-server nginx libnginx-mod-nchan (and bin/tutti-relay from `make`).
#
# usage: bench/relay_bench.sh [phase ...]
#   phases (default: all, in this order): idle idle-nginx deliver
#   deliver-nginx max nchan-idle nchan-deliver nchan-max
# environment: IDLE_N (idle connections; default 50000, capped by the
#   hard RLIMIT_NOFILE), DELIVER_N (1000 listeners), DELIVER_ROOMS (10),
#   DELIVER_RATE (1000 messages/s: 100,000 deliveries/s), MAX_RATE (5000),
#   DUR (20 s window), WARM (3 s), IDLE_HOLD (10 s), NCHAN_WORKERS (2),
#   RELAY (bin/tutti-relay), KEEP=1 keeps the temporary directory, PIN=0
#   lets the scheduler place processes (default: the servers measured run
#   on CPU 0, the load generator and Redis on CPU 1, so "per core" means
#   one core, and loopback wake-ups do not stack both ends on one core).
#
# The load generator alone (the build line this script uses):
#   cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Icommon -o loadgen \
#      bench/loadgen.c bench/wsload.c common/log.c common/clock.c common/ws.c \
#      -luv -lcrypto -lhiredis
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
IDLE_N=${IDLE_N:-50000}
DELIVER_N=${DELIVER_N:-1000}
DELIVER_ROOMS=${DELIVER_ROOMS:-10}
DELIVER_RATE=${DELIVER_RATE:-1000}
MAX_RATE=${MAX_RATE:-5000}
DUR=${DUR:-20}
WARM=${WARM:-3}
IDLE_HOLD=${IDLE_HOLD:-10}
NCHAN_WORKERS=${NCHAN_WORKERS:-2}
RELAY=${RELAY:-bin/tutti-relay}
PIN=${PIN:-1}
SRC=127.0.0.2-127.0.0.9
PHASES=("$@")
[ ${#PHASES[@]} -gt 0 ] || PHASES=(idle idle-nginx deliver deliver-nginx max nchan-idle nchan-deliver nchan-max)

bench_need redis-server redis-cli nginx python3 cc
[ -x "$RELAY" ] || { echo "relay_bench.sh: $RELAY is missing: run make" >&2; exit 1; }
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] ||
	echo "relay_bench.sh: libnginx-mod-nchan is not installed: nchan phases will fail" >&2

# Every process gets the hard limit of open files; a relay cannot hold more
# connections than that (this workplace caps it at 20,000 per process).
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
if [ "$IDLE_N" -gt $((NOFILE - 100)) ]; then
	echo "relay_bench.sh: RLIMIT_NOFILE is $NOFILE: idle runs use $((NOFILE - 100)) connections, not $IDLE_N" >&2
	IDLE_N=$((NOFILE - 100))
fi
# Enough ephemeral ports for nginx's upstream side (one source address).
sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null ||
	echo "relay_bench.sh: cannot widen net.ipv4.ip_local_port_range" >&2

bench_tmp /tmp/relay-bench.XXXXXX
bench_pin

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "relay_bench.sh: nothing listens on port $1" >&2
	exit 1
}

cp "$RELAY" "$T/tutti-relay"	# the binary measured, whatever make does meanwhile
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Icommon -o "$T/loadgen" bench/loadgen.c bench/wsload.c \
	common/log.c common/clock.c common/ws.c -luv -lcrypto -lhiredis

RPORT=$(free_port)
"${CLI[@]}" redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$T" \
	--daemonize no --loglevel warning --logfile "$T/redis.log" --maxclients 10000 &
PIDS+=($!)
REDIS_PID=$!
wait_port "$RPORT"

# 1,000 rooms, each with one session token shared by all its listeners (the
# relay checks HGET tutti:sess:{sha256(token)} room == code, and EXISTS
# tutti:room:{code}); rooms.txt has "CODE TOKEN" lines for the loadgen.
python3 - "$T/rooms.txt" >"$T/redis-cmds.txt" <<'EOF'
import hashlib, secrets, sys
alpha = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
with open(sys.argv[1], "w") as out:
    for i in range(1000):
        n, code = i + 31 ** 4, ""
        for _ in range(5):
            code = alpha[n % 31] + code
            n //= 31
        tok = secrets.token_urlsafe(24)
        h = hashlib.sha256(tok.encode()).hexdigest()
        out.write(f"{code} {tok}\n")
        print(f"SET tutti:room:{code} {i + 1}")
        print(f"HSET tutti:sess:{h} room {code} user_id {i + 1} name bench role member")
EOF
redis-cli -p "$RPORT" <"$T/redis-cmds.txt" >/dev/null

LPORT=$(free_port)
RELAY_PID=
start_relay() {
	"${SRV[@]}" "$T/tutti-relay" -l "127.0.0.1:$LPORT" -R "127.0.0.1:$RPORT" -i bench 2>>"$T/relay.log" &
	RELAY_PID=$!
	PIDS+=($!)
	wait_port "$LPORT"
	sleep 0.3	# the relay's Redis connections
}

user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
mkdir -p "$T"/{body,proxy,fastcgi,uwsgi,scgi}

# nginx in front of the relay: the /ws location of nginx/tutti-dev.conf.in,
# with room for the connections (two descriptors per proxied WebSocket, so
# four workers under the per-process limit).
NPORT=$(free_port)
NGINX_PID=
start_nginx() {
	cat >"$T/front.conf" <<EOF
$user_line
worker_processes 4;
worker_rlimit_nofile $NOFILE;
daemon off;
pid $T/front.pid;
error_log $T/front-error.log warn;
events {
	worker_connections $((NOFILE - 100));
	multi_accept on;
}
http {
	access_log off;
	client_body_temp_path $T/body;
	proxy_temp_path $T/proxy;
	fastcgi_temp_path $T/fastcgi;
	uwsgi_temp_path $T/uwsgi;
	scgi_temp_path $T/scgi;
	tcp_nodelay on;
	map \$http_upgrade \$connection_upgrade {
		default upgrade;
		'' close;
	}
	upstream tutti_relays {
		least_conn;
		server 127.0.0.1:$LPORT;
	}
	server {
		listen 127.0.0.1:$NPORT reuseport backlog=4096;
		location = /ws {
			proxy_pass http://tutti_relays;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection \$connection_upgrade;
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_buffering off;
			proxy_read_timeout 120s;
			proxy_send_timeout 120s;
		}
	}
}
EOF
	nginx -e stderr -p "$T" -c "$T/front.conf" -t -q 2>>"$T/front-error.log"
	"${SRV[@]}" nginx -e stderr -p "$T" -c "$T/front.conf" 2>>"$T/front-error.log" &
	NGINX_PID=$!
	PIDS+=($!)
	wait_port "$NPORT"
	wait_workers "$NGINX_PID" 4
}

CPORT=$(free_port)
NCHAN_PID=
start_nchan() {
	local conf
	conf=$(<bench/nchan.conf.in)
	conf=${conf//@USER@/$user_line}
	conf=${conf//@WORKERS@/$NCHAN_WORKERS}
	conf=${conf//@NOFILE@/$NOFILE}
	conf=${conf//@WCONN@/$((NOFILE - 100))}
	conf=${conf//@RUN@/$T}
	conf=${conf//@REDIS_PORT@/$RPORT}
	conf=${conf//@PORT@/$CPORT}
	printf '%s\n' "$conf" >"$T/nchan.conf"
	nginx -e stderr -p "$T" -c "$T/nchan.conf" -t -q 2>>"$T/nchan-error.log"
	"${SRV[@]}" nginx -e stderr -p "$T" -c "$T/nchan.conf" 2>>"$T/nchan-error.log" &
	NCHAN_PID=$!
	PIDS+=($!)
	wait_port "$CPORT"
	wait_workers "$NCHAN_PID" "$NCHAN_WORKERS"
	sleep 0.5
}

# wait_workers PID N: until the nginx master PID has N workers.
wait_workers() {
	for _ in $(seq 100); do
		[ "$(pgrep -c -P "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "relay_bench.sh: nginx $1 did not start $2 workers" >&2
	exit 1
}
# -p arguments for every worker of the nginx whose master is $1.
worker_args() {
	local i=1 w
	for w in $(pgrep -P "$1"); do
		printf -- '-p %s%d=%d ' "$2" "$i" "$w"
		i=$((i + 1))
	done
}

# lg NAME ARGS...: runs the load generator, keeps its RESULT line.
lg() {
	local name=$1
	shift
	echo "== $name: loadgen $*"
	"${CLI[@]}" "$T/loadgen" "$@" | tee "$T/out-$name"
	grep '^RESULT' "$T/out-$name" | sed "s/^RESULT/$name/" >>"$T/results"
	echo
}

IDLE_J=$(((IDLE_N + 9000) / 9000))	# subscriber processes, ~9,000 descriptors each
IDLE_ROOMS=100
touch "$T/results"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; RLIMIT_NOFILE $NOFILE"
for phase in "${PHASES[@]}"; do
	case $phase in
	idle)
		start_relay
		# shellcheck disable=SC2046
		lg idle -c "127.0.0.1:$LPORT" -f "$T/rooms.txt" -m $IDLE_ROOMS -n "$IDLE_N" \
			-j "$IDLE_J" -s $SRC -i "$IDLE_HOLD" -p relay="$RELAY_PID"
		stop "$RELAY_PID"
		;;
	idle-nginx)
		start_relay
		start_nginx
		# shellcheck disable=SC2046
		lg idle-nginx -c "127.0.0.1:$NPORT" -f "$T/rooms.txt" -m $IDLE_ROOMS -n "$IDLE_N" \
			-j "$IDLE_J" -s $SRC -i "$IDLE_HOLD" -p relay="$RELAY_PID" \
			$(worker_args "$NGINX_PID" nginx)
		stop "$NGINX_PID"
		stop "$RELAY_PID"
		;;
	deliver)
		start_relay
		lg deliver -c "127.0.0.1:$LPORT" -f "$T/rooms.txt" -m "$DELIVER_ROOMS" \
			-n "$DELIVER_N" -s $SRC -i 1 -P "redis:127.0.0.1:$RPORT" -r "$DELIVER_RATE" \
			-w "$WARM" -d "$DUR" -p relay="$RELAY_PID" -p redis="$REDIS_PID"
		stop "$RELAY_PID"
		;;
	deliver-nginx)
		start_relay
		start_nginx
		# shellcheck disable=SC2046
		lg deliver-nginx -c "127.0.0.1:$NPORT" -f "$T/rooms.txt" -m "$DELIVER_ROOMS" \
			-n "$DELIVER_N" -s $SRC -i 1 -P "redis:127.0.0.1:$RPORT" -r "$DELIVER_RATE" \
			-w "$WARM" -d "$DUR" -p relay="$RELAY_PID" -p redis="$REDIS_PID" \
			$(worker_args "$NGINX_PID" nginx)
		stop "$NGINX_PID"
		stop "$RELAY_PID"
		;;
	max)
		start_relay
		lg max -c "127.0.0.1:$LPORT" -f "$T/rooms.txt" -m "$DELIVER_ROOMS" \
			-n "$DELIVER_N" -s $SRC -i 1 -P "redis:127.0.0.1:$RPORT" -r "$MAX_RATE" \
			-w "$WARM" -d "$DUR" -p relay="$RELAY_PID" -p redis="$REDIS_PID"
		stop "$RELAY_PID"
		;;
	nchan-idle)
		start_nchan
		# shellcheck disable=SC2046
		lg nchan-idle -c "127.0.0.1:$CPORT" -u '/sub/{code}' -f "$T/rooms.txt" \
			-m $IDLE_ROOMS -n "$IDLE_N" -j "$IDLE_J" -s $SRC -i "$IDLE_HOLD" \
			$(worker_args "$NCHAN_PID" nchan)
		stop "$NCHAN_PID"
		;;
	nchan-deliver | nchan-max)
		rate=$DELIVER_RATE
		[ "$phase" = nchan-max ] && rate=$MAX_RATE
		start_nchan
		# shellcheck disable=SC2046
		lg "$phase" -c "127.0.0.1:$CPORT" -u '/sub/{code}' -f "$T/rooms.txt" \
			-m "$DELIVER_ROOMS" -n "$DELIVER_N" -s $SRC -i 1 \
			-P "http:127.0.0.1:$CPORT" -r "$rate" -w "$WARM" -d "$DUR" \
			-p redis="$REDIS_PID" $(worker_args "$NCHAN_PID" nchan)
		stop "$NCHAN_PID"
		;;
	*)
		echo "relay_bench.sh: unknown phase $phase" >&2
		exit 2
		;;
	esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== results (one line a phase; rss_*_per_conn in bytes, latencies in ms, cpu in s)"
cat "$T/results"
