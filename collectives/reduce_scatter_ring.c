/*
 * Ring reduce-scatter with the block layout of MPI_Reduce_scatter_block:
 * rank r receives block r of the K blocks of sendbuf. The partial sum of a
 * block travels the ring in two alternating scratch halves: one is being
 * sent while the next partial sum arrives in the other.
 */
#include "collectives/rz_coll.h"
#include "collectives/rz_ring.h"

#include <string.h>

rz_status_t rz_reduce_scatter_ring_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    const int right = rz_ring_right(r, K), left = rz_ring_left(r, K);
    const size_t bytes = req->count * req->esize;
    const char *src = req->sbuf;
    char *half[2] = {req->tmp, (char *)req->tmp + bytes};

    if (K == 1) {
        if (src != (const char *)req->rbuf && bytes > 0) {
            memcpy(req->rbuf, src, bytes);
        }
        if (req->op == RZ_OP_AVG) {
            rz_reduce_scale(req->rbuf, req->count, req->dtype, K);
        }
        return RZ_OK;
    }
    if (req->step > 0) {
        int s = req->step - 1;
        int rc = rz_ring_rs_recv_chunk(r, s, K);
        void *out = (s == K - 2) ? req->rbuf : half[s % 2];
        rz_reduce(out, src + (size_t)rc * bytes, half[s % 2], req->count,
                  req->dtype, req->op);
        if (s == K - 2) {
            if (req->op == RZ_OP_AVG) {
                rz_reduce_scale(req->rbuf, req->count, req->dtype, K);
            }
            return RZ_OK;
        }
    }
    int s = req->step++;
    int sc = rz_ring_rs_send_chunk(r, s, K);
    const char *from = (s == 0) ? src + (size_t)sc * bytes : half[(s - 1) % 2];
    rz_request_recv(req, left, (unsigned)s, half[s % 2], bytes);
    rz_request_send(req, right, (unsigned)s, from, bytes);
    return RZ_INPROGRESS;
}
