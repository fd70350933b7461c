/*
 * Communicator creation (three bootstrap paths, one transport setup) and
 * teardown.
 */
#include "core/rz_comm.h"
#include "bootstrap/rz_bootstrap.h"
#include "core/rz_topo.h"
#include "util/rz_config.h"
#include "util/rz_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void rz_comm_release_requests(struct rz_comm *comm);

/* What each rank publishes during the bootstrap. */
typedef struct {
    char     host[RZ_HOST_MAX];
    uint64_t boot_id;  /* hash of the kernel's boot id: same host, same boot */
    uint64_t pid_ns;   /* inode of our pid namespace: are pids comparable? */
    int32_t  pid;
    int32_t  ncores;   /* physical cores of the host */
    uint32_t addr_len;
    /* followed by the UCX worker address */
} rz_comm_card_t;

typedef struct {
    uint64_t host;     /* hash of (host name, boot id) */
    int32_t  ncores;
} rz_comm_host_t;

static int rz_comm_host_cmp(const void *a, const void *b)
{
    const rz_comm_host_t *x = a, *y = b;
    return (x->host > y->host) - (x->host < y->host);
}

/* Does any host run more ranks than it has cores? The answer must be the
 * same on every rank (it picks algorithms), so it comes from the cards,
 * not from this host alone. */
static int rz_comm_any_oversubscribed(rz_comm_host_t *hosts, int nranks)
{
    int any = 0;

    qsort(hosts, (size_t)nranks, sizeof(*hosts), rz_comm_host_cmp);
    for (int i = 0, j; i < nranks; i = j) {
        int32_t cores = hosts[i].ncores;
        for (j = i; j < nranks && hosts[j].host == hosts[i].host; j++) {
            cores = RZ_MIN(cores, hosts[j].ncores);
        }
        any |= (j - i) > cores;
    }
    return any;
}

static uint64_t rz_comm_boot_id(void)
{
    char buf[64] = "";
    uint64_t h = 0xcbf29ce484222325ull;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL) {
            buf[0] = '\0';
        }
        fclose(f);
    }
    for (const char *p = buf; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t rz_comm_pid_ns(void)
{
    struct stat st;
    return (stat("/proc/self/ns/pid", &st) == 0) ? (uint64_t)st.st_ino : 0;
}

rz_status_t rz_comm_check(struct rz_comm *comm)
{
    if (comm == NULL || comm->magic != RZ_COMM_MAGIC) {
        RZ_LOG_ERROR("invalid communicator handle %p (not created by "
                     "rz_comm_init_*, or already destroyed)", (void *)comm);
        return RZ_ERR_INVALID_PARAM;
    }
    return RZ_OK;
}

/* Place this rank on its host's cores (RZ_BIND), before the endpoints and
 * their buffers exist. Advisory: rz_topo_bind logs a failure and the
 * communicator carries on unbound. Another rank of this host with our pid
 * means the ranks are threads of this process: bind threads, not the
 * process (see RZ_TOPO_BIND_THREAD). */
static void rz_comm_bind(struct rz_comm *comm, const void *table,
                         size_t stride)
{
    unsigned flags = RZ_TOPO_BIND_ONCE;
    char desc[RZ_TOPO_DESC_MAX];
    int32_t pid;

    for (int r = 0; r < comm->nranks; r++) {
        memcpy(&pid, (const char *)table + (size_t)r * stride +
                         offsetof(rz_comm_card_t, pid), sizeof(pid));
        if (r != comm->rank && pid == (int32_t)getpid() &&
            strcmp(comm->hosts[r], comm->hosts[comm->rank]) == 0) {
            flags |= RZ_TOPO_BIND_THREAD;
            break;
        }
    }
    if (rz_topo_bind(rz_config_global()->bind, comm->local_rank,
                     comm->local_size, flags, desc, sizeof(desc)) == RZ_OK) {
        RZ_LOG_INFO("local rank %d of %d: %s", comm->local_rank,
                    comm->local_size, desc);
    }
}

/* Settings that depend on where the ranks ended up. */
static void rz_comm_tune(struct rz_comm *comm, const rz_config_t *cfg,
                         int ncores)
{

    /* More ranks than cores: a rank that waits must let the rank it waits
     * for run. Spinning with sched_yield() does that and still answers in
     * microseconds once the peer has posted. After RZ_SPIN_US it blocks:
     * a rank that only yields stays runnable, so the scheduler cannot see
     * which core is idle and may leave three busy ranks on one core for
     * hundreds of ms; blocking soon lets it rebalance (docs/DESIGN.md). */
    comm->oversubscribed = comm->local_size > ncores;
    comm->yield = comm->oversubscribed;
    comm->spin_us = cfg->spin_us;
    if (comm->spin_us < 0) {
        comm->spin_us = comm->oversubscribed ? RZ_SPIN_US_OVERSUBSCRIBED
                                             : RZ_SPIN_US_DEFAULT;
    }
    RZ_LOG_DEBUG("%d local ranks on %d cores: spin %ld us%s", comm->local_size,
                 ncores, comm->spin_us, comm->yield ? " yielding" : "");
    comm->allreduce_algo = strcmp(cfg->allreduce_algo, "ring") == 0 ? RZ_ALGO_RING
                         : strcmp(cfg->allreduce_algo, "rd") == 0   ? RZ_ALGO_RD
                         : strcmp(cfg->allreduce_algo, "rabenseifner") == 0
                             ? RZ_ALGO_RH
                             : RZ_ALGO_AUTO;
    comm->ring_segment = (size_t)cfg->ring_segment;
    comm->last_activity_ms = rz_time_ms();
}

/* Allgather the cards through whichever bootstrap the caller chose. */
typedef rz_status_t (*rz_comm_exchange_func_t)(void *arg, const void *card,
                                               size_t len, void **table_p,
                                               size_t *stride_p,
                                               uint32_t **lens_p);

/*
 * Warm UCX's receive path up before the first collective. The first
 * message of a kind that arrives before its receive is posted makes UCX
 * grow a buffer pool (for a 1 KiB message: an 8 MiB chunk of ucp_am_bufs,
 * ~300 us of mmap and page faults), so without this the first small
 * collectives of a job each pay a few hundred microseconds, and a
 * latency benchmark with a short warm-up measures that instead of the
 * steady state (docs/PERFORMANCE.md). Each rank sends one message of each
 * size to its right neighbour, waits at a barrier so that they arrive
 * unexpected, then receives its left neighbour's: two sequence numbers
 * (the batch and the barrier), the same on every rank.
 */
static rz_status_t rz_comm_warmup(struct rz_comm *comm)
{
    static const size_t sizes[] = {8, 1024, 4096, 16384};
    const int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    const int right = (comm->rank + 1) % comm->nranks;
    const int left = (comm->rank + comm->nranks - 1) % comm->nranks;
    rz_request_t *req;
    rz_status_t status;
    char *buf;

    if (comm->nranks < 2) {
        return RZ_OK;
    }
    buf = calloc(2, sizes[n - 1]);
    if (buf == NULL) {
        RZ_LOG_ERROR("out of memory for the transport warm-up");
        return RZ_ERR_NO_MEMORY;
    }
    /* One batch: the sends are posted at once, the barrier (a request of
     * its own) runs while they land, and then the receives are posted. The
     * sends may be rendezvous, which complete only with their receive. */
    status = rz_p2p_begin(comm, 0x5741524dull, 2 * n, &req);
    if (status != RZ_OK) {
        free(buf);
        return status;
    }
    for (int i = 0; i < n; i++) {
        rz_p2p_send(req, right, (unsigned)i, buf, sizes[i]);
    }
    status = rz_barrier((rz_comm_h)comm);
    if (status != RZ_OK) {
        rz_p2p_abandon(req);
        free(buf);
        return status;
    }
    for (int i = 0; i < n; i++) {
        rz_p2p_recv(req, left, (unsigned)i, buf + sizes[n - 1], sizes[i], 0);
    }
    status = rz_p2p_run(req, NULL);
    free(buf);
    return status;
}

static rz_status_t rz_comm_create(int rank, int nranks,
                                  rz_comm_exchange_func_t exchange, void *arg,
                                  rz_comm_h *comm_p)
{
    const rz_config_t *cfg = rz_config_global();
    struct rz_comm *comm;
    rz_status_t status;
    void *table = NULL;
    uint32_t *lens = NULL;
    size_t stride;
    const void *addr;
    size_t addr_len;
    rz_comm_host_t *host_list = NULL;
    char my_host[RZ_HOST_MAX] = "";
    uint64_t my_boot_id, my_pid_ns;
    int32_t my_ncores;

    RZ_CHECK_GOTO(rz_config_global_status(), err, status);
    comm = calloc(1, sizeof(*comm));
    if (comm == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto err;
    }
    comm->rank = rank;
    comm->nranks = nranks;
    comm->timeout_ms = cfg->timeout_ms;
    rz_log_set_rank(rank);

    RZ_CHECK_GOTO(rz_tp_create(&comm->tp), err_free, status);
    rz_tp_address(comm->tp, &addr, &addr_len);
    size_t card_len = sizeof(rz_comm_card_t) + addr_len;
    rz_comm_card_t *card = calloc(1, card_len);
    if (card == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto err_tp;
    }
    gethostname(card->host, sizeof(card->host) - 1);
    memcpy(my_host, card->host, sizeof(my_host));
    card->pid = (int32_t)getpid();
    card->boot_id = my_boot_id = rz_comm_boot_id();
    card->pid_ns = my_pid_ns = rz_comm_pid_ns();
    card->ncores = my_ncores = rz_topo_ncores();
    card->addr_len = (uint32_t)addr_len;
    memcpy(card + 1, addr, addr_len);
    status = exchange(arg, card, card_len, &table, &stride, &lens);
    free(card);
    if (status != RZ_OK) {
        goto err_tp;
    }

    comm->hosts = calloc((size_t)nranks, sizeof(*comm->hosts));
    comm->abort_sends = calloc((size_t)nranks, sizeof(*comm->abort_sends));
    char *addrs = malloc((size_t)nranks * stride + 1);
    rz_tp_peer_info_t *info = calloc((size_t)nranks, sizeof(*info));
    host_list = calloc((size_t)nranks, sizeof(*host_list));
    if (comm->hosts == NULL || comm->abort_sends == NULL || addrs == NULL ||
        info == NULL || host_list == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto err_cards;
    }
    for (int r = 0; r < nranks; r++) {
        /* Entries sit at any byte offset of the table: copy the header
         * out rather than access it in place. */
        const char *entry = (const char *)table + (size_t)r * stride;
        rz_comm_card_t c;
        if (lens[r] < sizeof(c) ||
            (memcpy(&c, entry, sizeof(c)), c.addr_len != lens[r] - sizeof(c))) {
            RZ_LOG_ERROR("rank %d published a malformed bootstrap card", r);
            status = RZ_ERR_MALFORMED;
            goto err_cards;
        }
        memcpy(comm->hosts[r], c.host, RZ_HOST_MAX);
        comm->hosts[r][RZ_HOST_MAX - 1] = '\0';
        memcpy(addrs + (size_t)r * stride, entry + sizeof(c), c.addr_len);
        /* Same host name and same boot: a local peer. Its pid means
         * something to us only in the same pid namespace, and a rank in
         * this very process (ranks as threads) cannot exit on its own. */
        info[r].local = (strcmp(comm->hosts[r], my_host) == 0) &&
                        c.boot_id == my_boot_id;
        if (info[r].local && c.pid_ns == my_pid_ns && c.pid_ns != 0 &&
            c.pid != (int32_t)getpid()) {
            info[r].pid = c.pid;
        }
        host_list[r].host = c.boot_id;
        for (const char *p = comm->hosts[r]; *p != '\0'; p++) {
            host_list[r].host = (host_list[r].host ^ (unsigned char)*p) *
                                0x100000001b3ull;
        }
        host_list[r].ncores = RZ_MAX(c.ncores, 1);
    }
    for (int r = 0; r < nranks; r++) {
        if (strcmp(comm->hosts[r], comm->hosts[rank]) == 0) {
            comm->local_rank += (r < rank);
            comm->local_size++;
        }
    }
    comm->any_oversubscribed = rz_comm_any_oversubscribed(host_list, nranks);
    rz_comm_bind(comm, table, stride);
    rz_comm_tune(comm, cfg, my_ncores);
    status = rz_tp_connect(comm->tp, nranks, rank, addrs, stride, lens,
                           info);
err_cards:
    free(addrs);
    free(info);
    free(host_list);
    if (status != RZ_OK) {
        goto err_table;
    }
    free(table);
    free(lens);

    /* Abort notices from any peer land here at any time. */
    rz_tp_irecv(comm->tp, rank, RZ_TAG_CTRL, RZ_TAG_CTRL, comm->abort_msg,
                sizeof(comm->abort_msg), &comm->abort_recv);
    comm->magic = RZ_COMM_MAGIC;
    status = rz_comm_warmup(comm);
    if (status != RZ_OK) {
        RZ_LOG_ERROR("rank %d of %d: the first exchange with the neighbour "
                     "ranks failed: %s", rank, nranks,
                     rz_status_string(status));
        rz_comm_destroy((rz_comm_h)comm);
        return status;
    }
    RZ_LOG_INFO("rank %d of %d ready (local %d of %d on %s)", rank, nranks,
                comm->local_rank, comm->local_size, comm->hosts[rank]);
    *comm_p = comm;
    return RZ_OK;

err_table:
    free(table);
    free(lens);
err_tp:
    rz_tp_destroy(comm->tp, 1);
err_free:
    free(comm->hosts);
    free(comm->abort_sends);
    free(comm);
err:
    return status;
}

/* ------------------------------------------------------------ TCP root */

typedef struct {
    const rz_bootstrap_id_t *id;
    int rank;
    int nranks;
    uint64_t timeout_ms;
} rz_comm_tcp_arg_t;

static rz_status_t rz_comm_tcp_exchange(void *arg, const void *card,
                                        size_t len, void **table_p,
                                        size_t *stride_p, uint32_t **lens_p)
{
    rz_comm_tcp_arg_t *a = arg;

    return rz_bootstrap_exchange(&a->id->root, a->id->key, a->rank, a->nranks,
                                 card, len, a->timeout_ms, table_p, stride_p,
                                 lens_p);
}

#define RZ_ID_MAGIC 0x525a4944u /* "RZID" */

RZ_EXPORT rz_status_t rz_get_unique_id(rz_unique_id_t *id_p)
{
    const rz_config_t *cfg = rz_config_global();
    rz_bootstrap_id_t id = {.magic = RZ_ID_MAGIC, .version = 1};
    rz_sockaddr_t listen_addr;
    rz_status_t status;

    if (id_p == NULL) {
        RZ_LOG_ERROR("rz_get_unique_id: NULL id pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    if (cfg->bootstrap_addr[0] != '\0') {
        char text[RZ_CONFIG_STR_MAX + 8];
        snprintf(text, sizeof(text), "%s:1", cfg->bootstrap_addr);
        RZ_CHECK_GOTO(rz_sockaddr_parse(text, &listen_addr), out, status);
    } else {
        rz_sockaddr_local(&listen_addr);
    }
    listen_addr.u.in4.sin_port = 0;
    if (listen_addr.u.sa.sa_family == AF_INET6) {
        listen_addr.u.in6.sin6_port = 0;
    }
    RZ_CHECK_GOTO(rz_bootstrap_random_key(id.key), out, status);
    RZ_CHECK_GOTO(rz_bootstrap_root_start(&listen_addr, id.key,
                                          (uint64_t)cfg->bootstrap_timeout_ms,
                                          1, NULL, &id.root), out, status);
    memset(id_p, 0, sizeof(*id_p));
    memcpy(id_p->internal, &id, sizeof(id));
out:
    return status;
}

RZ_EXPORT rz_status_t rz_comm_init_rank(rz_comm_h *comm_p, int nranks,
                                        const rz_unique_id_t *uid, int rank)
{
    rz_bootstrap_id_t id;

    if (comm_p == NULL || uid == NULL || nranks < 1 ||
        nranks > RZ_MAX_RANKS || rank < 0 || rank >= nranks) {
        RZ_LOG_ERROR("rz_comm_init_rank: invalid arguments (comm_p=%p id=%p "
                     "nranks=%d rank=%d)", (void *)comm_p, (const void *)uid,
                     nranks, rank);
        return RZ_ERR_INVALID_PARAM;
    }
    memcpy(&id, uid->internal, sizeof(id));
    if (id.magic != RZ_ID_MAGIC || id.version != 1) {
        RZ_LOG_ERROR("rz_comm_init_rank: the id was not made by "
                     "rz_get_unique_id()");
        return RZ_ERR_INVALID_PARAM;
    }
    rz_comm_tcp_arg_t arg = {
        .id = &id, .rank = rank, .nranks = nranks,
        .timeout_ms = (uint64_t)rz_config_global()->bootstrap_timeout_ms};
    return rz_comm_create(rank, nranks, rz_comm_tcp_exchange, &arg, comm_p);
}

/* Derive a session key both ends agree on without a side channel. */
static void rz_comm_env_key(const char *job, uint8_t *key)
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;

    for (const char *p = job; *p != '\0'; p++) {
        h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull;
        h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
    memcpy(key, &h1, 8);
    memcpy(key + 8, &h2, 8);
}

static int rz_comm_env_int(const char *name, long *v)
{
    const char *s = getenv(name);
    char *end;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    *v = strtol(s, &end, 10);
    return *end == '\0';
}

RZ_EXPORT rz_status_t rz_comm_init_env(rz_comm_h *comm_p)
{
    static const char *const sources[][2] = {
        {"RZ_RANK", "RZ_SIZE"},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
        {"PMI_RANK", "PMI_SIZE"},
        {"SLURM_PROCID", "SLURM_NTASKS"},
    };
    const rz_config_t *cfg = rz_config_global();
    rz_bootstrap_id_t id = {.magic = RZ_ID_MAGIC, .version = 1};
    rz_bootstrap_root_h root = NULL;
    long rank = -1, size = -1;
    rz_status_t status;

    if (comm_p == NULL) {
        RZ_LOG_ERROR("rz_comm_init_env: NULL comm pointer");
        return RZ_ERR_INVALID_PARAM;
    }
    RZ_CHECK_GOTO(rz_config_global_status(), out, status);
    for (size_t i = 0; i < RZ_ARRAY_SIZE(sources); i++) {
        if (rz_comm_env_int(sources[i][0], &rank) &&
            rz_comm_env_int(sources[i][1], &size)) {
            RZ_LOG_DEBUG("rank %ld of %ld from %s/%s", rank, size,
                         sources[i][0], sources[i][1]);
            break;
        }
        rank = size = -1;
    }
    if (rank < 0 || size < 1 || rank >= size || size > RZ_MAX_RANKS) {
        RZ_LOG_ERROR("rz_comm_init_env: no valid rank/size in the environment "
                     "(set RZ_RANK and RZ_SIZE, or launch with rzrun, mpirun "
                     "or srun)");
        return RZ_ERR_INVALID_PARAM;
    }
    /* Read at call time, like rank and size: launchers and tests set them
     * after the library's configuration was first parsed. */
    const char *root_addr = getenv("RZ_ROOT_ADDR");
    const char *session_key = getenv("RZ_SESSION_KEY");
    if (root_addr == NULL || root_addr[0] == '\0') {
        RZ_LOG_ERROR("rz_comm_init_env: RZ_ROOT_ADDR (host:port of rank 0) "
                     "is not set");
        return RZ_ERR_INVALID_PARAM;
    }
    RZ_CHECK_GOTO(rz_sockaddr_parse(root_addr, &id.root), out, status);
    if (session_key != NULL && session_key[0] != '\0') {
        if (rz_bootstrap_parse_key(session_key, id.key) != RZ_OK) {
            RZ_LOG_ERROR("RZ_SESSION_KEY must be 32 hex digits");
            return RZ_ERR_INVALID_PARAM;
        }
    } else {
        const char *job = getenv("SLURM_JOB_ID");
        if (job == NULL) job = getenv("OMPI_MCA_ess_base_jobid");
        if (job == NULL) job = getenv("PMI_JOBID");
        rz_comm_env_key(job ? job : root_addr, id.key);
    }
    if (rank == 0) {
        /* Rank 0 serves the rendezvous on RZ_ROOT_ADDR's port, on every
         * interface, since the name may not be bindable as given. */
        rz_sockaddr_t listen_addr = id.root, bound;
        if (listen_addr.u.sa.sa_family == AF_INET) {
            listen_addr.u.in4.sin_addr.s_addr = htonl(INADDR_ANY);
        } else {
            listen_addr.u.in6.sin6_addr = in6addr_any;
        }
        RZ_CHECK_GOTO(rz_bootstrap_root_start(&listen_addr, id.key,
                                              (uint64_t)cfg->bootstrap_timeout_ms,
                                              0, &root, &bound), out, status);
    }
    rz_comm_tcp_arg_t arg = {
        .id = &id, .rank = (int)rank, .nranks = (int)size,
        .timeout_ms = (uint64_t)cfg->bootstrap_timeout_ms};
    status = rz_comm_create((int)rank, (int)size, rz_comm_tcp_exchange, &arg,
                            comm_p);
    rz_bootstrap_root_join(root);
out:
    return status;
}

/* ------------------------------------------------------------ user OOB */

static rz_status_t rz_comm_oob_exchange(void *arg, const void *card,
                                        size_t len, void **table_p,
                                        size_t *stride_p, uint32_t **lens_p)
{
    const rz_oob_t *oob = arg;
    uint32_t mylen = (uint32_t)len, stride = 0;
    uint32_t *lens = malloc(sizeof(*lens) * (size_t)oob->nranks);
    char *padded = NULL, *table = NULL;

    if (lens == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    if (oob->allgather(&mylen, lens, sizeof(mylen), oob->coll_info) != 0) {
        goto err_cb;
    }
    for (int r = 0; r < oob->nranks; r++) {
        stride = RZ_MAX(stride, lens[r]);
    }
    if (stride > RZ_BOOTSTRAP_MAX_PAYLOAD || lens[oob->rank] != mylen) {
        RZ_LOG_ERROR("rz_comm_init_oob: the allgather returned inconsistent "
                     "lengths");
        free(lens);
        return RZ_ERR_BOOTSTRAP;
    }
    padded = calloc(1, stride);
    table = malloc((size_t)oob->nranks * stride);
    if (padded == NULL || table == NULL) {
        free(padded);
        free(table);
        free(lens);
        return RZ_ERR_NO_MEMORY;
    }
    memcpy(padded, card, len);
    if (oob->allgather(padded, table, stride, oob->coll_info) != 0) {
        free(padded);
        free(table);
        goto err_cb;
    }
    free(padded);
    *table_p = table;
    *stride_p = stride;
    *lens_p = lens;
    return RZ_OK;

err_cb:
    RZ_LOG_ERROR("rz_comm_init_oob: the caller's allgather failed");
    free(lens);
    return RZ_ERR_BOOTSTRAP;
}

RZ_EXPORT rz_status_t rz_comm_init_oob(rz_comm_h *comm_p, const rz_oob_t *oob)
{
    if (comm_p == NULL || oob == NULL || oob->allgather == NULL ||
        oob->nranks < 1 || oob->nranks > RZ_MAX_RANKS || oob->rank < 0 ||
        oob->rank >= oob->nranks) {
        RZ_LOG_ERROR("rz_comm_init_oob: invalid arguments");
        return RZ_ERR_INVALID_PARAM;
    }
    return rz_comm_create(oob->rank, oob->nranks, rz_comm_oob_exchange,
                          (void *)oob, comm_p);
}

/* ------------------------------------------------------------ dup */

/* The OOB allgather of a duplicate: an allgather on the parent. */
static int rz_comm_dup_allgather(const void *sendbuf, void *recvbuf,
                                 size_t size, void *coll_info)
{
    return rz_allgather(sendbuf, recvbuf, size, RZ_DTYPE_U8,
                        (rz_comm_h)coll_info) == RZ_OK ? 0 : -1;
}

RZ_EXPORT rz_status_t rz_comm_dup(rz_comm_h comm, rz_comm_h *newcomm_p)
{
    rz_status_t status = rz_comm_check(comm);
    rz_oob_t oob;

    if (status != RZ_OK || newcomm_p == NULL) {
        RZ_LOG_ERROR("rz_comm_dup: invalid arguments (comm=%p newcomm_p=%p)",
                     (void *)comm, (void *)newcomm_p);
        return RZ_ERR_INVALID_PARAM;
    }
    if (comm->error != RZ_OK) {
        RZ_LOG_ERROR("rz_comm_dup: the communicator failed earlier (%s)",
                     rz_status_string(comm->error));
        return RZ_ERR_ABORTED;
    }
    oob.allgather = rz_comm_dup_allgather;
    oob.coll_info = comm;
    oob.rank = comm->rank;
    oob.nranks = comm->nranks;
    status = rz_comm_create(comm->rank, comm->nranks, rz_comm_oob_exchange,
                            &oob, newcomm_p);
    if (status == RZ_ERR_BOOTSTRAP && comm->error != RZ_OK) {
        status = comm->error;
    }
    return status;
}

/* ------------------------------------------------------------ the rest */

RZ_EXPORT rz_status_t rz_comm_destroy(rz_comm_h comm)
{
    if (comm == NULL) {
        return RZ_OK;
    }
    if (rz_comm_check(comm) != RZ_OK) {
        return RZ_ERR_INVALID_PARAM;
    }
    if (comm->active != NULL) {
        RZ_LOG_WARN("destroying a communicator with pending operations; "
                    "they fail with RZ_ERR_ABORTED");
        rz_comm_fail(comm, RZ_ERR_ABORTED, 1);
    }
    rz_tp_cancel(comm->tp, &comm->abort_recv);
    comm->magic = 0;
    rz_tp_destroy(comm->tp, comm->error != RZ_OK);
    rz_comm_release_requests(comm);
    free(comm->hosts);
    free(comm->abort_sends);
    free(comm);
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_comm_abort(rz_comm_h comm, rz_status_t reason)
{
    rz_status_t status = rz_comm_check(comm);

    if (status != RZ_OK) {
        return status;
    }
    rz_comm_fail(comm, reason < 0 ? reason : RZ_ERR_ABORTED, 1);
    return RZ_OK;
}

RZ_EXPORT rz_status_t rz_comm_rank(rz_comm_h comm, int *rank_p)
{
    rz_status_t status = rz_comm_check(comm);

    if (status == RZ_OK && rank_p == NULL) {
        status = RZ_ERR_INVALID_PARAM;
    }
    if (status == RZ_OK) {
        *rank_p = comm->rank;
    }
    return status;
}

RZ_EXPORT rz_status_t rz_comm_size(rz_comm_h comm, int *size_p)
{
    rz_status_t status = rz_comm_check(comm);

    if (status == RZ_OK && size_p == NULL) {
        status = RZ_ERR_INVALID_PARAM;
    }
    if (status == RZ_OK) {
        *size_p = comm->nranks;
    }
    return status;
}

RZ_EXPORT rz_status_t rz_comm_get_async_error(rz_comm_h comm)
{
    rz_status_t status = rz_comm_check(comm);

    if (status != RZ_OK) {
        return status;
    }
    rz_comm_progress(comm);
    return comm->error;
}
