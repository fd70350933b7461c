/*
 * Independent references for the compressed-allreduce tests
 * (ALGORITHMS.md sections 1.2, 3 and 3.4): SplitMix64 keys, the random-k
 * mask, wire sizes per codec, chunking, chunk owners and the bytes each rank
 * sends per call. Written from the spec only; nothing here calls ringzip.
 */
#ifndef RZ_TEST_EF_REF_H
#define RZ_TEST_EF_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Topology and method values, mirrored from ringzip/ef.h so that this
 * header stays independent of it. */
enum { REF_SINGLE = 0, REF_SHARDED = 1, REF_RING = 2, REF_RING_EXACT = 3 };
enum { REF_NONE = 0, REF_EF = 1, REF_SAEF = 2, REF_LIEC = 3 };

/* ---- SplitMix64 and keys (section 1.2 note 6) ---- */
static inline uint64_t ref_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t ref_key4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return ref_mix64(ref_mix64(ref_mix64(ref_mix64(a) ^ b) ^ c) ^ d);
}

/* key(seed, 5, t, chunk): the random-k mask key. */
static inline uint64_t ref_randk_key(uint64_t seed, uint64_t t, uint64_t chunk)
{
    return ref_key4(seed, 5, t, chunk);
}

/* on[i] = 1 for the k mask positions of n elements, else 0. */
static inline void ref_randk_mask(uint64_t kappa, size_t n, size_t k,
                                  unsigned char *on)
{
    size_t *p = malloc((n ? n : 1) * sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i] = i;
        on[i] = 0;
    }
    for (size_t i = 0; i < k && i < n; i++) {
        size_t j = i + (size_t)(ref_mix64(kappa + (uint64_t)i) %
                                (uint64_t)(n - i));
        size_t tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
    }
    for (size_t i = 0; i < k && i < n; i++) {
        on[p[i]] = 1;
    }
    free(p);
}

/* ---- codecs: kind, parameters, k, wire bytes ---- */
typedef enum {
    REF_C_NONE = 0,
    REF_C_SIGN,
    REF_C_BLOCKSIGN,
    REF_C_TOPK,
    REF_C_RANDK,
    REF_C_FP16
} ref_codec_kind_t;

typedef struct {
    ref_codec_kind_t kind;
    size_t block;   /* blocksign L */
    double ratio;   /* topk/randk rho */
} ref_codec_t;

/* Parses the specs the tests use; returns 0 on success. NULL = "none". */
static inline int ref_codec_parse(const char *spec, ref_codec_t *c)
{
    memset(c, 0, sizeof(*c));
    if (spec == NULL || strcmp(spec, "none") == 0) {
        c->kind = REF_C_NONE;
        return 0;
    }
    if (strcmp(spec, "sign") == 0) {
        c->kind = REF_C_SIGN;
        return 0;
    }
    if (strcmp(spec, "fp16") == 0) {
        c->kind = REF_C_FP16;
        return 0;
    }
    if (strncmp(spec, "blocksign", 9) == 0) {
        c->kind = REF_C_BLOCKSIGN;
        c->block = 256;
        if (strncmp(spec, "blocksign:block=", 16) == 0) {
            c->block = (size_t)strtoull(spec + 16, NULL, 10);
        }
        return c->block ? 0 : -1;
    }
    if (strncmp(spec, "topk", 4) == 0 || strncmp(spec, "randk", 5) == 0) {
        c->kind = spec[0] == 't' ? REF_C_TOPK : REF_C_RANDK;
        c->ratio = 0.01;
        const char *col = strchr(spec, ':');
        if (col && strncmp(col, ":ratio=", 7) == 0) {
            c->ratio = strtod(col + 7, NULL);
        }
        return c->ratio > 0 && c->ratio <= 1 ? 0 : -1;
    }
    return -1;
}

/* k = max(1, floor(rho * n)) in double, capped at n (n >= 1). */
static inline size_t ref_codec_k(const ref_codec_t *c, size_t n)
{
    double x = c->ratio * (double)n;
    size_t k = (size_t)floor(x);
    if (k < 1) {
        k = 1;
    }
    if (k > n) {
        k = n;
    }
    return k;
}

/* Exact wire bytes for n elements (section 1.2); 0 for n = 0. */
static inline uint64_t ref_codec_bytes(const ref_codec_t *c, size_t n)
{
    if (n == 0) {
        return 0;
    }
    switch (c->kind) {
    case REF_C_NONE:      return 4ull * n;
    case REF_C_SIGN:      return (n + 7) / 8 + 4;
    case REF_C_BLOCKSIGN: return (n + 7) / 8 + 4ull * ((n + c->block - 1) / c->block);
    case REF_C_TOPK:      return 4 + 8ull * ref_codec_k(c, n);
    case REF_C_RANDK:     return 4ull * ref_codec_k(c, n);
    case REF_C_FP16:      return 2ull * n;
    }
    return 0;
}

/* ---- chunks (section 3) ---- */
static inline size_t ref_chunk_n(size_t d, int K, int c)
{
    return d / (size_t)K + ((size_t)c < d % (size_t)K ? 1 : 0);
}

static inline size_t ref_chunk_off(size_t d, int K, int c)
{
    size_t q = d / (size_t)K, r = d % (size_t)K;
    return (size_t)c * q + ((size_t)c < r ? (size_t)c : r);
}

static inline int ref_mod(int a, int K)
{
    return ((a % K) + K) % K;
}

/* The chunk rank i owns as a server (sharded: i; ring: i + 1). */
static inline int ref_own_chunk(int topo, int i, int K)
{
    return topo == REF_SHARDED ? i : ref_mod(i + 1, K);
}

/* The owner of chunk c (sharded: c; ring: c - 1). */
static inline int ref_chunk_owner(int topo, int c, int K)
{
    return topo == REF_SHARDED ? c : ref_mod(c - 1, K);
}

/* ---- bytes sent by rank i per call (section 3.4) ---- */
static inline uint64_t ref_bytes_exchange(int topo, int aligned, int server,
                                          const ref_codec_t *cw,
                                          const ref_codec_t *cs, size_t d,
                                          int K, int i)
{
    uint64_t b = 0;
    if (K == 1) {
        return 0;
    }
    switch (topo) {
    case REF_SINGLE:
        if (!aligned) {
            return i == server ? (uint64_t)(K - 1) * ref_codec_bytes(cs, d)
                               : ref_codec_bytes(cw, d);
        }
        for (int j = 0; j < K; j++) {
            b += i == server ? (uint64_t)(K - 1) *
                                   ref_codec_bytes(cs, ref_chunk_n(d, K, j))
                             : ref_codec_bytes(cw, ref_chunk_n(d, K, j));
        }
        return b;
    case REF_SHARDED:
        for (int j = 0; j < K; j++) {
            if (j != i) {
                b += ref_codec_bytes(cw, ref_chunk_n(d, K, j));
            }
        }
        return b + (uint64_t)(K - 1) * ref_codec_bytes(cs, ref_chunk_n(d, K, i));
    case REF_RING:
        for (int j = 0; j < K; j++) {
            if (j != ref_mod(i + 1, K)) {
                b += ref_codec_bytes(cw, ref_chunk_n(d, K, j));
            }
            if (j != ref_mod(i + 2, K)) {
                b += ref_codec_bytes(cs, ref_chunk_n(d, K, j));
            }
        }
        return b;
    case REF_RING_EXACT:
        for (int h = 0; h <= K - 2; h++) {
            b += (uint64_t)(h + 1) *
                 ref_codec_bytes(cw, ref_chunk_n(d, K, ref_mod(i - h, K)));
        }
        for (int j = 0; j < K; j++) {
            if (j != ref_mod(i + 2, K)) {
                b += ref_codec_bytes(cs, ref_chunk_n(d, K, j));
            }
        }
        return b;
    }
    return 0;
}

/* The fp32 allreduce: 4(d - n_{i+1}) + 4(d - n_{i+2}). */
static inline uint64_t ref_bytes_allreduce(size_t d, int K, int i)
{
    if (K == 1) {
        return 0;
    }
    return 4ull * (d - ref_chunk_n(d, K, ref_mod(i + 1, K))) +
           4ull * (d - ref_chunk_n(d, K, ref_mod(i + 2, K)));
}

/* LIEC sync: the gradient reduce and the distribution of v. */
static inline uint64_t ref_bytes_liec_gv(int topo, int server, size_t d, int K,
                                         int i)
{
    if (K == 1) {
        return 0;
    }
    switch (topo) {
    case REF_SINGLE:
        return i == server ? (uint64_t)(K - 1) * 4ull * d : 4ull * d;
    case REF_SHARDED: {
        size_t ni = ref_chunk_n(d, K, i);
        return 4ull * (d - ni) + 4ull * (uint64_t)(K - 1) * ni;
    }
    default:
        return ref_bytes_allreduce(d, K, i);
    }
}

#endif
