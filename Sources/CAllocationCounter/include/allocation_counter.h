// Counts heap allocations of the process, to prove that inference does not allocate.
#ifndef EARLYEXIT_ALLOCATION_COUNTER_H
#define EARLYEXIT_ALLOCATION_COUNTER_H
#include <stdint.h>

/// The number of malloc/calloc/realloc/memalign-family calls since the process started.
/// Counting is active only on glibc, where the allocator entry points are interposed, and
/// not in sanitizer builds (ASan, TSan, MSan), whose runtimes intercept the allocator
/// themselves; elsewhere this returns UINT64_MAX, meaning "not available".
uint64_t ee_allocation_count(void);

/// 1 when allocations are counted in this build, 0 otherwise.
int ee_allocation_counting_available(void);

/// Why counting is off ("" when it is on), in words a skipped test can print.
const char *ee_allocation_counting_unavailable_reason(void);

#endif
