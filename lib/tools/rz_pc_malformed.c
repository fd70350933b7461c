/*
 * rz_plugin_check's properties about bad input: malformed, truncated
 * and random bytes to decompress (malformed), and invalid arguments,
 * short capacities and undeclared element types (errors).
 */
#include "rz_pc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* malformed: fuzz decodes per vector, below and above this count. */
#define RZ_PC_FUZZ_SMALL_N   4097
#define RZ_PC_FUZZ_SMALL     96
#define RZ_PC_FUZZ_LARGE     12

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
void rz_pc_prop_malformed(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_errors(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
