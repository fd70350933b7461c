/*
 * The "ratio or k" sparsifiers of ALGORITHMS.md section 1.2 (top-k,
 * random-k): their shared parameters, k(n) and the zero-gap step of their
 * decode-accumulate (header-only, static inline, like rz_codec_util.h).
 */
#ifndef RZ_CODEC_K_H
#define RZ_CODEC_K_H

#include "rz_codec_util.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct rz_codec_k_ctx {
    const rz_compressor_host_t *host;
    double ratio;     /* used when k_fixed == 0 */
    uint64_t k_fixed; /* 0: k comes from ratio */
} rz_codec_k_ctx_t;

/* init(): "ratio=<(0,1]>" (default @default_ratio) or "k=<n>", each at
 * most once, not both; *ctx_p gets an rz_codec_k_ctx_t (free() it). */
static inline rz_status_t rz_codec_k_init(const rz_compressor_host_t *host,
                                          const char *params,
                                          double default_ratio, void **ctx_p)
{
    const char *pos = params;
    char key[32], val[64];
    int have_ratio = 0, have_k = 0, rc;
    double ratio = default_ratio;
    uint64_t k = 0;
    rz_codec_k_ctx_t *ctx;

    if (host == NULL || ctx_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    while ((rc = rz_codec_param_next(&pos, key, sizeof(key), val,
                                     sizeof(val))) > 0) {
        if (strcmp(key, "ratio") == 0 && !have_ratio) {
            if (rz_codec_parse_double(val, 0.0, 1.0, &ratio) != 0) {
                RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                             "ratio=%s: want a number in (0, 1]", val);
                return RZ_ERR_INVALID_PARAM;
            }
            have_ratio = 1;
        } else if (strcmp(key, "k") == 0 && !have_k) {
            if (rz_codec_parse_u64(val, 1, UINT64_MAX, &k) != 0) {
                RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                             "k=%s: want an integer >= 1", val);
                return RZ_ERR_INVALID_PARAM;
            }
            have_k = 1;
        } else {
            RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                         "parameter '%s' %s (known: ratio=<(0,1]> or k=<n>)",
                         key,
                         (strcmp(key, "ratio") == 0 || strcmp(key, "k") == 0)
                             ? "given twice"
                             : "unknown");
            return RZ_ERR_INVALID_PARAM;
        }
    }
    if (rc < 0) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "cannot parse parameters '%s' (want key=value,...)",
                     params);
        return RZ_ERR_INVALID_PARAM;
    }
    if (have_ratio && have_k) {
        RZ_CODEC_LOG(host, RZ_COMPRESSOR_LOG_ERROR,
                     "give either ratio or k, not both");
        return RZ_ERR_INVALID_PARAM;
    }

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ctx->host = host;
    ctx->ratio = ratio;
    ctx->k_fixed = have_k ? k : 0;
    *ctx_p = ctx;
    return RZ_OK;
}

/* k = max(1, floor(ratio * n)) in IEEE double, capped at n; 0 for n = 0. */
static inline size_t rz_codec_k_of(const rz_codec_k_ctx_t *ctx, size_t n)
{
    double x;

    if (n == 0) {
        return 0;
    }
    if (ctx->k_fixed != 0) {
        return ctx->k_fixed < n ? (size_t)ctx->k_fixed : n;
    }
    x = floor(ctx->ratio * (double)n);
    if (!(x >= 1.0)) {
        return 1;
    }
    return x >= (double)n ? n : (size_t)x;
}

/* d = 0 over [lo, hi): y = beta*y + alpha*0; beta == 0 never reads y. */
static inline void rz_codec_k_gap(float *y, size_t lo, size_t hi, float alpha,
                                  float beta)
{
    const float z = alpha * 0.0f;
    size_t i;

    if (beta == 0.0f) {
        for (i = lo; i < hi; i++) {
            y[i] = z;
        }
    } else {
        for (i = lo; i < hi; i++) {
            y[i] = beta * y[i] + z;
        }
    }
}

/* rz_codec_axpby without touching y[i] when beta == 0. */
static inline float rz_codec_k_axpby_at(const float *y, size_t i, float d,
                                        float alpha, float beta)
{
    return beta == 0.0f ? alpha * d : beta * y[i] + alpha * d;
}

#endif
