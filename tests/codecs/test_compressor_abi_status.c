/* The status values as <ringzip/status.h> defines them, in the order
 * test_compressor_abi.c lists compressor.h's. */
#include <ringzip/status.h>

const int rz_abi_status_values[] = {
    RZ_OK, RZ_INPROGRESS, RZ_ERR_INVALID_PARAM, RZ_ERR_NOT_SUPPORTED,
    RZ_ERR_NO_MEMORY, RZ_ERR_TIMEOUT, RZ_ERR_PEER_FAILURE, RZ_ERR_MISMATCH,
    RZ_ERR_ABORTED, RZ_ERR_BOOTSTRAP, RZ_ERR_AUTH, RZ_ERR_TRANSPORT,
    RZ_ERR_IO, RZ_ERR_MALFORMED, RZ_ERR_INTERNAL, RZ_ERR_PLUGIN,
    RZ_ERR_NEED_SYNC, RZ_ERR_LAST};
const int rz_abi_status_count =
    (int)(sizeof(rz_abi_status_values) / sizeof(rz_abi_status_values[0]));
