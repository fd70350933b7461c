/*
 * The transport layer: the only code that includes UCX. One UCP context and
 * worker per communicator, one endpoint per peer (with peer error handling),
 * tagged non-blocking send/receive, and an event descriptor to block on.
 * No UCX type crosses this header.
 */
#ifndef RZ_TRANSPORT_H
#define RZ_TRANSPORT_H

#include <ringzip/status.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rz_tp rz_tp_t;

/* One send or receive. Owned by the caller; must stay put until done. */
typedef struct {
    volatile int done;     /* set once the operation has completed */
    rz_status_t  status;   /* RZ_OK, RZ_ERR_MISMATCH (truncated), ... */
    size_t       length;   /* bytes received */
    uint64_t     tag;      /* tag received */
    int          peer;     /* the rank on the other side */
    void        *ucx_req;  /* in-flight UCX request, NULL when none */
} rz_tp_op_t;

rz_status_t rz_tp_create(rz_tp_t **tp_p);
/* This worker's address, valid until rz_tp_destroy(). */
void rz_tp_address(rz_tp_t *tp, const void **addr_p, size_t *len_p);
/* What the layer above knows about a peer before connecting to it. */
typedef struct {
    int local; /* same host and kernel: shared memory and CMA may be used */
    int pid;   /* its pid in our pid namespace, or 0 when not comparable */
} rz_tp_peer_info_t;

/*
 * Create endpoints to every rank from the address table (stride bytes per
 * rank, true lengths in @lens). Remote peers get UCX peer-failure handling
 * (keepalive, error callbacks). Local peers (@info[r].local) do not: in UCX
 * that mode excludes the shared-memory and CMA transports and would send
 * every byte through TCP loopback. Their death is detected instead through
 * a pidfd on @info[r].pid. @info may be NULL (all remote).
 */
rz_status_t rz_tp_connect(rz_tp_t *tp, int nranks, int my_rank,
                          const void *table, size_t stride,
                          const uint32_t *lens, const rz_tp_peer_info_t *info);

rz_status_t rz_tp_isend(rz_tp_t *tp, int peer, uint64_t tag, const void *buf,
                        size_t len, rz_tp_op_t *op);

/* One piece of a scattered message (the layout of UCX's ucp_dt_iov_t). */
typedef struct {
    void  *buffer;
    size_t length;
} rz_tp_iov_t;

/* Send / receive one message gathered from / scattered into @iovcnt
 * pieces (@len bytes in all). The array must stay put until done. */
rz_status_t rz_tp_isendv(rz_tp_t *tp, int peer, uint64_t tag,
                         const rz_tp_iov_t *iov, size_t iovcnt, size_t len,
                         rz_tp_op_t *op);
rz_status_t rz_tp_irecvv(rz_tp_t *tp, int peer, uint64_t tag, uint64_t mask,
                         const rz_tp_iov_t *iov, size_t iovcnt,
                         rz_tp_op_t *op);
/* Receive from @peer (used only for failure attribution: the match is on
 * tag & mask, so the tag must encode the source). */
rz_status_t rz_tp_irecv(rz_tp_t *tp, int peer, uint64_t tag, uint64_t mask,
                        void *buf, size_t len, rz_tp_op_t *op);
/* Cancel a pending receive; it completes (done=1) on a later progress. */
void rz_tp_cancel(rz_tp_t *tp, rz_tp_op_t *op);

/* Force-close the endpoint to @peer: its outstanding sends complete with
 * an error now, and later sends to it fail. For aborted communicators. */
void rz_tp_close_peer(rz_tp_t *tp, int peer);

/* Drive UCX; returns nonzero if anything happened. */
int rz_tp_progress(rz_tp_t *tp);
/* Arm the worker and sleep on its event fd for up to @timeout_ms. Returns
 * at once if events are already pending. */
void rz_tp_block(rz_tp_t *tp, int timeout_ms);
/* Is an unexpected message with (tag & mask) queued? Reports its tag and
 * length without consuming it. */
int rz_tp_probe(rz_tp_t *tp, uint64_t tag, uint64_t mask, uint64_t *tag_p,
                size_t *len_p);
/* RZ_OK or the failure recorded for the connection to @peer. */
rz_status_t rz_tp_peer_status(rz_tp_t *tp, int peer);
/* Look for local peers that have exited (at most every few milliseconds;
 * for idle paths, it reads the clock) and mark them failed. */
void rz_tp_check_peers(rz_tp_t *tp);

/* Close endpoints (flushing for a short while unless @force), free all. */
void rz_tp_destroy(rz_tp_t *tp, int force);

/* rz_info: the UCX version, memory domains and transport devices seen. */
void rz_tp_print_resources(FILE *out);

#endif
