/* A minimal unit-test harness: CHECK() records failures and goes on;
 * test_summary() prints "N passed, N failed" and returns the exit status.
 * Run one test program: ./tests/unit/test_core (from the build folder). */
#ifndef RAX_TEST_H
#define RAX_TEST_H

#include <stdio.h>
#include <string.h>

static int test_pass, test_fail;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			test_pass++;                                       \
		} else {                                                   \
			test_fail++;                                       \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,   \
				__LINE__, #cond);                          \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		unsigned long long a_ = (unsigned long long)(a);           \
		unsigned long long b_ = (unsigned long long)(b);           \
		if (a_ == b_) {                                            \
			test_pass++;                                       \
		} else {                                                   \
			test_fail++;                                       \
			fprintf(stderr, "%s:%d: FAILED: %s == %s "         \
				"(%#llx != %#llx)\n", __FILE__, __LINE__,  \
				#a, #b, a_, b_);                           \
		}                                                          \
	} while (0)

static inline int test_summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test_pass, test_fail);
	return test_fail ? 1 : 0;
}

#endif
