/*
 * A worker process: options and configuration, signals, the Gearman loop,
 * and what becomes of each job.  A worker binary names its functions and
 * their handlers; the rest is here.
 *
 * What becomes of a job:
 *
 *   - applied: WORK_COMPLETE (a foreground job with its answer);
 *   - transient failure (a backend away): the same job is tried again in
 *     this process, with a growing delay (100 ms up to 2 s) and the
 *     connections made anew, until it is applied.  A background job is
 *     never lost: when SIGTERM comes while it waits, it is given back to
 *     gearmand (the connection is closed mid-job, which makes gearmand
 *     requeue it; a WORK_FAIL would make gearmand drop it), then the
 *     process exits.  A foreground job (a client is waiting) gets
 *     WORK_FAIL after a few attempts, so that nginx can answer 503 now;
 *   - permanent failure (bad payload, unknown user...): a background job is
 *     pushed to dead_letter:<name> with the reason, then completed; a
 *     foreground job gets WORK_FAIL (its handler answers the errors a user
 *     can cause, and passwords are not to be kept anywhere).
 *
 * SIGTERM or SIGINT: the job at hand is finished, then the process exits.
 *
 * Waiting for jobs costs nothing: libgearman waits with no timeout (its
 * poll() ends when gearmand sends work, or when a signal writes to the
 * worker's shutdown pipe).  A timeout there is not only a wake-up now and
 * then: libgearman 1.1.20 sends GRAB_JOB again after a timeout with the
 * answer to the first still on its way, and from then on each answer is
 * taken for the next one's, a NO_JOB always in flight, PRE_SLEEP woken at
 * once: a worker and gearmand spinning on an empty queue.
 *
 * Group commit.  A function with a batch handler has its jobs applied
 * together: the worker holds up to `threads` jobs at once (one Gearman
 * connection per thread, each holding one job, as libgearman's worker
 * API allows), and while one group is being applied the jobs that arrive
 * wait to form the next.  Under load the groups grow; alone, a job is a
 * group of one and waits for nothing.  Each job is still answered to
 * gearmand only once its group was applied, so it is no less durable.
 *
 * Metrics (photo_metrics.h), served on PHOTO_METRICS_PORT when it is set:
 * photo_worker_jobs_total{job,outcome} counts each job taken and what
 * became of it (done; dead: dead-lettered; failed: a foreground job's
 * WORK_FAIL; given_back: to gearmand, at SIGTERM) and each attempt that
 * failed for want of a backend (retried); photo_worker_job_duration_seconds
 * {job} is the time from taking a job to its answer, retries included.  A
 * job slower than PHOTO_SLOW_JOB_MS is logged with where its time went.
 */

#ifndef PHOTO_WORKER_H
#define PHOTO_WORKER_H

#include "photo_gearman.h"
#include <pthread.h>
#include <time.h>

#include "photo_config.h"
#include "photo_ctx.h"
#include "photo_job.h"
#include "photo_metrics.h"

#define PHOTO_WORKER_MAX_FUNCTIONS  4
#define PHOTO_WORKER_MAX_THREADS    64

typedef photo_job_rc_t (*photo_job_handler_pt)(photo_ctx_t *ctx,
    photo_job_t *job);

/* n jobs at once: sets jobs[i]->rc (and reason) for each */
typedef void (*photo_batch_handler_pt)(photo_ctx_t *ctx, photo_job_t **jobs,
    size_t n);

typedef enum {
    PHOTO_JOB_BACKGROUND = 0,       /* submitted and left: never lost */
    PHOTO_JOB_FOREGROUND            /* a client waits for the answer */
} photo_job_kind_t;

/* photo_worker_jobs_total's outcome label */
typedef enum {
    PHOTO_OUTCOME_TAKEN = 0,
    PHOTO_OUTCOME_DONE,
    PHOTO_OUTCOME_RETRIED,
    PHOTO_OUTCOME_DEAD,
    PHOTO_OUTCOME_FAILED,
    PHOTO_OUTCOME_GIVEN_BACK,
    PHOTO_OUTCOME_N
} photo_outcome_t;

typedef struct photo_worker_s        photo_worker_t;
typedef struct photo_worker_group_s  photo_worker_group_t;

typedef struct {
    const char              *name;
    photo_job_handler_pt     handler;
    photo_job_kind_t         kind;
    photo_worker_t          *worker;
    photo_batch_handler_pt   batch;     /* jobs applied in groups, or NULL */
    photo_worker_group_t    *group;
    photo_metric_t          *outcome[PHOTO_OUTCOME_N];
    photo_metric_t          *duration;
} photo_worker_function_t;

/* one Gearman connection and the thread that takes jobs from it */
typedef struct {
    photo_worker_t          *worker;
    photo_gearman_server_t  *server;    /* its gearmand */
    gearman_worker_st       *gearman;
    pthread_t                tid;
    unsigned                 n;
    int                      outage;
} photo_worker_thread_t;

struct photo_worker_s {
    const char               *prog;
    const char               *about;
    char                      id[64];         /* photo_<kind>-<pid> */
    photo_config_t            cf;
    photo_ctx_t               ctx;            /* used under ctx_lock */
    pthread_mutex_t           ctx_lock;
    photo_worker_function_t   functions[PHOTO_WORKER_MAX_FUNCTIONS];
    int                       nfunctions;
    int                       exit_code;      /* when init returns -1 */
    unsigned                  threads;        /* set before photo_worker_run:
                                                 jobs held at once (1); at
                                                 least one per gearmand */
    photo_gearman_server_t    gearman[PHOTO_GEARMAN_MAX];
    int                       ngearman;       /* thread n takes from
                                                 gearman[n % ngearman] */
    photo_worker_thread_t    *thread;
};

/*
 * The functions this worker takes (a table ending with a NULL name),
 * options (--help, --config FILE, --log-level LEVEL), configuration,
 * logging and signals.  -1 means exit now with w->exit_code (0 after
 * --help, 2 for a usage error, 1 for a bad configuration).
 */
int photo_worker_init(photo_worker_t *w, int argc, char **argv,
    const char *prog, const char *about,
    const photo_worker_function_t *functions);

/* jobs until SIGTERM, on w->threads connections; the exit code */
int photo_worker_run(photo_worker_t *w);

/* init, run, done: the whole main() of a worker that needs nothing more */
int photo_worker_main(int argc, char **argv, const char *prog,
    const char *about, const photo_worker_function_t *functions);

void photo_worker_done(photo_worker_t *w);

/* SIGTERM or SIGINT has come: a long handler may look */
int photo_worker_stopping(void);

/*
 * What a service's Retry-After asked for, at most max seconds, logged, in
 * steps of 100 ms that see SIGTERM (the job is then given back at once).
 */
void photo_worker_wait(long seconds, long max, const char *who);

/* the wait before attempt N+1 (from 1): doubling, capped, with jitter */
unsigned photo_worker_delay(unsigned attempt);
long photo_worker_ms_since(const struct timespec *start);

#endif /* PHOTO_WORKER_H */
