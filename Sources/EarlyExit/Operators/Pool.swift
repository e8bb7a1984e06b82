// max_pool, avg_pool and global_avg_pool: pooling over NCHW feature maps, float32 and int8.

import EarlyExitNativeKernels

/// A prepared max or average pooling over windows.
///
/// Attribute words: 0–7 the window, 8 count-include-pad (average only: padding counts as
/// zeros in the divisor). int8: input and output share scale and zero point.
struct Pool {
    let input: Int, output: Int
    let geometry: WindowGeometry
    let maximum: Bool
    let countIncludePad: Bool
    let quantized: Bool
    let zeroPoint: Int8

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let a = v.attributes
        try v.arity(1...1)
        try v.attributesZero(from: 9)
        let x = try v.feature(v.op.inputs[0])
        var g = try v.window(input: x)
        if a[8] != 0 && a[8] != 1 { throw v.fail("count-include-pad flag is \(a[8]); 0 or 1 required") }
        if v.op.kind == .maxPool && a[8] != 0 { throw v.fail("count-include-pad applies to average pooling only") }
        g.channelsOut = g.channelsIn
        try v.outputSize(&g)
        if g.padTop >= g.kernelHeight || g.padBottom >= g.kernelHeight || g.padLeft >= g.kernelWidth || g.padRight >= g.kernelWidth {
            throw v.fail("padding must be smaller than the pooling window")
        }
        try v.expectShape(TensorShape([1, g.channelsOut, g.heightOut, g.widthOut]))
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
        v.op.geometry = g
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> Pool {
        let op = p.operators[index]
        return Pool(input: op.inputs[0], output: op.output, geometry: op.geometry, maximum: op.kind == .maxPool,
                    countIncludePad: op.attributes[8] == 1, quantized: p.tensors[op.output].dataType == .int8,
                    zeroPoint: Int8(truncatingIfNeeded: p.zeroPoint(op.output)))
    }

    func evaluate(_ x: ExecutionContext) {
        if quantized {
            Int8Kernels.pool(x.int8s(input), geometry, zeroPoint: zeroPoint, y: x.int8s(output), maximum: maximum,
                             countIncludePad: countIncludePad)
        } else {
            FloatKernels.pool(x.floats(input), geometry, y: x.floats(output), maximum: maximum, countIncludePad: countIncludePad)
        }
    }
}

/// A prepared global average pooling `[1, C, H, W] -> [1, C]` (or `[1, C, 1, 1]`).
///
/// No attribute words. int8: input and output share scale and zero point.
struct GlobalAveragePool {
    let input: Int, output: Int
    let channels: Int, spatial: Int
    let quantized: Bool
    let channelsLast: Bool
    let kernels: KernelSet.Float32Path

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(1...1)
        try v.attributesZero(from: 0)
        let x = try v.feature(v.op.inputs[0])
        try v.expectElements(x[1])
        let out = v.outputShape
        if out[0] != 1 || out[1] != x[1] { throw v.fail("output tensor \(v.output) has shape \(out); [1, \(x[1])] or [1, \(x[1]), 1, 1] expected") }
        if v.quantized { try v.sameQuantization(v.op.inputs[0]) }
        var g = WindowGeometry()
        g.channelsIn = x[1]; g.heightIn = x[2]; g.widthIn = x[3]; g.channelsOut = x[1]
        v.op.geometry = g
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> GlobalAveragePool {
        let op = p.operators[index]
        let g = op.geometry
        return GlobalAveragePool(input: op.inputs[0], output: op.output, channels: g.channelsIn, spatial: g.heightIn * g.widthIn,
                                 quantized: p.tensors[op.output].dataType == .int8,
                                 channelsLast: p.layouts[op.inputs[0]] == .channelsLast, kernels: p.kernels.float32)
    }

    /// int8 channels-last: one int32 sum per channel.
    var scratchBytes: Int { quantized && channelsLast ? channels * 4 : 0 }

    func evaluate(_ x: ExecutionContext, operator index: Int) {
        if quantized && channelsLast {
            ee_qs8_global_average_pool_channels_last(x.int8s(input), channels, spatial, x.scratch(index).assumingMemoryBound(to: Int32.self),
                                                      x.int8s(output))
        } else if quantized {
            Int8Kernels.globalAveragePool(x.int8s(input), y: x.int8s(output), channels: channels, spatial: spatial)
        } else if channelsLast {
            FloatKernelTable.globalAveragePoolChannelsLast(kernels, x.floats(input), y: x.floats(output), channels: channels, pixels: spatial)
        } else {
            FloatKernels.globalAveragePool(x.floats(input), y: x.floats(output), channels: channels, spatial: spatial)
        }
    }
}
