// batch_norm: per-channel scale and shift (inference form), float32 and int8.

import EarlyExitNativeKernels

/// A prepared batch normalization `y = x·scale[c] + shift[c]` over `[1, C, …]`.
///
/// Attribute words: 0 (int8 only) the rounding mode. Inputs: x, then float32 scale and shift
/// `[C]`, or int8 the scale (int8, per channel), bias, multipliers and shifts. Fused: ReLU.
struct BatchNorm {
    let input: Int, scale: Int, shift: Int, output: Int
    let channels: Int, spatial: Int
    let relu: Bool
    /// int8 only: requantization, the per-channel int8 scale and the int32 bias in place.
    let requantization: Requantization?
    let int8Scale: UnsafePointer<Int8>?
    let int8Bias: UnsafePointer<Int32>?
    let inputZeroPoint: Int32
    /// Whether the map is stored channels-last, and the kernels that run it.
    let channelsLast: Bool
    let kernels: KernelSet.Float32Path
    let int8Kernels: KernelSet.Int8Path
    /// int8 channels-last on the native kernels: the widened scale, the offset
    /// `bias − zp·scale` and the requantization arrays, one entry per channel.
    let native: NativeParameters?
    /// int8 channels-last on the x86 native kernels, when every channel fits:
    /// `clamp((x·slope + offset) >> shift, minimum, maximum)` (see `AffineForm`).
    let affine: AffineForm?

    struct NativeParameters {
        let scale: UnsafePointer<Int32>, offset: UnsafePointer<Int32>
        let multipliers: UnsafePointer<Int32>, leftShifts: UnsafePointer<Int32>, rightShifts: UnsafePointer<Int32>, shifts: UnsafePointer<Int32>
        let zeroPoint: Int32, minimum: Int32, maximum: Int32, singleRounding: Bool
    }

    /// A batch normalization's int8 output is a function of the input byte alone, per channel.
    /// Where it can, `prepare` fits each channel's function exactly as a line with an integer
    /// slope and offset, floor-divided by a power of two and clamped: 7 vector operations per
    /// 16 values instead of the requantization's ~20. The fit is checked against the reference
    /// kernel's output for all 256 inputs of every channel (and every product against int32),
    /// so the form is bit-exact by construction; one channel that does not fit keeps the
    /// requantizing kernel for the whole operator.
    struct AffineForm {
        let slope: UnsafePointer<Int32>, offset: UnsafePointer<Int32>, shift: UnsafePointer<Int32>
        let minimum: Int32, maximum: Int32

        /// Fits one channel: `reference[i]` is the output for input `i − 128`, `alpha` the
        /// real slope (output steps per input step). Returns (slope, offset, shift) or nil.
        static func fit(_ reference: UnsafePointer<Int8>, alpha: Double, minimum: Int32, maximum: Int32) -> (Int32, Int32, Int32)? {
            let lo = Int64(minimum), hi = Int64(maximum)
            for t in stride(from: 30, through: 0, by: -1) {
                let scaled = alpha * Double(Int64(1) << t)
                if !scaled.isFinite || abs(scaled) > Double(1 << 24) { continue }
                let center = Int64(scaled.rounded())
                for p in (center - 2)...(center + 2) {
                    // Each unclamped output r at input x bounds the offset: r·2^t ≤ x·p + q < (r + 1)·2^t.
                    var low = Int64.min, high = Int64.max
                    for i in 0..<256 {
                        let x = Int64(i - 128), r = Int64(reference[i])
                        if r > lo { low = max(low, (r << t) - x * p) }
                        if r < hi { high = min(high, ((r + 1) << t) - 1 - x * p) }
                    }
                    if low > high { continue }
                    let q = low == Int64.min ? (high == Int64.max ? 0 : high) : (high == Int64.max ? low : low + (high - low) / 2)
                    let int32 = Int64(Int32.min)...Int64(Int32.max)
                    // x·p + q is monotonic in x: its ends bound it.
                    if !int32.contains(128 * abs(p)) || !int32.contains(-128 * p + q) || !int32.contains(127 * p + q) { continue }
                    var exact = true
                    for i in 0..<256 where min(max((Int64(i - 128) * p + q) >> t, lo), hi) != Int64(reference[i]) { exact = false; break }
                    if exact { return (Int32(p), Int32(q), Int32(t)) }
                }
            }
            return nil
        }
    }

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        let inputs = v.op.inputs
        try v.arity(v.quantized ? 5...5 : 3...3)
        try v.attributesZero(from: v.quantized ? 1 : 0)
        if v.quantized { try v.roundingMode(v.attributes[0]) }
        let x = v.tensors[inputs[0]].shape
        if x.rank < 2 || x[0] != 1 { throw v.fail("input shape \(x) must be [1, C, ...]") }
        if v.quantized {
            if v.tensors[inputs[1]].shape.rank != 1 { throw v.fail("scale must be a vector of \(x[1]) values") }
            try v.quantizedParameters(weights: inputs[1], channels: x[1])
        } else {
            try v.constant(inputs[1], "scale")
            try v.constant(inputs[2], "shift")
            for role in 1...2 where v.tensors[inputs[role]].elementCount != x[1] {
                throw v.fail("\(role == 1 ? "scale" : "shift") has \(v.tensors[inputs[role]].elementCount) elements for \(x[1]) channels")
            }
        }
        try v.expectShape(x)
        v.op.macs = x.elementCount
    }

    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> BatchNorm {
        let op = p.operators[index]
        let shape = p.tensors[op.inputs[0]].shape
        let quantized = p.tensors[op.output].dataType == .int8
        var requantization: Requantization?
        var native: NativeParameters?
        var affine: AffineForm?
        let channelsLast = p.layouts[op.inputs[0]] == .channelsLast
        if quantized {
            try p.checkChannelRequantization(index, channels: shape[1])
            requantization = p.requantization(op, perChannel: true, singleRounding: op.attributes[0] == 1)
            if channelsLast && Int8KernelTable.hasNativeKernels(p.kernels.int8) {
                let channels = shape[1]
                let scale = p.storage.allocate(Int32.self, count: channels), offset = p.storage.allocate(Int32.self, count: channels)
                let multipliers = p.storage.allocate(Int32.self, count: channels), left = p.storage.allocate(Int32.self, count: channels)
                let right = p.storage.allocate(Int32.self, count: channels), shifts = p.storage.allocate(Int32.self, count: channels)
                let w = p.constantInt8(op.inputs[1]), bias = p.constantInt32(op.inputs[2])
                let m = p.constantInt32(op.inputs[3]), sh = p.constantInt32(op.inputs[4])
                let zp = p.zeroPoint(op.inputs[0])
                for c in 0..<channels {
                    scale[c] = Int32(w[c])
                    offset[c] = bias[c] &- zp &* Int32(w[c]) // as the reference kernel: wrapping int32
                    multipliers[c] = m[c]; shifts[c] = sh[c]
                    left[c] = min(max(sh[c], 0), 31); right[c] = -min(max(sh[c], -31), 0)
                }
                let outZero = p.zeroPoint(op.output)
                native = NativeParameters(scale: scale, offset: offset, multipliers: multipliers, leftShifts: left, rightShifts: right,
                                          shifts: shifts, zeroPoint: outZero, minimum: op.activation == .relu ? max(-128, outZero) : -128,
                                          maximum: 127, singleRounding: op.attributes[0] == 1)
                if let requantization, Int8KernelTable.hasAffineBatchNorm(p.kernels.int8) {
                    affine = fitAffine(p, op, requantization: requantization)
                }
            }
        }
        return BatchNorm(input: op.inputs[0], scale: op.inputs[1], shift: op.inputs[2], output: op.output, channels: shape[1],
                         spatial: shape.elementCount / shape[1], relu: op.activation == .relu, requantization: requantization,
                         int8Scale: quantized ? p.constantInt8(op.inputs[1]) : nil,
                         int8Bias: quantized ? p.constantInt32(op.inputs[2]) : nil, inputZeroPoint: quantized ? p.zeroPoint(op.inputs[0]) : 0,
                         channelsLast: channelsLast, kernels: p.kernels.float32, int8Kernels: p.kernels.int8, native: native,
                         affine: affine)
    }

    /// Every channel's affine form, from the reference kernel's outputs for all 256 inputs; nil
    /// when one channel does not fit.
    static func fitAffine(_ p: PrepareContext, _ op: Operator, requantization: Requantization) -> AffineForm? {
        let channels = p.tensors[op.inputs[0]].shape[1]
        let inputs = UnsafeMutablePointer<Int8>.allocate(capacity: channels * 256)
        let outputs = UnsafeMutablePointer<Int8>.allocate(capacity: channels * 256)
        defer { inputs.deallocate(); outputs.deallocate() }
        for c in 0..<channels { for i in 0..<256 { inputs[c * 256 + i] = Int8(i - 128) } }
        let w = p.constantInt8(op.inputs[1]), bias = p.constantInt32(op.inputs[2])
        Int8Kernels.batchNorm(inputs, inputZeroPoint: p.zeroPoint(op.inputs[0]), scale: w, bias: bias, y: outputs, channels: channels,
                              spatial: 256, requantization: requantization)
        let m = p.constantInt32(op.inputs[3]), sh = p.constantInt32(op.inputs[4])
        var fitted: [(Int32, Int32, Int32)] = []
        for c in 0..<channels {
            // The real slope: w·m·2^(shift − 31) output steps per input step.
            let alpha = Double(w[c]) * Double(m[c]) * Double(sign: .plus, exponent: Int(sh[c]) - 31, significand: 1)
            guard let form = AffineForm.fit(outputs + c * 256, alpha: alpha, minimum: requantization.minimum,
                                            maximum: requantization.maximum) else { return nil }
            fitted.append(form)
        }
        let slope = p.storage.allocate(Int32.self, count: channels), offset = p.storage.allocate(Int32.self, count: channels)
        let shift = p.storage.allocate(Int32.self, count: channels)
        for c in 0..<channels { (slope[c], offset[c], shift[c]) = fitted[c] }
        return AffineForm(slope: slope, offset: offset, shift: shift, minimum: requantization.minimum, maximum: requantization.maximum)
    }

    func evaluate(_ x: ExecutionContext) {
        if let affine {
            Int8KernelTable.batchNormAffine(int8Kernels, x.int8s(input), affine, y: x.int8s(output), channels: channels, pixels: spatial)
            return
        }
        if let native {
            var q = ee_requantization(multipliers: native.multipliers, left_shifts: native.leftShifts, right_shifts: native.rightShifts,
                                      shifts: native.shifts, output_zero_point: native.zeroPoint, minimum: native.minimum,
                                      maximum: native.maximum, single_rounding: native.singleRounding ? 1 : 0)
            Int8KernelTable.batchNormChannelsLast(int8Kernels, x.int8s(input), scale: native.scale, offset: native.offset,
                                                  requantization: &q, y: x.int8s(output), channels: channels, pixels: spatial)
            return
        }
        if let requantization, let int8Scale, let int8Bias {
            Int8Kernels.batchNorm(x.int8s(input), inputZeroPoint: inputZeroPoint, scale: int8Scale, bias: int8Bias, y: x.int8s(output), channels: channels, spatial: spatial, requantization: requantization)
            return
        }
        if channelsLast {
            FloatKernelTable.batchNormChannelsLast(kernels, x.floats(input), scale: x.floats(scale), shift: x.floats(shift),
                                                   y: x.floats(output), channels: channels, pixels: spatial, relu: relu)
        } else {
            FloatKernels.batchNorm(x.floats(input), scale: x.floats(scale), shift: x.floats(shift), y: x.floats(output),
                                   channels: channels, spatial: spatial, relu: relu)
        }
    }
}

extension Model {
    /// Whether int8 batch normalization `index` runs its affine form (for tests).
    func int8AffineBatchNorm(of index: Int) -> Bool {
        if case let .batchNorm(op) = prepared[index] { return op.affine != nil }
        return false
    }
}
