/* config_merge.c - see config_merge.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config_merge.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *parse_or_die(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        fprintf(stderr, "test_config_merge: not a JSON object: %s\n", text);
        abort();
    }
    return o;
}

char *test_config_merge(const char *base_json, const char *extra_members)
{
    json_object *base = parse_or_die(base_json);
    if (extra_members != NULL && extra_members[0] != '\0') {
        char *wrapped = NULL;
        if (asprintf(&wrapped, "{%s}", extra_members) < 0)
            abort();
        json_object *more = parse_or_die(wrapped);
        free(wrapped);
        json_object_object_foreach(more, key, value)
            json_object_object_add(base, key, json_object_get(value));
        json_object_put(more);
    }
    char *out = strdup(json_object_to_json_string_ext(base, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(base);
    if (out == NULL)
        abort();
    return out;
}
