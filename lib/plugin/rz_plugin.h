/*
 * Compressor plugin loader (internal). Finds librz_<name>.so along the
 * search path, validates the v1 struct, runs init and query, and wraps the
 * calls with argument checks. The plugin ABI itself is the public
 * include/ringzip/compressor.h.
 *
 * Search order for rz_plugin_open(): each directory of RZ_PLUGIN_PATH
 * (colon-separated), then ringzip/ beside the object that holds this code
 * (libringzip.so, or the executable when linked statically), then
 * ../lib/ringzip relative to that object's directory (a build tree's bin/),
 * then the install libdir's ringzip/. The first file that exists is used;
 * a broken file is an error, not a reason to look further.
 *
 * Errors (each logged once with the file and the reason):
 *   RZ_ERR_NOT_SUPPORTED  no librz_<name>.so in any directory, or the name
 *                         is excluded by RZ_COMPRESSORS
 *   RZ_ERR_PLUGIN         dlopen failed, symbol rz_compressor_plugin_v1
 *                         missing, abi_version != 1, struct_size smaller
 *                         than v1's, name invalid or not matching the file
 *                         name, a mandatory pointer NULL, query failed or
 *                         returned nonsense
 *   (init's status)       init failed (e.g. RZ_ERR_INVALID_PARAM for bad
 *                         parameters); the library is unloaded
 *   RZ_ERR_INVALID_PARAM  NULL arguments, bad name syntax
 */
#ifndef RZ_PLUGIN_H
#define RZ_PLUGIN_H

#include <ringzip/compressor.h>
#include <ringzip/status.h>

#include <stddef.h>

typedef struct rz_plugin {
    const rz_compressor_v1_t *ops;
    void                     *dl;        /* dlopen handle */
    void                     *ctx;       /* from ops->init */
    rz_compressor_host_t      host;      /* given to init; host_data = this */
    rz_compressor_info_t      info;      /* from ops->query */
    char                      name[RZ_COMPRESSOR_NAME_MAX + 1];
    char                     *path;      /* the file loaded */
    char                     *params;    /* as given to init ("" if none) */
} rz_plugin_t;

/* Load, validate, init and query the plugin in file @path (any path; the
 * name check compares ops->name with the file's librz_<name>.so). Does not
 * consult RZ_COMPRESSORS. */
rz_status_t rz_plugin_open_file(const char *path, const char *params,
                                rz_plugin_t **plugin_p);

/* Find librz_<name>.so along the search path, honour RZ_COMPRESSORS, then
 * as rz_plugin_open_file(). */
rz_status_t rz_plugin_open(const char *name, const char *params,
                           rz_plugin_t **plugin_p);

/* "name" or "name:params" (e.g. "topk:ratio=0.01"). */
rz_status_t rz_plugin_open_spec(const char *spec, rz_plugin_t **plugin_p);

/* Finalize the context and unload. NULL is ignored. */
void rz_plugin_close(rz_plugin_t *plugin);

/* 1 when RZ_COMPRESSORS lets @name be loaded. */
int rz_plugin_allowed(const char *name);

/* The directories searched, in order (NULL-terminated, static storage
 * refreshed by each call; not thread-safe). */
const char *const *rz_plugin_search_dirs(void);

/* Call @cb for every librz_*.so in the search directories, in search order,
 * first file of each name only, with the status of opening it (no params)
 * and, on success, the opened plugin (closed after @cb returns). */
typedef void (*rz_plugin_visit_func_t)(const char *path, const char *name,
                                       rz_status_t status,
                                       const rz_plugin_t *plugin, void *arg);
void rz_plugin_foreach(rz_plugin_visit_func_t cb, void *arg);

/* Checked calls: NULL/size/dtype checks, then the plugin. dtype is an
 * RZ_COMPRESSOR_DTYPE_* the plugin accepts (else RZ_ERR_NOT_SUPPORTED). */
size_t rz_plugin_max_size(const rz_plugin_t *plugin, uint32_t dtype,
                          size_t count);
rz_status_t rz_plugin_compress(const rz_plugin_t *plugin,
                               const rz_compressor_key_t *key, uint32_t dtype,
                               const void *in, size_t count, void *out,
                               size_t capacity, size_t *size_p,
                               void *residual);
rz_status_t rz_plugin_decompress(const rz_plugin_t *plugin,
                                 const rz_compressor_key_t *key,
                                 uint32_t dtype, const void *in, size_t size,
                                 void *y, size_t count, float alpha,
                                 float beta);

#endif
