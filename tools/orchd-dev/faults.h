/* faults.h - the fault-injection list behind POST /_dev/fault.
 *
 * A FIFO of fault specs; for each node-API request the first active spec
 * whose "match" fits applies, and its count (if any) goes down by one.
 * Thread-safe. What a fault *does* is carried out by server.c. */
#ifndef OD_FAULTS_H
#define OD_FAULTS_H

#include "route.h"
#include "validate.h"

#include <stddef.h>
#include <stdint.h>

enum od_body_mode {
    OD_BODY_NORMAL,
    OD_BODY_HUGE,
    OD_BODY_ENDLESS,
    OD_BODY_TRICKLE,
    OD_BODY_TINY_SEGMENTS
};

typedef struct od_fault {
    int match_any; /* 1 = any endpoint, else only MATCH */
    enum od_kind match;
    uint32_t count; /* remaining uses; 0 = until cleared */
    int status;     /* 0 = answer normally (after delay / with body_mode) */
    char *body;     /* raw body text, or NULL = a fitting JSON body */
    size_t body_len;
    int64_t retry_after; /* seconds for Retry-After, or -1 */
    uint32_t delay_ms;
    int hang, drop;
    int reset; /* close with RST (SO_LINGER 0) instead of answering */
    enum od_body_mode body_mode;
    char *redirect; /* Location for a 302, or NULL */
} od_fault_t;

typedef struct od_faults od_faults_t;

od_faults_t *od_faults_new(void);
void od_faults_free(od_faults_t *f);

/* Parse a fault spec (JSON text) and append it. Returns 0, or -1 with
 * v->status 400 (syntax) / 422 (unknown key, wrong type, bad value). */
int od_faults_add(od_faults_t *f, const char *text, size_t len, od_verdict_t *v);

void od_faults_clear(od_faults_t *f);

/* Number of active specs. */
size_t od_faults_active(od_faults_t *f);

/* If a spec applies to a request of KIND, copy it into OUT (caller calls
 * od_fault_release), use it up once, and return 1; else return 0. */
int od_faults_take(od_faults_t *f, enum od_kind kind, od_fault_t *out);

void od_fault_release(od_fault_t *fault);

#endif
