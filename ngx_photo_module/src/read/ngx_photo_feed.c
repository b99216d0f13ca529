
/*
 * A page of a list of photo ids: the signed-in user's feed, or one user's
 * own photos.
 *
 * One Redis round trip answers both "who is this session" and "which ids".
 * When the list's owner is known before Redis answers (a user's photos:
 * from the path; the feed: the user id a session token begins with,
 * PHOTO_SESSION_TOKEN_SEP), native commands go out together: GET the
 * session, and ZREVRANGEBYLEX the page down to the list's completeness
 * marker (PHOTO_LIST_COMPLETE: a list with members has it, so the page
 * tells whether the list is complete, ngx_photo_feed_complete()); the page
 * is used only if the session names that user.  Otherwise (a token without
 * its user, or whose session names another) a Lua script (EVALSHA) reads
 * the session, the marker and the page in one call, at several times the
 * cost to Redis; with Redis Cluster, where the script could not reach a
 * list in another slot, the session is read first and the native commands
 * sent after it: two round trips, for tokens the auth worker never makes.
 * A list that is not complete (evicted, never built) is rebuilt from
 * Postgres, stored back with the ids the workers held for it, and the page
 * taken from what was read.  With the native commands goes the one that
 * asks for the reader's likes up to the same max_id (ngx_photo_liked.c): a
 * user's "liked" costs the feed no round trip of its own.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_session.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_redis.h"

#include "photo_keys.h"

#include <ngx_sha1.h>


/*
 * KEYS[1] session key; ARGV: owner ('' = the session's user), list prefix,
 * completeness marker, max ('+' or '(' .. padded id), page size + 1.
 * Returns 0 (no session), {uid} (list not complete) or {uid, ids}.
 * The list key ("<prefix>{<owner>}", photo_keys.h) is made in the script:
 * with Redis Cluster it may be in another slot than the session, so a
 * cluster is sent the native commands only.
 */
static ngx_str_t  ngx_photo_feed_script = ngx_string(
    "local uid = redis.call('GET', KEYS[1]) "
    "if not uid then return 0 end "
    "local owner = ARGV[1] "
    "if owner == '' then owner = uid end "
    "local key = ARGV[2] .. '{' .. owner .. '}' "
    "if not redis.call('ZSCORE', key, ARGV[3]) then return {uid} end "
    "return {uid, redis.call('ZREVRANGEBYLEX', key, ARGV[4], "
    "'(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[5]))}");


static ngx_str_t  ngx_photo_feed_prefix[] = {
    ngx_string(PHOTO_REDIS_FEED),
    ngx_string(PHOTO_REDIS_USER_PHOTOS)
};


/* newest photos of the people $1 follows / of $1 (who must exist) */
static const char  *ngx_photo_feed_rebuild_sql[] = {

    "select p.id from photos p"
    " where p.user_id in (select followee from follows where follower = $1)"
    " order by p.id desc limit $2",

    "select u.id, p.id from users u left join lateral"
    " (select id from photos where user_id = u.id order by id desc limit $2)"
    " p on true where u.id = $1"
};


#define NGX_PHOTO_FEED_ARGS  10

/* the reader's liked ids asked for with a page, at most: each is a reply
   to parse and check against the page */
#define NGX_PHOTO_FEED_WINDOW_MAX  16


typedef struct {
    ngx_photo_read_t            read;
    const char                 *argv[NGX_PHOTO_FEED_ARGS];
    size_t                      argvlen[NGX_PHOTO_FEED_ARGS];
    ngx_flag_t                  evaled;     /* sent the script itself */

    int64_t                     list_owner; /* known before Redis answers */
    const char                 *get[2];     /* the native commands */
    size_t                      getlen[2];
    const char                 *zrange[7];
    size_t                      zrangelen[7];
    ngx_uint_t                  page;       /* the page's reply: the last */
    unsigned                    no_session:1;
    unsigned                    failed:1;
} ngx_photo_feed_t;


/* as ngx_photo_redis_command() */
static ngx_int_t ngx_photo_feed_send(ngx_photo_feed_t *feed);
static void ngx_photo_feed_session(void *data, int64_t user_id);
static void ngx_photo_feed_reply(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_feed_send_native(ngx_photo_feed_t *feed);
static void ngx_photo_feed_native_reply(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_feed_complete(ngx_photo_feed_t *feed,
    redisReply *ids);
static void ngx_photo_feed_page(ngx_photo_feed_t *feed, redisReply *ids,
    ngx_uint_t n);
static void ngx_photo_feed_rebuild(ngx_photo_feed_t *feed);
static void ngx_photo_feed_rebuilt(void *data, ngx_photo_result_t *result);
static void ngx_photo_feed_store(ngx_photo_feed_t *feed, PGresult *res,
    int col);


ngx_int_t
ngx_photo_feed_init_conf(ngx_conf_t *cf, ngx_http_photo_main_conf_t *pmcf)
{
    u_char        digest[20], *hex;
    ngx_sha1_t    sha1;

    /* EVALSHA needs the script's SHA-1, in hex */
    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_photo_feed_script.data,
                    ngx_photo_feed_script.len);
    ngx_sha1_final(digest, &sha1);

    hex = ngx_pnalloc(cf->pool, 40);
    if (hex == NULL) {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, digest, 20);

    pmcf->feed_script_sha.data = hex;
    pmcf->feed_script_sha.len = 40;

    return NGX_OK;
}


ngx_int_t
ngx_photo_feed_handler(ngx_http_request_t *r, ngx_photo_read_kind_e kind,
    int64_t owner_id)
{
    u_char                      *p;
    ngx_int_t                    rc;
    u_char                       buf[128];
    ngx_str_t                    err, key;
    ngx_photo_read_t            *rd;
    ngx_photo_feed_t            *feed;
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    feed = ngx_pcalloc(r->pool, sizeof(ngx_photo_feed_t));
    if (feed == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd = &feed->read;
    rd->request = r;
    rd->kind = kind;
    rd->owner_id = owner_id;

    err.data = buf;
    err.len = sizeof(buf);

    if (ngx_photo_parse_page(r, rd, &err) != NGX_OK) {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "%V", &err);
    }

    if (ngx_photo_session_token(r, &rd->token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    /* EVALSHA sha 1 session:<token> owner prefix marker max limit */

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1 + PHOTO_ID_MAX_DIGITS
                             + NGX_INT_T_LEN);
    if (p == NULL || ngx_photo_session_key(r, &rd->token, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    feed->argv[1] = (char *) pmcf->feed_script_sha.data;
    feed->argvlen[1] = pmcf->feed_script_sha.len;
    feed->argv[2] = "1";
    feed->argvlen[2] = 1;

    feed->argv[3] = (char *) key.data;
    feed->argvlen[3] = key.len;

    feed->argv[4] = (char *) p;
    if (kind == NGX_PHOTO_READ_USER_PHOTOS) {
        p = ngx_sprintf(p, "%L", owner_id);
    }
    feed->argvlen[4] = p - (u_char *) feed->argv[4];

    feed->argv[5] = (char *) ngx_photo_feed_prefix[kind].data;
    feed->argvlen[5] = ngx_photo_feed_prefix[kind].len;
    feed->argv[6] = PHOTO_LIST_COMPLETE;
    feed->argvlen[6] = sizeof(PHOTO_LIST_COMPLETE) - 1;

    feed->argv[7] = (char *) p;
    if (rd->max_id) {
        *p++ = '(';
        p += ngx_photo_format_list_id(p, rd->max_id);

    } else {
        *p++ = '+';
    }
    feed->argvlen[7] = p - (u_char *) feed->argv[7];

    /* one more than the page: whether a next page exists */
    feed->argv[8] = (char *) p;
    p = ngx_sprintf(p, "%ui", rd->count + 1);
    feed->argvlen[8] = p - (u_char *) feed->argv[8];

    feed->list_owner = kind == NGX_PHOTO_READ_USER_PHOTOS
                       ? owner_id : ngx_photo_session_token_user(&rd->token);

    rc = feed->list_owner ? ngx_photo_feed_send_native(feed)
                          : ngx_photo_feed_send(feed);

    return ngx_photo_wait(r, rc, "redis");
}


static ngx_int_t
ngx_photo_feed_send(ngx_photo_feed_t *feed)
{
    ngx_http_request_t  *r;

    r = feed->read.request;

    if (ngx_photo_redis_is_cluster(r)) {
        return ngx_photo_session_lookup(r, &feed->read.token,
                                        ngx_photo_feed_session, feed);
    }

    if (feed->evaled) {
        feed->argv[0] = "EVAL";
        feed->argvlen[0] = 4;
        feed->argv[1] = (char *) ngx_photo_feed_script.data;
        feed->argvlen[1] = ngx_photo_feed_script.len;

    } else {
        feed->argv[0] = "EVALSHA";
        feed->argvlen[0] = 7;
    }

    return ngx_photo_redis_command(feed->read.request, ngx_photo_feed_reply,
                                   feed, 9, feed->argv, feed->argvlen);
}


/* with a cluster: the session's user known, the list's commands */

static void
ngx_photo_feed_session(void *data, int64_t user_id)
{
    ngx_photo_feed_t  *feed = data;

    if (feed->read.kind == NGX_PHOTO_READ_FEED) {
        feed->list_owner = user_id;
    }

    feed->no_session = 0;
    feed->failed = 0;

    ngx_photo_wait_again(feed->read.request,
                         ngx_photo_feed_send_native(feed), "redis");
}


static void
ngx_photo_feed_reply(void *data, ngx_photo_result_t *res)
{
    ngx_photo_feed_t  *feed = data;

    redisReply          *reply;
    ngx_photo_read_t    *rd;
    ngx_http_request_t  *r;

    rd = &feed->read;
    r = rd->request;

    if (res->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    reply = res->reply.redis;

    if (reply->type == REDIS_REPLY_ERROR) {

        /* a Redis that restarted has forgotten the script: send it whole */
        if (!feed->evaled && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            feed->evaled = 1;
            ngx_photo_wait_again(r, ngx_photo_feed_send(feed), "redis");
            return;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: redis error: %*s", reply->len, reply->str);
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (reply->type == REDIS_REPLY_INTEGER) {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_STRING
        || ngx_photo_parse_id((u_char *) reply->element[0]->str,
                              reply->element[0]->len, &rd->user_id)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: unexpected reply from the feed script");
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (rd->kind == NGX_PHOTO_READ_FEED) {
        rd->owner_id = rd->user_id;
    }

    if (reply->elements == 1) {
        ngx_photo_feed_rebuild(feed);
        return;
    }

    ngx_photo_feed_page(feed, reply->element[1],
                        reply->element[1]->elements);
}


/* the ids of a ZREVRANGEBYLEX reply, then the photos */
static void
ngx_photo_feed_page(ngx_photo_feed_t *feed, redisReply *ids, ngx_uint_t n)
{
    ngx_uint_t           i;
    redisReply          *e;
    ngx_photo_read_t    *rd;
    ngx_http_request_t  *r;

    rd = &feed->read;
    r = rd->request;

    n = ngx_min(n, rd->count + 1);

    rd->ids = ngx_palloc(r->pool, (n + 1) * sizeof(int64_t));
    if (rd->ids == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        e = ids->element[i];

        if (e->type != REDIS_REPLY_STRING
            || ngx_photo_parse_id((u_char *) e->str, e->len,
                                  &rd->ids[rd->nids])
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: ignored a bad member in a list: \"%*s\"",
                          e->len, e->str);
            continue;
        }

        rd->nids++;
    }

    if (rd->nids > rd->count) {
        rd->nids = rd->count;
        rd->more = 1;
    }

    ngx_photo_hydrate(rd);
}


/*
 * GET session, [the reader's likes: ZREVRANGEBYLEX window,] ZREVRANGEBYLEX
 * page down to the marker: one round trip.  No command asks for the
 * marker itself: a list with members has it (photo_contract.h), and the
 * page holds it when it reaches the list's end.
 */
static ngx_int_t
ngx_photo_feed_send_native(ngx_photo_feed_t *feed)
{
    u_char                 *key;
    int64_t                 reader;
    ngx_uint_t              n;
    ngx_str_t              *prefix;
    ngx_photo_redis_cmd_t   cmds[3];

    prefix = &ngx_photo_feed_prefix[feed->read.kind];

    key = ngx_pnalloc(feed->read.request->pool, PHOTO_KEY_MAX);
    if (key == NULL) {
        return NGX_ERROR;
    }

    feed->get[0] = "GET";
    feed->getlen[0] = 3;
    feed->get[1] = feed->argv[3];           /* session:<token> */
    feed->getlen[1] = feed->argvlen[3];

    feed->zrange[0] = "ZREVRANGEBYLEX";
    feed->zrangelen[0] = 14;
    feed->zrange[1] = (char *) key;
    feed->zrangelen[1] = photo_key_list((char *) key, PHOTO_KEY_MAX,
                                        (char *) prefix->data,
                                        feed->list_owner);
    feed->zrange[2] = feed->argv[7];        /* max */
    feed->zrangelen[2] = feed->argvlen[7];
    feed->zrange[3] = "-";
    feed->zrangelen[3] = 1;
    feed->zrange[4] = "LIMIT";
    feed->zrangelen[4] = 5;
    feed->zrange[5] = "0";
    feed->zrangelen[5] = 1;
    feed->zrange[6] = feed->argv[8];        /* count + 1 */
    feed->zrangelen[6] = feed->argvlen[8];

    cmds[0].argc = 2;
    cmds[0].argv = feed->get;
    cmds[0].argvlen = feed->getlen;
    n = 1;

    /* the reader: the session's when known, else the token's hint */
    reader = feed->read.user_id;

    if (reader == 0) {
        reader = ngx_photo_session_token_user(&feed->read.token);
    }

    if (reader) {
        /* half as many liked ids as the page has photos, at most
           NGX_PHOTO_FEED_WINDOW_MAX: enough for a reader who likes up to
           one photo in two of a page of 20, one in seven of 100 */
        if (ngx_photo_liked_cmds(&feed->read, reader,
                                 (u_char *) feed->argv[7], feed->argvlen[7],
                                 ngx_min(feed->read.count / 2 + 1,
                                         NGX_PHOTO_FEED_WINDOW_MAX),
                                 &cmds[n])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        n++;
    }

    cmds[n].argc = 7;
    cmds[n].argv = feed->zrange;
    cmds[n].argvlen = feed->zrangelen;

    feed->page = n;

    return ngx_photo_redis_commands(feed->read.request,
                                    ngx_photo_feed_native_reply, feed, n + 1,
                                    cmds);
}


static void
ngx_photo_feed_native_reply(void *data, ngx_photo_result_t *res)
{
    ngx_photo_feed_t  *feed = data;

    ngx_int_t            n;
    redisReply          *reply;
    ngx_photo_read_t    *rd;
    ngx_http_request_t  *r;

    rd = &feed->read;
    r = rd->request;

    if (res->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    reply = res->reply.redis;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: redis error: %*s", reply->len, reply->str);
        feed->failed = 1;
    }

    switch (res->index) {

    case 0:         /* GET session:<token> */
        if (reply->type == REDIS_REPLY_NIL) {
            feed->no_session = 1;

        } else if (reply->type != REDIS_REPLY_STRING
                   || ngx_photo_parse_id((u_char *) reply->str, reply->len,
                                         &rd->user_id)
                      != NGX_OK)
        {
            feed->failed = 1;
        }

        return;
    }

    if (res->index < feed->page) {
        /* the reader's likes: ZREVRANGEBYLEX window */
        ngx_photo_liked_reply(rd, reply);
        return;
    }

    /* ZREVRANGEBYLEX page: the last */

    if (feed->failed || (!feed->no_session
                         && reply->type != REDIS_REPLY_ARRAY))
    {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (feed->no_session) {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    if (rd->kind == NGX_PHOTO_READ_FEED) {

        if (rd->user_id != feed->list_owner) {
            /* not a token this module's auth worker made: the script */
            ngx_photo_wait_again(r, ngx_photo_feed_send(feed), "redis");
            return;
        }

        rd->owner_id = rd->user_id;
    }

    n = ngx_photo_feed_complete(feed, reply);

    if (n == NGX_DECLINED) {
        ngx_photo_feed_rebuild(feed);
        return;
    }

    ngx_photo_feed_page(feed, reply, n);
}


/*
 * A page read down to the marker is of a complete list when it ends with
 * the marker (the list's end) or holds a whole page and one: a list with
 * members has its marker.  An empty one is of no list (evicted, never
 * built); a short one without the marker, of a list made before that rule
 * (an upgrade's leftover): both are rebuilt (NGX_DECLINED).  Else the
 * number of ids before the marker.
 */
static ngx_int_t
ngx_photo_feed_complete(ngx_photo_feed_t *feed, redisReply *ids)
{
    if (ids->elements == 0) {
        return NGX_DECLINED;
    }

    if (ngx_photo_list_ends(ids)) {
        return ids->elements - 1;
    }

    return ids->elements > feed->read.count ? (ngx_int_t) ids->elements
                                            : NGX_DECLINED;
}


static void
ngx_photo_feed_rebuild(ngx_photo_feed_t *feed)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_photo_read_t            *rd;
    ngx_http_request_t          *r;
    ngx_http_photo_main_conf_t  *pmcf;
    const char                  *params[2];

    rd = &feed->read;
    r = rd->request;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    p = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN + 2);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = (char *) p;
    p = ngx_sprintf(p, "%L", rd->owner_id);
    *p++ = '\0';
    params[1] = (char *) p;
    p = ngx_sprintf(p, "%ui", pmcf->feed_cap);
    *p = '\0';

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "photo: list of %L is not complete, rebuilding",
                   rd->owner_id);

    ngx_photo_metrics_add(r, NGX_PHOTO_M_LIST_REBUILDS, 1);

    rc = ngx_photo_pg_query(r, ngx_photo_feed_rebuild_sql[rd->kind], 2,
                            params, ngx_photo_feed_rebuilt, feed);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_feed_rebuilt(void *data, ngx_photo_result_t *result)
{
    ngx_photo_feed_t  *feed = data;

    int                  rows, col, i;
    int64_t              id;
    PGresult            *res;
    ngx_photo_read_t    *rd;
    ngx_http_request_t  *r;

    rd = &feed->read;
    r = rd->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;

    rows = PQntuples(res);

    if (rd->kind == NGX_PHOTO_READ_USER_PHOTOS) {
        if (rows == 0) {
            ngx_http_finalize_request(r,
                ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                     "no user %L", rd->owner_id));
            return;
        }

        /* the photo id column; one null row for a user without photos */
        col = 1;

    } else {
        col = 0;
    }

    ngx_photo_feed_store(feed, res, col);

    rd->ids = ngx_palloc(r->pool, (rd->count + 1) * sizeof(int64_t));
    if (rd->ids == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < rows && rd->nids <= rd->count; i++) {
        if (PQgetisnull(res, i, col)) {
            continue;
        }

        id = ngx_atoof((u_char *) PQgetvalue(res, i, col),
                       PQgetlength(res, i, col));

        if (id <= 0 || (rd->max_id && id >= rd->max_id)) {
            continue;
        }

        rd->ids[rd->nids++] = id;
    }

    if (rd->nids > rd->count) {
        rd->nids = rd->count;
        rd->more = 1;
    }

    ngx_photo_hydrate(rd);
}


/*
 * EVAL PHOTO_LIST_STORE_SCRIPT 2 <list> <list>:pending cap <id> ...: the
 * list as read, with its marker and the ids the workers held for it
 * meanwhile (photo_contract.h).  Ids added meanwhile stay (ZADD merges).
 * The whole script, not EVALSHA: rebuilds are rare, and a Redis that
 * restarted needs no second try.  Fire and forget: the next read rebuilds
 * again if this is lost.
 */

static ngx_str_t  ngx_photo_feed_store_script =
    ngx_string(PHOTO_LIST_STORE_SCRIPT);


static void
ngx_photo_feed_store(ngx_photo_feed_t *feed, PGresult *res, int col)
{
    int                          rows, i, argc;
    u_char                      *p;
    size_t                      *argvlen;
    int64_t                      id;
    const char                 **argv;
    ngx_photo_read_t            *rd;
    ngx_http_request_t          *r;
    ngx_http_photo_main_conf_t  *pmcf;

    rd = &feed->read;
    r = rd->request;
    rows = PQntuples(res);

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    argv = ngx_palloc(r->pool, (rows + 6) * sizeof(char *));
    argvlen = ngx_palloc(r->pool, (rows + 6) * sizeof(size_t));
    p = ngx_pnalloc(r->pool, 2 * PHOTO_KEY_MAX + NGX_INT_T_LEN
                             + rows * PHOTO_ID_MAX_DIGITS);

    if (argv == NULL || argvlen == NULL || p == NULL) {
        return;
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = (char *) ngx_photo_feed_store_script.data;
    argvlen[1] = ngx_photo_feed_store_script.len;
    argv[2] = "2";
    argvlen[2] = 1;

    argv[3] = (char *) p;
    argvlen[3] = photo_key_list((char *) p, PHOTO_KEY_MAX,
                                (char *) ngx_photo_feed_prefix[rd->kind].data,
                                rd->owner_id);
    p += argvlen[3];

    argv[4] = (char *) p;
    p = ngx_cpymem(p, argv[3], argvlen[3]);
    p = ngx_cpymem(p, PHOTO_LIST_PENDING, sizeof(PHOTO_LIST_PENDING) - 1);
    argvlen[4] = p - (u_char *) argv[4];

    argv[5] = (char *) p;
    p = ngx_sprintf(p, "%ui", pmcf->feed_cap);
    argvlen[5] = p - (u_char *) argv[5];

    argc = 6;

    for (i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, col)) {
            continue;
        }

        id = ngx_atoof((u_char *) PQgetvalue(res, i, col),
                       PQgetlength(res, i, col));
        if (id <= 0) {
            continue;
        }

        argv[argc] = (char *) p;
        p += ngx_photo_format_list_id(p, id);
        argvlen[argc++] = PHOTO_ID_MAX_DIGITS;
    }

    /* the answer does not wait for this; a failure is logged there */
    (void) ngx_photo_redis_command(r, NULL, NULL, argc, argv, argvlen);
}
