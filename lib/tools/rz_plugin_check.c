/*
 * rz_plugin_check: conformance checker for compressor plugins. It loads one
 * plugin file with the library's loader and drives the plugin's v1 struct
 * directly (not the loader's checked wrappers: the plugin itself is under
 * test), checking the ABI contract of include/ringzip/compressor.h and the
 * compressor invariants of ALGORITHMS.md section 5.1 that the plugin
 * declares through its capability bits.
 *
 * Each property runs in a forked child with its result in shared memory, so
 * a plugin that crashes, trips a sanitizer or hangs fails that property
 * (with the last step it was given) instead of taking the checker down.
 * Every buffer handed to the plugin is either an exact-size allocation (so
 * AddressSanitizer sees overreads) or sits between canary guards (poisoned
 * under ASan as well), so stray writes are caught in either build.
 */
#include "rz_pc.h"

#include "plugin/rz_plugin.h"
#include "util/rz_config.h"

#include <ringzip/compressor.h>
#include <ringzip/status.h>

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const size_t rz_pc_default_sizes[] = {0,  1,   2,    7,    8,    9,
                                             31, 37, 100, 1000, 4097, 65537};

const char *rz_pc_prog = "rz_plugin_check";

/* ------------------------------------------------------------ the table */

typedef struct {
    const char *name;
    const char *ref;            /* ALGORITHMS.md 5.1 item, or NULL */
    uint32_t    cap;            /* 0: always run */
    int         per_dtype;
    int         arith;          /* needs the ABI's arithmetic for the type */
    void (*run)(rz_pc_t *pc, const rz_pc_dtype_t *dt);
    const char *help;
} rz_pc_prop_t;

static const rz_pc_prop_t rz_pc_props[] = {
    {"load", NULL, 0, 0, 0, rz_pc_prop_load,
     "The struct: abi_version 1, a struct_size covering v1's mandatory "
     "members, a valid name, every mandatory pointer set, a one-line "
     "description; query answers RZ_OK, the same each time, leaves "
     "struct_size alone and writes nothing past a shorter struct_size (an "
     "older host); at least one element type; a nonzero wire_id, equal to "
     "ringzip's table for the built-in names (none 1, fp16 2, bf16 3, sign "
     "4, blocksign 5, topk 6, randk 7, qsgd 8). Notes (not failures): "
     "unknown capability or type bits, no f32, delta_bound without "
     "CONTRACTIVE, a third-party name with a wire id below 0x80000000."},
    {"params", NULL, 0, 0, 0, rz_pc_prop_params,
     "init accepts NULL and \"\" (the defaults) and the parameters under "
     "test again; an unknown key and a pair without '=' return "
     "RZ_ERR_INVALID_PARAM and log an error through host->log."},
    {"size", "C5", 0, 1, 0, rz_pc_prop_size,
     "max_compressed_size(0) is 0; n = 0 compresses to 0 bytes (also with "
     "NULL buffers) and 0 bytes decompress to nothing. For n >= 1: "
     "max_compressed_size is nonzero and stable; compress returns RZ_OK with "
     "at most that many bytes, exactly that many under FIXED_SIZE; with a "
     "larger capacity it still writes nothing past max_compressed_size; "
     "nothing is written outside the output and residual buffers; the input "
     "is not modified; under DETERMINISTIC the bytes do not depend on the "
     "capacity or on asking for a residual."},
    {"residual", "C6", 0, 1, 1, rz_pc_prop_residual,
     "The residual equals in - Dec(out) elementwise, Dec being decompress "
     "with alpha 1, beta 0 into a fresh buffer, the subtraction one fp32 "
     "operation; decoded values of finite input are finite. In place "
     "(residual == in) the residual again equals in - Dec(out), and under "
     "DETERMINISTIC the bytes and the residual are bit-identical to the "
     "out-of-place call, and leaving out the residual changes no byte."},
    {"accumulate", NULL, 0, 1, 1, rz_pc_prop_accumulate,
     "decompress computes y = fl(fl(beta*y) + fl(alpha*d)) for several "
     "alpha and beta (negative, zero, a subnormal product); with beta == 0 "
     "(also -0) y is prefilled with NaN and must not be read: y = "
     "fl(alpha*d)."},
    {"round-trip", NULL, RZ_COMPRESSOR_CAP_LOSSLESS, 1, 0,
     rz_pc_prop_roundtrip,
     "Dec(Enc(v)) == v for every vector, extreme values "
     "included, and the residual is zero."},
    {"determinism", NULL, 0, 1, 0, rz_pc_prop_determinism,
     "Decoding the same bytes twice gives the same bits (always). Under "
     "DETERMINISTIC: the same input and key give the same bytes, also after "
     "encoding another vector with another key in between, and from a "
     "second context initialised with the same parameters."},
    {"contraction", "C2", RZ_COMPRESSOR_CAP_CONTRACTIVE, 1, 0,
     rz_pc_prop_contraction,
     "||v - C(v)||^2 <= (1 - delta) ||v||^2 (1 + 1e-12), norms "
     "in long double, on vectors in the normal range (or zero). delta comes "
     "from delta_bound, which must return RZ_OK and 0 < delta <= 1; without "
     "delta_bound the test is ||v - C(v)||^2 <= ||v||^2 (1 + 1e-12)."},
    {"idempotence", "C3", RZ_COMPRESSOR_CAP_IDEMPOTENT, 1, 0,
     rz_pc_prop_idempotence,
     "C(C(v)) == C(v) on decoded values, with the same key."},
    {"homogeneity", "C4", RZ_COMPRESSOR_CAP_HOMOGENEOUS, 1, 0,
     rz_pc_prop_homogeneity,
     "C(2v) == 2 C(v) and C(v/4) == C(v)/4, with the same key, "
     "for vectors whose scaled values and results stay in the normal "
     "range."},
    {"linearity", NULL, RZ_COMPRESSOR_CAP_LINEAR, 1, 1, rz_pc_prop_linearity,
     "C(a) + C(b) == C(a + b) with the same key, the sums "
     "elementwise fp32 additions."},
    {"unbiased", "C2", RZ_COMPRESSOR_CAP_UNBIASED, 1, 0, rz_pc_prop_unbiased,
     "The mean m of C(v) over 500 keys (iterations 0..499) "
     "against v, for counts up to 4097 (gauss, ties, zeros and 1-sparse "
     "vectors). With s2_i the sample variance of element i, R = 500 ||m - "
     "v||^2 / sum s2_i is about 1 for an unbiased codec, spread sqrt(2/d) "
     "with d = (sum s2_i)^2 / sum s2_i^2 the effective number of noisy "
     "elements; it passes up to 1 + 8 sqrt(3/d) + 16/d (31 for d = 1, 1.25 "
     "for d = 3000), plus 1e-12 ||v||^2 for rounding. A bias b is caught "
     "once 500 ||b||^2 clearly exceeds (bound - 1) sum s2_i. The detail "
     "also shows max |m_i - v_i| / (||v|| / sqrt(n))."},
    {"malformed", NULL, 0, 1, 0, rz_pc_prop_malformed,
     "The plugin's own bytes decode with RZ_OK. Under FIXED_SIZE, sizes "
     "S-1, S/2, 0, S+1 and S+64 for an encoding of S bytes, and S bytes "
     "for a count whose max_compressed_size is not S, are refused "
     "(RZ_ERR_MALFORMED expected; RZ_OK fails, another error is a note). "
     "Bytes for count 0 are refused. Random bytes of sizes 0 to 2S and "
     "mutated encodings (flipped bits, counts and indices set to 0, n, n+1, "
     "~0 ...) may return anything but must not crash, read past the bytes "
     "given (use the ASan build) or write outside y."},
    {"errors", NULL, 0, 1, 0, rz_pc_prop_errors,
     "NULL in, out or size_p for compress and NULL in or y for decompress "
     "(count > 0) return RZ_ERR_INVALID_PARAM. A capacity below "
     "max_compressed_size (max-1, max/2, 0) is refused (RZ_OK only without "
     "FIXED_SIZE and when the bytes fit), nothing is written past it, and a "
     "refused in-place call leaves its input alone. Element types the "
     "plugin does not declare return RZ_ERR_NOT_SUPPORTED from compress and "
     "an error from decompress."},
};
#define RZ_PC_NPROPS (sizeof(rz_pc_props) / sizeof(rz_pc_props[0]))

static const char *rz_pc_cap_name(uint32_t cap)
{
    switch (cap) {
    case RZ_COMPRESSOR_CAP_CONTRACTIVE:   return "CONTRACTIVE";
    case RZ_COMPRESSOR_CAP_UNBIASED:      return "UNBIASED";
    case RZ_COMPRESSOR_CAP_LINEAR:        return "LINEAR";
    case RZ_COMPRESSOR_CAP_IDEMPOTENT:    return "IDEMPOTENT";
    case RZ_COMPRESSOR_CAP_DETERMINISTIC: return "DETERMINISTIC";
    case RZ_COMPRESSOR_CAP_HOMOGENEOUS:   return "HOMOGENEOUS";
    case RZ_COMPRESSOR_CAP_FIXED_SIZE:    return "FIXED_SIZE";
    case RZ_COMPRESSOR_CAP_LOSSLESS:      return "LOSSLESS";
    default:                              return "?";
    }
}

/* Run one row, in a child unless --no-fork. */
static void rz_pc_run(rz_pc_t *pc, const rz_pc_prop_t *prop,
                      const rz_pc_dtype_t *dt, rz_pc_result_t *res)
{
    pid_t pid;
    int wst;

    memset(res, 0, sizeof(*res));
    pc->res = res;
    if (pc->verbosity > 0) {
        printf("== %s\n", pc->row);
    }
    if (!pc->fork) {
        prop->run(pc, dt);
        goto done;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", rz_pc_prog, strerror(errno));
        exit(RZ_PC_EXIT_USAGE);
    }
    if (pid == 0) {
        alarm(pc->timeout_s);
        prop->run(pc, dt);
        fflush(stdout);
        _exit(0);       /* no atexit work in the child (leak checks) */
    }
    while (waitpid(pid, &wst, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "%s: waitpid: %s\n", rz_pc_prog, strerror(errno));
            exit(RZ_PC_EXIT_USAGE);
        }
    }
    if (WIFSIGNALED(wst) || WEXITSTATUS(wst) != 0) {
        char why[96];
        if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM) {
            snprintf(why, sizeof(why), "hung: still running after %u s",
                     pc->timeout_s);
        } else if (WIFSIGNALED(wst)) {
            snprintf(why, sizeof(why), "crashed: signal %d (%s)",
                     WTERMSIG(wst), strsignal(WTERMSIG(wst)));
        } else {
            snprintf(why, sizeof(why), "died: exit status %d (a sanitizer "
                     "report above?)", WEXITSTATUS(wst));
        }
        res->failures++;
        snprintf(res->detail, sizeof(res->detail), "%s during: %.200s", why,
                 res->step);
    }
done:
    if (res->state != RZ_PC_SKIP) {
        res->state = res->failures > 0 ? RZ_PC_FAIL : RZ_PC_PASS;
    }
}

static void rz_pc_print_row(const rz_pc_t *pc, const char *row,
                            const char *applies, const rz_pc_result_t *res)
{
    static const char *const states[] = {"pass", "FAIL", "skip"};
    const char *detail = res->state == RZ_PC_PASS ? res->note : res->detail;
    char more[48] = "";

    if (pc->verbosity < 0 && res->state != RZ_PC_FAIL) {
        return;
    }
    if (res->state == RZ_PC_FAIL && res->failures > 1) {
        snprintf(more, sizeof(more), " (%llu failures%s)", res->failures,
                 res->failures >= RZ_PC_MAX_FAILS ? ", stopped" : "");
    }
    if (detail[0] == '\0' && more[0] == '\0') {
        printf("%-24s %-19s %s\n", row, applies, states[res->state]);
    } else {
        printf("%-24s %-19s %-6s %s%s\n", row, applies, states[res->state],
               detail, more);
    }
}

static size_t rz_pc_parse_count(const char *s, int *ok_p)
{
    char *end;
    unsigned long long v;

    errno = 0;
    while (*s == ' ') {
        s++;
    }
    if (*s < '0' || *s > '9') {
        *ok_p = 0;
        return 0;
    }
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || v > RZ_PC_MAX_COUNT) {
        *ok_p = 0;
        return 0;
    }
    while (*end == ' ') {
        end++;
    }
    *ok_p = *end == '\0';
    return (size_t)v;
}

/* "0,1,37" or "0 1 37" (or both). */
static int rz_pc_parse_sizes(rz_pc_t *pc, const char *arg)
{
    char buf[1024];
    char *save = NULL, *tok;

    if (strlen(arg) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, arg);
    pc->nsizes = 0;
    for (tok = strtok_r(buf, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        int ok;
        size_t v = rz_pc_parse_count(tok, &ok);
        if (!ok || pc->nsizes == RZ_PC_MAX_SIZES) {
            return -1;
        }
        pc->sizes[pc->nsizes++] = v;
    }
    return pc->nsizes > 0 ? 0 : -1;
}

static void rz_pc_help(FILE *out)
{
    fprintf(out,
"NAME\n"
"    %s - check a ringzip compressor plugin against the plugin\n"
"    ABI and the compressor invariants\n"
"\n"
"SYNOPSIS\n"
"    %s [-q | -v] [-s SEED] [-n TRIALS] [--sizes LIST]\n"
"                    [--only LIST] [--timeout S] [--no-fork]\n"
"                    PLUGIN.so [PARAMS]\n"
"    %s -h\n"
"\n"
"DESCRIPTION\n"
"    %s loads PLUGIN.so (a file librz_<name>.so) with\n"
"    ringzip's plugin loader, initialises it with the parameter string\n"
"    PARAMS (\"key=value,...\"; default: none) and calls its\n"
"    rz_compressor_plugin_v1 functions directly, checking the ABI contract\n"
"    of <ringzip/compressor.h> and the compressor invariants of\n"
"    ALGORITHMS.md section 5.1 (C2 to C6) that the plugin declares through\n"
"    its capability bits. It prints one row per property: its name,\n"
"    whether it applies (always, or the capability that turns it on),\n"
"    pass, FAIL or skip, and the first failure, with the count, the test\n"
"    vector and the expected and actual values in C's %%a hexadecimal\n"
"    notation. A summary line follows.\n"
"\n"
"    Test vectors come from a seeded generator (-s), one of each kind per\n"
"    trial and count: gauss (roughly normal), ties (few distinct\n"
"    magnitudes), zeros (+0 and -0 mixed in), 1-sparse, wide (magnitudes\n"
"    2^-40 to 2^40), all-zero, subnormal and extreme (the largest finite\n"
"    values and other edges); no NaN or infinity. Each property uses the\n"
"    kinds its rule holds for. Keys vary seed, iteration, chunk and rank.\n"
"    \"==\" comparisons are elementwise, so +0 equals -0 (ALGORITHMS.md\n"
"    section 5, \"bitwise\"). Every buffer given to the plugin is either\n"
"    allocated to its exact size (so an AddressSanitizer build of the\n"
"    checker and plugin reports overreads) or surrounded by canary bytes\n"
"    that are checked after the call (and poisoned under ASan).\n"
"\n"
"    Properties are checked for f32, and for f64, f16 and bf16 too when the\n"
"    plugin declares them (rows suffixed [f64] ...); residual, accumulate and\n"
"    linearity need arithmetic the ABI defines only for f32 and f64 and are\n"
"    skipped for the 16-bit types. A plugin that does not accept f32 gets\n"
"    its f32 rows skipped, with a note on the load row.\n"
"\n"
"    Each property runs in a child process: a plugin that crashes, trips a\n"
"    sanitizer or runs longer than --timeout fails that property, and the\n"
"    row names the step that was running.\n"
"\n"
"PROPERTIES\n",
            rz_pc_prog, rz_pc_prog, rz_pc_prog, rz_pc_prog);
    for (size_t i = 0; i < RZ_PC_NPROPS; i++) {
        const rz_pc_prop_t *p = &rz_pc_props[i];
        const char *text = p->help;
        int width = 69;

        fprintf(out, "    %s%s%s%s - %s%s%s\n", p->name, p->ref ? " (" : "",
                p->ref ? p->ref : "", p->ref ? ")" : "",
                p->cap ? "when " : "always",
                p->cap ? rz_pc_cap_name(p->cap) : "",
                p->cap ? " is declared" : "");
        /* Wrap at word boundaries. */
        while (*text != '\0') {
            int len = (int)strlen(text), cut = len;
            if (len > width) {
                for (cut = width; cut > 0 && text[cut] != ' '; cut--) {
                }
                if (cut == 0) {
                    cut = (int)strcspn(text, " ");
                }
            }
            fprintf(out, "        %.*s\n", cut, text);
            text += cut;
            while (*text == ' ') {
                text++;
            }
        }
        fprintf(out, "\n");
    }
    fprintf(out,
"OPTIONS\n"
"    -s, --seed=SEED\n"
"        Seed of the test vectors and keys (decimal or 0x hex). Default %u.\n"
"\n"
"    -n, --trials=N\n"
"        Vectors of each kind per count, 1 to %u. Default %u.\n"
"\n"
"    --sizes=LIST\n"
"        Element counts to test, separated by commas or spaces, each at\n"
"        most %u. Default: 0 1 2 7 8 9 31 37 100 1000 4097 65537.\n"
"\n"
"    --only=LIST\n"
"        Run only the named properties (comma-separated names as in the\n"
"        table, e.g. residual,malformed).\n"
"\n"
"    -q, --quiet\n"
"        Print only failing rows and the summary.\n"
"\n"
"    -v, --verbose\n"
"        Also print each property as it starts, up to %d failures and notes\n"
"        per property, statistics and what the plugin logs.\n"
"\n"
"    --timeout=S\n"
"        Seconds one property may run before it fails as hung. Default %u.\n"
"\n"
"    --no-fork\n"
"        Run the properties in this process (for a debugger); a crash then\n"
"        ends the run.\n"
"\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"ENVIRONMENT\n"
"    RZ_LOG_LEVEL\n"
"        The loader's log level (default warn): why a plugin could not be\n"
"        loaded is logged at error level. What the plugin itself logs is\n"
"        captured (the checker provokes errors on purpose) and shown with\n"
"        -v.\n"
"\n"
"EXIT STATUS\n"
"    0   Every property that applies passed.\n"
"    1   At least one property failed.\n"
"    2   Bad usage, or the plugin could not be loaded (the loader's status\n"
"        and message say why), or the checker itself failed (memory,\n"
"        fork).\n"
"\n"
"EXAMPLES\n"
"    In a build tree (make check runs the first two kinds for every\n"
"    built-in plugin):\n"
"\n"
"    %s lib/ringzip/librz_topk.so\n"
"        Check top-k with its default parameters.\n"
"\n"
"    %s lib/ringzip/librz_topk.so ratio=0.1\n"
"        The same with 10%% of the elements kept.\n"
"\n"
"    %s -v --only malformed --sizes 1,37,1000 -n 8 librz_mine.so\n"
"        Hammer the decoder of a third-party plugin, with details.\n"
"\n"
"    %s -q -s 0x5eed lib/ringzip/librz_qsgd.so levels=4,bucket=64\n"
"        Another seed; print only what fails.\n"
"\n"
"SEE ALSO\n"
"    rz_info(1); docs/PLUGIN_CHECK.md; include/ringzip/compressor.h;\n"
"    ALGORITHMS.md sections 1.2 and 5.1\n",
            RZ_PC_DEFAULT_SEED, RZ_PC_MAX_TRIALS, RZ_PC_DEFAULT_TRIALS,
            RZ_PC_MAX_COUNT, RZ_PC_VERBOSE_FAILS, RZ_PC_TIMEOUT_S, rz_pc_prog,
            rz_pc_prog, rz_pc_prog, rz_pc_prog);
}

static int rz_pc_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", rz_pc_prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", rz_pc_prog);
    return RZ_PC_EXIT_USAGE;
}

/* 1 when property @name is in the comma-separated @only (NULL: all). */
static int rz_pc_selected(const char *only, const char *name)
{
    size_t len = strlen(name);

    if (only == NULL) {
        return 1;
    }
    for (const char *p = only; *p != '\0';) {
        size_t l = strcspn(p, ",");
        if (l == len && strncmp(p, name, len) == 0) {
            return 1;
        }
        p += l + (p[l] == ',');
    }
    return 0;
}

static void rz_pc_print_caps(uint32_t caps)
{
    int first = 1;

    for (uint32_t bit = 1; bit != 0; bit <<= 1) {
        if (caps & bit) {
            const char *name = rz_pc_cap_name(bit);
            if (name[0] == '?') {
                printf("%s0x%x", first ? "" : "|", bit);
            } else {
                printf("%s%s", first ? "" : "|", name);
            }
            first = 0;
        }
    }
    if (first) {
        printf("none");
    }
}

int main(int argc, char **argv)
{
    enum { OPT_SIZES = 256, OPT_ONLY, OPT_NO_FORK, OPT_TIMEOUT };
    static const struct option long_opts[] = {
        {"seed",    required_argument, NULL, 's'},
        {"trials",  required_argument, NULL, 'n'},
        {"sizes",   required_argument, NULL, OPT_SIZES},
        {"only",    required_argument, NULL, OPT_ONLY},
        {"quiet",   no_argument,       NULL, 'q'},
        {"verbose", no_argument,       NULL, 'v'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-fork", no_argument,       NULL, OPT_NO_FORK},
        {"help",    no_argument,       NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    rz_pc_t pc;
    rz_pc_logbook_t book;
    rz_pc_result_t *results;
    const char *only = NULL;
    unsigned passed = 0, failed = 0, skipped = 0;
    unsigned long long checks = 0;
    size_t nrows = 0;
    rz_status_t st;
    int opt, help = 0;

    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        char *slash = strrchr(argv[0], '/');
        if (slash != NULL && slash[1] != '\0') {
            argv[0] = slash + 1;
        }
        rz_pc_prog = argv[0];
    }
    memset(&pc, 0, sizeof(pc));
    pc.seed = RZ_PC_DEFAULT_SEED;
    pc.trials = RZ_PC_DEFAULT_TRIALS;
    pc.fork = 1;
    pc.timeout_s = RZ_PC_TIMEOUT_S;
    memcpy(pc.sizes, rz_pc_default_sizes, sizeof(rz_pc_default_sizes));
    pc.nsizes = sizeof(rz_pc_default_sizes) / sizeof(rz_pc_default_sizes[0]);

    while ((opt = getopt_long(argc, argv, "s:n:qvh", long_opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            errno = 0;
            pc.seed = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' ||
                optarg[0] == '-') {
                return rz_pc_usage_error("invalid seed '%s'", optarg);
            }
            break;
        case 'n': {
            int ok;
            size_t t = rz_pc_parse_count(optarg, &ok);
            if (!ok || t < 1 || t > RZ_PC_MAX_TRIALS) {
                return rz_pc_usage_error("invalid number of trials '%s'",
                                         optarg);
            }
            pc.trials = (unsigned)t;
            break;
        }
        case OPT_SIZES:
            if (rz_pc_parse_sizes(&pc, optarg) != 0) {
                return rz_pc_usage_error("invalid size list '%s'", optarg);
            }
            break;
        case OPT_ONLY:
            only = optarg;
            break;
        case 'q':
            pc.verbosity = -1;
            break;
        case 'v':
            pc.verbosity = 1;
            break;
        case OPT_TIMEOUT: {
            int ok;
            size_t t = rz_pc_parse_count(optarg, &ok);
            if (!ok || t < 1 || t > RZ_PC_MAX_TIMEOUT_S) {
                return rz_pc_usage_error("invalid timeout '%s'", optarg);
            }
            pc.timeout_s = (unsigned)t;
            break;
        }
        case OPT_NO_FORK:
            pc.fork = 0;
            break;
        case 'h':
            help = 1;
            break;
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    rz_pc_prog);
            return RZ_PC_EXIT_USAGE;
        }
    }
    if (help) {
        rz_pc_help(stdout);
        return RZ_PC_EXIT_PASS;
    }
    if (optind >= argc) {
        return rz_pc_usage_error("%s", "no plugin file given");
    }
    if (argc - optind > 2) {
        return rz_pc_usage_error("unexpected argument '%s'", argv[optind + 2]);
    }
    if (only != NULL) {
        for (const char *p = only; *p != '\0';) {
            size_t l = strcspn(p, ","), i;
            char name[32];
            for (i = 0; i < RZ_PC_NPROPS; i++) {
                if (strlen(rz_pc_props[i].name) == l &&
                    strncmp(p, rz_pc_props[i].name, l) == 0) {
                    break;
                }
            }
            if (i == RZ_PC_NPROPS) {
                snprintf(name, sizeof(name), "%.*s", (int)l, p);
                return rz_pc_usage_error("unknown property '%s' in --only",
                                         name);
            }
            p += l + (p[l] == ',');
        }
    }
    pc.path = argv[optind];
    pc.params = optind + 1 < argc ? argv[optind + 1] : "";

    if (pc.verbosity > 0) {
        /* Whatever a crashing child printed last is what explains it. */
        setvbuf(stdout, NULL, _IOLBF, 0);
    }
    /* RZ_LOG_LEVEL and friends, before the loader logs anything. */
    (void)rz_config_global();
    st = rz_plugin_open_file(pc.path, pc.params, &pc.plugin);
    if (st != RZ_OK) {
        fprintf(stderr, "%s: cannot load %s: %s (%s); the loader's message "
                "above says why\n", rz_pc_prog, pc.path, rz_status_string(st),
                rz_pc_status_name(st));
        return RZ_PC_EXIT_USAGE;
    }
    pc.ops = pc.plugin->ops;
    pc.ctx = pc.plugin->ctx;
    pc.info = pc.plugin->info;
    /* The checker provokes errors on purpose: what the plugin logs about
     * them belongs to -v, not to stderr. The plugin keeps a pointer to the
     * loader's host struct, so redirect that struct's logger. */
    memset(&book, 0, sizeof(book));
    book.pc = &pc;
    pc.plugin->host.log = rz_pc_host_log;
    pc.plugin->host.host_data = &book;

    results = mmap(NULL, (RZ_PC_NPROPS * RZ_PC_NDTYPES) * sizeof(*results),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (results == MAP_FAILED) {
        fprintf(stderr, "%s: mmap: %s\n", rz_pc_prog, strerror(errno));
        rz_plugin_close(pc.plugin);
        return RZ_PC_EXIT_USAGE;
    }

    if (pc.verbosity >= 0) {
        printf("%s: %s\n", rz_pc_prog, pc.path);
        printf("  name %s, wire id %u (0x%x), priority %d, min count %" PRIu64
               "\n", pc.ops->name, pc.info.wire_id, pc.info.wire_id,
               pc.info.priority, pc.info.min_count);
        printf("  caps ");
        rz_pc_print_caps(pc.info.caps);
        printf("\n  dtypes");
        for (size_t d = 0; d < RZ_PC_NDTYPES; d++) {
            if (rz_pc_accepts(&pc, rz_pc_dtypes[d].id)) {
                printf(" %s", rz_pc_dtypes[d].name);
            }
        }
        printf("\n  params \"%s\", seed %" PRIu64 " (0x%" PRIx64 "), %u "
               "trial%s, sizes", pc.params, pc.seed, pc.seed, pc.trials,
               pc.trials == 1 ? "" : "s");
        for (size_t i = 0; i < pc.nsizes; i++) {
            printf(" %zu", pc.sizes[i]);
        }
        printf("\n\n");
    }

    /* Rows: the dtype-independent ones, then each property per type (f32
     * always, the others when declared). */
    {
        struct {
            char row[48];
            char applies[32];
        } rows[RZ_PC_NPROPS * RZ_PC_NDTYPES];

        for (size_t d = 0; d < RZ_PC_NDTYPES; d++) {
            const rz_pc_dtype_t *dt = &rz_pc_dtypes[d];
            int accepted = rz_pc_accepts(&pc, dt->id);

            if (d > 0 && !accepted) {
                continue;
            }
            for (size_t i = 0; i < RZ_PC_NPROPS; i++) {
                const rz_pc_prop_t *p = &rz_pc_props[i];
                rz_pc_result_t *res = &results[nrows];
                char *row = rows[nrows].row, *applies = rows[nrows].applies;

                if ((!p->per_dtype && d > 0) ||
                    !rz_pc_selected(only, p->name)) {
                    continue;
                }
                snprintf(row, sizeof(rows[0].row), "%s%s%s%s", p->name,
                         p->ref ? " (" : "", p->ref ? p->ref : "",
                         p->ref ? ")" : "");
                if (p->per_dtype && d > 0) {
                    size_t l = strlen(row);
                    snprintf(row + l, sizeof(rows[0].row) - l, "[%s]",
                             dt->name);
                }
                snprintf(applies, sizeof(rows[0].applies), "%s%s",
                         p->cap == 0 ? "always"
                         : rz_pc_has(&pc, p->cap) ? "yes: " : "no: ",
                         p->cap == 0 ? "" : rz_pc_cap_name(p->cap));
                snprintf(pc.row, sizeof(pc.row), "%s", row);
                memset(res, 0, sizeof(*res));
                if (p->cap != 0 && !rz_pc_has(&pc, p->cap)) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "%s not declared", rz_pc_cap_name(p->cap));
                } else if (p->per_dtype && !accepted) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "%s not accepted", dt->name);
                } else if (p->arith && !dt->arith) {
                    res->state = RZ_PC_SKIP;
                    snprintf(res->detail, sizeof(res->detail),
                             "the ABI defines no %s arithmetic", dt->name);
                } else {
                    rz_pc_run(&pc, p, dt, res);
                }
                nrows++;
            }
        }

        if (pc.verbosity > 0) {
            printf("\n");
        }
        if (pc.verbosity >= 0) {
            printf("%-24s %-19s %-6s %s\n", "PROPERTY", "APPLIES", "RESULT",
                   "DETAIL");
        }
        for (size_t r = 0; r < nrows; r++) {
            rz_pc_print_row(&pc, rows[r].row, rows[r].applies, &results[r]);
            checks += results[r].checks;
            passed += results[r].state == RZ_PC_PASS;
            failed += results[r].state == RZ_PC_FAIL;
            skipped += results[r].state == RZ_PC_SKIP;
        }
    }
    printf("%s%s: %s: %u passed, %u failed, %u skipped, %llu checks\n",
           pc.verbosity >= 0 ? "\n" : "", pc.ops->name,
           failed > 0 ? "FAIL" : "PASS", passed, failed, skipped, checks);

    munmap(results, (RZ_PC_NPROPS * RZ_PC_NDTYPES) * sizeof(*results));
    rz_plugin_close(pc.plugin);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return RZ_PC_EXIT_USAGE;
    }
    return failed > 0 ? RZ_PC_EXIT_FAIL : RZ_PC_EXIT_PASS;
}
