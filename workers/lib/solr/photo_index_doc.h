/*
 * A photo as Solr indexes it (conf/solr/managed-schema.xml): made from a
 * photo_index job's payload, or from a row of photos (photo_reindex), and
 * written as one of Solr's JSON update commands.
 */

#ifndef PHOTO_INDEX_DOC_H
#define PHOTO_INDEX_DOC_H

#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "photo_id.h"
#include "photo_job.h"

typedef struct {
    int           del;                /* a delete by id */
    char          id[PHOTO_ID_BUF];
    char          user_id[PHOTO_ID_BUF];
    const char   *caption;
    char          created[32];        /* a Solr date */
    char          location[64];       /* "lat,lng" */
} photo_index_doc_t;

/* from a photo_index payload, checked as Solr would: 0, or -1 (reason) */
int photo_index_doc_parse(photo_job_t *job, photo_index_doc_t *d);

/* an add from its fields: 0, or -1 when created_at is not a date */
int photo_index_doc_set(photo_index_doc_t *d, int64_t id, int64_t user_id,
    const char *caption, double lat, double lng, int64_t created_at);

/* "add":{"doc":{…}} or "delete":{"id":…}, into an open command object */
yajl_gen_status photo_index_doc_gen(yajl_gen g, const photo_index_doc_t *d);

#endif /* PHOTO_INDEX_DOC_H */
