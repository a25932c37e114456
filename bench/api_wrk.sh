#!/bin/bash
# api_wrk.sh - REST throughput through nginx: GET /api/healthz and the
# authenticated GET /api/rooms/{code} (three SQLite reads, two Redis writes),
# with wrk (Debian's package), 2 threads, 16 connections, 10 s each.
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
echo "== GET /api/healthz"
wrk -t2 -c16 -d10s --latency "http://127.0.0.1:$P/api/healthz" | grep -E 'Requests/sec|50%|99%'
echo "== GET /api/rooms/{code}"
wrk -t2 -c16 -d10s --latency -H "Authorization: Bearer $tok" "http://127.0.0.1:$P/api/rooms/$code" |
	grep -E 'Requests/sec|50%|99%'
