/*
 * abi_check.h - shared declarations of pmd-abi-check, the conformance
 * validator for pmd plugins (plugin.abi.md).
 *
 * Every check is a function that fills an ac_result_t. The runner (main.c)
 * runs each one in a forked child with a timeout and gets the result back
 * over a pipe, so a plugin that crashes or hangs costs one FAIL, never the
 * checker. The plugin is only ever loaded inside such children.
 */
#ifndef PMD_ABI_CHECK_H
#define PMD_ABI_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "pmd_plugin.h"

enum ac_verdict { AC_PASS = 0, AC_FAIL = 1, AC_SKIP = 2 };

#define AC_MAX_FIGURES 24

/* One measured number, reported as "figures" in the JSON output. */
typedef struct ac_figure {
    char name[40];
    char unit[12];
    double value;
} ac_figure_t;

/* Plain data: copied over a pipe from the check's child to the runner. */
typedef struct ac_result {
    int32_t verdict;
    int32_t nfig;
    char reason[1024];
    ac_figure_t fig[AC_MAX_FIGURES];
} ac_result_t;

/* What every check gets: the command line, read-only. */
typedef struct ac_ctx {
    const char *plugin_path;
    const char *config_text; /* --config FILE contents, or NULL */
    int valgrind_safe;
} ac_ctx_t;

typedef void (*ac_check_fn)(const ac_ctx_t *ctx, ac_result_t *r);

typedef struct ac_check {
    const char *name;
    const char *rule;
    const char *description;
    ac_check_fn fn;
    int timeout_s;
} ac_check_t;

/* registry.c: at most AC_MAX_CHECKS entries. */
#define AC_MAX_CHECKS 32
extern const ac_check_t ac_checks[];
extern const size_t ac_check_count;

/* result.c: the first failure sets the reason, later ones are appended. */
void ac_fail(ac_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ac_skip(ac_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the reason of a result that is still PASS (the summary line). */
void ac_note(ac_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ac_figure(ac_result_t *r, const char *name, double value, const char *unit);
/* Copies a child's failure into r, prefixed with what the child was doing. */
void ac_merge(ac_result_t *r, const char *what, const ac_result_t *child);

/*
 * result.c: runs fn(arg, result) in a forked child (own process group)
 * and waits at most timeout_s. A crash, a timeout or a non-zero exit becomes
 * a FAIL in *out naming the signal or status. Returns out->verdict.
 */
typedef void (*ac_child_fn)(void *arg, ac_result_t *r);
int ac_subprocess(ac_child_fn fn, void *arg, int timeout_s, ac_result_t *out);
/* Set by --in-process: ac_subprocess calls fn in the calling process (no
 * fork, no timeout), so that a debugger sees the plugin's fault itself. */
extern int ac_subprocess_inline;

/* util.c: process facts and clocks. */
uint64_t ac_now_ns(void);
void ac_sleep_us(uint64_t us);
int ac_count_threads(void);
int ac_count_fds(void);
/* Lists open descriptors as "N -> target" lines into buf (for reports). */
void ac_list_fds(char *buf, size_t size, const int *skip_fds, int nskip);
long ac_rss_kib(void);
/* Whether heap and RSS figures mean anything: not under valgrind or ASan. */
int ac_memory_bounds_apply(const ac_ctx_t *ctx);

/* util.c: control-plane URLs of the kinds the checks need. */
/* A loopback port that was just closed: connections are refused. */
int ac_url_closed_port(char *url, size_t size);
/* A listening socket nobody accepts from: connections hang. Returns fd. */
int ac_blackhole_open(char *url, size_t size);

/*
 * cp_server.c: a loopback control plane on its own thread that journals every
 * request. AC_CP_ANSWER answers each with 200 "{}" and closes; AC_CP_HANG
 * accepts and reads but never answers. url gets "http://127.0.0.1:PORT".
 */
enum { AC_CP_ANSWER = 0, AC_CP_HANG = 1 };
/* Modes with a body (plugin.abi.md ABI-PROCESS-STATE): 200 with a JSON body,
 * 500 with it, the 200 answer sent slowly, a 307 to /redirected (answered
 * with the 200 body). */
enum { AC_CP_BODY = 2, AC_CP_ERROR = 3, AC_CP_SLOW = 4, AC_CP_REDIRECT = 5 };

typedef struct ac_cp_request {
    char method[16];
    char path[256];
    uint64_t t_ns; /* ac_now_ns() when the request was complete (hang: its head) */
} ac_cp_request_t;

typedef struct ac_cp ac_cp_t;

ac_cp_t *ac_cp_start(int mode, char *url, size_t size);
void ac_cp_stop(ac_cp_t *cp);
/* Requests journaled so far, and the i-th of them (0, or -1 if none). */
int ac_cp_count(ac_cp_t *cp);
int ac_cp_get(ac_cp_t *cp, int i, ac_cp_request_t *out);
/* Index of the first request with this method in [from, to), or -1. */
int ac_cp_find(ac_cp_t *cp, const char *method, int from, int to, ac_cp_request_t *out);

/* session.c: the plugin, loaded through the shared loader, plus its config. */
typedef struct ac_session {
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    char *config; /* malloc'd */
} ac_session_t;

/* Loads the plugin and builds the config for url; FAILs r and returns -1. */
int ac_session_open(const ac_ctx_t *ctx, ac_session_t *s, const char *url, ac_result_t *r);
/* The same as a host of ABI 1.host_minor: the entry gets that minor, and a
 * host struct for this session must carry the same abi_minor (5.1). */
int ac_session_open_minor(const ac_ctx_t *ctx, ac_session_t *s, uint32_t host_minor,
                          const char *url, ac_result_t *r);
void ac_session_close(ac_session_t *s);
/* Config text for url: --config, else the conformance template, else "{}". */
char *ac_config_for(const ac_ctx_t *ctx, const host_loaded_plugin_t *lp, const char *url);

/* util.c: guard pages, memory whose end is followed by a PROT_NONE page. */
typedef struct ac_guard {
    unsigned char *base;
    size_t page;
} ac_guard_t;

/* Maps two pages, the second PROT_NONE; returns 0 or -1. */
int ac_guard_map(ac_guard_t *g);
/* A pointer to n bytes that end exactly at the guard page (n <= page). */
void *ac_guard_tail(ac_guard_t *g, size_t n);
/* Makes the whole first page unreadable too. */
void ac_guard_seal(ac_guard_t *g);
/* A host struct of size bytes ending at g's guard page: the start of full,
 * bytes past sizeof(*full) 0xA5, struct_size = size, abi_minor = minor. */
pmd_host_t *ac_guard_host(ac_guard_t *g, const pmd_host_t *full, uint32_t size, uint32_t minor);
void ac_guard_unmap(ac_guard_t *g);

/* util.c: what the plugin writes to stdout or stderr. ac_capture_fd points
 * fd (1 or 2) at a fresh memfd and returns the saved original (close-on-exec)
 * or -1; ac_release_fd restores it and fails r, quoting the start, when
 * anything was written. */
int ac_capture_fd(int fd, int *mem);
void ac_release_fd(int fd, int saved, int mem, const char *name, ac_result_t *r);

/* util.c: the descriptors open in the host's (this thread's) table, from
 * /proc/self/fd (at most AC_MAX_FDS), to compare before and after. */
#define AC_MAX_FDS 1024
typedef struct ac_fd_list {
    int n;
    int fd[AC_MAX_FDS];
} ac_fd_list_t;
void ac_fd_list_take(ac_fd_list_t *l);
int ac_fd_list_has(const ac_fd_list_t *l, int fd);
/* What descriptor fd points at (/proc/self/fd/FD's link), "" if unknown. */
void ac_fd_target(int fd, char *out, size_t size);

/* The checks (check_load.c, check_struct.c, check_init.c, check_lifecycle.c,
 * check_resources.c, check_timing.c, check_handover.c); those of
 * plugin.abi.md section 13 rules 20-26 are declared in checks_spec.h. */
void ac_check_load(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_exports(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_descriptor(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_abi_major(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_struct_size(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_init_errors(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_lifecycle(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_instances(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_host_thread(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_teardown(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_unload_cycles(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_no_global_effects(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_tick_cost(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_stop_bound(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_handover_offered(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_handover_no_delete(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_handover_stop_bound(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_handover_args(const ac_ctx_t *ctx, ac_result_t *r);

/* elf_exports.c: exported, defined dynamic symbols of an ELF shared object.
 * Calls fn for each (name, is_function). Returns 0, or -1 with why. */
typedef void (*ac_symbol_fn)(void *arg, const char *name, int is_function);
int ac_elf_exports(const char *path, ac_symbol_fn fn, void *arg, char *why, size_t why_size);

#endif /* PMD_ABI_CHECK_H */
