/*
 * Host topology through hwloc: a summary for rz_info and for sizing
 * decisions, the rank binding policy (RZ_BIND) as a pure plan, and the
 * binding itself. No hwloc type crosses this header.
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

/* Flags of rz_topo_bind(). */
enum {
    /* The ranks are threads of one process (tests/mp/test_coll --threads,
     * or an application that runs one rank per thread): bind only the
     * calling thread, and only for an explicit "core" or "numa" -- "auto"
     * leaves threads alone, since binding the whole process from each
     * thread would leave every rank on the last thread's core. */
    RZ_TOPO_BIND_THREAD = 1u << 0,
    /* Bind once: when an earlier call with this flag bound this process
     * (or, with RZ_TOPO_BIND_THREAD, this thread), keep that binding. A
     * second communicator must not move a rank off the core the first one
     * gave it, where its memory was first touched. */
    RZ_TOPO_BIND_ONCE   = 1u << 1
};

/* Room for any description rz_topo_bind() and rz_topo_bind_describe()
 * write, PU lists of a few hundred CPUs included. */
#define RZ_TOPO_DESC_MAX 512

/*
 * Bind this process (or thread, see RZ_TOPO_BIND_THREAD) for rank
 * @local_rank of @local_size ranks on this host under @policy (none, core,
 * numa, auto; see rz_topo_bind_plan). "core" binds to the PUs of core
 * local_rank % ncores, "numa" to the PUs of that NUMA node (memory then
 * follows first touch; no strict memory policy). A binding that covers
 * fewer than all allowed PUs when we are called (mpirun --bind-to, srun
 * --cpu-bind, taskset, numactl) is kept under "auto" and replaced under
 * "core" or "numa".
 *
 * On RZ_OK, @desc (truncated to @desc_size) says what happened, for a log
 * line: "bound to core 1 (PUs 1,3)", "bound thread to numa 0 (PUs 0-7)",
 * "not bound: oversubscribed, 8 ranks on 2 cores", ... Deciding not to
 * bind is RZ_OK. Returns RZ_ERR_INVALID_PARAM for an unknown policy or
 * arguments out of range, RZ_ERR_IO when hwloc fails to load the topology
 * or to bind; that failure is logged as a warning here and the binding is
 * left as it was, so that callers can carry on unbound.
 */
rz_status_t rz_topo_bind(const char *policy, int local_rank, int local_size,
                         unsigned flags, char *desc, size_t desc_size);

/*
 * Where rz_topo_bind() would put local rank @local_rank of @local_size
 * under @policy on this host's topology (or the one HWLOC_XMLFILE /
 * HWLOC_SYNTHETIC describe), without binding: "core 1 (PUs 1,3)",
 * "numa 0 (PUs 0-7)", "none" or "none (oversubscribed: ...)". It does not
 * look at the current binding (see rz_topo_bind_print). @desc is written
 * only on RZ_OK; errors as for rz_topo_bind, not logged.
 */
rz_status_t rz_topo_bind_describe(const char *policy, int local_rank,
                                  int local_size, char *desc,
                                  size_t desc_size);

/*
 * For rz_info: one line per local rank 0 .. @local_size - 1, as
 * rz_topo_bind_describe() words it, loading the topology once; then, under
 * "auto", a note when this process is already bound to a subset of the
 * allowed PUs (ranks launched the same way keep such a binding).
 */
rz_status_t rz_topo_bind_print(FILE *out, const char *policy,
                               int local_size);

#endif
