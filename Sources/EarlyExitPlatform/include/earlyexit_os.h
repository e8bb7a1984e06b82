/*
 * earlyexit_os.h: the OS services of the platform target (earlyexit_cpu.h has the CPU queries):
 * what the Swift core cannot express, for the C API.
 *
 * The Swift code does not import the C library, so that it compiles in Embedded Swift mode for
 * any target. What needs the operating system lives here, in plain C, guarded by #if so that it
 * compiles everywhere: on a target without the service (bare metal has no file system) the call
 * returns EARLYEXIT_PLATFORM_UNSUPPORTED instead.
 *
 *   - files: map a whole file read-only (ee_model_open_file);
 *   - memory: aligned allocation (ee_arena_alloc).
 *
 * This is an internal interface of libearlyexit.a (the functions are made local when the
 * library is built); applications use include/earlyexit.h.
 */
#ifndef EARLYEXIT_OS_H
#define EARLYEXIT_OS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Success. Failures are an errno value (> 0) or one of the negative codes below. */
#define EARLYEXIT_PLATFORM_OK 0
/** The service does not exist on this platform (for example files on bare metal). */
#define EARLYEXIT_PLATFORM_UNSUPPORTED (-1)
/** The path names something that is not a regular file (a directory, a device). */
#define EARLYEXIT_PLATFORM_NOT_A_FILE (-2)
/** The file is larger than the address space can map. */
#define EARLYEXIT_PLATFORM_TOO_LARGE (-3)

/* ---- OS: files ------------------------------------------------------------------------- */

/**
 * Maps the whole regular file at `path` read-only and private. On success *out_address and
 * *out_size describe the mapping (page-aligned); an empty file gives NULL and 0, and nothing to
 * unmap. On failure the outputs are left unchanged and the file is not left open.
 */
int earlyexit_platform_map_file(const char *path, const void **out_address, size_t *out_size);

/** Unmaps what earlyexit_platform_map_file returned (nothing for NULL or size 0). */
int earlyexit_platform_unmap_file(const void *address, size_t size);

/** A static, NUL-terminated description of a code returned above. */
const char *earlyexit_platform_error_string(int code);

/* ---- OS: memory ------------------------------------------------------------------------ */

/** `size` bytes (at least 1) aligned to `alignment` (a power of two, a multiple of
 *  sizeof(void *)), or NULL when memory is short. Release with earlyexit_platform_free. */
void *earlyexit_platform_aligned_alloc(size_t alignment, size_t size);

/** Frees what earlyexit_platform_aligned_alloc returned. */
void earlyexit_platform_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* EARLYEXIT_OS_H */
