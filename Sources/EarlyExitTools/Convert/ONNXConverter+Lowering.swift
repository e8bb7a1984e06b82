// Lowering of each supported ONNX operator to runtime operators or folded constants.
import EarlyExit

extension ONNXConverter {
    /// Lowers one ONNX node; its outputs become named values.
    mutating func lower(_ node: ONNXNode) throws {
        let name = node.reportedName
        func fail(_ message: String) -> ConversionError { ConversionError(node: name, opType: node.opType, message) }
        if !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw fail("operator domain '\(node.domain)' is not supported (only the default ai.onnx domain is)")
        }
        // Inputs: empty names are optional inputs left out.
        var inputs: [Int?] = []
        for input in node.inputs {
            if input.isEmpty { inputs.append(nil); continue }
            guard let value = names[input] else { throw fail("input '\(input)' is not produced by any earlier node, initializer or graph input") }
            inputs.append(value)
        }
        func input(_ index: Int, _ role: String) throws -> Int {
            guard index < inputs.count, let value = inputs[index] else { throw fail("missing input \(index) (\(role))") }
            return value
        }
        func constantFloats(_ index: Int, _ role: String) throws -> [Float] {
            let value = try input(index, role)
            guard let floats = values[value].floats else {
                throw fail("input \(index) (\(role)) must be a float constant (an initializer), not computed at run time")
            }
            return floats
        }
        func constantInts(_ index: Int, _ role: String) throws -> [Int64] {
            let value = try input(index, role)
            guard let ints = values[value].ints else { throw fail("input \(index) (\(role)) must be a constant integer tensor") }
            return ints
        }
        func ints(_ attribute: String) throws -> [Int]? {
            guard let list = try node.ints(attribute) else { return nil }
            return try list.map { value in
                guard value >= Int64(Int32.min), value <= Int64(Int32.max) else { throw fail("attribute \(attribute) value \(value) is out of range") }
                return Int(value)
            }
        }
        func int(_ attribute: String, default fallback: Int) throws -> Int {
            guard let value = try node.int(attribute) else { return fallback }
            guard value >= Int64(Int32.min), value <= Int64(Int32.max) else { throw fail("attribute \(attribute) value \(value) is out of range") }
            return Int(value)
        }
        func normalizedAxis(_ axis: Int, rank: Int) throws -> Int {
            let normalized = axis < 0 ? axis + rank : axis
            if normalized < 0 || normalized >= rank { throw fail("axis \(axis) is out of range for rank \(rank)") }
            return normalized
        }
        func setOutput(_ value: Int, _ index: Int = 0) throws {
            guard index < node.outputs.count else { throw fail("has no output \(index)") }
            names[node.outputs[index]] = value
        }
        func allConstant() -> Bool { inputs.allSatisfy { $0 == nil || values[$0!].isConstant } }
        func requireRankAtMost4(_ shape: [Int]) throws {
            if shape.count > 4 || shape.isEmpty { throw fail("tensor of rank \(shape.count) is not supported (ranks 1 to 4 are)") }
        }

        switch node.opType {
        case "Constant":
            if let tensor = try node.tensor("value") {
                try setOutput(try addConstant(tensor, context: "node '\(name)' (Constant)"))
            } else if let value = try node.float("value_float") {
                try setOutput(newConstant([], floats: [value]))
            } else if let list = try node.floats("value_floats") {
                try setOutput(newConstant([list.count], floats: list))
            } else if let value = try node.int("value_int") {
                try setOutput(newConstant([], ints: [value]))
            } else if let list = try node.ints("value_ints") {
                try setOutput(newConstant([list.count], ints: list))
            } else {
                throw fail("only value, value_float(s) and value_int(s) constants are supported")
            }
            report.foldedConstantNodes += 1

        case "Identity", "Dropout":
            try setOutput(try input(0, "input"))

        case "Shape":
            let source = values[try input(0, "data")].shape
            var start = try int("start", default: 0), end = try int("end", default: source.count)
            if start < 0 { start += source.count }
            if end < 0 { end += source.count }
            start = max(0, min(start, source.count)); end = max(start, min(end, source.count))
            try setOutput(newConstant([end - start], ints: source[start..<end].map { Int64($0) }))
            report.foldedConstantNodes += 1

        case "Gather":
            let data = try input(0, "data")
            guard allConstant(), let indices = values[try input(1, "indices")].ints else {
                throw fail("Gather is supported only on constants (shape arithmetic); here it would run at inference")
            }
            let shape = values[data].shape
            let axis = try normalizedAxis(try int("axis", default: 0), rank: max(shape.count, 1))
            if shape.count != 1 || axis != 0 { throw fail("Gather is supported on 1-D constants only") }
            var gathered: [Int64] = [], gatheredFloats: [Float] = []
            for index in indices {
                let position = Int(index < 0 ? index + Int64(shape[0]) : index)
                if position < 0 || position >= shape[0] { throw fail("index \(index) is out of range for \(shape[0]) elements") }
                if let ints = values[data].ints { gathered.append(ints[position]) }
                if let floats = values[data].floats { gatheredFloats.append(floats[position]) }
            }
            let outShape = values[try input(1, "indices")].shape
            try setOutput(values[data].ints != nil ? newConstant(outShape, ints: gathered) : newConstant(outShape, floats: gatheredFloats))
            report.foldedConstantNodes += 1

        case "Unsqueeze", "Squeeze":
            let data = try input(0, "data")
            let shape = values[data].shape
            var axes: [Int]
            if opset >= 13 {
                axes = inputs.count > 1 && inputs[1] != nil ? try constantInts(1, "axes").map { Int($0) } : []
            } else {
                axes = try ints("axes") ?? []
            }
            var outShape: [Int]
            if node.opType == "Unsqueeze" {
                let rank = shape.count + axes.count
                axes = try axes.map { try normalizedAxis($0, rank: rank) }
                outShape = []
                var source = 0
                for axis in 0..<rank {
                    if axes.contains(axis) { outShape.append(1) } else { outShape.append(shape[source]); source += 1 }
                }
            } else {
                axes = try axes.map { try normalizedAxis($0, rank: shape.count) }
                if axes.isEmpty { axes = shape.indices.filter { shape[$0] == 1 } }
                for axis in axes where shape[axis] != 1 { throw fail("cannot squeeze axis \(axis) of size \(shape[axis])") }
                outShape = shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
            }
            try setOutput(try reshape(data, to: outShape, source: name, fail: fail))

        case "Concat":
            let parts = try (0..<inputs.count).map { try input($0, "input \($0)") }
            let rank = values[parts[0]].shape.count
            let axis = try normalizedAxis(try int("axis", default: 0), rank: max(rank, 1))
            if allConstant() {
                if rank != 1 { throw fail("constant Concat is supported for 1-D tensors only") }
                if parts.allSatisfy({ values[$0].ints != nil }) {
                    let joined = parts.flatMap { values[$0].ints! }
                    try setOutput(newConstant([joined.count], ints: joined))
                } else {
                    let joined = try parts.flatMap { part -> [Float] in
                        guard let floats = values[part].floats else { throw fail("cannot concatenate integer and float constants") }
                        return floats
                    }
                    try setOutput(newConstant([joined.count], floats: joined))
                }
                report.foldedConstantNodes += 1
            } else {
                var outShape = values[parts[0]].shape
                try requireRankAtMost4(outShape)
                outShape[axis] = 0
                for part in parts {
                    let shape = values[part].shape
                    if shape.count != rank { throw fail("inputs have different ranks") }
                    for dim in 0..<rank where dim != axis && shape[dim] != values[parts[0]].shape[dim] {
                        throw fail("input shapes \(values[parts[0]].shape) and \(shape) differ outside axis \(axis)")
                    }
                    outShape[axis] += shape[axis]
                }
                let materialized = parts.map { materialize($0) }
                try setOutput(emit(.concat, materialized, shape: outShape, attributes: [Int32(axis)], source: name))
            }

        case "Reshape":
            let data = try input(0, "data")
            let target = try constantInts(1, "shape")
            let allowZero = try int("allowzero", default: 0) == 1
            let shape = values[data].shape
            var outShape: [Int] = []
            var inferred = -1
            for (axis, dim) in target.enumerated() {
                if dim == 0 && !allowZero {
                    if axis >= shape.count { throw fail("shape entry \(axis) is 0 (copy) but the input has rank \(shape.count)") }
                    outShape.append(shape[axis])
                } else if dim == -1 {
                    if inferred >= 0 { throw fail("more than one -1 in the target shape") }
                    inferred = axis
                    outShape.append(1)
                } else if dim < 0 || dim > 1 << 28 {
                    throw fail("invalid target dimension \(dim)")
                } else {
                    outShape.append(Int(dim))
                }
            }
            let total = shape.reduce(1, *)
            if inferred >= 0 {
                let known = outShape.reduce(1, *)
                if known == 0 || total % known != 0 { throw fail("cannot infer -1: \(total) elements into \(target)") }
                outShape[inferred] = total / known
            }
            if outShape.reduce(1, *) != total { throw fail("cannot reshape \(shape) (\(total) elements) to \(outShape)") }
            try setOutput(try reshape(data, to: outShape, source: name, fail: fail))

        case "Flatten":
            let data = try input(0, "input")
            let shape = values[data].shape
            let axis = try int("axis", default: 1)
            let split = axis < 0 ? axis + shape.count : axis
            if split < 0 || split > shape.count { throw fail("axis \(axis) is out of range for rank \(shape.count)") }
            let outShape = [shape[..<split].reduce(1, *), shape[split...].reduce(1, *)]
            try setOutput(try reshape(data, to: outShape, source: name, fail: fail))

        case "Transpose":
            let data = try input(0, "data")
            let shape = values[data].shape
            try requireRankAtMost4(shape)
            let perm = try ints("perm") ?? Array((0..<shape.count).reversed())
            if perm.sorted() != Array(0..<shape.count) { throw fail("perm \(perm) is not a permutation of the \(shape.count) axes") }
            if values[data].isConstant { throw fail("Transpose of a constant is not supported; fold it before export") }
            try setOutput(emit(.transpose, [data], shape: perm.map { shape[$0] }, attributes: perm.map { Int32($0) }, source: name))

        case "Conv":
            let x = try input(0, "X")
            let weights = try constantFloats(1, "W")
            let shape = values[x].shape
            let wShape = values[try input(1, "W")].shape
            if shape.count != 4 || shape[0] != 1 { throw fail("input shape \(shape) must be [1, C, H, W] (2-D convolution, batch 1)") }
            if wShape.count != 4 { throw fail("weight shape \(wShape) must be [Cout, Cin/group, kH, kW]") }
            let kernel = try ints("kernel_shape") ?? [wShape[2], wShape[3]]
            if kernel != [wShape[2], wShape[3]] { throw fail("kernel_shape \(kernel) does not match the weights \(wShape)") }
            let strides = try ints("strides") ?? [1, 1]
            let dilations = try ints("dilations") ?? [1, 1]
            let group = try int("group", default: 1)
            if strides.count != 2 || strides.contains(where: { $0 < 1 || $0 > 64 }) { throw fail("strides \(strides) are not supported") }
            if dilations.count != 2 || dilations.contains(where: { $0 < 1 || $0 > 64 }) { throw fail("dilations \(dilations) are not supported") }
            if group < 1 || shape[1] % group != 0 || wShape[1] * group != shape[1] || wShape[0] % group != 0 {
                throw fail("group \(group) does not match input channels \(shape[1]) and weights \(wShape)")
            }
            let pads = try padding(node, kernel: kernel, strides: strides, dilations: dilations, input: shape, fail: fail)
            let outH = (shape[2] + pads[0] + pads[2] - dilations[0] * (kernel[0] - 1) - 1) / strides[0] + 1
            let outW = (shape[3] + pads[1] + pads[3] - dilations[1] * (kernel[1] - 1) - 1) / strides[1] + 1
            if outH < 1 || outW < 1 { throw fail("the kernel does not fit the input \(shape)") }
            var operands = [x, newConstant(wShape, floats: weights)]
            if inputs.count > 2, let biasValue = inputs[2] {
                guard let bias = values[biasValue].floats, bias.count == wShape[0] else { throw fail("bias must be a float constant with \(wShape[0]) values") }
                operands.append(newConstant([wShape[0]], floats: bias))
            }
            let attributes = [kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1], pads[2], pads[3],
                              dilations[0], dilations[1], group].map { Int32($0) }
            let output = emit(.conv2d, operands, shape: [1, wShape[0], outH, outW], attributes: attributes, source: name)
            try setOutput(output)

        case "BatchNormalization":
            let x = try input(0, "X")
            if try int("training_mode", default: 0) != 0 { throw fail("training_mode=1 is not supported; export the model in eval mode") }
            if node.outputs.count > 1 && node.outputs[1...].contains(where: { !$0.isEmpty }) {
                throw fail("the running-statistics outputs are not supported; export the model in eval mode")
            }
            let gamma = try constantFloats(1, "scale"), beta = try constantFloats(2, "B")
            let mean = try constantFloats(3, "input_mean"), variance = try constantFloats(4, "input_var")
            let epsilon = try node.float("epsilon") ?? 1e-5
            let shape = values[x].shape
            if shape.count < 2 || shape[0] != 1 { throw fail("input shape \(shape) must be [1, C, ...]") }
            let channels = shape[1]
            for (role, list) in [("scale", gamma), ("B", beta), ("mean", mean), ("var", variance)] where list.count != channels {
                throw fail("\(role) has \(list.count) values for \(channels) channels")
            }
            var scale = [Float](repeating: 0, count: channels), shift = scale
            for c in 0..<channels {
                let s = Double(gamma[c]) / (Double(variance[c]) + Double(epsilon)).squareRoot()
                if !s.isFinite { throw fail("channel \(c) has a non-finite scale (variance \(variance[c]) + epsilon \(epsilon))") }
                scale[c] = Float(s)
                shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
            }
            try setOutput(emit(.batchNorm, [x, newConstant([channels], floats: scale), newConstant([channels], floats: shift)],
                               shape: shape, source: name))

        case "Relu", "Tanh", "Sigmoid":
            let x = try input(0, "X")
            if values[x].isConstant { throw fail("applying \(node.opType) to a constant is not supported") }
            let kind: OperatorKind = node.opType == "Relu" ? .relu : node.opType == "Tanh" ? .tanh : .sigmoid
            try setOutput(emit(kind, [x], shape: values[x].shape, source: name))

        case "Add", "Mul", "Sub", "Div":
            var a = try input(0, "A"), b = try input(1, "B")
            if values[a].isConstant && values[b].isConstant {
                try setOutput(try foldArithmetic(node.opType, a, b, fail: fail))
                report.foldedConstantNodes += 1
                return
            }
            var kind: OperatorKind = node.opType == "Add" ? .add : node.opType == "Mul" ? .mul : node.opType == "Sub" ? .sub : .div
            if kind == .sub || kind == .div, let floats = values[b].floats ?? values[b].ints?.map({ Float($0) }) {
                // By a constant: add its negation, or multiply by its reciprocal (the existing fast operators).
                if kind == .div, floats.contains(0) { throw fail("division by a constant that contains 0") }
                b = newConstant(values[b].shape, floats: kind == .sub ? floats.map { -$0 } : floats.map { 1 / $0 })
                kind = kind == .sub ? .add : .mul
            }
            guard let shape = broadcast(values[a].shape, values[b].shape) else {
                throw fail("shapes \(values[a].shape) and \(values[b].shape) do not broadcast")
            }
            try requireRankAtMost4(shape)
            a = materialize(a); b = materialize(b)
            try setOutput(emit(kind, [a, b], shape: shape, source: name))

        case "MatMul":
            var a = try input(0, "A"), b = try input(1, "B")
            var lhs = values[a].shape, rhs = values[b].shape
            if lhs.count < 2 || rhs.count < 2 { throw fail("1-D operands are not supported") }
            while lhs.count < rhs.count { lhs.insert(1, at: 0) }
            while rhs.count < lhs.count { rhs.insert(1, at: 0) }
            try requireRankAtMost4(lhs)
            if lhs != values[a].shape { a = try reshape(a, to: lhs, source: name, fail: fail) }
            if rhs != values[b].shape { b = try reshape(b, to: rhs, source: name, fail: fail) }
            let rank = lhs.count
            if lhs[rank - 1] != rhs[rank - 2] { throw fail("inner dimensions differ: \(lhs) × \(rhs)") }
            var outShape: [Int] = []
            for axis in 0..<(rank - 2) {
                if lhs[axis] != rhs[axis] && lhs[axis] != 1 && rhs[axis] != 1 { throw fail("batch dimensions of \(lhs) and \(rhs) do not broadcast") }
                outShape.append(max(lhs[axis], rhs[axis]))
            }
            outShape += [lhs[rank - 2], rhs[rank - 1]]
            try setOutput(emit(.matmul, [materialize(a), materialize(b)], shape: outShape, source: name))

        case "Gemm":
            let a = try input(0, "A")
            let weights = try constantFloats(1, "B")
            let aShape = values[a].shape, bShape = values[try input(1, "B")].shape
            if try int("transA", default: 0) != 0 { throw fail("transA=1 is not supported") }
            if aShape.count != 2 || aShape[0] != 1 { throw fail("input A has shape \(aShape); [1, K] is required (batch 1)") }
            if bShape.count != 2 { throw fail("B must be a matrix") }
            let transB = try int("transB", default: 0) != 0
            let k = aShape[1]
            let n = transB ? bShape[0] : bShape[1]
            if (transB ? bShape[1] : bShape[0]) != k { throw fail("B has shape \(bShape), which does not match A \(aShape) (transB=\(transB ? 1 : 0))") }
            let alpha = try node.float("alpha") ?? 1, beta = try node.float("beta") ?? 1
            var matrix = [Float](repeating: 0, count: n * k)
            for row in 0..<n {
                for column in 0..<k {
                    matrix[row * k + column] = alpha * (transB ? weights[row * k + column] : weights[column * n + row])
                }
            }
            var operands = [a, newConstant([n, k], floats: matrix)]
            if inputs.count > 2, inputs[2] != nil {
                let c = try constantFloats(2, "C")
                let bias: [Float]
                if c.count == n { bias = c.map { beta * $0 } } else if c.count == 1 { bias = [Float](repeating: beta * c[0], count: n) } else {
                    throw fail("C has \(c.count) values; \(n) or 1 are supported")
                }
                operands.append(newConstant([n], floats: bias))
            }
            try setOutput(emit(.fullyConnected, operands, shape: [1, n], source: name))

        case "GlobalAveragePool":
            let x = try input(0, "X")
            let shape = values[x].shape
            if shape.count != 4 || shape[0] != 1 { throw fail("input shape \(shape) must be [1, C, H, W]") }
            try setOutput(emit(.globalAvgPool, [x], shape: [1, shape[1], 1, 1], source: name))

        case "MaxPool", "AveragePool":
            let x = try input(0, "X")
            let shape = values[x].shape
            if shape.count != 4 || shape[0] != 1 { throw fail("input shape \(shape) must be [1, C, H, W]") }
            if node.outputs.count > 1 && !node.outputs[1].isEmpty { throw fail("the Indices output is not supported") }
            guard let kernel = try ints("kernel_shape"), kernel.count == 2 else { throw fail("kernel_shape must have 2 values") }
            let strides = try ints("strides") ?? [1, 1]
            if try int("ceil_mode", default: 0) != 0 { throw fail("ceil_mode=1 is not supported") }
            if let dilations = try ints("dilations"), dilations.contains(where: { $0 != 1 }) { throw fail("dilations other than 1 are not supported") }
            let pads = try padding(node, kernel: kernel, strides: strides, dilations: [1, 1], input: shape, fail: fail)
            let includePad = node.opType == "AveragePool" ? try int("count_include_pad", default: 0) : 0
            if strides.count != 2 || strides.contains(where: { $0 < 1 }) { throw fail("strides \(strides) are not supported") }
            let outH = (shape[2] + pads[0] + pads[2] - kernel[0]) / strides[0] + 1
            let outW = (shape[3] + pads[1] + pads[3] - kernel[1]) / strides[1] + 1
            if outH < 1 || outW < 1 { throw fail("the pooling window does not fit the input \(shape)") }
            let attributes = [kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1], pads[2], pads[3], includePad].map { Int32($0) }
            try setOutput(emit(node.opType == "MaxPool" ? .maxPool : .avgPool, [x], shape: [1, shape[1], outH, outW],
                               attributes: attributes, source: name))

        case "Softmax":
            let x = try input(0, "input")
            let shape = values[x].shape
            try requireRankAtMost4(shape)
            let axis = try normalizedAxis(try int("axis", default: opset >= 13 ? -1 : 1), rank: shape.count)
            if opset < 13 && axis != shape.count - 1 {
                // Before opset 13 the input is flattened to 2-D at `axis`: softmax over all trailing axes.
                let flat = [shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *)]
                let reshaped = try reshape(x, to: flat, source: name, fail: fail)
                let soft = emit(.softmax, [reshaped], shape: flat, attributes: [1], source: name)
                try setOutput(try reshape(soft, to: shape, source: name, fail: fail))
            } else {
                try setOutput(emit(.softmax, [x], shape: shape, attributes: [Int32(axis)], source: name))
            }

        default:
            if try lowerBreadth(node, inputs: inputs) { return }
            var error = fail(ONNXConverter.unsupportedMessage(node.opType))
            error.isUnsupportedOperator = true
            throw error
        }
    }

    /// The message for an operator type the converter does not lower: the rewrite that avoids
    /// it where one exists, and the supported set.
    static func unsupportedMessage(_ opType: String) -> String {
        let rewrite = unsupportedRewrites[opType].map { "; \($0)" } ?? ""
        return "operator type '\(opType)' is not supported\(rewrite)"
    }

    /// Rewrites in the PyTorch source that avoid an unsupported operator.
    static let unsupportedRewrites: [String: String] = [
        "Upsample": "re-export with operator set 11 or later, where upsampling is Resize (nearest and linear are supported)",
    ]

    static let supportedOperators = ["Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Clip", "Concat", "Constant",
                                     "ConstantOfShape", "Conv", "Div", "Dropout", "Einsum", "Expand", "Flatten", "Gather", "Gemm",
                                     "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu",
                                     "MatMul", "MaxPool", "Mul", "Pad", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape",
                                     "Resize", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Squeeze", "Sub", "Tanh",
                                     "Transpose", "Unsqueeze"]

    /// A reshaped value: folded for constants, a `reshape` operator for activations.
    mutating func reshape(_ value: Int, to shape: [Int], source: String, fail: (String) -> ConversionError) throws -> Int {
        if shape.reduce(1, *) != values[value].shape.reduce(1, *) { throw fail("cannot reshape \(values[value].shape) to \(shape)") }
        if values[value].isConstant {
            var copy = values[value]
            copy.shape = shape
            values.append(copy)
            return values.count - 1
        }
        if shape.count > 4 || shape.isEmpty { throw fail("tensor of rank \(shape.count) is not supported (ranks 1 to 4 are)") }
        if shape == values[value].shape { return value }
        return emit(.reshape, [value], shape: shape, source: source)
    }

    /// Constants used as operator inputs need rank ≥ 1 and float data.
    mutating func materialize(_ value: Int) -> Int {
        guard values[value].isConstant else { return value }
        if values[value].floats == nil, let ints = values[value].ints {
            values[value].floats = ints.map { Float($0) }
            values[value].ints = nil
        }
        if values[value].shape.isEmpty { values[value].shape = [1] }
        return value
    }

    func broadcast(_ lhs: [Int], _ rhs: [Int]) -> [Int]? {
        let rank = max(lhs.count, rhs.count)
        var out: [Int] = []
        for axis in 0..<rank {
            let l = axis < rank - lhs.count ? 1 : lhs[axis - (rank - lhs.count)]
            let r = axis < rank - rhs.count ? 1 : rhs[axis - (rank - rhs.count)]
            if l != r && l != 1 && r != 1 { return nil }
            out.append(max(l, r))
        }
        return out
    }

    /// Explicit padding [top, left, bottom, right] from `pads` or `auto_pad`.
    func padding(_ node: ONNXNode, kernel: [Int], strides: [Int], dilations: [Int], input: [Int],
                 fail: (String) -> ConversionError) throws -> [Int] {
        let autoPad = try node.string("auto_pad") ?? "NOTSET"
        switch autoPad {
        case "NOTSET":
            guard let pads = try node.ints("pads") else { return [0, 0, 0, 0] }
            if pads.count != 4 || pads.contains(where: { $0 < 0 || $0 > 64 }) { throw fail("pads \(pads) are not supported (4 values from 0 to 64)") }
            // ONNX order: [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].
            return pads.map { Int($0) }
        case "VALID":
            return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var result = [0, 0, 0, 0]
            for axis in 0..<2 {
                let size = input[2 + axis]
                let out = (size + strides[axis] - 1) / strides[axis]
                let total = max(0, (out - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - size)
                let small = total / 2, large = total - small
                result[axis] = autoPad == "SAME_UPPER" ? small : large
                result[axis + 2] = autoPad == "SAME_UPPER" ? large : small
            }
            return result
        default:
            throw fail("auto_pad=\(autoPad) is not supported")
        }
    }
}
