// Chooses per-exit thresholds from cached exit outputs: Pareto frontier of accuracy vs MACs.
import EarlyExit
import Foundation

/// Every exit's outputs for every image, computed once by running the full network.
public struct ExitCache {
    /// [image][exit] signal value, as confidence (larger = more confident; entropy negated).
    public var confidence: [[Float]]
    /// [image][exit] whether that exit's own prediction is right.
    public var exitCorrect: [[Bool]]
    /// [image] whether the full network's (eq. 9) prediction is right.
    public var fullCorrect: [Bool]
    public var exitMACs: [Int]
    public var macsFull: Int
    public var signal: ExitSignal

    public var count: Int { fullCorrect.count }

    /// Runs the full network once per image and records every exit's signal and correctness.
    public static func build(model: Model, dataset: Dataset, signal: ExitSignal, combineSeen: Bool,
                             progress: ((Int, Int) -> Void)? = nil) throws -> ExitCache {
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
        let classes = model.classCount
        var cache = ExitCache(confidence: [], exitCorrect: [], fullCorrect: [], exitMACs: model.exits.map(\.cumulativeMACs),
                              macsFull: model.totalMACs, signal: signal)
        var work = [Float](repeating: 0, count: classes)
        var combined = [Float](repeating: 0, count: classes)
        for (index, input) in dataset.inputs.enumerated() {
            let summary = try interpreter.run(input)
            let label = dataset.labels[index]
            var confidences: [Float] = [], corrects: [Bool] = []
            var logitRows: [Float] = [], gates: [Float] = []
            for exit in 0..<model.earlyExitCount {
                let logits = Array(interpreter.logits(exit: exit))
                logitRows += logits
                gates.append(interpreter.combinationGate(exit: exit))
                // Higher is more confident for every signal: entropy is negated; `.none` reads the gate.
                let measured: Float = logits.withUnsafeBufferPointer { row in work.withUnsafeMutableBufferPointer { w in
                    ExitMath.signal(signal == .none ? .gate : signal, logits: row.baseAddress!, gate: interpreter.gate(exit: exit),
                                    count: classes, work: w.baseAddress!)
                } }
                let value = signal.higherIsConfident ? measured : -measured
                confidences.append(value)
                var predicted: Int
                if combineSeen {
                    logitRows.withUnsafeBufferPointer { rows in gates.withUnsafeBufferPointer { g in combined.withUnsafeMutableBufferPointer { out in work.withUnsafeMutableBufferPointer { w in
                        ExitMath.combine(logits: rows.baseAddress!, gates: g.baseAddress!, exitCount: exit + 1, classCount: classes,
                                         into: out.baseAddress!, work: w.baseAddress!)
                    } } } }
                    predicted = combined.withUnsafeBufferPointer { ExitMath.argmax($0.baseAddress!, count: classes) }
                } else {
                    predicted = logits.withUnsafeBufferPointer { ExitMath.argmax($0.baseAddress!, count: classes) }
                }
                corrects.append(predicted == label)
            }
            cache.confidence.append(confidences)
            cache.exitCorrect.append(corrects)
            cache.fullCorrect.append(summary.classIndex == label)
            progress?(index + 1, dataset.count)
        }
        return cache
    }

    /// The exit `image` takes under `thresholds`: the first early exit whose confidence reaches
    /// its threshold, or −1 for the full network.
    @inline(__always)
    public func exitTaken(_ thresholds: [Float], image: Int) -> Int {
        for exit in 0..<thresholds.count where confidence[image][exit] >= thresholds[exit] { return exit }
        return -1
    }

    /// The share of `images` that take the same exit under `thresholds` in this cache and in
    /// `other` (the same images run by another model, for example its int8 quantization).
    public func agreement(_ thresholds: [Float], images: [Int], with other: ExitCache) -> Double {
        var same = 0
        for image in images where exitTaken(thresholds, image: image) == other.exitTaken(thresholds, image: image) { same += 1 }
        return Double(same) / Double(max(images.count, 1))
    }

    /// Accuracy and mean MACs (as a fraction of the full network) of a threshold setting over `images`.
    public func evaluate(_ thresholds: [Float], images: [Int]) -> (accuracy: Double, macFraction: Double) {
        var correct = 0
        var macs = 0
        for image in images {
            let taken = exitTaken(thresholds, image: image)
            if taken >= 0 {
                correct += exitCorrect[image][taken] ? 1 : 0
                macs += exitMACs[taken]
            } else {
                correct += fullCorrect[image] ? 1 : 0
                macs += macsFull
            }
        }
        let n = Double(max(images.count, 1))
        return (Double(correct) / n, Double(macs) / n / Double(max(macsFull, 1)))
    }
}

/// One evaluated threshold setting.
public struct TuningPoint {
    public var thresholds: [Float]
    public var accuracy: Double
    public var macFraction: Double
    /// The share of images whose exit is the same for the tuned model and the model it must
    /// agree with (`tune --agree-with`); nil when there is none.
    public var agreement: Double?
}

/// Searches per-exit thresholds for the accuracy–MAC Pareto frontier.
public enum ThresholdTuner {
    /// Candidate thresholds for one exit: quantiles of its confidence over `images`, plus
    /// +infinity (never exit there).
    static func candidates(_ cache: ExitCache, exit: Int, images: [Int], count: Int) -> [Float] {
        let values = images.map { cache.confidence[$0][exit] }.sorted()
        var result: [Float] = [.infinity]
        guard !values.isEmpty else { return result }
        for step in 0..<count {
            // Upper quantiles matter most: exits fire on the most confident images first.
            let q = 1 - pow2(Double(step + 1) / Double(count))
            let index = min(values.count - 1, max(0, Int(q * Double(values.count - 1))))
            result.append(values[index])
        }
        return Array(Set(result)).sorted()
    }

    static func pow2(_ x: Double) -> Double { x * x }

    /// Every setting of a grid over per-exit candidates (exhaustive when the grid is small,
    /// otherwise coordinate descent from several starts), evaluated on `images`.
    public static func search(_ cache: ExitCache, images: [Int], exitCount: Int, budget: Int = 40_000) -> [TuningPoint] {
        var perExit = max(4, Int(pow(Double(budget), 1 / Double(max(exitCount, 1)))))
        perExit = min(perExit, 64)
        let grids = (0..<exitCount).map { candidates(cache, exit: $0, images: images, count: perExit) }
        var points: [TuningPoint] = []
        var total = 1
        for grid in grids { total = total.multipliedReportingOverflow(by: grid.count).overflow ? Int.max : total * grid.count }
        if total <= budget * 2 {
            var index = [Int](repeating: 0, count: exitCount)
            while true {
                let thresholds = (0..<exitCount).map { grids[$0][index[$0]] }
                let (accuracy, fraction) = cache.evaluate(thresholds, images: images)
                points.append(TuningPoint(thresholds: thresholds, accuracy: accuracy, macFraction: fraction))
                var axis = 0
                while axis < exitCount {
                    index[axis] += 1
                    if index[axis] < grids[axis].count { break }
                    index[axis] = 0
                    axis += 1
                }
                if axis == exitCount { break }
            }
        } else {
            // Coordinate sweeps: vary one exit's threshold at a time from a set of starting points.
            for startLevel in stride(from: 0, to: perExit, by: max(1, perExit / 8)) {
                var current = grids.map { $0[min(startLevel, $0.count - 1)] }
                for _ in 0..<3 {
                    for axis in 0..<exitCount {
                        for candidate in grids[axis] {
                            var trial = current
                            trial[axis] = candidate
                            let (accuracy, fraction) = cache.evaluate(trial, images: images)
                            points.append(TuningPoint(thresholds: trial, accuracy: accuracy, macFraction: fraction))
                        }
                        current = points.suffix(grids[axis].count).max { a, b in
                            (a.accuracy - a.macFraction * 0.01) < (b.accuracy - b.macFraction * 0.01)
                        }!.thresholds
                    }
                }
            }
        }
        return points
    }

    /// The points no other point beats in both accuracy and MACs, by increasing MACs.
    public static func frontier(_ points: [TuningPoint]) -> [TuningPoint] {
        let sorted = points.sorted { $0.macFraction != $1.macFraction ? $0.macFraction < $1.macFraction : $0.accuracy > $1.accuracy }
        var result: [TuningPoint] = []
        var best = -1.0
        for point in sorted where point.accuracy > best {
            result.append(point)
            best = point.accuracy
        }
        return result
    }
}
