// The float32 kernel bodies instantiated for AVX2 + FMA: 8-float ymm vectors, 16 registers.
// This module is compiled with `-target-cpu haswell` (Package.swift, scripts/build-static-lib.sh);
// the core calls it only when KernelSet selected AVX2 on a CPU that has it.

#if arch(x86_64)
import EarlyExitKernels

/// AVX2 + FMA: 8-float ymm vectors, 16 registers; fused multiply-add.
public enum AVX2Arithmetic: FloatArithmetic {
    public typealias Vector = SIMD8<Float>
    @inline(__always)
    public static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector { c.addingProduct(a, b) }
    @inline(__always)
    public static func relu(_ v: Vector) -> Vector {
        let bits = unsafeBitCast(v, to: SIMD8<Int32>.self)
        return unsafeBitCast(bits & ~(bits &>> 31), to: Vector.self)
    }
    @inline(__always)
    public static func maximum(_ a: Vector, _ b: Vector) -> Vector { a.replacing(with: b, where: a .< b) }
    @inline(__always)
    public static func sum(_ v: Vector) -> Float { let h = v.lowHalf + v.highHalf; let q = h.lowHalf + h.highHalf; return q[0] + q[1] }
    @inline(__always)
    public static func pairSums(_ a: Vector, _ b: Vector) -> Vector {
        Vector(lowHalf: a.evenHalf + a.oddHalf, highHalf: b.evenHalf + b.oddHalf)
    }
    public typealias Bits = SIMD8<Int32>
    @inline(__always)
    public static func bits(_ v: Vector) -> Bits { unsafeBitCast(v, to: Bits.self) }
    @inline(__always)
    public static func float(_ b: Bits) -> Vector { unsafeBitCast(b, to: Vector.self) }
    public static var registerCount: Int { 16 }
}

/// The AVX2 entry points of the float32 kernels (see Kernels/Generic for what each does).
///
/// Each has a fixed symbol name, and the core declares it by that name (FloatKernelTable)
/// instead of importing this module: a client that sees this module's bodies (as Embedded Swift
/// builds always do) would otherwise inline them and compile them for its own, baseline, CPU.

@_silgen_name("earlyexit_avx2_gemm")
public func avx2GEMM(_ job: FloatGEMMJob) { gemm(AVX2Arithmetic.self, job) }

@_silgen_name("earlyexit_avx2_winograd")
public func avx2Winograd(_ job: WinogradJob) { winograd(AVX2Arithmetic.self, job) }

@_silgen_name("earlyexit_avx2_batch_norm_channels_last")
public func avx2BatchNormChannelsLast(_ x: UnsafePointer<Float>, _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int, _ relu: Bool) {
    batchNormChannelsLast(AVX2Arithmetic.self, x, scale: scale, shift: shift, y: y, channels: channels, pixels: pixels, relu: relu)
}

@_silgen_name("earlyexit_avx2_elementwise")
public func avx2Elementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                              _ multiply: Bool, _ relu: Bool) {
    elementwise(AVX2Arithmetic.self, a, b, y: y, count: count, multiply: multiply, relu: relu)
}

@_silgen_name("earlyexit_avx2_relu")
public func avx2Relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    reluVectors(AVX2Arithmetic.self, x, y: y, count: count)
}

@_silgen_name("earlyexit_avx2_global_average_pool_channels_last")
public func avx2GlobalAveragePoolChannelsLast(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ channels: Int, _ pixels: Int) {
    globalAveragePoolChannelsLast(AVX2Arithmetic.self, x, y: y, channels: channels, pixels: pixels)
}
@_silgen_name("earlyexit_avx2_softmax_rows")
public func avx2SoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int) {
    softmaxRows(AVX2Arithmetic.self, x, y: y, rows: rows, n: n)
}

@_silgen_name("earlyexit_avx2_matmul_rows")
public func avx2MatmulRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ k: Int, _ n: Int) {
    matmulRows(AVX2Arithmetic.self, a, b, c: c, m: m, k: k, n: n)
}

@_silgen_name("earlyexit_avx2_pointwise_few_outputs")
public func avx2PointwiseFewOutputs(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                      _ y: UnsafeMutablePointer<Float>, _ pixels: Int, _ channelsIn: Int, _ channelsOut: Int,
                                      _ channelsLastOutput: Bool, _ relu: Bool) {
    pointwiseFewOutputs(AVX2Arithmetic.self, x, weights: weights, bias: bias, y: y, pixels: pixels, channelsIn: channelsIn,
                        channelsOut: channelsOut, channelsLastOutput: channelsLastOutput, relu: relu)
}
#endif
