/**
 * @file compressor.h
 * @brief The compressor plugin ABI, version 1: everything a plugin author
 *        needs, and nothing else (no other ringzip header is required).
 *
 * A compressor plugin is a shared object named `librz_<name>.so` that
 * exports exactly one symbol:
 *
 * @code
 *   RZ_COMPRESSOR_EXPORT const rz_compressor_v1_t rz_compressor_plugin_v1 = {
 *       .abi_version = RZ_COMPRESSOR_ABI_VERSION,
 *       .struct_size = sizeof(rz_compressor_v1_t),
 *       .name        = "<name>",
 *       ...
 *   };
 * @endcode
 *
 * Build it with `-fvisibility=hidden` so that nothing else is exported.
 * ringzip finds plugins in RZ_PLUGIN_PATH (a colon-separated list of
 * directories), then in `ringzip/` beside libringzip.so, then in the
 * install libdir's `ringzip/`; it checks abi_version, struct_size, that
 * `name` matches the file name and that every mandatory pointer is set,
 * and rejects the plugin with a log line naming the file otherwise.
 *
 * Semantics (normative text: docs/PLUGINS.md and ALGORITHMS.md section 1):
 *   - compress() encodes n elements of @p in into wire bytes and, when asked,
 *     writes the residual r = in - Dec(out) computed from exactly the fp32
 *     values a receiver will decode (error feedback keeps r);
 *   - decompress() computes y = beta*y + alpha*Dec(in) elementwise, as
 *     fl(fl(beta*y) + fl(alpha*d)), so a reduction fuses with decoding;
 *     with beta == 0 the term is omitted and y is only written;
 *   - n = 0 encodes to 0 bytes and decodes 0 bytes (nothing is sent);
 *   - wire bytes are untrusted: decompress() validates sizes, counts and
 *     indices and returns RZ_ERR_MALFORMED without touching memory out of
 *     bounds.
 *
 * Stability: this header is frozen for ABI version 1. New members may only
 * be appended to the end of rz_compressor_v1_t, rz_compressor_info_t and
 * rz_compressor_host_t; the struct_size fields tell each side which members
 * the other knows. Any other change is a new symbol
 * (`rz_compressor_plugin_v2`) and a host-side shim for v1 plugins.
 */
#ifndef RINGZIP_COMPRESSOR_H
#define RINGZIP_COMPRESSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version implemented by this header. */
#define RZ_COMPRESSOR_ABI_VERSION 1u
/** Name of the one symbol a v1 plugin exports. */
#define RZ_COMPRESSOR_SYMBOL_V1 "rz_compressor_plugin_v1"
/** Longest plugin name (bytes, without the terminating NUL). */
#define RZ_COMPRESSOR_NAME_MAX 31

/** Marks the plugin struct as exported when building with hidden
 *  visibility. */
#if defined(__GNUC__)
#define RZ_COMPRESSOR_EXPORT __attribute__((visibility("default")))
#else
#define RZ_COMPRESSOR_EXPORT
#endif

#ifndef RZ_STATUS_T_DEFINED
#define RZ_STATUS_T_DEFINED
/**
 * @brief Result of every ringzip and plugin call (identical to the
 *        definition in ringzip/status.h; whichever header comes first
 *        defines it).
 */
typedef enum {
    RZ_OK                =   0, /**< Success. */
    RZ_INPROGRESS        =   1, /**< Operation started and not complete. */
    RZ_ERR_INVALID_PARAM =  -1, /**< NULL pointer, bad count, unknown dtype/op, bad handle. */
    RZ_ERR_NOT_SUPPORTED =  -2, /**< Valid request this build or pair does not implement. */
    RZ_ERR_NO_MEMORY     =  -3, /**< Allocation failed. */
    RZ_ERR_TIMEOUT       =  -4, /**< No progress within RZ_TIMEOUT_MS. */
    RZ_ERR_PEER_FAILURE  =  -5, /**< A peer process died or its connection broke. */
    RZ_ERR_MISMATCH      =  -6, /**< Ranks called the collective with different arguments. */
    RZ_ERR_ABORTED       =  -7, /**< The communicator was aborted earlier. */
    RZ_ERR_BOOTSTRAP     =  -8, /**< Rendezvous failed: root unreachable, wrong size, duplicate rank. */
    RZ_ERR_AUTH          =  -9, /**< Session key refused by the bootstrap root. */
    RZ_ERR_TRANSPORT     = -10, /**< The UCX transport reported an error. */
    RZ_ERR_IO            = -11, /**< A system call failed. */
    RZ_ERR_MALFORMED     = -12, /**< Received bytes failed validation. */
    RZ_ERR_INTERNAL      = -13, /**< A bug in ringzip; please report it. */
    RZ_ERR_PLUGIN        = -14, /**< A plugin file is broken or incompatible (ABI version, size, name, symbols). */
    RZ_ERR_NEED_SYNC     = -15, /**< rz_ef_exchange() on a LIEC sync iteration: call rz_ef_liec_sync(). */
    RZ_ERR_LAST          = -16  /**< One past the last error; not a status. */
} rz_status_t;
#endif

/** @name Element types a plugin may accept (the values of rz_dtype_t). */
/**@{*/
#define RZ_COMPRESSOR_DTYPE_F32  0u
#define RZ_COMPRESSOR_DTYPE_F64  1u
#define RZ_COMPRESSOR_DTYPE_F16  2u
#define RZ_COMPRESSOR_DTYPE_BF16 3u
/** Bit for dtype @p d in rz_compressor_info_t.dtypes. */
#define RZ_COMPRESSOR_DTYPE_BIT(d) (1ull << (d))
/**@}*/

/** @name Capability bits (rz_compressor_info_t.caps). */
/**@{*/
/** ||C(v) - v||^2 <= (1 - delta) ||v||^2 with delta > 0 for every v
 *  (deterministically); delta_bound() may say how large delta is. */
#define RZ_COMPRESSOR_CAP_CONTRACTIVE   (1u << 0)
/** E[C(v)] = v over the randomness of the key. */
#define RZ_COMPRESSOR_CAP_UNBIASED      (1u << 1)
/** C(a) + C(b) = C(a + b) when both use the same key (shared seed):
 *  compressed vectors may be summed without re-compression. */
#define RZ_COMPRESSOR_CAP_LINEAR        (1u << 2)
/** C(C(v)) = C(v), bitwise on decoded values, with the same key. */
#define RZ_COMPRESSOR_CAP_IDEMPOTENT    (1u << 3)
/** The same (input, key, parameters) always give the same bytes. */
#define RZ_COMPRESSOR_CAP_DETERMINISTIC (1u << 4)
/** C(2^j v) = 2^j C(v) bitwise, barring overflow and subnormals. */
#define RZ_COMPRESSOR_CAP_HOMOGENEOUS   (1u << 5)
/** compress() always writes exactly max_compressed_size() bytes, and
 *  decompress() refuses (RZ_ERR_MALFORMED) any other size for the count. */
#define RZ_COMPRESSOR_CAP_FIXED_SIZE    (1u << 6)
/** Dec(Enc(v)) = v bitwise (identity); implies a zero residual. */
#define RZ_COMPRESSOR_CAP_LOSSLESS      (1u << 7)
/**@}*/

/** @name Log levels of rz_compressor_host_t.log. */
/**@{*/
#define RZ_COMPRESSOR_LOG_ERROR 1
#define RZ_COMPRESSOR_LOG_WARN  2
#define RZ_COMPRESSOR_LOG_INFO  3
#define RZ_COMPRESSOR_LOG_DEBUG 4
/**@}*/

/**
 * @brief What the host gives a plugin at init. It stays valid until
 *        finalize() returns.
 */
typedef struct rz_compressor_host {
    uint32_t abi_version;   /**< The host's RZ_COMPRESSOR_ABI_VERSION. */
    uint32_t struct_size;   /**< sizeof(rz_compressor_host_t) of the host. */
    /** printf-style logger; the host prefixes the plugin's name and drops
     *  levels below its RZ_LOG_LEVEL. Never NULL. */
    void (*log)(const struct rz_compressor_host *host, int level,
                const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    void *host_data;        /**< The host's; plugins leave it alone. */
} rz_compressor_host_t;

/**
 * @brief Per-call context. Every rank passes the same key for the same
 *        chunk of the same iteration, so shared-seed codecs (random-k)
 *        draw the same mask everywhere.
 */
typedef struct rz_compressor_key {
    uint64_t seed;          /**< Global 64-bit seed shared by all ranks. */
    uint64_t iteration;     /**< 0-based iteration t of the call. */
    uint64_t chunk;         /**< Chunk id c (0 for a whole vector). */
    uint64_t rank;          /**< Encoding rank; only codecs whose randomness
                             *   is per rank (QSGD) may use it. */
} rz_compressor_key_t;

/**
 * @brief What a plugin says about itself (query()). The host zeroes the
 *        struct and sets struct_size to its own size; the plugin fills
 *        the members that fit.
 */
typedef struct rz_compressor_info {
    uint32_t struct_size;   /**< Set by the host. */
    uint32_t caps;          /**< RZ_COMPRESSOR_CAP_* bits. */
    uint64_t dtypes;        /**< RZ_COMPRESSOR_DTYPE_BIT() of accepted types. */
    uint64_t min_count;     /**< Below this many elements compressing does
                             *   not pay; the host may send such chunks
                             *   uncompressed. */
    uint32_t wire_id;       /**< Stable id of the wire format (see below). */
    int32_t  priority;      /**< Default priority; higher wins when several
                             *   plugins offer the same name. */
} rz_compressor_info_t;

/*
 * Wire ids: 1 none, 2 fp16, 3 bf16, 4 sign, 5 blocksign, 6 topk, 7 randk,
 * 8 qsgd are ringzip's; 0x80000000 and above are free for third-party and
 * experimental plugins. A changed wire format gets a new id.
 */
#define RZ_COMPRESSOR_WIRE_ID_USER 0x80000000u

/**
 * @brief The plugin, ABI v1. Mandatory: every pointer except delta_bound.
 */
typedef struct rz_compressor_v1 {
    uint32_t    abi_version;    /**< RZ_COMPRESSOR_ABI_VERSION. */
    uint32_t    struct_size;    /**< sizeof(rz_compressor_v1_t). */
    const char *name;           /**< [a-z0-9_], 1..31 bytes; the file is
                                 *   librz_<name>.so. */
    const char *description;    /**< One line for rz_info; may be NULL. */

    /**
     * @brief Create a context.
     * @param [in]  host    Logger and host ABI version; valid until
     *                      finalize().
     * @param [in]  params  "key=value,key=value" (may be "" or NULL);
     *                      unknown keys and bad values are errors.
     * @param [out] ctx_p   The context passed to every other call.
     * @return RZ_OK, RZ_ERR_INVALID_PARAM (bad parameters; logged),
     *         RZ_ERR_NO_MEMORY, RZ_ERR_NOT_SUPPORTED.
     */
    rz_status_t (*init)(const rz_compressor_host_t *host, const char *params,
                        void **ctx_p);

    /** @brief Describe the codec configured in @p ctx (see
     *         rz_compressor_info_t). */
    rz_status_t (*query)(void *ctx, rz_compressor_info_t *info);

    /** @brief Largest number of wire bytes compress() writes for @p count
     *         elements of @p dtype; 0 for count 0. */
    size_t (*max_compressed_size)(void *ctx, uint32_t dtype, size_t count);

    /**
     * @brief Encode.
     * @param [in]  key       Seed, iteration, chunk and rank of the call.
     * @param [in]  dtype     An accepted RZ_COMPRESSOR_DTYPE_*.
     * @param [in]  in        @p count elements.
     * @param [in]  count     Element count (0 writes nothing).
     * @param [out] out       Wire bytes; no alignment may be assumed.
     * @param [in]  capacity  Bytes available at @p out (at least
     *                        max_compressed_size()).
     * @param [out] size_p    Bytes written.
     * @param [out] residual  NULL, or @p count elements receiving
     *                        in - Dec(out); may be the same pointer as
     *                        @p in (no other overlap).
     * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_NOT_SUPPORTED (dtype).
     */
    rz_status_t (*compress)(void *ctx, const rz_compressor_key_t *key,
                            uint32_t dtype, const void *in, size_t count,
                            void *out, size_t capacity, size_t *size_p,
                            void *residual);

    /**
     * @brief Decode and accumulate: y = beta*y + alpha*Dec(in).
     * @param [in]     key    The key the bytes were encoded with.
     * @param [in]     in     Wire bytes (untrusted); no alignment.
     * @param [in]     size   Bytes at @p in.
     * @param [in,out] y      @p count elements; only written when
     *                        beta == 0.
     * @param [in]     count  Elements the sender encoded.
     * @return RZ_OK, RZ_ERR_MALFORMED (bytes inconsistent with @p count or
     *         the parameters; @p y may be partly written),
     *         RZ_ERR_INVALID_PARAM, RZ_ERR_NOT_SUPPORTED.
     */
    rz_status_t (*decompress)(void *ctx, const rz_compressor_key_t *key,
                              uint32_t dtype, const void *in, size_t size,
                              void *y, size_t count, float alpha, float beta);

    /** @brief Free the context. */
    void (*finalize)(void *ctx);

    /**
     * @brief Optional (may be NULL): a delta with
     *        ||C(v) - v||^2 <= (1 - delta) ||v||^2 for every v of @p count
     *        elements (in exact arithmetic), for contractive codecs.
     */
    rz_status_t (*delta_bound)(void *ctx, uint32_t dtype, size_t count,
                               double *delta_p);
} rz_compressor_v1_t;

/*
 * Layout, checked where the compiler can (LP64 and ILP32 alike): the first
 * three members never move, so any host can read abi_version and
 * struct_size of any plugin.
 */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(offsetof(rz_compressor_v1_t, abi_version) == 0,
               "abi_version first");
_Static_assert(offsetof(rz_compressor_v1_t, struct_size) == 4,
               "struct_size second");
_Static_assert(offsetof(rz_compressor_v1_t, name) == 8, "name third");
_Static_assert(offsetof(rz_compressor_v1_t, description) ==
                   8 + sizeof(void *), "description fourth");
_Static_assert(offsetof(rz_compressor_v1_t, init) == 8 + 2 * sizeof(void *),
               "function table after the header");
_Static_assert(sizeof(rz_compressor_v1_t) == 8 + 9 * sizeof(void *),
               "v1 size: header + description + 8 function pointers");
_Static_assert(sizeof(rz_compressor_key_t) == 32, "key is 4 x uint64");
_Static_assert(offsetof(rz_compressor_info_t, dtypes) == 8, "info layout");
_Static_assert(sizeof(rz_compressor_info_t) == 32, "info v1 size");
_Static_assert(offsetof(rz_compressor_host_t, log) == 8, "host layout");
#endif

/** The symbol every v1 plugin defines. */
extern const rz_compressor_v1_t rz_compressor_plugin_v1;

#ifdef __cplusplus
}
#endif
#endif
