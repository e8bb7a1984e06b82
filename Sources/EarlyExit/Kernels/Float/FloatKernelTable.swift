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
@_silgen_name("earlyexit_avx2_softmax_rows") func avx2SoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int)
@_silgen_name("earlyexit_avx2_matmul_rows")
func avx2MatmulRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ k: Int, _ n: Int)
@_silgen_name("earlyexit_avx2_pointwise_few_outputs")
func avx2PointwiseFewOutputs(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                           _ y: UnsafeMutablePointer<Float>, _ pixels: Int, _ channelsIn: Int, _ channelsOut: Int,
                           _ channelsLastOutput: Bool, _ relu: Bool)
@_silgen_name("earlyexit_avx512_softmax_rows") func avx512SoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int)
@_silgen_name("earlyexit_avx512_matmul_rows")
func avx512MatmulRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ k: Int, _ n: Int)
@_silgen_name("earlyexit_avx512_pointwise_few_outputs")
func avx512PointwiseFewOutputs(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                           _ y: UnsafeMutablePointer<Float>, _ pixels: Int, _ channelsIn: Int, _ channelsOut: Int,
                           _ channelsLastOutput: Bool, _ relu: Bool)
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
    @inline(__always)
    static func maximum(_ a: Vector, _ b: Vector) -> Vector { a.replacing(with: b, where: a .< b) }
    @inline(__always)
    static func sum(_ v: Vector) -> Float { let q = v.lowHalf + v.highHalf; return q[0] + q[1] }
    @inline(__always)
    static func pairSums(_ a: Vector, _ b: Vector) -> Vector {
        Vector(lowHalf: a.evenHalf + a.oddHalf, highHalf: b.evenHalf + b.oddHalf)
    }
    typealias Bits = SIMD4<Int32>
    @inline(__always)
    static func bits(_ v: Vector) -> Bits { unsafeBitCast(v, to: Bits.self) }
    @inline(__always)
    static func float(_ b: Bits) -> Vector { unsafeBitCast(b, to: Vector.self) }
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

    static func softmaxRows(_ path: KernelSet.Float32Path, _ x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512SoftmaxRows(x, y, rows, n)
        case .avx2: avx2SoftmaxRows(x, y, rows, n)
        #endif
        default: EarlyExitKernels.softmaxRows(PortableArithmetic.self, x, y: y, rows: rows, n: n)
        }
    }

    static func matmulRows(_ path: KernelSet.Float32Path, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, m: Int, k: Int, n: Int) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512MatmulRows(a, b, c, m, k, n)
        case .avx2: avx2MatmulRows(a, b, c, m, k, n)
        #endif
        default: EarlyExitKernels.matmulRows(PortableArithmetic.self, a, b, c: c, m: m, k: k, n: n)
        }
    }

    static func pointwiseFewOutputs(_ path: KernelSet.Float32Path, _ x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                                    bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, pixels: Int, channelsIn: Int,
                                    channelsOut: Int, channelsLastOutput: Bool, relu: Bool) {
        switch path {
        #if arch(x86_64)
        case .avx512: avx512PointwiseFewOutputs(x, weights, bias, y, pixels, channelsIn, channelsOut, channelsLastOutput, relu)
        case .avx2: avx2PointwiseFewOutputs(x, weights, bias, y, pixels, channelsIn, channelsOut, channelsLastOutput, relu)
        #endif
        default:
            EarlyExitKernels.pointwiseFewOutputs(PortableArithmetic.self, x, weights: weights, bias: bias, y: y, pixels: pixels,
                                                 channelsIn: channelsIn, channelsOut: channelsOut,
                                                 channelsLastOutput: channelsLastOutput, relu: relu)
        }
    }
}
