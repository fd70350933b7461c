/*
 * random-k compressor (wire id 7), ALGORITHMS.md section 1.2: keep the
 * entries at k mask positions, unscaled, zero the rest; k as for top-k.
 * The mask is the normative one of note 6, a function of (seed, iteration,
 * chunk) only, so every rank, every ring hop and the decoder draw the same
 * one; the wire carries just the k fp32 values in ascending index order
 * (4k bytes) and the decoder recomputes the mask from the key.
 *
 * mask(kappa, n, k) is a partial Fisher-Yates shuffle of P = [0, n):
 * step i swaps P[i] with P[i + mix64(kappa + i) mod (n - i)]. Only the
 * positions a swap has displaced differ from the identity, so a small
 * open-addressing map of those positions stands in for P and the mask
 * costs O(k) memory even when n is 2^26 and k a few hundred; when n is
 * itself of the order of k a plain array is faster and no larger. The k
 * positions are then radix-sorted (or, with the array, read back in order
 * from a byte map of the drawn values).
 *
 * No n/k rescaling, so the codec is biased (E[C(v)] = (k/n) v) and
 * contracts only in expectation; what holds per call is linearity under
 * the shared mask, which lets compressed vectors be summed directly.
 */
#include "rz_codec_k.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RZ_RANDK_WIRE_ID 7u
#define RZ_RANDK_DEFAULT_RATIO 0.01
/* Below about 4 KiB a message costs its latency, not its bytes, so
 * compressing it only adds error. */
#define RZ_RANDK_MIN_COUNT 1024u

/* STYLE rule 5; plugins do not see lib/util/rz_compiler.h. */
#define RZ_RANDK_CHECK_GOTO(call, label, status)                               \
    do {                                                                       \
        (status) = (call);                                                     \
        if ((status) < 0) {                                                    \
            goto label;                                                        \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------- parameters */

static rz_status_t rz_randk_init(const rz_compressor_host_t *host,
                                 const char *params, void **ctx_p)
{
    return rz_codec_k_init(host, params, RZ_RANDK_DEFAULT_RATIO, ctx_p);
}

/* Mask positions are held as uint32 (half the memory and sort passes of
 * uint64), so one message holds at most UINT32_MAX elements. */
static int rz_randk_count_ok(size_t n)
{
    return (uint64_t)n <= UINT32_MAX && (n == 0 || (size_t)(SIZE_MAX / 8) >= n);
}

static size_t rz_randk_max_size(void *ctx, uint32_t dtype, size_t count)
{
    if (ctx == NULL || dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0 ||
        !rz_randk_count_ok(count)) {
        return 0;
    }
    return 4 * rz_codec_k_of(ctx, count);
}

static rz_status_t rz_randk_query(void *ctx, rz_compressor_info_t *info)
{
    /* Not CONTRACTIVE (only in expectation) and not UNBIASED (no n/k
     * rescaling). */
    return rz_codec_query_f32(
        ctx, info,
        RZ_COMPRESSOR_CAP_LINEAR | RZ_COMPRESSOR_CAP_IDEMPOTENT |
            RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
            RZ_COMPRESSOR_CAP_FIXED_SIZE,
        RZ_RANDK_MIN_COUNT, RZ_RANDK_WIRE_ID);
}

/* ---------------------------------------------------------------- mask */

/* One displaced position of the sparse P: pos1 = position + 1 (0 marks an
 * empty slot), val = P[position]. */
typedef struct rz_randk_slot {
    uint32_t pos1;
    uint32_t val;
} rz_randk_slot_t;

static inline size_t rz_randk_hash(uint32_t pos, unsigned bits)
{
    return (size_t)(((uint64_t)pos * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* Sort the k mask positions ascending: LSD radix, 11-bit digits, only as
 * many passes as n - 1 has digits. @tmp holds k more uint32. */
static void rz_randk_sort(uint32_t *m, uint32_t *tmp, size_t k, size_t n)
{
    uint32_t cnt[1u << 11];
    uint32_t *src = m, *dst = tmp, *sw;
    unsigned sh;
    size_t i;

    if (k <= 32) {
        for (i = 1; i < k; i++) {
            uint32_t x = m[i];
            size_t j = i;
            for (; j > 0 && m[j - 1] > x; j--) {
                m[j] = m[j - 1];
            }
            m[j] = x;
        }
        return;
    }
    for (sh = 0; sh < 32 && ((uint64_t)(n - 1) >> sh) != 0; sh += 11) {
        uint32_t sum = 0;
        memset(cnt, 0, sizeof(cnt));
        for (i = 0; i < k; i++) {
            cnt[(src[i] >> sh) & 0x7ff]++;
        }
        for (i = 0; i < (1u << 11); i++) {
            uint32_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < k; i++) {
            dst[cnt[(src[i] >> sh) & 0x7ff]++] = src[i];
        }
        sw = src;
        src = dst;
        dst = sw;
    }
    if (src != m) {
        memcpy(m, src, k * sizeof(uint32_t));
    }
}

/*
 * The swap target of step i depends on (kappa, n, i) only, not on P, so
 * the targets are drawn RZ_RANDK_AHEAD steps early and their memory is
 * prefetched: with n in the millions P (or the map) is far out of cache
 * and each step would otherwise wait for one miss after another.
 */
#define RZ_RANDK_AHEAD 16u
#if defined(__GNUC__)
#define RZ_RANDK_PREFETCH(p) __builtin_prefetch((p), 1)
#else
#define RZ_RANDK_PREFETCH(p) ((void)(p))
#endif

typedef struct rz_randk_draws {
    uint64_t kappa;
    size_t n, k;
    size_t j[RZ_RANDK_AHEAD]; /* j[i % AHEAD]: target of step i */
} rz_randk_draws_t;

/* j = i + (mix64(kappa + i) mod (n - i)), note 6. */
static inline size_t rz_randk_draw(uint64_t kappa, size_t n, size_t i)
{
    return i + (size_t)(rz_codec_mix64(kappa + i) % (uint64_t)(n - i));
}

static void rz_randk_draws_init(rz_randk_draws_t *q, uint64_t kappa, size_t n,
                                size_t k)
{
    size_t i;

    q->kappa = kappa;
    q->n = n;
    q->k = k;
    for (i = 0; i < RZ_RANDK_AHEAD && i < k; i++) {
        q->j[i] = rz_randk_draw(kappa, n, i);
    }
}

/* Target of step i; *ahead_p gets that of step i + AHEAD (or j again past
 * the end), to prefetch. */
static inline size_t rz_randk_draws_next(rz_randk_draws_t *q, size_t i,
                                         size_t *ahead_p)
{
    size_t slot = i % RZ_RANDK_AHEAD, j = q->j[slot];

    *ahead_p = j;
    if (i + RZ_RANDK_AHEAD < q->k) {
        *ahead_p = q->j[slot] =
            rz_randk_draw(q->kappa, q->n, i + RZ_RANDK_AHEAD);
    }
    return j;
}

/* Find position @pos in the map: its slot, or the empty slot ending its
 * probe run. */
static inline size_t rz_randk_find(const rz_randk_slot_t *tab, size_t mask,
                                   unsigned bits, uint32_t pos)
{
    size_t h = rz_randk_hash(pos, bits);

    while (tab[h].pos1 != 0 && tab[h].pos1 != pos + 1) {
        h = (h + 1) & mask;
    }
    return h;
}

/*
 * mask(kappa, n, k) of note 6 into m[0..k-1], ascending. Step i fixes P[i]
 * for good (later steps only touch positions above i), so m[i] takes the
 * value swapped in and position i itself is never stored back.
 */
static rz_status_t rz_randk_mask(uint64_t kappa, size_t n, size_t k,
                                 uint32_t *m)
{
    rz_randk_draws_t q;
    size_t i, j, ahead;

    if (k == n) {
        /* Every position is drawn; the sorted set is [0, n). */
        for (i = 0; i < n; i++) {
            m[i] = (uint32_t)i;
        }
        return RZ_OK;
    }
    rz_randk_draws_init(&q, kappa, n, k);
    if (n <= 8 * k) {
        /* A dense P is no larger than the map would be, and with n that
         * close to k a byte map of the drawn values, read back in order,
         * sorts them faster than a radix sort. */
        uint32_t *p = malloc(n * sizeof(uint32_t) + n);
        unsigned char *drawn;
        size_t c;

        if (p == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        drawn = (unsigned char *)(p + n);
        for (i = 0; i < n; i++) {
            p[i] = (uint32_t)i;
        }
        memset(drawn, 0, n);
        for (i = 0; i < RZ_RANDK_AHEAD && i < k; i++) {
            RZ_RANDK_PREFETCH(&p[q.j[i]]);
        }
        for (i = 0; i < k; i++) {
            uint32_t x;
            j = rz_randk_draws_next(&q, i, &ahead);
            RZ_RANDK_PREFETCH(&p[ahead]);
            x = p[j];
            p[j] = p[i];
            drawn[x] = 1;
        }
        for (i = 0, c = 0; i < n; i++) {
            m[c] = (uint32_t)i;
            c += drawn[i];
            if (c == k) {
                break;
            }
        }
        free(p);
    } else {
        unsigned bits = 4;
        size_t mask;
        rz_randk_slot_t *tab;

        /* Load factor <= 1/2: at most k positions are ever displaced. */
        while (((size_t)1 << bits) < 2 * k) {
            bits++;
        }
        mask = ((size_t)1 << bits) - 1;
        tab = calloc(mask + 1, sizeof(rz_randk_slot_t));
        if (tab == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        for (i = 0; i < RZ_RANDK_AHEAD && i < k; i++) {
            RZ_RANDK_PREFETCH(&tab[rz_randk_hash((uint32_t)q.j[i], bits)]);
            RZ_RANDK_PREFETCH(&tab[rz_randk_hash((uint32_t)i, bits)]);
        }
        for (i = 0; i < k; i++) {
            uint32_t pi = (uint32_t)i, pj;
            size_t h;

            j = rz_randk_draws_next(&q, i, &ahead);
            RZ_RANDK_PREFETCH(&tab[rz_randk_hash((uint32_t)ahead, bits)]);
            RZ_RANDK_PREFETCH(
                &tab[rz_randk_hash((uint32_t)(i + RZ_RANDK_AHEAD), bits)]);
            h = rz_randk_find(tab, mask, bits, (uint32_t)i);
            if (tab[h].pos1 != 0) {
                pi = tab[h].val;
            }
            if (j == i) {
                m[i] = pi;
                continue;
            }
            /* P[j] out, P[i] in, in the same slot. */
            h = rz_randk_find(tab, mask, bits, (uint32_t)j);
            pj = tab[h].pos1 != 0 ? tab[h].val : (uint32_t)j;
            tab[h].pos1 = (uint32_t)j + 1;
            tab[h].val = pi;
            m[i] = pj;
        }
        /* The table is at least 2k uint32 pairs: scratch for the sort. */
        rz_randk_sort(m, (uint32_t *)tab, k, n);
        free(tab);
    }
    return RZ_OK;
}

/* The mask for this call: kappa = key(seed, 5, t, c). m holds k uint32. */
static rz_status_t rz_randk_mask_for(const rz_compressor_key_t *key, size_t n,
                                     size_t k, uint32_t *m)
{
    return rz_randk_mask(rz_codec_key4(key->seed, RZ_CODEC_STREAM_RANDK,
                                       key->iteration, key->chunk),
                         n, k, m);
}

/* ------------------------------------------------------------- codec */

static rz_status_t rz_randk_compress(void *ctx, const rz_compressor_key_t *key,
                                     uint32_t dtype, const void *in,
                                     size_t count, void *out, size_t capacity,
                                     size_t *size_p, void *residual)
{
    const float *v = in;
    float *res = residual;
    unsigned char *w = out;
    uint32_t *m;
    size_t k, i;
    rz_status_t status;

    if (ctx == NULL || size_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        *size_p = 0;
        return RZ_OK;
    }
    if (in == NULL || out == NULL || key == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_randk_count_ok(count)) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    k = rz_codec_k_of(ctx, count);
    if (capacity < 4 * k) {
        return RZ_ERR_INVALID_PARAM;
    }

    m = malloc(k * sizeof(uint32_t));
    if (m == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    RZ_RANDK_CHECK_GOTO(rz_randk_mask_for(key, count, k, m), out_free_mask,
                        status);
    for (i = 0; i < k; i++) {
        rz_codec_store_f32(w + 4 * i, v[m[i]]);
    }
    /* Residual: v off the mask (v - 0 == v bitwise, -0 included), +0 on
     * it; the values are on the wire before an in-place residual
     * overwrites them. */
    if (res != NULL) {
        if (res != v) {
            memcpy(res, v, count * sizeof(float));
        }
        for (i = 0; i < k; i++) {
            res[m[i]] = 0.0f;
        }
    }
    *size_p = 4 * k;

out_free_mask:
    free(m);
    return status;
}

/*
 * Decode-accumulate runs in strips: the masked entries of a strip are
 * computed first from the old y (fl(fl(beta*y) + fl(alpha*d))), then one
 * vectorised pass applies y = beta*y + alpha*0 to the whole strip, and the
 * masked results are put back. That gives the exact ABI bits everywhere
 * however dense the mask is, at the cost of a 4 KiB stack buffer.
 */
#define RZ_RANDK_DEC_STRIP 1024u

static rz_status_t rz_randk_decompress(void *ctx,
                                       const rz_compressor_key_t *key,
                                       uint32_t dtype, const void *in,
                                       size_t size, void *y, size_t count,
                                       float alpha, float beta)
{
    const unsigned char *w = in;
    float *out = y;
    float kept[RZ_RANDK_DEC_STRIP];
    uint32_t *m;
    size_t k, j, j0, c, lo, hi;
    rz_status_t status;

    if (ctx == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        return size == 0 ? RZ_OK : RZ_ERR_MALFORMED;
    }
    if (y == NULL || key == NULL || (in == NULL && size != 0)) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_randk_count_ok(count)) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    /* The mask is implicit: the only thing to validate is the size. */
    k = rz_codec_k_of(ctx, count);
    if (size != 4 * k) {
        return RZ_ERR_MALFORMED;
    }

    m = malloc(k * sizeof(uint32_t));
    if (m == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    RZ_RANDK_CHECK_GOTO(rz_randk_mask_for(key, count, k, m), out_free_mask,
                        status);
    if (beta == 1.0f) {
        /* y + alpha*0 == y up to the sign of a zero y (equal in section
         * 5's sense), so only the masked entries are touched. */
        for (j = 0; j < k; j++) {
            out[m[j]] = out[m[j]] + alpha * rz_codec_load_f32(w + 4 * j);
        }
        goto out_free_mask;
    }
    j = 0;
    for (lo = 0; lo < count; lo = hi) {
        hi = count - lo < RZ_RANDK_DEC_STRIP ? count : lo + RZ_RANDK_DEC_STRIP;
        for (j0 = j, c = 0; j < k && m[j] < hi; j++) {
            kept[c++] = rz_codec_k_axpby_at(
                out, m[j], rz_codec_load_f32(w + 4 * j), alpha, beta);
        }
        rz_codec_k_gap(out, lo, hi, alpha, beta);
        for (c = 0; j0 < j; j0++) {
            out[m[j0]] = kept[c++];
        }
    }

out_free_mask:
    free(m);
    return status;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "randk",
    .description = "random-k sparsification with a shared mask: "
                   "ratio=<(0,1]> (default 0.01) or k=<n>",
    .init = rz_randk_init,
    .query = rz_randk_query,
    .max_compressed_size = rz_randk_max_size,
    .compress = rz_randk_compress,
    .decompress = rz_randk_decompress,
    .finalize = rz_codec_finalize,
    .delta_bound = NULL,
};
