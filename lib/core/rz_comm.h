/*
 * Communicator and request internals, shared by lib/core and collectives/.
 */
#ifndef RZ_COMM_INTERNAL_H
#define RZ_COMM_INTERNAL_H

#include <ringzip/coll.h>
#include "transport/rz_transport.h"
#include "util/rz_compiler.h"

#define RZ_COMM_MAGIC    0x525a434f4d4d3031ull /* "RZCOMM01" */
#define RZ_REQUEST_MAGIC 0x525a524551553031ull /* "RZREQU01" */
#define RZ_HOST_MAX      64

/*
 * Tag layout (64 bits), so that messages of different collectives, steps and
 * sources never match each other and a mismatch in arguments is visible:
 *   63     control (1 = abort notice)
 *   52-62  signature: hash of (collective, dtype, op, count, root)
 *   36-51  collective sequence number (mod 2^16)
 *   16-35  source rank
 *   0-15   step within the collective
 */
#define RZ_TAG_CTRL        (1ull << 63)
#define RZ_TAG_SIG_SHIFT   52
#define RZ_TAG_SIG_MASK    (0x7ffull << RZ_TAG_SIG_SHIFT)
#define RZ_TAG_SEQ_SHIFT   36
#define RZ_TAG_SEQ_MASK    (0xffffull << RZ_TAG_SEQ_SHIFT)
#define RZ_TAG_SRC_SHIFT   16
#define RZ_TAG_SRC_MASK    (0xfffffull << RZ_TAG_SRC_SHIFT)
#define RZ_TAG_STEP_MASK   0xffffull
#define RZ_MAX_RANKS       (1 << 20)

#define RZ_REQ_MAX_OPS 24
#define RZ_REQ_INLINE_TMP 512   /* bytes of scratch inside each request */
#define RZ_REQ_CACHE      4     /* completed requests a comm keeps for reuse */

/* RZ_SPIN_US=auto, with a core per rank and oversubscribed (yielding). */
#define RZ_SPIN_US_DEFAULT        100
#define RZ_SPIN_US_OVERSUBSCRIBED 20

/* RZ_ALLREDUCE_ALGO. */
#define RZ_ALGO_AUTO 0
#define RZ_ALGO_RING 1
#define RZ_ALGO_RD   2
#define RZ_ALGO_RH   3   /* Rabenseifner */

typedef enum {
    RZ_COLL_ALLREDUCE = 1,
    RZ_COLL_REDUCE_SCATTER,
    RZ_COLL_ALLGATHER,
    RZ_COLL_BROADCAST,
    RZ_COLL_BARRIER,
    RZ_COLL_COMPRESSED        /* a step of the compressed allreduce */
} rz_coll_type_t;

typedef struct rz_request rz_request_t;

/* One tensor of an allreduce over scattered tensors (the fusion engine):
 * the logical vector is the concatenation of the pieces. */
typedef struct {
    const void *sbuf;
    void       *rbuf;
    size_t      count;
} rz_piece_t;
/* Advance a request whose posted operations have all completed: post the
 * next step, or return the final status. RZ_INPROGRESS = keep going. */
typedef rz_status_t (*rz_coll_progress_func_t)(rz_request_t *req);

struct rz_request {
    uint64_t                magic;
    struct rz_comm         *comm;
    rz_request_t           *next;       /* comm's active or zombie list */
    rz_request_t           *prev;
    rz_coll_progress_func_t progress;
    rz_status_t             status;     /* RZ_INPROGRESS until complete */
    rz_coll_type_t          type;
    uint64_t                tag_base;   /* signature and sequence bits */
    int                     nops;
    /* Arguments. */
    const void             *sbuf;
    void                   *rbuf;
    size_t                  count;
    size_t                  esize;
    rz_dtype_t              dtype;
    rz_op_t                 op;
    int                     root;
    /* Algorithm state. */
    int                     step;
    int                     nseg;       /* ring: segments per chunk */
    void                   *tmp;        /* scratch, freed with the request */
    size_t                  tmp_size;
    size_t                 *lengths;    /* p2p batch: received lengths out */
    /* Allreduce over pieces (sbuf/rbuf unused): the pieces, their start
     * offsets (npieces + 1 elements) and room for the scatter lists of one
     * send and one receive (npieces each), all in @aux. */
    const rz_piece_t       *pieces;
    int                     npieces;
    size_t                 *pstart;
    rz_tp_iov_t            *iov;
    void                   *aux;
    int                     nposted;    /* p2p batch: operations posted */
    /* The operations of the current step: the inline arrays below, or
     * larger heap arrays after rz_request_reserve_ops(). */
    rz_tp_op_t             *ops;
    size_t                 *expect;     /* bytes per receive; SIZE_MAX:
                                           any length up to the buffer's */
    int                    *is_recv;
    int                     max_ops;
    /* Not cleared when a request is reused: written before being read. */
    rz_tp_op_t              ops_inline[RZ_REQ_MAX_OPS];
    size_t                  expect_inline[RZ_REQ_MAX_OPS];
    int                     is_recv_inline[RZ_REQ_MAX_OPS];
    /* Scratch of small calls, so that they do not malloc. */
    _Alignas(64) char       inline_tmp[RZ_REQ_INLINE_TMP];
};

struct rz_comm {
    uint64_t       magic;
    int            rank;
    int            nranks;
    int            local_rank;
    int            local_size;
    char         (*hosts)[RZ_HOST_MAX];
    rz_tp_t       *tp;
    rz_status_t    error;          /* RZ_OK, or why the comm was aborted */
    uint32_t       seq;            /* next collective's sequence number */
    rz_request_t  *active;         /* started, not complete */
    rz_request_t  *zombies;        /* complete, UCX still holds an op */
    rz_request_t  *cache;          /* freed requests kept for reuse */
    int            ncached;
    uint64_t       activity;       /* bumped on every step of progress */
    uint64_t       activity_seen;  /* value at the last idle check */
    uint64_t       last_activity_ms; /* when activity_seen was taken */
    long           timeout_ms;
    long           spin_us;        /* resolved: never -1 (auto) */
    int            yield;          /* sched_yield() while spinning */
    int            oversubscribed; /* more local ranks than cores */
    int            any_oversubscribed; /* on some host: same on all ranks */
    int            allreduce_algo; /* RZ_ALGO_* */
    size_t         ring_segment;   /* bytes per pipelined ring message */
    rz_tp_op_t     abort_recv;
    int32_t        abort_msg[2];   /* {status, rank} of an abort notice */
    rz_tp_op_t    *abort_sends;
    int32_t        abort_out[2];
};

/* Handle checks shared by every public entry point. */
rz_status_t rz_comm_check(struct rz_comm *comm);

/* Requests. */
rz_status_t rz_request_create(struct rz_comm *comm, rz_coll_type_t type,
                              uint64_t sig, rz_coll_progress_func_t progress,
                              rz_request_t **req_p);
rz_status_t rz_request_start(rz_request_t *req, rz_request_h *req_p);
/* Scratch of @bytes for @req (inline when small); freed with it. */
rz_status_t rz_request_alloc_tmp(rz_request_t *req, size_t bytes);
/* Free a request that was created but never started. */
void rz_request_discard(rz_request_t *req);
/* Post a send to / receive from @peer for @step of @req. */
void rz_request_send(rz_request_t *req, int peer, unsigned step,
                     const void *buf, size_t len);
void rz_request_recv(rz_request_t *req, int peer, unsigned step, void *buf,
                     size_t len);
/* The same from / into @iovcnt pieces of @len bytes in all; @iov must
 * stay put until the step completes. */
void rz_request_sendv(rz_request_t *req, int peer, unsigned step,
                      const rz_tp_iov_t *iov, int iovcnt, size_t len);
void rz_request_recvv(rz_request_t *req, int peer, unsigned step,
                      const rz_tp_iov_t *iov, int iovcnt, size_t len);
/* Room for @n operations in one step (call while none is posted). */
rz_status_t rz_request_reserve_ops(rz_request_t *req, int n);

/*
 * Point-to-point batches: one step of sends and receives posted by the
 * caller and waited for at once, for algorithms that compute between
 * steps (the compressed allreduce). Every rank must create the same
 * sequence of batches (each consumes a sequence number), posting nothing
 * in some is fine. A receive of RZ_P2P_ANY_LENGTH accepts any message that
 * fits; rz_p2p_run() stores every operation's length (sends: their
 * length) in @lengths[i], in posting order, when @lengths is not NULL.
 */
rz_status_t rz_p2p_begin(struct rz_comm *comm, uint64_t sig, int max_ops,
                         rz_request_t **req_p);
void rz_p2p_send(rz_request_t *req, int peer, unsigned step, const void *buf,
                 size_t len);
void rz_p2p_recv(rz_request_t *req, int peer, unsigned step, void *buf,
                 size_t len, int any_length);
rz_status_t rz_p2p_run(rz_request_t *req, size_t *lengths);
/* Drop a batch that will not be run (the communicator failed meanwhile):
 * cancel its receives, force-close the peers of its pending sends so that
 * UCX lets go of their buffers, and release it. */
void rz_p2p_abandon(rz_request_t *req);
/* Progress the whole communicator once; returns nonzero on any change. */
int rz_comm_progress(struct rz_comm *comm);
/* Fail the communicator: notify peers, fail all requests. */
void rz_comm_fail(struct rz_comm *comm, rz_status_t reason, int notify);

/* Signature of a call, folded into the tag. @variant encodes how the call
 * is carried out (algorithm, segmentation), so that ranks configured
 * differently (RZ_ALLREDUCE_ALGO, RZ_RING_SEGMENT) fail with
 * RZ_ERR_MISMATCH instead of exchanging messages that do not fit. */
uint64_t rz_coll_signature(rz_coll_type_t type, rz_dtype_t dtype, rz_op_t op,
                           size_t count, int root, uint64_t variant);

#endif
