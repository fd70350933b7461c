/*
 * Table-driven RZ_* configuration (STYLE rule 6). Every variable is one row
 * {name, default, help, offset, parser}; rz_info -c prints the table and
 * unknown RZ_* variables draw a warning.
 */
#ifndef RZ_CONFIG_H
#define RZ_CONFIG_H

#include <ringzip/status.h>
#include "util/rz_log.h"
#include <stddef.h>
#include <stdio.h>

#define RZ_CONFIG_STR_MAX 1024

typedef struct {
    rz_log_level_t log_level;
    char           log_file[RZ_CONFIG_STR_MAX];
    long           timeout_ms;
    long           bootstrap_timeout_ms;
    long           spin_us;       /* -1: auto */
    char           allreduce_algo[RZ_CONFIG_STR_MAX]; /* auto, ring, rd */
    long           ring_segment;  /* bytes per pipelined ring message */
    /* Fusion engine. */
    double         cycle_time_ms;
    long           fusion_threshold;
    long           cache_capacity;
    double         stall_warning_s;
    double         stall_timeout_s;
    char           timeline[RZ_CONFIG_STR_MAX];
    char           bootstrap_addr[RZ_CONFIG_STR_MAX];
    char           bind[RZ_CONFIG_STR_MAX]; /* auto, none, core, numa */
    char           plugin_path[RZ_CONFIG_STR_MAX];
    char           compressors[RZ_CONFIG_STR_MAX];
    /* Job description, normally exported by rzrun. */
    long           rank;
    long           size;
    long           local_rank;
    long           local_size;
    char           root_addr[RZ_CONFIG_STR_MAX];
    char           session_key[RZ_CONFIG_STR_MAX];
} rz_config_t;

typedef int (*rz_config_parse_func_t)(const char *value, void *field,
                                      const void *arg);

typedef struct {
    const char            *name;    /* full variable name, RZ_... */
    const char            *dflt;    /* default as text, parsed like a value */
    const char            *help;
    size_t                 offset;  /* of the field in rz_config_t */
    rz_config_parse_func_t parse;
    const void            *arg;     /* parser argument (e.g. bounds) */
    const char            *syntax;  /* shown in help: "<integer>", ... */
} rz_config_entry_t;

extern const rz_config_entry_t rz_config_table[];
extern const size_t rz_config_table_size;

/*
 * Fill @cfg from defaults, then from @envp ("NAME=VALUE" strings, NULL
 * terminated). A malformed value is logged with the variable's name and
 * syntax and yields RZ_ERR_INVALID_PARAM (the rest of @cfg is still filled).
 */
rz_status_t rz_config_parse(rz_config_t *cfg, char *const *envp);

/* Number of RZ_* variables in @envp that no table row knows; each is
 * warned about once by name, with a close match when there is one. */
int rz_config_warn_unknown(char *const *envp);

/* The process-wide configuration, parsed from environ on first use. */
const rz_config_t *rz_config_global(void);
rz_status_t rz_config_global_status(void);

/* Print every variable: name, default, current value, help. */
void rz_config_print(FILE *out, const rz_config_t *cfg);

/* Parsers, exposed for unit tests. */
typedef struct { long min, max; } rz_config_long_range_t;
int rz_config_parse_long(const char *value, void *field, const void *arg);
typedef struct { double min, max; } rz_config_double_range_t;
int rz_config_parse_double(const char *value, void *field, const void *arg);
int rz_config_parse_string(const char *value, void *field, const void *arg);
int rz_config_parse_log_level(const char *value, void *field, const void *arg);
/* One of a NULL-terminated list of words (@arg, const char *const *),
 * stored as a string field. */
int rz_config_parse_choice(const char *value, void *field, const void *arg);
/* "auto" (stored as -1) or an integer within the range @arg. */
int rz_config_parse_long_auto(const char *value, void *field, const void *arg);

#endif
