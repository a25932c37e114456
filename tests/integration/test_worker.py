"""test_worker.py - standby workers against the real stack (run.sh starts
worker-1 and worker-2): one holds tutti:worker:lease; FLUSHALL while rooms
play brings the snapshots and the beacons back; an active worker frozen
past its lease stands by once it thaws; kill -9 of the active worker
during a burst of seeks to 20 rooms from several threads loses no command
and applies none twice, in order per room (checked against the WebSocket
events and SQLite), and prints the takeover time; a worker started after
every worker died publishes the gapless advance of an item that ended
meanwhile, and gives the lease back on SIGTERM.
Run: /usr/bin/python3 tests/integration/test_worker.py   (TAP output)
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import (ROOT, Redis, Stack, Tap, create_room, now_us, recv_until,  # noqa: E402
                   wait_for, worker_pids)

import websocket  # Debian's python3-websocket

ROOMS = 20          # rooms of the burst
PER_ROOM = 30       # commands answered 200 per room
THREADS = 5         # each sends to ROOMS / THREADS rooms, one command at a time


def db(s):
    return sqlite3.connect("file:%s?mode=ro" % os.path.join(s.data, "tutti.db"), uri=True,
                           timeout=5)


def fence(s):
    """(epoch, holder) of the active worker's fencing token."""
    with db(s) as c:
        return c.execute("SELECT epoch, holder FROM worker_fence").fetchone()


def room_row(s, code):
    """(seq, state, item_id, position_us, at_us) of a room, read-only from SQLite."""
    with db(s) as c:
        return c.execute("SELECT r.seq, p.state, p.item_id, p.position_us, p.at_us "
                         "FROM rooms r JOIN playback p ON p.room_id = r.id "
                         "WHERE r.code = ?", (code,)).fetchone()


class Listener:
    """A WebSocket on one room whose messages a thread keeps, in order."""

    def __init__(self, s, code, token):
        self.ws = websocket.create_connection(s.ws_url(code, token), timeout=5)
        self.msgs = []
        self.lock = threading.Lock()
        self.stop = False
        self.hello = recv_until(self.ws, lambda m: m.get("type") == "hello")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.ws.settimeout(0.2)
        while not self.stop:
            try:
                m = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError, ValueError):
                return
            with self.lock:
                self.msgs.append(m)

    def of(self, pred):
        with self.lock:
            return [m for m in self.msgs if pred(m)]

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.ws.close()


def seek(s, code, token, pos):
    return s.request("POST", "/api/rooms/%s/control" % code,
                     {"action": "seek", "position_us": pos}, token=token)


def t_standby(t, s, r):
    pids = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(worker_pids(s)), 5)
    t.check(pids and set(pids) == {"worker-1", "worker-2"}, "run.sh starts worker-1 and worker-2",
            pids)
    lease = r.cmd("GET", "tutti:worker:lease")
    ttl = r.cmd("PTTL", "tutti:worker:lease")
    t.check(lease in ("worker-1", "worker-2") and 0 < ttl <= 2000,
            "one of them holds tutti:worker:lease with an expiry of at most 2 s", (lease, ttl))
    alive = wait_for(lambda: r.cmd("GET", "tutti:worker:alive"), 3)
    t.check(alive == lease, "tutti:worker:alive names the lease holder", (alive, lease))


def t_flush(t, s, r, ctx):
    """FLUSHALL while three rooms play: the worker rebuilds their keys from
    SQLite and their beacons go on for a listener that connects after."""
    rooms = []
    for i in range(3):
        code, token, _ = create_room(s, name="flush%d" % i)
        st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                                token=token)
        t.check(st == 200 and body["playback"]["state"] == "playing", "room %d plays" % i, body)
        rooms.append((code, token))
    ctx["playing"] = rooms
    t.check(r.cmd("FLUSHALL") == "OK" and r.cmd("GET", "tutti:snap:" + rooms[0][0]) is None,
            "FLUSHALL empties Redis")
    # No API call touches these rooms until their snapshots are back: the
    # worker alone rebuilds them.
    snaps = wait_for(lambda: (lambda v: v if all(v) else None)(
        [r.cmd("GET", "tutti:snap:" + code) for code, _ in rooms]), 10)
    t.check(snaps is not None, "every playing room's snapshot is back after the flush", snaps)
    for (code, token), snap in zip(rooms, snaps or [None] * len(rooms)):
        row = room_row(s, code)
        ev = json.loads(snap) if snap else {}
        t.check(ev.get("type") == "playback" and ev.get("state") == "playing"
                and (ev.get("seq"), ev.get("state"), ev.get("item_id"), ev.get("position_us"),
                     ev.get("at_us")) == tuple(row),
                "room %s: the rebuilt snapshot is its SQLite anchor and seq" % code, (ev, row))
        rid = r.cmd("GET", "tutti:room:" + code)
        t.check(rid is not None and rid.isdigit(), "room %s: tutti:room: is back" % code, rid)
    # Sessions are the API's: a GET of the room writes the listener's again.
    code, token = rooms[0]
    st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
    t.check(st == 200, "GET the room after the flush", (st, room))
    ls = Listener(s, code, token)
    ctx["listener"] = ls
    t.check(ls.hello is not None, "a listener connects after the flush", ls.hello)
    b = wait_for(lambda: ls.of(lambda m: m.get("type") == "beacon"), 4)
    row = room_row(s, code)
    t.check(b and b[0]["state"] == "playing" and (b[0]["item_id"], b[0]["at_us"]) ==
            (row[2], row[4]), "beacons of the same anchor keep coming after the flush",
            (b, row))


def t_pause(t, s, r, ctx):
    """The active worker frozen (SIGSTOP) past its lease: the standby takes
    over, and the frozen one, once it runs again, stands by at once (it
    never writes the liveness key or applies a command)."""
    old = r.cmd("GET", "tutti:worker:lease")
    pid = worker_pids(s).get(old)
    fence0 = fence(s)
    t.check(fence0[1] == old, "the fencing token in SQLite names the active worker", fence0)
    os.kill(pid, signal.SIGSTOP)
    try:
        new = wait_for(lambda: (lambda v: v if v and v != old else None)(
            r.cmd("GET", "tutti:worker:lease")), 6)
        t.check(new is not None, "with %s frozen the standby %s takes the lease" % (old, new))
        fence1 = wait_for(lambda: (lambda f: f if f[1] == new else None)(fence(s)), 5)
        t.check(fence1 and fence1[0] == fence0[0] + 1,
                "and the fencing token: the next epoch, in its name", (fence0, fence1))
        code, token = ctx["playing"][0]
        wait_for(lambda: s.request("POST", "/api/rooms/%s/control" % code,
                                   {"action": "play"}, token=token)[0] == 200, 5)
    finally:
        os.kill(pid, signal.SIGCONT)
    names = set()
    deadline = time.time() + 1.5     # two renewal periods of the thawed worker
    while time.time() < deadline:
        names.add(r.cmd("GET", "tutti:worker:lease"))
        names.add(r.cmd("GET", "tutti:worker:alive"))
        time.sleep(0.01)
    t.check(names == {new}, "the thawed worker takes neither the lease nor the liveness key",
            names)
    ls = ctx["listener"]
    poss = [1_000_000 + 1000 * i for i in range(5)]
    answers = [seek(s, code, token, p)[0] for p in poss]
    wait_for(lambda: (lambda v: v if len(v) >= len(poss) else None)(
        [m["position_us"] for m in ls.of(lambda m: m.get("type") == "playback"
                                         and m.get("cause") == "seek")]), 5)
    time.sleep(0.3)     # room for a second copy of any event
    got = [m["position_us"] for m in ls.of(lambda m: m.get("type") == "playback"
                                           and m.get("cause") == "seek")]
    t.check(answers == [200] * 5 and got == poss,
            "then every command is applied once, in order", (answers, got))
    t.check("tutti-worker[%d] warn lease_stand_by" % pid in s.logtext(limit=None)
            and os.path.exists("/proc/%d" % pid), "the thawed worker logs that it stands by")


def burst_sender(s, rooms, ok_target, log, kill_info):
    """Sends seeks with distinct positions to its rooms, one command per room
    at a time, until each has ok_target answers 200. log[code] gets (pos,
    status, seq, sent, answered) per command, in send order."""
    count = {code: 0 for code, _ in rooms}
    for _ in range(ok_target * 4):
        waiting = [(c, tk) for c, tk in rooms
                if sum(1 for e in log[c] if e[1] == 200) < ok_target]
        if not waiting:
            return
        for code, token in waiting:
            count[code] += 1
            pos = 1000 * count[code]
            sent = time.monotonic()
            try:
                st, body, _ = seek(s, code, token, pos)
            except OSError:
                st, body = 0, None
            seq = body.get("seq") if st == 200 and body else None
            log[code].append((pos, st, seq, sent, time.monotonic()))
            if st == 503 and kill_info.get("t") is None:
                time.sleep(0.05)


def check_room(s, code, seq0, cmds, events):
    """The exactly-once check of one room. cmds: (pos, status, seq, ...) in
    send order; events: its seek playback events as received. Returns a list
    of problems (empty when all is well)."""
    bad = []
    index = {c[0]: i for i, c in enumerate(cmds)}
    seen = [(e["position_us"], e["seq"]) for e in events]
    poss = [p for p, _ in seen]
    if len(set(poss)) != len(poss):
        bad.append("a command's event came twice: %r" % poss)
    if any(p not in index for p in poss):
        bad.append("an event of no command: %r" % poss)
        return bad
    order = [index[p] for p in poss]
    if order != sorted(order):
        bad.append("events out of send order: %r" % order)
    seqs = [q for _, q in seen]
    if seqs != sorted(set(seqs)):
        bad.append("event seqs do not grow: %r" % seqs)
    by_pos = dict(seen)
    for pos, st, seq, *_ in cmds:
        if st == 200 and by_pos.get(pos) != seq:
            bad.append("command %d (200, seq %r) has event seq %r" % (pos, seq, by_pos.get(pos)))
        elif st not in (200, 503):
            bad.append("command %d answered %r" % (pos, st))
    # Every applied seek takes exactly one seq: between two events the seq
    # may only skip the commands not answered 200 (applied, event lost with
    # the killed worker); a command applied twice would skip one more.
    prev_i, prev_q = -1, seq0
    for i, q in zip(order, seqs):
        unknown = sum(1 for c in cmds[prev_i + 1:i] if c[1] != 200)
        if not 1 <= q - prev_q <= 1 + unknown:
            bad.append("seq %d -> %d across %d unanswered command(s)" % (prev_q, q, unknown))
        prev_i, prev_q = i, q
    row = room_row(s, code)
    if not seen or (row[0], row[3]) != (seqs[-1], poss[-1]) or row[1] != "paused":
        bad.append("SQLite %r is not the last event %r" % (row, seen[-1:]))
    return bad


def t_kill_burst(t, s, r, ctx):
    rooms = [create_room(s, name="burst%d" % i)[:2] for i in range(ROOMS)]
    listeners = {code: Listener(s, code, token) for code, token in rooms}
    t.check(all(ls.hello for ls in listeners.values()), "a listener on each of %d rooms" % ROOMS)
    # The listener's own presence event is applied by the worker: wait for
    # it, so that seq0 is the seq before the first seek.
    seq0 = {}
    for code, _ in rooms:
        wait_for(lambda c=code: listeners[c].of(lambda m: m.get("type") == "presence"), 5)
        seq0[code] = room_row(s, code)[0]
    log = {code: [] for code, _ in rooms}
    kill_info = {}
    per = ROOMS // THREADS
    threads = [threading.Thread(target=burst_sender, daemon=True,
                                args=(s, rooms[i * per:(i + 1) * per], PER_ROOM, log, kill_info))
               for i in range(THREADS)]
    for th in threads:
        th.start()
    ok = lambda: sum(1 for v in log.values() for e in list(v) if e[1] == 200)  # noqa: E731
    wait_for(lambda: ok() >= ROOMS * PER_ROOM // 3, 60)
    active = r.cmd("GET", "tutti:worker:lease")
    pids = worker_pids(s)
    victim = pids.get(active)
    killed_at = time.monotonic()
    if victim:
        os.kill(victim, signal.SIGKILL)
    kill_info["t"] = killed_at
    ok_before = ok()
    new = wait_for(lambda: (lambda v: v if v and v != active else None)(
        r.cmd("GET", "tutti:worker:lease")), 10)
    takeover_ms = (time.monotonic() - killed_at) * 1000
    t.check(victim and new in pids and new != active,
            "kill -9 of the active worker %s: %s takes the lease" % (active, new), (pids, new))
    print("# takeover %d ms (kill -9 of %s to %s holding the lease)" % (takeover_ms, active, new),
          flush=True)
    for th in threads:
        th.join(120)
    answers = [e for v in log.values() for e in v]
    after = [e[4] for e in answers if e[1] == 200 and e[3] > killed_at]
    if after:
        print("# first command sent after the kill answered %d ms after it"
              % ((min(after) - killed_at) * 1000), flush=True)
    n503 = sum(1 for e in answers if e[1] == 503)
    print("# %d commands, %d answered 503 around the takeover" % (len(answers), n503), flush=True)
    t.check(all(sum(1 for e in v if e[1] == 200) == PER_ROOM for v in log.values())
            and ok_before < ROOMS * PER_ROOM and after,
            "every room got %d commands answered 200, before and after the kill" % PER_ROOM,
            (ok_before, len(after)))
    # Wait until the last 200 command of every room has its event.
    last = {c: [e[0] for e in log[c] if e[1] == 200][-1] for c in log}
    seeks = lambda c: listeners[c].of(lambda m: m.get("type") == "playback"  # noqa: E731
                                      and m.get("cause") == "seek")
    wait_for(lambda: all(any(e["position_us"] == last[c] for e in seeks(c)) for c in log), 10)
    problems = {}
    for code in log:
        bad = check_room(s, code, seq0[code], log[code], seeks(code))
        if bad:
            problems[code] = bad
    t.check(not problems, "every command answered 200 was applied exactly once and in order "
            "per room (WebSocket events, their seqs and SQLite agree)", problems)
    ls = ctx.get("listener")
    if ls is not None:
        b = wait_for(lambda: ls.of(lambda m: m.get("type") == "beacon"
                                   and m.get("now_us", 0) > now_us() - 500_000), 5)
        t.check(b, "a room that played before the kill gets beacons from the new worker", b)
    st, body, _ = s.request("GET", "/api/healthz")
    t.check(st == 200 and body.get("worker") and s.proc.poll() is None,
            "the stack goes on after a worker died", (st, body))
    for ls in listeners.values():
        ls.close()


def t_catch_up(t, s, r, ctx):
    """Every worker dies while a room plays near the end of its item; a
    worker started after the end publishes the gapless advance."""
    code, token = ctx["playing"][0]
    ls = ctx["listener"]
    st, room, _ = s.request("GET", "/api/rooms/" + code, token=token)
    first, second = room["playlist"][0], room["playlist"][1]
    left = 1_500_000
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code,
                            {"action": "jump", "item_id": first["id"]}, token=token)
    st, body, _ = seek(s, code, token, first["track"]["duration_us"] - left)
    t.check(st == 200 and body["playback"]["item_id"] == first["id"],
            "seek to 1.5 s before the end of the first item", body)
    for pid in worker_pids(s).values():
        os.kill(pid, signal.SIGKILL)
    end_us = body["playback"]["at_us"] + left
    while now_us() < end_us + 300_000:
        time.sleep(0.05)
    t.check(room_row(s, code)[2] == first["id"], "no worker ran when the item ended",
            room_row(s, code))
    logf = open(os.path.join(s.tmp, "stack.log"), "ab")  # scanned for sanitizer reports
    p = subprocess.Popen([os.path.join(ROOT, "bin", "tutti-worker"), "-d", s.data, "-R",
                          os.path.join(s.run, "redis.sock"), "-i", "worker-3"],
                         stdout=logf, stderr=subprocess.STDOUT)
    try:
        adv = wait_for(lambda: ls.of(lambda m: m.get("type") == "playback"
                                     and m.get("cause") == "advance"
                                     and m.get("seq", 0) > body["seq"]), 10)
        row = room_row(s, code)
        t.check(adv and adv[0]["item_id"] == second["id"] and adv[0]["position_us"] == 0
                and adv[0]["at_us"] == end_us
                and adv[0]["seq"] == row[0] and row[2] == second["id"],
                "the new worker publishes the advance it caught up with, gaplessly",
                (adv, end_us, row))
        t.check(wait_for(lambda: r.cmd("GET", "tutti:worker:lease") == "worker-3", 5),
                "worker-3 holds the lease")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        logf.close()
    t.check(rc == 0 and r.cmd("GET", "tutti:worker:lease") is None,
            "on SIGTERM a worker exits 0 and gives the lease back", rc)


def main():
    t = Tap()
    s = Stack(name="worker")
    s.start_or_end(t)
    ctx = {}
    r = None
    try:
        r = Redis(os.path.join(s.run, "redis.sock"))
        t.run(t_standby, s, r)
        t.run(t_flush, s, r, ctx)
        if "listener" in ctx:
            t.run(t_pause, s, r, ctx)
        t.run(t_kill_burst, s, r, ctx)
        if "listener" in ctx:
            t.run(t_catch_up, s, r, ctx)
    except Exception as e:  # noqa: BLE001
        t.check(False, "no unexpected error", repr(e) + "\n" + s.logtext())
    finally:
        if "listener" in ctx:
            ctx["listener"].close()
        if r is not None:
            r.close()
        s.stop()
    t.check(not getattr(s, "leftover", True), "SIGTERM to run.sh leaves no process behind")
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
