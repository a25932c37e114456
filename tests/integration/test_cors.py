"""test_cors.py - CORS of the REST API for the origins given with
`tutti-api -O` (here through run.sh's TUTTI_API_OPTS), through nginx:
an allowed origin gets Access-Control-Allow-Origin, Vary and
Access-Control-Expose-Headers on every answer (JSON, problem+json, tus);
its preflights get 204 with the methods and headers; any other origin gets
no CORS header and its requests are served as before, its preflights 403;
requests without Origin are unchanged. Also: malformed -O values make
tutti-api and tutti-relay exit 2 with a reason.
Run: /usr/bin/python3 tests/integration/test_cors.py   (TAP output)
"""
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Stack, Tap  # noqa: E402

ALLOWED = "http://example.test"
# Given in mixed case below: browsers send origins in lower case.
OTHER = "https://other.example:8443"
API_OPTS = "-O %s -O https://Other.Example:8443" % ALLOWED
EXPOSED = ("ETag", "Location", "Retry-After", "Allow", "Upload-Offset", "Upload-Length",
           "Upload-Expires", "Upload-Metadata", "Tus-Resumable", "Tus-Version",
           "Tus-Max-Size", "Tus-Extension", "Tus-Checksum-Algorithm", "Tutti-Track",
           "Tutti-Item")
REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match",
                   "Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata",
                   "Upload-Checksum", "Upload-Defer-Length")
# Headers a page reads without being exposed (CORS-safelisted), and those
# that are not the API's (nginx's, CORS's own).
UNEXPOSED = {"cache-control", "content-language", "content-length", "content-type",
             "expires", "last-modified", "pragma", "date", "server", "connection",
             "transfer-encoding", "keep-alive", "vary", "x-content-type-options",
             "referrer-policy", "x-frame-options", "content-security-policy"}
TUS = {"Tus-Resumable": "1.0.0"}


class Answer:
    """One response with every header line kept (duplicates too)."""

    def __init__(self, status, pairs, data):
        self.status = status
        self.pairs = [(k.lower(), v) for k, v in pairs]
        self.data = data

    def all(self, name):
        return [v for k, v in self.pairs if k == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if len(v) == 1 else None

    def cors(self):
        """The names of the Access-Control-* headers."""
        return [k for k, _ in self.pairs if k.startswith("access-control-")]

    def listed(self, name):
        """The comma-separated items of header name, lower case."""
        return {x.strip().lower() for v in self.all(name) for x in v.split(",") if x.strip()}

    def json(self):
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    def problem(self, status):
        b = self.json()
        return (self.status == status and isinstance(b, dict) and b.get("status") == status
                and (self.get("content-type") or "").startswith("application/problem+json"))

    def __repr__(self):
        return "%d %r %r" % (self.status, self.pairs, self.data[:300])


class Client:
    """Raw HTTP against the stack; nginx limits tus requests to 10/s per
    address and token (burst 60), so tus requests are paced under it."""

    def __init__(self, s):
        self.s = s
        self.last = 0.0

    def req(self, method, path, headers=None, body=None, origin=None, token=None):
        if path.startswith("/api/uploads"):
            wait = self.last + 0.11 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.last = time.monotonic()
        h = dict(headers or {})
        if origin is not None:
            h["Origin"] = origin
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        a = Answer(r.status, r.getheaders(), r.read())
        c.close()
        return a

    def preflight(self, path, method, headers, origin=ALLOWED):
        return self.req("OPTIONS", path, {"Access-Control-Request-Method": method,
                                          "Access-Control-Request-Headers": ", ".join(headers)},
                        origin=origin)


def check_allowed(t, a, origin, what):
    """The answer carries exactly the CORS headers of an allowed origin, and
    exposes every header of its own that a page could not read otherwise."""
    t.check(a.all("access-control-allow-origin") == [origin],
            "%s: Access-Control-Allow-Origin is the origin, once" % what, a)
    t.check("origin" in a.listed("vary"), "%s: Vary: Origin" % what, a)
    exposed = a.listed("access-control-expose-headers")
    own = {k for k, _ in a.pairs if k not in UNEXPOSED and not k.startswith("access-control-")}
    t.check({h.lower() for h in EXPOSED} <= exposed and own <= exposed,
            "%s: Access-Control-Expose-Headers lists the tus and API headers, and "
            "every header of this answer (%s)" % (what, ", ".join(sorted(own)) or "none"),
            (sorted(own - exposed), a))
    t.check(not a.all("access-control-allow-credentials"),
            "%s: no Access-Control-Allow-Credentials (bearer tokens only)" % what, a)


def check_none(t, a, what):
    t.check(not a.cors() and "origin" not in a.listed("vary"),
            "%s: no CORS header, no Vary: Origin" % what, a)


def mp3(tmp):
    """A one-second MP3 made with sox and lame; returns its bytes."""
    wav, out = os.path.join(tmp, "tone.wav"), os.path.join(tmp, "tone.mp3")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", wav, "synth", "1",
                    "sine", "440"], check=True)
    subprocess.run(["lame", "--quiet", "-b", "128", wav, out], check=True)
    with open(out, "rb") as f:
        return f.read()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def t_allowed_rest(t, s, c, ctx):
    a = c.req("GET", "/api/healthz", origin=ALLOWED)
    t.check(a.status == 200 and (a.json() or {}).get("status") == "ok",
            "GET healthz from an allowed origin: 200", a)
    check_allowed(t, a, ALLOWED, "GET healthz")

    a = c.req("POST", "/api/rooms", body={"name": "alice"}, origin=ALLOWED)
    b = a.json() or {}
    t.check(a.status == 201 and b.get("token") and a.get("location") ==
            "/api/rooms/%s" % b.get("room", {}).get("code"),
            "POST rooms from an allowed origin: 201 with Location", a)
    check_allowed(t, a, ALLOWED, "POST rooms")
    code, token = b["room"]["code"], b["token"]
    ctx.update(code=code, token=token)

    a = c.req("GET", "/api/healthz", origin=OTHER)
    t.check(a.status == 200, "GET healthz from the second -O origin: 200", a)
    check_allowed(t, a, OTHER, "the second origin (given in mixed case to -O)")

    a = c.req("GET", "/api/rooms/%s/playlist" % code, origin=ALLOWED, token=token)
    t.check(a.status == 200 and a.get("etag"), "GET playlist: 200 with ETag", a)
    check_allowed(t, a, ALLOWED, "GET playlist")
    ctx["etag"] = a.get("etag")


def t_allowed_errors(t, s, c, ctx):
    code, token = ctx["code"], ctx["token"]
    cases = [
        ("GET", "/api/rooms/%s" % code, None, {}, None, 401, "401 without a token"),
        ("GET", "/api/rooms/ZZZZZ", None, {}, token, 404, "404 of an unknown room"),
        ("GET", "/api/no/such/path", None, {}, None, 404, "404 of an unknown path"),
        ("DELETE", "/api/healthz", None, {}, None, 405, "405 with Allow"),
        ("POST", "/api/rooms", b"name=x", {"Content-Type": "application/x-www-form-urlencoded"},
         None, 415, "415 of a form body"),
        ("POST", "/api/rooms", b"{", {"Content-Type": "application/json"}, None, 400,
         "400 of malformed JSON"),
        ("PUT", "/api/rooms/%s/playlist" % code, {"items": []}, {"If-Match": '"999"'}, token,
         412, "412 of a stale If-Match"),
    ]
    for method, path, body, headers, tok, status, what in cases:
        a = c.req(method, path, headers, body=body, origin=ALLOWED, token=tok)
        t.check(a.problem(status), "%s from an allowed origin: problem+json" % what, a)
        check_allowed(t, a, ALLOWED, what)
        if status == 405:
            t.check(a.get("allow") == "GET", "405: Allow: GET, exposed", a)

    # chat past its limit (5 in 10 s): 429 with Retry-After, which a page must read
    a = c.req("POST", "/api/rooms/%s/join" % code, body={"name": "carol"}, origin=ALLOWED)
    carol = (a.json() or {}).get("token")
    t.check(a.status == 201 and carol, "POST join from an allowed origin: 201", a)
    check_allowed(t, a, ALLOWED, "POST join")
    for i in range(6):
        a = c.req("POST", "/api/rooms/%s/chat" % code, body={"text": "hi %d" % i},
                  origin=ALLOWED, token=carol)
        if a.status != 201:
            break
    t.check(a.problem(429) and (a.get("retry-after") or "").isdigit(),
            "the sixth chat message in 10 s: 429 with Retry-After", a)
    check_allowed(t, a, ALLOWED, "chat 429")


def t_preflight_playlist(t, s, c, ctx):
    code, token = ctx["code"], ctx["token"]
    path = "/api/rooms/%s/playlist" % code
    want = ("authorization", "content-type", "if-match")
    a = c.preflight(path, "PUT", want)
    t.check(a.status == 204 and a.data == b"",
            "preflight of a playlist PUT with If-Match: 204 without a body", a)
    t.check(a.all("access-control-allow-origin") == [ALLOWED] and "origin" in a.listed("vary"),
            "the preflight: Access-Control-Allow-Origin is the origin, Vary: Origin", a)
    t.check(a.listed("access-control-allow-methods") == {"get", "post", "put"},
            "the preflight: Access-Control-Allow-Methods are the playlist's GET, POST, PUT", a)
    t.check(a.listed("access-control-allow-headers") == {h.lower() for h in REQUEST_HEADERS},
            "the preflight: Access-Control-Allow-Headers are Authorization, Content-Type, "
            "If-Match, If-None-Match and the tus request headers", a)
    t.check(a.get("access-control-max-age") == "600", "the preflight: Max-Age 600", a)
    t.check(not a.all("access-control-allow-credentials") and
            not a.all("access-control-expose-headers"),
            "the preflight: no credentials, nothing exposed (that is for the answers)", a)

    # What the browser then sends: the PUT itself, from the same origin.
    st_tracks = c.req("GET", "/api/tracks?limit=2")
    ids = [x["id"] for x in (st_tracks.json() or {}).get("tracks", [])]
    etag = ctx["etag"]
    added = []
    for tid in ids:
        a = c.req("POST", path, {"If-Match": etag}, body={"track_id": tid}, origin=ALLOWED,
                  token=token)
        etag = a.get("etag") or etag
        added.append(a.status)
        items = [x["id"] for x in (a.json() or {}).get("items", [])]
    t.check(len(ids) == 2 and added == [201, 201] and len(items) >= 2,
            "two demo tracks added to the playlist from the allowed origin", (ids, added))
    a = c.req("PUT", path, {"If-Match": etag}, body={"items": items[::-1]}, origin=ALLOWED,
              token=token)
    t.check(a.status == 200 and [x["id"] for x in (a.json() or {}).get("items", [])] ==
            items[::-1], "the PUT with If-Match from the allowed origin: 200, reordered", a)
    check_allowed(t, a, ALLOWED, "PUT playlist")

    a = c.preflight("/api/no/such/path", "DELETE", ("authorization",))
    t.check(a.status == 204 and a.listed("access-control-allow-methods") ==
            {"get", "post", "put", "patch", "delete", "head", "options"},
            "preflight of a path the API does not have: 204 with every method of the API "
            "(the request itself then gets its 404 with CORS headers)", a)


def t_tus(t, s, c, ctx):
    code, token = ctx["code"], ctx["token"]
    data = mp3(ctx["tmp"])

    # tus discovery without CORS: as before
    a = c.req("OPTIONS", "/api/uploads")
    t.check(a.status == 204 and a.get("tus-version") == "1.0.0" and
            a.get("tus-max-size") == str(1 << 30), "OPTIONS uploads without Origin: 204, tus", a)
    check_none(t, a, "OPTIONS uploads without Origin")
    a = c.req("OPTIONS", "/api/uploads", origin=ALLOWED)
    t.check(a.status == 204 and a.get("tus-version") == "1.0.0" and
            a.get("tus-extension") == "creation,termination,checksum,expiration",
            "OPTIONS uploads from an allowed origin (not a preflight): 204, tus headers", a)
    check_allowed(t, a, ALLOWED, "OPTIONS uploads")

    a = c.preflight("/api/uploads", "POST", ("authorization", "tus-resumable",
                                             "upload-length", "upload-metadata"))
    t.check(a.status == 204 and a.listed("access-control-allow-methods") ==
            {"options", "post"} and {"tus-resumable", "upload-length", "upload-metadata",
                                     "authorization"} <= a.listed("access-control-allow-headers")
            and a.all("access-control-allow-origin") == [ALLOWED] and
            a.get("access-control-max-age") == "600",
            "preflight of a tus creation: 204, POST, the tus headers, Max-Age", a)
    t.check(a.get("tus-resumable") == "1.0.0" and a.get("tus-version") == "1.0.0",
            "the tus preflight keeps the tus OPTIONS headers", a)

    meta = "room %s,filename %s" % (b64(code), b64("tone.mp3"))
    a = c.req("POST", "/api/uploads", dict(TUS, **{"Upload-Length": str(len(data)),
                                                  "Upload-Metadata": meta}),
              origin=ALLOWED, token=token)
    loc = a.get("location") or ""
    t.check(a.status == 201 and loc.startswith("/api/uploads/") and a.get("upload-expires"),
            "tus creation from an allowed origin: 201 with Location and Upload-Expires", a)
    check_allowed(t, a, ALLOWED, "tus creation")

    a = c.preflight(loc, "PATCH", ("authorization", "content-type", "tus-resumable",
                                   "upload-offset", "upload-checksum"))
    t.check(a.status == 204 and a.listed("access-control-allow-methods") ==
            {"options", "head", "patch", "delete"},
            "preflight of a tus PATCH: 204, the upload's OPTIONS, HEAD, PATCH, DELETE", a)
    t.check({"authorization", "content-type", "tus-resumable", "upload-offset",
             "upload-checksum"} <= a.listed("access-control-allow-headers") and
            a.all("access-control-allow-origin") == [ALLOWED] and
            a.get("access-control-max-age") == "600" and a.get("tus-resumable") == "1.0.0",
            "the PATCH preflight allows the tus headers and Content-Type; Max-Age 600", a)

    patch = dict(TUS, **{"Content-Type": "application/offset+octet-stream"})
    a = c.req("PATCH", loc, dict(patch, **{"Upload-Offset": "7"}), body=data[:10],
              origin=ALLOWED, token=token)
    t.check(a.problem(409) and a.get("upload-offset") == "0",
            "a PATCH at a wrong offset: 409 problem+json with Upload-Offset", a)
    check_allowed(t, a, ALLOWED, "tus 409")
    a = c.req("HEAD", loc, origin=ALLOWED, token=token)
    t.check(a.status == 412, "HEAD without Tus-Resumable: 412", a)
    check_allowed(t, a, ALLOWED, "tus 412")
    a = c.req("PATCH", loc, dict(patch, **{"Upload-Offset": "0"}), body=data,
              origin=ALLOWED, token=token)
    t.check(a.status == 204 and a.get("upload-offset") == str(len(data)) and
            a.get("tutti-track") and a.get("tutti-item"),
            "the PATCH that completes the upload: 204 with Tutti-Track and Tutti-Item", a)
    check_allowed(t, a, ALLOWED, "the completing PATCH")
    a = c.req("HEAD", loc, TUS, origin=ALLOWED, token=token)
    t.check(a.status == 200 and a.get("upload-metadata") == meta,
            "HEAD from an allowed origin: 200 with Upload-Metadata", a)
    check_allowed(t, a, ALLOWED, "tus HEAD")


def t_disallowed(t, s, c, ctx):
    code, token = ctx["code"], ctx["token"]
    own = "http://127.0.0.1:%d" % s.port
    for origin in ("http://evil.test", "http://example.test.evil.test", "http://example.tes",
                   "https://example.test", "http://example.test:80", "http://example.test/",
                   "null", ALLOWED + ", " + OTHER):
        a = c.req("GET", "/api/healthz", origin=origin)
        t.check(a.status == 200, "GET healthz from %s: served (200)" % origin, a)
        check_none(t, a, "GET healthz from %s" % origin)
    a = c.req("POST", "/api/rooms", body={"name": "mallory"}, origin="http://evil.test")
    t.check(a.status == 201, "POST rooms from an unlisted origin: served as before (201)", a)
    check_none(t, a, "POST rooms from an unlisted origin")
    a = c.req("POST", "/api/rooms/%s/chat" % code, body={"text": "same origin"}, origin=own,
              token=token)
    t.check(a.status == 201, "a same-origin POST (the page's own Origin): 201", a)
    check_none(t, a, "a same-origin POST")
    a = c.req("GET", "/api/rooms/%s" % code, origin="http://evil.test")
    t.check(a.problem(401), "an error to an unlisted origin: problem+json as before", a)
    check_none(t, a, "an error to an unlisted origin")

    for origin, path, method in (("http://evil.test", "/api/rooms/%s/playlist" % code, "PUT"),
                                 ("null", "/api/rooms", "POST"),
                                 (own, "/api/rooms", "POST"),
                                 ("http://evil.test", "/api/uploads", "POST")):
        a = c.preflight(path, method, ("authorization",), origin=origin)
        t.check(a.problem(403), "preflight of %s %s from %s: 403 problem+json" %
                (method, path, origin), a)
        check_none(t, a, "the 403 preflight from %s" % origin)


def t_no_origin(t, s, c, ctx):
    code, token = ctx["code"], ctx["token"]
    for method, path, body, tok, status in (("GET", "/api/healthz", None, None, 200),
                                             ("POST", "/api/rooms", {"name": "bob"}, None, 201),
                                             ("GET", "/api/rooms/%s" % code, None, token, 200),
                                             ("GET", "/api/rooms/%s" % code, None, None, 401),
                                             ("DELETE", "/api/healthz", None, None, 405)):
        a = c.req(method, path, body=body, token=tok)
        t.check(a.status == status, "%s %s without Origin: %d" % (method, path, status), a)
        check_none(t, a, "%s %s without Origin" % (method, path))
    # Access-Control-Request-Method without Origin is no preflight: as before
    a = c.req("OPTIONS", "/api/rooms", {"Access-Control-Request-Method": "POST"})
    t.check(a.problem(405) and a.get("allow") == "GET, POST",
            "OPTIONS with Access-Control-Request-Method but no Origin: 405 as before", a)
    check_none(t, a, "OPTIONS without Origin")


def run_api(opts, tmp):
    """Runs bin/tutti-api with opts then migrate in a new data dir; returns
    (status, stderr)."""
    d = tempfile.mkdtemp(dir=tmp)
    p = subprocess.run([os.path.join(ROOT, "bin", "tutti-api"), "-d", d, "-m",
                        os.path.join(ROOT, "sql")] + opts + ["migrate"],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr


def t_bad_options(t, ctx):
    tmp = ctx["tmp"]
    rc, err = run_api(["-O", ALLOWED, "-O", "http://[::1]:8080"], tmp)
    t.check(rc == 0, "tutti-api with valid -O values runs (migrate: 0)", (rc, err))
    for bad, word in (("https://music.example.org/", "path"), ("music.example.org", "scheme"),
                      ("null", "null"), ("*", "wildcard"),
                      ("https://music.example.org:443", "default port"),
                      ("https://user@music.example.org", "user"),
                      ("http://example.test:99999", "port"), ("", "1 to 300")):
        rc, err = run_api(["-O", ALLOWED, "-O", bad], tmp)
        t.check(rc == 2 and ("-O " + bad) in err and word in err,
                "tutti-api -O %r: exit 2, the value and why on stderr" % bad, (rc, err))
    many = []
    for i in range(17):
        many += ["-O", "http://h%d.example" % i]
    rc, err = run_api(many, tmp)
    t.check(rc == 2 and "at most 16" in err, "tutti-api with 17 -O: exit 2", (rc, err))
    rc, err = run_api(many[:32], tmp)
    t.check(rc == 0, "tutti-api with 16 -O: runs", (rc, err))

    # The relay takes the same spelling and refuses the same values.
    sock = os.path.join(tmp, "r.sock")
    p = subprocess.run([os.path.join(ROOT, "bin", "tutti-relay"), "-l", "unix:" + sock, "-R",
                        os.path.join(tmp, "no-redis.sock"), "-O", "https://music.example.org/"],
                       capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 2 and "-O https://music.example.org/" in p.stderr and
            not os.path.exists(sock),
            "tutti-relay -O with a path: exit 2 before listening, with the reason",
            (p.returncode, p.stderr))


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="tutti-cors-")
    ctx = {"tmp": tmp}
    s = Stack(name="cors", env={"TUTTI_API_OPTS": API_OPTS})
    try:
        s.start_or_end(t)
        c = Client(s)
        t.run(t_allowed_rest, s, c, ctx)
        if "code" in ctx:
            for fn in (t_allowed_errors, t_preflight_playlist, t_tus, t_disallowed,
                       t_no_origin):
                t.run(fn, s, c, ctx)
        t.run(t_bad_options, ctx)
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
