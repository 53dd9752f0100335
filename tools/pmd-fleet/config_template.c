/* config_template.c - the per-node config, rendered with json-c so that the
 * node id is escaped properly whatever the prefix. */
#include "config_template.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pf_template {
    json_object *root;
};

pf_template_t *pf_template_load(const char *path, const char *url, char *err, size_t err_size)
{
    json_object *root = json_object_from_file(path);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        snprintf(err, err_size, "%s: not a JSON object (%s)", path, json_util_get_last_err());
        json_object_put(root);
        return NULL;
    }
    pf_template_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_size, "out of memory");
        json_object_put(root);
        return NULL;
    }
    t->root = root;
    if (url)
        json_object_object_add(root, "orchestratord_url", json_object_new_string(url));
    return t;
}

void pf_template_free(pf_template_t *t)
{
    if (t == NULL)
        return;
    json_object_put(t->root);
    free(t);
}

char *pf_template_render(pf_template_t *t, const char *node_id)
{
    json_object_object_add(t->root, "node_id", json_object_new_string(node_id));
    const char *text = json_object_to_json_string_ext(t->root, JSON_C_TO_STRING_PLAIN);
    return text ? strdup(text) : NULL;
}

const char *pf_template_url(const pf_template_t *t)
{
    json_object *v;
    if (json_object_object_get_ex(t->root, "orchestratord_url", &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

uint64_t pf_template_interval_ms(const pf_template_t *t)
{
    json_object *v;
    if (json_object_object_get_ex(t->root, "heartbeat_interval_ms", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
        return (uint64_t)json_object_get_int64(v);
    if (json_object_object_get_ex(t->root, "heartbeat_interval_secs", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
        return (uint64_t)json_object_get_int64(v) * 1000u;
    return 10000;
}
