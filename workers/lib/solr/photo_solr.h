/*
 * Apache Solr for workers: JSON update requests to one core over libcurl,
 * on one kept-alive connection (a worker does one job at a time), and the
 * answer sorted into what a job cares about:
 *
 *   PHOTO_SOLR_OK        2xx: Solr took the update;
 *   PHOTO_SOLR_RETRY     Solr is unreachable, times out, answers 5xx, or
 *                        401/403/404/408/429: the core is away, overloaded
 *                        or misconfigured, which is fixed on the Solr side
 *                        while the job waits (dead-lettering every document
 *                        of a mistyped PHOTO_SOLR_URL would lose the index);
 *   PHOTO_SOLR_REJECTED  any other 4xx (400 above all): Solr refused the
 *                        document itself, and always will.
 *
 * err gets Solr's own words (error.msg of its JSON answer) or libcurl's.
 */

#ifndef PHOTO_SOLR_H
#define PHOTO_SOLR_H

#include <curl/curl.h>
#include <stddef.h>

#include "photo_config.h"

#define PHOTO_SOLR_COMMIT_WITHIN_MS  1000   /* searchable within a second */
#define PHOTO_SOLR_ANSWER_MAX        65536  /* bytes of an answer kept */

typedef enum {
    PHOTO_SOLR_OK = 0,
    PHOTO_SOLR_RETRY,
    PHOTO_SOLR_REJECTED
} photo_solr_rc_t;

typedef struct {
    CURL                *curl;
    struct curl_slist   *headers;
    char                 update_url[PHOTO_CONFIG_STR + 64];
    char                *answer;
    size_t               answer_len;
} photo_solr_t;

/* core_url: PHOTO_SOLR_URL (http://host:8983/solr/<core>). 0, or -1. */
int photo_solr_init(photo_solr_t *s, const char *core_url);
void photo_solr_free(photo_solr_t *s);

/* POST body (JSON) to <core>/update?commitWithin=… */
photo_solr_rc_t photo_solr_update(photo_solr_t *s, const void *body,
    size_t len, char *err, size_t errlen);

#endif /* PHOTO_SOLR_H */
