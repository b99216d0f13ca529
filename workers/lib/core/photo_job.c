/* One job's payload, decoded (see photo_job.h). */

#include "photo_job.h"
#include "photo_id.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * yajl's tree is built and freed recursively, and so is the dead letter's
 * copy of it: a payload nested deeper than this is refused before parsing
 * rather than risking the stack.  Real payloads are one flat object.
 */
#define PHOTO_JOB_MAX_DEPTH  32


static int photo_job_depth_ok(const char *s, size_t len);
static yajl_val photo_job_field(photo_job_t *job, const char *field);
static yajl_gen_status photo_job_gen_value(yajl_gen g, yajl_val v);
static yajl_gen_status photo_job_gen_raw(yajl_gen g, const char *s,
    size_t len);


int
photo_job_init(photo_job_t *job, const char *name, const char *unique,
    const void *workload, size_t len)
{
    char  err[128];

    memset(job, 0, sizeof(*job));

    job->name = name;
    job->unique = unique ? unique : "";
    job->attempt = 1;

    job->payload = malloc(len + 1);
    if (job->payload == NULL) {
        return -1;
    }

    if (len) {
        memcpy(job->payload, workload, len);
    }

    job->payload[len] = '\0';
    job->payload_len = len;

    if (strlen(job->payload) != len) {
        photo_job_dead(job, "payload is not JSON: it contains a NUL byte");
        return 0;
    }

    if (!photo_job_depth_ok(job->payload, len)) {
        photo_job_dead(job, "payload is not JSON: nested deeper than %d",
                       PHOTO_JOB_MAX_DEPTH);
        return 0;
    }

    err[0] = '\0';
    job->root = yajl_tree_parse(job->payload, err, sizeof(err));

    if (job->root == NULL) {
        err[strcspn(err, "\r\n")] = '\0';
        photo_job_dead(job, "payload is not JSON: %s",
                       err[0] ? err : "parse error");
    }

    return 0;
}


void
photo_job_free(photo_job_t *job)
{
    yajl_tree_free(job->root);
    free(job->payload);
    free(job->result);

    job->root = NULL;
    job->payload = NULL;
    job->result = NULL;
}


int
photo_job_object(photo_job_t *job)
{
    if (job->root == NULL) {
        return -1;              /* photo_job_init said why */
    }

    if (!YAJL_IS_OBJECT(job->root)) {
        photo_job_dead(job, "payload is not a JSON object");
        return -1;
    }

    return 0;
}


/* brackets outside strings, counted without parsing */
static int
photo_job_depth_ok(const char *s, size_t len)
{
    int     depth, in_string;
    size_t  i;

    depth = 0;
    in_string = 0;

    for (i = 0; i < len; i++) {
        if (in_string) {
            if (s[i] == '\\') {
                i++;
            } else if (s[i] == '"') {
                in_string = 0;
            }
            continue;
        }

        switch (s[i]) {
        case '"':
            in_string = 1;
            break;
        case '{':
        case '[':
            if (++depth > PHOTO_JOB_MAX_DEPTH) {
                return 0;
            }
            break;
        case '}':
        case ']':
            depth--;
            break;
        }
    }

    return 1;
}


static yajl_val
photo_job_field(photo_job_t *job, const char *field)
{
    yajl_val     v;
    const char  *path[2] = { field, NULL };

    if (photo_job_object(job) != 0) {
        return NULL;
    }

    v = yajl_tree_get(job->root, path, yajl_t_any);
    if (v == NULL) {
        photo_job_dead(job, "field \"%s\" is missing", field);
    }

    return v;
}


int
photo_job_id(photo_job_t *job, const char *field, int64_t *id)
{
    yajl_val  v;

    v = photo_job_field(job, field);
    if (v == NULL) {
        return -1;
    }

    if (!YAJL_IS_STRING(v)
        || photo_id_parse(v->u.string, strlen(v->u.string), id) != 0)
    {
        photo_job_dead(job, "field \"%s\" must be an id: a string of "
                       "digits, 1 to %" PRId64, field, INT64_MAX);
        return -1;
    }

    return 0;
}


int
photo_job_string(photo_job_t *job, const char *field, size_t min,
    size_t max, const char **s, size_t *len)
{
    size_t    n;
    yajl_val  v;

    v = photo_job_field(job, field);
    if (v == NULL) {
        return -1;
    }

    if (!YAJL_IS_STRING(v)) {
        photo_job_dead(job, "field \"%s\" must be a string", field);
        return -1;
    }

    n = strlen(v->u.string);

    if (n < min || n > max) {
        photo_job_dead(job, "field \"%s\" must be %zu to %zu bytes long, "
                       "not %zu", field, min, max, n);
        return -1;
    }

    *s = v->u.string;
    if (len) {
        *len = n;
    }

    return 0;
}


int
photo_job_integer(photo_job_t *job, const char *field, int64_t min,
    int64_t max, int64_t *out)
{
    yajl_val  v;

    v = photo_job_field(job, field);
    if (v == NULL) {
        return -1;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min
        || YAJL_GET_INTEGER(v) > max)
    {
        photo_job_dead(job, "field \"%s\" must be an integer from %" PRId64
                       " to %" PRId64, field, min, max);
        return -1;
    }

    *out = YAJL_GET_INTEGER(v);

    return 0;
}


int
photo_job_coord(photo_job_t *job, const char *field, double min,
    double max, double *out, int *present)
{
    yajl_val     v;
    const char  *path[2] = { field, NULL };

    *present = 0;

    if (photo_job_object(job) != 0) {
        return -1;
    }

    v = yajl_tree_get(job->root, path, yajl_t_any);
    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;                                   /* optional */
    }

    if (!YAJL_IS_NUMBER(v) || !(v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID)
        || !(v->u.number.d >= min && v->u.number.d <= max))
    {
        photo_job_dead(job, "field \"%s\" must be a number from %g to %g",
                       field, min, max);
        return -1;
    }

    *out = v->u.number.d;
    *present = 1;

    return 0;
}


int
photo_job_oneof(photo_job_t *job, const char *field,
    const char *const *values, int *index)
{
    int       i;
    char      list[128];
    size_t    n;
    yajl_val  v;

    v = photo_job_field(job, field);
    if (v == NULL) {
        return -1;
    }

    for (i = 0; YAJL_IS_STRING(v) && values[i]; i++) {
        if (strcmp(v->u.string, values[i]) == 0) {
            *index = i;
            return 0;
        }
    }

    n = 0;
    list[0] = '\0';

    for (i = 0; values[i] && n < sizeof(list); i++) {
        n += (size_t) snprintf(list + n, sizeof(list) - n, "%s\"%s\"",
                               i ? ", " : "", values[i]);
    }

    photo_job_dead(job, "field \"%s\" must be one of %s", field, list);

    return -1;
}


photo_job_rc_t
photo_job_fail(photo_job_t *job, photo_job_rc_t rc, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(job->reason, sizeof(job->reason), fmt, args);
    va_end(args);

    return rc;
}


int
photo_job_answer(photo_job_t *job, yajl_gen g)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return -1;
    }

    free(job->result);

    job->result = malloc(len);
    if (job->result == NULL) {
        return -1;
    }

    memcpy(job->result, buf, len);
    job->result_len = len;

    return 0;
}


#define photo_job_gen_try(expr)                                              \
    do {                                                                     \
        yajl_gen_status  s_ = (expr);                                        \
        if (s_ != yajl_gen_status_ok) {                                      \
            return s_;                                                       \
        }                                                                    \
    } while (0)


int
photo_job_flag(photo_job_t *job, const char *field, int *on)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = field;
    path[1] = NULL;

    v = yajl_tree_get(job->root, path, yajl_t_any);
    *on = v != NULL;

    if (v && !YAJL_IS_TRUE(v)) {
        photo_job_dead(job, "field \"%s\" is true or absent", field);
        return -1;
    }

    return 0;
}


yajl_gen_status
photo_job_gen_pairs(yajl_gen g, ...)
{
    va_list          args;
    yajl_gen_status  rc;

    va_start(args, g);
    rc = photo_job_gen_vpairs(g, args);
    va_end(args);

    return rc;
}


yajl_gen_status
photo_job_gen_vpairs(yajl_gen g, va_list args)
{
    const char       *s;
    yajl_gen_status   rc;

    rc = yajl_gen_map_open(g);

    while (rc == yajl_gen_status_ok && (s = va_arg(args, const char *))) {
        rc = yajl_gen_string(g, (const unsigned char *) s, strlen(s));
    }

    return rc == yajl_gen_status_ok ? yajl_gen_map_close(g) : rc;
}


yajl_gen_status
photo_job_dead_letter(const photo_job_t *job, yajl_gen g)
{
    photo_job_gen_try(yajl_gen_map_open(g));

    photo_job_gen_try(yajl_gen_string(g, (const unsigned char *) "reason",
                                      sizeof("reason") - 1));
    photo_job_gen_try(yajl_gen_string(g, (const unsigned char *) job->reason,
                                      strlen(job->reason)));

    photo_job_gen_try(yajl_gen_string(g, (const unsigned char *) "payload",
                                      sizeof("payload") - 1));

    if (job->root) {
        photo_job_gen_try(photo_job_gen_value(g, job->root));

    } else {
        photo_job_gen_try(photo_job_gen_raw(g, job->payload,
                                            job->payload_len));
    }

    return yajl_gen_map_close(g);
}


static yajl_gen_status
photo_job_gen_value(yajl_gen g, yajl_val v)
{
    size_t  i;

    switch (v->type) {

    case yajl_t_string:
        return yajl_gen_string(g, (const unsigned char *) v->u.string,
                               strlen(v->u.string));

    case yajl_t_number:
        /* the number as it was written, not as a double rounds it */
        return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));

    case yajl_t_object:
        photo_job_gen_try(yajl_gen_map_open(g));

        for (i = 0; i < v->u.object.len; i++) {
            photo_job_gen_try(yajl_gen_string(g,
                              (const unsigned char *) v->u.object.keys[i],
                              strlen(v->u.object.keys[i])));
            photo_job_gen_try(photo_job_gen_value(g, v->u.object.values[i]));
        }

        return yajl_gen_map_close(g);

    case yajl_t_array:
        photo_job_gen_try(yajl_gen_array_open(g));

        for (i = 0; i < v->u.array.len; i++) {
            photo_job_gen_try(photo_job_gen_value(g, v->u.array.values[i]));
        }

        return yajl_gen_array_close(g);

    case yajl_t_true:
        return yajl_gen_bool(g, 1);

    case yajl_t_false:
        return yajl_gen_bool(g, 0);

    default:
        return yajl_gen_null(g);
    }
}


/*
 * A payload that is not JSON, as a string: printable ASCII as it is, any
 * other byte as the four characters \xNN, so that the letter is valid UTF-8
 * whatever came and nothing of the payload is lost.
 */
static yajl_gen_status
photo_job_gen_raw(yajl_gen g, const char *s, size_t len)
{
    char             *buf, *p;
    size_t            i;
    unsigned char     c;
    yajl_gen_status   rc;

    buf = malloc(4 * len + 1);
    if (buf == NULL) {
        return yajl_gen_in_error_state;
    }

    p = buf;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f) {
            *p++ = (char) c;
        } else {
            p += snprintf(p, 5, "\\x%02x", c);
        }
    }

    rc = yajl_gen_string(g, (const unsigned char *) buf, (size_t) (p - buf));

    free(buf);

    return rc;
}
