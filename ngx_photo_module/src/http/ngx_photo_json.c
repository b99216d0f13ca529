
/*
 * JSON responses generated with yajl.
 */

#include "ngx_photo_json.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_write.h"


#define NGX_PHOTO_JSON_ERROR_MAX  512


static void *ngx_photo_json_malloc(void *ctx, size_t size);
static void *ngx_photo_json_realloc(void *ctx, void *ptr, size_t size);
static void ngx_photo_json_free(void *ctx, void *ptr);
static void ngx_photo_json_print(void *ctx, const char *str, size_t len);


/*
 * yajl's allocator contract has realloc() without the old size, so each
 * block carries its size in front; free() is left to the pool.
 */

static void *
ngx_photo_json_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_photo_json_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *old;
    void    *p;

    p = ngx_photo_json_malloc(ctx, size);

    if (p == NULL || ptr == NULL) {
        return p;
    }

    old = (size_t *) ptr - 1;
    ngx_memcpy(p, ptr, ngx_min(*old, size));

    return p;
}


static void
ngx_photo_json_free(void *ctx, void *ptr)
{
    /* the pool frees everything with the request */
}


ngx_int_t
ngx_photo_json_init(ngx_photo_json_t *j, ngx_pool_t *pool, size_t chunk)
{
    ngx_memzero(j, sizeof(ngx_photo_json_t));

    j->pool = pool;
    j->chunk = chunk;
    j->last = &j->out;

    /* user text that is not UTF-8 is refused, never printed as is */
    j->gen = ngx_photo_json_gen_alloc(pool);
    if (j->gen == NULL) {
        return NGX_ERROR;
    }

    if (!yajl_gen_config(j->gen, yajl_gen_print_callback,
                         ngx_photo_json_print, j))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_photo_json_alloc_funcs(ngx_pool_t *pool, yajl_alloc_funcs *afs)
{
    afs->malloc = ngx_photo_json_malloc;
    afs->realloc = ngx_photo_json_realloc;
    afs->free = ngx_photo_json_free;
    afs->ctx = pool;
}


yajl_gen
ngx_photo_json_gen_alloc(ngx_pool_t *pool)
{
    yajl_gen          g;
    yajl_alloc_funcs  afs;

    ngx_photo_json_alloc_funcs(pool, &afs);

    g = yajl_gen_alloc(&afs);
    if (g == NULL) {
        return NULL;
    }

    if (!yajl_gen_config(g, yajl_gen_validate_utf8, 1)) {
        return NULL;
    }

    return g;
}


void
ngx_photo_json_pair(yajl_gen g, const char *name, u_char *value, size_t len)
{
    yajl_gen_string(g, (u_char *) name, ngx_strlen(name));
    yajl_gen_string(g, value, len);
}


void
ngx_photo_json_id_pair(yajl_gen g, const char *name, int64_t id)
{
    u_char  buf[NGX_INT64_LEN];

    ngx_photo_json_pair(g, name, buf, ngx_sprintf(buf, "%L", id) - buf);
}


ngx_int_t
ngx_photo_json_take(yajl_gen g, ngx_str_t *out)
{
    size_t                len;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    /* the buffer is the request pool's: it lives as long as the request */
    out->data = (u_char *) buf;
    out->len = len;

    return NGX_OK;
}


static void
ngx_photo_json_print(void *ctx, const char *str, size_t len)
{
    ngx_photo_json_t  *j = ctx;

    size_t        n;
    ngx_chain_t  *cl;

    while (len) {

        if (j->buf == NULL || j->buf->last == j->buf->end) {

            cl = ngx_alloc_chain_link(j->pool);
            if (cl == NULL) {
                j->failed = 1;
                return;
            }

            j->buf = ngx_create_temp_buf(j->pool, ngx_max(j->chunk, len));
            if (j->buf == NULL) {
                j->failed = 1;
                return;
            }

            cl->buf = j->buf;
            cl->next = NULL;
            *j->last = cl;
            j->last = &cl->next;
        }

        n = ngx_min(len, (size_t) (j->buf->end - j->buf->last));
        j->buf->last = ngx_cpymem(j->buf->last, str, n);

        str += n;
        len -= n;
        j->length += n;
    }
}


ngx_int_t
ngx_photo_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_photo_json_t *j)
{
    if (j->failed || j->out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_photo_send(r, status, j->out, j->length);
}


ngx_int_t
ngx_photo_send(ngx_http_request_t *r, ngx_uint_t status, ngx_chain_t *out,
    off_t length)
{
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    /* a write with an Idempotency-Key keeps its answer before it is sent */
    rc = ngx_photo_idem_answer(r, status, out, length);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = length;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (cl = out; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, out);
}


ngx_int_t
ngx_photo_json_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char            *p;
    va_list            args;
    ngx_str_t          message;
    ngx_photo_json_t   j;
    u_char             msg[NGX_PHOTO_JSON_ERROR_MAX];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    message.data = msg;
    message.len = p - msg;

    /* a request we refuse is read no further, nor kept alive half-read */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_photo_json_error_body(&j, r, code, &message) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_photo_json_send(r, status, &j);
}


ngx_int_t
ngx_photo_retry_after(ngx_http_request_t *r, ngx_uint_t seconds)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    h = ngx_list_push(&r->headers_out.headers);
    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%ui", seconds) - p;

    return NGX_OK;
}


ngx_int_t
ngx_photo_json_error_body(ngx_photo_json_t *j, ngx_http_request_t *r,
    const char *code, ngx_str_t *message)
{
    ngx_str_t  id;

    if (ngx_photo_json_init(j, r->pool, 256) != NGX_OK) {
        return NGX_ERROR;
    }

    yajl_gen_map_open(j->gen);
    ngx_photo_json_lit(j, "error");
    yajl_gen_map_open(j->gen);
    ngx_photo_json_lit(j, "code");
    yajl_gen_string(j->gen, (const u_char *) code, ngx_strlen(code));
    ngx_photo_json_lit(j, "message");
    if (yajl_gen_string(j->gen, message->data, message->len)
        != yajl_gen_status_ok)
    {
        ngx_photo_json_lit(j, "request refused");
    }
    /* the id the log's lines of this request carry too */
    if (ngx_photo_metrics_request_id(r, &id) == NGX_OK) {
        ngx_photo_json_lit(j, "request_id");
        yajl_gen_string(j->gen, id.data, id.len);
    }
    yajl_gen_map_close(j->gen);
    yajl_gen_map_close(j->gen);

    return (j->failed || j->out == NULL) ? NGX_ERROR : NGX_OK;
}
