/*
 * pools_file.c - pools JSON -> list, list -> pool sink, and the reload of
 * the --pools file on change (see pools_file.h). Parsing is pure; the file
 * part only decides when to parse again.
 */
#include "pools_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json_fields.h"

#define POOLS_FILE_MAX_BYTES (16u * 1024 * 1024)

static void pool_clear(shim_pool_t *p)
{
    free(p->pool_id);
    free(p->engine);
    memset(p, 0, sizeof(*p));
}

void shim_pools_free(shim_pool_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        pool_clear(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* One key of a pool object; -1 with err set when it is unknown or bad. */
static int pool_field(shim_pool_t *p, const char *key, json_object *v, const char *where, char *err,
                      size_t err_size)
{
    uint64_t u = 0;
    int rc;
    if (strcmp(key, "pool_id") == 0)
        return shim_json_string(v, 0, where, key, &p->pool_id, err, err_size);
    if (strcmp(key, "engine") == 0)
        return v == NULL ? 0 : shim_json_string(v, 1, where, key, &p->engine, err, err_size);
    if (strcmp(key, "ready") == 0)
        return shim_json_bool(v, where, key, &p->ready, err, err_size);
    if (strcmp(key, "draining") == 0)
        return shim_json_bool(v, where, key, &p->draining, err, err_size);
    if (strcmp(key, "slots_free") == 0) {
        rc = shim_json_uint(v, UINT32_MAX, where, key, &u, err, err_size);
        p->slots_free = (uint32_t)u;
        return rc;
    }
    if (strcmp(key, "slots_total") == 0) {
        rc = shim_json_uint(v, UINT32_MAX, where, key, &u, err, err_size);
        p->slots_total = (uint32_t)u;
        return rc;
    }
    if (strcmp(key, "vram_free_bytes") == 0)
        return shim_json_uint(v, UINT64_MAX, where, key, &p->vram_free_bytes, err, err_size);
    snprintf(err, err_size, "%s: unknown field \"%.64s\"", where, key);
    return -1;
}

static int pool_from_json(json_object *obj, const char *where, shim_pool_t *p, char *err,
                          size_t err_size)
{
    memset(p, 0, sizeof(*p));
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, err_size, "%s: must be an object", where);
        return -1;
    }
    json_object_object_foreach(obj, key, value)
    {
        if (pool_field(p, key, value, where, err, err_size) != 0) {
            pool_clear(p);
            return -1;
        }
    }
    if (p->pool_id == NULL) {
        snprintf(err, err_size, "%s: pool_id is missing", where);
        pool_clear(p);
        return -1;
    }
    return 0;
}

static int pools_from_array(json_object *arr, const char *source, shim_pool_list_t *out, char *err,
                            size_t err_size)
{
    size_t n = json_object_array_length(arr);
    shim_pool_list_t list = {calloc(n ? n : 1, sizeof(shim_pool_t)), 0};
    if (list.items == NULL) {
        snprintf(err, err_size, "%s: out of memory", source);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char where[300];
        snprintf(where, sizeof(where), "%s: pool %zu", source, i);
        if (pool_from_json(json_object_array_get_idx(arr, i), where, &list.items[i], err,
                           err_size) != 0) {
            shim_pools_free(&list);
            return -1;
        }
        list.count = i + 1;
    }
    *out = list;
    return 0;
}

int shim_pools_parse(const char *json_text, const char *source, shim_pool_list_t *out, char *err,
                     size_t err_size)
{
    char why[256];
    json_object *root = shim_json_parse(json_text, why, sizeof(why));
    if (root == NULL) {
        snprintf(err, err_size, "%s: %s", source, why);
        return -1;
    }
    int rc = -1;
    if (!json_object_is_type(root, json_type_array))
        snprintf(err, err_size, "%s: must be a JSON array of pool objects", source);
    else
        rc = pools_from_array(root, source, out, err, err_size);
    json_object_put(root);
    return rc;
}

int32_t shim_pools_push(const shim_pool_list_t *list, const pmd_pool_sink_t *sink,
                        size_t *first_bad)
{
    int32_t result = PMD_OK;
    if (sink == NULL ||
        sink->struct_size < offsetof(pmd_pool_sink_t, add_pool) + sizeof(sink->add_pool) ||
        sink->add_pool == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < list->count; i++) {
        const shim_pool_t *p = &list->items[i];
        pmd_pool_status_t rec = {.struct_size = sizeof(rec),
                                 .ready = p->ready,
                                 .draining = p->draining,
                                 .slots_free = p->slots_free,
                                 .slots_total = p->slots_total,
                                 .vram_free_bytes = p->vram_free_bytes,
                                 .pool_id = p->pool_id,
                                 .engine = p->engine};
        int32_t rc = sink->add_pool(sink->sink_data, &rec);
        if (rc != PMD_OK && result == PMD_OK) {
            result = rc;
            *first_bad = i;
        }
    }
    return result;
}

/* ---- the file ---- */

static int stamp_changed(const shim_pools_file_t *pf, const struct stat *st)
{
    return !pf->have_stat || pf->dev != st->st_dev || pf->ino != st->st_ino ||
           pf->size != st->st_size || pf->mtime.tv_sec != st->st_mtim.tv_sec ||
           pf->mtime.tv_nsec != st->st_mtim.tv_nsec;
}

static void stamp_store(shim_pools_file_t *pf, const struct stat *st)
{
    pf->have_stat = 1;
    pf->dev = st->st_dev;
    pf->ino = st->st_ino;
    pf->size = st->st_size;
    pf->mtime = st->st_mtim;
}

/* Reads and parses the file; on success the new list replaces the old. */
static int reload(shim_pools_file_t *pf, char *err, size_t err_size)
{
    shim_pool_list_t fresh;
    char *text = shim_read_text_file(pf->path, POOLS_FILE_MAX_BYTES, err, err_size);
    if (text == NULL)
        return -1;
    int rc = shim_pools_parse(text, pf->path, &fresh, err, err_size);
    free(text);
    if (rc != 0)
        return -1;
    shim_pools_free(&pf->list);
    pf->list = fresh;
    return 0;
}

int shim_pools_file_open(shim_pools_file_t *pf, const char *path, char *err, size_t err_size)
{
    struct stat st;
    memset(pf, 0, sizeof(*pf));
    pf->path = strdup(path);
    if (pf->path == NULL) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    stamp_store(pf, &st);
    return reload(pf, err, err_size);
}

/* Reports problem once: -1 when it differs from the last one, else 0. */
static int report_once(shim_pools_file_t *pf, const char *problem, char *msg, size_t msg_size)
{
    if (strcmp(pf->last_problem, problem) == 0)
        return 0;
    snprintf(pf->last_problem, sizeof(pf->last_problem), "%s", problem);
    snprintf(msg, msg_size, "%s; keeping the last good list (%zu pool(s))", problem,
             pf->list.count);
    return -1;
}

int shim_pools_file_poll(shim_pools_file_t *pf, uint64_t now_ns, char *msg, size_t msg_size)
{
    struct stat st;
    char problem[sizeof(pf->last_problem)];
    if (pf->checked && now_ns - pf->last_check_ns < SHIM_POOLS_CHECK_NS)
        return 0;
    pf->checked = 1;
    pf->last_check_ns = now_ns;
    if (stat(pf->path, &st) != 0) {
        snprintf(problem, sizeof(problem), "%s: %s", pf->path, strerror(errno));
        pf->have_stat = 0; /* whatever appears there next is new */
        return report_once(pf, problem, msg, msg_size);
    }
    if (!stamp_changed(pf, &st))
        return 0;
    stamp_store(pf, &st);
    if (reload(pf, problem, sizeof(problem)) != 0)
        return report_once(pf, problem, msg, msg_size);
    pf->last_problem[0] = '\0';
    snprintf(msg, msg_size, "%s: reloaded, %zu pool(s)", pf->path, pf->list.count);
    return 1;
}

int shim_pools_file_reload_now(shim_pools_file_t *pf, char *msg, size_t msg_size)
{
    struct stat st;
    char problem[sizeof(pf->last_problem)];
    if (stat(pf->path, &st) != 0) {
        snprintf(problem, sizeof(problem), "%s: %s", pf->path, strerror(errno));
        pf->have_stat = 0;
    } else {
        stamp_store(pf, &st);
        if (reload(pf, problem, sizeof(problem)) == 0) {
            pf->last_problem[0] = '\0';
            snprintf(msg, msg_size, "%s: reloaded, %zu pool(s)", pf->path, pf->list.count);
            return 1;
        }
    }
    pf->last_problem[0] = '\0'; /* report_once reports it, and remembers it for poll */
    return report_once(pf, problem, msg, msg_size);
}

void shim_pools_file_close(shim_pools_file_t *pf)
{
    shim_pools_free(&pf->list);
    free(pf->path);
    memset(pf, 0, sizeof(*pf));
}
