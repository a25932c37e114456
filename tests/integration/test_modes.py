"""test_modes.py - repeat, shuffle and the adaptive lead through nginx and
the relays: the settings (PATCH, GET, room_updated, bad values), repeat one
and repeat all at an item's end (gapless: anchored at exactly the previous
end), next on the last item with and without repeat all, the shuffle order
(a permutation, stable, toggled), and a room whose listener reports 400 ms
round trips in its time-sync pings getting starts scheduled at least
2 x 400 + 50 ms ahead (capped at 2 s, back to 250 ms once it leaves).
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
            for fn in (t_settings, t_repeat_one, t_repeat_all, t_shuffle, t_adaptive_lead):
                t.run(fn, s, ctx)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
