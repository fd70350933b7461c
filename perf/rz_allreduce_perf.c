/*
 * rz_allreduce_perf: nccl-tests-style allreduce sweep. Every result is
 * checked; times are the maximum over ranks of the mean per iteration.
 */
#include <ringzip/ringzip.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    rz_allreduce_perf - measure ringzip allreduce bandwidth and latency\n"
"\n"
"SYNOPSIS\n"
"    rzrun -np N rz_allreduce_perf [options]\n"
"\n"
"DESCRIPTION\n"
"    Sweeps message sizes from -b to -e bytes, multiplying by -f, and prints\n"
"    one line per size in the columns of nccl-tests:\n"
"      size     bytes per rank (count * element size)\n"
"      count    elements\n"
"      type     element type        redop   reduction operator\n"
"      time_us  mean time per allreduce, the slowest rank's\n"
"      algbw    size / time, in GB/s (GB = 1e9 bytes)\n"
"      busbw    algbw * 2(n-1)/n: the bandwidth each link must sustain,\n"
"               comparable across rank counts\n"
"      #wrong   elements that differ from the expected result, summed over\n"
"               ranks (every iteration's result is checked)\n"
"    Inputs are small integers (exact in every type), so the expected value\n"
"    is known exactly.\n"
"\n"
"OPTIONS\n"
"    -b, --minbytes SIZE   smallest size (default 8); K, M, G suffixes = 2^10..\n"
"    -e, --maxbytes SIZE   largest size (default 64M)\n"
"    -f, --stepfactor F    size multiplier between lines (default 2)\n"
"    -n, --iters N         timed iterations per size (default 20)\n"
"    -w, --warmup N        untimed iterations per size (default 5)\n"
"    -d, --datatype T      f32 f64 f16 bf16 i8 u8 i32 u32 i64 u64 (default f32)\n"
"    -o, --op OP           sum prod min max avg (default sum)\n"
"    -I, --inplace         in-place (sendbuf == recvbuf); default out-of-place\n"
"    -C, --check-only      exit non-zero if any result was wrong\n"
"    -h, --help            this text\n"
"\n"
"ENVIRONMENT\n"
"    The RZ_* variables of rz_info -c; rzrun sets RZ_RANK, RZ_SIZE and\n"
"    RZ_ROOT_ADDR.\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 if a collective failed (or, with -C, a result was\n"
"    wrong); 2 on bad usage.\n"
"\n"
"EXAMPLES\n"
"    rzrun -np 4 rz_allreduce_perf -b 8 -e 256M -f 4\n"
"    rzrun -np 2 rz_allreduce_perf -d bf16 -o max -I\n";

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

int main(int argc, char **argv)
{
    size_t minb = 8, maxb = 64u << 20;
    double factor = 2;
    int iters = 20, warmup = 5, inplace = 0, strict = 0;
    rz_dtype_t dtype = RZ_DTYPE_F32;
    rz_op_t op = RZ_OP_SUM;
    int c;

    while ((c = getopt_long(argc, argv, "b:e:f:n:w:d:o:ICh", rz_perf_longopts, NULL))
           != -1) {
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
            break;
        }
        case 'I': inplace = 1; break;
        case 'C': strict = 1; break;
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
    size_t es = rz_dtype_size(dtype);
    if (rank == 0) {
        printf("# ringzip %s rz_allreduce_perf: %d ranks, %s, %s, %s, "
               "%d iters + %d warmup\n", rz_version_string(), nranks,
               rz_dtype_name(dtype), rz_op_name(op),
               inplace ? "in-place" : "out-of-place", iters, warmup);
        printf("#\n# %12s %12s %6s %6s %10s %8s %8s %7s\n", "size", "count",
               "type", "redop", "time_us", "algbw", "busbw", "#wrong");
        printf("# %12s %12s %6s %6s %10s %8s %8s %7s\n", "(B)", "(elements)",
               "", "", "(us)", "(GB/s)", "(GB/s)", "");
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
        double elapsed = 0;
        for (int it = -warmup; it < iters; it++) {
            for (size_t i = 0; i < count; i++) {
                store(dtype, in, i, input_value(op, rank, i));
            }
            void *src = in;
            if (inplace) {
                memcpy(out, in, bytes);
                src = out;
            }
            rz_barrier(comm);
            double t0 = rz_perf_now_s();
            st = rz_allreduce(src, out, count, dtype, op, comm);
            double t1 = rz_perf_now_s();
            if (st != RZ_OK) {
                fprintf(stderr, "rank %d: allreduce of %zu B failed: %s\n",
                        rank, bytes, rz_status_string(st));
                failed = 1;
                break;
            }
            if (it >= 0) {
                elapsed += t1 - t0;
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
        double t_mean = elapsed / iters, t_max;
        long wrong_all;
        rz_allreduce(&t_mean, &t_max, 1, RZ_DTYPE_F64, RZ_OP_MAX, comm);
        rz_allreduce(&wrong, &wrong_all, 1, RZ_DTYPE_I64, RZ_OP_SUM, comm);
        total_wrong += wrong_all;
        if (rank == 0) {
            double algbw = (double)bytes / t_max / 1e9;
            double busbw = algbw * 2.0 * (nranks - 1) / nranks;
            printf("  %12zu %12zu %6s %6s %10.2f %8.3f %8.3f %7ld\n", bytes,
                   count, rz_dtype_name(dtype), rz_op_name(op), t_max * 1e6,
                   algbw, busbw, wrong_all);
            fflush(stdout);
        }
        free(in);
        free(out);
        free(want);
    }
    if (rank == 0 && !failed) {
        printf("# Out of bounds values : %ld %s\n", total_wrong,
               total_wrong ? "FAILED" : "OK");
    }
    rz_comm_destroy(comm);
    return failed || (strict && total_wrong) ? 1 : 0;
}
