/*
 * photo_reindex: every photo with a location, from Postgres into Solr
 * (PHOTO_SOLR_URL), in updates of PHOTO_INDEX_BATCH documents, then exits:
 * to fill a new core, or one that lost its data (scripts/seed runs it for
 * the demo's photos).  Photos are read in pages by id (keyset), so a large
 * table is neither one result in memory nor one long transaction; Solr
 * replaces by id, so running it again, or alongside the index worker, is
 * harmless.  Solr away or answering 5xx: a page is tried again (backoff
 * with jitter) up to PHOTO_REINDEX_ATTEMPTS times; then, or when Solr
 * refuses a page, it stops with status 1, saying where.
 */

#include "photo_worker.h"
#include "photo_index_doc.h"
#include "photo_log.h"
#include "photo_solr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


#define PHOTO_REINDEX_ATTEMPTS  8


static int photo_reindex_page(photo_worker_t *w, photo_solr_t *solr,
    int64_t *after, long *docs);
static int photo_reindex_send(photo_solr_t *solr, PGresult *res);


static const photo_worker_function_t  photo_reindex_functions[] = {
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int              rc;
    long             docs, pages;
    int64_t          after;
    photo_solr_t     solr;
    photo_worker_t   w;
    struct timespec  start;

    if (photo_worker_init(&w, argc, argv, "photo_reindex",
                          "Sends every photo with a location from Postgres "
                          "to Solr (PHOTO_SOLR_URL), in\nbatches of "
                          "PHOTO_INDEX_BATCH, then exits.",
                          photo_reindex_functions)
        != 0)
    {
        return w.exit_code;
    }

    if (photo_solr_init(&solr, w.cf.solr_url) != 0) {
        photo_worker_done(&w);
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &start);

    after = 0;
    docs = 0;
    pages = 0;

    do {
        rc = photo_reindex_page(&w, &solr, &after, &docs);
        pages++;
    } while (rc > 0 && !photo_worker_stopping());

    if (rc == 0) {
        photo_log_info("%ld photos with a location sent to solr in %ld "
                       "updates, %ld ms", docs, pages - 1,
                       photo_worker_ms_since(&start));
    }

    photo_solr_free(&solr);
    photo_worker_done(&w);

    return rc < 0 || photo_worker_stopping();
}


/* the next page after *after: 1 (more may follow), 0 (the end), -1 */
static int
photo_reindex_page(photo_worker_t *w, photo_solr_t *solr, int64_t *after,
    long *docs)
{
    int              rows, rc;
    char             from[PHOTO_ID_BUF], limit[16];
    unsigned         attempt, ms;
    PGresult        *res;
    struct timespec  ts;
    photo_job_t      job;
    photo_job_rc_t   jrc;
    const char      *params[2];

    static const char  *sql =
        "select id, user_id, caption, lat, lng,"
        " floor(extract(epoch from created_at))::bigint"
        " from photos where lat is not null and id > $1"
        " order by id limit $2";

    snprintf(from, sizeof(from), "%" PRId64, *after);
    snprintf(limit, sizeof(limit), "%d", w->cf.index_batch);
    params[0] = from;
    params[1] = limit;

    /* photo_ctx's calls say why they failed in a job */
    if (photo_job_init(&job, "photo_reindex", "", "{}", 2) != 0) {
        return -1;
    }

    for (attempt = 1; ; attempt++) {
        res = photo_ctx_pg(&w->ctx, &job, sql, 2, params, &jrc);
        rc = res ? photo_reindex_send(solr, res) : -2;

        if (rc >= 0 || rc == -1 || attempt == PHOTO_REINDEX_ATTEMPTS
            || photo_worker_stopping())
        {
            break;
        }

        photo_log_warn("%s; trying again, attempt %u",
                       res ? "solr is away" : job.reason, attempt);
        PQclear(res);
        res = NULL;

        ms = photo_worker_delay(attempt);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (long) (ms % 1000) * 1000000;
        nanosleep(&ts, NULL);
    }

    photo_job_free(&job);

    if (rc < 0) {
        photo_log_error("stopped after photo %" PRId64, *after);
        PQclear(res);
        return -1;
    }

    rows = PQntuples(res);

    if (rows) {
        *after = strtoll(PQgetvalue(res, rows - 1, 0), NULL, 10);
        *docs += rows;
    }

    PQclear(res);

    return rows == w->cf.index_batch;
}


/* one update of the page's rows: 0; -2: try again; -1: refused */
static int
photo_reindex_send(photo_solr_t *solr, PGresult *res)
{
    int                   i, rows;
    char                  err[PHOTO_JOB_REASON];
    size_t                len;
    yajl_gen              g;
    photo_index_doc_t     d;
    photo_solr_rc_t       rc;
    const unsigned char  *buf;

    rows = PQntuples(res);
    if (rows == 0) {
        return 0;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL || yajl_gen_map_open(g) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return -1;
    }

    for (i = 0; i < rows; i++) {
        if (photo_index_doc_set(&d, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                                strtoll(PQgetvalue(res, i, 1), NULL, 10),
                                PQgetvalue(res, i, 2),
                                strtod(PQgetvalue(res, i, 3), NULL),
                                strtod(PQgetvalue(res, i, 4), NULL),
                                strtoll(PQgetvalue(res, i, 5), NULL, 10))
            != 0
            || photo_index_doc_gen(g, &d) != yajl_gen_status_ok)
        {
            photo_log_error("photo %s cannot be written for solr",
                            PQgetvalue(res, i, 0));
            yajl_gen_free(g);
            return -1;
        }
    }

    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    rc = photo_solr_update(solr, buf, len, err, sizeof(err));
    yajl_gen_free(g);

    if (rc == PHOTO_SOLR_OK) {
        return 0;
    }

    photo_log_error("solr: %s", err);

    return rc == PHOTO_SOLR_RETRY ? -2 : -1;
}
