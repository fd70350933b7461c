/*
 * Unit test of the blocksign plugin (blockwise scaled sign, ALGORITHMS.md
 * 1.2 and 5.1):
 *     test_codec_blocksign <path to librz_blocksign.so> [librz_sign.so]
 *
 * The checks are sign's (test_codec_sign.c, included below), run per block
 * length L: short blocks (1, 3, 8, 13), the default 256, L = n and L > n,
 * over the sizes C5 names. With sign's plugin as a second argument, a
 * blocksign wire with L >= n must equal sign's byte for byte.
 */
#define RZ_SIGN_TEST_SHARED_ONLY
#include "test_codec_sign.c"

static void bt_open(st_codec_t *c, const rz_compressor_v1_t *ops,
                    size_t block)
{
    char params[48];

    snprintf(params, sizeof(params), "block=%zu", block);
    c->ops = ops;
    c->ctx = rz_ct_init(ops, params);
    c->block = block;
    c->label = "blocksign";
}

/* L = n, L = n + 1 and L = 2^31 (one block each) for the C5 sizes, and the
 * same bytes as sign when sign's plugin is given. */
static void bt_check_one_block(const rz_compressor_v1_t *ops,
                               const rz_compressor_v1_t *sign_ops)
{
    static const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 1000, 4097};
    st_codec_t sign_c = {sign_ops, NULL, ST_WHOLE, "sign"};

    if (sign_ops != NULL) {
        sign_c.ctx = rz_ct_init(sign_ops, NULL);
    }
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        size_t n = ns[j], blocks[3] = {n, n + 1, (size_t)1 << 31};
        float *v = st_floats(n);

        rz_ct_fill(v, n, 2.0);
        for (size_t k = 0; k < 3; k++) {
            st_codec_t c;

            bt_open(&c, ops, blocks[k]);
            st_check_vector(&c, v, n, 1, "one block");
            if (sign_ops != NULL) {
                size_t sz = st_ref_size(n, ST_WHOLE), s1 = 0, s2 = 0;
                unsigned char *w1 = st_bytes(sz), *w2 = st_bytes(sz);
                int ok = st_encode(&c, v, n, w1, sz, &s1, NULL) == RZ_OK &&
                         st_encode(&sign_c, v, n, w2, sz, &s2, NULL) ==
                             RZ_OK &&
                         s1 == sz && s2 == sz && memcmp(w1, w2, sz) == 0;
                CHECK(ok, "blocksign block=%zu n=%zu: bytes differ from "
                      "sign's", blocks[k], n);
                free(w1);
                free(w2);
            }
            c.ops->finalize(c.ctx);
        }
        free(v);
    }
    if (sign_ops != NULL) {
        sign_ops->finalize(sign_c.ctx);
    }
}

/* Sizes for every (n, L) pair C5 lists, straight from max_compressed_size
 * and compress: ceil(n/8) + 4 ceil(n/L). */
static void bt_check_size_table(const rz_compressor_v1_t *ops)
{
    static const size_t ns[] = {0, 1, 7, 8, 9, 15, 16, 17, 1000, 4097};
    static const size_t ls[] = {1, 3, 8, 256};

    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        size_t n = ns[j];
        size_t blocks[6] = {ls[0], ls[1], ls[2], ls[3], n ? n : 1, n + 5};
        float *v = st_floats(n);

        rz_ct_fill(v, n, 1.0);
        for (size_t k = 0; k < 6; k++) {
            size_t L = blocks[k];
            size_t want = n == 0 ? 0 : (n + 7) / 8 + 4 * ((n + L - 1) / L);
            size_t size = 12345;
            unsigned char *w = st_bytes(want);
            st_codec_t c;
            rz_status_t st;

            bt_open(&c, ops, L);
            st = st_encode(&c, v, n, n ? w : NULL, want, &size, NULL);
            CHECK(st == RZ_OK && size == want &&
                      ops->max_compressed_size(c.ctx, RZ_COMPRESSOR_DTYPE_F32,
                                               n) == want,
                  "blocksign n=%zu block=%zu: size %zu (%d), want %zu", n, L,
                  size, (int)st, want);
            ops->finalize(c.ctx);
            free(w);
        }
        free(v);
    }
}

/*
 * Crafted scales per block (see st_fill_tree in test_codec_sign.c): blocks
 * after the first, aligned to 8 and not. "restart" puts 1, 2^-24, 2^-54,
 * 2^-54, 2^-54, 0, 0, 0 in a block of 8 that starts at element 11 (lane 3
 * of the chunk): with lanes restarted at the block, (L2 + L3) = 2^-53 ties
 * to even and the right half (2^-54) is absorbed, so T = 1 + 2^-24 and the
 * scale is 1/8; counting lanes from the chunk start would put the tiny
 * values beside 2^-24 and round up to (1 + 2^-23)/8.
 */
static void bt_check_crafted(const rz_compressor_v1_t *ops)
{
    float *v = st_floats(8192 + 16);
    st_codec_t c;

    rz_ct_fill(v, 8, 1.0);
    st_fill_tree(v + 8);
    bt_open(&c, ops, 8);
    st_check_crafted(&c, v, 16, 1, ST_TREE_SCALE, "crafted tree, block 1");
    ops->finalize(c.ctx);

    rz_ct_fill(v, 4096, 1.0);
    st_fill_long(v + 4096);
    bt_open(&c, ops, 4096);
    st_check_crafted(&c, v, 8192, 1, ST_LONG_SCALE, "crafted long, block 1");
    ops->finalize(c.ctx);

    for (size_t k = 0; k < 2; k++) {
        size_t block = k == 0 ? 11 : 4099;
        float *blk = v + block;

        rz_ct_fill(v, block, 1.0);
        memset(blk, 0, 8 * sizeof(float));
        blk[0] = 1.0f;
        blk[1] = 0x1p-24f;
        blk[2] = blk[3] = blk[4] = 0x1p-54f;
        bt_open(&c, ops, block);
        st_check_crafted(&c, v, block + 8, 1, 0x3E000000u,
                         k == 0 ? "crafted restart, L=11"
                                : "crafted restart, L=4099");
        ops->finalize(c.ctx);
    }
    free(v);
}

int main(int argc, char **argv)
{
    static const size_t short_blocks[] = {1, 3, 8, 13, 256};
    const rz_compressor_v1_t *ops, *sign_ops = NULL;
    st_codec_t c;
    double delta = 0;
    void *ctx;

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s librz_blocksign.so [librz_sign.so]\n",
                argv[0]);
        return 2;
    }
    ops = rz_ct_load(argv[1]);
    if (argc == 3) {
        sign_ops = rz_ct_load(argv[2]);
    }

    /* Defaults: block = 256, visible in the size for 1000 elements. */
    ctx = rz_ct_init(ops, NULL);
    CHECK(ops->max_compressed_size(ctx, RZ_COMPRESSOR_DTYPE_F32, 1000) ==
              125 + 4 * 4, "blocksign: default block is not 256");
    ops->finalize(ctx);

    bt_open(&c, ops, 256);
    st_check_query(&c, 5);
    ops->finalize(c.ctx);

    bt_check_size_table(ops);
    for (size_t j = 0; j < sizeof(short_blocks) / sizeof(short_blocks[0]);
         j++) {
        bt_open(&c, ops, short_blocks[j]);
        st_check_sizes_and_vectors(&c);
        st_check_special(&c);
        st_check_malformed(&c);
        st_check_errors(&c);
        ops->finalize(c.ctx);
    }
    bt_check_one_block(ops, sign_ops);
    bt_check_crafted(ops);

    /* Many blocks: aligned to bytes (256), not aligned (1000), L = 1. */
    bt_open(&c, ops, 256);
    st_check_large(&c);
    ops->finalize(c.ctx);
    bt_open(&c, ops, 1000);
    st_check_large(&c);
    ops->finalize(c.ctx);
    bt_open(&c, ops, 1);
    st_check_large(&c);

    /* delta = 1/min(L, n). */
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F32, 1000, &delta) ==
              RZ_OK && delta == 1.0, "blocksign L=1: delta %g", delta);
    ops->finalize(c.ctx);
    bt_open(&c, ops, 256);
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F32, 1000, &delta) ==
              RZ_OK && delta == 1.0 / 256, "blocksign L=256 n=1000: delta %g",
          delta);
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F32, 100, &delta) ==
              RZ_OK && delta == 1.0 / 100, "blocksign L=256 n=100: delta %g",
          delta);
    CHECK(ops->delta_bound(c.ctx, RZ_COMPRESSOR_DTYPE_F64, 100, &delta) ==
              RZ_ERR_NOT_SUPPORTED, "blocksign: delta_bound for F64");
    ops->finalize(c.ctx);

    st_expect_good_params(ops, NULL);
    st_expect_good_params(ops, "");
    st_expect_good_params(ops, "block=1");
    st_expect_good_params(ops, "block=2147483648");
    st_expect_bad_params(ops, "block=0");
    st_expect_bad_params(ops, "block=abc");
    st_expect_bad_params(ops, "block=-1");
    st_expect_bad_params(ops, "block=+8");
    st_expect_bad_params(ops, "block=8x");
    st_expect_bad_params(ops, "block=");
    st_expect_bad_params(ops, "block=2147483649");
    st_expect_bad_params(ops, "block=99999999999999999999999");
    st_expect_bad_params(ops, "block");
    st_expect_bad_params(ops, "foo=1");
    st_expect_bad_params(ops, "block=8,foo=2");
    st_expect_bad_params(ops, "block=8,block=16");
    return rz_ct_report("codec_blocksign");
}
