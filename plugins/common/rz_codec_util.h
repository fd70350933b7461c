/*
 * Small helpers shared by ringzip's in-tree compressor plugins (header-only,
 * static inline; not installed: out-of-tree plugins need only
 * <ringzip/compressor.h>). Parameter strings, unaligned little-endian
 * loads and stores, bit casts, the SplitMix64 key of ALGORITHMS.md
 * section 1.2 note 6, and the query()/finalize() glue every fp32 codec
 * shares. rz_codec_k.h (top-k, random-k) and rz_codec_dense.h (none, fp16,
 * bf16) build on it.
 */
#ifndef RZ_CODEC_UTIL_H
#define RZ_CODEC_UTIL_H

#include <ringzip/compressor.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- parameters */

/*
 * Walk "key=value,key=value". On each call, copies the next key and value
 * into @key / @val (NUL-terminated, truncated lengths rejected) and advances
 * *@pos. Returns 1 for a pair, 0 at the end, -1 for a syntax error (missing
 * '=', empty key, too long).
 */
static inline int rz_codec_param_next(const char **pos, char *key,
                                      size_t key_len, char *val,
                                      size_t val_len)
{
    const char *p = *pos, *eq, *end;

    if (p == NULL) {
        return 0;
    }
    while (*p == ',') {
        p++;
    }
    if (*p == '\0') {
        *pos = p;
        return 0;
    }
    end = strchr(p, ',');
    if (end == NULL) {
        end = p + strlen(p);
    }
    eq = memchr(p, '=', (size_t)(end - p));
    if (eq == NULL || eq == p || (size_t)(eq - p) >= key_len ||
        (size_t)(end - eq - 1) >= val_len) {
        return -1;
    }
    memcpy(key, p, (size_t)(eq - p));
    key[eq - p] = '\0';
    memcpy(val, eq + 1, (size_t)(end - eq - 1));
    val[end - eq - 1] = '\0';
    *pos = end;
    return 1;
}

/* Whole-string unsigned integer in [lo, hi]; 0 on success. */
static inline int rz_codec_parse_u64(const char *s, uint64_t lo, uint64_t hi,
                                     uint64_t *v_p)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *v_p = v;
    return 0;
}

/* Whole-string double in (lo, hi]; 0 on success. */
static inline int rz_codec_parse_double(const char *s, double lo, double hi,
                                        double *v_p)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v > lo) || !(v <= hi)) {
        return -1;
    }
    *v_p = v;
    return 0;
}

/* ------------------------------------------------- bytes and bit casts */

static inline uint32_t rz_codec_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float rz_codec_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Little-endian unaligned access (x86 and every little-endian target
 * compile these to plain moves). */
static inline uint32_t rz_codec_load_u32(const void *p)
{
    const unsigned char *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline void rz_codec_store_u32(void *p, uint32_t v)
{
    unsigned char *b = p;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static inline float rz_codec_load_f32(const void *p)
{
    return rz_codec_bits_f32(rz_codec_load_u32(p));
}

static inline void rz_codec_store_f32(void *p, float f)
{
    rz_codec_store_u32(p, rz_codec_f32_bits(f));
}

/* y = beta*y + alpha*d as the ABI defines it: fl(fl(beta*y) + fl(alpha*d)),
 * the beta term omitted (y not read) when beta == 0. */
static inline float rz_codec_axpby(float y, float d, float alpha, float beta)
{
    return beta == 0.0f ? alpha * d : beta * y + alpha * d;
}

/* ------------------------------------------------- SplitMix64 keys */

static inline uint64_t rz_codec_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* key(a, b, c, d) = mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d). */
static inline uint64_t rz_codec_key4(uint64_t a, uint64_t b, uint64_t c,
                                     uint64_t d)
{
    return rz_codec_mix64(rz_codec_mix64(rz_codec_mix64(rz_codec_mix64(a) ^ b)
                                         ^ c) ^ d);
}

/* Stream ids of key(seed, stream, t, c); ALGORITHMS.md reserves 5 for
 * random-k; QSGD uses 6 (and mixes in the rank). */
#define RZ_CODEC_STREAM_RANDK 5u
#define RZ_CODEC_STREAM_QSGD  6u

/* ------------------------------------------------- query and finalize */

/* Only the members that fit in the host's struct_size are written, so an
 * older host with a shorter rz_compressor_info_t keeps its memory. */
#define RZ_CODEC_INFO_SET(info, member, value)                                 \
    do {                                                                       \
        if ((info)->struct_size >=                                             \
            offsetof(rz_compressor_info_t, member) + sizeof((info)->member)) { \
            (info)->member = (value);                                          \
        }                                                                      \
    } while (0)

/* query() of a codec that takes fp32 only, at priority 0. */
static inline rz_status_t rz_codec_query_f32(void *ctx,
                                             rz_compressor_info_t *info,
                                             uint32_t caps, uint64_t min_count,
                                             uint32_t wire_id)
{
    if (ctx == NULL || info == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    RZ_CODEC_INFO_SET(info, caps, caps);
    RZ_CODEC_INFO_SET(info, dtypes,
                      RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32));
    RZ_CODEC_INFO_SET(info, min_count, min_count);
    RZ_CODEC_INFO_SET(info, wire_id, wire_id);
    RZ_CODEC_INFO_SET(info, priority, 0);
    return RZ_OK;
}

/* finalize() of a codec whose context is one calloc'd block. */
static inline void rz_codec_finalize(void *ctx)
{
    free(ctx);
}

/* Host logging shorthand. */
#define RZ_CODEC_LOG(host, level, ...) (host)->log((host), (level), __VA_ARGS__)

#endif
