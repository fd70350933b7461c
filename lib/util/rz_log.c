#include "util/rz_log.h"
#include "util/rz_compiler.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

rz_log_level_t rz_log_level_current = RZ_LOG_LEVEL_WARN;

static FILE *rz_log_stream;      /* NULL means stderr */
static pthread_mutex_t rz_log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int rz_log_rank = -1;
static char rz_log_host[64];

static const char *const rz_log_names[RZ_LOG_LEVEL_LAST] = {
    "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"
};

const char *rz_log_level_name(rz_log_level_t level)
{
    return ((unsigned)level < RZ_LOG_LEVEL_LAST) ? rz_log_names[level] : "?";
}

int rz_log_level_parse(const char *s, rz_log_level_t *level_p)
{
    for (int i = 0; i < RZ_LOG_LEVEL_LAST; i++) {
        if (strcasecmp(s, rz_log_names[i]) == 0) {
            *level_p = (rz_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *level_p = RZ_LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

int rz_log_expand_path(const char *pattern, char *out, size_t size)
{
    char host[64];
    size_t n = 0;

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    for (const char *p = pattern; *p != '\0'; p++) {
        char buf[64];
        const char *piece = buf;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(buf, sizeof(buf), "%d", (int)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == 'h') {
            piece = host;
            p++;
        } else {
            buf[0] = *p;
            buf[1] = '\0';
        }
        size_t len = strlen(piece);
        if (n + len + 1 > size) {
            return -1;
        }
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}

void rz_log_configure(rz_log_level_t level, const char *file_pattern)
{
    char path[4096];

    rz_log_level_current = level;
    if (gethostname(rz_log_host, sizeof(rz_log_host)) != 0) {
        strcpy(rz_log_host, "?");
    }
    rz_log_host[sizeof(rz_log_host) - 1] = '\0';
    if (file_pattern == NULL || file_pattern[0] == '\0' ||
        strcmp(file_pattern, "stderr") == 0) {
        return;
    }
    if (strcmp(file_pattern, "stdout") == 0) {
        rz_log_stream = stdout;
        return;
    }
    if (rz_log_expand_path(file_pattern, path, sizeof(path)) != 0) {
        rz_log_emit(RZ_LOG_LEVEL_WARN, __FILE__, __LINE__,
                    "RZ_LOG_FILE='%s' is too long; logging to stderr",
                    file_pattern);
        return;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        rz_log_emit(RZ_LOG_LEVEL_WARN, __FILE__, __LINE__,
                    "cannot open RZ_LOG_FILE '%s': %m; logging to stderr",
                    path);
        return;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    rz_log_stream = f;
}

void rz_log_set_rank(int rank)
{
    rz_log_rank = rank;
}

void rz_log_emit(rz_log_level_t level, const char *file, int line,
                 const char *fmt, ...)
{
    char msg[1024];
    int saved_errno = errno;     /* so callers may use %m after us */
    const char *base = strrchr(file, '/');
    va_list ap;

    va_start(ap, fmt);
    errno = saved_errno;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&rz_log_lock);
    FILE *out = (rz_log_stream != NULL) ? rz_log_stream : stderr;
    if (rz_log_rank >= 0) {
        fprintf(out, "[%s:%d:r%d] ringzip %-5s %s:%d %s\n", rz_log_host,
                (int)getpid(), rz_log_rank, rz_log_level_name(level),
                base ? base + 1 : file, line, msg);
    } else {
        fprintf(out, "[%s:%d] ringzip %-5s %s:%d %s\n", rz_log_host,
                (int)getpid(), rz_log_level_name(level),
                base ? base + 1 : file, line, msg);
    }
    fflush(out);
    pthread_mutex_unlock(&rz_log_lock);
    errno = saved_errno;
}
