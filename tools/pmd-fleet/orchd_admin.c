/* orchd_admin.c - one libcurl easy request per call; no proxy, no redirect. */
#include "orchd_admin.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len;
} buf_t;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    size_t add = size * n;
    char *p = realloc(b->p, b->len + add + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, data, add);
    b->p = p;
    b->len += add;
    p[b->len] = '\0';
    return add;
}

/* Returns the HTTP status (0 on a transport error); *body when asked. */
static long call(const char *base, const char *method, const char *path, const char *json,
                 long timeout_ms, char **body)
{
    CURL *c = curl_easy_init();
    buf_t b = {NULL, 0};
    long status = 0;
    char url[1024];
    struct curl_slist *h = NULL;
    if (c == NULL)
        return 0;
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (json) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (body && status == 200)
        *body = b.p;
    else
        free(b.p);
    return status;
}

int pf_orchd_detect(const char *base)
{
    char *body = NULL;
    long st = call(base, "GET", "/_dev/stats", NULL, 2000, &body);
    int yes = st == 200 && body && body[0] == '{';
    free(body);
    return yes;
}

int pf_orchd_restart(const char *base)
{
    return call(base, "POST", "/_dev/restart", "{}", 2000, NULL) == 200 ? 0 : -1;
}

int pf_orchd_drop_all(const char *base)
{
    return call(base, "POST", "/_dev/fault", "{\"match\":\"any\",\"drop\":true}", 2000, NULL) == 200
               ? 0
               : -1;
}

int pf_orchd_clear_faults(const char *base)
{
    long st = call(base, "DELETE", "/_dev/fault", NULL, 2000, NULL);
    return st >= 200 && st < 300 ? 0 : -1;
}

char *pf_orchd_requests(const char *base)
{
    char *body = NULL;
    call(base, "GET", "/_dev/requests", NULL, 5000, &body);
    return body;
}
