/*
 * Algorithms: each is a progress function over lib/core's request object.
 * They talk to peers only through rz_request_send/recv (lib/transport's p2p
 * interface) and never see UCX.
 */
#ifndef RZ_COLL_H
#define RZ_COLL_H

#include "core/rz_comm.h"
#include "util/rz_reduce.h"

/* The largest power of two <= k (k >= 1). */
static inline int rz_coll_pof2(int k)
{
    int p = 1;
    while (p <= k / 2) {
        p *= 2;
    }
    return p;
}

/* log2 of the power of two @p. */
static inline int rz_coll_log2(int p)
{
    int l = 0;
    while ((1 << l) < p) {
        l++;
    }
    return l;
}

/* Recursive doubling and halving on K = P + rem ranks (P = pof2(K)) fold
 * ranks below 2*rem in pairs; the rank behind active number @nr. */
static inline int rz_coll_fold_rank(int nr, int rem)
{
    return nr < rem ? 2 * nr + 1 : nr + rem;
}

rz_status_t rz_allreduce_ring_progress(rz_request_t *req);
rz_status_t rz_allreduce_rh_progress(rz_request_t *req);
rz_status_t rz_allreduce_rd_progress(rz_request_t *req);
/* Segments per chunk and scratch bytes of a pipelined ring allreduce. */
void rz_allreduce_ring_plan(size_t count, size_t esize, int nranks,
                            size_t segment_bytes, int *nseg_p,
                            size_t *tmp_bytes_p);
/* Segment length (elements) and scratch bytes of a Rabenseifner allreduce. */
void rz_allreduce_rh_plan(size_t count, size_t esize, int nranks,
                          size_t segment_bytes, int *seg_elems_p,
                          size_t *tmp_bytes_p);
/* Largest allreduce (bytes per rank) that auto sends by recursive doubling
 * on @nranks ranks (@oversubscribed: more ranks than cores on a host);
 * the crossover measured in docs/PERFORMANCE.md. */
size_t rz_allreduce_rd_max_bytes(int nranks, int oversubscribed);
/* RZ_ALGO_RING, RZ_ALGO_RD or RZ_ALGO_RH for an allreduce of @bytes on @comm. */
int rz_allreduce_choose(const struct rz_comm *comm, size_t bytes);
/* Blocking allreduce of the concatenation of @npieces tensors, each
 * reduced from its sbuf into its rbuf (equal for in place), without
 * copying them together: Rabenseifner where rz_allreduce_choose() picks
 * it, else the pipelined ring; their messages gather from and scatter into
 * the pieces (rz_range.h). Every rank passes the same counts. */
rz_status_t rz_allreduce_pieces(struct rz_comm *comm, const rz_piece_t *pieces,
                                int npieces, rz_dtype_t dtype, rz_op_t op);
rz_status_t rz_reduce_scatter_ring_progress(rz_request_t *req);
rz_status_t rz_allgather_ring_progress(rz_request_t *req);
rz_status_t rz_broadcast_binomial_progress(rz_request_t *req);
rz_status_t rz_barrier_dissemination_progress(rz_request_t *req);

#endif
