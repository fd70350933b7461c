/*
 * Unit test of the sign plugin (scaled sign, ALGORITHMS.md 1.2 and 5.1):
 *     test_codec_sign <path to librz_sign.so>
 *
 * Every encoding is compared byte for byte with a wire built here from an
 * independent scalar reference (eight-lane L1 scale of note 3, bits by
 * v < 0), and every decoded or residual value bit for bit with the values
 * that wire defines. The checks are written for a block length L (sign is
 * the one-block case), so test_codec_blocksign.c includes this file with
 * RZ_SIGN_TEST_SHARED_ONLY defined and reuses them.
 */
#include "codec_test.h"

#include <float.h>

/* "One block": sign, or blocksign with L >= n. */
#define ST_WHOLE SIZE_MAX

typedef struct st_codec {
    const rz_compressor_v1_t *ops;
    void                     *ctx;
    size_t                    block;    /* L, or ST_WHOLE for sign */
    const char               *label;
} st_codec_t;

static const rz_compressor_key_t st_key = {0x5EED, 7, 3, 1};

/* ------------------------------------------------------------ references */

static uint32_t st_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float st_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Note 3, one element at a time: lane i mod 8, then the fixed tree. */
static float st_ref_scale(const float *v, size_t n)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double t;

    for (size_t i = 0; i < n; i++) {
        lane[i % 8] = lane[i % 8] + fabs((double)v[i]);
    }
    t = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
        ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    return (float)(t / (double)n);
}

static size_t st_nblocks(size_t n, size_t block)
{
    return n / block + (n % block != 0);
}

static size_t st_blen(size_t n, size_t block, size_t b)
{
    size_t s = b * block;
    return n - s < block ? n - s : block;
}

static size_t st_ref_size(size_t n, size_t block)
{
    return n == 0 ? 0 : (n + 7) / 8 + 4 * st_nblocks(n, block);
}

static void st_put_u32(unsigned char *p, uint32_t u)
{
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static uint32_t st_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The wire note 8 defines for v; returns its size. */
static size_t st_ref_wire(const float *v, size_t n, size_t block,
                          unsigned char *w)
{
    size_t nb = st_nblocks(n, block), size = st_ref_size(n, block);

    if (n == 0) {
        return 0;
    }
    for (size_t b = 0; b < nb; b++) {
        st_put_u32(w + 4 * b,
                   st_bits(st_ref_scale(v + b * block, st_blen(n, block, b))));
    }
    memset(w + 4 * nb, 0, (n + 7) / 8);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0.0f) {
            w[4 * nb + i / 8] |= (unsigned char)(1u << (i % 8));
        }
    }
    return size;
}

/* Decoded values of a (valid) wire: +-scale of the element's block. */
static void st_ref_decode(const unsigned char *w, size_t n, size_t block,
                          float *d)
{
    size_t nb = st_nblocks(n, block);

    for (size_t i = 0; i < n; i++) {
        float a = st_float(st_get_u32(w + 4 * (i / block)));
        int neg = w[4 * nb + i / 8] >> (i % 8) & 1;
        d[i] = neg ? -a : a;
    }
}

/* ABI accumulate rule, one fp32 operation at a time (no FMA here either:
 * the tests build with -ffp-contract=off). */
static float st_axpby(float y, float d, float alpha, float beta)
{
    volatile float ad = alpha * d;
    if (beta == 0.0f) {
        return ad;
    }
    volatile float by = beta * y;
    return by + ad;
}

/* First index where the bit patterns differ, or n. */
static size_t st_first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st_bits(a[i]) != st_bits(b[i])) {
            return i;
        }
    }
    return n;
}

/* First index where a[i] != b[i] as numbers (+0 == -0), or n. */
static size_t st_first_ne(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] == b[i])) {
            return i;
        }
    }
    return n;
}

/* Exact sizes (no slack), so that AddressSanitizer sees any access past
 * the end of a vector or wire buffer. */
static float *st_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static unsigned char *st_bytes(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void st_fill_nan(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = st_float(0x7FC00123u);
    }
}

static rz_status_t st_encode(const st_codec_t *c, const float *v, size_t n,
                             void *out, size_t capacity, size_t *size_p,
                             float *r)
{
    return c->ops->compress(c->ctx, &st_key, RZ_COMPRESSOR_DTYPE_F32, v, n,
                            out, capacity, size_p, r);
}

static rz_status_t st_decode(const st_codec_t *c, const void *w, size_t size,
                             float *y, size_t n, float alpha, float beta)
{
    return c->ops->decompress(c->ctx, &st_key, RZ_COMPRESSOR_DTYPE_F32, w,
                              size, y, n, alpha, beta);
}

/* Encode and decode (alpha 1, beta 0) in one go; 0 on success. */
static int st_roundtrip(const st_codec_t *c, const float *v, size_t n,
                        float *d)
{
    size_t cap = st_ref_size(n, c->block), size = 0;
    unsigned char *w = st_bytes(cap);
    int bad = st_encode(c, v, n, w, cap, &size, NULL) != RZ_OK ||
              size != cap ||
              st_decode(c, w, size, d, n, 1.0f, 0.0f) != RZ_OK;
    free(w);
    return bad;
}

/* ------------------------------------------------------ per-vector checks */

/*
 * All properties of one input: exact wire (scale and bits), determinism,
 * residual (C6, also in place), decoded values and magnitudes, C1, C3, C4
 * (when @homog: no overflow or subnormals under x4 and x0.5), decode-
 * accumulate, unaligned wire buffers.
 */
static void st_check_vector(const st_codec_t *c, const float *v, size_t n,
                            int homog, const char *what)
{
    size_t sz = st_ref_size(n, c->block), size = 0, k, nb;
    unsigned char *ref = st_bytes(sz), *w = st_bytes(sz), *w2 = st_bytes(sz);
    unsigned char *buf = st_bytes(sz + 8);
    float *d = st_floats(n), *r = st_floats(n), *y = st_floats(n);
    float *t = st_floats(n), *y0 = st_floats(n);
    rz_status_t st;

    if (n == 0) {
        goto out;
    }
    nb = st_nblocks(n, c->block);
    st_ref_wire(v, n, c->block, ref);
    st_ref_decode(ref, n, c->block, d);

    CHECK(c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_F32, n) ==
              sz, "%s %s n=%zu: max_compressed_size %zu, want %zu", c->label,
          what, n, c->ops->max_compressed_size(c->ctx, 0, n), sz);

    /* Exact bytes, capacity exactly the size. */
    st = st_encode(c, v, n, w, sz, &size, r);
    CHECK(st == RZ_OK && size == sz, "%s %s n=%zu: compress %d size %zu, "
          "want %zu", c->label, what, n, (int)st, size, sz);
    for (k = 0; k < sz && w[k] == ref[k]; k++) {
    }
    CHECK(k == sz, "%s %s n=%zu: wire byte %zu is 0x%02x, want 0x%02x (%s)",
          c->label, what, n, k, k < sz ? w[k] : 0, k < sz ? ref[k] : 0,
          k < 4 * nb ? "scale" : "sign bits");
    for (size_t b = 0; b < nb; b++) {
        float a = st_float(st_get_u32(w + 4 * b));
        CHECK(isfinite(a) && !signbit(a), "%s %s n=%zu: scale %zu = %a",
              c->label, what, n, b, (double)a);
    }

    /* C6: r = v - Dec(out), bitwise. */
    for (k = 0; k < n; k++) {
        t[k] = v[k] - d[k];
    }
    k = st_first_diff(r, t, n);
    CHECK(k == n, "%s %s n=%zu: residual[%zu] = %a, want %a", c->label, what,
          n, k, k < n ? (double)r[k] : 0.0, k < n ? (double)t[k] : 0.0);

    /* Deterministic, and the same bytes without a residual. */
    st = st_encode(c, v, n, w2, sz, &size, NULL);
    CHECK(st == RZ_OK && size == sz && memcmp(w, w2, sz) == 0,
          "%s %s n=%zu: encoding without residual differs", c->label, what,
          n);

    /* In place: residual == in. */
    memcpy(t, v, n * sizeof(float));
    st = st_encode(c, t, n, w2, sz, &size, t);
    CHECK(st == RZ_OK && size == sz && memcmp(w, w2, sz) == 0,
          "%s %s n=%zu: in-place encoding differs", c->label, what, n);
    k = st_first_diff(t, r, n);
    CHECK(k == n, "%s %s n=%zu: in-place residual[%zu] = %a, want %a",
          c->label, what, n, k, k < n ? (double)t[k] : 0.0,
          k < n ? (double)r[k] : 0.0);

    /* Decoded: exactly +-scale of the block, negative iff v < 0 (so +-0
     * give +scale); y starts as NaN and beta == 0 must not read it. */
    st_fill_nan(y, n);
    st = st_decode(c, w, sz, y, n, 1.0f, 0.0f);
    CHECK(st == RZ_OK, "%s %s n=%zu: decompress %d", c->label, what, n,
          (int)st);
    k = st_first_diff(y, d, n);
    CHECK(k == n, "%s %s n=%zu: decoded[%zu] = %a, want %a", c->label, what,
          n, k, k < n ? (double)y[k] : 0.0, k < n ? (double)d[k] : 0.0);
    for (k = 0; k < n; k++) {
        uint32_t a = st_get_u32(w + 4 * (k / c->block));
        if ((st_bits(y[k]) & 0x7FFFFFFFu) != a ||
            (signbit(y[k]) != 0) != (v[k] < 0.0f)) {
            break;
        }
    }
    CHECK(k == n, "%s %s n=%zu: |decoded[%zu]| != scale or wrong sign",
          c->label, what, n, k);

    /* C1, summed over blocks, norms in double. */
    {
        double vv = 0, rr = 0, err = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t s = b * (c->block == ST_WHOLE ? 0 : c->block);
            size_t len = st_blen(n, c->block, b);
            double l1 = 0, l2 = 0;
            for (size_t i = s; i < s + len; i++) {
                l1 += fabs((double)v[i]);
                l2 += (double)v[i] * (double)v[i];
            }
            vv += l2;
            err += l2 - l1 * l1 / (double)len;
        }
        for (k = 0; k < n; k++) {
            rr += (double)r[k] * (double)r[k];
        }
        CHECK(fabs(rr - err) <= 3.0 * 0x1p-24 * vv,
              "%s %s n=%zu: C1 |%.17g - %.17g| > 3u ||v||^2 = %.3g", c->label,
              what, n, rr, err, 3.0 * 0x1p-24 * vv);
    }

    /* C3: C(C(v)) == C(v), comparing decoded values. */
    CHECK(st_roundtrip(c, d, n, t) == 0 && st_first_ne(t, d, n) == n,
          "%s %s n=%zu: not idempotent", c->label, what, n);

    /* C4: C(alpha v) == alpha C(v) for powers of two. */
    if (homog) {
        static const float alphas[] = {2.0f, 0.5f, 4.0f};
        for (size_t j = 0; j < 3; j++) {
            for (k = 0; k < n; k++) {
                t[k] = alphas[j] * v[k];
            }
            int bad = st_roundtrip(c, t, n, y);
            for (k = 0; k < n && !bad; k++) {
                bad = !(y[k] == alphas[j] * d[k]);
            }
            CHECK(!bad, "%s %s n=%zu: C(%g v) != %g C(v) (element %zu)",
                  c->label, what, n, (double)alphas[j], (double)alphas[j],
                  k == 0 ? 0 : k - 1);
        }
    }

    /* Decode-accumulate: y = beta*y + alpha*d, fl(fl(beta y) + fl(alpha d)). */
    {
        static const float ab[][2] = {
            {1.0f, 0.0f}, {-1.0f, 1.0f}, {1.0f, 1.0f}, {0.75f, 0.5f},
            {3.0f, 0.0f}, {-0.3f, 1.7f}, {0.0f, 1.0f}};
        rz_ct_fill(y0, n, 5.0);
        for (size_t j = 0; j < sizeof(ab) / sizeof(ab[0]); j++) {
            float alpha = ab[j][0], beta = ab[j][1];
            if (beta == 0.0f) {
                st_fill_nan(y, n);
            } else {
                memcpy(y, y0, n * sizeof(float));
            }
            st = st_decode(c, w, sz, y, n, alpha, beta);
            for (k = 0; k < n; k++) {
                t[k] = st_axpby(y0[k], d[k], alpha, beta);
            }
            k = st_first_diff(y, t, n);
            CHECK(st == RZ_OK && k == n, "%s %s n=%zu: alpha %g beta %g: "
                  "y[%zu] = %a, want %a", c->label, what, n, (double)alpha,
                  (double)beta, k, k < n ? (double)y[k] : 0.0,
                  k < n ? (double)t[k] : 0.0);
        }
    }

    /* Unaligned wire buffers, both directions. */
    for (size_t off = 1; off < 8; off += 2) {
        st = st_encode(c, v, n, buf + off, sz, &size, NULL);
        CHECK(st == RZ_OK && size == sz && memcmp(buf + off, ref, sz) == 0,
              "%s %s n=%zu: encoding at offset %zu differs", c->label, what,
              n, off);
        st_fill_nan(y, n);
        st = st_decode(c, buf + off, sz, y, n, 1.0f, 0.0f);
        CHECK(st == RZ_OK && st_first_diff(y, d, n) == n,
              "%s %s n=%zu: decoding at offset %zu differs", c->label, what,
              n, off);
    }
out:
    free(ref);
    free(w);
    free(w2);
    free(buf);
    free(d);
    free(r);
    free(y);
    free(t);
    free(y0);
}

/* Random vectors of the sizes C5 names (and a few more), including ones
 * with exact zeros of both signs and ones shifted off 16-byte alignment. */
static void st_check_sizes_and_vectors(const st_codec_t *c)
{
    static const size_t ns[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100,
                                1000, 4097};
    size_t size = 99;
    rz_status_t st;
    float y = 42.0f;

    /* n = 0: nothing written, nothing read, any pointers. */
    st = st_encode(c, NULL, 0, NULL, 0, &size, NULL);
    CHECK(st == RZ_OK && size == 0, "%s n=0: compress %d size %zu", c->label,
          (int)st, size);
    CHECK(c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_F32, 0) == 0,
          "%s n=0: max_compressed_size not 0", c->label);
    st = st_decode(c, NULL, 0, NULL, 0, 1.0f, 0.0f);
    CHECK(st == RZ_OK, "%s n=0: decompress %d", c->label, (int)st);
    st = st_decode(c, &y, 4, &y, 0, 1.0f, 0.0f);
    CHECK(st == RZ_ERR_MALFORMED && y == 42.0f,
          "%s n=0 with 4 bytes: %d, want MALFORMED", c->label, (int)st);

    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        size_t n = ns[j];
        float *v = st_floats(n + 1);

        rz_ct_fill(v, n, 1.0);
        st_check_vector(c, v, n, 1, "gauss");
        /* Exact zeros of both signs and repeated values. */
        for (size_t i = 0; i < n; i += 3) {
            v[i] = (i / 3) % 2 ? -0.0f : 0.0f;
        }
        for (size_t i = 1; i < n; i += 5) {
            v[i] = i % 2 ? -0.25f : 0.25f;
        }
        st_check_vector(c, v, n, 1, "zeros+ties");
        /* One element off alignment. */
        rz_ct_fill(v, n + 1, 3.0);
        st_check_vector(c, v + 1, n, 1, "offset");
        free(v);
    }
}

/* Special inputs: all zeros (+-0 -> +, scale +0), constant, subnormal,
 * huge and wide-ranged magnitudes. */
static void st_check_special(const st_codec_t *c)
{
    size_t n = 203;
    float *v = st_floats(n);
    unsigned char *w = st_bytes(st_ref_size(n, c->block));
    float *r = st_floats(n), *y = st_floats(n);
    size_t size = 0, nb = st_nblocks(n, c->block);
    rz_status_t st;
    int ok = 1;

    /* +-0: every bit "+", every scale +0, decoded +0. */
    for (size_t i = 0; i < n; i++) {
        v[i] = i % 2 ? -0.0f : 0.0f;
    }
    st = st_encode(c, v, n, w, st_ref_size(n, c->block), &size, r);
    for (size_t k = 0; k < size; k++) {
        ok &= w[k] == 0;
    }
    CHECK(st == RZ_OK && ok, "%s: +-0 must encode to all-zero bytes",
          c->label);
    st_fill_nan(y, n);
    st = st_decode(c, w, size, y, n, 1.0f, 0.0f);
    ok = st == RZ_OK;
    for (size_t i = 0; i < n; i++) {
        ok &= st_bits(y[i]) == 0 && st_bits(r[i]) == st_bits(v[i]);
    }
    CHECK(ok, "%s: +-0 must decode to +0 with residual v", c->label);
    st_check_vector(c, v, n, 1, "signed zeros");

    /* Sign of zero beside nonzeros: -0 is still "+". */
    rz_ct_fill(v, n, 1.0);
    v[5] = -0.0f;
    v[64] = -0.0f;
    st = st_encode(c, v, n, w, st_ref_size(n, c->block), &size, NULL);
    CHECK(st == RZ_OK && !(w[4 * nb + 0] & (1u << 5)) &&
              !(w[4 * nb + 8] & 1u), "%s: -0 beside nonzeros is not '+'",
          c->label);
    st_check_vector(c, v, n, 1, "minus zero");

    for (size_t i = 0; i < n; i++) {
        v[i] = i % 3 ? 1.5f : -1.5f;
    }
    st_check_vector(c, v, n, 1, "constant");

    /* Subnormals are honoured (no homogeneity check down there). */
    for (size_t i = 0; i < n; i++) {
        v[i] = st_float(1u + (uint32_t)(i * 7919u % 0x7FFFFFu));
        if (i % 4 == 1) {
            v[i] = -v[i];
        }
    }
    st_check_vector(c, v, n, 0, "subnormal");

    /* Near FLT_MAX: the scale stays finite, the residual exact. */
    for (size_t i = 0; i < n; i++) {
        v[i] = i % 2 ? -FLT_MAX : FLT_MAX * 0.75f;
    }
    st_check_vector(c, v, n, 0, "huge");

    /* Wide dynamic range: 2^-60 .. 2^60. */
    for (size_t i = 0; i < n; i++) {
        double e = (rz_ct_uniform() - 0.5) * 120.0;
        v[i] = (float)(ldexp(1.0 + rz_ct_uniform(), (int)e) *
                       (rz_ct_uniform() < 0.5 ? -1 : 1));
    }
    st_check_vector(c, v, n, 1, "wide range");
    free(v);
    free(w);
    free(r);
    free(y);
}

/* ------------------------------------------------------- untrusted bytes */

/* Decode @w of @size for @n elements: must be MALFORMED, y untouched. */
static void st_expect_malformed(const st_codec_t *c, const unsigned char *w,
                                size_t size, size_t n, const char *what)
{
    float *y = st_floats(n);
    unsigned char *exact = st_bytes(size);
    rz_status_t st;
    size_t i;

    for (i = 0; i < n; i++) {
        y[i] = 42.0f;
    }
    memcpy(exact, w, size);
    st = st_decode(c, exact, size, y, n, 1.0f, 1.0f);
    free(exact);
    for (i = 0; i < n && y[i] == 42.0f; i++) {
    }
    CHECK(st == RZ_ERR_MALFORMED, "%s n=%zu %s: got %d, want MALFORMED",
          c->label, n, what, (int)st);
    CHECK(i == n, "%s n=%zu %s: y written before rejecting", c->label, n,
          what);
    free(y);
}

static void st_check_malformed_n(const st_codec_t *c, size_t n)
{
    size_t sz = st_ref_size(n, c->block), nb = st_nblocks(n, c->block);
    unsigned char *good = st_bytes(sz + 8), *bad = st_bytes(sz + 8);
    float *v = st_floats(n), *y = st_floats(n);
    static const uint32_t bad_scales[] = {
        0x7FC00000u, 0x7FA00000u, 0xFFC00000u, 0x7F800000u, 0xFF800000u,
        0xBF800000u, 0x80000000u, 0x80000001u, 0xFF7FFFFFu};
    static const uint32_t good_scales[] = {0x00000000u, 0x00000001u,
                                           0x007FFFFFu, 0x7F7FFFFFu};
    size_t blocks_to_hit[2] = {0, nb - 1};

    rz_ct_fill(v, n, 1.0);
    st_ref_wire(v, n, c->block, good);
    good[sz] = 0;

    /* Sizes: truncated, oversized, and bytes meant for other counts. */
    st_expect_malformed(c, good, sz - 1, n, "truncated by 1");
    st_expect_malformed(c, good, sz + 1, n, "one byte too many");
    st_expect_malformed(c, good, 0, n, "empty");
    if (sz > 4) {
        st_expect_malformed(c, good, sz - 4, n, "missing 4 bytes");
    }
    st_expect_malformed(c, good, sz, n + 8, "count + 8");
    if (n > 8) {
        st_expect_malformed(c, good, sz, n - 8, "count - 8");
    }

    /* Padding bits above element n-1. */
    if (n % 8 != 0) {
        for (unsigned bit = (unsigned)(n % 8); bit < 8; bit++) {
            memcpy(bad, good, sz);
            bad[sz - 1] |= (unsigned char)(1u << bit);
            st_expect_malformed(c, bad, sz, n, "pad bit set");
        }
    }

    /* Scales: NaN, inf, negative (-0 included) are rejected in any block;
     * +0, subnormal and the largest finite are fine. */
    for (size_t h = 0; h < 2; h++) {
        for (size_t j = 0; j < sizeof(bad_scales) / sizeof(bad_scales[0]);
             j++) {
            char what[64];
            memcpy(bad, good, sz);
            st_put_u32(bad + 4 * blocks_to_hit[h], bad_scales[j]);
            snprintf(what, sizeof(what), "scale %zu = 0x%08x",
                     blocks_to_hit[h], (unsigned)bad_scales[j]);
            st_expect_malformed(c, bad, sz, n, what);
        }
        for (size_t j = 0; j < sizeof(good_scales) / sizeof(good_scales[0]);
             j++) {
            float *d = st_floats(n);
            rz_status_t st;
            memcpy(bad, good, sz);
            st_put_u32(bad + 4 * blocks_to_hit[h], good_scales[j]);
            st_ref_decode(bad, n, c->block, d);
            st_fill_nan(y, n);
            st = st_decode(c, bad, sz, y, n, 1.0f, 0.0f);
            CHECK(st == RZ_OK && st_first_diff(y, d, n) == n,
                  "%s n=%zu: valid scale 0x%08x rejected or misdecoded (%d)",
                  c->label, n, (unsigned)good_scales[j], (int)st);
            free(d);
        }
    }
    free(good);
    free(bad);
    free(v);
    free(y);
}

static void st_check_malformed(const st_codec_t *c)
{
    static const size_t ns[] = {1, 7, 8, 9, 17, 100, 1000, 4097};
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        st_check_malformed_n(c, ns[j]);
    }
}

/* ------------------------------------------------------ API misuse, query */

static void st_check_errors(const st_codec_t *c)
{
    size_t n = 100, sz = st_ref_size(n, c->block), size = 7;
    unsigned char *w = st_bytes(sz);
    float *v = st_floats(n), *y = st_floats(n);
    rz_status_t st;

    rz_ct_fill(v, n, 1.0);
    st = st_encode(c, v, n, w, sz - 1, &size, NULL);
    CHECK(st == RZ_ERR_INVALID_PARAM && size == 7,
          "%s: capacity size-1 gave %d", c->label, (int)st);
    st = st_encode(c, v, n, w, 0, &size, NULL);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: capacity 0 gave %d", c->label,
          (int)st);
    st = c->ops->compress(c->ctx, &st_key, RZ_COMPRESSOR_DTYPE_F64, v, n, w,
                          sz, &size, NULL);
    CHECK(st == RZ_ERR_NOT_SUPPORTED, "%s: F64 compress gave %d", c->label,
          (int)st);
    st = c->ops->compress(c->ctx, &st_key, RZ_COMPRESSOR_DTYPE_F16, v, n, w,
                          sz, &size, NULL);
    CHECK(st == RZ_ERR_NOT_SUPPORTED, "%s: F16 compress gave %d", c->label,
          (int)st);
    CHECK(c->ops->max_compressed_size(c->ctx, RZ_COMPRESSOR_DTYPE_BF16, n) ==
              0, "%s: max_compressed_size for BF16 not 0", c->label);
    st = st_encode(c, NULL, n, w, sz, &size, NULL);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: NULL in gave %d", c->label,
          (int)st);
    st = st_encode(c, v, n, NULL, sz, &size, NULL);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: NULL out gave %d", c->label,
          (int)st);
    st = st_encode(c, v, n, w, sz, NULL, NULL);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: NULL size_p gave %d", c->label,
          (int)st);

    st = st_encode(c, v, n, w, sz, &size, NULL);
    CHECK(st == RZ_OK, "%s: compress %d", c->label, (int)st);
    st = c->ops->decompress(c->ctx, &st_key, RZ_COMPRESSOR_DTYPE_F64, w, sz,
                            y, n, 1.0f, 0.0f);
    CHECK(st == RZ_ERR_NOT_SUPPORTED, "%s: F64 decompress gave %d", c->label,
          (int)st);
    st = st_decode(c, NULL, sz, y, n, 1.0f, 0.0f);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: NULL in gave %d", c->label,
          (int)st);
    st = st_decode(c, w, sz, NULL, n, 1.0f, 0.0f);
    CHECK(st == RZ_ERR_INVALID_PARAM, "%s: NULL y gave %d", c->label,
          (int)st);

    /* Non-finite input has no valid encoding: refused, not sent. */
    {
        static const uint32_t nf[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u};
        for (size_t j = 0; j < 3; j++) {
            rz_ct_fill(v, n, 1.0);
            v[n - 3] = st_float(nf[j]);
            size = 7;
            st = st_encode(c, v, n, w, sz, &size, NULL);
            CHECK(st == RZ_ERR_INVALID_PARAM && size == 7,
                  "%s: input with 0x%08x gave %d, want INVALID_PARAM",
                  c->label, (unsigned)nf[j], (int)st);
        }
    }
    free(w);
    free(v);
    free(y);
}

static void st_check_query(const st_codec_t *c, uint32_t wire_id)
{
    rz_compressor_info_t info;
    rz_status_t st;
    const uint32_t caps = RZ_COMPRESSOR_CAP_CONTRACTIVE |
                          RZ_COMPRESSOR_CAP_IDEMPOTENT |
                          RZ_COMPRESSOR_CAP_DETERMINISTIC |
                          RZ_COMPRESSOR_CAP_HOMOGENEOUS |
                          RZ_COMPRESSOR_CAP_FIXED_SIZE;

    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    st = c->ops->query(c->ctx, &info);
    CHECK(st == RZ_OK && info.caps == caps &&
              info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32) &&
              info.wire_id == wire_id && info.min_count == 64 &&
              info.priority == 0,
          "%s: query %d caps 0x%x dtypes 0x%llx wire %u min %llu", c->label,
          (int)st, info.caps, (unsigned long long)info.dtypes, info.wire_id,
          (unsigned long long)info.min_count);

    /* An older, shorter host struct: nothing written past struct_size. */
    memset(&info, 0xA5, sizeof(info));
    info.struct_size = (uint32_t)offsetof(rz_compressor_info_t, min_count);
    st = c->ops->query(c->ctx, &info);
    CHECK(st == RZ_OK && info.caps == caps &&
              info.min_count == 0xA5A5A5A5A5A5A5A5ull &&
              info.wire_id == 0xA5A5A5A5u,
          "%s: query wrote past a short struct_size", c->label);
    CHECK(strcmp(c->ops->name, c->label) == 0 &&
              c->ops->abi_version == RZ_COMPRESSOR_ABI_VERSION &&
              c->ops->struct_size == sizeof(rz_compressor_v1_t) &&
              c->ops->delta_bound != NULL,
          "%s: plugin header", c->label);
}

/* init must fail with INVALID_PARAM and leave *ctx_p alone. */
static void st_expect_bad_params(const rz_compressor_v1_t *ops,
                                 const char *params)
{
    void *ctx = (void *)&st_key;
    rz_status_t st = ops->init(&rz_ct_host, params, &ctx);

    CHECK(st == RZ_ERR_INVALID_PARAM && ctx == (void *)&st_key,
          "%s: init(\"%s\") gave %d, want INVALID_PARAM", ops->name, params,
          (int)st);
    if (st == RZ_OK) {
        ops->finalize(ctx);
    }
}

static void st_expect_good_params(const rz_compressor_v1_t *ops,
                                  const char *params)
{
    void *ctx = NULL;
    rz_status_t st = ops->init(&rz_ct_host, params, &ctx);

    CHECK(st == RZ_OK && ctx != NULL, "%s: init(\"%s\") gave %d", ops->name,
          params ? params : "(null)", (int)st);
    if (st == RZ_OK) {
        ops->finalize(ctx);
    }
}

/* ---------------------------------------------------- lane shape, crafted */

/* Orders note 3 rules out, for the informational prints: one
 * left-to-right sum; the eight lanes added left to right; lanes counted
 * from element 0 of the chunk instead of the block's first element. */
static float st_naive_scale(const float *v, size_t n, double *t_p)
{
    double t = 0.0;

    for (size_t i = 0; i < n; i++) {
        t += fabs((double)v[i]);
    }
    *t_p = t;
    return (float)(t / (double)n);
}

static double st_lane_sum(const float *v, size_t n, size_t first)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};

    for (size_t i = 0; i < n; i++) {
        lane[(first + i) % 8] += fabs((double)v[i]);
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

static float st_seq_lane_scale(const float *v, size_t n)
{
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t = 0.0;

    for (size_t i = 0; i < n; i++) {
        lane[i % 8] += fabs((double)v[i]);
    }
    for (size_t j = 0; j < 8; j++) {
        t += lane[j];
    }
    return (float)(t / (double)n);
}

static const char *st_differs(float a, uint32_t expect)
{
    return st_bits(a) != expect ? " (differs)" : "";
}

/*
 * Block @b of @v (n elements) holds a crafted pattern whose scale has to be
 * @expect (bit pattern worked out by hand in the callers). The plugin must
 * give exactly that; what the other orders would give is printed.
 */
static void st_check_crafted(const st_codec_t *c, const float *v, size_t n,
                             size_t b, uint32_t expect, const char *what)
{
    size_t sz = st_ref_size(n, c->block), size = 0;
    size_t s = b * (c->block == ST_WHOLE ? 0 : c->block);
    size_t len = st_blen(n, c->block, b);
    unsigned char *w = st_bytes(sz);
    rz_status_t st = st_encode(c, v, n, w, sz, &size, NULL);
    uint32_t got = st == RZ_OK ? st_get_u32(w + 4 * b) : 0;
    double t;
    float naive = st_naive_scale(v + s, len, &t);
    float seq = st_seq_lane_scale(v + s, len);
    float global = (float)(st_lane_sum(v + s, len, s) / (double)len);

    CHECK(st_bits(st_ref_scale(v + s, len)) == expect,
          "%s %s: the test's reference disagrees with the hand-worked "
          "scale", c->label, what);
    CHECK(got == expect, "%s %s: scale 0x%08x, want 0x%08x", c->label, what,
          (unsigned)got, (unsigned)expect);
    printf("%s %s (info): eight lanes 0x%08x; left-to-right sum 0x%08x%s; "
           "lanes added in a row 0x%08x%s; lanes from the chunk start "
           "0x%08x%s\n", c->label, what, (unsigned)expect,
           (unsigned)st_bits(naive), st_differs(naive, expect),
           (unsigned)st_bits(seq), st_differs(seq, expect),
           (unsigned)st_bits(global), st_differs(global, expect));
    st_check_vector(c, v, n, 1, what);
    free(w);
}

/*
 * The exact mean sits on an fp32 midpoint: with v_0 = 1 and v_1 = 2^-24,
 * T = 1 + 2^-24 rounds to even (down), so tiny values decide whether the
 * double T ends just above the midpoint (and the scale rounds up). n is a
 * power of two so that T / n is exact. Both patterns are placed at block
 * @b, which must have @len elements (8 or 4096).
 *   "tree": 1, 2^-24, 2^-54, 2^-54 + 2^-60, 0...: (L2 + L3) = 2^-53 + 2^-60
 *     is more than half an ulp of 1, so T = 1 + 2^-24 + 2^-52 and the scale
 *     is (1 + 2^-23)/8; a left-to-right sum absorbs each tiny value alone.
 *   "long": 1, 2^-24, then 4094 values +-2^-62: lanes 2..7 gather 2^-53
 *     each, T = 1 + 2^-24 + 3 2^-52, scale (1 + 2^-23)/4096; a left-to-
 *     right sum absorbs every one and gets 2^-12.
 */
static void st_fill_tree(float *blk)
{
    memset(blk, 0, 8 * sizeof(float));
    blk[0] = 1.0f;
    blk[1] = 0x1p-24f;
    blk[2] = 0x1p-54f;
    blk[3] = 0x1.04p-54f;
}

static void st_fill_long(float *blk)
{
    blk[0] = 1.0f;
    blk[1] = 0x1p-24f;
    for (size_t i = 2; i < 4096; i++) {
        blk[i] = i % 2 ? -0x1p-62f : 0x1p-62f;
    }
}

#define ST_TREE_SCALE 0x3E000001u   /* (1 + 2^-23) / 8 */
#define ST_LONG_SCALE 0x39800001u   /* (1 + 2^-23) / 4096 */

/* A larger vector: many SIMD iterations and (for blocksign) many blocks. */
static void st_check_large(const st_codec_t *c)
{
    size_t n = (1u << 18) + 3;
    float *v = st_floats(n);

    rz_ct_fill(v, n, 0.01);
    st_check_vector(c, v, n, 1, "large");
    free(v);
}

#ifndef RZ_SIGN_TEST_SHARED_ONLY

/* Wide-range random vectors: the plugin must match the eight lanes on
 * each; how often a left-to-right sum would change the fp32 scale is
 * printed for information (rarely: only near a rounding midpoint). */
static void st_lane_shape_random(const st_codec_t *c)
{
    size_t n = 4097, trials = 200, t_differs = 0, a_differs = 0, bad = 0;
    float *v = st_floats(n);
    unsigned char *w = st_bytes(st_ref_size(n, ST_WHOLE));

    for (size_t t = 0; t < trials; t++) {
        double naive_t;
        float naive, lanes;
        size_t size;

        for (size_t i = 0; i < n; i++) {
            double e = (rz_ct_uniform() - 0.5) * 60.0;
            v[i] = (float)(ldexp(1.0 + rz_ct_uniform(), (int)e) *
                           (rz_ct_uniform() < 0.5 ? -1 : 1));
        }
        lanes = st_ref_scale(v, n);
        naive = st_naive_scale(v, n, &naive_t);
        t_differs += naive_t != st_lane_sum(v, n, 0);
        a_differs += st_bits(naive) != st_bits(lanes);
        if (st_encode(c, v, n, w, st_ref_size(n, ST_WHOLE), &size, NULL) !=
                RZ_OK || st_get_u32(w) != st_bits(lanes)) {
            bad++;
        }
    }
    CHECK(bad == 0, "sign: %zu of %zu wide-range scales differ from the "
          "eight-lane reference", bad, trials);
    printf("sign random wide-range (info): n=%zu, %zu vectors: a "
           "left-to-right double sum differs from the eight lanes in %zu, "
           "the fp32 scale in %zu\n", n, trials, t_differs, a_differs);
    free(v);
    free(w);
}

int main(int argc, char **argv)
{
    const rz_compressor_v1_t *ops;
    st_codec_t c;
    double delta = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s librz_sign.so\n", argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);
    c.ops = ops;
    c.ctx = rz_ct_init(ops, NULL);
    c.block = ST_WHOLE;
    c.label = "sign";

    st_check_query(&c, 4);
    st_check_sizes_and_vectors(&c);
    st_check_special(&c);
    st_check_malformed(&c);
    st_check_errors(&c);
    st_check_large(&c);
    st_lane_shape_random(&c);
    {
        float *v = st_floats(4096);
        st_fill_tree(v);
        st_check_crafted(&c, v, 8, 0, ST_TREE_SCALE, "crafted tree");
        st_fill_long(v);
        st_check_crafted(&c, v, 4096, 0, ST_LONG_SCALE, "crafted long");
        free(v);
    }

    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F32, 1000, &delta) ==
              RZ_OK && delta == 1.0 / 1000, "sign: delta_bound(1000) = %g",
          delta);
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F32, 1, &delta) ==
              RZ_OK && delta == 1.0, "sign: delta_bound(1) = %g", delta);
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F64, 10, &delta) ==
              RZ_ERR_NOT_SUPPORTED, "sign: delta_bound for F64");

    st_expect_good_params(ops, NULL);
    st_expect_good_params(ops, "");
    st_expect_bad_params(ops, "block=8");
    st_expect_bad_params(ops, "foo=1");
    st_expect_bad_params(ops, "garbage");
    st_expect_bad_params(ops, "=1");
    ops->finalize(c.ctx);
    return rz_ct_report("codec_sign");
}

#endif
