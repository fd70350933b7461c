/*
 * Tests of the tensor fusion engine (include/ringzip/fusion.h, issue 6).
 *
 *   test_fusion [--threads K] [--cases LIST] [--small] [--dir DIR] [--keep]
 *               [--victim R] [--victim-stop] [--stall-missing R,R,...]
 *               [--verbose]
 *
 * Without --threads, ranks are processes started by rzrun
 * (rz_comm_init_env). With --threads K, K threads of this process each join
 * through rz_get_unique_id()/rz_comm_init_rank(). LIST is a comma-separated
 * choice of the cases below ("all" = every case but deadpeer; the default is
 * order,mismatch,compress,shutdown,badargs).
 *
 *  order     ~40 named tensors (1 .. 300000 elements; f32, f64, i32, one
 *            f16; sum, max, min, avg; in and out of place) enqueued in a
 *            rank-specific shuffled order for 6 steps under seven engine
 *            configurations (default, threshold 0, threshold 4096 B, cache
 *            0, cache 4, cycle 5 ms, enqueue from two threads per rank).
 *            Steps alternate two sets of buffers, toggle some tensors
 *            between in and out of place, drop a few tensors (the same on
 *            every rank), pause while enqueueing on odd steps, and rotate
 *            how they wait: flush then wait in enqueue order, an allreduce
 *            on the parent communicator then wait in another shuffled order,
 *            rz_fusion_test polling. Inputs are multiples of 2^-4 (or small
 *            integers), so every result is exact: compared bitwise with a
 *            double reference, out-of-place inputs must be untouched, and a
 *            hash of the outputs is allgathered and compared across ranks.
 *            Counters: tensors, payload bytes, groups/fused tensors per
 *            threshold, cache hits and negotiations per cache setting; under
 *            the 4096-byte threshold rank 0's timeline (group_tensors,
 *            group_bytes of each ALLREDUCE) shows no fused group over it.
 *            Then tensors carved out of one arena in six layouts (the
 *            copy-free path: the same order on every rank, in and out of
 *            place, reversed; and layouts that must fall back: a per-rank
 *            permutation, gaps on some ranks, gaps in the outputs), 1500
 *            steps of two tensors waited for at once on a 2 us cycle, and
 *            1500 small tensors a step, more than the cache holds.
 *  mismatch  the same name with a different count (on rank 1, on rank 0),
 *            dtype, op, compressor, compression vs none, and a different
 *            count for a name already in the response cache: every rank's
 *            handle returns RZ_ERR_MISMATCH; tensors beside and after them
 *            reduce correctly, and the names can be used again, also with a
 *            count, dtype or op that every rank changes the same way. Fields
 *            fusion.h calls ignored (ef.momentum, ef.weight_decay) may
 *            differ across ranks.
 *  stall     ranks in --stall-missing (default 1) never enqueue 'stall.x'
 *            nor 'stall.c' (which went through once before, so it is in the
 *            response cache); stall_warning_s 0.5, stall_timeout_s 2: the
 *            others' handles get RZ_ERR_TIMEOUT in [1.5, 10] s, rank 0's log
 *            (stderr, captured) has for each a line with "tensor 'NAME'" and
 *            "missing on ranks L" (L: comma-separated, runs as a-b); tensors
 *            enqueued meanwhile complete; afterwards the name works on every
 *            rank.
 *  compress  16 f32/avg tensors (12 compressed under six settings: EF sign
 *            sharded, SAEF sign ring, EF blocksign:block=4 single, NONE fp16
 *            sharded, EF topk:ratio=0.1 sharded p=2, LIEC sign sharded H=3
 *            with liec_model; 4 uncompressed), 7 steps of pseudo-random
 *            inputs plus a step where one tensor changes its compressor:
 *            engine outputs and LIEC models under the default threshold,
 *            threshold 0 and cache 0 are bitwise equal to rz_ef_exchange /
 *            rz_ef_liec_sync / rz_allreduce on a duplicate communicator, one
 *            rz_ef context per tensor created in name order; LOCAL_ERR,
 *            SERVER_ERR and the iteration of rz_fusion_get_ef equal the
 *            reference context's; ef_bytes_sent/recv equal the reference
 *            calls' byte counts.
 *  shutdown  (a) a tensor only rank 0 enqueued: destroy everywhere, the
 *            handle then gives RZ_ERR_ABORTED (wait and test); (b) one rank
 *            (the last, then rank 0) destroys while the others have tensors
 *            pending: those end RZ_ERR_ABORTED, a later enqueue fails, their
 *            destroy returns; (c) destroy right after create; (d) flush then
 *            destroy with rank 0 first: the others' flush, all their tensors
 *            done, returns RZ_OK. Each < 10 s.
 *  deadpeer  (processes) rank --victim (default K-1) SIGKILLs itself (with
 *            --victim-stop: SIGSTOPs itself, its engine thread frozen too)
 *            while the others have tensors pending: with RZ_TIMEOUT_MS every
 *            survivor's handles fail within RZ_TIMEOUT_MS + 5 s, its destroy
 *            returns within 5 s, then it prints "survivor-ok".
 *  badargs   argument checks of every call, the name length bound (1023
 *            works, 1024 does not), compression of f64/sum/f16 refused,
 *            LIEC without a model, a name pending twice, avg of i32, an
 *            unknown compressor, a single-server rank out of range, ignored
 *            fields out of range, partially overlapping buffers (each
 *            refused or failing its tensor alone, the engine still working),
 *            bad engine configurations (cycle time <= 0, a timeline in a
 *            missing directory) failing on every rank.
 *  timeline  a timeline path with "%r" under --dir (else a temporary
 *            directory): every rank's file names NEGOTIATE, ALLREDUCE,
 *            MEMCPY_IN/OUT_FUSION_BUFFER (when a group was fused), COMPRESS,
 *            DECOMPRESS and a thread_name record with a tensor name; a path
 *            without "%r" is written by rank 0 alone.
 *            tests/fusion/test_timeline.sh also parses them with python3.
 *
 * Failures print "rank R FAIL [case K=..] (line N): ..." and make the exit
 * status non-zero. A watchdog ends the process (exit 3, with a FAIL line)
 * when a case runs past its time budget, so a hang is reported as one.
 */
#include "common/rz_test_ranks.h"

#include <ringzip/ringzip.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

enum {
    C_ORDER    = 1 << 0,
    C_MISMATCH = 1 << 1,
    C_STALL    = 1 << 2,
    C_COMPRESS = 1 << 3,
    C_SHUTDOWN = 1 << 4,
    C_DEADPEER = 1 << 5,
    C_BADARGS  = 1 << 6,
    C_TIMELINE = 1 << 7
};

static const struct {
    const char *name;
    unsigned bit;
} g_case_names[] = {
    {"order", C_ORDER},       {"mismatch", C_MISMATCH},
    {"stall", C_STALL},       {"compress", C_COMPRESS},
    {"shutdown", C_SHUTDOWN}, {"deadpeer", C_DEADPEER},
    {"badargs", C_BADARGS},   {"timeline", C_TIMELINE},
};

static unsigned g_cases = C_ORDER | C_MISMATCH | C_COMPRESS | C_SHUTDOWN |
                          C_BADARGS;
static int g_small = 0;
static int g_verbose = 0;
static int g_keep = 0;
static int g_victim = -1;
static int g_victim_stop = 0;
static const char *g_dir = NULL;
static const char *g_stall_missing = "1";

/* ------------------------------------------------------------------ */
/* Bookkeeping                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    rz_comm_h comm;
    int rank, K;
    int threads; /* ranks are threads of one process */
    long checks, fails;
    int reported;
    char where[96];
} tst_t;

static void failf(tst_t *T, int line, const char *fmt, ...)
{
    T->fails++;
    if (T->reported++ >= 40) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("rank %d FAIL [%s K=%d] (line %d): %s\n", T->rank, T->where, T->K,
           line, msg);
    fflush(stdout);
}

#define CHECK(T, cond, ...)                                                    \
    do {                                                                       \
        (T)->checks++;                                                         \
        if (!(cond)) {                                                         \
            failf((T), __LINE__, __VA_ARGS__);                                 \
        }                                                                      \
    } while (0)

#define SS(s) rz_status_string(s)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_ms(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
    nanosleep(&ts, NULL);
}

/* The watchdog: a case that runs past its budget is a hang. */
static pthread_mutex_t g_wd_lock = PTHREAD_MUTEX_INITIALIZER;
static double g_wd_deadline = 0;
static char g_wd_what[64];

static void wd_arm(const char *what, double seconds)
{
    pthread_mutex_lock(&g_wd_lock);
    g_wd_deadline = now_s() + seconds;
    snprintf(g_wd_what, sizeof(g_wd_what), "%s", what);
    pthread_mutex_unlock(&g_wd_lock);
}

static void *wd_main(void *arg)
{
    (void)arg;
    for (;;) {
        sleep_ms(200);
        pthread_mutex_lock(&g_wd_lock);
        int fire = g_wd_deadline > 0 && now_s() > g_wd_deadline;
        pthread_mutex_unlock(&g_wd_lock);
        if (fire) {
            printf("FAIL watchdog: case '%s' still running after its time "
                   "budget (a hang)\n", g_wd_what);
            fflush(stdout);
            _exit(3);
        }
    }
    return NULL;
}

static void barrier(tst_t *T)
{
    rz_status_t s = rz_barrier(T->comm);
    CHECK(T, s == RZ_OK, "barrier on the parent communicator: %s", SS(s));
}

/* ------------------------------------------------------------------ */
/* Data                                                               */
/* ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t key4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d);
}

/* Fisher-Yates over 0..n-1 with a seeded generator. */
static void shuffle(int *v, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        v[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
        seed = mix64(seed);
        int j = (int)(seed % (uint64_t)(i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* Rank r's small integer in [-8, 7] from one element hash: every rank's
 * input, and so the reference, costs one hash per element. */
static int small_val(uint64_t h, int rank)
{
    return (int)((h >> (4 * (rank % 16))) & 15) - 8;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, b + i, n - i);
    return mix64(h ^ w ^ ((uint64_t)n << 56));
}

/* binary16 <-> fp32 (round to nearest even; the test's values are exact). */
static uint16_t f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    }
    if (ax >= 0x477ff000u) { /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (ax < 0x38800000u) { /* subnormal or zero in binary16 */
        float a;
        memcpy(&a, &ax, 4);
        /* a * 2^24 rounded to nearest even is the subnormal's mantissa */
        double m = (double)a * 16777216.0;
        double r = nearbyint(m);
        return (uint16_t)(sign | (uint32_t)r);
    }
    uint32_t e = (ax >> 23) - 112, m = ax & 0x7fffffu;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
        h++;
    }
    return (uint16_t)(sign | h);
}

static float h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31,
             m = h & 0x3ffu;
    if (e == 0) {
        float f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    }
    uint32_t x = sign | (e == 31 ? 0x7f800000u | (m << 13)
                                 : ((e + 112) << 23) | (m << 13));
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static double small_scaled(rz_dtype_t dt, int v)
{
    return dt == RZ_DTYPE_I32 ? (double)v : v * 0.0625;
}

static void fill_small(void *buf, rz_dtype_t dt, size_t n, uint64_t base,
                       int rank)
{
    for (size_t i = 0; i < n; i++) {
        int v = small_val(mix64(base + i), rank);
        switch (dt) {
        case RZ_DTYPE_F32: ((float *)buf)[i] = (float)v * 0.0625f; break;
        case RZ_DTYPE_F64: ((double *)buf)[i] = v * 0.0625; break;
        case RZ_DTYPE_I32: ((int32_t *)buf)[i] = v; break;
        case RZ_DTYPE_F16: ((uint16_t *)buf)[i] = f2h((float)v * 0.0625f); break;
        default: break;
        }
    }
}

/* Element i of the exact result of @op over the K ranks' fill_small values,
 * as the raw bits of @dt (in a uint64_t). */
static uint64_t want_small(rz_dtype_t dt, rz_op_t op, uint64_t h, int K)
{
    double acc = small_scaled(dt, small_val(h, 0));
    for (int r = 1; r < K; r++) {
        double v = small_scaled(dt, small_val(h, r));
        if (op == RZ_OP_SUM || op == RZ_OP_AVG) {
            acc += v;
        } else if (op == RZ_OP_MAX) {
            acc = v > acc ? v : acc;
        } else if (op == RZ_OP_MIN) {
            acc = v < acc ? v : acc;
        }
    }
    uint64_t bits = 0;
    if (dt == RZ_DTYPE_F32 || dt == RZ_DTYPE_F16) {
        float f = (float)acc;
        if (op == RZ_OP_AVG) {
            /* sum, then one fp32 multiplication by fp32(1/K): the product
             * of two floats is exact in double, so this rounds once */
            f = (float)((double)f * (double)(float)(1.0 / K));
        }
        if (dt == RZ_DTYPE_F16) {
            bits = f2h(f);
        } else {
            uint32_t u;
            memcpy(&u, &f, 4);
            bits = u;
        }
    } else if (dt == RZ_DTYPE_F64) {
        double d = op == RZ_OP_AVG ? acc * (1.0 / K) : acc;
        memcpy(&bits, &d, 8);
    } else {
        int32_t i = (int32_t)acc;
        uint32_t u;
        memcpy(&u, &i, 4);
        bits = u;
    }
    return bits;
}

static uint64_t elem_bits(const void *buf, rz_dtype_t dt, size_t i)
{
    uint64_t bits = 0;
    size_t es = rz_dtype_size(dt);
    memcpy(&bits, (const char *)buf + i * es, es);
    return bits;
}

static double bits_value(uint64_t bits, rz_dtype_t dt)
{
    switch (dt) {
    case RZ_DTYPE_F32: {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case RZ_DTYPE_F64: {
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    case RZ_DTYPE_F16: return h2f((uint16_t)bits);
    case RZ_DTYPE_I32: return (double)(int32_t)(uint32_t)bits;
    default: return 0;
    }
}

/* Bitwise check of an exact result; reports the first wrong element. */
static int verify_small(tst_t *T, int line, const char *what, const void *out,
                        rz_dtype_t dt, rz_op_t op, size_t n, uint64_t base)
{
    T->checks++;
    for (size_t i = 0; i < n; i++) {
        uint64_t want = want_small(dt, op, mix64(base + i), T->K);
        uint64_t got = elem_bits(out, dt, i);
        if (got != want) {
            failf(T, line, "%s (%s %s, %zu elements): element %zu: got %.9g "
                  "(0x%llx) want %.9g (0x%llx)", what, rz_dtype_name(dt),
                  rz_op_name(op), n, i, bits_value(got, dt),
                  (unsigned long long)got, bits_value(want, dt),
                  (unsigned long long)want);
            return 0;
        }
    }
    return 1;
}

/* The input of an out-of-place tensor must come back untouched. */
static int verify_input(tst_t *T, int line, const char *what, const void *in,
                        rz_dtype_t dt, size_t n, uint64_t base)
{
    size_t es = rz_dtype_size(dt);
    void *ref = malloc(n * es);
    fill_small(ref, dt, n, base, T->rank);
    int ok = memcmp(ref, in, n * es) == 0;
    T->checks++;
    if (!ok) {
        failf(T, line, "%s: the engine wrote into the out-of-place input",
              what);
    }
    free(ref);
    return ok;
}

/* Every rank's @h must equal rank 0's (allgathered on the parent comm). */
static void same_on_all(tst_t *T, int line, const char *what, uint64_t h)
{
    uint64_t *all = calloc((size_t)T->K, sizeof(*all));
    rz_status_t s = rz_allgather(&h, all, 1, RZ_DTYPE_U64, T->comm);
    T->checks++;
    if (s != RZ_OK) {
        failf(T, line, "%s: allgather of output hashes: %s", what, SS(s));
    } else {
        for (int r = 0; r < T->K; r++) {
            if (all[r] != all[0]) {
                failf(T, line, "%s: outputs differ between rank 0 and rank "
                      "%d (hash %016llx vs %016llx)", what, r,
                      (unsigned long long)all[0], (unsigned long long)all[r]);
                break;
            }
        }
    }
    free(all);
}

/* Uniform in [-1, 1) with 24 significant bits at one of a few power-of-two
 * scales, exact zeros 1/16 of the time: gradients for the compressors. */
static float gen_grad(uint64_t seed, int rank, int t, int j, size_t i)
{
    uint64_t h = mix64(key4(seed, (uint64_t)rank, (uint64_t)t,
                            (uint64_t)j) + i);
    if ((h & 15) == 0) {
        return 0.0f;
    }
    static const float sc[4] = {1.0f, 0.25f, 4.0f, 0.0625f};
    double u = (double)((h >> 40) & 0xFFFFFF) * 0x1p-24 * 2.0 - 1.0;
    return (float)u * sc[(i / 7 + (size_t)j) % 4];
}

static char *read_file(const char *path, size_t *n_p)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = 0;
    fclose(f);
    *n_p = n;
    return buf;
}

/* Every group in rank 0's timeline @path of more than one tensor holds at
 * most @threshold bytes; returns the number of such groups. */
static int check_group_sizes(tst_t *T, const char *path, size_t threshold)
{
    size_t n = 0;
    char *txt = read_file(path, &n);
    CHECK(T, txt != NULL, "timeline %s: missing", path);
    if (txt == NULL) {
        return 0;
    }
    int fused = 0, bad = 0;
    for (const char *p = txt; (p = strstr(p, "\"group_tensors\":"));) {
        p += strlen("\"group_tensors\":");
        long m = strtol(p, NULL, 10);
        const char *q = strstr(p, "\"group_bytes\":");
        if (q == NULL) {
            break;
        }
        unsigned long long b = strtoull(q + strlen("\"group_bytes\":"), NULL,
                                        10);
        if (m > 1) {
            fused++;
            if (b > threshold && !bad++) {
                failf(T, __LINE__, "a fusion group of %ld tensors holds %llu "
                      "bytes, over the threshold of %zu", m, b, threshold);
            }
        }
    }
    T->checks++;
    free(txt);
    return fused;
}

/* ------------------------------------------------------------------ */
/* Engine helpers                                                     */
/* ------------------------------------------------------------------ */

static rz_fusion_h make_engine(tst_t *T, const rz_fusion_config_t *cfg,
                               const char *what)
{
    rz_fusion_h fu = NULL;
    rz_status_t s = rz_fusion_create(T->comm, cfg, &fu);
    CHECK(T, s == RZ_OK && fu != NULL, "rz_fusion_create (%s): %s", what,
          SS(s));
    return s == RZ_OK ? fu : NULL;
}

static void kill_engine(tst_t *T, rz_fusion_h fu)
{
    if (fu == NULL) {
        return;
    }
    double t0 = now_s();
    rz_status_t s = rz_fusion_destroy(fu);
    CHECK(T, s == RZ_OK, "rz_fusion_destroy: %s", SS(s));
    CHECK(T, now_s() - t0 < 5.0, "rz_fusion_destroy took %.1f s",
          now_s() - t0);
}

static rz_fusion_stats_t get_stats(tst_t *T, rz_fusion_h fu)
{
    rz_fusion_stats_t st;
    memset(&st, 0, sizeof(st));
    rz_status_t s = rz_fusion_get_stats(fu, &st);
    CHECK(T, s == RZ_OK, "rz_fusion_get_stats: %s", SS(s));
    return st;
}

static void print_stats(tst_t *T, const char *what, const rz_fusion_stats_t *st)
{
    if (!g_verbose && T->rank != 0) {
        return;
    }
    printf("fusion: rank %d %s: cycles %llu negotiations %llu cache_hits %llu "
           "tensors %llu groups %llu fused %llu payload %llu ef %llu/%llu B "
           "neg %.3f s coll %.3f s\n", T->rank, what,
           (unsigned long long)st->cycles, (unsigned long long)st->negotiations,
           (unsigned long long)st->cache_hits,
           (unsigned long long)st->tensors, (unsigned long long)st->groups,
           (unsigned long long)st->fused_tensors,
           (unsigned long long)st->payload_bytes,
           (unsigned long long)st->ef_bytes_sent,
           (unsigned long long)st->ef_bytes_recv, st->negotiation_s,
           st->collective_s);
}

/* One tensor through every rank (it lands in the response cache). */
static void warmup(tst_t *T, rz_fusion_h fu, const char *name)
{
    float a[64];
    uint64_t base = key4(0x5D, (uint64_t)strlen(name), 0, 0);
    fill_small(a, RZ_DTYPE_F32, 64, base, T->rank);
    rz_fusion_handle_h h = NULL;
    rz_status_t s = rz_fusion_enqueue_allreduce(fu, name, a, a, 64,
                                                RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                                                &h);
    CHECK(T, s == RZ_OK, "enqueue %s: %s", name, SS(s));
    s = rz_fusion_wait(&h);
    CHECK(T, s == RZ_OK, "%s: %s", name, SS(s));
    if (s == RZ_OK) {
        verify_small(T, __LINE__, name, a, RZ_DTYPE_F32, RZ_OP_SUM, 64, base);
    }
}

/* Wait for @n handles (NULL entries are skipped) in the order @ord (NULL:
 * 0..n-1); statuses into @st. */
static void wait_all(rz_fusion_handle_h *h, rz_status_t *st, int n,
                     const int *ord)
{
    for (int k = 0; k < n; k++) {
        int i = ord ? ord[k] : k;
        if (h[i] != NULL) {
            st[i] = rz_fusion_wait(&h[i]);
        }
    }
}

/* Poll with rz_fusion_test until every handle is done or @limit_s passes;
 * returns the number still pending. */
static int poll_all(tst_t *T, rz_fusion_handle_h *h, rz_status_t *st, int n,
                    double limit_s)
{
    double dl = now_s() + limit_s;
    int left = 0;
    for (int i = 0; i < n; i++) {
        left += h[i] != NULL;
    }
    int bad_progress = 0;
    while (left > 0 && now_s() < dl) {
        for (int i = 0; i < n; i++) {
            if (h[i] == NULL) {
                continue;
            }
            int done = -1;
            rz_status_t s = rz_fusion_test(&h[i], &done);
            if (done == 1) {
                if (h[i] != NULL && !bad_progress++) {
                    failf(T, __LINE__, "rz_fusion_test: done but the handle "
                          "was not set to NULL");
                }
                h[i] = NULL;
                st[i] = s;
                left--;
            } else if ((done != 0 || s != RZ_INPROGRESS || h[i] == NULL) &&
                       !bad_progress++) {
                failf(T, __LINE__, "rz_fusion_test on a pending handle: "
                      "done=%d status %s handle %p (want 0, in progress, "
                      "kept)", done, SS(s), (void *)h[i]);
                if (h[i] == NULL) {
                    left--;
                    st[i] = s;
                }
            }
        }
        if (left > 0) {
            sleep_ms(0.2);
        }
    }
    T->checks++;
    return left;
}

/* ------------------------------------------------------------------ */
/* Case 1: ordering and exact results                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    char name[48];
    size_t count;
    rz_dtype_t dtype;
    rz_op_t op;
    int inplace;      /* at even steps; tensors i % 4 == 3 toggle */
    void *a[2], *b[2]; /* two buffer sets, alternating by step */
} otensor_t;

typedef struct {
    const char *tag;
    double cycle_ms;      /* 0: the default */
    long threshold;       /* -1: the default */
    int cache;            /* -1: the default */
    int mt;               /* enqueue from two threads per rank */
} oconfig_t;

static int build_order_tensors(otensor_t *t, int small)
{
    static const struct {
        rz_dtype_t dt;
        rz_op_t op;
    } combos[] = {
        {RZ_DTYPE_F32, RZ_OP_SUM}, {RZ_DTYPE_F32, RZ_OP_MAX},
        {RZ_DTYPE_F32, RZ_OP_AVG}, {RZ_DTYPE_F64, RZ_OP_SUM},
        {RZ_DTYPE_F64, RZ_OP_MAX}, {RZ_DTYPE_F64, RZ_OP_AVG},
        {RZ_DTYPE_I32, RZ_OP_SUM}, {RZ_DTYPE_I32, RZ_OP_MAX},
        {RZ_DTYPE_I32, RZ_OP_MIN},
    };
    static const size_t sizes[4] = {1, 3, 17, 1000};
    int n = small ? 24 : 40;
    for (int i = 0; i < n; i++) {
        otensor_t *x = &t[i];
        memset(x, 0, sizeof(*x));
        int c = i % 9;
        x->count = sizes[i % 4];
        if (i == 0) {
            x->count = small ? 1000 : 300000;
            c = 0;
        } else if (i == 1) {
            x->count = small ? 1000 : 300000;
            c = 5;
        } else if (i >= 2 && i <= 5) {
            x->count = small ? 1000 : 65537;
            c = (i * 2) % 9;
        }
        x->dtype = combos[c].dt;
        x->op = combos[c].op;
        if (i == n - 1) {
            x->dtype = RZ_DTYPE_F16;
            x->op = RZ_OP_SUM;
        }
        x->inplace = i % 2;
        snprintf(x->name, sizeof(x->name), "layer%02d.%s.%s.%zu", i,
                 rz_dtype_name(x->dtype), rz_op_name(x->op), x->count);
        size_t bytes = x->count * rz_dtype_size(x->dtype);
        for (int s = 0; s < 2; s++) {
            x->a[s] = malloc(bytes);
            x->b[s] = malloc(bytes);
        }
    }
    return n;
}

static void free_order_tensors(otensor_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        for (int s = 0; s < 2; s++) {
            free(t[i].a[s]);
            free(t[i].b[s]);
        }
    }
}

/* Which tensors a step enqueues (the same on every rank): most steps drop
 * a few, so the cache sees changing subsets. */
static int order_present(int i, int step)
{
    return (i * 3 + step) % 11 != 0 || step == 0;
}

static int order_inplace(const otensor_t *x, int i, int step)
{
    return x->inplace ^ (i % 4 == 3 && step % 2);
}

typedef struct {
    rz_fusion_h fu;
    otensor_t *ts;
    const int *ord;
    int from, to, step, rank;
    rz_fusion_handle_h *h;
    rz_status_t *est;
} enq_job_t;

/* Enqueue ord[from..to) (skipping absent tensors); odd steps pause now and
 * then so tensors become ready over several cycles. */
static void *enq_run(void *p)
{
    enq_job_t *j = p;
    for (int k = j->from; k < j->to; k++) {
        int i = j->ord[k];
        otensor_t *x = &j->ts[i];
        if (!order_present(i, j->step)) {
            continue;
        }
        int set = j->step % 2;
        void *in = x->a[set];
        void *out = order_inplace(x, i, j->step) ? in : x->b[set];
        j->est[i] = rz_fusion_enqueue_allreduce(j->fu, x->name, in, out,
                                                x->count, x->dtype, x->op,
                                                NULL, &j->h[i]);
        if (j->step % 2 && k % 5 == 4) {
            sleep_ms(0.2 * (1 + j->rank % 4));
        }
    }
    return NULL;
}

/* An allreduce on the parent communicator while the engine works on its
 * duplicate. */
static void parent_allreduce(tst_t *T, int step)
{
    float v[300];
    uint64_t base = key4(0xAB, (uint64_t)step, 0, 0);
    fill_small(v, RZ_DTYPE_F32, 300, base, T->rank);
    rz_status_t s = rz_allreduce(v, v, 300, RZ_DTYPE_F32, RZ_OP_SUM, T->comm);
    CHECK(T, s == RZ_OK, "step %d: allreduce on the parent communicator "
          "beside the engine: %s", step, SS(s));
    if (s == RZ_OK) {
        verify_small(T, __LINE__, "parent allreduce", v, RZ_DTYPE_F32,
                     RZ_OP_SUM, 300, base);
    }
}

static void order_config(tst_t *T, otensor_t *ts, int nt, int ci,
                         const oconfig_t *oc, int steps)
{
    snprintf(T->where, sizeof(T->where), "order/%s", oc->tag);
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    if (oc->cycle_ms > 0) {
        cfg.cycle_time_ms = oc->cycle_ms;
    }
    if (oc->threshold >= 0) {
        cfg.fusion_threshold = (size_t)oc->threshold;
    }
    if (oc->cache >= 0) {
        cfg.cache_capacity = oc->cache;
    }
    /* under a small threshold, rank 0's timeline shows every group's size */
    char tl[64] = {0};
    if (cfg.fusion_threshold > 0 && cfg.fusion_threshold < 65536) {
        if (T->rank == 0) {
            snprintf(tl, sizeof(tl), "/tmp/rz_fusion_groups.XXXXXX");
            int fd = mkstemp(tl);
            if (fd >= 0) {
                close(fd);
            } else {
                tl[0] = 0;
            }
        }
        rz_status_t s = rz_broadcast(tl, tl, sizeof(tl), RZ_DTYPE_U8, 0,
                                     T->comm);
        CHECK(T, s == RZ_OK && tl[0], "a timeline path for the group sizes: "
              "%s", SS(s));
        cfg.timeline = tl[0] ? tl : NULL;
    }
    double t0 = now_s();
    rz_fusion_h fu = make_engine(T, &cfg, oc->tag);
    if (fu == NULL) {
        return;
    }
    rz_fusion_handle_h h[64];
    rz_status_t st[64], est[64];
    int ord[64], word[64];
    uint64_t payload = 0, want_t = 0, nbig = 0, nsmall = 0;
    rz_fusion_stats_t after2;
    memset(&after2, 0, sizeof(after2));
    for (int step = 0; step < steps; step++) {
        int mode = (step + ci) % 3, set = step % 2;
        for (int i = 0; i < nt; i++) {
            otensor_t *x = &ts[i];
            size_t bytes = x->count * rz_dtype_size(x->dtype);
            uint64_t base = key4(0xF05ED, (uint64_t)ci, (uint64_t)step,
                                 (uint64_t)i);
            fill_small(x->a[set], x->dtype, x->count, base, T->rank);
            memset(x->b[set], 0xA5, bytes);
            h[i] = NULL;
            st[i] = RZ_ERR_INTERNAL;
            est[i] = RZ_ERR_INTERNAL;
            if (order_present(i, step)) {
                want_t++;
                payload += bytes;
                nbig += bytes > 4096;
                nsmall += bytes <= 4096;
            }
        }
        /* rank-specific order, seeded by rank and step */
        shuffle(ord, nt, key4(0x0DE5, (uint64_t)T->rank, (uint64_t)step,
                              (uint64_t)ci));
        enq_job_t jobs[2];
        for (int k = 0; k < 2; k++) {
            jobs[k].fu = fu;
            jobs[k].ts = ts;
            jobs[k].ord = ord;
            jobs[k].step = step;
            jobs[k].rank = T->rank;
            jobs[k].h = h;
            jobs[k].est = est;
        }
        if (oc->mt) {
            pthread_t th[2];
            for (int k = 0; k < 2; k++) {
                jobs[k].from = k ? nt / 2 : 0;
                jobs[k].to = k ? nt : nt / 2;
                pthread_create(&th[k], NULL, enq_run, &jobs[k]);
            }
            for (int k = 0; k < 2; k++) {
                pthread_join(th[k], NULL);
            }
        } else {
            jobs[0].from = 0;
            jobs[0].to = nt;
            enq_run(&jobs[0]);
        }
        for (int i = 0; i < nt; i++) {
            if (order_present(i, step)) {
                CHECK(T, est[i] == RZ_OK && h[i] != NULL,
                      "step %d enqueue %s: %s", step, ts[i].name, SS(est[i]));
            }
        }
        if (mode == 0) {
            rz_status_t s = rz_fusion_flush(fu);
            CHECK(T, s == RZ_OK, "step %d flush: %s", step, SS(s));
            wait_all(h, st, nt, NULL);
        } else if (mode == 1) {
            parent_allreduce(T, step);
            shuffle(word, nt, key4(0x3A17, (uint64_t)T->rank,
                                   (uint64_t)step, (uint64_t)ci));
            wait_all(h, st, nt, word);
        } else {
            int left = poll_all(T, h, st, nt, 60.0);
            CHECK(T, left == 0, "step %d: %d tensors still pending after 60 s "
                  "of rz_fusion_test polling", step, left);
        }
        uint64_t hash = 0;
        for (int i = 0; i < nt; i++) {
            otensor_t *x = &ts[i];
            if (!order_present(i, step)) {
                continue;
            }
            int inpl = order_inplace(x, i, step);
            void *in = x->a[set], *out = inpl ? in : x->b[set];
            uint64_t base = key4(0xF05ED, (uint64_t)ci, (uint64_t)step,
                                 (uint64_t)i);
            char what[128];
            snprintf(what, sizeof(what), "step %d (wait mode %d, %s) %.48s",
                     step, mode, inpl ? "in place" : "out of place", x->name);
            CHECK(T, h[i] == NULL, "%s: handle not NULL after completion",
                  what);
            CHECK(T, st[i] == RZ_OK, "%s: status %s", what, SS(st[i]));
            if (st[i] == RZ_OK) {
                verify_small(T, __LINE__, what, out, x->dtype, x->op,
                             x->count, base);
                if (!inpl) {
                    verify_input(T, __LINE__, what, in, x->dtype, x->count,
                                 base);
                }
            }
            hash = hash_bytes(hash, out, x->count * rz_dtype_size(x->dtype));
        }
        char what[64];
        snprintf(what, sizeof(what), "step %d", step);
        same_on_all(T, __LINE__, what, hash);
        if (step == 2) {
            after2 = get_stats(T, fu);
        }
    }
    rz_fusion_stats_t s = get_stats(T, fu);
    print_stats(T, oc->tag, &s);
    CHECK(T, s.tensors == want_t, "stats.tensors %llu, want %llu",
          (unsigned long long)s.tensors, (unsigned long long)want_t);
    CHECK(T, s.payload_bytes == payload, "stats.payload_bytes %llu, want "
          "%llu", (unsigned long long)s.payload_bytes,
          (unsigned long long)payload);
    CHECK(T, s.groups >= 1 && s.groups <= s.tensors && s.fused_tensors <=
          s.tensors, "stats: groups %llu, fused %llu, tensors %llu",
          (unsigned long long)s.groups, (unsigned long long)s.fused_tensors,
          (unsigned long long)s.tensors);
    CHECK(T, s.ef_bytes_sent == 0 && s.ef_bytes_recv == 0,
          "no compression, yet ef bytes %llu/%llu",
          (unsigned long long)s.ef_bytes_sent,
          (unsigned long long)s.ef_bytes_recv);
    CHECK(T, s.cycles >= 1 && s.negotiations <= s.cycles,
          "cycles %llu, negotiations %llu", (unsigned long long)s.cycles,
          (unsigned long long)s.negotiations);
    size_t thr = cfg.fusion_threshold;
    if (thr == 0) {
        CHECK(T, s.groups == s.tensors && s.fused_tensors == 0,
              "threshold 0: groups %llu (want tensors %llu), fused %llu "
              "(want 0)", (unsigned long long)s.groups,
              (unsigned long long)s.tensors,
              (unsigned long long)s.fused_tensors);
    } else if (thr >= 8 * 300000) {
        CHECK(T, s.groups < s.tensors && s.fused_tensors > 0,
              "default threshold: groups %llu not below tensors %llu (fused "
              "%llu): nothing was fused", (unsigned long long)s.groups,
              (unsigned long long)s.tensors,
              (unsigned long long)s.fused_tensors);
    } else {
        /* a tensor over the threshold is a group of its own */
        CHECK(T, s.groups >= nbig && s.fused_tensors <= nsmall,
              "threshold %zu: groups %llu (>= %llu tensors over it), fused "
              "%llu (<= %llu under it)", thr, (unsigned long long)s.groups,
              (unsigned long long)nbig, (unsigned long long)s.fused_tensors,
              (unsigned long long)nsmall);
        CHECK(T, s.fused_tensors > 0, "threshold %zu: nothing was fused",
              thr);
    }
    if (cfg.cache_capacity == 0) {
        CHECK(T, s.cache_hits == 0, "cache off, yet %llu cache hits",
              (unsigned long long)s.cache_hits);
    } else if (cfg.cache_capacity >= nt) {
        CHECK(T, after2.cache_hits > 0, "cache %d >= %d tensors: no cache hit "
              "after 3 steps", cfg.cache_capacity, nt);
        /* steady state: the last steps mostly skip the coordinator */
        uint64_t dn = s.negotiations - after2.negotiations;
        uint64_t dc = s.cycles - after2.cycles;
        uint64_t dh = s.cache_hits - after2.cache_hits;
        uint64_t dt = s.tensors - after2.tensors;
        CHECK(T, dh * 2 >= dt, "steady state: only %llu of %llu tensors "
              "came from the cache", (unsigned long long)dh,
              (unsigned long long)dt);
        CHECK(T, s.negotiations * 2 < s.cycles && dn * 4 <= dc,
              "cache on: negotiations %llu of %llu cycles (steady state %llu "
              "of %llu): not much smaller", (unsigned long long)
              s.negotiations, (unsigned long long)s.cycles,
              (unsigned long long)dn, (unsigned long long)dc);
    }
    CHECK(T, s.cache_hits <= s.tensors, "cache hits %llu > tensors %llu",
          (unsigned long long)s.cache_hits, (unsigned long long)s.tensors);
    kill_engine(T, fu);
    if (tl[0]) {
        barrier(T);
        if (T->rank == 0) {
            int g = check_group_sizes(T, tl, thr);
            CHECK(T, g > 0, "threshold %zu: the timeline shows no group of "
                  "more than one tensor", thr);
            unlink(tl);
        }
    }
    if (T->rank == 0 || g_verbose) {
        printf("fusion: rank %d order/%s: %d steps, %llu tensors, %.2f s\n",
               T->rank, oc->tag, steps, (unsigned long long)want_t,
               now_s() - t0);
    }
}

/* Tensors carved out of one arena, as a framework's flat gradient buffer:
 * the copy-free path may reduce the span only when every rank has the
 * group back to back, inputs and outputs, in the same order. Layouts:
 *   0 index order, in place                 (the same on every rank)
 *   1 index order, out of place, two arenas (the same on every rank)
 *   2 reverse index order, in place         (the same on every rank)
 *   3 a rank-specific permutation, in place (must fall back)
 *   4 back to back on rank 0, a gap of one element elsewhere (fall back)
 *   5 inputs back to back, outputs with gaps (fall back)
 * and one engine for all of them. */
static void order_flat(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "order/flat");
    static const size_t sizes[6] = {1, 17, 1000, 3, 65537, 5000};
    static const struct {
        rz_dtype_t dt;
        rz_op_t op;
    } kinds[6] = {{RZ_DTYPE_F32, RZ_OP_AVG}, {RZ_DTYPE_F64, RZ_OP_SUM},
                  {RZ_DTYPE_I32, RZ_OP_MAX}, {RZ_DTYPE_F32, RZ_OP_AVG},
                  {RZ_DTYPE_F16, RZ_OP_SUM}, {RZ_DTYPE_F32, RZ_OP_SUM}};
    enum { NF = 18, NLAYOUT = 6, STEPS = 2 };
    double t0 = now_s();
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    cfg.cycle_time_ms = 5; /* a step's tensors meet in one cycle */
    rz_fusion_h fu = make_engine(T, &cfg, "cycle 5 ms");
    if (fu == NULL) {
        return;
    }
    size_t cnt[NF], total = 0;
    for (int i = 0; i < NF; i++) {
        cnt[i] = sizes[i % 6];
        if (g_small && cnt[i] > 5000) {
            cnt[i] = 20000; /* still over the copy-free minimum */
        }
        total += cnt[i] + 1;
    }
    char *arena = malloc(total * 8), *arena2 = malloc(total * 8);
    void *in[NF], *out[NF];
    rz_fusion_handle_h h[NF];
    rz_status_t st[NF];
    int perm[NF], ord[NF];
    for (int lay = 0; lay < NLAYOUT; lay++) {
        rz_dtype_t dt = kinds[lay].dt;
        rz_op_t op = kinds[lay].op;
        size_t es = rz_dtype_size(dt);
        /* memory order of the tensors */
        if (lay == 2) {
            for (int i = 0; i < NF; i++) {
                perm[i] = NF - 1 - i;
            }
        } else if (lay == 3) {
            shuffle(perm, NF, key4(0xF1A7, (uint64_t)T->rank, 0, 0));
        } else {
            for (int i = 0; i < NF; i++) {
                perm[i] = i;
            }
        }
        size_t off = 0, off2 = 0;
        for (int k = 0; k < NF; k++) {
            int i = perm[k];
            in[i] = arena + off * es;
            out[i] = lay == 1 || lay == 5 ? (void *)(arena2 + off2 * es)
                                          : in[i];
            off += cnt[i] + (lay == 4 && T->rank != 0);
            off2 += cnt[i] + (lay == 5);
        }
        for (int step = 0; step < STEPS; step++) {
            for (int i = 0; i < NF; i++) {
                fill_small(in[i], dt, cnt[i],
                           key4(0xF1A8, (uint64_t)lay, (uint64_t)step,
                                (uint64_t)i), T->rank);
                if (out[i] != in[i]) {
                    memset(out[i], 0xA5, cnt[i] * es);
                }
                h[i] = NULL;
                st[i] = RZ_ERR_INTERNAL;
            }
            shuffle(ord, NF, key4(0xF1A9, (uint64_t)T->rank, (uint64_t)lay,
                                  (uint64_t)step));
            for (int k = 0; k < NF; k++) {
                int i = ord[k];
                char name[32];
                snprintf(name, sizeof(name), "flat%d.%02d", lay, i);
                rz_status_t s = rz_fusion_enqueue_allreduce(
                    fu, name, in[i], out[i], cnt[i], dt, op, NULL, &h[i]);
                CHECK(T, s == RZ_OK, "layout %d enqueue %s: %s", lay, name,
                      SS(s));
            }
            wait_all(h, st, NF, NULL);
            uint64_t hash = 0;
            for (int i = 0; i < NF; i++) {
                char what[64];
                snprintf(what, sizeof(what), "layout %d step %d flat%d.%02d",
                         lay, step, lay, i);
                CHECK(T, st[i] == RZ_OK, "%s: %s", what, SS(st[i]));
                if (st[i] == RZ_OK) {
                    verify_small(T, __LINE__, what, out[i], dt, op, cnt[i],
                                 key4(0xF1A8, (uint64_t)lay, (uint64_t)step,
                                      (uint64_t)i));
                }
                hash = hash_bytes(hash, out[i], cnt[i] * es);
            }
            char what[32];
            snprintf(what, sizeof(what), "layout %d step %d", lay, step);
            same_on_all(T, __LINE__, what, hash);
        }
    }
    rz_fusion_stats_t s = get_stats(T, fu);
    print_stats(T, "flat", &s);
    CHECK(T, s.tensors == NF * NLAYOUT * STEPS, "stats.tensors %llu, want %d",
          (unsigned long long)s.tensors, NF * NLAYOUT * STEPS);
    kill_engine(T, fu);
    free(arena);
    free(arena2);
    if (T->rank == 0 || g_verbose) {
        printf("fusion: rank %d order/flat: %d layouts x %d steps x %d "
               "tensors, %.2f s\n", T->rank, NLAYOUT, STEPS, NF,
               now_s() - t0);
    }
}

/* Steps of two small tensors each, waited for at once, on a 2-microsecond
 * cycle: the engine thread's sleep deadlines pass all the time, in every
 * phase of its loop (an engine that misses one sleeps on while the others
 * block in the cycle's collective until RZ_TIMEOUT_MS). */
static void order_tight(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "order/tight");
    int iters = g_small ? 300 : 1500;
    double t0 = now_s();
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    cfg.cycle_time_ms = 0.002;
    rz_fusion_h fu = make_engine(T, &cfg, "cycle 2 us");
    if (fu == NULL) {
        return;
    }
    int bad = 0;
    for (int it = 0; it < iters && !bad; it++) {
        float a[3], b = (float)(T->rank + it % 7);
        fill_small(a, RZ_DTYPE_F32, 3, (uint64_t)it, T->rank);
        rz_fusion_handle_h ha = NULL, hb = NULL;
        rz_status_t sa = rz_fusion_enqueue_allreduce(
            fu, "tight.a", a, a, 3, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &ha);
        rz_status_t sb = rz_fusion_enqueue_allreduce(
            fu, "tight.b", &b, &b, 1, RZ_DTYPE_F32, RZ_OP_MAX, NULL, &hb);
        if (sa == RZ_OK) {
            sa = rz_fusion_wait(&ha);
        }
        if (sb == RZ_OK) {
            int done = 0;
            double dl = now_s() + 30;
            while (!done && now_s() < dl) {
                sb = rz_fusion_test(&hb, &done);
                if (!done) {
                    sleep_ms(0.01); /* leave the cores to the engines */
                }
            }
            sb = done ? sb : RZ_ERR_TIMEOUT;
        }
        float want_b = (float)(T->K - 1 + it % 7);
        if (sa != RZ_OK || sb != RZ_OK || b != want_b ||
            !verify_small(T, __LINE__, "tight.a", a, RZ_DTYPE_F32, RZ_OP_SUM,
                          3, (uint64_t)it)) {
            failf(T, __LINE__, "iteration %d of %d (%.1f s in): tight.a %s, "
                  "tight.b %s (%g, want %g)", it, iters, now_s() - t0, SS(sa),
                  SS(sb), (double)b, (double)want_b);
            bad = 1;
        }
    }
    T->checks++;
    kill_engine(T, fu);
    if (T->rank == 0 || g_verbose) {
        printf("fusion: rank %d order/tight: %d iterations, %.2f s\n",
               T->rank, iters, now_s() - t0);
    }
}

/* More tensors than the default cache holds (1024): 1500 small ones per
 * step, shuffled per rank, under the default configuration. */
static void order_many(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "order/many");
    enum { NMANY = 1500, STEPS = 3 };
    double t0 = now_s();
    rz_fusion_h fu = make_engine(T, NULL, "default");
    if (fu == NULL) {
        return;
    }
    float *buf = malloc(NMANY * 4 * sizeof(float));
    rz_fusion_handle_h *h = calloc(NMANY, sizeof(*h));
    rz_status_t *st = calloc(NMANY, sizeof(*st));
    int *ord = malloc(NMANY * sizeof(int));
    char name[32];
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < NMANY; i++) {
            fill_small(buf + 4 * i, RZ_DTYPE_F32, 1 + (size_t)(i % 4),
                       key4(0x3A3, (uint64_t)step, (uint64_t)i, 0), T->rank);
            h[i] = NULL;
            st[i] = RZ_ERR_INTERNAL;
        }
        shuffle(ord, NMANY, key4(0x3A4, (uint64_t)T->rank, (uint64_t)step, 0));
        int bad = 0;
        for (int k = 0; k < NMANY; k++) {
            int i = ord[k];
            snprintf(name, sizeof(name), "many.%04d", i);
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, name, buf + 4 * i, buf + 4 * i, 1 + (size_t)(i % 4),
                RZ_DTYPE_F32, RZ_OP_SUM, NULL, &h[i]);
            bad += s != RZ_OK;
        }
        CHECK(T, bad == 0, "step %d: %d enqueues failed", step, bad);
        wait_all(h, st, NMANY, NULL);
        uint64_t hash = 0;
        for (int i = 0; i < NMANY; i++) {
            snprintf(name, sizeof(name), "step %d many.%04d", step, i);
            CHECK(T, st[i] == RZ_OK, "%s: %s", name, SS(st[i]));
            if (st[i] == RZ_OK &&
                !verify_small(T, __LINE__, name, buf + 4 * i, RZ_DTYPE_F32,
                              RZ_OP_SUM, 1 + (size_t)(i % 4),
                              key4(0x3A3, (uint64_t)step, (uint64_t)i, 0))) {
                break;
            }
            hash = hash_bytes(hash, buf + 4 * i,
                              (1 + (size_t)(i % 4)) * sizeof(float));
        }
        same_on_all(T, __LINE__, "many", hash);
    }
    rz_fusion_stats_t s = get_stats(T, fu);
    print_stats(T, "many", &s);
    CHECK(T, s.tensors == NMANY * STEPS, "stats.tensors %llu, want %d",
          (unsigned long long)s.tensors, NMANY * STEPS);
    kill_engine(T, fu);
    free(buf);
    free(h);
    free(st);
    free(ord);
    if (T->rank == 0 || g_verbose) {
        printf("fusion: rank %d order/many: %d steps x %d tensors, %.2f s\n",
               T->rank, STEPS, NMANY, now_s() - t0);
    }
}

static void case_order(tst_t *T)
{
    static const oconfig_t cfgs[] = {
        {"default", 0, -1, -1, 0},       {"threshold0", 0, 0, -1, 0},
        {"threshold4096", 0, 4096, -1, 0}, {"cache0", 0, -1, 0, 0},
        {"cache4", 0, -1, 4, 0},         {"cycle5ms", 5, -1, -1, 0},
        {"mt-enqueue", 0, -1, -1, 1},
    };
    otensor_t ts[64];
    int nt = build_order_tensors(ts, g_small);
    int steps = g_small ? 3 : 6;
    for (size_t ci = 0; ci < sizeof(cfgs) / sizeof(*cfgs); ci++) {
        if (g_small && ci != 0 && ci != 1 && ci != 3 && ci != 6) {
            continue;
        }
        order_config(T, ts, nt, (int)ci, &cfgs[ci], steps);
    }
    free_order_tensors(ts, nt);
    order_flat(T);
    order_tight(T);
    if (!g_small) {
        order_many(T);
    }
}

/* ------------------------------------------------------------------ */
/* Case 2: mismatched tensors                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    size_t count;
    rz_dtype_t dtype;
    rz_op_t op;
    const char *wc;  /* worker compressor, NULL: no compression */
    int bad;         /* expected RZ_ERR_MISMATCH */
} mspec_t;

static void mm_round(tst_t *T, rz_fusion_h fu, const mspec_t *ms, int n,
                     int round)
{
    rz_fusion_handle_h h[16];
    rz_status_t st[16];
    void *buf[16];
    uint64_t base[16];
    int ord[16];
    rz_fusion_compression_t comp[16];
    for (int i = 0; i < n; i++) {
        buf[i] = calloc(ms[i].count + 1, 8);
        base[i] = key4(0x313A, (uint64_t)round, (uint64_t)i, 0);
        fill_small(buf[i], ms[i].dtype, ms[i].count, base[i], T->rank);
        rz_fusion_compression_init(&comp[i]);
        comp[i].ef.worker_compressor = ms[i].wc;
        comp[i].ef.server_compressor = ms[i].wc;
        h[i] = NULL;
        st[i] = RZ_ERR_INTERNAL;
    }
    shuffle(ord, n, key4(0x313B, (uint64_t)T->rank, (uint64_t)round, 0));
    double t0 = now_s();
    for (int k = 0; k < n; k++) {
        int i = ord[k];
        rz_status_t s = rz_fusion_enqueue_allreduce(
            fu, ms[i].name, buf[i], buf[i], ms[i].count, ms[i].dtype,
            ms[i].op, ms[i].wc ? &comp[i] : NULL, &h[i]);
        CHECK(T, s == RZ_OK, "round %d enqueue %s: %s", round, ms[i].name,
              SS(s));
    }
    wait_all(h, st, n, NULL);
    double took = now_s() - t0;
    uint64_t hash = 0;
    for (int i = 0; i < n; i++) {
        char what[96];
        snprintf(what, sizeof(what), "round %d %s", round, ms[i].name);
        if (ms[i].bad) {
            CHECK(T, st[i] == RZ_ERR_MISMATCH, "%s: status %s, want %s",
                  what, SS(st[i]), SS(RZ_ERR_MISMATCH));
        } else {
            CHECK(T, st[i] == RZ_OK, "%s: status %s", what, SS(st[i]));
            if (st[i] == RZ_OK && ms[i].wc == NULL) {
                verify_small(T, __LINE__, what, buf[i], ms[i].dtype, ms[i].op,
                             ms[i].count, base[i]);
            }
            if (st[i] == RZ_OK) {
                hash = hash_bytes(hash, buf[i],
                                  ms[i].count * rz_dtype_size(ms[i].dtype));
            }
        }
        free(buf[i]);
    }
    char what[32];
    snprintf(what, sizeof(what), "round %d", round);
    same_on_all(T, __LINE__, what, hash);
    CHECK(T, took < 10.0, "round %d took %.1f s (a mismatch must not hang)",
          round, took);
}

static void case_mismatch(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "mismatch");
    if (T->K < 2) {
        printf("fusion: mismatch needs 2 ranks or more, skipped\n");
        return;
    }
    int r1 = T->rank == 1, rl = T->rank == T->K - 1, r0 = T->rank == 0;
    rz_fusion_h fu = make_engine(T, NULL, "default");
    if (fu == NULL) {
        return;
    }
    const mspec_t round0[] = {
        {"mm.count", 100 + (size_t)r1, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 1},
        {"mm.count.on0", 10 + (size_t)r0, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 1},
        {"mm.dtype", 100, r1 ? RZ_DTYPE_I32 : RZ_DTYPE_F32, RZ_OP_SUM, NULL,
         1},
        {"mm.op", 100, RZ_DTYPE_F32, rl ? RZ_OP_MAX : RZ_OP_SUM, NULL, 1},
        {"mm.comp", 1000, RZ_DTYPE_F32, RZ_OP_AVG,
         r1 ? "topk:ratio=0.1" : "sign", 1},
        {"mm.comp.none", 1000, RZ_DTYPE_F32, RZ_OP_AVG, rl ? NULL : "sign", 1},
        {"mm.good", 50, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.good.i32", 33, RZ_DTYPE_I32, RZ_OP_MAX, NULL, 0},
    };
    mm_round(T, fu, round0, 8, 0);
    /* the names are free again, and good tensors still reduce */
    const mspec_t round1[] = {
        {"mm.after", 1000, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.count", 100, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.op", 100, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.comp", 1000, RZ_DTYPE_F32, RZ_OP_AVG, "sign", 0},
    };
    mm_round(T, fu, round1, 4, 1);
    /* a name the response cache knows, now with another count on rank 1 */
    const mspec_t round2[] = {
        {"mm.after", 1000 - (size_t)r1, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 1},
        {"mm.count", 100, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
    };
    mm_round(T, fu, round2, 2, 2);
    const mspec_t round3[] = {
        {"mm.after", 1000, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.good", 50, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
    };
    mm_round(T, fu, round3, 2, 3);
    /* every rank changes a cached name's count, dtype or op the same way:
     * not a mismatch, a new signature */
    const mspec_t round4[] = {
        {"mm.after", 500, RZ_DTYPE_F32, RZ_OP_SUM, NULL, 0},
        {"mm.good", 50, RZ_DTYPE_I32, RZ_OP_SUM, NULL, 0},
        {"mm.count", 100, RZ_DTYPE_F32, RZ_OP_MAX, NULL, 0},
    };
    mm_round(T, fu, round4, 3, 4);
    /* fields fusion.h says are ignored (ef.momentum, ef.weight_decay) may
     * differ across ranks */
    {
        float v[200];
        uint64_t base = key4(0x313C, 0, 0, 0);
        fill_small(v, RZ_DTYPE_F32, 200, base, T->rank);
        rz_fusion_compression_t comp;
        rz_fusion_compression_init(&comp);
        comp.ef.momentum = T->rank == 1 ? 0.9f : 0.0f;
        comp.ef.weight_decay = T->rank == 1 ? 1e-2f : 0.0f;
        rz_fusion_handle_h h = NULL;
        rz_status_t st = rz_fusion_enqueue_allreduce(
            fu, "mm.ignored", v, v, 200, RZ_DTYPE_F32, RZ_OP_AVG, &comp, &h);
        if (st == RZ_OK) {
            st = rz_fusion_wait(&h);
        }
        CHECK(T, st == RZ_OK, "mm.ignored: ef.momentum/weight_decay differ "
              "across ranks (ignored, fusion.h): %s", SS(st));
        same_on_all(T, __LINE__, "mm.ignored", st == RZ_OK ?
                    hash_bytes(0, v, sizeof(v)) : 0);
        snprintf(T->where, sizeof(T->where), "mismatch/after mm.ignored");
        warmup(T, fu, "mm.after.ignored");
        snprintf(T->where, sizeof(T->where), "mismatch");
    }
    rz_fusion_stats_t s = get_stats(T, fu);
    print_stats(T, "mismatch", &s);
    CHECK(T, s.tensors == 21, "stats.tensors %llu, want 21 (errors count)",
          (unsigned long long)s.tensors);
    kill_engine(T, fu);
}

/* ------------------------------------------------------------------ */
/* Case 3: a stalled tensor                                           */
/* ------------------------------------------------------------------ */

/* "1,3-5" from a 0/1 vector of ranks. */
static void format_ranks(const int *in, int K, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (int r = 0; r < K; r++) {
        if (!in[r]) {
            continue;
        }
        int e = r;
        while (e + 1 < K && in[e + 1]) {
            e++;
        }
        n += (size_t)snprintf(out + n, size - n, "%s%d", n ? "," : "", r);
        if (e > r) {
            n += (size_t)snprintf(out + n, size - n, "-%d", e);
        }
        r = e;
    }
}

static void case_stall(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "stall");
    if (T->K < 2) {
        printf("fusion: stall needs 2 ranks or more, skipped\n");
        return;
    }
    int *missing = calloc((size_t)T->K, sizeof(int));
    int nmissing = 0;
    for (const char *p = g_stall_missing; *p;) {
        int r = atoi(p);
        if (r > 0 && r < T->K) {
            nmissing += !missing[r];
            missing[r] = 1;
        }
        p = strchr(p, ',');
        if (p == NULL) {
            break;
        }
        p++;
    }
    if (nmissing == 0) {
        missing[1] = 1;
    }
    char expect[256];
    format_ranks(missing, T->K, expect, sizeof(expect));

    /* rank 0's log goes to stderr: capture the whole process's stderr for
     * the case (with threads, rank 0 does it for all of them) */
    int saved = -1;
    char logpath[] = "/tmp/rz_fusion_stall.XXXXXX";
    barrier(T);
    if (T->rank == 0) {
        fflush(stderr);
        int fd = mkstemp(logpath);
        CHECK(T, fd >= 0, "mkstemp: %s", strerror(errno));
        if (fd >= 0) {
            saved = dup(2);
            dup2(fd, 2);
            close(fd);
        }
    }
    barrier(T);

    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    cfg.stall_warning_s = 0.5;
    cfg.stall_timeout_s = 2.0;
    rz_fusion_h fu = make_engine(T, &cfg, "stall 0.5/2");
    if (fu != NULL) {
        float x[10], a[100], b[7], x2[10], c[64];
        uint64_t bx = key4(0x57A1, 0, 0, 0), ba = key4(0x57A1, 1, 0, 0),
                 bb = key4(0x57A1, 2, 0, 0), bx2 = key4(0x57A1, 3, 0, 0);
        /* 'stall.c' goes through once everywhere: it is in the cache */
        warmup(T, fu, "stall.c");
        fill_small(x, RZ_DTYPE_F32, 10, bx, T->rank);
        fill_small(a, RZ_DTYPE_F32, 100, ba, T->rank);
        fill_small(b, RZ_DTYPE_F32, 7, bb, T->rank);
        fill_small(c, RZ_DTYPE_F32, 64, bb, T->rank);
        rz_fusion_handle_h hx = NULL, ha = NULL, hb = NULL, hc = NULL;
        double t0 = now_s();
        if (!missing[T->rank]) {
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, "stall.x", x, x, 10, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &hx);
            CHECK(T, s == RZ_OK, "enqueue stall.x: %s", SS(s));
            s = rz_fusion_enqueue_allreduce(fu, "stall.c", c, c, 64,
                                            RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                                            &hc);
            CHECK(T, s == RZ_OK, "enqueue stall.c: %s", SS(s));
        }
        /* tensors that everyone enqueues meanwhile complete */
        rz_status_t s = rz_fusion_enqueue_allreduce(
            fu, "ok.a", a, a, 100, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &ha);
        CHECK(T, s == RZ_OK, "enqueue ok.a: %s", SS(s));
        s = rz_fusion_enqueue_allreduce(fu, "ok.b", b, b, 7, RZ_DTYPE_F32,
                                        RZ_OP_MAX, NULL, &hb);
        CHECK(T, s == RZ_OK, "enqueue ok.b: %s", SS(s));
        s = rz_fusion_wait(&ha);
        CHECK(T, s == RZ_OK, "ok.a beside the stalled tensor: %s", SS(s));
        if (s == RZ_OK) {
            verify_small(T, __LINE__, "ok.a", a, RZ_DTYPE_F32, RZ_OP_SUM, 100,
                         ba);
        }
        s = rz_fusion_wait(&hb);
        CHECK(T, s == RZ_OK, "ok.b beside the stalled tensor: %s", SS(s));
        if (s == RZ_OK) {
            verify_small(T, __LINE__, "ok.b", b, RZ_DTYPE_F32, RZ_OP_MAX, 7,
                         bb);
        }
        CHECK(T, now_s() - t0 < 1.5, "the other tensors took %.2f s: they "
              "waited for the stalled one", now_s() - t0);
        if (hx != NULL) {
            s = rz_fusion_wait(&hx);
            double took = now_s() - t0;
            printf("fusion: rank %d: stall.x -> %s after %.2f s\n", T->rank,
                   SS(s), took);
            CHECK(T, s == RZ_ERR_TIMEOUT, "stall.x: status %s, want %s",
                  SS(s), SS(RZ_ERR_TIMEOUT));
            CHECK(T, took >= 1.5 && took <= 10.0, "stall.x failed after "
                  "%.2f s (stall_timeout_s 2)", took);
        }
        if (hc != NULL) {
            s = rz_fusion_wait(&hc);
            double took = now_s() - t0;
            CHECK(T, s == RZ_ERR_TIMEOUT, "stall.c (in the cache): status %s, "
                  "want %s", SS(s), SS(RZ_ERR_TIMEOUT));
            CHECK(T, took >= 1.5 && took <= 10.0, "stall.c failed after "
                  "%.2f s (stall_timeout_s 2)", took);
        }
        barrier(T);
        /* after the timeout the name is free: everyone enqueues it now */
        fill_small(x2, RZ_DTYPE_F32, 10, bx2, T->rank);
        s = rz_fusion_enqueue_allreduce(fu, "stall.x", x2, x2, 10,
                                        RZ_DTYPE_F32, RZ_OP_SUM, NULL, &hx);
        CHECK(T, s == RZ_OK, "enqueue stall.x again: %s", SS(s));
        s = rz_fusion_wait(&hx);
        CHECK(T, s == RZ_OK, "stall.x on every rank after the timeout: %s",
              SS(s));
        if (s == RZ_OK) {
            verify_small(T, __LINE__, "stall.x again", x2, RZ_DTYPE_F32,
                         RZ_OP_SUM, 10, bx2);
        }
        rz_fusion_stats_t st = get_stats(T, fu);
        print_stats(T, "stall", &st);
        kill_engine(T, fu);
    }
    barrier(T);
    if (T->rank == 0 && saved >= 0) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        FILE *f = fopen(logpath, "r");
        char line[2048];
        int found[2] = {0, 0}, warned[2] = {0, 0};
        static const char *const tag[2] = {"tensor 'stall.x'",
                                           "tensor 'stall.c'"};
        while (f && fgets(line, sizeof(line), f)) {
            fprintf(stderr, "%s", line);
            for (int k = 0; k < 2; k++) {
                if (!strstr(line, tag[k])) {
                    continue;
                }
                warned[k] = 1;
                const char *m = strstr(line, "missing on ranks ");
                if (m) {
                    m += strlen("missing on ranks ");
                    size_t n = strspn(m, "0123456789,-");
                    found[k] |= n == strlen(expect) &&
                                strncmp(m, expect, n) == 0;
                }
            }
        }
        if (f) {
            fclose(f);
        }
        unlink(logpath);
        for (int k = 0; k < 2; k++) {
            CHECK(T, warned[k], "no log line names %s", tag[k]);
            CHECK(T, found[k], "no log line with %s says 'missing on ranks "
                  "%s'", tag[k], expect);
        }
    }
    barrier(T);
    free(missing);
}

/* ------------------------------------------------------------------ */
/* Case 4: compression is independent of fusion                       */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *tag;
    rz_ef_method_t method;
    rz_ef_topology_t topo;
    const char *wc, *sc;
    uint32_t p, H;
    int server;
} cset_t;

static const cset_t g_csets[] = {
    {"ef-sign-sharded", RZ_EF_METHOD_EF, RZ_EF_TOPO_SHARDED, "sign", "sign",
     0, 0, 0},
    {"saef-sign-ring", RZ_EF_METHOD_SAEF, RZ_EF_TOPO_RING, "sign", "sign", 0,
     0, 0},
    {"ef-blocksign4-single", RZ_EF_METHOD_EF, RZ_EF_TOPO_SINGLE,
     "blocksign:block=4", "blocksign:block=4", 0, 0, 1},
    {"none-fp16-sharded", RZ_EF_METHOD_NONE, RZ_EF_TOPO_SHARDED, "fp16",
     "fp16", 0, 0, 0},
    {"ef-topk-sharded-p2", RZ_EF_METHOD_EF, RZ_EF_TOPO_SHARDED,
     "topk:ratio=0.1", "topk:ratio=0.1", 2, 0, 0},
    {"liec-sign-sharded-H3", RZ_EF_METHOD_LIEC, RZ_EF_TOPO_SHARDED, "sign",
     "sign", 0, 3, 0},
};
#define NCSET ((int)(sizeof(g_csets) / sizeof(*g_csets)))
/* The setting tensor 0 switches to in the last step (a fresh context). */
static const cset_t g_cset_switch = {"ef-topk-sharded", RZ_EF_METHOD_EF,
                                     RZ_EF_TOPO_SHARDED, "topk:ratio=0.1",
                                     "topk:ratio=0.1", 0, 0, 0};

typedef struct {
    char name[64];
    size_t count;
    int cset; /* -1: uncompressed */
    int inplace;
} ctensor_t;

static void cset_config(const cset_t *c, int K, rz_ef_config_t *e)
{
    rz_ef_config_init(e);
    e->method = c->method;
    e->topology = c->topo;
    e->worker_compressor = c->wc;
    e->server_compressor = c->sc;
    e->err_avg_period = c->p;
    e->model_avg_period = c->H;
    e->server_rank = c->server % K;
    e->seed = 4711;
}

static int build_ctensors(ctensor_t *t, int small)
{
    static const size_t cs[12] = {1, 50000, 7, 4097, 333, 1000,
                                  2, 20000, 100, 12, 999, 3};
    static const size_t ps[4] = {1, 5000, 64, 17};
    int n = 0;
    for (int j = 0; j < 12; j++, n++) {
        t[n].count = cs[j];
        if (small && t[n].count > 1000) {
            t[n].count = t[n].count % 997 + 100;
        }
        t[n].cset = j % NCSET;
        t[n].inplace = j % 3 == 1;
        snprintf(t[n].name, sizeof(t[n].name), "cmp.%s.%d",
                 g_csets[t[n].cset].tag, j / NCSET);
    }
    for (int j = 0; j < 4; j++, n++) {
        t[n].count = small && ps[j] > 1000 ? 1000 : ps[j];
        t[n].cset = -1;
        t[n].inplace = j % 2;
        snprintf(t[n].name, sizeof(t[n].name), "plain.%d", j);
    }
    return n;
}

static void cin_fill(tst_t *T, const ctensor_t *c, int j, int t, float *in)
{
    if (c->cset < 0) {
        /* exact sums: fused or not, the mean is bitwise the same */
        fill_small(in, RZ_DTYPE_F32, c->count, key4(0xC0DE, (uint64_t)t,
                   (uint64_t)j, 0), T->rank);
        return;
    }
    for (size_t i = 0; i < c->count; i++) {
        in[i] = gen_grad(0xC0DE, T->rank, t, j, i);
    }
}

static void liec_update(float *x, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float u = 0.1f * out[i];
        x[i] = x[i] - u;
    }
}

static int first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] == b[i]) && !(a[i] != a[i] && b[i] != b[i])) {
            return (int)i;
        }
    }
    return -1;
}

static void cmp_state(tst_t *T, const char *what, rz_ef_h got, rz_ef_h want,
                      rz_ef_state_t which, const char *sname)
{
    const float *pg = NULL, *pw = NULL;
    size_t og = 0, ow = 0, ng = 0, nw = 0;
    rz_status_t s1 = rz_ef_get_state(got, which, &pg, &og, &ng);
    rz_status_t s2 = rz_ef_get_state(want, which, &pw, &ow, &nw);
    CHECK(T, s1 == RZ_OK && s2 == RZ_OK, "%s %s: rz_ef_get_state %s / %s",
          what, sname, SS(s1), SS(s2));
    if (s1 != RZ_OK || s2 != RZ_OK) {
        return;
    }
    CHECK(T, og == ow && ng == nw, "%s %s: range [%zu, +%zu) vs the "
          "reference's [%zu, +%zu)", what, sname, og, ng, ow, nw);
    if (og == ow && ng == nw && ng > 0 && pg && pw) {
        int d = first_diff(pg, pw, ng);
        CHECK(T, d < 0, "%s %s: element %d: %.9g vs the reference's %.9g",
              what, sname, d + (int)og, d >= 0 ? (double)pg[d] : 0.0,
              d >= 0 ? (double)pw[d] : 0.0);
    }
}

static void case_compress(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "compress/reference");
    ctensor_t ct[16];
    int nt = build_ctensors(ct, g_small);
    int T0 = g_small ? 4 : 7; /* steps before the switch step */
    int steps = T0 + 1;
    size_t total = 0;
    size_t off[17];
    for (int j = 0; j < nt; j++) {
        off[j] = total;
        total += ct[j].count;
    }
    off[nt] = total;
    float *in = malloc(total * sizeof(float));
    float *out = malloc(total * sizeof(float));
    float *refout = malloc((size_t)steps * total * sizeof(float));
    float *refmodel = malloc((size_t)steps * total * sizeof(float));
    float *x0 = malloc(total * sizeof(float));
    float *model = malloc(total * sizeof(float));
    for (int j = 0; j < nt; j++) {
        for (size_t i = 0; i < ct[j].count; i++) {
            x0[off[j] + i] = gen_grad(0x30DE1, T->rank, 0, j, i);
        }
    }

    /* The reference: one rz_ef context per tensor on a duplicate of the
     * parent communicator, in name-table order, called tensor by tensor. */
    rz_comm_h rc = NULL;
    rz_status_t s = rz_comm_dup(T->comm, &rc);
    CHECK(T, s == RZ_OK, "rz_comm_dup: %s", SS(s));
    if (s != RZ_OK) {
        goto out;
    }
    rz_ef_h ref[16], refsw = NULL;
    uint64_t ref_sent = 0, ref_recv = 0;
    for (int j = 0; j < nt; j++) {
        ref[j] = NULL;
        if (ct[j].cset >= 0) {
            rz_ef_config_t e;
            cset_config(&g_csets[ct[j].cset], T->K, &e);
            s = rz_ef_create(rc, ct[j].count, &e, NULL, NULL, NULL, &ref[j]);
            CHECK(T, s == RZ_OK, "reference rz_ef_create %s: %s", ct[j].name,
                  SS(s));
        }
    }
    {
        rz_ef_config_t e;
        cset_config(&g_cset_switch, T->K, &e);
        s = rz_ef_create(rc, ct[0].count, &e, NULL, NULL, NULL, &refsw);
        CHECK(T, s == RZ_OK, "reference rz_ef_create (switch): %s", SS(s));
    }
    memcpy(model, x0, total * sizeof(float));
    for (int t = 0; t < steps; t++) {
        for (int j = 0; j < nt; j++) {
            float *pi = in + off[j], *po = refout + (size_t)t * total + off[j];
            cin_fill(T, &ct[j], j, t, pi);
            if (ct[j].cset < 0) {
                s = rz_allreduce(pi, po, ct[j].count, RZ_DTYPE_F32, RZ_OP_AVG,
                                 rc);
                CHECK(T, s == RZ_OK, "reference allreduce %s: %s", ct[j].name,
                      SS(s));
                continue;
            }
            rz_ef_h e = (t == T0 && j == 0) ? refsw : ref[j];
            rz_ef_stats_t es;
            memset(&es, 0, sizeof(es));
            s = e ? rz_ef_exchange(e, pi, po, &es) : RZ_ERR_INVALID_PARAM;
            if (s == RZ_ERR_NEED_SYNC) {
                s = rz_ef_liec_sync(e, model + off[j], pi, po, &es);
            }
            CHECK(T, s == RZ_OK, "reference step %d %s: %s", t, ct[j].name,
                  SS(s));
            ref_sent += es.bytes_sent;
            ref_recv += es.bytes_recv;
            if (g_csets[ct[j].cset].method == RZ_EF_METHOD_LIEC) {
                liec_update(model + off[j], po, ct[j].count);
            }
        }
        memcpy(refmodel + (size_t)t * total, model, total * sizeof(float));
    }

    /* The engine under three configurations. */
    static const struct {
        const char *tag;
        long threshold;
        int cache;
    } vars[3] = {{"default", -1, -1}, {"threshold0", 0, -1},
                 {"cache0", -1, 0}};
    for (int v = 0; v < 3; v++) {
        snprintf(T->where, sizeof(T->where), "compress/%s", vars[v].tag);
        rz_fusion_config_t cfg;
        rz_fusion_config_init(&cfg);
        if (vars[v].threshold >= 0) {
            cfg.fusion_threshold = (size_t)vars[v].threshold;
        }
        if (vars[v].cache >= 0) {
            cfg.cache_capacity = vars[v].cache;
        }
        rz_fusion_h fu = make_engine(T, &cfg, vars[v].tag);
        if (fu == NULL) {
            continue;
        }
        memcpy(model, x0, total * sizeof(float));
        int reported = 0;
        for (int t = 0; t < steps; t++) {
            rz_fusion_handle_h h[16];
            rz_status_t st[16];
            rz_fusion_compression_t comp[16];
            int ord[16];
            for (int j = 0; j < nt; j++) {
                cin_fill(T, &ct[j], j, t, in + off[j]);
                h[j] = NULL;
                st[j] = RZ_ERR_INTERNAL;
                if (ct[j].cset >= 0) {
                    rz_fusion_compression_init(&comp[j]);
                    const cset_t *c = (t == T0 && j == 0) ? &g_cset_switch
                                                          : &g_csets[ct[j].cset];
                    cset_config(c, T->K, &comp[j].ef);
                    if (c->method == RZ_EF_METHOD_LIEC) {
                        comp[j].liec_model = model + off[j];
                    }
                }
            }
            shuffle(ord, nt, key4(0xC5EED, (uint64_t)T->rank, (uint64_t)t,
                                  (uint64_t)v));
            for (int k = 0; k < nt; k++) {
                int j = ord[k];
                float *po = ct[j].inplace ? in + off[j] : out + off[j];
                s = rz_fusion_enqueue_allreduce(
                    fu, ct[j].name, in + off[j], po, ct[j].count,
                    RZ_DTYPE_F32, RZ_OP_AVG, ct[j].cset >= 0 ? &comp[j] : NULL,
                    &h[j]);
                CHECK(T, s == RZ_OK, "step %d enqueue %s: %s", t, ct[j].name,
                      SS(s));
            }
            if (t % 2) {
                s = rz_fusion_flush(fu);
                CHECK(T, s == RZ_OK, "flush: %s", SS(s));
            }
            wait_all(h, st, nt, NULL);
            uint64_t hash = 0;
            for (int j = 0; j < nt; j++) {
                CHECK(T, st[j] == RZ_OK, "step %d %s: %s", t, ct[j].name,
                      SS(st[j]));
                const float *po = ct[j].inplace ? in + off[j] : out + off[j];
                const float *pw = refout + (size_t)t * total + off[j];
                int d = first_diff(po, pw, ct[j].count);
                T->checks++;
                if (d >= 0 && reported++ < 8) {
                    failf(T, __LINE__, "step %d %s: output element %d is "
                          "%.9g, the reference (rz_ef/rz_allreduce, "
                          "unfused) has %.9g", t, ct[j].name, d,
                          (double)po[d], (double)pw[d]);
                }
                int liec = ct[j].cset >= 0 &&
                           g_csets[ct[j].cset].method == RZ_EF_METHOD_LIEC &&
                           !(t == T0 && j == 0);
                if (liec) {
                    liec_update(model + off[j], po, ct[j].count);
                    const float *mw = refmodel + (size_t)t * total + off[j];
                    d = first_diff(model + off[j], mw, ct[j].count);
                    T->checks++;
                    if (d >= 0 && reported++ < 8) {
                        failf(T, __LINE__, "step %d %s: LIEC model element %d "
                              "is %.9g, the reference's %.9g", t, ct[j].name,
                              d, (double)model[off[j] + (size_t)d],
                              (double)mw[d]);
                    }
                } else {
                    /* EF/SAEF/NONE and uncompressed: the same on all ranks */
                    hash = hash_bytes(hash, po, ct[j].count * sizeof(float));
                }
            }
            char what[32];
            snprintf(what, sizeof(what), "step %d", t);
            same_on_all(T, __LINE__, what, hash);
        }
        s = rz_fusion_flush(fu);
        CHECK(T, s == RZ_OK, "flush: %s", SS(s));
        rz_fusion_stats_t fs = get_stats(T, fu);
        print_stats(T, vars[v].tag, &fs);
        CHECK(T, fs.tensors == (uint64_t)(nt * steps), "stats.tensors %llu, "
              "want %d", (unsigned long long)fs.tensors, nt * steps);
        CHECK(T, fs.ef_bytes_sent == ref_sent && fs.ef_bytes_recv == ref_recv,
              "ef bytes sent/recv %llu/%llu, the reference calls' %llu/%llu",
              (unsigned long long)fs.ef_bytes_sent,
              (unsigned long long)fs.ef_bytes_recv,
              (unsigned long long)ref_sent, (unsigned long long)ref_recv);
        if (cfg.fusion_threshold == 0) {
            CHECK(T, fs.fused_tensors == 0 && fs.groups == fs.tensors,
                  "threshold 0: fused %llu, groups %llu of %llu tensors",
                  (unsigned long long)fs.fused_tensors,
                  (unsigned long long)fs.groups,
                  (unsigned long long)fs.tensors);
        }
        /* the per-name error state is the reference context's */
        for (int j = 0; j < nt; j++) {
            rz_ef_h e = (rz_ef_h)&e;
            s = rz_fusion_get_ef(fu, ct[j].name, &e);
            CHECK(T, s == RZ_OK, "rz_fusion_get_ef %s: %s", ct[j].name, SS(s));
            if (s != RZ_OK) {
                continue;
            }
            if (ct[j].cset < 0) {
                CHECK(T, e == NULL, "rz_fusion_get_ef %s (never compressed): "
                      "not NULL", ct[j].name);
                continue;
            }
            rz_ef_h r = j == 0 ? refsw : ref[j];
            CHECK(T, e != NULL, "rz_fusion_get_ef %s: NULL", ct[j].name);
            if (e == NULL || r == NULL) {
                continue;
            }
            CHECK(T, rz_ef_iteration(e) == rz_ef_iteration(r),
                  "%s: the engine's context is at iteration %llu, the "
                  "reference's at %llu", ct[j].name,
                  (unsigned long long)rz_ef_iteration(e),
                  (unsigned long long)rz_ef_iteration(r));
            cmp_state(T, ct[j].name, e, r, RZ_EF_STATE_LOCAL_ERR, "LOCAL_ERR");
            cmp_state(T, ct[j].name, e, r, RZ_EF_STATE_SERVER_ERR,
                      "SERVER_ERR");
        }
        kill_engine(T, fu);
    }
    for (int j = 0; j < nt; j++) {
        rz_ef_destroy(ref[j]);
    }
    rz_ef_destroy(refsw);
    rz_comm_destroy(rc);
out:
    free(in);
    free(out);
    free(refout);
    free(refmodel);
    free(x0);
    free(model);
}

/* ------------------------------------------------------------------ */
/* Case 5: shutdown with pending work                                 */
/* ------------------------------------------------------------------ */

static void shutdown_early(tst_t *T, int x)
{
    snprintf(T->where, sizeof(T->where), "shutdown/b rank %d leaves", x);
    double c0 = now_s();
    rz_fusion_h fu = make_engine(T, NULL, "default");
    if (fu == NULL) {
        return;
    }
    warmup(T, fu, "sd.b.warm");
    enum { NP = 4 };
    float buf[NP][100];
    rz_fusion_handle_h h[NP] = {NULL};
    if (T->rank != x) {
        for (int i = 0; i < NP; i++) {
            char name[32];
            snprintf(name, sizeof(name), "sd.b.pending%d", i);
            fill_small(buf[i], RZ_DTYPE_F32, 100, (uint64_t)i, T->rank);
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, name, buf[i], buf[i], 100, RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                &h[i]);
            CHECK(T, s == RZ_OK, "enqueue %s: %s", name, SS(s));
        }
    }
    barrier(T);
    double t0 = now_s();
    if (T->rank == x) {
        rz_status_t s = rz_fusion_destroy(fu);
        CHECK(T, s == RZ_OK, "early destroy: %s", SS(s));
        CHECK(T, now_s() - t0 < 5.0, "early destroy took %.1f s",
              now_s() - t0);
    } else {
        for (int i = 0; i < NP; i++) {
            if (h[i] == NULL) {
                continue;
            }
            rz_status_t s = rz_fusion_wait(&h[i]);
            CHECK(T, s == RZ_ERR_ABORTED, "pending tensor %d after rank %d "
                  "left: %s, want %s", i, x, SS(s), SS(RZ_ERR_ABORTED));
        }
        double took = now_s() - t0;
        CHECK(T, took < 10.0, "pending tensors failed after %.1f s", took);
        if (g_verbose || T->rank == (x + 1) % T->K) {
            printf("fusion: rank %d: pending tensors aborted %.3f s after rank "
                   "%d's destroy began\n", T->rank, took, x);
        }
        /* a later enqueue fails instead of hanging */
        float late[8] = {0};
        rz_fusion_handle_h hl = NULL;
        rz_status_t s = rz_fusion_enqueue_allreduce(
            fu, "sd.b.late", late, late, 8, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &hl);
        CHECK(T, s != RZ_OK, "enqueue on an engine whose peer left returned "
              "RZ_OK");
        if (s == RZ_OK && hl != NULL) {
            double w0 = now_s();
            s = rz_fusion_wait(&hl);
            CHECK(T, s != RZ_OK && now_s() - w0 < 5.0, "... and its handle "
                  "gave %s after %.1f s", SS(s), now_s() - w0);
        }
        double d0 = now_s();
        s = rz_fusion_destroy(fu);
        (void)s; /* the engine already failed: any status, but promptly */
        CHECK(T, now_s() - d0 < 5.0, "destroy after the peer left took %.1f s",
              now_s() - d0);
    }
    barrier(T);
    CHECK(T, now_s() - c0 < 10.0, "took %.1f s", now_s() - c0);
}

static void case_shutdown(tst_t *T)
{
    /* (a) a tensor only rank 0 enqueued, then destroy everywhere */
    snprintf(T->where, sizeof(T->where), "shutdown/a");
    double c0 = now_s();
    rz_fusion_h fu = make_engine(T, NULL, "default");
    if (fu != NULL) {
        warmup(T, fu, "sd.a.warm");
        float a[16] = {0}, b[16] = {0};
        rz_fusion_handle_h ha = NULL, hb = NULL;
        if (T->rank == 0 && T->K > 1) {
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, "only.on.0", a, a, 16, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &ha);
            CHECK(T, s == RZ_OK, "enqueue only.on.0: %s", SS(s));
            s = rz_fusion_enqueue_allreduce(fu, "only.on.0.b", b, b, 16,
                                            RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                                            &hb);
            CHECK(T, s == RZ_OK, "enqueue only.on.0.b: %s", SS(s));
        }
        barrier(T);
        kill_engine(T, fu);
        if (ha != NULL) {
            rz_status_t s = rz_fusion_wait(&ha);
            CHECK(T, s == RZ_ERR_ABORTED, "only.on.0 waited after destroy: "
                  "%s, want %s", SS(s), SS(RZ_ERR_ABORTED));
            CHECK(T, ha == NULL, "wait did not set the handle to NULL");
        }
        if (hb != NULL) {
            int done = -1;
            rz_status_t s = rz_fusion_test(&hb, &done);
            CHECK(T, done == 1 && s == RZ_ERR_ABORTED && hb == NULL,
                  "only.on.0.b tested after destroy: done %d, %s, handle %p",
                  done, SS(s), (void *)hb);
        }
    }
    barrier(T);
    CHECK(T, now_s() - c0 < 10.0, "took %.1f s", now_s() - c0);

    /* (b) one rank leaves while the others have tensors pending */
    if (T->K > 1) {
        shutdown_early(T, T->K - 1);
        shutdown_early(T, 0);
    }

    /* (d) the documented ending, flush then destroy on every rank, with one
     * rank faster: a flush whose tensors all completed is a success even
     * when a peer has already destroyed its engine */
    if (T->K > 1) {
        snprintf(T->where, sizeof(T->where), "shutdown/d");
        fu = make_engine(T, NULL, "default");
        if (fu != NULL) {
            warmup(T, fu, "sd.d.warm");
            if (T->rank == 0) {
                rz_status_t s = rz_fusion_flush(fu);
                CHECK(T, s == RZ_OK, "flush: %s", SS(s));
                kill_engine(T, fu);
                fu = NULL;
            }
            barrier(T);
            if (fu != NULL) {
                sleep_ms(50); /* the engine thread sees rank 0 leave */
                rz_status_t s = rz_fusion_flush(fu);
                CHECK(T, s == RZ_OK, "flush with nothing pending after rank 0 "
                      "destroyed its engine (the documented flush-then-destroy "
                      "sequence, rank 0 first): %s", SS(s));
                double d0 = now_s();
                rz_fusion_destroy(fu);
                CHECK(T, now_s() - d0 < 5.0, "destroy took %.1f s",
                      now_s() - d0);
            }
        }
        barrier(T);
    }

    /* (c) nothing pending, right after create */
    snprintf(T->where, sizeof(T->where), "shutdown/c");
    c0 = now_s();
    fu = make_engine(T, NULL, "default");
    kill_engine(T, fu);
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    cfg.cycle_time_ms = 50; /* destroy must not wait out a long cycle */
    fu = make_engine(T, &cfg, "cycle 50 ms");
    if (fu != NULL) {
        rz_status_t s = rz_fusion_flush(fu);
        CHECK(T, s == RZ_OK, "flush with nothing pending: %s", SS(s));
    }
    kill_engine(T, fu);
    barrier(T);
    CHECK(T, now_s() - c0 < 10.0, "took %.1f s", now_s() - c0);
}

/* ------------------------------------------------------------------ */
/* Case 6: a dead peer (processes)                                    */
/* ------------------------------------------------------------------ */

static void case_deadpeer(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "deadpeer");
    if (T->threads || T->K < 2) {
        printf("fusion: deadpeer needs 2 or more processes, skipped\n");
        return;
    }
    int victim = g_victim >= 0 ? g_victim % T->K : T->K - 1;
    const char *e = getenv("RZ_TIMEOUT_MS");
    double timeout_ms = e ? atof(e) : 60000;
    rz_fusion_h fu = make_engine(T, NULL, "default");
    if (fu == NULL) {
        return;
    }
    enum { N = 8 };
    float buf[N][1000];
    rz_fusion_handle_h h[N];
    rz_status_t st[N];
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < N; i++) {
            char name[32];
            snprintf(name, sizeof(name), "dp.t%d", i);
            fill_small(buf[i], RZ_DTYPE_F32, 1000, (uint64_t)(i + 10 * step),
                       T->rank);
            h[i] = NULL;
            st[i] = RZ_ERR_INTERNAL;
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, name, buf[i], buf[i], 1000, RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                &h[i]);
            CHECK(T, s == RZ_OK, "warm-up enqueue %s: %s", name, SS(s));
        }
        wait_all(h, st, N, NULL);
        for (int i = 0; i < N; i++) {
            CHECK(T, st[i] == RZ_OK, "warm-up dp.t%d: %s", i, SS(st[i]));
        }
    }
    barrier(T);
    if (T->rank == victim) {
        /* half a step enqueued, then gone */
        for (int i = 0; i < N / 2; i++) {
            char name[32];
            snprintf(name, sizeof(name), "dp.t%d", i);
            rz_status_t s = rz_fusion_enqueue_allreduce(
                fu, name, buf[i], buf[i], 1000, RZ_DTYPE_F32, RZ_OP_SUM, NULL,
                &h[i]);
            (void)s;
        }
        if (g_victim_stop) {
            /* frozen, engine thread included: only RZ_TIMEOUT_MS helps;
             * test_deadpeer.sh kills it once the survivors are done */
            printf("rank %d: pid %d stopping myself with SIGSTOP\n", T->rank,
                   (int)getpid());
            fflush(stdout);
            raise(SIGSTOP);
            _exit(3);
        }
        printf("rank %d: killing myself with SIGKILL\n", T->rank);
        fflush(stdout);
        raise(SIGKILL);
    }
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), i < N / 2 ? "dp.t%d" : "dp.new%d", i);
        h[i] = NULL;
        st[i] = RZ_ERR_INTERNAL;
        rz_status_t s = rz_fusion_enqueue_allreduce(
            fu, name, buf[i], buf[i], 1000, RZ_DTYPE_F32, RZ_OP_SUM, NULL,
            &h[i]);
        if (s != RZ_OK) {
            st[i] = s; /* the engine may already know */
        }
    }
    double last = t0;
    for (int i = 0; i < N; i++) {
        if (h[i] != NULL) {
            st[i] = rz_fusion_wait(&h[i]);
            last = now_s();
        }
        CHECK(T, st[i] != RZ_OK, "tensor %d completed OK with a dead peer", i);
    }
    double took = last - t0;
    printf("rank %d: pending tensors failed (%s) %.2f s after the step "
           "began\n", T->rank, SS(st[0]), took);
    CHECK(T, took <= timeout_ms / 1000.0 + 5.0, "the handles failed after "
          "%.1f s > RZ_TIMEOUT_MS %.0f ms + 5 s", took, timeout_ms);
    double d0 = now_s();
    rz_fusion_destroy(fu);
    CHECK(T, now_s() - d0 < 5.0, "destroy with a dead peer took %.1f s",
          now_s() - d0);
    if (T->fails == 0) {
        printf("rank %d: survivor-ok\n", T->rank);
    }
}

/* ------------------------------------------------------------------ */
/* Case 7: bad input                                                  */
/* ------------------------------------------------------------------ */

static void case_badargs(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "badargs");
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    CHECK(T, cfg.struct_size == sizeof(cfg), "config struct_size %zu",
          cfg.struct_size);
    CHECK(T, cfg.cycle_time_ms > 0, "default cycle_time_ms %g",
          cfg.cycle_time_ms);
    if (!getenv("RZ_FUSION_THRESHOLD")) {
        CHECK(T, cfg.fusion_threshold == 134217728, "default threshold %zu",
              cfg.fusion_threshold);
    }
    if (!getenv("RZ_CACHE_CAPACITY")) {
        CHECK(T, cfg.cache_capacity == 1024, "default cache %d",
              cfg.cache_capacity);
    }
    if (!getenv("RZ_CYCLE_TIME_MS")) {
        CHECK(T, cfg.cycle_time_ms == 1.0, "default cycle %g",
              cfg.cycle_time_ms);
    }
    if (!getenv("RZ_TIMELINE")) {
        CHECK(T, cfg.timeline == NULL, "default timeline '%s'", cfg.timeline);
    }
    rz_fusion_compression_t comp;
    memset(&comp, 0x5A, sizeof(comp));
    rz_fusion_compression_init(&comp);
    CHECK(T, comp.struct_size == sizeof(comp) && comp.liec_model == NULL &&
          comp.ef.struct_size == sizeof(rz_ef_config_t) &&
          comp.ef.method == RZ_EF_METHOD_EF, "rz_fusion_compression_init");

    /* create: every rank passes the same bad arguments, so all fail */
    static int sentinel_obj;
    rz_fusion_h sentinel = (rz_fusion_h)(void *)&sentinel_obj, fu = sentinel;
    rz_status_t s = rz_fusion_create(NULL, NULL, &fu);
    CHECK(T, s == RZ_ERR_INVALID_PARAM && fu == sentinel, "create(NULL "
          "comm): %s", SS(s));
    s = rz_fusion_create(T->comm, NULL, NULL);
    CHECK(T, s == RZ_ERR_INVALID_PARAM, "create(fu_p NULL): %s", SS(s));
    static const double bad_cycles[3] = {0.0, -1.0, NAN};
    for (int i = 0; i < 3; i++) {
        rz_fusion_config_t c = cfg;
        c.cycle_time_ms = bad_cycles[i];
        fu = sentinel;
        double t0 = now_s();
        s = rz_fusion_create(T->comm, &c, &fu);
        CHECK(T, s == RZ_ERR_INVALID_PARAM && fu == sentinel,
              "create with cycle_time_ms %g: %s (engine %s)", c.cycle_time_ms,
              SS(s), fu == sentinel ? "untouched" : "written");
        CHECK(T, now_s() - t0 < 5.0, "a bad create took %.1f s",
              now_s() - t0);
        if (s == RZ_OK && fu != sentinel) {
            rz_fusion_destroy(fu);
        }
    }
    {
        rz_fusion_config_t c = cfg;
        c.timeline = "/nonexistent-rz-dir/sub/timeline.%r.json";
        fu = sentinel;
        double t0 = now_s();
        s = rz_fusion_create(T->comm, &c, &fu);
        CHECK(T, s == RZ_ERR_IO && fu == sentinel, "create with a timeline "
              "in a missing directory: %s, want %s", SS(s), SS(RZ_ERR_IO));
        CHECK(T, now_s() - t0 < 10.0, "a bad create took %.1f s",
              now_s() - t0);
        if (s == RZ_OK && fu != sentinel) {
            rz_fusion_destroy(fu);
        }
    }
    barrier(T);
    fu = make_engine(T, NULL, "default");
    if (fu == NULL) {
        return;
    }

    float a[32], b[32];
    fill_small(a, RZ_DTYPE_F32, 32, 1, T->rank);
    static int hsent_obj;
    rz_fusion_handle_h hsent = (rz_fusion_handle_h)(void *)&hsent_obj;
    rz_fusion_handle_h h = hsent;
#define BAD_ENQ(want, what, ...)                                               \
    do {                                                                       \
        h = hsent;                                                             \
        s = rz_fusion_enqueue_allreduce(__VA_ARGS__);                          \
        CHECK(T, s == (want), "enqueue with %s: %s, want %s", what, SS(s),     \
              SS(want));                                                       \
        CHECK(T, h == hsent, "enqueue with %s wrote the handle", what);        \
        if (s == RZ_OK && h != hsent && h != NULL) {                           \
            rz_fusion_wait(&h);                                                \
        }                                                                      \
    } while (0)
    const rz_status_t INV = RZ_ERR_INVALID_PARAM, NS = RZ_ERR_NOT_SUPPORTED;
    BAD_ENQ(INV, "a NULL engine", NULL, "x", a, b, 32, RZ_DTYPE_F32,
            RZ_OP_SUM, NULL, &h);
    BAD_ENQ(INV, "a NULL name", fu, NULL, a, b, 32, RZ_DTYPE_F32, RZ_OP_SUM,
            NULL, &h);
    BAD_ENQ(INV, "an empty name", fu, "", a, b, 32, RZ_DTYPE_F32, RZ_OP_SUM,
            NULL, &h);
    char *longname = malloc(RZ_FUSION_NAME_MAX + 2);
    memset(longname, 'n', RZ_FUSION_NAME_MAX + 1);
    longname[RZ_FUSION_NAME_MAX + 1] = 0;
    BAD_ENQ(INV, "a name of RZ_FUSION_NAME_MAX + 1 bytes", fu, longname, a, b,
            32, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &h);
    BAD_ENQ(INV, "a NULL sendbuf", fu, "x", NULL, b, 32, RZ_DTYPE_F32,
            RZ_OP_SUM, NULL, &h);
    BAD_ENQ(INV, "a NULL recvbuf", fu, "x", a, NULL, 32, RZ_DTYPE_F32,
            RZ_OP_SUM, NULL, &h);
    s = rz_fusion_enqueue_allreduce(fu, "x", a, b, 32, RZ_DTYPE_F32, RZ_OP_SUM,
                                    NULL, NULL);
    CHECK(T, s == INV, "enqueue with a NULL handle_p: %s", SS(s));
    BAD_ENQ(INV, "count 0", fu, "x", a, b, 0, RZ_DTYPE_F32, RZ_OP_SUM, NULL,
            &h);
    BAD_ENQ(INV, "dtype 99", fu, "x", a, b, 32, (rz_dtype_t)99, RZ_OP_SUM,
            NULL, &h);
    BAD_ENQ(INV, "dtype RZ_DTYPE_LAST", fu, "x", a, b, 32, RZ_DTYPE_LAST,
            RZ_OP_SUM, NULL, &h);
    BAD_ENQ(INV, "dtype -1", fu, "x", a, b, 32, (rz_dtype_t)-1, RZ_OP_SUM,
            NULL, &h);
    BAD_ENQ(INV, "op 17", fu, "x", a, b, 32, RZ_DTYPE_F32, (rz_op_t)17, NULL,
            &h);
    BAD_ENQ(INV, "op RZ_OP_LAST", fu, "x", a, b, 32, RZ_DTYPE_F32, RZ_OP_LAST,
            NULL, &h);
    rz_fusion_compression_init(&comp);
    BAD_ENQ(NS, "compression of f64", fu, "x", a, b, 16, RZ_DTYPE_F64,
            RZ_OP_AVG, &comp, &h);
    BAD_ENQ(NS, "compression of op sum", fu, "x", a, b, 32, RZ_DTYPE_F32,
            RZ_OP_SUM, &comp, &h);
    BAD_ENQ(NS, "compression of f16", fu, "x", a, b, 32, RZ_DTYPE_F16,
            RZ_OP_AVG, &comp, &h);
    comp.ef.method = RZ_EF_METHOD_LIEC;
    comp.ef.model_avg_period = 3;
    comp.liec_model = NULL;
    BAD_ENQ(INV, "LIEC H=3 without liec_model", fu, "x", a, b, 32,
            RZ_DTYPE_F32, RZ_OP_AVG, &comp, &h);

    /* a name pending twice; the first stays good */
    {
        float d[32];
        fill_small(d, RZ_DTYPE_F32, 32, 2, T->rank);
        rz_fusion_handle_h h1 = NULL;
        s = rz_fusion_enqueue_allreduce(fu, "dup.name", d, d, 32, RZ_DTYPE_F32,
                                        RZ_OP_SUM, NULL, &h1);
        CHECK(T, s == RZ_OK, "enqueue dup.name: %s", SS(s));
        BAD_ENQ(INV, "a name already pending", fu, "dup.name", a, b, 32,
                RZ_DTYPE_F32, RZ_OP_SUM, NULL, &h);
        int done = -1;
        if (h1 != NULL) {
            rz_fusion_handle_h keep = h1;
            s = rz_fusion_test(&h1, NULL);
            CHECK(T, s == INV && h1 == keep, "test(handle, done_p NULL): %s, "
                  "handle %s", SS(s), h1 == keep ? "kept" : "changed");
        }
        s = rz_fusion_wait(&h1);
        CHECK(T, s == RZ_OK, "dup.name (the first enqueue): %s", SS(s));
        if (s == RZ_OK) {
            verify_small(T, __LINE__, "dup.name", d, RZ_DTYPE_F32, RZ_OP_SUM,
                         32, 2);
        }
        rz_fusion_handle_h hn = NULL;
        s = rz_fusion_wait(NULL);
        CHECK(T, s == INV, "wait(NULL): %s", SS(s));
        s = rz_fusion_wait(&hn);
        CHECK(T, s == INV, "wait on a NULL handle: %s", SS(s));
        s = rz_fusion_test(NULL, &done);
        CHECK(T, s == INV, "test(NULL): %s", SS(s));
        s = rz_fusion_test(&hn, &done);
        CHECK(T, s == INV, "test on a NULL handle: %s", SS(s));
    }
    /* a name of exactly RZ_FUSION_NAME_MAX bytes is fine */
    {
        longname[RZ_FUSION_NAME_MAX] = 0;
        longname[0] = 'A' + (char)(T->K % 26); /* same on all ranks */
        float d[5];
        fill_small(d, RZ_DTYPE_F32, 5, 3, T->rank);
        rz_fusion_handle_h h1 = NULL;
        s = rz_fusion_enqueue_allreduce(fu, longname, d, d, 5, RZ_DTYPE_F32,
                                        RZ_OP_SUM, NULL, &h1);
        CHECK(T, s == RZ_OK, "enqueue with a %d-byte name: %s",
              RZ_FUSION_NAME_MAX, SS(s));
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
            CHECK(T, s == RZ_OK, "the %d-byte name: %s", RZ_FUSION_NAME_MAX,
                  SS(s));
            if (s == RZ_OK) {
                verify_small(T, __LINE__, "long name", d, RZ_DTYPE_F32,
                             RZ_OP_SUM, 5, 3);
            }
        }
    }
    free(longname);
    /* avg of integers and an unknown compressor: refused at enqueue or
     * as the handle's status, on every rank, never a hang */
    {
        int32_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        rz_fusion_handle_h h1 = NULL;
        double t0 = now_s();
        s = rz_fusion_enqueue_allreduce(fu, "i32.avg", iv, iv, 8, RZ_DTYPE_I32,
                                        RZ_OP_AVG, NULL, &h1);
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
        }
        CHECK(T, s == NS, "avg of i32: %s, want %s", SS(s), SS(NS));
        rz_fusion_compression_init(&comp);
        comp.ef.worker_compressor = "nosuchcodec";
        comp.ef.server_compressor = "nosuchcodec";
        h1 = NULL;
        s = rz_fusion_enqueue_allreduce(fu, "bad.codec", a, b, 32,
                                        RZ_DTYPE_F32, RZ_OP_AVG, &comp, &h1);
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
        }
        CHECK(T, s != RZ_OK, "an unknown compressor: RZ_OK");
        CHECK(T, now_s() - t0 < 10.0, "took %.1f s", now_s() - t0);
    }
    /* compression settings rz_ef_create() refuses: refused at enqueue or
     * failing that tensor alone, never stopping the engine (bad.after
     * below); momentum and weight decay are ignored (fusion.h) */
    {
        rz_fusion_handle_h h1 = NULL;
        rz_fusion_compression_init(&comp);
        comp.ef.topology = RZ_EF_TOPO_SINGLE;
        comp.ef.server_rank = T->K + 5;
        s = rz_fusion_enqueue_allreduce(fu, "bad.server", a, b, 32,
                                        RZ_DTYPE_F32, RZ_OP_AVG, &comp, &h1);
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
        }
        CHECK(T, s == INV, "single server_rank %d of %d ranks: %s, want %s",
              comp.ef.server_rank, T->K, SS(s), SS(INV));
        snprintf(T->where, sizeof(T->where), "badargs/after a compressed "
                 "tensor with server_rank %d", comp.ef.server_rank);
        warmup(T, fu, "after.bad.server");
        snprintf(T->where, sizeof(T->where), "badargs");
        rz_fusion_compression_init(&comp);
        comp.ef.momentum = -1.0f;
        comp.ef.weight_decay = NAN;
        h1 = NULL;
        s = rz_fusion_enqueue_allreduce(fu, "ignored.momentum", a, b, 32,
                                        RZ_DTYPE_F32, RZ_OP_AVG, &comp, &h1);
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
        }
        CHECK(T, s == RZ_OK, "ef.momentum -1 and weight_decay NaN, which "
              "fusion.h says are ignored: %s", SS(s));
        snprintf(T->where, sizeof(T->where), "badargs/after a compressed "
                 "tensor with ef.momentum -1");
        warmup(T, fu, "after.ignored.momentum");
        snprintf(T->where, sizeof(T->where), "badargs");
    }
    /* partially overlapping buffers (rz_allreduce refuses them) */
    {
        float ov[40];
        rz_fusion_handle_h h1 = NULL;
        s = rz_fusion_enqueue_allreduce(fu, "bad.overlap", ov, ov + 1, 32,
                                        RZ_DTYPE_F32, RZ_OP_SUM, NULL, &h1);
        if (s == RZ_OK) {
            s = rz_fusion_wait(&h1);
        }
        CHECK(T, s == INV, "partially overlapping send and receive buffers: "
              "%s, want %s", SS(s), SS(INV));
        snprintf(T->where, sizeof(T->where), "badargs/after a tensor with "
                 "overlapping buffers");
        warmup(T, fu, "after.bad.overlap");
        snprintf(T->where, sizeof(T->where), "badargs");
    }
    /* queries */
    rz_fusion_stats_t st;
    CHECK(T, rz_fusion_flush(NULL) == INV, "flush(NULL)");
    CHECK(T, rz_fusion_get_stats(NULL, &st) == INV, "get_stats(NULL)");
    CHECK(T, rz_fusion_get_stats(fu, NULL) == INV, "get_stats(stats NULL)");
    rz_ef_h ef = (rz_ef_h)(void *)&sentinel_obj;
    CHECK(T, rz_fusion_get_ef(NULL, "x", &ef) == INV, "get_ef(NULL)");
    CHECK(T, rz_fusion_get_ef(fu, NULL, &ef) == INV, "get_ef(name NULL)");
    CHECK(T, rz_fusion_get_ef(fu, "x", NULL) == INV, "get_ef(ef_p NULL)");
    s = rz_fusion_get_ef(fu, "never.seen", &ef);
    CHECK(T, s == RZ_OK && ef == NULL, "get_ef of an unknown name: %s, %p",
          SS(s), (void *)ef);
    ef = (rz_ef_h)(void *)&sentinel_obj;
    s = rz_fusion_get_ef(fu, "dup.name", &ef);
    CHECK(T, s == RZ_OK && ef == NULL, "get_ef of an uncompressed name: %s, "
          "%p", SS(s), (void *)ef);
    CHECK(T, rz_fusion_destroy(NULL) == RZ_OK, "destroy(NULL)");
    /* after all that the engine still works */
    fill_small(a, RZ_DTYPE_F32, 32, 4, T->rank);
    h = NULL;
    s = rz_fusion_enqueue_allreduce(fu, "bad.after", a, b, 32, RZ_DTYPE_F32,
                                    RZ_OP_MAX, NULL, &h);
    CHECK(T, s == RZ_OK, "enqueue bad.after: %s", SS(s));
    s = rz_fusion_wait(&h);
    CHECK(T, s == RZ_OK, "bad.after: %s", SS(s));
    if (s == RZ_OK) {
        verify_small(T, __LINE__, "bad.after", b, RZ_DTYPE_F32, RZ_OP_MAX, 32,
                     4);
    }
    s = rz_fusion_flush(fu);
    CHECK(T, s == RZ_OK, "flush: %s", SS(s));
    kill_engine(T, fu);
#undef BAD_ENQ
}

/* ------------------------------------------------------------------ */
/* Case 8: timeline                                                   */
/* ------------------------------------------------------------------ */

static void case_timeline(tst_t *T)
{
    snprintf(T->where, sizeof(T->where), "timeline");
    char dir[256] = {0};
    int made = 0;
    if (g_dir) {
        snprintf(dir, sizeof(dir), "%s", g_dir);
    } else {
        if (T->rank == 0) {
            snprintf(dir, sizeof(dir), "/tmp/rz_fusion_tl.XXXXXX");
            if (mkdtemp(dir) == NULL) {
                dir[0] = 0;
            }
            made = 1;
        }
        rz_status_t s = rz_broadcast(dir, dir, sizeof(dir), RZ_DTYPE_U8, 0,
                                     T->comm);
        CHECK(T, s == RZ_OK, "broadcast of the directory: %s", SS(s));
    }
    CHECK(T, dir[0] != 0, "no directory for the timeline");
    if (!dir[0]) {
        return;
    }
    char pattern[320], mine[320];
    snprintf(pattern, sizeof(pattern), "%s/timeline.%%r.json", dir);
    snprintf(mine, sizeof(mine), "%s/timeline.%d.json", dir, T->rank);
    rz_fusion_config_t cfg;
    rz_fusion_config_init(&cfg);
    cfg.timeline = pattern;
    cfg.cycle_time_ms = 10; /* the small tensors meet in one cycle */
    rz_fusion_h fu = make_engine(T, &cfg, "timeline");
    uint64_t fused = 0;
    if (fu != NULL) {
        enum { N = 6 };
        float buf[N + 1][256];
        for (int step = 0; step < 3; step++) {
            rz_fusion_handle_h h[N + 1];
            rz_status_t st[N + 1];
            rz_fusion_compression_t comp;
            rz_fusion_compression_init(&comp);
            for (int i = 0; i <= N; i++) {
                char name[32];
                if (i < N) {
                    snprintf(name, sizeof(name), "tl.small%d", i);
                } else {
                    snprintf(name, sizeof(name), "tl.compressed");
                }
                fill_small(buf[i], RZ_DTYPE_F32, 256, (uint64_t)i, T->rank);
                h[i] = NULL;
                rz_status_t s = rz_fusion_enqueue_allreduce(
                    fu, name, buf[i], buf[i], 256, RZ_DTYPE_F32,
                    i < N ? RZ_OP_SUM : RZ_OP_AVG, i < N ? NULL : &comp,
                    &h[i]);
                CHECK(T, s == RZ_OK, "enqueue %s: %s", name, SS(s));
            }
            wait_all(h, st, N + 1, NULL);
            for (int i = 0; i <= N; i++) {
                CHECK(T, st[i] == RZ_OK, "tensor %d: %s", i, SS(st[i]));
            }
        }
        rz_fusion_stats_t s = get_stats(T, fu);
        fused = s.fused_tensors;
        kill_engine(T, fu);
    }
    barrier(T);
    size_t n = 0;
    char *txt = read_file(mine, &n);
    CHECK(T, txt != NULL && n > 0, "%s: missing or empty", mine);
    if (txt) {
        const char *need[] = {"\"NEGOTIATE", "\"ALLREDUCE", "\"COMPRESS",
                              "\"DECOMPRESS", "thread_name", "tl.small",
                              "tl.compressed"};
        for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++) {
            CHECK(T, strstr(txt, need[i]) != NULL, "%s has no %s", mine,
                  need[i] + (need[i][0] == '"'));
        }
        if (fused > 0) {
            CHECK(T, strstr(txt, "\"MEMCPY_IN_FUSION_BUFFER") &&
                  strstr(txt, "\"MEMCPY_OUT_FUSION_BUFFER"), "%s: %llu fused "
                  "tensors but no MEMCPY_IN/OUT_FUSION_BUFFER", mine,
                  (unsigned long long)fused);
        } else {
            printf("fusion: rank %d: nothing was fused, MEMCPY events not "
                   "checked\n", T->rank);
        }
        /* the file ends as a complete JSON document would */
        size_t e = n;
        while (e > 0 && (txt[e - 1] == '\n' || txt[e - 1] == ' ')) {
            e--;
        }
        CHECK(T, e > 0 && (txt[e - 1] == ']' || txt[e - 1] == '}'),
              "%s does not end with ] or }", mine);
        free(txt);
    }
    barrier(T);
    /* without "%r" only rank 0 writes: one whole file, not K interleaved */
    char single[320];
    snprintf(single, sizeof(single), "%s/timeline-rank0.json", dir);
    cfg.timeline = single;
    fu = make_engine(T, &cfg, "timeline without %r");
    if (fu != NULL) {
        float v[8];
        fill_small(v, RZ_DTYPE_F32, 8, 9, T->rank);
        rz_fusion_handle_h h = NULL;
        rz_status_t s = rz_fusion_enqueue_allreduce(
            fu, "tl.single", v, v, 8, RZ_DTYPE_F32, RZ_OP_SUM, NULL, &h);
        CHECK(T, s == RZ_OK, "enqueue tl.single: %s", SS(s));
        s = rz_fusion_wait(&h);
        CHECK(T, s == RZ_OK, "tl.single: %s", SS(s));
        kill_engine(T, fu);
    }
    barrier(T);
    if (T->rank == 0) {
        txt = read_file(single, &n);
        CHECK(T, txt != NULL && strstr(txt, "tl.single") &&
              strstr(txt, "\"rank 0\"") && !strstr(txt, "\"rank 1\""),
              "%s: missing, or not rank 0's alone", single);
        free(txt);
    }
    barrier(T);
    if (!g_keep) {
        unlink(mine);
        barrier(T);
        if (made) {
            unlink(single);
            rmdir(dir);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    unsigned bit;
    void (*run)(tst_t *);
    double budget_s;
} case_entry_t;

/* Budgets: several times a case's time at np 4 on two cores (order ~5 s,
 * the others ~1 s, stall ~2 s), well inside the ctest TIMEOUT. */
static const case_entry_t g_runs[] = {
    {C_BADARGS, case_badargs, 30},   {C_ORDER, case_order, 60},
    {C_MISMATCH, case_mismatch, 30}, {C_COMPRESS, case_compress, 45},
    {C_SHUTDOWN, case_shutdown, 30}, {C_STALL, case_stall, 30},
    {C_TIMELINE, case_timeline, 30}, {C_DEADPEER, case_deadpeer, 45},
};

static void run_all(tst_t *T)
{
    for (size_t i = 0; i < sizeof(g_runs) / sizeof(*g_runs); i++) {
        if (!(g_cases & g_runs[i].bit)) {
            continue;
        }
        const char *name = "?";
        for (size_t k = 0; k < sizeof(g_case_names) / sizeof(*g_case_names);
             k++) {
            if (g_case_names[k].bit == g_runs[i].bit) {
                name = g_case_names[k].name;
            }
        }
        wd_arm(name, g_runs[i].budget_s); /* threads: the same deadline */
        double t0 = now_s();
        long f0 = T->fails, c0 = T->checks;
        g_runs[i].run(T);
        if (g_runs[i].bit != C_DEADPEER) {
            snprintf(T->where, sizeof(T->where), "%s", name);
            barrier(T);
        }
        if (T->rank == 0 || g_verbose || T->fails != f0) {
            printf("fusion: rank %d case %s: %ld checks, %ld failures, "
                   "%.2f s\n", T->rank, name, T->checks - c0, T->fails - f0,
                   now_s() - t0);
        }
    }
}

static int g_thread_ranks; /* --threads: ranks are threads of one process */

/* One rank (rz_test_ranks.h): the cases, counted as passed and failed. */
static void rank_main(rz_tr_t *t)
{
    tst_t *T = calloc(1, sizeof(*T));

    if (T == NULL) {
        t->failed++;
        return;
    }
    T->comm = t->comm;
    T->rank = t->rank;
    T->K = t->nranks;
    T->threads = g_thread_ranks;
    run_all(T);
    t->passed += T->checks - T->fails;
    t->failed += T->fails;
    free(T);
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--threads K] [--cases LIST|all] [--small] "
            "[--dir DIR] [--keep] [--victim R] [--victim-stop] "
            "[--stall-missing R,R,...] "
            "[--verbose]\n  cases:", prog);
    for (size_t k = 0; k < sizeof(g_case_names) / sizeof(*g_case_names); k++) {
        fprintf(stderr, " %s", g_case_names[k].name);
    }
    fprintf(stderr, "\n");
}

static int parse_cases(const char *list)
{
    unsigned m = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "all")) {
            m |= ~(unsigned)C_DEADPEER & 0xFFu;
            continue;
        }
        unsigned b = 0;
        for (size_t k = 0; k < sizeof(g_case_names) / sizeof(*g_case_names);
             k++) {
            if (!strcmp(tok, g_case_names[k].name)) {
                b = g_case_names[k].bit;
            }
        }
        if (!b) {
            return -1;
        }
        m |= b;
    }
    g_cases = m;
    return 0;
}

int main(int argc, char **argv)
{
    int nthreads = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cases") && i + 1 < argc) {
            if (parse_cases(argv[++i]) != 0) {
                usage(argv[0]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--small")) {
            g_small = 1;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            g_dir = argv[++i];
        } else if (!strcmp(argv[i], "--keep")) {
            g_keep = 1;
        } else if (!strcmp(argv[i], "--victim") && i + 1 < argc) {
            g_victim = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--victim-stop")) {
            g_victim_stop = 1;
        } else if (!strcmp(argv[i], "--stall-missing") && i + 1 < argc) {
            g_stall_missing = argv[++i];
        } else if (!strcmp(argv[i], "--verbose")) {
            g_verbose = 1;
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (nthreads < 0 || nthreads > 64) {
        fprintf(stderr, "--threads: 1 to 64\n");
        return 2;
    }
    pthread_t wd;
    pthread_create(&wd, NULL, wd_main, NULL);
    pthread_detach(wd);
    g_thread_ranks = nthreads > 0;
    return rz_tr_run("fusion", nthreads, rank_main);
}
