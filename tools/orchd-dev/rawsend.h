/* rawsend.h - answers written straight to the connection's socket, for the
 * faults MHD cannot produce: a response cut into 1-byte TCP segments
 * (body_mode "tiny_segments"), a 204 that carries a body, and a connection
 * reset (RST) instead of an answer ("reset"). Plain HTTP only: on a TLS
 * connection the bytes would bypass the encryption, so server.c answers
 * normally there.
 *
 * After a raw write the request handler returns MHD_NO: MHD queues nothing
 * and closes the connection, which is why each raw answer says
 * "Connection: close". */
#ifndef OD_RAWSEND_H
#define OD_RAWSEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct od_raw_answer {
    int status;
    const char *body; /* may be NULL */
    size_t len;
    int is_json;
    const char *correlation_id;
    int64_t retry_after; /* seconds, or -1 */
} od_raw_answer_t;

/* Writes the status line, headers and body to FD. TINY: one byte per send()
 * with TCP_NODELAY and a 1 ms pause between, so every byte travels in its own
 * segment; else in one go. Returns 0, or -1 when the peer went away or the
 * server is stopping. */
int od_raw_send(int fd, const od_raw_answer_t *a, int tiny);

/* Resets the connection on FD now: the peer gets an RST (ECONNRESET), not
 * a FIN; what is still queued is discarded. 0 / -1. */
int od_raw_reset(int fd);

#endif
