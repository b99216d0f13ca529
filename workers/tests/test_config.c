/* Worker configuration: file, environment, precedence, errors. */

#include "photo_check.h"
#include "photo_config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *
write_file(const char *text)
{
    static char  path[64];
    int          fd;

    snprintf(path, sizeof(path), "/tmp/photo_test_config.XXXXXX");

    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        perror("mkstemp");
        exit(2);
    }

    close(fd);

    return path;
}


int
main(void)
{
    char            err[512];
    const char     *path;
    photo_config_t  cf;

    /* the stack's environment must not leak into what is checked here */
    unsetenv("PHOTO_REDIS_PORT");
    unsetenv("PHOTO_PG_PORT");
    unsetenv("PHOTO_PG_CONNINFO");
    unsetenv("PHOTO_LOG_LEVEL");
    unsetenv("PHOTO_HOST");

    photo_config_defaults(&cf);
    CHECK(cf.redis_port == 6379, "default redis port is 6379");

    path = write_file("# comment\n\nPHOTO_REDIS_PORT=16379\n"
                      "PHOTO_PG_PORT=15432\nPHOTO_LOG_LEVEL=debug\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) == 0,
          "a valid file loads");
    CHECK(cf.redis_port == 16379 && cf.pg_port == 15432,
          "file values are taken");
    CHECK(cf.log_level == PHOTO_LOG_DEBUG, "log level from the file");
    unlink(path);

    setenv("PHOTO_REDIS_PORT", "26379", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) == 0, "env loads");
    CHECK(cf.redis_port == 26379, "the environment wins over the file");

    CHECK(strstr(photo_config_pg_conninfo(&cf), "port=15432") != NULL,
          "conninfo built from the parts: %s", cf.pg_conninfo);

    setenv("PHOTO_REDIS_PORT", "70000", 1);
    CHECK(photo_config_load_env(&cf, err, sizeof(err)) != 0
          && strstr(err, "PHOTO_REDIS_PORT") != NULL,
          "a bad port is refused, naming the key: %s", err);
    unsetenv("PHOTO_REDIS_PORT");

    path = write_file("PHOTO_NO_SUCH_KEY=1\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) != 0
          && strstr(err, ":1: unknown key") != NULL,
          "an unknown key is refused with file:line: %s", err);
    unlink(path);

    path = write_file("PHOTO_PG_PORT\n");
    CHECK(photo_config_load_file(&cf, path, err, sizeof(err)) != 0
          && strstr(err, "KEY=VALUE") != NULL,
          "a line without '=' is refused: %s", err);
    unlink(path);

    return CHECK_DONE();
}
