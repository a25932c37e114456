"""stack.py - starts the real tutti stack (scripts/run.sh: Redis, nginx,
tutti-api, tutti-worker, two tutti-relays) on a free port in a temporary
directory for a test, and stops it; plus small HTTP/WebSocket helpers and a
TAP reporter. Uses only the standard library and Debian's python3-websocket.

As a command, runs another test against a stack of its own:
    python3 tests/integration/stack.py NAME CMD [ARG...]
CMD gets TUTTI_URL; the stack's log is kept as build/test-logs/stack-NAME.log,
and a sanitizer report in it fails the run with a TAP line.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def worker_pids(s, skip=()):
    """{worker id: pid} of the tutti-workers running on stack s's data
    directory (by their -d and -i), leaving out those whose command line
    holds any of the arguments in skip (e.g. "-m")."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if (argv and argv[0].endswith("tutti-worker") and s.data in argv and "-i" in argv
                and not any(a in argv for a in skip)):
            found[argv[argv.index("-i") + 1]] = int(pid)
    return found


class RedisError(Exception):
    """An error reply of Redis (returned by Redis.cmd, not raised)."""


class Redis:
    """A minimal RESP client over a Redis unix socket (the stack's is
    RUN/redis.sock), standard library only. cmd() returns the reply: str,
    int, None, a list, or a RedisError for an error reply."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.f.readline()
        if not line:
            raise OSError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RedisError("unexpected reply %r" % line)

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def pipeline(self, *cmds):
        for c in cmds:
            self.send(*c)
        return [self.read() for _ in cmds]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Stack:
    """The whole stack, started by start() and stopped by stop()."""

    def __init__(self, relays=2, name="integration", env=None):
        """env: extra environment for run.sh, e.g. {"TUTTI_WORKER_OPTS": "-g 500"}.
        With TUTTI_REDIS_PASSWORD in env, Redis requires it (run.sh) and
        self.env carries REDISCLI_AUTH for a redis-cli run with env=self.env.
        A password inherited from the caller's environment is not used: the
        test stack's Redis is its own."""
        self.relays = relays
        self.name = name
        base = {k: v for k, v in os.environ.items()
                if k not in ("TUTTI_REDIS_PASSWORD", "TUTTI_REDIS_USER", "REDISCLI_AUTH")}
        self.env = dict(base, **(env or {}))
        if self.env.get("TUTTI_REDIS_PASSWORD"):
            self.env["REDISCLI_AUTH"] = self.env["TUTTI_REDIS_PASSWORD"]
        self.tmp = tempfile.mkdtemp(prefix="tutti-it-")
        self.port = free_port()
        self.data = os.path.join(self.tmp, "data")
        self.run = os.path.join(self.tmp, "run")
        self.proc = None

    def start(self, timeout=20):
        self.log = open(os.path.join(self.tmp, "stack.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "scripts", "run.sh"), "-q", "-p", str(self.port),
             "-d", self.data, "-r", self.run, "-n", str(self.relays)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=self.env)
        if self.wait_healthy(timeout):
            return self
        raise RuntimeError("stack did not become healthy:\n" + self.logtext())

    def healthy(self):
        """Whether /api/healthz answers 200 with a worker; raises when the
        stack started by start() has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("stack exited early:\n" + self.logtext())
        try:
            st, body, _ = self.request("GET", "/api/healthz")
        except OSError:
            return False
        return st == 200 and bool(body.get("worker"))

    def wait_healthy(self, timeout):
        """Polls healthy() for at most timeout seconds; returns whether it held."""
        return bool(wait_for(self.healthy, timeout))

    def start_or_end(self, t):
        """Starts the stack; when it cannot start, reports that as one failing
        check, stops what did start and ends the run (Tap.done exits)."""
        try:
            self.start()
        except Exception as e:  # noqa: BLE001 - report, never crash the runner
            t.check(False, "the stack starts", e)
            self.stop()
            t.done()

    def check_sanitizers(self, t):
        """After stop(): one check that no server process logged an ASan,
        LSan or UBSan report."""
        reports = self.sanitizer_reports()
        t.check(not reports, "no sanitizer report from any server process",
                "\n".join(reports[:20]))

    def logtext(self, limit=4000):
        try:
            with open(os.path.join(self.tmp, "stack.log"), "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text[-limit:] if limit else text

    def stop(self):
        if getattr(self, "log", None) is not None:
            self.log.close()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            # Nothing the stack started may outlive it.
            try:
                os.killpg(self.proc.pid, 0)
                leftover = True
            except ProcessLookupError:
                leftover = False
            self.leftover = leftover
        self.final_log = self.logtext(limit=None)
        logs = os.path.join(ROOT, "build", "test-logs")
        os.makedirs(logs, exist_ok=True)
        with open(os.path.join(logs, "stack-%s.log" % self.name), "w") as f:
            f.write(self.final_log)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sanitizer_reports(self):
        """Lines of the stack's log where ASan, LSan or UBSan reported."""
        marks = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
        return [l for l in self.final_log.splitlines() if any(m in l for m in marks)]

    def request(self, method, path, body=None, token=None, raw=None, headers=None):
        """Returns (status, parsed JSON or None, response headers dict)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        parsed = None
        if "json" in hdrs.get("content-type", ""):
            parsed = json.loads(text)
        return r.status, parsed, hdrs

    def ws_url(self, code, token):
        return "ws://127.0.0.1:%d/ws?room=%s&token=%s" % (self.port, code, token)


def wait_for(pred, timeout, every=0.05):
    """Polls pred until it returns something true or timeout seconds have
    passed; returns its last value. (A bound for a slow machine, not a timing
    check.)"""
    deadline = time.time() + timeout
    v = pred()
    while not v and time.time() < deadline:
        time.sleep(every)
        v = pred()
    return v


def websocket_timeout():
    """The websocket-client timeout exception (imported only when used)."""
    import websocket
    return websocket.WebSocketTimeoutException


def now_us():
    return time.time_ns() // 1000


def is_problem(st, body, hdrs, status):
    """True when the response is an RFC 9457 problem with this status."""
    return (st == status and hdrs.get("content-type", "").startswith("application/problem+json")
            and isinstance(body, dict) and body.get("status") == status
            and bool(body.get("title")))


def create_room(s, name="alice", **settings):
    """Creates a room; returns (code, token, user) or raises."""
    st, body, _ = s.request("POST", "/api/rooms", dict(settings, name=name))
    if st != 201:
        raise RuntimeError("create room: %d %r" % (st, body))
    return body["code"], body["token"], body["user"]


def join_room(s, code, name):
    """Joins code as name; returns (token, user) or raises."""
    st, body, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": name})
    if st != 201:
        raise RuntimeError("join %s: %d %r" % (code, st, body))
    return body["token"], body["user"]


# Messages a test of one resource looks past: the relay's greeting, beacons,
# pongs, and listeners coming and going (presence, tested on its own).
QUIET = ("hello", "beacon", "pong", "presence")


class Events:
    """Reads a room's events from one WebSocket and keeps every one seen.
    quiet: the types take() looks past (default QUIET)."""

    def __init__(self, ws, quiet=QUIET):
        self.ws = ws
        self.quiet = quiet
        self.seen = []

    def take(self, n, timeout=5.0):
        """Returns the next n events (hello, beacons and pongs skipped)."""
        got = []
        deadline = time.time() + timeout
        while len(got) < n and time.time() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket_timeout():
                break
            if msg.get("type") not in ("hello", "beacon", "pong"):
                self.seen.append(msg)  # every room event, for seq checks
            if msg.get("type") in self.quiet:
                continue
            got.append(msg)
        return got

    def until(self, pred, limit=10):
        """Returns the first of the next events (at most limit) for which pred
        holds, or None."""
        for _ in range(limit):
            e = self.take(1)
            if not e:
                return None
            if pred(e[0]):
                return e[0]
        return None


def check_seqs(t, seq0, seen):
    """Checks that the events seen after seq0 carry every seq once, none
    missing. tutti-api and the worker publish after their own commits, so two
    events of different processes committed a moment apart may arrive
    swapped (a client then refetches the room)."""
    seqs = [e["seq"] for e in seen]
    t.check(len(seqs) >= 10 and sorted(seqs) == list(range(seq0 + 1, seq0 + 1 + len(seqs))),
            "every event seen has its own seq, none missing", seqs)


def recv_until(ws, pred, timeout=5.0):
    """Returns the first WebSocket JSON message for which pred holds, or None."""
    import websocket
    deadline = time.time() + timeout
    while time.time() < deadline:
        ws.settimeout(max(0.05, deadline - time.time()))
        try:
            msg = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if pred(msg):
            return msg
    return None


class Tap:
    """A minimal TAP producer: each check is one line, ok or not ok."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, desc, detail=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc), flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print("#   " + line, flush=True)
        return cond

    def run(self, fn, *args):
        """Runs one test function; an exception is a failure, not a crash."""
        try:
            fn(self, *args)
        except Exception:  # noqa: BLE001 - report and go on
            self.check(False, fn.__name__ + " raised", traceback.format_exc())

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def main(argv):
    """Runs argv[2:] against a fresh stack; exits with its status."""
    if len(argv) < 3:
        sys.exit("usage: stack.py NAME CMD [ARG...]")
    s = Stack(name=argv[1])
    try:
        s.start()
        env = dict(os.environ, TUTTI_URL="http://127.0.0.1:%d" % s.port,
                   TUTTI_ARTIFACTS=os.path.join(ROOT, "build", "test-logs"))
        rc = subprocess.call(argv[2:], env=env)
    except RuntimeError as e:
        print("not ok - the stack starts\n# " + str(e).replace("\n", "\n# "), flush=True)
        rc = 1
    finally:
        s.stop()
    for line in s.sanitizer_reports()[:20]:
        print("not ok - sanitizer report: " + line, flush=True)
        rc = rc or 1
    sys.exit(rc)


if __name__ == "__main__":
    main(sys.argv)
