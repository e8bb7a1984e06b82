// `ee_model_*`: opening, validating, closing and describing a model (include/earlyexit.h).
#if !EARLYEXIT_SINGLE_MODULE
import EarlyExit
#endif

/// `ee_status ee_model_open(const void *data, size_t size, ee_model **out_model, char *message, size_t capacity)`
@_cdecl("ee_model_open")
public func ee_model_open(_ data: UnsafeRawPointer?, _ size: UInt, _ outModel: UnsafeMutablePointer<OpaquePointer?>?,
                          _ message: UnsafeMutableRawPointer?, _ capacity: UInt) -> Int32 {
    outModel?.pointee = nil
    guard let outModel else {
        cCopyString("out_model is NULL", to: message, capacity: capacity)
        return EEStatus.nullArgument.rawValue
    }
    guard let data else {
        cCopyString("the model data pointer is NULL", to: message, capacity: capacity)
        return EEStatus.nullArgument.rawValue
    }
    let model: Model
    do {
        model = try Model(borrowing: UnsafeRawBufferPointer(start: data, count: cSize(size)))
    } catch {
        cCopyString(error.description, to: message, capacity: capacity)
        return cStatus(error).rawValue
    }
    let handle = UnsafeMutablePointer<CModelHandle>.allocate(capacity: 1)
    handle.initialize(to: CModelHandle(magic: CModelHandle.liveMagic, model: Unmanaged.passRetained(model)))
    outModel.pointee = OpaquePointer(handle)
    cCopyString("", to: message, capacity: capacity)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_close(ee_model *model)`
@_cdecl("ee_model_close")
public func ee_model_close(_ raw: OpaquePointer?) -> Int32 {
    guard let raw else { return EEStatus.nullArgument.rawValue }
    guard let handle = cModelHandle(raw) else { return EEStatus.invalidHandle.rawValue }
    handle.pointee.magic = 0
    handle.pointee.model.release()
    handle.deinitialize(count: 1)
    handle.deallocate()
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_arena_size(const ee_model *model, size_t *out_bytes)`
@_cdecl("ee_model_arena_size")
public func ee_model_arena_size(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt(model.plan.arenaBytes)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_prepared_bytes(const ee_model *model, size_t *out_bytes)`
@_cdecl("ee_model_prepared_bytes")
public func ee_model_prepared_bytes(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt(model.preparedBytes)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_kernels(const ee_model *model, const char **out_name)`
@_cdecl("ee_model_kernels")
public func ee_model_kernels(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UnsafeRawPointer(model.kernels.cName.utf8Start)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_input_quantization(const ee_model *model, float *out_scale, int32_t *out_zero_point)`
@_cdecl("ee_model_input_quantization")
public func ee_model_input_quantization(_ raw: OpaquePointer?, _ outScale: UnsafeMutablePointer<Float>?,
                                        _ outZeroPoint: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let outScale, let outZeroPoint else { return EEStatus.nullArgument.rawValue }
    if model.input.dataType != .int8 { return EEStatus.badInput.rawValue }
    outScale.pointee = model.input.quantization.scale
    outZeroPoint.pointee = model.input.quantization.zeroPoint
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_input_shape(const ee_model *model, size_t dims[EE_MAX_RANK], size_t *out_rank)`
@_cdecl("ee_model_input_shape")
public func ee_model_input_shape(_ raw: OpaquePointer?, _ dims: UnsafeMutablePointer<UInt>?, _ outRank: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let dims, let outRank else { return EEStatus.nullArgument.rawValue }
    let shape = model.input.shape
    for axis in 0..<4 { dims[axis] = axis < shape.rank ? UInt(shape[axis]) : 1 }
    outRank.pointee = UInt(shape.rank)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_input_size(const ee_model *model, size_t *out_count)`
@_cdecl("ee_model_input_size")
public func ee_model_input_size(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt(model.input.elementCount)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_class_count(const ee_model *model, size_t *out_count)`
@_cdecl("ee_model_class_count")
public func ee_model_class_count(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt(model.classCount)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_early_exit_count(const ee_model *model, size_t *out_count)`
@_cdecl("ee_model_early_exit_count")
public func ee_model_early_exit_count(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt(model.earlyExitCount)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_exit_macs(const ee_model *model, size_t exit, uint64_t *out_macs)`
@_cdecl("ee_model_exit_macs")
public func ee_model_exit_macs(_ raw: OpaquePointer?, _ exit: UInt, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    if exit >= UInt(model.exits.count) { return EEStatus.outOfRange.rawValue }
    out.pointee = UInt64(model.exits[Int(exit)].cumulativeMACs)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_full_macs(const ee_model *model, uint64_t *out_macs)`
@_cdecl("ee_model_full_macs")
public func ee_model_full_macs(_ raw: OpaquePointer?, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let out else { return EEStatus.nullArgument.rawValue }
    out.pointee = UInt64(model.totalMACs)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_normalization(const ee_model *model, float *mean, float *std, size_t capacity, size_t *out_count)`
@_cdecl("ee_model_normalization")
public func ee_model_normalization(_ raw: OpaquePointer?, _ mean: UnsafeMutablePointer<Float>?, _ std: UnsafeMutablePointer<Float>?,
                                   _ capacity: UInt, _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let outCount else { return EEStatus.nullArgument.rawValue }
    let metadata = model.metadata
    let count = metadata.mean.count
    outCount.pointee = UInt(count)
    if count == 0 { return EEStatus.ok.rawValue }
    if capacity < UInt(count) { return EEStatus.bufferTooSmall.rawValue }
    guard let mean, let std else { return EEStatus.nullArgument.rawValue }
    for index in 0..<count {
        mean[index] = metadata.mean[index]
        std[index] = metadata.std[index]
    }
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_class_name(const ee_model *model, size_t index, char *buffer, size_t capacity)`
@_cdecl("ee_model_class_name")
public func ee_model_class_name(_ raw: OpaquePointer?, _ index: UInt, _ buffer: UnsafeMutableRawPointer?, _ capacity: UInt) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let buffer else { return EEStatus.nullArgument.rawValue }
    if index >= UInt(model.classCount) { return EEStatus.outOfRange.rawValue }
    let names = model.metadata.classNames
    let name = Int(index) < names.count ? names[Int(index)] : ""
    return cCopyString(name, to: buffer, capacity: capacity) ? EEStatus.ok.rawValue : EEStatus.bufferTooSmall.rawValue
}

/// `ee_status ee_model_default_policy(const ee_model *model, ee_signal *out_signal, float *thresholds, size_t capacity, uint32_t *out_flags)`
@_cdecl("ee_model_default_policy")
public func ee_model_default_policy(_ raw: OpaquePointer?, _ outSignal: UnsafeMutablePointer<Int32>?,
                                    _ thresholds: UnsafeMutablePointer<Float>?, _ capacity: UInt,
                                    _ outFlags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    let policy = model.defaultPolicy
    if let thresholds {
        if capacity < UInt(policy.thresholds.count) { return EEStatus.bufferTooSmall.rawValue }
        for index in 0..<policy.thresholds.count { thresholds[index] = policy.thresholds[index] }
    }
    outSignal?.pointee = Int32(policy.signal.rawValue)
    outFlags?.pointee = policy.combineSeenExits ? 1 : 0
    return EEStatus.ok.rawValue
}

/// `ee_status ee_model_exit_rule(const ee_model *model, size_t exit_index, ee_signal *out_signal, float *out_threshold, ee_signal *out_second_signal, float *out_second_threshold)`
@_cdecl("ee_model_exit_rule")
public func ee_model_exit_rule(_ raw: OpaquePointer?, _ exitIndex: UInt, _ outSignal: UnsafeMutablePointer<Int32>?,
                               _ outThreshold: UnsafeMutablePointer<Float>?, _ outSecondSignal: UnsafeMutablePointer<Int32>?,
                               _ outSecondThreshold: UnsafeMutablePointer<Float>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    if exitIndex >= UInt(model.earlyExitCount) { return EEStatus.outOfRange.rawValue }
    let policy = model.defaultPolicy, index = Int(exitIndex)
    let second = policy.secondSignal(exit: index)
    outSignal?.pointee = Int32(policy.signal(exit: index).rawValue)
    outThreshold?.pointee = policy.thresholds[index]
    outSecondSignal?.pointee = Int32(second.rawValue)
    outSecondThreshold?.pointee = second == .none ? 0 : policy.secondThresholds[index]
    return EEStatus.ok.rawValue
}
