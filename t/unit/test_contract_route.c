
/*
 * Unit tests of the routing both sides compute (contract/photo_route.h):
 * the gearmand a job's unique key picks is the CRC-32 of the key modulo
 * the servers, as t/scripts/e2e_gearmand_failover.py computes it too, and
 * the ids of a run of posts spread over the servers.
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

    return t_done();
}
