# bench: benchmarks and fuzz targets; never part of make check.
EXTRA_DIST += bench/boot-time.py bench/gdb-bench.py bench/kvm-nested.sh \
	bench/virtio-bench.py bench/kut.sh bench/reverse-bench.py \
	bench/selftests-x86.sh
