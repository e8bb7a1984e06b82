// Status codes of the C API (include/earlyexit.h), their descriptions, and the mapping from ModelError.
#if !EARLYEXIT_SINGLE_MODULE
import EarlyExit
#endif

/// The `ee_status` codes of `include/earlyexit.h`; the raw values are the C values.
public enum EEStatus: Int32, CaseIterable {
    case ok = 0
    case nullArgument = 1
    case invalidHandle = 2
    case misalignedModel = 3
    case truncatedModel = 4
    case sizeMismatch = 5
    case notAModel = 6
    case unsupportedVersion = 7
    case corruptedModel = 8
    case invalidModel = 9
    case arenaTooSmall = 10
    case misalignedArena = 11
    case badInput = 12
    case badSignal = 13
    case badThresholds = 14
    case badFlags = 15
    case outOfRange = 16
    case noResult = 17
    case bufferTooSmall = 18
    case nonFiniteOutput = 19
    case noNormalization = 20
    case fileError = 21
    case unsupported = 22
    case outOfMemory = 23

    /// A NUL-terminated description; the literals carry their terminator explicitly.
    var text: StaticString {
        switch self {
        case .ok: return "ok\0"
        case .nullArgument: return "a required pointer argument is NULL\0"
        case .invalidHandle: return "not a live handle of the expected kind (closed, or not a handle)\0"
        case .misalignedModel: return "the model buffer is not 16-byte aligned\0"
        case .truncatedModel: return "the model buffer is truncated\0"
        case .sizeMismatch: return "the buffer size differs from the size recorded in the model header\0"
        case .notAModel: return "not an EarlyExit model (bad magic bytes)\0"
        case .unsupportedVersion: return "unsupported model format version\0"
        case .corruptedModel: return "the model is corrupted (checksum mismatch)\0"
        case .invalidModel: return "the model is invalid\0"
        case .arenaTooSmall: return "the arena is smaller than the model needs\0"
        case .misalignedArena: return "the arena is not 64-byte aligned\0"
        case .badInput: return "bad input: not the number of values the model's input takes, or a value that is NaN or infinite\0"
        case .badSignal: return "unknown exit signal\0"
        case .badThresholds: return "bad thresholds: one finite threshold per early exit is required\0"
        case .badFlags: return "unknown policy flag bits\0"
        case .outOfRange: return "index out of range\0"
        case .noResult: return "no successful run yet\0"
        case .bufferTooSmall: return "the output buffer is too small\0"
        case .nonFiniteOutput: return "the run produced a NaN or infinite score or gate (weights or normalization overflow float32)\0"
        case .noNormalization: return "the model records no input normalization (mean/std), so 8-bit pixels cannot be converted; pass normalized floats to ee_interpreter_run\0"
        case .fileError: return "the file cannot be opened, read or mapped\0"
        case .unsupported: return "not supported on this platform\0"
        case .outOfMemory: return "out of memory\0"
        }
    }
}

/// The status a core error maps to.
func cStatus(_ error: ModelError) -> EEStatus {
    switch error {
    case .truncated: return .truncatedModel
    case .badMagic: return .notAModel
    case .unsupportedVersion: return .unsupportedVersion
    case .sizeMismatch: return .sizeMismatch
    case .checksumMismatch: return .corruptedModel
    case .misalignedBuffer: return .misalignedModel
    case .arenaTooSmall: return .arenaTooSmall
    case .misalignedArena: return .misalignedArena
    case .badInput: return .badInput
    case .nonFiniteOutput: return .nonFiniteOutput
    case .unsupportedKernels: return .unsupported
    default: return .invalidModel
    }
}

/// `const char *ee_status_string(ee_status status)`
@_cdecl("ee_status_string")
public func ee_status_string(_ status: Int32) -> UnsafeRawPointer {
    let text: StaticString = EEStatus(rawValue: status)?.text ?? "unknown status code\0"
    return UnsafeRawPointer(text.utf8Start)
}

/// Copies `text` as a NUL-terminated UTF-8 string into `buffer` of `capacity` bytes, cutting it
/// at a character boundary when it does not fit. Returns false when it was cut or nothing could
/// be written (no buffer, or capacity 0).
@discardableResult
func cCopyString(_ text: String, to buffer: UnsafeMutableRawPointer?, capacity: UInt) -> Bool {
    guard let buffer, capacity > 0 else { return false }
    var text = text
    return text.withUTF8 { source in cCopyBytes(source, to: buffer.assumingMemoryBound(to: UInt8.self), capacity: Int(min(capacity, UInt(Int.max)))) }
}

/// The byte copy of `cCopyString`: NUL-terminated, cut at a character boundary.
@inline(never)
func cCopyBytes(_ source: UnsafeBufferPointer<UInt8>, to bytes: UnsafeMutablePointer<UInt8>, capacity: Int) -> Bool {
    let needed = source.count
    let limit = min(capacity - 1, needed)
    var written = limit
    if limit < needed {
        // Do not leave half a multi-byte character at the end.
        var start = limit
        while start > 0 && source[start - 1] & 0xC0 == 0x80 { start -= 1 }
        if start > 0 && source[start - 1] & 0x80 != 0 {
            let lead = source[start - 1]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if start - 1 + length > limit { written = start - 1 }
        }
    }
    for index in 0..<written { bytes[index] = source[index] }
    bytes[written] = 0
    return limit == needed
}
