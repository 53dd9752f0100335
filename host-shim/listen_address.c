/*
 * listen_address.c - "ADDR:PORT" <-> socket address for the metrics
 * endpoint (see listen_address.h).
 */
#include "listen_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal port 0..65535 filling all of s; -1 otherwise. */
static long parse_port(const char *s)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v <= 65535 ? v : -1;
}

int shim_listen_parse(const char *text, shim_listen_address_t *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = text != NULL ? strrchr(text, ':') : NULL;
    memset(out, 0, sizeof(*out));
    if (colon == NULL || colon == text || (size_t)(colon - text) >= sizeof(host))
        return -1;
    long port = parse_port(colon + 1);
    if (port < 0)
        return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
    size_t hl = strlen(host);
    if (host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -1;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -1;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    out->len = sizeof(*a4);
    return 0;
}

void shim_listen_loopback(uint16_t port, shim_listen_address_t *out)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    memset(out, 0, sizeof(*out));
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out->len = sizeof(*a4);
}

const char *shim_listen_format(const shim_listen_address_t *a, uint16_t port, char *out,
                               size_t out_size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->addr)->sin6_addr, host,
                  sizeof(host));
        snprintf(out, out_size, "[%s]:%u", host, (unsigned)port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->addr)->sin_addr, host, sizeof(host));
        snprintf(out, out_size, "%s:%u", host, (unsigned)port);
    }
    return out;
}
