// The input copies of the int8 convolutions: channels-last rows of `row_length` values, as the
// tile kernels read them (u8 = x + 128 for VNNI, int16 for vpmaddwd). Plain C; the compiler
// vectorizes the channels-last case for the baseline instruction set.
#include "earlyexit_native.h"

void ee_qs8_convert_rows_u8(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, uint8_t *out) {
    if (channels_last && row_length == channels) {
        const size_t count = pixels * channels;
        for (size_t i = 0; i < count; i++) out[i] = (uint8_t)x[i] ^ 0x80u;
        return;
    }
    for (size_t p = 0; p < pixels; p++) {
        uint8_t *row = out + p * row_length;
        if (channels_last) {
            for (size_t c = 0; c < channels; c++) row[c] = (uint8_t)x[p * channels + c] ^ 0x80u;
        } else {
            for (size_t c = 0; c < channels; c++) row[c] = (uint8_t)x[c * pixels + p] ^ 0x80u;
        }
        for (size_t c = channels; c < row_length; c++) row[c] = 0x80u;
    }
}

void ee_qs8_convert_rows_s8(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, int8_t *out) {
    for (size_t p = 0; p < pixels; p++) {
        int8_t *row = out + p * row_length;
        if (channels_last) {
            for (size_t c = 0; c < channels; c++) row[c] = x[p * channels + c];
        } else {
            for (size_t c = 0; c < channels; c++) row[c] = x[c * pixels + p];
        }
        for (size_t c = channels; c < row_length; c++) row[c] = 0;
    }
}

void ee_qs8_convert_rows_i16(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, int16_t *out) {
    if (channels_last && row_length == channels) {
        const size_t count = pixels * channels;
        for (size_t i = 0; i < count; i++) out[i] = x[i];
        return;
    }
    for (size_t p = 0; p < pixels; p++) {
        int16_t *row = out + p * row_length;
        if (channels_last) {
            for (size_t c = 0; c < channels; c++) row[c] = x[p * channels + c];
        } else {
            for (size_t c = 0; c < channels; c++) row[c] = x[c * pixels + p];
        }
        for (size_t c = channels; c < row_length; c++) row[c] = 0;
    }
}

void ee_qs8_global_average_pool_channels_last(const int8_t *x, size_t channels, size_t pixels, int32_t *sums, int8_t *y) {
    for (size_t c = 0; c < channels; c++) sums[c] = 0;
    for (size_t p = 0; p < pixels; p++) {
        const int8_t *row = x + p * channels;
        for (size_t c = 0; c < channels; c++) sums[c] += row[c];
    }
    const int32_t count = (int32_t)pixels;
    for (size_t c = 0; c < channels; c++) {
        const int32_t sum = sums[c];
        int32_t average = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
        y[c] = (int8_t)(average < -128 ? -128 : average > 127 ? 127 : average);
    }
}

void ee_qs8_im2col_u8(const int8_t *x, const int32_t *pixel_index, size_t out_pixels, size_t taps, size_t channels, size_t plane,
                      int channels_last, int8_t zero_point, size_t row_length, uint8_t *out) {
    const uint8_t padding = (uint8_t)zero_point ^ 0x80u;
    for (size_t p = 0; p < out_pixels; p++) {
        uint8_t *row = out + p * row_length;
        size_t k = 0;
        for (size_t t = 0; t < taps; t++) {
            const int32_t pixel = pixel_index[p * taps + t];
            for (size_t c = 0; c < channels; c++, k++) {
                if (pixel < 0) { row[k] = padding; continue; }
                const int8_t value = channels_last ? x[(size_t)pixel * channels + c] : x[c * plane + (size_t)pixel];
                row[k] = (uint8_t)value ^ 0x80u;
            }
        }
        for (; k < row_length; k++) row[k] = 0x80u;
    }
}

static inline uint32_t load_u32(const uint8_t *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static inline void store_u32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }

void ee_qs8_padded_plane_u8(const int8_t *x, const ee_qs8_plane_geometry *g, int8_t zero_point, size_t slack, uint8_t *plane) {
    const uint8_t padding = (uint8_t)zero_point ^ 0x80u;
    const size_t pw = g->plane_width, ph = g->plane_height;
    for (size_t i = 0; i < ph * pw + slack; i++) plane[i] = padding;
    for (size_t iy = 0; iy < g->height && iy + g->pad_top < ph; iy++) {
        if (g->pad_left >= pw) break;
        const size_t columns = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
        uint8_t *to = plane + (iy + g->pad_top) * pw + g->pad_left;
        const int8_t *from = x + iy * g->width;
        for (size_t ix = 0; ix < columns; ix++) to[ix] = (uint8_t)from[ix] ^ 0x80u;
    }
}

void ee_qs8_im2col_plane_u8(const int8_t *x, const ee_qs8_plane_geometry *g, int8_t zero_point, size_t row_length,
                            uint8_t *plane, uint8_t *out) {
    ee_qs8_padded_plane_u8(x, g, zero_point, 4, plane);
    const size_t pw = g->plane_width;
    const size_t kh = g->kernel_height, kw = g->kernel_width, taps = kh * kw;
    uint8_t *row = out;
    for (size_t oy = 0; oy < g->out_height; oy++) {
        const uint8_t *top = plane + oy * g->stride_height * pw;
        for (size_t ox = 0; ox < g->out_width; ox++, row += row_length) {
            const uint8_t *run = top + ox * g->stride_width;
            if (kw == 3) {
                /* 4 bytes per run, in order: each run's fourth byte is overwritten by the next run
                 * (or by the padding below, or by the next row's first run). */
                for (size_t ky = 0; ky < kh; ky++, run += pw) store_u32(row + 3 * ky, load_u32(run));
            } else {
                for (size_t ky = 0; ky < kh; ky++, run += pw)
                    for (size_t kx = 0; kx < kw; kx++) row[ky * kw + kx] = run[kx];
            }
            for (size_t k = taps; k < row_length; k++) row[k] = 0x80u;
        }
    }
}

void ee_qs8_im2col_i16(const int8_t *x, const int32_t *pixel_index, size_t out_pixels, size_t taps, size_t channels, size_t plane,
                       int channels_last, int8_t zero_point, size_t row_length, int16_t *out) {
    for (size_t p = 0; p < out_pixels; p++) {
        int16_t *row = out + p * row_length;
        size_t k = 0;
        for (size_t t = 0; t < taps; t++) {
            const int32_t pixel = pixel_index[p * taps + t];
            for (size_t c = 0; c < channels; c++, k++) {
                if (pixel < 0) { row[k] = zero_point; continue; }
                row[k] = channels_last ? x[(size_t)pixel * channels + c] : x[c * plane + (size_t)pixel];
            }
        }
        for (; k < row_length; k++) row[k] = 0;
    }
}
