/* server.h - the HTTP(S) server: libmicrohttpd, one thread per connection.
 *
 * od_server_start returns once the socket listens; requests are served on
 * MHD's threads until od_server_stop. */
#ifndef OD_SERVER_H
#define OD_SERVER_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct od_server od_server_t;

/* CFG is copied (its strings must outlive the server). NULL with a reason
 * in ERR on failure (bad address, unreadable PEM, no TLS support, port in
 * use). */
od_server_t *od_server_start(const od_config_t *cfg, char *err, size_t errlen);

/* The port actually listened on. */
uint16_t od_server_port(const od_server_t *s);

/* Wake every waiting handler, close all connections, join, free. */
void od_server_stop(od_server_t *s);

#endif
