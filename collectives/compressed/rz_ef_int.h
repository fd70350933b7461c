/*
 * Internals of the compressed allreduce, shared by rz_ef.c (the API, the
 * optimiser steps, the periodic schedule) and rz_ef_xchg.c (the wire
 * protocols of every topology and the full-precision operations).
 */
#ifndef RZ_EF_INT_H
#define RZ_EF_INT_H

#include <ringzip/ef.h>

#include "core/rz_comm.h"
#include "plugin/rz_plugin.h"

#include <stddef.h>
#include <stdint.h>

#define RZ_EF_MAGIC 0x525a4546435458ull /* "RZEFCTX" */

/* fp32 allgather patterns of the periodic operations (ALGORITHMS.md 3.4). */
typedef enum {
    RZ_EF_AG_DIRECT, /* the owner sends its chunk to every other rank */
    RZ_EF_AG_RING    /* relay along the ring: rank i owns chunk i + 1 */
} rz_ef_ag_t;

typedef struct rz_ef {
    uint64_t          magic;
    struct rz_comm   *comm;
    int               K;
    int               rank;
    size_t            d;
    rz_ef_config_t    cfg;
    char             *wspec;      /* worker compressor spec */
    char             *sspec;      /* server compressor spec */
    rz_plugin_t      *cw;
    rz_plugin_t      *cs;
    uint64_t          sig;        /* tag signature of every batch */
    uint64_t          t;          /* iteration counter */
    float             inv_k;      /* fp32(1/K) */
    float             last_lr;
    /* Chunks: K of them (koff/klen); codec chunks are these, or the whole
     * vector for the single server in whole-vector mode. */
    size_t           *koff;
    size_t           *klen;
    int               ncc;        /* codec chunks */
    size_t           *coff;
    size_t           *clen;
    /* Server error: the owned range. */
    float            *esrv;
    size_t            srv_off;
    size_t            srv_n;
    /* Vectors of d floats. */
    float            *e;          /* e^k (EF/SAEF) or delta^k (LIEC) */
    float            *acc;        /* partial sums and scratch */
    float            *x;          /* model (high-level) */
    float            *m;          /* momentum, allocated on first use */
    float            *xeval;      /* SAEF: x - e */
    float            *xin;        /* last exchange input */
    /* Wire buffers. */
    size_t           *wcap;       /* max worker bytes per codec chunk */
    size_t           *scap;       /* max server bytes per codec chunk */
    size_t            wmax;       /* max over codec chunks */
    size_t            smax;
    uint8_t          *wmsg;       /* this rank's worker messages */
    size_t           *wof;
    size_t           *wsz;
    uint8_t          *smsg;       /* server messages, every chunk */
    size_t           *sof;
    size_t           *ssz;
    uint8_t          *rmsg;       /* received worker messages */
    size_t            rmsg_cap;
    size_t           *rsz;
    uint8_t          *stage;      /* fp32 slices of the periodic operations */
    size_t            stage_cap;
    /* The current batch. */
    rz_request_t     *req;
    int               maxops;
    int               nb;
    size_t           *blen;
    uint8_t          *bkind;      /* 0 recv, 1 compressed send, 2 fp32 send */
    rz_ef_stats_t     st;         /* of the current call */
    /* Where the current call's time went (for the fusion timeline):
     * encoding, decoding (with the reductions fused into it), and waiting
     * for batches on the wire. Reset with st. */
    uint64_t          ns_encode;
    uint64_t          ns_decode;
    uint64_t          ns_wire;
} rz_ef_t;

/* The phase times of @ef's last call, in nanoseconds. */
void rz_ef_phase_times(const rz_ef_t *ef, uint64_t *encode_ns,
                       uint64_t *wire_ns, uint64_t *decode_ns);

static inline int rz_ef_mod(int a, int K)
{
    int r = a % K;
    return r < 0 ? r + K : r;
}

/* ---------------------------------------------------------------------- */
/* Elementwise fp32 kernels: one IEEE operation per step, vectorisable.    */

static inline void rz_ef_add_inplace(float *restrict y,
                                     const float *restrict a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = y[i] + a[i];
    }
}

static inline void rz_ef_sub_inplace(float *restrict y,
                                     const float *restrict a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = y[i] - a[i];
    }
}

static inline void rz_ef_scale(float *restrict y, float s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = y[i] * s;
    }
}

/* y = a + s*b, two roundings. */
static inline void rz_ef_axpy(float *y, const float *a, float s,
                              const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float t = s * b[i];
        y[i] = a[i] + t;
    }
}

/* The compressed exchange of the configured topology: X -> out (q, the
 * decoded server messages), residuals into @res (may alias X; NULL keeps
 * none), server errors updated at the owners. X may alias out. */
rz_status_t rz_ef_xchg(rz_ef_t *ef, const float *X, float *res, float *out);

/* The fp32 allreduce of every topology (direct reduce-scatter to the ring
 * owners in rank order, ring relay); @mean: times fp32(1/K). */
rz_status_t rz_ef_fp32_allreduce(rz_ef_t *ef, float *buf, int mean);

/* LIEC sync: @g becomes v = mean_k g^k + e_srv (e_srv flushed at the
 * owners), in the topology's own pattern. */
rz_status_t rz_ef_fp32_sync_grad(rz_ef_t *ef, float *g);

#endif
