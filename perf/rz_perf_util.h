/*
 * Helpers shared by the benchmark programs of perf/ (header-only, so that
 * the MPI benchmark needs nothing from libringzip).
 */
#ifndef RZ_PERF_UTIL_H
#define RZ_PERF_UTIL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Untimed one-float allreduces both allreduce benchmarks run once, before
 * the sweep, so that the first row does not measure start-up (connections
 * still settling, the scheduler placing fresh processes). */
#define RZ_PERF_STARTUP_WARMUP 1000

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

/* SplitMix64: seeds and pseudo-random inputs. */
static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* fp32 bit pattern, with -0 as +0 (bitwise comparisons treat them as
 * equal, ALGORITHMS.md section 5). */
static inline uint64_t rz_perf_f32_bits(const float *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof(u));
    return u == 0x80000000u ? 0 : u;
}

/* A 64-bit hash of @n fp32 values, chained through @h (four independent
 * lanes, so that it runs at memory speed): compared across ranks to count
 * the ranks whose outputs differ. */
static inline uint64_t rz_perf_f32_hash(const float *x, size_t n, uint64_t h)
{
    const uint64_t prime = 0x100000001b3ull;
    uint64_t l0 = h, l1 = h ^ 0x9e3779b97f4a7c15ull,
             l2 = h ^ 0xbf58476d1ce4e5b9ull, l3 = h ^ 0x94d049bb133111ebull;
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        l0 = (l0 ^ rz_perf_f32_bits(&x[i])) * prime;
        l1 = (l1 ^ rz_perf_f32_bits(&x[i + 1])) * prime;
        l2 = (l2 ^ rz_perf_f32_bits(&x[i + 2])) * prime;
        l3 = (l3 ^ rz_perf_f32_bits(&x[i + 3])) * prime;
    }
    for (; i < n; i++) {
        l0 = (l0 ^ rz_perf_f32_bits(&x[i])) * prime;
    }
    uint64_t r = splitmix64(l3 ^ n);
    r = splitmix64(l2 ^ r);
    r = splitmix64(l1 ^ r);
    return splitmix64(l0 ^ r);
}

#endif
