/*
 * listen_address.h - the metrics endpoint's "ADDR:PORT" (--metrics-listen):
 * a numeric IPv4 address or a bracketed IPv6 one, and a port, parsed into a
 * socket address and written back for the log. Pure: no sockets, no DNS
 * (a name would make the bound address depend on the resolver at start).
 */
#ifndef SHIM_LISTEN_ADDRESS_H
#define SHIM_LISTEN_ADDRESS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct shim_listen_address {
    struct sockaddr_storage addr; /* sockaddr_in or sockaddr_in6 */
    socklen_t len;
} shim_listen_address_t;

/* "127.0.0.1:9464", "0.0.0.0:0", "[::1]:9464", "[::]:9464" (port 0 = a
 * free one). 0, or -1 for anything else (names, a missing or out-of-range
 * port, IPv6 without brackets). */
int shim_listen_parse(const char *text, shim_listen_address_t *out);

/* 127.0.0.1:port, the default. */
void shim_listen_loopback(uint16_t port, shim_listen_address_t *out);

/* The address as "ADDR:PORT" ("[ADDR]:PORT" for IPv6) with port in place
 * of the one stored; out needs 64 bytes. Returns out. */
const char *shim_listen_format(const shim_listen_address_t *a, uint16_t port, char *out,
                               size_t out_size);

#endif /* SHIM_LISTEN_ADDRESS_H */
