// The loader against truncated, corrupted and deliberately invalid `.eem` files: it must
// throw the right ModelError (naming the place) and never crash.
//
// File layout patched below (from Sources/EarlyExit/ModelParser.swift and ModelBuilder.swift):
//   header (64 bytes): magic 0..<4, version major u16 @4, minor u16 @6, file size u32 @8,
//     CRC-32 u32 @12 (over bytes 16..<end), tensor count @16, operator count @20, exit count @24,
//     input tensor @28, tensor table offset @32, operator table offset @36, operator table
//     size @40, exit table offset @44, metadata offset @48, metadata size @52, data offset @56,
//     data size @60.
//   tensor record (48 bytes): dtype u8 +0, rank u8 +1, flags u8 +2, quantization u8 +3,
//     dims 4×u32 +4, data offset (relative to the data section) u32 +20, data size u32 +24,
//     scale f32 +28, zero point i32 +32, quantization axis u8 +36, channel scales offset +40.
//   operator record: opcode u8 +0, activation u8 +1, input count u8 +2, output count u8 +3,
//     12 attribute i32 +4..<52, then the input tensor indices (u32 each), then the output.
//   exit table: 8-byte header (signal u8, flags u8, 6 reserved), then 32-byte records:
//     after-operator u32 +0, logits u32 +4, gate u32 +8, reserved +12, cumulative MACs u64 +16,
//     threshold f32 +24, reserved +28.
@testable import EarlyExit
import EarlyExitTools
import XCTest

// MARK: Byte helpers

func readU32(_ bytes: [UInt8], _ offset: Int) -> Int {
    Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
}

func writeU32(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

func writeU64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
    for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
}

/// Recomputes the header CRC-32 over bytes[16...] and stores it little-endian at offset 12.
func fixCRC(_ bytes: inout [UInt8]) {
    writeU32(&bytes, 12, CRC32.checksum(Array(bytes[16...])))
}

/// Loads bytes, returning the error (or nil when the model loads).
func loadError(_ bytes: [UInt8]) -> ModelError? {
    do { _ = try Model(bytes: bytes); return nil } catch { return error }
}

final class MalformedModelTests: XCTestCase {
    // Header field offsets.
    static let tensorTableField = 32, operatorTableField = 36, exitTableField = 44, dataOffsetField = 56

    static func tensorRecord(_ bytes: [UInt8], _ tensor: Int) -> Int { readU32(bytes, tensorTableField) + 48 * tensor }
    static func exitRecord(_ bytes: [UInt8], _ exit: Int) -> Int { readU32(bytes, exitTableField) + 8 + 32 * exit }
    /// Offset of operator `op`'s record, walking the variable-length records.
    static func operatorRecord(_ bytes: [UInt8], _ op: Int) -> Int {
        var offset = readU32(bytes, operatorTableField)
        for _ in 0..<op { offset += 52 + 4 * (Int(bytes[offset + 2]) + Int(bytes[offset + 3])) }
        return offset
    }

    static func caseName(_ error: ModelError) -> String {
        switch error {
        case .truncated: return "truncated"
        case .badMagic: return "badMagic"
        case .unsupportedVersion: return "unsupportedVersion"
        case .sizeMismatch: return "sizeMismatch"
        case .checksumMismatch: return "checksumMismatch"
        case .misalignedBuffer: return "misalignedBuffer"
        case .limitExceeded: return "limitExceeded"
        case .badSection: return "badSection"
        case .overlappingSections: return "overlappingSections"
        case .badTensor: return "badTensor"
        case .badOperator: return "badOperator"
        case .tensorOutOfRange: return "tensorOutOfRange"
        case .readBeforeWrite: return "readBeforeWrite"
        case .badExit: return "badExit"
        case .badMetadata: return "badMetadata"
        case .arenaTooSmall: return "arenaTooSmall"
        case .misalignedArena: return "misalignedArena"
        case .badInput: return "badInput"
        case .badPolicy: return "badPolicy"
        case .nonFiniteOutput: return "nonFiniteOutput"
        case .unsupportedKernels: return "unsupportedKernels"
        }
    }

    /// Asserts that loading fails with an error satisfying `check`, and that the description
    /// contains every string in `mentions`.
    func expectError(_ bytes: [UInt8], mentions: [String] = [], file: StaticString = #filePath, line: UInt = #line,
                     _ check: (ModelError) -> Bool) {
        guard let error = loadError(bytes) else { return XCTFail("the model loaded", file: file, line: line) }
        XCTAssertTrue(check(error), "unexpected error: \(error)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(error.description.contains(text), "\"\(error.description)\" does not mention \"\(text)\"", file: file, line: line)
        }
    }

    /// A small valid model: input [1,1,4,4] → conv 3×3 pad 1 (2 filters, bias) → global
    /// average pool [1,2] (the logits) → fully connected [1,1] (the gate).
    struct Tiny {
        var builder = ModelBuilder()
        var input = 0, weight = 0, bias = 0, conv = 0, logits = 0, gateWeight = 0, gate = 0

        init(addExit: Bool = true) {
            input = builder.addInput(shape: [1, 1, 4, 4])
            weight = builder.addConstant((0..<18).map { Float($0) / 18 - 0.5 }, shape: [2, 1, 3, 3])
            bias = builder.addConstant([0.25, -0.25], shape: [2])
            conv = builder.add(.conv2d, [input, weight, bias], shape: [1, 2, 4, 4], attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
            logits = builder.add(.globalAvgPool, [conv], shape: [1, 2])
            gateWeight = builder.addConstant([0.5, -0.5], shape: [1, 2])
            gate = builder.add(.fullyConnected, [logits, gateWeight], shape: [1, 1])
            if addExit { builder.addExit(logits: logits, gate: gate) }
        }

        /// Cumulative MACs of the valid model's single exit: conv 2·4·4·1·9 = 288, fc 2.
        static let macs = [290]

        func bytes() -> [UInt8] { builder.serializeUnchecked(exitMACs: Tiny.macs) }
    }

    func testTinyModelIsValid() throws {
        let model = try Model(bytes: Tiny().bytes())
        XCTAssertEqual(model.exits.map { $0.cumulativeMACs }, Tiny.macs)
    }

    // MARK: (a) Truncation

    func testEveryTruncationThrowsTheRightError() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        let count = valid.count
        for length in 0..<count {
            let error = loadError(Array(valid[0..<length]))
            switch length {
            case 0..<4:
                XCTAssertEqual(error, .truncated(what: "magic", offset: 0, needed: 4, available: length), "length \(length)")
            case 4..<64:
                XCTAssertEqual(error, .truncated(what: "header", offset: 4, needed: 60, available: length - 4), "length \(length)")
            default:
                XCTAssertEqual(error, .sizeMismatch(recorded: count, actual: length), "length \(length)")
            }
        }
        XCTAssertNil(loadError(valid))
    }

    // MARK: (b) Single-byte corruption, checksum left alone

    /// The variant used for the byte-mutation sweeps: the same 30-operator, 3-exit network
    /// (same tables, 55 tensors), narrower and on an 8×8 input so that loads and runs stay
    /// fast in debug builds.
    static func sweepModel() throws -> [UInt8] { try SyntheticModels.attentionNetwork(size: 8, width: 4, classes: 4).serialize() }

    /// Every byte of the header, tables and metadata, and every 7th byte of the constant data.
    static func sweepPositions(_ bytes: [UInt8]) -> [Int] {
        let data = readU32(bytes, dataOffsetField)
        return Array(0..<data) + Array(stride(from: data, to: bytes.count, by: 7))
    }

    func testCorruptedBytesAreCaughtByTheChecksumOrHeaderChecks() throws {
        let valid = try Self.sweepModel()
        let crc = UInt32(readU32(valid, 12))
        var mutated = valid
        var tried = 0
        for position in Self.sweepPositions(valid) {
            for mutation in 0..<3 {
                let original = valid[position]
                let value: UInt8 = mutation == 0 ? original ^ 0xFF : mutation == 1 ? 0x00 : 0x7F
                if value == original { continue }
                mutated[position] = value
                defer { mutated[position] = original }
                tried += 1
                let error = loadError(mutated)
                let label = "byte \(position): \(original) → \(value)"
                switch position {
                case 0..<4:
                    XCTAssertEqual(error, .badMagic, label)
                case 4, 5:
                    let major = Int(mutated[4]) | Int(mutated[5]) << 8
                    XCTAssertEqual(error, .unsupportedVersion(major: major, minor: 0), label)
                case 6, 7:
                    // The minor version is not checked (readers accept newer minors) and lies
                    // before the checksummed body: the model loads with the new minor.
                    XCTAssertNil(error, label)
                    XCTAssertEqual(try Model(bytes: mutated).versionMinor, Int(mutated[6]) | Int(mutated[7]) << 8, label)
                case 8..<12:
                    XCTAssertEqual(error, .sizeMismatch(recorded: readU32(mutated, 8), actual: valid.count), label)
                case 12..<16:
                    XCTAssertEqual(error, .checksumMismatch(recorded: UInt32(readU32(mutated, 12)), computed: crc), label)
                default:
                    // CRC-32 detects every single-byte error in the body. (The computed value is
                    // recomputed here for every 8th position only, to keep the sweep fast.)
                    guard case .checksumMismatch(recorded: crc, let computed)? = error, computed != crc else {
                        XCTFail("\(label): \(String(describing: error))"); continue
                    }
                    if position % 8 == 0 { XCTAssertEqual(computed, CRC32.checksum(Array(mutated[16...])), label) }
                }
            }
        }
        // At least the xor-0xFF mutation of every sampled position (it always changes the byte).
        XCTAssertGreaterThanOrEqual(tried, Self.sweepPositions(valid).count)
    }

    func testReservedFieldsMustBeZero() throws {
        // docs/FORMAT.md, "Version policy": minor versions may only add meaning to fields that
        // version 1.0 requires to be zero (reserved fields, unused attributes, flag bits), "so a
        // 1.0 reader rejects a file that uses them rather than misreading it".
        let valid = try SyntheticModels.attentionNetwork().serialize()
        let table = readU32(valid, Self.exitTableField)
        var cases: [(String, Int, (ModelError) -> Bool)] = []
        for tensor in [0, 1, 54] {
            let record = Self.tensorRecord(valid, tensor)
            for offset in [37, 38, 39, 44, 47] {
                cases.append(("tensor \(tensor) record byte +\(offset) (reserved)", record + offset, {
                    if case .badTensor(tensor: tensor, _) = $0 { return true } else { return false }
                }))
            }
        }
        for byte in 2..<8 {
            cases.append(("exit table header byte \(byte) (reserved)", table + byte, { _ in true }))
        }
        for exit in 0..<3 {
            for offset in [12, 15, 28, 31] {
                cases.append(("exit \(exit) record byte +\(offset) (reserved)", Self.exitRecord(valid, exit) + offset, {
                    if case .badExit(exit: exit, _) = $0 { return true } else { return false }
                }))
            }
        }
        for (label, position, check) in cases {
            XCTAssertEqual(valid[position], 0, "the writer zeroes \(label)")
            var bytes = valid
            bytes[position] = 1
            fixCRC(&bytes)
            if let error = loadError(bytes) {
                XCTAssertTrue(check(error), "\(label): \(error)")
                XCTAssertTrue("\(error)".contains("reserved"), "\(label): the message names the reserved field: \(error)")
            } else {
                XCTFail("\(label): a non-zero reserved byte was accepted")
            }
        }
    }

    func testOverlappingSectionsAreRejected() throws {
        // Point the constant-data section at the tensor table (offset 64 is 64-aligned and inside the file).
        var bytes = try SyntheticModels.attentionNetwork().serialize()
        let dataSize = readU32(bytes, 60)
        writeU32(&bytes, 56, 64)
        writeU32(&bytes, 60, UInt32(min(dataSize, bytes.count - 64)))
        fixCRC(&bytes)
        let error = try XCTUnwrap(loadError(bytes), "a data section overlapping the tensor table must be rejected")
        XCTAssertTrue("\(error)".contains("overlaps"), "\(error)")
    }

    func testUnquantizedTensorWithAScaleIsRejected() throws {
        var bytes = try SyntheticModels.attentionNetwork().serialize()
        let record = Self.tensorRecord(bytes, 0)
        bytes[record + 28] = 0x3F // scale field of a float32 tensor: must stay zero
        fixCRC(&bytes)
        let error = try XCTUnwrap(loadError(bytes))
        guard case .badTensor(tensor: 0, _) = error else { return XCTFail("\(error)") }
    }

    func testCRC32MatchesTheStandardCheckValue() {
        // The CRC-32/ISO-HDLC check value: crc("123456789") = 0xCBF43926; crc("") = 0.
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        // crc("a") = 0xE8B7BE43 (zlib).
        XCTAssertEqual(CRC32.checksum([0x61]), 0xE8B7_BE43)
    }

    // MARK: (c) Single-byte corruption with the checksum recomputed

    func testCorruptedBytesWithValidChecksumThrowOrLoadAndRun() throws {
        let valid = try Self.sweepModel()
        let dataStart = readU32(valid, Self.dataOffsetField)
        var rng = SeededGenerator(seed: 77)
        let randomInput = rng.uniforms(1 << 16, scale: 3)
        var mutated = valid
        var rejected = 0, loaded = 0, ran = 0, loadedOutsideData = 0, loadedData = 0
        var errorKinds: [String: Int] = [:]
        for position in Self.sweepPositions(valid) where position >= 16 {
            for mutation in 0..<3 {
                let original = valid[position]
                let value: UInt8 = mutation == 0 ? original ^ 0xFF : mutation == 1 ? 0x00 : 0x7F
                if value == original { continue }
                mutated[position] = value
                fixCRC(&mutated)
                defer { mutated[position] = original }
                let model: Model
                do {
                    model = try Model(bytes: mutated)
                } catch {
                    rejected += 1
                    errorKinds[Self.caseName(error), default: 0] += 1
                    XCTAssertFalse(error.description.isEmpty)
                    continue
                }
                loaded += 1
                if position < dataStart { loadedOutsideData += 1 } else { loadedData += 1 }
                // Run every 3rd loaded mutant outside the weights and every 10th weight mutant
                // (a run costs ~1 ms in debug; changed weights are structurally uninteresting).
                let run = position < dataStart ? loadedOutsideData % 3 == 0 : loadedData % 10 == 0
                if run && model.plan.arenaBytes <= 64 << 20 && model.input.elementCount <= randomInput.count {
                    let interpreter = Interpreter(model: model)
                    let input = Array(randomInput[0..<model.input.elementCount])
                    do {
                        let summary = try interpreter.run(input)
                        XCTAssert(summary.exitIndex < model.exits.count && summary.classIndex < model.classCount, "byte \(position)")
                        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
                        let full = try interpreter.run(input)
                        XCTAssertEqual(full.exitIndex, model.exits.count - 1, "byte \(position)")
                        ran += 1
                    } catch {
                        // Only a non-float input may be refused at run time, or outputs that a
                        // mutated weight (a huge exponent) turned NaN or infinite.
                        switch error {
                        case .badInput, .nonFiniteOutput: break
                        default: XCTFail("byte \(position): run threw \(error)")
                        }
                    }
                }
            }
        }
        print("mutations with fixed CRC: \(rejected) rejected, \(loaded) loaded (\(loadedOutsideData) outside the data section), \(ran) run; errors \(errorKinds.sorted { $0.key < $1.key })")
        // The deeper checks must have been reached: most table mutations are rejected by the
        // validator, and most weight mutations (finite values) load.
        XCTAssertGreaterThan(rejected, loaded)
        XCTAssertGreaterThan(loadedData, 500)
        // (Fewer mutants load since reserved bytes and unused quantization fields are checked
        // too; a few hundred runs still exercise the interpreter on loaded mutants.)
        XCTAssertGreaterThan(ran, 200)
        // (readBeforeWrite cannot arise here: xor 0xFF and 0x7F push a tensor index out of
        // range and 0x00 makes it the input; it is covered by testReadBeforeWriteAndCycles.)
        for kind in ["badTensor", "badOperator", "badExit", "tensorOutOfRange", "badSection", "badMetadata", "limitExceeded", "truncated"] {
            XCTAssertGreaterThan(errorKinds[kind, default: 0], 0, "no mutation produced \(kind)")
        }
    }

    // MARK: (d) Targeted invalid models

    func testOperatorTensorIndexOutOfRange() {
        var tiny = Tiny(addExit: false)
        let out = tiny.builder.addActivation(shape: [1, 2])
        tiny.builder.addOperator(.relu, inputs: [999], output: out)
        tiny.builder.addExit(logits: out, gate: tiny.gate)
        let count = tiny.builder.tensorCount
        expectError(tiny.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "out of range", "999"]) {
            $0 == .tensorOutOfRange(op: 3, kind: "relu", role: "input", tensor: 999, tensorCount: count)
        }
        var second = Tiny(addExit: false)
        second.builder.addOperator(.relu, inputs: [second.logits], output: 4321)
        second.builder.addExit(logits: second.logits, gate: second.gate)
        expectError(second.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "output tensor 4321 out of range"]) {
            $0 == .tensorOutOfRange(op: 3, kind: "relu", role: "output", tensor: 4321, tensorCount: second.builder.tensorCount)
        }
    }

    func testReadBeforeWriteAndCycles() {
        // Operator 0 reads t1, which operator 1 produces.
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 2])
        let t1 = b.addActivation(shape: [1, 2]), t2 = b.addActivation(shape: [1, 2])
        b.addOperator(.relu, inputs: [t1], output: t2)
        b.addOperator(.relu, inputs: [x], output: t1)
        b.addExit(logits: t2, gate: b.add(.fullyConnected, [t2, b.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
        expectError(b.serializeUnchecked(), mentions: ["operator 0", "reads tensor \(t1) before"]) {
            $0 == .readBeforeWrite(op: 0, kind: "relu", tensor: t1)
        }
        // A two-operator cycle: t1 = relu(t2), t2 = relu(t1).
        var c = ModelBuilder()
        _ = c.addInput(shape: [1, 2])
        let a1 = c.addActivation(shape: [1, 2]), a2 = c.addActivation(shape: [1, 2])
        c.addOperator(.relu, inputs: [a2], output: a1)
        c.addOperator(.relu, inputs: [a1], output: a2)
        c.addExit(logits: a2, gate: c.add(.fullyConnected, [a2, c.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
        expectError(c.serializeUnchecked(), mentions: ["operator 0"]) { $0 == .readBeforeWrite(op: 0, kind: "relu", tensor: a2) }
        // An operator reading its own output.
        var d = ModelBuilder()
        _ = d.addInput(shape: [1, 2])
        let own = d.addActivation(shape: [1, 2])
        d.addOperator(.relu, inputs: [own], output: own)
        d.addExit(logits: own, gate: d.add(.fullyConnected, [own, d.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
        expectError(d.serializeUnchecked(), mentions: ["operator 0"]) { $0 == .readBeforeWrite(op: 0, kind: "relu", tensor: own) }
    }

    func testOutputTensorConflicts() {
        // Output written twice, output is the model input, output is a constant.
        var twice = Tiny(addExit: false)
        twice.builder.addOperator(.relu, inputs: [twice.logits], output: twice.conv)
        twice.builder.addExit(logits: twice.logits, gate: twice.gate)
        expectError(twice.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "already produced by operator 0"]) {
            if case .badOperator(op: 3, kind: "relu", _) = $0 { return true } else { return false }
        }
        var input = Tiny(addExit: false)
        input.builder.addOperator(.relu, inputs: [input.logits], output: input.input)
        input.builder.addExit(logits: input.logits, gate: input.gate)
        expectError(input.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "model input"]) {
            if case .badOperator(op: 3, _, _) = $0 { return true } else { return false }
        }
        var constant = Tiny(addExit: false)
        constant.builder.addOperator(.relu, inputs: [constant.bias], output: constant.weight)
        constant.builder.addExit(logits: constant.logits, gate: constant.gate)
        expectError(constant.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "is a constant"]) {
            if case .badOperator(op: 3, _, _) = $0 { return true } else { return false }
        }
    }

    func testHugeZeroAndBadRankDimensions() {
        let cases: [([Int], String)] = [
            ([1, 1 << 31], "more than"),                 // 2^31 elements in one dimension
            ([65535, 65535, 65535, 65535], "more than"), // the product overflows Int64
            ([1, 0x7FFF_FFFF], "more than"),
            ([1 << 15, 1 << 14], "more than"),           // 2^29 > 2^28 elements
            ([1, 0, 3], "dimension 1 is 0"),
            ([], "rank 0"),
            ([1, 1, 1, 1, 2], "rank 5"),
        ]
        for (shape, text) in cases {
            var tiny = Tiny()
            let tensor = tiny.builder.addActivation(shape: shape)
            expectError(tiny.bytes(), mentions: ["tensor \(tensor)", text]) {
                if case .badTensor(tensor: tensor, _) = $0 { return true } else { return false }
            }
        }
        // Dimensions beyond the rank must be 1: patch dims[3] of a rank-2 tensor.
        var bytes = Tiny().bytes()
        let record = Self.tensorRecord(bytes, Tiny().logits)
        writeU32(&bytes, record + 4 + 12, 2)
        fixCRC(&bytes)
        expectError(bytes, mentions: ["tensor \(Tiny().logits)", "beyond rank 2"]) {
            if case .badTensor = $0 { return true } else { return false }
        }
    }

    func testUnknownTensorCodes() {
        let tiny = Tiny()
        let valid = tiny.bytes()
        let record = Self.tensorRecord(valid, tiny.conv) // an activation: dtype 1, rank 4, flags 0, quantization 0
        let cases: [(Int, UInt8, String)] = [
            (0, 9, "unknown data type code 9"),
            (0, 0, "unknown data type code 0"),
            (2, 2, "unknown flag bits 2"),
            (2, 0x81, "unknown flag bits 129"),
            (3, 3, "unknown quantization kind 3"),
            (3, 1, "cannot be quantized"),           // a float32 tensor with per-tensor quantization
            (0, 2, "needs quantization parameters"), // an int8 tensor without quantization
        ]
        for (field, value, text) in cases {
            var bytes = valid
            bytes[record + field] = value
            fixCRC(&bytes)
            expectError(bytes, mentions: ["tensor \(tiny.conv)", text]) {
                if case .badTensor(tensor: tiny.conv, _) = $0 { return true } else { return false }
            }
        }
    }

    func testConstantDataPlacementAndSize() {
        let tiny = Tiny()
        let valid = tiny.bytes()
        let record = Self.tensorRecord(valid, tiny.weight)
        // Offset 4 within the data section is not 16-byte aligned.
        var misaligned = valid
        writeU32(&misaligned, record + 20, 4)
        fixCRC(&misaligned)
        expectError(misaligned, mentions: ["tensor \(tiny.weight)", "offset 4", "aligned"]) {
            if case .badTensor(tensor: tiny.weight, _) = $0 { return true } else { return false }
        }
        // Data beyond the end of the data section.
        var outside = valid
        writeU32(&outside, record + 20, UInt32(readU32(valid, 60)))
        fixCRC(&outside)
        expectError(outside, mentions: ["tensor \(tiny.weight)", "outside the data section"]) {
            if case .badTensor(tensor: tiny.weight, _) = $0 { return true } else { return false }
        }
        // Data size that does not match the shape (18 floats = 72 bytes).
        var size = valid
        writeU32(&size, record + 24, 76)
        fixCRC(&size)
        expectError(size, mentions: ["tensor \(tiny.weight)", "76 bytes", "needs 72"]) {
            if case .badTensor(tensor: tiny.weight, _) = $0 { return true } else { return false }
        }
        // An activation that claims constant data.
        var activation = valid
        writeU32(&activation, Self.tensorRecord(valid, tiny.conv) + 24, 4)
        fixCRC(&activation)
        expectError(activation, mentions: ["tensor \(tiny.conv)", "activation"]) {
            if case .badTensor(tensor: tiny.conv, _) = $0 { return true } else { return false }
        }
    }

    func testNonFiniteWeights() {
        for value in [Float.nan, .infinity, -.infinity] {
            var b = ModelBuilder()
            let x = b.addInput(shape: [1, 3])
            let w = b.addConstant([0.5, 1, value, 0.25, 0.5, 0.75], shape: [2, 3])
            let logits = b.add(.fullyConnected, [x, w], shape: [1, 2])
            b.addExit(logits: logits, gate: b.add(.fullyConnected, [logits, b.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
            expectError(b.serializeUnchecked(exitMACs: [8]), mentions: ["tensor \(w)", "element 2", "not a finite number"]) {
                if case .badTensor(tensor: w, _) = $0 { return true } else { return false }
            }
        }
    }

    func testUnknownOpcodeActivationAndRecordCounts() {
        let valid = Tiny().bytes()
        let op0 = Self.operatorRecord(valid, 0), op2 = Self.operatorRecord(valid, 2)
        // 0, the first code after the last operator kind, and two far beyond.
        for code: UInt8 in [0, OperatorKind.allCases.map(\.rawValue).max()! + 1, 99, 255] {
            var bytes = valid
            bytes[op2] = code
            fixCRC(&bytes)
            expectError(bytes, mentions: ["operator 2", "unknown operator code \(code)", "byte \(op2)"]) {
                $0 == .badOperator(op: 2, kind: "opcode \(code)", reason: "unknown operator code \(code) at byte \(op2)")
            }
        }
        var activation = valid
        activation[op0 + 1] = 2
        fixCRC(&activation)
        expectError(activation, mentions: ["operator 0", "conv2d", "activation code 2"]) {
            if case .badOperator(op: 0, kind: "conv2d", _) = $0 { return true } else { return false }
        }
        var outputs = valid
        outputs[op0 + 3] = 2
        fixCRC(&outputs)
        expectError(outputs, mentions: ["operator 0", "2 outputs"]) {
            if case .badOperator(op: 0, _, _) = $0 { return true } else { return false }
        }
        var inputs = valid
        inputs[op0 + 2] = 0
        fixCRC(&inputs)
        expectError(inputs, mentions: ["operator 0", "0 inputs"]) {
            if case .badOperator(op: 0, _, _) = $0 { return true } else { return false }
        }
        // A fused ReLU on an operator that cannot fuse it.
        var fused = valid
        fused[Self.operatorRecord(valid, 1) + 1] = 1
        fixCRC(&fused)
        expectError(fused, mentions: ["operator 1", "global_avg_pool", "fused activation"]) {
            if case .badOperator(op: 1, kind: "global_avg_pool", _) = $0 { return true } else { return false }
        }
    }

    func testWrongArity() {
        var relu = Tiny(addExit: false)
        let out = relu.builder.addActivation(shape: [1, 2])
        relu.builder.addOperator(.relu, inputs: [relu.logits, relu.logits], output: out)
        relu.builder.addExit(logits: relu.logits, gate: relu.gate)
        expectError(relu.builder.serializeUnchecked(exitMACs: [290]), mentions: ["operator 3", "relu", "2 inputs; 1 required"]) {
            if case .badOperator(op: 3, kind: "relu", _) = $0 { return true } else { return false }
        }
        var conv = ModelBuilder()
        let x = conv.addInput(shape: [1, 1, 4, 4])
        let y = conv.add(.conv2d, [x], shape: [1, 1, 4, 4], attributes: [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1])
        conv.addExit(logits: y, gate: y)
        expectError(conv.serializeUnchecked(), mentions: ["operator 0", "conv2d", "1 inputs; 2 to 3 required"]) {
            if case .badOperator(op: 0, kind: "conv2d", _) = $0 { return true } else { return false }
        }
    }

    func testConvolutionWeightShapeMismatch() {
        for weightShape in [[2, 1, 3, 2], [2, 2, 3, 3], [2, 1, 3]] {
            var b = ModelBuilder()
            let x = b.addInput(shape: [1, 1, 4, 4])
            let w = b.addConstant([Float](repeating: 0.1, count: Ref.count(weightShape)), shape: weightShape)
            let y = b.add(.conv2d, [x, w], shape: [1, 2, 4, 4], attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
            let logits = b.add(.globalAvgPool, [y], shape: [1, 2])
            b.addExit(logits: logits, gate: b.add(.fullyConnected, [logits, b.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
            expectError(b.serializeUnchecked(), mentions: ["operator 0", "conv2d", "weight shape"]) {
                if case .badOperator(op: 0, kind: "conv2d", _) = $0 { return true } else { return false }
            }
        }
        // Output shape that disagrees with the geometry (4×4 input, 3×3 pad 1 → 4×4, not 3×3).
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 1, 4, 4])
        let y = b.add(.conv2d, [x, b.addConstant([Float](repeating: 0.1, count: 18), shape: [2, 1, 3, 3])], shape: [1, 2, 3, 3],
                      attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1])
        let logits = b.add(.globalAvgPool, [y], shape: [1, 2])
        b.addExit(logits: logits, gate: b.add(.fullyConnected, [logits, b.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
        expectError(b.serializeUnchecked(), mentions: ["operator 0", "expected [1,2,4,4]"]) {
            if case .badOperator(op: 0, kind: "conv2d", _) = $0 { return true } else { return false }
        }
    }

    func testExitPlacementAndShapes() {
        // After an operator out of range.
        var range = Tiny()
        range.builder.setExitOperator(0, to: 99)
        expectError(range.bytes(), mentions: ["exit 0", "operator 99"]) {
            if case .badExit(exit: 0, _) = $0 { return true } else { return false }
        }
        // Two exits out of order: exit 1 follows operator 1, before exit 0's operator 2.
        var order = Tiny()
        order.builder.addExit(logits: order.logits, gate: order.gate)
        order.builder.setExitOperator(1, to: 1)
        expectError(order.builder.serializeUnchecked(exitMACs: [290, 288]), mentions: ["exit 1", "increasing order"]) {
            if case .badExit(exit: 1, _) = $0 { return true } else { return false }
        }
        // Two exits after the same operator: exit operators must strictly increase.
        var same = Tiny()
        same.builder.addExit(logits: same.logits, gate: same.gate)
        expectError(same.builder.serializeUnchecked(exitMACs: [290, 290]), mentions: ["exit 1", "operator 2"]) {
            if case .badExit(exit: 1, _) = $0 { return true } else { return false }
        }
        // The final exit must follow the last operator.
        var early = Tiny()
        early.builder.setExitOperator(0, to: 2)
        _ = early.builder.add(.relu, [early.logits], shape: [1, 2])
        expectError(early.builder.serializeUnchecked(exitMACs: [290]), mentions: ["exit 0", "never run"]) {
            if case .badExit(exit: 0, _) = $0 { return true } else { return false }
        }
        // Logits of the wrong shape: [1,1] (one class), [2,1], [1,2,1,1].
        for shape in [[1, 1], [2, 1], [1, 2, 1, 1]] {
            var b = ModelBuilder()
            let x = b.addInput(shape: [1, 2])
            // One class needs a producer with one element; the others reshape the two inputs.
            let logits = shape == [1, 1] ? b.add(.fullyConnected, [x, b.addConstant([1, 1], shape: [1, 2])], shape: shape)
                                         : b.add(.reshape, [x], shape: shape)
            let gate = b.add(.fullyConnected, [x, b.addConstant([1, 1], shape: [1, 2])], shape: [1, 1])
            b.addExit(logits: logits, gate: gate)
            expectError(b.serializeUnchecked(exitMACs: [2]), mentions: ["exit 0", "logits tensor \(logits)"]) {
                if case .badExit(exit: 0, _) = $0 { return true } else { return false }
            }
        }
        // A gate with two elements; a logits tensor produced after the exit; the model input as logits.
        var wrongGate = ModelBuilder()
        let x = wrongGate.addInput(shape: [1, 2])
        let l = wrongGate.add(.relu, [x], shape: [1, 2])
        wrongGate.addExit(logits: l, gate: l)
        expectError(wrongGate.serializeUnchecked(), mentions: ["exit 0", "gate tensor \(l)"]) {
            if case .badExit(exit: 0, _) = $0 { return true } else { return false }
        }
        var later = Tiny(addExit: false)
        later.builder.addExit(logits: later.logits, gate: later.gate)
        later.builder.setExitOperator(0, to: 0) // logits come from operator 1
        let more = later.builder.add(.relu, [later.logits], shape: [1, 2])
        later.builder.addExit(logits: more, gate: later.gate)
        expectError(later.builder.serializeUnchecked(exitMACs: [288, 290]), mentions: ["exit 0", "not produced by operators 0...0"]) {
            if case .badExit(exit: 0, _) = $0 { return true } else { return false }
        }
        var input = ModelBuilder()
        let xi = input.addInput(shape: [1, 2])
        input.addExit(logits: xi, gate: input.add(.fullyConnected, [xi, input.addConstant([1, 1], shape: [1, 2])], shape: [1, 1]))
        expectError(input.serializeUnchecked(exitMACs: [2]), mentions: ["exit 0", "logits tensor \(xi)"]) {
            if case .badExit(exit: 0, _) = $0 { return true } else { return false }
        }
    }

    func testExitMACsThatDoNotMatchAreRejected() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        for exit in 0..<3 {
            var bytes = valid
            let record = Self.exitRecord(valid, exit)
            let recorded = UInt64(readU32(valid, record + 16)) | UInt64(readU32(valid, record + 20)) << 32
            XCTAssertEqual(recorded, [26_800, 250_384, 250_560][exit])
            writeU64(&bytes, record + 16, recorded + 1)
            fixCRC(&bytes)
            expectError(bytes, mentions: ["exit \(exit)", "MACs", "\(recorded + 1)", "\(recorded)"]) {
                if case .badExit(exit: exit, _) = $0 { return true } else { return false }
            }
        }
        // A high-word change (2^32 more) must be caught too.
        var high = valid
        high[Self.exitRecord(valid, 0) + 20] ^= 1
        fixCRC(&high)
        expectError(high, mentions: ["exit 0", "MACs"]) { if case .badExit(exit: 0, _) = $0 { return true } else { return false } }
    }

    func testNonFiniteThresholdsAreRejected() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        for exit in 0..<3 {
            for value in [Float.nan, .infinity, -.infinity] {
                var bytes = valid
                writeU32(&bytes, Self.exitRecord(valid, exit) + 24, value.bitPattern)
                fixCRC(&bytes)
                expectError(bytes, mentions: ["exit \(exit)", "threshold is not a finite number"]) {
                    $0 == .badExit(exit: exit, reason: "threshold is not a finite number")
                }
            }
        }
        // Through the builder as well (with the correct MACs, so the threshold check is reached).
        var builder = SyntheticModels.attentionNetwork()
        builder.thresholds = [0.5, .nan]
        expectError(builder.serializeUnchecked(exitMACs: [26_800, 250_384, 250_560]), mentions: ["exit 1"]) {
            $0 == .badExit(exit: 1, reason: "threshold is not a finite number")
        }
    }

    func testExitPolicyHeaderCodes() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        let table = readU32(valid, Self.exitTableField)
        var signal = valid
        signal[table] = 4
        fixCRC(&signal)
        expectError(signal, mentions: ["exit signal code 4"]) { if case .badPolicy = $0 { return true } else { return false } }
        var flags = valid
        flags[table + 1] = 2
        fixCRC(&flags)
        expectError(flags, mentions: ["flag bits 2"]) { if case .badPolicy = $0 { return true } else { return false } }
    }

    func testHeaderFields() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        var magic = valid
        magic[3] = 0x32 // "EEM2"
        XCTAssertEqual(loadError(magic), .badMagic)
        XCTAssertTrue(ModelError.badMagic.description.contains("EEM1"))
        var version = valid
        version[4] = 2
        XCTAssertEqual(loadError(version), .unsupportedVersion(major: 2, minor: 0))
        XCTAssertTrue(loadError(version)!.description.contains("2.0"))
        var minor = valid
        minor[6] = 3
        XCTAssertEqual(try Model(bytes: minor).versionMinor, 3, "a newer minor version is readable")
        var size = valid
        writeU32(&size, 8, UInt32(valid.count + 1))
        XCTAssertEqual(loadError(size), .sizeMismatch(recorded: valid.count + 1, actual: valid.count))
        XCTAssertEqual(loadError(valid + [0]), .sizeMismatch(recorded: valid.count, actual: valid.count + 1))
        var crc = valid
        crc[12] ^= 1
        let error = loadError(crc)
        XCTAssertEqual(error, .checksumMismatch(recorded: UInt32(readU32(crc, 12)), computed: UInt32(readU32(valid, 12))))
        XCTAssertTrue(error!.description.contains("corrupted"))
        // Counts: zero tensors, zero exits, too many exits.
        for (field, value, what) in [(16, 0, "tensor count"), (20, 0, "operator count"), (24, 0, "exit count"), (24, 65, "exit count")] {
            var bytes = valid
            writeU32(&bytes, field, UInt32(value))
            fixCRC(&bytes)
            expectError(bytes, mentions: [what]) { if case .limitExceeded = $0 { return true } else { return false } }
        }
        // Sections outside the file or misaligned.
        for (field, value, what) in [(32, valid.count, "tensor table"), (36, 2, "operator table"), (44, 1 << 30, "exit table"),
                                     (56, readU32(valid, 56) + 4, "constant data"), (52, 1 << 20, "metadata")] {
            var bytes = valid
            writeU32(&bytes, field, UInt32(value))
            fixCRC(&bytes)
            expectError(bytes, mentions: [what]) { if case .badSection = $0 { return true } else { return false } }
        }
        // The operator table size must be filled exactly by the records (30 of them here); a
        // larger size runs into the exit table that follows it, which is reported as an overlap.
        let operatorTableSize = readU32(valid, 40)
        var longer = valid
        writeU32(&longer, 40, UInt32(operatorTableSize + 4))
        fixCRC(&longer)
        expectError(longer, mentions: ["operator table", "overlaps the exit table"]) {
            if case .overlappingSections = $0 { return true } else { return false }
        }
        var shorter = valid
        writeU32(&shorter, 40, UInt32(operatorTableSize - 4))
        fixCRC(&shorter)
        expectError(shorter, mentions: ["truncated", "operator output"]) {
            if case .truncated(what: "operator output", _, needed: 4, available: 0) = $0 { return true } else { return false }
        }
        // The input tensor index out of range, and a constant as input.
        var input = valid
        writeU32(&input, 28, 9999)
        fixCRC(&input)
        expectError(input, mentions: ["tensor 9999", "out of range"]) { if case .badTensor(tensor: 9999, _) = $0 { return true } else { return false } }
        var constant = valid
        writeU32(&constant, 28, 1) // tensor 1 is the stem convolution's weight
        fixCRC(&constant)
        expectError(constant, mentions: ["tensor 1", "constant"]) { if case .badTensor(tensor: 1, _) = $0 { return true } else { return false } }
    }

    func testMetadataErrors() throws {
        var builder = SyntheticModels.attentionNetwork()
        builder.metadata.mean = [0.5, 0.5] // two values for one input channel
        builder.metadata.std = [0.25, 0.25]
        expectError(builder.serializeUnchecked(exitMACs: [26_800, 250_384, 250_560]), mentions: ["metadata", "2 normalization values"]) {
            if case .badMetadata = $0 { return true } else { return false }
        }
        var std = SyntheticModels.attentionNetwork()
        std.metadata.std = [0]
        expectError(std.serializeUnchecked(exitMACs: [26_800, 250_384, 250_560]), mentions: ["standard deviation"]) {
            if case .badMetadata = $0 { return true } else { return false }
        }
        var names = SyntheticModels.attentionNetwork()
        names.metadata.classNames = ["a", "b"]
        expectError(names.serializeUnchecked(exitMACs: [26_800, 250_384, 250_560]), mentions: ["2 class names for 10 classes"]) {
            if case .badMetadata = $0 { return true } else { return false }
        }
    }

    func testMisalignedAndEmptyBuffers() throws {
        let valid = try SyntheticModels.attentionNetwork().serialize()
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: valid.count + 64, alignment: 64)
        defer { storage.deallocate() }
        for shift in [1, 2, 4, 8, 15] {
            let slice = UnsafeMutableRawBufferPointer(rebasing: storage[shift..<(shift + valid.count)])
            slice.copyBytes(from: valid)
            let address = UInt(bitPattern: slice.baseAddress!)
            do {
                _ = try Model(borrowing: UnsafeRawBufferPointer(slice))
                XCTFail("a buffer at offset \(shift) loaded")
            } catch {
                XCTAssertEqual(error, .misalignedBuffer(address: address, required: 16))
                XCTAssertTrue(error.description.contains("\(address)"))
            }
        }
        let aligned = UnsafeMutableRawBufferPointer(rebasing: storage[16..<(16 + valid.count)])
        aligned.copyBytes(from: valid)
        XCTAssertNoThrow(try Model(borrowing: UnsafeRawBufferPointer(aligned)))
        // Zero-length buffers.
        XCTAssertEqual(loadError([]), .truncated(what: "magic", offset: 0, needed: 4, available: 0))
        do {
            _ = try Model(borrowing: UnsafeRawBufferPointer(start: nil, count: 0))
            XCTFail("an empty buffer loaded")
        } catch {
            XCTAssertEqual(error, .truncated(what: "header", offset: 0, needed: 64, available: 0))
        }
        do {
            _ = try Model(borrowing: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<0]))
            XCTFail("an empty buffer loaded")
        } catch {
            guard case .truncated = error else { return XCTFail("\(error)") }
        }
    }
}
