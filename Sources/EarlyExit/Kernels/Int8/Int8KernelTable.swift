// The native int8 kernel entry points (Kernels/Native, C), dispatched on the model's kernel set.

import EarlyExitNativeKernels

/// One switch per native int8 kernel over the int8 path of a `KernelSet`. Each function is
/// called only for a path that has it (`hasNativeKernels`); elsewhere the Swift reference
/// kernels of `Int8Kernels` run.
enum Int8KernelTable {
    /// True when the path has the C kernels (x86-64 AVX2 and up).
    static func hasNativeKernels(_ path: KernelSet.Int8Path) -> Bool {
        #if arch(x86_64)
        switch path {
        case .avx512VNNI, .avxVNNI, .avx2: return true
        default: return false
        }
        #else
        return false
        #endif
    }

    static func tile(_ path: KernelSet.Int8Path, _ tile: inout ee_qs8_tile) {
        #if arch(x86_64)
        switch path {
        case .avx512VNNI: ee_qs8_tile_avx512vnni(&tile)
        case .avxVNNI: ee_qs8_tile_avxvnni(&tile)
        case .avx2: ee_qs8_tile_avx2(&tile)
        default: break
        }
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
