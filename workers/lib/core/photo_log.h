/* Worker logging: one line per event on stderr, with a level filter. */

#ifndef PHOTO_LOG_H
#define PHOTO_LOG_H

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

#define photo_log_error(...)  photo_log(PHOTO_LOG_ERROR, __VA_ARGS__)
#define photo_log_warn(...)   photo_log(PHOTO_LOG_WARN, __VA_ARGS__)
#define photo_log_info(...)   photo_log(PHOTO_LOG_INFO, __VA_ARGS__)
#define photo_log_debug(...)  photo_log(PHOTO_LOG_DEBUG, __VA_ARGS__)

#endif /* PHOTO_LOG_H */
