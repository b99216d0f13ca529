/*
 * What the push clients (photo_apns, photo_fcm) share: the message, and
 * what became of it for each device token.  A client sends one message to
 * many tokens at once and fills one result per token; the notify worker
 * decides what to do with each (remember it, delete the token, try again).
 */

#ifndef PHOTO_PUSH_H
#define PHOTO_PUSH_H

#include <yajl/yajl_gen.h>
#include <stddef.h>

typedef struct {
    const char  *title;
    const char  *body;
} photo_push_msg_t;

typedef enum {
    PHOTO_PUSH_SENT = 0,        /* the service took it (200) */
    PHOTO_PUSH_DEAD_TOKEN,      /* the app is gone: forget the token */
    PHOTO_PUSH_RETRY,           /* throttled, service or network trouble */
    PHOTO_PUSH_REJECTED         /* refused for another reason: not retried */
} photo_push_rc_t;

#define PHOTO_PUSH_REASON  128

typedef struct {
    const char       *token;            /* in */
    photo_push_rc_t   rc;               /* out */
    long              status;           /* HTTP status, 0 if none */
    long              retry_after;      /* seconds, from Retry-After, or 0 */
    char              reason[PHOTO_PUSH_REASON];
} photo_push_result_t;


/* what both clients need from libcurl: a response body kept in memory */

#ifndef PHOTO_PUSH_BUF_MAX
#define PHOTO_PUSH_BUF_MAX  65536       /* an error answer is far smaller */
#endif

typedef struct {
    char    *data;                  /* NUL-terminated, malloc */
    size_t   len;
} photo_push_buf_t;

/* CURLOPT_WRITEFUNCTION with a photo_push_buf_t as CURLOPT_WRITEDATA */
size_t photo_push_buf_write(char *ptr, size_t size, size_t nmemb,
    void *data);

/* the string at path in the JSON body ("" if none), copied into out */
void photo_push_json_string(const photo_push_buf_t *b, const char **path,
    char *out, size_t size);

/* "title":…,"body":… of a notification, into an open map */
void photo_push_gen_alert(yajl_gen g, const photo_push_msg_t *msg);

/* the generator's JSON, malloc'd (NULL on failure); frees the generator */
unsigned char *photo_push_gen_take(yajl_gen g, size_t *len);

#endif /* PHOTO_PUSH_H */
