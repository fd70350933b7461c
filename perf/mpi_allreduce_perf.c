/*
 * mpi_allreduce_perf: the MPI_Allreduce twin of rz_allreduce_perf, for
 * side-by-side comparisons (perf/compare_mpi.sh). Same options (a subset),
 * same columns, same inputs, same checks and the same timing rule, so that
 * the two programs differ only in the library under test.
 */
#include <mpi.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    mpi_allreduce_perf - measure MPI_Allreduce bandwidth and latency\n"
"\n"
"SYNOPSIS\n"
"    mpirun -np N mpi_allreduce_perf [options]\n"
"\n"
"DESCRIPTION\n"
"    The MPI counterpart of rz_allreduce_perf: same options (f32 and sum\n"
"    only), same inputs, same checks and the same output columns, so the\n"
"    two can be compared line by line. Sweeps message sizes from -b to -e\n"
"    bytes, multiplying by -f, and prints one line per size:\n"
"      size     bytes per rank (count * element size)\n"
"      count    elements\n"
"      type     element type        redop   reduction operator\n"
"      time_us  mean time per allreduce, the slowest rank's\n"
"      algbw    size / time, in GB/s (GB = 1e9 bytes)\n"
"      busbw    algbw * 2(n-1)/n: the bandwidth each link must sustain,\n"
"               comparable across rank counts\n"
"      #wrong   elements that differ from the expected result, summed over\n"
"               ranks (every iteration's result is checked)\n"
"    The input is written once per size. Each iteration (in place: after\n"
"    copying the input into the output) passes an MPI_Barrier, times one\n"
"    MPI_Allreduce(MPI_FLOAT, MPI_SUM) with MPI_Wtime and compares the\n"
"    result with the expected one: the same untimed work as\n"
"    rz_allreduce_perf, which matters when ranks share cores. Inputs are\n"
"    small integers, so the expected sum is exact.\n"
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
"    -d, --datatype T      f32 only (default f32)\n"
"    -o, --op OP           sum only (default sum)\n"
"    -I, --inplace         in-place (MPI_IN_PLACE); default out-of-place\n"
"    -C, --check-only      exit non-zero if any result was wrong\n"
"    -h, --help            this text\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 if a result was wrong (with -C) or memory ran out;\n"
"    2 on bad usage. An MPI error aborts the job (MPI_ERRORS_ARE_FATAL).\n"
"\n"
"EXAMPLES\n"
"    mpirun -np 4 mpi_allreduce_perf -b 8 -e 256M -f 4\n"
"    mpirun -np 2 --mca pml ob1 --mca btl vader,self mpi_allreduce_perf -I\n";

/* The same inputs as rz_allreduce_perf's for sum. */
static float input_value(int rank, size_t i)
{
    return (float)((rank * 3 + i) % 7);
}

/* Parse before MPI_Init so --help and usage errors need no launcher.
 * Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, size_t *minb_p, size_t *maxb_p,
                      double *factor_p, int *iters_p, int *warmup_p,
                      int *inplace_p, int *strict_p)
{
    int c;

    while ((c = getopt_long(argc, argv, "b:e:f:n:w:d:o:ICh", rz_perf_longopts, NULL))
           != -1) {
        switch (c) {
        case 'b': *minb_p = rz_perf_parse_size(optarg); break;
        case 'e': *maxb_p = rz_perf_parse_size(optarg); break;
        case 'f': *factor_p = atof(optarg); break;
        case 'n': *iters_p = atoi(optarg); break;
        case 'w': *warmup_p = atoi(optarg); break;
        case 'd':
            if (strcmp(optarg, "f32") != 0) {
                fprintf(stderr, "mpi_allreduce_perf: type '%s' not supported "
                        "(f32 only)\n", optarg);
                return 2;
            }
            break;
        case 'o':
            if (strcmp(optarg, "sum") != 0) {
                fprintf(stderr, "mpi_allreduce_perf: op '%s' not supported "
                        "(sum only)\n", optarg);
                return 2;
            }
            break;
        case 'I': *inplace_p = 1; break;
        case 'C': *strict_p = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc || *minb_p == 0 || *maxb_p < *minb_p ||
        *factor_p <= 1.0 || *iters_p < 1 || *warmup_p < 0) {
        fprintf(stderr, "mpi_allreduce_perf: bad arguments (need 0 < -b <= "
                "-e, -f > 1, -n >= 1, -w >= 0); see --help\n");
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    size_t minb = 8, maxb = 64u << 20;
    double factor = 2;
    int iters = 20, warmup = 5, inplace = 0, strict = 0;
    int rank, nranks;
    int rc = parse_args(argc, argv, &minb, &maxb, &factor, &iters, &warmup,
                        &inplace, &strict);
    if (rc >= 0) {
        return rc;
    }

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    const size_t es = sizeof(float);
    if (rank == 0) {
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int len;
        MPI_Get_library_version(lib, &len);
        lib[strcspn(lib, ",\n")] = '\0';    /* "Open MPI v4.1.4" */
        printf("# %s mpi_allreduce_perf: %d ranks, f32, sum, %s, "
               "%d iters + %d warmup\n", lib, nranks,
               inplace ? "in-place" : "out-of-place", iters, warmup);
        printf("#\n# %12s %12s %6s %6s %10s %8s %8s %7s\n", "size", "count",
               "type", "redop", "time_us", "algbw", "busbw", "#wrong");
        printf("# %12s %12s %6s %6s %10s %8s %8s %7s\n", "(B)", "(elements)",
               "", "", "(us)", "(GB/s)", "(GB/s)", "");
        fflush(stdout);
    }
    /* Start-up warm-up, as in rz_allreduce_perf: the first row should not
     * measure what the processes do just after start. */
    for (int i = 0; i < RZ_PERF_STARTUP_WARMUP; i++) {
        float x = 1, y;
        MPI_Allreduce(&x, &y, 1, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    long total_wrong = 0;
    int failed = 0;
    for (double sz = (double)minb; sz <= (double)maxb * 1.0000001; sz *= factor) {
        size_t count = (size_t)sz / es;
        if (count == 0) {
            continue;
        }
        if (count > (size_t)0x7fffffff) {
            /* MPI counts are int. */
            if (rank == 0) {
                fprintf(stderr, "mpi_allreduce_perf: %zu elements exceed an "
                        "MPI count; stopping\n", count);
            }
            break;
        }
        size_t bytes = count * es;
        float *in = malloc(bytes), *out = malloc(bytes), *want = malloc(bytes);
        int oom = in == NULL || out == NULL || want == NULL, oom_any;
        MPI_Allreduce(&oom, &oom_any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (oom_any) {
            if (oom) {
                fprintf(stderr, "rank %d: out of memory at %zu B\n", rank,
                        bytes);
            }
            free(in);
            free(out);
            free(want);
            failed = 1;
            break;
        }
        for (size_t i = 0; i < count; i++) {
            float acc = 0;
            for (int r = 0; r < nranks; r++) {
                acc += input_value(r, i);
            }
            want[i] = acc;
        }
        long wrong = 0;
        double elapsed = 0;
        /* The input once per size: a correct allreduce leaves it alone
         * (a wrong one shows in #wrong). Untimed work per iteration is the
         * same as rz_allreduce_perf's, which matters when ranks share
         * cores: one rank's untimed work competes with another's call. */
        for (size_t i = 0; i < count; i++) {
            in[i] = input_value(rank, i);
        }
        for (int it = -warmup; it < iters; it++) {
            const void *src = in;
            if (inplace) {
                memcpy(out, in, bytes);
                src = MPI_IN_PLACE;
            }
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(src, out, (int)count, MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD);
            double t1 = MPI_Wtime();
            if (it >= 0) {
                elapsed += t1 - t0;
            }
            if (memcmp(out, want, bytes) != 0) {
                for (size_t i = 0; i < count; i++) {
                    wrong += memcmp(&out[i], &want[i], es) != 0;
                }
            }
        }
        double t_mean = elapsed / iters, t_max;
        long wrong_all;
        MPI_Allreduce(&t_mean, &t_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&wrong, &wrong_all, 1, MPI_LONG, MPI_SUM,
                      MPI_COMM_WORLD);
        total_wrong += wrong_all;
        if (rank == 0) {
            double algbw = (double)bytes / t_max / 1e9;
            double busbw = algbw * 2.0 * (nranks - 1) / nranks;
            printf("  %12zu %12zu %6s %6s %10.2f %8.3f %8.3f %7ld\n", bytes,
                   count, "f32", "sum", t_max * 1e6, algbw, busbw, wrong_all);
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
    MPI_Finalize();
    return failed || (strict && total_wrong) ? 1 : 0;
}
