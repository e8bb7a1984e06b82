// Reads and validates every section of an `.eem` buffer.

/// Parses an `.eem` buffer into validated model tables; used by `Model`'s initializers.
enum ModelParser {
    struct Parsed {
        var tensors: [TensorInfo]
        var operators: [Operator]
        var exits: [ExitInfo]
        var inputTensor: Int
        var classCount: Int
        var policy: ExitPolicy
        var metadata: ModelMetadata
        var totalMACs: Int
        var versionMinor: Int
        /// For every tensor, the operator that writes it; −1 for the input and constants.
        var producers: [Int]
    }

    struct Header {
        var versionMinor = 0
        var tensorCount = 0, operatorCount = 0, exitCount = 0, inputTensor = 0
        var tensorTableOffset = 0, operatorTableOffset = 0, operatorTableSize = 0
        var exitTableOffset = 0, metadataOffset = 0, metadataSize = 0
        var dataOffset = 0, dataSize = 0
    }

    static func parse(base: UnsafeRawPointer, count: Int, checkExitMACs: Bool = true) throws(ModelError) -> Parsed {
        let address = UInt(bitPattern: base)
        if address % UInt(EEMFormat.bufferAlignment) != 0 {
            throw .misalignedBuffer(address: address, required: EEMFormat.bufferAlignment)
        }
        let header = try readHeader(base: base, count: count)
        let tensors = try readTensors(base: base, count: count, header: header)
        if header.inputTensor >= tensors.count {
            throw .badTensor(tensor: header.inputTensor, reason: "the model input is tensor \(header.inputTensor), out of range (model has \(tensors.count) tensors)")
        }
        let input = tensors[header.inputTensor]
        if input.isConstant { throw .badTensor(tensor: header.inputTensor, reason: "the model input cannot be a constant") }
        var operators = try readOperators(base: base, count: count, header: header, tensorCount: tensors.count)
        var producer = [Int](repeating: -2, count: tensors.count)
        producer[header.inputTensor] = -1
        var totalMACs = 0
        for index in operators.indices {
            operators[index] = try OperatorTable.validate(operators[index], index: index, tensors: tensors, producer: &producer)
            let (sum, overflow) = totalMACs.addingReportingOverflow(operators[index].macs)
            if overflow { throw .limitExceeded(what: "total MACs", value: Int.max, limit: Int.max) }
            totalMACs = sum
        }
        let (exits, policy, classCount) = try readExits(base: base, count: count, header: header,
                                                       tensors: tensors, operators: operators, producer: producer,
                                                       checkExitMACs: checkExitMACs)
        let metadata = try readMetadata(base: base, count: count, header: header, input: input, classCount: classCount)
        for index in producer.indices where producer[index] < 0 { producer[index] = -1 }
        return Parsed(tensors: tensors, operators: operators, exits: exits, inputTensor: header.inputTensor,
                      classCount: classCount, policy: policy, metadata: metadata,
                      totalMACs: totalMACs, versionMinor: header.versionMinor, producers: producer)
    }

    // MARK: Header

    static func readHeader(base: UnsafeRawPointer, count: Int) throws(ModelError) -> Header {
        var reader = ByteReader(base: base, count: count)
        try reader.require(4, "magic")
        let m = EEMFormat.magic
        let b0 = try reader.u8("magic"), b1 = try reader.u8("magic"), b2 = try reader.u8("magic"), b3 = try reader.u8("magic")
        if b0 != m.0 || b1 != m.1 || b2 != m.2 || b3 != m.3 { throw .badMagic }
        try reader.require(EEMFormat.headerSize - 4, "header")
        let major = Int(try reader.u16("version"))
        let minor = Int(try reader.u16("version"))
        if major != EEMFormat.versionMajor { throw .unsupportedVersion(major: major, minor: minor) }
        let fileSize = try reader.index("file size")
        if fileSize != count { throw .sizeMismatch(recorded: fileSize, actual: count) }
        let recorded = try reader.u32("checksum")
        let computed = CRC32.checksum(base + EEMFormat.checksumStart, count: count - EEMFormat.checksumStart)
        if recorded != computed { throw .checksumMismatch(recorded: recorded, computed: computed) }
        var header = Header()
        header.versionMinor = minor
        header.tensorCount = try reader.index("tensor count")
        header.operatorCount = try reader.index("operator count")
        header.exitCount = try reader.index("exit count")
        header.inputTensor = try reader.index("input tensor")
        header.tensorTableOffset = try reader.index("tensor table offset")
        header.operatorTableOffset = try reader.index("operator table offset")
        header.operatorTableSize = try reader.index("operator table size")
        header.exitTableOffset = try reader.index("exit table offset")
        header.metadataOffset = try reader.index("metadata offset")
        header.metadataSize = try reader.index("metadata size")
        header.dataOffset = try reader.index("data offset")
        header.dataSize = try reader.index("data size")
        if header.tensorCount < 1 || header.tensorCount > EEMFormat.maxTensors {
            throw .limitExceeded(what: "tensor count", value: header.tensorCount, limit: EEMFormat.maxTensors)
        }
        if header.operatorCount < 1 || header.operatorCount > EEMFormat.maxOperators {
            throw .limitExceeded(what: "operator count", value: header.operatorCount, limit: EEMFormat.maxOperators)
        }
        if header.exitCount < 1 || header.exitCount > EEMFormat.maxExits {
            throw .limitExceeded(what: "exit count", value: header.exitCount, limit: EEMFormat.maxExits)
        }
        try checkSection("tensor table", offset: header.tensorTableOffset,
                         size: header.tensorCount * EEMFormat.tensorRecordSize, alignment: 4, fileSize: count)
        try checkSection("operator table", offset: header.operatorTableOffset,
                         size: header.operatorTableSize, alignment: 4, fileSize: count)
        try checkSection("exit table", offset: header.exitTableOffset,
                         size: EEMFormat.exitTableHeaderSize + header.exitCount * EEMFormat.exitRecordSize,
                         alignment: 4, fileSize: count)
        try checkSection("metadata", offset: header.metadataOffset, size: header.metadataSize, alignment: 4, fileSize: count)
        try checkSection("constant data", offset: header.dataOffset, size: header.dataSize,
                         alignment: EEMFormat.dataAlignment, fileSize: count)
        // Sections must not overlap: each byte of the file has one meaning.
        let sections = [("tensor table", header.tensorTableOffset, header.tensorCount * EEMFormat.tensorRecordSize),
                        ("operator table", header.operatorTableOffset, header.operatorTableSize),
                        ("exit table", header.exitTableOffset, EEMFormat.exitTableHeaderSize + header.exitCount * EEMFormat.exitRecordSize),
                        ("metadata", header.metadataOffset, header.metadataSize),
                        ("constant data", header.dataOffset, header.dataSize)]
        for first in 0..<sections.count {
            for second in (first + 1)..<sections.count {
                let a = sections[first], b = sections[second]
                if a.2 > 0 && b.2 > 0 && a.1 < b.1 + b.2 && b.1 < a.1 + a.2 {
                    throw .overlappingSections(first: a.0, second: b.0, offset: max(a.1, b.1))
                }
            }
        }
        return header
    }

    static func checkSection(_ what: String, offset: Int, size: Int, alignment: Int, fileSize: Int) throws(ModelError) {
        if offset < EEMFormat.headerSize || offset % alignment != 0 || size < 0 || offset > fileSize || fileSize - offset < size {
            throw .badSection(what: what, offset: offset, size: size, fileSize: fileSize)
        }
    }

    // MARK: Tensors

    static func readTensors(base: UnsafeRawPointer, count: Int, header: Header) throws(ModelError) -> [TensorInfo] {
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(header.tensorCount)
        var reader = ByteReader(base: base, count: count, offset: header.tensorTableOffset)
        for index in 0..<header.tensorCount {
            let record = reader.offset
            guard let dataType = DataType(rawValue: try reader.u8("tensor data type")) else {
                throw .badTensor(tensor: index, reason: "unknown data type code \(base.load(fromByteOffset: record, as: UInt8.self)) at byte \(record)")
            }
            let rank = Int(try reader.u8("tensor rank"))
            let flags = try reader.u8("tensor flags")
            let quantCode = try reader.u8("tensor quantization")
            if rank < 1 || rank > EEMFormat.maxRank { throw .badTensor(tensor: index, reason: "rank \(rank) is not between 1 and \(EEMFormat.maxRank)") }
            if flags & ~1 != 0 { throw .badTensor(tensor: index, reason: "unknown flag bits \(flags)") }
            var dims: [Int] = []
            var elements = 1
            for axis in 0..<4 {
                let dim = try reader.index("tensor dimension")
                if axis < rank {
                    if dim < 1 { throw .badTensor(tensor: index, reason: "dimension \(axis) is \(dim); every dimension must be at least 1") }
                    if dim > EEMFormat.maxElements || elements > EEMFormat.maxElements / dim {
                        throw .badTensor(tensor: index, reason: "shape has more than \(EEMFormat.maxElements) elements")
                    }
                    elements *= dim
                    dims.append(dim)
                } else if dim != 1 {
                    throw .badTensor(tensor: index, reason: "dimension \(axis) beyond rank \(rank) is \(dim), must be 1")
                }
            }
            let shape = TensorShape(dims)
            let relativeOffset = try reader.index("tensor data offset")
            let dataSize = try reader.index("tensor data size")
            let scale = try reader.f32("tensor scale")
            let zeroPoint = try reader.i32("tensor zero point")
            let quantAxis = Int(try reader.u8("tensor quantization axis"))
            if let at = try reader.reserved(3, "tensor reserved") {
                throw .badTensor(tensor: index, reason: "reserved byte at \(at) is not zero (this reader implements format 1.0)")
            }
            let channelScales = try reader.index("tensor channel scales offset")
            if let at = try reader.reserved(4, "tensor reserved") {
                throw .badTensor(tensor: index, reason: "reserved byte at \(at) is not zero (this reader implements format 1.0)")
            }
            let isConstant = flags & 1 != 0
            var dataOffset = 0
            if isConstant {
                if dataSize != elements * dataType.size {
                    throw .badTensor(tensor: index, reason: "constant data is \(dataSize) bytes, the shape \(shape) of \(dataType.name) needs \(elements * dataType.size)")
                }
                if relativeOffset % EEMFormat.constantAlignment != 0 || relativeOffset > header.dataSize || header.dataSize - relativeOffset < dataSize {
                    throw .badTensor(tensor: index, reason: "constant data at offset \(relativeOffset) with \(dataSize) bytes lies outside the data section (\(header.dataSize) bytes) or is not \(EEMFormat.constantAlignment)-byte aligned")
                }
                dataOffset = header.dataOffset + relativeOffset
                if dataType == .float32 {
                    let values = (base + dataOffset).assumingMemoryBound(to: Float.self)
                    for element in 0..<elements where !values[element].isFinite {
                        throw .badTensor(tensor: index, reason: "constant element \(element) is not a finite number")
                    }
                }
            } else if relativeOffset != 0 || dataSize != 0 {
                throw .badTensor(tensor: index, reason: "an activation tensor must not have constant data (offset \(relativeOffset), size \(dataSize))")
            }
            guard let kind = Quantization.Kind(rawValue: quantCode) else {
                throw .badTensor(tensor: index, reason: "unknown quantization kind \(quantCode)")
            }
            var quantization = Quantization.none
            switch kind {
            case .none:
                if dataType == .int8 { throw .badTensor(tensor: index, reason: "an int8 tensor needs quantization parameters") }
                if scale.bitPattern != 0 || zeroPoint != 0 || quantAxis != 0 || channelScales != 0 {
                    throw .badTensor(tensor: index, reason: "an unquantized tensor must have zero scale, zero point, axis and channel scales offset")
                }
            case .perTensor, .perChannel:
                if dataType == .float32 { throw .badTensor(tensor: index, reason: "a float32 tensor cannot be quantized") }
                if dataType == .int8 && (zeroPoint < -128 || zeroPoint > 127) {
                    throw .badTensor(tensor: index, reason: "zero point \(zeroPoint) is outside int8")
                }
                if !(scale.isFinite && scale > 0) && kind == .perTensor {
                    throw .badTensor(tensor: index, reason: "quantization scale must be a positive finite number")
                }
                if kind == .perTensor && (quantAxis != 0 || channelScales != 0) {
                    throw .badTensor(tensor: index, reason: "a per-tensor quantized tensor must have zero axis and channel scales offset")
                }
                quantization = Quantization(kind: kind, scale: scale, zeroPoint: zeroPoint, axis: quantAxis, channelScalesOffset: 0)
                if kind == .perChannel {
                    if quantAxis >= rank { throw .badTensor(tensor: index, reason: "quantization axis \(quantAxis) is not below rank \(rank)") }
                    let channels = shape[quantAxis]
                    let bytes = channels * 4
                    if channelScales % 4 != 0 || channelScales > header.dataSize || header.dataSize - channelScales < bytes {
                        throw .badTensor(tensor: index, reason: "per-channel scales at offset \(channelScales) lie outside the data section")
                    }
                    quantization.channelScalesOffset = header.dataOffset + channelScales
                    for channel in 0..<channels {
                        let value = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: quantization.channelScalesOffset + channel * 4, as: UInt32.self)))
                        if !(value.isFinite && value > 0) {
                            throw .badTensor(tensor: index, reason: "per-channel scale \(channel) is not a positive finite number")
                        }
                    }
                }
            }
            tensors.append(TensorInfo(dataType: dataType, shape: shape, isConstant: isConstant, dataOffset: dataOffset,
                                      byteCount: elements * dataType.size, quantization: quantization))
        }
        return tensors
    }

    // MARK: Operators

    static func readOperators(base: UnsafeRawPointer, count: Int, header: Header, tensorCount: Int) throws(ModelError) -> [Operator] {
        let end = header.operatorTableOffset + header.operatorTableSize
        var reader = ByteReader(base: base, count: end, offset: header.operatorTableOffset)
        var operators: [Operator] = []
        operators.reserveCapacity(header.operatorCount)
        for index in 0..<header.operatorCount {
            let record = reader.offset
            let code = try reader.u8("operator code")
            guard let kind = OperatorKind(rawValue: code) else {
                throw .badOperator(op: index, kind: "opcode \(code)", reason: "unknown operator code \(code) at byte \(record)")
            }
            let activationCode = try reader.u8("operator activation")
            guard let activation = Activation(rawValue: activationCode) else {
                throw .badOperator(op: index, kind: kind.name, reason: "unknown fused activation code \(activationCode)")
            }
            let inputCount = Int(try reader.u8("operator input count"))
            let outputCount = Int(try reader.u8("operator output count"))
            if inputCount < 1 || inputCount > EEMFormat.maxOperatorInputs {
                throw .badOperator(op: index, kind: kind.name, reason: "\(inputCount) inputs; between 1 and \(EEMFormat.maxOperatorInputs) are allowed")
            }
            if outputCount != 1 {
                throw .badOperator(op: index, kind: kind.name, reason: "\(outputCount) outputs; exactly 1 is required")
            }
            var attributes: [Int32] = []
            attributes.reserveCapacity(EEMFormat.attributeCount)
            for _ in 0..<EEMFormat.attributeCount { attributes.append(try reader.i32("operator attribute")) }
            var inputs: [Int] = []
            for _ in 0..<inputCount {
                let tensor = try reader.index("operator input")
                if tensor >= tensorCount {
                    throw .tensorOutOfRange(op: index, kind: kind.name, role: "input", tensor: tensor, tensorCount: tensorCount)
                }
                inputs.append(tensor)
            }
            let output = try reader.index("operator output")
            if output >= tensorCount {
                throw .tensorOutOfRange(op: index, kind: kind.name, role: "output", tensor: output, tensorCount: tensorCount)
            }
            operators.append(Operator(kind: kind, activation: activation, inputs: inputs, outputs: [output], attributes: attributes))
        }
        if reader.offset != end {
            throw .badSection(what: "operator table (\(end - reader.offset) bytes left over after \(header.operatorCount) operators)",
                              offset: header.operatorTableOffset, size: header.operatorTableSize, fileSize: count)
        }
        return operators
    }

    // MARK: Exits

    static func readExits(base: UnsafeRawPointer, count: Int, header: Header, tensors: [TensorInfo],
                          operators: [Operator], producer: [Int], checkExitMACs: Bool) throws(ModelError) -> ([ExitInfo], ExitPolicy, Int) {
        var reader = ByteReader(base: base, count: count, offset: header.exitTableOffset)
        let signalCode = try reader.u8("exit policy signal")
        guard let signal = ExitSignal(rawValue: signalCode) else {
            throw .badPolicy(reason: "unknown exit signal code \(signalCode) in the exit table")
        }
        let flags = try reader.u8("exit policy flags")
        if flags & ~1 != 0 { throw .badPolicy(reason: "unknown exit policy flag bits \(flags)") }
        if let at = try reader.reserved(6, "exit table reserved") {
            throw .badPolicy(reason: "reserved byte at \(at) of the exit table header is not zero (this reader implements format 1.0)")
        }
        var exits: [ExitInfo] = []
        var thresholds: [Float] = []
        // Format 1.1: each exit's own signal and second condition (zero bytes in 1.0 files).
        var exitSignals: [ExitSignal] = [], secondSignals: [ExitSignal] = [], secondThresholds: [Float] = []
        var classCount = 0
        var cumulative = 0
        var nextOperator = 0
        for index in 0..<header.exitCount {
            let after = try reader.index("exit operator")
            let logits = try reader.index("exit logits tensor")
            let gateField = try reader.u32("exit gate tensor")
            let gate = gateField == ExitInfo.noGateRecord ? ExitInfo.noGate : (Int(exactly: gateField) ?? Int.max)
            let rule = try readExitRule(&reader, exit: index, isFinal: index == header.exitCount - 1, versionMinor: header.versionMinor)
            let recordedMACs = try reader.u64("exit cumulative MACs")
            let threshold = try reader.f32("exit threshold")
            let secondThreshold = try readSecondThreshold(&reader, exit: index, rule: rule, versionMinor: header.versionMinor)
            if index < header.exitCount - 1 {
                exitSignals.append(rule.signal)
                secondSignals.append(rule.second)
                secondThresholds.append(secondThreshold)
            }
            if after >= operators.count || after < nextOperator {
                throw .badExit(exit: index, reason: "it follows operator \(after); exits must follow operators in increasing order within 0..<\(operators.count)")
            }
            for (role, tensor) in [("logits", logits), ("gate", gate)] where tensor != ExitInfo.noGate {
                if tensor >= tensors.count {
                    throw .badExit(exit: index, reason: "\(role) tensor \(tensor) out of range (model has \(tensors.count) tensors)")
                }
                if producer[tensor] < 0 || producer[tensor] > after {
                    throw .badExit(exit: index, reason: "\(role) tensor \(tensor) is not produced by operators 0...\(after)")
                }
                if tensors[tensor].dataType != tensors[logits].dataType || tensors[tensor].dataType == .int32 {
                    throw .badExit(exit: index, reason: "\(role) tensor \(tensor) must be float32, or int8 in a quantized model")
                }
                if index > 0 && tensors[tensor].dataType != tensors[exits[0].logitsTensor].dataType {
                    throw .badExit(exit: index, reason: "\(role) tensor \(tensor) is \(tensors[tensor].dataType.name), exit 0's are \(tensors[exits[0].logitsTensor].dataType.name)")
                }
            }
            let logitsShape = tensors[logits].shape
            if logitsShape.rank != 2 || logitsShape[0] != 1 || logitsShape[1] < 2 || logitsShape[1] > EEMFormat.maxClasses {
                throw .badExit(exit: index, reason: "logits tensor \(logits) has shape \(logitsShape); [1, classes] with 2 to \(EEMFormat.maxClasses) classes is required")
            }
            if index == 0 { classCount = logitsShape[1] }
            if logitsShape[1] != classCount {
                throw .badExit(exit: index, reason: "has \(logitsShape[1]) classes, exit 0 has \(classCount)")
            }
            if gate != ExitInfo.noGate, tensors[gate].dataType == .int8, let firstGated = exits.first(where: { $0.hasGate }) {
                let first = tensors[firstGated.gateTensor].quantization, this = tensors[gate].quantization
                if first.scale != this.scale || first.zeroPoint != this.zeroPoint {
                    throw .badExit(exit: index, reason: "gate tensor \(gate) is quantized differently from exit 0's gate; the gates of an int8 model must share one scale and zero point (eq. 9 weighs integer gate differences)")
                }
            }
            if gate != ExitInfo.noGate && tensors[gate].elementCount != 1 {
                throw .badExit(exit: index, reason: "gate tensor \(gate) has shape \(tensors[gate].shape); one element is required")
            }
            for op in nextOperator...after { cumulative += operators[op].macs }
            if checkExitMACs && recordedMACs != UInt64(cumulative) {
                throw .badExit(exit: index, reason: "records \(recordedMACs) cumulative MACs, the operators up to \(after) execute \(cumulative)")
            }
            if !threshold.isFinite { throw .badExit(exit: index, reason: "threshold is not a finite number") }
            if index < header.exitCount - 1 { thresholds.append(threshold) }
            exits.append(ExitInfo(afterOperator: after, logitsTensor: logits, gateTensor: gate, cumulativeMACs: cumulative))
            nextOperator = after + 1
        }
        if nextOperator != operators.count {
            throw .badExit(exit: header.exitCount - 1, reason: "the final exit follows operator \(nextOperator - 1), but the schedule has \(operators.count) operators; operators after the final exit would never run")
        }
        var policy = ExitPolicy(signal: signal, thresholds: thresholds, combineSeenExits: flags & 1 != 0)
        if exitSignals.contains(where: { $0 != .none }) {
            // An exit without its own signal (code 0) uses the table's.
            if signal == .none { throw .badPolicy(reason: "the exit table's signal is 'none' but exits name their own signals") }
            policy.exitSignals = exitSignals.map { $0 == .none ? signal : $0 }
        }
        if secondSignals.contains(where: { $0 != .none }) {
            policy.secondSignals = secondSignals
            policy.secondThresholds = secondThresholds
        }
        try policy.checkGates(exits)
        return (exits, policy, classCount)
    }

    /// Bytes 12–15 of an exit record: in format 1.1, the exit's own signal (0: the table's) and a
    /// second signal (0: none), then two zero bytes; in 1.0 (and for the final exit) all zero.
    static func readExitRule(_ reader: inout ByteReader, exit index: Int, isFinal: Bool,
                             versionMinor: Int) throws(ModelError) -> (signal: ExitSignal, second: ExitSignal) {
        if versionMinor == 0 || isFinal {
            if let at = try reader.reserved(4, "exit reserved") {
                let why = isFinal ? "the final exit has no signal of its own" : "this file says format 1.0"
                throw .badExit(exit: index, reason: "reserved byte at \(at) is not zero (\(why))")
            }
            return (.none, .none)
        }
        let signalCode = try reader.u8("exit signal")
        let secondCode = try reader.u8("exit second signal")
        guard let signal = ExitSignal(rawValue: signalCode) else {
            throw .badExit(exit: index, reason: "unknown exit signal code \(signalCode) at byte 12 of its record")
        }
        guard let second = ExitSignal(rawValue: secondCode) else {
            throw .badExit(exit: index, reason: "unknown second signal code \(secondCode) at byte 13 of its record")
        }
        if let at = try reader.reserved(2, "exit reserved") {
            throw .badExit(exit: index, reason: "reserved byte at \(at) is not zero (this reader implements format 1.\(EEMFormat.versionMinor))")
        }
        return (signal, second)
    }

    /// Bytes 28–31 of an exit record: the second condition's threshold (format 1.1; finite), or
    /// zero when the exit has no second condition.
    static func readSecondThreshold(_ reader: inout ByteReader, exit index: Int, rule: (signal: ExitSignal, second: ExitSignal),
                                    versionMinor: Int) throws(ModelError) -> Float {
        if rule.second == .none {
            if let at = try reader.reserved(4, "exit reserved") {
                throw .badExit(exit: index, reason: "reserved byte at \(at) (the second threshold of format 1.1) is not zero, but the exit has no second signal")
            }
            return 0
        }
        let value = try reader.f32("exit second threshold")
        if !value.isFinite { throw .badExit(exit: index, reason: "second threshold is not a finite number") }
        return value
    }

    // MARK: Metadata

    static func readMetadata(base: UnsafeRawPointer, count: Int, header: Header, input: TensorInfo, classCount: Int) throws(ModelError) -> ModelMetadata {
        let end = header.metadataOffset + header.metadataSize
        var reader = ByteReader(base: base, count: end, offset: header.metadataOffset)
        let channels = input.shape.rank >= 2 ? input.shape[1] : 1
        var metadata = ModelMetadata()
        for which in 0..<2 {
            let at = reader.offset
            let n = try reader.index("normalization count")
            if n != 0 && n != 1 && n != channels {
                throw .badMetadata(offset: at, reason: "\(n) normalization values; 0, 1 or one per input channel (\(channels)) are allowed")
            }
            var values: [Float] = []
            for _ in 0..<n {
                let value = try reader.f32("normalization value")
                if !value.isFinite || (which == 1 && !(value > 0)) {
                    throw .badMetadata(offset: at, reason: which == 0 ? "a mean is not finite" : "a standard deviation is not a positive finite number")
                }
                values.append(value)
            }
            if which == 0 { metadata.mean = values } else { metadata.std = values }
        }
        if metadata.mean.count != metadata.std.count {
            throw .badMetadata(offset: header.metadataOffset, reason: "\(metadata.mean.count) means but \(metadata.std.count) standard deviations")
        }
        let at = reader.offset
        let names = try reader.index("class name count")
        if names != 0 && names != classCount {
            throw .badMetadata(offset: at, reason: "\(names) class names for \(classCount) classes")
        }
        for _ in 0..<names { metadata.classNames.append(try readString(&reader)) }
        metadata.name = try readString(&reader)
        return metadata
    }

    static func readString(_ reader: inout ByteReader) throws(ModelError) -> String {
        let length = Int(try reader.u16("string length"))
        try reader.require(length, "string")
        let bytes = UnsafeRawBufferPointer(start: reader.base + reader.offset, count: length)
        reader.offset += length
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Validation entry points for tools that write `.eem` files.
public enum ModelValidation {
    /// Validates a model except its recorded exit MACs and returns each operator's MACs, as
    /// the runtime counts them; a writer uses this to fill in the exits' cumulative MACs.
    public static func operatorMACs(_ buffer: UnsafeRawBufferPointer) throws(ModelError) -> [Int] {
        guard let base = buffer.baseAddress else { throw .truncated(what: "header", offset: 0, needed: EEMFormat.headerSize, available: 0) }
        return try ModelParser.parse(base: base, count: buffer.count, checkExitMACs: false).operators.map { $0.macs }
    }
}
