/*
 * pmd_plugin.h - the plugin ABI between pool-managerd (or any host) and a
 * control-plane plugin loaded at run time with dlopen().
 *
 * This header is the whole contract: a host author and a plugin author need
 * nothing else. plugin.abi.md is the same contract in prose, with the
 * rationale; where they differ, that is a bug in one of them.
 *
 * Rules that hold everywhere (plugin.abi.md, "General rules"):
 *  - A plugin exports exactly one symbol, pmd_plugin_entry.
 *  - Every struct that crosses the boundary starts with uint32_t struct_size,
 *    set by the side that owns the struct to sizeof() as that side knows it.
 *    Structs only ever grow at their end; the reader uses the fields that fit
 *    inside struct_size and treats the rest as absent (zero / NULL). Nobody
 *    reads past the size the other side gave.
 *  - Only fixed-width integer types and pointers in structs: no bool, long,
 *    enum-typed fields or bitfields. Flags are uint8_t 0 or 1 (any non-zero
 *    value reads as 1). Enumerations below are sets of named int32_t values.
 *  - Nothing is freed across the boundary. Strings passed in are valid for the
 *    duration of the call only; strings handed out are static or live until
 *    the next call on the same instance.
 *  - Calls on one instance never overlap: the host makes them from one thread
 *    at a time (it may move an instance between threads between calls). "The
 *    host thread" is whichever thread is inside an ABI call on the instance.
 *    Host callbacks run only on that thread, only while that call runs.
 *  - No secret (an API token, a key) ever appears in a string either side
 *    hands the other: log lines, state details, error messages.
 */
#ifndef PMD_PLUGIN_H
#define PMD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Versions                                                               */
/* ---------------------------------------------------------------------- */

/*
 * ABI version of this header. Majors never interoperate. Minors do: a session
 * between a host and a plugin runs at min(host minor, plugin minor), and each
 * side only uses what that minor defines.
 *
 * History:
 *   1.0  lifecycle, host callbacks (log, pools, capabilities, state).
 *   1.1  extension queries: pmd_host_t.get_extension and
 *        pmd_plugin_t.get_extension; extensions pmd.ext.conformance/1 and
 *        pmd.ext.stats/1.
 *   1.2  handover: pmd_plugin_t.on_handover and on_start_handed_over, and
 *        pmd_handover_t: an instance ends without deregistering and another
 *        (typically a newer build) takes its node over with no gap; the
 *        descriptor members start/tick/stop are named on_start/on_tick/
 *        on_stop (same layout); host extension pmd.host.ext.log_fields/1
 *        (log events as fields: pmd_ext_log_fields_t).
 */
#define PMD_ABI_VERSION_MAJOR 1
#define PMD_ABI_VERSION_MINOR 2

/* Symbol name of the one function every plugin exports. */
#define PMD_PLUGIN_ENTRY_SYMBOL "pmd_plugin_entry"

#if defined(_WIN32)
#define PMD_EXPORT __declspec(dllexport)
#else
#define PMD_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------- */
/* Result codes                                                           */
/* ---------------------------------------------------------------------- */

/* Every function that can fail returns one of these (as int32_t). 0 is OK.
 * New codes may be added in any minor; treat an unknown non-zero code like
 * PMD_ERR_INTERNAL. pmd_plugin_t.result_string names each code.
 *
 * PMD_RESULT_MAP is the one list of the codes (libuv's UV_ERRNO_MAP
 * pattern): X(NAME, value, "English name") per code, NAME without its
 * PMD_ prefix. It generates enum pmd_result, PMD_RESULT_COUNT and
 * pmd_result_name(); a host or plugin may expand it for its own tables. */
#define PMD_RESULT_MAP(X)                                                                          \
    X(OK, 0, "ok")                                                                                 \
    /* NULL where a pointer is required, bad size */                                               \
    X(ERR_INVALID_ARGUMENT, 1, "invalid argument")                                                 \
    /* call not valid in the instance's state */                                                   \
    X(ERR_STATE, 2, "call not valid in this state")                                                \
    /* the other side speaks another ABI major */                                                  \
    X(ERR_ABI_MAJOR, 3, "ABI major version mismatch")                                              \
    /* config text rejected; message says why */                                                   \
    X(ERR_CONFIG, 4, "invalid config")                                                             \
    /* allocation failed; nothing changed */                                                       \
    X(ERR_NO_MEMORY, 5, "out of memory")                                                           \
    /* a thread, descriptor or library failed */                                                   \
    X(ERR_RESOURCE, 6, "resource unavailable")                                                     \
    /* a count or size over the documented bound */                                                \
    X(ERR_LIMIT, 7, "limit exceeded")                                                              \
    /* a record from a host callback is invalid */                                                 \
    X(ERR_HOST_DATA, 8, "invalid data from host")                                                  \
    /* the request is understood but not offered */                                                \
    X(ERR_UNSUPPORTED, 9, "unsupported")                                                           \
    /* a bug; the instance stays safe to destroy */                                                \
    X(ERR_INTERNAL, 10, "internal error")

/* Expansion helpers of the maps (internal to this header, kept defined). */
#define PMD_MAP_ENUMERATOR_(name, value, text) PMD_##name = value,
#define PMD_MAP_CASE_(name, value, text)                                                           \
    case value:                                                                                    \
        return text;
#define PMD_MAP_PLUS_ONE_(name, value, text) +1

enum pmd_result { PMD_RESULT_MAP(PMD_MAP_ENUMERATOR_) };

/* Number of codes this header defines. They are 0 .. PMD_RESULT_COUNT - 1. */
#define PMD_RESULT_COUNT (0 PMD_RESULT_MAP(PMD_MAP_PLUS_ONE_))

/* The English name of a code, as the map gives it; "unknown result" for a
 * code this header does not define. Never NULL, static, any thread: a
 * plugin may use it as its result_string. */
static inline const char *pmd_result_name(int32_t result)
{
    switch (result) {
        PMD_RESULT_MAP(PMD_MAP_CASE_)
    default: return "unknown result";
    }
}

/* ---------------------------------------------------------------------- */
/* Values reported through host callbacks                                 */
/* ---------------------------------------------------------------------- */

/* Log levels for pmd_host_t.log. */
enum pmd_log_level { PMD_LOG_ERROR = 1, PMD_LOG_WARN = 2, PMD_LOG_INFO = 3, PMD_LOG_DEBUG = 4 };

/* The node's standing with the control plane, for pmd_host_t.state_changed
 * and pmd_stats_t.state. PMD_NODE_STATE_MAP is the one list, as
 * PMD_RESULT_MAP: X(NAME, value, "name"), NAME without its PMD_NODE_
 * prefix; the name is the lowercase one hosts print and export as a metric
 * label. It generates enum pmd_node_state, PMD_NODE_STATE_COUNT and
 * pmd_node_state_name(). */
#define PMD_NODE_STATE_MAP(X)                                                                      \
    /* initialised, not started */                                                                 \
    X(IDLE, 0, "idle")                                                                             \
    /* registering, or retrying registration */                                                    \
    X(REGISTERING, 1, "registering")                                                               \
    /* registered; heartbeats succeed */                                                           \
    X(REGISTERED, 2, "registered")                                                                 \
    /* registered, recent heartbeats failed */                                                     \
    X(DEGRADED, 3, "degraded")                                                                     \
    /* the control plane refused the token */                                                      \
    X(UNAUTHORIZED, 4, "unauthorized")                                                             \
    /* on_stop is ending the registration (a DELETE once a register was                            \
     * sent); reported by on_stop on the host thread before it waits for the                       \
     * DELETE; only STOPPED follows. Never reported by on_handover. */                             \
    X(DEREGISTERING, 5, "deregistering")                                                           \
    /* stopped; no more traffic */                                                                 \
    X(STOPPED, 6, "stopped")

#define PMD_MAP_NODE_ENUMERATOR_(name, value, text) PMD_NODE_##name = value,

enum pmd_node_state { PMD_NODE_STATE_MAP(PMD_MAP_NODE_ENUMERATOR_) };

/* Number of states this header defines. They are 0 .. PMD_NODE_STATE_COUNT - 1. */
#define PMD_NODE_STATE_COUNT (0 PMD_NODE_STATE_MAP(PMD_MAP_PLUS_ONE_))

/* The lowercase name of a state ("registered"), static, any thread; NULL
 * for a state this header does not define (a host prints the number). */
static inline const char *pmd_node_state_name(int32_t state)
{
    switch (state) {
        PMD_NODE_STATE_MAP(PMD_MAP_CASE_)
    default: return NULL;
    }
}

/* One pool, as the host reports it (pool-managerd's pool registry).
 * Layout: 40 bytes on LP64, no implicit padding. */
typedef struct pmd_pool_status {
    uint32_t struct_size;     /* sizeof(pmd_pool_status_t) as the host knows it */
    uint8_t ready;            /* 1 = ready to take work */
    uint8_t draining;         /* 1 = draining, takes no new work */
    uint8_t reserved[2];      /* zero */
    uint32_t slots_free;      /* free request slots */
    uint32_t slots_total;     /* all request slots */
    uint64_t vram_free_bytes; /* free GPU memory available to this pool */
    const char *pool_id;      /* required, UTF-8, NUL-terminated */
    const char *engine;       /* optional (NULL = none), e.g. "llamacpp" */
} pmd_pool_status_t;

/* One GPU of the node. Layout: 32 bytes on LP64. */
typedef struct pmd_gpu_info {
    uint32_t struct_size;
    uint32_t device_id; /* index as the driver numbers it */
    uint64_t vram_total_bytes;
    const char *name;               /* required, e.g. "NVIDIA H200" */
    const char *compute_capability; /* required, "major.minor", e.g. "9.0" */
} pmd_gpu_info_t;

/* Host-wide resources of the node. Zero means unknown (not reported). */
typedef struct pmd_node_resources {
    uint32_t struct_size;
    uint32_t cpu_cores;
    uint64_t ram_total_bytes;
} pmd_node_resources_t;

/*
 * Sinks: the plugin hands the host a sink, the host pushes records into it.
 * Each record is read during the sink call only: the plugin copies what it
 * keeps, so the host's strings need only live until the sink call returns.
 * A sink function makes no host callback. It returns PMD_OK, or
 * PMD_ERR_HOST_DATA for an invalid record (the plugin logs one line naming
 * the field after the host callback returns), or PMD_ERR_LIMIT when the
 * plugin's bound on the number of records is reached; the host may keep
 * pushing, the plugin keeps ignoring.
 * Sinks are valid only during the host callback they were passed to. The
 * host checks a sink's struct_size covers a function before calling it.
 */
typedef struct pmd_pool_sink {
    uint32_t struct_size;
    uint32_t reserved;
    void *sink_data;
    /* [host-thread, inside the list_pools callback] */
    int32_t (*add_pool)(void *sink_data, const pmd_pool_status_t *pool);
} pmd_pool_sink_t;

typedef struct pmd_capability_sink {
    uint32_t struct_size;
    uint32_t reserved;
    void *sink_data;
    /* [host-thread, inside the get_capabilities callback] */
    int32_t (*set_resources)(void *sink_data, const pmd_node_resources_t *res);
    /* [host-thread, inside the get_capabilities callback] */
    int32_t (*add_gpu)(void *sink_data, const pmd_gpu_info_t *gpu);
} pmd_capability_sink_t;

/* ---------------------------------------------------------------------- */
/* The host                                                               */
/* ---------------------------------------------------------------------- */

/*
 * What the host offers the plugin, passed to init(). The plugin copies the
 * struct (the first min(struct_size, its own sizeof) bytes) during init, so
 * the struct itself may be a temporary; host_data and the strings it points
 * to must stay valid until destroy() returns.
 *
 * Every callback: called only on the instance's host thread, only while an
 * ABI call on that instance is running (never from a plugin thread, never
 * after destroy). Every callback must return promptly (no network I/O) and
 * must not call back into the same instance (re-entry returns PMD_ERR_STATE).
 */
typedef struct pmd_host {
    uint32_t struct_size;     /* sizeof(pmd_host_t) as the host knows it */
    uint32_t abi_major;       /* PMD_ABI_VERSION_MAJOR the host was built with */
    uint32_t abi_minor;       /* PMD_ABI_VERSION_MINOR the host was built with */
    uint32_t reserved;        /* zero */
    void *host_data;          /* opaque; passed back to every callback */
    const char *host_name;    /* e.g. "pool-managerd"; may be NULL */
    const char *host_version; /* e.g. "0.4.2"; may be NULL */

    /* [host-thread, during an ABI call] Required. One log line: no newline, UTF-8, valid for the
     * call only. The plugin never writes to stdout or stderr itself. */
    void (*log)(void *host_data, int32_t level, const char *message);

    /* [host-thread, during an ABI call] Required. Push every pool of the node into the sink, then
     * return PMD_OK. Any other return means "pools unknown right now": the plugin keeps the last
     * list it had and logs why. Called when the plugin needs the list (a heartbeat is due, or
     * registration). */
    int32_t (*list_pools)(void *host_data, const pmd_pool_sink_t *sink);

    /* [host-thread, during an ABI call] Required. Report the node's GPUs and resources into the
     * sink. Called at registration. Return codes as list_pools. */
    int32_t (*get_capabilities)(void *host_data, const pmd_capability_sink_t *sink);

    /* [host-thread, during an ABI call] Optional (NULL = not interested). The node's state changed;
     * detail is a short human reason ("registered", "HTTP 503 from control plane"), valid for the
     * call only, never containing a secret. */
    void (*state_changed)(void *host_data, int32_t state, const char *detail);

    /* --- ABI 1.1 --- */

    /* [host-thread, during an ABI call] Optional. An interface the host offers by versioned id
     * (e.g. "pmd.host.ext.clock/1"), or NULL when unknown. The returned pointer is static or lives
     * as long as host_data. Callable during every ABI call on the instance, init and destroy
     * included (an init that fails calls nothing but log, so a plugin asks once its config is
     * accepted). */
    const void *(*get_extension)(void *host_data, const char *id);
} pmd_host_t;

/* Smallest records a host may push: a record must cover its required
 * fields; optional trailing fields (engine) may be left out. */
#define PMD_POOL_STATUS_MIN_SIZE ((uint32_t)offsetof(pmd_pool_status_t, engine))
#define PMD_GPU_INFO_MIN_SIZE ((uint32_t)sizeof(pmd_gpu_info_t))
#define PMD_NODE_RESOURCES_MIN_SIZE ((uint32_t)sizeof(pmd_node_resources_t))

/* Size of a 1.0 host struct: everything before get_extension. */
#define PMD_HOST_SIZE_1_0 ((uint32_t)offsetof(pmd_host_t, get_extension))

/* ---------------------------------------------------------------------- */
/* The plugin                                                             */
/* ---------------------------------------------------------------------- */

/* An instance: opaque, owned by the plugin, from init() until destroy(). */
typedef struct pmd_instance pmd_instance_t;

/*
 * Instance lifecycle (plugin.abi.md, "Lifecycle"):
 *
 *   init() -> INITIALIZED --start()--> STARTED --stop()--> STOPPED
 *                 |                        |                  |
 *                 +-------- destroy() -----+------------------+
 *
 * tick() is valid only in STARTED. A call in the wrong state returns
 * PMD_ERR_STATE and changes nothing. destroy() is valid in every state; on a
 * STARTED instance it stops first (within stop_timeout_ms). A failed init()
 * creates nothing and needs no destroy(). Nothing may be called on an
 * instance after destroy().
 */
/*
 * Handover (ABI 1.2): what an instance that ends without deregistering hands
 * to the instance that takes its node over, through the host. Plain data:
 * no pointer into the old plugin, no secret. The host owns the struct and
 * sets struct_size; on_handover writes the fields that fit and sets
 * struct_size to what it filled; on_start_handed_over reads the fields that
 * fit in the struct_size it is given.
 */
typedef struct pmd_handover {
    uint32_t struct_size;
    uint32_t flags;                 /* PMD_HANDOVER_* bits */
    uint64_t next_heartbeat_due_ns; /* CLOCK_MONOTONIC; 0 = none was scheduled */
    uint64_t heartbeat_interval_ns; /* the old instance's interval */
    uint64_t last_heartbeat_ok_ns;  /* CLOCK_MONOTONIC; 0 = none */
    char node_id[256];              /* the node handed over, NUL-terminated UTF-8 */
} pmd_handover_t;

/* The node was registered when it was handed over. */
#define PMD_HANDOVER_REGISTERED 1u

#define PMD_HANDOVER_MIN_SIZE ((uint32_t)sizeof(pmd_handover_t))

typedef struct pmd_plugin {
    /* --- frozen for every major: a host reads these to name the plugin --- */
    uint32_t struct_size; /* sizeof(pmd_plugin_t) as the plugin knows it */
    uint32_t abi_major;   /* the plugin's PMD_ABI_VERSION_MAJOR */
    uint32_t abi_minor;   /* the plugin's PMD_ABI_VERSION_MINOR */
    uint32_t reserved;    /* zero */
    const char *name;     /* static, non-empty, e.g. "node_registration" */
    const char *version;  /* static, non-empty, the plugin's version */

    /* --- ABI 1.0 --- */
    const char *description; /* static one-line summary; may be NULL */

    /* Longest time on_stop() (and destroy() of a started instance, and
     * on_handover()) may block, whatever the network does: the worst case
     * over EVERY valid config, for a host that has no instance yet. An
     * instance's own bound under its config (never above this one) is
     * pmd_stats_t.stop_timeout_ms; hosts use that one when offered. */
    uint32_t stop_timeout_ms;
    uint32_t reserved2; /* zero */

    /*
     * init [any-thread, one call at a time per instance]: create an instance from config text and
     * the host's callbacks. Thread: any thread (later calls may come from another, one at a time).
     * Blocks: no network I/O; may read local files named by the config.
     * host: copied (see pmd_host_t); a host of another ABI major gets
     *   PMD_ERR_ABI_MAJOR; a struct_size below PMD_HOST_SIZE_1_0 or a missing
     *   required callback gets PMD_ERR_INVALID_ARGUMENT.
     * config_json: NUL-terminated UTF-8 JSON text, valid for the call only;
     *   NULL or "" gets PMD_ERR_CONFIG (never PMD_ERR_INVALID_ARGUMENT:
     *   missing config text is a config error).
     * out_instance: set to the new instance on PMD_OK, to NULL otherwise.
     * error / error_size: a buffer the host owns; on failure the plugin writes
     *   one NUL-terminated line (truncated to fit) saying what is wrong,
     *   naming the config field where there is one. May be NULL / 0.
     * Returns PMD_OK, PMD_ERR_INVALID_ARGUMENT, PMD_ERR_ABI_MAJOR,
     *   PMD_ERR_CONFIG, PMD_ERR_NO_MEMORY, PMD_ERR_RESOURCE.
     * Host callbacks: log and get_extension only (the instance does not
     *   exist for the host yet: no state, no pools, no capabilities); an
     *   init that fails makes no callback but log.
     */
    int32_t (*init)(const pmd_host_t *host, const char *config_json, pmd_instance_t **out_instance,
                    char *error, uint32_t error_size);

    /*
     * on_start [host-thread]: begin work (for node_registration: start the network thread and
     *   queue the registration). Valid in INITIALIZED. Host thread.
     * Blocks: no network I/O; may create a thread.
     * Returns PMD_OK (now STARTED), PMD_ERR_STATE, PMD_ERR_RESOURCE (still
     *   INITIALIZED), PMD_ERR_INVALID_ARGUMENT (NULL instance).
     * Host callbacks: any.
     */
    int32_t (*on_start)(pmd_instance_t *instance);

    /*
     * on_tick [host-thread]: the host's periodic call, every 10 to 1000 ms (100 ms is typical).
     * now_ns: CLOCK_MONOTONIC in nanoseconds, read by the host just before
     *   the call. Valid in STARTED. Host thread.
     * Blocks: never, on every call (not a percentile): no wait on the
     *   network, a sleep or a lock held across I/O; returns in microseconds
     *   whatever the network does, the longest tick under 1 ms.
     * This is where queued log lines and state changes are delivered and
     * where pools are pulled when a heartbeat is due.
     * Returns PMD_OK, PMD_ERR_STATE, PMD_ERR_INVALID_ARGUMENT. An error in the
     *   plugin's own work is logged, not returned: the host just keeps ticking.
     * Host callbacks: any.
     */
    int32_t (*on_tick)(pmd_instance_t *instance, uint64_t now_ns);

    /*
     * on_stop [host-thread]: end work (for node_registration: deregister, then join the
     *   network thread). Valid in STARTED. Host thread.
     * Blocks: at most the instance's stop bound (pmd_stats_t.stop_timeout_ms
     *   when offered, else the descriptor's stop_timeout_ms), also against a
     *   hung server.
     * Returns PMD_OK (now STOPPED, whatever the control plane answered; the
     *   outcome is logged), PMD_ERR_STATE, PMD_ERR_INVALID_ARGUMENT.
     * Host callbacks: any; the last state_changed reports PMD_NODE_STOPPED.
     */
    int32_t (*on_stop)(pmd_instance_t *instance);

    /*
     * destroy [host-thread]: free the instance and everything it owns (threads joined,
     *   descriptors closed). Valid in every state; NULL is a no-op. Host
     *   thread. Blocks as on_stop() when STARTED, otherwise briefly. Calling
     *   it from inside a host callback of the same instance is a host error;
     *   the plugin MUST ignore such a call (no effect: the instance stays
     *   alive and in its state).
     * Host callbacks: log, state_changed and get_extension; never list_pools
     *   or get_capabilities, also when it stops a STARTED instance (it uses
     *   the last pool list it had); none after it returns.
     */
    void (*destroy)(pmd_instance_t *instance);

    /*
     * result_string [any-thread]: a static English name for a result code, never NULL
     * ("unknown result" for codes it does not know). Any thread, any time.
     */
    const char *(*result_string)(int32_t result);

    /* --- ABI 1.1 --- */

    /*
     * get_extension [any-thread]: an optional interface by versioned id (e.g.
     * PMD_EXT_CONFORMANCE), or NULL when unknown. The returned table is
     * static and starts with uint32_t struct_size. Any thread, any time.
     */
    const void *(*get_extension)(const char *id);

    /* --- ABI 1.2 (a plugin may leave both NULL: handover not offered) --- */

    /*
     * on_handover [host-thread]: end the instance WITHOUT deregistering, so that another
     *   instance (on_start_handed_over) takes the node over. Valid in
     *   STARTED; the instance is STOPPED afterwards (destroy it next).
     * Thread: host thread. Blocks: at most stop_timeout_ms, like on_stop: a
     *   request in flight may finish within that bound, then all traffic
     *   ends; no DELETE (no deregistration) is ever sent.
     * out: the host's struct, struct_size set by the host (at least
     *   PMD_HANDOVER_MIN_SIZE); the plugin fills what fits and sets
     *   struct_size to the size it filled.
     * Returns PMD_OK (now STOPPED), PMD_ERR_STATE, PMD_ERR_INVALID_ARGUMENT
     *   (NULL or too small out: nothing changed, still STARTED).
     * Host callbacks: any; the last state_changed reports PMD_NODE_STOPPED
     *   with the detail "handed over".
     * Hosts: call it only when the session minor is 2 or more and both the
     *   old and the new descriptor offer handover (both pointers non-NULL
     *   within struct_size); otherwise use on_stop on the old instance and
     *   on_start on the new one (the node deregisters and registers again).
     */
    int32_t (*on_handover)(pmd_instance_t *instance, pmd_handover_t *out);

    /*
     * on_start_handed_over [host-thread]: as on_start, taking over the node another
     *   instance handed over: for node_registration, register at once
     *   (registration is idempotent) and send the first heartbeat at the
     *   handed-over next_heartbeat_due_ns (at once if that is past), so the
     *   control plane sees no gap. A handover of another node_id, or one
     *   without a schedule, is a plain start (the plugin logs why).
     * Valid in INITIALIZED. Host thread. Blocks as on_start.
     * handover: the struct on_handover filled, or one the host made; read
     *   within its struct_size, for the call only.
     * Returns as on_start; PMD_ERR_INVALID_ARGUMENT for a NULL handover or
     *   one smaller than PMD_HANDOVER_MIN_SIZE (nothing changed).
     */
    int32_t (*on_start_handed_over)(pmd_instance_t *instance, const pmd_handover_t *handover);
} pmd_plugin_t;

/*
 * The one exported symbol.
 *
 * The host passes the ABI version it was built with. When the majors match
 * the plugin sets *out_plugin to its static descriptor and returns PMD_OK;
 * the session then runs at min(host_abi_minor, plugin->abi_minor).
 * When they differ it returns PMD_ERR_ABI_MAJOR; *out_plugin is still set to
 * its own descriptor, of which the host may read only the frozen fields
 * (struct_size .. version) to say what it found, and calls nothing.
 * A plugin may speak several majors and return a descriptor for the host's.
 * Thread: any; thread-safe and idempotent; no side effects, no allocation.
 * The minor passed here must equal the abi_minor of every pmd_host_t the
 * host later passes to init(). It is informational: the entry keeps no
 * state, so for each instance the plugin goes by pmd_host_t.abi_minor, and
 * the host by the descriptor's abi_minor.
 * Returns PMD_OK, PMD_ERR_ABI_MAJOR, PMD_ERR_INVALID_ARGUMENT (out_plugin NULL).
 */
typedef int32_t (*pmd_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor,
                                       const pmd_plugin_t **out_plugin);

PMD_EXPORT int32_t pmd_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                    const pmd_plugin_t **out_plugin);

/* Size of a 1.0 descriptor: everything before get_extension. */
#define PMD_PLUGIN_SIZE_1_0 ((uint32_t)offsetof(pmd_plugin_t, get_extension))
#define PMD_PLUGIN_SIZE_1_1 ((uint32_t)offsetof(pmd_plugin_t, on_handover))

/* Size of the frozen prefix (struct_size .. version), the same in every
 * major: every host checks struct_size against it before reading name or
 * version (and never dereferences a NULL one); the shared loader does. */
#define PMD_PLUGIN_FROZEN_SIZE ((uint32_t)offsetof(pmd_plugin_t, description))

/* ---------------------------------------------------------------------- */
/* Extensions                                                             */
/* ---------------------------------------------------------------------- */

/*
 * pmd.ext.conformance/1 (plugin side): what a validator such as
 * pmd-abi-check needs to exercise a plugin generically.
 * config_template: a config accepted by init() in which every occurrence of
 *   "{{url}}" is to be replaced by a control-plane base URL of the
 *   validator's choosing (e.g. "http://127.0.0.1:9"). Static.
 */
#define PMD_EXT_CONFORMANCE "pmd.ext.conformance/1"

typedef struct pmd_ext_conformance {
    uint32_t struct_size;
    uint32_t reserved;
    const char *config_template;
} pmd_ext_conformance_t;

/*
 * pmd.ext.stats/1 (plugin side): counters an operator asks about (is my node
 * registered, since when, and if not, why?).
 *
 * get: fills the fields of *out that fit in both out->struct_size (set by
 *   the host) and the plugin's own sizeof, and writes the size it filled back
 *   into out->struct_size, so the host can tell an absent field from a zero.
 *   An ABI call on the instance: host thread, any state after init, never
 *   blocks, makes no host callbacks. Strings stay valid until the next call
 *   on the instance. Returns PMD_OK, PMD_ERR_INVALID_ARGUMENT (NULL or
 *   struct_size below PMD_STATS_MIN_SIZE), PMD_ERR_STATE (re-entry).
 */
#define PMD_EXT_STATS "pmd.ext.stats/1"

typedef struct pmd_stats {
    uint32_t struct_size;
    int32_t state;                /* enum pmd_node_state */
    uint64_t state_since_unix_ms; /* wall clock when the state began */
    uint64_t registrations_ok;
    uint64_t registrations_failed_transport; /* no HTTP response */
    uint64_t registrations_failed_status;    /* an HTTP error status */
    uint64_t registrations_failed_auth;      /* 401 / 403 */
    uint64_t reregistrations;                /* registrations after the first success */
    uint64_t heartbeats_ok;
    uint64_t heartbeats_failed_transport;
    uint64_t heartbeats_failed_status;
    uint64_t heartbeats_failed_auth;
    uint64_t heartbeats_not_registered; /* 404: control plane forgot us */
    uint64_t deregistrations_ok;
    uint64_t deregistrations_failed;
    uint64_t consecutive_failures;      /* of the current request kind */
    uint64_t last_heartbeat_ok_unix_ms; /* 0 = never */
    uint64_t last_heartbeat_latency_us;
    uint64_t connections_opened;
    uint64_t events_dropped;               /* log lines / states lost: host not ticking */
    const char *node_id;                   /* never NULL */
    const char *last_error;                /* "" when none; never a secret */
    uint64_t stop_timeout_ms;              /* this instance's bound on on_stop/destroy/
                                              on_handover under its config; never above
                                              the descriptor's worst case */
    uint64_t last_registration_latency_us; /* round trip of the last successful
                                              registration; 0 = none yet (appended in
                                              1.2: absent when struct_size does not
                                              cover it) */
} pmd_stats_t;

#define PMD_STATS_MIN_SIZE ((uint32_t)offsetof(pmd_stats_t, node_id))

typedef struct pmd_ext_stats {
    uint32_t struct_size;
    uint32_t reserved;
    /* [host-thread; itself an ABI call on the instance] */
    int32_t (*get)(pmd_instance_t *instance, pmd_stats_t *out);
} pmd_ext_stats_t;

/*
 * pmd.host.ext.log_fields/1 (host side, ABI 1.2): a log event as fields
 * (level, event name, key/value pairs) instead of a text line, for hosts
 * with a structured logger (Rust tracing, journald fields, JSON lines) that
 * would otherwise parse the plugin's "key=value" text.
 *
 * Query: the plugin asks for it with pmd_host_t.get_extension during init
 *   (any later ABI call works too) and keeps the pointer until destroy
 *   returns. Not offered (a 1.0 host struct, get_extension NULL, or a NULL
 *   answer, or a table whose struct_size does not cover log_fields): the
 *   plugin sends the same event as its text line through pmd_host_t.log.
 *   Offered: the plugin sends an event through log_fields OR log, never
 *   both; it may still use log for a line that is not an event.
 *
 * log_fields: one event. The rules of pmd_host_t.log: host thread, only
 *   inside an ABI call on the instance, wherever log is allowed (init,
 *   on_start, on_tick, on_stop, on_handover, destroy); returns promptly;
 *   never calls back into the instance. No return value.
 *   level: a pmd_log_level.
 *   event: the event name, non-NULL, [a-z0-9_]+ (e.g. "registered").
 *   fields / count: count key/value pairs in the plugin's order (fields may
 *     be NULL when count is 0); count <= PMD_LOG_FIELDS_MAX. A key is
 *     non-NULL [a-z0-9_]+, never "event", not repeated within an event. A
 *     value is non-NULL UTF-8 text, raw: no quotes, no escaping; it may be
 *     empty or hold spaces and quotes. The host treats both as untrusted
 *     (bounds lengths, replaces invalid UTF-8).
 *   Ownership: the array and every string are plugin-owned and valid for
 *     the call only; the host copies what it keeps. Nothing is freed across.
 *   Secrecy: never a secret (an API token, a key, a password in a URL) in
 *     the event, a key or a value, exactly as for log lines.
 *
 * The text line of an event (what the plugin logs through log without this
 * extension, and what a host that prints text writes for it):
 *     [node=<value> ]event=<event>[ <key>=<value>]...
 * node= is the field keyed "node" when it is the first one (the plugin's
 * context), the other fields follow in order. A value that is empty or
 * holds a space, '"', '=', '\' or a control character is written in double
 * quotes with '"' and '\' escaped; a plugin may quote prose values always.
 *
 * pmd_log_field_t is an array element, so it cannot carry a struct_size
 * (the reader could not know the stride): it is a frozen pair of two
 * pointers, 16 bytes on LP64, that never grows. Anything richer is a new
 * extension version.
 */
#define PMD_HOST_EXT_LOG_FIELDS "pmd.host.ext.log_fields/1"

/* Most fields in one log_fields call. */
#define PMD_LOG_FIELDS_MAX 32u

typedef struct pmd_log_field {
    const char *key;   /* [a-z0-9_]+ */
    const char *value; /* raw UTF-8 text, never a secret */
} pmd_log_field_t;

typedef struct pmd_ext_log_fields {
    uint32_t struct_size; /* sizeof(pmd_ext_log_fields_t) as the host knows it */
    uint32_t reserved;    /* zero */
    /* [host-thread, during an ABI call], like pmd_host_t.log */
    void (*log_fields)(void *host_data, int32_t level, const char *event,
                       const pmd_log_field_t *fields, uint32_t count);
} pmd_ext_log_fields_t;

/* Smallest table a plugin uses: one that covers log_fields. */
#define PMD_EXT_LOG_FIELDS_MIN_SIZE ((uint32_t)sizeof(pmd_ext_log_fields_t))

#ifdef __cplusplus
}
#endif

#endif /* PMD_PLUGIN_H */
