
/*
 * ngx_http_photo_module: directives, configuration and request routing.
 */

#include "ngx_http_photo_module.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_object_cache.h"
#include "ngx_photo_read.h"
#include "ngx_photo_session.h"
#include "ngx_photo_write.h"
#include "ngx_photo_gearman.h"
#include "ngx_photo_memcached.h"
#include "photo_media.h"
#include "photo_secret.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_redis.h"


#define NGX_PHOTO_MEDIA_KEY_MIN   32        /* bytes: SHA-256's own size */
#define NGX_PHOTO_MEDIA_KEY_MAX   1024


static ngx_int_t ngx_http_photo_handler(ngx_http_request_t *r);

static char *ngx_http_photo_object_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_photo_link_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_photo_media_link_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_photo_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_photo_media_link_secret_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static char *ngx_http_photo_media_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
#if (NGX_THREADS)
static char *ngx_http_photo_media_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
#endif
static ngx_int_t ngx_http_photo_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_exit_process(ngx_cycle_t *cycle);

static void *ngx_http_photo_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_photo_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_photo_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_photo_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_photo_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_photo_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_photo_trusted(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_photo_allowed_origin(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_photo_obsolete(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/*
 * The backends a photo_api location needs, each an nginx module of its own
 * (its directives, its configuration, its connections), in the order
 * nginx -t names the first one missing.
 */
ngx_module_t  *ngx_http_photo_backends[] = {
    &ngx_http_photo_redis_module,
    &ngx_http_photo_memcached_module,
    &ngx_http_photo_postgres_module,
    &ngx_http_photo_gearman_module,
    NULL
};

static ngx_conf_num_bounds_t  ngx_http_photo_cap_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_http_photo_count_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};


static ngx_command_t  ngx_http_photo_commands[] = {

    { ngx_string("photo_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_photo_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_object_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_photo_object_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_feed_cap"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_photo_main_conf_t, feed_cap),
      &ngx_http_photo_cap_bounds },

    { ngx_string("photo_auth_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_photo_main_conf_t, auth_timeout),
      NULL },

    /* photo ids' shards are leased now: kept so that a configuration of
       the old scheme still loads (and a binary upgrade to this one works) */
    { ngx_string("photo_instance_id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_obsolete,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      "photo id shards are leased from Redis" },

    { ngx_string("photo_media_root"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, media_root),
      NULL },

    { ngx_string("photo_media_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, media_url),
      NULL },

    { ngx_string("photo_media_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_media_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_media_link_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_media_link_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_link_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_link_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

#if (NGX_THREADS)
    { ngx_string("photo_media_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_media_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },
#endif

    { ngx_string("photo_media_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, media_max),
      NULL },

    { ngx_string("photo_solr_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, solr_location),
      NULL },

    { ngx_string("photo_trusted_proxy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_photo_trusted,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_allowed_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_photo_allowed_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_count"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, count),
      &ngx_http_photo_count_bounds },

    { ngx_string("photo_max_count"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_photo_loc_conf_t, max_count),
      &ngx_http_photo_count_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_photo_module_ctx = {
    ngx_http_photo_add_variables,          /* preconfiguration */
    ngx_photo_error_init,                  /* postconfiguration */

    ngx_http_photo_create_main_conf,       /* create main configuration */
    ngx_http_photo_init_main_conf,         /* init main configuration */

    ngx_http_photo_create_srv_conf,        /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_photo_create_loc_conf,        /* create location configuration */
    ngx_http_photo_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_photo_module = {
    NGX_MODULE_V1,
    &ngx_http_photo_module_ctx,            /* module context */
    ngx_http_photo_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_photo_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_photo_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The API's paths:
 *
 *   GET  /health                       ngx_photo_health.c
 *   GET  /v1/feed                      ngx_photo_feed.c
 *   GET  /v1/users/{id}/photos         ngx_photo_feed.c
 *   GET  /v1/users/{id}, GET /v1/me    ngx_photo_user.c
 *   GET  /v1/photos/nearby             ngx_photo_nearby.c
 *   GET  /v1/photos/{id}               ngx_photo_photo.c
 *   POST /v1/users, POST|DELETE /v1/sessions     ngx_photo_account.c
 *   POST /v1/media                     ngx_photo_media.c
 *   POST /v1/photos                    ngx_photo_post.c
 *   DELETE /v1/photos/{id}             ngx_photo_delete.c
 *   POST|DELETE /v1/users/{id}/follow, POST /v1/devices
 *                                      ngx_photo_social.c
 */

static ngx_int_t
ngx_http_photo_handler(ngx_http_request_t *r)
{
    u_char      *p, *end, *slash;
    int64_t      id;
    ngx_int_t    rc;
    ngx_str_t    key;
    const char  *what;

    /* its time counts from here; the endpoint is told when known */
    ngx_photo_metrics_request(r, NGX_PHOTO_EP_OTHER);

    p = r->uri.data;
    end = p + r->uri.len;

#define ngx_photo_path_is(s)                                                 \
    ((size_t) (end - p) == sizeof(s) - 1 && ngx_strncmp(p, s, end - p) == 0)

#define ngx_photo_path_starts(s)                                             \
    ((size_t) (end - p) > sizeof(s) - 1                                      \
     && ngx_strncmp(p, s, sizeof(s) - 1) == 0)

    if (ngx_photo_path_is("/health")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_HEALTH);
        return ngx_photo_health_handler(r);
    }

    if (!ngx_photo_path_starts("/v1/")) {
        goto not_found;
    }

    /* writes: a malformed Idempotency-Key is refused before anything */

    if ((r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE))
        && ngx_photo_idem_key(r, &key) != NGX_OK)
    {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_idempotency_key",
                                    "\"Idempotency-Key\" must be given once, "
                                    "with 1 to %d printable ASCII characters",
                                    PHOTO_IDEMPOTENCY_KEY_MAX);
    }

    if (r->method == NGX_HTTP_POST) {
        if (ngx_photo_path_is("/v1/users")) {
            ngx_photo_metrics_request(r, NGX_PHOTO_EP_SIGNUP);
            return ngx_photo_signup_handler(r);
        }

        if (ngx_photo_path_is("/v1/sessions")) {
            ngx_photo_metrics_request(r, NGX_PHOTO_EP_SIGNIN);
            return ngx_photo_signin_handler(r);
        }

        if (ngx_photo_path_is("/v1/media")) {
            ngx_photo_metrics_request(r, NGX_PHOTO_EP_MEDIA);
            return ngx_photo_media_handler(r);
        }

        if (ngx_photo_path_is("/v1/photos")) {
            ngx_photo_metrics_request(r, NGX_PHOTO_EP_POST);
            return ngx_photo_post_handler(r);
        }

        if (ngx_photo_path_is("/v1/devices")) {
            ngx_photo_metrics_request(r, NGX_PHOTO_EP_DEVICE);
            return ngx_photo_device_handler(r);
        }
    }

    if (r->method == NGX_HTTP_DELETE && ngx_photo_path_is("/v1/sessions")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_SIGNOUT);
        return ngx_photo_signout_handler(r);
    }

    if (r->method == NGX_HTTP_DELETE && ngx_photo_path_starts("/v1/comments/"))
    {
        p += sizeof("/v1/comments/") - 1;

        if (ngx_photo_parse_id(p, end - p, &id) != NGX_OK) {
            what = "comment";
            goto invalid_id;
        }

        ngx_photo_metrics_request(r, NGX_PHOTO_EP_COMMENT);
        return ngx_photo_uncomment_handler(r, id);
    }

    /* /v1/photos/{id}, /v1/photos/{id}/likes, /v1/photos/{id}/comments */

    if (ngx_photo_path_starts("/v1/photos/")) {
        p += sizeof("/v1/photos/") - 1;
        slash = ngx_strlchr(p, end, '/');

        if (slash == NULL) {
            if (r->method == NGX_HTTP_DELETE) {
                if (ngx_photo_parse_id(p, end - p, &id) != NGX_OK) {
                    what = "photo";
                    goto invalid_id;
                }

                ngx_photo_metrics_request(r, NGX_PHOTO_EP_DELETE);
                return ngx_photo_delete_handler(r, id);
            }

        } else if ((size_t) (end - slash) == sizeof("/likes") - 1
                   && ngx_strncmp(slash, "/likes", sizeof("/likes") - 1)
                      == 0
                   && (r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE)))
        {
            if (ngx_photo_parse_id(p, slash - p, &id) != NGX_OK) {
                what = "photo";
                goto invalid_id;
            }

            ngx_photo_metrics_request(r, NGX_PHOTO_EP_LIKE);
            return ngx_photo_like_handler(r, id);

        } else if ((size_t) (end - slash) == sizeof("/share") - 1
                   && ngx_strncmp(slash, "/share", sizeof("/share") - 1) == 0
                   && r->method == NGX_HTTP_POST)
        {
            if (ngx_photo_parse_id(p, slash - p, &id) != NGX_OK) {
                what = "photo";
                goto invalid_id;
            }

            ngx_photo_metrics_request(r, NGX_PHOTO_EP_SHARE);
            return ngx_photo_share_handler(r, id);

        } else if ((size_t) (end - slash) == sizeof("/comments") - 1
                   && ngx_strncmp(slash, "/comments",
                                  sizeof("/comments") - 1) == 0
                   && (r->method & (NGX_HTTP_POST|NGX_HTTP_GET
                                    |NGX_HTTP_HEAD)))
        {
            if (ngx_photo_parse_id(p, slash - p, &id) != NGX_OK) {
                what = "photo";
                goto invalid_id;
            }

            if (r->method == NGX_HTTP_POST) {
                ngx_photo_metrics_request(r, NGX_PHOTO_EP_COMMENT);
                return ngx_photo_comment_handler(r, id);
            }

            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            ngx_photo_metrics_request(r, NGX_PHOTO_EP_COMMENTS);
            return ngx_photo_comments_handler(r, id);
        }

        p -= sizeof("/v1/photos/") - 1;
    }

    if ((r->method & (NGX_HTTP_PUT|NGX_HTTP_DELETE))
        && ngx_photo_path_starts("/v1/me/links/"))
    {
        key.data = p + sizeof("/v1/me/links/") - 1;
        key.len = end - key.data;

        ngx_photo_metrics_request(r, NGX_PHOTO_EP_LINK);
        return ngx_photo_link_handler(r, &key);
    }

    if ((r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))
        && ngx_photo_path_starts("/v1/users/"))
    {
        p += sizeof("/v1/users/") - 1;
        slash = ngx_strlchr(p, end, '/');

        if (slash != NULL
            && (size_t) (end - slash) == sizeof("/follow") - 1
            && ngx_strncmp(slash, "/follow", sizeof("/follow") - 1) == 0)
        {
            if (ngx_photo_parse_id(p, slash - p, &id) != NGX_OK) {
                what = "user";
                goto invalid_id;
            }

            ngx_photo_metrics_request(r, NGX_PHOTO_EP_FOLLOW);
            return ngx_photo_follow_handler(r, id);
        }

        p -= sizeof("/v1/users/") - 1;
    }

    /* reads */

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "%V does not take %V", &r->uri,
                                    &r->method_name);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_photo_path_is("/v1/feed")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_FEED);
        return ngx_photo_feed_handler(r, NGX_PHOTO_READ_FEED, 0);
    }

    if (ngx_photo_path_is("/v1/activity")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_ACTIVITY);
        return ngx_photo_activity_handler(r);
    }

    if (ngx_photo_path_is("/v1/me")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_USER);
        return ngx_photo_user_handler(r, 0);
    }

    if (ngx_photo_path_is("/v1/photos/nearby")) {
        ngx_photo_metrics_request(r, NGX_PHOTO_EP_NEARBY);
        return ngx_photo_nearby_handler(r);
    }

    if (ngx_photo_path_starts("/v1/photos/")) {
        p += sizeof("/v1/photos/") - 1;

        if (ngx_photo_parse_id(p, end - p, &id) != NGX_OK) {
            what = "photo";
            goto invalid_id;
        }

        ngx_photo_metrics_request(r, NGX_PHOTO_EP_PHOTO);
        return ngx_photo_photo_handler(r, id);
    }

    if (ngx_photo_path_starts("/v1/users/")) {
        p += sizeof("/v1/users/") - 1;

        slash = ngx_strlchr(p, end, '/');

        /* a profile */
        if (slash == NULL) {
            if (ngx_photo_parse_id(p, end - p, &id) != NGX_OK) {
                what = "user";
                goto invalid_id;
            }

            ngx_photo_metrics_request(r, NGX_PHOTO_EP_USER);
            return ngx_photo_user_handler(r, id);
        }

        if ((size_t) (end - slash) != sizeof("/photos") - 1
            || ngx_strncmp(slash, "/photos", sizeof("/photos") - 1) != 0)
        {
            goto not_found;
        }

        if (ngx_photo_parse_id(p, slash - p, &id) != NGX_OK) {
            what = "user";
            goto invalid_id;
        }

        ngx_photo_metrics_request(r, NGX_PHOTO_EP_USER_PHOTOS);
        return ngx_photo_feed_handler(r, NGX_PHOTO_READ_USER_PHOTOS, id);
    }

#undef ngx_photo_path_is
#undef ngx_photo_path_starts

not_found:

    return ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                "no such endpoint: %V", &r->uri);

invalid_id:

    return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST, "invalid_id",
                                "the %s id must be a positive 64-bit integer",
                                what);
}


static ngx_int_t
ngx_http_photo_init_process(ngx_cycle_t *cycle)
{
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_photo_module);

    /* no http block, or no photo_api anywhere: nothing to connect to */
    if (pmcf == NULL || !pmcf->used) {
        return NGX_OK;
    }

    /* each backend module connects in its own init_process */

    if (ngx_photo_shard_init_process(cycle, pmcf) != NGX_OK
        || ngx_photo_ocache_init_process(cycle, pmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_photo_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_photo_module);

    if (pmcf == NULL || !pmcf->used) {
        return;
    }

    ngx_photo_ocache_exit_process(pmcf);
}


static void *
ngx_http_photo_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_photo_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_photo_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->object_cache = NULL;
     *     conf->shard = NULL;
     *     conf->feed_script_sha = { 0, NULL };
     *     conf->used = 0;
     */

    conf->object_cache_max = NGX_CONF_UNSET_UINT;
    conf->object_cache_ttl = NGX_CONF_UNSET_MSEC;
    conf->feed_cap = NGX_CONF_UNSET_UINT;
    conf->auth_timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_photo_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_photo_main_conf_t *pmcf = conf;

    ngx_conf_init_uint_value(pmcf->object_cache_max, 0);
    ngx_conf_init_msec_value(pmcf->object_cache_ttl, 10000);
    ngx_conf_init_uint_value(pmcf->feed_cap, PHOTO_FEED_CAP_DEFAULT);
    ngx_conf_init_msec_value(pmcf->auth_timeout, 5000);

    if (ngx_photo_feed_init_conf(cf, pmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_photo_create_srv_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->api = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_photo_srv_conf_t));
}


static void *
ngx_http_photo_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_photo_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_photo_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->api = NGX_CONF_UNSET;
    conf->count = NGX_CONF_UNSET_UINT;
    conf->max_count = NGX_CONF_UNSET_UINT;
    conf->media_max = NGX_CONF_UNSET_SIZE;
    conf->trusted = NGX_CONF_UNSET_PTR;
    conf->allowed_origins = NGX_CONF_UNSET_PTR;
#if (NGX_THREADS)
    conf->media_pool = NGX_CONF_UNSET_PTR;
#endif

    return conf;
}


/*
 * Checked here, not at parse time, because the backends are set in the
 * http block and locations may come before them.  The error names the
 * "photo_api" line, since the end of the http block would mislead.  Each
 * backend that a photo_api location needs is told so: its module connects
 * in init_process only then.
 */

static char *
ngx_http_photo_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_photo_loc_conf_t *prev = parent;
    ngx_http_photo_loc_conf_t *conf = child;

    ngx_module_t               **m;
    ngx_photo_backend_conf_t    *bcf;
    ngx_http_photo_srv_conf_t   *pscf;
    ngx_http_photo_main_conf_t  *pmcf;

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_uint_value(conf->count, prev->count, 20);
    ngx_conf_merge_uint_value(conf->max_count, prev->max_count, 100);
    ngx_conf_merge_str_value(conf->media_root, prev->media_root, "");
    ngx_conf_merge_str_value(conf->media_url, prev->media_url, "/media");
    ngx_conf_merge_size_value(conf->media_max, prev->media_max,
                              10 * 1024 * 1024);
    ngx_conf_merge_str_value(conf->media_key, prev->media_key, "");
    ngx_conf_merge_str_value(conf->link_key, prev->link_key, "");
    ngx_conf_merge_str_value(conf->media_link_secret,
                             prev->media_link_secret, "");
    ngx_conf_merge_ptr_value(conf->trusted, prev->trusted, NULL);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);
    ngx_conf_merge_str_value(conf->solr_location, prev->solr_location, "");
#if (NGX_THREADS)
    ngx_conf_merge_ptr_value(conf->media_pool, prev->media_pool, NULL);
#endif

    if (conf->count > conf->max_count) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"photo_count\" %ui is over \"photo_max_count\" "
                           "%ui", conf->count, conf->max_count);
        return NGX_CONF_ERROR;
    }

    if (conf->api != 1 || conf->api_file == NULL) {
        return NGX_CONF_OK;
    }

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_photo_module);

    for (m = ngx_http_photo_backends; *m; m++) {
        bcf = ngx_http_conf_get_module_main_conf(cf, (**m));

        if (bcf->servers == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"photo_api\" in %s:%ui needs \"%s\" in the "
                          "http block", conf->api_file, conf->api_line,
                          bcf->directive);
            return NGX_CONF_ERROR;
        }

        bcf->used = 1;
    }

    if (conf->media_root.len && conf->media_key.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"photo_api\" in %s:%ui has \"photo_media_root\" "
                      "and needs \"photo_media_key_file\"", conf->api_file,
                      conf->api_line);
        return NGX_CONF_ERROR;
    }

    pmcf->used = 1;

    /* nginx merges a server's locations with that server's srv_conf */
    pscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_photo_module);
    pscf->api = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_photo_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (plcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    plcf->api = 1;
    plcf->api_file = cf->conf_file->file.name.data;
    plcf->api_line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_photo_handler;

    return NGX_CONF_OK;
}


/*
 * photo_link_key_file path: linked accounts' credentials are sealed with
 * the SHA-256 of its bytes (contract/photo_secret.h), as the share worker
 * opens them; read now, so that nginx -t says when it cannot be.
 */

static char *
ngx_http_photo_link_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ngx_str_t  *value, name;

    if (plcf->link_key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    plcf->link_key.data = ngx_pnalloc(cf->pool, PHOTO_SECRET_KEY_LEN);
    if (plcf->link_key.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (photo_secret_key((char *) name.data, plcf->link_key.data) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\" cannot be read, or is empty", name.data);
        return NGX_CONF_ERROR;
    }

    plcf->link_key.len = PHOTO_SECRET_KEY_LEN;

    return NGX_CONF_OK;
}


/*
 * photo_media_link_secret_file path: the pictures' links are signed with
 * its text (photo_media.h), by the module and the workers, and checked by
 * secure_link_md5 with $photo_media_link_secret.  Read now, so that nginx
 * -t says when it cannot be.
 */

static char *
ngx_http_photo_media_link_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    size_t      n;
    ngx_str_t  *value, name;
    u_char      secret[PHOTO_MEDIA_SECRET_MAX];

    if (plcf->media_link_secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    n = photo_media_secret_read((char *) name.data, secret);
    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\" cannot be read, or is not %d to %d "
                           "printable characters", name.data,
                           PHOTO_MEDIA_SECRET_MIN, PHOTO_MEDIA_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    plcf->media_link_secret.data = ngx_pnalloc(cf->pool, n);
    if (plcf->media_link_secret.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(plcf->media_link_secret.data, secret, n);
    plcf->media_link_secret.len = n;
    ngx_explicit_memzero(secret, sizeof(secret));

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_photo_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;
    static ngx_str_t      name = ngx_string("photo_media_link_secret");

    /* never cached: each location may have its own */
    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE
                                           |NGX_HTTP_VAR_NOHASH);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_photo_media_link_secret_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_http_photo_media_link_secret_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_photo_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->media_link_secret.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = plcf->media_link_secret.data;
    v->len = plcf->media_link_secret.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * photo_media_key_file path: the secret that upload names are keyed with
 * (ngx_photo_media.c), read now, so that nginx -t says when it is missing
 * or too short, and a reload reads it again.
 */

static char *
ngx_http_photo_media_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;
    ngx_str_t  *value, name;
    u_char      key[NGX_PHOTO_MEDIA_KEY_MAX + 1];

    if (plcf->media_key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name.data);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, key, sizeof(key));
    err = ngx_errno;

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", name.data);
    }

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           ngx_read_fd_n " \"%s\" failed", name.data);
        return NGX_CONF_ERROR;
    }

    if (n < NGX_PHOTO_MEDIA_KEY_MIN || n > NGX_PHOTO_MEDIA_KEY_MAX) {
        ngx_explicit_memzero(key, sizeof(key));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" holds %s%z bytes: a media key is %d to %d "
                           "random bytes", name.data,
                           n > NGX_PHOTO_MEDIA_KEY_MAX ? "over " : "",
                           n > NGX_PHOTO_MEDIA_KEY_MAX
                           ? (ssize_t) NGX_PHOTO_MEDIA_KEY_MAX : n,
                           NGX_PHOTO_MEDIA_KEY_MIN, NGX_PHOTO_MEDIA_KEY_MAX);
        return NGX_CONF_ERROR;
    }

    plcf->media_key.data = ngx_pnalloc(cf->pool, n);
    if (plcf->media_key.data == NULL) {
        return NGX_CONF_ERROR;
    }

    plcf->media_key.len = n;
    ngx_memcpy(plcf->media_key.data, key, n);
    ngx_explicit_memzero(key, sizeof(key));

    return NGX_CONF_OK;
}


#if (NGX_THREADS)

/* photo_media_thread_pool name: nginx checks the pool exists ("thread_pool
   name ...;" in the main context, or "default") when it starts */

static char *
ngx_http_photo_media_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ngx_str_t  *value;

    if (plcf->media_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    plcf->media_pool = ngx_thread_pool_add(cf, &value[1]);

    return plcf->media_pool ? NGX_CONF_OK : NGX_CONF_ERROR;
}

#endif


/* photo_object_cache off | number [time] */

static char *
ngx_http_photo_object_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_main_conf_t *pmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;
    ngx_msec_t  ttl;

    if (pmcf->object_cache_max != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        pmcf->object_cache_max = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of objects \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pmcf->object_cache_max = (ngx_uint_t) n;

    if (cf->args->nelts == 3) {
        ttl = ngx_parse_time(&value[2], 0);
        if (ttl == (ngx_msec_t) NGX_ERROR || ttl == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        pmcf->object_cache_ttl = ttl;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_photo_trusted(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (plcf->trusted != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    plcf->trusted = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_cidr_t));
    if (plcf->trusted == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(plcf->trusted);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_ptocidr(&value[i], cidr) == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* photo_allowed_origin origin ...: as a browser writes them, checked here */

static char *
ngx_http_photo_allowed_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_photo_loc_conf_t *plcf = conf;

    ngx_str_t   *value, *origin, host;
    ngx_uint_t   i;
    ngx_flag_t   https;

    if (plcf->allowed_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    plcf->allowed_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                             sizeof(ngx_str_t));
    if (plcf->allowed_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_photo_origin_parse(&value[i], &https, &host) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" (scheme://host[:port],"
                               " http or https)", &value[i]);
            return NGX_CONF_ERROR;
        }

        origin = ngx_array_push(plcf->allowed_origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


/* A directive of an earlier version: accepted, ignored, and said so. */

static char *
ngx_http_photo_obsolete(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"%V\" is obsolete and ignored: %s", &cmd->name,
                       (char *) cmd->post);

    return NGX_CONF_OK;
}
