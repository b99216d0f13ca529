/*
 * The metrics registry and its exposition (Prometheus's text format),
 * with no backend: families written once with their series together,
 * counters, a histogram's cumulative buckets, escaped label values, and
 * the job context of log lines.  "--dump" prints an exposition of every
 * kind of series instead, for `promtool check metrics` (ctest
 * metrics_promtool).
 */

#include "photo_check.h"
#include "photo_job.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void
collect(photo_metrics_out_t *out, void *data)
{
    static const char  name[] = "odd \"fn\"\\\nname";

    photo_metrics_family(out, "photo_test_queued", "A gauge a collector "
                         "writes.", "gauge");
    photo_metrics_printf(out, "photo_test_queued{function=\"");
    photo_metrics_label_value(out, name, sizeof(name) - 1);
    photo_metrics_printf(out, "\"} %d\n", 7);
}


/* a series of each kind; *done, *again and *hist for the checks */
static void
fill(photo_metric_t **done, photo_metric_t **again, photo_metric_t **hist)
{
    photo_metric_t  *dead, *other;

    *done = photo_metrics_counter("photo_test_jobs_total", "Jobs.",
                                  "job=\"a\",outcome=\"done\"");
    *hist = photo_metrics_histogram("photo_test_duration_seconds",
                                   "Durations.", "job=\"a\"");
    /* registered after another family: still written with its own */
    dead = photo_metrics_counter("photo_test_jobs_total", "Jobs.",
                                 "job=\"a\",outcome=\"dead\"");
    other = photo_metrics_counter("photo_test_other_total", "Other.", "");
    *again = photo_metrics_counter("photo_test_jobs_total", "Jobs.",
                                   "job=\"a\",outcome=\"done\"");

    photo_metrics_add(*done, 3);
    photo_metrics_inc(dead);
    photo_metrics_inc(*again);
    photo_metrics_add(other, 0);

    photo_metrics_observe(*hist, 0.0001);   /* first bucket */
    photo_metrics_observe(*hist, 0.0005);   /* on the bound: still its */
    photo_metrics_observe(*hist, 0.3);      /* 0.5 */
    photo_metrics_observe(*hist, 9);        /* +Inf only */

    photo_metrics_backends();
    photo_metrics_backend_error(PHOTO_BACKEND_SOLR);
    photo_metrics_collector(collect, NULL);
}


static void
registry(void)
{
    char             labels[200];
    photo_metric_t  *done, *again, *hist;

    fill(&done, &again, &hist);

    CHECK(again == done, "the same name and labels are the same series");
    CHECK(photo_metrics_value(done) == 4, "a counter counts (%llu)",
          (unsigned long long) photo_metrics_value(done));
    CHECK(photo_metrics_value(hist) == 4, "a histogram counts observations");
    memset(labels, 'x', sizeof(labels) - 1);
    labels[sizeof(labels) - 1] = '\0';
    CHECK(photo_metrics_counter("photo_test_x_total", "", labels) == NULL,
          "labels too long are refused");
}


static const char  expected[] =
    "# HELP photo_test_jobs_total Jobs.\n"
    "# TYPE photo_test_jobs_total counter\n"
    "photo_test_jobs_total{job=\"a\",outcome=\"done\"} 4\n"
    "photo_test_jobs_total{job=\"a\",outcome=\"dead\"} 1\n"
    "# HELP photo_test_duration_seconds Durations.\n"
    "# TYPE photo_test_duration_seconds histogram\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.0005\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.001\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.0025\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.005\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.01\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.025\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.05\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.1\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.25\"} 2\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"0.5\"} 3\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"1\"} 3\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"2.5\"} 3\n"
    "photo_test_duration_seconds_bucket{job=\"a\",le=\"+Inf\"} 4\n"
    "photo_test_duration_seconds_sum{job=\"a\"} 9.3006\n"
    "photo_test_duration_seconds_count{job=\"a\"} 4\n"
    "# HELP photo_test_other_total Other.\n"
    "# TYPE photo_test_other_total counter\n"
    "photo_test_other_total 0\n";


static void
exposition(void)
{
    char    *text;
    size_t   len;

    text = photo_metrics_text(&len);

    CHECK(text != NULL && len == strlen(text), "an exposition");
    if (text == NULL) {
        return;
    }

    CHECK(strncmp(text, expected, sizeof(expected) - 1) == 0,
          "families once, each with its series, in registration order:\n%s",
          text);
    CHECK(strstr(text, "photo_worker_backend_errors_total{backend=\"solr\"} "
                       "1\n") != NULL
          && strstr(text, "photo_worker_backend_errors_total{backend="
                          "\"postgres\"} 0\n") != NULL,
          "each backend's errors, from 0");
    CHECK(strstr(text, "photo_test_queued{function=\"odd \\\"fn\\\"\\\\\\n"
                       "name\"} 7\n") != NULL,
          "a collector's family, its label value escaped");
    CHECK(text[len - 1] == '\n', "every line ends with a newline");

    free(text);
}


/* warnings name the jobs being applied; other levels and threads do not */
static void
context(void)
{
    int           fd[2], saved;
    char          buf[4096];
    ssize_t       n;
    photo_job_t   a, b, *jobs[2];

    photo_job_init(&a, "photo_x", "u-1", "{}", 2);
    photo_job_init(&b, "photo_x", "u-2", "{}", 2);
    b.attempt = 3;
    jobs[0] = &a;
    jobs[1] = &b;

    if (pipe(fd) != 0) {
        exit(2);
    }

    fflush(stderr);
    saved = dup(2);
    dup2(fd[1], 2);

    photo_log_init("test", PHOTO_LOG_INFO);
    photo_log_jobs(jobs, 1);
    photo_log_warn("one");
    photo_log_info("quiet");
    photo_log_jobs(jobs, 2);
    photo_log_error("two");
    photo_log_jobs(NULL, 0);
    photo_log_error("none");

    fflush(stderr);
    dup2(saved, 2);
    close(fd[1]);

    n = read(fd[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd[0]);

    CHECK(strstr(buf, "one (photo_x u-1, attempt 1)\n") != NULL,
          "a warning names its job, unique key and attempt");
    CHECK(strstr(buf, "quiet\n") != NULL, "info lines are left alone");
    CHECK(strstr(buf, "two (2 photo_x jobs: u-1 attempt 1, u-2 attempt 3)\n")
          != NULL, "an error in a group names each job");
    CHECK(strstr(buf, "none\n") != NULL, "no job, no context");

    photo_job_free(&a);
    photo_job_free(&b);
}


int
main(int argc, char **argv)
{
    char            *text;
    size_t           len;
    photo_metric_t  *m[3];

    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        photo_metrics_process();
        fill(&m[0], &m[1], &m[2]);

        text = photo_metrics_text(&len);
        if (text == NULL) {
            return 2;
        }

        fputs(text, stdout);
        free(text);
        return 0;
    }

    registry();
    exposition();
    context();

    return CHECK_DONE();
}
