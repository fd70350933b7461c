#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W1_OFF 0
#define B1_OFF (W1_OFF + MLP_H1 * MLP_IN)
#define W2_OFF (B1_OFF + MLP_H1)
#define B2_OFF (W2_OFF + MLP_H2 * MLP_H1)
#define W3_OFF (B2_OFF + MLP_H2)
#define B3_OFF (W3_OFF + MLP_OUT * MLP_H2)

const mlp_tensor_t mlp_tensors[MLP_NTENSORS] = {
    {"fc1.weight", W1_OFF, MLP_H1 * MLP_IN},
    {"fc1.bias",   B1_OFF, MLP_H1},
    {"fc2.weight", W2_OFF, MLP_H2 * MLP_H1},
    {"fc2.bias",   B2_OFF, MLP_H2},
    {"fc3.weight", W3_OFF, MLP_OUT * MLP_H2},
    {"fc3.bias",   B3_OFF, MLP_OUT},
};

int mlp_work_init(mlp_work_t *w, size_t max_batch)
{
    size_t b = max_batch;

    memset(w, 0, sizeof(*w));
    w->max_batch = b;
    w->x   = malloc(b * MLP_IN * sizeof(float));
    w->h1  = malloc(b * MLP_H1 * sizeof(float));
    w->h2  = malloc(b * MLP_H2 * sizeof(float));
    w->z   = malloc(b * MLP_OUT * sizeof(float));
    w->dz  = malloc(b * MLP_OUT * sizeof(float));
    w->dh2 = malloc(b * MLP_H2 * sizeof(float));
    w->dh1 = malloc(b * MLP_H1 * sizeof(float));
    if (!w->x || !w->h1 || !w->h2 || !w->z || !w->dz || !w->dh2 || !w->dh1) {
        mlp_work_free(w);
        return -1;
    }
    return 0;
}

void mlp_work_free(mlp_work_t *w)
{
    free(w->x);
    free(w->h1);
    free(w->h2);
    free(w->z);
    free(w->dz);
    free(w->dh2);
    free(w->dh1);
    memset(w, 0, sizeof(*w));
}

/* The SplitMix64 generator: mix the state, then advance it. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = mlp_mix64(*state);

    *state += 0x9E3779B97F4A7C15ull;
    return z;
}

static void uniform_fill(float *p, size_t n, float bound, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        /* 24 random bits: a float in [0, 1) exactly. */
        float u = (float)(splitmix64(state) >> 40) * (1.0f / 16777216.0f);
        p[i] = (2.0f * u - 1.0f) * bound;
    }
}

void mlp_init_params(float *params, uint64_t seed)
{
    uint64_t state = seed;
    const size_t fan_in[MLP_NTENSORS] = {MLP_IN, MLP_IN, MLP_H1, MLP_H1,
                                         MLP_H2, MLP_H2};

    for (int i = 0; i < MLP_NTENSORS; i++) {
        uniform_fill(params + mlp_tensors[i].offset, mlp_tensors[i].count,
                     1.0f / sqrtf((float)fan_in[i]), &state);
    }
}

/* out (n x cols) = in (n x k) * W^T (W: cols x k) + b, then ReLU if asked. */
static void dense(const float *in, size_t n, size_t k, const float *W,
                  const float *b, size_t cols, float *out, int relu)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)cols,
                (int)k, 1.0f, in, (int)k, W, (int)k, 0.0f, out, (int)cols);
    for (size_t r = 0; r < n; r++) {
        float *o = out + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = o[c] + b[c];
            o[c] = (relu && v < 0.0f) ? 0.0f : v;
        }
    }
}

/* dW (cols x k) = dout^T (cols x n) * in (n x k); db = column sums of dout. */
static void dense_grad(const float *dout, const float *in, size_t n,
                       size_t k, size_t cols, float *dW, float *db)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cols, (int)k,
                (int)n, 1.0f, dout, (int)cols, in, (int)k, 0.0f, dW, (int)k);
    memset(db, 0, cols * sizeof(float));
    for (size_t r = 0; r < n; r++) {
        for (size_t c = 0; c < cols; c++) {
            db[c] += dout[r * cols + c];
        }
    }
}

/* din (n x k) = dout (n x cols) * W (cols x k), masked where act == 0. */
static void dense_back(const float *dout, const float *W, size_t n,
                       size_t cols, size_t k, const float *act, float *din)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k,
                (int)cols, 1.0f, dout, (int)cols, W, (int)k, 0.0f, din,
                (int)k);
    for (size_t i = 0; i < n * k; i++) {
        if (act[i] <= 0.0f) {
            din[i] = 0.0f;
        }
    }
}

double mlp_loss_grad(const float *params, mlp_work_t *w, size_t n,
                     const uint8_t *labels, float *grad, size_t *correct_p)
{
    const float *W1 = params + W1_OFF, *b1 = params + B1_OFF;
    const float *W2 = params + W2_OFF, *b2 = params + B2_OFF;
    const float *W3 = params + W3_OFF, *b3 = params + B3_OFF;
    double loss = 0.0;
    size_t correct = 0;
    const float inv_n = 1.0f / (float)n;

    dense(w->x, n, MLP_IN, W1, b1, MLP_H1, w->h1, 1);
    dense(w->h1, n, MLP_H1, W2, b2, MLP_H2, w->h2, 1);
    dense(w->h2, n, MLP_H2, W3, b3, MLP_OUT, w->z, 0);

    for (size_t r = 0; r < n; r++) {
        const float *z = w->z + r * MLP_OUT;
        float *dz = w->dz + r * MLP_OUT;
        int arg = 0;
        double sum = 0.0;
        float zmax = z[0];

        for (int c = 1; c < MLP_OUT; c++) {
            if (z[c] > zmax) {
                zmax = z[c];
                arg = c;
            }
        }
        for (int c = 0; c < MLP_OUT; c++) {
            sum += exp((double)z[c] - (double)zmax);
        }
        loss += log(sum) - ((double)z[labels[r]] - (double)zmax);
        correct += (arg == labels[r]);
        for (int c = 0; c < MLP_OUT; c++) {
            double p = exp((double)z[c] - (double)zmax) / sum;
            dz[c] = (float)(p - (c == labels[r] ? 1.0 : 0.0)) * inv_n;
        }
    }
    if (correct_p != NULL) {
        *correct_p = correct;
    }
    if (grad == NULL) {
        return loss / (double)n;
    }
    dense_grad(w->dz, w->h2, n, MLP_H2, MLP_OUT, grad + W3_OFF,
               grad + B3_OFF);
    dense_back(w->dz, W3, n, MLP_OUT, MLP_H2, w->h2, w->dh2);
    dense_grad(w->dh2, w->h1, n, MLP_H1, MLP_H2, grad + W2_OFF,
               grad + B2_OFF);
    dense_back(w->dh2, W2, n, MLP_H2, MLP_H1, w->h1, w->dh1);
    dense_grad(w->dh1, w->x, n, MLP_IN, MLP_H1, grad + W1_OFF,
               grad + B1_OFF);
    return loss / (double)n;
}
