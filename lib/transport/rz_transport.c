#include "transport/rz_transport.h"

#include <stddef.h>
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

/* How long a graceful close may flush before we force it. */
#define RZ_TP_CLOSE_FLUSH_MS 2000
/* How often rz_tp_check_peers looks for local peers that have exited. */
#define RZ_TP_LIVENESS_MS    10
/* Sends up to this many bytes ask UCX for fast local completion
 * (UCP_OP_ATTR_FLAG_FAST_CMPL), as MPI's blocking sends do: UCX then sends
 * them eagerly, copied through its buffers (up to UCX_RNDV_SEND_NBR_THRESH,
 * 256 KiB by default), instead of by rendezvous, whose handshake needs the
 * receiver on a core before the send can complete. The ring's default
 * segment (RZ_RING_SEGMENT) is this size: two copies through buffers that
 * stay in cache beat one CMA copy that pins the pages on every call and
 * waits for a handshake, at every size measured (docs/PERFORMANCE.md). */
#define RZ_TP_FAST_CMPL_MAX  (128 * 1024)

struct rz_tp {
    ucp_context_h   context;
    ucp_worker_h    worker;
    ucp_address_t  *address;
    size_t          address_len;
    int             efd;
    int             nranks;
    int             my_rank;
    ucp_ep_h       *eps;
    rz_status_t    *peer_status;
    struct rz_tp_ep_arg *ep_args;  /* error-handler arguments, per peer */
    int            *pidfds;        /* local peers' pidfds, -1 when none */
    int            *pids;          /* local peers' pids, 0 when unknown */
    struct pollfd  *pfds;          /* event fd + pidfds, for rz_tp_block */
    int             npfds;
    uint64_t        next_liveness_ms;
};

typedef struct rz_tp_ep_arg {
    rz_tp_t *tp;
    int      peer;
} rz_tp_ep_arg_t;

static rz_status_t rz_tp_status(ucs_status_t status)
{
    switch (status) {
    case UCS_OK:                      return RZ_OK;
    case UCS_INPROGRESS:              return RZ_INPROGRESS;
    case UCS_ERR_NO_MEMORY:           return RZ_ERR_NO_MEMORY;
    case UCS_ERR_MESSAGE_TRUNCATED:   return RZ_ERR_MISMATCH;
    case UCS_ERR_CANCELED:            return RZ_ERR_ABORTED;
    case UCS_ERR_TIMED_OUT:
    case UCS_ERR_ENDPOINT_TIMEOUT:    return RZ_ERR_TIMEOUT;
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_REJECTED:            return RZ_ERR_PEER_FAILURE;
    case UCS_ERR_UNSUPPORTED:         return RZ_ERR_NOT_SUPPORTED;
    default:                          return RZ_ERR_TRANSPORT;
    }
}

static void rz_tp_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    rz_tp_ep_arg_t *ea = arg;
    (void)ep;

    if (ea->tp->peer_status[ea->peer] == RZ_OK) {
        RZ_LOG_DEBUG("connection to rank %d failed: %s", ea->peer,
                     ucs_status_string(status));
        ea->tp->peer_status[ea->peer] = RZ_ERR_PEER_FAILURE;
    }
}

/*
 * Shared-memory FIFO elements of RZ_TP_FIFO_ELEM_SIZE bytes instead of
 * UCX's 128: messages that fit in one element go out as "short" (the
 * payload written into the receiver's FIFO, no separate buffer), so up to
 * about 1 KiB instead of 93 B. At np = 2 this takes 256 B and 1 KiB
 * allreduces 10 to 30% below UCX's default and leaves 8 B and 4 KiB as
 * they were (docs/PERFORMANCE.md). A user's own UCX_*FIFO_ELEM_SIZE wins.
 */
#define RZ_TP_FIFO_ELEM_SIZE "1152"

static void rz_tp_tune_config(ucp_config_t *config)
{
    static const char *const user[] = {"UCX_MM_FIFO_ELEM_SIZE",
                                       "UCX_SYSV_FIFO_ELEM_SIZE",
                                       "UCX_POSIX_FIFO_ELEM_SIZE"};

    for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++) {
        if (getenv(user[i]) != NULL) {
            return;
        }
    }
    ucs_status_t st = ucp_config_modify(config, "MM_FIFO_ELEM_SIZE",
                                        RZ_TP_FIFO_ELEM_SIZE);
    if (st != UCS_OK) {
        RZ_LOG_DEBUG("UCX does not take MM_FIFO_ELEM_SIZE (%s); keeping its "
                     "default", ucs_status_string(st));
    }
}

rz_status_t rz_tp_create(rz_tp_t **tp_p)
{
    rz_tp_t *tp = calloc(1, sizeof(*tp));
    ucp_config_t *config;
    ucs_status_t st;
    rz_status_t status = RZ_ERR_TRANSPORT;

    if (tp == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    tp->efd = -1;
    st = ucp_config_read(NULL, NULL, &config);
    if (st != UCS_OK) {
        RZ_LOG_ERROR("ucp_config_read: %s", ucs_status_string(st));
        goto err_free;
    }
    rz_tp_tune_config(config);
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED,
        .features   = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP,
        .mt_workers_shared = 0,
    };
    st = ucp_init(&params, config, &tp->context);
    ucp_config_release(config);
    if (st != UCS_OK) {
        RZ_LOG_ERROR("ucp_init: %s", ucs_status_string(st));
        goto err_free;
    }
    ucp_worker_params_t wparams = {
        .field_mask  = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SINGLE,
    };
    st = ucp_worker_create(tp->context, &wparams, &tp->worker);
    if (st != UCS_OK) {
        RZ_LOG_ERROR("ucp_worker_create: %s", ucs_status_string(st));
        goto err_cleanup;
    }
    st = ucp_worker_get_efd(tp->worker, &tp->efd);
    if (st != UCS_OK) {
        RZ_LOG_ERROR("ucp_worker_get_efd: %s", ucs_status_string(st));
        goto err_worker;
    }
    st = ucp_worker_get_address(tp->worker, &tp->address, &tp->address_len);
    if (st != UCS_OK) {
        RZ_LOG_ERROR("ucp_worker_get_address: %s", ucs_status_string(st));
        goto err_worker;
    }
    *tp_p = tp;
    return RZ_OK;

err_worker:
    ucp_worker_destroy(tp->worker);
err_cleanup:
    ucp_cleanup(tp->context);
err_free:
    free(tp);
    return status;
}

void rz_tp_address(rz_tp_t *tp, const void **addr_p, size_t *len_p)
{
    *addr_p = tp->address;
    *len_p = tp->address_len;
}

static void rz_tp_ep_close(rz_tp_t *tp, ucp_ep_h ep, int force,
                           uint64_t deadline_ms)
{
    ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                             .flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0};
    void *req = ucp_ep_close_nbx(ep, &p);

    if (!UCS_PTR_IS_PTR(req)) {
        return;
    }
    while (ucp_request_check_status(req) == UCS_INPROGRESS) {
        ucp_worker_progress(tp->worker);
        if (!force && rz_time_ms() > deadline_ms) {
            /* A peer that stopped answering must not hang us: cancel
             * the flush by closing again with force. */
            ucp_request_free(req);
            rz_tp_ep_close(tp, ep, 1, deadline_ms);
            return;
        }
    }
    ucp_request_free(req);
}

static int rz_tp_pidfd_open(int pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* A local peer has exited: mark it so its operations fail now. It may
 * have finished normally, leaving eager messages for us in shared memory,
 * so deliver everything already queued first. */
static void rz_tp_peer_exited(rz_tp_t *tp, int r)
{
    for (int i = 0; i < 1000 && ucp_worker_progress(tp->worker) != 0; i++) {
    }
    if (tp->peer_status[r] == RZ_OK) {
        RZ_LOG_DEBUG("rank %d (pid %d) has exited", r, tp->pids[r]);
        tp->peer_status[r] = RZ_ERR_PEER_FAILURE;
    }
}

static void rz_tp_check_liveness(rz_tp_t *tp)
{
    uint64_t now = rz_time_ms();

    if (tp->pids == NULL || now < tp->next_liveness_ms) {
        return;
    }
    tp->next_liveness_ms = now + RZ_TP_LIVENESS_MS;
    for (int r = 0; r < tp->nranks; r++) {
        if (tp->pids[r] == 0 || tp->peer_status[r] != RZ_OK) {
            continue;
        }
        if (tp->pidfds[r] >= 0) {
            struct pollfd pfd = {.fd = tp->pidfds[r], .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0) {
                rz_tp_peer_exited(tp, r);
            }
        } else if (kill(tp->pids[r], 0) != 0 && errno == ESRCH) {
            rz_tp_peer_exited(tp, r);
        }
    }
}

rz_status_t rz_tp_connect(rz_tp_t *tp, int nranks, int my_rank,
                          const void *table, size_t stride,
                          const uint32_t *lens, const rz_tp_peer_info_t *info)
{
    (void)lens;
    tp->eps = calloc((size_t)nranks, sizeof(*tp->eps));
    tp->peer_status = calloc((size_t)nranks, sizeof(*tp->peer_status));
    tp->ep_args = calloc((size_t)nranks, sizeof(*tp->ep_args));
    tp->pidfds = malloc((size_t)nranks * sizeof(*tp->pidfds));
    tp->pids = calloc((size_t)nranks, sizeof(*tp->pids));
    tp->pfds = calloc((size_t)nranks + 1, sizeof(*tp->pfds));
    if (tp->eps == NULL || tp->peer_status == NULL || tp->ep_args == NULL ||
        tp->pidfds == NULL || tp->pids == NULL || tp->pfds == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    tp->nranks = nranks;
    tp->my_rank = my_rank;
    for (int r = 0; r < nranks; r++) {
        tp->pidfds[r] = -1;
    }
    tp->pfds[tp->npfds++] = (struct pollfd){.fd = tp->efd, .events = POLLIN};
    for (int r = 0; r < nranks; r++) {
        int local = (info != NULL) && info[r].local;
        if (local && r != my_rank && info[r].pid > 0) {
            tp->pids[r] = info[r].pid;
            tp->pidfds[r] = rz_tp_pidfd_open(info[r].pid);
            /* A peer that has already exited (it may have finished
             * and left a notice for us) is noticed by the kill(2)
             * fallback on first use. */
            if (tp->pidfds[r] >= 0) {
                tp->pfds[tp->npfds++] = (struct pollfd){.fd = tp->pidfds[r],
                                                        .events = POLLIN};
            }
        }
        tp->ep_args[r].tp = tp;
        tp->ep_args[r].peer = r;
        ucp_ep_params_t ep_params = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                          UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
            .address = (const ucp_address_t *)((const char *)table +
                                               (size_t)r * stride),
            .err_mode = local ? UCP_ERR_HANDLING_MODE_NONE
                              : UCP_ERR_HANDLING_MODE_PEER,
        };
        if (!local) {
            ep_params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
            ep_params.err_handler.cb = rz_tp_ep_error;
            ep_params.err_handler.arg = &tp->ep_args[r];
        }
        ucs_status_t st = ucp_ep_create(tp->worker, &ep_params, &tp->eps[r]);
        if (st != UCS_OK && local && st != UCS_ERR_NO_MEMORY) {
            /* Shared memory connects at once: a peer that has already
             * failed and destroyed its worker is gone. Its abort notice
             * may still be waiting for us, so this is not fatal here. */
            RZ_LOG_DEBUG("cannot connect to local rank %d: %s", r,
                         ucs_status_string(st));
            tp->eps[r] = NULL;
            tp->peer_status[r] = RZ_ERR_PEER_FAILURE;
            continue;
        }
        if (st != UCS_OK) {
            RZ_LOG_ERROR("cannot create an endpoint to rank %d: %s", r,
                         ucs_status_string(st));
            tp->eps[r] = NULL;
            tp->peer_status[r] = RZ_ERR_PEER_FAILURE;
            return rz_tp_status(st) == RZ_ERR_NO_MEMORY ? RZ_ERR_NO_MEMORY
                                                        : RZ_ERR_TRANSPORT;
        }
    }
    return RZ_OK;
}

static void rz_tp_send_cb(void *request, ucs_status_t status, void *user_data)
{
    rz_tp_op_t *op = user_data;

    op->status = rz_tp_status(status);
    op->ucx_req = NULL;
    op->done = 1;
    ucp_request_free(request);
}

static void rz_tp_recv_cb(void *request, ucs_status_t status,
                          const ucp_tag_recv_info_t *info, void *user_data)
{
    rz_tp_op_t *op = user_data;

    op->status = rz_tp_status(status);
    if (status == UCS_OK) {
        op->length = info->length;
        op->tag = info->sender_tag;
    }
    op->ucx_req = NULL;
    op->done = 1;
    ucp_request_free(request);
}

_Static_assert(sizeof(rz_tp_iov_t) == sizeof(ucp_dt_iov_t) &&
               offsetof(rz_tp_iov_t, buffer) == offsetof(ucp_dt_iov_t, buffer) &&
               offsetof(rz_tp_iov_t, length) == offsetof(ucp_dt_iov_t, length),
               "rz_tp_iov_t must match ucp_dt_iov_t");

/* @buf/@count: a contiguous buffer of @len bytes (count = len), or an
 * array of @count rz_tp_iov_t that add up to @len bytes (@iov). */
static rz_status_t rz_tp_isend_dt(rz_tp_t *tp, int peer, uint64_t tag,
                                  const void *buf, size_t count, size_t len,
                                  int iov, rz_tp_op_t *op)
{
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
        .cb.send = rz_tp_send_cb,
        .user_data = op,
    };

    if (iov) {
        p.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE;
        p.datatype = ucp_dt_make_iov();
    }
    if (len <= RZ_TP_FAST_CMPL_MAX) {
        p.op_attr_mask |= UCP_OP_ATTR_FLAG_FAST_CMPL;
    }
    op->done = 0;
    op->status = RZ_INPROGRESS;
    op->length = len;
    op->peer = peer;
    op->ucx_req = NULL;
    if (tp->peer_status[peer] != RZ_OK || tp->eps[peer] == NULL) {
        op->status = RZ_ERR_PEER_FAILURE;
        op->done = 1;
        return RZ_ERR_PEER_FAILURE;
    }
    void *req = ucp_tag_send_nbx(tp->eps[peer], buf, count, tag, &p);
    if (req == NULL) {
        op->status = RZ_OK;
        op->done = 1;
    } else if (UCS_PTR_IS_ERR(req)) {
        op->status = rz_tp_status(UCS_PTR_STATUS(req));
        op->done = 1;
        RZ_LOG_DEBUG("send to rank %d failed: %s", peer,
                     ucs_status_string(UCS_PTR_STATUS(req)));
        return op->status;
    } else if (!op->done) {
        op->ucx_req = req;
    }
    return RZ_OK;
}

rz_status_t rz_tp_isend(rz_tp_t *tp, int peer, uint64_t tag, const void *buf,
                        size_t len, rz_tp_op_t *op)
{
    return rz_tp_isend_dt(tp, peer, tag, buf, len, len, 0, op);
}

rz_status_t rz_tp_isendv(rz_tp_t *tp, int peer, uint64_t tag,
                         const rz_tp_iov_t *iov, size_t iovcnt, size_t len,
                         rz_tp_op_t *op)
{
    return rz_tp_isend_dt(tp, peer, tag, iov, iovcnt, len, 1, op);
}

static rz_status_t rz_tp_irecv_dt(rz_tp_t *tp, int peer, uint64_t tag,
                                  uint64_t mask, void *buf, size_t count,
                                  int iov, rz_tp_op_t *op)
{
    /* UCX 1.13 does not fill recv_info on immediate completion, so ask for
     * the callback always; it may run before ucp_tag_recv_nbx returns. */
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK |
                        UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FLAG_NO_IMM_CMPL,
        .cb.recv = rz_tp_recv_cb,
        .user_data = op,
    };

    if (iov) {
        p.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE;
        p.datatype = ucp_dt_make_iov();
    }
    op->done = 0;
    op->status = RZ_INPROGRESS;
    op->length = 0;
    op->peer = peer;
    op->ucx_req = NULL;
    void *req = ucp_tag_recv_nbx(tp->worker, buf, count, tag, mask, &p);
    if (UCS_PTR_IS_ERR(req)) {
        op->status = rz_tp_status(UCS_PTR_STATUS(req));
        op->done = 1;
        return op->status;
    }
    if (req != NULL && !op->done) {
        op->ucx_req = req;
    }
    return RZ_OK;
}

rz_status_t rz_tp_irecv(rz_tp_t *tp, int peer, uint64_t tag, uint64_t mask,
                        void *buf, size_t len, rz_tp_op_t *op)
{
    return rz_tp_irecv_dt(tp, peer, tag, mask, buf, len, 0, op);
}

rz_status_t rz_tp_irecvv(rz_tp_t *tp, int peer, uint64_t tag, uint64_t mask,
                         const rz_tp_iov_t *iov, size_t iovcnt,
                         rz_tp_op_t *op)
{
    return rz_tp_irecv_dt(tp, peer, tag, mask, (void *)iov, iovcnt, 1, op);
}

void rz_tp_cancel(rz_tp_t *tp, rz_tp_op_t *op)
{
    if (!op->done && op->ucx_req != NULL) {
        ucp_request_cancel(tp->worker, op->ucx_req);
    }
}

void rz_tp_close_peer(rz_tp_t *tp, int peer)
{
    if (tp->eps == NULL || tp->eps[peer] == NULL) {
        return;
    }
    rz_tp_ep_close(tp, tp->eps[peer], 1, 0);
    tp->eps[peer] = NULL;
    if (tp->peer_status[peer] == RZ_OK) {
        tp->peer_status[peer] = RZ_ERR_ABORTED;
    }
}

int rz_tp_progress(rz_tp_t *tp)
{
    return (int)ucp_worker_progress(tp->worker);
}

void rz_tp_block(rz_tp_t *tp, int timeout_ms)
{
    struct pollfd one = {.fd = tp->efd, .events = POLLIN};
    struct pollfd *pfds = (tp->npfds > 0) ? tp->pfds : &one;
    int npfds = (tp->npfds > 0) ? tp->npfds : 1;
    ucs_status_t st = ucp_worker_arm(tp->worker);

    if (st == UCS_ERR_BUSY) {
        return;                 /* events pending: go and progress them */
    }
    if (st != UCS_OK) {
        /* No wakeup support on some transport: degrade to a short nap. */
        poll(NULL, 0, RZ_MIN(timeout_ms, 1));
        return;
    }
    int n = poll(pfds, (nfds_t)npfds, timeout_ms);
    if (n < 0 && errno != EINTR) {
        RZ_LOG_DEBUG("poll(UCX event fd): %m");
    }
    /* A local peer's pidfd fired: it has exited (checked right away). */
    for (int i = 1; n > 0 && i < npfds; i++) {
        if (pfds[i].revents != 0) {
            tp->next_liveness_ms = 0;
            rz_tp_check_liveness(tp);
            break;
        }
    }
}

int rz_tp_probe(rz_tp_t *tp, uint64_t tag, uint64_t mask, uint64_t *tag_p,
                size_t *len_p)
{
    ucp_tag_recv_info_t info;
    ucp_tag_message_h msg = ucp_tag_probe_nb(tp->worker, tag, mask, 0, &info);

    if (msg == NULL) {
        return 0;
    }
    *tag_p = info.sender_tag;
    *len_p = info.length;
    return 1;
}

void rz_tp_check_peers(rz_tp_t *tp)
{
    if (tp->peer_status != NULL) {
        rz_tp_check_liveness(tp);
    }
}

rz_status_t rz_tp_peer_status(rz_tp_t *tp, int peer)
{
    if (tp->peer_status == NULL) {
        return RZ_OK;
    }
    return tp->peer_status[peer];
}

void rz_tp_destroy(rz_tp_t *tp, int force)
{
    uint64_t deadline = rz_time_ms() + RZ_TP_CLOSE_FLUSH_MS;

    if (tp == NULL) {
        return;
    }
    for (int r = 0; tp->eps != NULL && r < tp->nranks; r++) {
        if (tp->eps[r] != NULL) {
            rz_tp_ep_close(tp, tp->eps[r],
                           force || tp->peer_status[r] != RZ_OK, deadline);
        }
    }
    if (tp->address != NULL) {
        ucp_worker_release_address(tp->worker, tp->address);
    }
    ucp_worker_destroy(tp->worker);
    ucp_cleanup(tp->context);
    for (int r = 0; tp->pidfds != NULL && r < tp->nranks; r++) {
        if (tp->pidfds[r] >= 0) {
            close(tp->pidfds[r]);
        }
    }
    free(tp->eps);
    free(tp->peer_status);
    free(tp->ep_args);
    free(tp->pidfds);
    free(tp->pids);
    free(tp->pfds);
    free(tp);
}
