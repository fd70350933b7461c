#include "core/rz_topo.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each call loads its own topology: callers are rz_info, one-off sizing
 * decisions and the binding at communicator creation, so caching one (and
 * its locking and lifetime) buys nothing. Failures are logged at @level:
 * an error for rz_info, a warning where the caller carries on without. */
static rz_status_t rz_topo_load(hwloc_topology_t *topo_p,
                                rz_log_level_t level)
{
    hwloc_topology_t topo;

    if (hwloc_topology_init(&topo) != 0) {
        RZ_LOG(level, "hwloc_topology_init failed: %m");
        return RZ_ERR_IO;
    }
    if (hwloc_topology_load(topo) != 0) {
        RZ_LOG(level, "hwloc_topology_load failed: %m");
        hwloc_topology_destroy(topo);
        return RZ_ERR_IO;
    }
    *topo_p = topo;
    return RZ_OK;
}

/* hwloc returns -1 for a type present at several depths; none of ours can
 * be, but a negative count must not leak out as one. */
static int rz_topo_count(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n > 0 ? n : 0;
}

static void rz_topo_fill(hwloc_topology_t topo, rz_topo_summary_t *s)
{
    memset(s, 0, sizeof(*s));
    s->pus        = rz_topo_count(topo, HWLOC_OBJ_PU);
    s->cores      = rz_topo_count(topo, HWLOC_OBJ_CORE);
    s->packages   = rz_topo_count(topo, HWLOC_OBJ_PACKAGE);
    s->numa_nodes = rz_topo_count(topo, HWLOC_OBJ_NUMANODE);
    s->l3_caches  = rz_topo_count(topo, HWLOC_OBJ_L3CACHE);

    /* Some VMs and containers hide levels; fall back so that every count
     * can be used as a divisor and pus >= cores holds. */
    if (s->pus < 1) {
        s->pus = 1;
    }
    if (s->cores < 1 || s->cores > s->pus) {
        s->cores = s->pus;
    }
    if (s->packages < 1) {
        s->packages = 1;
    }
    if (s->numa_nodes < 1) {
        s->numa_nodes = 1;
    }

    for (int i = 0; i < s->l3_caches; i++) {
        hwloc_obj_t l3 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE,
                                               (unsigned)i);
        if (l3 != NULL && l3->attr != NULL &&
            l3->attr->cache.size > s->l3_size) {
            s->l3_size = l3->attr->cache.size;
        }
    }
}

rz_status_t rz_topo_summary(rz_topo_summary_t *summary_p)
{
    hwloc_topology_t topo;
    rz_status_t status;

    if (summary_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_topo_load(&topo, RZ_LOG_LEVEL_ERROR);
    if (status != RZ_OK) {
        return status;
    }
    rz_topo_fill(topo, summary_p);
    hwloc_topology_destroy(topo);
    return RZ_OK;
}

int rz_topo_ncores(void)
{
    rz_topo_summary_t s;
    long n;

    if (rz_topo_summary(&s) == RZ_OK) {
        return s.cores;
    }
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void rz_topo_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    unsigned u = 0;

    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (v == (double)(uint64_t)v) {
        snprintf(buf, size, "%.0f %s", v, units[u]);
    } else {
        snprintf(buf, size, "%.1f %s", v, units[u]);
    }
}

static void rz_topo_print_numa(FILE *out, hwloc_topology_t topo, int nnuma)
{
    char mem[32];
    char *list;

    for (int i = 0; i < nnuma; i++) {
        hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE,
                                                 (unsigned)i);
        if (node == NULL) {
            continue;
        }
        fprintf(out, "  NUMA node %u: ", node->os_index);
        if (node->cpuset != NULL &&
            hwloc_bitmap_list_asprintf(&list, node->cpuset) >= 0) {
            fprintf(out, "PUs %s", list[0] != '\0' ? list : "(none)");
            free(list);
        } else {
            fprintf(out, "PUs unknown");
        }
        if (node->attr != NULL && node->attr->numanode.local_memory > 0) {
            rz_topo_format_size(node->attr->numanode.local_memory, mem,
                                sizeof(mem));
            fprintf(out, ", %s", mem);
        }
        fprintf(out, "\n");
    }
}

static void rz_topo_print_binding(FILE *out, hwloc_topology_t topo)
{
    hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topo);
    hwloc_cpuset_t set;
    char *list;

    if (!hwloc_topology_is_thissystem(topo)) {
        /* Loaded from HWLOC_XMLFILE or a synthetic description: the
         * binding of this process means nothing in it. */
        fprintf(out, "process binding: unknown (the topology is not this "
                "host's)\n");
        return;
    }
    set = hwloc_bitmap_alloc();
    if (set == NULL) {
        fprintf(out, "process binding: unknown (out of memory)\n");
        return;
    }
    /* Not an error worth logging: some kernels and containers refuse the
     * query, and rz_info only reports what it can see. */
    if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0) {
        fprintf(out, "process binding: unknown (%s)\n", strerror(errno));
        goto out_free_set;
    }
    if (hwloc_bitmap_list_asprintf(&list, set) < 0) {
        fprintf(out, "process binding: unknown (out of memory)\n");
        goto out_free_set;
    }
    fprintf(out, "process binding: PUs %s", list);
    if (allowed != NULL && hwloc_bitmap_isincluded(allowed, set)) {
        fprintf(out, " (not bound: every allowed PU)\n");
    } else {
        fprintf(out, " (bound to %d of %d allowed PU(s))\n",
                hwloc_bitmap_weight(set),
                allowed != NULL ? hwloc_bitmap_weight(allowed) : -1);
    }
    free(list);
out_free_set:
    hwloc_bitmap_free(set);
}

void rz_topo_print(FILE *out)
{
    hwloc_topology_t topo;
    rz_topo_summary_t s;
    char l3[32];

    if (rz_topo_load(&topo, RZ_LOG_LEVEL_ERROR) != RZ_OK) {
        fprintf(out, "topology unavailable (hwloc could not load it)\n");
        return;
    }
    rz_topo_fill(topo, &s);

    fprintf(out, "machine: %d package(s), %d NUMA node(s), %d core(s), "
            "%d PU(s)\n", s.packages, s.numa_nodes, s.cores, s.pus);
    if (s.l3_caches > 0 && s.l3_size > 0) {
        rz_topo_format_size(s.l3_size, l3, sizeof(l3));
        fprintf(out, "L3 cache: %d x %s\n", s.l3_caches, l3);
    } else {
        fprintf(out, "L3 cache: none reported\n");
    }
    rz_topo_print_numa(out, topo, rz_topo_count(topo, HWLOC_OBJ_NUMANODE));
    rz_topo_print_binding(out, topo);

    hwloc_topology_destroy(topo);
}

/* ------------------------------------------------------------- binding */

typedef enum {
    RZ_TOPO_TARGET_NONE,
    RZ_TOPO_TARGET_CORE,
    RZ_TOPO_TARGET_NUMA
} rz_topo_target_t;

/* The policy as a target and an index: the one place the rules live. */
static int rz_topo_plan(const char *policy, int local_rank, int local_size,
                        int ncores, int nnuma, rz_topo_target_t *target_p,
                        int *index_p)
{
    if (policy == NULL || local_size < 1 || local_rank < 0 ||
        local_rank >= local_size || ncores < 1 || nnuma < 1) {
        return -1;
    }
    if (strcmp(policy, "auto") == 0) {
        /* Pinning more ranks than cores makes them fight over the same
         * cores while others idle; leave placement to the scheduler. */
        policy = (local_size <= ncores) ? "core" : "none";
    }
    if (strcmp(policy, "none") == 0) {
        *target_p = RZ_TOPO_TARGET_NONE;
        *index_p  = -1;
    } else if (strcmp(policy, "core") == 0) {
        *target_p = RZ_TOPO_TARGET_CORE;
        *index_p  = local_rank % ncores;
    } else if (strcmp(policy, "numa") == 0) {
        *target_p = RZ_TOPO_TARGET_NUMA;
        *index_p  = local_rank % nnuma;
    } else {
        return -1;
    }
    return 0;
}

int rz_topo_bind_plan(const char *policy, int local_rank, int local_size,
                      int ncores, int nnuma, char *desc, size_t desc_size)
{
    rz_topo_target_t target;
    int index;

    if (desc == NULL || desc_size == 0 ||
        rz_topo_plan(policy, local_rank, local_size, ncores, nnuma, &target,
                     &index) != 0) {
        return -1;
    }
    switch (target) {
    case RZ_TOPO_TARGET_CORE:
        snprintf(desc, desc_size, "core %d", index);
        break;
    case RZ_TOPO_TARGET_NUMA:
        snprintf(desc, desc_size, "numa %d", index);
        break;
    default:
        /* "auto" resolves to no binding only when oversubscribed. */
        if (strcmp(policy, "auto") == 0) {
            snprintf(desc, desc_size,
                     "none (oversubscribed: %d ranks on %d core%s)",
                     local_size, ncores, ncores == 1 ? "" : "s");
        } else {
            snprintf(desc, desc_size, "none");
        }
        break;
    }
    return 0;
}

/* Cores as rz_topo_fill counts them: PUs where hwloc shows no cores. */
static hwloc_obj_type_t rz_topo_core_type(hwloc_topology_t topo)
{
    int cores = rz_topo_count(topo, HWLOC_OBJ_CORE);
    int pus = rz_topo_count(topo, HWLOC_OBJ_PU);

    return (cores >= 1 && cores <= pus) ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

/* The @index-th NUMA node that has PUs, or NULL; with @index < 0, NULL and
 * the number of such nodes in *count_p. Memory-only nodes (HBM, CXL) can
 * host no rank, so "numa" cycles over the others. */
static hwloc_obj_t rz_topo_numa_node(hwloc_topology_t topo, int index,
                                     int *count_p)
{
    int n = rz_topo_count(topo, HWLOC_OBJ_NUMANODE), seen = 0;

    for (int i = 0; i < n; i++) {
        hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE,
                                                 (unsigned)i);
        if (node == NULL || node->cpuset == NULL ||
            hwloc_bitmap_iszero(node->cpuset)) {
            continue;
        }
        if (seen++ == index) {
            return node;
        }
    }
    if (count_p != NULL) {
        *count_p = seen;
    }
    return NULL;
}

/* A plan resolved against a loaded topology. */
typedef struct {
    rz_topo_target_t      target;
    int                   index;
    int                   ncores;
    hwloc_const_cpuset_t  set;    /* PUs to bind to; NULL for none */
    char                  what[RZ_TOPO_DESC_MAX]; /* "core 1 (PUs 1,3)" */
} rz_topo_resolved_t;

static rz_status_t rz_topo_resolve(hwloc_topology_t topo, const char *policy,
                                   int local_rank, int local_size,
                                   rz_topo_resolved_t *res)
{
    hwloc_obj_type_t core_type = rz_topo_core_type(topo);
    int ncores = rz_topo_count(topo, core_type);
    int nnuma = 0;
    hwloc_obj_t obj = NULL;
    char pus[RZ_TOPO_DESC_MAX - 32];

    rz_topo_numa_node(topo, -1, &nnuma);
    if (rz_topo_plan(policy, local_rank, local_size, RZ_MAX(ncores, 1),
                     RZ_MAX(nnuma, 1), &res->target, &res->index) != 0) {
        return RZ_ERR_INVALID_PARAM;
    }
    res->ncores = RZ_MAX(ncores, 1);
    res->set = NULL;

    switch (res->target) {
    case RZ_TOPO_TARGET_CORE:
        obj = hwloc_get_obj_by_type(topo, core_type, (unsigned)res->index);
        break;
    case RZ_TOPO_TARGET_NUMA:
        obj = rz_topo_numa_node(topo, res->index, NULL);
        if (obj == NULL) {
            /* hwloc showed no NUMA node with PUs: the machine is one. */
            obj = hwloc_get_root_obj(topo);
        }
        break;
    default:
        if (rz_topo_bind_plan(policy, local_rank, local_size, res->ncores,
                              RZ_MAX(nnuma, 1), res->what,
                              sizeof(res->what)) != 0) {
            return RZ_ERR_INVALID_PARAM;
        }
        return RZ_OK;
    }
    if (obj == NULL || obj->cpuset == NULL ||
        hwloc_bitmap_iszero(obj->cpuset)) {
        return RZ_ERR_IO;
    }
    res->set = obj->cpuset;
    hwloc_bitmap_list_snprintf(pus, sizeof(pus), res->set);
    snprintf(res->what, sizeof(res->what), "%s %d (PUs %s)",
             res->target == RZ_TOPO_TARGET_CORE ? "core" : "numa", res->index,
             pus);
    return RZ_OK;
}

/* What RZ_TOPO_BIND_ONCE remembers: the binding made, "" before any. */
static pthread_mutex_t rz_topo_bind_lock = PTHREAD_MUTEX_INITIALIZER;
static char rz_topo_bound_process[RZ_TOPO_DESC_MAX];
static _Thread_local char rz_topo_bound_thread[RZ_TOPO_DESC_MAX];

/* The PUs this process (or thread) may run on now, in a new bitmap; NULL
 * with errno set when the OS does not say. */
static hwloc_cpuset_t rz_topo_get_binding(hwloc_topology_t topo, int hwflags)
{
    hwloc_cpuset_t cur = hwloc_bitmap_alloc();

    if (cur == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (hwloc_get_cpubind(topo, cur, hwflags) != 0) {
        int err = errno;
        hwloc_bitmap_free(cur);
        errno = err;
        return NULL;
    }
    return cur;
}

/* Bound to fewer than all allowed PUs: someone bound us already. Allowed,
 * not all: a cgroup cpuset (docker --cpuset-cpus, slurm's task/cgroup)
 * is the machine we were given, not a binding. */
static int rz_topo_is_bound(hwloc_topology_t topo, hwloc_const_cpuset_t cur)
{
    hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topo);

    return allowed != NULL && !hwloc_bitmap_isincluded(allowed, cur);
}

rz_status_t rz_topo_bind(const char *policy, int local_rank, int local_size,
                         unsigned flags, char *desc, size_t desc_size)
{
    const int thread = (flags & RZ_TOPO_BIND_THREAD) != 0;
    const int hwflags = thread ? HWLOC_CPUBIND_THREAD : HWLOC_CPUBIND_PROCESS;
    char *earlier = thread ? rz_topo_bound_thread : rz_topo_bound_process;
    rz_topo_target_t target;
    rz_topo_resolved_t res;
    hwloc_topology_t topo;
    hwloc_cpuset_t cur;
    char cur_list[RZ_TOPO_DESC_MAX - 64];
    rz_status_t status;
    int index, external;

    /* Validate before anything can be logged or bound. */
    if (desc == NULL || desc_size == 0 ||
        rz_topo_plan(policy, local_rank, local_size, 1, 1, &target,
                     &index) != 0) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (strcmp(policy, "none") == 0) {
        snprintf(desc, desc_size, "not bound: RZ_BIND=none");
        return RZ_OK;
    }
    if (thread && strcmp(policy, "auto") == 0) {
        snprintf(desc, desc_size, "not bound: the local ranks are threads "
                 "of one process (RZ_BIND=core or numa binds each rank's "
                 "thread)");
        return RZ_OK;
    }

    /* Serialise process bindings: two communicators created at once by
     * two threads must not both see "unbound" and both bind. Thread
     * bindings touch only thread-local state. */
    if (!thread) {
        pthread_mutex_lock(&rz_topo_bind_lock);
    }
    if ((flags & RZ_TOPO_BIND_ONCE) && earlier[0] != '\0') {
        snprintf(desc, desc_size, "kept the binding of an earlier "
                 "communicator: %s", earlier);
        status = RZ_OK;
        goto out_unlock;
    }

    status = rz_topo_load(&topo, RZ_LOG_LEVEL_WARN);
    if (status != RZ_OK) {
        RZ_LOG_WARN("not bound: hwloc could not read the topology");
        goto out_unlock;
    }
    if (!hwloc_topology_is_thissystem(topo)) {
        /* hwloc would accept the call and bind nothing. */
        snprintf(desc, desc_size, "not bound: the hwloc topology is not "
                 "this host's (HWLOC_XMLFILE or HWLOC_SYNTHETIC is set)");
        goto out_destroy;
    }
    status = rz_topo_resolve(topo, policy, local_rank, local_size, &res);
    if (status != RZ_OK) {
        RZ_LOG_WARN("not bound: hwloc shows no PUs for RZ_BIND=%s, local "
                    "rank %d of %d", policy, local_rank, local_size);
        goto out_destroy;
    }
    if (res.set == NULL) {
        /* Only "auto" resolves to no binding, when oversubscribed. */
        snprintf(desc, desc_size, "not bound: oversubscribed, %d ranks on "
                 "%d core%s", local_size, res.ncores,
                 res.ncores == 1 ? "" : "s");
        goto out_destroy;
    }

    cur = rz_topo_get_binding(topo, hwflags);
    if (cur == NULL) {
        RZ_LOG_WARN("not bound: cannot read the current binding: %m");
        status = RZ_ERR_IO;
        goto out_destroy;
    }
    hwloc_bitmap_list_snprintf(cur_list, sizeof(cur_list), cur);
    /* Ours from an earlier call, or the launcher's choice of the very same
     * PUs, is not a binding to report as replaced. */
    external = rz_topo_is_bound(topo, cur) && !hwloc_bitmap_isequal(cur,
                                                                  res.set);
    if (external && strcmp(policy, "auto") == 0) {
        snprintf(desc, desc_size, "not bound: kept the existing binding to "
                 "PUs %s (from the launcher, taskset or numactl; "
                 "RZ_BIND=core overrides it)", cur_list);
        goto out_free_cur;
    }
    if (hwloc_set_cpubind(topo, res.set, hwflags) != 0) {
        RZ_LOG_WARN("not bound: binding the %s to %s failed: %m",
                    thread ? "thread" : "process", res.what);
        status = RZ_ERR_IO;
        goto out_free_cur;
    }
    snprintf(desc, desc_size, "bound %sto %s%s%s",
             thread ? "thread " : "", res.what,
             external ? ", replacing a binding to PUs " : "",
             external ? cur_list : "");
    if (flags & RZ_TOPO_BIND_ONCE) {
        snprintf(earlier, RZ_TOPO_DESC_MAX, "%s", res.what);
    }

out_free_cur:
    hwloc_bitmap_free(cur);
out_destroy:
    hwloc_topology_destroy(topo);
out_unlock:
    if (!thread) {
        pthread_mutex_unlock(&rz_topo_bind_lock);
    }
    return status;
}

rz_status_t rz_topo_bind_describe(const char *policy, int local_rank,
                                  int local_size, char *desc,
                                  size_t desc_size)
{
    rz_topo_resolved_t res;
    hwloc_topology_t topo;
    rz_status_t status;
    rz_topo_target_t target;
    int index;

    if (desc == NULL || desc_size == 0 ||
        rz_topo_plan(policy, local_rank, local_size, 1, 1, &target,
                     &index) != 0) {
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_topo_load(&topo, RZ_LOG_LEVEL_DEBUG);
    if (status != RZ_OK) {
        return status;
    }
    status = rz_topo_resolve(topo, policy, local_rank, local_size, &res);
    if (status == RZ_OK) {
        snprintf(desc, desc_size, "%s", res.what);
    }
    hwloc_topology_destroy(topo);
    return status;
}

rz_status_t rz_topo_bind_print(FILE *out, const char *policy, int local_size)
{
    rz_topo_resolved_t res;
    hwloc_topology_t topo;
    rz_topo_target_t target;
    rz_status_t status;
    hwloc_cpuset_t cur;
    char cur_list[RZ_TOPO_DESC_MAX];
    int index;

    if (out == NULL || local_size < 1 ||
        rz_topo_plan(policy, 0, local_size, 1, 1, &target, &index) != 0) {
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_topo_load(&topo, RZ_LOG_LEVEL_ERROR);
    if (status != RZ_OK) {
        return status;
    }
    for (int r = 0; r < local_size; r++) {
        status = rz_topo_resolve(topo, policy, r, local_size, &res);
        if (status != RZ_OK) {
            fprintf(out, "  local rank %d: (no PUs found)\n", r);
            goto out_destroy;
        }
        fprintf(out, "  local rank %d: %s\n", r, res.what);
    }
    /* rz_info itself runs where the launcher would start a rank: an
     * inherited binding would be kept. */
    if (strcmp(policy, "auto") == 0 && hwloc_topology_is_thissystem(topo) &&
        (cur = rz_topo_get_binding(topo, HWLOC_CPUBIND_PROCESS)) != NULL) {
        if (rz_topo_is_bound(topo, cur)) {
            hwloc_bitmap_list_snprintf(cur_list, sizeof(cur_list), cur);
            fprintf(out, "note: this process is already bound to PUs %s;\n"
                    "  under 'auto' a rank started the same way keeps such a "
                    "binding\n", cur_list);
        }
        hwloc_bitmap_free(cur);
    }
out_destroy:
    hwloc_topology_destroy(topo);
    return status;
}
