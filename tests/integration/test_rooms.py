"""test_rooms.py - rooms and the people in them, through nginx: creating
with settings, the public list with listener counts, settings, closing,
joining and leaving, handing over admin, removing someone, the promotion
of the longest-present user after the admin leaves, and idle rooms closing.
Run: /usr/bin/python3 tests/integration/test_rooms.py   (TAP output)
"""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import (Stack, Tap, create_room, is_problem, join_room,  # noqa: E402
                   recv_until, wait_for)

import websocket  # noqa: E402

GRACE_MS = 600
IDLE_S = 2
RETAIN_S = 2


def room(s, code, token):
    return s.request("GET", "/api/rooms/" + code, token=token)


def t_create(t, s):
    st, body, hdrs = s.request("POST", "/api/rooms", {
        "name": "alice", "room_name": "  Friday  ", "public": True, "policy": "everyone"})
    t.check(st == 201 and body["room"] == {"code": body["code"], "name": "Friday",
            "public": True, "policy": "everyone"}, "create with settings: 201, name trimmed", body)
    st, body, _ = s.request("POST", "/api/rooms", {"name": "alice"})
    t.check(st == 201 and body["room"]["policy"] == "admin" and body["room"]["public"] is False
            and body["room"]["name"] == "", "defaults: private, policy admin, no name", body)
    for bad, what in (({"name": "a", "policy": "anyone"}, "unknown policy"),
                      ({"name": "a", "public": "yes"}, "public not a boolean"),
                      ({"name": "a", "room_name": "x" * 65}, "room name of 65 characters"),
                      ({"name": "a", "room_name": "a\u0007b"}, "control character in room name"),
                      ({"name": "a", "playlist": "all"}, "unknown playlist choice"),
                      ({"name": "a", "colour": "red"}, "unknown field"),
                      ({"room_name": "x"}, "no display name")):
        st, body, hdrs = s.request("POST", "/api/rooms", bad)
        t.check(is_problem(st, body, hdrs, 400), "create with %s: 400" % what, body)
    st, body, _ = s.request("POST", "/api/rooms", {"name": "a", "playlist": "empty"})
    st, r, _ = room(s, body["code"], body["token"])
    t.check(st == 200 and r["playlist"] == [] and r["playback"]["item_id"] is None,
            "playlist \"empty\": the room starts with nothing", r)


def t_public_list(t, s):
    pub, ta, _ = create_room(s, "alice", public=True, room_name="Open house")
    priv, _, _ = create_room(s, "alice", public=False, room_name="Secret")
    tb, _ = join_room(s, pub, "bob")
    join_room(s, pub, "carol")  # joined, but not listening: not counted

    def listing():
        st, body, _ = s.request("GET", "/api/rooms")
        return body, ({r["code"]: r for r in body.get("rooms", [])} if st == 200 else {})
    ws = [websocket.create_connection(s.ws_url(pub, tok), timeout=5) for tok in (ta, tb)]
    try:
        deadline = time.time() + 5
        body, rooms = listing()
        while time.time() < deadline and rooms.get(pub, {}).get("listeners") != 2:
            time.sleep(0.1)
            body, rooms = listing()
        t.check(pub in rooms and rooms[pub]["listeners"] == 2
                and rooms[pub]["name"] == "Open house",
                "public list: the public room with its 2 listening people", body)
    finally:
        for w in ws:
            w.close()
    deadline = time.time() + 5
    while time.time() < deadline and rooms.get(pub, {}).get("listeners") != 0:
        time.sleep(0.1)
        body, rooms = listing()
    t.check(rooms.get(pub, {}).get("listeners") == 0, "and 0 once they hang up", body)
    t.check(priv not in rooms, "public list: a private room is not listed", body)
    st, body, hdrs = s.request("GET", "/api/rooms?limit=0")
    t.check(is_problem(st, body, hdrs, 400), "public list: limit=0 is 400", body)


def t_get_and_settings(t, s):
    code, ta, alice = create_room(s, "alice", room_name="Kitchen")
    tb, bob = join_room(s, code, "bob")
    st, r, _ = room(s, code, tb)
    t.check(st == 200 and r["name"] == "Kitchen" and r["policy"] == "admin"
            and r["you"]["id"] == bob["id"] and len(r["users"]) == 2
            and isinstance(r["playlist_version"], int), "GET room: settings, you, users", r)
    t.check(any(m["kind"] == "system" and m["text"] == "bob joined" for m in r.get("chat", [])),
            "GET room: the chat holds the system line \"bob joined\"", r.get("chat"))
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, body, hdrs = s.request("PATCH", "/api/rooms/" + code, {"public": True}, token=tb)
        t.check(is_problem(st, body, hdrs, 403), "PATCH room by a member: 403", body)
        st, body, _ = s.request("PATCH", "/api/rooms/" + code,
                                {"room_name": "Den", "policy": "everyone"}, token=ta)
        t.check(st == 200 and body["name"] == "Den" and body["policy"] == "everyone"
                and body["public"] is False, "PATCH room by the admin: 200 with the settings", body)
        ev = recv_until(ws, lambda m: m.get("type") == "room_updated")
        t.check(ev is not None and ev["settings"]["name"] == "Den" and ev["by"] == alice["id"],
                "room_updated event reaches a listener", ev)
        st, body, hdrs = s.request("PATCH", "/api/rooms/" + code, {"code": "X"}, token=ta)
        t.check(is_problem(st, body, hdrs, 400), "PATCH with an unknown field: 400", body)
    finally:
        ws.close()


def t_join_leave(t, s):
    code, ta, _ = create_room(s, "alice")
    tb, bob = join_room(s, code, "bob")
    st, body, hdrs = s.request("POST", "/api/rooms/%s/join" % code, {"name": "BOB"})
    t.check(is_problem(st, body, hdrs, 409), "a present name, other case: 409", body)
    ws = websocket.create_connection(s.ws_url(code, ta), timeout=5)
    try:
        tc, carol = join_room(s, code, "carol")
        ev = recv_until(ws, lambda m: m.get("type") == "user_joined")
        t.check(ev is not None and ev["user"]["id"] == carol["id"]
                and isinstance(ev["user"].get("joined_us"), int), "user_joined event with "
                "joined_us", ev)
        st, _, _ = s.request("POST", "/api/rooms/%s/leave" % code, token=tb)
        t.check(st == 204, "leave: 204", st)
        ev = recv_until(ws, lambda m: m.get("type") == "user_left")
        t.check(ev is not None and ev["user"]["id"] == bob["id"] and ev["reason"] == "left",
                "user_left event with the reason", ev)
        ev2 = recv_until(ws, lambda m: m.get("type") == "chat")
        t.check(ev2 is not None and ev2["message"]["text"] == "bob left"
                and ev2["seq"] == ev["seq"] + 1, "system chat line \"bob left\", next seq", ev2)
    finally:
        ws.close()
    st, body, hdrs = room(s, code, tb)
    t.check(is_problem(st, body, hdrs, 401), "the token of someone who left: 401", body)
    st, body, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": "bob"})
    t.check(st == 201 and body["user"]["id"] != bob["id"], "the same name may join again", body)
    st, r, _ = room(s, code, ta)
    t.check([u["name"] for u in r["users"]] == ["alice", "carol", "bob"],
            "users: present ones only, in order of arrival", r)


def t_admin_handover(t, s):
    code, ta, alice = create_room(s, "alice")
    tb, bob = join_room(s, code, "bob")
    st, body, hdrs = s.request("PUT", "/api/rooms/%s/admin" % code, {"user_id": alice["id"]},
                               token=tb)
    t.check(is_problem(st, body, hdrs, 403), "hand over by a member: 403", body)
    st, body, hdrs = s.request("PUT", "/api/rooms/%s/admin" % code, {"user_id": 999999},
                               token=ta)
    t.check(is_problem(st, body, hdrs, 404), "hand over to nobody: 404", body)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, body, _ = s.request("PUT", "/api/rooms/%s/admin" % code, {"user_id": bob["id"]},
                                token=ta)
        t.check(st == 200 and body["admin"]["id"] == bob["id"], "hand over: 200", body)
        ev = recv_until(ws, lambda m: m.get("type") == "role_changed")
        t.check(ev is not None and ev["user"]["id"] == bob["id"] and ev["user"]["role"] == "admin"
                and ev["previous"]["id"] == alice["id"], "role_changed event", ev)
    finally:
        ws.close()
    st, r, _ = room(s, code, ta)
    roles = {u["name"]: u["role"] for u in r["users"]}
    t.check(roles == {"alice": "member", "bob": "admin"}, "roles swapped", roles)
    st, body, hdrs = s.request("PATCH", "/api/rooms/" + code, {"public": True}, token=ta)
    t.check(is_problem(st, body, hdrs, 403), "the former admin is a member now", body)


def t_remove(t, s):
    code, ta, alice = create_room(s, "alice")
    tb, bob = join_room(s, code, "bob")
    tc, carol = join_room(s, code, "carol")
    st, body, hdrs = s.request("DELETE", "/api/rooms/%s/users/%d" % (code, carol["id"]), token=tb)
    t.check(is_problem(st, body, hdrs, 403), "remove by a member: 403", body)
    st, body, hdrs = s.request("DELETE", "/api/rooms/%s/users/%d" % (code, alice["id"]), token=ta)
    t.check(is_problem(st, body, hdrs, 400), "the admin removing themself: 400", body)
    st, _, _ = s.request("DELETE", "/api/rooms/%s/users/%d" % (code, carol["id"]), token=ta)
    t.check(st == 204, "remove: 204", st)
    st, body, hdrs = room(s, code, tc)
    t.check(is_problem(st, body, hdrs, 401), "a removed user's token: 401", body)
    st, body, hdrs = s.request("DELETE", "/api/rooms/%s/users/%d" % (code, carol["id"]), token=ta)
    t.check(is_problem(st, body, hdrs, 404), "remove again: 404", body)
    st, r, _ = room(s, code, ta)
    t.check(any(m["text"] == "carol was removed" for m in r["chat"]), "system line for removal",
            r["chat"])


def t_promotion(t, s):
    code, ta, alice = create_room(s, "alice")
    tb, bob = join_room(s, code, "bob")
    tc, carol = join_room(s, code, "carol")
    ws = websocket.create_connection(s.ws_url(code, tc), timeout=5)
    try:
        t0 = time.time()
        s.request("POST", "/api/rooms/%s/leave" % code, token=ta)
        ev = recv_until(ws, lambda m: m.get("type") == "role_changed", timeout=GRACE_MS / 1000 + 5)
        waited = time.time() - t0
        # carol listens (her WebSocket is open), bob, who came first, does not:
        # the one listening is preferred.
        t.check(ev is not None and ev["user"]["id"] == carol["id"] and ev["reason"] == "promoted",
                "the longest-present listening user is promoted after the admin leaves", ev)
        t.check(waited >= GRACE_MS / 1000 * 0.9, "not before the grace period (%.2f s)" % waited,
                waited)
    finally:
        ws.close()
    st, r, _ = room(s, code, tc)
    t.check(st == 200 and r["you"]["role"] == "admin", "GET room: carol is admin now", r)
    st, body, _ = s.request("PATCH", "/api/rooms/" + code, {"public": True}, token=tc)
    t.check(st == 200, "the promoted admin may change settings", body)


def t_close(t, s):
    code, ta, _ = create_room(s, "alice")
    tb, _ = join_room(s, code, "bob")
    st, body, hdrs = s.request("DELETE", "/api/rooms/" + code, token=tb)
    t.check(is_problem(st, body, hdrs, 403), "close by a member: 403", body)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, _, _ = s.request("DELETE", "/api/rooms/" + code, token=ta)
        t.check(st == 204, "close by the admin: 204", st)
        ev = recv_until(ws, lambda m: m.get("type") == "room_closed")
        t.check(ev is not None and ev["reason"] == "closed", "room_closed event", ev)
    finally:
        ws.close()
    st, body, hdrs = room(s, code, ta)
    t.check(is_problem(st, body, hdrs, 404), "a closed room: 404", body)
    st, body, hdrs = s.request("POST", "/api/rooms/%s/join" % code, {"name": "dan"})
    t.check(is_problem(st, body, hdrs, 404), "joining a closed room: 404", body)


def t_idle_close(t, s):
    code, ta, _ = create_room(s, "alice")
    s.request("POST", "/api/rooms/%s/leave" % code, token=ta)
    deadline = time.time() + IDLE_S + 6
    st = 201
    while time.time() < deadline:
        st, body, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": "late%d" % st})
        if st == 404:
            break
        # Joining made it non-empty again: leave, so it can go idle.
        s.request("POST", "/api/rooms/%s/leave" % code, token=body["token"])
        time.sleep(IDLE_S + 1)
    t.check(st == 404, "a room left empty closes after the idle time", st)


def t_other_room(t, s):
    a, ta, _ = create_room(s, "alice")
    b, tb, _ = create_room(s, "zoe")
    st, body, hdrs = room(s, a, tb)
    t.check(is_problem(st, body, hdrs, 401), "a token of another room: 401", body)


def t_room_full(t, s):
    """At most 1000 people present in a room: the 1001st join gets 409 and
    changes nothing; a leave makes room again. The room is filled in SQLite."""
    code, ta, _ = create_room(s, "host")
    with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=10) as db:
        rid = db.execute("SELECT id FROM rooms WHERE code = ?", (code,)).fetchone()[0]
        db.executemany("INSERT INTO users (room_id, name, role, token_hash, joined_us) "
                       "VALUES (?, ?, 'member', ?, 1)",
                       [(rid, "filler%d" % i, "%064x" % (rid * 100000 + i)) for i in range(998)])
    tl, last = join_room(s, code, "last")
    st, body, hdrs = s.request("POST", "/api/rooms/%s/join" % code, {"name": "extra"})
    t.check(is_problem(st, body, hdrs, 409) and "1000" in body.get("detail", ""),
            "the 1001st person gets 409 Room full", body)
    with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=10) as db:
        n = db.execute("SELECT count(*) FROM users WHERE room_id = ? AND left_us IS NULL "
                       "AND name = 'extra'", (rid,)).fetchone()[0]
    t.check(n == 0, "the refused join left no user behind", n)
    st, _, _ = s.request("POST", "/api/rooms/%s/leave" % code, token=tl)
    st2, body, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": "extra"})
    t.check(st == 204 and st2 == 201, "after someone leaves there is room again", (st, st2, body))


def t_health_counts(t, s):
    """/api/healthz counts the open rooms and the people online."""
    h0 = s.request("GET", "/api/healthz")[1]
    code, ta, _ = create_room(s, "counted")
    h1 = s.request("GET", "/api/healthz")[1]
    ws = websocket.create_connection(s.ws_url(code, ta), timeout=5)
    try:
        h2 = wait_for(lambda: (lambda h: h if h["online"] == h1["online"] + 1 else None)(
            s.request("GET", "/api/healthz")[1]), 5)
    finally:
        ws.close()
    s.request("DELETE", "/api/rooms/" + code, token=ta)
    h3 = s.request("GET", "/api/healthz")[1]
    t.check(isinstance(h0.get("rooms"), int) and h1["rooms"] == h0["rooms"] + 1 and
            h2 is not None and h3["rooms"] == h0["rooms"],
            "healthz counts open rooms and people online (a room opens, a listener connects, "
            "the room closes)", (h0, h1, h2, h3))


def t_purge(t, s):
    """A closed room is deleted with all its rows once closed longer than the
    worker's retention (-P RETAIN_S here); the library keeps its tracks."""
    code, ta, _ = create_room(s, "gone")
    tb, _ = join_room(s, code, "bob")
    s.request("POST", "/api/rooms/%s/chat" % code, {"text": "hello"}, token=tb)
    s.request("POST", "/api/rooms/%s/requests" % code, {"text": "a song"}, token=tb)
    s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"}, token=ta)
    path = os.path.join(s.data, "tutti.db")
    tables = ("users", "chat", "requests", "playlist_items", "playback")

    def rows():
        with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10) as db:
            rid = db.execute("SELECT id FROM rooms WHERE code = ?", (code,)).fetchone()
            if rid is None:
                return None
            return {tb_: db.execute("SELECT count(*) FROM %s WHERE room_id = ?" % tb_,
                                    (rid[0],)).fetchone()[0] for tb_ in tables}
    before = rows()
    with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10) as db:
        tracks = db.execute("SELECT count(*) FROM tracks").fetchone()[0]
    st, _, _ = s.request("DELETE", "/api/rooms/" + code, token=ta)
    kept = rows()
    t.check(st == 204 and before and all(before[x] > 0 for x in tables) and kept == before,
            "a closed room keeps its rows at first", (st, before, kept))
    gone = wait_for(lambda: rows() is None, RETAIN_S + 6)
    with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10) as db:
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        left = {x: db.execute("SELECT count(*) FROM %s WHERE room_id NOT IN "
                              "(SELECT id FROM rooms)" % x).fetchone()[0] for x in tables}
        tracks2 = db.execute("SELECT count(*) FROM tracks").fetchone()[0]
    t.check(gone and not fk and not any(left.values()) and tracks2 == tracks,
            "after the retention the room and everything of it is deleted; the library stays",
            (gone, fk, left, tracks, tracks2))
    t.check("room %s: purged" % code in s.logtext(limit=None), "the worker logs the purge")
    st, body, hdrs = s.request("GET", "/api/rooms/" + code, token=ta)
    t.check(is_problem(st, body, hdrs, 404) or is_problem(st, body, hdrs, 401),
            "the purged room's token gets a problem answer", (st, body))


def main():
    t = Tap()
    s = Stack(name="rooms", env={"TUTTI_WORKER_OPTS": "-g %d -I %d -P %d" % (GRACE_MS, IDLE_S,
                                                                          RETAIN_S)})
    try:
        s.start()
        for fn in (t_create, t_public_list, t_get_and_settings, t_join_leave, t_admin_handover,
                   t_remove, t_promotion, t_close, t_idle_close, t_other_room, t_room_full,
                   t_health_counts, t_purge):
            t.run(fn, s)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
