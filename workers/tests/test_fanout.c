/*
 * photo_fanout against the real stack: concurrent posts reach every
 * follower's complete feed once each and in id order, and the pending set
 * of each feed that is not in Redis (no list made without its marker);
 * feeds are trimmed to the cap keeping the completeness marker; and a
 * worker killed (SIGKILL) in the
 * middle of a fan-out to 20,000 followers, then replaced, leaves every
 * follower with the id exactly once (gearmand gives the job again); a
 * worker told to stop (SIGTERM) mid-fan-out finishes it first.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


#define BASE       7200000000000000000LL
#define USERS      40000

#define POSTER     (BASE + 1)
#define FIRST      (BASE + 2)               /* followers FIRST..+FANS-1 */
#define FANS       300
#define PHOTOS     (BASE + 1000000)         /* photo ids PHOTOS + 1.. */
#define POSTS      12

#define BIG        (BASE + 1000)            /* 20,000 followers */
#define BIG_FIRST  (BASE + 10000)
#define BIG_FANS   20000
#define BIG_PHOTO  (BASE + 2000000)


static void
post(h_t *h, long long id, long long poster)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), "%s%lld", PHOTO_FANOUT_UNIQUE, id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\"}",
             unique, id, poster);
    h_submit(h, PHOTO_JOB_FANOUT, unique, payload);
}


/* the fan-out of a deleted photo */
static void
post_delete(h_t *h, long long id, long long poster)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), "%s%lld-d", PHOTO_FANOUT_UNIQUE, id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"delete\":true}", unique, id, poster);
    h_submit(h, PHOTO_JOB_FANOUT, unique, payload);
}


/* the members of feed:<user> newest first, as the reader pages them */
static int
feed_is(h_t *h, long long user, int marker, const long long *ids, int n)
{
    int          i, ok;
    redisReply  *r;

    r = h_redis(h, "ZREVRANGEBYLEX feed:{%lld} + -", user);

    ok = r->type == REDIS_REPLY_ARRAY && (int) r->elements == n + marker;

    for (i = 0; ok && i < n; i++) {
        ok = strcmp(r->element[i]->str, h_pad(ids[i])) == 0;
    }

    if (ok && marker) {
        ok = strcmp(r->element[n]->str, PHOTO_LIST_COMPLETE) == 0;
    }

    freeReplyObject(r);

    return ok;
}


/* feed:<user> is not there, its pending set holds ids (newest first) */
static int
pending_is(h_t *h, long long user, const long long *ids, int n)
{
    int          i, ok;
    long long    ttl;
    redisReply  *r;

    if (h_redis_int(h, "EXISTS feed:{%lld}", user) != 0) {
        return 0;
    }

    ttl = h_redis_int(h, "TTL feed:{%lld}%s", user, PHOTO_LIST_PENDING);
    r = h_redis(h, "ZREVRANGEBYLEX feed:{%lld}%s + -", user,
                PHOTO_LIST_PENDING);

    ok = ttl > 0 && ttl <= PHOTO_LIST_PENDING_TTL
         && r->type == REDIS_REPLY_ARRAY && (int) r->elements == n;

    for (i = 0; ok && i < n; i++) {
        ok = strcmp(r->element[i]->str, h_pad(ids[i])) == 0;
    }

    freeReplyObject(r);

    return ok;
}


static void
check_concurrent(h_t *h)
{
    int        i, ok_marked, ok_plain, order[POSTS];
    pid_t      w1, w2;
    long long  f, newest[POSTS + 3];

    /* half the feeds are complete (the reader built them), half not */
    for (f = FIRST; f < FIRST + FANS; f += 2) {
        h_feeds_complete(h, f, 1);
    }

    w1 = h_worker(h, "photo_fanout", NULL);
    w2 = h_worker(h, "photo_fanout", NULL);

    /* submitted out of order, taken by two workers at once */
    for (i = 0; i < POSTS; i++) {
        order[i] = (i * 7) % POSTS;
    }

    for (i = 0; i < POSTS; i++) {
        post(h, PHOTOS + 1 + order[i], POSTER);
    }

    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 20000),
          "%d concurrent fan-outs to %d followers done", POSTS, FANS);

    for (i = 0; i < POSTS; i++) {
        newest[i] = PHOTOS + POSTS - i;
    }

    ok_marked = ok_plain = 1;

    for (f = FIRST; f < FIRST + FANS; f++) {
        if ((f - FIRST) % 2 == 0) {
            ok_marked &= feed_is(h, f, 1, newest, POSTS)
                         && h_redis_int(h, "EXISTS feed:{%lld}%s", f,
                                        PHOTO_LIST_PENDING) == 0;
        } else {
            ok_plain &= pending_is(h, f, newest, POSTS);
        }
    }

    CHECK(ok_marked, "every complete feed holds each id once, newest "
          "first, the marker last");
    CHECK(ok_plain, "a feed without its marker is not made: its pending "
          "set holds the ids, for at most %d s", PHOTO_LIST_PENDING_TTL);
    CHECK(h_redis_int(h, "EXISTS feed:{%lld}", POSTER) == 0,
          "the poster's own feed is not touched");

    /* a replayed fan-out changes nothing */
    post(h, PHOTOS + 1, POSTER);
    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 10000)
          && feed_is(h, FIRST, 1, newest, POSTS)
          && pending_is(h, FIRST + 1, newest, POSTS),
          "a replayed fan-out changes no feed");

    /* a deleted photo leaves the complete feeds and the pending sets */
    post_delete(h, PHOTOS + POSTS, POSTER);
    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 10000)
          && feed_is(h, FIRST, 1, newest + 1, POSTS - 1)
          && pending_is(h, FIRST + 1, newest + 1, POSTS - 1),
          "a deleted photo leaves the feeds and the pending sets");
    post(h, PHOTOS + POSTS, POSTER);
    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 10000)
          && feed_is(h, FIRST, 1, newest, POSTS)
          && pending_is(h, FIRST + 1, newest, POSTS), "(posted again)");

    h_worker_stop(h, w1, SIGTERM, 3000);
    h_worker_stop(h, w2, SIGTERM, 3000);

    /* with a cap of 5: the 5 newest stay, and the marker */
    w1 = h_worker(h, "photo_fanout", "PHOTO_FEED_CAP=5", NULL);
    for (i = POSTS + 1; i <= POSTS + 3; i++) {
        post(h, PHOTOS + i, POSTER);
    }

    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 10000), "3 more posts");

    for (i = 0; i < 5; i++) {
        newest[i] = PHOTOS + POSTS + 3 - i;
    }

    CHECK(feed_is(h, FIRST, 1, newest, 5),
          "a complete feed is trimmed to the cap, keeping the marker");
    CHECK(h_redis_int(h, "ZCARD feed:{%lld}%s", FIRST + 1,
                      PHOTO_LIST_PENDING) == POSTS + 3
          && h_redis_int(h, "EXISTS feed:{%lld}", FIRST + 1) == 0,
          "a pending set is not trimmed (it lives a minute)");

    h_worker_stop(h, w1, SIGTERM, 3000);
}


/* how many of the big poster's followers have id; all exactly once? */
static long long
feeds_with(h_t *h, long long id, int *only)
{
    long long    i, n, pending;
    const char  *pad;
    redisReply  *reply;

    pad = h_pad(id);
    n = 0;
    pending = 0;
    *only = 1;

    for (i = 0; i < BIG_FANS; i++) {
        h_redis_append(h, "ZLEXCOUNT feed:{%lld} [%s [%s", BIG_FIRST + i,
                       pad, pad);
        h_redis_append(h, "ZCARD feed:{%lld}", BIG_FIRST + i);
        pending += 2;

        if (pending == 2000 || i == BIG_FANS - 1) {
            while (pending) {
                reply = h_redis_reply(h);

                if (pending-- % 2 == 0) {
                    n += reply->integer;
                } else {
                    *only &= reply->integer <= 2;   /* and the marker */
                }

                freeReplyObject(reply);
            }
        }
    }

    return n;
}


static int
first_has_it(h_t *h, void *arg)
{
    return h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", BIG_FIRST,
                       h_pad(BIG_PHOTO), h_pad(BIG_PHOTO)) == 1;
}


static void
check_killed(h_t *h)
{
    int        only;
    pid_t      w;
    long long  done;

    PQclear(h_sql(h, "insert into follows (follower, followee)"
                     " select g, %lld from generate_series(%lld::bigint,"
                     " %lld) g", BIG, BIG_FIRST, BIG_FIRST + BIG_FANS - 1));

    /* their feeds are complete (read lately): the ids go in them */
    h_feeds_complete(h, BIG_FIRST, BIG_FANS);

    w = h_worker(h, "photo_fanout", NULL);
    post(h, BIG_PHOTO, BIG);

    CHECK(h_wait(h, first_has_it, NULL, 10000), "the big fan-out started");
    h_worker_stop(h, w, SIGKILL, 3000);

    done = feeds_with(h, BIG_PHOTO, &only);
    CHECK(done > 0 && done < BIG_FANS,
          "the worker was killed in the middle: %lld of %d feeds done", done,
          BIG_FANS);
    CHECK(h_queued(h, PHOTO_JOB_FANOUT) == 1,
          "gearmand holds the job again (its worker disconnected)");

    w = h_worker(h, "photo_fanout", NULL);
    CHECK(h_wait_drained(h, PHOTO_JOB_FANOUT, 20000),
          "a new worker takes the job and finishes it");

    done = feeds_with(h, BIG_PHOTO, &only);
    CHECK(done == BIG_FANS && only,
          "every one of the %d followers has the id exactly once (%lld)",
          BIG_FANS, done);

    h_worker_stop(h, w, SIGTERM, 3000);
}


static int
first_has_next(h_t *h, void *arg)
{
    return h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", BIG_FIRST,
                       h_pad(BIG_PHOTO + 1), h_pad(BIG_PHOTO + 1)) == 1;
}


/* SIGTERM in the middle of a fan-out: the job is finished, then exit */
static void
check_sigterm(h_t *h)
{
    int        only, status;
    pid_t      w;
    long long  done;

    w = h_worker(h, "photo_fanout", NULL);
    post(h, BIG_PHOTO + 1, BIG);

    CHECK(h_wait(h, first_has_next, NULL, 10000), "another big fan-out");
    status = h_worker_stop(h, w, SIGTERM, 10000);

    done = feeds_with(h, BIG_PHOTO + 1, &only);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0
          && done == BIG_FANS && h_queued(h, PHOTO_JOB_FANOUT) == 0,
          "SIGTERM mid-fan-out: the worker finishes it (%lld of %d feeds), "
          "then exits 0", done, BIG_FANS);
}


int
main(void)
{
    h_t  h;

    h_init(&h, "fanout");
    h_forget(&h, BASE, USERS);
    h_users(&h, BASE, USERS);

    PQclear(h_sql(&h, "insert into follows (follower, followee)"
                      " select g, %lld from generate_series(%lld::bigint,"
                      " %lld) g", POSTER, FIRST, FIRST + FANS - 1));

    check_concurrent(&h);
    check_killed(&h);
    check_sigterm(&h);

    h_forget(&h, BASE, USERS);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
