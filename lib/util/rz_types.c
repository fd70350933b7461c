/*
 * Element types and operators: sizes, names and name parsing.
 */
#include "util/rz_reduce.h"

#include <stddef.h>

#include <ringzip/types.h>

/* Indexed by rz_dtype_t / rz_op_t, whose values are ABI and dense. */
static const size_t rz_dtype_sizes[RZ_DTYPE_LAST] = {
    [RZ_DTYPE_F32]  = 4, [RZ_DTYPE_F64] = 8, [RZ_DTYPE_F16] = 2,
    [RZ_DTYPE_BF16] = 2, [RZ_DTYPE_I8]  = 1, [RZ_DTYPE_U8]  = 1,
    [RZ_DTYPE_I32]  = 4, [RZ_DTYPE_U32] = 4, [RZ_DTYPE_I64] = 8,
    [RZ_DTYPE_U64]  = 8,
};

static const char *const rz_dtype_names[RZ_DTYPE_LAST] = {
    [RZ_DTYPE_F32]  = "f32",  [RZ_DTYPE_F64] = "f64", [RZ_DTYPE_F16] = "f16",
    [RZ_DTYPE_BF16] = "bf16", [RZ_DTYPE_I8]  = "i8",  [RZ_DTYPE_U8]  = "u8",
    [RZ_DTYPE_I32]  = "i32",  [RZ_DTYPE_U32] = "u32", [RZ_DTYPE_I64] = "i64",
    [RZ_DTYPE_U64]  = "u64",
};

static const char *const rz_op_names[RZ_OP_LAST] = {
    [RZ_OP_SUM] = "sum", [RZ_OP_PROD] = "prod", [RZ_OP_MIN] = "min",
    [RZ_OP_MAX] = "max", [RZ_OP_AVG]  = "avg",
};

/*
 * Long spellings people type from habit (the nccl-tests and numpy names), so
 * that RZ_* variables and tool options accept them. Canonical names come
 * from rz_dtype_names and always round-trip.
 */
static const struct {
    const char *name;
    rz_dtype_t  dtype;
} rz_dtype_aliases[] = {
    {"float",    RZ_DTYPE_F32}, {"float32", RZ_DTYPE_F32},
    {"double",   RZ_DTYPE_F64}, {"float64", RZ_DTYPE_F64},
    {"half",     RZ_DTYPE_F16}, {"float16", RZ_DTYPE_F16},
    {"bfloat16", RZ_DTYPE_BF16},
    {"int8",     RZ_DTYPE_I8},  {"uint8",   RZ_DTYPE_U8},
    {"int32",    RZ_DTYPE_I32}, {"uint32",  RZ_DTYPE_U32},
    {"int64",    RZ_DTYPE_I64}, {"uint64",  RZ_DTYPE_U64},
};

/* ASCII-only and locale-free, unlike strcasecmp(): names must parse the same
 * on every rank whatever its locale. */
static int rz_name_equal(const char *a, const char *b)
{
    for (;; ++a, ++b) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char cb = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;

        if (ca != cb) {
            return 0;
        }
        if (ca == '\0') {
            return 1;
        }
    }
}

RZ_EXPORT size_t rz_dtype_size(rz_dtype_t dtype)
{
    return ((unsigned)dtype < (unsigned)RZ_DTYPE_LAST) ?
           rz_dtype_sizes[dtype] : 0;
}

RZ_EXPORT const char *rz_dtype_name(rz_dtype_t dtype)
{
    return ((unsigned)dtype < (unsigned)RZ_DTYPE_LAST) ?
           rz_dtype_names[dtype] : "invalid";
}

RZ_EXPORT const char *rz_op_name(rz_op_t op)
{
    return ((unsigned)op < (unsigned)RZ_OP_LAST) ? rz_op_names[op] :
                                                   "invalid";
}

int rz_dtype_from_name(const char *name)
{
    size_t i;

    if (name == NULL) {
        return -1;
    }
    for (i = 0; i < (size_t)RZ_DTYPE_LAST; ++i) {
        if (rz_name_equal(name, rz_dtype_names[i])) {
            return (int)i;
        }
    }
    for (i = 0; i < sizeof(rz_dtype_aliases) / sizeof(rz_dtype_aliases[0]);
         ++i) {
        if (rz_name_equal(name, rz_dtype_aliases[i].name)) {
            return (int)rz_dtype_aliases[i].dtype;
        }
    }
    return -1;
}

int rz_op_from_name(const char *name)
{
    size_t i;

    if (name == NULL) {
        return -1;
    }
    for (i = 0; i < (size_t)RZ_OP_LAST; ++i) {
        if (rz_name_equal(name, rz_op_names[i])) {
            return (int)i;
        }
    }
    return -1;
}
