"""listen_lib.py - what the `tutti listen` test and benchmark share: a TCP
delay proxy (asyncio, in a thread of its own; each direction of each
connection delayed by a base plus a random jitter, order kept; every
connection can be dropped at once to force a reconnect), a runner for
headless listeners, and the analysis of their --report files (the format is
in docs/cli.md, "tutti listen").

Used by tests/integration/test_listen.py and bench/listen_bench.py.
Python 3 standard library only.
"""
import asyncio
import os
import random
import signal
import subprocess
import threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TUTTI = os.path.join(ROOT, "bin", "tutti")


class DelayProxy:
    """127.0.0.1:port -> 127.0.0.1:target, delay_ms + U(0, jitter_ms) each way
    per chunk; a chunk never overtakes the one before it."""

    def __init__(self, target_port, delay_ms, jitter_ms=0.0, seed=1):
        self.target = target_port
        self.delay = delay_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.rnd = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self.writers = set()
        self.accepted = 0
        self.port = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        ready = threading.Event()
        self._ready = ready
        self.thread.start()
        ready.wait(10)
        if self.port is None:
            raise RuntimeError("delay proxy did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _pipe(self, reader, writer):
        loop = asyncio.get_running_loop()
        q = asyncio.Queue()

        async def feed():
            last = 0.0
            while True:
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                due = max(last, loop.time() + self.delay + self.rnd.random() * self.jitter)
                last = due
                await q.put((due, data))
                if not data:
                    return

        async def drain():
            while True:
                due, data = await q.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    if not data:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    await writer.drain()
                except (ConnectionError, OSError):
                    return

        await asyncio.gather(feed(), drain())

    async def _client(self, creader, cwriter):
        self.accepted += 1
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            cwriter.close()
            return
        for w in (cwriter, uwriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.writers.add(w)
        try:
            await asyncio.gather(self._pipe(creader, uwriter), self._pipe(ureader, cwriter))
        finally:
            for w in (cwriter, uwriter):
                self.writers.discard(w)
                w.close()

    def drop_all(self):
        """Ends every connection through the proxy at once (RST-like close)."""
        def drop():
            for w in list(self.writers):
                sock = w.get_extra_info("socket")
                w.transport.abort()
                del sock
        self.loop.call_soon_threadsafe(drop)

    def stop(self):
        async def halt():
            self.server.close()
            for w in list(self.writers):
                w.transport.abort()
            tasks = [x for x in asyncio.all_tasks() if x is not asyncio.current_task()]
            for x in tasks:
                x.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(halt(), self.loop)
            self.thread.join(5)


class Listener:
    """One `tutti listen` process with its own config and cache directory."""

    def __init__(self, tmp, name, server, code, offset_ms=0.0, ppm=0.0, extra=(), env=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.report = os.path.join(self.dir, "report.txt")
        self.name = name
        e = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.dir, "config"),
                 XDG_CACHE_HOME=os.path.join(self.dir, "cache"))
        e.update(env or {})
        self.out = open(os.path.join(self.dir, "stdout"), "wb")
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.argv = [TUTTI, "--server", server, "listen", code, "--name", name,
                     "--output", "null", "--report", self.report,
                     "--clock-offset-ms", str(offset_ms), "--clock-skew-ppm", str(ppm)] + list(extra)
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=self.err, env=e)

    def stop(self, timeout=10):
        """SIGTERM, then the exit status (SIGKILL after timeout: -9)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()
        return self.proc.returncode

    def stderr(self):
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode(errors="replace")

    def stdout(self):
        with open(os.path.join(self.dir, "stdout"), "rb") as f:
            return f.read().decode(errors="replace")


class Report:
    """A parsed --report file: segments (true_us, item, frame, frames,
    end_true_us), notes, stats lines (dicts), anchors noted."""

    def __init__(self, path):
        self.segs = []
        self.notes = []
        self.stats = []
        self.anchors = []
        self.rate = 44100
        try:
            f = open(path)
        except OSError:
            return
        with f:
            for line in f:
                if line.startswith("#"):
                    self._note(line[1:].strip())
                    continue
                p = line.split()
                if len(p) != 5:
                    continue
                try:
                    t0, item, frame, n, t1 = (int(x) for x in p)
                except ValueError:
                    continue
                self.segs.append((t0, item, frame, n, t1))

    def _note(self, s):
        kv = dict(x.split("=", 1) for x in s.split() if "=" in x)
        if s.startswith("stats "):
            self.stats.append(kv)
        elif s.startswith("anchor "):
            self.anchors.append(kv)
        elif s.startswith("rate="):
            self.rate = int(kv.get("rate", 44100))
        self.notes.append(s)

    def last_stats(self):
        return self.stats[-1] if self.stats else {}

    def index(self, t_from, t_to):
        """{item: sorted list of (frame, t0, n, t1)} for segments heard within
        [t_from, t_to]."""
        idx = {}
        for t0, item, frame, n, t1 in self.segs:
            if t0 >= t_from and t1 <= t_to:
                idx.setdefault(item, []).append((frame, t0, n, t1))
        for v in idx.values():
            v.sort()
        return idx


def times_of(idx, item, frame):
    """Every true time at which frame of item is heard, from an index (an item
    played twice in the window - repeat, seek back - is heard twice)."""
    out = []
    for f0, t0, n, t1 in idx.get(item, ()):
        if f0 > frame:
            break
        if frame < f0 + n:
            out.append(t0 + (frame - f0) * (t1 - t0) / n)
    return out


def spreads(reports, t_from, t_to, step_frames=4410):
    """For every step_frames-th frame heard by every report within [t_from,
    t_to]: max - min of its true play-out times across the reports (µs), for
    each time the first report heard it (the others' nearest hearing counts).
    Returns a list of (item, frame, spread_us)."""
    # the others are read a little beyond the window, so that a sample the
    # first report hears near an edge is matched with the same hearing
    idxs = [reports[0].index(t_from, t_to)] + [r.index(t_from - 5_000_000, t_to + 5_000_000)
                                               for r in reports[1:]]
    out = []
    items = set(idxs[0])
    for ix in idxs[1:]:
        items &= set(ix)
    for item in sorted(items):
        lo = idxs[0][item][0][0]
        hi = max(f0 + n for f0, _, n, _ in idxs[0][item])
        f = (lo + step_frames - 1) // step_frames * step_frames
        while f < hi:
            for ref in times_of(idxs[0], item, f):
                # a listener may have dropped exactly this sample (drift
                # correction): then its neighbour is compared
                for g in (f, f + 1, f - 1):
                    ts = [min(times_of(ix, item, g) or [float("inf")],
                              key=lambda x: abs(x - ref)) for ix in idxs[1:]]
                    t0 = times_of(idxs[0], item, g)
                    if t0 and all(abs(t - ref) < 1e6 for t in ts):
                        break
                if t0 and all(t != float("inf") for t in ts):
                    r0 = min(t0, key=lambda x: abs(x - ref))
                    out.append((item, f, max(ts + [r0]) - min(ts + [r0])))
            f += step_frames
    return out


def schedule_errors(report, anchor, t_from, t_to, step_frames=4410):
    """The error (µs, > 0: heard late) of the report against a playing anchor
    {item_id, position_us, at_us}: frame f is due at at_us - position_us +
    f / rate, in server time, which is true time on one machine."""
    idx = report.index(t_from, t_to)
    item = anchor["item_id"]
    base = anchor["at_us"] - anchor["position_us"]
    out = []
    for f0, t0, n, t1 in idx.get(item, []):
        f = (f0 + step_frames - 1) // step_frames * step_frames
        while f < f0 + n:
            t = t0 + (f - f0) * (t1 - t0) / n
            out.append(t - (base + f * 1e6 / report.rate))
            f += step_frames
    return out


def pct(values, p):
    """The p-th percentile (nearest rank) of values; None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]
