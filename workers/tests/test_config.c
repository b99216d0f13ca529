/*
 * Worker configuration: file, environment, precedence, errors; each
 * backend's host and the memcached servers, and their defaults.
 */

#include "photo_check.h"
#include "photo_config.h"
#include "photo_memcached.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *
write_file(const char *text)
{
    static char  path[64];
    int          fd;

    snprintf(path, sizeof(path), "/tmp/photo_test_config.XXXXXX");

    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        perror("mkstemp");
        exit(2);
    }

    close(fd);

    return path;
}


/* cf from defaults and the file holding text; the environment left out */
static int
load(photo_config_t *cf, const char *text, char *err, size_t errlen)
{
    int          rc;
    const char  *path;

    photo_config_defaults(cf);
    path = write_file(text);
    rc = photo_config_load_file(cf, path, err, errlen);
    unlink(path);

    return rc;
}


/* the servers of list, as "host|port" items, into out */
static const char *
servers(const char *list)
{
    int          port;
    size_t       n, len;
    const char  *p, *host;

    static char  out[512];

    n = 0;
    out[0] = '\0';
    p = list;

    while (photo_config_server_next(&p, &host, &len, &port, 11211) == 1) {
        n += (size_t) snprintf(out + n, sizeof(out) - n, "%s%.*s|%d",
                               n ? " " : "", (int) len, host, port);
    }

    return out;
}


static void
check_hosts(void)
{
    char            err[512], buf[PHOTO_CONFIG_LIST];
    photo_config_t  cf;

    CHECK(load(&cf, "", err, sizeof(err)) == 0
          && strcmp(photo_config_host(&cf, pg_host), "127.0.0.1") == 0
          && strcmp(photo_config_host(&cf, redis_host), "127.0.0.1") == 0
          && strcmp(photo_config_host(&cf, gearman_host), "127.0.0.1") == 0,
          "every backend on 127.0.0.1 by default");
    CHECK(strcmp(photo_config_memcached_servers(&cf, buf, sizeof(buf)),
                 "127.0.0.1:11211") == 0,
          "memcached: 127.0.0.1:11211 by default");

    CHECK(load(&cf, "PHOTO_HOST=10.0.3.1\nPHOTO_MEMCACHED_PORTS=11311 11312\n",
               err, sizeof(err)) == 0
          && strcmp(photo_config_host(&cf, pg_host), "10.0.3.1") == 0
          && strcmp(photo_config_host(&cf, redis_host), "10.0.3.1") == 0
          && strcmp(photo_config_host(&cf, gearman_host), "10.0.3.1") == 0
          && strstr(photo_config_pg_conninfo(&cf), "host=10.0.3.1 ") != NULL,
          "PHOTO_HOST is every backend's host: %s", cf.pg_conninfo);
    CHECK(strcmp(photo_config_memcached_servers(&cf, buf, sizeof(buf)),
                 "10.0.3.1:11311 10.0.3.1:11312") == 0,
          "memcached: PHOTO_HOST with each of PHOTO_MEMCACHED_PORTS: %s", buf);

    CHECK(load(&cf, "PHOTO_HOST=::1\nPHOTO_MEMCACHED_PORTS=11311\n", err,
               sizeof(err)) == 0
          && strcmp(photo_config_memcached_servers(&cf, buf, sizeof(buf)),
                    "[::1]:11311") == 0
          && strcmp(servers(buf), "::1|11311") == 0,
          "an IPv6 PHOTO_HOST is put in brackets, and read without: %s",
          buf);

    CHECK(load(&cf, "PHOTO_HOST=10.0.3.1\nPHOTO_PG_HOST=pg.example\n"
                    "PHOTO_REDIS_HOST=redis.example\n"
                    "PHOTO_GEARMAN_HOST=gearman.example\n"
                    "PHOTO_MEMCACHED_PORTS=1 2\n"
                    "PHOTO_MEMCACHED_SERVERS=mc-a.example:11311,"
                    " [fd00::5]:11312  10.0.4.7\n", err, sizeof(err)) == 0,
          "a backend of its own each loads: %s", err);
    CHECK(strcmp(photo_config_host(&cf, pg_host), "pg.example") == 0
          && strstr(photo_config_pg_conninfo(&cf), "host=pg.example ")
          && strcmp(photo_config_host(&cf, redis_host), "redis.example") == 0
          && strcmp(photo_config_host(&cf, gearman_host), "gearman.example")
             == 0,
          "PHOTO_PG_HOST, PHOTO_REDIS_HOST, PHOTO_GEARMAN_HOST win over "
          "PHOTO_HOST");
    CHECK(strcmp(servers(photo_config_memcached_servers(&cf, buf,
                                                        sizeof(buf))),
                 "mc-a.example|11311 fd00::5|11312 10.0.4.7|11211") == 0,
          "PHOTO_MEMCACHED_SERVERS wins over the ports, in its order, port "
          "11211 when not given: %s", servers(cf.memcached_servers));

    CHECK(load(&cf, "PHOTO_PG_HOST=pg.example\n"
                    "PHOTO_PG_CONNINFO=host=other.example dbname=photo\n",
               err, sizeof(err)) == 0
          && strcmp(photo_config_pg_conninfo(&cf),
                    "host=other.example dbname=photo") == 0,
          "PHOTO_PG_CONNINFO wins over the parts");
}


static void
check_servers_refused(void)
{
    int             i;
    char            err[512], text[128];
    photo_config_t  cf;

    static const char  *bad[] = {
        "mc:0", "mc:70000", "mc:x", "mc:+1", "mc: 1", "mc:", ":11211",
        "mc:1:2", "[::1", "[]:1", "[::1]x", "[::1 ]:1", "a:1 b:0", NULL
    };

    for (i = 0; bad[i]; i++) {
        snprintf(text, sizeof(text), "PHOTO_MEMCACHED_SERVERS=%s\n", bad[i]);
        CHECK(load(&cf, text, err, sizeof(err)) != 0
              && strstr(err, "PHOTO_MEMCACHED_SERVERS") != NULL,
              "\"%s\" is refused: %s", bad[i], err);
    }
}


/* a Redis Cluster's seeds: a list as the others, none by default */
static void
check_redis_cluster(void)
{
    char            err[512];
    photo_config_t  cf;

    CHECK(load(&cf, "", err, sizeof(err)) == 0
          && cf.redis_cluster[0] == '\0',
          "no PHOTO_REDIS_CLUSTER_SERVERS: the one Redis of PHOTO_REDIS_HOST/PORT");

    CHECK(load(&cf, "PHOTO_REDIS_CLUSTER_SERVERS=10.0.5.1:7001, 10.0.5.2:7002 "
                    "[fd00::6]:7003\n", err, sizeof(err)) == 0
          && strcmp(servers(cf.redis_cluster),
                    "10.0.5.1|7001 10.0.5.2|7002 fd00::6|7003") == 0,
          "PHOTO_REDIS_CLUSTER_SERVERS: the seed nodes, in their order: %s",
          servers(cf.redis_cluster));

    CHECK(load(&cf, "PHOTO_REDIS_CLUSTER_SERVERS=10.0.5.1:7001 10.0.5.2:x\n", err,
               sizeof(err)) != 0
          && strstr(err, "PHOTO_REDIS_CLUSTER_SERVERS: \"10.0.5.2:x\"") != NULL,
          "a seed that is not host[:port] is refused, named: %s", err);
}


/* the pool names a server as written: what ketama hashes on both sides */
static void
check_pool_names(void)
{
    char                           err[512];
    memcached_st                  *mc;
    photo_config_t                 cf;
    const memcached_instance_st   *s0, *s1;

    load(&cf, "PHOTO_MEMCACHED_SERVERS=mc-a.example:11311 10.0.4.7\n", err,
         sizeof(err));

    mc = photo_memcached_pool(&cf);
    CHECK(mc != NULL && memcached_server_count(mc) == 2,
          "a pool of the two servers, made without resolving a name");
    if (mc == NULL) {
        return;
    }

    s0 = memcached_server_instance_by_position(mc, 0);
    s1 = memcached_server_instance_by_position(mc, 1);

    CHECK(strcmp(memcached_server_name(s0), "mc-a.example") == 0
          && memcached_server_port(s0) == 11311
          && strcmp(memcached_server_name(s1), "10.0.4.7") == 0
          && memcached_server_port(s1) == 11211,
          "named as written, in order: %s:%d %s:%d",
          memcached_server_name(s0), (int) memcached_server_port(s0),
          memcached_server_name(s1), (int) memcached_server_port(s1));

    memcached_free(mc);
}


/* the metrics endpoint's settings and the slow jobs' bound */
static void
check_metrics(void)
{
    char            err[512];
    photo_config_t  cf;

    photo_config_defaults(&cf);
    CHECK(cf.metrics_port == 0 && strcmp(cf.metrics_host, "127.0.0.1") == 0
          && cf.slow_job_ms == 1000,
          "by default no metrics endpoint (127.0.0.1 when given a port), "
          "slow jobs from 1000 ms");

    CHECK(load(&cf, "PHOTO_METRICS_PORT=19101\nPHOTO_SLOW_JOB_MS=250\n",
               err, sizeof(err)) == 0
          && cf.metrics_port == 19101 && cf.slow_job_ms == 250,
          "PHOTO_METRICS_PORT, PHOTO_SLOW_JOB_MS");
    CHECK(load(&cf, "PHOTO_METRICS_PORT=0\n", err, sizeof(err)) == 0
          && cf.metrics_port == 0
          && load(&cf, "PHOTO_METRICS_PORT=\n", err, sizeof(err)) == 0
          && cf.metrics_port == 0,
          "PHOTO_METRICS_PORT 0 or empty: none");
    CHECK(load(&cf, "PHOTO_METRICS_PORT=-1\n", err, sizeof(err)) != 0
          && strstr(err, "0 for none") != NULL,
          "a bad metrics port is refused: %s", err);
}


/* the share worker's: the services' addresses by default, and --config */
static void
check_share(void)
{
    char            err[512];
    photo_config_t  cf;

    photo_config_defaults(&cf);
    CHECK(strcmp(cf.twitter_url, "https://api.twitter.com") == 0
          && strcmp(cf.facebook_url, "https://graph.facebook.com/v19.0") == 0
          && cf.link_key_file[0] == '\0' && cf.public_url[0] == '\0'
          && cf.twitter_consumer_key[0] == '\0'
          && cf.share_ca_file[0] == '\0',
          "by default Twitter's and Facebook's own addresses, no key");

    CHECK(load(&cf, "PHOTO_LINK_KEY_FILE=/run/share/link.key\n"
               "PHOTO_PUBLIC_URL=https://photos.example\n"
               "PHOTO_TWITTER_URL=https://127.0.0.1:18445\n"
               "PHOTO_TWITTER_CONSUMER_KEY=ck\n"
               "PHOTO_TWITTER_CONSUMER_SECRET=cs\n"
               "PHOTO_FACEBOOK_URL=https://127.0.0.1:18446/v19.0\n"
               "PHOTO_SHARE_CA_FILE=/run/share/keys/ca.crt\n",
               err, sizeof(err)) == 0
          && strcmp(cf.link_key_file, "/run/share/link.key") == 0
          && strcmp(cf.public_url, "https://photos.example") == 0
          && strcmp(cf.twitter_url, "https://127.0.0.1:18445") == 0
          && strcmp(cf.twitter_consumer_key, "ck") == 0
          && strcmp(cf.twitter_consumer_secret, "cs") == 0
          && strcmp(cf.facebook_url, "https://127.0.0.1:18446/v19.0") == 0
          && strcmp(cf.share_ca_file, "/run/share/keys/ca.crt") == 0,
          "the share settings from --config");
}


int
main(void)
{
    char            err[512];
    const char     *path;
    photo_config_t  cf;

    /* the stack's environment must not leak into what is checked here */
    unsetenv("PHOTO_REDIS_PORT");
    unsetenv("PHOTO_PG_PORT");
    unsetenv("PHOTO_PG_CONNINFO");
    unsetenv("PHOTO_LOG_LEVEL");
    unsetenv("PHOTO_HOST");
    unsetenv("PHOTO_PG_HOST");
    unsetenv("PHOTO_REDIS_HOST");
    unsetenv("PHOTO_GEARMAN_HOST");
    unsetenv("PHOTO_MEMCACHED_SERVERS");
    unsetenv("PHOTO_MEMCACHED_PORTS");
    unsetenv("PHOTO_METRICS_PORT");
    unsetenv("PHOTO_SLOW_JOB_MS");

    photo_config_defaults(&cf);
    CHECK(cf.redis_port == 6379, "default redis port is 6379");

    path = write_file("# comment\n\nPHOTO_REDIS_PORT=16379\n"
                      "PHOTO_PG_PORT=15432\nPHOTO_LOG_LEVEL=debug\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) == 0,
          "a valid file loads");
    CHECK(cf.redis_port == 16379 && cf.pg_port == 15432,
          "file values are taken");
    CHECK(cf.log_level == PHOTO_LOG_DEBUG, "log level from the file");
    unlink(path);

    setenv("PHOTO_REDIS_PORT", "26379", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) == 0, "env loads");
    CHECK(cf.redis_port == 26379, "the environment wins over the file");

    CHECK(strstr(photo_config_pg_conninfo(&cf), "port=15432") != NULL,
          "conninfo built from the parts: %s", cf.pg_conninfo);

    setenv("PHOTO_REDIS_PORT", "70000", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) != 0
          && strstr(err, "PHOTO_REDIS_PORT") != NULL,
          "a bad port is refused, naming the key: %s", err);
    unsetenv("PHOTO_REDIS_PORT");

    path = write_file("PHOTO_NO_SUCH_KEY=1\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) != 0
          && strstr(err, ":1: unknown key") != NULL,
          "an unknown key is refused with file:line: %s", err);
    unlink(path);

    path = write_file("PHOTO_PG_PORT\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) != 0
          && strstr(err, "KEY=VALUE") != NULL,
          "a line without '=' is refused: %s", err);
    unlink(path);

    check_hosts();
    check_servers_refused();
    check_redis_cluster();
    check_pool_names();
    check_metrics();
    check_share();

    return CHECK_DONE();
}
