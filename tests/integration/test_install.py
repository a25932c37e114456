"""test_install.py - `make install` into a temporary prefix, then the
INSTALLED tutti started the way its systemd units say (ExecStartPre and
ExecStart read from the installed units, with the options of the installed
default file), behind the system's nginx running the installed production
site (only its listen and log lines changed) over HTTP and HTTPS with a
self-signed certificate: migrations from the installed sql directory,
health, static files with security headers, rooms, WebSocket events through
the relays, playback through the worker, media, the problem+json error
pages, rate limits; the manual pages, the units' syntax, the sysusers and
tmpfiles snippets; `make uninstall`; and an install under DESTDIR.
Run: /usr/bin/python3 tests/integration/test_install.py   (TAP output)
"""
import filecmp
import glob
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Tap, free_port, is_problem, recv_until  # noqa: E402

import websocket  # noqa: E402  Debian's python3-websocket

PROGS = ["tutti-api", "tutti-worker", "tutti-relay", "tutti"]
UNITS = ["tutti-api.service", "tutti-worker@.service", "tutti-relay@.service", "tutti.target"]
MAN8 = ["tutti-api.8", "tutti-worker.8", "tutti-relay.8"]


class Env:
    """The temporary prefix and the paths written into the installed files."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.prefix = os.path.join(tmp, "prefix")
        self.state = os.path.join(tmp, "state")
        self.run = os.path.join(tmp, "run")
        self.tls = os.path.join(tmp, "tls")
        self.nginx = os.path.join(tmp, "nginx")
        self.logs = os.path.join(tmp, "logs")
        self.share = os.path.join(self.prefix, "share", "tutti")
        self.unitdir = os.path.join(self.prefix, "lib", "systemd", "system")
        self.etc = os.path.join(self.prefix, "etc")  # SYSCONFDIR outside /usr, /usr/local
        self.cert = os.path.join(self.tls, "cert.pem")
        self.key = os.path.join(self.tls, "key.pem")
        self.redis = os.path.join(self.run, "redis.sock")

    def make_vars(self):
        return {"PREFIX": self.prefix, "STATEDIR": self.state, "RUNSTATEDIR": self.run,
                "REDIS_SOCKET": self.redis, "TLS_CERT": self.cert, "TLS_KEY": self.key}

    def files(self):
        """Every file install should put in the prefix."""
        p = self.prefix
        f = [os.path.join(p, "bin", x) for x in PROGS]
        f += [os.path.join(self.unitdir, u) for u in UNITS]
        f += [os.path.join(p, "lib", d, "tutti.conf") for d in ("tmpfiles.d", "sysusers.d")]
        f += [os.path.join(p, "share", "man", "man1", "tutti.1")]
        f += [os.path.join(p, "share", "man", "man8", m) for m in MAN8]
        f += [os.path.join(self.share, "nginx", "tutti.conf"),
              os.path.join(self.share, "examples", "default-tutti"),
              os.path.join(self.etc, "default", "tutti")]
        f += [os.path.join(self.share, "sql", os.path.basename(x)) for x in migrations()]
        for d, _, names in os.walk(os.path.join(ROOT, "web")):
            rel = os.path.relpath(d, os.path.join(ROOT, "web"))
            f += [os.path.normpath(os.path.join(self.share, "web", rel, n)) for n in names]
        return f


def migrations():
    return sorted(glob.glob(os.path.join(ROOT, "sql", "[0-9]*.sql")))


def make(target, variables):
    """Runs make TARGET in the repository; returns (status, output). Every
    make run rewrites build/.flags when its flags differ from the last build's
    (run by hand after `make SANITIZE=...`): put it back as it was, so the
    install test never causes a rebuild."""
    stamp = os.path.join(ROOT, "build", ".flags")
    try:
        with open(stamp, "rb") as f:
            saved = (f.read(), os.stat(stamp))
    except OSError:
        saved = None
    cmd = ["make", "-s", "--no-print-directory", "-C", ROOT, target]
    cmd += ["%s=%s" % kv for kv in sorted(variables.items())]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if saved is not None:
        with open(stamp, "rb") as f:
            changed = f.read() != saved[0]
        if changed:
            with open(stamp, "wb") as f:
                f.write(saved[0])
            os.utime(stamp, ns=(saved[1].st_atime_ns, saved[1].st_mtime_ns))
    return r.returncode, r.stdout.decode(errors="replace")


def files_under(top):
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


def is_text(path):
    with open(path, "rb") as f:
        return b"\0" not in f.read(8192)


# ---- the units, as systemd would run them ----

def env_file(path, env):
    """Adds the KEY=VALUE lines of an EnvironmentFile to env."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            words = shlex.split(line)
            if len(words) == 1 and "=" in words[0]:
                k, _, v = words[0].partition("=")
                env[k] = v


def specifiers(s, instance):
    return re.sub(r"%([%iIH])", lambda m: {"%": "%", "i": instance, "I": instance,
                                           "H": socket.gethostname()}[m.group(1)], s)


def expand(cmd, env):
    """A command line with $VAR (split into words) and ${VAR} (one word)."""
    argv = []
    for w in shlex.split(cmd):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            argv += env.get(m.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                               lambda m: env.get(m.group(1), ""), w))
    return argv


def unit_commands(path, instance=""):
    """Returns (ExecStartPre argvs, ExecStart argv) of a unit, with its
    Environment= and EnvironmentFile= settings applied."""
    env, pre, start = {}, [], None
    files = []
    with open(path) as f:
        for line in f:
            key, sep, val = line.strip().partition("=")
            if not sep or key.startswith("#"):
                continue
            val = specifiers(val, instance)
            if key == "Environment":
                for w in shlex.split(val):
                    k, _, v = w.partition("=")
                    env[k] = v
            elif key == "EnvironmentFile":
                files.append(val)
            elif key == "ExecStartPre":
                pre.append(val)
            elif key == "ExecStart":
                start = val
    for p in files:  # they override Environment=, later ones earlier ones
        optional = p.startswith("-")
        p = p.lstrip("-")
        if os.path.exists(p) or not optional:
            env_file(p, env)
    return [expand(c, env) for c in pre], expand(start, env)


class Procs:
    """The processes a test starts; stop() ends every one."""

    def __init__(self, logs):
        self.logs = logs
        self.procs = {}

    def start(self, name, argv):
        log = open(os.path.join(self.logs, name + ".log"), "wb")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        log.close()
        return self.procs[name]

    def stop(self, name, timeout=5):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for name in reversed(list(self.procs)):
            self.stop(name)

    def dead(self):
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def log(self, name, limit=2000):
        try:
            with open(os.path.join(self.logs, name + ".log"), "rb") as f:
                return f.read().decode(errors="replace")[-limit:]
        except OSError:
            return ""


def wait_socket(path, procs, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and not procs.dead():
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return os.path.exists(path)


# ---- HTTP ----

class Web:
    """Requests to the nginx under test: plain HTTP and HTTPS ports."""

    def __init__(self, e, http_port, https_port):
        self.http_port = http_port
        self.https_port = https_port
        self.ctx = ssl.create_default_context(cafile=e.cert)

    def request(self, method, path, body=None, token=None, headers=None, tls=True, conn=None):
        """Returns (status, parsed JSON or None, headers, raw body)."""
        own = conn is None
        if own:
            conn = (http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=10,
                                                context=self.ctx) if tls else
                    http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10))
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if own:
            conn.close()
        parsed = None
        if "json" in hdrs.get("content-type", ""):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return r.status, parsed, hdrs, raw

    def ws(self, code, token):
        url = "wss://127.0.0.1:%d/ws?room=%s&token=%s" % (self.https_port, code, token)
        return websocket.create_connection(
            url, timeout=5, sslopt={"context": self.ctx},
            origin="https://127.0.0.1:%d" % self.https_port)


# ---- the checks ----

def t_install(t, e):
    rc, out = make("install", e.make_vars())
    t.check(rc == 0, "make install PREFIX=<tmp>: status 0", out)
    missing = [f for f in e.files() if not os.path.isfile(f)]
    t.check(not missing, "every program, web file, migration, unit, man page and config "
            "is installed", "\n".join(missing))
    t.check(all(os.access(os.path.join(e.prefix, "bin", p), os.X_OK) for p in PROGS),
            "the programs are executable")
    same = all(filecmp.cmp(os.path.join(ROOT, "web", os.path.relpath(f, os.path.join(
        e.share, "web"))), f, shallow=False)
        for f in files_under(os.path.join(e.share, "web")))
    t.check(same, "the installed web/ is the repository's")
    left = []
    for f in files_under(e.prefix):
        if is_text(f):
            with open(f, errors="replace") as fh:
                left += ["%s: %s" % (f, m) for m in re.findall(r"@[A-Z_]+@", fh.read())]
    t.check(not left, "no @PLACEHOLDER@ is left in an installed file", "\n".join(left))
    with open(os.path.join(e.unitdir, "tutti-api.service")) as f:
        api = f.read()
    t.check("ExecStartPre=%s/bin/tutti-api -d %s -m %s/sql migrate" % (e.prefix, e.state, e.share)
            in api, "tutti-api.service migrates from the installed sql directory", api)
    with open(os.path.join(e.share, "nginx", "tutti.conf")) as f:
        site = f.read()
    t.check(("root %s/web;" % e.share) in site and ("alias %s/media/;" % e.state) in site
            and ("unix:%s/api.sock" % e.run) in site and ("ssl_certificate %s;" % e.cert) in site,
            "the nginx site names the installed web/, the data, the sockets and the certificate")


def t_units(t, e):
    if shutil.which("systemd-analyze") is None:
        t.check(True, "systemd-analyze verify # SKIP no systemd-analyze")
        return
    d = os.path.join(e.tmp, "verify")
    os.makedirs(d)
    # Templates are checked as instances.
    for src, dst in [("tutti-api.service", "tutti-api.service"), ("tutti.target", "tutti.target"),
                     ("tutti-worker@.service", "tutti-worker@1.service"),
                     ("tutti-relay@.service", "tutti-relay@1.service")]:
        shutil.copy(os.path.join(e.unitdir, src), os.path.join(d, dst))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                       [os.path.join(d, u) for u in sorted(os.listdir(d))],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace").strip()
    t.check(r.returncode == 0 and out == "", "systemd-analyze verify: the units are clean", out)


def t_sysusers_tmpfiles(t, e):
    if shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None:
        t.check(True, "sysusers.d and tmpfiles.d # SKIP no systemd tools")
        return
    root = os.path.join(e.tmp, "sysroot")
    os.makedirs(os.path.join(root, "etc"))
    r = subprocess.run(["systemd-sysusers", "--root=" + root,
                        os.path.join(e.prefix, "lib", "sysusers.d", "tutti.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    users = {}
    groups = {}
    try:
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {l.split(":")[0]: l.strip().split(":") for l in f if l.strip()}
        with open(os.path.join(root, "etc", "group")) as f:
            groups = {l.split(":")[0]: l.strip().split(":") for l in f if l.strip()}
    except OSError:
        pass
    tu = users.get("tutti", [])
    t.check(r.returncode == 0 and len(tu) == 7 and tu[5] == e.state and tu[6].endswith("nologin")
            and "www-data" in groups.get("tutti", ["", "", "", ""])[3].split(","),
            "sysusers.d: a tutti system user (home the data directory, no shell), and "
            "www-data in group tutti", r.stdout.decode(errors="replace") + repr(users) + repr(groups))
    r = subprocess.run(["systemd-tmpfiles", "--root=" + root, "--create",
                        os.path.join(e.prefix, "lib", "tmpfiles.d", "tutti.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    bad = []
    for d in (e.state, os.path.join(e.state, "media"), e.run):
        try:
            st = os.stat(root + d)
            if st.st_mode & 0o7777 != 0o750 or (tu and st.st_uid != int(tu[2])):
                bad.append("%s: %o uid %d" % (d, st.st_mode, st.st_uid))
        except OSError as ex:
            bad.append(str(ex))
    t.check(r.returncode == 0 and not bad, "tmpfiles.d: the data, media and socket directories, "
            "0750, owned by tutti", r.stdout.decode(errors="replace") + "\n".join(bad))


def usage_options(argv):
    """The option letters a program's help or usage lists."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    text = r.stdout.decode(errors="replace")
    return set(re.findall(r"(?m)^\s+-([A-Za-z])\b", text))


def t_man(t, e):
    man1 = os.path.join(e.prefix, "share", "man", "man1", "tutti.1")
    pages = [man1] + [os.path.join(e.prefix, "share", "man", "man8", m) for m in MAN8]
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    # man-db's man, else groff's man macros (which read mdoc too).
    render = ["man", "-l"] if shutil.which("man") else ["groff", "-man", "-Tutf8", "-P-cbou"]
    for p in pages:
        name = os.path.basename(p).rsplit(".", 1)[0]
        r = subprocess.run(render + [p], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=30)
        out = r.stdout.decode(errors="replace")
        t.check(r.returncode == 0 and "NAME" in out and name in out and "SYNOPSIS" in out,
                "%s renders the installed %s" % (" ".join(render), os.path.basename(p)),
                r.stderr.decode(errors="replace")[-1000:])
    if shutil.which("mandoc"):
        out = ""
        for p in pages[1:]:
            r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", p],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            out += "\n".join(l for l in r.stdout.decode(errors="replace").splitlines()
                             if "mandoc.db" not in l)
        t.check(out.strip() == "", "mandoc -T lint: no warning in the three man8 pages", out)
    bindir = os.path.join(e.prefix, "bin")
    for prog in ("tutti-api", "tutti-worker", "tutti-relay"):
        opts = usage_options([os.path.join(bindir, prog), "-h"])
        with open(os.path.join(e.prefix, "share", "man", "man8", prog + ".8")) as f:
            page = f.read()
        undocumented = sorted(o for o in opts if not re.search(r"(?m)^\.It Fl %s\b" % o, page))
        t.check(len(opts) >= 5 and not undocumented,
                "%s(8) documents every option its usage lists (%s)" % (prog, "".join(sorted(opts))),
                "undocumented: %s" % undocumented)


def t_programs(t, e):
    b = os.path.join(e.prefix, "bin")

    def run(*argv):
        r = subprocess.run([os.path.join(b, argv[0])] + list(argv[1:]), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    rc, out, err = run("tutti", "--version")
    t.check(rc == 0 and re.fullmatch(r"tutti \d+\.\d+\.\d+\n", out) is not None,
            "installed tutti --version", out + err)
    rc, out, err = run("tutti", "-h")
    t.check(rc == 0 and "SYNOPSIS" in out, "installed tutti -h", err)
    for prog in ("tutti-worker", "tutti-relay"):
        rc, out, err = run(prog, "-h")
        t.check(rc == 0 and out.startswith("NAME") and prog in out, "installed %s -h" % prog, err)
    rc, out, err = run("tutti-api", "-h")
    t.check(rc == 0 and "usage: tutti-api" in out and "migrate" in out,
            "installed tutti-api -h prints its usage", out + err)
    rc, out, err = run("tutti-api", "-Q")
    t.check(rc == 2 and "usage: tutti-api" in err and out == "",
            "installed tutti-api refuses an unknown option with its usage and status 2", out + err)


def make_mp3(e):
    """A 2-second MP3 made with sox and lame; returns its path."""
    wav = os.path.join(e.tmp, "tone.wav")
    mp3 = os.path.join(e.tmp, "tone.mp3")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", wav, "synth", "2", "sine", "440"],
                   check=True, timeout=30)
    subprocess.run(["lame", "--quiet", "-b", "128", "--add-id3v2", "--tt", "Install Tone", wav,
                    mp3], check=True, timeout=30)
    return mp3


def start_services(t, e, procs):
    """Redis, then every service as its installed unit runs it. Returns True
    when every socket appeared."""
    for i in (1, 2):  # the operator's per-relay files: metrics ports
        with open(os.path.join(e.etc, "default", "tutti-relay-%d" % i), "w") as f:
            f.write('TUTTI_RELAY_INSTANCE_OPTS="-m 127.0.0.1:%d"\n' % e.metrics[i - 1])
    os.makedirs(e.run, exist_ok=True)  # systemd-tmpfiles makes it on a host
    procs.start("redis", [shutil.which("redis-server"), "--port", "0", "--unixsocket", e.redis,
                          "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                          "--dir", e.run, "--daemonize", "no", "--logfile", ""])
    if not t.check(wait_socket(e.redis, procs), "redis-server starts", procs.log("redis")):
        return False
    pre, start = unit_commands(os.path.join(e.unitdir, "tutti-api.service"))
    rcs = [subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
           for c in pre]
    version = -1
    try:
        db = sqlite3.connect(os.path.join(e.state, "tutti.db"))
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.close()
    except sqlite3.Error:
        pass
    last = int(os.path.basename(migrations()[-1]).split("_")[0])
    t.check(len(rcs) == 1 and rcs[0].returncode == 0 and version == last,
            "tutti-api.service's ExecStartPre migrates the new database to version %d" % last,
            "%r %r" % (pre, [r.stdout for r in rcs]))
    r = subprocess.run([start[0], "-d", e.state, "import", make_mp3(e)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    t.check(r.returncode == 0, "the installed tutti-api imports an MP3", r.stdout)
    procs.start("api", start)
    for i in (1, 2):
        procs.start("worker-%d" % i, unit_commands(
            os.path.join(e.unitdir, "tutti-worker@.service"), str(i))[1])
    relay_argv = []
    for i in (1, 2):
        argv = unit_commands(os.path.join(e.unitdir, "tutti-relay@.service"), str(i))[1]
        relay_argv.append(argv)
        procs.start("relay-%d" % i, argv)
    socks = [os.path.join(e.run, n) for n in ("api.sock", "relay-1.sock", "relay-2.sock")]
    ok = all(wait_socket(s, procs) for s in socks)
    t.check(ok and not procs.dead(), "tutti-api, two workers and two relays start from their "
            "units' ExecStart lines", "\n".join("%s: %s" % (n, procs.log(n, 600))
                                                for n in procs.procs) + repr(relay_argv))
    return ok


def site_for_test(t, e, http_port, https_port):
    """The installed site with its listen and log lines moved to the test's
    ports and directory: nothing else changes. Returns the nginx.conf path."""
    with open(os.path.join(e.share, "nginx", "tutti.conf")) as f:
        site = f.read()
    edits = [("listen 80;", "listen 127.0.0.1:%d;" % http_port, 1),
             ("listen [::]:80;", "", 1),
             ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https_port, 1),
             ("listen [::]:443 ssl http2;", "", 1),
             ("/var/log/nginx/", e.nginx + "/", 4)]
    counts = []
    for old, new, n in edits:
        counts.append(site.count(old) == n)
        site = site.replace(old, new)
    t.check(all(counts), "the production site needs only its listen and log lines changed",
            repr(counts))
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(e.nginx, d), exist_ok=True)
    with open(os.path.join(e.nginx, "tutti.conf"), "w") as f:
        f.write(site)
    user = ""
    if os.geteuid() == 0:
        import grp
        import pwd
        user = "user %s %s;" % (pwd.getpwuid(0).pw_name, grp.getgrgid(0).gr_name)
    # What /etc/nginx/nginx.conf has around sites-enabled/.
    main = """%(user)s
worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events {
	worker_connections 1024;
}
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	sendfile on;
	client_body_temp_path %(d)s/body;
	proxy_temp_path %(d)s/proxy;
	fastcgi_temp_path %(d)s/fastcgi;
	uwsgi_temp_path %(d)s/uwsgi;
	scgi_temp_path %(d)s/scgi;
	include %(d)s/tutti.conf;
}
""" % {"user": user, "d": e.nginx}
    conf = os.path.join(e.nginx, "nginx.conf")
    with open(conf, "w") as f:
        f.write(main)
    return conf


def t_nginx(t, e, procs, web):
    conf = site_for_test(t, e, web.http_port, web.https_port)
    argv = ["nginx", "-e", os.path.join(e.nginx, "error.log"), "-p", e.nginx, "-c", conf]
    r = subprocess.run(argv + ["-t", "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    if not t.check(r.returncode == 0, "nginx -t accepts the rendered production site",
                   r.stdout.decode(errors="replace")):
        return False
    procs.start("nginx", argv)
    deadline = time.time() + 15
    body = None
    while time.time() < deadline and not procs.dead():
        try:
            st, body, _, _ = web.request("GET", "/api/healthz")
            if st == 200 and body.get("worker"):
                break
        except OSError:
            pass
        time.sleep(0.1)
    return t.check(isinstance(body, dict) and body.get("status") == "ok" and body.get("worker"),
                   "GET /api/healthz over HTTPS: ok, with db, redis and a worker", "%r\n%s" % (
                       body, procs.log("nginx")))


def t_http(t, e, web):
    st, _, hdrs, _ = web.request("GET", "/r/ABCDE?x=1", tls=False)
    t.check(st == 301 and hdrs.get("location") == "https://127.0.0.1/r/ABCDE?x=1",
            "plain HTTP redirects to HTTPS", (st, hdrs))
    st, _, hdrs, raw = web.request("GET", "/metrics", tls=False)
    t.check(st == 200 and b"tutti_api_requests_total" in raw,
            "plain HTTP serves /metrics of tutti-api to a local scraper", raw[:300])
    st, body, _, _ = web.request("GET", "/api/readyz")
    t.check(st == 200 and body == {"status": "ready"}, "GET /api/readyz: ready", body)


def t_static(t, e, web):
    with open(os.path.join(ROOT, "nginx", "tutti-dev.conf.in")) as f:
        csp = re.search(r'Content-Security-Policy "([^"]+)"', f.read()).group(1)
    st, _, hdrs, raw = web.request("GET", "/")
    with open(os.path.join(ROOT, "web", "index.html"), "rb") as f:
        index = f.read()
    t.check(st == 200 and hdrs.get("content-type", "").startswith("text/html") and raw == index,
            "GET / over HTTPS: the installed index.html", (st, hdrs))
    want = {"content-security-policy": csp, "x-content-type-options": "nosniff",
            "x-frame-options": "DENY", "referrer-policy": "same-origin"}
    t.check(all(hdrs.get(k) == v for k, v in want.items()),
            "security headers, the CSP the same as the development config's", hdrs)
    st, _, hdrs, raw = web.request("GET", "/r/K7Q2M")
    t.check(st == 200 and raw == index, "a share link /r/CODE serves the page", st)
    ctx = ssl.create_default_context(cafile=e.cert)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", web.https_port), timeout=10) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
            alpn, version = s.selected_alpn_protocol(), s.version()
    t.check(alpn == "h2" and version in ("TLSv1.2", "TLSv1.3"),
            "TLS offers HTTP/2 (ALPN h2) with TLS 1.2 or 1.3", (alpn, version))
    ctx = ssl.create_default_context(cafile=e.cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", web.https_port), timeout=10) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
            version = s.version()
    t.check(version == "TLSv1.2", "a TLS 1.2 client is served", version)


def relay_connections(e):
    """Sum of tutti_relay_connections over both relays' /metrics."""
    total = 0
    for port in e.metrics:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        m = re.search(r"(?m)^tutti_relay_connections\{[^}]*\} (\d+)$", text)
        total += int(m.group(1)) if m else 1000
    return total


def t_room(t, e, web):
    st, body, _, _ = web.request("POST", "/api/rooms", {"name": "alice", "policy": "everyone"})
    if not t.check(st == 201 and len(body.get("code", "")) == 5, "create a room over HTTPS", body):
        return
    code, token = body["code"], body["token"]
    st, room, _, _ = web.request("GET", "/api/rooms/" + code, token=token)
    items = room.get("playlist", []) if isinstance(room, dict) else []
    t.check(st == 200 and len(items) == 1 and items[0]["track"]["title"] == "Install Tone",
            "the room's playlist is the imported library", room)
    ws = web.ws(code, token)
    try:
        hello = recv_until(ws, lambda m: m.get("type") == "hello")
        t.check(hello is not None and hello.get("relay") in ("1", "2"),
                "wss /ws through nginx's relay upstream: the hello of relay 1 or 2 (the "
                "units' instance names)", hello)
        t.check(relay_connections(e) == 1, "the relays' /metrics (per-instance -m) count the "
                "listener")
        st, msg, _, _ = web.request("POST", "/api/rooms/%s/chat" % code, {"text": "hi"},
                                    token=token)
        ev = recv_until(ws, lambda m: m.get("type") == "chat")
        t.check(st == 201 and ev is not None and ev["message"]["text"] == "hi",
                "a chat message arrives as an event over the WebSocket", (st, msg, ev))
        st, ans, _, _ = web.request("POST", "/api/rooms/%s/control" % code, {"action": "play"},
                                    token=token)
        ev = recv_until(ws, lambda m: m.get("type") == "playback" and m.get("state") == "playing")
        t.check(st == 200 and ev is not None and ev.get("item_id") == items[0]["id"],
                "play goes through the worker and arrives as a playback event", (st, ans, ev))
    finally:
        ws.close()
    url = items[0]["track"]["url"] if items else "/media/none"
    st, _, hdrs, raw = web.request("GET", url, headers={"Range": "bytes=0-99"})
    t.check(st == 206 and len(raw) == 100 and hdrs.get("content-type") == "audio/mpeg"
            and "immutable" in hdrs.get("cache-control", ""),
            "the track's media file: 206 audio/mpeg from the data directory", (st, hdrs))


def t_errors(t, e, web, procs):
    for path in ("/no-such-page.html", "/media/00/" + "0" * 64 + ".mp3"):
        st, body, hdrs, _ = web.request("GET", path)
        t.check(is_problem(st, body, hdrs, 404), "GET %s: 404 as problem+json" % path[:20],
                (st, hdrs))
    st, body, hdrs, _ = web.request("POST", "/api/rooms", {"name": "x" * (70 * 1024)})
    t.check(is_problem(st, body, hdrs, 413), "a 70 KiB body to the API: 413 as problem+json",
            (st, body))
    st, body, hdrs, _ = web.request("GET", "/", headers={"X-Filler": "a" * 9000})
    t.check(is_problem(st, body, hdrs, 400), "a 9000-byte header: 400 as problem+json",
            (st, body))
    rc = procs.stop("api")
    t.check(rc == 0, "tutti-api exits 0 on SIGTERM", rc)
    st, body, hdrs, _ = web.request("GET", "/api/rooms")
    t.check(is_problem(st, body, hdrs, 502), "tutti-api down: 502 as problem+json", (st, body))
    # The API limit holds for loopback too: 100/s with a burst of 200.
    conn = http.client.HTTPSConnection("127.0.0.1", web.https_port, timeout=10, context=web.ctx)
    got = None
    for _ in range(600):
        st, body, hdrs, _ = web.request("GET", "/api/readyz", conn=conn)
        if st == 429:
            got = (st, body, hdrs)
            break
    conn.close()
    t.check(got is not None and is_problem(*got, 429) and got[2].get("retry-after") == "1",
            "the API rate limit applies to loopback: 429 as problem+json, Retry-After: 1", got)


def t_uninstall(t, e):
    operator = os.path.join(e.etc, "default", "tutti-relay-1")
    installed = e.files()
    rc, out = make("uninstall", e.make_vars())
    t.check(rc == 0, "make uninstall: status 0", out)
    left = [f for f in installed if os.path.lexists(f)]
    t.check(not left, "make uninstall removes every installed file", "\n".join(left))
    rest = files_under(e.prefix)
    t.check(os.path.exists(operator) and all(os.path.dirname(f) == os.path.dirname(operator)
                                             for f in rest),
            "only the operator's own files stay", "\n".join(rest))
    t.check(os.path.exists(os.path.join(e.state, "tutti.db")), "the data directory is kept")


def t_destdir(t, e):
    dest = os.path.join(e.tmp, "dest")
    v = {"DESTDIR": dest, "PREFIX": "/usr/local"}
    rc, out = make("install", v)
    unit = os.path.join(dest, "usr/local/lib/systemd/system/tutti-api.service")
    site = os.path.join(dest, "usr/local/share/tutti/nginx/tutti.conf")
    text = ""
    for p in (unit, site):
        if os.path.exists(p):
            with open(p) as f:
                text += f.read()
    t.check(rc == 0 and os.path.isfile(os.path.join(dest, "usr/local/bin/tutti-api"))
            and os.path.isfile(os.path.join(dest, "etc/default/tutti"))
            and os.path.isfile(os.path.join(dest, "usr/local/share/man/man8/tutti-relay.8")),
            "make install DESTDIR=... PREFIX=/usr/local stages under DESTDIR, "
            "default/tutti in DESTDIR/etc", out)
    conf = os.path.join(dest, "etc/default/tutti")
    mode = os.stat(conf).st_mode & 0o777 if os.path.exists(conf) else None
    t.check(mode == 0o640, "default/tutti (it may hold TUTTI_REDIS_PASSWORD) is not "
            "world-readable: mode 0640", oct(mode) if mode is not None else "missing")
    t.check("ExecStart=/usr/local/bin/tutti-api -d /var/lib/tutti " in text
            and "EnvironmentFile=-/etc/default/tutti" in text
            and "root /usr/local/share/tutti/web;" in text
            and "unix:/run/tutti/relay-1.sock" in text
            and "ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;" in text
            and dest not in text, "the staged files name the final paths, not DESTDIR", text[:400])
    rc, out = make("uninstall", v)
    t.check(rc == 0 and not os.listdir(dest), "make uninstall DESTDIR=... leaves DESTDIR empty",
            out + "\n".join(files_under(dest)))


def make_cert(e):
    os.makedirs(e.tls)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", e.key, "-out", e.cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="tutti-install-")
    e = Env(tmp)
    os.makedirs(e.logs)
    procs = Procs(e.logs)
    try:
        make_cert(e)
        e.metrics = [free_port(), free_port()]
        t.run(t_install, e)
        t.run(t_units, e)
        t.run(t_sysusers_tmpfiles, e)
        t.run(t_man, e)
        t.run(t_programs, e)
        if start_services(t, e, procs):
            web = Web(e, free_port(), free_port())
            if t_nginx(t, e, procs, web):
                t.run(t_http, e, web)
                t.run(t_static, e, web)
                t.run(t_room, e, web)
                t.run(t_errors, e, web, procs)
        procs.stop_all()
        t.run(t_uninstall, e)
        t.run(t_destdir, e)
    except Exception as ex:  # noqa: BLE001 - a failure, never a crash
        t.check(False, "the install test runs to its end", repr(ex))
    finally:
        procs.stop_all()
        logs = os.path.join(ROOT, "build", "test-logs", "install")
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(e.logs, logs, dirs_exist_ok=True)
        for f in glob.glob(os.path.join(e.nginx, "*.log")):
            shutil.copy(f, os.path.join(logs, "nginx-" + os.path.basename(f)))
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
