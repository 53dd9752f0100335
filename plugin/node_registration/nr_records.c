/*
 * nr_records.c - validated copies of what the host reports through the ABI's
 * sinks: pool status and node capabilities.
 *
 * The host's strings live only for the sink call and its structs may be older
 * (smaller) or newer (bigger) than ours, so every record is read field by
 * field, only where its struct_size covers the field, and every string is
 * copied. Two kinds of strings:
 *  - identities (pool_id): refused unless they are clean UTF-8 without
 *    control characters (C0, DEL, C1) or U+FFFD, since the control plane
 *    keys on them;
 *  - descriptions (engine, GPU name): sanitised instead (invalid UTF-8 ->
 *    U+FFFD, control characters dropped, truncated), since a garbled engine
 *    name should not drop a pool.
 * The first refusal of a pull is kept as one line for the plugin to log.
 */
#include "nr_records.h"

#include "txt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the record's struct_size covers the whole of field. */
#define NR_COVERS(rec, type, field)                                                                \
    ((size_t)(rec)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

#define NR_STR_(x) #x
#define NR_STR(x) NR_STR_(x)

/* Longest host string read while sanitising (control characters shrink it). */
#define NR_SANITIZE_READ_MAX ((size_t)4 * NR_MAX_STRING)

/* A sanitised malloc'd copy of a descriptive host string; *out = NULL when
 * nothing printable is left. Returns -1 only when out of memory. */
static int copy_description(const char *s, char **out)
{
    char buf[NR_MAX_STRING + 1];
    size_t n;

    *out = NULL;
    if (s == NULL)
        return 0;
    n = txt_utf8_sanitize(s, strnlen(s, NR_SANITIZE_READ_MAX), buf, sizeof(buf));
    if (n == 0)
        return 0;
    *out = strdup(buf);
    return *out == NULL ? -1 : 0;
}

/* Records a refusal: the first message of the pull is kept, all are counted. */
#define NR_FIRST_ERROR_SIZE sizeof(((nr_pool_list_t *)0)->first_error)
_Static_assert(sizeof(((nr_capabilities_t *)0)->first_error) == NR_FIRST_ERROR_SIZE,
               "both record lists keep first_error in buffers of one size");

static int32_t refuse(char *first_error, size_t *refused, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int32_t refuse(char *first_error, size_t *refused, int32_t code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (*refused == 0 || first_error[0] == '\0')
        vsnprintf(first_error, NR_FIRST_ERROR_SIZE, fmt, ap);
    va_end(ap);
    (*refused)++;
    return code;
}

/* Grows *items (of elem bytes each) so that one more fits; -1 on no memory. */
static int reserve_one(void **items, size_t *capacity, size_t count, size_t elem, size_t max)
{
    size_t cap;
    void *p;

    if (count < *capacity)
        return 0;
    cap = *capacity == 0 ? 8 : *capacity * 2;
    if (cap > max)
        cap = max;
    p = realloc(*items, cap * elem);
    if (p == NULL)
        return -1;
    *items = p;
    *capacity = cap;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Pools                                                                  */
/* ---------------------------------------------------------------------- */

int32_t nr_pool_list_add(nr_pool_list_t *list, const pmd_pool_status_t *pool)
{
    char *first = list != NULL ? list->first_error : NULL;
    size_t index, len;
    const char *problem;
    nr_pool_t rec;

    if (list == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    index = list->count + list->refused;
    if (list->count >= NR_MAX_POOLS)
        return refuse(first, &list->refused, PMD_ERR_LIMIT,
                      "pool %zu: more than %d pools; the rest are ignored", index, NR_MAX_POOLS);
    if (pool == NULL)
        return refuse(first, &list->refused, PMD_ERR_HOST_DATA, "pool %zu: record is NULL", index);
    if (!NR_COVERS(pool, pmd_pool_status_t, pool_id))
        return refuse(first, &list->refused, PMD_ERR_HOST_DATA,
                      "pool %zu: struct_size %u does not cover pool_id", index, pool->struct_size);
    if (pool->pool_id == NULL)
        return refuse(first, &list->refused, PMD_ERR_HOST_DATA, "pool %zu: pool_id is missing",
                      index);

    len = strnlen(pool->pool_id, NR_MAX_STRING + 1);
    problem = txt_identity_problem(pool->pool_id, len, NR_MAX_STRING);
    if (problem != NULL)
        return refuse(first, &list->refused, PMD_ERR_HOST_DATA, "pool %zu: pool_id %s%s", index,
                      problem,
                      len > NR_MAX_STRING ? " (over " NR_STR(NR_MAX_STRING) " bytes)" : "");
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].pool_id, pool->pool_id) == 0)
            return refuse(first, &list->refused, PMD_ERR_HOST_DATA,
                          "pool %zu: pool_id repeats an earlier pool", index);
    }

    memset(&rec, 0, sizeof(rec));
    if (NR_COVERS(pool, pmd_pool_status_t, ready))
        rec.ready = pool->ready != 0;
    if (NR_COVERS(pool, pmd_pool_status_t, draining))
        rec.draining = pool->draining != 0;
    if (NR_COVERS(pool, pmd_pool_status_t, slots_free))
        rec.slots_free = pool->slots_free;
    if (NR_COVERS(pool, pmd_pool_status_t, slots_total))
        rec.slots_total = pool->slots_total;
    if (NR_COVERS(pool, pmd_pool_status_t, vram_free_bytes))
        rec.vram_free_bytes = pool->vram_free_bytes;

    rec.pool_id = strndup(pool->pool_id, len);
    if (rec.pool_id == NULL ||
        (NR_COVERS(pool, pmd_pool_status_t, engine) &&
         copy_description(pool->engine, &rec.engine) != 0) ||
        reserve_one((void **)&list->items, &list->capacity, list->count, sizeof(nr_pool_t),
                    NR_MAX_POOLS) != 0) {
        free(rec.pool_id);
        free(rec.engine);
        return refuse(first, &list->refused, PMD_ERR_NO_MEMORY, "pool %zu: out of memory", index);
    }
    list->items[list->count++] = rec;
    return PMD_OK;
}

static int32_t pool_sink_add(void *sink_data, const pmd_pool_status_t *pool)
{
    return nr_pool_list_add(sink_data, pool);
}

pmd_pool_sink_t nr_pool_sink(nr_pool_list_t *list)
{
    pmd_pool_sink_t sink;

    memset(&sink, 0, sizeof(sink));
    sink.struct_size = sizeof(sink);
    sink.sink_data = list;
    sink.add_pool = pool_sink_add;
    return sink;
}

void nr_pool_list_clear(nr_pool_list_t *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].pool_id);
        free(list->items[i].engine);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

int nr_pool_list_copy(nr_pool_list_t *dst, const nr_pool_list_t *src)
{
    nr_pool_list_t tmp;

    if (dst == NULL || src == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (dst == src)
        return PMD_OK;
    memset(&tmp, 0, sizeof(tmp));
    if (src->count > 0) {
        tmp.items = calloc(src->count, sizeof(nr_pool_t));
        if (tmp.items == NULL)
            return PMD_ERR_NO_MEMORY;
        tmp.capacity = src->count;
    }
    for (size_t i = 0; i < src->count; i++) {
        nr_pool_t *d = &tmp.items[i];
        *d = src->items[i];
        d->pool_id = strdup(src->items[i].pool_id);
        d->engine = src->items[i].engine != NULL ? strdup(src->items[i].engine) : NULL;
        tmp.count = i + 1;
        if (d->pool_id == NULL || (src->items[i].engine != NULL && d->engine == NULL)) {
            nr_pool_list_clear(&tmp);
            return PMD_ERR_NO_MEMORY;
        }
    }
    memcpy(tmp.first_error, src->first_error, sizeof(tmp.first_error));
    tmp.refused = src->refused;
    nr_pool_list_clear(dst);
    *dst = tmp;
    return PMD_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Without memory to sort: every id of each side is on the other side. */
static int ids_equal_slow(const nr_pool_list_t *a, char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int in_ids = 0, in_a = 0;
        for (size_t j = 0; j < n && !(in_ids && in_a); j++) {
            in_ids |= strcmp(a->items[i].pool_id, ids[j]) == 0;
            in_a |= strcmp(ids[i], a->items[j].pool_id) == 0;
        }
        if (!in_ids || !in_a)
            return 0;
    }
    return 1;
}

int nr_pool_ids_equal(const nr_pool_list_t *a, char *const *ids, size_t id_count)
{
    size_t n = a != NULL ? a->count : 0;
    const char **x;
    int equal = 1;

    if (n != id_count)
        return 0;
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == NULL)
            return 0;
    }
    x = malloc(2 * n * sizeof(*x));
    if (x == NULL)
        return ids_equal_slow(a, ids, n);
    for (size_t i = 0; i < n; i++) {
        x[i] = a->items[i].pool_id;
        x[n + i] = ids[i];
    }
    qsort(x, n, sizeof(*x), cmp_str);
    qsort(x + n, n, sizeof(*x), cmp_str);
    for (size_t i = 0; i < n && equal; i++)
        equal = strcmp(x[i], x[n + i]) == 0;
    free(x);
    return equal;
}

/* ---------------------------------------------------------------------- */
/* Capabilities                                                           */
/* ---------------------------------------------------------------------- */

int nr_compute_capability_valid(const char *s)
{
    size_t major, minor;

    if (s == NULL)
        return 0;
    major = strspn(s, "0123456789");
    if (major == 0 || s[major] != '.')
        return 0;
    minor = strspn(s + major + 1, "0123456789");
    return minor > 0 && s[major + 1 + minor] == '\0';
}

int32_t nr_capabilities_add_gpu(nr_capabilities_t *caps, const pmd_gpu_info_t *gpu)
{
    char *first = caps != NULL ? caps->first_error : NULL;
    size_t index;
    nr_gpu_t rec;

    if (caps == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    index = caps->gpu_count + caps->refused;
    if (caps->gpu_count >= NR_MAX_GPUS)
        return refuse(first, &caps->refused, PMD_ERR_LIMIT,
                      "gpu %zu: more than %d GPUs; the rest are ignored", index, NR_MAX_GPUS);
    if (gpu == NULL)
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA, "gpu %zu: record is NULL", index);
    if (!NR_COVERS(gpu, pmd_gpu_info_t, compute_capability))
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA,
                      "gpu %zu: struct_size %u does not cover compute_capability", index,
                      gpu->struct_size);
    if (gpu->name == NULL)
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA, "gpu %zu: name is missing", index);
    if (gpu->compute_capability == NULL)
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA,
                      "gpu %zu: compute_capability is missing", index);
    if (strnlen(gpu->compute_capability, NR_MAX_STRING + 1) > NR_MAX_STRING ||
        !nr_compute_capability_valid(gpu->compute_capability))
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA,
                      "gpu %zu: compute_capability is not \"major.minor\" digits", index);

    memset(&rec, 0, sizeof(rec));
    rec.device_id = gpu->device_id;
    rec.vram_total_bytes = gpu->vram_total_bytes;
    if (copy_description(gpu->name, &rec.name) != 0)
        return refuse(first, &caps->refused, PMD_ERR_NO_MEMORY, "gpu %zu: out of memory", index);
    if (rec.name == NULL)
        return refuse(first, &caps->refused, PMD_ERR_HOST_DATA,
                      "gpu %zu: name is empty or has no printable character", index);
    rec.compute_capability = strdup(gpu->compute_capability);
    if (rec.compute_capability == NULL ||
        reserve_one((void **)&caps->gpus, &caps->gpu_capacity, caps->gpu_count, sizeof(nr_gpu_t),
                    NR_MAX_GPUS) != 0) {
        free(rec.name);
        free(rec.compute_capability);
        return refuse(first, &caps->refused, PMD_ERR_NO_MEMORY, "gpu %zu: out of memory", index);
    }
    caps->gpus[caps->gpu_count++] = rec;
    return PMD_OK;
}

int32_t nr_capabilities_set_resources(nr_capabilities_t *caps, const pmd_node_resources_t *res)
{
    if (caps == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (res == NULL)
        return refuse(caps->first_error, &caps->refused, PMD_ERR_HOST_DATA,
                      "resources: record is NULL");
    if (res->struct_size < sizeof(uint32_t))
        return refuse(caps->first_error, &caps->refused, PMD_ERR_HOST_DATA,
                      "resources: struct_size %u is too small", res->struct_size);
    caps->cpu_cores = NR_COVERS(res, pmd_node_resources_t, cpu_cores) ? res->cpu_cores : 0;
    caps->ram_total_bytes =
        NR_COVERS(res, pmd_node_resources_t, ram_total_bytes) ? res->ram_total_bytes : 0;
    return PMD_OK;
}

static int32_t cap_sink_resources(void *sink_data, const pmd_node_resources_t *res)
{
    return nr_capabilities_set_resources(sink_data, res);
}

static int32_t cap_sink_gpu(void *sink_data, const pmd_gpu_info_t *gpu)
{
    return nr_capabilities_add_gpu(sink_data, gpu);
}

pmd_capability_sink_t nr_capability_sink(nr_capabilities_t *caps)
{
    pmd_capability_sink_t sink;

    memset(&sink, 0, sizeof(sink));
    sink.struct_size = sizeof(sink);
    sink.sink_data = caps;
    sink.set_resources = cap_sink_resources;
    sink.add_gpu = cap_sink_gpu;
    return sink;
}

void nr_capabilities_clear(nr_capabilities_t *caps)
{
    if (caps == NULL)
        return;
    for (size_t i = 0; i < caps->gpu_count; i++) {
        free(caps->gpus[i].name);
        free(caps->gpus[i].compute_capability);
    }
    free(caps->gpus);
    memset(caps, 0, sizeof(*caps));
}

int nr_capabilities_copy(nr_capabilities_t *dst, const nr_capabilities_t *src)
{
    nr_capabilities_t tmp;

    if (dst == NULL || src == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (dst == src)
        return PMD_OK;
    memset(&tmp, 0, sizeof(tmp));
    if (src->gpu_count > 0) {
        tmp.gpus = calloc(src->gpu_count, sizeof(nr_gpu_t));
        if (tmp.gpus == NULL)
            return PMD_ERR_NO_MEMORY;
        tmp.gpu_capacity = src->gpu_count;
    }
    for (size_t i = 0; i < src->gpu_count; i++) {
        nr_gpu_t *d = &tmp.gpus[i];
        *d = src->gpus[i];
        d->name = strdup(src->gpus[i].name);
        d->compute_capability = strdup(src->gpus[i].compute_capability);
        tmp.gpu_count = i + 1;
        if (d->name == NULL || d->compute_capability == NULL) {
            nr_capabilities_clear(&tmp);
            return PMD_ERR_NO_MEMORY;
        }
    }
    tmp.cpu_cores = src->cpu_cores;
    tmp.ram_total_bytes = src->ram_total_bytes;
    memcpy(tmp.first_error, src->first_error, sizeof(tmp.first_error));
    tmp.refused = src->refused;
    nr_capabilities_clear(dst);
    *dst = tmp;
    return PMD_OK;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int nr_pool_list_equal(const nr_pool_list_t *a, const nr_pool_list_t *b)
{
    if (a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        const nr_pool_t *x = &a->items[i], *y = &b->items[i];
        if (x->ready != y->ready || x->draining != y->draining || x->slots_free != y->slots_free ||
            x->slots_total != y->slots_total || x->vram_free_bytes != y->vram_free_bytes ||
            !same_string(x->pool_id, y->pool_id) || !same_string(x->engine, y->engine))
            return 0;
    }
    return 1;
}
