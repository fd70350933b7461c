/*
 * <ringzip/compressor.h> on its own: this file is compiled with only the
 * source include/ directory on the path and includes nothing else from
 * ringzip, so a plugin author needs nothing more. Checks the frozen layout
 * and that the status values agree with <ringzip/status.h> (whose values
 * the other translation unit reports).
 */
#include <ringzip/compressor.h>

#include <stddef.h>
#include <stdio.h>

extern const int rz_abi_status_values[];
extern const int rz_abi_status_count;

int main(void)
{
    static const int mine[] = {
        RZ_OK, RZ_INPROGRESS, RZ_ERR_INVALID_PARAM, RZ_ERR_NOT_SUPPORTED,
        RZ_ERR_NO_MEMORY, RZ_ERR_TIMEOUT, RZ_ERR_PEER_FAILURE,
        RZ_ERR_MISMATCH, RZ_ERR_ABORTED, RZ_ERR_BOOTSTRAP, RZ_ERR_AUTH,
        RZ_ERR_TRANSPORT, RZ_ERR_IO, RZ_ERR_MALFORMED, RZ_ERR_INTERNAL,
        RZ_ERR_PLUGIN, RZ_ERR_NEED_SYNC, RZ_ERR_LAST};
    int failed = 0;

    if (rz_abi_status_count != (int)(sizeof(mine) / sizeof(mine[0]))) {
        printf("FAIL: status.h lists %d values, compressor.h %zu\n",
               rz_abi_status_count, sizeof(mine) / sizeof(mine[0]));
        failed++;
    }
    for (int i = 0; i < rz_abi_status_count &&
                    i < (int)(sizeof(mine) / sizeof(mine[0]));
         i++) {
        if (mine[i] != rz_abi_status_values[i]) {
            printf("FAIL: status #%d: compressor.h %d, status.h %d\n", i,
                   mine[i], rz_abi_status_values[i]);
            failed++;
        }
    }
    /* The frozen v1 layout on this platform (LP64 here). */
    if (offsetof(rz_compressor_v1_t, abi_version) != 0 ||
        offsetof(rz_compressor_v1_t, struct_size) != 4 ||
        offsetof(rz_compressor_v1_t, name) != 8 ||
        offsetof(rz_compressor_v1_t, init) != 8 + 2 * sizeof(void *) ||
        offsetof(rz_compressor_v1_t, finalize) != 8 + 7 * sizeof(void *) ||
        offsetof(rz_compressor_v1_t, delta_bound) != 8 + 8 * sizeof(void *) ||
        sizeof(rz_compressor_v1_t) != 8 + 9 * sizeof(void *) ||
        sizeof(rz_compressor_key_t) != 32 ||
        sizeof(rz_compressor_info_t) != 32 ||
        offsetof(rz_compressor_info_t, wire_id) != 24) {
        printf("FAIL: v1 layout changed\n");
        failed++;
    }
    if (RZ_COMPRESSOR_ABI_VERSION != 1u ||
        RZ_COMPRESSOR_DTYPE_F32 != 0u || RZ_COMPRESSOR_DTYPE_BF16 != 3u) {
        printf("FAIL: ABI constants changed\n");
        failed++;
    }
    printf("compressor_abi: %s\n", failed ? "FAILED" : "ok");
    return failed != 0;
}
