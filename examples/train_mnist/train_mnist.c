/*
 * train_mnist: data-parallel training of an MLP 784-256-128-10 on
 * Fashion-MNIST, gradients exchanged through ringzip's fusion engine with
 * error-compensated compression (EF, SAEF, LIEC) or without (P-SGD).
 *
 *   rzrun -np 4 train_mnist --method saef --compressor sign --momentum 0.9
 *
 * Every rank starts from the same seed-derived weights and takes its share
 * of each global batch (K x --batch samples). The six parameter tensors
 * are enqueued by name every step, each with its own compression context,
 * and the optimiser follows ALGORITHMS.md section 2 (see --help and
 * docs/REPRODUCTION.md).
 */
#include "mlp.h"
#include "mnist.h"
#include "options.h"

#include <ringzip/ringzip.h>

#include <cblas.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------- helpers */

static int g_rank = -1;

static void errmsg(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "train_mnist rank %d: ", g_rank);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* --------------------------------------------------------- training */

typedef struct {
    opts_t             o;
    rz_comm_h          comm;
    int                rank, nranks;
    rz_fusion_h        fu;
    rz_fusion_compression_t comp;
    mnist_set_t        train, test;
    mlp_work_t         w;
    size_t             d;
    float             *x;     /* the model (liec: this rank's x^k) */
    float             *xe;    /* where the next gradient is taken */
    float             *g;     /* gradient */
    float             *m;     /* momentum */
    float             *in;    /* exchange input */
    float             *out;   /* exchange output */
    float             *tmp;   /* d scratch floats */
    uint32_t          *perm;  /* training sample order of the epoch */
} train_t;

#define CHECK(call, what)                                                   \
    do {                                                                    \
        rz_status_t _s = (call);                                            \
        if (_s != RZ_OK) {                                                  \
            errmsg("%s: %s", (what), rz_status_string(_s));                 \
            return _s;                                                      \
        }                                                                   \
    } while (0)

/* The epoch's sample order, the same on every rank. */
static void shuffle(uint32_t *perm, size_t n, uint64_t seed, int epoch)
{
    uint64_t key = mlp_mix64(mlp_mix64(seed) ^ 0x5348554646ull) ^
                   (uint64_t)epoch;

    for (size_t i = 0; i < n; i++) {
        perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(mlp_mix64(key + i) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static float epoch_lr(const opts_t *o, int epoch)
{
    float lr = o->lr;

    for (int i = 0; i < o->ndecay; i++) {
        if (o->decay[i] < epoch) {
            lr *= o->lr_gamma;
        }
    }
    return lr;
}

/* Enqueue the six tensors of in -> out and wait for all of them. */
static rz_status_t exchange(train_t *T)
{
    rz_fusion_handle_h h[MLP_NTENSORS];
    rz_fusion_compression_t comp[MLP_NTENSORS];
    rz_status_t status = RZ_OK, s;
    int n = 0;

    for (int i = 0; i < MLP_NTENSORS; i++) {
        const mlp_tensor_t *t = &mlp_tensors[i];
        comp[i] = T->comp;
        if (T->o.method == M_LIEC && T->o.sync > 0) {
            comp[i].liec_model = T->x + t->offset;
        }
        s = rz_fusion_enqueue_allreduce(T->fu, t->name, T->in + t->offset,
                                        T->out + t->offset, t->count,
                                        RZ_DTYPE_F32, RZ_OP_AVG, &comp[i],
                                        &h[i]);
        if (s != RZ_OK) {
            errmsg("enqueue %s: %s", t->name, rz_status_string(s));
            status = s;
            break;
        }
        n++;
    }
    for (int i = 0; i < n; i++) {
        s = rz_fusion_wait(&h[i]);
        if (s != RZ_OK && status == RZ_OK) {
            errmsg("allreduce of %s: %s", mlp_tensors[i].name,
                   rz_status_string(s));
            status = s;
        }
    }
    return status;
}

/* Copy this rank's state @which of every tensor's context into @dst
 * (d floats, zero where the rank holds none of it). */
static rz_status_t gather_state(train_t *T, rz_ef_state_t which, float *dst)
{
    memset(dst, 0, T->d * sizeof(float));
    for (int i = 0; i < MLP_NTENSORS; i++) {
        const mlp_tensor_t *t = &mlp_tensors[i];
        const float *p;
        size_t off, n;
        rz_ef_h ef;

        CHECK(rz_fusion_get_ef(T->fu, t->name, &ef), "rz_fusion_get_ef");
        if (ef == NULL) {
            continue;
        }
        CHECK(rz_ef_get_state(ef, which, &p, &off, &n), "rz_ef_get_state");
        if (p == NULL || n == 0) {
            continue;
        }
        if (off + n > t->count) {
            errmsg("state of %s covers [%zu, %zu) of %zu", t->name, off,
                   off + n, t->count);
            return RZ_ERR_INTERNAL;
        }
        memcpy(dst + t->offset + off, p, n * sizeof(float));
    }
    return RZ_OK;
}

/* Fill T->w.x with samples idx[0..n) of @set. */
static void load_batch(train_t *T, const mnist_set_t *set,
                       const uint32_t *idx, size_t n, uint8_t *labels)
{
    for (size_t j = 0; j < n; j++) {
        mnist_to_float(set->images + (size_t)idx[j] * MNIST_PIXELS,
                       MNIST_PIXELS, T->w.x + j * MNIST_PIXELS);
        labels[j] = set->labels[idx[j]];
    }
}

/* m = mu m + (u + wd x); x -= lr m (mu = 0: x -= lr (u + wd x)), one fp32
 * operation at a time (ALGORITHMS.md 2.3 and 5.3 L1). */
static void sgd_apply(train_t *T, const float *u, float lr)
{
    const float mu = T->o.momentum, wd = T->o.weight_decay;
    float *x = T->x, *m = T->m;

    for (size_t i = 0; i < T->d; i++) {
        float v = u[i];
        if (wd != 0.0f) {
            float dx = wd * x[i];
            v = v + dx;
        }
        if (mu != 0.0f) {
            float mm = mu * m[i];
            m[i] = mm + v;
            v = m[i];
        }
        float step = lr * v;
        x[i] = x[i] - step;
    }
}

/* One training step at learning rate @lr; adds the minibatch loss. */
static rz_status_t train_step(train_t *T, size_t step, float lr,
                              double *loss_sum)
{
    const size_t B = T->o.batch, K = (size_t)T->nranks, d = T->d;
    const float mu = T->o.momentum, wd = T->o.weight_decay;
    uint8_t labels[T->o.batch];

    load_batch(T, &T->train, T->perm + (step * K + (size_t)T->rank) * B, B,
               labels);
    switch (T->o.method) {
    case M_NONE:
    case M_LIEC:
        *loss_sum += mlp_loss_grad(T->x, &T->w, B, labels, T->in, NULL);
        CHECK(exchange(T), "gradient exchange");
        sgd_apply(T, T->out, lr);
        break;
    case M_EF:
    case M_SAEF:
        /* x_eval = x (ef) or x - e^k (saef), kept in T->xe. */
        *loss_sum += mlp_loss_grad(T->xe, &T->w, B, labels, T->g, NULL);
        for (size_t i = 0; i < d; i++) {
            float v = T->g[i];
            if (wd != 0.0f) {
                float dx = wd * T->xe[i];
                v = v + dx;
            }
            if (mu != 0.0f) {
                float mm = mu * T->m[i];
                v = mm + v;
            }
            T->m[i] = v;
            T->in[i] = lr * v;
        }
        CHECK(exchange(T), "update exchange");
        for (size_t i = 0; i < d; i++) {
            T->x[i] = T->x[i] - T->out[i];
        }
        if (T->o.method == M_SAEF) {
            CHECK(gather_state(T, RZ_EF_STATE_LOCAL_ERR, T->tmp),
                  "local error");
            for (size_t i = 0; i < d; i++) {
                T->xe[i] = T->x[i] - T->tmp[i];
            }
        } else {
            memcpy(T->xe, T->x, d * sizeof(float));
        }
        break;
    }
    return RZ_OK;
}

/* Test loss and accuracy of @model on this rank's share of the test set,
 * summed over ranks. */
static rz_status_t evaluate(train_t *T, const float *model, double *loss_p,
                            double *acc_p)
{
    const size_t n = T->test.n, K = (size_t)T->nranks;
    size_t lo = n * (size_t)T->rank / K, hi = n * ((size_t)T->rank + 1) / K;
    double sums[2] = {0.0, 0.0}; /* loss sum, correct */
    uint32_t idx[256];
    uint8_t labels[256];

    for (size_t a = lo; a < hi; a += 256) {
        size_t cnt = hi - a < 256 ? hi - a : 256, correct;
        for (size_t j = 0; j < cnt; j++) {
            idx[j] = (uint32_t)(a + j);
        }
        load_batch(T, &T->test, idx, cnt, labels);
        sums[0] += mlp_loss_grad(model, &T->w, cnt, labels, NULL, &correct) *
                   (double)cnt;
        sums[1] += (double)correct;
    }
    CHECK(rz_allreduce(sums, sums, 2, RZ_DTYPE_F64, RZ_OP_SUM, T->comm),
          "test-set allreduce");
    *loss_p = sums[0] / (double)n;
    *acc_p = 100.0 * sums[1] / (double)n;
    return RZ_OK;
}

/* ALGORITHMS.md 5.2 E10: mean_k |x_eval^k - x~|^2 with
 * x~ = x - e_srv - mean_k e^k. */
static rz_status_t mismatch(train_t *T, double *mis_p)
{
    const size_t d = T->d;
    float *ebar = T->g, *esrv = T->tmp;
    double sum = 0.0;

    CHECK(gather_state(T, RZ_EF_STATE_LOCAL_ERR, ebar), "local error");
    CHECK(rz_allreduce(ebar, ebar, d, RZ_DTYPE_F32, RZ_OP_AVG, T->comm),
          "error allreduce");
    CHECK(gather_state(T, RZ_EF_STATE_SERVER_ERR, esrv), "server error");
    CHECK(rz_allreduce(esrv, esrv, d, RZ_DTYPE_F32, RZ_OP_SUM, T->comm),
          "server-error allreduce");
    for (size_t i = 0; i < d; i++) {
        double xt = (double)T->x[i] - (double)esrv[i] - (double)ebar[i];
        double diff = (double)T->xe[i] - xt;
        sum += diff * diff;
    }
    CHECK(rz_allreduce(&sum, &sum, 1, RZ_DTYPE_F64, RZ_OP_AVG, T->comm),
          "mismatch allreduce");
    *mis_p = sum;
    return RZ_OK;
}

static uint64_t model_hash(const float *x, size_t d)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)x;

    for (size_t i = 0; i < d * sizeof(float); i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static rz_status_t bytes_sent(train_t *T, uint64_t *sent_p, uint64_t *recv_p)
{
    rz_fusion_stats_t st;

    CHECK(rz_fusion_get_stats(T->fu, &st), "rz_fusion_get_stats");
    *sent_p = st.ef_bytes_sent;
    if (recv_p != NULL) {
        *recv_p = st.ef_bytes_recv;
    }
    return RZ_OK;
}

static FILE *csv_open(const opts_t *o, int argc, char **argv)
{
    FILE *f = fopen(o->csv, "w");

    if (f == NULL) {
        errmsg("--csv %s: %s", o->csv, strerror(errno));
        return NULL;
    }
    fprintf(f, "#");
    for (int i = 0; i < argc; i++) {
        fprintf(f, " %s", argv[i]);
    }
    fprintf(f, "\nepoch,train_loss,test_accuracy,test_loss,bytes_sent,"
               "wall_s,lr,mismatch\n");
    fflush(f);
    return f;
}

static rz_status_t train(train_t *T, int argc, char **argv)
{
    const opts_t *o = &T->o;
    const size_t K = (size_t)T->nranks, d = T->d;
    size_t steps = T->train.n / (K * o->batch);
    FILE *csv = NULL;
    double t0;
    rz_status_t status = RZ_OK;

    if (steps == 0) {
        errmsg("%zu training samples are fewer than one global batch "
               "(%zu ranks x --batch %zu)", T->train.n, K, o->batch);
        return RZ_ERR_INVALID_PARAM;
    }
    if (T->rank == 0 && o->csv != NULL) {
        csv = csv_open(o, argc, argv);
        if (csv == NULL) {
            return RZ_ERR_IO;
        }
    }
    if (T->rank == 0 && !o->quiet) {
        printf("train_mnist: %d ranks, method %s, topology %s, compressor "
               "%s/%s, lr %g, momentum %g, weight decay %g, batch %zu/rank, "
               "%zu steps/epoch, %d epochs, d = %zu\n", T->nranks,
               method_name(o->method), rz_ef_topology_name(o->topology),
               o->compressor, o->server_compressor, (double)o->lr,
               (double)o->momentum, (double)o->weight_decay, o->batch, steps,
               o->epochs, d);
        fflush(stdout);
    }
    t0 = now_s();
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        const float lr = epoch_lr(o, epoch);
        double sums[2] = {0.0, (double)steps}, tloss, tacc, mis = 0.0;
        const float *eval_model = T->x;
        uint64_t sent;

        shuffle(T->perm, T->train.n, o->seed, epoch);
        for (size_t s = 0; s < steps; s++) {
            status = train_step(T, s, lr, &sums[0]);
            if (status != RZ_OK) {
                goto out;
            }
        }
        status = rz_allreduce(sums, sums, 2, RZ_DTYPE_F64, RZ_OP_SUM,
                              T->comm);
        if (status != RZ_OK) {
            errmsg("loss allreduce: %s", rz_status_string(status));
            goto out;
        }
        if (o->method == M_LIEC) {
            status = rz_allreduce(T->x, T->tmp, d, RZ_DTYPE_F32, RZ_OP_AVG,
                                  T->comm);
            if (status != RZ_OK) {
                errmsg("model average: %s", rz_status_string(status));
                goto out;
            }
            eval_model = T->tmp;
        }
        if ((status = evaluate(T, eval_model, &tloss, &tacc)) != RZ_OK ||
            ((o->method == M_EF || o->method == M_SAEF) &&
             (status = mismatch(T, &mis)) != RZ_OK) ||
            (status = bytes_sent(T, &sent, NULL)) != RZ_OK) {
            goto out;
        }
        if (T->rank == 0) {
            double wall = now_s() - t0, loss = sums[0] / sums[1];
            if (!o->quiet) {
                printf("epoch %3d/%d  lr %.4g  train loss %.5f  test acc "
                       "%6.2f%%  test loss %.5f  sent %10.3f MB/rank  "
                       "%7.1f s\n", epoch, o->epochs, (double)lr, loss, tacc,
                       tloss, (double)sent / 1e6, wall);
                fflush(stdout);
            }
            if (csv != NULL) {
                fprintf(csv, "%d,%.6f,%.2f,%.6f,%llu,%.3f,%.6g,%.6g\n",
                        epoch, loss, tacc, tloss, (unsigned long long)sent,
                        wall, (double)lr, mis);
                fflush(csv);
            }
        }
    }
out:
    if (csv != NULL) {
        fclose(csv);
    }
    return status;
}

/* Is the model bitwise the same on every rank? */
static rz_status_t report(train_t *T)
{
    uint64_t h = model_hash(T->x, T->d), hmin, hmax, sent, recv;
    rz_fusion_stats_t st;

    CHECK(rz_allreduce(&h, &hmin, 1, RZ_DTYPE_U64, RZ_OP_MIN, T->comm),
          "hash allreduce");
    CHECK(rz_allreduce(&h, &hmax, 1, RZ_DTYPE_U64, RZ_OP_MAX, T->comm),
          "hash allreduce");
    CHECK(bytes_sent(T, &sent, &recv), "stats");
    CHECK(rz_fusion_get_stats(T->fu, &st), "rz_fusion_get_stats");
    printf("rank %d: exchange statistics: bytes sent %llu, received %llu, "
           "tensors %llu, cache hits %llu, negotiation %.3f s\n", T->rank,
           (unsigned long long)sent, (unsigned long long)recv,
           (unsigned long long)st.tensors, (unsigned long long)st.cache_hits,
           st.negotiation_s);
    if (T->rank == 0) {
        printf("final model hash %016llx: %s\n", (unsigned long long)h,
               hmin == hmax ? "bitwise identical on every rank" :
               (T->o.method == M_LIEC ? "local models differ (liec)" :
                                        "DIFFERS ACROSS RANKS"));
    }
    fflush(stdout);
    if (hmin != hmax && T->o.method != M_LIEC) {
        errmsg("the model differs across ranks");
        return RZ_ERR_INTERNAL;
    }
    return RZ_OK;
}

static int save_model(const train_t *T)
{
    FILE *f = fopen(T->o.save, "wb");

    if (f == NULL || fwrite(T->x, sizeof(float), T->d, f) != T->d) {
        errmsg("--save %s: %s", T->o.save, strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static rz_status_t setup(train_t *T)
{
    const opts_t *o = &T->o;
    char err[512];
    int ok = 1, all_ok = 0;
    size_t d = MLP_PARAMS;

    if (mnist_load(o->data_dir, "train", &T->train, err, sizeof(err)) != 0 ||
        mnist_load(o->data_dir, "t10k", &T->test, err, sizeof(err)) != 0) {
        errmsg("%s", err);
        ok = 0;
    } else {
        if (o->train_limit && o->train_limit < T->train.n) {
            T->train.n = o->train_limit;
        }
        if (o->test_limit && o->test_limit < T->test.n) {
            T->test.n = o->test_limit;
        }
    }
    T->d = d;
    T->x = malloc(d * sizeof(float));
    T->xe = malloc(d * sizeof(float));
    T->g = malloc(d * sizeof(float));
    T->m = calloc(d, sizeof(float));
    T->in = malloc(d * sizeof(float));
    T->out = malloc(d * sizeof(float));
    T->tmp = malloc(d * sizeof(float));
    T->perm = ok ? malloc(T->train.n * sizeof(uint32_t)) : NULL;
    if (ok && (!T->x || !T->xe || !T->g || !T->m || !T->in || !T->out ||
               !T->tmp || !T->perm ||
               mlp_work_init(&T->w, o->batch > 256 ? o->batch : 256) != 0)) {
        errmsg("out of memory");
        ok = 0;
    }
    if (ok && o->topology == RZ_EF_TOPO_SINGLE &&
        o->server_rank >= T->nranks) {
        errmsg("--server-rank %d: only %d ranks", o->server_rank, T->nranks);
        ok = 0;
    }
    /* Every rank learns whether all could start, so none waits forever. */
    CHECK(rz_allreduce(&ok, &all_ok, 1, RZ_DTYPE_I32, RZ_OP_MIN, T->comm),
          "start-up allreduce");
    if (!all_ok) {
        return RZ_ERR_INVALID_PARAM;
    }
    mlp_init_params(T->x, o->seed);
    memcpy(T->xe, T->x, d * sizeof(float));

    rz_fusion_compression_init(&T->comp);
    T->comp.ef.method = o->method == M_NONE ? RZ_EF_METHOD_NONE :
                        o->method == M_EF   ? RZ_EF_METHOD_EF :
                        o->method == M_SAEF ? RZ_EF_METHOD_SAEF :
                                              RZ_EF_METHOD_LIEC;
    T->comp.ef.topology = o->topology;
    T->comp.ef.server_rank = o->server_rank;
    T->comp.ef.chunk_aligned = o->chunk_aligned;
    T->comp.ef.worker_compressor = o->compressor;
    T->comp.ef.server_compressor = o->server_compressor;
    T->comp.ef.seed = o->seed;
    T->comp.ef.err_avg_period = o->err_avg;
    T->comp.ef.model_avg_period = o->sync;
    CHECK(rz_fusion_create(T->comm, NULL, &T->fu), "rz_fusion_create");
    return RZ_OK;
}

static void teardown(train_t *T)
{
    rz_fusion_destroy(T->fu);
    mlp_work_free(&T->w);
    free(T->x);
    free(T->xe);
    free(T->g);
    free(T->m);
    free(T->in);
    free(T->out);
    free(T->tmp);
    free(T->perm);
    mnist_free(&T->train);
    mnist_free(&T->test);
}

int main(int argc, char **argv)
{
    train_t T;
    rz_status_t status;
    int rc = 0;

    memset(&T, 0, sizeof(T));
    parse_args(argc, argv, &T.o);
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(1); /* one BLAS thread per rank */
#endif
    status = rz_comm_init_env(&T.comm);
    if (status != RZ_OK) {
        fprintf(stderr, "train_mnist: rz_comm_init_env: %s (launch with "
                "rzrun -np K train_mnist ...)\n", rz_status_string(status));
        return 1;
    }
    rz_comm_rank(T.comm, &T.rank);
    rz_comm_size(T.comm, &T.nranks);
    g_rank = T.rank;

    status = setup(&T);
    if (status == RZ_OK) {
        status = train(&T, argc, argv);
    }
    if (status == RZ_OK) {
        status = rz_fusion_flush(T.fu);
    }
    if (status == RZ_OK) {
        status = report(&T);
    }
    if (status == RZ_OK && T.rank == 0 && T.o.save != NULL &&
        save_model(&T) != 0) {
        status = RZ_ERR_IO;
    }
    if (status != RZ_OK) {
        rc = 1;
    }
    teardown(&T);
    rz_comm_destroy(T.comm);
    return rc;
}
