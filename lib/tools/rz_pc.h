/*
 * Internal to rz_plugin_check, never installed: the limits, types and
 * helpers shared by the runner (rz_plugin_check.c), the harness that
 * builds vectors and calls the plugin (rz_pc_harness.c) and the property
 * tests (rz_pc_props.c, rz_pc_malformed.c).
 */
#ifndef RZ_PC_H
#define RZ_PC_H

#include "plugin/rz_plugin.h"

#include <ringzip/compressor.h>
#include <ringzip/status.h>

#include <stddef.h>
#include <stdint.h>

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

/* The program name for messages (rz_plugin_check.c). */
extern const char *rz_pc_prog;

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

/* Defined in rz_pc_harness.c; the bound keeps RZ_PC_NDTYPES a constant. */
extern const rz_pc_dtype_t rz_pc_dtypes[4];
#define RZ_PC_NDTYPES (sizeof(rz_pc_dtypes) / sizeof(rz_pc_dtypes[0]))

double rz_pc_get(const rz_pc_dtype_t *dt, const void *buf, size_t i);
void rz_pc_put(const rz_pc_dtype_t *dt, void *buf, size_t i, double x);
double rz_pc_sub(const rz_pc_dtype_t *dt, double a, double b);
double rz_pc_add(const rz_pc_dtype_t *dt, double a, double b);
double rz_pc_axpby(const rz_pc_dtype_t *dt, double y, double d,
                   float alpha, float beta);

/* ---------------------------------------------------------- random numbers */

uint64_t rz_pc_next(uint64_t *s);
double rz_pc_uniform(uint64_t *s);
size_t rz_pc_below(uint64_t *s, size_t n);

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

const char *rz_pc_status_name(rz_status_t st);
void *rz_pc_xmalloc(size_t size);
unsigned char *rz_pc_dup(const void *src, size_t size);

/* Record a failure; the first one becomes the row's detail. */
void rz_pc_fail(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Something worth knowing that is not a failure (the first is shown). */
void rz_pc_note(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A statistic shown on a passing row (replaces any earlier one). */
void rz_pc_summary(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Name the step about to run, so a crash can say where it happened. */
void rz_pc_step(rz_pc_t *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Count a check; record a failure when @ok is 0. Returns @ok. */
#define RZ_PC_EXPECT(pc, ok, ...)                                              \
    ((pc)->res->checks++, (ok) ? 1 : (rz_pc_fail((pc), __VA_ARGS__), 0))

#define RZ_PC_ENOUGH(pc) ((pc)->res->failures >= RZ_PC_MAX_FAILS)

int rz_pc_has(const rz_pc_t *pc, uint32_t cap);
int rz_pc_accepts(const rz_pc_t *pc, uint32_t dtype);

typedef rz_status_t (*rz_pc_delta_func_t)(void *ctx, uint32_t dtype,
                                          size_t count, double *delta_p);
/* delta_bound, when the plugin's struct is long enough to have it. */
rz_pc_delta_func_t rz_pc_delta_bound(const rz_pc_t *pc);

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

void rz_pc_buf_init(rz_pc_buf_t *b, size_t size);
void rz_pc_buf_free(rz_pc_buf_t *b);
int rz_pc_guards(rz_pc_t *pc, const rz_pc_buf_t *b, const char *what,
                 const char *where);

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

void rz_pc_fill(const rz_pc_dtype_t *dt, void *buf, size_t n, int kind,
                uint64_t *rng);
void rz_pc_vec_make(const rz_pc_t *pc, const rz_pc_dtype_t *dt,
                    size_t n, unsigned trial, int kind, unsigned salt,
                    rz_pc_vec_t *v_p);
void rz_pc_vec_free(rz_pc_vec_t *v);

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

void rz_pc_wire_free(rz_pc_wire_t *w);
int rz_pc_encode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                 const rz_compressor_key_t *key, const void *in,
                 size_t n, const char *where, rz_pc_wire_t *wire_p);
rz_status_t rz_pc_decode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                         const rz_compressor_key_t *key,
                         const rz_pc_wire_t *wire, void *y, size_t n,
                         float alpha, float beta, const char *where);
int rz_pc_apply(rz_pc_t *pc, const rz_pc_dtype_t *dt,
                const rz_compressor_key_t *key, const void *in,
                size_t n, const char *where, void *dec,
                rz_pc_wire_t *wire_p);
int rz_pc_same(rz_pc_t *pc, const rz_pc_dtype_t *dt, const void *want,
               const void *got, size_t n, const char *what,
               const char *where);

/* A context of our own (for the params and determinism rows), with a
 * logger that counts what the plugin says. */
typedef struct {
    rz_pc_t *pc;
    int      errors;
    int      lines;
    char     last[200];
} rz_pc_logbook_t;

void rz_pc_host_log(const rz_compressor_host_t *host, int level,
                    const char *fmt, ...);
void rz_pc_host_init(rz_pc_t *pc, rz_compressor_host_t *host,
                     rz_pc_logbook_t *book);

/* ------------------------------------------------------------ properties */

/* rz_pc_props.c */
void rz_pc_prop_load(rz_pc_t *pc, const rz_pc_dtype_t *unused);
void rz_pc_prop_params(rz_pc_t *pc, const rz_pc_dtype_t *unused);
void rz_pc_prop_size(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_residual(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_accumulate(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_roundtrip(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_determinism(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_contraction(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_idempotence(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_homogeneity(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_linearity(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_unbiased(rz_pc_t *pc, const rz_pc_dtype_t *dt);

/* rz_pc_malformed.c */
void rz_pc_prop_malformed(rz_pc_t *pc, const rz_pc_dtype_t *dt);
void rz_pc_prop_errors(rz_pc_t *pc, const rz_pc_dtype_t *dt);

#endif
