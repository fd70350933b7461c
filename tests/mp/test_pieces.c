/*
 * rz_allreduce_pieces: the pipelined ring over scattered tensors that the
 * fusion engine uses instead of a fusion buffer. For random layouts (1 to
 * 300 pieces, empty ones included, separately allocated, in place and out
 * of place), every dtype class and op:
 *   - every element matches an independent reference (rz_test_data.h);
 *   - all ranks hold bitwise identical results;
 *   - the result is bitwise identical to the same algorithm (ring, or
 *     Rabenseifner where auto picks it) on the vector in one buffer (same
 *     chunks, same reduction order).
 * Run it also with RZ_ALLREDUCE_ALGO=rabenseifner, and oversubscribed.
 *
 *   test_pieces [--threads N] [--layouts N]
 *
 * Run it with a small RZ_RING_SEGMENT as well, so that most messages span
 * several pieces (scatter/gather lists of many entries).
 */
#include "common/rz_test_data.h"
#include "common/rz_test_ranks.h"
#include "collectives/rz_coll.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef rz_tr_t ctx_t;
#define CHECK RZ_TR_CHECK

static int nlayouts = 12;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* The same layout on every rank: piece counts from the seed. */
static int make_layout(uint64_t seed, size_t *counts)
{
    uint64_t s = seed;
    int n = 1 + (int)(lcg(&s) % 300);

    for (int i = 0; i < n; i++) {
        uint64_t k = lcg(&s) % 10;
        counts[i] = k == 0 ? 0 : k < 6 ? 1 + lcg(&s) % 64
                  : k < 9 ? 1 + lcg(&s) % 3000 : 1 + lcg(&s) % 60000;
    }
    return n;
}

static void run_case(ctx_t *c, rz_dtype_t t, rz_op_t op, uint64_t seed,
                     int inplace)
{
    struct rz_comm *comm = c->comm;
    size_t counts[300], total = 0, es = rz_dtype_size(t);
    int n = make_layout(seed, counts);
    rz_piece_t pieces[300];
    char *cat, *ref;
    char what[96];

    for (int i = 0; i < n; i++) {
        total += counts[i];
    }
    cat = malloc(total * es + 1);
    ref = malloc(total * es + 1);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        /* Own allocations, never adjacent. */
        char *sb = malloc(counts[i] * es + 64);
        char *rb = inplace ? sb : malloc(counts[i] * es + 64);
        for (size_t e = 0; e < counts[i]; e++) {
            double v = rz_td_value(t, op, c->rank, off + e);
            rz_td_store(t, sb, e, v);
            rz_td_store(t, ref, off + e, v);
        }
        if (!inplace) {
            memset(rb, 0xa5, counts[i] * es);
        }
        pieces[i].sbuf = sb;
        pieces[i].rbuf = rb;
        pieces[i].count = counts[i];
        off += counts[i];
    }
    snprintf(what, sizeof(what), "%s %s layout %llu (%d pieces, %zu "
             "elements) %s", rz_dtype_name(t), rz_op_name(op),
             (unsigned long long)seed, n, total,
             inplace ? "in place" : "out of place");

    rz_status_t st = rz_allreduce_pieces(comm, pieces, n, t, op);
    CHECK(c, st == RZ_OK, "%s: %s", what, rz_status_string(st));
    off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(cat + off * es, pieces[i].rbuf, counts[i] * es);
        off += counts[i];
    }
    long bad = 0;
    for (size_t e = 0; e < total && st == RZ_OK; e++) {
        double want, got;
        if (!rz_td_check_reduced(t, op, c->nranks, cat, e, &want, &got) &&
            bad++ == 0) {
            CHECK(c, 0, "%s: element %zu = %g, want %g", what, e, got, want);
        }
    }
    CHECK(c, bad == 0, "%s: %ld wrong elements", what, bad);

    /* The same algorithm on one buffer: bitwise the same result. */
    int algo = comm->allreduce_algo;
    int used = rz_allreduce_choose(comm, total * es) == RZ_ALGO_RH
                   ? RZ_ALGO_RH : RZ_ALGO_RING;
    comm->allreduce_algo = used;
    st = rz_allreduce(ref, ref, total, t, op, c->comm);
    comm->allreduce_algo = algo;
    CHECK(c, st == RZ_OK && memcmp(ref, cat, total * es) == 0,
          "%s: differs from the %s allreduce of one buffer", what,
          used == RZ_ALGO_RH ? "rabenseifner" : "ring");

    uint64_t h = rz_td_hash(cat, total * es), *all = calloc(
                                                   (size_t)c->nranks, 8);
    st = rz_allgather(&h, all, 1, RZ_DTYPE_U64, c->comm);
    int same = st == RZ_OK;
    for (int r = 0; r < c->nranks; r++) {
        same &= all[r] == h;
    }
    CHECK(c, same, "%s: ranks differ", what);
    free(all);
    for (int i = 0; i < n; i++) {
        if (!inplace) {
            free(pieces[i].rbuf);
        }
        free((void *)pieces[i].sbuf);
    }
    free(cat);
    free(ref);
}

static void run_all(ctx_t *c)
{
    static const rz_dtype_t types[] = {RZ_DTYPE_F32, RZ_DTYPE_F64,
                                       RZ_DTYPE_F16, RZ_DTYPE_I32,
                                       RZ_DTYPE_U8};
    static const rz_op_t ops[] = {RZ_OP_SUM, RZ_OP_MAX, RZ_OP_AVG,
                                  RZ_OP_PROD};

    for (int l = 0; l < nlayouts; l++) {
        for (size_t ti = 0; ti < RZ_ARRAY_SIZE(types); ti++) {
            rz_op_t op = ops[(l + ti) % RZ_ARRAY_SIZE(ops)];
            if (op == RZ_OP_AVG && !rz_td_is_float(types[ti])) {
                op = RZ_OP_SUM;
            }
            run_case(c, types[ti], op, 1000 + (uint64_t)l, l & 1);
        }
    }
    /* Bad input. */
    CHECK(c, rz_allreduce_pieces(c->comm, NULL, 1, RZ_DTYPE_F32, RZ_OP_SUM) ==
                 RZ_ERR_INVALID_PARAM, "NULL pieces accepted");
}

int main(int argc, char **argv)
{
    int nthreads = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--layouts") == 0 && i + 1 < argc) {
            nlayouts = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--layouts N]\n",
                    argv[0]);
            return 2;
        }
    }
    return rz_tr_run("test_pieces", nthreads, run_all);
}
