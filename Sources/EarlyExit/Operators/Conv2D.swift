// conv2d: 2-D convolution over NCHW feature maps, float32 and int8.

/// A prepared 2-D convolution.
///
/// Attribute words: 0–7 the window (see `OperatorValidation.window`), 8 and 9 dilation height
/// and width, 10 groups, 11 (int8 only) the requantization rounding mode (0 double, 1 single).
/// Inputs: x, weights `[Cout, Cin/G, Kh, Kw]`, then float32 an optional bias `[Cout]`, or int8
/// the bias, multipliers and shifts (int32 `[Cout]` each). Fused activation: ReLU.
struct Conv2D {
    typealias Path = ConvolutionPath

    let input: Int, weights: Int, output: Int
    /// The float32 bias tensor, or −1 (int8 biases are folded, below).
    let bias: Int
    let geometry: WindowGeometry
    let path: Path
    let relu: Bool
    let scratchBytes: Int
    /// int8 only: output requantization, and the bias with the input zero point folded in
    /// (`bias − zp·ΣW`, for the GEMM paths) or the raw bias (grouped paths).
    let requantization: Requantization?
    let int8Bias: UnsafePointer<Int32>?
    let inputZeroPoint: Int32
    /// float32 fast paths (Winograd, implicit GEMM, pointwise): the prepared data.
    let fast: FloatConvolution?
    /// int8 native paths (VNNI, AVX2): the prepared data.
    let native: Int8Convolution?
    /// The residual add this convolution performs in its epilogue in unobserved runs (`Fusion`).
    var fusion: ResidualFusion?

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes, quantized = v.quantized
        try v.arity(quantized ? 5...5 : 2...3)
        try v.attributesZero(from: quantized ? 12 : 11)
        if quantized { try v.roundingMode(a[11]) }
        let x = try v.feature(v.op.inputs[0])
        try v.constant(v.op.inputs[1], "weight")
        let w = v.tensors[v.op.inputs[1]].shape
        var g = try v.window(input: x)
        g.dilationHeight = Int(a[8]); g.dilationWidth = Int(a[9]); g.groups = Int(a[10])
        if g.dilationHeight < 1 || g.dilationWidth < 1 || g.dilationHeight > 64 || g.dilationWidth > 64 {
            throw v.fail("dilation \(a[8])×\(a[9]) is not between 1 and 64")
        }
        if g.groups < 1 || g.channelsIn % g.groups != 0 { throw v.fail("\(g.groups) groups do not divide \(g.channelsIn) input channels") }
        if w.rank != 4 || w[1] != g.channelsIn / g.groups || w[2] != g.kernelHeight || w[3] != g.kernelWidth || w[0] % g.groups != 0 {
            throw v.fail("weight shape \(w) does not match [Cout, \(g.channelsIn / g.groups), \(g.kernelHeight), \(g.kernelWidth)] with \(g.groups) groups")
        }
        g.channelsOut = w[0]
        try v.outputSize(&g)
        if quantized {
            try v.quantizedParameters(weights: v.op.inputs[1], channels: g.channelsOut)
        } else if v.op.inputs.count == 3 {
            try v.constant(v.op.inputs[2], "bias")
            let count = v.tensors[v.op.inputs[2]].elementCount
            if count != g.channelsOut { throw v.fail("bias has \(count) elements for \(g.channelsOut) output channels") }
        }
        try v.expectShape(TensorShape([1, g.channelsOut, g.heightOut, g.widthOut]))
        v.op.geometry = g
        v.op.macs = g.channelsOut * g.heightOut * g.widthOut * (g.channelsIn / g.groups) * g.kernelHeight * g.kernelWidth
    }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> Conv2D {
        let op = p.operators[index]
        let g = op.geometry
        let quantized = p.tensors[op.output].dataType == .int8
        let kernelArea = g.kernelHeight * g.kernelWidth
        if !quantized && g.groups == 1 {
            let fast = FloatConvolution.prepare(p, index)
            return Conv2D(input: op.inputs[0], weights: op.inputs[1], output: op.output, bias: op.inputs.count == 3 ? op.inputs[2] : -1,
                          geometry: g, path: fast.path, relu: op.activation == .relu, scratchBytes: fast.scratchBytes,
                          requantization: nil, int8Bias: nil, inputZeroPoint: 0, fast: fast, native: nil, fusion: nil)
        }
        if quantized && g.groups == 1 && Int8Convolution.supported(p.kernels) {
            let native = try Int8Convolution.prepare(p, index)
            return Conv2D(input: op.inputs[0], weights: op.inputs[1], output: op.output, bias: -1, geometry: g, path: native.path,
                          relu: op.activation == .relu, scratchBytes: native.scratchBytes, requantization: nil, int8Bias: nil,
                          inputZeroPoint: p.zeroPoint(op.inputs[0]), fast: nil, native: native, fusion: nil)
        }
        var path = Path.grouped
        var scratch = 0
        if g.groups == 1 {
            if kernelArea == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.isUnpadded {
                path = .pointwise
            } else {
                path = .im2col
                scratch = g.channelsIn * kernelArea * FloatKernels.paddedColumns(g.heightOut * g.widthOut) * 4
            }
            if quantized {
                // int8 always gathers its input into Int16 patch rows, one per output pixel.
                scratch = Int8Kernels.patchScratchBytes(k: g.channelsIn * kernelArea, n: g.heightOut * g.widthOut)
            }
        } else if g.groups == g.channelsIn && g.channelsOut == g.channelsIn {
            path = .depthwise
        }
        var requantization: Requantization?
        var int8Bias: UnsafePointer<Int32>?
        if quantized {
            try p.checkChannelRequantization(index, channels: g.channelsOut)
            requantization = p.requantization(op, perChannel: true, singleRounding: op.attributes[11] == 1)
            int8Bias = path == .pointwise || path == .im2col ? try p.foldedBias(index, channels: g.channelsOut)
                                                            : p.constantInt32(op.inputs[2])
        }
        return Conv2D(input: op.inputs[0], weights: op.inputs[1], output: op.output,
                      bias: !quantized && op.inputs.count == 3 ? op.inputs[2] : -1, geometry: g, path: path,
                      relu: op.activation == .relu, scratchBytes: scratch, requantization: requantization,
                      int8Bias: int8Bias, inputZeroPoint: quantized ? p.zeroPoint(op.inputs[0]) : 0, fast: nil, native: nil, fusion: nil)
    }

    func evaluate(_ x: ExecutionContext, operator index: Int) {
        if let requantization, let int8Bias {
            evaluateInt8(x, index, requantization, int8Bias)
            return
        }
        if let fast {
            if let fusion, !x.observed {
                fast.evaluate(x, operator: index, input: input, output: fusion.output, relu: fusion.relu, residual: fusion.residual)
            } else {
                fast.evaluate(x, operator: index, input: input, output: output, relu: relu)
            }
            return
        }
        if let native {
            native.evaluate(x, operator: index, input: input, output: output)
            return
        }
        let scratch: UnsafeMutablePointer<Float>? = scratchBytes > 0 ? x.scratch(index).assumingMemoryBound(to: Float.self) : nil
        let biasValues: UnsafePointer<Float>? = bias >= 0 ? UnsafePointer(x.floats(bias)) : nil
        FloatKernels.convolution(x.floats(input), weights: x.floats(weights), bias: biasValues, geometry, path: path,
                                 scratch: scratch, y: x.floats(output), relu: relu)
    }

    private func evaluateInt8(_ x: ExecutionContext, _ index: Int, _ q: Requantization, _ bias: UnsafePointer<Int32>) {
        let g = geometry
        let w = UnsafePointer(x.int8s(weights))
        let y = x.int8s(output)
        switch path {
        case .pointwise, .im2col:
            let patches = x.scratch(index).assumingMemoryBound(to: Int16.self)
            let pixels = g.heightOut * g.widthOut
            let k = g.channelsIn * g.kernelHeight * g.kernelWidth
            if path == .pointwise {
                Int8Kernels.transposeToRows(x.int8s(input), rows: k, columns: pixels, patches: patches)
            } else {
                Int8Kernels.im2colRows(x.int8s(input), g, zeroPoint: Int8(truncatingIfNeeded: inputZeroPoint), patches: patches)
            }
            let rowSums = (x.scratch(index) + Int8Kernels.rowSumsOffset(k: k, n: pixels)).assumingMemoryBound(to: Int32.self)
            Int8Kernels.gemm(m: g.channelsOut, n: pixels, k: k, weights: w, patches: patches, bias: bias,
                             requantization: q, rowSums: rowSums, c: y)
        case .depthwise, .grouped, .implicitGEMM, .winograd:
            Int8Kernels.groupedConvolution(x.int8s(input), inputZeroPoint: inputZeroPoint, weights: w, bias: bias, g,
                                           requantization: q, y: y)
        }
    }
}

/// How a convolution is executed, chosen once from its geometry when the model is prepared.
public enum ConvolutionPath: Sendable {
    /// 1×1, stride 1, no padding, one group: a matrix product straight over the input.
    case pointwise
    /// One group: image-to-column into scratch, then a matrix product (int8).
    case im2col
    /// One group, float32: a GEMM whose rows are gathered per tap through an indirection table
    /// over the channels-last input (no image-to-column copy).
    case implicitGEMM
    /// 3×3, stride 1, one group, float32: Winograd F(2×2, 3×3).
    case winograd
    /// One filter per input channel.
    case depthwise
    /// Any other grouping: the reference loop.
    case grouped
}
