/*
 * Invariant tests of the error-compensated compressed allreduce (EF, SAEF,
 * LIEC over single/sharded/ring/ring-exact), ALGORITHMS.md section 5:
 * E1-E10, L1-L6, B1-B2, the low-level API and bad input.
 *
 *   test_ef [--threads K] [--level full|mid|reduced|small|long] [--quick]
 *           [--filter SUBSTR] [--steps T] [--verbose] [--max-reports N]
 *           [--mismatch]
 *
 * Without --threads, ranks are processes started by rzrun
 * (rz_comm_init_env). With --threads K, K threads of this process each join
 * through rz_get_unique_id()/rz_comm_init_rank(). --mismatch (processes,
 * RZ_TIMEOUT_MS=5000) runs the mismatched-configuration cases instead.
 *
 * Every case runs a group of contexts side by side on one communicator (the
 * five topologies single/aligned/sharded/ring/ring-exact, EF and SAEF
 * together, a low-level twin, LIEC history twins), fed identical open-loop
 * gradients (a function of seed, rank, t and i only). After each call every
 * rank allgathers its states (x, x_eval, e^k, owned e_srv, m, exchange
 * input and output, stats), so every rank sees all ranks' states and the
 * same checks run with ranks as threads or as processes. Each rank checks
 * its own per-rank properties; rank 0 checks the global ones.
 *
 * Comparison levels follow section 5: "bitwise" is fp32 == (+0 == -0) and
 * exact byte counts; "approx" is |a - b| <= 8 (K + 4)(s + 1) 2^-24 M with M
 * the largest magnitude involved so far (x0, every compressor input as far
 * as it can be reconstructed, models, errors, m, exchange in/out) and the
 * oracle in double.
 *
 * What is asserted (tags as printed in failures and in the summary):
 *  B1  bytes_sent of create and every call = section 3.4 from this file's
 *      own size table (ef_ref.h), split into compressed and fp32 bytes;
 *      the sum over ranks of sent = received.
 *  B2  err_averaged iff p > 0 and (t+2) mod p = 0 (create: p = 1);
 *      models_averaged iff H > 0 and (t+1) mod H = 0; stats.iter = t and
 *      rz_ef_iteration() = t + 1 after call t.
 *  E1  identity codecs: e^k = e_srv = 0; x bitwise = the per-rank-momentum
 *      SGDM oracle in fp32 (rank order; chain order per chunk on the ring);
 *      the exchange output q bitwise = that mean; SAEF = EF incl. x_eval;
 *      x approx SGDM on the averaged gradient (s = t).
 *  E2  x - e - mean_k e^k approx x0 - sum_s lr_s/K sum_k m^k (s = t).
 *  E3  after an in-call averaging e^k equal on all ranks; a forced
 *      rz_ef_average_errors gives the rank-order fp32 mean bitwise, keeps
 *      e_srv, keeps mean_k e^k (approx, s = 0) and sends the allreduce.
 *  E4  x (and the low-level q) bitwise equal on all ranks.
 *  E5  every compression this rank holds (worker, each ring hop, server):
 *      sign/blocksign C1 identity; top-k exactly min(k, nnz) kept, order
 *      and ties, energy bound; random-k residual 0 on the section 1.2
 *      mask and v off it; fp16 elementwise bound; identity r = 0. Exact v
 *      for workers and hop 0, reconstructed v (with its rounding slack) for
 *      later hops and the server.
 *  E6  |e^k| <= (sqrt(1-delta) G + b) / (1 - sqrt(1-delta)) at every t on
 *      server-style topologies (deterministic codecs); finite on the ring,
 *      whose |e|/((K-1)G) is reported (heuristic).
 *  E7  x_eval = x (EF, NONE) or x - e^k bitwise (SAEF, post-averaging),
 *      also through the EVAL view; with lambda = 0 EF and SAEF give bitwise
 *      the same x, e^k, e_srv, m, exchange input and q.
 *  E8  chunk-aligned single and ring-exact bitwise = sharded (x, x_eval,
 *      e^k, m, exchange in/out, concatenated e_srv), every method and codec;
 *      EF ring with shared-mask random-k both ways: x approx sharded x.
 *  E9  SERVER_ERR ranges: single -> server owns [0, d); sharded rank i
 *      chunk i; rings rank i chunk i + 1; on the ring e^i (LIEC: delta^i)
 *      is 0 on the own chunk outside averaging calls.
 *  E10 (soft, long runs) mean gradient mismatch SAEF vs EF, reported only.
 *  L1  identity codecs: delta = e = 0, x^k bitwise = P-SGD with model
 *      averaging at syncs (fp32; chain order on compressed ring iterations),
 *      approx plain P-SGD (s = t).
 *  L2  mean_k u^k = gbar + e_t - e_{t+1} (low level), xbar and mbar follow
 *      it (s = 0), cumulative xbar - lr e = exact SGD (mu = lambda = 0).
 *  L3  delta^k at t equals that of a twin fed another history before t.
 *  L4  sync: x^k, m^k bitwise from the rank-order fp32 means per section 4,
 *      e_srv = 0, delta = 0, mu = 0 -> x^k equal on all ranks; low level:
 *      x_local and v of rz_ef_liec_sync bitwise; drift recursion approx
 *      (s = t - t_sync) and drift bound (mu = 0).
 *  L5  the server residuals of E5 for LIEC.
 *  L6  AVERAGE view = rank-order fp32 mean (EF/SAEF: x) bitwise; AVERAGE
 *      and VIRTUAL leave the model untouched (and E8 against contexts that
 *      never call them); VIRTUAL approx its definition.
 *  Also: EXCHANGE_IN and MOMENTUM bitwise = the section 4 optimiser
 *  replica; the low-level twin (rz_ef_exchange / rz_ef_liec_sync driving
 *  this file's optimiser) bitwise = rz_ef_step; NEED_SYNC on schedule;
 *  stats norms; bad input (INVALID_PARAM / NOT_SUPPORTED, outputs untouched
 *  on failure, the context still usable); mismatched configurations and
 *  call sequences fail on every rank within RZ_TIMEOUT_MS.
 */
#include "common/rz_test_ranks.h"
#include "ef_ref.h"

#include <ringzip/ringzip.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UROUND 0x1p-24

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

enum { LVL_FULL = 0, LVL_REDUCED, LVL_SMALL, LVL_LONG, LVL_MID };

static int g_level = -1;         /* -1: by K (full up to 4, else reduced) */
static int g_quick = 0;
static const char *g_filter = NULL;
static int g_steps = 0;          /* 0: the case's own */
static int g_verbose = 0;
static int g_max_reports = 30;

/* ------------------------------------------------------------------ */
/* Bookkeeping                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    rz_comm_h comm;
    int rank, K;
    long checks, fails;
    int reported;
    char where[512]; /* case and context */
    int t;           /* call index being checked, -1 for create */
    long cases;
    /* checks per invariant tag (the first word of the message) and the
     * largest |diff| / tol of the approximate comparisons per tag */
    char tag[96][16];
    long tag_n[96];
    long tag_f[96];
    double tag_ratio[96];
    int ntag;
} tst_t;

static int tag_index(tst_t *T, const char *msg)
{
    char w[16];
    size_t n = 0;
    while (msg[n] && msg[n] != ' ' && msg[n] != ':' && n < sizeof(w) - 1) {
        w[n] = msg[n];
        n++;
    }
    w[n] = 0;
    for (int i = 0; i < T->ntag; i++) {
        if (strcmp(T->tag[i], w) == 0) {
            return i;
        }
    }
    if (T->ntag == 96) {
        return 95;
    }
    memcpy(T->tag[T->ntag], w, n + 1);
    return T->ntag++;
}

static void tag_count(tst_t *T, int ok, const char *fmt, ...)
{
    const char *msg = fmt;
    if (strncmp(fmt, "%s", 2) == 0) {
        va_list ap;
        va_start(ap, fmt);
        msg = va_arg(ap, const char *);
        va_end(ap);
    }
    int i = tag_index(T, msg);
    T->tag_n[i]++;
    T->tag_f[i] += !ok;
}

/* E1..E10, L1..L6, B1, B2 */
static int is_invariant_tag(const char *w)
{
    return (w[0] == 'E' || w[0] == 'L' || w[0] == 'B') && w[1] >= '0' &&
           w[1] <= '9';
}

static void failf(tst_t *T, int line, const char *fmt, ...)
{
    T->fails++;
    if (T->reported++ >= g_max_reports) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("rank %d FAIL [%s K=%d t=%d] (line %d): %s\n", T->rank, T->where,
           T->K, T->t, line, msg);
    fflush(stdout);
}

#define CHECK(T, cond, ...)                                                    \
    do {                                                                       \
        int ok_ = (cond) ? 1 : 0;                                              \
        (T)->checks++;                                                         \
        tag_count((T), ok_, __VA_ARGS__);                                      \
        if (!ok_) {                                                            \
            failf((T), __LINE__, __VA_ARGS__);                                 \
        }                                                                      \
    } while (0)

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

/* Bitwise (==) comparison of n floats; the first mismatch is reported. */
static int vec_eq(tst_t *T, int line, const char *what, const float *got,
                  const float *want, size_t n, size_t base)
{
    T->checks++;
    int ti = tag_index(T, what);
    T->tag_n[ti]++;
    for (size_t i = 0; i < n; i++) {
        if (!(got[i] == want[i])) {
            T->tag_f[ti]++;
            failf(T, line, "%s: element %zu: got %.9g (0x%08x) want %.9g "
                  "(0x%08x)", what, base + i, (double)got[i], fbits(got[i]),
                  (double)want[i], fbits(want[i]));
            return 0;
        }
    }
    return 1;
}
#define VEC_EQ(T, what, got, want, n) vec_eq(T, __LINE__, what, got, want, n, 0)

static int vec_zero(tst_t *T, int line, const char *what, const float *got,
                    size_t n, size_t base)
{
    T->checks++;
    int ti = tag_index(T, what);
    T->tag_n[ti]++;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != 0.0f) {
            T->tag_f[ti]++;
            failf(T, line, "%s: element %zu is %.9g, want 0", what, base + i,
                  (double)got[i]);
            return 0;
        }
    }
    return 1;
}
#define VEC_ZERO(T, what, got, n, base) vec_zero(T, __LINE__, what, got, n, base)

/* The accumulated-rounding bound of section 5. */
static double approx_tol(int K, int s, double M)
{
    return 8.0 * (K + 4) * (s + 1) * UROUND * M;
}

static int vec_approx(tst_t *T, int line, const char *what, const double *got,
                      const double *want, size_t n, double tol)
{
    T->checks++;
    int ti = tag_index(T, what);
    T->tag_n[ti]++;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(got[i] - want[i]);
        if (tol > 0 && diff / tol > T->tag_ratio[ti]) {
            T->tag_ratio[ti] = diff / tol;
        }
        if (!(diff <= tol)) {
            T->tag_f[ti]++;
            failf(T, line, "%s: element %zu: got %.17g want %.17g (|diff| "
                  "%.3g > tol %.3g)", what, i, got[i], want[i], diff, tol);
            return 0;
        }
    }
    return 1;
}
#define VEC_APPROX(T, what, got, want, n, tol)                                 \
    vec_approx(T, __LINE__, what, got, want, n, tol)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double norm2f(const float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)v[i] * (double)v[i];
    }
    return s;
}

static double maxabsf(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)v[i]);
        m = a > m ? a : m;
    }
    return m;
}

static double maxabsd(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(v[i]);
        m = a > m ? a : m;
    }
    return m;
}

/* ------------------------------------------------------------------ */
/* Inputs                                                             */
/* ------------------------------------------------------------------ */

/* Open-loop gradient of (seed, rank, t, i): uniform in [-1, 1) at one of
 * four power-of-two scales chosen by element range and rank, exact zeros
 * (1/16) and exact +-0.5*scale ties (1/16) so that top-k sees ties. */
static float gen_grad(uint64_t seed, int rank, int t, size_t i)
{
    static const float scales[4] = {1.0f, 0.25f, 4.0f, 0.015625f};
    uint64_t h = ref_key4(seed, 0x6772616400ull + (uint64_t)rank,
                          (uint64_t)t, (uint64_t)i);
    float sc = scales[(i / 5 + (size_t)rank) % 4];
    unsigned sel = (unsigned)(h & 15);
    if (sel == 0) {
        return 0.0f;
    }
    if (sel == 1) {
        return ((h >> 4) & 1) ? 0.5f * sc : -0.5f * sc;
    }
    double u = (double)((h >> 40) & 0xFFFFFF) * 0x1p-24 * 2.0 - 1.0;
    return (float)u * sc;
}

static float gen_x0(uint64_t seed, size_t i)
{
    uint64_t h = ref_key4(seed, 0x78300000ull, 0, (uint64_t)i);
    double u = (double)((h >> 40) & 0xFFFFFF) * 0x1p-24 * 2.0 - 1.0;
    return (float)(u * 0.5);
}

/* ------------------------------------------------------------------ */
/* Cases                                                              */
/* ------------------------------------------------------------------ */

enum { TV_SINGLE = 0, TV_ALIGNED, TV_SHARDED, TV_RING, TV_RING_EXACT, TV_N };
static const char *tv_name[TV_N] = {"single", "aligned", "sharded", "ring",
                                    "ringx"};

#define M_NONE (1u << REF_NONE)
#define M_EF   (1u << REF_EF)
#define M_SAEF (1u << REF_SAEF)
#define M_LIEC (1u << REF_LIEC)
#define TOPO_ALL ((1u << TV_N) - 1)

typedef struct {
    char name[200];
    unsigned methods;  /* bits of REF_NONE..REF_LIEC */
    unsigned topos;    /* bits of TV_* */
    const char *wc, *sc;
    size_t d;
    float mu, wd;
    uint32_t p, H;
    int T;
    int low;           /* drive rz_ef_exchange/rz_ef_liec_sync */
    int lr_decay;
    int force_at;      /* low mode: rz_ef_average_errors after call t */
    int twins;         /* high mode: low-level twin, LIEC history twins */
    int views;         /* AVERAGE/VIRTUAL views on some contexts */
    int server;        /* single-server rank (taken mod K) */
    int longrun;       /* E6/E10 report */
    uint64_t seed;
} case_t;

static const char *meth_name[4] = {"NONE", "EF", "SAEF", "LIEC"};

static float case_lr(const case_t *cs, int t)
{
    return cs->lr_decay && t >= cs->T / 2 ? 0.05f : 0.1f;
}

/* ------------------------------------------------------------------ */
/* Contexts and gathered records                                      */
/* ------------------------------------------------------------------ */

enum { ROLE_MAIN = 0, ROLE_TWIN_LOW, ROLE_TWIN_HIST };

typedef struct {
    uint64_t status, iter, bytes_sent, bytes_recv, bsc, bsf;
    uint64_t err_avg, models_avg, srv_off, srv_n, has_m, has_e, has_x;
    uint64_t iter_after;
    double local_norm, server_norm;
} rhdr_t;

typedef struct {
    rhdr_t *h;
    float *x, *xe, *e, *es, *m, *in, *out;
} rec_t;

typedef struct {
    int method, tv, topo, aligned, server, low, role, views;
    char name[48];
    rz_ef_h h;
    /* this rank's optimiser replica (high mode) or optimiser (low mode) */
    float *x, *xe, *m, *in, *out, *g, *xsync, *tmp;
    rz_status_t rc;
    uint64_t iter_after;
    rz_ef_stats_t st;
    float *view_avg, *view_virt;
    int view_rc_ok;
    size_t rec_off;
    /* tracking, the same on every rank */
    double M;
    double *e2acc, *sg_x, *sg_m, *l2acc, *drift;
    float *or_x, *or_m;
    int t_sync;
    double drift_bound;
    double e6_G, e6_ratio;
    double e10_sum;
    long e10_n;
} tctx_t;

typedef struct {
    const case_t *cs;
    tst_t *T;
    tctx_t *c;
    int n;
    size_t d;
    int K;
    size_t rec_bytes, grp_bytes;
    unsigned char *mine, *bufA, *bufB, *prev, *cur;
    ref_codec_t cw, csv;
    float invK;
    float *x0;
    /* scratch */
    double *dA, *dB, *dC, *dD;
    float *fA, *fB, *fC;
    double *va;         /* approximate compressor inputs, d */
    double *gnorm;      /* per rank: norm of what it compresses */
} group_t;

static rec_t rec_get(group_t *G, unsigned char *buf, int k, int j)
{
    unsigned char *p = buf + (size_t)k * G->grp_bytes + G->c[j].rec_off;
    rec_t r;
    size_t d = G->d;
    r.h = (rhdr_t *)(void *)p;
    float *f = (float *)(void *)(p + sizeof(rhdr_t));
    r.x = f;
    r.xe = f + d;
    r.e = f + 2 * d;
    r.es = f + 3 * d;
    r.m = f + 4 * d;
    r.in = f + 5 * d;
    r.out = f + 6 * d;
    return r;
}

static rec_t rec_mine(group_t *G, int j)
{
    return rec_get(G, G->mine, 0, j);
}

/* Copies a state into dst (d floats, zero outside its range). Returns 1 if
 * the state exists. */
static int take_state(tst_t *T, rz_ef_h h, rz_ef_state_t w, float *dst,
                      size_t d, uint64_t *off_p, uint64_t *n_p)
{
    const float *p = NULL;
    size_t off = 0, n = 0;
    rz_status_t s = rz_ef_get_state(h, w, &p, &off, &n);
    CHECK(T, s == RZ_OK, "rz_ef_get_state(%d): %s", (int)w,
          rz_status_string(s));
    memset(dst, 0, d * sizeof(float));
    if (off_p) {
        *off_p = off;
    }
    if (n_p) {
        *n_p = (p && s == RZ_OK) ? n : 0;
    }
    if (s != RZ_OK || p == NULL || n == 0) {
        return 0;
    }
    CHECK(T, off <= d && n <= d - off, "state %d covers [%zu, %zu) of %zu",
          (int)w, off, off + n, d);
    if (off <= d && n <= d - off) {
        memcpy(dst + off, p, n * sizeof(float));
    }
    return 1;
}

static int seed_of(const group_t *G, const tctx_t *c, int t)
{
    (void)G;
    return c->role == ROLE_TWIN_HIST && t % 2 == 0;
}

static void ctx_grad(group_t *G, const tctx_t *c, int k, int t, float *g)
{
    uint64_t seed = G->cs->seed + (seed_of(G, c, t) ? 0x1234567ull : 0);
    for (size_t i = 0; i < G->d; i++) {
        g[i] = gen_grad(seed, k, t, i);
    }
}

static int is_sync(const case_t *cs, int method, int t)
{
    return method == REF_LIEC && cs->H > 0 && (uint32_t)(t + 1) % cs->H == 0;
}

static int is_avg(const case_t *cs, int method, int t)
{
    return (method == REF_EF || method == REF_SAEF) && cs->p > 0 &&
           (uint32_t)(t + 2) % cs->p == 0;
}

/* Fills this rank's record of context j after a call. */
static void fill_rec(group_t *G, int j)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    rec_t r = rec_mine(G, j);
    size_t d = G->d;
    memset(r.h, 0, G->rec_bytes);
    r.h->status = (uint64_t)(int64_t)c->rc;
    r.h->iter = c->st.iter;
    r.h->bytes_sent = c->st.bytes_sent;
    r.h->bytes_recv = c->st.bytes_recv;
    r.h->bsc = c->st.bytes_sent_compressed;
    r.h->bsf = c->st.bytes_sent_fp32;
    r.h->err_avg = (uint64_t)c->st.err_averaged;
    r.h->models_avg = (uint64_t)c->st.models_averaged;
    r.h->local_norm = c->st.local_err_norm;
    r.h->server_norm = c->st.server_err_norm;
    r.h->iter_after = c->iter_after;
    if (c->h == NULL) {
        return;
    }
    if (c->low) {
        memcpy(r.x, c->x, d * sizeof(float));
        r.h->has_x = 1;
        memcpy(r.m, c->m, d * sizeof(float));
        r.h->has_m = 1;
        memcpy(r.out, c->out, d * sizeof(float));
    } else {
        uint64_t n = 0;
        r.h->has_x = (uint64_t)take_state(T, c->h, RZ_EF_STATE_MODEL, r.x, d,
                                          NULL, &n);
        CHECK(T, r.h->has_x && n == d, "MODEL state missing or short (%llu)",
              (unsigned long long)n);
        r.h->has_m = (uint64_t)take_state(T, c->h, RZ_EF_STATE_MOMENTUM, r.m,
                                          d, NULL, NULL);
    }
    memcpy(r.xe, c->xe, d * sizeof(float));
    if (c->method == REF_LIEC) {
        memcpy(r.in, c->g, d * sizeof(float));
    } else {
        memcpy(r.in, c->in, d * sizeof(float));
    }
    uint64_t off = 0, n = 0;
    r.h->has_e = (uint64_t)take_state(T, c->h, RZ_EF_STATE_LOCAL_ERR, r.e, d,
                                      &off, &n);
    if (c->method != REF_NONE) {
        CHECK(T, r.h->has_e && off == 0 && n == d,
              "LOCAL_ERR state: offset %llu n %llu, want 0 and %zu",
              (unsigned long long)off, (unsigned long long)n, d);
    }
    take_state(T, c->h, RZ_EF_STATE_SERVER_ERR, r.es, d, &off, &n);
    r.h->srv_off = off;
    r.h->srv_n = n;
}

/* Allgathers every rank's group record into G->cur. */
static int gather(group_t *G)
{
    rz_status_t s = rz_allgather(G->mine, G->cur, G->grp_bytes, RZ_DTYPE_U8,
                                 G->T->comm);
    CHECK(G->T, s == RZ_OK, "allgather of states: %s", rz_status_string(s));
    return s == RZ_OK;
}

/* The concatenated server error: each rank's owned slice in place. */
static void build_esc(group_t *G, unsigned char *buf, int j, float *esc)
{
    memset(esc, 0, G->d * sizeof(float));
    for (int k = 0; k < G->K; k++) {
        rec_t r = rec_get(G, buf, k, j);
        size_t off = (size_t)r.h->srv_off, n = (size_t)r.h->srv_n;
        if (off <= G->d && n <= G->d - off) {
            for (size_t i = off; i < off + n; i++) {
                esc[i] = r.es[i];
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Residual checks (E5, L5; C1/C2 forms)                              */
/* ------------------------------------------------------------------ */

typedef struct {
    int holder;        /* the rank that keeps the residual */
    int server;        /* 1: a server compression */
    int hop;           /* ring hop, -1 otherwise */
    int chunk_id;
    size_t off, n;
    const ref_codec_t *codec;
    const float *r;    /* residual, global indexing */
    const float *vx;   /* exact input (global indexing) or NULL */
    const double *va;  /* approximate input (global indexing) */
    double eps;        /* bound on |va - v| */
} comp_t;

/* Checks one compression's residual against its input (section 5.1/5.2). */
static void check_comp(tst_t *T, const comp_t *cp, uint64_t seed, int t,
                       const char *what)
{
    size_t n = cp->n, off = cp->off;
    const float *r = cp->r + off;
    const int exact = cp->vx != NULL;
    const double eps = exact ? 0.0 : cp->eps;
    double *v = malloc((n ? n : 1) * sizeof(double));
    double nv2 = 0, nr2 = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = exact ? (double)cp->vx[off + i] : cp->va[off + i];
        nv2 += v[i] * v[i];
        nr2 += (double)r[i] * (double)r[i];
    }
    const double sn = sqrt((double)n);
    const double nv = sqrt(nv2);
    /* bound on | |f(v)| - |f(v')| | for f = norm^2 or l1^2/n on a block of
     * length b: 4 (|v'| + sqrt(b) eps) sqrt(b) eps */
    const double tiny = 1e-60 + (double)n * 1e-44 * (nv + 1e-30);
    switch (cp->codec->kind) {
    case REF_C_NONE:
        vec_zero(T, __LINE__, what, r, n, off);
        break;
    case REF_C_SIGN:
    case REF_C_BLOCKSIGN: {
        size_t L = cp->codec->kind == REF_C_SIGN ? (n ? n : 1) : cp->codec->block;
        double f = 0, slack = 0;
        for (size_t b0 = 0; b0 < n; b0 += L) {
            size_t nb = b0 + L <= n ? L : n - b0;
            double s2 = 0, s1 = 0;
            for (size_t i = b0; i < b0 + nb; i++) {
                s2 += v[i] * v[i];
                s1 += fabs(v[i]);
            }
            f += s2 - s1 * s1 / (double)nb;
            double sb = sqrt((double)nb);
            slack += 4.0 * (sqrt(s2) + sb * eps) * sb * eps;
        }
        double vv = nv + sn * eps;
        double tol = 3.0 * UROUND * vv * vv + slack + tiny;
        CHECK(T, fabs(nr2 - f) <= tol,
              "%s: C1 sign identity: |r|^2 = %.17g, |v|^2 - |v|_1^2/n = %.17g "
              "(diff %.3g > %.3g), chunk %d [%zu, %zu)", what, nr2, f,
              fabs(nr2 - f), tol, cp->chunk_id, off, off + n);
        break;
    }
    case REF_C_TOPK: {
        size_t k = ref_codec_k(cp->codec, n);
        if (exact) {
            size_t nnz = 0, kept_nz = 0;
            double min_kept = INFINITY, max_drop = 0;
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                double a = fabs(v[i]);
                nnz += v[i] != 0;
                if (!((double)r[i] == v[i] || r[i] == 0.0f)) {
                    CHECK(T, 0, "%s: top-k residual at %zu is %.9g, neither 0 "
                          "nor v = %.9g", what, off + i, (double)r[i], v[i]);
                    ok = 0;
                    break;
                }
                if (v[i] != 0 && r[i] == 0.0f) {
                    kept_nz++;
                    min_kept = a < min_kept ? a : min_kept;
                } else if (v[i] != 0) {
                    max_drop = a > max_drop ? a : max_drop;
                }
            }
            if (ok) {
                size_t want = nnz < k ? nnz : k;
                CHECK(T, kept_nz == want, "%s: top-k kept %zu nonzeros, want "
                      "min(k=%zu, nnz=%zu), chunk [%zu, %zu)", what, kept_nz,
                      k, nnz, off, off + n);
                CHECK(T, max_drop <= min_kept, "%s: top-k dropped |v| %.9g > "
                      "kept %.9g", what, max_drop, min_kept);
                if (max_drop == min_kept && max_drop > 0) {
                    /* ties at the threshold: the lowest indices are kept */
                    size_t last_kept = 0, first_drop = n;
                    for (size_t i = 0; i < n; i++) {
                        if (fabs(v[i]) != min_kept) {
                            continue;
                        }
                        if (r[i] == 0.0f) {
                            last_kept = i;
                        } else if (first_drop == n) {
                            first_drop = i;
                        }
                    }
                    CHECK(T, last_kept < first_drop, "%s: top-k tie at |v| = "
                          "%.9g: kept index %zu after dropped %zu", what,
                          min_kept, off + last_kept, off + first_drop);
                }
            }
        } else {
            size_t nzr = 0;
            double max_drop = 0, min_kept = INFINITY;
            for (size_t i = 0; i < n; i++) {
                if (r[i] != 0.0f) {
                    nzr++;
                    double dv = fabs((double)r[i] - v[i]);
                    if (!(dv <= eps + UROUND * fabs(v[i]))) {
                        CHECK(T, 0, "%s: top-k dropped element %zu: r %.9g "
                              "!= v %.9g (eps %.3g)", what, off + i,
                              (double)r[i], v[i], eps);
                        break;
                    }
                    max_drop = fabs(v[i]) > max_drop ? fabs(v[i]) : max_drop;
                } else if (fabs(v[i]) > 2 * eps) {
                    min_kept = fabs(v[i]) < min_kept ? fabs(v[i]) : min_kept;
                }
            }
            CHECK(T, nzr <= n - k, "%s: top-k residual has %zu nonzeros, more "
                  "than n - k = %zu", what, nzr, n - k);
            CHECK(T, max_drop <= min_kept + 2 * eps, "%s: top-k dropped |v| "
                  "%.9g > kept %.9g", what, max_drop, min_kept);
        }
        double vv = nv + sn * eps;
        double bound = (1.0 - (double)k / (double)n) * vv * vv * (1 + 1e-12) +
                       tiny;
        CHECK(T, nr2 <= bound, "%s: top-k |r|^2 = %.17g > (1 - k/n)|v|^2 = "
              "%.17g (k %zu n %zu)", what, nr2, bound, k, n);
        break;
    }
    case REF_C_RANDK: {
        size_t k = ref_codec_k(cp->codec, n);
        unsigned char *on = malloc(n ? n : 1);
        ref_randk_mask(ref_randk_key(seed, (uint64_t)t, (uint64_t)cp->chunk_id),
                       n, k, on);
        for (size_t i = 0; i < n; i++) {
            int bad;
            if (on[i]) {
                bad = r[i] != 0.0f;
            } else if (exact) {
                bad = !((double)r[i] == v[i]);
            } else {
                bad = !(fabs((double)r[i] - v[i]) <= eps + UROUND * fabs(v[i]));
            }
            if (bad) {
                CHECK(T, 0, "%s: random-k residual at %zu (mask %d, key t=%d "
                      "chunk %d): r %.9g, v %.9g", what, off + i, on[i], t,
                      cp->chunk_id, (double)r[i], v[i]);
                break;
            }
        }
        free(on);
        double vv = nv + sn * eps;
        CHECK(T, nr2 <= vv * vv * (1 + 1e-12) + tiny, "%s: random-k |r|^2 = "
              "%.17g > |v|^2 = %.17g", what, nr2, vv * vv);
        break;
    }
    case REF_C_FP16: {
        for (size_t i = 0; i < n; i++) {
            double av = fabs(v[i]) + eps;
            double b = fmax(0x1p-11 * av, 0x1p-25) * (1 + 4 * UROUND) + eps;
            if (!(fabs((double)r[i]) <= b)) {
                CHECK(T, 0, "%s: fp16 residual at %zu: |r| = %.9g > "
                      "max(2^-11 |v|, 2^-25) = %.9g (v %.9g)", what, off + i,
                      fabs((double)r[i]), b, v[i]);
                break;
            }
        }
        break;
    }
    }
    free(v);
}

/* Contraction constants for a codec over the given chunk lengths: the
 * residual of v obeys |r| <= a |v| + b. */
static void contraction_ab(const ref_codec_t *c, const size_t *ns, int nch,
                           size_t d, double *a, double *b)
{
    *a = 0;
    *b = 0;
    double delta = 1;
    for (int j = 0; j < nch; j++) {
        size_t n = ns[j];
        if (n == 0) {
            continue;
        }
        double dl = 1;
        switch (c->kind) {
        case REF_C_NONE: dl = 1; break;
        case REF_C_SIGN: dl = 1.0 / (double)n; break;
        case REF_C_BLOCKSIGN:
            dl = 1.0 / (double)(c->block < n ? c->block : n);
            break;
        case REF_C_TOPK: dl = (double)ref_codec_k(c, n) / (double)n; break;
        case REF_C_RANDK: dl = 0; break;
        case REF_C_FP16: dl = 1; break;
        }
        delta = dl < delta ? dl : delta;
    }
    if (c->kind == REF_C_FP16) {
        *a = 0x1p-11;
        *b = sqrt((double)d) * 0x1p-25;
        return;
    }
    *a = sqrt(1.0 - delta);
}

/* Enumerates the compressions of call t of context j and checks those this
 * rank holds. P and C are the records before and after the call. Updates
 * c->M with the magnitudes of the compressor inputs and G->gnorm with the
 * norm of what each rank compressed. */
static void check_residuals(group_t *G, int j, int t, int avg_call)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const int K = G->K, me = T->rank;
    const size_t d = G->d;
    const int meth = c->method;
    char what[160];

    for (int k = 0; k < K; k++) {
        G->gnorm[k] = 0;
    }
    if (meth == REF_NONE || is_sync(cs, meth, t)) {
        return;
    }
    /* X^k: the exchanged vectors (Delta^k or g^k), fp32, K*d in fA..; keep
     * them in one allocation. */
    float *X = malloc((size_t)K * d * sizeof(float) + 1);
    for (int k = 0; k < K; k++) {
        rec_t P = rec_get(G, G->prev, k, j), C = rec_get(G, G->cur, k, j);
        for (size_t i = 0; i < d; i++) {
            X[(size_t)k * d + i] = meth == REF_LIEC ? C.in[i] : P.e[i] + C.in[i];
        }
    }
    const int whole = c->topo == REF_SINGLE && !c->aligned;
    const int nch = whole ? 1 : K;
    size_t *cn = malloc((size_t)nch * sizeof(size_t));
    size_t *co = malloc((size_t)nch * sizeof(size_t));
    for (int q = 0; q < nch; q++) {
        cn[q] = whole ? d : ref_chunk_n(d, K, q);
        co[q] = whole ? 0 : ref_chunk_off(d, K, q);
    }
    double *S = G->dA;     /* server sums S (approx), d */
    double *vsrv = G->va;  /* server inputs (approx), d */
    double *hop = G->dB;   /* ring partial sums, d per hop: reuse per chunk */
    double Mloc = 0;
    const int worker_ok = !avg_call; /* residuals overwritten by averaging */
    for (size_t i = 0; i < d; i++) {
        S[i] = 0;
    }
    for (int k = 0; k < K; k++) {
        Mloc = fmax(Mloc, maxabsf(X + (size_t)k * d, d));
    }

    if (c->topo != REF_RING) {
        for (int k = 0; k < K && worker_ok; k++) {
            rec_t C = rec_get(G, G->cur, k, j);
            for (int q = 0; q < nch; q++) {
                if (cn[q] == 0) {
                    continue;
                }
                G->gnorm[k] += norm2f(X + (size_t)k * d + co[q], cn[q]);
                if (k != me) {
                    continue;
                }
                comp_t cp = {k, 0, -1, q, co[q], cn[q], &G->cw, C.e,
                             X + (size_t)k * d, NULL, 0};
                snprintf(what, sizeof(what), "E5 worker residual (rank %d "
                         "chunk %d)", k, q);
                check_comp(T, &cp, cs->seed, t, what);
            }
            for (size_t i = 0; i < d; i++) {
                S[i] += (double)X[(size_t)k * d + i] - (double)C.e[i];
            }
        }
    } else if (worker_ok) {
        /* Ring: chain of chunk q starts at rank q, forwards through
         * q+1..q+K-2, and the owner q-1 adds its own contribution. */
        for (int q = 0; q < K; q++) {
            size_t n = cn[q], o = co[q];
            if (n == 0) {
                continue;
            }
            double eps = 0, Mc = 0;
            for (int h = 0; h <= K - 2; h++) {
                int i = ref_mod(q + h, K);
                rec_t C = rec_get(G, G->cur, i, j);
                const float *Xi = X + (size_t)i * d;
                if (h == 0) {
                    for (size_t e = o; e < o + n; e++) {
                        hop[e] = Xi[e];
                    }
                } else {
                    for (size_t e = o; e < o + n; e++) {
                        hop[e] = hop[e] + (double)Xi[e];
                    }
                }
                Mc = fmax(Mc, maxabsd(hop + o, n));
                Mc = fmax(Mc, maxabsf(C.e + o, n));
                Mc = fmax(Mc, Mloc);
                eps = h == 0 ? 0 : 4.0 * (h + 1) * UROUND * Mc;
                for (size_t e = o; e < o + n; e++) {
                    double pv = hop[e];
                    G->gnorm[i] += pv * pv;
                }
                if (worker_ok && i == me) {
                    comp_t cp = {i, 0, h, q, o, n, &G->cw, C.e,
                                 h == 0 ? Xi : NULL, hop, eps};
                    snprintf(what, sizeof(what), "E5 ring hop %d residual "
                             "(rank %d chunk %d)", h, i, q);
                    check_comp(T, &cp, cs->seed, t, what);
                }
                /* decoded partial sum, as the next rank sees it */
                for (size_t e = o; e < o + n; e++) {
                    hop[e] = hop[e] - (double)C.e[e];
                }
            }
            int own = ref_mod(q - 1, K);
            const float *Xo = X + (size_t)own * d;
            for (size_t e = o; e < o + n; e++) {
                S[e] = (K >= 2 ? hop[e] : 0.0) + (double)Xo[e];
            }
            Mloc = fmax(Mloc, Mc);
        }
        for (int k = 0; k < K; k++) {
            G->gnorm[k] = sqrt(G->gnorm[k]);
        }
    }
    if (c->topo != REF_RING) {
        for (int k = 0; k < K; k++) {
            G->gnorm[k] = sqrt(G->gnorm[k]);
        }
    }
    c->M = fmax(c->M, Mloc);

    /* Server side: v = S fp32(1/K) + e_srv(prev). */
    int have_srv = 0;
    double eps_srv = 0;
    float *esc_prev = G->fA, *esc_cur = G->fB;
    build_esc(G, G->prev, j, esc_prev);
    build_esc(G, G->cur, j, esc_cur);
    if (c->low && meth != REF_LIEC) {
        /* q = out exactly: v = r + q up to u|r| */
        rec_t C0 = rec_get(G, G->cur, 0, j);
        for (size_t i = 0; i < d; i++) {
            vsrv[i] = (double)esc_cur[i] + (double)C0.out[i];
        }
        eps_srv = 2 * UROUND * maxabsf(esc_cur, d) + 1e-45;
        have_srv = 1;
    } else if (worker_ok) {
        for (size_t i = 0; i < d; i++) {
            vsrv[i] = S[i] * (double)G->invK + (double)esc_prev[i];
        }
        double Ms = fmax(fmax(maxabsd(S, d), maxabsd(vsrv, d)),
                         fmax(Mloc, maxabsf(esc_prev, d)));
        eps_srv = (4.0 * K + 8) * UROUND * Ms;
        have_srv = 1;
    }
    if (have_srv) {
        c->M = fmax(c->M, maxabsd(vsrv, d));
        for (int q = 0; q < nch; q++) {
            if (cn[q] == 0) {
                continue;
            }
            int holder = whole || c->topo == REF_SINGLE
                             ? ref_mod(c->server, K)
                             : (c->topo == REF_SHARDED ? q : ref_mod(q - 1, K));
            if (holder != me) {
                continue;
            }
            comp_t cp = {holder, 1, -1, q, co[q], cn[q], &G->csv, esc_cur,
                         NULL, vsrv, eps_srv};
            snprintf(what, sizeof(what), "%s server residual (owner %d chunk "
                     "%d)", meth == REF_LIEC ? "L5" : "E5", holder, q);
            check_comp(T, &cp, cs->seed, t, what);
        }
    }
    free(cn);
    free(co);
    free(X);
}

/* ------------------------------------------------------------------ */
/* Per-context checks after a call                                    */
/* ------------------------------------------------------------------ */

static void set_where(group_t *G, int j)
{
    snprintf(G->T->where, sizeof(G->T->where), "%s | %s", G->cs->name,
             G->c[j].name);
}

/* Expected bytes of call t (B1). */
static void expect_bytes(group_t *G, int j, int t, int rank, uint64_t *exch,
                         uint64_t *fp)
{
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    *exch = 0;
    *fp = 0;
    if (is_sync(cs, c->method, t)) {
        *fp = ref_bytes_allreduce(G->d, G->K, rank) +
              ref_bytes_liec_gv(c->topo, ref_mod(c->server, G->K), G->d,
                                G->K, rank);
        return;
    }
    *exch = ref_bytes_exchange(c->topo, c->aligned, ref_mod(c->server, G->K),
                               &G->cw, &G->csv, G->d, G->K, rank);
    if (is_avg(cs, c->method, t)) {
        *fp = ref_bytes_allreduce(G->d, G->K, rank);
    }
}

/* E9: which range of the server error each rank owns. */
static void check_ownership(group_t *G, int j)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const int K = G->K, me = T->rank;
    const size_t d = G->d;
    rec_t R = rec_get(G, G->cur, me, j);
    if (c->method == REF_NONE) {
        VEC_ZERO(T, "NONE keeps no server error", R.es, d, 0);
        return;
    }
    size_t off = 0, n = 0;
    if (c->topo == REF_SINGLE) {
        if (me == ref_mod(c->server, K)) {
            off = 0;
            n = d;
        }
    } else {
        int own = ref_own_chunk(c->topo, me, K);
        off = ref_chunk_off(d, K, own);
        n = ref_chunk_n(d, K, own);
    }
    CHECK(T, R.h->srv_n == n && (n == 0 || R.h->srv_off == off),
          "E9 ownership: SERVER_ERR covers [%llu, +%llu), want [%zu, +%zu)",
          (unsigned long long)R.h->srv_off, (unsigned long long)R.h->srv_n,
          off, n);
}

/* B1, B2 and the stats of one call (create when t < 0). */
static void check_stats(group_t *G, int j, int t)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const int K = G->K, me = T->rank;
    rec_t R = rec_get(G, G->cur, me, j);
    uint64_t exch = 0, fp = 0;
    int want_avg = 0, want_sync = 0;
    if (t < 0) {
        want_avg = (c->method == REF_EF || c->method == REF_SAEF) && cs->p == 1;
        fp = want_avg ? ref_bytes_allreduce(G->d, K, me) : 0;
    } else {
        expect_bytes(G, j, t, me, &exch, &fp);
        want_avg = is_avg(cs, c->method, t);
        want_sync = is_sync(cs, c->method, t);
    }
    CHECK(T, R.h->bytes_sent == exch + fp, "B1 bytes_sent %llu, want %llu "
          "(compressed %llu + fp32 %llu)", (unsigned long long)R.h->bytes_sent,
          (unsigned long long)(exch + fp), (unsigned long long)exch,
          (unsigned long long)fp);
    CHECK(T, R.h->bsc == exch && R.h->bsf == fp, "B1 split: compressed %llu "
          "fp32 %llu, want %llu and %llu", (unsigned long long)R.h->bsc,
          (unsigned long long)R.h->bsf, (unsigned long long)exch,
          (unsigned long long)fp);
    CHECK(T, (int)R.h->err_avg == want_avg, "B2 err_averaged %d, want %d "
          "(p = %u)", (int)R.h->err_avg, want_avg, cs->p);
    CHECK(T, (int)R.h->models_avg == want_sync, "B2 models_averaged %d, want "
          "%d (H = %u)", (int)R.h->models_avg, want_sync, cs->H);
    CHECK(T, R.h->iter == (uint64_t)(t < 0 ? 0 : t), "stats.iter %llu, want %d",
          (unsigned long long)R.h->iter, t < 0 ? 0 : t);
    CHECK(T, R.h->iter_after == (uint64_t)(t + 1), "rz_ef_iteration %llu after "
          "the call, want %d", (unsigned long long)R.h->iter_after, t + 1);
    if (me == 0) {
        uint64_t sent = 0, recv = 0;
        for (int k = 0; k < K; k++) {
            rec_t Rk = rec_get(G, G->cur, k, j);
            sent += Rk.h->bytes_sent;
            recv += Rk.h->bytes_recv;
        }
        CHECK(T, sent == recv, "bytes: sum over ranks sent %llu != received "
              "%llu", (unsigned long long)sent, (unsigned long long)recv);
    }
    double le = sqrt(norm2f(R.e, G->d)), se = sqrt(norm2f(R.es, G->d));
    CHECK(T, fabs(R.h->local_norm - le) <= 1e-5 * le + 1e-30,
          "stats.local_err_norm %.9g, |LOCAL_ERR| = %.9g", R.h->local_norm, le);
    CHECK(T, fabs(R.h->server_norm - se) <= 1e-5 * se + 1e-30,
          "stats.server_err_norm %.9g, |SERVER_ERR| = %.9g", R.h->server_norm,
          se);
}

/* fp32 rank-order mean of field @f of all ranks' records into out. */
static void fp32_mean(group_t *G, unsigned char *buf, int j, size_t field,
                      float *out)
{
    const size_t d = G->d;
    for (size_t i = 0; i < d; i++) {
        float s = 0;
        for (int k = 0; k < G->K; k++) {
            rec_t r = rec_get(G, buf, k, j);
            float *f = r.x + field * d;
            s = k == 0 ? f[i] : s + f[i];
        }
        out[i] = s * G->invK;
    }
}
enum { F_X = 0, F_XE, F_E, F_ES, F_M, F_IN, F_OUT };

/* E1/L1 oracle: q (EF) or u (LIEC, compressed iteration) for the identity
 * codec: rank-order sums, chain order per chunk on the compressed ring. */
static void identity_sum(group_t *G, int j, int chain, const float *const *in,
                         float *q)
{
    const int K = G->K;
    const size_t d = G->d;
    (void)j;
    if (!chain) {
        for (size_t i = 0; i < d; i++) {
            float s = in[0][i];
            for (int k = 1; k < K; k++) {
                s = s + in[k][i];
            }
            q[i] = s * G->invK;
        }
        return;
    }
    for (int c = 0; c < K; c++) {
        size_t o = ref_chunk_off(d, K, c), n = ref_chunk_n(d, K, c);
        for (size_t i = o; i < o + n; i++) {
            float s = in[c][i];
            for (int h = 1; h < K; h++) {
                s = s + in[ref_mod(c + h, K)][i];
            }
            q[i] = s * G->invK;
        }
    }
}

static void check_views(group_t *G, int j, int t)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const size_t d = G->d;
    const int K = G->K, me = T->rank;
    rec_t R = rec_get(G, G->cur, me, j);
    if (!c->views || c->low) {
        return;
    }
    CHECK(T, c->view_rc_ok, "views: rz_ef_get_params(AVERAGE/VIRTUAL) failed");
    float *esc = G->fA;
    build_esc(G, G->cur, j, esc);
    double *got = G->dA, *want = G->dB;
    if (c->method == REF_LIEC) {
        float *mean = G->fB;
        fp32_mean(G, G->cur, j, F_X, mean);
        VEC_EQ(T, "L6 AVERAGE view = rank-order fp32 mean of x^k", c->view_avg,
               mean, d);
        float lr = case_lr(G->cs, t);
        for (size_t i = 0; i < d; i++) {
            double xb = 0;
            for (int k = 0; k < K; k++) {
                xb += rec_get(G, G->cur, k, j).x[i];
            }
            want[i] = xb / K - (double)lr * (double)esc[i];
            got[i] = c->view_virt[i];
        }
    } else {
        VEC_EQ(T, "AVERAGE view = x (EF/SAEF/NONE)", c->view_avg, R.x, d);
        for (size_t i = 0; i < d; i++) {
            double eb = 0;
            for (int k = 0; k < K; k++) {
                eb += rec_get(G, G->cur, k, j).e[i];
            }
            want[i] = (double)R.x[i] - (double)esc[i] - eb / K;
            got[i] = c->view_virt[i];
        }
    }
    VEC_APPROX(T, "VIRTUAL view (approx, s = 0)", got, want, d,
               approx_tol(K, 0, c->M));
}

static void update_M(group_t *G, int j)
{
    tctx_t *c = &G->c[j];
    const size_t d = G->d;
    for (int k = 0; k < G->K; k++) {
        rec_t P = rec_get(G, G->prev, k, j), C = rec_get(G, G->cur, k, j);
        double m = 0;
        m = fmax(m, maxabsf(C.x, d));
        m = fmax(m, maxabsf(C.xe, d));
        m = fmax(m, maxabsf(C.e, d));
        m = fmax(m, maxabsf(C.es, d));
        m = fmax(m, maxabsf(C.m, d));
        m = fmax(m, maxabsf(C.in, d));
        m = fmax(m, maxabsf(C.out, d));
        for (size_t i = 0; i < d; i++) {
            m = fmax(m, fabs((double)P.e[i] + (double)C.in[i]));
        }
        c->M = fmax(c->M, m);
    }
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

/* Mean over ranks (double) of a record field. */
static void dmean(group_t *G, unsigned char *buf, int j, int field, double *out)
{
    const size_t d = G->d;
    for (size_t i = 0; i < d; i++) {
        double s = 0;
        for (int k = 0; k < G->K; k++) {
            rec_t r = rec_get(G, buf, k, j);
            s += (double)(r.x + (size_t)field * d)[i];
        }
        out[i] = s / G->K;
    }
}

/* E1 / L1: the identity codec both ways. */
static void check_identity(group_t *G, int j, int t, const double *gbar)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int K = G->K, me = T->rank, meth = c->method;
    const int sync = is_sync(cs, meth, t);
    const float lr = case_lr(cs, t);
    rec_t R = rec_get(G, G->cur, me, j);

    if (meth != REF_NONE) {
        VEC_ZERO(T, "E1/L1 identity: local error is 0", R.e, d, 0);
        VEC_ZERO(T, "E1/L1 identity: server error is 0", R.es, d, 0);
    }
    const float **ins = malloc((size_t)K * sizeof(*ins));
    for (int k = 0; k < K; k++) {
        ins[k] = rec_get(G, G->cur, k, j).in;
    }
    float *q = malloc(d * sizeof(float));
    /* chain order on compressed iterations of the ring; a LIEC sync sums in
     * rank order (fp32 allreduce) */
    identity_sum(G, j, c->topo == REF_RING && !sync, ins, q);
    free(ins);
    if (meth != REF_LIEC) {
        for (size_t i = 0; i < d; i++) {
            c->or_x[i] = c->or_x[i] - q[i];
        }
        VEC_EQ(T, "E1 x = per-rank-momentum SGDM oracle (fp32; rank order, "
               "chain order on the ring)", R.x, c->or_x, d);
        if (c->low) {
            VEC_EQ(T, "E1 exchange output q = identity mean of the inputs",
                   R.out, q, d);
        }
    } else {
        if (sync) {
            for (size_t i = 0; i < d; i++) {
                float s = c->or_x[i];
                for (int k = 1; k < K; k++) {
                    s = s + c->or_x[i];
                }
                c->or_x[i] = s * G->invK;
            }
        }
        for (size_t i = 0; i < d; i++) {
            float gw = cs->wd != 0.0f ? q[i] + cs->wd * c->or_x[i] : q[i];
            if (cs->mu == 0.0f) {
                c->or_x[i] = c->or_x[i] - lr * gw;
            } else {
                c->or_m[i] = cs->mu * c->or_m[i] + gw;
                c->or_x[i] = c->or_x[i] - lr * c->or_m[i];
            }
        }
        VEC_EQ(T, "L1 x^k = P-SGD oracle with model averaging at syncs (fp32)",
               R.x, c->or_x, d);
        if (c->low) {
            VEC_EQ(T, "L1 exchange output u = identity mean of g", R.out, q,
                   d);
        }
    }
    free(q);
    /* approx: SGDM on the averaged gradient (EF/SAEF/NONE), plain P-SGD
     * without model averaging (LIEC), in double */
    double *got = dalloc(d);
    for (size_t i = 0; i < d; i++) {
        double gw = gbar[i] + (double)cs->wd * c->sg_x[i];
        if (cs->mu == 0.0f) {
            c->sg_x[i] -= (double)lr * gw;
        } else {
            c->sg_m[i] = (double)cs->mu * c->sg_m[i] + gw;
            c->sg_x[i] -= (double)lr * c->sg_m[i];
        }
        got[i] = R.x[i];
    }
    VEC_APPROX(T, meth == REF_LIEC ? "L1 x approx plain P-SGD (double, s = t)"
                                   : "E1 x approx SGDM on the averaged "
                                     "gradient (double, s = t)",
               got, c->sg_x, d, approx_tol(K, t + 1, c->M));
    free(got);
}

/* L2: the mean identity, per iteration and cumulative (rank 0). */
static void check_l2(group_t *G, int j, int t, const double *gbar,
                     const float *esc_p, const float *esc_c)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int K = G->K;
    const float lr = case_lr(cs, t);
    double *U = dalloc(d), *xp = dalloc(d), *xc = dalloc(d), *mp = dalloc(d);
    double *mc = dalloc(d), *pred = dalloc(d), *tmp = dalloc(d);
    dmean(G, G->prev, j, F_X, xp);
    dmean(G, G->cur, j, F_X, xc);
    dmean(G, G->prev, j, F_M, mp);
    dmean(G, G->cur, j, F_M, mc);
    for (size_t i = 0; i < d; i++) {
        U[i] = gbar[i] + (double)esc_p[i] - (double)esc_c[i];
    }
    const double tol0 = approx_tol(K, 0, c->M);
    if (c->low) {
        dmean(G, G->cur, j, F_OUT, tmp);
        VEC_APPROX(T, "L2 mean_k u^k = gbar + e_t - e_{t+1} (s = 0)", tmp, U,
                   d, tol0);
    }
    for (size_t i = 0; i < d; i++) {
        double gw = U[i] + (cs->wd != 0.0f ? (double)cs->wd * xp[i] : 0.0);
        pred[i] = cs->mu == 0.0f ? xp[i] - (double)lr * gw
                                 : (double)cs->mu * mp[i] + gw;
    }
    if (cs->mu == 0.0f) {
        VEC_APPROX(T, "L2 xbar_{t+1} = xbar - lr (gbar + e_t - e_{t+1} + "
                   "lambda xbar) (s = 0)", xc, pred, d, tol0);
    } else {
        VEC_APPROX(T, "L2 mbar_{t+1} = mu mbar + (gbar + e_t - e_{t+1} + "
                   "lambda xbar) (s = 0)", mc, pred, d, tol0);
        for (size_t i = 0; i < d; i++) {
            pred[i] = xp[i] - (double)lr * mc[i];
        }
        VEC_APPROX(T, "L2 xbar_{t+1} = xbar - lr mbar_{t+1} (s = 0)", xc,
                   pred, d, tol0);
    }
    if (cs->mu == 0.0f && cs->wd == 0.0f && !cs->lr_decay) {
        for (size_t i = 0; i < d; i++) {
            c->l2acc[i] -= (double)lr * gbar[i];
            tmp[i] = xc[i] - (double)lr * (double)esc_c[i];
        }
        VEC_APPROX(T, "L2 cumulative: xbar - lr e follows exact SGD (s = t)",
                   tmp, c->l2acc, d, approx_tol(K, t + 1, c->M));
    }
    free(U);
    free(xp);
    free(xc);
    free(mp);
    free(mc);
    free(pred);
    free(tmp);
}

/* E2: the virtual iterate (rank 0). */
static void check_e2(group_t *G, int j, int t, const float *esc_c)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const size_t d = G->d;
    const int K = G->K;
    rec_t R0 = rec_get(G, G->cur, 0, j);
    double *got = dalloc(d), *want = dalloc(d), *eb = dalloc(d), *ib = dalloc(d);
    dmean(G, G->cur, j, F_E, eb);
    dmean(G, G->cur, j, F_IN, ib);
    for (size_t i = 0; i < d; i++) {
        c->e2acc[i] += ib[i];
        got[i] = (double)R0.x[i] - (double)esc_c[i] - eb[i];
        want[i] = (double)G->x0[i] - c->e2acc[i];
    }
    VEC_APPROX(T, "E2 virtual iterate x - e - mean e^k = x0 - sum_s lr_s/K "
               "sum_k m^k (s = t)", got, want, d, approx_tol(K, t + 1, c->M));
    free(got);
    free(want);
    free(eb);
    free(ib);
}

/* E6: bounded local error; E10: gradient-mismatch accumulators. */
static void check_e6_e10(group_t *G, int j, const float *esc_c)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const size_t d = G->d;
    const int K = G->K;
    rec_t R = rec_get(G, G->cur, T->rank, j), R0 = rec_get(G, G->cur, 0, j);
    double Gt = 0;
    for (int k = 0; k < K; k++) {
        Gt = fmax(Gt, sqrt(norm2f(rec_get(G, G->cur, k, j).in, d)));
    }
    c->e6_G = fmax(c->e6_G, Gt);
    double en = sqrt(norm2f(R.e, d));
    CHECK(T, isfinite(en), "E6 |e^k| is not finite");
    if (c->topo != REF_RING && G->cw.kind != REF_C_RANDK) {
        size_t ns[64];
        int nch = c->topo == REF_SINGLE && !c->aligned ? 1 : K;
        for (int q = 0; q < nch; q++) {
            ns[q] = nch == 1 ? d : ref_chunk_n(d, K, q);
        }
        double a, b;
        contraction_ab(&G->cw, ns, nch, d, &a, &b);
        if (a < 1) {
            double bound = (a * c->e6_G * (1 + 1e-6) + b) / (1 - a);
            bound = bound * (1 + 1e-5) + 1e-30;
            CHECK(T, en <= bound, "E6 |e^k| = %.9g > (sqrt(1-delta) G + b)/(1 - "
                  "sqrt(1-delta)) = %.9g (G %.9g)", en, bound, c->e6_G);
            if (bound > 0) {
                c->e6_ratio = fmax(c->e6_ratio, en / bound);
            }
        }
    } else if (K > 1 && c->e6_G > 0) {
        c->e6_ratio = fmax(c->e6_ratio, en / ((K - 1) * c->e6_G));
    }
    if (T->rank != 0) {
        return;
    }
    double *eb = dalloc(d), sum = 0;
    dmean(G, G->cur, j, F_E, eb);
    for (int k = 0; k < K; k++) {
        rec_t Ck = rec_get(G, G->cur, k, j);
        double mk = 0;
        for (size_t i = 0; i < d; i++) {
            double xt = (double)R0.x[i] - (double)esc_c[i] - eb[i];
            double df = (double)Ck.xe[i] - xt;
            mk += df * df;
        }
        sum += mk;
    }
    free(eb);
    c->e10_sum += sum / K;
    c->e10_n++;
}

/* L4: the sync step, bitwise (section 4 order). */
static void check_l4_sync(group_t *G, int j, int t, const float *esc_p)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int K = G->K, me = T->rank;
    const float lr = case_lr(cs, t);
    rec_t R = rec_get(G, G->cur, me, j), Rp = rec_get(G, G->prev, me, j);
    rec_t R0 = rec_get(G, G->cur, 0, j);
    float *xb = malloc(d * sizeof(float)), *v = malloc(d * sizeof(float));
    float *xn = malloc(d * sizeof(float)), *mn = malloc(d * sizeof(float));
    float *gk = malloc(d * sizeof(float));
    fp32_mean(G, G->prev, j, F_X, xb);
    for (int k = 0; k < K; k++) {
        ctx_grad(G, c, k, t, gk);
        for (size_t i = 0; i < d; i++) {
            v[i] = k == 0 ? gk[i] : v[i] + gk[i];
        }
    }
    for (size_t i = 0; i < d; i++) {
        v[i] = v[i] * G->invK + esc_p[i];
        float gw = cs->wd != 0.0f ? v[i] + cs->wd * xb[i] : v[i];
        if (cs->mu == 0.0f) {
            xn[i] = xb[i] - lr * gw;
            mn[i] = 0;
        } else {
            float mp = Rp.h->has_m ? Rp.m[i] : 0.0f;
            mn[i] = cs->mu * mp + gw;
            xn[i] = xb[i] - lr * mn[i];
        }
    }
    VEC_EQ(T, "L4 sync: x^k_{t+1} from xbar (fp32 mean) and v = mean g + "
           "e_srv, section 4 order (bitwise)", R.x, xn, d);
    if (cs->mu != 0.0f && R.h->has_m) {
        VEC_EQ(T, "L4 sync: m^k = mu m^k + (v + lambda xbar)", R.m, mn, d);
    }
    VEC_ZERO(T, "L4 sync: server error flushed", R.es, d, 0);
    /* nothing was compressed: no residual from this iteration */
    VEC_ZERO(T, "L4 sync: delta^k = 0 (no compression on a sync)", R.e, d, 0);
    if (cs->mu == 0.0f) {
        VEC_EQ(T, "L4 sync, mu = 0: x^k bitwise equal on all ranks", R.x, R0.x,
               d);
    }
    if (c->low) {
        VEC_EQ(T, "L4 rz_ef_liec_sync x_local = rank-order fp32 mean", c->xsync,
               xb, d);
        VEC_EQ(T, "L4 rz_ef_liec_sync out = mean g + e_srv (fp32)", R.out, v,
               d);
    }
    free(xb);
    free(v);
    free(xn);
    free(mn);
    free(gk);
}

/* L4: the drift recursion and its bound (mu = 0, rank 0). */
static void check_l4_drift(group_t *G, int j, int t)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int K = G->K;
    const float lr = case_lr(cs, t);
    char what[200];
    if (is_sync(cs, REF_LIEC, t)) {
        memset(c->drift, 0, (size_t)K * d * sizeof(double));
        c->t_sync = t + 1;
        c->drift_bound = 0;
        return;
    }
    double fac = 1.0 - (double)lr * (double)cs->wd;
    double *db = dalloc(d), *xbar = dalloc(d), *got = dalloc(d);
    dmean(G, G->cur, j, F_E, db);
    dmean(G, G->cur, j, F_X, xbar);
    size_t ns[64];
    int nch = c->topo == REF_SINGLE && !c->aligned ? 1 : K;
    for (int q = 0; q < nch; q++) {
        ns[q] = nch == 1 ? d : ref_chunk_n(d, K, q);
    }
    double a, b, gmax = 0;
    contraction_ab(&G->cw, ns, nch, d, &a, &b);
    if (G->cw.kind == REF_C_RANDK) {
        a = 1; /* support property only */
    }
    for (int k = 0; k < K; k++) {
        gmax = fmax(gmax, G->gnorm[k]);
    }
    c->drift_bound += (double)lr * (2 * a * gmax * (1 + 1e-6) + 2 * b);
    int s = t + 1 - c->t_sync;
    double tol = approx_tol(K, s, c->M);
    for (int k = 0; k < K; k++) {
        rec_t Ck = rec_get(G, G->cur, k, j);
        double *Dk = c->drift + (size_t)k * d;
        double nd = 0;
        for (size_t i = 0; i < d; i++) {
            Dk[i] = fac * Dk[i] - (double)lr * ((double)Ck.e[i] - db[i]);
            got[i] = (double)Ck.x[i] - xbar[i];
            nd += got[i] * got[i];
        }
        snprintf(what, sizeof(what), "L4 drift of rank %d: D = (1 - lr "
                 "lambda) D - lr (delta^k - mean delta) (s = %d)", k, s);
        VEC_APPROX(T, what, got, Dk, d, tol);
        nd = sqrt(nd);
        double bound = c->drift_bound * (1 + 1e-5) + tol * sqrt((double)d);
        CHECK(T, nd <= bound, "L4 drift bound: |D^%d| = %.9g > sum lr 2 "
              "sqrt(1-delta) G = %.9g", k, nd, bound);
    }
    free(db);
    free(xbar);
    free(got);
}

static void check_call(group_t *G, int j, int t)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int K = G->K, me = T->rank;
    const int meth = c->method;
    const int sync = is_sync(cs, meth, t);
    const int avg = is_avg(cs, meth, t);
    rec_t R = rec_get(G, G->cur, me, j);
    rec_t R0 = rec_get(G, G->cur, 0, j);
    const int ident = G->cw.kind == REF_C_NONE && G->csv.kind == REF_C_NONE;
    float *tmp = malloc(d * sizeof(float));
    float *esc_p = malloc(d * sizeof(float)), *esc_c = malloc(d * sizeof(float));
    char what[160];

    set_where(G, j);
    T->t = t;
    update_M(G, j);
    check_stats(G, j, t);
    check_ownership(G, j);

    /* the exchange input and the optimiser replica (section 4 order) */
    if (!c->low && meth != REF_LIEC) {
        uint64_t n = 0;
        int has = take_state(T, c->h, RZ_EF_STATE_EXCHANGE_IN, tmp, d, NULL,
                             &n);
        CHECK(T, has && n == d, "EXCHANGE_IN state missing after rz_ef_step");
        if (has) {
            VEC_EQ(T, "EXCHANGE_IN = lr*m (section 4 order)", tmp, c->in, d);
        }
        if (R.h->has_m) {
            VEC_EQ(T, "MOMENTUM = mu*m + (g + lambda*x_eval)", R.m, c->m, d);
        } else {
            CHECK(T, cs->mu == 0.0f, "MOMENTUM state missing with mu = %g",
                  (double)cs->mu);
        }
    }
    if (!c->low && meth == REF_LIEC && !sync) {
        if (take_state(T, c->h, RZ_EF_STATE_EXCHANGE_IN, tmp, d, NULL, NULL)) {
            VEC_EQ(T, "LIEC EXCHANGE_IN = g", tmp, c->g, d);
        }
    }

    /* x_eval (E7) and the local views */
    if (!c->low) {
        rz_status_t s = rz_ef_get_params(c->h, RZ_EF_VIEW_EVAL, tmp);
        CHECK(T, s == RZ_OK, "get_params(EVAL): %s", rz_status_string(s));
        if (s == RZ_OK) {
            VEC_EQ(T, "EVAL view = returned x_eval", tmp, R.xe, d);
        }
        s = rz_ef_get_params(c->h, RZ_EF_VIEW_MODEL, tmp);
        CHECK(T, s == RZ_OK, "get_params(MODEL): %s", rz_status_string(s));
        if (s == RZ_OK) {
            VEC_EQ(T, "MODEL view = MODEL state", tmp, R.x, d);
        }
        if (meth == REF_SAEF) {
            for (size_t i = 0; i < d; i++) {
                tmp[i] = R.x[i] - R.e[i];
            }
            VEC_EQ(T, "E7 SAEF x_eval = x - e^k (post-averaging), bitwise",
                   R.xe, tmp, d);
        } else {
            VEC_EQ(T, "E7 x_eval = x", R.xe, R.x, d);
        }
    }

    if (meth != REF_LIEC) {
        VEC_EQ(T, "E4 x bitwise equal to rank 0's", R.x, R0.x, d);
        if (c->low) {
            VEC_EQ(T, "E4 exchange output q bitwise equal to rank 0's", R.out,
                   R0.out, d);
        }
        if (meth == REF_NONE && R.h->has_e) {
            VEC_ZERO(T, "NONE keeps no local error", R.e, d, 0);
        }
        if (avg) {
            VEC_EQ(T, "E3 after error averaging: e^k bitwise equal to rank "
                   "0's", R.e, R0.e, d);
        }
    }

    /* E9 on the ring: e^i[own(i)] = 0 outside averaging */
    if (c->topo == REF_RING && meth != REF_NONE && !avg && !sync) {
        int own = ref_own_chunk(REF_RING, me, K);
        size_t o = ref_chunk_off(d, K, own), n = ref_chunk_n(d, K, own);
        snprintf(what, sizeof(what), "E9 ring: %s of rank %d on its own chunk "
                 "%d is 0", meth == REF_LIEC ? "delta" : "e^i", me, own);
        vec_zero(T, __LINE__, what, R.e + o, n, o);
    }

    /* E5/L5 residuals (and M from the compressor inputs) */
    check_residuals(G, j, t, avg);
    build_esc(G, G->prev, j, esc_p);
    build_esc(G, G->cur, j, esc_c);

    double *gbar = NULL;
    if (ident || meth == REF_LIEC) {
        gbar = dalloc(d);
        for (int k = 0; k < K; k++) {
            ctx_grad(G, c, k, t, tmp);
            for (size_t i = 0; i < d; i++) {
                gbar[i] += (double)tmp[i];
            }
        }
        for (size_t i = 0; i < d; i++) {
            gbar[i] /= K;
        }
    }
    if (ident) {
        check_identity(G, j, t, gbar);
    }
    if (meth == REF_LIEC && me == 0) {
        check_l2(G, j, t, gbar, esc_p, esc_c);
    }
    if ((meth == REF_EF || meth == REF_SAEF) && me == 0) {
        check_e2(G, j, t, esc_c);
    }
    if (meth == REF_EF || meth == REF_SAEF) {
        check_e6_e10(G, j, esc_c);
    }
    if (meth == REF_LIEC && sync) {
        check_l4_sync(G, j, t, esc_p);
    }
    if (meth == REF_LIEC && cs->mu == 0.0f && me == 0) {
        check_l4_drift(G, j, t);
    }
    check_views(G, j, t);
    free(gbar);
    free(tmp);
    free(esc_p);
    free(esc_c);
}

/* ------------------------------------------------------------------ */
/* Group-level comparisons (E7, E8, twins, L3)                        */
/* ------------------------------------------------------------------ */

static void cmp_bitwise(group_t *G, int a, int b, const char *tag, int with_xe,
                        int with_es)
{
    tst_t *T = G->T;
    const size_t d = G->d;
    const int me = T->rank;
    rec_t A = rec_get(G, G->cur, me, a), B = rec_get(G, G->cur, me, b);
    char what[200];
    snprintf(T->where, sizeof(T->where), "%s | %s vs %s", G->cs->name,
             G->c[a].name, G->c[b].name);
    snprintf(what, sizeof(what), "%s: x", tag);
    VEC_EQ(T, what, A.x, B.x, d);
    if (with_xe) {
        snprintf(what, sizeof(what), "%s: x_eval", tag);
        VEC_EQ(T, what, A.xe, B.xe, d);
    }
    snprintf(what, sizeof(what), "%s: local error", tag);
    VEC_EQ(T, what, A.e, B.e, d);
    snprintf(what, sizeof(what), "%s: exchange input", tag);
    VEC_EQ(T, what, A.in, B.in, d);
    if (A.h->has_m && B.h->has_m) {
        snprintf(what, sizeof(what), "%s: momentum", tag);
        VEC_EQ(T, what, A.m, B.m, d);
    }
    if (G->c[a].low && G->c[b].low) {
        snprintf(what, sizeof(what), "%s: exchange output", tag);
        VEC_EQ(T, what, A.out, B.out, d);
    }
    if (with_es && me == 0) {
        float *ea = G->fA, *eb = G->fB;
        build_esc(G, G->cur, a, ea);
        build_esc(G, G->cur, b, eb);
        snprintf(what, sizeof(what), "%s: concatenated server error", tag);
        VEC_EQ(T, what, ea, eb, d);
    }
}

static int find_ctx(group_t *G, int method, int tv, int role)
{
    for (int j = 0; j < G->n; j++) {
        if (G->c[j].method == method && G->c[j].tv == tv &&
            G->c[j].role == role) {
            return j;
        }
    }
    return -1;
}

static void check_group(group_t *G, int t)
{
    tst_t *T = G->T;
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const int me = T->rank;
    T->t = t;
    for (int meth = 0; meth < 4; meth++) {
        int sh = find_ctx(G, meth, TV_SHARDED, ROLE_MAIN);
        if (sh < 0) {
            continue;
        }
        int al = find_ctx(G, meth, TV_ALIGNED, ROLE_MAIN);
        int rx = find_ctx(G, meth, TV_RING_EXACT, ROLE_MAIN);
        if (al >= 0) {
            cmp_bitwise(G, al, sh, "E8 chunk-aligned single == sharded", 1, 1);
        }
        if (rx >= 0) {
            cmp_bitwise(G, rx, sh, "E8 ring-exact == sharded", 1, 1);
        }
        int rg = find_ctx(G, meth, TV_RING, ROLE_MAIN);
        if (rg >= 0 && meth == REF_EF && G->cw.kind == REF_C_RANDK &&
            G->csv.kind == REF_C_RANDK && G->cw.ratio == G->csv.ratio) {
            rec_t A = rec_get(G, G->cur, me, rg), B = rec_get(G, G->cur, me, sh);
            double *a = G->dA, *b = G->dB;
            for (size_t i = 0; i < d; i++) {
                a[i] = A.x[i];
                b[i] = B.x[i];
            }
            snprintf(T->where, sizeof(T->where), "%s | ring vs sharded",
                     cs->name);
            VEC_APPROX(T, "E8 ring with shared-mask random-k: x approx "
                       "sharded x (EF, s = t)", a, b, d,
                       approx_tol(G->K, t + 1,
                                  fmax(G->c[rg].M, G->c[sh].M)));
        }
        int tl = find_ctx(G, meth, TV_SHARDED, ROLE_TWIN_LOW);
        if (tl >= 0) {
            cmp_bitwise(G, tl, sh, "low-level rz_ef_exchange twin == "
                        "rz_ef_step", 1, 1);
        }
        if (meth == REF_LIEC && t % 2 == 1 && !is_sync(cs, meth, t)) {
            for (int tv = TV_SHARDED; tv <= TV_RING; tv++) {
                int mj = find_ctx(G, meth, tv, ROLE_MAIN);
                int hj = find_ctx(G, meth, tv, ROLE_TWIN_HIST);
                if (mj < 0 || hj < 0) {
                    continue;
                }
                rec_t A = rec_get(G, G->cur, me, mj),
                      B = rec_get(G, G->cur, me, hj);
                snprintf(T->where, sizeof(T->where), "%s | %s vs history twin",
                         cs->name, G->c[mj].name);
                VEC_EQ(T, "L3 delta^k depends only on this iteration's "
                       "gradients", B.e, A.e, d);
            }
        }
    }
    /* E7: lambda = 0, EF and SAEF bitwise the same apart from x_eval */
    if (cs->wd == 0.0f) {
        for (int tv = 0; tv < TV_N; tv++) {
            int ef = find_ctx(G, REF_EF, tv, ROLE_MAIN);
            int sa = find_ctx(G, REF_SAEF, tv, ROLE_MAIN);
            if (ef >= 0 && sa >= 0) {
                cmp_bitwise(G, sa, ef, "E7 lambda = 0: SAEF == EF", 0, 1);
            }
        }
    }
    /* E1: with the identity codec SAEF = EF including x_eval */
    if (G->cw.kind == REF_C_NONE && G->csv.kind == REF_C_NONE) {
        for (int tv = 0; tv < TV_N; tv++) {
            int ef = find_ctx(G, REF_EF, tv, ROLE_MAIN);
            int sa = find_ctx(G, REF_SAEF, tv, ROLE_MAIN);
            if (ef >= 0 && sa >= 0) {
                rec_t A = rec_get(G, G->cur, me, sa),
                      B = rec_get(G, G->cur, me, ef);
                snprintf(T->where, sizeof(T->where), "%s | SAEF vs EF %s",
                         cs->name, tv_name[tv]);
                VEC_EQ(T, "E1 identity: SAEF x == EF x", A.x, B.x, d);
                VEC_EQ(T, "E1 identity: SAEF x_eval == EF x_eval", A.xe, B.xe,
                       d);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Running a case                                                     */
/* ------------------------------------------------------------------ */

static void ctx_free(tctx_t *c)
{
    if (c->h) {
        rz_ef_destroy(c->h);
        c->h = NULL;
    }
    free(c->x);
    free(c->xe);
    free(c->m);
    free(c->in);
    free(c->out);
    free(c->g);
    free(c->xsync);
    free(c->tmp);
    free(c->view_avg);
    free(c->view_virt);
    free(c->e2acc);
    free(c->sg_x);
    free(c->sg_m);
    free(c->l2acc);
    free(c->drift);
    free(c->or_x);
    free(c->or_m);
}

static void add_ctx(group_t *G, int method, int tv, int role, int low,
                    int views)
{
    tctx_t *c = &G->c[G->n++];
    memset(c, 0, sizeof(*c));
    c->method = method;
    c->tv = tv;
    c->topo = tv == TV_SINGLE || tv == TV_ALIGNED ? REF_SINGLE
              : tv == TV_SHARDED                   ? REF_SHARDED
              : tv == TV_RING                      ? REF_RING
                                                   : REF_RING_EXACT;
    c->aligned = tv == TV_ALIGNED;
    c->server = G->cs->server;
    c->low = low;
    c->role = role;
    c->views = views;
    snprintf(c->name, sizeof(c->name), "%s/%s%s%s", meth_name[method],
             tv_name[tv], low ? "/low" : "",
             role == ROLE_TWIN_LOW    ? "/twin-low"
             : role == ROLE_TWIN_HIST ? "/twin-hist"
                                      : "");
}

static void step_ctx(group_t *G, int j, int t)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const case_t *cs = G->cs;
    const size_t d = G->d;
    const float lr = case_lr(cs, t);
    memset(&c->st, 0, sizeof(c->st));
    c->st.iter = 0xdeadbeef;
    ctx_grad(G, c, T->rank, t, c->g);
    if (c->method != REF_LIEC) {
        /* the optimiser of section 4: gw = g + lambda x_eval; m = mu m + gw;
         * in = lr m */
        for (size_t i = 0; i < d; i++) {
            float gw = cs->wd != 0.0f ? c->g[i] + cs->wd * c->xe[i] : c->g[i];
            c->m[i] = cs->mu != 0.0f ? cs->mu * c->m[i] + gw : gw;
            c->in[i] = lr * c->m[i];
        }
        if (!c->low) {
            c->rc = rz_ef_step(c->h, c->g, lr, c->xe, &c->st);
        } else {
            c->rc = rz_ef_exchange(c->h, c->in, c->out, &c->st);
            if (c->rc == RZ_OK) {
                for (size_t i = 0; i < d; i++) {
                    c->x[i] = c->x[i] - c->out[i];
                }
                if (c->method == REF_SAEF) {
                    float *e = c->tmp;
                    take_state(T, c->h, RZ_EF_STATE_LOCAL_ERR, e, d, NULL,
                               NULL);
                    for (size_t i = 0; i < d; i++) {
                        c->xe[i] = c->x[i] - e[i];
                    }
                } else {
                    memcpy(c->xe, c->x, d * sizeof(float));
                }
            }
        }
    } else if (!c->low) {
        c->rc = rz_ef_step(c->h, c->g, lr, c->xe, &c->st);
    } else {
        int sync = is_sync(cs, REF_LIEC, t);
        if (sync) {
            uint64_t before = rz_ef_iteration(c->h);
            rz_ef_stats_t st0;
            rz_status_t s = rz_ef_exchange(c->h, c->g, c->out, &st0);
            CHECK(T, s == RZ_ERR_NEED_SYNC, "LIEC exchange on sync iteration "
                  "t=%d returned %s, want RZ_ERR_NEED_SYNC", t,
                  rz_status_string(s));
            CHECK(T, rz_ef_iteration(c->h) == before, "NEED_SYNC advanced the "
                  "iteration counter");
            memcpy(c->xsync, c->x, d * sizeof(float));
            c->rc = rz_ef_liec_sync(c->h, c->xsync, c->g, c->out, &c->st);
            memcpy(c->x, c->xsync, d * sizeof(float));
        } else {
            c->rc = rz_ef_exchange(c->h, c->g, c->out, &c->st);
        }
        if (c->rc == RZ_OK) {
            for (size_t i = 0; i < d; i++) {
                float gw = cs->wd != 0.0f ? c->out[i] + cs->wd * c->x[i]
                                          : c->out[i];
                if (cs->mu == 0.0f) {
                    c->x[i] = c->x[i] - lr * gw;
                } else {
                    c->m[i] = cs->mu * c->m[i] + gw;
                    c->x[i] = c->x[i] - lr * c->m[i];
                }
            }
            memcpy(c->xe, c->x, d * sizeof(float));
        }
    }
    c->iter_after = c->h ? rz_ef_iteration(c->h) : 0;
}

/* The collective views, on the contexts that have them (high mode). The
 * MODEL state must be untouched by them (L6). */
static void do_views(group_t *G, int j)
{
    tst_t *T = G->T;
    tctx_t *c = &G->c[j];
    const size_t d = G->d;
    if (!c->views || c->low) {
        return;
    }
    float *before = G->fA, *after = G->fB;
    take_state(T, c->h, RZ_EF_STATE_MODEL, before, d, NULL, NULL);
    rz_status_t s1 = rz_ef_get_params(c->h, RZ_EF_VIEW_AVERAGE, c->view_avg);
    take_state(T, c->h, RZ_EF_STATE_MODEL, after, d, NULL, NULL);
    set_where(G, j);
    VEC_EQ(T, "L6 AVERAGE view leaves the local model untouched", after,
           before, d);
    rz_status_t s2 = rz_ef_get_params(c->h, RZ_EF_VIEW_VIRTUAL, c->view_virt);
    take_state(T, c->h, RZ_EF_STATE_MODEL, after, d, NULL, NULL);
    VEC_EQ(T, "VIRTUAL view leaves the local model untouched", after, before,
           d);
    c->view_rc_ok = s1 == RZ_OK && s2 == RZ_OK;
}

/* Every rank's status of every context is in the gathered headers; a
 * failed call makes the whole group stop on every rank together. */
static int group_ok(group_t *G, int t, const char *what)
{
    tst_t *T = G->T;
    int ok = 1;
    for (int j = 0; j < G->n; j++) {
        for (int k = 0; k < G->K; k++) {
            rec_t r = rec_get(G, G->cur, k, j);
            rz_status_t s = (rz_status_t)(int64_t)r.h->status;
            if (s != RZ_OK) {
                if (k == T->rank) {
                    set_where(G, j);
                    T->t = t;
                    CHECK(T, 0, "%s returned %s", what, rz_status_string(s));
                }
                ok = 0;
            }
        }
    }
    return ok;
}

static void report_long(group_t *G)
{
    tst_t *T = G->T;
    if (T->rank != 0 || !G->cs->longrun) {
        return;
    }
    for (int tv = 0; tv < TV_N; tv++) {
        int ef = find_ctx(G, REF_EF, tv, ROLE_MAIN);
        int sa = find_ctx(G, REF_SAEF, tv, ROLE_MAIN);
        if (ef >= 0) {
            printf("ef: E6 %s %s: max |e^k| / bound = %.3g%s\n", G->cs->name,
                   G->c[ef].name, G->c[ef].e6_ratio,
                   G->c[ef].topo == REF_RING ? " (ring: |e|/((K-1)G), "
                                               "heuristic)" : "");
        }
        if (ef >= 0 && sa >= 0 && G->c[ef].e10_n > 0) {
            double me = G->c[ef].e10_sum / G->c[ef].e10_n;
            double ms = G->c[sa].e10_sum / G->c[sa].e10_n;
            printf("ef: E10 (soft) %s %s: mean mismatch SAEF %.4g vs EF %.4g: "
                   "%s\n", G->cs->name, tv_name[tv], ms, me,
                   ms < me ? "SAEF lower, as [A] reports"
                           : "SAEF NOT lower (soft check, not a failure)");
        }
    }
}

static void run_case(tst_t *T, const case_t *cs)
{
    group_t Gs, *G = &Gs;
    memset(G, 0, sizeof(*G));
    G->cs = cs;
    G->T = T;
    G->K = T->K;
    G->d = cs->d;
    G->invK = 1.0f / (float)T->K;
    const size_t d = cs->d;
    const int K = T->K;
    if (ref_codec_parse(cs->wc, &G->cw) || ref_codec_parse(cs->sc, &G->csv)) {
        printf("ef: bad codec spec in case %s\n", cs->name);
        T->fails++;
        return;
    }
    G->c = calloc(32, sizeof(tctx_t));
    for (int meth = 0; meth < 4; meth++) {
        if (!(cs->methods & (1u << meth))) {
            continue;
        }
        for (int tv = 0; tv < TV_N; tv++) {
            if (cs->topos & (1u << tv)) {
                int views = cs->views && (tv == TV_SHARDED || tv == TV_RING ||
                                          tv == TV_SINGLE);
                add_ctx(G, meth, tv, ROLE_MAIN, cs->low, views);
            }
        }
        if (cs->twins && !cs->low && (cs->topos & (1u << TV_SHARDED)) &&
            meth != REF_NONE) {
            add_ctx(G, meth, TV_SHARDED, ROLE_TWIN_LOW, 1, 0);
        }
        if (cs->twins && meth == REF_LIEC) {
            for (int tv = TV_SHARDED; tv <= TV_RING; tv++) {
                if (cs->topos & (1u << tv)) {
                    add_ctx(G, meth, tv, ROLE_TWIN_HIST, cs->low, 0);
                }
            }
        }
    }
    G->rec_bytes = (sizeof(rhdr_t) + 7 * d * sizeof(float) + 7) & ~(size_t)7;
    G->grp_bytes = G->rec_bytes * (size_t)G->n;
    for (int j = 0; j < G->n; j++) {
        G->c[j].rec_off = G->rec_bytes * (size_t)j;
    }
    G->mine = calloc(1, G->grp_bytes);
    G->bufA = calloc((size_t)K, G->grp_bytes);
    G->bufB = calloc((size_t)K, G->grp_bytes);
    G->prev = G->bufA;
    G->cur = G->bufB;
    G->x0 = malloc(d * sizeof(float));
    G->dA = calloc(d, sizeof(double));
    G->dB = calloc(d, sizeof(double));
    G->dC = calloc(d, sizeof(double));
    G->dD = calloc(d, sizeof(double));
    G->va = calloc(d, sizeof(double));
    G->fA = calloc(d, sizeof(float));
    G->fB = calloc(d, sizeof(float));
    G->fC = calloc(d, sizeof(float));
    G->gnorm = calloc((size_t)K, sizeof(double));
    for (size_t i = 0; i < d; i++) {
        G->x0[i] = gen_x0(cs->seed, i);
    }

    /* create every context (collective, same order on every rank) */
    for (int j = 0; j < G->n; j++) {
        tctx_t *c = &G->c[j];
        c->x = calloc(d, sizeof(float));
        c->xe = calloc(d, sizeof(float));
        c->m = calloc(d, sizeof(float));
        c->in = calloc(d, sizeof(float));
        c->out = calloc(d, sizeof(float));
        c->g = calloc(d, sizeof(float));
        c->xsync = calloc(d, sizeof(float));
        c->tmp = calloc(d, sizeof(float));
        c->view_avg = calloc(d, sizeof(float));
        c->view_virt = calloc(d, sizeof(float));
        c->e2acc = calloc(d, sizeof(double));
        c->sg_x = calloc(d, sizeof(double));
        c->sg_m = calloc(d, sizeof(double));
        c->l2acc = calloc(d, sizeof(double));
        c->drift = calloc((size_t)K * d, sizeof(double));
        c->or_x = calloc(d, sizeof(float));
        c->or_m = calloc(d, sizeof(float));
        rz_ef_config_t cfg;
        rz_ef_config_init(&cfg);
        cfg.method = (rz_ef_method_t)c->method;
        cfg.topology = (rz_ef_topology_t)c->topo;
        cfg.server_rank = ref_mod(c->server, K);
        cfg.chunk_aligned = c->aligned;
        cfg.worker_compressor = cs->wc;
        cfg.server_compressor = cs->sc;
        cfg.seed = cs->seed;
        cfg.err_avg_period = cs->p;
        cfg.model_avg_period = cs->H;
        cfg.momentum = cs->mu;
        cfg.weight_decay = cs->wd;
        memcpy(c->x, G->x0, d * sizeof(float));
        memset(&c->st, 0, sizeof(c->st));
        c->st.iter = 0xdeadbeef;
        c->rc = rz_ef_create(T->comm, d, &cfg, c->low ? NULL : G->x0,
                             c->low ? NULL : c->xe, &c->st, &c->h);
        if (c->rc != RZ_OK) {
            c->h = NULL;
        }
        if (c->low) {
            memcpy(c->xe, G->x0, d * sizeof(float));
            if (c->method == REF_SAEF && c->h) {
                float *e = c->tmp;
                take_state(T, c->h, RZ_EF_STATE_LOCAL_ERR, e, d, NULL, NULL);
                for (size_t i = 0; i < d; i++) {
                    c->xe[i] = c->x[i] - e[i];
                }
            }
        }
        c->iter_after = c->h ? rz_ef_iteration(c->h) : 0;
        c->M = maxabsf(G->x0, d);
        memcpy(c->or_x, G->x0, d * sizeof(float));
        for (size_t i = 0; i < d; i++) {
            c->sg_x[i] = G->x0[i];
            c->l2acc[i] = G->x0[i];
        }
    }
    for (int j = 0; j < G->n; j++) {
        fill_rec(G, j);
    }
    int ok = gather(G) && group_ok(G, -1, "rz_ef_create");
    if (ok) {
        for (int j = 0; j < G->n; j++) {
            tctx_t *c = &G->c[j];
            rec_t R = rec_get(G, G->cur, T->rank, j);
            set_where(G, j);
            T->t = -1;
            /* create: B1/B2, zero errors, x = x0, x_eval = x0 */
            check_stats(G, j, -1);
            check_ownership(G, j);
            VEC_ZERO(T, "create: local error is 0", R.e, d, 0);
            VEC_ZERO(T, "create: server error is 0", R.es, d, 0);
            if (!c->low) {
                VEC_EQ(T, "create: MODEL = x0", R.x, G->x0, d);
                VEC_EQ(T, "create: x_eval = x0 (E7)", R.xe, G->x0, d);
            }
            update_M(G, j);
        }
    }
    unsigned char *sw = G->prev;
    G->prev = G->cur;
    G->cur = sw;

    int steps = g_steps > 0 ? g_steps : cs->T;
    for (int t = 0; ok && t < steps; t++) {
        for (int j = 0; j < G->n; j++) {
            step_ctx(G, j, t);
        }
        for (int j = 0; j < G->n; j++) {
            fill_rec(G, j);
        }
        ok = gather(G) && group_ok(G, t, "step/exchange");
        if (!ok) {
            break;
        }
        /* the collective views, once every rank's call is known to have
         * succeeded (they leave the gathered states unchanged, L6) */
        for (int j = 0; j < G->n; j++) {
            do_views(G, j);
        }
        for (int j = 0; j < G->n; j++) {
            check_call(G, j, t);
        }
        check_group(G, t);
        sw = G->prev;
        G->prev = G->cur;
        G->cur = sw;

        /* E3 with forced averaging (low mode): the fp32 mean, bitwise */
        if (cs->force_at == t) {
            int any = 0;
            for (int j = 0; j < G->n; j++) {
                tctx_t *c = &G->c[j];
                if (c->method != REF_EF && c->method != REF_SAEF) {
                    continue;
                }
                any = 1;
                memset(&c->st, 0, sizeof(c->st));
                c->rc = rz_ef_average_errors(c->h, &c->st);
                c->st.iter = (uint64_t)t; /* not specified for this call */
                if (c->low && c->method == REF_SAEF) {
                    float *e = c->tmp;
                    take_state(T, c->h, RZ_EF_STATE_LOCAL_ERR, e, d, NULL,
                               NULL);
                    for (size_t i = 0; i < d; i++) {
                        c->xe[i] = c->x[i] - e[i];
                    }
                }
                c->iter_after = rz_ef_iteration(c->h);
            }
            if (!any) {
                continue;
            }
            for (int j = 0; j < G->n; j++) {
                fill_rec(G, j);
            }
            ok = gather(G) && group_ok(G, t, "rz_ef_average_errors");
            if (!ok) {
                break;
            }
            for (int j = 0; j < G->n; j++) {
                tctx_t *c = &G->c[j];
                if (c->method != REF_EF && c->method != REF_SAEF) {
                    continue;
                }
                set_where(G, j);
                T->t = t;
                rec_t R = rec_get(G, G->cur, T->rank, j);
                float *mean = G->fC;
                fp32_mean(G, G->prev, j, F_E, mean);
                VEC_EQ(T, "E3 forced averaging: e^k = rank-order fp32 mean",
                       R.e, mean, d);
                float *ea = G->fA, *eb = G->fB;
                build_esc(G, G->prev, j, ea);
                build_esc(G, G->cur, j, eb);
                VEC_EQ(T, "E3 forced averaging leaves e_srv alone", eb, ea, d);
                uint64_t ar = ref_bytes_allreduce(d, K, T->rank);
                CHECK(T, R.h->bytes_sent == ar && R.h->bsf == ar &&
                      R.h->bsc == 0, "B1 rz_ef_average_errors sent %llu "
                      "(fp32 %llu, compressed %llu), want %llu",
                      (unsigned long long)R.h->bytes_sent,
                      (unsigned long long)R.h->bsf,
                      (unsigned long long)R.h->bsc, (unsigned long long)ar);
                CHECK(T, R.h->iter_after == (uint64_t)(t + 1),
                      "rz_ef_average_errors moved the iteration to %llu",
                      (unsigned long long)R.h->iter_after);
                /* mass: sum_k e^k unchanged (approx, s = 0) */
                if (T->rank == 0) {
                    double *a = G->dA, *b = G->dB;
                    for (size_t i = 0; i < d; i++) {
                        a[i] = 0;
                        b[i] = 0;
                        for (int k = 0; k < K; k++) {
                            a[i] += rec_get(G, G->cur, k, j).e[i];
                            b[i] += rec_get(G, G->prev, k, j).e[i];
                        }
                        a[i] /= K;
                        b[i] /= K;
                    }
                    VEC_APPROX(T, "E3 averaging keeps mean_k e^k (s = 0)", a,
                               b, d, approx_tol(K, 0, c->M));
                }
            }
            sw = G->prev;
            G->prev = G->cur;
            G->cur = sw;
        }
    }
    if (ok) {
        report_long(G);
    }
    for (int j = 0; j < G->n; j++) {
        ctx_free(&G->c[j]);
    }
    free(G->c);
    free(G->mine);
    free(G->bufA);
    free(G->bufB);
    free(G->x0);
    free(G->dA);
    free(G->dB);
    free(G->dC);
    free(G->dD);
    free(G->va);
    free(G->fA);
    free(G->fB);
    free(G->fC);
    free(G->gnorm);
    T->cases++;
}

/* ------------------------------------------------------------------ */
/* Low-level API and bad input                                        */
/* ------------------------------------------------------------------ */

static rz_ef_config_t base_cfg(int method, int topo, const char *wc,
                               const char *sc)
{
    rz_ef_config_t cfg;
    rz_ef_config_init(&cfg);
    cfg.method = (rz_ef_method_t)method;
    cfg.topology = (rz_ef_topology_t)topo;
    cfg.worker_compressor = wc;
    cfg.server_compressor = sc;
    cfg.seed = 99;
    return cfg;
}

static void bad_create(tst_t *T, const char *what, size_t d,
                       const rz_ef_config_t *cfg, rz_comm_h comm, int null_p,
                       int allow_ns)
{
    float x0[64] = {0}, xe[64];
    rz_ef_h sentinel = (rz_ef_h)(uintptr_t)0x5a5a5a5a, ef = sentinel;
    rz_status_t s = rz_ef_create(comm, d, cfg, x0, xe, NULL,
                                 null_p ? NULL : &ef);
    int ok = s == RZ_ERR_INVALID_PARAM || (allow_ns && s == RZ_ERR_NOT_SUPPORTED);
    CHECK(T, ok, "bad input (%s): rz_ef_create returned %s, want "
          "RZ_ERR_INVALID_PARAM%s", what, rz_status_string(s),
          allow_ns ? " or RZ_ERR_NOT_SUPPORTED" : "");
    CHECK(T, ef == sentinel, "bad input (%s): *ef_p was written on failure",
          what);
    if (s == RZ_OK && ef != sentinel && !null_p) {
        rz_ef_destroy(ef);
    }
}

static void test_api(tst_t *T)
{
    const int K = T->K;
    snprintf(T->where, sizeof(T->where), "api");
    T->t = -1;

    /* defaults */
    rz_ef_config_t cfg;
    memset(&cfg, 0xa5, sizeof(cfg));
    rz_ef_config_init(&cfg);
    CHECK(T, cfg.struct_size == sizeof(cfg), "config_init: struct_size %zu",
          cfg.struct_size);
    CHECK(T, cfg.method == RZ_EF_METHOD_EF && cfg.topology == RZ_EF_TOPO_SHARDED
          && cfg.server_rank == 0 && cfg.chunk_aligned == 0 && cfg.seed == 0 &&
          cfg.err_avg_period == 0 && cfg.model_avg_period == 0 &&
          cfg.momentum == 0.0f && cfg.weight_decay == 0.0f,
          "config_init defaults: method %d topo %d server %d aligned %d seed "
          "%llu p %u H %u mu %g wd %g", (int)cfg.method, (int)cfg.topology,
          cfg.server_rank, cfg.chunk_aligned, (unsigned long long)cfg.seed,
          cfg.err_avg_period, cfg.model_avg_period, (double)cfg.momentum,
          (double)cfg.weight_decay);
    CHECK(T, cfg.worker_compressor && cfg.server_compressor &&
          strncmp(cfg.worker_compressor, "sign", 4) == 0 &&
          strncmp(cfg.server_compressor, "sign", 4) == 0,
          "config_init: sign both ways (got %s / %s)",
          cfg.worker_compressor ? cfg.worker_compressor : "NULL",
          cfg.server_compressor ? cfg.server_compressor : "NULL");

    /* names */
    static const char *mnames[4] = {"none", "ef", "saef", "liec"};
    for (int m = 0; m < 4; m++) {
        rz_ef_method_t got = (rz_ef_method_t)-1;
        const char *nm = rz_ef_method_name((rz_ef_method_t)m);
        CHECK(T, nm != NULL, "method_name(%d) is NULL", m);
        CHECK(T, rz_ef_method_parse(mnames[m], &got) == RZ_OK && (int)got == m,
              "method_parse(%s) = %d", mnames[m], (int)got);
        if (nm) {
            got = (rz_ef_method_t)-1;
            CHECK(T, rz_ef_method_parse(nm, &got) == RZ_OK && (int)got == m,
                  "method_parse(method_name(%d) = %s) = %d", m, nm, (int)got);
        }
    }
    static const struct { const char *n; int v; } tnames[] = {
        {"single", 0}, {"single-server", 0}, {"sharded", 1}, {"ring", 2},
        {"ring-exact", 3}};
    for (size_t i = 0; i < sizeof(tnames) / sizeof(*tnames); i++) {
        rz_ef_topology_t got = (rz_ef_topology_t)-1;
        CHECK(T, rz_ef_topology_parse(tnames[i].n, &got) == RZ_OK &&
              (int)got == tnames[i].v, "topology_parse(%s) = %d", tnames[i].n,
              (int)got);
    }
    for (int tp = 0; tp < 4; tp++) {
        const char *nm = rz_ef_topology_name((rz_ef_topology_t)tp);
        rz_ef_topology_t got = (rz_ef_topology_t)-1;
        CHECK(T, nm && rz_ef_topology_parse(nm, &got) == RZ_OK &&
              (int)got == tp, "topology_name(%d) = %s does not parse back", tp,
              nm ? nm : "NULL");
    }
    {
        rz_ef_method_t m;
        rz_ef_topology_t tp;
        CHECK(T, rz_ef_method_parse("bogus", &m) == RZ_ERR_INVALID_PARAM,
              "method_parse(bogus)");
        CHECK(T, rz_ef_method_parse(NULL, &m) == RZ_ERR_INVALID_PARAM,
              "method_parse(NULL)");
        CHECK(T, rz_ef_method_parse("ef", NULL) == RZ_ERR_INVALID_PARAM,
              "method_parse(ef, NULL)");
        CHECK(T, rz_ef_topology_parse("mesh", &tp) == RZ_ERR_INVALID_PARAM,
              "topology_parse(mesh)");
        CHECK(T, rz_ef_topology_parse(NULL, &tp) == RZ_ERR_INVALID_PARAM,
              "topology_parse(NULL)");
        CHECK(T, rz_ef_method_name((rz_ef_method_t)99) != NULL,
              "method_name(99) is NULL");
        CHECK(T, rz_ef_topology_name((rz_ef_topology_t)99) != NULL,
              "topology_name(99) is NULL");
    }

    /* chunking */
    static const size_t ds[] = {1, 2, 3, 7, 37, 1000, 1001};
    for (size_t a = 0; a < sizeof(ds) / sizeof(*ds); a++) {
        for (int k = 1; k <= 9; k++) {
            for (int c = 0; c < k; c++) {
                size_t off = 77, n = 77;
                rz_ef_chunk(ds[a], k, c, &off, &n);
                CHECK(T, off == ref_chunk_off(ds[a], k, c) &&
                      n == ref_chunk_n(ds[a], k, c), "rz_ef_chunk(d=%zu, K=%d,"
                      " c=%d) = [%zu, +%zu), want [%zu, +%zu)", ds[a], k, c,
                      off, n, ref_chunk_off(ds[a], k, c),
                      ref_chunk_n(ds[a], k, c));
            }
        }
    }

    /* bad input to create: every rank passes the same, so the collective
     * stays consistent */
    rz_ef_config_t c0 = base_cfg(REF_EF, REF_SHARDED, "sign", "sign");
    bad_create(T, "NULL comm", 8, &c0, NULL, 0, 0);
    bad_create(T, "NULL ef_p", 8, &c0, T->comm, 1, 0);
    bad_create(T, "d = 0", 0, &c0, T->comm, 0, 0);
    {
        /* NULL config: the header is silent; the library takes the
         * defaults. Accept that or INVALID_PARAM, never a crash. */
        rz_ef_h hn = NULL;
        rz_status_t sn = rz_ef_create(T->comm, 8, NULL, NULL, NULL, NULL, &hn);
        CHECK(T, sn == RZ_OK || sn == RZ_ERR_INVALID_PARAM,
              "rz_ef_create with a NULL config: %s", rz_status_string(sn));
        if (sn == RZ_OK) {
            rz_ef_destroy(hn);
        }
    }
    rz_ef_config_t cb = c0;
    cb.method = (rz_ef_method_t)99;
    bad_create(T, "method 99", 8, &cb, T->comm, 0, 0);
    cb = c0;
    cb.method = (rz_ef_method_t)-1;
    bad_create(T, "method -1", 8, &cb, T->comm, 0, 0);
    cb = c0;
    cb.topology = (rz_ef_topology_t)99;
    bad_create(T, "topology 99", 8, &cb, T->comm, 0, 0);
    cb = base_cfg(REF_EF, REF_SINGLE, "sign", "sign");
    cb.server_rank = K;
    bad_create(T, "server_rank = K", 8, &cb, T->comm, 0, 0);
    cb.server_rank = -1;
    bad_create(T, "server_rank = -1", 8, &cb, T->comm, 0, 0);
    cb = c0;
    cb.worker_compressor = "nosuchcodec";
    bad_create(T, "unknown worker compressor", 8, &cb, T->comm, 0, 1);
    cb = c0;
    cb.server_compressor = "nosuchcodec:x=1";
    bad_create(T, "unknown server compressor", 8, &cb, T->comm, 0, 1);
    cb = c0;
    cb.worker_compressor = "topk:ratio=2";
    bad_create(T, "topk ratio 2", 8, &cb, T->comm, 0, 1);
    cb = c0;
    cb.worker_compressor = "blocksign:block=0";
    bad_create(T, "blocksign block 0", 8, &cb, T->comm, 0, 1);

    /* a valid context survives bad calls */
    const size_t d = 37;
    float x0[37], g[37], xe[37], out[37], buf[37];
    for (size_t i = 0; i < d; i++) {
        x0[i] = gen_x0(5, i);
        g[i] = gen_grad(5, T->rank, 0, i);
    }
    rz_ef_h h = NULL;
    rz_status_t s = rz_ef_create(T->comm, d, &c0, x0, NULL, NULL, &h);
    CHECK(T, s == RZ_OK, "create with NULL x_eval and stats: %s",
          rz_status_string(s));
    if (s == RZ_OK) {
        const float *p;
        size_t off, n;
        CHECK(T, rz_ef_step(NULL, g, 0.1f, xe, NULL) == RZ_ERR_INVALID_PARAM,
              "step(NULL handle)");
        CHECK(T, rz_ef_step(h, NULL, 0.1f, xe, NULL) == RZ_ERR_INVALID_PARAM,
              "step(NULL grad)");
        CHECK(T, rz_ef_exchange(NULL, g, out, NULL) == RZ_ERR_INVALID_PARAM,
              "exchange(NULL handle)");
        CHECK(T, rz_ef_exchange(h, NULL, out, NULL) == RZ_ERR_INVALID_PARAM,
              "exchange(NULL in)");
        CHECK(T, rz_ef_exchange(h, g, NULL, NULL) == RZ_ERR_INVALID_PARAM,
              "exchange(NULL out)");
        CHECK(T, rz_ef_get_params(NULL, RZ_EF_VIEW_MODEL, out) ==
              RZ_ERR_INVALID_PARAM, "get_params(NULL handle)");
        CHECK(T, rz_ef_get_params(h, RZ_EF_VIEW_MODEL, NULL) ==
              RZ_ERR_INVALID_PARAM, "get_params(NULL out)");
        CHECK(T, rz_ef_get_params(h, (rz_ef_view_t)99, out) ==
              RZ_ERR_INVALID_PARAM, "get_params(view 99)");
        CHECK(T, rz_ef_get_state(NULL, RZ_EF_STATE_LOCAL_ERR, &p, &off, &n) ==
              RZ_ERR_INVALID_PARAM, "get_state(NULL handle)");
        {
            /* STYLE.md rule 5: output parameters set only on success */
            const float *ps = (const float *)(uintptr_t)0x77;
            size_t os = 12345, ns = 54321;
            CHECK(T, rz_ef_get_state(h, (rz_ef_state_t)99, &ps, &os, &ns) ==
                  RZ_ERR_INVALID_PARAM, "get_state(99)");
            CHECK(T, ps == (const float *)(uintptr_t)0x77 && os == 12345 &&
                  ns == 54321, "bad input (get_state(99)): outputs written on "
                  "failure (offset %zu, n %zu)", os, ns);
            for (size_t i = 0; i < d; i++) {
                out[i] = -7.0f;
            }
            CHECK(T, rz_ef_get_params(h, (rz_ef_view_t)99, out) ==
                  RZ_ERR_INVALID_PARAM, "get_params(view 99) again");
            int untouched = 1;
            for (size_t i = 0; i < d; i++) {
                untouched &= out[i] == -7.0f;
            }
            CHECK(T, untouched, "bad input (get_params(view 99)): output "
                  "written on failure");
            rz_ef_method_t ms = (rz_ef_method_t)42;
            rz_ef_topology_t tps = (rz_ef_topology_t)42;
            CHECK(T, rz_ef_method_parse("bogus", &ms) != RZ_OK && (int)ms == 42,
                  "bad input (method_parse): output written on failure");
            CHECK(T, rz_ef_topology_parse("bogus", &tps) != RZ_OK &&
                  (int)tps == 42, "bad input (topology_parse): output written "
                  "on failure");
        }
        CHECK(T, rz_ef_get_state(h, RZ_EF_STATE_LOCAL_ERR, NULL, &off, &n) ==
              RZ_ERR_INVALID_PARAM, "get_state(NULL ptr_p)");
        CHECK(T, rz_ef_average_errors(NULL, NULL) == RZ_ERR_INVALID_PARAM,
              "average_errors(NULL)");
        CHECK(T, rz_ef_liec_sync(NULL, buf, g, out, NULL) ==
              RZ_ERR_INVALID_PARAM, "liec_sync(NULL handle)");
        CHECK(T, rz_ef_liec_sync(h, buf, g, out, NULL) != RZ_OK,
              "liec_sync on an EF context must fail");
        CHECK(T, rz_ef_iteration(NULL) == 0, "iteration(NULL)");
        CHECK(T, rz_ef_destroy(NULL) == RZ_OK, "destroy(NULL)");
        CHECK(T, rz_ef_iteration(h) == 0, "bad calls moved the iteration to "
              "%llu", (unsigned long long)rz_ef_iteration(h));
        s = rz_ef_step(h, g, 0.1f, NULL, NULL);
        CHECK(T, s == RZ_OK, "a valid step after bad calls: %s",
              rz_status_string(s));
        CHECK(T, rz_ef_iteration(h) == 1, "iteration %llu after one step",
              (unsigned long long)rz_ef_iteration(h));
        rz_ef_destroy(h);
    }

    /* in == out for rz_ef_exchange; the result equals separate buffers */
    rz_ef_h ha = NULL, hb = NULL;
    rz_status_t sa = rz_ef_create(T->comm, d, &c0, NULL, NULL, NULL, &ha);
    rz_status_t sb = rz_ef_create(T->comm, d, &c0, NULL, NULL, NULL, &hb);
    CHECK(T, sa == RZ_OK && sb == RZ_OK, "create for the aliasing test");
    if (sa == RZ_OK && sb == RZ_OK) {
        memcpy(buf, g, sizeof(buf));
        sa = rz_ef_exchange(ha, g, out, NULL);
        sb = rz_ef_exchange(hb, buf, buf, NULL);
        CHECK(T, sa == RZ_OK && sb == RZ_OK, "exchange: %s / %s",
              rz_status_string(sa), rz_status_string(sb));
        VEC_EQ(T, "exchange with in == out gives the same q", buf, out, d);
    }
    rz_ef_destroy(ha);
    rz_ef_destroy(hb);

    /* LIEC low level: NEED_SYNC on schedule, liec_sync only then (H > 0),
     * at any iteration with H = 0; out may alias g */
    rz_ef_config_t cl = base_cfg(REF_LIEC, REF_RING, "sign", "sign");
    cl.model_avg_period = 2;
    h = NULL;
    s = rz_ef_create(T->comm, d, &cl, NULL, NULL, NULL, &h);
    CHECK(T, s == RZ_OK, "LIEC create: %s", rz_status_string(s));
    if (s == RZ_OK) {
        float xl[37];
        memcpy(xl, x0, sizeof(xl));
        s = rz_ef_liec_sync(h, xl, g, out, NULL);
        CHECK(T, s == RZ_ERR_INVALID_PARAM, "liec_sync off schedule (t=0, "
              "H=2): %s", rz_status_string(s));
        CHECK(T, rz_ef_exchange(h, g, out, NULL) == RZ_OK, "LIEC exchange t=0");
        CHECK(T, rz_ef_exchange(h, g, out, NULL) == RZ_ERR_NEED_SYNC,
              "LIEC exchange t=1 (H=2) must ask for a sync");
        CHECK(T, rz_ef_iteration(h) == 1, "NEED_SYNC moved the iteration");
        memcpy(buf, g, sizeof(buf));
        s = rz_ef_liec_sync(h, xl, buf, buf, NULL);
        CHECK(T, s == RZ_OK, "liec_sync at t=1 with out == g: %s",
              rz_status_string(s));
        CHECK(T, rz_ef_iteration(h) == 2, "liec_sync counts as the iteration");
        CHECK(T, rz_ef_exchange(h, g, out, NULL) == RZ_OK, "LIEC exchange t=2");
        rz_ef_destroy(h);
    }
    cl.model_avg_period = 0;
    h = NULL;
    s = rz_ef_create(T->comm, d, &cl, NULL, NULL, NULL, &h);
    if (s == RZ_OK) {
        float xl[37];
        memcpy(xl, x0, sizeof(xl));
        CHECK(T, rz_ef_exchange(h, g, out, NULL) == RZ_OK, "LIEC H=0 t=0");
        s = rz_ef_liec_sync(h, xl, g, out, NULL);
        CHECK(T, s == RZ_OK, "liec_sync with H = 0 at t=1: %s",
              rz_status_string(s));
        CHECK(T, rz_ef_iteration(h) == 2, "iteration after a H=0 sync");
        rz_ef_destroy(h);
    }
}

/* ------------------------------------------------------------------ */
/* Mismatched configurations (processes, RZ_TIMEOUT_MS=5000)          */
/* ------------------------------------------------------------------ */

static int run_mismatch(void)
{
    long checks = 0, fails = 0;
    static const char *what[] = {
        "worker compressor differs on rank 1",
        "d differs on the last rank",
        "method differs on rank 1",
        "topology differs on rank 0",
        "p differs on rank 1",
        "server compressor NULL on rank 1",
        "seed differs on the last rank",
        "call sequence: rank 1 averages while the others step"};
    const int ncase = (int)(sizeof(what) / sizeof(*what));
    int rank = -1;
    for (int sc = 0; sc < ncase; sc++) {
        tst_t T;
        memset(&T, 0, sizeof(T));
        rz_status_t s = rz_comm_init_env(&T.comm);
        if (s != RZ_OK) {
            printf("rz_comm_init_env: %s\n", rz_status_string(s));
            return 1;
        }
        rz_comm_rank(T.comm, &T.rank);
        rz_comm_size(T.comm, &T.K);
        rank = T.rank;
        snprintf(T.where, sizeof(T.where), "mismatch: %s", what[sc]);
        T.t = -1;
        const int K = T.K, last = T.K - 1;
        size_t d = 100;
        rz_ef_config_t cfg = base_cfg(REF_EF, REF_SHARDED, "sign", "sign");
        cfg.err_avg_period = 3;
        if (sc == 0 && T.rank == 1 % K) {
            cfg.worker_compressor = "topk:ratio=0.1";
        } else if (sc == 1 && T.rank == last) {
            d = 101;
        } else if (sc == 2 && T.rank == 1 % K) {
            cfg.method = RZ_EF_METHOD_SAEF;
        } else if (sc == 3 && T.rank == 0) {
            cfg.topology = RZ_EF_TOPO_RING;
        } else if (sc == 4 && T.rank == 1 % K) {
            cfg.err_avg_period = 4;
        } else if (sc == 5 && T.rank == 1 % K) {
            cfg.server_compressor = NULL;
        } else if (sc == 6 && T.rank == last) {
            cfg.seed = 100;
        }
        if (sc == 6) {
            /* the seed matters to random-k masks */
            cfg.worker_compressor = cfg.server_compressor = "randk:ratio=0.25";
        }
        float *x0 = calloc(d, sizeof(float)), *g = calloc(d, sizeof(float));
        float *xe = calloc(d, sizeof(float));
        for (size_t i = 0; i < d; i++) {
            g[i] = gen_grad(3, T.rank, 0, i);
        }
        rz_ef_h h = NULL;
        double t0 = now_s();
        s = rz_ef_create(T.comm, d, &cfg, x0, xe, NULL, &h);
        if (s != RZ_OK) {
            h = NULL;
        }
        const char *where = "rz_ef_create";
        if (sc < ncase - 1) {
            /* create needs no communication (p != 1), so the mismatch may
             * surface at the first collective call: up to 4 steps */
            for (int t = 0; s == RZ_OK && t < 4; t++) {
                s = rz_ef_step(h, g, 0.1f, xe, NULL);
                where = "rz_ef_step";
                T.t = t;
            }
            printf("rank %d: mismatch (%s): %s -> %s after %.0f ms\n", T.rank,
                   what[sc], where, rz_status_string(s), (now_s() - t0) * 1e3);
            CHECK(&T, s != RZ_OK, "a mismatched configuration must fail on "
                  "every rank by the first collective calls (got %s)",
                  rz_status_string(s));
            CHECK(&T, s == RZ_ERR_MISMATCH || s == RZ_ERR_TIMEOUT ||
                  s == RZ_ERR_PEER_FAILURE || s == RZ_ERR_ABORTED ||
                  s == RZ_ERR_MALFORMED || s == RZ_OK,
                  "an error that says what happened: %s", rz_status_string(s));
        } else {
            CHECK(&T, s == RZ_OK, "create: %s", rz_status_string(s));
            if (s == RZ_OK) {
                t0 = now_s();
                if (T.rank == 1 % K && K > 1) {
                    s = rz_ef_average_errors(h, NULL);
                } else {
                    s = rz_ef_step(h, g, 0.1f, xe, NULL);
                }
                printf("rank %d: mismatch (%s) -> %s after %.0f ms\n", T.rank,
                       what[sc], rz_status_string(s), (now_s() - t0) * 1e3);
                if (K > 1) {
                    CHECK(&T, s != RZ_OK, "a mismatched call sequence must "
                          "fail on every rank (got %s)", rz_status_string(s));
                }
            }
        }
        CHECK(&T, now_s() - t0 < 40.0, "took %.1f s (RZ_TIMEOUT_MS=5000)",
              now_s() - t0);
        if (h) {
            rz_ef_destroy(h);
        }
        rz_comm_destroy(T.comm);
        free(x0);
        free(g);
        free(xe);
        checks += T.checks;
        fails += T.fails;
    }
    printf("ef: rank %d mismatch: %ld checks, %ld failures\n", rank, checks,
           fails);
    return fails ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* The matrix                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *wc, *sc;
} pair_t;

static const pair_t pairs_dc[] = {
    {"none", "none"},
    {"sign", "sign"},
    {"blocksign:block=4", "blocksign:block=4"},
    {"topk:ratio=0.1", "topk:ratio=0.1"},
    {"randk:ratio=0.25", "randk:ratio=0.25"},
    {"fp16", "fp16"},
};
static const pair_t pairs_sc[] = {
    {"sign", NULL},
    {"topk:ratio=0.1", "none"},
    {"randk:ratio=0.25", NULL},
    {"fp16", "none"},
};

typedef struct {
    char tag[40];
    float mu, wd;
    uint32_t p, H;
    int low, lr_decay, force_at, twins, views;
} variant_t;

/* One variant of the optimiser and schedule: mode (rz_ef_step or the
 * low-level calls), mu in {0, 0.9}, lambda in {0, 1e-2} and the periods
 * (p, H) in {(0, 0), (1, 1), (3, 4)}. High mode adds the views and the
 * twins (low-level twin, LIEC history twins); low mode forces an error
 * averaging after call 2. An LR decay runs where exactly one of mu and
 * lambda is set. */
static variant_t make_variant(int low, int mu, int wd, int per)
{
    static const uint32_t ps[3] = {0, 1, 3}, hs[3] = {0, 1, 4};
    variant_t v;
    memset(&v, 0, sizeof(v));
    v.low = low;
    v.mu = mu ? 0.9f : 0.0f;
    v.wd = wd ? 1e-2f : 0.0f;
    v.p = ps[per];
    v.H = hs[per];
    v.lr_decay = (mu != 0) != (wd != 0);
    v.force_at = low ? 2 : -1;
    v.twins = !low;
    v.views = !low;
    snprintf(v.tag, sizeof(v.tag), "%s%s%s%s", low ? "lo" : "hi",
             mu ? "-mom" : "", wd ? "-wd" : "", v.lr_decay ? "-decay" : "");
    return v;
}

/* A covering subset: every level of every factor, in both modes. */
static const int cover[8][4] = {
    {0, 0, 0, 0}, {0, 1, 1, 1}, {0, 0, 1, 2}, {0, 1, 0, 2},
    {1, 1, 0, 2}, {1, 0, 0, 1}, {1, 0, 1, 0}, {1, 1, 1, 2}};

typedef struct {
    case_t *v;
    int n, cap;
} caselist_t;

static void push_case(caselist_t *L, const case_t *c)
{
    if (g_filter && !strstr(c->name, g_filter)) {
        return;
    }
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 64;
        L->v = realloc(L->v, (size_t)L->cap * sizeof(case_t));
    }
    L->v[L->n++] = *c;
}

static void add_variant_case(caselist_t *L, unsigned methods, const pair_t *pr,
                             size_t d, const variant_t *v, int T, int idx)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    c.methods = methods;
    c.topos = TOPO_ALL;
    c.wc = pr->wc;
    c.sc = pr->sc;
    c.d = d;
    c.mu = v->mu;
    c.wd = v->wd;
    /* both periods on every method: LIEC ignores p, EF/SAEF ignore H, NONE
     * both (B1/B2 see any stray averaging) */
    c.p = v->p;
    c.H = v->H;
    c.T = T;
    c.low = v->low;
    c.lr_decay = v->lr_decay;
    c.force_at = v->force_at;
    c.twins = v->twins;
    c.views = v->views;
    c.server = idx;
    c.seed = 1000 + (uint64_t)idx * 7919;
    const char *mn = methods == (M_EF | M_SAEF) ? "EF+SAEF"
                     : methods == M_LIEC       ? "LIEC"
                     : methods == M_NONE       ? "NONE"
                                               : "mixed";
    snprintf(c.name, sizeof(c.name), "%s %.40s/%.40s d=%zu %.40s p=%u H=%u", mn,
             pr->wc ? pr->wc : "NULL", pr->sc ? pr->sc : "NULL", d, v->tag,
             c.p, c.H);
    push_case(L, &c);
}

static void add_long_cases(caselist_t *L, int K)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    c.methods = M_EF | M_SAEF;
    c.topos = (1u << TV_SINGLE) | (1u << TV_SHARDED) | (1u << TV_RING);
    c.wc = c.sc = "topk:ratio=0.1";
    c.d = 37;
    c.mu = 0.9f;
    c.T = 60;
    c.force_at = -1;
    c.longrun = 1;
    c.server = 1;
    c.seed = 4242;
    snprintf(c.name, sizeof(c.name), "long EF+SAEF topk:ratio=0.1 d=37 mu=0.9 "
             "T=60");
    push_case(L, &c);
    c.wc = c.sc = "sign";
    c.d = 1000;
    c.T = 30;
    c.p = 5;
    snprintf(c.name, sizeof(c.name), "long EF+SAEF sign d=1000 mu=0.9 p=5 T=30");
    push_case(L, &c);
    c.methods = M_LIEC;
    c.wc = c.sc = "topk:ratio=0.1";
    c.d = 37;
    c.mu = 0;
    c.wd = 1e-2f;
    c.p = 0;
    c.H = 0;
    c.T = 40;
    snprintf(c.name, sizeof(c.name), "long LIEC topk:ratio=0.1 d=37 wd=0.01 "
             "H=0 T=40 (drift)");
    push_case(L, &c);
    /* a larger vector, every topology, both methods' families */
    memset(&c, 0, sizeof(c));
    c.methods = M_EF | M_SAEF;
    c.topos = TOPO_ALL;
    c.wc = c.sc = "sign";
    c.d = 20011;
    c.mu = 0.9f;
    c.p = 3;
    c.T = 5;
    c.force_at = -1;
    c.views = 1;
    c.twins = 1;
    c.server = 2;
    c.seed = 777;
    snprintf(c.name, sizeof(c.name), "big EF+SAEF sign d=20011 mu=0.9 p=3 T=5");
    push_case(L, &c);
    c.methods = M_LIEC;
    c.wc = c.sc = "topk:ratio=0.1";
    c.p = 0;
    c.H = 4;
    c.mu = 0;
    c.wd = 1e-2f;
    snprintf(c.name, sizeof(c.name), "big LIEC topk:ratio=0.1 d=20011 wd=0.01 "
             "H=4 T=5");
    push_case(L, &c);
    (void)K;
}

static void build_cases(caselist_t *L, int level, int K)
{
    static const size_t d_full[] = {1, 3, 37, 1000};
    static const size_t d_red[] = {3, 37, 1000};
    static const size_t d_small[] = {3, 37};
    const size_t *ds;
    int nd, idx = 0;
    variant_t vs[24];
    int nv = 0;
    if (level == LVL_LONG) {
        add_long_cases(L, K);
        return;
    }
    if ((level == LVL_FULL || level == LVL_MID) && !g_quick) {
        for (int low = 0; low < 2; low++) {
            for (int mu = 0; mu < 2; mu++) {
                for (int wd = 0; wd < 2; wd++) {
                    for (int per = 0; per < 3; per++) {
                        vs[nv++] = make_variant(low, mu, wd, per);
                    }
                }
            }
        }
    } else {
        int ncov = level == LVL_SMALL ? 4 : 8;
        static const int small[4] = {0, 1, 4, 6};
        for (int i = 0; i < ncov; i++) {
            const int *cv = cover[level == LVL_SMALL ? small[i] : i];
            vs[nv++] = make_variant(cv[0], cv[1], cv[2], cv[3]);
        }
    }
    if (level == LVL_FULL) {
        ds = d_full;
        nd = 4;
    } else if (level == LVL_MID) {
        ds = d_full; /* 1, 3, 37: d < K and K not dividing d */
        nd = 3;
    } else if (level == LVL_REDUCED) {
        ds = d_red;
        nd = 3;
    } else {
        ds = d_small;
        nd = 2;
    }
    if (g_quick) {
        ds = d_small;
        nd = 2;
    }
    for (size_t pi = 0; pi < sizeof(pairs_dc) / sizeof(*pairs_dc); pi++) {
        for (int di = 0; di < nd; di++) {
            int T = ds[di] >= 1000 ? 6 : 8;
            for (int vi = 0; vi < nv; vi++) {
                add_variant_case(L, M_EF | M_SAEF, &pairs_dc[pi], ds[di],
                                 &vs[vi], T, idx++);
                add_variant_case(L, M_LIEC, &pairs_dc[pi], ds[di], &vs[vi], T,
                                 idx++);
                if (vs[vi].p != 1 && (level != LVL_SMALL || vi == 0)) {
                    add_variant_case(L, M_NONE, &pairs_dc[pi], ds[di],
                                     &vs[vi], T, idx++);
                }
            }
        }
    }
    /* single-way: the server codec is the identity (NULL or "none") */
    for (size_t pi = 0; pi < sizeof(pairs_sc) / sizeof(*pairs_sc); pi++) {
        if (level != LVL_FULL && level != LVL_MID && pi >= 2) {
            continue;
        }
        for (int di = 0; di < nd; di++) {
            int T = ds[di] >= 1000 ? 6 : 8;
            for (int vi = 0; vi < nv; vi++) {
                if (level == LVL_SMALL && vi > 0) {
                    continue;
                }
                add_variant_case(L, M_EF | M_SAEF, &pairs_sc[pi], ds[di],
                                 &vs[vi], T, idx++);
                add_variant_case(L, M_LIEC, &pairs_sc[pi], ds[di], &vs[vi], T,
                                 idx++);
            }
        }
    }
    if (level == LVL_FULL && !g_quick) {
        add_long_cases(L, K);
    }
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */
/* ------------------------------------------------------------------ */

static int self_test(void)
{
    int ok = ref_mix64(0) == 0xE220A8397B1DCDAFull &&
             ref_randk_key(1, 0, 0) == 0xAC00E8F02F8C2CE4ull;
    unsigned char on[37];
    ref_randk_mask(ref_randk_key(1, 0, 0), 37, 9, on);
    static const int want[9] = {0, 2, 5, 10, 12, 13, 24, 27, 28};
    int nk = 0;
    for (int i = 0; i < 37; i++) {
        if (on[i]) {
            ok = ok && nk < 9 && want[nk] == i;
            nk++;
        }
    }
    ok = ok && nk == 9;
    ref_codec_t c;
    ok = ok && ref_codec_parse("topk:ratio=0.1", &c) == 0 &&
         ref_codec_k(&c, 37) == 3 && ref_codec_k(&c, 3) == 1 &&
         ref_codec_bytes(&c, 0) == 0 && ref_codec_bytes(&c, 37) == 28;
    ok = ok && ref_codec_parse("blocksign:block=4", &c) == 0 &&
         ref_codec_bytes(&c, 9) == 2 + 12;
    /* ALGORITHMS.md worked numbers: sign, d = 235146, K = 4 and 8 */
    ref_codec_t s;
    ref_codec_parse("sign", &s);
    for (int i = 0; i < 4; i++) {
        ok = ok && ref_bytes_exchange(REF_SHARDED, 0, 0, &s, &s, 235146, 4, i)
                       == 44118;
    }
    ok = ok && ref_bytes_exchange(REF_SINGLE, 0, 0, &s, &s, 235146, 4, 1) ==
                   29398 &&
         ref_bytes_exchange(REF_SINGLE, 0, 0, &s, &s, 235146, 4, 0) == 88194 &&
         ref_bytes_exchange(REF_SINGLE, 1, 0, &s, &s, 235146, 8, 1) == 29432 &&
         ref_bytes_exchange(REF_SINGLE, 1, 0, &s, &s, 235146, 8, 0) == 206024;
    uint64_t lo = ~0ull, hi = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t b = ref_bytes_allreduce(235146, 4, i);
        lo = b < lo ? b : lo;
        hi = b > hi ? b : hi;
    }
    ok = ok && lo == 1410872 && hi == 1410880;
    if (!ok) {
        printf("ef: the test's own reference failed its known answers\n");
    }
    return ok;
}

static void run_all(tst_t *T)
{
    double t0 = now_s();
    int level = g_level >= 0 ? g_level : (T->K <= 4 ? LVL_FULL : LVL_REDUCED);
    rz_comm_rank(T->comm, &T->rank);
    rz_comm_size(T->comm, &T->K);
    if (T->K > 64) {
        printf("ef: at most 64 ranks (the checks keep per-chunk arrays)\n");
        T->fails++;
        return;
    }
    test_api(T);
    caselist_t L = {0};
    build_cases(&L, level, T->K);
    for (int i = 0; i < L.n; i++) {
        double c0 = now_s();
        run_case(T, &L.v[i]);
        if (g_verbose && T->rank == 0) {
            printf("ef: case %d/%d %s: %.2f s\n", i + 1, L.n, L.v[i].name,
                   now_s() - c0);
        }
    }
    free(L.v);
    rz_status_t s = rz_comm_get_async_error(T->comm);
    CHECK(T, s == RZ_OK, "communicator unhealthy at the end: %s",
          rz_status_string(s));
    if (T->rank == 0 || g_verbose) {
        printf("ef: rank %d checks by invariant (checks/failures, worst "
               "|diff|/tol of approx checks):\n", T->rank);
        for (int i = 0; i < T->ntag; i++) {
            if (!g_verbose && !is_invariant_tag(T->tag[i])) {
                continue;
            }
            printf("ef:   %-15s %9ld / %ld", T->tag[i], T->tag_n[i],
                   T->tag_f[i]);
            if (T->tag_ratio[i] > 0) {
                printf("   worst %.3g", T->tag_ratio[i]);
            }
            printf("\n");
        }
    }
    printf("ef: rank %d of %d: %ld checks, %ld failures (%ld cases, %.1f s)\n",
           T->rank, T->K, T->checks, T->fails, T->cases, now_s() - t0);
}

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
    run_all(T);
    t->passed += T->checks - T->fails;
    t->failed += T->fails;
    free(T);
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--threads K] [--level full|mid|reduced|small|long]"
            " [--quick] [--filter SUBSTR] [--steps T] [--verbose] "
            "[--max-reports N] [--mismatch]\n", prog);
}

int main(int argc, char **argv)
{
    int nthreads = 0, mismatch = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--level") && i + 1 < argc) {
            const char *l = argv[++i];
            g_level = !strcmp(l, "full")      ? LVL_FULL
                      : !strcmp(l, "reduced") ? LVL_REDUCED
                      : !strcmp(l, "small")   ? LVL_SMALL
                      : !strcmp(l, "long")    ? LVL_LONG
                      : !strcmp(l, "mid")     ? LVL_MID
                                              : -2;
            if (g_level == -2) {
                usage(argv[0]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--quick")) {
            g_quick = 1;
        } else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
            g_filter = argv[++i];
        } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            g_steps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--max-reports") && i + 1 < argc) {
            g_max_reports = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--verbose")) {
            g_verbose = 1;
        } else if (!strcmp(argv[i], "--mismatch")) {
            mismatch = 1;
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (!self_test()) {
        return 1;
    }
    if (nthreads > 64) {
        fprintf(stderr, "at most 64 ranks\n");
        return 2;
    }
    if (mismatch) {
        return run_mismatch();
    }
    return rz_tr_run("ef", nthreads, rank_main);
}
