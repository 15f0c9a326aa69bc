/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Addresses: local X displays, X410 displays and the upstream/listen
 * addresses (vsock:, unix:, tcp:).  Pure functions: no logging, no I/O
 * (except addr_resolve(), which asks the resolver).  Parsers return -errno
 * and, through ret_error, a static sentence that says what is wrong.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#define X11_UNIX_DIR "/tmp/.X11-unix"
#define X11_LOCK_DIR "/tmp"
#define DISPLAY_MAX 65535u

/* X410 display M is served on VSOCK port 6000 + M, on the host (CID 2). */
#define X410_PORT_BASE 6000u
/* 0xFFFFFFFF is VMADDR_PORT_ANY / VMADDR_CID_ANY, never a peer. */
#define VSOCK_PORT_MAX 0xFFFFFFFEu
/* Every port VSOCK can name: whether hv_sock reaches ports above
 * 0x7FFFFFFF depends on the kernel (those that do not answer
 * ENETUNREACH), so it is the kernel's answer that is reported, not a
 * limit guessed here. */
#define X410_DISPLAY_MAX (VSOCK_PORT_MAX - X410_PORT_BASE)
#define VSOCK_CID_MAX 0xFFFFFFFEu

/* "XXXXXXXX-FACB-11E6-BD58-64006A7986D3" + NUL */
#define ADDR_GUID_MAX 37
/* Enough for any formatted address. */
#define ADDR_FORMAT_MAX 320

int addr_parse_display(const char *s, unsigned *ret_display, const char **ret_error);
int addr_display_socket_path(unsigned display, const char *dir, char *buf, size_t size);
/* The abstract name without its leading NUL, "/tmp/.X11-unix/XN". */
int addr_display_abstract_name(unsigned display, char *buf, size_t size);
int addr_display_lock_path(unsigned display, const char *dir, char *buf, size_t size);

int addr_parse_x410_display(const char *s, uint32_t *ret_display, const char **ret_error);
uint32_t addr_x410_port(uint32_t x410_display);
/* The Hyper-V guest communication service GUID of a VSOCK port. */
void addr_service_guid(uint32_t port, char buf[static ADDR_GUID_MAX]);

enum addr_kind {
	ADDR_NONE = 0,
	ADDR_VSOCK,
	ADDR_UNIX,
	ADDR_TCP,
};

/* Values that parse but that hv_sock will refuse (ENETUNREACH). */
enum {
	ADDR_WARN_HVSOCK_CID = 1 << 0,   /* hv_sock reaches only CID 2 */
};

union sockaddr_union {
	struct sockaddr sa;
	struct sockaddr_un un;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_vm vm;
	struct sockaddr_storage storage;
};

struct addr {
	enum addr_kind kind;
	union sockaddr_union sa;
	socklen_t sa_len;       /* 0 while a tcp host name is unresolved */
	bool abstract;          /* unix: the name is in the abstract namespace */
	char host[256];         /* tcp: the host as given, without brackets */
	uint16_t port;          /* tcp: the port */
	unsigned warnings;      /* ADDR_WARN_* */
};

int addr_parse(const char *s, struct addr *ret, const char **ret_error);
void addr_vsock(uint32_t cid, uint32_t port, struct addr *ret);
/* path starting with '@' is abstract. */
int addr_unix(const char *path, struct addr *ret);
/* "vsock:2:6000", "unix:/tmp/x", "unix:@name", "tcp:[::1]:6000" */
int addr_format(const struct addr *a, char *buf, size_t size);
int addr_family(const struct addr *a);
/* Resolve a tcp host name (first address); no-op for everything else.
 * Returns 0 or -errno (-EHOSTUNREACH when the name does not resolve). */
int addr_resolve(struct addr *a);
/* The same; when the resolver says no (-EHOSTUNREACH), *ret_why is its
 * answer (gai_strerror), else NULL. */
int addr_resolve_why(struct addr *a, const char **ret_why);
