/*
 * test.h: the smallest test harness that can fail. check() counts, prints failures with file:line,
 * and test_summary() prints "N passed, M failed" and returns the exit code.
 */
#ifndef TEST_H
#define TEST_H

#include <stdio.h>

static int tests_passed = 0, tests_failed = 0;

#define check(cond, ...) do { \
    if (cond) tests_passed++; \
    else { tests_failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}

#endif
