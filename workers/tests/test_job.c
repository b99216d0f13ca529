/*
 * Job payloads, without the stack: typed fields and the errors that name
 * them, the dead letter's shape, PHOTO_FEED_CAP (ids as text: the
 * contract's, t/unit/test_contract_id.c).
 */

#include "photo_check.h"
#include "photo_config.h"
#include "photo_job.h"

#include <stdlib.h>
#include <string.h>


static int
decode(photo_job_t *job, const char *payload)
{
    photo_job_free(job);
    return photo_job_init(job, "photo_test", "u-1", payload,
                          strlen(payload));
}


static char *
letter(const photo_job_t *job)
{
    char                 *s;
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    photo_job_dead_letter(job, g);
    yajl_gen_get_buf(g, &buf, &len);
    s = strndup((const char *) buf, len);
    yajl_gen_free(g);

    return s;
}


static void
check_fields(void)
{
    int           idx, present;
    double        d;
    size_t        len;
    int64_t       v;
    photo_job_t   job;
    const char   *s;

    static const char  *actions[] = { "follow", "unfollow", NULL };

    memset(&job, 0, sizeof(job));

    decode(&job, "{\"id\":\"17\",\"n\":12,\"s\":\"h\\u00e9\",\"lat\":-1.5,"
                 "\"lng\":3,\"a\":\"unfollow\",\"big\":1e400}");
    CHECK(photo_job_object(&job) == 0, "an object decodes");
    CHECK(photo_job_id(&job, "id", &v) == 0 && v == 17, "an id field");
    CHECK(photo_job_integer(&job, "n", 1, 100, &v) == 0 && v == 12,
          "an integer field");
    CHECK(photo_job_string(&job, "s", 1, 10, &s, &len) == 0 && len == 3
          && strcmp(s, "h\xc3\xa9") == 0, "a string field, unescaped");
    CHECK(photo_job_coord(&job, "lat", -90, 90, &d, &present) == 0
          && present && d == -1.5, "a coordinate");
    CHECK(photo_job_coord(&job, "lng", -180, 180, &d, &present) == 0
          && present && d == 3, "an integer is a coordinate too");
    CHECK(photo_job_coord(&job, "alt", 0, 1, &d, &present) == 0 && !present,
          "a missing optional coordinate is no error");
    CHECK(photo_job_oneof(&job, "a", actions, &idx) == 0 && idx == 1,
          "one of a list");

    CHECK(photo_job_id(&job, "n", &v) != 0
          && strcmp(job.reason, "field \"n\" must be an id: a string of "
                    "digits, 1 to 9223372036854775807") == 0,
          "a number is no id: %s", job.reason);
    CHECK(photo_job_integer(&job, "n", 13, 20, &v) != 0
          && strstr(job.reason, "\"n\" must be an integer from 13 to 20"),
          "out of range: %s", job.reason);
    CHECK(photo_job_integer(&job, "lat", 0, 1, &v) != 0,
          "a fraction is no integer");
    CHECK(photo_job_string(&job, "s", 4, 10, &s, &len) != 0
          && strstr(job.reason, "\"s\" must be 4 to 10 bytes long, not 3"),
          "too short: %s", job.reason);
    CHECK(photo_job_string(&job, "missing", 0, 1, &s, &len) != 0
          && strcmp(job.reason, "field \"missing\" is missing") == 0,
          "a missing field is named: %s", job.reason);
    CHECK(photo_job_coord(&job, "big", -1, 1, &d, &present) != 0,
          "a number out of double range is refused");
    CHECK(photo_job_oneof(&job, "s", actions, &idx) != 0
          && strstr(job.reason, "one of \"follow\", \"unfollow\""),
          "not one of the list: %s", job.reason);

    photo_job_free(&job);
}


static void
check_letters(void)
{
    char         *s, deep[200];
    photo_job_t   job;

    memset(&job, 0, sizeof(job));

    decode(&job, "{\"unique\":\"u-1\",\"n\":1.50,\"x\":[true,null]}");
    photo_job_dead(&job, "field \"%s\" is wrong", "n");
    s = letter(&job);
    CHECK(strcmp(s, "{\"reason\":\"field \\\"n\\\" is wrong\",\"payload\":"
                 "{\"unique\":\"u-1\",\"n\":1.50,\"x\":[true,null]}}") == 0,
          "the letter holds the reason and the payload as it came: %s", s);
    free(s);

    decode(&job, "not json \xff\x01");
    CHECK(photo_job_object(&job) != 0
          && strncmp(job.reason, "payload is not JSON", 19) == 0,
          "not JSON: %s", job.reason);
    s = letter(&job);
    CHECK(strstr(s, "\"payload\":\"not json \\\\xff\\\\x01\"") != NULL,
          "a payload that is not JSON is kept as a string, any byte shown: "
          "%s", s);
    free(s);

    decode(&job, "[1]");
    CHECK(photo_job_object(&job) != 0
          && strcmp(job.reason, "payload is not a JSON object") == 0,
          "an array is no object");

    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    decode(&job, deep);
    CHECK(photo_job_object(&job) != 0 && strstr(job.reason, "nested deeper"),
          "deep nesting is refused before parsing: %s", job.reason);

    photo_job_free(&job);
    CHECK(photo_job_init(&job, "x", NULL, "{\"a\":\"b\0c\"}", 11) == 0
          && photo_job_object(&job) != 0 && strstr(job.reason, "NUL"),
          "a NUL byte is refused: %s", job.reason);

    photo_job_free(&job);
}


static void
check_config(void)
{
    char            err[256];
    photo_config_t  cf;

    unsetenv("PHOTO_FEED_CAP");
    photo_config_defaults(&cf);
    CHECK(cf.feed_cap == PHOTO_FEED_CAP_DEFAULT, "feed cap default %d",
          PHOTO_FEED_CAP_DEFAULT);

    setenv("PHOTO_FEED_CAP", "5", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) == 0
          && cf.feed_cap == 5, "PHOTO_FEED_CAP=5");

    setenv("PHOTO_FEED_CAP", "0", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) != 0
          && strstr(err, "PHOTO_FEED_CAP"), "0 is refused: %s", err);
    unsetenv("PHOTO_FEED_CAP");
}


int
main(void)
{
    check_fields();
    check_letters();
    check_config();

    return CHECK_DONE();
}
