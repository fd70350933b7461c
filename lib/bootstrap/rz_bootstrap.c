#include "bootstrap/rz_bootstrap.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define RZ_BOOTSTRAP_MAGIC   0x525a4253u /* "RZBS" */
#define RZ_BOOTSTRAP_VERSION 1u
/* A joiner that connected must say hello within this time. */
#define RZ_BOOTSTRAP_HELLO_MS 5000

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint8_t  key[RZ_BOOTSTRAP_KEY_BYTES];
    int32_t  rank;
    int32_t  nranks;
    uint32_t payload_len;
    uint32_t reserved;
} rz_bootstrap_hello_t;

typedef struct {
    int32_t  status;        /* rz_status_t */
    uint32_t nranks;
    uint32_t stride;
    char     message[116];  /* why, when status != RZ_OK */
} rz_bootstrap_reply_t;

struct rz_bootstrap_root {
    pthread_t thread;
    int       listen_fd;
    int       detached;
    uint8_t   key[RZ_BOOTSTRAP_KEY_BYTES];
    uint64_t  deadline_ms;
    char      where[80];
};

rz_status_t rz_bootstrap_random_key(uint8_t *key)
{
    if (getrandom(key, RZ_BOOTSTRAP_KEY_BYTES, 0) != RZ_BOOTSTRAP_KEY_BYTES) {
        RZ_LOG_ERROR("getrandom(): %m");
        return RZ_ERR_IO;
    }
    return RZ_OK;
}

rz_status_t rz_bootstrap_parse_key(const char *hex, uint8_t *key)
{
    if (strlen(hex) != 2 * RZ_BOOTSTRAP_KEY_BYTES) {
        return RZ_ERR_INVALID_PARAM;
    }
    for (int i = 0; i < RZ_BOOTSTRAP_KEY_BYTES; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return RZ_ERR_INVALID_PARAM;
        }
        key[i] = (uint8_t)v;
    }
    return RZ_OK;
}

static void rz_bootstrap_refuse(int fd, rz_status_t status, const char *fmt,
                                ...) __attribute__((format(printf, 3, 4)));

static void rz_bootstrap_refuse(int fd, rz_status_t status, const char *fmt,
                                ...)
{
    rz_bootstrap_reply_t reply = {.status = status};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reply.message, sizeof(reply.message), fmt, ap);
    va_end(ap);
    rz_socket_send(fd, &reply, sizeof(reply), rz_time_ms() + 1000);
}

static void *rz_bootstrap_root_main(void *arg)
{
    struct rz_bootstrap_root *root = arg;
    int nranks = -1, joined = 0;
    int *fds = NULL;
    uint32_t *lens = NULL;
    char **payloads = NULL;
    char peer_text[80];

    while (nranks < 0 || joined < nranks) {
        rz_sockaddr_t peer;
        rz_bootstrap_hello_t hello;
        int fd;

        rz_status_t status = rz_socket_accept(root->listen_fd,
                                              root->deadline_ms, &fd, &peer);
        if (status == RZ_ERR_TIMEOUT) {
            break;
        } else if (status != RZ_OK) {
            continue;
        }
        rz_sockaddr_str(&peer, peer_text, sizeof(peer_text));
        uint64_t hello_deadline = RZ_MIN(rz_time_ms() + RZ_BOOTSTRAP_HELLO_MS,
                                         root->deadline_ms);
        if (rz_socket_recv(fd, &hello, sizeof(hello), hello_deadline) != RZ_OK
            || hello.magic != RZ_BOOTSTRAP_MAGIC ||
            hello.version != RZ_BOOTSTRAP_VERSION) {
            RZ_LOG_WARN("bootstrap root %s: dropped a connection from %s that "
                        "did not speak the ringzip bootstrap protocol",
                        root->where, peer_text);
            close(fd);
            continue;
        }
        if (memcmp(hello.key, root->key, RZ_BOOTSTRAP_KEY_BYTES) != 0) {
            RZ_LOG_WARN("bootstrap root %s: refused rank %d from %s: wrong "
                        "session key", root->where, hello.rank, peer_text);
            rz_bootstrap_refuse(fd, RZ_ERR_AUTH, "wrong session key");
            close(fd);
            continue;
        }
        if (nranks < 0 && hello.nranks >= 1) {
            nranks = hello.nranks;
            fds = malloc(sizeof(*fds) * (size_t)nranks);
            lens = calloc((size_t)nranks, sizeof(*lens));
            payloads = calloc((size_t)nranks, sizeof(*payloads));
            if (fds == NULL || lens == NULL || payloads == NULL) {
                RZ_LOG_ERROR("bootstrap root: out of memory for %d ranks",
                             nranks);
                rz_bootstrap_refuse(fd, RZ_ERR_NO_MEMORY, "root out of memory");
                close(fd);
                nranks = -1;
                break;
            }
            for (int i = 0; i < nranks; i++) {
                fds[i] = -1;
            }
        }
        if (hello.nranks != nranks) {
            RZ_LOG_ERROR("bootstrap root %s: refused rank %d from %s: it says "
                         "the job has %d ranks, earlier ranks said %d",
                         root->where, hello.rank, peer_text, hello.nranks,
                         nranks);
            rz_bootstrap_refuse(fd, RZ_ERR_BOOTSTRAP,
                                "wrong size: this rank says %d ranks, the "
                                "others said %d", hello.nranks, nranks);
            close(fd);
            continue;
        }
        if (hello.rank < 0 || hello.rank >= nranks ||
            hello.payload_len > RZ_BOOTSTRAP_MAX_PAYLOAD) {
            rz_bootstrap_refuse(fd, RZ_ERR_BOOTSTRAP, "rank %d out of range",
                                hello.rank);
            close(fd);
            continue;
        }
        if (fds[hello.rank] >= 0) {
            RZ_LOG_ERROR("bootstrap root %s: refused rank %d from %s: "
                         "duplicate rank (already joined)", root->where,
                         hello.rank, peer_text);
            rz_bootstrap_refuse(fd, RZ_ERR_BOOTSTRAP,
                                "duplicate rank %d: another process already "
                                "joined as this rank", hello.rank);
            close(fd);
            continue;
        }
        char *payload = malloc(hello.payload_len + 1);
        if (payload == NULL ||
            rz_socket_recv(fd, payload, hello.payload_len, hello_deadline)
            != RZ_OK) {
            free(payload);
            close(fd);
            continue;
        }
        fds[hello.rank] = fd;
        lens[hello.rank] = hello.payload_len;
        payloads[hello.rank] = payload;
        joined++;
        RZ_LOG_DEBUG("bootstrap root %s: rank %d joined from %s (%d/%d)",
                     root->where, hello.rank, peer_text, joined, nranks);
    }

    if (nranks > 0 && joined == nranks) {
        uint32_t stride = 0;
        for (int i = 0; i < nranks; i++) {
            stride = RZ_MAX(stride, lens[i]);
        }
        char *table = calloc((size_t)nranks, stride);
        if (table != NULL) {
            for (int i = 0; i < nranks; i++) {
                memcpy(table + (size_t)i * stride, payloads[i], lens[i]);
            }
        }
        rz_bootstrap_reply_t reply = {.status = RZ_OK, .nranks = (uint32_t)nranks,
                                      .stride = stride};
        if (table == NULL) {
            reply.status = RZ_ERR_NO_MEMORY;
            snprintf(reply.message, sizeof(reply.message), "root out of memory");
        }
        for (int i = 0; i < nranks; i++) {
            uint64_t dl = rz_time_ms() + 5000;
            if (rz_socket_send(fds[i], &reply, sizeof(reply), dl) != RZ_OK ||
                (table != NULL &&
                 (rz_socket_send(fds[i], lens, sizeof(*lens) * (size_t)nranks,
                                 dl) != RZ_OK ||
                  rz_socket_send(fds[i], table, (size_t)nranks * stride, dl)
                  != RZ_OK))) {
                RZ_LOG_WARN("bootstrap root: could not send the table to "
                            "rank %d", i);
            }
        }
        free(table);
    } else if (nranks > 0) {
        char missing[64] = "";
        size_t off = 0;
        for (int i = 0; i < nranks && off < sizeof(missing) - 8; i++) {
            if (fds[i] < 0) {
                off += (size_t)snprintf(missing + off, sizeof(missing) - off,
                                        "%s%d", off ? "," : "", i);
            }
        }
        RZ_LOG_ERROR("bootstrap root %s: timed out with %d of %d ranks joined "
                     "(missing %s)", root->where, joined, nranks, missing);
        for (int i = 0; i < nranks; i++) {
            if (fds[i] >= 0) {
                rz_bootstrap_refuse(fds[i], RZ_ERR_TIMEOUT,
                                    "only %d of %d ranks joined in time "
                                    "(missing %s)", joined, nranks, missing);
            }
        }
    }
    for (int i = 0; i < nranks; i++) {
        if (fds != NULL && fds[i] >= 0) {
            close(fds[i]);
        }
        if (payloads != NULL) {
            free(payloads[i]);
        }
    }
    free(fds);
    free(lens);
    free(payloads);
    close(root->listen_fd);
    if (root->detached) {
        free(root);
    }
    return NULL;
}

rz_status_t rz_bootstrap_root_start(const rz_sockaddr_t *listen_addr,
                                    const uint8_t *key, uint64_t timeout_ms,
                                    int detached, rz_bootstrap_root_h *root_p,
                                    rz_sockaddr_t *bound_p)
{
    struct rz_bootstrap_root *root = calloc(1, sizeof(*root));
    rz_status_t status;
    pthread_attr_t attr;

    if (root == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    RZ_CHECK_GOTO(rz_socket_listen(listen_addr, &root->listen_fd, bound_p),
                  err_free, status);
    memcpy(root->key, key, RZ_BOOTSTRAP_KEY_BYTES);
    root->deadline_ms = rz_time_ms() + timeout_ms;
    root->detached = detached;
    rz_sockaddr_str(bound_p, root->where, sizeof(root->where));
    pthread_attr_init(&attr);
    if (detached) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    }
    if (pthread_create(&root->thread, &attr, rz_bootstrap_root_main, root)
        != 0) {
        pthread_attr_destroy(&attr);
        RZ_LOG_ERROR("cannot start the bootstrap root thread");
        status = RZ_ERR_IO;
        goto err_close;
    }
    pthread_attr_destroy(&attr);
    if (root_p != NULL) {
        *root_p = detached ? NULL : root;
    }
    return RZ_OK;

err_close:
    close(root->listen_fd);
err_free:
    free(root);
    return status;
}

void rz_bootstrap_root_join(rz_bootstrap_root_h root)
{
    if (root != NULL) {
        pthread_join(root->thread, NULL);
        free(root);
    }
}

rz_status_t rz_bootstrap_exchange(const rz_sockaddr_t *root,
                                  const uint8_t *key, int rank, int nranks,
                                  const void *payload, size_t len,
                                  uint64_t timeout_ms, void **table_p,
                                  size_t *stride_p, uint32_t **lens_p)
{
    /* Outlast the root's own deadline so its explanation reaches us. */
    uint64_t deadline = rz_time_ms() + timeout_ms + 2000;
    rz_bootstrap_hello_t hello = {
        .magic = RZ_BOOTSTRAP_MAGIC, .version = RZ_BOOTSTRAP_VERSION,
        .rank = rank, .nranks = nranks, .payload_len = (uint32_t)len};
    rz_bootstrap_reply_t reply;
    char where[80];
    rz_status_t status;
    int fd;

    if (len > RZ_BOOTSTRAP_MAX_PAYLOAD) {
        return RZ_ERR_INVALID_PARAM;
    }
    rz_sockaddr_str(root, where, sizeof(where));
    memcpy(hello.key, key, RZ_BOOTSTRAP_KEY_BYTES);
    status = rz_socket_connect(root, rz_time_ms() + timeout_ms, &fd);
    if (status != RZ_OK) {
        return status;
    }
    if (rz_socket_send(fd, &hello, sizeof(hello), deadline) != RZ_OK ||
        rz_socket_send(fd, payload, len, deadline) != RZ_OK) {
        RZ_LOG_ERROR("rank %d: lost the connection to bootstrap root %s",
                     rank, where);
        status = RZ_ERR_BOOTSTRAP;
        goto out_close;
    }
    status = rz_socket_recv(fd, &reply, sizeof(reply), deadline);
    if (status != RZ_OK) {
        RZ_LOG_ERROR("rank %d: no answer from bootstrap root %s (%s)", rank,
                     where, status == RZ_ERR_TIMEOUT ? "timed out"
                                                     : "connection closed");
        status = RZ_ERR_BOOTSTRAP;
        goto out_close;
    }
    if (reply.status != RZ_OK) {
        reply.message[sizeof(reply.message) - 1] = '\0';
        RZ_LOG_ERROR("rank %d: bootstrap root %s refused to admit us: %s",
                     rank, where, reply.message);
        status = (reply.status == RZ_ERR_AUTH) ? RZ_ERR_AUTH
                                               : RZ_ERR_BOOTSTRAP;
        goto out_close;
    }
    if ((int)reply.nranks != nranks || reply.stride > RZ_BOOTSTRAP_MAX_PAYLOAD) {
        RZ_LOG_ERROR("rank %d: malformed table from bootstrap root %s", rank,
                     where);
        status = RZ_ERR_BOOTSTRAP;
        goto out_close;
    }
    uint32_t *lens = malloc(sizeof(*lens) * (size_t)nranks);
    void *table = malloc((size_t)nranks * reply.stride + 1);
    if (lens == NULL || table == NULL) {
        free(lens);
        free(table);
        status = RZ_ERR_NO_MEMORY;
        goto out_close;
    }
    if (rz_socket_recv(fd, lens, sizeof(*lens) * (size_t)nranks, deadline)
        != RZ_OK ||
        rz_socket_recv(fd, table, (size_t)nranks * reply.stride, deadline)
        != RZ_OK) {
        RZ_LOG_ERROR("rank %d: lost bootstrap root %s while reading the table",
                     rank, where);
        free(lens);
        free(table);
        status = RZ_ERR_BOOTSTRAP;
        goto out_close;
    }
    *table_p = table;
    *stride_p = reply.stride;
    *lens_p = lens;
    status = RZ_OK;

out_close:
    close(fd);
    return status;
}
