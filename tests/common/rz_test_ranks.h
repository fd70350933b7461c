/*
 * Ranks for multi-rank tests: threads of this process (each joins through
 * rz_get_unique_id()/rz_comm_init_rank()) or processes started by rzrun
 * (rz_comm_init_env()), each with a communicator and pass/fail counters.
 *
 *   static void body(rz_tr_t *t) { RZ_TR_CHECK(t, x == y, "x %d", x); }
 *   return rz_tr_run("test_x", nthreads, body);   (nthreads 0: processes)
 */
#ifndef RZ_TEST_RANKS_H
#define RZ_TEST_RANKS_H

#include <ringzip/ringzip.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    rz_comm_h comm;
    int       rank;
    int       nranks;
    long      passed;
    long      failed;
    int       reported;   /* failures printed (the first 20 are) */
} rz_tr_t;

#define RZ_TR_CHECK(t, cond, ...)                                              \
    do {                                                                       \
        if (cond) {                                                            \
            (t)->passed++;                                                     \
        } else {                                                               \
            (t)->failed++;                                                     \
            if ((t)->reported++ < 20) {                                        \
                printf("rank %d FAIL %s:%d: ", (t)->rank, __FILE__, __LINE__); \
                printf(__VA_ARGS__);                                           \
                printf("\n");                                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

typedef void (*rz_tr_body_t)(rz_tr_t *t);

typedef struct {
    rz_tr_t        t;
    int            nthreads;
    rz_unique_id_t id;
    pthread_t      thread;
    rz_tr_body_t   body;
} rz_tr_thread_t;

static void *rz_tr_thread_main(void *p)
{
    rz_tr_thread_t *a = p;
    rz_status_t st = rz_comm_init_rank(&a->t.comm, a->nthreads, &a->id,
                                       a->t.rank);

    if (st != RZ_OK) {
        printf("rank %d: rz_comm_init_rank: %s\n", a->t.rank,
               rz_status_string(st));
        a->t.failed++;
        return NULL;
    }
    a->t.nranks = a->nthreads;
    a->body(&a->t);
    rz_comm_destroy(a->t.comm);
    return NULL;
}

/* Run @body on every rank; print a summary; return the exit status. */
static inline int rz_tr_run(const char *name, int nthreads, rz_tr_body_t body)
{
    long passed = 0, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (nthreads > 0) {
        rz_tr_thread_t *args = calloc((size_t)nthreads, sizeof(*args));
        rz_unique_id_t id;
        if (args == NULL || rz_get_unique_id(&id) != RZ_OK) {
            printf("%s: cannot start %d ranks\n", name, nthreads);
            free(args);
            return 1;
        }
        for (int r = 0; r < nthreads; r++) {
            args[r].t.rank = r;
            args[r].nthreads = nthreads;
            args[r].id = id;
            args[r].body = body;
            pthread_create(&args[r].thread, NULL, rz_tr_thread_main, &args[r]);
        }
        for (int r = 0; r < nthreads; r++) {
            pthread_join(args[r].thread, NULL);
            passed += args[r].t.passed;
            failed += args[r].t.failed;
        }
        free(args);
        printf("%s (%d threads): %ld passed, %ld failed\n", name, nthreads,
               passed, failed);
        return failed ? 1 : 0;
    }
    rz_tr_t t = {0};
    rz_status_t st = rz_comm_init_env(&t.comm);
    if (st != RZ_OK) {
        printf("%s: rz_comm_init_env: %s\n", name, rz_status_string(st));
        return 1;
    }
    rz_comm_rank(t.comm, &t.rank);
    rz_comm_size(t.comm, &t.nranks);
    body(&t);
    rz_comm_destroy(t.comm);
    printf("%s rank %d of %d: %ld passed, %ld failed\n", name, t.rank,
           t.nranks, t.passed, t.failed);
    return t.failed ? 1 : 0;
}

#endif
