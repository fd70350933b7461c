/*
 * rz_plugin_check: conformance checker for compressor plugins. It loads one
 * plugin file with the library's loader and drives the plugin's v1 struct
 * directly (not the loader's checked wrappers: the plugin itself is under
 * test), checking the ABI contract of include/ringzip/compressor.h and the
 * compressor invariants of ALGORITHMS.md section 5.1 that the plugin
 * declares through its capability bits.
 *
 * Each property runs in a forked child with its result in shared memory, so
 * a plugin that crashes, trips a sanitizer or hangs fails that property
 * (with the last step it was given) instead of taking the checker down.
 * Every buffer handed to the plugin is either an exact-size allocation (so
 * AddressSanitizer sees overreads) or sits between canary guards (poisoned
 * under ASan as well), so stray writes are caught in either build.
 */
#include "plugin/rz_plugin.h"
#include "util/rz_config.h"

#include <ringzip/compressor.h>
#include <ringzip/status.h>

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define RZ_PC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RZ_PC_ASAN 1
#endif
#endif
#ifdef RZ_PC_ASAN
#include <sanitizer/asan_interface.h>
#define RZ_PC_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define RZ_PC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RZ_PC_POISON(p, n)   ((void)(p), (void)(n))
#define RZ_PC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define RZ_PC_EXIT_PASS  0
#define RZ_PC_EXIT_FAIL  1
#define RZ_PC_EXIT_USAGE 2      /* also: the plugin cannot be loaded */

#define RZ_PC_DEFAULT_SEED   1u
#define RZ_PC_DEFAULT_TRIALS 2u
#define RZ_PC_MAX_TRIALS     1000u
#define RZ_PC_MAX_COUNT      (1u << 24)
#define RZ_PC_MAX_SIZES      64

/* Canary bytes on each side of every output buffer. */
#define RZ_PC_GUARD 64
/* A property stops after this many failures (the first one is reported). */
#define RZ_PC_MAX_FAILS 25
/* -v prints at most this many failures per property. */
#define RZ_PC_VERBOSE_FAILS 10
/* Seconds a property may run before it counts as hung (--timeout). */
#define RZ_PC_TIMEOUT_S 240
#define RZ_PC_MAX_TIMEOUT_S 86400
#define RZ_PC_TEXT_MAX 320

/* unbiased: keys per vector and the largest count tried. */
#define RZ_PC_UNBIASED_KEYS  500
#define RZ_PC_UNBIASED_MAX_N 4097
/* contraction: relative slack for rounding (the norms are long double). */
#define RZ_PC_CONTRACT_SLACK 1e-12
/* malformed: fuzz decodes per vector, below and above this count. */
#define RZ_PC_FUZZ_SMALL_N   4097
#define RZ_PC_FUZZ_SMALL     96
#define RZ_PC_FUZZ_LARGE     12

static const size_t rz_pc_default_sizes[] = {0,  1,   2,    7,    8,    9,
                                             31, 37, 100, 1000, 4097, 65537};

static const char *rz_pc_prog = "rz_plugin_check";

/* ----------------------------------------------------------- element types */

typedef struct {
    uint32_t    id;
    const char *name;
    size_t      size;
    double      max;            /* largest finite value */
    double      min_normal;
    double      min_sub;        /* smallest subnormal */
    int         wide_exp;       /* the "wide" vectors span 2^-e .. 2^e */
    int         arith;          /* the ABI's arithmetic is defined for it */
} rz_pc_dtype_t;

static const rz_pc_dtype_t rz_pc_dtypes[] = {
    {RZ_COMPRESSOR_DTYPE_F32, "f32", 4, FLT_MAX, FLT_MIN, 0x1p-149, 40, 1},
    {RZ_COMPRESSOR_DTYPE_F64, "f64", 8, DBL_MAX, DBL_MIN, 0x1p-1074, 40, 1},
    {RZ_COMPRESSOR_DTYPE_F16, "f16", 2, 65504.0, 0x1p-14, 0x1p-24, 6, 0},
    {RZ_COMPRESSOR_DTYPE_BF16, "bf16", 2, 0x1.fep127, 0x1p-126, 0x1p-133, 40,
     0},
};
#define RZ_PC_NDTYPES (sizeof(rz_pc_dtypes) / sizeof(rz_pc_dtypes[0]))

static uint32_t rz_pc_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float rz_pc_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* binary16, round to nearest even, subnormals included. */
static uint16_t rz_pc_f32_to_f16(float f)
{
    uint32_t x = rz_pc_f32_bits(f), ax = x & 0x7FFFFFFFu, e, r, rem, half;
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);

    if (ax >= 0x7F800000u) {
        return (uint16_t)(sign | (ax > 0x7F800000u ? 0x7E00u : 0x7C00u));
    }
    if (ax >= 0x477FF000u) {            /* rounds to inf */
        return (uint16_t)(sign | 0x7C00u);
    }
    if (ax < 0x33000000u) {             /* below 2^-25 */
        return sign;
    }
    e = ax >> 23;
    if (e < 113) {                      /* half subnormal */
        uint32_t mant = (ax & 0x7FFFFFu) | 0x800000u, shift = 126 - e;
        r = mant >> shift;
        rem = mant & ((1u << shift) - 1);
        half = 1u << (shift - 1);
    } else {
        r = ((e - 112) << 10) | ((ax >> 13) & 0x3FFu);
        rem = ax & 0x1FFFu;
        half = 0x1000u;
    }
    if (rem > half || (rem == half && (r & 1u))) {
        r++;
    }
    return (uint16_t)(sign | r);
}

static float rz_pc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu,
             m = h & 0x3FFu;

    if (e == 0x1F) {
        return rz_pc_bits_f32(sign | 0x7F800000u | (m << 13));
    }
    if (e == 0) {                       /* exact: m * 2^-24 */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    return rz_pc_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static uint16_t rz_pc_f32_to_bf16(float f)
{
    uint32_t b = rz_pc_f32_bits(f);

    if ((b & 0x7FFFFFFFu) > 0x7F800000u) {
        return (uint16_t)((b >> 16) | 0x40u);
    }
    return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

/* Element @i of @buf as a double (exact for every supported type). */
static double rz_pc_get(const rz_pc_dtype_t *dt, const void *buf, size_t i)
{
    const unsigned char *p = (const unsigned char *)buf + i * dt->size;
    uint16_t h;
    float f;
    double d;

    switch (dt->id) {
    case RZ_COMPRESSOR_DTYPE_F32:
        memcpy(&f, p, 4);
        return f;
    case RZ_COMPRESSOR_DTYPE_F64:
        memcpy(&d, p, 8);
        return d;
    case RZ_COMPRESSOR_DTYPE_F16:
        memcpy(&h, p, 2);
        return rz_pc_f16_to_f32(h);
    default:
        memcpy(&h, p, 2);
        return rz_pc_bits_f32((uint32_t)h << 16);
    }
}

/* Store @x rounded to the element type. */
static void rz_pc_put(const rz_pc_dtype_t *dt, void *buf, size_t i, double x)
{
    unsigned char *p = (unsigned char *)buf + i * dt->size;
    uint16_t h;
    float f = (float)x;

    switch (dt->id) {
    case RZ_COMPRESSOR_DTYPE_F32:
        memcpy(p, &f, 4);
        break;
    case RZ_COMPRESSOR_DTYPE_F64:
        memcpy(p, &x, 8);
        break;
    case RZ_COMPRESSOR_DTYPE_F16:
        h = rz_pc_f32_to_f16(f);
        memcpy(p, &h, 2);
        break;
    default:
        h = rz_pc_f32_to_bf16(f);
        memcpy(p, &h, 2);
        break;
    }
}

/*
 * The reference arithmetic, one IEEE operation at a time in the element
 * type. volatile keeps each result rounded to its type whatever the flags
 * (the build also has -ffp-contract=off, so no FMA either way).
 */
static double rz_pc_sub(const rz_pc_dtype_t *dt, double a, double b)
{
    if (dt->id == RZ_COMPRESSOR_DTYPE_F32) {
        volatile float r = (float)a - (float)b;
        return r;
    } else {
        volatile double r = a - b;
        return r;
    }
}

static double rz_pc_add(const rz_pc_dtype_t *dt, double a, double b)
{
    if (dt->id == RZ_COMPRESSOR_DTYPE_F32) {
        volatile float r = (float)a + (float)b;
        return r;
    } else {
        volatile double r = a + b;
        return r;
    }
}

/* fl(fl(beta*y) + fl(alpha*d)); the beta term omitted when beta == 0. */
static double rz_pc_axpby(const rz_pc_dtype_t *dt, double y, double d,
                          float alpha, float beta)
{
    if (dt->id == RZ_COMPRESSOR_DTYPE_F32) {
        volatile float ad = alpha * (float)d, by, r;
        if (beta == 0.0f) {
            return ad;
        }
        by = beta * (float)y;
        r = by + ad;
        return r;
    } else {
        volatile double ad = (double)alpha * d, by, r;
        if (beta == 0.0f) {
            return ad;
        }
        by = (double)beta * y;
        r = by + ad;
        return r;
    }
}

/* ---------------------------------------------------------- random numbers */

static uint64_t rz_pc_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rz_pc_hash4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return rz_pc_mix64(rz_pc_mix64(rz_pc_mix64(rz_pc_mix64(a) ^ b) ^ c) ^ d);
}

/* SplitMix64 stream. */
static uint64_t rz_pc_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    return rz_pc_mix64(*s - 0x9E3779B97F4A7C15ull);
}

static double rz_pc_uniform(uint64_t *s)
{
    return (double)(rz_pc_next(s) >> 11) * 0x1.0p-53;
}

static size_t rz_pc_below(uint64_t *s, size_t n)
{
    return n == 0 ? 0 : (size_t)(rz_pc_next(s) % n);
}

/* Roughly N(0, 1): a sum of four uniforms. */
static double rz_pc_gauss(uint64_t *s)
{
    return (rz_pc_uniform(s) + rz_pc_uniform(s) + rz_pc_uniform(s) +
            rz_pc_uniform(s) - 2.0) * 1.7320508075688772;
}

/* ------------------------------------------------------------ the checker */

typedef enum {
    RZ_PC_PASS = 0,
    RZ_PC_FAIL,
    RZ_PC_SKIP
} rz_pc_state_t;

/* One row of the table; lives in memory shared with the child running it. */
typedef struct {
    int                state;
    unsigned long long checks;
    unsigned long long failures;
    unsigned long long notes;
    char               detail[RZ_PC_TEXT_MAX];  /* first failure or skip */
    char               note[RZ_PC_TEXT_MAX];    /* first note, or a summary */
    char               step[RZ_PC_TEXT_MAX];    /* what ran last */
} rz_pc_result_t;

/* What rz_pc_decode() returns when a canary was overwritten (the failure is
 * already recorded); no plugin returns it. */
#define RZ_PC_GUARD_FAILED RZ_ERR_LAST

typedef struct {
    const char               *path;
    const char               *params;
    rz_plugin_t              *plugin;
    const rz_compressor_v1_t *ops;
    void                     *ctx;
    rz_compressor_info_t      info;
    uint64_t                  seed;
    size_t                    sizes[RZ_PC_MAX_SIZES];
    size_t                    nsizes;
    unsigned                  trials;
    int                       verbosity;    /* -1 quiet, 0, 1 verbose */
    int                       fork;
    unsigned                  timeout_s;
    /* The row being run. */
    char                      row[48];
    rz_pc_result_t           *res;
} rz_pc_t;

static const char *rz_pc_status_name(rz_status_t st)
{
    switch (st) {
    case RZ_OK:                return "RZ_OK";
    case RZ_INPROGRESS:        return "RZ_INPROGRESS";
    case RZ_ERR_INVALID_PARAM: return "RZ_ERR_INVALID_PARAM";
    case RZ_ERR_NOT_SUPPORTED: return "RZ_ERR_NOT_SUPPORTED";
    case RZ_ERR_NO_MEMORY:     return "RZ_ERR_NO_MEMORY";
    case RZ_ERR_TIMEOUT:       return "RZ_ERR_TIMEOUT";
    case RZ_ERR_PEER_FAILURE:  return "RZ_ERR_PEER_FAILURE";
    case RZ_ERR_MISMATCH:      return "RZ_ERR_MISMATCH";
    case RZ_ERR_ABORTED:       return "RZ_ERR_ABORTED";
    case RZ_ERR_BOOTSTRAP:     return "RZ_ERR_BOOTSTRAP";
    case RZ_ERR_AUTH:          return "RZ_ERR_AUTH";
    case RZ_ERR_TRANSPORT:     return "RZ_ERR_TRANSPORT";
    case RZ_ERR_IO:            return "RZ_ERR_IO";
    case RZ_ERR_MALFORMED:     return "RZ_ERR_MALFORMED";
    case RZ_ERR_INTERNAL:      return "RZ_ERR_INTERNAL";
    case RZ_ERR_PLUGIN:        return "RZ_ERR_PLUGIN";
    case RZ_ERR_NEED_SYNC:     return "RZ_ERR_NEED_SYNC";
    case RZ_ERR_LAST:          break;
    }
    {
        /* One call per message, single-threaded: a static buffer will do. */
        static char other[32];
        snprintf(other, sizeof(other), "%d (not a status)", (int)st);
        return other;
    }
}

static void *rz_pc_xmalloc(size_t size)
{
    void *p = malloc(size);

    /* malloc(0) may be NULL; a 1-byte block still has no usable byte for
     * the plugin, since we pass a size of 0 with it. */
    if (p == NULL && size == 0) {
        p = malloc(1);
    }
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", rz_pc_prog, size);
        exit(RZ_PC_EXIT_USAGE);
    }
    return p;
}

/* An exact-size copy, so ASan flags any read past its end. */
static unsigned char *rz_pc_dup(const void *src, size_t size)
{
    unsigned char *p = rz_pc_xmalloc(size);

    if (size > 0) {
        memcpy(p, src, size);
    }
    return p;
}

static void rz_pc_vprint(rz_pc_t *pc, const char *tag, const char *fmt,
                         va_list ap)
{
    printf("  %-24s %s ", pc->row, tag);
    vprintf(fmt, ap);
    printf("\n");
}

/* Record a failure; the first one becomes the row's detail. */
static void rz_pc_fail(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rz_pc_fail(rz_pc_t *pc, const char *fmt, ...)
{
    va_list ap;

    pc->res->failures++;
    if (pc->res->failures == 1) {
        va_start(ap, fmt);
        vsnprintf(pc->res->detail, sizeof(pc->res->detail), fmt, ap);
        va_end(ap);
    }
    if (pc->verbosity > 0 && pc->res->failures <= RZ_PC_VERBOSE_FAILS) {
        va_start(ap, fmt);
        rz_pc_vprint(pc, "FAIL", fmt, ap);
        va_end(ap);
    }
}

/* Something worth knowing that is not a failure (the first is shown). */
static void rz_pc_note(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rz_pc_note(rz_pc_t *pc, const char *fmt, ...)
{
    va_list ap;

    pc->res->notes++;
    if (pc->res->notes == 1) {
        va_start(ap, fmt);
        vsnprintf(pc->res->note, sizeof(pc->res->note), fmt, ap);
        va_end(ap);
    }
    if (pc->verbosity > 0 && pc->res->notes <= RZ_PC_VERBOSE_FAILS) {
        va_start(ap, fmt);
        rz_pc_vprint(pc, "note", fmt, ap);
        va_end(ap);
    }
}

/* A statistic shown on a passing row (replaces any earlier one). */
static void rz_pc_summary(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rz_pc_summary(rz_pc_t *pc, const char *fmt, ...)
{
    va_list ap;

    if (pc->res->notes == 0) {
        va_start(ap, fmt);
        vsnprintf(pc->res->note, sizeof(pc->res->note), fmt, ap);
        va_end(ap);
    }
    if (pc->verbosity > 0) {
        va_start(ap, fmt);
        rz_pc_vprint(pc, "info", fmt, ap);
        va_end(ap);
    }
}

/* Name the step about to run, so a crash can say where it happened. */
static void rz_pc_step(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rz_pc_step(rz_pc_t *pc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(pc->res->step, sizeof(pc->res->step), fmt, ap);
    va_end(ap);
}

/* Count a check; record a failure when @ok is 0. Returns @ok. */
#define RZ_PC_EXPECT(pc, ok, ...)                                              \
    ((pc)->res->checks++, (ok) ? 1 : (rz_pc_fail((pc), __VA_ARGS__), 0))

#define RZ_PC_ENOUGH(pc) ((pc)->res->failures >= RZ_PC_MAX_FAILS)

static int rz_pc_has(const rz_pc_t *pc, uint32_t cap)
{
    return (pc->info.caps & cap) != 0;
}

static int rz_pc_accepts(const rz_pc_t *pc, uint32_t dtype)
{
    return dtype < 64 && (pc->info.dtypes & RZ_COMPRESSOR_DTYPE_BIT(dtype));
}

typedef rz_status_t (*rz_pc_delta_func_t)(void *ctx, uint32_t dtype,
                                          size_t count, double *delta_p);

/* delta_bound, when the plugin's struct is long enough to have it. */
static rz_pc_delta_func_t rz_pc_delta_bound(const rz_pc_t *pc)
{
    if (pc->ops->struct_size < offsetof(rz_compressor_v1_t, delta_bound) +
                                   sizeof(pc->ops->delta_bound)) {
        return NULL;
    }
    return pc->ops->delta_bound;
}

/* --------------------------------------------------------- guarded buffers */

/* @size bytes at @p with RZ_PC_GUARD canary bytes before and at least as
 * many after (poisoned under ASan, so a stray access is reported where it
 * happens). */
typedef struct {
    unsigned char *base;
    unsigned char *p;
    size_t         size;
    size_t         tail;
} rz_pc_buf_t;

static unsigned char rz_pc_canary(size_t i)
{
    return (unsigned char)(0xA5u ^ (i * 0x3Bu));
}

static void rz_pc_buf_init(rz_pc_buf_t *b, size_t size)
{
    /* The tail ends 8-aligned so ASan can poison all of it. */
    b->tail = RZ_PC_GUARD + (8 - size % 8) % 8;
    b->size = size;
    b->base = rz_pc_xmalloc(RZ_PC_GUARD + size + b->tail);
    b->p = b->base + RZ_PC_GUARD;
    for (size_t i = 0; i < RZ_PC_GUARD; i++) {
        b->base[i] = rz_pc_canary(i);
    }
    for (size_t i = 0; i < b->tail; i++) {
        b->p[size + i] = rz_pc_canary(RZ_PC_GUARD + i);
    }
    memset(b->p, 0xFF, size);   /* NaN in every element type */
    RZ_PC_POISON(b->base, RZ_PC_GUARD);
    RZ_PC_POISON(b->p + size, b->tail);
}

/* 1 when both guards are intact; else 0 and *@at_p is the offset of the
 * first changed byte relative to the payload (negative: before it). */
static int rz_pc_buf_intact(const rz_pc_buf_t *b, long *at_p)
{
    int ok = 1;

    RZ_PC_UNPOISON(b->base, RZ_PC_GUARD);
    RZ_PC_UNPOISON(b->p + b->size, b->tail);
    for (size_t i = 0; ok && i < RZ_PC_GUARD; i++) {
        if (b->base[i] != rz_pc_canary(i)) {
            *at_p = (long)i - RZ_PC_GUARD;
            ok = 0;
        }
    }
    for (size_t i = 0; ok && i < b->tail; i++) {
        if (b->p[b->size + i] != rz_pc_canary(RZ_PC_GUARD + i)) {
            *at_p = (long)(b->size + i);
            ok = 0;
        }
    }
    RZ_PC_POISON(b->base, RZ_PC_GUARD);
    RZ_PC_POISON(b->p + b->size, b->tail);
    return ok;
}

static void rz_pc_buf_free(rz_pc_buf_t *b)
{
    if (b->base != NULL) {
        RZ_PC_UNPOISON(b->base, RZ_PC_GUARD);
        RZ_PC_UNPOISON(b->p + b->size, b->tail);
        free(b->base);
        b->base = b->p = NULL;
    }
}

/* Check @b's guards; @what names the buffer in the failure. */
static int rz_pc_guards(rz_pc_t *pc, const rz_pc_buf_t *b, const char *what,
                        const char *where)
{
    long at = 0;
    int ok = rz_pc_buf_intact(b, &at);

    return RZ_PC_EXPECT(pc, ok,
                        "%s: %s: byte %ld written, outside the %zu bytes "
                        "given", where, what, at, b->size);
}

/* ------------------------------------------------------------ test vectors */

enum {
    RZ_PC_KIND_GAUSS,       /* roughly normal, random scale */
    RZ_PC_KIND_TIES,        /* few distinct magnitudes: exact ties */
    RZ_PC_KIND_ZEROS,       /* normal with +0 and -0 mixed in */
    RZ_PC_KIND_SPARSE1,     /* one nonzero, the rest +-0 */
    RZ_PC_KIND_WIDE,        /* magnitudes 2^-e .. 2^e */
    RZ_PC_KIND_ALLZERO,     /* +0 and -0 only */
    RZ_PC_KIND_TINY,        /* subnormals and the smallest normals */
    RZ_PC_KIND_EXTREME,     /* the largest finite values and other edges */
    RZ_PC_KIND_COUNT
};

static const char *const rz_pc_kind_names[RZ_PC_KIND_COUNT] = {
    "gauss", "ties", "zeros", "1-sparse", "wide", "all-zero", "subnormal",
    "extreme"};

#define RZ_PC_KIND_BIT(k) (1u << (k))
/* In the normal range (or zero): what invariants stated for exact
 * arithmetic are checked on. */
#define RZ_PC_KINDS_NORMAL                                                     \
    (RZ_PC_KIND_BIT(RZ_PC_KIND_GAUSS) | RZ_PC_KIND_BIT(RZ_PC_KIND_TIES) |      \
     RZ_PC_KIND_BIT(RZ_PC_KIND_ZEROS) | RZ_PC_KIND_BIT(RZ_PC_KIND_SPARSE1) |   \
     RZ_PC_KIND_BIT(RZ_PC_KIND_WIDE) | RZ_PC_KIND_BIT(RZ_PC_KIND_ALLZERO))
/* Plus subnormals: for bitwise rules that hold at any magnitude. */
#define RZ_PC_KINDS_FINITE                                                     \
    (RZ_PC_KINDS_NORMAL | RZ_PC_KIND_BIT(RZ_PC_KIND_TINY))
/* Plus values whose norms overflow: only for rules about bytes. */
#define RZ_PC_KINDS_ALL ((1u << RZ_PC_KIND_COUNT) - 1)

typedef struct {
    size_t              n;
    int                 kind;
    unsigned            trial;
    void               *data;   /* exact size */
    rz_compressor_key_t key;
    uint64_t            rng;    /* for the property's own draws */
    char                where[96];
} rz_pc_vec_t;

static void rz_pc_fill(const rz_pc_dtype_t *dt, void *buf, size_t n, int kind,
                       uint64_t *rng)
{
    static const double ties[] = {1.0, 2.0, 0.5, 1.0, 3.0};
    double scale = ldexp(1.0, (int)rz_pc_below(rng, 7) - 3);
    int lo_exp = (int)floor(log2(dt->min_sub));
    int hi_exp = (int)floor(log2(dt->min_normal)) + 2;

    for (size_t i = 0; i < n; i++) {
        double x, u = rz_pc_uniform(rng);
        double sign = (rz_pc_next(rng) & 1) ? -1.0 : 1.0;

        switch (kind) {
        case RZ_PC_KIND_GAUSS:
            x = rz_pc_gauss(rng) * scale;
            break;
        case RZ_PC_KIND_TIES:
            x = u < 0.1 ? 0.0 : sign * ties[rz_pc_below(rng, 5)] * scale;
            break;
        case RZ_PC_KIND_ZEROS:
            x = u < 0.3 ? 0.0 : u < 0.45 ? -0.0 : rz_pc_gauss(rng) * scale;
            break;
        case RZ_PC_KIND_SPARSE1:
        case RZ_PC_KIND_ALLZERO:
            x = sign * 0.0;
            break;
        case RZ_PC_KIND_WIDE:
            x = sign * ldexp(1.0 + u, (int)rz_pc_below(
                                          rng, 2 * (size_t)dt->wide_exp + 1) -
                                          dt->wide_exp);
            break;
        case RZ_PC_KIND_TINY:
            if (u < 0.3) {
                x = sign * dt->min_sub * (double)(1 + rz_pc_below(rng, 1000));
            } else {
                x = sign * ldexp(1.0 + rz_pc_uniform(rng),
                                 lo_exp + (int)rz_pc_below(
                                              rng, (size_t)(hi_exp - lo_exp)));
            }
            break;
        default: {
            const double edge[] = {dt->max,     -dt->max,  dt->min_normal,
                                   -dt->min_normal, dt->min_sub,
                                   -dt->min_sub, 1.0,      -1.0,
                                   0.0,         -0.0,      dt->max / 3};
            x = u < 0.5 ? edge[rz_pc_below(rng, sizeof(edge) / sizeof(*edge))]
                        : rz_pc_gauss(rng);
            break;
        }
        }
        rz_pc_put(dt, buf, i, x);
    }
    if (kind == RZ_PC_KIND_SPARSE1 && n > 0) {
        double x = rz_pc_gauss(rng) * scale;
        /* Keep the one nonzero clearly nonzero in every element type. */
        rz_pc_put(dt, buf, rz_pc_below(rng, n),
                  fabs(x) >= scale / 8 ? x : scale);
    }
}

/* Vector @kind of @n elements for trial @trial of a property (@salt tells
 * properties apart) into *@v_p: the same arguments give the same vector and
 * key whatever ran before. */
static void rz_pc_vec_make(const rz_pc_t *pc, const rz_pc_dtype_t *dt,
                           size_t n, unsigned trial, int kind, unsigned salt,
                           rz_pc_vec_t *v_p)
{
    uint64_t h = rz_pc_hash4(pc->seed, n,
                             ((uint64_t)trial << 8) | (unsigned)kind, salt);

    v_p->n = n;
    v_p->kind = kind;
    v_p->trial = trial;
    v_p->rng = h;
    v_p->data = rz_pc_xmalloc(n * dt->size);
    rz_pc_fill(dt, v_p->data, n, kind, &v_p->rng);
    /* Vary every key field: seed, iteration, chunk and rank. */
    v_p->key.seed = rz_pc_hash4(pc->seed, 0x6B6579u, trial, salt);
    v_p->key.iteration = trial * 3u + (n % 7u);
    v_p->key.chunk = (n + salt) % 5u;
    v_p->key.rank = (trial + (unsigned)kind) % 3u;
    snprintf(v_p->where, sizeof(v_p->where), "n=%zu %s vector (trial %u)", n,
             rz_pc_kind_names[kind], trial);
}

static void rz_pc_vec_free(rz_pc_vec_t *v)
{
    free(v->data);
    v->data = NULL;
}

/* Iterate over every size >= 1, trial and kind in @mask. */
#define RZ_PC_FOR_VECTORS(pc, dt, mask, salt, v)                               \
    for (size_t _si = 0; _si < (pc)->nsizes && !RZ_PC_ENOUGH(pc); _si++)       \
        for (unsigned _t = 0; (pc)->sizes[_si] > 0 && _t < (pc)->trials &&     \
                              !RZ_PC_ENOUGH(pc); _t++)                         \
            for (int _k = 0; _k < RZ_PC_KIND_COUNT && !RZ_PC_ENOUGH(pc); _k++) \
                if (((mask) & RZ_PC_KIND_BIT(_k)) &&                           \
                    (rz_pc_vec_make((pc), (dt), (pc)->sizes[_si], _t, _k,      \
                                    (salt), &(v)), 1))

/* ------------------------------------------------------ calling the plugin */

typedef struct {
    unsigned char *p;       /* exact size */
    size_t         size;
} rz_pc_wire_t;

static void rz_pc_wire_free(rz_pc_wire_t *w)
{
    free(w->p);
    w->p = NULL;
    w->size = 0;
}

/* Compress @in into a fresh exact-size wire copy, checking the status,
 * the size bound and the guards. 0 on success, -1 after a failure. */
static int rz_pc_encode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                        const rz_compressor_key_t *key, const void *in,
                        size_t n, const char *where, rz_pc_wire_t *wire_p)
{
    size_t max = pc->ops->max_compressed_size(pc->ctx, dt->id, n);
    size_t size = SIZE_MAX;
    rz_pc_buf_t out;
    rz_status_t st;
    int ok;

    wire_p->p = NULL;
    wire_p->size = 0;
    rz_pc_buf_init(&out, max);
    rz_pc_step(pc, "compress %s", where);
    st = pc->ops->compress(pc->ctx, key, dt->id, in, n, out.p, max, &size,
                           NULL);
    ok = RZ_PC_EXPECT(pc, st == RZ_OK, "%s: compress returned %s", where,
                      rz_pc_status_name(st)) &&
         RZ_PC_EXPECT(pc, size <= max,
                      "%s: compress reported %zu bytes, max_compressed_size "
                      "is %zu", where, size, max) &&
         rz_pc_guards(pc, &out, "compress output", where);
    if (ok) {
        wire_p->p = rz_pc_dup(out.p, size);
        wire_p->size = size;
    }
    rz_pc_buf_free(&out);
    return ok ? 0 : -1;
}

/* y = beta*y + alpha*Dec(wire) into @y (@n elements, caller's), through a
 * guarded buffer. Returns the plugin's status, or RZ_PC_GUARD_FAILED after
 * a guard failure (recorded). */
static rz_status_t rz_pc_decode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                                const rz_compressor_key_t *key,
                                const rz_pc_wire_t *wire, void *y, size_t n,
                                float alpha, float beta, const char *where)
{
    rz_pc_buf_t buf;
    rz_status_t st;

    rz_pc_buf_init(&buf, n * dt->size);
    memcpy(buf.p, y, n * dt->size);
    rz_pc_step(pc, "decompress %s", where);
    st = pc->ops->decompress(pc->ctx, key, dt->id, wire->p, wire->size, buf.p,
                             n, alpha, beta);
    if (!rz_pc_guards(pc, &buf, "decompress output", where)) {
        st = RZ_PC_GUARD_FAILED;
    }
    memcpy(y, buf.p, n * dt->size);
    rz_pc_buf_free(&buf);
    return st;
}

/* C(v) = Dec(Enc(v)) into @dec (caller's, @n elements); the wire bytes go
 * to *@wire_p when it is not NULL. 0 on success, -1 after a failure. */
static int rz_pc_apply(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                       const rz_compressor_key_t *key, const void *in,
                       size_t n, const char *where, void *dec,
                       rz_pc_wire_t *wire_p)
{
    rz_pc_wire_t wire;
    rz_status_t st;

    if (rz_pc_encode(pc, dt, key, in, n, where, &wire) != 0) {
        return -1;
    }
    memset(dec, 0xFF, n * dt->size);
    st = rz_pc_decode(pc, dt, key, &wire, dec, n, 1.0f, 0.0f, where);
    if (st != RZ_PC_GUARD_FAILED &&
        !RZ_PC_EXPECT(pc, st == RZ_OK,
                      "%s: decompress of the plugin's own %zu bytes returned "
                      "%s", where, wire.size, rz_pc_status_name(st))) {
        st = RZ_PC_GUARD_FAILED;
    }
    if (st != RZ_OK || wire_p == NULL) {
        rz_pc_wire_free(&wire);
    } else {
        *wire_p = wire;
    }
    return st == RZ_OK ? 0 : -1;
}

/* Compare @got with @want elementwise (==, so +0 equals -0, NaN nothing).
 * Records one failure naming the first difference; returns 1 if equal. */
static int rz_pc_same(rz_pc_t *pc, const rz_pc_dtype_t *dt, const void *want,
                      const void *got, size_t n, const char *what,
                      const char *where)
{
    size_t bad = 0, first = 0;

    for (size_t i = 0; i < n; i++) {
        if (!(rz_pc_get(dt, want, i) == rz_pc_get(dt, got, i))) {
            if (bad++ == 0) {
                first = i;
            }
        }
    }
    return RZ_PC_EXPECT(pc, bad == 0,
                        "%s: %s: %zu of %zu elements differ, first [%zu]: "
                        "expected %a, got %a", where, what, bad, n, first,
                        rz_pc_get(dt, want, first), rz_pc_get(dt, got, first));
}

/* A context of our own (for the params and determinism rows), with a
 * logger that counts what the plugin says. */
typedef struct {
    rz_pc_t *pc;
    int      errors;
    int      lines;
    char     last[200];
} rz_pc_logbook_t;

static void rz_pc_host_log(const rz_compressor_host_t *host, int level,
                           const char *fmt, ...)
{
    rz_pc_logbook_t *book = host->host_data;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(book->last, sizeof(book->last), fmt, ap);
    va_end(ap);
    book->lines++;
    if (level <= RZ_COMPRESSOR_LOG_ERROR) {
        book->errors++;
    }
    if (book->pc->verbosity > 0) {
        printf("  %-24s plugin log (level %d): %s\n", book->pc->row, level,
               book->last);
    }
}

static void rz_pc_host_init(rz_pc_t *pc, rz_compressor_host_t *host,
                            rz_pc_logbook_t *book)
{
    memset(book, 0, sizeof(*book));
    book->pc = pc;
    host->abi_version = RZ_COMPRESSOR_ABI_VERSION;
    host->struct_size = sizeof(*host);
    host->log = rz_pc_host_log;
    host->host_data = book;
}

/* ------------------------------------------------------------ properties */

/* load: the struct, query and the declared types. */
static void rz_pc_prop_load(rz_pc_t *pc, const rz_pc_dtype_t *unused)
{
    static const char *const builtin[] = {NULL,     "none", "fp16",
                                          "bf16",   "sign", "blocksign",
                                          "topk",   "randk", "qsgd"};
    const rz_compressor_v1_t *ops = pc->ops;
    rz_compressor_info_t info;
    _Alignas(rz_compressor_info_t) unsigned char
        raw[sizeof(rz_compressor_info_t) + RZ_PC_GUARD];
    uint32_t known_caps = (RZ_COMPRESSOR_CAP_LOSSLESS << 1) - 1;
    uint64_t known_dtypes = (1u << RZ_PC_NDTYPES) - 1;
    rz_status_t st;
    int is_builtin = 0;

    (void)unused;
    RZ_PC_EXPECT(pc, ops->abi_version == RZ_COMPRESSOR_ABI_VERSION,
                 "abi_version is %u, expected %u", ops->abi_version,
                 RZ_COMPRESSOR_ABI_VERSION);
    RZ_PC_EXPECT(pc, ops->struct_size >=
                         offsetof(rz_compressor_v1_t, finalize) +
                             sizeof(ops->finalize),
                 "struct_size %u is below ABI v1's mandatory part",
                 ops->struct_size);
    if (ops->struct_size < sizeof(rz_compressor_v1_t)) {
        rz_pc_note(pc, "struct_size %u: built against a header without "
                   "delta_bound", ops->struct_size);
    }
    RZ_PC_EXPECT(pc, ops->name != NULL &&
                         strcmp(ops->name, pc->plugin->name) == 0,
                 "name changed after loading");
    RZ_PC_EXPECT(pc, ops->init && ops->query && ops->max_compressed_size &&
                         ops->compress && ops->decompress && ops->finalize,
                 "a mandatory function pointer is NULL");
    if (ops->description != NULL) {
        RZ_PC_EXPECT(pc, strchr(ops->description, '\n') == NULL,
                     "description is not one line");
    }

    /* Query again: the same answer, and struct_size left alone. */
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    rz_pc_step(pc, "query");
    st = ops->query(pc->ctx, &info);
    if (RZ_PC_EXPECT(pc, st == RZ_OK, "query returned %s",
                     rz_pc_status_name(st))) {
        RZ_PC_EXPECT(pc, info.struct_size == sizeof(info),
                     "query changed struct_size to %u", info.struct_size);
        RZ_PC_EXPECT(pc, info.caps == pc->info.caps &&
                             info.dtypes == pc->info.dtypes &&
                             info.min_count == pc->info.min_count &&
                             info.wire_id == pc->info.wire_id &&
                             info.priority == pc->info.priority,
                     "a second query answered differently");
    }
    /* An older host's shorter struct: nothing past struct_size written. */
    for (uint32_t ss = 4; ss < sizeof(rz_compressor_info_t); ss += 4) {
        size_t i;
        memset(raw, 0xA5, sizeof(raw));
        memcpy(raw, &ss, sizeof(ss));
        rz_pc_step(pc, "query with struct_size %u", ss);
        (void)ops->query(pc->ctx, (rz_compressor_info_t *)(void *)raw);
        for (i = ss; i < sizeof(raw) && raw[i] == 0xA5; i++) {
        }
        RZ_PC_EXPECT(pc, i == sizeof(raw),
                     "query with struct_size %u wrote byte %zu", ss, i);
        RZ_PC_EXPECT(pc, memcmp(raw, &ss, sizeof(ss)) == 0,
                     "query with struct_size %u changed struct_size", ss);
    }

    if (pc->info.caps & ~known_caps) {
        rz_pc_note(pc, "unknown capability bits 0x%x",
                   pc->info.caps & ~known_caps);
    }
    RZ_PC_EXPECT(pc, pc->info.dtypes != 0, "accepts no element type");
    if (pc->info.dtypes & ~known_dtypes) {
        rz_pc_note(pc, "declares element types this checker does not know "
                   "(0x%" PRIx64 "); they are not tested",
                   pc->info.dtypes & ~known_dtypes);
    }
    if (!rz_pc_accepts(pc, RZ_COMPRESSOR_DTYPE_F32)) {
        rz_pc_note(pc, "does not accept f32: every f32 property is skipped");
    }
    for (size_t i = 1; i < sizeof(builtin) / sizeof(*builtin); i++) {
        if (strcmp(ops->name, builtin[i]) == 0) {
            is_builtin = 1;
            RZ_PC_EXPECT(pc, pc->info.wire_id == i,
                         "wire_id %u, but ringzip's %s has wire id %zu",
                         pc->info.wire_id, ops->name, i);
        }
    }
    RZ_PC_EXPECT(pc, pc->info.wire_id != 0, "wire_id is 0");
    if (!is_builtin && pc->info.wire_id != 0 &&
        pc->info.wire_id < RZ_COMPRESSOR_WIRE_ID_USER) {
        rz_pc_note(pc, "wire_id %u is in ringzip's range; third-party "
                   "formats use 0x80000000 and above", pc->info.wire_id);
    }
    if (rz_pc_delta_bound(pc) != NULL &&
        !rz_pc_has(pc, RZ_COMPRESSOR_CAP_CONTRACTIVE)) {
        rz_pc_note(pc, "has delta_bound but does not declare CONTRACTIVE");
    }
    if (rz_pc_has(pc, RZ_COMPRESSOR_CAP_LOSSLESS) &&
        !rz_pc_has(pc, RZ_COMPRESSOR_CAP_FIXED_SIZE)) {
        rz_pc_note(pc, "LOSSLESS without FIXED_SIZE");
    }
}

/* params: defaults, and bad parameter strings refused and logged. */
static void rz_pc_prop_params(rz_pc_t *pc, const rz_pc_dtype_t *unused)
{
    static const char *const good[] = {NULL, ""};
    static const char *const bad[] = {"rz_plugin_check_no_such_key=1",
                                      "rz_plugin_check_no_equals_sign"};
    rz_compressor_host_t host;
    rz_pc_logbook_t book;
    rz_status_t st;

    (void)unused;
    rz_pc_host_init(pc, &host, &book);
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        void *ctx = NULL;
        rz_pc_step(pc, "init(%s%s%s)", good[i] ? "\"" : "",
                   good[i] ? good[i] : "NULL", good[i] ? "\"" : "");
        st = pc->ops->init(&host, good[i], &ctx);
        if (RZ_PC_EXPECT(pc, st == RZ_OK,
                         "init with %s parameters (the defaults) returned %s",
                         good[i] ? "empty" : "NULL", rz_pc_status_name(st))) {
            pc->ops->finalize(ctx);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        void *ctx = NULL;
        int errors = book.errors;
        rz_pc_step(pc, "init(\"%s\")", bad[i]);
        st = pc->ops->init(&host, bad[i], &ctx);
        if (!RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                          "init(\"%s\") returned %s, expected "
                          "RZ_ERR_INVALID_PARAM", bad[i],
                          rz_pc_status_name(st))) {
            if (st == RZ_OK) {
                pc->ops->finalize(ctx);
            }
            continue;
        }
        RZ_PC_EXPECT(pc, book.errors > errors,
                     "init(\"%s\") failed without logging an error through "
                     "host->log", bad[i]);
    }
    /* The parameters under test once more, on our host. */
    {
        void *ctx = NULL;
        rz_pc_step(pc, "init(\"%s\")", pc->params);
        st = pc->ops->init(&host, pc->params, &ctx);
        if (RZ_PC_EXPECT(pc, st == RZ_OK, "a second init(\"%s\") returned %s",
                         pc->params, rz_pc_status_name(st))) {
            pc->ops->finalize(ctx);
        }
    }
}

/* size (C5): n = 0, the bound, FIXED_SIZE, canaries, input untouched. */
static void rz_pc_prop_size(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    rz_compressor_key_t key0 = {pc->seed, 0, 0, 0};
    int fixed = rz_pc_has(pc, RZ_COMPRESSOR_CAP_FIXED_SIZE);
    int det = rz_pc_has(pc, RZ_COMPRESSOR_CAP_DETERMINISTIC);
    size_t size, max;
    rz_status_t st;
    rz_pc_vec_t v;

    /* Empty chunks: nothing at all (note 7). */
    max = pc->ops->max_compressed_size(pc->ctx, dt->id, 0);
    RZ_PC_EXPECT(pc, max == 0, "max_compressed_size(0) is %zu, expected 0",
                 max);
    size = 12345;
    rz_pc_step(pc, "compress n=0 with NULL buffers");
    st = pc->ops->compress(pc->ctx, &key0, dt->id, NULL, 0, NULL, 0, &size,
                           NULL);
    RZ_PC_EXPECT(pc, st == RZ_OK && size == 0,
                 "n=0 with NULL in/out: compress returned %s, size %zu; "
                 "expected RZ_OK, 0 bytes", rz_pc_status_name(st), size);
    {
        rz_pc_buf_t in, out, res;
        rz_pc_buf_init(&in, 0);
        rz_pc_buf_init(&out, 0);
        rz_pc_buf_init(&res, 0);
        size = 12345;
        rz_pc_step(pc, "compress n=0");
        st = pc->ops->compress(pc->ctx, &key0, dt->id, in.p, 0, out.p, 0,
                               &size, res.p);
        RZ_PC_EXPECT(pc, st == RZ_OK && size == 0,
                     "n=0: compress returned %s, size %zu; expected RZ_OK, 0 "
                     "bytes", rz_pc_status_name(st), size);
        rz_pc_guards(pc, &out, "compress output", "n=0");
        rz_pc_guards(pc, &res, "residual", "n=0");
        rz_pc_step(pc, "decompress n=0 size 0 with NULL buffers");
        st = pc->ops->decompress(pc->ctx, &key0, dt->id, NULL, 0, NULL, 0,
                                 1.0f, 0.0f);
        RZ_PC_EXPECT(pc, st == RZ_OK,
                     "n=0, 0 bytes, NULL in/y: decompress returned %s",
                     rz_pc_status_name(st));
        rz_pc_step(pc, "decompress n=0 size 0");
        st = pc->ops->decompress(pc->ctx, &key0, dt->id, in.p, 0, out.p, 0,
                                 2.0f, 1.0f);
        RZ_PC_EXPECT(pc, st == RZ_OK, "n=0, 0 bytes: decompress returned %s",
                     rz_pc_status_name(st));
        rz_pc_guards(pc, &out, "decompress output", "n=0");
        rz_pc_buf_free(&res);
        rz_pc_buf_free(&out);
        rz_pc_buf_free(&in);
    }

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_ALL, 1, v) {
        unsigned char *orig = rz_pc_dup(v.data, v.n * dt->size);
        unsigned char *first = NULL;
        size_t first_size = 0;
        rz_pc_buf_t out, res;

        max = pc->ops->max_compressed_size(pc->ctx, dt->id, v.n);
        RZ_PC_EXPECT(pc, max > 0, "%s: max_compressed_size is 0", v.where);
        RZ_PC_EXPECT(pc, max == pc->ops->max_compressed_size(pc->ctx, dt->id,
                                                              v.n),
                     "%s: max_compressed_size changed between calls", v.where);
        /* capacity = max, then max + RZ_PC_GUARD (the plugin must still
         * write at most max), then with a residual. */
        for (int pass = 0; pass < 3 && !RZ_PC_ENOUGH(pc); pass++) {
            size_t cap = pass == 1 ? max + RZ_PC_GUARD : max;
            rz_pc_buf_init(&out, cap);
            rz_pc_buf_init(&res, pass == 2 ? v.n * dt->size : 0);
            size = SIZE_MAX;
            rz_pc_step(pc, "compress %s, capacity %zu%s", v.where, cap,
                       pass == 2 ? ", residual" : "");
            st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, v.n,
                                   out.p, cap, &size,
                                   pass == 2 ? res.p : NULL);
            if (RZ_PC_EXPECT(pc, st == RZ_OK,
                             "%s: compress (capacity %zu) returned %s",
                             v.where, cap, rz_pc_status_name(st)) &&
                RZ_PC_EXPECT(pc, size <= max,
                             "%s: compress wrote %zu bytes, "
                             "max_compressed_size is %zu", v.where, size,
                             max)) {
                long at = -1;
                if (fixed) {
                    RZ_PC_EXPECT(pc, size == max,
                                 "%s: FIXED_SIZE, but compress wrote %zu "
                                 "bytes, max_compressed_size is %zu",
                                 v.where, size, max);
                }
                if (pass == 1) {
                    size_t i;
                    for (i = max; i < cap && out.p[i] == 0xFF; i++) {
                    }
                    if (i < cap) {
                        at = (long)i;
                    }
                    RZ_PC_EXPECT(pc, at < 0,
                                 "%s: with capacity %zu, compress wrote byte "
                                 "%ld, past max_compressed_size %zu", v.where,
                                 cap, at, max);
                }
                if (first == NULL) {
                    first = rz_pc_dup(out.p, size);
                    first_size = size;
                } else if (det) {
                    RZ_PC_EXPECT(pc, size == first_size &&
                                         memcmp(first, out.p, size) == 0,
                                 "%s: DETERMINISTIC, but the bytes changed "
                                 "with the %s", v.where,
                                 pass == 1 ? "capacity" : "residual");
                }
            }
            rz_pc_guards(pc, &out, "compress output", v.where);
            rz_pc_guards(pc, &res, "residual", v.where);
            RZ_PC_EXPECT(pc, memcmp(orig, v.data, v.n * dt->size) == 0,
                         "%s: compress modified its input", v.where);
            rz_pc_buf_free(&res);
            rz_pc_buf_free(&out);
        }
        free(first);
        free(orig);
        rz_pc_vec_free(&v);
    }
}

/* residual (C6): r == in - Dec(out), out of place and in place. */
static void rz_pc_prop_residual(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    int det = rz_pc_has(pc, RZ_COMPRESSOR_CAP_DETERMINISTIC);
    size_t es = dt->size;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_FINITE, 2, v) {
        size_t n = v.n, max, size = 0, size2 = 0;
        rz_pc_buf_t out, res, out2, inplace;
        unsigned char *dec = rz_pc_xmalloc(n * es);
        unsigned char *want = rz_pc_xmalloc(n * es);
        rz_pc_wire_t wire = {NULL, 0};
        rz_status_t st;

        max = pc->ops->max_compressed_size(pc->ctx, dt->id, n);
        rz_pc_buf_init(&out, max);
        rz_pc_buf_init(&res, n * es);
        rz_pc_buf_init(&out2, max);
        rz_pc_buf_init(&inplace, n * es);

        rz_pc_step(pc, "compress %s with a residual", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, n, out.p, max,
                               &size, res.p);
        if (!RZ_PC_EXPECT(pc, st == RZ_OK && size <= max,
                          "%s: compress returned %s, %zu bytes (max %zu)",
                          v.where, rz_pc_status_name(st), size, max) ||
            !rz_pc_guards(pc, &out, "compress output", v.where) ||
            !rz_pc_guards(pc, &res, "residual", v.where)) {
            goto next;
        }
        wire.p = rz_pc_dup(out.p, size);
        wire.size = size;
        memset(dec, 0xFF, n * es);
        st = rz_pc_decode(pc, dt, &v.key, &wire, dec, n, 1.0f, 0.0f, v.where);
        if (st == RZ_PC_GUARD_FAILED ||
            !RZ_PC_EXPECT(pc, st == RZ_OK,
                          "%s: decompress of the plugin's own bytes returned "
                          "%s", v.where, rz_pc_status_name(st))) {
            goto next;
        }
        /* Finite input, finite output: NaN never arises from finite data. */
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(rz_pc_get(dt, dec, i))) {
                rz_pc_fail(pc, "%s: decoded [%zu] is %a for the finite input "
                           "%a", v.where, i, rz_pc_get(dt, dec, i),
                           rz_pc_get(dt, v.data, i));
                goto next;
            }
        }
        for (size_t i = 0; i < n; i++) {
            rz_pc_put(dt, want, i,
                      rz_pc_sub(dt, rz_pc_get(dt, v.data, i),
                                rz_pc_get(dt, dec, i)));
        }
        rz_pc_same(pc, dt, want, res.p, n, "residual != in - Dec(out)",
                   v.where);

        /* In place: residual == in. */
        memcpy(inplace.p, v.data, n * es);
        rz_pc_step(pc, "compress %s in place", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, inplace.p, n, out2.p,
                               max, &size2, inplace.p);
        if (!RZ_PC_EXPECT(pc, st == RZ_OK && size2 <= max,
                          "%s: in-place compress returned %s, %zu bytes",
                          v.where, rz_pc_status_name(st), size2) ||
            !rz_pc_guards(pc, &out2, "compress output (in place)", v.where) ||
            !rz_pc_guards(pc, &inplace, "in/residual (in place)", v.where)) {
            goto next;
        }
        if (det) {
            if (RZ_PC_EXPECT(pc, size2 == size &&
                                     memcmp(out.p, out2.p, size) == 0,
                             "%s: in-place compress wrote other bytes than "
                             "out-of-place", v.where)) {
                RZ_PC_EXPECT(pc, memcmp(inplace.p, res.p, n * es) == 0,
                             "%s: the in-place residual differs from the "
                             "out-of-place one", v.where);
            }
        } else {
            rz_pc_wire_free(&wire);
            wire.p = rz_pc_dup(out2.p, size2);
            wire.size = size2;
            memset(dec, 0xFF, n * es);
            st = rz_pc_decode(pc, dt, &v.key, &wire, dec, n, 1.0f, 0.0f,
                              v.where);
            if (st == RZ_OK) {
                for (size_t i = 0; i < n; i++) {
                    rz_pc_put(dt, want, i,
                              rz_pc_sub(dt, rz_pc_get(dt, v.data, i),
                                        rz_pc_get(dt, dec, i)));
                }
                rz_pc_same(pc, dt, want, inplace.p, n,
                           "in-place residual != in - Dec(out)", v.where);
            }
        }
        /* Without a residual: the same bytes. */
        if (det) {
            size2 = 0;
            rz_pc_step(pc, "compress %s without a residual", v.where);
            st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, n, out2.p,
                                   max, &size2, NULL);
            RZ_PC_EXPECT(pc, st == RZ_OK && size2 == size &&
                                 memcmp(out.p, out2.p, size) == 0,
                         "%s: compress without a residual wrote other bytes",
                         v.where);
        }
    next:
        rz_pc_wire_free(&wire);
        rz_pc_buf_free(&inplace);
        rz_pc_buf_free(&out2);
        rz_pc_buf_free(&res);
        rz_pc_buf_free(&out);
        free(want);
        free(dec);
        rz_pc_vec_free(&v);
    }
}

/* accumulate: y = fl(fl(beta*y) + fl(alpha*d)); beta == 0 never reads y. */
static void rz_pc_prop_accumulate(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    size_t es = dt->size;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_FINITE, 3, v) {
        size_t n = v.n;
        unsigned char *dec = rz_pc_xmalloc(n * es);
        unsigned char *y0 = rz_pc_xmalloc(n * es);
        unsigned char *y = rz_pc_xmalloc(n * es);
        unsigned char *want = rz_pc_xmalloc(n * es);
        rz_pc_wire_t wire;
        const struct {
            float alpha, beta;
        } cases[] = {
            {1.0f, 1.0f},
            {(float)(4 * rz_pc_uniform(&v.rng) - 2),
             (float)(4 * rz_pc_uniform(&v.rng) - 2)},
            {-0.5f, 2.0f},
            {1.0f, -1.0f},
            {0.0f, 1.0f},
            {0x1p-130f, 1.0f},      /* subnormal products: no flush to zero */
            {1.0f, 0.0f},
            {(float)(4 * rz_pc_uniform(&v.rng) - 2), 0.0f},
            {3.0f, -0.0f},          /* -0 == 0: y is not read either */
        };

        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, dec, &wire) != 0) {
            goto next;
        }
        for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
            float alpha = cases[c].alpha, beta = cases[c].beta;
            char where[256];
            rz_status_t st;

            snprintf(where, sizeof(where), "%s, alpha %a, beta %a%s", v.where,
                     (double)alpha, (double)beta,
                     beta == 0.0f ? ", y = NaN" : "");
            if (beta == 0.0f) {
                memset(y0, 0xFF, n * es);     /* NaN: must not be read */
            } else {
                rz_pc_fill(dt, y0, n, RZ_PC_KIND_ZEROS, &v.rng);
            }
            memcpy(y, y0, n * es);
            st = rz_pc_decode(pc, dt, &v.key, &wire, y, n, alpha, beta, where);
            if (st == RZ_PC_GUARD_FAILED ||
                !RZ_PC_EXPECT(pc, st == RZ_OK, "%s: decompress returned %s",
                              where, rz_pc_status_name(st))) {
                break;
            }
            for (size_t i = 0; i < n; i++) {
                rz_pc_put(dt, want, i,
                          rz_pc_axpby(dt, rz_pc_get(dt, y0, i),
                                      rz_pc_get(dt, dec, i), alpha, beta));
            }
            if (!rz_pc_same(pc, dt, want, y, n, "y != beta*y + alpha*Dec",
                            where)) {
                break;
            }
        }
        rz_pc_wire_free(&wire);
    next:
        free(want);
        free(y);
        free(y0);
        free(dec);
        rz_pc_vec_free(&v);
    }
}

/* round-trip (LOSSLESS): Dec(Enc(v)) == v and a zero residual. */
static void rz_pc_prop_roundtrip(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    size_t es = dt->size;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_ALL, 4, v) {
        size_t n = v.n, max = pc->ops->max_compressed_size(pc->ctx, dt->id, n);
        size_t size = 0;
        unsigned char *dec = rz_pc_xmalloc(n * es);
        unsigned char *zero = rz_pc_xmalloc(n * es);
        rz_pc_buf_t out, res;
        rz_status_t st;

        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, dec, NULL) == 0) {
            rz_pc_same(pc, dt, v.data, dec, n, "Dec(Enc(v)) != v", v.where);
        }
        rz_pc_buf_init(&out, max);
        rz_pc_buf_init(&res, n * es);
        rz_pc_step(pc, "compress %s with a residual", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, n, out.p, max,
                               &size, res.p);
        if (RZ_PC_EXPECT(pc, st == RZ_OK, "%s: compress returned %s", v.where,
                         rz_pc_status_name(st))) {
            memset(zero, 0, n * es);
            rz_pc_same(pc, dt, zero, res.p, n, "residual of a LOSSLESS codec "
                       "is not zero", v.where);
        }
        rz_pc_buf_free(&res);
        rz_pc_buf_free(&out);
        free(zero);
        free(dec);
        rz_pc_vec_free(&v);
    }
}

/* determinism: decoding always; encoding when DETERMINISTIC. */
static void rz_pc_prop_determinism(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    int det = rz_pc_has(pc, RZ_COMPRESSOR_CAP_DETERMINISTIC);
    size_t es = dt->size;
    rz_compressor_host_t host;
    rz_pc_logbook_t book;
    void *ctx2 = NULL;
    rz_status_t st;
    rz_pc_vec_t v;

    if (det) {
        rz_pc_host_init(pc, &host, &book);
        rz_pc_step(pc, "init(\"%s\") for a second context", pc->params);
        st = pc->ops->init(&host, pc->params, &ctx2);
        if (!RZ_PC_EXPECT(pc, st == RZ_OK, "a second init(\"%s\") returned %s",
                          pc->params, rz_pc_status_name(st))) {
            ctx2 = NULL;
        }
    }
    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_ALL, 5, v) {
        size_t n = v.n;
        unsigned char *d1 = rz_pc_xmalloc(n * es);
        unsigned char *d2 = rz_pc_xmalloc(n * es);
        rz_pc_wire_t w1 = {NULL, 0}, w2 = {NULL, 0}, w3 = {NULL, 0};
        rz_pc_vec_t other;

        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, d1, &w1) != 0) {
            goto next;
        }
        memset(d2, 0xFF, n * es);
        if (rz_pc_decode(pc, dt, &v.key, &w1, d2, n, 1.0f, 0.0f, v.where) ==
            RZ_OK) {
            RZ_PC_EXPECT(pc, memcmp(d1, d2, n * es) == 0,
                         "%s: decoding the same bytes twice gave different "
                         "values", v.where);
        }
        if (!det) {
            goto next;
        }
        /* Twice in a row, then with another vector and key in between: no
         * state carried from call to call. */
        if (rz_pc_encode(pc, dt, &v.key, v.data, n, v.where, &w2) == 0) {
            RZ_PC_EXPECT(pc, w1.size == w2.size &&
                                 memcmp(w1.p, w2.p, w1.size) == 0,
                         "%s: the same input and key gave different bytes",
                         v.where);
        }
        rz_pc_wire_free(&w2);
        rz_pc_vec_make(pc, dt, n, v.trial + 1000,
                       (v.kind + 1) % RZ_PC_KIND_COUNT, 5, &other);
        if (rz_pc_encode(pc, dt, &other.key, other.data, n, other.where,
                         &w3) == 0 &&
            rz_pc_encode(pc, dt, &v.key, v.data, n, v.where, &w2) == 0) {
            RZ_PC_EXPECT(pc, w1.size == w2.size &&
                                 memcmp(w1.p, w2.p, w1.size) == 0,
                         "%s: the same input and key gave different bytes "
                         "after another call", v.where);
        }
        rz_pc_vec_free(&other);
        rz_pc_wire_free(&w2);
        if (ctx2 != NULL) {
            void *ctx = pc->ctx;
            pc->ctx = ctx2;
            if (rz_pc_encode(pc, dt, &v.key, v.data, n, v.where, &w2) == 0) {
                RZ_PC_EXPECT(pc, w1.size == w2.size &&
                                     memcmp(w1.p, w2.p, w1.size) == 0,
                             "%s: a second context with the same parameters "
                             "gave different bytes", v.where);
            }
            pc->ctx = ctx;
        }
    next:
        rz_pc_wire_free(&w3);
        rz_pc_wire_free(&w2);
        rz_pc_wire_free(&w1);
        free(d2);
        free(d1);
        rz_pc_vec_free(&v);
    }
    if (ctx2 != NULL) {
        pc->ops->finalize(ctx2);
    }
}

/* Sum of squares in long double: far below the 1e-12 slack. */
static long double rz_pc_norm2(const rz_pc_dtype_t *dt, const void *a,
                               const void *b, size_t n)
{
    long double s = 0;

    for (size_t i = 0; i < n; i++) {
        long double d = (long double)rz_pc_get(dt, a, i) -
                        (b != NULL ? (long double)rz_pc_get(dt, b, i) : 0);
        s += d * d;
    }
    return s;
}

/* contraction (C2): ||v - C(v)||^2 <= (1 - delta) ||v||^2. */
static void rz_pc_prop_contraction(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    rz_pc_delta_func_t delta_bound = rz_pc_delta_bound(pc);
    double worst = -1, worst_bound = 1;
    size_t worst_n = 0;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_NORMAL, 6, v) {
        size_t n = v.n;
        unsigned char *dec = rz_pc_xmalloc(n * dt->size);
        double delta = 0;
        long double err, nv, bound;

        if (delta_bound != NULL) {
            rz_status_t st;
            rz_pc_step(pc, "delta_bound n=%zu", n);
            st = delta_bound(pc->ctx, dt->id, n, &delta);
            if (!RZ_PC_EXPECT(pc, st == RZ_OK && delta > 0 && delta <= 1,
                              "n=%zu: delta_bound returned %s, delta %g; "
                              "expected RZ_OK and 0 < delta <= 1", n,
                              rz_pc_status_name(st), delta)) {
                delta = 0;
            }
        }
        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, dec, NULL) == 0) {
            err = rz_pc_norm2(dt, v.data, dec, n);
            nv = rz_pc_norm2(dt, v.data, NULL, n);
            /* Without delta_bound, "some delta > 0" is checked as <=:
             * strict < cannot be told from rounding. */
            bound = (1.0L - delta) * nv * (1.0L + RZ_PC_CONTRACT_SLACK) +
                    (long double)n * 0x1p-400L;
            RZ_PC_EXPECT(pc, err <= bound,
                         "%s: ||v - C(v)||^2 = %.17Lg > (1 - delta) ||v||^2 = "
                         "%.17Lg (delta %.17g%s)", v.where, err,
                         (1.0L - delta) * nv, delta,
                         delta_bound != NULL ? " from delta_bound"
                                             : ", no delta_bound");
            if (nv > 0 && (double)(err / nv) > worst) {
                worst = (double)(err / nv);
                worst_bound = 1.0 - delta;
                worst_n = n;
            }
        }
        free(dec);
        rz_pc_vec_free(&v);
    }
    if (worst >= 0) {
        rz_pc_summary(pc, "worst ||v-C(v)||^2/||v||^2 = %.6g (n=%zu, bound "
                      "%.6g)%s", worst, worst_n, worst_bound,
                      delta_bound == NULL ? ", no delta_bound" : "");
    }
}

/* idempotence (C3): C(C(v)) == C(v) with the same key. */
static void rz_pc_prop_idempotence(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_FINITE, 7, v) {
        size_t n = v.n;
        unsigned char *d1 = rz_pc_xmalloc(n * dt->size);
        unsigned char *d2 = rz_pc_xmalloc(n * dt->size);

        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, d1, NULL) == 0 &&
            rz_pc_apply(pc, dt, &v.key, d1, n, v.where, d2, NULL) == 0) {
            rz_pc_same(pc, dt, d1, d2, n, "C(C(v)) != C(v)", v.where);
        }
        free(d2);
        free(d1);
        rz_pc_vec_free(&v);
    }
}

/* 1 when x*s stays normal or zero and finite. */
static int rz_pc_scalable(const rz_pc_dtype_t *dt, double x, double s)
{
    double a = fabs(x) * s;

    return x == 0.0 || (a >= dt->min_normal && a <= dt->max &&
                        fabs(x) >= dt->min_normal);
}

/* homogeneity (C4): C(2v) == 2 C(v) and C(v/4) == C(v)/4. */
static void rz_pc_prop_homogeneity(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    static const double scales[] = {2.0, 0.25};
    unsigned long long skipped = 0;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_NORMAL, 8, v) {
        size_t n = v.n, es = dt->size;
        unsigned char *c = rz_pc_xmalloc(n * es);
        unsigned char *sv = rz_pc_xmalloc(n * es);
        unsigned char *cs = rz_pc_xmalloc(n * es);
        unsigned char *want = rz_pc_xmalloc(n * es);

        if (rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, c, NULL) != 0) {
            goto next;
        }
        for (size_t s = 0; s < sizeof(scales) / sizeof(*scales); s++) {
            char where[256];
            int ok = 1;

            for (size_t i = 0; ok && i < n; i++) {
                ok = rz_pc_scalable(dt, rz_pc_get(dt, v.data, i), scales[s]) &&
                     rz_pc_scalable(dt, rz_pc_get(dt, c, i), scales[s]);
            }
            if (!ok) {
                skipped++;      /* would leave the normal range */
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                rz_pc_put(dt, sv, i, rz_pc_get(dt, v.data, i) * scales[s]);
                rz_pc_put(dt, want, i, rz_pc_get(dt, c, i) * scales[s]);
            }
            snprintf(where, sizeof(where), "%s, scale %g", v.where, scales[s]);
            if (rz_pc_apply(pc, dt, &v.key, sv, n, where, cs, NULL) == 0) {
                rz_pc_same(pc, dt, want, cs, n, "C(s v) != s C(v)", where);
            }
        }
    next:
        free(want);
        free(cs);
        free(sv);
        free(c);
        rz_pc_vec_free(&v);
    }
    if (skipped > 0) {
        rz_pc_summary(pc, "%llu scalings skipped (would leave the normal "
                      "range)", skipped);
    }
}

/* linearity: C(a) + C(b) == C(a + b) with the same key. */
static void rz_pc_prop_linearity(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    rz_pc_vec_t a;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KINDS_FINITE, 9, a) {
        size_t n = a.n, es = dt->size;
        unsigned char *b = rz_pc_xmalloc(n * es);
        unsigned char *sum = rz_pc_xmalloc(n * es);
        unsigned char *da = rz_pc_xmalloc(n * es);
        unsigned char *db = rz_pc_xmalloc(n * es);
        unsigned char *ds = rz_pc_xmalloc(n * es);
        unsigned char *want = rz_pc_xmalloc(n * es);
        int kind_b = a.kind == RZ_PC_KIND_TINY ? RZ_PC_KIND_TINY
                                               : RZ_PC_KIND_GAUSS;

        rz_pc_fill(dt, b, n, kind_b, &a.rng);
        for (size_t i = 0; i < n; i++) {
            rz_pc_put(dt, sum, i,
                      rz_pc_add(dt, rz_pc_get(dt, a.data, i),
                                rz_pc_get(dt, b, i)));
        }
        if (rz_pc_apply(pc, dt, &a.key, a.data, n, a.where, da, NULL) == 0 &&
            rz_pc_apply(pc, dt, &a.key, b, n, a.where, db, NULL) == 0 &&
            rz_pc_apply(pc, dt, &a.key, sum, n, a.where, ds, NULL) == 0) {
            for (size_t i = 0; i < n; i++) {
                rz_pc_put(dt, want, i,
                          rz_pc_add(dt, rz_pc_get(dt, da, i),
                                    rz_pc_get(dt, db, i)));
            }
            rz_pc_same(pc, dt, want, ds, n, "C(a) + C(b) != C(a + b)",
                       a.where);
        }
        free(want);
        free(ds);
        free(db);
        free(da);
        free(sum);
        free(b);
        rz_pc_vec_free(&a);
    }
}

/*
 * unbiased: the mean m of C(v) over RZ_PC_UNBIASED_KEYS keys (iterations
 * 0, 1, ...) against v. With s2_i the sample variance of element i,
 * R = K ||m - v||^2 / sum_i s2_i is a chi-square over its effective degrees
 * of freedom d = (sum s2_i)^2 / sum s2_i^2 divided by d when E[C(v)] = v
 * (mean 1, spread sqrt(2/d)); a bias b adds about K ||b||^2 / sum s2_i.
 * The bound 1 + 8 sqrt(3/d) + 16/d is about 31 for d = 1 (one element
 * carries the variance) and 1.25 for d = 3000. Calibrated on qsgd (four
 * parameter sets) and a coin-flip codec, 3148 vectors: largest R 9.4 at
 * d = 1, 1.07 at d = 2700; then no failure in 486 more runs (9720
 * vectors, other seeds). A relative 1e-12 of ||v||^2 covers rounding when
 * the codec draws no noise. "wide" vectors are left out: an element whose rare jump
 * carries most of the variance is unlikely to jump in 500 draws, and then
 * the sample variance misses it.
 */
static double rz_pc_unbiased_bound(double d)
{
    return 1.0 + 8.0 * sqrt(3.0 / d) + 16.0 / d;
}

static void rz_pc_prop_unbiased(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    const int kinds[] = {RZ_PC_KIND_GAUSS, RZ_PC_KIND_TIES, RZ_PC_KIND_ZEROS,
                         RZ_PC_KIND_SPARSE1};
    const size_t nkinds = sizeof(kinds) / sizeof(*kinds);
    const int keys = RZ_PC_UNBIASED_KEYS;
    double worst = 0, worst_r = 0, worst_bound = 0, worst_m = 0;
    size_t tested = 0, noiseless = 0;

    for (size_t si = 0; si < pc->nsizes && !RZ_PC_ENOUGH(pc); si++) {
        size_t n = pc->sizes[si];
        if (n == 0 || n > RZ_PC_UNBIASED_MAX_N) {
            continue;
        }
        for (unsigned t = 0; t < pc->trials && !RZ_PC_ENOUGH(pc); t++) {
            int kind = kinds[(si + t) % nkinds];
            double *mean = calloc(n, sizeof(double));
            double *m2 = calloc(n, sizeof(double));
            unsigned char *dec = rz_pc_xmalloc(n * dt->size);
            long double dev = 0, var = 0, var2 = 0, nv;
            double maxdev = 0, r = 0, d = 1, bound, m;
            rz_pc_vec_t v;
            int k, ok = 1;

            if (mean == NULL || m2 == NULL) {
                fprintf(stderr, "%s: out of memory\n", rz_pc_prog);
                exit(RZ_PC_EXIT_USAGE);
            }
            rz_pc_vec_make(pc, dt, n, t, kind, 10, &v);
            for (k = 0; ok && k < keys; k++) {
                v.key.iteration = (uint64_t)k;
                ok = rz_pc_apply(pc, dt, &v.key, v.data, n, v.where, dec,
                                 NULL) == 0;
                /* Welford: a stable variance in one pass. */
                for (size_t i = 0; ok && i < n; i++) {
                    double x = rz_pc_get(dt, dec, i), dx = x - mean[i];
                    mean[i] += dx / (k + 1);
                    m2[i] += dx * (x - mean[i]);
                }
            }
            if (ok) {
                for (size_t i = 0; i < n; i++) {
                    double dv = mean[i] - rz_pc_get(dt, v.data, i);
                    long double s2 = m2[i] / (keys - 1);
                    dev += (long double)dv * dv;
                    var += s2;
                    var2 += s2 * s2;
                    maxdev = fmax(maxdev, fabs(dv));
                }
                nv = rz_pc_norm2(dt, v.data, NULL, n);
                if (var > 0) {
                    r = (double)(keys * dev / var);
                    d = (double)(var * var / var2);
                }
                bound = rz_pc_unbiased_bound(d);
                m = nv > 0 ? maxdev / sqrt((double)(nv / n)) : 0.0;
                RZ_PC_EXPECT(pc, keys * dev <= (long double)bound * var +
                                                   1e-12L * keys * nv,
                             "%s: the mean of C(v) over %d keys is off: "
                             "R = K||m-v||^2/sum var = %.4g > %.4g (d = "
                             "%.1f), max|m-v|/(||v||/sqrt n) = %.3g", v.where,
                             keys, var > 0 ? r : INFINITY, bound, d, m);
                if (pc->verbosity > 0) {
                    printf("  %-24s info %s: R = %.4g (bound %.4g, d = %.1f), "
                           "max|m-v|/(||v||/sqrt n) = %.3g\n", pc->row,
                           v.where, r, bound, d, m);
                }
                if (var > 0 && (r - 1) / (bound - 1) > worst) {
                    worst = (r - 1) / (bound - 1);
                    worst_r = r;
                    worst_bound = bound;
                }
                worst_m = fmax(worst_m, m);
                noiseless += var == 0;
                tested++;
            }
            rz_pc_vec_free(&v);
            free(dec);
            free(m2);
            free(mean);
        }
    }
    if (tested == 0 && pc->res->failures == 0) {
        pc->res->state = RZ_PC_SKIP;
        snprintf(pc->res->detail, sizeof(pc->res->detail),
                 "no count between 1 and %d", RZ_PC_UNBIASED_MAX_N);
        return;
    }
    rz_pc_summary(pc, "closest R = %.4g of bound %.4g; max |m-v|/(||v||/sqrt "
                  "n) = %.3g; %zu vectors x %d keys, %zu without noise",
                  worst_r, worst_bound, worst_m, tested, keys, noiseless);
}

/* Decode @size bytes (exact-size copy of @src, padded with random bytes
 * when @size exceeds @src_size) into a guarded y of @count elements.
 * Returns the status, or RZ_PC_GUARD_FAILED after a guard failure. */
static rz_status_t rz_pc_decode_bytes(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                                      const rz_compressor_key_t *key,
                                      const unsigned char *src,
                                      size_t src_size, size_t size,
                                      size_t count, float beta,
                                      uint64_t *rng, const char *where)
{
    unsigned char *in = rz_pc_xmalloc(size);
    rz_pc_buf_t y;
    rz_status_t st;

    for (size_t i = 0; i < size; i++) {
        in[i] = i < src_size ? src[i] : (unsigned char)rz_pc_next(rng);
    }
    rz_pc_buf_init(&y, count * dt->size);
    if (beta != 0.0f) {
        rz_pc_fill(dt, y.p, count, RZ_PC_KIND_GAUSS, rng);
    }
    st = pc->ops->decompress(pc->ctx, key, dt->id, in, size, y.p, count, 1.0f,
                             beta);
    if (!rz_pc_guards(pc, &y, "decompress output", where)) {
        st = RZ_PC_GUARD_FAILED;
    }
    rz_pc_buf_free(&y);
    free(in);
    return st;
}

/* Overwrite a few bytes of @w: bit flips, random bytes, and 32-bit words
 * that are likely counts or indices (0, n, n + 1, ~0, ...). */
static void rz_pc_mutate(unsigned char *w, size_t size, size_t n,
                         uint64_t *rng)
{
    const uint32_t words[] = {0,          1,          (uint32_t)n - 1,
                              (uint32_t)n, (uint32_t)n + 1,
                              (uint32_t)size, 0x7FFFFFFFu, 0x80000000u,
                              0xFFFFFFFFu, 0x7F800000u, 0x7FC00000u,
                              (uint32_t)rz_pc_next(rng)};
    size_t edits = 1 + rz_pc_below(rng, 4);

    for (size_t e = 0; e < edits && size > 0; e++) {
        size_t at = rz_pc_below(rng, size);
        switch (rz_pc_below(rng, 3)) {
        case 0:
            w[at] ^= (unsigned char)(1u << rz_pc_below(rng, 8));
            break;
        case 1:
            w[at] = (unsigned char)rz_pc_next(rng);
            break;
        default: {
            uint32_t x =
                words[rz_pc_below(rng, sizeof(words) / sizeof(*words))];
            /* Mostly on 4-byte boundaries, where the fields are. */
            if (rz_pc_below(rng, 4) != 0) {
                at &= ~(size_t)3;
            }
            for (size_t b = 0; b < 4 && at + b < size; b++) {
                w[at + b] = (unsigned char)(x >> (8 * b));
            }
            break;
        }
        }
    }
}

/* malformed: wrong sizes and counts refused; junk never crashes. */
static void rz_pc_prop_malformed(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    int fixed = rz_pc_has(pc, RZ_COMPRESSOR_CAP_FIXED_SIZE);
    unsigned long long ok_junk = 0;
    rz_pc_vec_t v;

    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KIND_BIT(RZ_PC_KIND_GAUSS) |
                                  RZ_PC_KIND_BIT(RZ_PC_KIND_ZEROS), 11, v) {
        size_t n = v.n, S, fuzz;
        rz_pc_wire_t wire;
        char where[256];
        rz_status_t st;

        if (rz_pc_encode(pc, dt, &v.key, v.data, n, v.where, &wire) != 0) {
            rz_pc_vec_free(&v);
            continue;
        }
        S = wire.size;
        snprintf(where, sizeof(where), "%s, its own %zu bytes", v.where, S);
        rz_pc_step(pc, "decompress %s", where);
        st = rz_pc_decode_bytes(pc, dt, &v.key, wire.p, S, S, n, 0.0f, &v.rng,
                                where);
        RZ_PC_EXPECT(pc, st == RZ_OK || st == RZ_PC_GUARD_FAILED,
                     "%s: decompress returned %s", where,
                     rz_pc_status_name(st));

        /* Truncated and oversized. */
        {
            const size_t sizes[] = {S - 1, S / 2, 0, S + 1, S + 64};
            for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
                size_t s = sizes[i];
                if (s == S || (S == 0 && i < 3)) {
                    continue;
                }
                snprintf(where, sizeof(where), "%s, %zu of its %zu bytes%s",
                         v.where, s, S, s > S ? " (random tail)" : "");
                rz_pc_step(pc, "decompress %s", where);
                st = rz_pc_decode_bytes(pc, dt, &v.key, wire.p, S, s, n,
                                        i % 2 ? 1.0f : 0.0f, &v.rng, where);
                if (st == RZ_PC_GUARD_FAILED) {
                    continue;
                }
                if (fixed) {
                    RZ_PC_EXPECT(pc, st != RZ_OK,
                                 "%s: FIXED_SIZE, but decompress accepted "
                                 "the wrong size (expected RZ_ERR_MALFORMED)",
                                 where);
                }
                if (st != RZ_OK && st != RZ_ERR_MALFORMED) {
                    rz_pc_note(pc, "%s: decompress returned %s, "
                               "RZ_ERR_MALFORMED expected", where,
                               rz_pc_status_name(st));
                }
            }
        }
        /* The right bytes for another count. */
        {
            const size_t counts[] = {n - 1, n + 1, 2 * n + 3};
            for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++) {
                size_t c = counts[i];
                if (c == 0) {
                    continue;
                }
                snprintf(where, sizeof(where), "%s, decoded as %zu elements",
                         v.where, c);
                rz_pc_step(pc, "decompress %s", where);
                st = rz_pc_decode_bytes(pc, dt, &v.key, wire.p, S, S, c, 0.0f,
                                        &v.rng, where);
                if (st != RZ_PC_GUARD_FAILED && fixed &&
                    pc->ops->max_compressed_size(pc->ctx, dt->id, c) != S) {
                    RZ_PC_EXPECT(pc, st != RZ_OK,
                                 "%s: FIXED_SIZE, but %zu bytes were "
                                 "accepted for %zu elements (%zu expected)",
                                 where, S, c,
                                 pc->ops->max_compressed_size(pc->ctx, dt->id,
                                                              c));
                }
            }
        }
        /* Bytes for an empty chunk. */
        snprintf(where, sizeof(where), "%s, %zu bytes decoded as 0 elements",
                 v.where, S);
        rz_pc_step(pc, "decompress %s", where);
        st = rz_pc_decode_bytes(pc, dt, &v.key, wire.p, S, S, 0, 0.0f, &v.rng,
                                where);
        if (S > 0 && st != RZ_PC_GUARD_FAILED) {
            RZ_PC_EXPECT(pc, st != RZ_OK,
                         "%s: decompress returned RZ_OK for count 0 with "
                         "size %zu", where, S);
        }

        /* Junk: random bytes of random sizes (half of them the right size,
         * to get past the size check), then mutations of the real bytes. */
        fuzz = n <= RZ_PC_FUZZ_SMALL_N ? RZ_PC_FUZZ_SMALL : RZ_PC_FUZZ_LARGE;
        for (size_t f = 0; f < 2 * fuzz && !RZ_PC_ENOUGH(pc); f++) {
            size_t s = f >= fuzz || f % 2 ? S
                                          : rz_pc_below(&v.rng, 2 * S + 2);
            float beta = f % 4 < 2 ? 0.0f : 1.0f;
            unsigned char *junk = rz_pc_xmalloc(s);

            if (f < fuzz) {
                for (size_t i = 0; i < s; i++) {
                    junk[i] = (unsigned char)rz_pc_next(&v.rng);
                }
                snprintf(where, sizeof(where), "%s, %zu random bytes (#%zu)",
                         v.where, s, f);
            } else {
                memcpy(junk, wire.p, S);
                rz_pc_mutate(junk, S, n, &v.rng);
                snprintf(where, sizeof(where), "%s, mutated bytes (#%zu)",
                         v.where, f - fuzz);
            }
            rz_pc_step(pc, "decompress %s", where);
            st = rz_pc_decode_bytes(pc, dt, &v.key, junk, s, s, n, beta,
                                    &v.rng, where);
            pc->res->checks++;
            ok_junk += st == RZ_OK;
            free(junk);
        }
        rz_pc_wire_free(&wire);
        rz_pc_vec_free(&v);
    }
    if (pc->res->notes == 0) {
        rz_pc_summary(pc, "%llu junk inputs decoded with RZ_OK", ok_junk);
    }
}

/* errors: NULL arguments, small capacity, undeclared element types. */
static void rz_pc_prop_errors(rz_pc_t *pc, const rz_pc_dtype_t *dt)
{
    int fixed = rz_pc_has(pc, RZ_COMPRESSOR_CAP_FIXED_SIZE);
    size_t es = dt->size;
    int first_dtype = 1;
    rz_pc_vec_t v;

    for (size_t i = 0; i < RZ_PC_NDTYPES && rz_pc_dtypes[i].id != dt->id; i++) {
        first_dtype &= !rz_pc_accepts(pc, rz_pc_dtypes[i].id);
    }
    RZ_PC_FOR_VECTORS(pc, dt, RZ_PC_KIND_BIT(RZ_PC_KIND_GAUSS), 12, v) {
        size_t n = v.n, max = pc->ops->max_compressed_size(pc->ctx, dt->id, n);
        size_t size = 0;
        rz_pc_wire_t wire;
        rz_pc_buf_t out, y;
        char where[256];
        rz_status_t st;

        rz_pc_buf_init(&out, max);
        rz_pc_buf_init(&y, n * es);
        rz_pc_step(pc, "compress %s, in NULL", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, NULL, n, out.p, max,
                               &size, NULL);
        RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                     "%s, in NULL: compress returned %s, expected "
                     "RZ_ERR_INVALID_PARAM", v.where, rz_pc_status_name(st));
        rz_pc_step(pc, "compress %s, out NULL", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, n, NULL, max,
                               &size, NULL);
        RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                     "%s, out NULL: compress returned %s, expected "
                     "RZ_ERR_INVALID_PARAM", v.where, rz_pc_status_name(st));
        rz_pc_step(pc, "compress %s, size_p NULL", v.where);
        st = pc->ops->compress(pc->ctx, &v.key, dt->id, v.data, n, out.p, max,
                               NULL, NULL);
        RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                     "%s, size_p NULL: compress returned %s, expected "
                     "RZ_ERR_INVALID_PARAM", v.where, rz_pc_status_name(st));
        rz_pc_guards(pc, &out, "compress output", v.where);

        if (rz_pc_encode(pc, dt, &v.key, v.data, n, v.where, &wire) == 0) {
            rz_pc_step(pc, "decompress %s, in NULL", v.where);
            st = pc->ops->decompress(pc->ctx, &v.key, dt->id, NULL, wire.size,
                                     y.p, n, 1.0f, 0.0f);
            RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                         "%s, in NULL: decompress returned %s, expected "
                         "RZ_ERR_INVALID_PARAM", v.where,
                         rz_pc_status_name(st));
            rz_pc_step(pc, "decompress %s, y NULL", v.where);
            st = pc->ops->decompress(pc->ctx, &v.key, dt->id, wire.p,
                                     wire.size, NULL, n, 1.0f, 0.0f);
            RZ_PC_EXPECT(pc, st == RZ_ERR_INVALID_PARAM,
                         "%s, y NULL: decompress returned %s, expected "
                         "RZ_ERR_INVALID_PARAM", v.where,
                         rz_pc_status_name(st));
            rz_pc_guards(pc, &y, "decompress output", v.where);
            rz_pc_wire_free(&wire);
        }
        rz_pc_buf_free(&y);
        rz_pc_buf_free(&out);

        /* Too little room: refused, nothing written past it, and a failed
         * in-place call leaves the input alone. */
        {
            const size_t caps[] = {max - 1, max / 2, 0};
            for (size_t c = 0; max > 0 && c < sizeof(caps) / sizeof(*caps);
                 c++) {
                size_t cap = caps[c];
                rz_pc_buf_t inplace;
                if (c > 0 && cap == caps[c - 1]) {
                    continue;
                }
                rz_pc_buf_init(&out, cap);
                rz_pc_buf_init(&inplace, n * es);
                memcpy(inplace.p, v.data, n * es);
                snprintf(where, sizeof(where), "%s, capacity %zu of %zu%s",
                         v.where, cap, max, c == 0 ? " (in place)" : "");
                size = 0;
                rz_pc_step(pc, "compress %s", where);
                st = pc->ops->compress(pc->ctx, &v.key, dt->id, inplace.p, n,
                                       out.p, cap, &size,
                                       c == 0 ? inplace.p : NULL);
                if (fixed || st != RZ_OK) {
                    RZ_PC_EXPECT(pc, st != RZ_OK,
                                 "%s: compress returned RZ_OK", where);
                } else {
                    RZ_PC_EXPECT(pc, size <= cap,
                                 "%s: compress returned RZ_OK with %zu "
                                 "bytes", where, size);
                }
                if (st != RZ_OK) {
                    if (st != RZ_ERR_INVALID_PARAM) {
                        rz_pc_note(pc, "%s: compress returned %s, "
                                   "RZ_ERR_INVALID_PARAM expected", where,
                                   rz_pc_status_name(st));
                    }
                    RZ_PC_EXPECT(pc, memcmp(inplace.p, v.data, n * es) == 0,
                                 "%s: the failed in-place compress changed "
                                 "its input", where);
                }
                rz_pc_guards(pc, &out, "compress output", where);
                rz_pc_guards(pc, &inplace, "in/residual", where);
                rz_pc_buf_free(&inplace);
                rz_pc_buf_free(&out);
            }
        }
        rz_pc_vec_free(&v);
    }
    /* With the first tested type only: undeclared types are refused. */
    if (first_dtype && !RZ_PC_ENOUGH(pc)) {
        const uint32_t others[] = {RZ_COMPRESSOR_DTYPE_F32,
                                   RZ_COMPRESSOR_DTYPE_F64,
                                   RZ_COMPRESSOR_DTYPE_F16,
                                   RZ_COMPRESSOR_DTYPE_BF16, 7, 63, 64,
                                   0xFFFFFFFFu};
        const size_t n = 37;
        const rz_compressor_key_t key = {pc->seed, 1, 2, 3};
        rz_pc_buf_t in, out, y;

        /* Room for 8-byte elements, in case the plugin ignores the type. */
        rz_pc_buf_init(&in, 8 * n);
        rz_pc_buf_init(&out, 64 * n);
        rz_pc_buf_init(&y, 8 * n);
        memset(in.p, 0, 8 * n);
        for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++) {
            size_t size = 0;
            rz_status_t st;
            if (rz_pc_accepts(pc, others[i])) {
                continue;
            }
            (void)pc->ops->max_compressed_size(pc->ctx, others[i], n);
            rz_pc_step(pc, "compress with undeclared dtype %u", others[i]);
            st = pc->ops->compress(pc->ctx, &key, others[i], in.p, n, out.p,
                                   64 * n, &size, NULL);
            RZ_PC_EXPECT(pc, st == RZ_ERR_NOT_SUPPORTED,
                         "compress with the undeclared dtype %u returned %s, "
                         "expected RZ_ERR_NOT_SUPPORTED", others[i],
                         rz_pc_status_name(st));
            rz_pc_step(pc, "decompress with undeclared dtype %u", others[i]);
            st = pc->ops->decompress(pc->ctx, &key, others[i], out.p, 4 * n,
                                     y.p, n, 1.0f, 0.0f);
            if (RZ_PC_EXPECT(pc, st != RZ_OK,
                             "decompress with the undeclared dtype %u "
                             "returned RZ_OK", others[i]) &&
                st != RZ_ERR_NOT_SUPPORTED) {
                rz_pc_note(pc, "decompress with the undeclared dtype %u "
                           "returned %s, RZ_ERR_NOT_SUPPORTED expected",
                           others[i], rz_pc_status_name(st));
            }
            rz_pc_guards(pc, &out, "compress output", "undeclared dtype");
            rz_pc_guards(pc, &y, "decompress output", "undeclared dtype");
        }
        rz_pc_buf_free(&y);
        rz_pc_buf_free(&out);
        rz_pc_buf_free(&in);
    }
}

/* ------------------------------------------------------------ the table */

typedef struct {
    const char *name;
    const char *ref;            /* ALGORITHMS.md 5.1 item, or NULL */
    uint32_t    cap;            /* 0: always run */
    int         per_dtype;
    int         arith;          /* needs the ABI's arithmetic for the type */
    void (*run)(rz_pc_t *pc, const rz_pc_dtype_t *dt);
    const char *help;
} rz_pc_prop_t;

static const rz_pc_prop_t rz_pc_props[] = {
    {"load", NULL, 0, 0, 0, rz_pc_prop_load,
     "The struct: abi_version 1, a struct_size covering v1's mandatory "
     "members, a valid name, every mandatory pointer set, a one-line "
     "description; query answers RZ_OK, the same each time, leaves "
     "struct_size alone and writes nothing past a shorter struct_size (an "
     "older host); at least one element type; a nonzero wire_id, equal to "
     "ringzip's table for the built-in names (none 1, fp16 2, bf16 3, sign "
     "4, blocksign 5, topk 6, randk 7, qsgd 8). Notes (not failures): "
     "unknown capability or type bits, no f32, delta_bound without "
     "CONTRACTIVE, a third-party name with a wire id below 0x80000000."},
    {"params", NULL, 0, 0, 0, rz_pc_prop_params,
     "init accepts NULL and \"\" (the defaults) and the parameters under "
     "test again; an unknown key and a pair without '=' return "
     "RZ_ERR_INVALID_PARAM and log an error through host->log."},
    {"size", "C5", 0, 1, 0, rz_pc_prop_size,
     "max_compressed_size(0) is 0; n = 0 compresses to 0 bytes (also with "
     "NULL buffers) and 0 bytes decompress to nothing. For n >= 1: "
     "max_compressed_size is nonzero and stable; compress returns RZ_OK with "
     "at most that many bytes, exactly that many under FIXED_SIZE; with a "
     "larger capacity it still writes nothing past max_compressed_size; "
     "nothing is written outside the output and residual buffers; the input "
     "is not modified; under DETERMINISTIC the bytes do not depend on the "
     "capacity or on asking for a residual."},
    {"residual", "C6", 0, 1, 1, rz_pc_prop_residual,
     "The residual equals in - Dec(out) elementwise, Dec being decompress "
     "with alpha 1, beta 0 into a fresh buffer, the subtraction one fp32 "
     "operation; decoded values of finite input are finite. In place "
     "(residual == in) the residual again equals in - Dec(out), and under "
     "DETERMINISTIC the bytes and the residual are bit-identical to the "
     "out-of-place call, and leaving out the residual changes no byte."},
    {"accumulate", NULL, 0, 1, 1, rz_pc_prop_accumulate,
     "decompress computes y = fl(fl(beta*y) + fl(alpha*d)) for several "
     "alpha and beta (negative, zero, a subnormal product); with beta == 0 "
     "(also -0) y is prefilled with NaN and must not be read: y = "
     "fl(alpha*d)."},
    {"round-trip", NULL, RZ_COMPRESSOR_CAP_LOSSLESS, 1, 0,
     rz_pc_prop_roundtrip,
     "Dec(Enc(v)) == v for every vector, extreme values "
     "included, and the residual is zero."},
    {"determinism", NULL, 0, 1, 0, rz_pc_prop_determinism,
     "Decoding the same bytes twice gives the same bits (always). Under "
     "DETERMINISTIC: the same input and key give the same bytes, also after "
     "encoding another vector with another key in between, and from a "
     "second context initialised with the same parameters."},
    {"contraction", "C2", RZ_COMPRESSOR_CAP_CONTRACTIVE, 1, 0,
     rz_pc_prop_contraction,
     "||v - C(v)||^2 <= (1 - delta) ||v||^2 (1 + 1e-12), norms "
     "in long double, on vectors in the normal range (or zero). delta comes "
     "from delta_bound, which must return RZ_OK and 0 < delta <= 1; without "
     "delta_bound the test is ||v - C(v)||^2 <= ||v||^2 (1 + 1e-12)."},
    {"idempotence", "C3", RZ_COMPRESSOR_CAP_IDEMPOTENT, 1, 0,
     rz_pc_prop_idempotence,
     "C(C(v)) == C(v) on decoded values, with the same key."},
    {"homogeneity", "C4", RZ_COMPRESSOR_CAP_HOMOGENEOUS, 1, 0,
     rz_pc_prop_homogeneity,
     "C(2v) == 2 C(v) and C(v/4) == C(v)/4, with the same key, "
     "for vectors whose scaled values and results stay in the normal "
     "range."},
    {"linearity", NULL, RZ_COMPRESSOR_CAP_LINEAR, 1, 1, rz_pc_prop_linearity,
     "C(a) + C(b) == C(a + b) with the same key, the sums "
     "elementwise fp32 additions."},
    {"unbiased", "C2", RZ_COMPRESSOR_CAP_UNBIASED, 1, 0, rz_pc_prop_unbiased,
     "The mean m of C(v) over 500 keys (iterations 0..499) "
     "against v, for counts up to 4097 (gauss, ties, zeros and 1-sparse "
     "vectors). With s2_i the sample variance of element i, R = 500 ||m - "
     "v||^2 / sum s2_i is about 1 for an unbiased codec, spread sqrt(2/d) "
     "with d = (sum s2_i)^2 / sum s2_i^2 the effective number of noisy "
     "elements; it passes up to 1 + 8 sqrt(3/d) + 16/d (31 for d = 1, 1.25 "
     "for d = 3000), plus 1e-12 ||v||^2 for rounding. A bias b is caught "
     "once 500 ||b||^2 clearly exceeds (bound - 1) sum s2_i. The detail "
     "also shows max |m_i - v_i| / (||v|| / sqrt(n))."},
    {"malformed", NULL, 0, 1, 0, rz_pc_prop_malformed,
     "The plugin's own bytes decode with RZ_OK. Under FIXED_SIZE, sizes "
     "S-1, S/2, 0, S+1 and S+64 for an encoding of S bytes, and S bytes "
     "for a count whose max_compressed_size is not S, are refused "
     "(RZ_ERR_MALFORMED expected; RZ_OK fails, another error is a note). "
     "Bytes for count 0 are refused. Random bytes of sizes 0 to 2S and "
     "mutated encodings (flipped bits, counts and indices set to 0, n, n+1, "
     "~0 ...) may return anything but must not crash, read past the bytes "
     "given (use the ASan build) or write outside y."},
    {"errors", NULL, 0, 1, 0, rz_pc_prop_errors,
     "NULL in, out or size_p for compress and NULL in or y for decompress "
     "(count > 0) return RZ_ERR_INVALID_PARAM. A capacity below "
     "max_compressed_size (max-1, max/2, 0) is refused (RZ_OK only without "
     "FIXED_SIZE and when the bytes fit), nothing is written past it, and a "
     "refused in-place call leaves its input alone. Element types the "
     "plugin does not declare return RZ_ERR_NOT_SUPPORTED from compress and "
     "an error from decompress."},
};
#define RZ_PC_NPROPS (sizeof(rz_pc_props) / sizeof(rz_pc_props[0]))

static const char *rz_pc_cap_name(uint32_t cap)
{
    switch (cap) {
    case RZ_COMPRESSOR_CAP_CONTRACTIVE:   return "CONTRACTIVE";
    case RZ_COMPRESSOR_CAP_UNBIASED:      return "UNBIASED";
    case RZ_COMPRESSOR_CAP_LINEAR:        return "LINEAR";
    case RZ_COMPRESSOR_CAP_IDEMPOTENT:    return "IDEMPOTENT";
    case RZ_COMPRESSOR_CAP_DETERMINISTIC: return "DETERMINISTIC";
    case RZ_COMPRESSOR_CAP_HOMOGENEOUS:   return "HOMOGENEOUS";
    case RZ_COMPRESSOR_CAP_FIXED_SIZE:    return "FIXED_SIZE";
    case RZ_COMPRESSOR_CAP_LOSSLESS:      return "LOSSLESS";
    default:                              return "?";
    }
}

/* Run one row, in a child unless --no-fork. */
static void rz_pc_run(rz_pc_t *pc, const rz_pc_prop_t *prop,
                      const rz_pc_dtype_t *dt, rz_pc_result_t *res)
{
    pid_t pid;
    int wst;

    memset(res, 0, sizeof(*res));
    pc->res = res;
    if (pc->verbosity > 0) {
        printf("== %s\n", pc->row);
    }
    if (!pc->fork) {
        prop->run(pc, dt);
        goto done;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", rz_pc_prog, strerror(errno));
        exit(RZ_PC_EXIT_USAGE);
    }
    if (pid == 0) {
        alarm(pc->timeout_s);
        prop->run(pc, dt);
        fflush(stdout);
        _exit(0);       /* no atexit work in the child (leak checks) */
    }
    while (waitpid(pid, &wst, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "%s: waitpid: %s\n", rz_pc_prog, strerror(errno));
            exit(RZ_PC_EXIT_USAGE);
        }
    }
    if (WIFSIGNALED(wst) || WEXITSTATUS(wst) != 0) {
        char why[96];
        if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM) {
            snprintf(why, sizeof(why), "hung: still running after %u s",
                     pc->timeout_s);
        } else if (WIFSIGNALED(wst)) {
            snprintf(why, sizeof(why), "crashed: signal %d (%s)",
                     WTERMSIG(wst), strsignal(WTERMSIG(wst)));
        } else {
            snprintf(why, sizeof(why), "died: exit status %d (a sanitizer "
                     "report above?)", WEXITSTATUS(wst));
        }
        res->failures++;
        snprintf(res->detail, sizeof(res->detail), "%s during: %.200s", why,
                 res->step);
    }
done:
    if (res->state != RZ_PC_SKIP) {
        res->state = res->failures > 0 ? RZ_PC_FAIL : RZ_PC_PASS;
    }
}

static void rz_pc_print_row(const rz_pc_t *pc, const char *row,
                            const char *applies, const rz_pc_result_t *res)
{
    static const char *const states[] = {"pass", "FAIL", "skip"};
    const char *detail = res->state == RZ_PC_PASS ? res->note : res->detail;
    char more[48] = "";

    if (pc->verbosity < 0 && res->state != RZ_PC_FAIL) {
        return;
    }
    if (res->state == RZ_PC_FAIL && res->failures > 1) {
        snprintf(more, sizeof(more), " (%llu failures%s)", res->failures,
                 res->failures >= RZ_PC_MAX_FAILS ? ", stopped" : "");
    }
    if (detail[0] == '\0' && more[0] == '\0') {
        printf("%-24s %-19s %s\n", row, applies, states[res->state]);
    } else {
        printf("%-24s %-19s %-6s %s%s\n", row, applies, states[res->state],
               detail, more);
    }
}

static size_t rz_pc_parse_count(const char *s, int *ok_p)
{
    char *end;
    unsigned long long v;

    errno = 0;
    while (*s == ' ') {
        s++;
    }
    if (*s < '0' || *s > '9') {
        *ok_p = 0;
        return 0;
    }
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || v > RZ_PC_MAX_COUNT) {
        *ok_p = 0;
        return 0;
    }
    while (*end == ' ') {
        end++;
    }
    *ok_p = *end == '\0';
    return (size_t)v;
}

/* "0,1,37" or "0 1 37" (or both). */
static int rz_pc_parse_sizes(rz_pc_t *pc, const char *arg)
{
    char buf[1024];
    char *save = NULL, *tok;

    if (strlen(arg) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, arg);
    pc->nsizes = 0;
    for (tok = strtok_r(buf, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        int ok;
        size_t v = rz_pc_parse_count(tok, &ok);
        if (!ok || pc->nsizes == RZ_PC_MAX_SIZES) {
            return -1;
        }
        pc->sizes[pc->nsizes++] = v;
    }
    return pc->nsizes > 0 ? 0 : -1;
}

static void rz_pc_help(FILE *out)
{
    fprintf(out,
"NAME\n"
"    %s - check a ringzip compressor plugin against the plugin\n"
"    ABI and the compressor invariants\n"
"\n"
"SYNOPSIS\n"
"    %s [-q | -v] [-s SEED] [-n TRIALS] [--sizes LIST]\n"
"                    [--only LIST] [--timeout S] [--no-fork]\n"
"                    PLUGIN.so [PARAMS]\n"
"    %s -h\n"
"\n"
"DESCRIPTION\n"
"    %s loads PLUGIN.so (a file librz_<name>.so) with\n"
"    ringzip's plugin loader, initialises it with the parameter string\n"
"    PARAMS (\"key=value,...\"; default: none) and calls its\n"
"    rz_compressor_plugin_v1 functions directly, checking the ABI contract\n"
"    of <ringzip/compressor.h> and the compressor invariants of\n"
"    ALGORITHMS.md section 5.1 (C2 to C6) that the plugin declares through\n"
"    its capability bits. It prints one row per property: its name,\n"
"    whether it applies (always, or the capability that turns it on),\n"
"    pass, FAIL or skip, and the first failure, with the count, the test\n"
"    vector and the expected and actual values in C's %%a hexadecimal\n"
"    notation. A summary line follows.\n"
"\n"
"    Test vectors come from a seeded generator (-s), one of each kind per\n"
"    trial and count: gauss (roughly normal), ties (few distinct\n"
"    magnitudes), zeros (+0 and -0 mixed in), 1-sparse, wide (magnitudes\n"
"    2^-40 to 2^40), all-zero, subnormal and extreme (the largest finite\n"
"    values and other edges); no NaN or infinity. Each property uses the\n"
"    kinds its rule holds for. Keys vary seed, iteration, chunk and rank.\n"
"    \"==\" comparisons are elementwise, so +0 equals -0 (ALGORITHMS.md\n"
"    section 5, \"bitwise\"). Every buffer given to the plugin is either\n"
"    allocated to its exact size (so an AddressSanitizer build of the\n"
"    checker and plugin reports overreads) or surrounded by canary bytes\n"
"    that are checked after the call (and poisoned under ASan).\n"
"\n"
"    Properties are checked for f32, and for f64, f16 and bf16 too when the\n"
"    plugin declares them (rows suffixed [f64] ...); residual, accumulate and\n"
"    linearity need arithmetic the ABI defines only for f32 and f64 and are\n"
"    skipped for the 16-bit types. A plugin that does not accept f32 gets\n"
"    its f32 rows skipped, with a note on the load row.\n"
"\n"
"    Each property runs in a child process: a plugin that crashes, trips a\n"
"    sanitizer or runs longer than --timeout fails that property, and the\n"
"    row names the step that was running.\n"
"\n"
"PROPERTIES\n",
            rz_pc_prog, rz_pc_prog, rz_pc_prog, rz_pc_prog);
    for (size_t i = 0; i < RZ_PC_NPROPS; i++) {
        const rz_pc_prop_t *p = &rz_pc_props[i];
        const char *text = p->help;
        int width = 69;

        fprintf(out, "    %s%s%s%s - %s%s%s\n", p->name, p->ref ? " (" : "",
                p->ref ? p->ref : "", p->ref ? ")" : "",
                p->cap ? "when " : "always",
                p->cap ? rz_pc_cap_name(p->cap) : "",
                p->cap ? " is declared" : "");
        /* Wrap at word boundaries. */
        while (*text != '\0') {
            int len = (int)strlen(text), cut = len;
            if (len > width) {
                for (cut = width; cut > 0 && text[cut] != ' '; cut--) {
                }
                if (cut == 0) {
                    cut = (int)strcspn(text, " ");
                }
            }
            fprintf(out, "        %.*s\n", cut, text);
            text += cut;
            while (*text == ' ') {
                text++;
            }
        }
        fprintf(out, "\n");
    }
    fprintf(out,
"OPTIONS\n"
"    -s, --seed=SEED\n"
"        Seed of the test vectors and keys (decimal or 0x hex). Default %u.\n"
"\n"
"    -n, --trials=N\n"
"        Vectors of each kind per count, 1 to %u. Default %u.\n"
"\n"
"    --sizes=LIST\n"
"        Element counts to test, separated by commas or spaces, each at\n"
"        most %u. Default: 0 1 2 7 8 9 31 37 100 1000 4097 65537.\n"
"\n"
"    --only=LIST\n"
"        Run only the named properties (comma-separated names as in the\n"
"        table, e.g. residual,malformed).\n"
"\n"
"    -q, --quiet\n"
"        Print only failing rows and the summary.\n"
"\n"
"    -v, --verbose\n"
"        Also print each property as it starts, up to %d failures and notes\n"
"        per property, statistics and what the plugin logs.\n"
"\n"
"    --timeout=S\n"
"        Seconds one property may run before it fails as hung. Default %u.\n"
"\n"
"    --no-fork\n"
"        Run the properties in this process (for a debugger); a crash then\n"
"        ends the run.\n"
"\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"ENVIRONMENT\n"
"    RZ_LOG_LEVEL\n"
"        The loader's log level (default warn): why a plugin could not be\n"
"        loaded is logged at error level. What the plugin itself logs is\n"
"        captured (the checker provokes errors on purpose) and shown with\n"
"        -v.\n"
"\n"
"EXIT STATUS\n"
"    0   Every property that applies passed.\n"
"    1   At least one property failed.\n"
"    2   Bad usage, or the plugin could not be loaded (the loader's status\n"
"        and message say why), or the checker itself failed (memory,\n"
"        fork).\n"
"\n"
"EXAMPLES\n"
"    In a build tree (make check runs the first two kinds for every\n"
"    built-in plugin):\n"
"\n"
"    %s lib/ringzip/librz_topk.so\n"
"        Check top-k with its default parameters.\n"
"\n"
"    %s lib/ringzip/librz_topk.so ratio=0.1\n"
"        The same with 10%% of the elements kept.\n"
"\n"
"    %s -v --only malformed --sizes 1,37,1000 -n 8 librz_mine.so\n"
"        Hammer the decoder of a third-party plugin, with details.\n"
"\n"
"    %s -q -s 0x5eed lib/ringzip/librz_qsgd.so levels=4,bucket=64\n"
"        Another seed; print only what fails.\n"
"\n"
"SEE ALSO\n"
"    rz_info(1); docs/PLUGIN_CHECK.md; include/ringzip/compressor.h;\n"
"    ALGORITHMS.md sections 1.2 and 5.1\n",
            RZ_PC_DEFAULT_SEED, RZ_PC_MAX_TRIALS, RZ_PC_DEFAULT_TRIALS,
            RZ_PC_MAX_COUNT, RZ_PC_VERBOSE_FAILS, RZ_PC_TIMEOUT_S, rz_pc_prog,
            rz_pc_prog, rz_pc_prog, rz_pc_prog);
}

static int rz_pc_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", rz_pc_prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", rz_pc_prog);
    return RZ_PC_EXIT_USAGE;
}

/* 1 when property @name is in the comma-separated @only (NULL: all). */
static int rz_pc_selected(const char *only, const char *name)
{
    size_t len = strlen(name);

    if (only == NULL) {
        return 1;
    }
    for (const char *p = only; *p != '\0';) {
        size_t l = strcspn(p, ",");
        if (l == len && strncmp(p, name, len) == 0) {
            return 1;
        }
        p += l + (p[l] == ',');
    }
    return 0;
}

static void rz_pc_print_caps(uint32_t caps)
{
    int first = 1;

    for (uint32_t bit = 1; bit != 0; bit <<= 1) {
        if (caps & bit) {
            const char *name = rz_pc_cap_name(bit);
            if (name[0] == '?') {
                printf("%s0x%x", first ? "" : "|", bit);
            } else {
                printf("%s%s", first ? "" : "|", name);
            }
            first = 0;
        }
    }
    if (first) {
        printf("none");
    }
}

int main(int argc, char **argv)
{
    enum { OPT_SIZES = 256, OPT_ONLY, OPT_NO_FORK, OPT_TIMEOUT };
    static const struct option long_opts[] = {
        {"seed",    required_argument, NULL, 's'},
        {"trials",  required_argument, NULL, 'n'},
        {"sizes",   required_argument, NULL, OPT_SIZES},
        {"only",    required_argument, NULL, OPT_ONLY},
        {"quiet",   no_argument,       NULL, 'q'},
        {"verbose", no_argument,       NULL, 'v'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-fork", no_argument,       NULL, OPT_NO_FORK},
        {"help",    no_argument,       NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    rz_pc_t pc;
    rz_pc_logbook_t book;
    rz_pc_result_t *results;
    const char *only = NULL;
    unsigned passed = 0, failed = 0, skipped = 0;
    unsigned long long checks = 0;
    size_t nrows = 0;
    rz_status_t st;
    int opt, help = 0;

    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        char *slash = strrchr(argv[0], '/');
        if (slash != NULL && slash[1] != '\0') {
            argv[0] = slash + 1;
        }
        rz_pc_prog = argv[0];
    }
    memset(&pc, 0, sizeof(pc));
    pc.seed = RZ_PC_DEFAULT_SEED;
    pc.trials = RZ_PC_DEFAULT_TRIALS;
    pc.fork = 1;
    pc.timeout_s = RZ_PC_TIMEOUT_S;
    memcpy(pc.sizes, rz_pc_default_sizes, sizeof(rz_pc_default_sizes));
    pc.nsizes = sizeof(rz_pc_default_sizes) / sizeof(rz_pc_default_sizes[0]);

    while ((opt = getopt_long(argc, argv, "s:n:qvh", long_opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            errno = 0;
            pc.seed = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' ||
                optarg[0] == '-') {
                return rz_pc_usage_error("invalid seed '%s'", optarg);
            }
            break;
        case 'n': {
            int ok;
            size_t t = rz_pc_parse_count(optarg, &ok);
            if (!ok || t < 1 || t > RZ_PC_MAX_TRIALS) {
                return rz_pc_usage_error("invalid number of trials '%s'",
                                         optarg);
            }
            pc.trials = (unsigned)t;
            break;
        }
        case OPT_SIZES:
            if (rz_pc_parse_sizes(&pc, optarg) != 0) {
                return rz_pc_usage_error("invalid size list '%s'", optarg);
            }
            break;
        case OPT_ONLY:
            only = optarg;
            break;
        case 'q':
            pc.verbosity = -1;
            break;
        case 'v':
            pc.verbosity = 1;
            break;
        case OPT_TIMEOUT: {
            int ok;
            size_t t = rz_pc_parse_count(optarg, &ok);
            if (!ok || t < 1 || t > RZ_PC_MAX_TIMEOUT_S) {
                return rz_pc_usage_error("invalid timeout '%s'", optarg);
            }
            pc.timeout_s = (unsigned)t;
            break;
        }
        case OPT_NO_FORK:
            pc.fork = 0;
            break;
        case 'h':
            help = 1;
            break;
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    rz_pc_prog);
            return RZ_PC_EXIT_USAGE;
        }
    }
    if (help) {
        rz_pc_help(stdout);
        return RZ_PC_EXIT_PASS;
    }
    if (optind >= argc) {
        return rz_pc_usage_error("%s", "no plugin file given");
    }
    if (argc - optind > 2) {
        return rz_pc_usage_error("unexpected argument '%s'", argv[optind + 2]);
    }
    if (only != NULL) {
        for (const char *p = only; *p != '\0';) {
            size_t l = strcspn(p, ","), i;
            char name[32];
            for (i = 0; i < RZ_PC_NPROPS; i++) {
                if (strlen(rz_pc_props[i].name) == l &&
                    strncmp(p, rz_pc_props[i].name, l) == 0) {
                    break;
                }
            }
            if (i == RZ_PC_NPROPS) {
                snprintf(name, sizeof(name), "%.*s", (int)l, p);
                return rz_pc_usage_error("unknown property '%s' in --only",
                                         name);
            }
            p += l + (p[l] == ',');
        }
    }
    pc.path = argv[optind];
    pc.params = optind + 1 < argc ? argv[optind + 1] : "";

    if (pc.verbosity > 0) {
        /* Whatever a crashing child printed last is what explains it. */
        setvbuf(stdout, NULL, _IOLBF, 0);
    }
    /* RZ_LOG_LEVEL and friends, before the loader logs anything. */
    (void)rz_config_global();
    st = rz_plugin_open_file(pc.path, pc.params, &pc.plugin);
    if (st != RZ_OK) {
        fprintf(stderr, "%s: cannot load %s: %s (%s); the loader's message "
                "above says why\n", rz_pc_prog, pc.path, rz_status_string(st),
                rz_pc_status_name(st));
        return RZ_PC_EXIT_USAGE;
    }
    pc.ops = pc.plugin->ops;
    pc.ctx = pc.plugin->ctx;
    pc.info = pc.plugin->info;
    /* The checker provokes errors on purpose: what the plugin logs about
     * them belongs to -v, not to stderr. The plugin keeps a pointer to the
     * loader's host struct, so redirect that struct's logger. */
    memset(&book, 0, sizeof(book));
    book.pc = &pc;
    pc.plugin->host.log = rz_pc_host_log;
    pc.plugin->host.host_data = &book;

    results = mmap(NULL, (RZ_PC_NPROPS * RZ_PC_NDTYPES) * sizeof(*results),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (results == MAP_FAILED) {
        fprintf(stderr, "%s: mmap: %s\n", rz_pc_prog, strerror(errno));
        rz_plugin_close(pc.plugin);
        return RZ_PC_EXIT_USAGE;
    }

    if (pc.verbosity >= 0) {
        printf("%s: %s\n", rz_pc_prog, pc.path);
        printf("  name %s, wire id %u (0x%x), priority %d, min count %" PRIu64
               "\n", pc.ops->name, pc.info.wire_id, pc.info.wire_id,
               pc.info.priority, pc.info.min_count);
        printf("  caps ");
        rz_pc_print_caps(pc.info.caps);
        printf("\n  dtypes");
        for (size_t d = 0; d < RZ_PC_NDTYPES; d++) {
            if (rz_pc_accepts(&pc, rz_pc_dtypes[d].id)) {
                printf(" %s", rz_pc_dtypes[d].name);
            }
        }
        printf("\n  params \"%s\", seed %" PRIu64 " (0x%" PRIx64 "), %u "
               "trial%s, sizes", pc.params, pc.seed, pc.seed, pc.trials,
               pc.trials == 1 ? "" : "s");
        for (size_t i = 0; i < pc.nsizes; i++) {
            printf(" %zu", pc.sizes[i]);
        }
        printf("\n\n");
    }

    /* Rows: the dtype-independent ones, then each property per type (f32
     * always, the others when declared). */
    {
        struct {
            char row[48];
            char applies[32];
        } rows[RZ_PC_NPROPS * RZ_PC_NDTYPES];

        for (size_t d = 0; d < RZ_PC_NDTYPES; d++) {
            const rz_pc_dtype_t *dt = &rz_pc_dtypes[d];
            int accepted = rz_pc_accepts(&pc, dt->id);

            if (d > 0 && !accepted) {
                continue;
            }
            for (size_t i = 0; i < RZ_PC_NPROPS; i++) {
                const rz_pc_prop_t *p = &rz_pc_props[i];
                rz_pc_result_t *res = &results[nrows];
                char *row = rows[nrows].row, *applies = rows[nrows].applies;

                if ((!p->per_dtype && d > 0) ||
                    !rz_pc_selected(only, p->name)) {
                    continue;
                }
                snprintf(row, sizeof(rows[0].row), "%s%s%s%s", p->name,
                         p->ref ? " (" : "", p->ref ? p->ref : "",
                         p->ref ? ")" : "");
                if (p->per_dtype && d > 0) {
                    size_t l = strlen(row);
                    snprintf(row + l, sizeof(rows[0].row) - l, "[%s]",
                             dt->name);
                }
                snprintf(applies, sizeof(rows[0].applies), "%s%s",
                         p->cap == 0 ? "always"
                         : rz_pc_has(&pc, p->cap) ? "yes: " : "no: ",
                         p->cap == 0 ? "" : rz_pc_cap_name(p->cap));
                snprintf(pc.row, sizeof(pc.row), "%s", row);
                memset(res, 0, sizeof(*res));
                if (p->cap != 0 && !rz_pc_has(&pc, p->cap)) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "%s not declared", rz_pc_cap_name(p->cap));
                } else if (p->per_dtype && !accepted) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "%s not accepted", dt->name);
                } else if (p->arith && !dt->arith) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "the ABI defines no %s arithmetic", dt->name);
                } else {
                    rz_pc_run(&pc, p, dt, res);
                }
                nrows++;
            }
        }

        if (pc.verbosity > 0) {
            printf("\n");
        }
        if (pc.verbosity >= 0) {
            printf("%-24s %-19s %-6s %s\n", "PROPERTY", "APPLIES", "RESULT",
                   "DETAIL");
        }
        for (size_t r = 0; r < nrows; r++) {
            rz_pc_print_row(&pc, rows[r].row, rows[r].applies, &results[r]);
            checks += results[r].checks;
            passed += results[r].state == RZ_PC_PASS;
            failed += results[r].state == RZ_PC_FAIL;
            skipped += results[r].state == RZ_PC_SKIP;
        }
    }
    printf("%s%s: %s: %u passed, %u failed, %u skipped, %llu checks\n",
           pc.verbosity >= 0 ? "\n" : "", pc.ops->name,
           failed > 0 ? "FAIL" : "PASS", passed, failed, skipped, checks);

    munmap(results, (RZ_PC_NPROPS * RZ_PC_NDTYPES) * sizeof(*results));
    rz_plugin_close(pc.plugin);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return RZ_PC_EXIT_USAGE;
    }
    return failed > 0 ? RZ_PC_EXIT_FAIL : RZ_PC_EXIT_PASS;
}
