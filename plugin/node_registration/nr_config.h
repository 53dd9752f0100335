/*
 * nr_config.h - the node-registration plugin's configuration: JSON text from
 * init() plus pool-managerd's environment variables -> one validated struct.
 * Pure: no network, no threads; the environment is read through a lookup
 * function so tests can supply their own.
 */
#ifndef NR_CONFIG_H
#define NR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define NR_NODE_ID_MAX 255       /* bytes; longer node ids are refused */
#define NR_MAX_CONFIG_POOLS 1024 /* pools listed in config or environment */
#define NR_MAX_CONFIG_GPUS 64
#define NR_DEREGISTER_TIMEOUT_MAX_MS 30000u
#define NR_INTERVAL_MAX_MS 86400000u /* one day */

/* Documented floors: a value below one is refused with an error naming the
 * key and the floor. Derived defaults never fall below them (the request
 * timeout defaults to at most the interval, the connect timeout to at most
 * the request timeout, and each floor is at most the one it derives from). */
#define NR_HEARTBEAT_INTERVAL_MIN_MS 100u
#define NR_REQUEST_TIMEOUT_MIN_MS 100u
#define NR_CONNECT_TIMEOUT_MIN_MS 50u
#define NR_DEREGISTER_TIMEOUT_MIN_MS 100u
#define NR_RETRY_BASE_MIN_MS 10u /* and retry_max_ms >= retry_base_ms */

#define NR_KEY_PASSWORD_MAX 1024 /* bytes of a client_key passphrase */

/* A GPU as the config describes it (protocol GpuInfo). */
typedef struct nr_config_gpu {
    uint32_t device_id;
    uint64_t vram_total_bytes;
    char *name;
    char *compute_capability;
} nr_config_gpu_t;

typedef struct nr_config {
    char *node_id;    /* never NULL after a successful parse */
    char *machine_id; /* never NULL (defaults to node_id) */
    char *address;    /* never NULL */
    char *base_url;   /* orchestratord_url without trailing '/' */

    int has_pools; /* 1 = pool ids come from config/env, not the host */
    char **pools;  /* has_pools: pool ids */
    size_t pool_count;

    int has_capabilities; /* 1 = capabilities from config, not the host */
    nr_config_gpu_t *gpus;
    size_t gpu_count;
    uint32_t cpu_cores;       /* 0 = not reported */
    uint64_t ram_total_bytes; /* 0 = not reported */

    uint32_t heartbeat_interval_ms;
    uint32_t request_timeout_ms;    /* default: min(interval, 5000) */
    uint32_t connect_timeout_ms;    /* default: min(request timeout, 2000) */
    uint32_t deregister_timeout_ms; /* default 2000, at most 30000 */
    uint32_t retry_base_ms;         /* default 250 */
    uint32_t retry_max_ms;          /* default 10000 */

    char *api_token;      /* secret: never printed; NULL = none */
    char *api_token_file; /* NULL = token not from a file */

    char *ca_file;     /* NULL = system roots */
    char *client_cert; /* NULL = no mTLS */
    char *client_key;
    char *client_key_password; /* secret: never printed; from client_key_password_file */
    int tls_insecure;          /* 1 only when the config says true */

    /* The only proxy the plugin uses: an http://, https:// or socks5h://
     * URL, possibly with credentials (a secret: log it only through
     * nr_config_proxy_display). NULL = no proxy at all; the proxy
     * environment variables (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY)
     * are never read. */
    char *proxy;
} nr_config_t;

/* Returns the value of an environment variable, or NULL. */
typedef const char *(*nr_env_lookup_fn)(const char *name, void *ctx);

/*
 * Parses and validates. defaults_json (may be NULL) is a deployment's baked-in
 * config: config_json overrides it key by key. Keys neither gives fall back
 * to the environment (protocol.md's names), then to the documented defaults.
 * On success returns 0 and fills *out (free with nr_config_free). On failure
 * returns -1, leaves *out empty, and writes one line naming the field into
 * err. The token's value never appears in err.
 */
int nr_config_parse(const char *defaults_json, const char *config_json, nr_env_lookup_fn env,
                    void *env_ctx, nr_config_t *out, char *err, size_t err_size);

/* Reads a token file: trims trailing whitespace and newlines, validates the
 * token's characters. Returns a malloc'd token or NULL with err set (the
 * message names the file, never the content). Also used for rotation. */
char *nr_config_read_token_file(const char *path, char *err, size_t err_size);

/* Returns 1 when token is usable in an Authorization header: 1..4096 bytes of
 * visible ASCII (0x21..0x7e). */
int nr_config_token_is_valid(const char *token);

/* Writes proxy as scheme://host[:port] into out: without credentials
 * (user:password@), path, query or fragment, for a log line. Returns 0, or
 * -1 with out = "" when proxy is NULL, not a URL with a host, or does not
 * fit in size bytes. */
int nr_config_proxy_display(const char *proxy, char *out, size_t size);

/* 1 when the host of url (the control plane's or a proxy's), as libcurl's
 * URL parser reads it, is loopback: localhost, an IPv4 address in
 * 127.0.0.0/8 (in any form libcurl accepts, e.g. 127.1), [::1] or
 * [::ffff:127.x.y.z]; else 0 (also for a name such as 127.0.0.1.example.com,
 * and for NULL or what is not a URL). */
int nr_config_url_is_loopback(const char *url);

/* 1 when text[0..len) holds an encrypted (passphrase-protected) PEM private
 * key: PKCS#8 "-----BEGIN ENCRYPTED PRIVATE KEY-----" or a traditional key
 * with a "Proc-Type: 4,ENCRYPTED" header; else 0. Pure. */
int nr_config_pem_is_encrypted(const char *text, size_t len);

/* The environment lookup that uses getenv(). */
const char *nr_config_getenv(const char *name, void *ctx);

void nr_config_free(nr_config_t *cfg);

#endif /* NR_CONFIG_H */
