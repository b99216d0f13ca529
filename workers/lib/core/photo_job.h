/*
 * One Gearman job as a worker sees it: its name, unique key and JSON
 * payload, decoded with yajl's tree API into typed fields.  Every getter
 * checks type and range and, when the field is wrong, says which field and
 * why in job->reason (what the log and the dead letter show).
 *
 * A handler returns what became of the job:
 *
 *   PHOTO_JOB_DONE   applied (a foreground job has its answer in result);
 *   PHOTO_JOB_RETRY  a backend is away: nothing is lost, the same job is
 *                    tried again (handlers are idempotent);
 *   PHOTO_JOB_DEAD   it can never succeed (bad payload, unknown user, data
 *                    the database refuses): dead-lettered, never dropped.
 */

#ifndef PHOTO_JOB_H
#define PHOTO_JOB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

typedef enum {
    PHOTO_JOB_DONE = 0,
    PHOTO_JOB_RETRY,
    PHOTO_JOB_DEAD
} photo_job_rc_t;

#define PHOTO_JOB_REASON  256

typedef struct {
    const char      *name;          /* the Gearman function */
    const char      *unique;        /* Gearman's unique key, or "" */
    char            *payload;       /* a NUL-terminated copy of the workload */
    size_t           payload_len;
    yajl_val         root;          /* the payload's object; NULL if none */

    char             reason[PHOTO_JOB_REASON];
    unsigned         attempt;       /* 1 on the first try */
    int64_t          progress;      /* the handler's resume point: kept
                                       across retries of the same job */
    photo_job_rc_t   rc;            /* what a batch handler made of it */
    int              applied;       /* its group was applied */

    unsigned char   *result;        /* a foreground job's answer (malloc) */
    size_t           result_len;
} photo_job_t;


/*
 * Copies the workload and parses it.  -1 when out of memory; a payload that
 * is not a JSON object is not an error here: root stays NULL and reason
 * says why, and photo_job_object() reports it.
 */
int photo_job_init(photo_job_t *job, const char *name, const char *unique,
    const void *workload, size_t len);
void photo_job_free(photo_job_t *job);

/* 0 when the payload is a JSON object, else -1 (reason is set) */
int photo_job_object(photo_job_t *job);

/*
 * Fields.  0 and the value, or -1 with reason naming the field.  Lengths
 * are in bytes.  photo_job_coord's field is optional: *present says whether
 * it was there.
 */
int photo_job_id(photo_job_t *job, const char *field, int64_t *id);
int photo_job_string(photo_job_t *job, const char *field, size_t min,
    size_t max, const char **s, size_t *len);
int photo_job_integer(photo_job_t *job, const char *field, int64_t min,
    int64_t max, int64_t *v);
int photo_job_coord(photo_job_t *job, const char *field, double min,
    double max, double *v, int *present);
int photo_job_oneof(photo_job_t *job, const char *field,
    const char *const *values, int *index);

/* a flag: absent (0) or true (1); anything else is an error */
int photo_job_flag(photo_job_t *job, const char *field, int *on);

/* Set reason (printf-style) and return rc: "return photo_job_dead(...)". */
photo_job_rc_t photo_job_fail(photo_job_t *job, photo_job_rc_t rc,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define photo_job_dead(job, ...)                                             \
    photo_job_fail(job, PHOTO_JOB_DEAD, __VA_ARGS__)
#define photo_job_retry(job, ...)                                            \
    photo_job_fail(job, PHOTO_JOB_RETRY, __VA_ARGS__)

/* A foreground job's answer: the JSON g holds, copied.  0, or -1 (memory). */
int photo_job_answer(photo_job_t *job, yajl_gen g);

/* {"key":"value",...} from pairs of strings ending with NULL */
yajl_gen_status photo_job_gen_pairs(yajl_gen g, ...)
    __attribute__((sentinel));
yajl_gen_status photo_job_gen_vpairs(yajl_gen g, va_list args);

/*
 * The dead letter: {"reason":"…","payload":…}, the payload as it came when
 * it is JSON (regenerated from the tree), else as a string.
 */
yajl_gen_status photo_job_dead_letter(const photo_job_t *job, yajl_gen g);

#endif /* PHOTO_JOB_H */
