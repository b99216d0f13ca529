
/*
 * Unit tests of sealed credentials (contract/photo_secret.h): what the
 * module seals, the share worker opens, for the same user and service
 * only, with the same key only, and not once a byte of it has changed.
 */

#include "photo_secret.h"
#include "t_tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char  t_plain[] = "{\"token\":\"t-123\",\"token_secret\":\"s\"}";


static int
t_open(const unsigned char *key, const char *ad, const char *sealed,
    char *out)
{
    int  n;

    n = photo_secret_open(key, ad, sealed, strlen(sealed),
                          (unsigned char *) out);
    if (n >= 0) {
        out[n] = '\0';
    }

    return n;
}


int
main(void)
{
    int            n, m;
    FILE          *f;
    char           path[] = "/tmp/photo_test_secret_XXXXXX";
    char           sealed[photo_secret_sealed_buf(sizeof(t_plain))];
    char           again[sizeof(sealed)], out[sizeof(sealed)];
    unsigned char  key[PHOTO_SECRET_KEY_LEN], other[PHOTO_SECRET_KEY_LEN];

    n = mkstemp(path);
    f = n >= 0 ? fdopen(n, "w") : NULL;
    t_ok(f != NULL && fputs("a link key, of any length", f) >= 0
         && fclose(f) == 0, "a key file");

    t_ok(photo_secret_key(path, key) == 0, "its key is read");
    t_ok(photo_secret_key("/nonexistent/key", other) == -1,
         "a missing key file is an error");

    n = photo_secret_seal(key, "7:twitter", (const unsigned char *) t_plain,
                          strlen(t_plain), sealed);
    t_ok(n > 0 && (size_t) n == strlen(sealed)
         && strstr(sealed, "t-123") == NULL,
         "sealed: base64url, the plaintext not in it");

    m = photo_secret_seal(key, "7:twitter", (const unsigned char *) t_plain,
                          strlen(t_plain), again);
    t_ok(m == n && strcmp(sealed, again) != 0,
         "sealed twice: two forms (a nonce each)");

    t_ok(t_open(key, "7:twitter", sealed, out) == (int) strlen(t_plain)
         && strcmp(out, t_plain) == 0, "opened: the plaintext");

    t_ok(t_open(key, "8:twitter", sealed, out) == -1,
         "not for another user");
    t_ok(t_open(key, "7:facebook", sealed, out) == -1,
         "not for another service");

    memcpy(other, key, sizeof(key));
    other[0] ^= 1;
    t_ok(t_open(other, "7:twitter", sealed, out) == -1,
         "not with another key");

    memcpy(again, sealed, n + 1);
    again[n / 2] = again[n / 2] == 'A' ? 'B' : 'A';
    t_ok(t_open(key, "7:twitter", again, out) == -1, "not once changed");

    again[n - 4] = '\0';
    t_ok(t_open(key, "7:twitter", again, out) == -1, "not cut short");
    t_ok(t_open(key, "7:twitter", "!!not base64url!!", out) == -1,
         "not from another alphabet");

    unlink(path);

    return t_done();
}
