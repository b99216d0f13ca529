
/*
 * The start of every write: read the request body, parse it as JSON with
 * yajl (its tree API) and read it strictly (ngx_photo_json_strict.c), check
 * the session, then hand over to the endpoint.  A malformed request is
 * refused here with a 4xx naming the problem, before anything is written
 * anywhere.  A body nginx wrote to its temp file is read back by a thread
 * of photo_media_thread_pool when there is one (ngx_photo_write_task).
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_json_strict.h"
#include "ngx_photo_session.h"


#define NGX_PHOTO_JSON_MAX  16384


static void ngx_photo_body_read(ngx_http_request_t *r);
static void ngx_photo_body_parse(ngx_photo_write_t *w);
static ngx_int_t ngx_photo_body_collect(ngx_photo_write_t *w,
    size_t max);
static void ngx_photo_body_gather(ngx_photo_write_t *w, ngx_log_t *log);
static void ngx_photo_write_task_done(ngx_photo_write_t *w);
#if (NGX_THREADS)
static void ngx_photo_write_thread(void *data, ngx_log_t *log);
static void ngx_photo_write_thread_done(ngx_event_t *ev);
static void ngx_photo_write_resume(ngx_http_request_t *r);
#endif
static void ngx_photo_write_session(ngx_photo_write_t *w);
static void ngx_photo_body_session(void *data, int64_t user_id);
static void ngx_photo_body_free(void *data);
static ngx_int_t ngx_photo_body_strict(ngx_photo_write_t *w);
static ngx_flag_t ngx_photo_body_type_is(ngx_http_request_t *r,
    const char *const *types);
static ngx_int_t ngx_photo_json_member(ngx_photo_write_t *w,
    const char *name, ngx_flag_t required, yajl_val *v);


/*
 * What a body must be sent as, by its ngx_photo_body_e.  A browser sends
 * text/plain and forms to any site without asking it first (no CORS
 * preflight), so a page of another site could post them with the user's
 * cookie; JSON and images it does not send that way.
 */
typedef struct {
    const char                 *types[3];   /* NULL-terminated */
    const char                 *refused;
} ngx_photo_body_type_t;


static const ngx_photo_body_type_t  ngx_photo_body_types[] = {

    /* NGX_PHOTO_BODY_JSON */
    { { "application/json", NULL, NULL },
      "the body must be sent as Content-Type: application/json" },

    /* NGX_PHOTO_BODY_RAW */
    { { "image/jpeg", "image/png", NULL },
      "the image must be sent as Content-Type: image/jpeg or image/png" }
};


ngx_int_t
ngx_photo_write_start(ngx_http_request_t *r, ngx_photo_write_pt handler,
    ngx_flag_t signed_in, ngx_photo_body_e body_type, int64_t target_id)
{
    ngx_int_t           rc;
    const char         *why;
    ngx_photo_write_t  *w;

    w = ngx_pcalloc(r->pool, sizeof(ngx_photo_write_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->request = r;
    w->handler = handler;
    w->signed_in = signed_in;
    w->target_id = target_id;
    w->body_type = body_type;

    /* a malformed token is refused before the body is even read */
    if (signed_in) {
        if (ngx_photo_session_token(r, &w->token) != NGX_OK) {
            return ngx_photo_unauthorized(r);
        }

        why = ngx_photo_session_origin(r);
        if (why) {
            return ngx_photo_json_error(r, NGX_HTTP_FORBIDDEN,
                                        "forbidden_origin", "%s", why);
        }
    }

    if (body_type != NGX_PHOTO_BODY_NONE
        && !ngx_photo_body_type_is(r, ngx_photo_body_types[body_type].types))
    {
        return ngx_photo_json_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                    "unsupported_media_type", "%s",
                                    ngx_photo_body_types[body_type].refused);
    }

    if (body_type == NGX_PHOTO_BODY_NONE) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        r->main->count++;
        ngx_photo_write_session(w);

        return NGX_DONE;
    }

    if (body_type == NGX_PHOTO_BODY_JSON
        && r->headers_in.content_length_n > NGX_PHOTO_JSON_MAX)
    {
        return ngx_photo_json_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "too_large", "the body is over %d bytes",
                                    NGX_PHOTO_JSON_MAX);
    }

    ngx_http_set_ctx(r, w, ngx_http_photo_module);

    /* small JSON bodies stay in memory; images may go to a temp file */
    if (body_type == NGX_PHOTO_BODY_JSON) {
        r->request_body_in_single_buf = 1;
    }

    rc = ngx_http_read_client_request_body(r, ngx_photo_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_photo_body_read(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_photo_write_t            *w;
    ngx_http_photo_loc_conf_t    *plcf;

    w = ngx_http_get_module_ctx(r, ngx_http_photo_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    rc = ngx_photo_body_collect(w, w->body_type == NGX_PHOTO_BODY_RAW
                                   ? plcf->media_max : NGX_PHOTO_JSON_MAX);

    if (rc == NGX_AGAIN) {
        ngx_photo_write_task(w, ngx_photo_body_gather, ngx_photo_body_parse);
        return;
    }

    if (rc == NGX_OK) {
        ngx_photo_body_parse(w);
    }
}


/* The whole body is in w->body: JSON parsed, then the session. */

static void
ngx_photo_body_parse(ngx_photo_write_t *w)
{
    char                 err[256];
    u_char              *p;
    ngx_pool_cleanup_t  *cln;
    ngx_http_request_t  *r;
    ngx_photo_strict_t   where;

    r = w->request;

    if (w->body_type == NGX_PHOTO_BODY_JSON) {

        /* yajl's tree wants a C string */
        p = ngx_pnalloc(r->pool, w->body.len + 1);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(p, w->body.data, w->body.len);
        p[w->body.len] = '\0';

        err[0] = '\0';

        if (ngx_strlen(p) != w->body.len) {
            ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                                 "the body holds a NUL byte");
            return;
        }

        w->json = yajl_tree_parse((char *) p, err, sizeof(err));

        if (w->json == NULL) {
            /* yajl refuses a string that is not UTF-8: named, as when the
               tree takes one the strict pass refuses */
            if (ngx_photo_json_strict(w->body.data, w->body.len, &where)
                == NGX_PHOTO_STRICT_UTF8)
            {
                (void) ngx_photo_body_strict(w);
                return;
            }

            /* yajl quotes the text around the error: UTF-8 in the answer */
            for (p = (u_char *) err; *p; p++) {
                if (*p == '\n' || *p == '\r' || *p >= 0x80) {
                    *p = ' ';
                }
            }

            ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                                 "the body is not JSON: %s", err);
            return;
        }

        /* yajl's tree is malloc()ed: freed with the request */
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            yajl_tree_free(w->json);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        cln->handler = ngx_photo_body_free;
        cln->data = w->json;

        if (!YAJL_IS_OBJECT(w->json)) {
            ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                                 "the body must be a JSON object");
            return;
        }

        if (ngx_photo_body_strict(w) != NGX_OK) {
            return;
        }
    }

    ngx_photo_write_session(w);
}


/*
 * What the tree let through: a NUL, a lone surrogate, a string that is not
 * UTF-8, a name given twice.  NGX_OK, or NGX_ERROR (answered, naming the
 * member).
 */

static ngx_int_t
ngx_photo_body_strict(ngx_photo_write_t *w)
{
    const char          *what;
    ngx_photo_strict_t   where;

    switch (ngx_photo_json_strict(w->body.data, w->body.len, &where)) {

    case NGX_PHOTO_STRICT_OK:
        return NGX_OK;

    case NGX_PHOTO_STRICT_NUL:
        what = "holds a NUL character";
        break;

    case NGX_PHOTO_STRICT_SURROGATE:
        what = "holds a lone surrogate";
        break;

    case NGX_PHOTO_STRICT_UTF8:
        what = "is not valid UTF-8";
        break;

    case NGX_PHOTO_STRICT_DUPLICATE:
        what = "is given twice";
        break;

    case NGX_PHOTO_STRICT_INVALID:
        /* what the tree takes that JSON has not */
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                             "the body is not JSON: it holds a comment, "
                             "or more after the object");
        return NGX_ERROR;

    default:
        ngx_http_finalize_request(w->request, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    if (where.has_name) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                             "\"%*s\" %s", where.name_len, where.name, what);

    } else {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_json",
                             "%s %s", where.in_name ? "a member name"
                                                    : "the body", what);
    }

    return NGX_ERROR;
}


/* The user behind the token, then the endpoint. */

static void
ngx_photo_write_session(ngx_photo_write_t *w)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = w->request;

    if (!w->signed_in) {
        ngx_photo_write_ready(w);
        return;
    }

    rc = ngx_photo_session_lookup(r, &w->token, ngx_photo_body_session, w);

    /* a client that leaves ends the request, and with it what it waits on */
    if (rc == NGX_AGAIN) {
        r->read_event_handler = ngx_http_test_reading;
    }

    ngx_photo_wait_again(r, rc, "redis");
}


/* The Content-Type is one of types, in any case, with any parameters. */

static ngx_flag_t
ngx_photo_body_type_is(ngx_http_request_t *r, const char *const *types)
{
    u_char           *p, *last, *end;
    size_t            len;
    ngx_table_elt_t  *h;

    h = r->headers_in.content_type;

    if (h == NULL) {
        return 0;
    }

    p = h->value.data;
    end = p + h->value.len;

    for (last = p; last < end; last++) {
        if (*last == ';' || *last == ' ' || *last == '\t') {
            break;
        }
    }

    len = last - p;

    while (last < end && (*last == ' ' || *last == '\t')) {
        last++;
    }

    if (last < end && *last != ';') {
        return 0;
    }

    for ( /* void */ ; *types; types++) {
        if (len == ngx_strlen(*types)
            && ngx_strncasecmp(p, (u_char *) *types, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The whole body in one buffer, at most max bytes: NGX_OK, NGX_ERROR
 * (answered), or NGX_AGAIN when its pieces are still to be gathered into
 * w->body, some of them from nginx's temp file (ngx_photo_body_gather).
 */

static ngx_int_t
ngx_photo_body_collect(ngx_photo_write_t *w, size_t max)
{
    off_t                 len;
    ngx_uint_t            in_file;
    ngx_chain_t          *cl;
    ngx_http_request_t   *r;

    r = w->request;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "empty_body",
                             "the request has no body");
        return NGX_ERROR;
    }

    len = 0;
    in_file = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
        in_file |= cl->buf->in_file;
    }

    if (len == 0) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "empty_body",
                             "the request has no body");
        return NGX_ERROR;
    }

    if ((size_t) len > max) {
        ngx_photo_write_fail(w, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "too_large", "the body is over %uz bytes", max);
        return NGX_ERROR;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        w->body.data = cl->buf->pos;
        w->body.len = len;
        return NGX_OK;
    }

    w->body.data = ngx_pnalloc(r->pool, len);
    if (w->body.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    w->body.len = len;

    if (in_file) {
        return NGX_AGAIN;
    }

    ngx_photo_body_gather(w, r->connection->log);

    return NGX_OK;
}


/* The body's pieces into w->body; a task (see ngx_photo_write_task). */

static void
ngx_photo_body_gather(ngx_photo_write_t *w, ngx_log_t *log)
{
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    p = w->body.data;

    for (cl = w->request->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        /* nginx wrote it to its temp file: read back what it wrote */
        n = pread(b->file->fd, p, (size_t) (b->file_last - b->file_pos),
                  b->file_pos);

        if (n != b->file_last - b->file_pos) {
            w->failed.level = NGX_LOG_CRIT;
            w->failed.what = "pread()";
            w->failed.on = b->file->name.data;
            w->failed.err = (n == -1) ? ngx_errno : 0;
            return;
        }

        p += n;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "photo body: %z bytes read back from \"%s\"", n,
                       b->file->name.data);
    }
}


void
ngx_photo_write_task(ngx_photo_write_t *w, ngx_photo_write_task_pt task,
    ngx_photo_write_pt done)
{
    ngx_http_request_t         *r;
#if (NGX_THREADS)
    ngx_thread_task_t          *t;
    ngx_http_photo_loc_conf_t  *plcf;
#endif

    r = w->request;
    w->task = task;
    w->done = done;

#if (NGX_THREADS)
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->media_pool) {
        t = ngx_thread_task_alloc(r->pool, 0);
        if (t == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        t->ctx = w;
        t->handler = ngx_photo_write_thread;
        t->event.data = w;
        t->event.handler = ngx_photo_write_thread_done;

        if (ngx_thread_task_post(plcf->media_pool, t) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /*
         * As nginx's own thread tasks: the request is "blocked" meanwhile,
         * so that a client that goes away does not free its pool under the
         * thread, and resumes through its write event handler, which nginx
         * replaces with its finalizer if the request was ended.
         */
        r->main->blocked++;
        r->aio = 1;
        r->write_event_handler = ngx_photo_write_resume;

        return;
    }
#endif

    task(w, r->connection->log);
    ngx_photo_write_task_done(w);
}


static void
ngx_photo_write_task_done(ngx_photo_write_t *w)
{
    ngx_http_request_t  *r;

    r = w->request;

    if (w->failed.what == NULL) {
        w->done(w);
        return;
    }

    if (w->failed.on) {
        ngx_log_error(w->failed.level, r->connection->log, w->failed.err,
                      "%s \"%s\" failed", w->failed.what, w->failed.on);

    } else {
        ngx_log_error(w->failed.level, r->connection->log, w->failed.err,
                      "%s failed", w->failed.what);
    }

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


#if (NGX_THREADS)

static void
ngx_photo_write_thread(void *data, ngx_log_t *log)
{
    ngx_photo_write_t  *w = data;

    w->task(w, log);
}


static void
ngx_photo_write_thread_done(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_photo_write_t   *w;
    ngx_http_request_t  *r;

    w = ev->data;
    r = w->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_photo_write_resume(ngx_http_request_t *r)
{
    if (r->aio) {
        return;                 /* a write event while the thread works */
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_photo_write_task_done(ngx_http_get_module_ctx(r,
                                                      ngx_http_photo_module));
}

#endif


static void
ngx_photo_body_session(void *data, int64_t user_id)
{
    ngx_photo_write_t  *w = data;

    w->user_id = user_id;
    ngx_photo_write_ready(w);
}


static void
ngx_photo_body_free(void *data)
{
    yajl_tree_free(data);
}


void
ngx_photo_write_fail(ngx_photo_write_t *w, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char   *p, msg[512];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    ngx_http_finalize_request(w->request,
        ngx_photo_json_error(w->request, status, code, "%s", msg));
}


/* The member name of the body: NGX_OK, NGX_DECLINED (absent or null, and
 * optional) or NGX_ERROR (required and absent: answered). */

static ngx_int_t
ngx_photo_json_member(ngx_photo_write_t *w, const char *name,
    ngx_flag_t required, yajl_val *v)
{
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    *v = yajl_tree_get(w->json, path, yajl_t_any);

    if (*v != NULL && !YAJL_IS_NULL(*v)) {
        return NGX_OK;
    }

    if (!required) {
        return NGX_DECLINED;
    }

    ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                         "\"%s\" is required", name);
    return NGX_ERROR;
}


ngx_int_t
ngx_photo_json_string(ngx_photo_write_t *w, const char *name,
    ngx_flag_t required, size_t min, size_t max, ngx_str_t *value)
{
    size_t     len;
    yajl_val   v;
    ngx_int_t  rc;

    rc = ngx_photo_json_member(w, name, required, &v);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!YAJL_IS_STRING(v)) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"%s\" must be a string", name);
        return NGX_ERROR;
    }

    /* length in characters (UTF-8), as a user counts them */
    len = ngx_utf8_length((u_char *) v->u.string, ngx_strlen(v->u.string));

    if (len < min || len > max) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"%s\" must have %uz to %uz characters", name,
                             min, max);
        return NGX_ERROR;
    }

    value->data = (u_char *) v->u.string;
    value->len = ngx_strlen(v->u.string);

    return NGX_OK;
}


ngx_int_t
ngx_photo_json_number(ngx_photo_write_t *w, const char *name,
    ngx_flag_t required, double min, double max, double *value)
{
    double     d;
    yajl_val   v;
    ngx_int_t  rc;

    rc = ngx_photo_json_member(w, name, required, &v);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!YAJL_IS_NUMBER(v)
        || !(v->u.number.flags & (YAJL_NUMBER_DOUBLE_VALID
                                  | YAJL_NUMBER_INT_VALID)))
    {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"%s\" must be a number", name);
        return NGX_ERROR;
    }

    d = (v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID)
        ? v->u.number.d : (double) v->u.number.i;

    if (!(d >= min && d <= max)) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"%s\" must be between %.6f and %.6f", name,
                             min, max);
        return NGX_ERROR;
    }

    *value = d;

    return NGX_OK;
}
