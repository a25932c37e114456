"""test_uploads.py - tus 1.0.0 uploads at /api/uploads through nginx with raw
HTTP requests (http.client and plain sockets): creation, resume, a body cut
off mid-way, wrong offsets, checksums, concurrency, termination, expiry,
validation by libmpg123 (not MP3, truncated MP3, ID3 tag alone), one track
per content, hostile file names, who may upload, and a restart of the whole
stack (tutti-api and nginx) in the middle of an upload.
Run: /usr/bin/python3 tests/integration/test_uploads.py   (TAP output)
"""
import base64
import email.utils
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap  # noqa: E402
from stack import wait_for as poll  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def mp3(tmp, name, freq, secs=3.0, title=None, artist=None):
    """Encodes a sine tone with sox and lame; returns the MP3's bytes."""
    wav = os.path.join(tmp, name + ".wav")
    out = os.path.join(tmp, name + ".mp3")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", wav, "synth",
                    str(secs), "sine", str(freq)], check=True)
    tags = []
    if title:
        tags = ["--add-id3v2", "--tt", title, "--ta", artist or ""]
    subprocess.run(["lame", "--quiet", "-b", "128"] + tags + [wav, out], check=True)
    with open(out, "rb") as f:
        return f.read()


FFMPEG = "/usr/bin/ffmpeg" if os.access("/usr/bin/ffmpeg", os.X_OK) else None


def wav(tmp):
    path = os.path.join(tmp, "tone.wav")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", path, "synth", "1",
                    "sine", "300"], check=True)
    with open(path, "rb") as f:
        return f.read()


def id3_only():
    """An ID3v2.3 tag with a title frame and padding, and no audio at all."""
    text = b"\x03" + b"Only a tag"
    frame = b"TIT2" + len(text).to_bytes(4, "big") + b"\x00\x00" + text
    size = len(frame) + 2000
    syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    return b"ID3\x03\x00\x00" + syncsafe + frame + b"\x00" * 2000


class Tus:
    """Raw tus requests against one stack. nginx limits tus requests to 10/s
    per address and token (burst 60); this client keeps under it."""

    INTERVAL = 0.11

    def __init__(self, s):
        self.s = s
        self.last = {}

    def pace(self, token):
        wait = self.last.get(token, 0) + self.INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last[token] = time.monotonic()

    def req(self, method, path, headers=None, body=None, token=None, tus=True):
        self.pace(token)
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        h = dict(TUS if tus else {})
        h.update(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def create(self, token, room, length, filename=None, extra=None):
        meta = "room " + b64(room)
        if filename is not None:
            meta += ",filename " + b64(filename)
        h = {"Upload-Length": str(length), "Upload-Metadata": meta}
        h.update(extra or {})
        st, hdrs, data = self.req("POST", "/api/uploads", h, token=token)
        loc = hdrs.get("location", "")
        return st, loc, hdrs, data

    def head(self, loc, token):
        return self.req("HEAD", loc, token=token)

    def patch(self, loc, token, offset, body, extra=None):
        h = {"Upload-Offset": str(offset), "Content-Type": OCTETS}
        h.update(extra or {})
        return self.req("PATCH", loc, h, body=body, token=token)

    def offset(self, loc, token):
        st, hdrs, _ = self.head(loc, token)
        return int(hdrs["upload-offset"]) if st == 200 else None

    def upload(self, token, room, data, filename="song.mp3"):
        """Creates and sends data in one PATCH; returns (create, patch) results."""
        c = self.create(token, room, len(data), filename)
        if c[0] != 201:
            return c, (None, {}, b"")
        return c, self.patch(c[1], token, 0, data)


def sha1_header(data):
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


def is_problem(st, hdrs, data, status):
    return (st == status and hdrs.get("content-type", "").startswith("application/problem+json")
            and b'"status":%d' % status in data)


def media_files(s):
    out = []
    for d, _, files in os.walk(os.path.join(s.data, "media")):
        out += [os.path.join(d, f) for f in files]
    return sorted(out)


def part_files(s):
    d = os.path.join(s.data, "uploads")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def track_total(s):
    st, body, _ = s.request("GET", "/api/tracks?limit=1")
    return body["total"] if st == 200 else None


class RawPatch:
    """A PATCH sent by hand on a socket, so it can stop half-way."""

    def __init__(self, tus, loc, token, offset, length):
        tus.pace(token)
        s = tus.s
        self.sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        head = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\nUpload-Offset: %d\r\n"
                "Content-Length: %d\r\n\r\n" % (loc, token, OCTETS, offset, length))
        self.sock.sendall(head.encode())

    def send(self, data):
        self.sock.sendall(data)

    def response(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf

    def close(self):
        self.sock.close()


def wait_for(pred, timeout=20.0):
    """stack.wait_for with this file's bound."""
    return poll(pred, timeout)


def unlocked(tus, loc, token):
    """The upload is not being written: an empty PATCH at its offset succeeds."""
    off = tus.offset(loc, token)
    st, _, _ = tus.patch(loc, token, off, b"")
    return st == 204


def new_room(s, name, policy=None):
    body = {"name": name}
    if policy:
        body["policy"] = policy
    st, b, _ = s.request("POST", "/api/rooms", body)
    if st != 201:
        raise RuntimeError("room creation: %d %r" % (st, b))
    return b["code"], b["token"]


def join(s, code, name):
    st, b, _ = s.request("POST", "/api/rooms/%s/join" % code, {"name": name})
    if st != 201:
        raise RuntimeError("join: %d %r" % (st, b))
    return b["token"]


def t_options(t, s, tus, ctx):
    st, h, _ = tus.req("OPTIONS", "/api/uploads", tus=False)
    t.check(st == 204 and h.get("tus-version") == "1.0.0" and h.get("tus-resumable") == "1.0.0",
            "OPTIONS without a token: 204 with Tus-Version and Tus-Resumable", h)
    ext = set(h.get("tus-extension", "").split(","))
    t.check(ext == {"creation", "termination", "checksum", "expiration"},
            "Tus-Extension lists creation, termination, checksum, expiration", h)
    t.check(h.get("tus-max-size") == str(1 << 30) and h.get("tus-checksum-algorithm") == "sha1",
            "Tus-Max-Size is 1 GiB by default; Tus-Checksum-Algorithm sha1", h)


def t_create_refusals(t, s, tus, ctx):
    code, ta = ctx["code"], ctx["ta"]
    st, h, d = tus.req("POST", "/api/uploads", {"Upload-Length": "10", "Upload-Metadata":
                       "room " + b64(code)}, token=ta, tus=False)
    t.check(is_problem(st, h, d, 412) and h.get("tus-version") == "1.0.0"
            and h.get("tus-resumable") == "1.0.0", "no Tus-Resumable: 412 with Tus-Version", (st, h))
    st, h, d = tus.req("POST", "/api/uploads", {"Upload-Length": "10", "Upload-Metadata":
                       "room " + b64(code), "Tus-Resumable": "0.2.2"}, token=ta, tus=False)
    t.check(st == 412, "Tus-Resumable 0.2.2: 412", st)
    st, _, h, d = tus.create(None, code, 10)
    t.check(is_problem(st, h, d, 401) and h.get("tus-resumable") == "1.0.0",
            "no token: 401, still with Tus-Resumable", (st, h, d))
    st, _, h, d = tus.create(ctx["tother"], code, 10)
    t.check(is_problem(st, h, d, 401), "a token of another room: 401", (st, d))
    st, _, h, d = tus.create(ta, "ZZZZZ", 10)
    t.check(is_problem(st, h, d, 404), "no such room: 404", (st, d))
    st, h, d = tus.req("POST", "/api/uploads", {"Upload-Length": "10"}, token=ta)
    t.check(is_problem(st, h, d, 400), "no room in Upload-Metadata: 400", (st, d))
    st, h, d = tus.req("POST", "/api/uploads", {"Upload-Metadata": "room " + b64(code)}, token=ta)
    t.check(is_problem(st, h, d, 400), "no Upload-Length: 400", (st, d))
    for bad in ["0", "-5", "12abc", "1e6", ""]:
        st, _, h, d = tus.create(ta, code, bad)
        t.check(is_problem(st, h, d, 400), "Upload-Length %r: 400" % bad, (st, d))
    st, _, h, d = tus.create(ta, code, (1 << 30) + 1)
    t.check(is_problem(st, h, d, 413) and h.get("tus-max-size") == str(1 << 30),
            "Upload-Length above the limit: 413 with Tus-Max-Size", (st, h, d))
    for meta in ["room !!!!", "room " + b64(code) + ",room " + b64(code), " x", "room " + b64(code)
                 + ",filename @@@"]:
        st, h, d = tus.req("POST", "/api/uploads", {"Upload-Length": "10",
                           "Upload-Metadata": meta}, token=ta)
        t.check(is_problem(st, h, d, 400), "Upload-Metadata %r: 400" % meta, (st, d))
    st, h, d = tus.req("POST", "/api/uploads", {"Upload-Length": "10", "Upload-Metadata":
                       "room " + b64(code), "Content-Type": OCTETS}, body=b"0123456789", token=ta)
    t.check(is_problem(st, h, d, 400), "creation-with-upload (a body on POST): 400, not half-done",
            (st, d))


def t_full(t, s, tus, ctx):
    data = ctx["songs"]["full"]
    before = track_total(s)
    st, loc, h, _ = tus.create(ctx["ta"], ctx["code"], len(data), "full.mp3")
    t.check(st == 201 and loc.startswith("/api/uploads/") and h.get("tus-resumable") == "1.0.0",
            "create: 201 with Location and Tus-Resumable", (st, h))
    exp = email.utils.parsedate_to_datetime(h.get("upload-expires", "x, 1 Jan 1970"))
    t.check(exp.timestamp() > time.time() + 23 * 3600, "Upload-Expires is an HTTP date a day ahead",
            h.get("upload-expires"))
    st, hh, _ = tus.head(loc, ctx["ta"])
    t.check(st == 200 and hh.get("upload-offset") == "0" and hh.get("upload-length") == str(len(data))
            and hh.get("cache-control") == "no-store" and "upload-expires" in hh,
            "HEAD: offset 0, length, Upload-Expires, no-store", hh)
    t.check(hh.get("upload-metadata", "").startswith("room "), "HEAD repeats Upload-Metadata", hh)
    st, ph, _ = tus.patch(loc, ctx["ta"], 0, data, {"Upload-Checksum": sha1_header(data)})
    t.check(st == 204 and ph.get("upload-offset") == str(len(data)) and ph.get("tutti-track")
            and ph.get("tutti-item"), "one PATCH with the whole file: 204, Tutti-Track, Tutti-Item", ph)
    tid = int(ph.get("tutti-track", "0"))
    st, tr, _ = s.request("GET", "/api/tracks/%d" % tid)
    t.check(st == 200 and tr["title"] == "Full Song" and tr["artist"] == "Tester"
            and 2900000 < tr["duration_us"] < 3100000 and tr["sample_rate"] == 44100
            and tr["channels"] == 2, "the track has the ID3v2 tags and the exact length", tr)
    t.check(track_total(s) == before + 1, "one more track in the library")
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(s.data, "media", digest[:2], digest + ".mp3")
    with open(path, "rb") as f:
        stored = f.read()
    t.check(stored == data and tr["url"] == "/media/%s/%s.mp3" % (digest[:2], digest),
            "the file is stored by its sha256, byte for byte", tr.get("url"))
    st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % ctx["code"], token=ctx["ta"])
    items = [i for i in pl.get("items", []) if i["id"] == int(ph.get("tutti-item", "0"))]
    t.check(st == 200 and len(items) == 1 and items[0]["track"]["id"] == tid,
            "the track joined the room's playlist as Tutti-Item", pl)
    t.check(part_files(s) == [], "no part file is left", part_files(s))
    st, hh, _ = tus.head(loc, ctx["ta"])
    t.check(st == 200 and hh.get("upload-offset") == str(len(data))
            and hh.get("tutti-track") == str(tid), "HEAD after completion: offset == length", hh)
    st, ph2, _ = tus.patch(loc, ctx["ta"], len(data), b"")
    t.check(st == 204 and ph2.get("tutti-track") == str(tid), "an empty PATCH at the end: 204 again",
            (st, ph2))
    st, hh, d = tus.patch(loc, ctx["ta"], 0, data[:10])
    t.check(is_problem(st, hh, d, 409), "PATCH at 0 of a finished upload: 409", (st, d))
    ctx["full_track"] = tid


def t_resume(t, s, tus, ctx):
    data = ctx["songs"]["resume"]
    half = len(data) // 2
    st, loc, _, _ = tus.create(ctx["ta"], ctx["code"], len(data), "resume.mp3")
    st, h, _ = tus.patch(loc, ctx["ta"], 0, data[:half], {"Upload-Checksum": sha1_header(data[:half])})
    t.check(st == 204 and h.get("upload-offset") == str(half) and "tutti-track" not in h,
            "first half: 204, offset moves, no track yet", h)
    t.check(tus.offset(loc, ctx["ta"]) == half, "HEAD between the PATCHes gives the offset")
    t.check(part_files(s) == [loc.rsplit("/", 1)[1] + ".part"], "one part file, named by the id",
            part_files(s))
    st, h, d = tus.patch(loc, ctx["ta"], 0, data[:100])
    t.check(is_problem(st, h, d, 409) and h.get("upload-offset") == str(half),
            "wrong Upload-Offset: 409 with the right one", (st, h))
    st, h, d = tus.patch(loc, ctx["ta"], half + 1, data[half + 1:])
    t.check(is_problem(st, h, d, 409), "Upload-Offset past the end of the data: 409", st)
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:half + 100],
                         {"Upload-Checksum": sha1_header(b"something else")})
    t.check(is_problem(st, h, d, 460), "checksum mismatch: 460", (st, d))
    t.check(tus.offset(loc, ctx["ta"]) == half, "after 460 the offset is unchanged")
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:half + 100],
                         {"Upload-Checksum": "md5 " + b64(hashlib.md5(b"x").digest())})
    t.check(is_problem(st, h, d, 400), "checksum with md5: 400", (st, d))
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:half + 100], {"Upload-Checksum": "sha1 !!"})
    t.check(is_problem(st, h, d, 400), "malformed checksum: 400", (st, d))
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:half + 100],
                         {"Content-Type": "application/octet-stream"})
    t.check(is_problem(st, h, d, 415), "PATCH as application/octet-stream: 415", (st, d))
    st, h, d = tus.req("PATCH", loc, {"Content-Type": OCTETS}, body=data[half:half + 10],
                       token=ctx["ta"])
    t.check(is_problem(st, h, d, 400), "PATCH without Upload-Offset: 400", (st, d))
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:] + b"extra")
    t.check(is_problem(st, h, d, 413), "a body past Upload-Length: 413", (st, d))
    t.check(tus.offset(loc, ctx["ta"]) == half, "... and nothing of it was written")
    st, h, _ = tus.patch(loc, ctx["ta"], half, data[half:], {"Upload-Checksum": sha1_header(data[half:])})
    t.check(st == 204 and h.get("upload-offset") == str(len(data)) and h.get("tutti-track"),
            "second half: the upload completes", h)
    digest = hashlib.sha256(data).hexdigest()
    st, tr, _ = s.request("GET", "/api/tracks/" + h.get("tutti-track", "0"))
    t.check(st == 200 and tr["url"].endswith(digest + ".mp3"), "the resumed file is intact", tr)


def t_cut_off(t, s, tus, ctx):
    data = ctx["songs"]["cut"]
    half = len(data) // 2
    st, loc, _, _ = tus.create(ctx["ta"], ctx["code"], len(data), "cut.mp3")
    raw = RawPatch(tus, loc, ctx["ta"], 0, len(data))
    raw.send(data[:half])
    got = wait_for(lambda: 0 < (tus.offset(loc, ctx["ta"]) or 0) <= half)
    t.check(got, "HEAD during a PATCH shows the bytes written so far (64 KiB at a time)")
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:])
    t.check(is_problem(st, h, d, 423), "a second PATCH meanwhile: 423 Locked", (st, d))
    st, h, d = tus.req("DELETE", loc, token=ctx["ta"])
    t.check(is_problem(st, h, d, 423), "DELETE meanwhile: 423 Locked", (st, d))
    raw.close()
    t.check(wait_for(lambda: unlocked(tus, loc, ctx["ta"])), "the cut-off PATCH ends")
    off = tus.offset(loc, ctx["ta"])
    t.check(off == half, "after the connection dropped, HEAD shows what arrived", (off, half))
    st, h, _ = tus.patch(loc, ctx["ta"], off, data[off:])
    t.check(st == 204 and h.get("tutti-track"), "the upload resumes and completes", (st, h))
    st, tr, _ = s.request("GET", "/api/tracks/" + h.get("tutti-track", "0"))
    t.check(st == 200 and tr["url"].endswith(hashlib.sha256(data).hexdigest() + ".mp3"),
            "the file is intact after the drop", tr)


def refused(t, s, tus, ctx, data, desc):
    before_tracks, before_media = track_total(s), media_files(s)
    st, loc, _, _ = tus.create(ctx["ta"], ctx["code"], len(data), desc + ".mp3")
    half = len(data) // 2
    tus.patch(loc, ctx["ta"], 0, data[:half])
    st, h, d = tus.patch(loc, ctx["ta"], half, data[half:])
    t.check(is_problem(st, h, d, 415) and b"audio" in d and b"0x" not in d and
            b"/uploads/" not in d, desc + ": 415 when complete (no server path or address in "
            "the reason)", (st, d))
    st, _, _ = tus.head(loc, ctx["ta"])
    t.check(st == 404, desc + ": the upload is gone (HEAD 404)", st)
    t.check(track_total(s) == before_tracks and media_files(s) == before_media
            and part_files(s) == [], desc + ": no track, no media file, no part file kept",
            (part_files(s), media_files(s)))


def t_not_mp3(t, s, tus, ctx):
    refused(t, s, tus, ctx, os.urandom(60000), "random bytes")
    if not FFMPEG:
        refused(t, s, tus, ctx, ctx["wav"], "a WAV file")
    refused(t, s, tus, ctx, id3_only(), "an ID3 tag with no audio")
    refused(t, s, tus, ctx, b"\xff\xfb" + b"\x00" * 100, "a lone frame header")


def other_formats(tmp):
    """{name: (bytes, seconds, title or None)}: a 3 s tone as WAV, FLAC with
    tags, Ogg Vorbis, M4A (AAC), and 6 channels at 96 kHz as FLAC."""
    out = {}
    src = os.path.join(tmp, "src.wav")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", src, "synth", "3", "sine",
                    "330"], check=True)
    for name, args in (("tone.wav", None), ("tone.ogg", None),
                       ("tagged.flac", ["-metadata", "title=Flac <b>Title</b>",
                                        "-metadata", "artist=Flac Artist"]),
                       ("tone.m4a", ["-c:a", "aac"])):
        path = os.path.join(tmp, name)
        subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", src] + (args or []) + [path],
                       check=True)
        out[name] = path
    wide = os.path.join(tmp, "wide.flac")
    subprocess.run(["sox", "-q", "-n", "-r", "96000", "-c", "6", wide, "synth", "2", "sine",
                    "440"], check=True)
    out["wide.flac"] = wide
    res = {}
    for name, path in out.items():
        with open(path, "rb") as f:
            res[name] = (f.read(), 2.0 if name == "wide.flac" else 3.0,
                         "Flac <b>Title</b>" if name == "tagged.flac" else None)
    return res


def t_convert(t, s, tus, ctx):
    """With ffmpeg (tutti-api -F, /usr/bin/ffmpeg by default), a finished
    upload that is not MP3 is converted into one and stored as a track."""
    if not FFMPEG:
        t.check(True, "other formats # SKIP no /usr/bin/ffmpeg here")
        return
    for name, (data, secs, title) in sorted(other_formats(ctx["tmp"]).items()):
        (st, loc, _, _), (pst, h, d) = tus.upload(ctx["ta"], ctx["code"], data, name)
        st2, tr, _ = s.request("GET", "/api/tracks/" + h.get("tutti-track", "0"))
        ok = pst == 204 and st2 == 200 and tr["url"].endswith(".mp3") and \
            abs(tr["duration_us"] - secs * 1e6) < 60000 and \
            tr["title"] == (title or name.rsplit(".", 1)[0])
        t.check(ok, "%s: converted to an MP3 track of %.0f s titled from its %s" %
                (name, secs, "tags" if title else "name"), (pst, d, tr))
        if name == "tagged.flac":
            t.check(tr.get("artist") == "Flac Artist", "tagged.flac: its artist tag is kept", tr)
            (_, _, _, _), (pst2, h2, _) = tus.upload(ctx["ta"], ctx["code"], data, "again.flac")
            t.check(pst2 == 204 and h2.get("tutti-track") == h.get("tutti-track"),
                    "the same FLAC again is the same track (the conversion is deterministic)",
                    (h, h2))
    t.check(part_files(s) == [] and not any(f.endswith(".part.mp3") for f in
                                            os.listdir(os.path.join(s.data, "uploads"))),
            "no part file or converted copy is left in uploads/", os.listdir(os.path.join(
                s.data, "uploads")))


def t_truncated(t, s, tus, ctx):
    full = ctx["songs"]["trunc"]
    data = full[:len(full) * 6 // 10]
    (st, loc, _, _), (pst, h, d) = tus.upload(ctx["ta"], ctx["code"], data, "trunc.mp3")
    t.check(pst == 204 and h.get("tutti-track"), "a truncated MP3 is accepted (its whole frames "
            "decode)", (pst, d))
    st, tr, _ = s.request("GET", "/api/tracks/" + h.get("tutti-track", "0"))
    t.check(st == 200 and 1000000 < tr["duration_us"] < 2500000,
            "its length is what decodes, not what the LAME header claims", tr)


def t_same_twice(t, s, tus, ctx):
    data = ctx["songs"]["full"]
    before = track_total(s)
    _, (st, h, _) = tus.upload(ctx["ta"], ctx["code"], data, "again.mp3")
    t.check(st == 204 and h.get("tutti-track") == str(ctx.get("full_track")),
            "the same file again: the same track", (st, h))
    t.check(track_total(s) == before, "no new track", (before, track_total(s)))


def t_filenames(t, s, tus, ctx):
    cases = [("../../etc/passwd", "passwd"), ("a/b\\c.mp3", "c"),
             ("bad\x01\x1f\x7fname\u202e.mp3", "badname"), ("..", "Untitled"),
             ("x" * 300 + ".mp3", "x" * 255)]
    for i, (name, title) in enumerate(cases):
        data = ctx["songs"]["name%d" % i]
        _, (st, h, d) = tus.upload(ctx["ta"], ctx["code"], data, name)
        st2, tr, _ = s.request("GET", "/api/tracks/" + h.get("tutti-track", "0"))
        t.check(st == 204 and st2 == 200 and tr["title"] == title,
                "file name %r is stored as title %r" % (name[:40], title[:40]),
                (st, d, tr))
    t.check(not os.path.exists(os.path.join(s.data, "..", "etc", "passwd"))
            and not os.path.exists(os.path.join(s.data, "uploads", "..", "passwd")),
            "nothing was written outside the data directory")


def t_access(t, s, tus, ctx):
    data = ctx["songs"]["acc"]
    st, loc, h, d = tus.create(ctx["tb"], ctx["code"], len(data), "bob.mp3")
    t.check(is_problem(st, h, d, 403), "a member uploads when the policy is admin: 403", (st, d))
    code, tadmin = new_room(s, "erin", "everyone")
    tmember, tother = join(s, code, "frank"), join(s, code, "gina")
    st, loc, h, d = tus.create(tmember, code, len(data), "frank.mp3")
    t.check(st == 201, "a member uploads when the policy is everyone: 201", (st, d))
    st, h, d = tus.head(loc, tother)
    t.check(st == 404, "another member cannot see the upload: 404", st)
    st, h, d = tus.patch(loc, tother, 0, data)
    t.check(is_problem(st, h, d, 404), "... nor PATCH it: 404", st)
    st, h, d = tus.head(loc, ctx["ta"])
    t.check(st == 401, "a token of another room: 401", st)
    st, h, d = tus.head(loc, None)
    t.check(st == 401, "no token: 401", st)
    st, h, d = tus.head(loc, tadmin)
    t.check(st == 200 and h.get("upload-offset") == "0", "the room's admin sees it", (st, h))
    st, h, d = tus.patch(loc, tmember, 0, data)
    t.check(st == 204 and h.get("tutti-item"), "the uploader completes it", (st, d))


def t_delete(t, s, tus, ctx):
    st, loc, _, _ = tus.create(ctx["ta"], ctx["code"], 1000, "del.mp3")
    tus.patch(loc, ctx["ta"], 0, b"x" * 100)
    st, h, _ = tus.req("DELETE", loc, token=ctx["ta"])
    t.check(st == 204 and h.get("tus-resumable") == "1.0.0", "DELETE: 204", (st, h))
    st, _, _ = tus.head(loc, ctx["ta"])
    t.check(st == 404 and part_files(s) == [], "then HEAD 404 and no part file", (st, part_files(s)))
    st, h, d = tus.req("DELETE", loc, token=ctx["ta"])
    t.check(is_problem(st, h, d, 404), "DELETE again: 404", st)
    st, h, d = tus.req("HEAD", "/api/uploads/nosuchupload", token=ctx["ta"])
    t.check(st == 404, "HEAD of an unknown id: 404", st)


def t_restart(t, ctx):
    """A whole stack (tutti-api and nginx) stops mid-upload; a new one resumes."""
    data_dir = tempfile.mkdtemp(prefix="tutti-up-data-")
    data = ctx["songs"]["restart"]
    half = len(data) // 2
    s1 = Stack(name="uploads-restart-1")
    s1.data = data_dir
    try:
        s1.start()
        tus = Tus(s1)
        code, tok = new_room(s1, "hana")
        st, loc, _, _ = tus.create(tok, code, len(data), "restart.mp3")
        st, h, _ = tus.patch(loc, tok, 0, data[:half])
        t.check(st == 204, "before the restart: the first half is in", (st, h))
    finally:
        s1.stop()
    s1.check_sanitizers(t)
    s2 = Stack(name="uploads-restart-2", env={"TUTTI_API_OPTS": "-X 1"})
    s2.data = data_dir
    try:
        s2.start()
        tus = Tus(s2)
        t.check(tus.offset(loc, tok) == half, "after restarting tutti-api and nginx, HEAD gives the "
                "offset")
        st, h, _ = tus.patch(loc, tok, half, data[half:])
        t.check(st == 204 and h.get("tutti-track"), "... and the upload completes", (st, h))
        t_expiry(t, s2, tus, code, tok)
    finally:
        s2.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    s2.check_sanitizers(t)


def t_expiry(t, s, tus, code, tok):
    """On a stack started with -X 1: uploads expire a second after creation."""
    st, loc, h, _ = tus.create(tok, code, 1000, "late.mp3")
    exp = email.utils.parsedate_to_datetime(h.get("upload-expires", "x, 1 Jan 1970"))
    t.check(st == 201 and exp.timestamp() < time.time() + 5, "with -X 1 Upload-Expires is near",
            h.get("upload-expires"))
    tus.patch(loc, tok, 0, b"y" * 10)
    st = wait_for(lambda: tus.head(loc, tok)[0] == 410)
    t.check(st, "an expired upload: HEAD 410")
    st, h, d = tus.patch(loc, tok, 10, b"y" * 10)
    t.check(is_problem(st, h, d, 410), "PATCH of an expired upload: 410", (st, d))
    t.check(loc.rsplit("/", 1)[1] + ".part" not in part_files(s), "its part file is removed",
            part_files(s))


def t_no_ffmpeg(t, tmp):
    """tutti-api -F none: only MP3 is taken; a WAV is refused with 415 "Not
    MPEG audio" and leaves nothing behind."""
    s = Stack(name="uploads-noff", env={"TUTTI_API_OPTS": "-F none"})
    try:
        s.start()
        tus = Tus(s)
        code, ta = new_room(s, "dora")
        refused(t, s, tus, {"ta": ta, "code": code}, wav(tmp), "-F none: a WAV file")
        st, h, d = tus.upload(ta, code, wav(tmp), "tone.wav")[1]
        t.check(is_problem(st, h, d, 415) and b"Not MPEG audio" in d,
                "-F none: the title says only MPEG audio is taken", d)
    finally:
        s.stop()
    s.check_sanitizers(t)


def t_convert_gate(t, tmp):
    """Conversions hold a request thread each, so they take the upload
    gate's places (half of tutti-api's 4 threads): with two conversions
    running, a third upload's PATCH gets 503 with Retry-After and nothing of
    it is written, other requests are still served, and the same PATCH goes
    through (and converts) once a place is free. The ffmpeg here is a
    wrapper that waits 3 s first."""
    if not FFMPEG:
        t.check(True, "conversion gate # SKIP no /usr/bin/ffmpeg here")
        return
    slow = os.path.join(tmp, "slow-ffmpeg")
    with open(slow, "w") as f:
        f.write("#!/bin/sh\nsleep 3\nexec %s \"$@\"\n" % FFMPEG)
    os.chmod(slow, 0o755)
    s = Stack(name="uploads-gate", env={"TUTTI_API_OPTS": "-F %s -t 4" % slow})
    try:
        s.start()
        tus = Tus(s)
        code, ta = new_room(s, "gina")
        data = wav(tmp)
        locs = [tus.create(ta, code, len(data), "w%d.wav" % i)[1] for i in range(3)]
        results = {}

        def finish(i):
            results[i] = tus.patch(locs[i], ta, 0, data)
        threads = [threading.Thread(target=finish, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
        time.sleep(1.0)     # both are converting now (3 s each)
        st3, h3, d3 = tus.patch(locs[2], ta, 0, data)
        st, _, _ = s.request("GET", "/api/tracks?limit=1")
        converting = sum(th.is_alive() for th in threads)
        for th in threads:
            th.join(30)
        t.check(all(results[i][0] == 204 for i in range(2)), "two conversions at once complete",
                [results[i][0] for i in range(2)])
        t.check(is_problem(st3, h3, d3, 503) and h3.get("retry-after") == "1" and
                tus.offset(locs[2], ta) == 0,
                "a third upload meanwhile: 503 with Retry-After, nothing written", (st3, d3))
        t.check(st == 200 and converting == 2, "other requests are served while the two files "
                "still convert", (st, converting))
        st, h, d = tus.patch(locs[2], ta, 0, data)
        t.check(st == 204 and h.get("tutti-track"), "then the same PATCH converts and completes "
                "it", (st, d))
    finally:
        s.stop()
    s.check_sanitizers(t)


def main():
    t = Tap()
    tmp = tempfile.mkdtemp(prefix="tutti-up-")
    s = Stack(name="uploads")
    try:
        songs = {"full": mp3(tmp, "full", 440, 3, "Full Song", "Tester"),
                 "resume": mp3(tmp, "resume", 494, 4, "Resume Song", "Tester"),
                 "cut": mp3(tmp, "cut", 523, 12), "trunc": mp3(tmp, "trunc", 587, 3),
                 "acc": mp3(tmp, "acc", 659, 1), "restart": mp3(tmp, "restart", 698, 2)}
        for i in range(5):
            songs["name%d" % i] = mp3(tmp, "name%d" % i, 740 + 20 * i, 1)
        s.start()
        tus = Tus(s)
        code, ta = new_room(s, "alice")
        ctx = {"songs": songs, "wav": wav(tmp), "code": code, "ta": ta, "tmp": tmp,
               "tb": join(s, code, "bob"), "tother": new_room(s, "carol")[1]}
        for fn in (t_options, t_create_refusals, t_full, t_resume, t_cut_off, t_not_mp3,
                   t_convert, t_truncated, t_same_twice, t_filenames, t_delete, t_access):
            t.run(fn, s, tus, ctx)
    finally:
        s.stop()
    s.check_sanitizers(t)
    try:
        t.run(t_restart, {"songs": songs})
        t.run(t_no_ffmpeg, tmp)
        t.run(t_convert_gate, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
