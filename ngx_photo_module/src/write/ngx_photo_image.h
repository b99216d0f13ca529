
/*
 * What an uploaded file is: JPEG or PNG, by its magic bytes and by parsing
 * its header for the size, and whole (a truncated file is refused).  Pure C,
 * no nginx headers, so it is unit-tested and fuzzed on its own.
 */

#ifndef _NGX_PHOTO_IMAGE_H_INCLUDED_
#define _NGX_PHOTO_IMAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_PHOTO_IMAGE_DIM_MAX  20000


typedef enum {
    NGX_PHOTO_IMAGE_OK = 0,
    NGX_PHOTO_IMAGE_UNKNOWN,        /* neither JPEG nor PNG */
    NGX_PHOTO_IMAGE_TRUNCATED,      /* starts as one, does not end as one */
    NGX_PHOTO_IMAGE_BAD             /* a header that makes no sense */
} ngx_photo_image_rc_e;


typedef struct {
    const char                 *type;       /* "jpeg", "png" */
    const char                 *ext;        /* ".jpg", ".png" */
    uint32_t                    width;
    uint32_t                    height;
} ngx_photo_image_t;


ngx_photo_image_rc_e ngx_photo_image_probe(const unsigned char *p,
    size_t len, ngx_photo_image_t *img);


#endif /* _NGX_PHOTO_IMAGE_H_INCLUDED_ */
