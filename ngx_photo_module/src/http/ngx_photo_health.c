
/*
 * GET /health: probe every configured backend at once and say which answer.
 * 200 when all do, 503 otherwise, so a load balancer can act on it.
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


typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_probe_t          *probes;
    ngx_uint_t                  nprobes;
    ngx_uint_t                  pending;
} ngx_photo_health_ctx_t;


static void ngx_photo_health_add(ngx_photo_health_ctx_t *ctx,
    ngx_photo_backend_conf_t *bcf, ngx_photo_server_t *server);
static void ngx_photo_health_queue(ngx_photo_health_ctx_t *ctx,
    ngx_photo_server_t *server);
static void ngx_photo_health_queued(void *data, ngx_int_t rc,
    ngx_str_t *result);
static void ngx_photo_health_probe_done(ngx_photo_probe_t *p);
static ngx_int_t ngx_photo_health_respond(ngx_photo_health_ctx_t *ctx);
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

    /* one probe a server of each backend, one for gearmand's queue */
    n = 1;

    for (m = ngx_http_photo_backends; *m; m++) {
        n += ngx_photo_backend_conf(r, (**m))->servers->nelts;
    }

    ctx->request = r;
    ctx->probes = ngx_pcalloc(r->pool, n * sizeof(ngx_photo_probe_t));
    if (ctx->probes == NULL) {
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
            ngx_photo_health_add(ctx, bcf, &server[i]);
        }
    }

    bcf = ngx_photo_backend_conf(r, ngx_http_photo_gearman_module);
    ngx_photo_health_queue(ctx, bcf->servers->elts);

    if (ctx->pending == 0) {
        return ngx_photo_health_respond(ctx);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_photo_health_add(ngx_photo_health_ctx_t *ctx,
    ngx_photo_backend_conf_t *bcf, ngx_photo_server_t *server)
{
    u_char             *action;
    ngx_photo_probe_t  *p;

    p = &ctx->probes[ctx->nprobes++];

    p->backend = bcf->name;
    p->ping = bcf->ping;
    p->pong = bcf->pong;
    p->pong_alt = bcf->pong_alt;
    p->server = server;
    p->timeout = bcf->timeout;
    p->done = ngx_photo_health_probe_done;
    p->data = ctx;

    /* errors on the probe's connection say which backend they are about */
    p->log = ngx_palloc(ctx->request->pool, sizeof(ngx_log_t));
    action = ngx_pnalloc(ctx->request->pool,
                         sizeof("probing  at ") + ngx_strlen(p->backend)
                         + server->name.len);

    if (p->log == NULL || action == NULL) {
        p->rc = NGX_ERROR;
        p->error = "out of memory";
        return;
    }

    *p->log = *ctx->request->connection->log;
    *ngx_sprintf(action, "probing %s at %V", p->backend, &server->name) = '\0';
    p->log->action = (char *) action;

    if (ngx_photo_probe_start(p) == NGX_AGAIN) {
        ctx->pending++;
    }
}


/* the queue's probe: a slot like the others, filled by gearmand's answer */
static void
ngx_photo_health_queue(ngx_photo_health_ctx_t *ctx, ngx_photo_server_t *server)
{
    ngx_str_t           fn, unique, payload;
    ngx_photo_probe_t  *p;

    p = &ctx->probes[ctx->nprobes++];

    p->backend = "gearmand_queue";
    p->server = server;
    p->start = ngx_current_msec;
    p->rc = NGX_AGAIN;

    ngx_str_set(&fn, PHOTO_JOB_HEALTH);
    ngx_str_set(&unique, PHOTO_HEALTH_UNIQUE);
    ngx_str_set(&payload, "{}");

    if (ngx_photo_gm_submit(ctx->request, &fn, &unique, &payload, 1, 0,
                            ngx_photo_health_queued, p)
        != NGX_AGAIN)
    {
        p->rc = NGX_ERROR;
        p->error = "cannot submit";
        return;
    }

    p->data = ctx;
    ctx->pending++;
}


static void
ngx_photo_health_queued(void *data, ngx_int_t rc, ngx_str_t *result)
{
    ngx_photo_probe_t  *p = data;

    p->rc = rc == NGX_OK ? NGX_OK : NGX_ERROR;
    p->error = "gearmand did not store a job (its log says why)";
    p->elapsed = ngx_current_msec - p->start;

    ngx_photo_health_probe_done(p);
}


static void
ngx_photo_health_probe_done(ngx_photo_probe_t *p)
{
    ngx_photo_health_ctx_t  *ctx = p->data;

    if (--ctx->pending) {
        return;
    }

    ngx_http_finalize_request(ctx->request,
                              ngx_photo_health_respond(ctx));
}


static ngx_int_t
ngx_photo_health_respond(ngx_photo_health_ctx_t *ctx)
{
    ngx_uint_t           i, up;
    ngx_photo_json_t     j;
    ngx_photo_probe_t   *p;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ngx_photo_json_init(&j, r->pool, 1024) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    up = 0;

    yajl_gen_map_open(j.gen);
    ngx_photo_json_lit(&j, "backends");
    yajl_gen_array_open(j.gen);

    for (i = 0; i < ctx->nprobes; i++) {
        p = &ctx->probes[i];

        yajl_gen_map_open(j.gen);
        ngx_photo_json_lit(&j, "backend");
        yajl_gen_string(j.gen, (const u_char *) p->backend,
                        ngx_strlen(p->backend));
        ngx_photo_json_lit(&j, "address");
        ngx_photo_json_str(&j, &p->server->name);
        ngx_photo_json_lit(&j, "up");
        yajl_gen_bool(j.gen, p->rc == NGX_OK);

        if (p->rc == NGX_OK) {
            up++;
            ngx_photo_json_lit(&j, "ms");
            yajl_gen_integer(j.gen, p->elapsed);

        } else {
            ngx_photo_json_lit(&j, "error");
            yajl_gen_string(j.gen, (const u_char *) p->error,
                            ngx_strlen(p->error));
        }

        yajl_gen_map_close(j.gen);
    }

    yajl_gen_array_close(j.gen);
    ngx_photo_json_lit(&j, "status");

    if (up == ctx->nprobes) {
        ngx_photo_json_lit(&j, "ok");

    } else {
        ngx_photo_json_lit(&j, "unavailable");
    }

    yajl_gen_map_close(j.gen);

    return ngx_photo_json_send(r, up == ctx->nprobes
                                  ? NGX_HTTP_OK
                                  : NGX_HTTP_SERVICE_UNAVAILABLE, &j);
}


static void
ngx_photo_health_cleanup(void *data)
{
    ngx_photo_health_ctx_t  *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < ctx->nprobes; i++) {
        ngx_photo_probe_abort(&ctx->probes[i]);
    }
}
