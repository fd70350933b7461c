/*
 * The MLP 784-256-128-10 of ALGORITHMS.md section 6.3 (ReLU, softmax
 * cross-entropy), forward and backward through CBLAS. All parameters live
 * in one vector of MLP_PARAMS floats, tensor after tensor (mlp_tensors),
 * so that optimiser arithmetic runs over one array and each tensor is a
 * slice the fusion engine exchanges by name.
 */
#ifndef TRAIN_MNIST_MLP_H
#define TRAIN_MNIST_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_IN  784
#define MLP_H1  256
#define MLP_H2  128
#define MLP_OUT 10
#define MLP_NTENSORS 6
#define MLP_PARAMS (MLP_H1 * MLP_IN + MLP_H1 + MLP_H2 * MLP_H1 + MLP_H2 + \
                    MLP_OUT * MLP_H2 + MLP_OUT) /* 235,146 */

typedef struct {
    const char *name;   /* "fc1.weight", ... */
    size_t      offset; /* into the parameter vector */
    size_t      count;
} mlp_tensor_t;

extern const mlp_tensor_t mlp_tensors[MLP_NTENSORS];

/* SplitMix64's mixer, increment included (ALGORITHMS.md 1.2 note 6):
 * the hash behind the initial weights and the epoch shuffles. */
static inline uint64_t mlp_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Scratch for batches of at most max_batch samples. */
typedef struct {
    size_t max_batch;
    float *x, *h1, *h2, *z, *dz, *dh2, *dh1;
} mlp_work_t;

int  mlp_work_init(mlp_work_t *w, size_t max_batch);
void mlp_work_free(mlp_work_t *w);

/* PyTorch's nn.Linear default: every weight and bias of a layer with
 * fan-in f uniform in [-1/sqrt(f), 1/sqrt(f)), from a SplitMix64 stream
 * of @seed (the same on every rank). */
void mlp_init_params(float *params, uint64_t seed);

/*
 * Mean cross-entropy over the @n samples in w->x (n x 784, already
 * filled) with @labels; when @grad is not NULL also its gradient with
 * respect to @params (MLP_PARAMS floats, overwritten). *correct_p (may be
 * NULL) counts the samples whose arg-max is the label.
 */
double mlp_loss_grad(const float *params, mlp_work_t *w, size_t n,
                     const uint8_t *labels, float *grad, size_t *correct_p);

#endif
