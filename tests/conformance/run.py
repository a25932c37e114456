#!/usr/bin/python3
"""run.py - the RFC 6455 conformance case set of tutti-relay, run through
nginx against a stack of its own (tests/integration/stack.py). The sections
follow those of the Autobahn WebSocket test suite (framing, pings and pongs,
reserved bits, opcodes, fragmentation, UTF-8, close handling, limits), plus
the opening handshake and the time-sync ping of docs/protocol.md; the cases
are our own. The client side is written here on raw sockets (masking,
fragments, any opcode, RSV bits and length encoding, byte-by-byte writes),
since most cases send frames that a WebSocket library would refuse to send.

Each case opens its own connection, sends its bytes, and checks what RFC
6455 asks of a server: the reply (a pong with the same payload, the
time-sync pong), or the close code of the close frame, after which nothing
more may arrive and the connection must end (EOF within BOUND seconds, a
bound on hangs, not a timing assertion).

Run: /usr/bin/python3 tests/conformance/run.py [-v] [CASE-PREFIX ...]
Output: TAP ("ok N - 1.2 ..."); the exit status is 1 when a case failed.
"""
import base64
import hashlib
import json
import os
import re
import socket
import struct
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from stack import ROOT, Stack, create_room  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BOUND = 5.0		# seconds: an answer, a close or an EOF that takes longer is a hang
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
# The only server message that answers a client message; every other JSON
# object (hello, room events, presence, beacons) may come at any time and is
# skipped while a case waits for its answer.
ANSWERS = ("pong",)
VERBOSE = False


def relay_define(name):
    """A numeric #define of relay/relay.h, so the limits follow the code."""
    with open(os.path.join(ROOT, "relay", "relay.h")) as f:
        m = re.search(r"#define\s+%s\s+\(?(\d+)" % name, f.read())
    if m is None:
        raise RuntimeError("relay/relay.h has no numeric %s" % name)
    return int(m.group(1))


MSG_MAX = relay_define("RELAY_MSG_MAX")


class Fail(Exception):
    """A check of a case did not hold; the message says what was seen."""


def check(cond, detail):
    if not cond:
        raise Fail(detail)


# ---- frames, client side ----

def mask_bytes(data, key):
    """data XOR the 4-byte key repeated (RFC 6455, 5.3)."""
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(op, payload=b"", fin=True, rsv=0, mask=True, enc=None, length=None):
    """One frame as a client would send it, or as it must not: rsv is the
    three RSV bits (1..7), enc forces the length encoding (7, 16 or 64
    bits), length overrides the length field (the payload is sent as is)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    if enc is None:
        enc = 7 if n < 126 else 16 if n <= 0xFFFF else 64
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (op & 0xF)
    mbit = 0x80 if mask else 0
    if enc == 7:
        head = bytes([b0, mbit | n])
    elif enc == 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


def text(payload, **kw):
    return frame(OP_TEXT, payload, **kw)


def cont(payload, **kw):
    return frame(OP_CONT, payload, **kw)


def close_frame(code=None, reason=b"", **kw):
    if isinstance(reason, str):
        reason = reason.encode()
    body = b"" if code is None else struct.pack("!H", code) + reason
    return frame(OP_CLOSE, body, **kw)


def fragments(op, payload, cuts):
    """payload as one message cut at the offsets in cuts (text by default)."""
    if isinstance(payload, str):
        payload = payload.encode()
    edges = [0] + list(cuts) + [len(payload)]
    out = b""
    for i in range(len(edges) - 1):
        first, last = i == 0, i == len(edges) - 2
        out += frame(op if first else OP_CONT, payload[edges[i]:edges[i + 1]], fin=last)
    return out


T0 = 1712345678901234


def app_ping(pid, size=None, extra=""):
    """The time-sync probe of docs/protocol.md, padded to exactly size bytes
    when size is given (a "pad" string field). extra is raw UTF-8 text put in
    a "note" string field (it may hold any bytes when given as bytes)."""
    head = b'{"type":"ping","id":%d,"t0":%d' % (pid, T0)
    if extra:
        head += b',"note":"' + (extra.encode() if isinstance(extra, str) else extra) + b'"'
    if size is None:
        return head + b"}"
    head += b',"pad":"'
    pad = size - len(head) - 2
    if pad < 0:
        raise ValueError("a ping cannot be %d bytes" % size)
    return head + b"x" * pad + b'"}'


# ---- the connection ----

class Conn:
    """A raw client connection through nginx: the HTTP upgrade, then frames."""

    def __init__(self, port, rcvbuf=0):
        """rcvbuf: a small receive buffer (bytes) for a client that reads slowly."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(BOUND)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""		# received bytes; those before pos are consumed
        self.pos = 0
        self.eof = False
        self.reset = False
        self.send_cut = False
        self.status = None
        self.headers = {}
        self.body = b""

    def send(self, data, slow=0.0):
        """Writes data at once, or one byte at a time with slow seconds
        between bytes. A server that closes before all of it is written
        (it may, after a bad header) is not an error here: the rest is
        dropped and the case checks what the server sent."""
        step = 1 if slow else max(1, len(data))
        try:
            for i in range(0, len(data), step):
                self.sock.sendall(data[i:i + step])
                if slow:
                    time.sleep(slow)
        except (BrokenPipeError, ConnectionResetError):
            self.send_cut = True

    def _fill(self, deadline):
        """Reads more bytes; False on EOF (or reset) or when the deadline passed."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def read_head(self, timeout=BOUND):
        """Reads the HTTP response head (and a refusal's body)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise Fail("no complete HTTP response head (got %r)" % self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        check(len(parts) >= 2 and parts[0].startswith("HTTP/1."), "status line %r" % lines[0])
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        if self.status != 101:
            n = int(self.header("content-length") or 0)
            while len(self.buf) < n and self._fill(deadline):
                pass
            self.body, self.buf = self.buf[:n], self.buf[n:]
        return self.status

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def recv_frame(self, timeout=BOUND):
        """The next server frame as (fin, rsv, opcode, payload); None on EOF
        or when nothing complete came within timeout (self.eof tells)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            if not self._fill(deadline):
                return None

    def _parse(self):
        b, p = self.buf, self.pos
        avail = len(b) - p
        if avail < 2:
            return None
        if b[p + 1] & 0x80:
            raise Fail("the server sent a masked frame (RFC 6455, 5.1)")
        n, h = b[p + 1] & 0x7F, 2
        if n == 126:
            if avail < 4:
                return None
            n, h = struct.unpack_from("!H", b, p + 2)[0], 4
        elif n == 127:
            if avail < 10:
                return None
            n, h = struct.unpack_from("!Q", b, p + 2)[0], 10
        if avail < h + n:
            return None
        self.pos = p + h + n
        return (b[p] >> 7, (b[p] >> 4) & 7, b[p] & 0xF, b[p + h:p + h + n])

    def wait_eof(self, timeout=BOUND):
        """True when the connection ends within timeout; frames that arrive
        meanwhile are returned in the list."""
        deadline = time.monotonic() + timeout
        extra = []
        while not self.eof:
            f = self._parse()
            if f is not None:
                extra.append(f)
                continue
            if not self._fill(deadline):
                break
        while True:
            f = self._parse()
            if f is None:
                break
            extra.append(f)
        return self.eof, extra

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def upgrade_request(code, token, drop=(), **over):
    """A WebSocket upgrade of /ws as bytes and its key; over replaces header
    values (underscores for dashes) or, as target=, the request target; drop
    removes headers."""
    hdrs = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    target = over.pop("target", None)
    for k, v in over.items():
        hdrs[k.replace("_", "-")] = v
    lines = ["GET %s HTTP/1.1" % (target or "/ws?room=%s&token=%s" % (code, token))]
    lines += ["%s: %s" % (k, v) for k, v in hdrs.items() if k not in drop]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), hdrs["Sec-WebSocket-Key"]


def expected_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def describe(f):
    if f is None:
        return "nothing"
    fin, rsv, op, pl = f
    return "frame op=%#x fin=%d rsv=%d len=%d %r" % (op, fin, rsv, len(pl), pl[:80])


class Ctx:
    """What every case needs: the stack and one room with a token."""

    def __init__(self, stack):
        self.s = stack
        self.code, self.token, _ = create_room(stack, "conformance")

    def open(self, slow=0.0):
        """An upgraded connection; the hello is left unread."""
        c = Conn(self.s.port)
        req, key = upgrade_request(self.code, self.token)
        c.send(req, slow=slow)
        st = c.read_head()
        check(st == 101, "upgrade answered %d %r" % (st, c.body[:200]))
        check(c.header("sec-websocket-accept") == expected_accept(key),
              "Sec-WebSocket-Accept %r" % c.header("sec-websocket-accept"))
        return c


# ---- expectations ----

def next_answer(c, what):
    """The next frame that is not a room event (hello, presence, beacons...)."""
    while True:
        f = c.recv_frame()
        if f is None:
            raise Fail("waiting for %s: %s" % (what, "connection reset" if c.reset else "EOF"
                                               if c.eof else "nothing within %gs" % BOUND))
        if f[2] == OP_TEXT and f[0]:
            try:
                m = json.loads(f[3])
            except ValueError:
                raise Fail("waiting for %s: text that is not JSON %r" % (what, f[3][:100]))
            if isinstance(m, dict) and m.get("type") not in ANSWERS:
                continue
        return f


def pong_check(f, payload):
    """f is a WebSocket pong carrying exactly payload."""
    check(f[2] == OP_PONG and f[0] and f[1] == 0, "expected a pong, got " + describe(f))
    check(f[3] == payload, "pong payload %r, sent %r" % (f[3][:80], payload[:80]))


def expect_pong(c, payload):
    pong_check(next_answer(c, "a pong"), payload)


def app_pong_check(f, pid):
    """f is the time-sync pong of docs/protocol.md for ping id pid."""
    check(f[2] == OP_TEXT and f[0] and f[1] == 0, "expected a text pong, got " + describe(f))
    m = json.loads(f[3])
    check(m.get("type") == "pong" and m.get("id") == pid and m.get("t0") == T0,
          "expected pong id %d, got %r" % (pid, m))
    check(isinstance(m.get("t1_us"), int) and isinstance(m.get("t2_us"), int)
          and m["t1_us"] <= m["t2_us"], "t1_us/t2_us %r" % m)
    return m


def expect_app_pong(c, pid):
    return app_pong_check(next_answer(c, "the pong of ping %d" % pid), pid)


def close_check(c, f, codes):
    """f is the server's close frame with one of codes (None: no status
    code); then nothing else arrives and the connection ends within BOUND."""
    if not isinstance(codes, (list, tuple)):
        codes = (codes,)
    check(f[2] == OP_CLOSE, "expected close %s, got %s" % (codes, describe(f)))
    pl = f[3]
    check(f[0] == 1 and f[1] == 0 and len(pl) != 1 and len(pl) <= 125,
          "malformed close frame " + describe(f))
    got = struct.unpack("!H", pl[:2])[0] if len(pl) >= 2 else None
    check(got in codes, "close code %s, expected %s (reason %r)" % (got, codes, pl[2:]))
    try:
        pl[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise Fail("close reason is not UTF-8: %r" % pl[2:])
    eof, extra = c.wait_eof()
    check(not extra, "frames after the close frame: " + "; ".join(map(describe, extra)))
    check(eof, "the connection stayed open %gs after the close frame" % BOUND)
    return got, pl[2:]


def expect_close(c, codes):
    return close_check(c, next_answer(c, "a close frame"), codes)


def sent_then(c, data, then, *args, slow=0.0):
    c.send(data, slow=slow)
    return then(c, *args)


# ---- the cases ----
# Each case: (id, description, function(ctx)). The function raises Fail.

CASES = []


def case(cid, desc):
    def deco(fn):
        CASES.append((cid, desc, fn))
        return fn
    return deco


def simple(cid, desc, data, then, *args, slow=0.0):
    """A case that opens a connection, sends data and checks then(c, *args)."""
    def fn(ctx):
        c = ctx.open()
        try:
            sent_then(c, data, then, *args, slow=slow)
        finally:
            c.close()
    CASES.append((cid, desc, fn))


def ping_ok(pid, size=None, extra=""):
    return text(app_ping(pid, size, extra))


# 1 framing. RFC 6455 5.2: the minimal number of bytes encodes the length
# and a 64-bit length has its top bit clear; 5.1: a server closes on an
# unmasked client frame (1002); 7.4.1: 1003 for data it cannot accept (the
# relay takes only JSON text), 1009 for a message too big to process.
for i, size in enumerate((70, 125, 126, 127, 1000, MSG_MAX - 1, MSG_MAX)):
    simple("1.1.%d" % (i + 1), "text message of %d bytes (one frame): answered" % size,
           ping_ok(11, size), expect_app_pong, 11)
simple("1.2.1", "16-bit length 65535 (above %d): closed 1009" % MSG_MAX,
       frame(OP_TEXT, b"", enc=16, length=0xFFFF), expect_close, 1009)
simple("1.2.2", "64-bit length 65536: closed 1009",
       frame(OP_TEXT, b"", enc=64, length=0x10000), expect_close, 1009)
simple("1.2.3", "two text messages in one write: both answered in order",
       ping_ok(1) + ping_ok(2), lambda c: (expect_app_pong(c, 1), expect_app_pong(c, 2)))
simple("1.3.1", "non-minimal length: %d bytes in the 16-bit form: closed 1002"
       % len(app_ping(1)), text(app_ping(1), enc=16), expect_close, 1002)
simple("1.3.2", "non-minimal length: 200 bytes in the 64-bit form: closed 1002",
       text(app_ping(1, 200), enc=64), expect_close, 1002)
simple("1.3.3", "non-minimal length: 125 bytes in the 16-bit form: closed 1002",
       text(app_ping(1, 125), enc=16), expect_close, 1002)
simple("1.3.4", "64-bit length with its most significant bit set: closed 1002",
       frame(OP_TEXT, b"", enc=64, length=1 << 63), expect_close, 1002)
simple("1.4.1", "unmasked text frame: closed 1002",
       text(app_ping(1), mask=False), expect_close, 1002)
simple("1.4.2", "unmasked ping: closed 1002",
       frame(OP_PING, b"x", mask=False), expect_close, 1002)
simple("1.4.3", "unmasked close: closed 1002",
       close_frame(1000, mask=False), expect_close, 1002)
simple("1.5.1", "binary message: closed 1003 (the relay takes only JSON text)",
       frame(OP_BINARY, b"\x00\x01\x02"), expect_close, 1003)
simple("1.5.2", "empty binary message: closed 1003",
       frame(OP_BINARY, b""), expect_close, 1003)
simple("1.5.3", "empty text message (not a JSON object): closed 1008",
       text(b""), expect_close, 1008)
simple("1.5.4", "a ping answered, then a binary message: pong, then closed 1003",
       ping_ok(3) + frame(OP_BINARY, b"\xff" * 130),
       lambda c: (expect_app_pong(c, 3), expect_close(c, 1003)))



@case("1.6", "frames in the same write as the upgrade request: answered after the 101")
def c1_6(ctx):
    c = Conn(ctx.s.port)
    try:
        req, key = upgrade_request(ctx.code, ctx.token)
        c.send(req + frame(OP_PING, b"early") + ping_ok(16))
        check(c.read_head() == 101, "status %s %r" % (c.status, c.body[:200]))
        expect_pong(c, b"early")
        expect_app_pong(c, 16)
    finally:
        c.close()


# 2 pings and pongs. 5.5: control frames carry at most 125 bytes; 5.5.2-3: a
# ping is answered by a pong with the same payload, as soon as practical; an
# unsolicited pong is allowed and needs no answer; 5.4: control frames may
# come between the fragments of a message.
simple("2.1", "ping without payload: empty pong",
       frame(OP_PING), expect_pong, b"")
simple("2.2", "ping with a text payload: pong with the same payload",
       frame(OP_PING, b"Hello, tutti"), expect_pong, b"Hello, tutti")
BIN125 = bytes(range(125))
simple("2.3", "ping with 125 binary bytes (the maximum): pong with the same payload",
       frame(OP_PING, BIN125), expect_pong, BIN125)
simple("2.4", "ping with 126 bytes: closed 1002",
       frame(OP_PING, b"p" * 126), expect_close, 1002)
simple("2.5", "ping with a 64-bit length of 65536: closed 1002",
       frame(OP_PING, b"", enc=64, length=65536), expect_close, 1002)
simple("2.6", "unsolicited pong with payload: ignored (the next ping is answered)",
       frame(OP_PONG, b"unasked") + ping_ok(6), expect_app_pong, 6)
simple("2.7", "unsolicited empty pong: ignored",
       frame(OP_PONG) + ping_ok(7), expect_app_pong, 7)
simple("2.8", "pong with 126 bytes: closed 1002",
       frame(OP_PONG, b"p" * 126), expect_close, 1002)
simple("2.9", "ping between the fragments of a text message: pong, then the message's answer",
       text(app_ping(9)[:10], fin=False) + frame(OP_PING, b"mid") + cont(app_ping(9)[10:]),
       lambda c: (expect_pong(c, b"mid"), expect_app_pong(c, 9)))
simple("2.10", "ten pings in one write: ten pongs, in order",
       b"".join(frame(OP_PING, b"%d" % i) for i in range(10)),
       lambda c: [expect_pong(c, b"%d" % i) for i in range(10)])
simple("2.11", "ping with payload written one byte at a time: pong",
       frame(OP_PING, b"slowly"), expect_pong, b"slowly", slow=0.003)

# 3 reserved bits. 5.2: RSV1-3 must be 0 unless an extension was negotiated
# (none is); the receiver fails the connection (1002).
for bits in (1, 2, 3, 4, 5, 6, 7):
    simple("3.%d" % bits, "text frame with RSV bits %s set: closed 1002" % format(bits, "03b"),
           text(app_ping(1), rsv=bits), expect_close, 1002)
simple("3.8", "ping with RSV1 (0b100) set: closed 1002",
       frame(OP_PING, b"x", rsv=4), expect_close, 1002)
simple("3.9", "close with RSV3 (0b001) set: closed 1002",
       close_frame(1000, rsv=1), expect_close, 1002)
simple("3.10", "continuation frame with RSV2 set: closed 1002",
       text(b'{"type":', fin=False) + cont(b'"x"}', rsv=2), expect_close, 1002)
simple("3.11", "a message answered, then one with RSV1: pong, then closed 1002",
       ping_ok(5) + text(app_ping(6), rsv=4),
       lambda c: (expect_app_pong(c, 5), expect_close(c, 1002)))

# 4 opcodes. 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; receiving one
# fails the connection (1002).
for op in (3, 4, 5, 6, 7):
    simple("4.1.%d" % op, "reserved data opcode %#x: closed 1002" % op,
           frame(op, b"reserved"), expect_close, 1002)
for op in (0xB, 0xC, 0xD, 0xE, 0xF):
    simple("4.2.%d" % (op - 0xA), "reserved control opcode %#x: closed 1002" % op,
           frame(op, b"reserved"), expect_close, 1002)
simple("4.3", "a message answered, then opcode 0x5 without payload: pong, then closed 1002",
       ping_ok(4) + frame(5), lambda c: (expect_app_pong(c, 4), expect_close(c, 1002)))

# 5 fragmentation. 5.4: a message is a first frame, continuations, and a FIN;
# control frames are never fragmented and may be interleaved; a continuation
# without a message, or a new data frame inside one, is a protocol error.
P = app_ping(50)
simple("5.1", "text message in two fragments: answered", fragments(OP_TEXT, P, [7]),
       expect_app_pong, 50)
simple("5.2", "text message in one-byte fragments: answered",
       fragments(OP_TEXT, P, range(1, len(P))), expect_app_pong, 50)
simple("5.3", "text message with empty first and last fragments: answered",
       text(b"", fin=False) + cont(P, fin=False) + cont(b""), expect_app_pong, 50)
simple("5.4", "continuation (FIN) without a message: closed 1002",
       cont(b"orphan"), expect_close, 1002)
simple("5.5", "continuation (not FIN) without a message: closed 1002",
       cont(b"orphan", fin=False), expect_close, 1002)
simple("5.6", "a whole text frame inside a fragmented message: closed 1002",
       text(P[:5], fin=False) + text(P), expect_close, 1002)
simple("5.7", "a new fragmented text message inside another: closed 1002",
       text(P[:5], fin=False) + text(P[:5], fin=False), expect_close, 1002)
simple("5.8", "a binary frame inside a fragmented text message: closed 1002",
       text(P[:5], fin=False) + frame(OP_BINARY, b"\x01"), expect_close, 1002)
simple("5.9", "fragmented ping (FIN clear): closed 1002",
       frame(OP_PING, b"fr", fin=False) + cont(b"ag"), expect_close, 1002)
simple("5.10", "fragmented pong (FIN clear): closed 1002",
       frame(OP_PONG, b"fr", fin=False) + cont(b"ag"), expect_close, 1002)
simple("5.11", "fragmented close (FIN clear): closed 1002",
       frame(OP_CLOSE, b"\x03\xe8", fin=False) + cont(b""), expect_close, 1002)
simple("5.12", "continuation after a finished message: pong, then closed 1002",
       fragments(OP_TEXT, P, [3]) + cont(b"{}"),
       lambda c: (expect_app_pong(c, 50), expect_close(c, 1002)))
simple("5.13", "close 1000 between fragments: close 1000 echoed, no answer to the message",
       text(P[:5], fin=False) + close_frame(1000) + cont(P[5:]), expect_close, 1000)
simple("5.14", "fragments written one byte at a time: answered",
       fragments(OP_TEXT, P, [4, 20]), expect_app_pong, 50, slow=0.002)
simple("5.15", "fragmented binary message: closed 1003",
       frame(OP_BINARY, b"ab", fin=False) + cont(b"cd"), expect_close, 1003)


@case("5.16", "fragments in separate writes with pings between: every pong, then the answer")
def c5_16(ctx):
    c = ctx.open()
    try:
        cuts = [0, 8, 16, 30, len(P)]
        for i in range(len(cuts) - 1):
            last = i == len(cuts) - 2
            op = OP_TEXT if i == 0 else OP_CONT
            c.send(frame(op, P[cuts[i]:cuts[i + 1]], fin=last))
            if not last:
                c.send(frame(OP_PING, b"%d" % i))
                expect_pong(c, b"%d" % i)
        expect_app_pong(c, 50)
    finally:
        c.close()


# 6 UTF-8. 8.1: text must be valid UTF-8 (RFC 3629: shortest form, no
# surrogates, at most U+10FFFF) over the whole message, so a code point may
# be split across fragments; invalid text fails the connection with 1007.
VALID = [
    ("two-byte", "κόσμε"),
    ("three-byte", "€ 日本語"),
    ("four-byte", "𝄞 🎵"),
    ("U+FFFE and U+FFFF (noncharacters are valid UTF-8)", "\ufffe\uffff"),
    ("U+10FFFF, the last code point", "\U0010ffff"),
    ("U+0080, U+07FF, U+0800, U+FFFD boundaries", "\u0080\u07ff\u0800\ufffd"),
]
for i, (what, s) in enumerate(VALID):
    simple("6.1.%d" % (i + 1), "valid %s text: answered" % what,
           ping_ok(61, extra=s), expect_app_pong, 61)

NOTE = app_ping(62, extra="x𝄞y")
at = NOTE.index("𝄞".encode())
for k in (1, 2, 3):
    simple("6.2.%d" % k, "a four-byte code point split %d/%d across fragments: answered"
           % (k, 4 - k), fragments(OP_TEXT, NOTE, [at + k]), expect_app_pong, 62)
simple("6.2.4", "every byte of a multi-byte text its own fragment: answered",
       fragments(OP_TEXT, app_ping(62, extra="κόσμε€𝄞"),
                 range(1, len(app_ping(62, extra="κόσμε€𝄞")))), expect_app_pong, 62)

INVALID = [
    ("a lone 0xff byte", b"\xff"),
    ("a lone 0xfe byte", b"\xfe"),
    ("a lone continuation byte 0x80", b"\x80"),
    ("a lone continuation byte 0xbf", b"\xbf"),
    ("an overlong NUL (c0 80)", b"\xc0\x80"),
    ("an overlong two-byte form (c1 bf)", b"\xc1\xbf"),
    ("an overlong three-byte '/' (e0 80 af)", b"\xe0\x80\xaf"),
    ("an overlong four-byte '/' (f0 80 80 af)", b"\xf0\x80\x80\xaf"),
    ("an overlong U+FFFF (f0 8f bf bf)", b"\xf0\x8f\xbf\xbf"),
    ("a high surrogate U+D800 (ed a0 80)", b"\xed\xa0\x80"),
    ("a low surrogate U+DFFF (ed bf bf)", b"\xed\xbf\xbf"),
    ("a surrogate pair in CESU-8 (ed a0 80 ed b0 80)", b"\xed\xa0\x80\xed\xb0\x80"),
    ("U+110000 (f4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("a lead byte 0xf5", b"\xf5\x80\x80\x80"),
    ("a five-byte form (f8 88 80 80 80)", b"\xf8\x88\x80\x80\x80"),
    ("a two-byte lead followed by ASCII", b"\xceA"),
    ("a three-byte sequence missing its last byte", b"\xe2\x82A"),
]
for i, (what, bad) in enumerate(INVALID):
    simple("6.3.%d" % (i + 1), "text with %s: closed 1007" % what,
           ping_ok(63, extra=bad), expect_close, 1007)
simple("6.4.1", "text ending in a truncated sequence (e2 82): closed 1007",
       text(b'{"type":"x","a":"\xe2\x82'), expect_close, 1007)
BADMSG = app_ping(64, extra=b"ok\xed\xa0\x80")
simple("6.4.2", "valid first fragment, a surrogate in the second: closed 1007",
       fragments(OP_TEXT, BADMSG, [5]), expect_close, 1007)
simple("6.4.3", "a message whose last fragment ends mid code point: closed 1007",
       text(b'{"type":"x","a":"', fin=False) + cont(b"\xf0\x9d\x84"), expect_close, 1007)
simple("6.4.4", "invalid text after a valid message: pong, then closed 1007",
       ping_ok(65) + ping_ok(66, extra=b"\xc0\xaf"),
       lambda c: (expect_app_pong(c, 65), expect_close(c, 1007)))

# 7 close handling. 5.5.1: a close payload is empty or a 2-byte code plus a
# UTF-8 reason; the receiver answers with a close (usually echoing the code)
# and sends nothing after it; the server closes the TCP connection. 7.4: codes
# below 1000, 1004-1006, 1015, unregistered 1xxx-2xxx and 5000+ are invalid
# on the wire (1002); 3000-4999 are for libraries and applications.
simple("7.1.1", "close without payload: close (no code or 1000), then EOF",
       close_frame(), expect_close, (None, 1000))
simple("7.1.2", "close 1000: close 1000 echoed, then EOF",
       close_frame(1000), expect_close, 1000)
simple("7.1.3", "close 1000 with a reason: close 1000, then EOF",
       close_frame(1000, "goodbye"), expect_close, 1000)
simple("7.1.4", "close 1000 with a 123-byte reason (125-byte payload): close 1000",
       close_frame(1000, "r" * 123), expect_close, 1000)
simple("7.1.5", "close 1000 with a multi-byte UTF-8 reason: close 1000",
       close_frame(1000, "à bientôt 👋"), expect_close, 1000)
simple("7.2.1", "close with a 1-byte payload: closed 1002",
       frame(OP_CLOSE, b"\x03"), expect_close, 1002)
simple("7.2.2", "close with a 126-byte payload: closed 1002",
       close_frame(1000, "r" * 124), expect_close, 1002)
simple("7.2.3", "close reason that is not UTF-8: closed 1007",
       close_frame(1000, b"bad \xff\xfe"), expect_close, 1007)
simple("7.2.4", "close reason with a surrogate: closed 1007",
       close_frame(1000, b"\xed\xa0\x80"), expect_close, 1007)
for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)):
    simple("7.3.%d" % (i + 1), "close with invalid code %d: closed 1002" % code,
           close_frame(code), expect_close, 1002)
for i, code in enumerate((1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)):
    simple("7.4.%d" % (i + 1), "close with valid code %d: the code echoed" % code,
           close_frame(code), expect_close, code)
simple("7.5.1", "a ping message after the close frame: ignored (no pong)",
       close_frame(1000) + ping_ok(75), expect_close, 1000)
simple("7.5.2", "a WebSocket ping after the close frame: ignored",
       close_frame(1000) + frame(OP_PING, b"late"), expect_close, 1000)
simple("7.5.3", "a bad frame after the close frame: ignored (close 1000, not 1002)",
       close_frame(1000) + frame(0x5, b"bad"), expect_close, 1000)
simple("7.6", "a message answered, then close 1000 with a reason: pong, close 1000",
       ping_ok(76) + close_frame(1000, "done"),
       lambda c: (expect_app_pong(c, 76), expect_close(c, 1000)))


@case("7.7", "client closes the TCP connection without a close frame: the relay stays up")
def c7_7(ctx):
    c = ctx.open()
    c.send(text(app_ping(77)[:10], fin=False))
    c.close()
    c = ctx.open()
    try:
        sent_then(c, ping_ok(78), expect_app_pong, 78)
    finally:
        c.close()


# 9 limits. 10.4: an endpoint may limit message size (1009, RELAY_MSG_MAX);
# floods and slow senders must end in answers or a clean close, never a hang
# or unbounded memory (issue 4: a bounded send queue per listener).
simple("9.1.1", "one text frame of %d bytes (one over the limit): closed 1009" % (MSG_MAX + 1),
       text(app_ping(91, MSG_MAX + 1)), expect_close, 1009)
simple("9.1.2", "a fragmented message of %d bytes (fragments within it): closed 1009"
       % (MSG_MAX + 1), fragments(OP_TEXT, app_ping(92, MSG_MAX + 1), [MSG_MAX // 2]),
       expect_close, 1009)
simple("9.1.3", "a fragmented message of exactly %d bytes: answered" % MSG_MAX,
       fragments(OP_TEXT, app_ping(93, MSG_MAX), [1000, 2000, 3000]), expect_app_pong, 93)
simple("9.1.4", "a message of %d bytes in one-byte fragments: answered" % MSG_MAX,
       fragments(OP_TEXT, app_ping(94, MSG_MAX), range(1, MSG_MAX)), expect_app_pong, 94)
simple("9.1.5", "a 64-bit length of 2^63-1: closed 1009",
       frame(OP_TEXT, b"", enc=64, length=(1 << 63) - 1), expect_close, 1009)


simple("9.1.6", "the header of an oversized frame written one byte at a time: closed 1009",
       frame(OP_TEXT, b"", length=MSG_MAX + 1), expect_close, 1009, slow=0.002)
simple("9.1.7", "twenty %d-byte messages in one write: twenty answers" % MSG_MAX,
       b"".join(text(app_ping(i, MSG_MAX)) for i in range(20)),
       lambda c: [expect_app_pong(c, i) for i in range(20)])


@case("9.2.1", "a flood of 2000 small pings in one write: every pong in order, or a clean close")
def c9_2_1(ctx):
    flood_check(ctx, [frame(OP_PING, b"%d" % i) for i in range(2000)],
                lambda f, i: pong_check(f, b"%d" % i))


@case("9.2.2", "a flood of 500 time-sync pings: every answer in order, or a clean close")
def c9_2_2(ctx):
    flood_check(ctx, [ping_ok(i) for i in range(500)], app_pong_check)


def flood_check(ctx, frames, answer):
    """Sends frames in one write; answer(f, i) checks the i-th reply. A
    close (1008: too much unsent, 1013: try again later) ends it cleanly."""
    c = ctx.open()
    try:
        c.send(b"".join(frames))
        for i in range(len(frames)):
            f = next_answer(c, "answer %d of the flood" % i)
            if f[2] == OP_CLOSE:
                close_check(c, f, (1008, 1013))
                return
            answer(f, i)
        sent_then(c, close_frame(1000), expect_close, 1000)
    finally:
        c.close()


@case("9.2.3", "a client that sends 80000 pings and reads nothing: its pongs in order, then "
      "dropped (close 1008/1013, or the end of the connection) long before all are answered")
def c9_2_3(ctx):
    # The relay closes a listener whose unsent bytes pass RELAY_WQ_MAX. Its
    # close frame may not reach this client: nginx, told by the relay's FIN,
    # closes a client whose pings it has not all read, which resets the
    # connection and drops what was still queued for the client. Either end
    # is clean; answering every ping (memory growing with a reader that does
    # not read) is the failure.
    n = 80000
    c = Conn(ctx.s.port, rcvbuf=16384)
    try:
        req, _ = upgrade_request(ctx.code, ctx.token)
        c.send(req)
        check(c.read_head() == 101, "status %s" % c.status)
        pl = b"q" * 125
        burst = frame(OP_PING, pl) * 1000	# one key for all: the bytes need not differ
        for _ in range(n // 1000):
            c.send(burst)
            if c.send_cut:
                break
        got = 0
        while True:
            f = c.recv_frame()
            if f is None:
                check(c.eof, "neither a pong, a close nor the end within %gs (%d pongs)"
                      % (BOUND, got))
                end = "reset" if c.reset else "EOF"
                break
            if f[2] == OP_TEXT:
                continue	# room events
            if f[2] == OP_CLOSE:
                close_check(c, f, (1008, 1013))
                end = "close frame"
                break
            pong_check(f, pl)
            got += 1
        check(got < n // 2, "%d of %d pings answered before the close" % (got, n))
        if VERBOSE:
            print("#   %d pongs, then %s" % (got, end))
    finally:
        c.close()


simple("9.3.1", "a time-sync ping written one byte at a time: answered",
       ping_ok(931), expect_app_pong, 931, slow=0.002)
simple("9.3.2", "a %d-byte message written in 64-byte pieces: answered" % MSG_MAX,
       b"", lambda c: (send_pieces(c, text(app_ping(932, MSG_MAX)), 64),
                       expect_app_pong(c, 932)))


def send_pieces(c, data, size):
    for i in range(0, len(data), size):
        c.send(data[i:i + size])
        time.sleep(0.001)


@case("9.3.3", "the upgrade request and a ping, written one byte at a time: answered")
def c9_3_3(ctx):
    c = ctx.open(slow=0.001)
    try:
        sent_then(c, ping_ok(933), expect_app_pong, 933, slow=0.001)
    finally:
        c.close()


# 10 the opening handshake, through nginx (refusals come before the upgrade).
# 4.2.1-4.2.2: GET, Upgrade: websocket, a 16-byte base64 key, version 13
# (else 426 with Sec-WebSocket-Version), the accept value; docs/protocol.md:
# 400/401/403/404 as problem+json before upgrading.
def refusal(cid, desc, status, drop=(), room=None, token=None, extra=None, **over):
    def fn(ctx):
        c = Conn(ctx.s.port)
        try:
            req, _ = upgrade_request(room if room is not None else ctx.code,
                                     token if token is not None else ctx.token, drop, **over)
            c.send(req)
            st = c.read_head()
            ok = st in status if isinstance(status, tuple) else st == status
            check(ok, "answered %d, expected %s: %r" % (st, status, c.body[:200]))
            check((c.header("content-type") or "").startswith("application/problem+json"),
                  "content type %r" % c.header("content-type"))
            body = json.loads(c.body)
            check(body.get("status") == st and body.get("title"), "problem body %r" % body)
            if extra:
                extra(c)
        finally:
            c.close()
    CASES.append((cid, desc, fn))


@case("10.1", "a valid upgrade: 101 with Upgrade, Connection, Sec-WebSocket-Accept, then hello")
def c10_1(ctx):
    c = Conn(ctx.s.port)
    try:
        req, key = upgrade_request(ctx.code, ctx.token)
        c.send(req)
        check(c.read_head() == 101, "status %s" % c.status)
        check((c.header("upgrade") or "").lower() == "websocket", "Upgrade %r" % c.header("upgrade"))
        check("upgrade" in (c.header("connection") or "").lower(),
              "Connection %r" % c.header("connection"))
        check(c.header("sec-websocket-accept") == expected_accept(key),
              "Sec-WebSocket-Accept %r" % c.header("sec-websocket-accept"))
        f = c.recv_frame()
        check(f is not None and f[2] == OP_TEXT and json.loads(f[3]).get("type") == "hello",
              "first frame " + describe(f))
    finally:
        c.close()


def has_version_13(c):
    check(c.header("sec-websocket-version") == "13",
          "Sec-WebSocket-Version %r" % c.header("sec-websocket-version"))


refusal("10.2", "Sec-WebSocket-Version 8: 426 with Sec-WebSocket-Version: 13", 426,
        extra=has_version_13, Sec_WebSocket_Version="8")
refusal("10.3", "Sec-WebSocket-Version 14: 426 with Sec-WebSocket-Version: 13", 426,
        extra=has_version_13, Sec_WebSocket_Version="14")
refusal("10.4", "no Sec-WebSocket-Version: 400 or 426", (400, 426),
        drop=("Sec-WebSocket-Version",))
refusal("10.5", "a Sec-WebSocket-Key of 15 bytes: 400", 400,
        Sec_WebSocket_Key=base64.b64encode(b"k" * 15).decode())
refusal("10.6", "a Sec-WebSocket-Key that is not base64: 400", 400,
        Sec_WebSocket_Key="not base64 at all!!!!!==")
refusal("10.7", "no Sec-WebSocket-Key: 400", 400, drop=("Sec-WebSocket-Key",))
refusal("10.8", "no Upgrade header: 400", 400, drop=("Upgrade",))
refusal("10.9", "Upgrade: h2c instead of websocket: 400", 400, Upgrade="h2c")
refusal("10.10", "a room code no room has: 404", 404, room="ZZZZZ")
refusal("10.11", "a malformed room code: 404", 404, room="abc!")
refusal("10.12", "an unknown token: 401", 401, token="A" * 32)
refusal("10.13", "a malformed token: 401", 401, token="short")
refusal("10.14", "no token parameter: 400", 400, target="/ws?room=23456")


@case("10.15", "POST instead of GET: refused, never upgraded")
def c10_15(ctx):
    c = Conn(ctx.s.port)
    try:
        req, _ = upgrade_request(ctx.code, ctx.token)
        c.send(b"POST" + req[3:])
        st = c.read_head()
        check(400 <= st < 500, "answered %d %r" % (st, c.body[:200]))
    finally:
        c.close()


@case("10.16", "the token of another room: 401")
def c10_16(ctx):
    code2, token2, _ = create_room(ctx.s, "other")
    c = Conn(ctx.s.port)
    try:
        req, _ = upgrade_request(code2, ctx.token)
        c.send(req)
        st = c.read_head()
        check(st == 401, "answered %d %r" % (st, c.body[:200]))
    finally:
        c.close()


@case("10.17", "an Origin of another site (a foreign web page): 403 (issue 4)")
def c10_17(ctx):
    c = Conn(ctx.s.port)
    try:
        req, _ = upgrade_request(ctx.code, ctx.token, Origin="https://evil.example")
        c.send(req)
        st = c.read_head()
        check(st == 403, "answered %d %r" % (st, c.body[:200]))
    finally:
        c.close()


@case("10.18", "the Origin of the page the relay is served with: 101 (issue 4)")
def c10_18(ctx):
    c = Conn(ctx.s.port)
    try:
        req, _ = upgrade_request(ctx.code, ctx.token, Host="127.0.0.1:%d" % ctx.s.port,
                                 Origin="http://127.0.0.1:%d" % ctx.s.port)
        c.send(req)
        st = c.read_head()
        check(st == 101, "answered %d %r" % (st, c.body[:200]))
    finally:
        c.close()


# 11 the application protocol (docs/protocol.md, "Client to server")
@case("11.1", 'the time-sync ping {"type":"ping","id":1,"t0":123}: pong with id, t0, t1_us <= t2_us')
def c11_1(ctx):
    c = ctx.open()
    try:
        before = time.time_ns() // 1000
        c.send(text(b'{"type":"ping","id":1,"t0":123}'))
        f = next_answer(c, "the pong")
        after = time.time_ns() // 1000
        check(f[2] == OP_TEXT, "got " + describe(f))
        m = json.loads(f[3])
        check(m.get("type") == "pong" and m.get("id") == 1 and m.get("t0") == 123,
              "pong %r" % m)
        check(isinstance(m.get("t1_us"), int) and isinstance(m.get("t2_us"), int)
              and m["t1_us"] <= m["t2_us"], "t1_us/t2_us %r" % m)
        # Same host, one clock: the relay's times lie between send and receive
        # (with a second of slack for a clock step, so it cannot flake).
        check(before - 1000000 <= m["t1_us"] <= after + 1000000, "t1_us %r not near now" % m)
    finally:
        c.close()


simple("11.2", "a fractional t0 is echoed as the same number",
       text(b'{"type":"ping","id":2,"t0":1712345678901.25}'),
       lambda c: check(json.loads(next_answer(c, "pong")[3]).get("t0") == 1712345678901.25,
                       "t0 not echoed"))
simple("11.3", "an unknown message type: ignored (the next ping is answered)",
       text(b'{"type":"report","x":1}') + ping_ok(113), expect_app_pong, 113)
simple("11.4", "a JSON array instead of an object: closed 1008",
       text(b"[1,2]"), expect_close, 1008)
simple("11.5", "an object with a repeated key: closed 1008",
       text(b'{"type":"ping","type":"ping","id":1,"t0":1}'), expect_close, 1008)
simple("11.6", "text that is not JSON: closed 1008",
       text(b"hello"), expect_close, 1008)
simple("11.7", "two JSON objects in one message: closed 1008",
       text(b'{"type":"x"}{"type":"y"}'), expect_close, 1008)


# 12 after every case
@case("12.1", "after all of the above, eight new connections at once are each answered")
def c12_1(ctx):
    conns = []
    try:
        for i in range(8):
            conns.append(ctx.open())
        for i, c in enumerate(conns):
            c.send(ping_ok(120 + i))
        for i, c in enumerate(conns):
            expect_app_pong(c, 120 + i)
        for c in conns:
            sent_then(c, close_frame(1000), expect_close, 1000)
    finally:
        for c in conns:
            c.close()


# ---- running ----

def main(argv):
    global VERBOSE
    args = [a for a in argv[1:] if a != "-v"]
    VERBOSE = "-v" in argv[1:]
    chosen = [c for c in CASES if not args or any(
        c[0] == a or c[0].startswith(a + ".") for a in args)]
    s = Stack(name="conformance")
    n = failed = 0
    t_start = time.monotonic()
    try:
        s.start()
        ctx = Ctx(s)
        for cid, desc, fn in chosen:
            n += 1
            t = time.monotonic()
            try:
                fn(ctx)
                print("ok %d - %s %s" % (n, cid, desc), flush=True)
            except Exception as e:  # noqa: BLE001 - a failing case, not a crash
                failed += 1
                print("not ok %d - %s %s" % (n, cid, desc), flush=True)
                detail = str(e) if isinstance(e, Fail) else traceback.format_exc()
                for line in detail.splitlines():
                    print("#   " + line, flush=True)
            if VERBOSE:
                print("#   %.3fs" % (time.monotonic() - t), flush=True)
    except RuntimeError as e:
        n += 1
        failed += 1
        print("not ok %d - the stack starts and a room is created" % n)
        print("#   " + str(e).replace("\n", "\n#   "))
    finally:
        s.stop()
    for line in s.sanitizer_reports()[:20]:
        n += 1
        failed += 1
        print("not ok %d - sanitizer report: %s" % (n, line))
    if getattr(s, "leftover", False):
        n += 1
        failed += 1
        print("not ok %d - a process of the stack outlived it" % n)
    print("# %d cases in %.1fs" % (len(chosen), time.monotonic() - t_start))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
