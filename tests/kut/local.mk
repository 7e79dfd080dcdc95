# tests/kut: kvm-unit-tests' x86 suite (the images and unittests.cfg in
# ../shared/kvm-unit-tests, or $RAX_KUT_DIR) on rax's engines, through
# tests/kut/run.py.  make check runs it on the interpreter
# (tests/kut/check.sh: skips while the images are absent); `make
# check-kut-nested` runs it on real KVM nested in QEMU TCG; both compare
# with tests/kut/known-failures.txt.
# bench/kut.sh puts the interpreter beside QEMU TCG.
TESTS += tests/kut/check.sh
EXTRA_DIST += tests/kut/run.py tests/kut/check.sh tests/kut/cpuid.S \
	tests/kut/known-failures.txt
check-kut-nested: rax-static$(EXEEXT) guest guest-l1
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/kut/run.py --engine nested --check
.PHONY: check-kut-nested
