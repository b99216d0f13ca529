/*
 * photo_persist against the real stack: a photo is stored (row, cached
 * object with its counts, the poster's list, the fan-out to the
 * followers), a replay changes nothing (and caches the counts as they are
 * then); deleted by its poster it leaves all of them and its likes,
 * comments and activity are purged (photo_social_purge), a replayed
 * persist never brings it back, a forged delete of someone else's photo
 * is refused, its stored file goes with its last photo (and a worker that
 * cannot reach the files says so and goes on); bad payloads become dead
 * letters with a reason and
 * write nothing, a backend that is away makes the job wait (and SIGTERM
 * gives it back to gearmand), and the worker's options.
 */

#define _GNU_SOURCE   /* memmem */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"
#include "photo_object.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>


#define BASE     7100000000000000000LL
#define USERS    10
#define POSTER   (BASE + 1)
#define FAN1     (BASE + 2)
#define FAN2     (BASE + 3)
#define PHOTO1   (BASE + 100)
#define PHOTO2   (BASE + 101)
#define PHOTO3   (BASE + 102)
#define SHARED1  (BASE + 110)           /* two photos of one upload */
#define SHARED2  (BASE + 111)
#define LONE     (BASE + 112)
#define BAD      (BASE + 200)

#define CREATED  1767229200LL             /* 2026-01-01T01:00:00Z */
#define CAPTION_JSON  "Caf\\u00e9 \\\"quoted\\\" \\u2615\\nline two"
#define CAPTION       "Caf\xc3\xa9 \"quoted\" \xe2\x98\x95\nline two"


static char *
payload(long long id, long long user, const char *caption, const char *extra)
{
    static char  buf[8192];

    snprintf(buf, sizeof(buf),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"%s\",\"media_path\":\"u/%lld.jpg\","
             "\"image_url\":\"/media/u/%lld.jpg\",\"width\":1080,"
             "\"height\":1350,%s\"created_at\":%lld}",
             id, id, user, caption, id, id, extra, CREATED);

    return buf;
}


static int
in_feed(h_t *h, void *id)
{
    return h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", FAN2,
                       h_pad(*(long long *) id), h_pad(*(long long *) id))
           == 1;
}


static int
has_row(h_t *h, void *id)
{
    return h_sql_int(h, "select count(*) from photos where id = %lld",
                     *(long long *) id) == 1;
}


static char *
list(h_t *h, const char *key)
{
    size_t       i, n;
    static char  buf[4096];
    redisReply  *r;

    r = h_redis(h, "ZRANGE %s 0 -1", key);
    buf[0] = '\0';
    n = 0;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s",
                               i ? " " : "", r->element[i]->str);
    }

    freeReplyObject(r);

    return buf;
}


static void
forget_photos(h_t *h)
{
    char       key[64];
    long long  id;

    for (id = PHOTO1; id < BAD + 50; id++) {
        snprintf(key, sizeof(key), "photo:%lld", id);
        memcached_delete(h->mc, key, strlen(key), 0);
    }

    PQclear(h_sql(h, "delete from photo_deletions where id between %lld"
                     " and %lld", PHOTO1, BAD + 50));
}


static void
check_applied(h_t *h)
{
    char           *value, key[64], expect_list[128];
    size_t          len;
    uint32_t        flags;
    yajl_gen        g;
    PGresult       *res;
    long long       id = PHOTO1;
    photo_object_t  p;
    const unsigned char  *expect;
    size_t                expect_len;

    CHECK(h_wait(h, in_feed, &id, 15000),
          "a new photo reaches a follower's feed (persist, then fan-out)");

    res = h_sql(h, "select caption, media_path, image_url, width, height,"
                   " lat, lng, extract(epoch from created_at)::bigint"
                   " from photos where id = %lld and user_id = %lld",
                PHOTO1, POSTER);
    CHECK(PQntuples(res) == 1, "the photo's row is in Postgres");
    if (PQntuples(res) == 1) {
        CHECK(strcmp(PQgetvalue(res, 0, 0), CAPTION) == 0,
              "caption stored as sent (UTF-8, quotes, newline)");
        CHECK(strcmp(PQgetvalue(res, 0, 1), "u/7100000000000000100.jpg") == 0
              && strcmp(PQgetvalue(res, 0, 3), "1080") == 0
              && strcmp(PQgetvalue(res, 0, 4), "1350") == 0,
              "media path, width and height stored");
        CHECK(strcmp(PQgetvalue(res, 0, 5), "48.8566") == 0
              && strcmp(PQgetvalue(res, 0, 6), "2.3522") == 0,
              "location stored: %s, %s", PQgetvalue(res, 0, 5),
              PQgetvalue(res, 0, 6));
        CHECK(atoll(PQgetvalue(res, 0, 7)) == CREATED,
              "created_at stored");
    }
    PQclear(res);

    snprintf(key, sizeof(key), "photo:%lld", PHOTO1);
    value = h_mc_get(h, key, &len, &flags);
    CHECK(value != NULL, "the photo object is in memcached");

    if (value) {
        CHECK((flags & PHOTO_MC_KIND_MASK) == PHOTO_MC_FLAGS
              && flags == photo_object_flags((unsigned char *) value, len)
              && flags != PHOTO_MC_FLAGS,
              "with flags %d and its checksum (flags 0x%08x)", PHOTO_MC_FLAGS,
              (unsigned) flags);
        CHECK(photo_object_check((unsigned char *) value, len, PHOTO1, flags,
                                 NULL),
              "photo_object_check accepts it");

        memset(&p, 0, sizeof(p));
        p.id = PHOTO1;
        p.user_id = POSTER;
        p.username = "w7100000000000000001";
        p.username_len = strlen(p.username);
        p.caption = CAPTION;
        p.caption_len = strlen(CAPTION);
        p.image_url = "/media/u/7100000000000000100.jpg";
        p.image_url_len = strlen(p.image_url);
        p.width = 1080;
        p.height = 1350;
        p.has_location = 1;
        p.lat = 48.8566;
        p.lng = 2.3522;
        p.created_at = CREATED;

        g = yajl_gen_alloc(NULL);
        photo_object_gen(g, &p);
        yajl_gen_get_buf(g, &expect, &expect_len);
        CHECK(len == expect_len && memcmp(value, expect, len) == 0,
              "it is the object photo_object_gen makes: %.*s", (int) len,
              value);
        CHECK(memmem(value, len, "\"like_count\":0,\"comment_count\":0,",
                     sizeof("\"like_count\":0,\"comment_count\":0,") - 1)
              != NULL, "with like_count 0 and comment_count 0");
        yajl_gen_free(g);
    }

    free(value);

    snprintf(key, sizeof(key), "user_photos:{%lld}", POSTER);
    snprintf(expect_list, sizeof(expect_list), "%s %s", PHOTO_LIST_COMPLETE,
             h_pad(PHOTO1));
    CHECK(strcmp(list(h, key), expect_list) == 0,
          "the poster's complete list holds the marker and the id: %s",
          list(h, key));

    CHECK(h_redis_int(h, "ZCARD feed:{%lld}", FAN1) == 2
          && h_redis_int(h, "ZCARD feed:{%lld}", FAN2) == 2,
          "both followers' feeds hold the id, once (and the marker)");
    CHECK(h_redis_int(h, "EXISTS feed:{%lld}", POSTER) == 0,
          "the poster's own feed is not touched");
}


static void
check_replay(h_t *h)
{
    char       *before, *after, key[64], before_list[512];
    size_t      len1, len2;
    uint32_t    flags;

    snprintf(key, sizeof(key), "photo:%lld", PHOTO1);
    before = h_mc_get(h, key, &len1, &flags);
    snprintf(before_list, sizeof(before_list), "%s",
             list(h, "user_photos:{7100000000000000001}"));

    /* the same job again, then one with the same id and another caption */
    h_submit(h, PHOTO_JOB_PERSIST, "7100000000000000100",
             payload(PHOTO1, POSTER, CAPTION_JSON,
                     "\"lat\":48.8566,\"lng\":2.3522,"));
    h_submit(h, PHOTO_JOB_PERSIST, "7100000000000000100-other",
             payload(PHOTO1, POSTER, "other caption",
                     "\"lat\":48.8566,\"lng\":2.3522,"));

    CHECK(h_wait_drained(h, PHOTO_JOB_PERSIST, 10000)
          && h_wait_drained(h, PHOTO_JOB_FANOUT, 10000),
          "replays are taken");

    CHECK(h_sql_int(h, "select count(*) from photos where id = %lld",
                    PHOTO1) == 1
          && h_sql_int(h, "select count(*) from photos where id = %lld"
                          " and caption = 'other caption'", PHOTO1) == 0,
          "a replay inserts nothing and changes no column");

    after = h_mc_get(h, key, &len2, &flags);
    CHECK(before && after && len1 == len2 && memcmp(before, after, len1) == 0,
          "the cached object is the same, made from the stored row");
    free(before);
    free(after);

    CHECK(strcmp(list(h, "user_photos:{7100000000000000001}"), before_list)
          == 0, "the poster's list is the same");
    CHECK(h_redis_int(h, "ZCARD feed:{%lld}", FAN1) == 2
          && h_redis_int(h, "ZCARD feed:{%lld}", FAN2) == 2,
          "followers still hold the id once");
    CHECK(h_dead_letter(h, PHOTO_JOB_PERSIST, "7100000000000000100") == NULL,
          "no dead letter for a replay");
}


/* the counts the social worker keeps are what a replay caches */
static void
check_counts(h_t *h)
{
    char      *value, key[64];
    size_t     len;
    uint32_t   flags;

    PQclear(h_sql(h, "update photos set like_count = 3, comment_count = 2"
                     " where id = %lld", PHOTO1));

    h_submit(h, PHOTO_JOB_PERSIST, "7100000000000000100-counts",
             payload(PHOTO1, POSTER, CAPTION_JSON,
                     "\"lat\":48.8566,\"lng\":2.3522,"));
    CHECK(h_wait_drained(h, PHOTO_JOB_PERSIST, 10000), "a replay is taken");

    snprintf(key, sizeof(key), "photo:%lld", PHOTO1);
    value = h_mc_get(h, key, &len, &flags);
    CHECK(value != NULL
          && memmem(value, len, "\"like_count\":3,\"comment_count\":2,",
                    sizeof("\"like_count\":3,\"comment_count\":2,") - 1)
             != NULL
          && flags == photo_object_flags((unsigned char *) value, len),
          "a replay after likes and comments caches their counts: %.*s",
          value ? (int) len : 0, value ? value : "");
    free(value);

    PQclear(h_sql(h, "update photos set like_count = 0, comment_count = 0"
                     " where id = %lld", PHOTO1));
}


static void
check_incomplete_list(h_t *h)
{
    long long  id = PHOTO2;

    /* FAN1's own list was never built: no marker */
    h_submit(h, PHOTO_JOB_PERSIST, "7100000000000000101",
             payload(PHOTO2, FAN1, "no location", ""));
    CHECK(h_wait(h, has_row, &id, 10000) && h_wait_drained(h, PHOTO_JOB_PERSIST,
                                                         10000),
          "a photo without location is stored");
    CHECK(h_sql_int(h, "select count(*) from photos where id = %lld and lat"
                       " is null and lng is null", PHOTO2) == 1,
          "lat and lng are null");
    CHECK(h_redis_int(h, "EXISTS user_photos:{7100000000000000002}") == 0
          && strcmp(list(h, "user_photos:{7100000000000000002}"
                            PHOTO_LIST_PENDING), h_pad(PHOTO2)) == 0,
          "a list that was not complete is not made: the id waits in its "
          "pending set (the reader's rebuild takes it in)");
}


typedef struct {
    const char  *payload;
    const char  *reason;
} bad_t;


static void
check_dead_letters(h_t *h)
{
    int           i;
    char          needle[64], key[64];
    char         *letter, caption[2202];
    const bad_t  *b;

    static const bad_t  bad[] = {
        { "this is not json bad-0", "payload is not JSON" },
        { "[\"bad-1\"]", "payload is not a JSON object" },
        { "{\"unique\":\"bad-2\",\"user_id\":\"7100000000000000001\"}",
          "field \\\"id\\\" is missing" },
        { "{\"unique\":\"bad-3\",\"id\":\"12a\"}",
          "field \\\"id\\\" must be an id" },
        { "{\"unique\":\"bad-4\",\"id\":\"7100000000000000204\","
          "\"user_id\":7100000000000000001}",
          "field \\\"user_id\\\" must be an id" },
        { "{\"unique\":\"bad-5\",\"id\":\"7100000000000000205\","
          "\"user_id\":\"7100000000000000001\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":\"10\","
          "\"height\":10,\"created_at\":1}",
          "field \\\"width\\\" must be an integer from 1 to 100000" },
        { "{\"unique\":\"bad-6\",\"id\":\"7100000000000000206\","
          "\"user_id\":\"7100000000000000001\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":0,\"created_at\":1}",
          "field \\\"height\\\" must be an integer from 1" },
        { "{\"unique\":\"bad-7\",\"id\":\"7100000000000000207\","
          "\"user_id\":\"7100000000000000001\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":10,\"lat\":1.5,\"created_at\":1}",
          "fields \\\"lat\\\" and \\\"lng\\\" come together" },
        { "{\"unique\":\"bad-8\",\"id\":\"7100000000000000208\","
          "\"user_id\":\"7100000000000000001\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":10,\"lat\":91,\"lng\":0,\"created_at\":1}",
          "field \\\"lat\\\" must be a number from -90 to 90" },
        { "{\"unique\":\"bad-9\",\"id\":\"7100000000000000209\","
          "\"user_id\":\"7100000000000000001\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":10}",
          "field \\\"created_at\\\" is missing" },
        { "{\"unique\":\"bad-10\",\"id\":\"7100000000000000210\","
          "\"user_id\":\"7100000000000000009999\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":10,\"created_at\":1}",
          "field \\\"user_id\\\" must be an id" },
        { "{\"unique\":\"bad-11\",\"id\":\"7100000000000000211\","
          "\"user_id\":\"7100000000000000999\",\"caption\":\"\","
          "\"media_path\":\"m\",\"image_url\":\"i\",\"width\":10,"
          "\"height\":10,\"created_at\":1}",
          "unknown user 7100000000000000999" },
        { "{\"unique\":\"bad-12\",\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
          "nested deeper than" },
        { NULL, "postgres refused the data: new row for relation "
                "\\\"photos\\\" violates check constraint" },
        { NULL, NULL }
    };

    memset(caption, 'x', 2201);
    caption[2201] = '\0';

    for (b = bad; b->reason; b++) {
        i = (int) (b - bad);

        if (b->payload) {
            snprintf(needle, sizeof(needle), "bad-%d", i);
            h_submit(h, PHOTO_JOB_PERSIST, needle, b->payload);

        } else {
            /* a caption of 2201 characters: only Postgres counts them */
            h_submit(h, PHOTO_JOB_PERSIST, "bad-caption",
                     payload(BAD + i, POSTER, caption, ""));
        }
    }

    CHECK(h_wait_drained(h, PHOTO_JOB_PERSIST, 10000),
          "bad jobs are taken, none is left in the queue");

    for (b = bad; b->reason; b++) {
        i = (int) (b - bad);

        if (b->payload) {
            /* a payload that is not JSON is a string in the letter */
            snprintf(needle, sizeof(needle), i == 0 || i == 12
                     ? "bad-%d" : "\"bad-%d\"", i);
        } else {
            snprintf(needle, sizeof(needle), "\"%lld\"", BAD + i);
        }

        letter = h_dead_letter(h, PHOTO_JOB_PERSIST, needle);
        CHECK(letter != NULL && strstr(letter, b->reason) != NULL,
              "bad payload %d: dead letter with reason [%s]: %.200s", i,
              b->reason, letter ? letter : "(none)");
        free(letter);
    }

    CHECK(h_sql_int(h, "select count(*) from photos where id between %lld"
                       " and %lld", BAD, BAD + 49) == 0,
          "no bad job wrote a row");

    snprintf(key, sizeof(key), "photo:%lld", BAD + 13);
    letter = h_mc_get(h, key, NULL, NULL);
    CHECK(letter == NULL, "nor a cached object");
    free(letter);

    CHECK(h_redis_int(h, "ZCARD user_photos:{%lld}", POSTER) == 2,
          "nor an id in the poster's list");
}


/* a worker that cannot reach one backend: the job waits, SIGTERM gives it
 * back to gearmand, and a healthy worker applies it */
static void
check_backend_away(h_t *h, const char *what, const char *setting)
{
    int        status;
    pid_t      stuck, good;
    long long  id = PHOTO3;

    stuck = h_worker(h, "photo_persist", setting, NULL);

    h_submit(h, PHOTO_JOB_PERSIST, what, payload(PHOTO3, POSTER, "away", ""));

    h_wait(h, has_row, &id, 3000);
    h_sleep_ms(700);

    CHECK(h_worker_alive(stuck) && h_queued(h, PHOTO_JOB_PERSIST) == 1,
          "%s away: the job waits in the worker, still queued in gearmand",
          what);
    CHECK(h_redis_int(h, "ZLEXCOUNT user_photos:{%lld} [%s [%s", POSTER,
                      h_pad(PHOTO3), h_pad(PHOTO3)) == 0
          && h_dead_letter(h, PHOTO_JOB_PERSIST, "\"away\"") == NULL,
          "%s away: not applied, not dead-lettered", what);
    CHECK(h_log_has(h, stuck, "photo_persist", "again in"),
          "%s away: the worker logs that it retries", what);

    status = h_worker_stop(h, stuck, SIGTERM, 3000);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "%s away: SIGTERM ends the worker within 3 s, exit 0", what);
    CHECK(h_log_has(h, stuck, "photo_persist", "goes back to gearmand")
          && h_queued(h, PHOTO_JOB_PERSIST) == 1,
          "%s away: the job went back to gearmand", what);

    good = h_worker(h, "photo_persist", NULL);
    CHECK(h_wait_drained(h, PHOTO_JOB_PERSIST, 10000)
          && h_redis_int(h, "ZLEXCOUNT user_photos:{%lld} [%s [%s", POSTER,
                         h_pad(PHOTO3), h_pad(PHOTO3)) == 1,
          "%s back: another worker applies the job", what);
    h_worker_stop(h, good, SIGTERM, 3000);

    freeReplyObject(h_redis(h, "ZREM user_photos:{%lld} %s", POSTER,
                            h_pad(PHOTO3)));
    PQclear(h_sql(h, "delete from photos where id = %lld", PHOTO3));
}


/* the jobs of posts lo..lo+n-1 are applied: rows and list entries */
static int
posts_applied(h_t *h, void *arg)
{
    long long  *range = arg;

    return h_sql_int(h, "select count(*) from photos where id between %lld"
                     " and %lld", range[0], range[0] + range[1] - 1)
               == range[1]
           && h_redis_int(h, "ZLEXCOUNT user_photos:{%lld} [%s [%s", POSTER,
                          h_pad(range[0]), h_pad(range[0] + range[1] - 1))
              == range[1];
}


/*
 * memcached down (refused) or not answering (a listener that never reads):
 * new photos are stored without their cached object, each costing the job
 * a few ms at most (once the server failed, libmemcached skips it), where
 * a job used to wait seconds per write.
 */
static void
check_memcached_away(h_t *h, const char *what, const char *setting)
{
    int        i, n = 20;
    char       key[64], *obj;
    pid_t      w;
    double     t;
    long long  range[2] = { PHOTO3 + 100, 20 };

    w = h_worker(h, "photo_persist", setting, NULL);

    t = h_now();

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "mc-away-%lld", range[0] + i);
        h_submit(h, PHOTO_JOB_PERSIST, key,
                 payload(range[0] + i, POSTER, "mc away", ""));
    }

    CHECK(h_wait(h, posts_applied, range, 10000),
          "memcached %s: all %d posts are stored", what, n);
    t = h_now() - t;
    CHECK(t < 1.0, "memcached %s: %d posts in %.0f ms, not seconds each",
          what, n, t * 1000);

    snprintf(key, sizeof(key), "photo:%lld", range[0]);
    obj = h_mc_get(h, key, NULL, NULL);
    CHECK(obj == NULL && h_dead_letter(h, PHOTO_JOB_PERSIST, "mc away")
                         == NULL,
          "memcached %s: not cached, not dead-lettered", what);
    free(obj);
    CHECK(h_log_has(h, w, "photo_persist", "not cached"),
          "memcached %s: the worker says it did not cache", what);

    h_worker_stop(h, w, SIGTERM, 3000);

    for (i = 0; i < n; i++) {
        freeReplyObject(h_redis(h, "ZREM user_photos:{%lld} %s", POSTER,
                                h_pad(range[0] + i)));
    }

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  range[0], range[0] + n - 1));
}


static int
in_both_feeds(h_t *h, void *arg)
{
    long long  *range = arg;

    return h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", FAN1,
                       h_pad(range[0]), h_pad(range[0] + range[1] - 1))
               == range[1]
           && h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", FAN2,
                          h_pad(range[0]), h_pad(range[0] + range[1] - 1))
              == range[1];
}


/*
 * Posts that arrive together are stored together (group commit): 60 jobs
 * queued at once take far fewer groups than jobs, each post still lands
 * once everywhere; the poster's two followers are fanned out to by the
 * persist worker itself (no photo_fanout job), unless it has more than
 * PHOTO_FANOUT_INLINE of them.
 */
static void
check_groups(h_t *h)
{
    int        i, groups;
    char       unique[64];
    pid_t      w;
    long long  range[2] = { PHOTO3 + 300, 60 };

    /* queued before the worker starts: it finds them all waiting */
    for (i = 0; i < range[1]; i++) {
        snprintf(unique, sizeof(unique), "group-%lld", range[0] + i);
        h_submit(h, PHOTO_JOB_PERSIST, unique,
                 payload(range[0] + i, POSTER, "group", ""));
    }

    w = h_worker(h, "photo_persist", NULL);

    CHECK(h_wait(h, posts_applied, range, 15000),
          "60 posts queued together are all stored");
    CHECK(h_wait(h, in_both_feeds, range, 5000),
          "and reach both followers' feeds");

    groups = h_log_count(h, w, "photo_persist", "photos stored together");
    CHECK(groups >= 2 && groups <= 30, "in %d groups, not one by one",
          groups);
    CHECK(h_queued(h, PHOTO_JOB_FANOUT) == 0
          && h_sql_int(h, "select count(*) from photos where id between"
                       " %lld and %lld", range[0], range[0] + range[1] - 1)
             == range[1],
          "fanned out by the persist worker itself (2 followers): no "
          "photo_fanout job; one row each");

    h_worker_stop(h, w, SIGTERM, 3000);

    /* more followers than the persist worker fans out: a fan-out job */
    w = h_worker(h, "photo_persist", "PHOTO_FANOUT_INLINE=1", NULL);
    range[0] += range[1];
    range[1] = 1;
    h_submit(h, PHOTO_JOB_PERSIST, "group-big",
             payload(range[0], POSTER, "big poster", ""));

    CHECK(h_wait(h, in_both_feeds, range, 10000)
          && h_log_count(h, w, "photo_persist", "photos stored together") == 1,
          "a poster with more followers than PHOTO_FANOUT_INLINE: the "
          "photo_fanout job reaches them");

    h_worker_stop(h, w, SIGTERM, 3000);

    for (i = 0; i < 61; i++) {
        freeReplyObject(h_redis(h, "ZREM user_photos:{%lld} %s", POSTER,
                                h_pad(PHOTO3 + 300 + i)));
    }

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  PHOTO3 + 300, PHOTO3 + 360));
}


/* a port that takes connections and never answers: the kernel's backlog */
static int
silent_listener(int *port)
{
    int                 fd;
    socklen_t           len;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 64) != 0)
    {
        return -1;
    }

    len = sizeof(sin);
    getsockname(fd, (struct sockaddr *) &sin, &len);
    *port = ntohs(sin.sin_port);

    return fd;
}


static int
run(const char *args, char *out, size_t size)
{
    int     status;
    char    cmd[512];
    FILE   *f;
    size_t  n;

    snprintf(cmd, sizeof(cmd), "%s/photo_persist %s 2>&1", PHOTO_WORKERS_BIN,
             args);
    f = popen(cmd, "r");
    n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    status = pclose(f);

    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}


static void
check_options(h_t *h)
{
    int    status;
    char   out[4096];
    pid_t  w;
    double t;

    CHECK(run("--help", out, sizeof(out)) == 0
          && strstr(out, "Usage: photo_persist") != NULL
          && strstr(out, "--config FILE") != NULL
          && strstr(out, "Gearman functions: photo_persist") != NULL,
          "--help: usage on stdout, exit 0");
    CHECK(run("--bogus", out, sizeof(out)) == 2
          && strstr(out, "Usage:") != NULL,
          "an unknown option: usage, exit 2");
    CHECK(run("--log-level loud", out, sizeof(out)) == 2
          && strstr(out, "loud") != NULL,
          "a bad log level is named, exit 2");
    CHECK(run("--config /nonexistent/photo.conf", out, sizeof(out)) == 1
          && strstr(out, "/nonexistent/photo.conf") != NULL,
          "a missing config file is named, exit 1: %s", out);

    w = h_worker(h, "photo_persist", NULL);
    t = h_now();
    status = h_worker_stop(h, w, SIGTERM, 3000);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0
          && h_log_has(h, w, "photo_persist", "stopping"),
          "SIGTERM when idle: exit 0 in %.0f ms", (h_now() - t) * 1000);
}


static int
no_row(h_t *h, void *id)
{
    return !has_row(h, id) && !in_feed(h, id)
           && h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", FAN1,
                          h_pad(*(long long *) id), h_pad(*(long long *) id))
              == 0;
}


static int
has_letter(h_t *h, void *arg)
{
    return h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_DELETE) > 0;
}


static int
purged(h_t *h, void *pid)
{
    return h_log_has(h, *(pid_t *) pid, "photo_social",
                     "photo 7100000000000000100: likes, comments");
}


static void
check_delete(h_t *h, pid_t social)
{
    char       *letter, *value, key[64], expect[64], job[256];
    size_t      len;
    uint32_t    flags;
    long long   id = PHOTO1;

    /* nginx refuses it (403); a job forged anyway changes nothing */
    snprintf(job, sizeof(job), "{\"unique\":\"forged\",\"id\":\"%lld\","
             "\"user_id\":\"%lld\"}", PHOTO1, FAN1);
    h_submit(h, PHOTO_JOB_DELETE, "forged", job);
    CHECK(h_wait(h, has_letter, NULL, 5000),
          "a delete of someone else's photo is dead-lettered");
    letter = h_dead_letter(h, PHOTO_JOB_DELETE, "forged");
    CHECK(letter && strstr(letter, "is not a photo of user"), "reason: %s",
          letter ? letter : "-");
    free(letter);
    CHECK(has_row(h, &id) && in_feed(h, &id), "and the photo stays");

    snprintf(job, sizeof(job), "{\"unique\":\"%lld\",\"id\":\"%lld\","
             "\"user_id\":\"%lld\"}", PHOTO1, PHOTO1, POSTER);
    h_submit(h, PHOTO_JOB_DELETE, "7100000000000000100", job);

    CHECK(h_wait(h, no_row, &id, 10000),
          "deleted by its poster: the row goes, and the id leaves both "
          "followers' feeds");
    CHECK(h_sql_int(h, "select count(*) from photo_deletions where id = %lld"
                       " and user_id = %lld", PHOTO1, POSTER) == 1,
          "photo_deletions keeps the id");

    snprintf(key, sizeof(key), "photo:%lld", PHOTO1);
    value = h_mc_get(h, key, &len, &flags);
    CHECK(value != NULL && flags == PHOTO_MC_DELETED,
          "the cached object is replaced by a tombstone (flags %u, %zu "
          "bytes)", value ? flags : 0, value ? len : 0);
    free(value);

    snprintf(key, sizeof(key), "user_photos:{%lld}", POSTER);
    snprintf(expect, sizeof(expect), "%s", PHOTO_LIST_COMPLETE);
    CHECK(strcmp(list(h, key), expect) == 0,
          "the poster's list holds only its marker: %s", list(h, key));
    CHECK(h_wait(h, purged, &social, 10000),
          "its likes, comments and activity are purged (photo_social_purge)");

    /* the persist job again (gearmand gave it to a worker that died) */
    h_submit(h, PHOTO_JOB_PERSIST, "persist-again",
             payload(PHOTO1, POSTER, CAPTION_JSON,
                     "\"lat\":48.8566,\"lng\":2.3522,"));
    /* and the delete again */
    h_submit(h, PHOTO_JOB_DELETE, "delete-again", job);

    CHECK(h_wait_drained(h, PHOTO_JOB_PERSIST, 5000)
          && h_wait_drained(h, PHOTO_JOB_DELETE, 5000)
          && h_wait_drained(h, PHOTO_JOB_FANOUT, 5000),
          "both replays are taken");
    h_sleep_ms(200);
    snprintf(key, sizeof(key), "photo:%lld", PHOTO1);
    value = h_mc_get(h, key, &len, &flags);
    CHECK(!has_row(h, &id) && value != NULL && flags == PHOTO_MC_DELETED
          && strcmp(list(h, "user_photos:{7100000000000000001}"),
                    PHOTO_LIST_COMPLETE) == 0
          && no_row(h, &id),
          "a replayed persist does not bring the deleted photo back");
    free(value);
    CHECK(h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_DELETE) == 0,
          "a replayed delete is no dead letter");
}


static int
is_file(h_t *h, void *path)
{
    struct stat  st;

    return stat(path, &st) == 0;
}


static int
no_file(h_t *h, void *path)
{
    return !is_file(h, path);
}


static void
media_file(const char *root, const char *name, char *path, size_t size)
{
    FILE  *f;

    snprintf(path, size, "%s/%s", root, name);
    *strrchr(path, '/') = '\0';
    mkdir(path, 0755);

    snprintf(path, size, "%s/%s", root, name);
    f = fopen(path, "w");
    if (f == NULL || fputs("not really a png", f) < 0 || fclose(f) != 0) {
        printf("# cannot write %s\n", path);
        exit(2);
    }
}


static void
delete_photo(h_t *h, long long id)
{
    char  job[256], unique[32];

    snprintf(unique, sizeof(unique), "%lld", id);
    snprintf(job, sizeof(job), "{\"unique\":\"%lld\",\"id\":\"%lld\","
             "\"user_id\":\"%lld\"}", id, id, POSTER);
    h_submit(h, PHOTO_JOB_DELETE, unique, job);
}


/* an upload posted twice: its file stays until the last of the two goes */

static void
check_delete_media(h_t *h, const char *root)
{
    char       shared[512], lone[512];
    long long  id;

    media_file(root, "sh/shared.png", shared, sizeof(shared));
    media_file(root, "lo/lone.png", lone, sizeof(lone));

    PQclear(h_sql(h, "insert into photos (id, user_id, media_path, image_url,"
                     " width, height) values"
                     " (%lld, %lld, 'sh/shared.png', '/media/sh/shared.png',"
                     " 1, 1), (%lld, %lld, 'sh/shared.png',"
                     " '/media/sh/shared.png', 1, 1), (%lld, %lld,"
                     " 'lo/lone.png', '/media/lo/lone.png', 1, 1)",
                  SHARED1, POSTER, SHARED2, POSTER, LONE, POSTER));

    id = SHARED1;
    delete_photo(h, SHARED1);
    CHECK(h_wait(h, no_row, &id, 10000)
          && h_wait_drained(h, PHOTO_JOB_DELETE, 5000),
          "the first photo of an upload posted twice is deleted");
    CHECK(is_file(h, shared), "its file stays: the other photo uses it");

    delete_photo(h, SHARED2);
    CHECK(h_wait(h, no_file, shared, 10000),
          "deleting the other one removes the file");
    CHECK(h_sql_int(h, "select count(*) from photo_deletions where id = %lld"
                       " and media_path = 'sh/shared.png'", SHARED2) == 1,
          "photo_deletions keeps the path, for a replay");

    /* a replay finds the file gone: no error */
    delete_photo(h, SHARED2);
    CHECK(h_wait_drained(h, PHOTO_JOB_DELETE, 5000)
          && h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_DELETE) == 0,
          "a replayed delete of it is no dead letter");
}


/* a worker that does not see the files (another machine) goes on */

static void
check_media_away(h_t *h, const char *root)
{
    char       lone[512];
    pid_t      pid;
    long long  id = LONE;

    snprintf(lone, sizeof(lone), "%s/lo/lone.png", root);

    pid = h_worker(h, "photo_persist", "PHOTO_MEDIA_ROOT=/nonexistent/media",
                   NULL);
    delete_photo(h, LONE);

    CHECK(h_wait(h, no_row, &id, 10000)
          && h_wait_drained(h, PHOTO_JOB_DELETE, 5000)
          && h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_DELETE) == 0,
          "a worker that cannot reach the files deletes the photo all the "
          "same");
    CHECK(h_log_has(h, pid, "photo_persist", "[warn]")
          && h_log_has(h, pid, "photo_persist", "lo/lone.png"),
          "and warns that it left the file");
    CHECK(is_file(h, lone), "which is still there");

    h_worker_stop(h, pid, SIGTERM, 3000);
}


int
main(void)
{
    int    silent, port = 0;
    char   setting[64], away[64];
    h_t    h;
    char   media[512], root[300];
    pid_t  persist, social;

    h_init(&h, "persist");
    h_forget(&h, BASE, USERS);
    forget_photos(&h);
    h_users(&h, POSTER, USERS - 1);

    PQclear(h_sql(&h, "insert into follows (follower, followee) values"
                      " (%lld, %lld), (%lld, %lld)", FAN1, POSTER, FAN2,
                  POSTER));
    freeReplyObject(h_redis(&h, "ZADD user_photos:{%lld} 0 %s", POSTER,
                            PHOTO_LIST_COMPLETE));
    /* the followers read their feeds lately: they are complete in Redis */
    h_feeds_complete(&h, FAN1, 1);
    h_feeds_complete(&h, FAN2, 1);

    snprintf(root, sizeof(root), "%s/media", h.dir);
    snprintf(media, sizeof(media), "PHOTO_MEDIA_ROOT=%s", root);
    mkdir(root, 0755);

    persist = h_worker(&h, "photo_persist", media, NULL);
    h_worker(&h, "photo_fanout", NULL);
    social = h_worker(&h, "photo_social", NULL);

    h_submit(&h, PHOTO_JOB_PERSIST, "7100000000000000100",
             payload(PHOTO1, POSTER, CAPTION_JSON,
                     "\"lat\":48.8566,\"lng\":2.3522,"));

    check_applied(&h);
    check_replay(&h);
    check_counts(&h);
    check_incomplete_list(&h);
    check_dead_letters(&h);
    freeReplyObject(h_redis(&h, "DEL dead_letter:%s", PHOTO_JOB_DELETE));
    check_delete(&h, social);
    check_delete_media(&h, root);

    /* the healthy worker steps aside for the stuck ones */
    h_worker_stop(&h, persist, SIGTERM, 3000);

    check_groups(&h);
    check_media_away(&h, root);

    h_redis_away(&h, away, sizeof(away));
    check_backend_away(&h, "redis", away);
    check_memcached_away(&h, "down", "PHOTO_MEMCACHED_PORTS=1");

    silent = silent_listener(&port);
    snprintf(setting, sizeof(setting), "PHOTO_MEMCACHED_PORTS=%d", port);
    check_memcached_away(&h, "not answering", setting);
    close(silent);

    check_options(&h);

    h_forget(&h, BASE, USERS);
    forget_photos(&h);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
