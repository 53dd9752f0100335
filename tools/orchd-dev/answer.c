/* answer.c - building od_answer_t bodies. */
#include "answer.h"

#include <stdlib.h>
#include <string.h>

void od_answer_raw(od_answer_t *a, int status, const char *body, size_t len, int is_json)
{
    free(a->body);
    a->status = status;
    a->is_json = is_json;
    a->body = NULL;
    a->len = 0;
    if (len > 0 && (a->body = malloc(len)) != NULL) {
        memcpy(a->body, body, len);
        a->len = len;
    }
}

void od_answer_json(od_answer_t *a, int status, json_object *o)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    od_answer_raw(a, status, text, len, 1);
    json_object_put(o);
}

void od_answer_error(od_answer_t *a, int status, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "message", json_object_new_string(msg));
    od_answer_json(a, status, o);
}

void od_answer_free(od_answer_t *a)
{
    free(a->body);
    a->body = NULL;
    a->len = 0;
}
