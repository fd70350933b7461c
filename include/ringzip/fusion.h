/**
 * @file fusion.h
 * @brief Horovod-style tensor fusion engine.
 *
 * A training framework hands over its gradient tensors one by one, by name,
 * in whatever order its backward pass produces them; that order may differ
 * between ranks. The engine matches tensors across ranks by name, never by
 * call order, and turns them into few large collectives:
 *
 *  - a background thread per engine runs a cycle every RZ_CYCLE_TIME_MS;
 *  - rank 0 (the coordinator) decides one global order and the fusion
 *    groups: tensors that every rank has enqueued, with the same dtype, op
 *    and compression settings, up to RZ_FUSION_THRESHOLD bytes per group,
 *    looking ahead past tensors that do not fit;
 *  - a response cache (RZ_CACHE_CAPACITY) lets steady-state steps, which
 *    repeat the same tensors, skip the coordinator: one bitwise AND
 *    allreduce of a bit vector per cycle decides what is ready everywhere;
 *  - an uncompressed group is reduced without copying its tensors together
 *    when it is 64 KiB or more: one span when they sit back to back in
 *    memory, else tensors of 1 MiB and more alone and the rest by one
 *    allreduce that gathers from and scatters into them; smaller groups go
 *    through a fusion buffer (docs/FUSION.md);
 *  - compressed tensors (EF, SAEF, LIEC, or compression without error
 *    feedback) keep their error state per tensor name, in one rz_ef context
 *    per name, and are compressed as their own vector: results are bitwise
 *    the same however tensors happened to be grouped.
 *
 * The engine runs on its own duplicate of the communicator (rz_comm_dup()),
 * so the application may keep using the original one meanwhile.
 *
 * Environment (read by rz_fusion_config_init(); rz_info -c lists them):
 *   RZ_CYCLE_TIME_MS     cycle period in milliseconds (default 1)
 *   RZ_FUSION_THRESHOLD  bytes per fusion group (default 134217728; 0
 *                        disables fusion: one collective per tensor)
 *   RZ_CACHE_CAPACITY    response cache entries (default 1024; 0: off)
 *   RZ_STALL_WARNING_S   warn about a tensor that some ranks enqueued and
 *                        others did not after this long (default 60; 0: off);
 *                        rank 0 logs "tensor 'NAME' stalled for T s:
 *                        enqueued on ranks 0,2, missing on ranks 1,3-5"
 *   RZ_STALL_TIMEOUT_S   fail it after this long (default 0: never)
 *   RZ_TIMELINE          Chrome-trace file to write (default: none)
 */
#ifndef RINGZIP_FUSION_H
#define RINGZIP_FUSION_H

#include <ringzip/comm.h>
#include <ringzip/ef.h>
#include <ringzip/status.h>
#include <ringzip/types.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque engine handle. */
typedef struct rz_fusion *rz_fusion_h;
/** @brief Opaque handle of one enqueued tensor. */
typedef struct rz_fusion_op *rz_fusion_handle_h;

/** @brief Longest tensor name, in bytes, without the terminating NUL. */
#define RZ_FUSION_NAME_MAX 1023

/** @brief Engine settings. Fill with rz_fusion_config_init(), then change. */
typedef struct {
    size_t      struct_size;      /**< sizeof(rz_fusion_config_t). */
    double      cycle_time_ms;    /**< RZ_CYCLE_TIME_MS; > 0. */
    size_t      fusion_threshold; /**< RZ_FUSION_THRESHOLD; 0: no fusion. */
    int         cache_capacity;   /**< RZ_CACHE_CAPACITY; 0: no cache. */
    double      stall_warning_s;  /**< RZ_STALL_WARNING_S; 0: no warning. */
    double      stall_timeout_s;  /**< RZ_STALL_TIMEOUT_S; 0: no timeout. */
    const char *timeline;         /**< RZ_TIMELINE path, NULL: none. A
                                       "%r" in it becomes the rank and every
                                       rank writes its file; without "%r"
                                       only rank 0 writes. Copied. */
} rz_fusion_config_t;

/**
 * @brief Compression of one tensor: an error-compensated (or plain
 *        compressed) allreduce, see ef.h and docs/ALGORITHMS.md.
 *
 * The tensor must be RZ_DTYPE_F32 with op RZ_OP_AVG. The engine keeps one
 * rz_ef context per tensor name: EF/SAEF pass the local model update
 * (lr * m) and get the global update; LIEC passes the gradient and gets
 * q + delta, see rz_ef_exchange(). ef.momentum and ef.weight_decay are
 * ignored (the caller owns the optimiser). Every rank must give the same
 * settings for a name; a tensor whose settings change between steps gets a
 * fresh context (its error state starts again from zero).
 */
typedef struct {
    size_t         struct_size; /**< sizeof(rz_fusion_compression_t). */
    rz_ef_config_t ef;          /**< Method, topology, compressors, seed,
                                     error averaging p, LIEC period H. */
    /** LIEC with H > 0: this rank's copy x^k of the tensor's parameters
     *  (count floats, the caller's model). On a sync iteration the engine
     *  replaces it with mean_k x^k and the output is v (rz_ef_liec_sync());
     *  it must stay valid until the handle completes. NULL otherwise. */
    float         *liec_model;
} rz_fusion_compression_t;

/** @brief Engine counters, cumulative since rz_fusion_create(). */
typedef struct {
    uint64_t cycles;            /**< Background cycles run. */
    uint64_t negotiations;      /**< Cycles that went through rank 0. */
    uint64_t cache_hits;        /**< Tensors scheduled from the cache. */
    uint64_t tensors;           /**< Tensors completed (any status). */
    uint64_t groups;            /**< Collectives (fusion groups) run. */
    uint64_t fused_tensors;     /**< Tensors that shared a group. */
    uint64_t payload_bytes;     /**< Bytes of the tensors reduced. */
    uint64_t ef_bytes_sent;     /**< Bytes the compressed exchanges sent
                                     (sum of rz_ef_stats_t.bytes_sent). */
    uint64_t ef_bytes_recv;     /**< ... and received. */
    double   negotiation_s;     /**< Time in coordination (the cache AND,
                                     gathers and broadcasts). */
    double   collective_s;      /**< Time in collectives and copies. */
} rz_fusion_stats_t;

/** @brief Defaults from the environment (see above). */
void rz_fusion_config_init(rz_fusion_config_t *cfg);

/** @brief Defaults of ef.h (rz_ef_config_init()), no LIEC model. */
void rz_fusion_compression_init(rz_fusion_compression_t *comp);

/**
 * @brief Create an engine on @p comm and start its thread. Collective:
 *        every rank of @p comm calls it (with the same settings).
 * @param [in]  comm   Communicator; the engine duplicates it.
 * @param [in]  cfg    Settings, NULL: rz_fusion_config_init() defaults.
 * @param [out] fu_p   The engine, set only on success.
 * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_NO_MEMORY, RZ_ERR_IO (the
 *         timeline file), or an error of rz_comm_dup().
 */
rz_status_t rz_fusion_create(rz_comm_h comm, const rz_fusion_config_t *cfg,
                             rz_fusion_h *fu_p);

/**
 * @brief Stop the engine and free it. Tensors still pending here complete
 *        with RZ_ERR_ABORTED (this call does not wait for them to be
 *        reduced); their handles stay valid after the engine is gone, and
 *        rz_fusion_wait()/rz_fusion_test() on them return at once. The other
 *        ranks' engines see the shutdown at their next cycle and fail their
 *        pending tensors the same way (the log names the rank that stopped),
 *        so a rank that stops early never leaves the others hanging. Call it
 *        on every rank, after rz_fusion_flush() to finish the work. Do not
 *        call it while another thread is inside an rz_fusion_* call on @p fu.
 * @param [in] fu  Engine, or NULL (no-op).
 * @return RZ_OK, or RZ_ERR_INVALID_PARAM for a handle that is not an
 *         engine. It waits for the cycle in progress to end (a collective
 *         already running; at most RZ_TIMEOUT_MS when a peer is stuck).
 */
rz_status_t rz_fusion_destroy(rz_fusion_h fu);

/**
 * @brief Enqueue an allreduce of @p count elements named @p name.
 *        Non-blocking; thread-safe.
 *
 * @param [in]  fu       Engine.
 * @param [in]  name     Matches the tensor across ranks; at most
 *                       RZ_FUSION_NAME_MAX bytes. A name may be pending
 *                       only once at a time on a rank.
 * @param [in]  sendbuf  Input; read by the engine until completion.
 * @param [out] recvbuf  Output; may equal @p sendbuf (in place). Both must
 *                       stay valid and untouched until the handle completes.
 * @param [in]  count    Elements, >= 1 (must match on every rank).
 * @param [in]  dtype    Element type (must match).
 * @param [in]  op       Reduction (must match).
 * @param [in]  comp     Compression, NULL: none. Copied.
 * @param [out] handle_p Handle for rz_fusion_test()/rz_fusion_wait().
 * @return RZ_OK, RZ_ERR_INVALID_PARAM (bad argument, name pending),
 *         RZ_ERR_NOT_SUPPORTED (compression of a type other than f32/avg),
 *         RZ_ERR_NO_MEMORY, or the error that stopped the engine.
 *         Errors of the reduction itself (ranks that disagree on count,
 *         dtype, op or compression, RZ_ERR_MISMATCH; a stalled tensor,
 *         RZ_ERR_TIMEOUT; a dead peer) are the handle's status.
 */
rz_status_t rz_fusion_enqueue_allreduce(rz_fusion_h fu, const char *name,
                                        const void *sendbuf, void *recvbuf,
                                        size_t count, rz_dtype_t dtype,
                                        rz_op_t op,
                                        const rz_fusion_compression_t *comp,
                                        rz_fusion_handle_h *handle_p);

/**
 * Every handle must be waited on (or tested until done) exactly once, as
 * an MPI request; that frees it.
 *
 * @brief Has the tensor completed? If so, *done_p = 1, the handle is freed
 *        and set to NULL, and its final status is returned. If not,
 *        *done_p = 0 and RZ_INPROGRESS is returned.
 */
rz_status_t rz_fusion_test(rz_fusion_handle_h *handle_p, int *done_p);

/**
 * @brief Block until the tensor completes; free the handle and set it to
 *        NULL. Returns the tensor's final status.
 */
rz_status_t rz_fusion_wait(rz_fusion_handle_h *handle_p);

/**
 * @brief Block until every tensor this rank enqueued before the call has
 *        completed (handles stay valid: wait on them to read their status).
 * @return RZ_OK, or the error that stopped the engine.
 */
rz_status_t rz_fusion_flush(rz_fusion_h fu);

/** @brief Copy the engine's counters. Thread-safe. */
rz_status_t rz_fusion_get_stats(rz_fusion_h fu, rz_fusion_stats_t *stats);

/**
 * @brief The rz_ef context that holds the compression state of tensor
 *        @p name (NULL when the name has never been compressed), for
 *        rz_ef_get_state() and rz_ef_iteration(). Only while no tensor of
 *        that name is pending (e.g. after rz_fusion_flush()); owned by the
 *        engine.
 */
rz_status_t rz_fusion_get_ef(rz_fusion_h fu, const char *name, rz_ef_h *ef_p);

#ifdef __cplusplus
}
#endif
#endif
