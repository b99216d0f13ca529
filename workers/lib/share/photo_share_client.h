/*
 * What the share clients (photo_twitter, photo_facebook) share: what
 * became of a post, and one POST through a kept libcurl handle.  A client
 * sorts the service's answer into the four outcomes the share worker acts
 * on; the worker decides what to do (record it, skip the service, try the
 * job again).
 */

#ifndef PHOTO_SHARE_CLIENT_H
#define PHOTO_SHARE_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

#include "photo_push.h"

#define PHOTO_SHARE_TIMEOUT_MS          5000  /* a whole request */
#define PHOTO_SHARE_CONNECT_TIMEOUT_MS  2000
#define PHOTO_SHARE_REMOTE_ID           128
#define PHOTO_SHARE_REASON              160

typedef enum {
    PHOTO_SHARE_POSTED = 0,     /* taken: remote_id is the post's */
    PHOTO_SHARE_RETRY,          /* rate limited, 5xx, network trouble */
    PHOTO_SHARE_REVOKED,        /* the user's token expired or was revoked:
                                   this service is left out, not retried */
    PHOTO_SHARE_REJECTED        /* refused for another reason: not retried */
} photo_share_rc_t;

typedef struct {
    photo_share_rc_t  rc;
    long              status;         /* HTTP status, 0 if none */
    long              retry_after;    /* seconds the service asked, or 0 */
    char              remote_id[PHOTO_SHARE_REMOTE_ID];
    char              reason[PHOTO_SHARE_REASON];
} photo_share_result_t;

/*
 * POST body (content_type) to url on e (reset first: its connection is
 * kept), HTTP/2 when TLS offers it, bounded by PHOTO_SHARE_TIMEOUT_MS;
 * ca_file: NULL for the system's.  The answer's body in *answer (free
 * answer->data), its status in *status; CURLE_OK or why it failed.
 */
CURLcode photo_share_post(CURL *e, const char *url, const char *ca_file,
    struct curl_slist *headers, const char *body, size_t len,
    photo_push_buf_t *answer, long *status);

/* the seconds a Retry-After header of e's last answer asked for, or 0 */
long photo_share_retry_after(CURL *e);

/* a header of e's last answer, as a number (-1 when absent) */
long long photo_share_header_number(CURL *e, const char *name);

/* "<base without trailing slashes><path>", malloc'd; NULL out of memory */
char *photo_share_url(const char *base, const char *path);

#endif /* PHOTO_SHARE_CLIENT_H */
