
/*
 * Unit tests of the gearman packet encoder and response parser (TAP-style
 * output, exit 1 on any failure).  Replies are fed the way the client
 * feeds them (t_split.h): a parser that kept a pointer between calls would
 * fail here (and under ASan, crash).
 */

#include "ngx_photo_gearman_parser.h"
#include "t_split.h"
#include "t_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define T_MAX_SIZE  (1024 * 1024)


/* Bytes as text: printable ASCII as it is, the rest (and | \) as \xNN. */

static void
t_escape(t_buf_t *b, const unsigned char *s, size_t len)
{
    char    hex[8];
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '|' && s[i] != '\\') {
            t_append(b, &s[i], 1);
            continue;
        }

        snprintf(hex, sizeof(hex), "\\x%02x", s[i]);
        t_appends(b, hex);
    }
}


/* A response packet: "\0RES", type, size, data. */

static void
t_packet(t_buf_t *b, uint32_t type, const char *data, size_t len)
{
    unsigned char  h[12];

    memcpy(h, "\0RES", 4);
    h[4] = type >> 24; h[5] = type >> 16; h[6] = type >> 8; h[7] = type;
    h[8] = len >> 24; h[9] = len >> 16; h[10] = len >> 8; h[11] = len;

    t_append(b, h, 12);
    t_append(b, data, len);
}


/*
 * Feeds reply[0..len) in chunks of the sizes in plan (t_split.h) and writes
 * what the parser reported to out:
 *   "<TYPE>(<arg>|<arg>...);"  per packet
 *   "ERR:<reason>"             or  "EOF"  or  "EOF+<bytes of a partial
 *                                              packet>"
 * Returns 0, or -1 when an invariant broke (reported by itself).
 */

static int
t_feed(const char *reply, size_t len, const size_t *plan, size_t nplan,
    size_t max_size, t_buf_t *out)
{
    int                     rc, more;
    char                    e[64];
    size_t                  wlen, i;
    t_split_t               s;
    unsigned char          *w;
    ngx_photo_gm_parser_t   p;

    ngx_photo_gm_parser_init(&p, max_size);
    t_split_init(&s, reply, len, plan, nplan);

    out->len = 0;
    t_append(out, "", 0);

    for ( ;; ) {
        w = t_split_window(&s, &wlen);
        rc = ngx_photo_gm_parse(&p, w, wlen);

        if (rc == NGX_PHOTO_GM_PARSE_AGAIN) {
            more = t_split_again(&s, p.need);
            if (more == 1) {
                continue;
            }

            t_split_done(&s);

            if (more == -1) {
                return -1;
            }

            if (s.start == len) {
                t_appends(out, "EOF");

            } else {
                snprintf(e, sizeof(e), "EOF+%zu", len - s.start);
                t_appends(out, e);
            }

            return 0;
        }

        if (rc == NGX_PHOTO_GM_PARSE_PACKET) {
            if (p.consumed > wlen || p.consumed < 12
                || p.nargs > NGX_PHOTO_GM_ARGS_MAX)
            {
                printf("# PACKET out of its window\n");
                t_split_done(&s);
                return -1;
            }

            t_appends(out, ngx_photo_gm_type_name(p.type));
            t_append(out, "(", 1);

            for (i = 0; i < p.nargs; i++) {
                if (p.arg[i] + p.arg_len[i] > p.consumed) {
                    printf("# argument out of its packet\n");
                    t_split_done(&s);
                    return -1;
                }

                if (i) {
                    t_append(out, "|", 1);
                }

                t_escape(out, w + p.arg[i], p.arg_len[i]);
            }

            t_append(out, ");", 2);

            t_split_consume(&s, p.consumed);
            continue;
        }

        t_append(out, "ERR:", 4);
        t_appends(out, p.error);
        t_split_done(&s);

        if (ngx_photo_gm_parse(&p, NULL, 0) != NGX_PHOTO_GM_PARSE_ERROR) {
            printf("# parse after ERROR did not fail\n");
            return -1;
        }

        return 0;
    }
}


/* the shared checks (t_tap.h), with this parser's driver */
#define t_is(reply, len, max, expect, name)                                  \
    t_reads(t_feed, reply, len, max, expect, strlen(expect), name)
#define t_splits(reply, len, max, name)                                      \
    t_reads_split(t_feed, reply, len, max, name)


#define T_ARG(s)  { (const unsigned char *) (s), sizeof(s) - 1 }


static void
t_encode(void)
{
    size_t              n;
    unsigned char       buf[256], *end;
    ngx_photo_gm_arg_t  submit[3] = { T_ARG("reverse"), T_ARG(""),
                                      T_ARG("test") };
    ngx_photo_gm_arg_t  unique[3] = { T_ARG("photo_persist"), T_ARG("42"),
                                      T_ARG("{\"a\":\"\0\"}") };
    ngx_photo_gm_arg_t  option[1] = { T_ARG("exceptions") };
    ngx_photo_gm_arg_t  nulls[3] = { T_ARG("reverse"), { NULL, 0 },
                                     { NULL, 0 } };
    ngx_photo_gm_arg_t  bad[3] = { T_ARG("re\0verse"), T_ARG(""),
                                   T_ARG("") };
    ngx_photo_gm_arg_t  bad_unique[3] = { T_ARG("f"), T_ARG("u\0"),
                                          T_ARG("") };

    /* the protocol's own example, as SUBMIT_JOB_BG */
    static const unsigned char  bg[] =
        "\0REQ" "\0\0\0\x12" "\0\0\0\x0d" "reverse\0\0test";
    static const unsigned char  fg[] =
        "\0REQ" "\0\0\0\x07" "\0\0\0\x0d" "reverse\0\0test";
    static const unsigned char  uq[] =
        "\0REQ" "\0\0\0\x12" "\0\0\0\x1a" "photo_persist\0" "42\0"
        "{\"a\":\"\0\"}";
    static const unsigned char  opt[] =
        "\0REQ" "\0\0\0\x1a" "\0\0\0\x0a" "exceptions";

    n = ngx_photo_gm_packet_size(submit, 3);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_SUBMIT_JOB_BG, submit, 3);

    t_ok(n == sizeof(bg) - 1 && (size_t) (end - buf) == n
         && memcmp(buf, bg, n) == 0,
         "SUBMIT_JOB_BG reverse, no unique, test: the protocol's bytes");

    n = ngx_photo_gm_packet_size(submit, 3);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_SUBMIT_JOB, submit, 3);

    t_ok(n == sizeof(fg) - 1 && (size_t) (end - buf) == n
         && memcmp(buf, fg, n) == 0,
         "SUBMIT_JOB: the protocol's example");

    n = ngx_photo_gm_packet_size(unique, 3);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_SUBMIT_JOB_BG, unique, 3);

    t_ok(n == sizeof(uq) - 1 && (size_t) (end - buf) == n
         && memcmp(buf, uq, n) == 0,
         "SUBMIT_JOB_BG with a unique key and a NUL in the payload");

    n = ngx_photo_gm_packet_size(nulls, 3);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_SUBMIT_JOB_BG, nulls, 3);

    t_ok(n == 12 + 9 && (size_t) (end - buf) == n
         && memcmp(buf, "\0REQ\0\0\0\x12\0\0\0\x09reverse\0\0", n) == 0,
         "empty unique key and payload given as NULL pointers");

    n = ngx_photo_gm_packet_size(option, 1);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_OPTION_REQ, option, 1);

    t_ok(n == sizeof(opt) - 1 && (size_t) (end - buf) == n
         && memcmp(buf, opt, n) == 0,
         "OPTION_REQ exceptions");

    n = ngx_photo_gm_packet_size(NULL, 0);
    end = ngx_photo_gm_encode(buf, NGX_PHOTO_GM_ECHO_REQ, NULL, 0);

    t_ok(n == 12 && end == buf + 12
         && memcmp(buf, "\0REQ\0\0\0\x10\0\0\0\0", 12) == 0,
         "a packet without arguments: the header alone");

    t_ok(ngx_photo_gm_packet_size(bad, 3) == 0
         && ngx_photo_gm_packet_size(bad_unique, 3) == 0,
         "a NUL in the function or unique key cannot be sent");

    bad[0].len = 1;
    bad[2].len = (size_t) UINT32_MAX - 2;

    t_ok(ngx_photo_gm_packet_size(bad, 3) == 0,
         "more data than 32 bits of size cannot be sent");

    bad[2].len = (size_t) UINT32_MAX - 3;

    t_ok(ngx_photo_gm_packet_size(bad, 3) == 12 + (size_t) UINT32_MAX,
         "exactly 32 bits of size can");
}


/* the reply to a foreground job on a new connection, and more */

static t_buf_t  t_flow;


static void
t_make_flow(void)
{
    t_packet(&t_flow, NGX_PHOTO_GM_OPTION_RES, "exceptions", 10);
    t_packet(&t_flow, NGX_PHOTO_GM_JOB_CREATED, "H:host:1", 8);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_STATUS, "H:host:1\0" "1\0" "2", 12);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_DATA, "H:host:1\0" "\0\0", 11);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_WARNING, "H:host:1\0" "hm", 11);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_COMPLETE, "H:host:1\0" "a\0b\r\n",
             14);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_EXCEPTION, "H:host:1\0" "oops", 13);
    t_packet(&t_flow, NGX_PHOTO_GM_WORK_FAIL, "H:host:1", 8);
    t_packet(&t_flow, NGX_PHOTO_GM_NOOP, "", 0);
    t_packet(&t_flow, NGX_PHOTO_GM_ECHO_RES, "", 0);
    t_packet(&t_flow, NGX_PHOTO_GM_STATUS_RES_UNIQUE, "u\0" "1\0" "0\0"
             "0\0" "0\0" "1", 11);
    t_packet(&t_flow, NGX_PHOTO_GM_ERROR, "QUEUE_ERROR\0Job queue is full",
             29);
}


static void
t_decode(void)
{
    t_buf_t  b = { NULL, 0, 0 };

    t_is(t_flow.data, t_flow.len, T_MAX_SIZE,
         "OPTION_RES(exceptions);JOB_CREATED(H:host:1);"
         "WORK_STATUS(H:host:1|1|2);WORK_DATA(H:host:1|\\x00\\x00);"
         "WORK_WARNING(H:host:1|hm);"
         "WORK_COMPLETE(H:host:1|a\\x00b\\x0d\\x0a);"
         "WORK_EXCEPTION(H:host:1|oops);WORK_FAIL(H:host:1);NOOP();"
         "ECHO_RES();STATUS_RES_UNIQUE(u|1|0|0|0|1);"
         "ERROR(QUEUE_ERROR|Job queue is full);EOF",
         "every kind of packet a client gets, in one piece");

    t_splits(t_flow.data, t_flow.len, T_MAX_SIZE, "every kind of packet");

    t_packet(&b, NGX_PHOTO_GM_JOB_CREATED, "H:gm:7", 6);
    t_is(b.data, b.len, T_MAX_SIZE, "JOB_CREATED(H:gm:7);EOF",
         "JOB_CREATED");
    t_is(b.data, b.len - 1, T_MAX_SIZE, "EOF+17",
         "a packet one byte short waits");
    t_is(b.data, 11, T_MAX_SIZE, "EOF+11", "a partial header waits");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_WORK_COMPLETE,
             "H:gm:7\0\0\0{\"id\":\"1\"}\0", 20);
    t_is(b.data, b.len, T_MAX_SIZE,
         "WORK_COMPLETE(H:gm:7|\\x00\\x00{\"id\":\"1\"}\\x00);EOF",
         "WORK_COMPLETE with NULs in its data");
    t_splits(b.data, b.len, T_MAX_SIZE, "WORK_COMPLETE with NULs");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_WORK_COMPLETE, "H:gm:7\0", 7);
    t_is(b.data, b.len, T_MAX_SIZE, "WORK_COMPLETE(H:gm:7|);EOF",
         "WORK_COMPLETE with no data");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_ERROR, "ERR_X\0Unique value too large", 28);
    t_packet(&b, NGX_PHOTO_GM_JOB_CREATED, "H:gm:8", 6);
    t_is(b.data, b.len, T_MAX_SIZE,
         "ERROR(ERR_X|Unique value too large);JOB_CREATED(H:gm:8);EOF",
         "ERROR, then more");
    t_splits(b.data, b.len, T_MAX_SIZE, "ERROR, then more");

    free(b.data);
}


static void
t_errors(void)
{
    t_buf_t  b = { NULL, 0, 0 };

    t_is("\0REQ\0\0\0\x08\0\0\0\0", 12, T_MAX_SIZE,
         "ERR:request magic in a response", "request magic");
    t_is("\0REQ", 4, T_MAX_SIZE, "ERR:request magic in a response",
         "request magic, from the magic alone");
    t_is("HTTP/1.1 400 Bad Request\r\n", 26, T_MAX_SIZE, "ERR:bad magic",
         "not gearman");
    t_is("H", 1, T_MAX_SIZE, "ERR:bad magic",
         "bad magic from its first byte");
    t_is("\0RE", 3, T_MAX_SIZE, "EOF+3", "a good partial magic waits");
    t_is("\0res\0\0\0\x08\0\0\0\0", 12, T_MAX_SIZE, "ERR:bad magic",
         "the magic is case-sensitive");

    t_is("\0RES\0\0\0\x07\0\0\0\0", 12, T_MAX_SIZE,
         "ERR:not a response packet type", "SUBMIT_JOB is not a response");
    t_is("\0RES\0\0\0\x2b\0\0\0\0", 12, T_MAX_SIZE,
         "ERR:not a response packet type", "type 43");
    t_is("\0RES\xff\xff\xff\xff", 8, T_MAX_SIZE,
         "ERR:not a response packet type",
         "type 2^32-1, from the type alone");

    t_is("\0RES\0\0\0\x08\xff\xff\xff\xff", 12, T_MAX_SIZE,
         "ERR:packet too large", "size 2^32-1, from the header alone");
    t_is("\0RES\0\0\0\x08\0\0\x01\x01", 12, 256, "ERR:packet too large",
         "size 257 over a maximum of 256");

    t_packet(&b, NGX_PHOTO_GM_JOB_CREATED, "", 0);
    t_packet(&b, NGX_PHOTO_GM_JOB_CREATED, "0123456789abcdef", 16);
    t_is(b.data, b.len, 16, "JOB_CREATED();JOB_CREATED(0123456789abcdef);EOF",
         "sizes 0 and exactly the maximum");

    t_is("\0RES\0\0\0\x06\0\0\0\x01x", 13, T_MAX_SIZE,
         "ERR:data in a packet without arguments", "NOOP with data");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_WORK_COMPLETE, "H:gm:1", 6);
    t_is(b.data, b.len, T_MAX_SIZE, "ERR:missing argument",
         "WORK_COMPLETE without the NUL after its handle");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_STATUS_RES, "H\0" "1\0" "0\0" "0", 7);
    t_is(b.data, b.len, T_MAX_SIZE, "ERR:missing argument",
         "STATUS_RES with 4 of its 5 arguments");

    b.len = 0;
    t_packet(&b, NGX_PHOTO_GM_JOB_CREATED, "H:gm:1", 6);
    t_append(&b, "\0REQ", 4);
    t_is(b.data, b.len, T_MAX_SIZE,
         "JOB_CREATED(H:gm:1);ERR:request magic in a response",
         "a good packet, then a bad one");
    t_splits(b.data, b.len, T_MAX_SIZE, "a good packet, then a bad one");

    free(b.data);
}


static void
t_large(void)
{
    int      ok;
    char     expect_head[64];
    size_t   plan[3] = { 4096, 1, 70000 }, n;
    t_buf_t  data = { NULL, 0, 0 }, reply = { NULL, 0, 0 };
    t_buf_t  out = { NULL, 0, 0 }, expect = { NULL, 0, 0 };

    t_append(&data, "H:gm:9\0", 7);

    for (n = 0; n < T_MAX_SIZE - 7; n++) {
        t_append(&data, &"\0RES\x01"[n % 5], 1);
    }

    t_packet(&reply, NGX_PHOTO_GM_WORK_COMPLETE, data.data, data.len);
    t_packet(&reply, NGX_PHOTO_GM_WORK_FAIL, "H:gm:9", 6);

    ok = t_feed(reply.data, reply.len, plan, 3, T_MAX_SIZE, &out) == 0;

    snprintf(expect_head, sizeof(expect_head), "WORK_COMPLETE(H:gm:9|");
    t_appends(&expect, expect_head);
    t_escape(&expect, (unsigned char *) data.data + 7, data.len - 7);
    t_appends(&expect, ");WORK_FAIL(H:gm:9);EOF");

    t_ok(ok && strcmp(out.data, expect.data) == 0,
         "a 1 MiB packet in uneven chunks");

    t_is(reply.data, reply.len, T_MAX_SIZE - 1, "ERR:packet too large",
         "the same over a maximum one byte smaller");

    free(data.data);
    free(reply.data);
    free(out.data);
    free(expect.data);
}


static void
t_need(void)
{
    int                     ok;
    ngx_photo_gm_parser_t   p;
    static const char       r[] = "\0RES\0\0\0\x0d\0\0\0\x64H:1\0";

    ngx_photo_gm_parser_init(&p, T_MAX_SIZE);

    ok = ngx_photo_gm_parse(&p, (const unsigned char *) r, 5)
         == NGX_PHOTO_GM_PARSE_AGAIN
         && p.need == 12;

    t_ok(ok, "a partial header asks for the header");

    ok = ngx_photo_gm_parse(&p, (const unsigned char *) r, sizeof(r) - 1)
         == NGX_PHOTO_GM_PARSE_AGAIN
         && p.need == 12 + 100;

    t_ok(ok, "a partial packet asks for exactly header + size");

    ok = ngx_photo_gm_parse(&p, NULL, 0) == NGX_PHOTO_GM_PARSE_AGAIN
         && p.need == 12;

    t_ok(ok, "an empty window is not an error");
}


int
main(void)
{
    t_make_flow();

    t_encode();
    t_decode();
    t_errors();
    t_large();
    t_need();

    free(t_flow.data);

    return t_done();
}
