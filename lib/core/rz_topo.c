#include "core/rz_topo.h"
#include "util/rz_log.h"

#include <errno.h>
#include <hwloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each call loads its own topology: callers are rz_info and one-off sizing
 * decisions, so caching one (and its locking and lifetime) buys nothing. */
static rz_status_t rz_topo_load(hwloc_topology_t *topo_p)
{
    hwloc_topology_t topo;

    if (hwloc_topology_init(&topo) != 0) {
        RZ_LOG_ERROR("hwloc_topology_init failed: %m");
        return RZ_ERR_IO;
    }
    if (hwloc_topology_load(topo) != 0) {
        RZ_LOG_ERROR("hwloc_topology_load failed: %m");
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
    status = rz_topo_load(&topo);
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

    if (rz_topo_load(&topo) != RZ_OK) {
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

int rz_topo_bind_plan(const char *policy, int local_rank, int local_size,
                      int ncores, int nnuma, char *desc, size_t desc_size)
{
    if (policy == NULL || desc == NULL || desc_size == 0 || local_size < 1 ||
        local_rank < 0 || local_rank >= local_size || ncores < 1 ||
        nnuma < 1) {
        return -1;
    }

    if (strcmp(policy, "auto") == 0) {
        /* Pinning more ranks than cores makes them fight over the same
         * cores while others idle; leave placement to the scheduler. */
        policy = (local_size <= ncores) ? "core" : NULL;
        if (policy == NULL) {
            snprintf(desc, desc_size,
                     "none (oversubscribed: %d ranks on %d core%s)",
                     local_size, ncores, ncores == 1 ? "" : "s");
            return 0;
        }
    }

    if (strcmp(policy, "none") == 0) {
        snprintf(desc, desc_size, "none");
    } else if (strcmp(policy, "core") == 0) {
        snprintf(desc, desc_size, "core %d", local_rank % ncores);
    } else if (strcmp(policy, "numa") == 0) {
        snprintf(desc, desc_size, "numa %d", local_rank % nnuma);
    } else {
        return -1;
    }
    return 0;
}
