/*
 * rzrun: start an N-rank ringzip job on this host.
 *
 * The launcher uses libc only, never libringzip: it has to keep working
 * while the library is broken or half rebuilt, and a job's failure must not
 * be able to take the launcher down with it.
 *
 * One thread, one poll() loop. Signals arrive through a signalfd (they stay
 * blocked everywhere else), so a SIGCHLD or a forwarded signal never races
 * with the output code, and the loop sleeps until a pipe, a signal or the
 * next deadline needs it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RZ_RUN_VERSION          "0.1.0"
#define RZ_RUN_MAX_RANKS        4096
#define RZ_RUN_CHUNK            65536
/* A "line" longer than this is cut so one silent rank cannot eat memory. */
#define RZ_RUN_LINE_MAX         (1024 * 1024)
/* Bounded so a grandchild that keeps writing cannot keep us alive. */
#define RZ_RUN_DRAIN_CHUNKS     64
#define RZ_RUN_FINAL_DRAIN_S    2.0
#define RZ_RUN_TERM_KILL_S      3.0
#define RZ_RUN_SIGNAL_KILL_S    5.0
#define RZ_RUN_EXIT_USAGE       2
#define RZ_RUN_EXIT_TIMEOUT     124
#define RZ_RUN_EXIT_INTERNAL    125
#define RZ_RUN_EXIT_NOEXEC      127

typedef struct {
    char   *data;
    size_t len;
    size_t cap;
} rz_buf_t;

typedef struct {
    int      fd;      /* read end of the rank's pipe, -1 once at EOF */
    int      out_fd;  /* STDOUT_FILENO or STDERR_FILENO */
    rz_buf_t partial; /* bytes after the last newline seen */
} rz_stream_t;

typedef struct {
    pid_t       pid;
    bool        alive;
    rz_stream_t streams[2];
} rz_rank_t;

typedef struct {
    int         np;
    bool        prefix;
    double      grace;
    double      timeout; /* 0: none */
    const char  *root_addr;
    char        **exports;
    int         num_exports;
    char        **argv;
} rz_opts_t;

typedef enum {
    RZ_PHASE_RUNNING,     /* no rank has failed */
    RZ_PHASE_GRACE,       /* a rank failed; the others may still finish */
    RZ_PHASE_TERMINATING  /* SIGTERM sent; SIGKILL follows */
} rz_phase_t;

typedef struct {
    const rz_opts_t *opts;
    rz_rank_t       *ranks;
    int             nstarted;
    int             live;
    int             sigfd;
    int             devnull;
    rz_phase_t      phase;
    bool            user_shutdown; /* a SIGINT/SIGTERM was forwarded */
    bool            timed_out;
    int             first_fail;    /* exit code of the first failure, or -1 */
    double          start;
    double          grace_deadline;
    double          kill_deadline; /* 0: not armed */
    double          kill_delay;    /* for the SIGKILL message */
    const char      *kill_after;   /* signal name the SIGKILL follows */
    bool            out_dead[2];   /* our stdout/stderr is gone (EPIPE) */
    rz_buf_t        out;
    char            *scratch;
    bool            oom_warned;
    /* What the children get back before exec. */
    sigset_t        orig_mask;
    struct sigaction orig_sigpipe;
    struct rlimit   orig_nofile;
} rz_run_t;

static const int rz_forwarded_signals[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
};

static const char rz_usage_text[] =
    "Usage: rzrun [options] -np N program [args...]\n"
    "\n"
    "Options:\n"
    "  -np N, -n N, --np N     number of ranks to start (1..4096, required)\n"
    "  -x NAME=VALUE           set an environment variable in every rank\n"
    "  --no-prefix             do not prefix output lines with [rank]\n"
    "  --grace SECONDS         after a rank fails, let the others run this\n"
    "                          long before terminating them (default 0)\n"
    "  --timeout SECONDS       kill the job after this long (default none)\n"
    "  --root-addr HOST:PORT   bootstrap address instead of a free\n"
    "                          127.0.0.1 port\n"
    "  -h, --help              show the full help text\n"
    "  --version               show the version\n";

static const char rz_help_text[] =
    "NAME\n"
    "    rzrun - start a ringzip job of N local processes\n"
    "\n"
    "SYNOPSIS\n"
    "    rzrun [options] -np N program [args...]\n"
    "\n"
    "DESCRIPTION\n"
    "    rzrun starts N copies of program on this host, one per rank, with\n"
    "    the environment rz_comm_init_env() reads to join them into one job.\n"
    "    Rank 0 serves the bootstrap on RZ_ROOT_ADDR; by default that is a\n"
    "    free TCP port on 127.0.0.1, picked by binding port 0 and closing\n"
    "    the socket again just before the ranks start.\n"
    "\n"
    "    Every rank gets /dev/null as stdin. Its stdout and stderr are read\n"
    "    through pipes and copied to rzrun's stdout and stderr one whole\n"
    "    line at a time, each line prefixed with \"[R] \" (R being the\n"
    "    rank), so lines of different ranks never mix. A last line without\n"
    "    a newline is printed with one added when the rank closes its\n"
    "    output; a line longer than 1 MiB is cut into 1 MiB lines.\n"
    "\n"
    "    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to rzrun\n"
    "    are passed on to every rank still running. Ranks that are still\n"
    "    alive 5 seconds after a SIGINT or SIGTERM are killed with SIGKILL.\n"
    "    The ranks stay in rzrun's process group, so a SIGINT or SIGQUIT\n"
    "    typed at the terminal already reaches them; rzrun does not send\n"
    "    them a second copy. Signals go to each rank's own process, not to\n"
    "    processes the rank started in turn.\n"
    "\n"
    "    When a rank exits with a non-zero status or is killed by a signal,\n"
    "    rzrun reports it on stderr, waits for the --grace period (during\n"
    "    which the other ranks may finish on their own and their output is\n"
    "    still copied), then sends SIGTERM to the ranks left and SIGKILL to\n"
    "    those still alive 3 seconds later. rzrun exits once every rank has\n"
    "    been reaped and the output they wrote has been copied.\n"
    "\n"
    "OPTIONS\n"
    "    -np N, -n N, --np N, --np=N\n"
    "        Number of ranks to start, from 1 to 4096. Required.\n"
    "\n"
    "    -x NAME=VALUE\n"
    "        Set NAME to VALUE in the environment of every rank. May be\n"
    "        given several times. The RZ_ variables listed under ENVIRONMENT\n"
    "        are set by rzrun and cannot be changed this way (use\n"
    "        --root-addr for RZ_ROOT_ADDR).\n"
    "\n"
    "    --no-prefix\n"
    "        Copy output lines without the \"[R] \" prefix. Lines are still\n"
    "        copied whole.\n"
    "\n"
    "    --grace SECONDS, --grace=SECONDS\n"
    "        After the first rank fails, give the other ranks this long to\n"
    "        finish before they are sent SIGTERM. May be fractional.\n"
    "        Default 0: terminate them at once.\n"
    "\n"
    "    --timeout SECONDS, --timeout=SECONDS\n"
    "        If the job is still running after this long, send SIGTERM to\n"
    "        every rank, SIGKILL 3 seconds later, and exit with status 124.\n"
    "        May be fractional. Default 0: no limit.\n"
    "\n"
    "    --root-addr HOST:PORT, --root-addr=HOST:PORT\n"
    "        Use this bootstrap address instead of picking a free port on\n"
    "        127.0.0.1. Rank 0 must be able to listen on it.\n"
    "\n"
    "    -h, --help\n"
    "        Print this help and exit.\n"
    "\n"
    "    --version\n"
    "        Print the version and exit.\n"
    "\n"
    "    Options end at the first argument that does not start with '-',\n"
    "    or after \"--\"; everything from there on is the program and its\n"
    "    arguments, found through PATH.\n"
    "\n"
    "ENVIRONMENT\n"
    "    Each rank inherits rzrun's environment, plus the -x variables, plus:\n"
    "\n"
    "    RZ_RANK          the rank, 0 to N-1\n"
    "    RZ_SIZE          N\n"
    "    RZ_LOCAL_RANK    the rank among the ranks on this host (= RZ_RANK)\n"
    "    RZ_LOCAL_SIZE    the number of ranks on this host (= N)\n"
    "    RZ_ROOT_ADDR     HOST:PORT of the bootstrap root served by rank 0\n"
    "    RZ_SESSION_KEY   128 random bits as 32 lowercase hex digits, the\n"
    "                     same for every rank of the job and new for each\n"
    "                     job, which the bootstrap root checks\n"
    "\n"
    "EXIT STATUS\n"
    "    0      every rank exited with status 0\n"
    "    1-255  the exit status of the first rank that failed, or 128+S\n"
    "           if it was killed by signal S (1 if that would be 0)\n"
    "    2      the command line was wrong\n"
    "    124    the job ran past --timeout (this wins over a rank's status)\n"
    "    125    rzrun itself failed (no pipes, no fork, no random bytes)\n"
    "    127    (reported by the first rank) the program could not be run;\n"
    "           each rank prints \"rzrun: cannot execute ...\" on stderr\n"
    "\n"
    "EXAMPLES\n"
    "    Four ranks of a test program:\n"
    "        rzrun -np 4 ./rz_allreduce_perf -b 8 -e 128M\n"
    "\n"
    "    See the environment each rank gets:\n"
    "        rzrun -np 2 sh -c 'env | grep ^RZ_'\n"
    "\n"
    "    Let the other ranks finish their output for 2 s after one fails,\n"
    "    and give up on the whole job after 10 minutes:\n"
    "        rzrun -np 8 --grace 2 --timeout 600 ./my_job\n"
    "\n"
    "    Pass a setting to every rank and keep the output unprefixed:\n"
    "        rzrun -np 2 -x RZ_LOG_LEVEL=debug --no-prefix ./my_job\n";

static double rz_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool rz_buf_reserve(rz_buf_t *buf, size_t extra)
{
    size_t need = buf->len + extra;
    size_t cap;
    char *data;

    if (need <= buf->cap) {
        return true;
    }
    cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    data = realloc(buf->data, cap);
    if (data == NULL) {
        return false;
    }
    buf->data = data;
    buf->cap  = cap;
    return true;
}

static bool rz_buf_append(rz_buf_t *buf, const void *data, size_t len)
{
    if (len == 0) {
        return true; /* data may be NULL then */
    }
    if (!rz_buf_reserve(buf, len)) {
        return false;
    }
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return true;
}

static void rz_buf_free(rz_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len  = buf->cap = 0;
}

/*
 * Our own output fds may be non-blocking (inherited), so EAGAIN waits for
 * room instead of dropping a line. EPIPE and friends silence that stream for
 * good but leave the job running: the ranks' results matter more than their
 * chatter.
 */
static void rz_write_all(rz_run_t *run, int fd, const char *p, size_t n)
{
    int idx = (fd == STDOUT_FILENO) ? 0 : 1;

    while (n > 0 && !run->out_dead[idx]) {
        ssize_t w = write(fd, p, n);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            (void)poll(&pfd, 1, -1);
        } else {
            run->out_dead[idx] = true;
        }
    }
}

static void __attribute__((format(printf, 2, 3)))
rz_msg(rz_run_t *run, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int len;

    memcpy(line, "rzrun: ", 7);
    va_start(ap, fmt);
    len = vsnprintf(line + 7, sizeof(line) - 8, fmt, ap);
    va_end(ap);
    if (len < 0) {
        return;
    }
    len += 7;
    if ((size_t)len > sizeof(line) - 2) {
        len = (int)sizeof(line) - 2;
    }
    line[len++] = '\n';
    rz_write_all(run, STDERR_FILENO, line, (size_t)len);
}

static const char *rz_plural(int n)
{
    return (n == 1) ? "" : "s";
}

/* ---------------------------------------------------------------------- */
/* Command line                                                           */
/* ---------------------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2)))
rz_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("rzrun: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(rz_usage_text, stderr);
    fputs("\nTry 'rzrun --help' for more information.\n", stderr);
    exit(RZ_RUN_EXIT_USAGE);
}

static double rz_parse_seconds(const char *opt, const char *value)
{
    char *end;
    double v;

    errno = 0;
    v     = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !isfinite(v) ||
        v < 0) {
        rz_usage_error("invalid value '%s' for %s: expected a number of "
                       "seconds >= 0", value, opt);
    }
    return v;
}

static int rz_parse_np(const char *opt, const char *value)
{
    char *end;
    long v;

    errno = 0;
    v     = strtol(value, &end, 10);
    if (errno == ERANGE) {
        v = (value[0] == '-') ? LONG_MIN : LONG_MAX;
    } else if (end == value || *end != '\0') {
        rz_usage_error("invalid rank count '%s' for %s", value, opt);
    }
    if (v < 1) {
        rz_usage_error("%s must be at least 1 (got %s)", opt, value);
    }
    if (v > RZ_RUN_MAX_RANKS) {
        rz_usage_error("%s %s exceeds the maximum of %d ranks", opt, value,
                       RZ_RUN_MAX_RANKS);
    }
    return (int)v;
}

static void rz_check_export(const char *value)
{
    const char *eq = strchr(value, '=');
    const char *p;

    if (eq == NULL || eq == value) {
        rz_usage_error("-x expects NAME=VALUE, got '%s'", value);
    }
    for (p = value; p < eq; ++p) {
        bool alpha = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     *p == '_';
        bool digit = (*p >= '0' && *p <= '9');

        if (!alpha && !(digit && p != value)) {
            rz_usage_error("-x: '%.*s' is not a valid variable name",
                           (int)(eq - value), value);
        }
    }
}

static void rz_check_root_addr(const char *value)
{
    const char *colon = strrchr(value, ':');
    char *end;
    long port;

    if (colon == NULL || colon == value || colon[1] == '\0') {
        rz_usage_error("--root-addr expects HOST:PORT, got '%s'", value);
    }
    errno = 0;
    port  = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
        rz_usage_error("--root-addr: invalid port in '%s'", value);
    }
}

/* "--name=value" is split here; single-dash options never take "=". */
static const char *rz_opt_value(int argc, char **argv, int *i,
                                const char *name, const char *inline_value)
{
    if (inline_value != NULL) {
        return inline_value;
    }
    if (*i + 1 >= argc) {
        rz_usage_error("option '%s' requires an argument", name);
    }
    return argv[++*i];
}

static void rz_parse_args(int argc, char **argv, rz_opts_t *opts)
{
    const char *np_opt = NULL;
    int i;

    memset(opts, 0, sizeof(*opts));
    opts->prefix  = true;
    opts->exports = calloc((size_t)argc, sizeof(*opts->exports));
    if (opts->exports == NULL) {
        fprintf(stderr, "rzrun: out of memory\n");
        exit(RZ_RUN_EXIT_INTERNAL);
    }

    for (i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char *eq  = NULL;
        char name[64];
        size_t nlen;

        if (strcmp(arg, "--") == 0) {
            ++i;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            break;
        }
        nlen = strlen(arg);
        if (arg[1] == '-' && (eq = strchr(arg, '=')) != NULL) {
            nlen = (size_t)(eq - arg);
            ++eq;
        }
        if (nlen >= sizeof(name)) {
            rz_usage_error("unknown option '%s'", arg);
        }
        memcpy(name, arg, nlen);
        name[nlen] = '\0';

        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            fputs(rz_help_text, stdout);
            exit(fflush(stdout) == 0 ? 0 : 1);
        } else if (!strcmp(name, "--version")) {
            puts("rzrun (ringzip) " RZ_RUN_VERSION);
            exit(fflush(stdout) == 0 ? 0 : 1);
        } else if (!strcmp(name, "-np") || !strcmp(name, "-n") ||
                   !strcmp(name, "--np")) {
            np_opt   = name[1] == '-' ? "--np" : (name[2] ? "-np" : "-n");
            opts->np = rz_parse_np(np_opt,
                                   rz_opt_value(argc, argv, &i, name, eq));
        } else if (!strcmp(name, "-x")) {
            const char *value = rz_opt_value(argc, argv, &i, name, eq);

            rz_check_export(value);
            opts->exports[opts->num_exports++] = (char *)value;
        } else if (!strcmp(name, "--no-prefix")) {
            if (eq != NULL) {
                rz_usage_error("option '--no-prefix' takes no argument");
            }
            opts->prefix = false;
        } else if (!strcmp(name, "--grace")) {
            opts->grace = rz_parse_seconds(
                name, rz_opt_value(argc, argv, &i, name, eq));
        } else if (!strcmp(name, "--timeout")) {
            opts->timeout = rz_parse_seconds(
                name, rz_opt_value(argc, argv, &i, name, eq));
        } else if (!strcmp(name, "--root-addr")) {
            opts->root_addr = rz_opt_value(argc, argv, &i, name, eq);
            rz_check_root_addr(opts->root_addr);
        } else {
            rz_usage_error("unknown option '%s'", arg);
        }
    }

    if (np_opt == NULL) {
        rz_usage_error("missing -np N (the number of ranks to start)");
    }
    if (i >= argc) {
        rz_usage_error("no program to run");
    }
    opts->argv = argv + i;
}

/* ---------------------------------------------------------------------- */
/* Job identity                                                           */
/* ---------------------------------------------------------------------- */

static int rz_pick_port(char *addr, size_t len)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "rzrun: cannot create a socket to pick a port: %m\n");
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family      = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port        = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        fprintf(stderr, "rzrun: cannot pick a free port on 127.0.0.1: %m\n");
        close(fd);
        return -1;
    }
    close(fd);
    snprintf(addr, len, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    return 0;
}

static int rz_session_key(char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t got = 0;
    int i;

    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        got += (size_t)r;
    }
    if (got < sizeof(raw)) {
        /* Old kernels and some sandboxes lack getrandom(). */
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

        got = 0;
        while (fd >= 0 && got < sizeof(raw)) {
            ssize_t r = read(fd, raw + got, sizeof(raw) - got);

            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
        }
        if (fd >= 0) {
            close(fd);
        }
        if (got < sizeof(raw)) {
            fprintf(stderr, "rzrun: cannot read random bytes for the "
                            "session key: %m\n");
            return -1;
        }
    }
    for (i = 0; i < 16; ++i) {
        hex[2 * i]     = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0xf];
    }
    hex[32] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Output forwarding                                                      */
/* ---------------------------------------------------------------------- */

static bool rz_emit_line(rz_run_t *run, int rank, const rz_stream_t *s,
                         const char *data, size_t len, bool add_newline)
{
    char prefix[24];
    int plen = 0;

    size_t start = run->out.len;

    if (run->opts->prefix) {
        plen = snprintf(prefix, sizeof(prefix), "[%d] ", rank);
    }
    if (rz_buf_append(&run->out, prefix, (size_t)plen) &&
        rz_buf_append(&run->out, s->partial.data, s->partial.len) &&
        rz_buf_append(&run->out, data, len) &&
        (!add_newline || rz_buf_append(&run->out, "\n", 1))) {
        return true;
    }
    run->out.len = start; /* never half a line */
    return false;
}

static void rz_oom(rz_run_t *run, int rank)
{
    if (!run->oom_warned) {
        run->oom_warned = true;
        rz_msg(run, "out of memory; dropping output of rank %d", rank);
    }
}

/*
 * Every complete line of the chunk goes into run->out, which is written
 * with one write loop at the end: our stdout/stderr only ever see whole
 * lines, and we are their only writer, so lines cannot interleave.
 */
static void rz_stream_consume(rz_run_t *run, int rank, rz_stream_t *s,
                              const char *data, size_t n)
{
    run->out.len = 0;
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t seg     = nl ? (size_t)(nl - data) + 1 : n;
        size_t room    = RZ_RUN_LINE_MAX - s->partial.len;
        bool ok;

        if (nl == NULL && seg <= room) {
            if (!rz_buf_append(&s->partial, data, seg)) {
                rz_oom(run, rank);
            }
        } else {
            if (nl == NULL || seg > room + 1) {
                seg = room; /* cut at RZ_RUN_LINE_MAX, not counting '\n' */
                nl  = NULL;
            }
            ok = rz_emit_line(run, rank, s, data, seg, nl == NULL);
            if (!ok) {
                rz_oom(run, rank);
            }
            s->partial.len = 0;
        }
        data += seg;
        n    -= seg;
    }
    rz_write_all(run, s->out_fd, run->out.data, run->out.len);
    run->out.len = 0;
}

static void rz_stream_close(rz_run_t *run, int rank, rz_stream_t *s)
{
    if (s->partial.len > 0) {
        run->out.len = 0;
        if (rz_emit_line(run, rank, s, "", 0, true)) {
            rz_write_all(run, s->out_fd, run->out.data, run->out.len);
        } else {
            rz_oom(run, rank);
        }
        run->out.len = 0;
    }
    rz_buf_free(&s->partial);
    close(s->fd);
    s->fd = -1;
}

/* One read; returns true if it got data (so more may follow). */
static bool rz_stream_read(rz_run_t *run, int rank, rz_stream_t *s)
{
    ssize_t r;

    if (s->fd < 0) {
        return false;
    }
    r = read(s->fd, run->scratch, RZ_RUN_CHUNK);
    if (r > 0) {
        rz_stream_consume(run, rank, s, run->scratch, (size_t)r);
        return true;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                  errno == EINTR)) {
        return false;
    }
    rz_stream_close(run, rank, s); /* EOF, or an error that is as final */
    return false;
}

/* So a rank's last words come out before our report of its death. */
static void rz_rank_drain(rz_run_t *run, int rank)
{
    int k, n;

    for (k = 0; k < 2; ++k) {
        for (n = 0; n < RZ_RUN_DRAIN_CHUNKS; ++n) {
            if (!rz_stream_read(run, rank, &run->ranks[rank].streams[k])) {
                break;
            }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Ranks                                                                  */
/* ---------------------------------------------------------------------- */

static int rz_signal_all(rz_run_t *run, int sig)
{
    int n = 0;
    int r;

    for (r = 0; r < run->nstarted; ++r) {
        if (run->ranks[r].alive && kill(run->ranks[r].pid, sig) == 0) {
            ++n;
        }
    }
    return n;
}

static void rz_arm_kill(rz_run_t *run, double delay, const char *after)
{
    double at = rz_now() + delay;

    if (run->kill_deadline == 0 || at < run->kill_deadline) {
        run->kill_deadline = at;
        run->kill_delay    = delay;
        run->kill_after    = after;
    }
}

static void rz_terminate(rz_run_t *run)
{
    run->phase = RZ_PHASE_TERMINATING;
    rz_signal_all(run, SIGTERM);
    rz_arm_kill(run, RZ_RUN_TERM_KILL_S, "SIGTERM");
}

static void rz_rank_failed(rz_run_t *run, int rank, int status)
{
    bool first = (run->first_fail < 0);
    int code;

    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
    } else {
        code = 128 + WTERMSIG(status);
    }
    if (code == 0) {
        code = 1;
    }
    if (first) {
        run->first_fail = code;
    }

    /*
     * Once we are killing the job ourselves, or the user asked for it, the
     * deaths that follow are expected: only report what tells a story.
     */
    if (run->phase != RZ_PHASE_TERMINATING &&
        (first || !run->user_shutdown)) {
        rz_rank_drain(run, rank);
        if (WIFEXITED(status)) {
            rz_msg(run, "rank %d (pid %ld) exited with status %d", rank,
                   (long)run->ranks[rank].pid, WEXITSTATUS(status));
        } else {
            int sig = WTERMSIG(status);

            rz_msg(run, "rank %d (pid %ld) was killed by signal %d (%s)%s",
                   rank, (long)run->ranks[rank].pid, sig, strsignal(sig),
                   WCOREDUMP(status) ? ", core dumped" : "");
        }
    }

    if (run->phase != RZ_PHASE_RUNNING || run->user_shutdown) {
        return;
    }
    run->phase          = RZ_PHASE_GRACE;
    run->grace_deadline = rz_now() + run->opts->grace;
    if (run->live == 0) {
        return;
    }
    if (run->opts->grace > 0) {
        rz_msg(run, "waiting up to %g s for the remaining %d rank%s to "
               "finish", run->opts->grace, run->live, rz_plural(run->live));
    } else {
        rz_msg(run, "terminating the remaining %d rank%s", run->live,
               rz_plural(run->live));
        rz_terminate(run);
    }
}

static void rz_reap(rz_run_t *run)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        int r;

        if (pid < 0 && errno == EINTR) {
            continue;
        }
        if (pid <= 0) {
            return;
        }
        for (r = 0; r < run->nstarted; ++r) {
            if (run->ranks[r].pid == pid && run->ranks[r].alive) {
                break;
            }
        }
        if (r == run->nstarted) {
            continue;
        }
        run->ranks[r].alive = false;
        --run->live;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            rz_rank_failed(run, r, status);
        }
    }
}

static void rz_forward(rz_run_t *run, const struct signalfd_siginfo *si)
{
    int sig = (int)si->ssi_signo;

    /*
     * A terminal's ^C/^\ comes from the kernel and is sent to the whole
     * foreground process group, which our ranks share with us: they have it
     * already, and a second copy would look like a second ^C.
     */
    if (!(si->ssi_code == SI_KERNEL && (sig == SIGINT || sig == SIGQUIT))) {
        rz_signal_all(run, sig);
    }
    if (sig == SIGINT || sig == SIGTERM) {
        run->user_shutdown = true;
        if (run->live > 0) {
            rz_arm_kill(run, RZ_RUN_SIGNAL_KILL_S,
                        sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
}

static void rz_handle_signals(rz_run_t *run)
{
    struct signalfd_siginfo si[16];
    bool reap = false;

    for (;;) {
        ssize_t r = read(run->sigfd, si, sizeof(si));
        size_t k;

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        for (k = 0; k < (size_t)r / sizeof(si[0]); ++k) {
            if (si[k].ssi_signo == SIGCHLD) {
                reap = true;
            } else {
                rz_forward(run, &si[k]);
            }
        }
    }
    if (reap) {
        rz_reap(run);
    }
}

static void __attribute__((noreturn))
rz_child_exec(const rz_run_t *run, int rank, const char *root_addr,
              const char *key, int out_w, int err_w)
{
    const rz_opts_t *opts = run->opts;
    char num[16];
    int i;

    /* dup2() clears FD_CLOEXEC on the copies; the originals close at exec. */
    if (dup2(run->devnull, STDIN_FILENO) < 0 ||
        dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0) {
        _exit(RZ_RUN_EXIT_INTERNAL);
    }
    sigaction(SIGPIPE, &run->orig_sigpipe, NULL);
    setrlimit(RLIMIT_NOFILE, &run->orig_nofile);
    sigprocmask(SIG_SETMASK, &run->orig_mask, NULL);

    /* The parent is single-threaded, so malloc-using setenv() is safe. */
    for (i = 0; i < opts->num_exports; ++i) {
        const char *eq = strchr(opts->exports[i], '=');
        char *name     = strndup(opts->exports[i],
                                 (size_t)(eq - opts->exports[i]));

        if (name == NULL || setenv(name, eq + 1, 1) != 0) {
            dprintf(STDERR_FILENO, "rzrun: cannot set %s: %s\n",
                    opts->exports[i], strerror(errno));
            _exit(RZ_RUN_EXIT_NOEXEC);
        }
        free(name);
    }
    snprintf(num, sizeof(num), "%d", rank);
    if (setenv("RZ_RANK", num, 1) || setenv("RZ_LOCAL_RANK", num, 1)) {
        goto err_env;
    }
    snprintf(num, sizeof(num), "%d", opts->np);
    if (setenv("RZ_SIZE", num, 1) || setenv("RZ_LOCAL_SIZE", num, 1) ||
        setenv("RZ_ROOT_ADDR", root_addr, 1) ||
        setenv("RZ_SESSION_KEY", key, 1)) {
        goto err_env;
    }

    execvp(opts->argv[0], opts->argv);
    dprintf(STDERR_FILENO, "rzrun: cannot execute '%s': %s\n",
            opts->argv[0], strerror(errno));
    _exit(RZ_RUN_EXIT_NOEXEC);

err_env:
    dprintf(STDERR_FILENO, "rzrun: cannot set the environment: %s\n",
            strerror(errno));
    _exit(RZ_RUN_EXIT_NOEXEC);
}

static int rz_launch_rank(rz_run_t *run, int rank, const char *root_addr,
                          const char *key)
{
    rz_rank_t *rk = &run->ranks[rank];
    int out[2], err[2];
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) != 0) {
        goto err_pipe;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        goto err_pipe;
    }
    pid = fork();
    if (pid < 0) {
        rz_msg(run, "cannot fork rank %d: %m", rank);
        goto err_close_err;
    }
    if (pid == 0) {
        rz_child_exec(run, rank, root_addr, key, out[1], err[1]);
    }
    close(out[1]);
    close(err[1]);
    /* Only our ends: the rank's stdout/stderr must stay blocking. */
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
    rk->pid                = pid;
    rk->alive              = true;
    rk->streams[0].fd      = out[0];
    rk->streams[0].out_fd  = STDOUT_FILENO;
    rk->streams[1].fd      = err[0];
    rk->streams[1].out_fd  = STDERR_FILENO;
    run->nstarted          = rank + 1;
    ++run->live;
    return 0;

err_close_err:
    close(err[0]);
    close(err[1]);
    close(out[0]);
    close(out[1]);
    return -1;

err_pipe:
    rz_msg(run, "cannot create pipes for rank %d: %m%s", rank,
           (errno == EMFILE) ? " (each rank needs 2; raise 'ulimit -n')" : "");
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Main loop                                                              */
/* ---------------------------------------------------------------------- */

static int rz_poll_timeout(const rz_run_t *run, double now)
{
    double next = INFINITY;
    double ms;

    if (run->phase == RZ_PHASE_GRACE && run->grace_deadline < next) {
        next = run->grace_deadline;
    }
    if (run->phase != RZ_PHASE_TERMINATING && run->opts->timeout > 0 &&
        run->start + run->opts->timeout < next) {
        next = run->start + run->opts->timeout;
    }
    if (run->kill_deadline > 0 && run->kill_deadline < next) {
        next = run->kill_deadline;
    }
    if (isinf(next)) {
        return -1;
    }
    /* Round up: waking a hair early would just spin once more. */
    ms = (next - now) * 1000.0 + 1.0;
    if (ms < 0) {
        return 0;
    }
    return (ms > INT_MAX) ? INT_MAX : (int)ms;
}

static void rz_check_deadlines(rz_run_t *run)
{
    double now = rz_now();

    if (run->live == 0) {
        return;
    }
    if (run->phase == RZ_PHASE_GRACE && now >= run->grace_deadline) {
        rz_msg(run, "grace period over; terminating the remaining %d "
               "rank%s", run->live, rz_plural(run->live));
        rz_terminate(run);
    }
    if (run->phase != RZ_PHASE_TERMINATING && run->opts->timeout > 0 &&
        now >= run->start + run->opts->timeout) {
        run->timed_out = true;
        rz_msg(run, "job exceeded --timeout %g s; killing %d rank%s",
               run->opts->timeout, run->live, rz_plural(run->live));
        rz_terminate(run);
    }
    if (run->kill_deadline > 0 && now >= run->kill_deadline) {
        rz_msg(run, "%d rank%s still running %g s after %s; sending SIGKILL",
               run->live, rz_plural(run->live), run->kill_delay,
               run->kill_after);
        rz_signal_all(run, SIGKILL);
        run->kill_deadline = 0;
    }
}

static size_t rz_fill_pollfds(rz_run_t *run, struct pollfd *pfds,
                              int *owner)
{
    size_t n = 0;
    int r, k;

    for (r = 0; r < run->nstarted; ++r) {
        for (k = 0; k < 2; ++k) {
            if (run->ranks[r].streams[k].fd >= 0) {
                pfds[n].fd      = run->ranks[r].streams[k].fd;
                pfds[n].events  = POLLIN;
                pfds[n].revents = 0;
                owner[n++]      = 2 * r + k;
            }
        }
    }
    return n;
}

static void rz_read_ready(rz_run_t *run, const struct pollfd *pfds,
                          const int *owner, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if (pfds[i].revents != 0) {
            int r = owner[i] / 2;

            rz_stream_read(run, r, &run->ranks[r].streams[owner[i] % 2]);
        }
    }
}

static void rz_loop(rz_run_t *run, struct pollfd *pfds, int *owner)
{
    double drain_until;

    while (run->live > 0) {
        size_t n = rz_fill_pollfds(run, pfds + 1, owner);
        int timeout = rz_poll_timeout(run, rz_now());
        int ready;

        pfds[0].fd      = run->sigfd;
        pfds[0].events  = POLLIN;
        pfds[0].revents = 0;
        ready = poll(pfds, n + 1, timeout);
        if (ready < 0 && errno != EINTR) {
            rz_msg(run, "poll failed: %m");
            if (run->first_fail < 0) {
                run->first_fail = RZ_RUN_EXIT_INTERNAL;
            }
            rz_signal_all(run, SIGKILL);
            while (run->live > 0 && waitpid(-1, NULL, 0) > 0) {
                --run->live;
            }
            return;
        }
        if (ready > 0) {
            rz_read_ready(run, pfds + 1, owner, n);
            if (pfds[0].revents != 0) {
                rz_handle_signals(run);
            }
        }
        rz_check_deadlines(run);
    }

    /*
     * Everything a rank wrote before it exited is in its pipes by now.
     * Don't wait for EOF, though: a background process the rank left
     * behind may hold a pipe open for as long as it likes.
     */
    drain_until = rz_now() + RZ_RUN_FINAL_DRAIN_S;
    for (;;) {
        size_t n = rz_fill_pollfds(run, pfds, owner);

        if (n == 0 || poll(pfds, n, 0) <= 0 || rz_now() > drain_until) {
            break;
        }
        rz_read_ready(run, pfds, owner, n);
    }
}

/* A launcher must not hand its ranks a pipe in place of a closed stdio fd. */
static void rz_sanitize_stdio(void)
{
    int fd;

    for (fd = 0; fd < 3; ++fd) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

            if (nfd >= 0 && nfd != fd) {
                close(nfd); /* fd taken meanwhile: cannot happen, be safe */
            }
        }
    }
}

static int rz_setup(rz_run_t *run)
{
    struct sigaction ign;
    struct rlimit lim;
    sigset_t set;
    rlim_t need;
    size_t k;

    /* Two pipes per rank stay open; raise the soft limit if we must. */
    getrlimit(RLIMIT_NOFILE, &run->orig_nofile);
    lim  = run->orig_nofile;
    need = (rlim_t)run->opts->np * 2 + 32;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
        lim.rlim_cur = (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > need)
                           ? need : lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (k = 0; k < sizeof(rz_forwarded_signals) / sizeof(int); ++k) {
        sigaddset(&set, rz_forwarded_signals[k]);
    }
    if (sigprocmask(SIG_BLOCK, &set, &run->orig_mask) != 0) {
        rz_msg(run, "cannot block signals: %m");
        return -1;
    }
    run->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (run->sigfd < 0) {
        rz_msg(run, "cannot create a signalfd: %m");
        return -1;
    }

    /* A closed stdout should cost the job its output, not its life. */
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &run->orig_sigpipe);

    run->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (run->devnull < 0) {
        rz_msg(run, "cannot open /dev/null: %m");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rz_opts_t opts;
    rz_run_t run;
    char root_addr[64];
    const char *addr;
    char key[33];
    struct pollfd *pfds = NULL;
    int *owner          = NULL;
    int exit_code;
    int i, r, k;

    rz_sanitize_stdio();
    rz_parse_args(argc, argv, &opts);

    memset(&run, 0, sizeof(run));
    run.opts       = &opts;
    run.sigfd      = -1;
    run.devnull    = -1;
    run.first_fail = -1;
    run.phase      = RZ_PHASE_RUNNING;

    addr = opts.root_addr;
    if (addr == NULL) {
        if (rz_pick_port(root_addr, sizeof(root_addr)) != 0) {
            exit_code = RZ_RUN_EXIT_INTERNAL;
            goto out_free_opts;
        }
        addr = root_addr;
    }
    if (rz_session_key(key) != 0) {
        exit_code = RZ_RUN_EXIT_INTERNAL;
        goto out_free_opts;
    }

    run.ranks   = calloc((size_t)opts.np, sizeof(*run.ranks));
    run.scratch = malloc(RZ_RUN_CHUNK);
    pfds        = calloc((size_t)opts.np * 2 + 1, sizeof(*pfds));
    owner       = calloc((size_t)opts.np * 2, sizeof(*owner));
    if (run.ranks == NULL || run.scratch == NULL || pfds == NULL ||
        owner == NULL) {
        rz_msg(&run, "out of memory");
        exit_code = RZ_RUN_EXIT_INTERNAL;
        goto out_free_run;
    }
    for (r = 0; r < opts.np; ++r) {
        run.ranks[r].streams[0].fd = -1;
        run.ranks[r].streams[1].fd = -1;
    }
    if (rz_setup(&run) != 0) {
        exit_code = RZ_RUN_EXIT_INTERNAL;
        goto out_close_setup;
    }

    run.start = rz_now();
    for (i = 0; i < opts.np; ++i) {
        if (rz_launch_rank(&run, i, addr, key) != 0) {
            run.first_fail = RZ_RUN_EXIT_INTERNAL;
            if (run.live > 0) {
                rz_msg(&run, "terminating the %d rank%s already started",
                       run.live, rz_plural(run.live));
                rz_terminate(&run);
            }
            break;
        }
    }
    rz_loop(&run, pfds, owner);

    if (run.timed_out) {
        exit_code = RZ_RUN_EXIT_TIMEOUT;
    } else if (run.first_fail >= 0) {
        exit_code = run.first_fail;
    } else {
        exit_code = 0;
    }

    for (r = 0; r < run.nstarted; ++r) {
        for (k = 0; k < 2; ++k) {
            if (run.ranks[r].streams[k].fd >= 0) {
                rz_stream_close(&run, r, &run.ranks[r].streams[k]);
            }
        }
    }
out_close_setup:
    if (run.devnull >= 0) {
        close(run.devnull);
    }
    if (run.sigfd >= 0) {
        close(run.sigfd);
    }
out_free_run:
    rz_buf_free(&run.out);
    free(owner);
    free(pfds);
    free(run.scratch);
    free(run.ranks);
out_free_opts:
    free(opts.exports);
    return exit_code;
}
