// The C API (EarlyExitC, include/earlyexit.h) called from Swift: same results as the Swift
// interpreter, every misuse a status code, messages as the core words them, no allocation in run.
import CAllocationCounter
import EarlyExit
import EarlyExitC
import EarlyExitTools
import Foundation
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

    /// A model storing per-exit rules (format 1.1): ee_model_exit_rule reports them, a new
    /// interpreter decides with them, and ee_interpreter_use_model_policy returns to them after a
    /// uniform ee_interpreter_set_policy.
    func testPerExitRulesThroughTheCAPI() throws {
        let stored = ExitPolicy(signal: .gate, thresholds: [0.16, 0.0], exitSignals: [.maxProbability, .gate],
                                secondSignals: [.none, .maxProbability], secondThresholds: [0, 0.14])
        let bytes = try ModelPatcher.settingPolicy(stored, in: try modelBytes())
        let reference = try Model(bytes: bytes)
        let (openStatus, handle, _) = open(bytes)
        XCTAssertEqual(openStatus, status(.ok))
        let model = try XCTUnwrap(handle)
        defer { XCTAssertEqual(ee_model_close(model), status(.ok)) }
        var signal: Int32 = -1, second: Int32 = -1, threshold: Float = .nan, secondThreshold: Float = .nan
        XCTAssertEqual(ee_model_exit_rule(model, 0, &signal, &threshold, &second, &secondThreshold), status(.ok))
        XCTAssertEqual([signal, second], [2, 0])
        XCTAssertEqual([threshold, secondThreshold], [0.16, 0])
        XCTAssertEqual(ee_model_exit_rule(model, 1, &signal, &threshold, &second, &secondThreshold), status(.ok))
        XCTAssertEqual([signal, second], [1, 2])
        XCTAssertEqual([threshold, secondThreshold], [0.0, 0.14])
        XCTAssertEqual(ee_model_exit_rule(model, 2, &signal, nil, nil, nil), status(.outOfRange))
        XCTAssertEqual(ee_model_exit_rule(nil, 0, nil, nil, nil, nil), status(.nullArgument))

        var arenaSize: UInt = 0, inputCount: UInt = 0
        XCTAssertEqual(ee_model_arena_size(model, &arenaSize), status(.ok))
        XCTAssertEqual(ee_model_input_size(model, &inputCount), status(.ok))
        let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize), alignment: 64)
        defer { arena.deallocate() }
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))
        defer { XCTAssertEqual(ee_interpreter_close(interpreter), status(.ok)) }
        let swift = Interpreter(model: reference) // starts with the stored per-exit policy
        XCTAssertEqual(swift.policy, stored)
        var rng = SeededGenerator(seed: 9)
        for round in 0..<12 {
            if round == 6 {
                XCTAssertEqual(ee_interpreter_set_policy(interpreter, 1, [Float](repeating: 0.5, count: 2), 2, 0), status(.ok))
                XCTAssertEqual(ee_interpreter_use_model_policy(interpreter), status(.ok))
            }
            let input = rng.uniforms(Int(inputCount), scale: 2)
            var result = EEResult()
            XCTAssertEqual(ee_interpreter_run(interpreter, input, inputCount, &result), status(.ok))
            XCTAssertEqual(Int(result.exitIndex), try swift.run(input).exitIndex)
        }
        XCTAssertEqual(ee_interpreter_use_model_policy(nil), status(.nullArgument))
    }

    func testKernelSetAndPreparedBytesThroughTheCAPI() throws {
        let bytes = try modelBytes()
        defer { unsetenv("EARLYEXIT_KERNELS") }
        // Each set this CPU runs, forced by the environment as a C application would.
        for set in KernelSet.supported + [KernelSet.named(KernelSet.detected.name + "-direct")!] {
            setenv("EARLYEXIT_KERNELS", set.name, 1)
            let (code, handle, message) = open(bytes)
            XCTAssertEqual(code, status(.ok), message)
            guard let handle else { continue }
            var name: UnsafeRawPointer?
            XCTAssertEqual(ee_model_kernels(handle, &name), status(.ok))
            XCTAssertEqual(name.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }, set.name)
            var prepared: UInt = 0
            XCTAssertEqual(ee_model_prepared_bytes(handle, &prepared), status(.ok))
            let swiftModel = try Model(bytes: bytes, kernels: set)
            XCTAssertEqual(Int(prepared), swiftModel.preparedBytes, set.name)
            XCTAssertGreaterThan(prepared, 0)
            XCTAssertEqual(ee_model_close(handle), status(.ok))
        }
        // Unset or "auto": the detected set.
        setenv("EARLYEXIT_KERNELS", "auto", 1)
        var (code, handle, message) = open(bytes)
        XCTAssertEqual(code, status(.ok), message)
        var name: UnsafeRawPointer?
        XCTAssertEqual(ee_model_kernels(handle, &name), status(.ok))
        XCTAssertEqual(name.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }, KernelSet.detected.name)
        XCTAssertEqual(ee_model_close(handle), status(.ok))
        // An unknown name and a set this CPU cannot run: refused, the message names the choices.
        #if arch(x86_64)
        let foreign = "neon"
        #else
        let foreign = "avx2"
        #endif
        for bad in ["bogus", foreign] {
            setenv("EARLYEXIT_KERNELS", bad, 1)
            (code, handle, message) = open(bytes)
            XCTAssertEqual(code, status(.unsupported), "\(bad): \(message)")
            XCTAssertNil(handle)
            XCTAssertTrue(message.contains(bad) && message.contains(KernelSet.detected.name) && message.contains("EARLYEXIT_KERNELS"), message)
        }
        unsetenv("EARLYEXIT_KERNELS")
        XCTAssertEqual(ee_model_kernels(nil, &name), status(.nullArgument))
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

    // MARK: The first steps: versions, files, arenas, pixels

    /// The header's EE_VERSION_* and the core's version agree, and the C calls report them.
    func testVersionsAgreeWithTheHeaderAndTheCore() throws {
        let header = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../include/earlyexit.h").standardized, encoding: .utf8)
        func macro(_ name: String) -> Int? {
            header.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") }
                .flatMap { Int($0.split(separator: " ").last!) }
        }
        XCTAssertEqual(macro("EE_VERSION_MAJOR"), EarlyExitVersion.major)
        XCTAssertEqual(macro("EE_VERSION_MINOR"), EarlyExitVersion.minor)
        XCTAssertEqual(macro("EE_VERSION_PATCH"), EarlyExitVersion.patch)
        let text = String(cString: ee_version().assumingMemoryBound(to: CChar.self))
        XCTAssertEqual(text, "\(EarlyExitVersion.major).\(EarlyExitVersion.minor).\(EarlyExitVersion.patch)")
        XCTAssertEqual(text, EarlyExitVersion.string)
        XCTAssertEqual(ee_version_number(), UInt32(EarlyExitVersion.major << 16 | EarlyExitVersion.minor << 8 | EarlyExitVersion.patch))
        var major: UInt32 = 9, minor: UInt32 = 9
        XCTAssertEqual(ee_format_version(nil, &minor), status(.nullArgument))
        XCTAssertEqual(ee_format_version(&major, nil), status(.nullArgument))
        XCTAssertEqual(ee_format_version(&major, &minor), status(.ok))
        XCTAssertEqual(Int(major), EEMFormat.versionMajor)
        XCTAssertEqual(Int(minor), EEMFormat.versionMinor)
    }

    /// How many lines of /proc/self/maps end with `path`.
    private func mappings(of path: String) throws -> Int {
        // Read to the end: /proc files report size 0, and a read sized by the file would stop early.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return maps.split(separator: "\n").filter { $0.hasSuffix(path) }.count
    }

    func testOpenFileMapsTheModelUntilItsLastHandleCloses() throws {
        let bytes = try modelBytes()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.eem").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        func openFile(_ path: String?) -> (Int32, OpaquePointer?, String) {
            var handle: OpaquePointer? = OpaquePointer(bitPattern: 0x40)
            var message = [UInt8](repeating: 0xFF, count: 512)
            let code = message.withUnsafeMutableBytes { buffer in
                if let path { return ee_model_open_file(path, &handle, buffer.baseAddress, 512) }
                return ee_model_open_file(nil, &handle, buffer.baseAddress, 512)
            }
            return (code, handle, String(decoding: message.prefix { $0 != 0 }, as: UTF8.self))
        }
        // Misuse and files that are not models: a status, a message naming the file, nothing mapped.
        var (code, handle, message) = openFile(nil)
        XCTAssertEqual(code, status(.nullArgument))
        XCTAssertNil(handle)
        XCTAssertEqual(ee_model_open_file(path, nil, nil, 0), status(.nullArgument))
        (code, handle, message) = openFile(directory.appendingPathComponent("missing.eem").path)
        XCTAssertEqual(code, status(.fileError))
        XCTAssertNil(handle)
        XCTAssertTrue(message.contains("missing.eem") && message.contains("No such file"), message)
        (code, _, message) = openFile(directory.path)
        XCTAssertEqual(code, status(.fileError))
        XCTAssertTrue(message.contains("not a regular file"), message)
        let broken = directory.appendingPathComponent("broken.eem").path
        var corrupted = bytes
        corrupted[bytes.count / 2] ^= 0xFF
        try Data(corrupted).write(to: URL(fileURLWithPath: broken))
        (code, handle, message) = openFile(broken)
        XCTAssertEqual(code, status(.corruptedModel))
        XCTAssertNil(handle)
        XCTAssertTrue(message.contains(broken) && message.contains("checksum"), message)
        XCTAssertEqual(try mappings(of: broken), 0, "a refused file is unmapped")
        try Data().write(to: URL(fileURLWithPath: broken))
        XCTAssertEqual(openFile(broken).0, status(.truncatedModel))

        // The model file: the same model as from bytes, mapped until the model and its interpreter are closed.
        (code, handle, message) = openFile(path)
        XCTAssertEqual(code, status(.ok), message)
        XCTAssertEqual(message, "")
        let model = try XCTUnwrap(handle)
        XCTAssertEqual(try mappings(of: path), 1)
        let reference = try Model(bytes: bytes)
        var arenaSize: UInt = 0
        XCTAssertEqual(ee_model_arena_size(model, &arenaSize), status(.ok))
        XCTAssertEqual(Int(arenaSize), reference.plan.arenaBytes)
        let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize), alignment: 64)
        defer { arena.deallocate() }
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))
        XCTAssertEqual(ee_model_close(model), status(.ok))
        XCTAssertEqual(try mappings(of: path), 1, "the interpreter still reads the weights")
        var rng = SeededGenerator(seed: 9)
        let input = rng.uniforms(reference.input.elementCount, scale: 1.5)
        var result = EEResult()
        XCTAssertEqual(ee_interpreter_set_policy(interpreter, 0, nil, 0, 0), status(.ok))
        XCTAssertEqual(ee_interpreter_run(interpreter, input, UInt(input.count), &result), status(.ok))
        let swift = Interpreter(model: reference)
        try swift.setPolicy(.fullNetwork(earlyExitCount: reference.earlyExitCount))
        let expected = try swift.run(input)
        XCTAssertEqual(Int(result.classIndex), expected.classIndex)
        XCTAssertEqual(Int(result.macs), expected.macs)
        var scores = [Float](repeating: .nan, count: reference.classCount)
        XCTAssertEqual(ee_interpreter_scores(interpreter, &scores, UInt(scores.count)), status(.ok))
        XCTAssertEqual(scores, Array(swift.scores))
        XCTAssertEqual(ee_interpreter_close(interpreter), status(.ok))
        XCTAssertEqual(try mappings(of: path), 0, "unmapped with the last handle")
    }

    func testArenaHelpers() throws {
        let (_, handle, _) = open(try modelBytes())
        let model = try XCTUnwrap(handle)
        defer { _ = ee_model_close(model) }
        var arenaSize: UInt = 0
        XCTAssertEqual(ee_model_arena_size(model, &arenaSize), status(.ok))
        var arena: UnsafeMutableRawPointer?
        var size: UInt = 0
        XCTAssertEqual(ee_arena_alloc(nil, &arena, &size), status(.nullArgument))
        XCTAssertEqual(ee_arena_alloc(model, nil, &size), status(.nullArgument))
        XCTAssertEqual(ee_arena_alloc(model, &arena, nil), status(.nullArgument))
        XCTAssertEqual(ee_arena_free(nil), status(.nullArgument))
        XCTAssertEqual(ee_arena_alloc(model, &arena, &size), status(.ok))
        let allocated = try XCTUnwrap(arena)
        XCTAssertEqual(UInt(bitPattern: allocated) % 64, 0)
        XCTAssertEqual(size, arenaSize)
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, allocated, size, &interpreter), status(.ok))
        XCTAssertEqual(ee_interpreter_close(interpreter), status(.ok))
        XCTAssertEqual(ee_arena_free(allocated + 4), status(.misalignedArena))
        XCTAssertEqual(ee_arena_free(allocated), status(.ok))

        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 64)
        defer { buffer.deallocate() }
        var out: UnsafeMutableRawPointer?
        XCTAssertEqual(ee_arena_align(nil, 100, &out, &size), status(.nullArgument))
        XCTAssertEqual(ee_arena_align(buffer, 100, nil, &size), status(.nullArgument))
        XCTAssertEqual(ee_arena_align(buffer, 100, &out, nil), status(.nullArgument))
        XCTAssertEqual(ee_arena_align(buffer, UInt.max, &out, &size), status(.outOfRange))
        XCTAssertEqual(ee_arena_align(buffer + 1, 63, &out, &size), status(.arenaTooSmall))
        XCTAssertNil(out)
        for shift in [0, 1, 17, 63] {
            XCTAssertEqual(ee_arena_align(buffer + shift, UInt(448 - shift), &out, &size), status(.ok))
            let expected = shift == 0 ? buffer : buffer + 64
            XCTAssertEqual(out, expected)
            XCTAssertEqual(Int(size), 448 - (expected - buffer))
        }
    }

    /// A 3-channel model with per-channel normalization, to check the channel of every pixel.
    private func threeChannelModel(mean: [Float], std: [Float]) throws -> [UInt8] {
        var rng = SeededGenerator(seed: 21)
        var b = ModelBuilder()
        let x = b.addInput(shape: [1, 3, 6, 6])
        let w = b.addConstant(rng.uniforms(4 * 3 * 9, scale: 0.5), shape: [4, 3, 3, 3])
        let y = b.add(.conv2d, [x, w], shape: [1, 4, 6, 6], attributes: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1], activation: .relu)
        let pooled = b.add(.globalAvgPool, [y], shape: [1, 4])
        let logits = b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(20, scale: 0.5), shape: [5, 4])], shape: [1, 5])
        let gate = b.add(.tanh, [b.add(.fullyConnected, [pooled, b.addConstant(rng.uniforms(4, scale: 0.5), shape: [1, 4])], shape: [1, 1])], shape: [1, 1])
        b.addExit(logits: logits, gate: gate)
        b.metadata = ModelMetadata(mean: mean, std: std)
        return try b.serialize()
    }

    /// `ee_interpreter_run_pixels` equals a float run on pixels normalized here, independently
    /// ((p / 255 − mean[c]) / std[c], c the pixel's channel plane), and on the tools' IDX
    /// normalization, bit for bit: scores, gates and result; float32 and int8, one and three channels.
    func testRunPixelsNormalizesExactlyAsTheTools() throws {
        var models: [(String, [UInt8])] = [("synthetic, one channel", try modelBytes()),
                                           ("three channels", try threeChannelModel(mean: [0.1, 0.5, 0.9], std: [0.2, 0.3, 0.45])),
                                           ("three channels, one mean", try threeChannelModel(mean: [0.3], std: [0.7]))]
        let float = try Model(bytes: models[0].1)
        var rng = SeededGenerator(seed: 4)
        let calibration = (0..<8).map { _ in (0..<float.input.elementCount).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let (int8Bytes, _) = try Quantizer.quantize(model: float, calibration: calibration.map { ModelFiles.normalize($0[...], for: float) },
                                                    method: .minmax)
        models.append(("int8", int8Bytes))
        for (label, bytes) in models {
            let reference = try Model(bytes: bytes)
            let (_, handle, _) = open(bytes)
            let model = try XCTUnwrap(handle)
            defer { _ = ee_model_close(model) }
            let count = reference.input.elementCount
            let channels = reference.input.shape[1], plane = count / channels
            let arena = UnsafeMutableRawPointer.allocate(byteCount: reference.plan.arenaBytes, alignment: 64)
            defer { arena.deallocate() }
            var interpreter: OpaquePointer?
            XCTAssertEqual(ee_interpreter_create(model, arena, UInt(reference.plan.arenaBytes), &interpreter), status(.ok))
            defer { _ = ee_interpreter_close(interpreter) }
            let swift = Interpreter(model: reference)
            for trial in 0..<6 {
                let pixels: [UInt8] = (0..<count).map { _ in trial == 0 ? 0 : trial == 1 ? 255 : UInt8(truncatingIfNeeded: rng.next()) }
                let mean = reference.metadata.mean, std = reference.metadata.std
                let byHand: [Float] = pixels.enumerated().map { index, p in
                    let c = mean.count == 1 ? 0 : index / plane
                    return (Float(p) / 255 - mean[c]) / std[c]
                }
                let tools = ModelFiles.normalize(pixels[...], for: reference)
                XCTAssertEqual(tools.map(\.bitPattern), byHand.map(\.bitPattern), "\(label): the tools' normalization")
                for signal: Int32 in [0, 1] {
                    let thresholds = [Float](repeating: 0.1, count: reference.earlyExitCount)
                    XCTAssertEqual(ee_interpreter_set_policy(interpreter, signal, thresholds, UInt(thresholds.count), 0), status(.ok))
                    try swift.setPolicy(ExitPolicy(signal: ExitSignal(rawValue: UInt8(signal))!, thresholds: thresholds))
                    var result = EEResult()
                    XCTAssertEqual(ee_interpreter_run_pixels(interpreter, pixels, UInt(count), &result), status(.ok), label)
                    var scores = [Float](repeating: .nan, count: reference.classCount)
                    XCTAssertEqual(ee_interpreter_scores(interpreter, &scores, UInt(scores.count)), status(.ok))
                    var gates = [Float](repeating: .nan, count: 8), gateCount: UInt = 0
                    XCTAssertEqual(ee_interpreter_gates(interpreter, &gates, 8, &gateCount), status(.ok))
                    let expected = try swift.run(byHand)
                    XCTAssertEqual(Int(result.classIndex), expected.classIndex, label)
                    XCTAssertEqual(Int(result.exitIndex), expected.exitIndex, label)
                    XCTAssertEqual(Int(result.macs), expected.macs, label)
                    XCTAssertEqual(scores.map(\.bitPattern), Array(swift.scores).map(\.bitPattern), "\(label): scores")
                    XCTAssertEqual(Array(gates.prefix(Int(gateCount))).map(\.bitPattern),
                                   (0..<expected.exitsEvaluated).map { swift.gate(exit: $0).bitPattern }, "\(label): gates")
                    // The Swift entry point is the same code.
                    let direct = try Interpreter(model: reference).run(pixels: pixels)
                    XCTAssertEqual(direct.classIndex, try Interpreter(model: reference).run(byHand).classIndex)
                }
            }
            // Misuse: NULL, sizes, wrong and closed handles.
            let pixels = [UInt8](repeating: 7, count: count + 1)
            var result = EEResult()
            XCTAssertEqual(ee_interpreter_run_pixels(nil, pixels, UInt(count), &result), status(.nullArgument))
            XCTAssertEqual(ee_interpreter_run_pixels(interpreter, nil, UInt(count), &result), status(.nullArgument))
            for wrong in [0, count - 1, count + 1] {
                XCTAssertEqual(ee_interpreter_run_pixels(interpreter, pixels, UInt(wrong), &result), status(.badInput))
            }
            XCTAssertEqual(ee_interpreter_run_pixels(interpreter, pixels, UInt.max, &result), status(.badInput))
            XCTAssertEqual(ee_interpreter_run_pixels(model, pixels, UInt(count), &result), status(.invalidHandle))
        }
    }

    func testPixelsAreRefusedWithoutAStoredNormalization() throws {
        var builder = SyntheticModels.attentionNetwork()
        builder.metadata = ModelMetadata()
        let bytes = try builder.serialize()
        let reference = try Model(bytes: bytes)
        XCTAssertFalse(reference.normalizesPixels)
        let (_, handle, _) = open(bytes)
        let model = try XCTUnwrap(handle)
        defer { _ = ee_model_close(model) }
        let arena = UnsafeMutableRawPointer.allocate(byteCount: reference.plan.arenaBytes, alignment: 64)
        defer { arena.deallocate() }
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, UInt(reference.plan.arenaBytes), &interpreter), status(.ok))
        defer { _ = ee_interpreter_close(interpreter) }
        let pixels = [UInt8](repeating: 100, count: reference.input.elementCount)
        var result = EEResult()
        XCTAssertEqual(ee_interpreter_run_pixels(interpreter, pixels, UInt(pixels.count), &result), status(.noNormalization))
        XCTAssertEqual(ee_interpreter_result(interpreter, &result), status(.noResult))
        let text = String(cString: ee_status_string(status(.noNormalization)).assumingMemoryBound(to: CChar.self))
        XCTAssertTrue(text.contains("normalization") && text.contains("ee_interpreter_run"), text)
        do {
            _ = try Interpreter(model: reference).run(pixels: pixels)
            XCTFail("the core ran pixels without a normalization")
        } catch {
            XCTAssertTrue(error.description.contains("--mean"), error.description)
        }
    }

    func testRunPixelsDoesNotAllocate() throws {
        try XCTSkipUnless(ee_allocation_counting_available() == 1, "allocation counting needs glibc")
        let bytes = try modelBytes()
        let (_, handle, _) = open(bytes)
        let model = try XCTUnwrap(handle)
        defer { _ = ee_model_close(model) }
        var arena: UnsafeMutableRawPointer?, arenaSize: UInt = 0, inputCount: UInt = 0
        XCTAssertEqual(ee_arena_alloc(model, &arena, &arenaSize), status(.ok))
        defer { _ = ee_arena_free(arena) }
        _ = ee_model_input_size(model, &inputCount)
        var interpreter: OpaquePointer?
        XCTAssertEqual(ee_interpreter_create(model, arena, arenaSize, &interpreter), status(.ok))
        defer { _ = ee_interpreter_close(interpreter) }
        let pixels = [UInt8](repeating: 90, count: Int(inputCount))
        var result = EEResult()
        var statuses = [Int32](repeating: -1, count: 24)
        var allocations: UInt64 = 0
        pixels.withUnsafeBufferPointer { pixels in
            statuses.withUnsafeMutableBufferPointer { statuses in
                _ = ee_interpreter_run_pixels(interpreter, pixels.baseAddress, inputCount, &result) // warm-up
                let before = ee_allocation_count()
                for round in 0..<8 {
                    statuses[3 * round] = ee_interpreter_run_pixels(interpreter, pixels.baseAddress, inputCount, &result)
                    statuses[3 * round + 1] = ee_interpreter_run_pixels(interpreter, pixels.baseAddress, inputCount - 1, &result)
                    var major: UInt32 = 0, minor: UInt32 = 0
                    statuses[3 * round + 2] = ee_format_version(&major, &minor)
                }
                allocations = ee_allocation_count() - before
            }
        }
        XCTAssertEqual(allocations, 0, "run_pixels allocated")
        for round in 0..<8 { XCTAssertEqual(Array(statuses[(3 * round)..<(3 * round + 3)]), [0, status(.badInput), 0]) }
    }
}
