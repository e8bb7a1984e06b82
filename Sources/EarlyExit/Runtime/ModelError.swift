// The one error type of the core: what went wrong while loading, validating or binding a model.

/// A model file, arena or input that the core refuses, with where the problem is.
///
/// Every payload names the place: a byte offset, an operator index, a tensor index or an
/// exit index, so that a person can find the bad byte or the bad node.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// The buffer is shorter than the structure that must be read at `offset`.
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    /// The file does not start with the `.eem` magic bytes.
    case badMagic
    /// The major version is not one this runtime reads.
    case unsupportedVersion(major: Int, minor: Int)
    /// The size recorded in the header differs from the buffer's size.
    case sizeMismatch(recorded: Int, actual: Int)
    /// The CRC-32 of the file body does not match the header.
    case checksumMismatch(recorded: UInt32, computed: UInt32)
    /// The buffer's base address is not aligned for in-place weight access.
    case misalignedBuffer(address: UInt, required: Int)
    /// A count or size field is beyond what this runtime accepts.
    case limitExceeded(what: String, value: Int, limit: Int)
    /// A section or field lies outside the file or is misaligned.
    case badSection(what: String, offset: Int, size: Int, fileSize: Int)
    /// Two sections of the file share bytes.
    case overlappingSections(first: String, second: String, offset: Int)
    /// A tensor record is invalid.
    case badTensor(tensor: Int, reason: String)
    /// An operator record is invalid.
    case badOperator(op: Int, kind: String, reason: String)
    /// An operator refers to a tensor index that does not exist.
    case tensorOutOfRange(op: Int, kind: String, role: String, tensor: Int, tensorCount: Int)
    /// An operator reads a tensor that no earlier operator produced.
    case readBeforeWrite(op: Int, kind: String, tensor: Int)
    /// An exit record is invalid.
    case badExit(exit: Int, reason: String)
    /// The metadata section is invalid.
    case badMetadata(offset: Int, reason: String)
    /// The arena given to the interpreter is too small or misaligned.
    case arenaTooSmall(required: Int, provided: Int)
    /// The arena's base address is not aligned.
    case misalignedArena(address: UInt, required: Int)
    /// The input has the wrong number of elements or data type.
    case badInput(reason: String)
    /// A policy or threshold setting is invalid.
    case badPolicy(reason: String)
    /// A float32 run produced a score or gate that is NaN or infinite at this exit (0-based):
    /// the weights or the normalization overflow float32 on the input.
    case nonFiniteOutput(exit: Int)
    /// A kernel set was requested (by name, `EARLYEXIT_KERNELS` or `--kernels`) that does not
    /// exist or that this CPU cannot run.
    case unsupportedKernels(name: String, reason: String)

    public var description: String {
        switch self {
        case let .truncated(what, offset, needed, available):
            return "file truncated: \(what) at byte \(offset) needs \(needed) bytes, only \(available) remain"
        case .badMagic:
            return "not an EarlyExit model: the file does not start with the magic bytes \"EEM1\""
        case let .unsupportedVersion(major, minor):
            return "unsupported format version \(major).\(minor) (this runtime reads version \(EEMFormat.versionMajor).x)"
        case let .sizeMismatch(recorded, actual):
            return "file size mismatch: the header records \(recorded) bytes but the buffer has \(actual)"
        case let .checksumMismatch(recorded, computed):
            return "checksum mismatch: the header records CRC-32 \(hex(recorded)) but the file body has \(hex(computed)); the file is corrupted"
        case let .misalignedBuffer(address, required):
            return "model buffer at address \(address) is not \(required)-byte aligned; weights are used in place and need aligned storage"
        case let .limitExceeded(what, value, limit):
            return "\(what) is \(value), above the limit of \(limit)"
        case let .badSection(what, offset, size, fileSize):
            return "\(what) at byte \(offset) with \(size) bytes lies outside the file (\(fileSize) bytes) or is misaligned"
        case let .overlappingSections(first, second, offset):
            return "the \(first) overlaps the \(second) (from byte \(offset)); sections must not share bytes"
        case let .badTensor(tensor, reason):
            return "tensor \(tensor): \(reason)"
        case let .badOperator(op, kind, reason):
            return "operator \(op) (\(kind)): \(reason)"
        case let .tensorOutOfRange(op, kind, role, tensor, count):
            return "operator \(op) (\(kind)): \(role) tensor \(tensor) out of range (model has \(count) tensors)"
        case let .readBeforeWrite(op, kind, tensor):
            return "operator \(op) (\(kind)): reads tensor \(tensor) before any operator produces it (the schedule is not topologically ordered)"
        case let .badExit(exit, reason):
            return "exit \(exit): \(reason)"
        case let .badMetadata(offset, reason):
            return "metadata at byte \(offset): \(reason)"
        case let .arenaTooSmall(required, provided):
            return "arena too small: the plan needs \(required) bytes, \(provided) were provided"
        case let .misalignedArena(address, required):
            return "arena at address \(address) is not \(required)-byte aligned"
        case let .badInput(reason):
            return "bad input: \(reason)"
        case let .badPolicy(reason):
            return "bad exit policy: \(reason)"
        case let .nonFiniteOutput(exit):
            return "exit \(exit + 1) produced a score or gate that is NaN or infinite: the model's weights or input normalization overflow float32 on this input"
        case let .unsupportedKernels(name, reason):
            return "kernel set '\(name)': \(reason)"
        }
    }
}

/// Formats a 32-bit value as `0x` followed by eight hexadecimal digits.
func hex(_ value: UInt32) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    var text = "0x"
    var shift: UInt32 = 28
    while true {
        text.append(digits[Int((value >> shift) & 0xF)])
        if shift == 0 { break }
        shift -= 4
    }
    return text
}
