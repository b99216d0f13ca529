/* Routing shared by the module and the workers (photo_route.h). */

#include "photo_route.h"

#include <zlib.h>


unsigned
photo_route_gearman(const unsigned char *unique, size_t len, unsigned n)
{
    return (unsigned) (crc32(0L, unique, (uInt) len) % n);
}
