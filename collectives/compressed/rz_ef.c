/*
 * Error-compensated compressed allreduce: EF, SAEF and LIEC over a single
 * server, a sharded server, a ring re-compressing per hop, and a ring
 * relaying every contribution unchanged (tests). The normative reference is
 * ALGORITHMS.md sections 2 to 4; docs/ALGORITHMS.md is the user's view.
 *
 * This file holds the API, the optimiser steps of section 4 and the
 * periodic schedule; rz_ef_xchg.c the wire protocols. Arithmetic is one
 * fp32 operation at a time (the build has -ffp-contract=off), in the order
 * section 4 writes it; a zero coefficient omits its term.
 *
 * Chunking: [0, d) splits into K chunks, chunk c holding
 * floor(d/K) + (c < d mod K) elements; codecs see one chunk at a time with
 * chunk id c (the whole vector as chunk 0 for the single server), so blocks
 * never straddle chunks. Empty chunks send nothing.
 *
 * Owners of server-error slices: single server: the server, all of [0, d);
 * sharded: rank i owns chunk i; rings: rank i owns chunk (i + 1) mod K.
 */
#include "collectives/compressed/rz_ef_int.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Names and chunks                                                        */

RZ_EXPORT const char *rz_ef_method_name(rz_ef_method_t method)
{
    switch (method) {
    case RZ_EF_METHOD_NONE: return "none";
    case RZ_EF_METHOD_EF:   return "ef";
    case RZ_EF_METHOD_SAEF: return "saef";
    case RZ_EF_METHOD_LIEC: return "liec";
    }
    return "unknown";
}

RZ_EXPORT const char *rz_ef_topology_name(rz_ef_topology_t topology)
{
    switch (topology) {
    case RZ_EF_TOPO_SINGLE:     return "single";
    case RZ_EF_TOPO_SHARDED:    return "sharded";
    case RZ_EF_TOPO_RING:       return "ring";
    case RZ_EF_TOPO_RING_EXACT: return "ring-exact";
    }
    return "unknown";
}

RZ_EXPORT rz_status_t rz_ef_method_parse(const char *name,
                                         rz_ef_method_t *method_p)
{
    static const struct { const char *name; rz_ef_method_t m; } map[] = {
        {"none", RZ_EF_METHOD_NONE}, {"ef", RZ_EF_METHOD_EF},
        {"saef", RZ_EF_METHOD_SAEF}, {"liec", RZ_EF_METHOD_LIEC}};

    for (size_t i = 0; name != NULL && method_p != NULL &&
                       i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(name, map[i].name) == 0) {
            *method_p = map[i].m;
            return RZ_OK;
        }
    }
    return RZ_ERR_INVALID_PARAM;
}

RZ_EXPORT rz_status_t rz_ef_topology_parse(const char *name,
                                           rz_ef_topology_t *topo_p)
{
    static const struct { const char *name; rz_ef_topology_t t; } map[] = {
        {"single", RZ_EF_TOPO_SINGLE}, {"single-server", RZ_EF_TOPO_SINGLE},
        {"sharded", RZ_EF_TOPO_SHARDED}, {"ring", RZ_EF_TOPO_RING},
        {"ring-exact", RZ_EF_TOPO_RING_EXACT}};

    for (size_t i = 0; name != NULL && topo_p != NULL &&
                       i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(name, map[i].name) == 0) {
            *topo_p = map[i].t;
            return RZ_OK;
        }
    }
    return RZ_ERR_INVALID_PARAM;
}

RZ_EXPORT void rz_ef_chunk(size_t d, int nranks, int c, size_t *offset_p,
                           size_t *n_p)
{
    size_t K = nranks > 0 ? (size_t)nranks : 1;
    size_t q = d / K, r = d % K, uc = c >= 0 ? (size_t)c : 0;

    if (offset_p != NULL) {
        *offset_p = uc * q + (uc < r ? uc : r);
    }
    if (n_p != NULL) {
        *n_p = uc < K ? q + (uc < r) : 0;
    }
}

RZ_EXPORT void rz_ef_config_init(rz_ef_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    cfg->method = RZ_EF_METHOD_EF;
    cfg->topology = RZ_EF_TOPO_SHARDED;
    cfg->worker_compressor = "sign";
    cfg->server_compressor = "sign";
}

/* ||v||, in double over eight independent lanes (a statistic, not part of
 * the arithmetic the results depend on; the lanes keep it memory-bound). */
static double rz_ef_norm(const float *v, size_t n)
{
    double lane[8] = {0};
    size_t i = 0;

    if (v == NULL) {
        return 0.0;
    }
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) {
            lane[l] += (double)v[i + l] * (double)v[i + l];
        }
    }
    for (; i < n; i++) {
        lane[i % 8] += (double)v[i] * (double)v[i];
    }
    return sqrt(((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                ((lane[4] + lane[5]) + (lane[6] + lane[7])));
}


/* ---------------------------------------------------------------------- */
/* Calls                                                                    */

static rz_status_t rz_ef_check(rz_ef_t *ef, const char *what)
{
    if (ef == NULL || ef->magic != RZ_EF_MAGIC) {
        RZ_LOG_ERROR("%s: invalid compressed-allreduce handle", what);
        return RZ_ERR_INVALID_PARAM;
    }
    rz_status_t status = rz_comm_check(ef->comm);
    if (status != RZ_OK) {
        return status;
    }
    if (ef->comm->error != RZ_OK) {
        RZ_LOG_DEBUG("%s on an aborted communicator: %s", what,
                     rz_status_string(ef->comm->error));
        return ef->comm->error;
    }
    memset(&ef->st, 0, sizeof(ef->st));
    ef->st.iter = ef->t;
    ef->ns_encode = ef->ns_decode = ef->ns_wire = 0;
    return RZ_OK;
}

void rz_ef_phase_times(const rz_ef_t *ef, uint64_t *encode_ns,
                       uint64_t *wire_ns, uint64_t *decode_ns)
{
    *encode_ns = ef->ns_encode;
    *wire_ns = ef->ns_wire;
    *decode_ns = ef->ns_decode;
}

static void rz_ef_finish(rz_ef_t *ef, rz_ef_stats_t *st)
{
    if (st == NULL) {
        return;
    }
    ef->st.local_err_norm = rz_ef_norm(ef->e, ef->d);
    ef->st.server_err_norm = rz_ef_norm(ef->esrv, ef->srv_n);
    *st = ef->st;
}

static int rz_ef_has_error(const rz_ef_t *ef)
{
    return ef->cfg.method == RZ_EF_METHOD_EF ||
           ef->cfg.method == RZ_EF_METHOD_SAEF;
}

/* Error averaging: e^k = mean_k e^k. */
static rz_status_t rz_ef_do_average(rz_ef_t *ef)
{
    rz_status_t status = rz_ef_fp32_allreduce(ef, ef->e, 1);
    if (status == RZ_OK) {
        ef->st.err_averaged = 1;
    }
    return status;
}

/* After an EF/SAEF exchange: t advances, then the averaging for the next
 * iteration if it fires ((t+1) mod p == 0). */
static rz_status_t rz_ef_advance(rz_ef_t *ef)
{
    ef->t++;
    if (rz_ef_has_error(ef) && ef->cfg.err_avg_period > 0 &&
        (ef->t + 1) % ef->cfg.err_avg_period == 0) {
        return rz_ef_do_average(ef);
    }
    return RZ_OK;
}

static int rz_ef_is_sync(const rz_ef_t *ef)
{
    return ef->cfg.method == RZ_EF_METHOD_LIEC &&
           ef->cfg.model_avg_period > 0 &&
           (ef->t + 1) % ef->cfg.model_avg_period == 0;
}

static void rz_ef_set_eval(rz_ef_t *ef, float *x_eval)
{
    if (ef->x == NULL) {
        return;                         /* low-level use: no model */
    }
    if (ef->cfg.method == RZ_EF_METHOD_SAEF) {
        for (size_t i = 0; i < ef->d; i++) {
            ef->xeval[i] = ef->x[i] - ef->e[i];
        }
    } else {
        memcpy(ef->xeval, ef->x, ef->d * sizeof(float));
    }
    if (x_eval != NULL && x_eval != ef->xeval) {
        memcpy(x_eval, ef->xeval, ef->d * sizeof(float));
    }
}

static rz_status_t rz_ef_fail(rz_ef_t *ef, const char *what,
                              rz_status_t status)
{
    /* The ranks are out of step now: no later call can succeed. */
    if (status != RZ_ERR_INVALID_PARAM) {
        rz_comm_fail(ef->comm, status, 1);
    }
    RZ_LOG_DEBUG("%s: %s", what, rz_status_string(status));
    return status;
}

static rz_status_t rz_ef_alloc_floats(float **p, size_t n)
{
    *p = calloc(n > 0 ? n : 1, sizeof(float));
    if (*p == NULL) {
        RZ_LOG_ERROR("compressed allreduce: out of memory for %zu floats", n);
        return RZ_ERR_NO_MEMORY;
    }
    return RZ_OK;
}

/* FNV-1a over the configuration every rank must share. */
static uint64_t rz_ef_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t rz_ef_config_hash(const rz_ef_t *ef)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t v[6] = {(uint32_t)ef->cfg.method, (uint32_t)ef->cfg.topology,
                     (uint32_t)ef->cfg.server_rank,
                     (uint32_t)ef->cfg.chunk_aligned,
                     ef->cfg.err_avg_period, ef->cfg.model_avg_period};
    h = rz_ef_hash(h, v, sizeof(v));
    h = rz_ef_hash(h, &ef->cfg.seed, sizeof(ef->cfg.seed));
    h = rz_ef_hash(h, &ef->cfg.momentum, sizeof(float));
    h = rz_ef_hash(h, &ef->cfg.weight_decay, sizeof(float));
    h = rz_ef_hash(h, ef->wspec, strlen(ef->wspec) + 1);
    h = rz_ef_hash(h, ef->sspec, strlen(ef->sspec) + 1);
    return h;
}

static rz_status_t rz_ef_validate(rz_comm_h comm, size_t d,
                                  const rz_ef_config_t *cfg)
{
    int K = comm->nranks;

    if (cfg->struct_size != sizeof(*cfg)) {
        RZ_LOG_ERROR("rz_ef_create: config struct_size %zu, expected %zu "
                     "(initialise it with rz_ef_config_init)",
                     cfg->struct_size, sizeof(*cfg));
        return RZ_ERR_INVALID_PARAM;
    }
    if (d == 0 || d > (SIZE_MAX / 8) / sizeof(float)) {
        RZ_LOG_ERROR("rz_ef_create: vector length %zu out of range (1 .. "
                     "%zu)", d, (SIZE_MAX / 8) / sizeof(float));
        return RZ_ERR_INVALID_PARAM;
    }
    if ((unsigned)cfg->method > RZ_EF_METHOD_LIEC) {
        RZ_LOG_ERROR("rz_ef_create: unknown method %d", (int)cfg->method);
        return RZ_ERR_INVALID_PARAM;
    }
    if ((unsigned)cfg->topology > RZ_EF_TOPO_RING_EXACT) {
        RZ_LOG_ERROR("rz_ef_create: unknown topology %d", (int)cfg->topology);
        return RZ_ERR_INVALID_PARAM;
    }
    if (cfg->topology == RZ_EF_TOPO_SINGLE &&
        (cfg->server_rank < 0 || cfg->server_rank >= K)) {
        RZ_LOG_ERROR("rz_ef_create: server rank %d outside 0 .. %d",
                     cfg->server_rank, K - 1);
        return RZ_ERR_INVALID_PARAM;
    }
    if (!isfinite(cfg->momentum) || !isfinite(cfg->weight_decay) ||
        cfg->momentum < 0.0f) {
        RZ_LOG_ERROR("rz_ef_create: momentum %g and weight decay %g must be "
                     "finite (momentum >= 0)", (double)cfg->momentum,
                     (double)cfg->weight_decay);
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

static rz_status_t rz_ef_open_codec(const char *spec, const char *role,
                                    rz_plugin_t **p)
{
    rz_status_t status = rz_plugin_open_spec(spec, p);

    if (status != RZ_OK) {
        RZ_LOG_ERROR("rz_ef_create: cannot load the %s compressor '%s': %s",
                     role, spec, rz_status_string(status));
        return status;
    }
    if (!((*p)->info.dtypes &
          RZ_COMPRESSOR_DTYPE_BIT(RZ_COMPRESSOR_DTYPE_F32))) {
        RZ_LOG_ERROR("rz_ef_create: the %s compressor '%s' does not take "
                     "fp32", role, spec);
        return RZ_ERR_NOT_SUPPORTED;
    }
    return RZ_OK;
}

static char *rz_ef_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

/* The model and the optimiser's vectors, allocated on first use so that
 * low-level users pay only for the error state. */
static rz_status_t rz_ef_model(rz_ef_t *ef)
{
    rz_status_t status = RZ_OK;

    if (ef->x == NULL &&
        (status = rz_ef_alloc_floats(&ef->x, ef->d)) != RZ_OK) {
        return status;
    }
    if (ef->xeval == NULL &&
        (status = rz_ef_alloc_floats(&ef->xeval, ef->d)) != RZ_OK) {
        return status;
    }
    if (ef->xin == NULL) {
        status = rz_ef_alloc_floats(&ef->xin, ef->d);
    }
    return status;
}

RZ_EXPORT rz_status_t rz_ef_destroy(rz_ef_h h)
{
    rz_ef_t *ef = h;

    if (ef == NULL) {
        return RZ_OK;
    }
    if (ef->magic != RZ_EF_MAGIC) {
        RZ_LOG_ERROR("rz_ef_destroy: invalid handle");
        return RZ_ERR_INVALID_PARAM;
    }
    ef->magic = 0;
    rz_plugin_close(ef->cw);
    rz_plugin_close(ef->cs);
    free(ef->wspec);
    free(ef->sspec);
    free(ef->koff);
    free(ef->klen);
    free(ef->coff);
    free(ef->clen);
    free(ef->esrv);
    free(ef->e);
    free(ef->acc);
    free(ef->x);
    free(ef->m);
    free(ef->xeval);
    free(ef->xin);
    free(ef->wcap);
    free(ef->scap);
    free(ef->wmsg);
    free(ef->wof);
    free(ef->wsz);
    free(ef->smsg);
    free(ef->sof);
    free(ef->ssz);
    free(ef->rmsg);
    free(ef->rsz);
    free(ef->stage);
    free(ef->blen);
    free(ef->bkind);
    free(ef);
    return RZ_OK;
}

/* Chunks, owners and buffers. */
static rz_status_t rz_ef_setup(rz_ef_t *ef)
{
    const int K = ef->K, me = ef->rank;
    const size_t d = ef->d;
    rz_status_t status;
    int ncc;

    ef->koff = calloc((size_t)K + 1, sizeof(size_t));
    ef->klen = calloc((size_t)K + 1, sizeof(size_t));
    ncc = (ef->cfg.topology == RZ_EF_TOPO_SINGLE && !ef->cfg.chunk_aligned)
          ? 1 : K;
    ef->ncc = ncc;
    ef->coff = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->clen = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->wcap = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->scap = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->wof = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->wsz = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->sof = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->ssz = calloc((size_t)ncc + 1, sizeof(size_t));
    ef->maxops = K * K + 2 * K + 2;
    ef->blen = calloc((size_t)ef->maxops, sizeof(size_t));
    ef->bkind = calloc((size_t)ef->maxops, 1);
    if (ef->koff == NULL || ef->klen == NULL || ef->coff == NULL ||
        ef->clen == NULL || ef->wcap == NULL || ef->scap == NULL ||
        ef->wof == NULL || ef->wsz == NULL || ef->sof == NULL ||
        ef->ssz == NULL || ef->blen == NULL || ef->bkind == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    for (int c = 0; c < K; c++) {
        rz_ef_chunk(d, K, c, &ef->koff[c], &ef->klen[c]);
    }
    ef->koff[K] = d;
    if (ncc == 1) {
        ef->coff[0] = 0;
        ef->clen[0] = d;
    } else {
        memcpy(ef->coff, ef->koff, (size_t)K * sizeof(size_t));
        memcpy(ef->clen, ef->klen, (size_t)K * sizeof(size_t));
    }
    for (int c = 0; c < ncc; c++) {
        size_t n = ef->clen[c];
        ef->wcap[c] = n ? rz_plugin_max_size(ef->cw, RZ_COMPRESSOR_DTYPE_F32,
                                             n) : 0;
        ef->scap[c] = n ? rz_plugin_max_size(ef->cs, RZ_COMPRESSOR_DTYPE_F32,
                                             n) : 0;
        if (n > 0 && (ef->wcap[c] == 0 || ef->scap[c] == 0)) {
            RZ_LOG_ERROR("rz_ef_create: a compressor reports no room for %zu "
                         "elements", n);
            return RZ_ERR_PLUGIN;
        }
        ef->wof[c + 1] = ef->wof[c] + ef->wcap[c];
        ef->sof[c + 1] = ef->sof[c] + ef->scap[c];
        ef->wmax = RZ_MAX(ef->wmax, ef->wcap[c]);
        ef->smax = RZ_MAX(ef->smax, ef->scap[c]);
    }
    /* Server-error range this rank owns. */
    switch (ef->cfg.topology) {
    case RZ_EF_TOPO_SINGLE:
        ef->srv_off = 0;
        ef->srv_n = me == ef->cfg.server_rank ? d : 0;
        break;
    case RZ_EF_TOPO_SHARDED:
        ef->srv_off = ef->koff[me];
        ef->srv_n = ef->klen[me];
        break;
    default:
        ef->srv_off = ef->koff[rz_ef_mod(me + 1, K)];
        ef->srv_n = ef->klen[rz_ef_mod(me + 1, K)];
        break;
    }
    /* Received worker messages. */
    size_t rcap, nrsz;
    switch (ef->cfg.topology) {
    case RZ_EF_TOPO_SINGLE:
        rcap = me == ef->cfg.server_rank ? (size_t)K * ef->wof[ncc] : 0;
        nrsz = (size_t)K * (size_t)ncc;
        break;
    case RZ_EF_TOPO_SHARDED:
        rcap = (size_t)K * ef->wmax;
        nrsz = 1;
        break;
    case RZ_EF_TOPO_RING:
        rcap = ef->wmax;
        nrsz = 1;
        break;
    default:
        rcap = 2 * (size_t)K * ef->wmax;
        nrsz = 2 * (size_t)K;
        break;
    }
    ef->rmsg = malloc(rcap > 0 ? rcap : 1);
    ef->rsz = calloc(nrsz, sizeof(size_t));
    ef->wmsg = malloc(ef->wof[ncc] > 0 ? ef->wof[ncc] : 1);
    ef->smsg = malloc(ef->sof[ncc] > 0 ? ef->sof[ncc] : 1);
    if (ef->rmsg == NULL || ef->rsz == NULL || ef->wmsg == NULL ||
        ef->smsg == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    if ((status = rz_ef_alloc_floats(&ef->e, d)) != RZ_OK ||
        (status = rz_ef_alloc_floats(&ef->acc, d)) != RZ_OK ||
        (status = rz_ef_alloc_floats(&ef->esrv, ef->srv_n)) != RZ_OK) {
        return status;
    }
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_ef_create(rz_comm_h comm, size_t d,
                                   const rz_ef_config_t *cfg, const float *x0,
                                   float *x_eval, rz_ef_stats_t *st,
                                   rz_ef_h *ef_p)
{
    rz_ef_config_t defaults;
    rz_ef_t *ef;
    rz_status_t status;

    if (ef_p == NULL) {
        RZ_LOG_ERROR("rz_ef_create: NULL handle pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    /* *ef_p is written on success only. */
    if ((status = rz_comm_check(comm)) != RZ_OK) {
        return status;
    }
    if (comm->error != RZ_OK) {
        RZ_LOG_DEBUG("rz_ef_create on an aborted communicator: %s",
                     rz_status_string(comm->error));
        return comm->error;
    }
    if (cfg == NULL) {
        rz_ef_config_init(&defaults);
        cfg = &defaults;
    }
    if ((status = rz_ef_validate(comm, d, cfg)) != RZ_OK) {
        return status;
    }
    ef = calloc(1, sizeof(*ef));
    if (ef == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    ef->magic = RZ_EF_MAGIC;
    ef->comm = comm;
    ef->K = comm->nranks;
    ef->rank = comm->rank;
    ef->d = d;
    ef->cfg = *cfg;
    ef->inv_k = 1.0f / (float)ef->K;
    ef->wspec = rz_ef_strdup(cfg->worker_compressor != NULL
                             ? cfg->worker_compressor : "none");
    ef->sspec = rz_ef_strdup(cfg->server_compressor != NULL
                             ? cfg->server_compressor : "none");
    ef->cfg.worker_compressor = ef->wspec;
    ef->cfg.server_compressor = ef->sspec;
    if (ef->wspec == NULL || ef->sspec == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto fail;
    }
    if ((status = rz_ef_open_codec(ef->wspec, "worker", &ef->cw)) != RZ_OK ||
        (status = rz_ef_open_codec(ef->sspec, "server", &ef->cs)) != RZ_OK) {
        goto fail;
    }
    if ((status = rz_ef_setup(ef)) != RZ_OK) {
        if (status == RZ_ERR_NO_MEMORY) {
            RZ_LOG_ERROR("rz_ef_create: out of memory for d = %zu", d);
        }
        goto fail;
    }
    ef->sig = rz_coll_signature(RZ_COLL_COMPRESSED, RZ_DTYPE_F32, RZ_OP_SUM,
                                d, ef->cfg.server_rank, rz_ef_config_hash(ef));
    if ((x0 != NULL || x_eval != NULL) && (status = rz_ef_model(ef)) != RZ_OK) {
        goto fail;
    }
    if (x0 != NULL) {
        memcpy(ef->x, x0, d * sizeof(float));
    }
    memset(&ef->st, 0, sizeof(ef->st));
    /* p = 1: the averaging for t = 0 runs here (a no-op on zero errors
     * that still sends its bytes, so every call's count follows 3.4). */
    if (rz_ef_has_error(ef) && ef->cfg.err_avg_period == 1) {
        status = rz_ef_do_average(ef);
        if (status != RZ_OK) {
            goto fail;
        }
    }
    rz_ef_set_eval(ef, x_eval);
    RZ_LOG_DEBUG("compressed allreduce: %s over %s, d = %zu, K = %d, "
                 "worker '%s', server '%s', p = %u, H = %u",
                 rz_ef_method_name(ef->cfg.method),
                 rz_ef_topology_name(ef->cfg.topology), d, ef->K, ef->wspec,
                 ef->sspec, ef->cfg.err_avg_period, ef->cfg.model_avg_period);
    rz_ef_finish(ef, st);
    *ef_p = ef;
    return RZ_OK;
fail:
    if (status != RZ_ERR_INVALID_PARAM && status != RZ_ERR_NOT_SUPPORTED &&
        status != RZ_ERR_PLUGIN && status != RZ_ERR_NO_MEMORY) {
        rz_ef_fail(ef, "rz_ef_create", status);
    }
    rz_ef_destroy(ef);
    return status;
}

RZ_EXPORT uint64_t rz_ef_iteration(rz_ef_h ef)
{
    return (ef != NULL && ef->magic == RZ_EF_MAGIC) ? ef->t : 0;
}

/* EF/SAEF and NONE: X = Delta = e + in (NONE: in), residual into e. @in
 * may alias @out: every exchange reads all of X before it writes out. */
static rz_status_t rz_ef_exchange_update(rz_ef_t *ef, const float *in,
                                         float *out)
{
    if (ef->cfg.method == RZ_EF_METHOD_NONE) {
        return rz_ef_xchg(ef, in, NULL, out);
    }
    rz_ef_add_inplace(ef->e, in, ef->d);          /* e + in, in this order */
    return rz_ef_xchg(ef, ef->e, ef->e, out);
}

RZ_EXPORT rz_status_t rz_ef_exchange(rz_ef_h ef, const float *in, float *out,
                                     rz_ef_stats_t *st)
{
    rz_status_t status = rz_ef_check(ef, "rz_ef_exchange");

    if (status != RZ_OK) {
        return status;
    }
    if (in == NULL || out == NULL) {
        RZ_LOG_ERROR("rz_ef_exchange: NULL %s", in == NULL ? "in" : "out");
        return RZ_ERR_INVALID_PARAM;
    }
    if (ef->cfg.method == RZ_EF_METHOD_LIEC) {
        if (rz_ef_is_sync(ef)) {
            RZ_LOG_DEBUG("rz_ef_exchange: iteration %llu is a LIEC sync",
                         (unsigned long long)ef->t);
            return RZ_ERR_NEED_SYNC;
        }
        status = rz_ef_xchg(ef, in, ef->e, out);
        if (status != RZ_OK) {
            return rz_ef_fail(ef, "rz_ef_exchange", status);
        }
        rz_ef_add_inplace(out, ef->e, ef->d);     /* u = q + delta */
        ef->t++;
        rz_ef_finish(ef, st);
        return RZ_OK;
    }
    status = rz_ef_exchange_update(ef, in, out);
    if (status == RZ_OK) {
        status = rz_ef_advance(ef);
    }
    if (status != RZ_OK) {
        return rz_ef_fail(ef, "rz_ef_exchange", status);
    }
    rz_ef_finish(ef, st);
    return RZ_OK;
}

/* The LIEC sync on @x (models averaged in place) and @g (becomes v). */
static rz_status_t rz_ef_sync(rz_ef_t *ef, float *x, float *g)
{
    rz_status_t status = rz_ef_fp32_allreduce(ef, x, 1);

    if (status == RZ_OK) {
        status = rz_ef_fp32_sync_grad(ef, g);
    }
    if (status == RZ_OK) {
        memset(ef->e, 0, ef->d * sizeof(float));  /* no residual this time */
        ef->st.models_averaged = 1;
    }
    return status;
}

RZ_EXPORT rz_status_t rz_ef_liec_sync(rz_ef_h ef, float *x_local,
                                      const float *g, float *out,
                                      rz_ef_stats_t *st)
{
    rz_status_t status = rz_ef_check(ef, "rz_ef_liec_sync");

    if (status != RZ_OK) {
        return status;
    }
    if (ef->cfg.method != RZ_EF_METHOD_LIEC) {
        RZ_LOG_ERROR("rz_ef_liec_sync: the context runs %s, not LIEC",
                     rz_ef_method_name(ef->cfg.method));
        return RZ_ERR_INVALID_PARAM;
    }
    if (x_local == NULL || g == NULL || out == NULL) {
        RZ_LOG_ERROR("rz_ef_liec_sync: NULL buffer");
        return RZ_ERR_INVALID_PARAM;
    }
    if (ef->cfg.model_avg_period > 0 && !rz_ef_is_sync(ef)) {
        RZ_LOG_ERROR("rz_ef_liec_sync: iteration %llu is not a sync "
                     "iteration of H = %u ((t+1) mod H == 0); call "
                     "rz_ef_exchange", (unsigned long long)ef->t,
                     ef->cfg.model_avg_period);
        return RZ_ERR_INVALID_PARAM;
    }
    if (out != g) {
        memcpy(out, g, ef->d * sizeof(float));
    }
    status = rz_ef_sync(ef, x_local, out);
    if (status != RZ_OK) {
        return rz_ef_fail(ef, "rz_ef_liec_sync", status);
    }
    ef->t++;
    rz_ef_finish(ef, st);
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_ef_average_errors(rz_ef_h ef, rz_ef_stats_t *st)
{
    rz_status_t status = rz_ef_check(ef, "rz_ef_average_errors");

    if (status != RZ_OK) {
        return status;
    }
    if (!rz_ef_has_error(ef)) {
        RZ_LOG_ERROR("rz_ef_average_errors: %s keeps no local error",
                     rz_ef_method_name(ef->cfg.method));
        return RZ_ERR_INVALID_PARAM;
    }
    status = rz_ef_do_average(ef);
    if (status != RZ_OK) {
        return rz_ef_fail(ef, "rz_ef_average_errors", status);
    }
    if (ef->cfg.method == RZ_EF_METHOD_SAEF) {
        rz_ef_set_eval(ef, NULL);
    }
    rz_ef_finish(ef, st);
    return RZ_OK;
}

static rz_status_t rz_ef_momentum(rz_ef_t *ef)
{
    return ef->m != NULL ? RZ_OK : rz_ef_alloc_floats(&ef->m, ef->d);
}

/* EF/SAEF/NONE: gw = grad + lambda*x_eval; m = mu*m + gw; in = lr*m. */
static rz_status_t rz_ef_step_ef(rz_ef_t *ef, const float *grad, float lr)
{
    const size_t d = ef->d;
    const float mu = ef->cfg.momentum, lambda = ef->cfg.weight_decay;
    float *m = ef->m;
    rz_status_t status;

    /* One pass, the operations of section 4 in their order: gw = grad +
     * lambda*x_eval, m = mu*m + gw, in = lr*m (zero coefficients omitted). */
    for (size_t i = 0; i < d; i++) {
        float gw = grad[i];
        if (lambda != 0.0f) {
            float t = lambda * ef->xeval[i];
            gw = gw + t;
        }
        if (mu != 0.0f) {
            float t = mu * m[i];
            gw = t + gw;
        }
        m[i] = gw;
        ef->xin[i] = lr * gw;
    }
    status = rz_ef_exchange_update(ef, ef->xin, ef->acc);
    if (status != RZ_OK) {
        return status;
    }
    rz_ef_sub_inplace(ef->x, ef->acc, d);        /* x = x - q */
    return rz_ef_advance(ef);
}

/* LIEC: sync or compressed exchange to u, then the optimiser step. */
static rz_status_t rz_ef_step_liec(rz_ef_t *ef, const float *grad, float lr)
{
    const size_t d = ef->d;
    const float mu = ef->cfg.momentum, lambda = ef->cfg.weight_decay;
    float *u;
    rz_status_t status;

    memcpy(ef->xin, grad, d * sizeof(float));
    if (rz_ef_is_sync(ef)) {
        status = rz_ef_sync(ef, ef->x, ef->xin);   /* xin = v */
        u = ef->xin;
    } else {
        status = rz_ef_xchg(ef, ef->xin, ef->e, ef->acc);
        if (status == RZ_OK) {
            rz_ef_add_inplace(ef->acc, ef->e, d);  /* u = q + delta */
        }
        u = ef->acc;
    }
    if (status != RZ_OK) {
        return status;
    }
    if (lambda != 0.0f) {
        rz_ef_axpy(u, u, lambda, ef->x, d);        /* gw = u + lambda*x */
    }
    if (mu == 0.0f) {
        for (size_t i = 0; i < d; i++) {
            float t = lr * u[i];
            ef->x[i] = ef->x[i] - t;
        }
    } else {
        for (size_t i = 0; i < d; i++) {
            float t = mu * ef->m[i];
            ef->m[i] = t + u[i];
            t = lr * ef->m[i];
            ef->x[i] = ef->x[i] - t;
        }
    }
    ef->t++;
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_ef_step(rz_ef_h ef, const float *grad, float lr,
                                 float *x_eval, rz_ef_stats_t *st)
{
    rz_status_t status = rz_ef_check(ef, "rz_ef_step");

    if (status != RZ_OK) {
        return status;
    }
    if (grad == NULL) {
        RZ_LOG_ERROR("rz_ef_step: NULL gradient");
        return RZ_ERR_INVALID_PARAM;
    }
    if (!isfinite(lr)) {
        RZ_LOG_ERROR("rz_ef_step: learning rate %g is not finite", (double)lr);
        return RZ_ERR_INVALID_PARAM;
    }
    if ((status = rz_ef_model(ef)) != RZ_OK ||
        ((ef->cfg.momentum != 0.0f || ef->cfg.method != RZ_EF_METHOD_LIEC) &&
         (status = rz_ef_momentum(ef)) != RZ_OK)) {
        return status;
    }
    ef->last_lr = lr;
    if (ef->cfg.method == RZ_EF_METHOD_LIEC) {
        status = rz_ef_step_liec(ef, grad, lr);
    } else {
        status = rz_ef_step_ef(ef, grad, lr);
    }
    if (status != RZ_OK) {
        return rz_ef_fail(ef, "rz_ef_step", status);
    }
    rz_ef_set_eval(ef, x_eval);
    rz_ef_finish(ef, st);
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_ef_get_params(rz_ef_h ef, rz_ef_view_t which,
                                       float *out)
{
    rz_status_t status = rz_ef_check(ef, "rz_ef_get_params");

    if (status != RZ_OK) {
        return status;
    }
    if (out == NULL) {
        RZ_LOG_ERROR("rz_ef_get_params: NULL output");
        return RZ_ERR_INVALID_PARAM;
    }
    const size_t d = ef->d;
    if ((status = rz_ef_model(ef)) != RZ_OK) {
        return status;
    }
    switch (which) {
    case RZ_EF_VIEW_MODEL:
        memcpy(out, ef->x, d * sizeof(float));
        return RZ_OK;
    case RZ_EF_VIEW_EVAL:
        memcpy(out, ef->xeval, d * sizeof(float));
        return RZ_OK;
    case RZ_EF_VIEW_AVERAGE:
        memcpy(out, ef->x, d * sizeof(float));
        if (ef->cfg.method != RZ_EF_METHOD_LIEC) {
            return RZ_OK;
        }
        status = rz_ef_fp32_allreduce(ef, out, 1);
        break;
    case RZ_EF_VIEW_VIRTUAL: {
        /* The whole server error: each owner's slice, summed (zeros
         * elsewhere add exactly). */
        float *srv = ef->acc;
        memset(srv, 0, d * sizeof(float));
        if (ef->srv_n > 0) {
            memcpy(srv + ef->srv_off, ef->esrv, ef->srv_n * sizeof(float));
        }
        memcpy(out, ef->x, d * sizeof(float));
        if (ef->cfg.method == RZ_EF_METHOD_LIEC) {
            status = rz_ef_fp32_allreduce(ef, out, 1);
            if (status == RZ_OK) {
                /* The allreduce used acc as scratch: gather srv again. */
                float *tmp = malloc(d * sizeof(float));
                if (tmp == NULL) {
                    return RZ_ERR_NO_MEMORY;
                }
                memset(tmp, 0, d * sizeof(float));
                if (ef->srv_n > 0) {
                    memcpy(tmp + ef->srv_off, ef->esrv,
                           ef->srv_n * sizeof(float));
                }
                status = rz_ef_fp32_allreduce(ef, tmp, 0);
                for (size_t i = 0; status == RZ_OK && i < d; i++) {
                    float t = ef->last_lr * tmp[i];
                    out[i] = out[i] - t;
                }
                free(tmp);
            }
            break;
        }
        float *tmp = malloc(2 * d * sizeof(float));
        if (tmp == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        memcpy(tmp, srv, d * sizeof(float));
        memcpy(tmp + d, ef->e, d * sizeof(float));
        status = rz_ef_fp32_allreduce(ef, tmp, 0);
        if (status == RZ_OK) {
            status = rz_ef_fp32_allreduce(ef, tmp + d, 1);
        }
        for (size_t i = 0; status == RZ_OK && i < d; i++) {
            out[i] = (out[i] - tmp[i]) - tmp[d + i];
        }
        free(tmp);
        break;
    }
    default:
        RZ_LOG_ERROR("rz_ef_get_params: unknown view %d", (int)which);
        return RZ_ERR_INVALID_PARAM;
    }
    if (status != RZ_OK) {
        return rz_ef_fail(ef, "rz_ef_get_params", status);
    }
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_ef_get_state(rz_ef_h ef, rz_ef_state_t which,
                                      const float **ptr_p, size_t *offset_p,
                                      size_t *n_p)
{
    if (ef == NULL || ef->magic != RZ_EF_MAGIC || ptr_p == NULL ||
        offset_p == NULL || n_p == NULL) {
        RZ_LOG_ERROR("rz_ef_get_state: invalid handle or NULL output");
        return RZ_ERR_INVALID_PARAM;
    }
    const float *ptr;
    size_t off = 0, n = ef->d;
    switch (which) {
    case RZ_EF_STATE_LOCAL_ERR:   ptr = ef->e; break;
    case RZ_EF_STATE_MOMENTUM:    ptr = ef->m; break;
    case RZ_EF_STATE_MODEL:       ptr = ef->x; break;
    case RZ_EF_STATE_EXCHANGE_IN: ptr = ef->xin; break;
    case RZ_EF_STATE_SERVER_ERR:
        ptr = ef->srv_n > 0 ? ef->esrv : NULL;
        off = ef->srv_off;
        n = ef->srv_n;
        break;
    default:
        RZ_LOG_ERROR("rz_ef_get_state: unknown state %d", (int)which);
        return RZ_ERR_INVALID_PARAM;
    }
    *ptr_p = ptr;
    *offset_p = off;
    *n_p = ptr != NULL ? n : 0;
    return RZ_OK;
}
