/* Twitter's POST /2/tweets, signed with OAuth 1.0a (see photo_twitter.h). */

#include "photo_twitter.h"
#include "photo_log.h"

#include <oauth.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


#define PHOTO_TWITTER_ELLIPSIS  "\xe2\x80\xa6"      /* U+2026 */


struct photo_twitter_s {
    photo_twitter_conf_t   conf;
    char                  *url;         /* <url>/2/tweets */
    CURL                  *easy;        /* kept: its connection is reused */
};


static size_t photo_twitter_weight(const char *s, size_t len);
static size_t photo_twitter_cut(const char *s, size_t len, size_t max);
static size_t photo_twitter_link(const char *s, size_t len, size_t i);
static uint32_t photo_twitter_code_point(const char *s, size_t len,
    size_t *i);
static int photo_twitter_light(uint32_t c);
static size_t photo_twitter_unit(const char *s, size_t len, size_t i,
    size_t *w);
static char *photo_twitter_authorization(photo_twitter_t *t,
    const char *token, const char *token_secret);
static unsigned char *photo_twitter_body(const char *text, size_t *len);
static void photo_twitter_outcome(photo_twitter_t *t, CURLcode code,
    long status, const photo_push_buf_t *answer, photo_share_result_t *res);


photo_twitter_t *
photo_twitter_create(const photo_twitter_conf_t *conf)
{
    photo_twitter_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }

    t->conf = *conf;
    t->url = photo_share_url(conf->url, "/2/tweets");
    t->easy = curl_easy_init();

    if (t->url == NULL || t->easy == NULL) {
        photo_log_error("twitter: out of memory");
        photo_twitter_free(t);
        return NULL;
    }

    return t;
}


void
photo_twitter_free(photo_twitter_t *t)
{
    if (t == NULL) {
        return;
    }

    if (t->easy) {
        curl_easy_cleanup(t->easy);
    }

    free(t->url);
    free(t);
}


void
photo_twitter_post(photo_twitter_t *t, const char *token,
    const char *token_secret, const char *caption, const char *photo_url,
    photo_share_result_t *res)
{
    char                *text, *auth;
    long                 status;
    size_t               len;
    CURLcode             code;
    unsigned char       *body;
    photo_push_buf_t     answer;
    struct curl_slist   *headers, *l;

    memset(res, 0, sizeof(*res));
    res->rc = PHOTO_SHARE_RETRY;
    snprintf(res->reason, sizeof(res->reason), "out of memory");

    text = photo_twitter_text(caption, photo_url);
    body = text ? photo_twitter_body(text, &len) : NULL;
    auth = photo_twitter_authorization(t, token, token_secret);
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    l = headers && auth ? curl_slist_append(headers, auth) : NULL;

    if (body == NULL || l == NULL) {
        goto done;
    }

    memset(&answer, 0, sizeof(answer));

    code = photo_share_post(t->easy, t->url, t->conf.ca_file, headers,
                            (const char *) body, len, &answer, &status);

    photo_twitter_outcome(t, code, status, &answer, res);
    free(answer.data);

done:

    curl_slist_free_all(headers);
    free(auth);
    free(body);
    free(text);
}


char *
photo_twitter_text(const char *caption, const char *photo_url)
{
    char    *text;
    size_t   room, clen, ulen, cut;

    ulen = strlen(photo_url);
    clen = strlen(caption);

    /* what the caption may weigh: the rest, less a space and the link,
       which Twitter counts as PHOTO_TWITTER_URL_WEIGHT whatever its length */
    room = PHOTO_TWITTER_MAX_WEIGHT - 1 - PHOTO_TWITTER_URL_WEIGHT;

    text = malloc(clen + sizeof(PHOTO_TWITTER_ELLIPSIS) + 1 + ulen + 1);
    if (text == NULL) {
        return NULL;
    }

    if (clen == 0) {
        memcpy(text, photo_url, ulen + 1);
        return text;
    }

    if (photo_twitter_weight(caption, clen) <= room) {
        sprintf(text, "%s %s", caption, photo_url);
        return text;
    }

    /* the caption's first characters, and the ellipsis (weight 2) last */
    cut = photo_twitter_cut(caption, clen, room - 2);
    sprintf(text, "%.*s" PHOTO_TWITTER_ELLIPSIS " %s", (int) cut, caption,
            photo_url);

    return text;
}


/*
 * Twitter's weighted length (twitter-text's configuration v3): a code
 * point in one of the ranges below weighs 1, any other 2 (so CJK text and
 * emoji count double); a link (http:// or https:// up to a space) weighs
 * PHOTO_TWITTER_URL_WEIGHT (or its characters' weight, if more).  An
 * emoji of several code points is counted code point by code point, more
 * than Twitter does: a tweet is cut a little shorter, never refused.  Not
 * counted as links: bare domains ("example.com"), which Twitter also
 * shortens, so a caption with one shorter than 23 may weigh more there.
 */
static size_t
photo_twitter_weight(const char *s, size_t len)
{
    size_t  i, w, uw;

    for (w = 0, i = 0; i < len; w += uw) {
        i = photo_twitter_unit(s, len, i, &uw);
    }

    return w;
}


/* the bytes of the longest start of s that weighs at most max, links kept
   whole (a link cut short would still count as a whole one) */
static size_t
photo_twitter_cut(const char *s, size_t len, size_t max)
{
    size_t  i, next, w, uw;

    for (w = 0, i = 0; i < len; i = next, w += uw) {
        next = photo_twitter_unit(s, len, i, &uw);

        if (w + uw > max) {
            break;
        }
    }

    return i;
}


/* the unit at s[i], a link or a code point: its end, and in *w its weight */
static size_t
photo_twitter_unit(const char *s, size_t len, size_t i, size_t *w)
{
    size_t    end, k, cw;
    uint32_t  c;

    end = photo_twitter_link(s, len, i);

    if (end == i) {
        c = photo_twitter_code_point(s, len, &end);
        *w = photo_twitter_light(c) ? 1 : 2;
        return end;
    }

    /* a link: PHOTO_TWITTER_URL_WEIGHT, or what its characters weigh if
       that is more (should Twitter not take it for a link) */
    for (cw = 0, k = i; k < end; ) {
        c = photo_twitter_code_point(s, end, &k);
        cw += photo_twitter_light(c) ? 1 : 2;
    }

    *w = cw > PHOTO_TWITTER_URL_WEIGHT ? cw : PHOTO_TWITTER_URL_WEIGHT;

    return end;
}


/* the end of a link starting at s[i] ("http://" or "https://" and more,
   up to a space), or i */
static size_t
photo_twitter_link(const char *s, size_t len, size_t i)
{
    size_t  n;

    if (len - i > 7 && strncmp(s + i, "http://", 7) == 0) {
        n = i + 7;

    } else if (len - i > 8 && strncmp(s + i, "https://", 8) == 0) {
        n = i + 8;

    } else {
        return i;
    }

    while (n < len && s[n] != ' ') {
        n++;
    }

    return n;
}


/* the code point at s[*i] (UTF-8, which the module checked), *i past it */
static uint32_t
photo_twitter_code_point(const char *s, size_t len, size_t *i)
{
    size_t         n, k;
    uint32_t       c;
    unsigned char  b;

    b = (unsigned char) s[*i];
    n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    c = n == 1 ? b : n == 2 ? b & 0x1f : n == 3 ? b & 0x0f : b & 0x07;

    for (k = 1; k < n && *i + k < len; k++) {
        c = (c << 6) | ((unsigned char) s[*i + k] & 0x3f);
    }

    *i += k;

    return c;
}


/* twitter-text v3's ranges of weight 1 (its 100, on a scale of 100) */
static int
photo_twitter_light(uint32_t c)
{
    return c <= 0x10ff
           || (c >= 0x2000 && c <= 0x200d)
           || (c >= 0x2010 && c <= 0x201f)
           || (c >= 0x2032 && c <= 0x2037);
}


/*
 * "Authorization: OAuth oauth_consumer_key=…, …, oauth_signature=…",
 * malloc'd: liboauth adds the oauth_* parameters to the request's (its
 * URL's query: none), signs the base string with HMAC-SHA1 and the
 * consumer and token secrets, and serializes the oauth_* ones quoted.
 */
static char *
photo_twitter_authorization(photo_twitter_t *t, const char *token,
    const char *token_secret)
{
    int     argc;
    char   *params, *auth, **argv;

    argv = NULL;
    argc = oauth_split_url_parameters(t->url, &argv);

    oauth_sign_array2_process(&argc, &argv, NULL, OA_HMAC, "POST",
                              t->conf.consumer_key, t->conf.consumer_secret,
                              token, token_secret);

    /* 2: the oauth_* parameters only, 4: their values in quotes */
    params = oauth_serialize_url_sep(argc, 1, argv, ", ", 6);
    oauth_free_array(&argc, &argv);

    if (params == NULL) {
        return NULL;
    }

    auth = malloc(strlen(params) + sizeof("Authorization: OAuth "));
    if (auth != NULL) {
        sprintf(auth, "Authorization: OAuth %s", params);
    }

    free(params);

    return auth;
}


/* {"text":"…"} */
static unsigned char *
photo_twitter_body(const char *text, size_t *len)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "text", 4);
    yajl_gen_string(g, (const unsigned char *) text, strlen(text));
    yajl_gen_map_close(g);

    return photo_push_gen_take(g, len);
}


/*
 * 201 {"data":{"id","text"}}: taken.  429 (with retry-after, or
 * x-rate-limit-reset: when the window opens again, in Unix seconds):
 * later.  401: the user's token is no longer good.  5xx: later.  Other
 * 4xx (403 a duplicate, 400 a bad request): refused.
 */
static void
photo_twitter_outcome(photo_twitter_t *t, CURLcode code, long status,
    const photo_push_buf_t *answer, photo_share_result_t *res)
{
    long long  reset;

    static const char  *id_path[] = { "data", "id", NULL };
    static const char  *detail_path[] = { "detail", NULL };
    static const char  *title_path[] = { "title", NULL };

    res->status = status;
    res->reason[0] = '\0';

    if (code != CURLE_OK) {
        res->rc = PHOTO_SHARE_RETRY;
        snprintf(res->reason, sizeof(res->reason), "%s",
                 curl_easy_strerror(code));
        return;
    }

    if (status == 200 || status == 201) {
        res->rc = PHOTO_SHARE_POSTED;
        photo_push_json_string(answer, id_path, res->remote_id,
                               sizeof(res->remote_id));
        return;
    }

    photo_push_json_string(answer, detail_path, res->reason,
                           sizeof(res->reason));
    if (res->reason[0] == '\0') {
        photo_push_json_string(answer, title_path, res->reason,
                               sizeof(res->reason));
    }

    if (res->reason[0] == '\0') {
        snprintf(res->reason, sizeof(res->reason), "HTTP %ld", status);
    }

    if (status == 429) {
        res->rc = PHOTO_SHARE_RETRY;
        res->retry_after = photo_share_retry_after(t->easy);

        reset = photo_share_header_number(t->easy, "x-rate-limit-reset");
        if (res->retry_after == 0 && reset > (long long) time(NULL)) {
            res->retry_after = (long) (reset - (long long) time(NULL));
        }

    } else if (status == 401) {
        res->rc = PHOTO_SHARE_REVOKED;

    } else if (status >= 500) {
        res->rc = PHOTO_SHARE_RETRY;

    } else {
        res->rc = PHOTO_SHARE_REJECTED;
    }

    photo_log_debug("twitter: %ld %s", status, res->reason);
}
