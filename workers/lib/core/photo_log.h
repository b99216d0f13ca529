/*
 * Worker logging: one line per event on stderr, with a level filter.
 *
 * While a thread applies jobs (photo_log_jobs), each warning and error it
 * logs ends with the jobs' name, unique key and attempt, wherever in the
 * library or the handler it was written: "(photo_persist 42-ab, attempt
 * 2)", or for a group "(3 photo_persist jobs: 42-ab attempt 1, ...)".
 */

#ifndef PHOTO_LOG_H
#define PHOTO_LOG_H

#include <stddef.h>

struct photo_job_s;

typedef enum {
    PHOTO_LOG_ERROR = 0,
    PHOTO_LOG_WARN,
    PHOTO_LOG_INFO,
    PHOTO_LOG_DEBUG
} photo_log_level_t;

/* Set once at start-up, before any thread exists. */
void photo_log_init(const char *name, photo_log_level_t level);
int photo_log_level_parse(const char *s, photo_log_level_t *level);

void photo_log(photo_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* the jobs this thread applies from now on; (NULL, 0): none */
void photo_log_jobs(struct photo_job_s *const *jobs, size_t n);

#define photo_log_error(...)  photo_log(PHOTO_LOG_ERROR, __VA_ARGS__)
#define photo_log_warn(...)   photo_log(PHOTO_LOG_WARN, __VA_ARGS__)
#define photo_log_info(...)   photo_log(PHOTO_LOG_INFO, __VA_ARGS__)
#define photo_log_debug(...)  photo_log(PHOTO_LOG_DEBUG, __VA_ARGS__)

#endif /* PHOTO_LOG_H */
