
/*
 * libFuzzer target for the gearman response parser.
 *
 * Input: byte 0 picks how many chunk sizes follow (1..8, low 3 bits) and
 * the largest packet data taken (bits 3-4); each of those bytes is a chunk
 * size (1..256); the rest is the reply.  The reply is fed in those chunks
 * as the unit tests feed it (t_split.h: a fresh copy of the window for
 * every call, so ASan catches a parser keeping a pointer), and every
 * report is checked against the bytes themselves.  The reply is then
 * parsed again in one piece: the reports must be the same, wherever the
 * splits fell.
 */

#include "ngx_photo_gearman_parser.h"
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
    size_t           at;        /* where the packet starts in the reply */
    size_t           consumed;
    uint32_t         type;
    size_t           nargs;
    size_t           arg[NGX_PHOTO_GM_ARGS_MAX];
    size_t           arg_len[NGX_PHOTO_GM_ARGS_MAX];
    const char      *error;
} f_event_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const size_t  f_max_sizes[4] = { 0, 16, 4096, SIZE_MAX };


static uint32_t
f_read32(const unsigned char *s)
{
    return (uint32_t) s[0] << 24 | (uint32_t) s[1] << 16
           | (uint32_t) s[2] << 8 | s[3];
}


/* The packet at w says what the parser said it does. */

static void
f_check_packet(ngx_photo_gm_parser_t *p, const unsigned char *w, size_t wlen)
{
    size_t  i, end;

    f_check(p->consumed >= NGX_PHOTO_GM_HEADER_SIZE && p->consumed <= wlen);
    f_check(memcmp(w, "\0RES", 4) == 0);
    f_check(f_read32(w + 4) == p->type);
    f_check(NGX_PHOTO_GM_HEADER_SIZE + (size_t) f_read32(w + 8)
            == p->consumed);
    f_check(p->consumed - NGX_PHOTO_GM_HEADER_SIZE <= p->max_size);
    f_check(strcmp(ngx_photo_gm_type_name(p->type), "?") != 0);
    f_check(p->nargs <= NGX_PHOTO_GM_ARGS_MAX);

    if (p->nargs == 0) {
        f_check(p->consumed == NGX_PHOTO_GM_HEADER_SIZE);
        return;
    }

    /* the arguments tile the data, each but the last ended by a NUL */

    end = NGX_PHOTO_GM_HEADER_SIZE;

    for (i = 0; i < p->nargs; i++) {
        f_check(p->arg[i] == end);
        f_check(memchr(w + p->arg[i], 0, p->arg_len[i]) == NULL
                || i + 1 == p->nargs);

        end = p->arg[i] + p->arg_len[i];

        if (i + 1 < p->nargs) {
            f_check(end < p->consumed && w[end] == '\0');
            end++;
        }
    }

    f_check(end == p->consumed);
}


/* Returns the number of events written to ev (at most len / 12 + 2). */

static size_t
f_run(const unsigned char *reply, size_t len, const size_t *plan,
    size_t nplan, size_t max_size, f_event_t *ev)
{
    int                     rc, more;
    size_t                  wlen, n;
    t_split_t               s;
    unsigned char          *w;
    ngx_photo_gm_parser_t   p;

    ngx_photo_gm_parser_init(&p, max_size);
    t_split_init(&s, reply, len, plan, nplan);

    n = 0;

    for ( ;; ) {
        w = t_split_window(&s, &wlen);
        rc = ngx_photo_gm_parse(&p, w, wlen);

        if (rc == NGX_PHOTO_GM_PARSE_AGAIN) {
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

        memset(&ev[n], 0, sizeof(f_event_t));
        ev[n].rc = rc;
        ev[n].at = s.start;

        if (rc == NGX_PHOTO_GM_PARSE_PACKET) {
            f_check_packet(&p, w, wlen);

            ev[n].consumed = p.consumed;
            ev[n].type = p.type;
            ev[n].nargs = p.nargs;
            memcpy(ev[n].arg, p.arg, sizeof(p.arg));
            memcpy(ev[n].arg_len, p.arg_len, sizeof(p.arg_len));
            n++;

            t_split_consume(&s, p.consumed);
            continue;
        }

        f_check(rc == NGX_PHOTO_GM_PARSE_ERROR);
        f_check(p.error != NULL);
        f_check(p.consumed == 0);

        ev[n].error = p.error;
        t_split_done(&s);

        f_check(ngx_photo_gm_parse(&p, NULL, 0) == NGX_PHOTO_GM_PARSE_ERROR);

        return n + 1;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      nsizes, max_size, n1, n2, i, j, whole, plan[8];
    f_event_t  *ev1, *ev2;

    if (size < 1) {
        return 0;
    }

    nsizes = (data[0] & 7) + 1;
    max_size = f_max_sizes[(data[0] >> 3) & 3];

    if (size < 1 + nsizes) {
        return 0;
    }

    ev1 = malloc(((size / 12) + 2) * sizeof(f_event_t));
    ev2 = malloc(((size / 12) + 2) * sizeof(f_event_t));
    f_check(ev1 != NULL && ev2 != NULL);

    for (i = 0; i < nsizes; i++) {
        plan[i] = (size_t) data[1 + i] + 1;
    }

    whole = 0;

    n1 = f_run(data + 1 + nsizes, size - 1 - nsizes, plan, nsizes,
               max_size, ev1);
    n2 = f_run(data + 1 + nsizes, size - 1 - nsizes, &whole, 1, max_size,
               ev2);

    /* the same reports, however the reply was split */
    f_check(n1 == n2);

    for (i = 0; i < n1; i++) {
        f_check(ev1[i].rc == ev2[i].rc && ev1[i].at == ev2[i].at);

        if (ev1[i].rc == NGX_PHOTO_GM_PARSE_PACKET) {
            f_check(ev1[i].consumed == ev2[i].consumed
                    && ev1[i].type == ev2[i].type
                    && ev1[i].nargs == ev2[i].nargs);

            for (j = 0; j < ev1[i].nargs; j++) {
                f_check(ev1[i].arg[j] == ev2[i].arg[j]
                        && ev1[i].arg_len[j] == ev2[i].arg_len[j]);
            }
        }

        if (ev1[i].rc == NGX_PHOTO_GM_PARSE_ERROR) {
            f_check(strcmp(ev1[i].error, ev2[i].error) == 0);
        }
    }

    free(ev1);
    free(ev2);

    return 0;
}
