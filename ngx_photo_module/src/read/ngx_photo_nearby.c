
/*
 * GET /v1/photos/nearby?lat=&lng=&radius_km=&count=&sort=distance|recent
 *
 * The ids come from Solr's select handler with a geofilt filter, asked
 * through an nginx subrequest to the internal location named by
 * photo_solr_location (a plain proxy_pass to the Solr core: nginx's own
 * upstream does the I/O, keepalive and timeouts), once the session is
 * known.  Then the ids are hydrated exactly like a feed's.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_session.h"

#include <yajl/yajl_tree.h>


#define NGX_PHOTO_NEARBY_RADIUS_MAX  1000


typedef struct {
    ngx_photo_read_t            read;
    ngx_str_t                   uri;        /* of Solr's select handler */
    ngx_str_t                   args;
    ngx_flag_t                  failed;     /* Solr did not answer */
    ngx_str_t                   answer;     /* Solr's JSON */
} ngx_photo_nearby_t;


static ngx_int_t ngx_photo_nearby_arg(ngx_http_request_t *r, char *name,
    double min, double max, double *value);
static ngx_int_t ngx_photo_nearby_solr_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_photo_nearby_session(void *data, int64_t user_id);
static void ngx_photo_nearby_resume(ngx_http_request_t *r);
static ngx_int_t ngx_photo_nearby_ids(ngx_photo_nearby_t *nb);


ngx_int_t
ngx_photo_nearby_handler(ngx_http_request_t *r)
{
    double                       lat, lng, km, count;
    u_char                      *p;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    uri, args, sort, fq;
    ngx_photo_nearby_t          *nb;
    ngx_http_photo_loc_conf_t   *plcf;
    u_char                       buf[160];

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->solr_location.len == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "nearby search is not enabled here");
    }

    if (ngx_photo_nearby_arg(r, "lat", -90, 90, &lat) != NGX_OK
        || ngx_photo_nearby_arg(r, "lng", -180, 180, &lng) != NGX_OK)
    {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "lat (-90..90) and "
                                    "lng (-180..180) are required numbers");
    }

    km = 10;
    rc = ngx_photo_nearby_arg(r, "radius_km", 0.001,
                              NGX_PHOTO_NEARBY_RADIUS_MAX, &km);
    if (rc == NGX_ERROR) {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "radius_km must be "
                                    "a number from 0.001 to %d",
                                    NGX_PHOTO_NEARBY_RADIUS_MAX);
    }

    count = plcf->count;
    rc = ngx_photo_nearby_arg(r, "count", 1, plcf->max_count, &count);
    if (rc == NGX_ERROR || count != (ngx_uint_t) count) {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "count must be a "
                                    "whole number from 1 to %ui",
                                    plcf->max_count);
    }

    ngx_str_set(&sort, "geodist() asc");

    if (ngx_http_arg(r, (u_char *) "sort", 4, &args) == NGX_OK) {
        if (args.len == 6 && ngx_strncmp(args.data, "recent", 6) == 0) {
            ngx_str_set(&sort, "created_at desc");

        } else if (args.len != 8
                   || ngx_strncmp(args.data, "distance", 8) != 0)
        {
            return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_argument", "sort must be "
                                        "\"distance\" or \"recent\"");
        }
    }

    nb = ngx_pcalloc(r->pool, sizeof(ngx_photo_nearby_t));
    if (nb == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nb->read.request = r;
    nb->read.kind = NGX_PHOTO_READ_NEARBY;
    nb->read.count = (ngx_uint_t) count;

    if (ngx_photo_session_token(r, &nb->read.token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    /*
     * q=*:*&fq={!geofilt sfield=location pt=LAT,LNG d=KM}&sfield=location
     * &pt=LAT,LNG&sort=...&rows=N&fl=id&wt=json: the filter with its own
     * local params, and sfield/pt again for geodist() in the sort
     */

    fq.data = buf;
    fq.len = ngx_sprintf(buf, "{!geofilt sfield=location pt=%.6f,%.6f "
                         "d=%.3f}", lat, lng, km)
             - buf;

    len = sizeof("q=*:*&fq=&sfield=location&pt=,&sort=&rows=&fl=id&wt=json")
          + 3 * fq.len + 2 * 16 + 3 * sort.len + NGX_INT_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args.data = p;
    p = ngx_cpymem(p, "q=*:*&fq=", sizeof("q=*:*&fq=") - 1);
    p = (u_char *) ngx_escape_uri(p, fq.data, fq.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_sprintf(p, "&sfield=location&pt=%.6f,%.6f&sort=", lat, lng);
    p = (u_char *) ngx_escape_uri(p, sort.data, sort.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_sprintf(p, "&rows=%ui&fl=id&wt=json", nb->read.count);
    args.len = p - args.data;

    uri.len = plcf->solr_location.len + sizeof("/select") - 1;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ngx_cpymem(uri.data, plcf->solr_location.data,
                          plcf->solr_location.len),
               "/select", sizeof("/select") - 1);

    nb->uri = uri;
    nb->args = args;

    ngx_http_set_ctx(r, nb, ngx_http_photo_module);

    rc = ngx_photo_session_lookup(r, &nb->read.token,
                                  ngx_photo_nearby_session, nb);

    return ngx_photo_wait(r, rc, "redis");
}


/* Signed in: now Solr, through the subrequest. */

static void
ngx_photo_nearby_session(void *data, int64_t user_id)
{
    ngx_photo_nearby_t  *nb = data;

    ngx_http_request_t          *r, *sr;
    ngx_http_post_subrequest_t  *ps;

    r = nb->read.request;
    nb->read.user_id = user_id;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ps->handler = ngx_photo_nearby_solr_done;
    ps->data = nb;

    if (ngx_http_subrequest(r, &nb->uri, &nb->args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* called from Redis's event, not the request's: run it now */
    ngx_http_run_posted_requests(r->connection);
}


/* A numeric query argument: NGX_OK, NGX_DECLINED (absent), NGX_ERROR. */

static ngx_int_t
ngx_photo_nearby_arg(ngx_http_request_t *r, char *name, double min,
    double max, double *value)
{
    u_char     *end, tmp[32];
    double      d;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (v.len == 0 || v.len >= sizeof(tmp)) {
        return NGX_ERROR;
    }

    *ngx_cpymem(tmp, v.data, v.len) = '\0';

    d = strtod((char *) tmp, (char **) &end);

    if (*end != '\0' || !(d >= min && d <= max)) {
        return NGX_ERROR;
    }

    *value = d;

    return NGX_OK;
}


static ngx_int_t
ngx_photo_nearby_solr_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_photo_nearby_t  *nb = data;

    ngx_buf_t  *b;

    /* the parent resumes here once the subrequest is finalized */
    sr->parent->write_event_handler = ngx_photo_nearby_resume;

    b = sr->out ? sr->out->buf : NULL;

    if (rc != NGX_OK || sr->headers_out.status != NGX_HTTP_OK || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "photo: solr answered %ui to a nearby search",
                      sr->headers_out.status);
        nb->failed = 1;

    } else {
        nb->answer.data = b->pos;
        nb->answer.len = b->last - b->pos;
    }

    return rc;
}


static void
ngx_photo_nearby_resume(ngx_http_request_t *r)
{
    ngx_photo_nearby_t  *nb;

    r->write_event_handler = ngx_http_request_empty_handler;

    nb = ngx_http_get_module_ctx(r, ngx_http_photo_module);

    if (nb->failed || ngx_photo_nearby_ids(nb) != NGX_OK) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "solr"));
        return;
    }

    ngx_photo_hydrate(&nb->read);
}


/* {"response":{"docs":[{"id":"…"},…]}} -> the ids, in Solr's order */

static ngx_int_t
ngx_photo_nearby_ids(ngx_photo_nearby_t *nb)
{
    u_char              *p;
    size_t               i, n;
    yajl_val             tree, docs, id;
    ngx_http_request_t  *r;
    const char          *docs_path[] = { "response", "docs", NULL };
    const char          *id_path[] = { "id", NULL };

    r = nb->read.request;

    p = ngx_pnalloc(r->pool, nb->answer.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, nb->answer.data, nb->answer.len) = '\0';

    tree = yajl_tree_parse((char *) p, NULL, 0);
    docs = yajl_tree_get(tree, docs_path, yajl_t_array);

    if (docs == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: solr's answer has no response.docs");
        if (tree) {
            yajl_tree_free(tree);
        }

        return NGX_ERROR;
    }

    n = ngx_min(docs->u.array.len, nb->read.count);

    nb->read.ids = ngx_palloc(r->pool, (n + 1) * sizeof(int64_t));
    if (nb->read.ids == NULL) {
        yajl_tree_free(tree);
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        id = yajl_tree_get(docs->u.array.values[i], id_path, yajl_t_string);

        if (id == NULL
            || ngx_photo_parse_id((u_char *) id->u.string,
                                  ngx_strlen(id->u.string),
                                  &nb->read.ids[nb->read.nids])
               != NGX_OK)
        {
            continue;
        }

        nb->read.nids++;
    }

    yajl_tree_free(tree);

    return NGX_OK;
}
