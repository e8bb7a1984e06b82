// An ONNX TensorProto: name, dims, element type and its data, with checked typed accessors.

/// A constant tensor from an ONNX file: an initializer or a tensor-valued attribute.
///
/// The data is kept as stored: `rawData` (little-endian bytes) when the file used `raw_data`,
/// otherwise the typed repeated fields. The accessors (`floatValues()` and friends) check the
/// data type, the element count against `dims`, and refuse external data; they never trap.
/// Each accessor wants one exact data type: `floatValues()` reads FLOAT tensors only, and so on.
public struct ONNXTensor: Equatable, Sendable {
    /// The tensor's name (empty for most attribute tensors).
    public var name: String
    /// The dimensions; a scalar has none.
    public var dims: [Int64]
    /// The element type.
    public var dataType: ONNXDataType
    /// The `raw_data` bytes, or nil when the file did not set `raw_data`.
    public var rawData: [UInt8]?
    /// `float_data`: values of FLOAT (and COMPLEX64) tensors.
    public var floatData: [Float]
    /// `int32_data`: values of INT32, INT16, INT8, UINT16, UINT8, BOOL and FLOAT16 tensors.
    public var int32Data: [Int32]
    /// `int64_data`: values of INT64 tensors.
    public var int64Data: [Int64]
    /// `double_data`: values of DOUBLE (and COMPLEX128) tensors.
    public var doubleData: [Double]
    /// Whether the data lives outside the file (`data_location = EXTERNAL` or `external_data`).
    /// `ONNXModel.resolveExternalData(relativeTo:)` loads such data into `rawData` and clears this.
    public var usesExternalData: Bool
    /// The `external_data` key/value entries (`location`, `offset`, `length`, `checksum`);
    /// for a key given twice the last value wins.
    public var externalData: [String: String]
    /// Whether the tensor is one segment of a larger tensor (`segment` set); not supported.
    public var isSegment: Bool

    /// Creates a tensor; the typed data fields default to empty.
    public init(
        name: String = "", dims: [Int64] = [], dataType: ONNXDataType = .undefined, rawData: [UInt8]? = nil,
        floatData: [Float] = [], int32Data: [Int32] = [], int64Data: [Int64] = [], doubleData: [Double] = [],
        usesExternalData: Bool = false, externalData: [String: String] = [:], isSegment: Bool = false
    ) {
        self.name = name
        self.dims = dims
        self.dataType = dataType
        self.rawData = rawData
        self.floatData = floatData
        self.int32Data = int32Data
        self.int64Data = int64Data
        self.doubleData = doubleData
        self.usesExternalData = usesExternalData
        self.externalData = externalData
        self.isSegment = isSegment
    }

    // MARK: Element count

    /// The number of elements, the product of `dims`; negative dims and overflow are refused.
    public func elementCount() throws(ONNXError) -> Int {
        var count = 1
        for (axis, dim) in dims.enumerated() {
            guard dim >= 0 else { throw invalid("dimension \(axis) is negative (\(dim))") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(truncatingIfNeeded: dim))
            guard !overflow, Int64(Int(truncatingIfNeeded: dim)) == dim else {
                throw invalid("the element count of dims \(dims) overflows")
            }
            count = product
        }
        return count
    }

    // MARK: Typed accessors

    /// The values of a FLOAT tensor, from `raw_data` or `float_data`.
    public func floatValues() throws(ONNXError) -> [Float] {
        let count = try checkedCount(.float, "floatValues()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt32.self) { Float(bitPattern: $0) } }
        return try typed(floatData, "float_data", count: count)
    }

    /// The values of a DOUBLE tensor, from `raw_data` or `double_data`.
    public func doubleValues() throws(ONNXError) -> [Double] {
        let count = try checkedCount(.double, "doubleValues()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt64.self) { Double(bitPattern: $0) } }
        return try typed(doubleData, "double_data", count: count)
    }

    /// The values of an INT64 tensor, from `raw_data` or `int64_data`.
    public func int64Values() throws(ONNXError) -> [Int64] {
        let count = try checkedCount(.int64, "int64Values()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt64.self) { Int64(bitPattern: $0) } }
        return try typed(int64Data, "int64_data", count: count)
    }

    /// The values of an INT32 tensor, from `raw_data` or `int32_data`.
    public func int32Values() throws(ONNXError) -> [Int32] {
        let count = try checkedCount(.int32, "int32Values()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt32.self) { Int32(bitPattern: $0) } }
        return try typed(int32Data, "int32_data", count: count)
    }

    /// The values of an INT8 tensor, from `raw_data` or `int32_data` (each value in -128...127).
    public func int8Values() throws(ONNXError) -> [Int8] {
        let count = try checkedCount(.int8, "int8Values()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt8.self) { Int8(bitPattern: $0) } }
        return try narrowed(try typed(int32Data, "int32_data", count: count))
    }

    /// The values of a UINT8 tensor, from `raw_data` or `int32_data` (each value in 0...255).
    public func uint8Values() throws(ONNXError) -> [UInt8] {
        let count = try checkedCount(.uint8, "uint8Values()")
        if let raw = rawData { return try decodeRaw(raw, count: count, as: UInt8.self) { $0 } }
        return try narrowed(try typed(int32Data, "int32_data", count: count))
    }

    // MARK: Checks

    /// The display name used in errors.
    private var displayName: String { name.isEmpty ? "<unnamed>" : name }

    private func invalid(_ detail: String) -> ONNXError {
        ONNXError(.invalidTensor(tensor: displayName, detail: detail))
    }

    /// Checks the data is inside the file and of `type`, then returns the element count.
    private func checkedCount(_ type: ONNXDataType, _ accessor: String) throws(ONNXError) -> Int {
        guard !usesExternalData else {
            throw ONNXError(.externalData(tensor: displayName, location: externalData["location"] ?? ""))
        }
        guard !isSegment else { throw invalid("segmented tensors are not supported") }
        guard dataType == type else { throw invalid("has data type \(dataType), but \(accessor) needs \(type)") }
        return try elementCount()
    }

    /// Decodes `count` little-endian values of `Stored` from `raw`, whose size must match exactly.
    private func decodeRaw<Stored: FixedWidthInteger, Value>(
        _ raw: [UInt8], count: Int, as stored: Stored.Type, _ convert: (Stored) -> Value
    ) throws(ONNXError) -> [Value] {
        let size = MemoryLayout<Stored>.size
        let (needed, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, needed == raw.count else {
            let need = overflow ? "more than \(Int.max)" : "\(needed)"
            throw invalid("raw_data holds \(raw.count) bytes, but \(count) \(dataType) elements need \(need)")
        }
        return raw.withUnsafeBytes { buffer in
            (0..<count).map { index in
                convert(Stored(littleEndian: buffer.loadUnaligned(fromByteOffset: index * size, as: Stored.self)))
            }
        }
    }

    /// Returns a typed data field after checking it holds exactly `count` values.
    private func typed<Value>(_ values: [Value], _ field: String, count: Int) throws(ONNXError) -> [Value] {
        guard values.count == count else {
            throw invalid("\(field) holds \(values.count) values, but dims \(dims) need \(count)")
        }
        return values
    }

    /// Narrows `int32_data` values to a smaller integer type, refusing values out of its range.
    private func narrowed<Narrow: FixedWidthInteger>(_ values: [Int32]) throws(ONNXError) -> [Narrow] {
        var result: [Narrow] = []
        result.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            guard let narrow = Narrow(exactly: value) else {
                throw invalid("int32_data[\(index)] = \(value) is out of range for \(dataType)")
            }
            result.append(narrow)
        }
        return result
    }

    // MARK: Decoding

    /// Decodes a `TensorProto` message.
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: try reader.appendInt64s(tag, to: &dims)
            case 2: dataType = try ONNXDataType.read(tag, from: &reader)
            case 3:
                _ = try reader.readLengthDelimited(tag)
                isSegment = true
            case 4: try reader.appendFloats(tag, to: &floatData)
            case 5: try reader.appendInt32s(tag, to: &int32Data)
            case 7: try reader.appendInt64s(tag, to: &int64Data)
            case 8: name = try reader.readString(tag)
            case 9: rawData = try reader.readBytes(tag)
            case 10: try reader.appendDoubles(tag, to: &doubleData)
            case 13:
                let entry = try reader.readMessage(
                    tag, path: ".external_data[\(externalData.count)]", Self.decodeStringEntry)
                externalData[entry.key] = entry.value
                usesExternalData = true
            case 14:
                let location = try reader.readInt32(tag)
                guard location == 0 || location == 1 else {
                    throw ONNXError(
                        .unknownEnumValue(field: tag.field, enumName: "TensorProto.DataLocation", value: Int64(location)),
                        offset: tag.offset)
                }
                if location == 1 { usesExternalData = true }
            default: try reader.skip(tag)
            }
        }
    }

    /// Decodes a `StringStringEntryProto` (key 1, value 2).
    static func decodeStringEntry(_ reader: inout ProtobufReader) throws(ONNXError) -> (key: String, value: String) {
        var key = "", value = ""
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: key = try reader.readString(tag)
            case 2: value = try reader.readString(tag)
            default: try reader.skip(tag)
            }
        }
        return (key, value)
    }
}
