/*
 * The fusion engine's API (include/ringzip/fusion.h): configuration,
 * creation and shutdown, enqueue/test/wait/flush, and the background
 * thread that runs one cycle (rz_fusion_coord.c) every cycle time.
 */
#include "fusion/rz_fusion_int.h"

#include "core/rz_comm.h"
#include "util/rz_compiler.h"
#include "util/rz_config.h"
#include "util/rz_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

RZ_EXPORT void rz_fusion_config_init(rz_fusion_config_t *cfg)
{
    const rz_config_t *g = rz_config_global();

    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    cfg->cycle_time_ms = g->cycle_time_ms;
    cfg->fusion_threshold = (size_t)g->fusion_threshold;
    cfg->cache_capacity = (int)g->cache_capacity;
    cfg->stall_warning_s = g->stall_warning_s;
    cfg->stall_timeout_s = g->stall_timeout_s;
    cfg->timeline = g->timeline[0] != '\0' ? g->timeline : NULL;
}

RZ_EXPORT void rz_fusion_compression_init(rz_fusion_compression_t *comp)
{
    if (comp == NULL) {
        return;
    }
    memset(comp, 0, sizeof(*comp));
    comp->struct_size = sizeof(*comp);
    rz_ef_config_init(&comp->ef);
}

/* ------------------------------------------------------------ handles */

static void rz_fu_op_release(rz_fu_op_t *op)
{
    if (atomic_fetch_sub_explicit(&op->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    free(op->name);
    free(op->wspec);
    free(op->sspec);
    free(op);
}

/* Under fu->lock: unlink from the active list and name map. */
static void rz_fu_unlink_active(rz_fusion_t *fu, rz_fu_op_t *op)
{
    if (op->aprev != NULL) {
        op->aprev->anext = op->anext;
    } else {
        fu->act_head = op->anext;
    }
    if (op->anext != NULL) {
        op->anext->aprev = op->aprev;
    } else {
        fu->act_tail = op->aprev;
    }
    op->anext = op->aprev = NULL;
    if (rz_fu_map_get(&fu->active, op->name) == op) {
        rz_fu_map_del(&fu->active, op->name);
    }
}

void rz_fu_complete(rz_fusion_t *fu, rz_fu_op_t *op, rz_status_t status)
{
    pthread_mutex_lock(&fu->lock);
    rz_fu_unlink_active(fu, op);
    op->status = status;
    /* op->fu stays set: a waiter that read done == 0 just before this
     * still locks the engine's mutex (the engine outlives every call). */
    fu->stats.tensors++;
    atomic_store_explicit(&op->done, 1, memory_order_release);
    pthread_cond_broadcast(&fu->done_cond);
    pthread_mutex_unlock(&fu->lock);
    rz_fu_op_release(op);
}

/* ------------------------------------------------------------ thread */

/* Fail every tensor the engine still holds (engine thread, at exit). */
static void rz_fu_fail_all(rz_fusion_t *fu, rz_status_t status)
{
    rz_fu_op_t *op, *next;

    pthread_mutex_lock(&fu->lock);
    fu->error = status;
    fu->stopped = 1;
    /* The queue joins the pending list: no enqueue gets in any more. */
    if (fu->in_head != NULL) {
        fu->in_tail->next = fu->pend;
        fu->pend = fu->in_head;
        fu->in_head = fu->in_tail = NULL;
    }
    pthread_mutex_unlock(&fu->lock);
    for (op = fu->pend; op != NULL; op = next) {
        next = op->next;
        pthread_mutex_lock(&fu->lock);
        fu->first_failed = RZ_MIN(fu->first_failed, op->seq);
        pthread_mutex_unlock(&fu->lock);
        rz_fu_complete(fu, op, status);
    }
    fu->pend = NULL;
}

/* An idle engine backs off: after RZ_FU_IDLE_CYCLES cycles in which this
 * rank held nothing, the period doubles each cycle up to RZ_FU_DOZE_NS;
 * the first enqueue wakes the thread, which then runs its next cycle one
 * cycle time later. A busy engine runs every cycle time. (Every cycle is a collective: an idle engine on every rank
 * would otherwise cost each rank an allreduce per millisecond.) */
#define RZ_FU_IDLE_CYCLES 20
#define RZ_FU_DOZE_NS     20000000ull

static void *rz_fu_thread(void *arg)
{
    rz_fusion_t *fu = arg;
    uint64_t next = rz_time_ns(), period = fu->cycle_ns;
    rz_status_t status;

    rz_log_set_rank(fu->rank);
    for (;;) {
        int stopping;
        struct timespec ts;

        pthread_mutex_lock(&fu->lock);
        fu->dozing = period > fu->cycle_ns;
        for (;;) {
            /* One clock reading: a second one could pass @next and make
             * the time left wrap around. */
            uint64_t now = rz_time_ns();
            if (fu->stop || now >= next) {
                break;
            }
            if (fu->dozing && fu->in_head != NULL) {
                /* Woken from a back-off by the first tensor of a burst:
                 * one ordinary cycle from now, so that the rest of the
                 * burst (a backward pass) joins it in the same cycle. */
                fu->dozing = 0;
                period = fu->cycle_ns;
                fu->idle_cycles = 0;
                next = RZ_MIN(next, now + fu->cycle_ns);
                continue;
            }
            /* The deadline on the condition's clock (CLOCK_MONOTONIC,
             * which rz_time_ns() reads). */
            ts.tv_sec = (time_t)(next / 1000000000ull);
            ts.tv_nsec = (long)(next % 1000000000ull);
            pthread_cond_timedwait(&fu->wake, &fu->lock, &ts);
        }
        fu->dozing = 0;
        stopping = fu->stop;
        /* Take the queue, in enqueue order, behind what is pending. */
        if (fu->in_head != NULL) {
            rz_fu_op_t **tail = &fu->pend;
            while (*tail != NULL) {
                tail = &(*tail)->next;
            }
            *tail = fu->in_head;
            fu->in_head = fu->in_tail = NULL;
        }
        fu->stats.cycles++;
        pthread_mutex_unlock(&fu->lock);

        uint64_t start = rz_time_ns();
        fu->busy = fu->pend != NULL;
        status = rz_fu_cycle(fu, stopping);
        if (status != RZ_OK) {
            break;
        }
        if (fu->busy || fu->pend != NULL) {
            fu->idle_cycles = 0;
            period = fu->cycle_ns;
        } else if (++fu->idle_cycles > RZ_FU_IDLE_CYCLES) {
            period = RZ_MIN(period * 2, RZ_FU_MAX(fu->cycle_ns,
                                                  RZ_FU_DOZE_NS));
        }
        next = RZ_FU_MAX(start + period, next + period);
        if (next > rz_time_ns() + period) {
            next = rz_time_ns() + period;
        }
    }
    if (status == RZ_ERR_ABORTED) {
        RZ_LOG_INFO("fusion engine: shut down");
    } else {
        /* A local failure (out of memory, malformed responses): make sure
         * the other ranks' engines stop too instead of waiting for us. */
        if (fu->comm->error == RZ_OK) {
            rz_comm_abort(fu->comm, status);
        }
        RZ_LOG_ERROR("fusion engine: stopped by an error: %s; pending "
                     "tensors fail with it", rz_status_string(status));
    }
    rz_fu_fail_all(fu, status);
    return NULL;
}

/* ------------------------------------------------------------ create */

static rz_status_t rz_fu_check_config(const rz_fusion_config_t *cfg)
{
    if (cfg->struct_size < sizeof(*cfg)) {
        RZ_LOG_ERROR("rz_fusion_create: config struct_size %zu, expected "
                     "%zu (initialise it with rz_fusion_config_init())",
                     cfg->struct_size, sizeof(*cfg));
        return RZ_ERR_INVALID_PARAM;
    }
    if (!(cfg->cycle_time_ms > 0) || cfg->cycle_time_ms > 1e6 ||
        cfg->cache_capacity < 0 || cfg->cache_capacity > (1 << 20) ||
        !(cfg->stall_warning_s >= 0) || !(cfg->stall_timeout_s >= 0)) {
        RZ_LOG_ERROR("rz_fusion_create: invalid settings (cycle_time_ms "
                     "%g must be in (0, 1e6], cache_capacity %d in [0, "
                     "2^20], stall times %g and %g >= 0)", cfg->cycle_time_ms,
                     cfg->cache_capacity, cfg->stall_warning_s,
                     cfg->stall_timeout_s);
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

static void rz_fu_free(rz_fusion_t *fu)
{
    rz_fu_coord_cleanup(fu);
    rz_fu_exec_cleanup(fu);
    rz_fu_timeline_close(fu);
    rz_fu_map_clear(&fu->active, NULL);
    rz_comm_destroy(fu->comm);
    free((char *)fu->cfg.timeline);
    pthread_mutex_destroy(&fu->lock);
    pthread_cond_destroy(&fu->wake);
    pthread_cond_destroy(&fu->done_cond);
    fu->magic = 0;
    free(fu);
}

RZ_EXPORT rz_status_t rz_fusion_create(rz_comm_h comm,
                                       const rz_fusion_config_t *cfg,
                                       rz_fusion_h *fu_p)
{
    rz_fusion_config_t dflt;
    rz_fusion_t *fu;
    rz_status_t status;
    pthread_condattr_t ca;

    if (fu_p == NULL) {
        RZ_LOG_ERROR("rz_fusion_create: NULL engine pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    if (cfg == NULL) {
        rz_fusion_config_init(&dflt);
        cfg = &dflt;
    }
    RZ_CHECK_GOTO(rz_fu_check_config(cfg), err, status);
    fu = calloc(1, sizeof(*fu));
    if (fu == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto err;
    }
    fu->cfg = *cfg;
    fu->cfg.struct_size = sizeof(fu->cfg);
    fu->cfg.timeline = NULL;
    if (cfg->timeline != NULL && cfg->timeline[0] != '\0' &&
        (fu->cfg.timeline = strdup(cfg->timeline)) == NULL) {
        free(fu);
        status = RZ_ERR_NO_MEMORY;
        goto err;
    }
    fu->cycle_ns = (uint64_t)(cfg->cycle_time_ms * 1e6);
    fu->t0 = rz_time_ns();
    fu->first_failed = UINT64_MAX;
    pthread_mutex_init(&fu->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fu->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&fu->done_cond, NULL);
    fu->magic = RZ_FUSION_MAGIC;

    status = rz_comm_dup(comm, &fu->comm);
    if (status != RZ_OK) {
        RZ_LOG_ERROR("rz_fusion_create: cannot duplicate the communicator: "
                     "%s", rz_status_string(status));
        goto err_free;
    }
    rz_comm_rank(fu->comm, &fu->rank);
    rz_comm_size(fu->comm, &fu->nranks);
    if (cfg->cache_capacity > 0) {
        fu->slots = calloc((size_t)cfg->cache_capacity, sizeof(*fu->slots));
        if (fu->slots == NULL) {
            status = RZ_ERR_NO_MEMORY;
            goto err_free;
        }
    }
    /* Every rank learns whether every other could open its timeline, so
     * that all fail together instead of leaving the others' thread
     * cycling alone. */
    uint8_t ok = rz_fu_timeline_open(fu) == RZ_OK, all_ok = 0;
    status = rz_allreduce(&ok, &all_ok, 1, RZ_DTYPE_U8, RZ_OP_MIN, fu->comm);
    if (status == RZ_OK && !all_ok) {
        RZ_LOG_ERROR("rz_fusion_create: %s", ok ? "another rank could not "
                     "open its timeline file" : "cannot open the timeline "
                     "file");
        status = RZ_ERR_IO;
    }
    if (status != RZ_OK) {
        goto err_free;
    }
    if (pthread_create(&fu->thread, NULL, rz_fu_thread, fu) != 0) {
        RZ_LOG_ERROR("rz_fusion_create: cannot start the engine thread: %s",
                     strerror(errno));
        status = RZ_ERR_IO;
        goto err_free;
    }
    fu->thread_started = 1;
    RZ_LOG_INFO("fusion engine: rank %d of %d, cycle %g ms, threshold %zu "
                "bytes, cache %d, stall warning %g s, timeout %g s%s%s",
                fu->rank, fu->nranks, cfg->cycle_time_ms,
                cfg->fusion_threshold, cfg->cache_capacity,
                cfg->stall_warning_s, cfg->stall_timeout_s,
                fu->tl != NULL ? ", timeline " : "",
                fu->tl != NULL ? fu->cfg.timeline : "");
    *fu_p = fu;
    return RZ_OK;

err_free:
    rz_fu_free(fu);
err:
    return status;
}

static rz_status_t rz_fu_check(rz_fusion_t *fu, const char *what)
{
    if (fu == NULL || fu->magic != RZ_FUSION_MAGIC) {
        RZ_LOG_ERROR("%s: %s is not a fusion engine", what,
                     fu == NULL ? "NULL" : "the handle");
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_fusion_destroy(rz_fusion_h fu)
{
    if (fu == NULL) {
        return RZ_OK;
    }
    if (rz_fu_check(fu, "rz_fusion_destroy") != RZ_OK) {
        return RZ_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&fu->lock);
    fu->stop = 1;
    pthread_cond_signal(&fu->wake);
    pthread_mutex_unlock(&fu->lock);
    if (fu->thread_started) {
        pthread_join(fu->thread, NULL);
    }
    rz_fu_free(fu);
    return RZ_OK;
}

/* ------------------------------------------------------------ enqueue */

static uint64_t rz_fu_comp_sig(const rz_fusion_compression_t *c,
                               const char *wspec, const char *sspec)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const rz_ef_config_t *e = &c->ef;
    int32_t ints[5] = {(int32_t)e->method, (int32_t)e->topology,
                       e->server_rank, e->chunk_aligned, 0x5a5a};
    uint64_t longs[3] = {e->seed, e->err_avg_period, e->model_avg_period};

    h = rz_fu_hash(h, ints, sizeof(ints));
    h = rz_fu_hash(h, longs, sizeof(longs));
    h = rz_fu_hash(h, wspec, strlen(wspec) + 1);
    h = rz_fu_hash(h, sspec, strlen(sspec) + 1);
    return h == 0 ? 1 : h;
}

static rz_status_t rz_fu_check_comp(const rz_fusion_t *fu,
                                    const rz_fusion_compression_t *c,
                                    rz_dtype_t dtype, rz_op_t op,
                                    const char *name)
{
    const rz_ef_config_t *e = &c->ef;

    if (c->struct_size < sizeof(*c) || e->struct_size < sizeof(*e)) {
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): compression "
                     "struct_size not set (use rz_fusion_compression_init())",
                     name);
        return RZ_ERR_INVALID_PARAM;
    }
    if (dtype != RZ_DTYPE_F32 || op != RZ_OP_AVG) {
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): compression needs "
                     "dtype f32 and op avg (got %s, %s)", name,
                     rz_dtype_name(dtype), rz_op_name(op));
        return RZ_ERR_NOT_SUPPORTED;
    }
    if ((unsigned)e->method > RZ_EF_METHOD_LIEC ||
        (unsigned)e->topology > RZ_EF_TOPO_RING_EXACT) {
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): unknown method %d "
                     "or topology %d", name, (int)e->method, (int)e->topology);
        return RZ_ERR_INVALID_PARAM;
    }
    if (e->topology == RZ_EF_TOPO_SINGLE &&
        (e->server_rank < 0 || e->server_rank >= fu->nranks)) {
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): server rank %d "
                     "outside 0 .. %d", name, e->server_rank, fu->nranks - 1);
        return RZ_ERR_INVALID_PARAM;
    }
    if (e->method == RZ_EF_METHOD_LIEC && e->model_avg_period > 0 &&
        c->liec_model == NULL) {
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): LIEC with model "
                     "averaging (H = %u) needs liec_model, the rank's copy "
                     "of the parameters", name, e->model_avg_period);
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

static rz_status_t rz_fu_check_enqueue(rz_fusion_t *fu, const char *name,
                                       const void *sbuf, void *rbuf,
                                       size_t count, rz_dtype_t dtype,
                                       rz_op_t op,
                                       rz_fusion_handle_h *handle_p)
{
    static const char *what = "rz_fusion_enqueue_allreduce";
    size_t len, esize = rz_dtype_size(dtype);

    if (rz_fu_check(fu, what) != RZ_OK) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (handle_p == NULL || name == NULL) {
        RZ_LOG_ERROR("%s: NULL %s", what, name == NULL ? "name" : "handle "
                     "pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    len = strnlen(name, RZ_FUSION_NAME_MAX + 1);
    if (len == 0 || len > RZ_FUSION_NAME_MAX) {
        RZ_LOG_ERROR("%s: the tensor name is %s (1 to %d bytes)", what,
                     len == 0 ? "empty" : "too long", RZ_FUSION_NAME_MAX);
        return RZ_ERR_INVALID_PARAM;
    }
    if (esize == 0 || (unsigned)op >= (unsigned)RZ_OP_LAST) {
        RZ_LOG_ERROR("%s('%s'): invalid dtype %d or op %d", what, name,
                     (int)dtype, (int)op);
        return RZ_ERR_INVALID_PARAM;
    }
    if (op == RZ_OP_AVG && dtype != RZ_DTYPE_F32 && dtype != RZ_DTYPE_F64 &&
        dtype != RZ_DTYPE_F16 && dtype != RZ_DTYPE_BF16) {
        RZ_LOG_ERROR("%s('%s'): op avg on integer type %s", what, name,
                     rz_dtype_name(dtype));
        return RZ_ERR_NOT_SUPPORTED;
    }
    if (count == 0 || count > SIZE_MAX / 2 / esize) {
        RZ_LOG_ERROR("%s('%s'): count %zu is %s", what, name, count,
                     count == 0 ? "zero" : "too large");
        return RZ_ERR_INVALID_PARAM;
    }
    if (sbuf == NULL || rbuf == NULL) {
        RZ_LOG_ERROR("%s('%s'): NULL %s buffer", what, name,
                     sbuf == NULL ? "send" : "receive");
        return RZ_ERR_INVALID_PARAM;
    }
    /* In place is spelled as equal pointers; any other overlap would be
     * corrupted (rz_allreduce refuses it too). */
    const char *s = sbuf, *r = rbuf;
    size_t bytes = count * esize;
    if (s != r && s < r + bytes && r < s + bytes) {
        RZ_LOG_ERROR("%s('%s'): send and receive buffers overlap without "
                     "being the same", what, name);
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_fusion_enqueue_allreduce(
    rz_fusion_h fu, const char *name, const void *sendbuf, void *recvbuf,
    size_t count, rz_dtype_t dtype, rz_op_t op,
    const rz_fusion_compression_t *comp, rz_fusion_handle_h *handle_p)
{
    rz_status_t status;
    rz_fu_op_t *o;

    RZ_CHECK_GOTO(rz_fu_check_enqueue(fu, name, sendbuf, recvbuf, count,
                                      dtype, op, handle_p), err, status);
    if (comp != NULL) {
        RZ_CHECK_GOTO(rz_fu_check_comp(fu, comp, dtype, op, name), err,
                      status);
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL || (o->name = strdup(name)) == NULL) {
        free(o);
        status = RZ_ERR_NO_MEMORY;
        goto err;
    }
    o->name_len = strlen(name);
    o->sbuf = sendbuf;
    o->rbuf = recvbuf;
    o->prm.count = count;
    o->prm.dtype = (uint8_t)dtype;
    o->prm.op = (uint8_t)op;
    o->bytes = count * rz_dtype_size(dtype);
    o->cache_slot = -1;
    o->t_enqueue = rz_time_ns();
    atomic_init(&o->done, 0);
    atomic_init(&o->refs, 2);
    if (comp != NULL) {
        const char *w = comp->ef.worker_compressor;
        const char *s = comp->ef.server_compressor;
        o->compressed = 1;
        o->comp = *comp;
        o->wspec = strdup(w != NULL ? w : "none");
        o->sspec = strdup(s != NULL ? s : "none");
        if (o->wspec == NULL || o->sspec == NULL) {
            o->refs = 1;
            rz_fu_op_release(o);
            status = RZ_ERR_NO_MEMORY;
            goto err;
        }
        o->comp.ef.worker_compressor = o->wspec;
        o->comp.ef.server_compressor = o->sspec;
        /* The caller owns the optimiser: these do not reach the context. */
        o->comp.ef.momentum = 0.0f;
        o->comp.ef.weight_decay = 0.0f;
        o->prm.comp_sig = rz_fu_comp_sig(comp, o->wspec, o->sspec);
    }

    pthread_mutex_lock(&fu->lock);
    if (fu->stopped || fu->stop) {
        status = fu->stopped ? fu->error : RZ_ERR_ABORTED;
        pthread_mutex_unlock(&fu->lock);
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): the engine has "
                     "stopped: %s", name, rz_status_string(status));
        goto err_op;
    }
    if (rz_fu_map_get(&fu->active, name) != NULL) {
        pthread_mutex_unlock(&fu->lock);
        RZ_LOG_ERROR("rz_fusion_enqueue_allreduce('%s'): a tensor of that "
                     "name is already pending on this rank", name);
        status = RZ_ERR_INVALID_PARAM;
        goto err_op;
    }
    if (rz_fu_map_put(&fu->active, name, o) != RZ_OK) {
        pthread_mutex_unlock(&fu->lock);
        status = RZ_ERR_NO_MEMORY;
        goto err_op;
    }
    o->fu = fu;
    o->seq = fu->next_seq++;
    o->aprev = fu->act_tail;
    if (fu->act_tail != NULL) {
        fu->act_tail->anext = o;
    } else {
        fu->act_head = o;
    }
    fu->act_tail = o;
    if (fu->in_tail != NULL) {
        fu->in_tail->next = o;
    } else {
        fu->in_head = o;
    }
    fu->in_tail = o;
    if (fu->dozing) {
        pthread_cond_signal(&fu->wake);
    }
    pthread_mutex_unlock(&fu->lock);
    *handle_p = o;
    return RZ_OK;

err_op:
    o->refs = 1;
    rz_fu_op_release(o);
err:
    return status;
}

/* ------------------------------------------------------------ waiting */

RZ_EXPORT rz_status_t rz_fusion_test(rz_fusion_handle_h *handle_p,
                                     int *done_p)
{
    rz_fu_op_t *op;
    rz_status_t status;

    if (handle_p == NULL || *handle_p == NULL || done_p == NULL) {
        RZ_LOG_ERROR("rz_fusion_test: NULL handle or done pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    op = *handle_p;
    if (!atomic_load_explicit(&op->done, memory_order_acquire)) {
        *done_p = 0;
        return RZ_INPROGRESS;
    }
    *done_p = 1;
    status = op->status;
    *handle_p = NULL;
    rz_fu_op_release(op);
    return status;
}

RZ_EXPORT rz_status_t rz_fusion_wait(rz_fusion_handle_h *handle_p)
{
    rz_fu_op_t *op;
    rz_status_t status;

    if (handle_p == NULL || *handle_p == NULL) {
        RZ_LOG_ERROR("rz_fusion_wait: NULL handle");
        return RZ_ERR_INVALID_PARAM;
    }
    op = *handle_p;
    if (!atomic_load_explicit(&op->done, memory_order_acquire)) {
        /* Not done: the engine is alive (destroy completes every tensor
         * before it frees the engine). */
        rz_fusion_t *fu = op->fu;
        pthread_mutex_lock(&fu->lock);
        while (!atomic_load_explicit(&op->done, memory_order_acquire)) {
            pthread_cond_wait(&fu->done_cond, &fu->lock);
        }
        pthread_mutex_unlock(&fu->lock);
    }
    status = op->status;
    *handle_p = NULL;
    rz_fu_op_release(op);
    return status;
}

RZ_EXPORT rz_status_t rz_fusion_flush(rz_fusion_h fu)
{
    rz_status_t status;
    uint64_t target;

    if (rz_fu_check(fu, "rz_fusion_flush") != RZ_OK) {
        return RZ_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&fu->lock);
    target = fu->next_seq;
    while (fu->act_head != NULL && fu->act_head->seq < target) {
        pthread_cond_wait(&fu->done_cond, &fu->lock);
    }
    /* Tensors that completed before the engine stopped carry their own
     * status; the stop matters only if it failed some of ours. */
    status = fu->stopped && fu->first_failed < target ? fu->error : RZ_OK;
    pthread_mutex_unlock(&fu->lock);
    return status;
}

RZ_EXPORT rz_status_t rz_fusion_get_stats(rz_fusion_h fu,
                                          rz_fusion_stats_t *stats)
{
    if (rz_fu_check(fu, "rz_fusion_get_stats") != RZ_OK || stats == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    pthread_mutex_lock(&fu->lock);
    *stats = fu->stats;
    pthread_mutex_unlock(&fu->lock);
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_fusion_get_ef(rz_fusion_h fu, const char *name,
                                       rz_ef_h *ef_p)
{
    rz_fu_tensor_t *t;

    if (rz_fu_check(fu, "rz_fusion_get_ef") != RZ_OK || name == NULL ||
        ef_p == NULL) {
        return RZ_ERR_INVALID_PARAM;
    }
    /* The map belongs to the engine thread; taking the lock orders this
     * read after its last update of a completed tensor. */
    pthread_mutex_lock(&fu->lock);
    if (rz_fu_map_get(&fu->active, name) != NULL) {
        pthread_mutex_unlock(&fu->lock);
        RZ_LOG_ERROR("rz_fusion_get_ef('%s'): a tensor of that name is "
                     "pending", name);
        return RZ_ERR_INVALID_PARAM;
    }
    t = rz_fu_map_get(&fu->tensors, name);
    *ef_p = t != NULL ? t->ef : NULL;
    pthread_mutex_unlock(&fu->lock);
    return RZ_OK;
}
