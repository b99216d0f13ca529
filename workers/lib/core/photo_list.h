/*
 * The Redis id lists (feed:<user>, user_photos:<user>): sorted sets of
 * zero-padded ids, score 0, trimmed to a cap by rank while keeping the
 * completeness marker, which sorts first (see photo_contract.h).
 *
 * The workers add to a list only while it holds its marker: they look
 * first (ZRANGE key 0 0), then add with native commands to the lists that
 * have it, and with PHOTO_LIST_ADD_SCRIPT to the others, which looks again
 * and adds to the list's pending set when the marker is still not there.
 * So the reader may take a list with a page's worth of members for
 * complete.  The pending set is taken in by the reader's rebuild with what
 * Postgres has: that closes the race "add only if complete" would open
 * otherwise, a rebuild that read Postgres just before our row committed,
 * and stored the marker just after we looked.
 *
 * All calls pipeline their commands and return 0, or -1 when Redis cannot
 * be used now (connection lost, out of memory, loading, a slot moved to
 * another node...), PHOTO_LIST_AWAY when it could not be reached at all
 * (the server, or a key's node): the caller retries, and since adding,
 * ZREM and the trim are idempotent a rerun is harmless.  A reply that is
 * about one key (WRONGTYPE...) is logged and skipped, so one odd key
 * never blocks a fan-out to everybody else.
 *
 * Each key's commands go to the node serving it (photo_redis_key()): with
 * a Redis Cluster, the lists of many owners are pipelined to each node at
 * once, a round trip per batch as with one server (photo_redis_pipe_t).
 */

#ifndef PHOTO_LIST_H
#define PHOTO_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "photo_redis.h"

#define PHOTO_LIST_BATCH  1000      /* owners per pipelined round trip */
#define PHOTO_LIST_AWAY   -2        /* Redis not reached: "unreachable" */

/* photo_fanout_feed_inserts_total, counted by photo_list_fanout() from now
   on (the workers that fan out) */
void photo_list_metrics(void);

/* id into <prefix><owner> for every owner, then trim each to cap (cap > 0);
   counts those that had their marker in photo_fanout_feed_inserts_total */
int photo_list_fanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id, int cap);

/* id out of <prefix><owner> and its pending set for every owner (a
   deleted photo) */
int photo_list_unfanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id);

/* ids[i] into <prefix><owners[i]> for each i, then trim each to cap */
int photo_list_add_each(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t n, int cap);

/* ids into key (one ZADD), then trim to cap */
int photo_list_add(photo_redis_t *rd, const char *key, const int64_t *ids,
    size_t n, int cap);

/* ids out of key (one ZREM) */
int photo_list_remove(photo_redis_t *rd, const char *key, const int64_t *ids,
    size_t n);

#endif /* PHOTO_LIST_H */
