/*
 * capabilities.c - NodeCapabilities JSON -> struct, struct -> capability
 * sink (see capabilities.h). Discovery on the machine is in discover.c.
 */
#include "capabilities.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_fields.h"

#define CAPS_FILE_MAX_BYTES (1024u * 1024)

static void gpu_clear(shim_gpu_t *g)
{
    free(g->name);
    free(g->compute_capability);
    memset(g, 0, sizeof(*g));
}

void shim_capabilities_free(shim_capabilities_t *caps)
{
    for (size_t i = 0; i < caps->gpu_count; i++)
        gpu_clear(&caps->gpus[i]);
    free(caps->gpus);
    memset(caps, 0, sizeof(*caps));
}

/* "major.minor", both decimal digits. */
static int is_compute_capability(const char *s)
{
    size_t major = strspn(s, "0123456789");
    return major > 0 && s[major] == '.' && s[major + 1] != '\0' &&
           strspn(s + major + 1, "0123456789") == strlen(s + major + 1);
}

static int gpu_field(shim_gpu_t *g, const char *key, json_object *v, const char *where, char *err,
                     size_t err_size)
{
    uint64_t u = 0;
    if (strcmp(key, "device_id") == 0) {
        int rc = shim_json_uint(v, UINT32_MAX, where, key, &u, err, err_size);
        g->device_id = (uint32_t)u;
        return rc;
    }
    if (strcmp(key, "vram_total_bytes") == 0)
        return shim_json_uint(v, UINT64_MAX, where, key, &g->vram_total_bytes, err, err_size);
    if (strcmp(key, "name") == 0)
        return shim_json_string(v, 0, where, key, &g->name, err, err_size);
    if (strcmp(key, "compute_capability") == 0) {
        if (shim_json_string(v, 0, where, key, &g->compute_capability, err, err_size) != 0)
            return -1;
        if (is_compute_capability(g->compute_capability))
            return 0;
        snprintf(err, err_size, "%s: compute_capability must read \"major.minor\"", where);
        return -1;
    }
    snprintf(err, err_size, "%s: unknown field \"%.64s\"", where, key);
    return -1;
}

static int gpu_from_json(json_object *obj, const char *where, shim_gpu_t *g, char *err,
                         size_t err_size)
{
    static const char *const required[] = {"device_id", "name", "vram_total_bytes",
                                           "compute_capability"};
    memset(g, 0, sizeof(*g));
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, err_size, "%s: must be an object", where);
        return -1;
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!json_object_object_get_ex(obj, required[i], NULL)) {
            snprintf(err, err_size, "%s: %s is missing", where, required[i]);
            return -1;
        }
    }
    json_object_object_foreach(obj, key, value)
    {
        if (gpu_field(g, key, value, where, err, err_size) != 0) {
            gpu_clear(g);
            return -1;
        }
    }
    return 0;
}

static int gpus_from_json(json_object *arr, const char *source, shim_capabilities_t *caps,
                          char *err, size_t err_size)
{
    if (!json_object_is_type(arr, json_type_array)) {
        snprintf(err, err_size, "%s: gpus must be an array", source);
        return -1;
    }
    size_t n = json_object_array_length(arr);
    caps->gpus = calloc(n ? n : 1, sizeof(shim_gpu_t));
    if (caps->gpus == NULL) {
        snprintf(err, err_size, "%s: out of memory", source);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char where[300];
        snprintf(where, sizeof(where), "%s: gpu %zu", source, i);
        if (gpu_from_json(json_object_array_get_idx(arr, i), where, &caps->gpus[i], err,
                          err_size) != 0)
            return -1;
        caps->gpu_count = i + 1;
    }
    return 0;
}

static int caps_field(shim_capabilities_t *c, const char *key, json_object *v, const char *source,
                      char *err, size_t err_size)
{
    uint64_t u = 0;
    if (strcmp(key, "gpus") == 0)
        return gpus_from_json(v, source, c, err, err_size);
    if (strcmp(key, "cpu_cores") == 0) {
        int rc = shim_json_uint(v, UINT32_MAX, source, key, &u, err, err_size);
        c->cpu_cores = (uint32_t)u;
        return rc;
    }
    if (strcmp(key, "ram_total_bytes") == 0)
        return shim_json_uint(v, UINT64_MAX, source, key, &c->ram_total_bytes, err, err_size);
    snprintf(err, err_size, "%s: unknown field \"%.64s\"", source, key);
    return -1;
}

int shim_capabilities_parse(const char *json_text, const char *source, shim_capabilities_t *out,
                            char *err, size_t err_size)
{
    char why[256];
    shim_capabilities_t caps = {0};
    json_object *root = shim_json_parse(json_text, why, sizeof(why));
    int rc = -1;
    if (root == NULL)
        snprintf(err, err_size, "%s: %s", source, why);
    else if (!json_object_is_type(root, json_type_object))
        snprintf(err, err_size, "%s: must be a JSON object (NodeCapabilities)", source);
    else if (!json_object_object_get_ex(root, "gpus", NULL))
        snprintf(err, err_size, "%s: gpus is missing (use [] for none)", source);
    else
        rc = 0;
    if (rc == 0) {
        json_object_object_foreach(root, key, value)
        {
            if ((rc = caps_field(&caps, key, value, source, err, err_size)) != 0)
                break;
        }
    }
    json_object_put(root);
    if (rc != 0)
        shim_capabilities_free(&caps);
    else
        *out = caps;
    return rc;
}

int shim_capabilities_load(const char *path, shim_capabilities_t *out, char *err, size_t err_size)
{
    char *text = shim_read_text_file(path, CAPS_FILE_MAX_BYTES, err, err_size);
    if (text == NULL)
        return -1;
    int rc = shim_capabilities_parse(text, path, out, err, err_size);
    free(text);
    return rc;
}

static json_object *gpu_to_json(const shim_gpu_t *g)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "device_id", json_object_new_uint64(g->device_id));
    json_object_object_add(o, "name", json_object_new_string(g->name ? g->name : ""));
    json_object_object_add(o, "vram_total_bytes", json_object_new_uint64(g->vram_total_bytes));
    json_object_object_add(
        o, "compute_capability",
        json_object_new_string(g->compute_capability ? g->compute_capability : ""));
    return o;
}

char *shim_capabilities_to_json(const shim_capabilities_t *caps)
{
    json_object *root = json_object_new_object(), *gpus = json_object_new_array();
    char *text = NULL;
    if (root == NULL || gpus == NULL) {
        json_object_put(root);
        json_object_put(gpus);
        return NULL;
    }
    for (size_t i = 0; i < caps->gpu_count; i++)
        json_object_array_add(gpus, gpu_to_json(&caps->gpus[i]));
    json_object_object_add(root, "gpus", gpus);
    if (caps->cpu_cores != 0)
        json_object_object_add(root, "cpu_cores", json_object_new_uint64(caps->cpu_cores));
    if (caps->ram_total_bytes != 0)
        json_object_object_add(root, "ram_total_bytes",
                               json_object_new_uint64(caps->ram_total_bytes));
    const char *s = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s != NULL)
        text = strdup(s);
    json_object_put(root);
    return text;
}

static int sink_usable(const pmd_capability_sink_t *s)
{
    return s != NULL &&
           s->struct_size >= offsetof(pmd_capability_sink_t, add_gpu) + sizeof(s->add_gpu) &&
           s->set_resources != NULL && s->add_gpu != NULL;
}

int32_t shim_capabilities_push(const shim_capabilities_t *caps, const pmd_capability_sink_t *sink,
                               size_t *first_bad)
{
    if (!sink_usable(sink))
        return PMD_ERR_INVALID_ARGUMENT;
    pmd_node_resources_t res = {sizeof(res), caps->cpu_cores, caps->ram_total_bytes};
    int32_t result = sink->set_resources(sink->sink_data, &res);
    if (result != PMD_OK)
        *first_bad = SIZE_MAX;
    for (size_t i = 0; i < caps->gpu_count; i++) {
        const shim_gpu_t *g = &caps->gpus[i];
        pmd_gpu_info_t rec = {sizeof(rec), g->device_id, g->vram_total_bytes, g->name,
                              g->compute_capability};
        int32_t rc = sink->add_gpu(sink->sink_data, &rec);
        if (rc != PMD_OK && result == PMD_OK) {
            result = rc;
            *first_bad = i;
        }
    }
    return result;
}
