#include "util/rz_config.h"
#include "util/rz_compiler.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const rz_config_long_range_t rz_range_ms    = {1, 86400000L};
static const rz_config_long_range_t rz_range_spin  = {0, 10000000L};
static const rz_config_long_range_t rz_range_rank  = {-1, (1L << 20) - 1};
static const rz_config_long_range_t rz_range_size  = {-1, 1L << 20};
static const rz_config_long_range_t rz_range_segment = {1024, 1L << 30};
static const rz_config_long_range_t rz_range_fusion = {0, LONG_MAX};
static const rz_config_long_range_t rz_range_cache = {0, 1L << 20};
static const rz_config_double_range_t rz_range_cycle = {1e-3, 1e6};
static const rz_config_double_range_t rz_range_stall = {0, 1e9};
static const char *const rz_allreduce_algos[] = {"auto", "ring", "rd", "rabenseifner", NULL};
static const char *const rz_bind_policies[] = {"auto", "none", "core",
                                               "numa", NULL};

#define RZ_CFG_FIELD(f) offsetof(rz_config_t, f)

const rz_config_entry_t rz_config_table[] = {
    {"RZ_LOG_LEVEL", "warn",
     "Log verbosity: fatal, error, warn, info, debug or trace.",
     RZ_CFG_FIELD(log_level), rz_config_parse_log_level, NULL, "<level>"},
    {"RZ_LOG_FILE", "stderr",
     "Log destination: stderr, stdout or a file path; %p expands to the "
     "process id and %h to the host name.",
     RZ_CFG_FIELD(log_file), rz_config_parse_string, NULL, "<path>"},
    {"RZ_TIMEOUT_MS", "60000",
     "Deadline in milliseconds for any wait without progress in a "
     "collective; on expiry the communicator is aborted on every rank.",
     RZ_CFG_FIELD(timeout_ms), rz_config_parse_long, &rz_range_ms, "<ms>"},
    {"RZ_BOOTSTRAP_TIMEOUT_MS", "30000",
     "How long communicator creation waits for the root and for all ranks "
     "to join.",
     RZ_CFG_FIELD(bootstrap_timeout_ms), rz_config_parse_long, &rz_range_ms,
     "<ms>"},
    {"RZ_SPIN_US", "auto",
     "Microseconds a wait polls the transport before it blocks on the UCX "
     "event descriptor. auto is 100 while the ranks on a host do not "
     "outnumber its cores; when they do it is 20 and the wait calls "
     "sched_yield() between polls, so the rank it waits for gets the "
     "core, then blocks soon so the scheduler can see idle cores. 0 "
     "blocks at once.",
     RZ_CFG_FIELD(spin_us), rz_config_parse_long_auto, &rz_range_spin,
     "auto|<us>"},
    {"RZ_ALLREDUCE_ALGO", "auto",
     "Allreduce algorithm: rd (recursive doubling: log2(n) rounds moving "
     "the whole vector, lowest latency), ring (reduce-scatter + allgather "
     "in 2(n-1) pipelined rounds of 1/n of the vector, least traffic), "
     "rabenseifner (recursive-halving reduce-scatter + recursive-doubling "
     "allgather: the ring's traffic in 2 log2(n) rounds), or auto: chosen "
     "by size, rank count and whether ranks share cores (see "
     "docs/PERFORMANCE.md).",
     RZ_CFG_FIELD(allreduce_algo), rz_config_parse_choice, rz_allreduce_algos,
     "auto|ring|rd|rabenseifner"},
    {"RZ_RING_SEGMENT", "131072",
     "Bytes per message of the pipelined ring (and of Rabenseifner's "
     "steps): each chunk is sent in segments of at most this size, so that "
     "receiving one overlaps reducing the previous one and the scratch "
     "space stays in cache. Up to 128 KiB a segment goes eagerly through "
     "UCX's buffers and its send completes at once; larger ones go by "
     "rendezvous (one copy over CMA on a host, but a handshake per segment "
     "and pages pinned per copy).",
     RZ_CFG_FIELD(ring_segment), rz_config_parse_long, &rz_range_segment,
     "<bytes>"},
    {"RZ_PLUGIN_PATH", "",
     "Colon-separated directories searched first for compressor plugins "
     "(librz_<name>.so); then ringzip/ beside libringzip.so, then the "
     "install libdir's ringzip/. Read each time a plugin is opened.",
     RZ_CFG_FIELD(plugin_path), rz_config_parse_string, NULL, "<dir>[:<dir>...]"},
    {"RZ_COMPRESSORS", "",
     "Which compressor plugins may be loaded: empty for all, a comma list "
     "of names to allow only those (sign,topk), or ^ and a list to allow "
     "all but those (^qsgd,randk). Read each time a plugin is opened.",
     RZ_CFG_FIELD(compressors), rz_config_parse_string, NULL,
     "[^]<name>[,<name>...]"},
    {"RZ_BOOTSTRAP_ADDR", "",
     "Address the bootstrap root of rz_get_unique_id() listens on; empty "
     "means the first non-loopback IPv4 address, else 127.0.0.1.",
     RZ_CFG_FIELD(bootstrap_addr), rz_config_parse_string, NULL, "<ipv4>"},
    {"RZ_BIND", "auto",
     "Where each rank's process runs, chosen by its index among the ranks "
     "on its host (local rank): core binds it to the hardware threads of "
     "one core (local rank modulo the cores), numa to those of one NUMA "
     "node, none leaves placement to the OS. auto is core while the ranks "
     "on the host do not outnumber its cores, none otherwise, and keeps a "
     "binding the launcher already made (mpirun --bind-to, srun "
     "--cpu-bind, taskset); core and numa replace it. Ranks run as threads "
     "of one process are bound per thread, and only by core or numa. rz_info "
     "-b shows the placement.",
     RZ_CFG_FIELD(bind), rz_config_parse_choice, rz_bind_policies,
     "auto|none|core|numa"},
    {"RZ_CYCLE_TIME_MS", "1",
     "Fusion engine: milliseconds between two cycles of its background "
     "thread; each cycle negotiates which tensors are ready on every rank "
     "and reduces them. Shorter cycles cut latency and cost a small "
     "allreduce each.",
     RZ_CFG_FIELD(cycle_time_ms), rz_config_parse_double, &rz_range_cycle,
     "<ms>"},
    {"RZ_FUSION_THRESHOLD", "134217728",
     "Fusion engine: most bytes of tensors fused into one collective; 0 "
     "disables fusion (one collective per tensor).",
     RZ_CFG_FIELD(fusion_threshold), rz_config_parse_long, &rz_range_fusion,
     "<bytes>"},
    {"RZ_CACHE_CAPACITY", "1024",
     "Fusion engine: tensors the response cache remembers; a step whose "
     "tensors are all cached is scheduled by one bitwise-AND allreduce "
     "instead of a negotiation through rank 0. 0 disables the cache.",
     RZ_CFG_FIELD(cache_capacity), rz_config_parse_long, &rz_range_cache,
     "<entries>"},
    {"RZ_STALL_WARNING_S", "60",
     "Fusion engine: seconds after which rank 0 warns about a tensor that "
     "some ranks enqueued and others did not, naming the missing ranks "
     "(again every such period); 0 disables the warning.",
     RZ_CFG_FIELD(stall_warning_s), rz_config_parse_double, &rz_range_stall,
     "<seconds>"},
    {"RZ_STALL_TIMEOUT_S", "0",
     "Fusion engine: seconds after which such a stalled tensor fails with "
     "RZ_ERR_TIMEOUT on the ranks that enqueued it; 0 waits forever.",
     RZ_CFG_FIELD(stall_timeout_s), rz_config_parse_double, &rz_range_stall,
     "<seconds>"},
    {"RZ_TIMELINE", "",
     "Fusion engine: write a Chrome trace (chrome://tracing, Perfetto) of "
     "every tensor's phases to this file. With %r in the path every rank "
     "writes its own file (%r = rank); without, rank 0 alone writes.",
     RZ_CFG_FIELD(timeline), rz_config_parse_string, NULL, "<path>"},
    {"RZ_RANK", "-1",
     "This process's rank, for rz_comm_init_env() (set by rzrun).",
     RZ_CFG_FIELD(rank), rz_config_parse_long, &rz_range_rank, "<int>"},
    {"RZ_SIZE", "-1",
     "Number of ranks, for rz_comm_init_env() (set by rzrun).",
     RZ_CFG_FIELD(size), rz_config_parse_long, &rz_range_size, "<int>"},
    {"RZ_LOCAL_RANK", "-1",
     "This process's index among the ranks on its host (set by rzrun).",
     RZ_CFG_FIELD(local_rank), rz_config_parse_long, &rz_range_rank, "<int>"},
    {"RZ_LOCAL_SIZE", "-1",
     "Number of ranks on this host (set by rzrun).",
     RZ_CFG_FIELD(local_size), rz_config_parse_long, &rz_range_size, "<int>"},
    {"RZ_ROOT_ADDR", "",
     "host:port of the bootstrap root for rz_comm_init_env(); rank 0 "
     "listens on that port (set by rzrun).",
     RZ_CFG_FIELD(root_addr), rz_config_parse_string, NULL, "<host:port>"},
    {"RZ_SESSION_KEY", "",
     "32 hex digits every rank of a job must present to the bootstrap root "
     "(set by rzrun); when empty, a key derived from the launcher's job id.",
     RZ_CFG_FIELD(session_key), rz_config_parse_string, NULL, "<hex>"},
};
const size_t rz_config_table_size = RZ_ARRAY_SIZE(rz_config_table);

int rz_config_parse_long(const char *value, void *field, const void *arg)
{
    const rz_config_long_range_t *range = arg;
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 0);
    if (errno != 0 || end == value || *end != '\0') {
        return -1;
    }
    if (range != NULL && (v < range->min || v > range->max)) {
        return -1;
    }
    *(long *)field = v;
    return 0;
}

int rz_config_parse_string(const char *value, void *field, const void *arg)
{
    (void)arg;
    if (strlen(value) >= RZ_CONFIG_STR_MAX) {
        return -1;
    }
    strcpy((char *)field, value);
    return 0;
}

int rz_config_parse_log_level(const char *value, void *field, const void *arg)
{
    (void)arg;
    return rz_log_level_parse(value, (rz_log_level_t *)field);
}

int rz_config_parse_long_auto(const char *value, void *field, const void *arg)
{
    if (strcmp(value, "auto") == 0) {
        *(long *)field = -1;
        return 0;
    }
    return rz_config_parse_long(value, field, arg);
}

int rz_config_parse_choice(const char *value, void *field, const void *arg)
{
    for (const char *const *c = arg; c != NULL && *c != NULL; c++) {
        if (strcmp(value, *c) == 0) {
            return rz_config_parse_string(value, field, NULL);
        }
    }
    return -1;
}

static const rz_config_entry_t *rz_config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < rz_config_table_size; i++) {
        if (strlen(rz_config_table[i].name) == len &&
            strncmp(rz_config_table[i].name, name, len) == 0) {
            return &rz_config_table[i];
        }
    }
    return NULL;
}

rz_status_t rz_config_parse(rz_config_t *cfg, char *const *envp)
{
    rz_status_t status = RZ_OK;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < rz_config_table_size; i++) {
        const rz_config_entry_t *e = &rz_config_table[i];
        if (e->parse(e->dflt, (char *)cfg + e->offset, e->arg) != 0) {
            RZ_LOG_ERROR("bad built-in default '%s' for %s", e->dflt, e->name);
            status = RZ_ERR_INTERNAL;
        }
    }
    for (char *const *p = envp; p != NULL && *p != NULL; p++) {
        const char *eq = strchr(*p, '=');
        if (eq == NULL || strncmp(*p, "RZ_", 3) != 0) {
            continue;
        }
        const rz_config_entry_t *e = rz_config_find(*p, (size_t)(eq - *p));
        if (e == NULL) {
            continue;
        }
        if (e->parse(eq + 1, (char *)cfg + e->offset, e->arg) != 0) {
            RZ_LOG_ERROR("invalid value %s='%s': expected %s (%s)", e->name,
                         eq + 1, e->syntax, e->help);
            status = RZ_ERR_INVALID_PARAM;
        }
    }
    return status;
}

/* Edit distance, to suggest "did you mean" for misspelled variables. */
static size_t rz_config_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b), prev[64], cur[64];

    if (la >= 63 || lb >= 63) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            cur[j] = RZ_MIN(RZ_MIN(prev[j] + 1, cur[j - 1] + 1), sub);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

int rz_config_warn_unknown(char *const *envp)
{
    int unknown = 0;

    for (char *const *p = envp; p != NULL && *p != NULL; p++) {
        const char *eq = strchr(*p, '=');
        if (eq == NULL || strncmp(*p, "RZ_", 3) != 0) {
            continue;
        }
        size_t len = (size_t)(eq - *p);
        if (rz_config_find(*p, len) != NULL) {
            continue;
        }
        const char *best = NULL;
        size_t best_d = 3;
        for (size_t i = 0; i < rz_config_table_size; i++) {
            size_t d = rz_config_distance(*p, len, rz_config_table[i].name);
            if (d < best_d) {
                best_d = d;
                best = rz_config_table[i].name;
            }
        }
        if (best != NULL) {
            RZ_LOG_WARN("unknown variable %.*s ignored; did you mean %s?",
                        (int)len, *p, best);
        } else {
            RZ_LOG_WARN("unknown variable %.*s ignored (rz_info -c lists "
                        "all RZ_* variables)", (int)len, *p);
        }
        unknown++;
    }
    return unknown;
}

static pthread_once_t rz_config_once = PTHREAD_ONCE_INIT;
static rz_config_t rz_config_g;
static rz_status_t rz_config_g_status;

static void rz_config_global_init(void)
{
    rz_config_g_status = rz_config_parse(&rz_config_g, environ);
    rz_log_configure(rz_config_g.log_level, rz_config_g.log_file);
    rz_config_warn_unknown(environ);
}

const rz_config_t *rz_config_global(void)
{
    pthread_once(&rz_config_once, rz_config_global_init);
    return &rz_config_g;
}

rz_status_t rz_config_global_status(void)
{
    rz_config_global();
    return rz_config_g_status;
}

static void rz_config_format(const rz_config_entry_t *e, const rz_config_t *cfg,
                             char *buf, size_t size)
{
    const void *field = (const char *)cfg + e->offset;

    if (e->parse == rz_config_parse_long) {
        snprintf(buf, size, "%ld", *(const long *)field);
    } else if (e->parse == rz_config_parse_long_auto) {
        if (*(const long *)field < 0) {
            snprintf(buf, size, "auto");
        } else {
            snprintf(buf, size, "%ld", *(const long *)field);
        }
    } else if (e->parse == rz_config_parse_double) {
        snprintf(buf, size, "%g", *(const double *)field);
    } else if (e->parse == rz_config_parse_log_level) {
        snprintf(buf, size, "%s",
                 rz_log_level_name(*(const rz_log_level_t *)field));
    } else {
        snprintf(buf, size, "%s", (const char *)field);
    }
}

void rz_config_print(FILE *out, const rz_config_t *cfg)
{
    char value[RZ_CONFIG_STR_MAX + 32];

    for (size_t i = 0; i < rz_config_table_size; i++) {
        const rz_config_entry_t *e = &rz_config_table[i];
        rz_config_format(e, cfg, value, sizeof(value));
        fprintf(out, "#\n# %s\n#   %s %s, default '%s'\n#\n%s=%s\n", e->help,
                e->name, e->syntax, e->dflt, e->name, value);
    }
}

int rz_config_parse_double(const char *value, void *field, const void *arg)
{
    const rz_config_double_range_t *range = arg;
    char *end;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(v == v) ||
        (range != NULL && (v < range->min || v > range->max))) {
        return -1;
    }
    *(double *)field = v;
    return 0;
}
