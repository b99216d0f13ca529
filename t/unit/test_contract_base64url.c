
/*
 * Unit tests of base64url (contract/photo_base64url.h): the workers'
 * encoder, for session tokens and JWTs, and the alphabet the module checks
 * tokens against.
 */

#include "photo_base64url.h"
#include "t_tap.h"

#include <string.h>


/* in[0..len) encodes to expect */
static int
t_encodes(const char *in, size_t len, const char *expect)
{
    char  out[64];

    return photo_base64url_encode(out, (const unsigned char *) in, len)
           == strlen(expect)
           && strcmp(out, expect) == 0
           && strlen(expect) == PHOTO_BASE64URL_LEN(len);
}


static void
t_encode(void)
{
    int            ok;
    char           out[PHOTO_BASE64URL_BUF(32)];
    size_t         i, n;
    unsigned char  raw[32];

    /* RFC 4648, section 10, without the padding */
    t_ok(t_encodes("", 0, "") && t_encodes("f", 1, "Zg")
         && t_encodes("fo", 2, "Zm8") && t_encodes("foo", 3, "Zm9v")
         && t_encodes("foob", 4, "Zm9vYg")
         && t_encodes("fooba", 5, "Zm9vYmE")
         && t_encodes("foobar", 6, "Zm9vYmFy"),
         "the RFC's vectors, with no padding");

    t_ok(t_encodes("\xfb\xff\xbf", 3, "-_-_")
         && t_encodes("\xfb\xff", 2, "-_8"),
         "'-' and '_' where base64 has '+' and '/'");

    for (i = 0; i < sizeof(raw); i++) {
        raw[i] = (unsigned char) (i * 37 + 11);
    }

    n = photo_base64url_encode(out, raw, sizeof(raw));
    ok = n == 43 && n == PHOTO_BASE64URL_LEN(sizeof(raw))
         && out[n] == '\0';

    for (i = 0; i < n; i++) {
        ok = ok && photo_base64url_char((unsigned char) out[i]);
    }

    t_ok(ok, "32 bytes (a session token's): 43 characters of the alphabet");
}


static void
t_alphabet(void)
{
    int          c, n;
    const char  *all;

    all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    n = 0;

    for (c = 0; c < 256; c++) {
        n += photo_base64url_char((unsigned char) c) != 0;

        if (photo_base64url_char((unsigned char) c)
            != (c != 0 && strchr(all, c) != NULL))
        {
            break;
        }
    }

    t_ok(c == 256 && n == 64,
         "the alphabet is [A-Za-z0-9_-], 64 characters, no '+', '/', '='");
}


int
main(void)
{
    t_encode();
    t_alphabet();

    return t_done();
}
