#!/bin/sh
# run.sh - runs one browser end-to-end test (default sync.test.mjs) against a
# running stack: TUTTI_URL=http://127.0.0.1:PORT tests/e2e/run.sh [FILE.test.mjs]
# Installs playwright-core from package-lock.json first when node_modules is
# missing; it never downloads a browser (the test uses /usr/bin/chromium).
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
test=${1:-sync.test.mjs}
[ $# -gt 0 ] && shift
exec node "$test" "$@"
