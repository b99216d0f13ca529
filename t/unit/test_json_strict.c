
/*
 * Unit tests of the strict JSON reading (TAP-style output, exit 1 on any
 * failure): each body gives its verdict and names the member concerned.
 * Bodies are copied to an allocation of their exact size, so that a read
 * past the end shows under ASan.
 */

#include "ngx_photo_json_strict.h"
#include "t_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define T_NAME(s)  1, sizeof(s) - 1, s    /* has_name, its length, name */
#define T_NONAME   0, 0, ""


typedef struct {
    const char             *json;
    size_t                  len;        /* 0: strlen(json) */
    ngx_photo_strict_rc_e   rc;
    int                     in_name;
    int                     has_name;
    size_t                  name_len;
    const char             *name;
    const char             *what;
} t_case_t;


static const t_case_t  t_cases[] = {

    /* fine */
    { "{}", 0, NGX_PHOTO_STRICT_OK, 0, T_NONAME, "an empty object" },
    { "{\"a\":1,\"b\":[true,false,null,1.5e3,-0],\"c\":{\"a\":\"x\"}}", 0,
      NGX_PHOTO_STRICT_OK, 0, T_NONAME,
      "every kind of value; one name in two objects" },
    { "[{\"a\":1},{\"a\":2}]", 0, NGX_PHOTO_STRICT_OK, 0, T_NONAME,
      "one name in sibling objects" },
    { "{\"a\":\"caf\\u00e9 \\ud83d\\ude00 \\uD83D\\uDE00\"}", 0,
      NGX_PHOTO_STRICT_OK, 0, T_NONAME, "escapes, a pair in either case" },
    { "{\"a\":\"\\\\ud800\",\"b\":\"\\\\\\\\ud800\"}", 0,
      NGX_PHOTO_STRICT_OK, 0, T_NONAME,
      "an escaped backslash before ud800 is no escape" },
    { "{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbf\"}", 0,
      NGX_PHOTO_STRICT_OK, 0, T_NONAME, "raw UTF-8 up to 4 bytes" },
    { "{\"a\":\"\\\"\\/\\b\\f\\n\\r\\t\"}", 0, NGX_PHOTO_STRICT_OK, 0,
      T_NONAME, "every short escape" },
    { "{\"\":1,\"x\":{\"\":2}}", 0, NGX_PHOTO_STRICT_OK, 0, T_NONAME,
      "the empty name, once per object" },
    { "{\"n\":123456789012345678901234567890}", 0, NGX_PHOTO_STRICT_OK, 0,
      T_NONAME, "a number too large for 64 bits" },
    { " [1,{}] \r\n\t", 0, NGX_PHOTO_STRICT_OK, 0, T_NONAME,
      "an array, white space around it" },

    /* NUL */
    { "{\"caption\":\"a\\u0000b\"}", 0, NGX_PHOTO_STRICT_NUL, 0,
      T_NAME("caption"), "U+0000 in a value" },
    { "{\"caption\":\"\\u0000\"}", 0, NGX_PHOTO_STRICT_NUL, 0,
      T_NAME("caption"), "U+0000 alone" },
    { "{\"a\":1,\"b\\u0000\":2}", 0, NGX_PHOTO_STRICT_NUL, 1, T_NONAME,
      "U+0000 in a name" },
    { "{\"a\":{\"tags\":[\"x\",[\"\\u0000\"]]}}", 0, NGX_PHOTO_STRICT_NUL, 0,
      T_NAME("tags"), "in arrays: the innermost member is named" },
    { "[\"\\u0000\"]", 0, NGX_PHOTO_STRICT_NUL, 0, T_NONAME,
      "in a top-level array: no name" },
    { "{\"a\":\"\xc0\x80\"}", 0, NGX_PHOTO_STRICT_UTF8, 0, T_NAME("a"),
      "an overlong U+0000 is not UTF-8" },

    /* surrogates */
    { "{\"c\":\"\\ud800\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0, T_NAME("c"),
      "a lone high surrogate" },
    { "{\"c\":\"x\\uDBFF\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0, T_NAME("c"),
      "a high surrogate at the end" },
    { "{\"c\":\"\\ud83d\\u0041\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0,
      T_NAME("c"), "a high surrogate, then another escape" },
    { "{\"c\":\"\\ud83d\\ud83d\\ude00\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0,
      T_NAME("c"), "two high surrogates, then a low one" },
    { "{\"c\":\"\\ud83d\\n\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0,
      T_NAME("c"), "a high surrogate, then a short escape" },
    { "{\"c\":\"\\ud83dx\\ude00\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0,
      T_NAME("c"), "a high surrogate, then text" },
    { "{\"c\":\"\\udc00\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0, T_NAME("c"),
      "a lone low surrogate" },
    { "{\"c\":\"\\ud83d\\ude00\\ude00\"}", 0, NGX_PHOTO_STRICT_SURROGATE, 0,
      T_NAME("c"), "a pair, then a lone low surrogate" },
    { "{\"a\":\"\\ud800\", \"b\":\"\\udc00\"}", 0,
      NGX_PHOTO_STRICT_SURROGATE, 0, T_NAME("a"),
      "halves in two strings are no pair" },
    { "{\"\\udfff\":1}", 0, NGX_PHOTO_STRICT_SURROGATE, 1, T_NONAME,
      "a lone surrogate in a name" },
    { "{\"a\":\"\xed\xa0\x80\"}", 0, NGX_PHOTO_STRICT_UTF8, 0, T_NAME("a"),
      "a raw surrogate is not UTF-8" },
    { "{\"a\":\"\xf4\x90\x80\x80\"}", 0, NGX_PHOTO_STRICT_UTF8, 0,
      T_NAME("a"), "over U+10FFFF is not UTF-8" },
    { "{\"a\":\"\xe0\x80\xaf\"}", 0, NGX_PHOTO_STRICT_UTF8, 0, T_NAME("a"),
      "an overlong 3-byte form is not UTF-8" },
    { "{\"a\":\"\xc3\"}", 0, NGX_PHOTO_STRICT_UTF8, 0, T_NAME("a"),
      "a cut UTF-8 sequence is not UTF-8, named (yajl's lexer would stop)" },
    { "{\"a\":\"caf\xe9\"}", 0, NGX_PHOTO_STRICT_UTF8, 0, T_NAME("a"),
      "a Latin-1 byte is not UTF-8, named" },

    /* duplicates */
    { "{\"caption\":\"a\",\"caption\":\"b\"}", 0,
      NGX_PHOTO_STRICT_DUPLICATE, 0, T_NAME("caption"), "a name twice" },
    { "{\"a\":1,\"b\":{\"k\":1,\"j\":{\"k\":0},\"k\":2}}", 0,
      NGX_PHOTO_STRICT_DUPLICATE, 0, T_NAME("k"), "twice in a nested object" },
    { "{\"user\\u006eame\":1,\"username\":2}", 0,
      NGX_PHOTO_STRICT_DUPLICATE, 0, T_NAME("username"),
      "names are compared decoded" },
    { "{\"z\":1,\"b\":1,\"a\":1,\"a\":2,\"z\":2}", 0,
      NGX_PHOTO_STRICT_DUPLICATE, 0, T_NAME("a"),
      "the first repeated in body order is named" },
    { "{\"\":1,\"\":2}", 0, NGX_PHOTO_STRICT_DUPLICATE, 0, T_NAME(""),
      "the empty name twice" },
    { "{\"a\":1,\"b\":\"\\u0000\",\"a\":2}", 0, NGX_PHOTO_STRICT_NUL, 0,
      T_NAME("b"), "a NUL found first wins over a later duplicate" },

    /* not JSON */
    { "{\"a\":1", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME, "cut short" },
    { "{\"a\":1} x", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME,
      "trailing garbage" },
    { "{\"a\":/* \\ud800 */1}", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME,
      "a comment" },
    { "{\"a\":1}\"x", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME,
      "an unterminated string after the object" },
    { "{} {}", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME, "two objects" },
    { "\"\\u0000\"", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME,
      "a top-level string" },
    { "1\"\xc0", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME,
      "a top-level number, then garbage" },
    { "", 0, NGX_PHOTO_STRICT_INVALID, 0, T_NONAME, "nothing" },
};


static int
t_check(const t_case_t *c)
{
    size_t                 len;
    unsigned char         *json;
    ngx_photo_strict_t     where;
    ngx_photo_strict_rc_e  rc;

    len = c->len ? c->len : strlen(c->json);
    json = malloc(len ? len : 1);
    if (json == NULL) {
        perror("malloc");
        exit(2);
    }

    memcpy(json, c->json, len);

    rc = ngx_photo_json_strict(json, len, &where);
    free(json);

    if (rc != c->rc || where.in_name != c->in_name
        || where.has_name != c->has_name
        || (c->has_name
            && (where.name_len != c->name_len
                || memcmp(where.name, c->name, c->name_len) != 0)))
    {
        printf("# %s: rc %d in_name %d has_name %d name \"%.*s\"\n",
               c->json, (int) rc, where.in_name, where.has_name,
               (int) where.name_len, where.name);
        return 0;
    }

    return 1;
}


/* a long name is cut on a character boundary, never inside one */

static void
t_long_name(void)
{
    size_t               i;
    t_buf_t              b = { NULL, 0, 0 };
    ngx_photo_strict_t   where;

    t_appends(&b, "{\"a\":1,\"x");

    for (i = 0; i < NGX_PHOTO_STRICT_NAME_MAX; i++) {
        t_appends(&b, "\xc3\xa9");
    }

    t_appends(&b, "\":\"\\u0000\"}");

    t_ok(ngx_photo_json_strict((unsigned char *) b.data, b.len, &where)
         == NGX_PHOTO_STRICT_NUL
         && where.has_name
         && where.name_len == NGX_PHOTO_STRICT_NAME_MAX - 1
         && where.name[0] == 'x'
         && (unsigned char) where.name[where.name_len - 1] == 0xa9,
         "a long name is cut before a character it would split");

    free(b.data);
}


/* deep nesting and many names: the arrays grow */

static void
t_large(void)
{
    size_t               i;
    t_buf_t              b = { NULL, 0, 0 };
    char                 s[32];
    ngx_photo_strict_t   where;

    for (i = 0; i < 3000; i++) {
        t_appends(&b, "{\"k\":[");
    }

    t_appends(&b, "\"\\u0000\"");

    for (i = 0; i < 3000; i++) {
        t_appends(&b, "]}");
    }

    t_ok(ngx_photo_json_strict((unsigned char *) b.data, b.len, &where)
         == NGX_PHOTO_STRICT_NUL
         && where.has_name && where.name_len == 1 && where.name[0] == 'k',
         "3000 objects deep, one \"k\" each, a NUL at the bottom: named");

    b.len = 0;
    t_appends(&b, "{");

    for (i = 0; i < 3000; i++) {
        snprintf(s, sizeof(s), "%s\"k%zu\":%zu", i ? "," : "", i, i);
        t_appends(&b, s);
    }

    t_appends(&b, "}");

    t_ok(ngx_photo_json_strict((unsigned char *) b.data, b.len, &where)
         == NGX_PHOTO_STRICT_OK,
         "3000 names in one object: fine");

    b.len--;
    t_appends(&b, ",\"k2999\":0}");

    t_ok(ngx_photo_json_strict((unsigned char *) b.data, b.len, &where)
         == NGX_PHOTO_STRICT_DUPLICATE
         && where.name_len == 5 && memcmp(where.name, "k2999", 5) == 0,
         "... and the last one again: named");

    free(b.data);
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(t_cases) / sizeof(t_cases[0]); i++) {
        t_ok(t_check(&t_cases[i]), t_cases[i].what);
    }

    t_long_name();
    t_large();

    return t_done();
}
