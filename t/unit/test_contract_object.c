
/*
 * Unit tests of the cached photo object's check (contract/photo_object.h),
 * which the module runs on every object memcached gives it: what the
 * generator writes passes, for its own id only, by its checksum in the
 * flags or (flags without one) by a JSON parse; anything else is read from
 * Postgres again.
 */

#include "photo_contract.h"
#include "photo_object.h"
#include "t_tap.h"

#include <string.h>
#include <yajl/yajl_gen.h>


/* the object of id as photo_object_gen() writes it, into buf */
static size_t
t_object(int64_t id, const char *caption, char *buf, size_t size)
{
    size_t                len;
    yajl_gen              g;
    photo_object_t        o;
    const unsigned char  *out;

    memset(&o, 0, sizeof(o));
    o.id = id;
    o.user_id = 42;
    o.username = "ann";
    o.username_len = 3;
    o.caption = caption;
    o.caption_len = strlen(caption);
    o.image_url = "/media/a.jpg";
    o.image_url_len = 12;
    o.width = 1080;
    o.height = 1350;
    o.created_at = 1790000000;

    g = yajl_gen_alloc(NULL);
    if (g == NULL || photo_object_gen(g, &o) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok
        || len >= size)
    {
        t_ok(0, "the generator writes an object");
        return 0;
    }

    memcpy(buf, out, len);
    buf[len] = '\0';
    yajl_gen_free(g);

    return len;
}


/* checked as a value written without a checksum: the JSON parse */
static int
t_check(const char *json, size_t len, int64_t id)
{
    return photo_object_check((const unsigned char *) json, len, id,
                              PHOTO_MC_FLAGS, NULL);
}


static uint32_t
t_flags(const char *json, size_t len)
{
    return photo_object_flags((const unsigned char *) json, len);
}


/* checked with the flags a writer stores it with (or others) */
static int
t_check_flags(const char *json, size_t len, int64_t id, uint32_t flags)
{
    return photo_object_check((const unsigned char *) json, len, id, flags,
                              NULL);
}


int
main(void)
{
    char    buf[1024], bad[1024];
    size_t  len;

    len = t_object(222264557568000012LL, "a photo", buf, sizeof(buf));

    t_ok(t_check(buf, len, 222264557568000012LL),
         "what the generator writes passes, for its own id");
    t_ok(!t_check(buf, len, 222264557568000013LL),
         "not for another id");
    t_ok(!t_check(buf, len, 22226455756800001LL),
         "nor for an id it begins with");
    t_ok(!t_check(buf, len - 1, 222264557568000012LL),
         "cut short by one byte: refused");
    t_ok(!t_check(buf, 20, 222264557568000012LL),
         "cut inside: refused");

    /* "{"id":"0222..." : the one id rule refuses leading zeros */
    memcpy(bad, "{\"id\":\"0", 8);
    memcpy(bad + 8, buf + 7, len - 7);
    t_ok(!t_check(bad, len + 1, 222264557568000012LL),
         "the id with a leading zero: refused");

    /* a byte that is not UTF-8 inside the caption */
    len = t_object(7, "a photo", buf, sizeof(buf));
    memcpy(bad, buf, len + 1);
    *strstr(bad, "a photo") = (char) 0xff;
    t_ok(t_check(buf, len, 7) && !t_check(bad, len, 7),
         "a caption byte that is not UTF-8: refused");

    /* JSON broken between two fields, the head and tail intact */
    memcpy(bad, buf, len + 1);
    *strstr(bad, ",\"caption\"") = ' ';
    t_ok(!t_check(bad, len, 7), "a comma gone: refused");

    /* what it checks: the id and the syntax, not each field (only the
       generator writes these objects) */
    t_ok(t_check("{\"id\":\"7\"}", 10, 7),
         "the id alone, in valid JSON, passes: syntax and id are checked");
    t_ok(!t_check("{\"id\":\"7\"", 9, 7) && !t_check("{\"id\":7}", 8, 7),
         "without its closing brace, or the id not a string: refused");

    /* the checksum in the flags */
    len = t_object(222264557568000012LL, "a photo", buf, sizeof(buf));
    t_ok((t_flags(buf, len) & PHOTO_MC_KIND_MASK) == PHOTO_MC_FLAGS
         && t_flags(buf, len) != PHOTO_MC_FLAGS,
         "the flags of an object: its kind, and a checksum above it");
    t_ok(t_check_flags(buf, len, 222264557568000012LL, t_flags(buf, len)),
         "with its flags, what the generator writes passes");
    t_ok(!t_check_flags(buf, len, 222264557568000013LL, t_flags(buf, len)),
         "not for another id");

    memcpy(bad, buf, len + 1);
    *strstr(bad, "a photo") = 'b';
    t_ok(!t_check_flags(bad, len, 222264557568000012LL, t_flags(buf, len))
         && t_check(bad, len, 222264557568000012LL),
         "one letter of the caption changed, the JSON still valid: refused "
         "by the checksum (a parse alone would take it)");

    t_ok(!t_check_flags(buf, len - 1, 222264557568000012LL,
                        t_flags(buf, len)),
         "cut short by one byte: refused");
    t_ok(!t_check_flags(buf, len, 222264557568000012LL,
                        t_flags(buf, len) ^ 0x100),
         "a flags bit of the checksum flipped: refused");
    t_ok(!t_check_flags(buf, len, 222264557568000012LL,
                        (t_flags(buf, len) & ~0xffu) | PHOTO_MC_DELETED)
         && !t_check_flags(buf, len, 222264557568000012LL, 0),
         "another kind in the low byte, or no flags: refused");

    /* a value that is not JSON, stored with the checksum of its bytes:
       the checksum says who wrote it, only photo_object_gen() writes
       with it (documented in the contract) */
    t_ok(t_check_flags("{\"id\":\"7\"}", 10, 7, t_flags("{\"id\":\"7\"}", 10)),
         "the checksum vouches for bytes, not for a parse: the id alone "
         "with its checksum passes");

    return t_done();
}
