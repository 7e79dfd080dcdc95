# bm: the bare-metal VT-x hypervisor image (bm/README.md).  Everything is
# built freestanding with explicit rules, never with the host's libc:
#   stage1.bin  boot sector (NASM)            -> LBA 0, runs at 0x7c00
#   stage2.bin  loader to VMXON (NASM)        -> LBA 1..8, runs at 0x8000
#   stage3.bin  VMCS, EPT, exit handlers (C)  -> LBA 9.., runs at 0x9000
#   guest.bin   built-in test guest (NASM), embedded in stage3.bin
# rax-bm.img is the concatenation, padded to the Bochs disk geometry in
# bm/bochsrc.in (2016 sectors).

BM_C = bm/main.c bm/exit.c bm/cpuid.c bm/io.c bm/msr.c bm/intr.c \
	bm/ept.c bm/host.c bm/console.c bm/lib.c bm/ata.c bm/linux.c
BM_S = bm/entry.S bm/guest_blob.S
BM_H = bm/bm.h bm/console.h bm/cpu.h bm/exit.h bm/layout.h bm/lib.h \
	bm/vmx.h
BM_ASM = bm/stage1.asm bm/stage2.asm bm/guest.asm bm/layout.inc \
	bm/linux-hdr.asm
EXTRA_DIST += $(BM_C) $(BM_S) $(BM_H) $(BM_ASM) bm/bm.ld bm/bochsrc.in \
	bm/README.md tests/bm/bochs.sh \
	tests/bm/boots-guest-under-vmx.test tests/bm/reports-missing-vmx.test \
	tests/bm/reports-guest-triple-fault.test tests/bm/reports-failed-vm-entry.test \
	tests/bm/boots-linux-to-init.test bm/linux-img.sh \
	tests/bm/linux-shell-answers-on-com1.test tests/bm/com1-shell.py

BM_IMG_SECTORS = 2016
BM_STAGE2_SECTORS = 8
# Stage 3 must end below the host page tables at 0x70000: 0x70000 -
# 0x9000 = 824 sectors.
BM_STAGE3_MAX_SECTORS = 824
BM_MODEL = corei7_sandy_bridge_2600k

BM_CFLAGS = -m64 -std=gnu11 -Os -ffreestanding -fno-builtin -nostdlib \
	-mno-red-zone -fno-pic -fno-pie -fno-stack-protector -mno-sse \
	-mno-mmx -mgeneral-regs-only -mcmodel=small \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
	$(RAX_WARN)
BM_LINK_FLAGS = -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
BM_OBJS = bm/entry.bm.o bm/main.bm.o bm/exit.bm.o bm/cpuid.bm.o \
	bm/io.bm.o bm/msr.bm.o bm/intr.bm.o bm/ept.bm.o bm/host.bm.o \
	bm/console.bm.o bm/lib.bm.o bm/ata.bm.o bm/linux.bm.o \
	bm/guest_blob.bm.o
BM_PRODUCTS = $(BM_OBJS) bm/stage1.bin bm/stage2.bin bm/guest.bin \
	bm/stage3.elf bm/stage3.bin bm/rax-bm.img bm/rax-bm.img.tmp \
	bm/bochsrc-run bm/serial.out bm/bochs.log bm/debug.rc bm/run.rc bm/headers.stamp \
	bm/rax-bm-linux.img bm/rax-bm-linux.img.tmp bm/bochsrc-linux

if HAVE_NASM
# noinst_DATA is ours alone today; a module that needs it too should
# move this "=" to Makefile.am.
noinst_DATA = bm/rax-bm.img
endif
CLEANFILES += $(BM_PRODUCTS)

BM_V_NASM = $(BM_V_NASM_$(V))
BM_V_NASM_ = $(BM_V_NASM_$(AM_DEFAULT_VERBOSITY))
BM_V_NASM_0 = @echo "  NASM    " $@;
BM_V_CCAS = $(BM_V_CCAS_$(V))
BM_V_CCAS_ = $(BM_V_CCAS_$(AM_DEFAULT_VERBOSITY))
BM_V_CCAS_0 = @echo "  CCAS    " $@;
BM_V_BM = $(BM_V_BM_$(V))
BM_V_BM_ = $(BM_V_BM_$(AM_DEFAULT_VERBOSITY))
BM_V_BM_0 = @echo "  BM      " $@;

bm/%.bm.o: $(srcdir)/bm/%.c $(BM_H:%=$(srcdir)/%)
	@$(MKDIR_P) bm
	$(AM_V_CC)$(CC) $(BM_CFLAGS) -I$(srcdir)/bm -I$(srcdir)/src -c -o $@ $<

bm/entry.bm.o: $(srcdir)/bm/entry.S
	@$(MKDIR_P) bm
	$(BM_V_CCAS)$(CC) $(BM_CFLAGS) -c -o $@ $(srcdir)/bm/entry.S

bm/guest_blob.bm.o: $(srcdir)/bm/guest_blob.S bm/guest.bin
	$(BM_V_CCAS)$(CC) $(BM_CFLAGS) -Wa,-Ibm -c -o $@ \
	  $(srcdir)/bm/guest_blob.S

bm/guest.bin: $(srcdir)/bm/guest.asm
	@$(MKDIR_P) bm
	$(BM_V_NASM)$(NASM) -f bin -o $@ $(srcdir)/bm/guest.asm

bm/stage2.bin: $(srcdir)/bm/stage2.asm $(srcdir)/bm/layout.inc
	@$(MKDIR_P) bm
	$(BM_V_NASM)$(NASM) -f bin -I$(srcdir)/bm/ -o $@ $(srcdir)/bm/stage2.asm

# Every bm header compiles alone, freestanding (STYLE.md habit 10).
bm/headers.stamp: $(BM_H:%=$(srcdir)/%)
	@$(MKDIR_P) bm
	@for h in $(BM_H); do \
	  printf '#include "%s"\n' "$$h" | $(CC) $(BM_CFLAGS) -I$(srcdir) \
	    -fsyntax-only -x c - || { echo "bm: $$h does not compile alone"; \
	    exit 1; }; \
	done
	@touch $@

bm/stage3.elf: $(BM_OBJS) $(srcdir)/bm/bm.ld bm/headers.stamp
	$(AM_V_CCLD)$(CC) $(BM_CFLAGS) $(BM_LINK_FLAGS) \
	  -Wl,-T,$(srcdir)/bm/bm.ld -o $@ $(BM_OBJS)

bm/stage3.bin: bm/stage3.elf
	$(BM_V_BM)$(BM_OBJCOPY) -O binary bm/stage3.elf $@

# Stage 1 loads stage 2 (padded to 4 KiB) and stage 3: the sector count
# is known only once stage 3 is linked.
bm/stage1.bin: $(srcdir)/bm/stage1.asm $(srcdir)/bm/layout.inc bm/stage3.bin
	@n=$$(( ($$(wc -c < bm/stage3.bin) + 511) / 512 )); \
	test $$n -le $(BM_STAGE3_MAX_SECTORS) || \
	  { echo "bm: stage 3 is $$n sectors, max $(BM_STAGE3_MAX_SECTORS)"; \
	    exit 1; }; \
	$(NASM) -f bin -I$(srcdir)/bm/ \
	  -DBM_SECTORS=$$(( $$n + $(BM_STAGE2_SECTORS) )) -o $@ \
	  $(srcdir)/bm/stage1.asm

bm/rax-bm.img: bm/stage1.bin bm/stage2.bin bm/stage3.bin bm/guest.bin
	$(BM_V_BM){ cat bm/stage1.bin; \
	  dd if=bm/stage2.bin bs=4096 conv=sync 2>/dev/null; \
	  cat bm/stage3.bin; } > $@.tmp
	@dd if=/dev/null of=$@.tmp bs=512 seek=$(BM_IMG_SECTORS) 2>/dev/null
	@mv $@.tmp $@
	@s1=$$(wc -c < bm/stage1.bin); s2=$$(wc -c < bm/stage2.bin); \
	g=$$(wc -c < bm/guest.bin); s3=$$(( $$(wc -c < bm/stage3.bin) - $$g )); \
	set -- $$($(BM_NM) bm/stage3.elf | awk '/ __bss_start$$/{s=$$1} \
	  / __bss_end$$/{e=$$1} END{print s, e}'); bss=$$(( 0x$$2 - 0x$$1 )); \
	echo "bm: sizes: stage 1 $$s1 B, stage 2 $$s2 B," \
	  "stage 3 + handlers $$s3 B (+ $$bss B bss), guest $$g B;" \
	  "stages 1-3 $$(( s1 + s2 + s3 )) B (goal 16384)"

BM_COM1 = mode=file, dev=bm/serial.out
BM_OBJCOPY = objcopy
BM_NM = nm

# Interactive runs.  run-bochs: term display (VGA in this terminal), COM1
# in bm/serial.out, or as BM_COM1 says (a Bochs "com1:" mode, e.g.
# BM_COM1='mode=socket-server, dev=localhost:8888': Bochs waits for a
# client such as "nc localhost 8888", which is then the guest's console).
# debug-bochs: the Bochs debugger, stopping at every VM exit (vmexitbp);
# type "c" to continue.  bm/bochsrc-run is remade every time (BM_COM1).
bm/bochsrc-run: $(srcdir)/bm/bochsrc.in
	@$(MKDIR_P) bm
	sed -e 's|@IMG@|bm/rax-bm.img|' -e 's|@MODEL@|$(BM_MODEL)|' \
	  -e 's|@COM1@|$(BM_COM1)|' -e 's|@LOG@|bm/bochs.log|' \
	  -e 's|@DISPLAY@|term|' -e 's|@MEGS@|64|' -e 's|@CYLS@|2|' \
	  $(srcdir)/bm/bochsrc.in > $@

run-bochs: bm/rax-bm.img bm/bochsrc-run
	printf 'c\n' > bm/run.rc
	$(BOCHS) -q -f bm/bochsrc-run -rc bm/run.rc

debug-bochs: bm/rax-bm.img bm/bochsrc-run
	printf 'vmexitbp\n' > bm/debug.rc
	$(BOCHS) -q -f bm/bochsrc-run -rc bm/debug.rc

.PHONY: run-bochs debug-bochs bm/bochsrc-run

# The optional Linux guest (bm/README.md): a bzImage and initramfs
# appended after the image, behind a header sector (bm/linux-img.sh).
# Not part of "all": the kernel comes from the default guest build,
# $RAX_GUEST_DIR if set (as for rax itself), else the folder
# examples/build-guest.sh builds into ("make guest").
BM_LINUX_DIR = $${RAX_GUEST_DIR:-`bash $(srcdir)/examples/build-guest.sh --print-dir`}
bm/rax-bm-linux.img: bm/rax-bm.img $(srcdir)/bm/linux-hdr.asm \
		$(srcdir)/bm/linux-img.sh
	$(BM_V_BM)cp bm/rax-bm.img $@.tmp && \
	NASM="$(NASM)" $(SHELL) $(srcdir)/bm/linux-img.sh $@.tmp $(BM_LINUX_DIR) && \
	mv $@.tmp $@

run-bochs-linux: bm/rax-bm-linux.img
	n=$$(( $$(wc -c < bm/rax-bm-linux.img) / 516096 )); \
	sed -e 's|@IMG@|bm/rax-bm-linux.img|' -e 's|@MODEL@|$(BM_MODEL)|' \
	  -e 's|@COM1@|$(BM_COM1)|' -e 's|@LOG@|bm/bochs.log|' \
	  -e 's|@DISPLAY@|term|' -e 's|@MEGS@|128|' -e "s|@CYLS@|$$n|" \
	  $(srcdir)/bm/bochsrc.in > bm/bochsrc-linux
	printf 'c\n' > bm/run.rc
	$(BOCHS) -q -f bm/bochsrc-linux -rc bm/run.rc
.PHONY: run-bochs-linux

# The Linux tests alone (they are in TESTS too).
check-bm-linux: bm/rax-bm.img
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="tests/bm/boots-linux-to-init.test \
	  tests/bm/linux-shell-answers-on-com1.test"
.PHONY: check-bm-linux

TESTS += tests/bm/boots-guest-under-vmx.test tests/bm/reports-missing-vmx.test \
	tests/bm/reports-guest-triple-fault.test tests/bm/reports-failed-vm-entry.test \
	tests/bm/boots-linux-to-init.test tests/bm/linux-shell-answers-on-com1.test
