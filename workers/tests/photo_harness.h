/*
 * What the worker tests and the fan-out bench share: the stack's backends
 * (Postgres, Redis, memcached, from the environment of conf/stack.env), a
 * private gearmand each (its own port and sqlite queue, so that workers
 * started by scripts/stack never take a test's jobs and a test may stop
 * it), the built worker binaries started as child processes, jobs
 * submitted with libgearman, and waiting for an effect with a deadline.
 *
 * Redis is the stack's one server, or its Redis Cluster when the stack
 * runs one (PHOTO_REDIS_CLUSTER=1 in conf/stack.env's environment: the
 * harness gives its workers, and itself, the seed nodes scripts/stack
 * gives its own, PHOTO_REDIS_CLUSTER_SERVERS); each command goes to the
 * node serving its key.
 *
 * Any failure of the harness itself ends the test with exit status 2.
 */

#ifndef PHOTO_HARNESS_H
#define PHOTO_HARNESS_H

#include <hiredis/hiredis.h>
#include <libgearman/gearman.h>
#include <libmemcached/memcached.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <sys/types.h>

#include "photo_config.h"
#include "photo_redis.h"

#define H_MAX_WORKERS  8
#define H_PIPE_MAX     4096     /* commands pipelined (h_redis_append) */

typedef struct {
    const char         *name;
    photo_config_t      cf;              /* the stack's */
    char                dir[128];        /* scratch: queue, logs */
    int                 gearman_port;    /* the private gearmand */
    pid_t               gearmand;
    pid_t               workers[H_MAX_WORKERS];
    int                 nworkers;
    PGconn             *pg;
    photo_redis_t       redis;
    redisContext       *pipe[H_PIPE_MAX];  /* where each reply is awaited,
                                              oldest at pipe_head */
    size_t              pipe_head;
    size_t              pipe_n;
    memcached_st       *mc;
    gearman_client_st  *client;
} h_t;

void h_init(h_t *h, const char *name);
/* keep: leave the scratch folder (logs) for a failed test */
void h_done(h_t *h, int keep);

/* the private gearmand, on the same port and queue file each time */
void h_gearmand_start(h_t *h);
void h_gearmand_stop(h_t *h, int signo);

/*
 * A worker binary (photo_persist...) with the stack's settings, the
 * private gearmand, and extra KEY=VALUE settings (NULL-terminated); its
 * log goes to <dir>/<bin>-<pid>.log.  stop: signal it and reap it; the
 * wait status, or -1 when it did not end within timeout_ms (then killed).
 */
pid_t h_worker(h_t *h, const char *bin, ...) __attribute__((sentinel));
int h_worker_stop(h_t *h, pid_t pid, int signo, int timeout_ms);
int h_worker_alive(pid_t pid);
int h_log_has(h_t *h, pid_t pid, const char *bin, const char *text);
/* lines of its log that hold text */
int h_log_count(h_t *h, pid_t pid, const char *bin, const char *text);

/* jobs: background (0 or -1), foreground (the answer, malloc, or NULL) */
int h_submit(h_t *h, const char *function, const char *unique,
    const char *payload);
char *h_call(h_t *h, const char *function, const char *payload);

/* a photo_follow job: follower follows (or unfollows, ...) followee */
int h_follow(h_t *h, const char *unique, long long follower,
    long long followee, const char *action);

/* jobs of function gearmand holds (queued + running), from "status" */
long h_queued(h_t *h, const char *function);

/* polls cond every 10 ms; 1 when it held within timeout_ms */
/* something accepts connections on 127.0.0.1:port; as an h_wait()
   condition, arg pointing at the port */
int h_port_open(int port);
int h_port_up(h_t *h, void *arg);

/* argv (argv[0] a path) started in the background, its output in
   <h->dir>/<name>.log: its pid, or -1 */
pid_t h_spawn(h_t *h, const char *name, char *const argv[]);

/* the private gearmand's queue, in the stack's Redis: this run's only */
void h_forget_queue(h_t *h);

int h_wait(h_t *h, int (*cond)(h_t *h, void *arg), void *arg,
    int timeout_ms);
int h_wait_drained(h_t *h, const char *function, int timeout_ms);

/* SQL (aborts on error), its one integer answer */
PGresult *h_sql(h_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
long long h_sql_int(h_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Redis: a command (hiredis's format, %b too) sent to the node serving
 * its argv[1], its key; so not for a command about no key, or about keys
 * of several slots (a MOVED, ASK or CROSSSLOT reply ends the test).  Its
 * reply, or its one integer answer.  Pipelined: each appended, then the
 * replies read back in the order of the commands (h_redis_reply).
 */
redisReply *h_redis(h_t *h, const char *fmt, ...);
long long h_redis_int(h_t *h, const char *fmt, ...);
void h_redis_append(h_t *h, const char *fmt, ...);
redisReply *h_redis_reply(h_t *h);

/* a worker's KEY=VALUE that has Redis away: the server's port, or the
   cluster's seeds, a port nothing listens on */
void h_redis_away(h_t *h, char *setting, size_t size);

/* every key matching the pattern (KEYS, on each node) deleted */
void h_redis_del_keys(h_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

char *h_mc_get(h_t *h, const char *key, size_t *len, uint32_t *flags);

/* the dead letter of function whose payload carries unique, taken out */
char *h_dead_letter(h_t *h, const char *function, const char *unique);

/*
 * Test data in an id range of the test's own: users lo..lo+n-1 named
 * "w<id>" (no usable password), and everything of them deleted again
 * (rows by cascade, their feed, user_photos, likes and activity lists in
 * Redis).
 */
void h_users(h_t *h, long long lo, long long n);
void h_forget(h_t *h, long long lo, long long n);

/* feed:{<id>} of users lo..lo+n-1 in Redis, complete and empty (their
   marker alone), as a read builds them: fan-out adds to such lists only */
void h_feeds_complete(h_t *h, long long lo, long long n);

/* the zero-padded list member of an id */
const char *h_pad(long long id);

/* a free TCP port on 127.0.0.1, as the kernel picks it */
int h_free_port(void);

double h_now(void);
void h_sleep_ms(int ms);

#endif /* PHOTO_HARNESS_H */
