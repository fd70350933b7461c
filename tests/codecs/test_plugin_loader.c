/*
 * The plugin loader against deliberately broken fakes (tests/codecs/fakes):
 * each defect gives its documented status and one log line naming the file
 * and the reason; a plugin whose init fails is unloaded; the search order,
 * RZ_COMPRESSORS, "name:params" specs and the checked calls.
 *
 * usage: test_plugin_loader <directory of librz_fake_*.so>
 */
#include "plugin/rz_plugin.h"
#include "util/rz_log.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures, checks;
static char log_path[PATH_MAX];
static long log_seen;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                        \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* Log lines written since the previous call (static buffer). */
static const char *new_log(void)
{
    static char buf[16384];
    FILE *f = fopen(log_path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f == NULL) {
        return buf;
    }
    if (fseek(f, log_seen, SEEK_SET) == 0) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
    }
    buf[n] = '\0';
    log_seen += (long)n;
    fclose(f);
    return buf;
}

static void fake_path(char *out, const char *dir, const char *kind)
{
    snprintf(out, PATH_MAX + 32, "%s/librz_fake_%s.so", dir, kind);
}

static void expect_broken(const char *dir, const char *kind,
                          rz_status_t expected, const char *reason)
{
    char path[PATH_MAX + 32];
    rz_plugin_t *plugin = NULL;
    rz_status_t st;
    const char *log;

    fake_path(path, dir, kind);
    st = rz_plugin_open_file(path, NULL, &plugin);
    log = new_log();
    CHECK(st == expected, "%s: status %s, expected %s", kind,
          rz_status_string(st), rz_status_string(expected));
    CHECK(plugin == NULL, "%s: output set on failure", kind);
    CHECK(strstr(log, path) != NULL, "%s: log does not name the file:\n%s",
          kind, log);
    CHECK(strstr(log, reason) != NULL, "%s: log lacks '%s':\n%s", kind,
          reason, log);
}

static void test_broken(const char *dir)
{
    char path[PATH_MAX + 32];
    void *still;

    expect_broken(dir, "abi", RZ_ERR_PLUGIN, "abi_version 2");
    expect_broken(dir, "short", RZ_ERR_PLUGIN, "struct_size 24");
    expect_broken(dir, "nosym", RZ_ERR_PLUGIN, "no symbol rz_compressor_plugin_v1");
    expect_broken(dir, "wrongname", RZ_ERR_PLUGIN,
                  "declares name 'someone_else'");
    expect_broken(dir, "nullptr", RZ_ERR_PLUGIN, "'decompress' is NULL");
    expect_broken(dir, "initfail", RZ_ERR_INVALID_PARAM, "init(\"\") failed");
    /* The plugin's own log line comes through the host logger, tagged. */
    fake_path(path, dir, "initfail");
    rz_plugin_t *p = NULL;
    rz_plugin_open_file(path, NULL, &p);
    CHECK(strstr(new_log(), "compressor fake_initfail: refusing to start") !=
              NULL,
          "plugin log line not relayed with the plugin's name");
    /* A plugin whose init failed is unloaded again. */
    still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(still == NULL, "initfail still loaded after a failed init");
    if (still != NULL) {
        dlclose(still);
    }
    /* Not a shared object at all. */
    snprintf(path, sizeof(path), "%s/librz_fake_good.so.txt", dir);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs("not an ELF file\n", f);
        fclose(f);
    }
    p = NULL;
    CHECK(rz_plugin_open_file(path, NULL, &p) == RZ_ERR_PLUGIN && p == NULL,
          "garbage file accepted");
    CHECK(strstr(new_log(), "cannot load") != NULL, "garbage: no reason");
    unlink(path);
}

static void test_good_and_calls(const char *dir)
{
    char path[PATH_MAX + 32];
    rz_plugin_t *p = NULL;
    rz_compressor_key_t key = {1, 2, 3, 0};
    float in[5] = {1.0f, -2.5f, 0.0f, 3.25f, -0.0f}, res[5], y[5];
    unsigned char wire[20];
    size_t size = 99;

    fake_path(path, dir, "good");
    CHECK(rz_plugin_open_file(path, "x=1", &p) == RZ_OK && p != NULL,
          "good plugin refused");
    if (p == NULL) {
        return;
    }
    CHECK(strcmp(p->name, "fake_good") == 0, "name %s", p->name);
    CHECK(strcmp(p->params, "x=1") == 0, "params %s", p->params);
    CHECK(p->info.wire_id == RZ_COMPRESSOR_WIRE_ID_USER + 0x7e57,
          "query not stored");
    CHECK(rz_plugin_max_size(p, RZ_COMPRESSOR_DTYPE_F32, 5) == 20, "max size");
    CHECK(rz_plugin_max_size(p, RZ_COMPRESSOR_DTYPE_F64, 5) == 0,
          "max size of an unsupported dtype");
    CHECK(rz_plugin_compress(p, &key, RZ_COMPRESSOR_DTYPE_F32, in, 5, wire,
                             sizeof(wire), &size, res) == RZ_OK &&
              size == 20,
          "compress");
    CHECK(rz_plugin_decompress(p, &key, RZ_COMPRESSOR_DTYPE_F32, wire, size,
                               y, 5, 1.0f, 0.0f) == RZ_OK &&
              memcmp(y, in, sizeof(in)) == 0,
          "round trip");
    CHECK(rz_plugin_compress(p, &key, RZ_COMPRESSOR_DTYPE_F64, in, 5, wire,
                             sizeof(wire), &size, NULL) ==
              RZ_ERR_NOT_SUPPORTED,
          "f64 not declared, yet accepted");
    CHECK(rz_plugin_compress(p, &key, RZ_COMPRESSOR_DTYPE_F32, NULL, 5, wire,
                             sizeof(wire), &size, NULL) ==
              RZ_ERR_INVALID_PARAM,
          "NULL input accepted");
    size = 99;
    CHECK(rz_plugin_compress(p, &key, RZ_COMPRESSOR_DTYPE_F32, NULL, 0, NULL,
                             0, &size, NULL) == RZ_OK && size == 0,
          "empty chunk must encode to nothing");
    CHECK(rz_plugin_decompress(p, &key, RZ_COMPRESSOR_DTYPE_F32, wire, 3, NULL,
                               0, 1.0f, 0.0f) == RZ_ERR_MALFORMED,
          "bytes for an empty chunk accepted");
    CHECK(rz_plugin_decompress(p, &key, RZ_COMPRESSOR_DTYPE_F32, wire, 19, y,
                               5, 1.0f, 0.0f) == RZ_ERR_MALFORMED,
          "truncated bytes accepted");
    CHECK(strstr(new_log(), "malformed 19 bytes for 5 elements") != NULL,
          "malformed input not logged");
    rz_plugin_close(p);
    rz_plugin_close(NULL);
    /* Bad parameters: init's status, and the file is named. */
    p = NULL;
    CHECK(rz_plugin_open_file(path, "bogus", &p) == RZ_ERR_INVALID_PARAM &&
              p == NULL,
          "bad parameters accepted");
    CHECK(strstr(new_log(), "unknown parameter 'bogus'") != NULL,
          "plugin's reason not logged");
}

/* A scratch directory holding a copy (symlink) of the good fake. */
static void make_dir_with_good(char *dir, const char *fakes)
{
    char link_path[PATH_MAX + 32], target[PATH_MAX];

    snprintf(dir, PATH_MAX, "/tmp/rz_plugin_dir_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    fake_path(link_path, fakes, "good");
    if (realpath(link_path, target) == NULL) {      /* the link needs it */
        perror("realpath");
        exit(2);
    }
    snprintf(link_path, sizeof(link_path), "%s/librz_fake_good.so", dir);
    if (symlink(target, link_path) != 0) {
        perror("symlink");
        exit(2);
    }
}

static void remove_dir(const char *dir)
{
    char link_path[PATH_MAX + 32];

    snprintf(link_path, sizeof(link_path), "%s/librz_fake_good.so", dir);
    unlink(link_path);
    rmdir(dir);
}

static void test_search(const char *fakes)
{
    char d1[PATH_MAX], d2[PATH_MAX], env[2 * PATH_MAX + 64];
    rz_plugin_t *p = NULL;
    const char *const *dirs;

    make_dir_with_good(d1, fakes);
    make_dir_with_good(d2, fakes);
    /* An empty entry and a missing directory are skipped; the first
     * directory that has the file wins. */
    snprintf(env, sizeof(env), "::/nonexistent/rz:%s:%s", d2, d1);
    setenv("RZ_PLUGIN_PATH", env, 1);
    dirs = rz_plugin_search_dirs();
    CHECK(dirs[0] != NULL && strcmp(dirs[0], "/nonexistent/rz") == 0 &&
              dirs[1] != NULL && strcmp(dirs[1], d2) == 0 && dirs[2] != NULL &&
              strcmp(dirs[2], d1) == 0,
          "RZ_PLUGIN_PATH order not kept");
    CHECK(rz_plugin_open("fake_good", NULL, &p) == RZ_OK && p != NULL &&
              strncmp(p->path, d2, strlen(d2)) == 0,
          "search order: expected the file in %s, got %s", d2,
          p ? p->path : "(none)");
    rz_plugin_close(p);
    p = NULL;
    /* Spec form. */
    CHECK(rz_plugin_open_spec("fake_good:x=7", &p) == RZ_OK && p != NULL &&
              strcmp(p->params, "x=7") == 0,
          "name:params spec");
    rz_plugin_close(p);
    p = NULL;
    CHECK(rz_plugin_open_spec(":x=7", &p) == RZ_ERR_INVALID_PARAM,
          "spec without a name");
    /* RZ_COMPRESSORS allow and deny lists. */
    setenv("RZ_COMPRESSORS", "sign,fake_good", 1);
    CHECK(rz_plugin_allowed("fake_good") && !rz_plugin_allowed("fake"),
          "allow list");
    CHECK(rz_plugin_open("fake_good", NULL, &p) == RZ_OK, "allowed, refused");
    rz_plugin_close(p);
    p = NULL;
    setenv("RZ_COMPRESSORS", "sign", 1);
    CHECK(rz_plugin_open("fake_good", NULL, &p) == RZ_ERR_NOT_SUPPORTED &&
              p == NULL,
          "not in the allow list, yet loaded");
    CHECK(strstr(new_log(), "excluded by RZ_COMPRESSORS=sign") != NULL,
          "exclusion not explained");
    setenv("RZ_COMPRESSORS", "^qsgd,fake_good", 1);
    CHECK(rz_plugin_open("fake_good", NULL, &p) == RZ_ERR_NOT_SUPPORTED,
          "deny list ignored");
    CHECK(rz_plugin_allowed("qsgd") == 0 && rz_plugin_allowed("sign") == 1,
          "deny list");
    unsetenv("RZ_COMPRESSORS");
    /* Missing and invalid names. */
    CHECK(rz_plugin_open("no_such_codec", NULL, &p) == RZ_ERR_NOT_SUPPORTED,
          "missing plugin");
    CHECK(strstr(new_log(), "no librz_no_such_codec.so") != NULL,
          "missing plugin not explained");
    CHECK(rz_plugin_open("Bad-Name", NULL, &p) == RZ_ERR_INVALID_PARAM,
          "invalid name");
    CHECK(rz_plugin_open("../etc", NULL, &p) == RZ_ERR_INVALID_PARAM,
          "path in a name");
    /* A broken file found first is an error, not a reason to go on. */
    unsetenv("RZ_PLUGIN_PATH");
    remove_dir(d1);
    remove_dir(d2);
}

int main(int argc, char **argv)
{
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <fake plugin directory>\n", argv[0]);
        return 2;
    }
    snprintf(log_path, sizeof(log_path), "/tmp/rz_loader_log_XXXXXX");
    fd = mkstemp(log_path);
    if (fd < 0) {
        perror("mkstemp");
        return 2;
    }
    close(fd);
    unsetenv("RZ_COMPRESSORS");
    unsetenv("RZ_PLUGIN_PATH");
    rz_log_configure(RZ_LOG_LEVEL_DEBUG, log_path);
    test_broken(argv[1]);
    test_good_and_calls(argv[1]);
    test_search(argv[1]);
    unlink(log_path);
    printf("plugin_loader: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
