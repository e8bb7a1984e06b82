// Weight packing for the float32 GEMM: done once when a model is prepared, in the blocks the
// microkernels read.

/// Packs float32 weights into `ColumnBlocking` blocks.
public enum FloatPacking {
    /// Floats of a packed `[depth × columns]` matrix for this blocking.
    @inlinable
    public static func packedCount(depth: Int, blocking: ColumnBlocking) -> Int { depth * blocking.paddedColumns }

    /// `// W (depth, columns) via element(d, c) -> packed blocks (depth, vectors·V) each, zero-padded`
    ///
    /// Subnormal weights (below 2^−126 in magnitude, left by folding a batch norm whose scale is
    /// near zero) are stored as zero: every product with one would cost a microcode assist per
    /// multiply-add (measured 2.4× slower convolutions on the bundled model), and it changes each
    /// output by less than 10^−35.
    @inlinable
    public static func pack(depth: Int, columns: Int, blocking: ColumnBlocking, into packed: UnsafeMutablePointer<Float>,
                            element: (_ row: Int, _ column: Int) -> Float) {
        let w = blocking.width
        var start = 0
        var cursor = packed
        while start * w < blocking.paddedColumns {
            let vectors = blocking.vectors(at: start)
            let width = vectors * w
            for d in 0..<depth {
                for lane in 0..<width {
                    let c = start * w + lane
                    let value = c < columns ? element(d, c) : 0
                    cursor[lane] = value.isSubnormal ? 0 : value
                }
                cursor += width
            }
            start += vectors
        }
    }
}
