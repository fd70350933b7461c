/*
 * Compressor plugin loader: discovery, validation and checked calls (see
 * rz_plugin.h for the search order and the error contract).
 *
 * Validation happens before any plugin code runs (only the struct is read),
 * so a plugin built against another ABI cannot crash the host through a
 * misread function pointer: abi_version and struct_size are checked first,
 * and no member past struct_size is ever read.
 */
#include "plugin/rz_plugin.h"
#include "util/rz_compiler.h"
#include "util/rz_log.h"

#include <dirent.h>
#include <pthread.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RZ_PLUGIN_INSTALL_DIR
#define RZ_PLUGIN_INSTALL_DIR ""
#endif

#define RZ_PLUGIN_PREFIX "librz_"
#define RZ_PLUGIN_SUFFIX ".so"
#define RZ_PLUGIN_MAX_DIRS 32

/* v1's mandatory members end with finalize; delta_bound is optional. */
#define RZ_PLUGIN_V1_MIN_SIZE                                                  \
    (offsetof(rz_compressor_v1_t, finalize) + sizeof(void (*)(void *)))

static int rz_plugin_name_valid(const char *name)
{
    size_t n = 0;

    if (name == NULL) {
        return 0;
    }
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        if (n >= RZ_COMPRESSOR_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return n > 0;
}

/* The <name> of .../librz_<name>.so, or "" when the file is not named so. */
static void rz_plugin_file_name(const char *path, char *name, size_t len)
{
    const char *base = strrchr(path, '/');
    size_t blen, plen = strlen(RZ_PLUGIN_PREFIX), slen = strlen(RZ_PLUGIN_SUFFIX);

    base = base ? base + 1 : path;
    blen = strlen(base);
    name[0] = '\0';
    if (blen <= plen + slen || strncmp(base, RZ_PLUGIN_PREFIX, plen) != 0 ||
        strcmp(base + blen - slen, RZ_PLUGIN_SUFFIX) != 0 ||
        blen - plen - slen >= len) {
        return;
    }
    memcpy(name, base + plen, blen - plen - slen);
    name[blen - plen - slen] = '\0';
}

static void rz_plugin_host_log(const rz_compressor_host_t *host, int level,
                               const char *fmt, ...)
{
    const rz_plugin_t *plugin = host->host_data;
    rz_log_level_t lvl = level <= RZ_COMPRESSOR_LOG_ERROR  ? RZ_LOG_LEVEL_ERROR
                       : level == RZ_COMPRESSOR_LOG_WARN  ? RZ_LOG_LEVEL_WARN
                       : level == RZ_COMPRESSOR_LOG_INFO  ? RZ_LOG_LEVEL_INFO
                                                          : RZ_LOG_LEVEL_DEBUG;
    char msg[512];
    va_list ap;

    if (lvl > rz_log_level_current) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rz_log_emit(lvl, __FILE__, __LINE__, "compressor %s: %s", plugin->name,
                msg);
}

/* Check the struct of @path before running any of its code. */
static rz_status_t rz_plugin_validate(const char *path,
                                      const rz_compressor_v1_t *ops)
{
    char fname[RZ_COMPRESSOR_NAME_MAX + 2];

    if (ops->abi_version != RZ_COMPRESSOR_ABI_VERSION) {
        RZ_LOG_ERROR("plugin %s: abi_version %u, this ringzip implements %u",
                     path, ops->abi_version, RZ_COMPRESSOR_ABI_VERSION);
        return RZ_ERR_PLUGIN;
    }
    if (ops->struct_size < RZ_PLUGIN_V1_MIN_SIZE) {
        RZ_LOG_ERROR("plugin %s: struct_size %u is smaller than ABI v1's "
                     "mandatory part (%zu bytes)", path, ops->struct_size,
                     (size_t)RZ_PLUGIN_V1_MIN_SIZE);
        return RZ_ERR_PLUGIN;
    }
    if (!rz_plugin_name_valid(ops->name)) {
        RZ_LOG_ERROR("plugin %s: name must be 1 to %d of [a-z0-9_]", path,
                     RZ_COMPRESSOR_NAME_MAX);
        return RZ_ERR_PLUGIN;
    }
    rz_plugin_file_name(path, fname, sizeof(fname));
    if (strcmp(fname, ops->name) != 0) {
        RZ_LOG_ERROR("plugin %s: declares name '%s', so its file must be "
                     RZ_PLUGIN_PREFIX "%s" RZ_PLUGIN_SUFFIX, path, ops->name,
                     ops->name);
        return RZ_ERR_PLUGIN;
    }
#define RZ_PLUGIN_REQUIRE(member)                                              \
    if (ops->member == NULL) {                                                 \
        RZ_LOG_ERROR("plugin %s: mandatory function '" #member "' is NULL",   \
                     path);                                                    \
        return RZ_ERR_PLUGIN;                                                  \
    }
    RZ_PLUGIN_REQUIRE(init)
    RZ_PLUGIN_REQUIRE(query)
    RZ_PLUGIN_REQUIRE(max_compressed_size)
    RZ_PLUGIN_REQUIRE(compress)
    RZ_PLUGIN_REQUIRE(decompress)
    RZ_PLUGIN_REQUIRE(finalize)
#undef RZ_PLUGIN_REQUIRE
    return RZ_OK;
}

rz_status_t rz_plugin_open_file(const char *path, const char *params,
                                rz_plugin_t **plugin_p)
{
    const rz_compressor_v1_t *ops;
    rz_plugin_t *plugin;
    rz_status_t status;

    if (path == NULL || plugin_p == NULL) {
        RZ_LOG_ERROR("rz_plugin_open_file: NULL %s",
                     path == NULL ? "path" : "plugin_p");
        return RZ_ERR_INVALID_PARAM;
    }
    plugin = calloc(1, sizeof(*plugin));
    if (plugin == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    plugin->path = strdup(path);
    plugin->params = strdup(params != NULL ? params : "");
    if (plugin->path == NULL || plugin->params == NULL) {
        status = RZ_ERR_NO_MEMORY;
        goto err_free;
    }
    /* RTLD_LOCAL: two plugins may define the same helper names. */
    plugin->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin->dl == NULL) {
        RZ_LOG_ERROR("plugin %s: cannot load: %s", path, dlerror());
        status = RZ_ERR_PLUGIN;
        goto err_free;
    }
    ops = dlsym(plugin->dl, RZ_COMPRESSOR_SYMBOL_V1);
    if (ops == NULL) {
        RZ_LOG_ERROR("plugin %s: no symbol " RZ_COMPRESSOR_SYMBOL_V1
                     " (not a ringzip compressor plugin, or built for another "
                     "ABI)", path);
        status = RZ_ERR_PLUGIN;
        goto err_close;
    }
    RZ_CHECK_GOTO(rz_plugin_validate(path, ops), err_close, status);
    plugin->ops = ops;
    snprintf(plugin->name, sizeof(plugin->name), "%s", ops->name);
    plugin->host.abi_version = RZ_COMPRESSOR_ABI_VERSION;
    plugin->host.struct_size = sizeof(plugin->host);
    plugin->host.log = rz_plugin_host_log;
    plugin->host.host_data = plugin;

    status = ops->init(&plugin->host, plugin->params, &plugin->ctx);
    if (status != RZ_OK) {
        RZ_LOG_ERROR("plugin %s: init(\"%s\") failed: %s", path,
                     plugin->params, rz_status_string(status));
        if (status >= RZ_OK) {
            status = RZ_ERR_PLUGIN;   /* a plugin must not return > 0 here */
        }
        goto err_close;
    }
    plugin->info.struct_size = sizeof(plugin->info);
    status = ops->query(plugin->ctx, &plugin->info);
    if (status != RZ_OK || plugin->info.dtypes == 0) {
        RZ_LOG_ERROR("plugin %s: query failed (%s)", path,
                     status != RZ_OK ? rz_status_string(status)
                                     : "it accepts no element type");
        status = RZ_ERR_PLUGIN;
        goto err_finalize;
    }
    plugin->info.struct_size = sizeof(plugin->info);
    RZ_LOG_DEBUG("plugin %s: compressor '%s' (wire id 0x%x, caps 0x%x) "
                 "params \"%s\"", path, plugin->name, plugin->info.wire_id,
                 plugin->info.caps, plugin->params);
    *plugin_p = plugin;
    return RZ_OK;

err_finalize:
    ops->finalize(plugin->ctx);
err_close:
    dlclose(plugin->dl);
err_free:
    free(plugin->params);
    free(plugin->path);
    free(plugin);
    return status;
}

void rz_plugin_close(rz_plugin_t *plugin)
{
    if (plugin == NULL) {
        return;
    }
    plugin->ops->finalize(plugin->ctx);
    dlclose(plugin->dl);
    free(plugin->params);
    free(plugin->path);
    free(plugin);
}

/* ------------------------------------------------------------ discovery */

int rz_plugin_allowed(const char *name)
{
    const char *list = getenv("RZ_COMPRESSORS");
    int deny, found = 0;
    size_t nlen = strlen(name);

    if (list == NULL || *list == '\0') {
        return 1;
    }
    deny = (*list == '^');
    for (const char *p = list + deny; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == nlen && strncmp(p, name, len) == 0) {
            found = 1;
        }
        p += len + (end != NULL);
    }
    return deny ? !found : found;
}

static pthread_mutex_t rz_plugin_dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static char rz_plugin_dir_store[RZ_PLUGIN_MAX_DIRS][PATH_MAX];
static const char *rz_plugin_dir_list[RZ_PLUGIN_MAX_DIRS + 1];

static void rz_plugin_add_dir(int *n, const char *dir, size_t len)
{
    if (len == 0 || len >= PATH_MAX || *n >= RZ_PLUGIN_MAX_DIRS) {
        return;
    }
    for (int i = 0; i < *n; i++) {
        if (strlen(rz_plugin_dir_list[i]) == len &&
            strncmp(rz_plugin_dir_list[i], dir, len) == 0) {
            return;
        }
    }
    memcpy(rz_plugin_dir_store[*n], dir, len);
    rz_plugin_dir_store[*n][len] = '\0';
    rz_plugin_dir_list[*n] = rz_plugin_dir_store[*n];
    (*n)++;
}

const char *const *rz_plugin_search_dirs(void)
{
    const char *env = getenv("RZ_PLUGIN_PATH");
    char buf[PATH_MAX];
    Dl_info info;
    int n = 0;

    for (const char *p = env; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        rz_plugin_add_dir(&n, p, len);
        p += len + (end != NULL);
    }
    /* The object this code lives in: libringzip.so, or an executable that
     * links the static twin (tools and tests in a build tree), for which
     * dladdr() may give an empty name. */
    {
        char real[PATH_MAX];
        const char *obj = NULL;
        if (dladdr((void *)rz_plugin_search_dirs, &info) != 0 &&
            info.dli_fname != NULL && strchr(info.dli_fname, '/') != NULL &&
            realpath(info.dli_fname, real) != NULL) {
            obj = real;
        } else {
            ssize_t len = readlink("/proc/self/exe", real, sizeof(real) - 1);
            if (len > 0) {
                real[len] = '\0';
                obj = real;
            }
        }
        if (obj != NULL) {
            int len = (int)(strrchr(obj, '/') - obj);
            if (snprintf(buf, sizeof(buf), "%.*s/ringzip", len, obj) <
                (int)sizeof(buf)) {
                rz_plugin_add_dir(&n, buf, strlen(buf));
            }
            if (snprintf(buf, sizeof(buf), "%.*s/../lib/ringzip", len, obj) <
                (int)sizeof(buf)) {
                rz_plugin_add_dir(&n, buf, strlen(buf));
            }
        }
    }
    rz_plugin_add_dir(&n, RZ_PLUGIN_INSTALL_DIR, strlen(RZ_PLUGIN_INSTALL_DIR));
    rz_plugin_dir_list[n] = NULL;
    return rz_plugin_dir_list;
}

rz_status_t rz_plugin_open(const char *name, const char *params,
                           rz_plugin_t **plugin_p)
{
    const char *const *dirs;
    char path[PATH_MAX];

    if (name == NULL || plugin_p == NULL) {
        RZ_LOG_ERROR("rz_plugin_open: NULL %s",
                     name == NULL ? "name" : "plugin_p");
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_plugin_name_valid(name)) {
        RZ_LOG_ERROR("compressor '%s': invalid name (1 to %d of [a-z0-9_])",
                     name, RZ_COMPRESSOR_NAME_MAX);
        return RZ_ERR_INVALID_PARAM;
    }
    if (!rz_plugin_allowed(name)) {
        RZ_LOG_ERROR("compressor '%s' is excluded by RZ_COMPRESSORS=%s", name,
                     getenv("RZ_COMPRESSORS"));
        return RZ_ERR_NOT_SUPPORTED;
    }
    /* The directory list is static storage: ranks run as threads of one
     * process open plugins concurrently. */
    int found = 0;
    pthread_mutex_lock(&rz_plugin_dirs_lock);
    dirs = rz_plugin_search_dirs();
    for (int i = 0; dirs[i] != NULL && !found; i++) {
        found = snprintf(path, sizeof(path), "%s/" RZ_PLUGIN_PREFIX "%s"
                         RZ_PLUGIN_SUFFIX, dirs[i], name) < (int)sizeof(path) &&
                access(path, F_OK) == 0;
    }
    pthread_mutex_unlock(&rz_plugin_dirs_lock);
    if (found) {
        return rz_plugin_open_file(path, params, plugin_p);
    }
    RZ_LOG_ERROR("compressor '%s': no " RZ_PLUGIN_PREFIX "%s" RZ_PLUGIN_SUFFIX
                 " in RZ_PLUGIN_PATH, beside libringzip.so or in the install "
                 "libdir (rz_info -p lists the directories)", name, name);
    return RZ_ERR_NOT_SUPPORTED;
}

rz_status_t rz_plugin_open_spec(const char *spec, rz_plugin_t **plugin_p)
{
    char name[RZ_COMPRESSOR_NAME_MAX + 2];
    const char *colon;
    size_t len;

    if (spec == NULL) {
        RZ_LOG_ERROR("rz_plugin_open_spec: NULL spec");
        return RZ_ERR_INVALID_PARAM;
    }
    colon = strchr(spec, ':');
    len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof(name)) {
        RZ_LOG_ERROR("compressor spec '%s': expected name[:params]", spec);
        return RZ_ERR_INVALID_PARAM;
    }
    memcpy(name, spec, len);
    name[len] = '\0';
    return rz_plugin_open(name, colon ? colon + 1 : "", plugin_p);
}

static int rz_plugin_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rz_plugin_foreach(rz_plugin_visit_func_t cb, void *arg)
{
    const char *const *dirs = rz_plugin_search_dirs();
    char **seen = NULL;
    size_t nseen = 0;

    for (int i = 0; dirs[i] != NULL; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        char **files = NULL;
        size_t nfiles = 0;

        if (d == NULL) {
            continue;
        }
        while ((e = readdir(d)) != NULL) {
            char name[RZ_COMPRESSOR_NAME_MAX + 2];
            char **grown;
            rz_plugin_file_name(e->d_name, name, sizeof(name));
            if (name[0] == '\0') {
                continue;
            }
            grown = realloc(files, (nfiles + 1) * sizeof(*files));
            if (grown == NULL) {
                break;
            }
            files = grown;
            files[nfiles] = strdup(e->d_name);
            if (files[nfiles] != NULL) {
                nfiles++;
            }
        }
        closedir(d);
        /* Deterministic order whatever the file system returns. */
        qsort(files, nfiles, sizeof(*files), rz_plugin_cmp_str);
        for (size_t f = 0; f < nfiles; f++) {
            char name[RZ_COMPRESSOR_NAME_MAX + 2], path[PATH_MAX];
            rz_plugin_t *plugin = NULL;
            rz_status_t status;
            int dup = 0;
            char **grown;

            rz_plugin_file_name(files[f], name, sizeof(name));
            for (size_t s = 0; s < nseen; s++) {
                dup |= strcmp(seen[s], name) == 0;
            }
            if (dup || snprintf(path, sizeof(path), "%s/%s", dirs[i],
                                files[f]) >= (int)sizeof(path)) {
                continue;
            }
            grown = realloc(seen, (nseen + 1) * sizeof(*seen));
            if (grown != NULL) {
                seen = grown;
                seen[nseen] = strdup(name);
                nseen += seen[nseen] != NULL;
            }
            status = !rz_plugin_allowed(name)
                         ? RZ_ERR_NOT_SUPPORTED
                         : rz_plugin_open_file(path, NULL, &plugin);
            cb(path, name, status, plugin, arg);
            rz_plugin_close(plugin);
        }
        for (size_t f = 0; f < nfiles; f++) {
            free(files[f]);
        }
        free(files);
    }
    for (size_t s = 0; s < nseen; s++) {
        free(seen[s]);
    }
    free(seen);
}

/* ------------------------------------------------------- checked calls */

static rz_status_t rz_plugin_check_dtype(const rz_plugin_t *plugin,
                                         uint32_t dtype)
{
    if (dtype >= 64 ||
        !(plugin->info.dtypes & RZ_COMPRESSOR_DTYPE_BIT(dtype))) {
        RZ_LOG_DEBUG("compressor %s: dtype %u not accepted", plugin->name,
                     dtype);
        return RZ_ERR_NOT_SUPPORTED;
    }
    return RZ_OK;
}

size_t rz_plugin_max_size(const rz_plugin_t *plugin, uint32_t dtype,
                          size_t count)
{
    if (plugin == NULL || count == 0 ||
        rz_plugin_check_dtype(plugin, dtype) != RZ_OK) {
        return 0;
    }
    return plugin->ops->max_compressed_size(plugin->ctx, dtype, count);
}

rz_status_t rz_plugin_compress(const rz_plugin_t *plugin,
                               const rz_compressor_key_t *key, uint32_t dtype,
                               const void *in, size_t count, void *out,
                               size_t capacity, size_t *size_p,
                               void *residual)
{
    rz_status_t status;

    if (plugin == NULL || key == NULL || size_p == NULL ||
        (count > 0 && (in == NULL || out == NULL))) {
        RZ_LOG_ERROR("compress: NULL argument");
        return RZ_ERR_INVALID_PARAM;
    }
    RZ_CHECK_GOTO(rz_plugin_check_dtype(plugin, dtype), out, status);
    if (count == 0) {
        *size_p = 0;
        return RZ_OK;           /* empty chunks send nothing (note 7) */
    }
    status = plugin->ops->compress(plugin->ctx, key, dtype, in, count, out,
                                   capacity, size_p, residual);
    if (status == RZ_OK && *size_p > capacity) {
        RZ_LOG_ERROR("compressor %s wrote %zu bytes into %zu", plugin->name,
                     *size_p, capacity);
        return RZ_ERR_INTERNAL;
    }
out:
    return status;
}

rz_status_t rz_plugin_decompress(const rz_plugin_t *plugin,
                                 const rz_compressor_key_t *key,
                                 uint32_t dtype, const void *in, size_t size,
                                 void *y, size_t count, float alpha,
                                 float beta)
{
    rz_status_t status;

    if (plugin == NULL || key == NULL || (size > 0 && in == NULL) ||
        (count > 0 && y == NULL)) {
        RZ_LOG_ERROR("decompress: NULL argument");
        return RZ_ERR_INVALID_PARAM;
    }
    RZ_CHECK_GOTO(rz_plugin_check_dtype(plugin, dtype), out, status);
    if (count == 0) {
        if (size != 0) {
            RZ_LOG_ERROR("compressor %s: %zu bytes for an empty chunk",
                         plugin->name, size);
            return RZ_ERR_MALFORMED;
        }
        return RZ_OK;
    }
    status = plugin->ops->decompress(plugin->ctx, key, dtype, in, size, y,
                                     count, alpha, beta);
    if (status == RZ_ERR_MALFORMED) {
        RZ_LOG_ERROR("compressor %s: malformed %zu bytes for %zu elements",
                     plugin->name, size, count);
    }
out:
    return status;
}
