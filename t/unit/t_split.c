/* A reply fed in chunks (see t_split.h). */

#include "t_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void
t_split_init(t_split_t *s, const void *reply, size_t len, const size_t *plan,
    size_t nplan)
{
    memset(s, 0, sizeof(t_split_t));

    s->reply = reply;
    s->len = len;
    s->plan = plan;
    s->nplan = nplan;
}


unsigned char *
t_split_window(t_split_t *s, size_t *wlen)
{
    free(s->copy);
    s->copy = NULL;

    *wlen = s->fed - s->start;

    if (*wlen) {
        s->copy = malloc(*wlen);
        if (s->copy == NULL) {
            perror("malloc");
            exit(2);
        }

        memcpy(s->copy, s->reply + s->start, *wlen);
    }

    return s->copy;
}


void
t_split_consume(t_split_t *s, size_t n)
{
    s->start += n;
}


int
t_split_again(t_split_t *s, size_t need)
{
    size_t  chunk;

    if (need <= s->fed - s->start) {
        printf("# AGAIN with need %zu <= window %zu\n", need,
               s->fed - s->start);
        return -1;
    }

    if (s->fed == s->len) {
        return 0;
    }

    chunk = s->plan[s->next++ % s->nplan];

    if (chunk == 0 || chunk > s->len - s->fed) {
        chunk = s->len - s->fed;
    }

    s->fed += chunk;

    return 1;
}


void
t_split_done(t_split_t *s)
{
    free(s->copy);
    s->copy = NULL;
}
