/*
 * gearmand going away, against the real stack and a private gearmand:
 * background jobs queued while no worker runs survive gearmand being
 * killed (its sqlite queue) and are all applied once workers come; workers
 * that lose gearmand reconnect by themselves and take new jobs.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <signal.h>
#include <stdio.h>


#define BASE     7400000000000000000LL
#define POSTER   (BASE + 1)
#define FIRST    (BASE + 2)
#define FANS     50
#define PHOTOS   (BASE + 1000)


static void
persist(h_t *h, long long id)
{
    char  unique[32], payload[512];

    snprintf(unique, sizeof(unique), "%lld", id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"\",\"media_path\":\"m\",\"image_url\":\"i\","
             "\"width\":1,\"height\":1,\"created_at\":1767225600}",
             id, id, POSTER);
    h_submit(h, PHOTO_JOB_PERSIST, unique, payload);
}


/* every follower's feed holds exactly ids PHOTOS+1..PHOTOS+n */
static int
feeds_hold(h_t *h, int n)
{
    int        ok;
    long long  f;

    ok = 1;

    for (f = FIRST; ok && f < FIRST + FANS; f++) {
        ok = h_redis_int(h, "ZCARD feed:{%lld}", f) == n + 1     /* marker */
             && h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", f,
                            h_pad(PHOTOS + 1), h_pad(PHOTOS + n)) == n;
    }

    return ok;
}


int
main(void)
{
    int    i;
    h_t    h;
    pid_t  p, f;

    h_init(&h, "gearmand");
    h_forget(&h, BASE, FANS + 2);
    h_users(&h, BASE, FANS + 2);
    PQclear(h_sql(&h, "insert into follows (follower, followee)"
                      " select g, %lld from generate_series(%lld::bigint,"
                      " %lld) g", POSTER, FIRST, FIRST + FANS - 1));
    /* the followers' feeds are in Redis (they read them): fan-out adds */
    h_feeds_complete(&h, FIRST, FANS);

    for (i = 1; i <= 20; i++) {
        persist(&h, PHOTOS + i);
    }

    CHECK(h_queued(&h, PHOTO_JOB_PERSIST) == 20,
          "20 jobs queued while no worker runs");

    h_gearmand_stop(&h, SIGKILL);
    h_gearmand_start(&h);

    CHECK(h_queued(&h, PHOTO_JOB_PERSIST) == 20,
          "gearmand killed (SIGKILL) and started again: all 20 are back");

    p = h_worker(&h, "photo_persist", NULL);
    f = h_worker(&h, "photo_fanout", NULL);

    CHECK(h_wait_drained(&h, PHOTO_JOB_PERSIST, 20000)
          && h_wait_drained(&h, PHOTO_JOB_FANOUT, 20000),
          "workers take them all");
    CHECK(h_sql_int(&h, "select count(*) from photos where id between %lld"
                        " and %lld", PHOTOS + 1, PHOTOS + 20) == 20
          && feeds_hold(&h, 20),
          "all 20 photos are stored and in all %d followers' feeds", FANS);

    /* now gearmand goes away under running workers */
    h_gearmand_stop(&h, SIGTERM);
    h_sleep_ms(1500);
    h_gearmand_start(&h);

    for (i = 21; i <= 25; i++) {
        persist(&h, PHOTOS + i);
    }

    CHECK(h_wait_drained(&h, PHOTO_JOB_PERSIST, 20000)
          && h_wait_drained(&h, PHOTO_JOB_FANOUT, 20000)
          && h_sql_int(&h, "select count(*) from photos where id between"
                           " %lld and %lld", PHOTOS + 1, PHOTOS + 25) == 25
          && feeds_hold(&h, 25),
          "after gearmand restarts under them, the workers reconnect and "
          "apply new jobs");
    CHECK(h_worker_alive(p) && h_worker_alive(f)
          && h_log_has(&h, p, "photo_persist", "is back"),
          "the workers stayed up and logged the outage and the return");

    h_forget(&h, BASE, FANS + 2);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
