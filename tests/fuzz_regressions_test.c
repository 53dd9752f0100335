/*
 * fuzz_regressions_test.c - replays fuzz inputs through the same harness
 * functions the libFuzzer targets run (tests/fuzz/fuzz_*.c), with the
 * plugin's ordinary build: each crash a fuzzer found stays fixed, and every
 * committed seed still passes every invariant. A broken invariant aborts,
 * which Criterion reports as a crashed test.
 *
 * Crashes found so far (input file in tests/fuzz/regressions/<target>/):
 *   response/retry_after_overflow_schedules_in_past.bin
 *   response/heartbeat_retry_after_overflow.bin
 *     a 429/503 whose Retry-After is so large that it saturates at
 *     UINT64_MAX ns made nr_machine's now + delay wrap around: the next
 *     request was due in the past, so the node retried at once (a tight
 *     loop against a server asking it to stay away). Fixed in nr_machine.c
 *     with a saturating add.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"

typedef int (*harness_fn)(const uint8_t *, size_t);

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void replay_file(harness_fn fn, const char *path)
{
    size_t len;
    uint8_t *data = read_all(path, &len);
    cr_log_info("replaying %s", path);
    cr_assert_eq(fn(data, len), 0);
    free(data);
}

/* Every regular file of NR_FUZZ_DIR/sub; returns how many. */
static int replay_dir(harness_fn fn, const char *sub)
{
    char dir[512], path[1024];
    struct dirent *e;
    int n = 0;
    snprintf(dir, sizeof(dir), "%s/%s", NR_FUZZ_DIR, sub);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        replay_file(fn, path);
        n++;
    }
    closedir(d);
    return n;
}

static void replay_one(harness_fn fn, const char *sub, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", NR_FUZZ_DIR, sub, name);
    replay_file(fn, path);
}

TestSuite(fuzz_regressions, .timeout = 60);

/* The crashes, one test each, named for the behaviour they guard. */

Test(fuzz_regressions, huge_register_retry_after_never_schedules_in_the_past)
{
    replay_one(nr_fuzz_response, "regressions/response",
               "retry_after_overflow_schedules_in_past.bin");
}

Test(fuzz_regressions, huge_heartbeat_retry_after_never_schedules_in_the_past)
{
    replay_one(nr_fuzz_response, "regressions/response", "heartbeat_retry_after_overflow.bin");
}

/* Any other finding dropped into regressions/<target>/ is replayed too. */

Test(fuzz_regressions, every_config_regression_input_passes)
{
    replay_dir(nr_fuzz_config, "regressions/config");
}

Test(fuzz_regressions, every_response_regression_input_passes)
{
    replay_dir(nr_fuzz_response, "regressions/response");
}

Test(fuzz_regressions, every_records_regression_input_passes)
{
    replay_dir(nr_fuzz_records, "regressions/records");
}

/* The seed corpora: the harnesses' invariants hold on real inputs. */

Test(fuzz_regressions, config_seeds_pass)
{
    cr_assert_gt(replay_dir(nr_fuzz_config, "corpus/config"), 0, "no seeds");
}

Test(fuzz_regressions, response_seeds_pass)
{
    cr_assert_gt(replay_dir(nr_fuzz_response, "corpus/response"), 0, "no seeds");
}

Test(fuzz_regressions, records_seeds_pass)
{
    cr_assert_gt(replay_dir(nr_fuzz_records, "corpus/records"), 0, "no seeds");
}
