"""cluster.py - the tutti stack for the faults suite, one process at a time:
Redis, tutti-api, two tutti-workers, two tutti-relays (with /metrics) and
nginx, started individually with the flags of scripts/run.sh, on a free port
in a temporary directory. Unlike run.sh, which stops everything when one
process dies, a test here kills any process (kill), starts it again on the
same socket (start), reloads nginx (reload_nginx) and stops everything at the
end (stop, from a finally). Each process logs into
build/test-logs/faults-NAME.log (restarts append). Cluster is a Stack
(tests/integration/stack.py), so request(), ws_url() and the helpers there
work on it.
"""
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from stack import ROOT, Stack, free_port  # noqa: E402

LOGS = os.path.join(ROOT, "build", "test-logs")
NAMES = ("redis", "api", "worker-1", "worker-2", "relay-1", "relay-2", "nginx")


def redis_cli(sock, *args, timeout=5):
    """Runs one redis-cli command on the unix socket; returns its output
    stripped, or None when Redis does not answer."""
    try:
        p = subprocess.run(["redis-cli", "-s", sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0 or p.stdout.startswith("Could not connect"):
        return None
    return p.stdout.strip()


class Cluster(Stack):
    """The stack as separate processes. names: NAMES."""

    def __init__(self, name="faults"):
        super().__init__(relays=2, name=name)
        self.procs = {}
        self.logs = {}
        self.metrics_ports = {"relay-1": free_port(), "relay-2": free_port()}
        self.redis_sock = os.path.join(self.run, "redis.sock")
        self.api_sock = os.path.join(self.run, "api.sock")

    # --- what each process is -------------------------------------------
    def argv(self, name):
        b = lambda p: os.path.join(ROOT, "bin", p)  # noqa: E731
        if name == "redis":
            return [shutil.which("redis-server") or "redis-server", "--port", "0",
                    "--unixsocket", self.redis_sock, "--unixsocketperm", "700",
                    "--save", "", "--appendonly", "no", "--dir", self.run,
                    "--daemonize", "no", "--loglevel", "warning",
                    "--enable-debug-command", "local", "--logfile", ""]
        if name == "api":
            return [b("tutti-api"), "-d", self.data, "-R", self.redis_sock, "-s",
                    self.api_sock, "serve"]
        if name.startswith("worker-"):
            return [b("tutti-worker"), "-d", self.data, "-R", self.redis_sock, "-i", name]
        if name.startswith("relay-"):
            n = name.split("-")[1]
            return [b("tutti-relay"), "-l", "unix:" + self.relay_sock(name), "-R",
                    self.redis_sock, "-i", "r" + n, "-m",
                    "127.0.0.1:%d" % self.metrics_ports[name]]
        if name == "nginx":
            conf = os.path.join(self.run, "nginx", "nginx.conf")
            return ["nginx", "-e", "stderr", "-p", os.path.join(self.run, "nginx"), "-c", conf]
        raise ValueError("no process " + name)

    def relay_sock(self, name):
        return os.path.join(self.run, name + ".sock")

    def socket_of(self, name):
        if name == "redis":
            return self.redis_sock
        if name == "api":
            return self.api_sock
        if name.startswith("relay-"):
            return self.relay_sock(name)
        return None

    def nginx_conf(self):
        """nginx/tutti-dev.conf.in with run.sh's substitutions."""
        with open(os.path.join(ROOT, "nginx", "tutti-dev.conf.in")) as f:
            conf = f.read()
        user = ""
        if os.getuid() == 0:
            user = "user %s %s;" % (pwd.getpwuid(os.getuid()).pw_name,
                                    grp.getgrgid(os.getgid()).gr_name)
        relays = "".join("\t\tserver unix:%s max_fails=0;\n" % self.relay_sock("relay-%d" % i)
                         for i in (1, 2))
        for k, v in (("@PORT@", str(self.port)), ("@RUN@", self.run), ("@DATA@", self.data),
                     ("@WEB@", os.path.join(ROOT, "web")), ("@USER@", user),
                     ("@RELAYS@", relays)):
            conf = conf.replace(k, v)
        os.makedirs(os.path.join(self.run, "nginx"), exist_ok=True)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.run, "nginx", d), exist_ok=True)
        path = os.path.join(self.run, "nginx", "nginx.conf")
        with open(path, "w") as f:
            f.write(conf + "\n")
        return path

    # --- control ------------------------------------------------------------
    def log_path(self, name):
        return os.path.join(LOGS, "%s-%s.log" % (self.name, name))

    def start(self, name=None, timeout=10):
        """start(): the whole cluster, in run.sh's order, until /api/healthz
        reports a worker. start(name): that one process (again), on the same
        socket, until it listens. Raises RuntimeError when it does not."""
        if name is None:
            return self._start_all(timeout)
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            raise RuntimeError("%s is already running" % name)
        sock = self.socket_of(name)
        if sock and name != "redis" and os.path.exists(sock):
            os.unlink(sock)  # so that its appearance means "listening"
        if name not in self.logs:
            os.makedirs(LOGS, exist_ok=True)
            self.logs[name] = open(self.log_path(name), "wb")
        log = self.logs[name]
        log.write(b"--- faults: start %s at %.3f\n" % (name.encode(), time.time()))
        log.flush()
        self.procs[name] = subprocess.Popen(self.argv(name), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env)
        self._wait_up(name, timeout)
        return self

    def _wait_up(self, name, timeout):
        deadline = time.time() + timeout
        p = self.procs[name]
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError("%s exited (%s) at start:\n%s" % (name, p.returncode,
                                                                   self.logtail(name)))
            if name == "redis":
                if redis_cli(self.redis_sock, "PING", timeout=1) == "PONG":
                    return
            elif name == "nginx":
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            elif name.startswith("worker-"):
                return
            elif os.path.exists(self.socket_of(name)):
                return
            time.sleep(0.02)
        raise RuntimeError("%s did not come up:\n%s" % (name, self.logtail(name)))

    def _start_all(self, timeout):
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.run, exist_ok=True)
        os.makedirs(LOGS, exist_ok=True)
        with open(self.log_path("setup"), "wb") as log:
            for cmd in ([os.path.join(ROOT, "bin", "tutti-api"), "-d", self.data, "-m", "sql",
                         "migrate"], [os.path.join(ROOT, "scripts", "demo.sh"), self.data]):
                if subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT) != 0:
                    raise RuntimeError("%s failed (see %s)" % (cmd[0], self.log_path("setup")))
        for name in NAMES:
            if name == "nginx":
                conf = self.nginx_conf()
                subprocess.run(["nginx", "-e", "stderr", "-p", os.path.join(self.run, "nginx"),
                                "-c", conf, "-t", "-q"], check=True)
            self.start(name)
        if self.wait_healthy(timeout):
            return self
        raise RuntimeError("the cluster did not become healthy")

    def pid(self, name):
        p = self.procs.get(name)
        return p.pid if p is not None and p.poll() is None else None

    def alive(self, name):
        return self.pid(name) is not None

    def kill(self, name, sig=signal.SIGKILL, timeout=10):
        """Sends sig to the process; for SIGKILL and SIGTERM waits until it
        is gone. Returns the time the signal was sent (time.monotonic)."""
        p = self.procs[name]
        if p.poll() is not None:
            raise RuntimeError("%s is not running" % name)
        self.logs[name].write(b"--- faults: signal %d to %s at %.3f\n"
                              % (sig, name.encode(), time.time()))
        self.logs[name].flush()
        at = time.monotonic()
        p.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            p.wait(timeout)
        return at

    def nginx_workers(self):
        """The pids of the nginx master's children (its workers)."""
        master = self.pid("nginx")
        out = set()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                out.add(int(pid))
        return out

    def reload_nginx(self, timeout=10):
        """SIGHUP to the nginx master; returns once a new worker runs.
        Returns (old worker pids, new worker pids)."""
        old = self.nginx_workers()
        self.kill("nginx", signal.SIGHUP)
        deadline = time.time() + timeout
        while time.time() < deadline:
            new = self.nginx_workers() - old
            if new:
                return old, new
            time.sleep(0.02)
        raise RuntimeError("nginx started no new worker after SIGHUP")

    def stop(self):
        """Stops every process, front to back (nginx, relays, workers,
        tutti-api, Redis last, as an operator would): SIGTERM, then SIGKILL
        for what still runs after 5 s. Keeps the logs, removes the
        temporary directory."""
        workers = self.nginx_workers() if self.alive("nginx") else set()
        for stage in (("nginx",), ("relay-1", "relay-2"), ("worker-1", "worker-2"), ("api",),
                      ("redis",)):
            procs = [self.procs[n] for n in stage if n in self.procs]
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.time() + 5
            for p in procs:
                try:
                    p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        # Nothing may outlive the cluster, nginx's workers (old ones after a
        # reload included) neither.
        time.sleep(0.1)
        self.leftover = any(p.poll() is None for p in self.procs.values()) or \
            any(os.path.exists("/proc/%d" % pid) for pid in workers)
        for f in self.logs.values():
            f.close()
        self.final_log = "".join(self.logtext_of(n) for n in self.logs)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logtext_of(self, name):
        try:
            with open(self.log_path(name), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def logtail(self, name, limit=3000):
        return self.logtext_of(name)[-limit:]

    def logtext(self, limit=4000):
        text = "".join("== %s\n%s" % (n, self.logtail(n, limit)) for n in self.logs)
        return text[-limit:] if limit else text
