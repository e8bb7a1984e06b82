// Interposes the glibc allocator entry points to count calls, forwarding to glibc's own.
//
// Under a sanitizer (AddressSanitizer, ThreadSanitizer, MemorySanitizer) counting is off: the
// sanitizer runtime intercepts malloc and friends itself, and strong definitions here would
// replace its interceptors (ASan then fails its start-up CHECK, TSan crashes in its first
// dlsym). `ee_allocation_counting_available()` returns 0 there, and
// `ee_allocation_counting_unavailable_reason()` says why, for tests to report as a skip.
#include "allocation_counter.h"
#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EE_SANITIZER_NAME "AddressSanitizer"
#elif __has_feature(thread_sanitizer)
#define EE_SANITIZER_NAME "ThreadSanitizer"
#elif __has_feature(memory_sanitizer)
#define EE_SANITIZER_NAME "MemorySanitizer"
#endif
#endif
#if !defined(EE_SANITIZER_NAME) && defined(__SANITIZE_ADDRESS__) // GCC's spelling
#define EE_SANITIZER_NAME "AddressSanitizer"
#endif
#if !defined(EE_SANITIZER_NAME) && defined(__SANITIZE_THREAD__)
#define EE_SANITIZER_NAME "ThreadSanitizer"
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(EE_SANITIZER_NAME)
#include <errno.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static uint64_t allocation_count = 0;

static inline void count_one(void) { __atomic_fetch_add(&allocation_count, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { count_one(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { count_one(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { count_one(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count_one();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *out = pointer;
    return 0;
}

uint64_t ee_allocation_count(void) { return __atomic_load_n(&allocation_count, __ATOMIC_RELAXED); }
int ee_allocation_counting_available(void) { return 1; }
const char *ee_allocation_counting_unavailable_reason(void) { return ""; }
#else
uint64_t ee_allocation_count(void) { return UINT64_MAX; }
int ee_allocation_counting_available(void) { return 0; }
#if defined(EE_SANITIZER_NAME)
const char *ee_allocation_counting_unavailable_reason(void) {
    return "allocation counting is off in this " EE_SANITIZER_NAME " build: the sanitizer's own malloc "
           "interceptors must stay in place (run the test without --sanitize to count allocations)";
}
#else
const char *ee_allocation_counting_unavailable_reason(void) {
    return "allocation counting needs glibc on Linux (it interposes glibc's malloc family)";
}
#endif
#endif
