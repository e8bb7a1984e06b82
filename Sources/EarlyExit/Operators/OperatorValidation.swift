// What validating one operator can see, and the checks operator files share.

/// The context of validating operator `index`: its record, the model's tensors, and helpers
/// that throw errors naming the operator.
///
/// An operator file's `validate` reads its attribute words through these helpers, checks
/// arity, types and shapes, and records the MACs and geometry in `op`.
struct OperatorValidation {
    let index: Int
    var op: Operator
    let tensors: [TensorInfo]
    /// True when the output is int8 (the operator runs the integer path).
    let quantized: Bool

    var attributes: [Int32] { op.attributes }
    var output: Int { op.output }
    var outputShape: TensorShape { tensors[op.output].shape }

    func fail(_ reason: String) -> ModelError { .badOperator(op: index, kind: op.kind.name, reason: reason) }

    /// Attribute words from `first` on are unused by this operator and must be 0.
    func attributesZero(from first: Int) throws(ModelError) {
        let a = op.attributes
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
        if tensors[output].shape != expected {
            throw fail("output tensor \(output) has shape \(tensors[output].shape), expected \(expected)")
        }
    }

    func expectElements(_ expected: Int) throws(ModelError) {
        if tensors[output].elementCount != expected {
            throw fail("output tensor \(output) has \(tensors[output].elementCount) elements, expected \(expected)")
        }
    }

    /// The `[1, C, H, W]` shape of a feature-map input.
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
        let a = tensors[tensor].quantization, b = tensors[output].quantization
        if a.scale != b.scale || a.zeroPoint != b.zeroPoint {
            throw fail("input tensor \(tensor) and output tensor \(output) must share scale and zero point")
        }
    }

    func table(_ tensor: Int, _ type: DataType) throws(ModelError) {
        try constant(tensor, "lookup table")
        if tensors[tensor].dataType != type || tensors[tensor].elementCount != 256 {
            throw fail("lookup table tensor \(tensor) must be a constant \(type.name)[256]")
        }
    }

    /// int8 weights (per-channel on axis 0, or per-tensor, symmetric) and the int32 bias,
    /// multiplier and shift tensors at inputs 2, 3 and 4, one value per output channel.
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

    /// Reads the window attribute words shared by convolution and pooling: kernel height and
    /// width (0, 1), stride (2, 3), padding top, left, bottom, right (4…7).
    func window(input x: TensorShape) throws(ModelError) -> WindowGeometry {
        let a = op.attributes
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
    func outputSize(_ g: inout WindowGeometry) throws(ModelError) {
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
