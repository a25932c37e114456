"""test_authz.py - the authorization matrix: every endpoint that changes
state, called with no token, a member's token, the admin's token and a
token of another room, in a room whose policy is "admin" and again in one
whose policy is "everyone". Each cell is the status the API must answer.
Run: /usr/bin/python3 tests/integration/test_authz.py   (TAP output)
"""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack, Tap, create_room, join_room  # noqa: E402

CALLERS = ("none", "member", "admin", "other")


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Room:
    """A room with an admin, a member, spare people and library tracks."""

    def __init__(self, s, policy):
        self.s = s
        self.code, self.admin, self.admin_user = create_room(s, "alice", policy=policy)
        self.member, self.member_user = join_room(s, self.code, "bob")
        self.other = create_room(s, "mallory")[1]
        st, pl, _ = s.request("GET", "/api/rooms/%s/playlist" % self.code, token=self.admin)
        self.items = [i["id"] for i in pl["items"]]
        self.tracks = [i["track"]["id"] for i in pl["items"]]
        self.n = 0

    def token(self, who):
        return {"none": None, "member": self.member, "admin": self.admin,
                "other": self.other}[who]

    def spare_user(self):
        self.n += 1
        return join_room(self.s, self.code, "spare%d" % self.n)

    def fresh_item(self):
        st, b, _ = self.s.request("POST", "/api/rooms/%s/playlist" % self.code,
                                  {"track_id": self.tracks[0]}, token=self.admin,
                                  headers={"If-Match": "*"})
        return b["item_id"]

    def order(self):
        st, pl, _ = self.s.request("GET", "/api/rooms/%s/playlist" % self.code, token=self.admin)
        return [i["id"] for i in pl["items"]]

    def request_id(self):
        self.n += 1
        st, b, _ = self.s.request("POST", "/api/rooms/%s/requests" % self.code,
                                  {"text": "song %d" % self.n}, token=self.member)
        return b["id"] if st == 201 else 0

    def upload(self):
        st, _, h = self.s.request("POST", "/api/uploads", token=self.admin, raw=b"", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "1000",
            "Upload-Metadata": "room %s,filename %s" % (b64(self.code), b64("a.mp3"))})
        return h.get("location", "/api/uploads/none")


def cases(r):
    """(name, method, path, body, headers, expected per caller) for room r.
    path and body may be callables, so destructive calls get fresh targets."""
    c = r.code
    pol = {"admin": 403, "everyone": None}
    everyone = r.policy == "everyone"
    member_policy = lambda ok: ok if everyone else 403  # noqa: E731
    return [
        ("PATCH room", "PATCH", "/api/rooms/" + c, {"public": False}, None,
         {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("PUT admin (to oneself)", "PUT", "/api/rooms/%s/admin" % c,
         lambda who: {"user_id": r.admin_user["id"] if who != "member" else r.member_user["id"]},
         None, {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("DELETE user", "DELETE", lambda who: "/api/rooms/%s/users/%d" % (c, r.spare_user()[1]["id"]),
         None, None, {"none": 401, "member": 403, "admin": 204, "other": 401}),
        ("POST playlist", "POST", "/api/rooms/%s/playlist" % c, {"track_id": r.tracks[0]},
         {"If-Match": "*"}, {"none": 401, "member": member_policy(201), "admin": 201,
                             "other": 401}),
        ("PUT playlist", "PUT", "/api/rooms/%s/playlist" % c, lambda who: {"items": r.order()},
         {"If-Match": "*"}, {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("DELETE playlist item", "DELETE",
         lambda who: "/api/rooms/%s/playlist/%d" % (c, r.fresh_item()), None, {"If-Match": "*"},
         {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("POST control pause", "POST", "/api/rooms/%s/control" % c, {"action": "pause"}, None,
         {"none": 401, "member": member_policy(200), "admin": 200, "other": 401}),
        ("POST control seek +10 s", "POST", "/api/rooms/%s/control" % c,
         {"action": "seek", "offset_us": 10_000_000}, None,
         {"none": 401, "member": member_policy(200), "admin": 200, "other": 401}),
        ("POST control absolute seek", "POST", "/api/rooms/%s/control" % c,
         {"action": "seek", "position_us": 0}, None,
         {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("POST request", "POST", "/api/rooms/%s/requests" % c,
         lambda who: {"text": "wish of %s in %s" % (who, r.policy)}, None,
         {"none": 401, "member": 201, "admin": 201, "other": 401}),
        ("PATCH request", "PATCH", lambda who: "/api/rooms/%s/requests/%d" % (c, r.request_id()),
         {"status": "rejected"}, None, {"none": 401, "member": 403, "admin": 200, "other": 401}),
        ("POST chat", "POST", "/api/rooms/%s/chat" % c, {"text": "hello"}, None,
         {"none": 401, "member": 201, "admin": 201, "other": 401}),
        ("POST upload", "POST", "/api/uploads", None,
         {"Tus-Resumable": "1.0.0", "Upload-Length": "1000",
          "Upload-Metadata": "room %s,filename %s" % (b64(c), b64("x.mp3"))},
         {"none": 401, "member": member_policy(201), "admin": 201, "other": 401}),
        ("DELETE upload", "DELETE", lambda who: r.upload(), None, {"Tus-Resumable": "1.0.0"},
         {"none": 401, "member": 404, "admin": 204, "other": 401}),
        ("POST leave", "POST", "/api/rooms/%s/leave" % c, None, None,
         {"none": 401, "member": None, "admin": None, "other": 401}),
        ("DELETE room", "DELETE", "/api/rooms/" + c, None, None,
         {"none": 401, "member": 403, "admin": None, "other": 401}),
    ]


def run_matrix(t, s, policy):
    r = Room(s, policy)
    r.policy = policy
    for name, method, path, body, headers, want in cases(r):
        for who in CALLERS:
            if want[who] is None:
                continue
            p = path(who) if callable(path) else path
            b = body(who) if callable(body) else body
            raw = b"" if b is None and method in ("POST", "PUT", "PATCH") else None
            st, resp, _ = s.request(method, p, b, token=r.token(who), raw=raw,
                                    headers=headers)
            t.check(st == want[who], "policy %s: %s by %s: %d" % (policy, name, who, want[who]),
                    "got %d %r" % (st, resp))


def main():
    t = Tap()
    s = Stack(name="authz")
    try:
        s.start()
        t.run(run_matrix, s, "admin")
        t.run(run_matrix, s, "everyone")
    finally:
        s.stop()
    s.check_sanitizers(t)
    t.done()


if __name__ == "__main__":
    main()
