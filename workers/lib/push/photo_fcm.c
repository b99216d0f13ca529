/* FCM HTTP v1 (see photo_fcm.h). */

#include "photo_fcm.h"
#include "photo_jwt.h"
#include "photo_log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


#define PHOTO_FCM_SCOPE     "https://www.googleapis.com/auth/firebase.messaging"
#define PHOTO_FCM_GRANT     "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define PHOTO_FCM_LIFETIME  3600        /* the longest Google grants */
#define PHOTO_FCM_MARGIN    60          /* renew before it runs out */
#define PHOTO_FCM_TIMEOUT_MS  10000
#define PHOTO_FCM_FIELD     1024


struct photo_fcm_s {
    photo_fcm_conf_t   conf;
    EVP_PKEY          *key;
    char               client_email[PHOTO_FCM_FIELD];
    char               token_uri[PHOTO_FCM_FIELD];
    char               project_id[PHOTO_FCM_FIELD];
    CURL              *easy;            /* kept: its connection is reused */
    char              *access_token;
    time_t             expires_at;
};


static int photo_fcm_load_key(photo_fcm_t *f);
static const char *photo_fcm_access_token(photo_fcm_t *f, char *err,
    size_t errlen);
static char *photo_fcm_assertion(photo_fcm_t *f, time_t now);
static unsigned char *photo_fcm_message(const photo_push_msg_t *msg,
    const char *token, size_t *len);
static void photo_fcm_one(photo_fcm_t *f, const char *url,
    const char *bearer, const photo_push_msg_t *msg,
    photo_push_result_t *res);
static CURLcode photo_fcm_post(photo_fcm_t *f, const char *url,
    struct curl_slist *headers, const void *body, size_t len,
    photo_push_buf_t *answer, long *status, long *retry_after);


photo_fcm_t *
photo_fcm_create(const photo_fcm_conf_t *conf)
{
    photo_fcm_t  *f;

    if (conf->url == NULL || conf->key_file == NULL) {
        photo_log_error("fcm: PHOTO_FCM_URL and PHOTO_FCM_KEY_FILE are both "
                        "needed");
        return NULL;
    }

    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }

    f->conf = *conf;
    f->easy = curl_easy_init();

    if (f->easy == NULL || photo_fcm_load_key(f) != 0) {
        photo_fcm_free(f);
        return NULL;
    }

    return f;
}


void
photo_fcm_free(photo_fcm_t *f)
{
    if (f == NULL) {
        return;
    }

    if (f->easy) {
        curl_easy_cleanup(f->easy);
    }

    EVP_PKEY_free(f->key);
    free(f->access_token);
    free(f);
}


void
photo_fcm_send(photo_fcm_t *f, const photo_push_msg_t *msg,
    photo_push_result_t *res, size_t n)
{
    char         url[4096], err[PHOTO_PUSH_REASON];
    size_t       i, len;
    const char  *bearer;

    bearer = photo_fcm_access_token(f, err, sizeof(err));

    len = strlen(f->conf.url);
    while (len && f->conf.url[len - 1] == '/') {
        len--;
    }

    snprintf(url, sizeof(url), "%.*s/v1/projects/%s/messages:send",
             (int) len, f->conf.url, f->project_id);

    for (i = 0; i < n; i++) {
        res[i].status = 0;
        res[i].retry_after = 0;

        if (bearer == NULL) {
            /* the token endpoint is Google's too: its trouble is passing */
            res[i].rc = PHOTO_PUSH_RETRY;
            snprintf(res[i].reason, sizeof(res[i].reason), "%s", err);
            continue;
        }

        photo_fcm_one(f, url, bearer, msg, &res[i]);
    }
}


/* client_email, private_key, token_uri, project_id from the JSON key */
static int
photo_fcm_load_key(photo_fcm_t *f)
{
    int          rc;
    long         size;
    char        *text, err[256];
    FILE        *fp;
    size_t       i;
    char        *dst[3];
    yajl_val     root, v;
    const char  *s;

    static const char  *fields[] = {
        "client_email", "token_uri", "project_id", "private_key"
    };

    dst[0] = f->client_email;
    dst[1] = f->token_uri;
    dst[2] = f->project_id;

    fp = fopen(f->conf.key_file, "r");
    if (fp == NULL) {
        photo_log_error("fcm: cannot open %s", f->conf.key_file);
        return -1;
    }

    text = NULL;
    rc = -1;

    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0
        || size > 1024 * 1024 || fseek(fp, 0, SEEK_SET) != 0
        || (text = calloc(1, (size_t) size + 1)) == NULL
        || fread(text, 1, (size_t) size, fp) != (size_t) size)
    {
        photo_log_error("fcm: cannot read %s", f->conf.key_file);
        fclose(fp);
        free(text);
        return -1;
    }

    fclose(fp);

    root = yajl_tree_parse(text, err, sizeof(err));
    if (root == NULL) {
        photo_log_error("fcm: %s: %s", f->conf.key_file, err);
        free(text);
        return -1;
    }

    for (i = 0; i < 4; i++) {
        const char  *path[] = { fields[i], NULL };

        v = yajl_tree_get(root, path, yajl_t_string);
        s = v ? YAJL_GET_STRING(v) : NULL;

        if (s == NULL || s[0] == '\0'
            || (i < 3 && strlen(s) >= PHOTO_FCM_FIELD))
        {
            photo_log_error("fcm: %s has no usable \"%s\"", f->conf.key_file,
                            fields[i]);
            goto done;
        }

        if (i < 3) {
            memcpy(dst[i], s, strlen(s) + 1);
            continue;
        }

        f->key = photo_jwt_key_pem(s, strlen(s));
        if (f->key == NULL || EVP_PKEY_base_id(f->key) != EVP_PKEY_RSA) {
            photo_log_error("fcm: %s: private_key is not an RSA key",
                            f->conf.key_file);
            goto done;
        }
    }

    rc = 0;

done:

    yajl_tree_free(root);
    free(text);

    return rc;
}


/* the cached access token, or a new one from token_uri; NULL and err */
static const char *
photo_fcm_access_token(photo_fcm_t *f, char *err, size_t errlen)
{
    long                 status, retry_after, expires_in;
    char                *assertion, *form, *esc;
    time_t               now;
    yajl_val             root, tok, exp;
    const char          *access;
    CURLcode             code;
    photo_push_buf_t     answer;
    struct curl_slist   *headers;

    static const char  *tok_path[] = { "access_token", NULL };
    static const char  *exp_path[] = { "expires_in", NULL };

    now = time(NULL);

    if (f->access_token && now < f->expires_at - PHOTO_FCM_MARGIN) {
        return f->access_token;
    }

    free(f->access_token);
    f->access_token = NULL;

    assertion = photo_fcm_assertion(f, now);
    if (assertion == NULL) {
        snprintf(err, errlen, "cannot sign the OAuth assertion");
        return NULL;
    }

    esc = curl_easy_escape(f->easy, PHOTO_FCM_GRANT, 0);
    form = esc ? malloc(strlen(esc) + strlen(assertion) + 64) : NULL;

    if (form == NULL) {
        curl_free(esc);
        free(assertion);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    /* the assertion is base64url and dots: nothing to escape */
    sprintf(form, "grant_type=%s&assertion=%s", esc, assertion);
    curl_free(esc);
    free(assertion);

    memset(&answer, 0, sizeof(answer));
    headers = curl_slist_append(NULL, "Content-Type: "
                                "application/x-www-form-urlencoded");

    code = photo_fcm_post(f, f->token_uri, headers, form, strlen(form),
                          &answer, &status, &retry_after);
    curl_slist_free_all(headers);
    free(form);

    root = code == CURLE_OK && status == 200 && answer.data
           ? yajl_tree_parse(answer.data, NULL, 0) : NULL;
    tok = root ? yajl_tree_get(root, tok_path, yajl_t_string) : NULL;
    access = tok ? YAJL_GET_STRING(tok) : NULL;
    exp = root ? yajl_tree_get(root, exp_path, yajl_t_number) : NULL;

    if (access != NULL) {
        expires_in = exp && YAJL_IS_INTEGER(exp) ? YAJL_GET_INTEGER(exp)
                                                 : PHOTO_FCM_LIFETIME;
        f->access_token = strdup(access);
        f->expires_at = now + expires_in;
        photo_log_debug("fcm: new access token, for %ld s", expires_in);

    } else if (code != CURLE_OK) {
        snprintf(err, errlen, "token endpoint: %s", curl_easy_strerror(code));

    } else {
        snprintf(err, errlen, "token endpoint: HTTP %ld", status);
    }

    if (f->access_token == NULL) {
        photo_log_error("fcm: no access token: %s", err);
    }

    yajl_tree_free(root);
    free(answer.data);

    return f->access_token;
}


/* {"alg":"RS256","typ":"JWT"} . {iss, scope, aud, iat, exp}, signed */
static char *
photo_fcm_assertion(photo_fcm_t *f, time_t now)
{
    char                 *jwt;
    size_t                hlen, clen;
    yajl_gen              h, c;
    const unsigned char  *hbuf, *cbuf;

    jwt = NULL;
    h = yajl_gen_alloc(NULL);
    c = yajl_gen_alloc(NULL);

    if (h && c) {
        yajl_gen_map_open(h);
        yajl_gen_string(h, (const unsigned char *) "alg", 3);
        yajl_gen_string(h, (const unsigned char *) "RS256", 5);
        yajl_gen_string(h, (const unsigned char *) "typ", 3);
        yajl_gen_string(h, (const unsigned char *) "JWT", 3);
        yajl_gen_map_close(h);

#define photo_fcm_claim(k, v)                                                \
        yajl_gen_string(c, (const unsigned char *) k, strlen(k));            \
        yajl_gen_string(c, (const unsigned char *) v, strlen(v))

        yajl_gen_map_open(c);
        photo_fcm_claim("iss", f->client_email);
        photo_fcm_claim("scope", PHOTO_FCM_SCOPE);
        photo_fcm_claim("aud", f->token_uri);
        yajl_gen_string(c, (const unsigned char *) "iat", 3);
        yajl_gen_integer(c, (long long) now);
        yajl_gen_string(c, (const unsigned char *) "exp", 3);
        yajl_gen_integer(c, (long long) now + PHOTO_FCM_LIFETIME);
        yajl_gen_map_close(c);

#undef photo_fcm_claim

        if (yajl_gen_get_buf(h, &hbuf, &hlen) == yajl_gen_status_ok
            && yajl_gen_get_buf(c, &cbuf, &clen) == yajl_gen_status_ok)
        {
            jwt = photo_jwt_sign(f->key, hbuf, hlen, cbuf, clen);
        }
    }

    if (h) {
        yajl_gen_free(h);
    }

    if (c) {
        yajl_gen_free(c);
    }

    return jwt;
}


/* {"message":{"token":…,"notification":{"title":…,"body":…}}} */
static unsigned char *
photo_fcm_message(const photo_push_msg_t *msg, const char *token,
    size_t *len)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "message", 7);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "token", 5);
    yajl_gen_string(g, (const unsigned char *) token, strlen(token));
    yajl_gen_string(g, (const unsigned char *) "notification", 12);
    yajl_gen_map_open(g);
    photo_push_gen_alert(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    return photo_push_gen_take(g, len);
}


static void
photo_fcm_one(photo_fcm_t *f, const char *url, const char *bearer,
    const photo_push_msg_t *msg, photo_push_result_t *res)
{
    char                *auth;
    long                 status, retry_after;
    size_t               len;
    CURLcode             code;
    unsigned char       *body;
    photo_push_buf_t     answer;
    struct curl_slist   *headers, *l;

    static const char  *status_path[] = { "error", "status", NULL };

    res->rc = PHOTO_PUSH_RETRY;
    snprintf(res->reason, sizeof(res->reason), "out of memory");

    body = photo_fcm_message(msg, res->token, &len);
    auth = malloc(strlen(bearer) + 32);
    headers = curl_slist_append(NULL, "Content-Type: application/json");

    if (body == NULL || auth == NULL || headers == NULL) {
        goto done;
    }

    sprintf(auth, "Authorization: Bearer %s", bearer);
    l = curl_slist_append(headers, auth);
    if (l == NULL) {
        goto done;
    }

    headers = l;
    memset(&answer, 0, sizeof(answer));

    code = photo_fcm_post(f, url, headers, body, len, &answer, &status,
                          &retry_after);

    res->status = status;
    res->retry_after = retry_after;
    photo_push_json_string(&answer, status_path, res->reason,
                           sizeof(res->reason));
    free(answer.data);

    if (code != CURLE_OK) {
        snprintf(res->reason, sizeof(res->reason), "%s",
                 curl_easy_strerror(code));

    } else if (status == 200) {
        res->rc = PHOTO_PUSH_SENT;

    } else if (status == 404
               || (status == 400
                   && strcmp(res->reason, "INVALID_ARGUMENT") == 0))
    {
        /* 404 NOT_FOUND carries errorCode UNREGISTERED: the app is gone */
        res->rc = PHOTO_PUSH_DEAD_TOKEN;

    } else if (status == 401) {
        /* revoked or expired early: a new one next time */
        free(f->access_token);
        f->access_token = NULL;

    } else if (status == 429 || status >= 500) {
        /* PHOTO_PUSH_RETRY already */

    } else {
        res->rc = PHOTO_PUSH_REJECTED;
    }

    if (res->reason[0] == '\0') {
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", status);
    }

done:

    curl_slist_free_all(headers);
    free(auth);
    free(body);
}


static CURLcode
photo_fcm_post(photo_fcm_t *f, const char *url, struct curl_slist *headers,
    const void *body, size_t len, photo_push_buf_t *answer, long *status,
    long *retry_after)
{
    CURL        *e;
    CURLcode     code;
    curl_off_t   ra;

    e = f->easy;
    *status = 0;
    *retry_after = 0;

    /* the same handle each time keeps its connection; options reset */
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, photo_push_buf_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) PHOTO_FCM_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);

    if (f->conf.ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, f->conf.ca_file);
    }

    code = curl_easy_perform(e);

    if (code == CURLE_OK) {
        ra = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra);
        *retry_after = (long) ra;
    }

    return code;
}
