/*
 * rz_memcpy_bw: single-thread memcpy bandwidth, the yardstick beside which
 * allreduce bandwidths on one host are read (perf/compare_mpi.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    rz_memcpy_bw - measure single-thread memcpy bandwidth\n"
"\n"
"SYNOPSIS\n"
"    rz_memcpy_bw [-s SIZE] [-r REPS]\n"
"\n"
"DESCRIPTION\n"
"    Copies SIZE bytes from one buffer to another with memcpy, REPS times,\n"
"    in one thread, and prints the median bandwidth (and the best and\n"
"    worst). Both buffers are page-aligned and written before timing\n"
"    starts, and one untimed copy precedes the timed ones, so page faults\n"
"    are not measured.\n"
"\n"
"    Convention: GB/s = SIZE / time / 1e9, counting the bytes copied once.\n"
"    The memory system moves at least twice that (SIZE read plus SIZE\n"
"    written, more with write-allocate). Use a SIZE well above the last-\n"
"    level cache to measure memory rather than cache.\n"
"\n"
"    Output: '#' header lines, then one line\n"
"      size  reps  median_GBps  best_GBps  worst_GBps\n"
"\n"
"OPTIONS\n"
"    -s SIZE   bytes per copy (default 64M); K, M, G suffixes = 2^10..\n"
"    -r REPS   timed copies (default 21)\n"
"    -h        this text\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 1 if memory ran out; 2 on bad usage.\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t size = 64u << 20;
    int reps = 21;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            size = rz_perf_parse_size(argv[++i]);
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (size == 0 || reps < 1) {
        fprintf(stderr, "rz_memcpy_bw: need -s > 0 and -r >= 1\n");
        return 2;
    }

    size_t alloc = (size + 4095) & ~(size_t)4095;
    char *src = aligned_alloc(4096, alloc), *dst = aligned_alloc(4096, alloc);
    double *bw = malloc((size_t)reps * sizeof(*bw));
    if (src == NULL || dst == NULL || bw == NULL) {
        fprintf(stderr, "rz_memcpy_bw: out of memory for 2 x %zu B\n", size);
        return 1;
    }
    /* Non-zero bytes: pages really backed, not the shared zero page. */
    memset(src, 0x5a, alloc);
    memset(dst, 0xa5, alloc);
    memcpy(dst, src, size);

    /* The volatile read of the copy keeps the compiler from dropping it. */
    volatile char sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = rz_perf_now_s();
        memcpy(dst, src, size);
        double t1 = rz_perf_now_s();
        sink = (char)(sink + dst[(size_t)r * 4093 % size]);
        bw[r] = (double)size / (t1 - t0) / 1e9;
    }
    qsort(bw, (size_t)reps, sizeof(*bw), cmp_double);

    printf("# rz_memcpy_bw: single-thread memcpy, %zu B per copy, %d reps; "
           "GB/s = bytes copied (counted once) / time / 1e9\n", size, reps);
    printf("# %12s %6s %12s %10s %10s\n", "size", "reps", "median_GBps",
           "best_GBps", "worst_GBps");
    double median = (bw[(reps - 1) / 2] + bw[reps / 2]) / 2;
    printf("  %12zu %6d %12.3f %10.3f %10.3f\n", size, reps, median,
           bw[reps - 1], bw[0]);
    free(bw);
    free(dst);
    free(src);
    return 0;
}
