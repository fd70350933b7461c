/*
 * Unit test of the reduction kernels (util/rz_reduce.c), the dtype/op
 * helpers (util/rz_types.c) and the 16-bit float conversions
 * (util/rz_half.h).
 *
 * Every result is compared BITWISE with a reference computed independently:
 * floating operands are decoded to double, the operation is done in double
 * and the result is rounded once to the element type by ref_round() below,
 * which uses frexp/ldexp/rint and shares no code with rz_half.h; integers are
 * computed in 128-bit arithmetic and truncated modulo 2^bits.
 *
 * Why rounding through double is a valid reference: an operation done in a
 * wider format and then rounded to the narrower one equals one correct
 * rounding of the exact result whenever the wide format has at least 2p+2
 * significand bits for a p-bit target (Figueroa, "When is double rounding
 * innocuous?"). double (53) >= 2*24+2 for f32, and also covers f16/bf16 (for
 * which most sums and all products are exact in double anyway). The library
 * rounds f16/bf16 through fp32, and fp32 (24) >= 2*11+2 and >= 2*8+2, so both
 * sides equal the correctly rounded result. (For f64 the reference is the
 * same double operation, so those cases check the loops, not the rounding.)
 *
 * The AVG scale is the exception: it multiplies a 16-bit value by a 24-bit
 * fp32 reciprocal, which is outside that theorem, and the fp32 product then
 * rounded to 16 bits is NOT always the correctly rounded product (f16 0x0003
 * times fp32(1/6) = 2^-25 + 2^-50 rounds in fp32 onto the tie 2^-25, which
 * then goes to 0 instead of 2^-24). That fp32-then-16-bit rounding is the
 * defined semantics (the 16-bit types are "reduced in fp32"), so the
 * reference models both roundings explicitly and is checked exhaustively
 * over all 16-bit patterns.
 *
 * Prints "test_reduce: N passed, M failed" last; exit status 0 iff M == 0.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringzip/status.h>
#include <ringzip/types.h>

#include "util/rz_half.h"
#include "util/rz_reduce.h"

/* The integer reference needs 128-bit products (64-bit targets only). */
#ifndef __SIZEOF_INT128__
#error "test_reduce needs __int128 for its integer reference"
#endif
__extension__ typedef __int128 ref_i128_t;
__extension__ typedef unsigned __int128 ref_u128_t;

static unsigned long g_passed;
static unsigned long g_failed;

/* Counts one check; prints the first failures only, so a systematic bug
 * does not bury the summary line. */
#define CHECK(_cond, ...)                                                    \
    do {                                                                     \
        if (_cond) {                                                         \
            ++g_passed;                                                      \
        } else {                                                             \
            if (++g_failed <= 40) {                                          \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
                fprintf(stderr, __VA_ARGS__);                                \
                fputc('\n', stderr);                                         \
            }                                                                \
        }                                                                    \
    } while (0)

/* ---------------------------------------------------------------- random */

static uint64_t g_rng = 0x2545f4914f6cdd1dull;

/* splitmix64: fixed seed so that a failure reproduces. */
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ------------------------------------------------- reference float format */

/* A binary floating format: mbits stored significand bits, ebits exponent
 * bits; IEEE layout sign | exponent | significand. */
typedef struct {
    int mbits;
    int ebits;
} ref_fmt_t;

static const ref_fmt_t REF_F16  = {10, 5};
static const ref_fmt_t REF_BF16 = {7, 8};
static const ref_fmt_t REF_F32  = {23, 8};
static const ref_fmt_t REF_F64  = {52, 11};

static int ref_bias(ref_fmt_t f)
{
    return (1 << (f.ebits - 1)) - 1;
}

static uint64_t ref_inf(ref_fmt_t f)
{
    return (((uint64_t)1 << f.ebits) - 1) << f.mbits;
}

static uint64_t ref_sign(ref_fmt_t f)
{
    return (uint64_t)1 << (f.mbits + f.ebits);
}

static int ref_is_nan(uint64_t bits, ref_fmt_t f)
{
    uint64_t mag = bits & (ref_sign(f) - 1);

    return mag > ref_inf(f);
}

/* Exact value of a pattern, by arithmetic rather than bit moves. */
static double ref_decode(uint64_t bits, ref_fmt_t f)
{
    uint64_t mant = bits & (((uint64_t)1 << f.mbits) - 1);
    int      exp  = (int)((bits >> f.mbits) & (((uint64_t)1 << f.ebits) - 1));
    double   sgn  = (bits & ref_sign(f)) ? -1.0 : 1.0;

    if (exp == (1 << f.ebits) - 1) {
        return mant ? NAN : sgn * INFINITY;
    }
    if (exp == 0) {
        return sgn * ldexp((double)mant, 1 - ref_bias(f) - f.mbits);
    }
    return sgn * ldexp((double)(mant + ((uint64_t)1 << f.mbits)),
                       exp - ref_bias(f) - f.mbits);
}

/*
 * Round v to format f: nearest, ties to even (rint in the default rounding
 * mode), gradual underflow, overflow to inf. Works on the value: finds the
 * spacing of representable numbers at |v|, rounds |v| to a multiple of it,
 * then encodes. NaN gives the default quiet NaN.
 */
static uint64_t ref_round(double v, ref_fmt_t f)
{
    uint64_t sign = signbit(v) ? ref_sign(f) : 0;
    int      emin = 1 - ref_bias(f), emax = ref_bias(f);
    double   a    = fabs(v), q, r;
    int      e, E;

    if (isnan(v)) {
        return ref_inf(f) | ((uint64_t)1 << (f.mbits - 1));
    }
    if (isinf(v)) {
        return sign | ref_inf(f);
    }
    if (a == 0.0) {
        return sign;
    }
    (void)frexp(a, &e);             /* a = m * 2^e, m in [0.5, 1) */
    E = (e - 1 < emin) ? emin : e - 1;
    q = ldexp(1.0, E - f.mbits);    /* ulp at a (exact in double) */
    r = rint(a / q) * q;
    if (r >= ldexp(1.0, emax + 1)) {
        return sign | ref_inf(f);
    }
    if (r < ldexp(1.0, emin)) {     /* subnormal, or zero after rounding */
        return sign | (uint64_t)(r / ldexp(1.0, emin - f.mbits));
    }
    (void)frexp(r, &e);
    E = e - 1;
    return sign | ((uint64_t)(E + ref_bias(f)) << f.mbits) |
           ((uint64_t)(r / ldexp(1.0, E - f.mbits)) -
            ((uint64_t)1 << f.mbits));
}

static uint32_t f32_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;

    memcpy(&f, &u, sizeof(f));
    return f;
}

/* A finite value of format f, drawn so that a buffer mixes all magnitudes,
 * both signs, zeros, subnormals, values near the largest finite (sums and
 * products overflow to inf), small integers (exact ties in sums) and values
 * near 1 (products round). */
static uint64_t gen_float(ref_fmt_t f)
{
    uint64_t sign  = (rnd() & 1) ? ref_sign(f) : 0;
    uint64_t mant  = rnd() & (((uint64_t)1 << f.mbits) - 1);
    uint64_t emaxf = ((uint64_t)1 << f.ebits) - 2; /* largest finite field */
    uint64_t exp;

    switch (rnd_below(10)) {
    case 0:
        return sign;                                       /* +-0 */
    case 1:
        return sign | mant;                                /* subnormal */
    case 2:
        exp = emaxf - rnd_below(2);                        /* near max */
        break;
    case 3:
    case 4:
        return ref_round((double)((int)rnd_below(201) - 100), f);
    case 5:
    case 6:
        exp = (uint64_t)ref_bias(f) - 3 + rnd_below(7);    /* near 1 */
        break;
    default:
        exp = 1 + rnd() % emaxf;                           /* any normal */
        break;
    }
    return sign | (exp << f.mbits) | mant;
}

/* --------------------------------------------------------------- dtypes */

typedef struct {
    rz_dtype_t dtype;
    int        is_float;
    int        is_signed; /* integers */
    int        bits;      /* integers */
    ref_fmt_t  fmt;       /* floats */
} dtype_info_t;

static const dtype_info_t g_dtypes[] = {
    {RZ_DTYPE_F32,  1, 0, 32, {23, 8}},
    {RZ_DTYPE_F64,  1, 0, 64, {52, 11}},
    {RZ_DTYPE_F16,  1, 0, 16, {10, 5}},
    {RZ_DTYPE_BF16, 1, 0, 16, {7, 8}},
    {RZ_DTYPE_I8,   0, 1, 8,  {0, 0}},
    {RZ_DTYPE_U8,   0, 0, 8,  {0, 0}},
    {RZ_DTYPE_I32,  0, 1, 32, {0, 0}},
    {RZ_DTYPE_U32,  0, 0, 32, {0, 0}},
    {RZ_DTYPE_I64,  0, 1, 64, {0, 0}},
    {RZ_DTYPE_U64,  0, 0, 64, {0, 0}},
};
#define NUM_DTYPES (sizeof(g_dtypes) / sizeof(g_dtypes[0]))

static uint64_t mask_bits(int bits)
{
    return (bits == 64) ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
}

/* Element i of a buffer as raw bits, zero-extended. */
static uint64_t load_bits(const void *buf, size_t i, size_t size)
{
    const unsigned char *p = (const unsigned char *)buf + i * size;
    uint8_t  u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    switch (size) {
    case 1: memcpy(&u8, p, 1);  return u8;
    case 2: memcpy(&u16, p, 2); return u16;
    case 4: memcpy(&u32, p, 4); return u32;
    default: memcpy(&u64, p, 8); return u64;
    }
}

static void store_bits(void *buf, size_t i, size_t size, uint64_t v)
{
    unsigned char *p = (unsigned char *)buf + i * size;
    uint8_t  u8  = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;

    switch (size) {
    case 1: memcpy(p, &u8, 1);  break;
    case 2: memcpy(p, &u16, 2); break;
    case 4: memcpy(p, &u32, 4); break;
    default: memcpy(p, &v, 8);  break;
    }
}

/* Integers include every extreme and the values around them, so that sums
 * and products wrap and min/max see both ends. */
static uint64_t gen_int(const dtype_info_t *d)
{
    uint64_t m    = mask_bits(d->bits);
    uint64_t smin = d->is_signed ? ((uint64_t)1 << (d->bits - 1)) : 0;
    uint64_t smax = d->is_signed ? smin - 1 : m;

    switch (rnd_below(8)) {
    case 0: {
        static const int64_t small[] = {0, 1, -1, 2, -2, 3, 127, -128};
        return (uint64_t)small[rnd_below(8)] & m;
    }
    case 1:
        return (smin + rnd_below(3)) & m;
    case 2:
        return (smax - rnd_below(3)) & m;
    case 3:
        return (uint64_t)((int64_t)rnd_below(2001) - 1000) & m;
    default:
        return rnd() & m;
    }
}

/* The integer as its mathematical value. */
static ref_i128_t int_value(const dtype_info_t *d, uint64_t bits)
{
    if (d->is_signed && d->bits < 64 && (bits >> (d->bits - 1)) & 1) {
        return (ref_i128_t)bits - ((ref_i128_t)1 << d->bits);
    }
    if (d->is_signed && d->bits == 64) {
        return (ref_i128_t)(int64_t)bits;
    }
    return (ref_i128_t)bits;
}

static uint64_t ref_int_op(const dtype_info_t *d, rz_op_t op, uint64_t xa,
                           uint64_t xb)
{
    ref_i128_t a = int_value(d, xa), b = int_value(d, xb), r;

    switch (op) {
    case RZ_OP_SUM:
        r = a + b;
        break;
    case RZ_OP_PROD:
        /* |a*b| <= 2^127 only for u64; that case is done unsigned. */
        if (!d->is_signed && d->bits == 64) {
            return (uint64_t)((ref_u128_t)xa * (ref_u128_t)xb);
        }
        r = a * b;
        break;
    case RZ_OP_MIN:
        r = (a < b) ? a : b;
        break;
    default:
        r = (a > b) ? a : b;
        break;
    }
    return (uint64_t)(ref_u128_t)r & mask_bits(d->bits);
}

/* The fmt rounding of f32 is the hardware's; f64 needs none. */
static uint64_t round_to(const dtype_info_t *d, double v)
{
    if (d->dtype == RZ_DTYPE_F32) {
        return f32_bits((float)v);
    }
    if (d->dtype == RZ_DTYPE_F64) {
        uint64_t u;

        memcpy(&u, &v, sizeof(u));
        return u;
    }
    return ref_round(v, d->fmt);
}

static uint64_t ref_float_op(const dtype_info_t *d, rz_op_t op, uint64_t xa,
                             uint64_t xb)
{
    double a = ref_decode(xa, d->fmt), b = ref_decode(xb, d->fmt), r;

    switch (op) {
    case RZ_OP_SUM:
    case RZ_OP_AVG: /* rz_reduce() sums; rz_reduce_scale() finishes. */
        r = a + b;
        break;
    case RZ_OP_PROD:
        r = a * b;
        break;
    case RZ_OP_MIN:
        /* Picks an operand, so no rounding; b on equality (-0 vs +0),
         * like a < b ? a : b in the library. */
        return (a < b) ? xa : xb;
    default:
        return (a > b) ? xa : xb;
    }
    return round_to(d, r);
}

static uint64_t gen_value(const dtype_info_t *d)
{
    return d->is_float ? gen_float(d->fmt) : gen_int(d);
}

/* ---------------------------------------------------------------- reduce */

static const size_t g_sizes[] = {0, 1, 7, 8, 15, 16, 17, 1000, 4099};
#define NUM_SIZES (sizeof(g_sizes) / sizeof(g_sizes[0]))

/* Guard elements on both sides of every buffer, to catch overruns of the
 * vector loops' prologue and epilogue. */
#define GUARD      16
#define GUARD_BYTE 0xa5

enum { MODE_OOP, MODE_OUT_A, MODE_OUT_B, MODE_OUT_AB, MODE_LAST };
static const char *const g_mode_names[] = {"out-of-place", "out==a", "out==b",
                                           "out==a==b"};

typedef struct {
    unsigned char *mem;
    unsigned char *data;
} gbuf_t;

static void gbuf_alloc(gbuf_t *g, size_t n, size_t size, size_t offset)
{
    size_t bytes = (n + 2 * GUARD) * size;

    g->mem = malloc(bytes);
    if (g->mem == NULL) {
        fprintf(stderr, "test_reduce: out of memory\n");
        exit(1);
    }
    memset(g->mem, GUARD_BYTE, bytes);
    g->data = g->mem + (GUARD - offset) * size;
}

static int gbuf_guards_ok(const gbuf_t *g, size_t n, size_t size)
{
    const unsigned char *end = g->data + n * size;
    const unsigned char *lim = g->mem + (n + 2 * GUARD) * size;
    const unsigned char *p;

    for (p = g->mem; p < g->data; ++p) {
        if (*p != GUARD_BYTE) {
            return 0;
        }
    }
    for (p = end; p < lim; ++p) {
        if (*p != GUARD_BYTE) {
            return 0;
        }
    }
    return 1;
}

static void test_reduce_case(const dtype_info_t *d, rz_op_t op, size_t n,
                             int mode, size_t offset)
{
    size_t    size = rz_dtype_size(d->dtype);
    gbuf_t    ga, gb, go;
    uint64_t *va   = malloc((n + 1) * sizeof(*va));
    uint64_t *vb   = malloc((n + 1) * sizeof(*vb));
    void     *out, *a, *b;
    size_t    i, bad = 0, first = 0;
    uint64_t  got = 0, want = 0;

    if (va == NULL || vb == NULL) {
        fprintf(stderr, "test_reduce: out of memory\n");
        exit(1);
    }
    /* a is misaligned by offset elements relative to b and out, so vector
     * loops see differently aligned streams. */
    gbuf_alloc(&ga, n, size, offset);
    gbuf_alloc(&gb, n, size, 0);
    gbuf_alloc(&go, n, size, 0);
    for (i = 0; i < n; ++i) {
        va[i] = gen_value(d);
        vb[i] = (mode == MODE_OUT_AB) ? va[i] : gen_value(d);
        store_bits(ga.data, i, size, va[i]);
        store_bits(gb.data, i, size, vb[i]);
    }
    a   = ga.data;
    b   = (mode == MODE_OUT_AB) ? ga.data : gb.data;
    out = (mode == MODE_OOP) ? go.data : (mode == MODE_OUT_B) ? gb.data :
                                                                ga.data;

    rz_reduce(out, a, b, n, d->dtype, op);

    for (i = 0; i < n; ++i) {
        uint64_t r = d->is_float ? ref_float_op(d, op, va[i], vb[i]) :
                                   ref_int_op(d, op, va[i], vb[i]);
        uint64_t o = load_bits(out, i, size);

        if (o != r && bad++ == 0) {
            first = i;
            got   = o;
            want  = r;
        }
    }
    CHECK(bad == 0,
          "rz_reduce %s %s n=%zu %s offset=%zu: %zu wrong, first [%zu] "
          "a=0x%" PRIx64 " b=0x%" PRIx64 " got 0x%" PRIx64
          " want 0x%" PRIx64,
          rz_dtype_name(d->dtype), rz_op_name(op), n, g_mode_names[mode],
          offset, bad, first, n ? va[first] : 0, n ? vb[first] : 0, got,
          want);

    /* Inputs that are not the output must be left alone. */
    bad = 0;
    for (i = 0; i < n; ++i) {
        if ((a != out && load_bits(a, i, size) != va[i]) ||
            (b != out && load_bits(b, i, size) != vb[i])) {
            ++bad;
        }
    }
    CHECK(bad == 0 && gbuf_guards_ok(&ga, n, size) &&
          gbuf_guards_ok(&gb, n, size) && gbuf_guards_ok(&go, n, size),
          "rz_reduce %s %s n=%zu %s: input modified or guard overwritten",
          rz_dtype_name(d->dtype), rz_op_name(op), n, g_mode_names[mode]);

    free(ga.mem);
    free(gb.mem);
    free(go.mem);
    free(va);
    free(vb);
}

static void test_reduce_all(void)
{
    size_t d, s;
    int    op, mode;
    size_t offset;

    for (d = 0; d < NUM_DTYPES; ++d) {
        const dtype_info_t *di = &g_dtypes[d];

        for (op = 0; op < (int)RZ_OP_LAST; ++op) {
            rz_status_t st   = rz_reduce_check(di->dtype, (rz_op_t)op);
            rz_status_t want = (op == RZ_OP_AVG && !di->is_float) ?
                               RZ_ERR_NOT_SUPPORTED : RZ_OK;

            CHECK(st == want, "rz_reduce_check(%s, %s) = %d, want %d",
                  rz_dtype_name(di->dtype), rz_op_name((rz_op_t)op), st,
                  want);
            if (st != RZ_OK) {
                continue;
            }
            for (s = 0; s < NUM_SIZES; ++s) {
                for (mode = 0; mode < MODE_LAST; ++mode) {
                    for (offset = 0; offset < 2; ++offset) {
                        test_reduce_case(di, (rz_op_t)op, g_sizes[s], mode,
                                         offset);
                    }
                }
            }
        }
    }
}

static void test_reduce_check_invalid(void)
{
    static const int bad_dtypes[] = {RZ_DTYPE_LAST, RZ_DTYPE_LAST + 1, -1,
                                     1000, -1000};
    static const int bad_ops[]    = {RZ_OP_LAST, RZ_OP_LAST + 1, -1, 1000};
    unsigned char    buf[8]       = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char    copy[8];
    size_t           i;

    for (i = 0; i < sizeof(bad_dtypes) / sizeof(bad_dtypes[0]); ++i) {
        CHECK(rz_reduce_check((rz_dtype_t)bad_dtypes[i], RZ_OP_SUM) ==
              RZ_ERR_INVALID_PARAM, "check(dtype=%d) not INVALID_PARAM",
              bad_dtypes[i]);
        CHECK(rz_reduce_check((rz_dtype_t)bad_dtypes[i], RZ_OP_AVG) ==
              RZ_ERR_INVALID_PARAM, "check(dtype=%d, avg) not INVALID_PARAM",
              bad_dtypes[i]);
    }
    for (i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); ++i) {
        CHECK(rz_reduce_check(RZ_DTYPE_F32, (rz_op_t)bad_ops[i]) ==
              RZ_ERR_INVALID_PARAM, "check(op=%d) not INVALID_PARAM",
              bad_ops[i]);
        CHECK(rz_reduce_check(RZ_DTYPE_I32, (rz_op_t)bad_ops[i]) ==
              RZ_ERR_INVALID_PARAM, "check(i32, op=%d) not INVALID_PARAM",
              bad_ops[i]);
    }

    /* Out-of-range arguments must not touch memory (documented no-op). */
    memcpy(copy, buf, sizeof(buf));
    rz_reduce(buf, buf, buf, 1, (rz_dtype_t)RZ_DTYPE_LAST, RZ_OP_SUM);
    rz_reduce(buf, buf, buf, 1, (rz_dtype_t)-1, RZ_OP_SUM);
    rz_reduce(buf, buf, buf, 1, RZ_DTYPE_U8, (rz_op_t)RZ_OP_LAST);
    rz_reduce(buf, buf, buf, 1, RZ_DTYPE_U8, (rz_op_t)-1);
    CHECK(memcmp(buf, copy, sizeof(buf)) == 0,
          "rz_reduce with invalid dtype/op modified the buffer");
    /* n == 0 never dereferences. */
    rz_reduce(NULL, NULL, NULL, 0, RZ_DTYPE_F32, RZ_OP_SUM);
    rz_reduce_scale(NULL, 0, RZ_DTYPE_F32, 4);
    CHECK(1, "n == 0 with NULL buffers");
}

/* ----------------------------------------------------------------- scale */

/* The factor the API promises: fp32(1/K), fp64(1/K) for f64, computed here
 * as a double division rounded to float. The product v * r32 is exact in
 * double (at most 24 + 24 significant bits); it is rounded to fp32 (the
 * library multiplies in fp32) and, for f16/bf16, then to the 16-bit type. */
static uint64_t ref_scale(const dtype_info_t *d, uint64_t x, int k)
{
    double r32 = (double)(float)(1.0 / (double)k);
    double v   = ref_decode(x, d->fmt);

    if (d->dtype == RZ_DTYPE_F64) {
        return round_to(d, v * (1.0 / (double)k));
    }
    return round_to(d, (double)(float)(v * r32));
}

static void test_scale(void)
{
    size_t d, s, i;
    int    k;

    for (d = 0; d < NUM_DTYPES; ++d) {
        const dtype_info_t *di   = &g_dtypes[d];
        size_t              size = rz_dtype_size(di->dtype);

        for (k = 1; k <= 8; ++k) {
            for (s = 0; s < NUM_SIZES; ++s) {
                size_t    n = g_sizes[s], bad = 0, first = 0;
                gbuf_t    g;
                uint64_t *v = malloc((n + 1) * sizeof(*v));

                if (v == NULL) {
                    fprintf(stderr, "test_reduce: out of memory\n");
                    exit(1);
                }
                gbuf_alloc(&g, n, size, 0);
                for (i = 0; i < n; ++i) {
                    v[i] = gen_value(di);
                    store_bits(g.data, i, size, v[i]);
                }
                rz_reduce_scale(g.data, n, di->dtype, k);
                for (i = 0; i < n; ++i) {
                    uint64_t want = di->is_float ? ref_scale(di, v[i], k) :
                                                   v[i];

                    if (load_bits(g.data, i, size) != want && bad++ == 0) {
                        first = i;
                    }
                }
                CHECK(bad == 0 && gbuf_guards_ok(&g, n, size),
                      "rz_reduce_scale %s K=%d n=%zu: %zu wrong, first [%zu] "
                      "0x%" PRIx64 " -> 0x%" PRIx64 " want 0x%" PRIx64,
                      rz_dtype_name(di->dtype), k, n, bad, first,
                      n ? v[first] : 0,
                      n ? load_bits(g.data, first, size) : 0,
                      n ? ref_scale(di, v[first], k) : 0);
                free(g.mem);
                free(v);
            }
        }
    }

    /* nranks <= 0 is a caller bug; it must not divide by zero or write. */
    {
        float buf[3] = {1.0f, -2.0f, 3.5f};

        rz_reduce_scale(buf, 3, RZ_DTYPE_F32, 0);
        rz_reduce_scale(buf, 3, RZ_DTYPE_F32, -4);
        CHECK(buf[0] == 1.0f && buf[1] == -2.0f && buf[2] == 3.5f,
              "rz_reduce_scale with nranks <= 0 modified the buffer");
    }
}

/* Every 16-bit pattern times every factor, and the case that shows the
 * scale is fp32-then-16-bit rounding rather than one correct rounding. */
static void test_scale_exhaustive(void)
{
    static const rz_dtype_t dts[] = {RZ_DTYPE_F16, RZ_DTYPE_BF16};
    size_t   t;
    uint32_t h;
    int      k;

    for (t = 0; t < 2; ++t) {
        const dtype_info_t *di  = &g_dtypes[dts[t] == RZ_DTYPE_F16 ? 2 : 3];
        uint16_t           *buf = malloc(65536 * sizeof(*buf));
        size_t              bad = 0;
        uint32_t            first = 0;

        if (buf == NULL) {
            fprintf(stderr, "test_reduce: out of memory\n");
            exit(1);
        }
        for (k = 2; k <= 8; ++k) {
            for (h = 0; h < 65536; ++h) {
                buf[h] = (uint16_t)h;
            }
            rz_reduce_scale(buf, 65536, di->dtype, k);
            for (h = 0; h < 65536; ++h) {
                int ok;

                if (ref_is_nan(h, di->fmt)) {
                    ok = ref_is_nan(buf[h], di->fmt);
                } else {
                    ok = buf[h] == ref_scale(di, h, k);
                }
                if (!ok && bad++ == 0) {
                    first = h | ((uint32_t)k << 16);
                }
            }
        }
        CHECK(bad == 0, "rz_reduce_scale %s exhaustive: %zu wrong, first "
              "0x%04x K=%u", rz_dtype_name(di->dtype), bad,
              (unsigned)(first & 0xffff), (unsigned)(first >> 16));
        free(buf);
    }
    {
        uint16_t h = 0x0003; /* 3 * 2^-24; exact product 2^-25 + 2^-50 */

        rz_reduce_scale(&h, 1, RZ_DTYPE_F16, 6);
        CHECK(h == 0x0000, "f16 0x0003 / 6 = 0x%04x, want 0x0000 (fp32 "
              "product 2^-25 is a tie, to even)", h);
    }
}

/* ----------------------------------------------------------- conversions */

/* Counts a failure and remembers the first failing input. */
static void note_bad(size_t *bad_p, uint32_t *first_p, uint32_t input)
{
    if ((*bad_p)++ == 0) {
        *first_p = input;
    }
}

/* All 65536 patterns: widening is exact, narrowing gives the pattern back;
 * NaNs stay NaN with sign and payload, quiet bit set. */
static void test_half_roundtrip(void)
{
    size_t   bad_f16 = 0, bad_bf16 = 0, bad_val = 0;
    uint32_t h, first_f16 = 0, first_bf16 = 0, first_val = 0;

    for (h = 0; h < 65536; ++h) {
        float    f  = rz_f16_to_f32((uint16_t)h);
        float    g  = rz_bf16_to_f32((uint16_t)h);
        uint16_t hf = rz_f32_to_f16(f);
        uint16_t hg = rz_f32_to_bf16(g);

        if (ref_is_nan(h, REF_F16)) {
            if (!isnan(f) || hf != (h | 0x0200u)) {
                note_bad(&bad_f16, &first_f16, h);
            }
        } else {
            if (hf != h) {
                note_bad(&bad_f16, &first_f16, h);
            }
            if (f32_bits(f) != f32_bits((float)ref_decode(h, REF_F16))) {
                note_bad(&bad_val, &first_val, h);
            }
        }
        if (ref_is_nan(h, REF_BF16)) {
            if (!isnan(g) || hg != (h | 0x0040u)) {
                note_bad(&bad_bf16, &first_bf16, h);
            }
        } else {
            if (hg != h) {
                note_bad(&bad_bf16, &first_bf16, h);
            }
            if (f32_bits(g) != ((uint32_t)h << 16) ||
                f32_bits(g) != f32_bits((float)ref_decode(h, REF_BF16))) {
                note_bad(&bad_val, &first_val, h | 0x10000u);
            }
        }
    }
    CHECK(bad_f16 == 0, "f16->f32->f16 round trip: %zu wrong, first 0x%04x",
          bad_f16, (unsigned)first_f16);
    CHECK(bad_bf16 == 0, "bf16->f32->bf16 round trip: %zu wrong, first "
          "0x%04x", bad_bf16, (unsigned)first_bf16);
    CHECK(bad_val == 0, "16-bit -> f32 value: %zu wrong, first 0x%05x "
          "(0x1xxxx: bf16)", bad_val, (unsigned)first_val);
}

/* Compare one f32 input with the reference rounding; NaN inputs must give a
 * quiet NaN with the same sign and leading payload. */
static int narrow_ok(uint32_t x, int bf16, uint16_t *got_p, uint16_t *want_p)
{
    float     f   = bits_f32(x);
    ref_fmt_t fmt = bf16 ? REF_BF16 : REF_F16;
    uint16_t  got = bf16 ? rz_f32_to_bf16(f) : rz_f32_to_f16(f);
    uint16_t  want;

    if (isnan(f)) {
        want = bf16 ? (uint16_t)((x >> 16) | 0x0040u) :
                      (uint16_t)(((x >> 16) & 0x8000u) | 0x7e00u |
                                 ((x >> 13) & 0x03ffu));
    } else {
        want = (uint16_t)ref_round((double)f, fmt);
    }
    *got_p  = got;
    *want_p = want;
    return got == want && ref_is_nan(got, fmt) == !!isnan(f);
}

static void narrow_check(uint32_t x, int bf16, size_t *bad_p,
                         uint32_t *first_p)
{
    uint16_t got, want;

    if (!narrow_ok(x, bf16, &got, &want)) {
        note_bad(bad_p, first_p, x);
    }
}

static void test_narrow(void)
{
    size_t   bad[2] = {0, 0};
    uint32_t first[2] = {0, 0};
    uint32_t h, i;
    int      bf16;

    /* Random patterns over the whole f32 space, NaN and inf included. */
    for (i = 0; i < 2000000; ++i) {
        uint32_t x = (uint32_t)rnd();

        narrow_check(x, 0, &bad[0], &first[0]);
        narrow_check(x, 1, &bad[1], &first[1]);
    }
    /* Random patterns whose exponent lands in or just around the f16
     * range, where every rounding path (normal, subnormal, overflow) is. */
    for (i = 0; i < 2000000; ++i) {
        uint32_t x = (uint32_t)rnd();

        x = (x & 0x807fffffu) | ((uint32_t)(95 + rnd_below(50)) << 23);
        narrow_check(x, 0, &bad[0], &first[0]);
    }
    /* Around every representable 16-bit value: the value itself, the exact
     * midpoint to its successor (a tie) and one f32 ulp on either side of
     * both, which covers every tie and every boundary. */
    for (bf16 = 0; bf16 < 2; ++bf16) {
        ref_fmt_t fmt = bf16 ? REF_BF16 : REF_F16;

        for (h = 0; h < 0x8000u; ++h) {
            uint32_t sgn;

            if (ref_is_nan(h, fmt) || h == ref_inf(fmt)) {
                continue;
            }
            for (sgn = 0; sgn < 2; ++sgn) {
                double lo  = ref_decode(h, fmt);
                double hi  = (h + 1 == ref_inf(fmt)) ?
                             ldexp(1.0, ref_bias(fmt) + 1) :
                             ref_decode(h + 1, fmt);
                float  val = (float)lo, mid = (float)((lo + hi) / 2);
                float  cand[6];
                int    c;

                cand[0] = val;
                cand[1] = nextafterf(val, INFINITY);
                cand[2] = nextafterf(val, -INFINITY);
                cand[3] = mid;
                cand[4] = nextafterf(mid, INFINITY);
                cand[5] = nextafterf(mid, -INFINITY);
                for (c = 0; c < 6; ++c) {
                    narrow_check(f32_bits(sgn ? -cand[c] : cand[c]), bf16,
                                 &bad[bf16], &first[bf16]);
                }
            }
        }
    }
    CHECK(bad[0] == 0, "f32->f16 vs reference: %zu wrong, first 0x%08x",
          bad[0], (unsigned)first[0]);
    CHECK(bad[1] == 0, "f32->bf16 vs reference: %zu wrong, first 0x%08x",
          bad[1], (unsigned)first[1]);
}

/* Named cases, each its own check so a failure says which. */
static void test_narrow_cases(void)
{
    static const struct {
        float    in;
        uint16_t f16;
    } cases[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {0x1p-24f, 0x0001},                 /* smallest subnormal */
        {0x1p-25f, 0x0000},                 /* tie between 0 and 2^-24 */
        {0x1.000002p-25f, 0x0001},          /* just above the tie */
        {-0x1p-25f, 0x8000},
        {0x1.8p-24f, 0x0002},               /* 1.5 ulp: tie, to even 2 */
        {0x1.4p-23f, 0x0002},               /* 2.5 ulp: tie, to even 2 */
        {0x1.ff8p-15f, 0x03ff},             /* largest subnormal */
        {0x1.ffcp-15f, 0x0400},             /* ties up to smallest normal */
        {0x1p-14f, 0x0400},                 /* smallest normal */
        {0x1.002p+0f, 0x3c00},              /* 1 + 2^-11: tie, to even */
        {0x1.006p+0f, 0x3c02},              /* 1 + 3*2^-11: tie, to even */
        {0x1.002002p+0f, 0x3c01},            /* just above the tie */
        {65504.0f, 0x7bff},                 /* largest finite */
        {65519.99f, 0x7bff},
        {65520.0f, 0x7c00},                 /* tie past max -> inf */
        {-65520.0f, 0xfc00},
        {1e10f, 0x7c00},
        {FLT_MAX, 0x7c00},
        {FLT_MIN, 0x0000},
        {0x1p-149f, 0x0000},                /* fp32 subnormal */
        {-0x1p-149f, 0x8000},
        {INFINITY, 0x7c00},
        {-INFINITY, 0xfc00},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        uint16_t got = rz_f32_to_f16(cases[i].in);

        CHECK(got == cases[i].f16, "rz_f32_to_f16(%a) = 0x%04x, want 0x%04x",
              (double)cases[i].in, got, cases[i].f16);
    }
    CHECK((rz_f32_to_f16(NAN) & 0x7e00u) == 0x7e00u,
          "rz_f32_to_f16(NaN) is not a quiet NaN");
    /* A signalling NaN whose payload is only in the dropped low bits must
     * not become inf. */
    CHECK((rz_f32_to_f16(bits_f32(0x7f800001u)) & 0x7fffu) == 0x7e00u,
          "rz_f32_to_f16(sNaN low payload) = 0x%04x",
          rz_f32_to_f16(bits_f32(0x7f800001u)));
    CHECK(rz_f32_to_bf16(bits_f32(0x7f800001u)) == 0x7fc0u,
          "rz_f32_to_bf16(sNaN low payload) = 0x%04x",
          rz_f32_to_bf16(bits_f32(0x7f800001u)));
    CHECK(rz_f32_to_bf16(bits_f32(0xff800001u)) == 0xffc0u,
          "rz_f32_to_bf16(-sNaN) = 0x%04x",
          rz_f32_to_bf16(bits_f32(0xff800001u)));
    CHECK(rz_f32_to_bf16(FLT_MAX) == 0x7f80u, "bf16(FLT_MAX) not inf");
    CHECK(rz_f32_to_bf16(bits_f32(0x3f808000u)) == 0x3f80u,
          "bf16 tie to even (down)");
    CHECK(rz_f32_to_bf16(bits_f32(0x3f818000u)) == 0x3f82u,
          "bf16 tie to even (up)");
    CHECK(rz_f32_to_bf16(bits_f32(0x00008000u)) == 0x0000u,
          "bf16 subnormal tie to zero");
    CHECK(isnan(rz_f16_to_f32(0x7c01u)) &&
          (f32_bits(rz_f16_to_f32(0x7c01u)) & 0x00400000u),
          "f16 sNaN does not widen to a quiet NaN");
}

/* The reference must itself be right: against the hardware's double->float
 * rounding on random doubles around the whole f32 range. */
static void test_reference_rounding(void)
{
    size_t   bad = 0;
    uint64_t first = 0;
    int      i;

    for (i = 0; i < 500000; ++i) {
        uint64_t u = rnd();
        double   v;

        /* Exponents from below the f32 subnormals to above its max. */
        u = (u & 0x800fffffffffffffull) |
            ((uint64_t)(1023 - 160 + rnd_below(300)) << 52);
        memcpy(&v, &u, sizeof(v));
        if (ref_round(v, REF_F32) != f32_bits((float)v) && bad++ == 0) {
            first = u;
        }
    }
    CHECK(bad == 0, "ref_round(f32) disagrees with (float): %zu, first "
          "0x%016" PRIx64, bad, first);
    CHECK(ref_round(ref_decode(0x0123456789abcdefull, REF_F64), REF_F64) ==
          0x0123456789abcdefull, "ref_round(f64) not identity");
}

/* ----------------------------------------------------------------- types */

static void test_types(void)
{
    static const struct {
        rz_dtype_t  dtype;
        size_t      size;
        const char *name;
    } dt[] = {
        {RZ_DTYPE_F32, 4, "f32"}, {RZ_DTYPE_F64, 8, "f64"},
        {RZ_DTYPE_F16, 2, "f16"}, {RZ_DTYPE_BF16, 2, "bf16"},
        {RZ_DTYPE_I8, 1, "i8"},   {RZ_DTYPE_U8, 1, "u8"},
        {RZ_DTYPE_I32, 4, "i32"}, {RZ_DTYPE_U32, 4, "u32"},
        {RZ_DTYPE_I64, 8, "i64"}, {RZ_DTYPE_U64, 8, "u64"},
    };
    static const char *const ops[] = {"sum", "prod", "min", "max", "avg"};
    size_t i;

    CHECK(sizeof(dt) / sizeof(dt[0]) == (size_t)RZ_DTYPE_LAST,
          "dtype table out of date");
    for (i = 0; i < sizeof(dt) / sizeof(dt[0]); ++i) {
        CHECK(rz_dtype_size(dt[i].dtype) == dt[i].size,
              "rz_dtype_size(%d) = %zu", (int)dt[i].dtype,
              rz_dtype_size(dt[i].dtype));
        CHECK(strcmp(rz_dtype_name(dt[i].dtype), dt[i].name) == 0,
              "rz_dtype_name(%d) = %s", (int)dt[i].dtype,
              rz_dtype_name(dt[i].dtype));
        CHECK(rz_dtype_from_name(dt[i].name) == (int)dt[i].dtype,
              "rz_dtype_from_name(%s)", dt[i].name);
    }
    for (i = 0; i < (size_t)RZ_OP_LAST; ++i) {
        CHECK(strcmp(rz_op_name((rz_op_t)i), ops[i]) == 0,
              "rz_op_name(%zu) = %s", i, rz_op_name((rz_op_t)i));
        CHECK(rz_op_from_name(ops[i]) == (int)i, "rz_op_from_name(%s)",
              ops[i]);
    }

    CHECK(rz_dtype_size((rz_dtype_t)RZ_DTYPE_LAST) == 0, "size(LAST)");
    CHECK(rz_dtype_size((rz_dtype_t)-1) == 0, "size(-1)");
    CHECK(strcmp(rz_dtype_name((rz_dtype_t)RZ_DTYPE_LAST), "invalid") == 0,
          "name(LAST)");
    CHECK(strcmp(rz_dtype_name((rz_dtype_t)-1), "invalid") == 0,
          "name(-1)");
    CHECK(strcmp(rz_op_name((rz_op_t)RZ_OP_LAST), "invalid") == 0,
          "op_name(LAST)");
    CHECK(strcmp(rz_op_name((rz_op_t)-7), "invalid") == 0, "op_name(-7)");

    CHECK(rz_dtype_from_name(NULL) == -1, "dtype_from_name(NULL)");
    CHECK(rz_dtype_from_name("") == -1, "dtype_from_name(\"\")");
    CHECK(rz_dtype_from_name("f3") == -1, "dtype_from_name(f3)");
    CHECK(rz_dtype_from_name("f322") == -1, "dtype_from_name(f322)");
    CHECK(rz_dtype_from_name("invalid") == -1, "dtype_from_name(invalid)");
    CHECK(rz_dtype_from_name("BF16") == RZ_DTYPE_BF16, "BF16");
    CHECK(rz_dtype_from_name("float") == RZ_DTYPE_F32, "float");
    CHECK(rz_dtype_from_name("bfloat16") == RZ_DTYPE_BF16, "bfloat16");
    CHECK(rz_dtype_from_name("half") == RZ_DTYPE_F16, "half");
    CHECK(rz_dtype_from_name("uint64") == RZ_DTYPE_U64, "uint64");
    CHECK(rz_op_from_name(NULL) == -1, "op_from_name(NULL)");
    CHECK(rz_op_from_name("mean") == -1, "op_from_name(mean)");
    CHECK(rz_op_from_name("su") == -1, "op_from_name(su)");
    CHECK(rz_op_from_name("AVG") == RZ_OP_AVG, "op_from_name(AVG)");
}

int main(void)
{
    test_types();
    test_reference_rounding();
    test_half_roundtrip();
    test_narrow_cases();
    test_narrow();
    test_reduce_check_invalid();
    test_reduce_all();
    test_scale();
    test_scale_exhaustive();

    printf("test_reduce: %lu passed, %lu failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
