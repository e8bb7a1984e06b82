// The libFuzzer entry points for every target of Tests/EarlyExitTests/FuzzTargets.swift, built by
// Fuzz/run.sh into one binary. EARLYEXIT_FUZZ_TARGET names the target (eem, eem-crc, onnx,
// onnx-external, gzip, inflate, idx, npy, capi); EARLYEXIT_FUZZ_WRITE_SEEDS=DIR writes the seed
// corpora and exits.
import Foundation

nonisolated(unsafe) var selectedTarget = FuzzTarget.eem

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    if ProcessInfo.processInfo.environment["EARLYEXIT_FUZZ_WRITE_SEEDS"] != nil { exit(writeSeeds()) }
    let environment = ProcessInfo.processInfo.environment
    guard let name = environment["EARLYEXIT_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write("error: set EARLYEXIT_FUZZ_TARGET to one of: \(names)\n".data(using: .utf8)!)
        exit(2)
    }
    selectedTarget = target
    if target == .capi { _ = FuzzTargets.builtInModels } // built once, before the first input
    if environment["EARLYEXIT_FUZZ_VERBOSE"] != nil { verbose = true }
    return 0
}

nonisolated(unsafe) var verbose = false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let outcome = selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    if verbose { print("\(selectedTarget.rawValue): \(size) bytes: \(outcome)") }
    return 0
}

/// Writes the seed corpora (EARLYEXIT_FUZZ_WRITE_SEEDS=DIR, EARLYEXIT_FUZZ_ROOT=repository) and
/// returns the exit status; everything it made is released before the process exits.
@inline(never)
func writeSeeds() -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    let directory = environment["EARLYEXIT_FUZZ_WRITE_SEEDS"] ?? "seeds"
    let root = URL(fileURLWithPath: environment["EARLYEXIT_FUZZ_ROOT"] ?? FileManager.default.currentDirectoryPath)
    do {
        let counts = try FuzzSeeds.write(repository: root, to: URL(fileURLWithPath: directory))
        print("seeds: " + counts.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        return 0
    } catch {
        FileHandle.standardError.write("error: cannot write the seed corpora: \(error)\n".data(using: .utf8)!)
        return 1
    }
}
