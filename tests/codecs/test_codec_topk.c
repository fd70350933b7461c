/*
 * top-k codec (librz_topk.so, wire id 6) against a brute-force reference:
 * every index sorted by (|v| descending, index ascending) with qsort, the
 * first k kept. Checks ALGORITHMS.md section 5.1 C2-C6 over vectors with
 * many exact ties and zeros, the wire layout of section 1.2 note 8, the
 * decoder's validation of untrusted bytes, and the parameter parser.
 *
 * Usage: test_codec_topk <path to librz_topk.so>
 */
#include "codec_test.h"

#include <stdbool.h>

static const rz_compressor_v1_t *ops;
static const rz_compressor_key_t key0 = {7, 3, 1, 0};

/* ------------------------------------------------------------ helpers */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* k of section 1.2, computed independently: ratio > 0 or kfix > 0. */
static size_t expect_k(double ratio, size_t kfix, size_t n)
{
    size_t k;

    if (n == 0) {
        return 0;
    }
    if (kfix != 0) {
        return kfix < n ? kfix : n;
    }
    k = (size_t)floor(ratio * (double)n);
    if (k < 1) {
        k = 1;
    }
    return k < n ? k : n;
}

static const float *ref_v;

/* |v| descending (in double, from the fp32 values), then index
 * ascending. */
static int ref_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double ai = fabs((double)ref_v[i]), aj = fabs((double)ref_v[j]);

    if (ai != aj) {
        return ai > aj ? -1 : 1;
    }
    return (i > j) - (i < j);
}

static int idx_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return (i > j) - (i < j);
}

/* The reference kept set, ascending, into ref[0..k-1]. */
static void ref_topk(const float *v, size_t n, size_t k, size_t *ref)
{
    size_t *ord = malloc((n ? n : 1) * sizeof(size_t));

    for (size_t i = 0; i < n; i++) {
        ord[i] = i;
    }
    ref_v = v;
    qsort(ord, n, sizeof(size_t), ref_cmp);
    memcpy(ref, ord, k * sizeof(size_t));
    qsort(ref, k, sizeof(size_t), idx_cmp);
    free(ord);
}

enum {
    KIND_GAUSS,    /* N(0, 1)-ish */
    KIND_SMALLSET, /* {0, +-0.5, +-1, +-2}: many exact ties and zeros */
    KIND_ZEROS,    /* all +0 and -0 */
    KIND_EQUAL,    /* all +-3: one big tie */
    KIND_SPARSE,   /* 70 % zeros, the rest N(0, 1) with duplicates */
    KIND_WIDE,     /* N(0, 1) * 2^[-60, 60] */
    KIND_RAMP,     /* |v_i| increasing with i */
    KIND_SPIKES,   /* zeros with a few large entries */
    KIND_COUNT
};

static void gen(int kind, float *v, size_t n)
{
    static const float set[5] = {0.0f, 0.5f, 1.0f, 2.0f, -0.0f};

    switch (kind) {
    case KIND_GAUSS:
        rz_ct_fill(v, n, 1.0);
        break;
    case KIND_SMALLSET:
        for (size_t i = 0; i < n; i++) {
            float x = set[(size_t)(rz_ct_uniform() * 5) % 5];
            v[i] = rz_ct_uniform() < 0.5 ? -x : x;
        }
        break;
    case KIND_ZEROS:
        for (size_t i = 0; i < n; i++) {
            v[i] = rz_ct_uniform() < 0.5 ? -0.0f : 0.0f;
        }
        break;
    case KIND_EQUAL:
        for (size_t i = 0; i < n; i++) {
            v[i] = rz_ct_uniform() < 0.5 ? -3.0f : 3.0f;
        }
        break;
    case KIND_SPARSE:
        rz_ct_fill(v, n, 1.0);
        for (size_t i = 0; i < n; i++) {
            double u = rz_ct_uniform();
            if (u < 0.7) {
                v[i] = 0.0f;
            } else if (u < 0.8 && i > 0) {
                v[i] = -v[i - 1];
            }
        }
        break;
    case KIND_WIDE:
        rz_ct_fill(v, n, 1.0);
        for (size_t i = 0; i < n; i++) {
            v[i] = ldexpf(v[i], (int)(rz_ct_uniform() * 121) - 60);
        }
        break;
    case KIND_RAMP:
        for (size_t i = 0; i < n; i++) {
            v[i] = (float)(i % 2 ? -(double)i : (double)i) * 1e-3f;
        }
        break;
    default:
        memset(v, 0, n * sizeof(float));
        for (size_t i = 0; n > 0 && i < n / 50 + 1; i++) {
            v[(size_t)(rz_ct_uniform() * (double)n) % n] =
                (float)(rz_ct_uniform() * 1000.0 - 500.0);
        }
        break;
    }
}

/* Dense decode: y = Dec(w) (alpha 1, beta 0) over a NaN-filled y, which
 * beta == 0 must never read. */
static rz_status_t decode_dense(void *ctx, const void *w, size_t size, float *y,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = NAN;
    }
    return ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, w, size, y, n,
                           1.0f, 0.0f);
}

/* ------------------------------------------------- one codec round trip */

/*
 * All of C2-C6 for one vector: @params describe ratio/kfix for the
 * independent k. The wire buffer starts at an odd offset.
 */
static void check_vector(void *ctx, const char *params, double ratio,
                         size_t kfix, const float *v, size_t n, int kind)
{
    const size_t k = expect_k(ratio, kfix, n);
    const size_t need = n ? 4 + 8 * k : 0;
    unsigned char *buf = malloc(need + 8), *w = buf + 1;
    unsigned char *buf2 = malloc(need + 8), *w2 = buf2 + 3;
    float *r = malloc((n + 1) * sizeof(float));
    float *y = malloc((n + 1) * sizeof(float));
    float *y2 = malloc((n + 1) * sizeof(float));
    float *t = malloc((n + 1) * sizeof(float));
    size_t *ref = malloc((k + 1) * sizeof(size_t));
    size_t size = 12345, size2;
    rz_status_t st;
    int bad;
    char what[160];

    snprintf(what, sizeof(what), "[%s n=%zu kind=%d]", params, n, kind);
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, n) == need,
          "%s max_compressed_size %zu, want %zu", what,
          ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, n), need);

    st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, v, n, w, need,
                       &size, r);
    CHECK(st == RZ_OK, "%s compress: %d", what, (int)st);
    CHECK(size == need, "%s size %zu, want %zu (C5)", what, size, need);
    if (st != RZ_OK || size != need || n == 0) {
        goto out;
    }

    /* Layout and the reference kept set (C2: exactly k, ties to the
     * lowest index). */
    CHECK(ld32(w) == k, "%s k field %u, want %zu", what, ld32(w), k);
    ref_topk(v, n, k, ref);
    bad = 0;
    for (size_t j = 0; j < k && bad < 3; j++) {
        uint32_t idx = ld32(w + 4 + 4 * j);
        uint32_t val = ld32(w + 4 + 4 * k + 4 * j);
        if (idx != ref[j] || val != f2u(v[ref[j]])) {
            bad++;
            CHECK(0, "%s entry %zu: index %u value %08x, want %zu %08x", what,
                  j, idx, val, ref[j], f2u(v[ref[j]]));
        }
    }
    CHECK(bad == 0, "%s kept set differs from the reference", what);

    /* Decoded values, residual (C6, bitwise), magnitudes (C2). */
    st = decode_dense(ctx, w, size, y, n);
    CHECK(st == RZ_OK, "%s decompress: %d", what, (int)st);
    {
        double ev = 0, er = 0, min_kept = INFINITY, max_drop = -1;
        size_t last_kept_at_min = 0, first_drop_at_min = SIZE_MAX;

        for (size_t j = 0; j < k; j++) {
            double a = fabs((double)v[ld32(w + 4 + 4 * j)]);
            min_kept = a < min_kept ? a : min_kept;
        }
        bad = 0;
        for (size_t i = 0, j = 0; i < n; i++) {
            bool kept = j < k && ld32(w + 4 + 4 * j) == i;
            double a = fabs((double)v[i]);
            /* kept: y == v and r == +0; dropped: y == +0 and r == v */
            uint32_t want_y = kept ? f2u(v[i]) : 0;
            uint32_t want_r = kept ? 0 : f2u(v[i]);

            if ((f2u(y[i]) != want_y || f2u(r[i]) != want_r) && bad++ < 3) {
                CHECK(0, "%s element %zu (%s): v %a y %a r %a", what, i,
                      kept ? "kept" : "dropped", v[i], y[i], r[i]);
            }
            if (f2u(v[i] - y[i]) != f2u(r[i]) && bad++ < 3) {
                CHECK(0, "%s C6 at %zu: v - Dec = %a, residual %a", what, i,
                      v[i] - y[i], r[i]);
            }
            if (kept) {
                j++;
                if (a == min_kept) {
                    last_kept_at_min = i;
                }
            } else {
                max_drop = a > max_drop ? a : max_drop;
                if (a == min_kept && first_drop_at_min == SIZE_MAX) {
                    first_drop_at_min = i;
                }
            }
            ev += (double)v[i] * v[i];
            er += (double)r[i] * r[i];
        }
        CHECK(bad == 0, "%s decoded values or residual wrong", what);
        /* C2: every kept magnitude >= every dropped one; at the threshold
         * magnitude the kept indices precede the dropped ones. */
        CHECK(max_drop <= min_kept, "%s dropped %g > kept %g", what, max_drop,
              min_kept);
        CHECK(first_drop_at_min == SIZE_MAX ||
                  last_kept_at_min < first_drop_at_min,
              "%s tie at %g: kept index %zu after dropped %zu", what, min_kept,
              last_kept_at_min, first_drop_at_min);
        CHECK(er <= (1.0 - (double)k / (double)n) * ev * (1 + 1e-12),
              "%s C2: |r|^2 = %.17g > (1 - k/n)|v|^2 = %.17g", what, er,
              (1.0 - (double)k / (double)n) * ev);
    }

    /* Same bytes without a residual, and with an in-place one (C6). */
    st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, v, n, w2, need,
                       &size2, NULL);
    CHECK(st == RZ_OK && size2 == need && memcmp(w, w2, need) == 0,
          "%s compress without residual differs", what);
    memcpy(t, v, n * sizeof(float));
    st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need,
                       &size2, t);
    CHECK(st == RZ_OK && size2 == need && memcmp(w, w2, need) == 0,
          "%s in-place compress differs", what);
    CHECK(memcmp(t, r, n * sizeof(float)) == 0, "%s in-place residual differs",
          what);

    /* C3: C(C(v)) == C(v), bitwise on decoded values. */
    memcpy(t, y, n * sizeof(float));
    st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need,
                       &size2, NULL);
    CHECK(st == RZ_OK && size2 == need, "%s C3 compress", what);
    decode_dense(ctx, w2, size2, y2, n);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !(y2[i] == y[i]);
    }
    CHECK(bad == 0, "%s C3: %d elements differ", what, bad);

    /* C4: C(a v) == a C(v) for a = 2 and 0.25 (no subnormals or
     * overflow in the generated vectors). */
    for (int a = 0; a < 2; a++) {
        const float alpha = a ? 0.25f : 2.0f;
        for (size_t i = 0; i < n; i++) {
            t[i] = alpha * v[i];
        }
        st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need,
                           &size2, NULL);
        CHECK(st == RZ_OK && size2 == need, "%s C4 compress", what);
        decode_dense(ctx, w2, size2, y2, n);
        bad = 0;
        for (size_t i = 0; i < n; i++) {
            bad += f2u(y2[i]) != f2u(alpha * y[i]);
        }
        CHECK(bad == 0, "%s C4 alpha %g: %d elements differ", what, alpha, bad);
    }

    /* Decode-accumulate: y = fl(fl(beta*y) + fl(alpha*d)); bitwise except
     * that beta == 1 may leave a -0 where y + 0 gives +0. */
    {
        static const float ab[][2] = {{1.0f, 1.0f},   {0.5f, 1.0f},
                                      {-2.0f, 0.75f}, {1.0f, -1.0f},
                                      {3.0f, 0.0f},   {-1.0f, 0.0f}};
        rz_ct_fill(t, n, 2.0);
        for (size_t i = 0; i < n; i += 7) {
            t[i] = (i / 7) % 2 ? -0.0f : 0.0f;
        }
        for (size_t c = 0; c < sizeof(ab) / sizeof(ab[0]); c++) {
            const float alpha = ab[c][0], beta = ab[c][1];
            memcpy(y2, t, n * sizeof(float));
            st = ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, w, size,
                                 y2, n, alpha, beta);
            CHECK(st == RZ_OK, "%s accumulate: %d", what, (int)st);
            bad = 0;
            for (size_t i = 0; i < n; i++) {
                float e =
                    beta == 0.0f ? alpha * y[i] : beta * t[i] + alpha * y[i];
                bool ok = beta == 1.0f ? y2[i] == e : f2u(y2[i]) == f2u(e);
                if (!ok && bad++ < 3) {
                    CHECK(0, "%s alpha %g beta %g at %zu: %a, want %a", what,
                          alpha, beta, i, y2[i], e);
                }
            }
            CHECK(bad == 0, "%s accumulate alpha %g beta %g", what, alpha,
                  beta);
        }
    }

    /* delta = k / n. */
    {
        double delta = -1;
        CHECK(ops->delta_bound != NULL &&
                  ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F32, n, &delta) ==
                      RZ_OK &&
                  delta == (double)k / (double)n,
              "%s delta_bound %g, want %g", what, delta, (double)k / (double)n);
    }

out:
    free(buf);
    free(buf2);
    free(r);
    free(y);
    free(y2);
    free(t);
    free(ref);
}

/* ------------------------------------------------------------- sweeps */

static void test_sweep(void)
{
    static const size_t ns[] = {0, 1, 2, 7, 37, 1000, 4097, 100003};
    static const struct {
        const char *params;
        double ratio;
        size_t kfix;
    } cfg[] = {{"ratio=1e-4", 1e-4, 0}, {"ratio=0.01", 0.01, 0},
               {"ratio=0.1", 0.1, 0},   {"ratio=0.5", 0.5, 0},
               {"ratio=1.0", 1.0, 0},   {"k=3", 0, 3},
               {"", 0.01, 0},           {NULL, 0.01, 0}};

    for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
        void *ctx = rz_ct_init(ops, cfg[c].params);
        for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
            size_t n = ns[a];
            float *v = malloc((n + 1) * sizeof(float));
            for (int kind = 0; kind < KIND_COUNT; kind++) {
                int reps = n <= 4097 ? 3 : 1;
                for (int rep = 0; rep < reps; rep++) {
                    gen(kind, v, n);
                    check_vector(ctx, cfg[c].params ? cfg[c].params : "NULL",
                                 cfg[c].ratio, cfg[c].kfix, v, n, kind);
                }
            }
            free(v);
        }
        ops->finalize(ctx);
    }
}

/*
 * Large vectors, where the encoder may first guess a threshold from a
 * strided sample: patterns periodic in that stride must not change the
 * result (the guess only chooses how fast the exact answer is found).
 */
static void test_large(void)
{
    static const char *params[] = {"ratio=0.01", "ratio=0.001", "k=1",
                                   "ratio=0.03"};
    static const double ratios[] = {0.01, 0.001, 0, 0.03};
    static const size_t kfix[] = {0, 0, 1, 0};
    const size_t n = (1u << 18) + 77;
    float *v = malloc(n * sizeof(float));

    for (size_t c = 0; c < sizeof(params) / sizeof(params[0]); c++) {
        void *ctx = rz_ct_init(ops, params[c]);
        for (int kind = 0; kind < KIND_COUNT + 4; kind++) {
            if (kind < KIND_COUNT) {
                gen(kind, v, n);
            } else {
                /* Every 32nd element (the positions a strided sample of
                 * n / 32 keys would read) large, or zero, or equal to
                 * the smallest of a big near-tie; or every 64th large,
                 * so that a sample overestimates how many are large. */
                rz_ct_fill(v, n, 1.0);
                for (size_t i = 0; i < n; i++) {
                    bool hot = i % 32 == 16;
                    if (kind == KIND_COUNT + 3) {
                        v[i] = i % 64 == 16 ? 100.0f : v[i];
                    } else if (kind == KIND_COUNT) {
                        v[i] = hot ? 100.0f : v[i];
                    } else if (kind == KIND_COUNT + 1) {
                        v[i] = hot ? 0.0f : v[i];
                    } else {
                        v[i] = hot ? 1.0f : 1.0f + 0x1p-20f * (float)(i % 5);
                    }
                }
            }
            check_vector(ctx, params[c], ratios[c], kfix[c], v, n, kind);
        }
        ops->finalize(ctx);
    }
    free(v);
}

/* ----------------------------------------------------- malformed bytes */

static void test_malformed(void)
{
    void *ctx = rz_ct_init(ops, "ratio=0.01");
    const size_t n = 1000, k = 10, size = 4 + 8 * k;
    float v[1000], y[1000], y0[1000];
    unsigned char good[4 + 8 * 10 + 8], m[4 + 8 * 11 + 8];
    size_t sz;
    rz_status_t st;

    rz_ct_fill(v, n, 1.0);
    rz_ct_fill(y0, n, 1.0);
    st = ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, v, n, good, size,
                       &sz, NULL);
    CHECK(st == RZ_OK && sz == size, "malformed setup");

#define EXPECT_MALFORMED(buf, bsize, count, why)                               \
    do {                                                                       \
        memcpy(y, y0, sizeof(y));                                              \
        st = ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, (buf),       \
                             (bsize), y, (count), 1.0f, 1.0f);                 \
        CHECK(st == RZ_ERR_MALFORMED, "%s: status %d, want MALFORMED", why,    \
              (int)st);                                                        \
        CHECK(memcmp(y, y0, sizeof(y)) == 0, "%s: y written", why);            \
    } while (0)

    /* Sizes inconsistent with the count field. */
    EXPECT_MALFORMED(good, size - 1, n, "size 4+8k-1");
    EXPECT_MALFORMED(good, size - 8, n, "size 4+8(k-1)");
    memcpy(m, good, size);
    memset(m + size, 0, 8);
    EXPECT_MALFORMED(m, size + 1, n, "size 4+8k+1");
    EXPECT_MALFORMED(m, size + 8, n, "size 4+8(k+1)");
    EXPECT_MALFORMED(good, 0, n, "size 0 for count 1000");
    EXPECT_MALFORMED(good, 3, n, "size 3");
    EXPECT_MALFORMED(good, size, 0, "size 84 for count 0");

    /* k field 0, above count, or huge. */
    memset(m, 0, sizeof(m));
    EXPECT_MALFORMED(m, 4, n, "k = 0");
    EXPECT_MALFORMED(m, 12, n, "k = 0 with one entry");
    memcpy(m, good, size);
    st32(m, 11);
    EXPECT_MALFORMED(m, size, n, "k = 11 in 84 bytes");
    st32(m, 0xffffffffu);
    EXPECT_MALFORMED(m, size, n, "k = 2^32-1");
    for (uint32_t j = 0; j < 6; j++) { /* k = 6 > count 5 */
        st32(m + 4 + 4 * j, j);
        st32(m + 4 + 24 + 4 * j, f2u(1.0f));
    }
    st32(m, 6);
    EXPECT_MALFORMED(m, 4 + 48, 5, "k = 6 > count 5");

    /* Indices: not ascending, repeated, out of range. */
    memcpy(m, good, size);
    {
        uint32_t a = ld32(m + 4 + 12), b = ld32(m + 4 + 16);
        st32(m + 4 + 12, b);
        st32(m + 4 + 16, a);
        EXPECT_MALFORMED(m, size, n, "indices swapped");
        st32(m + 4 + 12, a);
        st32(m + 4 + 16, a);
        EXPECT_MALFORMED(m, size, n, "index repeated");
    }
    memcpy(m, good, size);
    st32(m + 4 + 4 * (k - 1), (uint32_t)n);
    EXPECT_MALFORMED(m, size, n, "index == count");
    st32(m + 4 + 4 * (k - 1), 0xffffffffu);
    EXPECT_MALFORMED(m, size, n, "index 2^32-1");
    EXPECT_MALFORMED(good, size, ld32(good + 4 + 4 * (k - 1)),
                     "last index == count");

    /* Empty: count 0 with size 0 is fine and touches nothing. */
    st = ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, NULL, 0, NULL, 0,
                         1.0f, 1.0f);
    CHECK(st == RZ_OK, "empty decode: %d", (int)st);

    /* A well-formed message with a k other than this context's k(n) is
     * inconsistent with the parameters (FIXED_SIZE); so are the right
     * bytes decoded as another count with another k(n). */
    memset(m, 0, sizeof(m));
    st32(m, 2);
    st32(m + 4, 5);
    st32(m + 8, 999);
    st32(m + 12, f2u(4.0f));
    st32(m + 16, f2u(-8.0f));
    EXPECT_MALFORMED(m, 20, n, "k = 2 message for a k = 10 context");
    EXPECT_MALFORMED(good, size, 1100, "k = 10 message for 1100 elements");
    memcpy(y, y0, sizeof(y));
    st = ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, good, size, y,
                         1099, 0.5f, 1.0f);
    CHECK(st == RZ_OK, "k = 10 message for 1099 elements: %d", (int)st);
#undef EXPECT_MALFORMED

    /* Unaligned wire bytes decode the same at every offset. */
    for (int off = 0; off < 4; off++) {
        unsigned char *b = malloc(size + 4);
        memcpy(b + off, good, size);
        memcpy(y, y0, sizeof(y));
        st = ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, b + off, size,
                             y, n, 1.0f, 0.0f);
        CHECK(st == RZ_OK, "offset %d: %d", off, (int)st);
        for (size_t j = 0; j < k; j++) {
            uint32_t i = ld32(good + 4 + 4 * j);
            CHECK(f2u(y[i]) == f2u(v[i]), "offset %d: element %u", off, i);
        }
        free(b);
    }
    ops->finalize(ctx);
}

/* ------------------------------------------------ API, params, errors */

static void test_params(void)
{
    static const char *bad[] = {"ratio=0",       "ratio=1.5",
                                "ratio=-0.1",    "ratio=0.1,k=3",
                                "k=3,ratio=0.1", "k=0",
                                "k=-1",          "k=1.5",
                                "foo=1",         "ratio=",
                                "ratio=abc",     "ratio=nan",
                                "ratio=inf",     "ratio=0.1,ratio=0.2",
                                "k=2,k=3",       "ratio",
                                "=0.1",          "ratio=0.1x"};
    static const char *good[] = {NULL,
                                 "",
                                 "ratio=1",
                                 "k=3",
                                 "ratio=0.5",
                                 "ratio=1e-4",
                                 "k=18446744073709551615",
                                 ",ratio=0.25,"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *ctx = NULL;
        rz_status_t st = ops->init(&rz_ct_host, bad[i], &ctx);
        CHECK(st == RZ_ERR_INVALID_PARAM,
              "init(\"%s\") = %d, want "
              "INVALID_PARAM",
              bad[i], (int)st);
        if (st == RZ_OK) {
            ops->finalize(ctx);
        }
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        void *ctx = NULL;
        rz_status_t st = ops->init(&rz_ct_host, good[i], &ctx);
        CHECK(st == RZ_OK && ctx != NULL, "init(\"%s\") = %d",
              good[i] ? good[i] : "NULL", (int)st);
        if (st == RZ_OK) {
            ops->finalize(ctx);
        }
    }
    /* Sizes follow k = max(1, floor(ratio n)) capped at n. */
    {
        void *ctx = rz_ct_init(ops, "ratio=0.3");
        CHECK(ops->max_compressed_size(ctx, 0, 10) == 4 + 8 * 3, "0.3 * 10");
        CHECK(ops->max_compressed_size(ctx, 0, 3) == 4 + 8 * 1, "0.3 * 3");
        CHECK(ops->max_compressed_size(ctx, 0, 0) == 0, "n = 0");
        ops->finalize(ctx);
        ctx = rz_ct_init(ops, "k=5");
        CHECK(ops->max_compressed_size(ctx, 0, 3) == 4 + 8 * 3, "k capped");
        CHECK(ops->max_compressed_size(ctx, 0, 1000) == 4 + 8 * 5, "k = 5");
        ops->finalize(ctx);
    }
}

static void test_api(const char *path)
{
    void *ctx = rz_ct_init(ops, NULL), *dl;
    rz_compressor_info_t info;
    float v[64], r[64];
    unsigned char w[4 + 8 * 64];
    size_t sz = 99;
    double delta;

    CHECK(ops->abi_version == RZ_COMPRESSOR_ABI_VERSION, "abi_version");
    CHECK(ops->struct_size == sizeof(rz_compressor_v1_t), "struct_size");
    CHECK(strcmp(ops->name, "topk") == 0, "name %s", ops->name);
    /* Only the plugin struct is exported. */
    dl = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(dl != NULL && dlsym(dl, "rz_topk_compress") == NULL &&
              dlsym(dl, "rz_topk_init") == NULL,
          "internal symbols exported");

    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    CHECK(ops->query(ctx, &info) == RZ_OK, "query");
    CHECK(info.caps ==
              (RZ_COMPRESSOR_CAP_CONTRACTIVE | RZ_COMPRESSOR_CAP_IDEMPOTENT |
               RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
               RZ_COMPRESSOR_CAP_FIXED_SIZE),
          "caps %#x", info.caps);
    CHECK(info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32),
          "dtypes");
    CHECK(info.wire_id == 6, "wire_id %u", info.wire_id);
    CHECK(info.min_count == 1024, "min_count %llu",
          (unsigned long long)info.min_count);
    CHECK(info.priority == 0, "priority");
    /* A host that knows only the first two members gets only those. */
    memset(&info, 0xab, sizeof(info));
    info.struct_size = 8;
    CHECK(ops->query(ctx, &info) == RZ_OK &&
              info.dtypes == 0xababababababababull &&
              info.wire_id == 0xababababu,
          "query wrote past struct_size");

    rz_ct_fill(v, 64, 1.0);
    /* Errors: capacity, dtype, NULLs; count 0 writes nothing. */
    CHECK(ops->compress(ctx, &key0, 0, v, 64, w, 4 + 8 * 1 - 1, &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "short capacity");
    CHECK(ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F64, v, 64, w,
                        sizeof(w), &sz, r) == RZ_ERR_NOT_SUPPORTED,
          "f64 compress");
    CHECK(ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F16, w, 12, v, 64,
                          1.0f, 0.0f) == RZ_ERR_NOT_SUPPORTED,
          "f16 decompress");
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_BF16, 64) == 0,
          "bf16 size");
    CHECK(ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F64, 64, &delta) ==
              RZ_ERR_NOT_SUPPORTED,
          "f64 delta");
    CHECK(ops->compress(ctx, &key0, 0, v, 64, w, sizeof(w), NULL, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL size_p");
    CHECK(ops->compress(ctx, &key0, 0, NULL, 64, w, sizeof(w), &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL in");
    CHECK(ops->compress(ctx, &key0, 0, v, 64, NULL, sizeof(w), &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL out");
    CHECK(ops->decompress(ctx, &key0, 0, w, 12, NULL, 64, 1.0f, 0.0f) ==
              RZ_ERR_INVALID_PARAM,
          "NULL y");
    sz = 99;
    CHECK(ops->compress(ctx, &key0, 0, NULL, 0, NULL, 0, &sz, NULL) == RZ_OK &&
              sz == 0,
          "count 0");
    /* top-k ignores the key: NULL is fine, any key gives the same bytes. */
    CHECK(ops->compress(ctx, NULL, 0, v, 64, w, sizeof(w), &sz, NULL) ==
                  RZ_OK &&
              sz == 12,
          "NULL key");
    ops->finalize(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s librz_topk.so\n", argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);
    test_api(argv[1]);
    test_params();
    test_malformed();
    test_sweep();
    test_large();
    return rz_ct_report("codec_topk");
}
