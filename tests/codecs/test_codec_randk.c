/*
 * random-k codec (librz_randk.so, wire id 7). The mask is checked against
 * an independent, literal implementation of ALGORITHMS.md section 1.2 note
 * 6 (SplitMix64 key, partial Fisher-Yates over a full array P, sorted),
 * including its known answers; then the support property (C2), linearity
 * under the shared mask, C3-C6, a soft statistical check of the expected
 * contraction, the size validation and the parameter parser.
 *
 * Usage: test_codec_randk <path to librz_randk.so>
 */
#include "codec_test.h"

#include <stdbool.h>

static const rz_compressor_v1_t *ops;

/* ---------------------------------------------------- the reference mask */

static uint64_t ref_mix64(uint64_t z)
{
    z = z + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t ref_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return ref_mix64(ref_mix64(ref_mix64(ref_mix64(a) ^ b) ^ c) ^ d);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* mask(kappa, n, k) exactly as note 6 writes it, P a full array. */
static void ref_mask(uint64_t kappa, size_t n, size_t k, uint32_t *out)
{
    uint32_t *p = malloc(n * sizeof(uint32_t));

    for (size_t i = 0; i < n; i++) {
        p[i] = (uint32_t)i;
    }
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(ref_mix64(kappa + i) % (uint64_t)(n - i));
        uint32_t x = p[i];
        p[i] = p[j];
        p[j] = x;
    }
    memcpy(out, p, k * sizeof(uint32_t));
    qsort(out, k, sizeof(uint32_t), u32_cmp);
    free(p);
}

static uint64_t call_kappa(const rz_compressor_key_t *key)
{
    return ref_key(key->seed, 5, key->iteration, key->chunk);
}

/* ------------------------------------------------------------ helpers */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float ldf(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

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

/* The plugin's mask, read off the wire: encode v_i = i + 1 (exact below
 * 2^24), so the j-th value names the j-th masked index. */
static int plugin_mask(void *ctx, const rz_compressor_key_t *key, size_t n,
                       size_t k, uint32_t *out)
{
    float *v = malloc(n * sizeof(float));
    unsigned char *w = malloc(4 * k + 1);
    size_t sz = 0;
    rz_status_t st;

    for (size_t i = 0; i < n; i++) {
        v[i] = (float)(i + 1);
    }
    st = ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, v, n, w + 1, 4 * k,
                       &sz, NULL);
    for (size_t j = 0; st == RZ_OK && j < k; j++) {
        out[j] = (uint32_t)ldf(w + 1 + 4 * j) - 1;
    }
    free(v);
    free(w);
    return st == RZ_OK && sz == 4 * k ? 0 : -1;
}

/* Dense decode into a NaN-filled y (beta == 0 must not read it). */
static rz_status_t decode_dense(void *ctx, const rz_compressor_key_t *key,
                                const void *w, size_t size, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = NAN;
    }
    return ops->decompress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, w, size, y, n,
                           1.0f, 0.0f);
}

/* ------------------------------------------------------ known answers */

static void test_known_answers(void)
{
    static const uint32_t want[9] = {0, 2, 5, 10, 12, 13, 24, 27, 28};
    const rz_compressor_key_t key = {1, 0, 0, 0};
    uint32_t m[9];
    void *ctx;

    CHECK(ref_mix64(0) == 0xE220A8397B1DCDAFull, "mix64(0) = %016llx",
          (unsigned long long)ref_mix64(0));
    CHECK(ref_key(1, 5, 0, 0) == 0xAC00E8F02F8C2CE4ull,
          "key(1, 5, 0, 0) = %016llx", (unsigned long long)ref_key(1, 5, 0, 0));
    ref_mask(0xAC00E8F02F8C2CE4ull, 37, 9, m);
    CHECK(memcmp(m, want, sizeof(want)) == 0, "reference mask(37, 9)");

    /* The plugin with k = 9 and ratio = 9/37 (floor(0.25 * 37) = 9). */
    ctx = rz_ct_init(ops, "k=9");
    memset(m, 0xff, sizeof(m));
    CHECK(plugin_mask(ctx, &key, 37, 9, m) == 0 &&
              memcmp(m, want, sizeof(want)) == 0,
          "plugin mask(seed 1, t 0, c 0, n 37, k 9): %u %u %u %u %u %u %u %u "
          "%u",
          m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
    ops->finalize(ctx);
    ctx = rz_ct_init(ops, "ratio=0.25");
    CHECK(plugin_mask(ctx, &key, 37, 9, m) == 0 &&
              memcmp(m, want, sizeof(want)) == 0,
          "plugin mask with ratio=0.25");
    ops->finalize(ctx);
}

/* The plugin's mask equals the reference over sizes, ratios and keys
 * (both the array and the sparse-map paths, small and radix sorts). */
static void test_mask_sweep(void)
{
    static const size_t ns[] = {1,    2,    7,      37,
                                1000, 4097, 100003, (1u << 22) + 5};
    static const struct {
        const char *params;
        double ratio;
        size_t kfix;
    } cfg[] = {{"ratio=1e-4", 1e-4, 0}, {"ratio=0.01", 0.01, 0},
               {"ratio=0.1", 0.1, 0},   {"ratio=0.2", 0.2, 0},
               {"ratio=0.5", 0.5, 0},   {"ratio=1", 1.0, 0},
               {"k=3", 0, 3},           {"k=40", 0, 40}};
    static const rz_compressor_key_t keys[] = {
        {0, 0, 0, 0},
        {1, 0, 0, 0},
        {1, 1, 0, 0},
        {1, 0, 1, 0},
        {0xdeadbeefcafef00dull, 123456789, 42, 3},
        {~0ull, ~0ull, ~0ull, 0}};

    for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
        void *ctx = rz_ct_init(ops, cfg[c].params);
        for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
            size_t n = ns[a], k = expect_k(cfg[c].ratio, cfg[c].kfix, n);
            uint32_t *want = malloc(k * sizeof(uint32_t));
            uint32_t *got = malloc(k * sizeof(uint32_t));
            size_t nkeys = n > 100003 ? 2 : sizeof(keys) / sizeof(keys[0]);

            if (n > 100003 && k > n / 8) {
                nkeys = 0; /* the small sizes cover the dense path */
            }
            CHECK(ops->max_compressed_size(ctx, 0, n) == 4 * k,
                  "[%s n=%zu] size %zu, want %zu", cfg[c].params, n,
                  ops->max_compressed_size(ctx, 0, n), 4 * k);
            for (size_t q = 0; q < nkeys; q++) {
                ref_mask(call_kappa(&keys[q]), n, k, want);
                CHECK(plugin_mask(ctx, &keys[q], n, k, got) == 0 &&
                          memcmp(want, got, k * sizeof(uint32_t)) == 0,
                      "[%s n=%zu key %zu] mask differs from the reference",
                      cfg[c].params, n, q);
            }
            free(want);
            free(got);
        }
        ops->finalize(ctx);
    }
}

/* ------------------------------------------------------------ C2-C6 */

static void check_vector(void *ctx, const char *params, size_t k,
                         const rz_compressor_key_t *key, const float *v,
                         size_t n)
{
    const size_t need = 4 * k;
    unsigned char *buf = malloc(need + 8), *w = buf + 3;
    unsigned char *buf2 = malloc(need + 8), *w2 = buf2 + 1;
    float *r = malloc((n + 1) * sizeof(float));
    float *y = malloc((n + 1) * sizeof(float));
    float *y2 = malloc((n + 1) * sizeof(float));
    float *t = malloc((n + 1) * sizeof(float));
    uint32_t *m = malloc((k + 1) * sizeof(uint32_t));
    size_t size = 777, size2;
    rz_status_t st;
    int bad;
    char what[160];

    snprintf(what, sizeof(what), "[%s n=%zu t=%llu c=%llu]", params, n,
             (unsigned long long)key->iteration,
             (unsigned long long)key->chunk);
    st = ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, v, n, w, need, &size,
                       r);
    CHECK(st == RZ_OK && size == need, "%s compress %d size %zu want %zu", what,
          (int)st, size, need);
    if (st != RZ_OK || n == 0) {
        goto out;
    }

    /* C2 support: the values are v at the reference mask, ascending; the
     * residual is +0 there and v (bitwise) elsewhere. C6 bitwise. */
    ref_mask(call_kappa(key), n, k, m);
    bad = 0;
    for (size_t j = 0; j < k; j++) {
        bad += f2u(ldf(w + 4 * j)) != f2u(v[m[j]]);
    }
    CHECK(bad == 0, "%s %d wire values are not v at the mask", what, bad);
    st = decode_dense(ctx, key, w, size, y, n);
    CHECK(st == RZ_OK, "%s decompress %d", what, (int)st);
    bad = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        bool on = j < k && m[j] == i;
        uint32_t want_y = on ? f2u(v[i]) : 0, want_r = on ? 0 : f2u(v[i]);
        if ((f2u(y[i]) != want_y || f2u(r[i]) != want_r ||
             f2u(v[i] - y[i]) != f2u(r[i])) &&
            bad++ < 3) {
            CHECK(0, "%s element %zu (%s): v %a y %a r %a", what, i,
                  on ? "masked" : "off", v[i], y[i], r[i]);
        }
        j += on;
    }
    CHECK(bad == 0, "%s support / residual", what);

    /* No residual and in-place residual: same bytes, same residual. */
    st = ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, v, n, w2, need,
                       &size2, NULL);
    CHECK(st == RZ_OK && size2 == need && memcmp(w, w2, need) == 0,
          "%s compress without residual differs", what);
    memcpy(t, v, n * sizeof(float));
    st = ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need,
                       &size2, t);
    CHECK(st == RZ_OK && memcmp(w, w2, need) == 0 &&
              memcmp(t, r, n * sizeof(float)) == 0,
          "%s in-place compress differs", what);

    /* C3 with the same key. */
    memcpy(t, y, n * sizeof(float));
    ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need, &size2,
                  NULL);
    decode_dense(ctx, key, w2, size2, y2, n);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !(y2[i] == y[i]);
    }
    CHECK(bad == 0, "%s C3: %d elements differ", what, bad);

    /* C4 for a = 2 and 0.25. */
    for (int a = 0; a < 2; a++) {
        const float alpha = a ? 0.25f : 2.0f;
        for (size_t i = 0; i < n; i++) {
            t[i] = alpha * v[i];
        }
        ops->compress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, t, n, w2, need, &size2,
                      NULL);
        decode_dense(ctx, key, w2, size2, y2, n);
        bad = 0;
        for (size_t i = 0; i < n; i++) {
            bad += f2u(y2[i]) != f2u(alpha * y[i]);
        }
        CHECK(bad == 0, "%s C4 alpha %g: %d elements differ", what, alpha, bad);
    }

    /* Decode-accumulate, bitwise (beta == 1: up to the sign of zero). */
    {
        static const float ab[][2] = {{1.0f, 1.0f},  {-0.5f, 1.0f},
                                      {2.0f, 0.75f}, {1.0f, -1.0f},
                                      {3.0f, 0.0f},  {-1.0f, 0.0f}};
        rz_ct_fill(t, n, 2.0);
        for (size_t i = 0; i < n; i += 5) {
            t[i] = (i / 5) % 2 ? -0.0f : 0.0f;
        }
        for (size_t c = 0; c < sizeof(ab) / sizeof(ab[0]); c++) {
            const float alpha = ab[c][0], beta = ab[c][1];
            memcpy(y2, t, n * sizeof(float));
            st = ops->decompress(ctx, key, RZ_COMPRESSOR_DTYPE_F32, w, size, y2,
                                 n, alpha, beta);
            CHECK(st == RZ_OK, "%s accumulate %d", what, (int)st);
            bad = 0;
            for (size_t i = 0; i < n; i++) {
                float e =
                    beta == 0.0f ? alpha * y[i] : beta * t[i] + alpha * y[i];
                bool ok = beta == 1.0f ? y2[i] == e : f2u(y2[i]) == f2u(e);
                bad += !ok;
            }
            CHECK(bad == 0, "%s accumulate alpha %g beta %g: %d differ", what,
                  alpha, beta, bad);
        }
    }

out:
    free(buf);
    free(buf2);
    free(r);
    free(y);
    free(y2);
    free(t);
    free(m);
}

static void test_codec_sweep(void)
{
    static const size_t ns[] = {0, 1, 2, 7, 37, 1000, 4097, 100003};
    static const struct {
        const char *params;
        double ratio;
        size_t kfix;
    } cfg[] = {{"ratio=1e-4", 1e-4, 0}, {"ratio=0.01", 0.01, 0},
               {"ratio=0.1", 0.1, 0},   {"ratio=0.5", 0.5, 0},
               {"ratio=1.0", 1.0, 0},   {"k=3", 0, 3}};

    for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
        void *ctx = rz_ct_init(ops, cfg[c].params);
        for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
            size_t n = ns[a];
            float *v = malloc((n + 1) * sizeof(float));
            for (uint64_t t = 0; t < 3; t++) {
                rz_compressor_key_t key = {99, t, a, 0};
                rz_ct_fill(v, n, 1.0);
                if (t == 2) { /* zeros and signed zeros */
                    for (size_t i = 0; i < n; i += 3) {
                        v[i] = i % 2 ? -0.0f : 0.0f;
                    }
                }
                check_vector(ctx, cfg[c].params,
                             expect_k(cfg[c].ratio, cfg[c].kfix, n), &key, v,
                             n);
            }
            free(v);
        }
        ops->finalize(ctx);
    }
}

/* -------------------------------------- shared mask: linearity, keys */

static void test_shared_mask(void)
{
    const size_t n = 1000, k = 10;
    void *ctx = rz_ct_init(ops, "ratio=0.01");
    rz_compressor_key_t key = {5, 17, 2, 0};
    float a[1000], b[1000], s[1000], ya[1000], yb[1000], ys[1000];
    unsigned char wa[40], wb[40], ws[40];
    uint32_t m0[10], m1[10];
    size_t sz;
    int bad = 0, differ;

    rz_ct_fill(a, n, 1.0);
    rz_ct_fill(b, n, 3.0);
    for (size_t i = 0; i < n; i++) {
        s[i] = a[i] + b[i];
    }
    ops->compress(ctx, &key, 0, a, n, wa, sizeof(wa), &sz, NULL);
    ops->compress(ctx, &key, 0, b, n, wb, sizeof(wb), &sz, NULL);
    ops->compress(ctx, &key, 0, s, n, ws, sizeof(ws), &sz, NULL);

    /* Same key, different vectors: the same support (no zeros in a, b). */
    decode_dense(ctx, &key, wa, sz, ya, n);
    decode_dense(ctx, &key, wb, sz, yb, n);
    for (size_t i = 0; i < n; i++) {
        bad += (ya[i] != 0.0f) != (yb[i] != 0.0f);
    }
    CHECK(bad == 0, "same key, different v: different masks");

    /* Linearity: Dec(C(a)) + Dec(C(b)) == Dec(C(a + b)), bitwise, also
     * when the second term is accumulated by the decoder itself. */
    memcpy(ys, ya, sizeof(ys));
    ops->decompress(ctx, &key, 0, wb, sz, ys, n, 1.0f, 1.0f);
    decode_dense(ctx, &key, ws, sz, yb, n);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !(ys[i] == yb[i]);
    }
    CHECK(bad == 0, "linearity: %d elements differ", bad);

    /* Another chunk, iteration or seed draws another mask. */
    plugin_mask(ctx, &key, n, k, m0);
    for (int f = 0; f < 3; f++) {
        rz_compressor_key_t k2 = key;
        if (f == 0) {
            k2.chunk++;
        } else if (f == 1) {
            k2.iteration++;
        } else {
            k2.seed++;
        }
        plugin_mask(ctx, &k2, n, k, m1);
        differ = memcmp(m0, m1, sizeof(m0)) != 0;
        CHECK(differ, "key field %d changed, mask did not", f);
    }
    /* The rank is not part of the mask key. */
    {
        rz_compressor_key_t k2 = key;
        k2.rank = 3;
        plugin_mask(ctx, &k2, n, k, m1);
        CHECK(memcmp(m0, m1, sizeof(m0)) == 0, "rank changed the mask");
    }
    ops->finalize(ctx);
}

/*
 * Soft statistics: over 2000 keys, the mean of ||v - C(v)||^2 / ||v||^2
 * is within 5 % of 1 - k/n, and every position is drawn about k/n of the
 * time.
 */
static void test_statistics(void)
{
    const size_t n = 1000;
    void *ctx = rz_ct_init(ops, "ratio=0.1");
    float v[1000], r[1000];
    unsigned char w[400];
    double ev = 0, sum = 0, want = 1.0 - 100.0 / 1000.0;
    size_t sz;

    rz_ct_fill(v, n, 1.0);
    for (size_t i = 0; i < n; i++) {
        ev += (double)v[i] * v[i];
    }
    for (uint64_t t = 0; t < 2000; t++) {
        rz_compressor_key_t key = {2024, t, 0, 0};
        double er = 0;
        ops->compress(ctx, &key, 0, v, n, w, sizeof(w), &sz, r);
        for (size_t i = 0; i < n; i++) {
            er += (double)r[i] * r[i];
        }
        sum += er / ev;
    }
    CHECK(fabs(sum / 2000 - want) <= 0.05 * want,
          "mean |r|^2/|v|^2 = %g, want %g +- 5%%", sum / 2000, want);
    ops->finalize(ctx);

    ctx = rz_ct_init(ops, "k=9");
    {
        unsigned hits[37] = {0};
        uint32_t m[9];
        const double expect = 20000.0 * 9 / 37;
        for (uint64_t t = 0; t < 20000; t++) {
            rz_compressor_key_t key = {t * 7919, t, t % 5, 0};
            plugin_mask(ctx, &key, 37, 9, m);
            for (int j = 0; j < 9; j++) {
                hits[m[j]]++;
            }
        }
        for (int i = 0; i < 37; i++) {
            CHECK(fabs(hits[i] - expect) <= 0.1 * expect,
                  "position %d drawn %u times, expected about %.0f", i, hits[i],
                  expect);
        }
    }
    ops->finalize(ctx);
}

/* ------------------------------------------- sizes, params, API, errors */

static void test_malformed(void)
{
    void *ctx = rz_ct_init(ops, "ratio=0.01");
    const rz_compressor_key_t key = {1, 2, 3, 0};
    const size_t n = 1000, k = 10;
    float v[1000], y[1000], y0[1000];
    unsigned char w[4 * 11 + 4];
    size_t sz;
    rz_status_t st;

    rz_ct_fill(v, n, 1.0);
    rz_ct_fill(y0, n, 1.0);
    st = ops->compress(ctx, &key, 0, v, n, w, 4 * k, &sz, NULL);
    CHECK(st == RZ_OK && sz == 4 * k, "setup");
    memset(w + 4 * k, 0, sizeof(w) - 4 * k);

    {
        static const size_t sizes[] = {0, 1, 36, 39, 41, 44};
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            memcpy(y, y0, sizeof(y));
            st = ops->decompress(ctx, &key, 0, w, sizes[s], y, n, 1.0f, 0.5f);
            CHECK(st == RZ_ERR_MALFORMED, "size %zu: %d", sizes[s], (int)st);
            CHECK(memcmp(y, y0, sizeof(y)) == 0, "size %zu: y written",
                  sizes[s]);
        }
    }
    st = ops->decompress(ctx, &key, 0, w, 40, y, 0, 1.0f, 1.0f);
    CHECK(st == RZ_ERR_MALFORMED, "count 0 with 40 bytes: %d", (int)st);
    st = ops->decompress(ctx, &key, 0, NULL, 0, NULL, 0, 1.0f, 1.0f);
    CHECK(st == RZ_OK, "count 0, size 0: %d", (int)st);
    /* 40 bytes are right for 1000..1099 elements only. */
    st = ops->decompress(ctx, &key, 0, w, 40, y, 999, 1.0f, 1.0f);
    CHECK(st == RZ_ERR_MALFORMED, "40 bytes for 999 elements: %d", (int)st);

    /* Unaligned wire bytes decode the same at every offset. */
    for (int off = 0; off < 4; off++) {
        unsigned char b[48];
        uint32_t m[10];
        memcpy(b + off, w, 4 * k);
        st = ops->decompress(ctx, &key, 0, b + off, 4 * k, y, n, 1.0f, 0.0f);
        CHECK(st == RZ_OK, "offset %d: %d", off, (int)st);
        ref_mask(call_kappa(&key), n, k, m);
        for (size_t j = 0; j < k; j++) {
            CHECK(f2u(y[m[j]]) == f2u(v[m[j]]), "offset %d: element %u", off,
                  m[j]);
        }
    }
    ops->finalize(ctx);
}

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
                                "=0.1",          "seed=1"};
    static const char *good[] = {NULL,        "",           "ratio=1", "k=3",
                                 "ratio=0.5", "ratio=1e-4", ",k=7,"};

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
    {
        void *ctx = rz_ct_init(ops, NULL); /* ratio 0.01 */
        CHECK(ops->max_compressed_size(ctx, 0, 0) == 0, "n = 0");
        CHECK(ops->max_compressed_size(ctx, 0, 1) == 4, "n = 1");
        CHECK(ops->max_compressed_size(ctx, 0, 199) == 4, "n = 199");
        CHECK(ops->max_compressed_size(ctx, 0, 200) == 8, "n = 200");
        ops->finalize(ctx);
    }
}

static void test_api(const char *path)
{
    void *ctx = rz_ct_init(ops, "k=4"), *dl;
    const rz_compressor_key_t key = {1, 0, 0, 0};
    rz_compressor_info_t info;
    float v[64], r[64];
    unsigned char w[64];
    size_t sz = 99;

    CHECK(ops->abi_version == RZ_COMPRESSOR_ABI_VERSION, "abi_version");
    CHECK(ops->struct_size == sizeof(rz_compressor_v1_t), "struct_size");
    CHECK(strcmp(ops->name, "randk") == 0, "name %s", ops->name);
    CHECK(ops->delta_bound == NULL, "randk is not contractive per call");
    dl = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(dl != NULL && dlsym(dl, "rz_randk_compress") == NULL &&
              dlsym(dl, "rz_randk_mask") == NULL,
          "internal symbols exported");

    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    CHECK(ops->query(ctx, &info) == RZ_OK, "query");
    CHECK(info.caps ==
              (RZ_COMPRESSOR_CAP_LINEAR | RZ_COMPRESSOR_CAP_IDEMPOTENT |
               RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
               RZ_COMPRESSOR_CAP_FIXED_SIZE),
          "caps %#x", info.caps);
    CHECK(info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32),
          "dtypes");
    CHECK(info.wire_id == 7, "wire_id %u", info.wire_id);
    CHECK(info.min_count == 1024, "min_count");
    memset(&info, 0xab, sizeof(info));
    info.struct_size = 16;
    CHECK(ops->query(ctx, &info) == RZ_OK &&
              info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(0) &&
              info.min_count == 0xababababababababull,
          "query wrote past struct_size");

    rz_ct_fill(v, 64, 1.0);
    CHECK(ops->compress(ctx, &key, 0, v, 64, w, 15, &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "short capacity");
    CHECK(ops->compress(ctx, &key, RZ_COMPRESSOR_DTYPE_F64, v, 64, w, 64, &sz,
                        r) == RZ_ERR_NOT_SUPPORTED,
          "f64");
    CHECK(ops->decompress(ctx, &key, RZ_COMPRESSOR_DTYPE_BF16, w, 16, v, 64,
                          1.0f, 0.0f) == RZ_ERR_NOT_SUPPORTED,
          "bf16 decompress");
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F16, 64) == 0,
          "f16 size");
    CHECK(ops->compress(ctx, NULL, 0, v, 64, w, 64, &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL key");
    CHECK(ops->decompress(ctx, NULL, 0, w, 16, v, 64, 1.0f, 0.0f) ==
              RZ_ERR_INVALID_PARAM,
          "NULL key decompress");
    CHECK(ops->compress(ctx, &key, 0, v, 64, w, 64, NULL, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL size_p");
    CHECK(ops->compress(ctx, &key, 0, NULL, 64, w, 64, &sz, r) ==
              RZ_ERR_INVALID_PARAM,
          "NULL in");
    CHECK(ops->decompress(ctx, &key, 0, w, 16, NULL, 64, 1.0f, 0.0f) ==
              RZ_ERR_INVALID_PARAM,
          "NULL y");
    sz = 99;
    CHECK(ops->compress(ctx, &key, 0, NULL, 0, NULL, 0, &sz, NULL) == RZ_OK &&
              sz == 0,
          "count 0");
    ops->finalize(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s librz_randk.so\n", argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);
    test_api(argv[1]);
    test_params();
    test_known_answers();
    test_mask_sweep();
    test_codec_sweep();
    test_shared_mask();
    test_statistics();
    test_malformed();
    return rz_ct_report("codec_randk");
}
