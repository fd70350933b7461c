/*
 * Compressed allreduce with error compensation: EF, SAEF and LIEC over a
 * single server, a sharded server or a ring (docs/ALGORITHMS.md).
 *
 * An rz_ef_h is a persistent context for one fp32 vector of d elements on
 * one communicator. It owns every piece of error state (the local error
 * e^k, the server error slice this rank owns, LIEC's residual) and, for the
 * high-level interface, the model x and the momentum m. Every rank of the
 * communicator creates it with the same d and configuration and then makes
 * the same sequence of calls; a rank that differs gets RZ_ERR_MISMATCH.
 *
 * Two ways to use it:
 *   - rz_ef_step(): the library owns the optimiser (SGD with momentum and
 *     weight decay). Pass the gradient computed at the x_eval the previous
 *     call returned; get the next x_eval back.
 *   - rz_ef_exchange(): the caller owns the optimiser and the model.
 *     EF/SAEF: in = the local model update (lr * m^k), out = the global
 *     update q, bitwise the same on every rank (x -= out). LIEC: in = g^k,
 *     out = q + delta^k (feed it to the optimiser as the gradient); on a
 *     sync iteration it returns RZ_ERR_NEED_SYNC and rz_ef_liec_sync() must
 *     be called instead. method NONE: out = the compressed mean, no error
 *     state (P-SGD with the identity compressor).
 *
 * Arithmetic follows the normative floating-point rules: one fp32 IEEE
 * operation at a time, no FMA, means as rank-order sums times fp32(1/K)
 * (chain order on the compressed ring), so two runs with the same inputs
 * agree bit for bit.
 *
 * Thread safety: a context is used by one thread at a time, and no other
 * collective may run on the communicator during a call.
 */
#ifndef RINGZIP_EF_H
#define RINGZIP_EF_H

#include <ringzip/comm.h>
#include <ringzip/status.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rz_ef *rz_ef_h;

typedef enum {
    RZ_EF_METHOD_NONE = 0, /* compress both ways, keep no error (baseline) */
    RZ_EF_METHOD_EF   = 1, /* error feedback, double compression [A] */
    RZ_EF_METHOD_SAEF = 2, /* step-ahead error feedback [A] */
    RZ_EF_METHOD_LIEC = 3  /* local immediate error compensation [B] */
} rz_ef_method_t;

typedef enum {
    RZ_EF_TOPO_SINGLE     = 0, /* one server rank (server_rank) */
    RZ_EF_TOPO_SHARDED    = 1, /* rank r serves chunk r: all-to-all + allgather */
    RZ_EF_TOPO_RING       = 2, /* ring reduce-scatter re-compressing per hop,
                                  then an allgather relay */
    RZ_EF_TOPO_RING_EXACT = 3  /* ring relaying every contribution unchanged
                                  (bitwise = sharded; for tests) */
} rz_ef_topology_t;

typedef struct {
    size_t           struct_size;   /* sizeof(rz_ef_config_t); set by init */
    rz_ef_method_t   method;        /* default EF */
    rz_ef_topology_t topology;      /* default SHARDED */
    int              server_rank;   /* SINGLE: the server (default 0) */
    int              chunk_aligned; /* SINGLE: compress per chunk as the
                                       sharded server does (default 0:
                                       the whole vector is one chunk) */
    const char      *worker_compressor; /* "name[:params]", NULL = "none" */
    const char      *server_compressor; /* "name[:params]", NULL = "none"
                                       (single-way compression) */
    uint64_t         seed;          /* global seed of shared random masks */
    uint32_t         err_avg_period;   /* EF/SAEF: p, 0 = never */
    uint32_t         model_avg_period; /* LIEC: H, 0 = never */
    float            momentum;      /* mu (high-level step only) */
    float            weight_decay;  /* lambda (high-level step only) */
} rz_ef_config_t;

/* Statistics of one call. */
typedef struct {
    uint64_t iter;            /* iteration t of the call (0 for create) */
    uint64_t bytes_sent;      /* everything this call put on the wire */
    uint64_t bytes_recv;      /* everything it took off the wire */
    uint64_t bytes_sent_compressed; /* of bytes_sent: compressed messages */
    uint64_t bytes_sent_fp32; /* of bytes_sent: full-precision operations */
    double   local_err_norm;  /* ||e^k|| (EF/SAEF) or ||delta^k|| (LIEC),
                                 after the call */
    double   server_err_norm; /* ||e_srv|| of the slice this rank owns */
    int      err_averaged;    /* performed the error averaging for t + 1
                                 (for create: for t = 0) */
    int      models_averaged; /* was a LIEC sync iteration */
} rz_ef_stats_t;

typedef enum {
    RZ_EF_VIEW_MODEL   = 0, /* EF/SAEF: x_t; LIEC: the local x^k_t */
    RZ_EF_VIEW_EVAL    = 1, /* where the next gradient is computed */
    RZ_EF_VIEW_AVERAGE = 2, /* collective: LIEC mean_k x^k; EF/SAEF x_t */
    RZ_EF_VIEW_VIRTUAL = 3  /* collective: EF/SAEF x - e_srv - mean_k e^k;
                               LIEC mean_k x^k - lr * e_srv (last lr) */
} rz_ef_view_t;

typedef enum {
    RZ_EF_STATE_LOCAL_ERR  = 0, /* e^k (EF/SAEF) or delta^k (LIEC), d */
    RZ_EF_STATE_SERVER_ERR = 1, /* e_srv of the owned range */
    RZ_EF_STATE_MOMENTUM   = 2, /* m^k, d (NULL until allocated) */
    RZ_EF_STATE_MODEL      = 3, /* x (high-level), d */
    RZ_EF_STATE_EXCHANGE_IN = 4 /* rz_ef_step's last exchange input:
                                   lr*m (EF/SAEF/NONE) or g (LIEC), d;
                                   rz_ef_exchange keeps no copy */
} rz_ef_state_t;

/* Fill @cfg with defaults: EF, sharded, server 0, sign both ways, seed 0,
 * no averaging, no momentum or weight decay. */
void rz_ef_config_init(rz_ef_config_t *cfg);

/*
 * Create a context for @d elements (d >= 1) with configuration @cfg (NULL:
 * the defaults of rz_ef_config_init). @x0 (d floats, the same on
 * every rank) is the initial model of the high-level interface; NULL means
 * zeros (low-level use). @x_eval (may be NULL) receives where to compute
 * gradient #0. @st (may be NULL) gets the bytes of the t = 0 error
 * averaging that EF/SAEF with p = 1 performs here. *ef_p is written on
 * success only. Collective.
 */
rz_status_t rz_ef_create(rz_comm_h comm, size_t d, const rz_ef_config_t *cfg,
                         const float *x0, float *x_eval, rz_ef_stats_t *st,
                         rz_ef_h *ef_p);

/* Free the context (local; no communication). NULL is ignored. */
rz_status_t rz_ef_destroy(rz_ef_h ef);

/*
 * One optimiser iteration (ALGORITHMS.md section 4): @grad is the gradient
 * at the previous x_eval, @lr the learning rate; @x_eval (may be NULL)
 * receives the point for the next gradient. Collective.
 */
rz_status_t rz_ef_step(rz_ef_h ef, const float *grad, float lr, float *x_eval,
                       rz_ef_stats_t *st);

/* Low-level exchange, see above. @in and @out may be the same buffer. */
rz_status_t rz_ef_exchange(rz_ef_h ef, const float *in, float *out,
                           rz_ef_stats_t *st);

/*
 * LIEC sync iteration in low-level mode: @x_local (in/out) is replaced by
 * mean_k x^k; @g is this rank's gradient; @out (may be @g) receives v =
 * mean_k g^k + e_srv in full precision, and e_srv is flushed. Counts as the
 * iteration (t advances). Only on sync iterations ((t+1) mod H == 0, where
 * rz_ef_exchange returns RZ_ERR_NEED_SYNC), else RZ_ERR_INVALID_PARAM; with
 * H = 0 at any iteration (a sync on the caller's schedule). Collective.
 */
rz_status_t rz_ef_liec_sync(rz_ef_h ef, float *x_local, const float *g,
                            float *out, rz_ef_stats_t *st);

/* Force an EF/SAEF error averaging now (fp32 allreduce of e^k). */
rz_status_t rz_ef_average_errors(rz_ef_h ef, rz_ef_stats_t *st);

/* Copy a view of the parameters into @out (d floats). AVERAGE and VIRTUAL
 * are collective. */
rz_status_t rz_ef_get_params(rz_ef_h ef, rz_ef_view_t which, float *out);

/* Borrow a state vector: *ptr_p points at its *n_p elements, which cover
 * [*offset_p, *offset_p + *n_p) of the d-vector. Valid until the next call
 * on @ef. A state that does not exist gives NULL and n = 0. */
rz_status_t rz_ef_get_state(rz_ef_h ef, rz_ef_state_t which,
                            const float **ptr_p, size_t *offset_p,
                            size_t *n_p);

/* The iteration counter t (the number of completed steps/exchanges). */
uint64_t rz_ef_iteration(rz_ef_h ef);

/* Chunk c of the d-vector on K ranks: [offset, offset + n). */
void rz_ef_chunk(size_t d, int nranks, int c, size_t *offset_p, size_t *n_p);

/* Names for logs and command lines ("ef", "sharded", ...). */
const char *rz_ef_method_name(rz_ef_method_t method);
const char *rz_ef_topology_name(rz_ef_topology_t topology);
/* Parse those names (and "single-server", "ring-exact"); RZ_ERR_INVALID_PARAM
 * for anything else. */
rz_status_t rz_ef_method_parse(const char *name, rz_ef_method_t *method_p);
rz_status_t rz_ef_topology_parse(const char *name, rz_ef_topology_t *topo_p);

#ifdef __cplusplus
}
#endif

#endif
