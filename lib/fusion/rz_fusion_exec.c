/*
 * Running a fusion group, and the timeline.
 *
 * Uncompressed groups of several tensors are copied into the fusion buffer,
 * reduced by one in-place rz_allreduce and copied out; a group of one
 * tensor is reduced straight from its own buffers. Compressed tensors run
 * one rz_ef context per name (created on first use, after every rank has
 * checked it can open the compressors), so their result never depends on
 * the grouping.
 *
 * The timeline is a Chrome trace: a JSON array of complete ("X") events,
 * one row (tid) per tensor name, named by a thread_name record, one
 * process (pid) per rank, timestamps in microseconds since the engine
 * started.
 */
#include "fusion/rz_fusion_int.h"

#include "collectives/compressed/rz_ef_int.h"
#include "collectives/rz_coll.h"
#include "core/rz_comm.h"
#include "plugin/rz_plugin.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ timeline */

static void rz_fu_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            fprintf(f, "\\%c", ch);
        } else if (ch < 0x20) {
            fprintf(f, "\\u%04x", ch);
        } else {
            fputc(ch, f);
        }
    }
    fputc('"', f);
}

rz_status_t rz_fu_timeline_open(rz_fusion_t *fu)
{
    const char *pat = fu->cfg.timeline;
    char path[4096];
    size_t len = 0;
    int per_rank;

    if (pat == NULL) {
        return RZ_OK;
    }
    per_rank = strstr(pat, "%r") != NULL;
    if (!per_rank && fu->rank != 0) {
        return RZ_OK;
    }
    for (const char *p = pat; *p != '\0' && len + 16 < sizeof(path); p++) {
        if (p[0] == '%' && p[1] == 'r') {
            len += (size_t)snprintf(path + len, sizeof(path) - len, "%d",
                                    fu->rank);
            p++;
        } else {
            path[len++] = *p;
        }
    }
    path[len] = '\0';
    fu->tl = fopen(path, "w");
    if (fu->tl == NULL) {
        RZ_LOG_ERROR("fusion engine: cannot write the timeline '%s': %s",
                     path, strerror(errno));
        return RZ_ERR_IO;
    }
    fprintf(fu->tl, "[\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,"
            "\"tid\":0,\"args\":{\"name\":\"rank %d\"}}", fu->rank, fu->rank);
    return RZ_OK;
}

void rz_fu_timeline_close(rz_fusion_t *fu)
{
    if (fu->tl != NULL) {
        fprintf(fu->tl, "\n]\n");
        fclose(fu->tl);
        fu->tl = NULL;
    }
}

/* The per-name state (timeline row, compression context), created on
 * first use. Under fu->lock: rz_fusion_get_ef() reads the map. */
static rz_fu_tensor_t *rz_fu_tensor(rz_fusion_t *fu, const char *name)
{
    rz_fu_tensor_t *t = rz_fu_map_get(&fu->tensors, name);

    if (t != NULL) {
        return t;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&fu->lock);
    if (rz_fu_map_put(&fu->tensors, name, t) != RZ_OK) {
        free(t);
        t = NULL;
    }
    pthread_mutex_unlock(&fu->lock);
    return t;
}

void rz_fu_timeline_event(rz_fusion_t *fu, const rz_fu_op_t *op,
                          const char *phase, uint64_t start_ns,
                          uint64_t end_ns, const char *args_json)
{
    rz_fu_tensor_t *t;

    if (fu->tl == NULL || (t = rz_fu_tensor(fu, op->name)) == NULL) {
        return;
    }
    if (t->tid == 0) {
        t->tid = ++fu->tl_next_tid;
        fprintf(fu->tl, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,"
                "\"tid\":%d,\"args\":{\"name\":", fu->rank, t->tid);
        rz_fu_json_str(fu->tl, op->name);
        fprintf(fu->tl, "}}");
    }
    if (end_ns < start_ns) {
        end_ns = start_ns;
    }
    fprintf(fu->tl, ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
            "\"ts\":%.3f,\"dur\":%.3f,\"args\":{%s}}", phase, fu->rank,
            t->tid, (double)(start_ns - fu->t0) / 1e3,
            (double)(end_ns - start_ns) / 1e3,
            args_json != NULL ? args_json : "");
}

/* ------------------------------------------------------------ compressed */

/* Is @ok true on every rank? (Collective.) */
static rz_status_t rz_fu_agree(rz_fusion_t *fu, int ok, int *all_ok_p)
{
    uint8_t mine = (uint8_t)(ok != 0), all = 0;
    rz_status_t status = rz_allreduce(&mine, &all, 1, RZ_DTYPE_U8, RZ_OP_MIN,
                                      fu->comm);

    *all_ok_p = status == RZ_OK && all;
    return status;
}

/* Can every rank open the compressors of @op? (Collective.) */
static rz_status_t rz_fu_agree_plugins(rz_fusion_t *fu, const rz_fu_op_t *op,
                                       int *all_ok_p)
{
    rz_plugin_t *pw = NULL, *ps = NULL;
    uint8_t ok, all_ok = 0;
    rz_status_t status;

    ok = rz_plugin_open_spec(op->wspec, &pw) == RZ_OK &&
         rz_plugin_open_spec(op->sspec, &ps) == RZ_OK;
    rz_plugin_close(pw);
    rz_plugin_close(ps);
    status = rz_allreduce(&ok, &all_ok, 1, RZ_DTYPE_U8, RZ_OP_MIN, fu->comm);
    if (status == RZ_OK && !all_ok) {
        RZ_LOG_ERROR("fusion engine: tensor '%s': %s compressors '%s'/'%s'",
                     op->name, ok ? "another rank cannot open the" :
                                    "cannot open the", op->wspec, op->sspec);
    }
    *all_ok_p = all_ok;
    return status;
}

static void rz_fu_add_ef_stats(rz_fusion_t *fu, const rz_ef_stats_t *st)
{
    pthread_mutex_lock(&fu->lock);
    fu->stats.ef_bytes_sent += st->bytes_sent;
    fu->stats.ef_bytes_recv += st->bytes_recv;
    pthread_mutex_unlock(&fu->lock);
}

/* The context of @op's name with @op's settings. Returns a fatal error,
 * or RZ_OK with *t_p NULL when the tensor fails alone (@op completed). */
static rz_status_t rz_fu_context(rz_fusion_t *fu, rz_fu_op_t *op,
                                 rz_fu_tensor_t **t_p)
{
    rz_fu_tensor_t *t = rz_fu_tensor(fu, op->name);
    rz_ef_stats_t st;
    rz_ef_h ef = NULL;
    rz_status_t status;
    int all_ok;

    *t_p = NULL;
    if (t == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    if (t->ef != NULL && t->comp_sig == op->prm.comp_sig &&
        t->count == op->prm.count) {
        *t_p = t;
        return RZ_OK;
    }
    RZ_CHECK_GOTO(rz_fu_agree_plugins(fu, op, &all_ok), out, status);
    if (!all_ok) {
        rz_fu_complete(fu, op, RZ_ERR_PLUGIN);
        return RZ_OK;
    }
    if (t->ef != NULL) {
        RZ_LOG_INFO("fusion engine: tensor '%s' changed its compression or "
                    "size: its error state starts again", op->name);
    }
    status = rz_ef_create(fu->comm, op->prm.count, &op->comp.ef, NULL, NULL,
                          &st, &ef);
    if (fu->comm->error != RZ_OK) {
        status = fu->comm->error;
        return status;
    }
    /* Settings every rank refuses alike fail this tensor only. */
    RZ_CHECK_GOTO(rz_fu_agree(fu, status == RZ_OK, &all_ok), out, status);
    if (!all_ok) {
        rz_ef_destroy(ef);
        rz_fu_complete(fu, op, status != RZ_OK ? status :
                                                 RZ_ERR_INVALID_PARAM);
        return RZ_OK;
    }
    rz_fu_add_ef_stats(fu, &st);
    pthread_mutex_lock(&fu->lock);
    rz_ef_destroy(t->ef);
    t->ef = ef;
    t->comp_sig = op->prm.comp_sig;
    t->count = op->prm.count;
    pthread_mutex_unlock(&fu->lock);
    *t_p = t;
out:
    return status;
}

static rz_status_t rz_fu_exec_compressed(rz_fusion_t *fu, rz_fu_op_t *op)
{
    rz_fu_tensor_t *t;
    rz_ef_stats_t st = {0};
    rz_status_t status;
    uint64_t t0 = rz_time_ns(), t1, enc, wire, dec;
    const float *in = op->sbuf;
    float *out = op->rbuf;
    char args[256];

    RZ_CHECK_GOTO(rz_fu_context(fu, op, &t), err, status);
    if (t == NULL) {
        return RZ_OK;
    }
    t1 = rz_time_ns();
    status = rz_ef_exchange(t->ef, in, out, &st);
    if (status == RZ_ERR_NEED_SYNC) {
        status = rz_ef_liec_sync(t->ef, op->comp.liec_model, in, out, &st);
    }
    if (status != RZ_OK) {
        goto err;
    }
    rz_fu_add_ef_stats(fu, &st);
    /* Counted before the tensor completes (see rz_fu_exec_group()). */
    pthread_mutex_lock(&fu->lock);
    fu->stats.collective_s += (double)(rz_time_ns() - t0) / 1e9;
    pthread_mutex_unlock(&fu->lock);
    if (fu->tl != NULL) {
        uint64_t t2 = rz_time_ns(), at = t1;
        rz_ef_phase_times(t->ef, &enc, &wire, &dec);
        snprintf(args, sizeof(args), "\"method\":\"%s\",\"compressor\":\"%s\","
                 "\"iteration\":%llu,\"bytes_sent\":%llu,\"synced\":%d",
                 rz_ef_method_name(op->comp.ef.method), op->wspec,
                 (unsigned long long)st.iter,
                 (unsigned long long)st.bytes_sent, st.models_averaged);
        rz_fu_timeline_event(fu, op, "QUEUE", op->t_sched, t0, NULL);
        rz_fu_timeline_event(fu, op, "COMPRESSED_ALLREDUCE", t0, t2, args);
        /* The context's time, phase by phase, laid end to end. */
        rz_fu_timeline_event(fu, op, "COMPRESS", at, at + enc, NULL);
        at += enc;
        rz_fu_timeline_event(fu, op, "COMMUNICATE", at, at + wire, NULL);
        at += wire;
        rz_fu_timeline_event(fu, op, "DECOMPRESS", at, at + dec, NULL);
    }
    rz_fu_complete(fu, op, RZ_OK);
    return RZ_OK;

err:
    rz_fu_complete(fu, op, status);
    return status;
}

/* ------------------------------------------------------------ groups */

static rz_status_t rz_fu_fbuf(rz_fusion_t *fu, size_t bytes)
{
    if (bytes <= fu->fbuf_cap) {
        return RZ_OK;
    }
    free(fu->fbuf);
    fu->fbuf = NULL;
    fu->fbuf_cap = 0;
    if (posix_memalign(&fu->fbuf, 64, bytes) != 0) {
        fu->fbuf = NULL;
        RZ_LOG_ERROR("fusion engine: no memory for a %zu-byte fusion buffer",
                     bytes);
        return RZ_ERR_NO_MEMORY;
    }
    fu->fbuf_cap = bytes;
    return RZ_OK;
}

/* Groups at least this large try the copy-free paths. */
#define RZ_FU_DIRECT_MIN 65536
/* In a scattered group, tensors at least this large run alone. */
#define RZ_FU_SOLO_MIN   (1u << 20)

typedef struct {
    const char *addr;
    int         idx;
} rz_fu_addr_t;

static int rz_fu_by_address(const void *a, const void *b)
{
    const char *x = ((const rz_fu_addr_t *)a)->addr;
    const char *y = ((const rz_fu_addr_t *)b)->addr;

    return x < y ? -1 : x > y;
}

/*
 * Tensors back to back in memory (a framework's flat gradient buffer) need
 * no fusion buffer: reduce the span in place. The element order must be
 * the same on every rank, so the ranks agree (one small allreduce) that
 * each of them has its tensors contiguous, inputs and outputs alike, in
 * the same permutation of the group order; then @ops is put in memory
 * order. Collective over the group; returns 1 when the span can be used.
 */
static rz_status_t rz_fu_contiguous(rz_fusion_t *fu, rz_fu_op_t **ops, int n,
                                    int *direct_p)
{
    rz_fu_addr_t *a = malloc(sizeof(*a) * (size_t)n);
    rz_fu_op_t **sorted = malloc(sizeof(*sorted) * (size_t)n);
    uint64_t h = 0, v[2], r[2];
    rz_status_t status;
    int ok = a != NULL && sorted != NULL;

    *direct_p = 0;
    for (int i = 0; ok && i < n; i++) {
        a[i].addr = ops[i]->sbuf;
        a[i].idx = i;
    }
    if (ok) {
        qsort(a, (size_t)n, sizeof(*a), rz_fu_by_address);
        h = 0xcbf29ce484222325ull;
    }
    for (int i = 0; ok && i < n; i++) {
        const rz_fu_op_t *o = ops[a[i].idx];
        sorted[i] = ops[a[i].idx];
        h = rz_fu_hash(h, &a[i].idx, sizeof(a[i].idx));
        if (i > 0) {
            const rz_fu_op_t *p = sorted[i - 1];
            ok = (const char *)p->sbuf + p->bytes == (const char *)o->sbuf &&
                 (char *)p->rbuf + p->bytes == (char *)o->rbuf;
        }
    }
    /* h = 0: not contiguous here. MIN of (h, ~h): all equal and nonzero. */
    h = ok ? (h == 0 ? 1 : h) : 0;
    v[0] = h;
    v[1] = ~h;
    status = rz_allreduce(v, r, 2, RZ_DTYPE_U64, RZ_OP_MIN, fu->comm);
    if (status == RZ_OK && h != 0 && r[0] == h && ~r[1] == h) {
        memcpy(ops, sorted, sizeof(*sorted) * (size_t)n);
        *direct_p = 1;
    }
    free(a);
    free(sorted);
    return status;
}

/* Complete @n ops with @status (an earlier collective failed). */
static rz_status_t rz_fu_fail(rz_fusion_t *fu, rz_fu_op_t **ops, int n,
                              rz_status_t status)
{
    for (int i = 0; i < n; i++) {
        rz_fu_complete(fu, ops[i], status);
    }
    return status;
}

/* Reduce @n uncompressed tensors as one collective and complete them:
 * in their own buffers (one tensor, or @contiguous: one span), over the
 * pieces where they are, or (small sets) through the fusion buffer. */
static rz_status_t rz_fu_reduce(rz_fusion_t *fu, rz_fu_op_t **ops, int n,
                                int contiguous)
{
    rz_dtype_t dtype = (rz_dtype_t)ops[0]->prm.dtype;
    rz_op_t rop = (rz_op_t)ops[0]->prm.op;
    uint64_t t0 = rz_time_ns(), t1 = t0, t2, t3;
    size_t total = 0, count = 0, off;
    rz_status_t status = RZ_OK;
    int n_direct = contiguous;
    char args[160];

    for (int i = 0; i < n; i++) {
        total += ops[i]->bytes;
        count += ops[i]->prm.count;
    }
    if (n == 1 || n_direct) {
        /* One tensor, or tensors back to back in memory (a framework's flat
         * gradient buffer): reduce in place, no copies. */
        status = rz_allreduce(ops[0]->sbuf, ops[0]->rbuf, count, dtype, rop,
                              fu->comm);
        t2 = t3 = rz_time_ns();
        n_direct = 1;
    } else if (total >= RZ_FU_DIRECT_MIN) {
        /* Scattered tensors: the ring's messages gather from and scatter
         * into them; no fusion buffer either. */
        rz_piece_t *pc = malloc(sizeof(*pc) * (size_t)n);
        if (pc == NULL) {
            status = RZ_ERR_NO_MEMORY;
            rz_comm_abort(fu->comm, status);
            goto done;
        }
        for (int i = 0; i < n; i++) {
            pc[i].sbuf = ops[i]->sbuf;
            pc[i].rbuf = ops[i]->rbuf;
            pc[i].count = ops[i]->prm.count;
        }
        status = rz_allreduce_pieces(fu->comm, pc, n, dtype, rop);
        free(pc);
        t2 = t3 = rz_time_ns();
        n_direct = 1;
    } else {
        status = rz_fu_fbuf(fu, total);
        if (status != RZ_OK) {
            rz_comm_abort(fu->comm, status);
            goto done;
        }
        off = 0;
        for (int i = 0; i < n; i++) {
            memcpy((char *)fu->fbuf + off, ops[i]->sbuf, ops[i]->bytes);
            off += ops[i]->bytes;
        }
        t1 = rz_time_ns();
        status = rz_allreduce(fu->fbuf, fu->fbuf, count, dtype, rop, fu->comm);
        t2 = rz_time_ns();
        if (status == RZ_OK) {
            off = 0;
            for (int i = 0; i < n; i++) {
                memcpy(ops[i]->rbuf, (char *)fu->fbuf + off, ops[i]->bytes);
                off += ops[i]->bytes;
            }
        }
        t3 = rz_time_ns();
    }
    if (fu->tl != NULL) {
        snprintf(args, sizeof(args), "\"group_tensors\":%d,\"group_bytes\":"
                 "%zu,\"copies\":%d", n, total, n_direct == 0);
        for (int i = 0; i < n; i++) {
            rz_fu_timeline_event(fu, ops[i], "QUEUE", ops[i]->t_sched, t0,
                                 NULL);
            if (n_direct == 0) {
                rz_fu_timeline_event(fu, ops[i], "MEMCPY_IN_FUSION_BUFFER", t0,
                                     t1, NULL);
            }
            rz_fu_timeline_event(fu, ops[i], "ALLREDUCE", t1, t2, args);
            if (n_direct == 0) {
                rz_fu_timeline_event(fu, ops[i], "MEMCPY_OUT_FUSION_BUFFER",
                                     t2, t3, NULL);
            }
        }
    }
done:
    if (status != RZ_OK) {
        RZ_LOG_ERROR("fusion engine: the allreduce of %d tensor%s ('%s'%s, "
                     "%zu bytes) failed: %s", n, n > 1 ? "s" : "",
                     ops[0]->name, n > 1 ? ", ..." : "", total,
                     rz_status_string(status));
    }
    pthread_mutex_lock(&fu->lock);
    fu->stats.collective_s += (double)(rz_time_ns() - t0) / 1e9;
    pthread_mutex_unlock(&fu->lock);
    for (int i = 0; i < n; i++) {
        rz_fu_complete(fu, ops[i], status);
    }
    return status;
}


rz_status_t rz_fu_exec_group(rz_fusion_t *fu, rz_fu_op_t **ops, int n)
{
    size_t total = 0;
    rz_status_t status = RZ_OK;
    int contiguous = 0, m = 0;

    for (int i = 0; i < n; i++) {
        total += ops[i]->bytes;
        rz_fu_timeline_event(fu, ops[i], "NEGOTIATE", ops[i]->t_enqueue,
                             ops[i]->t_sched, NULL);
    }
    /* Counted before the tensors complete, so that a caller that has
     * waited for them reads counters that include them. */
    pthread_mutex_lock(&fu->lock);
    fu->stats.groups++;
    fu->stats.fused_tensors += n > 1 ? (uint64_t)n : 0;
    fu->stats.payload_bytes += total;
    pthread_mutex_unlock(&fu->lock);
    if (ops[0]->compressed) {
        for (int i = 0; i < n; i++) {
            if (status == RZ_OK) {
                status = rz_fu_exec_compressed(fu, ops[i]);
            } else {
                rz_fu_complete(fu, ops[i], status);
            }
        }
        return status;
    }
    if (n == 1 || total < RZ_FU_DIRECT_MIN) {
        return rz_fu_reduce(fu, ops, n, 0);
    }
    status = rz_fu_contiguous(fu, ops, n, &contiguous);
    if (status != RZ_OK || contiguous) {
        return status != RZ_OK ? rz_fu_fail(fu, ops, n, status)
                               : rz_fu_reduce(fu, ops, n, 1);
    }
    /* Scattered: big tensors gain nothing from fusion (their own
     * collective's latency is small beside their bytes) and move fastest
     * in their own buffers; the small ones go together. Every rank splits
     * alike: the sizes are the same everywhere. */
    for (int i = 0; i < n; i++) {
        if (ops[i]->bytes < RZ_FU_SOLO_MIN) {
            ops[m++] = ops[i];
        } else if (status == RZ_OK) {
            status = rz_fu_reduce(fu, &ops[i], 1, 0);
        } else {
            rz_fu_complete(fu, ops[i], status);
        }
    }
    if (m > 0) {
        status = status == RZ_OK ? rz_fu_reduce(fu, ops, m, 0)
                                 : rz_fu_fail(fu, ops, m, status);
    }
    return status;
}

static void rz_fu_tensor_free(void *val)
{
    rz_fu_tensor_t *t = val;

    rz_ef_destroy(t->ef);
    free(t);
}

void rz_fu_exec_cleanup(rz_fusion_t *fu)
{
    rz_fu_map_clear(&fu->tensors, rz_fu_tensor_free);
    free(fu->fbuf);
    fu->fbuf = NULL;
    fu->fbuf_cap = 0;
}
