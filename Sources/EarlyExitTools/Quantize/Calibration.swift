// Activation ranges of a float model over calibration images: min/max, percentile or MSE.
import EarlyExit

/// How activation ranges are chosen from calibration statistics.
public enum CalibrationMethod: String, CaseIterable {
    /// The observed minimum and maximum.
    case minmax
    /// The 0.01st and 99.99th percentiles: outliers are clipped.
    case percentile
    /// The clipping range that minimizes the expected squared quantization error.
    case mse
}

/// Per-tensor statistics collected by running the float model with tracing.
public struct ActivationStatistics {
    public static let bins = 2048
    public var minimum: [Float]
    public var maximum: [Float]
    /// [tensor][bin] counts over [minimum, maximum] (empty until the second pass).
    public var histograms: [[Int]]

    /// Runs the float model over `inputs` and records every activation's range (and, for
    /// percentile and MSE, a histogram in a second pass).
    public static func collect(model: Model, inputs: [[Float]], method: CalibrationMethod, threads: Int = 1,
                               progress: ((Int, Int) -> Void)? = nil) throws -> ActivationStatistics {
        let count = model.tensors.count
        var stats = ActivationStatistics(minimum: [Float](repeating: .infinity, count: count),
                                         maximum: [Float](repeating: -.infinity, count: count), histograms: [])
        let passes = method == .minmax ? 1 : 2
        let outputs = model.operators.map(\.output)
        // Each thread keeps its own minima, maxima or histogram counts; merging them (min, max,
        // integer sums) gives the same statistics for any thread count.
        struct Worker {
            let interpreter: Interpreter
            var stats: ActivationStatistics
        }
        for pass in 0..<passes {
            let start = stats
            let workers = try Parallel.states(count: inputs.count, threads: threads,
                                               progress: progress.map { report in { done, _ in report(pass * inputs.count + done, passes * inputs.count) } },
                                               makeState: { () throws -> Worker in
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
                var local = start
                if pass == 1 { local.histograms = [[Int]](repeating: [Int](repeating: 0, count: bins), count: count) }
                return Worker(interpreter: interpreter, stats: local)
            }) { worker, index in
                let interpreter = worker.interpreter
                // The model input is an activation too: its range is what the calibration images
                // span (the quantizer replaces it by the pixel range when the model records a
                // normalization).
                worker.stats.record(inputs[index][...], tensor: model.inputTensor, pass: pass)
                try inputs[index].withUnsafeBufferPointer { buffer in
                    _ = try interpreter.run(buffer) { op in
                        let tensor = outputs[op]
                        worker.stats.record(interpreter.values(of: tensor), tensor: tensor, pass: pass)
                    }
                }
            }
            if pass == 0 {
                for worker in workers {
                    for tensor in 0..<count {
                        stats.minimum[tensor] = min(stats.minimum[tensor], worker.stats.minimum[tensor])
                        stats.maximum[tensor] = max(stats.maximum[tensor], worker.stats.maximum[tensor])
                    }
                }
            } else {
                stats.histograms = [[Int]](repeating: [Int](repeating: 0, count: bins), count: count)
                for worker in workers {
                    for tensor in 0..<count {
                        for bin in 0..<bins { stats.histograms[tensor][bin] += worker.stats.histograms[tensor][bin] }
                    }
                }
            }
        }
        return stats
    }

    /// Adds a tensor's values to its range (pass 0) or its histogram (pass 1).
    mutating func record<Values: Collection>(_ values: Values, tensor: Int, pass: Int) where Values.Element == Float {
        if pass == 0 {
            var low = minimum[tensor], high = maximum[tensor]
            for value in values { low = min(low, value); high = max(high, value) }
            minimum[tensor] = low
            maximum[tensor] = high
        } else {
            let low = minimum[tensor], high = maximum[tensor]
            let bins = ActivationStatistics.bins
            let scale = Float(bins) / max(high - low, 1e-12)
            histograms[tensor].withUnsafeMutableBufferPointer { histogram in
                for value in values {
                    // Clamped as a float: a hostile model's NaN or infinite
                    // activations must not reach the Int conversion.
                    let position = (value - low) * scale
                    let bin = position >= 0 ? Int(min(position, Float(bins - 1))) : 0
                    histogram[bin] += 1
                }
            }
        }
    }

    /// The range chosen for a tensor by `method`; always contains 0.
    public func range(of tensor: Int, method: CalibrationMethod) -> (Float, Float) {
        var low = minimum[tensor], high = maximum[tensor]
        if !low.isFinite || !high.isFinite { return (0, 1) }
        if method != .minmax && !histograms.isEmpty {
            let histogram = histograms[tensor]
            let width = (high - low) / Float(ActivationStatistics.bins)
            switch method {
            case .percentile:
                let total = histogram.reduce(0, +)
                let cut = max(1, total / 10_000)
                var seen = 0, first = 0
                while first < histogram.count - 1 && seen + histogram[first] < cut { seen += histogram[first]; first += 1 }
                seen = 0
                var last = histogram.count - 1
                while last > first && seen + histogram[last] < cut { seen += histogram[last]; last -= 1 }
                (low, high) = (low + Float(first) * width, low + Float(last + 1) * width)
            case .mse:
                (low, high) = ActivationStatistics.bestClipping(histogram, low: low, high: high)
            case .minmax:
                break
            }
        }
        return (min(low, 0), max(high, 0))
    }

    /// Shrinks both ends of [low, high] by a common factor, choosing the factor with the least
    /// expected squared error (rounding error inside the range, clipping error outside).
    static func bestClipping(_ histogram: [Int], low: Float, high: Float) -> (Float, Float) {
        let width = Double(high - low) / Double(histogram.count)
        var best = (Double.infinity, low, high)
        for step in 0...40 {
            let factor = 1 - Double(step) * 0.02
            let clippedLow = Double(min(low, 0)) * factor, clippedHigh = Double(max(high, 0)) * factor
            let scale = max((clippedHigh - clippedLow) / 255, 1e-12)
            var error = 0.0
            for (bin, count) in histogram.enumerated() where count > 0 {
                let center = Double(low) + (Double(bin) + 0.5) * width
                if center < clippedLow {
                    error += Double(count) * (clippedLow - center) * (clippedLow - center)
                } else if center > clippedHigh {
                    error += Double(count) * (center - clippedHigh) * (center - clippedHigh)
                } else {
                    error += Double(count) * scale * scale / 12
                }
            }
            if error < best.0 { best = (error, Float(clippedLow), Float(clippedHigh)) }
        }
        return (best.1, best.2)
    }
}
