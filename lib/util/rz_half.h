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

/** @brief Round an fp32 value to binary16 (nearest even, overflow to inf). */
static inline uint16_t rz_f32_to_f16(float f)
{
    uint32_t x, ax, sign, e, t, m, norm, sub, nan, r;

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
     * Subnormal (or zero) result, |f| < 2^-14: the result is
     * m * 2^(e - 126) in units of 2^-24, m holding the implicit bit, i.e. m
     * shifted right by 14 + t with t = 112 - e. The t part is done with
     * constant shifts that jam the lost bits into bit 0 (sticky), which is
     * safe because the last shift by 14 still drops bit 0; this avoids
     * per-element variable shifts, which SSE2 lacks. t >= 15 always ends in
     * 0, so it is clamped there (this also covers fp32 zeros/subnormals,
     * whose wrongly added implicit bit is shifted out).
     */
    e = ax >> 23;
    t = e >= 112u ? 0u : 112u - e;
    t = t > 15u ? 15u : t;
    m = (ax & 0x007fffffu) | 0x00800000u;
    m = (t & 8u) ? (m >> 8) | (uint32_t)((m & 0xffu) != 0u) : m;
    m = (t & 4u) ? (m >> 4) | (uint32_t)((m & 0x0fu) != 0u) : m;
    m = (t & 2u) ? (m >> 2) | (uint32_t)((m & 0x03u) != 0u) : m;
    m = (t & 1u) ? (m >> 1) | (m & 0x01u) : m;
    sub = (m + 0x1fffu + ((m >> 14) & 1u)) >> 14;

    /* Keep the leading payload bits; setting the quiet bit also keeps a NaN
     * whose payload sat only in the dropped bits from turning into inf. */
    nan = 0x7e00u | ((ax >> 13) & 0x03ffu);

    r = ax > 0x7f800000u  ? nan     :
        ax >= 0x47800000u ? 0x7c00u :
        ax >= 0x38800000u ? norm    : sub;
    return (uint16_t)(sign | r);
}

/** @brief Widen a binary16 value to fp32 (exact; NaNs come back quiet). */
static inline float rz_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp  = (uint32_t)(h >> 10) & 0x1fu;
    uint32_t mant = (uint32_t)h & 0x03ffu;
    uint32_t norm, special, m, s, sub, x;
    float f;

    norm    = ((exp + 112u) << 23) | (mant << 13);
    special = 0x7f800000u | (mant << 13) | (mant != 0u ? 0x00400000u : 0u);

    /*
     * Subnormal: normalise mant so that its leading one reaches bit 9, by a
     * fixed ladder of conditional constant shifts (5, 2, 2, 1) rather than a
     * count-leading-zeros, which keeps it branch-free and vectorisable. With
     * the leading one at bit 9 after s shifts the value is 2^(-15 - s) * 1.f.
     */
    m = mant;
    s = 0u;
    s += m < 0x020u ? 5u : 0u;
    m = m < 0x020u ? m << 5 : m;
    s += m < 0x080u ? 2u : 0u;
    m = m < 0x080u ? m << 2 : m;
    s += m < 0x100u ? 2u : 0u;
    m = m < 0x100u ? m << 2 : m;
    s += m < 0x200u ? 1u : 0u;
    m = m < 0x200u ? m << 1 : m;
    sub = ((112u - s) << 23) | ((m & 0x01ffu) << 14);

    x = exp == 0x1fu ? special :
        exp != 0u    ? norm    :
        mant != 0u   ? sub     : 0u;
    x |= sign;
    memcpy(&f, &x, sizeof(f));
    return f;
}

/** @brief Round an fp32 value to bfloat16 (nearest even, overflow to inf). */
static inline uint16_t rz_f32_to_bf16(float f)
{
    uint32_t x, rounded, nan;

    memcpy(&x, &f, sizeof(x));
    /* Cannot wrap: the largest finite magnitude plus 0x8000 stays below the
     * sign bit, and a carry into the exponent is the correct rounding, up to
     * inf for values at or above the last half-ulp below 2^128. */
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
