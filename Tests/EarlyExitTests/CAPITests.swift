// The C API (EarlyExitC, include/earlyexit.h) called from Swift: same results as the Swift
// interpreter, every misuse a status code, messages as the core words them, no allocation in run.
import CAllocationCounter
import EarlyExit
import EarlyExitC
import EarlyExitTools
import XCTest

final class CAPITests: XCTestCase {
    /// The synthetic model's bytes in a 64-byte aligned buffer (released by the test's teardown).
    private var buffers: [UnsafeMutableRawPointer] = []

    override func tearDown() {
        for buffer in buffers { buffer.deallocate() }
        buffers = []
        super.tearDown()
    }

    private func aligned(_ bytes: [UInt8], offset: Int = 0) -> UnsafeMutableRawPointer {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + 128, alignment: 64)
        buffers.append(buffer)
        bytes.withUnsafeBytes { (buffer + offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return buffer + offset
    }

    private func modelBytes() throws -> [UInt8] { try SyntheticModels.attentionNetwork().serialize() }

    private func open(_ bytes: [UInt8], offset: Int = 0, count: Int? = nil) -> (Int32, OpaquePointer?, String) {
        let data = aligned(bytes, offset: offset)
        var handle: OpaquePointer?
        var message = [UInt8](repeating: 0xFF, count: 512)
        let status = message.withUnsafeMutableBytes { ee_model_open(data, UInt(count ?? bytes.count), &handle, $0.baseAddress, 512) }
        let text = String(decoding: message.prefix { $0 != 0 }, as: UTF8.self)
        return (status, handle, text)
    }

    private func status(_ status: EEStatus) -> Int32 { status.rawValue }

    func testResultLayoutMatchesTheHeader() {
        XCTAssertEqual(MemoryLayout<EEResult>.size, 32)
        XCTAssertEqual(MemoryLayout<EEResult>.offset(of: \.exitIndex), 4)
        XCTAssertEqual(MemoryLayout<EEResult>.offset(of: \.exitedEarly), 12)
        XCTAssertEqual(MemoryLayout<EEResult>.offset(of: \.macs), 16)
        XCTAssertEqual(MemoryLayout<EEResult>.offset(of: \.macsFull), 24)
    }

    func testStatusStringsAreDistinctAndTerminated() {
        var seen = Set<String>()
        for code in EEStatus.allCases {
            let text = String(cString: ee_status_string(code.rawValue).assumingMemoryBound(to: CChar.self))
            XCTAssertFalse(text.isEmpty)
            XCTAssertTrue(seen.insert(text).inserted, "\(code) repeats '\(text)'")
        }
        XCTAssertEqual(String(cString: ee_status_string(0).assumingMemoryBound(to: CChar.self)), "ok")
        for code: Int32 in [-1, Int32(EEStatus.allCases.count), 1000] {
            XCTAssertEqual(String(cString: ee_status_string(code).assumingMemoryBound(to: CChar.self)), "unknown status code")
        }
    }

    func testRunMatchesTheSwiftInterpreter() throws {
        let bytes = try modelBytes()
        let reference = try Model(bytes: bytes)
        let (openStatus, handle, message) = open(bytes)
        XCTAssertEqual(openStatus, status(.ok))
        XCTAssertEqual(message, "")
        let model = try XCTUnwrap(handle)
        defer { XCTAssertEqual(ee_model_close(model), status(.ok)) }

        var arenaSize: UInt = 0, inputCount: UInt = 0, classes: UInt = 0, early: UInt = 0, fullMACs: UInt64 = 0
        XCTAssertEqual(ee_model_arena_size(model, &arenaSize), status(.ok))
        XCTAssertEqual(ee_model_input_size(model, &inputCount), status(.ok))
        XCTAssertEqual(ee_model_class_count(model, &classes), status(.ok))
        XCTAssertEqual(ee_model_early_exit_count(model, &early), status(.ok))
        XCTAssertEqual(ee_model_full_macs(model, &fullMACs), status(.ok))
        XCTAssertEqual(Int(arenaSize), reference.plan.arenaBytes)
        XCTAssertEqual(Int(inputCount), reference.input.elementCount)
        XCTAssertEqual(Int(classes), reference.classCount)
        XCTAssertEqual(Int(early), reference.earlyExitCount)
        XCTAssertEqual(Int(fullMACs), reference.totalMACs)
        for exit in 0..<reference.exits.count {
            var macs: UInt64 = 0
            XCTAssertEqual(ee_model_exit_macs(model, UInt(exit), &macs), status(.ok))
            XCTAssertEqual(Int(macs), reference.exits[exit].cumulativeMACs)
        }
        var dims = [UInt](repeating: 0, count: 4), rank: UInt = 0
        XCTAssertEqual(ee_model_input_shape(model, &dims, &rank), status(.ok))
        XCTAssertEqual(dims.prefix(Int(rank)).map { Int($0) }, reference.input.shape.dims)
        var mean = [Float](repeating: 0, count: 4), std = [Float](repeating: 0, count: 4), normCount: UInt = 0
        XCTAssertEqual(ee_model_normalization(model, &mean, &std, 4, &normCount), status(.ok))
        XCTAssertEqual(Array(mean.prefix(Int(normCount))), reference.metadata.mean)
        XCTAssertEqual(Array(std.prefix(Int(normCount))), reference.metadata.std)
        var name = [UInt8](repeating: 0, count: 64)
        XCTAssertEqual(name.withUnsafeMutableBytes { ee_model_class_name(model, 3, $0.baseAddress, 64) }, status(.ok))
        XCTAssertEqual(String(decoding: name.prefix { $0 != 0 }, as: UTF8.self), reference.metadata.classNames[3])

        let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize), alignment: 64)
        defer { arena.deallocate() }
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))
        let swift = Interpreter(model: reference)
        defer { XCTAssertEqual(ee_interpreter_close(interpreter), status(.ok)) }

        var rng = SeededGenerator(seed: 3)
        let policies: [(ExitSignal, Float, Bool)] = [(.gate, 0.5, false), (.gate, 0.0, true), (.maxProbability, 0.15, false),
                                                     (.entropy, 2.2, false), (.none, 0, false)]
        for (signal, threshold, combine) in policies {
            let thresholds = [Float](repeating: threshold, count: Int(early))
            XCTAssertEqual(ee_interpreter_set_policy(interpreter, Int32(signal.rawValue), thresholds, early, combine ? 1 : 0), status(.ok))
            try swift.setPolicy(ExitPolicy(signal: signal, thresholds: thresholds, combineSeenExits: combine))
            for _ in 0..<4 {
                let input = rng.uniforms(Int(inputCount), scale: 2)
                var result = EEResult()
                XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount, &result), status(.ok))
                let expected = try swift.run(input)
                XCTAssertEqual(Int(result.classIndex), expected.classIndex)
                XCTAssertEqual(Int(result.exitIndex), expected.exitIndex)
                XCTAssertEqual(Int(result.exitsEvaluated), expected.exitsEvaluated)
                XCTAssertEqual(result.exitedEarly != 0, expected.exitedEarly)
                XCTAssertEqual(Int(result.macs), expected.macs)
                XCTAssertEqual(Int(result.macsFull), expected.macsFull)
                var scores = [Float](repeating: .nan, count: Int(classes))
                XCTAssertEqual(ee_interpreter_scores(interpreter, &scores, classes), status(.ok))
                XCTAssertEqual(scores, Array(swift.scores))
                var gates = [Float](repeating: .nan, count: 8), gateCount: UInt = 0
                XCTAssertEqual(ee_interpreter_gates(interpreter, &gates, 8, &gateCount), status(.ok))
                XCTAssertEqual(Int(gateCount), expected.exitsEvaluated)
                XCTAssertEqual(Array(gates.prefix(Int(gateCount))), (0..<expected.exitsEvaluated).map { swift.gate(exit: $0) })
                var logits = [Float](repeating: .nan, count: Int(classes))
                XCTAssertEqual(ee_interpreter_logits(interpreter, UInt(expected.exitIndex), &logits, classes), status(.ok))
                XCTAssertEqual(logits, Array(swift.logits(exit: expected.exitIndex)))
                var last = EEResult()
                XCTAssertEqual(ee_interpreter_result(interpreter, &last), status(.ok))
                XCTAssertEqual(last, result)
            }
        }
    }

    func testOpenErrorsCarryTheCoreMessage() throws {
        let bytes = try modelBytes()
        func expect(_ mutated: [UInt8], _ expected: EEStatus, offset: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
            let (code, handle, message) = open(mutated, offset: offset)
            XCTAssertEqual(code, expected.rawValue, "message: \(message)", file: file, line: line)
            XCTAssertNil(handle, file: file, line: line)
            if offset == 0 {
                do {
                    _ = try Model(bytes: mutated)
                    XCTFail("the core accepted a model the C API refused", file: file, line: line)
                } catch {
                    XCTAssertEqual(message, error.description, file: file, line: line)
                }
            } else {
                XCTAssertTrue(message.contains("aligned"), message, file: file, line: line)
            }
        }
        expect([], .truncatedModel)
        expect(Array(bytes.prefix(10)), .truncatedModel)
        expect(Array(bytes.dropLast()), .sizeMismatch)
        expect(bytes, .misalignedModel, offset: 4)
        var corrupted = bytes
        corrupted[corrupted.count / 2] ^= 0xFF
        expect(corrupted, .corruptedModel)
        var magic = bytes
        magic[0] = 0
        expect(magic, .notAModel)
        var version = bytes
        version[4] = 7
        expect(version, .unsupportedVersion)
        var exits = bytes
        exits.replaceSubrange(24..<28, with: [0, 0, 0, 0])
        let crc = CRC32.checksum(Array(exits[16...]))
        exits.replaceSubrange(12..<16, with: [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
        expect(exits, .invalidModel)

        // NULL arguments, and a message cut to a small buffer.
        var handle: OpaquePointer?
        XCTAssertEqual(ee_model_open(nil, 10, &handle, nil, 0), status(.nullArgument))
        let data = aligned(bytes)
        XCTAssertEqual(ee_model_open(data, UInt(bytes.count), nil, nil, 0), status(.nullArgument))
        var small = [UInt8](repeating: 0xFF, count: 8)
        XCTAssertEqual(small.withUnsafeMutableBytes { ee_model_open(data, UInt(bytes.count - 1), &handle, $0.baseAddress, 8) },
                       status(.sizeMismatch))
        XCTAssertEqual(small[7], 0)
        XCTAssertFalse(small.prefix(7).contains(0))
    }

    func testMisuseReturnsStatusCodes() throws {
        let bytes = try modelBytes()
        let (_, handle, _) = open(bytes)
        let model = try XCTUnwrap(handle)
        var arenaSize: UInt = 0, inputCount: UInt = 0, early: UInt = 0
        XCTAssertEqual(ee_model_arena_size(model, &arenaSize), status(.ok))
        XCTAssertEqual(ee_model_input_size(model, &inputCount), status(.ok))
        XCTAssertEqual(ee_model_early_exit_count(model, &early), status(.ok))
        let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize) + 64, alignment: 64)
        defer { arena.deallocate() }

        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize - 1, &interpreter), status(.arenaTooSmall))
        XCTAssertEqual(ee_interpreter_create(model, arena + 8, arenaSize, &interpreter), status(.misalignedArena))
        XCTAssertEqual(ee_interpreter_create(model, nil, arenaSize, &interpreter), status(.nullArgument))
        XCTAssertEqual(ee_interpreter_create(nil, arena, arenaSize, &interpreter), status(.nullArgument))
        XCTAssertNil(interpreter)
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))

        let input = [Float](repeating: 0.1, count: Int(inputCount) + 1)
        var result = EEResult()
        XCTAssertEqual(ee_interpreter_result(interpreter, &result), status(.noResult))
        XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount - 1, &result), status(.badInput))
        XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount + 1, &result), status(.badInput))
        XCTAssertEqual(ee_interpreter_run(interpreter, nil, inputCount, &result), status(.nullArgument))
        XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount, nil), status(.ok))

        let thresholds = [Float](repeating: 0.5, count: Int(early))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 4, thresholds, early, 0), status(.badSignal))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, -1, thresholds, early, 0), status(.badSignal))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, thresholds, early - 1, 0), status(.badThresholds))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, [.nan, 0.5], early, 0), status(.badThresholds))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, [0.5, -.infinity], early, 0), status(.badThresholds))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, nil, early, 0), status(.nullArgument))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, thresholds, early, 2), status(.badFlags))
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 0, nil, 0, 0), status(.ok))

        // Handles of the wrong kind, and closed handles.
        XCTAssertEqual(ee_interpreter_run(model, input, inputCount, &result), status(.invalidHandle))
        XCTAssertEqual(ee_model_arena_size(interpreter, &arenaSize), status(.invalidHandle))
        XCTAssertEqual(ee_interpreter_close(nil), status(.nullArgument))
        XCTAssertEqual(ee_model_close(nil), status(.nullArgument))
        XCTAssertEqual(ee_model_close(model), status(.ok)) // the interpreter keeps the model's tables alive
        XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount, &result), status(.ok))
        XCTAssertEqual(ee_interpreter_close(interpreter), status(.ok))
    }

    func testRunAndSetPolicyDoNotAllocate() throws {
        try AllocationCounting.requireCounting()
        let bytes = try modelBytes()
        let (_, handle, _) = open(bytes)
        let model = try XCTUnwrap(handle)
        defer { _ = ee_model_close(model) }
        var arenaSize: UInt = 0, inputCount: UInt = 0, early: UInt = 0
        _ = ee_model_arena_size(model, &arenaSize)
        _ = ee_model_input_size(model, &inputCount)
        _ = ee_model_early_exit_count(model, &early)
        let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize), alignment: 64)
        defer { arena.deallocate() }
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))
        defer { _ = ee_interpreter_close(interpreter) }
        let input = [Float](repeating: 0.25, count: Int(inputCount))
        let thresholds = [Float](repeating: 0.5, count: Int(early))
        var result = EEResult()
        var scores = [Float](repeating: 0, count: 64)
        var statuses = [Int32](repeating: -1, count: 32)
        var allocations: UInt64 = 0
        input.withUnsafeBufferPointer { input in
            thresholds.withUnsafeBufferPointer { thresholds in
                scores.withUnsafeMutableBufferPointer { scores in
                    statuses.withUnsafeMutableBufferPointer { statuses in
                        _ = ee_interpreter_run(interpreter, input.baseAddress, inputCount, &result) // warm-up
                        let before = ee_allocation_count()
                        for round in 0..<8 {
                            #if DEBUG
                            // Unoptimized, the core's ExitPolicy.validate allocates (unspecialized generic
                            // iteration); set_policy is allocation-free when optimized (Examples/c/test_capi).
                            statuses[4 * round] = 0
                            #else
                            statuses[4 * round] = ee_interpreter_set_policy(interpreter, Int32(round % 4), thresholds.baseAddress, early,
                                                                            UInt32(round % 2))
                            #endif
                            statuses[4 * round + 1] = ee_interpreter_run(interpreter, input.baseAddress, inputCount, &result)
                            statuses[4 * round + 2] = ee_interpreter_scores(interpreter, scores.baseAddress, 64)
                            statuses[4 * round + 3] = ee_interpreter_run(interpreter, input.baseAddress, inputCount - 1, &result)
                        }
                        allocations = ee_allocation_count() - before
                    }
                }
            }
        }
        XCTAssertEqual(allocations, 0, "set_policy (optimized builds), run or scores allocated")
        for round in 0..<8 {
            XCTAssertEqual(Array(statuses[(4 * round)..<(4 * round + 4)]), [0, 0, 0, status(.badInput)])
        }
    }
}
