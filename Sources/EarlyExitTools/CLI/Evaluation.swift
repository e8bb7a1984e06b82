// Measures early exit against the full network on a labelled set: accuracy, exits, MACs, latency.
import CAllocationCounter
import EarlyExit
import Foundation

/// The measurements of one configuration (a policy) over a dataset.
public struct ConfigurationResult {
    public var name: String
    public var policy: ExitPolicy
    public var images = 0
    public var correct = 0
    /// Per exit: how many images left there, and how many of those were right.
    public var exitCounts: [Int]
    public var exitCorrect: [Int]
    public var totalMACs = 0
    public var macsFull = 0
    /// Per-image latency in nanoseconds, in dataset order.
    public var latencies: [Double] = []
    /// Heap allocations counted during the timed runs (nil where counting is unavailable).
    public var allocations: UInt64?

    public var accuracy: Double { Double(correct) / Double(max(images, 1)) }
    public var meanMACs: Double { Double(totalMACs) / Double(max(images, 1)) }
    public var macsSavedFraction: Double { 1 - meanMACs / Double(max(macsFull, 1)) }
    public var meanLatency: Double { latencies.reduce(0, +) / Double(max(latencies.count, 1)) }

    /// The latency at quantile `q` (nearest rank), in nanoseconds.
    public func percentile(_ q: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

/// Runs configurations side by side: for each image, each configuration in turn, so machine
/// noise affects them alike.
public enum Evaluation {
    @inline(__always)
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public static func measure(model: Model, dataset: Dataset, configurations: [(String, ExitPolicy)], warmup: Int,
                               progress: ((Int, Int) -> Void)? = nil) throws -> [ConfigurationResult] {
        let interpreters = try configurations.map { (_, policy) -> Interpreter in
            let interpreter = Interpreter(model: model)
            try interpreter.setPolicy(policy)
            return interpreter
        }
        var results = configurations.map { name, policy in
            ConfigurationResult(name: name, policy: policy, exitCounts: [Int](repeating: 0, count: model.exits.count),
                                exitCorrect: [Int](repeating: 0, count: model.exits.count), macsFull: model.totalMACs)
        }
        for index in results.indices { results[index].latencies.reserveCapacity(dataset.count) }
        // Warm-up: caches, branch predictors, page faults of the arena.
        for round in 0..<min(warmup, dataset.count > 0 ? warmup : 0) {
            for interpreter in interpreters { _ = try interpreter.run(dataset.inputs[round % dataset.count]) }
        }
        let counting = ee_allocation_counting_available() == 1
        var allocations = [UInt64](repeating: 0, count: interpreters.count)
        var summaries = [RunSummary](repeating: RunSummary(exitIndex: 0, classIndex: 0, exitsEvaluated: 0, macs: 0, macsFull: 0, exitedEarly: false),
                                     count: interpreters.count)
        var times = [UInt64](repeating: 0, count: interpreters.count)
        for image in 0..<dataset.count {
            try dataset.inputs[image].withUnsafeBufferPointer { input in
                for (slot, interpreter) in interpreters.enumerated() {
                    let before = counting ? ee_allocation_count() : 0
                    let start = now()
                    do { summaries[slot] = try interpreter.run(input) } catch {
                        throw ToolError("image \(image) of the data set: \(error)")
                    }
                    let end = now()
                    if counting { allocations[slot] += ee_allocation_count() - before }
                    times[slot] = end - start
                }
            }
            for slot in interpreters.indices {
                let summary = summaries[slot]
                let right = summary.classIndex == dataset.labels[image]
                results[slot].images += 1
                results[slot].correct += right ? 1 : 0
                results[slot].exitCounts[summary.exitIndex] += 1
                results[slot].exitCorrect[summary.exitIndex] += right ? 1 : 0
                results[slot].totalMACs += summary.macs
                results[slot].latencies.append(Double(times[slot]))
            }
            progress?(image + 1, dataset.count)
        }
        for slot in results.indices { results[slot].allocations = counting ? allocations[slot] : nil }
        return results
    }
}

/// A one-line progress bar on standard error, drawn only on a terminal.
public struct ProgressBar {
    let console: Console
    let label: String
    var lastDrawn = -1

    public init(console: Console, label: String) {
        self.console = console
        self.label = label
    }

    public mutating func update(_ done: Int, _ total: Int) {
        guard console.isTerminal, total > 0 else { return }
        let percent = done * 100 / total
        if percent == lastDrawn && done != total { return }
        lastDrawn = percent
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write("\r\(label) [\(bar)] \(done)/\(total)".data(using: .utf8) ?? Data())
        if done == total { FileHandle.standardError.write("\n".data(using: .utf8) ?? Data()) }
    }
}
