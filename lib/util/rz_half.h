/**
 * @file rz_half.h
 * @brief Conversions between fp32 and the two 16-bit floating types
 *        (IEEE binary16 and bfloat16). Internal, header-only.
 *
 * These are the dtype conversions of RZ_DTYPE_F16 and RZ_DTYPE_BF16: round to
 * nearest even, subnormals kept, overflow to infinity, NaN stays a quiet NaN
 * with its sign and leading payload bits.
 *
 * Why pure integer bit manipulation: _Float16 and __bf16 exist only on some
 * compilers and targets, and the hardware converters (F16C, AVX512-BF16) are
 * not in the baseline x86-64 or aarch64 ISA we build for. Integer code gives
 * the same bits on every compiler and machine, which the reduction needs (all
 * ranks must agree bitwise), and it is written without data-dependent
 * branches or variable shifts (only selects and constant shifts) so that the
 * loops in rz_reduce.c can still be vectorised with plain SSE2/NEON.
 */
#ifndef RZ_HALF_H
#define RZ_HALF_H

#include <stdint.h>
#include <string.h>

/*
 * The binary16 conversions are written in "mask style": every condition
 * becomes an all-ones/all-zero mask or a select between two computed values,
 * and all shifts are by constants. On baseline x86-64 (SSE2) the f16 sum
 * loop then vectorises to about three times its scalar speed; written with
 * nested ternaries over uint16_t, gcc vectorised it into code slower than
 * scalar. Both ladders are checked exhaustively by tests/unit/test_reduce.c.
 */

/** @brief Round an fp32 value to binary16 (nearest even, overflow to inf). */
static inline uint16_t rz_f32_to_f16(float f)
{
    uint32_t x, ax, sign, t, m, c, norm, sub, nan, r;

    memcpy(&x, &f, sizeof(x));
    sign = (x >> 16) & 0x8000u;
    ax   = x & 0x7fffffffu;

    /*
     * Normal result, |f| in [2^-14, 65536): rebias the exponent by
     * (127 - 15) << 23 and round away the 13 low mantissa bits to nearest
     * even. A carry out of the mantissa correctly bumps the exponent, and
     * from 65520 up it lands exactly on 0x7c00 (inf). Wraps harmlessly for
     * inputs that take another branch.
     */
    norm = (ax - 0x38000000u + 0x0fffu + ((ax >> 13) & 1u)) >> 13;

    /*
     * Subnormal (or zero) result, |f| < 2^-14, exponent field e <= 112: the
     * result in units of 2^-24 is m * 2^(e - 126), m holding the implicit
     * bit, i.e. m shifted right by 14 + t with t = 112 - e. The t part is a
     * ladder of constant shifts (8, 4, 2, 1) that jam the lost bits into bit
     * 0 (sticky); that is safe because the final shift by 14 still drops bit
     * 0 and only needs to know whether anything below the half was set. Any
     * t >= 11 rounds to 0, so t is clamped to 15, which also covers fp32
     * zeros and subnormals (their wrongly added implicit bit is shifted out).
     * t wraps for e > 112, where sub is not used.
     */
    t = 112u - (ax >> 23);
    t = t > 15u ? 15u : t;
    m = (ax & 0x007fffffu) | 0x00800000u;
    c = 0u - ((t >> 3) & 1u);
    m = c ? (m >> 8) | (uint32_t)((m & 0xffu) != 0u) : m;
    c = 0u - ((t >> 2) & 1u);
    m = c ? (m >> 4) | (uint32_t)((m & 0x0fu) != 0u) : m;
    c = 0u - ((t >> 1) & 1u);
    m = c ? (m >> 2) | (uint32_t)((m & 0x03u) != 0u) : m;
    c = 0u - (t & 1u);
    m = c ? (m >> 1) | (m & 0x01u) : m;
    sub = (m + 0x1fffu + ((m >> 14) & 1u)) >> 14;

    /* Keep the leading payload bits; setting the quiet bit also keeps a NaN
     * whose payload sat only in the dropped bits from turning into inf. */
    nan = 0x7e00u | ((ax >> 13) & 0x03ffu);

    r = ax < 0x38800000u ? sub : norm;
    r = ax >= 0x47800000u ? 0x7c00u : r;
    r = ax > 0x7f800000u ? nan : r;
    return (uint16_t)(sign | r);
}

/** @brief Widen a binary16 value to fp32 (exact; NaNs come back quiet). */
static inline float rz_f16_to_f32(uint16_t h)
{
    uint32_t hw   = h;
    uint32_t sign = (hw & 0x8000u) << 16;
    uint32_t mag  = hw & 0x7fffu;
    uint32_t m    = mag, s = 0u, c, x;
    float f;

    /*
     * Normalise subnormals: shift m left until its leading one reaches bit
     * 10 (the implicit bit), by a fixed ladder of conditional constant shifts
     * (5, 3, 2, 1) instead of a count-leading-zeros. Every normal, inf or NaN
     * has mag >= 0x400, so no step fires for them and s stays 0. After s
     * shifts the value mag * 2^-24 is 1.f * 2^(-14 - s), so the same rebias
     * serves both: exponent field 113 - s, of which the implicit bit in m
     * (bit 10, landing on bit 23) supplies 1.
     */
    c = 0u - (uint32_t)(m < 0x040u);
    m = c ? m << 5 : m;
    s += c & 5u;
    c = 0u - (uint32_t)(m < 0x100u);
    m = c ? m << 3 : m;
    s += c & 3u;
    c = 0u - (uint32_t)(m < 0x200u);
    m = c ? m << 2 : m;
    s += c & 2u;
    c = 0u - (uint32_t)(m < 0x400u);
    m = c ? m << 1 : m;
    s += c & 1u;
    x = (m << 13) + ((112u - s) << 23);

    /* inf/NaN: exponent 31 rebiased by 112 must reach 255; NaNs are made
     * quiet. Zero is the one input the ladder cannot normalise. */
    x += (0u - (uint32_t)(mag >= 0x7c00u)) & (112u << 23);
    x |= (0u - (uint32_t)(mag > 0x7c00u)) & 0x00400000u;
    x &= 0u - (uint32_t)(mag != 0u);
    x |= sign;
    memcpy(&f, &x, sizeof(f));
    return f;
}

/** @brief Round an fp32 value to bfloat16 (nearest even, overflow to inf). */
static inline uint16_t rz_f32_to_bf16(float f)
{
    uint32_t x, rounded, nan;

    memcpy(&x, &f, sizeof(x));
    /* The carry never reaches the sign bit (0x7f7fffff + 0x8000 is still
     * below it), and a carry into the exponent is the correct rounding, up
     * to inf from the last half-ulp below 2^128 on. */
    rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    /* Truncating a NaN could give inf; the quiet bit prevents that. */
    nan     = (x >> 16) | 0x0040u;
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/** @brief Widen a bfloat16 value to fp32 (exact; NaNs come back quiet). */
static inline float rz_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;

    x |= (h & 0x7fffu) > 0x7f80u ? 0x00400000u : 0u;
    memcpy(&f, &x, sizeof(f));
    return f;
}

#endif
