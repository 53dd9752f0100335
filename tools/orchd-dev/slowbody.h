/* slowbody.h - MHD responses whose bodies misbehave on purpose (fault
 * "body_mode"): huge (1 GiB), endless (chunked, never ends) and trickle
 * (1 byte per second). All end early when the server is stopping. */
#ifndef OD_SLOWBODY_H
#define OD_SLOWBODY_H

#include "faults.h"

#include <microhttpd.h>
#include <stddef.h>

#define OD_HUGE_BODY_BYTES (1024ull * 1024 * 1024)

/* BODY[0..len) is copied. huge/endless send BODY followed by spaces (so a
 * client that reads it all still sees the same JSON); trickle sends BODY
 * itself, one byte a second, with its real Content-Length. */
struct MHD_Response *od_slowbody_response(enum od_body_mode mode, const char *body, size_t len);

#endif
