/*
 * curl_floor.c - what one heartbeat costs libcurl itself, with no plugin:
 * one easy handle, one kept-alive connection, the same POST the plugin sends
 * (headers, a small JSON body), in a loop of curl_easy_perform for a fixed
 * time, and the CPU this process spent per request (user + system, the
 * server's share of loopback TCP included, as in pmd-fleet's figures). The
 * floor that pmd-fleet's per-heartbeat cost is compared with
 * (bench/RESULTS.md, issue 17).
 *
 * Usage: pmd-curl-floor URL [SECONDS [RATE]]   (RATE: requests a second,
 * paced with a sleep between them as the plugin's are; 0 = back to back.
 * URL: a node's heartbeat URL on
 * orchd-dev, e.g. http://127.0.0.1:PORT/v2/nodes/x/heartbeat after x
 * registered; any status is counted, as only the client's cost matters)
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static size_t discard(char *data, size_t size, size_t nmemb, void *userp)
{
    (void)data;
    (void)userp;
    return size * nmemb;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pmd-curl-floor URL [SECONDS [RATE]]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 5.0;
    double rate = argc > 3 ? atof(argv[3]) : 0.0;
    const char *body = "{\"timestamp\":\"2026-11-30T00:00:00.000Z\",\"pools\":[{\"pool_id\":"
                       "\"pool-0\",\"ready\":true,\"draining\":false,\"slots_total\":4,"
                       "\"slots_free\":4,\"vram_free_bytes\":0,\"engine\":\"llamacpp\"}]}";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Correlation-Id: 0123456789abcdef-1");
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    long n = 0, failed = 0;
    double cpu0 = cpu_seconds(), t0 = wall_seconds();
    while (wall_seconds() - t0 < seconds) {
        failed += curl_easy_perform(e) != CURLE_OK;
        n++;
        double next = t0 + (double)n / (rate > 0 ? rate : 1e12);
        struct timespec ts = {(time_t)next, (long)((next - (double)(time_t)next) * 1e9)};
        if (rate > 0)
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - t0;
    printf("requests %ld (failed %ld) in %.1f s: %.0f/s, cpu %.1f us per request\n", n, failed,
           wall, (double)n / wall, cpu * 1e6 / (double)(n ? n : 1));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return failed ? 1 : 0;
}
