/* What the unit tests share (see t_tap.h). */

#include "t_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  t_failed;
static int  t_count;


void
t_append(t_buf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->size) {
        b->size = (b->len + len + 1) * 2;
        b->data = realloc(b->data, b->size);
        if (b->data == NULL) {
            perror("realloc");
            exit(2);
        }
    }

    if (len) {
        memcpy(b->data + b->len, data, len);
    }

    b->len += len;
    b->data[b->len] = '\0';
}


void
t_appends(t_buf_t *b, const char *s)
{
    t_append(b, s, strlen(s));
}


void
t_ok(int ok, const char *name)
{
    t_count++;

    if (!ok) {
        t_failed = 1;
    }

    printf("%sok %d - %s\n", ok ? "" : "not ", t_count, name);
}


static int
t_same(const t_buf_t *out, const char *expect, size_t expect_len)
{
    return out->len == expect_len && memcmp(out->data, expect, expect_len) == 0;
}


void
t_reads(t_feed_pt feed, const char *reply, size_t len, size_t max,
    const char *expect, size_t expect_len, const char *name)
{
    int      ok;
    size_t   whole = 0;
    t_buf_t  out = { NULL, 0, 0 };

    ok = feed(reply, len, &whole, 1, max, &out) == 0
         && t_same(&out, expect, expect_len);

    if (!ok) {
        printf("# got:    \"%.*s\"\n# expect: \"%.*s\"\n",
               (int) out.len, out.data, (int) expect_len, expect);
    }

    t_ok(ok, name);
    free(out.data);
}


void
t_reads_split(t_feed_pt feed, const char *reply, size_t len, size_t max,
    const char *name)
{
    int      ok;
    char     what[256];
    size_t   plan[2], one = 1, whole = 0, i;
    t_buf_t  expect = { NULL, 0, 0 }, out = { NULL, 0, 0 };

    ok = feed(reply, len, &whole, 1, max, &expect) == 0;

    ok = ok && feed(reply, len, &one, 1, max, &out) == 0
         && t_same(&out, expect.data, expect.len);

    snprintf(what, sizeof(what), "%s: byte by byte", name);
    t_ok(ok, what);

    ok = 1;

    for (i = 1; ok && i < len; i++) {
        plan[0] = i;
        plan[1] = 0;

        ok = feed(reply, len, plan, 2, max, &out) == 0
             && t_same(&out, expect.data, expect.len);

        if (!ok) {
            printf("# split at %zu: \"%.*s\"\n", i, (int) out.len, out.data);
        }
    }

    snprintf(what, sizeof(what), "%s: two pieces at every split", name);
    t_ok(ok, what);

    free(expect.data);
    free(out.data);
}


int
t_done(void)
{
    printf("1..%d\n", t_count);

    return t_failed;
}
