"""test_tracks.py - the public library through nginx: `tutti-api import` of a
directory tree (recursive, *.mp3 in any case, one line per file, status 1
when a file fails, one track per content, ID3v2 and ID3v1 tags), then
GET /api/tracks search (title and artist, case-insensitive, LIKE wildcards
taken literally), ordering, paging, bad parameters, and GET /api/tracks/{id}.
Run: /usr/bin/python3 tests/integration/test_tracks.py   (TAP output)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from stack import ROOT, Stack, Tap  # noqa: E402

# relative path, title, artist, ID3 version
SONGS = [
    ("a/pure.mp3", "100% Pure", "Alpha", 2),
    ("a/joy.MP3", "Pure Joy", "beta band", 2),
    ("b/under.mp3", "Under_score", "Gamma", 2),
    ("b/deep/underscore.Mp3", "Underscore", "Gamma", 2),
    ("zebra.mp3", "zebra", "Zed Band", 2),
    ("b/slash.mp3", "Back\\slash", "Delta", 2),
    ("old.mp3", "Vintage", "Old Timer", 1),
]


def encode(tmp, rel, title, artist, v, freq):
    out = os.path.join(tmp, "lib", rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    wav = os.path.join(tmp, "tone.wav")
    subprocess.run(["sox", "-q", "-n", "-r", "44100", "-c", "2", wav, "synth", "1", "sine",
                    str(freq)], check=True)
    tag = ["--add-id3v2"] if v == 2 else ["--id3v1-only"]
    subprocess.run(["lame", "--quiet", "-b", "128"] + tag + ["--tt", title, "--ta", artist,
                    wav, out], check=True)


def get(s, path):
    return s.request("GET", path)


def titles(body):
    return [tr["title"] for tr in body["tracks"]]


def search(s, q, **kw):
    kw["q"] = q
    st, body, _ = get(s, "/api/tracks?" + urllib.parse.urlencode(kw))
    return st, body


def is_problem(st, body, hdrs, status):
    return (st == status and hdrs.get("content-type", "").startswith("application/problem+json")
            and body.get("status") == status)


def t_import(t, s, ctx):
    tmp = ctx["tmp"]
    for i, (rel, title, artist, v) in enumerate(SONGS):
        encode(tmp, rel, title, artist, v, 300 + 37 * i)
    with open(os.path.join(tmp, "lib", "b", "bad.mp3"), "wb") as f:
        f.write(os.urandom(20000))
    with open(os.path.join(tmp, "lib", "notes.txt"), "w") as f:
        f.write("not music\n")
    cmd = [os.path.join(ROOT, "bin", "tutti-api"), "-d", s.data, "import", os.path.join(tmp, "lib")]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stdout.splitlines()
    t.check(p.returncode == 1, "import of a tree with a bad file exits 1", p.returncode)
    t.check(len(lines) == len(SONGS) and all(l.split("\t")[0].isdigit() for l in lines),
            "one line per imported file: id<TAB>path", p.stdout)
    t.check("bad.mp3" in p.stderr and "MPEG" in p.stderr and "notes.txt" not in p.stderr + p.stdout,
            "the bad file is named with the reason; other files are ignored", p.stderr)
    t.check(any(l.endswith("b/deep/underscore.Mp3") for l in lines),
            "import descends into subdirectories, *.mp3 in any case", p.stdout)
    p2 = subprocess.run(cmd, capture_output=True, text=True)
    t.check(sorted(p2.stdout.splitlines()) == sorted(lines), "importing again gives the same ids",
            p2.stdout)
    ctx["ids"] = {l.split("\t")[1][len(os.path.join(tmp, "lib")) + 1:]: int(l.split("\t")[0])
                  for l in lines}


def t_list(t, s, ctx):
    st, body, _ = get(s, "/api/tracks")
    t.check(st == 200 and body["total"] == len(SONGS) + 3 and body["limit"] == 50
            and body["offset"] == 0, "GET /api/tracks without a token: everything", body)
    got = titles(body)
    t.check(got == sorted(got, key=str.lower), "ordered by title, case-insensitively", got)
    tr = [x for x in body["tracks"] if x["title"] == "Vintage"]
    t.check(len(tr) == 1 and tr[0]["artist"] == "Old Timer", "ID3v1 tags are read", tr)
    keys = {"id", "title", "artist", "album", "duration_us", "sample_rate", "channels", "bitrate",
            "url"}
    t.check(keys <= set(body["tracks"][0]), "a track has its fields", body["tracks"][0])


def t_search(t, s, ctx):
    st, body = search(s, "pure")
    t.check(st == 200 and sorted(titles(body)) == ["100% Pure", "Pure Joy"]
            and body["total"] == 2, "q=pure finds both titles", body)
    st, body = search(s, "PURE")
    t.check(sorted(titles(body)) == ["100% Pure", "Pure Joy"], "case-insensitive", body)
    st, body = search(s, "band")
    t.check(sorted(titles(body)) == ["Pure Joy", "zebra"], "q searches artists too", body)
    st, body = search(s, "%")
    t.check(titles(body) == ["100% Pure"], "%% is literal, not a wildcard", body)
    st, body = search(s, "_")
    t.check(titles(body) == ["Under_score"], "_ is literal", body)
    st, body = search(s, "under_")
    t.check(titles(body) == ["Under_score"], "under_ does not match Underscore", body)
    st, body = search(s, "\\")
    t.check(titles(body) == ["Back\\slash"], "a backslash is literal", body)
    st, body = search(s, "no such thing")
    t.check(st == 200 and body["tracks"] == [] and body["total"] == 0, "no match: empty", body)
    st, body = search(s, "")
    t.check(st == 200 and body["total"] == len(SONGS) + 3, "an empty q lists everything", body)
    st, body = search(s, "ü" * 100)
    t.check(st == 200 and body["total"] == 0, "200 bytes of UTF-8 is a valid q", (st, body))
    st, body, h = get(s, "/api/tracks?q=" + "a" * 201)
    t.check(is_problem(st, body, h, 400), "q longer than 200 bytes: 400", body)
    st, body, h = get(s, "/api/tracks?q=%FF%FE")
    t.check(is_problem(st, body, h, 400), "q not UTF-8: 400", body)


def t_paging(t, s, ctx):
    _, full, _ = get(s, "/api/tracks")
    st, p1, _ = get(s, "/api/tracks?limit=4")
    st2, p2, _ = get(s, "/api/tracks?limit=4&offset=4")
    t.check(st == 200 and st2 == 200 and p1["limit"] == 4 and p2["offset"] == 4
            and p1["total"] == full["total"], "limit and offset are echoed with the total", p2)
    t.check(p1["tracks"] + p2["tracks"] == full["tracks"][:8], "two pages are the first eight",
            (titles(p1), titles(p2)))
    st, p3, _ = get(s, "/api/tracks?offset=1000")
    t.check(st == 200 and p3["tracks"] == [] and p3["total"] == full["total"],
            "an offset past the end: empty page", p3)
    for bad in ["limit=0", "limit=-1", "limit=abc", "limit=501", "offset=-1", "offset=x",
                "limit=", "limit=1e3"]:
        st, body, h = get(s, "/api/tracks?" + bad)
        t.check(is_problem(st, body, h, 400), "%s: 400" % bad, body)


def t_one(t, s, ctx):
    tid = ctx["ids"]["a/pure.mp3"]
    st, body, _ = get(s, "/api/tracks/%d" % tid)
    t.check(st == 200 and body["id"] == tid and body["title"] == "100% Pure"
            and body["artist"] == "Alpha" and 950000 < body["duration_us"] < 1100000,
            "GET /api/tracks/{id}: the track", body)
    st, media, h = s.request("GET", body["url"])
    t.check(st == 200 and h.get("content-type") == "audio/mpeg", "its url is served as audio/mpeg",
            (st, h))
    st, body, h = get(s, "/api/tracks/999999")
    t.check(is_problem(st, body, h, 404), "an unknown id: 404", body)
    for bad in ["0", "abc", "01", "-1"]:
        st, body, h = get(s, "/api/tracks/" + bad)
        t.check(is_problem(st, body, h, 404), "/api/tracks/%s: 404" % bad, body)
    st, body, h = s.request("POST", "/api/tracks", {"title": "x"})
    t.check(is_problem(st, body, h, 405), "POST /api/tracks: 405", body)


def main():
    t = Tap()
    s = Stack(name="tracks")
    ctx = {"tmp": tempfile.mkdtemp(prefix="tutti-tracks-")}
    try:
        s.start()
        for fn in (t_import, t_list, t_search, t_paging, t_one):
            t.run(fn, s, ctx)
    finally:
        s.stop()
        shutil.rmtree(ctx["tmp"], ignore_errors=True)
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
