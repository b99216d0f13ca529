/*
 * photo_index against the Solr stand-in (t/solr/solr_standin.py): a photo
 * posted with a location is found by a geofilt query within its distance
 * and not outside it; a delete removes it (alone: sent when the batch's
 * delay is over); documents coming together go in batches of at most
 * PHOTO_INDEX_BATCH; Solr answering 503 delays documents but loses none; a
 * document Solr refuses lands in dead_letter:photo_index with Solr's
 * message while the rest of its batch is indexed; Solr unreachable delays
 * documents until it is back, and they wait in Redis through a kill -9 of
 * the worker; and through photo_persist, a located photo is indexed when
 * PHOTO_SOLR_URL is set, one without a location is not.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"
#include "solr_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


#define BASE     7810000000000000000LL
#define POSTER   (BASE + 1)
#define NEAR     (BASE + 100)         /* the Louvre */
#define MID      (BASE + 101)         /* Montrouge, 5.1 km from it */
#define FAR      (BASE + 102)         /* London, 343 km */
#define RETRIED  (BASE + 103)
#define REFUSED  (BASE + 104)
#define CHAINED  (BASE + 105)
#define NOWHERE  (BASE + 106)
#define AWAY     (BASE + 107)
#define TAKEN    (BASE + 108)         /* in the refused one's batch: Lyon */
#define BATCHED  (BASE + 200)         /* .. + 29, in Tokyo */
#define STORED   (BASE + 300)         /* .. + 24, in Reykjavik: in Postgres
                                         only, for photo_reindex */
#define BATCHES  30
#define BATCH    "8"                  /* PHOTO_INDEX_BATCH of the test */
#define CREATED  1767229200LL         /* 2026-01-01T01:00:00Z */

#define PARIS_LAT  48.8606
#define PARIS_LNG  2.3376

#define LYON_LAT   45.7640
#define LYON_LNG   4.8357

#define WAIT_MS  8000                 /* commitWithin is 1 s */


typedef struct {
    s_solr_t    *solr;
    double       km;
    const char  *want;
} near_t;


static s_solr_t  solr;
static char      pending[200];        /* index:pending:<core URL> */


static long long
pending_len(h_t *h)
{
    return h_redis_int(h, "LLEN %s", pending);
}


/* a document waits in Redis, and its job is done with */
static int
pending_taken(h_t *h, void *arg)
{
    return pending_len(h) > 0 && h_queued(h, PHOTO_JOB_INDEX) == 0;
}


/* trimmed once Solr answered, which is just after the document shows */
static int
pending_empty(h_t *h, void *arg)
{
    return pending_len(h) == 0;
}


static int
in_lyon(h_t *h, void *arg)
{
    const char  *ids;

    ids = s_solr_near(&solr, LYON_LAT, LYON_LNG, 1);

    return ids && strcmp(ids, "7810000000000000108") == 0;
}


static int
docs_are(h_t *h, void *want)
{
    return s_solr_stat(&solr, "docs") == *(long *) want;
}


static void
index_job(h_t *h, long long id, double lat, double lng, const char *caption)
{
    char  unique[64], payload[1024];

    snprintf(unique, sizeof(unique), "index:%lld", id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"%s\",\"lat\":%.6f,\"lng\":%.6f,"
             "\"created_at\":%lld}",
             unique, id, POSTER, caption, lat, lng, CREATED);

    if (h_submit(h, PHOTO_JOB_INDEX, unique, payload) != 0) {
        printf("Bail out! submit\n");
        exit(2);
    }
}


static int
near_is(h_t *h, void *arg)
{
    near_t      *n;
    const char  *ids;

    n = arg;
    ids = s_solr_near(n->solr, PARIS_LAT, PARIS_LNG, n->km);

    return ids && strcmp(ids, n->want) == 0;
}


static const char *
ids(long long a, long long b, long long c)
{
    static char  buf[128];

    snprintf(buf, sizeof(buf), "%lld%s", a, "");
    if (b) {
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ",%lld", b);
    }
    if (c) {
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ",%lld", c);
    }

    return buf;
}


static int
wait_near(h_t *h, double km, const char *want)
{
    near_t  n = { &solr, km, want };

    return h_wait(h, near_is, &n, WAIT_MS);
}


static int
has_dead_letter(h_t *h, void *unique)
{
    char  *letter;

    letter = h_dead_letter(h, PHOTO_JOB_INDEX, unique);
    if (letter == NULL) {
        return 0;
    }

    /* put it back for the caller to read */
    freeReplyObject(h_redis(h, "LPUSH dead_letter:%s %s", PHOTO_JOB_INDEX,
                            letter));
    free(letter);

    return 1;
}


static void
test_found_within_distance(h_t *h)
{
    char  *doc;

    index_job(h, NEAR, PARIS_LAT, PARIS_LNG, "Louvre");
    index_job(h, MID, 48.8167, 2.3167, "Montrouge");
    index_job(h, FAR, 51.5074, -0.1278, "London");

    CHECK(wait_near(h, 10, ids(NEAR, MID, 0)),
          "within 10 km of the Louvre: the Louvre, then Montrouge "
          "(nearest first), not London");
    CHECK(wait_near(h, 5, ids(NEAR, 0, 0)),
          "within 5 km: only the Louvre (Montrouge is 5.1 km away)");
    CHECK(wait_near(h, 400, ids(NEAR, MID, FAR)),
          "within 400 km: London too (343 km)");

    doc = s_solr_doc(&solr, ids(NEAR, 0, 0));
    CHECK(doc && strstr(doc, "\"created_at\": \"2026-01-01T01:00:00Z\"")
          && strstr(doc, "\"caption\": \"Louvre\"")
          && strstr(doc, "\"location\": \"48.8606,2.3376\"")
          && strstr(doc, "\"user_id\": \"7810000000000000001\""),
          "the document has the schema's fields: %s", doc ? doc : "-");
    free(doc);
}


static void
test_delete(h_t *h)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), "unindex:%lld", MID);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"id\":\"%lld\",\"delete\":true}",
             unique, MID);
    h_submit(h, PHOTO_JOB_INDEX, unique, payload);

    CHECK(wait_near(h, 10, ids(NEAR, 0, 0)),
          "a delete removes Montrouge; the Louvre stays");
}


static void
test_batches(h_t *h)
{
    int   i;
    long  docs, updates, max_ops;

    docs = s_solr_stat(&solr, "docs") + BATCHES;
    updates = s_solr_stat(&solr, "updates");
    s_solr_control(&solr, "{\"max_ops\":0}");

    for (i = 0; i < BATCHES; i++) {
        index_job(h, BATCHED + i, 35.6812, 139.7671 + i * 0.0001, "Tokyo");
    }

    CHECK(h_wait(h, docs_are, &docs, WAIT_MS),
          "%d documents queued together are all indexed", BATCHES);

    updates = s_solr_stat(&solr, "updates") - updates;
    max_ops = s_solr_stat(&solr, "max_ops");

    CHECK(updates >= (BATCHES + 7) / 8 && updates <= 10,
          "in %ld update requests, not %d", updates, BATCHES);
    CHECK(max_ops > 1 && max_ops <= atoi(BATCH),
          "of at most PHOTO_INDEX_BATCH=%s documents (largest: %ld)",
          BATCH, max_ops);
    CHECK(pending_len(h) == 0, "nothing is left waiting in %s", pending);
}


static void
test_solr_unavailable(h_t *h, pid_t worker)
{
    long  failed;

    failed = s_solr_stat(&solr, "failed");
    s_solr_fail(&solr, 3, 503, NULL);

    index_job(h, RETRIED, PARIS_LAT + 0.001, PARIS_LNG, "retried");

    CHECK(wait_near(h, 10, ids(NEAR, RETRIED, 0)),
          "after three 503s, the document is indexed");
    CHECK(s_solr_stat(&solr, "failed") - failed == 3,
          "the stand-in failed three updates");
    CHECK(h_log_has(h, worker, "photo_index", "HTTP 503"),
          "the worker logs Solr's 503 and retries");
    CHECK(h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_INDEX) == 0,
          "nothing dead-lettered");
}


static void
test_solr_refuses(h_t *h)
{
    char  unique[64], *letter;

    snprintf(unique, sizeof(unique), "index:%lld", REFUSED);
    s_solr_control(&solr, "{\"refuse\":{\"7810000000000000104\":"
                   "\"ERROR: [doc=7810000000000000104] Error adding field "
                   "'caption': too long\"}}");

    /* one batch: Solr refuses it for the one document */
    index_job(h, REFUSED, PARIS_LAT, PARIS_LNG, "refused");
    index_job(h, TAKEN, LYON_LAT, LYON_LNG, "taken");

    CHECK(h_wait(h, has_dead_letter, unique, WAIT_MS),
          "a document Solr refuses is dead-lettered");

    letter = h_dead_letter(h, PHOTO_JOB_INDEX, unique);
    CHECK(letter && strstr(letter, "solr refused the document: HTTP 400: "
                                   "ERROR: [doc=7810000000000000104] Error "
                                   "adding field 'caption': too long"),
          "with Solr's message: %s", letter ? letter : "-");
    free(letter);

    CHECK(wait_near(h, 10, ids(NEAR, RETRIED, 0)),
          "it is not in the index");
    CHECK(h_wait(h, in_lyon, NULL, WAIT_MS),
          "the other document of its batch is");
    CHECK(pending_len(h) == 0, "nothing is left waiting in %s", pending);

    s_solr_control(&solr, "{\"refuse\":{}}");
    h_sleep_ms(50);
    freeReplyObject(h_redis(h, "DEL dead_letter:%s", PHOTO_JOB_INDEX));
}


static void
test_bad_payload(h_t *h)
{
    char  *letter;

    h_submit(h, PHOTO_JOB_INDEX, "index:bad",
             "{\"unique\":\"index:bad\",\"id\":\"5\",\"user_id\":\"1\","
             "\"caption\":\"\",\"lat\":1,\"created_at\":0}");

    CHECK(h_wait(h, has_dead_letter, "index:bad", WAIT_MS),
          "a payload without lng is dead-lettered");

    letter = h_dead_letter(h, PHOTO_JOB_INDEX, "index:bad");
    CHECK(letter && strstr(letter, "are required"), "reason: %s",
          letter ? letter : "-");
    free(letter);
}


static void
test_through_persist(h_t *h)
{
    char  payload[1024];

    h_users(h, POSTER, 1);
    h_worker(h, "photo_persist", solr.env, NULL);

    /* first without a location: persist queues no photo_index job */
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"nowhere\",\"media_path\":\"u/1.jpg\","
             "\"image_url\":\"/media/u/1.jpg\",\"width\":10,\"height\":10,"
             "\"created_at\":%lld}", NOWHERE, NOWHERE, POSTER, CREATED);
    h_submit(h, PHOTO_JOB_PERSIST, "nowhere", payload);

    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"chained\",\"media_path\":\"u/1.jpg\","
             "\"image_url\":\"/media/u/1.jpg\",\"width\":10,\"height\":10,"
             "\"lat\":%.6f,\"lng\":%.6f,\"created_at\":%lld}",
             CHAINED, CHAINED, POSTER, PARIS_LAT - 0.002, PARIS_LNG, CREATED);
    h_submit(h, PHOTO_JOB_PERSIST, "chained", payload);

    CHECK(wait_near(h, 10, ids(NEAR, RETRIED, CHAINED)),
          "a photo posted with a location is indexed via photo_persist");
    CHECK(s_solr_stat(&solr, "docs") == 5 + BATCHES,
          "the photo without a location is not (%d documents)",
          5 + BATCHES);

    h_forget(h, POSTER, 1);
    PQclear(h_sql(h, "delete from photos where id in (%lld, %lld)",
                  CHAINED, NOWHERE));
}


static pid_t
test_solr_unreachable(h_t *h, pid_t worker)
{
    int  status;

    s_solr_kill(&solr);

    index_job(h, AWAY, PARIS_LAT, PARIS_LNG, "away");

    CHECK(h_wait(h, pending_taken, NULL, WAIT_MS),
          "Solr away: the job is taken and its document waits in Redis");

    h_sleep_ms(400);
    CHECK(h_log_has(h, worker, "photo_index",
                    "solr: Couldn't connect to server; 1 updates wait in "),
          "the worker retries while Solr is unreachable");

    /* the worker dies with it: the next one finds it */
    status = h_worker_stop(h, worker, SIGKILL, 5000);
    CHECK(status != -1 && WIFSIGNALED(status), "photo_index killed (-9) "
          "while a document waits");
    CHECK(pending_len(h) == 1, "the document still waits in %s", pending);

    /* a new stand-in is empty: the one document is the job's */
    s_solr_restart(h, &solr);
    worker = h_worker(h, "photo_index", solr.env, "PHOTO_INDEX_BATCH=" BATCH,
                      NULL);

    CHECK(wait_near(h, 10, ids(AWAY, 0, 0)),
          "Solr back, a new worker: the document is indexed");
    CHECK(h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_INDEX) == 0,
          "nothing dead-lettered");
    CHECK(h_wait(h, pending_empty, NULL, WAIT_MS),
          "nothing is left waiting");

    return worker;
}


static int
reykjavik(h_t *h, void *want)
{
    const char  *ids;

    ids = s_solr_near(&solr, 64.1466, -21.9426, 50);

    return ids != NULL && strcmp(ids, (const char *) want) == 0;
}


static void
test_reindex(h_t *h)
{
    int    i;
    char   cmd[600], want[1024];
    size_t n;

    /* 25 located photos straight into Postgres, and one deleted since */
    h_users(h, POSTER, 1);

    for (i = 0; i < 25; i++) {
        PQclear(h_sql(h, "insert into photos (id, user_id, caption,"
                         " media_path, image_url, width, height, lat, lng,"
                         " created_at) values (%lld, %lld, 'stored %d',"
                         " 'r/%d.jpg', '/media/r/%d.jpg', 10, 10, %.4f,"
                         " -21.9426, to_timestamp(%lld))", STORED + i,
                      POSTER, i, i, i, 64.1466 + i * 0.0001, CREATED));
    }

    PQclear(h_sql(h, "delete from photos where id = %lld", STORED + 24));

    /* nearest first: the order they were put in */
    n = 0;
    for (i = 0; i < 24; i++) {
        n += (size_t) snprintf(want + n, sizeof(want) - n, "%s%lld",
                               i ? "," : "", STORED + i);
    }

    snprintf(cmd, sizeof(cmd), "PHOTO_SOLR_URL=%s PHOTO_INDEX_BATCH=10 "
             "%s/photo_reindex --log-level warn", solr.core_url,
             PHOTO_WORKERS_BIN);
    CHECK(system(cmd) == 0, "photo_reindex exits 0");
    CHECK(h_wait(h, reykjavik, want, WAIT_MS),
          "it sent every located photo of Postgres (the 24 of Reykjavik, "
          "not the deleted one)");
    CHECK(s_solr_stat(&solr, "max_ops") <= 10,
          "in updates of at most PHOTO_INDEX_BATCH=10");

    h_forget(h, POSTER, 1);
}


int
main(void)
{
    h_t    h;
    pid_t  worker;

    h_init(&h, "index");
    s_solr_start(&h, &solr);
    snprintf(pending, sizeof(pending), "%s{%s}", PHOTO_REDIS_INDEX_PENDING,
             solr.core_url);
    /* two slots: two commands */
    freeReplyObject(h_redis(&h, "DEL dead_letter:%s", PHOTO_JOB_INDEX));
    freeReplyObject(h_redis(&h, "DEL %s", pending));

    worker = h_worker(&h, "photo_index", solr.env,
                      "PHOTO_INDEX_BATCH=" BATCH, NULL);

    test_found_within_distance(&h);
    test_delete(&h);
    test_batches(&h);
    test_solr_unavailable(&h, worker);
    test_solr_refuses(&h);
    test_bad_payload(&h);
    test_through_persist(&h);
    worker = test_solr_unreachable(&h, worker);
    s_solr_control(&solr, "{\"max_ops\":0}");
    test_reindex(&h);

    CHECK(h_worker_stop(&h, worker, SIGTERM, 5000) == 0,
          "photo_index stops cleanly on SIGTERM");

    s_solr_stop(&solr);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
