/* Unit tests of the ring index maths (collectives/rz_ring.h): chunking
 * covers the vector exactly, reduce-scatter chains visit every rank once
 * and end at the owner, allgather delivers every chunk everywhere. */
#include "collectives/rz_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            if (failed < 20) {                                                 \
                printf("FAIL line %d: ", __LINE__);                            \
                printf(__VA_ARGS__);                                           \
                printf("\n");                                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

static void test_chunks(int K, size_t count)
{
    size_t next = 0;
    for (int c = 0; c < K; c++) {
        size_t n = rz_ring_chunk_count(count, K, c);
        CHECK(rz_ring_chunk_offset(count, K, c) == next,
              "K=%d count=%zu chunk %d offset", K, count, c);
        CHECK(n == count / (size_t)K || n == count / (size_t)K + 1,
              "balanced chunk");
        CHECK((n == count / (size_t)K + 1) == ((size_t)c < count % (size_t)K),
              "larger chunks come first (normative chunking)");
        next += n;
    }
    CHECK(next == count, "K=%d count=%zu chunks cover the vector", K, count);
}

static void test_reduce_scatter(int K)
{
    /* contributions[c] = bit set of ranks whose data chunk c holds, per
     * rank's local copy; simulate the message flow. */
    unsigned long long *held = calloc((size_t)K * (size_t)K, sizeof(*held));
    for (int r = 0; r < K; r++) {
        for (int c = 0; c < K; c++) {
            held[r * K + c] = 1ull << r;
        }
    }
    for (int s = 0; s < K - 1; s++) {
        unsigned long long *sent = calloc((size_t)K, sizeof(*sent));
        for (int r = 0; r < K; r++) {
            sent[r] = held[r * K + rz_ring_rs_send_chunk(r, s, K)];
        }
        for (int r = 0; r < K; r++) {
            int left = rz_ring_left(r, K);
            int rc = rz_ring_rs_recv_chunk(r, s, K);
            CHECK(rc == rz_ring_rs_send_chunk(left, s, K),
                  "K=%d step %d: rank %d receives what its left sends", K, s,
                  r);
            CHECK((held[r * K + rc] & sent[left]) == 0,
                  "no contribution counted twice");
            held[r * K + rc] |= sent[left];
        }
        free(sent);
    }
    unsigned long long all = (K == 64) ? ~0ull : ((1ull << K) - 1);
    for (int r = 0; r < K; r++) {
        CHECK(held[r * K + r] == all, "K=%d: rank %d owns its full chunk", K,
              r);
    }
    free(held);
}

static void test_allgather(int K)
{
    /* has[r][c]: rank r holds the final chunk c. Starts with c == r. */
    char *has = calloc((size_t)K * (size_t)K, 1);
    for (int r = 0; r < K; r++) {
        has[r * K + r] = 1;
    }
    for (int s = 0; s < K - 1; s++) {
        char *next = malloc((size_t)K * (size_t)K);
        memcpy(next, has, (size_t)K * (size_t)K);
        for (int r = 0; r < K; r++) {
            int left = rz_ring_left(r, K);
            int sc = rz_ring_ag_send_chunk(left, s, K);
            CHECK(has[left * K + sc], "K=%d step %d: left sends a chunk it has",
                  K, s);
            CHECK(sc == rz_ring_ag_recv_chunk(r, s, K), "recv matches send");
            next[r * K + sc] = 1;
        }
        free(has);
        has = next;
    }
    int full = 1;
    for (int i = 0; i < K * K; i++) {
        full &= has[i];
    }
    CHECK(full, "K=%d: every rank has every chunk", K);
    free(has);
}

int main(void)
{
    CHECK(rz_ring_mod(-1, 5) == 4 && rz_ring_mod(-11, 5) == 4 &&
          rz_ring_mod(7, 5) == 2, "mod");
    CHECK(rz_ring_left(0, 3) == 2 && rz_ring_right(2, 3) == 0, "neighbours");
    for (int K = 1; K <= 17; K++) {
        static const size_t counts[] = {0, 1, 2, 3, 7, 16, 1000, 65537,
                                        1048579};
        for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++) {
            test_chunks(K, counts[i]);
        }
        test_reduce_scatter(K);
        test_allgather(K);
    }
    test_reduce_scatter(64);
    printf("test_ring: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
