#!/usr/bin/env python3
"""The metrics pipe end to end, through the stack (scripts/stack with
PHOTO_PROMETHEUS=1): Prometheus is ready, with the alert rules of
conf/prometheus/ loaded and healthy; every worker and exporter it scrapes
is up, nginx's /metrics (the module's) and every worker's endpoint pass
`promtool check metrics`; a photo posted through nginx makes the persist
workers' photo_worker_jobs_total{job="photo_persist",outcome="done"} rise on
their endpoints, and then in Prometheus, asked with /api/v1/query, after its
next scrape, and nginx's photo_http_requests_total{endpoint="post",
code="2xx"} with it; gearmand's queue is there too, and the exporters'
redis_up and pg_up.

Fresh users each run. Prints 'N passed, N failed'; skipped (exit 77) when
the stack runs no Prometheus."""

import json, os, re, subprocess, sys, time, urllib.parse, urllib.request, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import GEARMAN_PORTS, HOST, call, check, done, poster, wait  # noqa: E402

PROM = "http://%s:%s" % (HOST, os.environ.get("PHOTO_PROMETHEUS_PORT", "19090"))
DONE = 'photo_worker_jobs_total{job="photo_persist",outcome="done"}'


def interval():
    """PHOTO_SCRAPE_INTERVAL in seconds ("15s", "1m")"""
    m = re.fullmatch(r"(\d+)(ms|s|m)", os.environ.get("PHOTO_SCRAPE_INTERVAL", "15s"))
    n, unit = (int(m.group(1)), m.group(2)) if m else (15, "s")
    return n / 1000.0 if unit == "ms" else n * 60 if unit == "m" else n


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def api(path, **params):
    """Prometheus's HTTP API: the "data" of a success, else None"""
    try:
        a = json.loads(get(PROM + path + ("?" + urllib.parse.urlencode(params)
                                          if params else "")))
    except (OSError, ValueError):
        return None
    return a["data"] if a.get("status") == "success" else None


def query(expr):
    """the value of a query's one result, or None"""
    d = api("/api/v1/query", query=expr)
    if not d or len(d["result"]) != 1:
        return None
    return float(d["result"][0]["value"][1])


def sample(url, series):
    """the value of series (name{labels}) at a worker's endpoint, or None"""
    try:
        text = get(url)
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def targets():
    d = api("/api/v1/targets", state="active")
    return d["activeTargets"] if d else []


def main():
    if os.environ.get("PHOTO_PROMETHEUS") != "1":
        print("skipped: the stack runs no Prometheus (PHOTO_PROMETHEUS=1)")
        sys.exit(77)

    step = interval()
    check("Prometheus is ready", wait(lambda: api("/api/v1/status/buildinfo") is not None, 30))

    groups = (api("/api/v1/rules") or {}).get("groups", [])
    names = {g["name"] for g in groups}
    bad = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
    check("the alert rules of conf/prometheus are loaded",
          {"photo_backends", "photo_requests", "photo_jobs"} <= names, names)
    check("and none fails to evaluate", not bad, bad)

    # every target scraped at least once, and up
    def scraped():
        ts = targets()
        return ts and all(t["health"] != "unknown" for t in ts)

    wait(scraped, 3 * step + 5)
    ts = targets()
    workers = [t for t in ts if t["labels"]["job"] == "photo_workers"]
    down = [(t["labels"].get("worker") or t["labels"]["job"], t["lastError"])
            for t in ts if t["health"] != "up"]
    check("nginx, every worker and exporter is scraped and up (%d workers)" % len(workers),
          workers and not down, down)
    nginx = [t for t in ts if t["labels"]["job"] == "photo_nginx"]
    check("nginx's /metrics is a target", len(nginx) == 1, nginx)
    check("each worker kind of PHOTO_WORKERS is a target",
          {w.split(":")[0] for w in os.environ["PHOTO_WORKERS"].split()}
          <= {t["labels"]["kind"] for t in workers})

    for t in workers + nginx:
        try:
            text = get(t["scrapeUrl"])
            r = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            ok, why = r.returncode == 0, r.stdout + r.stderr
        except OSError as e:
            ok, why = False, str(e)
        check("%s's metrics pass promtool check metrics"
              % (t["labels"].get("worker") or "nginx"), ok, why)

    persist = [t["scrapeUrl"] for t in workers if t["labels"]["kind"] == "persist"]

    def done_now():
        vals = [sample(u, DONE) for u in persist]
        return None if None in vals else sum(vals)

    before = done_now()
    check("the persist workers count their done jobs (%s)" % before,
          persist and before is not None)
    expr = "sum(%s)" % DONE
    # once Prometheus has scraped what they count now, it holds no more
    wait(lambda: query(expr) == before, 3 * step + 10)
    seen_before = query(expr)

    posts = 'sum(photo_http_requests_total{endpoint="post",code="2xx"})'
    posts_before = query(posts)
    check("Prometheus holds nginx's count of answered posts (%s)" % posts_before,
          posts_before is not None)

    tag = uuid.uuid4().hex[:8]
    token, media = poster("metrics_" + tag, "metrics password")
    s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": "metrics " + tag},
                   token=token)
    check("a photo posted through nginx: 202", s == 202, (s, b))

    check("the persist workers' done count rises on their endpoints",
          wait(lambda: (done_now() or 0) > (before or 0), 20), (before, done_now()))
    after = done_now() or 0

    t0 = time.time()
    seen = wait(lambda: (query(expr) or 0) >= after, 3 * step + 10)
    check("and in Prometheus: /api/v1/query %s from %s to %s after its scrape, "
          "%.1f s later" % (expr, seen_before, query(expr), time.time() - t0),
          seen_before is not None and seen_before < after and seen,
          (seen_before, after))

    check("and nginx's count of posts answered 2xx rose in Prometheus too (%s -> %s)"
          % (posts_before, query(posts)),
          wait(lambda: (query(posts) or 0) >= (posts_before or 0) + 1, 3 * step + 10))

    every = 'count(photo_gearman_workers{function="photo_persist"} >= 1)'
    check("every gearmand's queue is scraped, each with persist workers: %s = %d"
          % (every, len(GEARMAN_PORTS)), query(every) == len(GEARMAN_PORTS), query(every))
    check("the exporters: redis_up 1, pg_up 1",
          query("redis_up") == 1 and query("pg_up") == 1, (query("redis_up"), query("pg_up")))

    done()


if __name__ == "__main__":
    main()
