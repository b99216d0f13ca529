/*
 * base64url (RFC 4648, section 5) without padding: base64 with '-' and
 * '_' in place of '+' and '/', and no '='.  Session tokens are made of it
 * (the auth worker writes "<user id>-" and 43 characters of it; the
 * module accepts a token only when it is made of this alphabet, see
 * photo_contract.h), and so are the push services' JWTs (RFC 7515).
 *
 * The encoder is OpenSSL's base64 (EVP_EncodeBlock) with those two
 * characters changed and the padding taken off; the workers compile it.
 * The module, which only checks tokens, uses photo_base64url_char().
 */

#ifndef PHOTO_BASE64URL_H
#define PHOTO_BASE64URL_H

#include <stddef.h>

/* the characters of n bytes, without padding (32 bytes: 43) */
#define PHOTO_BASE64URL_LEN(n)  (((n) * 4 + 2) / 3)

/* the room the encoder needs for n bytes: base64 with its padding, NUL */
#define PHOTO_BASE64URL_BUF(n)  (((n) + 2) / 3 * 4 + 1)


/* c is of the alphabet: [A-Za-z0-9_-] (never the locale's idea of it) */
static inline int
photo_base64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


/* in[0..len) into out, PHOTO_BASE64URL_BUF(len) bytes, NUL-terminated;
   returns the length, PHOTO_BASE64URL_LEN(len) */
size_t photo_base64url_encode(char *out, const unsigned char *in,
    size_t len);

#endif /* PHOTO_BASE64URL_H */
