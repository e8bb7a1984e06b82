// The vector arithmetic every float32 kernel body is generic over, and the tile it works on.
//
// This module holds kernel BODIES only: `@inlinable` generic code with no entry points of its
// own. Each instruction set gets a thin module that instantiates the bodies with its vector
// type and multiply-add and is compiled for that instruction set (Kernels/AVX2 with
// `-target-cpu haswell`, Kernels/AVX512 with `-target-cpu skylake-avx512`); the portable
// instantiation (SSE2 on x86-64, NEON on arm64) lives in the core. docs/KERNELS.md explains
// how the builds compile one source for several instruction sets.

/// A SIMD vector of floats and its multiply-add, as one instruction set provides them.
public protocol FloatArithmetic {
    associatedtype Vector: SIMD where Vector.Scalar == Float
    /// `c + a·b`: one fused instruction where the instruction set has FMA, `mul` + `add` where
    /// it has not (baseline x86-64, where a fused multiply-add would be a libm call per lane).
    static func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector
    /// The instruction set's vector register count (16 or 32): chooses the tile shapes.
    static var registerCount: Int { get }
    /// max(v, 0) lane by lane. Each instruction set implements it on its concrete vector type
    /// with integer lane operations (clear the lanes whose sign bit is set: `psrad` + `pandn`),
    /// which always inline; the standard library's generic `pointwiseMax` was emitted out of
    /// line inside the kernels (20% of the run, measured with perf).
    static func relu(_ v: Vector) -> Vector
    /// The larger of `a` and `b` lane by lane, `a` where either is NaN (as the scalar
    /// `max(a, b)` the kernels used before keeps its running value): a compare and a blend.
    static func maximum(_ a: Vector, _ b: Vector) -> Vector
    /// The sum of the lanes, as a reduction tree of halves (a generic `sum()` adds the lanes
    /// one after another).
    static func sum(_ v: Vector) -> Float
    /// Adjacent lanes summed: the low half of the result holds `a`'s pair sums, the high half
    /// `b`'s (`a[0]+a[1], a[2]+a[3], …, b[0]+b[1], …`). log2(V) rounds of it reduce V vectors to
    /// one vector of their lane sums, in order: a transposing reduction.
    static func pairSums(_ a: Vector, _ b: Vector) -> Vector
    /// The vector of Int32 lanes with the same bits, for bit-level arithmetic (`exp`).
    associatedtype Bits: SIMD where Bits.Scalar == Int32
    static func bits(_ v: Vector) -> Bits
    static func float(_ b: Bits) -> Vector
}

/// One microkernel call: `rows` pointers per tap, times a block of packed weight columns.
public struct GEMMTile {
    /// `[taps][rows]` pointers to each row's `k` inputs for each tap.
    public var rows: UnsafePointer<UnsafePointer<Float>>
    public var taps: Int
    /// Inputs per row per tap (input channels).
    public var k: Int
    /// `[taps·k][vectors·V]` packed weights of this column block.
    public var weights: UnsafePointer<Float>
    /// `[vectors·V]` bias of this column block (zero-padded), or nil.
    public var bias: UnsafePointer<Float>?
    /// Row 0, column 0 of the block's output; rows `outputStride` floats apart.
    public var output: UnsafeMutablePointer<Float>
    public var outputStride: Int
    /// Added to the output before ReLU (a fused residual), same layout as `output`, or nil.
    public var residual: UnsafePointer<Float>?
    public var residualStride: Int
    /// Rows and columns to store (the rest of the tile is computed on duplicated rows and
    /// zero-padded weights, and dropped).
    public var rowCount: Int
    public var columnCount: Int
    public var relu: Bool

    @inlinable
    public init(rows: UnsafePointer<UnsafePointer<Float>>, taps: Int, k: Int, weights: UnsafePointer<Float>,
                bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, outputStride: Int,
                residual: UnsafePointer<Float>?, residualStride: Int, rowCount: Int, columnCount: Int, relu: Bool) {
        self.rows = rows
        self.taps = taps
        self.k = k
        self.weights = weights
        self.bias = bias
        self.output = output
        self.outputStride = outputStride
        self.residual = residual
        self.residualStride = residualStride
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.relu = relu
    }
}

@inlinable @inline(__always)
func loadVector<V: SIMD>(_ pointer: UnsafePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
}

@inlinable @inline(__always)
func loadVector<V: SIMD>(_ pointer: UnsafeMutablePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
}

@inlinable @inline(__always)
func store<V: SIMD>(_ value: V, _ pointer: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: V.self)
}

/// Stores `lanes` (≤ V) values of one accumulator vector, with the residual and ReLU applied.
@inlinable @inline(__always)
func storeVector<A: FloatArithmetic>(_: A.Type, _ value: A.Vector, _ out: UnsafeMutablePointer<Float>,
                                     residual: UnsafePointer<Float>?, relu applyRelu: Bool, lanes: Int) {
    let w = A.Vector.scalarCount
    if lanes >= w {
        var v = value
        if let residual { v += loadVector(residual) }
        if applyRelu { v = A.relu(v) }
        store(v, out)
    } else if lanes > 0 {
        for lane in 0..<lanes {
            var s = value[lane]
            if let residual { s += residual[lane] }
            out[lane] = applyRelu ? max(s, 0) : s
        }
    }
}
