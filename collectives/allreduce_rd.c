/*
 * Recursive-doubling allreduce, the latency-optimal choice for small
 * vectors: ceil(log2 K) exchange rounds (plus two for a rank count that is
 * not a power of two), each moving the whole vector.
 *
 * With K = P + rem (P the largest power of two <= K), ranks below 2*rem
 * pair up first: each even one hands its vector to the odd one above it and
 * sits out (step 0), to get the result back at the end (last step). The P
 * remaining ranks, renumbered 0..P-1, exchange with the partner whose new
 * number differs in bit i at round i and reduce.
 *
 * Bitwise agreement: both partners of a round compute lower op higher (by
 * new number), so they produce the same bits, and after round i all ranks
 * of a 2^(i+1) block hold the same vector; AVG scales that common vector.
 *
 * Steps: 0 = fold, 1..log2(P) = rounds, log2(P)+1 = unfold, then done.
 */
#include "collectives/rz_coll.h"

#include <string.h>

size_t rz_allreduce_rd_max_bytes(int nranks, int oversubscribed)
{
    (void)nranks;
    /* Measured on a 2-core host (docs/PERFORMANCE.md). Recursive doubling
     * sends the whole vector each round: with a core per rank the ring
     * (half the vector per round at np = 2) is as fast from 4 KiB and
     * faster from 256 KiB. With more ranks than cores every round costs
     * context switches; fewer rounds win up to about 32 KiB, and above
     * that Rabenseifner, whose rounds move less, is faster. */
    return oversubscribed ? 32 * 1024 : 4 * 1024;
}

rz_status_t rz_allreduce_rd_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    const int P = rz_coll_pof2(K), rem = K - P, rounds = rz_coll_log2(P);
    const size_t bytes = req->count * req->esize;
    const int sits_out = (r < 2 * rem) && (r % 2 == 0);
    const int nr = (r < 2 * rem) ? r / 2 : r - rem;   /* if active */
    char *dst = req->rbuf;
    const char *src = req->sbuf;
    int s = req->step;

    if (K == 1) {
        if (src != dst) {
            memcpy(dst, src, bytes);
        }
        return RZ_OK;
    }
    /* Finish the step that just completed. */
    if (s == 1 && r < 2 * rem && !sits_out) {
        /* Fold: dst = (rank r-1's vector) op (ours): lower rank first. */
        rz_reduce(dst, req->tmp, src, req->count, req->dtype, req->op);
    } else if (s >= 2 && s <= rounds + 1 && !sits_out) {
        int mask = 1 << (s - 2);
        int partner = nr ^ mask;
        /* Our running vector is in dst, or still in src when neither the
         * fold nor an earlier round has written dst. */
        const char *mine = (s == 2 && !(r < 2 * rem)) ? src : dst;
        if (nr < partner) {
            rz_reduce(dst, mine, req->tmp, req->count, req->dtype, req->op);
        } else {
            rz_reduce(dst, req->tmp, mine, req->count, req->dtype, req->op);
        }
    }
    if (s == rounds + 1 && !sits_out && req->op == RZ_OP_AVG) {
        rz_reduce_scale(dst, req->count, req->dtype, K);
    }
    if (s == rounds + 2) {
        return RZ_OK;
    }
    req->step++;
    if (s == 0) {
        /* Fold. */
        if (sits_out) {
            rz_request_send(req, r + 1, 0, src, bytes);
        } else if (r < 2 * rem) {
            rz_request_recv(req, r - 1, 0, req->tmp, bytes);
        }
    } else if (s <= rounds) {
        if (!sits_out) {
            int partner = rz_coll_fold_rank(nr ^ (1 << (s - 1)), rem);
            const char *mine = (s == 1 && !(r < 2 * rem)) ? src : dst;
            rz_request_recv(req, partner, (unsigned)s, req->tmp, bytes);
            rz_request_send(req, partner, (unsigned)s, mine, bytes);
        }
    } else {
        /* Unfold: odd ranks below 2*rem return the result. */
        if (sits_out) {
            rz_request_recv(req, r + 1, (unsigned)s, dst, bytes);
        } else if (r < 2 * rem) {
            rz_request_send(req, r - 1, (unsigned)s, dst, bytes);
        }
    }
    return RZ_INPROGRESS;
}
