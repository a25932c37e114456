"""control_latency.py - the round trip of a playback command: nginx, tutti-api,
the Redis command stream, tutti-worker (SQLite transaction, publish) and the
reply back. Starts its own stack (tests/integration/stack.py), alternates
play and pause in one room, one new HTTP connection a command, sequentially.
Run by hand: /usr/bin/python3 bench/control_latency.py [COUNT]
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from stack import Stack  # noqa: E402


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    s = Stack(name="bench")
    s.start()
    try:
        _, room, _ = s.request("POST", "/api/rooms", {"name": "bench"})
        path = "/api/rooms/%s/control" % room["code"]
        lat = []
        for i in range(count):
            t = time.perf_counter()
            st, body, _ = s.request("POST", path, {"action": "pause" if i % 2 else "play"},
                                    token=room["token"])
            lat.append((time.perf_counter() - t) * 1000)
            if st != 200:
                sys.exit("command %d: %d %s" % (i, st, body))
    finally:
        s.stop()
    lat.sort()
    print("control round trip: n=%d p50=%.2f ms p99=%.2f ms max=%.2f ms"
          % (count, lat[count // 2], lat[int(count * 0.99)], lat[-1]))


if __name__ == "__main__":
    main()
