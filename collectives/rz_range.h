/*
 * Element ranges of an allreduce's input or output, shared by the ring and
 * Rabenseifner: one buffer (sbuf/rbuf), or the pieces of a fused allreduce
 * over scattered tensors (rz_allreduce_pieces), where a range may cover
 * several pieces. Sends and receives of a range that spans pieces become
 * one message with a scatter/gather list (req->iov: one send and one
 * receive per step); reductions run piece by piece.
 */
#ifndef RZ_RANGE_H
#define RZ_RANGE_H

#include "collectives/rz_coll.h"

/* The piece that holds element @off (< count). */
static inline int rz_range_piece(const rz_request_t *req, size_t off)
{
    int lo = 0, hi = req->npieces - 1;

    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (req->pstart[mid] <= off) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

/* Address of element @off of the input (@in) or the output, and how many
 * elements from there on are contiguous. */
static inline char *rz_range_addr(const rz_request_t *req, int in, size_t off,
                          size_t *run_p)
{
    const size_t es = req->esize;

    if (req->pieces == NULL) {
        *run_p = req->count - off;
        return (in ? (char *)req->sbuf : (char *)req->rbuf) + off * es;
    }
    int p = rz_range_piece(req, off);
    const rz_piece_t *pc = &req->pieces[p];
    *run_p = req->pstart[p + 1] - off;
    return (in ? (char *)pc->sbuf : (char *)pc->rbuf) +
           (off - req->pstart[p]) * es;
}

/* Scatter list of [off, off + cnt): @iov gets the pieces; returns how
 * many (1 when the range is contiguous). */
static inline int rz_range_iov(const rz_request_t *req, int in, size_t off,
                       size_t cnt, rz_tp_iov_t *iov)
{
    int n = 0;

    do {
        size_t run;
        char *a = rz_range_addr(req, in, off, &run);
        run = run < cnt ? run : cnt;
        iov[n].buffer = a;
        iov[n].length = run * req->esize;
        n++;
        off += run;
        cnt -= run;
    } while (cnt > 0);
    return n;
}

static inline void rz_range_send(rz_request_t *req, int peer, unsigned u, int in,
                         size_t off, size_t cnt)
{
    size_t run;

    if (cnt == 0 || (rz_range_addr(req, in, off, &run), run >= cnt)) {
        rz_request_send(req, peer, u,
                        cnt == 0 ? req->inline_tmp
                                 : rz_range_addr(req, in, off, &run),
                        cnt * req->esize);
        return;
    }
    int n = rz_range_iov(req, in, off, cnt, req->iov);
    rz_request_sendv(req, peer, u, req->iov, n, cnt * req->esize);
}

/* Receive into [off, off + cnt) of the output. */
static inline void rz_range_recv_out(rz_request_t *req, int peer, unsigned u,
                             size_t off, size_t cnt)
{
    size_t run;

    if (cnt == 0 || (rz_range_addr(req, 0, off, &run), run >= cnt)) {
        rz_request_recv(req, peer, u,
                        cnt == 0 ? req->inline_tmp
                                 : rz_range_addr(req, 0, off, &run),
                        cnt * req->esize);
        return;
    }
    rz_tp_iov_t *iov = req->iov + req->npieces;
    int n = rz_range_iov(req, 0, off, cnt, iov);
    rz_request_recvv(req, peer, u, iov, n, cnt * req->esize);
}

/* out[off, off + cnt) = mine op tmp (@mine_first) or tmp op mine, where
 * mine is [off, off + cnt) of the input (@mine_in) or of the output; then
 * scaled for avg (@scale). */
static inline void rz_range_reduce(rz_request_t *req, size_t off, int mine_in,
                                   int mine_first, const char *tmp,
                                   size_t cnt, int scale)
{
    while (cnt > 0) {
        size_t run, run_in;
        char *dst = rz_range_addr(req, 0, off, &run);
        const char *mine = rz_range_addr(req, mine_in, off, &run_in);
        run = run < cnt ? run : cnt;
        if (mine_first) {
            rz_reduce(dst, mine, tmp, run, req->dtype, req->op);
        } else {
            rz_reduce(dst, tmp, mine, run, req->dtype, req->op);
        }
        if (scale) {
            rz_reduce_scale(dst, run, req->dtype, req->comm->nranks);
        }
        tmp += run * req->esize;
        off += run;
        cnt -= run;
    }
}

#endif
