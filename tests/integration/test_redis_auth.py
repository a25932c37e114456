"""test_redis_auth.py - a stack whose Redis requires a password
(TUTTI_REDIS_PASSWORD: run.sh sets requirepass, the daemons send AUTH): it
comes up healthy, a room plays and chats through both relays' pub/sub, and
Redis really refuses a client without the password. A relay and a worker
started by hand with a wrong password log the refusal once, keep retrying
without crashing (the relay answers upgrades 503 meanwhile), stop cleanly
on SIGTERM and never print the password.
Run: /usr/bin/python3 tests/integration/test_redis_auth.py   (TAP output)
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Stack, Tap, create_room, recv_until  # noqa: E402

import websocket  # noqa: E402

# A space and a '%' on purpose: the password is one argument everywhere.
PASSWORD = "tutti %s " + secrets.token_hex(12)
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def resp(*args):
    """One command in RESP (binary safe)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis_line(sock):
    """The first line of Redis's next reply, decoded, without CRLF."""
    buf = b""
    while not buf.endswith(b"\r\n"):
        data = sock.recv(4096)
        if not data:
            raise OSError("Redis closed the connection")
        buf += data
    return buf[:-2].decode(errors="replace")


def unix_ws(path, code, token):
    """A WebSocket straight to a relay's unix socket (no nginx, no Origin)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return websocket.create_connection("ws://localhost/ws?room=%s&token=%s" % (code, token),
                                       timeout=5, socket=sock, suppress_origin=True)


def t_healthy(t, s):
    st, body, _ = s.request("GET", "/api/healthz")
    t.check(st == 200 and body.get("status") == "ok" and body.get("redis") is True
            and body.get("worker") is True,
            "healthz: the API and the active worker authenticated to Redis", body)


def t_play_and_chat(t, s):
    code, token, _ = create_room(s, "alice")
    ws = websocket.create_connection(s.ws_url(code, token), timeout=5)
    try:
        hello = json.loads(ws.recv())
        t.check(hello.get("type") == "hello" and hello.get("relay") in ("r1", "r2"),
                "a listener through nginx gets hello (the relay's subscription was "
                "confirmed)", hello)
        st, body, _ = s.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                                token=token)
        t.check(st == 200, "play", body)
        e = recv_until(ws, lambda m: m.get("type") == "playback" and m.get("seq") ==
                       (body or {}).get("seq"))
        t.check(e is not None and e.get("state") == "playing",
                "the listener gets the playback event (relay pub/sub authenticated)", e)
        st, chat, _ = s.request("POST", "/api/rooms/%s/chat" % code, {"text": "auth ok"},
                                token=token)
        t.check(st == 201, "a chat message is accepted", (st, chat))
        e = recv_until(ws, lambda m: m.get("type") == "chat")
        t.check(e is not None and "auth ok" in json.dumps(e),
                "the listener gets the chat event", e)
    finally:
        ws.close()
    for i in (1, 2):
        path = os.path.join(s.run, "relay-%d.sock" % i)
        w = unix_ws(path, code, token)
        try:
            hello = json.loads(w.recv())
            snap = json.loads(w.recv())
            t.check(hello.get("relay") == "r%d" % i and snap.get("type") == "playback"
                    and snap.get("state") == "playing",
                    "relay r%d: hello, then the snapshot read from Redis" % i, (hello, snap))
            s.request("POST", "/api/rooms/%s/chat" % code, {"text": "via r%d" % i},
                      token=token)
            e = recv_until(w, lambda m: m.get("type") == "chat" and
                           "via r%d" % i in json.dumps(m))
            t.check(e is not None, "relay r%d relays a chat event" % i, e)
        finally:
            w.close()


def t_redis_requires(t, s):
    path = os.path.join(s.run, "redis.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(path)
        sock.sendall(resp("PING"))
        line = redis_line(sock)
        t.check(line.startswith("-NOAUTH"), "Redis answers PING without AUTH with NOAUTH", line)
        sock.sendall(resp("AUTH", "not-" + PASSWORD))
        line = redis_line(sock)
        t.check(line.startswith("-WRONGPASS"), "Redis refuses a wrong password", line)
        sock.sendall(resp("AUTH", PASSWORD))
        auth = redis_line(sock)
        sock.sendall(resp("PING"))
        pong = redis_line(sock)
        t.check(auth == "+OK" and pong == "+PONG",
                "with the stack's password Redis answers PING", (auth, pong))
    finally:
        sock.close()


def wait_log(path, pred, proc, limit=30):
    """Waits until pred(log text) holds or proc exits (limit s as a safety
    net). Returns the text."""
    deadline = time.time() + limit
    text = ""
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            text = f.read()
        if pred(text) or proc.poll() is not None:
            break
        time.sleep(0.1)
    return text


def stop(proc):
    """SIGTERM, then SIGKILL if it hangs; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed"
    return proc.returncode


def wrong_env(s, wrong):
    env = dict(s.env, TUTTI_REDIS_PASSWORD=wrong)
    env.pop("REDISCLI_AUTH", None)
    return env


def t_relay_wrong(t, s, tmp):
    wrong = "wrong-" + secrets.token_hex(8)
    sock, logp = os.path.join(tmp, "rx.sock"), os.path.join(tmp, "rx.log")
    with open(logp, "wb") as log:
        p = subprocess.Popen([os.path.join(ROOT, "bin", "tutti-relay"), "-v", "-l",
                              "unix:" + sock, "-R", os.path.join(s.run, "redis.sock"),
                              "-i", "rx"], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=wrong_env(s, wrong), cwd=ROOT)
    try:
        # The first refusal is logged at err level; the retries after it at
        # debug level (-v) only: wait for three of those.
        text = wait_log(logp, lambda x: x.count("Redis refused the password; retry in") >= 3
                        and os.path.exists(sock), p)
        alive = p.poll() is None
        t.check(alive and text.count("Redis refused the password; retry in") >= 3,
                "a relay with a wrong password keeps retrying and stays up", text[-2000:])
        refusals = [l for l in text.splitlines() if " error " in l and
                    "Redis refused the password (" in l]
        t.check(len(refusals) == 1 and "rds_login_cb" in refusals[0]
                and "WRONGPASS" in refusals[0],
                "the refusal is logged once, clearly, naming the function",
                refusals or text[-2000:])
        st = None
        if alive:
            code, token, _ = create_room(s, "rx-check")
            try:
                unix_ws(sock, code, token).close()
                st = 101
            except websocket.WebSocketBadStatusException as e:
                st = e.status_code
        t.check(st == 503, "meanwhile its upgrades get 503", st)
    finally:
        rc = stop(p)
    with open(logp, errors="replace") as f:
        text = f.read()
    t.check(rc == 0 and not any(m in text for m in SANITIZER_MARKS),
            "SIGTERM stops it cleanly (exit 0, no sanitizer report)", (rc, text[-1500:]))
    t.check(wrong not in text, "its output never contains the password", text[-1500:])


def t_worker_wrong(t, s, tmp):
    wrong = "wrong-" + secrets.token_hex(8)
    logp = os.path.join(tmp, "wx.log")
    with open(logp, "wb") as log:
        p = subprocess.Popen([os.path.join(ROOT, "bin", "tutti-worker"), "-v", "-d", s.data,
                              "-R", os.path.join(s.run, "redis.sock"), "-i", "worker-x"],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=wrong_env(s, wrong), cwd=ROOT)
    try:
        again = "refused the password again"
        text = wait_log(logp, lambda x: ("reader: " in x and "writer: " in x and
                                         x.count(again) >= 4), p)
        t.check(p.poll() is None and text.count(again) >= 4,
                "a worker with a wrong password keeps retrying and stays up", text[-2000:])
        refusals = sorted(l.split("rconn_on_auth: ", 1)[-1].split(":", 1)[0]
                          for l in text.splitlines()
                          if " error " in l and "refused the password (" in l)
        t.check(refusals == ["reader", "writer"],
                "each of its two connections logs the refusal once", refusals or text[-2000:])
        st, body, _ = s.request("GET", "/api/healthz")
        t.check(st == 200 and body.get("worker"), "the stack's own workers carry on", body)
    finally:
        rc = stop(p)
    with open(logp, errors="replace") as f:
        text = f.read()
    t.check(rc == 0 and not any(m in text for m in SANITIZER_MARKS),
            "SIGTERM stops it cleanly (exit 0, no sanitizer report)", (rc, text[-1500:]))
    t.check(wrong not in text, "its output never contains the password", text[-1500:])


def main():
    t = Tap()
    s = Stack(name="redis-auth", relays=2, env={"TUTTI_REDIS_PASSWORD": PASSWORD})
    tmp = tempfile.mkdtemp(prefix="tutti-auth-")
    try:
        s.start_or_end(t)
        t.run(t_healthy, s)
        t.run(t_play_and_chat, s)
        t.run(t_redis_requires, s)
        t.run(t_relay_wrong, s, tmp)
        t.run(t_worker_wrong, s, tmp)
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    t.check(PASSWORD not in s.final_log, "the stack's log never contains the password")
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
