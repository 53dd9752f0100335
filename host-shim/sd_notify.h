/*
 * sd_notify.h - pmd-host-shim's side of systemd's notify protocol
 * (sd_notify(3), "Type=notify"): one datagram per message, "KEY=value"
 * lines, sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for an abstract address). Written here instead of linking
 * libsystemd: the protocol is a documented stable interface and this is
 * all of it the shim needs.
 *
 * What the shim sends (main.c): READY=1 once the plugin is started;
 * STATUS=<state, heartbeat age> at most once a second, at once on a state
 * change; WATCHDOG=1 from the tick loop every half of $WATCHDOG_USEC, so a
 * wedged host thread stops it and systemd restarts the service;
 * STOPPING=1 when the run loop ends. Without $NOTIFY_SOCKET every call is
 * a no-op.
 */
#ifndef SHIM_SD_NOTIFY_H
#define SHIM_SD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

typedef struct shim_notify {
    int fd; /* -1: not under systemd's notify (or it failed) */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_ns; /* WATCHDOG=1 period (half WATCHDOG_USEC); 0 = none */
    int send_failed;      /* a send failed since the last success (logged once) */
} shim_notify_t;

/* $NOTIFY_SOCKET's value as an address: "/path" or "@abstract" ('@' is
 * NUL on the wire). 0, or -1 when value is empty, relative or too long. */
int shim_notify_parse_address(const char *value, struct sockaddr_un *addr, socklen_t *len);

/* The WATCHDOG=1 period in ns for $WATCHDOG_USEC and $WATCHDOG_PID (either
 * may be NULL): half the timeout, or 0 when there is no watchdog, the value
 * is not a positive integer, or WATCHDOG_PID names another process. */
uint64_t shim_notify_watchdog_period(const char *usec, const char *pid, pid_t self);

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then removes them
 * from the environment (the plugin and anything it starts must not speak
 * for this service), and opens a close-on-exec datagram socket. Returns 0
 * when the variable is not set (n->fd = -1), 1 when notification is on,
 * -1 with one line in err when it is set but unusable (n->fd = -1).
 */
int shim_notify_open(shim_notify_t *n, char *err, size_t err_size);

/* Sends text ("READY=1\nSTATUS=..."). 0, or -1 with errno (never
 * SIGPIPE; never blocks). A no-op returning 0 when notification is off. */
int shim_notify_send(shim_notify_t *n, const char *text);

/* Closes the socket; safe on a closed or never-opened one. */
void shim_notify_close(shim_notify_t *n);

#endif /* SHIM_SD_NOTIFY_H */
