/*
 * photo_social against the real stack: a like counts once however often
 * it comes, an unlike takes it back, an older job replayed late changes
 * nothing, a like of a photo that is gone does nothing; a comment is one
 * comment, a deleted one never comes back; the owner's activity entries
 * come and go with them (never for one's own photo), likes:{uid} and
 * activity:{uid} are rebuilt from Postgres when their marker is missing;
 * the cached object's counts follow (a tombstone is left alone); a purge
 * takes a deleted photo's all; a worker killed in the middle of a job
 * (before its COMMIT, and after it) leaves a replay that applies it once;
 * a like notifies its photo's owner once, like, unlike and like again too.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_activity.h"
#include "photo_contract.h"
#include "photo_object.h"
#include "photo_object_store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define BASE     7700000000000000000LL
#define SPAN     10000                      /* every id of the test */
#define USERS    10
#define ANN      (BASE + 1)                 /* posts the photos */
#define BEN      (BASE + 2)
#define CAT      (BASE + 3)
#define DAN      (BASE + 4)
#define EVE      (BASE + 5)
#define P1       (BASE + 101)               /* ANN's */
#define P2       (BASE + 102)
#define P3       (BASE + 103)
#define P4       (BASE + 104)
#define P5       (BASE + 105)
#define P6       (BASE + 106)
#define P7       (BASE + 107)
#define PB       (BASE + 110)               /* BEN's own */
#define NOPHOTO  (BASE + 199)               /* never made */
#define REQ(n)   (BASE + 1000 + (n))        /* request ids, in time order */
#define COM(n)   (BASE + 2000 + (n))        /* comment ids */


static char *
list(h_t *h, const char *fmt, long long owner)
{
    static char  buf[65536];
    char         key[128];
    size_t       i, n;
    redisReply  *r;

    snprintf(key, sizeof(key), fmt, owner);
    r = h_redis(h, "ZRANGE %s 0 -1", key);
    buf[0] = '\0';
    n = 0;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s",
                               i ? "\n" : "", r->element[i]->str);
    }

    freeReplyObject(r);

    return buf;
}


/* the marker and what Postgres holds, as the list must hold them */
static char *
expected(h_t *h, const char *sql, long long owner)
{
    static char  buf[65536];
    int          i;
    size_t       n;
    PGresult    *res;

    res = h_sql(h, sql, owner);
    n = (size_t) snprintf(buf, sizeof(buf), "%s", PHOTO_LIST_COMPLETE);

    for (i = 0; i < PQntuples(res); i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\n%s",
                               PQgetvalue(res, i, 0));
    }

    PQclear(res);

    return buf;
}


static int
likes_match(h_t *h, long long user)
{
    static const char  *sql =
        "select lpad(photo_id::text, 19, '0') from likes"
        " where user_id = %lld and liked order by 1";
    int   ok;
    char  want[65536];

    snprintf(want, sizeof(want), "%s", expected(h, sql, user));
    ok = strcmp(list(h, "likes:{%lld}", user), want) == 0;

    if (!ok) {
        printf("# likes:{%lld} is [%s], Postgres says [%s]\n", user,
               list(h, "likes:{%lld}", user), want);
    }

    return ok;
}


static int
activity_match(h_t *h, long long owner)
{
    static const char  *sql =
        "select lpad(id::text, 19, '0') || ':' || entry from activities"
        " where owner_id = %lld order by id";
    int   ok;
    char  want[65536];

    snprintf(want, sizeof(want), "%s", expected(h, sql, owner));
    ok = strcmp(list(h, "activity:{%lld}", owner), want) == 0;

    if (!ok) {
        printf("# activity:{%lld} is [%s], Postgres says [%s]\n", owner,
               list(h, "activity:{%lld}", owner), want);
    }

    return ok;
}


static int
has_member(h_t *h, const char *fmt, long long owner, const char *member)
{
    char  *l, *p;

    l = list(h, fmt, owner);

    for (p = l; (p = strstr(p, member)) != NULL; p++) {
        if ((p == l || p[-1] == '\n')
            && (p[strlen(member)] == '\n' || p[strlen(member)] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


static void
like(h_t *h, long long req, long long user, long long photo,
    const char *action)
{
    char  unique[32], payload[256];

    snprintf(unique, sizeof(unique), "%lld", req);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"user_id\":\"%lld\",\"photo_id\":"
             "\"%lld\",\"action\":\"%s\"}", req, user, photo, action);
    h_submit(h, PHOTO_JOB_LIKE, unique, payload);
}


static void
comment(h_t *h, long long id, long long user, long long photo,
    const char *text)
{
    char  unique[32], payload[1024];

    snprintf(unique, sizeof(unique), "%lld", id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"photo_id\":\"%lld\",\"text\":\"%s\",\"created_at\":"
             "1767229200}", id, id, user, photo, text);
    h_submit(h, PHOTO_JOB_COMMENT, unique, payload);
}


static void
uncomment(h_t *h, long long req, long long id, long long who)
{
    char  unique[32], payload[256];

    snprintf(unique, sizeof(unique), "%lld", req);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"delete\":true}", req, id, who);
    h_submit(h, PHOTO_JOB_COMMENT, unique, payload);
}


static void
purge(h_t *h, long long photo)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), "%s%lld", PHOTO_UNSOCIAL_UNIQUE, photo);
    snprintf(payload, sizeof(payload), "{\"unique\":\"%s\",\"id\":\"%lld\"}",
             unique, photo);
    h_submit(h, PHOTO_JOB_SOCIAL_PURGE, unique, payload);
}


static int
drained(h_t *h)
{
    return h_wait_drained(h, PHOTO_JOB_LIKE, 10000)
           && h_wait_drained(h, PHOTO_JOB_COMMENT, 10000)
           && h_wait_drained(h, PHOTO_JOB_SOCIAL_PURGE, 10000);
}


static long long
count(h_t *h, const char *column, long long photo)
{
    return h_sql_int(h, "select %s from photos where id = %lld", column,
                     photo);
}


/* the cached object is the one Postgres makes now, with its checksum */
static int
object_matches(h_t *h, long long photo)
{
    int                   ok;
    char                 *value, key[64];
    size_t                len, want_len;
    uint32_t              flags;
    yajl_gen              g;
    PGresult             *res;
    photo_object_t        p;
    const unsigned char  *want;

    snprintf(key, sizeof(key), "photo:%lld", photo);
    value = h_mc_get(h, key, &len, &flags);
    res = h_sql(h, PHOTO_OBJECT_SELECT " where p.id = %lld", photo);

    if (value == NULL || PQntuples(res) != 1) {
        printf("# %s: %s\n", key, value ? "no row" : "not cached");
        free(value);
        PQclear(res);
        return 0;
    }

    photo_object_row(NULL, res, 0, &p);
    g = yajl_gen_alloc(NULL);
    photo_object_gen(g, &p);
    yajl_gen_get_buf(g, &want, &want_len);

    ok = len == want_len && memcmp(value, want, len) == 0
         && flags == photo_object_flags(want, want_len);

    if (!ok) {
        printf("# %s is %.*s (flags 0x%x), Postgres makes %.*s\n", key,
               (int) len, value, flags, (int) want_len, want);
    }

    yajl_gen_free(g);
    PQclear(res);
    free(value);

    return ok;
}


/* the entry photo_social makes for a like of ANN's photo */
static const char *
like_entry(long long req, long long user, long long photo)
{
    static char       buf[1024];
    char              name[32];
    size_t            len;
    yajl_gen          g;
    photo_activity_t  a;
    const unsigned char  *out;

    snprintf(name, sizeof(name), "w%lld", user);
    memset(&a, 0, sizeof(a));
    a.id = req;
    a.type = "like";
    a.actor_id = user;
    a.actor_name = name;
    a.actor_name_len = strlen(name);
    a.photo_id = photo;
    a.image_url = "/media/i.jpg";
    a.image_url_len = strlen(a.image_url);
    a.created_at = photo_activity_time(req);

    g = yajl_gen_alloc(NULL);
    photo_activity_gen(g, &a);
    yajl_gen_get_buf(g, &out, &len);
    snprintf(buf, sizeof(buf), "%s:%.*s", h_pad(req), (int) len, out);
    yajl_gen_free(g);

    return buf;
}


static long long
entries(h_t *h, long long actor, const char *kind, long long photo)
{
    return h_sql_int(h, "select count(*) from activities where actor_id ="
                        " %lld and kind = '%s' and photo_id = %lld", actor,
                     kind, photo);
}


static void
check_like(h_t *h)
{
    char  *letter, entry[1024];

    /* likes:{BEN} was never built: the first change builds it */
    like(h, REQ(1), BEN, P1, "like");
    CHECK(drained(h), "a like is taken");
    CHECK(count(h, "like_count", P1) == 1
          && h_sql_int(h, "select count(*) from likes where photo_id = %lld"
                          " and user_id = %lld and liked and action_id ="
                          " %lld", P1, BEN, REQ(1)) == 1,
          "like: like_count 1, the row liked with its request id");
    CHECK(likes_match(h, BEN) && has_member(h, "likes:{%lld}", BEN,
                                            h_pad(P1)),
          "likes:{BEN} built from Postgres: the marker and the photo");

    snprintf(entry, sizeof(entry), "%s", like_entry(REQ(1), BEN, P1));
    CHECK(has_member(h, "activity:{%lld}", ANN, entry)
          && activity_match(h, ANN),
          "the owner's activity holds the like's entry: %s", entry);
    CHECK(object_matches(h, P1), "the object is cached with like_count 1");

    /* the same job again, and a second like */
    like(h, REQ(1), BEN, P1, "like");
    CHECK(drained(h), "the like replayed");
    like(h, REQ(2), BEN, P1, "like");
    CHECK(drained(h), "a second like");
    CHECK(count(h, "like_count", P1) == 1
          && h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                       P1) == 1,
          "liked twice (and replayed): like_count 1, one row");
    CHECK(entries(h, BEN, "like", P1) == 1
          && has_member(h, "activity:{%lld}", ANN, entry)
          && activity_match(h, ANN),
          "and one entry, the first like's");

    like(h, REQ(3), BEN, P1, "unlike");
    CHECK(drained(h), "an unlike");
    CHECK(count(h, "like_count", P1) == 0
          && h_sql_int(h, "select count(*) from likes where photo_id = %lld"
                          " and user_id = %lld and not liked", P1, BEN) == 1,
          "unlike: like_count 0, liked false");
    CHECK(!has_member(h, "likes:{%lld}", BEN, h_pad(P1))
          && likes_match(h, BEN),
          "the photo is out of likes:{BEN}, the marker kept");
    CHECK(entries(h, BEN, "like", P1) == 0
          && !has_member(h, "activity:{%lld}", ANN, entry)
          && activity_match(h, ANN),
          "the like's entry is out of the owner's activity");
    CHECK(object_matches(h, P1), "the object says like_count 0");

    /* the second like, replayed after the newer unlike */
    like(h, REQ(2), BEN, P1, "like");
    CHECK(drained(h), "the older like replayed");
    CHECK(count(h, "like_count", P1) == 0
          && h_sql_int(h, "select action_id from likes where photo_id ="
                          " %lld and user_id = %lld and not liked", P1, BEN)
             == REQ(3)
          && !has_member(h, "likes:{%lld}", BEN, h_pad(P1))
          && entries(h, BEN, "like", P1) == 0 && object_matches(h, P1),
          "an older like replayed after a newer unlike changes nothing");

    /* one's own photo: counted, listed, no activity */
    like(h, REQ(4), BEN, PB, "like");
    CHECK(drained(h), "a like of one's own photo");
    CHECK(count(h, "like_count", PB) == 1
          && has_member(h, "likes:{%lld}", BEN, h_pad(PB))
          && h_sql_int(h, "select count(*) from activities where owner_id ="
                          " %lld", BEN) == 0
          && h_redis_int(h, "EXISTS activity:{%lld}", BEN) == 0,
          "one's own photo: counted, in likes:{BEN}, no activity entry");

    /* gone, or never: nothing, and no dead letter */
    like(h, REQ(5), CAT, NOPHOTO, "like");
    CHECK(drained(h), "a like of a photo that does not exist");
    CHECK(h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                    NOPHOTO) == 0
          && h_redis_int(h, "EXISTS likes:{%lld}", CAT) == 0
          && h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_LIKE) == 0,
          "writes nothing and is no dead letter");

    /* payloads that can never work */
    h_submit(h, PHOTO_JOB_LIKE, "bad-1",
             "{\"unique\":\"bad-1\",\"user_id\":\"1\",\"photo_id\":\"1\","
             "\"action\":\"like\"}");
    like(h, REQ(6), CAT, P1, "love");
    like(h, REQ(7), BASE + 50, P1, "like");      /* no such user */
    CHECK(drained(h), "bad likes taken");

    letter = h_dead_letter(h, PHOTO_JOB_LIKE, "\"bad-1\"");
    CHECK(letter && strstr(letter, "field \\\"unique\\\" must be an id"),
          "dead letter: a unique that is no request id: %s",
          letter ? letter : "(none)");
    free(letter);
    snprintf(entry, sizeof(entry), "\"%lld\"", REQ(6));
    letter = h_dead_letter(h, PHOTO_JOB_LIKE, entry);
    CHECK(letter && strstr(letter, "must be one of"),
          "dead letter: an action that is not one: %s",
          letter ? letter : "(none)");
    free(letter);
    snprintf(entry, sizeof(entry), "\"%lld\"", REQ(7));
    letter = h_dead_letter(h, PHOTO_JOB_LIKE, entry);
    CHECK(letter && strstr(letter, "postgres refused the data"),
          "dead letter: an unknown user: %s", letter ? letter : "(none)");
    free(letter);
    CHECK(count(h, "like_count", P1) == 0, "none of them counted");
}


static void
check_rebuild(h_t *h)
{
    /* CAT likes P2 in Postgres only; likes:{CAT} holds a stray, no marker */
    PQclear(h_sql(h, "insert into likes (photo_id, user_id, liked, action_id)"
                     " values (%lld, %lld, true, 1)", P2, CAT));
    freeReplyObject(h_redis(h, "ZADD likes:{%lld} 0 %s", CAT, h_pad(P7)));

    /* and ANN's activity list is lost */
    freeReplyObject(h_redis(h, "DEL activity:{%lld}", ANN));

    like(h, REQ(10), CAT, P1, "like");
    CHECK(drained(h), "a like of a user whose likes:{uid} has no marker");
    CHECK(likes_match(h, CAT)
          && has_member(h, "likes:{%lld}", CAT, h_pad(P1))
          && has_member(h, "likes:{%lld}", CAT, h_pad(P2))
          && !has_member(h, "likes:{%lld}", CAT, h_pad(P7)),
          "likes:{CAT} rebuilt from Postgres: both likes, the stray gone");
    CHECK(activity_match(h, ANN)
          && has_member(h, "activity:{%lld}", ANN,
                        like_entry(REQ(10), CAT, P1)),
          "activity:{ANN} rebuilt from Postgres, the new entry in it");
}


static void
check_object(h_t *h)
{
    char          key[64], *value;
    size_t        len;
    uint32_t      flags;
    memcached_st *mc = h->mc;

    /* a copy with a wrong count is there: rewritten by cas */
    snprintf(key, sizeof(key), "photo:%lld", P2);
    memcached_set(mc, key, strlen(key), "{\"id\":\"x\"}", 10, 0,
                  PHOTO_MC_FLAGS);
    like(h, REQ(20), DAN, P2, "like");
    CHECK(drained(h) && count(h, "like_count", P2) == 1
          && object_matches(h, P2),
          "a cached copy is rewritten with the counts (cas)");

    /* a tombstone stays one */
    snprintf(key, sizeof(key), "photo:%lld", P3);
    memcached_set(mc, key, strlen(key), PHOTO_MC_TOMBSTONE,
                  sizeof(PHOTO_MC_TOMBSTONE) - 1, 60, PHOTO_MC_DELETED);
    like(h, REQ(21), DAN, P3, "like");
    CHECK(drained(h), "a like of a photo whose key holds a tombstone");
    value = h_mc_get(h, key, &len, &flags);
    CHECK(count(h, "like_count", P3) == 1 && value != NULL
          && flags == PHOTO_MC_DELETED
          && len == sizeof(PHOTO_MC_TOMBSTONE) - 1,
          "counted in Postgres, the tombstone left alone");
    free(value);
    memcached_delete(mc, key, strlen(key), 0);
}


static void
check_comments(h_t *h)
{
    char   *letter, needle[64];

    comment(h, COM(1), BEN, P4, "nice \xe2\x98\x95");
    CHECK(drained(h), "a comment is taken");
    CHECK(h_sql_int(h, "select count(*) from comments where id = %lld"
                       " and photo_id = %lld and user_id = %lld",
                    COM(1), P4, BEN) == 1
          && count(h, "comment_count", P4) == 1 && object_matches(h, P4),
          "the comment is stored, comment_count 1, the object follows");
    CHECK(h_sql_int(h, "select count(*) from activities where id = %lld"
                       " and kind = 'comment' and owner_id = %lld"
                       " and entry like '%%\"comment\":{\"id\":\"%lld\","
                       "\"text\":\"nice \xe2\x98\x95\"}%%'",
                    COM(1), ANN, COM(1)) == 1
          && activity_match(h, ANN),
          "an activity entry for the photo's owner, with the text");

    comment(h, COM(1), BEN, P4, "nice \xe2\x98\x95");
    CHECK(drained(h), "the comment replayed");
    CHECK(h_sql_int(h, "select count(*) from comments where photo_id = %lld",
                    P4) == 1
          && count(h, "comment_count", P4) == 1
          && h_sql_int(h, "select count(*) from activities where id = %lld",
                       COM(1)) == 1,
          "a replayed comment is one comment, count 1");

    comment(h, COM(2), ANN, P4, "thanks");
    CHECK(drained(h) && count(h, "comment_count", P4) == 2
          && h_sql_int(h, "select count(*) from activities where id = %lld",
                       COM(2)) == 0
          && activity_match(h, ANN) && object_matches(h, P4),
          "a comment on one's own photo: counted, no activity entry");

    uncomment(h, REQ(30), COM(1), BEN);
    CHECK(drained(h), "its author deletes a comment");
    CHECK(h_sql_int(h, "select count(*) from comments where id = %lld",
                    COM(1)) == 0
          && h_sql_int(h, "select photo_id from comment_deletions where id ="
                          " %lld", COM(1)) == P4
          && count(h, "comment_count", P4) == 1 && object_matches(h, P4),
          "the row goes to comment_deletions, count 1, the object follows");
    CHECK(h_sql_int(h, "select count(*) from activities where id = %lld",
                    COM(1)) == 0 && activity_match(h, ANN),
          "its entry is out of the owner's activity");

    comment(h, COM(1), BEN, P4, "nice \xe2\x98\x95");
    uncomment(h, REQ(30), COM(1), BEN);
    CHECK(drained(h), "the comment and its deletion replayed");
    CHECK(h_sql_int(h, "select count(*) from comments where id = %lld",
                    COM(1)) == 0
          && count(h, "comment_count", P4) == 1 && object_matches(h, P4)
          && activity_match(h, ANN)
          && h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_COMMENT) == 0,
          "a deleted comment's job replayed: not back, count 1");

    /* the photo's owner deletes another's comment */
    comment(h, COM(3), CAT, P4, "hm");
    uncomment(h, REQ(31), COM(3), ANN);
    CHECK(drained(h) && count(h, "comment_count", P4) == 1
          && h_sql_int(h, "select count(*) from comments where id = %lld",
                       COM(3)) == 0 && activity_match(h, ANN),
          "the photo's owner deletes a comment of another");

    /* a delete before its comment: the comment never comes */
    uncomment(h, REQ(32), COM(4), DAN);
    CHECK(drained(h), "a delete of a comment not stored yet");
    comment(h, COM(4), DAN, P4, "late");
    CHECK(drained(h) && h_sql_int(h, "select count(*) from comments where"
                                     " id = %lld", COM(4)) == 0
          && count(h, "comment_count", P4) == 1,
          "the comment that comes after it is not stored");

    /* neither its author nor the photo's owner: a forged job */
    uncomment(h, REQ(33), COM(2), CAT);
    CHECK(drained(h), "a delete by someone else");
    snprintf(needle, sizeof(needle), "\"%lld\"", REQ(33));
    letter = h_dead_letter(h, PHOTO_JOB_COMMENT, needle);
    CHECK(letter && strstr(letter, "may not delete comment")
          && count(h, "comment_count", P4) == 1,
          "is a dead letter, the comment stays: %s",
          letter ? letter : "(none)");
    free(letter);

    /* a comment on a photo that is gone: nothing, no dead letter */
    comment(h, COM(5), BEN, NOPHOTO, "where");
    CHECK(drained(h) && h_sql_int(h, "select count(*) from comments where"
                                     " id = %lld", COM(5)) == 0
          && h_redis_int(h, "LLEN dead_letter:%s", PHOTO_JOB_COMMENT) == 0,
          "a comment on a photo that does not exist: nothing");

    h_submit(h, PHOTO_JOB_COMMENT, "bad-c",
             "{\"unique\":\"bad-c\",\"id\":\"7700000000000002009\","
             "\"user_id\":\"7700000000000000002\",\"photo_id\":"
             "\"7700000000000000104\",\"created_at\":1}");
    CHECK(drained(h), "a comment without text");
    letter = h_dead_letter(h, PHOTO_JOB_COMMENT, "\"bad-c\"");
    CHECK(letter && strstr(letter, "field \\\"text\\\" is missing"),
          "is a dead letter: %s", letter ? letter : "(none)");
    free(letter);
}


static void
check_purge(h_t *h)
{
    char  *letter, needle[64];

    like(h, REQ(40), BEN, P5, "like");
    like(h, REQ(41), CAT, P5, "like");
    like(h, REQ(42), DAN, P5, "like");
    like(h, REQ(43), DAN, P5, "unlike");
    comment(h, COM(10), CAT, P5, "bye");
    CHECK(drained(h) && count(h, "like_count", P5) == 2
          && count(h, "comment_count", P5) == 1,
          "a photo with two likes and a comment");

    /* the photo is still there: a purge is refused */
    purge(h, P5);
    CHECK(drained(h), "a purge of a photo not deleted");
    snprintf(needle, sizeof(needle), "%s%lld", PHOTO_UNSOCIAL_UNIQUE, P5);
    letter = h_dead_letter(h, PHOTO_JOB_SOCIAL_PURGE, needle);
    CHECK(letter && strstr(letter, "is not deleted")
          && h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                       P5) == 3,
          "is a dead letter and purges nothing: %s",
          letter ? letter : "(none)");
    free(letter);

    PQclear(h_sql(h, "delete from photos where id = %lld", P5));
    purge(h, P5);
    CHECK(drained(h), "the photo deleted: its purge");
    CHECK(h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                    P5) == 0
          && h_sql_int(h, "select count(*) from comments where photo_id ="
                          " %lld", P5) == 0
          && h_sql_int(h, "select count(*) from activities where photo_id ="
                          " %lld", P5) == 0,
          "its likes, comments and activity rows are gone");
    CHECK(!has_member(h, "likes:{%lld}", BEN, h_pad(P5))
          && !has_member(h, "likes:{%lld}", CAT, h_pad(P5))
          && likes_match(h, BEN) && likes_match(h, CAT)
          && likes_match(h, DAN) && activity_match(h, ANN),
          "and out of the likers' lists and the owner's activity");

    purge(h, P5);
    CHECK(drained(h)
          && h_redis_int(h, "LLEN dead_letter:%s",
                         PHOTO_JOB_SOCIAL_PURGE) == 0
          && likes_match(h, BEN) && activity_match(h, ANN),
          "a replayed purge changes nothing, no dead letter");
}


/* through photo_persist: a photo deleted by its poster is purged */
static int
purged(h_t *h, void *photo)
{
    long long  id = *(long long *) photo;

    return h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                     id) == 0
           && h_sql_int(h, "select count(*) from activities where"
                           " photo_id = %lld", id) == 0
           && !has_member(h, "likes:{%lld}", EVE, h_pad(id));
}


static void
check_delete(h_t *h)
{
    char       payload[256], unique[32];
    long long  id = P6;

    h_worker(h, "photo_persist", NULL);

    like(h, REQ(50), EVE, P6, "like");
    CHECK(drained(h) && count(h, "like_count", P6) == 1
          && has_member(h, "activity:{%lld}", ANN,
                        like_entry(REQ(50), EVE, P6)),
          "a liked photo");

    snprintf(unique, sizeof(unique), "%lld", P6);
    snprintf(payload, sizeof(payload), "{\"unique\":\"%lld\",\"id\":\"%lld\","
             "\"user_id\":\"%lld\"}", P6, P6, ANN);
    h_submit(h, PHOTO_JOB_DELETE, unique, payload);

    CHECK(h_wait(h, purged, &id, 10000) && activity_match(h, ANN)
          && likes_match(h, EVE),
          "deleted by its poster: the persist worker's photo_social_purge "
          "takes its likes and entries out");
}


static int
committed(h_t *h, void *arg)
{
    return count(h, "like_count", P7) == 1;
}


static int
retrying(h_t *h, void *pid)
{
    return h_log_has(h, *(pid_t *) pid, "photo_social", "memcached: ");
}


static void
check_killed(h_t *h, pid_t *worker)
{
    int    status;
    char   away[64];
    pid_t  w;

    h_worker_stop(h, *worker, SIGTERM, 5000);

    /* 1: Redis away, the job stops before its COMMIT */
    h_redis_away(h, away, sizeof(away));
    w = h_worker(h, "photo_social", "PHOTO_NOTIFY_ENABLED=1", away, NULL);
    like(h, REQ(60), BEN, P7, "like");

    h_sleep_ms(500);
    CHECK(h_queued(h, PHOTO_JOB_LIKE) == 1 && count(h, "like_count", P7) == 0,
          "Redis away: the like waits, nothing committed");
    status = h_worker_stop(h, w, SIGKILL, 3000);
    CHECK(status != -1 && WIFSIGNALED(status)
          && h_queued(h, PHOTO_JOB_LIKE) == 1,
          "killed (-9): gearmand holds the job again");

    /* 2: memcached away, the job stops after its COMMIT */
    w = h_worker(h, "photo_social", "PHOTO_NOTIFY_ENABLED=1",
                 "PHOTO_MEMCACHED_PORTS=1", NULL);

    CHECK(h_wait(h, committed, NULL, 10000) && h_wait(h, retrying, &w, 10000)
          && h_queued(h, PHOTO_JOB_LIKE) == 1,
          "memcached away: the like committed, the job waits for the cache");
    status = h_worker_stop(h, w, SIGKILL, 3000);
    CHECK(status != -1 && WIFSIGNALED(status)
          && h_queued(h, PHOTO_JOB_LIKE) == 1,
          "killed (-9) after its COMMIT: gearmand holds the job again");

    *worker = h_worker(h, "photo_social", "PHOTO_NOTIFY_ENABLED=1", NULL);
    CHECK(drained(h), "a new worker takes the job");
    CHECK(count(h, "like_count", P7) == 1
          && h_sql_int(h, "select count(*) from likes where photo_id = %lld",
                       P7) == 1
          && entries(h, BEN, "like", P7) == 1
          && has_member(h, "likes:{%lld}", BEN, h_pad(P7))
          && likes_match(h, BEN) && activity_match(h, ANN)
          && object_matches(h, P7),
          "applied once: like_count 1, one row, one entry, the object");
}


static void
check_notify(h_t *h)
{
    long         before;
    char         key[128];
    redisReply  *r;

    before = h_queued(h, PHOTO_JOB_NOTIFY);

    like(h, REQ(70), DAN, P1, "like");
    CHECK(drained(h) && h_queued(h, PHOTO_JOB_NOTIFY) == before + 1,
          "a like of another's photo queues one photo_notify");

    snprintf(key, sizeof(key), "like_notified:{%lld}:%lld:%lld", ANN, P1,
             DAN);
    r = h_redis(h, "GET %s", key);
    CHECK(r->type == REDIS_REPLY_STRING && atoll(r->str) == REQ(70)
          && h_redis_int(h, "TTL %s", key) > 0
          && h_redis_int(h, "TTL %s", key) <= PHOTO_LIKE_NOTIFY_TTL,
          "%s holds the like's request id, with an expiry", key);
    freeReplyObject(r);

    like(h, REQ(70), DAN, P1, "like");
    like(h, REQ(71), DAN, P1, "unlike");
    CHECK(drained(h), "replayed, then unliked");
    like(h, REQ(72), DAN, P1, "like");
    CHECK(drained(h) && h_queued(h, PHOTO_JOB_NOTIFY) == before + 1,
          "like, unlike, like again: still one photo_notify");
    CHECK(count(h, "like_count", P1) == 2
          && entries(h, DAN, "like", P1) == 1
          && has_member(h, "activity:{%lld}", ANN,
                        like_entry(REQ(72), DAN, P1)),
          "liked again: counted, and its entry is the new like's");

    like(h, REQ(73), ANN, P1, "like");
    CHECK(drained(h) && h_queued(h, PHOTO_JOB_NOTIFY) == before + 1
          && count(h, "like_count", P1) == 3,
          "a like of one's own photo notifies nobody");

    comment(h, COM(20), DAN, P1, "wow");
    comment(h, COM(21), ANN, P1, "ty");
    CHECK(drained(h) && h_queued(h, PHOTO_JOB_NOTIFY) == before + 2,
          "a comment notifies the photo's owner, one's own photo nobody");
}




static void
forget(h_t *h)
{
    int   i;
    char  key[64];

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  BASE, BASE + SPAN));
    PQclear(h_sql(h, "delete from photo_deletions where id between %lld"
                     " and %lld", BASE, BASE + SPAN));
    PQclear(h_sql(h, "delete from comment_deletions where id between %lld"
                     " and %lld", BASE, BASE + SPAN));

    /* likes, comments and activities go with their users (cascade) */
    h_forget(h, BASE, USERS);
    h_redis_del_keys(h, "like_notified:{%lld}:*", ANN);

    for (i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "photo:%lld", BASE + 100 + i);
        memcached_delete(h->mc, key, strlen(key), 0);
    }
}


int
main(void)
{
    h_t    h;
    pid_t  worker;

    h_init(&h, "social");
    forget(&h);
    h_users(&h, BASE, USERS);

    PQclear(h_sql(&h, "insert into photos (id, user_id, media_path,"
                      " image_url, width, height) select g, %lld, 'm',"
                      " '/media/i.jpg', 1, 1"
                      " from generate_series(%lld::bigint, %lld) g",
                  ANN, P1, P7));
    PQclear(h_sql(&h, "insert into photos (id, user_id, media_path,"
                      " image_url, width, height) values (%lld, %lld, 'm',"
                      " '/media/i.jpg', 1, 1)", PB, BEN));

    worker = h_worker(&h, "photo_social", "PHOTO_NOTIFY_ENABLED=1", NULL);

    check_like(&h);
    check_rebuild(&h);
    check_object(&h);
    check_comments(&h);
    check_purge(&h);
    check_notify(&h);
    check_killed(&h, &worker);
    check_delete(&h);

    forget(&h);
    h_done(&h, photo_check_failed);
    h_forget_queue(&h);

    return CHECK_DONE();
}
