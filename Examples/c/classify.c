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
 * IDX files may be gzip-compressed, as Models/ ships them (a small inflate below reads them, so
 * the program needs no zlib), or plain. The 8-bit pixels go to ee_interpreter_run_pixels, which
 * applies the model's stored normalization ((p / 255 - mean) / std) inside the library.
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

/* Reads a whole file into memory. */
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) fail("cannot open '%s': %s", path, strerror(errno));
    if (fseek(file, 0, SEEK_END) != 0) fail("cannot seek '%s'", path);
    long length = ftell(file);
    if (length < 0) fail("cannot size '%s' (not a regular file?)", path);
    rewind(file);
    unsigned char *bytes = malloc(length > 0 ? (size_t)length : 1);
    if (!bytes) fail("out of memory reading '%s'", path);
    if (length > 0 && fread(bytes, 1, (size_t)length, file) != (size_t)length) fail("cannot read '%s'", path);
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

/* ---- gzip (RFC 1952) and DEFLATE (RFC 1951) decompression ---------------------------------
 * Enough to read the IDX files as they are distributed: stored, fixed and dynamic Huffman
 * blocks, the gzip header's optional fields, the CRC-32 and length trailer, concatenated
 * members. Every malformed input is an error message, never a read out of bounds. */

typedef struct {
    const unsigned char *in;
    size_t in_size, in_pos;
    uint32_t bit_buffer;
    int bit_count;
    unsigned char *out;
    size_t out_size, out_capacity;
    const char *error;
} inflate_state;

/* Canonical Huffman code: number of codes of each length, symbols ordered by code. */
typedef struct {
    short count[16];
    short symbol[320];
} huffman;

static int next_bits(inflate_state *s, int need, unsigned *value) {
    while (s->bit_count < need) {
        if (s->in_pos == s->in_size) { s->error = "the compressed data ends early"; return 0; }
        s->bit_buffer |= (uint32_t)s->in[s->in_pos++] << s->bit_count;
        s->bit_count += 8;
    }
    *value = s->bit_buffer & ((1u << need) - 1u);
    s->bit_buffer >>= need;
    s->bit_count -= need;
    return 1;
}

/* Builds a code from code lengths; 0 when a length set is over-subscribed. */
static int build_huffman(huffman *h, const short *length, int n) {
    short offsets[16];
    for (int len = 0; len < 16; len++) h->count[len] = 0;
    for (int symbol = 0; symbol < n; symbol++) h->count[length[symbol]]++;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0) return 0;
    }
    offsets[1] = 0;
    for (int len = 1; len < 15; len++) offsets[len + 1] = (short)(offsets[len] + h->count[len]);
    for (int symbol = 0; symbol < n; symbol++)
        if (length[symbol] != 0) h->symbol[offsets[length[symbol]]++] = (short)symbol;
    return 1;
}

/* The next symbol of code h (codes are sent most significant bit first), or -1. */
static int decode_symbol(inflate_state *s, const huffman *h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        unsigned bit;
        if (!next_bits(s, 1, &bit)) return -1;
        code |= (int)bit;
        int count = h->count[len];
        if (code - first < count) return h->symbol[index + code - first];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    s->error = "an invalid Huffman code";
    return -1;
}

static int put_byte(inflate_state *s, unsigned char byte) {
    if (s->out_size == s->out_capacity) {
        size_t capacity = s->out_capacity < 4096 ? 4096 : s->out_capacity * 2;
        if (capacity < s->out_capacity) { s->error = "the data is too large"; return 0; }
        unsigned char *grown = realloc(s->out, capacity);
        if (!grown) { s->error = "out of memory"; return 0; }
        s->out = grown;
        s->out_capacity = capacity;
    }
    s->out[s->out_size++] = byte;
    return 1;
}

static const short length_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const unsigned short distance_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                                                 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const short distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int inflate_codes(inflate_state *s, const huffman *lengths, const huffman *distances) {
    for (;;) {
        int symbol = decode_symbol(s, lengths);
        if (symbol < 0) return 0;
        if (symbol < 256) {
            if (!put_byte(s, (unsigned char)symbol)) return 0;
        } else if (symbol == 256) {
            return 1;
        } else {
            symbol -= 257;
            if (symbol >= 29) { s->error = "an invalid length code"; return 0; }
            unsigned extra;
            if (!next_bits(s, length_extra[symbol], &extra)) return 0;
            size_t length = (size_t)length_base[symbol] + extra;
            int code = decode_symbol(s, distances);
            if (code < 0) return 0;
            if (code >= 30) { s->error = "an invalid distance code"; return 0; }
            if (!next_bits(s, distance_extra[code], &extra)) return 0;
            size_t distance = (size_t)distance_base[code] + extra;
            if (distance > s->out_size) { s->error = "a distance before the start of the data"; return 0; }
            for (size_t i = 0; i < length; i++)
                if (!put_byte(s, s->out[s->out_size - distance])) return 0;
        }
    }
}

static int inflate_block_stored(inflate_state *s) {
    s->bit_buffer = 0; /* to the next byte boundary */
    s->bit_count = 0;
    if (s->in_size - s->in_pos < 4) { s->error = "the compressed data ends early"; return 0; }
    const unsigned char *p = s->in + s->in_pos;
    unsigned length = p[0] | (unsigned)p[1] << 8, complement = p[2] | (unsigned)p[3] << 8;
    if (length != (~complement & 0xFFFFu)) { s->error = "a stored block's length check fails"; return 0; }
    s->in_pos += 4;
    if (s->in_size - s->in_pos < length) { s->error = "the compressed data ends early"; return 0; }
    for (unsigned i = 0; i < length; i++)
        if (!put_byte(s, s->in[s->in_pos++])) return 0;
    return 1;
}

static int inflate_block_fixed(inflate_state *s) {
    static huffman lengths, distances;
    static int built;
    if (!built) {
        short length[288];
        for (int i = 0; i < 288; i++) length[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        build_huffman(&lengths, length, 288);
        for (int i = 0; i < 30; i++) length[i] = 5;
        build_huffman(&distances, length, 30);
        built = 1;
    }
    return inflate_codes(s, &lengths, &distances);
}

static int inflate_block_dynamic(inflate_state *s) {
    static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    unsigned nlen, ndist, ncode, value;
    if (!next_bits(s, 5, &nlen) || !next_bits(s, 5, &ndist) || !next_bits(s, 4, &ncode)) return 0;
    nlen += 257;
    ndist += 1;
    ncode += 4;
    if (nlen > 286 || ndist > 30) { s->error = "a dynamic block declares too many codes"; return 0; }
    short length[320] = {0};
    for (unsigned i = 0; i < ncode; i++) {
        if (!next_bits(s, 3, &value)) return 0;
        length[order[i]] = (short)value;
    }
    huffman lengths, distances;
    if (!build_huffman(&lengths, length, 19)) { s->error = "an invalid code length code"; return 0; }
    unsigned index = 0;
    while (index < nlen + ndist) {
        int symbol = decode_symbol(s, &lengths);
        if (symbol < 0) return 0;
        if (symbol < 16) {
            length[index++] = (short)symbol;
            continue;
        }
        short repeated = 0;
        unsigned times;
        if (symbol == 16) {
            if (index == 0) { s->error = "a repeat with no previous length"; return 0; }
            repeated = length[index - 1];
            if (!next_bits(s, 2, &times)) return 0;
            times += 3;
        } else if (symbol == 17) {
            if (!next_bits(s, 3, &times)) return 0;
            times += 3;
        } else {
            if (!next_bits(s, 7, &times)) return 0;
            times += 11;
        }
        if (index + times > nlen + ndist) { s->error = "code lengths overrun their count"; return 0; }
        while (times--) length[index++] = repeated;
    }
    if (length[256] == 0) { s->error = "a dynamic block without an end-of-block code"; return 0; }
    if (!build_huffman(&lengths, length, (int)nlen) || !build_huffman(&distances, length + nlen, (int)ndist)) {
        s->error = "an over-subscribed Huffman code";
        return 0;
    }
    return inflate_codes(s, &lengths, &distances);
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *bytes, size_t count) {
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t n = 0; n < 256; n++) {
            uint32_t c = n;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < count; i++) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* Decompresses every gzip member of in[0..size); on error, fails naming `path`. */
static unsigned char *gunzip(const char *path, const unsigned char *in, size_t size, size_t *out_size) {
    inflate_state s = {in, size, 0, 0, 0, NULL, 0, 0, NULL};
    while (s.in_pos < size) {
        const unsigned char *h = in + s.in_pos;
        size_t left = size - s.in_pos;
        if (left < 18 || h[0] != 0x1f || h[1] != 0x8b) fail("'%s': data after a gzip member is not another member", path);
        if (h[2] != 8) fail("'%s': gzip compression method %d is not DEFLATE", path, h[2]);
        unsigned flags = h[3];
        if (flags & 0xE0) fail("'%s': reserved gzip header flags are set", path);
        size_t at = 10;
        if (flags & 4) { /* FEXTRA */
            if (left < at + 2) fail("'%s': truncated gzip header", path);
            at += 2 + (h[at] | (size_t)h[at + 1] << 8);
        }
        for (unsigned bit = 8; bit <= 16; bit <<= 1) { /* FNAME, FCOMMENT: NUL-terminated */
            if (!(flags & bit)) continue;
            while (at < left && h[at] != 0) at++;
            at++;
        }
        if (flags & 2) at += 2; /* FHCRC */
        if (at > left) fail("'%s': truncated gzip header", path);
        s.in_pos += at;
        size_t start = s.out_size;
        unsigned last = 0, type;
        while (!last) {
            if (!next_bits(&s, 1, &last) || !next_bits(&s, 2, &type)) break;
            int ok = type == 0 ? inflate_block_stored(&s) : type == 1 ? inflate_block_fixed(&s)
                   : type == 2 ? inflate_block_dynamic(&s) : (s.error = "a block of the reserved type 3", 0);
            if (!ok) break;
        }
        if (s.error) fail("'%s' is not valid gzip data: %s (at compressed byte %zu)", path, s.error, s.in_pos);
        s.bit_buffer = 0;
        s.bit_count = 0;
        if (size - s.in_pos < 8) fail("'%s': the gzip trailer is missing", path);
        const unsigned char *t = in + s.in_pos;
        uint32_t crc = t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        uint32_t length = t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
        if (crc32_update(0, s.out + start, s.out_size - start) != crc) fail("'%s': gzip CRC-32 mismatch (corrupted data)", path);
        if ((uint32_t)(s.out_size - start) != length) fail("'%s': the gzip length trailer does not match the data", path);
        s.in_pos += 8;
    }
    *out_size = s.out_size;
    return s.out;
}

/* ---- IDX files --------------------------------------------------------------------------- */

/* An IDX file of unsigned bytes (plain or gzip-compressed): count items of item_size bytes each. */
typedef struct {
    unsigned char *bytes;
    const unsigned char *payload;
    size_t count, item_size;
} idx_file;

static idx_file read_idx(const char *path) {
    idx_file idx;
    size_t size;
    idx.bytes = read_file(path, &size);
    if (size >= 2 && idx.bytes[0] == 0x1f && idx.bytes[1] == 0x8b) {
        unsigned char *raw = gunzip(path, idx.bytes, size, &size);
        free(idx.bytes);
        idx.bytes = raw;
    }
    const unsigned char *b = idx.bytes;
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

    /* The model: a file, memory-mapped by the library, or the array compiled in. */
    ee_model *model;
    char message[512];
    ee_status status;
    if (model_path) {
        status = ee_model_open_file(model_path, &model, message, sizeof message);
    } else {
#ifdef EE_EMBEDDED_MODEL
        status = ee_model_open(ee_model_data, ee_model_data_size, &model, message, sizeof message);
#else
        usage();
        return 2;
#endif
    }
    if (status != EE_OK) {
        fprintf(stderr, "classify: model '%s' cannot be used (%s): %s\n", model_path ? model_path : "(embedded)",
                ee_status_string(status), message);
        return 1;
    }

    size_t input_count, early_exits, class_count, norm_count, arena_size;
    uint64_t full_macs;
    check(ee_model_input_size(model, &input_count), "input size");
    check(ee_model_early_exit_count(model, &early_exits), "exit count");
    check(ee_model_class_count(model, &class_count), "class count");
    check(ee_model_full_macs(model, &full_macs), "full MACs");
    status = ee_model_normalization(model, NULL, NULL, 0, &norm_count); /* the count only */
    if (status != EE_ERR_BUFFER_TOO_SMALL) check(status, "normalization");
    if (norm_count == 0) check(EE_ERR_NO_NORMALIZATION, "the model's pixel normalization");

    /* One interpreter in one 64-byte aligned arena. */
    void *arena;
    check(ee_arena_alloc(model, &arena, &arena_size), "arena");
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

    /* The pixels as they are: the library normalizes them with the model's mean and std. */
    uint64_t total_macs = 0, correct = 0;
    for (size_t image = 0; image < count; image++) {
        const unsigned char *pixels = images.payload + image * images.item_size;
        ee_result result;
        check(ee_interpreter_run_pixels(interpreter, pixels, input_count, &result), "run");
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

    free(thresholds);
    check(ee_interpreter_close(interpreter), "close interpreter");
    check(ee_model_close(model), "close model");
    check(ee_arena_free(arena), "free arena");
    free(images.bytes);
    free(labels.bytes);
    return 0;
}
