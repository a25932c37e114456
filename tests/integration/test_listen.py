"""test_listen.py - `tutti listen` against the real stack: three headless
listeners (output null, paced like a sound card) on clocks offset by seconds
and skewed by +-100 ppm, each behind its own delay proxy, play one room; from
their --report files (docs/cli.md, "tutti listen") the test compares the TRUE
play-out time of the same samples. Then pause, resume, seek and next are
followed, a late joiner starts further in, and a listener whose connection is
cut reconnects without a hard resync. Before that, in a shuffled room, a
listener prefetches the next_item_id the server names, and a listener
whose events come a second late (the worker's lead is capped at 500 ms for
that: -X 500, above what the other listeners' round trips ask for) goes on
into the next item gaplessly at the track's end, before the server's
advance reaches it.

The spread check is on the maximum over a 10 s window (a sample every 0.1 s
of track time): the issue asks for "at most 1 ms", and the maximum is the
stricter reading; p50 and p95 are printed as diagnostics. The late joiner is
held to the server's schedule (p95 error within 1 ms) rather than to the
spread: its clock estimate is only seconds old, its slope still rough. The
l0 cache starts with interrupted downloads (one of them garbage) to check
the Range resume and the hash check.

Run: make && /usr/bin/python3 tests/integration/test_listen.py
"""
import hashlib
import http.client
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))

from stack import Stack, Tap, create_room, now_us  # noqa: E402
from stack import wait_for as poll  # noqa: E402
from listen_lib import (DelayProxy, Listener, Report, TUTTI, pct,  # noqa: E402
                        schedule_errors, spreads)

SPREAD_MAX_US = 1000
CLOCKS = [  # (proxy delay ms each way, jitter ms, clock offset ms, skew ppm)
    (5, 2, 3000, 100),
    (30, 2, -2000, -100),
    (80, 2, 7500, 100),
]


def control(s, code, token, action, **kw):
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, dict(kw, action=action),
                            token=token)
    if st != 200:
        raise RuntimeError("control %s: %d %r" % (action, st, body))
    return body["playback"]


def media(s, url):
    """The bytes of a media file."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("GET", url)
    body = c.getresponse().read()
    c.close()
    return body


def wait_for(pred, timeout):
    """stack.wait_for, polling every 0.2 s (each poll reads report files)."""
    return poll(pred, timeout, 0.2)


def reports(ls):
    return [Report(l.report) for l in ls]


def all_fit(ls):
    """Every listener follows a fitted clock estimate (its stats say est=fit)."""
    return all(r.last_stats().get("est") == "fit" for r in reports(ls))


def heard_until(ls, t):
    """Every listener has written buffers heard at true time t or later."""
    return all(r.segs and r.segs[-1][4] >= t for r in reports(ls))


def check_spread(t, ls, t_from, t_to, what):
    sp = [x for _, _, x in spreads(reports(ls), t_from, t_to)]
    ok = len(sp) >= (t_to - t_from) / 1e6 * 10 * 0.7 and max(sp) <= SPREAD_MAX_US
    t.check(ok, "%s: spread of the true play-out time across %d listeners <= %d us "
            "(max over %d samples)" % (what, len(ls), SPREAD_MAX_US, len(sp)),
            "n=%d p50=%s p95=%s max=%s" % (len(sp), pct(sp, 50), pct(sp, 95),
                                           max(sp) if sp else None))
    if sp:
        print("#   %s: p50 %.0f us, p95 %.0f us, max %.0f us over %d samples"
              % (what, pct(sp, 50), pct(sp, 95), max(sp), len(sp)), flush=True)
    return sp


def check_schedule(t, ls, anchor, what, span_s=1.0):
    """Each listener starts the anchor on time: the samples heard in the first
    span_s seconds after at_us are due then (error p95 within 1 ms)."""
    a = {"item_id": anchor["item_id"], "position_us": anchor["position_us"],
         "at_us": anchor["at_us"]}
    worst = []
    for r, l in zip(reports(ls), ls):
        e = schedule_errors(r, a, a["at_us"] - 1000, a["at_us"] + int(span_s * 1e6), 441)
        worst.append((l.name, len(e), pct([abs(x) for x in e], 95)))
    t.check(all(n >= 50 and w is not None and w <= 1000 for _, n, w in worst),
            "%s: every listener plays item %d from %.3f s at the scheduled instant "
            "(p95 error <= 1 ms)" % (what, a["item_id"], a["position_us"] / 1e6), worst)
    print("#   %s: %s" % (what, ", ".join("%s %s us" % (n, "%.0f" % w if w is not None else "-")
                                      for n, _, w in worst)), flush=True)


def t_bad_args(t, s, tmp):
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "cfg-bad"),
               XDG_CACHE_HOME=os.path.join(tmp, "cache-bad"))
    import subprocess

    def run(*args):
        p = subprocess.run([TUTTI, "--server", "http://127.0.0.1:%d" % s.port, "listen"] +
                           list(args), env=env, capture_output=True, text=True, timeout=20)
        return p.returncode, p.stderr
    rc, err = run("nope!")
    t.check(rc == 2 and "not a room code" in err, "listen: a bad room code is a usage error (2)",
            (rc, err))
    rc, err = run("ABCDE", "--clock-skew-ppm", "5000")
    t.check(rc == 2 and "clock-skew-ppm" in err, "listen: --clock-skew-ppm out of range is 2",
            (rc, err))
    rc, err = run("ABCDE", "--output", "no-such-module")
    t.check(rc == 1 and "no-such-module" in err, "listen: an unknown output module fails "
            "before joining (1)", (rc, err))
    rc, err = run("ABCDE", "--output", "null", "--name", "x")
    t.check(rc == 5, "listen: a room that does not exist is 5", (rc, err))


def t_prefetch_next(t, s, tmp):
    """With shuffle on, a listener prefetches the item the server names in
    next_item_id (the one the worker advances to), not the next one in
    playlist order."""
    code, token, _ = create_room(s, "shuffler")
    st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
    ids = [i["id"] for i in room["playlist"]]
    track = {i["id"]: i["track"] for i in room["playlist"]}
    pick = None
    for _ in range(30):  # reshuffle until some item's next differs from playlist order
        s.request("PATCH", "/api/rooms/" + code, {"shuffle": False}, token=token)
        s.request("PATCH", "/api/rooms/" + code, {"shuffle": True}, token=token)
        for k, x in enumerate(ids):
            y = control(s, code, token, "jump", item_id=x).get("next_item_id")
            z = ids[(k + 1) % len(ids)]
            if y is not None and y != z and track[y]["id"] != track[z]["id"]:
                pick = (x, y, z)
                break
        if pick:
            break
    if not t.check(pick is not None, "a shuffled room where an item's next is not the "
                   "following one in playlist order", (ids, pick)):
        return
    x, y, z = pick
    control(s, code, token, "pause")
    lis = Listener(tmp, "shuffled", "http://127.0.0.1:%d" % s.port, code)
    cache = os.path.join(lis.dir, "cache", "tutti")

    def path(i):
        return os.path.join(cache, os.path.basename(track[i]["url"])[:64] + ".mp3")
    try:
        got = wait_for(lambda: os.path.exists(path(x)) and os.path.exists(path(y)), 20)
        t.check(got and not os.path.exists(path(z)) and not os.path.exists(path(z) + ".part"),
                "shuffle: the listener fetched the current item and next_item_id's track, "
                "not the playlist order's next", (pick, os.listdir(cache) if got else None,
                                                  lis.stderr()))
    finally:
        lis.stop()


ADVANCE_DELAY_MS = 1000  # each way: the advance (published lead_us <= 500 ms early) comes late


def report_lines(path):
    """The --report file in order: ("seg", (t0, item, frame, n, t1)) and
    ("note", text) tuples."""
    out = []
    try:
        f = open(path)
    except OSError:
        return out
    with f:
        for line in f:
            if line.startswith("#"):
                out.append(("note", line[1:].strip()))
                continue
            p = line.split()
            if len(p) == 5 and all(x.isdigit() for x in p):  # a line still being written: not yet
                out.append(("seg", tuple(int(x) for x in p)))
    return out


def t_predict_advance(t, s, tmp):
    """At the end of a track the listener goes on into next_item_id at the
    exact end, by itself: its path is ADVANCE_DELAY_MS each way, so the
    server's advance event reaches it only after the end."""
    code, token, _ = create_room(s, "predictor")
    st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
    items = room["playlist"]
    x = items[0]
    control(s, code, token, "play")
    a = control(s, code, token, "jump", item_id=x["id"])
    nid = a.get("next_item_id")
    y = next((i for i in items if i["id"] == nid), None)
    if not t.check(y is not None and y["track"]["id"] != x["track"]["id"] and
                   x["track"].get("duration_us", 0) > 6_000_000,
                   "predict: a room whose first item is followed by another track", a):
        return
    control(s, code, token, "pause")
    dur = x["track"]["duration_us"]
    px, lis = DelayProxy(s.port, ADVANCE_DELAY_MS, 0, seed=5), None
    try:
        lis = Listener(tmp, "predict", "http://127.0.0.1:%d" % px.port, code, extra=["-v"])
        ready = wait_for(lambda: all("track %d ready" % i["track"]["id"] in lis.stderr()
                                     for i in (x, y)), 60)
        if not t.check(ready, "predict: the listener decoded the item and the next one",
                       lis.stderr()[-2000:]):
            return
        control(s, code, token, "seek", position_us=dur - 4_000_000)
        a = control(s, code, token, "resume")
        end = a["at_us"] - a["position_us"] + dur
        # until the advance has reached the listener and the next item plays on
        got = wait_for(lambda: any(k == "note" and v.startswith("anchor ") and
                                   "item_id=%d " % y["id"] in v + " " and "position_us=0" in v
                                   for k, v in report_lines(lis.report)) and
                       heard_until([lis], end + 2_000_000), 30)
        lis.stop()
        lines = report_lines(lis.report)
        segs = [v for k, v in lines if k == "seg"]
        first = next((i for i, (k, v) in enumerate(lines) if k == "seg" and v[1] == y["id"]), None)
        note = next((i for i, (k, v) in enumerate(lines) if k == "note" and
                     v.startswith("anchor ") and ("item_id=%d " % y["id"]) in v + " " and
                     "position_us=0" in v), None)
        last_x = max((v for v in segs if v[1] == x["id"]), key=lambda v: v[0], default=None)
        b = lines[first][1] if first is not None else None
        stats = Report(lis.report).last_stats()
        print("# predict: end %d, last of item %d %r, first of item %d %r (line %s), advance "
              "noted at line %s; stats %r" % (end, x["id"], last_x, y["id"], b, first, note,
                                             stats), flush=True)
        t.check(got and note is not None, "predict: the server's advance reached the "
                "listener", lis.stderr()[-2000:])
        t.check(first is not None and note is not None and first < note,
                "predict: the next item played before the server's advance arrived "
                "(report line %s before %s)" % (first, note))
        t.check(b is not None and b[2] == 0 and last_x is not None and
                abs(b[0] - last_x[4]) <= 1000,
                "predict: gapless - the next item starts at its first sample right where the "
                "last one ends (within 1 ms)", (last_x, b))
        t.check(b is not None and abs(b[0] - end) <= 2000,
                "predict: the next item starts at the scheduled end (within 2 ms)",
                (b[0] - end) if b else None)
        t.check(stats.get("predicted") == "1" and stats.get("resyncs") == "0",
                "predict: the report's stats count one predicted advance, no hard resync", stats)
    finally:
        if lis is not None:
            lis.stop()
        px.stop()


def main():
    t = Tap()
    s = Stack(name="listen", relays=2, env={"TUTTI_WORKER_OPTS": "-X 500"})
    tmp = tempfile.mkdtemp(prefix="tutti-listen-")
    proxies, ls, late = [], [], None
    try:
        s.start_or_end(t)
        t.run(t_bad_args, s, tmp)
        t.run(t_prefetch_next, s, tmp)
        t.run(t_predict_advance, s, tmp)
        code, token, _ = create_room(s, "admin")
        st, _, _ = s.request("PATCH", "/api/rooms/" + code, {"repeat": "all"}, token=token)
        t.check(st == 200, "the room repeats its playlist", st)
        # l0's cache holds the first 100 kB of the first track, as an interrupted
        # download leaves it: it must be resumed into the whole file. The part
        # of the second track is garbage: resumed with Range, the whole fails
        # its hash check and is fetched again (a full download would not fail)
        st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
        urls = [room["playlist"][i]["track"]["url"] for i in (0, 1)]
        shas = [os.path.basename(u)[:64] for u in urls]
        cache0 = os.path.join(tmp, "l0", "cache", "tutti")
        os.makedirs(cache0)
        with open(os.path.join(cache0, shas[0] + ".mp3.part"), "wb") as f:
            f.write(media(s, urls[0])[:100000])
        with open(os.path.join(cache0, shas[1] + ".mp3.part"), "wb") as f:
            f.write(b"\0" * 100000)
        proxies = [DelayProxy(s.port, d, j, seed=i + 1) for i, (d, j, _, _) in enumerate(CLOCKS)]
        ls = [Listener(tmp, "l%d" % i, "http://127.0.0.1:%d" % px.port, code, off, ppm)
              for i, ((_, _, off, ppm), px) in enumerate(zip(CLOCKS, proxies))]
        got = wait_for(lambda: all("stopped" in l.stdout() for l in ls), 20)
        t.check(got, "each listener joined and shows the room's state",
                [l.stdout() + l.stderr() for l in ls])
        a = control(s, code, token, "play")
        print("# play: item %d at %d" % (a["item_id"], a["at_us"]), flush=True)
        paths = [os.path.join(cache0, x + ".mp3") for x in shas]

        def cached(i):
            return (os.path.exists(paths[i]) and not os.path.exists(paths[i] + ".part") and
                    hashlib.sha256(open(paths[i], "rb").read()).hexdigest() == shas[i])
        t.check(wait_for(lambda: cached(0), 10),
                "the cache: an interrupted download is completed", os.listdir(cache0))
        t.check(wait_for(lambda: cached(1), 15) and "does not match its hash" in ls[0].stderr(),
                "the cache: a download is resumed with Range, and checked against its hash",
                (os.listdir(cache0), ls[0].stderr()))
        # warm-up: every clock estimate has its line fit and 25 s of audio is heard
        t.check(wait_for(lambda: all_fit(ls) and heard_until(ls, a["at_us"] + 25_000_000), 45),
                "warm-up: every listener fits its clock and plays", [r.last_stats() for r in reports(ls)])
        check_spread(t, ls, a["at_us"] + 15_000_000, a["at_us"] + 25_000_000, "playing")
        for r, l in zip(reports(ls), ls):
            st = r.last_stats()
            # An underrun of the paced null output means the writer thread was
            # scheduled late (this machine's load, e.g. under ASan beside other
            # suites): reported, not judged; bench/listen_bench.sh counts them.
            t.check(st.get("resyncs") == "0", "%s: no hard resync while playing (%s underruns)"
                    % (l.name, st.get("underruns")), st)
            ins, drop, fr = (int(st.get(k, 0)) for k in ("inserted", "dropped", "frames"))
            t.check(fr > 0 and (ins + drop) * 1e6 / fr <= 500,
                    "%s: drift corrections stay within 500 per million (%d+%d of %d)"
                    % (l.name, ins, drop, fr), st)

        # pause: nothing of the track is heard past the pause point (plus the
        # path delay and the output buffer); resume starts on the dot
        p = control(s, code, token, "pause")
        time.sleep(1.5)
        ends = [max((seg[4] for seg in r.segs), default=0) for r in reports(ls)]
        t.check(all(p["at_us"] - 5000 <= e <= p["at_us"] + 500_000 for e in ends),
                "pause: every listener falls silent at the pause", (p, ends))
        t.check(all("paused" in l.stdout() for l in ls), "pause: every listener says paused",
                [l.stdout() for l in ls])
        a = control(s, code, token, "resume")
        t.check(wait_for(lambda: heard_until(ls, a["at_us"] + 1_500_000), 10),
                "resume: every listener plays again")
        check_schedule(t, ls, a, "resume")
        a = control(s, code, token, "seek", position_us=5_000_000)
        t.check(wait_for(lambda: heard_until(ls, a["at_us"] + 1_500_000), 10),
                "seek: every listener plays on")
        check_schedule(t, ls, a, "seek")
        a = control(s, code, token, "next")
        t.check(wait_for(lambda: heard_until(ls, a["at_us"] + 1_500_000), 10),
                "next: every listener plays on")
        check_schedule(t, ls, a, "next")

        # a late joiner starts further in, on schedule
        px = DelayProxy(s.port, 20, 2, seed=9)
        proxies.append(px)
        late = Listener(tmp, "late", "http://127.0.0.1:%d" % px.port, code, -500, 0,
                        extra=["--json"])
        t0 = now_us()
        t.check(wait_for(lambda: Report(late.report).segs and
                         Report(late.report).segs[-1][4] >= now_us() - 100_000 and
                         Report(late.report).segs[-1][4] >= t0 + 4_000_000, 20),
                "late joiner: plays")
        r = Report(late.report)
        first = r.segs[0] if r.segs else None
        due = (first[0] - (a["at_us"] - a["position_us"])) * r.rate / 1e6 if first else None
        t.check(first is not None and first[1] == a["item_id"] and first[2] > r.rate and
                abs(first[2] - due) <= r.rate / 1000,
                "late joiner: starts further into the item, at the sample due then (within 1 ms)",
                (first, due))
        e = schedule_errors(r, a, first[0] + 2_000_000 if first else 0, now_us())
        t.check(len(e) >= 10 and pct([abs(x) for x in e], 95) <= 1000,
                "late joiner: on schedule (p95 error <= 1 ms)", pct([abs(x) for x in e], 95) if e else e)

        # a cut connection: the listener reconnects, refetches and plays on
        # without a hard resync
        before = Report(ls[1].report)
        proxies[1].drop_all()
        t_cut = now_us()
        t.check(wait_for(lambda: sum(1 for n in Report(ls[1].report).notes if n == "connected") >= 2, 15),
                "reconnect: the listener whose connection was cut connects again",
                Report(ls[1].report).notes[-5:])
        t.check(wait_for(lambda: heard_until(ls + [late], now_us() - 100_000) and
                         heard_until(ls, t_cut + 4_000_000), 15), "reconnect: everyone plays on")
        after = Report(ls[1].report)
        t.check(after.last_stats().get("resyncs") == before.last_stats().get("resyncs", "0") and
                "disconnected" in " ".join(after.notes),
                "reconnect: no hard resync after the cut", after.last_stats())
        check_spread(t, ls, t_cut, t_cut + 4_000_000, "across the reconnect")

        # SIGTERM: every listener ends cleanly
        rcs = [l.stop() for l in ls + [late]]
        t.check(rcs == [0] * len(rcs), "SIGTERM: every listener exits with 0", rcs)
        try:
            doc = json.loads(late.stdout())
        except ValueError:
            doc = None
        t.check(isinstance(doc, dict) and doc.get("room") == code and doc.get("frames", 0) > 0 and
                doc.get("resyncs") == 0 and doc.get("connections") == 1 and
                isinstance(doc.get("predicted"), int),
                "--json: one object of statistics at the end, nothing else", late.stdout())
        errs = [l.stderr() for l in ls + [late]]
        t.check(not any("Sanitizer" in e or "runtime error:" in e for e in errs),
                "no sanitizer report from any listener", "\n".join(errs)[-3000:])
        t.check(all(Report(l.report).notes[-1:] == ["end"] for l in ls + [late]),
                "SIGTERM: every report is closed with its final stats",
                [Report(l.report).notes[-2:] for l in ls + [late]])
    finally:
        for l in ls + ([late] if late else []):
            l.stop()
        for px in proxies:
            px.stop()
        s.stop()
        if os.environ.get("TUTTI_KEEP_LISTEN"):
            print("# kept " + tmp)
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
