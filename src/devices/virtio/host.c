/* The host side of the virtio devices: --disk images and the --net
 * user network, opened by main() before the board (see virtio.h). */
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "options.h"

/* Opens one image: read-write (or read-only for ",ro"), locked with
 * flock(2), exclusively for writing and shared for reading, so a second
 * rax can neither write an image in use nor read one being written. */
static int open_disk(struct virtio_disk *d, const struct opt_disk *o,
		     struct rax_err *e)
{
	struct stat st;
	off_t end;
	int fd;

	d->path = o->path;
	d->ro = o->ro;
	fd = open(o->path, (o->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return rax_errf(e, -errno, "--disk %s: %s", o->path,
				errno == EISDIR ? "is a directory" :
				strerror(errno));
	if (fstat(fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		close(fd);
		return rax_errf(e, -ENOTBLK, "--disk %s: not a regular file or "
				"block device", o->path);
	}
	if (flock(fd, (o->ro ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		int err = errno;

		/* A kernel without file locking (CONFIG_FILE_LOCKING off,
		 * as in tests/nested's L1) or a file system without it
		 * cannot lock for anyone: go on unlocked, and say so. */
		if (err == ENOSYS || err == ENOLCK || err == EOPNOTSUPP) {
			rax_log(LOG_WARN, dev, "--disk %s: not locked (flock: "
				"%s)", o->path, strerror(err));
		} else {
			close(fd);
			if (err == EWOULDBLOCK)
				return rax_errf(e, -EBUSY, "--disk %s: locked by "
						"another process (another rax?)",
						o->path);
			return rax_errf(e, -err, "--disk %s: flock: %s",
					o->path, strerror(err));
		}
	}
	end = lseek(fd, 0, SEEK_END); /* block devices: st_size is 0 */
	if (end < 512) {
		int ret = end < 0 ? -errno : -ENODATA;

		close(fd);
		return rax_errf(e, ret, "--disk %s: %s", o->path, end < 0 ?
				strerror(-ret) :
				"smaller than one 512-byte sector");
	}
	d->fd = fd;
	d->size = (uint64_t)end & ~511ull; /* a partial last sector is cut */
	return 0;
}

int virtio_host_open(struct virtio_host *h, const struct rax_options *o,
		     struct rax_err *e)
{
	int ret;

	memset(h, 0, sizeof(*h));
	for (h->ndisks = 0; h->ndisks < o->ndisks; h->ndisks++) {
		ret = open_disk(&h->disk[h->ndisks], &o->disk[h->ndisks], e);
		if (ret)
			goto out_close;
	}
	if (o->net) {
		ret = net_user_open(&h->net, o->net, e);
		if (ret)
			goto out_close;
	}
	h->rng = o->rng;
	return 0;

out_close:
	virtio_host_close(h);
	return ret;
}

void virtio_host_close(struct virtio_host *h)
{
	while (h->ndisks) {
		struct virtio_disk *d = &h->disk[--h->ndisks];

		close(d->fd); /* releases the lock */
	}
	if (h->net)
		net_user_close(h->net);
	h->net = NULL;
}
