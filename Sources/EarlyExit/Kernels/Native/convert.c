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
