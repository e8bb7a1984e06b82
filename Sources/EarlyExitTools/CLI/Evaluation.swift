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

    /// CPU time of the calling thread, in nanoseconds.
    @inline(__always)
    static func threadCPUTime() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// What the latencies of `measure` are: wall-clock time with one thread, the thread's CPU
    /// time per image with several (images run concurrently, so wall time would count waiting).
    public static func latencyKind(threads: Int) -> String {
        threads == 1 ? "wall-clock time per image, one thread" : "CPU time per image of the thread that ran it, \(threads) threads"
    }

    /// Runs every configuration on every image. With `threads` > 1, images are shared out among
    /// threads, each with its own interpreters; results are gathered in image order, so counts,
    /// accuracy and MACs are the same for any thread count.
    public static func measure(model: Model, dataset: Dataset, configurations: [(String, ExitPolicy)], warmup: Int,
                               threads: Int = 1, progress: ((Int, Int) -> Void)? = nil) throws -> [ConfigurationResult] {
        var results = configurations.map { name, policy in
            ConfigurationResult(name: name, policy: policy, exitCounts: [Int](repeating: 0, count: model.exits.count),
                                exitCorrect: [Int](repeating: 0, count: model.exits.count), macsFull: model.totalMACs)
        }
        for index in results.indices { results[index].latencies.reserveCapacity(dataset.count) }
        let slots = configurations.count
        let counting = ee_allocation_counting_available() == 1
        let wallClock = threads == 1
        var summaries = [RunSummary](repeating: RunSummary(exitIndex: 0, classIndex: 0, exitsEvaluated: 0, macs: 0, macsFull: 0, exitedEarly: false),
                                     count: dataset.count * slots)
        var times = [UInt64](repeating: 0, count: dataset.count * slots)
        var allocations = [UInt64](repeating: 0, count: dataset.count * slots)
        let workers = max(1, min(threads, dataset.count))
        try summaries.withUnsafeMutableBufferPointer { summaryOut in
        try times.withUnsafeMutableBufferPointer { timeOut in
        try allocations.withUnsafeMutableBufferPointer { allocationOut in
            nonisolated(unsafe) let (summaryOut, timeOut, allocationOut) = (summaryOut, timeOut, allocationOut)
            try Parallel.forEach(count: dataset.count, threads: threads, progress: progress,
                                 makeState: { () throws -> [Interpreter] in
                try configurations.map { (_, policy) -> Interpreter in
                    let interpreter = Interpreter(model: model)
                    try interpreter.setPolicy(policy)
                    return interpreter
                }
            }, prepare: { interpreters in
                // Warm-up on the thread that will measure: caches, branch predictors, page faults of
                // the arena, the thread's first-use allocations (shared among the threads).
                for round in 0..<(dataset.count > 0 ? max(1, (warmup + workers - 1) / workers) : 0) {
                    try dataset.inputs[round % dataset.count].withUnsafeBufferPointer { input in
                        for interpreter in interpreters {
                            let before = counting ? ee_allocation_count() : 0
                            _ = try interpreter.run(input)
                            if counting { _ = ee_allocation_count() - before }
                        }
                    }
                }
            }) { interpreters, image in
                try dataset.inputs[image].withUnsafeBufferPointer { input in
                    for (slot, interpreter) in interpreters.enumerated() {
                        let before = counting ? ee_allocation_count() : 0
                        let start = wallClock ? now() : threadCPUTime()
                        do { summaryOut[image * slots + slot] = try interpreter.run(input) } catch {
                            throw ToolError("image \(image) of the data set: \(error)")
                        }
                        let end = wallClock ? now() : threadCPUTime()
                        if counting { allocationOut[image * slots + slot] = ee_allocation_count() - before }
                        timeOut[image * slots + slot] = end - start
                    }
                }
            }
        } } }
        for image in 0..<dataset.count {
            for slot in 0..<slots {
                let summary = summaries[image * slots + slot]
                let right = summary.classIndex == dataset.labels[image]
                results[slot].images += 1
                results[slot].correct += right ? 1 : 0
                results[slot].exitCounts[summary.exitIndex] += 1
                results[slot].exitCorrect[summary.exitIndex] += right ? 1 : 0
                results[slot].totalMACs += summary.macs
                results[slot].latencies.append(Double(times[image * slots + slot]))
            }
        }
        // With several threads a run's count also includes what other threads allocated meanwhile
        // (a progress bar drawn on a terminal): zero still proves that inference allocates nothing.
        for slot in results.indices {
            results[slot].allocations = counting ? stride(from: slot, to: allocations.count, by: slots).reduce(0) { $0 + allocations[$1] } : nil
        }
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
