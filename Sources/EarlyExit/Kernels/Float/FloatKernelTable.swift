// The float32 kernel entry points, dispatched on the model's kernel set.

import EarlyExitKernels

#if arch(x86_64)
// The per-ISA entry points, declared by symbol (Kernels/AVX2, Kernels/AVX512): the core never
// imports those modules, so it can neither inline nor re-specialize their code for its own,
// baseline, instruction set. Their parameter types come from EarlyExitKernels.
@_silgen_name("earlyexit_avx2_gemm") func avx2GEMM(_ job: FloatGEMMJob)
@_silgen_name("earlyexit_avx2_winograd") func avx2Winograd(_ job: WinogradJob)
@_silgen_name("earlyexit_avx2_batch_norm_channels_last")
func avx2BatchNormChannelsLast(_ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>,
                               _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int, _ relu: Bool)
@_silgen_name("earlyexit_avx2_elementwise")
func avx2Elementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                     _ multiply: Bool, _ relu: Bool)
@_silgen_name("earlyexit_avx2_relu") func avx2Relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int)
@_silgen_name("earlyexit_avx2_global_average_pool_channels_last")
func avx2GlobalAveragePoolChannelsLast(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int)

@_silgen_name("earlyexit_avx512_gemm") func avx512GEMM(_ job: FloatGEMMJob)
@_silgen_name("earlyexit_avx512_winograd") func avx512Winograd(_ job: WinogradJob)
@_silgen_name("earlyexit_avx512_batch_norm_channels_last")
func avx512BatchNormChannelsLast(_ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>,
                                 _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int, _ relu: Bool)
@_silgen_name("earlyexit_avx512_elementwise")
func avx512Elementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                       _ multiply: Bool, _ relu: Bool)
@_silgen_name("earlyexit_avx512_relu") func avx512Relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int)
@_silgen_name("earlyexit_avx512_global_average_pool_channels_last")
func avx512GlobalAveragePoolChannelsLast(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int)
#endif

/// The portable float32 arithmetic: 4-float vectors; fused multiply-add on arm64 (NEON
/// `fmla`), `mulps` + `addps` on baseline x86-64 (where a fused one is a libm call per lane).
enum PortableArithmetic: FloatArithmetic {
    typealias Vector = SIMD4<Float>
    @inline(__always)
    static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
        #if arch(arm64) || EARLYEXIT_FMA
        return c.addingProduct(a, b)
        #else
        return c + a * b
        #endif
    }
    @inline(__always)
    static func relu(_ v: Vector) -> Vector {
        let bits = unsafeBitCast(v, to: SIMD4<Int32>.self)
        return unsafeBitCast(bits & ~(bits &>> 31), to: Vector.self)
    }
    static var registerCount: Int {
        #if arch(arm64)
        return 32
        #else
        return 16
        #endif
    }
}

/// One switch per kernel over the float32 path of a `KernelSet`.
enum FloatKernelTable {
    /// Floats per vector on a path (the packing width).
    static func vectorWidth(_ path: KernelSet.Float32Path) -> Int {
        switch path {
        case .portable: return 4
        case .avx2: return 8
        case .avx512: return 16
        }
    }

    static func registerCount(_ path: KernelSet.Float32Path) -> Int {
        switch path {
        case .portable: return PortableArithmetic.registerCount
        case .avx2: return 16
        case .avx512: return 32
        }
    }

    static func blocking(columns: Int, _ path: KernelSet.Float32Path) -> ColumnBlocking {
        ColumnBlocking(columns: columns, vectorWidth: vectorWidth(path), registerCount: registerCount(path))
    }

    static func gemm(_ path: KernelSet.Float32Path, _ job: FloatGEMMJob) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512GEMM(job)
        case .avx2: avx2GEMM(job)
        #endif
        default: EarlyExitKernels.gemm(PortableArithmetic.self, job)
        }
    }

    static func winograd(_ path: KernelSet.Float32Path, _ job: WinogradJob) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512Winograd(job)
        case .avx2: avx2Winograd(job)
        #endif
        default: EarlyExitKernels.winograd(PortableArithmetic.self, job)
        }
    }

    static func batchNormChannelsLast(_ path: KernelSet.Float32Path, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                      shift: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, channels: Int, pixels: Int, relu: Bool) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512BatchNormChannelsLast(x, scale, shift, y, channels, pixels, relu)
        case .avx2: avx2BatchNormChannelsLast(x, scale, shift, y, channels, pixels, relu)
        #endif
        default:
            EarlyExitKernels.batchNormChannelsLast(PortableArithmetic.self, x, scale: scale, shift: shift, y: y, channels: channels,
                                                   pixels: pixels, relu: relu)
        }
    }

    static func elementwise(_ path: KernelSet.Float32Path, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            y: UnsafeMutablePointer<Float>, count: Int, multiply: Bool, relu: Bool) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512Elementwise(a, b, y, count, multiply, relu)
        case .avx2: avx2Elementwise(a, b, y, count, multiply, relu)
        #endif
        default: EarlyExitKernels.elementwise(PortableArithmetic.self, a, b, y: y, count: count, multiply: multiply, relu: relu)
        }
    }

    static func relu(_ path: KernelSet.Float32Path, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512Relu(x, y, count)
        case .avx2: avx2Relu(x, y, count)
        #endif
        default: EarlyExitKernels.reluVectors(PortableArithmetic.self, x, y: y, count: count)
        }
    }

    static func globalAveragePoolChannelsLast(_ path: KernelSet.Float32Path, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                              channels: Int, pixels: Int) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512GlobalAveragePoolChannelsLast(x, y, channels, pixels)
        case .avx2: avx2GlobalAveragePoolChannelsLast(x, y, channels, pixels)
        #endif
        default: EarlyExitKernels.globalAveragePoolChannelsLast(PortableArithmetic.self, x, y: y, channels: channels, pixels: pixels)
        }
    }
}
