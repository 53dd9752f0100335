/* orchd.h - drive a private orchd-dev (the development control plane) from
 * a C test: start it on a free port, inject faults, read what it saw, stop.
 *
 * Threads: the functions may be called from any thread; an orchd_t is
 * read-only after orchd_start, so concurrent calls on one handle are fine
 * (each call uses its own curl handle and connection). No call blocks longer
 * than its stated bound (admin calls: 5 s timeout each).
 *
 * Process: orchd_start fork+execs the binary named by env ORCHD_DEV_BIN,
 * else ORCHD_DEV_PATH (set by CMake). The child gets PR_SET_PDEATHSIG =
 * SIGTERM, so it dies with the thread that started it: call orchd_start and
 * orchd_stop from the same long-lived thread (a Criterion test body is).
 * Its stderr goes to orchd_log_path(); set env ORCHD_KEEP=1 to keep the temp
 * dir (log included) after orchd_stop.
 *
 * Auth: opt->token is handed to the child through LLORCH_API_TOKEN (never
 * argv); the child never inherits the caller's LLORCH_API_TOKEN otherwise.
 * With opt->token_file, the calls below read the file at call time, so they
 * follow a rotation.
 *
 * TLS: when opt->tls_cert is set, orchd_url() is "https://localhost:PORT"
 * and these calls verify the server with CURLOPT_CAINFO = opt->tls_cert:
 * give a self-signed certificate, or a PEM holding the leaf followed by its
 * CA. With opt->tls_client_ca (mTLS) these calls send no client
 * certificate: /_dev/ paths still work (orchd-dev exempts them), /v2/ paths
 * get 403, so orchd_get_json("/v2/...") returns NULL; use orchd_node() and
 * orchd_wait_node_status(), which read GET /_dev/nodes.
 *
 * Polling: orchd_node, orchd_wait_node_status and orchd_stat use /_dev/
 * endpoints, which are neither counted in /_dev/stats "requests" /
 * "connections" nor logged in /_dev/requests, so polling does not disturb
 * what a test asserts about the plugin's traffic. */
#ifndef PMD_TEST_ORCHD_H
#define PMD_TEST_ORCHD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

typedef struct orchd orchd_t;

typedef struct orchd_options {
    const char *token;                              /* NULL = no auth */
    const char *token_file;                         /* server-side token file, re-read on change */
    uint32_t offline_timeout_ms;                    /* 0 = default (30000) */
    uint32_t next_heartbeat_ms;                     /* 0 = default (10000) */
    int strict_unknown;                             /* 1 = unknown fields are 422 */
    const char *tls_cert, *tls_key, *tls_client_ca; /* PEM paths; NULL = plain http */
} orchd_options_t;

/* Start a server (OPT may be NULL: defaults, no auth, plain HTTP). Waits up
 * to 5 s until it listens and answers GET /_dev/stats. Returns NULL (and
 * says why on stderr, with the server's log) on failure. The option strings
 * are copied. */
orchd_t *orchd_start(const orchd_options_t *opt);

/* "http://127.0.0.1:PORT" or "https://localhost:PORT"; owned by O. */
const char *orchd_url(const orchd_t *o);
int orchd_port(const orchd_t *o);

/* The server's stderr (one line per request is suppressed: --quiet). */
const char *orchd_log_path(const orchd_t *o);

/* POST /_dev/fault with FAULT_JSON (see orchd-dev's admin.h for the spec
 * keys). 0 on success, -1 on error (the server's message on stderr). */
int orchd_fault(orchd_t *o, const char *fault_json);

/* DELETE /_dev/fault. 0 / -1. */
int orchd_clear_faults(orchd_t *o);

/* POST /_dev/restart: the server forgets every node. 0 / -1. */
int orchd_restart(orchd_t *o);

/* GET PATH (e.g. "/v2/nodes", "/_dev/stats", "/_dev/requests") and parse
 * the body. Sends the token on /v2/ paths when one is configured. Returns a
 * new reference (caller json_object_put()s), or NULL on a transport error,
 * a non-2xx status or an unparsable body. */
struct json_object *orchd_get_json(orchd_t *o, const char *path);

/* NODE_ID's NodeInfo (from GET /_dev/nodes, the same view as /v2/nodes), a
 * new reference, or NULL when absent or on error. */
struct json_object *orchd_node(orchd_t *o, const char *node_id);

/* Poll every 20 ms until NODE_ID has STATUS ("Registering", "Online",
 * "Offline", "Draining"), or, with STATUS NULL, until it is absent.
 * 0 when reached, -1 on timeout. */
int orchd_wait_node_status(orchd_t *o, const char *node_id, const char *status, int timeout_ms);

/* A counter from GET /_dev/stats by dotted key: "connections",
 * "requests.heartbeat", "status.404", "rejected"... A "status.CODE" that
 * never occurred is 0. -1 on error or an unknown key. */
long orchd_stat(orchd_t *o, const char *dotted_key);

/* SIGTERM, wait (SIGKILL after 3 s), remove the temp dir, free. NULL ok. */
void orchd_stop(orchd_t *o);

#ifdef __cplusplus
}
#endif

#endif
