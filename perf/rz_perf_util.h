/*
 * Helpers shared by the benchmark programs of perf/ (header-only, so that
 * the MPI benchmark needs nothing from libringzip).
 */
#ifndef RZ_PERF_UTIL_H
#define RZ_PERF_UTIL_H

#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

/* "64M" -> 67108864: K, M, G suffixes are powers of 2^10; 0 on bad input. */
static inline size_t rz_perf_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1024.0 * 1024; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
    case '\0': break;
    default: return 0;
    }
    return v < 0 ? 0 : (size_t)v;
}

/* The long options of the allreduce benchmarks (rz_allreduce_perf and its
 * MPI twin take the same command line). */
__attribute__((unused)) static const struct option rz_perf_longopts[] = {
    {"minbytes", required_argument, 0, 'b'},
    {"maxbytes", required_argument, 0, 'e'},
    {"stepfactor", required_argument, 0, 'f'},
    {"iters", required_argument, 0, 'n'},
    {"warmup", required_argument, 0, 'w'},
    {"datatype", required_argument, 0, 'd'},
    {"op", required_argument, 0, 'o'},
    {"inplace", no_argument, 0, 'I'},
    {"check-only", no_argument, 0, 'C'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

/* Monotonic time in seconds. */
static inline double rz_perf_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (every thread), in seconds. */
static inline double rz_perf_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif
