/*
 * A small S3 client: PUT from memory, GET, DELETE of one object, over a
 * kept libcurl handle, each request signed with AWS Signature V4 by
 * libcurl itself (CURLOPT_AWS_SIGV4, "aws:amz:<region>:s3").
 *
 * libcurl 7.88 (Debian 12) signs the payload hash it is given in an
 * x-amz-content-sha256 header, and signs that header too, but does not
 * add the header for S3 (S3 refuses a V4 request without it), and with
 * no header it hashes CURLOPT_POSTFIELDS, never an upload read by a
 * callback.  So the body is always given as POSTFIELDS (PUT as a custom
 * request) and the header always set here: the SHA-256 of the body
 * (OpenSSL), or of nothing.  That is the payload's hash, not a signature:
 * the signing stays libcurl's.
 *
 * Addressing: path style, "<url>/<bucket>/<key>", or virtual-host style,
 * "<scheme>://<bucket>.<host>[:port]/<key>" (libcurl resolves any
 * "*.localhost" to the loopback itself, which a local S3 takes).
 *
 * What became of a request is sorted for the media worker:
 *
 *   PHOTO_S3_OK         2xx; a DELETE of a key that is not there (S3
 *                       answers 204 anyway, a local S3 may say 404);
 *   PHOTO_S3_NOT_FOUND  a GET of a key that is not there;
 *   PHOTO_S3_RETRY      not answered (refused, timed out, reset), 5xx,
 *                       429, or S3's SlowDown / RequestTimeout: try again
 *                       later;
 *   PHOTO_S3_REFUSED    any other 4xx (and 3xx), S3's code in code[]: the
 *                       request will not pass as the worker is set up (a
 *                       wrong key or secret, SignatureDoesNotMatch; no
 *                       such bucket; access denied; the clock 15 minutes
 *                       off, RequestTimeTooSkewed): an operator's error.
 */

#ifndef PHOTO_S3_H
#define PHOTO_S3_H

#include <stddef.h>

#define PHOTO_S3_CONNECT_TIMEOUT_MS  2000
#define PHOTO_S3_TIMEOUT_MS          20000    /* a whole request: 10 MB
                                                 at 0.5 MB/s */
#define PHOTO_S3_GET_MAX             (64 * 1024 * 1024)
#define PHOTO_S3_CODE                64
#define PHOTO_S3_REASON              512

typedef struct photo_s3_s  photo_s3_t;

typedef struct {
    const char  *url;            /* http(s)://host[:port], no path */
    const char  *region;
    const char  *bucket;
    const char  *access_key;     /* "": requests are not signed */
    const char  *secret_key;
    int          virtual_host;   /* the bucket in the host name */
    const char  *ca_file;        /* NULL: the system's */
} photo_s3_conf_t;

typedef enum {
    PHOTO_S3_OK = 0,
    PHOTO_S3_NOT_FOUND,
    PHOTO_S3_RETRY,
    PHOTO_S3_REFUSED
} photo_s3_rc_t;

typedef struct {
    photo_s3_rc_t   rc;
    long            status;                 /* HTTP status, 0 if none */
    char            code[PHOTO_S3_CODE];    /* S3's <Code>, or "" */
    char            type[PHOTO_S3_CODE];    /* the answer's Content-Type */
    char            reason[PHOTO_S3_REASON];  /* for the log */
} photo_s3_result_t;


/* NULL (logged) when the URL is not http(s)://host[:port] or no memory */
photo_s3_t *photo_s3_create(const photo_s3_conf_t *conf);
void photo_s3_free(photo_s3_t *s3);

/* the object's URL, for the log: "<prefix><key>" (static buffer) */
const char *photo_s3_url(photo_s3_t *s3, const char *key);

void photo_s3_put(photo_s3_t *s3, const char *key, const void *body,
    size_t len, const char *content_type, photo_s3_result_t *res);

void photo_s3_delete(photo_s3_t *s3, const char *key,
    photo_s3_result_t *res);

/* the object into *body (malloc, *len bytes) when res->rc is OK */
void photo_s3_get(photo_s3_t *s3, const char *key, unsigned char **body,
    size_t *len, photo_s3_result_t *res);

/* S3's error code in an XML answer: the text of its <Code> element */
void photo_s3_error_code(const char *xml, size_t len, char *code,
    size_t size);

#endif /* PHOTO_S3_H */
