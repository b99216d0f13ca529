
/*
 * Unit tests of the routing both sides compute (contract/photo_route.h):
 * the gearmand a job's unique key picks is the CRC-32 of the key modulo
 * the servers, as t/scripts/e2e_gearmand_failover.py computes it too, and
 * the ids of a run of posts spread over the servers; a key's Redis Cluster
 * slot as Redis computes it (CLUSTER KEYSLOT; e2e_cluster asks a real
 * cluster for a sample of the project's keys).
 */

#include "photo_route.h"
#include "t_tap.h"

#include <stdio.h>
#include <string.h>


static unsigned
t_route(const char *unique, unsigned n)
{
    return photo_route_gearman((const unsigned char *) unique,
                               strlen(unique), n);
}


int
main(void)
{
    int       ok;
    char      id[32];
    unsigned  i, count[3];

    /* the CRC-32 check value: crc32("123456789") = 0xcbf43926 */
    t_ok(t_route("123456789", 1) == 0
         && t_route("123456789", 2) == 0xcbf43926u % 2
         && t_route("123456789", 3) == 0xcbf43926u % 3
         && t_route("123456789", 7) == 0xcbf43926u % 7,
         "the CRC-32 of the key, modulo the servers");

    t_ok(t_route("", 2) == 0, "an empty key: CRC-32 0, the first server");

    ok = 1;

    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "%llu", 7000000000ull + i);
        ok = ok && t_route(id, 2) == t_route(id, 2);
    }

    t_ok(ok, "the same key, the same server");

    /* ids of consecutive posts (a shard's sequence) spread evenly */
    memset(count, 0, sizeof(count));

    for (i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "%llu",
                 (unsigned long long) (245869176601221122ull + i));
        count[t_route(id, 3)]++;
    }

    t_ok(count[0] > 850 && count[1] > 850 && count[2] > 850,
         "3000 consecutive ids spread over 3 servers, each over 850");

    /* Redis's own: CRC16/XMODEM check value 0x31c3; CLUSTER KEYSLOT of
       "foo" is 12182, of "bar" 5061 */
    t_ok(photo_route_redis_slot("123456789", 9) == 0x31c3 % 16384
         && photo_route_redis_slot("foo", 3) == 12182
         && photo_route_redis_slot("bar", 3) == 5061,
         "the slot: CRC16 (XMODEM) of the key modulo 16384");

    t_ok(photo_route_redis_slot("feed:{42}", 9)
         == photo_route_redis_slot("42", 2)
         && photo_route_redis_slot("session:{42}-abc", 16)
            == photo_route_redis_slot("feed:{42}", 9)
         && photo_route_redis_slot("{user1000}.following", 20)
            == photo_route_redis_slot("{user1000}.followers", 20),
         "a key with a hash tag: the tag's slot, shared by keys with it");

    t_ok(photo_route_redis_slot("foo{}{bar}", 10)
         == photo_route_redis_slot("foo{}{bar}", 10)
         && photo_route_redis_slot("foo{}{bar}", 10)
            != photo_route_redis_slot("bar", 3)
         && photo_route_redis_slot("foo{{bar}}zap", 13)
            == photo_route_redis_slot("{bar", 4)
         && photo_route_redis_slot("foo{bar}{zap}", 13)
            == photo_route_redis_slot("bar", 3)
         && photo_route_redis_slot("a{b", 3) != photo_route_redis_slot("b", 1),
         "the specification's cases: '{}' and an unclosed '{' hash the "
         "whole key, the first tag counts");

    return t_done();
}
