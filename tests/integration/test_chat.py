"""test_chat.py - a room's chat against the real stack through nginx: posting
and listing, paging with before, the 500-character limit counted in code
points, control characters and invalid UTF-8, the per-user rate limit (429
with Retry-After), system lines for joins, authorization, and the chat event
over the WebSocket with consecutive seq.
Run: /usr/bin/python3 tests/integration/test_chat.py   (TAP output)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from stack import Events, Stack, Tap, check_seqs, is_problem  # noqa: E402

import websocket  # Debian's python3-websocket

def chat(ctx, query=""):
    return "/api/rooms/%s/chat%s" % (ctx["code"], query)


def post(s, ctx, who, text):
    return s.request("POST", chat(ctx), {"text": text}, token=ctx["t_" + who])


def join(s, ctx, name):
    st, body, _ = s.request("POST", "/api/rooms/%s/join" % ctx["code"], {"name": name})
    ctx["t_" + name] = body["token"]
    ctx[name] = body["user"]
    return st, body


def setup(t, s, ctx):
    st, body, _ = s.request("POST", "/api/rooms", {"name": "alice"})
    t.check(st == 201, "create a room", body)
    ctx.update(code=body["code"], t_alice=body["token"], alice=body["user"])
    for name in ["bob", "carol", "dave", "erin"]:
        st, body = join(s, ctx, name)
        t.check(st == 201, "%s joins" % name, body)
    _, other, _ = s.request("POST", "/api/rooms", {"name": "mallory"})
    ctx["t_mallory"] = other["token"]
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    ctx["seq0"] = room.get("seq")


def t_post(t, s, ctx, ev):
    st, m, hdrs = post(s, ctx, "alice", "  hello, room \n")
    t.check(st == 201 and m["text"] == "hello, room" and m["kind"] == "user"
            and m["user_id"] == ctx["alice"]["id"] and m["name"] == "alice"
            and isinstance(m["id"], int) and m["at_us"] > 0,
            "post: 201 with the message, trimmed", m)
    t.check(set(m) == {"id", "user_id", "name", "kind", "text", "at_us"},
            "the message has exactly id, user_id, name, kind, text, at_us", m)
    ctx["hello"] = m
    e = ev.take(1)
    t.check(len(e) == 1 and e[0]["type"] == "chat" and e[0]["message"] == m
            and e[0]["room"] == ctx["code"], "the chat event carries the same message", e)
    st, lst, _ = s.request("GET", chat(ctx), token=ctx["t_bob"])
    t.check(st == 200 and lst["messages"] and lst["messages"][-1] == m
            and lst["more"] is False, "GET: the newest message last, no more", lst)
    st, m2, _ = post(s, ctx, "bob", "tab\there\nand a second line")
    t.check(st == 201 and m2["text"] == "tab\there\nand a second line",
            "newline and tab inside the text are kept", m2)
    ev.take(1)


def t_system_lines(t, s, ctx, ev):
    st, lst, _ = s.request("GET", chat(ctx), token=ctx["t_alice"])
    sys_lines = [m for m in lst["messages"] if m["kind"] == "system"]
    texts = [m["text"] for m in sys_lines]
    t.check(all(("%s joined" % n) in texts for n in ["bob", "carol", "dave", "erin"]),
            "system lines for the joins are in the chat", texts)
    t.check(sys_lines and all(m["user_id"] is None and m["name"] == "" for m in sys_lines),
            "system lines have user_id null and an empty name", sys_lines)
    st, _ = join(s, ctx, "frank")
    e = ev.until(lambda x: x.get("type") == "chat")
    t.check(st == 201 and e and e["message"]["text"] == "frank joined"
            and e["message"]["kind"] == "system",
            "a join sends its system line over the WebSocket", e)


def t_length(t, s, ctx, ev):
    for text, who, what in [("\u00e9" * 500, "carol", "500 two-byte characters"),
                            ("\U0001f3b5" * 500, "carol", "500 four-byte characters"),
                            ("  " + "a" * 500 + "\n ", "dave", "500 characters and spaces")]:
        st, m, _ = post(s, ctx, who, text)
        t.check(st == 201 and m["text"] == text.strip(), "%s: 201" % what,
                (st, m if st != 201 else len(m["text"])))
        ev.take(1)
    for text, what in [("\u00e9" * 501, "501 two-byte characters"),
                       ("\U0001f3b5" * 501, "501 four-byte characters"),
                       ("a" * 501, "501 ASCII characters"), ("", "empty text"),
                       (" \n\t ", "only whitespace")]:
        st, body, hdrs = post(s, ctx, "dave", text)
        t.check(is_problem(st, body, hdrs, 400), "%s: 400" % what, body)


def t_refused(t, s, ctx):
    cases = [({"text": "bell\u0007"}, "a control character"),
             ({"text": "cr\rinside"}, "a carriage return inside"),
             ({"text": "esc\u001b[31m"}, "an escape sequence"),
             ({"text": "del\u007f"}, "DEL"),
             ({"text": "c1\u0085x"}, "a C1 control character"),
             ({"text": 42}, "a number"), ({"text": None}, "null"),
             ({}, "no text"), ({"text": "hi", "color": "red"}, "an unknown key")]
    for body_, what in cases:
        st, body, hdrs = s.request("POST", chat(ctx), body_, token=ctx["t_erin"])
        t.check(is_problem(st, body, hdrs, 400), "post with %s: 400" % what, body)
    for raw, what in [(b'{"text":"\\ud800"}', "a lone surrogate escape"),
                      (b'{"text":"a\\u0000b"}', "an escaped NUL"),
                      (b'{"text":"\xff\xfe"}', "raw invalid UTF-8"),
                      (b'{"text":"\xed\xa0\x80"}', "a raw encoded surrogate"),
                      (b'{"text":"\xe2\x82"}', "a truncated sequence"),
                      (b'{"text":"\xc0\xaf"}', "an overlong sequence")]:
        st, body, hdrs = s.request("POST", chat(ctx), raw=raw, token=ctx["t_erin"])
        t.check(is_problem(st, body, hdrs, 400), "post with %s: 400" % what, body)
    st, lst, _ = s.request("GET", chat(ctx), token=ctx["t_erin"])
    t.check(not [m for m in lst["messages"] if m["user_id"] == ctx["erin"]["id"]],
            "nothing refused was stored", lst)


def t_paging(t, s, ctx):
    st, full, _ = s.request("GET", chat(ctx, "?limit=100"), token=ctx["t_bob"])
    ids = [m["id"] for m in full["messages"]]
    t.check(st == 200 and len(ids) >= 10 and ids == sorted(ids) and full["more"] is False,
            "limit=100: every message, oldest first", ids)
    st, dflt, _ = s.request("GET", chat(ctx), token=ctx["t_bob"])
    t.check(st == 200 and dflt == full, "fewer than 50 messages: the default page is all", dflt)
    pages, before = [], None
    while True:
        q = "?limit=3" + ("&before=%d" % before if before else "")
        st, p, _ = s.request("GET", chat(ctx, q), token=ctx["t_bob"])
        got = [m["id"] for m in p["messages"]]
        if st != 200 or not got or len(pages) > 50:
            break
        pages.append(got)
        if not p["more"]:
            break
        before = got[0]
    t.check(all(len(p) == 3 for p in pages[:-1]) and all(p == sorted(p) for p in pages),
            "pages of 3, each oldest first", pages)
    walked = [i for p in reversed(pages) for i in p]
    t.check(walked == ids, "walking back with before=ID visits every message once", walked)
    st, p, _ = s.request("GET", chat(ctx, "?before=%d" % ids[0]), token=ctx["t_bob"])
    t.check(st == 200 and p["messages"] == [] and p["more"] is False,
            "before the oldest: nothing, no more", p)
    for q, what in [("?limit=0", "limit 0"), ("?limit=101", "limit 101"),
                    ("?limit=x", "limit not a number"), ("?before=-1", "a negative before")]:
        st, body, hdrs = s.request("GET", chat(ctx, q), token=ctx["t_bob"])
        t.check(is_problem(st, body, hdrs, 400), "list with %s: 400" % what, body)


def t_rate_limit(t, s, ctx, ev):
    sts = []
    for i in range(5):
        st, m, _ = post(s, ctx, "erin", "burst %d" % i)
        sts.append(st)
    t.check(sts == [201] * 5, "five messages in a row: all 201", sts)
    ev.take(5)
    st, body, hdrs = post(s, ctx, "erin", "one too many")
    ra = hdrs.get("retry-after", "")
    t.check(is_problem(st, body, hdrs, 429), "the sixth within the window: 429", (st, body))
    t.check(ra.isdigit() and 1 <= int(ra) <= 10, "with Retry-After between 1 and 10 s", hdrs)
    st, lst, _ = s.request("GET", chat(ctx), token=ctx["t_erin"])
    t.check("one too many" not in [m["text"] for m in lst["messages"]],
            "the refused message was not stored", lst)
    st, m, _ = post(s, ctx, "frank", "others may still talk")
    t.check(st == 201, "the limit is per user: another user posts", (st, m))
    ev.take(1)


def t_auth(t, s, ctx):
    for method, b in [("GET", None), ("POST", {"text": "hi"})]:
        st, body, hdrs = s.request(method, chat(ctx), b)
        t.check(is_problem(st, body, hdrs, 401), "%s without a token: 401" % method, body)
        st, body, hdrs = s.request(method, chat(ctx), b, token=ctx["t_mallory"])
        t.check(is_problem(st, body, hdrs, 401), "%s with another room's token: 401" % method,
                body)
    st, body, hdrs = s.request("GET", "/api/rooms/ZZZZZ/chat", token=ctx["t_alice"])
    t.check(is_problem(st, body, hdrs, 404), "an unknown room: 404", body)


def t_room_chat(t, s, ctx):
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_bob"])
    _, lst, _ = s.request("GET", chat(ctx), token=ctx["t_bob"])
    t.check(st == 200 and room.get("chat") == lst["messages"],
            "GET room carries the same last messages", room.get("chat"))


def t_seq(t, ctx, ev):
    check_seqs(t, ctx["seq0"], ev.seen)


def main():
    t = Tap()
    s = Stack(name="chat")
    s.start_or_end(t)
    ctx = {}
    try:
        setup(t, s, ctx)
        ws = websocket.create_connection(s.ws_url(ctx["code"], ctx["t_bob"]), timeout=5)
        ev = Events(ws)
        t.run(t_post, s, ctx, ev)
        t.run(t_system_lines, s, ctx, ev)
        t.run(t_length, s, ctx, ev)
        t.run(t_refused, s, ctx)
        t.run(t_paging, s, ctx)
        t.run(t_rate_limit, s, ctx, ev)
        t.run(t_auth, s, ctx)
        t.run(t_room_chat, s, ctx)
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
