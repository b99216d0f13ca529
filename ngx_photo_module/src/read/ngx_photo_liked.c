
/*
 * "liked" on every photo a signed-in reader is shown: whether the photo is
 * in the reader's likes:{uid} (photo_contract.h).
 *
 * A feed read asks for it in its own round trip: the reader's newest liked
 * ids up to the page's max_id, half as many as the page has photos and at
 * most 16 (ngx_photo_feed.c), beside
 * the page, both in the reader's slot (for a reader who likes one photo in
 * ten, the window reaches five pages back; a larger one cost the feed a
 * measurable part of its rate: Redis shares the machine with nginx, and
 * each id is a reply to parse).  When that
 * window reaches past the page's oldest photo, or holds every liked id
 * there is, it answers for the whole page.  Otherwise (a reader who liked many photos newer than
 * the page's oldest, a read whose reader was not known before Redis
 * answered, one photo) the page's ids are asked for (ZMSCORE), and when
 * the list is not complete (evicted, never built), Postgres is for all the
 * reader's likes, which are stored back as the complete list.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_redis.h"

#include "photo_keys.h"


static ngx_flag_t ngx_photo_liked_window(ngx_photo_read_t *rd);
static ngx_int_t ngx_photo_liked_ask(ngx_photo_read_t *rd);
static void ngx_photo_liked_scores(void *data, ngx_photo_result_t *res);
static void ngx_photo_liked_rows(void *data, ngx_photo_result_t *res);
static void ngx_photo_liked_store(ngx_photo_read_t *rd, PGresult *res);
static void ngx_photo_liked_done(ngx_photo_read_t *rd);


/* KEYS[1] likes:{uid}; ARGV: ids.  The list as read from Postgres, with
   its marker, unless it has one by then (the worker made it from later
   commits) */
static ngx_str_t  ngx_photo_liked_store_script = ngx_string(
    "if redis.call('ZSCORE', KEYS[1], '" PHOTO_LIST_COMPLETE "') then "
    "return 0 end "
    "redis.call('ZADD', KEYS[1], 0, '" PHOTO_LIST_COMPLETE "') "
    "for i = 1, #ARGV, 500 do "
    "local a = {} "
    "for k = i, math.min(i + 499, #ARGV) do "
    "a[#a + 1] = 0 a[#a + 1] = ARGV[k] end "
    "redis.call('ZADD', KEYS[1], unpack(a)) end "
    "return 1");


ngx_int_t
ngx_photo_liked_cmds(ngx_photo_read_t *rd, int64_t reader, u_char *max,
    size_t maxlen, ngx_uint_t limit, ngx_photo_redis_cmd_t *cmd)
{
    u_char      *p;
    size_t      *len;
    const char **argv;

    argv = ngx_palloc(rd->request->pool, 7 * sizeof(char *));
    len = ngx_palloc(rd->request->pool, 7 * sizeof(size_t));
    p = ngx_pnalloc(rd->request->pool, PHOTO_KEY_MAX + NGX_INT_T_LEN);

    if (argv == NULL || len == NULL || p == NULL) {
        return NGX_ERROR;
    }

    /*
     * ZREVRANGEBYLEX likes:{reader} max - LIMIT 0 limit+1: down to the
     * marker, which says the list is complete, when fewer than limit liked
     * ids come before it.  One command, not a ZSCORE of the marker too:
     * a likes list is only ever written with its marker (the worker's
     * script, ngx_photo_liked_store()), so one that has members has it.
     */
    argv[0] = "ZREVRANGEBYLEX";
    len[0] = 14;
    argv[1] = (char *) p;
    len[1] = photo_key_list((char *) p, PHOTO_KEY_MAX, PHOTO_REDIS_LIKES,
                            reader);
    p += len[1];
    argv[2] = (char *) max;
    len[2] = maxlen;
    argv[3] = "-";
    len[3] = 1;
    argv[4] = "LIMIT";
    len[4] = 5;
    argv[5] = "0";
    len[5] = 1;
    argv[6] = (char *) p;
    len[6] = ngx_sprintf(p, "%ui", limit + 1) - p;

    cmd->argc = 7;
    cmd->argv = argv;
    cmd->argvlen = len;

    rd->liked_reader = reader;
    rd->window_limit = limit;

    return NGX_OK;
}


void
ngx_photo_liked_reply(ngx_photo_read_t *rd, redisReply *reply)
{
    ngx_uint_t   i, n;
    redisReply  *e;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return;                 /* none (not in Redis): asked again */
    }

    n = reply->elements;

    if (ngx_photo_list_ends(reply)) {
        n--;                    /* the marker: every liked id came */

    } else {
        rd->window_full = 1;
    }

    rd->window = ngx_palloc(rd->request->pool, (n + 1) * sizeof(int64_t));
    if (rd->window == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING
            || ngx_photo_parse_id((u_char *) e->str, e->len,
                                  &rd->window[rd->nwindow])
               != NGX_OK)
        {
            rd->window = NULL;  /* not trusted: asked again */
            return;
        }

        rd->nwindow++;
    }

    rd->likes_complete = 1;
}


/*
 * Called by ngx_photo_hydrate() before the objects: rd->liked filled, then
 * ngx_photo_hydrate() again, or the request answered 503.
 */

void
ngx_photo_liked(ngx_photo_read_t *rd)
{
    ngx_http_request_t  *r;

    r = rd->request;

    rd->liked = ngx_pcalloc(r->pool, rd->nids);
    if (rd->liked == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_photo_liked_window(rd)) {
        ngx_photo_liked_done(rd);
        return;
    }

    ngx_photo_wait_again(r, ngx_photo_liked_ask(rd), "redis");
}


static ngx_flag_t
ngx_photo_liked_window(ngx_photo_read_t *rd)
{
    ngx_uint_t  i, k;

    if (rd->window == NULL || !rd->likes_complete
        || rd->liked_reader != rd->user_id)
    {
        return 0;
    }

    /* the window must reach the page's oldest photo, or hold them all */
    if (rd->window_full && rd->nwindow
        && rd->window[rd->nwindow - 1] > rd->ids[rd->nids - 1])
    {
        return 0;
    }

    /* both newest first: one merge */
    for (i = 0, k = 0; i < rd->nids && k < rd->nwindow; /* void */) {
        if (rd->ids[i] == rd->window[k]) {
            rd->liked[i++] = 1;
            k++;

        } else if (rd->ids[i] > rd->window[k]) {
            i++;

        } else {
            k++;
        }
    }

    return 1;
}


/* ZMSCORE likes:{reader} marker id ...: the marker's score first */

static ngx_int_t
ngx_photo_liked_ask(ngx_photo_read_t *rd)
{
    u_char              *p;
    size_t              *len;
    ngx_uint_t           i, argc;
    const char         **argv;
    ngx_http_request_t  *r;

    r = rd->request;
    argc = rd->nids + 3;

    argv = ngx_palloc(r->pool, argc * sizeof(char *));
    len = ngx_palloc(r->pool, argc * sizeof(size_t));
    p = ngx_pnalloc(r->pool, PHOTO_KEY_MAX + rd->nids * PHOTO_ID_MAX_DIGITS);

    if (argv == NULL || len == NULL || p == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "ZMSCORE";
    len[0] = 7;
    argv[1] = (char *) p;
    len[1] = photo_key_list((char *) p, PHOTO_KEY_MAX, PHOTO_REDIS_LIKES,
                            rd->user_id);
    p += len[1];
    argv[2] = PHOTO_LIST_COMPLETE;
    len[2] = sizeof(PHOTO_LIST_COMPLETE) - 1;

    for (i = 0; i < rd->nids; i++) {
        argv[3 + i] = (char *) p;
        len[3 + i] = ngx_photo_format_list_id(p, rd->ids[i]);
        p += len[3 + i];
    }

    return ngx_photo_redis_command(r, ngx_photo_liked_scores, rd, (int) argc,
                                   argv, len);
}


static void
ngx_photo_liked_scores(void *data, ngx_photo_result_t *res)
{
    ngx_photo_read_t  *rd = data;

    u_char              *p;
    ngx_int_t            rc;
    ngx_uint_t           i;
    redisReply          *reply;
    ngx_http_request_t  *r;
    const char          *params[1];

    r = rd->request;

    if (res->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    reply = res->reply.redis;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != rd->nids + 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: unexpected reply to ZMSCORE (type %d)",
                      reply->type);
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (reply->element[0]->type != REDIS_REPLY_NIL) {
        for (i = 0; i < rd->nids; i++) {
            rd->liked[i] = (reply->element[i + 1]->type != REDIS_REPLY_NIL);
        }

        ngx_photo_liked_done(rd);
        return;
    }

    /* not complete: Postgres, for all of them, stored back */

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = (char *) p;
    *ngx_sprintf(p, "%L", rd->user_id) = '\0';

    rc = ngx_photo_pg_query(r, "select photo_id from likes"
                               " where user_id = $1 and liked",
                            1, params, ngx_photo_liked_rows, rd);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_liked_rows(void *data, ngx_photo_result_t *result)
{
    ngx_photo_read_t  *rd = data;

    int          row, rows;
    int64_t      id;
    PGresult    *res;
    ngx_uint_t   i;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(rd->request, result);
        return;
    }

    res = result->reply.postgres;
    rows = PQntuples(res);

    for (row = 0; row < rows; row++) {
        id = ngx_atoof((u_char *) PQgetvalue(res, row, 0),
                       PQgetlength(res, row, 0));

        for (i = 0; i < rd->nids; i++) {
            if (rd->ids[i] == id) {
                rd->liked[i] = 1;
            }
        }
    }

    ngx_photo_liked_store(rd, res);
    ngx_photo_liked_done(rd);
}


/* fire and forget: a list not stored is read from Postgres again */

static void
ngx_photo_liked_store(ngx_photo_read_t *rd, PGresult *res)
{
    int                  row, rows;
    u_char              *p;
    size_t              *len;
    int64_t              id;
    ngx_uint_t           argc;
    const char         **argv;
    ngx_http_request_t  *r;

    r = rd->request;
    rows = PQntuples(res);

    argv = ngx_palloc(r->pool, (rows + 4) * sizeof(char *));
    len = ngx_palloc(r->pool, (rows + 4) * sizeof(size_t));
    p = ngx_pnalloc(r->pool, PHOTO_KEY_MAX + rows * PHOTO_ID_MAX_DIGITS);

    if (argv == NULL || len == NULL || p == NULL) {
        return;
    }

    argv[0] = "EVAL";
    len[0] = 4;
    argv[1] = (char *) ngx_photo_liked_store_script.data;
    len[1] = ngx_photo_liked_store_script.len;
    argv[2] = "1";
    len[2] = 1;
    argv[3] = (char *) p;
    len[3] = photo_key_list((char *) p, PHOTO_KEY_MAX, PHOTO_REDIS_LIKES,
                            rd->user_id);
    p += len[3];

    argc = 4;

    for (row = 0; row < rows; row++) {
        id = ngx_atoof((u_char *) PQgetvalue(res, row, 0),
                       PQgetlength(res, row, 0));
        if (id <= 0) {
            continue;
        }

        argv[argc] = (char *) p;
        len[argc] = ngx_photo_format_list_id(p, id);
        p += len[argc++];
    }

    (void) ngx_photo_redis_command(r, NULL, NULL, (int) argc, argv, len);
}


static void
ngx_photo_liked_done(ngx_photo_read_t *rd)
{
    rd->liked_done = 1;
    ngx_photo_hydrate(rd);
}
