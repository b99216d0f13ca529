/*
 * The contract between the nginx module (read path, job submission) and the
 * workers (write path): backend key names and types, the cached photo
 * format, job names and payload fields.  Both sides include this header and
 * nothing else re-types these strings.  README.md, "The contract", says the
 * same in prose; change both together.
 *
 * Plain C, no nginx or libc types beyond <stdint.h>, so that the module, the
 * workers and their tests can all include it.
 */

#ifndef PHOTO_CONTRACT_H
#define PHOTO_CONTRACT_H

#include <stdint.h>


/*
 * Ids.  Users and photos have 64-bit ids (photos: Instagram-style, 41 bits
 * of milliseconds since PHOTO_ID_EPOCH_MS, 13 bits of shard, 10 bits of
 * sequence).  In JSON they are strings, since JavaScript numbers lose them.
 */
#define PHOTO_ID_EPOCH_MS        1767225600000ULL  /* 2026-01-01T00:00:00Z */
#define PHOTO_ID_SHARD_BITS      13
#define PHOTO_ID_SEQ_BITS        10
#define PHOTO_ID_MAX_DIGITS      19                /* INT64_MAX in decimal */


/*
 * Redis.
 *
 * Feeds and a user's own photos are sorted sets whose members are photo ids
 * written as PHOTO_ID_MAX_DIGITS zero-padded decimal digits, all with score
 * 0, so that lexical order is id order (= time order): scores are doubles
 * and would round 64-bit ids.  Adding an id twice is a no-op (idempotent
 * fan-out), concurrent inserts land in id order, and "max_id" paging is one
 * ZREVRANGEBYLEX.  Lists are trimmed to a cap by rank.
 */
#define PHOTO_REDIS_FEED         "feed:"           /* + user id: ZSET */
#define PHOTO_REDIS_USER_PHOTOS  "user_photos:"    /* + user id: ZSET */
#define PHOTO_REDIS_SESSION      "session:"        /* + token: STRING user id,
                                                      with an expiry */
#define PHOTO_REDIS_DEAD_LETTER  "dead_letter:"    /* + job name: LIST of
                                                      {"reason","payload"} */
#define PHOTO_FEED_CAP_DEFAULT   800


/*
 * memcached.  One ketama pool (libmemcached's consistent hashing, default
 * hash) over the same server list, in the same order, on both sides.
 * The value of "photo:<id>" is the photo's JSON object exactly as the API
 * returns it, written by yajl (so it is valid, escaped UTF-8 JSON), and is
 * copied into responses as it is.
 */
#define PHOTO_MC_PHOTO           "photo:"          /* + photo id */
#define PHOTO_MC_MAX_VALUE       16384


/*
 * Gearman jobs: name and JSON payload fields.  Every background job carries
 * PHOTO_JOB_F_UNIQUE, which is also its gearman unique key, so a retried
 * submission is one job and a replayed job is applied once.
 */
#define PHOTO_JOB_PERSIST        "photo_persist"   /* a new photo */
#define PHOTO_JOB_FANOUT         "photo_fanout"    /* ids into followers' feeds */
#define PHOTO_JOB_FOLLOW         "photo_follow"    /* follow / unfollow */
#define PHOTO_JOB_DEVICE         "photo_device"    /* register a device token */

#define PHOTO_JOB_F_UNIQUE       "unique"


#endif /* PHOTO_CONTRACT_H */
