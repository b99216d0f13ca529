/*
 * The Solr stand-in (t/solr/solr_standin.py) for the index test and bench:
 * started as a child process on a free port, asked over HTTP (libcurl) what
 * it holds, and told to fail.  Harness failures end the test (status 2).
 */

#ifndef SOLR_CLIENT_H
#define SOLR_CLIENT_H

#include <sys/types.h>

#include "photo_harness.h"

typedef struct {
    pid_t   pid;
    int     port;
    char    base[64];              /* http://127.0.0.1:<port> */
    char    core_url[128];         /* base/solr/photos: PHOTO_SOLR_URL */
    char    env[160];              /* "PHOTO_SOLR_URL=…" for h_worker */
} s_solr_t;

void s_solr_start(h_t *h, s_solr_t *s);
void s_solr_stop(s_solr_t *s);
/* Solr away, then back on the same port (empty: it keeps nothing) */
void s_solr_kill(s_solr_t *s);
void s_solr_restart(h_t *h, s_solr_t *s);

/* POST /_control {"fail_next":n,"status":status[,"msg":msg]} */
void s_solr_fail(s_solr_t *s, int n, int status, const char *msg);
/* POST /_control with this JSON ({"refuse":…}, {"max_ops":0}...) */
void s_solr_control(s_solr_t *s, const char *json);
/* a number from GET /_control ("updates", "failed", "docs", "max_ops") */
long s_solr_stat(s_solr_t *s, const char *field);

/*
 * Ids within km of lat,lng, nearest first, as "id,id,…" (static buffer),
 * or NULL when the select failed.
 */
const char *s_solr_near(s_solr_t *s, double lat, double lng, double km);
/* the select answer for q=id:<id> (malloc), to look into */
char *s_solr_doc(s_solr_t *s, const char *id);

#endif /* SOLR_CLIENT_H */
