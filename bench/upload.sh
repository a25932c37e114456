#!/bin/bash
# upload.sh - benchmark of a tus upload through nginx: one PATCH of a
# 512 MiB MP3 (curl streams it from disk), from creation to the 204 that
# names the new track (so validation by libmpg123, hashing and storing are
# included). Prints MB/s and tutti-api's peak RSS (VmHWM). Starts its own
# stack (scripts/run.sh) with a fresh data directory on a free port.
# usage: bench/upload.sh [MiB]      (default 512; build with `make` first)
# Goal on the 2-core dev machine: >= 200 MB/s, peak RSS < 32 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

MIB=${1:-512}
SIZE=$((MIB * 1024 * 1024))
TMP=$(mktemp -d /var/tmp/tutti-bench-upload.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
STACK=

cleanup() {
	if [ -n "$STACK" ]; then
		kill -TERM "$STACK" 2>/dev/null || true
		wait "$STACK" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# The file: one minute of MP3 without tags, repeated up to SIZE bytes.
sox -q -n -r 44100 -c 2 "$TMP/tone.wav" synth 60 sine 440
lame --quiet -b 128 "$TMP/tone.wav" "$TMP/tone.mp3"
python3 - "$TMP/tone.mp3" "$TMP/big.mp3" "$SIZE" <<'EOF'
import sys
src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
one = open(src, "rb").read()
with open(dst, "wb") as f:
    while size > 0:
        f.write(one[:size])
        size -= len(one[:size])
EOF
rm -f "$TMP/tone.wav"

scripts/run.sh -q -p "$PORT" -d "$TMP/data" -r "$TMP/run" -n 1 > "$TMP/stack.log" 2>&1 &
STACK=$!
for _ in $(seq 200); do
	curl -fsS "$URL/api/healthz" 2>/dev/null | grep -q '"worker":true' && break
	sleep 0.1
done
API_PID=$(pgrep -f "bin/tutti-api -d $TMP/data -R" | head -1)

room=$(curl -fsS -H 'Content-Type: application/json' -d '{"name":"bench"}' "$URL/api/rooms")
code=$(printf '%s' "$room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
token=$(printf '%s' "$room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
b64() { printf '%s' "$1" | base64 -w0; }

rss_before=$(awk '/VmHWM/ {print $2}' "/proc/$API_PID/status")
loc=$(curl -fsS -o /dev/null -D - -X POST "$URL/api/uploads" -H 'Tus-Resumable: 1.0.0' \
	-H "Authorization: Bearer $token" -H "Upload-Length: $SIZE" \
	-H "Upload-Metadata: room $(b64 "$code"),filename $(b64 big.mp3)" |
	tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
start=$(date +%s.%N)
out=$(curl -sS -o /dev/null -D "$TMP/headers" -w '%{http_code} %{time_total}' -X PATCH \
	-T "$TMP/big.mp3" "$URL$loc" -H 'Tus-Resumable: 1.0.0' \
	-H "Authorization: Bearer $token" -H 'Content-Type: application/offset+octet-stream' \
	-H 'Upload-Offset: 0')
end=$(date +%s.%N)
status=${out%% *}
track=$(tr -d '\r' < "$TMP/headers" | awk -F': ' 'tolower($1) == "tutti-track" {print $2}')
rss=$(awk '/VmHWM/ {print $2}' "/proc/$API_PID/status")

python3 - "$SIZE" "$start" "$end" "$status" "$track" "$rss_before" "$rss" <<'EOF'
import sys
size, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
status, track, before, peak = sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
secs = end - start
print("upload: %d MiB in one PATCH, status %s, track %s" % (size >> 20, status, track or "-"))
print("time:   %.2f s  ->  %.0f MB/s (%.0f MiB/s)" % (secs, size / secs / 1e6, size / secs / 2**20))
print("tutti-api peak RSS (VmHWM): %.1f MiB (%.1f MiB before the upload)" % (peak / 1024, before / 1024))
ok = status == "204" and size / secs / 1e6 >= 200 and peak < 32 * 1024
print("goal (>= 200 MB/s, < 32 MiB): %s" % ("met" if ok else "NOT met"))
EOF
