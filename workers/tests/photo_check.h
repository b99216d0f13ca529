/* A minimal check macro for the worker tests: report, count, keep going. */

#ifndef PHOTO_CHECK_H
#define PHOTO_CHECK_H

#include <stdio.h>

static int  photo_check_failed;
static int  photo_check_run;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        photo_check_run++;                                                   \
        if (cond) {                                                          \
            printf("ok %d - ", photo_check_run);                             \
        } else {                                                             \
            photo_check_failed++;                                            \
            printf("not ok %d - %s:%d: ", photo_check_run, __FILE__,         \
                   __LINE__);                                                \
        }                                                                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)

#define CHECK_DONE()                                                         \
    (printf("1..%d\n", photo_check_run), photo_check_failed ? 1 : 0)

#endif /* PHOTO_CHECK_H */
