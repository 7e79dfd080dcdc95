# tests/diff: differential execution of the interpreter against the host
# CPU (README "Testing"; DEVELOPERS.md "Oracles").  make check runs
# seeded sets of 64-bit (diffexec.sh) and 32-bit code (diffexec32.sh);
# make check-long runs larger ones.
check_PROGRAMS += tests/diff/diffexec
tests_diff_diffexec_SOURCES = tests/diff/diffexec.c tests/diff/diffexec.h \
	tests/diff/gen.c tests/diff/gen.h tests/diff/gen_int.c \
	tests/diff/gen_fp.c tests/diff/gen_avx.c tests/diff/gen_legacy.c tests/diff/native.c tests/diff/interp.c
tests_diff_diffexec_LDADD = librax.a $(LIBS)
noinst_HEADERS += tests/diff/diffexec.h tests/diff/gen.h
TESTS += tests/diff/diffexec.sh tests/diff/diffexec32.sh
EXTRA_DIST += tests/diff/diffexec.sh tests/diff/diffexec32.sh
CHECK_LONG_EXTRA += check-long-diffexec
check-long-diffexec: tests/diff/diffexec$(EXEEXT)
	$(SHELL) $(srcdir)/tests/diff/diffexec.sh --long
	$(SHELL) $(srcdir)/tests/diff/diffexec32.sh --long || test $$? = 77
.PHONY: check-long-diffexec
