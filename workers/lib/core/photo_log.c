/* Worker logging. */

#include "photo_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static const char         *photo_log_name = "photo";
static photo_log_level_t   photo_log_max = PHOTO_LOG_INFO;

static const char  *photo_log_names[] = { "error", "warn", "info", "debug" };


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
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    /* one write per line, so lines of concurrent workers do not mix */
    fprintf(stderr, "%s.%03ldZ [%s] %s[%d]: %s\n", stamp,
            ts.tv_nsec / 1000000, photo_log_names[level], photo_log_name,
            (int) getpid(), line);
}
