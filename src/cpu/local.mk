# src/cpu: the x86-64 interpreter engine.
librax_a_SOURCES += src/cpu/cpu.c src/cpu/cpu.h src/cpu/block.c \
	src/cpu/event.c src/cpu/dispatch.c src/cpu/mem.c src/cpu/debugreg.c \
	src/cpu/alu.c src/cpu/ops.c src/cpu/sys.c src/cpu/seg.c \
	src/cpu/legacy.c src/cpu/model.c src/cpu/sse.c src/cpu/xsave.c \
	src/cpu/sse.h src/cpu/ssefp.c src/cpu/sse4.c src/cpu/avx.c src/cpu/bmi.c \
	src/cpu/x87.c src/cpu/snap.c src/cpu/jit.c

# Unit tests of the interpreter and the decoder (tests/unit/test_cpu_*,
# test_decoder), listed here so the module owns its test wiring.
noinst_HEADERS += tests/unit/cpu_machine.h
check_PROGRAMS += tests/unit/test_cpu_alu tests/unit/test_cpu_guest \
	tests/unit/test_decoder
tests_unit_test_cpu_alu_SOURCES = tests/unit/test_cpu_alu.c
tests_unit_test_cpu_alu_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_cpu_alu_LDADD = librax.a $(LIBS)
tests_unit_test_cpu_guest_SOURCES = tests/unit/test_cpu_guest.c
tests_unit_test_cpu_guest_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_cpu_guest_LDADD = librax.a $(LIBS)
tests_unit_test_decoder_SOURCES = tests/unit/test_decoder.c
tests_unit_test_decoder_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_decoder_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_cpu_alu tests/unit/test_cpu_guest \
	tests/unit/test_decoder

# Guest programs run end to end on each engine (tests/guest): selftest
# and the system-level programs listed in tests/guest/programs, each
# compared with its .expect file; one test per engine, the KVM one a
# SKIP where KVM is unusable.  tests/guest/nested.sh (tests/local.mk)
# runs them on real KVM.
TESTS += tests/guest/emulator.sh tests/guest/kvm.sh
EXTRA_DIST += tests/guest/run.sh tests/guest/build.sh \
	tests/guest/emulator.sh tests/guest/kvm.sh \
	tests/guest/selftest.S tests/guest/rt.S tests/guest/rt.h \
	tests/guest/programs tests/guest/nested.sh tests/guest/nested.py \
	tests/guest/nested-tcg.txt \
	tests/guest/idt.S tests/guest/idt.expect \
	tests/guest/pf.S tests/guest/pf.expect \
	tests/guest/syscall.S tests/guest/syscall.expect \
	tests/guest/tlb.S tests/guest/tlb.expect \
	tests/guest/lapic.S tests/guest/lapic.expect \
	tests/guest/smc.S tests/guest/smc.expect \
	tests/guest/tsc.S tests/guest/tsc.expect \
	tests/guest/debug.S tests/guest/debug.expect \
	tests/guest/sysfeat.S tests/guest/sysfeat.expect \
	tests/guest/ladder.S tests/guest/ladder.expect tests/guest/ladder.opts \
	tests/guest/smp.S tests/guest/smp.expect tests/guest/smp.opts \
	tests/guest/apboot.S tests/guest/apboot.expect tests/guest/apboot.opts
