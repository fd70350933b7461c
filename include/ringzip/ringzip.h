/**
 * @file ringzip.h
 * @brief Umbrella header: everything an application needs.
 */
#ifndef RINGZIP_RINGZIP_H
#define RINGZIP_RINGZIP_H

#include <ringzip/version.h>
#include <ringzip/status.h>
#include <ringzip/types.h>
#include <ringzip/comm.h>
#include <ringzip/coll.h>
#include <ringzip/ef.h>
#include <ringzip/fusion.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Version of the library actually loaded, as "MAJOR.MINOR.PATCH". */
const char *rz_version_string(void);

/**
 * @brief Compare the header's API version with the loaded library's.
 * @param [in] api_version  Pass RZ_API_VERSION.
 * @return RZ_OK if compatible, RZ_ERR_NOT_SUPPORTED if the major versions
 *         differ or the library is older than the header.
 */
rz_status_t rz_check_version(unsigned api_version);

#ifdef __cplusplus
}
#endif
#endif
