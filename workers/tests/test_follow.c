/*
 * photo_follow and photo_device against the real stack: a follow adds the
 * row and merges the followee's recent photos into the follower's feed,
 * and tells the followee's activity once per follower; a replay changes
 * nothing, an unfollow takes the row and the photos back out; following
 * oneself or an unknown user, or a job whose unique is no request id, is a
 * dead letter.  A device token is
 * recorded, moves to the user who signed in last, and bad ones are dead
 * letters.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_activity.h"
#include "photo_contract.h"

#include <stdlib.h>
#include <string.h>


#define BASE     7300000000000000000LL
#define USERS    10
#define ANN      (BASE + 1)
#define BEN      (BASE + 2)
#define CAT      (BASE + 3)
#define NOBODY   (BASE + 9)                 /* never made */
#define PHOTOS   (BASE + 100)
#define REQ(n)   (BASE + 500 + (n))         /* request ids, as nginx's */


/* a request id as a job's unique */
static const char *
req(int n)
{
    static char  buf[4][24];
    static int   i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%lld", REQ(n));

    return buf[i];
}


/* activity:{BEN} holds the marker and ANN's follow entry (request n) */
static int
told_once(h_t *h, int n)
{
    int                   ok;
    char                  name[32], want[512], got[1024];
    size_t                len, i, k;
    yajl_gen              g;
    redisReply           *r;
    photo_activity_t      a;
    const unsigned char  *entry;

    snprintf(name, sizeof(name), "w%lld", ANN);
    memset(&a, 0, sizeof(a));
    a.id = REQ(n);
    a.type = "follow";
    a.actor_id = ANN;
    a.actor_name = name;
    a.actor_name_len = strlen(name);
    a.created_at = photo_activity_time(REQ(n));

    g = yajl_gen_alloc(NULL);
    photo_activity_gen(g, &a);
    yajl_gen_get_buf(g, &entry, &len);
    snprintf(want, sizeof(want), "%s %s:%.*s", PHOTO_LIST_COMPLETE,
             h_pad(REQ(n)), (int) len, entry);
    yajl_gen_free(g);

    r = h_redis(h, "ZRANGE activity:{%lld} 0 -1", BEN);
    got[0] = '\0';
    k = 0;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        k += (size_t) snprintf(got + k, sizeof(got) - k, "%s%s",
                               i ? " " : "", r->element[i]->str);
    }

    freeReplyObject(r);

    ok = strcmp(got, want) == 0
         && h_sql_int(h, "select count(*) from activities where owner_id ="
                         " %lld", BEN) == 1;
    if (!ok) {
        printf("# activity:{%lld} is [%s], expected [%s]\n", BEN, got, want);
    }

    return ok;
}


/* feed:{user}, or its pending set (suffix), holds expect, in order */
static int
list_is(h_t *h, long long user, const char *suffix, const char *expect)
{
    int          ok;
    char         got[1024];
    size_t       i, n;
    redisReply  *r;

    r = h_redis(h, "ZRANGE feed:{%lld}%s 0 -1", user, suffix);
    got[0] = '\0';
    n = 0;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        n += (size_t) snprintf(got + n, sizeof(got) - n, "%s%s",
                               i ? " " : "", r->element[i]->str);
    }

    ok = strcmp(got, expect) == 0;
    if (!ok) {
        printf("# feed:{%lld}%s is [%s], expected [%s]\n", user, suffix, got,
               expect);
    }

    freeReplyObject(r);

    return ok;
}


static int
feed_is(h_t *h, long long user, const char *expect)
{
    return list_is(h, user, "", expect);
}


static void
check_follow(h_t *h)
{
    char  expect[512], payload[64];

    /* Ben has 3 photos; Ann's feed is complete and empty */
    PQclear(h_sql(h, "insert into photos (id, user_id, media_path,"
                     " image_url, width, height) select g, %lld, 'm', 'i',"
                     " 1, 1 from generate_series(%lld::bigint, %lld) g",
                  BEN, PHOTOS + 1, PHOTOS + 3));
    freeReplyObject(h_redis(h, "ZADD feed:{%lld} 0 %s", ANN,
                            PHOTO_LIST_COMPLETE));

    h_follow(h, req(1), ANN, BEN, "follow");
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000), "follow taken");

    CHECK(h_sql_int(h, "select count(*) from follows where follower = %lld"
                       " and followee = %lld", ANN, BEN) == 1,
          "the follow is in Postgres");

    snprintf(expect, sizeof(expect), "%s %s %s %s", PHOTO_LIST_COMPLETE,
             h_pad(PHOTOS + 1), h_pad(PHOTOS + 2), h_pad(PHOTOS + 3));
    CHECK(feed_is(h, ANN, expect),
          "the followee's photos are merged into the follower's feed");
    CHECK(told_once(h, 1),
          "the followee's activity holds a follow entry, its id the "
          "request's");

    h_follow(h, req(1), ANN, BEN, "follow");
    h_follow(h, req(11), ANN, BEN, "follow");
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000)
          && h_sql_int(h, "select count(*) from follows where follower ="
                          " %lld", ANN) == 1
          && feed_is(h, ANN, expect) && told_once(h, 1),
          "a replayed follow changes nothing, nor does a second one");

    h_follow(h, req(2), ANN, BEN, "unfollow");
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000)
          && h_sql_int(h, "select count(*) from follows where follower ="
                          " %lld", ANN) == 0,
          "an unfollow deletes the row");
    CHECK(feed_is(h, ANN, PHOTO_LIST_COMPLETE),
          "and takes the followee's photos out of the feed, marker kept");
    CHECK(told_once(h, 1), "the follow entry stays");

    h_follow(h, req(12), ANN, BEN, "follow");
    h_follow(h, req(13), ANN, BEN, "unfollow");
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000) && told_once(h, 1)
          && feed_is(h, ANN, PHOTO_LIST_COMPLETE),
          "a follow after an unfollow adds no second entry");

    h_follow(h, req(3), ANN, ANN, "follow");
    h_follow(h, req(4), ANN, NOBODY, "follow");
    h_follow(h, req(5), NOBODY, CAT, "unfollow");
    h_follow(h, req(6), ANN, CAT, "befriend");
    snprintf(payload, sizeof(payload), "{\"unique\":\"%s\"}", req(7));
    h_submit(h, PHOTO_JOB_FOLLOW, req(7), payload);
    h_follow(h, "f-8", ANN, CAT, "follow");
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000), "bad follows taken");

    {
        static const struct { int n; const char *reason; } bad[] = {
            { 3, "cannot follow themselves" },
            { 4, "unknown user" },
            { 5, "unknown user" },
            { 6, "field \\\"action\\\" must be one of \\\"follow\\\", "
                 "\\\"unfollow\\\"" },
            { 7, "field \\\"follower\\\" is missing" },
            { 0, NULL }
        };
        int    i;
        char  *letter, needle[32];

        for (i = 0; bad[i].n; i++) {
            snprintf(needle, sizeof(needle), "\"%s\"", req(bad[i].n));
            letter = h_dead_letter(h, PHOTO_JOB_FOLLOW, needle);
            CHECK(letter && strstr(letter, bad[i].reason),
                  "dead letter %s: %s", needle, letter ? letter : "(none)");
            free(letter);
        }

        letter = h_dead_letter(h, PHOTO_JOB_FOLLOW, "\"f-8\"");
        CHECK(letter && strstr(letter, "field \\\"unique\\\" must be an id"),
              "dead letter \"f-8\": %s", letter ? letter : "(none)");
        free(letter);
    }

    CHECK(h_sql_int(h, "select count(*) from follows where follower"
                       " between %lld and %lld or followee between %lld"
                       " and %lld", BASE, BASE + USERS, BASE, BASE + USERS)
          == 0, "no bad follow wrote a row");
    CHECK(feed_is(h, ANN, PHOTO_LIST_COMPLETE), "nor touched a feed");

    /* a follower whose feed is not in Redis: no partial feed is made, the
       ids wait in its pending set for the reader's rebuild */
    h_follow(h, req(20), CAT, BEN, "follow");
    snprintf(expect, sizeof(expect), "%s %s %s", h_pad(PHOTOS + 1),
             h_pad(PHOTOS + 2), h_pad(PHOTOS + 3));
    CHECK(h_wait_drained(h, PHOTO_JOB_FOLLOW, 10000)
          && h_redis_int(h, "EXISTS feed:{%lld}", CAT) == 0
          && list_is(h, CAT, PHOTO_LIST_PENDING, expect),
          "a follower's feed not in Redis is not made: the photos wait in "
          "its pending set");
}


static void
device(h_t *h, const char *unique, long long user, const char *platform,
    const char *token)
{
    char  payload[512];

    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"user_id\":\"%lld\",\"platform\":\"%s\","
             "\"token\":\"%s\"}", unique, user, platform, token);
    h_submit(h, PHOTO_JOB_DEVICE, unique, payload);
}


static void
check_device(h_t *h)
{
    int    i;
    char  *letter;

    static const char  *token = "tok-7300000000000000000-a";

    device(h, "d-1", ANN, "ios", token);
    CHECK(h_wait_drained(h, PHOTO_JOB_DEVICE, 10000)
          && h_sql_int(h, "select user_id from device_tokens where"
                          " platform = 'ios' and token = '%s'", token) == ANN,
          "a device token is recorded for its user");

    device(h, "d-2", BEN, "ios", token);
    CHECK(h_wait_drained(h, PHOTO_JOB_DEVICE, 10000)
          && h_sql_int(h, "select count(*) from device_tokens where"
                          " token = '%s'", token) == 1
          && h_sql_int(h, "select user_id from device_tokens where"
                          " platform = 'ios' and token = '%s'", token) == BEN,
          "the same token signed in by another user moves to them");

    device(h, "d-3", BEN, "android", token);
    CHECK(h_wait_drained(h, PHOTO_JOB_DEVICE, 10000)
          && h_sql_int(h, "select count(*) from device_tokens where"
                          " token = '%s'", token) == 2,
          "the same token on the other platform is another device");

    device(h, "d-4", BEN, "windows", "t");
    device(h, "d-5", NOBODY, "ios", "tok-nobody");
    device(h, "d-6", BEN, "ios", "");
    CHECK(h_wait_drained(h, PHOTO_JOB_DEVICE, 10000), "bad tokens taken");

    {
        static const struct { const char *needle, *reason; } bad[] = {
            { "\"d-4\"", "field \\\"platform\\\" must be one of" },
            { "\"d-5\"", "postgres refused the data" },
            { "\"d-6\"", "field \\\"token\\\" must be 1 to 4096 bytes" },
            { NULL, NULL }
        };

        for (i = 0; bad[i].needle; i++) {
            letter = h_dead_letter(h, PHOTO_JOB_DEVICE, bad[i].needle);
            CHECK(letter && strstr(letter, bad[i].reason),
                  "dead letter %s: %s", bad[i].needle,
                  letter ? letter : "(none)");
            free(letter);
        }
    }

    CHECK(h_sql_int(h, "select count(*) from device_tokens where token ="
                       " 'tok-nobody'") == 0, "no bad token was recorded");

    PQclear(h_sql(h, "delete from device_tokens where token = '%s'", token));
}


int
main(void)
{
    h_t  h;

    h_init(&h, "follow");
    h_forget(&h, BASE, USERS);
    h_users(&h, ANN, 3);

    h_worker(&h, "photo_follow", NULL);
    h_worker(&h, "photo_device", NULL);

    check_follow(&h);
    check_device(&h);

    h_forget(&h, BASE, USERS);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
