/*
 * A worker's metrics: a registry of series, and their exposition in
 * Prometheus's text format (version 0.0.4), which photo_metrics_http.c
 * serves.
 *
 * A series is registered once, at start (a mutex guards the registry, so
 * it may happen while the endpoint serves), and then only updated: a
 * counter or a histogram's bucket is one atomic add, no lock, so the jobs
 * of the persist worker's threads never wait for each other or for a
 * scrape.  A scrape reads the values with atomic loads; a histogram's
 * +Inf bucket and _count are the sum of the buckets it read, so they
 * always agree.
 *
 * What is not a counter (gearmand's queue, the process's CPU and memory)
 * is read when scraped, by a collector, and by nothing in between: an idle
 * worker does no work for its metrics.
 *
 * Backend time: the calls a job makes to a backend are timed into the
 * calling thread's tally (photo_metrics_call_begin/end), which the worker
 * loop takes after each job: a slow job's log line says where its time
 * went.
 */

#ifndef PHOTO_METRICS_H
#define PHOTO_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* photo_worker_backend_errors_total{backend} */
typedef enum {
    PHOTO_BACKEND_POSTGRES = 0,
    PHOTO_BACKEND_REDIS,
    PHOTO_BACKEND_MEMCACHED,
    PHOTO_BACKEND_GEARMAN,
    PHOTO_BACKEND_SOLR,
    PHOTO_BACKEND_APNS,
    PHOTO_BACKEND_FCM,
    PHOTO_BACKEND_TWITTER,
    PHOTO_BACKEND_FACEBOOK,
    PHOTO_BACKEND_N
} photo_backend_t;

extern const char  *photo_backend_names[PHOTO_BACKEND_N];

/* photo_worker_job_duration_seconds's upper bounds, as nginx's module has
   them: 0.5 ms to 2.5 s, then +Inf */
#define PHOTO_METRICS_BUCKETS  12

typedef struct photo_metric_s  photo_metric_t;

/* what a collector writes into, at scrape time */
typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
    int      failed;            /* out of memory: the scrape gets a 500 */
} photo_metrics_out_t;

typedef void (*photo_metrics_collect_pt)(photo_metrics_out_t *out,
    void *data);

/*
 * The series name{labels}: labels as written in the exposition
 * (`job="photo_persist",outcome="done"`, or "" for none), the values
 * ours, never a user's.  The same name and labels again is the same
 * series.  NULL when the registry is full or out of memory (then updates
 * to it are no-ops).
 */
photo_metric_t *photo_metrics_counter(const char *name, const char *help,
    const char *labels);
photo_metric_t *photo_metrics_histogram(const char *name, const char *help,
    const char *labels);

void photo_metrics_add(photo_metric_t *m, uint64_t n);
#define photo_metrics_inc(m)  photo_metrics_add(m, 1)
void photo_metrics_observe(photo_metric_t *m, double seconds);

/* this series' value (a histogram's count): tests, the worker's summary */
uint64_t photo_metrics_value(photo_metric_t *m);

/* photo_worker_backend_errors_total{backend}: the series exist from the
   first call of either function, each at 0 */
void photo_metrics_backends(void);
void photo_metrics_backend_error(photo_backend_t b);

/* the families fn writes at each scrape, after the registry's */
int photo_metrics_collector(photo_metrics_collect_pt fn, void *data);

/* the standard process_* metrics (start time, CPU, memory, fds) */
int photo_metrics_process(void);

/* the exposition, malloc'd, *len its length; NULL when out of memory */
char *photo_metrics_text(size_t *len);

/* for collectors: "# HELP", "# TYPE", then each sample */
void photo_metrics_family(photo_metrics_out_t *out, const char *name,
    const char *help, const char *type);
void photo_metrics_sample(photo_metrics_out_t *out, const char *name,
    const char *labels, double value);
void photo_metrics_printf(photo_metrics_out_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* a label value as the format wants it: \\, \" and \n escaped */
void photo_metrics_label_value(photo_metrics_out_t *out, const char *s,
    size_t len);

/* the time a thread spent in each backend, and its calls */
typedef struct {
    uint64_t   ns[PHOTO_BACKEND_N];
    unsigned   calls[PHOTO_BACKEND_N];
} photo_metrics_spent_t;

void photo_metrics_call_begin(struct timespec *start);
void photo_metrics_call_end(photo_backend_t b, const struct timespec *start);
/* this thread's tally added to *into (which may be NULL), then zeroed */
void photo_metrics_spent_take(photo_metrics_spent_t *into);
void photo_metrics_spent_add(photo_metrics_spent_t *into,
    const photo_metrics_spent_t *from);

#endif /* PHOTO_METRICS_H */
