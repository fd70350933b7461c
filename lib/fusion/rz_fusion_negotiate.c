/*
 * The negotiation of the fusion engine, run when some rank holds a tensor
 * the response cache does not cover (or asks for a stall census): every
 * rank sends rank 0 the tensors it has not reported yet (an allgather of
 * lengths, then one point-to-point batch); rank 0 counts, per name, which
 * ranks have it, checks that their count, dtype, op and compression agree,
 * and broadcasts the responses: groups of tensors ready on every rank, in
 * the order they became ready, fused by the rules of rz_fusion_coord.c,
 * and errors. Every rank runs the responses in that order and enters the
 * tensors in its cache, so the caches stay identical.
 *
 * Stall inspection: a rank holding a tensor for longer than the stall
 * warning (or timeout) asks for a census: every rank lists all it holds,
 * and rank 0 names the tensors some ranks lack, warns, and after the
 * timeout fails them.
 *
 * Messages are parsed with bounds-checked readers: a malformed one stops
 * the engine with RZ_ERR_MALFORMED instead of being trusted.
 */
#include "fusion/rz_fusion_int.h"

#include "core/rz_comm.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ messages */

/* "0,2-4,7" into @out. */
static void rz_fu_rank_list(const uint8_t *flags, int n, int want, char *out,
                            size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    for (int r = 0; r < n && len + 24 < size; r++) {
        int e = r;
        if ((flags[r] != 0) != want) {
            continue;
        }
        while (e + 1 < n && (flags[e + 1] != 0) == want) {
            e++;
        }
        len += (size_t)snprintf(out + len, size - len, "%s%d", len ? "," : "",
                                r);
        if (e > r) {
            len += (size_t)snprintf(out + len, size - len, "-%d", e);
        }
        r = e;
    }
    if (len + 24 >= size) {
        snprintf(out + len, size - len, ",...");
    }
}

static void rz_fu_prm_text(const rz_fu_params_t *p, char *out, size_t size)
{
    if (p->comp_sig != 0) {
        snprintf(out, size, "count %llu, %s, %s, compression %016llx",
                 (unsigned long long)p->count,
                 rz_dtype_name((rz_dtype_t)p->dtype),
                 rz_op_name((rz_op_t)p->op), (unsigned long long)p->comp_sig);
    } else {
        snprintf(out, size, "count %llu, %s, %s, uncompressed",
                 (unsigned long long)p->count,
                 rz_dtype_name((rz_dtype_t)p->dtype),
                 rz_op_name((rz_op_t)p->op));
    }
}

/* The ranks' parameters, grouped: "ranks 0,2: count 10, f32, sum, ...;
 * ranks 1: count 12, ...". */
static void rz_fu_mismatch_text(const rz_fu_entry_t *e, int n, char *out,
                                size_t size)
{
    uint8_t *seen = calloc((size_t)n, 1), *same = calloc((size_t)n, 1);
    size_t len = 0;

    out[0] = '\0';
    if (seen == NULL || same == NULL) {
        snprintf(out, size, "(out of memory describing them)");
        goto out;
    }
    for (int r = 0; r < n && len + 64 < size; r++) {
        char ranks[256], prm[160];
        if (seen[r]) {
            continue;
        }
        for (int q = 0; q < n; q++) {
            same[q] = !seen[q] && rz_fu_prm_equal(&e->prm[q], &e->prm[r]);
            seen[q] |= same[q];
        }
        rz_fu_rank_list(same, n, 1, ranks, sizeof(ranks));
        rz_fu_prm_text(&e->prm[r], prm, sizeof(prm));
        len += (size_t)snprintf(out + len, size - len, "%sranks %s: %s",
                                len ? "; " : "", ranks, prm);
    }
out:
    free(seen);
    free(same);
}

static void rz_fu_put_entry(rz_fu_buf_t *b, unsigned kind,
                            const rz_fu_op_t *op, uint64_t now)
{
    uint64_t age_ms = (now - op->t_enqueue) / 1000000ull;

    rz_fu_buf_u8(b, (uint8_t)kind);
    rz_fu_buf_str(b, op->name, op->name_len);
    rz_fu_buf_u64(b, op->prm.count);
    rz_fu_buf_u64(b, op->prm.comp_sig);
    rz_fu_buf_u8(b, op->prm.dtype);
    rz_fu_buf_u8(b, op->prm.op);
    rz_fu_buf_u32(b, (uint32_t)RZ_MIN(age_ms, UINT32_MAX));
}

/* Gather every rank's report at rank 0 (@all[r], lengths @lens[r]). */
static rz_status_t rz_fu_gather(rz_fusion_t *fu, const rz_fu_buf_t *mine,
                                uint8_t ***all_p, uint64_t **lens_p)
{
    int K = fu->nranks;
    uint64_t mylen = mine->len;
    uint64_t *lens = calloc((size_t)K, sizeof(*lens));
    uint8_t **all = calloc((size_t)K, sizeof(*all));
    rz_request_t *req;
    rz_status_t status;

    *all_p = all;
    *lens_p = lens;
    if (lens == NULL || all == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    RZ_CHECK_GOTO(rz_allgather(&mylen, lens, 1, RZ_DTYPE_U64, fu->comm), out,
                  status);
    if (fu->rank == 0) {
        all[0] = malloc(RZ_MAX(mylen, 1));
        if (all[0] == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        if (mylen > 0) {
            memcpy(all[0], mine->p, mylen);
        }
        for (int r = 1; r < K; r++) {
            if (lens[r] > ((uint64_t)1 << 40) ||
                (all[r] = malloc(RZ_MAX(lens[r], 1))) == NULL) {
                return RZ_ERR_NO_MEMORY;
            }
        }
    }
    RZ_CHECK_GOTO(rz_p2p_begin(fu->comm, 0x46555345ull, K, &req), out,
                  status);
    if (fu->rank == 0) {
        for (int r = 1; r < K; r++) {
            if (lens[r] > 0) {
                rz_p2p_recv(req, r, 0, all[r], lens[r], 0);
            }
        }
    } else if (mylen > 0) {
        rz_p2p_send(req, 0, 0, mine->p, mylen);
    }
    status = rz_p2p_run(req, NULL);
out:
    return status;
}

static void rz_fu_free_gather(int K, uint8_t **all, uint64_t *lens)
{
    if (all != NULL) {
        for (int r = 0; r < K; r++) {
            free(all[r]);
        }
    }
    free(all);
    free(lens);
}

/* Census at rank 0: which ranks hold a name, and for how long. */
typedef struct {
    uint8_t *present;
    uint64_t age_ms;
    int      order;    /* first seen, for a stable output order */
} rz_fu_census_t;

static void rz_fu_census_free(void *val)
{
    rz_fu_census_t *c = val;

    free(c->present);
    free(c);
}

/* Rank 0's half: read the reports, update the table, write responses. */
typedef struct {
    rz_fu_buf_t    out;        /* the responses */
    uint32_t       nresp;
    /* Tensors ready on every rank this cycle, in order. */
    char         **rname;
    rz_fu_params_t *rprm;
    size_t         *rbytes;
    int             nready;
    int             rcap;
} rz_fu_coord_t;

static void rz_fu_resp_error(rz_fu_coord_t *c, rz_status_t status,
                             const char *name, const char *msg)
{
    rz_fu_buf_u8(&c->out, RZ_FU_RESP_ERROR);
    rz_fu_buf_u32(&c->out, (uint32_t)(int32_t)status);
    rz_fu_buf_u32(&c->out, 1);
    rz_fu_buf_str(&c->out, name, strlen(name));
    rz_fu_buf_str(&c->out, msg, strlen(msg));
    c->nresp++;
}

static rz_status_t rz_fu_coord_ready(rz_fu_coord_t *c, const char *name,
                                     const rz_fu_params_t *prm)
{
    if (c->nready == c->rcap) {
        int cap = c->rcap * 2 + 16;
        char **n = realloc(c->rname, sizeof(*n) * (size_t)cap);
        if (n != NULL) {
            c->rname = n;
        }
        rz_fu_params_t *p = realloc(c->rprm, sizeof(*p) * (size_t)cap);
        if (p != NULL) {
            c->rprm = p;
        }
        size_t *b = realloc(c->rbytes, sizeof(*b) * (size_t)cap);
        if (b != NULL) {
            c->rbytes = b;
        }
        if (n == NULL || p == NULL || b == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        c->rcap = cap;
    }
    if ((c->rname[c->nready] = strdup(name)) == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    c->rprm[c->nready] = *prm;
    c->rbytes[c->nready] = (size_t)prm->count *
                           rz_dtype_size((rz_dtype_t)prm->dtype);
    c->nready++;
    return RZ_OK;
}

/* A request from rank @r: count it; a name every rank has sent is ready
 * (or a mismatch). */
static rz_status_t rz_fu_coord_request(rz_fusion_t *fu, rz_fu_coord_t *c,
                                       int r, const char *name,
                                       const rz_fu_params_t *prm)
{
    int K = fu->nranks;
    rz_fu_entry_t *e = rz_fu_map_get(&fu->table, name);

    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->reported = calloc((size_t)K, 1)) == NULL ||
            (e->prm = calloc((size_t)K, sizeof(*e->prm))) == NULL ||
            rz_fu_map_put(&fu->table, name, e) != RZ_OK) {
            if (e != NULL) {
                rz_fu_entry_free(e);
            }
            return RZ_ERR_NO_MEMORY;
        }
    }
    if (e->reported[r]) {
        RZ_LOG_WARN("fusion engine: rank %d reported '%s' twice", r, name);
        return RZ_OK;
    }
    e->reported[r] = 1;
    e->prm[r] = *prm;
    if (++e->nreported < K) {
        return RZ_OK;
    }
    rz_status_t status = RZ_OK;
    int agree = 1;
    for (int q = 1; q < K; q++) {
        agree &= rz_fu_prm_equal(&e->prm[q], &e->prm[0]);
    }
    if (agree) {
        status = rz_fu_coord_ready(c, name, &e->prm[0]);
    } else {
        char prm[1024], msg[1400];
        rz_fu_mismatch_text(e, K, prm, sizeof(prm));
        snprintf(msg, sizeof(msg), "tensor '%.*s': the ranks disagree: %s",
                 256, name, prm);
        RZ_LOG_ERROR("fusion engine: %s", msg);
        rz_fu_resp_error(c, RZ_ERR_MISMATCH, name, msg);
    }
    rz_fu_entry_free(rz_fu_map_del(&fu->table, name));
    free(rz_fu_map_del(&fu->warned, name));
    return status;
}

/* Stall inspection at rank 0 over a census. */
static rz_status_t rz_fu_coord_stalls(rz_fusion_t *fu, rz_fu_coord_t *c,
                                      rz_fu_map_t *census, int ncensus)
{
    int K = fu->nranks;
    uint64_t now = rz_time_ns();
    double warn = fu->cfg.stall_warning_s, tmo = fu->cfg.stall_timeout_s;
    rz_fu_census_t **list = calloc((size_t)RZ_MAX(ncensus, 1),
                                   sizeof(*list));
    const char **names = calloc((size_t)RZ_MAX(ncensus, 1), sizeof(*names));

    if (list == NULL || names == NULL) {
        free(list);
        free(names);
        return RZ_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < census->nbuckets; i++) {
        for (rz_fu_map_entry_t *me = census->buckets[i]; me != NULL;
             me = me->next) {
            rz_fu_census_t *ce = me->val;
            list[ce->order] = ce;
            names[ce->order] = me->key;
        }
    }
    for (int i = 0; i < ncensus; i++) {
        rz_fu_census_t *ce = list[i];
        int npresent = 0;
        double age = (double)ce->age_ms / 1e3;
        char have[256], miss[256], msg[768];
        for (int r = 0; r < K; r++) {
            npresent += ce->present[r] != 0;
        }
        if (npresent == K) {
            continue;
        }
        rz_fu_rank_list(ce->present, K, 1, have, sizeof(have));
        rz_fu_rank_list(ce->present, K, 0, miss, sizeof(miss));
        if (tmo > 0 && age >= tmo) {
            snprintf(msg, sizeof(msg), "tensor '%s' failed: stalled for "
                     "%.1f s (RZ_STALL_TIMEOUT_S=%g): enqueued on ranks %s, "
                     "missing on ranks %s", names[i], age, tmo, have, miss);
            RZ_LOG_ERROR("fusion engine: %s", msg);
            rz_fu_resp_error(c, RZ_ERR_TIMEOUT, names[i], msg);
            rz_fu_entry_free(rz_fu_map_del(&fu->table, names[i]));
            free(rz_fu_map_del(&fu->warned, names[i]));
            continue;
        }
        if (warn > 0 && age >= warn) {
            uint64_t *last = rz_fu_map_get(&fu->warned, names[i]);
            if (last != NULL && (double)(now - *last) / 1e9 < warn) {
                continue;
            }
            if (last == NULL && (last = malloc(sizeof(*last))) != NULL &&
                rz_fu_map_put(&fu->warned, names[i], last) != RZ_OK) {
                free(last);
                last = NULL;
            }
            if (last != NULL) {
                *last = now;
            }
            RZ_LOG_WARN("fusion engine: tensor '%s' stalled for %.1f s: "
                        "enqueued on ranks %s, missing on ranks %s (a rank "
                        "that never enqueues it, or enqueues it under "
                        "another name, blocks it%s)", names[i], age, have,
                        miss, tmo > 0 ? "; it fails at RZ_STALL_TIMEOUT_S" :
                                        "");
        }
    }
    free(list);
    free(names);
    return RZ_OK;
}

/* Rank 0: parse every report; write the responses into c->out. */
static rz_status_t rz_fu_coordinate(rz_fusion_t *fu, uint8_t **all,
                                    const uint64_t *lens, rz_fu_coord_t *c)
{
    rz_fu_map_t census = {0};
    int ncensus = 0;
    rz_status_t status = RZ_OK;

    for (int r = 0; r < fu->nranks && status == RZ_OK; r++) {
        rz_fu_rd_t rd = {all[r], lens[r], 0, 0};
        while (rd.pos < rd.len && status == RZ_OK) {
            uint8_t kind;
            const char *s;
            size_t slen;
            uint32_t age;
            rz_fu_params_t prm;
            char name[RZ_FUSION_NAME_MAX + 1];
            rz_fu_rd_u8(&rd, &kind);
            rz_fu_rd_str(&rd, &s, &slen);
            rz_fu_rd_u64(&rd, &prm.count);
            rz_fu_rd_u64(&rd, &prm.comp_sig);
            rz_fu_rd_u8(&rd, &prm.dtype);
            rz_fu_rd_u8(&rd, &prm.op);
            if (rz_fu_rd_u32(&rd, &age) != 0 || slen == 0 ||
                slen > RZ_FUSION_NAME_MAX) {
                RZ_LOG_ERROR("fusion engine: rank %d's report is malformed",
                             r);
                status = RZ_ERR_MALFORMED;
                break;
            }
            memcpy(name, s, slen);
            name[slen] = '\0';
            if (kind & RZ_FU_REQ) {
                status = rz_fu_coord_request(fu, c, r, name, &prm);
            }
            if ((kind & RZ_FU_CENSUS) && status == RZ_OK) {
                rz_fu_census_t *ce = rz_fu_map_get(&census, name);
                if (ce == NULL) {
                    ce = calloc(1, sizeof(*ce));
                    if (ce == NULL ||
                        (ce->present = calloc((size_t)fu->nranks, 1)) ==
                            NULL ||
                        rz_fu_map_put(&census, name, ce) != RZ_OK) {
                        if (ce != NULL) {
                            rz_fu_census_free(ce);
                        }
                        status = RZ_ERR_NO_MEMORY;
                        break;
                    }
                    ce->order = ncensus++;
                }
                ce->present[r] = 1;
                ce->age_ms = RZ_MAX(ce->age_ms, age);
            }
        }
    }
    if (status == RZ_OK && ncensus > 0) {
        status = rz_fu_coord_stalls(fu, c, &census, ncensus);
    }
    rz_fu_map_clear(&census, rz_fu_census_free);
    if (status != RZ_OK) {
        return status;
    }

    /* The ready tensors, grouped. */
    if (c->nready > 0) {
        int n = c->nready;
        rz_fu_desc_t *d = malloc(sizeof(*d) * (size_t)n);
        int *perm = malloc(sizeof(int) * 2 * (size_t)n);
        uint8_t *placed = malloc((size_t)n);
        if (d == NULL || perm == NULL || placed == NULL) {
            status = RZ_ERR_NO_MEMORY;
        } else {
            for (int i = 0; i < n; i++) {
                d[i].prm = &c->rprm[i];
                d[i].bytes = c->rbytes[i];
            }
            int *gend = perm + n;
            int ng = rz_fu_make_groups(fu->cfg.fusion_threshold, d, n, perm,
                                       gend, placed);
            for (int g = 0, b = 0; g < ng; b = gend[g++]) {
                rz_fu_buf_u8(&c->out, RZ_FU_RESP_GROUP);
                rz_fu_buf_u32(&c->out, 0);
                rz_fu_buf_u32(&c->out, (uint32_t)(gend[g] - b));
                for (int k = b; k < gend[g]; k++) {
                    const char *nm = c->rname[perm[k]];
                    rz_fu_buf_str(&c->out, nm, strlen(nm));
                }
                c->nresp++;
            }
        }
        free(d);
        free(perm);
        free(placed);
    }
    return c->out.oom ? RZ_ERR_NO_MEMORY : status;
}

/* The pending op named @name (a linear walk: a negotiation names few). */
static rz_fu_op_t *rz_fu_pend_find(rz_fusion_t *fu, const char *name,
                                   size_t len)
{
    for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
        if (op->name_len == len && memcmp(op->name, name, len) == 0) {
            return op;
        }
    }
    return NULL;
}

/* Every rank: run rank 0's responses. */
static rz_status_t rz_fu_apply(rz_fusion_t *fu, const uint8_t *resp,
                               size_t len)
{
    rz_fu_rd_t rd = {resp, len, 0, 0};
    uint32_t nresp = 0;
    rz_status_t status = RZ_OK;
    rz_fu_op_t **ops = NULL;
    uint32_t ops_cap = 0;

    rz_fu_rd_u32(&rd, &nresp);
    for (uint32_t i = 0; i < nresp && status == RZ_OK; i++) {
        uint8_t type;
        uint32_t st, n;
        int m = 0;
        rz_fu_rd_u8(&rd, &type);
        rz_fu_rd_u32(&rd, &st);
        if (rz_fu_rd_u32(&rd, &n) != 0 || n == 0 || n > (1u << 24)) {
            status = RZ_ERR_MALFORMED;
            break;
        }
        if (n > ops_cap) {
            rz_fu_op_t **p = realloc(ops, sizeof(*p) * n);
            if (p == NULL) {
                status = RZ_ERR_NO_MEMORY;
                break;
            }
            ops = p;
            ops_cap = n;
        }
        for (uint32_t k = 0; k < n; k++) {
            const char *s;
            size_t slen;
            if (rz_fu_rd_str(&rd, &s, &slen) != 0) {
                status = RZ_ERR_MALFORMED;
                break;
            }
            rz_fu_op_t *op = rz_fu_pend_find(fu, s, slen);
            if (op != NULL) {
                ops[m++] = op;
            } else if (type == RZ_FU_RESP_GROUP) {
                RZ_LOG_ERROR("fusion engine: rank 0 scheduled '%.*s', which "
                             "is not pending here", (int)slen, s);
                status = RZ_ERR_INTERNAL;
            }
        }
        if (status != RZ_OK) {
            break;
        }
        if (type == RZ_FU_RESP_GROUP) {
            /* Cache first: running them may free them. rz_fu_schedule()
             * regroups them exactly as rank 0 did. */
            for (int k = 0; k < m; k++) {
                rz_fu_cache_insert(fu, ops[k]);
            }
            status = rz_fu_schedule(fu, ops, m);
        } else {
            const char *s;
            size_t slen;
            if (rz_fu_rd_str(&rd, &s, &slen) != 0) {
                status = RZ_ERR_MALFORMED;
                break;
            }
            if (m > 0 && fu->rank != 0) {
                RZ_LOG_ERROR("fusion engine: %.*s", (int)slen, s);
            }
            rz_fu_pend_remove(fu, ops, m);
            for (int k = 0; k < m; k++) {
                rz_fu_timeline_event(fu, ops[k], "NEGOTIATE",
                                     ops[k]->t_enqueue, rz_time_ns(),
                                     "\"status\":\"error\"");
                rz_fu_complete(fu, ops[k], (rz_status_t)(int32_t)st);
            }
        }
    }
    if (status == RZ_ERR_MALFORMED) {
        RZ_LOG_ERROR("fusion engine: rank 0's responses are malformed");
    }
    free(ops);
    return status;
}

/* Report, coordinate, broadcast, apply. */
rz_status_t rz_fu_negotiate(rz_fusion_t *fu, int census)
{
    rz_fu_buf_t mine = {0};
    rz_fu_coord_t c = {0};
    uint8_t **all = NULL;
    uint64_t *lens = NULL, rlen = 0, now = rz_time_ns();
    uint8_t *resp = NULL;
    long spin = fu->comm->spin_us;
    rz_status_t status;

    for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
        unsigned kind = 0;
        if (!op->reported && op->cache_slot < 0) {
            kind |= RZ_FU_REQ;
        }
        if (census) {
            kind |= RZ_FU_CENSUS;
        }
        if (kind != 0) {
            rz_fu_put_entry(&mine, kind, op, now);
        }
    }
    if (mine.oom) {
        status = RZ_ERR_NO_MEMORY;
        goto out;
    }
    /* Control messages block at once (see rz_fu_cycle()). */
    spin = fu->comm->spin_us;
    fu->comm->spin_us = 0;
    RZ_CHECK_GOTO(rz_fu_gather(fu, &mine, &all, &lens), out, status);
    /* Sent: rank 0 now counts them. */
    for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
        if (op->cache_slot < 0) {
            op->reported = 1;
        }
    }
    if (fu->rank == 0) {
        rz_fu_buf_u32(&c.out, 0); /* nresp, patched below */
        status = rz_fu_coordinate(fu, all, lens, &c);
        if (status == RZ_OK && c.out.oom) {
            status = RZ_ERR_NO_MEMORY;
        }
        if (status != RZ_OK) {
            /* Rank 0 cannot go on: abort, so nobody waits for it. */
            rz_comm_abort(fu->comm, status);
            goto out;
        }
        memcpy(c.out.p, &c.nresp, sizeof(c.nresp));
        rlen = c.out.len;
    }
    RZ_CHECK_GOTO(rz_broadcast(&rlen, &rlen, 1, RZ_DTYPE_U64, 0, fu->comm),
                  out, status);
    if (fu->rank == 0) {
        resp = c.out.p;
        c.out.p = NULL;
    } else if ((resp = malloc(RZ_MAX(rlen, 1))) == NULL) {
        status = RZ_ERR_NO_MEMORY;
        rz_comm_abort(fu->comm, status);
        goto out;
    }
    RZ_CHECK_GOTO(rz_broadcast(resp, resp, rlen, RZ_DTYPE_U8, 0, fu->comm),
                  out, status);
    fu->comm->spin_us = spin;
    pthread_mutex_lock(&fu->lock);
    fu->stats.negotiations++;
    fu->stats.negotiation_s += (double)(rz_time_ns() - now) / 1e9;
    pthread_mutex_unlock(&fu->lock);
    status = rz_fu_apply(fu, resp, rlen);
out:
    fu->comm->spin_us = spin;
    free(mine.p);
    free(c.out.p);
    for (int i = 0; i < c.nready; i++) {
        free(c.rname[i]);
    }
    free(c.rname);
    free(c.rprm);
    free(c.rbytes);
    free(resp);
    rz_fu_free_gather(fu->nranks, all, lens);
    return status;
}

