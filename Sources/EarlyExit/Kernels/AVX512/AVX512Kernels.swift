// The float32 kernel bodies instantiated for AVX-512F: 16-float zmm vectors, 32 registers.
// This module is compiled with `-target-cpu skylake-avx512` (Package.swift, scripts/build-static-lib.sh);
// the core calls it only when KernelSet selected AVX512 on a CPU that has it.

#if arch(x86_64)
import EarlyExitKernels

/// AVX-512F: 16-float zmm vectors, 32 registers; fused multiply-add.
public enum AVX512Arithmetic: FloatArithmetic {
    public typealias Vector = SIMD16<Float>
    @inline(__always)
    public static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector { c.addingProduct(a, b) }
    @inline(__always)
    public static func relu(_ v: Vector) -> Vector {
        let bits = unsafeBitCast(v, to: SIMD16<Int32>.self)
        return unsafeBitCast(bits & ~(bits &>> 31), to: Vector.self)
    }
    @inline(__always)
    public static func maximum(_ a: Vector, _ b: Vector) -> Vector { a.replacing(with: b, where: a .< b) }
    @inline(__always)
    public static func sum(_ v: Vector) -> Float { let e = v.lowHalf + v.highHalf; let h = e.lowHalf + e.highHalf; let q = h.lowHalf + h.highHalf; return q[0] + q[1] }
    @inline(__always)
    public static func pairSums(_ a: Vector, _ b: Vector) -> Vector {
        Vector(lowHalf: a.evenHalf + a.oddHalf, highHalf: b.evenHalf + b.oddHalf)
    }
    public typealias Bits = SIMD16<Int32>
    @inline(__always)
    public static func bits(_ v: Vector) -> Bits { unsafeBitCast(v, to: Bits.self) }
    @inline(__always)
    public static func float(_ b: Bits) -> Vector { unsafeBitCast(b, to: Vector.self) }
    public static var registerCount: Int { 32 }
}

/// The AVX512 entry points of the float32 kernels (see Kernels/Generic for what each does).
///
/// Each has a fixed symbol name, and the core declares it by that name (FloatKernelTable)
/// instead of importing this module: a client that sees this module's bodies (as Embedded Swift
/// builds always do) would otherwise inline them and compile them for its own, baseline, CPU.

@_silgen_name("earlyexit_avx512_gemm")
public func avx512GEMM(_ job: FloatGEMMJob) { gemm(AVX512Arithmetic.self, job) }

@_silgen_name("earlyexit_avx512_winograd")
public func avx512Winograd(_ job: WinogradJob) { winograd(AVX512Arithmetic.self, job) }

@_silgen_name("earlyexit_avx512_batch_norm_channels_last")
public func avx512BatchNormChannelsLast(_ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int, _ relu: Bool) {
    batchNormChannelsLast(AVX512Arithmetic.self, x, scale: scale, shift: shift, y: y, channels: channels, pixels: pixels, relu: relu)
}

@_silgen_name("earlyexit_avx512_elementwise")
public func avx512Elementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                              _ multiply: Bool, _ relu: Bool) {
    elementwise(AVX512Arithmetic.self, a, b, y: y, count: count, multiply: multiply, relu: relu)
}

@_silgen_name("earlyexit_avx512_relu")
public func avx512Relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    reluVectors(AVX512Arithmetic.self, x, y: y, count: count)
}

@_silgen_name("earlyexit_avx512_global_average_pool_channels_last")
public func avx512GlobalAveragePoolChannelsLast(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int) {
    globalAveragePoolChannelsLast(AVX512Arithmetic.self, x, y: y, channels: channels, pixels: pixels)
}
@_silgen_name("earlyexit_avx512_softmax_rows")
public func avx512SoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int) {
    softmaxRows(AVX512Arithmetic.self, x, y: y, rows: rows, n: n)
}

@_silgen_name("earlyexit_avx512_matmul_rows")
public func avx512MatmulRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ k: Int, _ n: Int) {
    matmulRows(AVX512Arithmetic.self, a, b, c: c, m: m, k: k, n: n)
}

@_silgen_name("earlyexit_avx512_pointwise_few_outputs")
public func avx512PointwiseFewOutputs(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                      _ y: UnsafeMutablePointer<Float>, _ pixels: Int, _ channelsIn: Int, _ channelsOut: Int,
                                      _ channelsLastOutput: Bool, _ relu: Bool) {
    pointwiseFewOutputs(AVX512Arithmetic.self, x, weights: weights, bias: bias, y: y, pixels: pixels, channelsIn: channelsIn,
                        channelsOut: channelsOut, channelsLastOutput: channelsLastOutput, relu: relu)
}
#endif
