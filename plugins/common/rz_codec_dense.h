/*
 * Plugin glue of the dense elementwise codecs (none, fp16, bf16): a fixed
 * number of wire bytes per fp32 element, Enc and Dec in an implementation
 * table chosen at init, and the same argument checks, sizes and log lines
 * around them (header-only, static inline, like rz_codec_util.h).
 */
#ifndef RZ_CODEC_DENSE_H
#define RZ_CODEC_DENSE_H

#include "rz_codec_util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RZ_CODEC_HAVE_AVX2 1
#else
#define RZ_CODEC_HAVE_AVX2 0
#endif

/* One compiled copy of a codec's kernels. encode writes count elements'
 * wire bytes and, when res != NULL, the residual v - Dec(Enc(v)) (res may
 * be in itself); decode accumulates y = beta*y + alpha*Dec(in). */
typedef struct rz_codec_dense_impl {
    const char *name;
    void (*encode)(const float *in, size_t count, void *out, float *res);
    void (*decode)(const void *in, size_t count, float *y, float alpha,
                   float beta);
} rz_codec_dense_impl_t;

/*
 * RZ_CODEC_DENSE_IMPLS(prefix, encode_all, decode_all) defines the
 * compiled copies of a codec's always-inline kernels: static const
 * rz_codec_dense_impl_t prefix##_impl_portable (baseline) and a pointer
 * prefix##_impl_avx2 to the same source compiled with target("avx2"),
 * NULL where the build has no AVX2 copy. No FMA is enabled, and every
 * operation is an exact IEEE one, so both copies give the same bits.
 */
#define RZ_CODEC_DENSE_PORTABLE_(prefix, encode_all, decode_all)               \
    static void prefix##_encode_portable(const float *in, size_t count,        \
                                         void *out, float *res)                \
    {                                                                          \
        encode_all(in, count, out, res);                                       \
    }                                                                          \
    static void prefix##_decode_portable(const void *in, size_t count,         \
                                         float *y, float alpha, float beta)    \
    {                                                                          \
        decode_all(in, count, y, alpha, beta);                                 \
    }                                                                          \
    static const rz_codec_dense_impl_t prefix##_impl_portable = {              \
        "portable", prefix##_encode_portable, prefix##_decode_portable}

#if RZ_CODEC_HAVE_AVX2
#define RZ_CODEC_DENSE_IMPLS(prefix, encode_all, decode_all)                   \
    RZ_CODEC_DENSE_PORTABLE_(prefix, encode_all, decode_all);                  \
    __attribute__((target("avx2"))) static void prefix##_encode_avx2(          \
        const float *in, size_t count, void *out, float *res)                  \
    {                                                                          \
        encode_all(in, count, out, res);                                       \
    }                                                                          \
    __attribute__((target("avx2"))) static void prefix##_decode_avx2(          \
        const void *in, size_t count, float *y, float alpha, float beta)       \
    {                                                                          \
        decode_all(in, count, y, alpha, beta);                                 \
    }                                                                          \
    static const rz_codec_dense_impl_t prefix##_impl_avx2_copy = {             \
        "avx2", prefix##_encode_avx2, prefix##_decode_avx2};                   \
    static const rz_codec_dense_impl_t *const prefix##_impl_avx2 =             \
        &prefix##_impl_avx2_copy
#else
#define RZ_CODEC_DENSE_IMPLS(prefix, encode_all, decode_all)                   \
    RZ_CODEC_DENSE_PORTABLE_(prefix, encode_all, decode_all);                  \
    static const rz_codec_dense_impl_t *const prefix##_impl_avx2 = NULL
#endif

typedef struct rz_codec_dense_ctx {
    const rz_compressor_host_t *host;
    const rz_codec_dense_impl_t *impl;
} rz_codec_dense_ctx_t;

/* width * n, or 0 when that does not fit a size_t (no buffer could hold
 * it). */
static inline size_t rz_codec_dense_wire_size(size_t count, size_t width)
{
    return count > SIZE_MAX / width ? 0 : width * count;
}

static inline rz_status_t
rz_codec_dense_ctx_new(const rz_compressor_host_t *host,
                       const rz_codec_dense_impl_t *impl, void **ctx_p)
{
    rz_codec_dense_ctx_t *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ctx->host = host;
    ctx->impl = impl;
    *ctx_p = ctx;
    return RZ_OK;
}

/* The AVX2 copy when the build has one (@avx2 != NULL) and the CPU runs
 * it; NULL otherwise. */
static inline const rz_codec_dense_impl_t *
rz_codec_dense_avx2(const rz_codec_dense_impl_t *avx2)
{
#if RZ_CODEC_HAVE_AVX2
    if (avx2 != NULL) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? avx2 : NULL;
    }
#endif
    (void)avx2;
    return NULL;
}

/* impl=auto|portable|avx2 into *impl_p; RZ_ERR_NOT_SUPPORTED when avx2 is
 * asked for on a CPU or build without it. */
static inline rz_status_t
rz_codec_dense_pick_impl(const rz_compressor_host_t *host, const char *val,
                         const rz_codec_dense_impl_t *portable,
                         const rz_codec_dense_impl_t *avx2,
                         const rz_codec_dense_impl_t **impl_p)
{
    const rz_codec_dense_impl_t *fast;

    if (strcmp(val, "portable") == 0) {
        *impl_p = portable;
        return RZ_OK;
    }
    if (strcmp(val, "auto") == 0) {
        fast = rz_codec_dense_avx2(avx2);
        *impl_p = fast != NULL ? fast : portable;
        return RZ_OK;
    }
    if (strcmp(val, "avx2") == 0) {
        fast = rz_codec_dense_avx2(avx2);
        if (fast != NULL) {
            *impl_p = fast;
            return RZ_OK;
        }
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "impl=avx2: this CPU or build has no AVX2");
        return RZ_ERR_NOT_SUPPORTED;
    }
    RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                 "impl=%s: want auto, portable or avx2", val);
    return RZ_ERR_INVALID_PARAM;
}

/* The "malformed parameter string" error of init(). */
static inline rz_status_t
rz_codec_dense_bad_params(const rz_compressor_host_t *host, const char *params)
{
    RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                 "malformed parameter string \"%s\" (want key=value)", params);
    return RZ_ERR_INVALID_PARAM;
}

/* init() of a codec whose one parameter is impl=auto|portable|avx2
 * (default auto); @codec names it in the error for any other key. @avx2
 * is NULL when the build has no AVX2 copy. */
static inline rz_status_t
rz_codec_dense_init(const rz_compressor_host_t *host, const char *params,
                    const char *codec, const rz_codec_dense_impl_t *portable,
                    const rz_codec_dense_impl_t *avx2, void **ctx_p)
{
    const char *pos = params;
    char key[32], val[64];
    const rz_codec_dense_impl_t *impl;
    rz_status_t status;
    int rc;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_codec_dense_pick_impl(host, "auto", portable, avx2, &impl);
    if (status != RZ_OK) {
        return status;
    }
    while ((rc = rz_codec_param_next(&pos, key, sizeof(key), val,
                                     sizeof(val))) > 0) {
        if (strcmp(key, "impl") != 0) {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "unknown parameter '%s' (%s takes impl)", key, codec);
            return RZ_ERR_INVALID_PARAM;
        }
        status = rz_codec_dense_pick_impl(host, val, portable, avx2, &impl);
        if (status != RZ_OK) {
            return status;
        }
    }
    if (rc < 0) {
        return rz_codec_dense_bad_params(host, params);
    }
    status = rz_codec_dense_ctx_new(host, impl, ctx_p);
    if (status == RZ_OK) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_DEBUG, "%s kernels", impl->name);
    }
    return status;
}

/* max_compressed_size() for @width bytes per element. */
static inline size_t rz_codec_dense_max_size(uint32_t dtype, size_t count,
                                             size_t width)
{
    size_t size;

    if (dtype != RZ_COMPRESSOR_DTYPE_F32 || count == 0) {
        return 0;
    }
    size = rz_codec_dense_wire_size(count, width);
    /* An impossible size makes every capacity check fail. */
    return size == 0 ? SIZE_MAX : size;
}

/* compress() for @width bytes per element (no key: deterministic). */
static inline rz_status_t
rz_codec_dense_compress(void *ctx_, size_t width, uint32_t dtype,
                        const void *in, size_t count, void *out,
                        size_t capacity, size_t *size_p, void *residual)
{
    const rz_codec_dense_ctx_t *ctx = ctx_;
    size_t size;

    if (ctx == NULL || size_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        *size_p = 0; /* note 7: empty chunks send nothing */
        return RZ_OK;
    }
    if (in == NULL || out == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    size = rz_codec_dense_wire_size(count, width);
    if (size == 0 || capacity < size) {
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                     "capacity %zu too small for %zu elements "
                     "(need %zun bytes)",
                     capacity, count, width);
        return RZ_ERR_INVALID_PARAM;
    }
    ctx->impl->encode(in, count, out, residual);
    *size_p = size;
    return RZ_OK;
}

/* decompress() for @width bytes per element, every pattern of which
 * decodes to something, so the size is all there is to check. */
static inline rz_status_t rz_codec_dense_decompress(void *ctx_, size_t width,
                                                    uint32_t dtype,
                                                    const void *in, size_t size,
                                                    void *y, size_t count,
                                                    float alpha, float beta)
{
    const rz_codec_dense_ctx_t *ctx = ctx_;
    size_t need;

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
    need = rz_codec_dense_wire_size(count, width);
    if (need == 0 || size != need) {
        /* Debug level: the host reports the failed call itself. */
        RZ_CODEC_LOG(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                     "%zu bytes for %zu elements (want %zun)", size, count,
                     width);
        return RZ_ERR_MALFORMED;
    }
    ctx->impl->decode(in, count, y, alpha, beta);
    return RZ_OK;
}

#endif
