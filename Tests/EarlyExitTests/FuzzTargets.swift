// The fuzz targets' entry points, shared by the libFuzzer binary (Fuzz/run.sh compiles this file
// with Fuzz/FuzzMain.swift) and by FuzzRegressionTests, which replays Fuzz/regressions/ through
// them in the normal `swift test`. Each entry point takes arbitrary bytes, must never trap, checks
// what it can about the result (a violated invariant is a deliberate trap: a finding), and
// returns a one-line account of what happened.
import EarlyExit
import EarlyExitC
import EarlyExitTools
import Foundation

/// The fuzz targets, named as `Fuzz/run.sh TARGET` takes them.
enum FuzzTarget: String, CaseIterable {
    /// `.eem` bytes as given: load, then one inference on a model that loads.
    case eem
    /// The same after writing the file size and the CRC-32 into the header, so that mutants
    /// get past the checksum and reach the section, tensor, operator and exit validation.
    case eemCRC = "eem-crc"
    /// ONNX bytes: decode, convert, load the result and run it once.
    case onnx
    /// An ONNX file and its external-data side file (PyTorch's dynamo exporter puts the weights
    /// there): the first 4 bytes (little-endian) give the ONNX file's length, the rest after it
    /// is `model.onnx.data`. Both are written to a private folder and converted as the CLI does.
    case onnxExternal = "onnx-external"
    /// gzip data (one or more members): decompress with a 16 MiB output cap.
    case gzip
    /// A raw DEFLATE stream: inflate with a 16 MiB output cap.
    case inflate
    /// An IDX file, plain or gzipped.
    case idx
    /// An `.npy` file.
    case npy
    /// The C API: open, create, set_policy, run and every query, with sizes, alignments,
    /// policies and inputs taken from the bytes, on built-in small models or on model bytes
    /// from the input (size and CRC fixed).
    case capi

    func run(_ data: UnsafeRawBufferPointer) -> String {
        switch self {
        case .eem: return FuzzTargets.eem(Array(data))
        case .eemCRC: return FuzzTargets.eem(FuzzTargets.fixingSizeAndChecksum(Array(data)))
        case .onnx: return FuzzTargets.onnx(Array(data))
        case .onnxExternal: return FuzzTargets.onnxExternal(data)
        case .gzip: return FuzzTargets.gzip(Array(data))
        case .inflate: return FuzzTargets.inflate(Array(data))
        case .idx: return FuzzTargets.idx(Array(data))
        case .npy: return FuzzTargets.npy(Array(data))
        case .capi: return FuzzTargets.capi(data)
        }
    }
}

/// Stops the process on a broken invariant, naming it (libFuzzer records the input as a crash).
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz invariant violated: \(message())") }
}

enum FuzzTargets {
    /// Inference runs only on models within these bounds, so that a mutant that declares a huge
    /// (valid) network costs a skipped run, not a timeout: the bundled models (57 M MACs, 630 KB
    /// arena) are within them, the seeds' small models far below.
    static let maxInferenceMACs = 64_000_000
    static let maxInferenceArenaBytes = 16 << 20
    /// Output cap of the gzip and inflate targets.
    static let maxInflatedBytes = 16 << 20

    // MARK: .eem

    /// Every kernel set this CPU runs, with and without Winograd: each prepares (packs weights,
    /// plans layouts) differently, so the `.eem` targets load with one chosen by the input.
    static let kernelSets: [KernelSet] = KernelSet.supported.flatMap { set in
        [set] + (KernelSet.named(set.name + "-direct").map { [$0] } ?? [])
    }

    static func eem(_ bytes: [UInt8]) -> String {
        let seed = UInt64(CRC32.checksum(bytes))
        let kernels = kernelSets[Int(seed % UInt64(kernelSets.count))]
        let model: Model
        do {
            model = try Model(bytes: bytes, kernels: kernels)
        } catch {
            return "rejected: \(error)"
        }
        return "loaded: " + infer(model, seed: seed)
    }

    /// Writes the file size (bytes 8...11) and the CRC-32 of bytes 16... (bytes 12...15).
    static func fixingSizeAndChecksum(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= EEMFormat.checksumStart else { return bytes }
        var fixed = bytes
        store(UInt32(truncatingIfNeeded: fixed.count), at: 8, in: &fixed)
        store(CRC32.checksum(Array(fixed[EEMFormat.checksumStart...])), at: 12, in: &fixed)
        return fixed
    }

    static func store(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    /// One inference with the stored policy on an input drawn from `seed`, and its invariants.
    static func infer(_ model: Model, seed: UInt64) -> String {
        if model.totalMACs > maxInferenceMACs || model.plan.arenaBytes > maxInferenceArenaBytes {
            return "not run: \(model.totalMACs) MACs, \(model.plan.arenaBytes)-byte arena (over the fuzz budget)"
        }
        let interpreter = Interpreter(model: model)
        var rng = SeededGenerator(seed: seed)
        let input = rng.uniforms(model.input.elementCount, scale: 3)
        let summary: RunSummary
        do {
            if model.isQuantized && seed & 1 == 1 {
                // The integer-only path, on the input quantized ahead of time.
                summary = try interpreter.quantizeInput(input).withUnsafeBufferPointer { buffer throws(ModelError) in
                    try interpreter.run(buffer)
                }
            } else {
                summary = try interpreter.run(input)
            }
        } catch {
            return "run refused: \(error)"
        }
        checkSummary(summary, model)
        let scores = interpreter.scores
        fuzzCheck(scores.count == model.classCount, "\(scores.count) scores for \(model.classCount) classes")
        var touched: Float = 0
        for exit in 0..<summary.exitsEvaluated {
            touched += interpreter.logits(exit: exit).reduce(0, +) + interpreter.gate(exit: exit)
        }
        return "ran: exit \(summary.exitIndex), class \(summary.classIndex), \(summary.macs) MACs (\(touched.isFinite ? "finite" : "non-finite") outputs)"
    }

    static func checkSummary(_ summary: RunSummary, _ model: Model) {
        let exits = model.exits.count
        fuzzCheck(summary.exitIndex >= 0 && summary.exitIndex < exits, "exit \(summary.exitIndex) of \(exits)")
        fuzzCheck(summary.exitsEvaluated == summary.exitIndex + 1, "\(summary.exitsEvaluated) exits evaluated, exit \(summary.exitIndex)")
        fuzzCheck(summary.exitedEarly == (summary.exitIndex < exits - 1), "exitedEarly \(summary.exitedEarly) at exit \(summary.exitIndex)")
        fuzzCheck(summary.classIndex >= 0 && summary.classIndex < model.classCount, "class \(summary.classIndex) of \(model.classCount)")
        fuzzCheck(summary.macs == model.exits[summary.exitIndex].cumulativeMACs, "MACs \(summary.macs)")
        fuzzCheck(summary.macsFull == model.totalMACs && summary.macs <= summary.macsFull, "MACs \(summary.macs) of \(summary.macsFull)")
    }

    // MARK: ONNX

    static func onnx(_ bytes: [UInt8]) -> String {
        let converted: [UInt8]
        do {
            converted = try ONNXConverter.convert(onnx: bytes, options: ConversionOptions()).bytes
        } catch {
            return "rejected: \(error)"
        }
        return checkConverted(converted, seed: UInt64(CRC32.checksum(bytes)))
    }

    /// The folder the external-data target writes its two files to: private to this process,
    /// removed at exit; in memory (/dev/shm) where there is one, which makes the target about
    /// seven times faster than on disk.
    static let externalDataFolder: URL = {
        let shm = URL(fileURLWithPath: "/dev/shm")
        var isDirectory: ObjCBool = false
        let parent = FileManager.default.fileExists(atPath: shm.path, isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
        let folder = parent.appendingPathComponent("earlyexit-fuzz-external-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: FuzzTargets.externalDataFolder) }
        return folder
    }()

    /// Splits an `onnx-external` input into the ONNX file and the side file.
    static func splitExternal(_ data: UnsafeRawBufferPointer) -> (onnx: [UInt8], side: [UInt8]) {
        guard data.count >= 4 else { return (Array(data), []) }
        let length = min(Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16 | Int(data[3]) << 24, data.count - 4)
        return (Array(data[4..<(4 + length)]), Array(data[(4 + length)...]))
    }

    static func onnxExternal(_ data: UnsafeRawBufferPointer) -> String {
        let (onnx, side) = splitExternal(data)
        let file = externalDataFolder.appendingPathComponent("model.onnx")
        do {
            try Data(onnx).write(to: file)
            try Data(side).write(to: externalDataFolder.appendingPathComponent("model.onnx.data"))
        } catch {
            fatalError("the onnx-external target cannot write its files: \(error)")
        }
        let converted: [UInt8]
        do {
            converted = try ONNXConverter.convert(onnxFile: file, options: ConversionOptions()).bytes
        } catch {
            return "rejected: \(error)"
        }
        return checkConverted(converted, seed: UInt64(CRC32.checksum(onnx)))
    }

    static func checkConverted(_ converted: [UInt8], seed: UInt64) -> String {
        // The converter loads what it writes with the runtime's validator, so this must load.
        let model: Model
        do {
            model = try Model(bytes: converted)
        } catch {
            fatalError("fuzz invariant violated: the converter wrote a model the runtime rejects: \(error)")
        }
        return "converted: " + infer(model, seed: seed)
    }

    // MARK: Data files

    static func gzip(_ bytes: [UInt8]) -> String {
        do {
            let output = try Gzip.decompress(bytes, source: "fuzz input", maxOutputSize: maxInflatedBytes)
            fuzzCheck(output.count <= maxInflatedBytes, "\(output.count) bytes out, cap \(maxInflatedBytes)")
            return "decompressed \(output.count) bytes"
        } catch {
            return "rejected: \(error)"
        }
    }

    static func inflate(_ bytes: [UInt8]) -> String {
        do {
            let output = try Gzip.inflate(bytes, source: "fuzz input", maxOutputSize: maxInflatedBytes)
            fuzzCheck(output.count <= maxInflatedBytes, "\(output.count) bytes out, cap \(maxInflatedBytes)")
            return "inflated \(output.count) bytes"
        } catch {
            return "rejected: \(error)"
        }
    }

    static func idx(_ bytes: [UInt8]) -> String {
        do {
            let file = try IDXFile.parse(bytes, source: "fuzz input")
            fuzzCheck(file.dimensions.reduce(1, *) == file.payload.count, "dimensions \(file.dimensions), \(file.payload.count) bytes")
            if file.count > 0 {
                fuzzCheck(file.item(0).count == file.itemSize && file.item(file.count - 1).count == file.itemSize, "item size")
            }
            return "parsed \(file.dimensions)"
        } catch {
            return "rejected: \(error)"
        }
    }

    static func npy(_ bytes: [UInt8]) -> String {
        do {
            let array = try NPYArray.parse(bytes, source: "fuzz input")
            fuzzCheck(array.shape.reduce(1, *) == array.values.count, "shape \(array.shape), \(array.values.count) values")
            return "parsed \(array.shape)"
        } catch {
            return "rejected: \(error)"
        }
    }
}

// MARK: - The C API target

/// Reads parameters from the fuzz input, then zeros once it is used up.
struct FuzzParameters {
    let data: UnsafeRawBufferPointer
    var offset = 0

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    mutating func byte() -> UInt8 {
        guard offset < data.count else { return 0 }
        defer { offset += 1 }
        return data[offset]
    }

    mutating func u16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    /// A float: most often an ordinary value, sometimes any bit pattern (NaN, infinities, subnormals).
    mutating func float() -> Float {
        let kind = byte()
        if kind < 200 { return Float(Int16(bitPattern: u16())) / 4096 }
        return Float(bitPattern: u32())
    }

    /// A size near `exact` and never above it: exact, 0, or a little less.
    mutating func size(near exact: Int) -> UInt {
        let kind = byte() % 8
        let delta = Int(byte() % 65)
        switch kind {
        case 6: return 0
        case 7: return UInt(max(exact - max(delta, 1), 0))
        default: return UInt(exact)
        }
    }
}

extension FuzzTargets {
    /// The C API target's built-in models: a small float32 and a small int8 attention network.
    static let builtInModels: [[UInt8]] = {
        do {
            let float = try SyntheticModels.attentionNetwork(channels: 1, size: 8, width: 4, heads: 2, classes: 5, seed: 11).serialize()
            let model = try Model(bytes: float)
            var rng = SeededGenerator(seed: 5)
            let calibration = (0..<4).map { _ in rng.uniforms(model.input.elementCount, scale: 2) }
            let int8 = try Quantizer.quantize(model: model, calibration: calibration, method: .minmax).bytes
            return [float, int8]
        } catch {
            fatalError("cannot build the C API target's models: \(error)")
        }
    }()

    static let statusCount: Int32 = 20

    static func checkStatus(_ status: Int32, _ call: String) {
        fuzzCheck(status >= 0 && status < statusCount, "\(call) returned \(status), not an ee_status")
    }

    /// The C API with every size, alignment, policy and input taken from the fuzz input. Sizes
    /// larger than a buffer are only passed where the API reads no more than the real data (the
    /// model size: the header's recorded size is checked first); C cannot check a buffer
    /// shorter than the size it is given, so the target never lies about a buffer it passes.
    static func capi(_ data: UnsafeRawBufferPointer) -> String {
        var p = FuzzParameters(data)
        let choice = Int(p.byte()) % (builtInModels.count + 1)
        let modelOffset = Int(p.byte() % 80)
        let messageKind = p.byte() % 4
        let sizeParameters = (p.byte(), p.byte())
        var modelBytes: [UInt8]
        if choice < builtInModels.count {
            modelBytes = builtInModels[choice]
        } else {
            // Model bytes from the input after a 64-byte parameter block, size and CRC fixed.
            let start = min(64, data.count)
            modelBytes = fixingSizeAndChecksum(Array(data[start...]))
            p = FuzzParameters(UnsafeRawBufferPointer(rebasing: data[p.offset..<max(p.offset, start)]))
        }

        // The model buffer: 64-byte aligned allocation, the model at `modelOffset`, zero slack after.
        let slack = 4096
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: modelOffset + modelBytes.count + slack, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: modelOffset + modelBytes.count + slack)
        modelBytes.withUnsafeBytes { (buffer + modelOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let givenSize: UInt
        switch sizeParameters.0 % 8 {
        case 0, 1, 2, 3: givenSize = UInt(modelBytes.count)
        case 4: givenSize = UInt(max(modelBytes.count - Int(sizeParameters.1), 0))
        case 5: givenSize = UInt(modelBytes.count + Int(sizeParameters.1) % slack)
        // A size far beyond the buffer: the header (64 bytes) is read, so only when it is there.
        case 6: givenSize = modelBytes.count >= EEMFormat.headerSize ? UInt.max - UInt(sizeParameters.1) : UInt(modelBytes.count)
        default: givenSize = modelBytes.count >= EEMFormat.headerSize ? UInt(UInt32.max) + UInt(modelBytes.count) : 0
        }

        var message = [UInt8](repeating: 0xAA, count: 300)
        let capacity: UInt = [0, 1, 16, 256][Int(messageKind)]
        var handle: OpaquePointer?
        let status = message.withUnsafeMutableBytes { raw in
            ee_model_open(buffer + modelOffset, givenSize, &handle, messageKind == 0 ? nil : raw.baseAddress, capacity)
        }
        checkStatus(status, "ee_model_open")
        if messageKind != 0 && capacity > 0 {
            let terminator = message.prefix(Int(capacity)).firstIndex(of: 0)
            fuzzCheck(terminator != nil, "ee_model_open's message is not terminated within its capacity \(capacity)")
            fuzzCheck(message[Int(capacity)...].allSatisfy { $0 == 0xAA }, "ee_model_open wrote past the message capacity")
        }
        guard status == 0, let model = handle else {
            fuzzCheck(handle == nil, "ee_model_open failed (\(status)) but set the model")
            return "open: status \(status)"
        }
        var log = "open ok"
        queryModel(model, &p, &log)
        if !runInterpreters(model, &p, &log) { checkStatus(ee_model_close(model), "ee_model_close") }
        return log
    }

    static func queryModel(_ model: OpaquePointer, _ p: inout FuzzParameters, _ log: inout String) {
        var count: UInt = 0
        checkStatus(ee_model_class_count(model, &count), "ee_model_class_count")
        let classes = Int(count)
        checkStatus(ee_model_early_exit_count(model, &count), "ee_model_early_exit_count")
        let earlyExits = Int(count)
        var dims = [UInt](repeating: 0, count: 4)
        var rank: UInt = 0
        checkStatus(ee_model_input_shape(model, &dims, &rank), "ee_model_input_shape")
        fuzzCheck(rank >= 1 && rank <= 4, "input rank \(rank)")
        var macs: UInt64 = 0
        let exitIndex = UInt(p.byte() % 8)
        let exitStatus = ee_model_exit_macs(model, exitIndex, &macs)
        checkStatus(exitStatus, "ee_model_exit_macs")
        fuzzCheck((exitStatus == 0) == (Int(exitIndex) <= earlyExits), "exit_macs(\(exitIndex)) of \(earlyExits + 1) exits: \(exitStatus)")
        checkStatus(ee_model_full_macs(model, &macs), "ee_model_full_macs")
        let capacity = Int(p.byte() % 6)
        var mean = [Float](repeating: 0, count: max(capacity, 1)), std = mean
        checkStatus(ee_model_normalization(model, &mean, &std, UInt(capacity), &count), "ee_model_normalization")
        let nameIndex = UInt(p.byte() % 16)
        let nameCapacity = Int(p.byte() % 40)
        var name = [UInt8](repeating: 0xAA, count: nameCapacity + 8)
        let nameStatus = name.withUnsafeMutableBytes { ee_model_class_name(model, nameIndex, $0.baseAddress, UInt(nameCapacity)) }
        checkStatus(nameStatus, "ee_model_class_name")
        fuzzCheck(name[nameCapacity...].allSatisfy { $0 == 0xAA }, "ee_model_class_name wrote past its capacity \(nameCapacity)")
        if nameStatus == 0 { fuzzCheck(Int(nameIndex) < classes, "class_name(\(nameIndex)) of \(classes) succeeded") }
        var signal: Int32 = 0
        var flags: UInt32 = 0
        let thresholdCapacity = Int(p.byte() % 6)
        var thresholds = [Float](repeating: 0, count: max(thresholdCapacity, 1))
        checkStatus(ee_model_default_policy(model, &signal, &thresholds, UInt(thresholdCapacity), &flags), "ee_model_default_policy")
        var scale: Float = 0
        var zeroPoint: Int32 = 0
        checkStatus(ee_model_input_quantization(model, &scale, &zeroPoint), "ee_model_input_quantization")
        log += ", \(classes) classes, \(earlyExits) early exits"
    }

    /// Creates interpreters and runs them; returns true when it closed the model itself.
    static func runInterpreters(_ model: OpaquePointer, _ p: inout FuzzParameters, _ log: inout String) -> Bool {
        var arenaSize: UInt = 0
        checkStatus(ee_model_arena_size(model, &arenaSize), "ee_model_arena_size")
        var inputCount: UInt = 0
        checkStatus(ee_model_input_size(model, &inputCount), "ee_model_input_size")
        var earlyExits: UInt = 0
        checkStatus(ee_model_early_exit_count(model, &earlyExits), "ee_model_early_exit_count")
        if Int(arenaSize) > maxInferenceArenaBytes || Int(inputCount) > maxInferenceArenaBytes / 4 {
            log += ", not run (over the fuzz budget)"
            return false
        }
        var fullMACs: UInt64 = 0
        checkStatus(ee_model_full_macs(model, &fullMACs), "ee_model_full_macs")
        if fullMACs > UInt64(maxInferenceMACs) {
            log += ", not run (over the fuzz budget)"
            return false
        }
        let interpreterCount = 1 + Int(p.byte() % 2)
        for _ in 0..<interpreterCount {
            // The arena: allocated with room for every size and offset the parameters can ask for.
            let arenaOffset = Int(p.byte() % 3) * 64 + (p.byte() % 4 == 0 ? Int(p.byte() % 64) : 0)
            let given = p.size(near: Int(arenaSize))
            let arena = UnsafeMutableRawPointer.allocate(byteCount: Int(arenaSize) + 256, alignment: 64)
            defer { arena.deallocate() }
            var interpreter: OpaquePointer?
            let createStatus = ee_interpreter_create(model, p.byte() == 255 ? nil : arena + arenaOffset, given, &interpreter)
            checkStatus(createStatus, "ee_interpreter_create")
            guard createStatus == 0, let interpreter else {
                log += ", create: \(createStatus)"
                continue
            }
            fuzzCheck(given >= arenaSize && arenaOffset % 64 == 0, "create accepted a \(given)-byte arena at offset \(arenaOffset)")
            let runs = 1 + Int(p.byte() % 3)
            for _ in 0..<runs {
                setPolicy(interpreter, Int(earlyExits), &p, &log)
                run(interpreter, Int(inputCount), &p, &log)
                queryResults(interpreter, Int(earlyExits), &p)
            }
            if p.byte() % 4 == 3 {
                // Allowed: an interpreter keeps the model's tables alive.
                checkStatus(ee_model_close(model), "ee_model_close")
                run(interpreter, Int(inputCount), &p, &log)
                checkStatus(ee_interpreter_close(interpreter), "ee_interpreter_close")
                log += ", model closed first"
                return true
            }
            checkStatus(ee_interpreter_close(interpreter), "ee_interpreter_close")
        }
        return false
    }

    static func setPolicy(_ interpreter: OpaquePointer, _ earlyExits: Int, _ p: inout FuzzParameters, _ log: inout String) {
        let kind = p.byte() % 4
        if kind == 0 { return }
        let signal: Int32 = kind == 1 ? Int32(bitPattern: p.u32()) : Int32(p.byte() % 4)
        let count = p.byte() % 4 == 0 ? Int(p.byte() % 8) : earlyExits
        let thresholds = (0..<max(count, 1)).map { _ in p.float() }
        let flags: UInt32 = p.byte() % 8 == 0 ? p.u32() : UInt32(p.byte() % 2)
        let passNull = p.byte() == 255
        let status = thresholds.withUnsafeBufferPointer {
            ee_interpreter_set_policy(interpreter, signal, passNull ? nil : $0.baseAddress, UInt(count), flags)
        }
        checkStatus(status, "ee_interpreter_set_policy")
        log += ", policy \(signal)/\(count): \(status)"
    }

    static func run(_ interpreter: OpaquePointer, _ inputCount: Int, _ p: inout FuzzParameters, _ log: inout String) {
        let count = Int(p.size(near: inputCount))
        var result = EEResult()
        let status: Int32
        if p.byte() % 4 == 3 {
            var input = (0..<max(count, 1)).map { _ in Int8(bitPattern: p.byte()) }
            status = ee_interpreter_run_int8(interpreter, &input, UInt(count), &result)
        } else {
            var input = (0..<max(count, 1)).map { index in index < 64 ? p.float() : Float(index % 7) / 7 }
            status = ee_interpreter_run(interpreter, &input, UInt(count), &result)
        }
        checkStatus(status, "ee_interpreter_run")
        if status == 0 {
            fuzzCheck(count == inputCount, "run accepted \(count) values, the model takes \(inputCount)")
            fuzzCheck(result.exitsEvaluated == result.exitIndex + 1 && result.macs <= result.macsFull, "run result \(result)")
        }
        log += ", run: \(status)"
    }

    static func queryResults(_ interpreter: OpaquePointer, _ earlyExits: Int, _ p: inout FuzzParameters) {
        var result = EEResult()
        checkStatus(ee_interpreter_result(interpreter, &result), "ee_interpreter_result")
        let capacity = Int(p.byte() % 12)
        var values = [Float](repeating: 0, count: capacity + 4)
        checkStatus(ee_interpreter_scores(interpreter, &values, UInt(capacity)), "ee_interpreter_scores")
        var count: UInt = 0
        checkStatus(ee_interpreter_gates(interpreter, &values, UInt(capacity), &count), "ee_interpreter_gates")
        checkStatus(ee_interpreter_logits(interpreter, UInt(p.byte() % 8), &values, UInt(capacity)), "ee_interpreter_logits")
        fuzzCheck(values[capacity...].allSatisfy { $0 == 0 }, "a result query wrote past its capacity \(capacity)")
    }
}
