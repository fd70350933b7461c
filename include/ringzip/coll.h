/**
 * @file coll.h
 * @brief Collective operations, blocking and non-blocking.
 *
 * Every rank of the communicator must call the same collectives in the same
 * order with matching arguments (as in MPI and NCCL). A mismatch that changes
 * message sizes or types is detected and fails the call on every rank with
 * RZ_ERR_MISMATCH (or the error that aborted the communicator); it is never
 * silently reduced.
 *
 * Buffers may be NULL only when the count is 0. Passing the same pointer as
 * send and receive buffer selects in-place operation. A blocking call is
 * the non-blocking one followed by rz_wait().
 */
#ifndef RINGZIP_COLL_H
#define RINGZIP_COLL_H

#include <ringzip/comm.h>
#include <ringzip/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque handle of a non-blocking operation. */
typedef struct rz_request *rz_request_h;

/**
 * @brief Make progress on @p *req_p and report its state.
 * @param [in,out] req_p  Request; set to NULL once it completes (either way).
 * @return RZ_INPROGRESS while running; else its final status, and the
 *         request is released.
 */
rz_status_t rz_test(rz_request_h *req_p);

/**
 * @brief Wait until @p *req_p completes. Spins briefly, then blocks on the
 *        transport's event descriptor; fails after RZ_TIMEOUT_MS without
 *        progress.
 * @param [in,out] req_p  Request; set to NULL on return.
 * @return The final status of the operation.
 */
rz_status_t rz_wait(rz_request_h *req_p);

/**
 * @brief recvbuf[i] = op over ranks of sendbuf[i], for i < count. Every rank
 *        receives bitwise identical results.
 */
rz_status_t rz_allreduce(const void *sendbuf, void *recvbuf, size_t count,
                         rz_dtype_t dtype, rz_op_t op, rz_comm_h comm);
/** @brief Non-blocking rz_allreduce(). */
rz_status_t rz_iallreduce(const void *sendbuf, void *recvbuf, size_t count,
                          rz_dtype_t dtype, rz_op_t op, rz_comm_h comm,
                          rz_request_h *req_p);

/**
 * @brief sendbuf holds nranks * recvcount elements; rank r receives the
 *        reduction of block r. In place when recvbuf == sendbuf + r*recvcount
 *        elements.
 */
rz_status_t rz_reduce_scatter(const void *sendbuf, void *recvbuf,
                              size_t recvcount, rz_dtype_t dtype, rz_op_t op,
                              rz_comm_h comm);
/** @brief Non-blocking rz_reduce_scatter(). */
rz_status_t rz_ireduce_scatter(const void *sendbuf, void *recvbuf,
                               size_t recvcount, rz_dtype_t dtype, rz_op_t op,
                               rz_comm_h comm, rz_request_h *req_p);

/**
 * @brief recvbuf (nranks * sendcount elements) receives every rank's sendbuf
 *        in rank order. In place when sendbuf == recvbuf + r*sendcount.
 */
rz_status_t rz_allgather(const void *sendbuf, void *recvbuf, size_t sendcount,
                         rz_dtype_t dtype, rz_comm_h comm);
/** @brief Non-blocking rz_allgather(). */
rz_status_t rz_iallgather(const void *sendbuf, void *recvbuf,
                          size_t sendcount, rz_dtype_t dtype, rz_comm_h comm,
                          rz_request_h *req_p);

/**
 * @brief Copy @p count elements of root's sendbuf into every rank's recvbuf.
 *        sendbuf is read on the root only; in place when equal to recvbuf.
 */
rz_status_t rz_broadcast(const void *sendbuf, void *recvbuf, size_t count,
                         rz_dtype_t dtype, int root, rz_comm_h comm);
/** @brief Non-blocking rz_broadcast(). */
rz_status_t rz_ibroadcast(const void *sendbuf, void *recvbuf, size_t count,
                          rz_dtype_t dtype, int root, rz_comm_h comm,
                          rz_request_h *req_p);

/** @brief Return once every rank has entered the barrier. */
rz_status_t rz_barrier(rz_comm_h comm);
/** @brief Non-blocking rz_barrier(). */
rz_status_t rz_ibarrier(rz_comm_h comm, rz_request_h *req_p);

#ifdef __cplusplus
}
#endif
#endif
