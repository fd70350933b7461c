/**
 * @file comm.h
 * @brief Communicators and the three ways to create one.
 *
 * Every rank of a job creates one communicator through the same path:
 *  - NCCL style: one process calls rz_get_unique_id(), ships the id to the
 *    others by any means, and every rank calls rz_comm_init_rank();
 *  - launcher style: rz_comm_init_env() reads RZ_RANK/RZ_SIZE/RZ_ROOT_ADDR
 *    (set by rzrun), else OMPI_COMM_WORLD_*, PMI_* or SLURM_* plus
 *    RZ_ROOT_ADDR;
 *  - UCC style: rz_comm_init_oob() with a caller-supplied allgather, for
 *    example one written over MPI_Allgather.
 *
 * A communicator is used by one thread at a time. A failure (timeout, dead
 * peer, mismatched call) aborts it: the ranks are told, and every later call
 * returns the error at once instead of hanging.
 */
#ifndef RINGZIP_COMM_H
#define RINGZIP_COMM_H

#include <ringzip/status.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque communicator handle. */
typedef struct rz_comm *rz_comm_h;

/** @brief Size of an rz_unique_id_t in bytes. */
#define RZ_UNIQUE_ID_BYTES 128

/**
 * @brief Rendezvous identity of a job: the bootstrap root's address and a
 *        random session key. Plain bytes; copy it to every rank.
 */
typedef struct {
    char internal[RZ_UNIQUE_ID_BYTES];
} rz_unique_id_t;

/**
 * @brief Create a new job identity and start its bootstrap root in this
 *        process (a background thread that lives until all ranks have met
 *        or the bootstrap timeout passes).
 *
 * The root listens on RZ_BOOTSTRAP_ADDR if set, else on this host's first
 * non-loopback IPv4 address, else on 127.0.0.1.
 *
 * @param [out] id_p  The identity to hand to every rank.
 * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_IO.
 */
rz_status_t rz_get_unique_id(rz_unique_id_t *id_p);

/**
 * @brief Join the job named by @p id as rank @p rank of @p nranks.
 *        Collective: blocks until all ranks have joined, or fails after
 *        RZ_BOOTSTRAP_TIMEOUT_MS.
 *
 * @param [out] comm_p  The new communicator, set only on success.
 * @param [in]  nranks  Number of ranks, >= 1.
 * @param [in]  id      Identity from rz_get_unique_id().
 * @param [in]  rank    This rank, 0 <= rank < nranks.
 * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_BOOTSTRAP (root unreachable,
 *         size mismatch, duplicate rank), RZ_ERR_AUTH (wrong session key),
 *         RZ_ERR_TRANSPORT, RZ_ERR_NO_MEMORY, or RZ_ERR_PEER_FAILURE,
 *         RZ_ERR_TIMEOUT or RZ_ERR_ABORTED when a rank dies or stalls
 *         during creation (creation ends with a short exchange between
 *         neighbouring ranks that warms the transport up).
 */
rz_status_t rz_comm_init_rank(rz_comm_h *comm_p, int nranks,
                              const rz_unique_id_t *id, int rank);

/**
 * @brief Join the job described by the environment.
 *
 * Rank and size come from RZ_RANK/RZ_SIZE, else OMPI_COMM_WORLD_RANK/SIZE,
 * else PMI_RANK/PMI_SIZE, else SLURM_PROCID/SLURM_NTASKS. The root address
 * always comes from RZ_ROOT_ADDR (host:port); rank 0 serves it. The session
 * key comes from RZ_SESSION_KEY (32 hex digits, set by rzrun); without it
 * all ranks use a key derived from the job id the launcher exports.
 *
 * @param [out] comm_p  The new communicator, set only on success.
 * @return As rz_comm_init_rank(); RZ_ERR_INVALID_PARAM when the environment
 *         names no rank, size or root address.
 */
rz_status_t rz_comm_init_env(rz_comm_h *comm_p);

/**
 * @brief Caller-supplied out-of-band allgather.
 *
 * Must gather @p size bytes from every rank into @p recvbuf in rank order
 * (rank r's bytes at offset r * size) and return 0 on success. Collective
 * over the ranks of the job.
 */
typedef int (*rz_oob_allgather_func_t)(const void *sendbuf, void *recvbuf,
                                       size_t size, void *coll_info);

/** @brief Out-of-band bootstrap description (see rz_comm_init_oob()). */
typedef struct {
    rz_oob_allgather_func_t allgather; /**< Mandatory. */
    void                   *coll_info; /**< Passed to allgather unchanged. */
    int                     rank;      /**< This rank. */
    int                     nranks;    /**< Number of ranks. */
} rz_oob_t;

/**
 * @brief Join a job through a caller-supplied allgather (e.g. over MPI).
 * @param [out] comm_p  The new communicator, set only on success.
 * @param [in]  oob     Allgather callback and this rank's place.
 * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_BOOTSTRAP (the callback
 *         failed), RZ_ERR_TRANSPORT, RZ_ERR_NO_MEMORY, or, as for
 *         rz_comm_init_rank(), the error of a rank that dies during
 *         creation.
 */
rz_status_t rz_comm_init_oob(rz_comm_h *comm_p, const rz_oob_t *oob);

/**
 * @brief Duplicate a communicator: same ranks, its own UCX worker and
 *        endpoints, its own tag space. The two may then be used at the same
 *        time from different threads (the fusion engine runs on one).
 *        Collective over @p comm; costs one allgather of worker addresses.
 * @param [in]  comm       Communicator to duplicate.
 * @param [out] newcomm_p  The duplicate, set only on success.
 * @return RZ_OK, RZ_ERR_INVALID_PARAM, RZ_ERR_ABORTED (@p comm failed
 *         earlier), RZ_ERR_TRANSPORT, RZ_ERR_NO_MEMORY, or the error of the
 *         allgather or, as for rz_comm_init_rank(), of a rank that dies
 *         during creation.
 */
rz_status_t rz_comm_dup(rz_comm_h comm, rz_comm_h *newcomm_p);

/**
 * @brief Release a communicator. Local: never waits for other ranks longer
 *        than a short flush, and never hangs on dead peers. Pending requests
 *        are failed with RZ_ERR_ABORTED.
 * @param [in] comm  Communicator, or NULL (no-op).
 * @return RZ_OK, or RZ_ERR_INVALID_PARAM for a handle that is not a
 *         communicator.
 */
rz_status_t rz_comm_destroy(rz_comm_h comm);

/**
 * @brief Abort a communicator: tell the other ranks, fail every pending and
 *        later operation with @p reason (or RZ_ERR_ABORTED).
 */
rz_status_t rz_comm_abort(rz_comm_h comm, rz_status_t reason);

/** @brief This rank's index. */
rz_status_t rz_comm_rank(rz_comm_h comm, int *rank_p);

/** @brief Number of ranks. */
rz_status_t rz_comm_size(rz_comm_h comm, int *size_p);

/**
 * @brief RZ_OK while the communicator is usable, else the error that
 *        aborted it. Makes progress on pending work first.
 */
rz_status_t rz_comm_get_async_error(rz_comm_h comm);

#ifdef __cplusplus
}
#endif
#endif
