/*
 * metrics_server.h - the --metrics-listen endpoint: a libmicrohttpd server on
 * one address (127.0.0.1 unless the operator names another), with its own
 * thread, answering GET /metrics with the
 * latest published snapshot as Prometheus text (metrics_format.h).
 *
 * Threads: the ABI allows stats to be read only on the host thread, so the
 * server never calls the plugin. The run loop reads stats and publishes a
 * copy (shim_metrics_server_publish: a memcpy under a mutex); the server's
 * thread copies the latest one out under the same mutex and formats it
 * outside. Neither side holds the lock for more than a copy, so no client,
 * however slow, can hold up a tick.
 */
#ifndef SHIM_METRICS_SERVER_H
#define SHIM_METRICS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "listen_address.h"
#include "metrics_format.h"

typedef struct shim_metrics_server shim_metrics_server_t;

/* Listens on the address at (port 0 = a free port) with initial as the
 * first snapshot. NULL with one line in err on failure (port in use...). */
shim_metrics_server_t *shim_metrics_server_start(const shim_listen_address_t *at,
                                                 const shim_metrics_snapshot_t *initial, char *err,
                                                 size_t err_size);

/* The port actually bound. */
uint16_t shim_metrics_server_port(const shim_metrics_server_t *srv);

/* Replaces the snapshot scrapes see. Any thread; never waits on a client. */
void shim_metrics_server_publish(shim_metrics_server_t *srv, const shim_metrics_snapshot_t *snap);

/* Stops the thread, closes every connection, frees. NULL is a no-op. */
void shim_metrics_server_stop(shim_metrics_server_t *srv);

/* Writes "PORT\n" to a temporary file beside path and renames it over path,
 * so a reader never sees a partial file. 0, or -1 with errno set. */
int shim_write_port_file(const char *path, uint16_t port);

#endif /* SHIM_METRICS_SERVER_H */
