/*
 * What the unit tests of the module's pure-C parts share: TAP output
 * ("ok N - name", "1..N" at the end), a growing byte buffer, and, for the
 * streaming parsers, the check that a reply parsed in any pieces (byte by
 * byte, or in two split at every position) reads as it does in one.
 */

#ifndef T_TAP_H
#define T_TAP_H

#include <stddef.h>


typedef struct {
    char            *data;      /* NUL-terminated */
    size_t           len;
    size_t           size;
} t_buf_t;


/*
 * A parser driver: feeds reply[0..len) in chunks of the sizes in plan
 * (cycled; 0 means "the rest") and writes a transcript of what the parser
 * said to out.  0, or -1 when an invariant broke (it says which).
 */
typedef int (*t_feed_pt)(const char *reply, size_t len, const size_t *plan,
    size_t nplan, size_t max, t_buf_t *out);


void t_append(t_buf_t *b, const void *data, size_t len);
void t_appends(t_buf_t *b, const char *s);

void t_ok(int ok, const char *name);

/* reply in one piece gives the transcript expect[0..expect_len) */
void t_reads(t_feed_pt feed, const char *reply, size_t len, size_t max,
    const char *expect, size_t expect_len, const char *name);

/* byte by byte, and in two pieces at every split: as in one piece */
void t_reads_split(t_feed_pt feed, const char *reply, size_t len, size_t max,
    const char *name);

/* prints the plan; the exit status: 1 if any test failed */
int t_done(void);

#endif /* T_TAP_H */
