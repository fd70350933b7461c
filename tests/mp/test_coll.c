/*
 * Collective sweep: every collective x dtype x op x size x in-place, checked
 * element by element against an independent reference and, where all ranks
 * must agree, for bitwise equality across ranks (hashes allgathered).
 *
 *   test_coll [--max-count N] [--threads N]
 *
 * Without --threads, ranks are processes started by rzrun
 * (rz_comm_init_env). With --threads N, N threads of this process each join
 * through rz_get_unique_id()/rz_comm_init_rank().
 */
#include "common/rz_test_data.h"
#include "common/rz_test_ranks.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t sizes[] = {0, 1, 7, 1000, 65537, 1048579};
static size_t max_count = 1048579;

typedef rz_tr_t ctx_t;
#define CHECK RZ_TR_CHECK

/* All ranks hold the same bytes? Compares hashes gathered from every rank. */
static void check_same(ctx_t *c, const void *buf, size_t bytes,
                       const char *what)
{
    uint64_t h = rz_td_hash(buf, bytes);
    uint64_t *all = calloc((size_t)c->nranks, sizeof(*all));
    rz_status_t st = rz_allgather(&h, all, 1, RZ_DTYPE_U64, c->comm);
    CHECK(c, st == RZ_OK, "allgather of hashes: %s", rz_status_string(st));
    int same = 1;
    for (int r = 0; r < c->nranks; r++) {
        same &= all[r] == h;
    }
    CHECK(c, same, "%s: ranks' outputs are not bitwise identical", what);
    free(all);
}

/* Blocking, or non-blocking polled with rz_test, alternating by @nb. */
static rz_status_t run_allreduce(ctx_t *c, const void *s, void *r, size_t n,
                                 rz_dtype_t t, rz_op_t op, int nb)
{
    if (!nb) {
        return rz_allreduce(s, r, n, t, op, c->comm);
    }
    rz_request_h req;
    rz_status_t st = rz_iallreduce(s, r, n, t, op, c->comm, &req);
    if (st != RZ_OK) {
        return st;
    }
    while ((st = rz_test(&req)) == RZ_INPROGRESS) {
    }
    return st;
}

static void sweep_allreduce(ctx_t *c)
{
    int iter = 0;
    for (int t = 0; t < RZ_DTYPE_LAST; t++) {
        size_t es = rz_dtype_size(t);
        for (int op = 0; op < RZ_OP_LAST; op++) {
            if (op == RZ_OP_AVG && !rz_td_is_float(t)) {
                char x[8] = {0};
                rz_status_t st = rz_allreduce(x, x, 1, t, op, c->comm);
                CHECK(c, st == RZ_ERR_NOT_SUPPORTED, "avg on %s: %s",
                      rz_dtype_name(t), rz_status_string(st));
                continue;
            }
            for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
                size_t n = sizes[si];
                if (n > max_count) {
                    continue;
                }
                for (int inplace = 0; inplace < 2; inplace++) {
                    char *in = malloc(n * es + 1), *out = malloc(n * es + 1);
                    for (size_t i = 0; i < n; i++) {
                        rz_td_store(t, in, i, rz_td_value(t, op, c->rank, i));
                    }
                    if (inplace) {
                        memcpy(out, in, n * es);
                    }
                    rz_status_t st = run_allreduce(c, inplace ? out : in, out,
                                                   n, t, op, iter++ % 2);
                    CHECK(c, st == RZ_OK, "allreduce %s %s n=%zu: %s",
                          rz_dtype_name(t), rz_op_name(op), n,
                          rz_status_string(st));
                    size_t bad = 0, first = 0;
                    double want = 0, got = 0, w, g;
                    for (size_t i = 0; st == RZ_OK && i < n; i++) {
                        if (!rz_td_check_reduced(t, op, c->nranks, out, i, &w,
                                                 &g) && bad++ == 0) {
                            first = i; want = w; got = g;
                        }
                    }
                    CHECK(c, bad == 0, "allreduce %s %s n=%zu inplace=%d: %zu "
                          "wrong, first at %zu: got %g want %g",
                          rz_dtype_name(t), rz_op_name(op), n, inplace, bad,
                          first, got, want);
                    check_same(c, out, n * es, "allreduce");
                    free(in);
                    free(out);
                }
            }
        }
    }
}

static void sweep_reduce_scatter(ctx_t *c)
{
    const int K = c->nranks;
    for (int t = 0; t < RZ_DTYPE_LAST; t++) {
        size_t es = rz_dtype_size(t);
        for (int op = 0; op < RZ_OP_LAST; op++) {
            if (op == RZ_OP_AVG && !rz_td_is_float(t)) {
                continue;
            }
            for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
                /* recvcount; the largest is divided so that the total
                 * stays near the allreduce sizes */
                size_t n = sizes[si] > 65537 ? sizes[si] / (size_t)K : sizes[si];
                if (sizes[si] > max_count) {
                    continue;
                }
                for (int inplace = 0; inplace < 2; inplace++) {
                    size_t total = n * (size_t)K;
                    char *in = malloc(total * es + 1), *out = malloc(n * es + 1);
                    for (size_t i = 0; i < total; i++) {
                        rz_td_store(t, in, i, rz_td_value(t, op, c->rank, i));
                    }
                    char *dst = inplace ? in + (size_t)c->rank * n * es : out;
                    rz_status_t st = rz_reduce_scatter(in, dst, n, t, op,
                                                       c->comm);
                    CHECK(c, st == RZ_OK, "reduce_scatter %s %s n=%zu: %s",
                          rz_dtype_name(t), rz_op_name(op), n,
                          rz_status_string(st));
                    size_t bad = 0;
                    double w, g;
                    /* Element j of my block is global element rank*n + j;
                     * check against the reference of that global index. */
                    char *probe = malloc(total * es + 1);
                    memcpy(probe + (size_t)c->rank * n * es, dst, n * es);
                    for (size_t j = 0; st == RZ_OK && j < n; j++) {
                        bad += !rz_td_check_reduced(t, op, K, probe,
                                                    (size_t)c->rank * n + j,
                                                    &w, &g);
                    }
                    CHECK(c, bad == 0, "reduce_scatter %s %s n=%zu inplace=%d:"
                          " %zu wrong", rz_dtype_name(t), rz_op_name(op), n,
                          inplace, bad);
                    free(probe);
                    free(in);
                    free(out);
                }
            }
        }
    }
}

static void sweep_allgather_bcast(ctx_t *c)
{
    const int K = c->nranks;
    for (int t = 0; t < RZ_DTYPE_LAST; t++) {
        size_t es = rz_dtype_size(t);
        for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
            size_t n = sizes[si] > 65537 ? sizes[si] / (size_t)K : sizes[si];
            if (sizes[si] > max_count) {
                continue;
            }
            for (int inplace = 0; inplace < 2; inplace++) {
                /* allgather: rank r contributes values of "rank" r */
                size_t total = n * (size_t)K;
                char *in = malloc(n * es + 1), *out = malloc(total * es + 1);
                for (size_t i = 0; i < n; i++) {
                    rz_td_store(t, in, i, rz_td_value(t, RZ_OP_SUM, c->rank, i));
                }
                const void *src = in;
                if (inplace) {
                    memcpy(out + (size_t)c->rank * n * es, in, n * es);
                    src = out + (size_t)c->rank * n * es;
                }
                rz_request_h req;
                rz_status_t st = rz_iallgather(src, out, n, t, c->comm, &req);
                if (st == RZ_OK) {
                    st = rz_wait(&req);
                }
                CHECK(c, st == RZ_OK, "allgather %s n=%zu: %s",
                      rz_dtype_name(t), n, rz_status_string(st));
                char *want = malloc(total * es + 1);
                for (int r = 0; r < K; r++) {
                    for (size_t i = 0; i < n; i++) {
                        rz_td_store(t, want + (size_t)r * n * es, i,
                                    rz_td_value(t, RZ_OP_SUM, r, i));
                    }
                }
                CHECK(c, st != RZ_OK || memcmp(want, out, total * es) == 0,
                      "allgather %s n=%zu inplace=%d: wrong data",
                      rz_dtype_name(t), n, inplace);
                free(want);
                free(in);
                free(out);

                /* broadcast from a root that moves with the size */
                int root = (int)(si % (size_t)K);
                char *buf = malloc(n * es + 1), *ref = malloc(n * es + 1);
                for (size_t i = 0; i < n; i++) {
                    rz_td_store(t, ref, i, rz_td_value(t, RZ_OP_SUM, root, i));
                    rz_td_store(t, buf, i, c->rank == root
                                ? rz_td_value(t, RZ_OP_SUM, root, i) : 0.0);
                }
                char *sb = buf;
                if (!inplace && c->rank == root) {
                    sb = malloc(n * es + 1);
                    memcpy(sb, buf, n * es);
                    memset(buf, 0, n * es);
                }
                st = rz_broadcast(sb, buf, n, t, root, c->comm);
                CHECK(c, st == RZ_OK, "broadcast %s n=%zu root=%d: %s",
                      rz_dtype_name(t), n, root, rz_status_string(st));
                CHECK(c, st != RZ_OK || memcmp(buf, ref, n * es) == 0,
                      "broadcast %s n=%zu root=%d inplace=%d: wrong data",
                      rz_dtype_name(t), n, root, inplace);
                if (sb != buf) {
                    free(sb);
                }
                free(buf);
                free(ref);
            }
        }
    }
}

/* Several non-blocking collectives in flight, completed in reverse order. */
static void check_concurrent(ctx_t *c)
{
    enum { M = 4 };
    size_t n = 4099;
    float *bufs[M];
    rz_request_h reqs[M];
    for (int m = 0; m < M; m++) {
        bufs[m] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            bufs[m][i] = (float)(m + c->rank);
        }
        rz_status_t st = rz_iallreduce(bufs[m], bufs[m], n, RZ_DTYPE_F32,
                                       RZ_OP_SUM, c->comm, &reqs[m]);
        CHECK(c, st == RZ_OK, "iallreduce #%d: %s", m, rz_status_string(st));
    }
    rz_request_h bar;
    CHECK(c, rz_ibarrier(c->comm, &bar) == RZ_OK, "ibarrier");
    for (int m = M - 1; m >= 0; m--) {
        rz_status_t st = rz_wait(&reqs[m]);
        CHECK(c, st == RZ_OK && reqs[m] == NULL, "wait #%d: %s", m,
              rz_status_string(st));
        float want = (float)(m * c->nranks + c->nranks * (c->nranks - 1) / 2);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            bad += bufs[m][i] != want;
        }
        CHECK(c, bad == 0, "concurrent allreduce #%d: %zu wrong", m, bad);
        free(bufs[m]);
    }
    CHECK(c, rz_wait(&bar) == RZ_OK, "barrier wait");
    for (int i = 0; i < 3; i++) {
        CHECK(c, rz_barrier(c->comm) == RZ_OK, "barrier %d", i);
    }
}

static void run_sweep(ctx_t *c)
{
    rz_comm_rank(c->comm, &c->rank);
    rz_comm_size(c->comm, &c->nranks);
    check_concurrent(c);
    sweep_allreduce(c);
    sweep_reduce_scatter(c);
    sweep_allgather_bcast(c);
    CHECK(c, rz_comm_get_async_error(c->comm) == RZ_OK, "comm still healthy");
}

int main(int argc, char **argv)
{
    int nthreads = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-count") == 0 && i + 1 < argc) {
            max_count = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--max-count N] [--threads N]\n",
                    argv[0]);
            return 2;
        }
    }
    return rz_tr_run("test_coll", nthreads, run_sweep);
}
