/*
 * Postgres going away under photo_persist, with a private throwaway
 * Postgres (initdb into a folder under /var/tmp, its own port; the
 * stack's is never touched): jobs that arrive while it is down wait in the
 * worker and in gearmand, are neither applied nor dead-lettered; SIGTERM
 * gives a waiting job back to gearmand; when Postgres returns, every job
 * is applied.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define BASE    7500000000000000000LL
#define POSTER  (BASE + 1)
#define FAN     (BASE + 2)
#define PHOTOS  (BASE + 100)


static char  pg_dir[128], pg_bin[256];
static int   pg_port;


/* a command as the postgres user when we are root (initdb refuses root) */
static int
pg_run(const char *fmt, ...)
{
    int      rc;
    char     cmd[1024], line[1200];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, args);
    va_end(args);

    snprintf(line, sizeof(line), "%s%s >>%s/pg.out 2>&1",
             geteuid() == 0 ? "runuser -u postgres -- " : "", cmd, pg_dir);

    rc = system(line);

    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}


static int
pg_start(void)
{
    return pg_run("%s/pg_ctl -D %s/data -l %s/postgres.log -w -t 30"
                  " -o '-p %d -k %s -c listen_addresses=127.0.0.1' start",
                  pg_bin, pg_dir, pg_dir, pg_port, pg_dir);
}


static int
pg_stop(void)
{
    return pg_run("%s/pg_ctl -D %s/data -m fast -w -t 30 stop", pg_bin,
                  pg_dir);
}


static int
pg_make(void)
{
    char         cmd[1024];
    const char  *bin;

    bin = getenv("PG_BIN");
    snprintf(pg_bin, sizeof(pg_bin), "%s",
             bin ? bin : "/usr/lib/postgresql/15/bin");

    snprintf(pg_dir, sizeof(pg_dir), "/var/tmp/photo_test_pg.XXXXXX");
    if (mkdtemp(pg_dir) == NULL || chmod(pg_dir, 0755) != 0) {
        return -1;
    }

    if (geteuid() == 0) {
        snprintf(cmd, sizeof(cmd), "chown postgres: %s", pg_dir);
        if (system(cmd) != 0) {
            return -1;
        }
    }

    pg_port = h_free_port();

    if (pg_run("%s/initdb -D %s/data -A trust -U photo -E UTF8"
               " --locale=C.UTF-8", pg_bin, pg_dir) != 0
        || pg_start() != 0)
    {
        return -1;
    }

    /* the project's migrations, by the project's script */
    snprintf(cmd, sizeof(cmd),
             "psql -X -q -h 127.0.0.1 -p %d -U photo -d postgres"
             " -c 'create database photo' >>%s/pg.out 2>&1 &&"
             " PHOTO_PG_PORT=%d %s/scripts/migrate >>%s/pg.out 2>&1",
             pg_port, pg_dir, pg_port, PHOTO_SOURCE_DIR, pg_dir);

    return system(cmd) == 0 ? 0 : -1;
}


static void
pg_remove(void)
{
    char  cmd[256];

    pg_stop();

    if (strncmp(pg_dir, "/var/tmp/photo_test_pg.", 23) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pg_dir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", pg_dir);
        }
    }
}


static PGconn *
pg_connect(void)
{
    char  conninfo[256];

    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=photo"
             " dbname=photo connect_timeout=5", pg_port);

    return PQconnectdb(conninfo);
}


/* photos PHOTOS+1..PHOTOS+n stored in the private Postgres */
static long long
stored(void)
{
    long long  n;
    PGconn    *c;
    PGresult  *res;

    c = pg_connect();
    res = PQexec(c, "select count(*) from photos");
    n = PQresultStatus(res) == PGRES_TUPLES_OK
        ? atoll(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    PQfinish(c);

    return n;
}


static int
stored_is(h_t *h, void *n)
{
    return stored() == *(long long *) n;
}


static void
persist(h_t *h, long long id)
{
    char  unique[32], payload[512];

    snprintf(unique, sizeof(unique), "%lld", id);
    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%lld\",\"id\":\"%lld\",\"user_id\":\"%lld\","
             "\"caption\":\"pg away\",\"media_path\":\"m\","
             "\"image_url\":\"i\",\"width\":1,\"height\":1,"
             "\"created_at\":1767225600}", id, id, POSTER);
    h_submit(h, PHOTO_JOB_PERSIST, unique, payload);
}


static void
forget(h_t *h)
{
    int   i;
    char  key[64];

    /* two users' keys, two slots: two commands */
    freeReplyObject(h_redis(h, "DEL user_photos:{%lld}", POSTER));
    freeReplyObject(h_redis(h, "DEL feed:{%lld}", FAN));

    for (i = 1; i <= 3; i++) {
        snprintf(key, sizeof(key), "photo:%lld", PHOTOS + i);
        memcached_delete(h->mc, key, strlen(key), 0);
    }
}


int
main(void)
{
    h_t         h;
    int         status;
    char        setting[64], key[64], *value;
    pid_t       w;
    PGconn     *c;
    PGresult   *res;
    long long   n;

    h_init(&h, "pg_away");
    forget(&h);

    /* both lists in Redis, complete (read lately): the workers add to them */
    h_feeds_complete(&h, FAN, 1);
    freeReplyObject(h_redis(&h, "ZADD user_photos:{%lld} 0 %s", POSTER,
                            PHOTO_LIST_COMPLETE));

    if (pg_make() != 0) {
        printf("Bail out! cannot make a private Postgres; see %s/pg.out\n",
               pg_dir);
        return 2;
    }

    c = pg_connect();
    res = PQexec(c, "insert into users (id, username, password_hash) values"
                    " (7500000000000000001, 'pg_away', '!'),"
                    " (7500000000000000002, 'pg_away_fan', '!');"
                    " insert into follows (follower, followee) values"
                    " (7500000000000000002, 7500000000000000001)");
    PQclear(res);
    PQfinish(c);

    snprintf(setting, sizeof(setting), "PHOTO_PG_PORT=%d", pg_port);
    w = h_worker(&h, "photo_persist", "PHOTO_PG_HOST=127.0.0.1", setting,
                 NULL);

    persist(&h, PHOTOS + 1);
    n = 1;
    CHECK(h_wait(&h, stored_is, &n, 10000),
          "with Postgres up, a photo is stored");

    CHECK(pg_stop() == 0, "the private Postgres is stopped");

    persist(&h, PHOTOS + 2);
    persist(&h, PHOTOS + 3);
    h_sleep_ms(1500);

    CHECK(h_worker_alive(w) && h_queued(&h, PHOTO_JOB_PERSIST) == 2,
          "jobs arriving meanwhile wait: the worker is up, gearmand holds "
          "both");
    CHECK(h_dead_letter(&h, PHOTO_JOB_PERSIST, "\"pg away\"") == NULL,
          "nothing is dead-lettered");
    CHECK(h_log_has(&h, w, "photo_persist", "postgres"),
          "the worker logs that Postgres is away");

    status = h_worker_stop(&h, w, SIGTERM, 3000);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0
          && h_log_has(&h, w, "photo_persist", "goes back to gearmand")
          && h_queued(&h, PHOTO_JOB_PERSIST) == 2,
          "SIGTERM while waiting: exit 0, the job goes back to gearmand");

    /* a new worker starts while Postgres is still away, then it returns */
    w = h_worker(&h, "photo_persist", setting, NULL);
    h_sleep_ms(300);
    CHECK(pg_start() == 0, "the private Postgres is back");

    n = 3;
    CHECK(h_wait(&h, stored_is, &n, 15000)
          && h_wait_drained(&h, PHOTO_JOB_PERSIST, 10000),
          "every job is applied once Postgres is back");

    snprintf(key, sizeof(key), "photo:%lld", PHOTOS + 3);
    value = h_mc_get(&h, key, NULL, NULL);
    CHECK(value != NULL
          && h_redis_int(&h, "ZCARD user_photos:{%lld}", POSTER) == 3 + 1
          && h_redis_int(&h, "ZCARD feed:{%lld}", FAN) == 3 + 1   /* markers */
          && h_queued(&h, PHOTO_JOB_FANOUT) == 0,
          "with their cached objects, list entries, and the follower's feed "
          "(one follower: fanned out by the persist worker itself)");
    free(value);

    pg_remove();
    forget(&h);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
