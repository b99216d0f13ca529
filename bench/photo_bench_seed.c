/*
 * Seeds the caches for scripts/bench from what is in Postgres: every photo
 * of the bench users as its cached object in memcached (the contract's
 * generator, the workers' ketama pool), a complete feed list of FEED_LEN
 * random photo ids for each bench user, which likes every tenth of them
 * (likes:{uid}, complete), and a session per user whose token
 * is printed, one per line, for the load generator.  With LAST_PHOTO, only
 * the photos of ids up to it (the bench's own seeded ones: the posts of
 * earlier write benches, made by a bench user too, would otherwise grow
 * the feeds' working set from run to run).  With PHOTO_REDIS_CLUSTER_SERVERS,
 * each user's keys (one hash tag) go to the node serving them, pipelined
 * to every node at once.
 *
 *   photo_bench_seed FIRST_USER USERS FEED_LEN [LAST_PHOTO] > tokens
 */

#include "photo_config.h"
#include "photo_contract.h"
#include "photo_keys.h"
#include "photo_memcached.h"
#include "photo_object.h"
#include "photo_pg.h"
#include "photo_redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int
cmp_desc(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x < y) - (x > y);
}


int
main(int argc, char **argv)
{
    int                  i, j, n, rows;
    char                 err[256], key[64], token[64], **av, *members;
    size_t              *avlen, len;
    int64_t              first, users, feed_len, last, *ids, *feed;
    PGconn              *pg;
    PGresult            *res;
    yajl_gen             g;
    redisReply          *reply;
    redisContext        *redis;
    photo_redis_t        rd;
    photo_redis_pipe_t   pipe;
    memcached_st        *mc;
    photo_object_t       o;
    photo_config_t       cf;
    const unsigned char *buf;
    char                 sql[512];

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s FIRST_USER USERS FEED_LEN [LAST_PHOTO]\n",
                argv[0]);
        return 2;
    }

    first = atoll(argv[1]);
    users = atoll(argv[2]);
    feed_len = atoll(argv[3]);
    last = argc == 5 ? atoll(argv[4]) : INT64_MAX;

    photo_config_defaults(&cf);
    if (photo_config_load_env(&cf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    pg = photo_pg_connect(&cf);
    photo_redis_init(&rd, &cf);
    mc = photo_memcached_pool(&cf);
    /* Redis (or the cluster's first node) reachable before any work */
    if (pg == NULL || mc == NULL || photo_redis_nodes(&rd) == 0
        || photo_redis_node(&rd, 0) == NULL)
    {
        return 1;
    }

    /* the objects: written without waiting for each reply */
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);

    snprintf(sql, sizeof(sql),
             "select p.id, p.user_id, u.username, p.caption, p.image_url,"
             " p.width, p.height, p.lat, p.lng,"
             " extract(epoch from p.created_at)::bigint"
             " from photos p join users u on u.id = p.user_id"
             " where p.user_id between %" PRId64 " and %" PRId64
             " and p.id <= %" PRId64,
             first, first + users - 1, last);

    res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "postgres: %s", PQerrorMessage(pg));
        return 1;
    }

    rows = PQntuples(res);
    if (rows == 0) {
        fprintf(stderr, "no photos for the bench users\n");
        return 1;
    }

    ids = malloc(rows * sizeof(int64_t));
    feed = malloc(feed_len * sizeof(int64_t));
    av = malloc((2 * feed_len + 4) * sizeof(char *));
    avlen = malloc((2 * feed_len + 4) * sizeof(size_t));
    members = malloc(feed_len * (PHOTO_ID_MAX_DIGITS + 1));
    if (ids == NULL || feed == NULL || av == NULL || avlen == NULL
        || members == NULL)
    {
        return 1;
    }

    for (i = 0; i < rows; i++) {
        memset(&o, 0, sizeof(o));
        o.id = atoll(PQgetvalue(res, i, 0));
        o.user_id = atoll(PQgetvalue(res, i, 1));
        o.username = PQgetvalue(res, i, 2);
        o.username_len = PQgetlength(res, i, 2);
        o.caption = PQgetvalue(res, i, 3);
        o.caption_len = PQgetlength(res, i, 3);
        o.image_url = PQgetvalue(res, i, 4);
        o.image_url_len = PQgetlength(res, i, 4);
        o.width = atoi(PQgetvalue(res, i, 5));
        o.height = atoi(PQgetvalue(res, i, 6));
        if (!PQgetisnull(res, i, 7)) {
            o.has_location = 1;
            o.lat = atof(PQgetvalue(res, i, 7));
            o.lng = atof(PQgetvalue(res, i, 8));
        }
        o.created_at = atoll(PQgetvalue(res, i, 9));

        ids[i] = o.id;

        g = yajl_gen_alloc(NULL);
        if (photo_object_gen(g, &o) != yajl_gen_status_ok) {
            fprintf(stderr, "photo %" PRId64 ": cannot generate\n", o.id);
            return 1;
        }

        yajl_gen_get_buf(g, &buf, &len);
        snprintf(key, sizeof(key), PHOTO_MC_PHOTO "%" PRId64, o.id);
        memcached_set(mc, key, strlen(key), (const char *) buf, len, 0,
                      photo_object_flags(buf, len));
        yajl_gen_free(g);
    }

    memcached_flush_buffers(mc);
    PQclear(res);

    /* the feeds and the sessions, pipelined */
    srand(42);
    photo_redis_pipe_init(&pipe, &rd);

    for (i = 0; i < users; i++) {
        for (j = 0; j < feed_len; j++) {
            feed[j] = ids[rand() % rows];
        }

        qsort(feed, feed_len, sizeof(int64_t), cmp_desc);

        (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_FEED, first + i);
        av[0] = "ZADD";
        avlen[0] = 4;
        av[1] = key;
        avlen[1] = strlen(key);
        av[2] = "0";
        avlen[2] = 1;
        av[3] = PHOTO_LIST_COMPLETE;
        avlen[3] = sizeof(PHOTO_LIST_COMPLETE) - 1;

        for (j = 0; j < feed_len; j++) {
            av[4 + 2 * j] = "0";
            avlen[4 + 2 * j] = 1;
            av[5 + 2 * j] = members + j * (PHOTO_ID_MAX_DIGITS + 1);
            avlen[5 + 2 * j] = snprintf(av[5 + 2 * j], PHOTO_ID_MAX_DIGITS + 1,
                                        "%019" PRId64, feed[j]);
        }

        /* the feed, the likes and the session share the user's tag: one
           node */
        redis = photo_redis_pipe_key(&pipe, key, avlen[1], 5);
        if (redis == NULL) {
            return 1;
        }

        redisAppendCommand(redis, "DEL %s", key);
        redisAppendCommandArgv(redis, 4 + 2 * feed_len, (const char **) av,
                               avlen);

        /* and likes every tenth photo of it: a page's "liked" is read */
        (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_LIKES, first + i);
        av[1] = key;
        avlen[1] = strlen(key);

        for (j = 0, n = 0; j < feed_len; j += 10, n++) {
            av[4 + 2 * n] = "0";
            avlen[4 + 2 * n] = 1;
            av[5 + 2 * n] = members + j * (PHOTO_ID_MAX_DIGITS + 1);
            avlen[5 + 2 * n] = PHOTO_ID_MAX_DIGITS;
        }

        redisAppendCommand(redis, "DEL %s", key);
        redisAppendCommandArgv(redis, 4 + 2 * n, (const char **) av, avlen);
        /* tokens as the auth worker makes them: the user id first */
        snprintf(token, sizeof(token), "%" PRId64 "%cbench_token_%08" PRId64,
                 first + i, PHOTO_SESSION_TOKEN_SEP, first + i);
        (void) photo_key_session(key, sizeof(key), token, strlen(token));
        redisAppendCommand(redis, "SET %s %" PRId64 " EX 86400", key,
                           first + i);

        printf("%s\n", token);

        if (pipe.replies >= 300 || i == users - 1) {
            while (photo_redis_pipe_reply(&pipe, &reply) == 1) {
                freeReplyObject(reply);
            }

            if (pipe.failed) {
                return 1;                   /* logged */
            }
        }
    }

    fprintf(stderr, "bench seed: %d photo objects, %" PRId64 " feeds of %"
            PRId64 " ids, %" PRId64 " sessions\n", rows, users, feed_len,
            users);

    free(ids);
    free(feed);
    free(av);
    free(avlen);
    free(members);
    memcached_free(mc);
    photo_redis_free(&rd);
    PQfinish(pg);

    return 0;
}
