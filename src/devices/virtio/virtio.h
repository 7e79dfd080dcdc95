/* virtio-pci devices (src/devices/virtio): virtio-blk (blk.c) for each
 * --disk, virtio-net (net.c) with the user-mode network of libslirp
 * (slirp.c) for --net user, virtio-rng (rng.c) for --rng, all on the
 * virtio 1.x PCI transport (transport.c) with split virtqueues
 * (queue.c).
 *
 * main() opens the host side first (virtio_host_open: the images, with
 * their locks, and the network with its port forwards), so bad input
 * ends rax with a one-line message before anything runs; it then sets
 * m->virtio, and the board table (dev.h) creates the devices from it:
 * the disks in --disk order on the lowest PCI slots (the guest names
 * them vda, vdb, ...), then the network, then the entropy source. */
#ifndef RAX_VIRTIO_H
#define RAX_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct rax_options;
struct net_user;

#define VIRTIO_MAX_DISKS 16

/* An opened --disk image. */
struct virtio_disk {
	const char *path;
	int fd;
	bool ro;
	uint64_t size;          /* bytes; the guest sees size / 512 sectors */
};

struct virtio_host {
	struct virtio_disk disk[VIRTIO_MAX_DISKS];
	unsigned ndisks;
	struct net_user *net;   /* --net user, or NULL */
	bool rng;               /* --rng */
};

/* Opens what o asks for (--disk, --net, --rng) into *h.  Returns 0;
 * -EINVAL for a malformed --net (a usage error); -ENOSYS when rax was
 * built without libslirp; or another -errno for bad input (a missing,
 * unreadable, empty or locked image, a directory, a port that cannot be
 * bound).  The message in *e is one line naming the option. */
int virtio_host_open(struct virtio_host *h, const struct rax_options *o,
		     struct rax_err *e) __attribute__((warn_unused_result));
/* Closes the images (their locks go with them) and the network. */
void virtio_host_close(struct virtio_host *h);

/* The user-mode network (slirp.c; without libslirp the weak fallbacks
 * in net.c say so).  spec is what follows "--net ": "user" then
 * ",hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" any number
 * of times (udp: too); HOSTADDR defaults to 127.0.0.1, GUESTADDR to
 * 10.0.2.15.  Returns 0, -EINVAL (syntax), -ENOSYS (no libslirp) or
 * -errno (a forward cannot listen). */
int net_user_open(struct net_user **out, const char *spec, struct rax_err *e)
	__attribute__((warn_unused_result));
/* Starts the network's thread: frames for the guest go to
 * rx(opaque, frame, len) from it (or from net_user_send's caller when
 * the stack answers at once). Returns 0 or -errno. */
int net_user_start(struct net_user *u,
		   void (*rx)(void *opaque, const uint8_t *frame, size_t len),
		   void *opaque);
/* A frame from the guest. */
void net_user_send(struct net_user *u, const uint8_t *frame, size_t len);
/* Stops the thread (no rx after it returns). */
void net_user_stop(struct net_user *u);
void net_user_close(struct net_user *u);

#endif
