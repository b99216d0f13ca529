/* A worker process (see photo_worker.h). */

#include "photo_worker.h"
#include "photo_gearman.h"
#include "photo_log.h"
#include "photo_metrics_http.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define PHOTO_WORKER_BACKOFF_MIN_MS  100
#define PHOTO_WORKER_BACKOFF_MAX_MS  2000

/* a waiting client: fail fast rather than outlive its timeout */
#define PHOTO_WORKER_FG_ATTEMPTS     3


/*
 * The group of a batch function: jobs waiting to be applied together, and
 * whether a group is being applied now (by the thread that found none
 * was).
 */
struct photo_worker_group_s {
    pthread_mutex_t       lock;
    pthread_cond_t        applied;
    int                   applying;
    size_t                n;
    photo_job_t          *jobs[PHOTO_WORKER_MAX_THREADS];
};


/*
 * What the signal handler reaches: the stop flag, and the write end of
 * each connection's shutdown pipe (libgearman's), which ends its poll().
 */
static volatile sig_atomic_t  photo_worker_stop;
static int                    photo_worker_kick[PHOTO_WORKER_MAX_THREADS];
static volatile sig_atomic_t  photo_worker_nkick;


static void photo_worker_usage(photo_worker_t *w, FILE *out);
static int photo_worker_metrics(photo_worker_t *w);
static unsigned long long photo_worker_count(photo_worker_t *w,
    photo_outcome_t o);
static double photo_worker_since(const struct timespec *start);
static void photo_worker_on_signal(int signo);
static int photo_worker_register(photo_worker_thread_t *t);
static void *photo_worker_loop(void *data);
static photo_job_rc_t photo_worker_group_apply(photo_worker_t *w,
    photo_worker_function_t *fn, photo_job_t *job);
static void *photo_worker_call(gearman_job_st *gjob, void *context,
    size_t *result_size, gearman_return_t *ret_ptr);
static photo_job_rc_t photo_worker_apply(photo_worker_t *w,
    photo_worker_function_t *fn, photo_job_t *job);
static int photo_worker_backoff(photo_worker_function_t *fn,
    photo_job_t *job, const char *why);
static void photo_worker_slow(photo_worker_t *w, photo_job_t *job,
    long ms);
static void photo_worker_sleep(unsigned ms);


static const char  *photo_worker_outcomes[PHOTO_OUTCOME_N] = {
    "taken", "done", "retried", "dead", "failed", "given_back"
};


static const struct option  photo_worker_options[] = {
    { "config",    required_argument, NULL, 'c' },
    { "log-level", required_argument, NULL, 'l' },
    { "help",      no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};


int
photo_worker_init(photo_worker_t *w, int argc, char **argv,
    const char *prog, const char *about,
    const photo_worker_function_t *functions)
{
    int                 c, i;
    char                err[512];
    const char         *config, *level;
    struct sigaction    sa;
    photo_log_level_t   lv;

    memset(w, 0, sizeof(*w));
    w->prog = prog;

    /* before any thread of the worker's own may use it (the index
       worker's sender takes its flush lock under this name) */
    snprintf(w->id, sizeof(w->id), "%s-%d", prog, (int) getpid());
    w->about = about;
    w->exit_code = 2;
    w->threads = 1;
    pthread_mutex_init(&w->ctx_lock, NULL);

    for (i = 0; functions[i].name; i++) {
        if (i == PHOTO_WORKER_MAX_FUNCTIONS) {
            fprintf(stderr, "%s: too many functions\n", prog);
            return -1;
        }

        w->functions[i] = functions[i];
        w->functions[i].worker = w;
    }

    w->nfunctions = i;

    config = NULL;
    level = NULL;

    while ((c = getopt_long(argc, argv, "c:l:h", photo_worker_options, NULL))
           != -1)
    {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'h':
            photo_worker_usage(w, stdout);
            w->exit_code = 0;
            return -1;
        default:
            photo_worker_usage(w, stderr);
            return -1;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog,
                argv[optind]);
        photo_worker_usage(w, stderr);
        return -1;
    }

    if (level && photo_log_level_parse(level, &lv) != 0) {
        fprintf(stderr, "%s: --log-level \"%s\" is not one of error, warn, "
                "info, debug\n", prog, level);
        return -1;
    }

    /* defaults, then the file, then the environment, then the flags */
    w->exit_code = 1;
    photo_config_defaults(&w->cf);

    if ((config && photo_config_load_file(&w->cf, config, err, sizeof(err)))
        || photo_config_load_env(&w->cf, err, sizeof(err)))
    {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }

    if (level) {
        w->cf.log_level = lv;
    }

    photo_log_init(prog, w->cf.log_level);
    srandom((unsigned) getpid() ^ (unsigned) time(NULL));  /* jitter */
    if (photo_ctx_init(&w->ctx, &w->cf) != 0) {
        return -1;
    }

    if (photo_worker_metrics(w) != 0) {
        fprintf(stderr, "%s: metrics: out of memory\n", prog);
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = photo_worker_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* a peer that went away is an error on the call, not a dead process */
    signal(SIGPIPE, SIG_IGN);

    w->exit_code = 0;

    return 0;
}


static void
photo_worker_usage(photo_worker_t *w, FILE *out)
{
    int  i;

    fprintf(out,
        "Usage: %s [OPTIONS]\n"
        "%s\n",
        w->prog, w->about);

    for (i = 0; i < w->nfunctions; i++) {
        fprintf(out, "%s %s", i ? "" : "\nGearman functions:",
                w->functions[i].name);
    }

    fprintf(out,
        "\n\n"
        "Options:\n"
        "  -c, --config FILE      KEY=VALUE settings, read before the "
                                  "environment\n"
        "  -l, --log-level LEVEL  error, warn, info or debug (default: "
                                  "PHOTO_LOG_LEVEL, info)\n"
        "  -h, --help             this text\n"
        "\n"
        "Settings (file or environment, as in conf/stack.env):\n"
        "  PHOTO_HOST             every backend's host, unless given its "
                                  "own below\n"
        "  PHOTO_PG_HOST, PHOTO_PG_PORT, PHOTO_PG_USER, PHOTO_PG_DB\n"
        "                         (or PHOTO_PG_CONNINFO, a libpq "
                                  "connection string)\n"
        "  PHOTO_REDIS_HOST, PHOTO_REDIS_PORT\n"
        "  PHOTO_REDIS_CLUSTER_SERVERS \"host:port ...\", seed nodes of a "
                                  "Redis Cluster,\n"
        "                         used instead of PHOTO_REDIS_HOST/PORT "
                                  "(default none)\n"
        "  PHOTO_MEMCACHED_SERVERS \"host[:port] ...\", as nginx.conf's "
                                  "photo_memcached,\n"
        "                         in its order (default: PHOTO_HOST with "
                                  "each of\n"
        "                         PHOTO_MEMCACHED_PORTS)\n"
        "  PHOTO_GEARMAN_HOST, PHOTO_GEARMAN_PORT\n"
        "  PHOTO_METRICS_PORT     metrics at http://PHOTO_METRICS_HOST:PORT/"
                                  "metrics\n"
        "                         (default none; host 127.0.0.1)\n"
        "  PHOTO_SLOW_JOB_MS      a slower job is logged (default 1000)\n"
        "  PHOTO_FEED_CAP, PHOTO_LOG_LEVEL; see README.md for the rest.\n"
        "\n"
        "Logs go to stderr.  SIGTERM or SIGINT: the job at hand is finished "
        "(or,\nwhile a backend is away, given back to gearmand), then the "
        "process exits.\n");
}


/*
 * The series of this worker's jobs, each at 0 from the start (so that the
 * first of them is an increase), the backends', the process's, and
 * gearmand's queue when PHOTO_METRICS_GEARMAN=1.
 */
static int
photo_worker_metrics(photo_worker_t *w)
{
    int                       i, o;
    char                      labels[128];
    photo_worker_function_t  *fn;

    photo_metrics_backends();

    if (photo_metrics_process() != 0) {
        return -1;
    }

    for (i = 0; i < w->nfunctions; i++) {
        fn = &w->functions[i];

        for (o = 0; o < PHOTO_OUTCOME_N; o++) {
            snprintf(labels, sizeof(labels), "job=\"%s\",outcome=\"%s\"",
                     fn->name, photo_worker_outcomes[o]);

            fn->outcome[o] = photo_metrics_counter(
                "photo_worker_jobs_total",
                "Jobs taken from gearmand, and what became of them: done, "
                "dead (dead-lettered), failed (a foreground job's WORK_FAIL), "
                "given_back (to gearmand, when stopped); retried counts "
                "attempts that failed for want of a backend.", labels);
        }

        snprintf(labels, sizeof(labels), "job=\"%s\"", fn->name);

        fn->duration = photo_metrics_histogram(
            "photo_worker_job_duration_seconds",
            "Time from taking a job to its answer, retries included.",
            labels);

        if (fn->outcome[PHOTO_OUTCOME_N - 1] == NULL || fn->duration == NULL) {
            return -1;
        }
    }

    if (strcmp(w->cf.metrics_gearman, "1") == 0) {
        return photo_gearman_metrics(&w->cf);
    }

    return 0;
}


static unsigned long long
photo_worker_count(photo_worker_t *w, photo_outcome_t o)
{
    int                 i;
    unsigned long long  n;

    for (i = 0, n = 0; i < w->nfunctions; i++) {
        n += photo_metrics_value(w->functions[i].outcome[o]);
    }

    return n;
}


static void
photo_worker_on_signal(int signo)
{
    int  i, saved;

    saved = errno;
    photo_worker_stop = 1;

    /* what libgearman's gearman_kill(GEARMAN_INTERRUPT) does: one byte */
    for (i = 0; i < photo_worker_nkick; i++) {
        if (write(photo_worker_kick[i], "1", 1) < 0) {
            /* full or closed: that poll() ends anyway */
        }
    }

    errno = saved;
}


int
photo_worker_stopping(void)
{
    return photo_worker_stop;
}


void
photo_worker_wait(long seconds, long max, const char *who)
{
    long             i;
    struct timespec  ts = { 0, 100 * 1000000 };

    if (seconds > max) {
        seconds = max;
    }

    photo_log_info("%s asks for %ld s before a retry", who, seconds);

    for (i = 0; i < seconds * 10 && !photo_worker_stopping(); i++) {
        nanosleep(&ts, NULL);
    }
}


/* the Gearman worker, its identifier and functions; -1 if it cannot be */
static int
photo_worker_register(photo_worker_thread_t *t)
{
    int                       i;
    char                      names[256];
    size_t                    n;
    gearman_id_t              kick;
    photo_worker_t           *w;
    gearman_return_t          grc;

    w = t->worker;

    t->server = &w->gearman[t->n % (unsigned) w->ngearman];
    t->gearman = photo_gearman_worker(t->server);
    if (t->gearman == NULL) {
        return -1;
    }

    /* no timeout: an idle worker waits in poll() (see photo_worker.h) */
    gearman_worker_set_timeout(t->gearman, -1);
    gearman_worker_add_options(t->gearman, GEARMAN_WORKER_GRAB_UNIQ);

    kick = gearman_worker_id(t->gearman);    /* its shutdown pipe */
    if (!gearman_id_valid(kick)) {
        photo_log_error("gearman: no shutdown pipe");
        return -1;
    }

    photo_worker_kick[t->n] = kick.write_fd;

    /* "gearadmin --workers" shows who is who */
    gearman_worker_set_identifier(t->gearman, w->id, strlen(w->id));

    n = 0;
    names[0] = '\0';

    for (i = 0; i < w->nfunctions; i++) {
        grc = gearman_worker_add_function(t->gearman, w->functions[i].name,
                                          0, photo_worker_call,
                                          &w->functions[i]);
        if (grc != GEARMAN_SUCCESS) {
            photo_log_error("gearman: cannot register %s: %s",
                            w->functions[i].name,
                            gearman_worker_error(t->gearman));
            return -1;
        }

        n += (size_t) snprintf(names + n, sizeof(names) - n, "%s%s",
                               i ? ", " : "", w->functions[i].name);
        n = n < sizeof(names) ? n : sizeof(names) - 1;
    }

    if (t->n < (unsigned) w->ngearman) {
        photo_log_info("taking %s jobs from gearmand %s, %u at a time",
                       names, t->server->name,
                       (w->threads - t->n + (unsigned) w->ngearman - 1)
                       / (unsigned) w->ngearman);
    }

    return 0;
}


int
photo_worker_run(photo_worker_t *w)
{
    int                       i;
    unsigned                  n, started;
    photo_worker_group_t     *g;

    if (w->threads == 0 || w->threads > PHOTO_WORKER_MAX_THREADS) {
        photo_log_error("%u threads: 1 to %d", w->threads,
                        PHOTO_WORKER_MAX_THREADS);
        return 1;
    }

    w->ngearman = photo_gearman_servers(&w->cf, w->gearman,
                                        PHOTO_GEARMAN_MAX);
    if (w->ngearman == -1) {
        return 1;
    }

    /* every gearmand's jobs need a connection that takes them */
    if (w->threads < (unsigned) w->ngearman) {
        w->threads = (unsigned) w->ngearman;
    }

    if (w->cf.metrics_port
        && photo_metrics_http_start(w->cf.metrics_host, w->cf.metrics_port)
           != 0)
    {
        return 1;
    }

    for (i = 0; i < w->nfunctions; i++) {
        if (w->functions[i].batch == NULL) {
            continue;
        }

        g = calloc(1, sizeof(photo_worker_group_t));
        if (g == NULL) {
            photo_log_error("out of memory");
            return 1;
        }

        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->applied, NULL);
        w->functions[i].group = g;
    }

    w->thread = calloc(w->threads, sizeof(photo_worker_thread_t));
    if (w->thread == NULL) {
        photo_log_error("out of memory");
        return 1;
    }

    for (n = 0; n < w->threads; n++) {
        w->thread[n].worker = w;
        w->thread[n].n = n;

        if (photo_worker_register(&w->thread[n]) != 0) {
            return 1;
        }
    }

    /* from now on a signal ends every connection's wait */
    photo_worker_nkick = (sig_atomic_t) w->threads;

    if (photo_worker_stop) {
        return 0;
    }

    for (started = 1; started < w->threads; started++) {
        if (pthread_create(&w->thread[started].tid, NULL, photo_worker_loop,
                           &w->thread[started])
            != 0)
        {
            photo_log_error("cannot start thread %u: %s", started,
                            strerror(errno));
            photo_worker_on_signal(SIGTERM);
            break;
        }
    }

    photo_worker_loop(&w->thread[0]);

    for (n = 1; n < started; n++) {
        pthread_join(w->thread[n].tid, NULL);
    }

    photo_log_info("stopping: %llu applied, %llu dead-lettered, %llu failed, "
                   "%llu given back", photo_worker_count(w, PHOTO_OUTCOME_DONE),
                   photo_worker_count(w, PHOTO_OUTCOME_DEAD),
                   photo_worker_count(w, PHOTO_OUTCOME_FAILED),
                   photo_worker_count(w, PHOTO_OUTCOME_GIVEN_BACK));

    return 0;
}


/* one connection's jobs, until SIGTERM */
static void *
photo_worker_loop(void *data)
{
    photo_worker_thread_t  *t = data;

    photo_worker_t    *w;
    gearman_return_t   grc;

    w = t->worker;

    while (!photo_worker_stop) {
        grc = gearman_worker_work(t->gearman);

        switch (grc) {

        case GEARMAN_SUCCESS:
        case GEARMAN_WORK_FAIL:         /* a foreground job we failed */
        case GEARMAN_IO_WAIT:
        case GEARMAN_NO_JOBS:
        case GEARMAN_TIMEOUT:
            if (t->outage) {
                photo_log_info("gearmand %s is back", t->server->name);
                t->outage = 0;

                /* libgearman 1.1.20 does not send it again by itself */
                gearman_worker_set_identifier(t->gearman, w->id,
                                              strlen(w->id));
            }
            break;

        case GEARMAN_SHUTDOWN:
        case GEARMAN_SHUTDOWN_GRACEFUL:  /* a signal woke it */
            break;

        default:
            /* gearmand away: libgearman reconnects on the next call */
            photo_metrics_backend_error(PHOTO_BACKEND_GEARMAN);

            if (t->outage++ == 0) {
                photo_log_warn("gearmand %s: %s; reconnecting",
                               t->server->name,
                               gearman_worker_error(t->gearman));
            }

            photo_log_debug("gearmand: %s", gearman_strerror(grc));

            photo_worker_sleep(photo_worker_delay(t->outage));
            break;
        }
    }

    return NULL;
}


int
photo_worker_main(int argc, char **argv, const char *prog, const char *about,
    const photo_worker_function_t *functions)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, prog, about, functions) != 0) {
        return w.exit_code;
    }

    rc = photo_worker_run(&w);

    photo_worker_done(&w);

    return rc;
}


void
photo_worker_done(photo_worker_t *w)
{
    int       i;
    unsigned  n;

    photo_worker_nkick = 0;
    photo_metrics_http_stop();

    for (n = 0; w->thread && n < w->threads; n++) {
        if (w->thread[n].gearman) {
            gearman_worker_free(w->thread[n].gearman);
        }
    }

    free(w->thread);
    w->thread = NULL;

    for (i = 0; i < w->nfunctions; i++) {
        if (w->functions[i].group) {
            pthread_mutex_destroy(&w->functions[i].group->lock);
            pthread_cond_destroy(&w->functions[i].group->applied);
            free(w->functions[i].group);
            w->functions[i].group = NULL;
        }
    }

    photo_ctx_free(&w->ctx);
    pthread_mutex_destroy(&w->ctx_lock);
}


/*
 * The libgearman callback (the v1 API of gearman_worker_add_function).
 * What *ret_ptr makes libgearman 1.1.20 do (libgearman/worker.cc):
 * GEARMAN_SUCCESS sends WORK_COMPLETE; GEARMAN_LOST_CONNECTION closes the
 * connection without an answer, and gearmand requeues the job of a worker
 * that disconnected; any other failure (GEARMAN_ERROR and GEARMAN_FATAL
 * included) sends WORK_FAIL, and gearmand deletes the job, also from its
 * persistent queue.
 */
static void *
photo_worker_call(gearman_job_st *gjob, void *context, size_t *result_size,
    gearman_return_t *ret_ptr)
{
    void                     *result;
    photo_job_t               job;
    photo_job_rc_t            rc;
    photo_outcome_t           outcome;
    photo_worker_t           *w;
    photo_worker_function_t  *fn;
    struct timespec           start;

    fn = context;
    w = fn->worker;
    result = NULL;
    *result_size = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    photo_metrics_inc(fn->outcome[PHOTO_OUTCOME_TAKEN]);

    if (photo_job_init(&job, fn->name, gearman_job_unique(gjob),
                       gearman_job_workload(gjob),
                       gearman_job_workload_size(gjob))
        != 0)
    {
        photo_log_error("%s: out of memory for the payload", fn->name);
        rc = PHOTO_JOB_RETRY;

    } else {
        rc = photo_worker_apply(w, fn, &job);
    }

    switch (rc) {

    case PHOTO_JOB_DONE:
        outcome = PHOTO_OUTCOME_DONE;
        result = job.result;
        *result_size = job.result_len;
        job.result = NULL;
        *ret_ptr = GEARMAN_SUCCESS;
        break;

    case PHOTO_JOB_DEAD:
        outcome = fn->kind == PHOTO_JOB_BACKGROUND ? PHOTO_OUTCOME_DEAD
                                                   : PHOTO_OUTCOME_FAILED;
        *ret_ptr = fn->kind == PHOTO_JOB_BACKGROUND ? GEARMAN_SUCCESS
                                                    : GEARMAN_WORK_FAIL;
        break;

    default:
        outcome = fn->kind == PHOTO_JOB_BACKGROUND ? PHOTO_OUTCOME_GIVEN_BACK
                                                   : PHOTO_OUTCOME_FAILED;
        *ret_ptr = fn->kind == PHOTO_JOB_BACKGROUND ? GEARMAN_LOST_CONNECTION
                                                    : GEARMAN_WORK_FAIL;
        break;
    }

    photo_metrics_inc(fn->outcome[outcome]);
    photo_metrics_observe(fn->duration, photo_worker_since(&start));

    photo_job_free(&job);

    return result;
}


/*
 * The job until it is applied, dead-lettered or given up, with this
 * thread's log lines naming it; then the slow job's line, if it was.
 */
static photo_job_rc_t
photo_worker_apply(photo_worker_t *w, photo_worker_function_t *fn,
    photo_job_t *job)
{
    long             ms;
    photo_job_rc_t   rc;
    struct timespec  start;

    clock_gettime(CLOCK_MONOTONIC, &start);
    photo_log_jobs(&job, 1);

    for ( ;; ) {
        if (fn->group) {
            rc = photo_worker_group_apply(w, fn, job);

        } else {
            pthread_mutex_lock(&w->ctx_lock);
            photo_metrics_spent_take(NULL);
            rc = fn->handler(&w->ctx, job);
            photo_metrics_spent_take(&job->spent);
            pthread_mutex_unlock(&w->ctx_lock);
        }

        if (rc != PHOTO_JOB_RETRY) {
            break;
        }

        photo_metrics_inc(fn->outcome[PHOTO_OUTCOME_RETRIED]);

        if (photo_worker_backoff(fn, job, job->reason) != 0) {
            goto done;
        }
    }

    if (rc == PHOTO_JOB_DONE) {
        goto done;
    }

    if (fn->kind == PHOTO_JOB_FOREGROUND) {
        photo_log_warn("failed: %s", job->reason);
        goto done;
    }

    photo_log_warn("dead letter: %s", job->reason);

    for ( ;; ) {
        pthread_mutex_lock(&w->ctx_lock);
        rc = photo_ctx_dead_letter(&w->ctx, job) == 0 ? PHOTO_JOB_DEAD
                                                       : PHOTO_JOB_RETRY;
        photo_metrics_spent_take(&job->spent);
        pthread_mutex_unlock(&w->ctx_lock);

        if (rc == PHOTO_JOB_DEAD
            || photo_worker_backoff(fn, job, "cannot store the dead letter")
               != 0)
        {
            break;
        }
    }

done:

    photo_log_jobs(NULL, 0);

    ms = photo_worker_ms_since(&start);

    if (ms >= w->cf.slow_job_ms) {
        photo_worker_slow(w, job, ms);

    } else {
        photo_log_debug("%s %s: %s in %ld ms", job->name, job->unique,
                        rc == PHOTO_JOB_DONE ? "done" : "ended", ms);
    }

    return rc;
}


/*
 * "slow job: photo_persist 42-ab took 1520 ms, 2 attempts: postgres 1200
 * ms in 3 calls, redis 10 ms in 2 calls, the rest 310 ms".  The rest is the
 * handler's own work, waiting for the group before, backoff, and what is
 * not timed (the handlers' own Redis commands).
 */
static void
photo_worker_slow(photo_worker_t *w, photo_job_t *job, long ms)
{
    int       b, n;
    char      where[512];
    size_t    len;
    uint64_t  timed;

    len = 0;
    timed = 0;
    where[0] = '\0';

    for (b = 0; b < PHOTO_BACKEND_N && len < sizeof(where); b++) {
        if (job->spent.calls[b] == 0) {
            continue;
        }

        timed += job->spent.ns[b];
        n = snprintf(where + len, sizeof(where) - len, "%s %llu ms in %u "
                     "call%s, ", photo_backend_names[b],
                     (unsigned long long) (job->spent.ns[b] / 1000000),
                     job->spent.calls[b], job->spent.calls[b] == 1 ? "" : "s");
        len += n > 0 ? (size_t) n : 0;
    }

    photo_log_warn("slow job: %s %s took %ld ms (over %d), %u attempt%s: "
                   "%sthe rest %lld ms", job->name,
                   job->unique[0] ? job->unique : "-", ms,
                   w->cf.slow_job_ms, job->attempt,
                   job->attempt == 1 ? "" : "s", where,
                   (long long) ms - (long long) (timed / 1000000) > 0
                   ? (long long) ms - (long long) (timed / 1000000) : 0);
}


/*
 * Group commit: job joins the waiting group; the thread that finds no
 * group being applied applies all that wait (its own job among them),
 * the others sleep until theirs was.  No timer: a group is what arrived
 * while the one before was applied.
 */
static photo_job_rc_t
photo_worker_group_apply(photo_worker_t *w, photo_worker_function_t *fn,
    photo_job_t *job)
{
    size_t                 i, n;
    photo_job_t           *jobs[PHOTO_WORKER_MAX_THREADS];
    photo_worker_group_t  *g;
    photo_metrics_spent_t  spent;

    g = fn->group;

    pthread_mutex_lock(&g->lock);

    job->applied = 0;
    job->rc = PHOTO_JOB_RETRY;
    g->jobs[g->n++] = job;

    while (!job->applied) {

        if (g->applying) {
            pthread_cond_wait(&g->applied, &g->lock);
            continue;
        }

        g->applying = 1;
        n = g->n;
        memcpy(jobs, g->jobs, n * sizeof(photo_job_t *));
        g->n = 0;

        pthread_mutex_unlock(&g->lock);

        photo_log_jobs(jobs, n);

        pthread_mutex_lock(&w->ctx_lock);
        photo_metrics_spent_take(NULL);
        fn->batch(&w->ctx, jobs, n);
        memset(&spent, 0, sizeof(spent));
        photo_metrics_spent_take(&spent);
        pthread_mutex_unlock(&w->ctx_lock);

        photo_log_jobs(&job, 1);

        pthread_mutex_lock(&g->lock);

        for (i = 0; i < n; i++) {
            photo_metrics_spent_add(&jobs[i]->spent, &spent);
            jobs[i]->applied = 1;
        }

        g->applying = 0;
        pthread_cond_broadcast(&g->applied);
    }

    pthread_mutex_unlock(&g->lock);

    return job->rc;
}


/* 0: try again now; -1: give the job up (stopping, or a client waits) */
static int
photo_worker_backoff(photo_worker_function_t *fn, photo_job_t *job,
    const char *why)
{
    unsigned  ms;

    if (fn->kind == PHOTO_JOB_FOREGROUND
        && job->attempt >= PHOTO_WORKER_FG_ATTEMPTS)
    {
        photo_log_error("%s; failed after %u attempts", why, job->attempt);
        return -1;
    }

    if (!photo_worker_stop) {
        ms = photo_worker_delay(job->attempt);

        /* every attempt while it is new, then now and then */
        if (job->attempt <= 3 || job->attempt % 30 == 0) {
            photo_log(job->attempt <= 3 ? PHOTO_LOG_WARN : PHOTO_LOG_ERROR,
                      "%s; again in %u ms", why, ms);
        }

        photo_worker_sleep(ms);
    }

    if (photo_worker_stop) {
        photo_log_warn("%s; stopping, the job goes back to gearmand", why);
        return -1;
    }

    job->attempt++;

    return 0;
}


unsigned
photo_worker_delay(unsigned attempt)
{
    unsigned  ms;

    ms = PHOTO_WORKER_BACKOFF_MIN_MS << (attempt < 6 ? attempt - 1 : 5);
    ms = ms < PHOTO_WORKER_BACKOFF_MAX_MS ? ms : PHOTO_WORKER_BACKOFF_MAX_MS;

    /*
     * Jitter: half the delay, plus up to the other half at random, so that
     * the workers waiting on a backend that comes back do not all retry in
     * the same millisecond.
     */
    return ms / 2 + (unsigned) (random() % (ms / 2 + 1));
}


/* in short steps, so that SIGTERM is seen within one */
static void
photo_worker_sleep(unsigned ms)
{
    unsigned         step;
    struct timespec  ts;

    while (ms && !photo_worker_stop) {
        step = ms < 50 ? ms : 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long) step * 1000000;

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR
               && !photo_worker_stop)
        { /* void */ }

        ms -= step;
    }
}


long
photo_worker_ms_since(const struct timespec *start)
{
    return (long) (photo_worker_since(start) * 1000);
}


/* seconds, to the nanosecond: a job's duration */
static double
photo_worker_since(const struct timespec *start)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (double) (now.tv_sec - start->tv_sec)
           + (now.tv_nsec - start->tv_nsec) / 1e9;
}
