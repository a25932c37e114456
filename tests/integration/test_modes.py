"""test_modes.py - repeat, shuffle and the adaptive lead through nginx and
the relays: the settings (PATCH, GET, room_updated, bad values), repeat one
and repeat all at an item's end (gapless: anchored at exactly the previous
end), next on the last item with and without repeat all, the shuffle order
(a permutation, stable, toggled), and a room whose listener reports 400 ms
round trips in its time-sync pings getting starts scheduled at least
2 x 400 + 50 ms ahead (capped at 2 s, back to 250 ms once it leaves); and
next_item_id, the item the worker advances to, in playback events, replies,
beacons, snapshots and GET (shuffle, repeat, playlist and settings changes).
Run: /usr/bin/python3 tests/integration/test_modes.py   (TAP output)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import (Stack, Tap, create_room, is_problem, join_room,  # noqa: E402
                   now_us, recv_until)

import websocket  # noqa: E402

LEAD_MIN_US = 250_000
MARGIN_US = 50_000
LEAD_MAX_US = 2_000_000
WAIT_S = 15  # how long a test waits for something to happen (not a timing check)


def room(s, code, token):
    return s.request("GET", "/api/rooms/" + code, token=token)


def patch(s, code, token, body):
    return s.request("PATCH", "/api/rooms/" + code, body, token=token)


def control(s, code, token, action, **kw):
    return s.request("POST", "/api/rooms/%s/control" % code, dict(kw, action=action),
                     token=token)


def items_of(s, code, token):
    st, r, _ = room(s, code, token)
    return [(i["id"], i["track"]["duration_us"]) for i in r["playlist"]]


def playback_of(b):
    return b.get("playback", {}) if isinstance(b, dict) else {}


def advance_after(ws, a):
    """The next playback event caused by an advance after the anchor a (a
    control answer's playback, with its seq): the snapshot a relay sends on
    connect is older and does not count."""
    return recv_until(ws, lambda m: m.get("type") == "playback" and m.get("cause") == "advance"
                      and m.get("seq", 0) > a["seq"], timeout=WAIT_S)


def end_soon(t, s, code, ta, item_id, duration):
    """Plays item_id from 1.2 s before its end; returns its anchor."""
    control(s, code, ta, "jump", item_id=item_id)
    st, b, _ = control(s, code, ta, "seek", position_us=duration - 1_200_000)
    a = dict(playback_of(b), seq=b.get("seq", 0) if isinstance(b, dict) else 0)
    t.check(st == 200 and a.get("state") == "playing" and a.get("item_id") == item_id,
            "seek to 1.2 s before the end of item %d: playing" % item_id, b)
    return a


def t_settings(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    st, r, _ = room(s, code, tb)
    t.check(st == 200 and r.get("repeat") == "off" and r.get("shuffle") is False,
            "GET room: repeat off, shuffle false by default", r)
    st, b, h = patch(s, code, tb, {"repeat": "all"})
    t.check(is_problem(st, b, h, 403), "a member sets repeat: 403", b)
    for bad, what in (({"repeat": "two"}, "an unknown repeat mode"),
                      ({"repeat": 1}, "repeat as a number"),
                      ({"repeat": "ALL"}, "repeat in capitals"),
                      ({"repeat": None}, "repeat null"),
                      ({"shuffle": "yes"}, "shuffle as a string"),
                      ({"shuffle": 1}, "shuffle as a number"),
                      ({"shuffle": None}, "shuffle null"),
                      ({"repeat": "one", "shuffle": "no"}, "a good repeat with a bad shuffle"),
                      ({"loop": True}, "an unknown key")):
        st, b, h = patch(s, code, ta, bad)
        t.check(is_problem(st, b, h, 400), "PATCH with %s: 400" % what, b)
    st, r, _ = room(s, code, tb)
    t.check(r.get("repeat") == "off" and r.get("shuffle") is False,
            "a refused PATCH changes nothing", r)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        st, b, _ = patch(s, code, ta, {"repeat": "one", "shuffle": True})
        t.check(st == 200 and b.get("repeat") == "one" and b.get("shuffle") is True
                and b.get("code") == code, "PATCH repeat one + shuffle: 200 with the settings", b)
        ev = recv_until(ws, lambda m: m.get("type") == "room_updated")
        t.check(ev is not None and ev["settings"].get("repeat") == "one"
                and ev["settings"].get("shuffle") is True and ev.get("by") == ctx["admin_id"],
                "room_updated carries repeat and shuffle", ev)
    finally:
        ws.close()
    st, r, _ = room(s, code, tb)
    t.check(r.get("repeat") == "one" and r.get("shuffle") is True, "GET room shows them", r)
    st, b, _ = patch(s, code, ta, {"repeat": "off", "shuffle": False})
    st, r, _ = room(s, code, tb)
    t.check(st == 200 and r.get("repeat") == "off" and r.get("shuffle") is False,
            "and back to off / false", r)
    st, j, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": "carol"})
    t.check(st == 201 and j["room"].get("repeat") == "off" and j["room"].get("shuffle") is False,
            "join answers the modes too", j)


def t_repeat_one(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    items = ctx["items"]
    patch(s, code, ta, {"repeat": "one"})
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        iid, dur = items[1]
        a = end_soon(t, s, code, ta, iid, dur)
        end = a["at_us"] + dur - a["position_us"]
        ev = advance_after(ws, a)
        t.check(ev is not None and ev["item_id"] == iid and ev["state"] == "playing"
                and ev["position_us"] == 0 and ev["at_us"] == end,
                "repeat one: the same item from 0, at exactly the previous end", (ev, end))
        # And again: the repeat goes on.
        if ev is not None:
            st, b, _ = control(s, code, ta, "seek", position_us=dur - 1_200_000)
            a = dict(playback_of(b), seq=b["seq"])
            end = a["at_us"] + dur - a["position_us"]
            ev = advance_after(ws, a)
            t.check(ev is not None and ev["item_id"] == iid and ev["at_us"] == end,
                    "repeat one again: still the same item, gapless", ev)
        st, b, h = control(s, code, ta, "jump", item_id=items[-1][0])
        st, b, h = control(s, code, ta, "next")
        t.check(is_problem(st, b, h, 409) and b.get("title") == "no next item",
                "repeat one: next on the last item is still 409", b)
        st, b, _ = control(s, code, ta, "jump", item_id=items[0][0])
        st, b, _ = control(s, code, ta, "next")
        t.check(st == 200 and playback_of(b).get("item_id") == items[1][0],
                "repeat one: next skips to the following item", b)
    finally:
        ws.close()
        control(s, code, ta, "stop")


def t_repeat_all(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    items = ctx["items"]
    patch(s, code, ta, {"repeat": "off"})
    control(s, code, ta, "jump", item_id=items[-1][0])
    st, b, h = control(s, code, ta, "next")
    t.check(is_problem(st, b, h, 409) and b.get("title") == "no next item",
            "repeat off: next on the last item is 409", b)
    patch(s, code, ta, {"repeat": "all"})
    st, b, _ = control(s, code, ta, "next")
    a = playback_of(b)
    t.check(st == 200 and a.get("item_id") == items[0][0] and a.get("state") == "playing"
            and a.get("position_us") == 0, "repeat all: next on the last item plays the first", b)
    control(s, code, ta, "pause")
    control(s, code, ta, "jump", item_id=items[-1][0])
    control(s, code, ta, "pause")
    st, b, _ = control(s, code, ta, "next")
    t.check(st == 200 and playback_of(b).get("item_id") == items[0][0]
            and playback_of(b).get("state") == "paused",
            "repeat all: next on the last item when paused: paused on the first", b)
    st, b, _ = control(s, code, ta, "prev")
    t.check(st == 200 and playback_of(b).get("item_id") == items[-1][0],
            "repeat all: prev on the first item: the last", b)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        iid, dur = items[-1]
        a = end_soon(t, s, code, ta, iid, dur)
        end = a["at_us"] + dur - a["position_us"]
        ev = advance_after(ws, a)
        t.check(ev is not None and ev["item_id"] == items[0][0] and ev["state"] == "playing"
                and ev["position_us"] == 0 and ev["at_us"] == end,
                "repeat all: after the last item the first, at exactly its end", (ev, end))
    finally:
        ws.close()
    patch(s, code, ta, {"repeat": "off"})
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        iid, dur = items[-1]
        a = end_soon(t, s, code, ta, iid, dur)
        end = a["at_us"] + dur - a["position_us"]
        ev = advance_after(ws, a)
        t.check(ev is not None and ev["state"] == "stopped" and ev["item_id"] == items[0][0]
                and ev["at_us"] == end,
                "repeat off: after the last item the room stops on the first", (ev, end))
    finally:
        ws.close()


def walk(s, code, ta, start, n):
    """The items next visits from start, n - 1 steps, and the status after."""
    control(s, code, ta, "jump", item_id=start)
    seen = [start]
    for _ in range(n - 1):
        st, b, _ = control(s, code, ta, "next")
        if st != 200:
            return seen, st
        seen.append(playback_of(b).get("item_id"))
    st, _, _ = control(s, code, ta, "next")
    return seen, st


def order_from(s, code, ta, ids):
    """The whole play order: prev from any item back to the first, then walk."""
    control(s, code, ta, "jump", item_id=ids[0])
    first = ids[0]
    for _ in range(len(ids)):
        st, b, _ = control(s, code, ta, "prev")
        cur = playback_of(b).get("item_id")
        if st != 200 or cur == first:
            break
        first = cur
    return walk(s, code, ta, first, len(ids))


def t_shuffle(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    ids = [i for i, _ in ctx["items"]]
    patch(s, code, ta, {"repeat": "off", "shuffle": False})
    seen, st = walk(s, code, ta, ids[0], len(ids))
    t.check(seen == ids and st == 409, "shuffle off: next follows the playlist, 409 at its end",
            (seen, st))
    st, b, _ = patch(s, code, ta, {"shuffle": True})
    t.check(st == 200 and b.get("shuffle") is True, "shuffle on", b)
    order, st = order_from(s, code, ta, ids)
    t.check(sorted(order) == sorted(ids) and len(order) == len(ids) and st == 409,
            "shuffle: next visits every item once, then 409 (repeat off)", (order, st))
    again, st2 = walk(s, code, ta, order[0], len(ids))
    t.check(again == order and st2 == 409, "shuffle: the same order the second time", again)
    st, b, _ = patch(s, code, ta, {"shuffle": True})
    again, _ = walk(s, code, ta, order[0], len(ids))
    t.check(again == order, "shuffle: setting it on again keeps the order", again)
    st, b, _ = patch(s, code, ta, {"repeat": "all"})
    control(s, code, ta, "jump", item_id=order[-1])
    st, b, _ = control(s, code, ta, "next")
    t.check(st == 200 and playback_of(b).get("item_id") == order[0],
            "shuffle + repeat all: next on the last of the order is the first", b)
    # Auto-advance follows the order too.
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        dur = dict(ctx["items"])[order[0]]
        a = end_soon(t, s, code, ta, order[0], dur)
        end = a["at_us"] + dur - a["position_us"]
        ev = advance_after(ws, a)
        t.check(ev is not None and ev["item_id"] == order[1] and ev["at_us"] == end,
                "shuffle: the advance plays the next of the order, gaplessly", (ev, order))
    finally:
        ws.close()
    patch(s, code, ta, {"shuffle": False, "repeat": "off"})
    seen, st = walk(s, code, ta, ids[0], len(ids))
    t.check(seen == ids and st == 409, "shuffle off again: the playlist order", seen)
    patch(s, code, ta, {"shuffle": True})
    order2, st = order_from(s, code, ta, ids)
    t.check(sorted(order2) == sorted(ids) and st == 409,
            "shuffle on again: a new permutation of the same items", order2)
    patch(s, code, ta, {"shuffle": False})
    control(s, code, ta, "stop")


def pb_event(ws, seq):
    """The playback event with this seq (a command's answer names it)."""
    return recv_until(ws, lambda m: m.get("type") == "playback" and m.get("seq") == seq,
                      timeout=WAIT_S)


def beacon_where(ws, pred):
    """The first beacon for which pred holds (a reload does not publish a
    playback event: the room's beacons, every second, carry the change)."""
    return recv_until(ws, lambda m: m.get("type") == "beacon" and pred(m), timeout=WAIT_S)


def next_of(s, code, token):
    """next_item_id of the room's playback as GET /api/rooms/{code} has it."""
    return playback_of(room(s, code, token)[1]).get("next_item_id", "absent")


def t_next_steps(t, s, c, order):
    """next through the whole shuffle order: each event's item is the previous
    event's next_item_id, and the reply, GET and a new listener's snapshot
    agree with the event; the last item has none (repeat off)."""
    code, ta, tb = c["code"], c["ta"], c["tb"]
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    chain, agree = [], []
    try:
        st, b, _ = control(s, code, ta, "jump", item_id=order[0])
        for k in range(len(order)):
            if k > 0:
                st, b, _ = control(s, code, ta, "next")
            ev = pb_event(ws, b.get("seq") if isinstance(b, dict) else None) or {}
            chain.append((ev.get("item_id"), ev.get("next_item_id", "absent")))
            agree.append((ev.get("next_item_id", "absent"),
                          playback_of(b).get("next_item_id", "absent"), next_of(s, code, tb)))
    finally:
        ws.close()
    t.check(all(chain[k][0] == chain[k - 1][1] for k in range(1, len(chain))),
            "shuffle: every next's item is the previous event's next_item_id", chain)
    t.check([n for _, n in chain] == order[1:] + [None],
            "shuffle: next_item_id walks the play order, null on its last item (repeat off)",
            (chain, order))
    t.check(all(a == b == g for a, b, g in agree),
            "the control reply and GET /api/rooms/{code} carry the event's next_item_id", agree)
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        snap = recv_until(ws, lambda m: m.get("type") == "playback")
    finally:
        ws.close()
    t.check(snap is not None and snap.get("item_id") == order[-1]
            and "next_item_id" in snap and snap["next_item_id"] is None,
            "a new listener's snapshot carries next_item_id", snap)


def t_next_modes(t, s, c, order):
    """Settings and playlist changes (remove, add) while the anchor stays: the
    beacons (and GET) name the new next item; pause keeps it, stop clears it."""
    code, ta, tb = c["code"], c["ta"], c["tb"]
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        cur = order[-1]
        st, b, _ = control(s, code, ta, "jump", item_id=cur)
        ev = pb_event(ws, b.get("seq"))
        t.check(ev is not None and ev["item_id"] == cur and "next_item_id" in ev
                and ev["next_item_id"] is None,
                "playing the last of the order (repeat off): next_item_id null", ev)
        patch(s, code, ta, {"repeat": "all"})
        bc = beacon_where(ws, lambda m: m.get("next_item_id") == order[0])
        t.check(bc is not None and bc["item_id"] == cur and next_of(s, code, tb) == order[0],
                "repeat all set on the last item: beacons and GET name the first of the order",
                bc)
        patch(s, code, ta, {"repeat": "one"})
        bc = beacon_where(ws, lambda m: m.get("next_item_id") == cur)
        t.check(bc is not None and next_of(s, code, tb) == cur,
                "repeat one: next_item_id is the item itself", bc)
        patch(s, code, ta, {"repeat": "off"})
        bc = beacon_where(ws, lambda m: m.get("next_item_id", "absent") is None)
        t.check(bc is not None and next_of(s, code, tb) is None,
                "repeat off again on the last item: next_item_id null", bc)
        st, b, _ = control(s, code, ta, "jump", item_id=order[0])
        ev = pb_event(ws, b.get("seq"))
        t.check(ev is not None and ev.get("next_item_id") == order[1],
                "jump to the first of the order: next_item_id is the second", ev)
        st, b, h = s.request("DELETE", "/api/rooms/%s/playlist/%d" % (code, order[1]),
                             token=ta, headers={"If-Match": "*"})
        bc = beacon_where(ws, lambda m: m.get("next_item_id") == order[2])
        t.check(st == 200 and bc is not None and bc["item_id"] == order[0]
                and next_of(s, code, tb) == order[2],
                "the next item removed: beacons and GET name the one after it", (st, b, bc))
        patch(s, code, ta, {"shuffle": False})
        pl = room(s, code, ta)[1]["playlist"]
        st, b, _ = control(s, code, ta, "jump", item_id=pl[-1]["id"])
        ev = pb_event(ws, b.get("seq"))
        st, b, _ = s.request("POST", "/api/rooms/%s/playlist" % code,
                             {"track_id": pl[0]["track"]["id"]}, token=ta,
                             headers={"If-Match": "*"})
        new = b.get("item_id") if isinstance(b, dict) else None
        bc = beacon_where(ws, lambda m: new is not None and m.get("next_item_id") == new)
        t.check(ev is not None and ev.get("next_item_id", "absent") is None and st == 201
                and bc is not None and bc["item_id"] == pl[-1]["id"]
                and next_of(s, code, tb) == new,
                "an item added after the last (shuffle and repeat off): beacons and GET name it",
                (ev, st, bc))
        st, b, _ = control(s, code, ta, "pause")
        ev = pb_event(ws, b.get("seq"))
        t.check(ev is not None and ev["state"] == "paused" and ev.get("next_item_id") == new,
                "paused: next_item_id stays what follows when it plays on", ev)
        st, b, _ = control(s, code, ta, "stop")
        ev = pb_event(ws, b.get("seq"))
        t.check(ev is not None and ev["state"] == "stopped" and "next_item_id" in ev
                and ev["next_item_id"] is None and next_of(s, code, tb) is None,
                "stopped: next_item_id null", ev)
    finally:
        ws.close()


def t_next_advance(t, s, c, order):
    """Auto-advances: the advance plays exactly the next_item_id announced
    (shuffle, repeat one), and after the last item (repeat off) none was."""
    code, ta, tb = c["code"], c["ta"], c["tb"]
    dur = c["dur"]
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        for mode, item in (("off", order[0]), ("one", order[2]), ("off", order[-1])):
            patch(s, code, ta, {"repeat": mode})
            a = end_soon(t, s, code, ta, item, dur[item])
            seek = pb_event(ws, a.get("seq")) or {}
            ev = advance_after(ws, a) or {}
            want = {"off": order[order.index(item) + 1] if item != order[-1] else None,
                    "one": item}[mode]
            t.check(seek.get("next_item_id", "absent") == want
                    and a.get("next_item_id", "absent") == want,
                    "repeat %s, item %d: the anchor names next_item_id %r" % (mode, item, want),
                    (seek, a))
            if want is None:
                t.check(ev.get("state") == "stopped" and ev.get("next_item_id", "absent") is None,
                        "after the last item (repeat off) the room stops, as announced", ev)
            else:
                t.check(ev.get("state") == "playing" and ev.get("item_id") == want,
                        "repeat %s: the advance plays the announced next_item_id" % mode, ev)
    finally:
        ws.close()
        control(s, code, ta, "stop")


def t_next_item(t, s, ctx):
    """next_item_id in a room of its own, shuffled (what a client prefetches)."""
    code, ta, _ = create_room(s, "erin")
    tb, _ = join_room(s, code, "frank")
    for tid in [i["track"]["id"] for i in room(s, code, ta)[1]["playlist"]]:
        s.request("POST", "/api/rooms/%s/playlist" % code, {"track_id": tid}, token=ta,
                  headers={"If-Match": "*"})  # the demo tracks again: 6 items
    items = items_of(s, code, ta)
    c = {"code": code, "ta": ta, "tb": tb, "dur": dict(items)}
    st, r, _ = room(s, code, tb)
    t.check(st == 200 and "next_item_id" in r.get("playback", {})
            and r["playback"]["next_item_id"] is None,
            "GET room, stopped: playback.next_item_id is null", r.get("playback"))
    patch(s, code, ta, {"shuffle": True, "repeat": "off"})
    ids = [i for i, _ in items]
    order, st = order_from(s, code, ta, ids)
    if not t.check(len(ids) >= 4 and sorted(order) == sorted(ids) and st == 409,
                   "the next_item_id room: 4 or more items, their shuffle order", order):
        return
    t_next_steps(t, s, c, order)
    t_next_advance(t, s, c, order)
    t_next_modes(t, s, c, order)


def ping_loop(ws, rtt_us, seconds, state):
    """Sends pings reporting rtt_us for a while, reading the answers."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        state["id"] += 1
        ws.send(json.dumps({"type": "ping", "id": state["id"], "t0": now_us(), "rtt_us": rtt_us}))
        recv_until(ws, lambda m: m.get("type") == "pong" and m.get("id") == state["id"],
                   timeout=0.6)


def lead_seen(s, code, ta):
    """Seeks while playing; returns (at_us - before, at_us - after), the lead
    bounded from above and below by the request's send and answer times."""
    before = now_us()
    st, b, _ = control(s, code, ta, "seek", position_us=0)
    after = now_us()
    at = playback_of(b).get("at_us")
    if st != 200 or at is None:
        return None, None
    return at - before, at - after


def wait_lead(s, code, ta, ws, rtt_us, pred):
    """Keeps reporting rtt_us (when ws) until the lead seen satisfies pred,
    for at most WAIT_S; returns the last (upper, lower) pair."""
    state = {"id": 0}
    deadline = time.time() + WAIT_S
    seen = (None, None)
    while time.time() < deadline:
        if ws is not None:
            ping_loop(ws, rtt_us, 0.7, state)
        else:
            time.sleep(0.5)
        seen = lead_seen(s, code, ta)
        if seen[0] is not None and pred(seen):
            break
    return seen


def t_adaptive_lead(t, s, ctx):
    code, ta, tb = ctx["code"], ctx["ta"], ctx["tb"]
    control(s, code, ta, "jump", item_id=ctx["items"][0][0])
    hi, lo = lead_seen(s, code, ta)
    t.check(hi is not None and lo <= LEAD_MIN_US < hi + 1 and hi < 2 * 400_000 + MARGIN_US,
            "no round trips reported: the minimum lead, 250 ms", (hi, lo))
    ws = websocket.create_connection(s.ws_url(code, tb), timeout=5)
    try:
        # A ping with a malformed rtt_us is still answered.
        ws.send(json.dumps({"type": "ping", "id": 99, "t0": 5, "rtt_us": "lots"}))
        pong = recv_until(ws, lambda m: m.get("type") == "pong" and m.get("id") == 99)
        t.check(pong is not None and pong["t0"] == 5 and "rtt_us" not in pong,
                "a ping with a malformed rtt_us is answered all the same", pong)
        want = 2 * 400_000 + MARGIN_US
        hi, lo = wait_lead(s, code, ta, ws, 400_000, lambda p: p[0] >= want)
        t.check(hi is not None and hi >= want and lo <= want,
                "listener reports 400 ms: starts scheduled 2 x 400 + 50 = 850 ms ahead",
                (hi, lo))
        a = room(s, code, tb)[1]["playback"]
        t.check(a["state"] == "playing" and a["at_us"] - now_us() <= want,
                "the room's anchor carries that start", a)
        hi, lo = wait_lead(s, code, ta, ws, 5_000_000, lambda p: p[0] >= LEAD_MAX_US)
        t.check(hi is not None and hi >= LEAD_MAX_US and lo <= LEAD_MAX_US,
                "listener reports 5 s: the lead is capped at 2 s", (hi, lo))
    finally:
        ws.close()
    hi, lo = wait_lead(s, code, ta, None, 0, lambda p: p[1] <= LEAD_MIN_US)
    t.check(hi is not None and lo <= LEAD_MIN_US and hi >= LEAD_MIN_US,
            "once the listener leaves: back to the minimum", (hi, lo))
    control(s, code, ta, "stop")


def main():
    t = Tap()
    s = Stack(name="modes")
    ctx = {}
    try:
        s.start()
        code, ta, admin = create_room(s, "alice")
        tb, _ = join_room(s, code, "bob")
        ctx.update(code=code, ta=ta, tb=tb, admin_id=admin["id"])
        ctx["items"] = items_of(s, code, ta)
        if t.check(len(ctx["items"]) >= 3 and all(d > 3_000_000 for _, d in ctx["items"]),
                   "the room has at least 3 library tracks longer than 3 s", ctx["items"]):
            for fn in (t_settings, t_repeat_one, t_repeat_all, t_shuffle, t_adaptive_lead,
                       t_next_item):
                t.run(fn, s, ctx)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
