
/*
 * Photo ids -> photo objects -> the JSON answer.
 *
 * The objects come from the worker's own cache when photo_object_cache is
 * on (ngx_photo_object_cache.c), else from memcached (one multi-key get per
 * server, all servers at once) and are copied into the response as they are: workers wrote them
 * with yajl in the contract's format, and each is checked (it parses, and
 * it is the photo asked for) before it is used.  What memcached does not
 * have is read from Postgres in one query, generated with the same code the
 * workers use, served, and written back to memcached after the fact.
 *
 * A photo that neither has (deleted) is left out.  A photo that could not
 * be read because a backend failed makes the answer a 503: a page with
 * holes would hide those photos for good as the client pages on.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_json.h"
#include "ngx_photo_memcached.h"
#include "ngx_photo_object_cache.h"
#include "ngx_photo_postgres.h"
#include "photo_object.h"


static void ngx_photo_hydrate_cached(void *data, ngx_photo_result_t *res);
static void ngx_photo_hydrate_stored(void *data, ngx_photo_result_t *result);
static ngx_int_t ngx_photo_hydrate_object(ngx_photo_read_t *rd,
    PGresult *res, int row);
static ngx_int_t ngx_photo_hydrate_respond(ngx_photo_read_t *rd);
static ngx_int_t ngx_photo_hydrate_add(ngx_http_request_t *r,
    ngx_chain_t ***ll, ngx_str_t *s, off_t *len);
static u_char *ngx_photo_hydrate_copy(u_char *p, ngx_photo_read_t *rd,
    ngx_uint_t i);


/* id, user id, username, caption, image_url, width, height, lat, lng,
 * created_at (Unix seconds), like_count, comment_count, media_path,
 * images: photo_object_t's fields */
static const char  ngx_photo_hydrate_sql[] =
    "select p.id, p.user_id, u.username, p.caption, p.image_url, p.width,"
    " p.height, p.lat, p.lng, extract(epoch from p.created_at)::bigint,"
    " p.like_count, p.comment_count, p.media_path, p.images"
    " from photos p join users u on u.id = p.user_id"
    " where p.id = any($1::bigint[])";


static ngx_str_t  ngx_photo_feed_head = ngx_string("{\"photos\":[");
static ngx_str_t  ngx_photo_feed_next = ngx_string("],\"next_max_id\":");
static ngx_str_t  ngx_photo_feed_null = ngx_string("null}");

/* the reader's "liked", added to the object's copy in place of its '}' */
static ngx_str_t  ngx_photo_liked_true = ngx_string(",\"liked\":true}");
static ngx_str_t  ngx_photo_liked_false = ngx_string(",\"liked\":false}");


void
ngx_photo_hydrate(ngx_photo_read_t *rd)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k;
    ngx_http_request_t          *r;
    ngx_http_photo_main_conf_t  *pmcf;

    r = rd->request;

    ngx_photo_metrics_user(r, rd->user_id);

    /* whether the reader likes them, first: it may need a round trip */
    if (rd->user_id && rd->nids && !rd->liked_done) {
        ngx_photo_liked(rd);
        return;
    }

    if (rd->nids == 0) {
        ngx_http_finalize_request(r, ngx_photo_hydrate_respond(rd));
        return;
    }

    rd->objects = ngx_pcalloc(r->pool, rd->nids * sizeof(ngx_str_t));
    if (rd->objects == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);
    rd->nitems = 0;

    /* found in the cache: pointers into it, good until it is next used */
    ngx_photo_ocache_prefetch(pmcf, rd->ids, rd->nids);

    for (i = 0; i < rd->nids; i++) {
        if (ngx_photo_ocache_get(pmcf, NULL, rd->ids[i], &rd->objects[i])
            == NGX_DECLINED)
        {
            rd->nitems++;
        }
    }

    ngx_photo_metrics_add(r, NGX_PHOTO_M_OBJECTS_REQUESTED, rd->nids);
    ngx_photo_metrics_add(r, NGX_PHOTO_M_OBJECTS_OCACHE,
                          rd->nids - rd->nitems);

    if (rd->nitems == 0) {
        /* the answer is copied out of them at once */
        ngx_http_finalize_request(r, ngx_photo_hydrate_respond(rd));
        return;
    }

    /* others are missing: the found ones are copied while they are there */
    for (i = 0; i < rd->nids; i++) {
        if (rd->objects[i].len) {
            p = ngx_pnalloc(r->pool, rd->objects[i].len);
            if (p == NULL) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ngx_memcpy(p, rd->objects[i].data, rd->objects[i].len);
            rd->objects[i].data = p;
        }
    }

    /* the others from memcached */

    rd->items = ngx_pcalloc(r->pool,
                            rd->nitems * sizeof(ngx_photo_mc_item_t));
    rd->item_ids = ngx_palloc(r->pool, rd->nitems * sizeof(ngx_uint_t));
    p = ngx_pnalloc(r->pool, rd->nitems * (sizeof(PHOTO_MC_PHOTO) - 1
                                           + NGX_INT64_LEN));

    if (rd->items == NULL || rd->item_ids == NULL || p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0, k = 0; i < rd->nids; i++) {
        if (rd->objects[i].len) {
            continue;
        }

        rd->item_ids[k] = i;
        rd->items[k].key.data = p;
        p = ngx_cpymem(p, PHOTO_MC_PHOTO, sizeof(PHOTO_MC_PHOTO) - 1);
        p = ngx_sprintf(p, "%L", rd->ids[i]);
        rd->items[k].key.len = p - rd->items[k].key.data;
        k++;
    }

    rc = ngx_photo_mc_get(r, rd->items, rd->nitems, ngx_photo_hydrate_cached,
                          rd);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* no memcached server could be asked: each item is an error, read
       from Postgres */
    if (rc == NGX_DECLINED) {
        ngx_photo_hydrate_cached(rd, NULL);
    }

    /* NGX_AGAIN: memcached calls back */
}


/* rd->items as memcached left them, whatever the result: each says
   found, missing, or not known (its server failed) */

static void
ngx_photo_hydrate_cached(void *data, ngx_photo_result_t *res)
{
    ngx_photo_read_t  *rd = data;

    u_char                      *p, *list;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k, served;
    ngx_http_request_t          *r;
    yajl_alloc_funcs             afs;
    ngx_photo_mc_item_t         *it;
    ngx_http_photo_main_conf_t  *pmcf;
    const char                  *params[1];

    r = rd->request;
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);
    rd->missing = 0;
    served = 0;

    /* each object's check allocates from the request's pool: a page's
       checks were four malloc() and free() each (perf: ~6 % of a worker) */
    ngx_photo_json_alloc_funcs(r->pool, &afs);

    for (k = 0; k < rd->nitems; k++) {
        it = &rd->items[k];
        i = rd->item_ids[k];

        if (it->found
            && photo_object_check(it->value.data, it->value.len, rd->ids[i],
                                  it->flags, &afs))
        {
            rd->objects[i] = it->value;
            ngx_photo_ocache_put(pmcf, r->connection->log, rd->ids[i],
                                 &it->value);
            served++;
            continue;
        }

        if (it->found && it->flags == PHOTO_MC_DELETED) {
            continue;           /* deleted: left out, Postgres not asked */
        }

        if (it->found) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: cached %V is not a valid photo object "
                          "(flags %uD, %uz bytes), reading it from postgres",
                          &it->key, it->flags, it->value.len);
        }

        rd->missing++;
    }

    ngx_photo_metrics_add(r, NGX_PHOTO_M_OBJECTS_MEMCACHED, served);

    if (rd->missing == 0) {
        ngx_http_finalize_request(r, ngx_photo_hydrate_respond(rd));
        return;
    }

    /* one query for all of them: {id,id,...} */

    list = ngx_pnalloc(r->pool, rd->missing * (NGX_INT64_LEN + 1) + 2);
    if (list == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = list;
    *p++ = '{';

    for (k = 0; k < rd->nitems; k++) {
        it = &rd->items[k];

        if (rd->objects[rd->item_ids[k]].len == 0
            && !(it->found && it->flags == PHOTO_MC_DELETED))
        {
            p = ngx_sprintf(p, "%L,", rd->ids[rd->item_ids[k]]);
        }
    }

    p[-1] = '}';
    *p = '\0';

    params[0] = (char *) list;

    rc = ngx_photo_pg_query(r, ngx_photo_hydrate_sql, 1, params,
                            ngx_photo_hydrate_stored, rd);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_hydrate_stored(void *data, ngx_photo_result_t *result)
{
    ngx_photo_read_t  *rd = data;

    int                  row, rows;
    PGresult            *res;
    ngx_http_request_t  *r;

    r = rd->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;

    rows = PQntuples(res);

    for (row = 0; row < rows; row++) {
        if (ngx_photo_hydrate_object(rd, res, row) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r, ngx_photo_hydrate_respond(rd));
}


/* One row -> the photo object, into its place, and back into memcached. */

static ngx_int_t
ngx_photo_hydrate_object(ngx_photo_read_t *rd, PGresult *res, int row)
{
    size_t                       len;
    yajl_gen                     g;
    ngx_uint_t                   i, k;
    ngx_str_t                    value;
    photo_object_t               o;
    const unsigned char         *buf;
    ngx_http_request_t          *r;
    ngx_http_photo_loc_conf_t   *plcf;
    ngx_http_photo_main_conf_t  *pmcf;

#define ngx_photo_col(c)  (u_char *) PQgetvalue(res, row, c),                 \
                          (size_t) PQgetlength(res, row, c)

    r = rd->request;

    ngx_memzero(&o, sizeof(photo_object_t));

    o.id = ngx_atoof(ngx_photo_col(0));
    o.user_id = ngx_atoof(ngx_photo_col(1));
    o.username = PQgetvalue(res, row, 2);
    o.username_len = PQgetlength(res, row, 2);
    o.caption = PQgetvalue(res, row, 3);
    o.caption_len = PQgetlength(res, row, 3);
    o.image_url = PQgetvalue(res, row, 4);
    o.image_url_len = PQgetlength(res, row, 4);
    o.width = ngx_atoi(ngx_photo_col(5));
    o.height = ngx_atoi(ngx_photo_col(6));

    if (!PQgetisnull(res, row, 7) && !PQgetisnull(res, row, 8)) {
        o.has_location = 1;
        o.lat = strtod(PQgetvalue(res, row, 7), NULL);
        o.lng = strtod(PQgetvalue(res, row, 8), NULL);
    }

    o.created_at = ngx_atoof(ngx_photo_col(9));
    o.like_count = ngx_atoof(ngx_photo_col(10));
    o.comment_count = ngx_atoof(ngx_photo_col(11));
    o.media_path = PQgetvalue(res, row, 12);
    o.media_path_len = PQgetlength(res, row, 12);

    if (!PQgetisnull(res, row, 13)
        && photo_object_images(&o, PQgetvalue(res, row, 13),
                               PQgetlength(res, row, 13)) != 0)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "photo: photo %L: images \"%s\" in postgres are not "
                      "its sizes, left out", o.id, PQgetvalue(res, row, 13));
    }

#undef ngx_photo_col

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->media_link_secret.len) {
        o.link_secret = plcf->media_link_secret.data;
        o.link_secret_len = plcf->media_link_secret.len;
        o.link_expires = photo_media_link_expires(o.id, ngx_time());
    }

    for (k = 0; k < rd->nitems; k++) {
        if (rd->ids[rd->item_ids[k]] == o.id) {
            break;
        }
    }

    if (k == rd->nitems || rd->objects[rd->item_ids[k]].len) {
        return NGX_OK;
    }

    i = rd->item_ids[k];

    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (photo_object_gen(g, &o) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: photo %L in postgres cannot be written as "
                      "JSON (not UTF-8?), left out", o.id);
        return NGX_OK;
    }

    rd->objects[i].data = (u_char *) buf;
    rd->objects[i].len = len;

    /* back into the cache, after the answer if need be */
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);
    value = rd->objects[i];

    /* "add" where memcached had nothing: a tombstone written meanwhile
       (the photo deleted after we read it) stays; "set" over an object
       that was there but wrong */
    ngx_photo_mc_set(r->connection->log, !rd->items[k].found,
                     &rd->items[k].key, &value,
                     photo_object_flags(value.data, value.len),
                     o.link_secret
                     ? (time_t) photo_media_cache_until(o.id, ngx_time())
                     : 0);
    ngx_photo_metrics_add(r, NGX_PHOTO_M_OBJECTS_POSTGRES, 1);
    ngx_photo_metrics_add(r, NGX_PHOTO_M_OBJECTS_WRITTEN_BACK, 1);
    ngx_photo_ocache_put(pmcf, r->connection->log, o.id, &value);

    return NGX_OK;
}


/*
 * {"photos":[<object>,<object>...],"next_max_id":"<id>"|null}, copied into
 * one buffer: a page is at most a few tens of kilobytes, and one buffer is
 * one iovec for writev where a buffer per object and per comma made the
 * kernel walk a hundred or more (measured: scripts/bench feed).
 */

static ngx_int_t
ngx_photo_hydrate_respond(ngx_photo_read_t *rd)
{
    off_t                len;
    u_char              *p;
    ngx_uint_t           i, first;
    ngx_chain_t         *out, **ll;
    ngx_str_t            next, body;
    ngx_http_request_t  *r;

    r = rd->request;

    if (rd->kind == NGX_PHOTO_READ_PHOTO) {
        if (rd->nids == 0 || rd->objects[0].len == 0) {
            return ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no photo %L", rd->photo_id);
        }

        /* copied: it may point into the object cache */
        body.data = ngx_pnalloc(r->pool, rd->objects[0].len
                                         + ngx_photo_liked_false.len);
        if (body.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        body.len = ngx_photo_hydrate_copy(body.data, rd, 0) - body.data;

        out = NULL;
        ll = &out;
        len = 0;

        if (ngx_photo_hydrate_add(r, &ll, &body, &len) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_photo_send(r, NGX_HTTP_OK, out, len);
    }

    if (rd->more) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 3);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        next.data = p;
        next.len = ngx_sprintf(p, "\"%L\"}", rd->ids[rd->nids - 1]) - p;

    } else {
        next = ngx_photo_feed_null;
    }

    len = ngx_photo_feed_head.len + ngx_photo_feed_next.len + next.len;

    for (i = 0; i < rd->nids; i++) {
        len += rd->objects[i].len + 1 + ngx_photo_liked_false.len;
    }

    body.data = ngx_pnalloc(r->pool, (size_t) len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body.data, ngx_photo_feed_head.data,
                   ngx_photo_feed_head.len);
    first = 1;

    for (i = 0; i < rd->nids; i++) {
        if (rd->objects[i].len == 0) {
            continue;
        }

        if (!first) {
            *p++ = ',';
        }

        p = ngx_photo_hydrate_copy(p, rd, i);
        first = 0;
    }

    p = ngx_cpymem(p, ngx_photo_feed_next.data, ngx_photo_feed_next.len);
    p = ngx_cpymem(p, next.data, next.len);
    body.len = p - body.data;

    out = NULL;
    ll = &out;
    len = 0;

    if (ngx_photo_hydrate_add(r, &ll, &body, &len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_photo_send(r, NGX_HTTP_OK, out, len);
}


/* an object as cached (it ends with '}': checked), and the reader's
   "liked" when there is a reader */

static u_char *
ngx_photo_hydrate_copy(u_char *p, ngx_photo_read_t *rd, ngx_uint_t i)
{
    ngx_str_t  *o, *liked;

    o = &rd->objects[i];

    if (rd->liked == NULL) {
        return ngx_cpymem(p, o->data, o->len);
    }

    liked = rd->liked[i] ? &ngx_photo_liked_true : &ngx_photo_liked_false;

    p = ngx_cpymem(p, o->data, o->len - 1);

    return ngx_cpymem(p, liked->data, liked->len);
}


static ngx_int_t
ngx_photo_hydrate_add(ngx_http_request_t *r, ngx_chain_t ***ll, ngx_str_t *s,
    off_t *len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = s->data;
    b->last = s->data + s->len;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;
    **ll = cl;
    *ll = &cl->next;

    *len += s->len;

    return NGX_OK;
}

