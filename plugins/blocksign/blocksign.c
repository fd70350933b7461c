/*
 * blocksign: the blockwise scaled sign compressor of ALGORITHMS.md section
 * 1.2 (wire id 5). The input (one chunk) is cut into B = ceil(n/L) runs of
 * L consecutive elements, the last possibly shorter; each run is a scaled
 * sign with its own scale (note 3, lanes restarted at the run's first
 * element). Wire: the B fp32 scales in block order, then ceil(n/8) bytes of
 * sign bits numbered over the whole chunk, exactly as for sign. With
 * L >= n the bytes are sign's. See README.md beside this file.
 */
#include "rz_sign_kernels.h"

#include <stdlib.h>

#define RZ_BLOCKSIGN_WIRE_ID 5u
/* 256: one scale per kilobyte of input costs 1/64 bit per element
 * (1.125 bits in all) and keeps per-block work small next to the block;
 * [Z] uses a block per layer, a few hundred elements is common. */
#define RZ_BLOCKSIGN_DEFAULT_BLOCK 256u
#define RZ_BLOCKSIGN_MAX_BLOCK     (1ull << 31)

typedef struct rz_blocksign_ctx {
    const rz_compressor_host_t *host;
    size_t                      block;  /* L, 1 .. 2^31 */
} rz_blocksign_ctx_t;

/* ceil(count / block) */
static size_t rz_blocksign_nblocks(size_t count, size_t block)
{
    return count / block + (count % block != 0);
}

/* Parse "block=L"; unknown keys, repeated keys and bad values are errors. */
static rz_status_t rz_blocksign_parse(const rz_compressor_host_t *host,
                                      const char *params, size_t *block_p)
{
    const char *pos = params;
    char key[32], val[64];
    uint64_t block = RZ_BLOCKSIGN_DEFAULT_BLOCK; /* 2^31 fits any size_t */
    int seen = 0, rc;

    while ((rc = rz_codec_param_next(&pos, key, sizeof(key), val,
                                     sizeof(val))) > 0) {
        if (strcmp(key, "block") != 0) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "unknown parameter '%s' (blocksign takes block=L)",
                         key);
            return RZ_ERR_INVALID_PARAM;
        }
        if (seen) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "parameter 'block' given twice");
            return RZ_ERR_INVALID_PARAM;
        }
        if (rz_codec_parse_u64(val, 1, RZ_BLOCKSIGN_MAX_BLOCK, &block) != 0) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "block=%s: want an integer in [1, 2^31]", val);
            return RZ_ERR_INVALID_PARAM;
        }
        seen = 1;
    }
    if (rc < 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "malformed parameter string \"%s\" (want block=L)",
                     params);
        return RZ_ERR_INVALID_PARAM;
    }
    *block_p = (size_t)block;
    return RZ_OK;
}

static rz_status_t rz_blocksign_init(const rz_compressor_host_t *host,
                                     const char *params, void **ctx_p)
{
    rz_blocksign_ctx_t *ctx;
    size_t block;
    rz_status_t status;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_blocksign_parse(host, params, &block);
    if (status != RZ_OK) {
        return status;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ctx->host = host;
    ctx->block = block;
    *ctx_p = ctx;
    return RZ_OK;
}

static void rz_blocksign_finalize(void *ctx)
{
    free(ctx);
}

static rz_status_t rz_blocksign_query(void *ctx, rz_compressor_info_t *info)
{
    if (ctx == NULL || info == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    rz_sign_query_fill(info, RZ_BLOCKSIGN_WIRE_ID);
    return RZ_OK;
}

/* The exact wire size, or -1 when it does not fit size_t. */
static int rz_blocksign_size(const rz_blocksign_ctx_t *ctx, size_t count,
                             size_t *size_p)
{
    return rz_sign_wire_size(count, rz_blocksign_nblocks(count, ctx->block),
                             size_p);
}

static size_t rz_blocksign_max_compressed_size(void *ctx_, uint32_t dtype,
                                               size_t count)
{
    rz_blocksign_ctx_t *ctx = ctx_;
    size_t size;

    if (ctx == NULL || dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0) {
        return 0;
    }
    /* An impossible size makes every capacity check fail. */
    return rz_blocksign_size(ctx, count, &size) == 0 ? size : SIZE_MAX;
}

static rz_status_t rz_blocksign_compress(void *ctx_,
                                         const rz_compressor_key_t *key,
                                         uint32_t dtype, const void *in,
                                         size_t count, void *out,
                                         size_t capacity, size_t *size_p,
                                         void *residual)
{
    rz_blocksign_ctx_t *ctx = ctx_;
    const float *v = in;
    unsigned char *wire = out, *bits;
    size_t size, nblocks, b, s, e;

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
    if (rz_blocksign_size(ctx, count, &size) != 0 || capacity < size) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                     "capacity %zu too small for %zu elements "
                     "(need ceil(n/8) + 4 ceil(n/%zu) bytes)", capacity,
                     count, ctx->block);
        return RZ_ERR_INVALID_PARAM;
    }
    nblocks = rz_blocksign_nblocks(count, ctx->block);
    bits = wire + 4 * nblocks;

    /* Pass 1: every scale, straight into the wire. All of them are known
     * (and checked) before the residual may overwrite the input. */
    for (b = 0, s = 0; b < nblocks; b++, s = e) {
        float a;

        e = count - s > ctx->block ? s + ctx->block : count;
        a = rz_sign_scale(v + s, e - s);
        if (!rz_sign_scale_valid(rz_codec_f32_bits(a))) {
            /* Only inf or NaN input gets here; a decoder would reject
             * the bytes, so refuse to produce them. */
            RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                         "block %zu (elements %zu..%zu) is not finite "
                         "(scale %g)", b, s, e - 1, (double)a);
            return RZ_ERR_INVALID_PARAM;
        }
        rz_codec_store_f32(wire + 4 * b, a);
    }
    /* Pass 2: bits and residual, block by block in increasing order (the
     * order rz_sign_encode_range needs for bytes shared by two blocks). */
    for (b = 0, s = 0; b < nblocks; b++, s = e) {
        e = count - s > ctx->block ? s + ctx->block : count;
        rz_sign_encode_range(v, s, e, rz_codec_load_f32(wire + 4 * b), bits,
                             residual);
    }
    *size_p = size;
    return RZ_OK;
}

static rz_status_t rz_blocksign_decompress(void *ctx_,
                                           const rz_compressor_key_t *key,
                                           uint32_t dtype, const void *in,
                                           size_t size, void *y, size_t count,
                                           float alpha, float beta)
{
    rz_blocksign_ctx_t *ctx = ctx_;
    const unsigned char *wire = in, *bits;
    size_t need, nblocks, b, s, e;

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
    if (rz_blocksign_size(ctx, count, &need) != 0 || size != need) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "%zu bytes for %zu elements (want ceil(n/8) + "
                     "4 ceil(n/%zu))", size, count, ctx->block);
        return RZ_ERR_MALFORMED;
    }
    nblocks = rz_blocksign_nblocks(count, ctx->block);
    bits = wire + 4 * nblocks;
    for (b = 0; b < nblocks; b++) {
        uint32_t scale_bits = rz_codec_load_u32(wire + 4 * b);

        if (!rz_sign_scale_valid(scale_bits)) {
            RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                         "scale %zu (0x%08x) is not a finite non-negative "
                         "fp32", b, (unsigned)scale_bits);
            return RZ_ERR_MALFORMED;
        }
    }
    if (!rz_sign_pad_valid(bits, count)) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "nonzero padding bits after element %zu", count - 1);
        return RZ_ERR_MALFORMED;
    }
    for (b = 0, s = 0; b < nblocks; b++, s = e) {
        e = count - s > ctx->block ? s + ctx->block : count;
        rz_sign_decode_range(bits, s, e,
                             alpha * rz_codec_load_f32(wire + 4 * b), beta,
                             y);
    }
    return RZ_OK;
}

static rz_status_t rz_blocksign_delta_bound(void *ctx_, uint32_t dtype,
                                            size_t count, double *delta_p)
{
    rz_blocksign_ctx_t *ctx = ctx_;

    if (ctx == NULL || delta_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    /* Per block delta_b >= 1/n_b, so delta >= 1/max_b n_b = 1/min(L, n).
     * Nothing is lost when n = 0. */
    if (count == 0) {
        *delta_p = 1.0;
    } else {
        *delta_p = 1.0 / (double)(count < ctx->block ? count : ctx->block);
    }
    return RZ_OK;
}

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "blocksign",
    .description = "blockwise scaled sign: 1 bit per element + one fp32 "
                   "L1-mean scale per block of L (block=L, default 256)",
    .init = rz_blocksign_init,
    .query = rz_blocksign_query,
    .max_compressed_size = rz_blocksign_max_compressed_size,
    .compress = rz_blocksign_compress,
    .decompress = rz_blocksign_decompress,
    .finalize = rz_blocksign_finalize,
    .delta_bound = rz_blocksign_delta_bound,
};
