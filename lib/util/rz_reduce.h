/**
 * @file rz_reduce.h
 * @brief Element-wise reduction kernels and dtype/op helpers. Internal.
 *
 * The semantics here are the reference every collective and compressor must
 * reproduce bitwise: one operation per element pair, rounded once to the
 * element type (f16/bf16 are reduced in fp32 and rounded to nearest even),
 * integer sum and prod wrap modulo 2^bits.
 */
#ifndef RZ_REDUCE_H
#define RZ_REDUCE_H

#include <stddef.h>

#include <ringzip/status.h>
#include <ringzip/types.h>

/*
 * The library is built with -fvisibility=hidden; only public API definitions
 * carry this. Internal functions (everything declared in lib/) must not, so
 * that they stay out of the shared library's ABI.
 */
#ifndef RZ_EXPORT
#define RZ_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Tell whether rz_reduce() implements a dtype/op pair.
 * @param [in] dtype  Element type.
 * @param [in] op     Operator.
 * @return RZ_OK if supported, RZ_ERR_INVALID_PARAM if dtype or op is out of
 *         range, RZ_ERR_NOT_SUPPORTED for RZ_OP_AVG on an integer type. Does
 *         not log: callers decide whether a refusal is an error.
 */
rz_status_t rz_reduce_check(rz_dtype_t dtype, rz_op_t op);

/**
 * @brief out[i] = a[i] op b[i] for i in [0, n).
 *
 * RZ_OP_AVG reduces as RZ_OP_SUM; the caller applies rz_reduce_scale() once
 * at the end. The pair must have passed rz_reduce_check(); an out-of-range
 * dtype or op leaves out untouched.
 *
 * @param [out] out    Result; may be exactly a or exactly b (or both), but
 *                     must not otherwise overlap them.
 * @param [in]  a      First operand, n elements.
 * @param [in]  b      Second operand, n elements.
 * @param [in]  n      Number of elements (0 is allowed).
 * @param [in]  dtype  Element type.
 * @param [in]  op     Operator.
 */
void rz_reduce(void *out, const void *a, const void *b, size_t n,
               rz_dtype_t dtype, rz_op_t op);

/**
 * @brief Finalise RZ_OP_AVG: buf[i] *= 1/nranks, where 1/nranks is the
 *        correctly rounded fp32 reciprocal (fp64 for RZ_DTYPE_F64).
 *
 * f32/f64: one multiplication in the element type. f16/bf16: the value is
 * widened to fp32, multiplied in fp32 and the fp32 product rounded to the
 * 16-bit type. That is two roundings and, unlike the reductions, not always
 * the correctly rounded product (f16 0x0003 * fp32(1/6) gives 0x0000, not
 * 0x0001); it is the defined result, which every other implementation of
 * AVG (other devices, compressors) must reproduce bitwise.
 *
 * A multiplication rather than a division, so that it is cheap and
 * identical on every rank. No-op for integer types and for nranks <= 1.
 *
 * @param [in,out] buf     n elements of dtype.
 * @param [in]     n       Number of elements.
 * @param [in]     dtype   Element type.
 * @param [in]     nranks  Number of contributions summed into buf.
 */
void rz_reduce_scale(void *buf, size_t n, rz_dtype_t dtype, int nranks);

/**
 * @brief Parse an element type name, as printed by rz_dtype_name() ("f32",
 *        "bf16", ...; case-insensitive) or a common long alias ("float",
 *        "half", "bfloat16", "int8", ...).
 * @param [in] name  Name; NULL is allowed.
 * @return The rz_dtype_t value, or -1 if the name is unknown.
 */
int rz_dtype_from_name(const char *name);

/**
 * @brief Parse an operator name, as printed by rz_op_name() ("sum", "avg",
 *        ...; case-insensitive).
 * @param [in] name  Name; NULL is allowed.
 * @return The rz_op_t value, or -1 if the name is unknown.
 */
int rz_op_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
