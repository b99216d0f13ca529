#!/usr/bin/env python3
"""The Solr stand-in refuses what the photos core refuses, with Solr's
status and JSON error shape, and computes geofilt / geodist() for real.
TAP output; no stack needed."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
n = 0
failed = 0


def check(cond, what):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, what))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(url, body=None, ctype="application/json"):
    req = urllib.request.Request(url, data=body)
    if body is not None and ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main():
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    core = base + "/solr/photos"
    proc = subprocess.Popen([sys.executable, os.path.join(HERE,
                             "solr_standin.py"), "--port", str(port),
                             "--core", "photos"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(250):
            try:
                http(base + "/_control")
                break
            except OSError:
                time.sleep(0.02)
        run(core, base)
    finally:
        proc.terminate()
        proc.wait()
    print("1..%d" % n)
    return 1 if failed else 0


def update(core, docs, query="?commit=true", ctype="application/json"):
    return http(core + "/update" + query, json.dumps(docs).encode(), ctype)


def near(core, lat, lng, km, sort="geodist() asc"):
    q = urllib.parse.urlencode({
        "q": "*:*", "wt": "json", "fl": "id",
        "fq": "{!geofilt sfield=location pt=%s,%s d=%s}" % (lat, lng, km),
        "sfield": "location", "pt": "%s,%s" % (lat, lng), "sort": sort})
    return http(core + "/select?" + q)


def refused(answer, code, msg):
    status, body = answer
    return (status == code and body["responseHeader"]["status"] == code
            and body["error"]["code"] == code and msg in body["error"]["msg"])


def run(core, base):
    doc = {"id": "1", "user_id": "7", "caption": "Louvre",
           "created_at": "2026-01-01T01:00:00Z", "location": "48.8606,2.3376"}
    check(update(core, [doc])[0] == 200, "a document of the schema is taken")
    check(update(core, [dict(doc, id="2", location="48.8167,2.3167"),
                        dict(doc, id="3", location="51.5074,-0.1278")])[0]
          == 200, "two more")

    check(refused(update(core, [dict(doc, colour="red")]), 400,
                  "unknown field 'colour'"), "an unknown field: 400")
    check(refused(update(core, [dict(doc, location="48.8,200")]), 400,
                  "Bad X value 200.0"), "a longitude out of range: 400")
    check(refused(update(core, [dict(doc, location="north")]), 400,
                  "Point must be in 'lat, lon'"), "a location not lat,lng: 400")
    check(refused(update(core, [dict(doc, created_at="yesterday")]), 400,
                  "Invalid Date String"), "a bad date: 400")
    d = dict(doc)
    del d["id"]
    check(refused(update(core, [d]), 400, "missing mandatory uniqueKey"),
          "no id: 400")
    check(refused(update(core, [doc], ctype="text/plain"), 415,
                  "Unsupported ContentType"), "not JSON: 415")
    check(refused(http(base + "/solr/nope/update", b"[]"), 404,
                  "No such core"), "an unknown core: 404")

    status, body = near(core, 48.8606, 2.3376, 10)
    ids = [x["id"] for x in body["response"]["docs"]]
    check(status == 200 and body["responseHeader"]["status"] == 0
          and body["response"]["numFound"] == 2 and ids == ["1", "2"],
          "geofilt 10 km: the Louvre and Montrouge (5.1 km), nearest first: "
          "%s" % ids)
    status, body = near(core, 48.8606, 2.3376, 5.0)
    check([x["id"] for x in body["response"]["docs"]] == ["1"],
          "geofilt 5 km: not Montrouge")
    status, body = near(core, 51.5074, -0.1278, 400)
    check([x["id"] for x in body["response"]["docs"]] == ["3", "1", "2"],
          "from London, 400 km: London, then Paris by distance")
    q = urllib.parse.urlencode({"q": "*:*", "sort": "geodist() asc",
                                "fq": "{!geofilt sfield=location pt=1,1 d=1}"})
    check(refused(http(core + "/select?" + q), 400, "sfield and pt"),
          "geodist() without the request's sfield and pt: 400, as Solr")

    check(update(core, {"delete": {"id": "2"}})[0] == 200, "delete by id")
    status, body = near(core, 48.8606, 2.3376, 10)
    check(body["response"]["numFound"] == 1, "Montrouge is gone")

    body = ('{"add":{"doc":%s},"add":{"doc":%s},"delete":{"id":"5"},'
            '"add":{"doc":%s}}' % (json.dumps(dict(doc, id="5")),
                                   json.dumps(dict(doc, id="6")),
                                   json.dumps(dict(doc, id="7", bad=1))))
    check(refused(http(core + "/update?commit=true", body.encode()), 400,
                  "unknown field 'bad'"),
          "commands with repeated keys: the bad one refused")
    update(core, [])                    # commit=true: what is pending
    status, b = http(core + "/select?q=id:6")
    status, b5 = http(core + "/select?q=id:5")
    check(b["response"]["numFound"] == 1 and b5["response"]["numFound"] == 0,
          "those before it applied in order (add 5, add 6, delete 5), "
          "as Solr does")

    check(update(core, [dict(doc, id="4")], "?commitWithin=300")[0] == 200,
          "commitWithin 300 ms")
    status, body = http(core + "/select?q=id:4")
    check(body["response"]["numFound"] == 0, "not searchable before it")
    time.sleep(0.4)
    status, body = http(core + "/select?q=id:4")
    check(body["response"]["numFound"] == 1, "searchable after it")

    http(base + "/_control", json.dumps({"fail_next": 2,
                                         "status": 503}).encode())
    check(refused(update(core, [doc]), 503, "Service Unavailable")
          and refused(update(core, [doc]), 503, "")
          and update(core, [doc])[0] == 200,
          "told to fail twice: 503, 503, then 200")

    http(base + "/_control", json.dumps({"refuse": {"8": "ERROR: [doc=8] "
                                                    "too long"},
                                         "max_ops": 0}).encode())
    check(refused(update(core, [dict(doc, id="7"), dict(doc, id="8")]), 400,
                  "ERROR: [doc=8] too long")
          and update(core, [dict(doc, id="9")])[0] == 200,
          "told to refuse document 8: refused wherever it comes, others "
          "taken")
    status, body = http(base + "/_control")
    check(body["max_ops"] == 1,
          "max_ops: the largest update applied since it was reset (%s)"
          % body["max_ops"])


if __name__ == "__main__":
    sys.exit(main())
