"""test_rawsock.py - hostile bytes on raw sockets through nginx: malformed
HTTP (garbage request lines, bad header lines, NUL bytes, bare LF and CR,
a huge method, HTTP/0.9 and unknown versions, broken chunked encoding,
conflicting Content-Length and Transfer-Encoding, bytes after a body),
oversized request lines, headers and bodies, slowloris trickles (50 headers
a byte at a time, slow API bodies, slow tus uploads) while other clients
are served, and WebSocket floods from one client (control pings, time-sync
pings, a client that never reads, oversized, unmasked, unknown and
fragmented control frames) while other listeners of the room keep getting
every event. Afterwards the API and every relay still answer, and nothing
was lost. test_hostile.py covers JSON bodies, paths, tokens, the 10 KB
header and the 100 KB body; tests/conformance/run.py covers RFC 6455 case
by case. No check measures time; the deadlines only bound hangs.
Run: /usr/bin/python3 tests/integration/test_rawsock.py   (TAP output)
"""
import base64
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from stack import (Stack, Tap, create_room, free_port, join_room,  # noqa: E402
                   websocket_timeout)

BOUND = 8.0     # seconds: an answer or an EOF later than this is a hang
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


# ---- raw HTTP ----

def connect(s, timeout=BOUND):
    return socket.create_connection(("127.0.0.1", s.port), timeout=timeout)


def read_to_eof(c, limit=1 << 22):
    """Reads until the peer closes (or BOUND passes: then b"<hang>" is appended)."""
    out = b""
    try:
        while len(out) < limit:
            b = c.recv(65536)
            if not b:
                return out
            out += b
    except socket.timeout:
        return out + b"<hang>"
    except ConnectionResetError:
        return out
    return out


def exchange(s, data):
    """Sends data on a new connection; returns everything until EOF."""
    c = connect(s)
    try:
        c.sendall(data)
        return read_to_eof(c)
    finally:
        c.close()


def parse_responses(data):
    """Splits raw bytes into [(status, headers, body)] (Content-Length and
    chunked bodies); stops at anything it cannot parse."""
    out = []
    while data.startswith(b"HTTP/1."):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode(errors="replace")
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                n = int(size_line.split(b";")[0] or b"0", 16)
                if n == 0:
                    rest = rest.partition(b"\r\n")[2]
                    break
                body += rest[:n]
                rest = rest[n + 2:]
        else:
            n = int(hdrs.get("content-length", "0"))
            body, rest = rest[:n], rest[n:]
        out.append((status, hdrs, body))
        data = rest
    return out


def problem(resp, status):
    """True when resp is an RFC 9457 problem with this status."""
    if resp is None:
        return False
    st, hdrs, body = resp
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return (st == status and hdrs.get("content-type", "").startswith("application/problem+json")
            and j.get("status") == status and bool(j.get("title")))


def first(data):
    r = parse_responses(data)
    return r[0] if r else None


REQ = b"GET /api/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
POST = (b"POST /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n")


def t_malformed(t, s, ctx):
    bad = [
        (b"HELLO\r\n\r\n", "a garbage request line"),
        (b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", "a request line without a target"),
        (b"GET /api/health\x00z HTTP/1.1\r\nHost: x\r\n\r\n", "a NUL byte in the request line"),
        (b"GET /api/healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "a NUL byte in a header"),
        (b"GET /api/healthz HTTP/1.1\rHost: x\r\r", "bare CR line ends"),
        (b"GET /api/healthz HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 without Host"),
        (b"GET /api/healthz HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n", "an obsolete line fold"),
        (b"GET /api/healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "two Host headers"),
        (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
         "a chunk size that is not hex"),
        (POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
         "a chunk size that overflows"),
        (POST + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "both Content-Length and Transfer-Encoding"),
        (POST + b"Content-Length: 12\r\nContent-Length: 13\r\n\r\n{\"name\":\"x\"}",
         "two different Content-Lengths"),
        (POST + b"Content-Length: -1\r\n\r\n", "a negative Content-Length"),
        (POST + b"Content-Length: 1e3\r\n\r\n", "a Content-Length that is not a number"),
    ]
    for data, what in bad:
        r = exchange(s, data)
        t.check(problem(first(r), 400), "%s: 400 as problem+json" % what, r[:300])
    for data, status, what in (
            (b"A" * 10000 + b" /api/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 414,
             "a 10 KB method"),
            (b"GET /api/rooms/" + b"A" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414,
             "a 20 KB request target"),
            (b"GET /api/healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0 in plain text"),
            (b"GET /api/healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, "HTTP/9.9"),
            (POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
             "Transfer-Encoding gzip")):
        r = exchange(s, data)
        t.check(problem(first(r), status), "%s: %d as problem+json" % (what, status), r[:300])

    # What nginx lets through must reach the API intact or not at all.
    r = first(exchange(s, b"GET /api/healthz HTTP/1.1\nHost: x\nConnection: close\n\n"))
    t.check(r is not None and r[0] == 200 and json.loads(r[2]).get("status") == "ok",
            "bare LF line ends are read as CRLF: 200", r)
    r = first(exchange(s, REQ + b"NoColonHere\r\n\r\n"))
    t.check(r is not None and r[0] == 200, "a header line without a colon is ignored: 200", r)
    r = exchange(s, b"GET /api/healthz\r\n")
    t.check(r.startswith(b"{") or problem(first(r), 400),
            "HTTP/0.9: the body alone or a 400, and the connection ends", r[:200])
    r = parse_responses(exchange(s, b"POST /api/rooms HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Type: application/json\r\nContent-Length: 12\r\n\r\n"
                                    b"{\"name\":\"x\"}GARBAGE /api/rooms HTTP/1.1\r\nHost: x\r\n"
                                    b"Connection: close\r\n\r\n"))
    t.check(len(r) == 2 and r[0][0] == 201 and problem(r[1], 405),
            "bytes after a body are the next request, refused on their own (405)",
            [(x[0], x[2][:80]) for x in r])
    chunked = POST + (b"Transfer-Encoding: chunked\r\n\r\n4\r\n{\"na\r\n"
                      b"9\r\nme\":\"ch\"}\r\n0\r\n\r\n")
    r = first(exchange(s, chunked))
    t.check(r is not None and r[0] == 201 and json.loads(r[2])["user"]["name"] == "ch",
            "a well-formed chunked body reaches the API whole: 201", r)


def t_oversized(t, s, ctx):
    many = REQ + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(50)) + b"\r\n"
    r = exchange(s, many)
    t.check(problem(first(r), 400), "50 headers of 1 KB (50 KB): 400 as problem+json", r[:300])
    r = exchange(s, REQ + b"Cookie: " + b"c" * 20000 + b"\r\n\r\n")
    t.check(problem(first(r), 400), "a 20 KB cookie: 400 as problem+json", r[:300])
    r = exchange(s, POST + b"Content-Length: 1000000000000000\r\n\r\n")
    t.check(problem(first(r), 413), "Content-Length of 1 PB, no body: 413 at once", r[:300])
    body = b'{"name":"' + b"a" * 100000 + b'"}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8000]), body[i:i + 8000])
                      for i in range(0, len(body), 8000))
    r = exchange(s, POST + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    t.check(problem(first(r), 413), "a 100 KB chunked body without Content-Length: 413", r[:300])
    code, tok = ctx["code"], ctx["admin"]
    loc = new_upload(s, code, tok, 100)
    data = (b"PATCH %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n"
            b"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: 5000\r\n\r\n"
            % (loc.encode(), tok.encode())) + b"x" * 5000
    r = first(exchange(s, data))
    t.check(problem(r, 413), "5,000 bytes to an upload of 100: 413 as problem+json", r)
    st, _, h = s.request("HEAD", loc, headers={"Tus-Resumable": "1.0.0",
                                                "Authorization": "Bearer " + tok})
    t.check(st == 200 and h.get("upload-offset") == "0",
            "and the upload is still at offset 0", (st, h))


# ---- slowloris ----

def new_upload(s, code, tok, length):
    st, body, h = s.request("POST", "/api/uploads", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(length), "Authorization": "Bearer " + tok,
        "Upload-Metadata": "room " + base64.b64encode(code.encode()).decode()})
    if st != 201:
        raise RuntimeError("upload: %d %r" % (st, body))
    return h["location"]


class Others(threading.Thread):
    """Plays an ordinary client while the trickles go on: health checks,
    a new room and its page, and a listener's hello."""

    def __init__(self, s, n=10):
        super().__init__(daemon=True)
        self.s, self.n, self.results = s, n, []

    def run(self):
        import websocket
        for i in range(self.n):
            try:
                st, body, _ = self.s.request("GET", "/api/healthz")
                self.results.append(st == 200 and body.get("status") == "ok")
                code, tok, _ = create_room(self.s, "other%d" % i)
                st, body, _ = self.s.request("GET", "/api/rooms/" + code, token=tok)
                self.results.append(st == 200 and body.get("code") == code)
                ws = websocket.create_connection(self.s.ws_url(code, tok), timeout=BOUND)
                self.results.append(json.loads(ws.recv()).get("type") == "hello")
                ws.close()
            except Exception as e:  # noqa: BLE001 - a failure is a result
                self.results.append(repr(e))
            if not all(x is True for x in self.results):
                return


def trickle(socks, rounds, gap=0.3, byte=b"a"):
    """Sends one byte on every socket, rounds times, gap seconds apart."""
    for _ in range(rounds):
        for c in socks:
            try:
                c.send(byte)
            except OSError:
                pass
        time.sleep(gap)


def nothing_yet(c):
    """True when the server has sent nothing on c and not closed it."""
    c.setblocking(False)
    try:
        c.recv(1)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        c.settimeout(BOUND)


def run_with_others(s, socks):
    """Trickles on socks while another client does its rounds (at least 3
    s of trickling, at most 60)."""
    o = Others(s)
    o.start()
    rounds = 0
    while rounds < 10 or (o.is_alive() and rounds < 200):
        trickle(socks, 1)
        rounds += 1
    o.join(timeout=BOUND)
    return o


def t_slowloris_headers(t, s, ctx):
    socks = []
    try:
        for _ in range(50):
            c = connect(s)
            c.sendall(b"GET /api/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Slow: ")
            socks.append(c)
        o = run_with_others(s, socks)
        t.check(not o.is_alive() and len(o.results) == 30 and all(x is True for x in o.results),
                "50 headers trickling a byte every 300 ms: other clients are served meanwhile",
                o.results)
        waiting = sum(nothing_yet(c) for c in socks)
        t.check(waiting == 50, "and nginx answered none of the unfinished heads", waiting)
        socks[0].sendall(b"\r\n\r\n")
        r = first(read_to_eof(socks[0]))
        t.check(r is not None and r[0] == 200, "a trickled head, once complete, is served", r)
    finally:
        for c in socks:
            c.close()


def t_slowloris_bodies(t, s, ctx):
    socks = []
    try:
        for _ in range(20):
            c = connect(s)
            c.sendall(POST + b"Content-Length: 100\r\n\r\n")
            socks.append(c)
        o = run_with_others(s, socks)
        t.check(not o.is_alive() and len(o.results) == 30 and all(x is True for x in o.results),
                "20 API bodies trickling a byte every 300 ms: other clients are served "
                "meanwhile (nginx buffers API bodies)", o.results)
    finally:
        for c in socks:
            c.close()


def t_slowloris_uploads(t, s, ctx):
    """tus PATCH bodies stream to tutti-api unbuffered (fastcgi_request_buffering
    off), so each slow upload holds an API thread while it lasts."""
    code, tok = ctx["code"], ctx["admin"]
    socks = []
    try:
        for loc in [new_upload(s, code, tok, 1000) for _ in range(8)]:
            c = connect(s)
            c.sendall((b"PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                       b"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                       b"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n")
                      % (loc.encode(), tok.encode()))
            socks.append(c)
        o = run_with_others(s, socks)
        t.check(not o.is_alive() and len(o.results) == 30 and all(x is True for x in o.results),
                "8 tus uploads trickling a byte every 300 ms: other clients are served "
                "meanwhile", o.results)
        heads = []
        for c in socks:
            c.settimeout(2)
            try:
                heads.append(c.recv(4096))
            except OSError:
                heads.append(b"")
        busy = [h for h in heads if h.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in h
                and b"application/problem+json" in h]
        t.check(len(busy) >= 6, "the uploads past the API's upload slots (half its 4 threads) "
                "get 503 problem+json with Retry-After at once", [h[:120] for h in heads])
    finally:
        for c in socks:
            c.close()


# ---- WebSocket ----

class RawWS:
    """A WebSocket client on a raw socket: any frame may be sent."""

    def __init__(self, s, code, token, unix=None, rcvbuf=None):
        if unix:
            self.c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.c.settimeout(BOUND)
            self.c.connect(unix)
        else:
            self.c = socket.socket()
            if rcvbuf:
                self.c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.c.settimeout(BOUND)
            self.c.connect(("127.0.0.1", s.port))
        key = base64.b64encode(os.urandom(16))
        self.c.sendall(b"GET /ws?room=%s&token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                       % (code.encode(), token.encode(), s.port, key))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            b = self.c.recv(4096)
            if not b:
                raise RuntimeError("no upgrade: %r" % self.buf)
            self.buf += b
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("no upgrade: %r" % head)

    @staticmethod
    def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | rsv | op
        m = 0x80 if mask else 0
        if n < 126:
            h = bytes([b0, m | n])
        elif n < 65536:
            h = bytes([b0, m | 126]) + struct.pack(">H", n)
        else:
            h = bytes([b0, m | 127]) + struct.pack(">Q", n)
        if not mask:
            return h + payload
        key = os.urandom(4)
        return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def send(self, *args, **kw):
        self.c.sendall(self.frame(*args, **kw))

    def read_frame(self):
        """Returns (op, payload), or None at EOF."""
        while True:
            if len(self.buf) >= 2:
                n, h = self.buf[1] & 0x7f, 2
                if n == 126 and len(self.buf) >= 4:
                    n, h = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, h = struct.unpack(">Q", self.buf[2:10])[0], 10
                if (self.buf[1] & 0x7f) < 126 or h > 2:
                    if len(self.buf) >= h + n:
                        op, payload = self.buf[0] & 0x0f, self.buf[h:h + n]
                        self.buf = self.buf[h + n:]
                        return op, payload
            b = self.c.recv(1 << 16)
            if not b:
                return None
            self.buf += b

    def close_code(self):
        """Reads past data frames to the close frame; returns its code (0 if
        none in it), or None when the connection ended without one. Then
        expects EOF; returns "more" if anything else arrived."""
        try:
            while True:
                f = self.read_frame()
                if f is None:
                    return None
                if f[0] == OP_CLOSE:
                    code = struct.unpack(">H", f[1][:2])[0] if len(f[1]) >= 2 else 0
                    return code if self.read_frame() is None else "more"
        except (socket.timeout, ConnectionResetError) as e:
            return repr(e)

    def close(self):
        self.c.close()


def t_ws_ping_flood(t, s, ctx):
    ws = RawWS(s, ctx["code"], ctx["flooder"])
    try:
        n = 3000
        ws.c.sendall(b"".join(RawWS.frame(OP_PING, b"%d" % i) for i in range(n)))
        pongs = []
        while len(pongs) < n:
            f = ws.read_frame()
            if f is None:
                break
            if f[0] == OP_PONG:
                pongs.append(f[1])
        t.check(pongs == [b"%d" % i for i in range(n)],
                "3,000 control pings in one burst: 3,000 pongs, each with its payload, in order",
                len(pongs))
        msgs = b"".join(RawWS.frame(OP_TEXT, json.dumps({"type": "ping", "id": i, "t0": i})
                                    .encode()) for i in range(n))
        ws.c.sendall(msgs)
        ids = []
        while len(ids) < n:
            f = ws.read_frame()
            if f is None:
                break
            if f[0] == OP_TEXT:
                m = json.loads(f[1])
                if m.get("type") == "pong":
                    ids.append((m["id"], m["t0"]))
        t.check(ids == [(i, i) for i in range(n)],
                "3,000 time-sync pings in one burst: 3,000 pongs with their id and t0, in order",
                len(ids))
        check_witnesses(t, s, ctx, "after the ping floods")
    finally:
        ws.close()


def slow_dropped(s):
    """tutti_relay_slow_dropped_total summed over the stack's relays."""
    total = 0
    for i in range(s.relays):
        url = "http://127.0.0.1:%d/metrics" % (s.metrics_port + i)
        with urllib.request.urlopen(url, timeout=BOUND) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("tutti_relay_slow_dropped_total"):
                    total += int(float(line.rsplit(" ", 1)[1]))
    return total


def t_ws_no_reader(t, s, ctx):
    """A client that sends pings and never reads: its relay drops it (close
    1008) once more than RELAY_WQ_MAX (1 MiB) of pongs are left unsent. The
    close frame sits behind those pongs, so a client that still reads
    nothing may see the connection end without it."""
    before = slow_dropped(s)
    ws = RawWS(s, ctx["code"], ctx["flooder"], rcvbuf=4096)
    try:
        batch = RawWS.frame(OP_PING, b"p" * 125) * 1000
        sent = 0
        while sent < 64 << 20:
            try:
                ws.c.sendall(batch)
            except OSError:
                break
            sent += len(batch)
        code = ws.close_code()
        t.check(code in (1008, None), "a client flooding pings without reading: its connection "
                "ends (close 1008, or EOF), no hang (%d MB sent)" % (sent >> 20), repr(code))
        t.check(slow_dropped(s) == before + 1, "its relay counts it as a slow listener dropped",
                (before, slow_dropped(s)))
        check_witnesses(t, s, ctx, "after the non-reading flood")
    finally:
        ws.close()


def t_ws_bad_frames(t, s, ctx):
    cases = [
        (lambda: RawWS.frame(OP_TEXT, b"x" * 5000), 1009, "a 5,000-byte message"),
        (lambda: RawWS.frame(OP_TEXT, b"x" * 2000, fin=False) + RawWS.frame(OP_CONT, b"y" * 2000,
         fin=False) + RawWS.frame(OP_CONT, b"z" * 2000), 1009, "a message of 3 fragments of 2,000"),
        (lambda: RawWS.frame(OP_TEXT, b"", length=1 << 40), 1009,
         "a frame announcing 1 TB"),
        (lambda: RawWS.frame(OP_TEXT, b'{"type":"ping","id":1,"t0":1}', mask=False), 1002,
         "an unmasked frame"),
        (lambda: RawWS.frame(0x3, b"x"), 1002, "opcode 3"),
        (lambda: RawWS.frame(0xB, b"x"), 1002, "opcode 11"),
        (lambda: RawWS.frame(OP_PING, b"x", fin=False), 1002, "a fragmented ping"),
        (lambda: RawWS.frame(OP_TEXT, b"[", fin=False) + RawWS.frame(OP_CLOSE, b"", fin=False),
         1002, "a fragmented close amid a message"),
        (lambda: RawWS.frame(OP_PING, b"x" * 126), 1002, "a ping of 126 bytes"),
        (lambda: RawWS.frame(OP_TEXT, b"{}", rsv=0x40), 1002, "RSV1 without an extension"),
        (lambda: RawWS.frame(OP_BINARY, b"\x00"), 1003, "a binary message"),
        (lambda: RawWS.frame(OP_TEXT, b"\xc3\x28"), 1007, "text that is not UTF-8"),
        (lambda: RawWS.frame(OP_TEXT, b"hello"), 1008, "text that is not JSON"),
    ]
    for make, want, what in cases:
        ws = RawWS(s, ctx["code"], ctx["flooder"])
        try:
            ws.c.sendall(make())
            code = ws.close_code()
        finally:
            ws.close()
        t.check(code == want, "%s: closed with %d, then EOF" % (what, want), code)
    # One connection sending every bad frame at once, many times over.
    burst = b"".join(make() for make, _, _ in cases[3:]) * 50
    socks = []
    for _ in range(20):
        ws = RawWS(s, ctx["code"], ctx["flooder"])
        try:
            ws.c.sendall(burst)
        except OSError:
            pass
        socks.append(ws)
    codes = [ws.close_code() for ws in socks]
    for ws in socks:
        ws.close()
    t.check(all(c == 1002 for c in codes), "20 clients each sending 500 bad frames at once: "
            "each closed with 1002 at the first", codes)
    check_witnesses(t, s, ctx, "after the bad frames")


# ---- the room's listeners ----

def check_witnesses(t, s, ctx, when):
    """The admin says something; both witnesses get it, with the next seq."""
    ctx["said"] += 1
    text = "still here %d" % ctx["said"]
    st, body, _ = s.request("POST", "/api/rooms/%s/chat" % ctx["code"], {"text": text},
                            token=ctx["admin"])
    got = []
    for w in ctx["witnesses"]:
        e = recv_event(w, lambda m: m.get("type") == "chat" and m["message"]["text"] == text)
        got.append(e is not None and st == 201 and e["message"]["id"] == body["id"])
    t.check(st == 201 and got == [True, True], "%s: both other listeners get the next event"
            % when, (st, body, got))


def recv_event(w, pred):
    deadline = time.time() + BOUND
    while time.time() < deadline:
        w["ws"].settimeout(max(0.05, deadline - time.time()))
        try:
            m = json.loads(w["ws"].recv())
        except websocket_timeout():
            return None
        if "seq" in m and m.get("type") not in ("beacon",):
            w["seqs"].append(m["seq"])
        if pred(m):
            return m
    return None


def t_after(t, s, ctx):
    st, body, _ = s.request("GET", "/api/healthz")
    t.check(st == 200 and body.get("worker"), "the API still answers: healthz ok", body)
    for i in (1, 2):
        path = os.path.join(s.run, "relay-%d.sock" % i)
        try:
            ws = RawWS(s, ctx["code"], ctx["admin"], unix=path)
            f = ws.read_frame()
            ws.close()
            ok = f is not None and json.loads(f[1]).get("type") == "hello"
        except Exception as e:  # noqa: BLE001 - reported
            ok, f = False, repr(e)
        t.check(ok, "relay %d still answers an upgrade directly" % i, f)
    for w in ctx["witnesses"]:
        seqs = sorted(set(w["seqs"]))
        t.check(len(seqs) >= 3 and seqs == list(range(seqs[0], seqs[0] + len(seqs))),
                "a listener saw every seq of the room once the floods were over, none missing",
                w["seqs"])
    st, room, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["admin"])
    texts = [m["text"] for m in room.get("chat", [])] if st == 200 else []
    t.check(all("still here %d" % i in texts for i in range(1, ctx["said"] + 1)),
            "every chat line said meanwhile is in the room", texts)
    users = sorted(u["name"] for u in room.get("users", []))
    t.check(users == ["admin", "flooder", "w1", "w2"], "the room's members are all still in it",
            users)


def main():
    import websocket
    t = Tap()
    port = free_port()
    s = Stack(name="rawsock", env={"TUTTI_RELAY_METRICS_PORT": str(port)})
    s.metrics_port = port
    ctx = {"said": 0}
    try:
        s.start_or_end(t)
        code, admin, _ = create_room(s, "admin", policy="everyone")
        ctx.update(code=code, admin=admin)
        ctx["flooder"] = join_room(s, code, "flooder")[0]
        ctx["witnesses"] = []
        for name in ("w1", "w2"):
            tok = join_room(s, code, name)[0]
            ws = websocket.create_connection(s.ws_url(code, tok), timeout=BOUND)
            ws.recv()   # hello
            ctx["witnesses"].append({"ws": ws, "seqs": []})
        for fn in (t_malformed, t_oversized, t_slowloris_headers, t_slowloris_bodies,
                   t_slowloris_uploads, t_ws_ping_flood, t_ws_no_reader, t_ws_bad_frames,
                   t_after):
            t.run(fn, s, ctx)
        for w in ctx["witnesses"]:
            w["ws"].close()
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
