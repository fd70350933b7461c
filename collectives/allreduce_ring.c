/*
 * Pipelined ring allreduce = ring reduce-scatter + ring allgather
 * (rz_ring.h). Each chunk is reduced completely at one owner and then copied
 * to every rank, so all ranks end with bitwise identical results.
 *
 * Every chunk is cut into nseg segments (about RZ_RING_SEGMENT bytes each)
 * and the collective runs as a sequence of units, one per (ring step,
 * segment): unit u = s * nseg + j moves segment j of the chunks of ring step
 * s. Reduce-scatter units receive into one of two segment-sized scratch
 * buffers and reduce from there straight into the destination
 * (dst = src op tmp), so
 *   - the scratch stays in cache (2 segments, not a chunk, per request),
 *   - while unit u is on the wire the reduction of unit u-1 runs, and
 *   - out-of-place calls never copy the input; in-place calls need no
 *     temporary of the full size.
 * Allgather units receive straight into the destination.
 *
 * A unit's send reads the result of the unit nseg before it (the same
 * segment one ring step earlier), so with nseg >= 2 the next unit is posted
 * before the previous one is reduced; with nseg = 1 it has to wait.
 */
#include "collectives/rz_coll.h"
#include "collectives/rz_ring.h"
#include "collectives/rz_range.h"

#include <string.h>

/* Units are numbered in the 16-bit step field of the tag; a unit is only
 * matched against messages of its own (source, collective) so wrapping is
 * harmless, but keeping the count below 2^16 keeps traces readable. */
#define RZ_RING_MAX_UNITS 0xffff

void rz_allreduce_ring_plan(size_t count, size_t esize, int nranks,
                            size_t segment_bytes, int *nseg_p,
                            size_t *tmp_bytes_p)
{
    size_t chunk = rz_ring_chunk_count(count, nranks, 0); /* the largest */
    size_t seg_elems = segment_bytes / esize;
    size_t nseg;

    if (seg_elems == 0) {
        seg_elems = 1;
    }
    nseg = (chunk + seg_elems - 1) / seg_elems;
    if (nseg < 1) {
        nseg = 1;
    }
    size_t max_seg = RZ_RING_MAX_UNITS / (2 * (size_t)(nranks > 1 ? nranks - 1 : 1));
    if (max_seg < 1) {
        max_seg = 1;
    }
    if (nseg > max_seg) {
        nseg = max_seg;
    }
    *nseg_p = (int)nseg;
    /* Two buffers of the largest segment: ceil(chunk / nseg) elements. */
    *tmp_bytes_p = (nranks > 1) ? 2 * ((chunk + nseg - 1) / nseg) * esize : 0;
}

/* Element range of segment @j of chunk @c. */
static void rz_ring_segment(const rz_request_t *req, int c, int j,
                            size_t *off_p, size_t *cnt_p)
{
    const int K = req->comm->nranks;
    size_t cc = rz_ring_chunk_count(req->count, K, c);
    size_t lo = cc * (size_t)j / (size_t)req->nseg;
    size_t hi = cc * (size_t)(j + 1) / (size_t)req->nseg;

    *off_p = rz_ring_chunk_offset(req->count, K, c) + lo;
    *cnt_p = hi - lo;
}

static char *rz_ring_tmp(const rz_request_t *req, int unit)
{
    return (char *)req->tmp + (size_t)(unit & 1) * (req->tmp_size / 2);
}

/* Reduce-scatter unit @u has arrived: fold it into the destination. */
static void rz_ring_reduce_unit(rz_request_t *req, int u)
{
    const int K = req->comm->nranks, G = req->nseg;
    const int s = u / G, j = u % G;
    const size_t es = req->esize;
    size_t off, cnt;

    (void)es;
    rz_ring_segment(req, rz_ring_rs_recv_chunk(req->comm->rank, s, K), j,
                    &off, &cnt);
    rz_range_reduce(req, off, 1, 1, rz_ring_tmp(req, u), cnt,
                    s == K - 2 && req->op == RZ_OP_AVG);
}

static void rz_ring_post_unit(rz_request_t *req, int u)
{
    const int K = req->comm->nranks, r = req->comm->rank, G = req->nseg;
    const int right = rz_ring_right(r, K), left = rz_ring_left(r, K);
    const int rs_units = (K - 1) * G;
    const size_t es = req->esize;
    size_t soff, scnt, roff, rcnt;

    if (u < rs_units) {
        int s = u / G, j = u % G;
        rz_ring_segment(req, rz_ring_rs_send_chunk(r, s, K), j, &soff, &scnt);
        rz_ring_segment(req, rz_ring_rs_recv_chunk(r, s, K), j, &roff, &rcnt);
        rz_request_recv(req, left, (unsigned)u, rz_ring_tmp(req, u),
                        rcnt * es);
        rz_range_send(req, right, (unsigned)u, s == 0, soff, scnt);
    } else {
        int a = (u - rs_units) / G, j = (u - rs_units) % G;
        rz_ring_segment(req, rz_ring_ag_send_chunk(r, a, K), j, &soff, &scnt);
        rz_ring_segment(req, rz_ring_ag_recv_chunk(r, a, K), j, &roff, &rcnt);
        rz_range_recv_out(req, left, (unsigned)u, roff, rcnt);
        rz_range_send(req, right, (unsigned)u, 0, soff, scnt);
    }
}

rz_status_t rz_allreduce_ring_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, G = req->nseg;
    const int rs_units = (K - 1) * G, units = 2 * rs_units;
    const int u = req->step;     /* the unit to post now */
    const int reduce_prev = (u > 0 && u - 1 < rs_units);

    if (K == 1) {
        for (size_t off = 0, run; off < req->count; off += run) {
            char *dst = rz_range_addr(req, 0, off, &run);
            const char *src = rz_range_addr(req, 1, off, &run);
            if (dst != src) {
                memcpy(dst, src, run * req->esize);
            }
        }
        return RZ_OK;
    }
    if (u == units) {
        if (reduce_prev) {
            rz_ring_reduce_unit(req, u - 1);
        }
        return RZ_OK;
    }
    /* Unit u's send needs the result of unit u - G. */
    if (reduce_prev && G == 1) {
        rz_ring_reduce_unit(req, u - 1);
    }
    rz_ring_post_unit(req, u);
    if (reduce_prev && G > 1) {
        rz_ring_reduce_unit(req, u - 1);
    }
    req->step++;
    return RZ_INPROGRESS;
}
