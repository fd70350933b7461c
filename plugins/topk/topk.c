/*
 * top-k compressor (wire id 6), ALGORITHMS.md section 1.2: keep the k
 * entries of largest |v_i|, ties to the lowest index, k = max(1,
 * floor(ratio * n)) capped at n. Wire: uint32 k, k uint32 indices
 * ascending, k fp32 values in the same order (little-endian), 4 + 8k bytes.
 *
 * Selection, not sorting: |v_i| is ranked by its bit pattern with the sign
 * cleared (monotonic for non-NaN floats), and the k-th largest such key T
 * is found by a three-pass radix select (10 + 11 + 10 bits of histogram).
 * The kept set is then every key > T plus the lowest-index keys == T, so
 * one ascending pass emits the indices already sorted.
 *
 * For small k/n a strided sample of the keys first gives a threshold t
 * that, with overwhelming probability, a little more than k keys reach;
 * one pass then copies only those candidates (a vectorised compare per
 * strip, a branch-free copy of the few 8-element groups with a hit), and
 * the exact select runs on the candidates alone. Whenever the sample
 * guessed wrong (too few or too many candidates, as with heavily tied
 * data) the exact three-pass select over the whole vector runs instead,
 * so the result never depends on the sample: only the speed does.
 *
 * NaN: its key is above that of +inf, so NaNs rank as the largest entries
 * (kept first, sent as they are, residual +0 there). Callers should not
 * feed NaN; nothing reads out of bounds if they do.
 */
#include "rz_codec_k.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RZ_TOPK_WIRE_ID 6u
#define RZ_TOPK_DEFAULT_RATIO 0.01
/* Below about 4 KiB a message costs its latency, not its bytes, so
 * compressing it only adds error. */
#define RZ_TOPK_MIN_COUNT 1024u

/* Sampling pays only on large inputs with a small kept fraction; the
 * sample is n / 16 keys, at most RZ_TOPK_SAMPLE_MAX. */
#define RZ_TOPK_SAMPLE_MIN_N (1u << 14)
#define RZ_TOPK_SAMPLE_MAX 8192u

#define RZ_TOPK_KEY_MASK 0x7fffffffu

/* ---------------------------------------------------------- parameters */

static rz_status_t rz_topk_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    return rz_codec_k_init(host, params, RZ_TOPK_DEFAULT_RATIO, ctx_p);
}

/* Indices are uint32 on the wire, so one message holds at most
 * UINT32_MAX elements (k <= n then fits the uint32 count too). */
static int rz_topk_count_ok(size_t n)
{
    return (uint64_t)n <= UINT32_MAX &&
           (n == 0 || (size_t)(SIZE_MAX - 4) / 8 >= n);
}

static size_t rz_topk_max_size(void *ctx, uint32_t dtype, size_t count)
{
    if (ctx == NULL || dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0 ||
        !rz_topk_count_ok(count)) {
        return 0;
    }
    return 4 + 8 * rz_codec_k_of(ctx, count);
}

static rz_status_t rz_topk_query(void *ctx, rz_compressor_info_t *info)
{
    return rz_codec_query_f32(
        ctx, info,
        RZ_COMPRESSOR_CAP_CONTRACTIVE | RZ_COMPRESSOR_CAP_IDEMPOTENT |
            RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
            RZ_COMPRESSOR_CAP_FIXED_SIZE,
        RZ_TOPK_MIN_COUNT, RZ_TOPK_WIRE_ID);
}

/* The k kept entries hold at least k/n of the energy: delta = k/n. */
static rz_status_t rz_topk_delta_bound(void *ctx, uint32_t dtype, size_t count,
                                       double *delta_p)
{
    if (ctx == NULL || delta_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    *delta_p =
        count == 0 ? 1.0 : (double)rz_codec_k_of(ctx, count) / (double)count;
    return RZ_OK;
}

/* ----------------------------------------------------------- selection */

/* Digits of the radix select: 10 + 11 + 10 bits of the 31-bit key. */
#define RZ_TOPK_DIGITS 2048u
/* Counter lanes for the dense histogram passes: with one lane, runs of
 * equal digits (tied data) serialise on one counter's store-to-load
 * latency. */
#define RZ_TOPK_LANES 4u

/* Scratch of one compress call. */
typedef struct rz_topk_work {
    uint32_t hist[RZ_TOPK_LANES][RZ_TOPK_DIGITS];
    uint32_t sample[RZ_TOPK_SAMPLE_MAX];
} rz_topk_work_t;

/* Wire writer for the kept entries, in ascending index order. */
typedef struct rz_topk_emit {
    unsigned char *idx; /* k uint32 indices */
    unsigned char *val; /* k fp32 values */
    size_t k;           /* entries to write */
    size_t n;           /* entries written so far */
} rz_topk_emit_t;

static inline uint32_t rz_topk_key(const float *v, size_t i)
{
    return rz_codec_f32_bits(v[i]) & RZ_TOPK_KEY_MASK;
}

/*
 * A key source is either the whole vector (keys == NULL: key j is |v_j|'s
 * pattern, index j) or a candidate list (keys[j] for index idx[j]). The
 * always-inlined helpers below are called with a literal NULL or not, so
 * each source gets its own specialised loop.
 */
#if defined(__GNUC__)
#define RZ_TOPK_INLINE static inline __attribute__((always_inline))
#else
#define RZ_TOPK_INLINE static inline
#endif

RZ_TOPK_INLINE uint32_t rz_topk_src_key(const uint32_t *keys, const float *v,
                                        size_t j)
{
    return keys != NULL ? keys[j] : rz_topk_key(v, j);
}

/* Histogram of the digit at @sh of the keys matching prefix/pmask,
 * branch-free over RZ_TOPK_LANES lanes, merged into hist[0]. For passes
 * where many keys match. */
RZ_TOPK_INLINE void rz_topk_hist_dense(rz_topk_work_t *w, const uint32_t *keys,
                                       const float *v, size_t m, uint32_t pmask,
                                       uint32_t prefix, unsigned sh,
                                       uint32_t dmask)
{
    uint32_t(*h)[RZ_TOPK_DIGITS] = w->hist;
    size_t i = 0;
    uint32_t b;

    for (b = 0; b < RZ_TOPK_LANES; b++) {
        memset(h[b], 0, (dmask + 1) * sizeof(uint32_t));
    }
    for (; i + 4 <= m; i += 4) {
        uint32_t k0 = rz_topk_src_key(keys, v, i);
        uint32_t k1 = rz_topk_src_key(keys, v, i + 1);
        uint32_t k2 = rz_topk_src_key(keys, v, i + 2);
        uint32_t k3 = rz_topk_src_key(keys, v, i + 3);
        h[0][(k0 >> sh) & dmask] += (k0 & pmask) == prefix;
        h[1][(k1 >> sh) & dmask] += (k1 & pmask) == prefix;
        h[2][(k2 >> sh) & dmask] += (k2 & pmask) == prefix;
        h[3][(k3 >> sh) & dmask] += (k3 & pmask) == prefix;
    }
    for (; i < m; i++) {
        uint32_t k0 = rz_topk_src_key(keys, v, i);
        h[0][(k0 >> sh) & dmask] += (k0 & pmask) == prefix;
    }
    for (b = 0; b <= dmask; b++) {
        h[0][b] += h[1][b] + h[2][b] + h[3][b];
    }
}

/* The same for passes where few keys match (a well-predicted branch),
 * and for short sources. */
RZ_TOPK_INLINE void rz_topk_hist_sparse(rz_topk_work_t *w, const uint32_t *keys,
                                        const float *v, size_t m,
                                        uint32_t pmask, uint32_t prefix,
                                        unsigned sh, uint32_t dmask)
{
    uint32_t *h = w->hist[0];
    size_t i;

    memset(h, 0, (dmask + 1) * sizeof(uint32_t));
    for (i = 0; i < m; i++) {
        uint32_t key = rz_topk_src_key(keys, v, i);
        if ((key & pmask) == prefix) {
            h[(key >> sh) & dmask]++;
        }
    }
}

/*
 * Radix select: the r-th largest (1 <= r <= m) of the m keys of a source.
 * Returns the key in *t_p, how many keys are strictly larger in *above_p
 * and how many are >= it in *ge_p. Each pass narrows the prefix by one
 * digit, keeping above < r <= above + (keys matching the prefix).
 */
RZ_TOPK_INLINE void rz_topk_select(rz_topk_work_t *w, const uint32_t *keys,
                                   const float *v, size_t m, size_t r,
                                   uint32_t *t_p, size_t *above_p, size_t *ge_p)
{
    static const unsigned shift[3] = {21, 10, 0};
    static const unsigned width[3] = {10, 11, 10};
    uint32_t prefix = 0, pmask = 0, b, dmask;
    size_t above = 0, match = m, cum;
    unsigned p, sh;

    for (p = 0; p < 3; p++) {
        sh = shift[p];
        dmask = (1u << width[p]) - 1;
        if (m >= 4096 && match >= m / 16) {
            rz_topk_hist_dense(w, keys, v, m, pmask, prefix, sh, dmask);
        } else {
            rz_topk_hist_sparse(w, keys, v, m, pmask, prefix, sh, dmask);
        }
        /* Walk down from the largest digit to the bucket holding the
         * r-th largest key; the invariant says it exists. */
        cum = above;
        b = dmask;
        while (cum + w->hist[0][b] < r) {
            cum += w->hist[0][b];
            b--;
        }
        above = cum;
        match = w->hist[0][b];
        prefix |= b << sh;
        pmask |= dmask << sh;
    }
    *t_p = prefix;
    *above_p = above;
    *ge_p = above + match;
}

/*
 * Emit the kept entries of a source in ascending index order: every key
 * > t, and the first @ties keys == t; stops after e->k entries. @dense
 * picks a branch-free loop (every slot up to e->k is written, the count
 * advances on a take) for sources where keys >= t are common, so that
 * their random pattern costs no mispredictions.
 */
RZ_TOPK_INLINE void rz_topk_emit(const uint32_t *keys, const uint32_t *idx,
                                 const float *v, size_t m, uint32_t t,
                                 size_t ties, int dense, rz_topk_emit_t *e)
{
    size_t j;

    if (dense) {
        for (j = 0; j < m && e->n < e->k; j++) {
            uint32_t key = rz_topk_src_key(keys, v, j);
            size_t i = keys != NULL ? idx[j] : j;
            size_t eq = key == t;
            size_t take = (size_t)(key > t) | (eq & (ties != 0));
            rz_codec_store_u32(e->idx + 4 * e->n, (uint32_t)i);
            rz_codec_store_f32(e->val + 4 * e->n, v[i]);
            ties -= eq & take;
            e->n += take;
        }
    } else {
        for (j = 0; j < m && e->n < e->k; j++) {
            uint32_t key = rz_topk_src_key(keys, v, j);
            size_t i = keys != NULL ? idx[j] : j;
            if (key < t) {
                continue;
            }
            if (key == t) {
                if (ties == 0) {
                    continue;
                }
                ties--;
            }
            rz_codec_store_u32(e->idx + 4 * e->n, (uint32_t)i);
            rz_codec_store_f32(e->val + 4 * e->n, v[i]);
            e->n++;
        }
    }
}

/* Exact path: three select passes and one emit pass over all of v. */
static void rz_topk_select_full(rz_topk_work_t *w, const float *v, size_t n,
                                rz_topk_emit_t *e)
{
    uint32_t t;
    size_t above, ge;

    rz_topk_select(w, NULL, v, n, e->k, &t, &above, &ge);
    rz_topk_emit(NULL, NULL, v, n, t, e->k - above, ge >= n / 8, e);
}

/* Candidate filter: flags for a strip of keys in one vectorised loop, then
 * a branch-free copy of only the 8-element groups with a flag set. */
#define RZ_TOPK_STRIP 512u
#define RZ_TOPK_GROUP 8u

/*
 * Sampled path: returns 0 when it emitted the k entries, -1 when the
 * sample's threshold missed (or memory ran out) and the exact path must
 * run; nothing has been emitted then.
 */
static int rz_topk_select_sampled(rz_topk_work_t *w, const float *v, size_t n,
                                  rz_topk_emit_t *e)
{
    const size_t k = e->k;
    size_t s = n / 16 < RZ_TOPK_SAMPLE_MAX ? n / 16 : RZ_TOPK_SAMPLE_MAX;
    size_t stride = n / s, r, cap, c = 0, i0, i, j, g, above, ge;
    double mu, rr, est;
    uint32_t *ckeys, *cidx, t, tt;
    int32_t ts;
    unsigned char f[RZ_TOPK_STRIP];

    /* Aim the sample rank a few standard deviations above its mean so
     * that at least k keys reach t; cap the candidates a few deviations
     * above what that rank predicts. */
    mu = (double)s * (double)k / (double)n;
    rr = ceil(mu + 4.0 * sqrt(mu) + 4.0);
    est = (double)n * (rr + 4.0 * sqrt(rr) + 8.0) / (double)s + 1024.0;
    if (rr > (double)s || est > (double)n / 8) {
        return -1;
    }
    r = (size_t)rr;
    cap = (size_t)est;

    for (j = 0; j < s; j++) {
        w->sample[j] = rz_topk_key(v, j * stride + stride / 2);
    }
    rz_topk_select(w, w->sample, NULL, s, r, &t, &above, &ge);
    ts = (int32_t)t; /* keys are below 2^31: SSE2's signed compare fits */

    /* cap + one group: a group is copied only while c <= cap. */
    ckeys = malloc(2 * (cap + RZ_TOPK_GROUP) * sizeof(uint32_t));
    if (ckeys == NULL) {
        return -1;
    }
    cidx = ckeys + cap + RZ_TOPK_GROUP;

    for (i0 = 0; i0 < n; i0 += RZ_TOPK_STRIP) {
        size_t len = n - i0 < RZ_TOPK_STRIP ? n - i0 : RZ_TOPK_STRIP;
        if (len == RZ_TOPK_STRIP) {
            for (j = 0; j < RZ_TOPK_STRIP; j++) {
                f[j] = (int32_t)rz_topk_key(v + i0, j) >= ts;
            }
        } else {
            for (j = 0; j < len; j++) {
                f[j] = (int32_t)rz_topk_key(v + i0, j) >= ts;
            }
            memset(f + len, 0, RZ_TOPK_STRIP - len);
        }
        for (g = 0; g < len; g += RZ_TOPK_GROUP) {
            uint64_t word;
            memcpy(&word, f + g, sizeof(word));
            if (word == 0) {
                continue;
            }
            if (c > cap) {
                goto fail_free;
            }
            for (j = g; j < g + RZ_TOPK_GROUP; j++) {
                /* Past n (the padded last strip) f[j] is 0: copy any key. */
                i = i0 + j;
                ckeys[c] = rz_topk_key(v, i < n ? i : n - 1);
                cidx[c] = (uint32_t)i;
                c += f[j];
            }
        }
    }
    if (c < k || c > cap) {
        goto fail_free; /* t was above the k-th largest key, or too low */
    }

    /* Every key above the k-th largest is >= t, so the candidates hold
     * the whole kept set and their select gives the global threshold. */
    rz_topk_select(w, ckeys, NULL, c, k, &tt, &above, &ge);
    rz_topk_emit(ckeys, cidx, v, c, tt, k - above, 1, e);
    free(ckeys);
    return 0;

fail_free:
    free(ckeys);
    return -1;
}

/* ------------------------------------------------------------- codec */

static rz_status_t rz_topk_compress(void *ctx, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    const float *v = in;
    float *res = residual;
    rz_topk_work_t *w;
    rz_topk_emit_t e;
    size_t k, need, i;

    (void)key; /* top-k is deterministic in its input alone */
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
    if (in == NULL || out == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_topk_count_ok(count)) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    k = rz_codec_k_of(ctx, count);
    need = 4 + 8 * k;
    if (capacity < need) {
        return RZ_ERR_INVALID_PARAM;
    }

    e.idx = (unsigned char *)out + 4;
    e.val = e.idx + 4 * k;
    e.k = k;
    e.n = 0;
    rz_codec_store_u32(out, (uint32_t)k);
    if (k == count) {
        for (i = 0; i < count; i++) {
            rz_codec_store_u32(e.idx + 4 * i, (uint32_t)i);
            rz_codec_store_f32(e.val + 4 * i, v[i]);
        }
    } else {
        w = malloc(sizeof(*w));
        if (w == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        if (count < RZ_TOPK_SAMPLE_MIN_N ||
            rz_topk_select_sampled(w, v, count, &e) != 0) {
            rz_topk_select_full(w, v, count, &e);
        }
        free(w);
    }

    /* Residual: v - Dec(out) is v off the kept set (v - 0 == v bitwise,
     * -0 included) and +0 on it. The values are already on the wire, so
     * an in-place residual may now overwrite them. */
    if (res != NULL) {
        if (res != v) {
            memcpy(res, v, count * sizeof(float));
        }
        if (k == count) {
            memset(res, 0, count * sizeof(float));
        } else {
            for (i = 0; i < k; i++) {
                res[rz_codec_load_u32(e.idx + 4 * i)] = 0.0f;
            }
        }
    }
    *size_p = need;
    return RZ_OK;
}

/*
 * Decode-accumulate runs in strips: the kept entries of a strip are
 * computed first from the old y (fl(fl(beta*y) + fl(alpha*d))), then one
 * vectorised pass applies y = beta*y + alpha*0 to the whole strip, and the
 * kept results are put back. That gives the exact ABI bits everywhere
 * however dense the indices are, at the cost of a 4 KiB stack buffer.
 */
#define RZ_TOPK_DEC_STRIP 1024u

static rz_status_t rz_topk_decompress(void *ctx, const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y, size_t count,
                                      float alpha, float beta)
{
    const unsigned char *w = in, *wi, *wv;
    float *out = y;
    float kept[RZ_TOPK_DEC_STRIP];
    uint64_t kf;
    size_t j, j0, c, idx, lo, hi;

    (void)key;
    if (ctx == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        return size == 0 ? RZ_OK : RZ_ERR_MALFORMED;
    }
    if (y == NULL || (in == NULL && size != 0)) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_topk_count_ok(count)) {
        return RZ_ERR_NOT_SUPPORTED;
    }

    /* Validate everything before touching y: the k field is this
     * context's k(count) (so 1 <= k <= count), the size exactly 4 + 8k,
     * the indices strictly ascending and below count. A k from another
     * configuration is refused like any size mismatch of a FIXED_SIZE
     * codec: the bytes are inconsistent with the parameters. */
    if (size < 4) {
        return RZ_ERR_MALFORMED;
    }
    kf = rz_codec_load_u32(w);
    if (kf == 0 || kf > count || kf != rz_codec_k_of(ctx, count) ||
        (size - 4) % 8 != 0 || (size - 4) / 8 != kf) {
        return RZ_ERR_MALFORMED;
    }
    wi = w + 4;
    wv = wi + 4 * kf;
    for (j = 0; j < kf; j++) {
        idx = rz_codec_load_u32(wi + 4 * j);
        if (idx >= count ||
            (j > 0 && idx <= rz_codec_load_u32(wi + 4 * (j - 1)))) {
            return RZ_ERR_MALFORMED;
        }
    }

    if (beta == 1.0f) {
        /* y + alpha*0 == y up to the sign of a zero y (equal in section
         * 5's sense), so only the kept entries are touched. */
        for (j = 0; j < kf; j++) {
            idx = rz_codec_load_u32(wi + 4 * j);
            out[idx] = out[idx] + alpha * rz_codec_load_f32(wv + 4 * j);
        }
        return RZ_OK;
    }
    j = 0;
    for (lo = 0; lo < count; lo = hi) {
        hi = count - lo < RZ_TOPK_DEC_STRIP ? count : lo + RZ_TOPK_DEC_STRIP;
        for (j0 = j, c = 0;
             j < kf && (idx = rz_codec_load_u32(wi + 4 * j)) < hi; j++) {
            kept[c++] = rz_codec_k_axpby_at(
                out, idx, rz_codec_load_f32(wv + 4 * j), alpha, beta);
        }
        rz_codec_k_gap(out, lo, hi, alpha, beta);
        for (c = 0; j0 < j; j0++) {
            out[rz_codec_load_u32(wi + 4 * j0)] = kept[c++];
        }
    }
    return RZ_OK;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "topk",
    .description = "top-k sparsification: k largest |v_i|, "
                   "ratio=<(0,1]> (default 0.01) or k=<n>",
    .init = rz_topk_init,
    .query = rz_topk_query,
    .max_compressed_size = rz_topk_max_size,
    .compress = rz_topk_compress,
    .decompress = rz_topk_decompress,
    .finalize = rz_codec_finalize,
    .delta_bound = rz_topk_delta_bound,
};
