
/*
 * libFuzzer target for the memcached reply parser.
 *
 * Input: byte 0 picks how many chunk sizes follow (1..8, low 3 bits) and
 * the largest value taken (bits 3-4); each of those bytes is a chunk size
 * (1..256); the rest is the reply.  The reply is fed in those chunks as
 * the unit tests feed it (t_split.h: a fresh copy of the window for every
 * call, so ASan catches a parser keeping a pointer), and every report is
 * checked against the bytes themselves.  The reply is then parsed again in
 * one piece: the reports must be the same, wherever the splits fell.
 */

#include "ngx_photo_memcached_parser.h"
#include "t_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define f_check(cond)                                                        \
    if (!(cond)) {                                                           \
        fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        abort();                                                             \
    }


typedef struct {
    int              rc;
    size_t           at;        /* where the element starts in the reply */
    size_t           consumed;
    size_t           key, key_len, value, value_len;
    uint32_t         flags;
    const char      *error;
} f_event_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const size_t  f_max_values[4] = { 0, 16, 4096, SIZE_MAX };


static uint64_t
f_decimal(const unsigned char *s, size_t n)
{
    uint64_t  v;

    for (v = 0; n; n--, s++) {
        f_check(*s >= '0' && *s <= '9');
        v = v * 10 + (*s - '0');
    }

    return v;
}


/* The VALUE element at w says what the parser said it does. */

static void
f_check_value(ngx_photo_mc_parser_t *p, const unsigned char *w, size_t wlen)
{
    size_t                sp1, sp2, header;
    const unsigned char  *s;

    f_check(p->consumed <= wlen);
    f_check(memcmp(w, "VALUE ", 6) == 0);
    f_check(p->key == 6);
    f_check(p->key_len >= 1 && p->key_len <= NGX_PHOTO_MC_KEY_MAX);
    f_check(w[p->key + p->key_len] == ' ');
    f_check(memchr(w + p->key, ' ', p->key_len) == NULL);

    header = p->value;
    f_check(header >= 2 && header <= NGX_PHOTO_MC_LINE_MAX);
    f_check(w[header - 2] == '\r' && w[header - 1] == '\n');

    sp1 = p->key + p->key_len;
    f_check(header - 2 > sp1 + 1);
    s = memchr(w + sp1 + 1, ' ', header - 2 - sp1 - 1);
    f_check(s != NULL);
    sp2 = s - w;

    f_check(f_decimal(w + sp1 + 1, sp2 - sp1 - 1) == p->flags);
    f_check(f_decimal(w + sp2 + 1, header - 2 - sp2 - 1) == p->value_len);
    f_check(p->value_len <= p->max_value);

    f_check(p->value + p->value_len + 2 == p->consumed);
    f_check(w[p->value + p->value_len] == '\r');
    f_check(w[p->value + p->value_len + 1] == '\n');
}


/* Returns the number of events written to ev (at most len / 5 + 2). */

static size_t
f_run(const unsigned char *reply, size_t len, const size_t *plan,
    size_t nplan, size_t max_value, f_event_t *ev)
{
    int                     rc, more;
    size_t                  wlen, n;
    t_split_t               s;
    unsigned char          *w;
    ngx_photo_mc_parser_t   p;

    ngx_photo_mc_parser_init(&p, max_value);
    t_split_init(&s, reply, len, plan, nplan);

    n = 0;

    for ( ;; ) {
        w = t_split_window(&s, &wlen);
        rc = ngx_photo_mc_parse(&p, w, wlen);

        if (rc == NGX_PHOTO_MC_PARSE_AGAIN) {
            more = t_split_again(&s, p.need);
            f_check(more != -1);

            if (more) {
                continue;
            }

            t_split_done(&s);

            ev[n].rc = rc;
            ev[n].at = s.start;
            return n + 1;
        }

        ev[n].rc = rc;
        ev[n].at = s.start;
        ev[n].consumed = p.consumed;
        ev[n].error = NULL;

        if (rc == NGX_PHOTO_MC_PARSE_VALUE) {
            f_check_value(&p, w, wlen);

            ev[n].key = p.key;
            ev[n].key_len = p.key_len;
            ev[n].value = p.value;
            ev[n].value_len = p.value_len;
            ev[n].flags = p.flags;
            n++;

            t_split_consume(&s, p.consumed);
            continue;
        }

        if (rc == NGX_PHOTO_MC_PARSE_END) {
            f_check(p.consumed == 5 && memcmp(w, "END\r\n", 5) == 0);
            t_split_done(&s);

            f_check(ngx_photo_mc_parse(&p, NULL, 0)
                    == NGX_PHOTO_MC_PARSE_END);
            f_check(p.consumed == 0);

            return n + 1;
        }

        f_check(rc == NGX_PHOTO_MC_PARSE_ERROR);
        f_check(p.error != NULL);
        f_check(p.line_len <= wlen);

        if (p.line_len) {
            f_check(p.line_len + 2 <= wlen);
            f_check(w[p.line_len] == '\r' && w[p.line_len + 1] == '\n');
        }

        ev[n].error = p.error;
        t_split_done(&s);

        f_check(ngx_photo_mc_parse(&p, NULL, 0) == NGX_PHOTO_MC_PARSE_ERROR);

        return n + 1;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      nsizes, max_value, n1, n2, i, whole, plan[8];
    f_event_t  *ev1, *ev2;

    if (size < 1) {
        return 0;
    }

    nsizes = (data[0] & 7) + 1;
    max_value = f_max_values[(data[0] >> 3) & 3];

    if (size < 1 + nsizes) {
        return 0;
    }

    ev1 = malloc(((size / 5) + 2) * sizeof(f_event_t));
    ev2 = malloc(((size / 5) + 2) * sizeof(f_event_t));
    f_check(ev1 != NULL && ev2 != NULL);

    for (i = 0; i < nsizes; i++) {
        plan[i] = (size_t) data[1 + i] + 1;
    }

    whole = 0;

    n1 = f_run(data + 1 + nsizes, size - 1 - nsizes, plan, nsizes,
               max_value, ev1);
    n2 = f_run(data + 1 + nsizes, size - 1 - nsizes, &whole, 1, max_value,
               ev2);

    /* the same reports, however the reply was split */
    f_check(n1 == n2);

    for (i = 0; i < n1; i++) {
        f_check(ev1[i].rc == ev2[i].rc && ev1[i].at == ev2[i].at);

        if (ev1[i].rc == NGX_PHOTO_MC_PARSE_VALUE) {
            f_check(ev1[i].consumed == ev2[i].consumed
                    && ev1[i].key_len == ev2[i].key_len
                    && ev1[i].value == ev2[i].value
                    && ev1[i].value_len == ev2[i].value_len
                    && ev1[i].flags == ev2[i].flags);
        }

        if (ev1[i].rc == NGX_PHOTO_MC_PARSE_ERROR) {
            f_check(strcmp(ev1[i].error, ev2[i].error) == 0);
        }
    }

    free(ev1);
    free(ev2);

    return 0;
}
