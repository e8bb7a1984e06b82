// The native int8 kernel entry points (Kernels/Native, C), dispatched on the model's kernel set.

import EarlyExitNativeKernels

/// One switch per native int8 kernel over the int8 path of a `KernelSet`. Each function is
/// called only for a path that has it (the `has…` queries); elsewhere the Swift reference
/// kernels of `Int8Kernels` run.
enum Int8KernelTable {
    /// True when the path has the native convolution tiles (and so int8 maps are channels-last):
    /// x86-64 AVX2 and up, AArch64 with the dot product.
    static func hasNativeKernels(_ path: KernelSet.Int8Path) -> Bool {
        #if arch(x86_64)
        switch path {
        case .avx512VNNI, .avxVNNI, .avx2: return true
        default: return false
        }
        #elseif arch(arm64)
        return path == .neonDotProduct
        #else
        return false
        #endif
    }

    /// True when the path has the C int8 add and attention pooling (x86-64 AVX2 and up).
    static func hasNativeElementwise(_ path: KernelSet.Int8Path) -> Bool {
        #if arch(x86_64)
        return hasNativeKernels(path)
        #else
        return false
        #endif
    }

    /// The input copy the path's convolution tiles read: 0 u8 (x + 128, VNNI), 1 int16
    /// (vpmaddwd), 2 int8 as is (sdot); and the group of k values one instruction takes.
    static func inputForm(_ path: KernelSet.Int8Path) -> (form: Int, group: Int, rowMultiple: Int) {
        switch path {
        case .avx2: return (1, 2, 2)
        case .neonDotProduct: return (2, 4, 16)
        default: return (0, 4, 4)
        }
    }

    /// Lanes per column vector and vector registers of the path's tiles.
    static func tileShape(_ path: KernelSet.Int8Path) -> (lanes: Int, registers: Int) {
        switch path {
        case .avx512VNNI: return (16, 32)
        case .neonDotProduct: return (4, 32)
        default: return (8, 16)
        }
    }

    static func tile(_ path: KernelSet.Int8Path, _ tile: inout ee_qs8_tile) {
        #if arch(x86_64)
        switch path {
        case .avx512VNNI: ee_qs8_tile_avx512vnni(&tile)
        case .avxVNNI: ee_qs8_tile_avxvnni(&tile)
        case .avx2: ee_qs8_tile_avx2(&tile)
        default: break
        }
        #elseif arch(arm64)
        if path == .neonDotProduct { ee_qs8_tile_neondot(&tile) }
        #endif
    }

    /// The pixel-lanes convolution (`Int8Convolution.PixelLanes`): AVX-512 VNNI only.
    static func pixelConvolution(_ path: KernelSet.Int8Path, _ conv: inout ee_qs8_pixel_conv) {
        #if arch(x86_64)
        if path == .avx512VNNI { ee_qs8_pixel_conv_avx512vnni(&conv) }
        #endif
    }

    static func batchNormChannelsLast(_ path: KernelSet.Int8Path, _ x: UnsafePointer<Int8>, scale: UnsafePointer<Int32>,
                                      offset: UnsafePointer<Int32>, requantization q: inout ee_requantization,
                                      y: UnsafeMutablePointer<Int8>, channels: Int, pixels: Int) {
        #if arch(x86_64)
        if path == .avx512VNNI {
            ee_qs8_batch_norm_channels_last_avx512(x, scale, offset, &q, y, channels, pixels)
        } else {
            ee_qs8_batch_norm_channels_last_avx2(x, scale, offset, &q, y, channels, pixels)
        }
        #elseif arch(arm64)
        ee_qs8_batch_norm_channels_last_neon(x, scale, offset, &q, y, channels, pixels)
        #endif
    }

    /// Whether the path runs `batchNormAffine` (x86 native kernels).
    static func hasAffineBatchNorm(_ path: KernelSet.Int8Path) -> Bool {
        #if arch(x86_64)
        return hasNativeKernels(path)
        #else
        return false
        #endif
    }

    static func batchNormAffine(_ path: KernelSet.Int8Path, _ x: UnsafePointer<Int8>, _ form: BatchNorm.AffineForm,
                                y: UnsafeMutablePointer<Int8>, channels: Int, pixels: Int) {
        #if arch(x86_64)
        if path == .avx512VNNI {
            ee_qs8_batch_norm_affine_avx512(x, form.slope, form.offset, form.shift, form.minimum, form.maximum, y, channels, pixels)
        } else {
            ee_qs8_batch_norm_affine_avx2(x, form.slope, form.offset, form.shift, form.minimum, form.maximum, y, channels, pixels)
        }
        #endif
    }

    static func add(_ path: KernelSet.Int8Path, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                    parameters: inout ee_qs8_add_parameters, y: UnsafeMutablePointer<Int8>, count: Int) {
        #if arch(x86_64)
        if path == .avx512VNNI {
            ee_qs8_add_avx512(a, b, &parameters, y, count)
        } else {
            ee_qs8_add_avx2(a, b, &parameters, y, count)
        }
        #endif
    }

    /// The fitted int8 add (`ElementwiseBinary.AffineAdd`); x86 paths with native kernels only.
    static func addAffine(_ path: KernelSet.Int8Path, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                          form: inout ee_qs8_add_affine, y: UnsafeMutablePointer<Int8>, count: Int) {
        #if arch(x86_64)
        if path == .avx512VNNI {
            ee_qs8_add_affine_avx512(a, b, &form, y, count)
        } else {
            ee_qs8_add_affine_avx2(a, b, &form, y, count)
        }
        #endif
    }

    /// The vector width code `ee_qs8_attention_pooling` takes: 2 AVX-512, 1 AVX2, 0 plain C.
    static func poolingISA(_ path: KernelSet.Int8Path) -> Int32 {
        #if arch(x86_64)
        switch path {
        case .avx512VNNI: return 2
        case .avxVNNI, .avx2: return 1
        default: return 0
        }
        #else
        return 0
        #endif
    }
}
