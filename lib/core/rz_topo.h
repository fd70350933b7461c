/*
 * Host topology through hwloc: a summary for rz_info and for sizing
 * decisions, and the (pure, not yet applied) rank binding policy.
 * No hwloc type crosses this header.
 */
#ifndef RZ_TOPO_H
#define RZ_TOPO_H

#include <ringzip/status.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int      packages;   /* sockets; at least 1 */
    int      numa_nodes; /* at least 1 */
    int      cores;      /* physical cores; at least 1 */
    int      pus;        /* hardware threads; >= cores */
    int      l3_caches;  /* number of L3 caches, 0 when none is reported */
    uint64_t l3_size;    /* bytes of the largest L3 cache, 0 when none */
} rz_topo_summary_t;

/*
 * Discover this host's topology and fill @summary_p (only on success).
 * Levels hwloc cannot see (some VMs report no package or core objects) are
 * counted as the level below or as one, so every count is usable as a
 * divisor. Returns RZ_ERR_INVALID_PARAM for NULL, RZ_ERR_IO when hwloc
 * fails to load the topology.
 */
rz_status_t rz_topo_summary(rz_topo_summary_t *summary_p);

/*
 * Human summary for rz_info -T: the counts, each NUMA node with its PU list
 * and memory, and the PUs this process is bound to.
 */
void rz_topo_print(FILE *out);

/* Physical cores on this host; sysconf(_SC_NPROCESSORS_ONLN) when hwloc
 * fails, never less than 1. */
int rz_topo_ncores(void);

/*
 * Where rank @local_rank of @local_size ranks on this host would be bound
 * under @policy, as text in @desc (truncated to @desc_size, written only on
 * success):
 *   "none"  never bind                       -> "none"
 *   "core"  core local_rank % ncores         -> "core 1"
 *   "numa"  NUMA node local_rank % nnuma     -> "numa 0"
 *   "auto"  "core" unless the ranks outnumber the cores, else no binding
 *           -> "none (oversubscribed: 8 ranks on 2 cores)"
 * Pure: binds nothing and reads no state. Returns 0, or -1 for an unknown
 * policy or arguments out of range (local_rank outside [0, local_size),
 * ncores or nnuma < 1, NULL @policy or @desc).
 */
int rz_topo_bind_plan(const char *policy, int local_rank, int local_size,
                      int ncores, int nnuma, char *desc, size_t desc_size);

#endif
