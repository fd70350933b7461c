/*
 * rz_plugin_check's properties of the struct and of the codec: load,
 * params, size (C5), residual (C6), accumulate, round-trip,
 * determinism, contraction (C2), idempotence (C3), homogeneity (C4),
 * linearity and unbiased (C2).
 */
#include "rz_pc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* unbiased: keys per vector and the largest count tried. */
#define RZ_PC_UNBIASED_KEYS  500
#define RZ_PC_UNBIASED_MAX_N 4097
/* contraction: relative slack for rounding (the norms are long double). */
#define RZ_PC_CONTRACT_SLACK 1e-12

/* ------------------------------------------------------------ properties */

/* load: the struct, query and the declared types. */
void rz_pc_prop_load(rz_pc_t *pc, const rz_pc_dtype_t *unused)
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
void rz_pc_prop_params(rz_pc_t *pc, const rz_pc_dtype_t *unused)
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
void rz_pc_prop_size(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_residual(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_accumulate(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_roundtrip(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_determinism(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_contraction(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_idempotence(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_homogeneity(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
void rz_pc_prop_linearity(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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

void rz_pc_prop_unbiased(rz_pc_t *pc, const rz_pc_dtype_t *dt)
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
