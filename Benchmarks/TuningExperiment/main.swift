// TuningExperiment: does tune's guarantee hold on images it never saw? Pools labelled image
// sets, draws random tune/evaluate splits, tunes on one part with each mode and measures the
// accuracy drop and MACs saved on the other.
//
//   swift run -c release TuningExperiment --model M.eem --pool IMAGES:LABELS [--pool ...]
//       [--cache FILE] [--splits 200] [--tune N] [--max-drop PP] [--confidence C] [--search F]
//       [--signal auto|gate|maxprob|entropy|gate+maxprob] [--test studentized|conditional]
//       [--order smoothed|raw] [--threads N] [--seed S] [--json-out FILE]
//
// Every image of the pool runs through the full network once (the exit cache, saved to --cache
// and read back when it exists), so each split only re-tunes and re-counts. Nothing here asserts.
import EarlyExit
import EarlyExitTools
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write("TuningExperiment: \(message)\n".data(using: .utf8)!)
    exit(2)
}

var modelPath: String?
var pools: [(String, String)] = []
var cachePath: String?
var splits = 200, tuneCount = 5000, threads = Parallel.defaultThreads, seed: UInt64 = 1
var maxDrop = 0.3, confidence = 0.9, search = 0.5, holdout = 0.3
var signalName = "auto"
var testName = "studentized"
var orderName = "smoothed"
var jsonOut: String?
var arguments = Array(CommandLine.arguments.dropFirst())
while !arguments.isEmpty {
    let name = arguments.removeFirst()
    func value() -> String {
        if arguments.isEmpty { fail("\(name) needs a value") }
        return arguments.removeFirst()
    }
    func number<T: LosslessStringConvertible>(_ type: T.Type) -> T {
        let text = value()
        guard let parsed = T(text) else { fail("\(name): '\(text)' is not a number") }
        return parsed
    }
    switch name {
    case "--model": modelPath = value()
    case "--pool":
        let parts = value().split(separator: ":").map(String.init)
        if parts.count != 2 { fail("--pool takes IMAGES:LABELS") }
        pools.append((parts[0], parts[1]))
    case "--cache": cachePath = value()
    case "--splits": splits = number(Int.self)
    case "--tune": tuneCount = number(Int.self)
    case "--max-drop": maxDrop = number(Double.self)
    case "--confidence": confidence = number(Double.self)
    case "--search": search = number(Double.self)
    case "--holdout": holdout = number(Double.self)
    case "--signal": signalName = value()
    case "--test": testName = value()
    case "--order": orderName = value()
    case "--threads": threads = number(Int.self)
    case "--seed": seed = number(UInt64.self)
    case "--json-out": jsonOut = value()
    default: fail("unknown option \(name)")
    }
}
guard let modelFile = modelPath, !pools.isEmpty else { fail("give --model M.eem and at least one --pool IMAGES:LABELS") }
let signals: [ExitSignal]
switch signalName {
case "auto": signals = [.gate, .maxProbability, .entropy]
case "gate+maxprob": signals = [.gate, .maxProbability]
default:
    guard let signal = ExitSignal(name: signalName), signal != .none else { fail("unknown --signal \(signalName)") }
    signals = [signal]
}

let pairedTest: RiskControl.Test
switch testName {
case "studentized": pairedTest = .studentized
case "conditional": pairedTest = .paired
default: fail("unknown --test \(testName) (studentized or conditional)")
}
if orderName != "smoothed" && orderName != "raw" { fail("unknown --order \(orderName) (smoothed or raw)") }

// MARK: The exit cache of the pool

/// What the cache was computed from: FNV-1a over the model file's bytes and every pool file's
/// bytes, in order. A cache of another model or pool (a retrained bundle, another split) is not
/// read: its exits would be silently wrong.
func fingerprint(_ files: [String]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for path in files {
        guard let contents = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
        for byte in contents { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3 // separates the files
    }
    return hash
}
let inputsFingerprint = fingerprint([modelFile] + pools.flatMap { [$0.0, $0.1] })

/// The cache file: "EECACHE2", the inputs' fingerprint, exits, images, exit MACs, full MACs,
/// then the arrays.
func save(_ cache: ExitCache, to path: String) throws {
    var data = Data("EECACHE2".utf8)
    var key = inputsFingerprint.littleEndian
    data.append(Data(bytes: &key, count: 8))
    func int(_ v: Int) { var x = Int64(v).littleEndian; data.append(Data(bytes: &x, count: 8)) }
    int(cache.earlyExitCount); int(cache.count); cache.exitMACs.forEach(int); int(cache.macsFull)
    for array in [cache.gate, cache.maxProbability, cache.entropy] { array.withUnsafeBytes { data.append(contentsOf: $0) } }
    data.append(contentsOf: cache.exitCorrect.map { $0 ? 1 : 0 })
    data.append(contentsOf: cache.fullCorrect.map { $0 ? 1 : 0 })
    try data.write(to: URL(fileURLWithPath: path))
}

func load(_ path: String) throws -> ExitCache? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    guard data.starts(with: Data("EECACHE2".utf8)) else {
        print("\(path) is not an exit cache of this version: running the network again")
        return nil
    }
    let bytes = [UInt8](data)
    func unreadable() -> ExitCache? {
        print("\(path) is not a complete exit cache: running the network again")
        return nil
    }
    if bytes.count < 32 { return unreadable() }
    var at = 8
    func word() -> UInt64 { defer { at += 8 }; return bytes[at..<at + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
    func int() -> Int { Int(truncatingIfNeeded: word()) }
    guard word() == inputsFingerprint else {
        print("\(path) was computed from another model or pool: running the network again")
        return nil
    }
    let exits = int(), count = int()
    // The exact size the header implies: anything else is a truncated or foreign file.
    guard (0...64).contains(exits), (0...100_000_000).contains(count),
          bytes.count == 32 + 8 * exits + 8 + exits * count * 13 + count else { return unreadable() }
    let macs = (0..<exits).map { _ in int() }, full = int()
    func floats() -> [Float] {
        let n = exits * count
        defer { at += n * 4 }
        return bytes[at..<at + n * 4].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    let gate = floats(), maxProbability = floats(), entropy = floats()
    let exitCorrect = bytes[at..<at + exits * count].map { $0 != 0 }; at += exits * count
    let fullCorrect = bytes[at..<at + count].map { $0 != 0 }
    return ExitCache(earlyExitCount: exits, gate: gate, maxProbability: maxProbability, entropy: entropy,
                     exitCorrect: exitCorrect, fullCorrect: fullCorrect, exitMACs: macs, macsFull: full)
}

/// The body's value, or the error as a message and exit status 1 (never a trap).
func attempt<T>(_ what: String, _ body: () throws -> T) -> T {
    do { return try body() } catch {
        FileHandle.standardError.write("TuningExperiment: \(what): \(error)\n".data(using: .utf8)!)
        exit(1)
    }
}

let cache: ExitCache
if let cachePath, let loaded = attempt("reading the cache \(cachePath)", { try load(cachePath) }) {
    cache = loaded
    print("read the exit cache of \(cache.count) images from \(cachePath)")
} else {
    let bytes = [UInt8](FileManager.default.contents(atPath: modelFile) ?? Data())
    let model = attempt("model \(modelFile)") { try Model(bytes: bytes) }
    var pooled: ExitCache?
    for (images, labels) in pools {
        let dataset = attempt("pool \(images):\(labels)") { try ModelFiles.loadDataset(images: images, labels: labels, for: model, limit: nil) }
        let start = Date()
        let part = attempt("running the network on \(images)") { try ExitCache.build(model: model, dataset: dataset, combineSeen: false, threads: threads) }
        print("ran every exit on \(dataset.count) images of \(images) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        pooled = pooled.map { $0.appending(part) } ?? part
    }
    cache = pooled!
    if let cachePath { attempt("writing the cache \(cachePath)") { try save(cache, to: cachePath) } }
}
if tuneCount >= cache.count { fail("--tune \(tuneCount) leaves no images to evaluate (the pool has \(cache.count))") }

// MARK: Splits

struct ModeStats {
    var name: String
    var drops: [Double] = [], saved: [Double] = [], passed = 0, violations = 0
    /// The choice deployed whatever its check said (what tune --write-unchecked stores).
    var rawDrops: [Double] = [], rawSaved: [Double] = [], rawViolations = 0
    mutating func addRaw(_ counts: SettingCounts, macsFull: Int, maxDrop: Double) {
        rawDrops.append(counts.drop)
        rawSaved.append(1 - Double(counts.macs) / Double(counts.images) / Double(macsFull))
        if counts.drop > maxDrop / 100 + 1e-12 { rawViolations += 1 }
    }
    mutating func add(_ counts: SettingCounts, passed ok: Bool, macsFull: Int, maxDrop: Double) {
        let drop = counts.drop
        drops.append(drop)
        saved.append(1 - Double(counts.macs) / Double(counts.images) / Double(macsFull))
        if ok { passed += 1 }
        if drop > maxDrop / 100 + 1e-12 { violations += 1 }
    }
    func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
}

var modes = [ModeStats(name: "guaranteed"), ModeStats(name: "empirical")]
let all = Array(0..<cache.count)
let started = Date()
for split in 0..<splits {
    var rng = SeededGenerator(seed: seed &* 1_000_003 &+ UInt64(split))
    let order = all.shuffled(using: &rng)
    let tuneImages = Array(order.prefix(tuneCount)).sorted(), evaluateImages = Array(order.dropFirst(tuneCount)).sorted()
    for (index, mode) in [TuningOptions.Mode.guaranteed(confidence: confidence, searchFraction: search), .empirical(holdout: holdout)].enumerated() {
        var options = TuningOptions(mode: mode, maxDrop: maxDrop / 100, signals: signals, combinations: signalName == "gate+maxprob",
                                    seed: UInt64(split) + 1)
        options.test = pairedTest
        options.smoothedOrder = orderName == "smoothed"
        let result = ThresholdTuner.tune(cache: cache, reference: nil, images: tuneImages, options: options)
        // What a user would deploy: the choice when it passed its check, else the full network.
        let deployed = result.passed ? result.rules : [ExitRule](repeating: .never, count: cache.earlyExitCount)
        modes[index].add(ThresholdTuner.evaluate(deployed, cache: cache, images: evaluateImages), passed: result.passed, macsFull: cache.macsFull, maxDrop: maxDrop)
        modes[index].addRaw(ThresholdTuner.evaluate(result.rules, cache: cache, images: evaluateImages), macsFull: cache.macsFull, maxDrop: maxDrop)
    }
    if (split + 1) % 20 == 0 {
        print("\(split + 1) splits, \(String(format: "%.0f", Date().timeIntervalSince(started))) s")
    }
}

// MARK: Report

let evaluateCount = cache.count - tuneCount
print("""

    \(splits) random splits of \(cache.count) pooled images: tune on \(tuneCount), evaluate on \(evaluateCount)
    --max-drop \(maxDrop) pp; guaranteed: confidence \(confidence), search \(search), test \(testName), order \(orderName); empirical: holdout \(holdout); signal \(signalName)
    A split whose choice failed its own check deploys the full network (0 saved, 0 drop), as tune --write refuses it.

    mode          violations (drop > max)   passed check   mean MACs saved   mean drop   90th pct drop
    """)
var json: [(String, JSON)] = [("pool_images", .int(cache.count)), ("tune_images", .int(tuneCount)), ("splits", .int(splits)),
                               ("max_drop_pp", .number(maxDrop)), ("confidence", .number(confidence)), ("search", .number(search)),
                               ("holdout", .number(holdout)), ("signal", .string(signalName))]
for mode in modes {
    let sortedDrops = mode.drops.sorted()
    let p90 = sortedDrops[min(sortedDrops.count - 1, Int(0.9 * Double(sortedDrops.count)))]
    let rate = Double(mode.violations) / Double(splits)
    print("\(mode.name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(String(format: "%5.1f%% (%d of %d)", rate * 100, mode.violations, splits).padding(toLength: 25, withPad: " ", startingAt: 0)) \(String(format: "%5.1f%%", Double(mode.passed) / Double(splits) * 100).padding(toLength: 14, withPad: " ", startingAt: 0)) \(String(format: "%5.1f%%", mode.mean(mode.saved) * 100).padding(toLength: 17, withPad: " ", startingAt: 0)) \(String(format: "%+.3f pp", mode.mean(mode.drops) * 100).padding(toLength: 11, withPad: " ", startingAt: 0)) \(String(format: "%+.3f pp", p90 * 100))")
    let passedSaved = zip(mode.saved, mode.drops).enumerated().filter { mode.saved[$0.offset] > 0 }.map { $0.element.0 }
    print("    \(mode.name) when its check passed: mean MACs saved \(String(format: "%.1f%%", mode.mean(passedSaved) * 100)) over \(passedSaved.count) splits; "
          + "deployed whatever the check said: violations \(String(format: "%.1f%%", Double(mode.rawViolations) / Double(splits) * 100)), "
          + "mean MACs saved \(String(format: "%.1f%%", mode.mean(mode.rawSaved) * 100)), mean drop \(String(format: "%+.3f pp", mode.mean(mode.rawDrops) * 100))")
    json.append((mode.name, .object([("violation_rate", .number(rate)), ("violations", .int(mode.violations)),
                                     ("passed_rate", .number(Double(mode.passed) / Double(splits))),
                                     ("mean_macs_saved", .number(mode.mean(mode.saved))), ("mean_drop", .number(mode.mean(mode.drops))),
                                     ("unchecked_violation_rate", .number(Double(mode.rawViolations) / Double(splits))),
                                     ("unchecked_mean_macs_saved", .number(mode.mean(mode.rawSaved))),
                                     ("drops", .array(mode.drops.map { .number($0) })), ("saved", .array(mode.saved.map { .number($0) }))])))
}
if let jsonOut { attempt("writing \(jsonOut)") { try JSON.object(json).text.write(toFile: jsonOut, atomically: true, encoding: .utf8) } }
