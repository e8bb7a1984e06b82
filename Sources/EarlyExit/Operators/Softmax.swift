// softmax: normalized exponentials along one axis, float32 and int8.

/// A prepared softmax.
///
/// Attribute words: 0 the axis; int8 only: 1 the inverse output scale `round(2^8 / s_out)`.
/// int8 input 1 is the exponential table (int32[256], `round(2^20 · e^{−s_in·d})`), and the
/// axis must be the last one.
struct Softmax {
    let input: Int, output: Int
    let outer: Int, n: Int, inner: Int
    /// int8 only: the exponential table (checked at load) and the output scale.
    let table: UnsafePointer<Int32>?
    let inverseOutputScale: Int32
    let outputZeroPoint: Int32
    let kernels: KernelSet.Float32Path

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(v.quantized ? 2...2 : 1...1)
        try v.attributesZero(from: v.quantized ? 2 : 1)
        let x = v.tensors[v.op.inputs[0]].shape
        let axis = Int(a[0])
        if axis < 0 || axis >= x.rank { throw v.fail("axis \(axis) is not between 0 and \(x.rank - 1)") }
        if v.quantized {
            if axis != x.rank - 1 { throw v.fail("int8 softmax runs over the last axis only, axis \(axis) given") }
            if a[1] <= 0 { throw v.fail("inverse output scale \(a[1]) must be positive") }
            try v.table(v.op.inputs[1], .int32)
        }
        try v.expectShape(x)
        v.op.axis = axis
    }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> Softmax {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        var outer = 1, inner = 1
        for axis in 0..<op.axis { outer *= shape[axis] }
        for axis in (op.axis + 1)..<max(shape.rank, op.axis + 1) { inner *= shape[axis] }
        var table: UnsafePointer<Int32>?
        if p.tensors[op.output].dataType == .int8 {
            let entries = p.constantInt32(op.inputs[1])
            for d in 0..<256 where entries[d] < 0 || entries[d] > 1 << 24 {
                throw p.fail(index, "exponential table entry \(d) is \(entries[d]); entries must be between 0 and 2^24")
            }
            if entries[0] < 1 { throw p.fail(index, "exponential table entry 0 (e^0) is \(entries[0]); it must be positive") }
            table = entries
        }
        return Softmax(input: op.inputs[0], output: op.output, outer: outer, n: shape[op.axis], inner: inner, table: table,
                       inverseOutputScale: op.attributes[1], outputZeroPoint: p.zeroPoint(op.output), kernels: p.kernels.float32)
    }

    func evaluate(_ x: ExecutionContext) {
        if let table {
            Int8Kernels.softmax(x.int8s(input), table: table, inverseOutputScale: inverseOutputScale,
                                outputZeroPoint: outputZeroPoint, y: x.int8s(output), rows: outer * inner, n: n)
        } else if inner == 1 {
            FloatKernelTable.softmaxRows(kernels, x.floats(input), y: x.floats(output), rows: outer, n: n)
        } else {
            FloatKernels.softmax(x.floats(input), y: x.floats(output), outer: outer, n: n, inner: inner)
        }
    }
}
