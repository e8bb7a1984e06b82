// transpose, reshape and concat: operators that move elements without arithmetic.

/// A prepared axis permutation. Attribute words 0..<rank: output axis i is input axis a[i].
struct Transpose {
    let input: Int, output: Int
    let inputShape: TensorShape
    let permutation: [Int32]
    let elementSize: Int
    /// A `[1, C, L]` channels-last input is already `[1, L, C]` in memory: the transpose is a copy.
    let copies: Bool

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(1...1)
        let x = v.tensors[v.op.inputs[0]].shape
        try v.attributesZero(from: x.rank)
        var seen = [Bool](repeating: false, count: x.rank)
        var dims: [Int] = []
        for axis in 0..<x.rank {
            let source = Int(v.attributes[axis])
            if source < 0 || source >= x.rank || seen[source] {
                throw v.fail("permutation attribute \(axis) is \(source); a permutation of 0..<\(x.rank) is required")
            }
            seen[source] = true
            dims.append(x[source])
        }
        try v.expectShape(TensorShape(dims))
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Transpose {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        return Transpose(input: op.inputs[0], output: op.output, inputShape: shape,
                         permutation: Array(op.attributes[0..<shape.rank]), elementSize: p.tensors[op.output].dataType.size,
                         copies: p.layouts[op.inputs[0]] == .channelsLast)
    }

    func evaluate(_ x: ExecutionContext) {
        if copies {
            UnsafeMutableRawPointer(x.int8s(output)).copyMemory(from: x.int8s(input), byteCount: inputShape.elementCount * elementSize)
        } else if elementSize == 1 {
            DataMovement.transpose(x.int8s(input), y: x.int8s(output), input: inputShape, permutation: permutation)
        } else {
            DataMovement.transpose(x.floats(input), y: x.floats(output), input: inputShape, permutation: permutation)
        }
    }
}

/// A prepared reshape: the same elements under another shape (a copy unless planned in place).
/// No attribute words.
struct Reshape {
    let input: Int, output: Int
    let byteCount: Int

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(1...1)
        try v.attributesZero(from: 0)
        try v.expectElements(v.tensors[v.op.inputs[0]].elementCount)
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Reshape {
        let op = p.operators[index]
        return Reshape(input: op.inputs[0], output: op.output, byteCount: p.tensors[op.output].byteCount)
    }

    func evaluate(_ x: ExecutionContext) {
        let source = UnsafeRawPointer(x.int8s(input)), target = UnsafeMutableRawPointer(x.int8s(output))
        if source != UnsafeRawPointer(target) { target.copyMemory(from: source, byteCount: byteCount) }
    }
}

/// A prepared concatenation along an axis. Attribute word 0: the axis.
struct Concat {
    let inputs: [Int], output: Int
    /// Each input's extent along the axis.
    let extents: [Int]
    let total: Int, outer: Int, inner: Int
    let elementSize: Int

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.attributesZero(from: 1)
        let first = v.tensors[v.op.inputs[0]].shape
        let axis = Int(v.attributes[0])
        if axis < 0 || axis >= first.rank { throw v.fail("axis \(axis) is not between 0 and \(first.rank - 1)") }
        var total = 0
        for tensor in v.op.inputs {
            let shape = v.tensors[tensor].shape
            if shape.rank != first.rank { throw v.fail("input tensor \(tensor) has rank \(shape.rank), the first input has \(first.rank)") }
            for dim in 0..<shape.rank where dim != axis && shape[dim] != first[dim] {
                throw v.fail("input tensor \(tensor) has shape \(shape), which differs from \(first) outside axis \(axis)")
            }
            total += shape[axis]
        }
        var expected = first
        expected[axis] = total
        try v.expectShape(expected)
        if v.quantized { for tensor in v.op.inputs { try v.sameQuantization(tensor) } }
        v.op.axis = axis
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Concat {
        let op = p.operators[index]
        let out = p.tensors[op.output].shape
        let (outer, inner) = DataMovement.concatenationLayout(out, axis: op.axis)
        return Concat(inputs: op.inputs, output: op.output, extents: op.inputs.map { p.tensors[$0].shape[op.axis] },
                      total: out[op.axis], outer: outer, inner: inner, elementSize: p.tensors[op.output].dataType.size)
    }

    func evaluate(_ x: ExecutionContext) {
        var position = 0
        for (tensor, extent) in zip(inputs, extents) {
            if elementSize == 1 {
                DataMovement.concatenate(x.int8s(tensor), extent: extent, into: x.int8s(output), at: position, total: total,
                                         outer: outer, inner: inner)
            } else {
                DataMovement.concatenate(x.floats(tensor), extent: extent, into: x.floats(output), at: position, total: total,
                                         outer: outer, inner: inner)
            }
            position += extent
        }
    }
}
