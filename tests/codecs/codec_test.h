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

#endif
