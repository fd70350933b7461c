/*
 * Kernels shared by the sign and blocksign plugins (ALGORITHMS.md section
 * 1.2, notes 2, 3 and 8): the eight-lane L1 scale, sign-bit packing fused
 * with the residual, decode-accumulate, and the wire-size arithmetic.
 * Header-only and static: each plugin compiles its own copy, so the two
 * .so files stay independent.
 *
 * Every path (SSE2 or scalar) gives the same bits: the SSE2 loops keep the
 * eight lanes of note 3 in four two-wide double vectors and add to each
 * lane in index order, exactly as the scalar loop does; nothing is
 * reassociated. Define RZ_SIGN_NO_SIMD to build the scalar path on x86.
 */
#ifndef RZ_SIGN_KERNELS_H
#define RZ_SIGN_KERNELS_H

#include "rz_codec_util.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__) && !defined(RZ_SIGN_NO_SIMD)
#include <emmintrin.h>
#define RZ_SIGN_SSE2 1
#else
#define RZ_SIGN_SSE2 0
#endif

#define RZ_SIGN_F32_SIGN 0x80000000u

/*
 * Sign masks for the four elements of a nibble: lane j of entry k holds the
 * fp32 sign bit when bit j of k is set (1 = negative). Decoding XORs them
 * into the broadcast magnitude, which turns 8 bits into 8 floats with two
 * table loads and no branches.
 */
#define RZ_SIGN_M(k, j) (((k) >> (j) & 1) ? RZ_SIGN_F32_SIGN : 0u)
#define RZ_SIGN_ROW(k)                                                      \
    {RZ_SIGN_M(k, 0), RZ_SIGN_M(k, 1), RZ_SIGN_M(k, 2), RZ_SIGN_M(k, 3)}
static _Alignas(16) const uint32_t rz_sign_nibble_mask[16][4] = {
    RZ_SIGN_ROW(0),  RZ_SIGN_ROW(1),  RZ_SIGN_ROW(2),  RZ_SIGN_ROW(3),
    RZ_SIGN_ROW(4),  RZ_SIGN_ROW(5),  RZ_SIGN_ROW(6),  RZ_SIGN_ROW(7),
    RZ_SIGN_ROW(8),  RZ_SIGN_ROW(9),  RZ_SIGN_ROW(10), RZ_SIGN_ROW(11),
    RZ_SIGN_ROW(12), RZ_SIGN_ROW(13), RZ_SIGN_ROW(14), RZ_SIGN_ROW(15)};
#undef RZ_SIGN_ROW
#undef RZ_SIGN_M

/* ------------------------------------------------------ shared answers */

/* What both plugins report: a contraction (delta >= 1/n per block, exact
 * error identity), idempotent and homogeneous (note 4, C3, C4), the same
 * bytes for the same input, and always the size formula. */
#define RZ_SIGN_CAPS                                                        \
    (RZ_COMPRESSOR_CAP_CONTRACTIVE | RZ_COMPRESSOR_CAP_IDEMPOTENT |         \
     RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |      \
     RZ_COMPRESSOR_CAP_FIXED_SIZE)

/* Below 64 elements a chunk is under 256 bytes raw: what sign saves is
 * small next to a message's fixed cost, while one scale for so few values
 * throws most of their information away. So the host may send such chunks
 * raw. A hint only: compress() accepts any n >= 1. */
#define RZ_SIGN_MIN_COUNT 64u

#define RZ_SIGN_INFO_FITS(info, member)                                     \
    (offsetof(rz_compressor_info_t, member) + sizeof((info)->member) <=     \
     (info)->struct_size)

/* Fill the members of info that the host's struct_size says it has. */
static inline void rz_sign_query_fill(rz_compressor_info_t *info,
                                      uint32_t wire_id)
{
    if (RZ_SIGN_INFO_FITS(info, caps)) {
        info->caps = RZ_SIGN_CAPS;
    }
    if (RZ_SIGN_INFO_FITS(info, dtypes)) {
        info->dtypes = RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32);
    }
    if (RZ_SIGN_INFO_FITS(info, min_count)) {
        info->min_count = RZ_SIGN_MIN_COUNT;
    }
    if (RZ_SIGN_INFO_FITS(info, wire_id)) {
        info->wire_id = wire_id;
    }
    if (RZ_SIGN_INFO_FITS(info, priority)) {
        info->priority = 0;
    }
}

/* ---------------------------------------------------------- wire sizes */

/* ceil(n/8) bit bytes + 4 bytes per scale; -1 when size_t overflows (no
 * buffer can hold it, so callers treat it as "too large"). */
static inline int rz_sign_wire_size(size_t n, size_t nscales, size_t *size_p)
{
    size_t bit_bytes = n / 8 + (n % 8 != 0);

    if (nscales > (SIZE_MAX - bit_bytes) / 4) {
        return -1;
    }
    *size_p = bit_bytes + 4 * nscales;
    return 0;
}

/* A scale a decoder accepts: finite, non-negative, sign bit clear. An
 * encoder's lanes start at +0.0 and add magnitudes, so it never produces
 * -0.0, a negative value, inf or NaN; anything else is not ours. */
static inline int rz_sign_scale_valid(uint32_t bits)
{
    return bits < 0x7F800000u;
}

/* The padding above element n-1 in the last bit byte must be zero. */
static inline int rz_sign_pad_valid(const unsigned char *bits, size_t n)
{
    return n % 8 == 0 || (bits[n / 8] >> (n % 8)) == 0;
}

/* ----------------------------------------------------------- the scale */

/*
 * a = fp32(T / n) with T the eight-lane double L1 sum of note 3: lane
 * (i mod 8) accumulates double(|v_i|) in increasing i, then
 * T = ((L0 + L1) + (L2 + L3)) + ((L4 + L5) + (L6 + L7)). n >= 1.
 */
static inline float rz_sign_scale(const float *v, size_t n)
{
    double lane[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    double t;

#if RZ_SIGN_SSE2
    {
        /* Lanes 0-1, 2-3, 4-5, 6-7: one vector add per lane pair and
         * 8 elements, which is note 3's order exactly (cvtps_pd is exact). */
        const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
        __m128d l01 = _mm_setzero_pd(), l23 = _mm_setzero_pd();
        __m128d l45 = _mm_setzero_pd(), l67 = _mm_setzero_pd();

        for (; i + 8 <= n; i += 8) {
            __m128 x0 = _mm_and_ps(_mm_loadu_ps(v + i), abs_mask);
            __m128 x1 = _mm_and_ps(_mm_loadu_ps(v + i + 4), abs_mask);
            l01 = _mm_add_pd(l01, _mm_cvtps_pd(x0));
            l23 = _mm_add_pd(l23, _mm_cvtps_pd(_mm_movehl_ps(x0, x0)));
            l45 = _mm_add_pd(l45, _mm_cvtps_pd(x1));
            l67 = _mm_add_pd(l67, _mm_cvtps_pd(_mm_movehl_ps(x1, x1)));
        }
        _mm_storeu_pd(lane + 0, l01);
        _mm_storeu_pd(lane + 2, l23);
        _mm_storeu_pd(lane + 4, l45);
        _mm_storeu_pd(lane + 6, l67);
    }
#endif
    /* The scalar path, and the tail: i is a multiple of 8 here, so i & 7
     * is still the lane of element i. */
    for (; i < n; i++) {
        lane[i & 7] += (double)fabsf(v[i]);
    }
    t = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
        ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    return (float)(t / (double)n);
}

/* ------------------------------------------------------------- encoding */

/* One element: the byte is stored when i opens it and ORed into after. */
static inline void rz_sign_encode_one(const float *v, size_t i, float a,
                                      unsigned char *bits, float *r)
{
    float x = v[i];
    unsigned neg = x < 0.0f;    /* not the sign bit: -0 and NaN are "+" */

    if ((i & 7) == 0) {
        bits[i >> 3] = (unsigned char)neg;
    } else {
        bits[i >> 3] |= (unsigned char)(neg << (i & 7));
    }
    if (r != NULL) {
        r[i] = x - (neg ? -a : a);
    }
}

#if RZ_SIGN_SSE2
/* Four elements: returns their 4 sign bits and, when r != NULL, stores
 * v - d with d = a whose sign bit is flipped where v < 0. */
static inline int rz_sign_enc4(const float *v, float a, float *r)
{
    const __m128 sign = _mm_castsi128_ps(_mm_set1_epi32((int)0x80000000));
    __m128 x = _mm_loadu_ps(v);
    __m128 m = _mm_cmplt_ps(x, _mm_setzero_ps());

    if (r != NULL) {
        __m128 d = _mm_xor_ps(_mm_set1_ps(a), _mm_and_ps(m, sign));
        _mm_storeu_ps(r, _mm_sub_ps(x, d));
    }
    return _mm_movemask_ps(m);
}
#endif

/*
 * Elements [s, e) of v (indices into the whole vector): pack their sign bits
 * into bits and, when r != NULL, write r_i = v_i - (neg ? -a : a), which is
 * v minus exactly what the decoder reconstructs. A byte that element s does
 * not open was begun by an earlier range and is ORed into, so ranges
 * written in increasing order (blocks) build the stream, and the last byte's
 * unused high bits stay zero. r may be v (each element is read before its
 * residual is stored); no other overlap.
 */
static inline void rz_sign_encode_range(const float *v, size_t s, size_t e,
                                        float a, unsigned char *bits,
                                        float *r)
{
    while (s < e && (s & 7) != 0) {
        rz_sign_encode_one(v, s++, a, bits, r);
    }
#if RZ_SIGN_SSE2
    /* A byte per iteration; two loops so that the residual test is not in
     * the body. */
    if (r == NULL) {
        for (; s + 8 <= e; s += 8) {
            bits[s >> 3] =
                (unsigned char)(rz_sign_enc4(v + s, a, NULL) |
                                rz_sign_enc4(v + s + 4, a, NULL) << 4);
        }
    } else {
        for (; s + 8 <= e; s += 8) {
            bits[s >> 3] =
                (unsigned char)(rz_sign_enc4(v + s, a, r + s) |
                                rz_sign_enc4(v + s + 4, a, r + s + 4) << 4);
        }
    }
#else
    for (; s + 8 <= e; s += 8) {
        float x[8];
        unsigned b = 0;

        for (int j = 0; j < 8; j++) {
            x[j] = v[s + j];
            b |= (unsigned)(x[j] < 0.0f) << j;
        }
        bits[s >> 3] = (unsigned char)b;
        if (r != NULL) {
            for (int j = 0; j < 8; j++) {
                r[s + j] = x[j] - ((b >> j & 1) ? -a : a);
            }
        }
    }
#endif
    while (s < e) {
        rz_sign_encode_one(v, s++, a, bits, r);
    }
}

/* ------------------------------------------------------------- decoding */

/*
 * Elements [s, e): y_i = beta*y_i + d_i with d_i = bit_i ? -p : p, where the
 * caller passes p = fl(alpha * a). That equals the ABI's fl(alpha * d) for
 * d = +-a bitwise, because rounding to nearest is symmetric in sign. With
 * beta == 0, y is only written. The bits were validated by the caller.
 */
static inline void rz_sign_decode_range(const unsigned char *bits, size_t s,
                                        size_t e, float p, float beta,
                                        float *y)
{
    const uint32_t pb = rz_codec_f32_bits(p);

    /* Head and tail one element at a time, the body a byte at a time. */
#define RZ_SIGN_DECODE_ONE(i)                                               \
    do {                                                                    \
        uint32_t neg_ = (uint32_t)(bits[(i) >> 3] >> ((i) & 7) & 1u);       \
        float d_ = rz_codec_bits_f32(pb ^ (neg_ << 31));                    \
        y[i] = beta == 0.0f ? d_ : beta * y[i] + d_;                        \
    } while (0)

    while (s < e && (s & 7) != 0) {
        RZ_SIGN_DECODE_ONE(s);
        s++;
    }
#if RZ_SIGN_SSE2
    {
        const __m128 pv = _mm_set1_ps(p);
        const __m128 bv = _mm_set1_ps(beta);

#define RZ_SIGN_NIB(k)                                                      \
    _mm_castsi128_ps(_mm_load_si128((const __m128i *)rz_sign_nibble_mask[k]))
        if (beta == 0.0f) {
            for (; s + 8 <= e; s += 8) {
                unsigned b = bits[s >> 3];
                _mm_storeu_ps(y + s, _mm_xor_ps(pv, RZ_SIGN_NIB(b & 15)));
                _mm_storeu_ps(y + s + 4, _mm_xor_ps(pv, RZ_SIGN_NIB(b >> 4)));
            }
        } else {
            for (; s + 8 <= e; s += 8) {
                unsigned b = bits[s >> 3];
                __m128 d0 = _mm_xor_ps(pv, RZ_SIGN_NIB(b & 15));
                __m128 d1 = _mm_xor_ps(pv, RZ_SIGN_NIB(b >> 4));
                __m128 y0 = _mm_mul_ps(bv, _mm_loadu_ps(y + s));
                __m128 y1 = _mm_mul_ps(bv, _mm_loadu_ps(y + s + 4));
                _mm_storeu_ps(y + s, _mm_add_ps(y0, d0));
                _mm_storeu_ps(y + s + 4, _mm_add_ps(y1, d1));
            }
        }
#undef RZ_SIGN_NIB
    }
#else
    if (beta == 0.0f) {
        for (; s + 8 <= e; s += 8) {
            const uint32_t *lo = rz_sign_nibble_mask[bits[s >> 3] & 15];
            const uint32_t *hi = rz_sign_nibble_mask[bits[s >> 3] >> 4];
            for (int j = 0; j < 4; j++) {
                y[s + j] = rz_codec_bits_f32(pb ^ lo[j]);
                y[s + 4 + j] = rz_codec_bits_f32(pb ^ hi[j]);
            }
        }
    } else {
        for (; s + 8 <= e; s += 8) {
            const uint32_t *lo = rz_sign_nibble_mask[bits[s >> 3] & 15];
            const uint32_t *hi = rz_sign_nibble_mask[bits[s >> 3] >> 4];
            for (int j = 0; j < 4; j++) {
                y[s + j] = beta * y[s + j] + rz_codec_bits_f32(pb ^ lo[j]);
                y[s + 4 + j] =
                    beta * y[s + 4 + j] + rz_codec_bits_f32(pb ^ hi[j]);
            }
        }
    }
#endif
    while (s < e) {
        RZ_SIGN_DECODE_ONE(s);
        s++;
    }
#undef RZ_SIGN_DECODE_ONE
}

#endif
