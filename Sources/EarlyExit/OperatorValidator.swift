// Checks one operator against its tensors: arity, types, shapes, attributes; computes MACs and scratch.

/// Validates operators one by one, in schedule order, and fills in their precomputed fields.
enum OperatorValidator {
    static func validate(_ op: inout Operator, index: Int, tensors: [TensorInfo], producer: inout [Int]) throws(ModelError) {
        let name = op.kind.name
        func fail(_ reason: String) -> ModelError { .badOperator(op: index, kind: name, reason: reason) }

        // Every input must exist by now: a constant, the model input, or an earlier operator's output.
        for tensor in op.inputs where !tensors[tensor].isConstant && producer[tensor] == -2 {
            throw .readBeforeWrite(op: index, kind: name, tensor: tensor)
        }
        let out = op.output
        if tensors[out].isConstant { throw fail("output tensor \(out) is a constant") }
        if producer[out] != -2 {
            throw fail(producer[out] == -1 ? "output tensor \(out) is the model input" : "output tensor \(out) is already produced by operator \(producer[out])")
        }
        // float32 operators read and write float32; int8 operators read int8 activations
        // (per-tensor quantized) plus constant parameters checked per operator below.
        let quantized = tensors[out].dataType == .int8
        if quantized {
            if tensors[out].quantization.kind != .perTensor { throw fail("output tensor \(out) needs per-tensor quantization") }
            for tensor in op.inputs where !tensors[tensor].isConstant {
                if tensors[tensor].dataType != .int8 || tensors[tensor].quantization.kind != .perTensor {
                    throw fail("input tensor \(tensor) is \(tensors[tensor].dataType.name); an int8 operator reads per-tensor quantized int8 activations")
                }
            }
        } else {
            for tensor in op.inputs + op.outputs where tensors[tensor].dataType != .float32 {
                throw fail("tensor \(tensor) is \(tensors[tensor].dataType.name); this operator takes float32")
            }
        }
        let fusable: Bool
        switch op.kind {
        case .conv2d, .fullyConnected, .add, .batchNorm: fusable = true
        default: fusable = false
        }
        if op.activation != .none && !fusable { throw fail("a fused activation is not supported on this operator") }

        let a = op.attributes
        func attributesZero(from first: Int) throws(ModelError) {
            for position in first..<a.count where a[position] != 0 {
                throw fail("attribute \(position) is \(a[position]); it is unused and must be 0")
            }
        }
        func arity(_ allowed: ClosedRange<Int>) throws(ModelError) {
            if !allowed.contains(op.inputs.count) {
                throw fail("\(op.inputs.count) inputs; \(allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound)" : "\(allowed.lowerBound) to \(allowed.upperBound)") required")
            }
        }
        func constant(_ tensor: Int, _ role: String) throws(ModelError) {
            if !tensors[tensor].isConstant { throw fail("\(role) tensor \(tensor) must be a constant") }
        }
        func expectShape(_ expected: TensorShape) throws(ModelError) {
            if tensors[out].shape != expected {
                throw fail("output tensor \(out) has shape \(tensors[out].shape), expected \(expected)")
            }
        }
        func expectElements(_ expected: Int) throws(ModelError) {
            if tensors[out].elementCount != expected {
                throw fail("output tensor \(out) has \(tensors[out].elementCount) elements, expected \(expected)")
            }
        }
        func feature(_ tensor: Int) throws(ModelError) -> TensorShape {
            let shape = tensors[tensor].shape
            if shape.rank != 4 || shape[0] != 1 { throw fail("input tensor \(tensor) has shape \(shape); [1, C, H, W] is required") }
            return shape
        }

        func roundingMode(_ value: Int32) throws(ModelError) {
            if value != 0 && value != 1 { throw fail("rounding mode \(value) is not 0 (double rounding) or 1 (single rounding)") }
        }
        func multiplier(_ m: Int32, _ shift: Int32) throws(ModelError) {
            if m < 0 || shift < -31 || shift > 30 { throw fail("requantization multiplier \(m) with shift \(shift) is invalid (multiplier ≥ 0, shift −31…30)") }
        }
        func sameQuantization(_ tensor: Int) throws(ModelError) {
            let a = tensors[tensor].quantization, b = tensors[out].quantization
            if a.scale != b.scale || a.zeroPoint != b.zeroPoint {
                throw fail("input tensor \(tensor) and output tensor \(out) must share scale and zero point")
            }
        }
        func table(_ tensor: Int, _ type: DataType) throws(ModelError) {
            try constant(tensor, "lookup table")
            if tensors[tensor].dataType != type || tensors[tensor].elementCount != 256 {
                throw fail("lookup table tensor \(tensor) must be a constant \(type.name)[256]")
            }
        }
        /// int8 weights (per-channel on axis 0, or per-tensor), int32 bias, multipliers and shifts.
        func quantizedParameters(weights: Int, channels: Int) throws(ModelError) {
            let w = tensors[weights]
            try constant(weights, "weight")
            if w.dataType != .int8 || w.quantization.kind == .none { throw fail("weight tensor \(weights) must be quantized int8") }
            if w.quantization.kind == .perChannel && (w.quantization.axis != 0 || w.shape[0] != channels) {
                throw fail("weight tensor \(weights) must be quantized per output channel (axis 0)")
            }
            if w.quantization.zeroPoint != 0 { throw fail("weight tensor \(weights) must be symmetric (zero point 0)") }
            for (position, role) in [(2, "bias"), (3, "multiplier"), (4, "shift")] {
                let t = op.inputs[position]
                try constant(t, role)
                if tensors[t].dataType != .int32 || tensors[t].elementCount != channels {
                    throw fail("\(role) tensor \(t) must be a constant int32[\(channels)]")
                }
            }
        }

        let outShape = tensors[out].shape
        switch op.kind {
        case .conv2d:
            try arity(quantized ? 5...5 : 2...3)
            try attributesZero(from: quantized ? 12 : 11)
            if quantized { try roundingMode(a[11]) }
            let x = try feature(op.inputs[0])
            try constant(op.inputs[1], "weight")
            let w = tensors[op.inputs[1]].shape
            var g = try window(a, x: x, fail: fail)
            g.dilationHeight = Int(a[8]); g.dilationWidth = Int(a[9]); g.groups = Int(a[10])
            if g.dilationHeight < 1 || g.dilationWidth < 1 || g.dilationHeight > 64 || g.dilationWidth > 64 { throw fail("dilation \(a[8])×\(a[9]) is not between 1 and 64") }
            if g.groups < 1 || g.channelsIn % g.groups != 0 { throw fail("\(g.groups) groups do not divide \(g.channelsIn) input channels") }
            if w.rank != 4 || w[1] != g.channelsIn / g.groups || w[2] != g.kernelHeight || w[3] != g.kernelWidth || w[0] % g.groups != 0 {
                throw fail("weight shape \(w) does not match [Cout, \(g.channelsIn / g.groups), \(g.kernelHeight), \(g.kernelWidth)] with \(g.groups) groups")
            }
            g.channelsOut = w[0]
            try outputSize(&g, fail: fail)
            if quantized {
                try quantizedParameters(weights: op.inputs[1], channels: g.channelsOut)
            } else if op.inputs.count == 3 {
                try constant(op.inputs[2], "bias")
                if tensors[op.inputs[2]].elementCount != g.channelsOut { throw fail("bias has \(tensors[op.inputs[2]].elementCount) elements for \(g.channelsOut) output channels") }
            }
            try expectShape(TensorShape([1, g.channelsOut, g.heightOut, g.widthOut]))
            op.geometry = g
            let kernelArea = g.kernelHeight * g.kernelWidth
            op.macs = g.channelsOut * g.heightOut * g.widthOut * (g.channelsIn / g.groups) * kernelArea
            if g.groups == 1 {
                if kernelArea == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0 {
                    op.convolutionPath = .pointwise
                } else {
                    op.convolutionPath = .im2col
                    op.scratchBytes = g.channelsIn * kernelArea * FloatKernels.paddedColumns(g.heightOut * g.widthOut) * 4
                }
                if quantized {
                    // int8 always gathers its input into Int16 patch rows, one per output pixel.
                    op.scratchBytes = Int8Kernels.patchScratchBytes(k: g.channelsIn * kernelArea, n: g.heightOut * g.widthOut)
                }
            } else if g.groups == g.channelsIn && g.channelsOut == g.channelsIn {
                op.convolutionPath = .depthwise
            } else {
                op.convolutionPath = .grouped
            }

        case .fullyConnected:
            try arity(quantized ? 5...5 : 2...3)
            try attributesZero(from: quantized ? 1 : 0)
            if quantized { try roundingMode(a[0]) }
            try constant(op.inputs[1], "weight")
            let x = tensors[op.inputs[0]].shape
            let w = tensors[op.inputs[1]].shape
            if x[0] != 1 { throw fail("input tensor \(op.inputs[0]) has batch \(x[0]); batch 1 is required") }
            if w.rank != 2 || w[1] != tensors[op.inputs[0]].elementCount {
                throw fail("weight shape \(w) does not match [out, \(tensors[op.inputs[0]].elementCount)]")
            }
            if quantized {
                try quantizedParameters(weights: op.inputs[1], channels: w[0])
            } else if op.inputs.count == 3 {
                try constant(op.inputs[2], "bias")
                if tensors[op.inputs[2]].elementCount != w[0] { throw fail("bias has \(tensors[op.inputs[2]].elementCount) elements for \(w[0]) outputs") }
            }
            try expectShape(TensorShape([1, w[0]]))
            op.macs = w[0] * w[1]

        case .add, .mul:
            try arity(2...2)
            if quantized && op.kind == .add {
                try attributesZero(from: 7)
                if a[0] < 0 || a[0] > 22 { throw fail("left shift \(a[0]) is not between 0 and 22") }
                for pair in [(1, 2), (3, 4), (5, 6)] { try multiplier(a[pair.0], a[pair.1]) }
            } else if quantized {
                try attributesZero(from: 2)
                try multiplier(a[0], a[1])
            } else {
                try attributesZero(from: 0)
            }
            guard let shape = broadcastShape(tensors[op.inputs[0]].shape, tensors[op.inputs[1]].shape) else {
                throw fail("input shapes \(tensors[op.inputs[0]].shape) and \(tensors[op.inputs[1]].shape) do not broadcast")
            }
            try expectShape(shape)
            op.macs = op.kind == .mul ? shape.elementCount : 0

        case .relu, .tanh, .sigmoid:
            try arity(quantized && op.kind != .relu ? 2...2 : 1...1)
            try attributesZero(from: 0)
            try expectShape(tensors[op.inputs[0]].shape)
            if quantized && op.kind == .relu { try sameQuantization(op.inputs[0]) }
            if quantized && op.kind != .relu { try table(op.inputs[1], .int8) }

        case .batchNorm:
            try arity(quantized ? 5...5 : 3...3)
            try attributesZero(from: quantized ? 1 : 0)
            if quantized { try roundingMode(a[0]) }
            let x = tensors[op.inputs[0]].shape
            if x.rank < 2 || x[0] != 1 { throw fail("input shape \(x) must be [1, C, ...]") }
            if quantized {
                if tensors[op.inputs[1]].shape.rank != 1 { throw fail("scale must be a vector of \(x[1]) values") }
                try quantizedParameters(weights: op.inputs[1], channels: x[1])
            } else {
                try constant(op.inputs[1], "scale")
                try constant(op.inputs[2], "shift")
                for role in 1...2 where tensors[op.inputs[role]].elementCount != x[1] {
                    throw fail("\(role == 1 ? "scale" : "shift") has \(tensors[op.inputs[role]].elementCount) elements for \(x[1]) channels")
                }
            }
            try expectShape(x)
            op.macs = x.elementCount

        case .maxPool, .avgPool:
            try arity(1...1)
            try attributesZero(from: 9)
            let x = try feature(op.inputs[0])
            var g = try window(a, x: x, fail: fail)
            if a[8] != 0 && a[8] != 1 { throw fail("count-include-pad flag is \(a[8]); 0 or 1 required") }
            if op.kind == .maxPool && a[8] != 0 { throw fail("count-include-pad applies to average pooling only") }
            g.channelsOut = g.channelsIn
            try outputSize(&g, fail: fail)
            if g.padTop >= g.kernelHeight || g.padBottom >= g.kernelHeight || g.padLeft >= g.kernelWidth || g.padRight >= g.kernelWidth {
                throw fail("padding must be smaller than the pooling window")
            }
            try expectShape(TensorShape([1, g.channelsOut, g.heightOut, g.widthOut]))
            if quantized { try sameQuantization(op.inputs[0]) }
            op.geometry = g

        case .globalAvgPool:
            try arity(1...1)
            try attributesZero(from: 0)
            let x = try feature(op.inputs[0])
            try expectElements(x[1])
            if outShape[0] != 1 || outShape[1] != x[1] { throw fail("output tensor \(out) has shape \(outShape); [1, \(x[1])] or [1, \(x[1]), 1, 1] expected") }
            if quantized { try sameQuantization(op.inputs[0]) }
            var g = WindowGeometry()
            g.channelsIn = x[1]; g.heightIn = x[2]; g.widthIn = x[3]; g.channelsOut = x[1]
            op.geometry = g

        case .softmax:
            try arity(quantized ? 2...2 : 1...1)
            try attributesZero(from: quantized ? 2 : 1)
            let x = tensors[op.inputs[0]].shape
            let axis = Int(a[0])
            if axis < 0 || axis >= x.rank { throw fail("axis \(axis) is not between 0 and \(x.rank - 1)") }
            if quantized {
                if axis != x.rank - 1 { throw fail("int8 softmax runs over the last axis only, axis \(axis) given") }
                if a[1] <= 0 { throw fail("inverse output scale \(a[1]) must be positive") }
                try table(op.inputs[1], .int32)
            }
            try expectShape(x)
            op.axis = axis

        case .matmul:
            try arity(2...2)
            try attributesZero(from: quantized ? 2 : 0)
            if quantized { try multiplier(a[0], a[1]) }
            let lhs = tensors[op.inputs[0]].shape
            let rhs = tensors[op.inputs[1]].shape
            if lhs.rank < 2 || rhs.rank < 2 || lhs.rank != rhs.rank {
                throw fail("input shapes \(lhs) and \(rhs) must have the same rank, at least 2")
            }
            let rank = lhs.rank
            let m = lhs[rank - 2], k = lhs[rank - 1], n = rhs[rank - 1]
            if rhs[rank - 2] != k { throw fail("inner dimensions differ: \(lhs) × \(rhs)") }
            var dims: [Int] = []
            var batch = 1
            for axis in 0..<(rank - 2) {
                if lhs[axis] != rhs[axis] && lhs[axis] != 1 && rhs[axis] != 1 {
                    throw fail("batch dimensions of \(lhs) and \(rhs) do not broadcast")
                }
                dims.append(max(lhs[axis], rhs[axis]))
                batch *= max(lhs[axis], rhs[axis])
            }
            dims.append(m); dims.append(n)
            try expectShape(TensorShape(dims))
            op.macs = batch * m * n * k

        case .transpose:
            try arity(1...1)
            let x = tensors[op.inputs[0]].shape
            try attributesZero(from: x.rank)
            var seen = [Bool](repeating: false, count: x.rank)
            var dims: [Int] = []
            for axis in 0..<x.rank {
                let source = Int(a[axis])
                if source < 0 || source >= x.rank || seen[source] { throw fail("permutation attribute \(axis) is \(source); a permutation of 0..<\(x.rank) is required") }
                seen[source] = true
                dims.append(x[source])
            }
            try expectShape(TensorShape(dims))
            if quantized { try sameQuantization(op.inputs[0]) }

        case .reshape:
            try arity(1...1)
            try attributesZero(from: 0)
            try expectElements(tensors[op.inputs[0]].elementCount)
            if quantized { try sameQuantization(op.inputs[0]) }

        case .concat:
            try attributesZero(from: 1)
            let first = tensors[op.inputs[0]].shape
            let axis = Int(a[0])
            if axis < 0 || axis >= first.rank { throw fail("axis \(axis) is not between 0 and \(first.rank - 1)") }
            var total = 0
            for tensor in op.inputs {
                let shape = tensors[tensor].shape
                if shape.rank != first.rank { throw fail("input tensor \(tensor) has rank \(shape.rank), the first input has \(first.rank)") }
                for dim in 0..<shape.rank where dim != axis && shape[dim] != first[dim] {
                    throw fail("input tensor \(tensor) has shape \(shape), which differs from \(first) outside axis \(axis)")
                }
                total += shape[axis]
            }
            var expected = first
            expected[axis] = total
            try expectShape(expected)
            if quantized { for tensor in op.inputs { try sameQuantization(tensor) } }
            op.axis = axis
        }
        producer[out] = index
    }

    /// Reads the kernel, stride and padding attributes shared by convolution and pooling.
    static func window(_ a: [Int32], x: TensorShape, fail: (String) -> ModelError) throws(ModelError) -> WindowGeometry {
        var g = WindowGeometry()
        g.channelsIn = x[1]; g.heightIn = x[2]; g.widthIn = x[3]
        g.kernelHeight = Int(a[0]); g.kernelWidth = Int(a[1])
        g.strideHeight = Int(a[2]); g.strideWidth = Int(a[3])
        g.padTop = Int(a[4]); g.padLeft = Int(a[5]); g.padBottom = Int(a[6]); g.padRight = Int(a[7])
        if g.kernelHeight < 1 || g.kernelWidth < 1 || g.kernelHeight > 64 || g.kernelWidth > 64 {
            throw fail("kernel \(a[0])×\(a[1]) is not between 1×1 and 64×64")
        }
        if g.strideHeight < 1 || g.strideWidth < 1 || g.strideHeight > 64 || g.strideWidth > 64 {
            throw fail("stride \(a[2])×\(a[3]) is not between 1 and 64")
        }
        for pad in [g.padTop, g.padLeft, g.padBottom, g.padRight] where pad < 0 || pad > 64 {
            throw fail("padding \(pad) is not between 0 and 64")
        }
        return g
    }

    /// Computes the output height and width of a window; throws when the window does not fit.
    static func outputSize(_ g: inout WindowGeometry, fail: (String) -> ModelError) throws(ModelError) {
        let spanHeight = g.dilationHeight * (g.kernelHeight - 1) + 1
        let spanWidth = g.dilationWidth * (g.kernelWidth - 1) + 1
        let paddedHeight = g.heightIn + g.padTop + g.padBottom
        let paddedWidth = g.widthIn + g.padLeft + g.padRight
        if paddedHeight < spanHeight || paddedWidth < spanWidth {
            throw fail("the \(spanHeight)×\(spanWidth) window does not fit the padded \(paddedHeight)×\(paddedWidth) input")
        }
        g.heightOut = (paddedHeight - spanHeight) / g.strideHeight + 1
        g.widthOut = (paddedWidth - spanWidth) / g.strideWidth + 1
    }

    /// The NumPy broadcast of two shapes, or nil when they do not broadcast.
    static func broadcastShape(_ lhs: TensorShape, _ rhs: TensorShape) -> TensorShape? {
        let rank = max(lhs.rank, rhs.rank)
        var dims = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let l = axis < rank - lhs.rank ? 1 : lhs[axis - (rank - lhs.rank)]
            let r = axis < rank - rhs.rank ? 1 : rhs[axis - (rank - rhs.rank)]
            if l != r && l != 1 && r != 1 { return nil }
            dims[axis] = max(l, r)
        }
        return TensorShape(dims)
    }
}
