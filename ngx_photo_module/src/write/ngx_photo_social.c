
/*
 * Follow / unfollow (POST / DELETE /v1/users/{id}/follow) and device tokens
 * (POST /v1/devices): checked, then background jobs for the workers.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"


static void ngx_photo_follow_body(ngx_photo_write_t *w);
static void ngx_photo_device_body(ngx_photo_write_t *w);


ngx_int_t
ngx_photo_follow_handler(ngx_http_request_t *r, int64_t followee)
{
    /* the body is not used: an empty one is what clients send */
    return ngx_photo_write_start(r, ngx_photo_follow_body, 1,
                                 NGX_PHOTO_BODY_NONE, followee);
}


static void
ngx_photo_follow_body(ngx_photo_write_t *w)
{
    int64_t      id;
    yajl_gen     g;
    const char  *action;

    if (w->target_id == w->user_id) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_id",
                             "you cannot follow yourself");
        return;
    }

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    action = (w->request->method == NGX_HTTP_DELETE) ? "unfollow" : "follow";

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_FOLLOWER, w->user_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_FOLLOWEE, w->target_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_ACTION, (u_char *) action,
                        ngx_strlen(action));

    ngx_photo_job_end(w, g, PHOTO_JOB_FOLLOW, id);
}


ngx_int_t
ngx_photo_device_handler(ngx_http_request_t *r)
{
    return ngx_photo_write_start(r, ngx_photo_device_body, 1,
                                 NGX_PHOTO_BODY_JSON, 0);
}


static void
ngx_photo_device_body(ngx_photo_write_t *w)
{
    int64_t     id;
    yajl_gen    g;
    ngx_str_t   platform, token;

    if (ngx_photo_json_string(w, PHOTO_JOB_F_PLATFORM, 1, 1, 16, &platform)
        != NGX_OK
        || ngx_photo_json_string(w, PHOTO_JOB_F_TOKEN, 1, 1, 4096, &token)
           != NGX_OK)
    {
        return;
    }

    if (!((platform.len == 3 && ngx_strncmp(platform.data, "ios", 3) == 0)
          || (platform.len == 7
              && ngx_strncmp(platform.data, "android", 7) == 0)))
    {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"platform\" must be \"ios\" or \"android\"");
        return;
    }

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_PLATFORM, platform.data, platform.len);
    ngx_photo_json_pair(g, PHOTO_JOB_F_TOKEN, token.data, token.len);

    ngx_photo_job_end(w, g, PHOTO_JOB_DEVICE, id);
}
