/*
 * sd_notify.c - systemd's notify datagrams (see sd_notify.h). The address
 * and watchdog parsers are pure; the rest is one socket and sendto().
 */
#include "sd_notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shim_notify_parse_address(const char *value, struct sockaddr_un *addr, socklen_t *len)
{
    size_t n = value != NULL ? strlen(value) : 0;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (n < 2 || (value[0] != '/' && value[0] != '@') || n > sizeof(addr->sun_path) - 1)
        return -1;
    memcpy(addr->sun_path, value, n);
    if (value[0] == '@')
        addr->sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends the name */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
    return 0;
}

/* A decimal integer in [1, max] filling all of s, else 0. */
static unsigned long long positive(const char *s, unsigned long long max)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && v <= max ? v : 0;
}

uint64_t shim_notify_watchdog_period(const char *usec, const char *pid, pid_t self)
{
    unsigned long long us = positive(usec, UINT64_MAX / 1000);
    if (us == 0)
        return 0;
    if (pid != NULL && positive(pid, (unsigned long long)INT32_MAX) != (unsigned long long)self)
        return 0;
    return (uint64_t)us * 1000u / 2u;
}

int shim_notify_open(shim_notify_t *n, char *err, size_t err_size)
{
    const char *socket_env = getenv("NOTIFY_SOCKET");
    memset(n, 0, sizeof(*n));
    n->fd = -1;
    n->watchdog_ns =
        shim_notify_watchdog_period(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
    char value[sizeof(n->addr.sun_path) + 1];
    snprintf(value, sizeof(value), "%s", socket_env != NULL ? socket_env : "");
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    if (socket_env == NULL)
        return 0;
    if (shim_notify_parse_address(value, &n->addr, &n->addr_len) != 0) {
        snprintf(err, err_size, "NOTIFY_SOCKET \"%.*s\" is not an absolute path or @name", 108,
                 value);
        return -1;
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        snprintf(err, err_size, "cannot open a socket for NOTIFY_SOCKET: %s", strerror(errno));
        return -1;
    }
    return 1;
}

int shim_notify_send(shim_notify_t *n, const char *text)
{
    if (n->fd < 0)
        return 0;
    ssize_t sent = sendto(n->fd, text, strlen(text), MSG_NOSIGNAL,
                          (const struct sockaddr *)&n->addr, n->addr_len);
    return sent == (ssize_t)strlen(text) ? 0 : -1;
}

void shim_notify_close(shim_notify_t *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}
