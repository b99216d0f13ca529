
/*
 * Unit tests of the memcached reply parser (TAP-style output, exit 1 on any
 * failure).  Replies are fed the way the client feeds them (t_split.h): a
 * parser that kept a pointer between calls would fail here (and under ASan,
 * crash).
 */

#include "ngx_photo_memcached_parser.h"
#include "t_split.h"
#include "t_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define T_MAX_VALUE  (1024 * 1024)


static void
t_appendf(t_buf_t *b, const char *fmt, size_t a, size_t c)
{
    char  s[128];
    int   n;

    n = snprintf(s, sizeof(s), fmt, a, c);
    t_append(b, s, (size_t) n);
}


/*
 * Feeds reply[0..len) in chunks of the sizes in plan (t_split.h) and writes
 * what the parser reported to out:
 *   "V<key>/<flags>/<len>=<data>;"  per value
 *   "END+<bytes left after END>"    or "ERR:<reason>[:<line>]"  or  "EOF"
 * Returns 0, or -1 when an invariant broke (reported by itself).
 */

static int
t_feed(const char *reply, size_t len, const size_t *plan, size_t nplan,
    size_t max_value, t_buf_t *out)
{
    int                     rc, more;
    size_t                  wlen;
    t_split_t               s;
    unsigned char          *w;
    ngx_photo_mc_parser_t   p;

    ngx_photo_mc_parser_init(&p, max_value);
    t_split_init(&s, reply, len, plan, nplan);

    out->len = 0;
    t_append(out, "", 0);

    for ( ;; ) {
        w = t_split_window(&s, &wlen);
        rc = ngx_photo_mc_parse(&p, w, wlen);

        if (rc == NGX_PHOTO_MC_PARSE_AGAIN) {
            more = t_split_again(&s, p.need);
            if (more == 1) {
                continue;
            }

            t_split_done(&s);

            if (more == -1) {
                return -1;
            }
            t_append(out, "EOF", 3);
            return 0;
        }

        if (rc == NGX_PHOTO_MC_PARSE_VALUE) {
            if (p.consumed > wlen
                || p.key + p.key_len > p.value
                || p.value + p.value_len + 2 != p.consumed
                || memcmp(w + p.value + p.value_len, "\r\n", 2) != 0)
            {
                printf("# VALUE out of its window\n");
                t_split_done(&s);
                return -1;
            }

            t_append(out, "V", 1);
            t_append(out, w + p.key, p.key_len);
            t_appendf(out, "/%zu/%zu=", p.flags, p.value_len);
            t_append(out, w + p.value, p.value_len);
            t_append(out, ";", 1);

            t_split_consume(&s, p.consumed);
            continue;
        }

        if (rc == NGX_PHOTO_MC_PARSE_END) {
            t_split_consume(&s, p.consumed);
            t_split_done(&s);

            t_appendf(out, "END+%zu", len - s.start, 0);

            /* and it stays finished */
            rc = ngx_photo_mc_parse(&p, NULL, 0);
            if (rc != NGX_PHOTO_MC_PARSE_END || p.consumed != 0) {
                printf("# parse after END: %d\n", rc);
                return -1;
            }

            return 0;
        }

        t_append(out, "ERR:", 4);
        t_append(out, p.error, strlen(p.error));

        if (p.line_len) {
            t_append(out, ":", 1);
            t_append(out, w, p.line_len);
        }

        t_split_done(&s);

        if (ngx_photo_mc_parse(&p, NULL, 0) != NGX_PHOTO_MC_PARSE_ERROR) {
            printf("# parse after ERROR did not fail\n");
            return -1;
        }

        return 0;
    }
}


/* the shared checks (t_tap.h), with this parser's driver */
#define T_IS(reply, expect, name)                                            \
    t_reads(t_feed, reply, sizeof(reply) - 1, T_MAX_VALUE, expect,            \
            sizeof(expect) - 1, name)

#define T_SPLITS(reply, name)                                                \
    t_reads_split(t_feed, reply, sizeof(reply) - 1, T_MAX_VALUE, name)


static const char  t_multi[] =
    "VALUE photo:1 0 3\r\nabc\r\n"
    "VALUE photo:22 5 0\r\n\r\n"
    "VALUE k 4294967295 10\r\nx\r\nEND\r\nyz\r\n"
    "END\r\n";


static void
t_large(void)
{
    int                     ok;
    char                    head[64];
    size_t                  hlen, len, plan[3] = { 4096, 1, 70000 };
    size_t                  sizes[] = { T_MAX_VALUE, 100000, 16384 };
    size_t                  i, n;
    t_buf_t                 reply = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    t_buf_t                 expect = { NULL, 0, 0 };
    ngx_photo_mc_parser_t   p;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        hlen = snprintf(head, sizeof(head), "VALUE big%zu 7 %zu\r\n",
                        i, sizes[i]);
        t_append(&reply, head, hlen);
        t_appendf(&expect, "Vbig%zu/7/%zu=", i, sizes[i]);

        for (n = 0; n < sizes[i]; n++) {
            t_append(&reply, &"\r\nEND\r\n"[n % 7], 1);
            t_append(&expect, &"\r\nEND\r\n"[n % 7], 1);
        }

        t_append(&reply, "\r\n", 2);
        t_append(&expect, ";", 1);
    }

    t_append(&reply, "END\r\n", 5);
    t_append(&expect, "END+0", 5);
    len = reply.len;

    ok = t_feed(reply.data, len, plan, 3, T_MAX_VALUE, &out) == 0
         && out.len == expect.len
         && memcmp(out.data, expect.data, out.len) == 0;

    t_ok(ok, "large values (1 MiB, 100000, 16384) in uneven chunks");

    /* one byte over the maximum is refused from the header alone */
    ngx_photo_mc_parser_init(&p, 16384);
    hlen = snprintf(head, sizeof(head), "VALUE k 0 16385\r\n");

    ok = ngx_photo_mc_parse(&p, (unsigned char *) head, hlen)
         == NGX_PHOTO_MC_PARSE_ERROR
         && strcmp(p.error, "value too large") == 0;

    t_ok(ok, "a value over the maximum is an error before its data");

    ngx_photo_mc_parser_init(&p, 16384);
    hlen = snprintf(head, sizeof(head), "VALUE k 0 16384\r\n");

    ok = ngx_photo_mc_parse(&p, (unsigned char *) head, hlen)
         == NGX_PHOTO_MC_PARSE_AGAIN
         && p.need == hlen + 16384 + 2;

    t_ok(ok, "a value of exactly the maximum asks for all its bytes");

    free(reply.data);
    free(expect.data);
    free(out.data);
}


static void
t_overlong(void)
{
    char                    line[NGX_PHOTO_MC_LINE_MAX + 8];
    size_t                  n;
    t_buf_t                 out = { NULL, 0, 0 };
    size_t                  one = 1;

    /* a line with no CRLF fails at the limit, not at the timeout */
    memset(line, 'A', sizeof(line));

    t_ok(t_feed(line, sizeof(line), &one, 1, T_MAX_VALUE, &out) == 0
         && strcmp(out.data, "ERR:line too long") == 0,
         "a line longer than NGX_PHOTO_MC_LINE_MAX without CRLF");

    /* the longest line taken, and one byte more */
    n = NGX_PHOTO_MC_LINE_MAX - 2;
    memset(line, 'A', n);
    memcpy(line, "SERVER_ERROR ", 13);
    memcpy(line + n, "\r\n", 2);

    t_ok(t_feed(line, n + 2, &one, 1, T_MAX_VALUE, &out) == 0
         && strncmp(out.data, "ERR:error reply:SERVER_ERROR A", 30) == 0,
         "a line of exactly NGX_PHOTO_MC_LINE_MAX bytes is read");

    line[n] = 'A';
    memcpy(line + n + 1, "\r\n", 2);

    t_ok(t_feed(line, n + 3, &one, 1, T_MAX_VALUE, &out) == 0
         && strcmp(out.data, "ERR:line too long") == 0,
         "a line of NGX_PHOTO_MC_LINE_MAX + 1 bytes is an error");

    free(out.data);
}


static void
t_keys(void)
{
    char               line[NGX_PHOTO_MC_KEY_MAX + 32];
    size_t             n, whole = 0;
    t_buf_t            out = { NULL, 0, 0 };
    static const char  tail[] = " 0 1\r\nx\r\nEND\r\n";

    /* the longest key memcached takes, and one byte more */
    memcpy(line, "VALUE ", 6);
    memset(line + 6, 'k', NGX_PHOTO_MC_KEY_MAX);
    n = 6 + NGX_PHOTO_MC_KEY_MAX;
    memcpy(line + n, tail, sizeof(tail) - 1);

    t_ok(t_feed(line, n + sizeof(tail) - 1, &whole, 1, T_MAX_VALUE, &out) == 0
         && strncmp(out.data, "Vkkk", 4) == 0
         && strcmp(out.data + 1 + NGX_PHOTO_MC_KEY_MAX, "/0/1=x;END+0") == 0,
         "a 250-byte key");

    memset(line + 6, 'k', NGX_PHOTO_MC_KEY_MAX + 1);
    n = 6 + NGX_PHOTO_MC_KEY_MAX + 1;
    memcpy(line + n, tail, sizeof(tail) - 1);

    t_ok(t_feed(line, n + sizeof(tail) - 1, &whole, 1, T_MAX_VALUE, &out) == 0
         && strcmp(out.data, "ERR:bad key") == 0,
         "a key over 250 bytes");

    free(out.data);
}


static void
t_need(void)
{
    int                     ok;
    ngx_photo_mc_parser_t   p;
    static const char       r[] = "VALUE a 1 10\r\n0123";

    ngx_photo_mc_parser_init(&p, T_MAX_VALUE);

    ok = ngx_photo_mc_parse(&p, (const unsigned char *) r, sizeof(r) - 1)
         == NGX_PHOTO_MC_PARSE_AGAIN
         && p.need == 14 + 10 + 2;

    t_ok(ok, "a partial value asks for exactly header + data + CRLF");

    ok = ngx_photo_mc_parse(&p, NULL, 0) == NGX_PHOTO_MC_PARSE_AGAIN
         && ngx_photo_mc_parse(&p, (const unsigned char *) r, 3)
            == NGX_PHOTO_MC_PARSE_AGAIN;

    t_ok(ok, "an empty or short window while waiting is not an error");
}


int
main(void)
{
    T_IS(t_multi,
         "Vphoto:1/0/3=abc;Vphoto:22/5/0=;Vk/4294967295/10=x\r\nEND\r\nyz;"
         "END+0",
         "three values, one empty, one holding \\r\\nEND\\r\\n");
    T_SPLITS(t_multi, "three values");

    T_IS("END\r\n", "END+0", "all misses: END alone");
    T_SPLITS("END\r\n", "END alone");

    T_IS("VALUE a 0 0\r\n\r\nEND\r\n", "Va/0/0=;END+0", "an empty value");
    T_IS("END\r\nVALUE", "END+5", "bytes after END are left to the caller");
    T_IS("VALUE a 0 3\r\nab", "EOF", "a partial reply waits for more");
    T_IS("", "EOF", "nothing yet");

    T_IS("ERROR\r\n", "ERR:error reply:ERROR", "ERROR");
    T_IS("SERVER_ERROR out of memory\r\n",
         "ERR:error reply:SERVER_ERROR out of memory", "SERVER_ERROR x");
    T_IS("CLIENT_ERROR line format\r\nEND\r\n",
         "ERR:error reply:CLIENT_ERROR line format", "CLIENT_ERROR x");
    T_SPLITS("VALUE a 0 1\r\nx\r\nSERVER_ERROR busy\r\n",
             "SERVER_ERROR after a value");
    T_IS("VALUE a 0 1\r\nx\r\nSERVER_ERROR busy\r\n",
         "Va/0/1=x;ERR:error reply:SERVER_ERROR busy",
         "a value, then SERVER_ERROR");

    T_IS("VALUE a 0 x\r\n", "ERR:bad length", "bad bytes");
    T_IS("VALUE a 0 -1\r\n", "ERR:bad length", "negative bytes");
    T_IS("VALUE a 0 \r\n", "ERR:bad length", "empty bytes");
    T_IS("VALUE a 0 3 77\r\n", "ERR:bad length", "an extra field (cas)");
    T_IS("VALUE a 0 99999999999999999999999\r\n", "ERR:bad length",
         "bytes overflowing 64 bits");
    T_IS("VALUE a 0 1048577\r\n", "ERR:value too large", "bytes over max");
    T_IS("VALUE a 4294967296 1\r\n", "ERR:bad flags", "flags over 32 bits");
    T_IS("VALUE a  0 1\r\n", "ERR:bad flags", "two spaces");
    T_IS("VALUE a 0\r\n", "ERR:bad flags", "a missing field");
    T_IS("VALUE  0 1\r\n", "ERR:bad key", "an empty key");
    T_IS("VALUE a\x01 0 1\r\n", "ERR:bad key", "a control byte in a key");
    T_IS("VALUE a 0 3\r\nabcX\r\n", "ERR:data not followed by CRLF",
         "data not followed by CRLF");
    T_IS("VALUE a 0 3\r\nabc\rX", "ERR:data not followed by CRLF",
         "data followed by CR alone");
    T_SPLITS("VALUE a 0 3\r\nabcd\r\nEND\r\n", "data too long");
    T_IS("HTTP/1.1 200 OK\r\n", "ERR:unexpected line", "garbage");
    T_IS("END \r\n", "ERR:unexpected line", "END with a space");
    T_IS("END\n", "ERR:LF without CR", "a bare LF");
    T_IS("EN\rD\r\n", "ERR:CR without LF", "a bare CR");
    T_SPLITS("\x00\xff\r\n", "binary garbage");

    t_keys();
    t_large();
    t_overlong();
    t_need();

    return t_done();
}
