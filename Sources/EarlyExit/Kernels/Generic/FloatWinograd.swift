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
    /// Scratch: `[16][tiles][Cin]` transformed inputs and `[16][tiles][packed Cout]` products.
    public var transformed: UnsafeMutablePointer<Float>
    public var products: UnsafeMutablePointer<Float>
    /// Scratch for the GEMM stage's row pointers (12 entries).
    public var pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    public var zeroRow: UnsafePointer<Float>

    @inlinable
    public init(input: UnsafePointer<Float>, height: Int, width: Int, channelsIn: Int, padTop: Int, padLeft: Int,
                heightOut: Int, widthOut: Int, channelsOut: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                output: UnsafeMutablePointer<Float>, transposedOutput: Bool, residual: UnsafePointer<Float>?, relu: Bool,
                transformed: UnsafeMutablePointer<Float>, products: UnsafeMutablePointer<Float>,
                pointers: UnsafeMutablePointer<UnsafePointer<Float>>, zeroRow: UnsafePointer<Float>) {
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
    }

    @inlinable public var tilesHigh: Int { (heightOut + 1) / 2 }
    @inlinable public var tilesWide: Int { (widthOut + 1) / 2 }
    @inlinable public var tiles: Int { tilesHigh * tilesWide }

    /// Scratch floats: transformed inputs and products for a padded output width.
    @inlinable
    public static func scratchFloats(tiles: Int, channelsIn: Int, paddedChannelsOut: Int) -> Int {
        16 * tiles * (channelsIn + paddedChannelsOut)
    }
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

/// Stage 1: `V[pos][tile][c] = (Bᵀ d B)[pos]` for every tile and channel, zero padding outside
/// the input; channels in vectors, the remainder lane by lane.
@inlinable
public func winogradTransformInput<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob) {
    typealias V = A.Vector
    let w = V.scalarCount
    let cin = job.channelsIn
    let tiles = job.tiles
    let positionStride = tiles * cin
    var tile = 0
    for ty in 0..<job.tilesHigh {
        let y0 = 2 * ty - job.padTop
        for tx in 0..<job.tilesWide {
            let x0 = 2 * tx - job.padLeft
            let interior = y0 >= 0 && x0 >= 0 && y0 + 3 < job.height && x0 + 3 < job.width
            let target = job.transformed + tile * cin
            var c = 0
            while c + w <= cin {
                @inline(__always) func at(_ i: Int, _ j: Int) -> V {
                    let y = y0 + i, x = x0 + j
                    if interior || (y >= 0 && y < job.height && x >= 0 && x < job.width) {
                        return loadVector(job.input + (y * job.width + x) * cin + c)
                    }
                    return V()
                }
                var d = (at(0, 0), at(0, 1), at(0, 2), at(0, 3), at(1, 0), at(1, 1), at(1, 2), at(1, 3),
                         at(2, 0), at(2, 1), at(2, 2), at(2, 3), at(3, 0), at(3, 1), at(3, 2), at(3, 3))
                winogradInputTransform(&d)
                let out = target + c
                store(d.0, out); store(d.1, out + positionStride); store(d.2, out + 2 * positionStride)
                store(d.3, out + 3 * positionStride); store(d.4, out + 4 * positionStride); store(d.5, out + 5 * positionStride)
                store(d.6, out + 6 * positionStride); store(d.7, out + 7 * positionStride); store(d.8, out + 8 * positionStride)
                store(d.9, out + 9 * positionStride); store(d.10, out + 10 * positionStride); store(d.11, out + 11 * positionStride)
                store(d.12, out + 12 * positionStride); store(d.13, out + 13 * positionStride)
                store(d.14, out + 14 * positionStride); store(d.15, out + 15 * positionStride)
                c += w
            }
            while c < cin {
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
                c += 1
            }
            tile += 1
        }
    }
}

/// Stage 3: `Y = Aᵀ M A` for every tile and output channel, plus bias and residual, ReLU,
/// stored inside the output map.
@inlinable
public func winogradTransformOutput<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob, paddedChannelsOut: Int) {
    typealias V = A.Vector
    let w = V.scalarCount
    let cout = job.channelsOut
    let positionStride = job.tiles * paddedChannelsOut
    let pixels = job.heightOut * job.widthOut
    var tile = 0
    for ty in 0..<job.tilesHigh {
        for tx in 0..<job.tilesWide {
            let source = job.products + tile * paddedChannelsOut
            var c = 0
            while c < cout {
                @inline(__always) func m(_ pos: Int) -> V { loadVector(source + pos * positionStride + c) }
                // Rows: Aᵀ M.
                let s00 = m(0) + m(4) + m(8), s01 = m(1) + m(5) + m(9), s02 = m(2) + m(6) + m(10), s03 = m(3) + m(7) + m(11)
                let s10 = m(4) - m(8) - m(12), s11 = m(5) - m(9) - m(13), s12 = m(6) - m(10) - m(14), s13 = m(7) - m(11) - m(15)
                // Columns: (Aᵀ M) A, plus the bias.
                let b: V = job.bias.map { loadVector($0 + c) } ?? V()
                let lanes = min(w, cout - c)
                @inline(__always) func put(_ value: V, _ dy: Int, _ dx: Int) {
                    let oy = 2 * ty + dy, ox = 2 * tx + dx
                    if oy >= job.heightOut || ox >= job.widthOut { return }
                    let pixel = oy * job.widthOut + ox
                    if job.transposedOutput {
                        for lane in 0..<lanes {
                            let v = value[lane]
                            job.output[(c + lane) * pixels + pixel] = job.relu ? max(v, 0) : v
                        }
                    } else {
                        storeVector(A.self, value, job.output + pixel * cout + c,
                                    residual: job.residual.map { $0 + pixel * cout + c }, relu: job.relu, lanes: lanes)
                    }
                }
                put(s00 + s01 + s02 + b, 0, 0)
                put(s01 - s02 - s03 + b, 0, 1)
                put(s10 + s11 + s12 + b, 1, 0)
                put(s11 - s12 - s13 + b, 1, 1)
                c += w
            }
            tile += 1
        }
    }
}

/// The three stages of a Winograd convolution: input transform, 16 GEMMs, output transform.
@inlinable
public func winograd<A: FloatArithmetic>(_: A.Type, _ job: WinogradJob) {
    let blocking = ColumnBlocking(columns: job.channelsOut, vectorWidth: A.Vector.scalarCount, registerCount: A.registerCount)
    let padded = blocking.paddedColumns
    let tiles = job.tiles
    winogradTransformInput(A.self, job)
    for position in 0..<16 {
        let stage = FloatGEMMJob(rows: tiles, taps: 1, k: job.channelsIn, input: job.transformed + position * tiles * job.channelsIn,
                                 inputStride: job.channelsIn, indirection: nil, zeroRow: job.zeroRow,
                                 weights: job.weights + position * job.channelsIn * padded, bias: nil, columns: job.channelsOut,
                                 output: job.products + position * tiles * padded, outputStride: padded, transposedOutput: false,
                                 residual: nil, residualStride: 0, relu: false, pointers: job.pointers, tileBuffer: job.products)
        gemm(A.self, stage)
    }
    winogradTransformOutput(A.self, job, paddedChannelsOut: padded)
}
