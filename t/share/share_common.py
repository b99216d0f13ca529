"""What the two share stand-ins (Twitter, Facebook) share: TLS, the answer
rules a test gives them, and the record of what they were sent.

Rules (a JSON file the test may rewrite at any time, read per request):
{"<user token>": [{"status": 429, "retry_after": 1}, {"status": 503}], ...}
The n-th request made with a token gets the n-th answer; once they are
used up, every good request is taken.  A request that is not good (a bad
signature, an unknown token, a missing field) is refused as the service
refuses it whatever the rules say, and does not use up an answer.

Records: one line per request, "<status> <token> <Unix time> <what it
took, as one line of JSON>" (the token "-" when there was none), so that a
test in C reads them with sscanf and looks into the JSON with strstr;
details go to the log (stderr).
"""

import json
import os
import ssl
import threading
import time
from http.server import ThreadingHTTPServer


class Book:
    def __init__(self, rules_path, records_path):
        self.rules_path = rules_path
        self.records_path = records_path
        self.lock = threading.Lock()
        self.seen = {}

    def answer(self, token):
        """the rule for this request of token, or None: take it"""
        with self.lock:
            n = self.seen.get(token, 0)
            self.seen[token] = n + 1
        try:
            with open(self.rules_path) as f:
                rules = json.load(f)
        except (OSError, ValueError):
            rules = {}
        todo = rules.get(token, [])
        return todo[n] if isinstance(todo, list) and n < len(todo) else None

    def record(self, status, token, took):
        line = "%d %s %.3f %s\n" % (
            status, token or "-", time.time(),
            json.dumps(took, ensure_ascii=False, separators=(",", ":")))
        with self.lock:
            with open(self.records_path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())


def load_json(path, default):
    """a JSON file the test may rewrite at any time (users, pages)"""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


class TLSServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1: the handshake in the request's own thread, so a
    client that stalls it holds up nobody else"""
    daemon_threads = True

    def __init__(self, port, handler, cert, key):
        super().__init__(("127.0.0.1", int(port)), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        self.ctx = ctx

    def get_request(self):
        sock, addr = super().get_request()
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)
