/*
 * Small helpers shared by every layer: export/visibility, error-path macros,
 * monotonic time.
 */
#ifndef RZ_COMPILER_H
#define RZ_COMPILER_H

#include <ringzip/status.h>
#include <stdint.h>
#include <time.h>

#ifndef RZ_EXPORT
#define RZ_EXPORT __attribute__((visibility("default")))
#endif

#define RZ_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RZ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RZ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RZ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Jump to @label with @status set when @call fails (STYLE rule 5). */
#define RZ_CHECK_GOTO(call, label, status)                                     \
    do {                                                                       \
        (status) = (call);                                                     \
        if (RZ_UNLIKELY((status) < 0)) {                                       \
            goto label;                                                        \
        }                                                                      \
    } while (0)

static inline uint64_t rz_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t rz_time_ms(void)
{
    return rz_time_ns() / 1000000ull;
}

#endif
