/*
 * Unit test of the qsgd plugin (ALGORITHMS.md 1.2 and 5.1, plugins/qsgd
 * README.md):
 *     test_codec_qsgd <path to librz_qsgd.so>
 *
 * Every encoding is compared byte for byte with a wire built here by an
 * independent scalar reference written from the README (eight-lane double
 * norm, u = (mix64(base + i) >> 11) * 2^-53 compared in double, fields
 * packed one bit at a time), and every decoded or residual value bit for
 * bit with the values that wire defines. The statistical checks
 * (unbiasedness, the variance bound) average over thousands of keys with
 * tolerances of five standard errors or 10%, so they are deterministic
 * (fixed keys and vectors) and far from their limits.
 */
#include "codec_test.h"

#include <float.h>

typedef struct qt_codec {
    const rz_compressor_v1_t *ops;
    void                     *ctx;
    unsigned                  s;        /* levels */
    size_t                    b;        /* bucket */
    char                      params[64];
} qt_codec_t;

static const rz_compressor_key_t qt_key = {0x5EED, 7, 3, 1};

/* ------------------------------------------------------------ references */

static uint32_t qt_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float qt_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t qt_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* key(seed, 6, t, c, rank) of the README. */
static uint64_t qt_base(const rz_compressor_key_t *k)
{
    uint64_t z = qt_mix64(k->seed) ^ 6u;
    z = qt_mix64(z) ^ k->iteration;
    z = qt_mix64(z) ^ k->chunk;
    z = qt_mix64(z) ^ k->rank;
    return qt_mix64(z);
}

static unsigned qt_width(unsigned s)
{
    unsigned bits = 0;
    while ((1u << bits) < s + 1u) {     /* ceil(log2(s + 1)) */
        bits++;
    }
    return 1 + bits;
}

static size_t qt_nbuckets(size_t n, size_t b)
{
    return (n + b - 1) / b;
}

static size_t qt_ref_size(size_t n, unsigned s, size_t b)
{
    return n == 0 ? 0
                  : 4 * qt_nbuckets(n, b) + (n * qt_width(s) + 7) / 8;
}

/* fp32(sqrt(T)), T the eight-lane sum of squares from the bucket start;
 * an fp32 overflow saturates at FLT_MAX. */
static float qt_ref_norm(const float *v, size_t n)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double t;
    float norm;

    for (size_t j = 0; j < n; j++) {
        lane[j % 8] = lane[j % 8] + (double)v[j] * (double)v[j];
    }
    t = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
        ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    norm = (float)sqrt(t);
    return norm > FLT_MAX ? FLT_MAX : norm;
}

/* The decoded value of (xi, neg) under norm: fl(norm * fl(xi / s)), sign
 * applied, zero always +0. */
static float qt_ref_value(float norm, unsigned s, unsigned xi, int neg)
{
    float g = (float)xi / (float)s;
    float m = norm * g;
    float d = neg ? -m : m;
    return d == 0.0f ? 0.0f : d;
}

static void qt_put_field(unsigned char *bits, size_t i, unsigned w,
                         uint32_t field)
{
    for (unsigned j = 0; j < w; j++) {
        size_t pos = i * w + j;
        if (field >> j & 1u) {
            bits[pos / 8] |= (unsigned char)(1u << (pos % 8));
        }
    }
}

static uint32_t qt_get_field(const unsigned char *bits, size_t i, unsigned w)
{
    uint32_t field = 0;
    for (unsigned j = 0; j < w; j++) {
        size_t pos = i * w + j;
        field |= (uint32_t)(bits[pos / 8] >> (pos % 8) & 1u) << j;
    }
    return field;
}

/*
 * The README's encoder, element by element: the wire into w (zeroed here)
 * and the decoded values into dec (may be NULL). Returns the size.
 */
static size_t qt_ref_wire(const float *v, size_t n, unsigned s, size_t b,
                          const rz_compressor_key_t *key, unsigned char *w,
                          float *dec)
{
    size_t size = qt_ref_size(n, s, b), nb = qt_nbuckets(n, b);
    unsigned width = qt_width(s);
    uint64_t base = qt_base(key);
    unsigned char *bits = w + 4 * nb;

    memset(w, 0, size);
    for (size_t bi = 0; bi < nb; bi++) {
        size_t b0 = bi * b, len = n - b0 < b ? n - b0 : b;
        float norm = qt_ref_norm(v + b0, len);
        uint32_t nbits = qt_bits(norm);

        memcpy(w + 4 * bi, &nbits, 4);      /* little-endian host */
        for (size_t i = b0; i < b0 + len; i++) {
            unsigned xi = 0;
            int neg;

            if (norm > 0.0f) {
                double q = (double)s / (double)norm;
                double t = fabs((double)v[i]) * q;
                double l, frac, u;

                if (t > (double)s) {
                    t = (double)s;
                }
                l = floor(t);
                frac = t - l;
                u = (double)(qt_mix64(base + i) >> 11) * 0x1p-53;
                xi = (unsigned)l + (u < frac ? 1u : 0u);
            }
            neg = v[i] < 0.0f && xi != 0;
            qt_put_field(bits, i, width, (uint32_t)xi << 1 | (uint32_t)neg);
            if (dec != NULL) {
                dec[i] = qt_ref_value(norm, s, xi, neg);
            }
        }
    }
    return size;
}

/* Decoded values of a (valid) wire, read field by field. */
static void qt_ref_decode(const unsigned char *w, size_t n, unsigned s,
                          size_t b, float *dec)
{
    size_t nb = qt_nbuckets(n, b);
    unsigned width = qt_width(s);

    for (size_t i = 0; i < n; i++) {
        uint32_t nbits, field = qt_get_field(w + 4 * nb, i, width);
        memcpy(&nbits, w + 4 * (i / b), 4);
        dec[i] = qt_ref_value(qt_float(nbits), s, field >> 1, field & 1);
    }
}

static float qt_axpby(float y, float d, float alpha, float beta)
{
    volatile float p = alpha * d;       /* one rounding per operation */
    if (beta == 0.0f) {
        return p;
    }
    volatile float by = beta * y;
    return by + p;
}

/* ------------------------------------------------------------ plumbing */

static size_t qt_first_ne(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] == b[i])) {
            return i;
        }
    }
    return SIZE_MAX;
}

static float *qt_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static unsigned char *qt_bytes(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void qt_open(qt_codec_t *c, const rz_compressor_v1_t *ops, unsigned s,
                    size_t b)
{
    c->ops = ops;
    c->s = s;
    c->b = b;
    snprintf(c->params, sizeof(c->params), "levels=%u,bucket=%zu", s, b);
    c->ctx = rz_ct_init(ops, c->params);
}

static void qt_close(qt_codec_t *c)
{
    c->ops->finalize(c->ctx);
    c->ctx = NULL;
}

static rz_status_t qt_encode(const qt_codec_t *c,
                             const rz_compressor_key_t *key, const float *v,
                             size_t n, unsigned char *w, size_t cap,
                             size_t *size_p, float *r)
{
    return c->ops->compress(c->ctx, key, RZ_COMPRESSOR_DTYPE_F32, v, n, w, cap,
                            size_p, r);
}

static rz_status_t qt_decode(const qt_codec_t *c, const unsigned char *w,
                             size_t size, float *y, size_t n, float alpha,
                             float beta)
{
    return c->ops->decompress(c->ctx, &qt_key, RZ_COMPRESSOR_DTYPE_F32, w,
                              size, y, n, alpha, beta);
}

/* A test vector: roughly N(0, scale^2), with zeros, -0, exact ties between
 * levels and one dominant element mixed in when n allows. */
static void qt_vector(float *v, size_t n, double scale)
{
    rz_ct_fill(v, n, scale);
    for (size_t i = 0; i < n; i += 7) {
        v[i] = 0.0f;
    }
    for (size_t i = 3; i < n; i += 11) {
        v[i] = -0.0f;
    }
    if (n > 20) {
        v[17] = (float)(40.0 * scale);
        v[19] = -v[17];
    }
}

/* ------------------------------------------------- exact bytes and values */

/*
 * One vector through the plugin against the reference: size, bytes, the
 * residual (separate and in place) and decode-accumulate with several
 * alpha/beta, all bitwise. Also: every decoded magnitude sits on the grid
 * fl(norm * fl(l / s)) with l one of the two levels around s|v|/norm, and
 * no decoded value is -0.
 */
static void qt_check_vector(const qt_codec_t *c, const float *v, size_t n,
                            const rz_compressor_key_t *key)
{
    size_t want = qt_ref_size(n, c->s, c->b), size = 12345, cap;
    unsigned char *w, *ref;
    float *dec, *r, *ip, *y, *y0;
    rz_status_t st;
    size_t bad;

    cap = c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_F32, n);
    CHECK(cap == want, "%s n=%zu: max_compressed_size %zu, want %zu",
          c->params, n, cap, want);
    w = qt_bytes(want + 16);
    ref = qt_bytes(want + 16);
    dec = qt_floats(n);
    r = qt_floats(n);
    ip = qt_floats(n);
    y = qt_floats(n);
    y0 = qt_floats(n);

    memset(w, 0xA5, want + 16);
    st = qt_encode(c, key, v, n, w, want, &size, r);
    CHECK(st == RZ_OK && size == want, "%s n=%zu: compress %d size %zu, "
          "want %zu", c->params, n, (int)st, size, want);
    if (st != RZ_OK || size != want) {
        goto out;
    }
    CHECK(w[want] == 0xA5, "%s n=%zu: wrote past the size", c->params, n);
    qt_ref_wire(v, n, c->s, c->b, key, ref, dec);
    CHECK(memcmp(w, ref, want) == 0, "%s n=%zu: bytes differ from the "
          "reference", c->params, n);

    /* C6: r = v - Dec, bitwise, with Dec the reference's values. */
    for (size_t i = 0; i < n; i++) {
        y0[i] = v[i] - dec[i];
    }
    bad = qt_first_ne(r, y0, n);
    CHECK(bad == SIZE_MAX, "%s n=%zu: residual[%zu] = %a, v - Dec = %a",
          c->params, n, bad, bad < n ? (double)r[bad] : 0.0,
          bad < n ? (double)y0[bad] : 0.0);

    /* In place: the same bytes and the same residual. */
    memcpy(ip, v, n * sizeof(float));
    memset(ref, 0, want);
    st = qt_encode(c, key, ip, n, ref, want, &size, ip);
    CHECK(st == RZ_OK && memcmp(w, ref, want) == 0, "%s n=%zu: in-place "
          "encode gives other bytes", c->params, n);
    bad = qt_first_ne(ip, r, n);
    CHECK(bad == SIZE_MAX, "%s n=%zu: in-place residual differs at %zu",
          c->params, n, bad);

    /* Without a residual: the same bytes. */
    memset(ref, 0, want);
    st = qt_encode(c, key, v, n, ref, want, &size, NULL);
    CHECK(st == RZ_OK && memcmp(w, ref, want) == 0, "%s n=%zu: encode "
          "without residual gives other bytes", c->params, n);

    /* Decode with beta = 0 never reads y (NaN there). */
    for (size_t i = 0; i < n; i++) {
        y[i] = NAN;
    }
    st = qt_decode(c, w, want, y, n, 1.0f, 0.0f);
    CHECK(st == RZ_OK, "%s n=%zu: decompress %d", c->params, n, (int)st);
    bad = qt_first_ne(y, dec, n);
    CHECK(bad == SIZE_MAX, "%s n=%zu: Dec[%zu] = %a, reference %a",
          c->params, n, bad, bad < n ? (double)y[bad] : 0.0,
          bad < n ? (double)dec[bad] : 0.0);
    qt_ref_decode(w, n, c->s, c->b, y0);
    CHECK(qt_first_ne(y0, dec, n) == SIZE_MAX, "%s n=%zu: reference "
          "decoder disagrees with reference encoder", c->params, n);
    for (size_t i = 0; i < n; i++) {
        if (qt_bits(y[i]) == 0x80000000u) {
            CHECK(0, "%s n=%zu: Dec[%zu] is -0", c->params, n, i);
            break;
        }
    }

    /* Grid: |Dec_i| = fl(norm * fl(l / s)) for l = floor(t) or floor(t)+1,
     * and the sign of Dec_i is the sign of v_i (or Dec_i = +0). */
    for (size_t i = 0; i < n; i++) {
        float norm;
        uint32_t nbits;
        double t;
        unsigned l;
        float lo, hi, a = fabsf(dec[i]);

        memcpy(&nbits, w + 4 * (i / c->b), 4);
        norm = qt_float(nbits);
        t = norm > 0.0f ? fabs((double)v[i]) * ((double)c->s / norm) : 0.0;
        if (t > c->s) {
            t = c->s;
        }
        l = (unsigned)floor(t);
        lo = qt_ref_value(norm, c->s, l, 0);
        hi = l < c->s ? qt_ref_value(norm, c->s, l + 1, 0) : lo;
        if (!(a == lo || a == hi) ||
            (dec[i] != 0.0f && (dec[i] < 0.0f) != (v[i] < 0.0f))) {
            CHECK(0, "%s n=%zu: Dec[%zu] = %a off the grid (v %a, norm %a)",
                  c->params, n, i, (double)dec[i], (double)v[i],
                  (double)norm);
            break;
        }
    }

    /* y = beta*y + alpha*Dec for a few (alpha, beta). */
    {
        static const float ab[][2] = {
            {1.0f, 1.0f}, {0.5f, 1.0f}, {-1.5f, 0.25f}, {0.3f, -2.0f},
            {0.0f, 1.0f}, {2.0f, 0.0f}};
        for (size_t k = 0; k < sizeof(ab) / sizeof(ab[0]); k++) {
            float alpha = ab[k][0], beta = ab[k][1];
            rz_ct_fill(y, n, 3.0);
            for (size_t i = 0; i < n; i++) {
                y0[i] = qt_axpby(y[i], dec[i], alpha, beta);
            }
            st = qt_decode(c, w, want, y, n, alpha, beta);
            bad = qt_first_ne(y, y0, n);
            CHECK(st == RZ_OK && bad == SIZE_MAX, "%s n=%zu alpha=%g "
                  "beta=%g: status %d, y[%zu] differs", c->params, n,
                  (double)alpha, (double)beta, (int)st, bad);
        }
    }
out:
    free(w);
    free(ref);
    free(dec);
    free(r);
    free(ip);
    free(y);
    free(y0);
}

static const unsigned qt_levels[] = {1, 2, 3, 5, 7, 15, 16, 127, 255, 1000,
                                     65535};
static const size_t qt_buckets[] = {1, 3, 8, 100, 512, 4096};
static const size_t qt_counts[] = {1,   2,   3,    7,    8,    9,   15,
                                   16,  17,  31,   63,   64,   65,  100,
                                   511, 512, 513,  1023, 1024, 1025, 2047,
                                   3000, 4099};

static void qt_check_sizes_and_vectors(const rz_compressor_v1_t *ops)
{
    size_t nmax = 4099;
    float *v = qt_floats(nmax);

    for (size_t a = 0; a < sizeof(qt_levels) / sizeof(qt_levels[0]); a++) {
        for (size_t b = 0; b < sizeof(qt_buckets) / sizeof(qt_buckets[0]);
             b++) {
            qt_codec_t c;
            size_t size = 99;
            rz_status_t st;

            qt_open(&c, ops, qt_levels[a], qt_buckets[b]);
            /* n = 0: nothing written, in and out may be NULL. */
            CHECK(ops->max_compressed_size(c.ctx, RZ_COMPRESSOR_DTYPE_F32,
                                           0) == 0,
                  "%s: max size for n = 0", c.params);
            st = qt_encode(&c, &qt_key, NULL, 0, NULL, 0, &size, NULL);
            CHECK(st == RZ_OK && size == 0, "%s: n = 0 gives %d, %zu",
                  c.params, (int)st, size);
            CHECK(qt_decode(&c, NULL, 0, NULL, 0, 1.0f, 0.0f) == RZ_OK,
                  "%s: decode n = 0", c.params);
            for (size_t k = 0; k < sizeof(qt_counts) / sizeof(qt_counts[0]);
                 k++) {
                size_t n = qt_counts[k];
                /* Keep the sweep quick: the sizes above one staging block
                 * (1024 fields) for buckets 1, 8, 512 and 4096 (buckets
                 * inside blocks and blocks inside a bucket). */
                if (n > 1100 && (qt_buckets[b] == 3 || qt_buckets[b] == 100)) {
                    continue;
                }
                qt_vector(v, n, 0.5 + (double)k);
                qt_check_vector(&c, v, n, &qt_key);
            }
            qt_close(&c);
        }
    }
    free(v);
}

/* Exact sizes from the formula for a few hand-worked cases. */
static void qt_check_size_table(const rz_compressor_v1_t *ops)
{
    static const struct {
        unsigned s;
        size_t b, n, size;
    } cases[] = {
        {15, 512, 1, 4 + 1},              /* w = 5 */
        {15, 512, 8, 4 + 5},
        {15, 512, 1000, 8 + 625},
        {1, 512, 9, 4 + 3},               /* w = 2: 18 bits */
        {7, 4, 9, 12 + 5},                /* w = 4: 36 bits */
        {16, 512, 3, 4 + 3},              /* w = 6: 18 bits */
        {127, 100, 200, 8 + 200},         /* w = 8 */
        {255, 1, 5, 20 + 6},              /* w = 9: 45 bits */
        {65535, 512, 3, 4 + 7},           /* w = 17: 51 bits */
        {3, 512, 0, 0},
    };
    /* The README's worked example, byte for byte (any key). */
    {
        static const float v[3] = {0.75f, -1.0f, 0.0f};
        static const unsigned char want[6] = {0x00, 0x00, 0xa0, 0x3f,
                                              0x32, 0x03};
        unsigned char w[6];
        size_t size = 0;
        qt_codec_t c;

        qt_open(&c, ops, 15, 512);
        CHECK(qt_encode(&c, &qt_key, v, 3, w, sizeof(w), &size, NULL) ==
                      RZ_OK &&
                  size == 6 && memcmp(w, want, 6) == 0,
              "README example: %zu bytes %02x %02x %02x %02x %02x %02x", size,
              w[0], w[1], w[2], w[3], w[4], w[5]);
        qt_close(&c);
    }
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        qt_codec_t c;
        size_t got;

        qt_open(&c, ops, cases[k].s, cases[k].b);
        got = ops->max_compressed_size(c.ctx, RZ_COMPRESSOR_DTYPE_F32,
                                       cases[k].n);
        CHECK(got == cases[k].size && got == qt_ref_size(cases[k].n, cases[k].s,
                                                         cases[k].b),
              "%s n=%zu: size %zu, want %zu", c.params, cases[k].n, got,
              cases[k].size);
        qt_close(&c);
    }
}

/* ---------------------------------------------------- the norm's shape */

/* A left-to-right double sum of squares: what the eight lanes rule out. */
static float qt_naive_norm(const float *v, size_t n)
{
    double t = 0.0;
    for (size_t i = 0; i < n; i++) {
        t += (double)v[i] * (double)v[i];
    }
    return (float)sqrt(t);
}

/* The eight lanes with another tree: pairs (L0 + L4) first. */
static float qt_pairs_norm(const float *v, size_t n)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t j = 0; j < n; j++) {
        lane[j % 8] = lane[j % 8] + (double)v[j] * (double)v[j];
    }
    return (float)sqrt(((lane[0] + lane[4]) + (lane[1] + lane[5])) +
                       ((lane[2] + lane[6]) + (lane[3] + lane[7])));
}

/*
 * The norm's summation shape, bitwise. A constructed bucket: 1, c1 and c2
 * whose squares bring the exact sum to within a few double ulps of
 * (1 + 2^-24)^2, the square of an fp32 midpoint, and five squares below
 * half an ulp of 1 that a long accumulator drops one by one but the lanes
 * collect. The eight-lane tree gives fp32 1 + 2^-23; a left-to-right sum,
 * four lanes, another tree, a sequential sum of the lanes and lanes
 * rotated by 1-3 or 5-7 elements (lanes not restarted at the bucket) all
 * give 1 (found by a search over such buckets). The bucket is checked on
 * its own and as the second bucket of a vector, starting at element 13.
 * Then wide-range random buckets (magnitudes 2^-30..2^30), bitwise too.
 */
static void qt_check_norm_shape(const rz_compressor_v1_t *ops)
{
    static const uint32_t crafted[8] = {
        0x32000000u, 0x32180000u, 0x32300000u, 0x32480000u,
        0x32600000u, 0x3F800000u, 0x39B504F3u, 0x33B77B2Eu};
    const size_t n = 4099, b = 1367, nb = 3;
    size_t trials = 100, bad = 0, naive_differs = 0, size;
    size_t want = qt_ref_size(n, 15, b);
    float *v = qt_floats(n);
    unsigned char *w = qt_bytes(want);
    uint32_t got = 0;
    qt_codec_t c;

    for (size_t i = 0; i < 8; i++) {
        v[i] = qt_float(crafted[i]);
    }
    CHECK(qt_bits(qt_ref_norm(v, 8)) == 0x3F800001u &&
              qt_bits(qt_naive_norm(v, 8)) == 0x3F800000u &&
              qt_bits(qt_pairs_norm(v, 8)) == 0x3F800000u,
          "the crafted bucket does not tell the shapes apart");
    qt_open(&c, ops, 15, 8);
    CHECK(qt_encode(&c, &qt_key, v, 8, w, want, &size, NULL) == RZ_OK &&
              (memcpy(&got, w, 4), got == 0x3F800001u),
          "crafted bucket: norm 0x%08x, the eight lanes give 0x3f800001",
          (unsigned)got);
    qt_check_vector(&c, v, 8, &qt_key);
    qt_close(&c);
    qt_open(&c, ops, 15, 13);
    rz_ct_fill(v, 13, 0.01);
    for (size_t i = 0; i < 8; i++) {
        v[13 + i] = qt_float(crafted[i]);
    }
    CHECK(qt_encode(&c, &qt_key, v, 21, w, want, &size, NULL) == RZ_OK &&
              (memcpy(&got, w + 4, 4), got == 0x3F800001u),
          "crafted second bucket: norm 0x%08x, want 0x3f800001 (lanes "
          "restart at each bucket)", (unsigned)got);
    qt_check_vector(&c, v, 21, &qt_key);
    qt_close(&c);

    qt_open(&c, ops, 15, b);
    for (size_t t = 0; t < trials; t++) {
        for (size_t i = 0; i < n; i++) {
            double e = (rz_ct_uniform() - 0.5) * 60.0;
            v[i] = (float)(ldexp(1.0 + rz_ct_uniform(), (int)e) *
                           (rz_ct_uniform() < 0.5 ? -1 : 1));
        }
        if (qt_encode(&c, &qt_key, v, n, w, want, &size, NULL) != RZ_OK) {
            bad++;
            continue;
        }
        for (size_t bi = 0; bi < nb; bi++) {
            size_t len = n - bi * b < b ? n - bi * b : b;
            float lanes = qt_ref_norm(v + bi * b, len);

            memcpy(&got, w + 4 * bi, 4);
            bad += got != qt_bits(lanes);
            naive_differs +=
                qt_bits(qt_naive_norm(v + bi * b, len)) != qt_bits(lanes);
        }
    }
    CHECK(bad == 0, "%zu of %zu wide-range norms differ from the eight-lane "
          "reference", bad, trials * nb);
    printf("qsgd wide-range norms (info): %zu buckets, a left-to-right sum "
           "gives other fp32 bits in %zu\n", trials * nb, naive_differs);
    qt_close(&c);
    free(v);
    free(w);
}

/* ------------------------------------------------------------- keys */

static void qt_check_keys(const rz_compressor_v1_t *ops)
{
    qt_codec_t c;
    size_t n = 1000, size, want;
    float *v = qt_floats(n);
    unsigned char *a, *b;
    rz_compressor_key_t k2;

    qt_open(&c, ops, 15, 512);
    want = qt_ref_size(n, 15, 512);
    a = qt_bytes(want);
    b = qt_bytes(want);
    qt_vector(v, n, 1.0);

    CHECK(qt_encode(&c, &qt_key, v, n, a, want, &size, NULL) == RZ_OK &&
              qt_encode(&c, &qt_key, v, n, b, want, &size, NULL) == RZ_OK &&
              memcmp(a, b, want) == 0,
          "same key, different bytes");
    /* Each member of the key changes the draws (the norms stay). */
    for (int m = 0; m < 4; m++) {
        k2 = qt_key;
        if (m == 0) {
            k2.seed++;
        } else if (m == 1) {
            k2.iteration++;
        } else if (m == 2) {
            k2.chunk++;
        } else {
            k2.rank++;
        }
        CHECK(qt_encode(&c, &k2, v, n, b, want, &size, NULL) == RZ_OK &&
                  memcmp(a, b, 8) == 0 && memcmp(a, b, want) != 0,
              "key member %d: bytes did not change (or norms did)", m);
    }
    /* The context is stateless: a fresh one gives the same bytes. */
    {
        qt_codec_t c2;
        qt_open(&c2, ops, 15, 512);
        CHECK(qt_encode(&c2, &qt_key, v, n, b, want, &size, NULL) == RZ_OK &&
                  memcmp(a, b, want) == 0,
              "a second context gives other bytes");
        qt_close(&c2);
    }
    qt_close(&c);
    free(v);
    free(a);
    free(b);
}

/* ------------------------------------------------------------ statistics */

/*
 * Over N keys (seeds 0..N-1, all ranks distinct too): the mean of Dec is
 * within 5 standard errors of v per element, with the per-element variance
 * bounded by (norm/s)^2/4; and the mean of ||Q(v) - v||^2 is within the
 * bound min(b/s^2, sqrt(b)/s)||v_b||^2 summed over buckets (10% slack),
 * and within 10% of the exact expectation sum (norm/s)^2 f(1-f).
 */
static void qt_check_statistics(const rz_compressor_v1_t *ops, unsigned s,
                                size_t b, size_t n, int sparse)
{
    const int N = 4000;
    qt_codec_t c;
    size_t want = qt_ref_size(n, s, b), size, nb = qt_nbuckets(n, b);
    float *v = qt_floats(n), *d = qt_floats(n);
    double *sum = calloc(n, sizeof(double)), bound = 0.0, expect = 0.0;
    double err2 = 0.0;
    unsigned char *w = qt_bytes(want);
    float *norms = qt_floats(nb);
    int worst_ok = 1;

    qt_open(&c, ops, s, b);
    rz_ct_fill(v, n, 1.0);
    if (sparse) {
        /* Mostly zeros: the sqrt(b)/s term of the bound is the smaller. */
        for (size_t i = 0; i < n; i++) {
            if (i % 16 != 0) {
                v[i] = 0.0f;
            }
        }
    }
    for (size_t bi = 0; bi < nb; bi++) {
        size_t b0 = bi * b, len = n - b0 < b ? n - b0 : b;
        double v2 = 0.0, om;

        norms[bi] = qt_ref_norm(v + b0, len);
        for (size_t i = b0; i < b0 + len; i++) {
            double t = fabs((double)v[i]) * (double)s / norms[bi];
            double f = t - floor(t), step = norms[bi] / (double)s;
            v2 += (double)v[i] * v[i];
            expect += step * step * f * (1.0 - f);
        }
        om = (double)len / ((double)s * s);
        if (sqrt((double)len) / s < om) {
            om = sqrt((double)len) / s;
        }
        bound += om * v2;
    }
    for (int k = 0; k < N; k++) {
        rz_compressor_key_t key = {(uint64_t)k, 11, 2, (uint64_t)k % 5};
        if (qt_encode(&c, &key, v, n, w, want, &size, NULL) != RZ_OK ||
            qt_decode(&c, w, size, d, n, 1.0f, 0.0f) != RZ_OK) {
            CHECK(0, "%s: encode/decode failed", c.params);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            double e = (double)d[i] - (double)v[i];
            sum[i] += d[i];
            err2 += e * e;
        }
    }
    err2 /= N;
    for (size_t i = 0; i < n && worst_ok; i++) {
        double step = norms[i / b] / (double)s;
        double tol = 5.0 * sqrt(step * step / 4.0 / N) + 1e-6 * step;
        double mean = sum[i] / N;
        if (!(fabs(mean - v[i]) <= tol)) {
            CHECK(0, "%s: mean Dec[%zu] = %.9g, v = %.9g (tol %.3g)",
                  c.params, i, mean, (double)v[i], tol);
            worst_ok = 0;
        }
    }
    CHECK(worst_ok, "%s: unbiased", c.params);
    CHECK(err2 <= 1.1 * bound, "%s%s: E||Q(v)-v||^2 = %.6g above the bound "
          "%.6g", c.params, sparse ? " sparse" : "", err2, bound);
    CHECK(fabs(err2 - expect) <= 0.1 * expect, "%s%s: E||Q(v)-v||^2 = %.6g, "
          "expected %.6g", c.params, sparse ? " sparse" : "", err2, expect);
    printf("qsgd %s%s (info): E||Q(v)-v||^2 = %.4g over %d keys, exact "
           "expectation %.4g, bound %.4g\n", c.params, sparse ? " sparse" : "",
           err2, N, expect, bound);
    qt_close(&c);
    free(v);
    free(d);
    free(sum);
    free(w);
    free(norms);
}

/* ------------------------------------------------------ special values */

static void qt_check_special(const rz_compressor_v1_t *ops)
{
    qt_codec_t c;
    size_t n = 40, want, size;
    float v[40], r[40], y[40];
    unsigned char w[128];

    qt_open(&c, ops, 7, 16);
    want = qt_ref_size(n, 7, 16);

    /* All zero (with -0): norms +0, every field 0, Dec = +0, r = v. */
    for (size_t i = 0; i < n; i++) {
        v[i] = i % 2 ? -0.0f : 0.0f;
    }
    CHECK(qt_encode(&c, &qt_key, v, n, w, want, &size, r) == RZ_OK,
          "zeros: encode");
    for (size_t i = 0; i < want; i++) {
        if (w[i] != 0) {
            CHECK(0, "zeros: byte %zu is 0x%02x", i, w[i]);
            break;
        }
    }
    CHECK(qt_decode(&c, w, want, y, n, 1.0f, 0.0f) == RZ_OK, "zeros: decode");
    for (size_t i = 0; i < n; i++) {
        CHECK(qt_bits(y[i]) == 0 && qt_bits(r[i]) == qt_bits(v[i]),
              "zeros: y[%zu] = %a, r = %a", i, (double)y[i], (double)r[i]);
    }

    /* Huge, tiny and subnormal values, one kind per bucket, through the
     * bitwise checks. */
    for (size_t i = 0; i < n; i++) {
        v[i] = (i % 3 ? 1.0f : -1.0f) * (float)(i + 1);
    }
    for (size_t i = 0; i < 16; i++) {
        v[i] *= 0x1p120f;                   /* norm saturates at FLT_MAX */
    }
    v[0] = FLT_MAX;
    v[1] = -FLT_MAX;
    for (size_t i = 16; i < 32; i++) {
        v[i] = (i % 2 ? 1.0f : -1.0f) * 0x1p-149f * (float)(i - 15);
    }
    qt_check_vector(&c, v, n, &qt_key);
    {
        uint32_t nbits = 0;
        CHECK(qt_encode(&c, &qt_key, v, n, w, want, &size, NULL) == RZ_OK &&
                  (memcpy(&nbits, w, 4), nbits == qt_bits(FLT_MAX)),
              "FLT_MAX bucket: norm 0x%08x not saturated", (unsigned)nbits);
    }
    qt_close(&c);

    /* One nonzero per bucket: norm = |v|, so t = s (the clamp) and Dec is
     * v exactly, residual 0. */
    qt_open(&c, ops, 15, 4);
    for (size_t i = 0; i < n; i++) {
        v[i] = i % 4 == 1 ? (i % 8 == 1 ? -3.3f : 0.7f) : 0.0f;
    }
    want = qt_ref_size(n, 15, 4);
    CHECK(qt_encode(&c, &qt_key, v, n, w, want, &size, r) == RZ_OK &&
              qt_decode(&c, w, want, y, n, 1.0f, 0.0f) == RZ_OK,
          "one-hot: encode/decode");
    for (size_t i = 0; i < n; i++) {
        CHECK(y[i] == v[i] && r[i] == 0.0f, "one-hot: y[%zu] = %a, v = %a",
              i, (double)y[i], (double)v[i]);
    }
    qt_check_vector(&c, v, n, &qt_key);
    qt_close(&c);
}

/* ---------------------------------------------------------- malformed */

static void qt_expect_malformed(const qt_codec_t *c, const unsigned char *w,
                                size_t size, size_t n, const char *what)
{
    float *y = qt_floats(n ? n : 1);
    rz_status_t st;

    for (size_t i = 0; i < n; i++) {
        y[i] = 1.0f;
    }
    st = qt_decode(c, w, size, y, n, 1.0f, 1.0f);
    CHECK(st == RZ_ERR_MALFORMED, "%s n=%zu %s: status %d, want MALFORMED",
          c->params, n, what, (int)st);
    free(y);
}

static void qt_check_malformed(const rz_compressor_v1_t *ops, unsigned s,
                               size_t b, size_t n)
{
    qt_codec_t c;
    size_t want = qt_ref_size(n, s, b), size, nb = qt_nbuckets(n, b);
    unsigned width = qt_width(s);
    float *v = qt_floats(n);
    unsigned char *w = qt_bytes(want + 8), *bad = qt_bytes(want + 8);
    static const uint32_t bad_norms[] = {0x7F800000u, 0xFF800000u,
                                         0x7FC00000u, 0xFFC00000u,
                                         0x7F800001u, 0xBF800000u,
                                         0x80000000u, 0x80000001u};

    qt_open(&c, ops, s, b);
    qt_vector(v, n, 1.0);
    if (qt_encode(&c, &qt_key, v, n, w, want, &size, NULL) != RZ_OK) {
        CHECK(0, "%s: encode failed", c.params);
        goto out;
    }
    /* Sizes: one short, one long, none, and bytes for n = 0. */
    qt_expect_malformed(&c, w, want - 1, n, "size - 1");
    memcpy(bad, w, want);
    bad[want] = 0;
    qt_expect_malformed(&c, bad, want + 1, n, "size + 1");
    qt_expect_malformed(&c, w, 0, n, "size 0");
    qt_expect_malformed(&c, w, want, 0, "bytes for n = 0");

    /* Norms: inf, NaN, negative (also -0), each in the last bucket. */
    for (size_t k = 0; k < sizeof(bad_norms) / sizeof(bad_norms[0]); k++) {
        memcpy(bad, w, want);
        memcpy(bad + 4 * (nb - 1), &bad_norms[k], 4);
        qt_expect_malformed(&c, bad, want, n, "bad norm");
    }

    /* A level above s where the field can hold one. */
    if ((1u << (width - 1)) - 1 > s) {
        memcpy(bad, w, want);
        /* The last element, level s + 1, sign 0. */
        for (unsigned j = 0; j < width; j++) {
            size_t pos = (n - 1) * width + j;
            bad[4 * nb + pos / 8] &= (unsigned char)~(1u << (pos % 8));
        }
        qt_put_field(bad + 4 * nb, n - 1, width, (uint32_t)(s + 1) << 1);
        qt_expect_malformed(&c, bad, want, n, "level s + 1");
        memcpy(bad, w, want);
        qt_put_field(bad + 4 * nb, 0, width, ~0u >> (32 - width));
        qt_expect_malformed(&c, bad, want, n, "level all ones");
    }

    /* Each padding bit of the last byte. */
    for (size_t pos = n * width; pos % 8 != 0; pos++) {
        memcpy(bad, w, want);
        bad[4 * nb + pos / 8] |= (unsigned char)(1u << (pos % 8));
        qt_expect_malformed(&c, bad, want, n, "pad bit");
    }

    /* A sign bit with level 0 is accepted and decodes to +0. */
    {
        float *y = qt_floats(n);
        size_t i0 = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (qt_get_field(w + 4 * nb, i, width) == 0) {
                i0 = i;
                break;
            }
        }
        if (i0 != SIZE_MAX) {
            memcpy(bad, w, want);
            qt_put_field(bad + 4 * nb, i0, width, 1);
            CHECK(qt_decode(&c, bad, want, y, n, 1.0f, 0.0f) == RZ_OK &&
                      qt_bits(y[i0]) == 0,
                  "%s: sign with level 0 gives %a", c.params, (double)y[i0]);
        }
        free(y);
    }
out:
    qt_close(&c);
    free(v);
    free(w);
    free(bad);
}

/* ------------------------------------------------------ argument errors */

static void qt_check_errors(const rz_compressor_v1_t *ops)
{
    qt_codec_t c;
    size_t n = 100, want, size;
    float v[100], y[100];
    unsigned char w[128];
    rz_status_t st;

    qt_open(&c, ops, 15, 512);
    want = qt_ref_size(n, 15, 512);
    qt_vector(v, n, 1.0);

    CHECK(c.ops->compress(c.ctx, &qt_key, RZ_COMPRESSOR_DTYPE_F64, v, n, w,
                          want, &size, NULL) == RZ_ERR_NOT_SUPPORTED,
          "f64 compress");
    CHECK(c.ops->decompress(c.ctx, &qt_key, RZ_COMPRESSOR_DTYPE_F16, w, want,
                            y, n, 1.0f, 0.0f) == RZ_ERR_NOT_SUPPORTED,
          "f16 decompress");
    CHECK(ops->max_compressed_size(c.ctx, RZ_COMPRESSOR_DTYPE_BF16, n) == 0,
          "bf16 max size");
    CHECK(qt_encode(&c, &qt_key, v, n, w, want - 1, &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "capacity one short");
    CHECK(qt_encode(&c, &qt_key, NULL, n, w, want, &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "NULL in");
    CHECK(qt_encode(&c, &qt_key, v, n, NULL, want, &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "NULL out");
    CHECK(qt_encode(&c, &qt_key, v, n, w, want, NULL, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "NULL size_p");
    CHECK(qt_encode(&c, NULL, v, n, w, want, &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "NULL key");
    CHECK(ops->compress(NULL, &qt_key, RZ_COMPRESSOR_DTYPE_F32, v, n, w, want,
                        &size, NULL) == RZ_ERR_INVALID_PARAM,
          "NULL ctx");
    CHECK(qt_encode(&c, &qt_key, v, n, w, want, &size, NULL) == RZ_OK,
          "encode");
    CHECK(qt_decode(&c, NULL, want, y, n, 1.0f, 0.0f) == RZ_ERR_INVALID_PARAM,
          "decode NULL in");
    CHECK(qt_decode(&c, w, want, NULL, n, 1.0f, 0.0f) == RZ_ERR_INVALID_PARAM,
          "decode NULL y");

    /* Non-finite input: refused before anything is written, even in place
     * (the input is still intact). */
    {
        float ip[100];
        memcpy(ip, v, sizeof(ip));
        ip[70] = INFINITY;
        memset(w, 0x5A, sizeof(w));
        st = qt_encode(&c, &qt_key, ip, n, w, want, &size, ip);
        CHECK(st == RZ_ERR_INVALID_PARAM, "inf input: status %d", (int)st);
        ip[70] = v[70];
        CHECK(memcmp(ip, v, sizeof(ip)) == 0 && w[0] == 0x5A && w[20] == 0x5A,
              "inf input: something was written");
        ip[99] = NAN;
        st = qt_encode(&c, &qt_key, ip, n, w, want, &size, ip);
        CHECK(st == RZ_ERR_INVALID_PARAM, "NaN input: status %d", (int)st);
    }
    qt_close(&c);
}

/* ---------------------------------------------------- init and query */

static void qt_expect_bad_params(const rz_compressor_v1_t *ops,
                                 const char *params)
{
    void *ctx = NULL;
    rz_status_t st = ops->init(&rz_ct_host, params, &ctx);

    CHECK(st == RZ_ERR_INVALID_PARAM, "init(\"%s\") gave %d, want "
          "INVALID_PARAM", params, (int)st);
    if (st == RZ_OK) {
        ops->finalize(ctx);
    }
}

static void qt_check_params_and_query(const rz_compressor_v1_t *ops)
{
    static const char *bad[] = {
        "levels=0", "levels=65536", "levels=-1", "levels=+3", "levels=abc",
        "levels=", "levels", "levels=3x", "bucket=0", "bucket=1073741825",
        "bucket=1.5", "foo=1", "levels=3,bogus=2", "=3", "Levels=3",
        "levels=3,levels=3", "bucket=8,levels=3,bucket=8"};
    rz_compressor_info_t info;
    void *ctx = NULL;
    qt_codec_t c;

    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        qt_expect_bad_params(ops, bad[k]);
    }
    /* Defaults: levels=15 (5-bit fields), bucket=512. */
    CHECK(ops->init(&rz_ct_host, NULL, &ctx) == RZ_OK, "init(NULL)");
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, 1024) ==
              qt_ref_size(1024, 15, 512),
          "defaults are not levels=15,bucket=512");
    ops->finalize(ctx);
    CHECK(ops->init(&rz_ct_host, "", &ctx) == RZ_OK, "init(\"\")");
    ops->finalize(ctx);
    CHECK(ops->init(&rz_ct_host, "bucket=1073741824,levels=65535", &ctx) ==
              RZ_OK,
          "init at the limits");
    ops->finalize(ctx);

    CHECK(strcmp(ops->name, "qsgd") == 0, "name %s", ops->name);
    CHECK(ops->abi_version == RZ_COMPRESSOR_ABI_VERSION &&
              ops->struct_size == sizeof(rz_compressor_v1_t),
          "abi header");
    CHECK(ops->delta_bound == NULL, "qsgd is not contractive: no "
          "delta_bound");

    qt_open(&c, ops, 7, 64);
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    CHECK(ops->query(c.ctx, &info) == RZ_OK, "query");
    CHECK(info.caps == (RZ_COMPRESSOR_CAP_UNBIASED |
                        RZ_COMPRESSOR_CAP_DETERMINISTIC |
                        RZ_COMPRESSOR_CAP_FIXED_SIZE),
          "caps 0x%x", info.caps);
    CHECK(info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32),
          "dtypes");
    CHECK(info.wire_id == 8 && info.priority == 0 && info.min_count == 1024,
          "wire_id %u priority %d min_count %llu", info.wire_id,
          (int)info.priority, (unsigned long long)info.min_count);
    /* A host that knows only the first two members: nothing beyond. */
    memset(&info, 0xEE, sizeof(info));
    info.struct_size = 8;
    CHECK(ops->query(c.ctx, &info) == RZ_OK && info.dtypes == ~0ull / 0xFF *
                                                   0xEE,
          "query wrote past struct_size 8");
    qt_close(&c);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const rz_compressor_v1_t *ops;

    if (argc != 2) {
        fprintf(stderr, "usage: %s librz_qsgd.so\n", argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);

    qt_check_params_and_query(ops);
    qt_check_size_table(ops);
    qt_check_sizes_and_vectors(ops);
    qt_check_norm_shape(ops);
    qt_check_keys(ops);
    qt_check_special(ops);
    qt_check_errors(ops);
    /* The last two put the bad level, norm and padding in a later staging
     * block (elements past 1024). */
    for (size_t k = 0; k < 6; k++) {
        static const unsigned ss[] = {1, 5, 15, 1000, 5, 1000};
        static const size_t bs[] = {512, 7, 100, 512, 7, 512};
        static const size_t ns[] = {1000, 100, 333, 10, 3001, 2500};
        qt_check_malformed(ops, ss[k], bs[k], ns[k]);
    }
    qt_check_statistics(ops, 1, 512, 1000, 0);
    qt_check_statistics(ops, 4, 64, 600, 0);
    qt_check_statistics(ops, 15, 512, 700, 0);
    qt_check_statistics(ops, 2, 256, 512, 1);
    return rz_ct_report("codec_qsgd");
}
