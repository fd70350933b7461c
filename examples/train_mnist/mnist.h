/*
 * Fashion-MNIST / MNIST in IDX format (gzip-compressed or plain), as
 * Debian's dataset-fashion-mnist ships it.
 */
#ifndef TRAIN_MNIST_MNIST_H
#define TRAIN_MNIST_MNIST_H

#include <stddef.h>
#include <stdint.h>

#define MNIST_PIXELS 784 /* 28 x 28 */
#define MNIST_CLASSES 10

typedef struct {
    size_t   n;      /* samples */
    uint8_t *images; /* n x 784 pixels, row-major */
    uint8_t *labels; /* n labels in [0, 10) */
} mnist_set_t;

/*
 * Load "<dir>/<prefix>-images-idx3-ubyte[.gz]" and the matching labels
 * (prefix "train" or "t10k"). On failure returns -1 and writes a message
 * that names the file and the problem into @err (@errlen bytes).
 */
int mnist_load(const char *dir, const char *prefix, mnist_set_t *set,
               char *err, size_t errlen);

void mnist_free(mnist_set_t *set);

/* Pixel p (0..255) as the network sees it: (p/255 - mean) / std. */
void mnist_to_float(const uint8_t *pixels, size_t n, float *out);

#endif
