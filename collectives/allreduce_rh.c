/*
 * Rabenseifner allreduce: reduce-scatter by recursive halving, then
 * allgather by recursive doubling. It moves the same bytes as the ring
 * (2 (P-1)/P of the vector per rank) in 2 log2(P) exchange steps instead of
 * 2 (K-1), which is what counts when ranks share cores: every step is a
 * synchronisation point that may wait for a descheduled partner.
 *
 * With K = P + rem ranks (P the largest power of two <= K), ranks below
 * 2*rem fold first exactly as in recursive doubling (allreduce_rd.c): even
 * ones hand their vector to the odd one above and sit out until the final
 * unfold. The P active ranks, renumbered nr = 0..P-1, split the vector into
 * P blocks (the normative chunking of rz_ring.h with P parts). At RS step k
 * (k = 0..L-1, L = log2 P, mask m = P >> (k+1)) partners nr and nr ^ m share
 * a window of blocks; the one with the bit clear keeps the lower half,
 * the other the upper half; each receives the half it keeps and reduces
 * lower-nr op higher-nr into the destination. After L steps rank nr owns
 * block nr, reduced nowhere else; the allgather steps (k = L-1..0) copy
 * whole windows, so every rank ends with bitwise the same vector.
 *
 * Fold and RS steps are cut into segments of about RZ_RING_SEGMENT bytes
 * (req->nseg holds the segment length in elements) received into two
 * segment-sized scratch buffers: segment j + 1 is posted before segment j
 * is reduced, as in the pipelined ring. Across a step boundary the
 * previous segment is reduced first, because the next step sends from the
 * window it writes. Allgather steps and the unfold are one message each,
 * received straight into the destination.
 *
 * Tags: step field = phase << RZ_RH_SEG_BITS | segment, with phase 0 the
 * fold, 1..L the RS steps, L+1..2L the allgather steps and 2L+1 the
 * unfold; both partners of an exchange derive the same numbers.
 */
#include "collectives/rz_coll.h"
#include "collectives/rz_range.h"
#include "collectives/rz_ring.h"

#include <string.h>

#define RZ_RH_SEG_BITS 10
#define RZ_RH_MAX_SEGS (1 << RZ_RH_SEG_BITS)
#define RZ_RH_MAX_LOG2 30                 /* 2L + 2 phases in 6 tag bits */

/* Where a unit's data lives: element ranges of the input or the output
 * (rz_range.h: one buffer or the pieces of a fused allreduce), or a
 * scratch half. */
#define RZ_RH_NONE 0
#define RZ_RH_IN   1
#define RZ_RH_OUT  2
#define RZ_RH_TMP  3

/* One exchange of one rank, derived from (request, unit number). Offsets
 * and counts are in elements. */
typedef struct {
    int         phase;
    int         peer;
    unsigned    tag;
    int         skind;      /* send from IN or OUT (NONE: no send) */
    size_t      soff;
    size_t      scnt;
    int         rkind;      /* receive into OUT or TMP (NONE: none) */
    size_t      roff;
    size_t      rcnt;
    char       *tmp;        /* the scratch half, for TMP */
    /* Reduction after arrival: out[off..] = lower op higher over cnt
     * elements, mine being the same range of IN or OUT. */
    int         reduce;
    int         mine_in;
    int         mine_first; /* 1: mine op received, 0: received op mine */
    size_t      off;
    size_t      cnt;
    int         scale;      /* AVG: scale afterwards */
} rz_rh_unit_t;

/* Segments for a range of @n elements of segment length @seg. */
static size_t rz_rh_nsegs(size_t n, size_t seg)
{
    size_t g = (n + seg - 1) / seg;

    return g < 1 ? 1 : g > RZ_RH_MAX_SEGS ? RZ_RH_MAX_SEGS : g;
}

void rz_allreduce_rh_plan(size_t count, size_t esize, int nranks,
                          size_t segment_bytes, int *seg_elems_p,
                          size_t *tmp_bytes_p)
{
    size_t seg = segment_bytes / esize, big;

    if (seg < 1) {
        seg = 1;
    }
    if (seg > (size_t)1 << 30) {
        seg = (size_t)1 << 30;
    }
    /* No segment of any range (all <= count) exceeds this. */
    big = (count + RZ_RH_MAX_SEGS - 1) / RZ_RH_MAX_SEGS;
    big = big > seg ? big : seg;
    big = big < count ? big : count;
    *seg_elems_p = (int)seg;
    *tmp_bytes_p = nranks > 1 ? 2 * big * esize : 0;
}

static char *rz_rh_tmp(const rz_request_t *req, int u)
{
    return (char *)req->tmp + (size_t)(u & 1) * (req->tmp_size / 2);
}

/* Fill @d with unit @u of this rank; 0 when the rank has no unit @u. */
static int rz_rh_unit(const rz_request_t *req, int u, rz_rh_unit_t *d)
{
    const int unit = u;       /* picks the scratch half */
    const int K = req->comm->nranks, r = req->comm->rank;
    const int P = rz_coll_pof2(K), rem = K - P, L = rz_coll_log2(P);
    const int sits_out = (r < 2 * rem) && (r % 2 == 0);
    const int folded = (r < 2 * rem) && !sits_out;
    const int nr = (r < 2 * rem) ? r / 2 : r - rem;
    const size_t n = req->count, seg = (size_t)req->nseg;
    size_t lo[RZ_RH_MAX_LOG2 + 1], hi[RZ_RH_MAX_LOG2 + 1]; /* windows */
    size_t g;

    memset(d, 0, sizeof(*d));
    /* Phase 0: fold. */
    if (r < 2 * rem) {
        g = rz_rh_nsegs(n, seg);
        if ((size_t)u < g) {
            size_t a = n * (size_t)u / g, b = n * (size_t)(u + 1) / g;
            d->phase = 0;
            d->tag = (unsigned)u;
            if (sits_out) {
                d->peer = r + 1;
                d->skind = RZ_RH_IN;
                d->soff = a;
                d->scnt = b - a;
            } else {
                d->peer = r - 1;
                d->rkind = RZ_RH_TMP;
                d->tmp = rz_rh_tmp(req, unit);
                d->rcnt = b - a;
                d->reduce = 1;
                d->off = a;
                d->mine_in = 1;
                d->mine_first = 0;          /* rank r-1 is lower */
                d->cnt = b - a;
            }
            return 1;
        }
        u -= (int)g;
    }
    if (sits_out) {
        /* Phase 2L+1: the result comes back from rank r+1. */
        if (u != 0) {
            return 0;
        }
        d->phase = 2 * L + 1;
        d->peer = r + 1;
        d->tag = (unsigned)d->phase << RZ_RH_SEG_BITS;
        d->rkind = RZ_RH_OUT;
        d->roff = 0;
        d->rcnt = n;
        return 1;
    }
    /* Windows of blocks after each RS step: [lo[k+1], hi[k+1]). */
    lo[0] = 0;
    hi[0] = (size_t)P;
    for (int k = 0; k < L; k++) {
        size_t mid = lo[k] + (hi[k] - lo[k]) / 2;
        int m = P >> (k + 1);
        lo[k + 1] = (nr & m) ? mid : lo[k];
        hi[k + 1] = (nr & m) ? hi[k] : mid;
    }
    /* Phases 1..L: reduce-scatter. */
    for (int k = 0; k < L; k++) {
        int m = P >> (k + 1), pnr = nr ^ m;
        size_t mid = lo[k] + (hi[k] - lo[k]) / 2;
        size_t klo = lo[k + 1], khi = hi[k + 1];
        size_t slo = (klo == lo[k]) ? mid : lo[k];
        size_t shi = (klo == lo[k]) ? hi[k] : mid;
        size_t koff = rz_ring_chunk_offset(n, P, (int)klo);
        size_t kcnt = rz_ring_chunk_offset(n, P, (int)khi) - koff;
        size_t soff = rz_ring_chunk_offset(n, P, (int)slo);
        size_t scnt = rz_ring_chunk_offset(n, P, (int)shi) - soff;
        g = rz_rh_nsegs(kcnt > scnt ? kcnt : scnt, seg);
        if ((size_t)u < g) {
            int from = (k == 0 && !folded) ? RZ_RH_IN : RZ_RH_OUT;
            size_t ka = kcnt * (size_t)u / g, kb = kcnt * (size_t)(u + 1) / g;
            size_t sa = scnt * (size_t)u / g, sb = scnt * (size_t)(u + 1) / g;
            d->phase = 1 + k;
            d->peer = rz_coll_fold_rank(pnr, rem);
            d->tag = ((unsigned)d->phase << RZ_RH_SEG_BITS) | (unsigned)u;
            d->skind = from;
            d->soff = soff + sa;
            d->scnt = sb - sa;
            d->rkind = RZ_RH_TMP;
            d->tmp = rz_rh_tmp(req, unit);
            d->rcnt = kb - ka;
            d->reduce = 1;
            d->off = koff + ka;
            d->mine_in = from == RZ_RH_IN;
            d->mine_first = nr < pnr;
            d->cnt = kb - ka;
            d->scale = (k == L - 1) && req->op == RZ_OP_AVG;
            return 1;
        }
        u -= (int)g;
    }
    /* Phases L+1..2L: allgather, k = L-1 down to 0. */
    for (int i = 0; i < L; i++) {
        int k = L - 1 - i, m = P >> (k + 1);
        if (u == 0) {
            size_t plo = (lo[k + 1] == lo[k]) ? hi[k + 1] : lo[k];
            size_t phi = (lo[k + 1] == lo[k]) ? hi[k] : lo[k + 1];
            size_t moff = rz_ring_chunk_offset(n, P, (int)lo[k + 1]);
            size_t mend = rz_ring_chunk_offset(n, P, (int)hi[k + 1]);
            size_t poff = rz_ring_chunk_offset(n, P, (int)plo);
            size_t pend = rz_ring_chunk_offset(n, P, (int)phi);
            d->phase = L + 1 + i;
            d->peer = rz_coll_fold_rank(nr ^ m, rem);
            d->tag = (unsigned)d->phase << RZ_RH_SEG_BITS;
            d->skind = RZ_RH_OUT;
            d->soff = moff;
            d->scnt = mend - moff;
            d->rkind = RZ_RH_OUT;
            d->roff = poff;
            d->rcnt = pend - poff;
            return 1;
        }
        u--;
    }
    /* Phase 2L+1: hand the result to the rank that sat out. */
    if (folded && u == 0) {
        d->phase = 2 * L + 1;
        d->peer = r - 1;
        d->tag = (unsigned)d->phase << RZ_RH_SEG_BITS;
        d->skind = RZ_RH_OUT;
        d->soff = 0;
        d->scnt = n;
        return 1;
    }
    return 0;
}

static void rz_rh_reduce(rz_request_t *req, const rz_rh_unit_t *d)
{
    rz_range_reduce(req, d->off, d->mine_in, d->mine_first, d->tmp, d->cnt,
                    d->scale);
}

rz_status_t rz_allreduce_rh_progress(rz_request_t *req)
{
    const int u = req->step;
    rz_rh_unit_t prev, cur;
    int reduce_prev, have_cur;

    if (req->comm->nranks == 1) {
        for (size_t off = 0, run; off < req->count; off += run) {
            char *dst = rz_range_addr(req, 0, off, &run);
            const char *src = rz_range_addr(req, 1, off, &run);
            if (dst != src) {
                memcpy(dst, src, run * req->esize);
            }
        }
        return RZ_OK;
    }
    reduce_prev = u > 0 && rz_rh_unit(req, u - 1, &prev) && prev.reduce;
    have_cur = rz_rh_unit(req, u, &cur);
    if (reduce_prev && (!have_cur || cur.phase != prev.phase)) {
        rz_rh_reduce(req, &prev);
        reduce_prev = 0;
    }
    if (!have_cur) {
        return RZ_OK;
    }
    if (cur.rkind == RZ_RH_TMP) {
        rz_request_recv(req, cur.peer, cur.tag, cur.tmp,
                        cur.rcnt * req->esize);
    } else if (cur.rkind == RZ_RH_OUT) {
        rz_range_recv_out(req, cur.peer, cur.tag, cur.roff, cur.rcnt);
    }
    if (cur.skind != RZ_RH_NONE) {
        rz_range_send(req, cur.peer, cur.tag, cur.skind == RZ_RH_IN,
                      cur.soff, cur.scnt);
    }
    if (reduce_prev) {
        rz_rh_reduce(req, &prev);
    }
    req->step++;
    return RZ_INPROGRESS;
}
