/*
 * Leveled logging. One line per message:
 *   [host:pid:rank] ringzip LEVEL file.c:123 message
 * Level from RZ_LOG_LEVEL, destination from RZ_LOG_FILE (%p = pid,
 * %h = host name; "stderr"/"stdout"/empty mean those streams).
 */
#ifndef RZ_LOG_H
#define RZ_LOG_H

#include <stdio.h>

typedef enum {
    RZ_LOG_LEVEL_FATAL = 0,
    RZ_LOG_LEVEL_ERROR,
    RZ_LOG_LEVEL_WARN,
    RZ_LOG_LEVEL_INFO,
    RZ_LOG_LEVEL_DEBUG,
    RZ_LOG_LEVEL_TRACE,
    RZ_LOG_LEVEL_LAST
} rz_log_level_t;

extern rz_log_level_t rz_log_level_current;

void rz_log_emit(rz_log_level_t level, const char *file, int line,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Configure from the RZ_* table; called once by rz_config_global(). */
void rz_log_configure(rz_log_level_t level, const char *file_pattern);

/* Tag this thread's log lines with a rank (-1 clears it). */
void rz_log_set_rank(int rank);

const char *rz_log_level_name(rz_log_level_t level);
int rz_log_level_parse(const char *s, rz_log_level_t *level_p);

/* Expand %p and %h in a pattern; returns 0 or -1 when out does not fit. */
int rz_log_expand_path(const char *pattern, char *out, size_t size);

#define RZ_LOG(level, fmt, ...)                                                \
    do {                                                                       \
        if ((level) <= rz_log_level_current) {                                 \
            rz_log_emit((level), __FILE__, __LINE__, fmt, ##__VA_ARGS__);      \
        }                                                                      \
    } while (0)

#define RZ_LOG_ERROR(fmt, ...) RZ_LOG(RZ_LOG_LEVEL_ERROR, fmt, ##__VA_ARGS__)
#define RZ_LOG_WARN(fmt, ...)  RZ_LOG(RZ_LOG_LEVEL_WARN, fmt, ##__VA_ARGS__)
#define RZ_LOG_INFO(fmt, ...)  RZ_LOG(RZ_LOG_LEVEL_INFO, fmt, ##__VA_ARGS__)
#define RZ_LOG_DEBUG(fmt, ...) RZ_LOG(RZ_LOG_LEVEL_DEBUG, fmt, ##__VA_ARGS__)
#define RZ_LOG_TRACE(fmt, ...) RZ_LOG(RZ_LOG_LEVEL_TRACE, fmt, ##__VA_ARGS__)

#endif
