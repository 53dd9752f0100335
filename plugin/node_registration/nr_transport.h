/*
 * nr_transport.h - HTTP for the network thread: one libcurl easy handle on a
 * multi handle, so that one kept-alive connection is reused, any wait or
 * request can be interrupted at once from the host thread (stop), TLS is
 * verified, and nothing unbounded is accepted from the server.
 * Carries out requests; decides nothing.
 */
#ifndef NR_TRANSPORT_H
#define NR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#define NR_MAX_RESPONSE_BYTES (64u * 1024u)

typedef struct nr_transport_opts {
    uint32_t connect_timeout_ms;
    const char *ca_file;     /* NULL = system roots */
    const char *client_cert; /* NULL = no client certificate */
    const char *client_key;
    const char *client_key_password; /* NULL = none: an encrypted key then fails, never prompts */
    int tls_insecure;
    const char *user_agent;
    const char *proxy; /* NULL = no proxy, whatever the environment says */
    int wake_fd;       /* eventfd that interrupts waits and transfers */
} nr_transport_opts_t;

typedef struct nr_http_request {
    const char *method; /* "POST" or "DELETE" */
    const char *url;
    const char *body;           /* JSON text, or NULL for no body */
    const char *token;          /* NULL = no Authorization header */
    const char *correlation_id; /* sent as X-Correlation-Id */
    uint32_t timeout_ms;        /* whole request */
} nr_http_request_t;

typedef struct nr_http_response {
    int responded; /* an HTTP status line arrived and the body fit */
    int aborted;   /* interrupted by should_abort */
    long status;
    char *body; /* NUL-terminated, malloc'd, NULL when none */
    size_t body_len;
    int has_retry_after;
    uint64_t retry_after_ms;
    uint64_t latency_ns;
    char error[200]; /* why there was no response; never a secret */
} nr_http_response_t;

typedef struct nr_transport nr_transport_t;

/* Network thread. Returns NULL when libcurl cannot make handles. The option
 * strings must outlive the transport. */
nr_transport_t *nr_transport_new(const nr_transport_opts_t *opts);
/* Network thread (it closes descriptors of that thread's table). */
void nr_transport_free(nr_transport_t *t);

/* How long the transfer in flight may still run, asked after every wake-up:
 * NR_NO_LIMIT_MS when unlimited, 0 to abandon it now. */
#define NR_NO_LIMIT_MS UINT32_MAX
typedef uint32_t (*nr_transfer_budget_fn)(void *ctx);

/* Performs one request. budget(ctx) (may be NULL) can cut the transfer
 * short (aborted = 1). Returns 0 when an HTTP response arrived (see
 * resp->responded), -1 otherwise. */
int nr_transport_perform(nr_transport_t *t, const nr_http_request_t *req, nr_http_response_t *resp,
                         nr_transfer_budget_fn budget, void *ctx);

/* Sleeps up to timeout_ms, or until the wake-up eventfd is written. */
void nr_transport_wait(nr_transport_t *t, uint32_t timeout_ms);

/* Any thread: interrupts nr_transport_wait / nr_transport_perform. */
void nr_transport_wake(int wake_fd);

/* The next request opens a new connection; the old one is closed. */
void nr_transport_reset_connection(nr_transport_t *t);

/* Connections opened so far (for stats and tests). */
uint64_t nr_transport_connections(const nr_transport_t *t);

void nr_http_response_clear(nr_http_response_t *resp);

/* libcurl's process-wide initialisation, done once per process under a
 * lock and never undone: curl_global_cleanup could tear libcurl's and its TLS
 * library's state down under a host that uses libcurl too (plugin.abi.md,
 * "Library global initialisation: libcurl"). 0 on success. (A transfer
 * that ends with its host name unresolved pins libcurl in memory: a resolver
 * thread left behind runs libcurl's code after the plugin may have been
 * unloaded.) */
int nr_transport_global_acquire(void);

/* 1 when this libcurl's global init is thread-safe (CURL_VERSION_THREADSAFE). */
int nr_transport_global_is_threadsafe(void);

#endif /* NR_TRANSPORT_H */
