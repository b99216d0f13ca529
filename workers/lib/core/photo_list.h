/*
 * The Redis id lists (feed:<user>, user_photos:<user>): sorted sets of
 * zero-padded ids, score 0, trimmed to a cap by rank while keeping the
 * completeness marker, which sorts first (see photo_contract.h).
 *
 * The workers add to a list whether or not it is complete.  The reader
 * only trusts a list holding the marker, and rebuilds one that does not by
 * ZADDing what Postgres has (it merges, never deletes).  So an id added to
 * an incomplete list is harmless, and adding it always closes a race that
 * "add only if complete" would open: a rebuild that read Postgres just
 * before our row committed, and stored the marker just after we looked.
 *
 * All calls pipeline their commands and return 0, or -1 when Redis cannot
 * be used now (connection lost, out of memory, loading...): the caller
 * retries, and since ZADD/ZREM/trim are idempotent a rerun is harmless.
 * A reply that is about one key (WRONGTYPE...) is logged and skipped, so
 * one odd key never blocks a fan-out to everybody else.
 */

#ifndef PHOTO_LIST_H
#define PHOTO_LIST_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define PHOTO_LIST_BATCH  1000      /* owners per pipelined round trip */

/* id into <prefix><owner> for every owner, then trim each to cap */
int photo_list_fanout(redisContext *c, const char *prefix,
    const int64_t *owners, size_t n, int64_t id, int cap);

/* id out of <prefix><owner> for every owner (a deleted photo) */
int photo_list_unfanout(redisContext *c, const char *prefix,
    const int64_t *owners, size_t n, int64_t id);

/* ids[i] into <prefix><owners[i]> for each i, then trim each to cap */
int photo_list_add_each(redisContext *c, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t n, int cap);

/* ids into key (one ZADD), then trim to cap */
int photo_list_add(redisContext *c, const char *key, const int64_t *ids,
    size_t n, int cap);

/* ids out of key (one ZREM) */
int photo_list_remove(redisContext *c, const char *key, const int64_t *ids,
    size_t n);

#endif /* PHOTO_LIST_H */
