/*
 * rz_allreduce_perf: nccl-tests-style allreduce sweep. Every result is
 * checked; times are the maximum over ranks of the mean per iteration.
 * With -c it times the compressed exchange of <ringzip/ef.h> instead.
 */
#include <ringzip/ringzip.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    rz_allreduce_perf - measure ringzip allreduce bandwidth and latency,\n"
"    plain or compressed with error compensation\n"
"\n"
"SYNOPSIS\n"
"    rzrun -np N rz_allreduce_perf [-b SIZE] [-e SIZE] [-f F] [-n N] [-w N]\n"
"                                  [-d TYPE] [-o OP] [-I] [-C] [-u]\n"
"    rzrun -np N rz_allreduce_perf -c NAME[:PARAMS]\n"
"                                  [--server-compressor NAME[:PARAMS]]\n"
"                                  [-m METHOD] [-t TOPOLOGY] [-p P]\n"
"                                  [-b SIZE] [-e SIZE] [-f F] [-n N] [-w N]\n"
"                                  [-I] [-C]\n"
"\n"
"DESCRIPTION\n"
"    Sweeps message sizes from -b to -e bytes, multiplying by -f, and prints\n"
"    one line per size in the columns of nccl-tests. Each of the -w warm-up\n"
"    and -n timed iterations passes an rz_barrier and then times one call\n"
"    (CLOCK_MONOTONIC); time_us is the mean over the timed iterations, the\n"
"    slowest rank's. GB = 1e9 bytes throughout.\n"
"\n"
"  Plain mode (the default) times rz_allreduce. Columns:\n"
"      size     bytes per rank (count * element size)\n"
"      count    elements\n"
"      type     element type        redop   reduction operator\n"
"      time_us  mean time per allreduce, the slowest rank's\n"
"      algbw    size / time, in GB/s (GB = 1e9 bytes)\n"
"      busbw    algbw * 2(n-1)/n: the bandwidth each link must sustain,\n"
"               comparable across rank counts\n"
"      #wrong   elements that differ from the expected result, summed over\n"
"               ranks (every iteration's result is checked)\n"
"      cpu_us   with -u only: process CPU time per allreduce, the largest\n"
"               over ranks (see CPU TIME below)\n"
"    Inputs are small integers (exact in every type), so the expected value\n"
"    is known exactly. The input is written once per size; in place, each\n"
"    iteration copies it into the output first. The untimed work of an\n"
"    iteration (that copy, the barrier, the check) is the same as\n"
"    mpi_allreduce_perf's, which matters when ranks share cores: one\n"
"    rank's untimed work competes with another's timed call.\n"
"\n"
"  Compressed mode (-c) times the error-compensated compressed allreduce of\n"
"    <ringzip/ef.h> instead. For each size it creates one context\n"
"    (rz_ef_create) for count = size / 4 fp32 elements with the method,\n"
"    topology, compressors and period of the options, and times\n"
"    rz_ef_exchange(in, out): EF and SAEF read in as the local model update\n"
"    and return the global update q, LIEC reads a gradient and returns\n"
"    q + delta, method none the compressed mean. On LIEC's sync iterations\n"
"    ((t + 1) mod P == 0) it times rz_ef_liec_sync instead, on a local model\n"
"    the program keeps (zeros at first, x -= 0.01 * out after every call,\n"
"    outside the timing). Error state carries over from the warm-up into\n"
"    the timed iterations, as in training, and periodic operations (error\n"
"    averaging, LIEC syncs) are timed and counted in the calls that perform\n"
"    them. Inputs are pseudo-random floats in [-1, 1): different on every\n"
"    rank, the same in every iteration and in every run. Every call passes\n"
"    an rz_ef_stats_t (wire_B comes from it), so times include what the\n"
"    library computes for the statistics. Columns:\n"
"      size     uncompressed bytes per rank (count * 4)\n"
"      count    fp32 elements (d)\n"
"      type     always f32\n"
"      redop    always avg: every method exchanges a (compressed) mean\n"
"      time_us  mean time per call, the slowest rank's\n"
"      algbw    EFFECTIVE bandwidth: size (uncompressed bytes) / time, in\n"
"               GB/s, so that it compares directly with plain mode's algbw\n"
"      busbw    algbw * 2(n-1)/n, as in plain mode\n"
"      wire_B   bytes this rank put on the wire per call: the mean over the\n"
"               timed calls of rz_ef_stats_t.bytes_sent (periodic\n"
"               operations included), rounded to the byte, the largest\n"
"               over ranks\n"
"      ratio    compression ratio: size * 2(n-1)/n, what a ring allreduce\n"
"               sends per rank, over wire_B; '-' when wire_B is 0 (n = 1)\n"
"      cpu_us   process CPU time per call, the largest over ranks\n"
"      #wrong   EF, SAEF and none: the number of ranks whose outputs differ\n"
"               from rank 0's (a hash of every iteration's out, with -0 =\n"
"               +0), since q must be bitwise the same on every rank. LIEC:\n"
"               always 0, since out = q + delta differs by design.\n"
"\n"
"  CPU TIME (cpu_us) is CLOCK_PROCESS_CPUTIME_ID around the call: every\n"
"    thread of the rank, including the time a wait polls for a peer before\n"
"    it blocks (RZ_SPIN_US). With RZ_SPIN_US=0 waits block at once and\n"
"    cpu_us comes closest to the computing cost (encoding, decoding and\n"
"    summing) of a call.\n"
"\n"
"OPTIONS\n"
"    -b, --minbytes SIZE   smallest size (default 8); K, M, G suffixes = 2^10..\n"
"    -e, --maxbytes SIZE   largest size (default 64M)\n"
"    -f, --stepfactor F    size multiplier between lines (default 2)\n"
"    -n, --iters N         timed iterations per size (default 20)\n"
"    -w, --warmup N        untimed iterations per size (default 5); once,\n"
"                          before the sweep, 1000 untimed one-float\n"
"                          allreduces also run, so that the first row\n"
"                          does not measure start-up\n"
"    -d, --datatype T      f32 f64 f16 bf16 i8 u8 i32 u32 i64 u64 (default f32;\n"
"                          only f32 with -c)\n"
"    -o, --op OP           sum prod min max avg (default sum; with -c the\n"
"                          exchange is a mean, and only avg is accepted)\n"
"    -I, --inplace         in-place (sendbuf == recvbuf, or in == out for\n"
"                          rz_ef_exchange); default out-of-place\n"
"    -C, --check-only      exit non-zero if any result was wrong\n"
"    -u, --cpu-time        plain mode: add the cpu_us column at the end of\n"
"                          each line. Off by default, because\n"
"                          perf/compare_mpi.sh reads lines of exactly eight\n"
"                          columns; compressed mode always prints cpu_us.\n"
"    -c, --compressor NAME[:PARAMS]\n"
"                          compressed mode, with this worker compressor\n"
"                          plugin and parameter string: none, sign,\n"
"                          blocksign, topk, randk, qsgd, fp16, bf16 (rz_info\n"
"                          lists the plugins found), e.g. sign,\n"
"                          topk:ratio=0.01, blocksign:block=512\n"
"        --server-compressor NAME[:PARAMS]\n"
"                          compressor of the server (owner) step (default:\n"
"                          the -c one); none gives single-way compression\n"
"    -m, --method M        ef, saef, liec or none (default ef): error\n"
"                          feedback, step-ahead error feedback, local\n"
"                          immediate error compensation, or no error state\n"
"    -t, --topology T      single (one server, rank 0), sharded (rank r\n"
"                          serves chunk r), ring (re-compressing ring\n"
"                          reduce-scatter + relay) or ring-exact (a ring that\n"
"                          relays every contribution unchanged; for tests)\n"
"                          (default sharded)\n"
"    -p, --period P        EF/SAEF: the error-averaging period p; LIEC: the\n"
"                          model-averaging (sync) period H; 0 = never\n"
"                          (default 0); not with -m none\n"
"    -h, --help            this text\n"
"    --server-compressor, -m, -t and -p need -c.\n"
"\n"
"ENVIRONMENT\n"
"    The RZ_* variables of rz_info -c; rzrun sets RZ_RANK, RZ_SIZE and\n"
"    RZ_ROOT_ADDR. RZ_ALLREDUCE_ALGO picks plain mode's algorithm (the\n"
"    compressed exchange has its own pattern per topology), RZ_SPIN_US how\n"
"    long waits poll (see CPU TIME), RZ_PLUGIN_PATH where compressor\n"
"    plugins are looked for first and RZ_COMPRESSORS which may be loaded.\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 if a collective or an rz_ef_* call failed (the rank\n"
"    prints the call and rz_status_string's message) or, with -C, a result\n"
"    was wrong; 2 on bad usage.\n"
"\n"
"EXAMPLES\n"
"    rzrun -np 4 rz_allreduce_perf -b 8 -e 256M -f 4\n"
"    rzrun -np 2 rz_allreduce_perf -d bf16 -o max -I\n"
"    rzrun -np 4 rz_allreduce_perf -b 1M -e 64M -f 4 -c sign\n"
"    rzrun -np 4 rz_allreduce_perf -b 1M -e 64M -f 4 -c topk:ratio=0.01 \\\n"
"          -m saef -t ring -p 20\n"
"    rzrun -np 4 rz_allreduce_perf -c sign -m liec -p 32 \\\n"
"          --server-compressor none\n"
"    The compressed exchange against the plain ring allreduce at 64 MiB on\n"
"    4 ranks (issue 5's targets: the first line's cpu_us at most twice the\n"
"    second line's time_us, and its ratio at least 30):\n"
"    rzrun -np 4 rz_allreduce_perf -b 64M -e 64M -c sign\n"
"    rzrun -np 4 -x RZ_ALLREDUCE_ALGO=ring rz_allreduce_perf -b 64M \\\n"
"          -e 64M -u\n";

/* Small exact integers: all types and ops stay exact and in range. */
static double input_value(rz_op_t op, int rank, size_t i)
{
    if (op == RZ_OP_PROD) {
        return (double)((rank + i) % 2 + 1) * (((rank + i) % 5 == 0) ? -1 : 1);
    }
    return (double)((rank * 3 + i) % 7);
}

static void store(rz_dtype_t t, void *buf, size_t i, double v)
{
    switch (t) {
    case RZ_DTYPE_F32: ((float *)buf)[i] = (float)v; break;
    case RZ_DTYPE_F64: ((double *)buf)[i] = v; break;
    case RZ_DTYPE_F16: {
        /* exact small integers and halves only */
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        uint16_t h = (uint16_t)(((u >> 16) & 0x8000) |
                                (f == 0 ? 0 : ((((u >> 23) & 0xff) - 112) << 10)
                                                  | ((u >> 13) & 0x3ff)));
        ((uint16_t *)buf)[i] = h;
        break;
    }
    case RZ_DTYPE_BF16: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        ((uint16_t *)buf)[i] = (uint16_t)(u >> 16);
        break;
    }
    case RZ_DTYPE_I8: ((int8_t *)buf)[i] = (int8_t)v; break;
    case RZ_DTYPE_U8: ((uint8_t *)buf)[i] = (uint8_t)(int)v; break;
    case RZ_DTYPE_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case RZ_DTYPE_U32: ((uint32_t *)buf)[i] = (uint32_t)(int64_t)v; break;
    case RZ_DTYPE_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
    case RZ_DTYPE_U64: ((uint64_t *)buf)[i] = (uint64_t)(int64_t)v; break;
    default: break;
    }
}

/* Options of the compressed mode (-c). */
typedef struct {
    const char      *worker;  /* NULL: plain mode */
    const char      *server;  /* NULL: the same as worker */
    rz_ef_method_t   method;
    rz_ef_topology_t topology;
    uint32_t         period;  /* EF/SAEF p or LIEC H */
} perf_ef_opts_t;

/* The long options of both benchmarks plus this one's own. */
enum { OPT_SERVER_COMPRESSOR = 256 };
static const struct option ef_longopts[] = {
    {"cpu-time", no_argument, 0, 'u'},
    {"compressor", required_argument, 0, 'c'},
    {"server-compressor", required_argument, 0, OPT_SERVER_COMPRESSOR},
    {"method", required_argument, 0, 'm'},
    {"topology", required_argument, 0, 't'},
    {"period", required_argument, 0, 'p'},
};
#define N_SHARED_OPTS \
    (sizeof(rz_perf_longopts) / sizeof(rz_perf_longopts[0]) - 1)
#define N_EF_OPTS (sizeof(ef_longopts) / sizeof(ef_longopts[0]))
static struct option longopts[N_SHARED_OPTS + N_EF_OPTS + 1];

static void build_longopts(void)
{
    memcpy(longopts, rz_perf_longopts, N_SHARED_OPTS * sizeof(struct option));
    memcpy(longopts + N_SHARED_OPTS, ef_longopts, sizeof(ef_longopts));
    memset(&longopts[N_SHARED_OPTS + N_EF_OPTS], 0, sizeof(struct option));
}

/* Pseudo-random floats in [-1, 1), multiples of 2^-23, per rank. */
static void ef_fill_input(float *x, size_t n, int rank)
{
    uint64_t base = splitmix64((uint64_t)rank + 1);
    for (size_t i = 0; i < n; i++) {
        int32_t v = (int32_t)(splitmix64(base + i) >> 40) - (1 << 23);
        x[i] = (float)v * 0x1p-23f;
    }
}

static void ef_fail(int rank, const char *call, size_t bytes, rz_status_t st)
{
    fprintf(stderr, "rank %d: %s at %zu B failed: %s\n", rank, call, bytes,
            rz_status_string(st));
    exit(1);
}

/* The compressed sweep; returns the number of ranks with wrong outputs,
 * summed over sizes. */
static long run_compressed(rz_comm_h comm, int rank, int nranks,
                           const perf_ef_opts_t *o, size_t minb, size_t maxb,
                           double factor, int iters, int warmup, int inplace)
{
    const int liec = o->method == RZ_EF_METHOD_LIEC;
    const float lr = 0.01f;
    long total_wrong = 0;

    for (double sz = (double)minb; sz <= (double)maxb * 1.0000001;
         sz *= factor) {
        size_t count = (size_t)sz / sizeof(float);
        if (count == 0) {
            continue;
        }
        size_t bytes = count * sizeof(float);
        float *in = malloc(bytes), *out = malloc(bytes);
        float *x = liec ? calloc(count, sizeof(float)) : NULL;
        if (in == NULL || out == NULL || (liec && x == NULL)) {
            fprintf(stderr, "rz_allreduce_perf: out of memory at %zu B\n",
                    bytes);
            exit(1);
        }
        ef_fill_input(in, count, rank);

        rz_ef_config_t cfg;
        rz_ef_config_init(&cfg);
        cfg.method = o->method;
        cfg.topology = o->topology;
        cfg.worker_compressor = o->worker;
        cfg.server_compressor = o->server != NULL ? o->server : o->worker;
        if (liec) {
            cfg.model_avg_period = o->period;
        } else {
            cfg.err_avg_period = o->period;
        }
        rz_ef_h ef;
        rz_status_t st = rz_ef_create(comm, count, &cfg, NULL, NULL, NULL, &ef);
        if (st != RZ_OK) {
            ef_fail(rank, "rz_ef_create", bytes, st);
        }

        double elapsed = 0, cpu = 0, wire = 0;
        uint64_t hash = 0;
        long off_schedule = 0;
        for (int it = -warmup; it < iters; it++) {
            const float *src = in;
            if (inplace) {
                memcpy(out, in, bytes);
                src = out;
            }
            /* LIEC low-level mode: the sync iterations are the caller's. */
            int sync = liec && o->period > 0 &&
                       (rz_ef_iteration(ef) + 1) % o->period == 0;
            rz_ef_stats_t es;
            memset(&es, 0, sizeof(es));
            const char *call = sync ? "rz_ef_liec_sync" : "rz_ef_exchange";
            rz_barrier(comm);
            double c0 = rz_perf_cpu_s();
            double t0 = rz_perf_now_s();
            if (sync) {
                st = rz_ef_liec_sync(ef, x, in, out, &es);
            } else {
                st = rz_ef_exchange(ef, src, out, &es);
                if (st == RZ_ERR_NEED_SYNC && liec) {
                    /* The library disagrees with (t + 1) mod H: do as it
                     * says, and say so below. */
                    off_schedule++;
                    call = "rz_ef_liec_sync";
                    memset(&es, 0, sizeof(es));
                    st = rz_ef_liec_sync(ef, x, in, out, &es);
                }
            }
            double t1 = rz_perf_now_s();
            double c1 = rz_perf_cpu_s();
            if (st != RZ_OK) {
                ef_fail(rank, call, bytes, st);
            }
            if (it >= 0) {
                elapsed += t1 - t0;
                cpu += c1 - c0;
                wire += (double)es.bytes_sent;
            }
            if (liec) {
                for (size_t i = 0; i < count; i++) {
                    x[i] -= lr * out[i];
                }
            } else {
                hash = rz_perf_f32_hash(out, count, hash);
            }
        }
        if (off_schedule > 0) {
            fprintf(stderr, "rank %d: warning: at %zu B rz_ef_exchange "
                    "returned RZ_ERR_NEED_SYNC %ld time(s) where "
                    "(t + 1) mod %u != 0\n", rank, bytes, off_schedule,
                    o->period);
        }
        rz_ef_destroy(ef);

        double mine[3] = {elapsed / iters, cpu / iters, wire / iters}, all[3];
        uint64_t hash0 = hash;
        rz_allreduce(mine, all, 3, RZ_DTYPE_F64, RZ_OP_MAX, comm);
        rz_broadcast(&hash, &hash0, 1, RZ_DTYPE_U64, 0, comm);
        long differs = !liec && hash != hash0, wrong_all;
        rz_allreduce(&differs, &wrong_all, 1, RZ_DTYPE_I64, RZ_OP_SUM, comm);
        total_wrong += wrong_all;
        if (rank == 0) {
            double t_max = all[0];
            double algbw = (double)bytes / t_max / 1e9;
            double busbw = algbw * 2.0 * (nranks - 1) / nranks;
            double ring_bytes = (double)bytes * 2.0 * (nranks - 1) / nranks;
            char ratio[32];
            if (all[2] > 0) {
                snprintf(ratio, sizeof(ratio), "%.2f", ring_bytes / all[2]);
            } else {
                snprintf(ratio, sizeof(ratio), "-");
            }
            printf("  %12zu %12zu %6s %6s %10.2f %8.3f %8.3f %12.0f %8s "
                   "%10.2f %7ld\n", bytes, count, "f32", "avg", t_max * 1e6,
                   algbw, busbw, all[2], ratio, all[1] * 1e6, wrong_all);
            fflush(stdout);
        }
        free(in);
        free(out);
        free(x);
    }
    return total_wrong;
}

static void usage_error(const char *msg)
{
    fprintf(stderr, "rz_allreduce_perf: %s; see --help\n", msg);
    exit(2);
}

int main(int argc, char **argv)
{
    size_t minb = 8, maxb = 64u << 20;
    double factor = 2;
    int iters = 20, warmup = 5, inplace = 0, strict = 0, show_cpu = 0;
    int op_given = 0, ef_only_given = 0;
    rz_dtype_t dtype = RZ_DTYPE_F32;
    rz_op_t op = RZ_OP_SUM;
    perf_ef_opts_t efo = {NULL, NULL, RZ_EF_METHOD_EF, RZ_EF_TOPO_SHARDED, 0};
    int c;

    build_longopts();
    while ((c = getopt_long(argc, argv, "b:e:f:n:w:d:o:ICuc:m:t:p:h", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'b': minb = rz_perf_parse_size(optarg); break;
        case 'e': maxb = rz_perf_parse_size(optarg); break;
        case 'f': factor = atof(optarg); break;
        case 'n': iters = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'd': {
            int found = -1;
            for (int t = 0; t < RZ_DTYPE_LAST; t++) {
                if (strcmp(optarg, rz_dtype_name((rz_dtype_t)t)) == 0) {
                    found = t;
                }
            }
            if (found < 0) {
                fprintf(stderr, "rz_allreduce_perf: unknown type '%s'\n",
                        optarg);
                return 2;
            }
            dtype = (rz_dtype_t)found;
            break;
        }
        case 'o': {
            int found = -1;
            for (int o = 0; o < RZ_OP_LAST; o++) {
                if (strcmp(optarg, rz_op_name((rz_op_t)o)) == 0) {
                    found = o;
                }
            }
            if (found < 0) {
                fprintf(stderr, "rz_allreduce_perf: unknown op '%s'\n", optarg);
                return 2;
            }
            op = (rz_op_t)found;
            op_given = 1;
            break;
        }
        case 'I': inplace = 1; break;
        case 'C': strict = 1; break;
        case 'u': show_cpu = 1; break;
        case 'c':
            if (optarg[0] == '\0' || optarg[0] == ':') {
                usage_error("-c needs a compressor name");
            }
            efo.worker = optarg;
            break;
        case OPT_SERVER_COMPRESSOR:
            if (optarg[0] == '\0' || optarg[0] == ':') {
                usage_error("--server-compressor needs a compressor name");
            }
            efo.server = optarg;
            ef_only_given = 1;
            break;
        case 'm':
            if (rz_ef_method_parse(optarg, &efo.method) != RZ_OK) {
                fprintf(stderr, "rz_allreduce_perf: unknown method '%s' "
                        "(ef, saef, liec or none)\n", optarg);
                return 2;
            }
            ef_only_given = 1;
            break;
        case 't':
            if (rz_ef_topology_parse(optarg, &efo.topology) != RZ_OK) {
                fprintf(stderr, "rz_allreduce_perf: unknown topology '%s' "
                        "(single, sharded, ring or ring-exact)\n", optarg);
                return 2;
            }
            ef_only_given = 1;
            break;
        case 'p': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
                errno != 0 || v > UINT32_MAX) {
                fprintf(stderr, "rz_allreduce_perf: bad period '%s' (an "
                        "integer from 0 to %u)\n", optarg, UINT32_MAX);
                return 2;
            }
            efo.period = (uint32_t)v;
            ef_only_given = 1;
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc || minb == 0 || maxb < minb || factor <= 1.0 ||
        iters < 1 || warmup < 0) {
        fprintf(stderr, "rz_allreduce_perf: bad arguments (need 0 < -b <= -e, "
                "-f > 1, -n >= 1, -w >= 0); see --help\n");
        return 2;
    }
    if (efo.worker == NULL && ef_only_given) {
        usage_error("--server-compressor, -m, -t and -p need -c");
    }
    if (efo.worker != NULL) {
        if (dtype != RZ_DTYPE_F32) {
            fprintf(stderr, "rz_allreduce_perf: -c needs -d f32 (the "
                    "compressed exchange is fp32 only), not -d %s; see "
                    "--help\n", rz_dtype_name(dtype));
            return 2;
        }
        if (op_given && op != RZ_OP_AVG) {
            fprintf(stderr, "rz_allreduce_perf: -c computes a mean: -o %s is "
                    "not possible (leave -o out, or give avg); see --help\n",
                    rz_op_name(op));
            return 2;
        }
        if (efo.method == RZ_EF_METHOD_NONE && efo.period != 0) {
            usage_error("-p has no meaning with -m none");
        }
    }

    rz_comm_h comm;
    int rank, nranks;
    rz_status_t st = rz_comm_init_env(&comm);
    if (st != RZ_OK) {
        fprintf(stderr, "rz_allreduce_perf: cannot join the job: %s (start it "
                "with rzrun -np N)\n", rz_status_string(st));
        return 1;
    }
    rz_comm_rank(comm, &rank);
    rz_comm_size(comm, &nranks);
    /* Start-up warm-up, as in mpi_allreduce_perf: the first row should
     * not measure what the processes do just after start. */
    for (int i = 0; i < RZ_PERF_STARTUP_WARMUP; i++) {
        float x = 1, y;
        rz_allreduce(&x, &y, 1, RZ_DTYPE_F32, RZ_OP_SUM, comm);
    }
    rz_barrier(comm);

    if (efo.worker != NULL) {
        if (rank == 0) {
            printf("# ringzip %s rz_allreduce_perf: %d ranks, compressed "
                   "exchange: method %s, topology %s, worker %s, server %s, "
                   "%s %u, %s, %d iters + %d warmup\n", rz_version_string(),
                   nranks, rz_ef_method_name(efo.method),
                   rz_ef_topology_name(efo.topology), efo.worker,
                   efo.server != NULL ? efo.server : efo.worker,
                   efo.method == RZ_EF_METHOD_LIEC ? "H" : "p", efo.period,
                   inplace ? "in-place" : "out-of-place", iters, warmup);
            printf("#\n# %12s %12s %6s %6s %10s %8s %8s %12s %8s %10s %7s\n",
                   "size", "count", "type", "redop", "time_us", "algbw",
                   "busbw", "wire_B", "ratio", "cpu_us", "#wrong");
            printf("# %12s %12s %6s %6s %10s %8s %8s %12s %8s %10s %7s\n",
                   "(B)", "(elements)", "", "", "(us)", "(GB/s)", "(GB/s)",
                   "(B/rank)", "", "(us)", "");
            fflush(stdout);
        }
        long wrong = run_compressed(comm, rank, nranks, &efo, minb, maxb,
                                    factor, iters, warmup, inplace);
        if (rank == 0) {
            if (efo.method == RZ_EF_METHOD_LIEC) {
                printf("# Outputs not compared across ranks (LIEC: out = "
                       "q + delta differs by design)\n");
            } else {
                printf("# Ranks whose outputs differ from rank 0's : %ld %s\n",
                       wrong, wrong ? "FAILED" : "OK");
            }
            fflush(stdout);
        }
        /* With -C every rank exits 1 on a wrong result, and rzrun ends the
         * job at the first such exit: let rank 0 print first. */
        rz_barrier(comm);
        rz_comm_destroy(comm);
        return strict && wrong ? 1 : 0;
    }

    size_t es = rz_dtype_size(dtype);
    if (rank == 0) {
        printf("# ringzip %s rz_allreduce_perf: %d ranks, %s, %s, %s, "
               "%d iters + %d warmup\n", rz_version_string(), nranks,
               rz_dtype_name(dtype), rz_op_name(op),
               inplace ? "in-place" : "out-of-place", iters, warmup);
        printf("#\n# %12s %12s %6s %6s %10s %8s %8s %7s%s\n", "size", "count",
               "type", "redop", "time_us", "algbw", "busbw", "#wrong",
               show_cpu ? "     cpu_us" : "");
        printf("# %12s %12s %6s %6s %10s %8s %8s %7s%s\n", "(B)", "(elements)",
               "", "", "(us)", "(GB/s)", "(GB/s)", "",
               show_cpu ? "       (us)" : "");
    }
    long total_wrong = 0;
    int failed = 0;
    for (double sz = (double)minb; sz <= (double)maxb * 1.0000001; sz *= factor) {
        size_t count = (size_t)sz / es;
        if (count == 0) {
            continue;
        }
        size_t bytes = count * es;
        char *in = malloc(bytes), *out = malloc(bytes), *want = malloc(bytes);
        if (in == NULL || out == NULL || want == NULL) {
            fprintf(stderr, "rz_allreduce_perf: out of memory at %zu B\n",
                    bytes);
            return 1;
        }
        /* Expected result, from exact small-integer inputs. */
        for (size_t i = 0; i < count; i++) {
            double acc = input_value(op, 0, i);
            for (int r = 1; r < nranks; r++) {
                double v = input_value(op, r, i);
                acc = op == RZ_OP_PROD ? acc * v
                    : op == RZ_OP_MIN ? fmin(acc, v)
                    : op == RZ_OP_MAX ? fmax(acc, v) : acc + v;
            }
            store(dtype, want, i, op == RZ_OP_AVG ? acc / nranks : acc);
        }
        long wrong = 0;
        double elapsed = 0, cpu = 0;
        /* The input once per size: a correct allreduce leaves it alone
         * (a wrong one shows in #wrong). Untimed work per iteration is the
         * same as mpi_allreduce_perf's, which matters when ranks share
         * cores: one rank's untimed work competes with another's call. */
        for (size_t i = 0; i < count; i++) {
            store(dtype, in, i, input_value(op, rank, i));
        }
        for (int it = -warmup; it < iters; it++) {
            void *src = in;
            if (inplace) {
                memcpy(out, in, bytes);
                src = out;
            }
            rz_barrier(comm);
            /* The CPU clock is a system call (and is not in the MPI twin):
             * read it only when asked to. */
            double c0 = show_cpu ? rz_perf_cpu_s() : 0;
            double t0 = rz_perf_now_s();
            st = rz_allreduce(src, out, count, dtype, op, comm);
            double t1 = rz_perf_now_s();
            double c1 = show_cpu ? rz_perf_cpu_s() : 0;
            if (st != RZ_OK) {
                fprintf(stderr, "rank %d: allreduce of %zu B failed: %s\n",
                        rank, bytes, rz_status_string(st));
                failed = 1;
                break;
            }
            if (it >= 0) {
                elapsed += t1 - t0;
                cpu += c1 - c0;
            }
            /* avg of small integers may round; compare within one ulp of
             * the type by checking the bytes of the exact cases only. */
            if (op != RZ_OP_AVG && memcmp(out, want, bytes) != 0) {
                for (size_t i = 0; i < bytes; i += es) {
                    wrong += memcmp(out + i, want + i, es) != 0;
                }
            }
        }
        if (failed) {
            break;
        }
        double t_mean[2] = {elapsed / iters, cpu / iters}, t_max[2];
        long wrong_all;
        rz_allreduce(t_mean, t_max, 2, RZ_DTYPE_F64, RZ_OP_MAX, comm);
        rz_allreduce(&wrong, &wrong_all, 1, RZ_DTYPE_I64, RZ_OP_SUM, comm);
        total_wrong += wrong_all;
        if (rank == 0) {
            double algbw = (double)bytes / t_max[0] / 1e9;
            double busbw = algbw * 2.0 * (nranks - 1) / nranks;
            printf("  %12zu %12zu %6s %6s %10.2f %8.3f %8.3f %7ld", bytes,
                   count, rz_dtype_name(dtype), rz_op_name(op),
                   t_max[0] * 1e6, algbw, busbw, wrong_all);
            if (show_cpu) {
                printf(" %10.2f", t_max[1] * 1e6);
            }
            printf("\n");
            fflush(stdout);
        }
        free(in);
        free(out);
        free(want);
    }
    if (rank == 0 && !failed) {
        printf("# Out of bounds values : %ld %s\n", total_wrong,
               total_wrong ? "FAILED" : "OK");
        fflush(stdout);
    }
    if (!failed) {
        rz_barrier(comm); /* rank 0 prints before a -C exit ends the job */
    }
    rz_comm_destroy(comm);
    return failed || (strict && total_wrong) ? 1 : 0;
}
