/*
 * train_mnist's command line: the options, their defaults and checks, and
 * the --help text.
 */
#ifndef TRAIN_MNIST_OPTIONS_H
#define TRAIN_MNIST_OPTIONS_H

#include <ringzip/ringzip.h>

#include <stddef.h>
#include <stdint.h>

#define MAX_DECAYS 16

typedef enum {
    M_NONE = 0, /* no error feedback: P-SGD with --compressor none */
    M_EF,
    M_SAEF,
    M_LIEC
} method_t;

typedef struct {
    const char      *data_dir;
    int              epochs;
    method_t         method;
    rz_ef_topology_t topology;
    int              server_rank;
    int              chunk_aligned;
    const char      *compressor;
    const char      *server_compressor;
    unsigned         err_avg;
    unsigned         sync;
    float            lr;
    float            lr_gamma;
    int              decay[MAX_DECAYS];
    int              ndecay;
    float            momentum;
    float            weight_decay;
    size_t           batch;
    uint64_t         seed;
    const char      *csv;
    const char      *save;
    size_t           train_limit;
    size_t           test_limit;
    int              quiet;
} opts_t;

/* Parse the command line into @o (defaults first). --help prints the
 * manual and exits 0; a bad option prints why and exits 2. */
void parse_args(int argc, char **argv, opts_t *o);

/* "none", "ef", "saef" or "liec". */
const char *method_name(method_t m);

#endif
