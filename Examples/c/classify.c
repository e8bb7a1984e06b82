/*
 * classify: classify the images of an IDX file with an EarlyExit model through the C API,
 * printing one line per image (index, exit taken, class, MACs executed) and totals.
 *
 * usage: classify MODEL.eem --images IDX [--labels IDX] [--limit N]
 *                 [--policy none|gate|maxprob|entropy] [--threshold T | --thresholds T1,T2,...] [--combine]
 *
 * Built with -DEE_EMBEDDED_MODEL and a model_data.c from `early-exit export-c`, MODEL may be
 * omitted: the model compiled into the program is used.
 *
 * The output is line for line the same as `early-exit classify` on the same arguments:
 *     index exit class macs          (one line per image)
 *     images: N
 *     accuracy: P% (C of N)          (with --labels)
 *     mean MACs: M of F (S% saved)
 * Totals use integer arithmetic so that both programs print the same digits.
 *
 * IDX files must be uncompressed (gunzip the .gz files first). Pixels become floats as the
 * model's metadata says: x / 255, then (x - mean) / std.
 */
#include "earlyexit.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EE_EMBEDDED_MODEL
extern const unsigned char ee_model_data[];
extern const size_t ee_model_data_size;
#endif

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "classify: ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\n");
    va_end(arguments);
    exit(1);
}

static void usage(void) __attribute__((noreturn));

static void usage(void) {
    fprintf(stderr,
            "usage: classify MODEL.eem --images IDX [--labels IDX] [--limit N]\n"
            "                [--policy none|gate|maxprob|entropy] [--threshold T | --thresholds T1,T2,...] [--combine]\n");
    exit(2);
}

/* Reads a whole file into a 64-byte aligned buffer (the model is used in place). */
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) fail("cannot open '%s'", path);
    if (fseek(file, 0, SEEK_END) != 0) fail("cannot seek '%s'", path);
    long length = ftell(file);
    if (length < 0) fail("cannot size '%s'", path);
    rewind(file);
    size_t rounded = ((size_t)length + 63) / 64 * 64;
    unsigned char *bytes = aligned_alloc(64, rounded > 0 ? rounded : 64);
    if (!bytes) fail("out of memory reading '%s'", path);
    if ((size_t)length > 0 && fread(bytes, 1, (size_t)length, file) != (size_t)length) fail("cannot read '%s'", path);
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

/* An uncompressed IDX file of unsigned bytes: count items of item_size bytes each. */
typedef struct {
    unsigned char *bytes;
    const unsigned char *payload;
    size_t count, item_size;
} idx_file;

static idx_file read_idx(const char *path) {
    idx_file idx;
    size_t size;
    idx.bytes = read_file(path, &size);
    const unsigned char *b = idx.bytes;
    if (size >= 2 && b[0] == 0x1f && b[1] == 0x8b) fail("'%s' is gzip-compressed: gunzip it first", path);
    if (size < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] < 1 || b[3] > 4)
        fail("'%s' is not an unsigned-byte IDX file", path);
    size_t rank = b[3], header = 4 + 4 * rank;
    if (size < header) fail("'%s' has a truncated IDX header", path);
    idx.item_size = 1;
    for (size_t axis = 0; axis < rank; axis++) {
        const unsigned char *d = b + 4 + 4 * axis;
        size_t dim = ((size_t)d[0] << 24) | ((size_t)d[1] << 16) | ((size_t)d[2] << 8) | d[3];
        if (axis == 0) idx.count = dim; else idx.item_size *= dim;
    }
    if (idx.item_size != 0 && idx.count > (size - header) / idx.item_size) fail("'%s' is shorter than its IDX header says", path);
    if (size - header != idx.count * idx.item_size) fail("'%s' does not have the size its IDX header says", path);
    idx.payload = b + header;
    return idx;
}

static void check(ee_status status, const char *what) {
    if (status != EE_OK) {
        fprintf(stderr, "classify: %s: %s\n", what, ee_status_string(status));
        exit(1);
    }
}

static int parse_signal(const char *name, ee_signal *signal) {
    if (strcmp(name, "none") == 0) *signal = EE_SIGNAL_NONE;
    else if (strcmp(name, "gate") == 0) *signal = EE_SIGNAL_GATE;
    else if (strcmp(name, "maxprob") == 0) *signal = EE_SIGNAL_MAXPROB;
    else if (strcmp(name, "entropy") == 0) *signal = EE_SIGNAL_ENTROPY;
    else return 0;
    return 1;
}

static float parse_float(const char *text) {
    char *end;
    errno = 0;
    float value = strtof(text, &end);
    if (errno != 0 || end == text || *end != '\0') fail("'%s' is not a number", text);
    return value;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *images_path = NULL, *labels_path = NULL;
    const char *policy_name = NULL, *threshold_text = NULL, *thresholds_text = NULL;
    long limit = -1;
    int combine = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(arg, "--images") == 0 && has_value) images_path = argv[++i];
        else if (strcmp(arg, "--labels") == 0 && has_value) labels_path = argv[++i];
        else if (strcmp(arg, "--limit") == 0 && has_value) limit = strtol(argv[++i], NULL, 10);
        else if (strcmp(arg, "--policy") == 0 && has_value) policy_name = argv[++i];
        else if (strcmp(arg, "--threshold") == 0 && has_value) threshold_text = argv[++i];
        else if (strcmp(arg, "--thresholds") == 0 && has_value) thresholds_text = argv[++i];
        else if (strcmp(arg, "--combine") == 0) combine = 1;
        else if (arg[0] == '-' && arg[1] != '\0') usage();
        else if (!model_path) model_path = arg;
        else usage();
    }
    if (!images_path) usage();

    /* The model: a file read into an aligned buffer, or the array compiled in. */
    const unsigned char *model_bytes;
    size_t model_size;
    unsigned char *model_file = NULL;
    if (model_path) {
        model_file = read_file(model_path, &model_size);
        model_bytes = model_file;
    } else {
#ifdef EE_EMBEDDED_MODEL
        model_bytes = ee_model_data;
        model_size = ee_model_data_size;
#else
        usage();
        return 2;
#endif
    }
    ee_model *model;
    char message[512];
    ee_status status = ee_model_open(model_bytes, model_size, &model, message, sizeof message);
    if (status != EE_OK) {
        fprintf(stderr, "classify: model '%s' is invalid (%s): %s\n", model_path ? model_path : "(embedded)",
                ee_status_string(status), message);
        return 1;
    }

    size_t input_count, early_exits, class_count, norm_count, arena_size;
    uint64_t full_macs;
    check(ee_model_input_size(model, &input_count), "input size");
    check(ee_model_early_exit_count(model, &early_exits), "exit count");
    check(ee_model_class_count(model, &class_count), "class count");
    check(ee_model_full_macs(model, &full_macs), "full MACs");
    check(ee_model_arena_size(model, &arena_size), "arena size");
    size_t input_dims[EE_MAX_RANK], input_rank;
    check(ee_model_input_shape(model, input_dims, &input_rank), "input shape");
    status = ee_model_normalization(model, NULL, NULL, 0, &norm_count); /* the count first */
    if (status != EE_ERR_BUFFER_TOO_SMALL) check(status, "normalization");
    float *mean = calloc(norm_count + 1, sizeof(float)), *std = calloc(norm_count + 1, sizeof(float));
    if (norm_count > 0) check(ee_model_normalization(model, mean, std, norm_count, &norm_count), "normalization");

    /* One interpreter in one 64-byte aligned arena. */
    void *arena = aligned_alloc(EE_ARENA_ALIGNMENT, (arena_size + EE_ARENA_ALIGNMENT - 1) / EE_ARENA_ALIGNMENT * EE_ARENA_ALIGNMENT);
    if (!arena && arena_size > 0) fail("out of memory for the arena");
    ee_interpreter *interpreter;
    check(ee_interpreter_create(model, arena, arena_size, &interpreter), "create interpreter");

    /* The policy: the model's stored one, changed by the options as `early-exit classify` does. */
    ee_signal signal;
    uint32_t flags;
    float *thresholds = calloc(early_exits > 0 ? early_exits : 1, sizeof(float));
    check(ee_model_default_policy(model, &signal, thresholds, early_exits, &flags), "default policy");
    if (threshold_text && thresholds_text) fail("give either --threshold or --thresholds, not both");
    if (policy_name) {
        ee_signal chosen;
        if (!parse_signal(policy_name, &chosen)) fail("unknown policy '%s'; use gate, maxprob, entropy or none", policy_name);
        if (chosen != signal && chosen != EE_SIGNAL_NONE && !threshold_text && !thresholds_text)
            fail("policy '%s' needs --threshold or --thresholds", policy_name);
        signal = chosen;
    }
    if (threshold_text) {
        float value = parse_float(threshold_text);
        for (size_t k = 0; k < early_exits; k++) thresholds[k] = value;
    }
    if (thresholds_text) {
        char *copy = strdup(thresholds_text), *save = NULL;
        size_t k = 0;
        for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
            if (k == early_exits) fail("--thresholds has more than %zu values (one per early exit)", early_exits);
            thresholds[k++] = parse_float(part);
        }
        if (k != early_exits) fail("--thresholds has %zu values; the model has %zu early exits", k, early_exits);
        free(copy);
    }
    if (combine) flags |= EE_POLICY_COMBINE_SEEN_EXITS;
    status = ee_interpreter_set_policy(interpreter, signal, thresholds, early_exits, flags);
    check(status, "set policy");

    idx_file images = read_idx(images_path);
    if (images.item_size != input_count) fail("the images of '%s' do not have as many pixels as the model's input", images_path);
    idx_file labels = {0};
    if (labels_path) {
        labels = read_idx(labels_path);
        if (labels.item_size != 1) fail("'%s' is not a label file", labels_path);
        if (labels.count != images.count) fail("'%s' does not have one label per image", labels_path);
    }
    size_t count = images.count;
    if (limit >= 0 && (size_t)limit < count) count = (size_t)limit;

    /* x / 255, then (x - mean[c]) / std[c], with c the channel of the pixel (NCHW). */
    size_t channels = input_rank >= 2 ? input_dims[1] : 1;
    size_t per_channel = input_count / (channels > 0 ? channels : 1);
    if (per_channel == 0) per_channel = 1;
    float *input = malloc(input_count * sizeof(float));
    uint64_t total_macs = 0, correct = 0;
    for (size_t image = 0; image < count; image++) {
        const unsigned char *pixels = images.payload + image * images.item_size;
        for (size_t i = 0; i < input_count; i++) {
            float value = (float)pixels[i] / 255.0f;
            if (norm_count > 0) {
                size_t c = norm_count == 1 ? 0 : i / per_channel;
                if (c > norm_count - 1) c = norm_count - 1;
                value = (value - mean[c]) / std[c];
            }
            input[i] = value;
        }
        ee_result result;
        check(ee_interpreter_run(interpreter, input, input_count, &result), "run");
        printf("%zu %d %d %" PRIu64 "\n", image, result.exit_index, result.class_index, result.macs);
        total_macs += result.macs;
        if (labels_path && (size_t)result.class_index == labels.payload[image]) correct++;
    }

    /* Totals, with integer arithmetic rounded half up. */
    uint64_t n = count;
    printf("images: %" PRIu64 "\n", n);
    if (labels_path && n > 0) {
        uint64_t accuracy = (correct * 10000 + n / 2) / n;
        printf("accuracy: %" PRIu64 ".%02" PRIu64 "%% (%" PRIu64 " of %" PRIu64 ")\n", accuracy / 100, accuracy % 100, correct, n);
    }
    if (n > 0) {
        uint64_t mean_x100 = (total_macs * 100 + n / 2) / n;
        uint64_t full_total = full_macs * n;
        uint64_t saved = full_total > 0 ? ((full_total - total_macs) * 10000 + full_total / 2) / full_total : 0;
        printf("mean MACs: %" PRIu64 ".%02" PRIu64 " of %" PRIu64 " (%" PRIu64 ".%02" PRIu64 "%% saved)\n", mean_x100 / 100,
               mean_x100 % 100, full_macs, saved / 100, saved % 100);
    }

    free(input);
    free(mean);
    free(std);
    free(thresholds);
    check(ee_interpreter_close(interpreter), "close interpreter");
    check(ee_model_close(model), "close model");
    free(arena);
    free(model_file);
    free(images.bytes);
    free(labels.bytes);
    return 0;
}
