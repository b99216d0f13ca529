/* A worker's metrics: registry and exposition (see photo_metrics.h). */

#include "photo_metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>


#define PHOTO_METRICS_MAX         160
#define PHOTO_METRICS_COLLECTORS  4
#define PHOTO_METRICS_LABELS      128

typedef enum {
    PHOTO_METRIC_COUNTER = 0,
    PHOTO_METRIC_HISTOGRAM
} photo_metric_type_t;

struct photo_metric_s {
    const char           *name;       /* static strings: the callers' */
    const char           *help;
    photo_metric_type_t   type;
    char                  labels[PHOTO_METRICS_LABELS];
    uint64_t              value;      /* a counter's */
    uint64_t              bucket[PHOTO_METRICS_BUCKETS + 1];  /* not
                                         cumulative; the last is +Inf's */
    uint64_t              sum_ns;
};

typedef struct {
    photo_metrics_collect_pt   fn;
    void                      *data;
} photo_metrics_collector_t;


const char  *photo_backend_names[PHOTO_BACKEND_N] = {
    "postgres", "redis", "memcached", "gearman", "solr", "apns", "fcm",
    "twitter", "facebook"
};

static const double  photo_metrics_bounds[PHOTO_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};

static const char  *photo_metrics_le[PHOTO_METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5"
};

static pthread_mutex_t            photo_metrics_lock =
    PTHREAD_MUTEX_INITIALIZER;
static photo_metric_t             photo_metrics_all[PHOTO_METRICS_MAX];
static unsigned                   photo_metrics_n;
static photo_metrics_collector_t  photo_metrics_coll[PHOTO_METRICS_COLLECTORS];
static unsigned                   photo_metrics_ncoll;
static photo_metric_t            *photo_metrics_backend[PHOTO_BACKEND_N];
static double                     photo_metrics_started;

static __thread photo_metrics_spent_t  photo_metrics_spent;


static photo_metric_t *photo_metrics_register(const char *name,
    const char *help, photo_metric_type_t type, const char *labels);
static void photo_metrics_write(photo_metrics_out_t *out, photo_metric_t *m);
static void photo_metrics_write_process(photo_metrics_out_t *out,
    void *data);
static void photo_metrics_put(photo_metrics_out_t *out, const char *s,
    size_t len);


photo_metric_t *
photo_metrics_counter(const char *name, const char *help, const char *labels)
{
    return photo_metrics_register(name, help, PHOTO_METRIC_COUNTER, labels);
}


photo_metric_t *
photo_metrics_histogram(const char *name, const char *help,
    const char *labels)
{
    return photo_metrics_register(name, help, PHOTO_METRIC_HISTOGRAM, labels);
}


static photo_metric_t *
photo_metrics_register(const char *name, const char *help,
    photo_metric_type_t type, const char *labels)
{
    unsigned         i;
    photo_metric_t  *m;

    if (strlen(labels) >= PHOTO_METRICS_LABELS) {
        return NULL;
    }

    pthread_mutex_lock(&photo_metrics_lock);

    for (i = 0; i < photo_metrics_n; i++) {
        m = &photo_metrics_all[i];

        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
            pthread_mutex_unlock(&photo_metrics_lock);
            return m;
        }
    }

    m = NULL;

    if (photo_metrics_n < PHOTO_METRICS_MAX) {
        m = &photo_metrics_all[photo_metrics_n];
        m->name = name;
        m->help = help;
        m->type = type;
        memcpy(m->labels, labels, strlen(labels) + 1);

        /* published last: a scrape reads only the first n */
        __atomic_store_n(&photo_metrics_n, photo_metrics_n + 1,
                         __ATOMIC_RELEASE);
    }

    pthread_mutex_unlock(&photo_metrics_lock);

    return m;
}


void
photo_metrics_add(photo_metric_t *m, uint64_t n)
{
    if (m) {
        __atomic_add_fetch(&m->value, n, __ATOMIC_RELAXED);
    }
}


void
photo_metrics_observe(photo_metric_t *m, double seconds)
{
    unsigned  i;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < PHOTO_METRICS_BUCKETS; i++) {
        if (seconds <= photo_metrics_bounds[i]) {
            break;
        }
    }

    __atomic_add_fetch(&m->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->sum_ns,
                       (uint64_t) (seconds > 0 ? seconds * 1e9 : 0),
                       __ATOMIC_RELAXED);
}


uint64_t
photo_metrics_value(photo_metric_t *m)
{
    unsigned  i;
    uint64_t  n;

    if (m == NULL) {
        return 0;
    }

    if (m->type == PHOTO_METRIC_COUNTER) {
        return __atomic_load_n(&m->value, __ATOMIC_RELAXED);
    }

    for (i = 0, n = 0; i <= PHOTO_METRICS_BUCKETS; i++) {
        n += __atomic_load_n(&m->bucket[i], __ATOMIC_RELAXED);
    }

    return n;
}


void
photo_metrics_backends(void)
{
    int   b;
    char  labels[64];

    for (b = 0; b < PHOTO_BACKEND_N; b++) {
        if (photo_metrics_backend[b]) {
            continue;
        }

        snprintf(labels, sizeof(labels), "backend=\"%s\"",
                 photo_backend_names[b]);

        photo_metrics_backend[b] = photo_metrics_counter(
            "photo_worker_backend_errors_total",
            "Calls to a backend that failed for want of the backend "
            "(unreachable, connection lost, timed out, 5xx), each attempt "
            "counted.", labels);
    }
}


void
photo_metrics_backend_error(photo_backend_t b)
{
    if (photo_metrics_backend[b] == NULL) {
        photo_metrics_backends();
    }

    photo_metrics_inc(photo_metrics_backend[b]);
}


int
photo_metrics_collector(photo_metrics_collect_pt fn, void *data)
{
    int  rc;

    pthread_mutex_lock(&photo_metrics_lock);

    rc = -1;

    if (photo_metrics_ncoll < PHOTO_METRICS_COLLECTORS) {
        photo_metrics_coll[photo_metrics_ncoll].fn = fn;
        photo_metrics_coll[photo_metrics_ncoll].data = data;
        photo_metrics_ncoll++;
        rc = 0;
    }

    pthread_mutex_unlock(&photo_metrics_lock);

    return rc;
}


int
photo_metrics_process(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    photo_metrics_started = ts.tv_sec + ts.tv_nsec / 1e9;

    return photo_metrics_collector(photo_metrics_write_process, NULL);
}


/*
 * Each family once, its series together, in the order of their first
 * registration (the format wants a family's lines in one group).
 */
char *
photo_metrics_text(size_t *len)
{
    unsigned              i, j, n;
    photo_metrics_out_t   out;

    memset(&out, 0, sizeof(out));

    pthread_mutex_lock(&photo_metrics_lock);

    n = __atomic_load_n(&photo_metrics_n, __ATOMIC_ACQUIRE);

    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(photo_metrics_all[j].name,
                       photo_metrics_all[i].name) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;                   /* written with its first */
        }

        photo_metrics_family(&out, photo_metrics_all[i].name,
                             photo_metrics_all[i].help,
                             photo_metrics_all[i].type == PHOTO_METRIC_COUNTER
                             ? "counter" : "histogram");

        for (j = i; j < n; j++) {
            if (strcmp(photo_metrics_all[j].name,
                       photo_metrics_all[i].name) == 0)
            {
                photo_metrics_write(&out, &photo_metrics_all[j]);
            }
        }
    }

    for (i = 0; i < photo_metrics_ncoll; i++) {
        photo_metrics_coll[i].fn(&out, photo_metrics_coll[i].data);
    }

    pthread_mutex_unlock(&photo_metrics_lock);

    if (out.failed || out.data == NULL) {
        free(out.data);
        return NULL;
    }

    *len = out.len;

    return out.data;
}


static void
photo_metrics_write(photo_metrics_out_t *out, photo_metric_t *m)
{
    unsigned     i;
    uint64_t     n;
    const char  *sep;

    if (m->type == PHOTO_METRIC_COUNTER) {
        photo_metrics_sample(out, m->name, m->labels,
                             (double) __atomic_load_n(&m->value,
                                                      __ATOMIC_RELAXED));
        return;
    }

    sep = m->labels[0] ? "," : "";

    for (i = 0, n = 0; i <= PHOTO_METRICS_BUCKETS; i++) {
        n += __atomic_load_n(&m->bucket[i], __ATOMIC_RELAXED);

        photo_metrics_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", m->name,
                             m->labels, sep,
                             i < PHOTO_METRICS_BUCKETS
                             ? photo_metrics_le[i] : "+Inf",
                             (unsigned long long) n);
    }

    photo_metrics_printf(out, "%s_sum%s%s%s %.9g\n", m->name,
                         m->labels[0] ? "{" : "", m->labels,
                         m->labels[0] ? "}" : "",
                         __atomic_load_n(&m->sum_ns, __ATOMIC_RELAXED) / 1e9);
    photo_metrics_printf(out, "%s_count%s%s%s %llu\n", m->name,
                         m->labels[0] ? "{" : "", m->labels,
                         m->labels[0] ? "}" : "", (unsigned long long) n);
}


/* what client libraries call the process collector, from /proc */
static void
photo_metrics_write_process(photo_metrics_out_t *out, void *data)
{
    long            pages, fds;
    FILE           *f;
    DIR            *d;
    struct rusage   ru;

    photo_metrics_family(out, "process_start_time_seconds",
                         "Start time of the process since the Unix epoch in "
                         "seconds.", "gauge");
    photo_metrics_sample(out, "process_start_time_seconds", "",
                         photo_metrics_started);

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        photo_metrics_family(out, "process_cpu_seconds_total",
                             "Total user and system CPU time spent in "
                             "seconds.", "counter");
        photo_metrics_sample(out, "process_cpu_seconds_total", "",
                             ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
                             + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)
                               / 1e6);
    }

    f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%*s %ld", &pages) == 1) {
            photo_metrics_family(out, "process_resident_memory_bytes",
                                 "Resident memory size in bytes.", "gauge");
            photo_metrics_sample(out, "process_resident_memory_bytes", "",
                                 (double) pages * sysconf(_SC_PAGESIZE));
        }

        fclose(f);
    }

    d = opendir("/proc/self/fd");
    if (d) {
        for (fds = 0; readdir(d); fds++) { /* void */ }
        closedir(d);

        photo_metrics_family(out, "process_open_fds",
                             "Number of open file descriptors.", "gauge");
        /* less ".", ".." and the one reading it */
        photo_metrics_sample(out, "process_open_fds", "",
                             (double) (fds > 3 ? fds - 3 : 0));
    }
}


void
photo_metrics_family(photo_metrics_out_t *out, const char *name,
    const char *help, const char *type)
{
    photo_metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                         name, type);
}


void
photo_metrics_sample(photo_metrics_out_t *out, const char *name,
    const char *labels, double value)
{
    photo_metrics_printf(out, "%s%s%s%s %.17g\n", name,
                         labels[0] ? "{" : "", labels,
                         labels[0] ? "}" : "", value);
}


void
photo_metrics_printf(photo_metrics_out_t *out, const char *fmt, ...)
{
    int      n;
    char     line[512];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= sizeof(line)) {
        out->failed = 1;            /* ours are short: a bug, not a line */
        return;
    }

    photo_metrics_put(out, line, (size_t) n);
}


void
photo_metrics_label_value(photo_metrics_out_t *out, const char *s,
    size_t len)
{
    size_t  i, from;

    for (i = 0, from = 0; i < len; i++) {
        if (s[i] != '\\' && s[i] != '"' && s[i] != '\n') {
            continue;
        }

        photo_metrics_put(out, s + from, i - from);
        photo_metrics_put(out, s[i] == '\n' ? "\\n"
                               : s[i] == '"' ? "\\\"" : "\\\\", 2);
        from = i + 1;
    }

    photo_metrics_put(out, s + from, len - from);
}


static void
photo_metrics_put(photo_metrics_out_t *out, const char *s, size_t len)
{
    char    *p;
    size_t   size;

    if (out->failed) {
        return;
    }

    if (out->len + len + 1 > out->size) {
        size = out->size ? out->size : 4096;

        while (size < out->len + len + 1) {
            size *= 2;
        }

        p = realloc(out->data, size);
        if (p == NULL) {
            out->failed = 1;
            return;
        }

        out->data = p;
        out->size = size;
    }

    memcpy(out->data + out->len, s, len);
    out->len += len;
    out->data[out->len] = '\0';
}


void
photo_metrics_call_begin(struct timespec *start)
{
    clock_gettime(CLOCK_MONOTONIC, start);
}


void
photo_metrics_call_end(photo_backend_t b, const struct timespec *start)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    photo_metrics_spent.ns[b] += (uint64_t) (now.tv_sec - start->tv_sec)
                                 * 1000000000
                                 + (uint64_t) now.tv_nsec
                                 - (uint64_t) start->tv_nsec;
    photo_metrics_spent.calls[b]++;
}


void
photo_metrics_spent_take(photo_metrics_spent_t *into)
{
    if (into) {
        photo_metrics_spent_add(into, &photo_metrics_spent);
    }

    memset(&photo_metrics_spent, 0, sizeof(photo_metrics_spent));
}


void
photo_metrics_spent_add(photo_metrics_spent_t *into,
    const photo_metrics_spent_t *from)
{
    int  b;

    for (b = 0; b < PHOTO_BACKEND_N; b++) {
        into->ns[b] += from->ns[b];
        into->calls[b] += from->calls[b];
    }
}
