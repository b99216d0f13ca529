/* A worker process (see photo_worker.h). */

#include "photo_worker.h"
#include "photo_gearman.h"
#include "photo_log.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* gearman_worker_work() returns this often when idle, to see SIGTERM */
#define PHOTO_WORKER_POLL_MS         500

#define PHOTO_WORKER_BACKOFF_MIN_MS  100
#define PHOTO_WORKER_BACKOFF_MAX_MS  2000

/* a waiting client: fail fast rather than outlive its timeout */
#define PHOTO_WORKER_FG_ATTEMPTS     3


static volatile sig_atomic_t  photo_worker_stop;


static void photo_worker_usage(photo_worker_t *w, FILE *out);
static void photo_worker_on_signal(int signo);
static int photo_worker_register(photo_worker_t *w);
static void *photo_worker_call(gearman_job_st *gjob, void *context,
    size_t *result_size, gearman_return_t *ret_ptr);
static photo_job_rc_t photo_worker_apply(photo_worker_t *w,
    photo_worker_function_t *fn, photo_job_t *job);
static int photo_worker_backoff(photo_worker_function_t *fn,
    photo_job_t *job, const char *why);
static void photo_worker_sleep(unsigned ms);


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
    w->about = about;
    w->exit_code = 2;

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
    photo_ctx_init(&w->ctx, &w->cf);

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
        "Settings (file or environment, as in conf/stack.env): PHOTO_HOST,\n"
        "PHOTO_PG_PORT, PHOTO_PG_USER, PHOTO_PG_DB (or PHOTO_PG_CONNINFO),\n"
        "PHOTO_REDIS_PORT, PHOTO_MEMCACHED_PORTS, PHOTO_GEARMAN_PORT,\n"
        "PHOTO_FEED_CAP, PHOTO_LOG_LEVEL.\n"
        "\n"
        "Logs go to stderr.  SIGTERM or SIGINT: the job at hand is finished "
        "(or,\nwhile a backend is away, given back to gearmand), then the "
        "process exits.\n");
}


static void
photo_worker_on_signal(int signo)
{
    photo_worker_stop = 1;
}


int
photo_worker_stopping(void)
{
    return photo_worker_stop;
}


/* the Gearman worker, its identifier and functions; -1 if it cannot be */
static int
photo_worker_register(photo_worker_t *w)
{
    int               i;
    char              names[256];
    size_t            n;
    gearman_return_t  grc;

    w->gearman = photo_gearman_worker(&w->cf);
    if (w->gearman == NULL) {
        return -1;
    }

    gearman_worker_set_timeout(w->gearman,
                               w->idle ? (int) w->idle_ms
                                       : PHOTO_WORKER_POLL_MS);
    gearman_worker_add_options(w->gearman, GEARMAN_WORKER_GRAB_UNIQ);

    /* "gearadmin --workers" shows who is who (scripts/stack looks) */
    snprintf(w->id, sizeof(w->id), "%s-%d", w->prog, (int) getpid());
    gearman_worker_set_identifier(w->gearman, w->id, strlen(w->id));

    n = 0;
    names[0] = '\0';

    for (i = 0; i < w->nfunctions; i++) {
        grc = gearman_worker_add_function(w->gearman, w->functions[i].name,
                                          0, photo_worker_call,
                                          &w->functions[i]);
        if (grc != GEARMAN_SUCCESS) {
            photo_log_error("gearman: cannot register %s: %s",
                            w->functions[i].name,
                            gearman_worker_error(w->gearman));
            return -1;
        }

        n += (size_t) snprintf(names + n, sizeof(names) - n, "%s%s",
                               i ? ", " : "", w->functions[i].name);
        n = n < sizeof(names) ? n : sizeof(names) - 1;
    }

    photo_log_info("taking %s jobs from gearmand %s:%d", names, w->cf.host,
                   w->cf.gearman_port);

    return 0;
}


int
photo_worker_run(photo_worker_t *w)
{
    unsigned          outage;
    gearman_return_t  grc;

    if (photo_worker_register(w) != 0) {
        return 1;
    }

    outage = 0;

    while (!photo_worker_stop) {
        grc = gearman_worker_work(w->gearman);

        switch (grc) {

        case GEARMAN_TIMEOUT:           /* idle: look at the flag again */
            if (w->idle) {
                w->idle(&w->ctx);
            }

            /* fall through */

        case GEARMAN_SUCCESS:
        case GEARMAN_WORK_FAIL:         /* a foreground job we failed */
        case GEARMAN_IO_WAIT:
        case GEARMAN_NO_JOBS:
            if (outage) {
                photo_log_info("gearmand %s:%d is back", w->cf.host,
                               w->cf.gearman_port);
                outage = 0;

                /* libgearman 1.1.20 does not send it again by itself */
                gearman_worker_set_identifier(w->gearman, w->id,
                                              strlen(w->id));
            }
            break;

        default:
            /* gearmand away: libgearman reconnects on the next call */
            if (outage++ == 0) {
                photo_log_warn("gearmand %s:%d: %s; reconnecting",
                               w->cf.host, w->cf.gearman_port,
                               gearman_worker_error(w->gearman));
            }

            photo_log_debug("gearmand: %s", gearman_strerror(grc));

            photo_worker_sleep(photo_worker_delay(outage));
            break;
        }
    }

    if (w->idle) {
        w->idle(&w->ctx);               /* what it holds, before leaving */
    }

    photo_log_info("stopping: %lu applied, %lu dead-lettered, %lu given "
                   "back", w->applied, w->dead, w->given_back);

    return 0;
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
    if (w->gearman) {
        gearman_worker_free(w->gearman);
        w->gearman = NULL;
    }

    photo_ctx_free(&w->ctx);
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
    photo_worker_t           *w;
    photo_worker_function_t  *fn;

    fn = context;
    w = fn->worker;
    result = NULL;
    *result_size = 0;

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
        w->applied++;
        result = job.result;
        *result_size = job.result_len;
        job.result = NULL;
        *ret_ptr = GEARMAN_SUCCESS;
        break;

    case PHOTO_JOB_DEAD:
        w->dead++;
        *ret_ptr = fn->kind == PHOTO_JOB_BACKGROUND ? GEARMAN_SUCCESS
                                                    : GEARMAN_WORK_FAIL;
        break;

    default:
        w->given_back++;
        *ret_ptr = fn->kind == PHOTO_JOB_BACKGROUND ? GEARMAN_LOST_CONNECTION
                                                    : GEARMAN_WORK_FAIL;
        break;
    }

    photo_job_free(&job);

    return result;
}


static photo_job_rc_t
photo_worker_apply(photo_worker_t *w, photo_worker_function_t *fn,
    photo_job_t *job)
{
    photo_job_rc_t   rc;
    struct timespec  start;

    clock_gettime(CLOCK_MONOTONIC, &start);

    for ( ;; ) {
        rc = fn->handler(&w->ctx, job);

        if (rc != PHOTO_JOB_RETRY) {
            break;
        }

        if (photo_worker_backoff(fn, job, job->reason) != 0) {
            return PHOTO_JOB_RETRY;
        }
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_debug("%s %s: done in %ld ms", job->name, job->unique,
                        photo_worker_ms_since(&start));
        return PHOTO_JOB_DONE;
    }

    if (fn->kind == PHOTO_JOB_FOREGROUND) {
        photo_log_warn("%s: failed: %s", job->name, job->reason);
        return PHOTO_JOB_DEAD;
    }

    photo_log_warn("%s %s: dead letter: %s", job->name, job->unique,
                   job->reason);

    while (photo_ctx_dead_letter(&w->ctx, job) != 0) {
        if (photo_worker_backoff(fn, job, "cannot store the dead letter")
            != 0)
        {
            return PHOTO_JOB_RETRY;
        }
    }

    return PHOTO_JOB_DEAD;
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
        photo_log_error("%s: %s; failed after %u attempts", job->name, why,
                        job->attempt);
        return -1;
    }

    if (!photo_worker_stop) {
        ms = photo_worker_delay(job->attempt);

        /* every attempt while it is new, then now and then */
        if (job->attempt <= 3 || job->attempt % 30 == 0) {
            photo_log(job->attempt <= 3 ? PHOTO_LOG_WARN : PHOTO_LOG_ERROR,
                      "%s %s: %s; attempt %u, again in %u ms", job->name,
                      job->unique, why, job->attempt, ms);
        }

        photo_worker_sleep(ms);
    }

    if (photo_worker_stop) {
        photo_log_warn("%s %s: %s; stopping, the job goes back to gearmand",
                       job->name, job->unique, why);
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
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (now.tv_sec - start->tv_sec) * 1000
           + (now.tv_nsec - start->tv_nsec) / 1000000;
}
