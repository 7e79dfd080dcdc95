# examples: the default guest (examples/README-guest.md), the key that ties
# rax to its cache folder, and the statically linked rax for tests/nested.
EXTRA_DIST += examples/guest.config examples/l1.config \
	examples/build-guest.sh examples/guest-key.sh examples/README-guest.md

# src/guest.c looks for $HOME/.cache/rax/guest-$(RAX_GUEST_KEY).  The key
# is computed by the same script build-guest.sh uses; the header is only
# rewritten when the key changes.
GUEST_KEY_DEPS = $(srcdir)/examples/guest-key.sh \
	$(srcdir)/examples/guest.config $(srcdir)/examples/build-guest.sh
BUILT_SOURCES += src/guest-key.h
CLEANFILES += src/guest-key.h
# BUILT_SOURCES covers make all and make check only: `make rax` on a
# clean tree needs the header ordered before the object that includes it.
src/guest.$(OBJEXT): src/guest-key.h
src/guest-key.h: $(GUEST_KEY_DEPS)
	$(AM_V_GEN)$(MKDIR_P) src && \
	key=`$(SHELL) $(srcdir)/examples/guest-key.sh` && \
	printf '%s\n' '/* Generated from examples/guest-key.sh: do not edit. */' \
	  "#define RAX_GUEST_KEY \"$$key\"" >$@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

# The default guest and the L1 host kernel, built into the cache
# (${RAX_CACHE:-$HOME/.cache/rax}); a no-op when already built.
guest:
	$(SHELL) $(srcdir)/examples/build-guest.sh
guest-l1:
	$(SHELL) $(srcdir)/examples/build-guest.sh --l1

# rax linked with -static, to run inside the L1 initramfs (tests/nested).
# Without the user-mode network: there is no static libslirp to link.
CLEANFILES += rax-static$(EXEEXT)
RAX_STATIC_OBJECTS = $(filter-out %slirp.$(OBJEXT),$(rax_OBJECTS))
rax-static$(EXEEXT): $(rax_OBJECTS) $(rax_DEPENDENCIES)
	$(AM_V_CCLD)$(LINK) -static $(RAX_STATIC_OBJECTS) librax.a $(LIBS)

.PHONY: guest guest-l1
