#!/bin/sh
# run.sh - runs the browser end-to-end test (sync.test.mjs) against a running
# stack: TUTTI_URL=http://127.0.0.1:PORT tests/e2e/run.sh
# Installs playwright-core from package-lock.json first when node_modules is
# missing; it never downloads a browser (the test uses /usr/bin/chromium).
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
exec node sync.test.mjs "$@"
