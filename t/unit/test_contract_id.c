
/*
 * Unit tests of the one rule for ids as text (contract/photo_id.h), which
 * both the module and the workers use: what each side accepted before
 * (the module: leading zeros, as in the padded list form; the workers:
 * the rest of it) and the forms they write.
 */

#include "photo_id.h"
#include "t_tap.h"

#include <string.h>


/* s parses, to expect */
static int
t_id(const char *s, int64_t expect)
{
    int64_t  id;

    return photo_id_parse(s, strlen(s), &id) == 0 && id == expect;
}


/* s is refused, and *id left alone */
static int
t_not_id(const char *s, size_t len)
{
    int64_t  id;

    id = -7;

    return photo_id_parse(s, len, &id) == -1 && id == -7;
}


static void
t_parse(void)
{
    int64_t  id;

    t_ok(t_id("1", 1) && t_id("42", 42)
         && t_id("222264557568000012", 222264557568000012),
         "decimal ids parse");
    t_ok(t_id("9223372036854775807", INT64_MAX), "INT64_MAX parses");
    t_ok(t_not_id("9223372036854775808", 19)
         && t_not_id("9999999999999999999", 19),
         "19 digits above INT64_MAX do not");
    t_ok(t_not_id("99999999999999999999", 20)
         && t_not_id("00000000000000000042", 20),
         "20 digits do not, even when the first are zeros");
    t_ok(t_not_id("0", 1) && t_not_id("000", 3)
         && t_not_id(PHOTO_LIST_COMPLETE, PHOTO_ID_MAX_DIGITS),
         "zero is no id (nor the complete-list marker)");
    t_ok(t_not_id("", 0) && t_not_id("-1", 2) && t_not_id("+1", 2)
         && t_not_id(" 1", 2) && t_not_id("1 ", 2) && t_not_id("1a", 2)
         && t_not_id("0x10", 4) && t_not_id("1.0", 3),
         "empty, signs, spaces and anything but digits do not");
    t_ok(t_not_id("12\0" "3", 4), "a NUL inside does not");
    t_ok(photo_id_parse("4-abc", 1, &id) == 0 && id == 4,
         "only s[0..len) is read (a token's leading id)");

    /* the module's behaviour, now the workers' too */
    t_ok(t_id("042", 42) && t_id("0000000000000000042", 42)
         && t_id("0922337203685477580", 922337203685477580),
         "leading zeros are accepted: the padded form reads back");
}


static void
t_format(void)
{
    char  buf[PHOTO_ID_BUF];

    t_ok(photo_id_format(buf, 42) == 2 && strcmp(buf, "42") == 0,
         "formatted in decimal, NUL-terminated");
    t_ok(photo_id_format(buf, INT64_MAX) == PHOTO_ID_MAX_DIGITS
         && strcmp(buf, "9223372036854775807") == 0,
         "INT64_MAX formatted in PHOTO_ID_MAX_DIGITS");
}


static void
t_pad(void)
{
    int      ok;
    char     buf[PHOTO_ID_BUF + 1], prev[PHOTO_ID_MAX_DIGITS];
    int64_t  id, ids[] = { 1, 9, 10, 42, 999, 1000, 222264557568000012,
                           INT64_MAX - 1, INT64_MAX };
    size_t   i;

    memset(buf, 'x', sizeof(buf));

    t_ok(photo_id_pad(buf, 42) == PHOTO_ID_MAX_DIGITS
         && memcmp(buf, "0000000000000000042", PHOTO_ID_MAX_DIGITS) == 0
         && buf[PHOTO_ID_MAX_DIGITS] == 'x',
         "padded to PHOTO_ID_MAX_DIGITS, nothing written after them");

    photo_id_pad(buf, INT64_MAX);
    t_ok(memcmp(buf, "9223372036854775807", PHOTO_ID_MAX_DIGITS) == 0,
         "INT64_MAX padded");

    photo_id_pad(buf, 0);
    t_ok(memcmp(buf, PHOTO_LIST_COMPLETE, PHOTO_ID_MAX_DIGITS) == 0,
         "0 padded is the complete-list marker");

    ok = 1;
    memset(prev, '0', sizeof(prev));

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        photo_id_pad(buf, ids[i]);

        ok = ok && photo_id_parse(buf, PHOTO_ID_MAX_DIGITS, &id) == 0
             && id == ids[i]
             && memcmp(prev, buf, PHOTO_ID_MAX_DIGITS) < 0;

        memcpy(prev, buf, PHOTO_ID_MAX_DIGITS);
    }

    t_ok(ok, "padded ids parse back, and sort as their ids do");
}


int
main(void)
{
    t_parse();
    t_format();
    t_pad();

    return t_done();
}
