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

#include <ringzip/ringzip.h>

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DECAYS 16

typedef enum {
    M_NONE = 0, /* no error feedback: P-SGD with --compressor none */
    M_EF,
    M_SAEF,
    M_LIEC
} method_t;

typedef struct {
    const char      *data_dir;
    int              epochs;
    method_t         method;
    rz_ef_topology_t topology;
    int              server_rank;
    int              chunk_aligned;
    const char      *compressor;
    const char      *server_compressor;
    unsigned         err_avg;
    unsigned         sync;
    float            lr;
    float            lr_gamma;
    int              decay[MAX_DECAYS];
    int              ndecay;
    float            momentum;
    float            weight_decay;
    size_t           batch;
    uint64_t         seed;
    const char      *csv;
    const char      *save;
    size_t           train_limit;
    size_t           test_limit;
    int              quiet;
} opts_t;

static const char *usage_text =
"NAME\n"
"    train_mnist - data-parallel MLP training on Fashion-MNIST with\n"
"    ringzip's compressed allreduce\n"
"\n"
"SYNOPSIS\n"
"    rzrun -np K train_mnist [options]\n"
"\n"
"DESCRIPTION\n"
"    Trains the MLP 784-256-128-10 (ReLU, softmax cross-entropy) of\n"
"    docs/ALGORITHMS.md section 6.3 on K ranks. Each step every rank takes\n"
"    its --batch samples of a global batch of K x --batch (one shuffle per\n"
"    epoch, the same on every rank), computes the gradient with CBLAS (one\n"
"    BLAS thread per rank) and enqueues the six parameter tensors into a\n"
"    ringzip fusion engine, each tensor with its own compression context.\n"
"    All ranks start from the same --seed-derived weights.\n"
"\n"
"    Methods (ALGORITHMS.md section 2; errors in model-update units):\n"
"      none  no error feedback: the engine averages g^k, compressed both\n"
"            ways when a compressor is given (\"no-EF\" baseline); with\n"
"            --compressor none it is P-SGD. The optimiser (momentum m and\n"
"            weight decay) then runs on the average: m = mu m + (u + wd x),\n"
"            x -= lr m.\n"
"      ef    error feedback: m^k = mu m^k + (g^k + wd x), the engine\n"
"            exchanges lr m^k and returns the global update q, x -= q.\n"
"            --server-compressor none gives MEM-SGD, --momentum 0\n"
"            DoubleSqueeze.\n"
"      saef  as ef, but the gradient is taken at the step-ahead point\n"
"            x - e^k (e^k: this rank's error, after any averaging).\n"
"      liec  the engine exchanges g^k and returns u^k = q + delta^k; each\n"
"            rank keeps its own model, x^k -= lr (u^k + wd x^k) (with\n"
"            momentum as for none); every --sync H steps the models are\n"
"            averaged and the gradient is exchanged in full precision.\n"
"\n"
"    After each epoch rank 0 prints a line and appends a row to --csv:\n"
"      epoch          1, 2, ...\n"
"      train_loss     mean minibatch loss of the epoch over all ranks, at\n"
"                     the points where the gradients were taken\n"
"      test_accuracy  percent correct on the test set of x_t (none, ef,\n"
"                     saef) or of the average of the local models (liec)\n"
"      test_loss      mean cross-entropy on the test set, same model\n"
"      bytes_sent     bytes rank 0 has put on the wire for gradient\n"
"                     exchange so far (the engine's exchange statistics,\n"
"                     error and model averaging included)\n"
"      wall_s         seconds since training started (evaluation included)\n"
"      lr             learning rate of the epoch\n"
"      mismatch       ef/saef: mean over ranks of |x_eval^k - x~|^2, the\n"
"                     gradient mismatch of ALGORITHMS.md 5.2 E10, where\n"
"                     x~ = x - e_srv - mean_k e^k; 0 for other methods\n"
"    The CSV starts with one '#' line holding the command line; an\n"
"    existing file is replaced.\n"
"\n"
"OPTIONS\n"
"    --data DIR            IDX files, gzip or plain (default\n"
"                          $RZ_MNIST_DIR, else /usr/share/datasets/fashion-mnist)\n"
"    --epochs N            epochs (default 10)\n"
"    --method M            none | ef | saef | liec (default none)\n"
"    --topology T          single | sharded | ring | ring-exact (default\n"
"                          sharded)\n"
"    --server-rank R       single: the server rank (default 0)\n"
"    --chunk-aligned       single: compress per chunk like sharded\n"
"    --compressor SPEC     worker compressor, e.g. sign,\n"
"                          blocksign:block=1024, topk:ratio=0.01, fp16, none\n"
"                          (default: none for --method none, sign otherwise)\n"
"    --server-compressor SPEC  server compressor (default: --compressor;\n"
"                          none = single-way compression)\n"
"    --err-avg P           ef/saef: average local errors every P steps\n"
"                          (default 0, never)\n"
"    --sync H              liec: average models every H steps (default 0)\n"
"    --lr X                learning rate (default 0.1)\n"
"    --lr-decay E1[,E2...] multiply the rate by --lr-gamma after these\n"
"                          epochs (default none)\n"
"    --lr-gamma G          decay factor (default 0.1)\n"
"    --momentum M          momentum in [0, 1) (default 0)\n"
"    --weight-decay W      L2 weight decay (default 5e-4)\n"
"    --batch B             samples per rank per step (default 32)\n"
"    --seed S              weights, shuffles and random masks (default 1)\n"
"    --csv FILE            per-epoch rows (see above)\n"
"    --save FILE           write rank 0's final model: 235146 raw float32\n"
"                          values (liec: its local model)\n"
"    --train-limit N       use the first N training samples only\n"
"    --test-limit N        use the first N test samples only\n"
"    --quiet               no per-epoch lines (errors and the summary only)\n"
"    --help                this text\n"
"\n"
"ENVIRONMENT\n"
"    RZ_MNIST_DIR          default for --data\n"
"    RZ_* of ringzip       transport, fusion engine (RZ_CYCLE_TIME_MS,\n"
"                          RZ_FUSION_THRESHOLD, RZ_TIMELINE, ...)\n"
"\n"
"EXIT STATUS\n"
"    0 on success, 1 on a runtime error (every rank stops), 2 on bad\n"
"    arguments.\n";

/* ---------------------------------------------------------- helpers */

static int g_rank = -1;

static void die_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "train_mnist: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

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

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        die_usage("%s %s: want a number in [%g, %g]", opt, s, lo, hi);
    }
    return v;
}

static unsigned long long parse_uint(const char *opt, const char *s,
                                     unsigned long long lo,
                                     unsigned long long hi)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
        v > hi) {
        die_usage("%s %s: want an integer in [%llu, %llu]", opt, s, lo, hi);
    }
    return v;
}

static void parse_decay(opts_t *o, const char *s)
{
    char buf[256], *save = NULL, *tok;

    if (strlen(s) >= sizeof(buf)) {
        die_usage("--lr-decay: too long");
    }
    strcpy(buf, s);
    o->ndecay = 0;
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->ndecay == MAX_DECAYS) {
            die_usage("--lr-decay: at most %d epochs", MAX_DECAYS);
        }
        o->decay[o->ndecay++] = (int)parse_uint("--lr-decay", tok, 1,
                                                1000000);
    }
}

static void parse_args(int argc, char **argv, opts_t *o)
{
    enum { O_DATA = 256, O_EPOCHS, O_METHOD, O_TOPO, O_SRANK, O_CALIGN,
           O_COMP, O_SCOMP, O_ERRAVG, O_SYNC, O_LR, O_DECAY, O_GAMMA, O_MOM,
           O_WD, O_BATCH, O_SEED, O_CSV, O_SAVE, O_TRLIM, O_TELIM, O_QUIET,
           O_HELP };
    static const struct option lopts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"method", required_argument, NULL, O_METHOD},
        {"topology", required_argument, NULL, O_TOPO},
        {"server-rank", required_argument, NULL, O_SRANK},
        {"chunk-aligned", no_argument, NULL, O_CALIGN},
        {"compressor", required_argument, NULL, O_COMP},
        {"server-compressor", required_argument, NULL, O_SCOMP},
        {"err-avg", required_argument, NULL, O_ERRAVG},
        {"sync", required_argument, NULL, O_SYNC},
        {"lr", required_argument, NULL, O_LR},
        {"lr-decay", required_argument, NULL, O_DECAY},
        {"lr-gamma", required_argument, NULL, O_GAMMA},
        {"momentum", required_argument, NULL, O_MOM},
        {"weight-decay", required_argument, NULL, O_WD},
        {"batch", required_argument, NULL, O_BATCH},
        {"seed", required_argument, NULL, O_SEED},
        {"csv", required_argument, NULL, O_CSV},
        {"save", required_argument, NULL, O_SAVE},
        {"train-limit", required_argument, NULL, O_TRLIM},
        {"test-limit", required_argument, NULL, O_TELIM},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    const char *env = getenv("RZ_MNIST_DIR");
    int c;

    memset(o, 0, sizeof(*o));
    o->data_dir = (env != NULL && env[0] != '\0') ?
                  env : "/usr/share/datasets/fashion-mnist";
    o->epochs = 10;
    o->method = M_NONE;
    o->topology = RZ_EF_TOPO_SHARDED;
    o->lr = 0.1f;
    o->lr_gamma = 0.1f;
    o->weight_decay = 5e-4f;
    o->batch = 32;
    o->seed = 1;
    while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: o->data_dir = optarg; break;
        case O_EPOCHS:
            o->epochs = (int)parse_uint("--epochs", optarg, 1, 100000);
            break;
        case O_METHOD:
            if (strcmp(optarg, "none") == 0 || strcmp(optarg, "psgd") == 0) {
                o->method = M_NONE;
            } else if (strcmp(optarg, "ef") == 0) {
                o->method = M_EF;
            } else if (strcmp(optarg, "saef") == 0) {
                o->method = M_SAEF;
            } else if (strcmp(optarg, "liec") == 0) {
                o->method = M_LIEC;
            } else {
                die_usage("--method %s: want none, ef, saef or liec", optarg);
            }
            break;
        case O_TOPO:
            if (rz_ef_topology_parse(optarg, &o->topology) != RZ_OK) {
                die_usage("--topology %s: want single, sharded, ring or "
                          "ring-exact", optarg);
            }
            break;
        case O_SRANK:
            o->server_rank = (int)parse_uint("--server-rank", optarg, 0,
                                             1 << 20);
            break;
        case O_CALIGN: o->chunk_aligned = 1; break;
        case O_COMP: o->compressor = optarg; break;
        case O_SCOMP: o->server_compressor = optarg; break;
        case O_ERRAVG:
            o->err_avg = (unsigned)parse_uint("--err-avg", optarg, 0,
                                              1u << 30);
            break;
        case O_SYNC:
            o->sync = (unsigned)parse_uint("--sync", optarg, 0, 1u << 30);
            break;
        case O_LR: o->lr = (float)parse_num("--lr", optarg, 1e-9, 1e3); break;
        case O_DECAY: parse_decay(o, optarg); break;
        case O_GAMMA:
            o->lr_gamma = (float)parse_num("--lr-gamma", optarg, 1e-9, 1.0);
            break;
        case O_MOM:
            o->momentum = (float)parse_num("--momentum", optarg, 0.0, 0.9999);
            break;
        case O_WD:
            o->weight_decay = (float)parse_num("--weight-decay", optarg, 0.0,
                                               1.0);
            break;
        case O_BATCH:
            o->batch = (size_t)parse_uint("--batch", optarg, 1, 60000);
            break;
        case O_SEED:
            o->seed = parse_uint("--seed", optarg, 0, UINT64_MAX);
            break;
        case O_CSV: o->csv = optarg; break;
        case O_SAVE: o->save = optarg; break;
        case O_TRLIM:
            o->train_limit = (size_t)parse_uint("--train-limit", optarg, 1,
                                                1u << 30);
            break;
        case O_TELIM:
            o->test_limit = (size_t)parse_uint("--test-limit", optarg, 1,
                                               1u << 30);
            break;
        case O_QUIET: o->quiet = 1; break;
        case 'h':
        case O_HELP:
            fputs(usage_text, stdout);
            exit(0);
        default:
            die_usage("unknown option");
        }
    }
    if (optind < argc) {
        die_usage("unexpected argument '%s'", argv[optind]);
    }
    if (o->compressor == NULL) {
        o->compressor = o->method == M_NONE ? "none" : "sign";
    }
    if (o->server_compressor == NULL) {
        o->server_compressor = o->compressor;
    }
    if (o->err_avg != 0 && o->method != M_EF && o->method != M_SAEF) {
        die_usage("--err-avg applies to --method ef and saef only");
    }
    if (o->sync != 0 && o->method != M_LIEC) {
        die_usage("--sync applies to --method liec only");
    }
}

static const char *method_name(method_t m)
{
    static const char *names[] = {"none", "ef", "saef", "liec"};
    return names[m];
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
