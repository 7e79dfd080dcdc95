/* Host-side decompression of a bzImage payload (boot.rst,
 * "payload_offset": the format is known by its magic number).  The
 * kernel build appends the uncompressed size as 4 little-endian bytes
 * (scripts/Makefile.lib, size_append), so every decoder stops at the end
 * of its stream and ignores what follows. */
#include "config.h"
#include "loader/ld_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_LZMA
#include <lzma.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif
#ifdef HAVE_LZ4
#include <lz4.h>
#endif

typedef int decode_fn(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		      size_t *len);

#ifdef HAVE_ZLIB
/* A gzip member (RFC 1952) through zlib's gzip-only window mode. */
static int decode_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		       size_t *len)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (n > UINT_MAX)
		return -EINVAL;
	if (cap > UINT_MAX)
		cap = UINT_MAX;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = inflate(&z, Z_FINISH);
	*len = z.total_out;
	inflateEnd(&z);
	if (r == Z_STREAM_END)
		return 0;
	return r == Z_BUF_ERROR && !z.avail_out ? -EFBIG : -EINVAL;
}
#define DECODE_GZIP decode_gzip
#else
#define DECODE_GZIP NULL
#endif

#ifdef HAVE_LZMA
/* One .xz stream (Linux uses the x86 BCJ filter before LZMA2; liblzma
 * applies whatever filter chain the block headers name). */
static int decode_xz(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		     size_t *len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;

	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap;
	/* LZMA_BUF_ERROR ends the loop when no progress is possible. */
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK && s.avail_out);
	*len = s.total_out;
	lzma_end(&s);
	if (r == LZMA_STREAM_END)
		return 0;
	return !s.avail_out ? -EFBIG : -EINVAL;
}
#define DECODE_XZ decode_xz
#else
#define DECODE_XZ NULL
#endif

#ifdef HAVE_ZSTD
/* One zstd frame, decoded in a single pass straight into out (no window
 * buffer, so the 128 MiB window of "zstd -22 --ultra" costs nothing). */
static int decode_zstd(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		       size_t *len)
{
	size_t fsize = ZSTD_findFrameCompressedSize(in, n), r;
	ZSTD_DCtx *d;

	if (ZSTD_isError(fsize))
		return -EINVAL;
	d = ZSTD_createDCtx();
	if (!d)
		return -ENOMEM;
	r = ZSTD_decompressDCtx(d, out, cap, in, fsize);
	ZSTD_freeDCtx(d);
	if (!ZSTD_isError(r)) {
		*len = r;
		return 0;
	}
	return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? -EFBIG
								   : -EINVAL;
}
#define DECODE_ZSTD decode_zstd
#else
#define DECODE_ZSTD NULL
#endif

#ifdef HAVE_LZ4
/* The LZ4 legacy frame ("lz4 -l"): the magic, then blocks each preceded
 * by its compressed size (32-bit LE) and expanding to at most 8 MiB.
 * The magic may recur (concatenated streams).  The last 4 bytes, the
 * size Linux appends, are too small to be a block and end the stream. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int lz4_block(const uint8_t *in, uint32_t bs, uint8_t *out,
		     size_t room, size_t *len)
{
	int r, cap = (int)(room < LZ4_LEGACY_BLOCK ? room : LZ4_LEGACY_BLOCK);

	r = LZ4_decompress_safe((const char *)in, (char *)out, (int)bs, cap);
	if (r < 0)
		return room < LZ4_LEGACY_BLOCK ? -EFBIG : -EINVAL;
	*len += (size_t)r;
	return 0;
}

static int decode_lz4(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		      size_t *len)
{
	size_t pos = 4;
	uint32_t bs;
	int ret;

	*len = 0;
	while (n - pos >= 4) {
		bs = le32(in + pos);
		pos += 4;
		if (bs == LZ4_LEGACY_MAGIC)
			continue;
		if (n - pos == 0 && *len)
			break; /* the appended size */
		if (!bs || bs > n - pos ||
		    bs > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			return -EINVAL;
		ret = lz4_block(in + pos, bs, out + *len, cap - *len, len);
		if (ret)
			return ret;
		pos += bs;
	}
	return *len ? 0 : -EINVAL;
}
#define DECODE_LZ4 decode_lz4
#else
#define DECODE_LZ4 NULL
#endif

/* Formats by magic (boot.rst, "payload_offset"); NULL: not decodable
 * here, either never (bzip2, lzma, lzo) or not built in. */
struct format {
	const char *name;
	const char *magic;
	size_t magic_len;
	decode_fn *decode;
};

static const struct format formats[] = {
	{ "gzip", "\x1f\x8b", 2, DECODE_GZIP },
	{ "xz", "\xfd" "7zXZ\0", 6, DECODE_XZ },
	{ "zstd", "\x28\xb5\x2f\xfd", 4, DECODE_ZSTD },
	{ "lz4", "\x02\x21\x4c\x18", 4, DECODE_LZ4 },
	{ "bzip2", "BZh", 3, NULL },
	{ "lzma", "\x5d\x00", 2, NULL },
	{ "lzo", "\x89LZO", 4, NULL },
};

static const struct format *find_format(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].magic_len &&
		    !memcmp(p, formats[i].magic, formats[i].magic_len))
			return &formats[i];
	return NULL;
}

const char *ld_payload_format(const uint8_t *p, size_t len)
{
	const struct format *f = find_format(p, len);

	return f ? f->name : NULL;
}

int ld_decompress(const struct ld_image *in, uint8_t *out, size_t cap,
		  size_t *out_len, struct rax_err *e)
{
	const struct format *f = find_format(in->p, in->size);
	int ret;

	if (!f)
		return rax_errf(e, -ENOEXEC, "%s: unknown payload compression "
				"(magic %02x %02x)", in->path,
				in->size > 0 ? in->p[0] : 0,
				in->size > 1 ? in->p[1] : 0);
	if (!f->decode)
		return rax_errf(e, -ENOTSUP, "%s: compression %s not supported "
				"on the host; use --decompress guest",
				in->path, f->name);
	*out_len = 0;
	ret = f->decode(in->p, in->size, out, cap, out_len);
	if (ret == -EFBIG)
		return rax_errf(e, ret, "%s: the decompressed kernel is larger "
				"than guest memory (%zu MiB)", in->path,
				cap >> 20);
	if (ret == -ENOMEM)
		return rax_errf(e, ret, "%s: out of memory for the %s decoder",
				in->path, f->name);
	if (ret)
		return rax_errf(e, ret, "%s: corrupt %s payload", in->path,
				f->name);
	return 0;
}
