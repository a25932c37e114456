#!/bin/sh
# listen_bench.sh - the sync benchmark of `tutti listen` (issue 7): ten
# headless listeners in one room for ten minutes, each behind a delay proxy
# (5 to 120 ms each way plus jitter) on a clock offset by seconds and skewed
# by up to +-100 ppm; prints the inter-listener skew (p50/p95/p99/max of the
# spread of the true play-out time of the same sample), the error against the
# server's schedule, hard resyncs and corrections per million samples.
# usage: bench/listen_bench.sh [-n LISTENERS] [-t SECONDS] [-w WARMUP_S] [-j JITTER_MS] [-k DIR]
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory all >/dev/null
exec /usr/bin/python3 bench/listen_bench.py "$@"
