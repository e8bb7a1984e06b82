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
    if (channels == 1) {
        // One channel (a gray image): one value per tap, selected without a branch.
        for (size_t p = 0; p < out_pixels; p++) {
            uint8_t *row = out + p * row_length;
            const int32_t *index = pixel_index + p * taps;
            for (size_t t = 0; t < taps; t++) {
                const int32_t pixel = index[t];
                const uint8_t value = (uint8_t)x[pixel < 0 ? 0 : pixel] ^ 0x80u;
                row[t] = pixel < 0 ? padding : value;
            }
            for (size_t k = taps; k < row_length; k++) row[k] = 0x80u;
        }
        return;
    }
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
