/*
 * bf16 codec unit test: dlopens librz_bf16.so (argv[1]) and checks it
 * against an independent bfloat16 reference computed in double (explicit
 * ties-to-even, no FPU rounding of the result), the boundary cases of
 * ALGORITHMS.md section 5.1 C2, and invariants C3, C5 and C6, the ABI rules
 * (decode-accumulate, in-place residual, malformed sizes, unaligned wire,
 * parameters), and that the portable and AVX2 kernels give the same bits.
 *
 *   test_codec_bf16 librz_bf16.so [--exhaustive]
 *
 * By default the double reference runs on every 97th fp32 pattern plus
 * every pattern within 8 ulps of a bf16 value or rounding midpoint; on all
 * 2^32 patterns the kernels are checked against the literal section 1.2
 * formula (plus saturation and the NaN rule) and against each other.
 * --exhaustive runs the double reference on all 2^32 patterns too (two to
 * three minutes). The sanitizer build compares every 8th block only.
 */
#include "codec_test.h"

#include <float.h>

#define WIRE_ID 3u
#define BF16_MAX 0x1.fep127 /* 0x7F7F */
#define SWEEP_BLOCK (1u << 20)
/* Blocks of the all-pattern comparison: small enough to stay in cache,
 * where the kernels run at full speed. The sanitizer build, which checks
 * memory rather than bits and runs several times slower, takes every 8th
 * block (still every exponent, both signs, and runs of 2^14 neighbours). */
#define ALL_BLOCK (1u << 14)
#if defined(__SANITIZE_ADDRESS__)
#define ALL_BLOCK_STEP 8u
#else
#define ALL_BLOCK_STEP 1u
#endif

/* ------------------------------------------------------------ reference */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/*
 * The bf16 pattern for fp32 f, in double arithmetic: find the binade (not
 * below fp32's smallest normal, 2^-126, where bf16 turns subnormal like
 * fp32), scale to an integer count of bf16 spacings (exact), round that
 * count to nearest with ties to even by hand, saturate, then build the
 * pattern from the rounded value. NaN: the documented choice, the upper 16
 * bits with the quiet bit set.
 */
static uint16_t ref_encode(float f)
{
    uint32_t b = f2u(f);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    double x, q, k, fl, r, y;
    int e, E;

    if (isnan(f)) {
        return (uint16_t)((b >> 16) | 0x0040u);
    }
    if (isinf(f)) {
        return (uint16_t)(sign | 0x7F7Fu);
    }
    x = fabs((double)f);
    if (x == 0.0) {
        return sign;
    }
    (void)frexp(x, &e); /* x in [2^(e-1), 2^e) */
    E = e - 1 < -126 ? -126 : e - 1;
    q = ldexp(1.0, E - 7); /* spacing: 8 significant bits */
    k = x / q;             /* exact: a power-of-two scaling */
    fl = floor(k);
    if (k - fl > 0.5 || (k - fl == 0.5 && fmod(fl, 2.0) != 0.0)) {
        r = fl + 1.0;
    } else {
        r = fl;
    }
    y = r * q;
    if (y > BF16_MAX) {
        return (uint16_t)(sign | 0x7F7Fu);
    }
    if (y < 0x1p-126) {
        return (uint16_t)(sign | (uint16_t)(y / 0x1p-133));
    }
    (void)frexp(y, &e);
    return (uint16_t)(sign | (uint16_t)((e - 1 + 127) << 7) |
                      (uint16_t)((ldexp(y, -(e - 1)) - 1.0) * 128.0));
}

/* Exact value of bf16 pattern h (NaN for NaNs). */
static double ref_decode(uint16_t h)
{
    int s = h >> 15, ex = (h >> 7) & 0xFF, m = h & 0x7F;
    double v;

    if (ex == 255) {
        v = m == 0 ? INFINITY : NAN;
    } else if (ex == 0) {
        v = ldexp((double)m, -133);
    } else {
        v = ldexp(128.0 + m, ex - 134);
    }
    return s ? -v : v;
}

/* ALGORITHMS.md section 1.2 literally: h = (b + 0x7FFF + ((b >> 16) & 1))
 * >> 16 in uint32, a result of +-inf saturated to +-0x7F7F, and the NaN
 * rule this codec documents. */
static uint16_t formula(uint32_t b)
{
    uint32_t h;

    if ((b & 0x7FFFFFFFu) > 0x7F800000u) {
        return (uint16_t)((b >> 16) | 0x0040u);
    }
    h = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    if ((h & 0x7FFFu) == 0x7F80u) {
        h = (h & 0x8000u) | 0x7F7Fu;
    }
    return (uint16_t)h;
}

/* ------------------------------------------------------- plugin helpers */

static const rz_compressor_v1_t *ops;
static const rz_compressor_key_t key0 = {42, 0, 0, 0};

static rz_status_t enc(void *ctx, const float *in, size_t n, void *out,
                       size_t cap, size_t *size_p, float *res)
{
    return ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, in, n, out, cap,
                         size_p, res);
}

static rz_status_t dec(void *ctx, const void *in, size_t size, float *y,
                       size_t n, float alpha, float beta)
{
    return ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, in, size, y, n,
                           alpha, beta);
}

static uint16_t wire16(const unsigned char *w, size_t i)
{
    return (uint16_t)(w[2 * i] | w[2 * i + 1] << 8);
}

/* The residual C6 wants: v - Dec, in fp32 (this file is built with
 * -ffp-contract=off like the plugin). */
static float ref_residual(float v, uint16_t h)
{
    return v - (float)ref_decode(h);
}

/* Equal as bit patterns, or both NaN. */
static int same_f32(float a, float b)
{
    return f2u(a) == f2u(b) || (isnan(a) && isnan(b));
}

/* ---------------------------------------------------------------- tests */

static void test_abi(void *ctx)
{
    rz_compressor_info_t info;
    double delta;

    CHECK(ops->abi_version == RZ_COMPRESSOR_ABI_VERSION, "abi_version");
    CHECK(ops->struct_size == sizeof(rz_compressor_v1_t), "struct_size");
    CHECK(strcmp(ops->name, "bf16") == 0, "name %s", ops->name);
    CHECK(ops->description != NULL, "description");
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    CHECK(ops->query(ctx, &info) == RZ_OK, "query");
    CHECK(info.caps ==
              (RZ_COMPRESSOR_CAP_IDEMPOTENT | RZ_COMPRESSOR_CAP_DETERMINISTIC |
               RZ_COMPRESSOR_CAP_FIXED_SIZE),
          "caps 0x%x", info.caps);
    CHECK(info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32),
          "dtypes");
    CHECK(info.min_count == 0, "min_count");
    CHECK(info.wire_id == WIRE_ID, "wire_id %u", info.wire_id);
    CHECK(info.priority == 0, "priority");
    /* An older, shorter info: nothing past struct_size is written. */
    memset(&info, 0xA5, sizeof(info));
    info.struct_size = 8;
    CHECK(ops->query(ctx, &info) == RZ_OK, "short query");
    CHECK(info.dtypes == 0xA5A5A5A5A5A5A5A5ull && info.wire_id == 0xA5A5A5A5u,
          "query wrote past struct_size");
    CHECK(ops->query(ctx, NULL) == RZ_ERR_INVALID_PARAM, "query NULL");
    /* Saturation has no error bound: no delta is promised. */
    CHECK(ops->delta_bound == NULL ||
              ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F32, 10, &delta) !=
                  RZ_OK,
          "bf16 must not promise a delta");
}

static void test_params(void)
{
    static const char *good[] = {NULL, "", "impl=auto", "impl=portable",
                                 ",impl=portable,"};
    static const char *bad[] = {
        "x=1",   "impl=gpu", "impl", "=auto", "impl=auto,ratio=0.5",
        "impl=", "IMPL=auto"};
    void *ctx;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ctx = NULL;
        CHECK(ops->init(&rz_ct_host, good[i], &ctx) == RZ_OK && ctx != NULL,
              "init(\"%s\") should work", good[i] ? good[i] : "(null)");
        if (ctx != NULL) {
            ops->finalize(ctx);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ctx = NULL;
        CHECK(ops->init(&rz_ct_host, bad[i], &ctx) == RZ_ERR_INVALID_PARAM,
              "init(\"%s\") should fail", bad[i]);
        CHECK(ctx == NULL, "ctx set on failure");
    }
}

/* Named cases of C2 and the rounding rule, each against a constant, the
 * reference and the formula. */
static void test_boundaries(void *ctx, const char *tag)
{
    static const struct {
        uint32_t b;
        uint16_t h;
    } cases[] = {
        {0x7F7FFFFFu, 0x7F7F}, /* FLT_MAX: would round to inf */
        {0x7F7F8000u, 0x7F7F}, /* the smallest that would */
        {0x7F7F7FFFu, 0x7F7F}, /* just below it: rounds down */
        {0x7F7F0000u, 0x7F7F}, /* the largest bf16 itself */
        {0x7F7E8000u, 0x7F7E}, /* tie -> even */
        {0xFF7FFFFFu, 0xFF7F}, /* -FLT_MAX */
        {0x7F800000u, 0x7F7F}, /* inf */
        {0xFF800000u, 0xFF7F}, /* -inf */
        {0x3F800000u, 0x3F80}, /* 1 */
        {0x3F808000u, 0x3F80}, /* 1 + 2^-8: tie -> even */
        {0x3F818000u, 0x3F82}, /* tie -> even, up */
        {0x3F808001u, 0x3F81}, /* just above the tie */
        {0x3F807FFFu, 0x3F80}, /* just below */
        {0xBF808001u, 0xBF81}, /* negative, just above */
        {0x00000000u, 0x0000}, /* +0 */
        {0x80000000u, 0x8000}, /* -0 keeps its sign */
        {0x00000001u, 0x0000}, /* fp32 subnormals round like */
        {0x00008000u, 0x0000}, /* normals: tie -> even 0 */
        {0x00018000u, 0x0002}, /* tie -> even 2 */
        {0x00008001u, 0x0001}, /* the smallest bf16 subnormal */
        {0x80008001u, 0x8001}, /* its negative */
        {0x007FFFFFu, 0x0080}, /* into the normals */
        {0x00800000u, 0x0080}, /* FLT_MIN */
        {0x7F00FFFFu, 0x7F01}, /* a carry in a large binade */
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    float in[N], res[N], y[N];
    unsigned char out[2 * N];
    size_t size = 0;

    for (size_t i = 0; i < N; i++) {
        memcpy(&in[i], &cases[i].b, 4);
    }
    CHECK(enc(ctx, in, N, out, sizeof(out), &size, res) == RZ_OK &&
              size == 2 * N,
          "%s: boundary encode", tag);
    CHECK(dec(ctx, out, size, y, N, 1.0f, 0.0f) == RZ_OK, "decode");
    for (size_t i = 0; i < N; i++) {
        uint16_t h = wire16(out, i);
        CHECK(h == cases[i].h, "%s: %a -> 0x%04x, want 0x%04x", tag,
              (double)in[i], h, cases[i].h);
        CHECK(ref_encode(in[i]) == cases[i].h,
              "reference: %a -> 0x%04x, want 0x%04x", (double)in[i],
              ref_encode(in[i]), cases[i].h);
        CHECK(formula(cases[i].b) == cases[i].h,
              "formula: 0x%08x -> 0x%04x, want 0x%04x", cases[i].b,
              formula(cases[i].b), cases[i].h);
        CHECK(f2u(y[i]) == f2u((float)ref_decode(cases[i].h)),
              "%s: decode 0x%04x = %a", tag, cases[i].h, (double)y[i]);
        CHECK(f2u(res[i]) == f2u(ref_residual(in[i], cases[i].h)),
              "%s: residual of %a = %a", tag, (double)in[i], (double)res[i]);
        CHECK(!isinf(y[i]), "never inf");
    }
}

/* NaN in, NaN out: the documented pattern (sign, quiet bit, ten payload
 * bits), also through the in-place residual path, where the patch for NaN
 * lanes must read the input before the residual overwrites it. */
static void test_nan(void *ctx, const char *tag)
{
    static const uint32_t pats[] = {
        0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu,
        0xFFFFFFFFu, 0x7FFF8000u, 0x7F810000u, 0x7FBFFFFFu, 0xFFBF8000u};
    enum { NP = sizeof(pats) / sizeof(pats[0]), N = 600 };
    float in[N], keep[N], y[N];
    unsigned char out[2 * N];
    size_t size;

    rz_ct_fill(in, N, 1.0);
    for (size_t i = 0; i < NP; i++) {
        memcpy(&in[37 * i + 5], &pats[i], 4); /* over both blocks */
    }
    memcpy(keep, in, sizeof(in));
    CHECK(enc(ctx, in, N, out, sizeof(out), &size, in) == RZ_OK, "enc");
    CHECK(dec(ctx, out, size, y, N, 1.0f, 0.0f) == RZ_OK, "dec");
    for (size_t i = 0; i < N; i++) {
        uint16_t h = wire16(out, i);
        CHECK(h == ref_encode(keep[i]), "%s: 0x%08x -> 0x%04x, want 0x%04x",
              tag, f2u(keep[i]), h, ref_encode(keep[i]));
        if (isnan(keep[i])) {
            CHECK(isnan(in[i]) && isnan(y[i]), "%s: NaN residual/decode", tag);
            CHECK((h & 0x7FC0u) == 0x7FC0u, "quiet NaN on the wire");
        } else {
            CHECK(f2u(in[i]) == f2u(keep[i] - y[i]), "%s: residual", tag);
        }
    }
}

/* Encode the fp32 patterns first..first+n-1 (times stride) with ctx, with
 * a residual, and compare against the reference. */
static void check_patterns(void *ctx, const uint32_t *pats, size_t n, float *in,
                           float *res, unsigned char *out, const char *tag)
{
    size_t size = 0, bad = 0;

    memcpy(in, pats, n * 4); /* signalling NaNs stay as they are */
    if (enc(ctx, in, n, out, 2 * n, &size, res) != RZ_OK || size != 2 * n) {
        CHECK(0, "%s: encode of %zu patterns", tag, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = wire16(out, i), want = ref_encode(in[i]);
        if (h != want || !same_f32(res[i], ref_residual(in[i], want)) ||
            (!isnan(in[i]) && f2u(res[i]) != f2u(ref_residual(in[i], want)))) {
            if (bad++ < 10) {
                CHECK(0, "%s: 0x%08x -> 0x%04x (want 0x%04x), r %a", tag,
                      pats[i], h, want, (double)res[i]);
            }
        }
    }
    rz_ct_checks++;
    if (bad > 10) {
        CHECK(0, "%s: %zu mismatches in all", tag, bad);
    }
}

/* Every 97th fp32 pattern (or every one), plus, for every bf16 value and
 * every midpoint above it, the fp32 patterns within 8 of it, of both
 * signs. */
static void test_sweep(void *ctx, const char *tag, int exhaustive)
{
    uint32_t *pats = malloc(SWEEP_BLOCK * sizeof(*pats));
    float *in = malloc(SWEEP_BLOCK * sizeof(float));
    float *res = malloc(SWEEP_BLOCK * sizeof(float));
    unsigned char *out = malloc(2 * SWEEP_BLOCK);
    uint64_t step = exhaustive ? 1 : 97;
    size_t n = 0;

    if (!pats || !in || !res || !out) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (uint64_t p = 0; p < (1ull << 32); p += step) {
        pats[n++] = (uint32_t)p;
        if (n == SWEEP_BLOCK) {
            check_patterns(ctx, pats, n, in, res, out, tag);
            n = 0;
        }
    }
    for (uint32_t h = 0; h <= 0x7F80u; h++) {
        /* The value itself and the midpoint to the next value up. */
        uint32_t c[2] = {h << 16, (h << 16) + 0x8000u};

        for (int k = 0; k < 2; k++) {
            for (int d = -8; d <= 8; d++) {
                uint32_t b = c[k] + (uint32_t)d;
                if ((int64_t)c[k] + d < 0) {
                    continue;
                }
                pats[n++] = b;
                pats[n++] = b | 0x80000000u;
                if (n >= SWEEP_BLOCK - 2) {
                    check_patterns(ctx, pats, n, in, res, out, tag);
                    n = 0;
                }
            }
        }
    }
    if (n > 0) {
        check_patterns(ctx, pats, n, in, res, out, tag);
    }
    free(pats);
    free(in);
    free(res);
    free(out);
}

/* Decoding every bf16 pattern gives its exact value (NaN for NaNs), with
 * either kernel. */
static void test_decode_all(void *ctx, const char *tag)
{
    enum { N = 65536 };
    unsigned char *w = malloc(2 * N);
    float *y = malloc(N * sizeof(float));
    size_t bad = 0;

    for (uint32_t h = 0; h < N; h++) {
        w[2 * h] = (unsigned char)h;
        w[2 * h + 1] = (unsigned char)(h >> 8);
    }
    CHECK(dec(ctx, w, 2 * N, y, N, 1.0f, 0.0f) == RZ_OK, "decode all");
    for (uint32_t h = 0; h < N; h++) {
        double want = ref_decode((uint16_t)h);
        int ok = isnan(want) ? isnan(y[h]) : f2u(y[h]) == f2u((float)want);
        if (!ok && bad++ < 10) {
            CHECK(0, "%s: decode 0x%04x = %a, want %a", tag, h, (double)y[h],
                  want);
        }
    }
    rz_ct_checks++;
    free(w);
    free(y);
}

/* On all 2^32 fp32 patterns: the portable kernel gives the bytes of the
 * section 1.2 formula, and the AVX2 kernel (when there is one) the same
 * bytes and residuals as the portable one; then the same decode-accumulate
 * results. */
static void test_all_patterns(void *c_port, void *c_avx2)
{
    float *in = malloc(ALL_BLOCK * sizeof(float));
    float *r1 = malloc(ALL_BLOCK * sizeof(float));
    float *r2 = malloc(ALL_BLOCK * sizeof(float));
    unsigned char *w1 = malloc(2 * ALL_BLOCK);
    unsigned char *w2 = malloc(2 * ALL_BLOCK);
    uint16_t *want = malloc(ALL_BLOCK * sizeof(*want));
    size_t s1, s2, bad = 0, bad_formula = 0;

    if (!in || !r1 || !r2 || !w1 || !w2 || !want) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (uint64_t base = 0; base < (1ull << 32);
         base += (uint64_t)ALL_BLOCK * ALL_BLOCK_STEP) {
        /* A block length that is not a multiple of any vector width, so
         * the scalar tails see patterns too. */
        size_t n = ALL_BLOCK - (base % 7);
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(base + i);
            memcpy(&in[i], &b, 4);
        }
        if (enc(c_port, in, n, w1, 2 * n, &s1, r1) != RZ_OK) {
            CHECK(0, "encode failed at 0x%08llx", (unsigned long long)base);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            want[i] = formula((uint32_t)(base + i));
        }
        /* memcmp is the fast path on little-endian hosts only. */
        if (memcmp(w1, want, 2 * n) != 0) {
            for (size_t i = 0; i < n; i++) {
                uint32_t b = (uint32_t)(base + i);
                if (wire16(w1, i) != want[i] && bad_formula++ < 10) {
                    CHECK(0, "0x%08x -> 0x%04x, formula 0x%04x", b,
                          wire16(w1, i), want[i]);
                }
            }
        }
        if (c_avx2 != NULL) {
            if (enc(c_avx2, in, n, w2, 2 * n, &s2, r2) != RZ_OK) {
                CHECK(0, "encode failed at 0x%08llx", (unsigned long long)base);
                break;
            }
            if (memcmp(w1, w2, 2 * n) != 0 || memcmp(r1, r2, 4 * n) != 0) {
                for (size_t i = 0; i < n && bad < 10; i++) {
                    if (wire16(w1, i) != wire16(w2, i) ||
                        f2u(r1[i]) != f2u(r2[i])) {
                        bad++;
                        CHECK(0, "kernels differ at 0x%08x: 0x%04x/0x%04x",
                              f2u(in[i]), wire16(w1, i), wire16(w2, i));
                    }
                }
            }
        }
        /* Patterns left out by the shorter block come first in the next. */
        base -= ALL_BLOCK - n;
    }
    rz_ct_checks += 2;
    if (c_avx2 != NULL) {
        /* Decode-accumulate on finite data: the same bits. */
        enum { N = 4099 };
        float v[N], y1[N], y2[N];
        unsigned char w[2 * N];
        size_t size;

        rz_ct_fill(v, N, 3.0);
        rz_ct_fill(y1, N, 1.0);
        memcpy(y2, y1, sizeof(y1));
        CHECK(enc(c_port, v, N, w, sizeof(w), &size, NULL) == RZ_OK, "enc");
        CHECK(dec(c_port, w, size, y1, N, 0.37f, 1.5f) == RZ_OK &&
                  dec(c_avx2, w, size, y2, N, 0.37f, 1.5f) == RZ_OK,
              "dec");
        CHECK(memcmp(y1, y2, sizeof(y1)) == 0, "accumulate differs");
        CHECK(dec(c_port, w, size, y1, N, -2.0f, 0.0f) == RZ_OK &&
                  dec(c_avx2, w, size, y2, N, -2.0f, 0.0f) == RZ_OK,
              "dec");
        CHECK(memcmp(y1, y2, sizeof(y1)) == 0, "decode differs");
    }
    free(in);
    free(r1);
    free(r2);
    free(w1);
    free(w2);
    free(want);
}

/* C3, C5, C6 and the ABI rules on random vectors of many lengths. */
static void test_invariants(void *ctx, const char *tag)
{
    static const size_t lens[] = {1,   2,   3,   4,   5,    7,   8,
                                  9,   15,  16,  17,  31,   255, 256,
                                  257, 511, 512, 513, 1000, 4099};
    static const double scales[] = {1.0, 1e-30, 3e-39, 1e30, 1.6e38};
    enum { NMAX = 4099, GUARD = 16 };
    float *v = malloc(NMAX * sizeof(float)), *c1 = malloc(NMAX * 4);
    float *c2 = malloc(NMAX * 4), *r = malloc(NMAX * 4), *y = malloc(NMAX * 4);
    float *io = malloc(NMAX * 4), *y2 = malloc(NMAX * 4);
    unsigned char *w1 = malloc(2 * NMAX + GUARD + 1);
    unsigned char *w2 = malloc(2 * NMAX + GUARD);

    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t n = lens[li], s1 = 0;

        CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, n) ==
                  2 * n,
              "C5: max size of %zu", n);
        for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++) {
            rz_ct_fill(v, n, scales[si]);
            /* C5: exactly 2n bytes, nothing written past them. */
            memset(w1, 0xEE, 2 * n + GUARD + 1);
            CHECK(enc(ctx, v, n, w1 + 1, 2 * n, &s1, r) == RZ_OK && s1 == 2 * n,
                  "%s: C5 size %zu for n %zu", tag, s1, n);
            for (size_t i = 0; i < GUARD; i++) {
                CHECK(w1[1 + 2 * n + i] == 0xEE, "wrote past 2n");
            }
            CHECK(w1[0] == 0xEE, "wrote before out");
            for (size_t i = 0; i < n; i++) {
                uint16_t h = wire16(w1 + 1, i);
                CHECK(h == ref_encode(v[i]), "%s: n %zu elt %zu", tag, n, i);
            }
            /* C6: r == v - Dec(out), bitwise, Dec read from the unaligned
             * wire by the plugin itself. */
            CHECK(dec(ctx, w1 + 1, s1, c1, n, 1.0f, 0.0f) == RZ_OK, "dec");
            for (size_t i = 0; i < n; i++) {
                CHECK(f2u(r[i]) == f2u(v[i] - c1[i]), "%s: C6 at %zu", tag, i);
                /* C2: |C(v) - v| <= 2^-8 |v| from 2^-126 up (below the
                 * saturation limit), <= 2^-134 below; never past 0x7F7F. */
                double av = fabs((double)v[i]);
                CHECK(fabs((double)c1[i] - v[i]) <=
                              (av >= 0x1p-126 ? 0x1p-8 * av : 0x1p-134) ||
                          av >= 0x1.ffp127,
                      "C2 bound at %zu", i);
                CHECK(fabs((double)c1[i]) <= BF16_MAX, "C2: |C(v)| <= max");
            }
            /* C3, in-place and no residual, decode-accumulate. */
            rz_ct_dense_contract(enc, dec, ctx, 2, tag, n, v, r, c1, w1 + 1, s1,
                                 c2, io, y, y2, w2);
        }
    }
    free(v);
    free(c1);
    free(c2);
    free(r);
    free(y);
    free(io);
    free(y2);
    free(w1);
    free(w2);
}

/* Empty chunks, capacity, dtype, NULL pointers and malformed sizes. */
static void test_errors(void *ctx)
{
    static const size_t bad_sizes[] = {0, 1, 2, 14, 15, 17, 18, 32};

    rz_ct_dense_errors(ops, &key0, enc, dec, ctx, 2, RZ_COMPRESSOR_DTYPE_BF16,
                       "bf16", RZ_COMPRESSOR_DTYPE_F16, 1, bad_sizes,
                       sizeof(bad_sizes) / sizeof(bad_sizes[0]));
}

int main(int argc, char **argv)
{
    void *c_auto, *c_port, *c_avx2 = NULL;
    int exhaustive = 0;
    rz_status_t st;

    if (argc < 2) {
        fprintf(stderr, "usage: %s librz_bf16.so [--exhaustive]\n", argv[0]);
        return 2;
    }
    exhaustive = argc > 2 && strcmp(argv[2], "--exhaustive") == 0;
    ops = rz_ct_load(argv[1]);
    c_auto = rz_ct_init(ops, NULL);
    c_port = rz_ct_init(ops, "impl=portable");
    st = ops->init(&rz_ct_host, "impl=avx2", &c_avx2);
    CHECK(st == RZ_OK || st == RZ_ERR_NOT_SUPPORTED, "impl=avx2: %d", (int)st);
    if (st != RZ_OK) {
        c_avx2 = NULL;
        printf("bf16: no AVX2 here, only the portable kernels are tested\n");
    }

    test_abi(c_auto);
    test_params();
    test_errors(c_auto);
    test_boundaries(c_port, "portable");
    test_nan(c_port, "portable");
    test_decode_all(c_port, "portable");
    test_invariants(c_port, "portable");
    test_sweep(c_port, "portable", exhaustive);
    if (c_avx2 != NULL) {
        test_boundaries(c_avx2, "avx2");
        test_nan(c_avx2, "avx2");
        test_decode_all(c_avx2, "avx2");
        test_invariants(c_avx2, "avx2");
    }
    test_all_patterns(c_port, c_avx2);
    if (c_avx2 != NULL) {
        ops->finalize(c_avx2);
    }
    ops->finalize(c_port);
    ops->finalize(c_auto);
    return rz_ct_report("codec_bf16");
}
