/*
 * fp16: the IEEE binary16 cast of ALGORITHMS.md section 1.2 (wire id 2).
 *
 * Enc clips v to [-65504, 65504] (so +-inf become +-65504), then rounds to
 * binary16 to nearest, ties to even, subnormals included; it never produces
 * inf. NaN stays NaN: the sign and the top ten payload bits are kept and the
 * quiet bit is set, h = sign | 0x7E00 | ((bits >> 13) & 0x3FF), which is
 * what the x86 F16C instruction vcvtps2ph gives. Dec is exact (every
 * binary16 value is an fp32 value). Wire: n uint16, little-endian.
 *
 * Both directions are branch-free bit manipulation in 32-bit lanes, written
 * so that GCC vectorises them with baseline SSE2. The same source is also
 * compiled for AVX2 (target attribute) and chosen at init when the CPU has
 * it; the C semantics are the same, so the bytes are too, and the unit test
 * checks it. See README.md beside this file.
 */
#include "rz_codec_dense.h"

#include <stdlib.h>
#include <string.h>

#define RZ_FP16_WIRE_ID 2u

/* Elements per block: the encoder keeps the 32-bit results of one block in
 * two stack arrays (2 KiB, in L1) before narrowing them to the wire. */
#define RZ_FP16_BLOCK 256

/* Largest finite binary16, 65504, as an fp32 bit pattern. */
#define RZ_FP16_MAX_F32_BITS 0x477FE000

/* Wire bytes have no alignment: uint16 through a 1-aligned type, which the
 * vectoriser turns into unaligned vector moves. */
typedef uint16_t rz_fp16_u16u_t __attribute__((aligned(1), may_alias));

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define RZ_FP16_LE16(x) __builtin_bswap16(x)
#else
#define RZ_FP16_LE16(x) (x)
#endif

/* The kernels below are inlined into one baseline and one AVX2 copy. */
#define RZ_FP16_INLINE static inline __attribute__((always_inline))

/* mask ? x : y on all-ones / all-zeros masks; the vectoriser keeps these in
 * integer lanes, where a ?: on floats would become a branch. */
#define RZ_FP16_SELECT(mask, x, y) (((x) & (mask)) | ((y) & ~(mask)))

/*
 * Round one fp32 (bit pattern b) to binary16. Returns the 16-bit pattern in
 * the low half (the high half is garbage, dropped by the narrowing store)
 * and the decoded value, with the sign, in *d_p. NaN lanes come out as
 * +-65504 here; the caller patches them (rz_fp16_nan_bits).
 *
 * The rounding is done by the FPU: for c = min(|v|, 65504) with binary
 * exponent E (not below -14), M = 2^(E+13) has an ulp of 2^(E-10), the
 * binary16 spacing at c, so s = c + M rounds c to binary16 exactly as
 * round-to-nearest-even does, subnormals included (E = -14 gives M = 1/2
 * and a spacing of 2^-24). s stays in M's binade, so s - M is exact and
 * bits(s) - bits(M) counts the spacings: the binary16 significand with its
 * implicit bit, which a carry may push into the next binade (correct: that
 * is the next exponent with mantissa 0).
 */
RZ_FP16_INLINE uint32_t rz_fp16_round(uint32_t b, float *d_p)
{
    uint32_t ab = b & 0x7FFFFFFFu;
    uint32_t sign = b ^ ab;
    /* Signed compares: ab < 2^31, and SSE2 only compares signed lanes. */
    int32_t c =
        (int32_t)ab < RZ_FP16_MAX_F32_BITS ? (int32_t)ab : RZ_FP16_MAX_F32_BITS;
    int32_t e = c & 0x7F800000;
    uint32_t mb;
    float m, s;
    uint32_t h;

    e = e > 0x38800000 ? e : 0x38800000; /* 2^-14 */
    mb = (uint32_t)e + (13u << 23);
    m = rz_codec_bits_f32(mb);
    s = rz_codec_bits_f32((uint32_t)c) + m;
    /* Significand count plus the binary16 exponent field minus one,
     * (E + 14) << 10; with E = -14 that is 0, the subnormal encoding. */
    h = rz_codec_f32_bits(s) - mb + ((uint32_t)e >> 13) - (113u << 10);
    *d_p = rz_codec_bits_f32(rz_codec_f32_bits(s - m) | sign);
    return h | (sign >> 16);
}

/* The binary16 NaN for fp32 NaN bits b: sign kept, top ten payload bits
 * kept, quiet bit set (so the result is a NaN even when those ten bits are
 * zero, and a quiet one), as vcvtps2ph does. */
static inline uint32_t rz_fp16_nan_bits(uint32_t b)
{
    return ((b >> 16) & 0x8000u) | 0x7E00u | ((b >> 13) & 0x3FFu);
}

/* Rare path, kept out of the vector loop: NaN lanes of one block. */
static void rz_fp16_patch_nans(const float *in, size_t n, uint32_t *h)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b = rz_codec_f32_bits(in[i]);
        if ((b & 0x7FFFFFFFu) > 0x7F800000u) {
            h[i] = rz_fp16_nan_bits(b);
        }
    }
}

/*
 * One block of n <= RZ_FP16_BLOCK elements, in three loops so that each
 * vectorises cleanly: the rounding in 32-bit lanes (with a NaN flag instead
 * of a per-lane NaN select), the residual, and one narrowing store. Keeping
 * the narrowing apart matters: fused, GCC narrows every intermediate to 16
 * bits and spends more time shuffling than computing. The residual loop
 * reads in[] after the NaN patch has, so res may be in itself.
 */
RZ_FP16_INLINE void rz_fp16_encode_block(const float *in, size_t n,
                                         rz_fp16_u16u_t *restrict out,
                                         float *res, int want_res)
{
    uint32_t h[RZ_FP16_BLOCK];
    float d[RZ_FP16_BLOCK];
    int32_t nan = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t b = rz_codec_f32_bits(in[i]);
        h[i] = rz_fp16_round(b, &d[i]);
        nan |= (int32_t)(b & 0x7FFFFFFFu) > 0x7F800000;
    }
    if (nan) {
        rz_fp16_patch_nans(in, n, h);
    }
    if (want_res) {
        /* r = v - Dec(Enc(v)) from the very fp32 the receiver decodes. */
        for (size_t i = 0; i < n; i++) {
            res[i] = in[i] - d[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = RZ_FP16_LE16((uint16_t)h[i]);
    }
}

RZ_FP16_INLINE void rz_fp16_encode_all(const float *in, size_t count, void *out,
                                       float *res)
{
    rz_fp16_u16u_t *wire = out;

    for (size_t i = 0; i < count; i += RZ_FP16_BLOCK) {
        size_t n = count - i < RZ_FP16_BLOCK ? count - i : RZ_FP16_BLOCK;
        if (res == NULL) {
            rz_fp16_encode_block(in + i, n, wire + i, NULL, 0);
        } else {
            rz_fp16_encode_block(in + i, n, wire + i, res + i, 1);
        }
    }
}

/*
 * binary16 pattern h (< 2^16) to fp32, exactly. Normal, inf and NaN: move
 * exponent and mantissa into place with the exponent 224 too high, which
 * lands inf/NaN on exponent 255, then scale by 2^-112 (exact; a NaN stays a
 * NaN and comes out quiet, as from vcvtph2ps). Zero and subnormal:
 * hs * 2^-24 = (1/2 + hs * 2^-24) - 1/2, exact.
 */
RZ_FP16_INLINE float rz_fp16_decode_one(uint32_t h)
{
    uint32_t hs = h & 0x7FFFu;
    uint32_t sign = (h ^ hs) << 16;
    float nrm = rz_codec_bits_f32((hs << 13) + 0x70000000u) * 0x1p-112f;
    float sub = rz_codec_bits_f32(hs | 0x3F000000u) - 0.5f;
    uint32_t is_sub = -(uint32_t)((int32_t)hs < 0x400);

    return rz_codec_bits_f32(
        RZ_FP16_SELECT(is_sub, rz_codec_f32_bits(sub), rz_codec_f32_bits(nrm)) |
        sign);
}

/* y = beta*y + alpha*d, one fp32 operation at a time; beta == 0 omits the
 * term and leaves y unread (rz_codec_axpby). */
RZ_FP16_INLINE void rz_fp16_decode_all(const void *in, size_t count, float *y,
                                       float alpha, float beta)
{
    const rz_fp16_u16u_t *wire = in;

    if (beta == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            y[i] = alpha * rz_fp16_decode_one(RZ_FP16_LE16(wire[i]));
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            y[i] =
                beta * y[i] + alpha * rz_fp16_decode_one(RZ_FP16_LE16(wire[i]));
        }
    }
}

/* ------------------------------------------------ the two compiled copies */

RZ_CODEC_DENSE_IMPLS(rz_fp16, rz_fp16_encode_all, rz_fp16_decode_all);

/* --------------------------------------------------------------- the ABI */

#define RZ_FP16_WIDTH 2 /* wire bytes per element */

static rz_status_t rz_fp16_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    return rz_codec_dense_init(host, params, "fp16", &rz_fp16_impl_portable,
                               rz_fp16_impl_avx2, ctx_p);
}

static rz_status_t rz_fp16_query(void *ctx, rz_compressor_info_t *info)
{
    /* Idempotent: binary16 values (and +-65504) are fixed points, and a
     * NaN re-encodes to itself. Not CONTRACTIVE: a saturated element has
     * no error bound (1e30 becomes 65504), and a vector of values below
     * 2^-25 becomes 0, so no delta > 0 holds for every v. Not HOMOGENEOUS:
     * scaling by 2^j moves values across the subnormal and saturation
     * limits. Not LINEAR: sums of rounded values are not rounded sums. */
    return rz_codec_query_f32(ctx, info,
                              RZ_COMPRESSOR_CAP_IDEMPOTENT |
                                  RZ_COMPRESSOR_CAP_DETERMINISTIC |
                                  RZ_COMPRESSOR_CAP_FIXED_SIZE,
                              0, RZ_FP16_WIRE_ID);
}

static size_t rz_fp16_max_compressed_size(void *ctx, uint32_t dtype,
                                          size_t count)
{
    (void)ctx;
    return rz_codec_dense_max_size(dtype, count, RZ_FP16_WIDTH);
}

static rz_status_t rz_fp16_compress(void *ctx, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    (void)key; /* deterministic: no randomness to key */
    return rz_codec_dense_compress(ctx, RZ_FP16_WIDTH, dtype, in, count, out,
                                   capacity, size_p, residual);
}

static rz_status_t rz_fp16_decompress(void *ctx, const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y, size_t count,
                                      float alpha, float beta)
{
    (void)key;
    /* Every 16-bit pattern decodes to something (inf included, which this
     * encoder never sends), so the size is all there is to check. */
    return rz_codec_dense_decompress(ctx, RZ_FP16_WIDTH, dtype, in, size, y,
                                     count, alpha, beta);
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "fp16",
    .description = "IEEE binary16 cast, round to nearest even, saturating "
                   "at +-65504 (2 bytes per element)",
    .init = rz_fp16_init,
    .query = rz_fp16_query,
    .max_compressed_size = rz_fp16_max_compressed_size,
    .compress = rz_fp16_compress,
    .decompress = rz_fp16_decompress,
    .finalize = rz_codec_finalize,
    .delta_bound = NULL,
};
