# bench: benchmarks and fuzz targets; never part of make check.
EXTRA_DIST += bench/boot-time.py bench/kvm-nested.sh
