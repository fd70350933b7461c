/* Ring allgather: K-1 steps, each forwarding the block received last. */
#include "collectives/rz_coll.h"
#include "collectives/rz_ring.h"

#include <string.h>

rz_status_t rz_allgather_ring_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    const size_t bytes = req->count * req->esize;
    char *dst = req->rbuf;

    if (req->step == 0 && req->sbuf != dst + (size_t)r * bytes && bytes > 0) {
        memcpy(dst + (size_t)r * bytes, req->sbuf, bytes);
    }
    if (req->step == K - 1) {
        return RZ_OK;
    }
    int s = req->step++;
    rz_request_recv(req, rz_ring_left(r, K), (unsigned)s,
                    dst + (size_t)rz_ring_ag_recv_chunk(r, s, K) * bytes,
                    bytes);
    rz_request_send(req, rz_ring_right(r, K), (unsigned)s,
                    dst + (size_t)rz_ring_ag_send_chunk(r, s, K) * bytes,
                    bytes);
    return RZ_INPROGRESS;
}
