
/*
 * Unit tests of the photo id generator (TAP-style output, exit 1 on any
 * failure).  The clock is the test's: every call says what time it is.
 */

#include "ngx_photo_id.h"
#include "t_tap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define T_EPOCH   PHOTO_ID_EPOCH_MS
#define T_NOW     (T_EPOCH + 330ULL * 86400 * 1000)   /* late 2026 */
#define T_IDS     100000


/* The id of (ms, shard, seq) by the layout itself, not by the generator. */

static int64_t
t_make(uint64_t ms, uint32_t shard, uint32_t seq)
{
    return (int64_t) ((ms - T_EPOCH) << 23 | (uint64_t) shard << 10 | seq);
}


/* Decodes id and checks it is (ms, shard, seq). */

static int
t_is(int64_t id, uint64_t ms, uint32_t shard, uint32_t seq)
{
    uint32_t  d_shard, d_seq;
    uint64_t  d_ms;

    if (ngx_photo_id_decode(id, &d_ms, &d_shard, &d_seq) != 0) {
        printf("# %" PRId64 " does not decode\n", id);
        return 0;
    }

    if (d_ms != ms || d_shard != shard || d_seq != seq) {
        printf("# %" PRId64 " is %" PRIu64 "/%u/%u, expected %" PRIu64
               "/%u/%u\n", id, d_ms, d_shard, d_seq, ms, shard, seq);
        return 0;
    }

    return id == t_make(ms, shard, seq);
}


static int
t_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}


static void
t_init(void)
{
    ngx_photo_id_gen_t  g;

    t_ok(ngx_photo_id_init(&g, 0, 0) == 0
         && ngx_photo_id_init(&g, NGX_PHOTO_ID_SHARD_MAX, 1000) == 0
         && g.shard == 8191 && g.max_ahead_ms == 1000 && g.last_ms == 0,
         "shards 0 and 8191 are taken");

    t_ok(ngx_photo_id_init(&g, NGX_PHOTO_ID_SHARD_MAX + 1, 0) == -1,
         "shard 8192 is refused");
}


static void
t_epoch(void)
{
    int                 ok;
    int64_t             id, prev;
    uint32_t            i;
    uint64_t            last;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 0, 1000);

    t_ok(ngx_photo_id_next(&g, 0, &id) == -1
         && ngx_photo_id_next(&g, T_EPOCH - 1, &id) == -1
         && g.last_ms == 0,
         "a clock before the epoch is refused");

    t_ok(ngx_photo_id_next(&g, T_EPOCH, &id) == -1 && g.last_ms == 0,
         "the epoch's own millisecond is refused (it could give id 0)");

    t_ok(ngx_photo_id_next(&g, T_EPOCH + 1, &id) == 0
         && id == 1 << 23 && t_is(id, T_EPOCH + 1, 0, 0),
         "the first millisecond after the epoch: id 2^23");

    /* the last millisecond of positive ids, in the largest shard */

    last = T_EPOCH + NGX_PHOTO_ID_MS_LIMIT - 1;
    ngx_photo_id_init(&g, NGX_PHOTO_ID_SHARD_MAX, 1000);

    ok = 1;
    prev = 0;

    for (i = 0; i <= NGX_PHOTO_ID_SEQ_MAX; i++) {
        if (ngx_photo_id_next(&g, last, &id) != 0 || id <= prev
            || !t_is(id, last, NGX_PHOTO_ID_SHARD_MAX, i))
        {
            ok = 0;
            break;
        }

        prev = id;
    }

    t_ok(ok && prev == INT64_MAX,
         "the last millisecond gives ids up to INT64_MAX");

    t_ok(ngx_photo_id_next(&g, last, &id) == -1
         && g.last_ms == last && g.seq == NGX_PHOTO_ID_SEQ_MAX,
         "no borrowing past the last millisecond");

    ngx_photo_id_init(&g, 0, 1000);

    t_ok(ngx_photo_id_next(&g, last + 1, &id) == -1
         && ngx_photo_id_next(&g, UINT64_MAX, &id) == -1,
         "a clock past the positive ids is refused");
}


static void
t_monotonic(void)
{
    int                 ok, r;
    int64_t             id, prev;
    uint32_t            shard, seq;
    uint64_t            now, ms;
    unsigned long       i, refused, ahead;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 77, 50);
    srand(7);

    ok = 1;
    prev = 0;
    refused = 0;
    ahead = 0;
    now = T_NOW;

    /*
     * Bursts of about 200 ids a millisecond, and more (so the sequence
     * overflows and ids are borrowed), with now and then a step back of
     * the clock.
     */

    for (i = 0; i < 2000000; i++) {
        r = rand() % 4096;

        if (r < 8) {
            now += 1 + rand() % 4;

        } else if (r == 8 && rand() % 4 == 0) {
            now -= rand() % 100;
        }

        if (ngx_photo_id_next(&g, now, &id) != 0) {
            refused++;
            continue;
        }

        if (id <= prev
            || ngx_photo_id_decode(id, &ms, &shard, &seq) != 0
            || shard != 77 || ms < now || ms - now > 50)
        {
            printf("# id %" PRId64 " after %" PRId64 " at %" PRIu64 "\n",
                   id, prev, now);
            ok = 0;
            break;
        }

        ahead += (ms > now);
        prev = id;
    }

    printf("# %lu ids, %lu of them borrowed, %lu refused\n",
           i - refused, ahead, refused);

    t_ok(ok && ahead > 0 && refused > 0,
         "2M ids with a jittery clock: strictly increasing, never more "
         "than max_ahead_ms ahead");
}


static void
t_overflow(void)
{
    int                 ok;
    int64_t             id, prev;
    uint32_t            i;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 5, 1000);

    ok = 1;
    prev = 0;

    for (i = 0; i < 1024; i++) {
        if (ngx_photo_id_next(&g, T_NOW, &id) != 0 || id <= prev
            || !t_is(id, T_NOW, 5, i))
        {
            ok = 0;
            break;
        }

        prev = id;
    }

    t_ok(ok, "1024 ids in one millisecond: sequence 0..1023");

    t_ok(ngx_photo_id_next(&g, T_NOW, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 5, 0),
         "the 1025th borrows the next millisecond");

    t_ok(ngx_photo_id_next(&g, T_NOW + 1, &id) == 0
         && t_is(id, T_NOW + 1, 5, 1),
         "when the clock reaches it, the sequence goes on");

    t_ok(ngx_photo_id_next(&g, T_NOW + 2, &id) == 0
         && t_is(id, T_NOW + 2, 5, 0),
         "a new millisecond starts at sequence 0");

    /* max_ahead_ms 0: never borrow, refuse until the clock moves on */

    ngx_photo_id_init(&g, 5, 0);

    for (i = 0; i < 1024; i++) {
        (void) ngx_photo_id_next(&g, T_NOW, &id);
    }

    prev = id;

    t_ok(ngx_photo_id_next(&g, T_NOW, &id) == -1
         && g.last_ms == T_NOW && g.seq == 1023,
         "max_ahead_ms 0: the 1025th is refused");

    t_ok(ngx_photo_id_next(&g, T_NOW + 1, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 5, 0),
         "max_ahead_ms 0: ids again in the next millisecond");

    /* borrowing runs out at max_ahead_ms */

    ngx_photo_id_init(&g, 5, 3);

    for (i = 0; i < 4 * 1024; i++) {
        if (ngx_photo_id_next(&g, T_NOW, &id) != 0) {
            break;
        }
    }

    t_ok(i == 4 * 1024 && t_is(id, T_NOW + 3, 5, 1023)
         && ngx_photo_id_next(&g, T_NOW, &id) == -1,
         "max_ahead_ms 3: 4 milliseconds' worth of ids, then refused");
}


static void
t_clock_back(void)
{
    int                 ok;
    int64_t             id, prev;
    uint32_t            i;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 9, 1000);

    ok = ngx_photo_id_next(&g, T_NOW, &prev) == 0;

    /* the clock steps back 500 ms: ids go on from the last millisecond */

    for (i = 1; ok && i < 1024; i++) {
        ok = ngx_photo_id_next(&g, T_NOW - 500, &id) == 0 && id > prev
             && t_is(id, T_NOW, 9, i);
        prev = id;
    }

    t_ok(ok, "clock 500 ms back: the last millisecond's next sequences");

    t_ok(ngx_photo_id_next(&g, T_NOW - 500, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 9, 0),
         "clock back, sequence used up: borrows the next millisecond");

    prev = id;

    t_ok(ngx_photo_id_next(&g, T_NOW - 200, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 9, 1),
         "the clock moving forward, still behind: no repeat");

    prev = id;

    t_ok(ngx_photo_id_next(&g, T_NOW + 2, &id) == 0 && id > prev
         && t_is(id, T_NOW + 2, 9, 0),
         "the clock caught up: its own millisecond again");
}


static void
t_far_behind(void)
{
    int64_t             id, prev;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 9, 1000);

    (void) ngx_photo_id_next(&g, T_NOW, &prev);

    t_ok(ngx_photo_id_next(&g, T_NOW - 1001, &id) == -1
         && ngx_photo_id_next(&g, T_NOW - 86400000, &id) == -1
         && g.last_ms == T_NOW && g.seq == 0,
         "clock more than max_ahead_ms behind: refused, state kept");

    t_ok(ngx_photo_id_next(&g, T_NOW - 1000, &id) == 0 && id > prev
         && t_is(id, T_NOW, 9, 1),
         "clock back within max_ahead_ms: ids again, after the last one");

    prev = id;

    t_ok(ngx_photo_id_next(&g, T_NOW + 1, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 9, 0),
         "then the clock's own milliseconds");
}


/*
 * Two generators (and a third in the largest shard) fed the same clock:
 * every id distinct, each in its own shard.
 */

static void
t_shards(void)
{
    int                 ok;
    int64_t            *ids;
    uint32_t            shard, seq;
    uint32_t            shards[3] = { 1, 2, NGX_PHOTO_ID_SHARD_MAX };
    uint64_t            now, ms;
    size_t              i, k, n;
    ngx_photo_id_gen_t  g[3];

    ids = malloc(3 * T_IDS * sizeof(int64_t));
    if (ids == NULL) {
        perror("malloc");
        exit(2);
    }

    for (k = 0; k < 3; k++) {
        ngx_photo_id_init(&g[k], shards[k], 1000000);
    }

    ok = 1;
    n = 0;
    now = T_NOW;

    for (i = 0; i < T_IDS; i++) {

        /* bursts of 3000 in a millisecond: borrows, then catches up */
        if (i % 3000 == 0) {
            now += 1;
        }

        for (k = 0; k < 3; k++) {
            if (ngx_photo_id_next(&g[k], now, &ids[n]) != 0
                || ids[n] <= 0
                || ngx_photo_id_decode(ids[n], &ms, &shard, &seq) != 0
                || shard != shards[k])
            {
                ok = 0;
            }

            n++;
        }
    }

    t_ok(ok, "3 x 100k ids from one clock: each in its generator's shard");

    qsort(ids, n, sizeof(int64_t), t_cmp);

    for (i = 1; i < n; i++) {
        if (ids[i] == ids[i - 1]) {
            printf("# %" PRId64 " twice\n", ids[i]);
            ok = 0;
            break;
        }
    }

    t_ok(ok, "3 x 100k ids from one clock: no two the same");

    free(ids);
}


static void
t_decode(void)
{
    uint32_t  shard, seq;
    uint64_t  ms;

    t_ok(t_is(t_make(T_NOW, 0, 0), T_NOW, 0, 0)
         && t_is(t_make(T_NOW, 8191, 1023), T_NOW, 8191, 1023)
         && t_is(t_make(T_NOW, 4096, 512), T_NOW, 4096, 512)
         && t_is(t_make(T_EPOCH + 1, 1, 1), T_EPOCH + 1, 1, 1),
         "decoding round-trips");

    t_ok(ngx_photo_id_decode(0, &ms, &shard, &seq) == -1
         && ngx_photo_id_decode(-1, &ms, &shard, &seq) == -1
         && ngx_photo_id_decode(INT64_MIN, &ms, &shard, &seq) == -1,
         "0 and negative ids do not decode");

    t_ok(ngx_photo_id_decode(t_make(T_NOW, 8191, 1023) + 1, &ms, &shard,
                             &seq) == 0
         && ms == T_NOW + 1 && shard == 0 && seq == 0,
         "layout: 10 bits of sequence under 13 of shard under the "
         "milliseconds");
}


/*
 * A generator moved to another shard (its lease of the last one is over):
 * the ids carry the new shard and keep growing, even within the
 * millisecond of the move and to a lower shard.
 */

static void
t_set_shard(void)
{
    int                 ok;
    int64_t             id, prev;
    uint32_t            i;
    ngx_photo_id_gen_t  g;

    ngx_photo_id_init(&g, 40, 1000);
    (void) ngx_photo_id_next(&g, T_NOW, &prev);

    t_ok(ngx_photo_id_set_shard(&g, NGX_PHOTO_ID_SHARD_MAX + 1) == -1
         && g.shard == 40 && g.seq == 0
         && ngx_photo_id_next(&g, T_NOW, &id) == 0 && t_is(id, T_NOW, 40, 1),
         "shard 8192 is refused, the generator left as it was");

    prev = id;

    t_ok(ngx_photo_id_set_shard(&g, 7) == 0
         && ngx_photo_id_next(&g, T_NOW, &id) == 0 && id > prev
         && t_is(id, T_NOW + 1, 7, 0),
         "moved to a lower shard within a millisecond: the next id is in "
         "the next millisecond, still the greatest");

    ok = 1;
    prev = id;

    for (i = 1; ok && i < 5; i++) {
        ok = ngx_photo_id_next(&g, T_NOW + 1 + i, &id) == 0 && id > prev
             && t_is(id, T_NOW + 1 + i, 7, 0);
        prev = id;
    }

    t_ok(ok, "then ids of the new shard, on the clock");

    ngx_photo_id_init(&g, 7, 0);
    (void) ngx_photo_id_next(&g, T_NOW, &prev);
    (void) ngx_photo_id_set_shard(&g, 8);

    t_ok(ngx_photo_id_next(&g, T_NOW, &id) == -1
         && ngx_photo_id_next(&g, T_NOW + 1, &id) == 0
         && t_is(id, T_NOW + 1, 8, 0),
         "max_ahead_ms 0: after a move, the next millisecond waits for the "
         "clock");
}


int
main(void)
{
    t_init();
    t_epoch();
    t_monotonic();
    t_overflow();
    t_clock_back();
    t_far_behind();
    t_shards();
    t_decode();
    t_set_shard();

    return t_done();
}
