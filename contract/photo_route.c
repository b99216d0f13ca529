/* Routing shared by the module and the workers (photo_route.h). */

#include "photo_route.h"

#include <zlib.h>


unsigned
photo_route_gearman(const unsigned char *unique, size_t len, unsigned n)
{
    return (unsigned) (crc32(0L, unique, (uInt) len) % n);
}


/*
 * CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, bits not
 * reflected; check value crc16("123456789") = 0x31c3.  Bit by bit: a key
 * is a few dozen bytes, and a table would be 512 more bytes to get right.
 */
static unsigned
photo_route_crc16(const unsigned char *p, size_t len)
{
    int       bit;
    unsigned  crc;

    crc = 0;

    while (len--) {
        crc ^= (unsigned) *p++ << 8;

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
        }
    }

    return crc & 0xffff;
}


unsigned
photo_route_redis_slot(const char *key, size_t len)
{
    size_t  open, close;

    for (open = 0; open < len && key[open] != '{'; open++) { /* void */ }

    if (open < len) {
        for (close = open + 1; close < len && key[close] != '}'; close++) {
            /* void */
        }

        /* "{}" or no '}': the whole key */
        if (close < len && close > open + 1) {
            key += open + 1;
            len = close - open - 1;
        }
    }

    return photo_route_crc16((const unsigned char *) key, len)
           % PHOTO_REDIS_SLOTS;
}
