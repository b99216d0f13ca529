/*
 * The workers' backend clients against the real stack (scripts/stack): each
 * backend answers, the schema is migrated, and the memcached pool spreads
 * keys over both servers and reads them back.
 */

#include "photo_check.h"
#include "photo_config.h"
#include "photo_gearman.h"
#include "photo_memcached.h"
#include "photo_pg.h"
#include "photo_redis.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define KEYS  200


static void
check_pg(photo_config_t *cf)
{
    PGconn    *conn;
    PGresult  *res;

    conn = photo_pg_connect(cf);
    CHECK(conn != NULL, "postgres connects (%s)", photo_config_pg_conninfo(cf));
    if (conn == NULL) {
        return;
    }

    res = PQexec(conn, "select count(*) from schema_migrations");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK
          && atoi(PQgetvalue(res, 0, 0)) >= 4,
          "migrations are applied");
    PQclear(res);

    res = PQexec(conn, "select to_regclass('photos'), to_regclass('follows'),"
                       " to_regclass('users'), to_regclass('device_tokens')");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK
          && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1)
          && !PQgetisnull(res, 0, 2) && !PQgetisnull(res, 0, 3),
          "the four tables exist");
    PQclear(res);

    PQfinish(conn);
}


static void
check_redis(photo_config_t *cf)
{
    char          key[64];
    redisReply   *r;
    redisContext *c;

    c = photo_redis_connect(cf);
    CHECK(c != NULL, "redis connects on port %d", cf->redis_port);
    if (c == NULL) {
        return;
    }

    snprintf(key, sizeof(key), "test:backends:%d", (int) getpid());

    r = redisCommand(c, "SET %s hello EX 60", key);
    CHECK(r && r->type == REDIS_REPLY_STATUS, "redis SET");
    freeReplyObject(r);

    r = redisCommand(c, "GET %s", key);
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "hello") == 0,
          "redis GET returns what was set");
    freeReplyObject(r);

    r = redisCommand(c, "CONFIG GET appendonly");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
          && strcmp(r->element[1]->str, "yes") == 0,
          "redis runs with AOF on");
    freeReplyObject(r);

    freeReplyObject(redisCommand(c, "DEL %s", key));
    redisFree(c);
}


static void
check_memcached(photo_config_t *cf)
{
    int                  i, ok, seen[2] = { 0, 0 };
    char                 key[64], *value;
    size_t               len;
    uint32_t             flags, server;
    memcached_st        *mc;
    memcached_return_t   rc;

    mc = photo_memcached_pool(cf);
    CHECK(mc != NULL && memcached_server_count(mc) == 2,
          "memcached pool of two servers (%s)", cf->memcached_ports);
    if (mc == NULL) {
        return;
    }

    ok = 1;

    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "test:backends:%d:%d", (int) getpid(), i);

        server = memcached_generate_hash(mc, key, strlen(key));
        if (server < 2) {
            seen[server]++;
        }

        rc = memcached_set(mc, key, strlen(key), key, strlen(key), 60, 0);
        ok = ok && rc == MEMCACHED_SUCCESS;
    }

    CHECK(ok, "memcached: %d keys set", KEYS);
    CHECK(seen[0] > KEYS / 5 && seen[1] > KEYS / 5,
          "ketama spreads keys over both servers (%d / %d)", seen[0], seen[1]);

    ok = 1;

    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "test:backends:%d:%d", (int) getpid(), i);

        value = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
        ok = ok && value && len == strlen(key)
             && memcmp(value, key, len) == 0;
        free(value);
        memcached_delete(mc, key, strlen(key), 0);
    }

    CHECK(ok, "memcached: every key reads back");

    memcached_free(mc);
}


static void
check_gearman(photo_config_t *cf)
{
    gearman_client_st  *c;

    c = photo_gearman_client(cf, 0);
    CHECK(c != NULL, "gearman client created");
    if (c == NULL) {
        return;
    }

    CHECK(gearman_client_echo(c, "ping", 4) == GEARMAN_SUCCESS,
          "gearmand on port %d echoes", cf->gearman_port);

    gearman_client_free(c);
}


int
main(void)
{
    char            err[512];
    photo_config_t  cf;

    photo_config_defaults(&cf);
    if (photo_config_load_env(&cf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    check_pg(&cf);
    check_redis(&cf);
    check_memcached(&cf);
    check_gearman(&cf);

    return CHECK_DONE();
}
