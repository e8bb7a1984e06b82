// Dispatch of one operator to its kernel, with tensors bound to arena or model addresses.

extension Interpreter {
    /// Executes operator `index` of the schedule. Shapes were validated at load; this cannot fail.
    func execute(operator index: Int) {
        let op = model.operators[index]
        let tensors = model.tensors
        if tensors[op.output].dataType == .int8 {
            executeInt8(operator: index)
            return
        }
        let y = floats(op.output)
        let relu = op.activation == .relu
        switch op.kind {
        case .conv2d:
            let scratch: UnsafeMutablePointer<Float>? = model.plan.scratchOffsets[index] >= 0
                ? (arena + model.plan.scratchOffsets[index]).assumingMemoryBound(to: Float.self) : nil
            let bias: UnsafePointer<Float>? = op.inputs.count == 3 ? UnsafePointer(floats(op.inputs[2])) : nil
            FloatKernels.convolution(floats(op.inputs[0]), weights: floats(op.inputs[1]), bias: bias, op.geometry,
                                     path: op.convolutionPath, scratch: scratch, y: y, relu: relu)
        case .fullyConnected:
            let weights = tensors[op.inputs[1]].shape
            let bias: UnsafePointer<Float>? = op.inputs.count == 3 ? UnsafePointer(floats(op.inputs[2])) : nil
            FloatKernels.fullyConnected(floats(op.inputs[0]), weights: floats(op.inputs[1]), bias: bias,
                                        inputs: weights[1], outputs: weights[0], y: y, relu: relu)
        case .add, .mul:
            FloatKernels.binary(floats(op.inputs[0]), floats(op.inputs[1]), y: y, lhs: tensors[op.inputs[0]].shape,
                                rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape,
                                multiply: op.kind == .mul, relu: relu)
        case .relu:
            FloatKernels.relu(floats(op.inputs[0]), y: y, count: tensors[op.output].elementCount)
        case .tanh:
            FloatKernels.tanh(floats(op.inputs[0]), y: y, count: tensors[op.output].elementCount)
        case .sigmoid:
            FloatKernels.sigmoid(floats(op.inputs[0]), y: y, count: tensors[op.output].elementCount)
        case .batchNorm:
            let shape = tensors[op.inputs[0]].shape
            FloatKernels.batchNorm(floats(op.inputs[0]), scale: floats(op.inputs[1]), shift: floats(op.inputs[2]), y: y,
                                   channels: shape[1], spatial: shape.elementCount / shape[1], relu: relu)
        case .maxPool, .avgPool:
            FloatKernels.pool(floats(op.inputs[0]), op.geometry, y: y, maximum: op.kind == .maxPool,
                              countIncludePad: op.attributes[8] == 1)
        case .globalAvgPool:
            let g = op.geometry
            FloatKernels.globalAveragePool(floats(op.inputs[0]), y: y, channels: g.channelsIn, spatial: g.heightIn * g.widthIn)
        case .softmax:
            let shape = tensors[op.inputs[0]].shape
            var outer = 1, inner = 1
            for axis in 0..<op.axis { outer *= shape[axis] }
            for axis in (op.axis + 1)..<max(shape.rank, op.axis + 1) { inner *= shape[axis] }
            FloatKernels.softmax(floats(op.inputs[0]), y: y, outer: outer, n: shape[op.axis], inner: inner)
        case .matmul:
            FloatKernels.matmul(floats(op.inputs[0]), floats(op.inputs[1]), c: y, lhs: tensors[op.inputs[0]].shape,
                                rhs: tensors[op.inputs[1]].shape, out: tensors[op.output].shape)
        case .transpose:
            DataMovement.transpose(floats(op.inputs[0]), y: y, input: tensors[op.inputs[0]].shape, permutation: op.attributes)
        case .reshape:
            let source = floats(op.inputs[0])
            if source != y { y.update(from: source, count: tensors[op.output].elementCount) }
        case .concat:
            let out = tensors[op.output].shape
            let (outer, inner) = DataMovement.concatenationLayout(out, axis: op.axis)
            var position = 0
            for tensor in op.inputs {
                let extent = tensors[tensor].shape[op.axis]
                DataMovement.concatenate(floats(tensor), extent: extent, into: y, at: position, total: out[op.axis],
                                         outer: outer, inner: inner)
                position += extent
            }
        }
    }
}
