/* Facebook's Graph API, POST /{page-id}/photos (see photo_facebook.h). */

#include "photo_facebook.h"
#include "photo_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>


struct photo_facebook_s {
    photo_facebook_conf_t   conf;
    CURL                   *easy;       /* kept: its connection is reused */
};


static char *photo_facebook_form(photo_facebook_t *f, const char *photo_url,
    const char *caption, const char *access_token);
static void photo_facebook_outcome(photo_facebook_t *f, CURLcode code,
    long status, const photo_push_buf_t *answer, photo_share_result_t *res);


photo_facebook_t *
photo_facebook_create(const photo_facebook_conf_t *conf)
{
    photo_facebook_t  *f;

    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }

    f->conf = *conf;
    f->easy = curl_easy_init();

    if (f->easy == NULL) {
        photo_log_error("facebook: out of memory");
        photo_facebook_free(f);
        return NULL;
    }

    return f;
}


void
photo_facebook_free(photo_facebook_t *f)
{
    if (f == NULL) {
        return;
    }

    if (f->easy) {
        curl_easy_cleanup(f->easy);
    }

    free(f);
}


void
photo_facebook_post(photo_facebook_t *f, const char *page_id,
    const char *access_token, const char *photo_url, const char *caption,
    photo_share_result_t *res)
{
    char                *page, *path, *url, *form;
    long                 status;
    CURLcode             code;
    photo_push_buf_t     answer;
    struct curl_slist   *headers;

    memset(res, 0, sizeof(*res));
    res->rc = PHOTO_SHARE_RETRY;
    snprintf(res->reason, sizeof(res->reason), "out of memory");

    url = NULL;
    path = NULL;
    page = curl_easy_escape(f->easy, page_id, 0);
    form = photo_facebook_form(f, photo_url, caption, access_token);
    headers = curl_slist_append(NULL, "Content-Type: "
                                "application/x-www-form-urlencoded");

    if (page == NULL || form == NULL || headers == NULL) {
        goto done;
    }

    path = malloc(strlen(page) + sizeof("//photos"));
    if (path == NULL) {
        goto done;
    }

    sprintf(path, "/%s/photos", page);
    url = photo_share_url(f->conf.url, path);
    if (url == NULL) {
        goto done;
    }

    memset(&answer, 0, sizeof(answer));

    code = photo_share_post(f->easy, url, f->conf.ca_file, headers, form,
                            strlen(form), &answer, &status);

    photo_facebook_outcome(f, code, status, &answer, res);
    free(answer.data);

done:

    curl_slist_free_all(headers);
    curl_free(page);
    free(path);
    free(url);
    free(form);
}


/* url=…&caption=…&access_token=…, each escaped */
static char *
photo_facebook_form(photo_facebook_t *f, const char *photo_url,
    const char *caption, const char *access_token)
{
    int          i, ok;
    char        *esc[3], *form;
    size_t       len;
    const char  *value[3];

    static const char  *name[3] = { "url", "caption", "access_token" };

    value[0] = photo_url;
    value[1] = caption;
    value[2] = access_token;

    form = NULL;
    len = 0;
    ok = 1;

    for (i = 0; i < 3; i++) {
        esc[i] = curl_easy_escape(f->easy, value[i], 0);
        ok = ok && esc[i] != NULL;
        len += esc[i] ? strlen(name[i]) + strlen(esc[i]) + 2 : 0;
    }

    if (ok) {
        form = malloc(len + 1);
    }

    if (form != NULL) {
        sprintf(form, "%s=%s&%s=%s&%s=%s", name[0], esc[0], name[1], esc[1],
                name[2], esc[2]);
    }

    for (i = 0; i < 3; i++) {
        curl_free(esc[i]);
    }

    return form;
}


/*
 * 200 {"id","post_id"}: taken (the post's id kept).  An error is
 * {"error":{"message","type","code","error_subcode","fbtrace_id"}}: codes
 * 4, 17, 32 and 613 are rate limits, 1 and 2 passing trouble (later); 190
 * (OAuthException) an access token expired or revoked; others refused.
 * A 5xx without a known code: later.
 */
static void
photo_facebook_outcome(photo_facebook_t *f, CURLcode code, long status,
    const photo_push_buf_t *answer, photo_share_result_t *res)
{
    long long   ecode;
    yajl_val    root, v;

    static const char  *post_path[] = { "post_id", NULL };
    static const char  *id_path[] = { "id", NULL };
    static const char  *code_path[] = { "error", "code", NULL };
    static const char  *msg_path[] = { "error", "message", NULL };

    res->status = status;
    res->reason[0] = '\0';

    if (code != CURLE_OK) {
        res->rc = PHOTO_SHARE_RETRY;
        snprintf(res->reason, sizeof(res->reason), "%s",
                 curl_easy_strerror(code));
        return;
    }

    if (status == 200) {
        res->rc = PHOTO_SHARE_POSTED;
        photo_push_json_string(answer, post_path, res->remote_id,
                               sizeof(res->remote_id));
        if (res->remote_id[0] == '\0') {
            photo_push_json_string(answer, id_path, res->remote_id,
                                   sizeof(res->remote_id));
        }

        return;
    }

    ecode = -1;
    root = answer->data ? yajl_tree_parse(answer->data, NULL, 0) : NULL;
    v = root ? yajl_tree_get(root, code_path, yajl_t_number) : NULL;

    if (v != NULL && YAJL_IS_INTEGER(v)) {
        ecode = YAJL_GET_INTEGER(v);
    }

    yajl_tree_free(root);

    photo_push_json_string(answer, msg_path, res->reason,
                           sizeof(res->reason));
    if (res->reason[0] == '\0') {
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", status);
    }

    switch (ecode) {

    case 4:                         /* application request limit */
    case 17:                        /* user request limit */
    case 32:                        /* page request limit */
    case 613:                       /* calls within one hour */
        res->rc = PHOTO_SHARE_RETRY;
        res->retry_after = photo_share_retry_after(f->easy);
        if (res->retry_after == 0) {
            res->retry_after = PHOTO_FACEBOOK_RATE_WAIT;
        }

        break;

    case 1:                         /* unknown error: try again later */
    case 2:                         /* service temporarily unavailable */
        res->rc = PHOTO_SHARE_RETRY;
        break;

    case 190:                       /* access token expired or revoked */
        res->rc = PHOTO_SHARE_REVOKED;
        break;

    default:
        res->rc = status >= 500 ? PHOTO_SHARE_RETRY : PHOTO_SHARE_REJECTED;
    }

    photo_log_debug("facebook: %ld code %lld %s", status, ecode,
                    res->reason);
}
