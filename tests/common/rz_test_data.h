/*
 * Deterministic inputs and independent references for the collective
 * tests. Inputs are chosen so that sums, products, minima and maxima are
 * exact in every floating type (multiples of 1/4 up to a few units, and
 * powers of two for products); the reference is computed in double or in
 * wrapping 64-bit integers, never with the library's kernels.
 */
#ifndef RZ_TEST_DATA_H
#define RZ_TEST_DATA_H

#include <ringzip/ringzip.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline int rz_td_is_float(rz_dtype_t t)
{
    return t == RZ_DTYPE_F32 || t == RZ_DTYPE_F64 || t == RZ_DTYPE_F16 ||
           t == RZ_DTYPE_BF16;
}

static inline int rz_td_is_signed(rz_dtype_t t)
{
    return t == RZ_DTYPE_I8 || t == RZ_DTYPE_I32 || t == RZ_DTYPE_I64;
}

/* Input value of element i on rank r, as a double (exactly representable). */
static inline double rz_td_value(rz_dtype_t t, rz_op_t op, int r, size_t i)
{
    uint64_t h = (uint64_t)r * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    if (rz_td_is_float(t)) {
        if (op == RZ_OP_PROD) {
            static const double p[4] = {0.5, 1.0, 2.0, -1.0};
            return p[h % 4];
        }
        return ((double)(h % 33) - 16.0) * 0.25;
    }
    if (op == RZ_OP_PROD) {
        return (double)(h % 5) - (rz_td_is_signed(t) ? 2.0 : 0.0);
    }
    return rz_td_is_signed(t) ? (double)(h % 251) - 125.0 : (double)(h % 251);
}

static inline uint16_t rz_td_f16_bits(double v)
{
    /* Only for exact inputs: sign, exponent, 10-bit mantissa. */
    if (v == 0) {
        return signbit(v) ? 0x8000 : 0;
    }
    int e;
    double m = frexp(fabs(v), &e);          /* v = m * 2^e, m in [0.5,1) */
    uint16_t bits = (uint16_t)(((e - 1 + 15) << 10) |
                               ((uint16_t)((m * 2 - 1) * 1024) & 0x3ff));
    return (uint16_t)(bits | (v < 0 ? 0x8000 : 0));
}

static inline uint16_t rz_td_bf16_bits(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static inline double rz_td_f16_value(uint16_t b)
{
    int e = (b >> 10) & 0x1f, m = b & 0x3ff;
    double v = (e == 0) ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    if (e == 31) {
        v = m ? NAN : INFINITY;
    }
    return (b & 0x8000) ? -v : v;
}

static inline double rz_td_bf16_value(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Store double v (exactly representable or an integer) into element i. */
static inline void rz_td_store(rz_dtype_t t, void *buf, size_t i, double v)
{
    switch (t) {
    case RZ_DTYPE_F32: ((float *)buf)[i] = (float)v; break;
    case RZ_DTYPE_F64: ((double *)buf)[i] = v; break;
    case RZ_DTYPE_F16: ((uint16_t *)buf)[i] = rz_td_f16_bits(v); break;
    case RZ_DTYPE_BF16: ((uint16_t *)buf)[i] = rz_td_bf16_bits(v); break;
    case RZ_DTYPE_I8: ((int8_t *)buf)[i] = (int8_t)(int64_t)v; break;
    case RZ_DTYPE_U8: ((uint8_t *)buf)[i] = (uint8_t)(int64_t)v; break;
    case RZ_DTYPE_I32: ((int32_t *)buf)[i] = (int32_t)(int64_t)v; break;
    case RZ_DTYPE_U32: ((uint32_t *)buf)[i] = (uint32_t)(int64_t)v; break;
    case RZ_DTYPE_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
    case RZ_DTYPE_U64: ((uint64_t *)buf)[i] = (uint64_t)(int64_t)v; break;
    default: break;
    }
}

static inline double rz_td_load_float(rz_dtype_t t, const void *buf, size_t i)
{
    switch (t) {
    case RZ_DTYPE_F32: return ((const float *)buf)[i];
    case RZ_DTYPE_F64: return ((const double *)buf)[i];
    case RZ_DTYPE_F16: return rz_td_f16_value(((const uint16_t *)buf)[i]);
    case RZ_DTYPE_BF16: return rz_td_bf16_value(((const uint16_t *)buf)[i]);
    default: return NAN;
    }
}

/* Integer element as its bit pattern in 64 bits (sign-extended if signed). */
static inline uint64_t rz_td_load_int(rz_dtype_t t, const void *buf, size_t i)
{
    switch (t) {
    case RZ_DTYPE_I8: return (uint64_t)(int64_t)((const int8_t *)buf)[i];
    case RZ_DTYPE_U8: return ((const uint8_t *)buf)[i];
    case RZ_DTYPE_I32: return (uint64_t)(int64_t)((const int32_t *)buf)[i];
    case RZ_DTYPE_U32: return ((const uint32_t *)buf)[i];
    case RZ_DTYPE_I64: return (uint64_t)((const int64_t *)buf)[i];
    case RZ_DTYPE_U64: return ((const uint64_t *)buf)[i];
    default: return 0;
    }
}

static inline unsigned rz_td_bits(rz_dtype_t t)
{
    return (unsigned)rz_dtype_size(t) * 8;
}

/* Does element i of the reduction over ranks 0..K-1 match? */
static inline int rz_td_check_reduced(rz_dtype_t t, rz_op_t op, int K,
                                      const void *buf, size_t i,
                                      double *want_p, double *got_p)
{
    if (rz_td_is_float(t)) {
        double acc = rz_td_value(t, op, 0, i);
        for (int r = 1; r < K; r++) {
            double v = rz_td_value(t, op, r, i);
            switch (op) {
            case RZ_OP_PROD: acc *= v; break;
            case RZ_OP_MIN: acc = v < acc ? v : acc; break;
            case RZ_OP_MAX: acc = v > acc ? v : acc; break;
            default: acc += v; break;
            }
        }
        double got = rz_td_load_float(t, buf, i);
        *want_p = acc;
        *got_p = got;
        if (op != RZ_OP_AVG) {
            return got == acc;  /* exact inputs: exact results */
        }
        acc /= K;
        *want_p = acc;
        int p = t == RZ_DTYPE_F64 ? 52 : t == RZ_DTYPE_F32 ? 23
              : t == RZ_DTYPE_F16 ? 10 : 7;
        return fabs(got - acc) <= fabs(acc) * ldexp(4.0, -p);
    }
    unsigned bits = rz_td_bits(t);
    uint64_t mask = bits == 64 ? ~0ull : ((1ull << bits) - 1);
    uint64_t acc = (uint64_t)(int64_t)rz_td_value(t, op, 0, i);
    for (int r = 1; r < K; r++) {
        uint64_t v = (uint64_t)(int64_t)rz_td_value(t, op, r, i);
        int64_t sa = (int64_t)acc, sv = (int64_t)v;
        switch (op) {
        case RZ_OP_PROD: acc *= v; break;
        case RZ_OP_MIN: acc = rz_td_is_signed(t) ? (uint64_t)(sv < sa ? sv : sa)
                                                 : (v < acc ? v : acc); break;
        case RZ_OP_MAX: acc = rz_td_is_signed(t) ? (uint64_t)(sv > sa ? sv : sa)
                                                 : (v > acc ? v : acc); break;
        default: acc += v; break;
        }
    }
    uint64_t got = rz_td_load_int(t, buf, i);
    *want_p = (double)(int64_t)(acc & mask);
    *got_p = (double)(int64_t)(got & mask);
    return (got & mask) == (acc & mask);
}

static inline uint64_t rz_td_hash(const void *buf, size_t bytes)
{
    const unsigned char *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < bytes; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

#endif
