"""test_presence.py - presence to roles, against the real stack: the presence
script of common/presence.c run in Redis (counts per relay, transitions on
tutti:cmd, clamping), the worker's presence entries (users.online, the
presence event, nothing for a repeat), no promotion after a page reload, the
promotion preferring online users, REST-only users leaving rooms alone, the
idle close after the last listener went offline, and the listeners of a dead
relay taken back.

Presence is driven for users that have no WebSocket open, by EVALing the
script as fake relays would, so the checks hold whether or not the real
relays report presence; WebSocket watchers join last and are never the
subject of a check. Observed through nginx (REST, WebSocket events) and
Redis (the count hashes). Run: /usr/bin/python3 tests/integration/test_presence.py
"""
import ast
import json
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Events, Redis, RedisError, Stack, Tap, create_room, join_room  # noqa: E402
from stack import wait_for as poll  # noqa: E402

import websocket  # noqa: E402

GRACE_MS = 800
IDLE_S = 1
SWEEP_MS = 100
WAIT_S = 15         # bound of every wait for something that must happen


def presence_script():
    """The script text, read from the C constant in common/presence.c."""
    with open(os.path.join(ROOT, "common", "presence.c")) as f:
        src = f.read()
    block = src.split("presence_script[] =", 1)[1].split(";\n", 1)[0]
    return "".join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', block))


class Ctx:
    """What every test needs: the stack, Redis and the script."""

    def __init__(self, s):
        self.s = s
        self.r = Redis(os.path.join(s.run, "redis.sock"))
        self.script = presence_script()

    def eval_args(self, relay, code, user, delta):
        return ("EVAL", self.script, 3, "tutti:presence:" + code,
                "tutti:relay:conns:" + relay, "tutti:cmd", code, user, delta)

    def count(self, relay, code, user, delta):
        """Runs the script as relay would; returns its reply."""
        return self.r.cmd(*self.eval_args(relay, code, user, delta))

    def xadd(self, *fields):
        return self.r.cmd("XADD", "tutti:cmd", "*", *fields)

    def last_entry(self):
        """The fields of the newest tutti:cmd entry, as a dict."""
        e = self.r.cmd("XREVRANGE", "tutti:cmd", "+", "-", "COUNT", 1)
        f = e[0][1]
        return e[0][0], dict(zip(f[0::2], f[1::2]))

    def room(self, code, token):
        st, body, _ = self.s.request("GET", "/api/rooms/" + code, token=token)
        return st, body

    def roles(self, code, token):
        """{user id: role} of the present users, or None."""
        st, body = self.room(code, token)
        return {u["id"]: u["role"] for u in body["users"]} if st == 200 else None

    def db(self, sql, *args):
        """Rows of a read-only query of the stack's SQLite database: for
        what REST does not show (users.online, a closed room's roles)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.s.data, "tutti.db"),
                             uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def online(self, uid):
        return self.db("SELECT online FROM users WHERE id = ?", uid)[0][0]

    def db_roles(self, code):
        """{user id: role} of every user of the room, open or closed."""
        return dict(self.db("SELECT u.id, u.role FROM users u JOIN rooms r ON "
                            "r.id = u.room_id WHERE r.code = ?", code))


def wait_for(fn, timeout=WAIT_S):
    """stack.wait_for with this file's bound."""
    return poll(fn, timeout)


def Watch(ws):
    """Every room event of one WebSocket, presence included (stack.Events
    looks past presence by default, which other tests ignore)."""
    return Events(ws, quiet=("hello", "beacon", "pong"))


def watch(c, code, token):
    """A WebSocket watcher of the room, once its subscription is confirmed."""
    ws = websocket.create_connection(c.s.ws_url(code, token), timeout=5)
    deadline = time.time() + 5
    while time.time() < deadline:
        if json.loads(ws.recv()).get("type") == "hello":
            return Watch(ws)
    raise RuntimeError("no hello")


def presence_of(ev, uid, watcher_id):
    """The next presence event of user uid, the other events skipped on the
    way, and the watcher's own presence events among those (when the relays
    report presence, the watcher's may come at any point early on: the
    checks allow for them, whether or not they come)."""
    skipped, mine = [], []
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        got = ev.take(1, timeout=max(0.1, deadline - time.time()))
        if not got:
            break
        e = got[0]
        if e.get("type") == "presence" and e["user"]["id"] == uid:
            return e, skipped, mine
        if e.get("type") == "presence" and e["user"]["id"] == watcher_id:
            mine.append(e)
        else:
            skipped.append(e)
    return None, skipped, mine


def follows(prev, e, watcher_events, change):
    """True when e is the event after prev but for the watcher's own ones,
    with listeners moved by change (and by the watcher's transitions)."""
    w = sum(1 if x["online"] else -1 for x in watcher_events)
    return (prev is not None and e is not None and e["seq"] == prev["seq"] + 1 +
            len(watcher_events) and e["listeners"] == prev["listeners"] + change + w)


def t_script(t, c):
    code, ta, alice = create_room(c.s, "alice")
    tb, bob = join_room(c.s, code, "bob")
    uid = str(bob["id"])
    field = "%s:%s" % (code, uid)
    n0 = c.r.cmd("XLEN", "tutti:cmd")
    t.check(c.count("t-s1", code, uid, 1) == 1, "script +1 on relay 1: the count is 1")
    t.check(c.r.cmd("HGET", "tutti:presence:" + code, uid) == "1" and
            c.r.cmd("HGET", "tutti:relay:conns:t-s1", field) == "1",
            "both hashes hold 1")
    _, f = c.last_entry()
    t.check(c.r.cmd("XLEN", "tutti:cmd") == n0 + 1 and f == {
        "room": code, "user": uid, "action": "presence", "online": "1"},
        "0 -> 1 adds one presence entry online 1 (no req)", f)
    t.check(c.count("t-s2", code, uid, 1) == 2 and c.r.cmd("XLEN", "tutti:cmd") == n0 + 1,
            "+1 on relay 2: count 2, no entry")
    t.check(c.count("t-s1", code, uid, -1) == 1 and
            c.r.cmd("HEXISTS", "tutti:relay:conns:t-s1", field) == 0 and
            c.r.cmd("XLEN", "tutti:cmd") == n0 + 1,
            "-1 on relay 1: count 1, its field is deleted at 0, no entry")
    t.check(c.count("t-s1", code, uid, -5) == 1 and
            c.r.cmd("HGET", "tutti:presence:" + code, uid) == "1",
            "a decrement beyond the relay's share is clamped to it (taken back once)")
    t.check(c.count("t-s2", code, uid, -1) == 0 and
            c.r.cmd("HEXISTS", "tutti:presence:" + code, uid) == 0, "-1 on relay 2: count 0, "
            "the user's field is deleted")
    _, f = c.last_entry()
    t.check(c.r.cmd("XLEN", "tutti:cmd") == n0 + 2 and f.get("online") == "0",
            "1 -> 0 adds one presence entry online 0", f)
    t.check(isinstance(c.count("t-s1", code, uid, "x"), RedisError) and
            isinstance(c.count("t-s1", code, uid, "1.5"), RedisError) and
            c.r.cmd("XLEN", "tutti:cmd") == n0 + 2, "a delta that is not an integer: error, "
            "nothing changes")
    c.r.cmd("DEL", "tutti:relay:conns:t-s1", "tutti:relay:conns:t-s2")


def t_events(t, c):
    code, ta, alice = create_room(c.s, "alice")
    tb, bob = join_room(c.s, code, "bob")
    tk, keeper = join_room(c.s, code, "keeper")
    tw, watcher = join_room(c.s, code, "watcher")
    other, _, zoe = create_room(c.s, "zoe")
    ev = watch(c, code, tw)
    wid = watcher["id"]
    try:
        c.count("t-ev", code, keeper["id"], 1)
        k, _, _ = presence_of(ev, keeper["id"], wid)
        t.check(k is not None and k["online"] is True and k["listeners"] >= 1,
                "the keeper's online event", k)
        c.count("t-ev", code, bob["id"], 1)
        e, skipped, mine = presence_of(ev, bob["id"], wid)
        t.check(e is not None and e["room"] == code and e["online"] is True and
                e["user"] == {"id": bob["id"], "name": "bob"} and follows(k, e, mine, 1)
                and not skipped, "bob online: the next event, with user {id, name}, "
                "online true, seq + 1, listeners + 1", (k, e, mine))
        st, r = c.room(code, tb)
        t.check(e is not None and st == 200 and r["seq"] >= e["seq"],
                "the event took a seq of the room", (e, r.get("seq")))
        t.check(c.online(bob["id"]) == 1 and c.online(alice["id"]) == 0,
                "users.online: bob 1, alice (REST only) 0")
        online = {u["name"]: u.get("online") for u in r.get("users", [])}
        t.check(online.get("bob") is True and online.get("alice") is False and
                r.get("listeners") == sum(1 for v in online.values() if v),
                "GET room: users[].online follows presence, listeners counts them", r)
        st, ul = c.s.request("GET", "/api/rooms/%s/users" % code, token=ta)[:2]
        t.check(st == 200 and ul.get("listeners") == r.get("listeners") and
                [u.get("online") for u in ul["users"]] ==
                [u.get("online") for u in r["users"]],
                "GET users: the same online flags and listeners", ul)
        # Entries that change nothing publish nothing: a repeat, a malformed
        # one, a user of another room, an unknown room, one with a req.
        c.xadd("room", code, "user", bob["id"], "action", "presence", "online", "1")
        c.xadd("room", code, "user", bob["id"], "action", "presence", "online", "2")
        c.xadd("room", code, "user", zoe["id"], "action", "presence", "online", "1")
        c.xadd("room", "ZZZZZ", "user", bob["id"], "action", "presence", "online", "0")
        c.xadd("room", code, "user", bob["id"], "action", "presence", "online", "1",
               "req", "presence-req")
        c.count("t-ev", code, bob["id"], -1)
        e2, skipped, mine = presence_of(ev, bob["id"], wid)
        t.check(e2 is not None and e2["online"] is False and follows(e, e2, mine, -1) and
                not skipped, "bob offline: the next event, seq + 1, listeners - 1; the "
                "entries in between published nothing", (e, e2, skipped, mine))
        t.check(c.online(bob["id"]) == 0 and c.online(zoe["id"]) == 0,
                "users.online: bob 0; zoe, named with the wrong room, untouched")
        reply = c.r.cmd("LPOP", "tutti:reply:presence-req")
        t.check(reply is not None and '"status":400' in reply,
                "a presence entry with a req is refused 400", reply)
        # An online user who leaves: their offline changes nothing.
        c.count("t-ev", code, bob["id"], 1)
        e3, _, _ = presence_of(ev, bob["id"], wid)
        st, _, _ = c.s.request("POST", "/api/rooms/%s/leave" % code, token=tb)
        c.count("t-ev", code, bob["id"], -1)
        c.count("t-ev", code, keeper["id"], -1)
        e4, skipped, mine = presence_of(ev, keeper["id"], wid)
        types = [x.get("type") for x in skipped]
        t.check(st == 204 and e3 is not None and e4 is not None and
                e4["online"] is False and types == ["user_left", "chat"] and
                e4["listeners"] == e3["listeners"] - 2 + sum(
                    1 if x["online"] else -1 for x in mine),
                "after bob left, his offline publishes nothing; the keeper's counts "
                "him out", (e3, e4, skipped))
    finally:
        ev.ws.close()
        c.r.cmd("DEL", "tutti:relay:conns:t-ev")


def t_reload_and_promotion(t, c):
    # Room x: the admin reloads the page (offline, then online at once).
    x, ta, alice = create_room(c.s, "alice")
    tb, bob = join_room(c.s, x, "bob")
    c.count("t-rl", x, alice["id"], 1)
    c.count("t-rl", x, bob["id"], 1)
    results = c.r.pipeline(("MULTI",), c.eval_args("t-rl", x, alice["id"], -1),
                           c.eval_args("t-rl", x, alice["id"], 1), ("EXEC",))
    t.check(results[-1] == [0, 1], "a page reload: offline and online in one MULTI", results)
    # Room y, later: the admin goes offline for good; of the members, carol
    # (online) was there after dave (offline), and the watcher joined last.
    y, ty, yann = create_room(c.s, "yann")
    td, dave = join_room(c.s, y, "dave")
    tc, carol = join_room(c.s, y, "carol")
    tw, watcher = join_room(c.s, y, "watcher")
    ev = watch(c, y, tw)
    try:
        c.count("t-rl", y, yann["id"], 1)
        c.count("t-rl", y, carol["id"], 1)
        c.count("t-rl", y, yann["id"], -1)
        e = ev.until(lambda m: m.get("type") == "role_changed", limit=20)
        t.check(e is not None and e["reason"] == "promoted" and e["by"] is None and
                e["user"]["id"] == carol["id"] and e["user"]["role"] == "admin",
                "the admin offline for the grace period: the longest-present ONLINE member "
                "is promoted", e)
        t.check(e is not None and e.get("previous") == {"id": yann["id"], "name": "yann",
                                                         "role": "member"},
                "role_changed names the offline admin as previous, now a member", e)
    finally:
        ev.ws.close()
    roles = c.roles(y, tc)
    t.check(roles == {yann["id"]: "member", dave["id"]: "member", carol["id"]: "admin",
                      watcher["id"]: "member"}, "GET room: carol admin, yann member", roles)
    # Room y's promotion came after the sweep passed room x's time.
    roles = c.roles(x, tb)
    t.check(roles == {alice["id"]: "admin", bob["id"]: "member"},
            "no promotion after a page reload within the grace period", roles)
    # Room z: nobody online but the admin, who goes offline: the
    # longest-present member is promoted even though offline.
    z, tz, zed = create_room(c.s, "zed")
    te, erin = join_room(c.s, z, "erin")
    tf, fred = join_room(c.s, z, "fred")
    c.count("t-rl", z, zed["id"], 1)
    c.count("t-rl", z, zed["id"], -1)
    # The room also went idle and may close soon after: read its roles from
    # SQLite, where they stay.
    roles = wait_for(lambda: (lambda r: r if r[erin["id"]] == "admin" else None)(
        c.db_roles(z)))
    t.check(roles == {zed["id"]: "member", erin["id"]: "admin", fred["id"]: "member"},
            "nobody online: the longest-present member is promoted", roles)
    c.r.cmd("DEL", "tutti:relay:conns:t-rl")


def t_rest_only(t, c):
    # Room p: REST-only admin; a member comes online, then stray repeats.
    p, tp, pat = create_room(c.s, "pat")
    tq, quinn = join_room(c.s, p, "quinn")
    c.count("t-ro", p, quinn["id"], 1)
    c.xadd("room", p, "user", pat["id"], "action", "presence", "online", "0")
    # Room p2: only REST users, and offline repeats for both.
    p2, tp2, paula = create_room(c.s, "paula")
    _, rita = join_room(c.s, p2, "rita")
    for u in (paula, rita):
        c.xadd("room", p2, "user", u["id"], "action", "presence", "online", "0")
    # Room q, later: its only listener goes offline; it closes after idle_s,
    # and its admin, offline with nobody to promote, stays admin meanwhile.
    q, tq2, quentin = create_room(c.s, "quentin")
    c.count("t-ro", q, quentin["id"], 1)
    c.count("t-ro", q, quentin["id"], -1)
    st = wait_for(lambda: c.room(q, tq2)[0] == 404)
    t.check(st, "a room whose last listener went offline closes after the idle time")
    roles = c.roles(p, tq)
    t.check(roles == {pat["id"]: "admin", quinn["id"]: "member"},
            "a member online while the admin uses REST only: no promotion", roles)
    st, _ = c.room(p2, tp2)
    t.check(st == 200, "a room of REST-only users stays open (repeated offline entries)", st)
    c.r.cmd("DEL", "tutti:relay:conns:t-ro")


def t_dead_relay(t, c):
    code, ta, alice = create_room(c.s, "alice")
    tb, bob = join_room(c.s, code, "bob")
    tw, watcher = join_room(c.s, code, "watcher")
    ev = watch(c, code, tw)
    try:
        c.r.cmd("SET", "tutti:relay:alive:t-live", "1", "PX", 600000)
        c.r.cmd("SADD", "tutti:relays", "t-live")
        c.count("t-live", code, alice["id"], 1)
        c.count("t-dead", code, alice["id"], 2)
        c.count("t-dead", code, bob["id"], 1)
        c.r.cmd("SADD", "tutti:relays", "t-dead", "bad relay id")
        e, _, _ = presence_of(ev, bob["id"], watcher["id"])
        if e is not None and e["online"] is True:
            e, _, _ = presence_of(ev, bob["id"], watcher["id"])
        t.check(e is not None and e["online"] is False,
                "a dead relay's only listener of bob is taken back: bob offline", e)
        gone = wait_for(lambda: c.r.cmd("EXISTS", "tutti:relay:conns:t-dead") == 0 and
                        c.r.cmd("SISMEMBER", "tutti:relays", "t-dead") == 0)
        t.check(gone, "the dead relay's hash and set member are deleted")
        t.check(c.r.cmd("HGET", "tutti:presence:" + code, str(alice["id"])) == "1",
                "alice keeps the listener on the live relay (3 - 2 = 1, still online)")
        t.check(c.r.cmd("SISMEMBER", "tutti:relays", "t-live") == 1 and
                c.r.cmd("HGET", "tutti:relay:conns:t-live", "%s:%s" % (code, alice["id"]))
                == "1", "a live relay is left alone")
        t.check(c.count("t-dead", code, alice["id"], -2) == 1,
                "taking the dead relay's counts back again changes nothing")
        c.count("t-live", code, bob["id"], 1)
        e, skipped, _ = presence_of(ev, bob["id"], watcher["id"])
        t.check(e is not None and e["online"] is True and
                not [x for x in skipped if x.get("type") == "presence"],
                "alice never went offline; bob online again through the live relay", skipped)
    finally:
        ev.ws.close()
        c.r.cmd("DEL", "tutti:relay:alive:t-live", "tutti:relay:conns:t-live")
        c.r.cmd("SREM", "tutti:relays", "t-live", "bad relay id")


def main():
    t = Tap()
    s = Stack(name="presence", env={"TUTTI_WORKER_OPTS": "-g %d -I %d -s %d" % (
        GRACE_MS, IDLE_S, SWEEP_MS)})
    c = None
    try:
        s.start()
        c = Ctx(s)
        for fn in (t_script, t_events, t_reload_and_promotion, t_rest_only, t_dead_relay):
            t.run(fn, c)
    finally:
        if c is not None:
            c.r.close()
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
