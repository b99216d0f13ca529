/*
 * photo_bench_index: documents per second from Gearman through one
 * photo_index worker into the Solr stand-in (t/solr/solr_standin.py).
 *
 * Queues N photo_index jobs (default 2,000) on a private gearmand, then
 * starts one worker and times until the stand-in has taken N updates.
 * The figure is the worker's (one document per job, one kept-alive
 * connection) against a Python server on the same machine, not Solr's.
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
#include <stdlib.h>


#define BASE  7820000000000000000LL


static const struct option  options[] = {
    { "docs", required_argument, NULL, 'n' },
    { NULL, 0, NULL, 0 }
};


int
main(int argc, char **argv)
{
    int          c;
    long         n, i, done;
    char         unique[64], payload[512];
    double       start, secs;
    h_t          h;
    s_solr_t     solr;

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
    s_solr_start(&h, &solr);

    for (i = 0; i < n; i++) {
        snprintf(unique, sizeof(unique), "index:%lld", BASE + i);
        snprintf(payload, sizeof(payload),
                 "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\","
                 "\"caption\":\"bench photo %ld\",\"lat\":%.6f,"
                 "\"lng\":%.6f,\"created_at\":1767229200}",
                 unique, BASE + i, BASE, i, 48.0 + (i % 1000) / 1000.0,
                 2.0 + (double) (i / 1000) / 100.0);

        if (h_submit(&h, PHOTO_JOB_INDEX, unique, payload) != 0) {
            return 2;
        }
    }

    start = h_now();
    h_worker(&h, "photo_index", solr.env, "PHOTO_LOG_LEVEL=warn", NULL);

    while ((done = s_solr_stat(&solr, "updates")) < n
           && h_now() - start < 300)
    {
        h_sleep_ms(5);
    }

    secs = h_now() - start;

    printf("photo_index: %ld documents in %.2f s: %.0f documents/s "
           "(one worker, one document per update, keep-alive, to the "
           "stand-in)\n", done, secs, done / secs);

    s_solr_stop(&solr);
    h_done(&h, done < n);

    return done < n;
}
