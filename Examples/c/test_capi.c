/*
 * test_capi: exercises every error path of the EarlyExit C API from C, plus the normal path.
 *
 * usage: test_capi MODEL.eem
 *
 * The file is also opened with ee_model_open_file, and temporary files are written to $TMPDIR
 * (default /tmp) for its error paths.
 * Prints one line per failed check and, last, "N passed, M failed"; exits 1 when a check failed.
 * The model may be any valid .eem with at least one early exit.
 *
 * Built with -DEE_COUNT_ALLOCATIONS and linked with
 *     -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
 * it also checks that set_policy, run and the result queries never allocate.
 */
#include "earlyexit.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

/* The highest status code of the header. */
#define EE_LAST_STATUS EE_ERR_OUT_OF_MEMORY

/* Under AddressSanitizer the checks that call the API with an already closed handle are left
 * out: they read freed memory on purpose (closed-handle detection is best effort, see
 * earlyexit.h), which ASan rightly reports as a use after free. Everything else runs. */
#if defined(__SANITIZE_ADDRESS__)
#define EE_USE_AFTER_CLOSE_CHECKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EE_USE_AFTER_CLOSE_CHECKS 0
#endif
#endif
#ifndef EE_USE_AFTER_CLOSE_CHECKS
#define EE_USE_AFTER_CLOSE_CHECKS 1
#endif

#ifdef EE_COUNT_ALLOCATIONS
/* Every allocation of the program and the library goes through these (see the link flags). */
static unsigned long allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size) { allocations++; return __real_malloc(size); }
void *__wrap_calloc(size_t count, size_t size) { allocations++; return __real_calloc(count, size); }
void *__wrap_realloc(void *pointer, size_t size) { allocations++; return __real_realloc(pointer, size); }
int __wrap_posix_memalign(void **out, size_t alignment, size_t size) { allocations++; return __real_posix_memalign(out, alignment, size); }
void *__wrap_aligned_alloc(size_t alignment, size_t size) { allocations++; return __real_aligned_alloc(alignment, size); }
#endif

#define CHECK(condition)                                                              \
    do {                                                                              \
        if (condition) passed++;                                                      \
        else { failed++; printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #condition); } \
    } while (0)

/* A status check that names both codes when it fails. */
#define EXPECT(call, expected)                                                               \
    do {                                                                                     \
        ee_status got_ = (call);                                                             \
        if (got_ == (expected)) passed++;                                                    \
        else {                                                                               \
            failed++;                                                                        \
            printf("FAILED %s:%d: %s returned %d (%s), expected %s\n", __FILE__, __LINE__, #call, \
                   (int)got_, ee_status_string(got_), #expected);                            \
        }                                                                                    \
    } while (0)

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) { printf("cannot open %s\n", path); exit(2); }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    rewind(file);
    unsigned char *bytes = aligned_alloc(64, ((size_t)length + 63) / 64 * 64 + 64);
    if (!bytes || fread(bytes, 1, (size_t)length, file) != (size_t)length) { printf("cannot read %s\n", path); exit(2); }
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

/* CRC-32 (zlib polynomial), to rewrite the checksum of a deliberately altered model. */
static uint32_t crc32(const unsigned char *bytes, size_t count) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < count; i++) {
        crc ^= bytes[i];
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

static void store_u32(unsigned char *at, uint32_t value) {
    at[0] = (unsigned char)value; at[1] = (unsigned char)(value >> 8);
    at[2] = (unsigned char)(value >> 16); at[3] = (unsigned char)(value >> 24);
}

/* Header checksum over bytes 16... (docs/FORMAT.md), stored at byte 12. */
static void fix_checksum(unsigned char *bytes, size_t size) { store_u32(bytes + 12, crc32(bytes + 16, size - 16)); }

/* An aligned copy of the model that a test may alter. */
static unsigned char *copy_model(const unsigned char *model, size_t size) {
    unsigned char *copy = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    memcpy(copy, model, size);
    return copy;
}

static ee_status open_copy(const unsigned char *bytes, size_t size, char *message, size_t capacity) {
    ee_model *model = NULL;
    ee_status status = ee_model_open(bytes, size, &model, message, capacity);
    if (status == EE_OK) ee_model_close(model);
    else CHECK(model == NULL);
    return status;
}

static void *new_arena(size_t size) { return aligned_alloc(EE_ARENA_ALIGNMENT, (size + 127) / 64 * 64 + 64); }

static void test_status_strings(void) {
    const char *seen[EE_LAST_STATUS + 1];
    for (int code = EE_OK; code <= EE_LAST_STATUS; code++) {
        const char *text = ee_status_string((ee_status)code);
        CHECK(text != NULL && strlen(text) > 0 && strcmp(text, "unknown status code") != 0);
        for (int other = 0; other < code; other++) CHECK(strcmp(seen[other], text) != 0);
        seen[code] = text;
    }
    CHECK(strcmp(ee_status_string(EE_OK), "ok") == 0);
    CHECK(strcmp(ee_status_string((ee_status)(EE_LAST_STATUS + 1)), "unknown status code") == 0);
    CHECK(strcmp(ee_status_string((ee_status)-1), "unknown status code") == 0);
    CHECK(strcmp(ee_status_string((ee_status)1000000), "unknown status code") == 0);
}

static void test_open(const unsigned char *bytes, size_t size) {
    char message[512];
    ee_model *model = (ee_model *)&message; /* must be reset to NULL on failure */

    /* NULL arguments. */
    strcpy(message, "x");
    EXPECT(ee_model_open(NULL, size, &model, message, sizeof message), EE_ERR_NULL_ARGUMENT);
    CHECK(model == NULL);
    CHECK(strlen(message) > 0 && strcmp(message, "x") != 0);
    EXPECT(ee_model_open(bytes, size, NULL, message, sizeof message), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_open(NULL, 0, NULL, NULL, 0), EE_ERR_NULL_ARGUMENT);

    /* A valid model: message is the empty string; NULL message and capacity 0 are fine. */
    strcpy(message, "not cleared");
    EXPECT(ee_model_open(bytes, size, &model, message, sizeof message), EE_OK);
    CHECK(model != NULL && message[0] == '\0');
    EXPECT(ee_model_close(model), EE_OK);
    EXPECT(ee_model_open(bytes, size, &model, NULL, 0), EE_OK);
    EXPECT(ee_model_close(model), EE_OK);
    message[0] = 'k';
    EXPECT(ee_model_open(bytes, size, &model, message, 0), EE_OK);
    CHECK(message[0] == 'k'); /* capacity 0: nothing written */
    EXPECT(ee_model_close(model), EE_OK);

    /* Truncated buffers. */
    EXPECT(open_copy(bytes, 0, message, sizeof message), EE_ERR_TRUNCATED_MODEL);
    EXPECT(open_copy(bytes, 3, message, sizeof message), EE_ERR_TRUNCATED_MODEL);
    CHECK(strstr(message, "truncated") != NULL);
    EXPECT(open_copy(bytes, 40, message, sizeof message), EE_ERR_TRUNCATED_MODEL);
    EXPECT(open_copy(bytes, size - 1, message, sizeof message), EE_ERR_SIZE_MISMATCH);
    CHECK(strstr(message, "size") != NULL);
    EXPECT(open_copy(bytes, size / 2, message, sizeof message), EE_ERR_SIZE_MISMATCH);

    /* A message cut to the caller's capacity, always NUL-terminated. */
    memset(message, 'z', sizeof message);
    EXPECT(open_copy(bytes, size - 1, message, 10), EE_ERR_SIZE_MISMATCH);
    CHECK(strlen(message) == 9 && message[10] == 'z');
    EXPECT(open_copy(bytes, size - 1, message, 1), EE_ERR_SIZE_MISMATCH);
    CHECK(message[0] == '\0');

    /* Misaligned: the same bytes one byte off a 64-byte boundary. */
    unsigned char *shifted = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    memcpy(shifted + 1, bytes, size);
    EXPECT(open_copy(shifted + 1, size, message, sizeof message), EE_ERR_MISALIGNED_MODEL);
    CHECK(strstr(message, "aligned") != NULL);
    memcpy(shifted + 8, bytes, size);
    EXPECT(open_copy(shifted + 8, size, message, sizeof message), EE_ERR_MISALIGNED_MODEL);
    free(shifted);

    unsigned char *copy = copy_model(bytes, size);
    /* Bad magic. */
    copy[0] = 'X';
    EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_NOT_A_MODEL);
    memcpy(copy, bytes, size);
    /* Unsupported major version (bytes 4-5, outside the checksum). */
    copy[4] = 9;
    EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_UNSUPPORTED_VERSION);
    CHECK(strstr(message, "version") != NULL);
    memcpy(copy, bytes, size);
    /* A flipped byte anywhere in the body: checksum mismatch. */
    size_t positions[] = {16, 64, size / 3, size / 2, size - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        copy[positions[i]] ^= 0x5A;
        EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_CORRUPTED_MODEL);
        CHECK(strstr(message, "checksum") != NULL);
        copy[positions[i]] ^= 0x5A;
    }
    EXPECT(open_copy(copy, size, message, sizeof message), EE_OK);

    /* Structurally invalid with a correct checksum: counts out of range, a section outside the file. */
    store_u32(copy + 24, 0); /* exit count 0 */
    fix_checksum(copy, size);
    EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_INVALID_MODEL);
    CHECK(strstr(message, "exit count") != NULL);
    memcpy(copy, bytes, size);
    store_u32(copy + 16, 1000000); /* tensor count above the limit */
    fix_checksum(copy, size);
    EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_INVALID_MODEL);
    memcpy(copy, bytes, size);
    store_u32(copy + 32, (uint32_t)size + 64); /* tensor table beyond the end */
    fix_checksum(copy, size);
    EXPECT(open_copy(copy, size, message, sizeof message), EE_ERR_INVALID_MODEL);
    CHECK(strstr(message, "tensor table") != NULL);
    memcpy(copy, bytes, size);

    /* Random corruption with a repaired checksum: every outcome is a status, never a crash.
     * Models that still validate must also run. */
    uint32_t seed = 12345;
    int refused = 0, accepted = 0;
    for (int round = 0; round < 300; round++) {
        memcpy(copy, bytes, size);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1664525u + 1013904223u;
            /* Mostly the tables at the front of the file, where structure lives. */
            size_t span = round % 3 == 0 ? size - 16 : (size - 16 < 4096 ? size - 16 : 4096);
            size_t at = 16 + (seed >> 8) % span;
            seed = seed * 1664525u + 1013904223u;
            copy[at] = (unsigned char)(seed >> 24);
        }
        fix_checksum(copy, size);
        ee_model *mutant = NULL;
        ee_status status = ee_model_open(copy, size, &mutant, message, sizeof message);
        if (status != EE_OK) {
            refused++;
            CHECK(mutant == NULL && message[0] != '\0');
            continue;
        }
        accepted++;
        size_t arena_size = 0, input_count = 0;
        EXPECT(ee_model_arena_size(mutant, &arena_size), EE_OK);
        EXPECT(ee_model_input_size(mutant, &input_count), EE_OK);
        void *arena = new_arena(arena_size);
        float *input = calloc(input_count + 1, sizeof(float));
        ee_interpreter *interpreter;
        EXPECT(ee_interpreter_create(mutant, arena, arena_size, &interpreter), EE_OK);
        if (round % 4 != 0) {
            /* Most mutants stop at the first exit (gate >= -1 always holds), to keep this quick
             * under an emulator; every fourth runs the whole network. */
            size_t early = 0;
            EXPECT(ee_model_early_exit_count(mutant, &early), EE_OK);
            float *stop = malloc((early + 1) * sizeof(float));
            for (size_t k = 0; k < early; k++) stop[k] = -1.0f;
            EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, stop, early, 0), EE_OK);
            free(stop);
        } else {
            EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
        }
        ee_status run = ee_interpreter_run(interpreter, input, input_count, NULL);
        CHECK(run == EE_OK || run == EE_ERR_BAD_INPUT);
        EXPECT(ee_interpreter_close(interpreter), EE_OK);
        EXPECT(ee_model_close(mutant), EE_OK);
        free(input);
        free(arena);
    }
    CHECK(refused > 0);
    printf("random corruption: %d refused, %d still valid and run\n", refused, accepted);
    free(copy);
}

static void test_queries(ee_model *model) {
    size_t value = 0, dims[EE_MAX_RANK], rank = 0, early = 0, classes = 0;
    uint64_t macs = 0, previous = 0;
    EXPECT(ee_model_arena_size(NULL, &value), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_arena_size(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_arena_size(model, &value), EE_OK);
    CHECK(value > 0 && value % EE_ARENA_ALIGNMENT == 0);
    // The kernel set and the memory its prepared weights take; EARLYEXIT_KERNELS, when set,
    // must be the set the model runs with.
    const char *kernels = NULL;
    size_t prepared = 0;
    EXPECT(ee_model_kernels(NULL, &kernels), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_kernels(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_kernels(model, &kernels), EE_OK);
    CHECK(kernels != NULL && kernels[0] != 0);
    const char *forced = getenv("EARLYEXIT_KERNELS");
    if (kernels && forced && forced[0] && strcmp(forced, "auto") != 0) CHECK(strcmp(kernels, forced) == 0);
    EXPECT(ee_model_prepared_bytes(NULL, &prepared), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_prepared_bytes(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_prepared_bytes(model, &prepared), EE_OK);
    CHECK(prepared > 0);
    printf("kernels %s, %zu bytes prepared at load\n", kernels ? kernels : "?", prepared);
    EXPECT(ee_model_input_shape(model, NULL, &rank), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_input_shape(model, dims, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_input_shape(NULL, dims, &rank), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_input_shape(model, dims, &rank), EE_OK);
    CHECK(rank >= 1 && rank <= EE_MAX_RANK);
    size_t product = 1;
    for (size_t axis = 0; axis < EE_MAX_RANK; axis++) product *= dims[axis];
    EXPECT(ee_model_input_size(model, &value), EE_OK);
    CHECK(product == value);
    EXPECT(ee_model_input_size(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_class_count(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_class_count(NULL, &classes), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_class_count(model, &classes), EE_OK);
    CHECK(classes >= 2);
    EXPECT(ee_model_early_exit_count(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_early_exit_count(model, &early), EE_OK);
    CHECK(early >= 1);
    for (size_t exit = 0; exit <= early; exit++) {
        EXPECT(ee_model_exit_macs(model, exit, &macs), EE_OK);
        CHECK(macs > previous);
        previous = macs;
    }
    EXPECT(ee_model_exit_macs(model, early + 1, &macs), EE_ERR_OUT_OF_RANGE);
    EXPECT(ee_model_exit_macs(model, (size_t)-1, &macs), EE_ERR_OUT_OF_RANGE);
    EXPECT(ee_model_exit_macs(model, 0, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_full_macs(model, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_full_macs(model, &macs), EE_OK);
    CHECK(macs == previous);

    size_t count = 99;
    float mean[64], std[64];
    EXPECT(ee_model_normalization(model, mean, std, 64, NULL), EE_ERR_NULL_ARGUMENT);
    ee_status status = ee_model_normalization(model, NULL, NULL, 0, &count);
    CHECK(count <= 64 && (count == 0 ? status == EE_OK : status == EE_ERR_BUFFER_TOO_SMALL));
    if (count > 0) {
        EXPECT(ee_model_normalization(model, NULL, std, 64, &count), EE_ERR_NULL_ARGUMENT);
        EXPECT(ee_model_normalization(model, mean, std, count, &count), EE_OK);
        for (size_t c = 0; c < count; c++) CHECK(isfinite(mean[c]) && std[c] > 0);
    }

    char name[256];
    EXPECT(ee_model_class_name(model, 0, NULL, sizeof name), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_class_name(model, classes, name, sizeof name), EE_ERR_OUT_OF_RANGE);
    EXPECT(ee_model_class_name(model, (size_t)-1, name, sizeof name), EE_ERR_OUT_OF_RANGE);
    for (size_t c = 0; c < classes; c++) EXPECT(ee_model_class_name(model, c, name, sizeof name), EE_OK);
    EXPECT(ee_model_class_name(model, 0, name, sizeof name), EE_OK);
    if (strlen(name) > 1) {
        size_t full = strlen(name);
        memset(name, 'q', sizeof name);
        EXPECT(ee_model_class_name(model, 0, name, full), EE_ERR_BUFFER_TOO_SMALL);
        CHECK(strlen(name) == full - 1);
        EXPECT(ee_model_class_name(model, 0, name, 0), EE_ERR_BUFFER_TOO_SMALL);
    }

    ee_signal signal = (ee_signal)77;
    uint32_t flags = 77;
    float thresholds[64];
    EXPECT(ee_model_default_policy(NULL, &signal, thresholds, 64, &flags), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_default_policy(model, &signal, thresholds, early - 1, &flags), EE_ERR_BUFFER_TOO_SMALL);
    EXPECT(ee_model_default_policy(model, &signal, thresholds, 64, &flags), EE_OK);
    CHECK(signal >= EE_SIGNAL_NONE && signal <= EE_SIGNAL_ENTROPY && flags <= 1);
    EXPECT(ee_model_default_policy(model, NULL, NULL, 0, NULL), EE_OK);
}

static int same_result(const ee_result *a, const ee_result *b) {
    return a->class_index == b->class_index && a->exit_index == b->exit_index && a->exits_evaluated == b->exits_evaluated &&
           a->exited_early == b->exited_early && a->macs == b->macs && a->macs_full == b->macs_full;
}

static void test_interpreter(ee_model *model) {
    size_t arena_size, input_count, early, classes;
    ee_model_arena_size(model, &arena_size);
    ee_model_input_size(model, &input_count);
    ee_model_early_exit_count(model, &early);
    ee_model_class_count(model, &classes);
    unsigned char *arena = new_arena(arena_size + 64);
    ee_interpreter *interpreter = (ee_interpreter *)arena; /* must be reset to NULL on failure */

    /* Arena misuse. */
    EXPECT(ee_interpreter_create(NULL, arena, arena_size, &interpreter), EE_ERR_NULL_ARGUMENT);
    CHECK(interpreter == NULL);
    EXPECT(ee_interpreter_create(model, NULL, arena_size, &interpreter), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_create(model, arena, arena_size, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_create(model, arena, arena_size - 1, &interpreter), EE_ERR_ARENA_TOO_SMALL);
    EXPECT(ee_interpreter_create(model, arena, 0, &interpreter), EE_ERR_ARENA_TOO_SMALL);
    EXPECT(ee_interpreter_create(model, arena, 64, &interpreter), EE_ERR_ARENA_TOO_SMALL);
    EXPECT(ee_interpreter_create(model, arena + 1, arena_size, &interpreter), EE_ERR_MISALIGNED_ARENA);
    EXPECT(ee_interpreter_create(model, arena + 16, arena_size, &interpreter), EE_ERR_MISALIGNED_ARENA);
    EXPECT(ee_interpreter_create(model, arena + 32, arena_size, &interpreter), EE_ERR_MISALIGNED_ARENA);
    CHECK(interpreter == NULL);
    EXPECT(ee_interpreter_create(model, arena, arena_size, &interpreter), EE_OK);
    CHECK(interpreter != NULL);

    /* Results before any run. */
    ee_result result, again;
    float scores[4096], gates[64], logits[4096];
    size_t count = 0;
    CHECK(classes <= 4096 && early < 64);
    EXPECT(ee_interpreter_result(interpreter, &result), EE_ERR_NO_RESULT);
    EXPECT(ee_interpreter_scores(interpreter, scores, classes), EE_ERR_NO_RESULT);
    EXPECT(ee_interpreter_gates(interpreter, gates, 64, &count), EE_ERR_NO_RESULT);
    EXPECT(ee_interpreter_logits(interpreter, 0, logits, classes), EE_ERR_NO_RESULT);

    /* Input misuse. */
    float *input = calloc(input_count + 1, sizeof(float));
    for (size_t i = 0; i < input_count; i++) input[i] = (float)((i * 7919) % 255) / 255.0f - 0.3f;
    EXPECT(ee_interpreter_run(NULL, input, input_count, &result), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_run(interpreter, NULL, input_count, &result), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_run(interpreter, input, input_count - 1, &result), EE_ERR_BAD_INPUT);
    EXPECT(ee_interpreter_run(interpreter, input, input_count + 1, &result), EE_ERR_BAD_INPUT);
    EXPECT(ee_interpreter_run(interpreter, input, 0, &result), EE_ERR_BAD_INPUT);
    EXPECT(ee_interpreter_run(interpreter, input, (size_t)-1, &result), EE_ERR_BAD_INPUT);
    float saved = input[input_count / 2];
    input[input_count / 2] = NAN;
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_ERR_BAD_INPUT);
    input[input_count / 2] = INFINITY;
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_ERR_BAD_INPUT);
    input[input_count / 2] = saved;
    EXPECT(ee_interpreter_result(interpreter, &result), EE_ERR_NO_RESULT);

    /* A good run, with the full network. */
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_OK);
    EXPECT(ee_interpreter_run(interpreter, input, input_count, NULL), EE_OK);
    CHECK(result.exit_index == (int32_t)early && result.exits_evaluated == (int32_t)early + 1 && result.exited_early == 0);
    CHECK(result.class_index >= 0 && result.class_index < (int32_t)classes && result.macs == result.macs_full);
    EXPECT(ee_interpreter_result(interpreter, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_result(interpreter, &again), EE_OK);
    CHECK(same_result(&result, &again));
    EXPECT(ee_interpreter_scores(interpreter, NULL, classes), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_scores(interpreter, scores, classes - 1), EE_ERR_BUFFER_TOO_SMALL);
    EXPECT(ee_interpreter_scores(interpreter, scores, classes), EE_OK);
    for (size_t c = 0; c < classes; c++) CHECK(scores[c] <= scores[result.class_index] && isfinite(scores[c]));
    EXPECT(ee_interpreter_gates(interpreter, NULL, 64, &count), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_gates(interpreter, gates, early, &count), EE_ERR_BUFFER_TOO_SMALL);
    CHECK(count == early + 1);
    EXPECT(ee_interpreter_gates(interpreter, gates, 64, NULL), EE_OK);
    for (size_t k = 0; k <= early; k++) CHECK(gates[k] >= -1 && gates[k] <= 1);
    EXPECT(ee_interpreter_logits(interpreter, early + 1, logits, classes), EE_ERR_OUT_OF_RANGE);
    EXPECT(ee_interpreter_logits(interpreter, 0, NULL, classes), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_logits(interpreter, 0, logits, classes - 1), EE_ERR_BUFFER_TOO_SMALL);
    EXPECT(ee_interpreter_logits(interpreter, early, logits, classes), EE_OK);

    /* Policy misuse; the policy in force does not change on error. */
    float *thresholds = calloc(early + 2, sizeof(float));
    for (size_t k = 0; k < early; k++) thresholds[k] = -1.0f; /* gate >= -1 always: exit at once */
    EXPECT(ee_interpreter_set_policy(NULL, EE_SIGNAL_GATE, thresholds, early, 0), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, early, 0), EE_OK);
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_OK);
    CHECK(result.exit_index == 0 && result.exited_early == 1 && result.macs < result.macs_full);
    EXPECT(ee_interpreter_logits(interpreter, 1, logits, classes), EE_ERR_OUT_OF_RANGE); /* exit 1 not evaluated */
    EXPECT(ee_interpreter_gates(interpreter, gates, 1, &count), EE_OK);
    CHECK(count == 1);
    EXPECT(ee_interpreter_set_policy(interpreter, (ee_signal)4, thresholds, early, 0), EE_ERR_BAD_SIGNAL);
    EXPECT(ee_interpreter_set_policy(interpreter, (ee_signal)-1, thresholds, early, 0), EE_ERR_BAD_SIGNAL);
    EXPECT(ee_interpreter_set_policy(interpreter, (ee_signal)1000, thresholds, early, 0), EE_ERR_BAD_SIGNAL);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_NONE, thresholds, early, 0), EE_OK);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, early, 0), EE_OK);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, early + 1, 0), EE_ERR_BAD_THRESHOLDS);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, early - 1, 0), EE_ERR_BAD_THRESHOLDS);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, 0, 0), EE_ERR_BAD_THRESHOLDS);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, NULL, 0, 0), EE_ERR_BAD_THRESHOLDS);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, NULL, early, 0), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_MAXPROB, thresholds, early, 2), EE_ERR_BAD_FLAGS);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_MAXPROB, thresholds, early, 0x80000000u), EE_ERR_BAD_FLAGS);
    thresholds[early - 1] = NAN;
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_ENTROPY, thresholds, early, 0), EE_ERR_BAD_THRESHOLDS);
    thresholds[early - 1] = INFINITY;
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_ENTROPY, thresholds, early, 0), EE_ERR_BAD_THRESHOLDS);
    thresholds[early - 1] = -INFINITY;
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_MAXPROB, thresholds, early, 0), EE_ERR_BAD_THRESHOLDS);
    thresholds[early - 1] = -1.0f;
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &again), EE_OK);
    CHECK(same_result(&result, &again)); /* still the gate policy that exits at once */
    /* Every signal, with and without combining, alternating many times (the threshold rows are reused). */
    for (int round = 0; round < 12; round++) {
        ee_signal signal = (ee_signal)(round % 4);
        for (size_t k = 0; k < early; k++) thresholds[k] = signal == EE_SIGNAL_ENTROPY ? 0.5f + 0.1f * (float)round : 0.3f;
        EXPECT(ee_interpreter_set_policy(interpreter, signal, thresholds, early, round % 2 ? EE_POLICY_COMBINE_SEEN_EXITS : 0), EE_OK);
        EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_OK);
        CHECK(result.exits_evaluated == result.exit_index + 1 && result.macs <= result.macs_full);
        if (signal == EE_SIGNAL_NONE) CHECK(result.exit_index == (int32_t)early);
    }

#ifdef EE_COUNT_ALLOCATIONS
    /* No allocation after setup: policies, runs and result queries. */
    {
        /* The counter sees the library's allocations: creating an interpreter allocates its handle. */
        unsigned long before = allocations;
        unsigned char *probe_arena = new_arena(arena_size);
        ee_interpreter *probe;
        EXPECT(ee_interpreter_create(model, probe_arena, arena_size, &probe), EE_OK);
        CHECK(allocations > before + 1);
        EXPECT(ee_interpreter_close(probe), EE_OK);
        free(probe_arena);
        before = allocations;
        int bad = 0;
        for (int round = 0; round < 16; round++) {
            for (size_t k = 0; k < early; k++) thresholds[k] = round % 4 == EE_SIGNAL_ENTROPY ? 1.0f : 0.4f;
            bad += ee_interpreter_set_policy(interpreter, (ee_signal)(round % 4), thresholds, early, (uint32_t)(round % 2)) != EE_OK;
            bad += ee_interpreter_run(interpreter, input, input_count, &result) != EE_OK;
            bad += ee_interpreter_run(interpreter, input, input_count - 1, &result) != EE_ERR_BAD_INPUT;
            bad += ee_interpreter_set_policy(interpreter, EE_SIGNAL_GATE, thresholds, early + 1, 0) != EE_ERR_BAD_THRESHOLDS;
            bad += ee_interpreter_result(interpreter, &again) != EE_OK;
            bad += ee_interpreter_scores(interpreter, scores, classes) != EE_OK;
            bad += ee_interpreter_gates(interpreter, gates, 64, &count) != EE_OK;
            bad += ee_interpreter_logits(interpreter, 0, logits, classes) != EE_OK;
        }
        CHECK(bad == 0);
        CHECK(allocations == before);
        if (allocations != before) printf("  %lu allocations in 16 rounds of set_policy, run and queries\n", allocations - before);
    }
#endif

    /* Two interpreters of one model, in two arenas, agree. */
    unsigned char *arena2 = new_arena(arena_size);
    ee_interpreter *second;
    EXPECT(ee_interpreter_create(model, arena2, arena_size, &second), EE_OK);
    EXPECT(ee_interpreter_set_policy(interpreter, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
    EXPECT(ee_interpreter_set_policy(second, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_OK);
    EXPECT(ee_interpreter_run(second, input, input_count, &again), EE_OK);
    CHECK(same_result(&result, &again));

    /* Wrong kinds of handle, misaligned and zeroed pointers. */
    EXPECT(ee_interpreter_run((ee_interpreter *)model, input, input_count, &result), EE_ERR_INVALID_HANDLE);
    uint64_t full_macs = 0;
    EXPECT(ee_model_full_macs((ee_model *)interpreter, &full_macs), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_close((ee_interpreter *)model), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_model_close((ee_model *)interpreter), EE_ERR_INVALID_HANDLE);
    uint64_t fake[8] = {0};
    EXPECT(ee_interpreter_run((ee_interpreter *)fake, input, input_count, &result), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_model_arena_size((ee_model *)fake, &count), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_model_arena_size((ee_model *)((char *)fake + 1), &count), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_close((ee_interpreter *)((char *)fake + 4)), EE_ERR_INVALID_HANDLE);

    /* Closing. The closed-handle checks read freed memory: the API can only detect them while
     * the memory is not reused, which is the case here (nothing is allocated in between). */
    EXPECT(ee_interpreter_close(NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_close(NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_close(second), EE_OK);
#if EE_USE_AFTER_CLOSE_CHECKS
    EXPECT(ee_interpreter_close(second), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_run(second, input, input_count, &result), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_set_policy(second, EE_SIGNAL_NONE, NULL, 0, 0), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_result(second, &result), EE_ERR_INVALID_HANDLE);
#endif
    free(arena2);

    free(thresholds);
    free(input);
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
    free(arena);
}

/* A model handle may be closed before the interpreters created from it. */
static void test_close_order(const unsigned char *bytes, size_t size) {
    ee_model *model;
    EXPECT(ee_model_open(bytes, size, &model, NULL, 0), EE_OK);
    size_t arena_size, input_count;
    ee_model_arena_size(model, &arena_size);
    ee_model_input_size(model, &input_count);
    void *arena = new_arena(arena_size);
    ee_interpreter *interpreter;
    EXPECT(ee_interpreter_create(model, arena, arena_size, &interpreter), EE_OK);
    EXPECT(ee_model_close(model), EE_OK);
#if EE_USE_AFTER_CLOSE_CHECKS
    EXPECT(ee_model_close(model), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_model_arena_size(model, &arena_size), EE_ERR_INVALID_HANDLE);
    ee_interpreter *other = (ee_interpreter *)arena;
    EXPECT(ee_interpreter_create(model, arena, arena_size, &other), EE_ERR_INVALID_HANDLE);
    CHECK(other == NULL);
#endif
    float *input = calloc(input_count, sizeof(float));
    ee_result result;
    EXPECT(ee_interpreter_run(interpreter, input, input_count, &result), EE_OK);
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
    free(input);
    free(arena);
}

/* The int8 entry point: refused for float32 models; for int8 models it must decide exactly as
 * the float entry point does on the same input (which the core quantizes the same way). */
static void test_int8_entry(ee_model *model) {
    size_t arena_size, input_count;
    ee_model_arena_size(model, &arena_size);
    ee_model_input_size(model, &input_count);
    unsigned char *arena = new_arena(arena_size);
    ee_interpreter *interpreter = NULL;
    EXPECT(ee_interpreter_create(model, arena, arena_size, &interpreter), EE_OK);
    int8_t *q = calloc(input_count, 1);
    float *x = calloc(input_count, sizeof(float));
    float scale = 0;
    int32_t zero_point = 0;
    EXPECT(ee_model_input_quantization(model, NULL, &zero_point), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_run_int8(interpreter, NULL, input_count, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_run_int8(NULL, q, input_count, NULL), EE_ERR_NULL_ARGUMENT);
    if (ee_model_input_quantization(model, &scale, &zero_point) == EE_ERR_BAD_INPUT) {
        EXPECT(ee_interpreter_run_int8(interpreter, q, input_count, NULL), EE_ERR_BAD_INPUT); /* a float32 model */
    } else {
        EXPECT(ee_interpreter_run_int8(interpreter, q, input_count - 1, NULL), EE_ERR_BAD_INPUT);
        for (int trial = 0; trial < 3; trial++) {
            for (size_t i = 0; i < input_count; i++) {
                x[i] = (float)((int)((i * 7919u + (unsigned)trial * 104729u) % 256u)) / 255.0f * 2.0f - 0.5f;
                float v = roundf(x[i] / scale) + (float)zero_point;
                q[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
            }
            ee_result a, b;
            EXPECT(ee_interpreter_run(interpreter, x, input_count, &a), EE_OK);
            EXPECT(ee_interpreter_run_int8(interpreter, q, input_count, &b), EE_OK);
            CHECK(a.class_index == b.class_index && a.exit_index == b.exit_index && a.macs == b.macs);
        }
    }
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
    free(q);
    free(x);
    free(arena);
}

/* ---- The first steps: versions, files, arenas, pixels ---------------------------------- */

static void test_versions(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", EE_VERSION_MAJOR, EE_VERSION_MINOR, EE_VERSION_PATCH);
    CHECK(ee_version() != NULL && strcmp(ee_version(), expected) == 0);
    CHECK(ee_version_number() == (uint32_t)EE_VERSION_NUMBER);
    uint32_t major = 77, minor = 77;
    EXPECT(ee_format_version(NULL, &minor), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_format_version(&major, NULL), EE_ERR_NULL_ARGUMENT);
    CHECK(minor == 77);
    EXPECT(ee_format_version(&major, &minor), EE_OK);
    CHECK(major == 1 && minor < 1000);
}

/* How many lines of /proc/self/maps name `path` (-1 when the file cannot be read). */
static int mappings_of(const char *path) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return -1;
    char line[4096];
    int count = 0;
    while (fgets(line, sizeof line, maps)) {
        size_t length = strlen(line);
        if (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
        size_t name = strlen(path);
        if (length >= name && strcmp(line + length - name, path) == 0) count++;
    }
    fclose(maps);
    return count;
}

static void write_file(const char *path, const unsigned char *bytes, size_t size) {
    FILE *file = fopen(path, "wb");
    if (!file || (size > 0 && fwrite(bytes, 1, size, file) != size) || fclose(file) != 0) {
        printf("cannot write %s\n", path);
        exit(2);
    }
}

static void test_open_file(const char *model_path, const unsigned char *bytes, size_t size) {
    char message[512], path[512];
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    ee_model *model = (ee_model *)&message; /* must be reset to NULL on failure */

    /* NULL arguments and message buffers, as ee_model_open. */
    strcpy(message, "x");
    EXPECT(ee_model_open_file(NULL, &model, message, sizeof message), EE_ERR_NULL_ARGUMENT);
    CHECK(model == NULL && strlen(message) > 0 && strcmp(message, "x") != 0);
    EXPECT(ee_model_open_file(model_path, NULL, message, sizeof message), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_model_open_file(NULL, NULL, NULL, 0), EE_ERR_NULL_ARGUMENT);

    /* Files that cannot be opened or mapped, named in the message. */
    snprintf(path, sizeof path, "%s/earlyexit-no-such-file-%ld.eem", tmp, (long)getpid());
    model = (ee_model *)&message;
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_ERR_FILE);
    CHECK(model == NULL && strstr(message, path) != NULL);
    EXPECT(ee_model_open_file(tmp, &model, message, sizeof message), EE_ERR_FILE); /* a directory */
    CHECK(strstr(message, "not a regular file") != NULL);
    memset(message, 'z', sizeof message);
    EXPECT(ee_model_open_file(path, &model, message, 10), EE_ERR_FILE);
    CHECK(strlen(message) == 9 && message[10] == 'z');
    message[0] = 'k';
    EXPECT(ee_model_open_file(path, &model, message, 0), EE_ERR_FILE);
    CHECK(message[0] == 'k');

    /* Files that are not valid models: every status of ee_model_open, nothing left mapped. */
    snprintf(path, sizeof path, "%s/earlyexit-test-capi-%ld.eem", tmp, (long)getpid());
    write_file(path, bytes, 0);
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_ERR_TRUNCATED_MODEL);
    CHECK(model == NULL && strstr(message, path) != NULL);
    write_file(path, bytes, size - 1);
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_ERR_SIZE_MISMATCH);
    unsigned char *copy = copy_model(bytes, size);
    copy[0] = 'X';
    write_file(path, copy, size);
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_ERR_NOT_A_MODEL);
    memcpy(copy, bytes, size);
    copy[size / 2] ^= 0x5A;
    write_file(path, copy, size);
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_ERR_CORRUPTED_MODEL);
    CHECK(strstr(message, "checksum") != NULL);
    int maps = mappings_of(path);
    CHECK(maps <= 0); /* refused files are not left mapped */

    /* The real file: mapped while the model or an interpreter of it is open. */
    write_file(path, bytes, size);
    strcpy(message, "not cleared");
    EXPECT(ee_model_open_file(path, &model, message, sizeof message), EE_OK);
    CHECK(model != NULL && message[0] == '\0');
    if (maps >= 0) CHECK(mappings_of(path) >= 1);
    size_t arena_size = 0, input_count = 0, early = 0;
    EXPECT(ee_model_arena_size(model, &arena_size), EE_OK);
    EXPECT(ee_model_input_size(model, &input_count), EE_OK);
    EXPECT(ee_model_early_exit_count(model, &early), EE_OK);
    ee_model *in_memory;
    EXPECT(ee_model_open(bytes, size, &in_memory, NULL, 0), EE_OK);
    void *arena = new_arena(arena_size), *arena2 = new_arena(arena_size);
    ee_interpreter *from_file, *from_bytes;
    EXPECT(ee_interpreter_create(model, arena, arena_size, &from_file), EE_OK);
    EXPECT(ee_interpreter_create(in_memory, arena2, arena_size, &from_bytes), EE_OK);
    EXPECT(ee_interpreter_set_policy(from_file, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
    EXPECT(ee_interpreter_set_policy(from_bytes, EE_SIGNAL_NONE, NULL, 0, 0), EE_OK);
    float *input = calloc(input_count, sizeof(float));
    for (size_t i = 0; i < input_count; i++) input[i] = (float)((i * 31) % 97) / 97.0f - 0.4f;
    ee_result a, b;
    EXPECT(ee_interpreter_run(from_file, input, input_count, &a), EE_OK);
    EXPECT(ee_interpreter_run(from_bytes, input, input_count, &b), EE_OK);
    CHECK(same_result(&a, &b));
    /* The model handle closes first; the interpreter keeps the mapping until it is closed. */
    EXPECT(ee_model_close(model), EE_OK);
#if EE_USE_AFTER_CLOSE_CHECKS
    EXPECT(ee_model_close(model), EE_ERR_INVALID_HANDLE);
#endif
    if (maps >= 0) CHECK(mappings_of(path) >= 1);
    EXPECT(ee_interpreter_run(from_file, input, input_count, &a), EE_OK);
    CHECK(same_result(&a, &b));
    EXPECT(ee_interpreter_close(from_file), EE_OK);
    if (maps >= 0) CHECK(mappings_of(path) == 0);
    EXPECT(ee_interpreter_close(from_bytes), EE_OK);
    EXPECT(ee_model_close(in_memory), EE_OK);
    /* Opened and closed with no interpreter: unmapped at once. */
    EXPECT(ee_model_open_file(path, &model, NULL, 0), EE_OK);
    EXPECT(ee_model_close(model), EE_OK);
    if (maps >= 0) CHECK(mappings_of(path) == 0);
    remove(path);
    free(input);
    free(arena);
    free(arena2);
    free(copy);
}

static void test_arenas(ee_model *model) {
    size_t arena_size = 0, size = 0;
    void *arena = NULL;
    EXPECT(ee_model_arena_size(model, &arena_size), EE_OK);
    EXPECT(ee_arena_alloc(NULL, &arena, &size), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_alloc(model, NULL, &size), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_alloc(model, &arena, NULL), EE_ERR_NULL_ARGUMENT);
    uint64_t fake[8] = {0};
    EXPECT(ee_arena_alloc((ee_model *)fake, &arena, &size), EE_ERR_INVALID_HANDLE);
    CHECK(arena == NULL && size == 0);
    EXPECT(ee_arena_alloc(model, &arena, &size), EE_OK);
    CHECK(arena != NULL && (uintptr_t)arena % EE_ARENA_ALIGNMENT == 0 && size == arena_size);
    ee_interpreter *interpreter;
    EXPECT(ee_interpreter_create(model, arena, size, &interpreter), EE_OK);
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
    EXPECT(ee_arena_free(NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_free((char *)arena + 8), EE_ERR_MISALIGNED_ARENA);
    EXPECT(ee_arena_free(arena), EE_OK);

    /* Carving an arena out of buffers of every alignment (C99: plain malloc). */
    unsigned char *buffer = malloc(EE_ARENA_BUFFER_SIZE(arena_size) + 64);
    void *out = NULL;
    EXPECT(ee_arena_align(NULL, 100, &out, &size), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_align(buffer, 100, NULL, &size), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_align(buffer, 100, &out, NULL), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_arena_align(buffer, SIZE_MAX, &out, &size), EE_ERR_OUT_OF_RANGE);
    EXPECT(ee_arena_align(buffer, 0, &out, &size), EE_ERR_ARENA_TOO_SMALL);
    unsigned char *base = buffer + (EE_ARENA_ALIGNMENT - (uintptr_t)buffer % EE_ARENA_ALIGNMENT) % EE_ARENA_ALIGNMENT;
    EXPECT(ee_arena_align(base + 1, EE_ARENA_ALIGNMENT - 1, &out, &size), EE_ERR_ARENA_TOO_SMALL);
    CHECK(out == NULL);
    EXPECT(ee_arena_align(base + 1, EE_ARENA_ALIGNMENT, &out, &size), EE_OK);
    CHECK(out == base + EE_ARENA_ALIGNMENT && size == 1);
    EXPECT(ee_arena_align(base, 1, &out, &size), EE_OK);
    CHECK(out == base && size == 1);
    for (size_t shift = 0; shift < EE_ARENA_ALIGNMENT; shift += 7) {
        EXPECT(ee_arena_align(base + shift, EE_ARENA_BUFFER_SIZE(arena_size), &out, &size), EE_OK);
        CHECK((uintptr_t)out % EE_ARENA_ALIGNMENT == 0 && size >= arena_size && (unsigned char *)out >= base + shift &&
              (unsigned char *)out + size == base + shift + EE_ARENA_BUFFER_SIZE(arena_size));
    }
    EXPECT(ee_interpreter_create(model, out, size, &interpreter), EE_OK);
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
    free(buffer);
}

/* ee_interpreter_run_pixels against ee_interpreter_run on floats normalized here, with the
 * formula of the header: (p / 255.0f - mean[c]) / std[c] (compiled with -ffp-contract=off). */
static void test_pixels(ee_model *model) {
    size_t arena_size, input_count, classes, early, norm_count = 0, dims[EE_MAX_RANK], rank;
    ee_model_arena_size(model, &arena_size);
    ee_model_input_size(model, &input_count);
    ee_model_class_count(model, &classes);
    ee_model_early_exit_count(model, &early);
    ee_model_input_shape(model, dims, &rank);
    float mean[64], std[64];
    ee_status status = ee_model_normalization(model, NULL, NULL, 0, &norm_count);
    CHECK(status == EE_OK || status == EE_ERR_BUFFER_TOO_SMALL);
    if (norm_count > 0) EXPECT(ee_model_normalization(model, mean, std, 64, &norm_count), EE_OK);
    unsigned char *arena = new_arena(arena_size);
    ee_interpreter *interpreter;
    EXPECT(ee_interpreter_create(model, arena, arena_size, &interpreter), EE_OK);
    uint8_t *pixels = malloc(input_count + 1);
    float *input = malloc(input_count * sizeof(float));
    ee_result result;
    EXPECT(ee_interpreter_run_pixels(NULL, pixels, input_count, &result), EE_ERR_NULL_ARGUMENT);
    EXPECT(ee_interpreter_run_pixels(interpreter, NULL, input_count, &result), EE_ERR_NULL_ARGUMENT);
    uint64_t fake[8] = {0};
    EXPECT(ee_interpreter_run_pixels((ee_interpreter *)fake, pixels, input_count, &result), EE_ERR_INVALID_HANDLE);
    EXPECT(ee_interpreter_run_pixels((ee_interpreter *)model, pixels, input_count, &result), EE_ERR_INVALID_HANDLE);
    if (norm_count == 0) {
        EXPECT(ee_interpreter_run_pixels(interpreter, pixels, input_count, &result), EE_ERR_NO_NORMALIZATION);
        printf("run_pixels: the model records no normalization (refused, as it must be)\n");
    } else {
        EXPECT(ee_interpreter_run_pixels(interpreter, pixels, input_count - 1, &result), EE_ERR_BAD_INPUT);
        EXPECT(ee_interpreter_run_pixels(interpreter, pixels, input_count + 1, &result), EE_ERR_BAD_INPUT);
        EXPECT(ee_interpreter_run_pixels(interpreter, pixels, 0, &result), EE_ERR_BAD_INPUT);
        EXPECT(ee_interpreter_run_pixels(interpreter, pixels, SIZE_MAX, &result), EE_ERR_BAD_INPUT);
        EXPECT(ee_interpreter_result(interpreter, &result), EE_ERR_NO_RESULT);
        size_t channels = rank >= 2 ? dims[1] : 1, per_channel = input_count / (channels ? channels : 1);
        float scores_pixels[4096], scores_floats[4096], gates_pixels[64], gates_floats[64];
        size_t gate_count = 0;
        int identical = 1;
        for (int trial = 0; trial < 6; trial++) {
            for (size_t i = 0; i < input_count; i++) {
                pixels[i] = (uint8_t)(trial == 0 ? 0 : trial == 1 ? 255 : (i * 7919u + (unsigned)trial * 104729u) % 256u);
                size_t c = norm_count == 1 ? 0 : i / per_channel;
                input[i] = ((float)pixels[i] / 255.0f - mean[c]) / std[c];
            }
            for (int signal = EE_SIGNAL_NONE; signal <= EE_SIGNAL_GATE; signal++) {
                float thresholds[64];
                for (size_t k = 0; k < early; k++) thresholds[k] = 0.2f;
                EXPECT(ee_interpreter_set_policy(interpreter, (ee_signal)signal, thresholds, early, 0), EE_OK);
                ee_result a, b;
                EXPECT(ee_interpreter_run(interpreter, input, input_count, &a), EE_OK);
                EXPECT(ee_interpreter_scores(interpreter, scores_floats, classes), EE_OK);
                EXPECT(ee_interpreter_gates(interpreter, gates_floats, 64, &gate_count), EE_OK);
                EXPECT(ee_interpreter_run_pixels(interpreter, pixels, input_count, &b), EE_OK);
                EXPECT(ee_interpreter_scores(interpreter, scores_pixels, classes), EE_OK);
                EXPECT(ee_interpreter_gates(interpreter, gates_pixels, 64, &gate_count), EE_OK);
                identical &= same_result(&a, &b) && memcmp(scores_floats, scores_pixels, classes * sizeof(float)) == 0 &&
                             memcmp(gates_floats, gates_pixels, gate_count * sizeof(float)) == 0;
            }
        }
        CHECK(identical); /* the same results, scores and gates, bit for bit */
    }
#ifdef EE_COUNT_ALLOCATIONS
    {
        unsigned long before = allocations;
        int bad = 0;
        for (int round = 0; round < 8; round++) {
            ee_status expected = norm_count == 0 ? EE_ERR_NO_NORMALIZATION : EE_OK;
            bad += ee_interpreter_run_pixels(interpreter, pixels, input_count, &result) != expected;
            bad += ee_interpreter_run_pixels(interpreter, pixels, input_count - 1, &result) == EE_OK;
            bad += ee_interpreter_run_pixels(interpreter, NULL, input_count, &result) != EE_ERR_NULL_ARGUMENT;
            uint32_t major, minor;
            bad += ee_format_version(&major, &minor) != EE_OK;
            bad += ee_version_number() != (uint32_t)EE_VERSION_NUMBER || ee_version() == NULL;
            void *out;
            size_t size;
            bad += ee_arena_align(arena, 200, &out, &size) != EE_OK;
        }
        CHECK(bad == 0);
        CHECK(allocations == before);
        if (allocations != before) printf("  %lu allocations in 8 rounds of run_pixels and queries\n", allocations - before);
    }
#endif
    EXPECT(ee_interpreter_close(interpreter), EE_OK);
#if EE_USE_AFTER_CLOSE_CHECKS
    EXPECT(ee_interpreter_run_pixels(interpreter, pixels, input_count, &result), EE_ERR_INVALID_HANDLE);
#endif
    free(pixels);
    free(input);
    free(arena);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_capi MODEL.eem\n");
        return 2;
    }
    size_t size;
    unsigned char *bytes = read_file(argv[1], &size);

    test_status_strings();
    test_versions();
    test_open(bytes, size);
    test_open_file(argv[1], bytes, size);
    ee_model *model = NULL;
    char message[512];
    EXPECT(ee_model_open(bytes, size, &model, message, sizeof message), EE_OK);
    if (model) {
        test_queries(model);
        test_interpreter(model);
        test_int8_entry(model);
        test_arenas(model);
        test_pixels(model);
        EXPECT(ee_model_close(model), EE_OK);
    }
    test_close_order(bytes, size);
    free(bytes);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
