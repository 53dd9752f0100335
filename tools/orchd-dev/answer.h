/* answer.h - a response decided but not yet sent: status + body bytes.
 * Lets admin.c and the node handlers decide without touching MHD. */
#ifndef OD_ANSWER_H
#define OD_ANSWER_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct od_answer {
    int status;
    char *body; /* malloc'd; NULL = empty body */
    size_t len;
    int is_json; /* send Content-Type: application/json */
} od_answer_t;

/* Serialize O (reference taken over) as the body. */
void od_answer_json(od_answer_t *a, int status, json_object *o);

/* {"success":false,"message":MSG} (the real server's error shape). */
void od_answer_error(od_answer_t *a, int status, const char *msg);

/* Raw bytes (copied); LEN 0 = empty body. */
void od_answer_raw(od_answer_t *a, int status, const char *body, size_t len, int is_json);

void od_answer_free(od_answer_t *a);

#endif
