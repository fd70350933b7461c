#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
"    docs/REPRODUCTION.md on K ranks. Each step every rank takes\n"
"    its --batch samples of a global batch of K x --batch (one shuffle per\n"
"    epoch, the same on every rank), computes the gradient with CBLAS (one\n"
"    BLAS thread per rank) and enqueues the six parameter tensors into a\n"
"    ringzip fusion engine, each tensor with its own compression context.\n"
"    All ranks start from the same --seed-derived weights.\n"
"\n"
"    Methods (docs/ALGORITHMS.md; errors in model-update units):\n"
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
"                     gradient mismatch of the SAEF paper, where\n"
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

void parse_args(int argc, char **argv, opts_t *o)
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

const char *method_name(method_t m)
{
    static const char *names[] = {"none", "ef", "saef", "liec"};
    return names[m];
}
