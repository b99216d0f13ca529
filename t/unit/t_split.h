/*
 * A reply fed to a streaming parser the way the module's clients feed it:
 * a window of the bytes received and not yet consumed, grown chunk by
 * chunk.  The window is copied to a fresh allocation for every call and
 * the previous copy freed, so a parser that kept a pointer between calls
 * reads freed memory (and, under ASan, crashes).  Shared by the parsers'
 * unit tests and their fuzzers (no TAP here).
 */

#ifndef T_SPLIT_H
#define T_SPLIT_H

#include <stddef.h>


typedef struct {
    const unsigned char  *reply;
    size_t                len;
    const size_t         *plan;     /* chunk sizes, cycled; 0: the rest */
    size_t                nplan;
    size_t                next;     /* the next chunk's index in plan */
    size_t                start;    /* the window: reply[start..fed) */
    size_t                fed;
    unsigned char        *copy;     /* the window's latest copy, or NULL */
} t_split_t;


void t_split_init(t_split_t *s, const void *reply, size_t len,
    const size_t *plan, size_t nplan);

/* the window, in a fresh copy (NULL when it is empty); its length in wlen */
unsigned char *t_split_window(t_split_t *s, size_t *wlen);

/* the parser took n bytes from the start of the window */
void t_split_consume(t_split_t *s, size_t n);

/*
 * The parser answered "again", needing need bytes in its window: 1 when the
 * next chunk is in, 0 when the whole reply is in already, -1 (said on
 * stdout) when the window held those bytes already.
 */
int t_split_again(t_split_t *s, size_t need);

/* frees the last copy */
void t_split_done(t_split_t *s);

#endif /* T_SPLIT_H */
