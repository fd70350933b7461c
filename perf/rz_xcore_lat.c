/*
 * rz_xcore_lat: round-trip time of one cache line between two CPUs, the
 * second yardstick of perf/compare_mpi.sh. On one host every byte an
 * allreduce moves between ranks on different cores crosses the cache
 * interconnect, so its speed follows this figure. In a VM the host may move
 * the vCPUs between core complexes while a comparison runs; the round trip
 * then jumps (here from 50-95 ns to 310-360 ns) and so does every
 * allreduce time. Measured between runs, it tells which runs saw which
 * machine.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rz_perf_util.h"

static const char usage[] =
"NAME\n"
"    rz_xcore_lat - measure the cache-line round trip between two CPUs\n"
"\n"
"SYNOPSIS\n"
"    rz_xcore_lat [-c A,B] [-t SECONDS]\n"
"\n"
"DESCRIPTION\n"
"    Pins one thread to CPU A and one to CPU B and bounces a counter in one\n"
"    cache line between them for SECONDS: A writes n, B waits for n and\n"
"    writes n + 1, A waits for n + 1, and so on. The time per round trip\n"
"    is taken over blocks of 1024 round trips; the median block is the\n"
"    result, so a moment of preemption does not move it.\n"
"\n"
"    The round trip is what one cache line costs to go from one core to\n"
"    another and back, the unit of every transfer between ranks on one\n"
"    host. It is about 40-100 ns between cores sharing a last-level cache\n"
"    and several times that across sockets or core complexes. In a VM it\n"
"    tells where the host runs the vCPUs right now, which may change from\n"
"    one second to the next; perf/compare_mpi.sh records it between runs.\n"
"\n"
"    Output: '#' header lines, then one line\n"
"      cpu_a  cpu_b  blocks  median_ns  min_ns  max_ns\n"
"\n"
"OPTIONS\n"
"    -c A,B        the two CPUs (default: the first CPU this process may\n"
"                  run on, and the next one on another core)\n"
"    -t SECONDS    how long to measure (default 0.2; it stops earlier\n"
"                  after 100000 blocks)\n"
"    -h, --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 on success; 2 on bad usage; 3 if fewer than two CPUs are usable or\n"
"    the threads could not be pinned or made no progress for a second.\n";

#define RZ_XL_BLOCK 1024                /* round trips per timed block */
#define RZ_XL_MAX_BLOCKS 100000

typedef struct {
    _Alignas(64) atomic_long line;      /* the bounced cache line */
    _Alignas(64) atomic_int  stop;
    int cpu;
    int pinned;
} rz_xl_shared_t;

static int rz_xl_pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Wait until the line holds @want; 0, or -1 once @deadline (s) passes or
 * the other side gave up. The clock is read only every 64Ki polls. */
static int rz_xl_wait(rz_xl_shared_t *sh, long want, double deadline)
{
    unsigned polls = 0;

    while (atomic_load_explicit(&sh->line, memory_order_acquire) != want) {
        if ((++polls & 0xffff) == 0 &&
            (atomic_load_explicit(&sh->stop, memory_order_relaxed) ||
             rz_perf_now_s() > deadline)) {
            return -1;
        }
    }
    return 0;
}

static void *rz_xl_pong(void *arg)
{
    rz_xl_shared_t *sh = arg;
    long n = 1;

    sh->pinned = rz_xl_pin(sh->cpu) == 0;
    if (!sh->pinned) {
        return NULL;    /* the main thread times out and says why */
    }
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        if (rz_xl_wait(sh, n, rz_perf_now_s() + 1.0) != 0) {
            continue;   /* idle for a second: look at stop again */
        }
        atomic_store_explicit(&sh->line, n + 1, memory_order_release);
        n += 2;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Whether CPU @other is a hardware thread of the same core as CPU @cpu,
 * from sysfs ("0,4" or "0-1" lists); 0 when that cannot be read. */
static int rz_xl_same_core(int cpu, int other)
{
    char path[96], list[256];
    FILE *f;
    int same = 0;

    snprintf(path, sizeof(path),
             "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(list, sizeof(list), f) != NULL) {
        for (char *tok = strtok(list, ",\n"); tok != NULL && !same;
             tok = strtok(NULL, ",\n")) {
            int lo, hi;
            int n = sscanf(tok, "%d-%d", &lo, &hi);
            same = (n == 1 && lo == other) ||
                   (n == 2 && lo <= other && other <= hi);
        }
    }
    fclose(f);
    return same;
}

/* The first CPU of this process's affinity mask into @a, and into @b the
 * next one on another core (else just the next one). */
static int rz_xl_default_cpus(int *a, int *b)
{
    cpu_set_t set;
    int first = -1, next = -1;

    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return -1;
    }
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set)) {
            continue;
        }
        if (first < 0) {
            first = c;
        } else if (!rz_xl_same_core(first, c)) {
            next = c;
            break;
        } else if (next < 0) {
            next = c;   /* a sibling: used only if no other core is found */
        }
    }
    if (first < 0 || next < 0) {
        return -1;
    }
    *a = first;
    *b = next;
    return 0;
}

int main(int argc, char **argv)
{
    int cpu_a = -1, cpu_b = -1;
    double seconds = 0.2;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char tail;
            if (sscanf(argv[++i], "%d,%d%c", &cpu_a, &cpu_b, &tail) != 2 ||
                cpu_a < 0 || cpu_b < 0 || cpu_a >= CPU_SETSIZE ||
                cpu_b >= CPU_SETSIZE || cpu_a == cpu_b) {
                fprintf(stderr, "rz_xcore_lat: -c wants two different CPU "
                        "numbers, as in -c 0,1\n");
                return 2;
            }
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            char *end;
            seconds = strtod(argv[++i], &end);
            if (*end != '\0' || !(seconds > 0 && seconds <= 3600)) {
                fprintf(stderr, "rz_xcore_lat: -t wants seconds in (0, 3600]\n");
                return 2;
            }
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (cpu_a < 0 && rz_xl_default_cpus(&cpu_a, &cpu_b) != 0) {
        fprintf(stderr, "rz_xcore_lat: fewer than two CPUs usable here\n");
        return 3;
    }

    static rz_xl_shared_t sh;
    static double block_ns[RZ_XL_MAX_BLOCKS];
    pthread_t pong;
    int err;

    atomic_init(&sh.line, 0);
    atomic_init(&sh.stop, 0);
    sh.cpu = cpu_b;
    if ((err = rz_xl_pin(cpu_a)) != 0) {
        fprintf(stderr, "rz_xcore_lat: cannot pin to CPU %d: %s\n", cpu_a,
                strerror(err));
        return 3;
    }
    if ((err = pthread_create(&pong, NULL, rz_xl_pong, &sh)) != 0) {
        fprintf(stderr, "rz_xcore_lat: pthread_create: %s\n", strerror(err));
        return 3;
    }

    /* One untimed block first (both threads running, the line warm), then
     * timed blocks until SECONDS have passed, at least one. */
    int nblocks = -1, stuck = 0;
    long n = 0;
    double end = rz_perf_now_s() + seconds, t0 = 0;
    while (nblocks < RZ_XL_MAX_BLOCKS) {
        t0 = rz_perf_now_s();
        if (nblocks > 0 && t0 > end) {
            break;
        }
        for (int k = 0; k < RZ_XL_BLOCK; k++) {
            atomic_store_explicit(&sh.line, n + 1, memory_order_release);
            if (rz_xl_wait(&sh, n + 2, t0 + 1.0) != 0) {
                stuck = 1;
                break;
            }
            n += 2;
        }
        if (stuck) {
            break;
        }
        if (nblocks >= 0) {
            block_ns[nblocks] = (rz_perf_now_s() - t0) * 1e9 / RZ_XL_BLOCK;
        }
        nblocks++;
    }
    atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
    pthread_join(pong, NULL);
    if (stuck || !sh.pinned) {
        fprintf(stderr, "rz_xcore_lat: %s CPU %d\n",
                !sh.pinned ? "cannot pin to" : "no round trip for a second with",
                cpu_b);
        return 3;
    }

    qsort(block_ns, (size_t)nblocks, sizeof(block_ns[0]), cmp_double);
    printf("# rz_xcore_lat: cache-line round trip between CPUs %d and %d, "
           "median of %d blocks of %d\n", cpu_a, cpu_b, nblocks, RZ_XL_BLOCK);
    printf("# %5s %5s %7s %10s %8s %8s\n", "cpu_a", "cpu_b", "blocks",
           "median_ns", "min_ns", "max_ns");
    printf("  %5d %5d %7d %10.1f %8.1f %8.1f\n", cpu_a, cpu_b, nblocks,
           (block_ns[(nblocks - 1) / 2] + block_ns[nblocks / 2]) / 2,
           block_ns[0], block_ns[nblocks - 1]);
    return 0;
}
