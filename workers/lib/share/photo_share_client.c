/* What the share clients share (see photo_share_client.h). */

#include "photo_share_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


CURLcode
photo_share_post(CURL *e, const char *url, const char *ca_file,
    struct curl_slist *headers, const char *body, size_t len,
    photo_push_buf_t *answer, long *status)
{
    CURLcode  code;

    *status = 0;

    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, photo_push_buf_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) PHOTO_SHARE_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) PHOTO_SHARE_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);

    if (ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    }

    code = curl_easy_perform(e);

    if (code == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }

    return code;
}


long
photo_share_retry_after(CURL *e)
{
    curl_off_t  ra;

    ra = 0;

    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK
        || ra < 0)
    {
        return 0;
    }

    return (long) ra;
}


long long
photo_share_header_number(CURL *e, const char *name)
{
    char               *end;
    long long           n;
    struct curl_header *h;

    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return -1;
    }

    n = strtoll(h->value, &end, 10);

    return end == h->value || n < 0 ? -1 : n;
}


char *
photo_share_url(const char *base, const char *path)
{
    char    *url;
    size_t   len;

    len = strlen(base);
    while (len && base[len - 1] == '/') {
        len--;
    }

    url = malloc(len + strlen(path) + 1);
    if (url != NULL) {
        memcpy(url, base, len);
        strcpy(url + len, path);
    }

    return url;
}
