/*
 * A linked account's credentials, sealed: AES-256-GCM (OpenSSL's EVP) under
 * a key both sides read from one file (the module's photo_link_key_file,
 * the share worker's PHOTO_LINK_KEY_FILE: the SHA-256 of its bytes), with
 * "<user id>:<service>" as associated data, so that a sealed secret is good
 * for that user and service only.  The module seals what the client sends
 * before anything is written (the job's payload, gearmand's queue, the
 * Idempotency-Key record and Postgres hold only the sealed form); the share
 * worker opens it to sign a request.
 *
 * The sealed form is base64url (photo_base64url.h) of a 12-byte random
 * nonce, the ciphertext, and the 16-byte tag.
 */

#ifndef PHOTO_SECRET_H
#define PHOTO_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define PHOTO_SECRET_KEY_LEN     32
#define PHOTO_SECRET_NONCE_LEN   12
#define PHOTO_SECRET_TAG_LEN     16
#define PHOTO_SECRET_MAX         4096          /* plaintext bytes */

/* the room the sealed form of len bytes of plaintext needs (with a NUL) */
#define photo_secret_sealed_buf(len)                                         \
    (((len) + PHOTO_SECRET_NONCE_LEN + PHOTO_SECRET_TAG_LEN + 2) / 3 * 4 + 1)

/* key <- SHA-256 of the file's bytes: 0, or -1 (unreadable, empty) */
int photo_secret_key(const char *path, unsigned char *key);

/*
 * out (photo_secret_sealed_buf(len) bytes) <- the sealed form of in,
 * NUL-terminated; its length, or -1.  ad: "<user id>:<service>".
 */
int photo_secret_seal(const unsigned char *key, const char *ad,
    const unsigned char *in, size_t len, char *out);

/*
 * out (at least as long as sealed) <- the plaintext of sealed; its length,
 * or -1 (malformed, another key, another user or service, tampered).
 */
int photo_secret_open(const unsigned char *key, const char *ad,
    const char *sealed, size_t len, unsigned char *out);

#endif /* PHOTO_SECRET_H */
