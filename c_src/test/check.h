/* SPDX-License-Identifier: ISC */
/* A minimal test harness: CHECK counts, DONE prints "N passed, N failed". */
#ifndef ALCOVE_CHECK_H
#define ALCOVE_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                     \
    } while (0)

#define DONE()                                                                \
    (printf("%s: %d passed, %d failed\n", __FILE__, check_passed,             \
            check_failed),                                                    \
     check_failed != 0)

#endif
