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
rz_status_t rz_reduce_scatter_ring_progress(rz_request_t *req);
rz_status_t rz_allgather_ring_progress(rz_request_t *req);
rz_status_t rz_broadcast_binomial_progress(rz_request_t *req);
rz_status_t rz_barrier_dissemination_progress(rz_request_t *req);

#endif
