// Integer exit decisions and the eq. 9 combination for int8 models.

/// Tables and thresholds that make every exit decision of an int8 model an integer
/// comparison. Built at interpreter setup (from the model's scales and the policy's
/// thresholds, once); used during `run` with integer arithmetic only.
///
/// Fixed-point conventions: exponentials are Q20 (`2^20 · e^{−s·d}` for d = 0…255 steps of
/// the tensor's scale); logarithms, entropies and scores are Q16.
struct QuantizedExits {
    static let exponentBits: Int64 = 20
    static let ln2Q16: Int64 = 45426 // round(ln 2 · 2^16)

    let exitCount: Int
    let classCount: Int
    /// [exit][256] Q20 exponentials of logit differences, per exit's logits scale.
    let logitExp: UnsafeMutablePointer<Int32>
    /// [256] Q20 exponentials of gate differences (all gates share one scale).
    let gateExp: UnsafeMutablePointer<Int32>
    /// [257] Q16 ln(1 + i/256), interpolated linearly between entries.
    let logTable: UnsafeMutablePointer<Int32>
    /// [exit] logits scale in Q16, logits zero point.
    let logitScaleQ16: UnsafeMutablePointer<Int64>
    /// [early exit] integer thresholds for the current policy.
    let thresholds: UnsafeMutablePointer<Int64>
    /// [early exit] integer thresholds of the policy's second conditions (unused where none).
    let secondThresholds: UnsafeMutablePointer<Int64>
    /// Scale and zero point of each exit's gate, for dequantizing on request.
    let gateScales: UnsafeMutablePointer<Float>
    let gateZeroPoints: UnsafeMutablePointer<Int32>
    let logitScales: UnsafeMutablePointer<Float>
    let logitZeroPoints: UnsafeMutablePointer<Int32>
    /// [classes] 64-bit accumulators of the combination.
    let accumulators: UnsafeMutablePointer<Int64>
    /// [exit] the int32 accumulator (bias included) of the fully connected operator that
    /// computes the gate's pre-activation, written by that operator during `run`.
    let gateAccumulators: UnsafeMutablePointer<Int32>
    /// [exit] the real value of one accumulator unit, S_x·S_w = S_y·M·2^(shift−31); 0 when the
    /// exit's gate is not `tanh(fully_connected(...))` with one output (then the int8 gate decides).
    let gateAccumulatorScales: UnsafeMutablePointer<Double>
    /// [operator] the exit whose gate accumulator the operator writes, or −1.
    let gateSlots: UnsafeMutablePointer<Int32>

    init(model: Model) {
        exitCount = model.exits.count
        classCount = model.classCount
        logitExp = .allocate(capacity: exitCount * 256)
        gateExp = .allocate(capacity: 256)
        logTable = .allocate(capacity: 257)
        logitScaleQ16 = .allocate(capacity: exitCount)
        thresholds = .allocate(capacity: max(exitCount, 1))
        thresholds.initialize(repeating: Int64.max, count: max(exitCount, 1))
        secondThresholds = .allocate(capacity: max(exitCount, 1))
        secondThresholds.initialize(repeating: Int64.max, count: max(exitCount, 1))
        gateScales = .allocate(capacity: exitCount)
        gateZeroPoints = .allocate(capacity: exitCount)
        logitScales = .allocate(capacity: exitCount)
        logitZeroPoints = .allocate(capacity: exitCount)
        accumulators = .allocate(capacity: classCount)
        gateAccumulators = .allocate(capacity: max(exitCount, 1))
        gateAccumulators.initialize(repeating: 0, count: max(exitCount, 1))
        gateAccumulatorScales = .allocate(capacity: max(exitCount, 1))
        gateAccumulatorScales.initialize(repeating: 0, count: max(exitCount, 1))
        gateSlots = .allocate(capacity: max(model.operators.count, 1))
        gateSlots.initialize(repeating: -1, count: max(model.operators.count, 1))
        QuantizedExits.findGateAccumulators(model, slots: gateSlots, scales: gateAccumulatorScales)
        for (index, exit) in model.exits.enumerated() {
            let logits = model.tensors[exit.logitsTensor].quantization
            let gate = exit.hasGate ? model.tensors[exit.gateTensor].quantization : Quantization.none
            logitScales[index] = logits.scale
            logitZeroPoints[index] = logits.zeroPoint
            gateScales[index] = gate.scale
            gateZeroPoints[index] = gate.zeroPoint
            // Scales are validated positive and finite; a hostile model's huge scale is clamped
            // so that the products below cannot overflow (such a model exits on garbage, safely).
            logitScaleQ16[index] = Int64(min(logits.scale * 65536, 1_073_741_824).rounded())
            for d in 0..<256 {
                logitExp[index * 256 + d] = Int32((FloatMath.exp(-logits.scale * Float(d)) * 1_048_576).rounded())
            }
        }
        let gateScale = model.exits.first(where: { $0.hasGate }).map { model.tensors[$0.gateTensor].quantization.scale } ?? 1
        for d in 0..<256 {
            gateExp[d] = Int32((FloatMath.exp(-gateScale * Float(d)) * 1_048_576).rounded())
        }
        for i in 0...256 {
            logTable[i] = Int32((FloatMath.log(1 + Float(i) / 256) * 65536).rounded())
        }
    }

    func deallocate() {
        logitExp.deallocate(); gateExp.deallocate(); logTable.deallocate(); logitScaleQ16.deallocate()
        thresholds.deallocate(); secondThresholds.deallocate(); gateScales.deallocate(); gateZeroPoints.deallocate()
        logitScales.deallocate(); logitZeroPoints.deallocate(); accumulators.deallocate()
        gateAccumulators.deallocate(); gateAccumulatorScales.deallocate(); gateSlots.deallocate()
    }

    /// For each exit whose gate is `tanh(fully_connected(x))` with a single output, marks that
    /// operator as writing the exit's accumulator and records one accumulator unit's real value.
    /// The int8 gate has 256 levels of tanh's output, which near ±1 (where exit thresholds sit)
    /// cover wide ranges of its input: deciding on the int32 pre-activation keeps the decision
    /// as fine as the accumulator. Any other structure leaves the exit on its int8 gate.
    private static func findGateAccumulators(_ model: Model, slots: UnsafeMutablePointer<Int32>,
                                             scales: UnsafeMutablePointer<Double>) {
        let producers = model.tensorProducers()
        func producer(_ tensor: Int) -> Int? { producers[tensor] >= 0 ? producers[tensor] : nil }
        for (index, exit) in model.exits.enumerated() {
            guard exit.hasGate, let tanhIndex = producer(exit.gateTensor), model.operators[tanhIndex].kind == .tanh,
                  let fcIndex = producer(model.operators[tanhIndex].inputs[0]) else { continue }
            let fc = model.operators[fcIndex]
            guard fc.kind == .fullyConnected, fc.inputs.count >= 5, model.tensors[fc.output].shape.elementCount == 1,
                  model.tensors[fc.inputs[1]].shape[0] == 1, slots[fcIndex] == -1 else { continue }
            let multiplier = model.constantInt32(fc.inputs[3])[0], shift = model.constantInt32(fc.inputs[4])[0]
            let outputScale = Double(model.tensors[fc.output].quantization.scale)
            guard multiplier > 0, shift > -64, shift < 64, outputScale > 0, outputScale.isFinite else { continue }
            let unit = outputScale * Double(sign: .plus, exponent: Int(shift) - 31, significand: Double(multiplier))
            guard unit > 0, unit.isFinite else { continue }
            slots[fcIndex] = Int32(index)
            scales[index] = unit
        }
    }

    /// The accumulator row the fully connected operator `index` also writes, if it computes a gate.
    @inline(__always)
    func gateAccumulator(operator index: Int) -> UnsafeMutablePointer<Int32>? {
        let slot = gateSlots[index]
        return slot < 0 ? nil : gateAccumulators + Int(slot)
    }

    /// The gate of exit `index` from its int32 pre-activation, when it has one (for reports).
    func preciseGate(exit index: Int) -> Float? {
        gateAccumulatorScales[index] > 0 ? gate(exit: index, accumulator: Int64(gateAccumulators[index])) : nil
    }

    @inline(__always)
    func gate(exit index: Int, accumulator: Int64) -> Float {
        FloatMath.tanh(Float(gateAccumulatorScales[index] * Double(accumulator)))
    }

    /// The smallest accumulator in the int32 range whose gate reaches `threshold`, or Int64.max.
    func smallestAccumulator(exit index: Int, reaching threshold: Float) -> Int64 {
        var low = Int64(Int32.min), high = Int64(Int32.max)
        if !(gate(exit: index, accumulator: high) >= threshold) { return Int64.max }
        if gate(exit: index, accumulator: low) >= threshold { return low }
        while high - low > 1 { // invariant: gate(low) < T ≤ gate(high)
            let middle = low + (high - low) / 2
            if gate(exit: index, accumulator: middle) >= threshold { high = middle } else { low = middle }
        }
        return high
    }

    /// Converts the policy's thresholds (and its second conditions' thresholds) to the integer
    /// domain of each exit.
    func setThresholds(_ policy: ExitPolicy) {
        for (index, threshold) in policy.thresholds.enumerated() {
            thresholds[index] = integerThreshold(exit: index, signal: policy.signal(exit: index), threshold)
        }
        for (index, threshold) in policy.secondThresholds.enumerated() {
            secondThresholds[index] = integerThreshold(exit: index, signal: policy.secondSignal(exit: index), threshold)
        }
    }

    /// `threshold` of `signal` in exit `index`'s integer domain.
    func integerThreshold(exit index: Int, signal: ExitSignal, _ threshold: Float) -> Int64 {
            switch signal {
            case .none:
                return Int64.max
            case .gate where gateAccumulatorScales[index] > 0:
                // The smallest int32 accumulator a whose reported gate tanh(u·a) is ≥ T, found
                // by bisection over the reported function itself, so that an exit is taken exactly
                // when `gate(exit:)` ≥ T (tanh is non-decreasing). None: Int64.max, never exits.
                return smallestAccumulator(exit: index, reaching: threshold)
            case .gate:
                // Exit when the dequantized gate s·(q − zp) ≥ T, evaluated exactly as the gate is
                // reported: the smallest such int8 q (128 = never).
                var bound: Int64 = 128
                for q in stride(from: 127, through: -128, by: -1) {
                    if gateScales[index] * Float(Int32(q) - gateZeroPoints[index]) >= threshold { bound = Int64(q) } else { break }
                }
                return bound
            case .maxProbability:
                // max p ≥ T  ⇔  Σ e^{−s·d_i} ≤ 1/T  ⇔  Σ table ≤ 2^20 / T (in Double, clamped: no trap).
                let limit = 1_048_576 / Double(threshold)
                if threshold <= 0 || !(limit < 9.0e18) { return Int64.max } else if threshold > 1 { return -1 } else {
                    return Int64(limit.rounded(.down))
                }
            case .entropy:
                return threshold > 1000 ? Int64.max / 4 : threshold < -1000 ? Int64.min / 4 : Int64((threshold * 65536).rounded())
            }
    }

    /// ln(x) in Q16 for x ≥ 1: the position of the leading bit, then ln of the mantissa from a
    /// 257-entry table interpolated linearly on the next 8 bits (error below 1e-5).
    @inline(__always)
    func lnQ16(_ x: Int64) -> Int64 {
        let msb = 63 - x.leadingZeroBitCount
        // The 16 bits after the leading one: an 8-bit table index and an 8-bit fraction.
        let bits = msb >= 16 ? (x >> (msb - 16)) & 0xFFFF : (x << (16 - msb)) & 0xFFFF
        let index = Int(bits >> 8), fraction = bits & 0xFF
        let low = Int64(logTable[index]), high = Int64(logTable[index + 1])
        return Int64(msb) * QuantizedExits.ln2Q16 + low + ((high - low) * fraction + 128) / 256
    }

    /// Σ_i table[max − l_i] and the row's maximum.
    @inline(__always)
    func exponentialSum(_ logits: UnsafePointer<Int32>, exit: Int) -> (sum: Int64, largest: Int32) {
        var largest = Int32.min
        for c in 0..<classCount { largest = max(largest, logits[c]) }
        var sum: Int64 = 0
        let table = logitExp + exit * 256
        for c in 0..<classCount { sum += Int64(table[Int(largest - logits[c])]) }
        return (sum, largest)
    }

    /// True when the policy takes early exit `exit`: its signal passes its integer threshold and
    /// its second condition, if any, passes its own.
    @inline(__always)
    func passes(exit: Int, policy: ExitPolicy, logits: UnsafePointer<Int32>, gate: Int32) -> Bool {
        if !passes(exit: exit, signal: policy.signal(exit: exit), threshold: thresholds[exit], logits: logits, gate: gate) { return false }
        let second = policy.secondSignal(exit: exit)
        return second == .none || passes(exit: exit, signal: second, threshold: secondThresholds[exit], logits: logits, gate: gate)
    }

    /// True when the exit's integer `signal` passes the integer `threshold`.
    func passes(exit: Int, signal: ExitSignal, threshold: Int64, logits: UnsafePointer<Int32>, gate: Int32) -> Bool {
        switch signal {
        case .none:
            return false
        case .gate:
            if gateAccumulatorScales[exit] > 0 { return Int64(gateAccumulators[exit]) >= threshold }
            return Int64(gate) >= threshold
        case .maxProbability:
            return exponentialSum(logits, exit: exit).sum <= threshold
        case .entropy:
            // H = ln Σe − ln 2^20 + s·Σ(e_i·d_i)/Σe, in Q16.
            let (sum, largest) = exponentialSum(logits, exit: exit)
            let table = logitExp + exit * 256
            var weighted: Int64 = 0
            for c in 0..<classCount {
                let d = Int(largest - logits[c])
                weighted += Int64(table[d]) * Int64(d)
            }
            let (product, overflow) = logitScaleQ16[exit].multipliedReportingOverflow(by: weighted)
            let entropy = lnQ16(sum) - QuantizedExits.exponentBits * QuantizedExits.ln2Q16 + (overflow ? Int64.max / 4 : product / sum)
            return entropy <= threshold
        }
    }

    /// `// logits (n) int -> log-softmax (n) Q16`
    func logSoftmaxQ16(_ logits: UnsafePointer<Int32>, exit: Int, into out: UnsafeMutablePointer<Int32>) {
        let (sum, largest) = exponentialSum(logits, exit: exit)
        let shift = lnQ16(sum) - QuantizedExits.exponentBits * QuantizedExits.ln2Q16
        for c in 0..<classCount {
            let value = logitScaleQ16[exit] * Int64(logits[c] - largest) - shift
            out[c] = Int32(clamping: value)
        }
    }

    /// Eq. 9 in Q16: Σ_k w_k · log_softmax(o_k) / Σ_k w_k with w_k = e^{s_g·(g_k − g_max)} (Q20).
    func combine(logits: UnsafePointer<Int32>, gates: UnsafePointer<Int32>, exitCount count: Int,
                 into out: UnsafeMutablePointer<Int32>, work: UnsafeMutablePointer<Int32>) {
        var largest = Int32.min
        for k in 0..<count { largest = max(largest, gates[k]) }
        var total: Int64 = 0
        for k in 0..<count { total += Int64(gateExp[Int(min(largest - gates[k], 255))]) }
        for c in 0..<classCount { accumulators[c] = 0 }
        for k in 0..<count {
            let weight = Int64(gateExp[Int(min(largest - gates[k], 255))])
            logSoftmaxQ16(logits + k * classCount, exit: k, into: work)
            for c in 0..<classCount { accumulators[c] += weight * Int64(work[c]) }
        }
        for c in 0..<classCount { out[c] = Int32(clamping: accumulators[c] / total) }
    }
}
