"""listen_bench.py - N headless `tutti listen` processes in one room of a
fresh stack, each behind its own delay proxy (delays spread from 5 to 120 ms
each way, plus jitter), each on a clock offset by up to +-10 s and skewed by
up to +-100 ppm; after the run, from their --report files:

- inter-listener skew: for a sample every 0.1 s of track time, the spread
  (max - min) of its TRUE play-out time across all listeners; p50/p95/p99/max
  over the measured window (after the warm-up);
- each listener against the server's schedule (|error| p99);
- hard resyncs, underruns, and samples inserted/dropped per million.

Usage (bench/listen_bench.sh wraps it):
    python3 bench/listen_bench.py [-n 10] [-t 600] [-w 60] [-j 2] [-k DIR]
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from listen_lib import DelayProxy, Listener, Report, pct, spreads  # noqa: E402
from stack import Stack, create_room  # noqa: E402


def anchors_of(report):
    """Playing anchors noted in a report, by item: [(at_us, base_us)] sorted."""
    out = {}
    for a in report.anchors:
        if a.get("state") != "playing":
            continue
        item, at, pos = int(a["item_id"]), int(a["at_us"]), int(a["position_us"])
        out.setdefault(item, []).append((at, at - pos))
    for v in out.values():
        v.sort()
    return out


def schedule_errors(report, anchors, t_from, t_to, step=4410):
    """|error| (µs) against the anchor in effect, for a frame every step."""
    errs = []
    for t0, item, frame, n, t1 in report.segs:
        if t0 < t_from or t1 > t_to or item not in anchors:
            continue
        f = (frame + step - 1) // step * step
        while f < frame + n:
            t = t0 + (f - frame) * (t1 - t0) / n
            base = None
            for at, b in anchors[item]:
                if at <= t + 1000:
                    base = b
            if base is not None:
                errs.append(abs(t - (base + f * 1e6 / report.rate)))
            f += step
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="listeners (10)")
    ap.add_argument("-t", type=float, default=600, help="seconds of play measured (600)")
    ap.add_argument("-w", type=float, default=60, help="warm-up seconds not measured (60)")
    ap.add_argument("-j", type=float, default=2, help="jitter ms each way, uniform (2)")
    ap.add_argument("-k", help="keep the listeners' files (and bench.json) in this directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--analyze", metavar="DIR", help="only analyse the files a run kept (-k)")
    o = ap.parse_args()
    if o.analyze:
        with open(os.path.join(o.analyze, "bench.json")) as f:
            meta = json.load(f)
        names = sorted(x for x in os.listdir(o.analyze) if x.startswith("l"))
        analyze(meta, [os.path.join(o.analyze, x, "report.txt") for x in names], names)
        return
    rnd = random.Random(o.seed)
    s = Stack(name="listen-bench", relays=2)
    tmp = o.k or tempfile.mkdtemp(prefix="tutti-listen-bench-")
    os.makedirs(tmp, exist_ok=True)
    proxies, ls = [], []
    try:
        s.start()
        code, token, _ = create_room(s, "bench")
        s.request("PATCH", "/api/rooms/" + code, {"repeat": "all"}, token=token)
        for i in range(o.n):
            delay = 5 + (120 - 5) * i / max(1, o.n - 1)
            off = rnd.uniform(-10000, 10000)
            ppm = rnd.uniform(-100, 100) if i > 1 else (100 if i == 0 else -100)
            px = DelayProxy(s.port, delay, o.j, seed=o.seed * 100 + i)
            proxies.append(px)
            ls.append(Listener(tmp, "l%02d" % i, "http://127.0.0.1:%d" % px.port, code, off, ppm))
            print("listener l%02d: proxy %.1f ms + 0..%.1f ms each way, clock %+.0f ms %+.1f ppm"
                  % (i, delay, o.j, off, ppm), flush=True)
        time.sleep(3)
        st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                                token=token)
        if st != 200:
            raise RuntimeError("play: %d %r" % (st, body))
        at = body["playback"]["at_us"]
        print("playing from %d; warm-up %.0f s, then %.0f s measured" % (at, o.w, o.t), flush=True)
        time.sleep(o.w + o.t + 1)
        rcs = [l.stop() for l in ls]
    finally:
        for l in ls:
            l.stop()
        for px in proxies:
            px.stop()
        s.stop()
    meta = {"at_us": at, "warmup_s": o.w, "measured_s": o.t, "jitter_ms": o.j,
            "listeners": o.n, "exit_codes": rcs}
    with open(os.path.join(tmp, "bench.json"), "w") as f:
        json.dump(meta, f)
    analyze(meta, [l.report for l in ls], [l.name for l in ls])
    if not o.k:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept " + tmp)


def analyze(meta, paths, names):
    """Prints the figures of a run from its reports."""
    reps = [Report(p) for p in paths]
    at = meta["at_us"]
    t_from = at + int(meta["warmup_s"] * 1e6)
    t_to = at + int((meta["warmup_s"] + meta["measured_s"]) * 1e6)
    sp = [x for _, _, x in spreads(reps, t_from, t_to)]
    anchors = anchors_of(reps[0])
    res = dict(meta, samples=len(sp))
    if sp:
        res.update(spread_p50_us=pct(sp, 50), spread_p95_us=pct(sp, 95),
                   spread_p99_us=pct(sp, 99), spread_max_us=max(sp))
    tot = {"frames": 0, "inserted": 0, "dropped": 0, "resyncs": 0, "underruns": 0}
    print("\n%-5s %9s %9s %8s %8s %8s %7s %9s %9s" % ("", "frames", "ins+drop", "per-mil",
          "resyncs", "underrun", "est", "|err|p99", "skew_ppm"))
    for name, r in zip(names, reps):
        st = r.last_stats()
        v = {k: int(st.get(k, 0)) for k in tot}
        for k in tot:
            tot[k] += v[k]
        e = schedule_errors(r, anchors, t_from, t_to)
        print("%-5s %9d %9d %8.1f %8d %8d %7s %9s %9s" % (
            name, v["frames"], v["inserted"] + v["dropped"],
            (v["inserted"] + v["dropped"]) * 1e6 / max(1, v["frames"]), v["resyncs"],
            v["underruns"], st.get("est", "-"), "%.0f" % pct(e, 99) if e else "-",
            st.get("skew_ppm", "-")))
    res.update(hard_resyncs=tot["resyncs"], underruns=tot["underruns"],
               corrections_per_million=round((tot["inserted"] + tot["dropped"]) * 1e6 /
                                             max(1, tot["frames"]), 1))
    print("\ninter-listener skew over %d samples: p50 %s us, p95 %s us, p99 %s us, max %s us"
          % (len(sp), res.get("spread_p50_us"), res.get("spread_p95_us"),
             res.get("spread_p99_us"), res.get("spread_max_us")))
    print("hard resyncs %d, underruns %d, corrections %.1f per million samples"
          % (tot["resyncs"], tot["underruns"], res["corrections_per_million"]))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
