// `ee_interpreter_*`: interpreters in caller-owned arenas, policies, runs and results (include/earlyexit.h).
#if !EARLYEXIT_SINGLE_MODULE
import EarlyExit
#endif

/// The layout of the C `ee_result` (32 bytes): four int32 fields, then two uint64 fields.
public struct EEResult: Equatable {
    public var classIndex: Int32 = 0
    public var exitIndex: Int32 = 0
    public var exitsEvaluated: Int32 = 0
    public var exitedEarly: Int32 = 0
    public var macs: UInt64 = 0
    public var macsFull: UInt64 = 0

    public init() {}
}

/// Writes a run summary as an `ee_result` at explicit offsets.
func cWriteResult(_ summary: RunSummary, to out: UnsafeMutableRawPointer) {
    out.storeBytes(of: Int32(truncatingIfNeeded: summary.classIndex), toByteOffset: 0, as: Int32.self)
    out.storeBytes(of: Int32(truncatingIfNeeded: summary.exitIndex), toByteOffset: 4, as: Int32.self)
    out.storeBytes(of: Int32(truncatingIfNeeded: summary.exitsEvaluated), toByteOffset: 8, as: Int32.self)
    out.storeBytes(of: summary.exitedEarly ? 1 : 0, toByteOffset: 12, as: Int32.self)
    out.storeBytes(of: UInt64(summary.macs), toByteOffset: 16, as: UInt64.self)
    out.storeBytes(of: UInt64(summary.macsFull), toByteOffset: 24, as: UInt64.self)
}

/// `ee_status ee_interpreter_create(const ee_model *model, void *arena, size_t arena_size, ee_interpreter **out_interpreter)`
@_cdecl("ee_interpreter_create")
public func ee_interpreter_create(_ rawModel: OpaquePointer?, _ arena: UnsafeMutableRawPointer?, _ arenaSize: UInt,
                                  _ outInterpreter: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outInterpreter?.pointee = nil
    var status = EEStatus.ok
    guard let model = cModel(rawModel, &status) else { return status.rawValue }
    guard let arena, let outInterpreter else { return EEStatus.nullArgument.rawValue }
    let mapping = cModelHandle(rawModel!)?.pointee.mapping
    let interpreter: Interpreter
    do {
        interpreter = try Interpreter(model: model, arena: UnsafeMutableRawBufferPointer(start: arena, count: cSize(arenaSize)))
    } catch {
        return cStatus(error).rawValue
    }
    let row = [Float](repeating: 0, count: model.earlyExitCount)
    let handle = UnsafeMutablePointer<CInterpreterHandle>.allocate(capacity: 1)
    handle.initialize(to: CInterpreterHandle(magic: CInterpreterHandle.liveMagic, interpreter: Unmanaged.passRetained(interpreter),
                                             rowA: row, rowB: [Float](repeating: 0, count: model.earlyExitCount), nextRowIsB: false,
                                             mapping: mapping))
    outInterpreter.pointee = OpaquePointer(handle)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_close(ee_interpreter *interpreter)`
@_cdecl("ee_interpreter_close")
public func ee_interpreter_close(_ raw: OpaquePointer?) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    handle.pointee.magic = 0
    handle.pointee.interpreter.release()
    handle.deinitialize(count: 1)
    handle.deallocate()
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_set_policy(ee_interpreter *interpreter, ee_signal signal, const float *thresholds, size_t count, uint32_t flags)`
@_cdecl("ee_interpreter_set_policy")
public func ee_interpreter_set_policy(_ raw: OpaquePointer?, _ signalCode: Int32, _ thresholds: UnsafePointer<Float>?,
                                      _ count: UInt, _ flags: UInt32) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard signalCode >= 0 && signalCode <= 255, let signal = ExitSignal(rawValue: UInt8(signalCode)) else {
        return EEStatus.badSignal.rawValue
    }
    if flags & ~EEPolicyFlags.combineSeenExits != 0 { return EEStatus.badFlags.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    let early = interpreter.model.earlyExitCount
    let zeros = thresholds == nil && count == 0 && signal == .none
    if !zeros {
        if count != UInt(early) { return EEStatus.badThresholds.rawValue }
        if early > 0 {
            guard let thresholds else { return EEStatus.nullArgument.rawValue }
            for index in 0..<early where !thresholds[index].isFinite { return EEStatus.badThresholds.rawValue }
        }
    }
    // Fill the row the current policy does not hold (uniquely referenced: written in place).
    let useB = handle.pointee.nextRowIsB
    for index in 0..<early {
        let value = zeros ? 0 : thresholds![index]
        if useB { handle.pointee.rowB[index] = value } else { handle.pointee.rowA[index] = value }
    }
    let policy = ExitPolicy(signal: signal, thresholds: useB ? handle.pointee.rowB : handle.pointee.rowA,
                            combineSeenExits: flags & EEPolicyFlags.combineSeenExits != 0)
    do {
        try interpreter.setPolicy(policy)
    } catch {
        return EEStatus.badThresholds.rawValue
    }
    handle.pointee.nextRowIsB = !useB
    return EEStatus.ok.rawValue
}

/// The bits of the `flags` word of `ee_interpreter_set_policy`.
enum EEPolicyFlags {
    static let combineSeenExits: UInt32 = 1
}

/// The steps both run entry points share: handle and argument checks, the run, the result.
/// The input size (and type, for the int8 entry) is checked here as well as in the core, so
/// that a refused input allocates no message.
func cRun(_ raw: OpaquePointer?, hasInput: Bool, count: UInt, requiresInt8: Bool, _ outResult: UnsafeMutableRawPointer?,
          _ run: (Interpreter) throws(ModelError) -> RunSummary) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard hasInput else { return EEStatus.nullArgument.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    let input = interpreter.model.input
    if (requiresInt8 && input.dataType != .int8) || count != UInt(input.elementCount) { return EEStatus.badInput.rawValue }
    do {
        let summary = try run(interpreter)
        if let outResult { cWriteResult(summary, to: outResult) }
        return EEStatus.ok.rawValue
    } catch {
        return cStatus(error).rawValue
    }
}

/// `ee_status ee_interpreter_run(ee_interpreter *interpreter, const float *input, size_t count, ee_result *out_result)`
/// (An int8 model takes float input too: the core quantizes it at the boundary.)
@_cdecl("ee_interpreter_run")
public func ee_interpreter_run(_ raw: OpaquePointer?, _ input: UnsafePointer<Float>?, _ count: UInt,
                               _ outResult: UnsafeMutableRawPointer?) -> Int32 {
    cRun(raw, hasInput: input != nil, count: count, requiresInt8: false, outResult) { (interpreter) throws(ModelError) in
        try interpreter.run(UnsafeBufferPointer(start: input, count: Int(count)))
    }
}

/// `ee_status ee_interpreter_run_int8(ee_interpreter *interpreter, const int8_t *input, size_t count, ee_result *out_result)`
@_cdecl("ee_interpreter_run_int8")
public func ee_interpreter_run_int8(_ raw: OpaquePointer?, _ input: UnsafePointer<Int8>?, _ count: UInt,
                                    _ outResult: UnsafeMutableRawPointer?) -> Int32 {
    cRun(raw, hasInput: input != nil, count: count, requiresInt8: true, outResult) { (interpreter) throws(ModelError) in
        try interpreter.run(UnsafeBufferPointer(start: input, count: Int(count)))
    }
}

/// `ee_status ee_interpreter_result(const ee_interpreter *interpreter, ee_result *out_result)`
@_cdecl("ee_interpreter_result")
public func ee_interpreter_result(_ raw: OpaquePointer?, _ outResult: UnsafeMutableRawPointer?) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard let outResult else { return EEStatus.nullArgument.rawValue }
    guard let summary = handle.pointee.interpreter.takeUnretainedValue().lastRun else { return EEStatus.noResult.rawValue }
    cWriteResult(summary, to: outResult)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_scores(const ee_interpreter *interpreter, float *scores, size_t capacity)`
@_cdecl("ee_interpreter_scores")
public func ee_interpreter_scores(_ raw: OpaquePointer?, _ scores: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard let scores else { return EEStatus.nullArgument.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    if interpreter.lastRun == nil { return EEStatus.noResult.rawValue }
    let row = interpreter.scores
    if capacity < UInt(row.count) { return EEStatus.bufferTooSmall.rawValue }
    for index in 0..<row.count { scores[index] = row[index] }
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_gates(const ee_interpreter *interpreter, float *gates, size_t capacity, size_t *out_count)`
@_cdecl("ee_interpreter_gates")
public func ee_interpreter_gates(_ raw: OpaquePointer?, _ gates: UnsafeMutablePointer<Float>?, _ capacity: UInt,
                                 _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard let gates else { return EEStatus.nullArgument.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    guard let summary = interpreter.lastRun else { return EEStatus.noResult.rawValue }
    outCount?.pointee = UInt(summary.exitsEvaluated)
    if capacity < UInt(summary.exitsEvaluated) { return EEStatus.bufferTooSmall.rawValue }
    for exit in 0..<summary.exitsEvaluated { gates[exit] = interpreter.gate(exit: exit) }
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_logits(const ee_interpreter *interpreter, size_t exit, float *logits, size_t capacity)`
@_cdecl("ee_interpreter_logits")
public func ee_interpreter_logits(_ raw: OpaquePointer?, _ exit: UInt, _ logits: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard let logits else { return EEStatus.nullArgument.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    guard let summary = interpreter.lastRun else { return EEStatus.noResult.rawValue }
    if exit >= UInt(summary.exitsEvaluated) { return EEStatus.outOfRange.rawValue }
    let row = interpreter.logits(exit: Int(exit))
    if capacity < UInt(row.count) { return EEStatus.bufferTooSmall.rawValue }
    for index in 0..<row.count { logits[index] = row[index] }
    return EEStatus.ok.rawValue
}

/// `ee_status ee_interpreter_use_model_policy(ee_interpreter *interpreter)`
@_cdecl("ee_interpreter_use_model_policy")
public func ee_interpreter_use_model_policy(_ raw: OpaquePointer?) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    let interpreter = handle.pointee.interpreter.takeUnretainedValue()
    do {
        try interpreter.setPolicy(interpreter.model.defaultPolicy)
    } catch {
        return EEStatus.badThresholds.rawValue
    }
    return EEStatus.ok.rawValue
}
