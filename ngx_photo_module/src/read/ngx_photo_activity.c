
/*
 * GET /v1/activity?count&max_id: what happened to the signed-in user's
 * photos and account (likes, comments, new followers), newest first, from
 * activity:{uid} (photo_contract.h).  Its entries are the API's JSON as
 * the social worker made it, copied as they are.  The session and the
 * page are one round trip of native commands when the token names its
 * user (as for the feed: same hash tag, same node); a list that is not
 * complete is read from Postgres (activities.entry) instead.
 *
 *   {"activity":[<entry>...],"next_max_id":"<id>"|null}
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_redis.h"
#include "ngx_photo_session.h"

#include "photo_keys.h"
#include "photo_media.h"


typedef struct {
    ngx_photo_read_t            read;
    int64_t                     owner;      /* whose list was asked for */
    u_char                      max[PHOTO_ID_MAX_DIGITS + 1];
    size_t                      maxlen;
    const char                 *get[2];
    size_t                      getlen[2];
    const char                 *zscore[3];
    size_t                      zscorelen[3];
    const char                 *zrange[7];
    size_t                      zrangelen[7];
    unsigned                    no_session:1;
    unsigned                    complete:1;
    unsigned                    failed:1;
} ngx_photo_activity_t;


static ngx_int_t ngx_photo_activity_send(ngx_photo_activity_t *act);
static void ngx_photo_activity_session(void *data, int64_t user_id);
static void ngx_photo_activity_reply(void *data, ngx_photo_result_t *res);
static void ngx_photo_activity_postgres(ngx_photo_activity_t *act);
static void ngx_photo_activity_rows(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_activity_respond(ngx_photo_activity_t *act,
    ngx_str_t *entries, int64_t *ids, ngx_uint_t n);
static u_char *ngx_photo_activity_copy(u_char *p, ngx_str_t *entry,
    ngx_str_t *secret);


static ngx_str_t  ngx_photo_activity_head = ngx_string("{\"activity\":[");
static ngx_str_t  ngx_photo_activity_next = ngx_string("],\"next_max_id\":");


ngx_int_t
ngx_photo_activity_handler(ngx_http_request_t *r)
{
    u_char                 *p, buf[128];
    ngx_int_t               rc;
    ngx_str_t               err;
    ngx_photo_activity_t   *act;

    act = ngx_pcalloc(r->pool, sizeof(ngx_photo_activity_t));
    if (act == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    act->read.request = r;

    err.data = buf;
    err.len = sizeof(buf);

    if (ngx_photo_parse_page(r, &act->read, &err) != NGX_OK) {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "%V", &err);
    }

    if (ngx_photo_session_token(r, &act->read.token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    /* the newest first, below max_id: an entry's member begins with its
       padded id, so "(<max_id>" leaves out max_id's own entry too */
    p = act->max;

    if (act->read.max_id) {
        *p++ = '(';
        p += ngx_photo_format_list_id(p, act->read.max_id);

    } else {
        *p++ = '+';
    }

    act->maxlen = p - act->max;

    act->owner = ngx_photo_session_token_user(&act->read.token);

    rc = act->owner ? ngx_photo_activity_send(act)
                    : ngx_photo_session_lookup(r, &act->read.token,
                                               ngx_photo_activity_session,
                                               act);

    return ngx_photo_wait(r, rc, "redis");
}


static void
ngx_photo_activity_session(void *data, int64_t user_id)
{
    ngx_photo_activity_t  *act = data;

    act->owner = user_id;
    act->read.user_id = user_id;

    ngx_photo_wait_again(act->read.request, ngx_photo_activity_send(act),
                         "redis");
}


/* GET session, ZSCORE marker, ZREVRANGEBYLEX page: one round trip */

static ngx_int_t
ngx_photo_activity_send(ngx_photo_activity_t *act)
{
    u_char                 *p;
    ngx_http_request_t     *r;
    ngx_photo_redis_cmd_t   cmds[3];

    r = act->read.request;

    p = ngx_pnalloc(r->pool, 2 * PHOTO_KEY_MAX + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    act->no_session = 0;
    act->complete = 0;
    act->failed = 0;

    act->get[0] = "GET";
    act->getlen[0] = 3;
    act->get[1] = (char *) p;
    act->getlen[1] = photo_key_session((char *) p, PHOTO_KEY_MAX,
                                       (char *) act->read.token.data,
                                       act->read.token.len);
    p += act->getlen[1];

    act->zscore[0] = "ZSCORE";
    act->zscorelen[0] = 6;
    act->zscore[1] = (char *) p;
    act->zscorelen[1] = photo_key_list((char *) p, PHOTO_KEY_MAX,
                                       PHOTO_REDIS_ACTIVITY, act->owner);
    p += act->zscorelen[1];
    act->zscore[2] = PHOTO_LIST_COMPLETE;
    act->zscorelen[2] = sizeof(PHOTO_LIST_COMPLETE) - 1;

    act->zrange[0] = "ZREVRANGEBYLEX";
    act->zrangelen[0] = 14;
    act->zrange[1] = act->zscore[1];
    act->zrangelen[1] = act->zscorelen[1];
    act->zrange[2] = (char *) act->max;
    act->zrangelen[2] = act->maxlen;
    act->zrange[3] = "(" PHOTO_LIST_COMPLETE;
    act->zrangelen[3] = sizeof(PHOTO_LIST_COMPLETE);
    act->zrange[4] = "LIMIT";
    act->zrangelen[4] = 5;
    act->zrange[5] = "0";
    act->zrangelen[5] = 1;
    act->zrange[6] = (char *) p;            /* count + 1: a next page? */
    act->zrangelen[6] = ngx_sprintf(p, "%ui", act->read.count + 1) - p;

    cmds[0].argc = 2;
    cmds[0].argv = act->get;
    cmds[0].argvlen = act->getlen;
    cmds[1].argc = 3;
    cmds[1].argv = act->zscore;
    cmds[1].argvlen = act->zscorelen;
    cmds[2].argc = 7;
    cmds[2].argv = act->zrange;
    cmds[2].argvlen = act->zrangelen;

    return ngx_photo_redis_commands(r, ngx_photo_activity_reply, act, 3,
                                    cmds);
}


static void
ngx_photo_activity_reply(void *data, ngx_photo_result_t *res)
{
    ngx_photo_activity_t  *act = data;

    u_char              *sep;
    int64_t             *ids;
    ngx_str_t           *entries;
    ngx_uint_t           i, n;
    redisReply          *reply, *e;
    ngx_http_request_t  *r;

    r = act->read.request;

    if (res->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    reply = res->reply.redis;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: redis error: %*s", reply->len, reply->str);
        act->failed = 1;
    }

    switch (res->index) {

    case 0:         /* GET session */
        if (reply->type == REDIS_REPLY_NIL) {
            act->no_session = 1;

        } else if (reply->type != REDIS_REPLY_STRING
                   || ngx_photo_parse_id((u_char *) reply->str, reply->len,
                                         &act->read.user_id)
                      != NGX_OK)
        {
            act->failed = 1;
        }

        return;

    case 1:         /* ZSCORE marker */
        act->complete = (reply->type == REDIS_REPLY_STRING);
        return;
    }

    if (act->failed || (!act->no_session && reply->type != REDIS_REPLY_ARRAY))
    {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (act->no_session) {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    if (act->read.user_id != act->owner) {
        /* a token whose hint is not its user: ask whose it is first */
        act->owner = 0;
        ngx_photo_wait_again(r, ngx_photo_session_lookup(r, &act->read.token,
                                    ngx_photo_activity_session, act),
                             "redis");
        return;
    }

    if (!act->complete) {
        ngx_photo_activity_postgres(act);
        return;
    }

    n = reply->elements;

    entries = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    ids = ngx_palloc(r->pool, (n + 1) * sizeof(int64_t));
    if (entries == NULL || ids == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        e = reply->element[i];

        sep = (e->type == REDIS_REPLY_STRING && e->len > PHOTO_ID_MAX_DIGITS)
              ? (u_char *) e->str + PHOTO_ID_MAX_DIGITS : NULL;

        if (sep == NULL || *sep != PHOTO_ACTIVITY_SEP
            || ngx_photo_parse_id((u_char *) e->str, PHOTO_ID_MAX_DIGITS,
                                  &ids[i])
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: a bad member in activity:{%L}",
                          act->owner);
            ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
            return;
        }

        /* the reply lives during this call only */
        entries[i].len = e->len - PHOTO_ID_MAX_DIGITS - 1;
        entries[i].data = ngx_pnalloc(r->pool, entries[i].len);
        if (entries[i].data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(entries[i].data, sep + 1, entries[i].len);
    }

    ngx_http_finalize_request(r, ngx_photo_activity_respond(act, entries,
                                                            ids, n));
}


static void
ngx_photo_activity_postgres(ngx_photo_activity_t *act)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    const char          *params[3];

    r = act->read.request;

    p = ngx_pnalloc(r->pool, 3 * (NGX_INT64_LEN + 1));
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = (char *) p;
    p = ngx_sprintf(p, "%L", act->owner);
    *p++ = '\0';
    params[1] = (char *) p;
    p = ngx_sprintf(p, "%L", act->read.max_id);
    *p++ = '\0';
    params[2] = (char *) p;
    p = ngx_sprintf(p, "%ui", act->read.count + 1);
    *p = '\0';

    rc = ngx_photo_pg_query(r, "select id, entry from activities"
                               " where owner_id = $1 and ($2 = 0 or id < $2)"
                               " order by id desc limit $3",
                            3, params, ngx_photo_activity_rows, act);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_activity_rows(void *data, ngx_photo_result_t *result)
{
    ngx_photo_activity_t  *act = data;

    int                  row, rows;
    int64_t             *ids;
    ngx_str_t           *entries;
    PGresult            *res;
    ngx_http_request_t  *r;

    r = act->read.request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;
    rows = PQntuples(res);

    entries = ngx_palloc(r->pool, (rows + 1) * sizeof(ngx_str_t));
    ids = ngx_palloc(r->pool, (rows + 1) * sizeof(int64_t));
    if (entries == NULL || ids == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the result lives as long as the answer is made: copied there */
    for (row = 0; row < rows; row++) {
        ids[row] = ngx_atoof((u_char *) PQgetvalue(res, row, 0),
                             PQgetlength(res, row, 0));
        entries[row].data = (u_char *) PQgetvalue(res, row, 1);
        entries[row].len = PQgetlength(res, row, 1);
    }

    ngx_http_finalize_request(r, ngx_photo_activity_respond(act, entries,
                                                            ids, rows));
}


/* n entries (one more than the page: there is a next), in one buffer */

static ngx_int_t
ngx_photo_activity_respond(ngx_photo_activity_t *act, ngx_str_t *entries,
    int64_t *ids, ngx_uint_t n)
{
    off_t                       len;
    u_char                     *p;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, more;
    ngx_chain_t                *out;
    ngx_http_request_t         *r;
    ngx_http_photo_loc_conf_t  *plcf;

    r = act->read.request;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    more = (n > act->read.count);
    if (more) {
        n = act->read.count;
    }

    len = ngx_photo_activity_head.len + ngx_photo_activity_next.len
          + NGX_INT64_LEN + 3;

    for (i = 0; i < n; i++) {
        len += entries[i].len + 1 + PHOTO_MEDIA_LINK_EXTRA;
    }

    b = ngx_create_temp_buf(r->pool, (size_t) len);
    out = ngx_alloc_chain_link(r->pool);
    if (b == NULL || out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, ngx_photo_activity_head.data,
                   ngx_photo_activity_head.len);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_photo_activity_copy(p, &entries[i], &plcf->media_link_secret);
    }

    p = ngx_cpymem(p, ngx_photo_activity_next.data,
                   ngx_photo_activity_next.len);

    if (more && n) {
        p = ngx_sprintf(p, "\"%L\"}", ids[n - 1]);

    } else {
        p = ngx_cpymem(p, "null}", 5);
    }

    b->last = p;

    out->buf = b;
    out->next = NULL;

    return ngx_photo_send(r, NGX_HTTP_OK, out, b->last - b->pos);
}


/*
 * An entry as stored, its photo's picture linked as the API links them
 * (photo_media.h): signed here, as it is read, since an entry is kept for
 * longer than a link lives.  The path is the first "image_url" string
 * (the photo's, written before the comment; a JSON string cannot hold the
 * pattern unescaped), and of the path's characters, never escaped.
 */

static u_char *
ngx_photo_activity_copy(u_char *p, ngx_str_t *entry, ngx_str_t *secret)
{
    size_t   n;
    u_char  *path, *end, *last;
    static ngx_str_t  key = ngx_string("\"image_url\":\"");

    last = entry->data + entry->len;

    path = secret->len ? ngx_strlcasestrn(entry->data, last, key.data,
                                          key.len - 1)
                       : NULL;
    if (path != NULL) {
        path += key.len;
        end = ngx_strlchr(path, last, '"');
    }

    if (path == NULL || end == NULL || end == path || *path != '/') {
        return ngx_cpymem(p, entry->data, entry->len);
    }

    p = ngx_cpymem(p, entry->data, path - entry->data);

    n = photo_media_link((char *) p, (end - path) + PHOTO_MEDIA_LINK_EXTRA,
                         (char *) path, end - path,
                         photo_media_link_expires(0, ngx_time()),
                         secret->data, secret->len);
    if (n == 0) {
        /* cannot be: the room is counted; the path as it is */
        p = ngx_cpymem(p, path, end - path);

    } else {
        p += n;
    }

    return ngx_cpymem(p, end, last - end);
}
