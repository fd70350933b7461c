/*
 * Shared by the codec unit tests (tests/codecs/test_codec_*.c): each test
 * dlopens the plugin file it is given on the command line (exactly the .so
 * that ships) and drives its v1 struct directly, without the loader.
 */
#ifndef RZ_CODEC_TEST_H
#define RZ_CODEC_TEST_H

#include <ringzip/compressor.h>

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rz_ct_failures, rz_ct_checks;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        rz_ct_checks++;                                                    \
        if (!(cond)) {                                                     \
            rz_ct_failures++;                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

static void rz_ct_log(const rz_compressor_host_t *host, int level,
                      const char *fmt, ...)
{
    va_list ap;
    (void)host;
    if (level > RZ_COMPRESSOR_LOG_WARN && getenv("RZ_CT_VERBOSE") == NULL) {
        return;
    }
    va_start(ap, fmt);
    fprintf(stderr, "[plugin %d] ", level);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static const rz_compressor_host_t rz_ct_host = {
    RZ_COMPRESSOR_ABI_VERSION, sizeof(rz_compressor_host_t), rz_ct_log, NULL};

/* dlopen @path and return its v1 struct; exits on failure. */
static const rz_compressor_v1_t *rz_ct_load(const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const rz_compressor_v1_t *ops;

    if (dl == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    ops = dlsym(dl, RZ_COMPRESSOR_SYMBOL_V1);
    if (ops == NULL) {
        fprintf(stderr, "%s: no %s\n", path, RZ_COMPRESSOR_SYMBOL_V1);
        exit(2);
    }
    return ops;     /* never unloaded: the test process ends soon */
}

/* init with @params; exits when init fails. */
static void *rz_ct_init(const rz_compressor_v1_t *ops, const char *params)
{
    void *ctx = NULL;
    rz_status_t st = ops->init(&rz_ct_host, params, &ctx);
    if (st != RZ_OK) {
        fprintf(stderr, "%s init(\"%s\") failed: %d\n", ops->name,
                params ? params : "", (int)st);
        exit(2);
    }
    return ctx;
}

/* Deterministic test vectors: xorshift64* scaled to roughly N(0, 1)
 * (sum of 4 uniforms), optionally with exact ties and zeros mixed in. */
static uint64_t rz_ct_rng = 0x1234567887654321ull;
static double rz_ct_uniform(void)
{
    rz_ct_rng ^= rz_ct_rng >> 12;
    rz_ct_rng ^= rz_ct_rng << 25;
    rz_ct_rng ^= rz_ct_rng >> 27;
    return (double)((rz_ct_rng * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static void rz_ct_fill(float *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        double g = rz_ct_uniform() + rz_ct_uniform() + rz_ct_uniform() +
                   rz_ct_uniform() - 2.0;
        v[i] = (float)(g * scale);
    }
}

static int rz_ct_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, rz_ct_checks, rz_ct_failures);
    return rz_ct_failures == 0 ? 0 : 1;
}

/* ------------------------------------------- dense codecs (none/fp16/bf16)
 *
 * Contract checks shared by the fixed-size, one-word-per-element codecs,
 * driven through the test's own enc/dec wrappers (dtype F32, its key). */

typedef rz_status_t (*rz_ct_enc_fn)(void *ctx, const float *in, size_t n,
                                    void *out, size_t cap, size_t *size_p,
                                    float *res);
typedef rz_status_t (*rz_ct_dec_fn)(void *ctx, const void *in, size_t size,
                                    float *y, size_t n, float alpha,
                                    float beta);

static inline uint32_t rz_ct_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/*
 * C3 and the ABI rules for one vector v of n elements that the caller has
 * just encoded with ctx into w (s bytes, @bpe wire bytes per element, the
 * residual in r) and decoded with alpha 1, beta 0 into c1:
 * re-encoding c1 gives the same bytes and values (C3), the in-place residual
 * and the encode without residual give the same bytes (and residual), and
 * decode-accumulate with beta = 0 (NaN in y does not leak), beta = -0,
 * beta = 1 / alpha = 0.5 and a general pair rounds once per operation.
 * c2, io, y, y2 (n floats) and w2 (bpe * n bytes) are scratch; y is
 * refilled from the shared generator, as the callers always did.
 */
static inline void rz_ct_dense_contract(rz_ct_enc_fn enc, rz_ct_dec_fn dec,
                                        void *ctx, size_t bpe, const char *tag,
                                        size_t n, const float *v,
                                        const float *r, const float *c1,
                                        const unsigned char *w, size_t s,
                                        float *c2, float *io, float *y,
                                        float *y2, unsigned char *w2)
{
    size_t s2 = 0;

    /* C3: C(C(v)) == C(v), bytes and decoded values. */
    CHECK(enc(ctx, c1, n, w2, bpe * n, &s2, NULL) == RZ_OK && s2 == s &&
              memcmp(w, w2, s) == 0,
          "%s: C3 bytes, n %zu", tag, n);
    CHECK(dec(ctx, w2, s2, c2, n, 1.0f, 0.0f) == RZ_OK &&
              memcmp(c1, c2, n * 4) == 0,
          "%s: C3 values", tag);
    /* In place (residual == in): the same bytes and residual. */
    memcpy(io, v, n * 4);
    CHECK(enc(ctx, io, n, w2, bpe * n, &s2, io) == RZ_OK &&
              memcmp(w, w2, s) == 0 && memcmp(io, r, n * 4) == 0,
          "%s: in-place residual, n %zu", tag, n);
    /* No residual asked: the same bytes. */
    CHECK(enc(ctx, v, n, w2, bpe * n, &s2, NULL) == RZ_OK &&
              memcmp(w, w2, s) == 0,
          "%s: without residual", tag);
    /* beta = 0: y is only written, NaN in y does not leak. */
    for (size_t i = 0; i < n; i++) {
        y[i] = NAN;
    }
    CHECK(dec(ctx, w, s, y, n, 0.5f, 0.0f) == RZ_OK, "dec");
    for (size_t i = 0; i < n; i++) {
        CHECK(rz_ct_f2u(y[i]) == rz_ct_f2u(0.5f * c1[i]), "beta 0 at %zu", i);
    }
    /* -0 is zero too. */
    for (size_t i = 0; i < n; i++) {
        y[i] = NAN;
    }
    CHECK(dec(ctx, w, s, y, n, 1.0f, -0.0f) == RZ_OK, "dec");
    CHECK(memcmp(y, c1, n * 4) == 0, "beta -0 reads y");
    /* beta = 1, alpha = 0.5, and a general pair. */
    rz_ct_fill(y, n, 2.0);
    memcpy(y2, y, n * 4);
    CHECK(dec(ctx, w, s, y, n, 0.5f, 1.0f) == RZ_OK, "dec");
    for (size_t i = 0; i < n; i++) {
        float want = 1.0f * y2[i] + 0.5f * c1[i];
        CHECK(rz_ct_f2u(y[i]) == rz_ct_f2u(want), "beta 1 alpha 0.5 at %zu",
              i);
    }
    memcpy(y2, y, n * 4);
    CHECK(dec(ctx, w, s, y, n, -1.25f, 0.75f) == RZ_OK, "dec");
    for (size_t i = 0; i < n; i++) {
        float bt = 0.75f * y2[i], at = -1.25f * c1[i];
        CHECK(rz_ct_f2u(y[i]) == rz_ct_f2u(bt + at), "axpby at %zu", i);
    }
}

/*
 * Empty chunks, capacity, dtype, NULL pointers and malformed sizes for a
 * codec whose wire is exactly @bpe bytes per element. @no_dec_dtype and
 * @no_size_dtype are dtypes the codec does not take (decode, and
 * max_compressed_size); @no_dec_name names the first in the message.
 * y is set to y[i] = y_sign * i before the malformed sizes @bad_sizes.
 */
static inline void rz_ct_dense_errors(const rz_compressor_v1_t *ops,
                                      const rz_compressor_key_t *key,
                                      rz_ct_enc_fn enc, rz_ct_dec_fn dec,
                                      void *ctx, size_t bpe,
                                      uint32_t no_dec_dtype,
                                      const char *no_dec_name,
                                      uint32_t no_size_dtype,
                                      int y_sign, const size_t *bad_sizes,
                                      size_t n_bad)
{
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8], y0[8];
    const size_t cap = 16 * bpe; /* twice what 8 elements take */
    unsigned char *w = malloc(cap);
    size_t size = 77;

    if (w == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    /* n = 0: 0 bytes, nothing touched, NULL buffers allowed. */
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, 0) == 0,
          "max size 0");
    CHECK(enc(ctx, NULL, 0, NULL, 0, &size, NULL) == RZ_OK && size == 0,
          "empty encode");
    CHECK(dec(ctx, NULL, 0, NULL, 0, 1.0f, 1.0f) == RZ_OK, "empty decode");
    CHECK(dec(ctx, w, bpe, y, 0, 1.0f, 0.0f) == RZ_ERR_MALFORMED,
          "count 0 with %zu bytes", bpe);
    /* Capacity, dtype, NULL. */
    size = 77;
    CHECK(enc(ctx, v, 8, w, 8 * bpe - 1, &size, NULL) ==
                  RZ_ERR_INVALID_PARAM &&
              size == 77,
          "capacity %zun-1", bpe);
    CHECK(enc(ctx, v, 8, w, 8 * bpe, &size, NULL) == RZ_OK && size == 8 * bpe,
          "capacity %zun", bpe);
    CHECK(ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F64, v, 8, w, cap, &size,
                        NULL) == RZ_ERR_NOT_SUPPORTED,
          "f64 encode");
    CHECK(ops->decompress(ctx, key, no_dec_dtype, w, 8 * bpe, y, 8, 1.0f,
                          0.0f) == RZ_ERR_NOT_SUPPORTED,
          "%s decode", no_dec_name);
    CHECK(ops->max_compressed_size(ctx, no_size_dtype, 8) == 0,
          "max size of an unsupported dtype");
    CHECK(enc(ctx, NULL, 8, w, cap, &size, NULL) == RZ_ERR_INVALID_PARAM,
          "NULL in");
    CHECK(enc(ctx, v, 8, NULL, cap, &size, NULL) == RZ_ERR_INVALID_PARAM,
          "NULL out");
    CHECK(enc(ctx, v, 8, w, cap, NULL, NULL) == RZ_ERR_INVALID_PARAM,
          "NULL size_p");
    CHECK(enc(NULL, v, 8, w, cap, &size, NULL) == RZ_ERR_INVALID_PARAM,
          "NULL ctx");
    CHECK(dec(ctx, NULL, 8 * bpe, y, 8, 1.0f, 0.0f) == RZ_ERR_INVALID_PARAM,
          "NULL wire");
    CHECK(dec(ctx, w, 8 * bpe, NULL, 8, 1.0f, 0.0f) == RZ_ERR_INVALID_PARAM,
          "NULL y");
    /* Malformed sizes: y untouched. */
    CHECK(enc(ctx, v, 8, w, cap, &size, NULL) == RZ_OK, "enc");
    for (int i = 0; i < 8; i++) {
        y[i] = y0[i] = (float)(y_sign * i);
    }
    for (size_t i = 0; i < n_bad; i++) {
        CHECK(dec(ctx, w, bad_sizes[i], y, 8, 1.0f, 0.0f) == RZ_ERR_MALFORMED,
              "size %zu for 8 elements", bad_sizes[i]);
    }
    CHECK(memcmp(y, y0, sizeof(y)) == 0, "y written on malformed input");
    /* A count whose bpe*n overflows matches no size, in particular not the
     * size bpe*n wraps to. */
    CHECK(dec(ctx, w, SIZE_MAX - (bpe - 1), y, SIZE_MAX, 1.0f, 0.0f) ==
              RZ_ERR_MALFORMED,
          "count SIZE_MAX");
    CHECK(dec(ctx, w, 0, y, SIZE_MAX / bpe + 1, 1.0f, 0.0f) ==
              RZ_ERR_MALFORMED,
          "%zun wraps to 0", bpe);
    CHECK(enc(ctx, v, SIZE_MAX / bpe + 1, w, SIZE_MAX, &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "encode count overflow");
    free(w);
}

#endif
