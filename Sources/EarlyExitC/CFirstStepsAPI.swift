// The C API's first steps (include/earlyexit.h): open a model file, allocate or carve out an
// aligned arena, run on 8-bit pixels, and ask the library's version.
#if !EARLYEXIT_SINGLE_MODULE
import EarlyExit
#endif
import EarlyExitPlatform

// MARK: Version

/// `const char *ee_version(void)`
@_cdecl("ee_version")
public func ee_version() -> UnsafeRawPointer {
    EarlyExitVersion.cStringStart
}

/// `uint32_t ee_version_number(void)`
@_cdecl("ee_version_number")
public func ee_version_number() -> UInt32 {
    EarlyExitVersion.number
}

/// `ee_status ee_format_version(uint32_t *out_major, uint32_t *out_minor)`
@_cdecl("ee_format_version")
public func ee_format_version(_ outMajor: UnsafeMutablePointer<UInt32>?, _ outMinor: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let outMajor, let outMinor else { return EEStatus.nullArgument.rawValue }
    outMajor.pointee = UInt32(EEMFormat.versionMajor)
    outMinor.pointee = UInt32(EEMFormat.versionMinor)
    return EEStatus.ok.rawValue
}

// MARK: Opening a model file

/// `ee_status ee_model_open_file(const char *path, ee_model **out_model, char *message, size_t capacity)`
@_cdecl("ee_model_open_file")
public func ee_model_open_file(_ path: UnsafePointer<CChar>?, _ outModel: UnsafeMutablePointer<OpaquePointer?>?,
                               _ message: UnsafeMutableRawPointer?, _ capacity: UInt) -> Int32 {
    outModel?.pointee = nil
    guard let outModel else {
        cCopyString("out_model is NULL", to: message, capacity: capacity)
        return EEStatus.nullArgument.rawValue
    }
    guard let path else {
        cCopyString("the path is NULL", to: message, capacity: capacity)
        return EEStatus.nullArgument.rawValue
    }
    var address: UnsafeRawPointer?
    var size = 0
    let code = earlyexit_platform_map_file(path, &address, &size)
    if code != EARLYEXIT_PLATFORM_OK {
        if message != nil && capacity > 0 {
            let reason = String(cString: earlyexit_platform_error_string(code))
            cCopyString("cannot open the model file '" + String(cString: path) + "': " + reason, to: message, capacity: capacity)
        }
        return (code == EARLYEXIT_PLATFORM_UNSUPPORTED ? EEStatus.unsupported : EEStatus.fileError).rawValue
    }
    let mapping = address.map { CMappedFile(address: $0, size: size) }
    let model: Model
    do {
        model = try Model(borrowing: UnsafeRawBufferPointer(start: address, count: size))
    } catch {
        if message != nil && capacity > 0 {
            cCopyString("model file '" + String(cString: path) + "': " + error.description, to: message, capacity: capacity)
        }
        return cStatus(error).rawValue // the mapping is released here, with `mapping`
    }
    let handle = UnsafeMutablePointer<CModelHandle>.allocate(capacity: 1)
    handle.initialize(to: CModelHandle(magic: CModelHandle.liveMagic, model: Unmanaged.passRetained(model), mapping: mapping))
    outModel.pointee = OpaquePointer(handle)
    cCopyString("", to: message, capacity: capacity)
    return EEStatus.ok.rawValue
}

// MARK: Arenas

/// `ee_status ee_arena_alloc(const ee_model *model, void **out_arena, size_t *out_size)`
@_cdecl("ee_arena_alloc")
public func ee_arena_alloc(_ raw: OpaquePointer?, _ outArena: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                           _ outSize: UnsafeMutablePointer<UInt>?) -> Int32 {
    var status = EEStatus.ok
    guard let model = cModel(raw, &status) else { return status.rawValue }
    guard let outArena, let outSize else { return EEStatus.nullArgument.rawValue }
    let bytes = model.plan.arenaBytes
    guard let arena = earlyexit_platform_aligned_alloc(ArenaPlan.alignment, bytes) else { return EEStatus.outOfMemory.rawValue }
    outArena.pointee = arena
    outSize.pointee = UInt(bytes)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_arena_free(void *arena)`
@_cdecl("ee_arena_free")
public func ee_arena_free(_ arena: UnsafeMutableRawPointer?) -> Int32 {
    guard let arena else { return EEStatus.nullArgument.rawValue }
    if UInt(bitPattern: arena) % UInt(ArenaPlan.alignment) != 0 { return EEStatus.misalignedArena.rawValue }
    earlyexit_platform_free(arena)
    return EEStatus.ok.rawValue
}

/// `ee_status ee_arena_align(void *buffer, size_t size, void **out_arena, size_t *out_size)`
@_cdecl("ee_arena_align")
public func ee_arena_align(_ buffer: UnsafeMutableRawPointer?, _ size: UInt, _ outArena: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                           _ outSize: UnsafeMutablePointer<UInt>?) -> Int32 {
    guard let buffer, let outArena, let outSize else { return EEStatus.nullArgument.rawValue }
    let address = UInt(bitPattern: buffer)
    let alignment = UInt(ArenaPlan.alignment)
    let skip = (alignment - address % alignment) % alignment
    // A size that runs past the end of the address space cannot describe a buffer.
    if address > UInt.max - size { return EEStatus.outOfRange.rawValue }
    // The buffer must reach past its first aligned address.
    if size <= skip { return EEStatus.arenaTooSmall.rawValue }
    outArena.pointee = buffer + Int(skip)
    outSize.pointee = size - skip
    return EEStatus.ok.rawValue
}

// MARK: Running on pixels

/// `ee_status ee_interpreter_run_pixels(ee_interpreter *interpreter, const uint8_t *pixels, size_t count, ee_result *out_result)`
@_cdecl("ee_interpreter_run_pixels")
public func ee_interpreter_run_pixels(_ raw: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ count: UInt,
                                      _ outResult: UnsafeMutableRawPointer?) -> Int32 {
    var status = EEStatus.ok
    guard let handle = cInterpreter(raw, &status) else { return status.rawValue }
    guard pixels != nil else { return EEStatus.nullArgument.rawValue }
    // Refused before the core is called, so that the refusal allocates no message.
    if !handle.pointee.interpreter.takeUnretainedValue().model.normalizesPixels { return EEStatus.noNormalization.rawValue }
    return cRun(raw, hasInput: true, count: count, requiresInt8: false, outResult) { (interpreter) throws(ModelError) in
        try interpreter.run(pixels: UnsafeBufferPointer(start: pixels, count: Int(count)))
    }
}
