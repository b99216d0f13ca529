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
static char *h_admin(h_t *h, const char *command);
static int h_port_open(int port);


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
    h->redis = photo_redis_connect(&h->cf);
    h->mc = photo_memcached_pool(&h->cf);

    if (h->pg == NULL || h->redis == NULL || h->mc == NULL) {
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
    redisFree(h->redis);
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
    va_list      args;
    redisReply  *r;

    va_start(args, fmt);
    r = redisvCommand(h->redis, fmt, args);
    va_end(args);

    if (r == NULL) {
        h_die("redis: %s", h->redis->errstr);
    }

    return r;
}


long long
h_redis_int(h_t *h, const char *fmt, ...)
{
    va_list      args;
    long long    v;
    redisReply  *r;

    va_start(args, fmt);
    r = redisvCommand(h->redis, fmt, args);
    va_end(args);

    if (r == NULL) {
        h_die("redis: %s", h->redis->errstr);
    }

    v = r->type == REDIS_REPLY_INTEGER ? r->integer
        : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;

    freeReplyObject(r);

    return v;
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
h_forget(h_t *h, long long lo, long long n)
{
    long long    i, pending;
    void        *reply;

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  lo, lo + n - 1));
    PQclear(h_sql(h, "delete from users where id between %lld and %lld",
                  lo, lo + n - 1));

    pending = 0;

    for (i = 0; i < n; i++) {
        redisAppendCommand(h->redis, "DEL feed:{%lld} user_photos:{%lld}",
                           lo + i, lo + i);

        if (++pending == 1000 || i == n - 1) {
            while (pending--) {
                if (redisGetReply(h->redis, &reply) != REDIS_OK) {
                    h_die("redis: %s", h->redis->errstr);
                }

                freeReplyObject(reply);
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


static int
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
