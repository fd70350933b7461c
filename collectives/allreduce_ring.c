/*
 * Ring allreduce = ring reduce-scatter + ring allgather (rz_ring.h). Each
 * chunk is reduced completely at one owner and then copied to every rank,
 * so all ranks end with bitwise identical results.
 *
 * Steps 0..K-2 reduce: the partial sum of chunk rc arrives in tmp and is
 * combined straight into the destination (dst = src op tmp), so out-of-place
 * calls need no copy of the input. Steps K-1..2K-3 gather into dst.
 */
#include "collectives/rz_coll.h"
#include "collectives/rz_ring.h"

#include <string.h>

rz_status_t rz_allreduce_ring_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    const int right = rz_ring_right(r, K), left = rz_ring_left(r, K);
    const size_t es = req->esize, n = req->count;
    const char *src = req->sbuf;
    char *dst = req->rbuf;

    if (K == 1) {
        if (src != dst && n > 0) {
            memcpy(dst, src, n * es);
        }
        return RZ_OK;
    }
    /* Finish the step that just completed. */
    if (req->step > 0 && req->step <= K - 1) {
        int s = req->step - 1;
        int rc = rz_ring_rs_recv_chunk(r, s, K);
        size_t off = rz_ring_chunk_offset(n, K, rc) * es;
        size_t cnt = rz_ring_chunk_count(n, K, rc);
        rz_reduce(dst + off, src + off, req->tmp, cnt, req->dtype, req->op);
        if (s == K - 2 && req->op == RZ_OP_AVG) {
            rz_reduce_scale(dst + off, cnt, req->dtype, K);
        }
    }
    if (req->step == 2 * (K - 1)) {
        return RZ_OK;
    }
    int s = req->step++;
    if (s < K - 1) {
        int sc = rz_ring_rs_send_chunk(r, s, K);
        int rc = rz_ring_rs_recv_chunk(r, s, K);
        const char *from = (s == 0) ? src : dst;
        rz_request_recv(req, left, (unsigned)s, req->tmp,
                        rz_ring_chunk_count(n, K, rc) * es);
        rz_request_send(req, right, (unsigned)s,
                        from + rz_ring_chunk_offset(n, K, sc) * es,
                        rz_ring_chunk_count(n, K, sc) * es);
    } else {
        int a = s - (K - 1);
        int sc = rz_ring_ag_send_chunk(r, a, K);
        int rc = rz_ring_ag_recv_chunk(r, a, K);
        rz_request_recv(req, left, (unsigned)s,
                        dst + rz_ring_chunk_offset(n, K, rc) * es,
                        rz_ring_chunk_count(n, K, rc) * es);
        rz_request_send(req, right, (unsigned)s,
                        dst + rz_ring_chunk_offset(n, K, sc) * es,
                        rz_ring_chunk_count(n, K, sc) * es);
    }
    return RZ_INPROGRESS;
}
