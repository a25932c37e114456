"""test_worker_metrics.py - tutti-worker -m host:port (GET /metrics, served
by common/metricsrv.c). Malformed -m values exit 2 with a message and a
taken port exits 1 before anything runs. On a real stack two more workers
(wm-1, wm-2) start with -m on their own ports and stand by while the
stack's workers hold the lease (tutti_worker_active 0 on both); once those
are stopped one of them takes over: active 1 on the lease holder and 0 on
the other, a takeover, the SQLite fencing epoch. Commands through the API
and XADDed to tutti:cmd move commands_total by result (changed, same,
refused, skipped) and the lag histogram; a playing room shows in rooms
and beacons, a seek near the end of an item in advances, the sweep's
promotion, idle close and purge in their counters, a killed Redis
connection in redis_reconnects. Every scrape is checked as Prometheus
text (HELP and TYPE for every family, cumulative buckets, +Inf == _count).
The port answers 404, 405, 400 and 431, HEAD without a body, drops idle
connections, and an idle crowd does not lock a scraper out. SIGTERM of
the active worker hands over to the other; both exit 0 with no sanitizer
report.
Run: /usr/bin/python3 tests/integration/test_worker_metrics.py   (TAP output)
"""
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(__file__))
from stack import (ROOT, Redis, Stack, Tap, create_room, free_port, join_room,  # noqa: E402
                   wait_for, worker_pids)

WORKER = os.path.join(ROOT, "bin", "tutti-worker")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_BOUNDS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
              "1", "2.5", "+Inf"]
FAMILIES = {
    "tutti_worker_active": "gauge",
    "tutti_worker_fence_epoch": "gauge",
    "tutti_worker_lease_takeovers_total": "counter",
    "tutti_worker_rooms": "gauge",
    "tutti_worker_commands_total": "counter",
    "tutti_worker_command_lag_seconds": "histogram",
    "tutti_worker_beacons_total": "counter",
    "tutti_worker_advances_total": "counter",
    "tutti_worker_rooms_closed_idle_total": "counter",
    "tutti_worker_rooms_purged_total": "counter",
    "tutti_worker_admin_promotions_total": "counter",
    "tutti_worker_redis_reconnects_total": "counter",
}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """Parses Prometheus text format 0.0.4. Returns (samples, problems):
    samples maps (name, ((label, value), ...)) to a float; problems lists
    every rule broken (empty when the text is well formed)."""
    problems, samples, helps, types, seen_fams = [], {}, {}, {}, []
    if not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3]:
                problems.append("bare comment line: %r" % line)
                continue
            table = helps if parts[1] == "HELP" else types
            if parts[2] in table:
                problems.append("second %s for %s" % (parts[1], parts[2]))
            table[parts[2]] = parts[3]
            if parts[1] == "TYPE" and parts[3] not in ("counter", "gauge", "histogram",
                                                       "summary", "untyped"):
                problems.append("unknown type %r" % line)
            continue
        if not line or line.startswith("#"):
            problems.append("unexpected line %r" % line)
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            problems.append("malformed sample %r" % line)
            continue
        name, labels = m.group(1), tuple(LABEL_RE.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            problems.append("value not a number %r" % line)
            continue
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                fam = base
        if fam not in types or fam not in helps:
            problems.append("sample %s without a HELP and TYPE before it" % name)
        elif types[fam] == "counter" and not fam.endswith("_total"):
            problems.append("counter %s does not end in _total" % fam)
        if seen_fams and seen_fams[-1] != fam and fam in seen_fams:
            problems.append("family %s is split" % fam)
        if not seen_fams or seen_fams[-1] != fam:
            seen_fams.append(fam)
        if (name, labels) in samples:
            problems.append("duplicate sample %s%r" % (name, labels))
        samples[(name, labels)] = value
    for fam, typ in types.items():
        if typ == "histogram":
            problems += histogram_problems(fam, samples)
    return samples, problems


def histogram_problems(fam, samples):
    """Rules of one unlabelled histogram: every le of LAG_BOUNDS in order,
    cumulative counts, +Inf equal to _count, a _sum."""
    out = []
    les = [dict(k[1]).get("le") for k in samples if k[0] == fam + "_bucket"]
    if les != LAG_BOUNDS:
        out.append("%s buckets %r, not %r" % (fam, les, LAG_BOUNDS))
    counts = [samples[(fam + "_bucket", (("le", le),))] for le in les]
    if any(b < a for a, b in zip(counts, counts[1:])):
        out.append("%s buckets are not cumulative: %r" % (fam, counts))
    count = samples.get((fam + "_count", ()))
    if not counts or count is None or counts[-1] != count:
        out.append("%s +Inf bucket %r != _count %r" % (fam, counts[-1:], count))
    if (fam + "_sum", ()) not in samples:
        out.append("%s has no _sum" % fam)
    return out


def raw(port, data, timeout=10):
    """Sends data on a new connection and reads until the server closes it.
    Returns (status, headers dict, body bytes); status 0 when the server
    closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in
            (l.partition(":") for l in lines[1:] if ":" in l)}
    return (int(m.group(1)) if m else 0), hdrs, body


def scrape(port):
    """GET /metrics; returns (status, content type, text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def value(text, name, **labels):
    """One sample's value from a scrape, or None."""
    samples, _ = parse_exposition(text)
    return samples.get((name, tuple(sorted(labels.items()))))


class Worker:
    """A tutti-worker started by this test with -m on a port of its own."""

    def __init__(self, s, wid, tmp, extra):
        self.id = wid
        self.port = free_port()
        self.logpath = os.path.join(tmp, wid + ".log")
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(
                [WORKER, "-d", s.data, "-R", os.path.join(s.run, "redis.sock"), "-i", wid,
                 "-m", "127.0.0.1:%d" % self.port] + extra,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=s.env,
                cwd=ROOT)

    def text(self):
        """The metrics text, or "" while the port does not answer."""
        try:
            st, _, text = scrape(self.port)
        except OSError:
            return ""
        return text if st == 200 else ""

    def get(self, name, **labels):
        return value(self.text(), name, **labels)

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns the exit status ("killed" when it hung)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "killed"
        return self.proc.returncode


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def t_parser_fails(t):
    """The format checker itself rejects broken text (so its passes mean
    something)."""
    bad = ("# TYPE x_total counter\nx_total 1\n"                  # no HELP
           "# HELP y Y.\n# TYPE y counter\ny 2\n"                  # counter without _total
           "# HELP h H.\n# TYPE h histogram\n"
           'h_bucket{le="0.001"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 4\n'
           "z 1 2\n")
    _, problems = parse_exposition(bad)
    text = "\n".join(problems)
    t.check("x_total without a HELP" in text and "counter y does not end" in text
            and "not cumulative" in text and "_count" in text and "malformed sample" in text,
            "the exposition checker reports a missing HELP, a counter without _total, "
            "non-cumulative buckets, +Inf != _count and a malformed line", text)


def t_bad_options(t, tmp):
    for spec, why in (("localhost:9100", "numeric"), ("127.0.0.1", "host:port"),
                      ("127.0.0.1:0", "1 to 65535"), ("127.0.0.1:99999", "1 to 65535"),
                      ("::1:9100", "brackets"), ("[::1]", "host:port"),
                      ("127.0.0.1:91x", "1 to 65535"), (":9100", "host:port")):
        p = subprocess.run([WORKER, "-d", os.path.join(tmp, "nowhere"), "-m", spec],
                           capture_output=True, text=True, timeout=10, cwd=ROOT)
        t.check(p.returncode == 2 and ("-m " + spec) in p.stderr and why in p.stderr,
                "-m %s exits 2 saying why (%s)" % (spec, why), (p.returncode, p.stderr))


def t_busy_port(t, s, port):
    p = subprocess.run([WORKER, "-d", s.data, "-R", os.path.join(s.run, "redis.sock"), "-i",
                        "wm-busy", "-m", "127.0.0.1:%d" % port], capture_output=True,
                       text=True, timeout=15, cwd=ROOT, env=s.env)
    t.check(p.returncode == 1 and "address already in use" in p.stderr,
            "a -m port already taken: exit 1, logged", (p.returncode, p.stderr[-800:]))


def t_standby(t, s, ws):
    texts = wait_for(lambda: (lambda v: v if all(v) else None)([w.text() for w in ws]), 15)
    t.check(texts is not None, "both workers answer GET /metrics", [w.log()[-800:] for w in ws])
    for w in ws:
        st, ctype, text = scrape(w.port)
        samples, problems = parse_exposition(text)
        t.check(st == 200 and ctype == CONTENT_TYPE, "%s: 200 %s" % (w.id, CONTENT_TYPE),
                (st, ctype))
        t.check(not problems, "%s: the text is valid exposition format" % w.id,
                "\n".join(problems) + "\n" + text)
        fams = {k[0] for k in samples}
        missing = [f for f in FAMILIES if not any(n == f or n.startswith(f + "_")
                                                  for n in fams)]
        t.check(not missing and all(re.search(r"# TYPE %s %s\n" % (f, ty), text)
                                    for f, ty in FAMILIES.items()),
                "%s: every worker family is there with its type" % w.id, (missing, text))
        t.check(samples.get(("tutti_worker_active", ())) == 0
                and samples.get(("tutti_worker_lease_takeovers_total", ())) == 0
                and samples.get(("tutti_worker_fence_epoch", ())) == 0,
                "%s: on standby while the stack's workers hold the lease (active 0, "
                "no takeover, no epoch)" % w.id, text)
        results = sorted(dict(k[1])["result"] for k in samples
                         if k[0] == "tutti_worker_commands_total")
        t.check(results == ["changed", "refused", "same", "skipped"],
                "%s: commands_total has the four results" % w.id, results)


def t_takeover(t, s, r, ws, ctx):
    pids = worker_pids(s, skip=("-m",))
    t.check(set(pids) == {"worker-1", "worker-2"}, "the stack's two workers run", pids)
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    t.check(wait_for(lambda: all(gone(p) for p in pids.values()), 15),
            "the stack's workers exit on SIGTERM", pids)
    act = wait_for(lambda: (lambda v: v if sum(x or 0 for x in v) == 1 else None)(
        [w.get("tutti_worker_active") for w in ws]), 15)
    t.check(act is not None and sorted(act) == [0, 1],
            "one of wm-1 and wm-2 becomes active: active sums to 1", act)
    active = ws[act.index(1)] if act else ws[0]
    standby = ws[1 - ws.index(active)]
    ctx["active"], ctx["standby"] = active, standby
    lease = r.cmd("GET", "tutti:worker:lease")
    t.check(lease == active.id, "active 1 is on the lease holder (%s)" % lease,
            (lease, active.id))
    with sqlite3.connect("file:%s?mode=ro" % os.path.join(s.data, "tutti.db"), uri=True,
                         timeout=5) as c:
        epoch, holder = c.execute("SELECT epoch, holder FROM worker_fence").fetchone()
    text = active.text()
    t.check(value(text, "tutti_worker_fence_epoch") == epoch and holder == active.id
            and value(text, "tutti_worker_lease_takeovers_total") == 1,
            "the active worker shows the fencing epoch of SQLite and one takeover",
            (epoch, holder, text[:600]))
    text = standby.text()
    t.check(value(text, "tutti_worker_active") == 0
            and value(text, "tutti_worker_lease_takeovers_total") == 0,
            "the other stays on standby: active 0", text[:600])


def counts(w):
    """{result: n} of commands_total and the lag count of w."""
    text = w.text()
    c = {k: value(text, "tutti_worker_commands_total", result=k)
         for k in ("changed", "same", "refused", "skipped")}
    c["lag"] = value(text, "tutti_worker_command_lag_seconds_count")
    return c


def t_commands(t, s, r, ctx):
    w = ctx["active"]
    code, token, user = create_room(s, "metrics")
    ctx["room"] = (code, token)
    before = counts(w)
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                            token=token)
    t.check(st == 200 and body["playback"]["state"] == "playing", "play through the API", body)
    after = wait_for(lambda: (lambda c: c if c["changed"] == before["changed"] + 1 else None)(
        counts(w)), 5) or counts(w)
    t.check(after["changed"] == before["changed"] + 1 and after["lag"] == before["lag"] + 1,
            "a play that changes the anchor: changed +1, lag count +1", (before, after))
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                            token=token)
    c = wait_for(lambda: (lambda c: c if c["same"] == before["same"] + 1 else None)(
        counts(w)), 5) or counts(w)
    t.check(st == 200 and c["same"] == before["same"] + 1 and c["changed"] == after["changed"],
            "play while playing: same +1, changed unchanged", (st, before, c))
    r.cmd("XADD", "tutti:cmd", "*", "room", "ZZZZZ", "user", "0", "action", "play")
    c2 = wait_for(lambda: (lambda x: x if x["refused"] == before["refused"] + 1 else None)(
        counts(w)), 5) or counts(w)
    t.check(c2["refused"] == before["refused"] + 1,
            "an XADDed play for a room that does not exist: refused +1", (before, c2))
    # As after a crash between COMMIT and XACK: the room's last applied id
    # is after the entry's, so the entry is answered again, not applied.
    with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=5) as db:
        db.execute("UPDATE rooms SET last_cmd = '99999999999999-0' WHERE code = ?", (code,))
    r.cmd("XADD", "tutti:cmd", "*", "room", code, "user", str(user["id"]), "action", "pause")
    c3 = wait_for(lambda: (lambda x: x if x["skipped"] == before["skipped"] + 1 else None)(
        counts(w)), 5) or counts(w)
    t.check(c3["skipped"] == before["skipped"] + 1 and c3["changed"] == c2["changed"],
            "an entry older than the room's last command: skipped +1", (before, c3))
    with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=5) as db:
        db.execute("UPDATE rooms SET last_cmd = '0-0' WHERE code = ?", (code,))
    text = w.text()
    samples, problems = parse_exposition(text)
    lag = [samples.get(("tutti_worker_command_lag_seconds_bucket", (("le", le),)))
           for le in LAG_BOUNDS]
    t.check(not problems and lag[-1] == before["lag"] + 4 and lag[-1] == sum(
        c3[k] - before[k] for k in ("changed", "same", "refused", "skipped")),
        "four decisions: the lag count grew by 4, as commands_total did", (lag, problems))
    t.check(lag[LAG_BOUNDS.index("2.5")] >= 1
            and samples.get(("tutti_worker_command_lag_seconds_sum", ())) > 0,
            "the lag of a command applied at once is under 2.5 s; the sum grew", lag)
    t.check(value(ctx["standby"].text(), "tutti_worker_command_lag_seconds_count") == 0,
            "the standby decided nothing", ctx["standby"].text()[:400])


def t_rooms_beacons(t, s, ctx):
    w = ctx["active"]
    code, token = ctx["room"]
    t.check(w.get("tutti_worker_rooms") == 1, "the playing room counts in rooms", w.text()[:800])
    b0 = w.get("tutti_worker_beacons_total") or 0
    b1 = wait_for(lambda: (lambda v: v if v and v >= b0 + 2 else None)(
        w.get("tutti_worker_beacons_total")), 10)
    t.check(b1 is not None, "beacons_total grows while the room plays", (b0, b1))
    st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
    first = room["playlist"][0]
    a0 = w.get("tutti_worker_advances_total")
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code,
                            {"action": "seek", "position_us": first["track"]["duration_us"]
                             - 300_000}, token=token)
    t.check(st == 200, "seek to 0.3 s before the end of the item", body)
    a1 = wait_for(lambda: (lambda v: v if v and v >= a0 + 1 else None)(
        w.get("tutti_worker_advances_total")), 10)
    t.check(a0 == 0 and a1 == 1, "the advance at the item's end: advances_total 0 -> 1",
            (a0, a1))
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "pause"},
                            token=token)
    t.check(st == 200 and wait_for(lambda: w.get("tutti_worker_rooms") == 0, 5),
            "paused: rooms goes back to 0", (body, w.text()[:800]))


def t_sweep(t, s, ctx):
    """Promotion, idle close and purge (the workers run -g 200 -I 1 -P 1)."""
    w = ctx["active"]
    names = ("tutti_worker_admin_promotions_total", "tutti_worker_rooms_closed_idle_total",
             "tutti_worker_rooms_purged_total")
    before = [w.get(n) for n in names]
    code, alice_token, _ = create_room(s, "alice")
    bob_token, bob = join_room(s, code, "bob")
    st, _, _ = s.request("POST", "/api/rooms/%s/leave" % code, token=alice_token)
    t.check(st == 204, "the admin leaves", st)
    p = wait_for(lambda: (lambda v: v if v == before[0] + 1 else None)(w.get(names[0])), 10)
    t.check(p == before[0] + 1, "bob's promotion: admin_promotions_total +1", (before, p))
    st, _, _ = s.request("POST", "/api/rooms/%s/leave" % code, token=bob_token)
    t.check(st == 204, "the last person leaves", st)
    c = wait_for(lambda: (lambda v: v if v == before[1] + 1 else None)(w.get(names[1])), 15)
    t.check(c == before[1] + 1, "the empty room is closed: rooms_closed_idle_total +1",
            (before, c))
    pu = wait_for(lambda: (lambda v: v and v >= before[2] + 1)(w.get(names[2])), 15)
    t.check(pu, "the closed room is purged: rooms_purged_total grows",
            (before, w.get(names[2])))


def t_reconnect(t, r, ctx):
    w = ctx["active"]
    n0 = w.get("tutti_worker_redis_reconnects_total")
    ids = [line.split("id=", 1)[1].split(" ", 1)[0]
           for line in r.cmd("CLIENT", "LIST").splitlines() if "cmd=xreadgroup" in line]
    t.check(len(ids) == 1, "one connection blocks in XREADGROUP: the active reader", ids)
    for cid in ids:
        r.cmd("CLIENT", "KILL", "ID", cid)
    n1 = wait_for(lambda: (lambda v: v if v and v >= n0 + 1 else None)(
        w.get("tutti_worker_redis_reconnects_total")), 15)
    t.check(n0 == 0 and n1 == 1, "killing its reader's connection: redis_reconnects 0 -> 1",
            (n0, n1))
    t.check(value(ctx["standby"].text(), "tutti_worker_redis_reconnects_total") == 0,
            "the standby counts none", ctx["standby"].text()[-400:])


def t_http(t, ctx):
    port = ctx["standby"].port
    st, hdrs, body = raw(port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    t.check(st == 404 and hdrs.get("content-type") == "application/problem+json"
            and json.loads(body).get("status") == 404, "another path: 404 problem+json",
            (st, hdrs, body))
    st, hdrs, body = raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    t.check(st == 405 and hdrs.get("allow") == "GET, HEAD", "POST /metrics: 405, Allow: GET, HEAD",
            (st, hdrs, body))
    st, hdrs, body = raw(port, b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 4000 + b"\r\n\r\n")
    t.check(st == 431, "a request head over 2048 bytes: 431 (read in full, not reset)",
            (st, hdrs, body))
    st, hdrs, body = raw(port, b"\x16\x03\x01 not http\r\n\r\n")
    t.check(st == 400, "bytes that are not HTTP: 400", (st, hdrs, body))
    st, hdrs, body = raw(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    t.check(st == 200 and body == b"" and int(hdrs.get("content-length", "0")) > 100,
            "HEAD /metrics: 200 with a Content-Length and no body", (st, hdrs, body[:80]))
    st, hdrs, body = raw(port, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    t.check(st == 200 and b"tutti_worker_active 0\n" in body,
            "GET /metrics with a query, HTTP/1.0: 200", (st, body[:200]))
    idle = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        t.check(idle.recv(10) == b"", "a connection that sends nothing is closed by the worker")
    except OSError as e:
        t.check(False, "a connection that sends nothing is closed by the worker", e)
    finally:
        idle.close()
    crowd = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(24)]
    try:
        st, _, text = scrape(port)
        t.check(st == 200 and "tutti_worker_active" in text,
                "24 idle connections do not lock a scraper out", st)
        first = crowd[0].recv(10)
        t.check(first == b"", "the oldest idle connections were closed for it", first)
    finally:
        for c in crowd:
            c.close()


def t_handover(t, ctx):
    active, standby = ctx["active"], ctx["standby"]
    rc = active.stop()
    t.check(rc == 0, "SIGTERM: the active worker exits 0", (rc, active.log()[-800:]))
    v = wait_for(lambda: standby.get("tutti_worker_active") == 1, 15)
    text = standby.text()
    t.check(v and value(text, "tutti_worker_lease_takeovers_total") == 1,
            "the other worker takes over: active 1, one takeover", text[:800])
    rc = standby.stop()
    t.check(rc == 0, "SIGTERM: the second worker exits 0", (rc, standby.log()[-800:]))
    for w in (active, standby):
        log = w.log()
        t.check(not any(m in log for m in SANITIZER_MARKS),
                "%s: no sanitizer report" % w.id, log[-1500:])


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="tutti-wm-")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    t.run(t_parser_fails)
    t.run(t_bad_options, tmp)
    s = Stack(name="worker-metrics", relays=1)
    ws, r, ctx = [], None, {}
    try:
        s.start_or_end(t)
        t.run(t_busy_port, s, busy.getsockname()[1])
        extra = ["-b", "100", "-g", "200", "-I", "1", "-P", "1", "-s", "100"]
        ws = [Worker(s, "wm-1", tmp, extra), Worker(s, "wm-2", tmp, extra)]
        r = Redis(os.path.join(s.run, "redis.sock"))
        t.run(t_standby, s, ws)
        t.run(t_takeover, s, r, ws, ctx)
        if "active" in ctx:
            t.run(t_commands, s, r, ctx)
            t.run(t_rooms_beacons, s, ctx)
            t.run(t_sweep, s, ctx)
            t.run(t_reconnect, r, ctx)
            t.run(t_http, ctx)
            t.run(t_handover, ctx)
    finally:
        busy.close()
        if r is not None:
            r.close()
        for w in ws:
            w.stop()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
