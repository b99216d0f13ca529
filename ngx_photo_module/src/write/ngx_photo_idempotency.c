
/*
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field") on the writes: a client that did not hear an answer retries with
 * the same key, and gets the first answer instead of a second write.
 *
 * A write with a key has a record in Redis (photo_contract.h,
 * PHOTO_REDIS_IDEMPOTENCY), scoped by the signed-in user (or "-" for
 * sign-up and sign-in), the method and the path, holding the request's
 * fingerprint.  Three small Lua scripts, one round trip each:
 *
 *   begin    before the endpoint runs.  A key not seen yet is held by this
 *            attempt for a while (ngx_photo_idem_hold); a key with a kept
 *            answer gets that answer again (422 for another body); a key
 *            held by an attempt still running gets 409; a key whose last
 *            attempt ended without a final answer (a 5xx, or an nginx worker
 *            that died holding it) is taken over, and its job, if it kept
 *            one, submitted again as it was;
 *   keep     a background write's job (function, id, payload) into the
 *            record, before it is submitted (ngx_photo_job.c);
 *   finish   the answer into the record, before the client gets it
 *            (ngx_photo_send): final for 2xx and 4xx, kept
 *            PHOTO_IDEMPOTENCY_TTL; after a 5xx, 408 or 429 only the hold
 *            is let go, the job kept.
 *
 * So a post answered 503 because gearmand did not confirm in time (it may
 * have stored the job all the same) is, retried with its key, the same job:
 * the same gearman unique key and photo id, which the workers apply once.
 *
 * A finish Redis did not take (it went away while the write ran) is tried
 * again by the worker until Redis takes it or the hold has lapsed anyway:
 * a retry once Redis is back is not told 409 for the rest of the hold.
 * So is a begin whose answer was lost (Redis crashed after it ran, or
 * answered after the timeout): "abandon" lets its hold go, or, when it has
 * not run yet, marks its owner gone so that it holds nothing when it does.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_gearman.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_redis.h"

#include <ngx_sha1.h>


#define NGX_PHOTO_IDEM_HEADER      "Idempotency-Key"
#define NGX_PHOTO_HTTP_UNPROCESSABLE  422
#define NGX_PHOTO_IDEM_ARGS        6           /* ARGV of a script, at most */
#define NGX_PHOTO_IDEM_LATE_RETRY  250         /* ms between late tries */


typedef enum {
    NGX_PHOTO_IDEM_WAITING = 0,    /* for begin's answer */
    NGX_PHOTO_IDEM_HELD,           /* this attempt holds the record */
    NGX_PHOTO_IDEM_STORING,        /* its answer is on its way to Redis */
    NGX_PHOTO_IDEM_DONE            /* answers go out as they are */
} ngx_photo_idem_state_e;


/* where ngx_photo_idem_header() is in a list of headers */
typedef struct {
    ngx_list_part_t            *part;
    ngx_uint_t                  i;
} ngx_photo_idem_iter_t;


struct ngx_photo_idem_s {
    ngx_photo_write_t          *write;
    ngx_photo_write_pt          next;
    ngx_photo_idem_state_e      state;
    ngx_flag_t                  job_kept;
    ngx_str_t                   record;     /* the Redis key */
    ngx_str_t                   owner;      /* this attempt, at random */

    void                      (*kept)(void *data);
    void                       *data;

    ngx_uint_t                  status;     /* the answer, while stored */
    ngx_chain_t                *out;
    off_t                       length;
    ngx_str_t                  *finish;     /* finish's ARGV, while stored */
};


/*
 * A finish or an abandon tried again by the worker, not the request: its
 * own copy of the record and ARGV in one heap block, freed once Redis took
 * it or its hold has lapsed (the process's exit ends it too: the timer is
 * cancelable).
 */
typedef struct {
    ngx_event_t                 ev;
    ngx_msec_t                  until;      /* the hold lapses by then */
    ngx_str_t                  *script;
    ngx_uint_t                  nargs;
    ngx_str_t                   record;
    ngx_str_t                   args[NGX_PHOTO_IDEM_ARGS];
} ngx_photo_idem_late_t;


static ngx_int_t ngx_photo_idem_eval(ngx_photo_idem_t *idem,
    ngx_str_t *script, ngx_str_t *args, ngx_uint_t nargs,
    ngx_photo_result_pt handler);
static int ngx_photo_idem_argv(ngx_str_t *script, ngx_str_t *record,
    ngx_str_t *args, ngx_uint_t nargs, const char **argv, size_t *argvlen);
static void ngx_photo_idem_late(ngx_http_request_t *r, ngx_str_t *record,
    ngx_str_t *script, ngx_str_t *args, ngx_uint_t nargs);
static void ngx_photo_idem_abandon(ngx_photo_idem_t *idem);
static void ngx_photo_idem_late_try(ngx_event_t *ev);
static void ngx_photo_idem_late_done(void *data, ngx_photo_result_t *res);
static void ngx_photo_idem_begun(void *data, ngx_photo_result_t *res);
static void ngx_photo_idem_resubmit(ngx_photo_idem_t *idem,
    redisReply *reply);
static void ngx_photo_idem_replay(ngx_photo_idem_t *idem, redisReply *reply);
static void ngx_photo_idem_kept(void *data, ngx_photo_result_t *res);
static void ngx_photo_idem_stored(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_idem_record(ngx_photo_idem_t *idem,
    ngx_str_t *key);
static ngx_int_t ngx_photo_idem_fingerprint(ngx_photo_write_t *w,
    ngx_str_t *fp);
static ngx_int_t ngx_photo_idem_cookies(ngx_http_request_t *r,
    ngx_str_t *cookies);
static ngx_table_elt_t *ngx_photo_idem_header(ngx_photo_idem_iter_t *it,
    const char *name);
static ngx_msec_t ngx_photo_idem_hold(ngx_http_request_t *r);
static ngx_flag_t ngx_photo_idem_is(redisReply *e, const char *s);


/*
 * KEYS[1] the record; ARGV: fingerprint, owner, hold (ms), expiry (s).
 * {'new'}, {'resubmit', function, id, payload}, {'done', status, body,
 * cookies}, {'busy'} or {'mismatch'}; {'gone'} to an attempt that has
 * abandoned it already, which nobody hears.
 */
static ngx_str_t  ngx_photo_idem_begin_script = ngx_string(
    "local t = redis.call('TIME') "
    "local now = t[1] * 1000 + math.floor(t[2] / 1000) "
    "local r = redis.call('HMGET', KEYS[1], '" PHOTO_IDEM_F_FP "', '"
    PHOTO_IDEM_F_STATUS "', '" PHOTO_IDEM_F_UNTIL "', '"
    PHOTO_IDEM_F_FUNCTION "', '" PHOTO_IDEM_F_ID "', '"
    PHOTO_IDEM_F_PAYLOAD "', '" PHOTO_IDEM_F_BODY "', '"
    PHOTO_IDEM_F_COOKIE "', '" PHOTO_IDEM_F_GONE "') "
    "if r[9] == ARGV[2] then return {'gone'} end "
    "if r[1] and r[1] ~= ARGV[1] then return {'mismatch'} end "
    "if r[2] then return {'done', r[2], r[7] or '', r[8] or ''} end "
    "if r[1] and (tonumber(r[3]) or 0) > now then return {'busy'} end "
    "redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_FP "', ARGV[1], '"
    PHOTO_IDEM_F_OWNER "', ARGV[2], '" PHOTO_IDEM_F_UNTIL "', "
    "now + ARGV[3]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[4]) "
    "if r[4] then return {'resubmit', r[4], r[5], r[6]} end "
    "return {'new'}");

/* KEYS[1] the record; ARGV: owner, function, id, payload.  1, or 0 when
   the attempt no longer holds it */
static ngx_str_t  ngx_photo_idem_keep_script = ngx_string(
    "if redis.call('HGET', KEYS[1], '" PHOTO_IDEM_F_OWNER "') ~= ARGV[1] "
    "then return 0 end "
    "redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_FUNCTION "', ARGV[2], '"
    PHOTO_IDEM_F_ID "', ARGV[3], '" PHOTO_IDEM_F_PAYLOAD "', ARGV[4]) "
    "return 1");

/* KEYS[1] the record; ARGV: owner, final ('1' or '0'), status, body,
   cookies, expiry (s).  1, or 0 when the attempt no longer holds it */
static ngx_str_t  ngx_photo_idem_finish_script = ngx_string(
    "if redis.call('HGET', KEYS[1], '" PHOTO_IDEM_F_OWNER "') ~= ARGV[1] "
    "then return 0 end "
    "if ARGV[2] == '1' then "
    "redis.call('HDEL', KEYS[1], '" PHOTO_IDEM_F_OWNER "', '"
    PHOTO_IDEM_F_UNTIL "', '" PHOTO_IDEM_F_FUNCTION "', '" PHOTO_IDEM_F_ID
    "', '" PHOTO_IDEM_F_PAYLOAD "') "
    "redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_STATUS "', ARGV[3], '"
    PHOTO_IDEM_F_BODY "', ARGV[4], '" PHOTO_IDEM_F_COOKIE "', ARGV[5]) "
    "else redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_UNTIL "', 0) end "
    "redis.call('EXPIRE', KEYS[1], ARGV[6]) "
    "return 1");


/* KEYS[1] the record; ARGV: owner, expiry (s) of a record made here (the
   hold's).  1 when the hold was let go, 0 when the owner is marked gone */
static ngx_str_t  ngx_photo_idem_abandon_script = ngx_string(
    "local r = redis.call('HMGET', KEYS[1], '" PHOTO_IDEM_F_OWNER "', '"
    PHOTO_IDEM_F_STATUS "') "
    "if r[1] == ARGV[1] then "
    "redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_UNTIL "', 0) return 1 end "
    "if not r[2] then "
    "redis.call('HSET', KEYS[1], '" PHOTO_IDEM_F_GONE "', ARGV[1]) "
    "if redis.call('TTL', KEYS[1]) < 0 then "
    "redis.call('EXPIRE', KEYS[1], ARGV[2]) end end "
    "return 0");


/* 1 to 255 printable ASCII characters, the header given once */

ngx_int_t
ngx_photo_idem_key(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char                 *p, *end;
    ngx_table_elt_t        *h;
    ngx_photo_idem_iter_t   it;

    ngx_str_null(key);

    it.part = &r->headers_in.headers.part;
    it.i = 0;

    while ((h = ngx_photo_idem_header(&it, NGX_PHOTO_IDEM_HEADER))) {

        if (key->data || h->value.len == 0
            || h->value.len > PHOTO_IDEMPOTENCY_KEY_MAX)
        {
            return NGX_ERROR;
        }

        for (p = h->value.data, end = p + h->value.len; p < end; p++) {
            if (*p < 0x20 || *p > 0x7e) {
                return NGX_ERROR;
            }
        }

        *key = h->value;
    }

    return NGX_OK;
}


void
ngx_photo_idem_begin(ngx_photo_write_t *w, ngx_photo_write_pt next)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_str_t            key, args[4];
    ngx_photo_idem_t    *idem;
    ngx_http_request_t  *r;

    r = w->request;

    if (ngx_photo_idem_key(r, &key) != NGX_OK || key.len == 0) {
        next(w);
        return;
    }

    idem = ngx_pcalloc(r->pool, sizeof(ngx_photo_idem_t));
    p = ngx_pnalloc(r->pool, 16 + 2 * NGX_INT_T_LEN);
    if (idem == NULL || p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    idem->write = w;
    idem->next = next;
    w->idem = idem;

    /* the answer hook finds the write here, also when it had no body */
    ngx_http_set_ctx(r, w, ngx_http_photo_module);

    /* at random: only this attempt may keep its job and answer */
    idem->owner.data = p;
    p = ngx_sprintf(p, "%08xD%08xD", (uint32_t) ngx_random(),
                    (uint32_t) ngx_random());
    idem->owner.len = p - idem->owner.data;

    args[1] = idem->owner;

    args[2].data = p;
    p = ngx_sprintf(p, "%M", ngx_photo_idem_hold(r));
    args[2].len = p - args[2].data;

    args[3].data = p;
    args[3].len = ngx_sprintf(p, "%d", PHOTO_IDEMPOTENCY_TTL) - p;

    if (ngx_photo_idem_record(idem, &key) != NGX_OK
        || ngx_photo_idem_fingerprint(w, &args[0]) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_photo_idem_eval(idem, &ngx_photo_idem_begin_script, args, 4,
                             ngx_photo_idem_begun);

    ngx_photo_wait_again(r, rc, "redis");
}


static ngx_int_t
ngx_photo_idem_eval(ngx_photo_idem_t *idem, ngx_str_t *script,
    ngx_str_t *args, ngx_uint_t nargs, ngx_photo_result_pt handler)
{
    int          argc;
    size_t       argvlen[4 + NGX_PHOTO_IDEM_ARGS];
    const char  *argv[4 + NGX_PHOTO_IDEM_ARGS];

    argc = ngx_photo_idem_argv(script, &idem->record, args, nargs, argv,
                               argvlen);

    return ngx_photo_redis_command(idem->write->request, handler, idem, argc,
                                   argv, argvlen);
}


/* EVAL script 1 record args... */

static int
ngx_photo_idem_argv(ngx_str_t *script, ngx_str_t *record, ngx_str_t *args,
    ngx_uint_t nargs, const char **argv, size_t *argvlen)
{
    ngx_uint_t  i;

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = (char *) script->data;
    argvlen[1] = script->len;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (char *) record->data;
    argvlen[3] = record->len;

    for (i = 0; i < nargs; i++) {
        argv[4 + i] = (char *) args[i].data;
        argvlen[4 + i] = args[i].len;
    }

    return (int) (4 + nargs);
}


static void
ngx_photo_idem_begun(void *data, ngx_photo_result_t *res)
{
    ngx_photo_idem_t  *idem = data;

    redisReply          *what, *reply;
    ngx_photo_write_t   *w;
    ngx_http_request_t  *r;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    w = idem->write;
    r = w->request;

    if (reply == NULL) {
        /* it may have run all the same, and would hold the key */
        ngx_photo_idem_abandon(idem);
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1)
    {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: idempotency: redis answered %*s",
                          reply->len, reply->str);

        } else if (reply) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: idempotency: a reply of type %d",
                          reply->type);
        }

        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    what = reply->element[0];

    if (ngx_photo_idem_is(what, "new")) {
        idem->state = NGX_PHOTO_IDEM_HELD;
        idem->next(w);
        return;
    }

    if (ngx_photo_idem_is(what, "resubmit") && reply->elements == 4) {
        idem->state = NGX_PHOTO_IDEM_HELD;
        ngx_photo_idem_resubmit(idem, reply);
        return;
    }

    idem->state = NGX_PHOTO_IDEM_DONE;

    if (ngx_photo_idem_is(what, "done") && reply->elements == 4) {
        ngx_photo_idem_replay(idem, reply);
        return;
    }

    if (ngx_photo_idem_is(what, "busy")) {
        if (ngx_photo_retry_after(r, 1) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_photo_write_fail(w, NGX_HTTP_CONFLICT, "request_in_flight",
                             "a request with this Idempotency-Key is still "
                             "being processed; retry it later");
        return;
    }

    if (ngx_photo_idem_is(what, "mismatch")) {
        ngx_photo_write_fail(w, NGX_PHOTO_HTTP_UNPROCESSABLE,
                             "idempotency_key_reused",
                             "this Idempotency-Key was used for another "
                             "request");
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "photo: idempotency: unexpected reply from the script");
    ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
}


/*
 * The job an earlier attempt kept, submitted again as it was: the same
 * gearman unique key, so gearmand makes it one job with the first if that
 * one is still queued, and the workers, idempotent by id, apply it once
 * if it was done.
 */

static void
ngx_photo_idem_resubmit(ngx_photo_idem_t *idem, redisReply *reply)
{
    u_char              *fn;
    int64_t              id;
    ngx_str_t            payload;
    redisReply         **e;
    ngx_http_request_t  *r;

    r = idem->write->request;
    e = reply->element;

    if (e[1]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING
        || e[3]->type != REDIS_REPLY_STRING
        || ngx_photo_parse_id((u_char *) e[2]->str, e[2]->len, &id) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: idempotency: %V keeps a malformed job",
                      &idem->record);
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    fn = ngx_pnalloc(r->pool, e[1]->len + 1);
    payload.data = ngx_pnalloc(r->pool, e[3]->len);
    if (fn == NULL || payload.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_cpymem(fn, e[1]->str, e[1]->len) = '\0';
    payload.len = e[3]->len;
    ngx_memcpy(payload.data, e[3]->str, payload.len);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "photo: idempotency: %s %L submitted again", fn, id);

    idem->job_kept = 1;

    ngx_photo_job_submit(idem->write, (const char *) fn, id, &payload);
}


/* The kept answer: its status, Set-Cookie lines and body, as they were. */

static void
ngx_photo_idem_replay(ngx_photo_idem_t *idem, redisReply *reply)
{
    u_char              *p, *end, *nl;
    ngx_int_t            status;
    ngx_str_t            body;
    redisReply         **e;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = idem->write->request;
    e = reply->element;

    status = (e[1]->type == REDIS_REPLY_STRING)
             ? ngx_atoi((u_char *) e[1]->str, e[1]->len) : NGX_ERROR;

    if (status < NGX_HTTP_OK || status > 599
        || e[2]->type != REDIS_REPLY_STRING
        || e[3]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: idempotency: %V keeps a malformed answer",
                      &idem->record);
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    /* Set-Cookie lines, one a line; replies live only during the call */

    p = ngx_pnalloc(r->pool, e[3]->len + e[2]->len + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    end = ngx_cpymem(p, e[3]->str, e[3]->len);

    while (p < end) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Set-Cookie");
        h->value.data = p;
        h->value.len = nl - p;

        p = nl + 1;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Idempotent-Replayed");
    ngx_str_set(&h->value, "true");

    body.data = end + 1;
    body.len = e[2]->len;
    ngx_memcpy(body.data, e[2]->str, body.len);

    if (body.len) {
        ngx_photo_write_answer(idem->write, status, &body);
        return;
    }

    r->header_only = 1;
    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;

    ngx_http_finalize_request(r, ngx_http_send_header(r));
}


void
ngx_photo_idem_keep(ngx_photo_write_t *w, ngx_str_t *function, int64_t id,
    ngx_str_t *payload, void (*kept)(void *data), void *data)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_str_t            args[4];
    ngx_photo_idem_t    *idem;
    ngx_http_request_t  *r;

    idem = w->idem;
    r = w->request;

    if (idem == NULL || idem->state != NGX_PHOTO_IDEM_HELD || idem->job_kept)
    {
        kept(data);
        return;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    idem->kept = kept;
    idem->data = data;

    args[0] = idem->owner;
    args[1] = *function;
    args[2].data = p;
    args[2].len = ngx_sprintf(p, "%L", id) - p;
    args[3] = *payload;

    rc = ngx_photo_idem_eval(idem, &ngx_photo_idem_keep_script, args, 4,
                             ngx_photo_idem_kept);

    ngx_photo_wait_again(r, rc, "redis");
}


static void
ngx_photo_idem_kept(void *data, ngx_photo_result_t *res)
{
    ngx_photo_idem_t  *idem = data;

    ngx_http_request_t  *r;
    redisReply          *reply;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    r = idem->write->request;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (reply->integer != 1) {
        /* it took so long that a retry took the record over: that one
           goes on, this one submits nothing */
        idem->state = NGX_PHOTO_IDEM_DONE;
        ngx_photo_write_fail(idem->write, NGX_HTTP_CONFLICT,
                             "request_in_flight",
                             "a retry with this Idempotency-Key is being "
                             "processed");
        return;
    }

    idem->job_kept = 1;
    idem->kept(idem->data);
}


ngx_int_t
ngx_photo_idem_answer(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out, off_t length)
{
    u_char             *p;
    ngx_int_t           rc;
    ngx_str_t          *args;
    ngx_chain_t        *cl;
    ngx_photo_idem_t   *idem;
    ngx_photo_write_t  *w;

    /* writes are POST, PUT or DELETE; reads keep another context */
    if (r != r->main
        || !(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE)))
    {
        return NGX_DECLINED;
    }

    w = ngx_http_get_module_ctx(r, ngx_http_photo_module);

    if (w == NULL || w->idem == NULL
        || w->idem->state != NGX_PHOTO_IDEM_HELD)
    {
        return NGX_DECLINED;
    }

    idem = w->idem;

    p = ngx_pnalloc(r->pool, length + 2 * NGX_INT_T_LEN);
    args = ngx_palloc(r->pool, NGX_PHOTO_IDEM_ARGS * sizeof(ngx_str_t));

    if (p == NULL || args == NULL
        || ngx_photo_idem_cookies(r, &args[4]) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = idem->owner;

    /* what a retry must not do again is final; a 5xx (unknown), 408 or
       429 only lets the record go, with its job */
    if (status < NGX_HTTP_INTERNAL_SERVER_ERROR
        && status != NGX_HTTP_REQUEST_TIME_OUT
        && status != NGX_HTTP_TOO_MANY_REQUESTS)
    {
        ngx_str_set(&args[1], "1");

    } else {
        ngx_str_set(&args[1], "0");
    }

    args[3].data = p;

    for (cl = out; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    args[3].len = p - args[3].data;

    args[2].data = p;
    p = ngx_sprintf(p, "%ui", status);
    args[2].len = p - args[2].data;

    args[5].data = p;
    args[5].len = ngx_sprintf(p, "%d", PHOTO_IDEMPOTENCY_TTL) - p;

    idem->status = status;
    idem->out = out;
    idem->length = length;
    idem->finish = args;
    idem->state = NGX_PHOTO_IDEM_STORING;

    rc = ngx_photo_idem_eval(idem, &ngx_photo_idem_finish_script, args,
                             NGX_PHOTO_IDEM_ARGS, ngx_photo_idem_stored);

    if (rc != NGX_AGAIN) {
        /* the answer all the same; the finish goes on without it */
        idem->state = NGX_PHOTO_IDEM_DONE;
        ngx_photo_idem_late(r, &idem->record, &ngx_photo_idem_finish_script,
                            args, NGX_PHOTO_IDEM_ARGS);
        return NGX_DECLINED;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_photo_idem_stored(void *data, ngx_photo_result_t *res)
{
    ngx_photo_idem_t  *idem = data;

    ngx_http_request_t  *r;
    redisReply          *reply;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    r = idem->write->request;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: idempotency: the answer was not kept: %*s",
                      reply->len, reply->str);

    } else if (reply == NULL) {
        /* lost or timed out: it may have run; the script's owner check
           makes a second run harmless */
        ngx_photo_idem_late(r, &idem->record, &ngx_photo_idem_finish_script,
                            idem->finish, NGX_PHOTO_IDEM_ARGS);
    }

    idem->state = NGX_PHOTO_IDEM_DONE;

    ngx_http_finalize_request(r, ngx_photo_send(r, idem->status, idem->out,
                                                idem->length));
}


/*
 * A begin that went unanswered (seen in chaos: Redis crashed with it run
 * and fsynced but not answered, and its retries got 409 for a whole hold).
 */

static void
ngx_photo_idem_abandon(ngx_photo_idem_t *idem)
{
    u_char              *p;
    ngx_str_t            args[2];
    ngx_http_request_t  *r;

    r = idem->write->request;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return;                 /* the hold lapses by itself */
    }

    args[0] = idem->owner;
    args[1].data = p;
    args[1].len = ngx_sprintf(p, "%M", ngx_photo_idem_hold(r) / 1000 + 1)
                  - p;

    ngx_photo_idem_late(r, &idem->record, &ngx_photo_idem_abandon_script,
                        args, 2);
}


static void
ngx_photo_idem_late(ngx_http_request_t *r, ngx_str_t *record,
    ngx_str_t *script, ngx_str_t *args, ngx_uint_t nargs)
{
    u_char                 *p;
    size_t                  size;
    ngx_uint_t              i;
    ngx_photo_idem_late_t  *late;

    size = sizeof(ngx_photo_idem_late_t) + record->len;

    for (i = 0; i < nargs; i++) {
        size += args[i].len;
    }

    late = ngx_alloc(size, ngx_cycle->log);
    if (late == NULL) {
        return;                 /* the hold lapses by itself */
    }

    ngx_memzero(late, sizeof(ngx_photo_idem_late_t));

    p = (u_char *) late + sizeof(ngx_photo_idem_late_t);

    late->record.data = p;
    late->record.len = record->len;
    p = ngx_cpymem(p, record->data, record->len);

    late->script = script;
    late->nargs = nargs;

    for (i = 0; i < nargs; i++) {
        late->args[i].data = p;
        late->args[i].len = args[i].len;
        p = ngx_cpymem(p, args[i].data, args[i].len);
    }

    late->until = ngx_current_msec + ngx_photo_idem_hold(r);

    late->ev.handler = ngx_photo_idem_late_try;
    late->ev.data = late;
    late->ev.log = ngx_cycle->log;
    late->ev.cancelable = 1;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "photo: idempotency: redis did not answer for \"%V\", "
                  "trying again", record);

    ngx_add_timer(&late->ev, NGX_PHOTO_IDEM_LATE_RETRY);
}


static void
ngx_photo_idem_late_try(ngx_event_t *ev)
{
    ngx_photo_idem_late_t  *late = ev->data;

    int          argc;
    ngx_int_t    rc;
    size_t       argvlen[4 + NGX_PHOTO_IDEM_ARGS];
    const char  *argv[4 + NGX_PHOTO_IDEM_ARGS];

    if ((ngx_msec_int_t) (ngx_current_msec - late->until) >= 0) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "photo: idempotency: \"%V\" not let go; its hold has "
                      "lapsed", &late->record);
        ngx_free(late);
        return;
    }

    argc = ngx_photo_idem_argv(late->script, &late->record, late->args,
                               late->nargs, argv, argvlen);

    rc = ngx_photo_redis_worker_command(ngx_photo_idem_late_done, late, argc,
                                        argv, argvlen);

    if (rc != NGX_AGAIN) {
        ngx_add_timer(ev, NGX_PHOTO_IDEM_LATE_RETRY);
    }
}


static void
ngx_photo_idem_late_done(void *data, ngx_photo_result_t *res)
{
    ngx_photo_idem_late_t  *late = data;

    /* none, or an error: a Redis just back answers LOADING while it reads
       its AOF (seen in CI: the answer "kept", the key held 10 s more) */
    if (res->reply.redis == NULL
        || res->reply.redis->type == REDIS_REPLY_ERROR)
    {
        ngx_add_timer(&late->ev, NGX_PHOTO_IDEM_LATE_RETRY);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, late->ev.log, 0,
                  "photo: idempotency: \"%V\" let go late", &late->record);

    ngx_free(late);
}


/* idempotency:<scope>:<METHOD> <path>:<key> */

static ngx_int_t
ngx_photo_idem_record(ngx_photo_idem_t *idem, ngx_str_t *key)
{
    u_char              *p;
    ngx_photo_write_t   *w;
    ngx_http_request_t  *r;

    w = idem->write;
    r = w->request;

    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_IDEMPOTENCY) + NGX_INT64_LEN
                             + r->method_name.len + r->uri.len + key->len
                             + 3);
    if (p == NULL) {
        return NGX_ERROR;
    }

    idem->record.data = p;
    p = ngx_cpymem(p, PHOTO_REDIS_IDEMPOTENCY,
                   sizeof(PHOTO_REDIS_IDEMPOTENCY) - 1);

    if (w->signed_in) {
        p = ngx_sprintf(p, "%L", w->user_id);

    } else {
        p = ngx_cpymem(p, PHOTO_IDEMPOTENCY_ANON,
                       sizeof(PHOTO_IDEMPOTENCY_ANON) - 1);
    }

    p = ngx_sprintf(p, ":%V %V:%V", &r->method_name, &r->uri, key);
    idem->record.len = p - idem->record.data;

    return NGX_OK;
}


/* SHA-1 of method, path and body, in hex: the same request or not */

static ngx_int_t
ngx_photo_idem_fingerprint(ngx_photo_write_t *w, ngx_str_t *fp)
{
    u_char               digest[20];
    ngx_sha1_t           sha1;
    ngx_http_request_t  *r;

    r = w->request;

    fp->data = ngx_pnalloc(r->pool, 40);
    if (fp->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, r->method_name.data, r->method_name.len);
    ngx_sha1_update(&sha1, " ", 1);
    ngx_sha1_update(&sha1, r->uri.data, r->uri.len);
    ngx_sha1_update(&sha1, "\n", 1);
    ngx_sha1_update(&sha1, w->body.data, w->body.len);
    ngx_sha1_final(digest, &sha1);

    fp->len = ngx_hex_dump(fp->data, digest, 20) - fp->data;

    return NGX_OK;
}


/* the answer's Set-Cookie lines (sign-in's session), one a line */

static ngx_int_t
ngx_photo_idem_cookies(ngx_http_request_t *r, ngx_str_t *cookies)
{
    u_char                 *p;
    size_t                  len;
    ngx_table_elt_t        *h;
    ngx_photo_idem_iter_t   it;

    len = 0;
    it.part = &r->headers_out.headers.part;
    it.i = 0;

    while ((h = ngx_photo_idem_header(&it, "Set-Cookie"))) {
        len += h->value.len + 1;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cookies->data = p;
    it.part = &r->headers_out.headers.part;
    it.i = 0;

    while ((h = ngx_photo_idem_header(&it, "Set-Cookie"))) {
        if (p != cookies->data) {
            *p++ = '\n';
        }

        p = ngx_cpymem(p, h->value.data, h->value.len);
    }

    cookies->len = p - cookies->data;

    return NGX_OK;
}


/* The next header named name (in any case) from it on, or NULL. */

static ngx_table_elt_t *
ngx_photo_idem_header(ngx_photo_idem_iter_t *it, const char *name)
{
    size_t            len;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    for ( ;; ) {

        if (it->i >= it->part->nelts) {
            if (it->part->next == NULL) {
                return NULL;
            }

            it->part = it->part->next;
            it->i = 0;
            continue;
        }

        h = (ngx_table_elt_t *) it->part->elts + it->i++;

        /* hash 0: a header taken out of the list */
        if (h->hash != 0 && h->key.len == len
            && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0)
        {
            return h;
        }
    }
}


/*
 * How long an attempt holds its key: as long as a write can wait on its
 * backends (the id shard, begin, the endpoint's own calls, keep, finish),
 * so that a retry while it still runs is told 409, and a retry after an
 * nginx worker died holding it goes on.
 */

static ngx_msec_t
ngx_photo_idem_hold(ngx_http_request_t *r)
{
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    return 3 * ngx_photo_backend_conf(r, ngx_http_photo_redis_module)->timeout
           + ngx_photo_backend_conf(r, ngx_http_photo_postgres_module)->timeout
           + ngx_photo_backend_conf(r, ngx_http_photo_gearman_module)->timeout
           + pmcf->auth_timeout;
}


static ngx_flag_t
ngx_photo_idem_is(redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && e->len == ngx_strlen(s)
           && ngx_strncmp(e->str, s, e->len) == 0;
}
