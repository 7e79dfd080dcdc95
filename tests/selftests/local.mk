# Linux's x86 selftests (tools/testing/selftests/x86 of Debian's
# linux-source-6.1) inside Debian's linux-image-amd64 on the interpreter
# (tests/selftests/x86.py; 3 to 6 minutes measured).  `make selftests-x86`
# only builds the static programs into $RAX_CACHE; bench/selftests-x86.sh
# runs them on the interpreter and on QEMU TCG, side by side.
EXTRA_DIST += tests/selftests/build-x86.sh tests/selftests/x86.py \
	tests/selftests/x86.sh tests/selftests/x86-known.txt \
	tests/selftests/x86-known-nested.txt
TESTS += tests/selftests/x86.sh
CLEANFILES += selftests-x86-emulator-console.log \
	selftests-x86-qemu-console.log selftests-x86-nested-console.log \
	selftests-x86-initramfs.cpio.gz

selftests-x86:
	bash $(srcdir)/tests/selftests/build-x86.sh
.PHONY: selftests-x86

# The same programs on real KVM: rax-static --backend kvm inside the L1 of
# tests/nested (kvm_amd in QEMU TCG), one vCPU.  Opt-in: L1 in TCG makes
# it a long run.
check-selftests-x86-nested: rax-static$(EXEEXT) guest guest-l1
	$(PYTHON3) $(srcdir)/tests/selftests/x86.py --build . \
	  --engines nested --cpus 1 --check --known \
	  $(srcdir)/tests/selftests/x86-known-nested.txt --logs .
.PHONY: check-selftests-x86-nested
