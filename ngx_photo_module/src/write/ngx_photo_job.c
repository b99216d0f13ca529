
/*
 * The steps every write takes before its endpoint, and handing it to
 * gearmand: a background job whose gearman unique key is the write's own
 * id, so a retried submission is one job.  The client gets 202 only once
 * gearmand has the job in its persistent queue (JOB_CREATED).  A 503 says
 * gearmand did not confirm it: it may have stored it all the same, which
 * is why the job is kept with the write's Idempotency-Key first.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_gearman.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_postgres.h"


typedef struct {
    ngx_photo_write_t          *write;
    int64_t                     id;
    ngx_str_t                   function;
    ngx_str_t                   unique;
    ngx_str_t                   payload;
} ngx_photo_job_t;


static void ngx_photo_write_lease(ngx_photo_write_t *w);
static void ngx_photo_job_send(void *data);
static void ngx_photo_job_created(void *data, ngx_photo_result_t *res);


/*
 * A write whose body (and session) are in: the record of its
 * Idempotency-Key if it has one, then an id shard, then its endpoint.
 */

void
ngx_photo_write_ready(ngx_photo_write_t *w)
{
    ngx_photo_idem_begin(w, ngx_photo_write_lease);
}


static void
ngx_photo_write_lease(ngx_photo_write_t *w)
{
    ngx_photo_shard_wait(w, w->handler);
}


void
ngx_photo_job_submit(ngx_photo_write_t *w, const char *function, int64_t id,
    ngx_str_t *payload)
{
    u_char              *p;
    ngx_photo_job_t     *job;
    ngx_http_request_t  *r;

    r = w->request;

    job = ngx_palloc(r->pool, sizeof(ngx_photo_job_t));
    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (job == NULL || p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    job->write = w;
    job->id = id;
    job->function.data = (u_char *) function;
    job->function.len = ngx_strlen(function);
    job->unique.data = p;
    job->unique.len = ngx_sprintf(p, "%L", id) - p;
    job->payload = *payload;

    /* kept with the Idempotency-Key first: a retry after an unknown
       outcome submits this very job again */
    ngx_photo_idem_keep(w, &job->function, id, &job->payload,
                        ngx_photo_job_send, job);
}


static void
ngx_photo_job_send(void *data)
{
    ngx_photo_job_t  *job = data;

    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = job->write->request;

    rc = ngx_photo_gm_submit(r, &job->function, &job->unique, &job->payload,
                             1, 0, ngx_photo_job_created, job);

    if (rc == NGX_DECLINED) {
        ngx_photo_metrics_job(r, NGX_PHOTO_AWAY);
    }

    ngx_photo_wait_again(r, rc, "gearmand");
}


static void
ngx_photo_job_created(void *data, ngx_photo_result_t *res)
{
    ngx_photo_job_t  *job = data;

    u_char              *p;
    ngx_str_t            body;
    ngx_http_request_t  *r;

    r = job->write->request;

    ngx_photo_metrics_job(r, res->status);

    if (res->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    p = ngx_pnalloc(r->pool, sizeof("{\"id\":\"\",\"status\":\"queued\"}")
                             + NGX_INT64_LEN);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    body.data = p;
    body.len = ngx_sprintf(p, "{\"id\":\"%L\",\"status\":\"queued\"}", job->id)
               - p;

    ngx_photo_write_answer(job->write, NGX_HTTP_ACCEPTED, &body);
}


yajl_gen
ngx_photo_job_begin(ngx_photo_write_t *w, int64_t *id)
{
    yajl_gen             g;
    ngx_http_request_t  *r;

    r = w->request;

    *id = ngx_photo_next_id(r);
    g = ngx_photo_json_gen_alloc(r->pool);

    if (*id == 0 || g == NULL) {
        ngx_http_finalize_request(r, *id ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                         : ngx_photo_unavailable(r, "ids"));
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_UNIQUE, *id);

    return g;
}


void
ngx_photo_job_end(ngx_photo_write_t *w, yajl_gen g, const char *function,
    int64_t id)
{
    ngx_str_t  payload;

    yajl_gen_map_close(g);

    if (ngx_photo_json_take(g, &payload) != NGX_OK) {
        ngx_http_finalize_request(w->request, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_photo_job_submit(w, function, id, &payload);
}


void
ngx_photo_write_lookup(ngx_photo_write_t *w, const char *sql,
    ngx_photo_result_pt handler)
{
    u_char              *p;
    ngx_int_t            rc;
    const char          *values[1];
    ngx_http_request_t  *r;

    r = w->request;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_sprintf(p, "%L", w->target_id) = '\0';
    values[0] = (const char *) p;

    rc = ngx_photo_pg_query(r, sql, 1, values, handler, w);

    ngx_photo_wait_again(r, rc, "postgres");
}


void
ngx_photo_write_answer(ngx_photo_write_t *w, ngx_uint_t status,
    ngx_str_t *json)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(w->request->pool);
    cl = ngx_alloc_chain_link(w->request->pool);
    if (b == NULL || cl == NULL) {
        ngx_http_finalize_request(w->request, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->pos = json->data;
    b->last = json->data + json->len;
    b->memory = 1;
    cl->buf = b;
    cl->next = NULL;

    ngx_http_finalize_request(w->request,
        ngx_photo_send(w->request, status, cl, json->len));
}

