#!/usr/bin/python3
"""The local S3 of the stack and the media worker's tests: s3rver behind a
proxy that checks what s3rver does not.

s3rver 3.7.1 (conf/s3) stores objects as S3 does and answers in S3's XML,
but it does not check a Signature V4 at all ("V4 signatures have
incomplete support": any signature with its one access key, S3RVER, is
taken, whatever secret made it), it takes anonymous writes, and its
credentials cannot be set.  Against it, a worker signing with the wrong
secret would pass every test and fail in production.  So this proxy, in
front of it, refuses what S3 refuses:

  - a signed request (Authorization: AWS4-HMAC-SHA256 ...) whose signature
    is not the one botocore's SigV4 signer computes for the same request
    with --access-key / --secret-key / --region: 403
    SignatureDoesNotMatch (with the StringToSign and CanonicalRequest, as
    S3 gives them); another access key: 403 InvalidAccessKeyId; no
    x-amz-content-sha256: 400 InvalidRequest; one that is not the body's
    SHA-256: 400 XAmzContentSHA256Mismatch; an x-amz-date more than 15
    minutes off: 403 RequestTimeTooSkewed;
  - an anonymous request: only GET and HEAD of a key under one of the
    --public-read prefixes (a bucket policy's public read, which nginx's
    anonymous GETs of the sized copies need), else 403 AccessDenied;

then passes it on to s3rver, path-style, without its Authorization (s3rver
has nothing to check in it).  Both addressing styles are taken: path-style
(http://127.0.0.1:PORT/<bucket>/<key>) and virtual-host style, the bucket
in the host name before --vhost-suffix (http://photo.localhost:PORT/<key>;
libcurl resolves any *.localhost to the loopback itself).

Faults for tests (--rules FILE, read per request, rewritable at any time):
{"faults": [{"method": "PUT", "key": "original/", "status": 503,
"code": "SlowDown", "times": 2, "delay": 0.5}, ...]}: a good request
(its signature checked) whose method is the rule's (any when absent) and
whose "<bucket>/<key>" holds the rule's key (any when absent) waits
"delay" seconds, then gets the rule's status and code instead of being
passed on (passed on when there is no status), "times" times (once when
absent; each rule counted on its own).  Records (--records FILE): one line
per request, "<status> <method> <bucket>/<key> <Unix time>
<signed|anonymous>".

s3rver itself: --s3rver DIR (where `npm ci` installed conf/s3) starts it as
a child on a port of its own (data in --data, each --bucket made at
start), stopped with the proxy; or --upstream URL for one already running.
Ready when --port accepts connections (s3rver is up and its buckets made
before the proxy listens).
"""

import argparse
import ctypes
import datetime
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SKEW = 15 * 60                  # seconds, as S3
BODY_MAX = 64 * 1024 * 1024     # a single PUT here is far smaller
PR_SET_PDEATHSIG = 1

# S3's own words for the faults a test asks for
FAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
}


class S3Error(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


class CheckedSigV4(SigV4Auth):
    """botocore's signer over the headers the client signed, and no other:
    S3 signs what SignedHeaders names (botocore signs all it sends)"""

    def __init__(self, credentials, region, signed):
        super().__init__(credentials, "s3", region)
        self.signed = signed

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        for name in list(headers.keys()):
            if name not in self.signed:
                del headers[name]
        return headers

    def _normalize_url_path(self, path):
        # S3 signs the path as sent (encoded once), not normalized
        return path


class Book:
    """the fault rules and the records"""

    def __init__(self, rules, records):
        self.rules = rules
        self.records = records
        self.lock = threading.Lock()
        self.seen = {}

    def fault(self, method, path):
        """the first rule for this request not used up yet, or None"""
        if not self.rules:
            return None
        try:
            with open(self.rules) as f:
                rules = json.load(f).get("faults", [])
        except (OSError, ValueError, AttributeError):
            rules = []
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict):
                continue
            if rule.get("method", method) != method:
                continue
            if rule.get("key", "") not in (path or ""):
                continue
            name = json.dumps(rule, sort_keys=True)
            with self.lock:
                n = self.seen.get(name, 0)
                if n >= int(rule.get("times", 1)):
                    continue
                self.seen[name] = n + 1
            return rule
        return None

    def record(self, status, method, path, signed):
        if not self.records:
            return
        line = "%d %s %s %.3f %s\n" % (status, method, path or "-",
                                       time.time(),
                                       "signed" if signed else "anonymous")
        with self.lock:
            with open(self.records, "a") as f:
                f.write(line)


def error_xml(e, request_id):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
             "<Code>%s</Code>" % e.code,
             "<Message>%s</Message>" % xml_escape(e.message)]
    for k, v in e.extra.items():
        parts.append("<%s>%s</%s>" % (k, xml_escape(str(v)), k))
    parts.append("<RequestId>%s</RequestId></Error>" % request_id)
    return "".join(parts).encode()


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def parse_authorization(value):
    """AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise S3Error(400, "InvalidArgument",
                      "Unsupported Authorization Type",
                      ArgumentName="Authorization", ArgumentValue=value)
    fields = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise S3Error(400, "AuthorizationHeaderMalformed",
                      "The authorization header is malformed; it requires "
                      "Credential, SignedHeaders and Signature.")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise S3Error(400, "AuthorizationHeaderMalformed",
                      "The authorization header is malformed; the "
                      "Credential is mal-formed.")
    return scope, fields["SignedHeaders"].split(";"), fields["Signature"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3_check_proxy"

    # ------------------------------------------------------------ methods

    def do_GET(self):
        self.handle_s3()

    def do_HEAD(self):
        self.handle_s3()

    def do_PUT(self):
        self.handle_s3()

    def do_DELETE(self):
        self.handle_s3()

    def do_POST(self):
        self.handle_s3()

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("s3_check_proxy: " + fmt % args + "\n")

    # --------------------------------------------------------------- work

    def handle_s3(self):
        request_id = uuid.uuid4().hex[:16].upper()
        signed = "Authorization" in self.headers
        bucket_path = None
        try:
            body = self.read_body()
            bucket, key, query = self.address()
            bucket_path = "%s/%s" % (bucket or "", key or "")
            if signed:
                self.check_signature(body)
            else:
                self.check_anonymous(bucket, key)
            fault = self.server.book.fault(self.command, bucket_path)
            if fault is not None:
                time.sleep(float(fault.get("delay", 0)))
                if fault.get("status"):
                    code = fault.get("code", "SlowDown")
                    raise S3Error(int(fault["status"]), code,
                                  fault.get("message",
                                            FAULT_MESSAGES.get(
                                                code, "Injected fault.")))
            status = self.forward(bucket, key, query, body)
        except S3Error as e:
            status = e.status
            self.answer_error(e, request_id)
        except (ConnectionError, socket.timeout, http.client.HTTPException) \
                as e:
            status = 503
            self.answer_error(S3Error(503, "ServiceUnavailable",
                                      "s3rver: %s" % e), request_id)
        self.server.book.record(status, self.command, bucket_path, signed)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise S3Error(411, "MissingContentLength",
                          "You must provide the Content-Length HTTP "
                          "header.")
        n = int(self.headers.get("Content-Length") or 0)
        if n > BODY_MAX:
            raise S3Error(400, "EntityTooLarge", "Your proposed upload "
                          "exceeds the maximum allowed size")
        return self.rfile.read(n) if n > 0 else b""

    def address(self):
        """(bucket, key, query) of a path-style or virtual-host request"""
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        suffix = "." + self.server.opts.vhost_suffix
        if host.endswith(suffix) and len(host) > len(suffix):
            bucket = host[:-len(suffix)]
            key = path[1:]
        else:
            bucket, _, key = path[1:].partition("/")
        return bucket or None, key or None, url.query

    def check_signature(self, body):
        opts = self.server.opts
        scope, signed_headers, signature = parse_authorization(
            self.headers["Authorization"])
        access_key, date, region, service, _ = scope
        if access_key != opts.access_key:
            raise S3Error(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not "
                          "exist in our records.", AWSAccessKeyId=access_key)
        if region != opts.region or service != "s3":
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the "
                          "region '%s' is wrong; expecting '%s'"
                          % (region, opts.region), Region=opts.region)

        content_sha = self.headers.get("x-amz-content-sha256")
        if content_sha is None:
            raise S3Error(400, "InvalidRequest",
                          "Missing required header for this request: "
                          "x-amz-content-sha256")
        if content_sha not in ("UNSIGNED-PAYLOAD",):
            if hashlib.sha256(body).hexdigest() != content_sha.lower():
                raise S3Error(400, "XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header "
                              "does not match what was computed.",
                              ClientComputedContentSHA256=content_sha,
                              S3ComputedContentSHA256=hashlib.sha256(
                                  body).hexdigest())

        amz_date = self.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise S3Error(403, "AccessDenied", "AWS authentication requires "
                          "a valid Date or x-amz-date header")
        when = when.replace(tzinfo=datetime.timezone.utc).timestamp()
        if abs(time.time() - when) > SKEW or amz_date[:8] != date:
            raise S3Error(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the "
                          "current time is too large.", RequestTime=amz_date)

        for name in ("host", "x-amz-date", "x-amz-content-sha256"):
            if name not in signed_headers:
                raise S3Error(403, "AccessDenied", "There were headers "
                              "present in the request which were not "
                              "signed", HeadersNotSigned=name)

        headers = {}
        for name in signed_headers:
            values = self.headers.get_all(name)
            if values is None:
                values = [""]
            headers[name] = ",".join(values)

        request = AWSRequest(method=self.command,
                             url="http://%s%s" % (headers["host"],
                                                  self.path),
                             headers=headers, data=body)
        request.context["timestamp"] = amz_date
        auth = CheckedSigV4(Credentials(opts.access_key, opts.secret_key),
                            opts.region, signed_headers)
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        expected = auth.signature(string_to_sign, request)

        if not hmac.compare_digest(expected, signature):
            raise S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not "
                          "match the signature you provided. Check your key "
                          "and signing method.",
                          AWSAccessKeyId=access_key,
                          StringToSign=string_to_sign,
                          SignatureProvided=signature,
                          CanonicalRequest=canonical)

    def check_anonymous(self, bucket, key):
        if (self.command in ("GET", "HEAD") and bucket and key
                and any(key.startswith(p) for p in
                        self.server.opts.public_read)):
            return
        raise S3Error(403, "AccessDenied", "Access Denied")

    def forward(self, bucket, key, query, body):
        path = "/"
        if bucket:
            path += urllib.parse.quote(bucket)
            if key:
                path += "/" + key
        if query:
            path += "?" + query

        headers = {}
        for name, value in self.headers.items():
            lname = name.lower()
            if lname in ("host", "authorization", "connection", "expect",
                         "keep-alive", "transfer-encoding"):
                continue
            headers[name] = value
        headers["Content-Length"] = str(len(body))

        conn = self.server.upstream()
        try:
            conn.request(self.command, path, body=body or None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except Exception:
            conn.close()
            self.server.drop_upstream()
            raise

        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() in ("connection", "keep-alive",
                                "transfer-encoding", "content-length",
                                "date", "server"):
                continue
            self.send_header(name, value)
        self.send_header("Content-Length",
                         resp.getheader("Content-Length", str(len(data)))
                         if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return resp.status

    def answer_error(self, e, request_id):
        body = error_xml(e, request_id)
        self.send_response(e.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if self.server.opts.verbose or e.status >= 500 or e.code not in (
                "NoSuchKey",):
            sys.stderr.write("s3_check_proxy: %s %s: %d %s\n"
                             % (self.command, self.path, e.status, e.code))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, opts, upstream):
        self.opts = opts
        self.book = Book(opts.rules, opts.records)
        self.upstream_url = urllib.parse.urlsplit(upstream)
        self.local = threading.local()
        super().__init__((opts.host, opts.port), Handler)

    def upstream(self):
        """this thread's kept connection to s3rver"""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.upstream_url.hostname,
                                              self.upstream_url.port,
                                              timeout=30)
            self.local.conn = conn
        return conn

    def drop_upstream(self):
        self.local.conn = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_s3rver(opts):
    """s3rver as our child (it dies with us: PR_SET_PDEATHSIG); its URL"""
    port = free_port()
    script = os.path.join(opts.s3rver, "node_modules", "s3rver", "bin",
                          "s3rver.js")
    argv = ["node", script, "--directory", opts.data, "--address",
            "127.0.0.1", "--port", str(port), "--silent"]
    for b in opts.bucket:
        argv += ["--configure-bucket", b]
    os.makedirs(opts.data, exist_ok=True)

    libc = ctypes.CDLL(None, use_errno=True)

    def die_with_parent():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    child = subprocess.Popen(argv, preexec_fn=die_with_parent)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while time.time() < deadline:
        if child.poll() is not None:
            sys.exit("s3_check_proxy: s3rver exited with %d at start"
                     % child.returncode)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                conn.close()
                return child, url
        except OSError:
            pass
        time.sleep(0.05)
    child.kill()
    sys.exit("s3_check_proxy: s3rver did not answer within 30 s")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--s3rver", help="where conf/s3 is installed (npm ci)")
    p.add_argument("--data", help="s3rver's data folder")
    p.add_argument("--bucket", action="append", default=[],
                   help="made at start (repeatable; default photo)")
    p.add_argument("--upstream", help="an s3rver already running (URL)")
    p.add_argument("--access-key", default="S3RVER")
    p.add_argument("--secret-key", default="S3RVER")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--vhost-suffix", default="localhost",
                   help="<bucket>.<suffix> is virtual-host style")
    p.add_argument("--public-read", action="append", default=[],
                   help="a key prefix anyone may GET (repeatable)")
    p.add_argument("--rules", help="fault rules (JSON, read per request)")
    p.add_argument("--records", help="a line per request")
    p.add_argument("--verbose", action="store_true")
    opts = p.parse_args()

    if not opts.bucket:
        opts.bucket = ["photo"]

    child = None
    if opts.upstream:
        upstream = opts.upstream
    elif opts.s3rver and opts.data:
        child, upstream = start_s3rver(opts)
    else:
        p.error("--upstream, or --s3rver and --data")

    def stop(signo, frame):
        if child is not None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = Server(opts, upstream)
    sys.stderr.write("s3_check_proxy: %s:%d -> %s (s3rver), key %s\n"
                     % (opts.host, opts.port, upstream, opts.access_key))
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
