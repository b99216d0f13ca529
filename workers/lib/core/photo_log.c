/* Worker logging. */

#include "photo_log.h"
#include "photo_job.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static const char         *photo_log_name = "photo";
static photo_log_level_t   photo_log_max = PHOTO_LOG_INFO;

static const char  *photo_log_names[] = { "error", "warn", "info", "debug" };

static __thread photo_job_t *const  *photo_log_cur;
static __thread size_t               photo_log_ncur;


static size_t photo_log_context(char *buf, size_t size);


void
photo_log_init(const char *name, photo_log_level_t level)
{
    photo_log_name = name;
    photo_log_max = level;
}


int
photo_log_level_parse(const char *s, photo_log_level_t *level)
{
    int  i;

    for (i = PHOTO_LOG_ERROR; i <= PHOTO_LOG_DEBUG; i++) {
        if (strcmp(s, photo_log_names[i]) == 0) {
            *level = (photo_log_level_t) i;
            return 0;
        }
    }

    return -1;
}


void
photo_log(photo_log_level_t level, const char *fmt, ...)
{
    int              n;
    char             line[2048], stamp[32];
    va_list          args;
    struct tm        tm;
    struct timespec  ts;

    if (level > photo_log_max) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    va_start(args, fmt);
    n = vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    if (level <= PHOTO_LOG_WARN && photo_log_ncur
        && n >= 0 && (size_t) n < sizeof(line))
    {
        photo_log_context(line + n, sizeof(line) - (size_t) n);
    }

    /* one write per line, so lines of concurrent workers do not mix */
    fprintf(stderr, "%s.%03ldZ [%s] %s[%d]: %s\n", stamp,
            ts.tv_nsec / 1000000, photo_log_names[level], photo_log_name,
            (int) getpid(), line);
}


void
photo_log_jobs(photo_job_t *const *jobs, size_t n)
{
    photo_log_cur = jobs;
    photo_log_ncur = jobs ? n : 0;
}


/* " (name unique, attempt N)", or the group's, appended at buf */
static size_t
photo_log_context(char *buf, size_t size)
{
    int                   n;
    size_t                i, len;
    photo_job_t *const   *jobs;

    jobs = photo_log_cur;

    if (photo_log_ncur == 1) {
        n = snprintf(buf, size, " (%s %s, attempt %u)", jobs[0]->name,
                     jobs[0]->unique[0] ? jobs[0]->unique : "-",
                     jobs[0]->attempt);
        return n > 0 ? (size_t) n : 0;
    }

    n = snprintf(buf, size, " (%zu %s jobs:", photo_log_ncur, jobs[0]->name);
    len = n > 0 ? (size_t) n : 0;

    for (i = 0; i < photo_log_ncur && len < size; i++) {
        n = snprintf(buf + len, size - len, "%s %s attempt %u",
                     i ? "," : "", jobs[i]->unique[0] ? jobs[i]->unique : "-",
                     jobs[i]->attempt);
        len += n > 0 ? (size_t) n : 0;
    }

    if (len < size) {
        n = snprintf(buf + len, size - len, ")");
        len += n > 0 ? (size_t) n : 0;
    }

    return len;
}
