/*
 * Algorithms: each is a progress function over lib/core's request object.
 * They talk to peers only through rz_request_send/recv (lib/transport's p2p
 * interface) and never see UCX.
 */
#ifndef RZ_COLL_H
#define RZ_COLL_H

#include "core/rz_comm.h"
#include "util/rz_reduce.h"

rz_status_t rz_allreduce_ring_progress(rz_request_t *req);
rz_status_t rz_allreduce_rd_progress(rz_request_t *req);
/* Segments per chunk and scratch bytes of a pipelined ring allreduce. */
void rz_allreduce_ring_plan(size_t count, size_t esize, int nranks,
                            size_t segment_bytes, int *nseg_p,
                            size_t *tmp_bytes_p);
/* Largest allreduce (bytes per rank) that auto sends by recursive doubling
 * on @nranks ranks (@oversubscribed: more ranks than cores on a host);
 * the crossover measured in docs/PERFORMANCE.md. */
size_t rz_allreduce_rd_max_bytes(int nranks, int oversubscribed);
/* RZ_ALGO_RING or RZ_ALGO_RD for an allreduce of @bytes on @comm. */
int rz_allreduce_choose(const struct rz_comm *comm, size_t bytes);
rz_status_t rz_reduce_scatter_ring_progress(rz_request_t *req);
rz_status_t rz_allgather_ring_progress(rz_request_t *req);
rz_status_t rz_broadcast_binomial_progress(rz_request_t *req);
rz_status_t rz_barrier_dissemination_progress(rz_request_t *req);

#endif
