/*
 * none codec unit test: dlopens librz_none.so (argv[1]) and checks the
 * reference semantics every codec shares: the wire is the input's fp32
 * bytes, little-endian, bit for bit (NaN payloads, signalling NaNs, -0,
 * subnormals, inf); the residual is +0 everywhere, in place too; decoding
 * accumulates y = beta*y + alpha*v as fl(fl(beta*y) + fl(alpha*v)) and
 * does not read y when beta is 0; sizes are exactly 4n (C5), nothing for an
 * empty chunk, and anything else is malformed.
 */
#include "codec_test.h"

#include <float.h>

#define WIRE_ID 1u

static const rz_compressor_v1_t *ops;
static const rz_compressor_key_t key0 = {42, 0, 0, 0};

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static rz_status_t enc(void *ctx, const float *in, size_t n, void *out,
                       size_t cap, size_t *size_p, float *res)
{
    return ops->compress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, in, n, out, cap,
                         size_p, res);
}

static rz_status_t dec(void *ctx, const void *in, size_t size, float *y,
                       size_t n, float alpha, float beta)
{
    return ops->decompress(ctx, &key0, RZ_COMPRESSOR_DTYPE_F32, in, size, y, n,
                           alpha, beta);
}

/* Element i of the wire, read as little-endian bytes. */
static uint32_t wire32(const unsigned char *w, size_t i)
{
    const unsigned char *p = w + 4 * i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void test_abi(void *ctx)
{
    rz_compressor_info_t info;
    double delta = 0.0;

    CHECK(ops->abi_version == RZ_COMPRESSOR_ABI_VERSION, "abi_version");
    CHECK(ops->struct_size == sizeof(rz_compressor_v1_t), "struct_size");
    CHECK(strcmp(ops->name, "none") == 0, "name %s", ops->name);
    CHECK(ops->description != NULL, "description");
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    CHECK(ops->query(ctx, &info) == RZ_OK, "query");
    CHECK(info.caps ==
              (RZ_COMPRESSOR_CAP_LOSSLESS | RZ_COMPRESSOR_CAP_CONTRACTIVE |
               RZ_COMPRESSOR_CAP_LINEAR | RZ_COMPRESSOR_CAP_IDEMPOTENT |
               RZ_COMPRESSOR_CAP_DETERMINISTIC | RZ_COMPRESSOR_CAP_HOMOGENEOUS |
               RZ_COMPRESSOR_CAP_FIXED_SIZE),
          "caps 0x%x", info.caps);
    CHECK(info.dtypes == RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32),
          "dtypes");
    CHECK(info.min_count == 0, "min_count");
    CHECK(info.wire_id == WIRE_ID, "wire_id %u", info.wire_id);
    CHECK(info.priority == 0, "priority");
    /* An older, shorter info: nothing past struct_size is written. */
    memset(&info, 0xA5, sizeof(info));
    info.struct_size = 8;
    CHECK(ops->query(ctx, &info) == RZ_OK, "short query");
    CHECK(info.caps != 0xA5A5A5A5u, "caps fits in 8 bytes");
    CHECK(info.dtypes == 0xA5A5A5A5A5A5A5A5ull && info.wire_id == 0xA5A5A5A5u,
          "query wrote past struct_size");
    CHECK(ops->query(ctx, NULL) == RZ_ERR_INVALID_PARAM, "query NULL");
    /* Lossless: delta = 1 for every count. */
    CHECK(ops->delta_bound != NULL, "delta_bound");
    CHECK(ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F32, 1000, &delta) ==
                  RZ_OK &&
              delta == 1.0,
          "delta %g", delta);
    CHECK(ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F64, 1000, &delta) ==
              RZ_ERR_NOT_SUPPORTED,
          "delta of f64");
    CHECK(ops->delta_bound(ctx, RZ_COMPRESSOR_DTYPE_F32, 1, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "delta NULL");
}

static void test_params(void)
{
    static const char *good[] = {NULL, "", ",", ",,"};
    static const char *bad[] = {"x=1", "impl=portable", "ratio", "=1", ",a=b"};
    void *ctx;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ctx = NULL;
        CHECK(ops->init(&rz_ct_host, good[i], &ctx) == RZ_OK && ctx != NULL,
              "init(\"%s\") should work", good[i] ? good[i] : "(null)");
        if (ctx != NULL) {
            ops->finalize(ctx);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ctx = NULL;
        CHECK(ops->init(&rz_ct_host, bad[i], &ctx) == RZ_ERR_INVALID_PARAM,
              "init(\"%s\") should fail", bad[i]);
        CHECK(ctx == NULL, "ctx set on failure");
    }
}

/* Special values pass through bit for bit; the residual is +0 for all of
 * them (NaN and inf included: nothing was lost). */
static void test_exact(void *ctx)
{
    static const uint32_t pats[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x00800000u,
        0x3F800000u, 0xBF800001u, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x7F800000u,
        0xFF800000u, 0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x7FBFFFFFu,
        0x12345678u, 0xDEADBEEFu};
    enum { N = sizeof(pats) / sizeof(pats[0]) };
    float in[N], res[N], io[N];
    unsigned char out[4 * N + 1], out2[4 * N];
    size_t size = 0;

    memcpy(in, pats, sizeof(in));
    memset(res, 0xFF, sizeof(res));
    CHECK(enc(ctx, in, N, out + 1, 4 * N, &size, res) == RZ_OK && size == 4 * N,
          "encode specials");
    for (size_t i = 0; i < N; i++) {
        CHECK(wire32(out + 1, i) == pats[i], "0x%08x sent as 0x%08x", pats[i],
              wire32(out + 1, i));
        CHECK(f2u(res[i]) == 0u, "residual of 0x%08x is 0x%08x, want +0",
              pats[i], f2u(res[i]));
    }
    CHECK(memcmp(in, pats, sizeof(in)) == 0, "input modified");
    /* In place: the bytes are taken before the residual overwrites in. */
    memcpy(io, pats, sizeof(io));
    CHECK(enc(ctx, io, N, out2, sizeof(out2), &size, io) == RZ_OK &&
              memcmp(out2, out + 1, sizeof(out2)) == 0,
          "in-place encode");
    for (size_t i = 0; i < N; i++) {
        CHECK(f2u(io[i]) == 0u, "in-place residual %zu", i);
    }
}

/* C3, C5, C6 and decode-accumulate on random vectors of many lengths,
 * through aligned and unaligned wire buffers. */
static void test_invariants(void *ctx)
{
    static const size_t lens[] = {1,  2,  3,  4,  5,   7,   8,   9,    15,
                                  16, 17, 31, 63, 255, 256, 257, 1000, 4099};
    enum { NMAX = 4099, GUARD = 16 };
    float *v = malloc(NMAX * 4), *b = malloc(NMAX * 4), *r = malloc(NMAX * 4);
    float *y = malloc(NMAX * 4), *y0 = malloc(NMAX * 4);
    unsigned char *w = malloc(4 * NMAX + GUARD + 3);
    unsigned char *w2 = malloc(4 * NMAX);

    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t n = lens[li], size = 0, size2 = 0;

        for (size_t off = 0; off < 4; off++) {
            unsigned char *o = w + off;

            rz_ct_fill(v, n, off == 3 ? 1e-40 : 1.0); /* subnormals too */
            rz_ct_fill(b, n, 1.0);
            CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, n) ==
                      4 * n,
                  "C5: max size of %zu", n);
            memset(w, 0xEE, 4 * n + GUARD + 3);
            memset(r, 0xFF, n * 4);
            CHECK(enc(ctx, v, n, o, 4 * n, &size, r) == RZ_OK && size == 4 * n,
                  "C5: size %zu for n %zu", size, n);
            for (size_t i = 0; i < GUARD; i++) {
                CHECK(o[4 * n + i] == 0xEE, "wrote past 4n");
            }
            for (size_t i = 0; i < off; i++) {
                CHECK(w[i] == 0xEE, "wrote before out");
            }
            for (size_t i = 0; i < n; i++) {
                CHECK(wire32(o, i) == f2u(v[i]), "n %zu elt %zu", n, i);
                CHECK(f2u(r[i]) == 0u, "residual +0 at %zu", i);
            }
            /* In place (residual == in): the same bytes, then all +0. */
            memcpy(y, v, n * 4);
            CHECK(enc(ctx, y, n, w2, 4 * n, &size2, y) == RZ_OK &&
                      size2 == size && memcmp(w2, o, size) == 0,
                  "in-place bytes, n %zu", n);
            for (size_t i = 0; i < n; i++) {
                CHECK(f2u(y[i]) == 0u, "in-place residual +0 at %zu", i);
            }
            /* beta = 0: y = alpha*v; NaN in y must not leak. */
            for (size_t i = 0; i < n; i++) {
                y[i] = NAN;
            }
            CHECK(dec(ctx, o, size, y, n, 1.0f, 0.0f) == RZ_OK &&
                      memcmp(y, v, n * 4) == 0,
                  "decode n %zu off %zu", n, off);
            /* C3: re-encoding the decoded vector gives the same bytes. */
            CHECK(enc(ctx, y, n, w2, 4 * n, &size2, NULL) == RZ_OK &&
                      size2 == size && memcmp(w2, o, size) == 0,
                  "C3");
            for (size_t i = 0; i < n; i++) {
                y[i] = NAN;
            }
            CHECK(dec(ctx, o, size, y, n, 0.5f, -0.0f) == RZ_OK, "dec");
            for (size_t i = 0; i < n; i++) {
                CHECK(f2u(y[i]) == f2u(0.5f * v[i]), "beta -0 at %zu", i);
            }
            /* beta = 1, alpha = 0.5: fl(y + fl(0.5 v)). */
            memcpy(y, b, n * 4);
            CHECK(dec(ctx, o, size, y, n, 0.5f, 1.0f) == RZ_OK, "dec");
            for (size_t i = 0; i < n; i++) {
                float want = 1.0f * b[i] + 0.5f * v[i];
                CHECK(f2u(y[i]) == f2u(want), "beta 1 alpha 0.5 at %zu", i);
            }
            /* General coefficients, one rounding per operation. */
            memcpy(y0, y, n * 4);
            CHECK(dec(ctx, o, size, y, n, -1.25f, 0.3f) == RZ_OK, "dec");
            for (size_t i = 0; i < n; i++) {
                float bt = 0.3f * y0[i], at = -1.25f * v[i];
                CHECK(f2u(y[i]) == f2u(bt + at), "axpby at %zu", i);
            }
            /* Linear: Dec(Enc(a)) + Dec(Enc(b)) is the fp32 a + b. */
            CHECK(dec(ctx, o, size, y, n, 1.0f, 0.0f) == RZ_OK &&
                      enc(ctx, b, n, w2, 4 * n, &size2, NULL) == RZ_OK &&
                      dec(ctx, w2, size2, y, n, 1.0f, 1.0f) == RZ_OK,
                  "linear");
            for (size_t i = 0; i < n; i++) {
                CHECK(f2u(y[i]) == f2u(v[i] + b[i]), "linear at %zu", i);
            }
        }
    }
    free(v);
    free(b);
    free(r);
    free(y);
    free(y0);
    free(w);
    free(w2);
}

/* Empty chunks, capacity, dtype, NULL pointers and malformed sizes. */
static void test_errors(void *ctx)
{
    static const size_t bad_sizes[] = {0, 1, 4, 16, 28, 31, 33, 36, 64};

    rz_ct_dense_errors(ops, &key0, enc, dec, ctx, 4, RZ_COMPRESSOR_DTYPE_F16,
                       "f16", RZ_COMPRESSOR_DTYPE_BF16, -1, bad_sizes,
                       sizeof(bad_sizes) / sizeof(bad_sizes[0]));
}

int main(int argc, char **argv)
{
    void *ctx;

    if (argc < 2) {
        fprintf(stderr, "usage: %s librz_none.so\n", argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);
    ctx = rz_ct_init(ops, NULL);
    test_abi(ctx);
    test_params();
    test_exact(ctx);
    test_invariants(ctx);
    test_errors(ctx);
    ops->finalize(ctx);
    return rz_ct_report("codec_none");
}
