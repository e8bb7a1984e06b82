// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions over channels-last maps: 16 multiplies
// per 2×2 output tile and channel pair instead of 36 (Lavin & Gray, 2016).
//
//   V = Bᵀ d B (4×4 input tile d),  M = U ⊙ V summed over input channels (16 GEMMs),
//   Y = Aᵀ M A (2×2 outputs), with U = G g Gᵀ prepared once per filter g:
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1].

/// One Winograd convolution: the input and output maps, the transformed weights, and the
/// scratch for the transformed inputs and the 16 products.
public struct WinogradJob {
    /// Channels-last `[H][W][Cin]` input.
    public var input: UnsafePointer<Float>
    public var height: Int, width: Int, channelsIn: Int
    public var padTop: Int, padLeft: Int
    public var heightOut: Int, widthOut: Int, channelsOut: Int
    /// `[16][Cin × packed Cout]`: U for each of the 16 positions, packed for the GEMM.
    public var weights: UnsafePointer<Float>
    /// Zero-padded bias `[packed Cout]`, or nil.
    public var bias: UnsafePointer<Float>?
    /// Channels-last `[Ho][Wo][Cout]` output, or NCHW `[Cout][Ho·Wo]` with `transposedOutput`.
    public var output: UnsafeMutablePointer<Float>
    public var transposedOutput: Bool
    /// Channels-last residual added before ReLU, or nil.
    public var residual: UnsafePointer<Float>?
    public var relu: Bool
    /// Scratch: `[16][blockTiles][Cin]` transformed inputs and `[16][blockTiles][packed Cout]` products.
    public var transformed: UnsafeMutablePointer<Float>
    public var products: UnsafeMutablePointer<Float>
    /// Scratch for the GEMM stage's row pointers (12 entries).
    public var pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    public var zeroRow: UnsafePointer<Float>
    /// Tiles per block (the microkernel's row count): each block passes through all three
    /// stages before the next, with scratch for one block (`winogradBlockedScratchFloats`).
    public var blockTiles: Int

    @inlinable
    public init(input: UnsafePointer<Float>, height: Int, width: Int, channelsIn: Int, padTop: Int, padLeft: Int,
                heightOut: Int, widthOut: Int, channelsOut: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                output: UnsafeMutablePointer<Float>, transposedOutput: Bool, residual: UnsafePointer<Float>?, relu: Bool,
                transformed: UnsafeMutablePointer<Float>, products: UnsafeMutablePointer<Float>,
                pointers: UnsafeMutablePointer<UnsafePointer<Float>>, zeroRow: UnsafePointer<Float>, blockTiles: Int) {
        self.input = input
        self.height = height
        self.width = width
        self.channelsIn = channelsIn
        self.padTop = padTop
        self.padLeft = padLeft
        self.heightOut = heightOut
        self.widthOut = widthOut
        self.channelsOut = channelsOut
        self.weights = weights
        self.bias = bias
        self.output = output
        self.transposedOutput = transposedOutput
        self.residual = residual
        self.relu = relu
        self.transformed = transformed
        self.products = products
        self.pointers = pointers
        self.zeroRow = zeroRow
        self.blockTiles = blockTiles
    }

    @inlinable public var tilesHigh: Int { (heightOut + 1) / 2 }
    @inlinable public var tilesWide: Int { (widthOut + 1) / 2 }
    @inlinable public var tiles: Int { tilesHigh * tilesWide }

}

/// The 4×4 input transform Bᵀ d B of one vector of channels; `d` is row-major.
@inlinable @inline(__always)
func winogradInputTransform<V: SIMD>(_ d: inout (V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V)) where V.Scalar == Float {
    // Rows: Bᵀ d.
    let r00 = d.0 - d.8, r01 = d.1 - d.9, r02 = d.2 - d.10, r03 = d.3 - d.11
    let r10 = d.4 + d.8, r11 = d.5 + d.9, r12 = d.6 + d.10, r13 = d.7 + d.11
    let r20 = d.8 - d.4, r21 = d.9 - d.5, r22 = d.10 - d.6, r23 = d.11 - d.7
    let r30 = d.4 - d.12, r31 = d.5 - d.13, r32 = d.6 - d.14, r33 = d.7 - d.15
    // Columns: (Bᵀ d) B.
    d = (r00 - r02, r01 + r02, r02 - r01, r01 - r03,
         r10 - r12, r11 + r12, r12 - r11, r11 - r13,
         r20 - r22, r21 + r22, r22 - r21, r21 - r23,
         r30 - r32, r31 + r32, r32 - r31, r31 - r33)
}

/// Stores the 16 transformed vectors of one tile and channel vector, `stride` floats apart.
@inlinable @inline(__always)
func winogradStore16<V: SIMD>(_ d: (V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V), _ out: UnsafeMutablePointer<Float>,
                              _ stride: Int) where V.Scalar == Float {
    store(d.0, out); store(d.1, out + stride); store(d.2, out + 2 &* stride); store(d.3, out + 3 &* stride)
    store(d.4, out + 4 &* stride); store(d.5, out + 5 &* stride); store(d.6, out + 6 &* stride); store(d.7, out + 7 &* stride)
    store(d.8, out + 8 &* stride); store(d.9, out + 9 &* stride); store(d.10, out + 10 &* stride); store(d.11, out + 11 &* stride)
    store(d.12, out + 12 &* stride); store(d.13, out + 13 &* stride); store(d.14, out + 14 &* stride)
    store(d.15, out + 15 &* stride)
}

/// Stage 1: `V[pos][tile][c] = (Bᵀ d B)[pos]` for tiles `first..<first+count` (tile `first+i`
/// at `transformed + pos·positionStride + i·cin`), zero padding outside the input; channels in
/// vectors, the remainder lane by lane. Tiles wholly inside the input read their 16 vectors
/// at fixed offsets; border tiles check each pixel.
@inlinable
public func winogradTransformInput<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob, first: Int, count: Int,
                                                       transformed: UnsafeMutablePointer<Float>, positionStride: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    let cin = job.channelsIn
    let vectorEnd = cin / w &* w
    let rowStride = job.width &* cin
    var ty = first / job.tilesWide, tx = first &- ty &* job.tilesWide
    for i in 0..<count {
        let y0 = 2 &* ty &- job.padTop
        let x0 = 2 &* tx &- job.padLeft
        let target = transformed + i &* cin
        if y0 >= 0 && x0 >= 0 && y0 &+ 3 < job.height && x0 &+ 3 < job.width {
            let p0 = job.input + (y0 &* job.width &+ x0) &* cin
            let p1 = p0 + rowStride, p2 = p1 + rowStride, p3 = p2 + rowStride
            let c1 = cin, c2 = 2 &* cin, c3 = 3 &* cin
            var c = 0
            while c < vectorEnd {
                var d: (V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V) =
                    (loadVector(p0 + c), loadVector(p0 + (c1 &+ c)), loadVector(p0 + (c2 &+ c)), loadVector(p0 + (c3 &+ c)),
                     loadVector(p1 + c), loadVector(p1 + (c1 &+ c)), loadVector(p1 + (c2 &+ c)), loadVector(p1 + (c3 &+ c)),
                     loadVector(p2 + c), loadVector(p2 + (c1 &+ c)), loadVector(p2 + (c2 &+ c)), loadVector(p2 + (c3 &+ c)),
                     loadVector(p3 + c), loadVector(p3 + (c1 &+ c)), loadVector(p3 + (c2 &+ c)), loadVector(p3 + (c3 &+ c)))
                winogradInputTransform(&d)
                winogradStore16(d, target + c, positionStride)
                c &+= w
            }
            if c < cin { winogradTransformInputTail(job, y0: y0, x0: x0, from: c, target: target, positionStride: positionStride) }
        } else {
            var c = 0
            while c < vectorEnd {
                @inline(__always) func at(_ i: Int, _ j: Int) -> V {
                    let y = y0 &+ i, x = x0 &+ j
                    if y >= 0 && y < job.height && x >= 0 && x < job.width {
                        return loadVector(job.input + ((y &* job.width &+ x) &* cin &+ c))
                    }
                    return V()
                }
                var d = (at(0, 0), at(0, 1), at(0, 2), at(0, 3), at(1, 0), at(1, 1), at(1, 2), at(1, 3),
                         at(2, 0), at(2, 1), at(2, 2), at(2, 3), at(3, 0), at(3, 1), at(3, 2), at(3, 3))
                winogradInputTransform(&d)
                winogradStore16(d, target + c, positionStride)
                c &+= w
            }
            if c < cin { winogradTransformInputTail(job, y0: y0, x0: x0, from: c, target: target, positionStride: positionStride) }
        }
        tx &+= 1
        if tx == job.tilesWide { tx = 0; ty &+= 1 }
    }
}

/// The channels past the last whole vector of one tile, one at a time.
@inlinable
func winogradTransformInputTail(_ job: WinogradJob, y0: Int, x0: Int, from start: Int, target: UnsafeMutablePointer<Float>,
                                positionStride: Int) {
    let cin = job.channelsIn
    for c in start..<cin {
        @inline(__always) func at(_ i: Int, _ j: Int) -> SIMD4<Float> {
            let y = y0 + i, x = x0 + j
            if y >= 0 && y < job.height && x >= 0 && x < job.width {
                return SIMD4(repeating: job.input[(y * job.width + x) * cin + c])
            }
            return SIMD4()
        }
        var d = (at(0, 0), at(0, 1), at(0, 2), at(0, 3), at(1, 0), at(1, 1), at(1, 2), at(1, 3),
                 at(2, 0), at(2, 1), at(2, 2), at(2, 3), at(3, 0), at(3, 1), at(3, 2), at(3, 3))
        winogradInputTransform(&d)
        let out = target + c
        out[0] = d.0[0]; out[positionStride] = d.1[0]; out[2 * positionStride] = d.2[0]; out[3 * positionStride] = d.3[0]
        out[4 * positionStride] = d.4[0]; out[5 * positionStride] = d.5[0]; out[6 * positionStride] = d.6[0]
        out[7 * positionStride] = d.7[0]; out[8 * positionStride] = d.8[0]; out[9 * positionStride] = d.9[0]
        out[10 * positionStride] = d.10[0]; out[11 * positionStride] = d.11[0]; out[12 * positionStride] = d.12[0]
        out[13 * positionStride] = d.13[0]; out[14 * positionStride] = d.14[0]; out[15 * positionStride] = d.15[0]
    }
}

/// Stage 3: `Y = Aᵀ M A` for tiles `first..<first+count` and every output channel (tile
/// `first+i`'s products at `products + pos·positionStride + i·paddedChannelsOut`), plus bias
/// and residual, ReLU, stored inside the output map. Whole vectors of tiles inside a
/// channels-last output are stored directly; the rest lane by lane.
@inlinable
public func winogradTransformOutput<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob, paddedChannelsOut: Int, first: Int, count: Int,
                                                        products: UnsafePointer<Float>, positionStride: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    let cout = job.channelsOut
    let pixels = job.heightOut &* job.widthOut
    let rowStride = job.widthOut &* cout
    var ty = first / job.tilesWide, tx = first &- ty &* job.tilesWide
    for i in 0..<count {
        let source = products + i &* paddedChannelsOut
        let oy = 2 &* ty, ox = 2 &* tx
        let inside = !job.transposedOutput && oy &+ 1 < job.heightOut && ox &+ 1 < job.widthOut
        var c = 0
        while c < cout {
            @inline(__always) func m(_ pos: Int) -> V { loadVector(source + (pos &* positionStride &+ c)) }
            // Rows: Aᵀ M.
            let s00 = m(0) + m(4) + m(8), s01 = m(1) + m(5) + m(9), s02 = m(2) + m(6) + m(10), s03 = m(3) + m(7) + m(11)
            let s10 = m(4) - m(8) - m(12), s11 = m(5) - m(9) - m(13), s12 = m(6) - m(10) - m(14), s13 = m(7) - m(11) - m(15)
            // Columns: (Aᵀ M) A, plus the bias.
            let b: V = job.bias.map { loadVector($0 + c) } ?? V()
            var y00 = s00 + s01 + s02 + b, y01 = s01 - s02 - s03 + b
            var y10 = s10 + s11 + s12 + b, y11 = s11 - s12 - s13 + b
            if inside && c &+ w <= cout {
                let out = job.output + ((oy &* job.widthOut &+ ox) &* cout &+ c)
                if let residual = job.residual {
                    let r = residual + ((oy &* job.widthOut &+ ox) &* cout &+ c)
                    y00 += loadVector(r); y01 += loadVector(r + cout)
                    y10 += loadVector(r + rowStride); y11 += loadVector(r + (rowStride &+ cout))
                }
                if job.relu { y00 = A.relu(y00); y01 = A.relu(y01); y10 = A.relu(y10); y11 = A.relu(y11) }
                store(y00, out); store(y01, out + cout); store(y10, out + rowStride); store(y11, out + (rowStride &+ cout))
            } else {
                let lanes = min(w, cout &- c)
                @inline(__always) func put(_ value: V, _ dy: Int, _ dx: Int) {
                    let oy = oy &+ dy, ox = ox &+ dx
                    if oy >= job.heightOut || ox >= job.widthOut { return }
                    let pixel = oy &* job.widthOut &+ ox
                    if job.transposedOutput {
                        for lane in 0..<lanes {
                            let v = value[lane]
                            job.output[(c &+ lane) &* pixels &+ pixel] = job.relu ? max(v, 0) : v
                        }
                    } else {
                        storeVector(A.self, value, job.output + (pixel &* cout &+ c),
                                    residual: job.residual.map { $0 + (pixel &* cout &+ c) }, relu: job.relu, lanes: lanes)
                    }
                }
                put(y00, 0, 0)
                put(y01, 0, 1)
                put(y10, 1, 0)
                put(y11, 1, 1)
            }
            c &+= w
        }
        tx &+= 1
        if tx == job.tilesWide { tx = 0; ty &+= 1 }
    }
}

/// The three stages of a Winograd convolution, block by block: `winogradBlocked`.
@inlinable
public func winograd<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob) {
    winogradBlocked(A.self, job)
}

/// Scratch floats of the blocked form: one block's transformed inputs and products.
@inlinable
public func winogradBlockedScratchFloats(blockTiles: Int, channelsIn: Int, paddedChannelsOut: Int) -> Int {
    16 * blockTiles * (channelsIn + paddedChannelsOut)
}

/// Blocks of `blockTiles` tiles (one microkernel row tile) through the three stages: the
/// block's 16 positions are 16 microkernel calls per column block on rows `channelsIn` floats
/// apart, with the transformed inputs and products (`16 · blockTiles · (Cin + Cout)` floats)
/// still in cache for the next stage. Measured against the three stages each over the whole map
/// (scratch for every tile, one position's filters reused across all tiles): 16×16 channels at
/// 28×28 16.6 µs against 17.6, 32×32 at 32×32 45 against 60, 64×64 at 14×14 29.7 against 30.3,
/// 128×128 at 7×7 38.3 against 41.5 (AVX-512, fastest of 200 runs); blocks of 2 or 4 row tiles
/// measured the same as one.
@inlinable
public func winogradBlocked<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob) {
    let w = A.Vector.scalarCount
    let blocking = ColumnBlocking(columns: job.channelsOut, vectorWidth: w, registerCount: A.registerCount)
    let padded = blocking.paddedColumns
    let nr = blocking.rowsPerTile
    let block = job.blockTiles
    let cin = job.channelsIn
    let tiles = job.tiles
    let inputStride = block * cin, productStride = block * padded
    var first = 0
    while first < tiles {
        let count = min(block, tiles - first)
        winogradTransformInput(A.self, job, first: first, count: count, transformed: job.transformed, positionStride: inputStride)
        for position in 0..<16 {
            let rows = UnsafePointer(job.transformed + position * inputStride)
            let products = job.products + position * productStride
            var row0 = 0
            while row0 < count {
                let rowCount = min(nr, count - row0)
                for j in 0..<nr { job.pointers[j] = rows + (row0 + min(j, rowCount - 1)) * cin }
                var start = 0
                while start * w < padded {
                    let vectors = blocking.vectors(at: start)
                    let column = start * w
                    let tile = GEMMTile(rows: UnsafePointer(job.pointers), taps: 1, k: cin,
                                        weights: job.weights + position * cin * padded + column * cin, bias: nil,
                                        output: products + row0 * padded + column, outputStride: padded, residual: nil, residualStride: 0,
                                        rowCount: rowCount, columnCount: vectors * w, relu: false)
                    microkernel(A.self, vectors: vectors, rows: nr, tile)
                    start += vectors
                }
                row0 += nr
            }
        }
        winogradTransformOutput(A.self, job, paddedChannelsOut: padded, first: first, count: count, products: job.products,
                                positionStride: productStride)
        first += count
    }
}
