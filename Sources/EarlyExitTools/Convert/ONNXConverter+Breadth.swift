// Lowering of the ONNX operators added for import breadth (issue 14): Clip, HardSigmoid,
// HardSwish, LeakyRelu, ReduceSum/ReduceMax (and ReduceMean over any axes), GlobalMaxPool,
// Expand, Slice, Split, Pad, Resize, Einsum, Cast/CastLike, ConstantOfShape, and the folding
// of constant subgraphs (Shape → Slice → Concat, Expand or Cast of constants, arithmetic on
// constants).
import EarlyExit

extension ONNXConverter {
    /// The inputs and attributes of one node, with errors that name it.
    struct NodeContext {
        let node: ONNXNode
        let inputs: [Int?]

        func fail(_ message: String) -> ConversionError { ConversionError(node: node.reportedName, opType: node.opType, message) }

        func input(_ index: Int, _ role: String) throws -> Int {
            guard index < inputs.count, let value = inputs[index] else { throw fail("missing input \(index) (\(role))") }
            return value
        }

        func has(_ index: Int) -> Bool { index < inputs.count && inputs[index] != nil }

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
    }

    /// The IEEE-754 bits of a float, as an attribute word.
    static func word(_ value: Float) -> Int32 { Int32(bitPattern: value.bitPattern) }

    /// Lowers the node when its operator is one of this file's; false when it is not.
    mutating func lowerBreadth(_ node: ONNXNode, inputs: [Int?]) throws -> Bool {
        let c = NodeContext(node: node, inputs: inputs)
        let name = node.reportedName
        func setOutput(_ value: Int, _ index: Int = 0) throws {
            guard index < node.outputs.count else { throw c.fail("has no output \(index)") }
            names[node.outputs[index]] = value
        }
        func constantInts(_ index: Int, _ role: String) throws -> [Int64] {
            guard let ints = values[try c.input(index, role)].ints else {
                throw c.fail("input \(index) (\(role)) must be a constant integer tensor (computed at conversion), not computed at run time")
            }
            return ints
        }
        func constantScalar(_ index: Int, _ role: String) throws -> Float? {
            guard c.has(index) else { return nil }
            let value = values[try c.input(index, role)]
            guard value.isConstant else { throw c.fail("input \(index) (\(role)) must be a constant, not computed at run time") }
            let all = value.floats ?? value.ints!.map { Float($0) }
            if all.count != 1 { throw c.fail("input \(index) (\(role)) must be a single value, it has \(all.count)") }
            return all[0]
        }
        func activation(_ index: Int, _ role: String) throws -> Int {
            let value = try c.input(index, role)
            if values[value].isConstant { throw c.fail("applying \(node.opType) to a constant is not supported; fold it before export") }
            return value
        }
        func requireRank(_ shape: [Int]) throws {
            if shape.count > 4 || shape.isEmpty { throw c.fail("tensor of rank \(shape.count) is not supported (ranks 1 to 4 are)") }
        }

        switch node.opType {
        case "Clip":
            let x = try c.input(0, "input")
            let low = try constantScalar(1, "min") ?? -.infinity, high = try constantScalar(2, "max") ?? .infinity
            if low.isNaN || high.isNaN { throw c.fail("NaN bounds are not supported") }
            if let floats = values[x].floats {
                // ONNX: min > max sets every value to max.
                try setOutput(newConstant(values[x].shape, floats: floats.map { low > high ? high : min(max($0, low), high) }))
                report.foldedConstantNodes += 1
                return true
            }
            if low > high { throw c.fail("min \(low) > max \(high): every output would be \(high); export the constant instead") }
            try requireRank(values[x].shape)
            try setOutput(emit(.clip, [try activation(0, "input")], shape: values[x].shape,
                               attributes: [ONNXConverter.word(low), ONNXConverter.word(high)], source: name))

        case "HardSigmoid", "HardSwish", "LeakyRelu":
            let x = try activation(0, "X")
            try requireRank(values[x].shape)
            var attributes: [Int32] = []
            let kind: OperatorKind
            switch node.opType {
            case "HardSigmoid":
                kind = .hardSigmoid
                attributes = [ONNXConverter.word(try node.float("alpha") ?? 0.2), ONNXConverter.word(try node.float("beta") ?? 0.5)]
            case "HardSwish":
                kind = .hardSwish
            default:
                kind = .leakyRelu
                attributes = [ONNXConverter.word(try node.float("alpha") ?? 0.01)]
            }
            if attributes.contains(where: { !Float(bitPattern: UInt32(bitPattern: $0)).isFinite }) { throw c.fail("alpha and beta must be finite") }
            try setOutput(emit(kind, [x], shape: values[x].shape, attributes: attributes, source: name))

        case "ReduceSum", "ReduceMax", "ReduceMean":
            let x = try activation(0, "data")
            let shape = values[x].shape
            try requireRank(shape)
            // Axes are an input from opset 13 (ReduceSum) or 18 (the others), an attribute before.
            let axesAsInput = node.opType == "ReduceSum" ? opset >= 13 : opset >= 18
            var axes: [Int] = []
            if axesAsInput {
                if c.has(1) { axes = try constantInts(1, "axes").map { Int($0) } }
            } else {
                axes = (try node.ints("axes") ?? []).map { Int($0) }
            }
            let keep = try c.int("keepdims", default: 1) == 1
            if axes.isEmpty {
                if try c.int("noop_with_empty_axes", default: 0) == 1 {
                    try setOutput(x)
                    return true
                }
                axes = Array(shape.indices)
            }
            let normalized = Set(try axes.map { try c.normalizedAxis($0, rank: shape.count) })
            if node.opType == "ReduceMean" && shape.count == 4 && shape[0] == 1 && normalized == [2, 3] {
                try setOutput(emit(.globalAvgPool, [x], shape: keep ? [1, shape[1], 1, 1] : [1, shape[1]], source: name))
                return true
            }
            var outShape = shape.indices.compactMap { normalized.contains($0) ? (keep ? 1 : nil) : shape[$0] }
            if outShape.isEmpty { outShape = [1] }
            let mask = Int32(normalized.reduce(0) { $0 | (1 << $1) })
            let kind: OperatorKind = node.opType == "ReduceMax" ? .reduceMax : .reduceSum
            var y = emit(kind, [x], shape: outShape, attributes: [mask], source: name)
            if node.opType == "ReduceMean" {
                let count = normalized.reduce(1) { $0 * shape[$1] }
                y = emit(.mul, [y, newConstant([1], floats: [1 / Float(count)])], shape: outShape, source: name)
            }
            try setOutput(y)

        case "GlobalMaxPool":
            let x = try activation(0, "X")
            let shape = values[x].shape
            if shape.count != 4 || shape[0] != 1 { throw c.fail("input shape \(shape) must be [1, C, H, W]") }
            try setOutput(emit(.reduceMax, [x], shape: [1, shape[1], 1, 1], attributes: [0b1100], source: name))

        case "Expand":
            let x = try c.input(0, "input")
            let target = try constantInts(1, "shape").map { Int($0) }
            if target.contains(where: { $0 < 0 || $0 > 1 << 28 }) { throw c.fail("shape \(target) has an invalid dimension") }
            guard let outShape = broadcast(values[x].shape, target) else {
                throw c.fail("input shape \(values[x].shape) does not broadcast with \(target)")
            }
            if values[x].isConstant {
                try setOutput(foldExpand(x, to: outShape))
                report.foldedConstantNodes += 1
            } else if outShape == values[x].shape {
                try setOutput(x)
            } else {
                try requireRank(outShape)
                try setOutput(emit(.expand, [x], shape: outShape, source: name))
            }

        case "Slice":
            let x = try c.input(0, "data")
            let shape = values[x].shape
            let starts = try constantInts(1, "starts"), ends = try constantInts(2, "ends")
            let axes = c.has(3) ? try constantInts(3, "axes").map { Int($0) } : Array(0..<starts.count)
            let steps = c.has(4) ? try constantInts(4, "steps") : [Int64](repeating: 1, count: starts.count)
            if starts.count != ends.count || axes.count != starts.count || steps.count != starts.count {
                throw c.fail("starts, ends, axes and steps have different lengths")
            }
            var begin = [Int](repeating: 0, count: shape.count), step = [Int](repeating: 1, count: shape.count), outShape = shape
            var seen = Set<Int>()
            for (position, axis) in axes.enumerated() {
                let a = try c.normalizedAxis(axis, rank: shape.count)
                if !seen.insert(a).inserted { throw c.fail("axis \(axis) appears twice") }
                let (first, count) = try ONNXConverter.sliceRange(start: starts[position], end: ends[position], step: steps[position],
                                                                  extent: shape[a], fail: c.fail)
                begin[a] = first; step[a] = Int(steps[position]); outShape[a] = count
            }
            if outShape.contains(0) { throw c.fail("the slice of \(shape) is empty (\(outShape)); empty tensors are not supported") }
            try setOutput(try slice(x, begin: begin, step: step, outShape: outShape, source: name, fail: c.fail))

        case "Split":
            let x = try c.input(0, "input")
            let shape = values[x].shape
            let axis = try c.normalizedAxis(try c.int("axis", default: 0), rank: max(shape.count, 1))
            let outputs = node.outputs.count
            var sizes: [Int]
            if c.has(1) {
                sizes = try constantInts(1, "split").map { Int($0) }
            } else if let list = try node.ints("split") {
                sizes = list.map { Int($0) }
            } else {
                // Equal parts; from opset 18 num_outputs, the last part may be smaller.
                let parts = try c.int("num_outputs", default: outputs)
                if parts < 1 { throw c.fail("num_outputs \(parts) must be positive") }
                let size = (shape[axis] + parts - 1) / parts
                sizes = (0..<parts).map { min(size, max(0, shape[axis] - $0 * size)) }
            }
            if sizes.count != outputs || sizes.reduce(0, +) != shape[axis] || sizes.contains(where: { $0 < 1 }) {
                throw c.fail("split sizes \(sizes) do not divide axis \(axis) of \(shape) into \(outputs) non-empty outputs")
            }
            var offset = 0
            for (index, size) in sizes.enumerated() {
                var begin = [Int](repeating: 0, count: shape.count), outShape = shape
                begin[axis] = offset
                outShape[axis] = size
                offset += size
                if node.outputs[index].isEmpty { continue }
                try setOutput(try slice(x, begin: begin, step: [Int](repeating: 1, count: shape.count), outShape: outShape,
                                        source: name, fail: c.fail), index)
            }

        case "Pad":
            let x = try activation(0, "data")
            let shape = values[x].shape
            try requireRank(shape)
            let mode = try node.string("mode") ?? "constant"
            let modes = ["constant": 0, "reflect": 1, "edge": 2, "wrap": 3]
            guard let modeWord = modes[mode] else { throw c.fail("mode '\(mode)' is not supported (constant, reflect, edge, wrap are)") }
            let pads = try constantInts(1, "pads").map { Int($0) }
            let value = try constantScalar(2, "constant_value") ?? 0
            var axes = Array(shape.indices)
            if c.has(3) { axes = try constantInts(3, "axes").map { try c.normalizedAxis(Int($0), rank: shape.count) } }
            if pads.count != 2 * axes.count { throw c.fail("pads has \(pads.count) values for \(axes.count) axes") }
            var begins = [Int](repeating: 0, count: 4), ends = [Int](repeating: 0, count: 4)
            for (position, axis) in axes.enumerated() {
                begins[axis] = pads[position]; ends[axis] = pads[axes.count + position]
            }
            if begins.contains(where: { $0 < 0 }) || ends.contains(where: { $0 < 0 }) {
                throw c.fail("negative pads \(pads) (cropping) are not supported; slice the tensor instead")
            }
            if begins.contains(where: { $0 > 65_536 }) || ends.contains(where: { $0 > 65_536 }) { throw c.fail("pads \(pads) exceed 65536") }
            if !value.isFinite { throw c.fail("the constant value \(value) is not finite") }
            if begins.allSatisfy({ $0 == 0 }) && ends.allSatisfy({ $0 == 0 }) {
                try setOutput(x)
                return true
            }
            for axis in shape.indices {
                if mode == "reflect" && (begins[axis] >= shape[axis] || ends[axis] >= shape[axis]) && (begins[axis] > 0 || ends[axis] > 0) {
                    throw c.fail("reflect padding \(begins[axis]), \(ends[axis]) on axis \(axis) must be below its extent \(shape[axis])")
                }
                if mode == "wrap" && (begins[axis] > shape[axis] || ends[axis] > shape[axis]) {
                    throw c.fail("wrap padding \(begins[axis]), \(ends[axis]) on axis \(axis) must be at most its extent \(shape[axis])")
                }
            }
            let outShape = shape.indices.map { shape[$0] + begins[$0] + ends[$0] }
            let attributes = (begins + ends).map { Int32($0) } + [Int32(modeWord), mode == "constant" ? ONNXConverter.word(value) : 0]
            try setOutput(emit(.pad, [x], shape: outShape, attributes: attributes, source: name))

        case "Resize":
            try setOutput(try lowerResize(c))

        case "Einsum":
            try setOutput(try lowerEinsum(c))

        case "Cast", "CastLike":
            let x = try c.input(0, "input")
            let toFloat: Bool
            if node.opType == "Cast" {
                guard let to = try node.int("to"), let type = ONNXDataType(rawValue: Int32(truncatingIfNeeded: to)) else {
                    throw c.fail("attribute 'to' is missing or names an unknown type")
                }
                switch type {
                case .float, .double, .float16, .bfloat16: toFloat = true
                case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .bool: toFloat = false
                default: throw c.fail("casting to \(type) is not supported")
                }
            } else {
                let target = values[try c.input(1, "target_type")]
                toFloat = target.floats != nil || !target.isConstant
            }
            if let floats = values[x].floats, !toFloat {
                try setOutput(newConstant(values[x].shape, ints: try floats.map { value in
                    guard value.isFinite, abs(value) < 9.2e18 else { throw c.fail("cannot cast \(value) to an integer") }
                    return Int64(value) // truncation toward zero, as C casts
                }))
            } else if let ints = values[x].ints, toFloat {
                try setOutput(newConstant(values[x].shape, floats: ints.map { Float($0) }))
            } else if values[x].isConstant || toFloat {
                try setOutput(x) // already of the target kind (float activations stay float32)
            } else {
                throw c.fail("casting a float32 activation to an integer type is not supported")
            }
            if values[x].isConstant { report.foldedConstantNodes += 1 }

        case "ConstantOfShape":
            let dims = try constantInts(0, "input").map { Int($0) }
            if dims.contains(where: { $0 < 0 }) || dims.reduce(1, *) > 1 << 24 { throw c.fail("shape \(dims) is not supported") }
            let count = dims.reduce(1, *)
            if let tensor = try node.tensor("value") {
                let one = try addConstant(tensor, context: "node '\(name)' (ConstantOfShape) value")
                if let f = values[one].floats?.first {
                    try setOutput(newConstant(dims, floats: [Float](repeating: f, count: count)))
                } else {
                    try setOutput(newConstant(dims, ints: [Int64](repeating: values[one].ints?.first ?? 0, count: count)))
                }
            } else {
                try setOutput(newConstant(dims, floats: [Float](repeating: 0, count: count)))
            }
            report.foldedConstantNodes += 1

        default:
            return false
        }
        return true
    }

    // MARK: Slices

    /// ONNX Slice's clamping of one axis: the first element and the element count.
    static func sliceRange(start: Int64, end: Int64, step: Int64, extent: Int,
                           fail: (String) -> ConversionError) throws -> (first: Int, count: Int) {
        if step == 0 { throw fail("a step of 0 is not allowed") }
        if step < -65_536 || step > 65_536 { throw fail("step \(step) is not supported (−65536…65536)") }
        let n = Int64(extent)
        var s = start < 0 ? start &+ n : start, e = end < 0 ? end &+ n : end
        if step > 0 {
            s = min(max(s, 0), n); e = min(max(e, 0), n)
        } else {
            s = min(max(s, 0), n - 1); e = min(max(e, -1), n - 1)
        }
        let count = step > 0 ? max(0, (e - s + step - 1) / step) : max(0, (s - e + (-step) - 1) / (-step))
        return (Int(s), Int(count))
    }

    /// A slice of a value: folded for constants, a `slice` operator for activations.
    mutating func slice(_ value: Int, begin: [Int], step: [Int], outShape: [Int], source: String,
                        fail: (String) -> ConversionError) throws -> Int {
        let shape = values[value].shape
        if outShape == shape && begin.allSatisfy({ $0 == 0 }) && step.allSatisfy({ $0 == 1 }) { return value }
        if values[value].isConstant {
            let index = (0..<outShape.reduce(1, *)).map { flat -> Int in
                var rest = flat, offset = 0, scale = 1
                var positions = [Int](repeating: 0, count: shape.count)
                for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
                    positions[axis] = begin[axis] + (rest % outShape[axis]) * step[axis]
                    rest /= outShape[axis]
                }
                for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                    offset += positions[axis] * scale
                    scale *= shape[axis]
                }
                return offset
            }
            report.foldedConstantNodes += 1
            if let ints = values[value].ints { return newConstant(outShape, ints: index.map { ints[$0] }) }
            return newConstant(outShape, floats: index.map { values[value].floats![$0] })
        }
        if shape.count > 4 || shape.isEmpty { throw fail("tensor of rank \(shape.count) is not supported (ranks 1 to 4 are)") }
        let attributes = (0..<4).map { $0 < shape.count ? Int32(begin[$0]) : 0 } + (0..<4).map { $0 < shape.count ? Int32(step[$0]) : 0 }
        return emit(.slice, [value], shape: outShape, attributes: attributes, source: source)
    }

    /// A constant broadcast to `outShape`.
    mutating func foldExpand(_ value: Int, to outShape: [Int]) throws -> Int {
        let shape = values[value].shape
        let padded = [Int](repeating: 1, count: outShape.count - shape.count) + shape
        let index = (0..<outShape.reduce(1, *)).map { flat -> Int in
            var rest = flat, offset = 0, scale = 1
            for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
                let i = rest % outShape[axis]
                rest /= outShape[axis]
                offset += (padded[axis] == 1 ? 0 : i) * scale
                scale *= padded[axis]
            }
            return offset
        }
        if let ints = values[value].ints { return newConstant(outShape, ints: index.map { ints[$0] }) }
        return newConstant(outShape, floats: index.map { values[value].floats![$0] })
    }

    /// A transposed value: folded for constants, a `transpose` operator for activations.
    mutating func transpose(_ value: Int, perm: [Int], source: String) -> Int {
        if perm == Array(perm.indices) { return value }
        let shape = values[value].shape
        let outShape = perm.map { shape[$0] }
        if values[value].isConstant {
            var strides = [Int](repeating: 1, count: shape.count)
            for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
            let index = (0..<outShape.reduce(1, *)).map { flat -> Int in
                var rest = flat, offset = 0
                for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
                    offset += (rest % outShape[axis]) * strides[perm[axis]]
                    rest /= outShape[axis]
                }
                return offset
            }
            if let ints = values[value].ints { return newConstant(outShape, ints: index.map { ints[$0] }) }
            return newConstant(outShape, floats: index.map { values[value].floats![$0] })
        }
        return emit(.transpose, [value], shape: outShape, attributes: perm.map { Int32($0) }, source: source)
    }

    /// Add, Sub, Mul or Div of two constants (shape arithmetic), with broadcasting; integer
    /// when both are integers (division truncates toward zero, as onnxruntime).
    mutating func foldArithmetic(_ opType: String, _ a: Int, _ b: Int, fail: (String) -> ConversionError) throws -> Int {
        let lhs = values[a].shape, rhs = values[b].shape
        guard let outShape = broadcast(lhs, rhs) else { throw fail("shapes \(lhs) and \(rhs) do not broadcast") }
        if outShape.reduce(1, *) > 1 << 24 { throw fail("the folded constant would have \(outShape.reduce(1, *)) elements") }
        func positions(_ shape: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: outShape.count - shape.count) + shape
            return (0..<outShape.reduce(1, *)).map { flat in
                var rest = flat, offset = 0, scale = 1
                for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
                    let i = rest % outShape[axis]
                    rest /= outShape[axis]
                    offset += (padded[axis] == 1 ? 0 : i) * scale
                    scale *= padded[axis]
                }
                return offset
            }
        }
        let pa = positions(lhs), pb = positions(rhs)
        if let x = values[a].ints, let y = values[b].ints {
            let result = try zip(pa, pb).map { i, j -> Int64 in
                switch opType {
                case "Add": return x[i] &+ y[j]
                case "Sub": return x[i] &- y[j]
                case "Mul": return x[i] &* y[j]
                default:
                    if y[j] == 0 { throw fail("integer division by zero in a constant") }
                    return x[i] / y[j]
                }
            }
            return newConstant(outShape, ints: result)
        }
        let x = values[a].floats ?? values[a].ints!.map { Float($0) }, y = values[b].floats ?? values[b].ints!.map { Float($0) }
        let result = zip(pa, pb).map { i, j -> Float in
            switch opType {
            case "Add": return x[i] + y[j]
            case "Sub": return x[i] - y[j]
            case "Mul": return x[i] * y[j]
            default: return x[i] / y[j]
            }
        }
        return newConstant(outShape, floats: result)
    }

    // MARK: Resize

    /// The resized value (the input itself when the resize changes nothing).
    mutating func lowerResize(_ c: NodeContext) throws -> Int {
        let node = c.node
        let x = try c.input(0, "X")
        if values[x].isConstant { throw c.fail("resizing a constant is not supported; fold it before export") }
        let shape = values[x].shape
        if shape.count != 4 || shape[0] != 1 { throw c.fail("input shape \(shape) must be [1, C, H, W] (spatial resize, batch 1)") }
        let mode = try node.string("mode") ?? "nearest"
        let coordinates = try node.string("coordinate_transformation_mode") ?? "half_pixel"
        let rounding = try node.string("nearest_mode") ?? "round_prefer_floor"
        let modeWord: Int32
        switch mode {
        case "nearest": modeWord = 0
        case "linear": modeWord = 1
        default: throw c.fail("mode '\(mode)' is not supported (nearest and linear are; bicubic upsampling has no int8 form here)")
        }
        let coordinateModes = ["half_pixel": 0, "align_corners": 1, "asymmetric": 2, "pytorch_half_pixel": 3]
        guard let coordinateWord = coordinateModes[coordinates] else {
            throw c.fail("coordinate_transformation_mode '\(coordinates)' is not supported (half_pixel, align_corners, asymmetric, pytorch_half_pixel are)")
        }
        let roundings = ["round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3]
        guard let roundingWord = roundings[rounding] else { throw c.fail("nearest_mode '\(rounding)' is not supported") }
        if try c.int("exclude_outside", default: 0) != 0 { throw c.fail("exclude_outside=1 is not supported") }
        let policy = try node.string("keep_aspect_ratio_policy") ?? "stretch"
        if policy != "stretch" { throw c.fail("keep_aspect_ratio_policy '\(policy)' is not supported (stretch is)") }
        var axes = [0, 1, 2, 3]
        if let list = try node.ints("axes") { axes = try list.map { try c.normalizedAxis(Int($0), rank: 4) } }
        var scales: [Float] = [1, 1, 1, 1], outShape = shape
        var scaled = false
        if c.has(2), let given = values[try c.input(2, "scales")].floats, !given.isEmpty {
            if given.count != axes.count { throw c.fail("scales has \(given.count) values for \(axes.count) axes") }
            for (position, axis) in axes.enumerated() {
                let s = given[position]
                if !(s > 0) || !s.isFinite { throw c.fail("scale \(s) must be positive and finite") }
                scales[axis] = s
                outShape[axis] = Int((Float(shape[axis]) * s).rounded(.down))
            }
            scaled = true
        } else if c.has(2), !values[try c.input(2, "scales")].isConstant {
            throw c.fail("scales must be a constant, not computed at run time")
        }
        if !scaled {
            guard c.has(3) else { throw c.fail("neither scales nor sizes are given") }
            let sizes = try { () throws -> [Int64] in
                guard let ints = values[try c.input(3, "sizes")].ints else {
                    throw c.fail("sizes must be a constant integer tensor (computed at conversion), not computed at run time")
                }
                return ints
            }()
            if sizes.count != axes.count { throw c.fail("sizes has \(sizes.count) values for \(axes.count) axes") }
            for (position, axis) in axes.enumerated() {
                if sizes[position] < 1 || sizes[position] > 65_536 { throw c.fail("size \(sizes[position]) is not between 1 and 65536") }
                outShape[axis] = Int(sizes[position])
                scales[axis] = Float(sizes[position]) / Float(shape[axis])
            }
        }
        if outShape[0] != 1 || outShape[1] != shape[1] {
            throw c.fail("only the spatial axes may be resized (output \(outShape) from \(shape))")
        }
        if outShape[2] < 1 || outShape[3] < 1 || outShape[2] > 65_536 || outShape[3] > 65_536 {
            throw c.fail("output size \(outShape[2])×\(outShape[3]) is not supported")
        }
        if try c.int("antialias", default: 0) != 0 && (outShape[2] < shape[2] || outShape[3] < shape[3]) {
            throw c.fail("antialias=1 when downsampling is not supported")
        }
        if outShape == shape && scales[2] == 1 && scales[3] == 1 { return x }
        let attributes = [modeWord, Int32(coordinateWord), modeWord == 1 ? 0 : Int32(roundingWord),
                          ONNXConverter.word(scales[2]), ONNXConverter.word(scales[3])]
        return emit(.resize, [x], shape: outShape, attributes: attributes, source: node.reportedName)
    }

    // MARK: Einsum

    /// Lowers a two-operand Einsum whose indices are each either shared by both operands and
    /// the output (batch), shared by the operands only (contracted), or in one operand and the
    /// output (free), plus indices in one operand only (summed first): transposes and reshapes
    /// to `[B, M, K] · [B, K, N]`, one matmul, and a reshape and transpose to the output. A
    /// one-operand Einsum is a sum over the dropped indices and a transpose. Anything else
    /// (ellipsis, repeated indices, three operands) is refused by name.
    mutating func lowerEinsum(_ c: NodeContext) throws -> Int {
        let node = c.node, name = node.reportedName
        guard let raw = try node.string("equation") else { throw c.fail("the equation attribute is missing") }
        let equation = raw.filter { $0 != " " }
        func refuse(_ why: String) -> ConversionError {
            c.fail("equation '\(raw)': \(why); rewrite it with torch.matmul, transpose and sum (supported: batched matrix products such as 'bkn,bcn->bkc', 'bij,bjk->bik', 'ij,jk->ik', transposes and sums)")
        }
        if equation.contains(".") { throw refuse("ellipsis ('...') is not supported") }
        let sides = equation.components(separatedBy: "->")
        if sides.count > 2 { throw refuse("more than one '->'") }
        let operandTerms = sides[0].components(separatedBy: ",").map { Array($0) }
        if operandTerms.count != c.inputs.count { throw refuse("\(operandTerms.count) operand terms for \(c.inputs.count) inputs") }
        if operandTerms.count > 2 { throw refuse("\(operandTerms.count) operands (one or two are supported)") }
        for term in operandTerms {
            if Set(term).count != term.count { throw refuse("an index repeats within an operand (a diagonal or trace)") }
            if term.contains(where: { !$0.isLetter }) { throw refuse("indices must be letters") }
        }
        var output: [Character]
        if sides.count == 2 {
            output = Array(sides[1])
            if Set(output).count != output.count { throw refuse("an index repeats in the output") }
        } else {
            let all = operandTerms.flatMap { $0 }
            output = Set(all).filter { letter in all.filter { $0 == letter }.count == 1 }.sorted()
        }
        var size: [Character: Int] = [:]
        var operands: [Int] = []
        for (position, term) in operandTerms.enumerated() {
            let value = try c.input(position, "operand \(position)")
            let shape = values[value].shape
            if shape.count != term.count { throw refuse("operand \(position) has rank \(shape.count) but \(term.count) indices") }
            for (letter, extent) in zip(term, shape) {
                if let known = size[letter], known != extent { throw refuse("index '\(letter)' has extents \(known) and \(extent)") }
                size[letter] = extent
            }
            operands.append(value)
        }
        for letter in output where size[letter] == nil { throw refuse("output index '\(letter)' appears in no operand") }
        if output.count > 4 { throw refuse("an output of rank \(output.count) (at most 4 is supported)") }
        if operands.allSatisfy({ values[$0].isConstant }) { throw c.fail("Einsum of constants is not supported; fold it before export") }
        let fail = c.fail

        /// Sums an operand over its indices that `keep` lacks; returns the value and its indices.
        func sumOut(_ value: Int, _ term: [Character], keep: (Character) -> Bool) throws -> (Int, [Character]) {
            let dropped = term.indices.filter { !keep(term[$0]) }
            if dropped.isEmpty { return (value, term) }
            if values[value].isConstant { throw refuse("summing a constant operand") }
            let shape = values[value].shape
            if shape.count > 4 { throw refuse("an operand of rank \(shape.count)") }
            let kept = term.indices.filter { keep(term[$0]) }
            let outShape = kept.isEmpty ? [1] : kept.map { shape[$0] }
            let mask = Int32(dropped.reduce(0) { $0 | (1 << $1) })
            return (emit(.reduceSum, [value], shape: outShape, attributes: [mask], source: name), kept.map { term[$0] })
        }

        if operandTerms.count == 1 {
            let (summed, term) = try sumOut(operands[0], operandTerms[0]) { output.contains($0) }
            if term.isEmpty { return summed }
            let perm = output.map { letter in term.firstIndex(of: letter)! }
            return transpose(summed, perm: perm, source: name)
        }
        var (a, aTerm) = (operands[0], operandTerms[0]), (b, bTerm) = (operands[1], operandTerms[1])
        (a, aTerm) = try sumOut(a, aTerm) { output.contains($0) || bTerm.contains($0) }
        (b, bTerm) = try sumOut(b, bTerm) { output.contains($0) || aTerm.contains($0) }
        let batch = aTerm.filter { bTerm.contains($0) && output.contains($0) }
        let contracted = aTerm.filter { bTerm.contains($0) && !output.contains($0) }
        let rows = aTerm.filter { !bTerm.contains($0) }
        let columns = bTerm.filter { !aTerm.contains($0) }
        func extent(_ letters: [Character]) -> Int { letters.reduce(1) { $0 * size[$1]! } }
        let aOrder = batch + rows + contracted, bOrder = batch + contracted + columns
        var lhs = transpose(a, perm: aOrder.map { aTerm.firstIndex(of: $0)! }, source: name)
        var rhs = transpose(b, perm: bOrder.map { bTerm.firstIndex(of: $0)! }, source: name)
        let (bt, m, k, n) = (extent(batch), extent(rows), extent(contracted), extent(columns))
        lhs = try reshape(lhs, to: [bt, m, k], source: name, fail: fail)
        rhs = try reshape(rhs, to: [bt, k, n], source: name, fail: fail)
        let product = emit(.matmul, [materialize(lhs), materialize(rhs)], shape: [bt, m, n], source: name)
        let order = batch + rows + columns
        var result = try reshape(product, to: order.isEmpty ? [1] : order.map { size[$0]! }, source: name, fail: fail)
        if !order.isEmpty {
            result = transpose(result, perm: output.map { order.firstIndex(of: $0)! }, source: name)
        }
        return result
    }
}
