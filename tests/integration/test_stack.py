"""test_stack.py - the foundation's end-to-end checks against the real
stack through nginx: rooms, joining, tokens, problem+json errors, two
WebSocket listeners on the two relays, play/pause/next/prev/seek/stop events,
beacons, time-sync pongs, gapless auto-advance, static files and media.
Run: /usr/bin/python3 tests/integration/test_stack.py   (TAP output)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Stack, Tap, is_problem, now_us, recv_until  # noqa: E402

import websocket  # Debian's python3-websocket: a client tutti did not write

ALPHABET = set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")


def t_health(t, s):
    st, body, _ = s.request("GET", "/api/healthz")
    t.check(st == 200 and body["status"] == "ok" and body["db"] and body["redis"]
            and body["worker"], "healthz reports db, redis and worker up", body)


def t_rooms(t, s, ctx):
    st, body, hdrs = s.request("POST", "/api/rooms", {"name": "  alice ", "policy": "everyone"})
    ok = st == 201 and len(body["code"]) == 5 and set(body["code"]) <= ALPHABET
    t.check(ok, "create room: 201 with a 5-character code", body)
    t.check(len(body["token"]) >= 22 and body["user"]["role"] == "admin"
            and body["user"]["name"] == "alice", "creator is admin, name trimmed", body)
    t.check(hdrs.get("location") == "/api/rooms/" + body["code"], "Location header", hdrs)
    ctx.update(code=body["code"], ta=body["token"], alice=body["user"])
    st, body, _ = s.request("POST", "/api/rooms/%s/join" % ctx["code"], {"name": "bob"})
    t.check(st == 201 and body["user"]["role"] == "member", "join: 201 as member", body)
    ctx.update(tb=body["token"], bob=body["user"])
    st, body, hdrs = s.request("POST", "/api/rooms/%s/join" % ctx["code"], {"name": "BOB"})
    t.check(is_problem(st, body, hdrs, 409), "join with a taken name (any case): 409", body)
    for bad in ["", "   ", "x" * 33, "a\u0007b", 42, None]:
        st, body, hdrs = s.request("POST", "/api/rooms/%s/join" % ctx["code"], {"name": bad})
        t.check(is_problem(st, body, hdrs, 400), "join with name %r: 400" % (bad,), body)
    st, body, hdrs = s.request("POST", "/api/rooms/ZZZZZ/join", {"name": "carol"})
    t.check(is_problem(st, body, hdrs, 404), "join an unknown room: 404", body)


def t_room_get(t, s, ctx):
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["tb"])
    t.check(st == 200 and room["code"] == ctx["code"], "GET room with a token: 200", room)
    t.check([u["name"] for u in room["users"]] == ["alice", "bob"], "users in join order",
            room["users"])
    titles = [i["track"]["title"] for i in room["playlist"]]
    t.check(titles == ["Four Chords", "Metronome 120", "Pluck Arpeggio"],
            "the demo library is the playlist, with ID3 titles", titles)
    t.check(room["playback"]["state"] == "stopped"
            and room["playback"]["item_id"] == room["playlist"][0]["id"],
            "playback starts stopped on the first item", room["playback"])
    t.check(room["you"]["id"] == ctx["bob"]["id"] and room["seq"] >= 1, "you and seq", room)
    ctx["room"] = room
    st, body, hdrs = s.request("GET", "/api/rooms/" + ctx["code"])
    t.check(is_problem(st, body, hdrs, 401), "GET room without a token: 401", body)
    st, body, hdrs = s.request("GET", "/api/rooms/" + ctx["code"], token="x" * 32)
    t.check(is_problem(st, body, hdrs, 401), "GET room with an unknown token: 401", body)
    _, other, _ = s.request("POST", "/api/rooms", {"name": "mallory"})
    st, body, hdrs = s.request("GET", "/api/rooms/" + ctx["code"], token=other["token"])
    t.check(is_problem(st, body, hdrs, 401), "a token of another room: 401", body)
    st, body, hdrs = s.request("GET", "/api/rooms/ZZZZZ", token=ctx["ta"])
    t.check(is_problem(st, body, hdrs, 404), "unknown room: 404", body)


def t_bad_requests(t, s, ctx):
    for raw, what in [("{", "truncated JSON"), ('{"name":"a","name":"b"}', "duplicate keys"),
                      ("[1]", "not an object"), ("\xff", "not UTF-8")]:
        st, body, hdrs = s.request("POST", "/api/rooms", raw=raw.encode("latin-1"))
        t.check(is_problem(st, body, hdrs, 400), "malformed body (%s): 400" % what, body)
    st, body, hdrs = s.request("POST", "/api/rooms", raw=b"{}",
                               headers={"Content-Type": "text/plain"})
    t.check(is_problem(st, body, hdrs, 415), "text/plain body: 415", body)
    st, body, hdrs = s.request("POST", "/api/rooms", raw=b'{"name":"' + b"a" * 70000 + b'"}')
    t.check(st == 413, "oversized body: 413", (st, body))
    st, body, hdrs = s.request("GET", "/api/nope")
    t.check(is_problem(st, body, hdrs, 404), "unknown endpoint: 404", body)
    st, body, hdrs = s.request("DELETE", "/api/rooms")
    t.check(is_problem(st, body, hdrs, 405) and hdrs.get("allow") == "GET, POST",
            "wrong method: 405 with Allow", (body, hdrs))
    path = "/api/rooms/%s/control" % ctx["code"]
    for body_, what in [({"action": "dance"}, "unknown action"), ({"action": "seek"}, "seek without position"),
                        ({"action": "seek", "position_us": -5}, "negative position"),
                        ({"action": "seek", "position_us": "10"}, "position as a string")]:
        st, body, hdrs = s.request("POST", path, body_, token=ctx["ta"])
        t.check(is_problem(st, body, hdrs, 400), "control with %s: 400" % what, body)
    st, body, hdrs = s.request("POST", path, {"action": "play"})
    t.check(is_problem(st, body, hdrs, 401), "control without a token: 401", body)


def t_websocket_refusals(t, s, ctx):
    for code, token, want, what in [(ctx["code"], "y" * 32, 401, "bad token"),
                                    ("ZZZZZ", ctx["ta"], 404, "unknown room")]:
        try:
            websocket.create_connection(s.ws_url(code, token), timeout=5).close()
            got = 101
        except websocket.WebSocketBadStatusException as e:
            got = e.status_code
        t.check(got == want, "WebSocket with a %s is refused %d before upgrading" % (what, want),
                got)


def close_code_after(s, ctx, send):
    """Opens a listener, lets send(ws) misbehave, returns the close code."""
    ws = websocket.create_connection(s.ws_url(ctx["code"], ctx["ta"]), timeout=5)
    recv_until(ws, lambda m: m.get("type") == "hello")
    send(ws)
    deadline = time.time() + 5
    try:
        while time.time() < deadline:
            op, data = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    except (websocket.WebSocketException, OSError):
        return None
    finally:
        ws.close()
    return None


def t_websocket_violations(t, s, ctx):
    unmasked = bytes([0x81, 0x02]) + b"{}"
    cases = [
        (lambda ws: ws.sock.sendall(unmasked), 1002, "an unmasked frame"),
        (lambda ws: ws.send(b"\xff\xfe", opcode=websocket.ABNF.OPCODE_TEXT), 1007,
         "text that is not UTF-8"),
        (lambda ws: ws.send("hello"), 1008, "text that is not JSON"),
        (lambda ws: ws.send("[" + "1," * 3000 + "1]"), 1009, "a message over 4096 bytes"),
        (lambda ws: ws.send_binary(b"\x00\x01"), 1003, "a binary message"),
    ]
    for send, want, what in cases:
        got = close_code_after(s, ctx, send)
        t.check(got == want, "the relay closes %d on %s (through nginx)" % (want, what), got)


def connect_pair(t, s, ctx):
    wa = websocket.create_connection(s.ws_url(ctx["code"], ctx["ta"]), timeout=5)
    wb = websocket.create_connection(s.ws_url(ctx["code"], ctx["tb"]), timeout=5)
    ha = recv_until(wa, lambda m: m.get("type") == "hello")
    hb = recv_until(wb, lambda m: m.get("type") == "hello")
    t.check(ha and hb and ha["relay"] != hb["relay"],
            "the two listeners are on different relays", (ha, hb))
    return wa, wb


def t_timesync(t, s, wa):
    t0 = now_us()
    wa.send(json.dumps({"type": "ping", "id": 7, "t0": t0}))
    pong = recv_until(wa, lambda m: m.get("type") == "pong")
    t3 = now_us()
    t.check(pong and pong["id"] == 7 and pong["t0"] == t0, "pong echoes id and t0", pong)
    t.check(pong and t0 <= pong["t1_us"] <= pong["t2_us"] <= t3,
            "pong times lie between send and receive (same host clock)", (t0, pong, t3))


def control(s, ctx, token, action, **kw):
    body = {"action": action}
    body.update(kw)
    return s.request("POST", "/api/rooms/%s/control" % ctx["code"], body, token=token)


def same_event(t, wa, wb, pred, desc):
    ea = recv_until(wa, pred)
    eb = recv_until(wb, pred)
    t.check(ea is not None and ea == eb, desc, (ea, eb))
    return ea


def t_playback(t, s, ctx, wa, wb):
    sent = now_us()
    st, body, _ = control(s, ctx, ctx["tb"], "play")
    t.check(st == 200 and body["playback"]["state"] == "playing", "play: 200 playing", body)
    ev = same_event(t, wa, wb, lambda m: m.get("type") == "playback",
                    "both listeners receive the same playback event")
    t.check(ev and ev["state"] == "playing" and ev["cause"] == "play"
            and ev["at_us"] > sent and ev["seq"] == body["seq"]
            and ev["item_id"] == ctx["room"]["playlist"][0]["id"],
            "the event is playing, in the future, with the reply's seq", (sent, ev, body))
    # Listeners coming online are events too (presence), so only the order
    # is known here; consecutive seqs are checked where events are counted.
    t.check(ev and ev["seq"] > ctx["room"]["seq"], "seq grows", ev)
    b = recv_until(wa, lambda m: m.get("type") == "beacon", timeout=3)
    t.check(b and b["at_us"] == ev["at_us"] and b["item_id"] == ev["item_id"]
            and abs(b["now_us"] - now_us()) < 1_000_000 and b["seq"] == ev["seq"],
            "a beacon repeats the anchor with now_us while playing", b)
    time.sleep(0.3)
    st, body, _ = control(s, ctx, ctx["ta"], "pause")
    ev2 = same_event(t, wa, wb, lambda m: m.get("type") == "playback", "both receive pause")
    t.check(ev2 and ev2["state"] == "paused" and ev2["seq"] == ev["seq"] + 1
            and 0 <= ev2["position_us"] < 2_000_000, "paused near the start", ev2)
    for action, check in [("next", lambda e: e["item_id"] == ctx["room"]["playlist"][1]["id"]),
                          ("prev", lambda e: e["item_id"] == ctx["room"]["playlist"][0]["id"]),
                          ("stop", lambda e: e["state"] == "stopped" and e["position_us"] == 0)]:
        st, body, _ = control(s, ctx, ctx["ta"], action)
        e = same_event(t, wa, wb, lambda m: m.get("type") == "playback",
                       "both receive %s" % action)
        t.check(st == 200 and e and e["cause"] == action and check(e), "%s applied" % action, e)
    st, body, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["ta"])
    t.check(body["playback"]["state"] == "stopped" and body["seq"] == e["seq"],
            "REST state agrees with the last event", body)


def t_advance(t, s, ctx, wa):
    """Seek near the end of the first track and expect the gapless advance."""
    first, second = ctx["room"]["playlist"][0], ctx["room"]["playlist"][1]
    dur = first["track"]["duration_us"]
    control(s, ctx, ctx["ta"], "play")
    recv_until(wa, lambda m: m.get("type") == "playback")
    st, body, _ = control(s, ctx, ctx["ta"], "seek", position_us=dur - 1_000_000)
    seek = recv_until(wa, lambda m: m.get("type") == "playback" and m["cause"] == "seek")
    t.check(st == 200 and seek and seek["position_us"] == dur - 1_000_000,
            "absolute seek near the end", seek)
    adv = recv_until(wa, lambda m: m.get("type") == "playback" and m["cause"] == "advance",
                     timeout=4)
    t.check(adv and adv["item_id"] == second["id"] and adv["position_us"] == 0
            and adv["at_us"] == seek["at_us"] + 1_000_000,
            "auto-advance anchors the next item at the exact end (gapless)", (seek, adv))
    t.check(adv and adv["at_us"] - now_us() > -100_000,
            "the advance is announced before the end, not after", adv)
    st, body, _ = control(s, ctx, ctx["ta"], "seek", position_us=10 ** 15)
    e = recv_until(wa, lambda m: m.get("type") == "playback" and m["cause"] == "seek")
    t.check(st == 200 and e and e["position_us"] <= second["track"]["duration_us"],
            "a seek past the end is clamped", e)
    control(s, ctx, ctx["ta"], "stop")


def t_static(t, s, ctx):
    st, _, hdrs = s.request("GET", "/")
    t.check(st == 200 and "text/html" in hdrs.get("content-type", ""), "the page at /", hdrs)
    st, _, hdrs = s.request("GET", "/r/" + ctx["code"])
    t.check(st == 200 and "text/html" in hdrs.get("content-type", ""), "share link /r/CODE", st)
    url = ctx["room"]["playlist"][0]["track"]["url"]
    st, _, hdrs = s.request("GET", url, headers={"Range": "bytes=0-99"})
    t.check(st == 206 and hdrs.get("content-type") == "audio/mpeg"
            and hdrs.get("content-length") == "100", "media served with Range as audio/mpeg",
            (st, hdrs))


def t_redis_flush(t, s, ctx):
    """Redis holds nothing durable: after FLUSHALL a GET of the room writes the
    keys the relays need again, and commands flow through a new stream group."""
    out = subprocess.run(["redis-cli", "-s", os.path.join(s.run, "redis.sock"), "FLUSHALL"],
                         capture_output=True, text=True, timeout=10)
    t.check(out.stdout.strip() == "OK", "FLUSHALL", out)
    try:
        websocket.create_connection(s.ws_url(ctx["code"], ctx["tb"]), timeout=5).close()
        refused = None
    except websocket.WebSocketBadStatusException as e:
        refused = e.status_code
    t.check(refused in (401, 404), "right after the flush the relay refuses the listener", refused)
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["tb"])
    t.check(st == 200 and len(room["users"]) == 2 and len(room["playlist"]) == 3,
            "the room survives in SQLite", room)
    ws = websocket.create_connection(s.ws_url(ctx["code"], ctx["tb"]), timeout=5)
    hello = recv_until(ws, lambda m: m.get("type") == "hello")
    t.check(hello is not None, "after a GET of the room the listener is let in again", hello)
    deadline = time.time() + 5
    while time.time() < deadline:   # the worker re-creates its stream group
        st, body, _ = control(s, ctx, ctx["ta"], "play")
        if st == 200:
            break
        time.sleep(0.2)
    ev = recv_until(ws, lambda m: m.get("type") == "playback" and m["state"] == "playing")
    t.check(st == 200 and ev and ev["seq"] == body["seq"] > room["seq"],
            "commands apply and reach listeners after the flush", (st, body, ev))
    control(s, ctx, ctx["ta"], "stop")
    ws.close()


def t_busy_port(t, s):
    """A second stack on a port in use stops at once, says why, leaves nothing."""
    tmp = tempfile.mkdtemp(prefix="tutti-busy-")
    p = subprocess.Popen([os.path.join(ROOT, "scripts", "run.sh"), "-q", "-p", str(s.port),
                          "-d", os.path.join(tmp, "data"), "-r", os.path.join(tmp, "run"),
                          "-n", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
    text = out.decode(errors="replace")
    t.check(p.returncode not in (0, None) and ("port %d is in use" % s.port) in text,
            "run.sh on a busy port exits non-zero with a message", text[-800:])
    try:
        os.killpg(p.pid, 0)
        leftover = True
    except ProcessLookupError:
        leftover = False
    t.check(not leftover, "and leaves no process behind")
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = Tap()
    s = Stack()
    s.start_or_end(t)
    ctx = {}
    try:
        t.run(t_health, s)
        t.run(t_rooms, s, ctx)
        t.run(t_room_get, s, ctx)
        t.run(t_bad_requests, s, ctx)
        t.run(t_websocket_refusals, s, ctx)
        t.run(t_websocket_violations, s, ctx)
        wa, wb = connect_pair(t, s, ctx)
        t.run(t_timesync, s, wa)
        t.run(t_playback, s, ctx, wa, wb)
        t.run(t_advance, s, ctx, wa)
        t.run(t_static, s, ctx)
        t.run(t_redis_flush, s, ctx)
        t.run(t_busy_port, s)
        wa.close()
        wb.close()
    except Exception as e:  # noqa: BLE001
        t.check(False, "no unexpected error", repr(e) + "\n" + s.logtext())
    finally:
        s.stop()
    t.check(not getattr(s, "leftover", True), "SIGTERM to run.sh leaves no process behind")
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
