/* The worker tests' harness (see photo_harness.h). */

#define _GNU_SOURCE   /* vasprintf */

#include "photo_harness.h"
#include "photo_gearman.h"
#include "photo_memcached.h"
#include "photo_pg.h"
#include "photo_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define H_START_MS  10000

static void h_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                       noreturn));
static void h_stack_cluster(void);
static void h_redis_vappend(h_t *h, const char *fmt, va_list args);
static const char *h_redis_key(const char *cmd, size_t size, size_t *len);
static char *h_admin(h_t *h, const char *command);


static void
h_die(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    fprintf(stdout, "Bail out! ");
    vfprintf(stdout, fmt, args);
    fprintf(stdout, "\n");
    va_end(args);

    fflush(stdout);
    exit(2);
}


void
h_init(h_t *h, const char *name)
{
    char  err[512];

    memset(h, 0, sizeof(*h));
    h->name = name;

    h_stack_cluster();
    photo_config_defaults(&h->cf);
    if (photo_config_load_env(&h->cf, err, sizeof(err)) != 0) {
        h_die("%s", err);
    }

    /* the tests' own workers log what they do; ours stays quiet */
    photo_log_init(name, PHOTO_LOG_ERROR);

    snprintf(h->dir, sizeof(h->dir), "/var/tmp/photo_test_%s.XXXXXX", name);
    if (mkdtemp(h->dir) == NULL) {
        h_die("mkdtemp %s: %s", h->dir, strerror(errno));
    }

    h->pg = photo_pg_connect(&h->cf);
    photo_redis_init(&h->redis, &h->cf);
    h->mc = photo_memcached_pool(&h->cf);

    if (h->pg == NULL || h->mc == NULL || photo_redis_nodes(&h->redis) == 0
        || photo_redis_node(&h->redis, 0) == NULL)
    {
        h_die("the stack is not running (scripts/stack start; export the "
              "environment of conf/stack.env)");
    }

    h->gearman_port = h_free_port();
    h_gearmand_start(h);

    h->client = gearman_client_create(NULL);
    if (h->client == NULL
        || gearman_client_add_server(h->client, "127.0.0.1",
                                     (in_port_t) h->gearman_port)
           != GEARMAN_SUCCESS)
    {
        h_die("gearman client");
    }

    gearman_client_set_timeout(h->client, 20000);
}


/*
 * The tests run with conf/stack.env's environment: when the stack runs a
 * Redis Cluster (PHOTO_REDIS_CLUSTER=1), the workers' seed nodes,
 * PHOTO_REDIS_CLUSTER_SERVERS, are PHOTO_HOST with each of
 * PHOTO_REDIS_CLUSTER_PORTS, as scripts/stack gives its workers.  Set in
 * the environment, for the workers the test starts too.
 */
static void
h_stack_cluster(void)
{
    int          v6;
    char         list[PHOTO_CONFIG_LIST];
    size_t       n, len;
    const char  *v, *host, *port;

    v = getenv("PHOTO_REDIS_CLUSTER");

    if (v == NULL || strcmp(v, "1") != 0
        || getenv("PHOTO_REDIS_CLUSTER_SERVERS") != NULL)
    {
        return;                         /* none, or a list already */
    }

    host = getenv("PHOTO_HOST");
    port = getenv("PHOTO_REDIS_CLUSTER_PORTS");

    if (host == NULL) {
        host = "127.0.0.1";
    }

    if (port == NULL) {
        h_die("PHOTO_REDIS_CLUSTER=1 without PHOTO_REDIS_CLUSTER_PORTS");
    }

    /* an IPv6 address in brackets, as photo_config_server_next() reads */
    v6 = strchr(host, ':') != NULL;
    n = 0;
    list[0] = '\0';

    for ( ;; ) {
        port += strspn(port, PHOTO_CONFIG_SEP);
        len = strcspn(port, PHOTO_CONFIG_SEP);

        if (len == 0) {
            break;
        }

        n += (size_t) snprintf(list + n, sizeof(list) - n, "%s%s%s%s:%.*s",
                               n ? " " : "", v6 ? "[" : "", host,
                               v6 ? "]" : "", (int) len, port);
        if (n >= sizeof(list)) {
            h_die("PHOTO_REDIS_CLUSTER_PORTS is too long");
        }

        port += len;
    }

    setenv("PHOTO_REDIS_CLUSTER_SERVERS", list, 1);
}


void
h_done(h_t *h, int keep)
{
    char  cmd[256];

    while (h->nworkers) {
        h_worker_stop(h, h->workers[0], SIGTERM, 5000);
    }

    h_gearmand_stop(h, SIGTERM);

    gearman_client_free(h->client);
    memcached_free(h->mc);
    photo_redis_free(&h->redis);
    PQfinish(h->pg);

    if (keep || getenv("PHOTO_TEST_KEEP")) {
        printf("# logs kept in %s\n", h->dir);

    } else if (strncmp(h->dir, "/var/tmp/photo_test_", 20) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", h->dir);
        }
    }
}


void
h_gearmand_start(h_t *h)
{
    int    i, fd;
    char   port[16], rport[16], prefix[64], log[256], pidfile[256],
           out[256];
    pid_t  pid;

    snprintf(port, sizeof(port), "%d", h->gearman_port);
    /* the stack's queue: Redis, under a prefix of this test's own */
    snprintf(rport, sizeof(rport), "%d", h->cf.redis_port);
    snprintf(prefix, sizeof(prefix), "test_gearman_%d_", (int) getpid());
    snprintf(log, sizeof(log), "%s/gearmand.log", h->dir);
    snprintf(pidfile, sizeof(pidfile), "%s/gearmand.pid", h->dir);
    snprintf(out, sizeof(out), "%s/gearmand.out", h->dir);

    pid = fork();
    if (pid < 0) {
        h_die("fork: %s", strerror(errno));
    }

    if (pid == 0) {
        fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }

        /* as scripts/stack runs it: each job in Redis before JOB_CREATED */
        execlp("gearmand", "gearmand", "--listen", "127.0.0.1",
               "--port", port, "--threads", "1",
               "--queue-type", "redis", "--redis-server",
               photo_config_host(&h->cf, redis_host),
               "--redis-port", rport, "--redis-prefix", prefix,
               "--log-file", log, "--pid-file", pidfile,
               "--verbose", "WARNING", (char *) NULL);
        _exit(127);
    }

    h->gearmand = pid;

    for (i = 0; i < H_START_MS / 10; i++) {
        if (h_port_open(h->gearman_port)) {
            return;
        }

        if (waitpid(pid, NULL, WNOHANG) == pid) {
            h_die("gearmand exited; see %s", out);
        }

        h_sleep_ms(10);
    }

    h_die("gearmand does not answer on port %d", h->gearman_port);
}


void
h_gearmand_stop(h_t *h, int signo)
{
    int  i;

    if (h->gearmand <= 0) {
        return;
    }

    kill(h->gearmand, signo);

    for (i = 0; i < 1000; i++) {
        if (waitpid(h->gearmand, NULL, WNOHANG) == h->gearmand) {
            h->gearmand = 0;
            return;
        }

        h_sleep_ms(10);
    }

    kill(h->gearmand, SIGKILL);
    waitpid(h->gearmand, NULL, 0);
    h->gearmand = 0;
}


pid_t
h_worker(h_t *h, const char *bin, ...)
{
    int          i, fd;
    char         path[512], log[512], port[16], id[128], *text;
    pid_t        pid;
    va_list      args;
    const char  *kv;

    if (h->nworkers == H_MAX_WORKERS) {
        h_die("too many workers");
    }

    snprintf(path, sizeof(path), "%s/%s", PHOTO_WORKERS_BIN, bin);
    snprintf(port, sizeof(port), "%d", h->gearman_port);

    pid = fork();
    if (pid < 0) {
        h_die("fork: %s", strerror(errno));
    }

    if (pid == 0) {
        snprintf(log, sizeof(log), "%s/%s-%d.log", h->dir, bin,
                 (int) getpid());
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }

        /* the private gearmand (h_gearmand_start()) */
        setenv("PHOTO_GEARMAN_HOST", "127.0.0.1", 1);
        setenv("PHOTO_GEARMAN_PORT", port, 1);
        setenv("PHOTO_LOG_LEVEL", "debug", 1);
        /* no endpoint but a test's own: the stack's base port is not ours */
        setenv("PHOTO_METRICS_PORT", "0", 1);

        va_start(args, bin);
        while ((kv = va_arg(args, const char *)) != NULL) {
            putenv(strdup(kv));
        }
        va_end(args);

        execl(path, bin, (char *) NULL);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }

    h->workers[h->nworkers++] = pid;

    /* ready when gearmand lists it under its identifier */
    snprintf(id, sizeof(id), " %s-%d ", bin, (int) pid);

    for (i = 0; i < H_START_MS / 20; i++) {
        text = h_admin(h, "workers\n");
        if (strstr(text, id) != NULL && strstr(text, id)[strlen(id)] == ':'
            && strstr(text, id)[strlen(id) + 1] == ' ')
        {
            free(text);
            return pid;
        }

        free(text);

        if (!h_worker_alive(pid)) {
            h_die("%s exited at start; see %s/%s-%d.log", bin, h->dir, bin,
                  (int) pid);
        }

        h_sleep_ms(20);
    }

    h_die("%s did not register with gearmand", bin);
}


int
h_worker_stop(h_t *h, pid_t pid, int signo, int timeout_ms)
{
    int  i, status, rc;

    for (i = 0; i < h->nworkers; i++) {
        if (h->workers[i] == pid) {
            h->workers[i] = h->workers[--h->nworkers];
            break;
        }
    }

    kill(pid, signo);

    for (i = 0; i < timeout_ms; i += 5) {
        rc = waitpid(pid, &status, WNOHANG);
        if (rc == pid) {
            return status;
        }

        if (rc < 0) {
            return -1;
        }

        h_sleep_ms(5);
    }

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);

    return -1;
}


int
h_worker_alive(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) == 0;
}


int
h_log_has(h_t *h, pid_t pid, const char *bin, const char *text)
{
    return h_log_count(h, pid, bin, text) > 0;
}


int
h_log_count(h_t *h, pid_t pid, const char *bin, const char *text)
{
    int     n;
    char    path[512], line[4096];
    FILE   *f;

    snprintf(path, sizeof(path), "%s/%s-%d.log", h->dir, bin, (int) pid);

    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, text) != NULL;
    }

    fclose(f);

    return n;
}


int
h_follow(h_t *h, const char *unique, long long follower, long long followee,
    const char *action)
{
    char  payload[256];

    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"follower\":\"%lld\",\"followee\":\"%lld\","
             "\"action\":\"%s\"}", unique, follower, followee, action);

    return h_submit(h, PHOTO_JOB_FOLLOW, unique, payload);
}


int
h_submit(h_t *h, const char *function, const char *unique,
    const char *payload)
{
    int               i;
    gearman_return_t  rc;

    /* a client finds a connection to a restarted gearmand dead on first
       use, and connects again on the next */
    for (i = 0; i < 3; i++) {
        rc = gearman_client_do_background(h->client, function, unique,
                                          payload, strlen(payload), NULL);
        if (rc == GEARMAN_SUCCESS) {
            return 0;
        }
    }

    printf("# submit %s %s: %s\n", function, unique,
           gearman_client_error(h->client));

    return -1;
}


char *
h_call(h_t *h, const char *function, const char *payload)
{
    char              *answer;
    void              *result;
    size_t             len;
    gearman_return_t   rc;

    result = gearman_client_do(h->client, function, NULL, payload,
                               strlen(payload), &len, &rc);
    if (rc != GEARMAN_SUCCESS) {
        printf("# call %s: %s\n", function, gearman_strerror(rc));
        free(result);
        return NULL;
    }

    answer = malloc(len + 1);
    if (answer == NULL) {
        h_die("out of memory");
    }

    memcpy(answer, result ? result : "", len);
    answer[len] = '\0';
    free(result);

    return answer;
}


/* one command of gearmand's text admin protocol, up to the "." line; ""
   when it does not answer */
static char *
h_admin(h_t *h, const char *command)
{
    char  *text;

    text = photo_gearman_admin("127.0.0.1", h->gearman_port, command, 5000);
    if (text == NULL) {
        text = strdup("");
    }

    if (text == NULL) {
        h_die("out of memory");
    }

    return text;
}


long
h_queued(h_t *h, const char *function)
{
    long    total;
    char   *text, *line, *save, name[128];

    text = h_admin(h, "status\n");
    total = 0;

    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        if (sscanf(line, "%127[^\t]\t%ld", name, &total) == 2
            && strcmp(name, function) == 0)
        {
            free(text);
            return total;
        }

        total = 0;
    }

    free(text);

    return 0;
}


int
h_wait(h_t *h, int (*cond)(h_t *h, void *arg), void *arg, int timeout_ms)
{
    double  deadline;

    deadline = h_now() + timeout_ms / 1000.0;

    do {
        if (cond(h, arg)) {
            return 1;
        }

        h_sleep_ms(10);
    } while (h_now() < deadline);

    return cond(h, arg);
}


static int
h_is_drained(h_t *h, void *function)
{
    return h_queued(h, function) == 0;
}


int
h_wait_drained(h_t *h, const char *function, int timeout_ms)
{
    return h_wait(h, h_is_drained, (void *) function, timeout_ms);
}


static PGresult *
h_vsql(h_t *h, const char *fmt, va_list args)
{
    char            *sql;
    PGresult        *res;
    ExecStatusType   st;

    if (vasprintf(&sql, fmt, args) < 0) {
        h_die("out of memory");
    }

    res = PQexec(h->pg, sql);
    st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        h_die("SQL failed: %s: %s", sql, PQerrorMessage(h->pg));
    }

    free(sql);

    return res;
}


PGresult *
h_sql(h_t *h, const char *fmt, ...)
{
    va_list    args;
    PGresult  *res;

    va_start(args, fmt);
    res = h_vsql(h, fmt, args);
    va_end(args);

    return res;
}


long long
h_sql_int(h_t *h, const char *fmt, ...)
{
    va_list     args;
    PGresult   *res;
    long long   v;

    va_start(args, fmt);
    res = h_vsql(h, fmt, args);
    va_end(args);

    v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
        ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;

    PQclear(res);

    return v;
}


redisReply *
h_redis(h_t *h, const char *fmt, ...)
{
    va_list  args;

    if (h->pipe_n) {
        h_die("redis: a command while %zu replies are awaited", h->pipe_n);
    }

    va_start(args, fmt);
    h_redis_vappend(h, fmt, args);
    va_end(args);

    return h_redis_reply(h);
}


long long
h_redis_int(h_t *h, const char *fmt, ...)
{
    va_list      args;
    long long    v;
    redisReply  *r;

    if (h->pipe_n) {
        h_die("redis: a command while %zu replies are awaited", h->pipe_n);
    }

    va_start(args, fmt);
    h_redis_vappend(h, fmt, args);
    va_end(args);

    r = h_redis_reply(h);

    v = r->type == REDIS_REPLY_INTEGER ? r->integer
        : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;

    freeReplyObject(r);

    return v;
}


void
h_redis_append(h_t *h, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    h_redis_vappend(h, fmt, args);
    va_end(args);
}


/* the command formatted, then sent where its key is served */
static void
h_redis_vappend(h_t *h, const char *fmt, va_list args)
{
    int            n;
    char          *cmd;
    size_t         len;
    const char    *key;
    redisContext  *c;

    if (h->pipe_n == H_PIPE_MAX) {
        h_die("redis: more than %d commands pipelined", H_PIPE_MAX);
    }

    n = redisvFormatCommand(&cmd, fmt, args);
    if (n < 0) {
        h_die("redis: cannot format \"%s\"", fmt);
    }

    key = h_redis_key(cmd, (size_t) n, &len);
    if (key == NULL) {
        h_die("redis: \"%s\" names no key", fmt);
    }

    c = photo_redis_key(&h->redis, key, len);
    if (c == NULL || redisAppendFormattedCommand(c, cmd, (size_t) n)
                     != REDIS_OK)
    {
        h_die("redis: cannot send \"%s\"%s%s", fmt, c ? ": " : "",
              c ? c->errstr : "");
    }

    redisFreeCommand(cmd);

    h->pipe[(h->pipe_head + h->pipe_n++) % H_PIPE_MAX] = c;
}


/*
 * argv[1] of a command as redisFormatCommand() writes it, Redis's
 * protocol: "*<argc>\r\n$<len>\r\n<argv[0]>\r\n$<len>\r\n<argv[1]>\r\n...";
 * NULL when it has none.
 */
static const char *
h_redis_key(const char *cmd, size_t size, size_t *len)
{
    int          i;
    long         n;
    const char  *p, *end;

    end = cmd + size;

    if (size < 2 || cmd[0] != '*' || strtol(cmd + 1, NULL, 10) < 2) {
        return NULL;
    }

    p = cmd;

    /* past "*<argc>\r\n", then past argv[0]: at argv[1]'s "$<len>" */
    for (i = 0; i < 2; i++) {
        p = memchr(p, '\n', (size_t) (end - p));
        if (p == NULL || ++p >= end || *p != '$') {
            return NULL;
        }

        if (i == 0) {
            n = strtol(p + 1, NULL, 10);
            p = memchr(p, '\n', (size_t) (end - p));
            if (p == NULL || end - p < n + 3) {
                return NULL;
            }

            p += n + 2;                 /* the '\n' ending argv[0] */
        }
    }

    n = strtol(p + 1, NULL, 10);
    p = memchr(p, '\n', (size_t) (end - p));
    if (p == NULL || end - (p + 1) < n) {
        return NULL;
    }

    *len = (size_t) n;

    return p + 1;
}


redisReply *
h_redis_reply(h_t *h)
{
    void          *reply;
    redisReply    *r;
    redisContext  *c;

    if (h->pipe_n == 0) {
        h_die("redis: no reply is awaited");
    }

    c = h->pipe[h->pipe_head];
    h->pipe_head = (h->pipe_head + 1) % H_PIPE_MAX;
    h->pipe_n--;

    if (redisGetReply(c, &reply) != REDIS_OK) {
        h_die("redis: %s", c->errstr);
    }

    r = reply;

    /* the test's command, not the stack, is at fault */
    if (r->type == REDIS_REPLY_ERROR
        && (photo_redis_failed(&h->redis, r)
            || strncmp(r->str, "CROSSSLOT", 9) == 0))
    {
        h_die("redis: %s", r->str);
    }

    return r;
}


void
h_redis_away(h_t *h, char *setting, size_t size)
{
    snprintf(setting, size, h->cf.redis_cluster[0]
                            ? "PHOTO_REDIS_CLUSTER_SERVERS=127.0.0.1:%d"
                            : "PHOTO_REDIS_PORT=%d", h_free_port());
}


void
h_redis_del_keys(h_t *h, const char *fmt, ...)
{
    int            i, n;
    char          *pattern;
    size_t         k;
    va_list        args;
    redisReply    *r;
    redisContext  *c;

    va_start(args, fmt);
    n = vasprintf(&pattern, fmt, args);
    va_end(args);

    if (n < 0) {
        h_die("out of memory");
    }

    /* with a cluster, each node lists its own keys only */
    n = photo_redis_nodes(&h->redis);

    for (i = 0; i < n; i++) {
        c = photo_redis_node(&h->redis, i);
        r = c ? redisCommand(c, "KEYS %s", pattern) : NULL;

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            h_die("redis: KEYS %s: %s", pattern,
                  r == NULL ? (c ? c->errstr : "unreachable")
                  : r->type == REDIS_REPLY_ERROR ? r->str : "?");
        }

        for (k = 0; k < r->elements; k++) {
            freeReplyObject(h_redis(h, "DEL %b", r->element[k]->str,
                                    r->element[k]->len));
        }

        freeReplyObject(r);
    }

    free(pattern);
}


char *
h_mc_get(h_t *h, const char *key, size_t *len, uint32_t *flags)
{
    memcached_return_t  rc;

    return memcached_get(h->mc, key, strlen(key), len, flags, &rc);
}


char *
h_dead_letter(h_t *h, const char *function, const char *needle)
{
    char        *found;
    size_t       i;
    redisReply  *r;

    r = h_redis(h, "LRANGE dead_letter:%s 0 -1", function);
    found = NULL;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (strstr(r->element[i]->str, needle) != NULL) {
            found = strdup(r->element[i]->str);
            freeReplyObject(h_redis(h, "LREM dead_letter:%s 1 %b", function,
                                    r->element[i]->str,
                                    (size_t) r->element[i]->len));
            break;
        }
    }

    freeReplyObject(r);

    return found;
}


void
h_users(h_t *h, long long lo, long long n)
{
    PQclear(h_sql(h, "insert into users (id, username, password_hash)"
                     " select g, 'w' || g, '!'"
                     " from generate_series(%lld::bigint, %lld) g",
                  lo, lo + n - 1));
}


void
h_feeds_complete(h_t *h, long long lo, long long n)
{
    long long  i, pending;

    for (i = 0, pending = 0; i < n; i++) {
        h_redis_append(h, "ZADD feed:{%lld} 0 %s", lo + i,
                       PHOTO_LIST_COMPLETE);

        if (++pending == 1000 || i == n - 1) {
            while (pending--) {
                freeReplyObject(h_redis_reply(h));
            }

            pending = 0;
        }
    }
}


void
h_forget(h_t *h, long long lo, long long n)
{
    long long    i, pending;

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  lo, lo + n - 1));
    PQclear(h_sql(h, "delete from users where id between %lld and %lld",
                  lo, lo + n - 1));

    pending = 0;

    for (i = 0; i < n; i++) {
        /* one tag: one slot */
        h_redis_append(h, "DEL feed:{%lld} user_photos:{%lld} likes:{%lld}"
                       " activity:{%lld} feed:{%lld}%s user_photos:{%lld}%s",
                       lo + i, lo + i, lo + i, lo + i, lo + i,
                       PHOTO_LIST_PENDING, lo + i, PHOTO_LIST_PENDING);

        if (++pending == 1000 || i == n - 1) {
            while (pending--) {
                freeReplyObject(h_redis_reply(h));
            }

            pending = 0;
        }
    }
}


const char *
h_pad(long long id)
{
    static char  buf[4][24];
    static int   n;

    n = (n + 1) % 4;
    snprintf(buf[n], sizeof(buf[n]), "%019lld", id);

    return buf[n];
}


int
h_free_port(void)
{
    int                 fd, port;
    socklen_t           len;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        h_die("no free port: %s", strerror(errno));
    }

    port = ntohs(sin.sin_port);
    close(fd);

    return port;
}


int
h_port_open(int port)
{
    int                 fd, ok;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ok = connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0;
    close(fd);

    return ok;
}


double
h_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


void
h_sleep_ms(int ms)
{
    struct timespec  ts = { ms / 1000, (long) (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}


int
h_port_up(h_t *h, void *arg)
{
    (void) h;

    return h_port_open(*(int *) arg);
}


void
h_forget_queue(h_t *h)
{
    char           pattern[64];
    size_t         i;
    redisReply    *r;
    redisContext  *c;

    c = photo_redis_connect(&h->cf);
    if (c == NULL) {
        return;
    }

    snprintf(pattern, sizeof(pattern), "test_gearman_%d_*", (int) getpid());
    r = redisCommand(c, "KEYS %s", pattern);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        freeReplyObject(redisCommand(c, "DEL %s", r->element[i]->str));
    }

    freeReplyObject(r);
    redisFree(c);
}


pid_t
h_spawn(h_t *h, const char *name, char *const argv[])
{
    int    fd;
    char   log[400];
    pid_t  pid;

    snprintf(log, sizeof(log), "%s/%s.log", h->dir, name);

    pid = fork();
    if (pid == 0) {
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }

        execv(argv[0], argv);
        _exit(127);
    }

    return pid;
}
