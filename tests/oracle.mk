# tests/oracle: cross-checks against independent implementations, and the
# sanitizer build.  See DEVELOPERS.md "Oracles and sanitizers".

# The decoder against Zydis (length and validity, 64-bit mode).  make
# check runs the fast variant (vmlinux .text, busybox, 100,000 random
# strings); make check-long runs 1,000,000 random strings.
# Without Zydis the test is a SKIP that says so.
EXTRA_DIST += tests/oracle/dec_zydis.c tests/oracle/dec_zydis.sh \
	tests/oracle/dec_exceptions.txt
TESTS += tests/oracle/dec_zydis.sh
if HAVE_ZYDIS
check_PROGRAMS += tests/oracle/dec_zydis
tests_oracle_dec_zydis_SOURCES = tests/oracle/dec_zydis.c
tests_oracle_dec_zydis_LDADD = librax.a $(ZYDIS_LIBS) $(LIBS)
check-long: tests/oracle/dec_zydis$(EXEEXT) $(CHECK_LONG_EXTRA)
	srcdir=$(srcdir) $(SHELL) $(srcdir)/tests/oracle/dec_zydis.sh --long
else
check-long: $(CHECK_LONG_EXTRA)
	@echo "check-long: Zydis not found at configure time (libzydis-dev)"
endif
.PHONY: check-long

# make check in a VPATH build folder (build-asan, next to this build's
# Makefile) with clang's AddressSanitizer and UndefinedBehaviorSanitizer.
# No --enable-werror: the curated warnings are gcc's, and clang flags
# the GNU variable-sized struct in src/kvm/kvm_regs.c.  Without nasm:
# the freestanding bm/ image takes gcc-only flags and no sanitizer, and
# its Bochs tests run no host code, so they are left out.  rax-static is
# not built (ASan cannot link -static), so the nested KVM test skips.
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
check-asan:
	$(MKDIR_P) build-asan
	cd build-asan && $(abs_top_srcdir)/configure ac_cv_path_NASM= \
	  CC=clang CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" && \
	  $(MAKE) && \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MAKE) check check_DATA= TESTS="$(filter-out tests/bm/%,$(TESTS))"
.PHONY: check-asan
distclean-local: distclean-asan
distclean-asan:
	rm -rf build-asan
.PHONY: distclean-asan
