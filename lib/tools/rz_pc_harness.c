/*
 * rz_plugin_check's harness: element types and their reference
 * arithmetic, random numbers, recording results, guarded buffers, test
 * vectors and the checked calls into the plugin that every property
 * uses.
 */
#include "rz_pc.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- element types */

const rz_pc_dtype_t rz_pc_dtypes[] = {
    {RZ_COMPRESSOR_DTYPE_F32, "f32", 4, FLT_MAX, FLT_MIN, 0x1p-149, 40, 1},
    {RZ_COMPRESSOR_DTYPE_F64, "f64", 8, DBL_MAX, DBL_MIN, 0x1p-1074, 40, 1},
    {RZ_COMPRESSOR_DTYPE_F16, "f16", 2, 65504.0, 0x1p-14, 0x1p-24, 6, 0},
    {RZ_COMPRESSOR_DTYPE_BF16, "bf16", 2, 0x1.fep127, 0x1p-126, 0x1p-133, 40,
     0},
};

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
double rz_pc_get(const rz_pc_dtype_t *dt, const void *buf, size_t i)
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
void rz_pc_put(const rz_pc_dtype_t *dt, void *buf, size_t i, double x)
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
double rz_pc_sub(const rz_pc_dtype_t *dt, double a, double b)
{
    if (dt->id == RZ_COMPRESSOR_DTYPE_F32) {
        volatile float r = (float)a - (float)b;
        return r;
    } else {
        volatile double r = a - b;
        return r;
    }
}

double rz_pc_add(const rz_pc_dtype_t *dt, double a, double b)
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
double rz_pc_axpby(const rz_pc_dtype_t *dt, double y, double d,
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
uint64_t rz_pc_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    return rz_pc_mix64(*s - 0x9E3779B97F4A7C15ull);
}

double rz_pc_uniform(uint64_t *s)
{
    return (double)(rz_pc_next(s) >> 11) * 0x1.0p-53;
}

size_t rz_pc_below(uint64_t *s, size_t n)
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

const char *rz_pc_status_name(rz_status_t st)
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

void *rz_pc_xmalloc(size_t size)
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
unsigned char *rz_pc_dup(const void *src, size_t size)
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
void rz_pc_fail(rz_pc_t *pc, const char *fmt, ...)
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
void rz_pc_note(rz_pc_t *pc, const char *fmt, ...)
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
void rz_pc_summary(rz_pc_t *pc, const char *fmt, ...)
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
void rz_pc_step(rz_pc_t *pc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(pc->res->step, sizeof(pc->res->step), fmt, ap);
    va_end(ap);
}


int rz_pc_has(const rz_pc_t *pc, uint32_t cap)
{
    return (pc->info.caps & cap) != 0;
}

int rz_pc_accepts(const rz_pc_t *pc, uint32_t dtype)
{
    return dtype < 64 && (pc->info.dtypes & RZ_COMPRESSOR_DTYPE_BIT(dtype));
}


/* delta_bound, when the plugin's struct is long enough to have it. */
rz_pc_delta_func_t rz_pc_delta_bound(const rz_pc_t *pc)
{
    if (pc->ops->struct_size < offsetof(rz_compressor_v1_t, delta_bound) +
                                   sizeof(pc->ops->delta_bound)) {
        return NULL;
    }
    return pc->ops->delta_bound;
}

/* --------------------------------------------------------- guarded buffers */


static unsigned char rz_pc_canary(size_t i)
{
    return (unsigned char)(0xA5u ^ (i * 0x3Bu));
}

void rz_pc_buf_init(rz_pc_buf_t *b, size_t size)
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

void rz_pc_buf_free(rz_pc_buf_t *b)
{
    if (b->base != NULL) {
        RZ_PC_UNPOISON(b->base, RZ_PC_GUARD);
        RZ_PC_UNPOISON(b->p + b->size, b->tail);
        free(b->base);
        b->base = b->p = NULL;
    }
}

/* Check @b's guards; @what names the buffer in the failure. */
int rz_pc_guards(rz_pc_t *pc, const rz_pc_buf_t *b, const char *what,
                 const char *where)
{
    long at = 0;
    int ok = rz_pc_buf_intact(b, &at);

    return RZ_PC_EXPECT(pc, ok,
                        "%s: %s: byte %ld written, outside the %zu bytes "
                        "given", where, what, at, b->size);
}

/* ------------------------------------------------------------ test vectors */


static const char *const rz_pc_kind_names[RZ_PC_KIND_COUNT] = {
    "gauss", "ties", "zeros", "1-sparse", "wide", "all-zero", "subnormal",
    "extreme"};


void rz_pc_fill(const rz_pc_dtype_t *dt, void *buf, size_t n, int kind,
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
void rz_pc_vec_make(const rz_pc_t *pc, const rz_pc_dtype_t *dt,
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

void rz_pc_vec_free(rz_pc_vec_t *v)
{
    free(v->data);
    v->data = NULL;
}


/* ------------------------------------------------------ calling the plugin */


void rz_pc_wire_free(rz_pc_wire_t *w)
{
    free(w->p);
    w->p = NULL;
    w->size = 0;
}

/* Compress @in into a fresh exact-size wire copy, checking the status,
 * the size bound and the guards. 0 on success, -1 after a failure. */
int rz_pc_encode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
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
rz_status_t rz_pc_decode(rz_pc_t *pc, const rz_pc_dtype_t *dt,
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
int rz_pc_apply(rz_pc_t *pc, const rz_pc_dtype_t *dt,
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
int rz_pc_same(rz_pc_t *pc, const rz_pc_dtype_t *dt, const void *want,
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


void rz_pc_host_log(const rz_compressor_host_t *host, int level,
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

void rz_pc_host_init(rz_pc_t *pc, rz_compressor_host_t *host,
                     rz_pc_logbook_t *book)
{
    memset(book, 0, sizeof(*book));
    book->pc = pc;
    host->abi_version = RZ_COMPRESSOR_ABI_VERSION;
    host->struct_size = sizeof(*host);
    host->log = rz_pc_host_log;
    host->host_data = book;
}
