/* Apache Solr for workers (see photo_solr.h). */

#include "photo_solr.h"
#include "photo_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>


#define PHOTO_SOLR_CONNECT_MS  2000
#define PHOTO_SOLR_TIMEOUT_MS  10000


static size_t photo_solr_on_data(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static void photo_solr_error(photo_solr_t *s, long status, char *err,
    size_t errlen);


int
photo_solr_init(photo_solr_t *s, const char *core_url)
{
    size_t  len;

    memset(s, 0, sizeof(*s));

    len = strlen(core_url);
    while (len && core_url[len - 1] == '/') {
        len--;
    }

    if (len == 0) {
        photo_log_error("PHOTO_SOLR_URL is not set");
        return -1;
    }

    snprintf(s->update_url, sizeof(s->update_url),
             "%.*s/update?commitWithin=%d", (int) len, core_url,
             PHOTO_SOLR_COMMIT_WITHIN_MS);

    /* before any thread exists: curl_global_init is not thread-safe */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        photo_log_error("libcurl cannot be initialized");
        return -1;
    }

    s->curl = curl_easy_init();
    s->headers = curl_slist_append(NULL,
                                   "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before a large body */
    s->headers = s->headers ? curl_slist_append(s->headers, "Expect:")
                            : NULL;

    if (s->curl == NULL || s->headers == NULL) {
        photo_log_error("libcurl: out of memory");
        photo_solr_free(s);
        return -1;
    }

    /*
     * The same easy handle for every request keeps its connection open
     * (HTTP/1.1 keep-alive): one TCP handshake per worker, not per photo.
     */
    curl_easy_setopt(s->curl, CURLOPT_URL, s->update_url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) PHOTO_SOLR_CONNECT_MS);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS,
                     (long) PHOTO_SOLR_TIMEOUT_MS);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, photo_solr_on_data);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);

    photo_log_info("solr: updates go to %s", s->update_url);

    return 0;
}


void
photo_solr_free(photo_solr_t *s)
{
    if (s->curl) {
        curl_easy_cleanup(s->curl);
        curl_global_cleanup();
    }

    curl_slist_free_all(s->headers);
    free(s->answer);

    memset(s, 0, sizeof(*s));
}


photo_solr_rc_t
photo_solr_update(photo_solr_t *s, const void *body, size_t len, char *err,
    size_t errlen)
{
    long      status;
    CURLcode  rc;

    s->answer_len = 0;

    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) len);

    rc = curl_easy_perform(s->curl);

    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return PHOTO_SOLR_RETRY;
    }

    status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);

    if (status >= 200 && status < 300) {
        return PHOTO_SOLR_OK;
    }

    photo_solr_error(s, status, err, errlen);

    if (status >= 500 || status == 401 || status == 403 || status == 404
        || status == 408 || status == 429 || status < 400)
    {
        return PHOTO_SOLR_RETRY;
    }

    return PHOTO_SOLR_REJECTED;
}


/* the answer, kept up to PHOTO_SOLR_ANSWER_MAX bytes (NUL-terminated) */
static size_t
photo_solr_on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char          *p;
    size_t         n, room;
    photo_solr_t  *s;

    s = userdata;
    n = size * nmemb;

    if (s->answer == NULL) {
        s->answer = malloc(PHOTO_SOLR_ANSWER_MAX + 1);
        if (s->answer == NULL) {
            return 0;                   /* libcurl fails the request */
        }
    }

    p = s->answer + s->answer_len;
    room = PHOTO_SOLR_ANSWER_MAX - s->answer_len;
    room = n < room ? n : room;

    memcpy(p, ptr, room);
    s->answer_len += room;
    s->answer[s->answer_len] = '\0';

    return n;
}


/* "HTTP <status>: <error.msg>" from Solr's JSON error, or the raw start */
static void
photo_solr_error(photo_solr_t *s, long status, char *err, size_t errlen)
{
    yajl_val     root, msg;
    const char  *text;

    static const char  *path[] = { "error", "msg", NULL };

    root = s->answer_len ? yajl_tree_parse(s->answer, NULL, 0) : NULL;
    msg = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;

    if (msg) {
        snprintf(err, errlen, "HTTP %ld: %s", status, YAJL_GET_STRING(msg));

    } else {
        text = s->answer_len ? s->answer : "(no body)";
        snprintf(err, errlen, "HTTP %ld: %.*s", status,
                 (int) strcspn(text, "\r\n"), text);
    }

    yajl_tree_free(root);
}
