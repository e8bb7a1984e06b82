// Runs a model's schedule from one arena, exit segment by exit segment.

/// Executes a model inside an arena; one interpreter per thread.
///
/// All activations, scratch and per-exit results live in the arena, which is planned at model
/// load and either supplied by the caller or allocated once at initialization. `run` does
/// not allocate: it copies the input into the arena, executes operators up to each exit,
/// evaluates that exit's signal, and stops as soon as the policy is satisfied.
public final class Interpreter {
    public let model: Model
    /// The exit policy `run` applies; set it with `setPolicy(_:)`, which validates it.
    public private(set) var policy: ExitPolicy
    let arena: UnsafeMutableRawPointer
    public let arenaByteCount: Int
    private let ownsArena: Bool
    let exitLogits: UnsafeMutablePointer<Float>
    let exitGates: UnsafeMutablePointer<Float>
    let scoreRow: UnsafeMutablePointer<Float>
    let workRow: UnsafeMutablePointer<Float>
    /// Integer exit tables of an int8 model; nil for float32 models.
    let quantizedExits: QuantizedExits?
    /// Host-side dequantized copies of an int8 model's outputs, filled when read.
    private let dequantized: UnsafeMutablePointer<Float>?
    /// The tracing callback of `run(_:afterEachOperator:)`, set only during such a run.
    private var observer: ((Int) -> Void)?
    /// The summary of the last run, or nil before the first.
    public internal(set) var lastRun: RunSummary?
    /// The arena and model bound for operator evaluation.
    private var context: ExecutionContext

    /// Creates an interpreter in a caller-owned arena of at least `model.plan.arenaBytes`
    /// bytes, aligned to 64 bytes. The arena must outlive the interpreter.
    public convenience init(model: Model, arena: UnsafeMutableRawBufferPointer) throws(ModelError) {
        guard let base = arena.baseAddress else { throw .arenaTooSmall(required: model.plan.arenaBytes, provided: 0) }
        if arena.count < model.plan.arenaBytes { throw .arenaTooSmall(required: model.plan.arenaBytes, provided: arena.count) }
        let address = UInt(bitPattern: base)
        if address % UInt(ArenaPlan.alignment) != 0 { throw .misalignedArena(address: address, required: ArenaPlan.alignment) }
        self.init(model: model, checkedArena: base, byteCount: arena.count)
    }

    /// An interpreter in a caller-owned arena already checked: validation happens in the
    /// convenience initializer, before the object exists (a designated initializer that throws
    /// leaks its object in Embedded Swift; see `Model.init(loaded:...)`).
    private init(model: Model, checkedArena base: UnsafeMutableRawPointer, byteCount: Int) {
        self.model = model
        self.arena = base
        self.arenaByteCount = byteCount
        self.ownsArena = false
        self.policy = model.defaultPolicy
        (exitLogits, exitGates, scoreRow, workRow) = Interpreter.persistentRows(base, model)
        (quantizedExits, dequantized) = Interpreter.quantizedState(model)
        context = ExecutionContext(arena: base, model: model, quantizedExits: quantizedExits)
    }

    /// Creates an interpreter that allocates its own arena, once, now.
    public init(model: Model) {
        let bytes = max(model.plan.arenaBytes, ArenaPlan.alignment)
        let base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: ArenaPlan.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.model = model
        self.arena = base
        self.arenaByteCount = bytes
        self.ownsArena = true
        self.policy = model.defaultPolicy
        (exitLogits, exitGates, scoreRow, workRow) = Interpreter.persistentRows(base, model)
        (quantizedExits, dequantized) = Interpreter.quantizedState(model)
        context = ExecutionContext(arena: base, model: model, quantizedExits: quantizedExits)
    }

    deinit {
        if ownsArena { arena.deallocate() }
        quantizedExits?.deallocate()
        dequantized?.deallocate()
    }

    private static func quantizedState(_ model: Model) -> (QuantizedExits?, UnsafeMutablePointer<Float>?) {
        guard model.isQuantized else { return (nil, nil) }
        let exits = QuantizedExits(model: model)
        exits.setThresholds(model.defaultPolicy)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: model.exits.count * (model.classCount + 1) + model.classCount)
        return (exits, floats)
    }

    private static func persistentRows(_ base: UnsafeMutableRawPointer, _ model: Model)
        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let layout = ArenaLayout(arena: base, exitCount: model.exits.count, classCount: model.classCount)
        return (layout.exitLogits, layout.exitGates, layout.scores, layout.work)
    }

    /// Validates and sets the policy used by later runs.
    public func setPolicy(_ policy: ExitPolicy) throws(ModelError) {
        try policy.validate(earlyExitCount: model.earlyExitCount)
        try policy.checkGates(model.exits)
        self.policy = policy
        quantizedExits?.setThresholds(policy)
    }

    /// Runs one inference on a float32 input laid out as the model's input tensor (NCHW).
    public func run(_ input: UnsafeBufferPointer<Float>) throws(ModelError) -> RunSummary {
        let info = model.input
        if input.count != info.elementCount {
            throw .badInput(reason: "\(input.count) values given, the input tensor \(info.shape) has \(info.elementCount)")
        }
        guard let source = input.baseAddress else { throw .badInput(reason: "empty input") }
        for i in 0..<input.count where !source[i].isFinite {
            throw .badInput(reason: "value \(i) is \(source[i].isNaN ? "NaN" : "infinite")")
        }
        if info.dataType == .int8 {
            // A float input to an int8 model is quantized here, at the boundary; the integer-only
            // path is `run(_: UnsafeBufferPointer<Int8>)` with inputs quantized ahead of time.
            let target = int8s(model.inputTensor)
            let q = info.quantization
            for i in 0..<input.count { target[i] = FloatMath.quantize(source[i], scale: q.scale, zeroPoint: q.zeroPoint) }
        } else {
            floats(model.inputTensor).update(from: source, count: input.count)
        }
        let summary = execute()
        if quantizedExits == nil, let bad = firstNonFiniteExit(summary) {
            lastRun = nil
            throw .nonFiniteOutput(exit: bad)
        }
        lastRun = summary
        return summary
    }

    /// The first evaluated exit whose logits or gate are NaN or infinite (float32 models; an
    /// int8 model's outputs are integers). Such a run's class would be garbage, so it is an error.
    func firstNonFiniteExit(_ summary: RunSummary) -> Int? {
        for exit in 0..<summary.exitsEvaluated {
            if !exitGates[exit].isFinite { return exit }
            let row = exitLogits + exit * model.classCount
            for c in 0..<model.classCount where !row[c].isFinite { return exit }
        }
        return nil
    }

    /// Runs one inference of an int8 model on an input already quantized with the input
    /// tensor's scale and zero point: integer arithmetic only, from input to decision.
    public func run(_ input: UnsafeBufferPointer<Int8>) throws(ModelError) -> RunSummary {
        let info = model.input
        if info.dataType != .int8 { throw .badInput(reason: "the model takes \(info.dataType.name) input, int8 was given") }
        if input.count != info.elementCount {
            throw .badInput(reason: "\(input.count) values given, the input tensor \(info.shape) has \(info.elementCount)")
        }
        guard let source = input.baseAddress else { throw .badInput(reason: "empty input") }
        int8s(model.inputTensor).update(from: source, count: input.count)
        let summary = execute()
        lastRun = summary
        return summary
    }

    /// Quantizes a float input with the int8 model input's scale and zero point (host-side helper).
    public func quantizeInput(_ input: [Float]) -> [Int8] {
        let q = model.input.quantization
        return input.map { value in
            return FloatMath.quantize(value, scale: q.scale, zeroPoint: q.zeroPoint)
        }
    }

    /// Runs one inference and calls `observe` after each operator with its index, so that a
    /// tool can read intermediate tensors (`values(of:)`) before the planner reuses their
    /// memory. Same decisions and results as `run(_:)`.
    public func run(_ input: UnsafeBufferPointer<Float>, afterEachOperator observe: (Int) -> Void) throws(ModelError) -> RunSummary {
        try withoutActuallyEscaping(observe) { (escapable) throws(ModelError) -> RunSummary in
            observer = escapable
            context.observed = true
            defer { observer = nil; context.observed = false }
            return try run(input)
        }
    }

    /// The current contents of a float32 tensor as stored: valid for constants always, and for
    /// an activation only between the operator that produces it and the next reuse of its
    /// memory. A channels-last activation (`model.layouts`) is in that order; see
    /// `standardValues(of:)`.
    /// Empty for tensors that are not float32 (see `int8Values(of:)`).
    public func values(of tensor: Int) -> UnsafeBufferPointer<Float> {
        guard model.tensors[tensor].dataType == .float32 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: floats(tensor), count: model.tensors[tensor].elementCount)
    }

    /// A float32 tensor's current values in the model's declared (standard, NCHW) order,
    /// converted from channels-last storage when the model stores it so (`model.layouts`).
    /// A host convenience: it allocates the returned array. Same validity as `values(of:)`.
    public func standardValues(of tensor: Int) -> [Float] {
        let raw = values(of: tensor)
        guard model.layouts[tensor] == .channelsLast, raw.count > 0 else { return Array(raw) }
        let shape = model.tensors[tensor].shape
        let channels = shape[1]
        let spatial = shape.elementCount / channels
        var result = [Float](repeating: 0, count: raw.count)
        for c in 0..<channels {
            for p in 0..<spatial { result[c * spatial + p] = raw[p * channels + c] }
        }
        return result
    }

    /// The current contents of an int8 tensor (quantized values), with the same validity as
    /// `values(of:)`; empty for tensors that are not int8.
    public func int8Values(of tensor: Int) -> UnsafeBufferPointer<Int8> {
        guard model.tensors[tensor].dataType == .int8 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: int8s(tensor), count: model.tensors[tensor].elementCount)
    }

    /// Runs one inference on an array (a convenience over the buffer form).
    public func run(_ input: [Float]) throws(ModelError) -> RunSummary {
        var result: Result<RunSummary, ModelError> = .failure(.badInput(reason: "empty input"))
        input.withUnsafeBufferPointer { buffer in
            do throws(ModelError) { result = .success(try run(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// The scores of the last run: log-probabilities, or the eq. 9 combination of them.
    /// For int8 models they are converted from Q16 fixed point when read.
    public var scores: UnsafeBufferPointer<Float> {
        guard let dequantized else { return UnsafeBufferPointer(start: scoreRow, count: model.classCount) }
        let out = dequantized + model.exits.count * (model.classCount + 1)
        let fixed = UnsafeMutableRawPointer(scoreRow).assumingMemoryBound(to: Int32.self)
        for c in 0..<model.classCount { out[c] = Float(fixed[c]) / 65536 }
        return UnsafeBufferPointer(start: out, count: model.classCount)
    }

    /// The logits exit `index` produced in the last run (valid for exits it evaluated);
    /// dequantized when read for int8 models.
    public func logits(exit index: Int) -> UnsafeBufferPointer<Float> {
        guard let dequantized, let q = quantizedExits else {
            return UnsafeBufferPointer(start: exitLogits + index * model.classCount, count: model.classCount)
        }
        let out = dequantized + index * model.classCount
        let fixed = UnsafeMutableRawPointer(exitLogits + index * model.classCount).assumingMemoryBound(to: Int32.self)
        for c in 0..<model.classCount { out[c] = q.logitScales[index] * Float(fixed[c] - q.logitZeroPoints[index]) }
        return UnsafeBufferPointer(start: out, count: model.classCount)
    }

    /// The gate eq. 9 weighed for exit `index` in the last run: the gate itself for float
    /// models, the int8 tanh output (steps of 1/128) for int8 models.
    public func combinationGate(exit index: Int) -> Float {
        guard let q = quantizedExits else { return exitGates[index] }
        let fixed = UnsafeMutableRawPointer(exitGates).assumingMemoryBound(to: Int32.self)
        return q.gateScales[index] * Float(fixed[index] - q.gateZeroPoints[index])
    }

    /// The gate value exit `index` produced in the last run (valid for exits it evaluated).
    /// For int8 models whose gates are `tanh(fully_connected(...))`, this is tanh of the fully
    /// connected layer's int32 accumulator, the value gate thresholds are compared with.
    public func gate(exit index: Int) -> Float {
        if let precise = quantizedExits?.preciseGate(exit: index) { return precise }
        return combinationGate(exit: index)
    }

    // MARK: Execution

    /// The arena address of a float32 activation, or the model address of a constant.
    @inline(__always)
    func floats(_ tensor: Int) -> UnsafeMutablePointer<Float> { context.floats(tensor) }

    /// The arena address of an int8 activation, or the model address of an int8 constant.
    @inline(__always)
    func int8s(_ tensor: Int) -> UnsafeMutablePointer<Int8> { context.int8s(tensor) }

    func execute() -> RunSummary {
        if let quantizedExits { return executeQuantized(quantizedExits) }
        let exits = model.exits
        let classes = model.classCount
        var next = 0
        for index in 0..<exits.count {
            let exit = exits[index]
            runSegment(through: exit.afterOperator, next: &next)
            (exitLogits + index * classes).update(from: floats(exit.logitsTensor), count: classes)
            exitGates[index] = exit.hasGate ? floats(exit.gateTensor)[0] : 0
            let isFinal = index == exits.count - 1
            if !isFinal && passes(exit: index) {
                if policy.combineSeenExits {
                    combine(exitCount: index + 1)
                } else {
                    ExitMath.logSoftmax(exitLogits + index * classes, into: scoreRow, count: classes)
                }
                return summary(exit: index, early: true)
            }
        }
        combine(exitCount: exits.count)
        return summary(exit: exits.count - 1, early: false)
    }

    /// Executes operators from `next` through `last` (one exit's segment).
    @inline(__always)
    private func runSegment(through last: Int, next: inout Int) {
        while next <= last {
            if observer != nil || !model.observedOnly[next] { model.prepared[next].evaluate(context, operator: next) }
            if let observer { observer(next) }
            next += 1
        }
    }

    /// The int8 schedule: exits are read as integers and decided by integer comparisons.
    private func executeQuantized(_ q: QuantizedExits) -> RunSummary {
        let exits = model.exits
        let classes = model.classCount
        let logits = UnsafeMutableRawPointer(exitLogits).assumingMemoryBound(to: Int32.self)
        let gates = UnsafeMutableRawPointer(exitGates).assumingMemoryBound(to: Int32.self)
        let scores = UnsafeMutableRawPointer(scoreRow).assumingMemoryBound(to: Int32.self)
        let work = UnsafeMutableRawPointer(workRow).assumingMemoryBound(to: Int32.self)
        var next = 0
        for index in 0..<exits.count {
            let exit = exits[index]
            runSegment(through: exit.afterOperator, next: &next)
            let row = logits + index * classes
            let source = int8s(exit.logitsTensor)
            for c in 0..<classes { row[c] = Int32(source[c]) }
            gates[index] = exit.hasGate ? Int32(int8s(exit.gateTensor)[0]) : 0
            let isFinal = index == exits.count - 1
            if !isFinal && q.passes(exit: index, policy: policy, logits: row, gate: gates[index]) {
                if policy.combineSeenExits {
                    q.combine(logits: logits, gates: gates, exitCount: index + 1, into: scores, work: work)
                } else {
                    q.logSoftmaxQ16(row, exit: index, into: scores)
                }
                return quantizedSummary(exit: index, early: true, scores: scores)
            }
        }
        if model.exitsHaveGates {
            q.combine(logits: logits, gates: gates, exitCount: exits.count, into: scores, work: work)
        } else {
            q.logSoftmaxQ16(logits + (exits.count - 1) * classes, exit: exits.count - 1, into: scores)
        }
        return quantizedSummary(exit: exits.count - 1, early: false, scores: scores)
    }

    private func quantizedSummary(exit index: Int, early: Bool, scores: UnsafeMutablePointer<Int32>) -> RunSummary {
        var best = 0
        for c in 1..<max(model.classCount, 1) where scores[c] > scores[best] { best = c }
        return RunSummary(exitIndex: index, classIndex: best, exitsEvaluated: index + 1, macs: model.exits[index].cumulativeMACs,
                          macsFull: model.totalMACs, exitedEarly: early)
    }

    private func summary(exit index: Int, early: Bool) -> RunSummary {
        RunSummary(exitIndex: index, classIndex: ExitMath.argmax(scoreRow, count: model.classCount),
                   exitsEvaluated: index + 1, macs: model.exits[index].cumulativeMACs,
                   macsFull: model.totalMACs, exitedEarly: early)
    }

    /// The value of the policy's signal at an evaluated exit.
    func signal(exit index: Int) -> Float {
        signal(policy.signal(exit: index), exit: index)
    }

    /// The value of `signal` at an evaluated exit.
    func signal(_ signal: ExitSignal, exit index: Int) -> Float {
        ExitMath.signal(signal, logits: exitLogits + index * model.classCount, gate: exitGates[index],
                        count: model.classCount, work: workRow)
    }

    /// True when the policy takes early exit `index`: its signal passes its threshold, and its
    /// second condition, if it has one, passes too.
    @inline(__always)
    func passes(exit index: Int) -> Bool {
        let first = policy.signal(exit: index)
        if !ExitPolicy.passes(first, signal(first, exit: index), threshold: policy.thresholds[index]) { return false }
        let second = policy.secondSignal(exit: index)
        if second == .none { return true }
        return ExitPolicy.passes(second, signal(second, exit: index), threshold: policy.secondThresholds[index])
    }

    /// Eq. 9 over the first `exitCount` exits: softmax(gates)-weighted sum of log-softmax outputs.
    private func combine(exitCount: Int) {
        if !model.exitsHaveGates {
            // Without a gate on every exit there are no eq. 9 weights: the scores are the
            // log-softmax of the deepest exit seen (for a full run, the network's own head).
            ExitMath.logSoftmax(exitLogits + (exitCount - 1) * model.classCount, into: scoreRow, count: model.classCount)
            return
        }
        ExitMath.combine(logits: exitLogits, gates: exitGates, exitCount: exitCount, classCount: model.classCount,
                         into: scoreRow, work: workRow)
    }
}
