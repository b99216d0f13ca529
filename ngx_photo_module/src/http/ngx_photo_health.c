
/*
 * GET /health: probe every configured backend at once and say which answer.
 * 200 when all do, 503 otherwise, so a load balancer can act on it.  A
 * Redis Cluster is asked for its own state (CLUSTER INFO) by each seed, and
 * is up when one says ok: a dead node whose replica took over leaves the
 * answer 200, "degraded", not 503 on every nginx at once.
 *
 * gearmand answering is not enough: its persistent queue can fail on its
 * own (a Redis that restarted, to which gearmand never reconnects), and
 * then every write is refused.  So a background job is submitted too
 * (photo_health, which the persist worker completes and ignores): gearmand
 * answers JOB_CREATED only once the queue has stored it.
 */

#include "ngx_http_photo_module.h"
#include "ngx_photo_gearman.h"
#include "ngx_photo_json.h"
#include "ngx_photo_probe.h"
#include "photo_contract.h"


#define NGX_PHOTO_HEALTH_QUEUE_ERROR                                         \
    "gearmand did not store a job (its log says why)"


typedef struct ngx_photo_health_ctx_s  ngx_photo_health_ctx_t;


/* A line of the answer: a server's probe, or gearmand's queue. */
typedef struct {
    ngx_photo_health_ctx_t     *ctx;
    const char                 *backend;
    ngx_flag_t                  any;        /* up when one of its backend's
                                               rows is */
    ngx_photo_server_t         *server;
    ngx_photo_probe_t           probe;      /* unused by the queue's */
    ngx_msec_t                  start;
    ngx_msec_t                  elapsed;
    const char                 *error;      /* NULL: up */
} ngx_photo_health_row_t;


struct ngx_photo_health_ctx_s {
    ngx_http_request_t         *request;
    ngx_photo_health_row_t     *rows;
    ngx_uint_t                  nrows;
    ngx_uint_t                  pending;
};


static ngx_photo_health_row_t *ngx_photo_health_row(
    ngx_photo_health_ctx_t *ctx, const char *backend,
    ngx_photo_server_t *server);
static void ngx_photo_health_queue(ngx_photo_health_ctx_t *ctx,
    ngx_photo_server_t *server, ngx_uint_t index);
static void ngx_photo_health_done(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_health_respond(ngx_photo_health_ctx_t *ctx);
static ngx_flag_t ngx_photo_health_down(ngx_photo_health_ctx_t *ctx,
    ngx_photo_health_row_t *row);
static void ngx_photo_health_cleanup(void *data);


ngx_int_t
ngx_photo_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, n;
    ngx_module_t             **m;
    ngx_pool_cleanup_t        *cln;
    ngx_photo_server_t        *server;
    ngx_photo_health_ctx_t    *ctx;
    ngx_photo_health_row_t    *row;
    ngx_photo_backend_conf_t  *bcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "/health answers GET and HEAD only");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_photo_health_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* one probe a server of each backend, one for each gearmand's queue */
    n = ngx_photo_backend_conf(r, ngx_http_photo_gearman_module)
            ->servers->nelts;

    for (m = ngx_http_photo_backends; *m; m++) {
        n += ngx_photo_backend_conf(r, (**m))->servers->nelts;
    }

    ctx->request = r;
    ctx->rows = ngx_pcalloc(r->pool, n * sizeof(ngx_photo_health_row_t));
    if (ctx->rows == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* probes still connected when the request goes away are closed */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_photo_health_cleanup;
    cln->data = ctx;

    for (m = ngx_http_photo_backends; *m; m++) {
        bcf = ngx_photo_backend_conf(r, (**m));
        server = bcf->servers->elts;

        for (i = 0; i < bcf->servers->nelts; i++) {
            row = ngx_photo_health_row(ctx, bcf->name, &server[i]);
            row->any = bcf->health_any;

            rc = ngx_photo_probe_start(&row->probe, bcf, &server[i],
                                       r->connection->log, r->pool,
                                       ngx_photo_health_done, row);

            if (rc == NGX_AGAIN) {
                ctx->pending++;

            } else {
                row->error = row->probe.error;
            }
        }
    }

    bcf = ngx_photo_backend_conf(r, ngx_http_photo_gearman_module);
    server = bcf->servers->elts;

    for (i = 0; i < bcf->servers->nelts; i++) {
        ngx_photo_health_queue(ctx, &server[i], i);
    }

    if (ctx->pending == 0) {
        return ngx_photo_health_respond(ctx);
    }

    /* a client that leaves ends it, its probes closed (the cleanup) */
    r->read_event_handler = ngx_http_test_reading;
    r->main->count++;

    return NGX_DONE;
}


static ngx_photo_health_row_t *
ngx_photo_health_row(ngx_photo_health_ctx_t *ctx, const char *backend,
    ngx_photo_server_t *server)
{
    ngx_photo_health_row_t  *row;

    row = &ctx->rows[ctx->nrows++];

    row->ctx = ctx;
    row->backend = backend;
    row->server = server;
    row->start = ngx_current_msec;

    return row;
}


/* a queue's probe: a line like the others, filled by its gearmand's answer */
static void
ngx_photo_health_queue(ngx_photo_health_ctx_t *ctx, ngx_photo_server_t *server,
    ngx_uint_t index)
{
    ngx_int_t                rc;
    ngx_str_t                fn, unique, payload;
    ngx_photo_health_row_t  *row;

    row = ngx_photo_health_row(ctx, "gearmand_queue", server);

    ngx_str_set(&fn, PHOTO_JOB_HEALTH);
    ngx_str_set(&unique, PHOTO_HEALTH_UNIQUE);
    ngx_str_set(&payload, "{}");

    rc = ngx_photo_gm_submit_to(ctx->request, index, &fn, &unique, &payload,
                                ngx_photo_health_done, row);

    if (rc == NGX_AGAIN) {
        ctx->pending++;
        return;
    }

    row->error = (rc == NGX_DECLINED) ? NGX_PHOTO_HEALTH_QUEUE_ERROR
                                      : "cannot submit";
}


/* A probe's or the queue's result: one shape for both. */

static void
ngx_photo_health_done(void *data, ngx_photo_result_t *res)
{
    ngx_photo_health_row_t  *row = data;

    ngx_connection_t        *c;
    ngx_photo_health_ctx_t  *ctx;

    ctx = row->ctx;

    row->elapsed = ngx_current_msec - row->start;

    /* a probe says why it failed; the queue's line has no probe */
    if (res->status != NGX_PHOTO_DONE) {
        row->error = row->probe.error ? row->probe.error
                                      : NGX_PHOTO_HEALTH_QUEUE_ERROR;
    }

    if (--ctx->pending) {
        return;
    }

    c = ctx->request->connection;

    ngx_http_finalize_request(ctx->request, ngx_photo_health_respond(ctx));

    /* from a probe's event: what the finalize posted runs now (a response
       that could not be written posts its request's end) */
    ngx_http_run_posted_requests(c);
}


/* a row that is down, and no other row of its backend makes up for it */

static ngx_flag_t
ngx_photo_health_down(ngx_photo_health_ctx_t *ctx, ngx_photo_health_row_t *row)
{
    ngx_uint_t  i;

    if (row->error == NULL) {
        return 0;
    }

    if (row->any) {
        for (i = 0; i < ctx->nrows; i++) {
            if (ctx->rows[i].backend == row->backend
                && ctx->rows[i].error == NULL)
            {
                return 0;
            }
        }
    }

    return 1;
}


static ngx_int_t
ngx_photo_health_respond(ngx_photo_health_ctx_t *ctx)
{
    ngx_uint_t               i, up, down;
    ngx_photo_json_t         j;
    ngx_http_request_t      *r;
    ngx_photo_health_row_t  *row;

    r = ctx->request;

    if (ngx_photo_json_init(&j, r->pool, 1024) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    up = 0;
    down = 0;

    yajl_gen_map_open(j.gen);
    ngx_photo_json_lit(&j, "backends");
    yajl_gen_array_open(j.gen);

    for (i = 0; i < ctx->nrows; i++) {
        row = &ctx->rows[i];

        yajl_gen_map_open(j.gen);
        ngx_photo_json_lit(&j, "backend");
        yajl_gen_string(j.gen, (const u_char *) row->backend,
                        ngx_strlen(row->backend));
        ngx_photo_json_lit(&j, "address");
        ngx_photo_json_str(&j, &row->server->name);
        ngx_photo_json_lit(&j, "up");
        yajl_gen_bool(j.gen, row->error == NULL);

        down += ngx_photo_health_down(ctx, row);

        if (row->error == NULL) {
            up++;
            ngx_photo_json_lit(&j, "ms");
            yajl_gen_integer(j.gen, row->elapsed);

        } else {
            ngx_photo_json_lit(&j, "error");
            yajl_gen_string(j.gen, (const u_char *) row->error,
                            ngx_strlen(row->error));
        }

        yajl_gen_map_close(j.gen);
    }

    yajl_gen_array_close(j.gen);
    ngx_photo_json_lit(&j, "status");

    if (up == ctx->nrows) {
        ngx_photo_json_lit(&j, "ok");

    } else if (down == 0) {
        ngx_photo_json_lit(&j, "degraded");

    } else {
        ngx_photo_json_lit(&j, "unavailable");
    }

    yajl_gen_map_close(j.gen);

    return ngx_photo_json_send(r, down == 0 ? NGX_HTTP_OK
                                            : NGX_HTTP_SERVICE_UNAVAILABLE,
                               &j);
}


static void
ngx_photo_health_cleanup(void *data)
{
    ngx_photo_health_ctx_t  *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < ctx->nrows; i++) {
        ngx_photo_probe_abort(&ctx->rows[i].probe);
    }
}
