// The int8 microkernels written in C: the instructions Swift cannot emit (VNNI vpdpbusd, AVX2
// vpmaddwd on 256 bits with 64-bit products for requantization, Arm sdot). Everything around
// them (drivers, packing, tests) is Swift; the Swift reference kernels are the specification
// every function here is tested against, bit for bit.
#ifndef EARLYEXIT_NATIVE_H
#define EARLYEXIT_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Per-output-channel requantization of int32 accumulators to int8, TFLite's arithmetic:
/// double rounding RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc << left, m), right),
/// or single rounding (acc·m + 2^(s−1)) >> s with s = 31 − shift; then + zero point, clamped.
/// Arrays hold one value per column of the block the call covers (padded like the weights).
typedef struct {
    const int32_t *multipliers;   // ≥ 0 (validated at load)
    const int32_t *left_shifts;   // 0…31
    const int32_t *right_shifts;  // 0…31 (double rounding)
    const int32_t *shifts;        // the raw shift, −31…30 (single rounding)
    int32_t output_zero_point;    // −128…127
    int32_t minimum, maximum;     // ⊂ −128…127 (the fused activation's bounds)
    int32_t single_rounding;      // 0: double rounding (TFLite's default), 1: single
} ee_requantization;

/// One microkernel call of an int8 convolution as an implicit GEMM: for each output pixel
/// (row) and tap, `k` input values (u8 = x XOR 0x80 for the VNNI kernels, int16 for the AVX2
/// kernel) at `input + offset · element_bytes`, where the offset comes from the indirection table
/// (−1: the padding row `zero_row`) or is `row · k` without one; times a block of packed weights,
/// plus the folded bias, requantized, stored as int8. Rows past `row_count` repeat the last row
/// and are not stored.
typedef struct {
    const uint8_t *input;
    const int32_t *indirection;   // [rows][taps] element offsets, or NULL for rows at row · k
    const void *zero_row;
    size_t element_bytes;         // 1 (u8) or 2 (int16)
    size_t first_row;             // the tile's first row
    size_t taps;
    size_t k;                     // values per row per tap: a multiple of 4 (VNNI) or 2 (AVX2)
    const int8_t *weights;        // packed: [taps][k/4][vectors·lanes][4] (VNNI), [taps][k/2][vectors·lanes][2] int16 (AVX2)
    const int32_t *bias;          // [vectors·lanes], compensation folded in
    ee_requantization requantization;
    int8_t *output;               // row 0, column 0 of the block
    size_t output_row_stride;     // bytes between rows (channels-last)
    size_t output_column_stride;  // bytes between columns (1 channels-last; the plane size for NCHW)
    size_t row_count;             // rows to store (≤ row_tile)
    size_t column_count;          // columns to store (≤ vectors·lanes)
    size_t vectors;               // column vectors in the block: 1, 2 or 4 (4: zmm only)
    size_t row_tile;              // rows per call: 6, or 12 with at most 2 vectors (the
                                  // driver's ColumnBlocking, with 16 lanes and 32 registers for
                                  // zmm, 8 lanes and 16 registers for ymm)
} ee_qs8_tile;

/// An int8 convolution with few output channels (≤ 16), stride 1 and no dilation, in "pixel
/// lanes" (AVX-512 VNNI): each zmm lane is one output pixel, each of up to 16 accumulators one
/// output channel, and every vpdpbusd multiplies 16 pixels × 4 input channels (u8) by one
/// channel's 4 weights, broadcast from memory. Input: `groups` planes of 4-byte pixels (input
/// channels 4g…4g+3 as u8 = x + 128), each `plane_pixels` long, rows `plane_width` apart, the
/// padding (zero point) included, with at least 16 pixels of slack after the last row. Output
/// pixel (oy, ox) reads plane pixel (oy + ky)·plane_width + ox + kx for tap (ky, kx); it is stored
/// at pixel index oy·out_width + ox, channels-last (`channels_last`, then `channels` is 16) or as
/// planes of out_height·out_width bytes.
typedef struct {
    const uint8_t *planes;
    size_t groups, plane_pixels, plane_width;
    size_t kernel_height, kernel_width;
    size_t out_height, out_width;
    const int32_t *weights;       // [tap][group][slots] 4-byte weight groups, slots = channels rounded up to 2, 4, 8 or 16
    size_t channels;              // 1…16
    const int32_t *bias;          // [slots], compensation folded in
    ee_requantization requantization; // arrays of [slots]
    int8_t *output;
    int channels_last;
} ee_qs8_pixel_conv;

/// The pixel-lanes convolution (AVX-512 VNNI only) and its input copy: from a channels-last
/// (`channels_last` ≠ 0) or NCHW int8 map of height × width × channels, the planes described
/// above (channels rounded up to 4 with 0x80, the border and slack with zero_point + 128).
void ee_qs8_pixel_conv_avx512vnni(const ee_qs8_pixel_conv *conv);
void ee_qs8_convert_planes_u8_avx512(const int8_t *x, size_t height, size_t width, size_t channels, int channels_last, size_t pad_top,
                                     size_t pad_left, size_t plane_height, size_t plane_width, size_t plane_pixels, int8_t zero_point,
                                     uint8_t *planes);

/// The tile kernels. Call only on a CPU that has the instructions (KernelSet checks).
void ee_qs8_tile_avx512vnni(const ee_qs8_tile *tile);
void ee_qs8_tile_avxvnni(const ee_qs8_tile *tile);
void ee_qs8_tile_avx2(const ee_qs8_tile *tile);
/// AArch64 with the dot product: signed int8 rows (the plain copy; `k` a multiple of 16),
/// weights packed [taps][k/16][4][vectors·4][4] (each 16-byte group of k as four 4-byte
/// groups, each against `vectors` vectors of 4 channels × 4 bytes).
void ee_qs8_tile_neondot(const ee_qs8_tile *tile);

/// `count` int32 accumulators of consecutive columns (column c uses the requantization's
/// entry c) requantized to int8, with AVX-512 / AVX2; used by the element-wise int8 kernels.
void ee_qs8_requantize_avx512(const int32_t *accumulators, size_t count, const ee_requantization *q, int8_t *output);
void ee_qs8_requantize_avx2(const int32_t *accumulators, size_t count, const ee_requantization *q, int8_t *output);

/// The input copy of an int8 convolution: `pixels` rows of `row_length` values (channels, then
/// padding channels of 0x80 / 0) from a channels-last (`channels_last` ≠ 0) or NCHW input;
/// u8 = x + 128 (VNNI) or int16 (vpmaddwd).
void ee_qs8_convert_rows_u8(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, uint8_t *out);
void ee_qs8_convert_rows_s8(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, int8_t *out);
void ee_qs8_convert_rows_i16(const int8_t *x, size_t pixels, size_t channels, size_t row_length, int channels_last, int16_t *out);

/// Image-to-column rows of an int8 convolution with few input channels: for each output pixel,
/// its taps' input values in order (tap, channel), the padding taps (`pixel_index` −1) reading
/// the zero point, then padding values up to `row_length`; u8 = x + 128 or int16.
void ee_qs8_im2col_u8(const int8_t *x, const int32_t *pixel_index, size_t out_pixels, size_t taps, size_t channels, size_t plane,
                      int channels_last, int8_t zero_point, size_t row_length, uint8_t *out);
void ee_qs8_im2col_i16(const int8_t *x, const int32_t *pixel_index, size_t out_pixels, size_t taps, size_t channels, size_t plane,
                       int channels_last, int8_t zero_point, size_t row_length, int16_t *out);

/// The geometry of a one-channel convolution without dilation, for `ee_qs8_im2col_plane_u8`.
/// `plane_height` = (out_height − 1)·stride_height + kernel_height, `plane_width` likewise: every
/// input position a tap reads, padding included.
typedef struct ee_qs8_plane_geometry {
    size_t height, width, pad_top, pad_left, stride_height, stride_width;
    size_t kernel_height, kernel_width, out_height, out_width, plane_height, plane_width;
} ee_qs8_plane_geometry;

/// The zero-point-padded u8 plane (x + 128) of a one-channel input: `plane_height · plane_width`
/// bytes, then `slack` more bytes of padding; shared by the one-channel image-to-column and the
/// pixel-lanes tap planes.
void ee_qs8_padded_plane_u8(const int8_t *x, const ee_qs8_plane_geometry *geometry, int8_t zero_point, size_t slack, uint8_t *plane);

/// `ee_qs8_im2col_u8` for one input channel and no dilation, with the same rows: the plane is
/// first copied (as u8) into `plane` (plane_height · plane_width + 4 bytes), padded with the
/// zero point, and each output pixel's row is `kernel_height` runs of `kernel_width` bytes of
/// it. `out` has room for 4 bytes past the last row (runs of 3 are copied 4 bytes at a time).
void ee_qs8_im2col_plane_u8(const int8_t *x, const ee_qs8_plane_geometry *geometry, int8_t zero_point, size_t row_length,
                            uint8_t *plane, uint8_t *out);

/// The planes of a one-channel convolution with stride 1 and no dilation for the pixel-lanes
/// kernel as a 1×1 convolution: group g holds taps 4g…4g+3 (u8, 0x80 past the last tap) of every
/// output pixel in order (oy·out_width + ox), then 0x80 up to `plane_pixels`. The zero-point-padded
/// plane (u8) is built first in `plane` (plane_height · plane_width bytes).
void ee_qs8_tap_planes_u8_avx512(const int8_t *x, const ee_qs8_plane_geometry *geometry, int8_t zero_point, size_t plane_pixels,
                                 uint8_t *plane, uint8_t *planes);

/// `// x (P, C) -> y (C)`: TFLite's int8 mean over channels-last pixels (sums in int32, rounded
/// half away from zero, clamped).
void ee_qs8_global_average_pool_channels_last(const int8_t *x, size_t channels, size_t pixels, int32_t *sums, int8_t *y);

/// `// x (P, C) -> requantize(x·scale[c] + offset[c]) -> y (P, C)`: int8 batch normalization over
/// channels-last pixels (scale widened to int32; offset = bias − zp·scale, wrapping).
void ee_qs8_batch_norm_channels_last_avx512(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                            const ee_requantization *q, int8_t *y, size_t channels, size_t pixels);
void ee_qs8_batch_norm_channels_last_neon(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                          const ee_requantization *q, int8_t *y, size_t channels, size_t pixels);
void ee_qs8_batch_norm_channels_last_avx2(const int8_t *x, const int32_t *scale, const int32_t *offset,
                                          const ee_requantization *q, int8_t *y, size_t channels, size_t pixels);

/// `// x (P, C) -> clamp((x·slope[c] + offset[c]) >> shift[c], minimum, maximum) -> y (P, C)`: an int8
/// batch normalization in its affine form, each channel's parameters fitted at prepare time so that
/// all 256 inputs give the reference kernel's outputs (the caller checked that every x·slope and
/// x·slope + offset stays within int32).
void ee_qs8_batch_norm_affine_avx512(const int8_t *x, const int32_t *slope, const int32_t *offset, const int32_t *shift,
                                     int32_t minimum, int32_t maximum, int8_t *y, size_t channels, size_t pixels);
void ee_qs8_batch_norm_affine_avx2(const int8_t *x, const int32_t *slope, const int32_t *offset, const int32_t *shift,
                                   int32_t minimum, int32_t maximum, int8_t *y, size_t channels, size_t pixels);

/// TFLite's int8 add (double rounding throughout): each input's (x − zp) << left_shift rescaled
/// with its multiplier and shift, the sum (wrapping int32) requantized with the output's.
typedef struct {
    int32_t left_shift;                        // 0…22
    int32_t zero_point_a, multiplier_a, shift_a;
    int32_t zero_point_b, multiplier_b, shift_b;
    int32_t multiplier_out, shift_out, zero_point_out;
    int32_t minimum, maximum;
} ee_qs8_add_parameters;

int8_t ee_qs8_add_scalar(int8_t a, int8_t b, const ee_qs8_add_parameters *p);
void ee_qs8_add_avx512(const int8_t *a, const int8_t *b, const ee_qs8_add_parameters *p, int8_t *y, size_t count);
void ee_qs8_add_avx2(const int8_t *a, const int8_t *b, const ee_qs8_add_parameters *p, int8_t *y, size_t count);

/// An int8 add whose every output is clamp((a·p + b·q + r) >> shift, minimum, maximum) of the two
/// raw inputs, with every a·p + b·q + r within int32 (fitted and checked for all 65,536 input
/// pairs at prepare time: ElementwiseBinary.AffineAdd).
typedef struct {
    int32_t p, q, r, shift; // shift 0…30
    int32_t minimum, maximum;
} ee_qs8_add_affine;

void ee_qs8_add_affine_avx512(const int8_t *a, const int8_t *b, const ee_qs8_add_affine *f, int8_t *y, size_t count);
void ee_qs8_add_affine_avx2(const int8_t *a, const int8_t *b, const ee_qs8_add_affine *f, int8_t *y, size_t count);

/// The int8 attention pooling of Int8Kernels.attentionPooling for one matrix: `a` (m, k) softmax
/// logits, `v` (k, n), `c` (m, n); `q` is the matmul's scalar requantization (entry 0).
/// `isa`: 0 portable C, 1 AVX2, 2 AVX-512 (column sums in vectors; the caller ensures
/// k · 4096 · 255 < 2^31 for 1 and 2). Scratch: `exponentials` (k), `sums` (n).
void ee_qs8_attention_pooling(int isa, const int8_t *a, const int32_t *table, int32_t inverse_output_scale, const int8_t *v,
                              int32_t zero_point_v, size_t m, size_t k, size_t n, const ee_requantization *q, int8_t *c,
                              int32_t *exponentials, int64_t *sums);

/// The scalar requantization of one accumulator with column entry `c` (the reference the SIMD
/// forms match; used for tails and single rounding).
int8_t ee_qs8_requantize_scalar(int32_t accumulator, const ee_requantization *q, size_t c);

#ifdef __cplusplus
}
#endif

#endif
