"""test_cli.py - bin/tutti, the command line client, against the real stack:
every command in human and --json form (the JSON checked against the REST
API), the exit codes of errors (bad arguments 2, server down 3, not joined or
not allowed 4, unknown room 5, taken name 6), server URL forms, the config
files (modes, atomic rewrite, forgetting a void token), hostile input
(unicode names, huge text), a tus upload of an MP3 interrupted by SIGKILL and
resumed from the server's offset and interrupted ones cancelled (upload
--cancel), move (reordering the playlist, its retry after a 412 forced by a
proxy that changes the playlist just before the PUT), tail printing events
caused by other commands, and tail's gap and reconnect handling against a
scripted fake server. Each person has an XDG_CONFIG_HOME of their own.
Run: /usr/bin/python3 tests/integration/test_cli.py   (TAP output)
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Stack, Tap, free_port  # noqa: E402

TUTTI = os.path.join(ROOT, "bin", "tutti")
SAN_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
COMMANDS = ["rooms", "create", "join", "leave", "status", "users", "playlist", "play",
            "pause", "resume", "stop", "next", "prev", "seek", "add", "remove", "move", "tracks",
            "upload", "request", "requests", "approve", "reject", "say", "chat", "tail",
            "kick", "admin", "set", "close"]

# Every sanitizer report seen on a tutti stderr (checked once at the end).
SAN_REPORTS = []


class Cli:
    """Runs bin/tutti as one person: a config directory of their own and the
    stack's URL in TUTTI_SERVER."""

    def __init__(self, tmp, who, server):
        self.home = os.path.join(tmp, "cfg-" + who)
        self.env = dict(os.environ, XDG_CONFIG_HOME=self.home, TUTTI_SERVER=server,
                        LC_ALL="C.UTF-8")
        self.env.pop("TUTTI_ROOM", None)

    def run(self, *args, stdin=None, env=None, timeout=60):
        e = dict(self.env, **(env or {}))
        p = subprocess.run([TUTTI] + list(args), input=stdin, capture_output=True,
                           env=e, timeout=timeout)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        note_sanitizers(err)
        return p.returncode, out, err

    def json(self, *args, **kw):
        """Runs with --json; returns (rc, parsed stdout or None, stderr)."""
        rc, out, err = self.run("--json", *args, **kw)
        try:
            doc = json.loads(out) if out.strip() else None
        except ValueError:
            doc = None
        return rc, doc, err

    def spawn(self, *args):
        return subprocess.Popen([TUTTI] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)

    def rooms_file(self):
        with open(os.path.join(self.home, "tutti", "rooms.json")) as f:
            return json.load(f)


def note_sanitizers(err):
    for line in err.splitlines():
        if any(m in line for m in SAN_MARKS):
            SAN_REPORTS.append(line)


class Lines:
    """Reads a child's stdout lines in a thread; next() waits for one."""

    def __init__(self, proc):
        self.proc = proc
        self.q = queue.Queue()
        self.all = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.q.put(raw.decode(errors="replace").rstrip("\n"))
        self.q.put(None)

    def until(self, pred, timeout=15.0):
        """Returns the first new line for which pred holds, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.q.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                return None
            if line is None:
                return None
            self.all.append(line)
            if pred(line):
                return line
        return None


def stop_child(p, sig=signal.SIGINT):
    """Sends sig and waits; returns (rc, stderr)."""
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err.decode(errors="replace")
    err = err.decode(errors="replace")
    note_sanitizers(err)
    return p.returncode, err


def as_json(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


def mp3(tmp, name, secs, freq=440, bitrate=128, title=None):
    """A sine tone encoded with sox and lame; returns its path."""
    wav = os.path.join(tmp, name + ".wav")
    out = os.path.join(tmp, name + ".mp3")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", wav, "synth", str(secs),
                    "sine", str(freq)], check=True)
    tags = ["--add-id3v2", "--tt", title, "--ta", "cli test"] if title else []
    subprocess.run(["lame", "--quiet", "-b", str(bitrate)] + tags + [wav, out], check=True)
    os.unlink(wav)
    return out


# ---- the checks ----

def t_help(t, ctx):
    a = ctx["alice"]
    rc, out, err = a.run("--help")
    t.check(rc == 0 and all(c in out for c in COMMANDS) and "EXIT STATUS" in out,
            "tutti --help: exit 0, every command listed", out + err)
    rc, out, _ = a.run("--version")
    t.check(rc == 0 and out.startswith("tutti "), "tutti --version", out)
    bad = []
    for c in COMMANDS:
        rc, out, err = a.run(c, "--help")
        if rc != 0 or not out.startswith("usage: tutti " + c) or err:
            bad.append((c, rc, out[:80], err[:200]))
    t.check(not bad, "tutti COMMAND --help: exit 0 and usage on stdout for every command", bad)
    rc, out, _ = a.run("help", "seek")
    t.check(rc == 0 and out.startswith("usage: tutti seek"), "tutti help seek", out)


def t_bad_args(t, ctx):
    a = ctx["alice"]
    cases = [
        ([], "no command"),
        (["frob"], "unknown command"),
        (["--bogus", "rooms"], "unknown global option"),
        (["rooms", "--limit", "0"], "--limit out of range"),
        (["rooms", "surplus"], "an extra argument"),
        (["seek", "1:75"], "seek to 1:75"),
        (["seek", "ten"], "seek to a word"),
        (["seek"], "seek without a time"),
        (["join"], "join without a code"),
        (["join", "AB"], "join a malformed code"),
        (["join", "K7Q2M", "--name", ""], "join with an empty name"),
        (["join", "K7Q2M", "--name", "x" * 33], "join with a 33-character name"),
        (["--room", "nope!", "status"], "--room not a code"),
        (["say"], "say nothing"),
        (["say", "x" * 501], "say 501 characters"),
        (["say", "bell\x07"], "say a control character"),
        (["request"], "request nothing"),
        (["request", "a\nb"], "a request with a newline"),
        (["create", "--policy", "anyone"], "create with a bad policy"),
        (["create", "Friday"], "create with a stray argument"),
        (["set"], "set nothing"),
        (["set", "--repeat", "twice"], "set a bad repeat"),
        (["approve", "0"], "approve request 0"),
        (["approve", "1", "2"], "approve two ids"),
        (["kick"], "kick nobody"),
        (["play", "-1"], "play item -1"),
        (["upload"], "upload no file"),
        (["upload", "--limit-rate", "fast", "x.mp3"], "upload with a bad rate"),
        (["upload", "--cancel"], "upload --cancel without a file"),
        (["upload", "--cancel", "--limit-rate", "1k", "x.mp3"], "--cancel with --limit-rate"),
        (["move"], "move nothing"),
        (["move", "1"], "move without a position"),
        (["move", "1", "2", "3"], "move with a third argument"),
        (["move", "0", "1"], "move item 0"),
        (["move", "1", "0"], "move to position 0"),
        (["move", "x", "1"], "move item x"),
        (["move", "1", "-1"], "move to position -1"),
        (["move", "1", "two"], "move to a word"),
        (["move", "--item", "0", "1"], "move --item 0"),
        (["move", "--item", "7"], "move --item without a position"),
        (["move", "--item", "7", "1", "2"], "move --item with N and a position"),
        (["--server", "ftp://example.org", "rooms"], "a server URL with another scheme"),
        (["--server", "http://127.0.0.1:8080/api", "rooms"], "a server URL with a path"),
        (["--server", "http://127.0.0.1:8080/?x=1", "rooms"], "a server URL with a query"),
        (["rooms", "--server"], "--server without a value"),
    ]
    bad = []
    for args, what in cases:
        rc, out, err = a.run(*args)
        if rc != 2 or out != "" or "tutti" not in err:
            bad.append((what, args[:3], rc, out[:80], err[:200]))
    t.check(not bad, "%d kinds of bad arguments: exit 2, a message on stderr, nothing on stdout"
            % len(cases), bad)
    rc, out, err = a.run("seek", "1:75")
    t.check("usage: tutti seek" in err and "1:75" in err,
            "the message names the bad value and shows the usage line", err)
    rc, out, err = a.run("say", "x" * 501)
    t.check("501" in err and "500" in err, "a too long message says how long and the limit", err)


def t_server_forms(t, ctx, s):
    a = ctx["alice"]
    port = free_port()
    rc, out, err = a.run("--server", "http://127.0.0.1:%d" % port, "rooms")
    t.check(rc == 3 and out == "" and ("127.0.0.1:%d" % port) in err,
            "server down: exit 3, the URL in the message", (rc, err))
    rc, out, err = a.run("rooms", env={"TUTTI_SERVER": "http://127.0.0.1:%d" % port})
    t.check(rc == 3, "TUTTI_SERVER is used", (rc, err))
    forms = ["127.0.0.1:%d" % s.port, "http://127.0.0.1:%d/" % s.port,
             "HTTP://127.0.0.1:%d//" % s.port, "ws://127.0.0.1:%d" % s.port]
    bad = []
    for f in forms:
        rc, doc, err = a.json("--server", f, "rooms")
        if rc != 0 or not isinstance(doc, dict) or "rooms" not in doc:
            bad.append((f, rc, err))
    t.check(not bad, "server URLs without a scheme, with trailing slashes, upper case, ws://",
            bad)
    # The config file's server= when neither --server nor TUTTI_SERVER is set.
    cfg = os.path.join(ctx["tmp"], "cfg-conf", "tutti")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "config"), "w") as f:
        f.write("# test\n\nserver = 127.0.0.1:%d/\nname=from-config\n" % s.port)
    env = dict(a.env, XDG_CONFIG_HOME=os.path.dirname(cfg))
    env.pop("TUTTI_SERVER")
    p = subprocess.run([TUTTI, "--json", "rooms"], capture_output=True, env=env)
    note_sanitizers(p.stderr.decode(errors="replace"))
    t.check(p.returncode == 0 and "rooms" in json.loads(p.stdout or b"{}"),
            "server= in the config file", p.stderr)
    ctx["conf_env"] = env


def t_not_joined(t, ctx, s):
    a = ctx["alice"]
    rc, out, err = a.run("status")
    t.check(rc == 4 and out == "" and "join" in err, "no room joined yet: exit 4, says join",
            (rc, err))
    rc, out, err = a.run("--room", "ZZZZZ", "play")
    t.check(rc == 4 and "tutti join ZZZZZ" in err, "no token for --room: exit 4, how to join",
            (rc, err))
    st, _, _ = s.request("POST", "/api/rooms/ZZZZZ/join", {"name": "probe"})
    if st == 404:
        rc, out, err = a.run("join", "ZZZZZ", "--name", "alice")
        t.check(rc == 5 and "No such room" in err, "join an unknown room: exit 5", (rc, err))


def t_create(t, ctx, s):
    a = ctx["alice"]
    rc, doc, err = a.json("create", "--name", "alice", "--room-name", "Friday night",
                          "--public")
    ok = rc == 0 and isinstance(doc, dict) and len(doc.get("code", "")) == 5
    t.check(ok and doc["user"]["role"] == "admin" and doc["room"]["public"] is True
            and doc["room"]["name"] == "Friday night",
            "create --json: the server's answer, alice is admin", (rc, doc, err))
    if not ok:
        raise RuntimeError("no room")
    code, token = doc["code"], doc["token"]
    ctx.update(code=code, t_alice=token)
    st, body, _ = s.request("GET", "/api/rooms/" + code, token=token)
    t.check(st == 200 and body["you"]["name"] == "alice", "the token create printed works", body)
    d = os.path.join(a.home, "tutti")
    f = os.path.join(d, "rooms.json")
    t.check(stat.S_IMODE(os.stat(d).st_mode) == 0o700 and
            stat.S_IMODE(os.stat(f).st_mode) == 0o600,
            "the config directory is 0700 and rooms.json 0600",
            (oct(os.stat(d).st_mode), oct(os.stat(f).st_mode)))
    rooms = a.rooms_file()["servers"][ctx["server"]]
    t.check(rooms["last"] == code and rooms["rooms"][code]["token"] == token,
            "rooms.json remembers the token and the room last joined", rooms)
    t.check(not [n for n in os.listdir(d) if n.startswith("rooms.json.")],
            "no temporary file left behind", os.listdir(d))
    rc, out, err = a.run("create", "--name", "alice2", "--room-name", "Second", "--empty")
    t.check(rc == 0 and "Created room" in out and "/r/" in out,
            "create (human): the code and the share link", out + err)
    ctx["code2"] = out.split()[2] if rc == 0 else None
    rc, doc, _ = a.json("--room", ctx["code2"], "playlist")
    t.check(rc == 0 and doc["items"] == [], "create --empty: an empty playlist", doc)
    # Make the first room the default again by joining it (already in).
    rc, doc, err = a.json("join", code)
    t.check(rc == 0 and doc.get("already") is True and doc["user"]["name"] == "alice",
            "join a room one is in already: exit 0, already", (rc, doc, err))


def t_rooms(t, ctx, s):
    a = ctx["alice"]
    rc, doc, _ = a.json("rooms")
    st, body, _ = s.request("GET", "/api/rooms")
    t.check(rc == 0 and doc == body, "rooms --json equals GET /api/rooms", (doc, body))
    rc, out, _ = a.run("rooms")
    lines = out.splitlines()
    t.check(rc == 0 and lines[0].split()[:2] == ["CODE", "NAME"] and
            any(l.startswith(ctx["code"] + "  Friday night") for l in lines),
            "rooms (human): a table with the room", out)


def t_join(t, ctx, s):
    b, c = ctx["bob"], ctx["carol"]
    rc, doc, err = b.json("join", ctx["code"].lower(), "--name", "Bøb 🎵")
    ok = rc == 0 and isinstance(doc, dict)
    t.check(ok and doc["user"]["name"] == "Bøb 🎵" and doc["user"]["role"] == "member",
            "join --json (lower-case code, a unicode name): member", (rc, doc, err))
    st, users, _ = s.request("GET", "/api/rooms/%s/users" % ctx["code"], token=ctx["t_alice"])
    t.check(any(u["name"] == "Bøb 🎵" for u in users["users"]), "REST sees bob", users)
    ctx["bob_id"] = doc["user"]["id"] if ok else None
    rc, out, err = c.run("join", "%s/r/%s" % (ctx["server"], ctx["code"]), "--name", "bøB 🎵")
    t.check(rc == 6 and "Name taken" in err and out == "",
            "a name taken (ASCII case ignored): exit 6, the server's title", (rc, out, err))
    rc, out, err = c.run("join", "%s/r/%s" % (ctx["server"], ctx["code"]), "--name", "carol")
    t.check(rc == 0 and "Joined room " + ctx["code"] in out and "carol" in out,
            "join by share link (human)", out + err)
    rc, out, err = b.run("join", ctx["code"], "--name", "robert")
    t.check(rc == 6 and "leave" in err, "join again under another name: exit 6, says leave",
            (rc, err))
    e = Cli(ctx["tmp"], "eve", "http://127.0.0.1:%d" % free_port())
    rc, out, err = e.run("join", "%s/r/%s" % (ctx["server"], ctx["code"]), "--name", "eve")
    t.check(rc == 0 and ctx["code"] in e.rooms_file()["servers"][ctx["server"]]["rooms"]
            and "--server " + ctx["server"] in err,
            "a share link of another server than the default: joined there, with a note",
            (rc, out, err))
    env = ctx["conf_env"]
    p = subprocess.run([TUTTI, "--server", ctx["server"], "--json", "join", ctx["code"]],
                       capture_output=True, env=env)
    note_sanitizers(p.stderr.decode(errors="replace"))
    t.check(p.returncode == 0 and json.loads(p.stdout)["user"]["name"] == "from-config",
            "join without --name takes name= from the config file", p.stderr)


def t_status(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    rc, doc, err = b.json("status")
    st, body, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc["code"] == ctx["code"] and doc["you"]["name"] == "Bøb 🎵"
            and doc["playlist"] == body["playlist"] and doc["seq"] <= body["seq"],
            "status --json: the room as REST has it, you = bob", (rc, err))
    rc, out, err = a.run("status")
    t.check(rc == 0 and "room:     " + ctx["code"] in out and "you:      alice (admin)" in out
            and "state:    stopped" in out and "%d in the room" % len(body["users"]) in out,
            "status (human)", out + err)
    rc, doc, _ = a.json("users")
    st, body, _ = s.request("GET", "/api/rooms/%s/users" % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc == body, "users --json equals GET users", (doc, body))
    rc, out, _ = a.run("users")
    t.check(rc == 0 and "alice (you)" in out and "Bøb 🎵" in out and "carol" in out,
            "users (human): everyone, you marked", out)


def t_playlist(t, ctx, s):
    a = ctx["alice"]
    rc, doc, _ = a.json("playlist")
    st, body, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc == body and len(body["items"]) >= 3,
            "playlist --json equals GET playlist", (doc, body))
    ctx["items"] = [it["id"] for it in body["items"]]
    rc, out, _ = a.run("playlist")
    lines = out.splitlines()
    t.check(rc == 0 and len(lines) == len(body["items"]) + 1 and lines[1].startswith(">")
            and body["items"][0]["track"]["title"] in lines[1],
            "playlist (human): one line per item, > on the current", out)
    rc, doc, _ = a.json("tracks", "chord")
    st, body, _ = s.request("GET", "/api/tracks?q=chord&limit=50&offset=0")
    t.check(rc == 0 and doc == body and doc["total"] >= 1, "tracks QUERY --json", doc)
    rc, out, _ = a.run("tracks")
    t.check(rc == 0 and "Metronome 120" in out and "Four Chords" in out, "tracks (human)", out)


def playback(s, ctx):
    st, body, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    return body["playback"]


def t_control(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    rc, doc, err = a.json("play")
    pb = playback(s, ctx)
    t.check(rc == 0 and doc["playback"]["state"] == "playing" and pb["state"] == "playing"
            and doc["playback"]["item_id"] == pb["item_id"],
            "play --json: playing, as REST says", (rc, doc, err))
    rc, doc, _ = a.json("pause")
    t.check(rc == 0 and doc["playback"]["state"] == "paused" and playback(s, ctx)["state"]
            == "paused", "pause", doc)
    steps = [("0:10", 10000000), ("7.5", 7500000), ("+5", 12500000), ("-2.25", 10250000),
             ("0:00:03", 3000000)]
    bad = []
    for arg, want in steps:
        rc, doc, err = a.json("seek", arg)
        got = playback(s, ctx)
        if rc != 0 or doc["playback"]["position_us"] != want or got["position_us"] != want:
            bad.append((arg, want, rc, doc, got, err))
    t.check(not bad, "seek 0:10, 7.5, +5, -2.25, 0:00:03: the exact positions", bad)
    rc, out, err = a.run("seek", "--", "-1")
    t.check(rc == 0 and "0:02" in out and playback(s, ctx)["position_us"] == 2000000,
            "seek -- -1 (human): paused at 0:02", out + err)
    rc, out, err = b.run("seek", "30")
    t.check(rc == 4 and "Forbidden" in err, "a member's absolute seek: exit 4", (rc, err))
    rc, out, err = b.run("play")
    t.check(rc == 4 and out == "", "a member controls under policy admin: exit 4", (rc, err))
    rc, doc, _ = a.json("play", "2")
    t.check(rc == 0 and doc["playback"]["item_id"] == ctx["items"][1]
            and doc["playback"]["state"] == "playing", "play 2: the second item", doc)
    rc, doc, _ = a.json("next")
    t.check(rc == 0 and doc["playback"]["item_id"] == ctx["items"][2], "next", doc)
    rc, doc, _ = a.json("prev")
    t.check(rc == 0 and doc["playback"]["item_id"] == ctx["items"][1], "prev", doc)
    rc, doc, _ = a.json("play", "--item", str(ctx["items"][0]))
    t.check(rc == 0 and doc["playback"]["item_id"] == ctx["items"][0], "play --item ID", doc)
    rc, out, err = a.run("play", "99")
    t.check(rc == 5 and "99" in err, "play 99 of 3: exit 5", (rc, err))
    rc, out, err = a.run("stop")
    t.check(rc == 0 and out.startswith("stopped") and playback(s, ctx)["state"] == "stopped",
            "stop (human)", out + err)
    rc, out, err = a.run("resume")
    t.check(rc == 6 and "nothing to resume" in err, "resume when stopped: exit 6", (rc, err))
    rc, out, err = a.run("play")
    t.check(rc == 0 and out.startswith("playing") and "Four Chords" in out,
            "play (human): the state and the title", out + err)


def t_requests(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    rc, doc, err = b.json("request", "Bohemian", "Rhapsody")
    t.check(rc == 0 and doc["text"] == "Bohemian Rhapsody" and doc["status"] == "pending",
            "request TEXT... --json", (rc, doc, err))
    free_id = doc["id"] if rc == 0 else 0
    rc, out, err = b.run("request", "bohemian rhapsody")
    t.check(rc == 6 and "already" in err.lower(), "the same request again: exit 6", (rc, err))
    rc, out, err = b.run("request", "--track", "2")
    t.check(rc == 0 and "pending" in out, "request --track (human)", out + err)
    rc, doc, _ = a.json("requests")
    st, body, _ = s.request("GET", "/api/rooms/%s/requests?status=pending&limit=50"
                            % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc == body and len(doc["requests"]) == 2, "requests --json", doc)
    track_req = [r for r in doc["requests"] if r["track"]][0]["id"]
    rc, doc, err = a.json("approve", str(track_req))
    st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc["status"] == "approved" and doc["item_id"] in
            [it["id"] for it in pl["items"]], "approve: the track joins the playlist",
            (rc, doc, err))
    rc, out, err = b.run("reject", str(free_id))
    t.check(rc == 4, "a member rejects: exit 4", (rc, err))
    rc, out, err = a.run("reject", str(free_id))
    t.check(rc == 0 and "Rejected request %d" % free_id in out, "reject (human)", out + err)
    rc, out, err = a.run("approve", "999999")
    t.check(rc == 5 and "No such request" in err, "approve an unknown request: exit 5",
            (rc, err))
    rc, out, _ = a.run("requests", "--all")
    t.check(rc == 0 and "rejected" in out and "approved" in out, "requests --all (human)", out)


def t_chat(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    rc, doc, err = b.json("say", "hello,", "room")
    t.check(rc == 0 and doc["text"] == "hello, room" and doc["name"] == "Bøb 🎵",
            "say --json: the message", (rc, doc, err))
    rc, out, err = a.run("say", "-", stdin="two\nlines\n".encode())
    t.check(rc == 0 and out == "", "say - (stdin): exit 0, nothing printed", (rc, out, err))
    rc, doc, _ = a.json("chat", "--limit", "2")
    t.check(rc == 0 and [m["text"] for m in doc["messages"]] == ["hello, room", "two\nlines"],
            "chat --json: the last two messages", doc)
    rc, out, _ = a.run("chat")
    t.check(rc == 0 and "Bøb 🎵: hello, room" in out and "alice: two" in out,
            "chat (human)", out)
    huge = "y" * 100000
    rc, out, err = a.run("say", huge)
    st, body, _ = s.request("GET", "/api/rooms/%s/chat?limit=1" % ctx["code"],
                            token=ctx["t_alice"])
    t.check(rc == 2 and body["messages"][-1]["text"] == "two\nlines",
            "a 100 000-character message: exit 2, nothing sent", (rc, err[:200]))
    f = Cli(ctx["tmp"], "frank", ctx["server"])
    f.run("join", ctx["code"], "--name", "frank")
    rcs = [f.run("say", "burst %d" % i) for i in range(6)]
    t.check([r[0] for r in rcs[:5]] == [0] * 5 and rcs[5][0] == 1 and
            "Too many messages" in rcs[5][2] and "retry after" in rcs[5][2],
            "the sixth message in 10 s: exit 1, the problem and Retry-After", rcs[5])
    f.run("leave")
    rc, out, err = a.run("say", "\u202eevil")
    t.check(rc == 0, "text with a bidi override is the server's to judge", (rc, err))


def wait_offset(s, url, token, size):
    """Waits until the server has part of the upload; returns the offset."""
    deadline = time.time() + 20
    while time.time() < deadline:
        st, _, h = s.request("HEAD", url, token=token, headers={"Tus-Resumable": "1.0.0"})
        if st == 200 and 0 < int(h.get("upload-offset", "0")) < size:
            return int(h["upload-offset"])
        time.sleep(0.05)
    return 0


def remembered(cli, ctx, path):
    """The uploads.json entries of path (any size and time): {key: url}."""
    try:
        with open(os.path.join(cli.home, "tutti", "uploads.json")) as f:
            ups = json.load(f)["servers"][ctx["server"]]
    except (OSError, ValueError, KeyError):
        return {}
    mark = "|%s|" % os.path.realpath(path)
    return {k: v["url"] for k, v in ups.items() if mark in k}


def interrupt_upload(cli, s, ctx, path):
    """Starts a slow upload of path, waits until the server has part of it,
    kills it (SIGKILL). Returns (the upload's URL or None, the offset)."""
    size = os.path.getsize(path)
    p = cli.spawn("upload", "--limit-rate", "64k", path)
    url = None
    deadline = time.time() + 15
    while url is None and time.time() < deadline:
        ent = list(remembered(cli, ctx, path).values())
        url = ent[0] if ent else None
        if url is None:
            time.sleep(0.05)
    off = wait_offset(s, url, ctx["t_alice"], size) if url else 0
    p.kill()
    p.wait()
    return url, off


def head_upload(s, ctx, url):
    """The status of HEAD url (Stack.request would parse the empty body of
    a problem+json answer)."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("HEAD", url, headers={"Authorization": "Bearer " + ctx["t_alice"],
                                    "Tus-Resumable": "1.0.0"})
    st = c.getresponse().status
    c.close()
    return st


def t_upload(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    tmp = ctx["tmp"]
    small = mp3(tmp, "small", 3, 523, title="Small Tone")
    rc, out, err = a.run("upload", small)
    t.check(rc == 0 and "Small Tone" in out and "playlist item" in out,
            "upload (human): the track and its playlist item", out + err)
    junk = os.path.join(tmp, "junk.mp3")
    with open(junk, "wb") as f:
        f.write(os.urandom(3000))
    rc, doc, err = a.json("upload", junk, os.path.join(tmp, "missing.mp3"))
    t.check(rc == 1 and doc["uploads"][0]["error"]["status"] == 415 and
            "error" in doc["uploads"][1] and ("Not audio" in err or "Not MPEG audio" in err),
            "upload of a non-MP3 and a missing file: exit 1, both reported", (rc, doc, err))
    rc, out, err = b.run("upload", small)
    t.check(rc == 4, "a member uploads under policy admin: exit 4", (rc, err))

    # An upload killed half-way resumes from the server's offset.
    big = mp3(tmp, "big", 40, 330, bitrate=192, title="Big Tone")
    size = os.path.getsize(big)
    url, off = interrupt_upload(a, s, ctx, big)
    t.check(url is not None and off > 0, "the upload is remembered and under way when killed",
            (url, off, size))
    rc, doc, err = a.json("upload", big)
    ok = rc == 0 and isinstance(doc, dict) and "track" in doc["uploads"][0]
    up = doc["uploads"][0] if ok else {}
    t.check(ok and up["resumed_from"] >= off > 0 and up["size"] == size
            and up["track"]["title"] == "Big Tone"
            and abs(up["track"]["duration_us"] - 40000000) < 100000,
            "run again: resumed from the server's offset, the whole track made",
            (rc, doc, err, off))
    st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["t_alice"])
    t.check(ok and up["item_id"] in [it["id"] for it in pl["items"]],
            "the resumed upload is in the playlist", up)
    ups = json.load(open(os.path.join(a.home, "tutti", "uploads.json")))
    t.check(not ups["servers"][ctx["server"]], "a finished upload is forgotten", ups)


def t_upload_cancel(t, ctx, s):
    a, tmp = ctx["alice"], ctx["tmp"]
    small = os.path.join(tmp, "small.mp3")	# uploaded whole by t_upload
    song = mp3(tmp, "cancel", 40, 370, bitrate=192, title="Cancel Tone")
    url, off = interrupt_upload(a, s, ctx, song)
    t.check(url is not None and off > 0 and head_upload(s, ctx, url) == 200,
            "an interrupted upload to cancel", (url, off))
    rc, out, err = a.run("upload", "--cancel", small)
    t.check(rc == 5 and out == "" and "small.mp3" in err and "nothing to cancel" in err
            and head_upload(s, ctx, url) == 200 and remembered(a, ctx, song),
            "--cancel of a file with nothing pending: exit 5, a message, nothing else touched",
            (rc, out, err))
    rc, out, err = a.run("upload", "--cancel", small, song)
    t.check(rc == 5 and "cancel.mp3: upload cancelled" in out and "small.mp3" in err,
            "--cancel of two files, the first without an upload: the second is cancelled, "
            "exit 5 at the end", (rc, out, err))
    st = head_upload(s, ctx, url)
    t.check(st in (404, 410), "the cancelled upload is gone from the server (HEAD 404/410)", st)
    t.check(not remembered(a, ctx, song), "and forgotten locally",
            remembered(a, ctx, song))
    rc, doc, err = a.json("upload", song)
    up = doc["uploads"][0] if rc == 0 and isinstance(doc, dict) else {}
    t.check(rc == 0 and up.get("resumed_from") == 0 and "resuming" not in err and
            up["track"]["title"] == "Cancel Tone",
            "a later plain upload starts from 0 and completes", (rc, doc, err))

    # A file deleted since its upload was interrupted: still cancelled by its path.
    gone = mp3(tmp, "deleted", 40, 390, bitrate=192)
    url, off = interrupt_upload(a, s, ctx, gone)
    os.unlink(gone)
    rc, doc, err = a.json("upload", "--cancel", gone)
    t.check(url is not None and rc == 0 and doc == {"uploads": [
            {"file": gone, "cancelled": 1, "gone": 0}]} and head_upload(s, ctx, url) in (404, 410)
            and not remembered(a, ctx, gone),
            "--cancel --json of a deleted file: cancelled on the server and here", (rc, doc, err))

    # Gone from the server already (terminated by someone else), and the file
    # changed since (another mtime, so another key): said so, forgotten, exit 0.
    changed = mp3(tmp, "changed", 40, 410, bitrate=192)
    url, off = interrupt_upload(a, s, ctx, changed)
    st = 423
    deadline = time.time() + 15
    while url is not None and st == 423 and time.time() < deadline:
        st, _, _ = s.request("DELETE", url, token=ctx["t_alice"],
                             headers={"Tus-Resumable": "1.0.0"})
        if st == 423:		# the killed PATCH is still being wound up
            time.sleep(0.1)
    later = os.stat(changed).st_mtime + 10
    os.utime(changed, (later, later))
    rc, out, err = a.run("upload", "--cancel", changed)
    t.check(url is not None and st == 204 and rc == 0 and "gone from the server already" in out
            and not remembered(a, ctx, changed),
            "--cancel of an upload gone already, of a file changed since: says so, "
            "forgotten, exit 0", (st, rc, out, err))
    rc, out, err = a.run("upload", "--help")
    t.check(rc == 0 and "--cancel" in out, "upload --help lists --cancel", out)


class HookProxy:
    """An HTTP proxy in front of the stack for one client: hook(method, path)
    runs before each request is forwarded; log gets (method, If-Match,
    status) of each."""

    def __init__(self, port, hook):
        outer = self
        self.log = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hook(self.command, self.path)
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                skip = ("host", "connection", "content-length", "expect")
                c.request(self.command, self.path, body=body, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in skip})
                r = c.getresponse()
                data = r.read()
                c.close()
                outer.log.append((self.command, self.headers.get("If-Match"), r.status))
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def order(s, ctx):
    st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["t_alice"])
    return pl["version"], [it["id"] for it in pl["items"]]


def moved(ids, item, pos):
    rest = [i for i in ids if i != item]
    return rest[:pos - 1] + [item] + rest[pos - 1:]


def t_move(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    ver, ids = order(s, ctx)
    st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["t_alice"])
    track = pl["items"][0]["track"]["id"]
    while len(ids) < 4:
        s.request("POST", "/api/rooms/%s/playlist" % ctx["code"], {"track_id": track},
                  token=ctx["t_alice"], headers={"If-Match": "*"})
        ver, ids = order(s, ctx)
    rc, doc, err = a.json("move", "1", "3")
    v2, got = order(s, ctx)
    t.check(rc == 0 and got == moved(ids, ids[0], 3) and v2 == ver + 1 and
            [it["id"] for it in doc["items"]] == got and doc["version"] == v2,
            "move 1 3 --json (forward): the new order, as REST has it, one version on",
            (rc, doc, err, ids, got))
    ids = got
    rc, out, err = a.run("move", "--item", str(ids[3]), "2")
    v3, got = order(s, ctx)
    _, listing, _ = a.run("playlist")
    lines = out.splitlines()
    t.check(rc == 0 and got == moved(ids, ids[3], 2) and
            lines[0].startswith("Moved item %d from number 4 to 2: " % ids[3]) and
            lines[1:] == listing.splitlines(),
            "move --item ID 2 (backward, human): a line, then the playlist as tutti playlist "
            "prints it", (rc, out, err, listing))
    cur = playback(s, ctx)["item_id"]
    t.check(any(l.startswith(">") and l.split()[-1] == str(cur) for l in lines[1:]),
            "the > mark stays on the item that plays", (cur, out))
    ids = got
    rc, out, err = a.run("-v", "move", "2", "2")
    v4, got = order(s, ctx)
    t.check(rc == 0 and got == ids and v4 == v3 and "already" in out and
            "> PUT" not in err, "move 2 2 (the same place): nothing sent, the version stays",
            (rc, out, err))
    rc, doc, err = a.json("move", "--item", str(ids[1]), "2")
    t.check(rc == 0 and doc == {"version": v3, "items": doc["items"]} and
            [it["id"] for it in doc["items"]] == ids,
            "move --json to the same place: the playlist as it is", (rc, doc, err))

    # Refused before anything changes.
    n = len(ids)
    rc, out, err = a.run("-v", "move", "1", str(n + 1))
    t.check(rc == 2 and out == "" and ("has %d items" % n) in err and "usage: tutti move" in err
            and "> PUT" not in err and order(s, ctx) == (v3, ids),
            "move to a position past the end: exit 2, the length said, no PUT", (rc, err))
    bad = []
    for args in (["0", "1"], ["1", "0"], ["x", "1"], ["1", "y"], ["--item", "0", "1"]):
        rc, out, err = a.run("-v", "move", *args)
        if rc != 2 or out != "" or "tutti: >" in err or "usage: tutti move" not in err:
            bad.append((args, rc, err))
    t.check(not bad, "move 0 / to 0 / not numbers: exit 2 before any request", bad)
    rc, out, err = a.run("-v", "move", str(n + 1), "1")
    t.check(rc == 5 and ("has %d items, not %d" % (n, n + 1)) in err and "> PUT" not in err,
            "move N past the end: exit 5 as for play N, no PUT", (rc, err))
    rc, out, err = a.run("-v", "move", "--item", "999999", "1")
    t.check(rc == 5 and "no item 999999" in err and "> PUT" not in err
            and order(s, ctx) == (v3, ids), "move an unknown item id: exit 5, no PUT", (rc, err))
    rc, out, err = b.run("move", "1", "2")
    t.check(rc == 4 and out == "" and "Forbidden" in err and "admin" in err and
            order(s, ctx) == (v3, ids), "a member moves: exit 4, the server's 403 detail",
            (rc, err))

    # A 412 forced by changing the playlist just before the PUT: one retry.
    changes = {"left": 1}

    def change(method, path):
        if method == "PUT" and changes["left"] > 0:
            changes["left"] -= 1
            s.request("POST", "/api/rooms/%s/playlist" % ctx["code"], {"track_id": track},
                      token=ctx["t_alice"], headers={"If-Match": "*"})
    proxy = HookProxy(s.port, change)
    try:
        x = Cli(ctx["tmp"], "alice-proxy", proxy.url)
        os.makedirs(os.path.join(x.home, "tutti"), mode=0o700)
        with open(os.path.join(x.home, "tutti", "rooms.json"), "w") as fh:
            json.dump({"servers": {proxy.url: {"last": ctx["code"], "rooms": {
                ctx["code"]: {"token": ctx["t_alice"], "name": "alice"}}}}}, fh)
        rc, out, err = x.run("move", "1", "4")
        v5, got = order(s, ctx)
        log = [(m, st) for m, _, st in proxy.log]
        t.check(rc == 0 and log == [("GET", 200), ("PUT", 412), ("GET", 200), ("PUT", 200)]
                and proxy.log[1][1] == '"%d"' % v3 and proxy.log[3][1] == '"%d"' % (v3 + 1),
                "a stale version (412): read again, PUT once more with the new version",
                (rc, out, err, proxy.log))
        t.check(len(got) == n + 1 and got == moved(got, ids[0], 4) and got[-1] not in ids
                and "changed meanwhile" in err and "Precondition" not in err,
                "the item moved, the concurrent addition kept, a note instead of the 412",
                (got, ids, err))
        ids = got
        del proxy.log[:]
        changes["left"] = 2		# both PUTs find the playlist changed
        rc, out, err = x.run("move", "1", "2")
        v6, got = order(s, ctx)
        log = [(m, st) for m, _, st in proxy.log]
        t.check(rc == 6 and out == "" and log == [("GET", 200), ("PUT", 412), ("GET", 200),
                                                   ("PUT", 412)]
                and "Precondition failed" in err and "nothing moved" in err
                and got[:len(ids)] == ids and len(got) == len(ids) + 2,
                "stale twice: exit 6, the 412 detail, nothing moved", (rc, err, proxy.log, got))
    finally:
        proxy.close()


def t_tail(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    p = a.spawn("--json", "tail")
    lines = Lines(p)
    try:
        ready = None
        for i in range(40):
            ctx["carol"].run("say", "ready %d" % i)
            ready = lines.until(lambda l: "ready" in l, timeout=0.5)
            if ready:
                break
        t.check(ready is not None and as_json(ready)["type"] == "chat",
                "tail --json prints the chat event of say", lines.all[-5:])
        a.run("pause")
        e = lines.until(lambda l: as_json(l) and as_json(l)["type"] == "playback")
        t.check(e is not None and as_json(e)["state"] == "paused" and
                as_json(e)["cause"] == "pause", "tail: the playback event of pause", e)
        ctx["dave"].run("join", ctx["code"], "--name", "dave")
        e = lines.until(lambda l: as_json(l) and as_json(l)["type"] == "user_joined")
        t.check(e is not None and as_json(e)["user"]["name"] == "dave",
                "tail: user_joined when someone joins", e)
        t.check(all(isinstance(as_json(l), dict) and "type" in as_json(l) for l in lines.all),
                "every line is one JSON object with a type", lines.all)
    finally:
        rc, err = stop_child(p)
    t.check(rc == 0, "tail stops on SIGINT with exit 0", (rc, err))
    p = a.spawn("tail")
    lines = Lines(p)
    try:
        got = None
        for i in range(40):
            b.run("say", "human %d" % i)
            got = lines.until(lambda l: "human" in l, timeout=0.5)
            if got:
                break
        t.check(got is not None and "<Bøb 🎵> human" in got and got[2] == ":",
                "tail (human): HH:MM:SS <name> text", got)
        a.run("set", "--repeat", "all")
        e = lines.until(lambda l: "settings:" in l)
        t.check(e is not None and "repeat all" in e, "tail (human): the settings change", e)
    finally:
        rc, err = stop_child(p, signal.SIGTERM)
    t.check(rc == 0, "tail stops on SIGTERM with exit 0", (rc, err))


def t_settings(t, ctx, s):
    a, b = ctx["alice"], ctx["bob"]
    rc, doc, err = a.json("set", "--policy", "everyone", "--shuffle", "on", "--private")
    st, body, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc["policy"] == "everyone" and doc["shuffle"] is True and
            body["policy"] == "everyone" and body["public"] is False,
            "set --json: the settings as REST has them", (rc, doc, err))
    rc, doc, _ = b.json("add", "1")
    t.check(rc == 0 and isinstance(doc["item_id"], int), "add under policy everyone", doc)
    n = len(doc["items"])
    rc, out, err = b.run("remove", "1")
    t.check(rc == 4, "a member removes an item: exit 4", (rc, err))
    rc, doc, err = a.json("remove", str(n))
    t.check(rc == 0 and len(doc["items"]) == n - 1, "remove N (the last)", (rc, doc, err))


def t_people(t, ctx, s):
    a, b, c = ctx["alice"], ctx["bob"], ctx["carol"]
    rc, out, err = a.run("kick", "alice")
    t.check(rc == 2 and "leave" in err, "kick yourself: exit 2, says leave", (rc, err))
    rc, out, err = a.run("kick", "nobody")
    t.check(rc == 5, "kick somebody absent: exit 5", (rc, err))
    rc, doc, err = a.json("kick", "CAROL")
    st, users, _ = s.request("GET", "/api/rooms/%s/users" % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc["removed"]["name"] == "carol" and
            "carol" not in [u["name"] for u in users["users"]],
            "kick by name (ASCII case ignored) --json", (rc, doc, err))
    rc, out, err = c.run("status")
    t.check(rc == 4 and "join again" in err.lower(), "the removed one: exit 4, join again",
            (rc, err))
    t.check(ctx["code"] not in c.rooms_file()["servers"][ctx["server"]]["rooms"],
            "the void token is forgotten", c.rooms_file())
    rc, doc, err = a.json("admin", str(ctx["bob_id"]))
    st, body, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc["admin"]["name"] == "Bøb 🎵" and body["you"]["role"] == "member",
            "admin ID --json: bob is admin, alice a member", (rc, doc, err))
    rc, out, err = a.run("kick", "dave")
    t.check(rc == 4, "a member kicks: exit 4", (rc, err))
    rc, out, err = b.run("admin", "alice")
    t.check(rc == 0 and "alice is now the admin" in out, "admin NAME (human)", out + err)
    rc, doc, err = b.json("leave")
    st, users, _ = s.request("GET", "/api/rooms/%s/users" % ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and doc == {"left": ctx["code"]} and
            "Bøb 🎵" not in [u["name"] for u in users["users"]] and
            ctx["code"] not in b.rooms_file()["servers"][ctx["server"]]["rooms"],
            "leave --json: gone from the room, token forgotten", (rc, doc, err))
    rc, out, err = b.run("--room", ctx["code"], "say", "hi")
    t.check(rc == 4 and "join" in err, "after leaving: exit 4", (rc, err))


def t_close(t, ctx, s):
    a = ctx["alice"]
    rc, out, err = a.run("close")
    st, _, _ = s.request("GET", "/api/rooms/" + ctx["code"], token=ctx["t_alice"])
    t.check(rc == 0 and st == 404 and "Closed room" in out, "close: the room is gone",
            (rc, out, err, st))
    rc, doc, err = a.json("--room", ctx["code2"], "close")
    t.check(rc == 0 and doc == {"closed": ctx["code2"]}, "close --json", (rc, doc, err))
    rc, out, err = ctx["dave"].run("status")
    t.check(rc in (4, 5) and out == "", "status of a closed room: exit 4 or 5, nothing on stdout",
            (rc, err))


# ---- tail against a scripted fake server: gaps, reordering, reconnects ----

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(obj):
    data = json.dumps(obj).encode()
    n = len(data)
    head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
    return head + data


class FakeServer:
    """Answers GET /api/... with the room (its seq from self.seq) and /ws with
    an upgrade followed by the frames the test queues in self.scripts (one
    list per connection). drop() ends the current WebSocket abruptly."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seq = 10
        self.scripts = []
        self.ws = None
        self.fetches = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            data += chunk
        head = data.split(b"\r\n\r\n")[0].decode()
        path = head.split(" ")[1]
        if path.startswith("/ws"):
            key = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
                   if l.lower().startswith("sec-websocket-key:")][0]
            acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                          % acc).encode())
            self.ws = conn
            for obj in (self.scripts.pop(0) if self.scripts else []):
                conn.sendall(ws_frame(obj))
            try:
                while True:		# until the client closes: answer its close frame
                    b = conn.recv(4096)
                    if not b:
                        break
                    if b[0] & 0x0f == 8:
                        conn.sendall(bytes([0x88, 0]))
                        break
            except OSError:
                pass
            conn.close()
            return
        self.fetches += 1
        body = json.dumps({"code": "K7Q2M", "seq": self.seq, "playlist": []}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        conn.close()

    def drop(self):
        if self.ws is not None:
            self.ws.shutdown(socket.SHUT_RDWR)


def t_tail_gaps(t, ctx):
    f = FakeServer()
    server = "http://127.0.0.1:%d" % f.port
    home = os.path.join(ctx["tmp"], "cfg-fake")
    os.makedirs(os.path.join(home, "tutti"), mode=0o700)
    with open(os.path.join(home, "tutti", "rooms.json"), "w") as fh:
        json.dump({"servers": {server: {"last": "K7Q2M", "rooms": {
            "K7Q2M": {"token": "t0k3n", "name": "x"}}}}}, fh)

    def ev(seq, text):
        return {"type": "chat", "room": "K7Q2M", "seq": seq,
                "message": {"id": seq, "user_id": 1, "name": "x", "kind": "user",
                            "text": text, "at_us": 0}}
    hello = {"type": "hello", "relay": "fake", "now_us": 0}
    snapshot = {"type": "playback", "room": "K7Q2M", "seq": 9, "state": "stopped",
                "item_id": None, "track_id": None, "position_us": 0, "at_us": 0,
                "cause": "stop"}
    # 12 never comes; 15 and 14 arrive swapped (no gap).
    f.scripts.append([hello, snapshot, ev(11, "a"), ev(13, "c"), ev(15, "e"), ev(14, "d")])
    f.scripts.append([hello, ev(21, "after")])
    env = dict(os.environ, XDG_CONFIG_HOME=home, TUTTI_SERVER=server)
    p = subprocess.Popen([TUTTI, "--json", "tail"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    lines = Lines(p)
    try:
        f.seq = 10
        g = lines.until(lambda l: as_json(l) and as_json(l)["type"] == "gap")
        got = [as_json(l) for l in lines.all]
        texts = [e["message"]["text"] for e in got if e and e["type"] == "chat"]
        t.check(texts == ["a", "c", "e", "d"], "tail prints 11, 13, 15 and the late 14; "
                "not the snapshot seen already", got)
        t.check(g is not None and as_json(g)["from"] == 12 and as_json(g)["to"] == 12,
                "seq 12 never came: a gap from 12 to 12", got)
        t.check(len([e for e in got if e and e["type"] == "gap"]) == 1,
                "no gap for the swapped 14", got)
        f.seq = 20
        f.drop()
        g = lines.until(lambda l: as_json(l) and as_json(l)["type"] == "gap")
        t.check(g is not None and as_json(g)["from"] == 16 and as_json(g)["to"] == 20,
                "after a reconnect: the events missed meanwhile (16 to 20) as a gap", lines.all)
        e = lines.until(lambda l: as_json(l) and as_json(l).get("seq") == 21)
        t.check(e is not None, "and the stream goes on after the reconnect", lines.all)
    finally:
        rc, err = stop_child(p)
        f.sock.close()
    t.check(rc == 0, "tail exits 0 on SIGINT", (rc, err))


def main():
    t = Tap()
    if not os.access(TUTTI, os.X_OK):
        t.check(False, "bin/tutti is built")
        t.done()
    s = Stack(name="cli")
    s.start_or_end(t)
    tmp = tempfile.mkdtemp(prefix="tutti-cli-")
    server = "http://127.0.0.1:%d" % s.port
    ctx = {"tmp": tmp, "server": server}
    for who in ("alice", "bob", "carol", "dave"):
        ctx[who] = Cli(tmp, who, server)
    try:
        t.run(t_help, ctx)
        t.run(t_bad_args, ctx)
        t.run(t_server_forms, ctx, s)
        t.run(t_not_joined, ctx, s)
        t.run(t_create, ctx, s)
        t.run(t_rooms, ctx, s)
        t.run(t_join, ctx, s)
        t.run(t_status, ctx, s)
        t.run(t_playlist, ctx, s)
        t.run(t_control, ctx, s)
        t.run(t_move, ctx, s)
        t.run(t_requests, ctx, s)
        t.run(t_chat, ctx, s)
        t.run(t_upload, ctx, s)
        t.run(t_upload_cancel, ctx, s)
        t.run(t_tail, ctx, s)
        t.run(t_settings, ctx, s)
        t.run(t_people, ctx, s)
        t.run(t_close, ctx, s)
        t.run(t_tail_gaps, ctx)
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    t.check(not SAN_REPORTS, "no sanitizer report from bin/tutti", "\n".join(SAN_REPORTS[:20]))
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
