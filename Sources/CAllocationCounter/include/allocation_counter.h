// Counts heap allocations of the process, to prove that inference does not allocate.
#ifndef EARLYEXIT_ALLOCATION_COUNTER_H
#define EARLYEXIT_ALLOCATION_COUNTER_H
#include <stdint.h>

/// The number of malloc/calloc/realloc/memalign-family calls since the process started.
/// Counting is active only on glibc, where the allocator entry points are interposed;
/// elsewhere this returns UINT64_MAX, meaning "not available".
uint64_t ee_allocation_count(void);

/// 1 when allocations are counted on this platform, 0 otherwise.
int ee_allocation_counting_available(void);

#endif
