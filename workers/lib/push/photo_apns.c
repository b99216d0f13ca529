/*
 * APNs provider API over HTTP/2 (see photo_apns.h).
 *
 * Apple asks providers to keep their connection open and to send many
 * notifications on it concurrently rather than opening one per request:
 * the curl multi handle lives as long as the worker (its connection cache
 * is the connection), and each batch's requests are added together with
 * CURLOPT_PIPEWAIT, so they wait for that one connection and become
 * streams on it instead of opening more.
 */

#include "photo_apns.h"
#include "photo_jwt.h"
#include "photo_log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>


/* Apple refuses a provider token older than an hour, and one renewed more
   often than every 20 minutes (TooManyProviderTokenUpdates) */
#define PHOTO_APNS_JWT_RENEW     (50 * 60)

/* a notification not delivered within a day is stale news */
#define PHOTO_APNS_EXPIRATION    (24 * 3600)

#define PHOTO_APNS_TIMEOUT_MS    10000


struct photo_apns_s {
    photo_apns_conf_t   conf;
    EVP_PKEY           *key;
    CURLM              *multi;
    char               *jwt;
    time_t              jwt_at;
};

typedef struct {
    CURL                 *easy;
    struct curl_slist    *headers;
    photo_push_buf_t      body;
    photo_push_result_t  *res;
} photo_apns_req_t;


static const char *photo_apns_jwt(photo_apns_t *a);
static unsigned char *photo_apns_payload(const photo_push_msg_t *msg,
    size_t *len);
static int photo_apns_add(photo_apns_t *a, photo_apns_req_t *req,
    const unsigned char *payload, size_t len, const char *jwt);
static void photo_apns_done(photo_apns_t *a, photo_apns_req_t *req,
    CURLcode code);


photo_apns_t *
photo_apns_create(const photo_apns_conf_t *conf)
{
    photo_apns_t  *a;

    if (conf->url == NULL || conf->key_file == NULL || conf->key_id == NULL
        || conf->team_id == NULL || conf->topic == NULL)
    {
        photo_log_error("apns: PHOTO_APNS_URL, PHOTO_APNS_KEY_FILE, "
                        "PHOTO_APNS_KEY_ID, PHOTO_APNS_TEAM_ID and "
                        "PHOTO_APNS_TOPIC are all needed");
        return NULL;
    }

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }

    a->conf = *conf;
    a->key = photo_jwt_key_file(conf->key_file);
    a->multi = curl_multi_init();

    if (a->key == NULL || a->multi == NULL) {
        photo_apns_free(a);
        return NULL;
    }

    if (EVP_PKEY_base_id(a->key) != EVP_PKEY_EC) {
        photo_log_error("apns: %s is not an EC (P-256) key", conf->key_file);
        photo_apns_free(a);
        return NULL;
    }

    curl_multi_setopt(a->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);

    return a;
}


void
photo_apns_free(photo_apns_t *a)
{
    if (a == NULL) {
        return;
    }

    if (a->multi) {
        curl_multi_cleanup(a->multi);
    }

    EVP_PKEY_free(a->key);
    free(a->jwt);
    free(a);
}


void
photo_apns_send(photo_apns_t *a, const photo_push_msg_t *msg,
    photo_push_result_t *res, size_t n)
{
    int                running, left;
    size_t             i, len;
    CURLMsg           *m;
    const char        *jwt;
    unsigned char     *payload;
    photo_apns_req_t  *reqs, *req;

    for (i = 0; i < n; i++) {
        res[i].rc = PHOTO_PUSH_RETRY;
        res[i].status = 0;
        res[i].retry_after = 0;
        snprintf(res[i].reason, sizeof(res[i].reason), "not sent");
    }

    jwt = photo_apns_jwt(a);
    payload = photo_apns_payload(msg, &len);
    reqs = calloc(n, sizeof(photo_apns_req_t));

    if (jwt == NULL || payload == NULL || reqs == NULL) {
        free(payload);
        free(reqs);
        return;
    }

    for (i = 0; i < n; i++) {
        reqs[i].res = &res[i];

        if (photo_apns_add(a, &reqs[i], payload, len, jwt) != 0) {
            snprintf(res[i].reason, sizeof(res[i].reason),
                     "request cannot be made");
        }
    }

    do {
        if (curl_multi_perform(a->multi, &running) != CURLM_OK) {
            break;
        }

        while ((m = curl_multi_info_read(a->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &req);
                photo_apns_done(a, req, m->data.result);
            }
        }

        if (running) {
            curl_multi_poll(a->multi, NULL, 0, 1000, NULL);
        }

    } while (running);

    for (i = 0; i < n; i++) {
        if (reqs[i].easy) {
            curl_multi_remove_handle(a->multi, reqs[i].easy);
            curl_easy_cleanup(reqs[i].easy);
        }

        curl_slist_free_all(reqs[i].headers);
        free(reqs[i].body.data);
    }

    free(reqs);
    free(payload);
}


/* the provider token, made anew when it is old (or was refused) */
static const char *
photo_apns_jwt(photo_apns_t *a)
{
    time_t                now;
    size_t                hlen, clen;
    yajl_gen              h, c;
    const unsigned char  *hbuf, *cbuf;

    now = time(NULL);

    if (a->jwt && now - a->jwt_at < PHOTO_APNS_JWT_RENEW) {
        return a->jwt;
    }

    free(a->jwt);
    a->jwt = NULL;

    h = yajl_gen_alloc(NULL);
    c = yajl_gen_alloc(NULL);

    if (h && c) {
        yajl_gen_map_open(h);
        yajl_gen_string(h, (const unsigned char *) "alg", 3);
        yajl_gen_string(h, (const unsigned char *) "ES256", 5);
        yajl_gen_string(h, (const unsigned char *) "kid", 3);
        yajl_gen_string(h, (const unsigned char *) a->conf.key_id,
                        strlen(a->conf.key_id));
        yajl_gen_map_close(h);

        yajl_gen_map_open(c);
        yajl_gen_string(c, (const unsigned char *) "iss", 3);
        yajl_gen_string(c, (const unsigned char *) a->conf.team_id,
                        strlen(a->conf.team_id));
        yajl_gen_string(c, (const unsigned char *) "iat", 3);
        yajl_gen_integer(c, (long long) now);
        yajl_gen_map_close(c);

        if (yajl_gen_get_buf(h, &hbuf, &hlen) == yajl_gen_status_ok
            && yajl_gen_get_buf(c, &cbuf, &clen) == yajl_gen_status_ok)
        {
            a->jwt = photo_jwt_sign(a->key, hbuf, hlen, cbuf, clen);
            a->jwt_at = now;
        }
    }

    if (h) {
        yajl_gen_free(h);
    }

    if (c) {
        yajl_gen_free(c);
    }

    if (a->jwt) {
        photo_log_debug("apns: new provider token");
    }

    return a->jwt;
}


/* {"aps":{"alert":{"title":…,"body":…}}}, malloc'd */
static unsigned char *
photo_apns_payload(const photo_push_msg_t *msg, size_t *len)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "aps", 3);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "alert", 5);
    yajl_gen_map_open(g);
    photo_push_gen_alert(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    return photo_push_gen_take(g, len);
}


static int
photo_apns_add(photo_apns_t *a, photo_apns_req_t *req,
    const unsigned char *payload, size_t len, const char *jwt)
{
    int     ok;
    char    url[8192], line[8192], *token;
    CURL   *e;
    size_t  n;

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    req->easy = e;

    token = curl_easy_escape(e, req->res->token, 0);
    if (token == NULL) {
        return -1;
    }

    n = strlen(a->conf.url);
    while (n && a->conf.url[n - 1] == '/') {
        n--;
    }

    snprintf(url, sizeof(url), "%.*s/3/device/%s", (int) n, a->conf.url,
             token);
    curl_free(token);

    ok = 1;

#define photo_apns_header(...)                                               \
    do {                                                                     \
        struct curl_slist  *l;                                               \
        snprintf(line, sizeof(line), __VA_ARGS__);                           \
        l = curl_slist_append(req->headers, line);                           \
        if (l == NULL) {                                                     \
            ok = 0;                                                          \
        } else {                                                             \
            req->headers = l;                                                \
        }                                                                    \
    } while (0)

    photo_apns_header("authorization: bearer %s", jwt);
    photo_apns_header("apns-topic: %s", a->conf.topic);
    photo_apns_header("apns-push-type: alert");
    photo_apns_header("apns-priority: 10");
    photo_apns_header("apns-expiration: %lld",
                      (long long) time(NULL) + PHOTO_APNS_EXPIRATION);
    photo_apns_header("content-type: application/json");

#undef photo_apns_header

    if (!ok) {
        return -1;
    }

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, photo_push_buf_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &req->body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) PHOTO_APNS_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, req);

    if (a->conf.ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, a->conf.ca_file);
    }

    if (curl_multi_add_handle(a->multi, e) != CURLM_OK) {
        return -1;
    }

    return 0;
}


/* what Apple's answer means for this token */
static void
photo_apns_done(photo_apns_t *a, photo_apns_req_t *req, CURLcode code)
{
    long                  status;
    curl_off_t            retry_after;
    photo_push_result_t  *res;

    static const char  *reason_path[] = { "reason", NULL };

    res = req->res;

    if (code != CURLE_OK) {
        res->rc = PHOTO_PUSH_RETRY;
        snprintf(res->reason, sizeof(res->reason), "%s",
                 curl_easy_strerror(code));
        return;
    }

    status = 0;
    retry_after = 0;
    curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(req->easy, CURLINFO_RETRY_AFTER, &retry_after);

    res->status = status;
    res->retry_after = (long) retry_after;
    photo_push_json_string(&req->body, reason_path, res->reason,
                           sizeof(res->reason));

    if (status == 200) {
        res->rc = PHOTO_PUSH_SENT;

    } else if (status == 410
               || (status == 400
                   && (strcmp(res->reason, "BadDeviceToken") == 0
                       || strcmp(res->reason, "Unregistered") == 0)))
    {
        res->rc = PHOTO_PUSH_DEAD_TOKEN;

    } else if (status == 403
               && (strcmp(res->reason, "ExpiredProviderToken") == 0
                   || strcmp(res->reason, "InvalidProviderToken") == 0))
    {
        /* a fresh token on the next attempt */
        a->jwt_at = 0;
        res->rc = PHOTO_PUSH_RETRY;

    } else if (status == 429 || status >= 500) {
        res->rc = PHOTO_PUSH_RETRY;

    } else {
        res->rc = PHOTO_PUSH_REJECTED;
    }

    if (res->reason[0] == '\0') {
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", status);
    }
}
