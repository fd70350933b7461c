/*
 * rz_fusion_perf: step time of the tensor fusion engine (<ringzip/fusion.h>)
 * on the gradient lists of ResNet-50 and of a BERT-base layer stack, against
 * one flat allreduce of the same bytes (the floor) and against the engine
 * with fusion off. Times are the slowest rank's, per step.
 */
#include <ringzip/ringzip.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    rz_fusion_perf - measure the step time of the ringzip tensor fusion\n"
"    engine on real gradient lists (ResNet-50, BERT-base), fused, unfused\n"
"    and against one flat allreduce, plain or compressed\n"
"\n"
"SYNOPSIS\n"
"    rzrun -np N rz_fusion_perf [-M MODELS] [-L LAYERS] [-E] [--modes LIST]\n"
"                               [-n N] [-w N] [-T SIZE] [--cycle-time MS]\n"
"                               [--cache-capacity N] [-I] [-s SEED]\n"
"                               [--order shuffled|backward]\n"
"                               [--schedule interleaved|blocked]\n"
"                               [--layout separate|contiguous]\n"
"                               [--wait handles|flush] [--csv FILE] [-v]\n"
"                               [-c NAME[:PARAMS]\n"
"                                [--server-compressor NAME[:PARAMS]]\n"
"                                [-m METHOD] [-t TOPOLOGY] [-p P]]\n"
"    rz_fusion_perf [OPTIONS]      (without rzrun: one rank)\n"
"    rz_fusion_perf --list [-M MODELS] [-L LAYERS] [-E]\n"
"\n"
"DESCRIPTION\n"
"    Replays one training step's gradient tensors through the fusion\n"
"    engine, the way a framework's backward pass hands them over, and\n"
"    times the step. The tensor lists are generated in code:\n"
"\n"
"      resnet50  the 161 parameter tensors of torchvision's ResNet-50\n"
"                (53 convolution weights, 53 BatchNorm weight/bias pairs,\n"
"                fc.weight 1000x2048 and fc.bias 1000): 25,557,032\n"
"                parameters, 102.2 MB of fp32 per step.\n"
"      bert      a BERT-base encoder stack of -L layers (Hugging Face\n"
"                names), 16 tensors and 7,087,872 parameters per layer:\n"
"                query/key/value/attention-output dense 768x768 + bias,\n"
"                attention LayerNorm weight/bias, intermediate dense\n"
"                3072x768 + bias, output dense 768x3072 + bias, output\n"
"                LayerNorm weight/bias. With -E also the embeddings\n"
"                (word 30522x768, position 512x768, token type 2x768,\n"
"                LayerNorm weight/bias: 5 tensors, 23,837,184\n"
"                parameters). 12 layers are 85,054,464 parameters, 340 MB\n"
"                per fp32 buffer; each rank holds two (one with -I).\n"
"\n"
"    Tensors are listed in backward order (the last layer's first) and\n"
"    named as in PyTorch (\"layer3.2.conv2.weight\"). They live in one fp32\n"
"    buffer per rank for the inputs and one for the outputs (the same one\n"
"    with -I), in list order, laid out by --layout:\n"
"      separate    (default) each tensor starts on a 64-byte boundary\n"
"                  after a gap of at least 64 unused bytes, as tensors\n"
"                  of their own allocations do: no two are back to back,\n"
"                  so the engine has to gather a group's tensors (through\n"
"                  its fusion buffer or a gather/scatter transfer).\n"
"      contiguous  back to back, as in a framework's flat gradient\n"
"                  buffer: the engine may reduce a group whose tensors\n"
"                  are contiguous on every rank as one span, in place.\n"
"    The flat modes reduce the whole buffer, gaps included (one gap of 64\n"
"    to 124 bytes per tensor: under 0.02% more bytes for ResNet-50).\n"
"\n"
"    A step: every rank enqueues every tensor of the model with\n"
"    rz_fusion_enqueue_allreduce (f32, avg) in its own order, then waits\n"
"    for all of them with rz_fusion_wait, in the same order (--wait\n"
"    flush: rz_fusion_flush first, then rz_fusion_wait on each handle,\n"
"    which then returns at once). With --order shuffled (the default)\n"
"    the order is a random permutation drawn from the seed, the rank and\n"
"    the step: different on every rank and in every step, the same for\n"
"    every mode, so that all modes replay the same orders. Each step\n"
"    starts with an rz_barrier on the application's communicator and is\n"
"    timed from the first enqueue to the last wait returning\n"
"    (CLOCK_MONOTONIC); the step time is the largest over ranks. -w\n"
"    warm-up steps run first, untimed; median and min are over the -n\n"
"    timed steps. GB = 1e9 bytes, MB = 1e6 bytes.\n"
"\n"
"    Modes (--modes; every one the model allows by default):\n"
"      fused      the engine with fusion threshold -T (default\n"
"                 RZ_FUSION_THRESHOLD).\n"
"      unfused    the engine with threshold 0: one collective per tensor.\n"
"      flat       one rz_allreduce (f32, avg) of the whole model buffer\n"
"                 on the application's communicator: the floor that\n"
"                 fusion aims for.\n"
"      fused-c, unfused-c\n"
"                 with -c only: fused and unfused, every tensor compressed\n"
"                 (rz_fusion_compression_t with the -c, --server-\n"
"                 compressor, -m, -t and -p settings). The engine keeps one\n"
"                 rz_ef context per tensor name, created in the first step:\n"
"                 keep -w >= 1 so that creation is not timed.\n"
"      flat-c     with -c only: one rz_ef_exchange of the whole model\n"
"                 buffer through a single rz_ef context with the same\n"
"                 settings (LIEC sync iterations call rz_ef_liec_sync).\n"
"    Each engine mode creates its own engine (rz_fusion_create) once and\n"
"    keeps it through all its steps, so that the response cache and the\n"
"    compression state carry over between steps as in training.\n"
"\n"
"  Schedule. With --schedule interleaved (the default) every mode's engine\n"
"    is created first, and step s runs one step of every mode in turn,\n"
"    starting with a different mode each time (A B C, B C A, ...): this\n"
"    host is shared and noisy, and interleaving spreads its slow spells\n"
"    over all modes alike. An engine whose turn it is not stays idle\n"
"    (its thread backs off to rare cycles). With --schedule blocked one\n"
"    mode runs all its steps, with no other engine alive, before the next\n"
"    one is created (in the order above).\n"
"\n"
"  Checking. The inputs are small integers, ((3 * rank + i) mod 7) - 3\n"
"    for element i of the buffer, so the mean is exact: sum, then one\n"
"    multiplication by fp32(1/N). The first step of every mode (a warm-up\n"
"    step when -w > 0) is checked, the output having been set to NaN\n"
"    before it: plain modes against the exact mean, element by element;\n"
"    compressed modes (whose output is not the exact mean) for non-finite\n"
"    elements and, except LIEC (whose output differs per rank by design),\n"
"    for outputs that differ from rank 0's (a hash of every tensor).\n"
"    The engine promises compressed results that do not depend on how\n"
"    tensors were grouped, so when both fused-c and unfused-c ran, their\n"
"    first steps (both from fresh error state) must agree bit for bit on\n"
"    every rank; a rank where they do not counts as wrong.\n"
"\n"
"OUTPUT\n"
"    After each model, one line per mode:\n"
"      model       resnet50 or bertL (L layers, +E with embeddings)\n"
"      mode        as above\n"
"      tensors     tensors per step\n"
"      MB          bytes per step per rank / 1e6 (uncompressed)\n"
"      groups      collectives (fusion groups) per step, from\n"
"                  rz_fusion_get_stats on rank 0; 1 for flat modes\n"
"      hits        tensors scheduled from the response cache per step\n"
"      med_ms      median step time (the slowest rank's), milliseconds\n"
"      min_ms      fastest step\n"
"      algbw       MB / med_ms, in GB/s (uncompressed bytes)\n"
"      x_flat      med_ms / med_ms of the flat mode of the same kind\n"
"                  (plain rows against flat, compressed rows against\n"
"                  flat-c); '-' when that mode did not run\n"
"      x_unfused   fused rows: unfused med_ms / fused med_ms (how much\n"
"                  faster fusion makes the step); '-' elsewhere\n"
"      negot%      time the engine spent in coordination (the cache AND,\n"
"                  gathers and broadcasts: rz_fusion_stats_t.negotiation_s)\n"
"                  during the timed steps, over the sum of their step\n"
"                  times, the largest over ranks; '-' for flat modes\n"
"      #wrong      plain modes: wrong elements summed over ranks;\n"
"                  compressed modes: ranks with a wrong output\n"
"    then the targets of issue 6 for the model, ratios of medians:\n"
"      fused/flat = X (target <= 1.15): met|not met\n"
"      unfused/fused = Y (target >= 3): met|not met\n"
"      negotiation = Z% (target < 5%): met|not met   (the fused mode's)\n"
"    each ratio followed by the same ratio of the fastest steps (min_ms),\n"
"    which a busy host disturbs less; the same for the compressed modes,\n"
"    without targets; and\n"
"    '#' detail lines: cycles, negotiations (cycles through rank 0) and\n"
"    fused tensors per step, the share of step time in collectives and\n"
"    copies (collective_s), process CPU time per step (every thread, the\n"
"    largest over ranks) and, for compressed modes, bytes sent per step.\n"
"    The last line counts wrong results: '... OK' or '... FAILED'.\n"
"\n"
"OPTIONS\n"
"    -M, --model LIST      comma-separated models: resnet50, bert, all\n"
"                          (default resnet50,bert)\n"
"    -L, --layers N        BERT encoder layers, >= 1 (default 12)\n"
"    -E, --embeddings      BERT: add the embedding tensors\n"
"        --modes LIST      comma-separated modes: fused, unfused, flat,\n"
"                          fused-c, unfused-c, flat-c, all (default all:\n"
"                          the first three, and the -c ones with -c)\n"
"    -n, --iters N         timed steps per mode (default 20)\n"
"    -w, --warmup N        untimed steps per mode before them (default 3)\n"
"    -T, --threshold SIZE  fusion threshold of the fused modes, bytes; K,\n"
"                          M, G suffixes = 2^10.. (default\n"
"                          RZ_FUSION_THRESHOLD, itself 128M by default)\n"
"        --cycle-time MS   engine cycle period in ms (default\n"
"                          RZ_CYCLE_TIME_MS, itself 1)\n"
"        --cache-capacity N  response cache entries, 0 = off (default\n"
"                          RZ_CACHE_CAPACITY, itself 1024)\n"
"    -I, --inplace         in place (recvbuf == sendbuf; the input is\n"
"                          written again before every step, untimed);\n"
"                          default out-of-place\n"
"    -s, --seed N          seed of the shuffled orders (default 1)\n"
"        --order O         shuffled (default) or backward: every rank\n"
"                          enqueues in the model's backward order\n"
"        --schedule S      interleaved (default) or blocked, see Schedule\n"
"        --layout L        separate (default) or contiguous, see above\n"
"        --wait W          handles (default) or flush, see A step\n"
"        --csv FILE        also write the results as CSV (rank 0; one\n"
"                          header line, then one line per model and mode,\n"
"                          every figure of the table and detail lines)\n"
"        --list            print the tensor list of the models (index,\n"
"                          name, shape, elements) and the totals, and exit\n"
"                          without starting a job\n"
"    -c, --compressor NAME[:PARAMS]\n"
"                          add the compressed modes, with this worker\n"
"                          compressor: none, sign, blocksign, topk, randk,\n"
"                          qsgd, fp16, bf16 (rz_info lists the plugins),\n"
"                          e.g. sign, topk:ratio=0.01\n"
"        --server-compressor NAME[:PARAMS]\n"
"                          compressor of the server step (default: the -c\n"
"                          one); none gives single-way compression\n"
"    -m, --method M        ef, saef, liec or none (default ef)\n"
"    -t, --topology T      single, sharded, ring or ring-exact (default\n"
"                          sharded)\n"
"    -p, --period P        EF/SAEF error-averaging period, LIEC model-\n"
"                          averaging period H; 0 = never (default 0). With\n"
"                          LIEC and P > 0 the program keeps a zero model\n"
"                          copy per rank and passes it as liec_model.\n"
"    -v, --verbose         also print every timed step: its time (the\n"
"                          slowest rank's, ms) and, for engine modes, the\n"
"                          groups rank 0 ran in it, as step_ms(groups)\n"
"    -h, --help            this text\n"
"    --server-compressor, -m, -t and -p need -c; fused-c, unfused-c and\n"
"    flat-c need -c.\n"
"\n"
"ENVIRONMENT\n"
"    RZ_FUSION_THRESHOLD  default of -T (bytes per fusion group)\n"
"    RZ_CYCLE_TIME_MS     default of --cycle-time: the period of the\n"
"                         engine's cycles while it has work (an idle engine\n"
"                         backs off, and the first enqueue wakes it)\n"
"    RZ_CACHE_CAPACITY    default of --cache-capacity; with the cache off\n"
"                         every cycle with work goes through rank 0\n"
"    RZ_TIMELINE          Chrome-trace file of the engine (\"%r\": one per\n"
"                         rank). Every engine writes it, so select one\n"
"                         engine mode with --modes (the program warns\n"
"                         otherwise)\n"
"    RZ_ALLREDUCE_ALGO    algorithm of rz_allreduce: the flat modes and\n"
"                         the engine's groups that call it (see\n"
"                         docs/FUSION.md)\n"
"    RZ_SPIN_US           how long waits poll before they block\n"
"    The other RZ_* variables of rz_info -c apply as usual; rzrun sets\n"
"    RZ_RANK, RZ_SIZE and RZ_ROOT_ADDR. Without them (no launcher) the\n"
"    program runs as a job of one rank.\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 if a call failed (the rank prints the call, the\n"
"    tensor and rz_status_string's message) or a result was wrong; 2 on\n"
"    bad usage.\n"
"\n"
"EXAMPLES\n"
"    rzrun -np 4 rz_fusion_perf -M resnet50\n"
"    rzrun -np 2 rz_fusion_perf -M bert -L 4 --csv bert4.csv\n"
"    rzrun -np 4 rz_fusion_perf -M resnet50 -c sign -m ef -t sharded\n"
"    rzrun -np 4 -x RZ_CYCLE_TIME_MS=5 rz_fusion_perf -M resnet50 \\\n"
"          --modes fused\n"
"    rzrun -np 2 -x RZ_TIMELINE=/tmp/tl.json rz_fusion_perf -M resnet50 \\\n"
"          --modes fused -n 3 -w 1\n"
"    rz_fusion_perf --list -M resnet50\n";

/* ------------------------------------------------------------- models */

#define TENSOR_NAME_MAX 96

typedef struct {
    char   name[TENSOR_NAME_MAX];
    int    ndim;
    long   dims[4];
    size_t count;
    size_t offset; /* elements, into the model's buffer */
} tensor_t;

typedef struct {
    char      name[32];
    tensor_t *t;
    int       n, cap;
    size_t    total; /* elements */
    size_t    span;  /* elements of the buffer that holds them */
} model_t;

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes == 0 ? 1 : bytes);
    if (p == NULL) {
        fprintf(stderr, "rz_fusion_perf: out of memory (%zu B)\n", bytes);
        exit(1);
    }
    return p;
}

__attribute__((format(printf, 4, 5)))
static void model_add(model_t *m, int ndim, const long *dims,
                      const char *fmt, ...)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        tensor_t *t = realloc(m->t, (size_t)m->cap * sizeof(*t));
        if (t == NULL) {
            fprintf(stderr, "rz_fusion_perf: out of memory\n");
            exit(1);
        }
        m->t = t;
    }
    tensor_t *t = &m->t[m->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof(t->name), fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->dims[d] = dims[d];
        t->count *= (size_t)dims[d];
    }
}

#define DIMS(...) (sizeof((const long[]){__VA_ARGS__}) / sizeof(long)), \
                  (const long[]){__VA_ARGS__}

/* Forward (registration) order in, backward order and offsets out. */
static void model_finish(model_t *m)
{
    for (int i = 0, j = m->n - 1; i < j; i++, j--) {
        tensor_t tmp = m->t[i];
        m->t[i] = m->t[j];
        m->t[j] = tmp;
    }
    m->total = 0;
    for (int i = 0; i < m->n; i++) {
        m->t[i].offset = m->total;
        m->total += m->t[i].count;
    }
    m->span = m->total;
}

/* Separate layout: every tensor starts on a 64-byte boundary with at least
 * 64 unused bytes before it, so that no two are back to back in memory (as
 * tensors of their own allocations are). Contiguous: one after the other,
 * as in a framework's flat gradient buffer. */
static void model_layout(model_t *m, int separate)
{
    const size_t gap = 16; /* floats: 64 bytes */
    size_t end = 0;
    for (int i = 0; i < m->n; i++) {
        if (separate) {
            end = (end + gap + gap - 1) / gap * gap;
        }
        m->t[i].offset = end;
        end += m->t[i].count;
    }
    m->span = end;
}

static void model_free(model_t *m)
{
    free(m->t);
    memset(m, 0, sizeof(*m));
}

static void bn(model_t *m, const char *prefix, long c)
{
    model_add(m, DIMS(c), "%s.weight", prefix);
    model_add(m, DIMS(c), "%s.bias", prefix);
}

/* torchvision.models.resnet50(): Bottleneck blocks [3, 4, 6, 3], stride
 * on conv2 (v1.5), parameters in registration order. */
static void model_resnet50(model_t *m)
{
    static const int blocks[4] = {3, 4, 6, 3};
    long inplanes = 64;
    char p[64];

    snprintf(m->name, sizeof(m->name), "resnet50");
    model_add(m, DIMS(64, 3, 7, 7), "conv1.weight");
    bn(m, "bn1", 64);
    for (int l = 0; l < 4; l++) {
        long planes = 64L << l;
        for (int b = 0; b < blocks[l]; b++) {
            model_add(m, DIMS(planes, inplanes, 1, 1),
                      "layer%d.%d.conv1.weight", l + 1, b);
            snprintf(p, sizeof(p), "layer%d.%d.bn1", l + 1, b);
            bn(m, p, planes);
            model_add(m, DIMS(planes, planes, 3, 3), "layer%d.%d.conv2.weight",
                      l + 1, b);
            snprintf(p, sizeof(p), "layer%d.%d.bn2", l + 1, b);
            bn(m, p, planes);
            model_add(m, DIMS(planes * 4, planes, 1, 1),
                      "layer%d.%d.conv3.weight", l + 1, b);
            snprintf(p, sizeof(p), "layer%d.%d.bn3", l + 1, b);
            bn(m, p, planes * 4);
            if (b == 0) {
                model_add(m, DIMS(planes * 4, inplanes, 1, 1),
                          "layer%d.%d.downsample.0.weight", l + 1, b);
                snprintf(p, sizeof(p), "layer%d.%d.downsample.1", l + 1, b);
                bn(m, p, planes * 4);
            }
            inplanes = planes * 4;
        }
    }
    model_add(m, DIMS(1000, 2048), "fc.weight");
    model_add(m, DIMS(1000), "fc.bias");
    model_finish(m);
    if (m->n != 161 || m->total != 25557032) {
        fprintf(stderr, "rz_fusion_perf: internal error: ResNet-50 has %d "
                "tensors and %zu parameters, not 161 and 25557032\n", m->n,
                m->total);
        exit(1);
    }
}

/* Hugging Face BertModel: embeddings (optional), then the encoder layers. */
static void model_bert(model_t *m, int layers, int embeddings)
{
    const long h = 768, ff = 3072;
    static const char *const qkv[3] = {"query", "key", "value"};

    snprintf(m->name, sizeof(m->name), "bert%d%s", layers,
             embeddings ? "+E" : "");
    if (embeddings) {
        model_add(m, DIMS(30522, h), "bert.embeddings.word_embeddings.weight");
        model_add(m, DIMS(512, h),
                  "bert.embeddings.position_embeddings.weight");
        model_add(m, DIMS(2, h),
                  "bert.embeddings.token_type_embeddings.weight");
        bn(m, "bert.embeddings.LayerNorm", h);
    }
    for (int l = 0; l < layers; l++) {
        char p[64], q[96];
        snprintf(p, sizeof(p), "bert.encoder.layer.%d", l);
        for (int k = 0; k < 3; k++) {
            model_add(m, DIMS(h, h), "%s.attention.self.%s.weight", p, qkv[k]);
            model_add(m, DIMS(h), "%s.attention.self.%s.bias", p, qkv[k]);
        }
        model_add(m, DIMS(h, h), "%s.attention.output.dense.weight", p);
        model_add(m, DIMS(h), "%s.attention.output.dense.bias", p);
        snprintf(q, sizeof(q), "%s.attention.output.LayerNorm", p);
        bn(m, q, h);
        model_add(m, DIMS(ff, h), "%s.intermediate.dense.weight", p);
        model_add(m, DIMS(ff), "%s.intermediate.dense.bias", p);
        model_add(m, DIMS(h, ff), "%s.output.dense.weight", p);
        model_add(m, DIMS(h), "%s.output.dense.bias", p);
        snprintf(q, sizeof(q), "%s.output.LayerNorm", p);
        bn(m, q, h);
    }
    model_finish(m);
    size_t want_n = (size_t)layers * 16 + (embeddings ? 5 : 0);
    size_t want = (size_t)layers * 7087872 + (embeddings ? 23837184 : 0);
    if ((size_t)m->n != want_n || m->total != want) {
        fprintf(stderr, "rz_fusion_perf: internal error: BERT has %d tensors "
                "and %zu parameters, not %zu and %zu\n", m->n, m->total,
                want_n, want);
        exit(1);
    }
}

static void model_list(const model_t *m)
{
    printf("# %s: %d tensors, %zu parameters, %.2f MB of fp32 (backward "
           "order)\n", m->name, m->n, m->total, (double)m->total * 4 / 1e6);
    printf("# %5s %-52s %-20s %10s\n", "index", "name", "shape", "elements");
    for (int i = 0; i < m->n; i++) {
        const tensor_t *t = &m->t[i];
        char shape[64] = "";
        size_t len = 0;
        for (int d = 0; d < t->ndim; d++) {
            len += (size_t)snprintf(shape + len, sizeof(shape) - len, "%s%ld",
                                    d ? "x" : "", t->dims[d]);
        }
        printf("  %5d %-52s %-20s %10zu\n", i, t->name, shape, t->count);
    }
}

/* -------------------------------------------------------------- modes */

typedef enum {
    MODE_FUSED = 0,
    MODE_UNFUSED,
    MODE_FLAT,
    MODE_FUSED_C,
    MODE_UNFUSED_C,
    MODE_FLAT_C,
    MODE_LAST
} perf_mode_t;

static const char *const mode_names[MODE_LAST] = {
    "fused", "unfused", "flat", "fused-c", "unfused-c", "flat-c"};

static int mode_compressed(perf_mode_t m)
{
    return m >= MODE_FUSED_C;
}

static int mode_flat(perf_mode_t m)
{
    return m == MODE_FLAT || m == MODE_FLAT_C;
}

static int mode_fused(perf_mode_t m)
{
    return m == MODE_FUSED || m == MODE_FUSED_C;
}

typedef struct {
    /* models */
    int         resnet50, bert, layers, embeddings;
    unsigned    modes; /* bit per perf_mode_t */
    int         iters, warmup, inplace, shuffled, list, interleave;
    int         separate; /* --layout separate */
    int         verbose;
    int         wait_flush; /* --wait flush */
    uint64_t    seed;
    /* engine */
    size_t      threshold;
    int         threshold_given;
    double      cycle_ms;
    int         cycle_given;
    int         cache;
    int         cache_given;
    /* compression */
    const char      *worker, *server;
    rz_ef_method_t   method;
    rz_ef_topology_t topology;
    uint32_t         period;
    const char      *csv;
} opts_t;

typedef struct {
    int      ran;
    double   med_s, min_s, mean_s;
    double   groups, hits, cycles, negotiations, fused; /* per step, rank 0 */
    double   neg_share, coll_share; /* of the timed step time, max */
    double   cpu_s, sent_B;         /* per step, max over ranks */
    long     wrong;
    uint64_t hash; /* first step's output, this rank's */
} result_t;

typedef struct {
    rz_comm_h      comm;
    int            rank, nranks;
    const opts_t  *o;
    const model_t *m;
    float         *send, *recv; /* the same with -I */
    int           *order;
    rz_fusion_handle_h *h;
} bench_t;

/* One mode's engine (or flat context) and its running sums. */
typedef struct {
    perf_mode_t  mode;
    result_t    *r;
    rz_fusion_h  fu;      /* engine modes */
    rz_ef_h      ef;      /* flat-c */
    rz_fusion_compression_t ctmpl;
    float       *liec_x;  /* LIEC with H > 0: this rank's model copy */
    double      *step_s;  /* -n timed steps, this rank's */
    double      *step_g;  /* groups of each timed step */
    double       neg, coll, cpu, sent;
    uint64_t     groups, hits, cycles, negs, fused;
    long         off_schedule;
} mode_run_t;

/* ------------------------------------------------------------ helpers */

/* The enqueue order of one step: a function of (seed, rank, step) only, so
 * that every mode replays the same orders. */
static void make_order(int *order, int n, const opts_t *o, int rank, int step)
{
    for (int i = 0; i < n; i++) {
        order[i] = i;
    }
    if (!o->shuffled) {
        return;
    }
    uint64_t s = splitmix64(o->seed ^ splitmix64(((uint64_t)rank << 32) ^
                                                 (uint32_t)(step + (1 << 30))));
    for (int i = n - 1; i > 0; i--) {
        s = splitmix64(s);
        int j = (int)(s % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* Element i of rank r: ((3r + i) mod 7) - 3, exact in fp32. */
static void fill_input(float *x, size_t n, int rank)
{
    int k = (int)(((long)rank * 3) % 7);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(k - 3);
        if (++k == 7) {
            k = 0;
        }
    }
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = NAN;
    }
}

/* The exact mean of element i depends on i mod 7 only: the sum of small
 * integers is exact in any order, then one multiplication by fp32(1/N). */
static void expected_mean(float want[7], int nranks)
{
    const float inv = 1.0f / (float)nranks;
    for (int j = 0; j < 7; j++) {
        float s = 0;
        for (int r = 0; r < nranks; r++) {
            s += (float)((int)(((long)r * 3 + j) % 7) - 3);
        }
        want[j] = s * inv;
    }
}

/* Elements of the model's tensors (not the gaps between them) in @out
 * that differ from the exact mean. */
static long count_wrong_plain(const model_t *m, const float *out,
                              const float want[7])
{
    long wrong = 0;
    for (int t = 0; t < m->n; t++) {
        const float *x = out + m->t[t].offset;
        int k = (int)(m->t[t].offset % 7);
        for (size_t i = 0; i < m->t[t].count; i++) {
            wrong += !(x[i] == want[k]);
            if (++k == 7) {
                k = 0;
            }
        }
    }
    return wrong;
}

static long count_nonfinite(const model_t *m, const float *out)
{
    long bad = 0;
    for (int t = 0; t < m->n; t++) {
        const float *x = out + m->t[t].offset;
        for (size_t i = 0; i < m->t[t].count; i++) {
            bad += !isfinite(x[i]);
        }
    }
    return bad;
}

/* The hash of every tensor of the model in @out, in list order. */
static uint64_t hash_tensors(const model_t *m, const float *out)
{
    uint64_t h = 0;
    for (int t = 0; t < m->n; t++) {
        h = rz_perf_f32_hash(out + m->t[t].offset, m->t[t].count, h);
    }
    return h;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fail(int rank, const char *what, const char *tensor,
                 rz_status_t st)
{
    fprintf(stderr, "rank %d: %s%s%s failed: %s\n", rank, what,
            tensor ? " of " : "", tensor ? tensor : "", rz_status_string(st));
    exit(1);
}

static void check(int rank, const char *what, rz_status_t st)
{
    if (st != RZ_OK) {
        fail(rank, what, NULL, st);
    }
}

static void ef_config(const opts_t *o, rz_ef_config_t *cfg)
{
    rz_ef_config_init(cfg);
    cfg->method = o->method;
    cfg->topology = o->topology;
    cfg->worker_compressor = o->worker;
    cfg->server_compressor = o->server != NULL ? o->server : o->worker;
    if (o->method == RZ_EF_METHOD_LIEC) {
        cfg->model_avg_period = o->period;
    } else {
        cfg->err_avg_period = o->period;
    }
}

/* ------------------------------------------------------------ one step */

/* One engine step: enqueue every tensor in this step's order, wait for all.
 * Returns the local step time. */
static double engine_step(bench_t *b, mode_run_t *mr)
{
    const model_t *m = b->m;
    const float *src = b->o->inplace ? b->recv : b->send;
    rz_fusion_compression_t comp = mr->ctmpl;
    const rz_fusion_compression_t *c =
        mode_compressed(mr->mode) ? &comp : NULL;

    double t0 = rz_perf_now_s();
    for (int k = 0; k < m->n; k++) {
        const tensor_t *t = &m->t[b->order[k]];
        if (mr->liec_x != NULL) {
            comp.liec_model = mr->liec_x + t->offset;
        }
        rz_status_t st = rz_fusion_enqueue_allreduce(
            mr->fu, t->name, src + t->offset, b->recv + t->offset, t->count,
            RZ_DTYPE_F32, RZ_OP_AVG, c, &b->h[b->order[k]]);
        if (st != RZ_OK) {
            fail(b->rank, "rz_fusion_enqueue_allreduce", t->name, st);
        }
    }
    if (b->o->wait_flush) {
        rz_status_t st = rz_fusion_flush(mr->fu);
        if (st != RZ_OK) {
            fail(b->rank, "rz_fusion_flush", NULL, st);
        }
    }
    for (int k = 0; k < m->n; k++) {
        int i = b->order[k];
        rz_status_t st = rz_fusion_wait(&b->h[i]);
        if (st != RZ_OK) {
            fail(b->rank, "rz_fusion_wait", m->t[i].name, st);
        }
    }
    return rz_perf_now_s() - t0;
}

/* One flat step, plain or compressed. */
static double flat_step(bench_t *b, mode_run_t *mr)
{
    const float *src = b->o->inplace ? b->recv : b->send;
    rz_status_t st;
    double t0 = rz_perf_now_s();
    if (mr->ef == NULL) {
        st = rz_allreduce(src, b->recv, b->m->span, RZ_DTYPE_F32, RZ_OP_AVG,
                          b->comm);
        if (st != RZ_OK) {
            fail(b->rank, "rz_allreduce", "the flat buffer", st);
        }
        return rz_perf_now_s() - t0;
    }
    rz_ef_stats_t es;
    const uint32_t h = b->o->period;
    int sync = mr->liec_x != NULL && (rz_ef_iteration(mr->ef) + 1) % h == 0;
    if (sync) {
        st = rz_ef_liec_sync(mr->ef, mr->liec_x, src, b->recv, &es);
    } else {
        st = rz_ef_exchange(mr->ef, src, b->recv, &es);
        if (st == RZ_ERR_NEED_SYNC && mr->liec_x != NULL) {
            mr->off_schedule++;
            st = rz_ef_liec_sync(mr->ef, mr->liec_x, src, b->recv, &es);
        }
    }
    double dt = rz_perf_now_s() - t0;
    if (st != RZ_OK) {
        fail(b->rank, sync ? "rz_ef_liec_sync" : "rz_ef_exchange",
             "the flat buffer", st);
    }
    return dt;
}

/* ------------------------------------------------------------ one mode */

/* Create the mode's engine (or flat-c context). Collective. */
static void mode_setup(bench_t *b, mode_run_t *mr, perf_mode_t mode,
                       result_t *r)
{
    const opts_t *o = b->o;
    const model_t *m = b->m;
    rz_status_t st;

    memset(mr, 0, sizeof(*mr));
    memset(r, 0, sizeof(*r));
    mr->mode = mode;
    mr->r = r;
    r->ran = 1;
    mr->step_s = xmalloc((size_t)o->iters * sizeof(double));
    mr->step_g = xmalloc((size_t)o->iters * sizeof(double));
    memset(mr->step_g, 0, (size_t)o->iters * sizeof(double));
    if (mode_compressed(mode)) {
        rz_fusion_compression_init(&mr->ctmpl);
        ef_config(o, &mr->ctmpl.ef);
        if (o->method == RZ_EF_METHOD_LIEC && o->period > 0) {
            mr->liec_x = xmalloc(m->span * sizeof(float));
            memset(mr->liec_x, 0, m->span * sizeof(float));
        }
    }
    if (mode == MODE_FLAT_C) {
        rz_ef_config_t cfg;
        ef_config(o, &cfg);
        st = rz_ef_create(b->comm, m->span, &cfg, NULL, NULL, NULL, &mr->ef);
        check(b->rank, "rz_ef_create (flat-c)", st);
    } else if (!mode_flat(mode)) {
        rz_fusion_config_t cfg;
        rz_fusion_config_init(&cfg);
        if (o->threshold_given) {
            cfg.fusion_threshold = o->threshold;
        }
        if (o->cycle_given) {
            cfg.cycle_time_ms = o->cycle_ms;
        }
        if (o->cache_given) {
            cfg.cache_capacity = o->cache;
        }
        if (!mode_fused(mode)) {
            cfg.fusion_threshold = 0;
        }
        st = rz_fusion_create(b->comm, &cfg, &mr->fu);
        check(b->rank, "rz_fusion_create", st);
    }
}

/* One step of the mode (step < 0: warm-up); the first one is checked. */
static void mode_step(bench_t *b, mode_run_t *mr, int step)
{
    const opts_t *o = b->o;
    const model_t *m = b->m;
    result_t *r = mr->r;
    const int first = step == -o->warmup;
    rz_fusion_stats_t s0, s1;

    if (o->inplace) {
        fill_input(b->recv, m->span, b->rank);
    } else if (first) {
        fill_nan(b->recv, m->span);
    }
    make_order(b->order, m->n, o, b->rank, step + o->warmup);
    memset(&s0, 0, sizeof(s0));
    memset(&s1, 0, sizeof(s1));
    rz_barrier(b->comm);
    if (mr->fu != NULL) {
        rz_fusion_get_stats(mr->fu, &s0);
    }
    double c0 = rz_perf_cpu_s();
    double dt = mr->fu != NULL ? engine_step(b, mr) : flat_step(b, mr);
    double c1 = rz_perf_cpu_s();
    if (mr->fu != NULL) {
        rz_fusion_get_stats(mr->fu, &s1);
    }
    if (first) {
        /* Plain: the exact mean. Compressed: no NaN left, and (LIEC aside)
         * the same bits as rank 0. */
        if (!mode_compressed(mr->mode)) {
            float want[7];
            expected_mean(want, b->nranks);
            r->wrong = count_wrong_plain(m, b->recv, want);
        } else {
            uint64_t h0;
            r->hash = hash_tensors(m, b->recv);
            h0 = r->hash;
            check(b->rank, "rz_broadcast (hash)",
                  rz_broadcast(&r->hash, &h0, 1, RZ_DTYPE_U64, 0, b->comm));
            r->wrong = count_nonfinite(m, b->recv) > 0 ||
                       (o->method != RZ_EF_METHOD_LIEC && h0 != r->hash);
        }
    }
    if (step < 0) {
        return;
    }
    mr->step_s[step] = dt;
    mr->step_g[step] = (double)(s1.groups - s0.groups);
    mr->cpu += c1 - c0;
    if (mr->fu != NULL) {
        mr->neg += s1.negotiation_s - s0.negotiation_s;
        mr->coll += s1.collective_s - s0.collective_s;
        mr->sent += (double)(s1.ef_bytes_sent - s0.ef_bytes_sent);
        mr->groups += s1.groups - s0.groups;
        mr->hits += s1.cache_hits - s0.cache_hits;
        mr->cycles += s1.cycles - s0.cycles;
        mr->negs += s1.negotiations - s0.negotiations;
        mr->fused += s1.fused_tensors - s0.fused_tensors;
    }
}

/* Destroy the engine and reduce the mode's figures. Collective. */
static void mode_finish(bench_t *b, mode_run_t *mr)
{
    const opts_t *o = b->o;
    result_t *r = mr->r;
    rz_status_t st;

    if (mr->off_schedule > 0) {
        fprintf(stderr, "rank %d: warning: flat-c: rz_ef_exchange returned "
                "RZ_ERR_NEED_SYNC %ld time(s) off the (t + 1) mod %u "
                "schedule\n", b->rank, mr->off_schedule, o->period);
    }
    if (mr->fu != NULL) {
        st = rz_fusion_flush(mr->fu);
        check(b->rank, "rz_fusion_flush", st);
        st = rz_fusion_destroy(mr->fu);
        check(b->rank, "rz_fusion_destroy", st);
    }
    rz_ef_destroy(mr->ef);

    /* Step time = the slowest rank's, step by step. */
    const int n = o->iters;
    double *all = xmalloc((size_t)n * sizeof(double));
    check(b->rank, "rz_allreduce (step times)",
          rz_allreduce(mr->step_s, all, (size_t)n, RZ_DTYPE_F64, RZ_OP_MAX,
                       b->comm));
    double total = 0;
    for (int i = 0; i < n; i++) {
        total += all[i];
    }
    if (o->verbose && b->rank == 0) {
        printf("# %s %s: step_ms(groups)", b->m->name, mode_names[mr->mode]);
        for (int i = 0; i < n; i++) {
            printf(" %.1f(%g)", all[i] * 1e3,
                   mode_flat(mr->mode) ? 1.0 : mr->step_g[i]);
        }
        printf("\n");
        fflush(stdout);
    }
    qsort(all, (size_t)n, sizeof(double), cmp_double);
    r->min_s = all[0];
    r->med_s = n % 2 ? all[n / 2] : 0.5 * (all[n / 2 - 1] + all[n / 2]);
    r->mean_s = total / n;
    free(all);

    double mine[4] = {mr->neg, mr->coll, mr->cpu / n, mr->sent / n}, mx[4];
    check(b->rank, "rz_allreduce (stats)",
          rz_allreduce(mine, mx, 4, RZ_DTYPE_F64, RZ_OP_MAX, b->comm));
    r->neg_share = total > 0 ? mx[0] / total : 0;
    r->coll_share = total > 0 ? mx[1] / total : 0;
    r->cpu_s = mx[2];
    r->sent_B = mx[3];
    r->groups = mode_flat(mr->mode) ? 1 : (double)mr->groups / n;
    r->hits = (double)mr->hits / n;
    r->cycles = (double)mr->cycles / n;
    r->negotiations = (double)mr->negs / n;
    r->fused = (double)mr->fused / n;
    long w = r->wrong;
    check(b->rank, "rz_allreduce (#wrong)",
          rz_allreduce(&w, &r->wrong, 1, RZ_DTYPE_I64, RZ_OP_SUM, b->comm));
    free(mr->liec_x);
    free(mr->step_s);
    free(mr->step_g);
}

/* ------------------------------------------------------------- output */

static void fmt_ratio(char *buf, size_t len, int ok, double v)
{
    if (ok) {
        snprintf(buf, len, "%.2f", v);
    } else {
        snprintf(buf, len, "-");
    }
}

/* One summary line: a ratio of medians (or a share, @pct) and, for
 * ratios, the same ratio of the fastest steps (@vmin >= 0), which the
 * slow spells of a shared host disturb less. */
static void print_target(const char *model, const char *what, int ok,
                         double v, double vmin, const char *target, int met,
                         int pct)
{
    if (!ok) {
        return;
    }
    printf("# %s: %s = %.*f%s", model, what, pct ? 1 : 2, pct ? 100 * v : v,
           pct ? "%" : "");
    if (target != NULL) {
        printf(" (target %s): %s", target, met ? "met" : "not met");
    }
    if (vmin >= 0) {
        printf("; of the fastest steps: %.2f", vmin);
    }
    printf("\n");
}

static void report(const bench_t *b, const result_t res[MODE_LAST],
                   FILE *csv)
{
    const model_t *m = b->m;
    const opts_t *o = b->o;
    const double mb = (double)m->total * 4 / 1e6;

    printf("#\n# %-9s %-9s %7s %7s %7s %7s %9s %9s %8s %6s %9s %6s %6s\n",
           "model", "mode", "tensors", "MB", "groups", "hits", "med_ms",
           "min_ms", "algbw", "x_flat", "x_unfused", "negot%", "#wrong");
    printf("# %-9s %-9s %7s %7s %7s %7s %9s %9s %8s %6s %9s %6s %6s\n", "", "",
           "", "(/step)", "(/step)", "(/step)", "", "", "(GB/s)", "", "", "",
           "");
    for (int k = 0; k < MODE_LAST; k++) {
        const result_t *r = &res[k];
        if (!r->ran) {
            continue;
        }
        const perf_mode_t mode = (perf_mode_t)k;
        const result_t *fl = &res[mode_compressed(mode) ? MODE_FLAT_C
                                                        : MODE_FLAT];
        const result_t *un = &res[mode_compressed(mode) ? MODE_UNFUSED_C
                                                        : MODE_UNFUSED];
        char xflat[16], xun[16], negot[16], groups[16], hits[16];
        fmt_ratio(xflat, sizeof(xflat), fl->ran, r->med_s / fl->med_s);
        fmt_ratio(xun, sizeof(xun), mode_fused(mode) && un->ran,
                  un->med_s / r->med_s);
        if (mode_flat(mode)) {
            snprintf(negot, sizeof(negot), "-");
            snprintf(hits, sizeof(hits), "-");
        } else {
            snprintf(negot, sizeof(negot), "%.1f", 100 * r->neg_share);
            snprintf(hits, sizeof(hits), "%.1f", r->hits);
        }
        snprintf(groups, sizeof(groups), "%.1f", r->groups);
        printf("  %-9s %-9s %7d %7.1f %7s %7s %9.2f %9.2f %8.3f %6s %9s %6s "
               "%6ld\n", m->name, mode_names[k], m->n, mb, groups, hits,
               r->med_s * 1e3, r->min_s * 1e3, mb / 1e3 / r->med_s, xflat,
               xun, negot, r->wrong);
    }
    for (int k = 0; k < MODE_LAST; k++) {
        const result_t *r = &res[k];
        if (!r->ran) {
            continue;
        }
        printf("# %s %s: mean %.2f ms", m->name, mode_names[k],
               r->mean_s * 1e3);
        if (!mode_flat((perf_mode_t)k)) {
            printf(", %.1f cycles, %.1f negotiations, %.1f fused tensors "
                   "per step; collectives+copies %.1f%% of step time",
                   r->cycles, r->negotiations, r->fused,
                   100 * r->coll_share);
        }
        printf("; cpu %.2f ms/step", r->cpu_s * 1e3);
        if (mode_compressed((perf_mode_t)k) && !mode_flat((perf_mode_t)k)) {
            printf("; sent %.0f B/step", r->sent_B);
        }
        printf("\n");
    }

    const result_t *fu = &res[MODE_FUSED], *un = &res[MODE_UNFUSED],
                   *fl = &res[MODE_FLAT];
    print_target(m->name, "fused/flat", fu->ran && fl->ran,
                 fu->med_s / fl->med_s, fu->min_s / fl->min_s, "<= 1.15",
                 fu->med_s / fl->med_s <= 1.15, 0);
    print_target(m->name, "unfused/fused", fu->ran && un->ran,
                 un->med_s / fu->med_s, un->min_s / fu->min_s, ">= 3",
                 un->med_s / fu->med_s >= 3, 0);
    print_target(m->name, "negotiation", fu->ran, fu->neg_share, -1, "< 5%",
                 fu->neg_share < 0.05, 1);
    fu = &res[MODE_FUSED_C];
    un = &res[MODE_UNFUSED_C];
    fl = &res[MODE_FLAT_C];
    print_target(m->name, "fused-c/flat-c", fu->ran && fl->ran,
                 fu->med_s / fl->med_s, fu->min_s / fl->min_s, NULL, 0, 0);
    print_target(m->name, "unfused-c/fused-c", fu->ran && un->ran,
                 un->med_s / fu->med_s, un->min_s / fu->min_s, NULL, 0, 0);
    print_target(m->name, "negotiation (fused-c)", fu->ran, fu->neg_share,
                 -1, NULL, 0, 1);
    fflush(stdout);

    if (csv == NULL) {
        return;
    }
    for (int k = 0; k < MODE_LAST; k++) {
        const result_t *r = &res[k];
        if (!r->ran) {
            continue;
        }
        const perf_mode_t mode = (perf_mode_t)k;
        const int c = mode_compressed(mode);
        const result_t *flr = &res[c ? MODE_FLAT_C : MODE_FLAT];
        const result_t *unr = &res[c ? MODE_UNFUSED_C : MODE_UNFUSED];
        fprintf(csv, "%s,%s,%d,%d,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%.6f,%.6f,"
                "%.6f,%.6f,", m->name, mode_names[k], b->nranks, m->n,
                m->total * 4, r->groups, r->hits, r->cycles, r->negotiations,
                r->fused, r->med_s * 1e3, r->min_s * 1e3, r->mean_s * 1e3,
                (double)m->total * 4 / 1e9 / r->med_s);
        if (flr->ran) {
            fprintf(csv, "%.4f,", r->med_s / flr->med_s);
        } else {
            fprintf(csv, ",");
        }
        if (mode_fused(mode) && unr->ran) {
            fprintf(csv, "%.4f,", unr->med_s / r->med_s);
        } else {
            fprintf(csv, ",");
        }
        if (mode_flat(mode)) {
            fprintf(csv, ",,");
        } else {
            fprintf(csv, "%.4f,%.4f,", 100 * r->neg_share,
                    100 * r->coll_share);
        }
        fprintf(csv, "%.4f,%.0f,%ld,%s,%s,%s,%s,%u,%d,%d,%s,%s,%s,%llu\n",
                r->cpu_s * 1e3, r->sent_B, r->wrong,
                c ? o->worker : "",
                c ? (o->server ? o->server : o->worker) : "",
                c ? rz_ef_method_name(o->method) : "",
                c ? rz_ef_topology_name(o->topology) : "", c ? o->period : 0,
                o->iters, o->warmup,
                o->inplace ? "in-place" : "out-of-place",
                o->separate ? "separate" : "contiguous",
                o->interleave ? "interleaved" : "blocked",
                (unsigned long long)o->seed);
    }
    fflush(csv);
}

/* ------------------------------------------------------------ a model */

/* Runs every selected mode on @m; returns the wrong results counted. */
static long run_model(rz_comm_h comm, int rank, int nranks, const opts_t *o,
                      const model_t *m, FILE *csv)
{
    bench_t b = {.comm = comm, .rank = rank, .nranks = nranks, .o = o,
                 .m = m};
    result_t res[MODE_LAST];
    const size_t bytes = m->total * sizeof(float);
    const size_t buf_bytes = m->span * sizeof(float);
    long wrong = 0;

    memset(res, 0, sizeof(res));
    b.recv = xmalloc(buf_bytes);
    b.send = o->inplace ? b.recv : xmalloc(buf_bytes);
    if (!o->inplace) {
        fill_input(b.send, m->span, rank);
    }
    b.order = xmalloc((size_t)m->n * sizeof(int));
    b.h = xmalloc((size_t)m->n * sizeof(rz_fusion_handle_h));

    if (rank == 0) {
        printf("#\n# %s: %d tensors, %zu parameters, %.2f MB per step\n",
               m->name, m->n, m->total, (double)bytes / 1e6);
        fflush(stdout);
    }
    mode_run_t runs[MODE_LAST];
    int nrun = 0;
    if (o->interleave) {
        /* Every engine lives through the whole run; step s runs every mode
         * once, starting with a different one each time. */
        for (int k = 0; k < MODE_LAST; k++) {
            if (o->modes & (1u << k)) {
                mode_setup(&b, &runs[nrun++], (perf_mode_t)k, &res[k]);
            }
        }
        for (int step = -o->warmup; step < o->iters; step++) {
            for (int j = 0; j < nrun; j++) {
                mode_step(&b, &runs[(step + o->warmup + j) % nrun], step);
            }
        }
        for (int j = 0; j < nrun; j++) {
            mode_finish(&b, &runs[j]);
        }
    } else {
        for (int k = 0; k < MODE_LAST; k++) {
            if (o->modes & (1u << k)) {
                mode_setup(&b, &runs[0], (perf_mode_t)k, &res[k]);
                for (int step = -o->warmup; step < o->iters; step++) {
                    mode_step(&b, &runs[0], step);
                }
                mode_finish(&b, &runs[0]);
            }
        }
    }
    for (int k = 0; k < MODE_LAST; k++) {
        wrong += res[k].wrong;
    }
    /* Compressed results must not depend on the grouping: fused-c and
     * unfused-c started from fresh state with the same inputs. */
    long differ = -1;
    if (res[MODE_FUSED_C].ran && res[MODE_UNFUSED_C].ran) {
        long mine = res[MODE_FUSED_C].hash != res[MODE_UNFUSED_C].hash;
        check(rank, "rz_allreduce (invariance)",
              rz_allreduce(&mine, &differ, 1, RZ_DTYPE_I64, RZ_OP_SUM, comm));
        wrong += differ;
    }
    if (rank == 0) {
        report(&b, res, csv);
        if (differ >= 0) {
            printf("# %s: fused-c and unfused-c first steps bitwise equal: "
                   "%ld rank(s) differ %s\n", m->name, differ,
                   differ ? "FAILED" : "OK");
        }
        fflush(stdout);
    }
    if (!o->inplace) {
        free(b.send);
    }
    free(b.recv);
    free(b.order);
    free(b.h);
    return wrong;
}

/* ---------------------------------------------------------------- main */

enum {
    OPT_MODES = 256,
    OPT_CYCLE,
    OPT_CACHE,
    OPT_ORDER,
    OPT_SCHEDULE,
    OPT_LAYOUT,
    OPT_WAIT,
    OPT_CSV,
    OPT_LIST,
    OPT_SERVER_COMPRESSOR
};

static const struct option longopts[] = {
    {"model", required_argument, 0, 'M'},
    {"layers", required_argument, 0, 'L'},
    {"embeddings", no_argument, 0, 'E'},
    {"modes", required_argument, 0, OPT_MODES},
    {"iters", required_argument, 0, 'n'},
    {"warmup", required_argument, 0, 'w'},
    {"threshold", required_argument, 0, 'T'},
    {"cycle-time", required_argument, 0, OPT_CYCLE},
    {"cache-capacity", required_argument, 0, OPT_CACHE},
    {"inplace", no_argument, 0, 'I'},
    {"seed", required_argument, 0, 's'},
    {"order", required_argument, 0, OPT_ORDER},
    {"schedule", required_argument, 0, OPT_SCHEDULE},
    {"layout", required_argument, 0, OPT_LAYOUT},
    {"wait", required_argument, 0, OPT_WAIT},
    {"csv", required_argument, 0, OPT_CSV},
    {"list", no_argument, 0, OPT_LIST},
    {"compressor", required_argument, 0, 'c'},
    {"server-compressor", required_argument, 0, OPT_SERVER_COMPRESSOR},
    {"method", required_argument, 0, 'm'},
    {"topology", required_argument, 0, 't'},
    {"period", required_argument, 0, 'p'},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "rz_fusion_perf: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "; see --help\n");
    exit(2);
}

/* A whole non-negative decimal integer up to @max, else usage error. */
static unsigned long long parse_uint(const char *s, unsigned long long max,
                                     const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > max) {
        fprintf(stderr, "rz_fusion_perf: bad %s '%s' (an integer from 0 to "
                "%llu); see --help\n", what, s, max);
        exit(2);
    }
    return v;
}

static void parse_models(opts_t *o, const char *list)
{
    char *dup = strdup(list), *save = NULL;
    o->resnet50 = o->bert = 0;
    for (char *tok = strtok_r(dup, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "resnet50") == 0) {
            o->resnet50 = 1;
        } else if (strcmp(tok, "bert") == 0) {
            o->bert = 1;
        } else if (strcmp(tok, "all") == 0) {
            o->resnet50 = o->bert = 1;
        } else {
            usage_error("unknown model '%s' (resnet50, bert or all)", tok);
        }
    }
    free(dup);
    if (!o->resnet50 && !o->bert) {
        usage_error("-M names no model%s", "");
    }
}

static void parse_modes(opts_t *o, const char *list)
{
    char *dup = strdup(list), *save = NULL;
    o->modes = 0;
    for (char *tok = strtok_r(dup, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int k = 0; k < MODE_LAST; k++) {
            if (strcmp(tok, mode_names[k]) == 0) {
                found = k;
            }
        }
        if (strcmp(tok, "all") == 0) {
            o->modes |= (1u << MODE_LAST) - 1;
        } else if (found < 0) {
            usage_error("unknown mode '%s' (fused, unfused, flat, fused-c, "
                        "unfused-c, flat-c or all)", tok);
        } else {
            o->modes |= 1u << found;
        }
    }
    free(dup);
    if (o->modes == 0) {
        usage_error("--modes names no mode%s", "");
    }
}

/* rzrun (or mpirun, srun) names the rank; without a launcher, one rank. */
static rz_status_t join_job(rz_comm_h *comm_p)
{
    static const char *const vars[] = {"RZ_RANK", "OMPI_COMM_WORLD_RANK",
                                       "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (getenv(vars[i]) != NULL) {
            return rz_comm_init_env(comm_p);
        }
    }
    rz_unique_id_t id;
    rz_status_t st = rz_get_unique_id(&id);
    if (st != RZ_OK) {
        return st;
    }
    return rz_comm_init_rank(comm_p, 1, &id, 0);
}

int main(int argc, char **argv)
{
    opts_t o = {.resnet50 = 1, .bert = 1, .layers = 12, .iters = 20,
                .warmup = 3, .shuffled = 1, .interleave = 1, .separate = 1,
                .seed = 1,
                .method = RZ_EF_METHOD_EF, .topology = RZ_EF_TOPO_SHARDED};
    const char *modes_arg = NULL;
    int ef_only_given = 0, c;

    while ((c = getopt_long(argc, argv, "M:L:En:w:T:Is:c:m:t:p:vh", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'M': parse_models(&o, optarg); break;
        case 'L':
            o.layers = (int)parse_uint(optarg, 1000, "layer count");
            break;
        case 'E': o.embeddings = 1; break;
        case OPT_MODES: modes_arg = optarg; break;
        case 'n': o.iters = (int)parse_uint(optarg, 1000000, "-n"); break;
        case 'w': o.warmup = (int)parse_uint(optarg, 1000000, "-w"); break;
        case 'T': {
            char *end;
            strtod(optarg, &end);
            if (end == optarg || (*end != '\0' && end[1] != '\0')) {
                usage_error("bad threshold '%s'", optarg);
            }
            o.threshold = rz_perf_parse_size(optarg);
            if (o.threshold == 0 && strtod(optarg, NULL) != 0) {
                usage_error("bad threshold '%s'", optarg);
            }
            o.threshold_given = 1;
            break;
        }
        case OPT_CYCLE: {
            char *end;
            o.cycle_ms = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o.cycle_ms > 0)) {
                usage_error("bad cycle time '%s' (milliseconds, > 0)", optarg);
            }
            o.cycle_given = 1;
            break;
        }
        case OPT_CACHE:
            o.cache = (int)parse_uint(optarg, 1u << 30, "cache capacity");
            o.cache_given = 1;
            break;
        case 'I': o.inplace = 1; break;
        case 's': o.seed = parse_uint(optarg, UINT64_MAX, "seed"); break;
        case OPT_ORDER:
            if (strcmp(optarg, "shuffled") == 0) {
                o.shuffled = 1;
            } else if (strcmp(optarg, "backward") == 0) {
                o.shuffled = 0;
            } else {
                usage_error("unknown order '%s' (shuffled or backward)",
                            optarg);
            }
            break;
        case OPT_SCHEDULE:
            if (strcmp(optarg, "interleaved") == 0) {
                o.interleave = 1;
            } else if (strcmp(optarg, "blocked") == 0) {
                o.interleave = 0;
            } else {
                usage_error("unknown schedule '%s' (interleaved or blocked)",
                            optarg);
            }
            break;
        case OPT_LAYOUT:
            if (strcmp(optarg, "separate") == 0) {
                o.separate = 1;
            } else if (strcmp(optarg, "contiguous") == 0) {
                o.separate = 0;
            } else {
                usage_error("unknown layout '%s' (separate or contiguous)",
                            optarg);
            }
            break;
        case OPT_WAIT:
            if (strcmp(optarg, "handles") == 0) {
                o.wait_flush = 0;
            } else if (strcmp(optarg, "flush") == 0) {
                o.wait_flush = 1;
            } else {
                usage_error("unknown wait '%s' (handles or flush)", optarg);
            }
            break;
        case OPT_CSV: o.csv = optarg; break;
        case OPT_LIST: o.list = 1; break;
        case 'c':
            if (optarg[0] == '\0' || optarg[0] == ':') {
                usage_error("-c needs a compressor name%s", "");
            }
            o.worker = optarg;
            break;
        case OPT_SERVER_COMPRESSOR:
            if (optarg[0] == '\0' || optarg[0] == ':') {
                usage_error("--server-compressor needs a compressor name%s",
                            "");
            }
            o.server = optarg;
            ef_only_given = 1;
            break;
        case 'm':
            if (rz_ef_method_parse(optarg, &o.method) != RZ_OK) {
                usage_error("unknown method '%s' (ef, saef, liec or none)",
                            optarg);
            }
            ef_only_given = 1;
            break;
        case 't':
            if (rz_ef_topology_parse(optarg, &o.topology) != RZ_OK) {
                usage_error("unknown topology '%s' (single, sharded, ring or "
                            "ring-exact)", optarg);
            }
            ef_only_given = 1;
            break;
        case 'p':
            o.period = (uint32_t)parse_uint(optarg, UINT32_MAX, "period");
            ef_only_given = 1;
            break;
        case 'v': o.verbose = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (o.iters < 1) {
        usage_error("-n must be at least 1%s", "");
    }
    if (o.layers < 1) {
        usage_error("-L must be at least 1%s", "");
    }
    if (o.worker == NULL && ef_only_given) {
        usage_error("--server-compressor, -m, -t and -p need -c%s", "");
    }
    if (o.method == RZ_EF_METHOD_NONE && o.period != 0) {
        usage_error("-p has no meaning with -m none%s", "");
    }
    if (modes_arg != NULL) {
        parse_modes(&o, modes_arg);
        if (o.worker == NULL &&
            (o.modes & ((1u << MODE_FUSED_C) | (1u << MODE_UNFUSED_C) |
                        (1u << MODE_FLAT_C))) &&
            strstr(modes_arg, "all") == NULL) {
            usage_error("fused-c, unfused-c and flat-c need -c%s", "");
        }
    } else {
        o.modes = (1u << MODE_LAST) - 1;
    }
    if (o.worker == NULL) {
        o.modes &= (1u << MODE_FUSED_C) - 1;
    }

    model_t models[2];
    int nmodels = 0;
    memset(models, 0, sizeof(models));
    if (o.resnet50) {
        model_resnet50(&models[nmodels++]);
    }
    if (o.bert) {
        model_bert(&models[nmodels++], o.layers, o.embeddings);
    }
    if (o.list) {
        for (int i = 0; i < nmodels; i++) {
            model_list(&models[i]);
            model_free(&models[i]);
        }
        return 0;
    }

    rz_comm_h comm;
    int rank, nranks;
    rz_status_t st = join_job(&comm);
    if (st != RZ_OK) {
        fprintf(stderr, "rz_fusion_perf: cannot join the job: %s (start it "
                "with rzrun -np N, or without a launcher for one rank)\n",
                rz_status_string(st));
        return 1;
    }
    rz_comm_rank(comm, &rank);
    rz_comm_size(comm, &nranks);

    FILE *csv = NULL;
    long csv_bad = 0, csv_bad_all = 0;
    if (rank == 0 && o.csv != NULL) {
        csv = fopen(o.csv, "w");
        if (csv == NULL) {
            fprintf(stderr, "rz_fusion_perf: cannot write %s: %s\n", o.csv,
                    strerror(errno));
            csv_bad = 1;
        } else {
            fprintf(csv, "model,mode,nranks,tensors,bytes,groups_per_step,"
                    "cache_hits_per_step,cycles_per_step,"
                    "negotiations_per_step,fused_tensors_per_step,"
                    "step_ms_median,step_ms_min,step_ms_mean,algbw_GBps,"
                    "ratio_flat,speedup_vs_unfused,negotiation_pct,"
                    "collective_pct,cpu_ms_per_step,sent_B_per_step,wrong,"
                    "compressor,server_compressor,method,topology,period,"
                    "iters,warmup,placement,layout,schedule,seed\n");
        }
    }
    rz_allreduce(&csv_bad, &csv_bad_all, 1, RZ_DTYPE_I64, RZ_OP_MAX, comm);
    if (csv_bad_all) {
        rz_comm_destroy(comm);
        return 1;
    }

    if (rank == 0) {
        rz_fusion_config_t cfg;
        rz_fusion_config_init(&cfg);
        int engines = 0;
        for (int k = 0; k < MODE_LAST; k++) {
            engines += (o.modes >> k & 1u) && !mode_flat((perf_mode_t)k);
        }
        if (cfg.timeline != NULL && engines > 1) {
            fprintf(stderr, "rz_fusion_perf: warning: RZ_TIMELINE is set "
                    "and %d engine modes run: their engines write the same "
                    "file; select one with --modes\n", engines);
        }
        printf("# ringzip %s rz_fusion_perf: %d ranks, threshold %zu B, "
               "cycle %g ms, cache %d, %s order (seed %llu), %s, %s "
               "layout, %s, wait %s, %d iters + %d warmup\n",
               rz_version_string(), nranks,
               o.threshold_given ? o.threshold : cfg.fusion_threshold,
               o.cycle_given ? o.cycle_ms : cfg.cycle_time_ms,
               o.cache_given ? o.cache : cfg.cache_capacity,
               o.shuffled ? "shuffled" : "backward",
               (unsigned long long)o.seed,
               o.inplace ? "in-place" : "out-of-place",
               o.separate ? "separate" : "contiguous",
               o.interleave ? "interleaved" : "blocked",
               o.wait_flush ? "flush" : "handles", o.iters, o.warmup);
        if (o.worker != NULL) {
            printf("# compressed modes: method %s, topology %s, worker %s, "
                   "server %s, %s %u\n", rz_ef_method_name(o.method),
                   rz_ef_topology_name(o.topology), o.worker,
                   o.server != NULL ? o.server : o.worker,
                   o.method == RZ_EF_METHOD_LIEC ? "H" : "p", o.period);
        }
        fflush(stdout);
    }

    long wrong = 0;
    for (int i = 0; i < nmodels; i++) {
        model_layout(&models[i], o.separate);
        wrong += run_model(comm, rank, nranks, &o, &models[i], csv);
        model_free(&models[i]);
    }
    if (rank == 0) {
        printf("#\n# Wrong results : %ld %s\n", wrong, wrong ? "FAILED" : "OK");
        fflush(stdout);
        if (csv != NULL) {
            fclose(csv);
        }
    }
    /* Rank 0 prints before a failing exit ends the job. */
    rz_barrier(comm);
    rz_comm_destroy(comm);
    return wrong ? 1 : 0;
}
