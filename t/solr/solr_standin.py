#!/usr/bin/env python3
"""A local stand-in for the part of Apache Solr's HTTP API ngx_photo uses.

Tests and the index benchmark run it instead of a real Solr (a JVM, not a
Debian package).  It is strict on purpose: whatever the real core would
refuse (conf/solr/managed-schema.xml), it refuses with Solr's status and JSON
error shape, so a worker that passes against it passes against Solr.

    POST /solr/<core>/update[?commitWithin=MS|?commit=true]
         Content-Type: application/json
         [ {doc}, ... ]                        add (replace by id)
         {"add":{"doc":{…}},"delete":{"id":"…"},…}   commands, in order
         {"delete":{"id":"…"}}                 delete by id
         {"delete":["…", …]}
    GET  /solr/<core>/select?q=*:*&fq={!geofilt sfield=location pt=LAT,LNG
         d=KM}&sfield=location&pt=LAT,LNG&sort=geodist() asc|created_at desc
         &start=N&rows=N&fl=a,b[,_dist_:geodist()]&wt=json
         (as in Solr, geodist() takes sfield and pt from the request, not
         from geofilt's local params)
    POST /_control  {"fail_next":N,"status":503[,"msg":"…"]}
         the next N update requests answer status (with msg) and change
         nothing: to test a worker's retries and dead letters;
                    {"refuse":{"<id>":"<msg>",…}}
         a document with that id is refused with 400 and msg wherever it
         comes, as Solr refuses a document its schema cannot take;
                    {"max_ops":0}  start counting the largest update again.
    GET  /_control  {"updates":N,"failed":N,"docs":N,"pending":N,
                     "max_ops":N}  (max_ops: most commands in one update)

As in Solr, an update is searchable after a commit: commit=true commits at
once, commitWithin=MS commits everything pending within MS.  Documents live
in memory.  Each request line is logged to stderr.

    solr_standin.py --port 8983 --core photos
"""

import argparse
import json
import math
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# the schema of conf/solr/managed-schema.xml: field -> check
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
POINT_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,"
                      r"\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
GEOFILT_RE = re.compile(r"^\{!geofilt\s+(.*)\}$")
EARTH_KM = 6371.0087714  # Solr's DistanceUtils.EARTH_MEAN_RADIUS_KM


class SolrError(Exception):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code
        self.msg = msg
        self.partial = []


def parse_point(value, what):
    m = POINT_RE.match(value) if isinstance(value, str) else None
    if not m:
        raise SolrError(400, "ERROR: %s: Point must be in 'lat, lon' or "
                        "'x y' format: %s" % (what, value))
    lat, lng = float(m.group(1)), float(m.group(2))
    if not -90 <= lat <= 90:
        raise SolrError(400, "ERROR: %s: Bad Y value %s is not in "
                        "boundary Rect(minX=-180.0,maxX=180.0,minY=-90.0,"
                        "maxY=90.0)" % (what, lat))
    if not -180 <= lng <= 180:
        raise SolrError(400, "ERROR: %s: Bad X value %s is not in "
                        "boundary Rect(minX=-180.0,maxX=180.0,minY=-90.0,"
                        "maxY=90.0)" % (what, lng))
    return lat, lng


def haversine_km(a, b):
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def check_doc(doc, refuse):
    """A document as the schema takes it, or SolrError as Solr says it."""
    if not isinstance(doc, dict):
        raise SolrError(400, "Expected: OBJECT but got %s"
                        % type(doc).__name__.upper())
    if "id" not in doc:
        raise SolrError(400, "Document is missing mandatory uniqueKey "
                        "field: id")
    did = doc["id"]
    if not isinstance(did, str) or did == "":
        raise SolrError(400, "Document is missing mandatory uniqueKey "
                        "field: id")
    if did in refuse:
        raise SolrError(400, refuse[did])
    for name, value in doc.items():
        if name == "location":
            parse_point(value, "[doc=%s] Error adding field 'location'='%s'"
                        % (did, value))
        elif name == "created_at":
            if not isinstance(value, str) or not DATE_RE.match(value):
                raise SolrError(400, "ERROR: [doc=%s] Error adding field "
                                "'created_at'='%s' msg=Invalid Date String:"
                                "'%s'" % (did, value, value))
        elif name in ("id", "user_id", "caption"):
            if not isinstance(value, (str, int, float)) or \
                    isinstance(value, bool):
                raise SolrError(400, "ERROR: [doc=%s] Error adding field "
                                "'%s': not a single value" % (did, name))
        else:
            raise SolrError(400, "ERROR: [doc=%s] unknown field '%s'"
                            % (did, name))
    return dict(doc)


class Index:
    """Committed documents, pending operations and the commit deadline."""

    def __init__(self):
        self.lock = threading.Lock()
        self.docs = {}
        self.pending = []
        self.deadline = None
        self.fail_next = 0
        self.fail_status = 503
        self.fail_msg = ""
        self.updates = 0
        self.failed = 0
        self.refuse = {}
        self.max_ops = 0

    def _commit_due(self, now):
        if self.deadline is not None and now >= self.deadline:
            self._commit()

    def _commit(self):
        for op, arg in self.pending:
            if op == "add":
                self.docs[arg["id"]] = arg
            else:
                self.docs.pop(arg, None)
        self.pending = []
        self.deadline = None

    def update(self, ops, commit, within_ms):
        with self.lock:
            self.updates += 1
            self.max_ops = max(self.max_ops, len(ops))
            self.pending.extend(ops)
            now = time.monotonic()
            if commit:
                self._commit()
            elif within_ms is not None and self.pending:
                due = now + within_ms / 1000.0
                if self.deadline is None or due < self.deadline:
                    self.deadline = due
            self._commit_due(now)

    def snapshot(self):
        with self.lock:
            self._commit_due(time.monotonic())
            return list(self.docs.values())

    def take_failure(self):
        """(status, msg) for an update told to fail, else None."""
        with self.lock:
            if self.fail_next <= 0:
                return None
            self.fail_next -= 1
            self.failed += 1
            return self.fail_status, self.fail_msg


class Pairs(dict):
    """A JSON object that also keeps its keys in order, repeated ones too:
    Solr takes {"add":{…},"add":{…},"delete":{…}} as three commands."""

    def __init__(self, pairs):
        dict.__init__(self, pairs)
        self.pairs = pairs


def update_ops(body, refuse):
    """The operations of a JSON update body, or SolrError."""
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=Pairs)
    except (UnicodeDecodeError, ValueError) as e:
        raise SolrError(400, "Cannot parse provided JSON: %s" % e)

    ops = []
    try:
        if isinstance(data, list):
            for d in data:
                ops.append(("add", check_doc(d, refuse)))
            return ops
        return commands(data, ops, len(body), refuse)
    except SolrError as e:
        # as Solr: the commands before the bad one stay applied
        e.partial = ops
        raise


def commands(data, ops, size, refuse):
    """The commands of an update object, appended to ops."""

    if not isinstance(data, dict):
        raise SolrError(400, "Cannot parse provided JSON: Expected: "
                        "OBJECT or ARRAY")

    for key, value in data.pairs:
        if key == "add":
            doc = value.get("doc") if isinstance(value, dict) else None
            ops.append(("add", check_doc(dict(doc) if isinstance(doc, dict)
                                         else doc, refuse)))
        elif key == "delete":
            ids = value if isinstance(value, list) else [value]
            for v in ids:
                if isinstance(v, dict) and set(v) == {"id"}:
                    v = v["id"]
                if not isinstance(v, str):
                    raise SolrError(400, "Unknown delete: %s"
                                    % json.dumps(v))
                ops.append(("delete", v))
        elif key == "commit":
            ops.append(("commit", None))
        else:
            raise SolrError(400, "Unknown command '%s' at [%d]"
                            % (key, size))
    return ops


def select(docs, params):
    """Solr's select over docs: q, fq (geofilt), sort, start, rows, fl."""
    q = params.get("q", ["*:*"])[0]
    pt = None
    dist = None
    kept = docs

    if q != "*:*":
        m = re.match(r"^(id|user_id):(.+)$", q)
        if not m:
            raise SolrError(400, "the stand-in takes q=*:*, id:X or "
                            "user_id:X, not %s" % q)
        field, value = m.group(1), m.group(2).strip('"')
        kept = [d for d in kept if str(d.get(field)) == value]

    for fq in params.get("fq", []):
        m = GEOFILT_RE.match(fq)
        if not m:
            raise SolrError(400, "the stand-in takes fq={!geofilt ...} "
                            "only, not %s" % fq)
        local = dict(kv.split("=", 1) for kv in m.group(1).split())
        if local.get("sfield") != "location" or "pt" not in local \
                or "d" not in local:
            raise SolrError(400, "geofilt needs sfield=location, pt and d")
        pt = parse_point(local["pt"], "pt")
        try:
            dist = float(local["d"])
        except ValueError:
            raise SolrError(400, "d: not a number: %s" % local["d"])
        kept = [d for d in kept if "location" in d
                and haversine_km(pt, parse_point(d["location"], "location"))
                <= dist]

    # geodist() reads the request's sfield and pt, not the fq's local params
    gpt = None
    if params.get("sfield", [""])[-1] == "location" and "pt" in params:
        gpt = parse_point(params["pt"][-1], "pt")

    sort = params.get("sort", [""])[0].strip()
    if sort == "geodist() asc":
        if gpt is None:
            raise SolrError(400, "sfield and pt request params are needed "
                            "for geodist() (sfield=location&pt=LAT,LNG)")
        kept = sorted(kept, key=lambda d: haversine_km(
            gpt, parse_point(d["location"], "location")))
    elif sort == "created_at desc":
        kept = sorted(kept, key=lambda d: d.get("created_at", ""),
                      reverse=True)
    elif sort != "":
        raise SolrError(400, "Can't determine a Sort Order (asc or desc) "
                        "in sort spec '%s'" % sort)

    try:
        start = int(params.get("start", ["0"])[0])
        rows = int(params.get("rows", ["10"])[0])
    except ValueError:
        raise SolrError(400, "start and rows are integers")

    fl = params.get("fl", ["*"])[0]
    fields = [f.strip() for f in fl.split(",") if f.strip()]
    out = []
    for d in kept[start:start + rows]:
        if "*" in fields:
            o = dict(d)
        else:
            o = {f: d[f] for f in fields if f in d}
        if "_dist_:geodist()" in fields and gpt is not None:
            o["_dist_"] = haversine_km(gpt, parse_point(d["location"], "l"))
        out.append(o)
    return len(kept), start, out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as Solr's Jetty
    server_version = "solr-standin"
    # headers and body go out in two writes: with Nagle on, the body waits
    # for the client's delayed ACK (40 ms a request on Linux)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        sys.stderr.write("solr_standin: %s\n" % (fmt % args))

    def _send(self, code, obj):
        body = (json.dumps(obj) + "\n").encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code, msg, started):
        self._send(code, {
            "responseHeader": {"status": code, "QTime": started},
            "error": {"metadata": ["error-class",
                                   "org.apache.solr.common.SolrException"],
                      "msg": msg, "code": code}})

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _route(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        params = parse_qs(url.query, keep_blank_values=True)
        return parts, params

    def do_GET(self):
        t0 = time.monotonic()
        parts, params = self._route()
        if parts == ["_control"]:
            idx = self.server.index
            with idx.lock:
                idx._commit_due(time.monotonic())
                self._send(200, {"updates": idx.updates,
                                 "failed": idx.failed,
                                 "docs": len(idx.docs),
                                 "pending": len(idx.pending),
                                 "max_ops": idx.max_ops})
            return
        try:
            self._core(parts, "select")
            n, start, docs = select(self.server.index.snapshot(), params)
        except SolrError as e:
            self._error(e.code, e.msg, ms(t0))
            return
        self._send(200, {"responseHeader": {
            "status": 0, "QTime": ms(t0),
            "params": {k: v[-1] for k, v in params.items()}},
            "response": {"numFound": n, "start": start,
                         "numFoundExact": True, "docs": docs}})

    def do_POST(self):
        t0 = time.monotonic()
        parts, params = self._route()
        body = self._body()
        if parts == ["_control"]:
            self._control(body)
            return
        try:
            self._core(parts, "update")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0]
            if ctype.strip().lower() != "application/json":
                raise SolrError(415, "Unsupported ContentType: %s  Not in: "
                                "[application/json]" % (ctype or "(none)"))
            failure = self.server.index.take_failure()
            if failure:
                raise SolrError(failure[0], failure[1]
                                or "Service Unavailable (stand-in told "
                                "to fail)")
            try:
                with self.server.index.lock:
                    refuse = dict(self.server.index.refuse)
                ops = update_ops(body, refuse)
            except SolrError as e:
                if e.partial:
                    self.server.index.update(e.partial, False, within_ms(
                        params))
                raise
            commit = params.get("commit", ["false"])[-1] == "true"
            within = within_ms(params)
            if ("commit", None) in ops:
                ops = [o for o in ops if o[0] != "commit"]
                commit = True
            self.server.index.update(ops, commit, within)
        except SolrError as e:
            self._error(e.code, e.msg, ms(t0))
            return
        self._send(200, {"responseHeader": {"rf": 1, "status": 0,
                                            "QTime": ms(t0)}})

    def _core(self, parts, handler):
        if len(parts) != 3 or parts[0] != "solr" or parts[2] != handler:
            raise SolrError(404, "Not Found: %s" % self.path)
        if parts[1] != self.server.core:
            raise SolrError(404, "No such core: %s" % parts[1])

    def _control(self, body):
        try:
            c = json.loads(body.decode("utf-8") or "{}")
            idx = self.server.index
            with idx.lock:
                if "fail_next" in c:
                    idx.fail_next = int(c["fail_next"])
                    idx.fail_status = int(c.get("status", 503))
                    idx.fail_msg = str(c.get("msg", ""))
                if "refuse" in c:
                    idx.refuse = {str(k): str(v)
                                  for k, v in c["refuse"].items()}
                if "max_ops" in c:
                    idx.max_ops = int(c["max_ops"])
        except (ValueError, AttributeError) as e:
            self._send(400, {"error": str(e)})
            return
        self._send(200, {"ok": True})


def within_ms(params):
    within = params.get("commitWithin", [None])[-1]
    if within is None:
        return None
    try:
        return int(within)
    except ValueError:
        raise SolrError(400, "commitWithin: not an integer: %s" % within)


def ms(t0):
    return int((time.monotonic() - t0) * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8983)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--core", default="photos")
    a = ap.parse_args()

    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.core = a.core
    srv.index = Index()
    sys.stderr.write("solr_standin: core %s on http://%s:%d/solr/%s\n"
                     % (a.core, a.host, a.port, a.core))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
