/*
 * nr_transport.h - HTTP for one node: a libcurl easy handle with a
 * connection cache of its own (one kept-alive connection per node, never
 * shared with another node of the process), whose requests run on the
 * shared network thread's multi handle (nr_engine.h): begun, then finished
 * when libcurl says the transfer ended, or abandoned (stop, or a deadline of
 * our own). TLS is verified; nothing unbounded is accepted from the server.
 * Carries out requests; decides nothing. Every function runs on the engine
 * thread, the descriptors it opens live in that thread's table.
 */
#ifndef NR_TRANSPORT_H
#define NR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#define NR_MAX_RESPONSE_BYTES (64u * 1024u)
#define NR_RECEIVE_BUFFER 4096L /* libcurl's per-node receive buffer (default 16 KiB) */

typedef struct nr_transport_opts {
    uint32_t connect_timeout_ms;
    const char *ca_file;     /* NULL = system roots */
    const char *client_cert; /* NULL = no client certificate */
    const char *client_key;
    const char *client_key_password; /* NULL = none: an encrypted key then fails, never prompts */
    int tls_insecure;
    const char *user_agent;
    const char *proxy; /* NULL = no proxy, whatever the environment says */
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
    int aborted;   /* abandoned because the node is stopping */
    long status;
    char *body; /* NUL-terminated, malloc'd, NULL when none */
    size_t body_len;
    int has_retry_after;
    uint64_t retry_after_ms;
    uint64_t latency_ns;
    char error[200]; /* why there was no response; never a secret */
} nr_http_response_t;

typedef struct nr_transport nr_transport_t;

/* Returns NULL when libcurl cannot make handles. The option strings must
 * outlive the transport. owner: what the engine's finished-transfer
 * messages name (CURLINFO_PRIVATE); multi: the engine's. */
nr_transport_t *nr_transport_new(const nr_transport_opts_t *opts, void *owner, void *multi);
/* No transfer may be in flight; closes the node's connection. */
void nr_transport_free(nr_transport_t *t);

/* Starts one request on multi (the engine's). resp is filled when it ends
 * and must stay put until then, as must req's strings. 0 when started. */
int nr_transport_begin(nr_transport_t *t, void *multi, const nr_http_request_t *req,
                       nr_http_response_t *resp);

/* The transfer ended (libcurl's result code): fills the response given to
 * begin (responded = 1 when an HTTP status line arrived and the body fit). */
void nr_transport_finish(nr_transport_t *t, void *multi, int curl_result);

/* Ends the transfer in flight now: stopping = 1 marks the response aborted
 * (stop), 0 a failure with no response (a deadline of our own passed). */
void nr_transport_abandon(nr_transport_t *t, void *multi, int stopping);

/* Makes the connection cache that easy (a CURL *) uses close its
 * connections without touching SIGPIPE (see nr_transport.c). */
void nr_transport_quiet_signals(void *multi, void *easy);

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
