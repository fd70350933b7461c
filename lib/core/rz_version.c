#include <ringzip/ringzip.h>
#include "util/rz_compiler.h"

RZ_EXPORT const char *rz_version_string(void)
{
    return RZ_VERSION_STRING;
}

RZ_EXPORT rz_status_t rz_check_version(unsigned api_version)
{
    unsigned major = api_version >> 16;

    if (major != RZ_VERSION_MAJOR || api_version > RZ_API_VERSION) {
        return RZ_ERR_NOT_SUPPORTED;
    }
    return RZ_OK;
}
