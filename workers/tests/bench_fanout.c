/*
 * photo_bench_fanout: how fast one post reaches its poster's followers.
 *
 * Makes a poster with N followers (default 100,000) in the stack's
 * Postgres, starts one photo_fanout worker on a private gearmand, and
 * times photo_fanout jobs end to end: submitted (as a foreground call, so
 * that the answer marks the end), every follower's feed:<id> updated.
 * Every follower's feed is in Redis, complete (as the reader builds it):
 * each insert is one into a real feed, not into a pending set.
 * Prints feed inserts per second for each run and the best; checks that
 * every feed got the id; removes its data again.
 *
 *   photo_bench_fanout [--followers N] [--runs R]
 *
 * Needs the stack running and the environment of conf/stack.env.
 */

#include "photo_harness.h"
#include "photo_contract.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define BASE    7600000000000000000LL
#define POSTER  BASE
#define PHOTOS  (BASE + 500000000LL)


static long long
count_feeds(h_t *h, long long followers, long long id)
{
    long long    i, n, pending;
    const char  *pad;
    redisReply  *reply;

    pad = h_pad(id);
    n = 0;
    pending = 0;

    for (i = 1; i <= followers; i++) {
        h_redis_append(h, "ZLEXCOUNT feed:{%lld} [%s [%s", POSTER + i, pad,
                       pad);

        if (++pending == 1000 || i == followers) {
            while (pending--) {
                reply = h_redis_reply(h);
                n += reply->integer;
                freeReplyObject(reply);
            }

            pending = 0;
        }
    }

    return n;
}


int
main(int argc, char **argv)
{
    int        c, r, runs, failed;
    char       payload[256], *answer;
    double     t, secs, rate, best;
    h_t        h;
    long long  followers, id, got;

    static const struct option  options[] = {
        { "followers", required_argument, NULL, 'n' },
        { "runs",      required_argument, NULL, 'r' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    followers = 100000;
    runs = 3;

    while ((c = getopt_long(argc, argv, "n:r:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            followers = atoll(optarg);
            break;
        case 'r':
            runs = atoi(optarg);
            break;
        default:
            printf("Usage: %s [--followers N] [--runs R]\n"
                   "Times one post's fan-out to N followers (default "
                   "100000), R times (default 3).\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }

    if (followers < 1 || followers > 10000000 || runs < 1) {
        fprintf(stderr, "%s: bad --followers or --runs\n", argv[0]);
        return 2;
    }

    h_init(&h, "bench_fanout");
    h_forget(&h, POSTER, followers + 1);

    printf("bench: %lld followers ", followers);
    fflush(stdout);

    t = h_now();
    h_users(&h, POSTER, followers + 1);
    PQclear(h_sql(&h, "insert into follows (follower, followee)"
                      " select g, %lld from generate_series(%lld::bigint,"
                      " %lld) g", POSTER, POSTER + 1, POSTER + followers));
    h_feeds_complete(&h, POSTER + 1, followers);

    printf("made in %.1f s; one photo_fanout worker, feed cap %d\n",
           h_now() - t, h.cf.feed_cap);

    h_worker(&h, "photo_fanout", "PHOTO_LOG_LEVEL=info", NULL);

    best = 0;
    failed = 0;

    for (r = 1; r <= runs; r++) {
        id = PHOTOS + r;
        snprintf(payload, sizeof(payload),
                 "{\"unique\":\"%s%lld\",\"id\":\"%lld\","
                 "\"user_id\":\"%lld\"}", PHOTO_FANOUT_UNIQUE, id, id,
                 POSTER);

        t = h_now();
        answer = h_call(&h, PHOTO_JOB_FANOUT, payload);
        secs = h_now() - t;
        free(answer);

        got = count_feeds(&h, followers, id);
        rate = followers / secs;
        best = rate > best ? rate : best;

        printf("run %d: %lld feeds in %.3f s: %.0f feed inserts/s%s\n", r,
               followers, secs, rate,
               got == followers ? "" : " (SOME FEEDS LACK THE ID)");

        failed |= got != followers;
    }

    printf("best: %.0f feed inserts/s per worker process\n", best);

    h_forget(&h, POSTER, followers + 1);
    h_done(&h, failed);

    return failed;
}
