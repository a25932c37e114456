"""test_relay.py - the relay's own behaviour through nginx: the Origin
check of the upgrade; the room's snapshot sent to a listener right after
its hello (read from Redis by the first listener's relay, kept from the
event stream for the next ones); /metrics on its local port; a Redis
restart in the middle of a stream (listeners told to resync, then events
again); sockets whose session ends (the user left or was removed, the room
closed) get that event and then a close (4401, 4410), others stay.
Run: /usr/bin/python3 tests/integration/test_relay.py   (TAP output)
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap, create_room, free_port, join_room, recv_until  # noqa: E402

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


def metrics(s):
    """The relay's counters, {name: value} (labels dropped)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.metrics_port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name.split("{")[0]] = float(value)
    return out


def t_metrics(t, s):
    before = metrics(s)
    code, token, _ = create_room(s, "alice")
    ws = [websocket.create_connection(s.ws_url(code, token), timeout=5) for _ in range(3)]
    try:
        for w in ws:
            w.recv()
        m = metrics(s)
        t.check(m["tutti_relay_connections"] == before["tutti_relay_connections"] + 3,
                "/metrics counts the open listeners", m)
        s.request("POST", "/api/rooms/%s/chat" % code, {"text": "hi"}, token=token)
        for w in ws:
            recv_until(w, lambda e: e.get("type") == "chat")
        m2 = metrics(s)
        t.check(m2["tutti_relay_frames_out_total"] >= m["tutti_relay_frames_out_total"] + 3
                and m2["tutti_relay_bytes_out_total"] > m["tutti_relay_bytes_out_total"],
                "/metrics counts frames and bytes out", (m, m2))
        try:
            websocket.create_connection(s.ws_url(code, "x" * 32), timeout=5).close()
        except websocket.WebSocketBadStatusException:
            pass
        t.check(metrics(s)["tutti_relay_refused_total"] >= m["tutti_relay_refused_total"] + 1,
                "/metrics counts refusals", metrics(s))
    finally:
        for w in ws:
            w.close()
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % s.metrics_port, timeout=5)
        st = 200
    except urllib.error.HTTPError as e:
        st = e.code
    t.check(st == 404, "the metrics port answers 404 elsewhere", st)


def t_redis_restart(t, s):
    code, token, _ = create_room(s, "alice", policy="everyone")
    ws = websocket.create_connection(s.ws_url(code, token), timeout=5)
    try:
        ws.recv()
        before = metrics(s)["tutti_relay_redis_reconnects_total"]
        subprocess.run(["redis-cli", "-s", os.path.join(s.run, "redis.sock"), "DEBUG",
                        "RESTART"], capture_output=True, timeout=10)
        ev = recv_until(ws, lambda e: e.get("type") == "resync", timeout=10)
        t.check(ev is not None and ev.get("reason") == "redis",
                "after a Redis restart the listener is told to resync", ev)
        # The room's keys went with Redis (no persistence in the dev stack);
        # GET of the room writes them again, as a client does after resync.
        deadline = time.time() + 10
        st = 0
        while time.time() < deadline and st != 200:
            st, _, _ = s.request("GET", "/api/rooms/" + code, token=token)
            time.sleep(0.2)
        deadline = time.time() + 10
        ev = None
        while time.time() < deadline and ev is None:
            s.request("POST", "/api/rooms/%s/chat" % code, {"text": "after"}, token=token)
            ev = recv_until(ws, lambda e: e.get("type") == "chat", timeout=1)
        t.check(ev is not None and ev["message"]["text"] == "after",
                "and then gets the room's events again on the same connection", ev)
        t.check(metrics(s)["tutti_relay_redis_reconnects_total"] == before + 1,
                "/metrics counts the Redis reconnect", metrics(s))
    finally:
        ws.close()


def until_close(ws, timeout=5.0):
    """Reads a listener until the relay closes it; returns (the text
    messages' types, the close code), the code None when no close came."""
    types, deadline = [], time.time() + timeout
    while time.time() < deadline:
        ws.settimeout(max(0.05, deadline - time.time()))
        try:
            op, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            break
        except Exception:  # noqa: BLE001 - the socket went without a close frame
            return types, 0
        if op == websocket.ABNF.OPCODE_CLOSE:
            return types, int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
        if op == websocket.ABNF.OPCODE_TEXT:
            types.append(json.loads(data).get("type"))
    return types, None


def t_session_end(t, s):
    code, alice, _ = create_room(s, "alice")
    bob, bob_user = join_room(s, code, "bob")
    carol, _ = join_room(s, code, "carol")
    socks = {k: websocket.create_connection(s.ws_url(code, tok), timeout=5)
             for k, tok in (("alice", alice), ("bob1", bob), ("bob2", bob), ("carol", carol))}
    try:
        for ws in socks.values():
            ws.recv()
        st, _, _ = s.request("DELETE", "/api/rooms/%s/users/%d" % (code, bob_user["id"]),
                             token=alice)
        t.check(st == 204, "the admin removes bob", st)
        for k in ("bob1", "bob2"):
            types, closed = until_close(socks[k])
            t.check("user_left" in types and closed == 4401,
                    "%s: bob's socket gets user_left, then the close 4401" % k, (types, closed))
        msg = recv_until(socks["carol"], lambda m: m.get("type") == "chat")
        t.check(msg is not None, "carol's socket stays open and gets the chat line after it", msg)
        st, _, _ = s.request("POST", "/api/rooms/%s/chat" % code, {"text": "still here?"},
                             token=carol)
        msg = recv_until(socks["alice"], lambda m: m.get("type") == "chat" and
                         m.get("message", {}).get("text") == "still here?")
        t.check(st == 201 and msg is not None, "the others still talk after bob's sockets closed",
                (st, msg))
        st, _, _ = s.request("DELETE", "/api/rooms/%s" % code, token=alice)
        t.check(st == 204, "the admin closes the room", st)
        for k in ("alice", "carol"):
            types, closed = until_close(socks[k])
            t.check("room_closed" in types and closed == 4410,
                    "%s: room_closed, then the close 4410" % k, (types, closed))
    finally:
        for ws in socks.values():
            ws.close()


def t_sigterm(t, s):
    """Last: the relay's exit ends the stack (run.sh stops when a process does)."""
    code, token, _ = create_room(s, "alice")
    ws = websocket.create_connection(s.ws_url(code, token), timeout=5)
    ws.recv()
    pid = subprocess.run(["pgrep", "-f", "tutti-relay .*%s" % s.run], capture_output=True,
                         text=True).stdout.split()
    t.check(len(pid) == 1, "one relay process", pid)
    os.kill(int(pid[0]), 15)
    code_seen = None
    deadline = time.time() + 5
    while time.time() < deadline and code_seen is None:
        try:
            op, data = ws.recv_data(control_frame=True)
        except Exception:  # noqa: BLE001 - the socket went without a close frame
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            code_seen = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
    t.check(code_seen == 1001, "SIGTERM: the relay closes its listeners with 1001", code_seen)


def main():
    t = Tap()
    port = free_port()
    s = Stack(name="relay", relays=1, env={"TUTTI_RELAY_METRICS_PORT": str(port)})
    s.metrics_port = port
    try:
        s.start()
        for fn in (t_origin, t_snapshot, t_metrics, t_redis_restart, t_session_end, t_sigterm):
            t.run(fn, s)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
