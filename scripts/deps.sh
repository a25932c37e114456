#!/bin/sh
# deps.sh - installs the Debian 12 packages tutti needs to build, run and
# test, and only those missing. Called first by `make run` and `make test`.
# Uses sudo when not root. Set TUTTI_NO_DEPS=1 to skip (packaging, offline).
set -eu

[ "${TUTTI_NO_DEPS:-}" = 1 ] && exit 0

PKGS="gcc make pkg-config
libfcgi-dev libhiredis-dev libuv1-dev libjansson-dev libsqlite3-dev libssl-dev
libmpg123-dev libcmocka-dev libcurl4-openssl-dev mpg123
nginx redis-server sqlite3 sox libsox-fmt-mp3 lame curl ffmpeg
python3 python3-websocket chromium clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Node.js and npm drive the browser tests; any installed node will do.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: not root and no sudo; install as root:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The packaged services are not used: tutti starts its own, unprivileged.
for svc in nginx redis-server; do
	$SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "deps: done" >&2
