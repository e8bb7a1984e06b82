// expand, slice and pad: operators that move elements into a new shape without arithmetic,
// float32 and int8 (input and output share scale and zero point).

/// A prepared broadcast of a tensor to a larger shape (ONNX Expand). No attribute words: the
/// input must broadcast (NumPy rules) to exactly the output's shape.
struct Expand {
    let input: Int, output: Int
    let inputShape: TensorShape, outputShape: TensorShape
    let elementSize: Int

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(1...1)
        try v.attributesZero(from: 0)
        let x = v.tensors[v.op.inputs[0]].shape
        if x.rank > v.outputShape.rank || OperatorValidation.broadcastShape(x, v.outputShape) != v.outputShape {
            throw v.fail("input shape \(x) does not broadcast to the output shape \(v.outputShape)")
        }
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Expand {
        let op = p.operators[index]
        return Expand(input: op.inputs[0], output: op.output, inputShape: p.tensors[op.inputs[0]].shape,
                      outputShape: p.tensors[op.output].shape, elementSize: p.tensors[op.output].dataType.size)
    }

    func evaluate(_ x: ExecutionContext) {
        if elementSize == 1 {
            DataMovement.expand(x.int8s(input), y: x.int8s(output), input: inputShape, output: outputShape)
        } else {
            DataMovement.expand(x.floats(input), y: x.floats(output), input: inputShape, output: outputShape)
        }
    }
}

/// A prepared strided slice (ONNX Slice, and each output of Split).
///
/// Attribute words: 0–3 the start on input axes 0…3, 4–7 the step on axes 0…3 (non-zero,
/// −65,536…65,536, negative walks backwards). Axes beyond the rank must have start 0 and step
/// 0. The output has the input's rank; along each axis it holds elements start + i·step for i
/// below its extent, all of which must lie inside the input.
struct Slice {
    let input: Int, output: Int
    let inputShape: TensorShape, outputShape: TensorShape
    let starts: SIMD4<Int>, steps: SIMD4<Int>
    let elementSize: Int

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(1...1)
        try v.attributesZero(from: 8)
        let x = v.tensors[v.op.inputs[0]].shape, y = v.outputShape
        if y.rank != x.rank { throw v.fail("output tensor \(v.output) has rank \(y.rank); the input's rank \(x.rank) is required") }
        for axis in 0..<4 {
            let start = Int(a[axis]), step = Int(a[4 + axis])
            if axis >= x.rank {
                if start != 0 || step != 0 { throw v.fail("axis \(axis) is beyond the rank: start and step must be 0") }
                continue
            }
            if step == 0 || step < -65_536 || step > 65_536 { throw v.fail("axis \(axis): step \(step) is not a non-zero value in −65536…65536") }
            let last = start + (y[axis] - 1) * step
            if start < 0 || start >= x[axis] || last < 0 || last >= x[axis] {
                throw v.fail("axis \(axis): elements \(start), \(start + step), … \(last) leave the input's 0..<\(x[axis])")
            }
        }
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Slice {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        var starts = SIMD4<Int>(repeating: 0), steps = SIMD4<Int>(repeating: 1)
        for axis in 0..<shape.rank {
            starts[axis + 4 - shape.rank] = Int(op.attributes[axis])
            steps[axis + 4 - shape.rank] = Int(op.attributes[4 + axis])
        }
        return Slice(input: op.inputs[0], output: op.output, inputShape: shape, outputShape: p.tensors[op.output].shape,
                     starts: starts, steps: steps, elementSize: p.tensors[op.output].dataType.size)
    }

    func evaluate(_ x: ExecutionContext) {
        if elementSize == 1 {
            DataMovement.slice(x.int8s(input), y: x.int8s(output), input: inputShape, output: outputShape, starts: starts, steps: steps)
        } else {
            DataMovement.slice(x.floats(input), y: x.floats(output), input: inputShape, output: outputShape, starts: starts, steps: steps)
        }
    }
}

/// A prepared padding (ONNX Pad).
///
/// Attribute words: 0–3 the elements added before input axes 0…3, 4–7 after them (0…65,536;
/// 0 beyond the rank), 8 the mode (0 constant, 1 reflect, 2 edge, 3 wrap), 9 the constant
/// (float32: its IEEE-754 bits, finite; int8: the int8 value in the shared quantization;
/// 0 for the other modes). Reflect needs padding below each padded axis's extent, wrap at
/// most the extent. Output: each axis grows by its two paddings.
struct Pad {
    let input: Int, output: Int
    let inputShape: TensorShape, outputShape: TensorShape
    let begins: SIMD4<Int>
    let mode: PadMode
    let floatValue: Float
    let int8Value: Int8
    let elementSize: Int

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(1...1)
        try v.attributesZero(from: 10)
        let x = v.tensors[v.op.inputs[0]].shape
        guard let mode = PadMode(rawValue: a[8]) else { throw v.fail("mode \(a[8]) is not 0 (constant), 1 (reflect), 2 (edge) or 3 (wrap)") }
        var expected = x
        for axis in 0..<4 {
            let before = Int(a[axis]), after = Int(a[4 + axis])
            if axis >= x.rank {
                if before != 0 || after != 0 { throw v.fail("axis \(axis) is beyond the rank: its padding must be 0") }
                continue
            }
            if before < 0 || after < 0 || before > 65_536 || after > 65_536 {
                throw v.fail("axis \(axis): padding \(before), \(after) is not between 0 and 65536")
            }
            if mode == .reflect && (before >= x[axis] || after >= x[axis]) && (before > 0 || after > 0) {
                throw v.fail("axis \(axis): reflect padding \(before), \(after) must be below the extent \(x[axis])")
            }
            if mode == .wrap && (before > x[axis] || after > x[axis]) {
                throw v.fail("axis \(axis): wrap padding \(before), \(after) must be at most the extent \(x[axis])")
            }
            expected[axis] = x[axis] + before + after
        }
        try v.expectShape(expected)
        if mode != .constant && a[9] != 0 { throw v.fail("the constant (attribute 9) must be 0 for this mode") }
        if v.quantized {
            if a[9] < -128 || a[9] > 127 { throw v.fail("the int8 constant \(a[9]) is out of range") }
            try v.sameQuantization(v.op.inputs[0])
        } else if !PiecewiseActivation.float(a[9]).isFinite {
            throw v.fail("the constant \(PiecewiseActivation.float(a[9])) is not finite")
        }
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Pad {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        var begins = SIMD4<Int>(repeating: 0)
        for axis in 0..<shape.rank { begins[axis + 4 - shape.rank] = Int(op.attributes[axis]) }
        return Pad(input: op.inputs[0], output: op.output, inputShape: shape, outputShape: p.tensors[op.output].shape, begins: begins,
                   mode: PadMode(rawValue: op.attributes[8]) ?? .constant, floatValue: PiecewiseActivation.float(op.attributes[9]),
                   int8Value: Int8(clamping: op.attributes[9]), elementSize: p.tensors[op.output].dataType.size)
    }

    func evaluate(_ x: ExecutionContext) {
        if elementSize == 1 {
            DataMovement.pad(x.int8s(input), y: x.int8s(output), input: inputShape, output: outputShape, begins: begins, mode: mode,
                             value: int8Value)
        } else {
            DataMovement.pad(x.floats(input), y: x.floats(output), input: inputShape, output: outputShape, begins: begins, mode: mode,
                             value: floatValue)
        }
    }
}
