/*
 * Where a thing goes when a tier has several servers, as the module and
 * the workers both compute it.
 */

#ifndef PHOTO_ROUTE_H
#define PHOTO_ROUTE_H

#include <stddef.h>


/*
 * The gearmand, of n listed (photo_gearman's order in nginx.conf,
 * PHOTO_GEARMAN_SERVERS' for the workers), that takes a job first: the
 * CRC-32 of its unique key modulo n.  A retry of the same write then goes
 * where the first attempt went, and gearmand's merging of jobs with one
 * unique key still works; when that server is down the next ones in the
 * list are tried in turn.  n must not be 0.
 */
unsigned photo_route_gearman(const unsigned char *unique, size_t len,
    unsigned n);

/*
 * A key's Redis Cluster hash slot, as Redis defines it (its cluster
 * specification, "Keys distribution model"): CRC16 (XMODEM) of the key
 * modulo 16384, or of its hash tag only, the bytes between the first '{'
 * and the next '}' when there are some.  Keys with one tag are one slot,
 * so one node: what one command, script or pipeline touches together is
 * tagged alike (photo_keys.h).
 */
#define PHOTO_REDIS_SLOTS  16384

unsigned photo_route_redis_slot(const char *key, size_t len);


#endif /* PHOTO_ROUTE_H */
