"""What the two push stand-ins share: JWT decoding, the answer rules a
test gives them, and the record of what they were sent.

Rules (a JSON file the test may rewrite at any time, read per request):
{"<device token>": [{"status": 500}, {"status": 429, "retry_after": 1},
                    {"status": 410, "reason": "Unregistered"}], ...}
The n-th request for a token gets the n-th answer; once they are used up,
every request is answered 200.  Keys starting with "_" are settings
("_expires_in": the lifetime of the FCM stand-in's access tokens;
"_apns_max_age": how old an APNs provider token may be, 3600 s by default).

Records: one line per request, "<status> <token> <connection> <Unix time>",
so that a test in C reads them with fscanf; details go to the log (stderr).
"""

import base64
import json
import os
import threading
import time


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(jwt):
    """(header, claims, signing input, signature) or raises ValueError"""
    h, c, s = jwt.split(".")
    return (json.loads(b64url_decode(h)), json.loads(b64url_decode(c)),
            (h + "." + c).encode(), b64url_decode(s))


class Book:
    def __init__(self, rules_path, records_path):
        self.rules_path = rules_path
        self.records_path = records_path
        self.lock = threading.Lock()
        self.seen = {}

    def answer(self, token):
        """the rule for this request of token, or None: answer 200"""
        with self.lock:
            n = self.seen.get(token, 0)
            self.seen[token] = n + 1
        try:
            with open(self.rules_path) as f:
                rules = json.load(f)
        except (OSError, ValueError):
            rules = {}
        todo = rules.get(token, [])
        return todo[n] if n < len(todo) else None

    def setting(self, name, default):
        """a number the test set in the rules file ("_expires_in": 62)"""
        try:
            with open(self.rules_path) as f:
                v = json.load(f).get(name, default)
        except (OSError, ValueError):
            v = default
        return v if isinstance(v, int) else default

    def record(self, status, token, conn):
        with self.lock:
            with open(self.records_path, "a") as f:
                f.write("%d %s %s %.3f\n" % (status, token, conn,
                                              time.time()))
                f.flush()
                os.fsync(f.fileno())
