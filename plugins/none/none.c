/*
 * none: the identity compressor of ALGORITHMS.md section 1.2 (wire id 1).
 *
 * It defines the reference semantics of the plugin ABI (compressor.h); every
 * other codec differs from it only in what Enc and Dec do:
 *
 *   - compress() writes Enc(in) and, when asked, the residual
 *     r = in - Dec(Enc(in)) from exactly the fp32 values a receiver decodes.
 *     Here Dec(Enc(v)) = v bitwise, so r is exactly +0 everywhere.
 *   - decompress() accumulates y = beta*y + alpha*Dec(bytes) elementwise as
 *     fl(fl(beta*y) + fl(alpha*d)); with beta == 0 the first term is
 *     omitted and y is only written (it may hold NaN or garbage).
 *   - count 0 is an empty chunk: 0 bytes, nothing read or written.
 *   - the bytes are untrusted: their size must be exactly 4n.
 *
 * Wire: n fp32 values, little-endian, no header. See README.md beside this
 * file.
 */
#include "rz_codec_dense.h"

#include <stdlib.h>
#include <string.h>

#define RZ_NONE_WIRE_ID 1u

/* Wire bytes have no alignment: access them through a 1-aligned type, which
 * GCC and Clang vectorise into unaligned vector moves. */
typedef float rz_none_f32u_t __attribute__((aligned(1), may_alias));
typedef uint32_t rz_none_u32u_t __attribute__((aligned(1), may_alias));

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define RZ_NONE_BIG_ENDIAN 1
#else
#define RZ_NONE_BIG_ENDIAN 0
#endif

/* The bytes are written before the residual because res may be the very
 * same buffer as in (in-place error feedback). */
static void rz_none_encode(const float *in, size_t count, void *out, float *res)
{
#if RZ_NONE_BIG_ENDIAN
    const uint32_t *src = (const uint32_t *)in;
    rz_none_u32u_t *dst = out;

    for (size_t i = 0; i < count; i++) {
        dst[i] = __builtin_bswap32(src[i]);
    }
#else
    memcpy(out, in, count * sizeof(float));
#endif
    if (res != NULL) {
        /* r = v - Dec(Enc(v)) = v - v, which is +0 for every finite v in
         * round-to-nearest. We write +0 for inf and NaN as well, where the
         * literal fp32 subtraction would give NaN: nothing was lost, and an
         * error-feedback state must not be poisoned by a value the codec
         * carried exactly (CAP_LOSSLESS implies a zero residual). */
        memset(res, 0, count * sizeof(float));
    }
}

/*
 * y = beta*y + alpha*d, one IEEE fp32 operation at a time (the build has
 * -ffp-contract=off, so no FMA); beta == 0 (either sign) omits the term and
 * does not read y. Multiplying by alpha == 1 is kept, not shortcut to a
 * copy: fl(1*d) quiets a signalling NaN, and every codec must give the same
 * y for the same decoded d.
 */
static void rz_none_decode(const void *in, size_t count, float *y, float alpha,
                           float beta)
{
#if RZ_NONE_BIG_ENDIAN
    const rz_none_u32u_t *src = in;

    if (beta == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            y[i] = alpha * rz_codec_bits_f32(__builtin_bswap32(src[i]));
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            y[i] = beta * y[i] +
                   alpha * rz_codec_bits_f32(__builtin_bswap32(src[i]));
        }
    }
#else
    const rz_none_f32u_t *src = in;

    if (beta == 0.0f) {
        for (size_t i = 0; i < count; i++) {
            y[i] = alpha * src[i];
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            y[i] = beta * y[i] + alpha * src[i];
        }
    }
#endif
}

static const rz_codec_dense_impl_t rz_none_impl = {"portable", rz_none_encode,
                                                   rz_none_decode};

/* ---------------------------------------------------------------- the ABI */

#define RZ_NONE_WIDTH 4 /* wire bytes per element */

static rz_status_t rz_none_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    const char *pos = params;
    char key[32], val[64];
    int rc;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* No parameters: any pair is an error, so that an option meant for
     * another codec is never silently ignored. */
    rc = rz_codec_param_next(&pos, key, sizeof(key), val, sizeof(val));
    if (rc < 0) {
        return rz_codec_dense_bad_params(host, params);
    }
    if (rc > 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "unknown parameter '%s' (none takes none)", key);
        return RZ_ERR_INVALID_PARAM;
    }
    return rz_codec_dense_ctx_new(host, &rz_none_impl, ctx_p);
}

static rz_status_t rz_none_query(void *ctx, rz_compressor_info_t *info)
{
    /* Identity: lossless (hence contractive with delta = 1, idempotent and
     * positively homogeneous bitwise for every scale), linear (C(a) + C(b)
     * is a + b, the same fp32 addition as C(a + b)), deterministic and
     * always 4n bytes. */
    return rz_codec_query_f32(
        ctx, info,
        RZ_COMPRESSOR_CAP_LOSSLESS | RZ_COMPRESSOR_CAP_CONTRACTIVE |
            RZ_COMPRESSOR_CAP_LINEAR | RZ_COMPRESSOR_CAP_IDEMPOTENT |
            RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
            RZ_COMPRESSOR_CAP_FIXED_SIZE,
        0, RZ_NONE_WIRE_ID);
}

static size_t rz_none_max_compressed_size(void *ctx, uint32_t dtype,
                                          size_t count)
{
    (void)ctx;
    return rz_codec_dense_max_size(dtype, count, RZ_NONE_WIDTH);
}

static rz_status_t rz_none_compress(void *ctx, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    (void)key; /* deterministic: no randomness to key */
    return rz_codec_dense_compress(ctx, RZ_NONE_WIDTH, dtype, in, count, out,
                                   capacity, size_p, residual);
}

static rz_status_t rz_none_decompress(void *ctx, const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y, size_t count,
                                      float alpha, float beta)
{
    (void)key;
    /* The size is the only thing the bytes can get wrong: every 32-bit
     * pattern is a valid fp32 (NaN and inf pass through as sent). */
    return rz_codec_dense_decompress(ctx, RZ_NONE_WIDTH, dtype, in, size, y,
                                     count, alpha, beta);
}

static rz_status_t rz_none_delta_bound(void *ctx, uint32_t dtype, size_t count,
                                       double *delta_p)
{
    (void)count;
    if (ctx == NULL || delta_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    /* ||C(v) - v||^2 = 0 = (1 - 1) ||v||^2. */
    *delta_p = 1.0;
    return RZ_OK;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "none",
    .description = "identity: n fp32 values as they are (lossless, "
                   "reference semantics)",
    .init = rz_none_init,
    .query = rz_none_query,
    .max_compressed_size = rz_none_max_compressed_size,
    .compress = rz_none_compress,
    .decompress = rz_none_decompress,
    .finalize = rz_codec_finalize,
    .delta_bound = rz_none_delta_bound,
};
