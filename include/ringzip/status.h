/**
 * @file status.h
 * @brief The one status type of ringzip, shared by the library and its plugins.
 */
#ifndef RINGZIP_STATUS_H
#define RINGZIP_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RZ_STATUS_T_DEFINED
#define RZ_STATUS_T_DEFINED
/**
 * @brief Result of every ringzip call. 0 is success, 1 means "not finished
 *        yet", every error is negative. Values are part of the ABI and never
 *        change; new errors are added below the last one.
 */
typedef enum {
    RZ_OK                =   0, /**< Success. */
    RZ_INPROGRESS        =   1, /**< Operation started and not complete. */
    RZ_ERR_INVALID_PARAM =  -1, /**< NULL pointer, bad count, unknown dtype/op, bad handle. */
    RZ_ERR_NOT_SUPPORTED =  -2, /**< Valid request this build or pair does not implement. */
    RZ_ERR_NO_MEMORY     =  -3, /**< Allocation failed. */
    RZ_ERR_TIMEOUT       =  -4, /**< No progress within RZ_TIMEOUT_MS. */
    RZ_ERR_PEER_FAILURE  =  -5, /**< A peer process died or its connection broke. */
    RZ_ERR_MISMATCH      =  -6, /**< Ranks called the collective with different arguments. */
    RZ_ERR_ABORTED       =  -7, /**< The communicator was aborted earlier. */
    RZ_ERR_BOOTSTRAP     =  -8, /**< Rendezvous failed: root unreachable, wrong size, duplicate rank. */
    RZ_ERR_AUTH          =  -9, /**< Session key refused by the bootstrap root. */
    RZ_ERR_TRANSPORT     = -10, /**< The UCX transport reported an error. */
    RZ_ERR_IO            = -11, /**< A system call failed. */
    RZ_ERR_MALFORMED     = -12, /**< Received bytes failed validation. */
    RZ_ERR_INTERNAL      = -13, /**< A bug in ringzip; please report it. */
    RZ_ERR_PLUGIN        = -14, /**< A plugin file is broken or incompatible (ABI version, size, name, symbols). */
    RZ_ERR_NEED_SYNC     = -15, /**< rz_ef_exchange() on a LIEC sync iteration: call rz_ef_liec_sync(). */
    RZ_ERR_LAST          = -16  /**< One past the last error; not a status. */
} rz_status_t;
#endif /* RZ_STATUS_T_DEFINED; ringzip/compressor.h has the same enum */

/**
 * @brief Human-readable name of a status.
 * @param [in] status  Any value; unknown values give "unknown status".
 * @return A static string, never NULL.
 */
const char *rz_status_string(rz_status_t status);

#ifdef __cplusplus
}
#endif
#endif
