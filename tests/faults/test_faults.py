"""test_faults.py - tutti under faults (issue 8), against a Cluster
(cluster.py: every process started on its own). With a room playing,
listeners on both relays (WebSocket through nginx, each a real client that
reconnects and refetches the room over REST), a tus upload half done and a
thread posting control commands at a steady rate, in turn:
  1. kill -9 of relay r1: its listeners reconnect through nginx to r2 within
     5 s and resync; r2's listeners notice nothing; once r1's liveness key
     expired the worker takes its listeners back (their users stay online),
     then r1 starts again;
  2. kill -9 of the active worker: the standby takes the lease; no command
     answered 200 is lost or applied twice (answers, events, seqs, SQLite);
  3. kill -9 of tutti-api, with a second upload's PATCH in flight: nginx
     answers 502 problem+json meanwhile; after the restart both uploads
     resume from their offsets (sha256 checked); no SQLite row lost;
  4. Redis down for a second, then started again: commands get 503 meanwhile;
     relays resubscribe, the snapshot is rebuilt, playback and events go on;
  5. nginx reloaded: an upload PATCH in flight completes, no command fails,
     WebSockets stay (or reconnect cleanly);
  6. a full disk for uploads (a 4 MiB tmpfs over DATA/uploads; root only):
     507 problem+json, the database intact, the upload completes once space
     is freed; and a full file system for the media alone (a 64 KiB tmpfs over
     the one media/<h[0:2]> directory): the completing PATCH gets 507, the
     bytes stay, an empty PATCH completes it once there is room.
After each: REST's room equals SQLite's, every listener holds REST's anchor,
seq and playlist, and every listener's user is online. Prints the measured
reconnect and takeover times.
Run: /usr/bin/python3 tests/faults/test_faults.py   (TAP output)
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from cluster import Cluster, redis_cli  # noqa: E402
from stack import Tap, create_room, is_problem, join_room, wait_for  # noqa: E402
from test_uploads import RawPatch, Tus, mp3  # noqa: E402
from test_uploads import is_problem as tus_problem  # noqa: E402

import websocket  # noqa: E402  Debian's python3-websocket

RECONNECT_BOUND = 5.0   # issue 8: "reconnect ... within 5 s"
COMMAND_CAUSES = {"seek", "pause", "play", "resume", "next", "prev", "stop", "jump"}


def anchor_of(d):
    return (d.get("state"), d.get("item_id"), d.get("track_id"), d.get("position_us"),
            d.get("at_us"))


class Client:
    """One listener that behaves as a real client: a thread keeps a
    WebSocket open through nginx, reconnects when it drops (with backoff),
    and fetches the room over REST after each hello, after a resync, when an
    event's seq skips one or a beacon's seq is ahead. Everything it saw is
    kept for the checks."""

    def __init__(self, c, code, token, name):
        self.c, self.code, self.token, self.name = c, code, token, name
        self.lock = threading.Lock()
        self.hellos = []        # (monotonic, relay id)
        self.drops = []         # monotonic times the socket went away
        self.events = []        # (monotonic, connection number, event, is_snapshot)
        self.resyncs = []       # monotonic times of resync messages
        self.gaps = []          # (seq held, seq received)
        self.beacons = []       # monotonic times
        self.refetches = []     # (monotonic, why)
        self.seq = self.anchor = self.playlist = self.relay = None
        self.connected = False
        self.need_fetch = False
        self.after_hello = False
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        backoff = 0.0
        while not self.stop:
            try:
                ws = websocket.create_connection(self.c.ws_url(self.code, self.token),
                                                 timeout=5)
            except (websocket.WebSocketException, OSError):
                # A refused upgrade may be a session lost with Redis: a GET
                # of the room writes it again.
                self.fetch("upgrade refused")
                backoff = min(1.0, backoff * 2 or 0.05)
                time.sleep(backoff)
                continue
            backoff = 0.0
            self._read(ws)
            with self.lock:
                self.connected = False
                if not self.stop:
                    self.drops.append(time.monotonic())
            ws.close()

    def _read(self, ws):
        ws.settimeout(0.2)
        while not self.stop:
            if self.need_fetch:
                self.fetch("retry")
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                return
            if not raw:
                return
            self.on_message(json.loads(raw))

    def on_message(self, m):
        now = time.monotonic()
        kind = m.get("type")
        if kind == "hello":
            with self.lock:
                self.hellos.append((now, m.get("relay")))
                self.relay = m.get("relay")
                self.connected = True
                self.after_hello = True
            self.fetch("hello")
            return
        if kind == "pong":
            return
        if kind == "resync":
            with self.lock:
                self.resyncs.append(now)
            self.fetch("resync")
            return
        if kind == "beacon":
            with self.lock:
                self.beacons.append(now)
            if self.seq is not None and m.get("seq", 0) > self.seq:
                self.fetch("beacon ahead")
            return
        if "seq" not in m:
            return
        with self.lock:
            snap = self.after_hello and kind == "playback"
            self.after_hello = False
            self.events.append((now, len(self.hellos), m, snap))
            if self.seq is None or m["seq"] <= self.seq:
                return
            if m["seq"] != self.seq + 1:
                self.gaps.append((self.seq, m["seq"]))
            else:
                self.seq = m["seq"]
                if kind == "playback":
                    self.anchor = anchor_of(m)
                elif kind == "playlist":
                    self.playlist = [i["id"] for i in m["items"]]
                return
        self.fetch("gap")

    def fetch(self, why):
        """GET /api/rooms/{code}: the state to go on from."""
        try:
            st, room, _ = self.c.request("GET", "/api/rooms/" + self.code, token=self.token)
        except OSError:
            st, room = 0, None
        with self.lock:
            if st != 200:
                self.need_fetch = True
                return
            self.need_fetch = False
            self.refetches.append((time.monotonic(), why))
            if self.seq is None or room["seq"] >= self.seq:
                self.seq = room["seq"]
                self.anchor = anchor_of(room["playback"])
                self.playlist = [i["id"] for i in room["playlist"]]

    def mark(self):
        """Counters now, to compare with later."""
        with self.lock:
            return {"hellos": len(self.hellos), "drops": len(self.drops),
                    "events": len(self.events), "resyncs": len(self.resyncs),
                    "gaps": len(self.gaps), "beacons": len(self.beacons)}

    def close(self):
        self.stop = True
        self.thread.join(3)


class Commander:
    """A thread that posts control commands to the room at a steady rate
    (seek, pause, seek, play, next, ...; every seek to its own position) and
    keeps every command with its answer."""

    CYCLE = ("seek", "pause", "seek", "play", "next")
    PERIOD = 0.1

    def __init__(self, c, code, token):
        self.c, self.code, self.token = c, code, token
        self.log = []
        self.step = "setup"
        self.cv = threading.Condition()
        self.paused = False
        self.busy = False
        self.quit = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        k = 0
        while True:
            with self.cv:
                while self.paused and not self.quit:
                    self.busy = False
                    self.cv.notify_all()
                    self.cv.wait(0.1)
                if self.quit:
                    self.busy = False
                    self.cv.notify_all()
                    return
                self.busy = True
            self._send(k)
            k += 1

    def _send(self, k):
        action = self.CYCLE[k % len(self.CYCLE)]
        body = {"action": action}
        pos = None
        if action == "seek":
            pos = 1_000_000 + 1000 * k
            body["position_us"] = pos
        sent = time.monotonic()
        try:
            st, b, h = self.c.request("POST", "/api/rooms/%s/control" % self.code, body,
                                      token=self.token)
        except OSError as e:
            st, b, h = 0, {"error": repr(e)}, {}
        rec = {"k": k, "action": action, "pos": pos, "sent": sent,
               "answered": time.monotonic(), "status": st, "step": self.step,
               "problem": h.get("content-type", "").startswith("application/problem+json")}
        if st == 200:
            rec["seq"] = b["seq"]
            rec["anchor"] = anchor_of(b["playback"])
        with self.cv:
            self.log.append(rec)
        time.sleep(max(0.0, sent + self.PERIOD - time.monotonic()))

    def pause(self, timeout=15):
        with self.cv:
            self.paused = True
            self.cv.notify_all()
            return self.cv.wait_for(lambda: not self.busy, timeout)

    def resume(self):
        with self.cv:
            self.paused = False
            self.cv.notify_all()

    def stop(self):
        with self.cv:
            self.quit = True
            self.cv.notify_all()
        self.thread.join(15)

    def records(self, step=None):
        with self.cv:
            return [r for r in self.log if step is None or r["step"] == step]

    def accepted_after(self, t0):
        return [r for r in self.records() if r["status"] == 200 and r["sent"] > t0]


# --- SQLite (read-only) and REST ------------------------------------------------
def db(c):
    return sqlite3.connect("file:%s?mode=ro" % os.path.join(c.data, "tutti.db"), uri=True,
                           timeout=5)


def sql_state(c, code):
    """The room as SQLite holds it, in the shape of rest_state()."""
    with db(c) as d:
        rid, seq, version = d.execute("SELECT id, seq, playlist_version FROM rooms "
                                      "WHERE code = ?", (code,)).fetchone()
        pb = d.execute("SELECT p.state, p.item_id, i.track_id, p.position_us, p.at_us "
                       "FROM playback p LEFT JOIN playlist_items i ON i.id = p.item_id "
                       "WHERE p.room_id = ?", (rid,)).fetchone()
        pl = d.execute("SELECT id, position, added_by, track_id FROM playlist_items "
                       "WHERE room_id = ? AND removed_us IS NULL ORDER BY position",
                       (rid,)).fetchall()
        users = d.execute("SELECT id, name, role, joined_us, online FROM users WHERE "
                          "room_id = ? AND left_us IS NULL ORDER BY joined_us, id",
                          (rid,)).fetchall()
    return {"seq": seq, "playlist_version": version, "playback": tuple(pb),
            "playlist": [tuple(r) for r in pl],
            "users": [(i, n, r, j, bool(o)) for i, n, r, j, o in users]}


def rest_state(room):
    return {"seq": room["seq"], "playlist_version": room["playlist_version"],
            "playback": anchor_of(room["playback"]),
            "playlist": [(i["id"], i["position"], i["added_by"], i["track"]["id"])
                         for i in room["playlist"]],
            "users": [(u["id"], u["name"], u["role"], u["joined_us"], u["online"])
                      for u in room["users"]]}


def table_counts(c):
    with db(c) as d:
        names = [r[0] for r in d.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: d.execute('SELECT count(*) FROM "%s"' % n).fetchone()[0] for n in names}


def integrity(c):
    with db(c) as d:
        return d.execute("PRAGMA integrity_check").fetchone()[0]


def relay_metrics(c, name):
    """The relay's counters, {name: value} (labels dropped), or {} when down."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % c.metrics_ports[name],
                                    timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k.split("{")[0]] = float(v)
    return out


class Ctx:
    """What the steps share."""

    def __init__(self, c, tmp):
        self.c, self.tmp = c, tmp
        self.clients = []
        self.cmd = None
        self.nlisteners = 0
        self.probe_token = None
        self.times = {}
        self.lost_ok = set()


# --- the checks after every step ----------------------------------------------------
def settle(x, timeout=15):
    """Waits until SQLite holds still across a REST read and every listener
    is connected with REST's seq. Returns (room JSON, SQLite state, settled)."""
    c, room, s2 = x.c, None, None
    deadline = time.time() + timeout
    while time.time() < deadline:
        s1 = sql_state(c, x.code)
        st, room, _ = c.request("GET", "/api/rooms/" + x.code, token=x.token)
        s2 = sql_state(c, x.code)
        if st == 200 and s1 == s2 and all(cl.connected and cl.seq == room["seq"]
                                          for cl in x.clients):
            return room, s2, True
        time.sleep(0.05)
    return room, s2, False


def agree(t, x, step, extra=None):
    """Commands paused: REST equals SQLite, every listener agrees with REST;
    extra(room, sql), if given, runs while the room holds still."""
    if not x.cmd.pause():
        t.check(False, "%s: the command thread pauses" % step)
    try:
        room, sql, ok = settle(x)
        rest = rest_state(room) if room and "seq" in room else None
        t.check(ok and rest == sql, "%s: REST's room (anchor, seq, playlist, users) equals "
                "SQLite's" % step, "settled %s\nREST   %r\nSQLite %r" % (ok, rest, sql))
        bad = [(cl.name, cl.relay, cl.connected, cl.seq, cl.anchor, cl.playlist)
               for cl in x.clients
               if not rest or (cl.seq, cl.anchor) != (rest["seq"], rest["playback"])
               or cl.playlist != [i[0] for i in rest["playlist"]]]
        t.check(rest and not bad, "%s: all %d listeners hold REST's anchor, seq and playlist"
                % (step, len(x.clients)), "REST %r\n%r" % (rest and (rest["seq"],
                                                                     rest["playback"]), bad))
        ids = {cl.user_id for cl in x.clients}
        online = wait_for(lambda: (lambda r: r if r[0] == 200 and all(
            u["online"] for u in r[1]["users"] if u["id"] in ids) else None)(
            x.c.request("GET", "/api/rooms/" + x.code, token=x.token)), 10)
        t.check(online, "%s: every listener's user is online" % step,
                rest and [u for u in rest["users"] if u[0] in ids and not u[4]])
        if extra is not None and room:
            extra(room, sql)
    finally:
        x.cmd.resume()


def commands_flow(t, x, step, since, n=3, timeout=15):
    """Waits until n commands sent after since were answered 200."""
    ok = wait_for(lambda: len(x.cmd.accepted_after(since)) >= n, timeout)
    t.check(ok, "%s: commands are accepted again (%d answered 200)" % (step, n),
            [(r["action"], r["status"]) for r in x.cmd.records()[-10:]])


def add_client(x):
    """A new listener: joins as its own user and connects; returns it
    once its hello came (or None)."""
    x.nlisteners += 1
    token, user = join_room(x.c, x.code, "listener%d" % x.nlisteners)
    cl = Client(x.c, x.code, token, "listener%d" % x.nlisteners)
    cl.user_id = user["id"]
    x.clients.append(cl)
    wait_for(lambda: cl.connected and cl.seq is not None, 10)
    return cl if cl.connected else None


def probe(x, relay, timeout=15):
    """Opens short WebSockets (as the user "probe") until one lands on relay:
    a restarted relay must get new listeners again. (With nginx's default
    max_fails=1 it would get one per fail_timeout, counted only when that
    WebSocket ends; run.sh and the production site set max_fails=0.)
    Returns the seconds it took, or None."""
    if x.probe_token is None:
        x.probe_token, _ = join_room(x.c, x.code, "probe")
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            ws = websocket.create_connection(x.c.ws_url(x.code, x.probe_token), timeout=5)
            try:
                hello = json.loads(ws.recv())
            finally:
                ws.close()
            if hello.get("relay") == relay:
                return time.monotonic() - t0
        except (websocket.WebSocketException, OSError, ValueError):
            pass
        time.sleep(0.25)
    return None


def relay_counts(x):
    counts = {"r1": 0, "r2": 0}
    for cl in x.clients:
        if cl.connected and cl.relay in counts:
            counts[cl.relay] += 1
    return counts


def spread(x, per_relay=2, limit=12):
    """Connects new listeners until each relay carries per_relay of them
    (nginx's least_conn puts each on the relay with fewer connections).
    Returns {relay: count}."""
    counts = relay_counts(x)
    for relay, n in counts.items():
        if n == 0 and max(counts.values()) > 0:
            took = probe(x, relay)
            print("# nginx sent a new WebSocket to %s again after %s s" % (
                relay, "%.1f" % took if took is not None else "(never)"), flush=True)
    while min(counts.values()) < per_relay and limit > 0:
        add_client(x)
        limit -= 1
        counts = relay_counts(x)
    return counts


# --- setup ----------------------------------------------------------------------------
def t_setup(t, x):
    c = x.c
    x.code, x.token, _ = create_room(c, "host")
    st, body, _ = c.request("PATCH", "/api/rooms/" + x.code, {"repeat": "all"}, token=x.token)
    t.check(st == 200 and body.get("repeat") == "all", "a room with repeat all", (st, body))
    st, body, _ = c.request("POST", "/api/rooms/%s/control" % x.code, {"action": "play"},
                            token=x.token)
    t.check(st == 200 and body["playback"]["state"] == "playing", "the room plays", (st, body))
    counts = spread(x)
    t.check(min(counts.values()) >= 2, "listeners on both relays through nginx: %r" % counts,
            counts)
    x.song = mp3(x.tmp, "faults", 587, 8)
    x.half = len(x.song) // 2
    x.tus = Tus(c)
    st, x.upload, _, _ = x.tus.create(x.token, x.code, len(x.song), "faults.mp3")
    st2, h, _ = x.tus.patch(x.upload, x.token, 0, x.song[:x.half])
    t.check(st == 201 and st2 == 204 and h.get("upload-offset") == str(x.half),
            "an upload half done (POST, then a PATCH of %d of %d bytes)"
            % (x.half, len(x.song)), (st, st2, h))
    x.cmd = Commander(c, x.code, x.token)
    x.seq0 = sql_state(c, x.code)["seq"]
    commands_flow(t, x, "setup", 0, n=5)
    agree(t, x, "setup")


# --- 1. a relay dies -------------------------------------------------------------------
def t_relay(t, x):
    c, step = x.c, "kill -9 relay"
    x.cmd.step = "relay"
    victims = [cl for cl in x.clients if cl.relay == "r1"]
    others = [cl for cl in x.clients if cl.relay == "r2"]
    marks = {cl.name: cl.mark() for cl in x.clients}
    killed = c.kill("relay-1")
    wait_for(lambda: all(len(cl.hellos) > marks[cl.name]["hellos"] for cl in victims), 10)
    times = {}
    for cl in victims:
        new = cl.hellos[marks[cl.name]["hellos"]:]
        if new:
            times[cl.name] = (new[0][0] - killed, new[0][1])
    worst = max((v[0] for v in times.values()), default=None)
    x.times["relay reconnect"] = worst
    print("# relay-1 killed: %d listeners reconnected in %s" % (len(times), ", ".join(
        "%s %d ms to %s" % (n, v[0] * 1000, v[1]) for n, v in sorted(times.items()))),
        flush=True)
    t.check(len(victims) >= 2 and len(times) == len(victims)
            and all(v[1] == "r2" for v in times.values()),
            "%s: its %d listeners reconnect through nginx to r2" % (step, len(victims)), times)
    t.check(worst is not None and worst <= RECONNECT_BOUND,
            "%s: they reconnect within %.0f s of the kill (slowest: %s ms)"
            % (step, RECONNECT_BOUND, "%d" % (worst * 1000) if worst is not None else "never"),
            "the issue's bound is 5 s from kill -9 to the hello on the other relay: %r" % times)
    # Resynced: a snapshot after the new hello, then a REST fetch.
    resynced = [cl.name for cl in victims
                if any(snap and conn > marks[cl.name]["hellos"] for _, conn, _, snap in cl.events)
                and any(tm > killed and why == "hello" for tm, why in cl.refetches)]
    t.check(len(resynced) == len(victims), "%s: each got the snapshot and fetched the room over "
            "REST after its new hello" % step, resynced)
    time.sleep(1.0)     # commands go on meanwhile; the others must notice nothing
    quiet = []
    for cl in others:
        m, now = marks[cl.name], cl.mark()
        seqs = [e["seq"] for _, _, e, _ in cl.events[m["events"]:]]
        if (now["hellos"], now["drops"], now["resyncs"], now["gaps"]) != \
                (m["hellos"], m["drops"], m["resyncs"], m["gaps"]) or not seqs or \
                seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            quiet.append((cl.name, m, now, seqs))
    t.check(len(others) >= 2 and not quiet, "%s: the %d listeners on r2 notice nothing (no "
            "disconnect, no resync, every seq in turn)" % (step, len(others)), quiet)
    # The worker takes back a dead relay's listeners once its liveness key
    # expires; the users who moved to r2 stay online (checked in agree).
    gone = wait_for(lambda: redis_cli(c.redis_sock, "EXISTS", "tutti:relay:alive:r1") == "0"
                    and redis_cli(c.redis_sock, "SISMEMBER", "tutti:relays", "r1") == "0", 15)
    t.check(gone, "%s: r1's liveness key expires and the worker forgets it" % step,
            (redis_cli(c.redis_sock, "EXISTS", "tutti:relay:alive:r1"),
             redis_cli(c.redis_sock, "SMEMBERS", "tutti:relays")))
    c.start("relay-1")
    t.check(c.alive("relay-1"), "relay-1 starts again on its socket")
    agree(t, x, "after " + step)


# --- 2. the active worker dies ---------------------------------------------------------
def t_worker(t, x):
    c, step = x.c, "kill -9 active worker"
    x.cmd.step = "worker"
    active = redis_cli(c.redis_sock, "GET", "tutti:worker:lease")
    st, health, _ = c.request("GET", "/api/healthz")
    t.check(active in ("worker-1", "worker-2") and health.get("worker"),
            "the active worker (lease holder) is %s; /api/healthz reports it" % active,
            (active, health))
    if active not in ("worker-1", "worker-2"):
        return
    standby = "worker-2" if active == "worker-1" else "worker-1"
    t0 = time.monotonic()
    wait_for(lambda: len(x.cmd.accepted_after(t0)) >= 3, 10)
    killed = c.kill(active)
    new = wait_for(lambda: (lambda v: v if v == standby else None)(
        redis_cli(c.redis_sock, "GET", "tutti:worker:lease")), 10)
    takeover = time.monotonic() - killed
    x.times["worker takeover"] = takeover
    t.check(new == standby, "%s: the standby %s takes the lease" % (step, standby), new)
    wait_for(lambda: x.cmd.accepted_after(killed), 10)
    after = x.cmd.accepted_after(killed)
    first = (after[0]["answered"] - killed) if after else None
    print("# %s killed: %s held the lease %d ms later; first command sent after the kill "
          "answered 200 after %s ms" % (active, standby, takeover * 1000,
                                       "%d" % (first * 1000) if first else "-"), flush=True)
    commands_flow(t, x, step, killed)
    c.start(active)
    time.sleep(0.5)
    t.check(redis_cli(c.redis_sock, "GET", "tutti:worker:lease") == standby,
            "%s restarted stands by" % active)
    agree(t, x, "after " + step)
    check_commands(t, x, step)


# --- 3. tutti-api dies -----------------------------------------------------------------
def t_api(t, x):
    c, step = x.c, "kill -9 tutti-api"
    x.cmd.step = "api"
    song = mp3(x.tmp, "inflight", 523, 8)
    st, loc, _, _ = x.tus.create(x.token, x.code, len(song), "inflight.mp3")
    sent = len(song) * 2 // 3
    raw = RawPatch(x.tus, loc, x.token, 0, len(song))
    raw.send(song[:sent])
    wait_for(lambda: (x.tus.offset(loc, x.token) or 0) > 0, 10)
    before = table_counts(c)
    killed = c.kill("api")
    raw.close()
    st, body, h = c.request("GET", "/api/healthz")
    t.check(is_problem(st, body, h, 502), "%s: nginx answers 502 as problem+json" % step,
            (st, body, h.get("content-type")))
    st, h, d = x.tus.head(x.upload, x.token)
    t.check(st == 502, "%s: a tus HEAD gets 502 too" % step, st)
    wait_for(lambda: [r for r in x.cmd.records("api") if r["sent"] > killed], 5)
    down = [r for r in x.cmd.records("api") if r["sent"] > killed]
    t.check(down and all(r["status"] == 502 and r["problem"] for r in down),
            "%s: commands sent meanwhile get 502 problem+json" % step,
            [(r["status"], r["problem"]) for r in down])
    c.start("api")
    t.check(wait_for(lambda: c.request("GET", "/api/healthz")[0] == 200, 10),
            "tutti-api starts again; /api/healthz answers 200")
    after = table_counts(c)
    t.check(after == before, "%s: no row lost or added (rows per table)" % step,
            (before, after))
    t.check(x.tus.offset(x.upload, x.token) == x.half,
            "%s: HEAD gives the upload's offset (%d)" % (step, x.half))
    st, h, d = x.tus.patch(x.upload, x.token, x.half, x.song[x.half:])
    t.check(st == 204 and h.get("tutti-track") and h.get("tutti-item"),
            "%s: the rest of the upload completes it" % step, (st, h, d))
    check_media(t, x, x.song, h.get("tutti-track"), step)
    off = x.tus.offset(loc, x.token)
    t.check(off is not None and 0 < off <= sent, "%s: the PATCH cut by the kill left a prefix "
            "(%s of the %d bytes sent)" % (step, off, sent))
    st, h, d = x.tus.patch(loc, x.token, off or 0, song[off or 0:])
    t.check(st == 204 and h.get("tutti-track"),
            "%s: the cut upload resumes from that offset and completes" % step, (st, h, d))
    check_media(t, x, song, h.get("tutti-track"), step)
    commands_flow(t, x, step, time.monotonic())
    agree(t, x, "after " + step)


def check_media(t, x, data, track, step):
    digest = hashlib.sha256(data).hexdigest()
    with db(x.c) as d:
        row = d.execute("SELECT sha256, size FROM tracks WHERE id = ?",
                        (int(track or 0),)).fetchone()
    path = os.path.join(x.c.data, "media", digest[:2], digest + ".mp3")
    try:
        with open(path, "rb") as f:
            stored = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        stored = None
    t.check(row == (digest, len(data)) and stored == digest,
            "%s: the stored file's sha256 is the upload's" % step, (row, digest, stored))


# --- 4. Redis restarts ------------------------------------------------------------------
def t_redis(t, x):
    c, step = x.c, "Redis restart"
    x.cmd.step = "redis"
    counts = spread(x)
    t.check(min(counts.values()) >= 2, "%s: listeners on both relays again: %r" % (step, counts),
            counts)
    before = {n: relay_metrics(c, n).get("tutti_relay_redis_reconnects_total")
              for n in ("relay-1", "relay-2")}
    marks = {cl.name: cl.mark() for cl in x.clients}
    seen_before = max(union_events(x)[0], default=x.seq0)
    killed = c.kill("redis")
    time.sleep(1.0)     # down long enough for every process to notice
    down = [r for r in x.cmd.records("redis") if r["sent"] > killed + 0.1]
    c.start("redis")
    up = time.monotonic()
    t.check(down and all(r["status"] == 503 and r["problem"] for r in down),
            "%s: commands sent while Redis is down get 503 problem+json" % step,
            [(r["status"], r["problem"]) for r in down])
    print("# Redis down for %d ms" % ((up - killed) * 1000), flush=True)
    resub = wait_for(lambda: all((relay_metrics(c, n).get("tutti_relay_redis_reconnects_total")
                                  or 0) > (before[n] or 0) for n in before), 15)
    t.check(resub, "%s: both relays reconnect (tutti_relay_redis_reconnects_total)" % step,
            (before, {n: relay_metrics(c, n).get("tutti_relay_redis_reconnects_total")
                      for n in before}))
    lease = wait_for(lambda: redis_cli(c.redis_sock, "GET", "tutti:worker:lease"), 15)
    x.times["redis lease"] = time.monotonic() - up
    t.check(lease in ("worker-1", "worker-2"), "%s: a worker holds the lease again" % step, lease)
    snap = wait_for(lambda: redis_cli(c.redis_sock, "GET", "tutti:snap:" + x.code), 15)
    t.check(snap, "%s: the room's snapshot is rebuilt" % step, snap)
    told = wait_for(lambda: all(len(cl.resyncs) > marks[cl.name]["resyncs"]
                                or len(cl.hellos) > marks[cl.name]["hellos"]
                                for cl in x.clients), 15)
    t.check(told, "%s: every listener is told to resync (or reconnected)" % step,
            [(cl.name, cl.relay, marks[cl.name], cl.mark()) for cl in x.clients])
    commands_flow(t, x, step, up)
    got = wait_for(lambda: all(any(tm > up and not snap_ for tm, _, e, snap_ in cl.events
                                   if e["type"] == "playback") for cl in x.clients), 15)
    t.check(got, "%s: every listener gets playback events again" % step,
            [(cl.name, cl.relay, cl.mark()) for cl in x.clients])
    print("# after the Redis restart a worker held the lease %d ms after Redis was up"
          % (x.times["redis lease"] * 1000), flush=True)
    # Events published while Redis went down may reach no relay (the
    # relays tell their listeners to resync): those seqs may be missing.
    events, times, _ = union_events(x)
    first_after = min((s for s, tm in times.items() if tm > up), default=seen_before + 1)
    x.lost_ok = set(range(seen_before + 1, first_after)) - set(events)
    print("# events no listener received around the Redis restart: %r" % sorted(x.lost_ok),
          flush=True)

    def snapshot_is_sql(room, sql):
        raw = redis_cli(c.redis_sock, "GET", "tutti:snap:" + x.code)
        ev = json.loads(raw) if raw else {}
        t.check(ev.get("type") == "playback" and anchor_of(ev) == sql["playback"]
                and ev.get("seq", 1 << 62) <= sql["seq"],
                "%s: the snapshot in Redis is SQLite's anchor" % step, (ev, sql["playback"]))
    agree(t, x, "after " + step, snapshot_is_sql)


# --- 5. nginx reloads --------------------------------------------------------------------
def t_reload(t, x):
    c, step = x.c, "nginx reload"
    x.cmd.step = "reload"
    song = mp3(x.tmp, "reload", 659, 6)
    half = len(song) // 2
    st, loc, _, _ = x.tus.create(x.token, x.code, len(song), "reload.mp3")
    raw = RawPatch(x.tus, loc, x.token, 0, len(song))
    raw.send(song[:half])
    marks = {cl.name: cl.mark() for cl in x.clients}
    t0 = time.monotonic()
    old, new = c.reload_nginx()
    print("# nginx reloaded: workers %s -> %s" % (sorted(old), sorted(new)), flush=True)
    cl = add_client(x)
    t.check(cl is not None, "%s: a new listener connects through the new workers" % step)
    raw.send(song[half:])
    head = raw.response().decode(errors="replace")
    raw.close()
    t.check(head.startswith("HTTP/1.1 204") and "Tutti-Track:" in head,
            "%s: an upload PATCH in flight across the reload completes" % step, head[:400])
    track = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
             if ln.lower().startswith("tutti-track:")]
    check_media(t, x, song, track[0] if track else 0, step)
    time.sleep(1.0)     # commands go on across the reload
    recs = [r for r in x.cmd.records("reload") if r["sent"] >= t0]
    t.check(len(recs) >= 5 and all(r["status"] == 200 for r in recs),
            "%s: every command across it is answered 200 (%d)" % (step, len(recs)),
            [(r["action"], r["status"]) for r in recs if r["status"] != 200])
    unclean = []
    for cl in x.clients:
        m = marks.get(cl.name)
        if m is None:
            continue
        now = cl.mark()
        if now["drops"] > m["drops"] and not (now["hellos"] > m["hellos"] and cl.connected):
            unclean.append((cl.name, m, now))
    stayed = sum(1 for cl in x.clients if cl.name in marks
                 and cl.mark()["drops"] == marks[cl.name]["drops"])
    print("# nginx reload: %d of %d WebSockets stayed open" % (stayed, len(marks)), flush=True)
    t.check(not unclean, "%s: every WebSocket stays open or reconnects cleanly" % step, unclean)
    agree(t, x, "after " + step)


# --- 6. the disk for uploads is full --------------------------------------------------------
def t_disk(t, x):
    c, step = x.c, "full disk for uploads"
    if os.getuid() != 0:
        t.check(True, "%s # SKIP not root: cannot mount a tmpfs over DATA/uploads" % step)
        return
    x.cmd.step = "disk"
    updir = os.path.join(c.data, "uploads")
    os.makedirs(updir, exist_ok=True)
    t.check(os.listdir(updir) == [], "%s: no part file is left before the mount" % step,
            os.listdir(updir))
    song = mp3(x.tmp, "big", 698, 90)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", updir],
                       capture_output=True, text=True)
    if p.returncode != 0:
        t.check(True, "%s # SKIP cannot mount a tmpfs over DATA/uploads: %s"
                % (step, (p.stderr.strip() or "exit %d" % p.returncode).replace("\n", " ")))
        return
    try:
        disk_full(t, x, step, updir, song)
    finally:
        if subprocess.call(["umount", updir]) != 0:
            subprocess.call(["umount", "-l", updir])
    agree(t, x, "after " + step)


def t_disk_media(t, x):
    """The media's file system full while the upload's is not (a tiny
    tmpfs over the one media/<h[0:2]> directory the file goes to): the last
    PATCH has every byte, but storing it fails with 507 and loses nothing;
    once there is room an empty PATCH at the end completes it."""
    c, step = x.c, "full disk for media"
    if os.getuid() != 0:
        t.check(True, "%s # SKIP not root: cannot mount a tmpfs over DATA/media/.." % step)
        return
    x.cmd.step = "disk-media"
    song = mp3(x.tmp, "media", 523, 40)
    sub = os.path.join(c.data, "media", hashlib.sha256(song).hexdigest()[:2])
    os.makedirs(sub, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", sub],
                       capture_output=True, text=True)
    if p.returncode != 0:
        t.check(True, "%s # SKIP cannot mount a tmpfs over %s: %s"
                % (step, sub, (p.stderr.strip() or "exit %d" % p.returncode).replace("\n", " ")))
        return
    try:
        counts = table_counts(c)
        st, loc, _, _ = x.tus.create(x.token, x.code, len(song), "media.mp3")
        created = table_counts(c)
        st2, h, d = x.tus.patch(loc, x.token, 0, song)
        t.check(st == 201 and tus_problem(st2, h, d, 507) and b"full" in d,
                "%s: the PATCH that completes the file is answered 507 problem+json" % step,
                (st, st2, h, d))
        t.check(x.tus.offset(loc, x.token) == len(song) and os.listdir(sub) == [] and
                table_counts(c) == created,
                "%s: the bytes are kept (HEAD offset at the end), no partial copy is left, "
                "no track row" % step, (x.tus.offset(loc, x.token), os.listdir(sub), counts,
                                        table_counts(c)))
    finally:
        if subprocess.call(["umount", sub]) != 0:
            subprocess.call(["umount", "-l", sub])
    st, h, d = x.tus.patch(loc, x.token, len(song), b"")
    t.check(st == 204 and h.get("tutti-track"),
            "%s: once there is room an empty PATCH at the end completes it" % step, (st, h, d))
    check_media(t, x, song, h.get("tutti-track"), step)
    agree(t, x, "after " + step)


def free_bytes(path):
    v = os.statvfs(path)
    return v.f_bavail * v.f_frsize


def disk_full(t, x, step, updir, song):
    c = x.c
    filler = os.path.join(updir, "filler")
    with open(filler, "wb") as f:
        f.write(b"\xa5" * (3 << 20))
    free = free_bytes(updir)
    t.check(len(song) > free, "%s: the file (%d bytes) is bigger than the free space (%d)"
            % (step, len(song), free))
    counts = table_counts(c)
    st, loc, _, _ = x.tus.create(x.token, x.code, len(song), "big.mp3")
    counts_created = table_counts(c)
    st2, h, d = x.tus.patch(loc, x.token, 0, song)
    t.check(tus_problem(st2, h, d, 507) and b"full" in d,
            "%s: the PATCH is refused with 507 problem+json" % step, (st, st2, h, d))
    t.check(x.tus.offset(loc, x.token) == 0 and free_bytes(updir) >= free,
            "%s: its partial bytes are removed (HEAD offset 0, the space is free again)" % step,
            (x.tus.offset(loc, x.token), free, free_bytes(updir)))
    ok = integrity(c)
    after = table_counts(c)
    t.check(ok == "ok" and after == counts_created,
            "%s: the database is intact (integrity_check ok, rows unchanged)" % step,
            (ok, counts, counts_created, after))
    os.unlink(filler)
    st, h, d = x.tus.patch(loc, x.token, 0, song)
    t.check(st == 204 and h.get("tutti-track"),
            "%s: with space freed the same upload completes" % step, (st, h, d))
    check_media(t, x, song, h.get("tutti-track"), step)


# --- every command, over the whole run ----------------------------------------------------
def union_events(x):
    """{seq: event} of the room events any listener received (snapshots
    left out), and the seqs two listeners saw differently."""
    by_seq, differ = {}, []
    for cl in x.clients:
        with cl.lock:
            evs = list(cl.events)
        for tm, _, e, snap in evs:
            key = (e["type"], anchor_of(e) if e["type"] == "playback" else
                   json.dumps({k: v for k, v in e.items() if k != "cause"}, sort_keys=True))
            prev = by_seq.get(e["seq"])
            if prev is not None and prev[1] != key:
                differ.append((e["seq"], prev[2], e))
            if not snap and (prev is None or tm < prev[0]):
                by_seq[e["seq"]] = (tm, key, e)
    return {s: v[2] for s, v in by_seq.items()}, {s: v[0] for s, v in by_seq.items()}, differ


def noop_ok(r):
    """Whether a command answered 200 may have changed nothing."""
    state, _, _, pos, _ = r["anchor"]
    return ((r["action"] == "pause" and state in ("paused", "stopped"))
            or (r["action"] == "play" and state == "playing")
            or (r["action"] == "seek" and state == "paused" and pos == r["pos"]))


def command_problems(x, recs, events, times):
    """Each command answered 200 has its own event (or changed nothing);
    each command event belongs to one command sent. Returns problems."""
    bad = []
    for r in recs:
        if r["status"] != 200 or r["seq"] in x.lost_ok:
            continue
        e = events.get(r["seq"])
        own = e is not None and e["type"] == "playback" and e.get("cause") == r["action"] \
            and (r["action"] != "seek" or e["position_us"] == r["pos"])
        if own and anchor_of(e) != r["anchor"]:
            bad.append("command %d %s: answer %r, event %r" % (r["k"], r["action"], r["anchor"], e))
        elif not own and not noop_ok(r):
            bad.append("command %d %s answered 200 (seq %d) has no event of its own: %r"
                       % (r["k"], r["action"], r["seq"], e))
    seeks = {r["pos"]: r for r in recs if r["action"] == "seek"}
    unsure = [r for r in recs if r["status"] != 200]
    by_seq = {}
    for r in recs:
        if r["status"] == 200:
            by_seq.setdefault(r["seq"], []).append(r)
    first = min((r["sent"] for r in recs), default=0)
    for s, e in sorted(events.items()):
        if e["type"] != "playback" or e.get("cause") not in COMMAND_CAUSES or \
                times[s] < first or s <= x.seq0:
            continue
        cause = e["cause"]
        if cause == "seek":
            r = seeks.get(e["position_us"])
            if r is None:
                bad.append("seek event of no command: %r" % e)
            elif r["status"] == 200 and r["seq"] != s:
                bad.append("seek %d answered with seq %d has another event at %d"
                           % (r["k"], r["seq"], s))
            elif r.get("matched"):
                bad.append("seek %d applied twice (seq %d)" % (r["k"], s))
            r and r.__setitem__("matched", True)
            continue
        if any(r["action"] == cause for r in by_seq.get(s, [])):
            continue
        cand = [r for r in unsure if r["action"] == cause and not r.get("matched")
                and r["sent"] < times[s]]
        if cand:
            cand[0]["matched"] = True
        else:
            bad.append("event %d (%s) of no command sent: applied twice?" % (s, cause))
    for r in recs:
        r.pop("matched", None)
    return bad


def check_commands(t, x, step):
    recs = x.cmd.records()
    events, times, differ = union_events(x)
    t.check(not differ, "%s: no two listeners saw a seq differently" % step, differ[:5])
    last = max(events) if events else 0
    missing = [s for s in range(x.seq0 + 1, last + 1) if s not in events and s not in x.lost_ok]
    t.check(not missing, "%s: every event from the first command on reached some listener%s"
            % (step, " (but %d lost with Redis)" % len(x.lost_ok) if x.lost_ok else ""),
            missing)
    bad = command_problems(x, recs, events, times)
    n200 = sum(1 for r in recs if r["status"] == 200)
    t.check(not bad, "%s: every command answered 200 (%d of %d) was applied exactly once "
            "(answers, events and their seqs agree)" % (step, n200, len(recs)), "\n".join(bad[:20]))


# --- main ------------------------------------------------------------------------------------
def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="tutti-faults-")
    c = Cluster()
    x = Ctx(c, tmp)
    c.start_or_end(t)
    started = time.monotonic()
    try:
        t.run(t_setup, x)
        if x.cmd is not None:
            for fn in (t_relay, t_worker, t_api, t_redis, t_reload, t_disk, t_disk_media):
                t.run(fn, x)
            x.cmd.stop()
            check_commands(t, x, "whole run")
            statuses = {}
            for r in x.cmd.records():
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            print("# %d commands: %r" % (len(x.cmd.records()), statuses), flush=True)
    except Exception as e:  # noqa: BLE001 - report, never crash the runner
        t.check(False, "no unexpected error", repr(e) + "\n" + c.logtext())
    finally:
        if x.cmd is not None:
            x.cmd.stop()
        for cl in x.clients:
            cl.close()
        c.stop()
        subprocess.call(["rm", "-rf", tmp])
    print("# the suite ran %.1f s" % (time.monotonic() - started), flush=True)
    t.check(not c.leftover, "every process of the cluster is stopped at the end")
    c.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
