/*
 * Unit tests for lib/core/rz_topo: the binding plan (pure, every policy and
 * the oversubscribed case) and the hwloc summary (sanity of the counts on
 * whatever host runs the test).
 */
#include "core/rz_topo.h"

#include <stdio.h>
#include <string.h>

static int rz_test_passed;
static int rz_test_failed;

#define RZ_TEST_CHECK(cond)                                                    \
    do {                                                                       \
        if (cond) {                                                            \
            rz_test_passed++;                                                  \
        } else {                                                               \
            rz_test_failed++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

/* Expect rz_topo_bind_plan to succeed with exactly @expect. */
static void rz_test_plan(const char *policy, int local_rank, int local_size,
                         int ncores, int nnuma, const char *expect)
{
    char desc[128];
    int rc;

    memset(desc, 'x', sizeof(desc));
    rc = rz_topo_bind_plan(policy, local_rank, local_size, ncores, nnuma, desc,
                           sizeof(desc));
    if (rc == 0 && strcmp(desc, expect) == 0) {
        rz_test_passed++;
        return;
    }
    rz_test_failed++;
    fprintf(stderr, "plan(%s, rank %d of %d, %d cores, %d numa): rc %d, "
            "'%.*s', expected '%s'\n", policy, local_rank, local_size, ncores,
            nnuma, rc, (int)sizeof(desc) - 1, desc, expect);
}

/* Expect rz_topo_bind_plan to fail and leave the output untouched. */
static void rz_test_plan_fails(const char *policy, int local_rank,
                               int local_size, int ncores, int nnuma)
{
    char desc[16] = "untouched";
    int rc;

    rc = rz_topo_bind_plan(policy, local_rank, local_size, ncores, nnuma, desc,
                           sizeof(desc));
    RZ_TEST_CHECK(rc == -1);
    RZ_TEST_CHECK(strcmp(desc, "untouched") == 0);
}

static void rz_test_bind_plan(void)
{
    char small[8];

    /* none: never binds, whatever the shape. */
    rz_test_plan("none", 0, 1, 1, 1, "none");
    rz_test_plan("none", 3, 4, 8, 2, "none");
    rz_test_plan("none", 7, 8, 2, 1, "none");

    /* core: local_rank % ncores, also when explicitly oversubscribed. */
    rz_test_plan("core", 0, 4, 8, 2, "core 0");
    rz_test_plan("core", 1, 4, 8, 2, "core 1");
    rz_test_plan("core", 3, 4, 4, 1, "core 3");
    rz_test_plan("core", 5, 8, 2, 1, "core 1");
    rz_test_plan("core", 6, 8, 2, 1, "core 0");

    /* numa: local_rank % nnuma. */
    rz_test_plan("numa", 0, 4, 8, 2, "numa 0");
    rz_test_plan("numa", 1, 4, 8, 2, "numa 1");
    rz_test_plan("numa", 2, 4, 8, 2, "numa 0");
    rz_test_plan("numa", 3, 4, 8, 1, "numa 0");
    rz_test_plan("numa", 5, 6, 64, 4, "numa 1");

    /* auto: core while ranks fit on cores, including exactly full. */
    rz_test_plan("auto", 0, 1, 1, 1, "core 0");
    rz_test_plan("auto", 1, 4, 8, 2, "core 1");
    rz_test_plan("auto", 3, 4, 4, 1, "core 3");
    rz_test_plan("auto", 1, 2, 2, 1, "core 1");

    /* auto, oversubscribed: no binding, with the reason. */
    rz_test_plan("auto", 0, 8, 2, 1,
                 "none (oversubscribed: 8 ranks on 2 cores)");
    rz_test_plan("auto", 7, 8, 2, 1,
                 "none (oversubscribed: 8 ranks on 2 cores)");
    rz_test_plan("auto", 1, 2, 1, 1,
                 "none (oversubscribed: 2 ranks on 1 core)");
    rz_test_plan("auto", 4, 5, 4, 2,
                 "none (oversubscribed: 5 ranks on 4 cores)");

    /* Unknown policies, case included. */
    rz_test_plan_fails("socket", 0, 1, 1, 1);
    rz_test_plan_fails("", 0, 1, 1, 1);
    rz_test_plan_fails("Core", 0, 1, 1, 1);
    rz_test_plan_fails("auto ", 0, 1, 1, 1);
    rz_test_plan_fails(NULL, 0, 1, 1, 1);

    /* Arguments out of range. */
    rz_test_plan_fails("core", -1, 4, 4, 1);
    rz_test_plan_fails("core", 4, 4, 4, 1);
    rz_test_plan_fails("core", 0, 0, 4, 1);
    rz_test_plan_fails("core", 0, 4, 0, 1);
    rz_test_plan_fails("numa", 0, 4, 4, 0);
    rz_test_plan_fails("auto", 0, 4, 0, 1);
    RZ_TEST_CHECK(rz_topo_bind_plan("none", 0, 1, 1, 1, NULL, 16) == -1);
    RZ_TEST_CHECK(rz_topo_bind_plan("none", 0, 1, 1, 1, small, 0) == -1);

    /* A short buffer truncates but still succeeds and terminates. */
    RZ_TEST_CHECK(rz_topo_bind_plan("auto", 0, 8, 2, 1, small,
                                    sizeof(small)) == 0);
    RZ_TEST_CHECK(strlen(small) == sizeof(small) - 1);
    RZ_TEST_CHECK(strncmp(small, "none (o", sizeof(small) - 1) == 0);
}

static void rz_test_summary(void)
{
    rz_topo_summary_t s;
    rz_status_t status;

    RZ_TEST_CHECK(rz_topo_summary(NULL) == RZ_ERR_INVALID_PARAM);

    status = rz_topo_summary(&s);
    RZ_TEST_CHECK(status == RZ_OK);
    if (status != RZ_OK) {
        return;
    }
    printf("test_topo: host has %d package(s), %d NUMA node(s), %d core(s), "
           "%d PU(s), %d L3 of %llu bytes\n", s.packages, s.numa_nodes,
           s.cores, s.pus, s.l3_caches, (unsigned long long)s.l3_size);
    RZ_TEST_CHECK(s.packages >= 1);
    RZ_TEST_CHECK(s.numa_nodes >= 1);
    RZ_TEST_CHECK(s.cores >= 1);
    RZ_TEST_CHECK(s.pus >= 1);
    RZ_TEST_CHECK(s.pus >= s.cores);
    RZ_TEST_CHECK(s.l3_caches >= 0);
    RZ_TEST_CHECK(s.l3_caches > 0 || s.l3_size == 0);

    /* ncores agrees with the summary, and the summary is stable. */
    RZ_TEST_CHECK(rz_topo_ncores() == s.cores);
}

int main(void)
{
    rz_test_bind_plan();
    rz_test_summary();

    printf("test_topo: %d passed, %d failed\n", rz_test_passed,
           rz_test_failed);
    return rz_test_failed == 0 ? 0 : 1;
}
