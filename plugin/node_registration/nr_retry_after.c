/*
 * nr_retry_after.c - Retry-After values to a capped wait (pure).
 * Why not CURLINFO_RETRY_AFTER: libcurl 7.88 reads delta-seconds with an
 * overflowing conversion, so 99999999999999999999 became 0 and the node
 * retried at once. Here a long run of digits saturates at the cap.
 */
#include "nr_retry_after.h"

#include <curl/curl.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* delta-seconds in [p, end): 1 and the capped seconds, or 0 when not digits. */
static int parse_delta(const char *p, const char *end, uint64_t *out_s)
{
    uint64_t s = 0;
    if (p == end)
        return 0;
    for (; p < end; p++) {
        if (!is_digit(*p))
            return 0;
        if (s <= NR_MAX_RETRY_AFTER_S) /* past the cap, more digits change nothing */
            s = s * 10 + (uint64_t)(*p - '0');
    }
    *out_s = s > NR_MAX_RETRY_AFTER_S ? NR_MAX_RETRY_AFTER_S : s;
    return 1;
}

/* HTTP-date: every form (IMF-fixdate, RFC 850, asctime) opens with a day
 * name, which keeps curl_getdate's lenient parser away from "-1" or "5s". */
static int parse_date(const char *p, int64_t now_unix_s, uint64_t *out_s)
{
    if (!is_alpha(*p))
        return 0;
    time_t t = curl_getdate(p, NULL);
    if (t == (time_t)-1)
        return 0;
    if ((int64_t)t <= now_unix_s) {
        *out_s = 0; /* a date in the past: retry now */
        return 1;
    }
    /* t > now, so the difference is positive and fits in 64 unsigned bits
     * whatever the two values are (no signed overflow). */
    uint64_t delta = (uint64_t)(int64_t)t - (uint64_t)now_unix_s;
    *out_s = delta > NR_MAX_RETRY_AFTER_S ? NR_MAX_RETRY_AFTER_S : delta;
    return 1;
}

int nr_retry_after_parse(const char *value, int64_t now_unix_s, uint64_t *out_ms)
{
    if (value == NULL || out_ms == NULL)
        return 0;
    while (is_space(*value))
        value++;
    const char *end = value + strlen(value);
    while (end > value && is_space(end[-1]))
        end--;
    uint64_t s;
    if (!parse_delta(value, end, &s) && !parse_date(value, now_unix_s, &s))
        return 0;
    *out_ms = s * 1000u;
    return 1;
}
