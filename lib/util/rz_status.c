#include "util/rz_compiler.h"

RZ_EXPORT const char *rz_status_string(rz_status_t status)
{
    switch (status) {
    case RZ_OK:                return "success";
    case RZ_INPROGRESS:        return "operation in progress";
    case RZ_ERR_INVALID_PARAM: return "invalid parameter";
    case RZ_ERR_NOT_SUPPORTED: return "not supported";
    case RZ_ERR_NO_MEMORY:     return "out of memory";
    case RZ_ERR_TIMEOUT:       return "timed out";
    case RZ_ERR_PEER_FAILURE:  return "peer failure";
    case RZ_ERR_MISMATCH:      return "collective arguments differ across ranks";
    case RZ_ERR_ABORTED:       return "communicator aborted";
    case RZ_ERR_BOOTSTRAP:     return "bootstrap failed";
    case RZ_ERR_AUTH:          return "session key refused";
    case RZ_ERR_TRANSPORT:     return "transport error";
    case RZ_ERR_IO:            return "input/output error";
    case RZ_ERR_MALFORMED:     return "malformed data";
    case RZ_ERR_PLUGIN:        return "broken or incompatible plugin";
    case RZ_ERR_NEED_SYNC:     return "this iteration is a LIEC sync: call rz_ef_liec_sync()";
    case RZ_ERR_INTERNAL:      return "internal error";
    case RZ_ERR_LAST:          break;
    }
    return "unknown status";
}
