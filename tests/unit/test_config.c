/* Unit tests: status strings, the RZ_* configuration table and parser,
 * log path expansion, unknown-variable detection. */
#include "util/rz_config.h"
#include "util/rz_log.h"

#include <ringzip/ringzip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            printf("FAIL line %d: ", __LINE__);                                \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

static void test_status(void)
{
    const char *seen[64] = {0};
    int n = 0;
    for (int s = RZ_INPROGRESS; s > RZ_ERR_LAST; s--) {
        const char *str = rz_status_string((rz_status_t)s);
        CHECK(str != NULL && strcmp(str, "unknown status") != 0,
              "status %d has a name", s);
        for (int i = 0; i < n; i++) {
            CHECK(strcmp(seen[i], str) != 0, "status %d name '%s' is unique",
                  s, str);
        }
        seen[n++] = str;
    }
    CHECK(strcmp(rz_status_string(RZ_ERR_LAST), "unknown status") == 0,
          "RZ_ERR_LAST is not a status");
    CHECK(strcmp(rz_status_string((rz_status_t)-999), "unknown status") == 0,
          "unknown values");
    CHECK(strcmp(rz_status_string(RZ_OK), "success") == 0, "RZ_OK");
}

static void test_defaults(void)
{
    rz_config_t cfg;
    char *env[] = {NULL};
    CHECK(rz_config_parse(&cfg, env) == RZ_OK, "defaults parse");
    CHECK(cfg.timeout_ms == 60000, "timeout default %ld", cfg.timeout_ms);
    CHECK(cfg.log_level == RZ_LOG_LEVEL_WARN, "log level default");
    CHECK(cfg.rank == -1 && cfg.size == -1, "rank/size defaults");
    CHECK(strcmp(cfg.log_file, "stderr") == 0, "log file default");
    for (size_t i = 0; i < rz_config_table_size; i++) {
        const rz_config_entry_t *e = &rz_config_table[i];
        CHECK(strncmp(e->name, "RZ_", 3) == 0, "%s has the RZ_ prefix",
              e->name);
        CHECK(e->help != NULL && strlen(e->help) > 10, "%s has help", e->name);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(rz_config_table[j].name, e->name) != 0,
                  "%s listed once", e->name);
        }
    }
}

static void test_values(void)
{
    rz_config_t cfg;
    char *good[] = {"RZ_TIMEOUT_MS=1500", "RZ_LOG_LEVEL=debug",
                    "RZ_LOG_FILE=/tmp/rz.%h.%p.log", "RZ_SPIN_US=0x10",
                    "PATH=/bin", "RZ_RANK=3", NULL};
    CHECK(rz_config_parse(&cfg, good) == RZ_OK, "good values");
    CHECK(cfg.timeout_ms == 1500, "timeout %ld", cfg.timeout_ms);
    CHECK(cfg.log_level == RZ_LOG_LEVEL_DEBUG, "log level");
    CHECK(cfg.spin_us == 16, "hex integer");
    CHECK(cfg.rank == 3, "rank");
    CHECK(strcmp(cfg.log_file, "/tmp/rz.%h.%p.log") == 0, "string");

    char *bad_int[] = {"RZ_TIMEOUT_MS=12abc", NULL};
    CHECK(rz_config_parse(&cfg, bad_int) == RZ_ERR_INVALID_PARAM,
          "trailing garbage rejected");
    CHECK(cfg.timeout_ms == 60000, "bad value leaves the default");
    char *neg[] = {"RZ_TIMEOUT_MS=0", NULL};
    CHECK(rz_config_parse(&cfg, neg) == RZ_ERR_INVALID_PARAM,
          "out of range rejected");
    char *empty[] = {"RZ_SPIN_US=", NULL};
    CHECK(rz_config_parse(&cfg, empty) == RZ_ERR_INVALID_PARAM,
          "empty integer rejected");
    char *spin_auto[] = {"RZ_SPIN_US=auto", NULL};
    CHECK(rz_config_parse(&cfg, spin_auto) == RZ_OK && cfg.spin_us == -1,
          "RZ_SPIN_US=auto is stored as -1");
    char *spin_neg[] = {"RZ_SPIN_US=-1", NULL};
    CHECK(rz_config_parse(&cfg, spin_neg) == RZ_ERR_INVALID_PARAM,
          "negative spin rejected (auto is spelled out)");
    char *algo[] = {"RZ_ALLREDUCE_ALGO=rd", "RZ_RING_SEGMENT=65536", NULL};
    CHECK(rz_config_parse(&cfg, algo) == RZ_OK &&
          strcmp(cfg.allreduce_algo, "rd") == 0 && cfg.ring_segment == 65536,
          "algorithm and segment size");
    char *rh[] = {"RZ_ALLREDUCE_ALGO=rabenseifner", NULL};
    CHECK(rz_config_parse(&cfg, rh) == RZ_OK &&
          strcmp(cfg.allreduce_algo, "rabenseifner") == 0,
          "rabenseifner accepted");
    char *bad_algo[] = {"RZ_ALLREDUCE_ALGO=tree", NULL};
    CHECK(rz_config_parse(&cfg, bad_algo) == RZ_ERR_INVALID_PARAM &&
          strcmp(cfg.allreduce_algo, "auto") == 0,
          "unknown algorithm rejected, default kept");
    char *bad_seg[] = {"RZ_RING_SEGMENT=100", NULL};
    CHECK(rz_config_parse(&cfg, bad_seg) == RZ_ERR_INVALID_PARAM,
          "segment below 1 KiB rejected");
    char *lvl[] = {"RZ_LOG_LEVEL=loud", NULL};
    CHECK(rz_config_parse(&cfg, lvl) == RZ_ERR_INVALID_PARAM,
          "unknown level rejected");
    char *caps[] = {"RZ_LOG_LEVEL=TRACE", NULL};
    CHECK(rz_config_parse(&cfg, caps) == RZ_OK &&
          cfg.log_level == RZ_LOG_LEVEL_TRACE, "level is case-insensitive");
    char longv[RZ_CONFIG_STR_MAX + 64] = "RZ_LOG_FILE=";
    memset(longv + 12, 'x', RZ_CONFIG_STR_MAX + 8);
    char *toolong[] = {longv, NULL};
    CHECK(rz_config_parse(&cfg, toolong) == RZ_ERR_INVALID_PARAM,
          "over-long string rejected");
}

static void test_unknown(void)
{
    char *env[] = {"RZ_TIMEOUT_MS=5", "RZ_TIMOUT_MS=5", "RZ_FROBNICATE=1",
                   "NOT_RZ=1", "RZ_LOG_LEVEL=info", NULL};
    CHECK(rz_config_warn_unknown(env) == 2, "two unknown variables");
    char *none[] = {"HOME=/", NULL};
    CHECK(rz_config_warn_unknown(none) == 0, "no RZ_ variables");
}

static void test_log_path(void)
{
    char out[256], want[256], host[64];
    gethostname(host, sizeof(host));
    host[63] = '\0';
    CHECK(rz_log_expand_path("a-%p-%h.log", out, sizeof(out)) == 0, "expand");
    snprintf(want, sizeof(want), "a-%d-%s.log", (int)getpid(), host);
    CHECK(strcmp(out, want) == 0, "expanded '%s' want '%s'", out, want);
    CHECK(rz_log_expand_path("plain", out, sizeof(out)) == 0 &&
          strcmp(out, "plain") == 0, "no pattern");
    CHECK(rz_log_expand_path("%p%p%p", out, 4) == -1, "too small");
    rz_log_level_t l;
    CHECK(rz_log_level_parse("warning", &l) == 0 && l == RZ_LOG_LEVEL_WARN,
          "warning alias");
}

static void test_print(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rz_config_t cfg;
    char *env[] = {NULL};
    rz_config_parse(&cfg, env);
    rz_config_print(f, &cfg);
    fclose(f);
    for (size_t i = 0; i < rz_config_table_size; i++) {
        CHECK(strstr(buf, rz_config_table[i].name) != NULL,
              "%s printed", rz_config_table[i].name);
    }
    free(buf);
}

int main(void)
{
    test_status();
    test_defaults();
    test_values();
    test_unknown();
    test_log_path();
    test_print();
    printf("test_config: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
