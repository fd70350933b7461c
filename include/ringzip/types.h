/**
 * @file types.h
 * @brief Element types and reduction operators.
 */
#ifndef RINGZIP_TYPES_H
#define RINGZIP_TYPES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Element types. Values are ABI. */
typedef enum {
    RZ_DTYPE_F32  = 0, /**< IEEE binary32. */
    RZ_DTYPE_F64  = 1, /**< IEEE binary64. */
    RZ_DTYPE_F16  = 2, /**< IEEE binary16, reduced in fp32, rounded to nearest even. */
    RZ_DTYPE_BF16 = 3, /**< bfloat16, reduced in fp32, rounded to nearest even. */
    RZ_DTYPE_I8   = 4,
    RZ_DTYPE_U8   = 5,
    RZ_DTYPE_I32  = 6,
    RZ_DTYPE_U32  = 7,
    RZ_DTYPE_I64  = 8,
    RZ_DTYPE_U64  = 9,
    RZ_DTYPE_LAST = 10 /**< Number of types; not a type. */
} rz_dtype_t;

/**
 * @brief Reduction operators. Integer sum and prod wrap modulo 2^bits.
 *        RZ_OP_AVG is defined for floating types only (sum, then one
 *        multiplication by the correctly rounded 1/nranks); integer types
 *        return RZ_ERR_NOT_SUPPORTED for it.
 */
typedef enum {
    RZ_OP_SUM  = 0,
    RZ_OP_PROD = 1,
    RZ_OP_MIN  = 2,
    RZ_OP_MAX  = 3,
    RZ_OP_AVG  = 4,
    RZ_OP_LAST = 5 /**< Number of operators; not an operator. */
} rz_op_t;

/** @brief Size in bytes of one element, 0 for an invalid type. */
size_t rz_dtype_size(rz_dtype_t dtype);

/** @brief Short name ("f32", "bf16", ...), "invalid" for an invalid type. */
const char *rz_dtype_name(rz_dtype_t dtype);

/** @brief Short name ("sum", "avg", ...), "invalid" for an invalid operator. */
const char *rz_op_name(rz_op_t op);

#ifdef __cplusplus
}
#endif
#endif
