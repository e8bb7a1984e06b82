/*
 * os.c: the OS services of earlyexit_os.h (CPU queries are in cpu.c).
 *
 * Hosted POSIX targets (Linux, the BSDs, macOS) get the real calls; anything else, in
 * particular bare-metal Arm (armv7em-none-eabi, no file system, no mmap), gets versions that
 * return EARLYEXIT_PLATFORM_UNSUPPORTED, so that this file compiles for every target the
 * library is built for.
 */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(EARLYEXIT_PLATFORM_BARE_METAL)
#define EARLYEXIT_PLATFORM_POSIX 1
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#endif

#include "earlyexit_os.h"

#include <stdint.h>

#if EARLYEXIT_PLATFORM_POSIX
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

int earlyexit_platform_map_file(const char *path, const void **out_address, size_t *out_size) {
    if (!path || !out_address || !out_size) return EINVAL;
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int code = errno;
        close(fd);
        return code;
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return EARLYEXIT_PLATFORM_NOT_A_FILE;
    }
    if (info.st_size < 0 || (uintmax_t)info.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return EARLYEXIT_PLATFORM_TOO_LARGE;
    }
    size_t size = (size_t)info.st_size;
    if (size == 0) {
        close(fd);
        *out_address = NULL;
        *out_size = 0;
        return EARLYEXIT_PLATFORM_OK;
    }
    void *address = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int code = address == MAP_FAILED ? errno : 0;
    close(fd); /* the mapping stays valid without the descriptor */
    if (code != 0) return code;
    *out_address = address;
    *out_size = size;
    return EARLYEXIT_PLATFORM_OK;
}

int earlyexit_platform_unmap_file(const void *address, size_t size) {
    if (!address || size == 0) return EARLYEXIT_PLATFORM_OK;
    return munmap((void *)(uintptr_t)address, size) == 0 ? EARLYEXIT_PLATFORM_OK : errno;
}

void *earlyexit_platform_aligned_alloc(size_t alignment, size_t size) {
    void *pointer = NULL;
    if (posix_memalign(&pointer, alignment, size > 0 ? size : 1) != 0) return NULL;
    return pointer;
}

void earlyexit_platform_free(void *pointer) { free(pointer); }

#else /* no operating system */

/* The C library's allocator, declared here because a bare-metal build may have no libc headers
 * (newlib and picolibc provide both; the Embedded Swift runtime in the library needs them too). */
int posix_memalign(void **out, size_t alignment, size_t size);
void free(void *pointer);

int earlyexit_platform_map_file(const char *path, const void **out_address, size_t *out_size) {
    (void)path;
    (void)out_address;
    (void)out_size;
    return EARLYEXIT_PLATFORM_UNSUPPORTED;
}

int earlyexit_platform_unmap_file(const void *address, size_t size) {
    (void)address;
    (void)size;
    return EARLYEXIT_PLATFORM_UNSUPPORTED;
}

void *earlyexit_platform_aligned_alloc(size_t alignment, size_t size) {
    void *pointer = NULL;
    if (posix_memalign(&pointer, alignment, size > 0 ? size : 1) != 0) return NULL;
    return pointer;
}

void earlyexit_platform_free(void *pointer) { free(pointer); }

#endif

const char *earlyexit_platform_error_string(int code) {
    switch (code) {
    case EARLYEXIT_PLATFORM_OK: return "no error";
    case EARLYEXIT_PLATFORM_UNSUPPORTED: return "not supported on this platform (no file system)";
    case EARLYEXIT_PLATFORM_NOT_A_FILE: return "not a regular file";
    case EARLYEXIT_PLATFORM_TOO_LARGE: return "the file is too large to map";
    default: break;
    }
#if EARLYEXIT_PLATFORM_POSIX
    if (code > 0) {
        const char *text = strerror(code);
        if (text) return text;
    }
#endif
    return "unknown error";
}
