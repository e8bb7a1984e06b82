// The float32 GEMM driver: rows of inputs (strided or through an indirection table) times
// packed weights, tile by tile, column block by column block.

/// How a GEMM's output columns are split into microkernel blocks for one instruction set.
///
/// Weights are packed in the same blocks (`FloatPacking`): for each block, in order, `K` rows
/// of `vectors · V` floats (zero-padded past the real columns).
public struct ColumnBlocking {
    /// Floats per vector.
    public let width: Int
    /// Rows per microkernel call.
    public let rowsPerTile: Int
    /// Columns rounded up to whole vectors: the packed width.
    public let paddedColumns: Int
    /// Vector columns of the full blocks (the last blocks may be narrower).
    public let blockVectors: Int
    public let vectorCount: Int

    @inlinable
    public init(columns: Int, vectorWidth: Int, registerCount: Int) {
        width = vectorWidth
        vectorCount = (columns + vectorWidth - 1) / vectorWidth
        paddedColumns = vectorCount * vectorWidth
        if registerCount >= 32 {
            // 24 accumulators: 4 vectors × 6 rows, or 2 × 12 and 1 × 12 for narrow outputs.
            (blockVectors, rowsPerTile) = vectorCount >= 4 ? (4, 6) : (2, 12)
        } else {
            // 12 accumulators: 2 vectors × 6 rows, or 1 × 12 for a one-vector output.
            (blockVectors, rowsPerTile) = vectorCount == 1 ? (1, 12) : (2, 6)
        }
    }

    /// The vector count of the block starting at vector `start`: full blocks, then 2 and 1.
    @inlinable @inline(__always)
    public func vectors(at start: Int) -> Int {
        let left = vectorCount - start
        if left >= blockVectors { return blockVectors }
        return left >= 2 ? 2 : 1
    }
}

/// A matrix product whose rows are gathered: a convolution as an implicit GEMM over
/// channels-last rows, a 1×1 convolution, or a Winograd stage.
///
/// `C[r][c] = bias[c] + Σ_tap Σ_p row(r, tap)[p] · W[tap·k + p][c]`, with the residual added
/// and ReLU applied before the store.
public struct FloatGEMMJob {
    public var rows: Int
    public var taps: Int
    public var k: Int
    /// Row r, tap t starts at `input + r·inputStride` (taps = 1), or, with an indirection table,
    /// at `input + indirection[r·taps + t]` (an offset of −1 reads `zeroRow`).
    public var input: UnsafePointer<Float>
    public var inputStride: Int
    public var indirection: UnsafePointer<Int32>?
    /// `k` zeros.
    public var zeroRow: UnsafePointer<Float>
    /// Packed weights (`ColumnBlocking` blocks) and a zero-padded bias, or nil.
    public var weights: UnsafePointer<Float>
    public var bias: UnsafePointer<Float>?
    public var columns: Int
    /// Output row r starts at `output + r·outputStride` (channels last), or with
    /// `transposedOutput`, column c of row r is at `output + c·outputStride + r` (NCHW).
    public var output: UnsafeMutablePointer<Float>
    public var outputStride: Int
    public var transposedOutput: Bool
    public var residual: UnsafePointer<Float>?
    public var residualStride: Int
    public var relu: Bool
    /// Scratch for `taps · 12` row pointers, and (transposed output) `12 · paddedColumns` floats.
    public var pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    public var tileBuffer: UnsafeMutablePointer<Float>

    @inlinable
    public init(rows: Int, taps: Int, k: Int, input: UnsafePointer<Float>, inputStride: Int, indirection: UnsafePointer<Int32>?,
                zeroRow: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, columns: Int,
                output: UnsafeMutablePointer<Float>, outputStride: Int, transposedOutput: Bool, residual: UnsafePointer<Float>?,
                residualStride: Int, relu: Bool, pointers: UnsafeMutablePointer<UnsafePointer<Float>>,
                tileBuffer: UnsafeMutablePointer<Float>) {
        self.rows = rows
        self.taps = taps
        self.k = k
        self.input = input
        self.inputStride = inputStride
        self.indirection = indirection
        self.zeroRow = zeroRow
        self.weights = weights
        self.bias = bias
        self.columns = columns
        self.output = output
        self.outputStride = outputStride
        self.transposedOutput = transposedOutput
        self.residual = residual
        self.residualStride = residualStride
        self.relu = relu
        self.pointers = pointers
        self.tileBuffer = tileBuffer
    }

    /// Row pointers the job needs in scratch.
    public static func pointerCount(taps: Int) -> Int { taps * 12 }
}

/// Runs a `FloatGEMMJob`: for each tile of rows, fills the row pointers, then calls the
/// microkernel of each column block (the tile's inputs stay in L1 while the blocks pass).
@inlinable
public func gemm<A: FloatArithmetic>(_: A.Type, _ job: FloatGEMMJob) {
    let w = A.Vector.scalarCount
    let blocking = ColumnBlocking(columns: job.columns, vectorWidth: w, registerCount: A.registerCount)
    let nr = blocking.rowsPerTile
    let depth = job.taps * job.k
    var row0 = 0
    while row0 < job.rows {
        let count = min(nr, job.rows - row0)
        var slot = 0
        for tap in 0..<job.taps {
            for j in 0..<nr {
                // Rows past the end repeat the last row; their results are not stored.
                let r = row0 + min(j, count - 1)
                if let indirection = job.indirection {
                    let offset = Int(indirection[r * job.taps + tap])
                    job.pointers[slot] = offset < 0 ? job.zeroRow : job.input + offset
                } else {
                    job.pointers[slot] = job.input + r * job.inputStride
                }
                slot += 1
            }
        }
        var start = 0 // in vectors
        while start * w < blocking.paddedColumns {
            let vectors = blocking.vectors(at: start)
            let column = start * w
            let transposed = job.transposedOutput
            let tile = GEMMTile(rows: UnsafePointer(job.pointers), taps: job.taps, k: job.k, weights: job.weights + column * depth,
                                bias: job.bias.map { $0 + column },
                                output: transposed ? job.tileBuffer : job.output + row0 * job.outputStride + column,
                                outputStride: transposed ? vectors * w : job.outputStride,
                                residual: transposed ? nil : job.residual.map { $0 + row0 * job.residualStride + column },
                                residualStride: job.residualStride, rowCount: count,
                                columnCount: min(vectors * w, job.columns - column), relu: job.relu)
            microkernel(A.self, vectors: vectors, rows: nr, tile)
            if transposed {
                for j in 0..<count {
                    for c in 0..<tile.columnCount {
                        job.output[(column + c) * job.outputStride + row0 + j] = job.tileBuffer[j * vectors * w + c]
                    }
                }
            }
            start += vectors
        }
        row0 += nr
    }
}

/// The microkernel of a column block of `vectors` vectors (4, 2 or 1) and `rows` rows (6 or 12).
@inlinable @inline(__always)
func microkernel<A: FloatArithmetic>(_: A.Type, vectors: Int, rows: Int, _ tile: GEMMTile) {
    switch (vectors, rows) {
    case (4, _): microkernel4x6(A.self, tile)
    case (2, 12): microkernel2x12(A.self, tile)
    case (2, _): microkernel2x6(A.self, tile)
    case (_, 12): microkernel1x12(A.self, tile)
    default: microkernel1x6(A.self, tile)
    }
}
