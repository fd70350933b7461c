/*
 * IDX reader. The format is a big-endian magic (0x00000801 labels,
 * 0x00000803 images), the dimension sizes as big-endian uint32, then the
 * bytes. Every size is checked against the file before it is trusted.
 */
#include "mnist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Fashion-MNIST's training-set pixel mean and standard deviation (of p/255). */
#define MNIST_MEAN 0.2860f
#define MNIST_STD  0.3530f

static uint32_t be32(const unsigned char *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
           ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Open @dir/@name.gz, else @dir/@name (zlib reads plain files too). */
static gzFile idx_open(const char *dir, const char *name, char *path,
                       size_t pathlen)
{
    gzFile f;

    snprintf(path, pathlen, "%s/%s.gz", dir, name);
    f = gzopen(path, "rb");
    if (f == NULL) {
        snprintf(path, pathlen, "%s/%s", dir, name);
        f = gzopen(path, "rb");
    }
    return f;
}

static int idx_read(gzFile f, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(f, p, chunk);
        if (got <= 0) {
            return -1;
        }
        p += got;
        len -= (size_t)got;
    }
    return 0;
}

/* Read one IDX file with @ndims dimensions; *n_p = the first dimension,
 * the others must equal @inner (product). */
static int idx_load(const char *dir, const char *name, uint32_t magic,
                    int ndims, size_t inner, uint8_t **data_p, size_t *n_p,
                    char *err, size_t errlen)
{
    char path[4096];
    unsigned char hdr[16];
    size_t n, rest = 1;
    uint8_t *data = NULL;
    unsigned char extra;
    gzFile f = idx_open(dir, name, path, sizeof(path));

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s/%s[.gz]: %s (install the "
                 "dataset-fashion-mnist package, or give --data DIR)",
                 dir, name, strerror(errno ? errno : ENOENT));
        return -1;
    }
    if (idx_read(f, hdr, 4 + 4 * (size_t)ndims) != 0) {
        snprintf(err, errlen, "%s: truncated IDX header", path);
        goto fail;
    }
    if (be32(hdr) != magic) {
        snprintf(err, errlen, "%s: IDX magic 0x%08x, expected 0x%08x", path,
                 be32(hdr), magic);
        goto fail;
    }
    n = be32(hdr + 4);
    for (int i = 1; i < ndims; i++) {
        rest *= be32(hdr + 4 + 4 * i);
    }
    if (rest != inner || n == 0 || n > (1u << 24)) {
        snprintf(err, errlen, "%s: unexpected IDX dimensions (%zu samples "
                 "of %zu bytes, expected %zu bytes)", path, n, rest, inner);
        goto fail;
    }
    data = malloc(n * inner);
    if (data == NULL) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path,
                 n * inner);
        goto fail;
    }
    if (idx_read(f, data, n * inner) != 0) {
        snprintf(err, errlen, "%s: truncated: fewer than %zu data bytes",
                 path, n * inner);
        goto fail;
    }
    if (gzread(f, &extra, 1) != 0) {
        snprintf(err, errlen, "%s: trailing bytes after the data", path);
        goto fail;
    }
    gzclose(f);
    *data_p = data;
    *n_p = n;
    return 0;

fail:
    free(data);
    gzclose(f);
    return -1;
}

int mnist_load(const char *dir, const char *prefix, mnist_set_t *set,
               char *err, size_t errlen)
{
    char name[256];
    size_t nl;

    memset(set, 0, sizeof(*set));
    snprintf(name, sizeof(name), "%s-images-idx3-ubyte", prefix);
    if (idx_load(dir, name, 0x803, 3, MNIST_PIXELS, &set->images, &set->n,
                 err, errlen) != 0) {
        return -1;
    }
    snprintf(name, sizeof(name), "%s-labels-idx1-ubyte", prefix);
    if (idx_load(dir, name, 0x801, 1, 1, &set->labels, &nl, err,
                 errlen) != 0) {
        mnist_free(set);
        return -1;
    }
    if (nl != set->n) {
        snprintf(err, errlen, "%s/%s: %zu labels for %zu images", dir, name,
                 nl, set->n);
        mnist_free(set);
        return -1;
    }
    for (size_t i = 0; i < nl; i++) {
        if (set->labels[i] >= MNIST_CLASSES) {
            snprintf(err, errlen, "%s/%s: label %u of sample %zu is not a "
                     "class in [0, 10)", dir, name, set->labels[i], i);
            mnist_free(set);
            return -1;
        }
    }
    return 0;
}

void mnist_free(mnist_set_t *set)
{
    free(set->images);
    free(set->labels);
    memset(set, 0, sizeof(*set));
}

void mnist_to_float(const uint8_t *pixels, size_t n, float *out)
{
    const float scale = 1.0f / (255.0f * MNIST_STD);
    const float shift = MNIST_MEAN / MNIST_STD;

    for (size_t i = 0; i < n; i++) {
        out[i] = (float)pixels[i] * scale - shift;
    }
}
