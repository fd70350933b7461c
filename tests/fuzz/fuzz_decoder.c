/*
 * libFuzzer harness for one compressor plugin. run_fuzz.sh compiles this
 * file together with ONE plugin's sources (static link, no dlopen) and
 * -DRZ_FUZZ_PARAMS="\"...\"" for the plugin's parameter string.
 *
 * Every input is one decode of untrusted bytes plus one cheap round trip:
 *
 *   offset  size  field
 *   0       2     count: u16 % 8193, or from u16 >= 0xf000 a large count
 *                 16384 + 7 * (u16 - 0xf000) < 45056 for the encoders'
 *                 large-input paths (only the round trip can reach those)
 *   2       1     flags (RZ_FUZZ_F_*), alpha and beta table indices
 *   3       1     dtype, used only with RZ_FUZZ_F_DTYPE (else fp32)
 *   4       4     key.seed
 *   8       2     key.iteration
 *   10      2     key.chunk
 *   12      1     key.rank
 *   13      3     seed of the generated part of the round-trip vector
 *   16      ...   wire bytes
 *
 * The wire bytes go to decompress() from an exact-size heap copy, into a y
 * of exactly count elements, so ASan sees any read or write one byte out of
 * bounds. A status other than RZ_OK is always acceptable for them; what is
 * a bug (abort(), which libFuzzer reports with the input):
 *   - a crash, an ASan report or undefined behaviour;
 *   - RZ_OK for an unsupported dtype or for count 0 with size != 0;
 *     anything but RZ_OK for count 0 with size 0 (RZ_OK for a size that
 *     this context would not write is allowed: top-k decodes any valid k,
 *     so peers configured with another ratio interoperate);
 *   - RZ_OK with a y that is not fl(fl(beta*y) + fl(alpha*d)) for the d
 *     that the same bytes decode to with alpha = 1, beta = 0 (beta = 0: y
 *     is not read, and every element is written);
 *   - a round trip (compress a vector made from the input, then decode)
 *     that fails, writes more than max_compressed_size() bytes (or other
 *     than exactly that for fixed-size codecs), gives a residual other than
 *     in - Dec(out) (where in is finite), gets either wrong when the
 *     residual overwrites the input, writes other bytes that way although
 *     the codec claims to be deterministic, or is accepted with one byte
 *     too little capacity or an unsupported dtype. Input with NaN, inf or
 *     huge values (RZ_FUZZ_F_RAW_VEC) may be refused, as
 *     RZ_ERR_INVALID_PARAM only; tame input (finite, |v| <= 2^40) may not.
 *
 * With RZ_FUZZ_WRITE_SEEDS=<dir> in the environment the binary writes a
 * seed corpus of valid encodings into <dir> and exits (run_fuzz.sh uses
 * it; the seeds go through the same sanitizers).
 */
#include <ringzip/compressor.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RZ_FUZZ_PARAMS
#define RZ_FUZZ_PARAMS ""
#endif

#define RZ_FUZZ_MAX_COUNT 8192u
#define RZ_FUZZ_LARGE_RAW 0xf000u
#define RZ_FUZZ_LARGE_BASE 16384u
#define RZ_FUZZ_HEADER 16u
/* run_fuzz.sh passes the same -max_len: a header and 8192 fp32 values. */
#define RZ_FUZZ_MAX_LEN (RZ_FUZZ_HEADER + 4 * RZ_FUZZ_MAX_COUNT)

/* Flag bits of byte 2. */
#define RZ_FUZZ_F_ALPHA(f) ((f)&3u)         /* index into rz_fuzz_alpha */
#define RZ_FUZZ_F_BETA(f) (((f) >> 2) & 3u) /* index into rz_fuzz_beta */
#define RZ_FUZZ_F_NULL_IN 0x10u /* size 0: pass in = NULL, not malloc(0) */
#define RZ_FUZZ_F_RAW_VEC 0x20u /* round trip may see NaN, inf, 1e38 */
#define RZ_FUZZ_F_NULL_Y 0x40u  /* count 0: pass y = NULL */
#define RZ_FUZZ_F_DTYPE 0x80u   /* dtype from byte 3 */

/* Finite values only: the decode check compares with the harness's own
 * fl(fl(beta*y) + fl(alpha*d)), which must not overflow differently. */
static const float rz_fuzz_alpha[4] = {1.0f, 0.5f, -3.0f, 0.0f};
static const float rz_fuzz_beta[4] = {0.0f, 1.0f, -0.25f, 2.0f};

/* What y holds before a decode with beta == 0 (never read, so a NaN there
 * shows both a read and a missed write) and what the reference decode
 * starts from. */
#define RZ_FUZZ_Y_UNREAD 0x7fc0beefu
#define RZ_FUZZ_D_FILL -7777.0f

typedef struct {
    size_t count;
    unsigned flags;
    uint32_t dtype;
    float alpha, beta;
    rz_compressor_key_t key;
    uint64_t vec_seed;
    const uint8_t *wire;
    size_t size;
} rz_fuzz_input_t;

static const rz_compressor_v1_t *rz_fuzz_ops = &rz_compressor_plugin_v1;
static void *rz_fuzz_ctx;
static rz_compressor_info_t rz_fuzz_info;
static int rz_fuzz_verbose;

static void rz_fuzz_log(const rz_compressor_host_t *host, int level,
                        const char *fmt, ...)
{
    va_list ap;

    (void)host;
    /* Malformed input legitimately draws error lines; printing them on
     * every run would drown libFuzzer's own output. */
    if (!rz_fuzz_verbose) {
        return;
    }
    va_start(ap, fmt);
    fprintf(stderr, "[plugin %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const rz_compressor_host_t rz_fuzz_host = {
    RZ_COMPRESSOR_ABI_VERSION, sizeof(rz_compressor_host_t), rz_fuzz_log, NULL};

/* A violated contract: print it and abort(), so that libFuzzer saves the
 * input as a crash. */
static void rz_fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "rz_fuzz: %s(\"%s\"): ", rz_fuzz_ops->name, RZ_FUZZ_PARAMS);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define RZ_FUZZ_REQUIRE(cond, ...)                                             \
    do {                                                                       \
        if (!(cond)) {                                                         \
            rz_fuzz_fail(__VA_ARGS__);                                         \
        }                                                                      \
    } while (0)

static uint32_t rz_fuzz_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float rz_fuzz_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Equal as §5 of ALGORITHMS.md compares: bitwise, +0 == -0, and (since the
 * payload of a NaN depends on operand order) any NaN equals any NaN. */
static int rz_fuzz_same(float a, float b)
{
    if (isnan(a) || isnan(b)) {
        return isnan(a) && isnan(b);
    }
    return a == b; /* for non-NaN floats: same bits, or +0 and -0 */
}

static size_t rz_fuzz_dtype_size(uint32_t dtype)
{
    switch (dtype) {
    case RZ_COMPRESSOR_DTYPE_F64:
        return 8;
    case RZ_COMPRESSOR_DTYPE_F16:
    case RZ_COMPRESSOR_DTYPE_BF16:
        return 2;
    default:
        return 4;
    }
}

static int rz_fuzz_dtype_ok(uint32_t dtype)
{
    return dtype < 64 && (rz_fuzz_info.dtypes & RZ_COMPRESSOR_DTYPE_BIT(dtype));
}

/* A heap block of exactly @n bytes (malloc(0) under ASan is a valid
 * pointer to nothing, so any access through it is reported). */
static void *rz_fuzz_alloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL && n != 0) {
        fprintf(stderr, "rz_fuzz: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

static void rz_fuzz_setup(void)
{
    rz_status_t st;

    rz_fuzz_verbose = getenv("RZ_FUZZ_VERBOSE") != NULL;
    st = rz_fuzz_ops->init(&rz_fuzz_host, RZ_FUZZ_PARAMS, &rz_fuzz_ctx);
    if (st != RZ_OK) {
        fprintf(stderr, "rz_fuzz: %s init(\"%s\") failed: %d\n",
                rz_fuzz_ops->name, RZ_FUZZ_PARAMS, (int)st);
        exit(2);
    }
    memset(&rz_fuzz_info, 0, sizeof(rz_fuzz_info));
    rz_fuzz_info.struct_size = sizeof(rz_fuzz_info);
    st = rz_fuzz_ops->query(rz_fuzz_ctx, &rz_fuzz_info);
    if (st != RZ_OK) {
        fprintf(stderr, "rz_fuzz: %s query failed: %d\n", rz_fuzz_ops->name,
                (int)st);
        exit(2);
    }
}

/* ------------------------------------------------------- input parsing */

static uint64_t rz_fuzz_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rz_fuzz_count(unsigned raw)
{
    if (raw >= RZ_FUZZ_LARGE_RAW) {
        return RZ_FUZZ_LARGE_BASE + 7 * (size_t)(raw - RZ_FUZZ_LARGE_RAW);
    }
    return raw % (RZ_FUZZ_MAX_COUNT + 1);
}

/* The header value that rz_fuzz_count() maps to @n (a count it can map). */
static unsigned rz_fuzz_count_raw(size_t n)
{
    if (n >= RZ_FUZZ_LARGE_BASE) {
        return RZ_FUZZ_LARGE_RAW + (unsigned)((n - RZ_FUZZ_LARGE_BASE) / 7);
    }
    return (unsigned)n;
}

static int rz_fuzz_parse(const uint8_t *data, size_t len, rz_fuzz_input_t *in)
{
    if (len < RZ_FUZZ_HEADER) {
        return -1;
    }
    in->count = rz_fuzz_count((unsigned)(data[0] | data[1] << 8));
    in->flags = data[2];
    in->dtype =
        (in->flags & RZ_FUZZ_F_DTYPE) ? data[3] : RZ_COMPRESSOR_DTYPE_F32;
    in->alpha = rz_fuzz_alpha[RZ_FUZZ_F_ALPHA(in->flags)];
    in->beta = rz_fuzz_beta[RZ_FUZZ_F_BETA(in->flags)];
    in->key.seed = (uint64_t)data[4] | (uint64_t)data[5] << 8 |
                   (uint64_t)data[6] << 16 | (uint64_t)data[7] << 24;
    in->key.iteration = (uint64_t)(data[8] | data[9] << 8);
    in->key.chunk = (uint64_t)(data[10] | data[11] << 8);
    in->key.rank = data[12];
    in->vec_seed =
        (uint64_t)data[13] | (uint64_t)data[14] << 8 | (uint64_t)data[15] << 16;
    in->wire = data + RZ_FUZZ_HEADER;
    in->size = len - RZ_FUZZ_HEADER;
    return 0;
}

/* Roughly N(0, 1) (sum of four uniforms), cheap and deterministic. */
static float rz_fuzz_gauss(uint64_t *state)
{
    double g = -2.0;
    for (int j = 0; j < 4; j++) {
        *state = rz_fuzz_mix64(*state);
        g += (double)(*state >> 11) * 0x1.0p-53;
    }
    return (float)g;
}

/* Largest magnitude of a "tame" round-trip element: squares of 2^40
 * summed over any count stay far from fp32 overflow, so a norm or scale
 * computed in fp32 is finite and the encoder has no excuse to refuse. */
#define RZ_FUZZ_TAME_MAX 0x1p40f

/* The round-trip vector: the wire bytes read as fp32 where there are
 * enough of them (odd exponents, subnormals, ties), Gaussian values after.
 * Unless RZ_FUZZ_F_RAW_VEC, values that are not finite or exceed
 * RZ_FUZZ_TAME_MAX are replaced. */
static void rz_fuzz_make_vector(const rz_fuzz_input_t *in, float *x)
{
    uint64_t s = in->vec_seed;

    for (size_t i = 0; i < in->count; i++) {
        float v;
        if (4 * i + 4 <= in->size) {
            uint32_t u = (uint32_t)in->wire[4 * i] |
                         (uint32_t)in->wire[4 * i + 1] << 8 |
                         (uint32_t)in->wire[4 * i + 2] << 16 |
                         (uint32_t)in->wire[4 * i + 3] << 24;
            v = rz_fuzz_bits_f32(u);
        } else {
            v = rz_fuzz_gauss(&s);
        }
        if (!(in->flags & RZ_FUZZ_F_RAW_VEC) &&
            !(fabsf(v) <= RZ_FUZZ_TAME_MAX)) {
            v = rz_fuzz_gauss(&s);
        }
        x[i] = v;
    }
}

/* ------------------------------------------------------------ checks */

/* Decode the untrusted bytes and check the contract around the result. */
static void rz_fuzz_decode(const rz_fuzz_input_t *in)
{
    const rz_compressor_v1_t *ops = rz_fuzz_ops;
    size_t n = in->count, esize = rz_fuzz_dtype_size(in->dtype);
    int dtype_ok = rz_fuzz_dtype_ok(in->dtype);
    void *wire = NULL, *y = NULL;
    float *y0 = NULL, *d = NULL;
    rz_status_t st, st_d;

    if (in->size > 0 || !(in->flags & RZ_FUZZ_F_NULL_IN)) {
        wire = rz_fuzz_alloc(in->size);
        if (in->size > 0) {
            memcpy(wire, in->wire, in->size);
        }
    }
    if (n > 0 || !(in->flags & RZ_FUZZ_F_NULL_Y)) {
        y = rz_fuzz_alloc(n * esize);
    }
    if (in->dtype == RZ_COMPRESSOR_DTYPE_F32) {
        y0 = rz_fuzz_alloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            y0[i] = in->beta == 0.0f ? rz_fuzz_bits_f32(RZ_FUZZ_Y_UNREAD)
                                     : (float)((int)(i % 61) - 30) * 0.375f;
        }
        if (n > 0) {
            memcpy(y, y0, n * sizeof(float));
        }
    } else if (n > 0) {
        memset(y, 0x5a, n * esize);
    }

    st = ops->decompress(rz_fuzz_ctx, &in->key, in->dtype, wire, in->size, y, n,
                         in->alpha, in->beta);
    RZ_FUZZ_REQUIRE(st == RZ_OK || st == RZ_ERR_MALFORMED ||
                        st == RZ_ERR_INVALID_PARAM ||
                        st == RZ_ERR_NOT_SUPPORTED || st == RZ_ERR_NO_MEMORY,
                    "decompress returned undocumented status %d", (int)st);
    if (!dtype_ok) {
        RZ_FUZZ_REQUIRE(st != RZ_OK || n == 0,
                        "decompress accepted unsupported dtype %u",
                        (unsigned)in->dtype);
        goto out;
    }
    if (n == 0) {
        if (in->size == 0) {
            RZ_FUZZ_REQUIRE(st == RZ_OK,
                            "count 0, size 0 must decode to nothing (got %d)",
                            (int)st);
        } else {
            RZ_FUZZ_REQUIRE(st != RZ_OK, "count 0 accepted %zu bytes",
                            in->size);
        }
        goto out;
    }
    if (st != RZ_OK) {
        goto out;
    }
    if (in->dtype != RZ_COMPRESSOR_DTYPE_F32) {
        goto out;
    }

    /* The same bytes with alpha = 1, beta = 0 give Dec(in) itself. */
    d = rz_fuzz_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        d[i] = RZ_FUZZ_D_FILL;
    }
    st_d = ops->decompress(rz_fuzz_ctx, &in->key, in->dtype, wire, in->size, d,
                           n, 1.0f, 0.0f);
    RZ_FUZZ_REQUIRE(st_d == RZ_OK,
                    "bytes accepted with alpha %g beta %g refused with "
                    "alpha 1 beta 0 (%d)",
                    (double)in->alpha, (double)in->beta, (int)st_d);
    for (size_t i = 0; i < n; i++) {
        float got = ((const float *)y)[i];
        float want = in->beta == 0.0f ? in->alpha * d[i]
                                      : in->beta * y0[i] + in->alpha * d[i];
        RZ_FUZZ_REQUIRE(rz_fuzz_same(got, want),
                        "y[%zu] = %a (0x%08x), want beta*y + alpha*d = %a "
                        "(y %a, d %a, alpha %g, beta %g)",
                        i, (double)got, (unsigned)rz_fuzz_f32_bits(got),
                        (double)want, (double)y0[i], (double)d[i],
                        (double)in->alpha, (double)in->beta);
    }

out:
    free(d);
    free(y0);
    free(y);
    free(wire);
}

/* Compress a vector made from the input and check the encoder's side of
 * the contract against the decoder. */
static void rz_fuzz_roundtrip(const rz_fuzz_input_t *in)
{
    const rz_compressor_v1_t *ops = rz_fuzz_ops;
    const uint32_t f32 = RZ_COMPRESSOR_DTYPE_F32;
    size_t n = in->count, cap, sz = 0, sz2 = 0, sz3 = 0;
    float *x, *res, *xi, *dec, *dec2;
    uint8_t *out, *out2, *out3;
    int fixed = (rz_fuzz_info.caps & RZ_COMPRESSOR_CAP_FIXED_SIZE) != 0;
    rz_status_t st;

    if (!rz_fuzz_dtype_ok(f32)) {
        return;
    }
    cap = ops->max_compressed_size(rz_fuzz_ctx, f32, n);
    RZ_FUZZ_REQUIRE(n > 0 || cap == 0, "max_compressed_size(0) = %zu", cap);
    RZ_FUZZ_REQUIRE(cap <= 64 * (size_t)n + 4096,
                    "max_compressed_size(%zu) = %zu is implausible", n, cap);

    x = rz_fuzz_alloc(n * sizeof(float));
    res = rz_fuzz_alloc(n * sizeof(float));
    xi = rz_fuzz_alloc(n * sizeof(float));
    dec = rz_fuzz_alloc(n * sizeof(float));
    dec2 = rz_fuzz_alloc(n * sizeof(float));
    out = rz_fuzz_alloc(cap);
    out2 = rz_fuzz_alloc(cap);
    rz_fuzz_make_vector(in, x);
    for (size_t i = 0; i < n; i++) {
        res[i] = RZ_FUZZ_D_FILL;
        dec[i] = RZ_FUZZ_D_FILL;
        dec2[i] = RZ_FUZZ_D_FILL;
    }
    if (n > 0) {
        memcpy(xi, x, n * sizeof(float));
    }

    /* Residual into a separate buffer. Non-finite or huge input may be
     * refused (a plugin's choice: sign and QSGD cannot send a NaN or
     * overflowing scale), but only as a bad parameter. */
    st = ops->compress(rz_fuzz_ctx, &in->key, f32, x, n, out, cap, &sz, res);
    if (st == RZ_ERR_INVALID_PARAM && (in->flags & RZ_FUZZ_F_RAW_VEC)) {
        goto done;
    }
    RZ_FUZZ_REQUIRE(st == RZ_OK, "compress of %zu elements failed: %d", n,
                    (int)st);
    RZ_FUZZ_REQUIRE(sz <= cap && (!fixed || sz == cap) && (n > 0 || sz == 0),
                    "compress wrote %zu bytes, max_compressed_size %zu%s", sz,
                    cap, fixed ? " (fixed size)" : "");
    st = ops->decompress(rz_fuzz_ctx, &in->key, f32, out, sz, dec, n, 1.0f,
                         0.0f);
    RZ_FUZZ_REQUIRE(st == RZ_OK, "decoding its own %zu bytes failed: %d", sz,
                    (int)st);
    /* Where the input itself is not finite, in - Dec has no meaning a
     * plugin must honour (top-k keeps a NaN and leaves residual 0). */
    for (size_t i = 0; i < n; i++) {
        RZ_FUZZ_REQUIRE(!isfinite(x[i]) || rz_fuzz_same(res[i], x[i] - dec[i]),
                        "residual[%zu] = %a, in - Dec = %a - %a", i,
                        (double)res[i], (double)x[i], (double)dec[i]);
        if (rz_fuzz_info.caps & RZ_COMPRESSOR_CAP_LOSSLESS) {
            RZ_FUZZ_REQUIRE(rz_fuzz_same(dec[i], x[i]),
                            "lossless codec decoded [%zu] %a as %a", i,
                            (double)x[i], (double)dec[i]);
        }
    }

    /* In place (residual == in): the encoder must read before it writes. */
    st = ops->compress(rz_fuzz_ctx, &in->key, f32, xi, n, out2, cap, &sz2, xi);
    RZ_FUZZ_REQUIRE(st == RZ_OK, "in-place compress failed: %d", (int)st);
    RZ_FUZZ_REQUIRE(sz2 <= cap && (!fixed || sz2 == cap),
                    "in-place compress wrote %zu bytes of %zu", sz2, cap);
    st = ops->decompress(rz_fuzz_ctx, &in->key, f32, out2, sz2, dec2, n, 1.0f,
                         0.0f);
    RZ_FUZZ_REQUIRE(st == RZ_OK, "decoding in-place bytes failed: %d", (int)st);
    for (size_t i = 0; i < n; i++) {
        RZ_FUZZ_REQUIRE(!isfinite(x[i]) || rz_fuzz_same(xi[i], x[i] - dec2[i]),
                        "in-place residual[%zu] = %a, in - Dec = %a - %a", i,
                        (double)xi[i], (double)x[i], (double)dec2[i]);
    }
    if (rz_fuzz_info.caps & RZ_COMPRESSOR_CAP_DETERMINISTIC) {
        RZ_FUZZ_REQUIRE(sz2 == sz && (sz == 0 || memcmp(out, out2, sz) == 0),
                        "deterministic codec: in-place bytes differ");
    }

    /* One byte short: refused, and nothing written past the end. */
    if (fixed && cap > 0) {
        out3 = rz_fuzz_alloc(cap - 1);
        st = ops->compress(rz_fuzz_ctx, &in->key, f32, x, n, out3, cap - 1,
                           &sz3, NULL);
        RZ_FUZZ_REQUIRE(st == RZ_ERR_INVALID_PARAM,
                        "compress with capacity %zu < %zu returned %d", cap - 1,
                        cap, (int)st);
        free(out3);
    }

    /* An unsupported dtype is refused before anything is read. */
    if (n > 0 && !rz_fuzz_dtype_ok(in->dtype)) {
        st = ops->compress(rz_fuzz_ctx, &in->key, in->dtype, x, n, out2, cap,
                           &sz3, NULL);
        RZ_FUZZ_REQUIRE(st != RZ_OK, "compress accepted unsupported dtype %u",
                        (unsigned)in->dtype);
    }

done:
    free(out2);
    free(out);
    free(dec2);
    free(dec);
    free(xi);
    free(res);
    free(x);
}

/* --------------------------------------------------------- seed corpus */

static void rz_fuzz_put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Valid encodings of Gaussian vectors (and the empty input) for a spread
 * of counts and flags, so the fuzzer starts past the size checks. */
static int rz_fuzz_write_seeds(const char *dir)
{
    /* Edges of bytes, blocks and buckets; 16384 on: top-k's sampling. */
    static const unsigned counts[] = {0,    1,    2,    3,     7,    8,   9,
                                      16,   31,   33,   64,    100,  255, 512,
                                      1000, 4097, 8192, 16384, 20003};
    const uint32_t f32 = RZ_COMPRESSOR_DTYPE_F32;
    size_t ncounts = sizeof(counts) / sizeof(counts[0]);

    if (!rz_fuzz_dtype_ok(f32)) {
        return 0;
    }
    for (size_t c = 0; c < ncounts; c++) {
        size_t n = counts[c], cap, sz = 0;
        uint64_t s = 0x5eed0000u + c;
        rz_compressor_key_t key = {1234u + c, c, c % 3, c % 4};
        uint8_t *buf;
        float *x;
        char path[4096];
        FILE *f;
        int ok;
        rz_status_t st;

        cap = rz_fuzz_ops->max_compressed_size(rz_fuzz_ctx, f32, n);
        buf = rz_fuzz_alloc(RZ_FUZZ_HEADER + cap);
        x = rz_fuzz_alloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            x[i] = rz_fuzz_gauss(&s) * (c % 2 ? 1e-3f : 10.0f);
        }
        st = rz_fuzz_ops->compress(rz_fuzz_ctx, &key, f32, x, n,
                                   buf + RZ_FUZZ_HEADER, cap, &sz, NULL);
        free(x);
        if (st != RZ_OK) {
            fprintf(stderr, "rz_fuzz: seed compress(%zu) failed: %d\n", n,
                    (int)st);
            free(buf);
            return 1;
        }
        /* Longer than -max_len, libFuzzer would cut it short: no use. */
        if (RZ_FUZZ_HEADER + sz > RZ_FUZZ_MAX_LEN) {
            free(buf);
            continue;
        }
        rz_fuzz_put_u16(buf, rz_fuzz_count_raw(n));
        buf[2] = (uint8_t)(c * 5 & 0x3f); /* alpha, beta, NULL and raw */
        buf[3] = 0;
        buf[4] = (uint8_t)key.seed;
        buf[5] = (uint8_t)(key.seed >> 8);
        buf[6] = buf[7] = 0;
        rz_fuzz_put_u16(buf + 8, (unsigned)key.iteration);
        rz_fuzz_put_u16(buf + 10, (unsigned)key.chunk);
        buf[12] = (uint8_t)key.rank;
        buf[13] = (uint8_t)c;
        buf[14] = buf[15] = 0;
        snprintf(path, sizeof(path), "%s/seed_%02zu_n%zu", dir, c, n);
        f = fopen(path, "wb");
        ok = f != NULL &&
             fwrite(buf, 1, RZ_FUZZ_HEADER + sz, f) == RZ_FUZZ_HEADER + sz;
        if (f != NULL && fclose(f) != 0) {
            ok = 0;
        }
        free(buf);
        if (!ok) {
            fprintf(stderr, "rz_fuzz: cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ libFuzzer */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *seeds = getenv("RZ_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    rz_fuzz_setup();
    if (seeds != NULL) {
        exit(rz_fuzz_write_seeds(seeds));
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    rz_fuzz_input_t in;

    if (rz_fuzz_parse(data, len, &in) != 0) {
        return 0;
    }
    rz_fuzz_decode(&in);
    rz_fuzz_roundtrip(&in);
    return 0;
}
