/*
 * A worker's metrics endpoint, against the stack's backends and a private
 * gearmand: GET /metrics answers the text format (which promtool reads
 * without a complaint), the jobs it took and what became of them, their
 * durations, the fan-out's inserts, gearmand's queue asked when scraped;
 * an idle worker with its endpoint spends no CPU; a backend away counts
 * errors; a slow job's line says where its time went; a dead letter says
 * why; the port taken stops the worker.
 */

#include "photo_check.h"
#include "photo_harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define BASE    7470000000000000000LL
#define USERS   4
#define POSTER  (BASE + 1)
#define FAN     (BASE + 2)
#define PHOTO   (BASE + 100)

#define CREATED  1767229200LL


typedef struct {
    char    *data;
    size_t   len;
} body_t;


static size_t
on_data(char *p, size_t size, size_t n, void *data)
{
    body_t  *b = data;
    char    *q;

    q = realloc(b->data, b->len + size * n + 1);
    if (q == NULL) {
        return 0;
    }

    memcpy(q + b->len, p, size * n);
    b->len += size * n;
    q[b->len] = '\0';
    b->data = q;

    return size * n;
}


/* GET (or another method) of path on port: the status, *text the body */
static long
ask(int port, const char *method, const char *path, char **text,
    char *type, size_t typelen)
{
    long     status;
    char     url[128], *ct;
    CURL    *c;
    body_t   b = { NULL, 0 };

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);

    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);

    status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

        if (type && curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct)
                    == CURLE_OK && ct)
        {
            snprintf(type, typelen, "%s", ct);
        }
    }

    curl_easy_cleanup(c);

    if (text) {
        *text = b.data ? b.data : strdup("");
    } else {
        free(b.data);
    }

    return status;
}


/* the value of the sample "series" (name{labels}) at the endpoint; -1 */
static double
sample(int port, const char *series)
{
    char    *text, *p;
    double   v;

    if (ask(port, "GET", "/metrics", &text, NULL, 0) != 200) {
        free(text);
        return -1;
    }

    v = -1;
    p = strstr(text, series);

    while (p && p != text && p[-1] != '\n') {
        p = strstr(p + 1, series);
    }

    if (p && p[strlen(series)] == ' ') {
        v = strtod(p + strlen(series) + 1, NULL);
    }

    free(text);

    return v;
}


typedef struct {
    int          port;
    const char  *series;
    double       at_least;
} want_t;


static int
reached(h_t *h, void *arg)
{
    want_t  *w = arg;

    return sample(w->port, w->series) >= w->at_least;
}


static double
cpu_ticks(pid_t pid)
{
    char                 path[64], buf[1024], *p;
    FILE                *f;
    unsigned long long   ut, st;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    f = fopen(path, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        if (f) {
            fclose(f);
        }
        return -1;
    }

    fclose(f);
    p = strrchr(buf, ')');

    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                            "%*u %llu %llu", &ut, &st) != 2)
    {
        return -1;
    }

    return (double) (ut + st);
}


static char *
payload(long long id, long long user)
{
    static char  buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"metrics\",\"media_path\":\"u/%lld.jpg\","
             "\"image_url\":\"/media/u/%lld.jpg\",\"width\":10,"
             "\"height\":10,\"created_at\":%lld}", id, id, user, id, id,
             CREATED);

    return buf;
}


static void
forget(h_t *h)
{
    char       key[64];
    long long  id;

    for (id = PHOTO; id <= PHOTO + 1; id++) {
        snprintf(key, sizeof(key), "photo:%lld", id);
        memcached_delete(h->mc, key, strlen(key), 0);
    }

    h_forget(h, BASE, USERS);
    PQclear(h_sql(h, "delete from photo_deletions where id between %lld "
                     "and %lld", PHOTO, PHOTO + 1));
}


static void
endpoint(h_t *h, int port, pid_t w)
{
    int      rc;
    char    *text, type[128], cmd[256], file[192], server[64], up[128];
    char     workers[192], queued[192];
    FILE    *f;
    double   t0, t1;

    type[0] = '\0';

    CHECK(ask(port, "GET", "/metrics", &text, type, sizeof(type)) == 200
          && strcmp(type, "text/plain; version=0.0.4; charset=utf-8") == 0,
          "GET /metrics: 200, text format 0.0.4 (%s)", type);
    CHECK(strstr(text, "# TYPE photo_worker_jobs_total counter\n") != NULL
          && strstr(text, "\nphoto_worker_jobs_total{job=\"photo_persist\","
                          "outcome=\"done\"} 0\n") != NULL
          && strstr(text, "\nphoto_worker_jobs_total{job=\"photo_delete\","
                          "outcome=\"dead\"} 0\n") != NULL,
          "every function's outcomes, from 0");
    CHECK(strstr(text, "# TYPE photo_worker_job_duration_seconds histogram\n")
          && strstr(text, "\nphoto_fanout_feed_inserts_total 0\n")
          && strstr(text, "\nprocess_start_time_seconds ")
          && strstr(text, "\nphoto_worker_backend_errors_total{backend="
                          "\"postgres\"} 0\n"),
          "durations, inserts, backend errors, the process");
    snprintf(server, sizeof(server), "{server=\"127.0.0.1:%d\"",
             h->gearman_port);
    snprintf(up, sizeof(up), "\nphoto_gearman_up%s} 1\n", server);
    snprintf(workers, sizeof(workers), "\nphoto_gearman_workers%s,function="
             "\"" PHOTO_JOB_PERSIST "\"} 2\n", server);
    snprintf(queued, sizeof(queued), "\nphoto_gearman_jobs_queued%s,"
             "function=\"" PHOTO_JOB_PERSIST "\"} 0\n", server);
    CHECK(strstr(text, up) != NULL && strstr(text, workers) != NULL
          && strstr(text, queued) != NULL,
          "gearmand's queue, asked at the scrape (PHOTO_METRICS_GEARMAN=1): "
          "the worker's 2 connections");

    /* promtool, as Prometheus reads it */
    snprintf(file, sizeof(file), "%s/metrics.txt", h->dir);
    f = fopen(file, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }

    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", file);
    rc = system(cmd);
    CHECK(rc == 0, "promtool check metrics finds nothing to say");
    free(text);

    CHECK(ask(port, "GET", "/other", NULL, NULL, 0) == 404,
          "another path: 404");
    CHECK(ask(port, "POST", "/metrics", NULL, NULL, 0) == 405,
          "POST: 405");

    /* idle: the worker waits in poll(), its endpoint in epoll_wait() */
    t0 = cpu_ticks(w);
    h_sleep_ms(3000);
    t1 = cpu_ticks(w);
    CHECK(t0 >= 0 && t1 - t0 <= 1, "an idle worker with its endpoint spends "
          "no CPU (%.0f ticks in 3 s)", t1 - t0);
}


static void
jobs(h_t *h, int port, pid_t w)
{
    char    *letter;
    want_t   want;

    PQclear(h_sql(h, "insert into follows (follower, followee) values "
                     "(%lld, %lld)", FAN, POSTER));
    /* the follower's feed is in Redis, complete: the id goes in it */
    h_feeds_complete(h, FAN, 1);

    h_submit(h, PHOTO_JOB_PERSIST, "m-photo", payload(PHOTO, POSTER));

    want.port = port;
    want.series = "photo_worker_jobs_total{job=\"photo_persist\","
                  "outcome=\"done\"}";
    want.at_least = 1;

    CHECK(h_wait(h, reached, &want, 10000),
          "a photo stored: done counts 1");
    CHECK(sample(port, "photo_worker_jobs_total{job=\"photo_persist\","
                       "outcome=\"taken\"}") == 1
          && sample(port, "photo_worker_job_duration_seconds_count"
                          "{job=\"photo_persist\"}") == 1
          && sample(port, "photo_worker_job_duration_seconds_bucket"
                          "{job=\"photo_persist\",le=\"+Inf\"}") == 1,
          "taken 1, one duration observed");
    CHECK(sample(port, "photo_fanout_feed_inserts_total") == 1,
          "its follower's feed: one insert, by the persist worker itself");
    CHECK(h_log_has(h, w, "photo_persist", "slow job: photo_persist m-photo "
                                           "took ")
          && h_log_has(h, w, "photo_persist", "postgres "),
          "PHOTO_SLOW_JOB_MS=1: the slow job's line, with Postgres's time");

    h_submit(h, PHOTO_JOB_PERSIST, "m-bad", "{\"unique\":\"m-bad\"}");

    want.series = "photo_worker_jobs_total{job=\"photo_persist\","
                  "outcome=\"dead\"}";
    CHECK(h_wait(h, reached, &want, 10000), "a bad payload: dead counts 1");

    letter = h_dead_letter(h, PHOTO_JOB_PERSIST, "\"m-bad\"");
    CHECK(letter && strstr(letter, "\"reason\":\"field \\\"id\\\" is "
                                   "missing\""),
          "its dead letter says why (%s)", letter ? letter : "none");
    free(letter);

    CHECK(h_log_has(h, w, "photo_persist", "dead letter: field \"id\" is "
                                           "missing (photo_persist m-bad, "
                                           "attempt 1)"),
          "and so does its log line, naming the job and the attempt");
}


/* Redis away: each attempt an error, the job given back at SIGTERM */
static void
backend_away(h_t *h)
{
    int      port;
    char     setting[64], redis[64];
    pid_t    w;
    want_t   want;

    port = h_free_port();
    snprintf(setting, sizeof(setting), "PHOTO_METRICS_PORT=%d", port);
    h_redis_away(h, redis, sizeof(redis));

    w = h_worker(h, "photo_persist", setting, redis, NULL);

    /* its row goes in; the poster's list cannot */
    h_submit(h, PHOTO_JOB_PERSIST, "m-away", payload(PHOTO + 1, POSTER));

    want.port = port;
    want.series = "photo_worker_backend_errors_total{backend=\"redis\"}";
    want.at_least = 2;

    CHECK(h_wait(h, reached, &want, 10000),
          "Redis away: its errors count, attempt by attempt");
    CHECK(sample(port, "photo_worker_jobs_total{job=\"photo_persist\","
                       "outcome=\"retried\"}") >= 1,
          "and so do the retried attempts");
    CHECK(h_log_has(h, w, "photo_persist", "redis: unreachable; again in ")
          && h_log_has(h, w, "photo_persist", "(photo_persist m-away, "
                                              "attempt "),
          "each logged with the job and its attempt");

    CHECK(h_worker_stop(h, w, SIGTERM, 5000) == 0,
          "SIGTERM: it gives the job back and exits");
}


int
main(void)
{
    h_t      h;
    int      port, status;
    char     setting[64], cmd[512], out[4096];
    FILE    *f;
    pid_t    w;
    size_t   n;

    h_init(&h, "metrics_http");     /* its gearmand started */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    forget(&h);
    h_users(&h, BASE, USERS);

    port = h_free_port();
    snprintf(setting, sizeof(setting), "PHOTO_METRICS_PORT=%d", port);

    w = h_worker(&h, "photo_persist", setting, "PHOTO_METRICS_GEARMAN=1",
                 "PHOTO_SLOW_JOB_MS=1", "PHOTO_PERSIST_BATCH=2", NULL);

    endpoint(&h, port, w);
    jobs(&h, port, w);

    /* the port taken: a second worker says so and exits 1 */
    snprintf(cmd, sizeof(cmd), "PHOTO_METRICS_PORT=%d PHOTO_GEARMAN_PORT=%d "
             "%s/photo_persist 2>&1", port, h.gearman_port,
             PHOTO_WORKERS_BIN);
    f = popen(cmd, "r");
    n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
    out[n] = '\0';
    status = f ? pclose(f) : -1;

    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1
          && strstr(out, "metrics: cannot listen on 127.0.0.1:") != NULL,
          "a second worker on the same port says it cannot listen, exit 1");

    CHECK(h_worker_stop(&h, w, SIGTERM, 5000) == 0,
          "SIGTERM: the worker and its endpoint stop");
    CHECK(ask(port, "GET", "/metrics", NULL, NULL, 0) == 0,
          "and the port is closed");

    backend_away(&h);

    forget(&h);
    curl_global_cleanup();
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
