/*
 * Deliberately broken compressor plugins for the loader and checker tests.
 * One source, one variant per FAKE_* macro (tests/codecs/loader.cmake):
 *   FAKE_GOOD       a valid identity plugin (name from FAKE_NAME)
 *   FAKE_ABI        abi_version 2
 *   FAKE_SHORT      struct_size shorter than v1's mandatory part
 *   FAKE_NOSYM      exports no rz_compressor_plugin_v1
 *   FAKE_WRONGNAME  declares a name that differs from its file name
 *   FAKE_INITFAIL   init always fails with RZ_ERR_INVALID_PARAM
 *   FAKE_NULLPTR    decompress is NULL
 *   FAKE_LIAR       loads fine but claims LOSSLESS while dropping the last
 *                   element (the checker must catch it)
 */
#include <ringzip/compressor.h>

#include <string.h>

#ifndef FAKE_NAME
#define FAKE_NAME "fake_good"
#endif

/* Some variants leave these unused. */
#define FAKE_MAYBE_UNUSED __attribute__((unused))

static int fake_ctx_token FAKE_MAYBE_UNUSED;

static rz_status_t fake_init(const rz_compressor_host_t *host,
                             const char *params, void **ctx_p)
{
#ifdef FAKE_INITFAIL
    host->log(host, RZ_COMPRESSOR_LOG_ERROR, "refusing to start (test)");
    (void)params;
    (void)ctx_p;
    return RZ_ERR_INVALID_PARAM;
#else
    /* Accepts "" or "x=<anything>"; anything else is an error. */
    if (params != NULL && params[0] != '\0' && strncmp(params, "x=", 2) != 0) {
        host->log(host, RZ_COMPRESSOR_LOG_ERROR, "unknown parameter '%s'",
                  params);
        return RZ_ERR_INVALID_PARAM;
    }
    *ctx_p = &fake_ctx_token;
    return RZ_OK;
#endif
}

static rz_status_t fake_query(void *ctx, rz_compressor_info_t *info)
{
    rz_compressor_info_t mine = {0};

    (void)ctx;
    mine.caps = RZ_COMPRESSOR_CAP_LOSSLESS | RZ_COMPRESSOR_CAP_DETERMINISTIC |
                RZ_COMPRESSOR_CAP_FIXED_SIZE;
    mine.dtypes = RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32);
    mine.wire_id = RZ_COMPRESSOR_WIRE_ID_USER + 0x7e57;
    /* Only the members the host's struct has room for. */
    size_t n = info->struct_size < sizeof(mine) ? info->struct_size
                                                : sizeof(mine);
    if (n > sizeof(uint32_t)) {
        memcpy((char *)info + sizeof(uint32_t), (char *)&mine + sizeof(uint32_t),
               n - sizeof(uint32_t));
    }
    return RZ_OK;
}

static size_t fake_max(void *ctx, uint32_t dtype, size_t count)
{
    (void)ctx;
    (void)dtype;
    return 4 * count;
}

static rz_status_t fake_compress(void *ctx, const rz_compressor_key_t *key,
                                 uint32_t dtype, const void *in, size_t count,
                                 void *out, size_t capacity, size_t *size_p,
                                 void *residual)
{
    (void)ctx;
    (void)key;
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if ((count > 0 && (in == NULL || out == NULL)) || size_p == NULL ||
        capacity < 4 * count) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (count > 0) {
        memcpy(out, in, 4 * count);
#ifdef FAKE_LIAR
        memset((char *)out + 4 * (count - 1), 0, 4);
#endif
    }
    if (residual != NULL && count > 0) {
        memset(residual, 0, 4 * count);
    }
    *size_p = 4 * count;
    return RZ_OK;
}

static FAKE_MAYBE_UNUSED rz_status_t fake_decompress(void *ctx, const rz_compressor_key_t *key,
                                   uint32_t dtype, const void *in, size_t size,
                                   void *y, size_t count, float alpha,
                                   float beta)
{
    float *yf = y;

    (void)ctx;
    (void)key;
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (size != 4 * count) {
        return RZ_ERR_MALFORMED;
    }
    if (count > 0 && (in == NULL || y == NULL)) {
        return RZ_ERR_INVALID_PARAM;
    }
    for (size_t i = 0; i < count; i++) {
        float d;
        memcpy(&d, (const char *)in + 4 * i, 4);
        yf[i] = beta == 0.0f ? alpha * d : beta * yf[i] + alpha * d;
    }
    return RZ_OK;
}

static void fake_finalize(void *ctx)
{
    (void)ctx;
}

#ifdef FAKE_NOSYM
#define FAKE_SYMBOL rz_compressor_plugin_v0
#else
#define FAKE_SYMBOL rz_compressor_plugin_v1
#endif

RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t FAKE_SYMBOL = {
#ifdef FAKE_ABI
    .abi_version = 2,
#else
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
#endif
#ifdef FAKE_SHORT
    .struct_size = 24,
#else
    .struct_size = sizeof(rz_compressor_v1_t),
#endif
#ifdef FAKE_WRONGNAME
    .name = "someone_else",
#else
    .name = FAKE_NAME,
#endif
    .description = "test fake",
    .init = fake_init,
    .query = fake_query,
    .max_compressed_size = fake_max,
    .compress = fake_compress,
#ifdef FAKE_NULLPTR
    .decompress = NULL,
#else
    .decompress = fake_decompress,
#endif
    .finalize = fake_finalize,
    .delta_bound = NULL,
};
