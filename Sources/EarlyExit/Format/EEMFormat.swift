// Layout constants of the `.eem` model format (specified in docs/FORMAT.md).

/// Sizes, offsets and limits of the `.eem` format, version 1.
public enum EEMFormat {
    /// The four magic bytes at offset 0: "EEM1".
    public static let magic: (UInt8, UInt8, UInt8, UInt8) = (0x45, 0x45, 0x4D, 0x31)
    public static let versionMajor = 1
    public static let versionMinor = 1
    /// Bytes in the fixed header; the CRC-32 covers everything after its first 16 bytes.
    public static let headerSize = 64
    public static let checksumStart = 16
    public static let tensorRecordSize = 48
    /// Bytes in an operator record before its variable-length tensor index lists.
    public static let operatorFixedSize = 52
    public static let attributeCount = 12
    public static let exitTableHeaderSize = 8
    public static let exitRecordSize = 32
    /// Alignment of the constant-data section within the file.
    public static let dataAlignment = 64
    /// Alignment of every constant tensor within the data section.
    public static let constantAlignment = 16
    /// The alignment the model buffer's base address must have.
    public static let bufferAlignment = 16

    public static let maxTensors = 65_536
    public static let maxOperators = 65_536
    public static let maxExits = 64
    public static let maxRank = 4
    public static let maxElements = 1 << 28
    public static let maxClasses = 65_536
    public static let maxOperatorInputs = 64
    public static let maxOperatorOutputs = 1
}

/// The element type of a tensor.
public enum DataType: UInt8, Sendable {
    case float32 = 1
    case int8 = 2
    case int32 = 3

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: return 4
        case .int8: return 1
        }
    }

    public var name: String {
        switch self {
        case .float32: return "float32"
        case .int8: return "int8"
        case .int32: return "int32"
        }
    }
}

/// A fused activation applied by an operator to its output.
public enum Activation: UInt8, Sendable {
    case none = 0
    case relu = 1
}
