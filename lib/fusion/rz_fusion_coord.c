/*
 * One cycle of the fusion engine, run by every rank's engine thread in
 * lockstep (each step is a collective on the engine's communicator):
 *
 * 1. The AND vector: one MIN allreduce of a byte vector (0/1 bytes, so MIN
 *    is a bitwise AND) of
 *      flags   nothing new for rank 0 / not stopping / no stall census;
 *      ready   one byte per cache slot: this rank has that tensor pending
 *              with the cached parameters;
 *      valid   one byte per cache slot: 0 when this rank enqueued the name
 *              with other parameters (every rank then evicts the slot).
 *    Slots ready everywhere are scheduled at once, in slot order, without
 *    talking to rank 0: the steady state of a training loop.
 * 2. Negotiation through rank 0 (rz_fusion_negotiate.c), only when some
 *    rank has a tensor the cache does not cover or asks for a stall census.
 *
 * Fusion rules (both paths): walk the ready tensors in order; each tensor
 * not yet placed opens a group and pulls in every later tensor with the
 * same dtype, op and compression that still fits under the threshold
 * (looking ahead past those that do not match or fit). Threshold 0: one
 * tensor per group. The response cache (LRU) is updated identically on
 * every rank from the responses and the hits.
 */
#include "fusion/rz_fusion_int.h"

#include "core/rz_comm.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <stdlib.h>
#include <string.h>

#define RZ_FU_NFLAGS       8
#define RZ_FU_F_NO_NEW     0
#define RZ_FU_F_NO_STOP    1
#define RZ_FU_F_NO_CENSUS  2

int rz_fu_prm_equal(const rz_fu_params_t *a, const rz_fu_params_t *b)
{
    return a->count == b->count && a->comp_sig == b->comp_sig &&
           a->dtype == b->dtype && a->op == b->op;
}

/* Can two tensors share a group? */
static int rz_fu_prm_fusable(const rz_fu_params_t *a, const rz_fu_params_t *b)
{
    return a->comp_sig == b->comp_sig && a->dtype == b->dtype &&
           a->op == b->op;
}

/* ------------------------------------------------------------ grouping */

/* Group @n tensors: @perm receives their indices in execution order and
 * @gend[g] the end (in perm) of group g. Returns the number of groups. */
int rz_fu_make_groups(size_t threshold, const rz_fu_desc_t *d, int n,
                             int *perm, int *gend, uint8_t *placed)
{
    int np = 0, ng = 0;

    memset(placed, 0, (size_t)n);
    for (int i = 0; i < n; i++) {
        size_t total;
        if (placed[i]) {
            continue;
        }
        placed[i] = 1;
        perm[np++] = i;
        total = d[i].bytes;
        for (int j = i + 1; j < n && threshold > 0 && total < threshold;
             j++) {
            if (!placed[j] && rz_fu_prm_fusable(d[i].prm, d[j].prm) &&
                d[j].bytes <= threshold - total) {
                placed[j] = 1;
                perm[np++] = j;
                total += d[j].bytes;
            }
        }
        gend[ng++] = np;
    }
    return ng;
}

/* ------------------------------------------------------------ pending */

/* Unlink the ops marked in @take from the pending list (before they are
 * completed: completion may free them). */
void rz_fu_pend_remove(rz_fusion_t *fu, rz_fu_op_t **ops, int n)
{
    for (int i = 0; i < n; i++) {
        for (rz_fu_op_t **p = &fu->pend; *p != NULL; p = &(*p)->next) {
            if (*p == ops[i]) {
                *p = ops[i]->next;
                ops[i]->next = NULL;
                break;
            }
        }
    }
}

/* Group and run @n ops (ready on every rank, in the global order). */
rz_status_t rz_fu_schedule(rz_fusion_t *fu, rz_fu_op_t **ops, int n)
{
    rz_status_t status = RZ_OK;
    rz_fu_desc_t *d = malloc(sizeof(*d) * (size_t)n);
    int *perm = malloc(sizeof(int) * 2 * (size_t)n);
    uint8_t *placed = malloc((size_t)n);
    rz_fu_op_t **run = malloc(sizeof(*run) * (size_t)n);
    uint64_t now = rz_time_ns();

    if (d == NULL || perm == NULL || placed == NULL || run == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        d[i].prm = &ops[i]->prm;
        d[i].bytes = ops[i]->bytes;
        ops[i]->t_sched = now;
    }
    rz_fu_pend_remove(fu, ops, n);
    int *gend = perm + n;
    int ng = rz_fu_make_groups(fu->cfg.fusion_threshold, d, n, perm, gend,
                               placed);
    for (int g = 0, b = 0; g < ng; b = gend[g++]) {
        int m = gend[g] - b;
        for (int k = 0; k < m; k++) {
            run[k] = ops[perm[b + k]];
        }
        if (status == RZ_OK) {
            status = rz_fu_exec_group(fu, run, m);
        } else {
            for (int k = 0; k < m; k++) {
                rz_fu_complete(fu, run[k], status);
            }
        }
    }
out:
    if (status == RZ_ERR_NO_MEMORY) {
        RZ_LOG_ERROR("fusion engine: out of memory scheduling %d tensors", n);
    }
    free(d);
    free(perm);
    free(placed);
    free(run);
    return status;
}

/* ------------------------------------------------------------ cache */

static void rz_fu_cache_evict(rz_fusion_t *fu, int s)
{
    rz_fu_slot_t *slot = &fu->slots[s];

    slot->poisoned = 0;
    if (slot->name == NULL) {
        return;
    }
    rz_fu_map_del(&fu->cache, slot->name);
    free(slot->name);
    slot->name = NULL;
    for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
        if (op->cache_slot == s) {
            op->cache_slot = -1;
        }
    }
}

/* Enter a tensor every rank just reduced. Identical calls on every rank
 * keep the caches identical. */
void rz_fu_cache_insert(rz_fusion_t *fu, const rz_fu_op_t *op)
{
    int cap = fu->cfg.cache_capacity, s = -1;
    uintptr_t idx;

    if (cap == 0) {
        return;
    }
    idx = (uintptr_t)rz_fu_map_get(&fu->cache, op->name);
    if (idx != 0) {
        s = (int)idx - 1;
    } else {
        for (int i = 0; i < fu->nslots && s < 0; i++) {
            if (fu->slots[i].name == NULL) {
                s = i;
            }
        }
        if (s < 0 && fu->nslots < cap) {
            s = fu->nslots++;
        }
        if (s < 0) {
            /* Full: the least recently used goes. */
            s = 0;
            for (int i = 1; i < fu->nslots; i++) {
                if (fu->slots[i].last_use < fu->slots[s].last_use) {
                    s = i;
                }
            }
            rz_fu_cache_evict(fu, s);
        }
        fu->slots[s].name = strdup(op->name);
        if (fu->slots[s].name == NULL ||
            rz_fu_map_put(&fu->cache, op->name, (void *)(uintptr_t)(s + 1)) !=
                RZ_OK) {
            /* Not cached here: every rank must agree, so poison the slot;
             * the next cycle's valid byte evicts it everywhere. */
            RZ_LOG_WARN("fusion engine: out of memory caching '%s'",
                        op->name);
            free(fu->slots[s].name);
            fu->slots[s].name = NULL;
            fu->slots[s].poisoned = 1;
            return;
        }
    }
    fu->slots[s].prm = op->prm;
    fu->slots[s].bytes = op->bytes;
    fu->slots[s].last_use = ++fu->use_clock;
}

void rz_fu_entry_free(void *val)
{
    rz_fu_entry_t *e = val;

    if (e == NULL) {
        return;
    }
    free(e->reported);
    free(e->prm);
    free(e);
}

void rz_fu_coord_cleanup(rz_fusion_t *fu)
{
    for (int i = 0; i < fu->nslots; i++) {
        free(fu->slots[i].name);
    }
    free(fu->slots);
    fu->slots = NULL;
    fu->nslots = 0;
    rz_fu_map_clear(&fu->cache, NULL);
    rz_fu_map_clear(&fu->table, rz_fu_entry_free);
    rz_fu_map_clear(&fu->warned, free);
    free(fu->vec);
    fu->vec = NULL;
}

/* ------------------------------------------------------------ cycle */

/* Interval between two censuses while something is old. */
static uint64_t rz_fu_census_interval(const rz_fusion_t *fu)
{
    double w = fu->cfg.stall_warning_s, t = fu->cfg.stall_timeout_s;
    double m = w > 0 && t > 0 ? RZ_MIN(w, t) : RZ_MAX(w, t);

    return (uint64_t)(RZ_MIN(RZ_MAX(m / 4, 0.05), 1.0) * 1e9);
}

rz_status_t rz_fu_cycle(rz_fusion_t *fu, int stopping)
{
    int ns = fu->nslots, have_new = 0, old = 0;
    size_t vlen = RZ_FU_NFLAGS + 2 * (size_t)ns;
    uint64_t t0 = rz_time_ns(), stall_ns;
    double w = fu->cfg.stall_warning_s, t = fu->cfg.stall_timeout_s;
    rz_status_t status;
    uint8_t *v, *res;

    stall_ns = (uint64_t)((w > 0 && t > 0 ? RZ_MIN(w, t) : RZ_MAX(w, t)) *
                          1e9);
    if (fu->vec_cap < 2 * vlen) {
        uint8_t *p = realloc(fu->vec, 2 * vlen);
        if (p == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        fu->vec = p;
        fu->vec_cap = 2 * vlen;
    }
    v = fu->vec;
    res = v + vlen;
    memset(v, 1, vlen);
    memset(v + RZ_FU_NFLAGS, 0, (size_t)ns);
    for (int s = 0; s < ns; s++) {
        if (fu->slots[s].poisoned) {
            v[RZ_FU_NFLAGS + ns + s] = 0;
        }
    }
    for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
        if (stall_ns > 0 && t0 - op->t_enqueue >= stall_ns) {
            old = 1;
        }
        if (op->reported) {
            continue;
        }
        op->cache_slot = -1;
        uintptr_t idx = (uintptr_t)rz_fu_map_get(&fu->cache, op->name);
        if (idx != 0) {
            int s = (int)idx - 1;
            if (rz_fu_prm_equal(&fu->slots[s].prm, &op->prm)) {
                op->cache_slot = s;
                v[RZ_FU_NFLAGS + s] = 1;
            } else {
                v[RZ_FU_NFLAGS + ns + s] = 0; /* evict it everywhere */
            }
        }
        have_new |= op->cache_slot < 0;
    }
    v[RZ_FU_F_NO_NEW] = !have_new;
    v[RZ_FU_F_NO_STOP] = !stopping;
    v[RZ_FU_F_NO_CENSUS] = !(old && t0 - fu->last_census >=
                                        rz_fu_census_interval(fu));
    /* Control messages block at once instead of spinning: the cycle must
     * not eat the cores the ranks train on. */
    long spin = fu->comm->spin_us;
    fu->comm->spin_us = 0;
    status = rz_allreduce(v, res, vlen, RZ_DTYPE_U8, RZ_OP_MIN, fu->comm);
    fu->comm->spin_us = spin;
    pthread_mutex_lock(&fu->lock);
    fu->stats.negotiation_s += (double)(rz_time_ns() - t0) / 1e9;
    pthread_mutex_unlock(&fu->lock);
    if (status != RZ_OK) {
        return status;
    }
    if (!res[RZ_FU_F_NO_STOP]) {
        RZ_LOG_INFO("fusion engine: %s", stopping ? "shutting down" :
                    "another rank shut the engine down (rz_fusion_destroy)");
        if (!stopping && fu->pend != NULL) {
            RZ_LOG_WARN("fusion engine: another rank called "
                        "rz_fusion_destroy(); tensors still pending here "
                        "(e.g. '%s') fail with RZ_ERR_ABORTED",
                        fu->pend->name);
        }
        return RZ_ERR_ABORTED;
    }

    /* Slots some rank invalidated. */
    for (int s = 0; s < ns; s++) {
        if (!res[RZ_FU_NFLAGS + ns + s]) {
            rz_fu_cache_evict(fu, s);
        }
    }
    /* Cache hits ready everywhere, in slot order. */
    if (ns > 0) {
        rz_fu_op_t **hits = calloc((size_t)ns, sizeof(*hits));
        int n = 0;
        if (hits == NULL) {
            return RZ_ERR_NO_MEMORY;
        }
        for (rz_fu_op_t *op = fu->pend; op != NULL; op = op->next) {
            if (op->cache_slot >= 0 && res[RZ_FU_NFLAGS + op->cache_slot]) {
                hits[op->cache_slot] = op;
            }
        }
        for (int s = 0; s < ns; s++) {
            if (hits[s] != NULL) {
                hits[n++] = hits[s];
                fu->slots[s].last_use = ++fu->use_clock;
            }
        }
        if (n > 0) {
            fu->busy = 1;
            pthread_mutex_lock(&fu->lock);
            fu->stats.cache_hits += (uint64_t)n;
            pthread_mutex_unlock(&fu->lock);
            status = rz_fu_schedule(fu, hits, n);
        }
        free(hits);
        if (status != RZ_OK) {
            return status;
        }
    }
    if (!res[RZ_FU_F_NO_NEW] || !res[RZ_FU_F_NO_CENSUS]) {
        if (!res[RZ_FU_F_NO_CENSUS]) {
            fu->last_census = t0;
        }
        fu->busy = 1;
        status = rz_fu_negotiate(fu, !res[RZ_FU_F_NO_CENSUS]);
    }
    return status;
}
