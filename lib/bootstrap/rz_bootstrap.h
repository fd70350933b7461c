/*
 * Rendezvous through a TCP root: each rank sends (key, rank, nranks,
 * payload); once all nranks ranks have joined, the root sends everyone the
 * table of payloads. The payload is the rank's UCX worker address and host
 * name, so after this exchange the bootstrap is done.
 */
#ifndef RZ_BOOTSTRAP_H
#define RZ_BOOTSTRAP_H

#include "bootstrap/rz_socket.h"
#include <ringzip/comm.h>

#define RZ_BOOTSTRAP_KEY_BYTES 16
#define RZ_BOOTSTRAP_MAX_PAYLOAD 65536

/* The layout behind rz_unique_id_t. */
typedef struct {
    uint32_t      magic;
    uint32_t      version;
    uint8_t       key[RZ_BOOTSTRAP_KEY_BYTES];
    rz_sockaddr_t root;
} rz_bootstrap_id_t;

_Static_assert(sizeof(rz_bootstrap_id_t) <= RZ_UNIQUE_ID_BYTES,
               "bootstrap id must fit in rz_unique_id_t");

typedef struct rz_bootstrap_root *rz_bootstrap_root_h;

/*
 * Start the root on @listen_addr (port 0 picks one) in a background thread
 * that gives up at now + @timeout_ms. With @detached the thread cleans up
 * after itself; else rz_bootstrap_root_join() must be called.
 */
rz_status_t rz_bootstrap_root_start(const rz_sockaddr_t *listen_addr,
                                    const uint8_t *key, uint64_t timeout_ms,
                                    int detached, rz_bootstrap_root_h *root_p,
                                    rz_sockaddr_t *bound_p);
void rz_bootstrap_root_join(rz_bootstrap_root_h root);

/*
 * Join: returns the payload table (nranks entries of *stride_p bytes, rank
 * order; entries shorter than the stride are zero-padded, their true length
 * is in *lens_p[r]). Free both with free().
 */
rz_status_t rz_bootstrap_exchange(const rz_sockaddr_t *root,
                                  const uint8_t *key, int rank, int nranks,
                                  const void *payload, size_t len,
                                  uint64_t timeout_ms, void **table_p,
                                  size_t *stride_p, uint32_t **lens_p);

/* Fill a key with random bytes. */
rz_status_t rz_bootstrap_random_key(uint8_t *key);
/* Parse 32 hex digits into a key. */
rz_status_t rz_bootstrap_parse_key(const char *hex, uint8_t *key);

#endif
