/* A minimal unit-test harness: CHECK() records failures and goes on;
 * TEST_SKIP() records a part that cannot run here, with the reason;
 * test_summary() prints the counts and returns the Automake status:
 * 1 when a check failed, else 77 (SKIP) when a part was skipped, else 99
 * (ERROR) when no check ran at all, else 0.
 * Run one test program: ./tests/unit/test_core (from the build folder). */
#ifndef RAX_TEST_H
#define RAX_TEST_H

#include <stdio.h>
#include <string.h>

static int test_pass, test_fail, test_skip;

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

/* printf-style reason, printed as "SKIP: reason". */
#define TEST_SKIP(...)                                                     \
	do {                                                               \
		test_skip++;                                               \
		printf("SKIP: ");                                          \
		printf(__VA_ARGS__);                                       \
		putchar('\n');                                             \
	} while (0)

static inline int test_summary(const char *name)
{
	printf("%s: %d passed, %d failed, %d skipped\n", name, test_pass,
	       test_fail, test_skip);
	if (test_fail)
		return 1;
	if (test_skip)
		return 77;
	if (!test_pass) {
		printf("%s: no check ran\n", name);
		return 99;
	}
	return 0;
}

#endif
