/*
 * Ring index maths, pure and header-only (STYLE rule 1), shared by every
 * ring algorithm and unit-tested on its own.
 *
 * Chunking is normative (ALGORITHMS.md section 3): chunk c of a count-element
 * vector split K ways has floor(count/K) + (c < count mod K) elements.
 *
 * Reduce-scatter: at step s (0 <= s < K-1) rank r sends chunk (r-s-1) and
 * receives chunk (r-s-2) mod K, so rank r ends owning chunk r and chunk c is
 * summed in chain order c+1, c+2, ..., c (its owner last).
 * Allgather: at step s rank r sends chunk (r-s) and receives chunk (r-s-1).
 */
#ifndef RZ_RING_H
#define RZ_RING_H

#include <stddef.h>

static inline int rz_ring_mod(long a, int k)
{
    long m = a % k;
    return (int)(m < 0 ? m + k : m);
}

static inline int rz_ring_right(int rank, int nranks)
{
    return rz_ring_mod((long)rank + 1, nranks);
}

static inline int rz_ring_left(int rank, int nranks)
{
    return rz_ring_mod((long)rank - 1, nranks);
}

static inline size_t rz_ring_chunk_count(size_t count, int nranks, int c)
{
    return count / (size_t)nranks + ((size_t)c < count % (size_t)nranks);
}

static inline size_t rz_ring_chunk_offset(size_t count, int nranks, int c)
{
    size_t base = count / (size_t)nranks, rem = count % (size_t)nranks;
    return (size_t)c * base + ((size_t)c < rem ? (size_t)c : rem);
}

static inline int rz_ring_rs_send_chunk(int rank, int step, int nranks)
{
    return rz_ring_mod((long)rank - step - 1, nranks);
}

static inline int rz_ring_rs_recv_chunk(int rank, int step, int nranks)
{
    return rz_ring_mod((long)rank - step - 2, nranks);
}

static inline int rz_ring_ag_send_chunk(int rank, int step, int nranks)
{
    return rz_ring_mod((long)rank - step, nranks);
}

static inline int rz_ring_ag_recv_chunk(int rank, int step, int nranks)
{
    return rz_ring_mod((long)rank - step - 1, nranks);
}

#endif
