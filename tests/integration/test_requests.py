"""test_requests.py - song requests against the real stack through nginx:
asking by library track and by free text, duplicate pending requests (409,
text compared case-insensitively), approval into the playlist, rejection,
fulfilling a free-text request with a track, the authorization matrix,
hostile bodies, listing and paging, and the room events with consecutive seq.
Run: /usr/bin/python3 tests/integration/test_requests.py   (TAP output)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from stack import Events, Stack, Tap, check_seqs, is_problem  # noqa: E402

import websocket  # Debian's python3-websocket

def path(ctx, suffix=""):
    return "/api/rooms/%s/requests%s" % (ctx["code"], suffix)


def ask(s, ctx, token, body):
    return s.request("POST", path(ctx), body, token=token)


def resolve(s, ctx, token, rid, body):
    return s.request("PATCH", path(ctx, "/%d" % rid), body, token=token)


def setup(t, s, ctx):
    st, body, _ = s.request("POST", "/api/rooms", {"name": "alice"})
    t.check(st == 201, "create a room", body)
    ctx.update(code=body["code"], ta=body["token"], alice=body["user"])
    st, body, _ = s.request("POST", "/api/rooms/%s/join" % ctx["code"], {"name": "bob"})
    t.check(st == 201, "bob joins", body)
    ctx.update(tb=body["token"], bob=body["user"])
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["ta"])
    tracks = [i["track"] for i in room.get("playlist", [])]
    t.check(st == 200 and len(tracks) == 3, "the demo library gives three tracks", room)
    ctx["tracks"] = tracks
    ctx["seq0"] = room.get("seq")
    _, other, _ = s.request("POST", "/api/rooms", {"name": "mallory"})
    ctx.update(other_code=other["code"], tm=other["token"])


def t_ask_track(t, s, ctx, ev):
    t1 = ctx["tracks"][0]
    st, q, hdrs = ask(s, ctx, ctx["tb"], {"track_id": t1["id"]})
    t.check(st == 201 and q["status"] == "pending" and q["track"]["id"] == t1["id"]
            and q["track"]["title"] == t1["title"] and q["text"] is None,
            "a member asks for a library track: 201 pending", q)
    t.check(q["user"] == {"id": ctx["bob"]["id"], "name": "bob"} and q["resolved_us"] is None
            and q["resolved_by"] is None and q["item_id"] is None and q["created_us"] > 0,
            "the request names its asker and is unresolved", q)
    ctx["q_track"] = q
    e = ev.take(2)
    t.check(len(e) == 2 and e[0]["type"] == "request" and e[0]["change"] == "added"
            and e[0]["request"] == q, "event request/added carries the request", e)
    t.check(len(e) == 2 and e[1]["type"] == "chat" and e[1]["message"]["kind"] == "system"
            and e[1]["message"]["text"].startswith("bob asked for " + t1["title"]),
            "a system chat line tells who asked for what", e)
    t.check(len(e) == 2 and e[0]["seq"] + 1 == e[1]["seq"], "the two events have consecutive seq",
            e)
    st, body, hdrs = ask(s, ctx, ctx["ta"], {"track_id": t1["id"]})
    t.check(is_problem(st, body, hdrs, 409), "the same track pending again (another user): 409",
            body)
    st, body, hdrs = ask(s, ctx, ctx["ta"], {"track_id": 999999})
    t.check(is_problem(st, body, hdrs, 404), "an unknown track: 404", body)


def t_ask_text(t, s, ctx, ev):
    st, q, _ = ask(s, ctx, ctx["tb"], {"text": "  Bohemian Rhapsody \t"})
    t.check(st == 201 and q["text"] == "Bohemian Rhapsody" and q["track"] is None
            and q["status"] == "pending", "ask by free text: 201, text trimmed", q)
    ctx["q_text"] = q
    e = ev.take(2)
    t.check([x.get("type") for x in e] == ["request", "chat"]
            and e[1]["message"]["text"] == 'bob asked for "Bohemian Rhapsody"',
            "free-text request announced with a chat line", e)
    for variant in ["bohemian RHAPSODY", "  BOHEMIAN rhapsody  "]:
        st, body, hdrs = ask(s, ctx, ctx["ta"], {"text": variant})
        t.check(is_problem(st, body, hdrs, 409),
                "the same text pending again, other case (%r): 409" % variant, body)
    word = "\u00e9" * 200
    st, q, _ = ask(s, ctx, ctx["ta"], {"text": word})
    t.check(st == 201 and q["text"] == word, "200 two-byte characters: accepted", q)
    ctx["q_long"] = q
    ev.take(2)


def t_bad_bodies(t, s, ctx):
    t1 = ctx["tracks"][1]["id"]
    cases = [
        ({"track_id": t1, "text": "x"}, "both track_id and text"),
        ({}, "neither track_id nor text"),
        ({"track_id": t1, "priority": 1}, "an unknown key"),
        ({"track_id": str(t1)}, "track_id as a string"),
        ({"track_id": 0}, "track_id 0"),
        ({"track_id": -3}, "a negative track_id"),
        ({"track_id": 1.5}, "a fractional track_id"),
        ({"text": ""}, "empty text"),
        ({"text": "   "}, "text of spaces"),
        ({"text": "x" * 201}, "201 characters"),
        ({"text": "\u00e9" * 201}, "201 two-byte characters"),
        ({"text": "two\nlines"}, "a newline"),
        ({"text": "bell\u0007"}, "a control character"),
        ({"text": "c1\u0085"}, "a C1 control character"),
        ({"text": None}, "text null"),
        ({"text": ["a"]}, "text as an array"),
    ]
    for body_, what in cases:
        st, body, hdrs = ask(s, ctx, ctx["tb"], body_)
        t.check(is_problem(st, body, hdrs, 400), "ask with %s: 400" % what, body)
    for raw, what in [(b'{"text":"\\ud800"}', "a lone surrogate escape"),
                      (b'{"text":"\xff\xfe"}', "raw invalid UTF-8"),
                      (b'{"text":"\xc0\xaf"}', "an overlong UTF-8 sequence"),
                      (b'{"text":"a","text":"b"}', "duplicate keys")]:
        st, body, hdrs = s.request("POST", path(ctx), raw=raw, token=ctx["tb"])
        t.check(is_problem(st, body, hdrs, 400), "ask with %s: 400" % what, body)
    st, lst, _ = s.request("GET", path(ctx, "?status=all&limit=100"), token=ctx["ta"])
    t.check(st == 200 and len(lst["requests"]) == 3, "refused requests left nothing behind",
            lst)


def t_list(t, s, ctx):
    st, lst, _ = s.request("GET", path(ctx), token=ctx["tb"])
    ids = [q["id"] for q in lst["requests"]]
    want = [ctx["q_long"]["id"], ctx["q_text"]["id"], ctx["q_track"]["id"]]
    t.check(st == 200 and ids == want and lst["more"] is False,
            "GET lists the pending requests, newest first", lst)
    t.check(lst["requests"][2] == ctx["q_track"], "a listed request equals the one created",
            lst["requests"][2])
    st, p1, _ = s.request("GET", path(ctx, "?limit=2"), token=ctx["tb"])
    t.check(st == 200 and [q["id"] for q in p1["requests"]] == want[:2] and p1["more"] is True,
            "limit=2: the two newest and more", p1)
    st, p2, _ = s.request("GET", path(ctx, "?limit=2&before=%d" % want[1]), token=ctx["tb"])
    t.check(st == 200 and [q["id"] for q in p2["requests"]] == want[2:] and p2["more"] is False,
            "before=ID: the older rest", p2)
    for q, what in [("?status=done", "an unknown status"), ("?limit=0", "limit 0"),
                    ("?limit=101", "limit 101"), ("?before=x", "before not a number"),
                    ("?before=0", "before 0")]:
        st, body, hdrs = s.request("GET", path(ctx, q), token=ctx["tb"])
        t.check(is_problem(st, body, hdrs, 400), "list with %s: 400" % what, body)


def playlist(s, ctx):
    st, body, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["ta"])
    return body


def t_approve(t, s, ctx, ev):
    before = playlist(s, ctx)
    q = ctx["q_track"]
    st, body, hdrs = resolve(s, ctx, ctx["tb"], q["id"], {"status": "approved"})
    t.check(is_problem(st, body, hdrs, 403), "a member may not approve: 403", body)
    st, a, _ = resolve(s, ctx, ctx["ta"], q["id"], {"status": "approved"})
    t.check(st == 200 and a["status"] == "approved" and a["resolved_by"] == ctx["alice"]["id"]
            and a["resolved_us"] >= q["created_us"] and isinstance(a["item_id"], int),
            "the admin approves: 200, resolved, with the playlist item", a)
    after = playlist(s, ctx)
    new = [i for i in after["items"] if i["id"] == a["item_id"]]
    t.check(len(after["items"]) == len(before["items"]) + 1 and len(new) == 1
            and new[0]["track"]["id"] == q["track"]["id"]
            and after["items"][-1]["id"] == a["item_id"],
            "the track joined the end of the playlist", after)
    t.check(after["version"] == before["version"] + 1, "the playlist version grew", after)
    e = ev.take(3)
    t.check([x.get("type") for x in e] == ["playlist", "request", "chat"],
            "events: playlist, request, chat", e)
    if len(e) == 3:
        t.check(e[0]["version"] == after["version"]
                and e[0]["items"][-1]["id"] == a["item_id"], "the playlist event has the item",
                e[0])
        t.check(e[1]["change"] == "approved" and e[1]["request"] == a,
                "event request/approved carries the request", e[1])
        t.check(e[2]["message"]["text"].startswith("alice approved bob's request for "),
                "a system line tells the approval", e[2])
        t.check(e[0]["seq"] + 1 == e[1]["seq"] and e[1]["seq"] + 1 == e[2]["seq"],
                "consecutive seq", e)
    st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], {"status": "approved"})
    t.check(is_problem(st, body, hdrs, 409), "approving twice: 409", body)
    st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], {"status": "rejected"})
    t.check(is_problem(st, body, hdrs, 409), "rejecting an approved request: 409", body)
    t.check(len(playlist(s, ctx)["items"]) == len(after["items"]),
            "the refused changes added nothing to the playlist")
    st, again, _ = ask(s, ctx, ctx["tb"], {"track_id": q["track"]["id"]})
    t.check(st == 201 and again["status"] == "pending",
            "once approved, the same track may be asked for again", again)
    ev.take(2)
    ctx["q_again"] = again


def t_fulfil_text(t, s, ctx, ev):
    q, t2 = ctx["q_text"], ctx["tracks"][1]
    st, body, hdrs = resolve(s, ctx, ctx["ta"], ctx["q_again"]["id"],
                             {"status": "approved", "track_id": t2["id"]})
    t.check(is_problem(st, body, hdrs, 400), "track_id on a request for a track: 400", body)
    st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], {"status": "approved",
                                                        "track_id": 999999})
    t.check(is_problem(st, body, hdrs, 404), "fulfil with an unknown track: 404", body)
    st, still, _ = s.request("GET", path(ctx, "?status=pending"), token=ctx["ta"])
    t.check(q["id"] in [x["id"] for x in still["requests"]], "after the 404 it is still pending",
            still)
    n = len(playlist(s, ctx)["items"])
    st, a, _ = resolve(s, ctx, ctx["ta"], q["id"], {"status": "approved", "track_id": t2["id"]})
    t.check(st == 200 and a["status"] == "approved" and a["track"]["id"] == t2["id"]
            and a["text"] == q["text"] and isinstance(a["item_id"], int),
            "a free-text request fulfilled with a library track", a)
    items = playlist(s, ctx)["items"]
    t.check(len(items) == n + 1 and items[-1]["id"] == a["item_id"]
            and items[-1]["track"]["id"] == t2["id"], "and the track is in the playlist", items)
    e = ev.take(3)
    t.check([x.get("type") for x in e] == ["playlist", "request", "chat"], "its events", e)


def t_reject(t, s, ctx, ev):
    q = ctx["q_long"]
    n = len(playlist(s, ctx)["items"])
    st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], {"status": "rejected",
                                                        "track_id": ctx["tracks"][0]["id"]})
    t.check(is_problem(st, body, hdrs, 400), "reject with a track_id: 400", body)
    for b, what in [({"status": "pending"}, "status pending"), ({"status": "ok"}, "status ok"),
                    ({}, "no status"), ({"status": "rejected", "why": "no"}, "an unknown key")]:
        st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], b)
        t.check(is_problem(st, body, hdrs, 400), "resolve with %s: 400" % what, body)
    st, rj, _ = resolve(s, ctx, ctx["ta"], q["id"], {"status": "rejected"})
    t.check(st == 200 and rj["status"] == "rejected" and rj["item_id"] is None
            and rj["resolved_by"] == ctx["alice"]["id"], "the admin rejects: 200", rj)
    t.check(len(playlist(s, ctx)["items"]) == n, "a rejection leaves the playlist alone")
    e = ev.take(2)
    t.check([x.get("type") for x in e] == ["request", "chat"] and e[0]["change"] == "rejected"
            and e[1]["message"]["text"].startswith("alice rejected alice's request"),
            "events: request/rejected and its chat line", e)
    st, body, hdrs = resolve(s, ctx, ctx["ta"], q["id"], {"status": "approved"})
    t.check(is_problem(st, body, hdrs, 409), "approving a rejected request: 409", body)
    st, body, hdrs = resolve(s, ctx, ctx["ta"], 999999, {"status": "approved"})
    t.check(is_problem(st, body, hdrs, 404), "an unknown request: 404", body)
    st, lst, _ = s.request("GET", path(ctx, "?status=rejected"), token=ctx["tb"])
    t.check(st == 200 and [x["id"] for x in lst["requests"]] == [q["id"]],
            "status=rejected lists only the rejected one", lst)
    st, lst, _ = s.request("GET", path(ctx, "?status=approved"), token=ctx["tb"])
    t.check(st == 200 and all(x["status"] == "approved" for x in lst["requests"])
            and len(lst["requests"]) == 2, "status=approved lists the two approved", lst)
    st, lst, _ = s.request("GET", path(ctx, "?status=all"), token=ctx["tb"])
    t.check(st == 200 and len(lst["requests"]) == 4, "status=all lists all four", lst)


def t_auth(t, s, ctx):
    rid = ctx["q_again"]["id"]
    calls = [("GET", path(ctx), None), ("POST", path(ctx), {"text": "auth test"}),
             ("PATCH", path(ctx, "/%d" % rid), {"status": "rejected"})]
    for method, p, b in calls:
        st, body, hdrs = s.request(method, p, b)
        t.check(is_problem(st, body, hdrs, 401), "%s without a token: 401" % method, body)
        st, body, hdrs = s.request(method, p, b, token=ctx["tm"])
        t.check(is_problem(st, body, hdrs, 401), "%s with another room's token: 401" % method,
                body)
    st, body, hdrs = s.request("PATCH", "/api/rooms/%s/requests/%d" % (ctx["other_code"], rid),
                               {"status": "rejected"}, token=ctx["tm"])
    t.check(is_problem(st, body, hdrs, 404),
            "another room's admin cannot reach this room's request: 404", body)
    st, lst, _ = s.request("GET", path(ctx), token=ctx["ta"])
    t.check([x["id"] for x in lst["requests"]] == [rid] and lst["requests"][0]["status"] ==
            "pending", "none of the refused calls changed anything", lst)


def t_room_pending(t, s, ctx):
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["tb"])
    t.check(st == 200 and [q["id"] for q in room.get("requests", [])] == [ctx["q_again"]["id"]],
            "GET room carries the pending requests", room.get("requests"))


def t_seq(t, ctx, ev):
    check_seqs(t, ctx["seq0"], ev.seen)


def main():
    t = Tap()
    s = Stack(name="requests")
    s.start_or_end(t)
    ctx = {}
    try:
        setup(t, s, ctx)
        ws = websocket.create_connection(s.ws_url(ctx["code"], ctx["ta"]), timeout=5)
        ev = Events(ws)
        t.run(t_ask_track, s, ctx, ev)
        t.run(t_ask_text, s, ctx, ev)
        t.run(t_bad_bodies, s, ctx)
        t.run(t_list, s, ctx)
        t.run(t_approve, s, ctx, ev)
        t.run(t_fulfil_text, s, ctx, ev)
        t.run(t_reject, s, ctx, ev)
        t.run(t_auth, s, ctx)
        t.run(t_room_pending, s, ctx)
        t.run(t_seq, ctx, ev)
        ws.close()
    except Exception as e:  # noqa: BLE001
        t.check(False, "no unexpected error", repr(e) + "\n" + s.logtext())
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
