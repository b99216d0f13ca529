/* base64url without padding (see photo_base64url.h). */

#include "photo_base64url.h"

#include <openssl/evp.h>


size_t
photo_base64url_encode(char *out, const unsigned char *in, size_t len)
{
    int  i, n;

    n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);

    while (n > 0 && out[n - 1] == '=') {
        n--;
    }

    for (i = 0; i < n; i++) {
        if (out[i] == '+') {
            out[i] = '-';

        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }

    out[n] = '\0';

    return (size_t) n;
}
