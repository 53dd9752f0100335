/* Unit tests of nr_records.c: the pool and capability sinks (struct sizes,
 * validation, limits, duplicates) and the copy helpers. The UTF-8 and
 * identity checks they use are tested in tests/txt_test.c. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nr_records.h"

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

static pmd_pool_status_t pool(const char *id)
{
    pmd_pool_status_t p;
    memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    p.ready = 1;
    p.slots_free = 3;
    p.slots_total = 4;
    p.vram_free_bytes = 18000000000ull;
    p.pool_id = id;
    p.engine = "llamacpp";
    return p;
}

static pmd_gpu_info_t gpu(const char *name, const char *cc)
{
    pmd_gpu_info_t g;
    memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    g.device_id = 1;
    g.vram_total_bytes = 150754820096ull;
    g.name = name;
    g.compute_capability = cc;
    return g;
}

static int32_t add(nr_pool_list_t *list, pmd_pool_status_t p)
{
    return nr_pool_list_add(list, &p);
}

/* ---------------------------------------------------------------------- */
/* compute capability (UTF-8 and identity checks: tests/txt_test.c)       */
/* ---------------------------------------------------------------------- */

Test(compute_capability, accepts_major_dot_minor_digits)
{
    cr_assert(nr_compute_capability_valid("8.6"));
    cr_assert(nr_compute_capability_valid("10.0"));
    cr_assert(nr_compute_capability_valid("12.10"));
}

Test(compute_capability, rejects_anything_else)
{
    const char *bad[] = {"",    "8",    "8.",   ".6",  "8.6.1", "sm_86",
                         "8,6", " 8.6", "8.6 ", "8.x", "-8.6",  NULL};
    for (size_t i = 0; bad[i] != NULL; i++)
        cr_assert_not(nr_compute_capability_valid(bad[i]), "accepted \"%s\"", bad[i]);
    cr_assert_not(nr_compute_capability_valid(NULL));
}

/* ---------------------------------------------------------------------- */
/* pools                                                                  */
/* ---------------------------------------------------------------------- */

Test(pools, copies_every_field_of_a_valid_record)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.draining = 1;
    p.slots_free = 4294967295u;
    p.vram_free_bytes = UINT64_MAX;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_eq(l.count, 1);
    cr_assert_str_eq(l.items[0].pool_id, "pool-0");
    cr_assert_str_eq(l.items[0].engine, "llamacpp");
    cr_assert_eq(l.items[0].ready, 1);
    cr_assert_eq(l.items[0].draining, 1);
    cr_assert_eq(l.items[0].slots_free, 4294967295u);
    cr_assert_eq(l.items[0].slots_total, 4);
    cr_assert_eq(l.items[0].vram_free_bytes, UINT64_MAX);
    cr_assert_eq(l.refused, 0);
    cr_assert_str_eq(l.first_error, "");
    nr_pool_list_clear(&l);
}

Test(pools, copies_strings_instead_of_keeping_host_pointers)
{
    nr_pool_list_t l = {0};
    char id[] = "pool-0", engine[] = "vllm";
    pmd_pool_status_t p = pool(id);
    p.engine = engine;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    id[0] = 'X';
    engine[0] = 'X';
    cr_assert_str_eq(l.items[0].pool_id, "pool-0");
    cr_assert_str_eq(l.items[0].engine, "vllm");
    cr_assert_neq((void *)l.items[0].pool_id, (void *)id);
    nr_pool_list_clear(&l);
}

Test(pools, any_nonzero_flag_reads_as_one)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.ready = 0x80;
    p.draining = 0xFF;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_eq(l.items[0].ready, 1);
    cr_assert_eq(l.items[0].draining, 1);
    nr_pool_list_clear(&l);
}

Test(pools, slots_free_above_slots_total_is_copied_as_is)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.slots_free = 9;
    p.slots_total = 2;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_eq(l.items[0].slots_free, 9);
    cr_assert_eq(l.items[0].slots_total, 2);
    nr_pool_list_clear(&l);
}

Test(pools, record_sized_up_to_pool_id_reads_engine_as_absent)
{
    /* The host's struct ends right after pool_id: engine lies past its end. */
    struct {
        pmd_pool_status_t p;
    } host;
    nr_pool_list_t l = {0};
    host.p = pool("pool-0");
    host.p.struct_size = (uint32_t)(offsetof(pmd_pool_status_t, pool_id) + sizeof(char *));
    host.p.engine = "must-not-be-read";
    cr_assert_eq(nr_pool_list_add(&l, &host.p), PMD_OK);
    cr_assert_str_eq(l.items[0].pool_id, "pool-0");
    cr_assert_null(l.items[0].engine);
    cr_assert_eq(l.items[0].vram_free_bytes, 18000000000ull);
    nr_pool_list_clear(&l);
}

Test(pools, record_not_covering_pool_id_is_refused)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.struct_size = (uint32_t)offsetof(pmd_pool_status_t, pool_id);
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_ERR_HOST_DATA);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(l.refused, 1);
    cr_assert_str_eq(l.first_error, "pool 0: struct_size 24 does not cover pool_id");
    nr_pool_list_clear(&l);
}

Test(pools, zero_struct_size_is_refused)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.struct_size = 0;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_ERR_HOST_DATA);
    nr_pool_list_clear(&l);
}

Test(pools, bigger_record_from_a_newer_host_is_accepted)
{
    struct newer {
        pmd_pool_status_t p;
        uint64_t future_field;
        const char *future_string;
    } host;
    nr_pool_list_t l = {0};
    memset(&host, 0xA5, sizeof(host));
    host.p = pool("pool-0");
    host.p.struct_size = sizeof(host);
    cr_assert_eq(nr_pool_list_add(&l, &host.p), PMD_OK);
    cr_assert_str_eq(l.items[0].pool_id, "pool-0");
    cr_assert_str_eq(l.items[0].engine, "llamacpp");
    nr_pool_list_clear(&l);
}

Test(pools, null_record_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(nr_pool_list_add(&l, NULL), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: record is NULL");
    nr_pool_list_clear(&l);
}

Test(pools, null_list_is_an_invalid_argument)
{
    pmd_pool_status_t p = pool("pool-0");
    cr_assert_eq(nr_pool_list_add(NULL, &p), PMD_ERR_INVALID_ARGUMENT);
}

Test(pools, missing_pool_id_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool(NULL)), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id is missing");
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_with_a_c1_control_is_refused_naming_the_field)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("ok")), PMD_OK);
    cr_assert_eq(add(&l, pool("pool-\xC2\x9B-1")), PMD_ERR_HOST_DATA); /* U+009B CSI */
    cr_assert_str_eq(l.first_error, "pool 1: pool_id contains a control character");
    cr_assert_eq(l.count, 1);
    cr_assert_eq(l.refused, 1);
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_with_a_replacement_character_is_refused_naming_the_field)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("pool-\xEF\xBF\xBD")), PMD_ERR_HOST_DATA);
    cr_assert_eq(strncmp(l.first_error, "pool 0: pool_id contains U+FFFD", 31), 0, "%s",
                 l.first_error);
    cr_assert_eq(l.count, 0);
    nr_pool_list_clear(&l);
}

Test(pools, engine_with_c1_and_replacement_character_is_kept_as_a_description)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.engine = "vllm\xC2\x85-\xEF\xBF\xBD";
    cr_assert_eq(add(&l, p), PMD_OK);
    cr_assert_str_eq(l.items[0].engine, "vllm-\xEF\xBF\xBD"); /* C1 dropped, as before */
    nr_pool_list_clear(&l);
}

Test(pools, empty_pool_id_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("")), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id is empty");
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_of_max_length_is_accepted)
{
    nr_pool_list_t l = {0};
    char id[NR_MAX_STRING + 1];
    memset(id, 'p', NR_MAX_STRING);
    id[NR_MAX_STRING] = '\0';
    cr_assert_eq(add(&l, pool(id)), PMD_OK);
    cr_assert_eq(strlen(l.items[0].pool_id), NR_MAX_STRING);
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_over_max_length_is_refused)
{
    nr_pool_list_t l = {0};
    char id[NR_MAX_STRING + 2];
    memset(id, 'p', NR_MAX_STRING + 1);
    id[NR_MAX_STRING + 1] = '\0';
    cr_assert_eq(add(&l, pool(id)), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id is too long (over 1024 bytes)");
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_with_invalid_utf8_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("pool-\xED\xA0\x80")), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id is not valid UTF-8");
    cr_assert_eq(l.count, 0);
    nr_pool_list_clear(&l);
}

Test(pools, pool_id_with_control_character_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("pool\n0")), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id contains a control character");
    nr_pool_list_clear(&l);
}

Test(pools, error_names_the_record_index_in_the_pull)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("a")), PMD_OK);
    cr_assert_eq(add(&l, pool("b")), PMD_OK);
    cr_assert_eq(add(&l, pool("c")), PMD_OK);
    cr_assert_eq(add(&l, pool("\xFF")), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 3: pool_id is not valid UTF-8");
    nr_pool_list_clear(&l);
}

Test(pools, first_error_keeps_the_first_and_refused_counts_all)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("")), PMD_ERR_HOST_DATA);
    cr_assert_eq(add(&l, pool("ok")), PMD_OK);
    cr_assert_eq(add(&l, pool("\x01")), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(l.first_error, "pool 0: pool_id is empty");
    cr_assert_eq(l.refused, 2);
    cr_assert_eq(l.count, 1);
    nr_pool_list_clear(&l);
}

Test(pools, duplicate_pool_id_is_refused)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("pool-0")), PMD_OK);
    cr_assert_eq(add(&l, pool("pool-1")), PMD_OK);
    cr_assert_eq(add(&l, pool("pool-0")), PMD_ERR_HOST_DATA);
    cr_assert_eq(l.count, 2);
    cr_assert_str_eq(l.first_error, "pool 2: pool_id repeats an earlier pool");
    nr_pool_list_clear(&l);
}

Test(pools, engine_with_invalid_utf8_is_sanitised_not_refused)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.engine = "llama\xC0\x80"
               "cpp";
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_str_eq(l.items[0].engine, "llama\xEF\xBF\xBD\xEF\xBF\xBD"
                                        "cpp");
    nr_pool_list_clear(&l);
}

Test(pools, engine_control_characters_are_stripped)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.engine = "llama\r\ncpp\x1B[31m";
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_str_eq(l.items[0].engine, "llamacpp[31m");
    nr_pool_list_clear(&l);
}

Test(pools, null_engine_stays_absent)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    p.engine = NULL;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_null(l.items[0].engine);
    nr_pool_list_clear(&l);
}

Test(pools, empty_or_all_control_engine_reads_as_absent)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    pmd_pool_status_t q = pool("pool-1");
    p.engine = "";
    q.engine = "\x01\x02";
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_eq(nr_pool_list_add(&l, &q), PMD_OK);
    cr_assert_null(l.items[0].engine);
    cr_assert_null(l.items[1].engine);
    nr_pool_list_clear(&l);
}

Test(pools, overlong_engine_is_truncated_to_the_string_limit)
{
    nr_pool_list_t l = {0};
    pmd_pool_status_t p = pool("pool-0");
    char *engine = malloc(3 * NR_MAX_STRING);
    memset(engine, 'e', 3 * NR_MAX_STRING - 1);
    engine[3 * NR_MAX_STRING - 1] = '\0';
    p.engine = engine;
    cr_assert_eq(nr_pool_list_add(&l, &p), PMD_OK);
    cr_assert_eq(strlen(l.items[0].engine), NR_MAX_STRING);
    free(engine);
    nr_pool_list_clear(&l);
}

Test(pools, more_than_the_limit_are_refused_with_limit)
{
    nr_pool_list_t l = {0};
    char id[32];
    for (int i = 0; i < NR_MAX_POOLS; i++) {
        snprintf(id, sizeof(id), "pool-%d", i);
        cr_assert_eq(add(&l, pool(id)), PMD_OK);
    }
    cr_assert_eq(add(&l, pool("one-too-many")), PMD_ERR_LIMIT);
    cr_assert_eq(add(&l, pool("two-too-many")), PMD_ERR_LIMIT);
    cr_assert_eq(l.count, NR_MAX_POOLS);
    cr_assert_eq(l.refused, 2);
    cr_assert_str_eq(l.first_error, "pool 4096: more than 4096 pools; the rest are ignored");
    nr_pool_list_clear(&l);
}

Test(pools, sink_pushes_records_into_the_list)
{
    nr_pool_list_t l = {0};
    pmd_pool_sink_t sink = nr_pool_sink(&l);
    pmd_pool_status_t p = pool("pool-0");
    cr_assert_eq(sink.struct_size, sizeof(pmd_pool_sink_t));
    cr_assert_eq(sink.sink_data, &l);
    cr_assert_eq(sink.add_pool(sink.sink_data, &p), PMD_OK);
    cr_assert_eq(sink.add_pool(sink.sink_data, NULL), PMD_ERR_HOST_DATA);
    cr_assert_eq(l.count, 1);
    nr_pool_list_clear(&l);
}

Test(pools, clear_frees_and_zeroes_the_list)
{
    nr_pool_list_t l = {0};
    cr_assert_eq(add(&l, pool("pool-0")), PMD_OK);
    cr_assert_eq(add(&l, pool("")), PMD_ERR_HOST_DATA);
    nr_pool_list_clear(&l);
    cr_assert_null(l.items);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(l.capacity, 0);
    cr_assert_eq(l.refused, 0);
    cr_assert_str_eq(l.first_error, "");
    nr_pool_list_clear(&l); /* twice is harmless */
    nr_pool_list_clear(NULL);
}

/* ---------------------------------------------------------------------- */
/* copy and compare                                                       */
/* ---------------------------------------------------------------------- */

Test(pool_copy, deep_copies_every_pool)
{
    nr_pool_list_t a = {0}, b = {0};
    cr_assert_eq(add(&a, pool("pool-0")), PMD_OK);
    cr_assert_eq(add(&a, pool("pool-1")), PMD_OK);
    cr_assert_eq(add(&a, pool("")), PMD_ERR_HOST_DATA);
    cr_assert_eq(nr_pool_list_copy(&b, &a), PMD_OK);
    cr_assert_eq(b.count, 2);
    cr_assert_str_eq(b.items[1].pool_id, "pool-1");
    cr_assert_str_eq(b.items[1].engine, "llamacpp");
    cr_assert_neq((void *)b.items[1].pool_id, (void *)a.items[1].pool_id);
    cr_assert_eq(b.items[1].vram_free_bytes, 18000000000ull);
    cr_assert_eq(b.refused, 1);
    cr_assert_str_eq(b.first_error, a.first_error);
    nr_pool_list_clear(&a);
    cr_assert_str_eq(b.items[0].pool_id, "pool-0");
    nr_pool_list_clear(&b);
}

Test(pool_copy, copy_of_an_empty_list_is_empty)
{
    nr_pool_list_t a = {0}, b = {0};
    cr_assert_eq(nr_pool_list_copy(&b, &a), PMD_OK);
    cr_assert_eq(b.count, 0);
    cr_assert_null(b.items);
}

Test(pool_copy, copy_replaces_the_old_content_of_dst)
{
    nr_pool_list_t a = {0}, b = {0};
    cr_assert_eq(add(&a, pool("new")), PMD_OK);
    cr_assert_eq(add(&b, pool("old-0")), PMD_OK);
    cr_assert_eq(add(&b, pool("old-1")), PMD_OK);
    cr_assert_eq(nr_pool_list_copy(&b, &a), PMD_OK);
    cr_assert_eq(b.count, 1);
    cr_assert_str_eq(b.items[0].pool_id, "new");
    nr_pool_list_clear(&a);
    nr_pool_list_clear(&b);
}

Test(pool_copy, copy_onto_itself_changes_nothing)
{
    nr_pool_list_t a = {0};
    cr_assert_eq(add(&a, pool("pool-0")), PMD_OK);
    cr_assert_eq(nr_pool_list_copy(&a, &a), PMD_OK);
    cr_assert_eq(a.count, 1);
    cr_assert_str_eq(a.items[0].pool_id, "pool-0");
    nr_pool_list_clear(&a);
}

Test(pool_ids, equal_ignores_order)
{
    nr_pool_list_t a = {0};
    char *ids[] = {"c", "a", "b"};
    cr_assert_eq(add(&a, pool("a")), PMD_OK);
    cr_assert_eq(add(&a, pool("b")), PMD_OK);
    cr_assert_eq(add(&a, pool("c")), PMD_OK);
    cr_assert(nr_pool_ids_equal(&a, ids, 3));
    nr_pool_list_clear(&a);
}

Test(pool_ids, different_counts_are_not_equal)
{
    nr_pool_list_t a = {0};
    char *ids[] = {"a", "b"};
    cr_assert_eq(add(&a, pool("a")), PMD_OK);
    cr_assert_not(nr_pool_ids_equal(&a, ids, 2));
    nr_pool_list_clear(&a);
}

Test(pool_ids, different_ids_are_not_equal)
{
    nr_pool_list_t a = {0};
    char *ids[] = {"a", "x"};
    cr_assert_eq(add(&a, pool("a")), PMD_OK);
    cr_assert_eq(add(&a, pool("b")), PMD_OK);
    cr_assert_not(nr_pool_ids_equal(&a, ids, 2));
    nr_pool_list_clear(&a);
}

Test(pool_ids, repeated_id_does_not_stand_in_for_a_missing_one)
{
    nr_pool_list_t a = {0};
    char *ids[] = {"a", "a"};
    cr_assert_eq(add(&a, pool("a")), PMD_OK);
    cr_assert_eq(add(&a, pool("b")), PMD_OK);
    cr_assert_not(nr_pool_ids_equal(&a, ids, 2));
    nr_pool_list_clear(&a);
}

Test(pool_ids, two_empty_sets_are_equal)
{
    nr_pool_list_t a = {0};
    cr_assert(nr_pool_ids_equal(&a, NULL, 0));
    cr_assert(nr_pool_ids_equal(NULL, NULL, 0));
}

/* ---------------------------------------------------------------------- */
/* capabilities                                                           */
/* ---------------------------------------------------------------------- */

Test(gpus, copies_a_valid_gpu)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("NVIDIA H200", "9.0");
    g.device_id = 4294967295u;
    g.vram_total_bytes = UINT64_MAX;
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_OK);
    cr_assert_eq(c.gpu_count, 1);
    cr_assert_eq(c.gpus[0].device_id, 4294967295u);
    cr_assert_eq(c.gpus[0].vram_total_bytes, UINT64_MAX);
    cr_assert_str_eq(c.gpus[0].name, "NVIDIA H200");
    cr_assert_str_eq(c.gpus[0].compute_capability, "9.0");
    nr_capabilities_clear(&c);
}

Test(gpus, missing_name_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu(NULL, "9.0");
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(c.first_error, "gpu 0: name is missing");
    nr_capabilities_clear(&c);
}

Test(gpus, name_without_printable_characters_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("\t\n", "9.0");
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_HOST_DATA);
    cr_assert_eq(c.gpu_count, 0);
    nr_capabilities_clear(&c);
}

Test(gpus, missing_compute_capability_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("H200", NULL);
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(c.first_error, "gpu 0: compute_capability is missing");
    nr_capabilities_clear(&c);
}

Test(gpus, malformed_compute_capability_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("H200", "sm_90");
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_HOST_DATA);
    cr_assert_str_eq(c.first_error, "gpu 0: compute_capability is not \"major.minor\" digits");
    nr_capabilities_clear(&c);
}

Test(gpus, name_is_sanitised_not_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("NVIDIA\x01 H200\xFF", "9.0");
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_OK);
    cr_assert_str_eq(c.gpus[0].name, "NVIDIA H200\xEF\xBF\xBD");
    nr_capabilities_clear(&c);
}

Test(gpus, record_not_covering_compute_capability_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("H200", "9.0");
    g.struct_size = (uint32_t)offsetof(pmd_gpu_info_t, compute_capability);
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_HOST_DATA);
    nr_capabilities_clear(&c);
}

Test(gpus, bigger_record_from_a_newer_host_is_accepted)
{
    struct {
        pmd_gpu_info_t g;
        uint64_t future;
    } host;
    nr_capabilities_t c = {0};
    host.g = gpu("H200", "9.0");
    host.g.struct_size = sizeof(host);
    host.future = 7;
    cr_assert_eq(nr_capabilities_add_gpu(&c, &host.g), PMD_OK);
    nr_capabilities_clear(&c);
}

Test(gpus, more_than_the_limit_are_refused_with_limit)
{
    nr_capabilities_t c = {0};
    pmd_gpu_info_t g = gpu("H200", "9.0");
    for (int i = 0; i < NR_MAX_GPUS; i++)
        cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_OK);
    cr_assert_eq(nr_capabilities_add_gpu(&c, &g), PMD_ERR_LIMIT);
    cr_assert_eq(c.gpu_count, NR_MAX_GPUS);
    cr_assert_eq(c.refused, 1);
    nr_capabilities_clear(&c);
}

Test(resources, copies_cpu_cores_and_ram)
{
    nr_capabilities_t c = {0};
    pmd_node_resources_t r = {sizeof(r), 16, 137438953472ull};
    cr_assert_eq(nr_capabilities_set_resources(&c, &r), PMD_OK);
    cr_assert_eq(c.cpu_cores, 16);
    cr_assert_eq(c.ram_total_bytes, 137438953472ull);
}

Test(resources, record_without_ram_reads_ram_as_unknown)
{
    nr_capabilities_t c = {0};
    pmd_node_resources_t r = {8, 16, 137438953472ull};
    cr_assert_eq(nr_capabilities_set_resources(&c, &r), PMD_OK);
    cr_assert_eq(c.cpu_cores, 16);
    cr_assert_eq(c.ram_total_bytes, 0);
}

Test(resources, null_record_is_refused)
{
    nr_capabilities_t c = {0};
    cr_assert_eq(nr_capabilities_set_resources(&c, NULL), PMD_ERR_HOST_DATA);
    cr_assert_eq(c.refused, 1);
}

Test(resources, zero_struct_size_is_refused)
{
    nr_capabilities_t c = {0};
    pmd_node_resources_t r = {0, 16, 1};
    cr_assert_eq(nr_capabilities_set_resources(&c, &r), PMD_ERR_HOST_DATA);
    cr_assert_eq(c.cpu_cores, 0);
}

Test(capabilities, sink_pushes_gpus_and_resources)
{
    nr_capabilities_t c = {0};
    pmd_capability_sink_t sink = nr_capability_sink(&c);
    pmd_gpu_info_t g = gpu("H200", "9.0");
    pmd_node_resources_t r = {sizeof(r), 8, 1024};
    cr_assert_eq(sink.struct_size, sizeof(pmd_capability_sink_t));
    cr_assert_eq(sink.add_gpu(sink.sink_data, &g), PMD_OK);
    cr_assert_eq(sink.set_resources(sink.sink_data, &r), PMD_OK);
    cr_assert_eq(c.gpu_count, 1);
    cr_assert_eq(c.cpu_cores, 8);
    nr_capabilities_clear(&c);
}

Test(capabilities, copy_is_deep_and_replaces_dst)
{
    nr_capabilities_t a = {0}, b = {0};
    pmd_gpu_info_t g = gpu("H200", "9.0"), old = gpu("old", "1.0");
    pmd_node_resources_t r = {sizeof(r), 8, 1024};
    cr_assert_eq(nr_capabilities_add_gpu(&a, &g), PMD_OK);
    cr_assert_eq(nr_capabilities_set_resources(&a, &r), PMD_OK);
    cr_assert_eq(nr_capabilities_add_gpu(&b, &old), PMD_OK);
    cr_assert_eq(nr_capabilities_copy(&b, &a), PMD_OK);
    nr_capabilities_clear(&a);
    cr_assert_eq(b.gpu_count, 1);
    cr_assert_str_eq(b.gpus[0].name, "H200");
    cr_assert_str_eq(b.gpus[0].compute_capability, "9.0");
    cr_assert_eq(b.cpu_cores, 8);
    cr_assert_eq(b.ram_total_bytes, 1024);
    nr_capabilities_clear(&b);
}

Test(capabilities, copy_of_empty_capabilities_is_empty)
{
    nr_capabilities_t a = {0}, b = {0};
    cr_assert_eq(nr_capabilities_copy(&b, &a), PMD_OK);
    cr_assert_eq(b.gpu_count, 0);
    cr_assert_null(b.gpus);
}
