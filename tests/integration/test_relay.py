"""test_relay.py - the relay's own behaviour through nginx: the Origin
check of the upgrade, and the room's snapshot sent to a listener right
after its hello (read from Redis by the first listener's relay, kept from
the event stream for the next ones).
Run: /usr/bin/python3 tests/integration/test_relay.py   (TAP output)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap, create_room  # noqa: E402

import websocket  # noqa: E402


def first_two(ws):
    """The first two messages after the upgrade (hello, then the snapshot)."""
    return json.loads(ws.recv()), json.loads(ws.recv())


def t_origin(t, s):
    code, token, _ = create_room(s, "alice")
    url = s.ws_url(code, token)
    own = "http://127.0.0.1:%d" % s.port
    ws = websocket.create_connection(url, timeout=5, origin=own)
    hello = json.loads(ws.recv())
    ws.close()
    t.check(hello.get("type") == "hello", "the page's own origin may connect", hello)
    ws = websocket.create_connection(url, timeout=5, suppress_origin=True)
    hello = json.loads(ws.recv())
    ws.close()
    t.check(hello.get("type") == "hello", "a client without Origin may connect", hello)
    for bad in ("http://evil.example", "http://127.0.0.1:%d.evil.example" % s.port, "null",
                "http://127.0.0.1:%d" % (s.port + 1)):
        try:
            websocket.create_connection(url, timeout=5, origin=bad).close()
            st = 101
        except websocket.WebSocketBadStatusException as e:
            st = e.status_code
        t.check(st == 403, "Origin %s: 403 before upgrading" % bad, st)


def t_snapshot(t, s):
    code, token, _ = create_room(s, "alice")
    st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                            token=token)
    t.check(st == 200, "play", body)
    ws1 = websocket.create_connection(s.ws_url(code, token), timeout=5)
    try:
        hello, snap = first_two(ws1)
        t.check(hello["type"] == "hello" and snap.get("type") == "playback"
                and snap.get("state") == "playing" and snap.get("seq") == body["seq"],
                "the first listener gets the snapshot from Redis after its hello", snap)
        ws2 = websocket.create_connection(s.ws_url(code, token), timeout=5)
        try:
            hello2, snap2 = first_two(ws2)
            t.check(snap2 == snap, "the next listener gets the same snapshot, kept by the "
                    "relay", snap2)
        finally:
            ws2.close()
        st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "pause"},
                                token=token)
        ws3 = websocket.create_connection(s.ws_url(code, token), timeout=5)
        try:
            hello3, snap3 = first_two(ws3)
            t.check(snap3.get("state") == "paused" and snap3.get("seq") == body["seq"],
                    "after a pause a new listener's snapshot is the paused anchor", snap3)
        finally:
            ws3.close()
    finally:
        ws1.close()


def main():
    t = Tap()
    s = Stack(name="relay", relays=1)
    try:
        s.start()
        for fn in (t_origin, t_snapshot):
            t.run(fn, s)
    finally:
        s.stop()
    t.done()


if __name__ == "__main__":
    main()
