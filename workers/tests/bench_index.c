/*
 * photo_bench_index: documents per second from Gearman through one
 * photo_index worker into the Solr stand-in (t/solr/solr_standin.py),
 * twice in one run: one document per update (PHOTO_INDEX_BATCH=1), then
 * batches (PHOTO_INDEX_BATCH, default 100), and the ratio of the two.
 *
 * Each time: a fresh stand-in, N photo_index jobs (default 2,000) queued
 * on a private gearmand, then one worker started, timed until the stand-in
 * has taken N documents.  The figures are the worker's against a Python
 * server on the same machine, not Solr's.
 *
 *   photo_bench_index [--docs N]
 *
 * Needs the stack running (the harness's gearmand queues in its Redis).
 */

#include "photo_harness.h"
#include "photo_contract.h"
#include "solr_client.h"

#include <getopt.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>


#define BASE  7820000000000000000LL


static const struct option  options[] = {
    { "docs", required_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 }
};


static double bench(h_t *h, long n, const char *batch);


int
main(int argc, char **argv)
{
    int          c;
    long         n;
    double       one, batched;
    h_t          h;

    n = 2000;

    while ((c = getopt_long(argc, argv, "n:", options, NULL)) != -1) {
        if (c != 'n') {
            fprintf(stderr, "usage: photo_bench_index [--docs N]\n");
            return 2;
        }

        n = atol(optarg);
    }

    if (n < 1) {
        fprintf(stderr, "photo_bench_index: --docs N, N >= 1\n");
        return 2;
    }

    h_init(&h, "bench_index");

    one = bench(&h, n, "1");
    batched = bench(&h, n, getenv("PHOTO_INDEX_BATCH") ? getenv(
                    "PHOTO_INDEX_BATCH") : "100");

    if (one > 0 && batched > 0) {
        printf("photo_index: batched / one per update: %.2f\n",
               batched / one);
    }

    h_done(&h, one <= 0 || batched <= 0);

    return one <= 0 || batched <= 0;
}


/* documents/s with PHOTO_INDEX_BATCH=batch, or -1 */
static double
bench(h_t *h, long n, const char *batch)
{
    long       i, done, updates;
    char       unique[64], payload[512], env[64];
    pid_t      worker;
    double     start, secs;
    s_solr_t   solr;

    s_solr_start(h, &solr);

    for (i = 0; i < n; i++) {
        snprintf(unique, sizeof(unique), "index:%lld", BASE + i);
        snprintf(payload, sizeof(payload),
                 "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\","
                 "\"caption\":\"bench photo %ld\",\"lat\":%.6f,"
                 "\"lng\":%.6f,\"created_at\":1767229200}",
                 unique, BASE + i, BASE, i, 48.0 + (i % 1000) / 1000.0,
                 2.0 + (double) (i / 1000) / 100.0);

        if (h_submit(h, PHOTO_JOB_INDEX, unique, payload) != 0) {
            return -1;
        }
    }

    snprintf(env, sizeof(env), "PHOTO_INDEX_BATCH=%s", batch);

    start = h_now();
    worker = h_worker(h, "photo_index", solr.env, env,
                      "PHOTO_LOG_LEVEL=warn", NULL);

    /* taken: committed, or waiting for commitWithin */
    while ((done = s_solr_stat(&solr, "docs") + s_solr_stat(&solr,
                                                            "pending")) < n
           && h_now() - start < 300)
    {
        h_sleep_ms(5);
    }

    secs = h_now() - start;
    updates = s_solr_stat(&solr, "updates");

    printf("photo_index: PHOTO_INDEX_BATCH=%s: %ld documents in %.2f s, "
           "%ld updates: %.0f documents/s\n", batch, done, secs, updates,
           done / secs);

    h_worker_stop(h, worker, SIGTERM, 5000);
    s_solr_stop(&solr);

    return done < n ? -1 : done / secs;
}
