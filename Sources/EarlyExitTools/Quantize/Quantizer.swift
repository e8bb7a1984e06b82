// Post-training static quantization of a float32 `.eem` model to int8 (the TFLite int8 scheme).
import EarlyExit
import Foundation

/// Why a model cannot be quantized.
public struct QuantizationError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the quantizer produced.
public struct QuantizationReport {
    public var floatWeightBytes = 0
    public var int8WeightBytes = 0
    public var calibrationImages = 0
    public var method = CalibrationMethod.minmax
    /// Operators whose biases were corrected, and the passes (0 = no correction).
    public var biasCorrectedOperators = 0
    public var biasCorrectionPasses = 0
}

/// Quantizes a float model following the TFLite int8 specification: weights int8 symmetric
/// per output channel (zero point 0, ±127), activations int8 asymmetric per tensor, biases
/// int32 with scale `S_in·S_w[c]`, requantization by an int32 multiplier and shift computed
/// here, offline. Element-wise functions (tanh, sigmoid) and the softmax exponential become
/// lookup tables. Operators that only move data or take maxima keep their input's scale.
public struct Quantizer {
    struct Parameters {
        var scale: Float
        var zeroPoint: Int32
        var quantization: Quantization { Quantization(kind: .perTensor, scale: scale, zeroPoint: zeroPoint, axis: 0, channelScalesOffset: 0) }
    }

    let model: Model
    var parameters: [Parameters?]
    /// [operator] per-channel values added to the float bias before it is quantized.
    var biasCorrections: [Int: [Float]] = [:]

    /// - Parameter biasCorrectionPasses: passes of empirical bias correction (see `BiasCorrection`);
    ///   each runs the float and the int8 model over the calibration images once.
    public static func quantize(model: Model, calibration inputs: [[Float]], method: CalibrationMethod,
                                biasCorrectionPasses: Int = 0, threads: Int = 1,
                                progress: ((Int, Int) -> Void)? = nil) throws -> (bytes: [UInt8], report: QuantizationReport) {
        if model.isQuantized { throw QuantizationError("the model is already int8") }
        if inputs.isEmpty { throw QuantizationError("calibration needs at least one image") }
        let statistics = try ActivationStatistics.collect(model: model, inputs: inputs, method: method, threads: threads, progress: progress)
        var quantizer = Quantizer(model: model, parameters: [Parameters?](repeating: nil, count: model.tensors.count))
        try quantizer.chooseParameters(statistics, method: method)
        var report = QuantizationReport(floatWeightBytes: model.weightBytes, calibrationImages: inputs.count, method: method)
        var bytes = try quantizer.build()
        let targets = BiasCorrection.targets(model)
        for pass in 0..<biasCorrectionPasses where !targets.isEmpty {
            let measured = try BiasCorrection.measure(float: model, int8: try Model(bytes: bytes), inputs: inputs, targets: targets,
                                                      threads: threads, progress: { progress?($0 + pass * inputs.count, biasCorrectionPasses * inputs.count) })
            for (op, values) in measured {
                let previous = quantizer.biasCorrections[op] ?? [Float](repeating: 0, count: values.count)
                quantizer.biasCorrections[op] = zip(previous, values).map { $0 + $1 }
            }
            bytes = try quantizer.build()
            report.biasCorrectedOperators = targets.count
            report.biasCorrectionPasses = pass + 1
        }
        report.int8WeightBytes = try Model(bytes: bytes).weightBytes
        return (bytes, report)
    }

    static func parameters(low: Float, high: Float) -> Parameters {
        let low = min(low, 0), high = max(max(high, 0), low + 1e-6)
        let scale = (high - low) / 255
        let zeroPoint = Int32(max(-128, min(127, (-128 - low / scale).rounded())))
        return Parameters(scale: scale, zeroPoint: zeroPoint)
    }

    /// Chooses every activation's scale and zero point, honoring the operators that must keep
    /// their input's quantization and the fixed output ranges of tanh and sigmoid.
    mutating func chooseParameters(_ statistics: ActivationStatistics, method: CalibrationMethod) throws {
        let tensors = model.tensors
        var ranges = (0..<tensors.count).map { statistics.range(of: $0, method: method) }
        // The input's range follows from the normalization of 8-bit pixels when it is known.
        let meta = model.metadata
        if !meta.mean.isEmpty {
            var low = Float.infinity, high = -Float.infinity
            for (mean, std) in zip(meta.mean, meta.std) {
                low = min(low, (0 - mean) / std)
                high = max(high, (1 - mean) / std)
            }
            ranges[model.inputTensor] = (low, high)
        }
        // Groups of tensors that must share quantization (union-find).
        var parent = Array(0..<tensors.count)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        func union(_ a: Int, _ b: Int) { parent[find(a)] = find(b) }
        // A clip whose input feeds nothing else (a convolution's ReLU6) narrows that input's
        // range to its bounds: the producer's requantization then saturates where the clip
        // would clamp, so the int8 clip is exact and the bounds get the whole int8 range.
        var readers = [Int](repeating: 0, count: tensors.count)
        for op in model.operators { for input in op.inputs { readers[input] += 1 } }
        for exit in model.exits {
            readers[exit.logitsTensor] += 1
            if exit.hasGate { readers[exit.gateTensor] += 1 }
        }
        for op in model.operators where op.kind == .clip {
            let input = op.inputs[0]
            if readers[input] == 1 && input != model.inputTensor {
                let (low, high) = Quantizer.clipBounds(op)
                ranges[input] = (max(ranges[input].0, low), min(ranges[input].1, high))
            }
        }
        // A constant pad value must be representable.
        for op in model.operators where op.kind == .pad && op.attributes[8] == 0 {
            let value = Float(bitPattern: UInt32(bitPattern: op.attributes[9]))
            ranges[op.output] = (min(ranges[op.output].0, value), max(ranges[op.output].1, value))
        }
        var fixed = [Parameters?](repeating: nil, count: tensors.count)
        for op in model.operators {
            switch op.kind {
            case .relu, .maxPool, .avgPool, .globalAvgPool, .reshape, .transpose,
                 .clip, .reduceMax, .expand, .slice, .pad, .resize:
                union(op.inputs[0], op.output)
            case .hardSigmoid:
                // Outputs 0…1, both ends exactly representable (hard sigmoid reaches them often).
                fixed[op.output] = Parameters(scale: 1.0 / 255, zeroPoint: -128)
            case .concat:
                for input in op.inputs { union(input, op.output) }
            case .tanh:
                fixed[op.output] = Parameters(scale: 1.0 / 128, zeroPoint: 0)
            case .sigmoid:
                fixed[op.output] = Parameters(scale: 1.0 / 256, zeroPoint: -128)
            default:
                break
            }
        }
        var groupRange = [(Float, Float)](repeating: (0, 0), count: tensors.count)
        var groupFixed = [Parameters?](repeating: nil, count: tensors.count)
        for tensor in tensors.indices where !tensors[tensor].isConstant {
            let root = find(tensor)
            groupRange[root] = (min(groupRange[root].0, ranges[tensor].0), max(groupRange[root].1, ranges[tensor].1))
            if let f = fixed[tensor] {
                if let other = groupFixed[root], other.scale != f.scale || other.zeroPoint != f.zeroPoint {
                    throw QuantizationError("tensor \(tensor) needs two different fixed quantizations")
                }
                groupFixed[root] = f
            }
        }
        for tensor in tensors.indices where !tensors[tensor].isConstant {
            let root = find(tensor)
            parameters[tensor] = groupFixed[root] ?? Quantizer.parameters(low: groupRange[root].0, high: groupRange[root].1)
        }
        // Every gate must share one quantization (the tanh range), so gate differences are integers of one scale.
        let gated = model.exits.filter(\.hasGate)
        let gate = gated.first.flatMap { parameters[$0.gateTensor] }
        for exit in gated where parameters[exit.gateTensor]?.scale != gate?.scale || parameters[exit.gateTensor]?.zeroPoint != gate?.zeroPoint {
            throw QuantizationError("exit gates must all be tanh outputs (one fixed int8 range) to be quantized")
        }
    }

    func floats(_ tensor: Int) -> [Float] {
        model.withConstantBytes(of: tensor) { raw in Array(raw.bindMemory(to: Float.self)) }
    }

    static func int32Bytes(_ values: [Int32]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    static func int8Bytes(_ values: [Int8]) -> [UInt8] { values.map { UInt8(bitPattern: $0) } }

    /// Builds the int8 model, operator for operator.
    func build() throws -> [UInt8] {
        let tensors = model.tensors
        var builder = ModelBuilder()
        var mapped = [Int](repeating: -1, count: tensors.count)
        func activation(_ tensor: Int) throws -> Int {
            if mapped[tensor] >= 0 { return mapped[tensor] }
            guard let p = parameters[tensor] else { throw QuantizationError("tensor \(tensor) has no quantization parameters") }
            mapped[tensor] = tensor == model.inputTensor
                ? builder.addInput(shape: tensors[tensor].shape.dims, dataType: .int8, quantization: p.quantization)
                : builder.addActivation(shape: tensors[tensor].shape.dims, dataType: .int8, quantization: p.quantization)
            return mapped[tensor]
        }
        func scale(_ tensor: Int) -> Double { Double(parameters[tensor]!.scale) }
        func int32Constant(_ values: [Int32]) -> Int {
            builder.addConstant(bytes: Quantizer.int32Bytes(values), dataType: .int32, shape: [values.count])
        }
        /// Per-channel symmetric int8 weights, int32 biases, multipliers and shifts.
        func channelParameters(weights: [Float], shape: [Int], bias: [Float]?, inputScale: Double, outputScale: Double) -> [Int] {
            let channels = shape[0]
            let perChannel = weights.count / channels
            var q = [Int8](repeating: 0, count: weights.count)
            var scales = [Float](repeating: 1, count: channels)
            var biases = [Int32](repeating: 0, count: channels)
            var multipliers = [Int32](repeating: 0, count: channels), shifts = [Int32](repeating: 0, count: channels)
            for c in 0..<channels {
                var largest: Float = 0
                for k in 0..<perChannel { largest = max(largest, abs(weights[c * perChannel + k])) }
                let s = largest > 0 ? largest / 127 : 1
                scales[c] = s
                for k in 0..<perChannel {
                    q[c * perChannel + k] = Int8(max(-127, min(127, (weights[c * perChannel + k] / s).rounded())))
                }
                let biasScale = inputScale * Double(s)
                let b = (Double(bias?[c] ?? 0) / biasScale).rounded()
                biases[c] = Int32(max(Double(Int32.min), min(Double(Int32.max), b)))
                let (m, shift) = FixedPoint.quantizeMultiplier(biasScale / outputScale)
                multipliers[c] = m
                shifts[c] = shift
            }
            let w = builder.addConstant(bytes: Quantizer.int8Bytes(q), dataType: .int8, shape: shape,
                                        quantization: Quantization(kind: .perChannel, scale: 0, zeroPoint: 0, axis: 0, channelScalesOffset: 0),
                                        channelScales: scales)
            return [w, int32Constant(biases), int32Constant(multipliers), int32Constant(shifts)]
        }
        func constantOperand(_ tensor: Int) -> Int {
            let values = floats(tensor)
            let p = Quantizer.parameters(low: values.min() ?? 0, high: values.max() ?? 0)
            let q = values.map { Int8(max(-128, min(127, ($0 / p.scale).rounded() + Float(p.zeroPoint)))) }
            return builder.addConstant(bytes: Quantizer.int8Bytes(q), dataType: .int8, shape: tensors[tensor].shape.dims,
                                       quantization: p.quantization)
        }
        func operand(_ tensor: Int) throws -> Int { tensors[tensor].isConstant ? constantOperand(tensor) : try activation(tensor) }

        _ = try activation(model.inputTensor)
        var nextExit = 0
        for (index, op) in model.operators.enumerated() {
            let out = op.output
            let outputScale = scale(out)
            var inputs: [Int] = []
            var attributes = Array(op.attributes)
            switch op.kind {
            case .conv2d, .fullyConnected:
                let w = tensors[op.inputs[1]]
                var bias = op.inputs.count == 3 ? floats(op.inputs[2]) : nil
                if let correction = biasCorrections[index] {
                    bias = zip(bias ?? [Float](repeating: 0, count: correction.count), correction).map { $0 + $1 }
                }
                inputs = [try activation(op.inputs[0])] + channelParameters(weights: floats(op.inputs[1]), shape: w.shape.dims, bias: bias,
                                                                         inputScale: scale(op.inputs[0]), outputScale: outputScale)
                if op.kind == .fullyConnected { attributes = [0] }
            case .batchNorm:
                let channels = tensors[op.inputs[1]].elementCount
                inputs = [try activation(op.inputs[0])] + channelParameters(weights: floats(op.inputs[1]), shape: [channels],
                                                                         bias: floats(op.inputs[2]), inputScale: scale(op.inputs[0]), outputScale: outputScale)
                attributes = [0]
            case .add, .sub:
                let a = try operand(op.inputs[0]), b = try operand(op.inputs[1])
                inputs = [a, b]
                let sa = Double(builderScale(builder, a)), sb = Double(builderScale(builder, b))
                let twiceMax = 2 * max(sa, sb)
                let (m1, s1) = FixedPoint.quantizeMultiplier(sa / twiceMax)
                let (m2, s2) = FixedPoint.quantizeMultiplier(sb / twiceMax)
                let (mo, so) = FixedPoint.quantizeMultiplier(twiceMax / (Double(1 << 20) * outputScale))
                attributes = [20, m1, s1, m2, s2, mo, so]
            case .mul, .matmul:
                let a = try operand(op.inputs[0]), b = try operand(op.inputs[1])
                inputs = [a, b]
                let (m, s) = FixedPoint.quantizeMultiplier(Double(builderScale(builder, a)) * Double(builderScale(builder, b)) / outputScale)
                attributes = [m, s]
            case .tanh, .sigmoid, .hardSigmoid, .hardSwish, .leakyRelu:
                let table = Quantizer.lookupTable(op, input: parameters[op.inputs[0]]!, output: parameters[out]!)
                inputs = [try activation(op.inputs[0]), builder.addConstant(bytes: Quantizer.int8Bytes(table), dataType: .int8, shape: [256],
                                                                              quantization: Quantization(kind: .perTensor, scale: 1, zeroPoint: 0, axis: 0, channelScalesOffset: 0))]
            case .clip:
                // Input and output share the quantization: the bounds in int8.
                let p = parameters[out]!
                let (low, high) = Quantizer.clipBounds(op)
                func level(_ value: Float) -> Int32 {
                    if value == -.infinity { return -128 }
                    if value == .infinity { return 127 }
                    return Int32(max(-128, min(127, (Double(value) / Double(p.scale)).rounded() + Double(p.zeroPoint))))
                }
                inputs = [try activation(op.inputs[0])]
                attributes = [level(low), level(high)]
            case .reduceSum:
                inputs = [try activation(op.inputs[0])]
                let (m, s) = FixedPoint.quantizeMultiplier(scale(op.inputs[0]) / outputScale)
                attributes = [op.attributes[0], m, s]
            case .div:
                let a = try operand(op.inputs[0]), b = try operand(op.inputs[1])
                inputs = [a, b]
                let real = Double(builderScale(builder, a)) / (Double(builderScale(builder, b)) * outputScale * 65536)
                let (m, s) = FixedPoint.quantizeMultiplier(real)
                if m <= 0 || s < -31 || s > 30 {
                    throw QuantizationError("operator \(index) (div): the output multiplier \(real) (s_a / (s_b · s_out · 2^16)) is outside what int8 division represents; keep this division in float32 or rescale its inputs")
                }
                attributes = [m, s]
            case .pad:
                inputs = [try activation(op.inputs[0])]
                if op.attributes[8] == 0 {
                    let p = parameters[out]!
                    let value = Double(Float(bitPattern: UInt32(bitPattern: op.attributes[9])))
                    attributes[9] = Int32(max(-128, min(127, (value / Double(p.scale)).rounded() + Double(p.zeroPoint))))
                }
            case .softmax:
                let shape = tensors[op.inputs[0]].shape
                if op.axis != shape.rank - 1 { throw QuantizationError("operator \(index) (softmax): int8 softmax runs over the last axis only") }
                let s = parameters[op.inputs[0]]!.scale
                let table = (0..<256).map { Int32((Foundation.exp(-Double(s) * Double($0)) * 1_048_576).rounded()) }
                inputs = [try activation(op.inputs[0]), int32Constant(table)]
                attributes = [op.attributes[0], Int32(min(Double(Int32.max), (256 / outputScale).rounded()))]
            case .relu, .maxPool, .avgPool, .globalAvgPool, .reshape, .transpose, .concat, .reduceMax, .expand, .slice, .resize:
                inputs = try op.inputs.map { try activation($0) }
            }
            let output = try activation(out)
            builder.addOperator(op.kind, inputs: inputs, output: output, attributes: attributes, activation: op.activation)
            while nextExit < model.exits.count && model.exits[nextExit].afterOperator == index {
                let gateTensor = model.exits[nextExit].gateTensor
                builder.addExit(logits: mapped[model.exits[nextExit].logitsTensor],
                                gate: gateTensor == ExitInfo.noGate ? ExitInfo.noGate : mapped[gateTensor])
                nextExit += 1
            }
        }
        builder.setPolicy(model.defaultPolicy)
        builder.metadata = model.metadata
        if !builder.metadata.name.isEmpty { builder.metadata.name += "-int8" }
        do {
            return try builder.serialize()
        } catch let error as ModelError {
            throw QuantizationError("the quantized model does not validate: \(error)")
        }
    }

    /// A clip's float bounds (−∞/+∞ where it has none).
    static func clipBounds(_ op: Operator) -> (Float, Float) {
        (Float(bitPattern: UInt32(bitPattern: op.attributes[0])), Float(bitPattern: UInt32(bitPattern: op.attributes[1])))
    }

    /// The real function of an element-wise operator that runs by lookup in int8.
    static func function(_ op: Operator) -> (Double) -> Double {
        let alpha = Double(Float(bitPattern: UInt32(bitPattern: op.attributes[0])))
        let beta = Double(Float(bitPattern: UInt32(bitPattern: op.attributes[1])))
        switch op.kind {
        case .tanh: return { Foundation.tanh($0) }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case .hardSigmoid: return { max(0, min(1, alpha * $0 + beta)) }
        case .hardSwish: return { $0 * max(0, min(1, $0 / 6 + 0.5)) }
        default: return { $0 < 0 ? alpha * $0 : $0 } // leaky ReLU
        }
    }

    /// The 256-entry table of an element-wise function: for every int8 input q, the function
    /// (in Double) of its real value s_in·(q − zp_in) (in float32), as float32 divided by the
    /// output scale, rounded, plus the output zero point, clamped.
    static func lookupTable(_ op: Operator, input p: Parameters, output o: Parameters) -> [Int8] {
        let f = function(op)
        return (-128...127).map { q in
            let x = p.scale * Float(Int32(q) - p.zeroPoint)
            let y = Float(f(Double(x)))
            return Int8(max(-128, min(127, (y / o.scale).rounded() + Float(o.zeroPoint))))
        }
    }

    /// The per-tensor scale of a tensor already added to the builder.
    func builderScale(_ builder: ModelBuilder, _ tensor: Int) -> Float { builder.quantization(of: tensor).scale }
}
