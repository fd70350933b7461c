/*
 * Fault and bad-input tests.
 *
 *   test_fault kill VICTIM ITER   (via rzrun) VICTIM SIGKILLs itself at
 *        iteration ITER of an allreduce loop; every survivor must get an
 *        error within RZ_TIMEOUT_MS + 2 s and prints "survivor-ok".
 *   test_fault stall VICTIM ITER  as kill, but VICTIM stops calling the
 *        collective (alive, silent) until well past RZ_TIMEOUT_MS.
 *   test_fault mismatch           (via rzrun, np >= 2) rank 1 passes a
 *        different count, then a different dtype of equal size; every rank
 *        must get an error, never a result.
 *   test_fault badargs            (via rzrun) invalid arguments.
 *   test_fault createdeath VICTIM (via rzrun, np >= 2) the ranks create a
 *        second communicator through rz_comm_init_oob() over the first;
 *        VICTIM exits inside the last allgather of the bootstrap, so the
 *        others reach the transport warm-up that ends creation without it:
 *        their creation must fail within RZ_TIMEOUT_MS + 2 s, not hang.
 *   test_fault bootstrap          (alone) wrong session key, wrong size,
 *        duplicate rank, unreachable root, using threads as ranks.
 */
#include <ringzip/ringzip.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed, failed, my_rank = -1;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            printf("rank %d FAIL line %d: ", my_rank, __LINE__);               \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int finish(const char *name)
{
    printf("test_fault %s rank %d: %d passed, %d failed\n", name, my_rank,
           passed, failed);
    return failed != 0;
}

static rz_comm_h init_env(void)
{
    rz_comm_h comm;
    rz_status_t st = rz_comm_init_env(&comm);
    if (st != RZ_OK) {
        printf("rz_comm_init_env: %s\n", rz_status_string(st));
        exit(1);
    }
    rz_comm_rank(comm, &my_rank);
    return comm;
}

/* @stall: the victim stops calling collectives instead of dying, so only
 * the RZ_TIMEOUT_MS deadline can save the survivors. */
static int mode_kill(int victim, int kill_at, int stall)
{
    rz_comm_h comm = init_env();
    const char *t = getenv("RZ_TIMEOUT_MS");
    double timeout = t ? atof(t) : 60000;
    size_t n = 65536;
    float *buf = malloc(n * sizeof(float));
    double last_ok = now_ms();
    rz_status_t st = RZ_OK;

    for (int it = 0; it < 100000; it++) {
        if (my_rank == victim && it == kill_at && stall) {
            printf("rank %d: stalling without calling allreduce\n", my_rank);
            fflush(stdout);
            usleep((useconds_t)(timeout + 4000) * 1000);
            exit(3);
        }
        if (my_rank == victim && it == kill_at) {
            printf("rank %d: killing myself with SIGKILL\n", my_rank);
            fflush(stdout);
            raise(SIGKILL);
        }
        for (size_t i = 0; i < n; i++) {
            buf[i] = 1.0f;
        }
        st = rz_allreduce(buf, buf, n, RZ_DTYPE_F32, RZ_OP_SUM, comm);
        if (st != RZ_OK) {
            break;
        }
        last_ok = now_ms();
    }
    double waited = now_ms() - last_ok;
    printf("rank %d: allreduce failed with '%s' %.0f ms after the last "
           "success\n", my_rank, rz_status_string(st), waited);
    CHECK(st != RZ_OK, "a survivor must see an error");
    CHECK(waited <= timeout + 2000, "error after %.0f ms > timeout %.0f + 2000",
          waited, timeout);
    /* Later calls fail fast instead of hanging. */
    double t0 = now_ms();
    rz_status_t st2 = rz_allreduce(buf, buf, n, RZ_DTYPE_F32, RZ_OP_SUM, comm);
    CHECK(st2 != RZ_OK && now_ms() - t0 < 1000, "aborted comm fails fast");
    CHECK(rz_comm_destroy(comm) == RZ_OK, "destroy after failure");
    free(buf);
    if (failed == 0) {
        printf("rank %d: survivor-ok\n", my_rank);
    }
    return finish("kill");
}

typedef struct {
    rz_comm_h comm;
    int       calls;
    int       die_after;   /* exit after this many allgathers; 0: never */
} oob_ctx_t;

static int oob_allgather(const void *sendbuf, void *recvbuf, size_t size,
                         void *info)
{
    oob_ctx_t *ctx = info;
    rz_status_t st = rz_allgather(sendbuf, recvbuf, size, RZ_DTYPE_U8,
                                  ctx->comm);

    if (++ctx->calls == ctx->die_after) {
        printf("rank %d: exiting inside bootstrap allgather %d\n", my_rank,
               ctx->calls);
        fflush(stdout);
        _exit(0);
    }
    return st == RZ_OK ? 0 : -1;
}

static int mode_createdeath(int victim)
{
    rz_comm_h comm = init_env(), comm2 = NULL;
    const char *t = getenv("RZ_TIMEOUT_MS");
    double timeout = t ? atof(t) : 60000;
    int nranks;

    rz_comm_size(comm, &nranks);
    /* rz_comm_init_oob() makes two allgather calls: lengths, then cards */
    oob_ctx_t ctx = {.comm = comm, .die_after = my_rank == victim ? 2 : 0};
    rz_oob_t oob = {.allgather = oob_allgather, .coll_info = &ctx,
                    .rank = my_rank, .nranks = nranks};
    double t0 = now_ms();
    rz_status_t st = rz_comm_init_oob(&comm2, &oob);
    double took = now_ms() - t0;
    printf("rank %d: creation without rank %d returned '%s' after %.0f ms\n",
           my_rank, victim, rz_status_string(st), took);
    CHECK(ctx.calls == 2, "both bootstrap allgathers ran (%d)", ctx.calls);
    CHECK(st != RZ_OK, "creation must fail when a rank dies during it");
    CHECK(comm2 == NULL, "no communicator is returned on failure");
    CHECK(took <= timeout + 2000, "failed after %.0f ms > timeout %.0f + 2000",
          took, timeout);
    rz_comm_destroy(comm);
    return finish("createdeath");
}

static int mode_mismatch(void)
{
    rz_comm_h comm = init_env();
    size_t n = 1000 + (my_rank == 1);
    float *buf = calloc(2000, sizeof(float));
    for (size_t i = 0; i < 2000; i++) {
        buf[i] = 1.0f;
    }
    double t0 = now_ms();
    rz_status_t st = rz_allreduce(buf, buf, n, RZ_DTYPE_F32, RZ_OP_SUM, comm);
    printf("rank %d: count mismatch -> '%s' after %.0f ms\n", my_rank,
           rz_status_string(st), now_ms() - t0);
    CHECK(st != RZ_OK, "count mismatch must fail on every rank");
    CHECK(rz_comm_destroy(comm) == RZ_OK, "destroy");

    /* Same byte size, different type: only the signature tells. */
    comm = init_env();
    t0 = now_ms();
    st = rz_allreduce(buf, buf, 1000, my_rank == 1 ? RZ_DTYPE_I32
                                                   : RZ_DTYPE_F32,
                      RZ_OP_SUM, comm);
    printf("rank %d: dtype mismatch -> '%s' after %.0f ms\n", my_rank,
           rz_status_string(st), now_ms() - t0);
    CHECK(st != RZ_OK, "dtype mismatch must fail on every rank");
    CHECK(st == RZ_ERR_MISMATCH || st == RZ_ERR_PEER_FAILURE ||
          st == RZ_ERR_TIMEOUT || st == RZ_ERR_ABORTED,
          "an error that says what happened: %s", rz_status_string(st));
    rz_comm_destroy(comm);
    free(buf);
    return finish("mismatch");
}

static int mode_badargs(void)
{
    rz_comm_h comm = init_env();
    float x[8] = {0}, y[8] = {0};
    rz_request_h req = NULL;

    CHECK(rz_allreduce(NULL, y, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "NULL sendbuf");
    CHECK(rz_allreduce(x, NULL, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "NULL recvbuf");
    CHECK(rz_allreduce(NULL, NULL, 0, RZ_DTYPE_F32, RZ_OP_SUM, comm) == RZ_OK,
          "count 0 with NULL buffers is a no-op");
    CHECK(rz_allreduce(x, y, 4, (rz_dtype_t)99, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "unknown dtype");
    CHECK(rz_allreduce(x, y, 4, (rz_dtype_t)-1, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "negative dtype");
    CHECK(rz_allreduce(x, y, 4, RZ_DTYPE_F32, (rz_op_t)17, comm) ==
          RZ_ERR_INVALID_PARAM, "unknown op");
    CHECK(rz_allreduce(x, y, 4, RZ_DTYPE_I32, RZ_OP_AVG, comm) ==
          RZ_ERR_NOT_SUPPORTED, "avg on integers");
    CHECK(rz_allreduce(x, y, (size_t)-1 / 2, RZ_DTYPE_F32, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "huge count");
    CHECK(rz_allreduce(x, x + 1, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "partially overlapping buffers");
    CHECK(rz_allreduce(x, y, 4, RZ_DTYPE_F32, RZ_OP_SUM, NULL) ==
          RZ_ERR_INVALID_PARAM, "NULL comm");
    CHECK(rz_allreduce(x, y, 4, RZ_DTYPE_F32, RZ_OP_SUM, (rz_comm_h)x) ==
          RZ_ERR_INVALID_PARAM, "garbage comm");
    CHECK(rz_iallreduce(x, y, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm, NULL) ==
          RZ_ERR_INVALID_PARAM, "NULL request pointer");
    CHECK(rz_broadcast(x, y, 4, RZ_DTYPE_F32, 12345, comm) ==
          RZ_ERR_INVALID_PARAM, "root out of range");
    CHECK(rz_reduce_scatter(NULL, y, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm) ==
          RZ_ERR_INVALID_PARAM, "reduce_scatter NULL");
    CHECK(rz_allgather(x, NULL, 4, RZ_DTYPE_F32, comm) ==
          RZ_ERR_INVALID_PARAM, "allgather NULL");
    CHECK(rz_barrier(NULL) == RZ_ERR_INVALID_PARAM, "barrier NULL comm");
    CHECK(rz_wait(NULL) == RZ_ERR_INVALID_PARAM, "wait NULL");
    CHECK(rz_test(&req) == RZ_ERR_INVALID_PARAM, "test on a NULL handle");
    CHECK(rz_comm_rank(NULL, &my_rank) == RZ_ERR_INVALID_PARAM, "rank NULL");
    CHECK(rz_comm_size(comm, NULL) == RZ_ERR_INVALID_PARAM, "size NULL out");
    CHECK(rz_comm_init_rank(NULL, 2, NULL, 0) == RZ_ERR_INVALID_PARAM,
          "init_rank NULL");
    CHECK(rz_comm_init_oob(NULL, NULL) == RZ_ERR_INVALID_PARAM,
          "init_oob NULL");
    CHECK(rz_get_unique_id(NULL) == RZ_ERR_INVALID_PARAM, "unique id NULL");
    CHECK(rz_comm_destroy(NULL) == RZ_OK, "destroy NULL is a no-op");
    CHECK(rz_check_version(RZ_API_VERSION) == RZ_OK, "version check");
    CHECK(rz_check_version(RZ_API_VERSION + (1u << 16)) ==
          RZ_ERR_NOT_SUPPORTED, "newer major refused");
    /* After all those refusals the communicator still works. */
    for (int i = 0; i < 8; i++) {
        x[i] = 1.0f;
    }
    int size;
    rz_comm_size(comm, &size);
    CHECK(rz_allreduce(x, y, 8, RZ_DTYPE_F32, RZ_OP_SUM, comm) == RZ_OK &&
          y[7] == (float)size, "comm healthy after bad calls");
    rz_comm_destroy(comm);
    return finish("badargs");
}

typedef struct {
    rz_unique_id_t id;
    int rank, nranks;
    rz_status_t status;
    rz_comm_h comm;
    pthread_t thread;
} join_t;

static void *join_main(void *p)
{
    join_t *j = p;
    j->status = rz_comm_init_rank(&j->comm, j->nranks, &j->id, j->rank);
    return NULL;
}

static void join_start(join_t *j, const rz_unique_id_t *id, int rank,
                       int nranks)
{
    j->id = *id;
    j->rank = rank;
    j->nranks = nranks;
    j->comm = NULL;
    pthread_create(&j->thread, NULL, join_main, j);
}

static rz_status_t join_end(join_t *j)
{
    pthread_join(j->thread, NULL);
    return j->status;
}

static void allreduce_pair(join_t *a, join_t *b)
{
    /* A healthy pair must be able to talk: run one allreduce each. */
    float x = 1.0f, y = 0.0f, u = 2.0f, v = 0.0f;
    rz_request_h ra, rb;
    CHECK(rz_iallreduce(&x, &y, 1, RZ_DTYPE_F32, RZ_OP_SUM, a->comm, &ra) ==
          RZ_OK, "iallreduce a");
    CHECK(rz_iallreduce(&u, &v, 1, RZ_DTYPE_F32, RZ_OP_SUM, b->comm, &rb) ==
          RZ_OK, "iallreduce b");
    rz_status_t sa = RZ_INPROGRESS, sb = RZ_INPROGRESS;
    while (sa == RZ_INPROGRESS || sb == RZ_INPROGRESS) {
        if (sa == RZ_INPROGRESS) sa = rz_test(&ra);
        if (sb == RZ_INPROGRESS) sb = rz_test(&rb);
    }
    CHECK(sa == RZ_OK && sb == RZ_OK && y == 3.0f && v == 3.0f,
          "pair allreduce works");
}

static int mode_bootstrap(void)
{
    rz_unique_id_t id;
    join_t a, b, c, d;

    /* 1. wrong session key: refused and logged; the right rank then joins */
    CHECK(rz_get_unique_id(&id) == RZ_OK, "unique id");
    join_start(&a, &id, 0, 2);
    rz_unique_id_t bad = id;
    for (int i = 8; i < 24; i++) {
        bad.internal[i] ^= 0x5a;   /* the key bytes */
    }
    join_start(&b, &bad, 1, 2);
    CHECK(join_end(&b) == RZ_ERR_AUTH, "wrong key refused: %s",
          rz_status_string(b.status));
    join_start(&c, &id, 1, 2);
    CHECK(join_end(&a) == RZ_OK && join_end(&c) == RZ_OK,
          "right key admitted after the refusal");
    if (a.status == RZ_OK && c.status == RZ_OK) {
        allreduce_pair(&a, &c);
    }
    rz_comm_destroy(a.comm);
    rz_comm_destroy(c.comm);

    /* 2. wrong size */
    CHECK(rz_get_unique_id(&id) == RZ_OK, "unique id");
    join_start(&a, &id, 0, 2);
    usleep(1000000); /* let the first joiners reach the root first */
    join_start(&b, &id, 1, 3);
    CHECK(join_end(&b) == RZ_ERR_BOOTSTRAP, "wrong size refused: %s",
          rz_status_string(b.status));
    join_start(&c, &id, 1, 2);
    CHECK(join_end(&a) == RZ_OK && join_end(&c) == RZ_OK, "right size joins");
    rz_comm_destroy(a.comm);
    rz_comm_destroy(c.comm);

    /* 3. duplicate rank */
    CHECK(rz_get_unique_id(&id) == RZ_OK, "unique id");
    join_start(&a, &id, 0, 3);
    join_start(&b, &id, 1, 3);
    usleep(1000000); /* let the first joiners reach the root first */
    join_start(&c, &id, 1, 3);
    CHECK(join_end(&c) == RZ_ERR_BOOTSTRAP, "duplicate rank refused: %s",
          rz_status_string(c.status));
    join_start(&d, &id, 2, 3);
    CHECK(join_end(&a) == RZ_OK && join_end(&b) == RZ_OK &&
          join_end(&d) == RZ_OK, "the job completes without the duplicate");
    rz_comm_destroy(a.comm);
    rz_comm_destroy(b.comm);
    rz_comm_destroy(d.comm);

    /* 4. unreachable root (environment path; port 1 is closed) */
    setenv("RZ_RANK", "1", 1);
    setenv("RZ_SIZE", "2", 1);
    setenv("RZ_ROOT_ADDR", "127.0.0.1:1", 1);
    double t0 = now_ms();
    rz_comm_h comm;
    rz_status_t st = rz_comm_init_env(&comm);
    double took = now_ms() - t0;
    CHECK(st == RZ_ERR_BOOTSTRAP, "unreachable root: %s",
          rz_status_string(st));
    CHECK(took < 3000 + 2500, "gave up after %.0f ms", took);

    /* 5. no rank in the environment */
    unsetenv("RZ_RANK");
    unsetenv("RZ_SIZE");
    CHECK(rz_comm_init_env(&comm) == RZ_ERR_INVALID_PARAM, "no rank in env");
    return finish("bootstrap");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "bootstrap") == 0) {
        /* before the library reads its configuration */
        setenv("RZ_BOOTSTRAP_TIMEOUT_MS", "3000", 1);
        return mode_bootstrap();
    }
    if (argc >= 4 && strcmp(argv[1], "kill") == 0) {
        return mode_kill(atoi(argv[2]), atoi(argv[3]), 0);
    }
    if (argc >= 4 && strcmp(argv[1], "stall") == 0) {
        return mode_kill(atoi(argv[2]), atoi(argv[3]), 1);
    }
    if (argc >= 3 && strcmp(argv[1], "createdeath") == 0) {
        return mode_createdeath(atoi(argv[2]));
    }
    if (argc >= 2 && strcmp(argv[1], "mismatch") == 0) {
        return mode_mismatch();
    }
    if (argc >= 2 && strcmp(argv[1], "badargs") == 0) {
        return mode_badargs();
    }
    fprintf(stderr, "usage: %s kill VICTIM ITER | stall VICTIM ITER | "
            "createdeath VICTIM | mismatch | badargs | bootstrap\n", argv[0]);
    return 2;
}
