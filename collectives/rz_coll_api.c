/*
 * Public collective entry points: argument checks (every bad argument is a
 * clear RZ_ERR_INVALID_PARAM with a log line, never a crash), request
 * set-up, and the blocking wrappers.
 */
#include "collectives/rz_coll.h"
#include "util/rz_log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static rz_status_t rz_coll_check_common(struct rz_comm *comm,
                                        rz_request_h *req_p, const char *name)
{
    if (rz_comm_check(comm) != RZ_OK) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (req_p == NULL) {
        RZ_LOG_ERROR("%s: NULL request pointer", name);
        return RZ_ERR_INVALID_PARAM;
    }
    if (comm->error != RZ_OK) {
        RZ_LOG_DEBUG("%s on an aborted communicator: %s", name,
                     rz_status_string(comm->error));
        return comm->error;
    }
    return RZ_OK;
}

/* Buffers: non-NULL unless empty; @total elements of @es bytes must fit. */
static rz_status_t rz_coll_check_buffers(const void *sbuf, size_t sbytes,
                                         const void *rbuf, size_t rbytes,
                                         size_t count, size_t es, size_t mult,
                                         const char *name)
{
    if (count > SIZE_MAX / es / mult / 2) {
        RZ_LOG_ERROR("%s: count %zu is too large", name, count);
        return RZ_ERR_INVALID_PARAM;
    }
    if (count > 0 && ((sbytes > 0 && sbuf == NULL) || rbuf == NULL)) {
        RZ_LOG_ERROR("%s: NULL buffer with count %zu", name, count);
        return RZ_ERR_INVALID_PARAM;
    }
    /* In-place is spelled as equal pointers (or the documented block);
     * any other overlap would be silently corrupted. */
    if (count > 0 && sbuf != NULL && sbuf != rbuf) {
        const char *s = sbuf, *r = rbuf;
        int overlap = s < r + rbytes && r < s + sbytes;
        int nested = (s >= r && s + sbytes <= r + rbytes) ||
                     (r >= s && r + rbytes <= s + sbytes);
        if (overlap && !nested) {
            RZ_LOG_ERROR("%s: send and receive buffers overlap without "
                         "being in place", name);
            return RZ_ERR_INVALID_PARAM;
        }
    }
    return RZ_OK;
}

static rz_status_t rz_coll_check_dtype_op(rz_dtype_t dtype, rz_op_t op,
                                          const char *name)
{
    rz_status_t status = rz_reduce_check(dtype, op);

    if (status == RZ_ERR_INVALID_PARAM) {
        RZ_LOG_ERROR("%s: unknown dtype %d or op %d", name, (int)dtype,
                     (int)op);
    } else if (status == RZ_ERR_NOT_SUPPORTED) {
        RZ_LOG_ERROR("%s: op %s is not supported for dtype %s", name,
                     rz_op_name(op), rz_dtype_name(dtype));
    }
    return status;
}

static rz_status_t rz_coll_launch(rz_request_t *req, rz_request_h *req_p,
                                  rz_status_t status)
{
    if (status != RZ_OK) {
        rz_request_discard(req);
        return status;
    }
    return rz_request_start(req, req_p);
}

/* Count 0 is a valid no-op: it moves no data but, like every call, takes
 * a sequence number so that the ranks stay in step. */
static rz_status_t rz_coll_noop_progress(rz_request_t *req)
{
    (void)req;
    return RZ_OK;
}

static rz_status_t rz_coll_blocking(rz_status_t status, rz_request_h req)
{
    return status != RZ_OK ? status : rz_wait(&req);
}

static rz_status_t rz_coll_setup(struct rz_comm *comm, rz_coll_type_t type,
                                 rz_coll_progress_func_t progress,
                                 const void *sendbuf, void *recvbuf,
                                 size_t count, rz_dtype_t dtype, rz_op_t op,
                                 int root, size_t tmp_bytes, int algo,
                                 int nseg, rz_request_h *req_p)
{
    rz_request_t *req;
    rz_status_t status;

    RZ_CHECK_GOTO(rz_request_create(comm, type,
                                    rz_coll_signature(type, dtype, op, count,
                                                      root,
                                                      ((uint64_t)algo << 32) |
                                                      (uint64_t)nseg),
                                    count > 0 ? progress : rz_coll_noop_progress,
                                    &req),
                  out, status);
    req->sbuf = sendbuf;
    req->rbuf = recvbuf;
    req->count = count;
    req->esize = rz_dtype_size(dtype);
    req->dtype = dtype;
    req->op = op;
    req->root = root;
    req->nseg = nseg;
    status = rz_request_alloc_tmp(req, count > 0 ? tmp_bytes : 0);
    return rz_coll_launch(req, req_p, status);
out:
    return status;
}

int rz_allreduce_choose(const struct rz_comm *comm, size_t bytes)
{
    if (comm->allreduce_algo != RZ_ALGO_AUTO) {
        return comm->allreduce_algo;
    }
    if (bytes <= rz_allreduce_rd_max_bytes(comm->nranks,
                                           comm->any_oversubscribed)) {
        return RZ_ALGO_RD;
    }
    /* Ranks that share cores pay for every synchronisation step:
     * Rabenseifner's 2 log2(K) steps beat the ring's 2 (K-1) at every size
     * measured (docs/PERFORMANCE.md). */
    return comm->any_oversubscribed ? RZ_ALGO_RH : RZ_ALGO_RING;
}

RZ_EXPORT rz_status_t rz_iallreduce(const void *sendbuf, void *recvbuf,
                                    size_t count, rz_dtype_t dtype, rz_op_t op,
                                    rz_comm_h comm, rz_request_h *req_p)
{
    static const char name[] = "allreduce";
    rz_status_t status;

    RZ_CHECK_GOTO(rz_coll_check_common(comm, req_p, name), out, status);
    RZ_CHECK_GOTO(rz_coll_check_dtype_op(dtype, op, name), out, status);
    size_t es = rz_dtype_size(dtype);
    RZ_CHECK_GOTO(rz_coll_check_buffers(sendbuf, count * es, recvbuf,
                                        count * es, count, es, 1, name),
                  out, status);
    int algo = rz_allreduce_choose(comm, count * es);
    int nseg = 1;
    size_t tmp_bytes = 0;
    rz_coll_progress_func_t progress = rz_allreduce_ring_progress;
    if (algo == RZ_ALGO_RD) {
        progress = rz_allreduce_rd_progress;
        tmp_bytes = comm->nranks > 1 ? count * es : 0;
    } else if (algo == RZ_ALGO_RH) {
        progress = rz_allreduce_rh_progress;
        rz_allreduce_rh_plan(count, es, comm->nranks, comm->ring_segment,
                             &nseg, &tmp_bytes);
    } else {
        rz_allreduce_ring_plan(count, es, comm->nranks, comm->ring_segment,
                               &nseg, &tmp_bytes);
    }
    status = rz_coll_setup(comm, RZ_COLL_ALLREDUCE, progress, sendbuf,
                           recvbuf, count, dtype, op, 0, tmp_bytes, algo, nseg,
                           req_p);
out:
    return status;
}

rz_status_t rz_allreduce_pieces(struct rz_comm *comm, const rz_piece_t *pieces,
                                int npieces, rz_dtype_t dtype, rz_op_t op)
{
    static const char name[] = "allreduce (pieces)";
    rz_request_h h = NULL;
    rz_request_t *req;
    rz_status_t status;
    size_t count = 0, es = rz_dtype_size(dtype), tmp_bytes;
    int nseg;

    RZ_CHECK_GOTO(rz_coll_check_common(comm, &h, name), out, status);
    RZ_CHECK_GOTO(rz_coll_check_dtype_op(dtype, op, name), out, status);
    if (pieces == NULL || npieces < 1) {
        RZ_LOG_ERROR("%s: no pieces", name);
        return RZ_ERR_INVALID_PARAM;
    }
    for (int i = 0; i < npieces; i++) {
        count += pieces[i].count;
    }
    /* Rabenseifner where this size would get it, else the ring (recursive
     * doubling, for small vectors, has no piece-wise form). */
    int algo = rz_allreduce_choose(comm, count * es) == RZ_ALGO_RH
                   ? RZ_ALGO_RH : RZ_ALGO_RING;
    rz_coll_progress_func_t progress = rz_allreduce_ring_progress;
    if (algo == RZ_ALGO_RH) {
        progress = rz_allreduce_rh_progress;
        rz_allreduce_rh_plan(count, es, comm->nranks, comm->ring_segment,
                             &nseg, &tmp_bytes);
    } else {
        rz_allreduce_ring_plan(count, es, comm->nranks, comm->ring_segment,
                               &nseg, &tmp_bytes);
    }
    /* A variant of its own: a rank that reduced the same vector in one
     * buffer would be a mismatch in how, not in what. */
    RZ_CHECK_GOTO(rz_request_create(comm, RZ_COLL_ALLREDUCE,
                                    rz_coll_signature(RZ_COLL_ALLREDUCE, dtype,
                                                      op, count, 0,
                                                      ((uint64_t)0x50 << 40) |
                                                      ((uint64_t)algo << 32) |
                                                      (uint64_t)nseg),
                                    count > 0 ? progress
                                              : rz_coll_noop_progress,
                                    &req),
                  out, status);
    req->count = count;
    req->esize = es;
    req->dtype = dtype;
    req->op = op;
    req->nseg = nseg;
    size_t n = (size_t)npieces;
    req->aux = malloc(n * sizeof(rz_piece_t) + (n + 1) * sizeof(size_t) +
                      2 * n * sizeof(rz_tp_iov_t));
    status = req->aux == NULL ? RZ_ERR_NO_MEMORY : RZ_OK;
    if (status == RZ_OK) {
        rz_piece_t *pc = req->aux;
        memcpy(pc, pieces, n * sizeof(*pc));
        req->pieces = pc;
        req->npieces = npieces;
        req->pstart = (size_t *)(pc + n);
        req->iov = (rz_tp_iov_t *)(req->pstart + n + 1);
        req->pstart[0] = 0;
        for (size_t i = 0; i < n; i++) {
            req->pstart[i + 1] = req->pstart[i] + pieces[i].count;
        }
        status = rz_request_alloc_tmp(req, count > 0 ? tmp_bytes : 0);
    }
    status = rz_coll_launch(req, &h, status);
    return rz_coll_blocking(status, h);
out:
    return status;
}

RZ_EXPORT rz_status_t rz_allreduce(const void *sendbuf, void *recvbuf,
                                   size_t count, rz_dtype_t dtype, rz_op_t op,
                                   rz_comm_h comm)
{
    rz_request_h req = NULL;
    rz_status_t status = rz_iallreduce(sendbuf, recvbuf, count, dtype, op,
                                       comm, &req);
    return rz_coll_blocking(status, req);
}

RZ_EXPORT rz_status_t rz_ireduce_scatter(const void *sendbuf, void *recvbuf,
                                         size_t recvcount, rz_dtype_t dtype,
                                         rz_op_t op, rz_comm_h comm,
                                         rz_request_h *req_p)
{
    static const char name[] = "reduce_scatter";
    rz_status_t status;

    RZ_CHECK_GOTO(rz_coll_check_common(comm, req_p, name), out, status);
    RZ_CHECK_GOTO(rz_coll_check_dtype_op(dtype, op, name), out, status);
    size_t es = rz_dtype_size(dtype), K = (size_t)comm->nranks;
    RZ_CHECK_GOTO(rz_coll_check_buffers(sendbuf, recvcount * es * K, recvbuf,
                                        recvcount * es, recvcount, es, K,
                                        name),
                  out, status);
    status = rz_coll_setup(comm, RZ_COLL_REDUCE_SCATTER,
                           rz_reduce_scatter_ring_progress, sendbuf, recvbuf,
                           recvcount, dtype, op, 0,
                           K > 1 ? 2 * recvcount * es : 0, 0, 1, req_p);
out:
    return status;
}

RZ_EXPORT rz_status_t rz_reduce_scatter(const void *sendbuf, void *recvbuf,
                                        size_t recvcount, rz_dtype_t dtype,
                                        rz_op_t op, rz_comm_h comm)
{
    rz_request_h req = NULL;
    rz_status_t status = rz_ireduce_scatter(sendbuf, recvbuf, recvcount, dtype,
                                            op, comm, &req);
    return rz_coll_blocking(status, req);
}

RZ_EXPORT rz_status_t rz_iallgather(const void *sendbuf, void *recvbuf,
                                    size_t sendcount, rz_dtype_t dtype,
                                    rz_comm_h comm, rz_request_h *req_p)
{
    static const char name[] = "allgather";
    rz_status_t status;

    RZ_CHECK_GOTO(rz_coll_check_common(comm, req_p, name), out, status);
    RZ_CHECK_GOTO(rz_coll_check_dtype_op(dtype, RZ_OP_SUM, name), out, status);
    size_t es = rz_dtype_size(dtype), K = (size_t)comm->nranks;
    RZ_CHECK_GOTO(rz_coll_check_buffers(sendbuf, sendcount * es, recvbuf,
                                        sendcount * es * K, sendcount, es, K,
                                        name),
                  out, status);
    status = rz_coll_setup(comm, RZ_COLL_ALLGATHER, rz_allgather_ring_progress,
                           sendbuf, recvbuf, sendcount, dtype, RZ_OP_SUM, 0, 0,
                           0, 1, req_p);
out:
    return status;
}

RZ_EXPORT rz_status_t rz_allgather(const void *sendbuf, void *recvbuf,
                                   size_t sendcount, rz_dtype_t dtype,
                                   rz_comm_h comm)
{
    rz_request_h req = NULL;
    rz_status_t status = rz_iallgather(sendbuf, recvbuf, sendcount, dtype,
                                       comm, &req);
    return rz_coll_blocking(status, req);
}

RZ_EXPORT rz_status_t rz_ibroadcast(const void *sendbuf, void *recvbuf,
                                    size_t count, rz_dtype_t dtype, int root,
                                    rz_comm_h comm, rz_request_h *req_p)
{
    static const char name[] = "broadcast";
    rz_status_t status;

    RZ_CHECK_GOTO(rz_coll_check_common(comm, req_p, name), out, status);
    RZ_CHECK_GOTO(rz_coll_check_dtype_op(dtype, RZ_OP_SUM, name), out, status);
    if (root < 0 || root >= comm->nranks) {
        RZ_LOG_ERROR("%s: root %d out of range [0, %d)", name, root,
                     comm->nranks);
        status = RZ_ERR_INVALID_PARAM;
        goto out;
    }
    size_t es = rz_dtype_size(dtype);
    /* Only the root reads sendbuf. */
    const void *sbuf = (comm->rank == root) ? sendbuf : NULL;
    RZ_CHECK_GOTO(rz_coll_check_buffers(sbuf, sbuf ? count * es : 0, recvbuf,
                                        count * es, count, es, 1, name),
                  out, status);
    status = rz_coll_setup(comm, RZ_COLL_BROADCAST,
                           rz_broadcast_binomial_progress, sbuf, recvbuf,
                           count, dtype, RZ_OP_SUM, root, 0, 0, 1, req_p);
out:
    return status;
}

RZ_EXPORT rz_status_t rz_broadcast(const void *sendbuf, void *recvbuf,
                                   size_t count, rz_dtype_t dtype, int root,
                                   rz_comm_h comm)
{
    rz_request_h req = NULL;
    rz_status_t status = rz_ibroadcast(sendbuf, recvbuf, count, dtype, root,
                                       comm, &req);
    return rz_coll_blocking(status, req);
}

RZ_EXPORT rz_status_t rz_ibarrier(rz_comm_h comm, rz_request_h *req_p)
{
    rz_status_t status = rz_coll_check_common(comm, req_p, "barrier");

    if (status != RZ_OK) {
        return status;
    }
    /* count 1 selects the real algorithm; no buffer is touched. */
    return rz_coll_setup(comm, RZ_COLL_BARRIER,
                         rz_barrier_dissemination_progress, NULL, NULL, 1,
                         RZ_DTYPE_U8, RZ_OP_SUM, 0, 0, 0, 1, req_p);
}

RZ_EXPORT rz_status_t rz_barrier(rz_comm_h comm)
{
    rz_request_h req = NULL;
    rz_status_t status = rz_ibarrier(comm, &req);
    return rz_coll_blocking(status, req);
}
