/*
 * earlyexit.h: the C API of EarlyExit, a runtime for attention-augmented CNNs that
 * classify layer by layer and stop at the first exit confident enough.
 *
 * Link:   cc app.c -Iinclude -Lbuild/lib/<target> -learlyexit -lm
 *         (build the library with scripts/build-static-lib.sh; see docs/EMBEDDED.md).
 *         The library needs only libc and libm: no Swift runtime or toolchain.
 *
 * Typical use (C99; every call returns an ee_status, EE_OK is 0: check each one):
 *
 *     ee_model *model;  char message[256];
 *     if (ee_model_open_file("model.eem", &model, message, sizeof message) != EE_OK) { puts(message); ... }
 *     void *arena;  size_t arena_size;
 *     ee_arena_alloc(model, &arena, &arena_size);          (64-byte aligned, ee_model_arena_size() bytes)
 *     ee_interpreter *interp;  ee_interpreter_create(model, arena, arena_size, &interp);
 *     ee_result result;  ee_interpreter_run_pixels(interp, pixels, pixel_count, &result);   (uint8_t, NCHW)
 *     ... result.class_index, result.exit_index, result.macs ...
 *     ee_interpreter_close(interp);  ee_model_close(model);  ee_arena_free(arena);
 *
 * Without a file system or a heap: ee_model_open() on bytes in memory (a C array from
 * `early-exit export-c`), and an arena carved out of a static buffer with ee_arena_align():
 *
 *     static unsigned char buffer[EE_ARENA_BUFFER_SIZE(ARENA_SIZE)];   (ARENA_SIZE: `early-exit info`)
 *     void *arena;  size_t arena_size;  ee_arena_align(buffer, sizeof buffer, &arena, &arena_size);
 *
 * Pixels or floats: ee_interpreter_run_pixels() takes 8-bit pixels and applies the model's
 * stored normalization ((p / 255 - mean[c]) / std[c]) inside, exactly as `early-exit` does for
 * IDX images; ee_interpreter_run() takes the network's input itself, already normalized.
 *
 * Ownership and lifetimes
 *   - The model bytes belong to the caller and are used in place (never copied): the buffer
 *     must be EE_MODEL_ALIGNMENT-byte aligned, must not change, and must outlive the model
 *     handle and every interpreter created from it.
 *   - The arena belongs to the caller: EE_ARENA_ALIGNMENT (64)-byte aligned, at least
 *     ee_model_arena_size() bytes, used by one interpreter only, and it must outlive that
 *     interpreter. Its contents need no initialization.
 *   - An interpreter keeps the model's tables alive: a model handle may be closed while
 *     interpreters created from it are still open (the model bytes must still stay valid).
 *   - Every pointer passed in (inputs, thresholds, output arrays) is only used during the call.
 *
 * Allocation
 *   ee_model_open and ee_model_open_file allocate the model's tables (sizes proportional to the
 *   model's tensor and operator counts) and its handle; ee_interpreter_create allocates a small
 *   handle and two threshold rows; ee_arena_alloc allocates the arena it returns. Nothing else
 *   allocates: in particular ee_interpreter_run, ee_interpreter_run_pixels,
 *   ee_interpreter_set_policy and every query use no heap and take bounded time.
 *
 * Thread safety
 *   - A model handle is read-only after ee_model_open: any number of threads may use it and
 *     create interpreters from it concurrently.
 *   - An interpreter is NOT thread-safe: use one interpreter (and one arena) per thread, or
 *     serialize every call on it.
 *   - Opening and closing must not race with other calls on the same handle.
 *
 * Errors
 *   Every function that can fail returns an ee_status; EE_OK is 0. Misuse (NULL pointers, a
 *   too small or misaligned arena, a corrupted model, a wrong input size, bad thresholds, an
 *   unknown signal, a closed handle) returns an error code and never crashes, with two limits
 *   that C cannot check: a pointer to memory that is not what the call expects (a wild
 *   pointer, a buffer shorter than the size given) is undefined behavior, and detecting a
 *   closed handle is best effort (each handle carries a magic word that close clears before
 *   the handle's memory is freed; memory reused by a new handle of the same kind cannot be
 *   told apart). On failure, output parameters are left unchanged unless documented.
 */
#ifndef EARLYEXIT_H
#define EARLYEXIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The library version these declarations belong to; ee_version_number() is the library's own. */
#define EE_VERSION_MAJOR 0
#define EE_VERSION_MINOR 1
#define EE_VERSION_PATCH 0
#define EE_VERSION_NUMBER ((EE_VERSION_MAJOR << 16) | (EE_VERSION_MINOR << 8) | EE_VERSION_PATCH)

/** Required alignment of an interpreter's arena, in bytes. */
#define EE_ARENA_ALIGNMENT 64
/** Bytes of a buffer that always holds an aligned arena of `arena_size` bytes, whatever the
 *  buffer's own alignment (C99: malloc or a static array, then ee_arena_align()). */
#define EE_ARENA_BUFFER_SIZE(arena_size) ((arena_size) + EE_ARENA_ALIGNMENT - 1)
/** Required alignment of the model buffer's base address (64 is recommended). */
#define EE_MODEL_ALIGNMENT 16
/** The largest rank of a tensor shape. */
#define EE_MAX_RANK 4

/** Status codes. ee_status_string() describes each one. */
typedef enum ee_status {
    EE_OK = 0,
    /** A required pointer argument is NULL. */
    EE_ERR_NULL_ARGUMENT = 1,
    /** The handle is not a live handle of the expected kind (closed, or not a handle). */
    EE_ERR_INVALID_HANDLE = 2,
    /** The model buffer's address is not EE_MODEL_ALIGNMENT-byte aligned. */
    EE_ERR_MISALIGNED_MODEL = 3,
    /** The buffer is shorter than a structure the model declares (truncated file). */
    EE_ERR_TRUNCATED_MODEL = 4,
    /** The buffer's size differs from the size recorded in the model header. */
    EE_ERR_SIZE_MISMATCH = 5,
    /** The buffer does not start with the model magic bytes "EEM1". */
    EE_ERR_NOT_A_MODEL = 6,
    /** The model's format version is not one this runtime reads. */
    EE_ERR_UNSUPPORTED_VERSION = 7,
    /** The model's checksum does not match its contents (corrupted bytes). */
    EE_ERR_CORRUPTED_MODEL = 8,
    /** The model's structure is invalid (bad section, tensor, operator, exit or metadata). */
    EE_ERR_INVALID_MODEL = 9,
    /** The arena is smaller than ee_model_arena_size(). */
    EE_ERR_ARENA_TOO_SMALL = 10,
    /** The arena's address is not EE_ARENA_ALIGNMENT-byte aligned. */
    EE_ERR_MISALIGNED_ARENA = 11,
    /** The input does not have the number of values the model's input tensor takes, or a value is NaN or infinite. */
    EE_ERR_BAD_INPUT = 12,
    /** The signal is not one of the ee_signal values. */
    EE_ERR_BAD_SIGNAL = 13,
    /** Not one threshold per early exit, or a threshold is not a finite number. */
    EE_ERR_BAD_THRESHOLDS = 14,
    /** Unknown bits in a policy flags word. */
    EE_ERR_BAD_FLAGS = 15,
    /** An exit or class index is out of range. */
    EE_ERR_OUT_OF_RANGE = 16,
    /** No successful run yet on this interpreter. */
    EE_ERR_NO_RESULT = 17,
    /** The caller's array or string buffer is too small (see the function for what is written). */
    EE_ERR_BUFFER_TOO_SMALL = 18,
    /** A float32 run produced a NaN or infinite score or gate: the model's weights or input
        normalization overflow float32 on this input. No result is kept (EE_ERR_NO_RESULT after). */
    EE_ERR_NON_FINITE_OUTPUT = 19,
    /** ee_interpreter_run_pixels on a model that records no input normalization (mean/std):
        what a pixel means is unknown. Store one (`early-exit convert --mean M --std S`), or
        normalize yourself and call ee_interpreter_run. */
    EE_ERR_NO_NORMALIZATION = 20,
    /** The model file cannot be opened, read or mapped (the message says why). */
    EE_ERR_FILE = 21,
    /** Not available on this platform (ee_model_open_file without a file system), or the kernel
     *  set EARLYEXIT_KERNELS names is unknown or needs instructions this CPU lacks. */
    EE_ERR_UNSUPPORTED = 22,
    /** Memory could not be allocated. */
    EE_ERR_OUT_OF_MEMORY = 23
} ee_status;

/** The confidence signal an exit is judged by. */
typedef enum ee_signal {
    /** Never exit early: run the full network. */
    EE_SIGNAL_NONE = 0,
    /** Exit when the exit's gate tanh(.) is at or above the threshold (the default). */
    EE_SIGNAL_GATE = 1,
    /** Exit when the largest softmax probability is at or above the threshold. */
    EE_SIGNAL_MAXPROB = 2,
    /** Exit when the softmax entropy (nats) is at or below the threshold. */
    EE_SIGNAL_ENTROPY = 3
} ee_signal;

/** Policy flag: when exiting early, combine the hypotheses of every exit seen so far
 *  (gate-weighted, eq. 9) instead of using the exit's own log-probabilities. */
#define EE_POLICY_COMBINE_SEEN_EXITS 1u

/** What one inference did. */
typedef struct ee_result {
    /** The predicted class: the arg-max of the scores. */
    int32_t class_index;
    /** The exit whose decision ended the run; early_exit_count is the final head. */
    int32_t exit_index;
    /** How many exits were evaluated (exit_index + 1). */
    int32_t exits_evaluated;
    /** 1 when the run stopped before the final head, else 0. */
    int32_t exited_early;
    /** Multiply-accumulates executed. */
    uint64_t macs;
    /** Multiply-accumulates of the full network. */
    uint64_t macs_full;
} ee_result;

#if defined(__cplusplus) && __cplusplus >= 201103L
static_assert(sizeof(ee_result) == 32, "ee_result layout");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(ee_result) == 32, "ee_result layout");
#endif

/** A validated model (opaque). */
typedef struct ee_model ee_model;
/** An interpreter running one model inside one arena (opaque). */
typedef struct ee_interpreter ee_interpreter;

/** A static, NUL-terminated description of a status code ("unknown status code" for others). */
const char *ee_status_string(ee_status status);

/* ---- Versions -------------------------------------------------------------------------- */

/** The library's version, "MAJOR.MINOR.PATCH" (static, NUL-terminated). */
const char *ee_version(void);

/** The library's version as (major << 16) | (minor << 8) | patch; compare it with
 *  EE_VERSION_NUMBER to catch a header that does not belong to the library. */
uint32_t ee_version_number(void);

/** The .eem format version this library reads: files of major version *out_major, any minor
 *  version (later minors only add meaning to fields that earlier ones require to be zero);
 *  *out_minor is the newest minor version it knows. */
ee_status ee_format_version(uint32_t *out_major, uint32_t *out_minor);

/* ---- Models ---------------------------------------------------------------------------- */

/**
 * Opens and fully validates a model in a caller-owned buffer, without copying it.
 * data must be EE_MODEL_ALIGNMENT-byte aligned and outlive the model and its interpreters.
 * On success *out_model is the new handle; on failure it is set to NULL (when out_model is
 * not NULL). When message is not NULL and capacity > 0, a NUL-terminated description is
 * written into it (truncated to capacity - 1 bytes): the empty string on success, the exact
 * problem (byte offset, tensor, operator or exit index) on failure.
 */
ee_status ee_model_open(const void *data, size_t size, ee_model **out_model, char *message, size_t capacity);

/**
 * Opens and fully validates the model file at `path` (a NUL-terminated path), memory-mapped
 * read-only: the weights are used in place from the page cache, not copied. The mapping is
 * released when the model handle and every interpreter created from it are closed; the file
 * must not be truncated or rewritten meanwhile (replace it with a rename instead, as the
 * `early-exit` tools do). On success *out_model is the new handle; on failure it is set to NULL
 * (when out_model is not NULL) and nothing stays mapped or open. message and capacity work as
 * in ee_model_open (the message names the file). EE_ERR_FILE when the file cannot be opened
 * or mapped (missing, a directory, no permission), EE_ERR_UNSUPPORTED on a platform without
 * files (bare metal: use ee_model_open), else the statuses of ee_model_open.
 */
ee_status ee_model_open_file(const char *path, ee_model **out_model, char *message, size_t capacity);

/** Closes a model handle. Interpreters created from it stay usable until they are closed. */
ee_status ee_model_close(ee_model *model);

/** The arena size in bytes an interpreter of this model needs. */
ee_status ee_model_arena_size(const ee_model *model, size_t *out_bytes);

/**
 * The heap bytes the model handle holds beside the model's own bytes: weights reordered for
 * the selected kernels (packed GEMM blocks, Winograd-transformed filters, folded int8 biases),
 * indirection tables and int8 tables, prepared once when the model was opened.
 */
ee_status ee_model_prepared_bytes(const ee_model *model, size_t *out_bytes);

/**
 * The kernel set the model was prepared for and runs with (a static NUL-terminated name such
 * as "avx512", "avx2", "sse2", "neon-dotprod" or "neon"): the best this CPU supports, or the one
 * the environment variable EARLYEXIT_KERNELS named when the model was opened (an unknown or
 * unsupported name fails the open with EE_ERR_UNSUPPORTED and a message naming the sets this
 * CPU supports; "auto" or an empty value selects the best).
 */
ee_status ee_model_kernels(const ee_model *model, const char **out_name);

/** The input tensor's shape (NCHW): dims[0..rank-1]; dims[rank..EE_MAX_RANK-1] are set to 1. */
ee_status ee_model_input_shape(const ee_model *model, size_t dims[EE_MAX_RANK], size_t *out_rank);

/** The number of float32 values one input has (the product of the input shape). */
ee_status ee_model_input_size(const ee_model *model, size_t *out_count);

/** The number of classes. */
ee_status ee_model_class_count(const ee_model *model, size_t *out_count);

/** The number of early exits (every exit but the final head). Thresholds come one per early exit. */
ee_status ee_model_early_exit_count(const ee_model *model, size_t *out_count);

/** Multiply-accumulates executed up to and including exit `exit` (0 ... early_exit_count;
 *  early_exit_count is the final head, whose value is the full network's MACs). */
ee_status ee_model_exit_macs(const ee_model *model, size_t exit, uint64_t *out_macs);

/** Multiply-accumulates of the full network. */
ee_status ee_model_full_macs(const ee_model *model, uint64_t *out_macs);

/**
 * The input normalization stored in the model: 8-bit pixels p become
 * ((p / 255.0f) - mean[c]) / std[c] for channel c (with one value, c is 0 for every channel).
 * *out_count (required) receives the number of values: 0 (no normalization), 1, or one per
 * channel. mean and std receive that many values; they may be NULL when capacity is 0 (to
 * query the count). EE_ERR_BUFFER_TOO_SMALL when capacity < count (nothing is copied).
 */
ee_status ee_model_normalization(const ee_model *model, float *mean, float *std, size_t capacity, size_t *out_count);

/**
 * Copies class `index`'s name, NUL-terminated, into buffer (the empty string when the model
 * stores no class names). EE_ERR_OUT_OF_RANGE when index >= class count;
 * EE_ERR_BUFFER_TOO_SMALL when the name does not fit (a truncated name is written when
 * capacity > 0).
 */
ee_status ee_model_class_name(const ee_model *model, size_t index, char *buffer, size_t capacity);

/**
 * The exit policy stored in the model, which new interpreters start with. Any output may
 * be NULL except that thresholds must hold early_exit_count values when it is not NULL
 * (capacity smaller: EE_ERR_BUFFER_TOO_SMALL, nothing is written).
 */
ee_status ee_model_default_policy(const ee_model *model, ee_signal *out_signal, float *thresholds, size_t capacity,
                                  uint32_t *out_flags);

/**
 * Early exit `exit_index`'s rule in the stored policy (format 1.1 lets each exit name its own
 * signal and a second condition): the exit is taken when its signal passes its threshold and,
 * when *out_second_signal is not EE_SIGNAL_NONE, the second signal passes the second threshold
 * too ("gate >= a and maxprob >= b"). For a policy without per-exit rules every exit reports
 * the policy's signal (that of ee_model_default_policy) and EE_SIGNAL_NONE as second signal.
 * A threshold no value can pass (above 1 for gate and maxprob, below 0 for entropy) means the
 * exit never fires. Outputs may be NULL. EE_ERR_OUT_OF_RANGE when exit_index >= early_exit_count.
 */
ee_status ee_model_exit_rule(const ee_model *model, size_t exit_index, ee_signal *out_signal, float *out_threshold,
                             ee_signal *out_second_signal, float *out_second_threshold);

/* ---- Arenas ---------------------------------------------------------------------------- */

/**
 * Allocates an arena for interpreters of `model`: ee_model_arena_size() bytes (*out_size),
 * EE_ARENA_ALIGNMENT-byte aligned, contents unspecified. Release it with ee_arena_free() once
 * the interpreter using it is closed. EE_ERR_OUT_OF_MEMORY when the allocation fails (the
 * outputs are unchanged).
 */
ee_status ee_arena_alloc(const ee_model *model, void **out_arena, size_t *out_size);

/** Frees an arena from ee_arena_alloc(). EE_ERR_MISALIGNED_ARENA for a pointer that cannot be
 *  one (not EE_ARENA_ALIGNMENT-byte aligned); other pointers cannot be checked. */
ee_status ee_arena_free(void *arena);

/**
 * Finds the arena inside a caller-owned buffer of `size` bytes of any alignment (malloc in C99,
 * or a static array): *out_arena is the buffer's first EE_ARENA_ALIGNMENT-aligned address and
 * *out_size the bytes from there to the buffer's end. A buffer of
 * EE_ARENA_BUFFER_SIZE(ee_model_arena_size()) bytes always holds the model's arena. Allocates
 * nothing. EE_ERR_ARENA_TOO_SMALL when no byte of the buffer is aligned; EE_ERR_OUT_OF_RANGE
 * when buffer + size runs past the end of the address space.
 */
ee_status ee_arena_align(void *buffer, size_t size, void **out_arena, size_t *out_size);

/* ---- Interpreters ---------------------------------------------------------------------- */

/**
 * Creates an interpreter for `model` inside a caller-owned arena of arena_size bytes:
 * at least ee_model_arena_size() bytes, EE_ARENA_ALIGNMENT (64)-byte aligned, outliving the
 * interpreter and used by nothing else. The interpreter starts with the model's stored policy.
 * On failure *out_interpreter is set to NULL (when out_interpreter is not NULL).
 */
ee_status ee_interpreter_create(const ee_model *model, void *arena, size_t arena_size, ee_interpreter **out_interpreter);

/** Closes an interpreter; its arena may then be reused or freed. */
ee_status ee_interpreter_close(ee_interpreter *interpreter);

/**
 * Sets the exit policy of later runs: a signal for every early exit, one finite threshold per
 * early exit, and flags (0 or EE_POLICY_COMBINE_SEEN_EXITS). With EE_SIGNAL_NONE, thresholds may be NULL and
 * count 0. On error the previous policy stays in force.
 */
ee_status ee_interpreter_set_policy(ee_interpreter *interpreter, ee_signal signal, const float *thresholds, size_t count,
                                    uint32_t flags);

/**
 * Returns the interpreter to the model's stored policy, per-exit rules included (a policy set
 * with ee_interpreter_set_policy uses one signal for every exit). Allocates nothing.
 */
ee_status ee_interpreter_use_model_policy(ee_interpreter *interpreter);

/**
 * Runs one inference on a float32 input of `count` values (ee_model_input_size()), laid out
 * as the input tensor (NCHW) and already normalized (for 8-bit pixels use
 * ee_interpreter_run_pixels, which applies the model's normalization). For an int8 (quantized) model the values
 * are quantized with the input tensor's scale and zero point on the way in. Writes the result
 * to *out_result when it is not NULL. Does not allocate. EE_ERR_BAD_INPUT for a wrong count or
 * a NaN or infinite value; EE_ERR_NON_FINITE_OUTPUT when a float32 model's evaluated exits
 * produce NaN or infinite logits or gates (no result is kept).
 */
ee_status ee_interpreter_run(ee_interpreter *interpreter, const float *input, size_t count, ee_result *out_result);

/**
 * Runs one inference on 8-bit pixels: `count` (ee_model_input_size()) bytes laid out as the
 * input tensor (NCHW, channel planes one after the other, as IDX files and most planar camera
 * formats store them; convert interleaved RGB first). Each pixel p of channel c becomes
 * (p / 255.0f - mean[c]) / std[c] with the model's stored normalization
 * (ee_model_normalization), computed in float32 exactly as `early-exit` normalizes IDX images,
 * and is written straight into the interpreter's input (for an int8 model, quantized as
 * ee_interpreter_run quantizes a float input). The result equals ee_interpreter_run on those
 * floats. Does not allocate. EE_ERR_NO_NORMALIZATION when the model records no normalization;
 * EE_ERR_BAD_INPUT for a wrong count; EE_ERR_NON_FINITE_OUTPUT as ee_interpreter_run.
 */
ee_status ee_interpreter_run_pixels(ee_interpreter *interpreter, const uint8_t *pixels, size_t count, ee_result *out_result);

/**
 * Runs one inference of an int8 (quantized) model on an input already quantized with the input
 * tensor's scale and zero point (ee_model_input_quantization()): integer arithmetic only, from
 * input to exit decision. EE_ERR_BAD_INPUT for a float32 model or a wrong count. Does not allocate.
 */
ee_status ee_interpreter_run_int8(ee_interpreter *interpreter, const int8_t *input, size_t count, ee_result *out_result);

/**
 * The int8 input tensor's quantization: real = scale * (q - zero_point). EE_ERR_BAD_INPUT for a
 * float32 model.
 */
ee_status ee_model_input_quantization(const ee_model *model, float *out_scale, int32_t *out_zero_point);

/** The result of the last successful run (EE_ERR_NO_RESULT before the first). */
ee_status ee_interpreter_result(const ee_interpreter *interpreter, ee_result *out_result);

/** Copies the last run's class scores (class count values) into scores, which holds capacity
 *  floats: the log-probabilities (log-softmax) of the exit taken, or, at full depth or with
 *  EE_POLICY_COMBINE_SEEN_EXITS, the eq. 9 gate-weighted sum of the evaluated exits'
 *  log-probabilities. Probabilities are their softmax: exp(s[c] - max) / sum over c. */
ee_status ee_interpreter_scores(const ee_interpreter *interpreter, float *scores, size_t capacity);

/** Copies the gates of the exits the last run evaluated (exits_evaluated values) into gates,
 *  which holds capacity floats; *out_count (may be NULL) receives exits_evaluated. For int8
 *  models whose gates are tanh of a one-output fully connected layer, each value is tanh of that
 *  layer's int32 accumulator, the value gate thresholds are compared with (an exit is taken
 *  exactly when its gate is at or above its threshold). An exit without a gate (a plain
 *  classifier's head, or one converted with `--exit LOGITS` and no GATE) reports 0; such a model
 *  refuses the gate signal and eq. 9's combination at ee_interpreter_set_policy. */
ee_status ee_interpreter_gates(const ee_interpreter *interpreter, float *gates, size_t capacity, size_t *out_count);

/** Copies the logits (class count values) exit `exit` produced in the last run; the exit
 *  must be one the run evaluated (exit < exits_evaluated), else EE_ERR_OUT_OF_RANGE. */
ee_status ee_interpreter_logits(const ee_interpreter *interpreter, size_t exit, float *logits, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* EARLYEXIT_H */
