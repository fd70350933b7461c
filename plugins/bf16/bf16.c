/*
 * bf16: the bfloat16 cast of ALGORITHMS.md section 1.2 (wire id 3).
 *
 * Enc rounds the fp32 pattern b to its upper 16 bits, to nearest with ties
 * to even, h = (b + 0x7FFF + ((b >> 16) & 1)) >> 16 in uint32 arithmetic,
 * and saturates: a result that would be +-inf (|b| >= 0x7F7F8000, or an
 * infinite v) becomes +-0x7F7F, the largest finite bf16. NaN stays NaN and
 * never rounds into inf: h = (b >> 16) | 0x0040 keeps the sign and the top
 * seven payload bits and sets the quiet bit. Dec is the fp32 with pattern
 * h << 16. Wire: n uint16, little-endian.
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

#define RZ_BF16_WIRE_ID 3u

/* Elements per block: the encoder keeps the 32-bit results of one block in
 * two stack arrays (2 KiB, in L1) before narrowing them to the wire. */
#define RZ_BF16_BLOCK 256

/* The largest finite bf16, 0x7F7F (3.3895314e38), as an fp32 pattern. */
#define RZ_BF16_MAX_F32_BITS 0x7F7F0000

/* Wire bytes have no alignment: uint16 through a 1-aligned type, which the
 * vectoriser turns into unaligned vector moves. */
typedef uint16_t rz_bf16_u16u_t __attribute__((aligned(1), may_alias));

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define RZ_BF16_LE16(x) __builtin_bswap16(x)
#else
#define RZ_BF16_LE16(x) (x)
#endif

/* The kernels below are inlined into one baseline and one AVX2 copy. */
#define RZ_BF16_INLINE static inline __attribute__((always_inline))

/*
 * Round one fp32 (bit pattern b) to bf16. Returns the 16-bit pattern in the
 * low half (the high half is garbage, dropped by the narrowing store) and
 * the decoded value, with the sign, in *d_p. NaN lanes come out wrong here
 * (their rounding may carry out of the exponent); the caller patches them
 * (rz_bf16_nan_bits).
 *
 * The section 1.2 formula is applied to |b|: for every non-NaN b the carry
 * stops below the sign bit, so this is the same as applying it to b.
 */
RZ_BF16_INLINE uint32_t rz_bf16_round(uint32_t b, float *d_p)
{
    uint32_t ab = b & 0x7FFFFFFFu;
    uint32_t sign = b ^ ab;
    uint32_t t = ab + 0x7FFFu + ((ab >> 16) & 1u);
    /* A carry into 0x7F80 (inf), or inf itself: the largest finite value.
     * Signed compare: SSE2 only compares signed lanes, and t < 2^31 for
     * every non-NaN b. */
    int32_t r = (int32_t)(t & 0xFFFF0000u);

    r = r < RZ_BF16_MAX_F32_BITS ? r : RZ_BF16_MAX_F32_BITS;
    *d_p = rz_codec_bits_f32((uint32_t)r | sign);
    return ((uint32_t)r | sign) >> 16;
}

/* The bf16 NaN for fp32 NaN bits b: sign and top seven payload bits kept,
 * quiet bit set, so it is a NaN even when those seven bits are zero. */
static inline uint32_t rz_bf16_nan_bits(uint32_t b)
{
    return (b >> 16) | 0x0040u;
}

/* Rare path, kept out of the vector loop: NaN lanes of one block. */
static void rz_bf16_patch_nans(const float *in, size_t n, uint32_t *h)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b = rz_codec_f32_bits(in[i]);
        if ((b & 0x7FFFFFFFu) > 0x7F800000u) {
            h[i] = rz_bf16_nan_bits(b);
        }
    }
}

/*
 * One block of n <= RZ_BF16_BLOCK elements, in three loops so that each
 * vectorises cleanly: the rounding in 32-bit lanes (with a NaN flag instead
 * of a per-lane NaN select), the residual, and one narrowing store. Keeping
 * the narrowing apart matters: fused, GCC narrows every intermediate to 16
 * bits and spends more time shuffling than computing. The residual loop
 * reads in[] after the NaN patch has, so res may be in itself.
 */
RZ_BF16_INLINE void rz_bf16_encode_block(const float *in, size_t n,
                                         rz_bf16_u16u_t *restrict out,
                                         float *res, int want_res)
{
    uint32_t h[RZ_BF16_BLOCK];
    float d[RZ_BF16_BLOCK];
    int32_t nan = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t b = rz_codec_f32_bits(in[i]);
        h[i] = rz_bf16_round(b, &d[i]);
        nan |= (int32_t)(b & 0x7FFFFFFFu) > 0x7F800000;
    }
    if (nan) {
        rz_bf16_patch_nans(in, n, h);
    }
    if (want_res) {
        /* r = v - Dec(Enc(v)) from the very fp32 the receiver decodes. */
        for (size_t i = 0; i < n; i++) {
            res[i] = in[i] - d[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = RZ_BF16_LE16((uint16_t)h[i]);
    }
}

RZ_BF16_INLINE void rz_bf16_encode_all(const float *in, size_t count, void *out,
                                       float *res)
{
    rz_bf16_u16u_t *wire = out;

    for (size_t i = 0; i < count; i += RZ_BF16_BLOCK) {
        size_t n = count - i < RZ_BF16_BLOCK ? count - i : RZ_BF16_BLOCK;
        if (res == NULL) {
            rz_bf16_encode_block(in + i, n, wire + i, NULL, 0);
        } else {
            rz_bf16_encode_block(in + i, n, wire + i, res + i, 1);
        }
    }
}

/* y = beta*y + alpha*d with d the fp32 of pattern h << 16, one fp32
 * operation at a time; beta == 0 omits the term and leaves y unread
 * (rz_codec_axpby). */
RZ_BF16_INLINE void rz_bf16_decode_all(const void *in, size_t count, float *y,
                                       float alpha, float beta)
{
    const rz_bf16_u16u_t *wire = in;

    if (beta == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            uint32_t h = RZ_BF16_LE16(wire[i]);
            y[i] = alpha * rz_codec_bits_f32(h << 16);
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            uint32_t h = RZ_BF16_LE16(wire[i]);
            y[i] = beta * y[i] + alpha * rz_codec_bits_f32(h << 16);
        }
    }
}

/* ------------------------------------------------ the two compiled copies */

RZ_CODEC_DENSE_IMPLS(rz_bf16, rz_bf16_encode_all, rz_bf16_decode_all);

/* --------------------------------------------------------------- the ABI */

#define RZ_BF16_WIDTH 2 /* wire bytes per element */

static rz_status_t rz_bf16_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    return rz_codec_dense_init(host, params, "bf16", &rz_bf16_impl_portable,
                               rz_bf16_impl_avx2, ctx_p);
}

static rz_status_t rz_bf16_query(void *ctx, rz_compressor_info_t *info)
{
    /* Idempotent: bf16 values (and +-0x7F7F) are fixed points, and a NaN
     * re-encodes to itself. Not CONTRACTIVE: a saturated element (+-inf)
     * has no error bound. Not HOMOGENEOUS: scaling by 2^j moves values
     * across the subnormal and saturation limits. Not LINEAR: sums of
     * rounded values are not rounded sums. */
    return rz_codec_query_f32(ctx, info,
                              RZ_COMPRESSOR_CAP_IDEMPOTENT |
                                  RZ_COMPRESSOR_CAP_DETERMINISTIC |
                                  RZ_COMPRESSOR_CAP_FIXED_SIZE,
                              0, RZ_BF16_WIRE_ID);
}

static size_t rz_bf16_max_compressed_size(void *ctx, uint32_t dtype,
                                          size_t count)
{
    (void)ctx;
    return rz_codec_dense_max_size(dtype, count, RZ_BF16_WIDTH);
}

static rz_status_t rz_bf16_compress(void *ctx, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    (void)key; /* deterministic: no randomness to key */
    return rz_codec_dense_compress(ctx, RZ_BF16_WIDTH, dtype, in, count, out,
                                   capacity, size_p, residual);
}

static rz_status_t rz_bf16_decompress(void *ctx, const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y, size_t count,
                                      float alpha, float beta)
{
    (void)key;
    /* Every 16-bit pattern decodes to something (inf included, which this
     * encoder never sends), so the size is all there is to check. */
    return rz_codec_dense_decompress(ctx, RZ_BF16_WIDTH, dtype, in, size, y,
                                     count, alpha, beta);
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "bf16",
    .description = "bfloat16 cast, round to nearest even, saturating at "
                   "+-3.39e38 (2 bytes per element)",
    .init = rz_bf16_init,
    .query = rz_bf16_query,
    .max_compressed_size = rz_bf16_max_compressed_size,
    .compress = rz_bf16_compress,
    .decompress = rz_bf16_decompress,
    .finalize = rz_codec_finalize,
    .delta_bound = NULL,
};
