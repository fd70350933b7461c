/*
 * sign: the scaled sign compressor of ALGORITHMS.md section 1.2 (wire id 4).
 * C(v)_i = +a or -a, with -a exactly where v_i < 0 (so +-0 give +a) and a
 * the eight-lane L1 mean of note 3. Wire: the fp32 scale, then ceil(n/8)
 * bytes of sign bits, LSB first, 1 = negative, unused high bits zero.
 * See README.md beside this file.
 */
#include "rz_sign_kernels.h"

#include <stdlib.h>

#define RZ_SIGN_WIRE_ID 4u

typedef struct rz_sign_ctx {
    const rz_compressor_host_t *host;
} rz_sign_ctx_t;

static rz_status_t rz_sign_init(const rz_compressor_host_t *host,
                                const char *params, void **ctx_p)
{
    const char *pos = params;
    char key[32], val[64];
    rz_sign_ctx_t *ctx;
    int rc;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* sign has no parameters: any pair is an error, so that a misspelt
     * blocksign option handed to sign is not silently ignored. */
    rc = rz_codec_param_next(&pos, key, sizeof(key), val, sizeof(val));
    if (rc < 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "malformed parameter string \"%s\" (want key=value)",
                     params);
        return RZ_ERR_INVALID_PARAM;
    }
    if (rc > 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "unknown parameter '%s' (sign takes none)", key);
        return RZ_ERR_INVALID_PARAM;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ctx->host = host;
    *ctx_p = ctx;
    return RZ_OK;
}

static void rz_sign_finalize(void *ctx)
{
    free(ctx);
}

static rz_status_t rz_sign_query(void *ctx, rz_compressor_info_t *info)
{
    if (ctx == NULL || info == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    rz_sign_query_fill(info, RZ_SIGN_WIRE_ID);
    return RZ_OK;
}

static size_t rz_sign_max_compressed_size(void *ctx, uint32_t dtype,
                                          size_t count)
{
    size_t size;

    (void)ctx;
    if (dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0) {
        return 0;
    }
    /* An impossible size makes every capacity check fail. */
    return rz_sign_wire_size(count, 1, &size) == 0 ? size : SIZE_MAX;
}

static rz_status_t rz_sign_compress(void *ctx_, const rz_compressor_key_t *key,
                                    uint32_t dtype, const void *in,
                                    size_t count, void *out, size_t capacity,
                                    size_t *size_p, void *residual)
{
    rz_sign_ctx_t *ctx = ctx_;
    unsigned char *wire = out;
    size_t size;
    float a;

    (void)key;      /* deterministic: no randomness to key */
    if (ctx == NULL || size_p == NULL) {
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
    if (rz_sign_wire_size(count, 1, &size) != 0 || capacity < size) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                     "capacity %zu too small for %zu elements "
                     "(need ceil(n/8) + 4 bytes)", capacity, count);
        return RZ_ERR_INVALID_PARAM;
    }
    /* Pass 1 needs every element before any bit can be paired with a
     * residual, so the scale is a separate read of the input. */
    a = rz_sign_scale(in, count);
    if (!rz_sign_scale_valid(rz_codec_f32_bits(a))) {
        /* Only inf or NaN input gets here; a decoder would reject the
         * bytes, so refuse to produce them. */
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                     "input of %zu elements is not finite (scale %g)", count,
                     (double)a);
        return RZ_ERR_INVALID_PARAM;
    }
    rz_codec_store_f32(wire, a);
    rz_sign_encode_range(in, 0, count, a, wire + 4, residual);
    *size_p = size;
    return RZ_OK;
}

static rz_status_t rz_sign_decompress(void *ctx_,
                                      const rz_compressor_key_t *key,
                                      uint32_t dtype, const void *in,
                                      size_t size, void *y, size_t count,
                                      float alpha, float beta)
{
    rz_sign_ctx_t *ctx = ctx_;
    const unsigned char *wire = in;
    size_t need;
    uint32_t scale_bits;

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
    if (in == NULL || y == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* Everything is checked before y is touched. The causes are logged at
     * debug level: the host already reports a malformed message as an
     * error, and a peer's bad bytes should not be able to double that. */
    if (rz_sign_wire_size(count, 1, &need) != 0 || size != need) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "%zu bytes for %zu elements (want ceil(n/8) + 4)", size,
                     count);
        return RZ_ERR_MALFORMED;
    }
    scale_bits = rz_codec_load_u32(wire);
    if (!rz_sign_scale_valid(scale_bits)) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "scale 0x%08x is not a finite non-negative fp32",
                     (unsigned)scale_bits);
        return RZ_ERR_MALFORMED;
    }
    if (!rz_sign_pad_valid(wire + 4, count)) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "nonzero padding bits after element %zu", count - 1);
        return RZ_ERR_MALFORMED;
    }
    rz_sign_decode_range(wire + 4, 0, count,
                         alpha * rz_codec_bits_f32(scale_bits), beta, y);
    return RZ_OK;
}

static rz_status_t rz_sign_delta_bound(void *ctx, uint32_t dtype,
                                       size_t count, double *delta_p)
{
    if (ctx == NULL || delta_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    /* delta(v) = ||v||_1^2 / (n ||v||^2) >= 1/n because ||v||_1 >= ||v||;
     * a 1-sparse v attains it. Nothing is lost when n = 0. */
    *delta_p = count == 0 ? 1.0 : 1.0 / (double)count;
    return RZ_OK;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "sign",
    .description = "scaled sign: 1 bit per element + one fp32 L1-mean scale "
                   "(contractive, delta >= 1/n)",
    .init = rz_sign_init,
    .query = rz_sign_query,
    .max_compressed_size = rz_sign_max_compressed_size,
    .compress = rz_sign_compress,
    .decompress = rz_sign_decompress,
    .finalize = rz_sign_finalize,
    .delta_bound = rz_sign_delta_bound,
};
