// Builds `.eem` model files: tensors, operators, exits, policy and metadata, serialized and checked.
import EarlyExit

/// Assembles a model and writes it in the `.eem` format (docs/FORMAT.md).
///
/// Tensor and operator indices are handed out in order. `addExit` marks the most recently
/// added operator as the exit point. `serialize()` lays the sections out, fills in each
/// exit's cumulative MACs as the runtime counts them, computes the CRC-32, and loads the
/// result with the runtime's own validator before returning it.
public struct ModelBuilder {
    struct Tensor {
        var dataType: DataType
        var shape: [Int]
        var data: [UInt8]?
        var quantization: Quantization
        var channelScales: [Float]
    }

    struct Op {
        var kind: OperatorKind
        var activation: Activation
        var inputs: [Int]
        var output: Int
        var attributes: [Int32]
    }

    struct Exit {
        var afterOperator: Int
        var logits: Int
        var gate: Int
    }

    var tensors: [Tensor] = []
    var operators: [Op] = []
    var exits: [Exit] = []
    public var inputTensor = 0
    public var signal: ExitSignal = .gate
    public var thresholds: [Float] = []
    public var combineSeenExits = false
    /// Format 1.1: each early exit's own signal, and second conditions (empty: none; see ExitPolicy).
    public var exitSignals: [ExitSignal] = []
    public var secondSignals: [ExitSignal] = []
    public var secondThresholds: [Float] = []
    public var metadata = ModelMetadata()

    /// Sets the stored policy: signal, thresholds, flags and per-exit rules.
    public mutating func setPolicy(_ policy: ExitPolicy) {
        signal = policy.signal
        thresholds = policy.thresholds
        combineSeenExits = policy.combineSeenExits
        exitSignals = policy.exitSignals
        secondSignals = policy.secondSignals
        secondThresholds = policy.secondThresholds
    }

    public init() {}

    public var tensorCount: Int { tensors.count }

    /// The quantization a tensor was added with.
    public func quantization(of tensor: Int) -> Quantization { tensors[tensor].quantization }
    public var operatorCount: Int { operators.count }

    /// Adds the model input (an activation) and makes it the input tensor.
    @discardableResult
    public mutating func addInput(shape: [Int], dataType: DataType = .float32, quantization: Quantization = .none) -> Int {
        inputTensor = addActivation(shape: shape, dataType: dataType, quantization: quantization)
        return inputTensor
    }

    /// Adds an activation tensor, planned into the arena.
    @discardableResult
    public mutating func addActivation(shape: [Int], dataType: DataType = .float32, quantization: Quantization = .none) -> Int {
        tensors.append(Tensor(dataType: dataType, shape: shape, data: nil, quantization: quantization, channelScales: []))
        return tensors.count - 1
    }

    /// Adds a float32 constant.
    @discardableResult
    public mutating func addConstant(_ values: [Float], shape: [Int]) -> Int {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values { appendLittleEndian(&bytes, value.bitPattern) }
        tensors.append(Tensor(dataType: .float32, shape: shape, data: bytes, quantization: .none, channelScales: []))
        return tensors.count - 1
    }

    /// Adds a constant of any type from its little-endian bytes, with optional quantization.
    @discardableResult
    public mutating func addConstant(bytes: [UInt8], dataType: DataType, shape: [Int],
                                     quantization: Quantization = .none, channelScales: [Float] = []) -> Int {
        tensors.append(Tensor(dataType: dataType, shape: shape, data: bytes, quantization: quantization, channelScales: channelScales))
        return tensors.count - 1
    }

    /// Adds an operator writing `output`; attributes beyond those given are 0.
    public mutating func addOperator(_ kind: OperatorKind, inputs: [Int], output: Int, attributes: [Int32] = [],
                                     activation: Activation = .none) {
        var words = attributes
        while words.count < EEMFormat.attributeCount { words.append(0) }
        operators.append(Op(kind: kind, activation: activation, inputs: inputs, output: output, attributes: words))
    }

    /// Adds an operator with a new float32 output of `shape` and returns the output tensor.
    public mutating func add(_ kind: OperatorKind, _ inputs: [Int], shape: [Int], attributes: [Int32] = [],
                             activation: Activation = .none) -> Int {
        let output = addActivation(shape: shape)
        addOperator(kind, inputs: inputs, output: output, attributes: attributes, activation: activation)
        return output
    }

    /// Marks the last operator added as an exit reading `logits` and `gate`.
    public mutating func addExit(logits: Int, gate: Int) {
        exits.append(Exit(afterOperator: operators.count - 1, logits: logits, gate: gate))
    }

    /// Overrides the operator an exit follows (for building deliberately invalid models in tests).
    public mutating func setExitOperator(_ exit: Int, to op: Int) { exits[exit].afterOperator = op }

    /// The bytes of the model, validated by the runtime's loader.
    public func serialize() throws -> [UInt8] {
        var bytes = layout(exitMACs: [Int](repeating: 0, count: exits.count))
        let macs = try bytes.withUnsafeBytes { raw throws(ModelError) in
            try ModelValidation.operatorMACs(UnsafeRawBufferPointer(rebasing: raw[...]))
        }
        var cumulative: [Int] = []
        var total = 0
        var next = 0
        for exit in exits {
            while next <= exit.afterOperator && next < macs.count { total += macs[next]; next += 1 }
            cumulative.append(total)
        }
        bytes = layout(exitMACs: cumulative)
        _ = try Model(bytes: bytes)
        return bytes
    }

    /// The bytes of the model without running the validator (for malformed-input tests).
    public func serializeUnchecked(exitMACs: [Int]? = nil) -> [UInt8] {
        layout(exitMACs: exitMACs ?? [Int](repeating: 0, count: exits.count))
    }

    private func layout(exitMACs: [Int]) -> [UInt8] {
        // Section offsets.
        let tensorTable = EEMFormat.headerSize
        let operatorTable = tensorTable + tensors.count * EEMFormat.tensorRecordSize
        var operatorBytes: [UInt8] = []
        for op in operators {
            operatorBytes.append(op.kind.rawValue)
            operatorBytes.append(op.activation.rawValue)
            operatorBytes.append(UInt8(truncatingIfNeeded: op.inputs.count))
            operatorBytes.append(1)
            for word in op.attributes { appendLittleEndian(&operatorBytes, UInt32(bitPattern: word)) }
            for input in op.inputs { appendLittleEndian(&operatorBytes, UInt32(truncatingIfNeeded: input)) }
            appendLittleEndian(&operatorBytes, UInt32(truncatingIfNeeded: op.output))
        }
        let exitTable = operatorTable + operatorBytes.count
        var exitBytes: [UInt8] = [signal.rawValue, combineSeenExits ? 1 : 0, 0, 0, 0, 0, 0, 0]
        for (index, exit) in exits.enumerated() {
            appendLittleEndian(&exitBytes, UInt32(truncatingIfNeeded: exit.afterOperator))
            appendLittleEndian(&exitBytes, UInt32(truncatingIfNeeded: exit.logits))
            appendLittleEndian(&exitBytes, UInt32(truncatingIfNeeded: exit.gate))
            let rule = ModelPatcher.ruleBytes(exitSignals: exitSignals, secondSignals: secondSignals, secondThresholds: secondThresholds, exit: index)
            exitBytes += [rule.signal, rule.second, 0, 0]
            appendLittleEndian(&exitBytes, UInt64(exitMACs[index]))
            let threshold: Float = index < thresholds.count ? thresholds[index] : 0
            appendLittleEndian(&exitBytes, threshold.bitPattern)
            appendLittleEndian(&exitBytes, rule.secondThreshold.bitPattern)
        }
        let metadataOffset = exitTable + exitBytes.count
        var metadataBytes: [UInt8] = []
        for values in [metadata.mean, metadata.std] {
            appendLittleEndian(&metadataBytes, UInt32(values.count))
            for value in values { appendLittleEndian(&metadataBytes, value.bitPattern) }
        }
        appendLittleEndian(&metadataBytes, UInt32(metadata.classNames.count))
        for name in metadata.classNames { appendString(&metadataBytes, name) }
        appendString(&metadataBytes, metadata.name)
        while metadataBytes.count % 4 != 0 { metadataBytes.append(0) }
        let dataOffset = roundUp(metadataOffset + metadataBytes.count, EEMFormat.dataAlignment)

        // Constant data, each entry aligned to the data alignment.
        var data: [UInt8] = []
        var tensorBytes: [UInt8] = []
        for tensor in tensors {
            var relative = 0, size = 0, scalesRelative = 0
            if let payload = tensor.data {
                while data.count % EEMFormat.dataAlignment != 0 { data.append(0) }
                relative = data.count
                size = payload.count
                data += payload
            }
            if !tensor.channelScales.isEmpty {
                while data.count % EEMFormat.constantAlignment != 0 { data.append(0) }
                scalesRelative = data.count
                for scale in tensor.channelScales { appendLittleEndian(&data, scale.bitPattern) }
            }
            tensorBytes.append(tensor.dataType.rawValue)
            tensorBytes.append(UInt8(truncatingIfNeeded: tensor.shape.count))
            tensorBytes.append(tensor.data == nil ? 0 : 1)
            tensorBytes.append(tensor.quantization.kind.rawValue)
            for axis in 0..<4 {
                appendLittleEndian(&tensorBytes, UInt32(truncatingIfNeeded: axis < tensor.shape.count ? tensor.shape[axis] : 1))
            }
            appendLittleEndian(&tensorBytes, UInt32(truncatingIfNeeded: relative))
            appendLittleEndian(&tensorBytes, UInt32(truncatingIfNeeded: size))
            appendLittleEndian(&tensorBytes, tensor.quantization.scale.bitPattern)
            appendLittleEndian(&tensorBytes, UInt32(bitPattern: tensor.quantization.zeroPoint))
            tensorBytes += [UInt8(truncatingIfNeeded: tensor.quantization.axis), 0, 0, 0]
            appendLittleEndian(&tensorBytes, UInt32(truncatingIfNeeded: scalesRelative))
            appendLittleEndian(&tensorBytes, UInt32(0))
        }
        while data.count % EEMFormat.dataAlignment != 0 { data.append(0) }
        let fileSize = dataOffset + data.count

        var header: [UInt8] = [EEMFormat.magic.0, EEMFormat.magic.1, EEMFormat.magic.2, EEMFormat.magic.3]
        appendLittleEndian(&header, UInt16(EEMFormat.versionMajor))
        // Files without per-exit rules stay 1.0, readable by 1.0 readers.
        appendLittleEndian(&header, UInt16(exitSignals.isEmpty && secondSignals.isEmpty ? 0 : 1))
        appendLittleEndian(&header, UInt32(fileSize))
        appendLittleEndian(&header, UInt32(0)) // CRC-32, filled below
        for word in [tensors.count, operators.count, exits.count, inputTensor, tensorTable, operatorTable, operatorBytes.count,
                     exitTable, metadataOffset, metadataBytes.count, dataOffset, data.count] {
            appendLittleEndian(&header, UInt32(truncatingIfNeeded: word))
        }
        var bytes = header + tensorBytes + operatorBytes + exitBytes + metadataBytes
        bytes += [UInt8](repeating: 0, count: dataOffset - bytes.count)
        bytes += data
        let crc = CRC32.checksum(Array(bytes[EEMFormat.checksumStart...]))
        writeLittleEndian(&bytes, at: 12, crc)
        return bytes
    }
}

/// Rewrites the exit policy stored in an `.eem` file and re-validates it.
public enum ModelPatcher {
    public static func settingPolicy(_ policy: ExitPolicy, in bytes: [UInt8]) throws -> [UInt8] {
        let model = try Model(bytes: bytes)
        try policy.validate(earlyExitCount: model.earlyExitCount)
        var out = bytes
        let exitTable = Int(readLittleEndianUInt32(bytes, at: 44))
        out[exitTable] = policy.signal.rawValue
        out[exitTable + 1] = policy.combineSeenExits ? 1 : 0
        for (index, threshold) in policy.thresholds.enumerated() {
            let record = exitTable + EEMFormat.exitTableHeaderSize + index * EEMFormat.exitRecordSize
            writeLittleEndian(&out, at: record + 24, threshold.bitPattern)
            let rule = ruleBytes(exitSignals: policy.exitSignals, secondSignals: policy.secondSignals,
                                 secondThresholds: policy.secondThresholds, exit: index)
            out[record + 12] = rule.signal
            out[record + 13] = rule.second
            writeLittleEndian(&out, at: record + 28, rule.secondThreshold.bitPattern)
        }
        // Per-exit rules are format 1.1; a file without them keeps its version.
        if policy.hasPerExitRules { out[6] = 1; out[7] = 0 }
        writeLittleEndian(&out, at: 12, CRC32.checksum(Array(out[EEMFormat.checksumStart...])))
        let written = try Model(bytes: out)
        var expected = policy
        if expected.secondSignals.allSatisfy({ $0 == .none }) { expected.secondSignals = []; expected.secondThresholds = [] }
        if written.defaultPolicy != expected {
            throw ToolError("the stored policy reads back differently from the one written (a bug): \(written.defaultPolicy) against \(policy)")
        }
        return out
    }

    /// Bytes 12, 13 and 28–31 of exit `index`'s record (format 1.1): its own signal (0 when
    /// every exit uses the table's), its second signal (0: none) and the second threshold.
    static func ruleBytes(exitSignals: [ExitSignal], secondSignals: [ExitSignal], secondThresholds: [Float],
                         exit index: Int) -> (signal: UInt8, second: UInt8, secondThreshold: Float) {
        let signal = index < exitSignals.count ? exitSignals[index].rawValue : 0
        let second = index < secondSignals.count ? secondSignals[index] : .none
        let threshold = second != .none && index < secondThresholds.count ? secondThresholds[index] : 0
        return (signal, second.rawValue, threshold)
    }
}

func roundUp(_ value: Int, _ alignment: Int) -> Int { (value + alignment - 1) / alignment * alignment }

func appendLittleEndian<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
}

func writeLittleEndian(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

func readLittleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
    return value
}

func appendString(_ bytes: inout [UInt8], _ text: String) {
    let utf8 = Array(text.utf8.prefix(65_535))
    appendLittleEndian(&bytes, UInt16(utf8.count))
    bytes += utf8
}
