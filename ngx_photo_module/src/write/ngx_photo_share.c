
/*
 * Sharing to Twitter and Facebook: PUT / DELETE /v1/me/links/<service>
 * links the signed-in user's account (their OAuth credentials) or unlinks
 * it; POST /v1/photos/{id}/share {"to":[...]} posts the user's own photo
 * to the services they linked.  Both are the share worker's jobs.
 *
 * The credentials are sealed here (contract/photo_secret.h, under
 * photo_link_key_file, bound to the user and the service) before anything
 * is written: the job, gearmand's queue, the Idempotency-Key record and
 * Postgres only ever hold the sealed form.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"

#include "photo_secret.h"


#define NGX_PHOTO_SHARE_FIELD_MAX  1024     /* a credential's characters */


typedef struct {
    ngx_str_t                   name;
    const char                 *fields[2];  /* what the service needs */
} ngx_photo_service_t;


static ngx_photo_service_t  ngx_photo_services[] = {
    { ngx_string(PHOTO_SERVICE_TWITTER), { "token", "token_secret" } },
    { ngx_string(PHOTO_SERVICE_FACEBOOK), { "page_id", "access_token" } },
    { ngx_null_string, { NULL, NULL } }
};


static void ngx_photo_link_body(ngx_photo_write_t *w);
static ngx_int_t ngx_photo_link_seal(ngx_photo_write_t *w,
    ngx_photo_service_t *svc, ngx_str_t *sealed);
static void ngx_photo_share_body(ngx_photo_write_t *w);
static void ngx_photo_share_owner(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_link_handler(ngx_http_request_t *r, ngx_str_t *service)
{
    ngx_photo_service_t        *svc;
    ngx_http_photo_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->link_key.len == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                    "not_implemented",
                                    "linking accounts is not configured "
                                    "here (photo_link_key_file)");
    }

    for (svc = ngx_photo_services; svc->name.len; svc++) {
        if (svc->name.len == service->len
            && ngx_strncmp(svc->name.data, service->data, service->len) == 0)
        {
            break;
        }
    }

    if (svc->name.len == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "no such service: %V (twitter, "
                                    "facebook)", service);
    }

    return ngx_photo_write_start(r, ngx_photo_link_body, 1,
                                 r->method == NGX_HTTP_PUT
                                 ? NGX_PHOTO_BODY_JSON : NGX_PHOTO_BODY_NONE,
                                 svc - ngx_photo_services);
}


static void
ngx_photo_link_body(ngx_photo_write_t *w)
{
    int64_t               id;
    yajl_gen              g;
    ngx_str_t             sealed;
    ngx_photo_service_t  *svc;

    /* the service's place in ngx_photo_services, not an id */
    svc = &ngx_photo_services[w->target_id];
    ngx_str_null(&sealed);

    if (w->request->method == NGX_HTTP_PUT) {
        if (ngx_photo_link_seal(w, svc, &sealed) != NGX_OK) {
            return;
        }
    }

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_SERVICE, svc->name.data,
                        svc->name.len);

    if (w->request->method == NGX_HTTP_PUT) {
        ngx_photo_json_pair(g, PHOTO_JOB_F_ACTION, (u_char *) "link", 4);
        ngx_photo_json_pair(g, PHOTO_JOB_F_SECRET, sealed.data, sealed.len);

    } else {
        ngx_photo_json_pair(g, PHOTO_JOB_F_ACTION, (u_char *) "unlink", 6);
    }

    ngx_photo_job_end(w, g, PHOTO_JOB_LINK, id);
}


/* the service's fields, checked, as one JSON object, sealed */

static ngx_int_t
ngx_photo_link_seal(ngx_photo_write_t *w, ngx_photo_service_t *svc,
    ngx_str_t *sealed)
{
    u_char                     *ad;
    size_t                      len;
    yajl_gen                    g;
    ngx_int_t                   n;
    ngx_str_t                   value;
    ngx_uint_t                  i;
    const unsigned char        *buf;
    ngx_http_request_t         *r;
    ngx_http_photo_loc_conf_t  *plcf;

    r = w->request;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    yajl_gen_map_open(g);

    for (i = 0; i < 2; i++) {
        if (ngx_photo_json_string(w, svc->fields[i], 1, 1,
                                  NGX_PHOTO_SHARE_FIELD_MAX, &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_photo_json_pair(g, svc->fields[i], value.data, value.len);
    }

    yajl_gen_map_close(g);

    ad = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1 + svc->name.len + 1);

    if (ad == NULL || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok
        || len > PHOTO_SECRET_MAX)
    {
        ngx_photo_write_fail(w, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "too_large", "the credentials are too long");
        return NGX_ERROR;
    }

    *ngx_sprintf(ad, "%L:%V", w->user_id, &svc->name) = '\0';

    sealed->data = ngx_pnalloc(r->pool, photo_secret_sealed_buf(len));
    if (sealed->data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    n = photo_secret_seal(plcf->link_key.data, (char *) ad, buf, len,
                          (char *) sealed->data);

    /* the plaintext does not outlive the request's use of it */
    ngx_explicit_memzero((void *) buf, len);

    if (n < 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "photo: cannot seal a linked account's credentials");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    sealed->len = n;

    return NGX_OK;
}


ngx_int_t
ngx_photo_share_handler(ngx_http_request_t *r, int64_t photo_id)
{
    return ngx_photo_write_start(r, ngx_photo_share_body, 1,
                                 NGX_PHOTO_BODY_JSON, photo_id);
}


/* "to": one to all of the services, each once */

static void
ngx_photo_share_body(ngx_photo_write_t *w)
{
    size_t                i, k, seen;
    yajl_val              to, v;
    ngx_photo_service_t  *svc;
    const char           *path[] = { PHOTO_JOB_F_TO, NULL };

    to = yajl_tree_get(w->json, path, yajl_t_any);

    if (to == NULL || !YAJL_IS_ARRAY(to) || to->u.array.len == 0) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"to\" must be a list of services: "
                             "\"twitter\", \"facebook\"");
        return;
    }

    seen = 0;

    for (i = 0; i < to->u.array.len; i++) {
        v = to->u.array.values[i];

        for (k = 0, svc = ngx_photo_services; svc->name.len; k++, svc++) {
            if (YAJL_IS_STRING(v)
                && ngx_strcmp(v->u.string, svc->name.data) == 0)
            {
                break;
            }
        }

        if (svc->name.len == 0 || (seen & (1 << k))) {
            ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                                 "\"to\" must be a list of services, each "
                                 "once: \"twitter\", \"facebook\"");
            return;
        }

        seen |= 1 << k;
    }

    ngx_photo_write_lookup(w, "select user_id from photos where id = $1",
                           ngx_photo_share_owner);
}


static void
ngx_photo_share_owner(void *data, ngx_photo_result_t *result)
{
    ngx_photo_write_t  *w = data;

    size_t       i;
    int64_t      id;
    yajl_gen     g;
    yajl_val     to;
    PGresult    *res;
    const char  *path[] = { PHOTO_JOB_F_TO, NULL };

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(w->request, result);
        return;
    }

    res = result->reply.postgres;

    if (PQntuples(res) != 1) {
        ngx_photo_write_fail(w, NGX_HTTP_NOT_FOUND, "not_found",
                             "no photo %L", w->target_id);
        return;
    }

    if (ngx_atoof((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0))
        != w->user_id)
    {
        ngx_photo_write_fail(w, NGX_HTTP_FORBIDDEN, "forbidden",
                             "only its poster can share a photo");
        return;
    }

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_PHOTO_ID, w->target_id);

    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_TO, sizeof(PHOTO_JOB_F_TO) - 1);
    yajl_gen_array_open(g);

    /* checked in ngx_photo_share_body() */
    to = yajl_tree_get(w->json, path, yajl_t_array);

    for (i = 0; i < to->u.array.len; i++) {
        yajl_gen_string(g, (u_char *) to->u.array.values[i]->u.string,
                        ngx_strlen(to->u.array.values[i]->u.string));
    }

    yajl_gen_array_close(g);

    ngx_photo_job_end(w, g, PHOTO_JOB_SHARE, id);
}
