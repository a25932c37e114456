"""mixed_load.py - the driver of the mixed-load bench (issue 8), run by
bench/mixed_load.sh: rooms and users over the API, bench/mixload for the
WebSocket listeners, then commands, chat and tus uploads through nginx while it
samples every server process; at the end every listener's anchor and seq
against REST, and the JSON and CSV results. Standard library only; exits 0
when every check passed, 1 when one failed, 2 when the set-up failed.
"""
import argparse
import base64
import collections
import csv
import heapq
import http.client
import json
import os
import queue
import random
import re
import struct
import subprocess
import sys
import threading
import time

EXPECTED = {"create": 201, "settings": 200, "join": 201, "control": 200, "chat": 201,
            "upload_create": 201, "upload_patch": 204, "get_room": 200}


def log(msg):
    print("mixed_load: " + msg, file=sys.stderr, flush=True)


# ---- HTTP ----

class Api:
    """Keep-alive HTTP/1.1 connections to nginx, one per thread; every request
    is recorded by kind (status and latency)."""

    def __init__(self, port):
        self.port = port
        self.local = threading.local()
        self.lock = threading.Lock()
        self.statuses = collections.defaultdict(collections.Counter)
        self.latency = collections.defaultdict(list)
        self.bad = []          # (kind, status, detail) of unexpected answers, the first 50

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.local.conn = c
        return c

    def request(self, kind, method, path, body=None, token=None, headers=None, raw=None):
        """Sends one request; returns (status, parsed JSON or None, headers).
        Status 0 means the request itself failed (connection, timeout)."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        t = time.monotonic()
        try:
            c = self._conn()
            c.request(method, path, data, h)
            r = c.getresponse()
            text = r.read()
            status, rh = r.status, r.headers
        except (OSError, http.client.HTTPException) as e:
            self.local.conn = None
            status, text, rh = 0, str(e).encode(), {}
        ms = (time.monotonic() - t) * 1000
        with self.lock:
            self.statuses[kind][status] += 1
            self.latency[kind].append(ms)
            if status != EXPECTED.get(kind) and len(self.bad) < 50:
                self.bad.append((kind, status, text[:200].decode("utf-8", "replace")))
        try:
            js = json.loads(text) if text else None
        except ValueError:
            js = None
        return status, js, rh


def parallel(fn, items, threads):
    """Runs fn(item) for every item on threads; returns the results in order,
    or raises the first exception one of them raised."""
    out = [None] * len(items)
    errors = []
    q = queue.Queue()
    for i, it in enumerate(items):
        q.put((i, it))

    def run():
        while not errors:
            try:
                i, it = q.get_nowait()
            except queue.Empty:
                return
            try:
                out[i] = fn(it)
            except Exception as e:  # noqa: BLE001 - handed to the caller
                errors.append(e)
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


# ---- the listeners (bench/mixload) ----

class Mixload:
    """One mixload process: commands on its stdin, lines from its stdout."""

    def __init__(self, k, argv):
        self.k = k
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.replies = queue.Queue()
        self.ready = None
        self.errors = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line.startswith("READY "):
                self.ready = float(line.split()[1])
            elif line.startswith("E "):
                self.errors.append(line[2:])
                log("listeners %d: %s" % (self.k, line[2:]))
            else:
                self.replies.put(line)
        self.replies.put(None)

    def ask(self, cmd, timeout=60):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.replies.get(timeout=timeout)


def ml_stats(mls):
    """The counters of every mixload process, summed."""
    tot = collections.Counter()
    for m in mls:
        line = m.ask("S")
        for kv in (line or "").split()[1:]:
            k, v = kv.split("=")
            tot[k] += int(v)
    return tot


def ml_dump(mls, prefix):
    """Dumps every process; returns the connections (dicts) and the merged
    histograms {name: {upper_us: count}}."""
    for m in mls:
        r = m.ask("D %s-%d" % (prefix, m.k))
        if r != "D ok":
            raise RuntimeError("listeners %d: dump failed: %s" % (m.k, r))
    conns, hists = [], collections.defaultdict(collections.Counter)
    for m in mls:
        with open("%s-%d.conns.tsv" % (prefix, m.k)) as f:
            for row in csv.DictReader(f, delimiter="\t"):
                row["proc"] = m.k
                conns.append(row)
        with open("%s-%d.hist.tsv" % (prefix, m.k)) as f:
            for line in f:
                name, up, n = line.split("\t")
                hists[name][int(up)] += int(n)
    return conns, hists


def quantiles(hist, qs):
    """Quantiles (values in µs) of a merged histogram {upper_us: count}."""
    items = sorted(hist.items())
    total = sum(n for _, n in items)
    out = {}
    for q in qs:
        if total == 0:
            out[q] = None
            continue
        want, seen = min(int(q * total), total - 1), 0
        for up, n in items:
            seen += n
            if seen > want:
                out[q] = up
                break
    return out, total


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(int(q * len(xs)), len(xs) - 1)]


# ---- server processes ----

def proc_children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(d))
    return sorted(kids)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def server_processes(stack_pid):
    """{name: pid} of every process of the stack: redis, api, worker-1/2,
    relay-1/2, nginx (master) and nginx-w1.. (its workers)."""
    out = {}
    for pid in proc_children(stack_pid):
        argv = proc_cmdline(pid)
        try:
            with open("/proc/%d/comm" % pid) as f:
                exe = f.read().strip()
        except OSError:
            continue
        opt = argv[argv.index("-i") + 1] if "-i" in argv[:-1] else ""
        if exe.startswith("redis-server"):
            out["redis"] = pid
        elif exe == "tutti-api":
            out["api"] = pid
        elif exe == "tutti-worker":
            out[opt or "worker-%d" % pid] = pid
        elif exe == "tutti-relay":
            out["relay-" + opt.lstrip("r")] = pid
        elif exe == "nginx":
            out["nginx"] = pid
            for i, w in enumerate(proc_children(pid)):
                out["nginx-w%d" % (i + 1)] = w
    return out


def proc_sample(pid):
    """(RSS kB, CPU seconds) of pid, or (None, None) when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu
    except (OSError, StopIteration, ValueError):
        return None, None


def redis_stream(sock):
    """(entries, kB) of the command stream tutti:cmd: it grows to its MAXLEN
    (about 100,000 entries) by design, which shows in Redis's RSS."""
    try:
        out = subprocess.run(["redis-cli", "-s", sock], input="XLEN tutti:cmd\n"
                             "MEMORY USAGE tutti:cmd SAMPLES 0\n", capture_output=True,
                             text=True, timeout=10).stdout.split()
        return int(out[0]), int(out[1]) // 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None, None


def slope(points):
    """Least-squares slope of [(t, y)], y per second."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / den if den else 0.0


# ---- uploads ----

def id3_titled(mp3, title):
    """mp3 with an ID3v2.3 tag carrying title in front: new content, so a new
    track, and the title shows where it came from."""
    text = b"\x00" + title.encode("latin-1")
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    n = len(frame)
    size = bytes([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f])
    return b"ID3\x03\x00\x00" + size + frame + mp3


def b64(s):
    return base64.b64encode(s.encode()).decode()


# ---- the bench ----

class Bench:
    def __init__(self, a):
        self.a = a
        self.api = Api(a.port)
        self.rooms = []            # [{code, token, members: [token], state}]
        self.mls = []
        self.rng = random.Random(a.seed)
        self.mp3 = open(a.mp3, "rb").read()
        self.uploads = 0
        self.upload_tracks = []
        self.lag = []              # how late jobs started (s)
        self.jobs = queue.Queue()
        self.mem_rows = []         # (t, name, pid, rss, cpu)
        self.lis_rows = []         # (t, counters)
        self.stream = {}           # t: (entries, kB) of the command stream in Redis
        self.failures = []
        self.result = {"config": vars(a).copy()}

    # -- setup --

    def setup(self):
        a = self.a
        t = time.monotonic()

        def create(i):
            st, js, _ = self.api.request("create", "POST", "/api/rooms",
                                         {"name": "admin", "room_name": "load %d" % i})
            if st != 201:
                raise RuntimeError("creating room %d: %d %s" % (i, st, js))
            code, tok = js["code"], js["token"]
            st, js, _ = self.api.request("settings", "PATCH", "/api/rooms/" + code,
                                         {"repeat": "all"}, token=tok)
            if st != 200:
                raise RuntimeError("room %s settings: %d %s" % (code, st, js))
            return {"code": code, "token": tok, "members": [tok], "state": "stopped",
                    "lock": threading.Lock()}
        self.rooms = parallel(create, list(range(a.rooms)), a.threads)
        per = [len(range(r, a.listeners, a.rooms)) for r in range(a.rooms)]
        joins = [(r, u) for r in range(a.rooms) for u in range(1, per[r])]

        def join(ru):
            r, u = ru
            room = self.rooms[r]
            st, js, _ = self.api.request("join", "POST", "/api/rooms/%s/join" % room["code"],
                                         {"name": "listener %d" % u})
            if st != 201:
                raise RuntimeError("joining %s: %d %s" % (room["code"], st, js))
            return js["token"]
        toks = parallel(join, joins, a.threads)
        for (r, u), tok in zip(joins, toks):
            self.rooms[r]["members"].append(tok)
        # Listener i: room i mod R, user i div R (user 0 is the admin).
        with open(a.listeners_file, "w") as f:
            for i in range(a.listeners):
                room = self.rooms[i % a.rooms]
                f.write("%s %s\n" % (room["code"], room["members"][i // a.rooms]))
        for room in self.rooms:
            self.control(room, {"action": "play"})
        self.result["setup_s"] = round(time.monotonic() - t, 1)
        log("%d rooms, %d users joined, all playing (%.1f s)"
            % (a.rooms, len(joins), self.result["setup_s"]))

    # -- requests of the load --

    def control(self, room, body):
        st, js, _ = self.api.request("control", "POST", "/api/rooms/%s/control" % room["code"],
                                     body, token=room["token"])
        if st == 200 and js:
            room["state"] = js["playback"]["state"]
        return st

    def command(self, room):
        with room["lock"]:
            if room["state"] != "playing":
                body = {"action": "play"}
            else:
                x = self.rng.random()
                if x < 0.25:
                    body = {"action": "pause"}
                elif x < 0.6:
                    off = self.rng.randint(5, 20) * 1000000
                    body = {"action": "seek", "offset_us": off if self.rng.random() < 0.5 else -off}
                else:
                    body = {"action": "next"}
            self.control(room, body)

    def chat(self, room):
        tok = self.rng.choice(room["members"])
        self.api.request("chat", "POST", "/api/rooms/%s/chat" % room["code"],
                         {"text": "message %d of the mixed-load bench" % self.rng.randint(1, 10 ** 6)},
                         token=tok)

    def upload(self, room):
        self.uploads += 1
        n = self.uploads
        data = id3_titled(self.mp3, "Mixed load upload %d %d" % (n, self.rng.randint(1, 10 ** 9)))
        tus = {"Tus-Resumable": "1.0.0"}
        st, _, h = self.api.request(
            "upload_create", "POST", "/api/uploads", token=room["token"],
            headers=dict(tus, **{"Upload-Length": str(len(data)),
                                 "Upload-Metadata": "room %s,filename %s"
                                 % (b64(room["code"]), b64("load-%d.mp3" % n))}))
        loc = h.get("Location") if st == 201 else None
        if not loc:
            return
        st, _, h = self.api.request(
            "upload_patch", "PATCH", loc, token=room["token"], raw=data,
            headers=dict(tus, **{"Content-Type": "application/offset+octet-stream",
                                 "Upload-Offset": "0"}))
        if st == 204:
            self.upload_tracks.append(h.get("Tutti-Track"))

    def executor(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            due, fn, room = job
            self.lag.append(time.monotonic() - due)
            fn(room)
            self.jobs.task_done()

    # -- sampling --

    def sample(self, t):
        t = round(t, 1)
        for name, pid in sorted(self.procs.items()):
            rss, cpu = proc_sample(pid)
            self.mem_rows.append((t, name, pid, rss, cpu))
        self.stream[t] = redis_stream(self.a.redis_sock)
        s = ml_stats(self.mls)
        self.lis_rows.append((round(t, 1), s))
        return s

    # -- the run --

    def start_listeners(self):
        a = self.a
        per = (a.listeners + a.procs - 1) // a.procs
        t = time.monotonic()
        for k in range(a.procs):
            first = k * per
            argv = [a.mixload, "-c", "127.0.0.1:%d" % a.port, "-f", a.listeners_file,
                    "-k", str(first), "-n", str(min(per, a.listeners - first)),
                    "-p", str(a.ping_ms), "-C", str(a.conc)]
            if a.src:
                argv += ["-s", a.src]
            self.mls.append(Mixload(k, argv))
        last = t
        while any(m.ready is None for m in self.mls):
            time.sleep(0.5)
            if any(m.p.poll() is not None for m in self.mls):
                raise RuntimeError("a listener process exited during the ramp")
            if time.monotonic() - t > a.ramp_timeout:
                s = ml_stats(self.mls)
                raise RuntimeError("ramp: %d of %d listeners open after %d s"
                                   % (s["open"], a.listeners, a.ramp_timeout))
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                s = ml_stats(self.mls)
                log("ramp: %d of %d open, %d failed upgrades" % (s["open"], a.listeners, s["fails"]))
        self.result["ramp_s"] = round(time.monotonic() - t, 1)
        log("%d listeners open in %.1f s" % (a.listeners, self.result["ramp_s"]))

    def run_load(self):
        a = self.a
        self.procs = server_processes(a.stack_pid)
        for k, m in enumerate(self.mls):
            self.procs["mixload-%d" % k] = m.p.pid
        log("processes: " + ", ".join("%s=%d" % kv for kv in sorted(self.procs.items())))
        time.sleep(a.settle)
        threads = [threading.Thread(target=self.executor) for _ in range(a.threads)]
        for th in threads:
            th.start()
        for m in self.mls:            # latency histograms: the load only
            if m.ask("R") != "R ok":
                raise RuntimeError("listeners %d: no answer to R" % m.k)
        t0 = time.monotonic()
        end = t0 + a.duration
        heap = []
        for r, room in enumerate(self.rooms):
            heapq.heappush(heap, (t0 + self.rng.uniform(0, a.cmd_max), "command", r))
            if a.chat_per_min > 0:
                heapq.heappush(heap, (t0 + self.rng.expovariate(a.chat_per_min / 60), "chat", r))
        if a.upload_every > 0:
            heapq.heappush(heap, (t0 + self.rng.uniform(0, a.upload_every), "upload", 0))
        heapq.heappush(heap, (t0, "sample", 0))
        fns = {"command": self.command, "chat": self.chat, "upload": self.upload}
        last_log = t0
        while heap:
            due, kind, r = heapq.heappop(heap)
            if due > end and kind != "sample":
                continue
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            if kind == "sample":
                s = self.sample(due - t0)
                if due - t0 >= a.duration - 0.01:
                    break
                heapq.heappush(heap, (min(due + a.sample, end), "sample", 0))
                if time.monotonic() - last_log >= 60 or due == t0:
                    last_log = time.monotonic()
                    log("t=%4.0f s: %d open, %d closes, %d lost, %d beacons, %d events, "
                        "%d requests queued" % (due - t0, s["open"], s["closes"], s["lost"],
                                                s["beacons"], s["events"], self.jobs.qsize()))
                continue
            if kind == "command":
                heapq.heappush(heap, (due + self.rng.uniform(a.cmd_min, a.cmd_max), kind, r))
                room = self.rooms[r]
            elif kind == "chat":
                heapq.heappush(heap, (due + self.rng.expovariate(a.chat_per_min / 60), kind, r))
                room = self.rooms[r]
            else:
                heapq.heappush(heap, (due + a.upload_every * self.rng.uniform(0.8, 1.2), kind, 0))
                room = self.rng.choice(self.rooms)
            self.jobs.put((due, fns[kind], room))
        self.jobs.join()
        for _ in threads:
            self.jobs.put(None)
        for th in threads:
            th.join()
        self.result["load_s"] = round(time.monotonic() - t0, 1)

    def final_checks(self):
        """Every room playing: beacons reach every listener. Then every room
        paused: each listener's anchor and seq equal the room's over REST."""
        a = self.a
        parallel(lambda room: self.control(room, {"action": "play"}), self.rooms, a.threads)
        time.sleep(a.beacon_wait)
        conns, _ = ml_dump(self.mls, os.path.join(a.dir, "playing"))
        stale = [c for c in conns if c["state"] != "open" or int(c["beacon_age_ms"]) < 0
                 or int(c["beacon_age_ms"]) > a.stale_ms]
        ages = sorted(int(c["beacon_age_ms"]) for c in conns)
        parallel(lambda room: self.control(room, {"action": "pause"}), self.rooms, a.threads)
        time.sleep(a.quiet)
        conns, hists = ml_dump(self.mls, os.path.join(a.dir, "final"))

        def get(room):
            st, js, _ = self.api.request("get_room", "GET", "/api/rooms/" + room["code"],
                                         token=room["token"])
            return js if st == 200 else None
        rest = {room["code"]: js for room, js in
                zip(self.rooms, parallel(get, self.rooms, a.threads))}
        bad_anchor, bad_seq, gaps, not_open, examples = 0, 0, 0, 0, []
        for c in conns:
            js = rest.get(c["room"])
            if c["state"] != "open":
                not_open += 1
            if js is None:
                bad_anchor += 1
                continue
            pb = js["playback"]
            want = (pb["state"], pb["item_id"] if pb["item_id"] is not None else -1,
                    pb["track_id"] if pb["track_id"] is not None else -1,
                    pb["position_us"], pb["at_us"])
            have = (c["anc_state"], int(c["item_id"]), int(c["track_id"]),
                    int(c["position_us"]), int(c["at_us"]))
            if have != want:
                bad_anchor += 1
                if len(examples) < 5:
                    examples.append("listener %s room %s: anchor %s, REST %s"
                                    % (c["idx"], c["room"], have, want))
            if int(c["last_seq"]) != js["seq"]:
                bad_seq += 1
                if len(examples) < 10:
                    examples.append("listener %s room %s: last seq %s, REST seq %d"
                                    % (c["idx"], c["room"], c["last_seq"], js["seq"]))
            gaps += int(c["lost"]) + int(c["pending"])
        self.result["final"] = {
            "listeners": len(conns), "not_open": not_open,
            "anchor_mismatch": bad_anchor, "seq_mismatch": bad_seq, "seq_gaps": gaps,
            "beacon_stale": len(stale), "beacon_age_ms_max": ages[-1] if ages else None,
            "beacon_age_ms_p50": ages[len(ages) // 2] if ages else None,
            "rooms_paused_over_rest": sum(1 for js in rest.values()
                                          if js and js["playback"]["state"] == "paused"),
            "examples": examples}
        self.result["latency_ms"] = {}
        for name, h in hists.items():
            if name == "anchor_margin":     # the smaller, the closer to late
                qs, n = quantiles(h, [0.001, 0.01, 0.5])
                self.result["latency_ms"][name] = {
                    "n": n, "p0.1": ms(qs[0.001]), "p1": ms(qs[0.01]), "p50": ms(qs[0.5]),
                    "min": ms(min(h) if h else None)}
            else:
                qs, n = quantiles(h, [0.5, 0.99, 0.999])
                self.result["latency_ms"][name] = {
                    "n": n, "p50": ms(qs[0.5]), "p99": ms(qs[0.99]), "p99.9": ms(qs[0.999]),
                    "max": ms(max(h) if h else None)}

    def quit_listeners(self):
        for m in self.mls:
            try:
                m.p.stdin.write("Q\n")
                m.p.stdin.flush()
            except OSError:
                pass
        for m in self.mls:
            try:
                m.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                m.p.kill()

    # -- the report --

    def memory(self):
        by = collections.defaultdict(list)
        for t, name, pid, rss, cpu in self.mem_rows:
            if rss is not None:
                by[name].append((t, rss, cpu))
        out = {}
        dur = max(self.a.duration, 1)
        for name, pts in sorted(by.items()):
            rss = [r for _, r, _ in pts]
            # The verdict: the slope over the second half of the run, so a
            # cache that fills early and stays is flat and a leak is not;
            # Redis without its command stream, which grows to its MAXLEN.
            judged = [(t, r - (self.stream.get(t, (0, 0))[1] or 0 if name == "redis" else 0))
                      for t, r, _ in pts]
            sl = slope([(t, r) for t, r, _ in pts])                  # kB/s
            late = slope(judged[len(judged) // 2:])
            growth = late * dur
            flat = growth <= max(self.a.flat_kb, self.a.flat_pct / 100 * rss[0])
            span = pts[-1][0] - pts[0][0]
            out[name] = {
                "first_mib": round(rss[0] / 1024, 2), "last_mib": round(rss[-1] / 1024, 2),
                "max_mib": round(max(rss) / 1024, 2),
                "slope_mib_per_h": round(sl * 3600 / 1024, 3),
                "second_half_slope_mib_per_h": round(late * 3600 / 1024, 3),
                "second_half_growth_over_run_mib": round(growth / 1024, 3), "flat": flat,
                "cpu_pct": round(100 * (pts[-1][2] - pts[0][2]) / span, 1) if span > 0 else None,
                "samples": len(pts)}
            if name == "redis" and self.stream:
                ts = sorted(self.stream)
                out[name]["cmd_stream_entries"] = [self.stream[ts[0]][0], self.stream[ts[-1]][0]]
                out[name]["cmd_stream_mib"] = [round((self.stream[t][1] or 0) / 1024, 2)
                                               for t in (ts[0], ts[-1])]
        return out

    def nginx_log(self, upto):
        """Status counts of nginx's access log from the start of the driver
        to byte upto, by route."""
        counts = collections.defaultdict(collections.Counter)
        pat = re.compile(r'"(\S+) (\S+)" (\d{3}) ')
        try:
            with open(self.a.access_log, "rb") as f:
                f.seek(self.log_start)
                data = f.read(max(0, upto - self.log_start))
        except OSError:
            return {}
        for line in data.decode("utf-8", "replace").splitlines():
            m = pat.search(line)
            if not m:
                continue
            meth, uri, st = m.groups()
            if uri == "/ws":
                route = "ws"
            elif uri.startswith("/api/uploads"):
                route = "uploads"
            else:
                parts = uri.split("/")
                route = "api " + meth + " " + ("/".join(parts[:3] + ["*"] + parts[4:])
                                               if len(parts) > 3 else uri)
            counts[route][int(st)] += 1
        return {k: dict(v) for k, v in sorted(counts.items())}

    def stack_log(self):
        """Warning and error records of the daemons, by program and level,
        and the relays' records of refused or dropped listeners."""
        out = collections.Counter()
        first = []
        pat = re.compile(r"^\S+ (tutti-[a-z]+)\[\d+\] (warn|error|info) (\S+: )?(\S+)")
        try:
            with open(self.a.stack_log, errors="replace") as f:
                for line in f:
                    m = pat.match(line)
                    if m and (m.group(2) != "info" or m.group(4) in ("dropping", "refused")):
                        out["%s %s" % (m.group(1), m.group(2) if m.group(2) != "info"
                                       else m.group(4))] += 1
                        if len(first) < 10:
                            first.append(line.rstrip()[:200])
        except OSError:
            pass
        return dict(out), first

    def report(self, log_offset):
        a, r = self.a, self.result
        reqs = {}
        for kind in sorted(self.api.statuses):
            lat = self.api.latency[kind]
            reqs[kind] = {"n": len(lat), "statuses": {str(k): v for k, v in
                                                      sorted(self.api.statuses[kind].items())},
                          "unexpected": sum(v for k, v in self.api.statuses[kind].items()
                                            if k != EXPECTED[kind]),
                          "p50_ms": rnd(pct(lat, 0.5)), "p99_ms": rnd(pct(lat, 0.99)),
                          "max_ms": rnd(max(lat) if lat else None)}
        r["requests"] = reqs
        r["unexpected_answers"] = self.api.bad
        r["job_lag_s"] = {"p99": rnd(pct(self.lag, 0.99)), "max": rnd(max(self.lag) if self.lag else None)}
        r["uploads"] = {"done": len(self.upload_tracks), "tried": self.uploads}
        r["listeners"] = dict(self.lis_rows[-1][1]) if self.lis_rows else {}
        # What happened during the load itself, without the ramp.
        r["listeners_during_load"] = ({k: v - self.lis_rows[0][1].get(k, 0)
                                       for k, v in self.lis_rows[-1][1].items()
                                       if k not in ("n", "open", "inflight", "waiting", "ever")}
                                      if self.lis_rows else {})
        r["listener_errors"] = [e for m in self.mls for e in m.errors][:20]
        r["memory"] = self.memory()
        r["nginx_statuses"] = self.nginx_log(log_offset)
        r["daemon_log"], r["daemon_log_first"] = self.stack_log()
        # The verdict.
        f = self.failures
        for kind, q in reqs.items():
            if q["unexpected"]:
                f.append("%d %s request(s) answered other than %d" % (q["unexpected"], kind,
                                                                      EXPECTED[kind]))
        lis = r["listeners"]
        for k in ("closes", "fails", "server_closes", "lost", "pending", "resyncs",
                  "room_closed", "bad_frames"):
            if lis.get(k):
                f.append("listeners: %s = %d" % (k, lis[k]))
        ng_bad = sum(n for route, c in r["nginx_statuses"].items() for st, n in c.items()
                     if st not in (101, 200, 201, 204) or route == "ws")
        if ng_bad:
            f.append("nginx access log: %d request(s) with another status, or WebSockets "
                     "that ended during the run" % ng_bad)
        fin = r.get("final", {})
        for k in ("not_open", "anchor_mismatch", "seq_mismatch", "seq_gaps", "beacon_stale"):
            if fin.get(k):
                f.append("final: %s = %d of %d listeners" % (k, fin[k], fin["listeners"]))
        if fin and fin.get("listeners") != a.listeners:
            f.append("final: %s listeners dumped, %d expected" % (fin.get("listeners"), a.listeners))
        for name, m in r["memory"].items():
            if not m["flat"] and not name.startswith("mixload"):
                f.append("memory: %s grows %.2f MiB/h in the second half of the run"
                         % (name, m["second_half_slope_mib_per_h"]))
        r["failures"] = f
        r["passed"] = not f
        with open(a.out + ".json", "w") as fo:
            json.dump(r, fo, indent=1, default=str)
            fo.write("\n")
        with open(a.out + "-memory.csv", "w", newline="") as fo:
            w = csv.writer(fo)
            w.writerow(["t_s", "process", "pid", "rss_kb", "cpu_s"])
            w.writerows(self.mem_rows)
        keys = ["open", "opened", "closes", "fails", "msgs", "beacons", "events", "playbacks",
                "chats", "playlists", "lost", "pending", "reordered", "late_anchors", "pings", "pongs"]
        with open(a.out + "-listeners.csv", "w", newline="") as fo:
            w = csv.writer(fo)
            w.writerow(["t_s"] + keys + ["cmd_stream_entries", "cmd_stream_kb"])
            for t, s in self.lis_rows:
                w.writerow([t] + [s.get(k, 0) for k in keys] + list(self.stream.get(t, (None, None))))
        self.summary()

    def summary(self):
        r, a = self.result, self.a
        p = print
        p("== mixed load: %d rooms, %d listeners, %d relays, %d s (setup %.0f s, ramp %.0f s)"
          % (a.rooms, a.listeners, 2, r.get("load_s", 0), r.get("setup_s", 0), r.get("ramp_s", 0)))
        for kind, q in r["requests"].items():
            p("requests   %-13s %6d  statuses %s  p50 %s ms  p99 %s ms  max %s ms"
              % (kind, q["n"], q["statuses"], q["p50_ms"], q["p99_ms"], q["max_ms"]))
        secs = max(r.get("load_s", 0), 1)
        p("load       %.1f commands/s, %.1f chat messages/s, %d of %d uploads stored as tracks; "
          "driver lag p99 %s s, max %s s"
          % (r["requests"].get("control", {}).get("n", 0) / secs,
             r["requests"].get("chat", {}).get("n", 0) / secs, r["uploads"]["done"],
             r["uploads"]["tried"], r["job_lag_s"]["p99"], r["job_lag_s"]["max"]))
        lis = r["listeners"]
        p("listeners  open %s, upgrades %s, closes %s, failed upgrades %s, messages %s "
          "(beacons %s, events %s: playback %s, chat %s, playlist %s, presence %s)"
          % tuple(lis.get(k, 0) for k in ("open", "opened", "closes", "fails", "msgs", "beacons",
                                          "events", "playbacks", "chats", "playlists", "presences")))
        p("seq        lost %s, still missing %s, filled late (reordered) %s, resyncs %s; "
          "playing anchors that arrived after their start: %s"
          % tuple(lis.get(k, 0) for k in ("lost", "pending", "reordered", "resyncs", "late_anchors")))
        p("pings      %s sent, %s answered" % (lis.get("pings", 0), lis.get("pongs", 0)))
        dl = r["listeners_during_load"]
        p("load phase %.0f beacons/s, %.0f events/s, %.0f pings/s; playing anchors after "
          "their start %s (%s during the ramp); latencies below: the load phase (upgrade: the ramp)"
          % (dl.get("beacons", 0) / secs, dl.get("events", 0) / secs, dl.get("pings", 0) / secs,
             dl.get("late_anchors", 0), lis.get("late_anchors", 0) - dl.get("late_anchors", 0)))
        for name, q in r.get("latency_ms", {}).items():
            p("latency    %-16s %s" % (name, " ".join("%s=%s" % kv for kv in q.items())))
        fin = r.get("final", {})
        p("final      %s listeners: anchor = REST %s, seq = REST %s, gaps %s, not open %s; "
          "beacon age p50 %s ms, max %s ms (stale > %d ms: %s)"
          % (fin.get("listeners"), fin.get("listeners", 0) - fin.get("anchor_mismatch", 0),
             fin.get("listeners", 0) - fin.get("seq_mismatch", 0), fin.get("seq_gaps"),
             fin.get("not_open"), fin.get("beacon_age_ms_p50"), fin.get("beacon_age_ms_max"),
             a.stale_ms, fin.get("beacon_stale")))
        for e in fin.get("examples", []):
            p("           " + e)
        p("memory     process        first    last     max   MiB/h  2nd half  CPU %  flat")
        for name, m in r["memory"].items():
            p("           %-12s %7.1f %7.1f %7.1f %7.2f %9.2f %6s  %s"
              % (name, m["first_mib"], m["last_mib"], m["max_mib"], m["slope_mib_per_h"],
                 m["second_half_slope_mib_per_h"], m["cpu_pct"], "yes" if m["flat"] else "NO"))
            if "cmd_stream_entries" in m:
                p("           (the command stream: %d -> %d entries, %.1f -> %.1f MiB; "
                  "judged without it)" % tuple(m["cmd_stream_entries"] + m["cmd_stream_mib"]))
        p("nginx      " + "; ".join("%s %s" % (k, v) for k, v in r["nginx_statuses"].items()))
        if r["daemon_log"]:
            p("daemon log " + ", ".join("%s: %d" % kv for kv in sorted(r["daemon_log"].items())))
            for line in r["daemon_log_first"]:
                p("           " + line)
        for e in r["listener_errors"]:
            p("listener   " + e)
        for kind, st, detail in r["unexpected_answers"][:10]:
            p("answer     %s %s %s" % (kind, st, detail))
        p("result     %s" % ("PASSED: no error, memory flat, every listener in sync"
                             if r["passed"] else "FAILED"))
        for f in r["failures"]:
            p("           - " + f)
        p("files      %s.json, %s-memory.csv, %s-listeners.csv" % (a.out, a.out, a.out))


def ms(us):
    return None if us is None else round(us / 1000, 3)


def rnd(x):
    return None if x is None else round(x, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="nginx port of the stack")
    ap.add_argument("--stack-pid", type=int, required=True, help="pid of scripts/run.sh")
    ap.add_argument("--dir", required=True, help="a directory for the work files")
    ap.add_argument("--out", required=True, help="result files prefix (.json, -memory.csv, ...)")
    ap.add_argument("--mixload", required=True)
    ap.add_argument("--mp3", required=True, help="the MP3 uploaded (with a new tag each time)")
    ap.add_argument("--access-log", required=True)
    ap.add_argument("--stack-log", required=True)
    ap.add_argument("--redis-sock", required=True)
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--listeners", type=int, default=20000)
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--procs", type=int, default=2, help="mixload processes")
    ap.add_argument("--src", default="127.0.0.2-127.0.0.9")
    ap.add_argument("--conc", type=int, default=100, help="upgrades in flight per process")
    ap.add_argument("--ping-ms", type=int, default=2000)
    ap.add_argument("--cmd-min", type=float, default=10)
    ap.add_argument("--cmd-max", type=float, default=30)
    ap.add_argument("--chat-per-min", type=float, default=3)
    ap.add_argument("--upload-every", type=float, default=60)
    ap.add_argument("--sample", type=float, default=30)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--threads", type=int, default=16, help="HTTP client threads")
    ap.add_argument("--ramp-timeout", type=float, default=600)
    ap.add_argument("--beacon-wait", type=float, default=4)
    ap.add_argument("--stale-ms", type=int, default=3000)
    ap.add_argument("--quiet", type=float, default=3)
    ap.add_argument("--flat-kb", type=float, default=2048)
    ap.add_argument("--flat-pct", type=float, default=5)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args()
    a.listeners_file = os.path.join(a.dir, "listeners.txt")
    if a.listeners < a.rooms:
        sys.exit("mixed_load: fewer listeners than rooms")
    b = Bench(a)
    b.log_start = os.path.getsize(a.access_log) if os.path.exists(a.access_log) else 0
    try:
        b.setup()
        b.start_listeners()
    except (RuntimeError, KeyError, TypeError) as e:
        log("setup failed: %s" % e)
        b.quit_listeners()
        return 2
    try:
        b.run_load()
        b.final_checks()
        offset = os.path.getsize(a.access_log) if os.path.exists(a.access_log) else 0
    finally:
        b.quit_listeners()
    b.report(offset)
    return 0 if b.result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
