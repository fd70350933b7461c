/*
 * Wire protocols of the compressed allreduce (ALGORITHMS.md section 3):
 * single server, sharded server, ring re-compressing per hop, ring relaying
 * every contribution unchanged, and the full-precision operations of 3.4.
 *
 * Every exchange is a fixed sequence of point-to-point batches (lib/core's
 * rz_p2p_*), the same number on every rank, with compression and reduction
 * in between. Compressed bytes are relayed and never re-encoded, so every
 * rank decodes identical bytes. Sums run in rank order (chain order on the
 * compressed ring) and are multiplied by fp32(1/K) once.
 */
#include "collectives/compressed/rz_ef_int.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Batches                                                                  */

static rz_status_t rz_ef_batch(rz_ef_t *ef)
{
    ef->nb = 0;
    return rz_p2p_begin(ef->comm, ef->sig, ef->maxops, &ef->req);
}

static void rz_ef_send(rz_ef_t *ef, int peer, unsigned step, const void *buf,
                       size_t len, int fp32)
{
    ef->bkind[ef->nb++] = fp32 ? 2 : 1;
    rz_p2p_send(ef->req, peer, step, buf, len);
}

/* Returns the operation's index, for its length after rz_ef_run(). */
static int rz_ef_recv(rz_ef_t *ef, int peer, unsigned step, void *buf,
                      size_t len, int any_length)
{
    ef->bkind[ef->nb] = 0;
    rz_p2p_recv(ef->req, peer, step, buf, len, any_length);
    return ef->nb++;
}

static rz_status_t rz_ef_run(rz_ef_t *ef)
{
    uint64_t t0 = rz_time_ns();
    rz_status_t status = rz_p2p_run(ef->req, ef->blen);

    ef->ns_wire += rz_time_ns() - t0;
    ef->req = NULL;
    if (status != RZ_OK) {
        return status;
    }
    for (int i = 0; i < ef->nb; i++) {
        if (ef->bkind[i] == 0) {
            ef->st.bytes_recv += ef->blen[i];
        } else {
            ef->st.bytes_sent += ef->blen[i];
            if (ef->bkind[i] == 1) {
                ef->st.bytes_sent_compressed += ef->blen[i];
            } else {
                ef->st.bytes_sent_fp32 += ef->blen[i];
            }
        }
    }
    return RZ_OK;
}

static rz_status_t rz_ef_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return RZ_OK;
    }
    uint8_t *p = realloc(*buf, need);
    if (p == NULL) {
        RZ_LOG_ERROR("compressed allreduce: out of memory for %zu bytes",
                     need);
        return RZ_ERR_NO_MEMORY;
    }
    *buf = p;
    *cap = need;
    return RZ_OK;
}

/* ---------------------------------------------------------------------- */
/* Codec calls                                                              */

static rz_compressor_key_t rz_ef_key(const rz_ef_t *ef, int chunk)
{
    rz_compressor_key_t key = {ef->cfg.seed, ef->t, (uint64_t)chunk,
                               (uint64_t)ef->rank};
    return key;
}

/* Encode @n floats of @in as chunk @chunk with @plugin into @out (room
 * @cap); residual in - Dec(out) into @res (may alias @in, or NULL). */
static rz_status_t rz_ef_encode(rz_ef_t *ef, const rz_plugin_t *plugin,
                                int chunk, const float *in, size_t n,
                                uint8_t *out, size_t cap, size_t *size_p,
                                float *res)
{
    rz_compressor_key_t key = rz_ef_key(ef, chunk);
    uint64_t t0 = rz_time_ns();
    rz_status_t status = rz_plugin_compress(plugin, &key,
                                            RZ_COMPRESSOR_DTYPE_F32, in, n,
                                            out, cap, size_p, res);

    ef->ns_encode += rz_time_ns() - t0;    if (status != RZ_OK) {
        RZ_LOG_ERROR("compressed allreduce: compressor '%s' failed on chunk "
                     "%d (%zu elements) at iteration %llu: %s", plugin->name,
                     chunk, n, (unsigned long long)ef->t,
                     rz_status_string(status));
    }
    return status;
}

/* y = beta*y + Dec(in) (beta 0 or 1). */
static rz_status_t rz_ef_decode(rz_ef_t *ef, const rz_plugin_t *plugin,
                                int chunk, int src, const uint8_t *in,
                                size_t size, float *y, size_t n, float beta)
{
    rz_compressor_key_t key = rz_ef_key(ef, chunk);
    uint64_t t0 = rz_time_ns();
    rz_status_t status;

    key.rank = (uint64_t)src;
    status = rz_plugin_decompress(plugin, &key, RZ_COMPRESSOR_DTYPE_F32, in,
                                  size, y, n, 1.0f, beta);
    ef->ns_decode += rz_time_ns() - t0;    if (status != RZ_OK) {
        RZ_LOG_ERROR("compressed allreduce: rank %d's %zu-byte message for "
                     "chunk %d (%zu elements, compressor '%s') does not "
                     "decode: %s", src, size, chunk, n, plugin->name,
                     rz_status_string(status));
        return status == RZ_ERR_INVALID_PARAM ? RZ_ERR_MALFORMED : status;
    }
    return RZ_OK;
}

/* Receive buffers of any length when the codec's size is not exact. */
static int rz_ef_any_length(const rz_plugin_t *plugin)
{
    return !(plugin->info.caps & RZ_COMPRESSOR_CAP_FIXED_SIZE);
}

/*
 * The owner's server step for codec chunk @c: @sum holds the rank-order
 * (or chain-order) sum S of n floats. v = S*fp32(1/K) (+ e_srv); encode v
 * with the server codec into smsg[c]; e_srv = v - Dec (methods with error).
 */
static rz_status_t rz_ef_serve(rz_ef_t *ef, int c, float *sum, float *esrv,
                               size_t n)
{
    rz_ef_scale(sum, ef->inv_k, n);
    if (esrv != NULL) {
        rz_ef_add_inplace(sum, esrv, n);
    }
    return rz_ef_encode(ef, ef->cs, c, sum, n, ef->smsg + ef->sof[c],
                        ef->scap[c], &ef->ssz[c], esrv);
}

/* Where the server error of codec chunk @c lives on this rank. */
static float *rz_ef_esrv_of(rz_ef_t *ef, size_t off)
{
    if (ef->cfg.method == RZ_EF_METHOD_NONE || ef->esrv == NULL) {
        return NULL;
    }
    return ef->esrv + (off - ef->srv_off);
}

/* The server step of codec chunk @c from the K contributions @msg[k] of
 * @size[k] bytes: S = the decoded contributions summed in rank order, then
 * rz_ef_serve(). */
static rz_status_t rz_ef_serve_msgs(rz_ef_t *ef, int c,
                                    const uint8_t *const *msg,
                                    const size_t *size)
{
    size_t o = ef->coff[c], n = ef->clen[c];
    rz_status_t status;

    for (int k = 0; k < ef->K; k++) {
        status = rz_ef_decode(ef, ef->cw, c, k, msg[k], size[k], ef->acc + o,
                              n, k == 0 ? 0.0f : 1.0f);
        if (status != RZ_OK) {
            return status;
        }
    }
    return rz_ef_serve(ef, c, ef->acc + o, rz_ef_esrv_of(ef, o), n);
}

/* ---------------------------------------------------------------------- */
/* The compressed exchange: X -> out (q), residuals -> res (may alias X).   */

/* Encode every codec chunk of X. */
static rz_status_t rz_ef_encode_all(rz_ef_t *ef, const float *X, float *res)
{
    for (int c = 0; c < ef->ncc; c++) {
        size_t o = ef->coff[c], n = ef->clen[c];
        ef->wsz[c] = 0;
        if (n == 0) {
            continue;
        }
        rz_status_t status = rz_ef_encode(ef, ef->cw, c, X + o, n,
                                          ef->wmsg + ef->wof[c], ef->wcap[c],
                                          &ef->wsz[c],
                                          res != NULL ? res + o : NULL);
        if (status != RZ_OK) {
            return status;
        }
    }
    return RZ_OK;
}

/* Decode every server message into out. */
static rz_status_t rz_ef_decode_all(rz_ef_t *ef, float *out)
{
    for (int c = 0; c < ef->ncc; c++) {
        if (ef->clen[c] == 0) {
            continue;
        }
        rz_status_t status = rz_ef_decode(ef, ef->cs, c, -1,
                                          ef->smsg + ef->sof[c], ef->ssz[c],
                                          out + ef->coff[c], ef->clen[c],
                                          0.0f);
        if (status != RZ_OK) {
            return status;
        }
    }
    return RZ_OK;
}

static rz_status_t rz_ef_xchg_single(rz_ef_t *ef, const float *X, float *res,
                                     float *out)
{
    const int S = ef->cfg.server_rank, me = ef->rank, K = ef->K;
    const int anyw = rz_ef_any_length(ef->cw), anys = rz_ef_any_length(ef->cs);
    size_t wtot = ef->wof[ef->ncc];
    const uint8_t *msg[K];
    size_t size[K];
    rz_status_t status;

    status = rz_ef_encode_all(ef, X, res);
    if (status != RZ_OK) {
        return status;
    }
    /* Gather: every chunk of every worker to the server. */
    if ((status = rz_ef_batch(ef)) != RZ_OK) {
        return status;
    }
    if (me == S) {
        for (int k = 0; k < K; k++) {
            for (int c = 0; k != me && c < ef->ncc; c++) {
                if (ef->clen[c] > 0) {
                    int op = rz_ef_recv(ef, k, (unsigned)c,
                                        ef->rmsg + (size_t)k * wtot +
                                        ef->wof[c], ef->wcap[c], anyw);
                    ef->rsz[(size_t)k * ef->ncc + c] = (size_t)op;
                }
            }
        }
    } else {
        for (int c = 0; c < ef->ncc; c++) {
            if (ef->clen[c] > 0) {
                rz_ef_send(ef, S, (unsigned)c, ef->wmsg + ef->wof[c],
                           ef->wsz[c], 0);
            }
        }
    }
    if ((status = rz_ef_run(ef)) != RZ_OK) {
        return status;
    }
    /* Serve every chunk: sum in rank order, the server's own message
     * decoded locally at its place. */
    if (me == S) {
        for (int c = 0; c < ef->ncc; c++) {
            if (ef->clen[c] == 0) {
                continue;
            }
            for (int k = 0; k < K; k++) {
                msg[k] = k == me ? ef->wmsg + ef->wof[c]
                                 : ef->rmsg + (size_t)k * wtot + ef->wof[c];
                size[k] = k == me ? ef->wsz[c]
                                  : ef->blen[ef->rsz[(size_t)k * ef->ncc + c]];
            }
            status = rz_ef_serve_msgs(ef, c, msg, size);
            if (status != RZ_OK) {
                return status;
            }
        }
    }
    /* Broadcast the server messages. */
    if ((status = rz_ef_batch(ef)) != RZ_OK) {
        return status;
    }
    int first = ef->nb;
    for (int c = 0; c < ef->ncc; c++) {
        if (ef->clen[c] == 0) {
            continue;
        }
        if (me == S) {
            for (int k = 0; k < K; k++) {
                if (k != me) {
                    rz_ef_send(ef, k, (unsigned)c, ef->smsg + ef->sof[c],
                               ef->ssz[c], 0);
                }
            }
        } else {
            rz_ef_recv(ef, S, (unsigned)c, ef->smsg + ef->sof[c], ef->scap[c],
                       anys);
        }
    }
    if ((status = rz_ef_run(ef)) != RZ_OK) {
        return status;
    }
    if (me != S) {
        for (int c = 0, i = first; c < ef->ncc; c++) {
            if (ef->clen[c] > 0) {
                ef->ssz[c] = ef->blen[i++];
            }
        }
    }
    return rz_ef_decode_all(ef, out);
}

/* Sharded server's second half and the rings' relays end alike: every
 * chunk's server message known, decode all. */
static rz_status_t rz_ef_xchg_sharded(rz_ef_t *ef, const float *X, float *res,
                                      float *out)
{
    const int me = ef->rank, K = ef->K;
    const int anyw = rz_ef_any_length(ef->cw), anys = rz_ef_any_length(ef->cs);
    const size_t n_me = ef->clen[me];
    const uint8_t *msg[K];
    size_t size[K];
    int rop[K];
    rz_status_t status;

    status = rz_ef_encode_all(ef, X, res);
    if (status != RZ_OK) {
        return status;
    }
    /* All-to-all: chunk j to rank j. */
    if ((status = rz_ef_batch(ef)) != RZ_OK) {
        return status;
    }
    for (int s = 1; s < K; s++) {
        int from = rz_ef_mod(me - s, K);
        if (n_me > 0) {
            rop[from] = rz_ef_recv(ef, from, 0, ef->rmsg + (size_t)from *
                                   ef->wmax, ef->wcap[me], anyw);
        }
    }
    for (int s = 1; s < K; s++) {
        int to = rz_ef_mod(me + s, K);
        if (ef->clen[to] > 0) {
            rz_ef_send(ef, to, 0, ef->wmsg + ef->wof[to], ef->wsz[to], 0);
        }
    }
    if ((status = rz_ef_run(ef)) != RZ_OK) {
        return status;
    }
    /* Serve chunk me. */
    if (n_me > 0) {
        for (int k = 0; k < K; k++) {
            msg[k] = k == me ? ef->wmsg + ef->wof[me]
                             : ef->rmsg + (size_t)k * ef->wmax;
            size[k] = k == me ? ef->wsz[me] : ef->blen[rop[k]];
        }
        status = rz_ef_serve_msgs(ef, me, msg, size);
        if (status != RZ_OK) {
            return status;
        }
    }
    /* All-gather of the server messages. */
    if ((status = rz_ef_batch(ef)) != RZ_OK) {
        return status;
    }
    for (int s = 1; s < K; s++) {
        int from = rz_ef_mod(me - s, K);
        if (ef->clen[from] > 0) {
            rop[from] = rz_ef_recv(ef, from, 1, ef->smsg + ef->sof[from],
                                   ef->scap[from], anys);
        }
    }
    for (int s = 1; s < K && n_me > 0; s++) {
        rz_ef_send(ef, rz_ef_mod(me + s, K), 1, ef->smsg + ef->sof[me],
                   ef->ssz[me], 0);
    }
    if ((status = rz_ef_run(ef)) != RZ_OK) {
        return status;
    }
    for (int k = 0; k < K; k++) {
        if (k != me && ef->clen[k] > 0) {
            ef->ssz[k] = ef->blen[rop[k]];
        }
    }
    return rz_ef_decode_all(ef, out);
}

/* The rings' all-gather: relay the owners' bytes, never re-encoded. Rank
 * i owns chunk i + 1 and has its message in smsg already. */
static rz_status_t rz_ef_ring_relay(rz_ef_t *ef, float *out)
{
    const int me = ef->rank, K = ef->K;
    const int next = rz_ef_mod(me + 1, K), prev = rz_ef_mod(me - 1, K);
    const int anys = rz_ef_any_length(ef->cs);
    rz_status_t status;

    for (int s = 0; s < K - 1; s++) {
        int cs = rz_ef_mod(me + 1 - s, K), cr = rz_ef_mod(me - s, K), op = -1;
        if ((status = rz_ef_batch(ef)) != RZ_OK) {
            return status;
        }
        if (ef->clen[cr] > 0) {
            op = rz_ef_recv(ef, prev, (unsigned)s, ef->smsg + ef->sof[cr],
                            ef->scap[cr], anys);
        }
        if (ef->clen[cs] > 0) {
            rz_ef_send(ef, next, (unsigned)s, ef->smsg + ef->sof[cs],
                       ef->ssz[cs], 0);
        }
        if ((status = rz_ef_run(ef)) != RZ_OK) {
            return status;
        }
        if (op >= 0) {
            ef->ssz[cr] = ef->blen[op];
        }
    }
    return rz_ef_decode_all(ef, out);
}

/* Ring with per-hop re-compression (ALGORITHMS.md 3.3.1). */
static rz_status_t rz_ef_xchg_ring(rz_ef_t *ef, const float *X, float *res,
                                   float *out)
{
    const int me = ef->rank, K = ef->K;
    const int next = rz_ef_mod(me + 1, K), prev = rz_ef_mod(me - 1, K);
    const int own = rz_ef_mod(me + 1, K);
    const int anyw = rz_ef_any_length(ef->cw);
    float *acc = ef->acc;
    rz_status_t status;

    for (int s = 0; s < K - 1; s++) {
        int cs = rz_ef_mod(me - s, K), cr = rz_ef_mod(me - s - 1, K), op = -1;
        size_t os = ef->koff[cs], ns = ef->klen[cs];
        size_t orr = ef->koff[cr], nr = ef->klen[cr];
        if (ns > 0) {
            /* Hop 0 sends this rank's own contribution, later hops the
             * decoded partial sum plus it; the residual stays here. */
            status = rz_ef_encode(ef, ef->cw, cs, s == 0 ? X + os : acc + os,
                                  ns, ef->wmsg + ef->wof[cs], ef->wcap[cs],
                                  &ef->wsz[cs], res != NULL ? res + os : NULL);
            if (status != RZ_OK) {
                return status;
            }
        }
        if ((status = rz_ef_batch(ef)) != RZ_OK) {
            return status;
        }
        if (nr > 0) {
            op = rz_ef_recv(ef, prev, (unsigned)s, ef->rmsg, ef->wcap[cr],
                            anyw);
        }
        if (ns > 0) {
            rz_ef_send(ef, next, (unsigned)s, ef->wmsg + ef->wof[cs],
                       ef->wsz[cs], 0);
        }
        if ((status = rz_ef_run(ef)) != RZ_OK) {
            return status;
        }
        if (nr > 0) {
            /* acc = Dec(partial) + own contribution, exactly. */
            status = rz_ef_decode(ef, ef->cw, cr, prev, ef->rmsg,
                                  ef->blen[op], acc + orr, nr, 0.0f);
            if (status != RZ_OK) {
                return status;
            }
            rz_ef_add_inplace(acc + orr, X + orr, nr);
        }
    }
    /* The owner's chunk: its own contribution added exactly, no residual. */
    size_t oo = ef->koff[own], no = ef->klen[own];
    if (K == 1) {
        memcpy(acc, X, ef->d * sizeof(float));
    }
    if (res != NULL && no > 0) {
        memset(res + oo, 0, no * sizeof(float));
    }
    if (no > 0) {
        status = rz_ef_serve(ef, own, acc + oo, rz_ef_esrv_of(ef, oo), no);
        if (status != RZ_OK) {
            return status;
        }
    }
    return rz_ef_ring_relay(ef, out);
}

/* Ring relaying every contribution unchanged (ALGORITHMS.md 3.3.3). The
 * contributions of chunk c travel in rmsg: slots [0, K) for the ones being
 * received, [K, 2K) for the ones being forwarded, by source rank. */
static rz_status_t rz_ef_xchg_ring_exact(rz_ef_t *ef, const float *X,
                                         float *res, float *out)
{
    const int me = ef->rank, K = ef->K;
    const int next = rz_ef_mod(me + 1, K), prev = rz_ef_mod(me - 1, K);
    const int own = rz_ef_mod(me + 1, K);
    const int anyw = rz_ef_any_length(ef->cw);
    size_t *len = ef->rsz;                  /* 2K slot lengths */
    const uint8_t *msg[K];
    size_t size[K];
    int rop[K];
    int cur = 0;                            /* slots being forwarded: cur*K */
    rz_status_t status;

    status = rz_ef_encode_all(ef, X, res);
    if (status != RZ_OK) {
        return status;
    }
#define RZ_EF_SLOT(half, k) (ef->rmsg + ((size_t)(half) * K + (size_t)(k)) * \
                             ef->wmax)
    for (int s = 0; s < K - 1; s++) {
        int cs = rz_ef_mod(me - s, K), cr = rz_ef_mod(me - s - 1, K);
        int in = 1 - cur;
        if ((status = rz_ef_batch(ef)) != RZ_OK) {
            return status;
        }
        /* Receive chunk cr's contributions of ranks cr .. prev. */
        for (int h = 0; h <= s && ef->klen[cr] > 0; h++) {
            int src = rz_ef_mod(cr + h, K);
            rop[src] = rz_ef_recv(ef, prev, (unsigned)src, RZ_EF_SLOT(in, src),
                                  ef->wcap[cr], anyw);
        }
        /* Forward chunk cs's contributions of ranks cs .. me - 1, then
         * this rank's own. */
        for (int h = 0; h < s && ef->klen[cs] > 0; h++) {
            int src = rz_ef_mod(cs + h, K);
            rz_ef_send(ef, next, (unsigned)src, RZ_EF_SLOT(cur, src),
                       len[(size_t)cur * K + (size_t)src], 0);
        }
        if (ef->klen[cs] > 0) {
            rz_ef_send(ef, next, (unsigned)me, ef->wmsg + ef->wof[cs],
                       ef->wsz[cs], 0);
        }
        if ((status = rz_ef_run(ef)) != RZ_OK) {
            return status;
        }
        for (int h = 0; h <= s && ef->klen[cr] > 0; h++) {
            int src = rz_ef_mod(cr + h, K);
            len[(size_t)in * K + (size_t)src] = ef->blen[rop[src]];
        }
        cur = in;
    }
    /* The owner decodes all K contributions in rank order. */
    if (ef->klen[own] > 0) {
        for (int k = 0; k < K; k++) {
            msg[k] = k == me ? ef->wmsg + ef->wof[own] : RZ_EF_SLOT(cur, k);
            size[k] = k == me ? ef->wsz[own]
                              : len[(size_t)cur * K + (size_t)k];
        }
        status = rz_ef_serve_msgs(ef, own, msg, size);
        if (status != RZ_OK) {
            return status;
        }
    }
#undef RZ_EF_SLOT
    return rz_ef_ring_relay(ef, out);
}

rz_status_t rz_ef_xchg(rz_ef_t *ef, const float *X, float *res, float *out)
{
    switch (ef->cfg.topology) {
    case RZ_EF_TOPO_SINGLE:     return rz_ef_xchg_single(ef, X, res, out);
    case RZ_EF_TOPO_SHARDED:    return rz_ef_xchg_sharded(ef, X, res, out);
    case RZ_EF_TOPO_RING:       return rz_ef_xchg_ring(ef, X, res, out);
    case RZ_EF_TOPO_RING_EXACT: return rz_ef_xchg_ring_exact(ef, X, res, out);
    }
    return RZ_ERR_INTERNAL;
}

/* ---------------------------------------------------------------------- */
/* Full-precision operations (ALGORITHMS.md 3.4)                            */

/*
 * Direct reduce-scatter of @buf over @nch chunks (offsets @off, lengths
 * @len) to their owners (@owner[c]), each owner summing the K slices in
 * rank order, times fp32(1/K) if @mean; then, on the owner, v = sum + @flush
 * and @flush = 0 when @flush is not NULL (LIEC's sync); then the allgather
 * @ag. @buf ends up with the result on every rank.
 */
static rz_status_t rz_ef_fp32_rs_ag(rz_ef_t *ef, float *buf, int nch,
                                    const size_t *off, const size_t *len,
                                    const int *owner, rz_ef_ag_t ag, int mean,
                                    float *flush)
{
    const int me = ef->rank, K = ef->K;
    int oc = -1;
    rz_status_t status;

    for (int c = 0; c < nch; c++) {
        if (owner[c] == me && len[c] > 0) {
            oc = c;
        }
    }
    size_t n_oc = oc >= 0 ? len[oc] : 0;
    status = rz_ef_grow(&ef->stage, &ef->stage_cap,
                        (size_t)K * n_oc * sizeof(float));
    if (status != RZ_OK) {
        return status;
    }
    float *stage = (float *)(void *)ef->stage;
    /* Reduce-scatter. */
    if ((status = rz_ef_batch(ef)) != RZ_OK) {
        return status;
    }
    for (int s = 1; s < K && oc >= 0; s++) {
        int from = rz_ef_mod(me - s, K);
        rz_ef_recv(ef, from, (unsigned)oc, stage + (size_t)from * n_oc,
                   n_oc * sizeof(float), 0);
    }
    for (int s = 1; s < K; s++) {
        for (int c = 0; c < nch; c++) {
            if (owner[c] == rz_ef_mod(me + s, K) && len[c] > 0) {
                rz_ef_send(ef, owner[c], (unsigned)c, buf + off[c],
                           len[c] * sizeof(float), 1);
            }
        }
    }
    if ((status = rz_ef_run(ef)) != RZ_OK) {
        return status;
    }
    if (oc >= 0) {
        float *sum = ef->acc + off[oc];
        for (int k = 0; k < K; k++) {
            const float *slice = k == me ? buf + off[oc]
                                         : stage + (size_t)k * n_oc;
            if (k == 0) {
                memcpy(sum, slice, n_oc * sizeof(float));
            } else {
                rz_ef_add_inplace(sum, slice, n_oc);
            }
        }
        if (mean) {
            rz_ef_scale(sum, ef->inv_k, n_oc);
        }
        if (flush != NULL) {
            rz_ef_add_inplace(sum, flush, n_oc);
            memset(flush, 0, n_oc * sizeof(float));
        }
        memcpy(buf + off[oc], sum, n_oc * sizeof(float));
    }
    /* All-gather. */
    if (ag == RZ_EF_AG_DIRECT) {
        if ((status = rz_ef_batch(ef)) != RZ_OK) {
            return status;
        }
        for (int c = 0; c < nch; c++) {
            if (len[c] > 0 && owner[c] != me) {
                rz_ef_recv(ef, owner[c], (unsigned)c, buf + off[c],
                           len[c] * sizeof(float), 0);
            }
        }
        for (int s = 1; s < K && oc >= 0; s++) {
            rz_ef_send(ef, rz_ef_mod(me + s, K), (unsigned)oc, buf + off[oc],
                       n_oc * sizeof(float), 1);
        }
        return rz_ef_run(ef);
    }
    const int next = rz_ef_mod(me + 1, K), prev = rz_ef_mod(me - 1, K);
    for (int s = 0; s < K - 1; s++) {
        int cs = rz_ef_mod(me + 1 - s, K), cr = rz_ef_mod(me - s, K);
        if ((status = rz_ef_batch(ef)) != RZ_OK) {
            return status;
        }
        if (len[cr] > 0) {
            rz_ef_recv(ef, prev, (unsigned)s, buf + off[cr],
                       len[cr] * sizeof(float), 0);
        }
        if (len[cs] > 0) {
            rz_ef_send(ef, next, (unsigned)s, buf + off[cs],
                       len[cs] * sizeof(float), 1);
        }
        if ((status = rz_ef_run(ef)) != RZ_OK) {
            return status;
        }
    }
    return RZ_OK;
}

/* The fp32 allreduce of every topology: direct reduce-scatter to the ring
 * owners, ring relay. @mean: times fp32(1/K). */
rz_status_t rz_ef_fp32_allreduce(rz_ef_t *ef, float *buf, int mean)
{
    int owner[ef->K];

    for (int c = 0; c < ef->K; c++) {
        owner[c] = rz_ef_mod(c - 1, ef->K);
    }
    return rz_ef_fp32_rs_ag(ef, buf, ef->K, ef->koff, ef->klen, owner,
                            RZ_EF_AG_RING, mean, NULL);
}

/* LIEC sync: v = mean_k g^k + e_srv at the owners (e_srv flushed), then v
 * to every rank, in the topology's own pattern. */
rz_status_t rz_ef_fp32_sync_grad(rz_ef_t *ef, float *g)
{
    int owner[ef->K];
    float *flush = ef->srv_n > 0 ? ef->esrv : NULL;

    switch (ef->cfg.topology) {
    case RZ_EF_TOPO_SINGLE: {
        size_t off = 0, len = ef->d;
        owner[0] = ef->cfg.server_rank;
        return rz_ef_fp32_rs_ag(ef, g, 1, &off, &len, owner, RZ_EF_AG_DIRECT,
                                1, flush);
    }
    case RZ_EF_TOPO_SHARDED:
        for (int c = 0; c < ef->K; c++) {
            owner[c] = c;
        }
        return rz_ef_fp32_rs_ag(ef, g, ef->K, ef->koff, ef->klen, owner,
                                RZ_EF_AG_DIRECT, 1, flush);
    default:
        for (int c = 0; c < ef->K; c++) {
            owner[c] = rz_ef_mod(c - 1, ef->K);
        }
        return rz_ef_fp32_rs_ag(ef, g, ef->K, ef->koff, ef->klen, owner,
                                RZ_EF_AG_RING, 1, flush);
    }
}
