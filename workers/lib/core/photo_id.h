/*
 * Ids as text: the decimal form of JSON payloads and SQL parameters, and
 * the zero-padded form of Redis list members (see photo_contract.h: padded,
 * lexical order is id order).
 */

#ifndef PHOTO_ID_H
#define PHOTO_ID_H

#include <stddef.h>
#include <stdint.h>

#include "photo_contract.h"

#define PHOTO_ID_BUF  (PHOTO_ID_MAX_DIGITS + 2)   /* a sign and the NUL */

/* 1..INT64_MAX written as plain decimal digits; anything else is -1 */
int photo_id_parse(const char *s, size_t len, int64_t *id);

/* decimal, NUL-terminated; returns the length */
size_t photo_id_format(char buf[PHOTO_ID_BUF], int64_t id);

/* PHOTO_ID_MAX_DIGITS digits, zero-padded, NUL-terminated */
void photo_id_pad(char buf[PHOTO_ID_BUF], int64_t id);

#endif /* PHOTO_ID_H */
