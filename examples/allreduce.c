/*
 * Minimal drop-in use: launch with `rzrun -np 4 ./example_allreduce`.
 * Each rank contributes its rank number; everyone ends with the sum.
 */
#include <ringzip/ringzip.h>
#include <stdio.h>

int main(void)
{
    rz_comm_h comm;
    int rank, size;
    float grad[4];

    if (rz_comm_init_env(&comm) != RZ_OK) {
        return 1;
    }
    rz_comm_rank(comm, &rank);
    rz_comm_size(comm, &size);
    for (int i = 0; i < 4; i++) {
        grad[i] = (float)rank;
    }
    rz_status_t st = rz_allreduce(grad, grad, 4, RZ_DTYPE_F32, RZ_OP_SUM, comm);
    printf("rank %d of %d: %s, grad[0] = %g (expect %d)\n", rank, size,
           rz_status_string(st), grad[0], size * (size - 1) / 2);
    rz_comm_destroy(comm);
    return st == RZ_OK ? 0 : 1;
}
