/*
 * example: a complete ringzip compressor plugin to copy and adapt.
 *
 * It is a small but real codec, "scaled int8": per encoded vector (one
 * chunk of n fp32 elements)
 *
 *     M     = max_i |v_i|                          (exact, fp32)
 *     scale = fl(M / qmax)                         (one fp32 division)
 *     q_i   = round_to_nearest_even(fl(v_i / scale)), clamped to +-qmax
 *     Dec_i = fl((float)q_i * scale)
 *
 * with every q_i = 0 (and Dec = +0) when scale is 0 (an all-zero vector,
 * or M so small that M / qmax underflows). qmax is the parameter "qmax"
 * (1..127, default 127). The wire is the fp32 scale followed by the n codes
 * as signed bytes: 4 + n bytes, little-endian.
 *
 * It needs only the installed header <ringzip/compressor.h>: no other
 * ringzip header, and it must not link against libringzip (the host loads
 * it with dlopen; unresolved symbols would be an error). Build it with
 * -fvisibility=hidden so that the one symbol it exports is the
 * rz_compressor_plugin_v1 struct at the end of this file. The contract of
 * every callback is in docs/PLUGINS.md and in the comments of
 * <ringzip/compressor.h>; the comments below say what the host expects at
 * each step.
 *
 * Floating point: compile with -ffp-contract=off and never with
 * -ffast-math. The residual must equal v - Dec bitwise, which only holds
 * when encoder and decoder round every operation the same way.
 */
#include <ringzip/compressor.h>

#include <errno.h>
#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Wire ids 0x80000000 and above are free for plugins outside ringzip.
 * Pick one per wire format and change it whenever the format changes:
 * hosts compare wire ids to decide whether two ranks can talk. */
#define EX_WIRE_ID (RZ_COMPRESSOR_WIRE_ID_USER + 1u)

#define EX_QMAX_DEFAULT 127

/* The per-instance state: init() allocates it, every other callback gets it
 * back as ctx, finalize() frees it. Keep everything here (no globals): the
 * host may create several contexts with different parameters, and call
 * them from different threads (one thread per context at a time). */
typedef struct ex_ctx {
    const rz_compressor_host_t *host;   /* for logging; valid until
                                         * finalize() */
    int                         qmax;   /* largest code, 1..127 */
} ex_ctx_t;

/* ------------------------------------------------------------ helpers */

/* Wire scalars are little-endian and may sit at any address: go through
 * bytes (compilers turn these into single moves on x86). */
static uint32_t ex_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float ex_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void ex_store_f32(unsigned char *p, float f)
{
    uint32_t u = ex_f32_bits(f);
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static uint32_t ex_load_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/*
 * Round to nearest, ties to even, for |x| <= 2^22: adding and subtracting
 * 1.5 * 2^23 leaves x rounded to an integer in the default rounding mode
 * (the sum's ulp is 1). Two plain fp32 additions, so it vectorises and
 * needs no libm; it relies on -ffp-contract=off and no -ffast-math, which
 * would fold the two additions away.
 */
static float ex_round_even(float x)
{
    const float magic = 0x1.8p23f;

    return (x + magic) - magic;
}

/* The decoded value of code q: one fp32 multiplication. The encoder's
 * residual and the decoder both use this, so they agree bitwise. */
static float ex_value(int8_t q, float scale)
{
    return (float)q * scale;
}

/* 4 + n bytes for n >= 1, 0 for n = 0 (an empty chunk sends nothing, not
 * even the scale). SIZE_MAX when the sum would overflow: no buffer is that
 * large, so every capacity check fails. */
static size_t ex_wire_size(size_t n)
{
    if (n == 0) {
        return 0;
    }
    return n > SIZE_MAX - 4 ? SIZE_MAX : 4 + n;
}

/* ------------------------------------------------------------ callbacks */

/*
 * init: parse the parameter string ("key=value,key=value"; NULL or "" means
 * all defaults) and create the context. The host passes what the user wrote
 * after the colon in the compressor spec, e.g. "example:qmax=63". Unknown
 * keys and bad values are errors, never silently ignored: say why through
 * host->log at ERROR level and return RZ_ERR_INVALID_PARAM. On success set
 * *ctx_p; on failure leave it alone and free what you allocated.
 */
static rz_status_t ex_init(const rz_compressor_host_t *host,
                           const char *params, void **ctx_p)
{
    const char *p = params;
    long qmax = EX_QMAX_DEFAULT;
    ex_ctx_t *ctx;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* One key, so a small hand-written parser; ringzip's own plugins share
     * a general one (plugins/common/rz_codec_util.h, not installed). */
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (len > 5 && strncmp(p, "qmax=", 5) == 0 && p[5] >= '0' &&
            p[5] <= '9') {
            char *stop;
            errno = 0;
            qmax = strtol(p + 5, &stop, 10);
            if (errno != 0 || stop != p + len || qmax < 1 || qmax > 127) {
                host->log(host, RZ_COMPRESSOR_LOG_ERROR,
                          "qmax=%.*s: want an integer in [1, 127]",
                          (int)(len - 5), p + 5);
                return RZ_ERR_INVALID_PARAM;
            }
        } else if (len > 0) {
            host->log(host, RZ_COMPRESSOR_LOG_ERROR,
                      "unknown or malformed parameter '%.*s' (example "
                      "takes qmax=1..127)", (int)len, p);
            return RZ_ERR_INVALID_PARAM;
        }
        p = end != NULL ? end + 1 : NULL;
    }

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ctx->host = host;
    ctx->qmax = (int)qmax;
    *ctx_p = ctx;
    return RZ_OK;
}

/* finalize: free the context. After this the host pointer is gone too. */
static void ex_finalize(void *ctx)
{
    free(ctx);
}

/*
 * query: describe the codec. The host zeroes *info and sets
 * info->struct_size to the size of ITS struct, which may be older (smaller)
 * than ours: write only the members that fit, or you scribble over the
 * host's memory.
 *
 * Capabilities are promises: rz_plugin_check tests every bit you set, and
 * the error-feedback layer relies on them. This codec is deterministic (no
 * randomness; the key is ignored) and always writes exactly
 * max_compressed_size() bytes. It is not idempotent (re-encoding may round
 * the scale differently) and homogeneous only away from subnormals and the
 * scale step-down above; declare a bit only when you can show it holds for
 * every input the checker may try.
 */
#define EX_FITS(info, member)                                               \
    (offsetof(rz_compressor_info_t, member) + sizeof((info)->member) <=     \
     (info)->struct_size)

static rz_status_t ex_query(void *ctx, rz_compressor_info_t *info)
{
    if (ctx == NULL || info == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (EX_FITS(info, caps)) {
        info->caps = RZ_COMPRESSOR_CAP_DETERMINISTIC |
                     RZ_COMPRESSOR_CAP_FIXED_SIZE;
    }
    if (EX_FITS(info, dtypes)) {
        /* fp32 only: compress/decompress refuse anything else. */
        info->dtypes = RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32);
    }
    if (EX_FITS(info, min_count)) {
        /* Below this many elements the host may send chunks raw. */
        info->min_count = 16;
    }
    if (EX_FITS(info, wire_id)) {
        info->wire_id = EX_WIRE_ID;
    }
    if (EX_FITS(info, priority)) {
        info->priority = 0;
    }
    return RZ_OK;
}

/*
 * max_compressed_size: the most bytes compress() will write for count
 * elements, 0 for count 0. The host sizes its buffers with it, so it must
 * never be too small. With RZ_COMPRESSOR_CAP_FIXED_SIZE it is exact.
 */
static size_t ex_max_compressed_size(void *ctx, uint32_t dtype, size_t count)
{
    if (ctx == NULL || dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return 0;
    }
    return ex_wire_size(count);
}

/*
 * compress: encode count elements of in into out (capacity bytes, no
 * alignment), set *size_p, and, when residual is not NULL, write
 * residual[i] = in[i] - Dec_i with exactly the fp32 values a receiver will
 * decode (error feedback keeps it). residual may be the same pointer as in
 * (in-place error update): read an element before storing its residual.
 * count 0 writes nothing and sets *size_p = 0 (in/out may then be NULL).
 *
 * The key (seed, iteration, chunk, rank) is for randomised codecs: every
 * rank passes the same key for the same chunk and iteration. This codec has
 * no randomness and ignores it.
 */
static rz_status_t ex_compress(void *ctx_, const rz_compressor_key_t *key,
                               uint32_t dtype, const void *in_, size_t count,
                               void *out_, size_t capacity, size_t *size_p,
                               void *residual)
{
    ex_ctx_t *ctx = ctx_;
    const float *in = in_;
    float *r = residual;
    unsigned char *out = out_;
    signed char *codes;
    uint32_t mbits = 0;
    float scale, qf;
    size_t size, i;

    (void)key;
    if (ctx == NULL || size_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_COMPRESSOR_DTYPE_F32) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0) {
        *size_p = 0;            /* an empty chunk sends nothing at all */
        return RZ_OK;
    }
    if (in == NULL || out == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    size = ex_wire_size(count);
    if (capacity < size) {
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                       "capacity %zu < %zu bytes for %zu elements", capacity,
                       size, count);
        return RZ_ERR_INVALID_PARAM;
    }

    /* Pass 1: the largest magnitude. The bit patterns of non-negative
     * floats sort like the floats, and inf and NaN sort above every finite
     * value, so one unsigned max over |x|'s bits finds M and any inf or
     * NaN at once (and vectorises). A non-finite input has no finite
     * scale, and a decoder must reject such bytes, so refuse to make them,
     * before anything is written (the residual may be the input). */
    for (i = 0; i < count; i++) {
        uint32_t a = ex_f32_bits(in[i]) & 0x7FFFFFFFu;
        mbits = a > mbits ? a : mbits;
    }
    if (mbits >= 0x7F800000u) {
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_ERROR,
                       "input of %zu elements is not finite", count);
        return RZ_ERR_INVALID_PARAM;
    }
    qf = (float)ctx->qmax;
    scale = ex_bits_f32(mbits) / qf;
    /* Rounding may push qmax * scale past FLT_MAX (M = FLT_MAX, qmax =
     * 127): step the scale down until the largest code decodes finite. */
    while (qf * scale > FLT_MAX) {
        scale = ex_bits_f32(ex_f32_bits(scale) - 1);
    }
    ex_store_f32(out, scale);

    /* Pass 2: codes and residual, in loops without branches in the body
     * (they vectorise). A zero scale (all-zero input, or M / qmax below
     * the smallest subnormal) sends every code 0. */
    codes = (signed char *)(out + 4);
    if (scale == 0.0f) {
        memset(codes, 0, count);
    } else {
        for (i = 0; i < count; i++) {
            float q = ex_round_even(in[i] / scale);
            /* |x / scale| may pass qmax: by an ulp for a normal scale
             * (rounded, or stepped down above), by more for a subnormal
             * one (few significant bits). Those codes saturate. */
            q = q > qf ? qf : q;
            q = q < -qf ? -qf : q;
            codes[i] = (signed char)(int)q;
        }
    }
    /* The residual from the codes just written, i.e. from exactly what a
     * receiver decodes. Each in[i] is read before r[i] is stored, so
     * r == in works. */
    if (r != NULL) {
        for (i = 0; i < count; i++) {
            r[i] = in[i] - ex_value((int8_t)codes[i], scale);
        }
    }
    *size_p = size;
    return RZ_OK;
}

/*
 * decompress: y = beta*y + alpha*Dec(in), elementwise, computed as
 * fl(fl(beta*y) + fl(alpha*d)); when beta == 0 the beta term is left out
 * and y is only written (it may hold garbage, even NaN). This lets the
 * host fuse a reduction with decoding (beta = 1: accumulate).
 *
 * The bytes come from another process over the network: treat them as
 * untrusted. Check the size against count and every field against the
 * parameters, and return RZ_ERR_MALFORMED for anything an encoder would
 * not have produced, without reading or writing out of bounds. Here all
 * checks run before y is touched.
 */
static rz_status_t ex_decompress(void *ctx_, const rz_compressor_key_t *key,
                                 uint32_t dtype, const void *in_, size_t size,
                                 void *y_, size_t count, float alpha,
                                 float beta)
{
    ex_ctx_t *ctx = ctx_;
    const unsigned char *in = in_;
    const signed char *codes;
    float *y = y_;
    uint32_t scale_bits;
    float scale;
    int lo = 0, hi = 0;
    size_t i;

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
    if (size != ex_wire_size(count)) {
        /* Debug level: the host reports the failed call itself. */
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                       "%zu bytes for %zu elements (want 4 + n)", size, count);
        return RZ_ERR_MALFORMED;
    }
    /* A finite scale with the sign bit clear (+0 included) whose largest
     * code decodes finite: what compress() writes. */
    scale_bits = ex_load_u32(in);
    if (scale_bits >= 0x7F800000u) {
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                       "scale 0x%08x is not a finite non-negative fp32",
                       (unsigned)scale_bits);
        return RZ_ERR_MALFORMED;
    }
    scale = ex_bits_f32(scale_bits);
    if ((float)ctx->qmax * scale > FLT_MAX) {
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                       "scale %a: code %d would decode to inf", (double)scale,
                       ctx->qmax);
        return RZ_ERR_MALFORMED;
    }
    codes = (const signed char *)(in + 4);
    /* Every code within +-qmax (a min/max scan, which vectorises). */
    for (i = 0; i < count; i++) {
        int q = codes[i];
        lo = q < lo ? q : lo;
        hi = q > hi ? q : hi;
    }
    if (lo < -ctx->qmax || hi > ctx->qmax) {
        ctx->host->log(ctx->host, RZ_COMPRESSOR_LOG_DEBUG,
                       "a code outside [-%d, %d]", ctx->qmax, ctx->qmax);
        return RZ_ERR_MALFORMED;
    }

    /* Two loops so that the beta test is not in the body. */
    if (beta == 0.0f) {
        for (i = 0; i < count; i++) {
            y[i] = alpha * ex_value((int8_t)codes[i], scale);
        }
    } else {
        for (i = 0; i < count; i++) {
            y[i] = beta * y[i] + alpha * ex_value((int8_t)codes[i], scale);
        }
    }
    return RZ_OK;
}

/*
 * The one exported symbol. The host reads abi_version and struct_size
 * first, checks that name matches the file name (librz_<name>.so: this
 * file must be librz_example.so) and that every function pointer but
 * delta_bound is set, before calling anything.
 */
RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
    .abi_version = RZ_COMPRESSOR_ABI_VERSION,
    .struct_size = sizeof(rz_compressor_v1_t),
    .name = "example",
    .description = "example template: scaled int8 (one fp32 max-abs scale + "
                   "one signed byte per element)",
    .init = ex_init,
    .query = ex_query,
    .max_compressed_size = ex_max_compressed_size,
    .compress = ex_compress,
    .decompress = ex_decompress,
    .finalize = ex_finalize,
    /* Optional: a guaranteed delta for CONTRACTIVE codecs. */
    .delta_bound = NULL,
};
