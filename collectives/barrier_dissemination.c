/* Dissemination barrier: ceil(log2 K) rounds of zero-byte messages. */
#include "collectives/rz_coll.h"
#include "collectives/rz_ring.h"

rz_status_t rz_barrier_dissemination_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    long dist = 1L << req->step;

    if (dist >= K) {
        return RZ_OK;
    }
    rz_request_recv(req, rz_ring_mod(r - dist, K), (unsigned)req->step, NULL,
                    0);
    rz_request_send(req, rz_ring_mod(r + dist, K), (unsigned)req->step, NULL,
                    0);
    req->step++;
    return RZ_INPROGRESS;
}
