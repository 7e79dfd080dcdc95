#!/usr/bin/env bash
# Builds and runs a libFuzzer target with ASan and UBSan (not part of CI).
# Usage: bench/fuzz/run.sh TARGET SECONDS
#   (TARGET: rsp, decoder, paging, loader)
# Builds in bench/fuzz/build-TARGET/ (outside the autotools build), keeps
# the corpus in bench/fuzz/corpus-TARGET/ (started from the committed
# seeds in bench/fuzz/seeds-TARGET/ when there are any), prints
# libFuzzer's final stats.
set -euo pipefail
target=${1:?usage: $0 TARGET SECONDS}
secs=${2:?usage: $0 TARGET SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$here/build-$target
corpus=$here/corpus-$target
mkdir -p "$out" "$corpus"
rm -f "$out/config.h.in"
maxlen=70000
if [ -d "$here/seeds-$target" ]; then
	cp -n "$here/seeds-$target"/* "$corpus"/
fi
libs=

case $target in
rsp)
	srcs="bench/fuzz/fuzz_rsp.c tests/unit/test_rsp_fake.c
	      src/rsp/rsp_packet.c src/rsp/rsp_cmds.c src/rsp/rsp_monitor.c
	      src/rsp/rsp_regs.c src/paging/paging.c src/machine.c src/mem.c
	      src/err.c src/log.c src/iobus.c"
	# Seeds: what gdb sends in a session.
	for p in 'qSupported:multiprocess+;swbreak+' '?' 'g' 'p10' 'P10=0010000000000000' \
		 'm100000,40' 'M1000,2:abcd' 'X1000,2:ab' 'Z0,1000,1' 'z0,1000,1' \
		 'Z2,2000,4' 'vCont;r1000,2000' 'qXfer:features:read:target.xml:0,ffb' \
		 'qRcmd,696e666f20726567697374657273' 'qRcmd,696e666f206d656d' \
		 'qXfer:threads:read::0,fff'; do
		sum=0
		for ((i = 0; i < ${#p}; i++)); do
			sum=$(( (sum + $(printf '%d' "'${p:i:1}")) % 256 ))
		done
		printf '\x07$%s#%02x' "$p" "$sum" > "$corpus/seed-$(echo "$p" | md5sum | cut -c1-8)"
	done
	;;
decoder)
	srcs="bench/fuzz/fuzz_decoder.c src/decoder/decoder.c
	      src/decoder/disasm.c"
	maxlen=32
	;;
paging)
	srcs="bench/fuzz/fuzz_paging.c src/paging/paging.c src/mem.c
	      src/err.c src/log.c"
	;;
loader)
	srcs="bench/fuzz/fuzz_loader.c src/loader/*.c src/mem.c src/err.c
	      src/log.c src/machine.c src/iobus.c"
	for h in ZLIB:zlib.h:-lz LZMA:lzma.h:-llzma ZSTD:zstd.h:-lzstd \
		 LZ4:lz4frame.h:-llz4; do
		IFS=: read -r name hdr lib <<< "$h"
		if [ -f "/usr/include/$hdr" ]; then
			printf '#define HAVE_%s 1\n' "$name" >> "$out/config.h.in"
			libs="$libs $lib"
		fi
	done
	;;
*)
	echo "unknown target $target (known: rsp decoder paging loader)" >&2
	exit 1
	;;
esac

# A config.h with just what the sources need.
printf '#define PACKAGE_VERSION "fuzz"\n' > "$out/config.h"
if [ -f "$out/config.h.in" ]; then
	cat "$out/config.h.in" >> "$out/config.h"
	rm -f "$out/config.h.in"
fi
cd "$top"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -Isrc -Itests/unit -I"$out" $srcs $libs -lpthread \
	-o "$out/fuzz-$target"
"$out/fuzz-$target" -max_total_time="$secs" -max_len="$maxlen" \
	-artifact_prefix="$out/" \
	-print_final_stats=1 "$corpus" 2>&1 | tail -25
