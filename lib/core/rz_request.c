/*
 * Requests and the progress engine. A collective is a request that posts the
 * sends and receives of one step at a time; when they have all completed,
 * its progress function computes and posts the next step. Waiting spins for
 * RZ_SPIN_US, then blocks on the UCX event fd, so oversubscribed jobs give
 * their core away instead of burning it.
 */
#include "core/rz_comm.h"
#include "util/rz_log.h"

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bound on how long a failed request may take to get its UCX operations
 * back (cancelled receives, force-closed sends). */
#define RZ_REQ_DRAIN_MS 1000
/* Idle polls in rz_wait between two readings of the clock. */
#define RZ_WAIT_POLLS_PER_CLOCK 16

/* How long a rank that lost a connection waits for the notice that may
 * explain it (rz_comm_await_notice). */
#define RZ_NOTICE_GRACE_MS 100

static const char *rz_coll_name(rz_coll_type_t type)
{
    switch (type) {
    case RZ_COLL_ALLREDUCE:      return "allreduce";
    case RZ_COLL_REDUCE_SCATTER: return "reduce_scatter";
    case RZ_COLL_ALLGATHER:      return "allgather";
    case RZ_COLL_BROADCAST:      return "broadcast";
    case RZ_COLL_BARRIER:        return "barrier";
    case RZ_COLL_COMPRESSED:     return "compressed allreduce";
    }
    return "collective";
}

uint64_t rz_coll_signature(rz_coll_type_t type, rz_dtype_t dtype, rz_op_t op,
                           size_t count, int root, uint64_t variant)
{
    /* A word-wise multiply-xorshift mix over the arguments every rank must
     * agree on: deterministic, and cheap enough for every call. */
    uint64_t v[6] = {(uint64_t)type, (uint64_t)dtype, (uint64_t)op,
                     (uint64_t)count, (uint64_t)(int64_t)root, variant};
    uint64_t h = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; i < 6; i++) {
        h = (h ^ v[i]) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return (h ^ (h >> 29)) & (RZ_TAG_SIG_MASK >> RZ_TAG_SIG_SHIFT);
}

static void rz_request_list_remove(rz_request_t **head, rz_request_t *req)
{
    if (req->prev != NULL) {
        req->prev->next = req->next;
    } else {
        *head = req->next;
    }
    if (req->next != NULL) {
        req->next->prev = req->prev;
    }
    req->next = req->prev = NULL;
}

static void rz_request_list_push(rz_request_t **head, rz_request_t *req)
{
    req->prev = NULL;
    req->next = *head;
    if (*head != NULL) {
        (*head)->prev = req;
    }
    *head = req;
}

static int rz_request_ops_pending(const rz_request_t *req)
{
    for (int i = 0; i < req->nops; i++) {
        if (!req->ops[i].done) {
            return 1;
        }
    }
    return 0;
}

rz_status_t rz_request_create(struct rz_comm *comm, rz_coll_type_t type,
                              uint64_t sig, rz_coll_progress_func_t progress,
                              rz_request_t **req_p)
{
    rz_request_t *req = comm->cache;

    if (req != NULL) {
        comm->cache = req->next;
        comm->ncached--;
    } else {
        req = malloc(sizeof(*req));
        if (req == NULL) {
            RZ_LOG_ERROR("out of memory for a %s request", rz_coll_name(type));
            return RZ_ERR_NO_MEMORY;
        }
    }
    memset(req, 0, offsetof(rz_request_t, ops_inline));
    req->ops = req->ops_inline;
    req->expect = req->expect_inline;
    req->is_recv = req->is_recv_inline;
    req->max_ops = RZ_REQ_MAX_OPS;
    req->magic = RZ_REQUEST_MAGIC;
    req->comm = comm;
    req->type = type;
    req->progress = progress;
    req->status = RZ_INPROGRESS;
    /* Every rank consumes one sequence number per call, so ranks stay in
     * step even for calls that move no data. */
    req->tag_base = (sig << RZ_TAG_SIG_SHIFT) |
                    (((uint64_t)comm->seq & 0xffff) << RZ_TAG_SEQ_SHIFT);
    comm->seq++;
    *req_p = req;
    return RZ_OK;
}

rz_status_t rz_request_alloc_tmp(rz_request_t *req, size_t bytes)
{
    if (bytes == 0) {
        return RZ_OK;
    }
    req->tmp = (bytes <= sizeof(req->inline_tmp)) ? req->inline_tmp
                                                  : malloc(bytes);
    if (req->tmp == NULL) {
        RZ_LOG_ERROR("out of memory for %zu bytes of scratch", bytes);
        return RZ_ERR_NO_MEMORY;
    }
    req->tmp_size = bytes;
    return RZ_OK;
}

/* Free @req, or keep it for the next call of its communicator (@cache). */
static void rz_request_release_memory(rz_request_t *req, int cache)
{
    struct rz_comm *comm = req->comm;

    req->magic = 0;
    if (req->tmp != req->inline_tmp) {
        free(req->tmp);
    }
    req->tmp = NULL;
    free(req->aux);
    req->aux = NULL;
    req->pieces = NULL;
    req->npieces = 0;
    if (req->ops != req->ops_inline) {
        free(req->ops);
        free(req->expect);
        free(req->is_recv);
        req->ops = req->ops_inline;
        req->expect = req->expect_inline;
        req->is_recv = req->is_recv_inline;
        req->max_ops = RZ_REQ_MAX_OPS;
    }
    if (cache && comm->ncached < RZ_REQ_CACHE) {
        req->next = comm->cache;
        comm->cache = req;
        comm->ncached++;
    } else {
        free(req);
    }
}

static void rz_request_free(rz_request_t *req)
{
    rz_request_release_memory(req, 1);
}

void rz_request_discard(rz_request_t *req)
{
    rz_request_release_memory(req, 1);
}

rz_status_t rz_request_reserve_ops(rz_request_t *req, int n)
{
    if (n <= req->max_ops) {
        return RZ_OK;
    }
    if (req->nops != 0) {
        RZ_LOG_ERROR("internal: reserving operations of a posted step");
        return RZ_ERR_INTERNAL;
    }
    rz_tp_op_t *ops = malloc((size_t)n * sizeof(*ops));
    size_t *expect = malloc((size_t)n * sizeof(*expect));
    int *is_recv = malloc((size_t)n * sizeof(*is_recv));
    if (ops == NULL || expect == NULL || is_recv == NULL) {
        free(ops);
        free(expect);
        free(is_recv);
        RZ_LOG_ERROR("out of memory for %d operations", n);
        return RZ_ERR_NO_MEMORY;
    }
    if (req->ops != req->ops_inline) {
        free(req->ops);
        free(req->expect);
        free(req->is_recv);
    }
    req->ops = ops;
    req->expect = expect;
    req->is_recv = is_recv;
    req->max_ops = n;
    return RZ_OK;
}

void rz_request_send(rz_request_t *req, int peer, unsigned step,
                     const void *buf, size_t len)
{
    struct rz_comm *comm = req->comm;
    int i = req->nops++;
    uint64_t tag = req->tag_base | ((uint64_t)comm->rank << RZ_TAG_SRC_SHIFT) |
                   (step & RZ_TAG_STEP_MASK);

    req->is_recv[i] = 0;
    RZ_LOG_TRACE("%s: send %zu B to rank %d, step %u, tag 0x%016llx",
                 rz_coll_name(req->type), len, peer, step,
                 (unsigned long long)tag);
    rz_tp_isend(comm->tp, peer, tag, buf, len, &req->ops[i]);
}

void rz_request_recv(rz_request_t *req, int peer, unsigned step, void *buf,
                     size_t len)
{
    struct rz_comm *comm = req->comm;
    int i = req->nops++;
    uint64_t tag = req->tag_base | ((uint64_t)peer << RZ_TAG_SRC_SHIFT) |
                   (step & RZ_TAG_STEP_MASK);

    req->is_recv[i] = 1;
    req->expect[i] = len;
    RZ_LOG_TRACE("%s: recv %zu B from rank %d, step %u, tag 0x%016llx",
                 rz_coll_name(req->type), len, peer, step,
                 (unsigned long long)tag);
    rz_tp_irecv(comm->tp, peer, tag, ~0ull, buf, len, &req->ops[i]);
}

void rz_request_sendv(rz_request_t *req, int peer, unsigned step,
                      const rz_tp_iov_t *iov, int iovcnt, size_t len)
{
    struct rz_comm *comm = req->comm;
    int i = req->nops++;
    uint64_t tag = req->tag_base | ((uint64_t)comm->rank << RZ_TAG_SRC_SHIFT) |
                   (step & RZ_TAG_STEP_MASK);

    req->is_recv[i] = 0;
    RZ_LOG_TRACE("%s: send %zu B in %d pieces to rank %d, step %u",
                 rz_coll_name(req->type), len, iovcnt, peer, step);
    rz_tp_isendv(comm->tp, peer, tag, iov, (size_t)iovcnt, len, &req->ops[i]);
}

void rz_request_recvv(rz_request_t *req, int peer, unsigned step,
                      const rz_tp_iov_t *iov, int iovcnt, size_t len)
{
    struct rz_comm *comm = req->comm;
    int i = req->nops++;
    uint64_t tag = req->tag_base | ((uint64_t)peer << RZ_TAG_SRC_SHIFT) |
                   (step & RZ_TAG_STEP_MASK);

    req->is_recv[i] = 1;
    req->expect[i] = len;
    RZ_LOG_TRACE("%s: recv %zu B in %d pieces from rank %d, step %u",
                 rz_coll_name(req->type), len, iovcnt, peer, step);
    rz_tp_irecvv(comm->tp, peer, tag, ~0ull, iov, (size_t)iovcnt,
                 &req->ops[i]);
}

/* Status of the current step: RZ_INPROGRESS, RZ_OK, or the first error. */
static rz_status_t rz_request_step_status(rz_request_t *req)
{
    struct rz_comm *comm = req->comm;
    int pending = 0;

    for (int i = 0; i < req->nops; i++) {
        rz_tp_op_t *op = &req->ops[i];
        if (!op->done) {
            if (rz_tp_peer_status(comm->tp, op->peer) != RZ_OK) {
                RZ_LOG_ERROR("%s #%u: lost the connection to rank %d",
                             rz_coll_name(req->type),
                             (unsigned)((req->tag_base & RZ_TAG_SEQ_MASK) >>
                                        RZ_TAG_SEQ_SHIFT), op->peer);
                return RZ_ERR_PEER_FAILURE;
            }
            pending = 1;
            continue;
        }
        if (req->is_recv[i]) {
            RZ_LOG_TRACE("%s: received %zu B (status %d) from rank %d",
                         rz_coll_name(req->type), op->length, op->status,
                         op->peer);
        }
        if (op->status == RZ_ERR_MISMATCH ||
            (op->status == RZ_OK && req->is_recv[i] &&
             req->expect[i] != SIZE_MAX && op->length != req->expect[i])) {
            RZ_LOG_ERROR("%s: rank %d sent %s bytes than expected; "
                         "the ranks called it with different arguments",
                         rz_coll_name(req->type), op->peer,
                         op->status == RZ_ERR_MISMATCH ? "more" : "fewer");
            return RZ_ERR_MISMATCH;
        }
        if (op->status != RZ_OK) {
            RZ_LOG_ERROR("%s: %s with rank %d failed: %s",
                         rz_coll_name(req->type),
                         req->is_recv[i] ? "receive" : "send", op->peer,
                         rz_status_string(op->status));
            return op->status;
        }
    }
    return pending ? RZ_INPROGRESS : RZ_OK;
}

/* Look for a queued message from a pending receive's peer in this same
 * collective that carries another signature: the ranks disagree. */
static rz_status_t rz_request_probe_mismatch(rz_request_t *req)
{
    struct rz_comm *comm = req->comm;
    const uint64_t mask = RZ_TAG_CTRL | RZ_TAG_SEQ_MASK | RZ_TAG_SRC_MASK;

    for (int i = 0; i < req->nops; i++) {
        rz_tp_op_t *op = &req->ops[i];
        uint64_t tag;
        size_t len;
        if (op->done || !req->is_recv[i]) {
            continue;
        }
        uint64_t want = (req->tag_base & RZ_TAG_SEQ_MASK) |
                        ((uint64_t)op->peer << RZ_TAG_SRC_SHIFT);
        if (rz_tp_probe(comm->tp, want, mask, &tag, &len) &&
            (tag & RZ_TAG_SIG_MASK) != (req->tag_base & RZ_TAG_SIG_MASK)) {
            RZ_LOG_ERROR("%s: rank %d is running a different collective or "
                         "the same one with different count, type, operator "
                         "or root; aborting", rz_coll_name(req->type),
                         op->peer);
            return RZ_ERR_MISMATCH;
        }
    }
    return RZ_OK;
}

/* Get a failed request's operations back from UCX before the caller may
 * free its buffers: receives are cancelled; sends that are still pending
 * (a rendezvous with a dead or stalled peer) end only when that endpoint is
 * force-closed, which is fine since the communicator is dead. */
static void rz_request_drain(rz_request_t *req)
{
    struct rz_comm *comm = req->comm;
    uint64_t deadline = rz_time_ms() + RZ_REQ_DRAIN_MS;

    for (int i = 0; i < req->nops; i++) {
        if (!req->ops[i].done && req->is_recv[i]) {
            rz_tp_cancel(comm->tp, &req->ops[i]);
        }
    }
    for (int i = 0; i < req->nops; i++) {
        if (!req->ops[i].done && !req->is_recv[i]) {
            rz_tp_close_peer(comm->tp, req->ops[i].peer);
        }
    }
    while (rz_request_ops_pending(req) && rz_time_ms() < deadline) {
        rz_tp_progress(comm->tp);
    }
}

/* Finish @req with @status: off the active list, drained of UCX ops. */
static void rz_request_complete(rz_request_t *req, rz_status_t status)
{
    struct rz_comm *comm = req->comm;

    req->status = status;
    rz_request_list_remove(&comm->active, req);
    if (status != RZ_OK) {
        rz_request_drain(req);
    }
}

static void rz_request_release(rz_request_t *req)
{
    if (rz_request_ops_pending(req)) {
        /* UCX still owns an op inside: free after the worker is gone. */
        rz_request_list_push(&req->comm->zombies, req);
    } else {
        rz_request_free(req);
    }
}

void rz_comm_fail(struct rz_comm *comm, rz_status_t reason, int notify)
{
    if (comm->error != RZ_OK) {
        return;
    }
    comm->error = reason;
    if (notify && comm->abort_sends != NULL) {
        /* Best effort: tell every reachable peer why, so that they fail
         * now rather than at their own timeout. */
        uint64_t tag = RZ_TAG_CTRL | ((uint64_t)comm->rank << RZ_TAG_SRC_SHIFT);
        comm->abort_out[0] = reason;
        comm->abort_out[1] = comm->rank;
        for (int r = 0; r < comm->nranks; r++) {
            comm->abort_sends[r].done = 1;
            if (r != comm->rank && rz_tp_peer_status(comm->tp, r) == RZ_OK) {
                rz_tp_isend(comm->tp, r, tag, comm->abort_out,
                            sizeof(comm->abort_out), &comm->abort_sends[r]);
            }
        }
        uint64_t deadline = rz_time_ms() + 200;
        for (int r = 0; r < comm->nranks; r++) {
            while (!comm->abort_sends[r].done && rz_time_ms() < deadline) {
                rz_tp_progress(comm->tp);
            }
        }
    }
    while (comm->active != NULL) {
        rz_request_t *req = comm->active;
        rz_request_complete(req, reason);
    }
}

/* The reason carried by a received abort notice. */
static rz_status_t rz_comm_abort_reason(const struct rz_comm *comm)
{
    rz_status_t reason = (rz_status_t)comm->abort_msg[0];
    return (reason >= RZ_OK || reason <= RZ_ERR_LAST) ? RZ_ERR_ABORTED
                                                      : reason;
}

/*
 * A connection failed. When a peer fails a collective (mismatch, timeout)
 * it notifies everybody and then exits, so the lost connection is often
 * only the echo of a better reason that is already on its way: wait a
 * moment for that notice and report it instead.
 */
static rz_status_t rz_comm_await_notice(struct rz_comm *comm,
                                        rz_status_t status)
{
    uint64_t deadline = rz_time_ms() + RZ_NOTICE_GRACE_MS;

    if (status != RZ_ERR_PEER_FAILURE && status != RZ_ERR_TRANSPORT) {
        return status;
    }
    while (!comm->abort_recv.done && rz_time_ms() < deadline) {
        rz_tp_progress(comm->tp);
    }
    return (comm->abort_recv.done && comm->abort_recv.status == RZ_OK)
           ? rz_comm_abort_reason(comm) : status;
}

static void rz_comm_check_abort(struct rz_comm *comm)
{
    if (comm->error == RZ_OK && comm->abort_recv.done &&
        comm->abort_recv.status == RZ_OK) {
        rz_status_t reason = rz_comm_abort_reason(comm);
        RZ_LOG_ERROR("rank %d aborted the communicator: %s",
                     (int)comm->abort_msg[1], rz_status_string(reason));
        rz_comm_fail(comm, reason, 0);
    }
}

int rz_comm_progress(struct rz_comm *comm)
{
    int changed = rz_tp_progress(comm->tp);

    rz_comm_check_abort(comm);
    for (rz_request_t *req = comm->active, *next; req != NULL; req = next) {
        next = req->next;
        for (;;) {
            rz_status_t status = rz_request_step_status(req);
            if (status == RZ_INPROGRESS) {
                break;
            }
            changed = 1;
            comm->activity++;
            if (status == RZ_OK) {
                req->nops = 0;
                status = req->progress(req);
                if (status == RZ_INPROGRESS) {
                    continue;       /* new step posted: it may be done */
                }
            }
            if (status != RZ_OK) {
                rz_status_t why = rz_comm_await_notice(comm, status);
                if (why != status) {
                    RZ_LOG_ERROR("rank %d aborted the communicator: %s",
                                 (int)comm->abort_msg[1],
                                 rz_status_string(why));
                }
                rz_request_complete(req, why);
                rz_comm_fail(comm, why, why == status);
                return changed; /* the active list was emptied */
            }
            rz_request_complete(req, RZ_OK);
            break;
        }
    }
    return changed;
}

rz_status_t rz_request_start(rz_request_t *req, rz_request_h *req_p)
{
    struct rz_comm *comm = req->comm;

    rz_request_list_push(&comm->active, req);
    comm->activity++;
    rz_status_t status = req->progress(req);
    if (status != RZ_INPROGRESS) {
        /* Completed locally without communication (np = 1, count 0...). */
        rz_request_complete(req, status);
        if (status != RZ_OK) {
            rz_comm_fail(comm, status, 1);
        }
    }
    *req_p = (rz_request_h)req;
    return RZ_OK;
}

static rz_status_t rz_request_check(rz_request_h *req_p, rz_request_t **req_out)
{
    if (req_p == NULL || *req_p == NULL ||
        ((rz_request_t *)*req_p)->magic != RZ_REQUEST_MAGIC) {
        RZ_LOG_ERROR("invalid request handle");
        return RZ_ERR_INVALID_PARAM;
    }
    *req_out = (rz_request_t *)*req_p;
    return RZ_OK;
}

static rz_status_t rz_request_finish(rz_request_h *req_p, rz_request_t *req)
{
    rz_status_t status = req->status;

    rz_request_release(req);
    *req_p = NULL;
    return status;
}

/* Milliseconds since the communicator last made progress. Progress only
 * bumps a counter (no clock in the hot path); the clock is read here, on
 * the idle path, so the figure lags by at most one idle check. */
static uint64_t rz_comm_idle_ms(struct rz_comm *comm)
{
    uint64_t now = rz_time_ms();

    if (comm->activity != comm->activity_seen) {
        comm->activity_seen = comm->activity;
        comm->last_activity_ms = now;
    }
    return now - comm->last_activity_ms;
}

RZ_EXPORT rz_status_t rz_test(rz_request_h *req_p)
{
    rz_request_t *req;
    rz_status_t status = rz_request_check(req_p, &req);

    if (status != RZ_OK) {
        return status;
    }
    if (req->status == RZ_INPROGRESS) {
        rz_comm_progress(req->comm);
    }
    if (req->status == RZ_INPROGRESS) {
        uint64_t idle = rz_comm_idle_ms(req->comm);
        rz_tp_check_peers(req->comm->tp);
        if (idle > (uint64_t)req->comm->timeout_ms) {
            RZ_LOG_ERROR("%s: no progress for %lu ms (RZ_TIMEOUT_MS=%ld)",
                         rz_coll_name(req->type), (unsigned long)idle,
                         req->comm->timeout_ms);
            rz_comm_fail(req->comm, RZ_ERR_TIMEOUT, 1);
        } else if (rz_request_probe_mismatch(req) != RZ_OK) {
            rz_comm_fail(req->comm, RZ_ERR_MISMATCH, 1);
        }
    }
    if (req->status == RZ_INPROGRESS) {
        return RZ_INPROGRESS;
    }
    return rz_request_finish(req_p, req);
}

RZ_EXPORT rz_status_t rz_wait(rz_request_h *req_p)
{
    rz_request_t *req;
    rz_status_t status = rz_request_check(req_p, &req);

    if (status != RZ_OK) {
        return status;
    }
    struct rz_comm *comm = req->comm;
    const uint64_t spin_ns = (uint64_t)comm->spin_us * 1000;
    uint64_t spin_start = 0;
    unsigned idle_polls = 0;

    while (req->status == RZ_INPROGRESS) {
        if (rz_comm_progress(comm)) {
            idle_polls = 0;
            spin_start = 0;
            continue;
        }
        if (req->status != RZ_INPROGRESS) {
            continue;
        }
        /* Spin. Reading the clock costs more than a poll here (it is not
         * always a cheap vDSO call in VMs), so look at it every few polls. */
        if ((++idle_polls % RZ_WAIT_POLLS_PER_CLOCK) != 0) {
            if (comm->yield) {
                sched_yield();
            }
            continue;
        }
        uint64_t now = rz_time_ns();
        if (spin_start == 0) {
            spin_start = now;
        }
        if (now - spin_start < spin_ns) {
            continue;
        }
        /* Idle: before sleeping, look for the ways to wait forever. */
        uint64_t idle = rz_comm_idle_ms(comm);
        if (idle > (uint64_t)comm->timeout_ms) {
            RZ_LOG_ERROR("%s: no progress for %lu ms (RZ_TIMEOUT_MS=%ld); "
                         "a peer is dead, stuck or not calling it",
                         rz_coll_name(req->type), (unsigned long)idle,
                         comm->timeout_ms);
            rz_comm_fail(comm, RZ_ERR_TIMEOUT, 1);
            break;
        }
        if (rz_request_probe_mismatch(req) != RZ_OK) {
            rz_comm_fail(comm, RZ_ERR_MISMATCH, 1);
            break;
        }
        rz_tp_check_peers(comm->tp);
        if (rz_comm_progress(comm)) {
            continue;   /* a dead peer's operations fail right here */
        }
        long left = comm->timeout_ms - (long)idle;
        rz_tp_block(comm->tp, (int)RZ_MIN(left, 100));
    }
    return rz_request_finish(req_p, req);
}

/* A p2p batch is one step: complete when its operations are. */
static rz_status_t rz_p2p_progress(rz_request_t *req)
{
    if (req->step == 0) {
        req->step = 1;
        return req->nposted > 0 ? RZ_INPROGRESS : RZ_OK;
    }
    if (req->lengths != NULL) {
        for (int i = 0; i < req->nposted; i++) {
            req->lengths[i] = req->ops[i].length;
        }
    }
    return RZ_OK;
}

rz_status_t rz_p2p_begin(struct rz_comm *comm, uint64_t sig, int max_ops,
                         rz_request_t **req_p)
{
    rz_request_t *req;
    rz_status_t status;

    if (comm->error != RZ_OK) {
        return comm->error;         /* aborted earlier: fail fast */
    }
    status = rz_request_create(comm, RZ_COLL_COMPRESSED, sig, rz_p2p_progress,
                               &req);
    if (status != RZ_OK) {
        return status;
    }
    status = rz_request_reserve_ops(req, max_ops);
    if (status != RZ_OK) {
        rz_request_discard(req);
        return status;
    }
    *req_p = req;
    return RZ_OK;
}

void rz_p2p_send(rz_request_t *req, int peer, unsigned step, const void *buf,
                 size_t len)
{
    int i = req->nops;

    rz_request_send(req, peer, step, buf, len);
    req->ops[i].length = len;   /* a send's length, for rz_p2p_run */
    req->nposted = req->nops;
}

void rz_p2p_recv(rz_request_t *req, int peer, unsigned step, void *buf,
                 size_t len, int any_length)
{
    int i = req->nops;

    rz_request_recv(req, peer, step, buf, len);
    if (any_length) {
        req->expect[i] = SIZE_MAX;
    }
    req->nposted = req->nops;
}

rz_status_t rz_p2p_run(rz_request_t *req, size_t *lengths)
{
    rz_request_h h;

    req->lengths = lengths;
    /* Sends were posted already: with no receive to wait for, UCX may
     * complete them only on progress, which rz_wait drives. */
    rz_request_start(req, &h);
    return rz_wait(&h);
}

void rz_p2p_abandon(rz_request_t *req)
{
    rz_request_drain(req);
    req->status = RZ_ERR_ABORTED;
    rz_request_release(req);
}

void rz_comm_release_requests(struct rz_comm *comm);
void rz_comm_release_requests(struct rz_comm *comm)
{
    while (comm->zombies != NULL) {
        rz_request_t *req = comm->zombies;
        rz_request_list_remove(&comm->zombies, req);
        rz_request_release_memory(req, 0);
    }
    while (comm->cache != NULL) {
        rz_request_t *req = comm->cache;
        comm->cache = req->next;
        free(req);
    }
    comm->ncached = 0;
}
