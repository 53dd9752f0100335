/* slowbody.c - content-reader callbacks for the body_mode faults.
 *
 * With one thread per connection, a reader may block (trickle sleeps in it);
 * it sleeps through od_stop_sleep_ms so shutdown is not held up. */
#include "slowbody.h"

#include "stop.h"

#include <stdlib.h>
#include <string.h>

struct slow {
    enum od_body_mode mode;
    char *body;
    size_t len;
};

/* BODY, then spaces, from offset POS. */
static void fill(const struct slow *s, uint64_t pos, char *buf, size_t n)
{
    size_t head = pos < s->len ? s->len - (size_t)pos : 0;
    if (head > n)
        head = n;
    if (head > 0)
        memcpy(buf, s->body + pos, head);
    memset(buf + head, ' ', n - head);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct slow *s = cls;
    size_t n = max;
    if (od_stop_requested())
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->mode == OD_BODY_TRICKLE) {
        if (pos >= s->len)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (pos > 0 && od_stop_sleep_ms(1000))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        buf[0] = s->body[pos];
        return 1;
    }
    if (s->mode == OD_BODY_HUGE) {
        if (pos >= OD_HUGE_BODY_BYTES)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (n > OD_HUGE_BODY_BYTES - pos)
            n = (size_t)(OD_HUGE_BODY_BYTES - pos);
    }
    fill(s, pos, buf, n);
    return (ssize_t)n;
}

static void release(void *cls)
{
    struct slow *s = cls;
    free(s->body);
    free(s);
}

struct MHD_Response *od_slowbody_response(enum od_body_mode mode, const char *body, size_t len)
{
    struct slow *s = calloc(1, sizeof *s);
    uint64_t size = mode == OD_BODY_HUGE      ? OD_HUGE_BODY_BYTES
                    : mode == OD_BODY_ENDLESS ? MHD_SIZE_UNKNOWN
                                              : len;
    struct MHD_Response *r;
    if (!s || !(s->body = malloc(len + 1))) {
        free(s);
        return NULL;
    }
    memcpy(s->body, body ? body : "", len);
    s->len = len;
    s->mode = mode;
    r = MHD_create_response_from_callback(size, mode == OD_BODY_TRICKLE ? 1 : 64 * 1024, reader, s,
                                          release);
    if (!r)
        release(s);
    return r;
}
