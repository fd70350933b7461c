/*
 * rz_info: what ringzip sees on this host -- its version, the UCX transports,
 * the hardware topology and every RZ_* variable (STYLE rule 13). It links
 * the static library so it can reach internal functions, but it includes no
 * UCX or hwloc header: those stay behind lib/transport and lib/core.
 */
#include <ringzip/ringzip.h>
#include "core/rz_topo.h"
#include "plugin/rz_plugin.h"
#include "transport/rz_transport.h"
#include "util/rz_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RZ_INFO_EXIT_OK      0
#define RZ_INFO_EXIT_FAILURE 1
#define RZ_INFO_EXIT_USAGE   2

/* Most local ranks -b plans for: far above any core count. */
#define RZ_INFO_MAX_RANKS    65536

/* Width the help text is wrapped to. */
#define RZ_INFO_HELP_WIDTH   77

enum {
    RZ_INFO_SECTION_VERSION    = 1u << 0,
    RZ_INFO_SECTION_TRANSPORTS = 1u << 1,
    RZ_INFO_SECTION_TOPOLOGY   = 1u << 2,
    RZ_INFO_SECTION_BIND       = 1u << 3,
    RZ_INFO_SECTION_CONFIG     = 1u << 4,
    RZ_INFO_SECTION_PLUGINS    = 1u << 5,
    RZ_INFO_SECTION_ALL        = (1u << 6) - 1
};

static const char *rz_info_prog = "rz_info";

/* Print @text wrapped at word boundaries, each line indented by @indent. */
static void rz_info_wrap(FILE *out, const char *text, int indent)
{
    int width = RZ_INFO_HELP_WIDTH - indent;
    const char *p = text;

    while (*p != '\0') {
        int len = (int)strlen(p);
        int cut = len;

        if (len > width) {
            cut = width;
            while (cut > 0 && p[cut] != ' ') {
                cut--;
            }
            if (cut == 0) {
                /* One word longer than the line: let it overflow. */
                cut = (int)strcspn(p, " ");
            }
        }
        fprintf(out, "%*s%.*s\n", indent, "", cut, p);
        p += cut;
        while (*p == ' ') {
            p++;
        }
    }
}

static void rz_info_help(FILE *out)
{
    fprintf(out,
"NAME\n"
"    %s - show ringzip's version, UCX transports, host topology, rank\n"
"    binding and configuration\n"
"\n"
"SYNOPSIS\n"
"    %s [-a] [-v] [-t] [-T] [-b] [-n N] [-c]\n"
"    %s -h\n"
"\n"
"DESCRIPTION\n"
"    %s reports what the ringzip library sees on this host: the library\n"
"    version, every transport and device UCX can open, the processor and\n"
"    memory topology found by hwloc, where the ranks of a job would be\n"
"    bound, and the value of every RZ_* environment variable. Run it on a\n"
"    node where a job misbehaves, with the job's environment, to see what\n"
"    the library will pick up.\n"
"\n"
"    With no option it prints everything, as -a does. Options combine; the\n"
"    sections always come in the order version, transports, topology,\n"
"    binding, plugins, configuration, each under a heading line that starts with\n"
"    '#'.\n"
"\n"
"OPTIONS\n"
"    -a, --all\n"
"        Print every section below. This is the default.\n"
"\n"
"    -v, --version\n"
"        Print only the version line, '# ringzip MAJOR.MINOR.PATCH'.\n"
"\n"
"    -t, --transports\n"
"        Print the UCX version and, for each UCX memory domain, its\n"
"        transport/device pairs with the device type: net (network), shm\n"
"        (shared memory), acc (accelerator) or self (loop-back). This is\n"
"        everything UCX can open here; UCX_TLS and UCX_NET_DEVICES narrow\n"
"        what ringzip's communicators actually use.\n"
"\n"
"    -T, --topology\n"
"        Print the number of packages, NUMA nodes, cores and hardware\n"
"        threads (PUs), the L3 cache, the PUs of each NUMA node, and the PUs\n"
"        this process is bound to.\n"
"\n"
"    -b, --bind\n"
"        Print where the binding policy in effect (RZ_BIND, default auto)\n"
"        would place each of N ranks on this host (see -n), one line per\n"
"        local rank: 'local rank R: core C (PUs L)', 'numa M (PUs L)' or\n"
"        'none (why)', where L lists the operating system's CPU numbers as\n"
"        taskset -c takes them. Under auto, a note follows when this\n"
"        process is itself bound to a subset of the allowed PUs: ranks\n"
"        started the same way keep such a binding. When RZ_LOCAL_RANK and\n"
"        RZ_LOCAL_SIZE are set, a last line shows where that rank would go.\n"
"        Nothing is bound.\n"
"\n"
"    -n, --ranks=N, --np=N\n"
"        The number of ranks on this host that -b plans for, 1 to %d.\n"
"        Default: the number of cores. Implies -b.\n"
"\n"
"    -p, --plugins\n"
"        Print the directories searched for compressor plugins, in order\n"
"        (RZ_PLUGIN_PATH, ringzip/ beside the library, the install libdir),\n"
"        then one line per plugin file found (the first of each name):\n"
"        name, wire id, capabilities and description, or why it cannot be\n"
"        used ('broken or incompatible plugin', 'not supported' when\n"
"        RZ_COMPRESSORS excludes it); the log line above it says more.\n"
"\n"
"    -c, --config\n"
"        Print every RZ_* variable as a commented block (help text, syntax\n"
"        and default) followed by a NAME=value line with the value in\n"
"        effect. Malformed values are reported on standard error.\n"
"\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"ENVIRONMENT\n"
"    rz_info reads the same variables as the library; an RZ_* variable no\n"
"    one knows draws a warning that names the closest known one.\n"
"\n",
            rz_info_prog, rz_info_prog, rz_info_prog, rz_info_prog,
            RZ_INFO_MAX_RANKS);

    /* Generated from the table so the help cannot drift from the parser. */
    for (size_t i = 0; i < rz_config_table_size; i++) {
        const rz_config_entry_t *e = &rz_config_table[i];
        char dflt[RZ_CONFIG_STR_MAX + 32];

        fprintf(out, "    %s=%s\n", e->name, e->syntax);
        rz_info_wrap(out, e->help, 8);
        snprintf(dflt, sizeof(dflt), "Default: '%s'.", e->dflt);
        rz_info_wrap(out, dflt, 8);
        fprintf(out, "\n");
    }

    fprintf(out,
"    UCX_*\n"
"        Read by UCX itself, e.g. UCX_TLS=tcp,self or UCX_NET_DEVICES=eth0\n"
"        to choose transports and devices; see ucx_info -c. ringzip\n"
"        changes one UCX default, MM_FIFO_ELEM_SIZE (1152 instead of 128);\n"
"        UCX_MM_FIFO_ELEM_SIZE, or its SYSV_/POSIX_ form, overrides it.\n"
"\n"
"    HWLOC_*\n"
"        Read by hwloc, e.g. HWLOC_XMLFILE=topo.xml to describe a machine\n"
"        from a file saved by lstopo instead of this one.\n"
"\n"
"EXIT STATUS\n"
"    0   Success.\n"
"    1   A section could not be produced in full: the topology could not be\n"
"        read, or an RZ_* variable has a malformed value.\n"
"    2   Bad usage: an unknown option, a bad -n value or an unexpected\n"
"        argument.\n"
"\n"
"EXAMPLES\n"
"    %s\n"
"        Everything, e.g. to attach to a bug report.\n"
"\n"
"    %s -t | grep '(net)'\n"
"        The network devices UCX can use on this host.\n"
"\n"
"    %s -c | grep '^RZ_'\n"
"        Just the values in effect, one NAME=value per line.\n"
"\n"
"    %s -b -n 8\n"
"        Where eight ranks on this host would be bound.\n"
"\n"
"    RZ_BIND=numa %s -b\n"
"        Where one rank per core would go under the numa policy.\n"
"\n"
"    RZ_LOCAL_RANK=1 RZ_LOCAL_SIZE=2 %s -b\n"
"        Where the second of two ranks on this host would be bound.\n"
"\n"
"SEE ALSO\n"
"    rzrun(1), ucx_info(1), lstopo(1)\n",
            rz_info_prog, rz_info_prog, rz_info_prog, rz_info_prog,
            rz_info_prog, rz_info_prog);
}

static void rz_info_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", rz_info_prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n",
            rz_info_prog);
}

static int rz_info_version(void)
{
    const char *lib = rz_version_string();

    printf("# ringzip %s\n", lib);
    /* Only possible if a shared library other than ours got loaded. */
    if (strcmp(lib, RZ_VERSION_STRING) != 0) {
        printf("# (built with headers of ringzip %s)\n", RZ_VERSION_STRING);
    }
    return RZ_INFO_EXIT_OK;
}

static int rz_info_transports(void)
{
    printf("# UCX transports\n");
    rz_tp_print_resources(stdout);
    return RZ_INFO_EXIT_OK;
}

static int rz_info_topology(void)
{
    rz_topo_summary_t s;

    printf("# Topology\n");
    rz_topo_print(stdout);
    return rz_topo_summary(&s) == RZ_OK ? RZ_INFO_EXIT_OK
                                        : RZ_INFO_EXIT_FAILURE;
}

/* Where RZ_LOCAL_RANK of RZ_LOCAL_SIZE would go, when both are set. */
static void rz_info_bind_local(const rz_config_t *cfg)
{
    char desc[RZ_TOPO_DESC_MAX];

    if (cfg->local_rank < 0 && cfg->local_size < 0) {
        return;
    }
    if (cfg->local_rank < 0 || cfg->local_size < 0) {
        printf("this process: RZ_LOCAL_RANK and RZ_LOCAL_SIZE must both be "
               "set for a plan\n");
        return;
    }
    if (rz_topo_bind_describe(cfg->bind, (int)cfg->local_rank,
                              (int)cfg->local_size, desc,
                              sizeof(desc)) != RZ_OK) {
        printf("this process (RZ_LOCAL_RANK=%ld, RZ_LOCAL_SIZE=%ld): no plan, "
               "the local rank must be below the local size\n",
               cfg->local_rank, cfg->local_size);
        return;
    }
    printf("this process (RZ_LOCAL_RANK=%ld, RZ_LOCAL_SIZE=%ld): %s\n",
           cfg->local_rank, cfg->local_size, desc);
}

static int rz_info_bind(const rz_config_t *cfg, int nranks)
{
    if (nranks <= 0) {
        nranks = rz_topo_ncores();
    }
    printf("# Binding (RZ_BIND=%s) of %d local rank%s\n", cfg->bind, nranks,
           nranks == 1 ? "" : "s");
    if (rz_topo_bind_print(stdout, cfg->bind, nranks) != RZ_OK) {
        printf("(no binding plan without a topology)\n");
        return RZ_INFO_EXIT_FAILURE;
    }
    rz_info_bind_local(cfg);
    return RZ_INFO_EXIT_OK;
}

/* -n's argument: a whole number in [1, RZ_INFO_MAX_RANKS]. */
static int rz_info_parse_ranks(const char *arg, int *nranks_p)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 1 ||
        v > RZ_INFO_MAX_RANKS) {
        return -1;
    }
    *nranks_p = (int)v;
    return 0;
}

static int rz_info_config(const rz_config_t *cfg)
{
    printf("# Configuration (RZ_* environment variables)\n");
    rz_config_print(stdout, cfg);
    /* The offending variable was already named on stderr by the parser. */
    return rz_config_global_status() == RZ_OK ? RZ_INFO_EXIT_OK
                                              : RZ_INFO_EXIT_FAILURE;
}

static void rz_info_plugin_line(const char *path, const char *name,
                                rz_status_t status, const rz_plugin_t *plugin,
                                void *arg)
{
    static const struct { unsigned bit; const char *name; } caps[] = {
        {RZ_COMPRESSOR_CAP_CONTRACTIVE, "contractive"},
        {RZ_COMPRESSOR_CAP_UNBIASED, "unbiased"},
        {RZ_COMPRESSOR_CAP_LINEAR, "linear"},
        {RZ_COMPRESSOR_CAP_IDEMPOTENT, "idempotent"},
        {RZ_COMPRESSOR_CAP_DETERMINISTIC, "deterministic"},
        {RZ_COMPRESSOR_CAP_HOMOGENEOUS, "homogeneous"},
        {RZ_COMPRESSOR_CAP_FIXED_SIZE, "fixed-size"},
        {RZ_COMPRESSOR_CAP_LOSSLESS, "lossless"},
    };
    int *count = arg;

    (*count)++;
    if (status != RZ_OK) {
        printf("%-12s unusable: %s (%s)\n", name, rz_status_string(status),
               path);
        return;
    }
    printf("%-12s wire 0x%08x  ", name, plugin->info.wire_id);
    for (size_t i = 0, first = 1; i < sizeof(caps) / sizeof(caps[0]); i++) {
        if (plugin->info.caps & caps[i].bit) {
            printf("%s%s", first ? "" : ",", caps[i].name);
            first = 0;
        }
    }
    printf("  %s (%s)\n",
           plugin->ops->description ? plugin->ops->description : "", path);
}

static int rz_info_plugins(void)
{
    const char *const *dirs = rz_plugin_search_dirs();
    int count = 0;

    printf("# plugins: search path\n");
    for (int i = 0; dirs[i] != NULL; i++) {
        printf("#   %s\n", dirs[i]);
    }
    rz_plugin_foreach(rz_info_plugin_line, &count);
    if (count == 0) {
        printf("(no compressor plugins found)\n");
    }
    return RZ_INFO_EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"all",        no_argument, NULL, 'a'},
        {"version",    no_argument, NULL, 'v'},
        {"transports", no_argument, NULL, 't'},
        {"topology",   no_argument, NULL, 'T'},
        {"bind",       no_argument, NULL, 'b'},
        {"ranks",      required_argument, NULL, 'n'},
        {"np",         required_argument, NULL, 'n'},
        {"plugins",    no_argument, NULL, 'p'},
        {"config",     no_argument, NULL, 'c'},
        {"help",       no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const rz_config_t *cfg;
    unsigned sections = 0;
    int help = 0, rc = RZ_INFO_EXIT_OK, printed = 0, nranks = 0, opt;

    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        char *slash = strrchr(argv[0], '/');
        /* getopt_long names argv[0] in its messages: make it match ours. */
        if (slash != NULL && slash[1] != '\0') {
            argv[0] = slash + 1;
        }
        rz_info_prog = argv[0];
    }

    while ((opt = getopt_long(argc, argv, "avtTbn:pch", long_opts, NULL)) !=
           -1) {
        switch (opt) {
        case 'a':
            sections |= RZ_INFO_SECTION_ALL;
            break;
        case 'v':
            sections |= RZ_INFO_SECTION_VERSION;
            break;
        case 't':
            sections |= RZ_INFO_SECTION_TRANSPORTS;
            break;
        case 'T':
            sections |= RZ_INFO_SECTION_TOPOLOGY;
            break;
        case 'b':
            sections |= RZ_INFO_SECTION_BIND;
            break;
        case 'n':
            if (rz_info_parse_ranks(optarg, &nranks) != 0) {
                rz_info_usage_error("invalid number of ranks '%s'", optarg);
                return RZ_INFO_EXIT_USAGE;
            }
            sections |= RZ_INFO_SECTION_BIND;
            break;
        case 'p':
            sections |= RZ_INFO_SECTION_PLUGINS;
            break;
        case 'c':
            sections |= RZ_INFO_SECTION_CONFIG;
            break;
        case 'h':
            help = 1;
            break;
        default:
            /* getopt_long has already said which option was wrong. */
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    rz_info_prog);
            return RZ_INFO_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        rz_info_usage_error("unexpected argument '%s'", argv[optind]);
        return RZ_INFO_EXIT_USAGE;
    }
    if (help) {
        rz_info_help(stdout);
        return RZ_INFO_EXIT_OK;
    }
    if (sections == 0) {
        sections = RZ_INFO_SECTION_ALL;
    }

    /* First, so RZ_LOG_LEVEL governs everything below and misspelled
     * variables are flagged whatever section was asked for. */
    cfg = rz_config_global();

#define RZ_INFO_SECTION(_bit, _call)                                           \
    do {                                                                       \
        if (sections & (_bit)) {                                               \
            int _rc;                                                           \
            if (printed++) {                                                   \
                printf("\n");                                                  \
            }                                                                  \
            _rc = (_call);                                                     \
            if (_rc != RZ_INFO_EXIT_OK) {                                      \
                rc = _rc;                                                      \
            }                                                                  \
            fflush(stdout);                                                    \
        }                                                                      \
    } while (0)

    RZ_INFO_SECTION(RZ_INFO_SECTION_VERSION, rz_info_version());
    RZ_INFO_SECTION(RZ_INFO_SECTION_TRANSPORTS, rz_info_transports());
    RZ_INFO_SECTION(RZ_INFO_SECTION_TOPOLOGY, rz_info_topology());
    RZ_INFO_SECTION(RZ_INFO_SECTION_BIND, rz_info_bind(cfg, nranks));
    RZ_INFO_SECTION(RZ_INFO_SECTION_PLUGINS, rz_info_plugins());
    RZ_INFO_SECTION(RZ_INFO_SECTION_CONFIG, rz_info_config(cfg));

#undef RZ_INFO_SECTION

    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* e.g. a full disk: the report is incomplete. */
        perror("rz_info: stdout");
        return RZ_INFO_EXIT_FAILURE;
    }
    return rc;
}
