"""test_hostile.py - hostile and clumsy input through nginx, and the
operational endpoints: oversized bodies, invalid UTF-8, deep JSON,
duplicate and unknown keys, numbers out of range, path tricks, bad query
strings; /api/readyz, /metrics, and nginx's own 413, 429 and 502 answered
as problem+json. After all of it the API still answers and loses nothing.
Run: /usr/bin/python3 tests/integration/test_hostile.py   (TAP output)
"""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap, create_room, is_problem  # noqa: E402


def raw_request(s, method, path, body=b"", headers=None):
    """Sends exactly what it is given (no JSON encoding); returns status and body bytes."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    if body:
        c.send(body)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, data, hdrs


def t_bodies(t, s, ctx):
    cases = [
        (b'{"name": "\xff\xfe"}', "invalid UTF-8 bytes"),
        (b'{"name": "\\ud800"}', "a lone surrogate escape"),
        (b'{"name": "a\\u0000b"}', "a NUL character"),
        (b'{"name": "a", "name": "b"}', "a duplicate key"),
        (b'["name", "a"]', "an array instead of an object"),
        (b'{"name": "a"', "truncated JSON"),
        (b"[" * 60000, "60,000 nested arrays"),
        (b'{"name": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}", "3,000 nested objects"),
        (b'{"name": "a", "x": "' + b"y" * 60000 + b'"}', "an unknown 60 KB field"),
        (b"", "an empty body"),
    ]
    for body, what in cases:
        st, data, hdrs = raw_request(s, "POST", "/api/rooms", body,
                                     {"Content-Type": "application/json"})
        ok = st == 400 and hdrs.get("content-type", "").startswith("application/problem+json")
        t.check(ok, "create a room with %s: 400 problem" % what, (st, data[:200]))
    st, data, hdrs = raw_request(s, "POST", "/api/rooms", b'{"name":"a"}',
                                 {"Content-Type": "text/plain"})
    t.check(st == 415, "a text/plain body: 415", (st, data))
    big = b'{"name": "' + b"a" * 100000 + b'"}'
    st, data, hdrs = raw_request(s, "POST", "/api/rooms", big, {"Content-Type": "application/json"})
    t.check(st == 413 and hdrs.get("content-type", "").startswith("application/problem+json")
            and b'"status":413' in data, "a 100 KB body: nginx's 413 as problem+json", (st, data))


def t_numbers(t, s, ctx):
    code, ta, _ = create_room(s, "alice")
    path = "/api/rooms/%s/control" % code
    for body, what in ((b'{"action":"seek","offset_us":1e400}', "a number that overflows"),
                       (b'{"action":"seek","offset_us":9223372036854775807}', "INT64_MAX offset"),
                       (b'{"action":"seek","position_us":-1}', "a negative position"),
                       (b'{"action":"seek","position_us":1.5}', "a fractional position"),
                       (b'{"action":"jump","item_id":0}', "item 0"),
                       (b'{"action":"PLAY"}', "an action in capitals")):
        st, data, _ = raw_request(s, "POST", path, body, {"Content-Type": "application/json",
                                                          "Authorization": "Bearer " + ta})
        t.check(st == 400, "control with %s: 400" % what, (st, data))


def t_paths(t, s, ctx):
    for p in ("/api/rooms/../healthz/x", "/api/rooms/%2e%2e/join", "/api/rooms/ABCDE%00/join",
              "/api/uploads/..%2f..%2fetc%2fpasswd", "/api/rooms/ABCDE/users/-1",
              "/api/rooms/ABCDE/users/99999999999999999999", "/api/rooms/ABCDE/playlist/1e3",
              "/api/tracks/0x10", "/api/rooms/" + "A" * 5000):
        st, data, hdrs = raw_request(s, "GET", p)
        t.check(st in (400, 401, 404, 405, 414) and b"root:" not in data,
                "path trick %s: refused (%d)" % (p[:60], st), data[:200])
    st, data, _ = raw_request(s, "GET", "/media/../../etc/passwd")
    t.check(st in (400, 404) and b"root:" not in data, "media path traversal refused", st)


def t_tokens_and_queries(t, s, ctx):
    code, ta, _ = create_room(s, "alice")
    for tok, what in (("x" * 10000, "a 10 KB token"), (ta + "A", "a token one byte longer"),
                      (ta[:-1], "a token one byte shorter"), ("", "an empty token")):
        st, body, hdrs = s.request("GET", "/api/rooms/" + code, token=tok or None,
                                   headers={"Authorization": "Bearer " + tok})
        t.check(st in (400, 401) and (st == 400 or is_problem(st, body, hdrs, 401)),
                "%s: 401" % what, (st, body))
    for q, what in (("limit=abc", "a non-numeric limit"), ("limit=100000", "a huge limit"),
                    ("offset=-1", "a negative offset"), ("limit=%ZZ", "a bad escape")):
        st, body, hdrs = s.request("GET", "/api/rooms?" + q)
        t.check(is_problem(st, body, hdrs, 400), "public rooms with %s: 400" % what, body)


def t_ready_metrics(t, s, ctx):
    st, body, _ = s.request("GET", "/api/readyz")
    t.check(st == 200 and body == {"status": "ready"}, "readyz: 200 ready", body)
    st, data, hdrs = raw_request(s, "GET", "/metrics")
    text = data.decode()
    t.check(st == 200 and hdrs.get("content-type", "").startswith("text/plain"),
            "/metrics: 200 text/plain", (st, hdrs))
    t.check('tutti_api_requests_total{route="/api/readyz",status="200"}' in text,
            "/metrics counts requests by route and status", text[:2000])
    t.check('tutti_api_requests_total{route="/api/rooms",status="400"}' in text,
            "/metrics counts the refused ones too", text[:2000])
    t.check('tutti_api_request_duration_seconds_bucket{route="/api/rooms",le="+Inf"}' in text
            and "tutti_api_upload_bytes_total" in text, "/metrics has the latency histogram and "
            "upload bytes", text[:2000])


def t_rate_limit(t, s, ctx):
    code, ta, _ = create_room(s, "alice")
    statuses, problem = [], None
    for _ in range(120):
        st, body, hdrs = s.request("PATCH", "/api/rooms/" + code, {"public": False}, token=ta)
        statuses.append(st)
        if st == 429 and problem is None:
            problem = (body, hdrs)
    t.check(200 in statuses and 429 in statuses, "120 admin changes in a burst: some get 429",
            sorted(set(statuses)))
    t.check(problem is not None and problem[0].get("status") == 429
            and problem[1].get("content-type", "").startswith("application/problem+json")
            and problem[1].get("retry-after") == "1", "nginx's 429 is problem+json with "
            "Retry-After", problem)


def t_api_down(t, s, ctx):
    sock = os.path.join(s.run, "api.sock")
    os.rename(sock, sock + ".away")
    try:
        st, body, hdrs = s.request("GET", "/api/healthz")
    finally:
        os.rename(sock + ".away", sock)
    t.check(is_problem(st, body, hdrs, 502), "API unreachable: nginx's 502 as problem+json", body)
    st, body, _ = s.request("GET", "/api/healthz")
    t.check(st == 200, "and back once it is reachable again", body)


def t_nginx_errors(t, s, ctx):
    st, data, hdrs = raw_request(s, "GET", "/api/healthz", headers={"X-Big": "a" * 10000})
    t.check(st == 400 and hdrs.get("content-type", "").startswith("application/problem+json")
            and b'"status":400' in data, "a 10 KB header: nginx's 400 as problem+json",
            (st, data[:200]))
    st, data, hdrs = raw_request(s, "GET", "/media/00/" + "0" * 64 + ".mp3")
    t.check(st == 404 and hdrs.get("content-type", "").startswith("application/problem+json"),
            "a missing media file: 404 as problem+json", (st, data[:200]))


def t_still_fine(t, s, ctx):
    code, ta, _ = create_room(s, "after")
    st, r, _ = s.request("GET", "/api/rooms/" + code, token=ta)
    t.check(st == 200 and r["users"][0]["name"] == "after", "the API still serves correctly", r)


def main():
    t = Tap()
    s = Stack(name="hostile")
    ctx = {}
    try:
        s.start()
        for fn in (t_bodies, t_numbers, t_paths, t_tokens_and_queries, t_ready_metrics,
                   t_rate_limit, t_api_down, t_nginx_errors, t_still_fine):
            t.run(fn, s, ctx)
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
