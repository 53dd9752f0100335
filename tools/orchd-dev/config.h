/* config.h - orchd-dev's settings, filled by main.c from the command line
 * and read by server.c. */
#ifndef OD_CONFIG_H
#define OD_CONFIG_H

#include <stdint.h>

typedef struct od_config {
    const char *bind;       /* numeric IPv4/IPv6 address */
    uint16_t port;          /* 0 = any free port */
    const char *port_file;  /* NULL = none */
    const char *token;      /* NULL = none (also from LLORCH_API_TOKEN) */
    const char *token_file; /* NULL = none; re-read on change */
    uint64_t offline_timeout_ms;
    uint64_t next_heartbeat_ms;
    int strict_unknown;
    int quiet;
    const char *tls_cert, *tls_key, *tls_client_ca; /* PEM paths; NULL = off */
} od_config_t;

#endif
