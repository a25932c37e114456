"""test_playlist.py - the playlist and playback control through nginx:
ETag and If-Match (412 stale, 428 missing), adding library tracks,
removing and reordering, the playlist event, jumping to an item, resume,
relative and absolute seek and who may do what under each policy.
Run: /usr/bin/python3 tests/integration/test_playlist.py   (TAP output)
"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap, create_room, is_problem, join_room, recv_until  # noqa: E402

import websocket  # noqa: E402


def playlist(s, code, token):
    return s.request("GET", "/api/rooms/%s/playlist" % code, token=token)


def control(s, code, token, action, **kw):
    return s.request("POST", "/api/rooms/%s/control" % code, dict(kw, action=action), token=token)


def t_etag(t, s, ctx):
    code, ta, _ = create_room(s, "alice", playlist="empty")
    tb, _ = join_room(s, code, "bob")
    ctx.update(code=code, ta=ta, tb=tb)
    st, body, hdrs = playlist(s, code, tb)
    etag = hdrs.get("etag")
    t.check(st == 200 and body["items"] == [] and etag == '"%d"' % body["version"],
            "GET playlist: 200 with ETag = version", (body, hdrs))
    st, _, _ = s.request("GET", "/api/rooms/%s/playlist" % code, token=tb,
                         headers={"If-None-Match": etag})
    t.check(st == 304, "If-None-Match with the current ETag: 304", st)
    # A room filled from the library names the demo tracks.
    lcode, lta, _ = create_room(s, "lib")
    st, lib, _ = playlist(s, lcode, lta)
    ids = [x["track"]["id"] for x in lib["items"]] if st == 200 else []
    ctx["tracks"] = ids
    t.check(len(ids) >= 3, "the library has the demo tracks", lib)
    path = "/api/rooms/%s/playlist" % code
    st, body, hdrs = s.request("POST", path, {"track_id": ids[0]}, token=ta)
    t.check(is_problem(st, body, hdrs, 428), "add without If-Match: 428", body)
    st, body, hdrs = s.request("POST", path, {"track_id": ids[0]}, token=ta,
                               headers={"If-Match": '"%d"' % 999})
    t.check(is_problem(st, body, hdrs, 412), "add with a stale If-Match: 412", body)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, body, hdrs = s.request("POST", path, {"track_id": ids[0]}, token=ta,
                                   headers={"If-Match": etag})
        t.check(st == 201 and len(body["items"]) == 1 and body["item_id"] == body["items"][0]["id"]
                and hdrs.get("etag") == '"%d"' % body["version"] and hdrs["etag"] != etag,
                "add with the current ETag: 201, new ETag", (body, hdrs))
        ev = recv_until(ws, lambda m: m.get("type") == "playlist")
        t.check(ev is not None and ev["version"] == body["version"]
                and [i["id"] for i in ev["items"]] == [i["id"] for i in body["items"]],
                "playlist event carries the new version and items", ev)
    finally:
        ws.close()
    st, body2, hdrs2 = s.request("POST", path, {"track_id": ids[1]}, token=ta,
                                 headers={"If-Match": etag})
    t.check(is_problem(st, body2, hdrs2, 412), "a second admin with the old ETag: 412", body2)
    for tid in ids[1:3]:
        st, body, hdrs = s.request("POST", path, {"track_id": tid}, token=ta,
                                   headers={"If-Match": "*"})
    t.check(st == 201 and len(body["items"]) == 3, "If-Match: * adds whatever is current", body)
    st, body, hdrs = s.request("POST", path, {"track_id": 987654}, token=ta,
                               headers={"If-Match": "*"})
    t.check(is_problem(st, body, hdrs, 404), "add an unknown track: 404", body)
    st, body, hdrs = s.request("POST", path, {"track_id": "1"}, token=ta,
                               headers={"If-Match": "*"})
    t.check(is_problem(st, body, hdrs, 400), "track_id as a string: 400", body)
    st, body, hdrs = s.request("POST", path, {"track_id": ids[0]}, token=tb,
                               headers={"If-Match": "*"})
    t.check(is_problem(st, body, hdrs, 403), "a member adds under policy admin: 403", body)


def t_order_remove(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    path = "/api/rooms/%s/playlist" % code
    st, body, hdrs = playlist(s, code, ta)
    items = [i["id"] for i in body["items"]]
    new = list(reversed(items))
    st, b, h = s.request("PUT", path, {"items": new}, token=tb, headers={"If-Match": "*"})
    t.check(is_problem(st, b, h, 403), "reorder by a member: 403", b)
    st, b, h = s.request("PUT", path, {"items": new[:-1]}, token=ta,
                         headers={"If-Match": hdrs["etag"]})
    t.check(is_problem(st, b, h, 400), "reorder missing an item: 400", b)
    st, b, h = s.request("PUT", path, {"items": new + [new[0]]}, token=ta,
                         headers={"If-Match": hdrs["etag"]})
    t.check(is_problem(st, b, h, 400), "reorder with a duplicate: 400", b)
    st, b, h = s.request("PUT", path, {"items": new}, token=ta, headers={"If-Match": hdrs["etag"]})
    t.check(st == 200 and [i["id"] for i in b["items"]] == new, "reorder: 200 in the new order", b)
    etag = h.get("etag")
    st, b2, h2 = s.request("PUT", path, {"items": items}, token=ta,
                           headers={"If-Match": hdrs["etag"]})
    t.check(is_problem(st, b2, h2, 412), "reorder with the ETag from before: 412", b2)
    st, b, h = s.request("DELETE", "%s/%d" % (path, new[0]), token=ta)
    t.check(is_problem(st, b, h, 428), "remove without If-Match: 428", b)
    st, b, h2 = s.request("DELETE", "%s/%d" % (path, new[0]), token=tb, headers={"If-Match": "*"})
    t.check(is_problem(st, b, h2, 403), "remove by a member: 403", b)
    st, b, h = s.request("DELETE", "%s/%d" % (path, new[0]), token=ta,
                         headers={"If-Match": etag})
    t.check(st == 200 and [i["id"] for i in b["items"]] == new[1:], "remove: 200", b)
    st, b, h = s.request("DELETE", "%s/%d" % (path, new[0]), token=ta, headers={"If-Match": "*"})
    t.check(is_problem(st, b, h, 404), "remove it again: 404", b)
    ctx["items"] = new[1:]


def t_control(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    items = ctx["items"]
    st, b, h = control(s, code, tb, "play")
    t.check(is_problem(st, b, h, 403), "a member plays under policy admin: 403", b)
    st, b, _ = control(s, code, ta, "jump", item_id=items[1])
    t.check(st == 200 and b["playback"]["item_id"] == items[1] if st == 200 and "playback" in b
            else st == 200 and b.get("item_id") == items[1], "jump to an item: it plays", b)
    st, b, h = control(s, code, ta, "jump", item_id=123456789)
    t.check(st in (404, 409) and is_problem(st, b, h, st), "jump to an item not in the list", b)
    st, b, h = control(s, code, ta, "jump")
    t.check(is_problem(st, b, h, 400), "jump without item_id: 400", b)
    st, b, h = control(s, code, ta, "seek", position_us=1, offset_us=1)
    t.check(is_problem(st, b, h, 400), "seek with both position and offset: 400", b)
    s.request("PATCH", "/api/rooms/" + code, {"policy": "everyone"}, token=ta)
    st, b, _ = control(s, code, tb, "pause")
    t.check(st == 200, "under policy everyone a member pauses", b)
    st, b, _ = control(s, code, tb, "seek", offset_us=10_000_000)
    t.check(st == 200, "a member seeks +10 s", b)
    st, b, h = control(s, code, tb, "seek", position_us=0)
    t.check(is_problem(st, b, h, 403), "an absolute seek by a member: 403", b)
    st, b, _ = control(s, code, ta, "seek", position_us=0)
    t.check(st == 200, "an absolute seek by the admin", b)
    st, b, _ = control(s, code, tb, "resume")
    t.check(st == 200, "resume", b)
    st, r, _ = s.request("GET", "/api/rooms/" + code, token=tb)
    t.check(r["playback"]["state"] == "playing" and r["playback"]["item_id"] == items[1],
            "the room plays the jumped-to item", r["playback"])


def t_remove_current(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    items = ctx["items"]
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, b, _ = s.request("DELETE", "/api/rooms/%s/playlist/%d" % (code, items[1]), token=ta,
                             headers={"If-Match": "*"})
        ev = recv_until(ws, lambda m: m.get("type") == "playback" and m.get("item_id") != items[1])
        t.check(st == 200 and ev is not None and ev["state"] == "stopped" or
                (ev is not None and ev["item_id"] is None), "removing the last, playing item "
                "stops the room", ev)
    finally:
        ws.close()


def t_remove_race(t, s, ctx):
    """The reload of another change can reach the worker before the reload
    of the removal of the playing item (both are queued after their commits):
    the worker finds the successor of the removed item itself. Here the
    removal is committed and only a reload with no hint follows."""
    code, ta, _ = create_room(s, "race")
    st, pl, _ = playlist(s, code, ta)
    ids = [x["id"] for x in pl["items"]]
    st, b, _ = control(s, code, ta, "jump", item_id=ids[1])
    t.check(st == 200 and b["playback"]["item_id"] == ids[1], "the second item plays", b)
    ws = websocket.create_connection(s.ws_url(code, ta), timeout=5)
    try:
        with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=10) as db:
            db.execute("UPDATE playlist_items SET removed_us = ? WHERE id = ?",
                       (int(time.time() * 1e6), ids[1]))
        out = subprocess.run(["redis-cli", "-s", os.path.join(s.run, "redis.sock"), "XADD",
                              "tutti:cmd", "*", "room", code, "user", "0", "action", "reload",
                              "item_id", "0"], capture_output=True, text=True, env=s.env)
        ev = recv_until(ws, lambda m: m.get("type") == "playback" and m.get("cause") == "playlist")
        t.check(out.returncode == 0 and ev is not None and ev["state"] == "playing" and
                ev["item_id"] == ids[2] and ev["position_us"] == 0,
                "a reload without a hint moves a removed playing item to the one after it, "
                "still playing", (out.stderr, ev))
    finally:
        ws.close()


def t_playlist_full(t, s, ctx):
    """A playlist holds at most 1000 items: the add past it gets 409
    Playlist full and changes nothing (version, items), and so does
    approving a request for a track. Filled in SQLite up to 999."""
    code, ta, _ = create_room(s, "full", playlist="empty")
    track = ctx["tracks"][0]
    with sqlite3.connect(os.path.join(s.data, "tutti.db"), timeout=10) as db:
        rid = db.execute("SELECT id FROM rooms WHERE code = ?", (code,)).fetchone()[0]
        db.executemany("INSERT INTO playlist_items (room_id, track_id, position) VALUES (?, ?, ?)",
                       [(rid, track, i + 1) for i in range(999)])
    st, b, _ = s.request("POST", "/api/rooms/%s/playlist" % code, {"track_id": track}, token=ta,
                         headers={"If-Match": "*"})
    t.check(st == 201 and len(b["items"]) == 1000, "the 1000th item is added", st)
    st, pl, _ = playlist(s, code, ta)
    st2, b, h = s.request("POST", "/api/rooms/%s/playlist" % code, {"track_id": track}, token=ta,
                          headers={"If-Match": "*"})
    st3, pl2, _ = playlist(s, code, ta)
    t.check(is_problem(st2, b, h, 409) and b.get("title") == "Playlist full" and
            pl2["version"] == pl["version"] and len(pl2["items"]) == 1000,
            "the 1001st: 409 Playlist full, the playlist unchanged", b)
    st, req, _ = s.request("POST", "/api/rooms/%s/requests" % code, {"track_id": track}, token=ta)
    st2, b, h = s.request("PATCH", "/api/rooms/%s/requests/%d" % (code, req.get("id", 0)),
                          {"status": "approved"}, token=ta)
    st3, r2, _ = s.request("GET", "/api/rooms/%s/requests" % code, token=ta)
    t.check(st == 201 and is_problem(st2, b, h, 409) and
            any(x["id"] == req["id"] and x["status"] == "pending" for x in r2.get("requests", r2.get("items", []))),
            "approving a track request into a full playlist: 409, the request still pending",
            (st, b, r2))


def main():
    t = Tap()
    s = Stack(name="playlist")
    ctx = {}
    try:
        s.start()
        for fn in (t_etag, t_order_remove, t_control, t_remove_current, t_remove_race,
                   t_playlist_full):
            t.run(fn, s, ctx)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
