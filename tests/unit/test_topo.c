/*
 * Unit tests for lib/core/rz_topo: the binding plan (pure, every policy and
 * the oversubscribed case), the hwloc summary (sanity of the counts on
 * whatever host runs the test), the placement described on a synthetic
 * topology, and the binding itself, checked against the kernel's affinity
 * mask (sched_getaffinity) and restored after each case.
 */
#include "core/rz_topo.h"

#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Expect @prefix at the start of @s. */
static void rz_test_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) == 0) {
        rz_test_passed++;
        return;
    }
    rz_test_failed++;
    fprintf(stderr, "'%s' does not start with '%s'\n", s, prefix);
}

/* ------------------------------------------- described, nothing bound */

/* A synthetic machine (HWLOC_SYNTHETIC): 2 NUMA nodes x 2 cores x 2 PUs,
 * PUs numbered 0-7 in order, whatever host runs the test. */
#define RZ_TEST_SYNTHETIC "pack:1 numa:2 core:2 pu:2"

static void rz_test_describe_one(const char *policy, int local_rank,
                                 int local_size, const char *expect)
{
    char desc[RZ_TOPO_DESC_MAX];
    rz_status_t status;

    status = rz_topo_bind_describe(policy, local_rank, local_size, desc,
                                   sizeof(desc));
    if (status == RZ_OK && strcmp(desc, expect) == 0) {
        rz_test_passed++;
        return;
    }
    rz_test_failed++;
    fprintf(stderr, "describe(%s, rank %d of %d): status %d, '%s', "
            "expected '%s'\n", policy, local_rank, local_size, (int)status,
            status == RZ_OK ? desc : "", expect);
}

static void rz_test_describe(void)
{
    char desc[RZ_TOPO_DESC_MAX] = "untouched";
    char buf[4096];
    FILE *f;

    /* Bad arguments are refused before hwloc is asked anything. */
    RZ_TEST_CHECK(rz_topo_bind_describe("socket", 0, 1, desc, sizeof(desc)) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind_describe("core", 2, 2, desc, sizeof(desc)) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind_describe("core", 0, 1, NULL, 16) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(strcmp(desc, "untouched") == 0);
    RZ_TEST_CHECK(rz_topo_bind_print(stdout, "core", 0) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind_print(stdout, "Core", 1) ==
                  RZ_ERR_INVALID_PARAM);

    /* This host: every policy names a core, node or "none". */
    RZ_TEST_CHECK(rz_topo_bind_describe("core", 0, 1, desc, sizeof(desc)) ==
                  RZ_OK);
    rz_test_prefix(desc, "core 0 (PUs ");
    RZ_TEST_CHECK(rz_topo_bind_describe("numa", 0, 1, desc, sizeof(desc)) ==
                  RZ_OK);
    rz_test_prefix(desc, "numa 0 (PUs ");
    rz_test_describe_one("none", 0, 1, "none");

    if (setenv("HWLOC_SYNTHETIC", RZ_TEST_SYNTHETIC, 1) != 0) {
        rz_test_failed++;
        return;
    }
    rz_test_describe_one("core", 0, 4, "core 0 (PUs 0-1)");
    rz_test_describe_one("core", 3, 4, "core 3 (PUs 6-7)");
    rz_test_describe_one("core", 5, 8, "core 1 (PUs 2-3)");
    rz_test_describe_one("numa", 0, 4, "numa 0 (PUs 0-3)");
    rz_test_describe_one("numa", 1, 4, "numa 1 (PUs 4-7)");
    rz_test_describe_one("numa", 6, 8, "numa 0 (PUs 0-3)");
    rz_test_describe_one("auto", 2, 4, "core 2 (PUs 4-5)");
    rz_test_describe_one("auto", 0, 5,
                         "none (oversubscribed: 5 ranks on 4 cores)");
    rz_test_describe_one("none", 1, 2, "none");

    /* rz_info -b's lines, one per rank, from one topology. */
    f = tmpfile();
    RZ_TEST_CHECK(f != NULL);
    if (f != NULL) {
        size_t n;

        RZ_TEST_CHECK(rz_topo_bind_print(f, "numa", 3) == RZ_OK);
        rewind(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        RZ_TEST_CHECK(strcmp(buf, "  local rank 0: numa 0 (PUs 0-3)\n"
                                  "  local rank 1: numa 1 (PUs 4-7)\n"
                                  "  local rank 2: numa 0 (PUs 0-3)\n") == 0);
    }

    /* A topology that is not this host's is never applied. */
    RZ_TEST_CHECK(rz_topo_bind("core", 0, 1, 0, desc, sizeof(desc)) == RZ_OK);
    rz_test_prefix(desc, "not bound: the hwloc topology is not this host's");

    unsetenv("HWLOC_SYNTHETIC");
}

/* ------------------------------------------------------- real binding */

/* The test's own view of this host, loaded independently of rz_topo. */
static hwloc_topology_t rz_test_topo;

/* The calling thread's affinity as an hwloc bitmap (caller frees). */
static hwloc_bitmap_t rz_test_affinity(void)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    cpu_set_t mask;

    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof(mask), &mask) != 0) {
        fprintf(stderr, "sched_getaffinity: %s\n", strerror(errno));
        return set;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &mask)) {
            hwloc_bitmap_set(set, (unsigned)cpu);
        }
    }
    return set;
}

/* Expect the calling thread's affinity to be exactly @expect. */
static void rz_test_affinity_is(hwloc_const_bitmap_t expect, const char *what)
{
    hwloc_bitmap_t cur = rz_test_affinity();
    char a[256], b[256];

    if (hwloc_bitmap_isequal(cur, expect)) {
        rz_test_passed++;
    } else {
        hwloc_bitmap_list_snprintf(a, sizeof(a), cur);
        hwloc_bitmap_list_snprintf(b, sizeof(b), expect);
        rz_test_failed++;
        fprintf(stderr, "%s: affinity is PUs %s, expected PUs %s\n", what, a,
                b);
    }
    hwloc_bitmap_free(cur);
}

static void rz_test_set_affinity(hwloc_const_bitmap_t set)
{
    cpu_set_t mask;
    int cpu;

    CPU_ZERO(&mask);
    hwloc_bitmap_foreach_begin(cpu, set) {
        CPU_SET(cpu, &mask);
    } hwloc_bitmap_foreach_end();
    if (sched_setaffinity(0, sizeof(mask), &mask) != 0) {
        fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
        rz_test_failed++;
    }
}

/* Cores as rz_topo counts them (PUs where hwloc shows none). */
static hwloc_const_cpuset_t rz_test_core(int i)
{
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;

    if (hwloc_get_nbobjs_by_type(rz_test_topo, HWLOC_OBJ_CORE) < 1) {
        type = HWLOC_OBJ_PU;
    }
    return hwloc_get_obj_by_type(rz_test_topo, type, (unsigned)i)->cpuset;
}

/* Bind with @policy, expect RZ_OK and a description starting with @prefix,
 * and the affinity @expect (NULL: unchanged from @before). */
static void rz_test_bind_one(const char *policy, int local_rank,
                             int local_size, unsigned flags,
                             const char *prefix, hwloc_const_bitmap_t expect,
                             hwloc_const_bitmap_t before)
{
    char desc[RZ_TOPO_DESC_MAX] = "";
    char what[128];
    rz_status_t status;

    status = rz_topo_bind(policy, local_rank, local_size, flags, desc,
                          sizeof(desc));
    printf("test_topo: bind(%s, rank %d of %d, flags %u): %s\n", policy,
           local_rank, local_size, flags, desc);
    RZ_TEST_CHECK(status == RZ_OK);
    rz_test_prefix(desc, prefix);
    snprintf(what, sizeof(what), "bind(%s, rank %d of %d)", policy,
             local_rank, local_size);
    rz_test_affinity_is(expect != NULL ? expect : before, what);
}

typedef struct {
    int          local_rank;
    int          local_size;
    const char  *policy;
    rz_status_t  status;
    char         desc[RZ_TOPO_DESC_MAX];
    hwloc_bitmap_t affinity;
} rz_test_thread_arg_t;

static void *rz_test_thread(void *p)
{
    rz_test_thread_arg_t *a = p;

    a->status = rz_topo_bind(a->policy, a->local_rank, a->local_size,
                             RZ_TOPO_BIND_THREAD | RZ_TOPO_BIND_ONCE,
                             a->desc, sizeof(a->desc));
    a->affinity = rz_test_affinity();
    return NULL;
}

static void rz_test_bind(void)
{
    hwloc_const_cpuset_t allowed;
    hwloc_bitmap_t orig, one;
    hwloc_obj_t numa0 = NULL;
    char desc[RZ_TOPO_DESC_MAX] = "untouched";
    char pus[64];
    int ncores, last;

    /* Bad arguments: refused, nothing written, nothing bound. */
    RZ_TEST_CHECK(rz_topo_bind("socket", 0, 1, 0, desc, sizeof(desc)) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind(NULL, 0, 1, 0, desc, sizeof(desc)) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind("core", 1, 1, 0, desc, sizeof(desc)) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(rz_topo_bind("core", 0, 1, 0, NULL, 8) ==
                  RZ_ERR_INVALID_PARAM);
    RZ_TEST_CHECK(strcmp(desc, "untouched") == 0);

    if (hwloc_topology_init(&rz_test_topo) != 0 ||
        hwloc_topology_load(rz_test_topo) != 0) {
        fprintf(stderr, "test_topo: hwloc cannot load this host\n");
        rz_test_failed++;
        return;
    }
    allowed = hwloc_topology_get_allowed_cpuset(rz_test_topo);
    orig = rz_test_affinity();
    ncores = hwloc_get_nbobjs_by_type(rz_test_topo, HWLOC_OBJ_CORE);
    if (ncores < 1) {
        ncores = hwloc_get_nbobjs_by_type(rz_test_topo, HWLOC_OBJ_PU);
    }
    for (int i = 0; numa0 == NULL; i++) {
        hwloc_obj_t n = hwloc_get_obj_by_type(rz_test_topo,
                                              HWLOC_OBJ_NUMANODE,
                                              (unsigned)i);
        if (n == NULL) {
            numa0 = hwloc_get_root_obj(rz_test_topo);
        } else if (!hwloc_bitmap_iszero(n->cpuset)) {
            numa0 = n;
        }
    }
    hwloc_bitmap_list_snprintf(pus, sizeof(pus), orig);
    printf("test_topo: %d core(s), started with affinity PUs %s\n", ncores,
           pus);

    /* Started bound (taskset around ctest)? Then "auto" would rightly
     * keep that; unbind first so every case below starts unbound. */
    rz_test_set_affinity(allowed);

    /* none, and auto oversubscribed, leave the affinity alone. */
    rz_test_bind_one("none", 0, 1, 0, "not bound: RZ_BIND=none", NULL,
                     allowed);
    rz_test_bind_one("auto", 0, ncores + 1, 0,
                     "not bound: oversubscribed", NULL, allowed);
    rz_test_bind_one("auto", 0, 2, RZ_TOPO_BIND_THREAD,
                     "not bound: the local ranks are threads", NULL,
                     allowed);

    /* core binds exactly one core's PUs, each rank its own. */
    for (int r = 0; r < ncores && r < 4; r++) {
        char prefix[64];

        snprintf(prefix, sizeof(prefix), "bound to core %d (PUs ", r);
        rz_test_bind_one("core", r, ncores, 0, prefix, rz_test_core(r),
                         NULL);
        rz_test_set_affinity(allowed);
        rz_test_bind_one("auto", r, ncores, 0, prefix, rz_test_core(r),
                         NULL);
        rz_test_set_affinity(allowed);
    }
    /* numa: the first NUMA node that has PUs. */
    rz_test_bind_one("numa", 0, 1, 0, "bound to numa 0 (PUs ",
                     numa0->cpuset, NULL);
    rz_test_set_affinity(allowed);

    /* An existing binding to a strict subset: kept by auto, replaced by
     * core. Needs a PU outside core 0, so two PUs at least. */
    last = hwloc_bitmap_last(allowed);
    if (last >= 0 && !hwloc_bitmap_isset(rz_test_core(0), (unsigned)last)) {
        one = hwloc_bitmap_alloc();
        hwloc_bitmap_only(one, (unsigned)last);
        rz_test_set_affinity(one);
        rz_test_bind_one("auto", 0, 1, 0,
                         "not bound: kept the existing binding to PUs", NULL,
                         one);
        RZ_TEST_CHECK(rz_topo_bind("core", 0, 1, 0, desc, sizeof(desc)) ==
                      RZ_OK);
        printf("test_topo: bind(core) over PU %d: %s\n", last, desc);
        rz_test_prefix(desc, "bound to core 0 (PUs ");
        RZ_TEST_CHECK(strstr(desc, ", replacing a binding to PUs ") != NULL);
        rz_test_affinity_is(rz_test_core(0), "core over an existing binding");
        rz_test_set_affinity(allowed);
        hwloc_bitmap_free(one);
    } else {
        printf("test_topo: one PU only, existing-binding case skipped\n");
    }

    /* Threads: the calling thread is bound, the others are not. */
    {
        rz_test_thread_arg_t a = {ncores - 1, ncores, "core", RZ_OK, "",
                                  NULL};
        pthread_t t;
        char prefix[64];

        snprintf(prefix, sizeof(prefix), "bound thread to core %d (PUs ",
                 ncores - 1);
        RZ_TEST_CHECK(pthread_create(&t, NULL, rz_test_thread, &a) == 0);
        pthread_join(t, NULL);
        RZ_TEST_CHECK(a.status == RZ_OK);
        rz_test_prefix(a.desc, prefix);
        RZ_TEST_CHECK(a.affinity != NULL &&
                      hwloc_bitmap_isequal(a.affinity,
                                           rz_test_core(ncores - 1)));
        rz_test_affinity_is(allowed, "main thread after a thread's bind");
        hwloc_bitmap_free(a.affinity);
    }

    /* RZ_TOPO_BIND_ONCE: a second communicator keeps the first's core.
     * Last: the process-wide memory of it cannot be reset. */
    if (ncores >= 2) {
        rz_test_bind_one("core", 0, 2, RZ_TOPO_BIND_ONCE,
                         "bound to core 0 (PUs ", rz_test_core(0), NULL);
        rz_test_bind_one("core", 1, 2, RZ_TOPO_BIND_ONCE,
                         "kept the binding of an earlier communicator: "
                         "core 0 (PUs ", rz_test_core(0), NULL);
        /* Without the flag a call still binds as asked. */
        rz_test_bind_one("core", 1, 2, 0, "bound to core 1 (PUs ",
                         rz_test_core(1), NULL);
    }

    rz_test_set_affinity(orig);
    rz_test_affinity_is(orig, "restored");
    hwloc_bitmap_free(orig);
    hwloc_topology_destroy(rz_test_topo);
}

int main(void)
{
    rz_test_bind_plan();
    rz_test_summary();
    rz_test_describe();
    rz_test_bind();

    printf("test_topo: %d passed, %d failed\n", rz_test_passed,
           rz_test_failed);
    return rz_test_failed == 0 ? 0 : 1;
}
