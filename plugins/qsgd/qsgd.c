/*
 * qsgd: stochastic s-level quantisation with per-bucket L2 norms (Alistarh
 * et al. 2017; ALGORITHMS.md section 1.2), wire id 8. README.md beside this
 * file is the normative description; in short, per element i of bucket b:
 *
 *   norm_b = fp32(sqrt(T_b)), T_b the eight-lane double sum of squares
 *   t_i    = min(double(|v_i|) * fl64(s / norm_b), s)         (in double)
 *   l_i    = floor(t_i),  f_i = t_i - l_i
 *   u_i    = (mix64(base + i) >> 11) * 2^-53,  base = key(seed, 6, t, c, rank)
 *   xi_i   = l_i + (u_i < f_i)                                 (0..s)
 *   Dec_i  = fl(norm_b * fl(xi_i / s)), negated where the sign bit is set,
 *            then + 0.0f so that every zero is +0
 *
 * Wire: ceil(n/b) fp32 norms, then n fields of w = 1 + ceil(log2(s+1)) bits
 * (bit 0 the sign, bits 1.. the level), LSB first, high pad bits zero.
 */
#include "rz_codec_util.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(RZ_QSGD_NO_SIMD)
#include <emmintrin.h>
#define RZ_QSGD_SSE2 1
#else
#define RZ_QSGD_SSE2 0
#endif

#define RZ_QSGD_WIRE_ID 8u

/* Defaults and limits of the two parameters (README.md). 15 levels is the
 * largest s whose field is 5 bits wide (s = 16 would need 6); 512 is the
 * bucket of the QSGD paper and of CGX. 65535 levels keep a field within
 * 17 bits, and every level and s exact in fp32. */
#define RZ_QSGD_LEVELS_DEFAULT 15u
#define RZ_QSGD_LEVELS_MAX     65535u
#define RZ_QSGD_BUCKET_DEFAULT 512u
#define RZ_QSGD_BUCKET_MAX     (1u << 30)

/* Below this many elements the per-element randomness and the norms do
 * not pay against a message's fixed cost; a hint only. */
#define RZ_QSGD_MIN_COUNT 1024u

/* Fields are staged in blocks of this many (a multiple of 8, so that every
 * block starts on a byte boundary: 8 fields of w bits are exactly w
 * bytes). */
#define RZ_QSGD_BLOCK 1024u

#define RZ_QSGD_CAPS                                                        \
    (RZ_COMPRESSOR_CAP_UNBIASED | RZ_COMPRESSOR_CAP_DETERMINISTIC |         \
     RZ_COMPRESSOR_CAP_FIXED_SIZE)

#define RZ_QSGD_INFO_FITS(info, member)                                     \
    (offsetof(rz_compressor_info_t, member) + sizeof((info)->member) <=     \
     (info)->struct_size)

#if defined(__GNUC__)
#define RZ_QSGD_INLINE static inline __attribute__((always_inline))
#else
#define RZ_QSGD_INLINE static inline
#endif

typedef struct rz_qsgd_ctx {
    const rz_compressor_host_t *host;
    uint32_t levels;    /* s */
    uint32_t width;     /* w = 1 + ceil(log2(s + 1)) bits per field */
    size_t   bucket;    /* b */
    int      full;      /* s + 1 == 2^(w-1): every field is a valid level */
} rz_qsgd_ctx_t;

/* ------------------------------------------------------------ the sizes */

/* 4 * ceil(n/b) + ceil(n*w/8), computed without forming n*w (8 fields are
 * exactly w bytes); -1 when size_t overflows, which no buffer can hold. */
static int rz_qsgd_wire_size(const rz_qsgd_ctx_t *ctx, size_t n,
                             size_t *size_p)
{
    size_t nb = n / ctx->bucket + (n % ctx->bucket != 0);
    size_t w = ctx->width;
    size_t bits = (n / 8) * w + ((n % 8) * w + 7) / 8;

    if (n / 8 > SIZE_MAX / w || nb > (SIZE_MAX - bits) / 4) {
        return -1;
    }
    *size_p = 4 * nb + bits;
    return 0;
}

/* ------------------------------------------------------------ the norm */

/*
 * T = ((L0 + L1) + (L2 + L3)) + ((L4 + L5) + (L6 + L7)) where lane
 * (j mod 8) adds double(v_j)^2 for j = 0, 1, ... from the bucket's first
 * element, each square exact in double (the shape of ALGORITHMS.md 1.2
 * note 3, with squares for magnitudes). The SSE2 loop keeps the lanes in
 * four two-wide vectors and adds to each lane in index order, so both
 * paths give the same bits. Returns sqrt(T), or +inf/NaN for a bucket
 * holding inf or NaN (finite squares cannot overflow a double sum of
 * fewer than 2^30 terms).
 */
static double rz_qsgd_norm2(const float *v, size_t n)
{
    double lane[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    double t;

#if RZ_QSGD_SSE2
    {
        __m128d l01 = _mm_setzero_pd(), l23 = _mm_setzero_pd();
        __m128d l45 = _mm_setzero_pd(), l67 = _mm_setzero_pd();

        for (; i + 8 <= n; i += 8) {
            __m128 x0 = _mm_loadu_ps(v + i);
            __m128 x1 = _mm_loadu_ps(v + i + 4);
            __m128d d01 = _mm_cvtps_pd(x0);
            __m128d d23 = _mm_cvtps_pd(_mm_movehl_ps(x0, x0));
            __m128d d45 = _mm_cvtps_pd(x1);
            __m128d d67 = _mm_cvtps_pd(_mm_movehl_ps(x1, x1));

            l01 = _mm_add_pd(l01, _mm_mul_pd(d01, d01));
            l23 = _mm_add_pd(l23, _mm_mul_pd(d23, d23));
            l45 = _mm_add_pd(l45, _mm_mul_pd(d45, d45));
            l67 = _mm_add_pd(l67, _mm_mul_pd(d67, d67));
        }
        _mm_storeu_pd(lane + 0, l01);
        _mm_storeu_pd(lane + 2, l23);
        _mm_storeu_pd(lane + 4, l45);
        _mm_storeu_pd(lane + 6, l67);
    }
#endif
    /* The scalar path and the tail: i is a multiple of 8 here. */
    for (; i < n; i++) {
        double x = (double)v[i];
        lane[i & 7] += x * x;
    }
    t = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
        ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    return sqrt(t);
}

/* A norm a decoder accepts: finite with the sign bit clear (+0 included).
 * The encoder's lanes start at +0.0 and add squares, so it produces
 * nothing else. */
static inline int rz_qsgd_norm_valid(uint32_t bits)
{
    return bits < 0x7F800000u;
}

/* ------------------------------------------------------------ one value */

/*
 * The decoded value of a field: fl(norm * fl(xi / s)), negated when the
 * sign bit is set, plus +0.0f, which leaves every nonzero value alone and
 * turns -0 into +0 (xi = 0, or a product that underflows). The encoder's
 * residual and the decoder both come here, so they agree bitwise.
 * xi <= s <= 65535 converts exactly through int32 (cvtdq2ps).
 */
RZ_QSGD_INLINE float rz_qsgd_value(float norm, float sf, uint32_t field)
{
    float g = (float)(int32_t)(field >> 1) / sf;
    float m = norm * g;

    return (field & 1u ? -m : m) + 0.0f;
}

#if RZ_QSGD_SSE2
/* Four values at once, the same operations lane by lane (negation is a
 * sign-bit flip, exactly what -m is). */
RZ_QSGD_INLINE __m128 rz_qsgd_value4(__m128 norm, __m128 sf,
                                     const uint32_t *field)
{
    __m128i fv = _mm_loadu_si128((const __m128i *)field);
    __m128 g = _mm_div_ps(_mm_cvtepi32_ps(_mm_srli_epi32(fv, 1)), sf);
    __m128i neg = _mm_slli_epi32(fv, 31);

    return _mm_add_ps(_mm_xor_ps(_mm_mul_ps(norm, g), _mm_castsi128_ps(neg)),
                      _mm_setzero_ps());
}
#endif

/* ------------------------------------------------------------- encoding */

/* The integer k_i = mix64(base + i) >> 11 of u_i = k_i * 2^-53, as a
 * double (exact: k_i < 2^53). */
RZ_QSGD_INLINE double rz_qsgd_draw(uint64_t base, size_t i)
{
    return (double)(int64_t)(rz_codec_mix64(base + (uint64_t)i) >> 11);
}

/* One field. u < frac is tested as k < frac * 2^53, the same comparison
 * (both sides scaled by a power of two, exactly). */
RZ_QSGD_INLINE uint32_t rz_qsgd_field(float x, double q, double sd, double k)
{
    double t = (double)fabsf(x) * q;
    int32_t l;
    uint32_t xi, neg;

    /* |v_i| <= norm, but q is rounded: t may pass s by an ulp. */
    t = t < sd ? t : sd;
    l = (int32_t)t;                             /* t >= 0: trunc = floor */
    xi = (uint32_t)l + (k < (t - (double)l) * 0x1p53);  /* t - l exact */
    /* v < 0, not the sign bit: -0 is "+"; level 0 is sent as "+". */
    neg = (uint32_t)(x < 0.0f) & (uint32_t)(xi != 0);
    return xi << 1 | neg;
}

/*
 * Elements [i0, i1) of one bucket with norm > 0: their fields into
 * f[0..i1-i0). q = fl64(s / norm). base + i is the counter of element i,
 * i counting from the start of the encoded vector. The draws are scalar
 * (64-bit multiplies); the SSE2 body does the rest four elements at a
 * time, the same operations as rz_qsgd_field. The residual is a separate
 * vector loop over the fields (rz_qsgd_residual).
 */
static void rz_qsgd_quantize(const float *v, size_t i0, size_t i1, double q,
                             uint32_t s, uint64_t base, uint32_t *f)
{
    const double sd = (double)s;
    size_t i = i0;

#if RZ_QSGD_SSE2
    const __m128 absm = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
    const __m128d qv = _mm_set1_pd(q), sv = _mm_set1_pd(sd);
    const __m128d two53 = _mm_set1_pd(0x1p53);

    for (; i + 4 <= i1; i += 4) {
        __m128d k01 = _mm_set_pd(rz_qsgd_draw(base, i + 1),
                                 rz_qsgd_draw(base, i));
        __m128d k23 = _mm_set_pd(rz_qsgd_draw(base, i + 3),
                                 rz_qsgd_draw(base, i + 2));
        __m128 x = _mm_loadu_ps(v + i);
        __m128 ax = _mm_and_ps(x, absm);
        __m128d t01 = _mm_min_pd(_mm_mul_pd(_mm_cvtps_pd(ax), qv), sv);
        __m128d t23 = _mm_min_pd(
            _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(ax, ax)), qv), sv);
        __m128i l01 = _mm_cvttpd_epi32(t01), l23 = _mm_cvttpd_epi32(t23);
        __m128d f01 = _mm_mul_pd(_mm_sub_pd(t01, _mm_cvtepi32_pd(l01)), two53);
        __m128d f23 = _mm_mul_pd(_mm_sub_pd(t23, _mm_cvtepi32_pd(l23)), two53);
        /* Lanes 0 and 2 of each 64-bit mask are its low halves. */
        __m128 up = _mm_shuffle_ps(_mm_castpd_ps(_mm_cmplt_pd(k01, f01)),
                                   _mm_castpd_ps(_mm_cmplt_pd(k23, f23)),
                                   _MM_SHUFFLE(2, 0, 2, 0));
        __m128i xi = _mm_sub_epi32(_mm_unpacklo_epi64(l01, l23),
                                   _mm_castps_si128(up));
        __m128i neg = _mm_andnot_si128(
            _mm_cmpeq_epi32(xi, _mm_setzero_si128()),
            _mm_castps_si128(_mm_cmplt_ps(x, _mm_setzero_ps())));

        _mm_storeu_si128((__m128i *)(f + (i - i0)),
                         _mm_or_si128(_mm_slli_epi32(xi, 1),
                                      _mm_srli_epi32(neg, 31)));
    }
#endif
    for (; i < i1; i++) {
        f[i - i0] = rz_qsgd_field(v[i], q, sd, rz_qsgd_draw(base, i));
    }
}

/* r_i = v_i - Dec_i for [i0, i1), fields from f[0]. r may be v: each
 * element is loaded before its residual is stored. */
static void rz_qsgd_residual(const float *v, float *r, size_t i0, size_t i1,
                             float norm, float sf, const uint32_t *f)
{
    size_t i = i0;

#if RZ_QSGD_SSE2
    const __m128 nv = _mm_set1_ps(norm), sv = _mm_set1_ps(sf);

    for (; i + 4 <= i1; i += 4) {
        __m128 d = rz_qsgd_value4(nv, sv, f + (i - i0));
        _mm_storeu_ps(r + i, _mm_sub_ps(_mm_loadu_ps(v + i), d));
    }
#endif
    for (; i < i1; i++) {
        r[i] = v[i] - rz_qsgd_value(norm, sf, f[i - i0]);
    }
}

/* An all-zero bucket: every level 0, Dec = +0, residual v - 0. */
static void rz_qsgd_zero_bucket(const float *v, float *r, size_t i0,
                                size_t i1, uint32_t *f)
{
    for (size_t i = i0; i < i1; i++) {
        f[i - i0] = 0;
        if (r != NULL) {
            r[i] = v[i] - 0.0f;
        }
    }
}

/* Little-endian 64-bit store/load, unaligned (one mov on x86). */
static inline void rz_qsgd_store_u64(unsigned char *p, uint64_t x)
{
    for (int j = 0; j < 8; j++) {
        p[j] = (unsigned char)(x >> (8 * j));
    }
}

static inline uint64_t rz_qsgd_load_u64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int j = 0; j < 8; j++) {
        x |= (uint64_t)p[j] << (8 * j);
    }
    return x;
}

/*
 * Pack k fields (k a multiple of 8 except at the end of the stream) of W
 * <= 8 bits into dst, which starts on a group boundary. Each group of 8 is
 * one 64-bit word of which the low W bytes belong to it; where 8 bytes fit
 * before end the whole word is stored and the next group overwrites the
 * excess. W is a constant in each caller, so the shifts are immediates.
 */
RZ_QSGD_INLINE void rz_qsgd_pack_small(const uint32_t *f, size_t k,
                                       unsigned char *dst,
                                       unsigned char *end, const unsigned W)
{
    size_t g = 0;

    for (; g + 8 <= k; g += 8) {
        uint64_t acc = 0;
        for (unsigned j = 0; j < 8; j++) {
            acc |= (uint64_t)f[g + j] << (j * W);
        }
        if (end - dst >= 8) {
            rz_qsgd_store_u64(dst, acc);
        } else {
            for (unsigned j = 0; j < W; j++) {
                dst[j] = (unsigned char)(acc >> (8 * j));
            }
        }
        dst += W;
    }
    if (g < k) {
        /* The stream's last, partial group: its bytes end at end, and the
         * bits above the last field are zero. */
        uint64_t acc = 0;
        size_t nbytes = ((k - g) * W + 7) / 8;
        for (unsigned j = 0; g + j < k; j++) {
            acc |= (uint64_t)f[g + j] << (j * W);
        }
        for (size_t j = 0; j < nbytes; j++) {
            dst[j] = (unsigned char)(acc >> (8 * j));
        }
    }
}

/* W = 9..17: a bit accumulator flushed 32 bits at a time (nb + w < 64). */
static void rz_qsgd_pack_wide(const uint32_t *f, size_t k, unsigned char *dst,
                              unsigned w)
{
    uint64_t acc = 0;
    unsigned nb = 0;

    for (size_t i = 0; i < k; i++) {
        acc |= (uint64_t)f[i] << nb;
        nb += w;
        if (nb >= 32) {
            rz_codec_store_u32(dst, (uint32_t)acc);
            dst += 4;
            acc >>= 32;
            nb -= 32;
        }
    }
    for (; nb > 0; nb = nb > 8 ? nb - 8 : 0) {
        *dst++ = (unsigned char)acc;
        acc >>= 8;
    }
}

static void rz_qsgd_pack(const uint32_t *f, size_t k, unsigned char *dst,
                         unsigned char *end, unsigned w)
{
    switch (w) {
    case 2: rz_qsgd_pack_small(f, k, dst, end, 2); break;
    case 3: rz_qsgd_pack_small(f, k, dst, end, 3); break;
    case 4: rz_qsgd_pack_small(f, k, dst, end, 4); break;
    case 5: rz_qsgd_pack_small(f, k, dst, end, 5); break;
    case 6: rz_qsgd_pack_small(f, k, dst, end, 6); break;
    case 7: rz_qsgd_pack_small(f, k, dst, end, 7); break;
    case 8: rz_qsgd_pack_small(f, k, dst, end, 8); break;
    default: rz_qsgd_pack_wide(f, k, dst, w); break;
    }
}

/* ------------------------------------------------------------- decoding */

/*
 * Unpack k fields (the same blocking as the encoder) of W <= 8 bits from
 * src. The last partial group reads only its own bytes.
 */
RZ_QSGD_INLINE void rz_qsgd_unpack_small(const unsigned char *src,
                                         const unsigned char *end, size_t k,
                                         uint32_t *f, const unsigned W)
{
    const uint64_t mask = (1u << W) - 1;
    size_t g = 0;

    for (; g + 8 <= k; g += 8) {
        uint64_t acc = 0;
        if (end - src >= 8) {
            acc = rz_qsgd_load_u64(src);
        } else {
            for (unsigned j = 0; j < W; j++) {
                acc |= (uint64_t)src[j] << (8 * j);
            }
        }
        for (unsigned j = 0; j < 8; j++) {
            f[g + j] = (uint32_t)(acc >> (j * W) & mask);
        }
        src += W;
    }
    if (g < k) {
        uint64_t acc = 0;
        size_t nbytes = ((k - g) * W + 7) / 8;
        for (size_t j = 0; j < nbytes; j++) {
            acc |= (uint64_t)src[j] << (8 * j);
        }
        for (unsigned j = 0; g + j < k; j++) {
            f[g + j] = (uint32_t)(acc >> (j * W) & mask);
        }
    }
}

/* W = 9..17: refill 32 bits (or the last bytes) whenever fewer than w bits
 * are buffered; never reads past end. */
static void rz_qsgd_unpack_wide(const unsigned char *src,
                                const unsigned char *end, size_t k,
                                uint32_t *f, unsigned w)
{
    const uint64_t mask = ((uint64_t)1 << w) - 1;
    uint64_t acc = 0;
    unsigned nb = 0;

    for (size_t i = 0; i < k; i++) {
        if (nb < w) {
            if (end - src >= 4) {
                acc |= (uint64_t)rz_codec_load_u32(src) << nb;
                src += 4;
                nb += 32;
            } else {
                while (src < end && nb < w) {
                    acc |= (uint64_t)*src++ << nb;
                    nb += 8;
                }
            }
        }
        f[i] = (uint32_t)(acc & mask);
        acc >>= w;
        nb -= w;
    }
}

static void rz_qsgd_unpack(const unsigned char *src, const unsigned char *end,
                           size_t k, uint32_t *f, unsigned w)
{
    switch (w) {
    case 2: rz_qsgd_unpack_small(src, end, k, f, 2); break;
    case 3: rz_qsgd_unpack_small(src, end, k, f, 3); break;
    case 4: rz_qsgd_unpack_small(src, end, k, f, 4); break;
    case 5: rz_qsgd_unpack_small(src, end, k, f, 5); break;
    case 6: rz_qsgd_unpack_small(src, end, k, f, 6); break;
    case 7: rz_qsgd_unpack_small(src, end, k, f, 7); break;
    case 8: rz_qsgd_unpack_small(src, end, k, f, 8); break;
    default: rz_qsgd_unpack_wide(src, end, k, f, w); break;
    }
}

/* The largest level among k fields (a vectorisable max). */
static uint32_t rz_qsgd_max_level(const uint32_t *f, size_t k)
{
    uint32_t m = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t xi = f[i] >> 1;
        m = xi > m ? xi : m;
    }
    return m;
}

/* y_i = beta*y_i + alpha*Dec_i for [i0, i1) of one bucket; f holds the
 * (validated) fields from element i0 on. fl(fl(beta*y) + fl(alpha*d)),
 * the beta term omitted when beta == 0. */
static void rz_qsgd_decode(const uint32_t *f, size_t i0, size_t i1,
                           float norm, float sf, float alpha, float beta,
                           float *y)
{
    size_t i = i0;

#if RZ_QSGD_SSE2
    const __m128 nv = _mm_set1_ps(norm), sv = _mm_set1_ps(sf);
    const __m128 av = _mm_set1_ps(alpha), bv = _mm_set1_ps(beta);

    if (beta == 0.0f) {
        for (; i + 4 <= i1; i += 4) {
            __m128 d = rz_qsgd_value4(nv, sv, f + (i - i0));
            _mm_storeu_ps(y + i, _mm_mul_ps(av, d));
        }
    } else {
        for (; i + 4 <= i1; i += 4) {
            __m128 d = rz_qsgd_value4(nv, sv, f + (i - i0));
            __m128 by = _mm_mul_ps(bv, _mm_loadu_ps(y + i));
            _mm_storeu_ps(y + i, _mm_add_ps(by, _mm_mul_ps(av, d)));
        }
    }
#endif
    for (; i < i1; i++) {
        y[i] = rz_codec_axpby(y[i], rz_qsgd_value(norm, sf, f[i - i0]), alpha,
                              beta);
    }
}

/* ------------------------------------------------------------ callbacks */

static rz_status_t rz_qsgd_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    const char *pos = params;
    char key[32], val[64];
    uint64_t levels = RZ_QSGD_LEVELS_DEFAULT, bucket = RZ_QSGD_BUCKET_DEFAULT;
    rz_qsgd_ctx_t *ctx;
    unsigned bits;
    int seen_levels = 0, seen_bucket = 0, rc;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    while ((rc = rz_codec_param_next(&pos, key, sizeof(key), val,
                                     sizeof(val))) > 0) {
        int is_levels = strcmp(key, "levels") == 0;
        int is_bucket = strcmp(key, "bucket") == 0;

        if (!is_levels && !is_bucket) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "unknown parameter '%s' (qsgd takes levels, bucket)",
                         key);
            return RZ_ERR_INVALID_PARAM;
        }
        /* A repeated key is more likely a typo than an intended override. */
        if ((is_levels && seen_levels) || (is_bucket && seen_bucket)) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "parameter '%s' given twice", key);
            return RZ_ERR_INVALID_PARAM;
        }
        if (is_levels) {
            seen_levels = 1;
            if (rz_codec_parse_u64(val, 1, RZ_QSGD_LEVELS_MAX, &levels) != 0) {
                RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                             "levels=%s: want an integer in [1, %u]", val,
                             RZ_QSGD_LEVELS_MAX);
                return RZ_ERR_INVALID_PARAM;
            }
        } else {
            seen_bucket = 1;
            if (rz_codec_parse_u64(val, 1, RZ_QSGD_BUCKET_MAX, &bucket) != 0) {
                RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                             "bucket=%s: want an integer in [1, %u]", val,
                             RZ_QSGD_BUCKET_MAX);
                return RZ_ERR_INVALID_PARAM;
            }
        }
    }
    if (rc < 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "malformed parameter string \"%s\" (want key=value,...)",
                     params);
        return RZ_ERR_INVALID_PARAM;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    /* ceil(log2(s + 1)) is the bit length of s. */
    for (bits = 0; (levels >> bits) != 0; bits++) {
    }
    ctx->host = host;
    ctx->levels = (uint32_t)levels;
    ctx->width = 1 + bits;
    ctx->bucket = (size_t)bucket;
    ctx->full = levels + 1 == (uint64_t)1 << bits;
    RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_DEBUG,
                 "levels=%u bucket=%zu: %u bits per element",
                 ctx->levels, ctx->bucket, ctx->width);
    *ctx_p = ctx;
    return RZ_OK;
}

static void rz_qsgd_finalize(void *ctx)
{
    free(ctx);
}

static rz_status_t rz_qsgd_query(void *ctx, rz_compressor_info_t *info)
{
    if (ctx == NULL || info == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* Unbiased over the key, deterministic given the key (the randomness
     * is a counter-based stream of it), always the size formula. Not a
     * contraction (the variance can exceed ||v||^2) and not idempotent
     * (re-encoding draws new levels). */
    if (RZ_QSGD_INFO_FITS(info, caps)) {
        info->caps = RZ_QSGD_CAPS;
    }
    if (RZ_QSGD_INFO_FITS(info, dtypes)) {
        info->dtypes = RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32);
    }
    if (RZ_QSGD_INFO_FITS(info, min_count)) {
        info->min_count = RZ_QSGD_MIN_COUNT;
    }
    if (RZ_QSGD_INFO_FITS(info, wire_id)) {
        info->wire_id = RZ_QSGD_WIRE_ID;
    }
    if (RZ_QSGD_INFO_FITS(info, priority)) {
        info->priority = 0;
    }
    return RZ_OK;
}

static size_t rz_qsgd_max_compressed_size(void *ctx, uint32_t dtype,
                                          size_t count)
{
    size_t size;

    if (ctx == NULL || dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0) {
        return 0;
    }
    /* An impossible size makes every capacity check fail. */
    return rz_qsgd_wire_size(ctx, count, &size) == 0 ? size : SIZE_MAX;
}

static rz_status_t rz_qsgd_compress(void *ctx_, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in_,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    const rz_qsgd_ctx_t *ctx = ctx_;
    const float *in = in_;
    float *r = residual;
    unsigned char *wire = out, *bits, *end;
    uint32_t f[RZ_QSGD_BLOCK];
    size_t size, nb, b0, bi;
    uint64_t base;
    float sf;

    if (ctx == NULL || key == NULL || size_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        *size_p = 0;            /* note 7: empty chunks send nothing */
        return RZ_OK;
    }
    if (in == NULL || out == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (rz_qsgd_wire_size(ctx, count, &size) != 0 || capacity < size) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                     "capacity %zu too small for %zu elements", capacity,
                     count);
        return RZ_ERR_INVALID_PARAM;
    }
    nb = count / ctx->bucket + (count % ctx->bucket != 0);
    bits = wire + 4 * nb;
    end = wire + size;

    /*
     * Pass 1: every norm, into the header. A bucket holding inf or NaN has
     * no norm a decoder would accept, and refusing is only clean before
     * anything is written (the residual may be the input), so this is a
     * separate read of the input. Buckets are independent, so this costs
     * bandwidth, not precision.
     */
    for (b0 = 0, bi = 0; b0 < count; b0 += ctx->bucket, bi++) {
        size_t len = count - b0 < ctx->bucket ? count - b0 : ctx->bucket;
        double nd = rz_qsgd_norm2(in + b0, len);
        float norm = (float)nd;

        if (!(nd <= DBL_MAX)) {
            RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                         "bucket %zu of %zu elements is not finite", bi,
                         count);
            return RZ_ERR_INVALID_PARAM;
        }
        /* Finite values whose norm passes FLT_MAX saturate: every |v_i|
         * still is <= the norm, so levels stay in range. */
        if (norm > FLT_MAX) {
            norm = FLT_MAX;
        }
        rz_codec_store_f32(wire + 4 * bi, norm);
    }

    /* The key of ALGORITHMS.md 1.2 note 6 with stream 6, extended by the
     * rank: QSGD's randomness is per rank. */
    base = rz_codec_mix64(rz_codec_key4(key->seed, RZ_CODEC_STREAM_QSGD,
                                        key->iteration, key->chunk) ^
                          key->rank);

    sf = (float)ctx->levels;
    /* Pass 2: levels, residual and packing, bucket by bucket, fields staged
     * in blocks of RZ_QSGD_BLOCK (which need not align with buckets). */
    for (b0 = 0, bi = 0; b0 < count; b0 += ctx->bucket, bi++) {
        size_t b1 = count - b0 < ctx->bucket ? count : b0 + ctx->bucket;
        float norm = rz_codec_load_f32(wire + 4 * bi);
        double q = norm > 0.0f ? (double)ctx->levels / (double)norm : 0.0;
        size_t i, e;

        for (i = b0; i < b1; i = e) {
            size_t blk = i - i % RZ_QSGD_BLOCK;
            uint32_t *fi = f + (i - blk);

            e = b1 < blk + RZ_QSGD_BLOCK ? b1 : blk + RZ_QSGD_BLOCK;
            if (norm == 0.0f) {
                rz_qsgd_zero_bucket(in, r, i, e, fi);
            } else {
                rz_qsgd_quantize(in, i, e, q, ctx->levels, base, fi);
                if (r != NULL) {
                    rz_qsgd_residual(in, r, i, e, norm, sf, fi);
                }
            }
            if (e == blk + RZ_QSGD_BLOCK || e == count) {
                rz_qsgd_pack(f, e - blk, bits + blk / 8 * ctx->width, end,
                             ctx->width);
            }
        }
    }
    *size_p = size;
    return RZ_OK;
}

static rz_status_t rz_qsgd_decompress(void *ctx_,
                                      const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y_, size_t count,
                                      float alpha, float beta)
{
    const rz_qsgd_ctx_t *ctx = ctx_;
    const unsigned char *wire = in, *bits, *end;
    float *y = y_;
    uint32_t f[RZ_QSGD_BLOCK];
    size_t need, nb, bi, tail_bits;
    float sf;

    (void)key;      /* decoding needs no randomness */
    if (ctx == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        return size == 0 ? RZ_OK : RZ_ERR_MALFORMED;
    }
    if (in == NULL || y == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* The size, every norm and the padding are checked before y is
     * touched; levels block by block, each block before its elements are
     * written (so a bad level leaves the earlier blocks decoded, which the
     * ABI allows; when s + 1 is a power of two no field can be bad). */
    if (rz_qsgd_wire_size(ctx, count, &need) != 0 || size != need) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "%zu bytes for %zu elements (want 4*ceil(n/%zu) + "
                     "ceil(n*%u/8))", size, count, ctx->bucket, ctx->width);
        return RZ_ERR_MALFORMED;
    }
    nb = count / ctx->bucket + (count % ctx->bucket != 0);
    for (bi = 0; bi < nb; bi++) {
        uint32_t nbits = rz_codec_load_u32(wire + 4 * bi);
        if (!rz_qsgd_norm_valid(nbits)) {
            RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                         "norm %zu is 0x%08x, not a finite non-negative fp32",
                         bi, (unsigned)nbits);
            return RZ_ERR_MALFORMED;
        }
    }
    bits = wire + 4 * nb;
    end = wire + size;
    tail_bits = (count % 8) * ctx->width % 8;
    if (tail_bits != 0 && (end[-1] >> tail_bits) != 0) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "nonzero padding bits after element %zu", count - 1);
        return RZ_ERR_MALFORMED;
    }

    sf = (float)ctx->levels;
    for (size_t blk = 0; blk < count; blk += RZ_QSGD_BLOCK) {
        size_t k = count - blk < RZ_QSGD_BLOCK ? count - blk : RZ_QSGD_BLOCK;
        size_t i = blk;

        rz_qsgd_unpack(bits + blk / 8 * ctx->width, end, k, f, ctx->width);
        if (!ctx->full && rz_qsgd_max_level(f, k) > ctx->levels) {
            RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                         "a level above %u in elements %zu..%zu",
                         ctx->levels, blk, blk + k - 1);
            return RZ_ERR_MALFORMED;
        }
        /* The block's elements, bucket by bucket. */
        while (i < blk + k) {
            size_t bucket_end = (i / ctx->bucket + 1) * ctx->bucket;
            size_t e = bucket_end < blk + k ? bucket_end : blk + k;

            rz_qsgd_decode(f + (i - blk), i, e,
                           rz_codec_load_f32(wire + 4 * (i / ctx->bucket)), sf,
                           alpha, beta, y);
            i = e;
        }
    }
    return RZ_OK;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "qsgd",
    .description = "QSGD: per-bucket fp32 L2 norms + stochastic sign/level "
                   "fields (unbiased, not contractive)",
    .init = rz_qsgd_init,
    .query = rz_qsgd_query,
    .max_compressed_size = rz_qsgd_max_compressed_size,
    .compress = rz_qsgd_compress,
    .decompress = rz_qsgd_decompress,
    .finalize = rz_qsgd_finalize,
    .delta_bound = NULL,
};
