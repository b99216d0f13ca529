/* A small S3 client (see photo_s3.h). */

#include "photo_s3.h"
#include "photo_log.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_S3_ERROR_MAX  (64 * 1024)     /* an error's XML is small */
#define PHOTO_S3_URL_MAX    2048
#define PHOTO_S3_MESSAGE    120             /* of S3's <Message>, logged */

struct photo_s3_s {
    CURL               *curl;
    char               *prefix;         /* "<url>/<bucket>/" or
                                           "<scheme>://<bucket>.<host>/" */
    char               *sigv4;          /* "aws:amz:<region>:s3" */
    char               *access_key;     /* NULL: unsigned */
    char               *secret_key;
    char               *ca_file;
    char                url[PHOTO_S3_URL_MAX];
    char                error[CURL_ERROR_SIZE];
};

/* an answer's body, up to max bytes */
typedef struct {
    unsigned char      *data;
    size_t              len;
    size_t              size;
    size_t              max;
    int                 over;
} photo_s3_buf_t;


static char *photo_s3_prefix(const photo_s3_conf_t *conf);
static int photo_s3_key_url(photo_s3_t *s3, const char *key);
static int photo_s3_sha256_hex(const void *data, size_t len, char *hex);
static void photo_s3_perform(photo_s3_t *s3, const char *method,
    const char *key, const void *body, size_t len,
    const char *content_type, photo_s3_buf_t *answer,
    photo_s3_result_t *res);
static void photo_s3_sort(photo_s3_t *s3, const char *method,
    const photo_s3_buf_t *answer, photo_s3_result_t *res);
static size_t photo_s3_write(char *ptr, size_t size, size_t nmemb,
    void *data);
static void photo_s3_element(const char *xml, size_t len, const char *name,
    char *out, size_t size);


photo_s3_t *
photo_s3_create(const photo_s3_conf_t *conf)
{
    size_t       n;
    photo_s3_t  *s3;

    s3 = calloc(1, sizeof(photo_s3_t));
    if (s3 == NULL) {
        return NULL;
    }

    s3->prefix = photo_s3_prefix(conf);
    s3->curl = curl_easy_init();

    n = strlen(conf->region) + sizeof("aws:amz::s3");
    s3->sigv4 = malloc(n);

    if (s3->prefix == NULL || s3->curl == NULL || s3->sigv4 == NULL) {
        photo_s3_free(s3);
        return NULL;
    }

    snprintf(s3->sigv4, n, "aws:amz:%s:s3", conf->region);

    if (conf->access_key[0] != '\0') {
        s3->access_key = strdup(conf->access_key);
        s3->secret_key = strdup(conf->secret_key);

        if (s3->access_key == NULL || s3->secret_key == NULL) {
            photo_s3_free(s3);
            return NULL;
        }
    }

    if (conf->ca_file != NULL && conf->ca_file[0] != '\0') {
        s3->ca_file = strdup(conf->ca_file);
        if (s3->ca_file == NULL) {
            photo_s3_free(s3);
            return NULL;
        }
    }

    return s3;
}


void
photo_s3_free(photo_s3_t *s3)
{
    if (s3 == NULL) {
        return;
    }

    if (s3->curl) {
        curl_easy_cleanup(s3->curl);
    }

    if (s3->secret_key) {
        OPENSSL_cleanse(s3->secret_key, strlen(s3->secret_key));
    }

    free(s3->prefix);
    free(s3->sigv4);
    free(s3->access_key);
    free(s3->secret_key);
    free(s3->ca_file);
    free(s3);
}


/*
 * The objects' URL up to the key, from "http(s)://host[:port]" (trailing
 * slashes left out): the bucket as the path's first step, or before the
 * host.  NULL (logged) when the URL is not that.
 */
static char *
photo_s3_prefix(const photo_s3_conf_t *conf)
{
    char        *prefix;
    size_t       scheme, len, n;
    const char  *url, *host;

    url = conf->url;

    if (strncmp(url, "http://", 7) == 0) {
        scheme = 7;

    } else if (strncmp(url, "https://", 8) == 0) {
        scheme = 8;

    } else {
        photo_log_error("PHOTO_S3_URL \"%s\" is not http(s)://host[:port]",
                        url);
        return NULL;
    }

    host = url + scheme;
    len = strlen(host);

    while (len > 0 && host[len - 1] == '/') {
        len--;
    }

    if (len == 0 || memchr(host, '/', len) != NULL
        || memchr(host, '?', len) != NULL || memchr(host, '@', len) != NULL)
    {
        photo_log_error("PHOTO_S3_URL \"%s\" is not http(s)://host[:port] "
                        "(no path, no user)", url);
        return NULL;
    }

    if (conf->bucket[0] == '\0' || strchr(conf->bucket, '/') != NULL) {
        photo_log_error("PHOTO_S3_BUCKET \"%s\" is not a bucket's name",
                        conf->bucket);
        return NULL;
    }

    n = scheme + len + strlen(conf->bucket) + 3;

    prefix = malloc(n);
    if (prefix == NULL) {
        return NULL;
    }

    if (conf->virtual_host) {
        snprintf(prefix, n, "%.*s%s.%.*s/", (int) scheme, url, conf->bucket,
                 (int) len, host);

    } else {
        snprintf(prefix, n, "%.*s/%s/", (int) (scheme + len), url,
                 conf->bucket);
    }

    return prefix;
}


const char *
photo_s3_url(photo_s3_t *s3, const char *key)
{
    if (photo_s3_key_url(s3, key) != 0) {
        snprintf(s3->url, sizeof(s3->url), "%s<key too long>", s3->prefix);
    }

    return s3->url;
}


/*
 * s3->url: the prefix and the key, each byte but the unreserved ones and
 * '/' percent-encoded, as Signature V4's canonical URI has it (libcurl
 * 7.88 signs the path as it is in the URL).
 */
static int
photo_s3_key_url(photo_s3_t *s3, const char *key)
{
    size_t         n;
    unsigned char  c;

    static const char  hex[] = "0123456789ABCDEF";

    n = strlen(s3->prefix);
    if (n >= sizeof(s3->url)) {
        return -1;
    }

    memcpy(s3->url, s3->prefix, n);

    for ( ; *key; key++) {
        c = (unsigned char) *key;

        if (n + 4 > sizeof(s3->url)) {
            return -1;
        }

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || c == '/')
        {
            s3->url[n++] = (char) c;

        } else {
            s3->url[n++] = '%';
            s3->url[n++] = hex[c >> 4];
            s3->url[n++] = hex[c & 0x0f];
        }
    }

    s3->url[n] = '\0';

    return 0;
}


void
photo_s3_put(photo_s3_t *s3, const char *key, const void *body, size_t len,
    const char *content_type, photo_s3_result_t *res)
{
    photo_s3_buf_t  answer = { NULL, 0, 0, PHOTO_S3_ERROR_MAX, 0 };

    photo_s3_perform(s3, "PUT", key, body, len, content_type, &answer, res);
    free(answer.data);
}


void
photo_s3_delete(photo_s3_t *s3, const char *key, photo_s3_result_t *res)
{
    photo_s3_buf_t  answer = { NULL, 0, 0, PHOTO_S3_ERROR_MAX, 0 };

    photo_s3_perform(s3, "DELETE", key, NULL, 0, NULL, &answer, res);
    free(answer.data);
}


void
photo_s3_get(photo_s3_t *s3, const char *key, unsigned char **body,
    size_t *len, photo_s3_result_t *res)
{
    photo_s3_buf_t  answer = { NULL, 0, 0, PHOTO_S3_GET_MAX, 0 };

    *body = NULL;
    *len = 0;

    photo_s3_perform(s3, "GET", key, NULL, 0, NULL, &answer, res);

    if (res->rc == PHOTO_S3_OK) {
        *body = answer.data;
        *len = answer.len;
        return;
    }

    free(answer.data);
}


/* one request on the kept handle (its connection reused), sorted */
static void
photo_s3_perform(photo_s3_t *s3, const char *method, const char *key,
    const void *body, size_t len, const char *content_type,
    photo_s3_buf_t *answer, photo_s3_result_t *res)
{
    char                hash[EVP_MAX_MD_SIZE * 2 + 1];
    char                h_sha[sizeof("x-amz-content-sha256: ") + 64];
    char                h_type[128], *type;
    CURL               *e;
    CURLcode            code;
    struct curl_slist  *headers, *l;

    memset(res, 0, sizeof(*res));
    res->rc = PHOTO_S3_RETRY;

    if (photo_s3_key_url(s3, key) != 0) {
        res->rc = PHOTO_S3_REFUSED;
        snprintf(res->reason, sizeof(res->reason), "%s %.64s...: the key "
                 "is too long", method, key);
        return;
    }

    /* the payload's hash, which libcurl signs (photo_s3.h) */
    if (photo_s3_sha256_hex(body, len, hash) != 0) {
        snprintf(res->reason, sizeof(res->reason), "%s %.160s: SHA-256 failed",
                 method, s3->url);
        return;
    }

    snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %.64s", hash);
    headers = curl_slist_append(NULL, h_sha);

    if (headers != NULL && content_type != NULL) {
        snprintf(h_type, sizeof(h_type), "Content-Type: %.100s", content_type);
        l = curl_slist_append(headers, h_type);
        if (l == NULL) {
            curl_slist_free_all(headers);
            headers = NULL;
        }
    }

    if (headers == NULL) {
        snprintf(res->reason, sizeof(res->reason), "%s %.160s: out of memory",
                 method, s3->url);
        return;
    }

    e = s3->curl;
    curl_easy_reset(e);
    s3->error[0] = '\0';

    curl_easy_setopt(e, CURLOPT_URL, s3->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, photo_s3_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s3->error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) PHOTO_S3_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) PHOTO_S3_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");

    if (s3->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, s3->ca_file);
    }

    if (s3->access_key) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->sigv4);
        curl_easy_setopt(e, CURLOPT_USERNAME, s3->access_key);
        curl_easy_setopt(e, CURLOPT_PASSWORD, s3->secret_key);
    }

    if (strcmp(method, "PUT") == 0) {
        /* POSTFIELDS, not an upload callback: the body libcurl hashes */
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, len ? body : "");

    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }

    code = curl_easy_perform(e);

    curl_slist_free_all(headers);

    if (code != CURLE_OK) {
        /* not answered, or cut off: the bucket is away for now */
        snprintf(res->reason, sizeof(res->reason), "%s %.160s: %s%s%.100s%s",
                 method, s3->url, curl_easy_strerror(code),
                 s3->error[0] ? " (" : "", s3->error,
                 s3->error[0] ? ")" : "");
        return;
    }

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);

    if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK
        && type != NULL)
    {
        snprintf(res->type, sizeof(res->type), "%.60s", type);
    }

    photo_s3_sort(s3, method, answer, res);
}


/* S3's answer into the four outcomes (photo_s3.h) */
static void
photo_s3_sort(photo_s3_t *s3, const char *method,
    const photo_s3_buf_t *answer, photo_s3_result_t *res)
{
    long         st;
    char         message[PHOTO_S3_MESSAGE];
    const char  *xml;
    size_t       len;

    st = res->status;

    if (st >= 200 && st < 300) {
        res->rc = PHOTO_S3_OK;
        return;
    }

    /* an error's body is S3's XML, whatever the method */
    xml = (const char *) answer->data;
    len = answer->len;

    photo_s3_error_code(xml, len, res->code, sizeof(res->code));
    photo_s3_element(xml, len, "Message", message, sizeof(message));

    if (st == 404 && strcmp(res->code, "NoSuchBucket") != 0) {
        /* NoSuchKey, or a HEAD's bodiless 404 */
        res->rc = strcmp(method, "DELETE") == 0 ? PHOTO_S3_OK
                                                : PHOTO_S3_NOT_FOUND;

    } else if (st >= 500 || st == 429 || strcmp(res->code, "SlowDown") == 0
               || strcmp(res->code, "RequestTimeout") == 0)
    {
        res->rc = PHOTO_S3_RETRY;

    } else {
        res->rc = PHOTO_S3_REFUSED;
    }

    snprintf(res->reason, sizeof(res->reason), "%s %.160s: %ld %s%s%s%s",
             method, s3->url, st,
             res->code[0] ? res->code : "(no S3 error code)",
             message[0] ? " (" : "", message, message[0] ? ")" : "");
}


void
photo_s3_error_code(const char *xml, size_t len, char *code, size_t size)
{
    photo_s3_element(xml, len, "Code", code, size);
}


/*
 * The text of the first <name> element of an S3 error's XML (<Error>
 * <Code>…</Code><Message>…</Message>…): S3's codes and messages carry
 * no markup, so no XML parser is needed for them.  "" when absent.
 */
static void
photo_s3_element(const char *xml, size_t len, const char *name, char *out,
    size_t size)
{
    char         open[32], close[32];
    size_t       n, i, o;
    const char  *p, *end, *q;

    out[0] = '\0';

    if (xml == NULL || size == 0) {
        return;
    }

    snprintf(open, sizeof(open), "<%s>", name);
    snprintf(close, sizeof(close), "</%s>", name);
    n = strlen(open);
    end = xml + len;

    for (p = xml; p + n <= end; p++) {
        if (memcmp(p, open, n) == 0) {
            break;
        }
    }

    if (p + n > end) {
        return;
    }

    p += n;

    for (q = p; q + n + 1 <= end; q++) {
        if (memcmp(q, close, n + 1) == 0) {
            break;
        }
    }

    if (q + n + 1 > end) {
        return;
    }

    /* printable ASCII only: it goes into a log line */
    for (i = 0, o = 0; p + i < q && o + 1 < size; i++) {
        out[o++] = p[i] >= ' ' && p[i] < 0x7f ? p[i] : '?';
    }

    out[o] = '\0';
}


static int
photo_s3_sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned int   n, i;
    unsigned char  md[EVP_MAX_MD_SIZE];

    static const char  digits[] = "0123456789abcdef";

    if (EVP_Digest(len ? data : "", len, md, &n, EVP_sha256(), NULL) != 1) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }

    hex[2 * n] = '\0';

    return 0;
}


static size_t
photo_s3_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    size_t           n, want;
    unsigned char   *p;
    photo_s3_buf_t  *b;

    b = data;
    n = size * nmemb;

    if (b->len + n > b->max) {
        /* an answer larger than any we take: ends the transfer */
        b->over = 1;
        return 0;
    }

    if (b->len + n + 1 > b->size) {
        want = b->size ? b->size : 16384;

        while (want < b->len + n + 1) {
            want *= 2;
        }

        p = realloc(b->data, want);
        if (p == NULL) {
            return 0;
        }

        b->data = p;
        b->size = want;
    }

    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';

    return n;
}
