// Per-operator timing of whole models: the fastest thread CPU time of each operator over many
// full-network runs, so that other processes on a shared machine barely move the figures.
import EarlyExit
import EarlyExitTools
import Foundation

struct LayerResult {
    var index: Int
    var kind: String
    var shape: String
    var path: String
    /// Input 0 and output layouts: S (standard, NCHW) or C (channels-last).
    var layouts: String
    /// Convolution window "KhxKw" (empty for other operators).
    var window: String
    var macs: Int
    var executedMACs: Int
    /// Thread CPU nanoseconds: the fastest and the median run.
    var minimum: Double
    var median: Double
}

struct LayersReport {
    var model: String
    var kernels: KernelSet
    var runs: Int
    var layers: [LayerResult]
    /// Whole-run thread CPU nanoseconds (fastest and median), measured without the per-operator clock reads.
    var totalMinimum: Double
    var totalMedian: Double
}

/// Runs `model` on `images` (cycled) `runs` times, full network, and times every operator.
func profileLayers(path: String, kernels: KernelSet, images: [[Float]], runs: Int) throws -> LayersReport {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let model = try Model(bytes: bytes, kernels: kernels)
    let interpreter = Interpreter(model: model)
    try interpreter.setPolicy(.fullNetwork(earlyExitCount: model.earlyExitCount))
    let count = model.operators.count
    var samples = [[Double]](repeating: [], count: count)
    var totals: [Double] = []
    var stamps = [UInt64](repeating: 0, count: count + 1)
    for run in 0..<(runs + 10) {
        let image = images[run % images.count]
        try image.withUnsafeBufferPointer { buffer in
            stamps[0] = threadCPUTime()
            _ = try interpreter.run(buffer, afterEachOperator: { index in stamps[index + 1] = threadCPUTime() })
        }
        if run >= 10 {
            for index in 0..<count { samples[index].append(Double(stamps[index + 1] - stamps[index])) }
        }
        let start = threadCPUTime()
        try image.withUnsafeBufferPointer { buffer in _ = try interpreter.run(buffer) }
        if run >= 10 { totals.append(Double(threadCPUTime() - start)) }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    var layers: [LayerResult] = []
    for (index, op) in model.operators.enumerated() {
        var path = ""
        if let p = model.convolutionPath(of: index) { path = "\(p)" }
        func letter(_ t: Int) -> String { model.tensors[t].isConstant ? "k" : model.layouts[t] == .channelsLast ? "C" : "S" }
        layers.append(LayerResult(index: index, kind: op.kind.name, shape: "\(model.tensors[op.output].shape)", path: path,
                                  layouts: letter(op.inputs[0]) + ">" + letter(op.output),
                                  window: op.kind == .conv2d ? "\(op.geometry.kernelHeight)x\(op.geometry.kernelWidth)" : "",
                                  macs: op.macs, executedMACs: model.executedMACs(of: index),
                                  minimum: samples[index].min() ?? 0, median: median(samples[index])))
    }
    return LayersReport(model: path, kernels: kernels, runs: runs, layers: layers, totalMinimum: totals.min() ?? 0,
                        totalMedian: median(totals))
}

func printLayers(_ report: LayersReport) {
    print("layers of \(report.model), kernels \(report.kernels.description); \(report.runs) full-network runs")
    print("fastest (and median) thread CPU time per operator; GMAC/s = nominal MACs / fastest time (executed MACs differ for Winograd)")
    print("\(padded("op", 4, right: true))  \(padded("kind", 16)) \(padded("output", 14)) \(padded("layout", 6)) \(padded("path", 13)) \(padded("MACs", 9, right: true)) \(padded("executed", 9, right: true)) \(padded("min µs", 8, right: true)) \(padded("p50 µs", 8, right: true)) \(padded("GMAC/s", 7, right: true)) \(padded("exec", 7, right: true))")
    var sum = 0.0
    var convolutionTime = 0.0, convolutionMACs = 0
    for l in report.layers {
        sum += l.minimum
        if l.kind == "conv2d" && l.shape.contains(",") { convolutionTime += l.minimum; convolutionMACs += l.macs }
        let rate = l.macs > 0 && l.minimum > 0 ? fixed(Double(l.macs) / l.minimum, 1) : "-"
        let executed = l.executedMACs > 0 && l.minimum > 0 ? fixed(Double(l.executedMACs) / l.minimum, 1) : "-"
        print("\(padded("\(l.index)", 4, right: true))  \(padded(l.kind, 16)) \(padded(l.shape, 14)) \(padded(l.layouts, 6)) \(padded(l.path, 13)) \(padded("\(l.macs)", 9, right: true)) \(padded("\(l.executedMACs)", 9, right: true)) \(padded(fixed(l.minimum / 1000, 1), 8, right: true)) \(padded(fixed(l.median / 1000, 1), 8, right: true)) \(padded(rate, 7, right: true)) \(padded(executed, 7, right: true))")
    }
    print("sum of fastest per operator \(fixed(sum / 1000, 1)) µs; whole run fastest \(fixed(report.totalMinimum / 1000, 1)) µs, median \(fixed(report.totalMedian / 1000, 1)) µs (thread CPU)")
    print("convolutions: \(fixed(convolutionTime / 1000, 1)) µs, \(fixed(Double(convolutionMACs) / max(convolutionTime, 1), 1)) GMAC/s nominal")
    print("")
}

/// `--layers --json` / `--peak --json`: the peaks and every profiled operator.
func layersJSON(peaks: [PeakResult], reports: [LayersReport]) -> JSON {
    .object([
        ("cpu", .string(cpuModel())),
        ("peaks", .array(peaks.map { .object([("name", .string($0.name)), ("gmacs", .number($0.gmacs)), ("kernels", .string($0.note))]) })),
        ("profiles", .array(reports.map { r in
            .object([("model", .string(r.model)), ("kernels", .string(r.kernels.name)), ("runs", .int(r.runs)),
                     ("total_ns_min", .number(r.totalMinimum)), ("total_ns_p50", .number(r.totalMedian)),
                     ("operators", .array(r.layers.map { l in
                         .object([("index", .int(l.index)), ("kind", .string(l.kind)), ("shape", .string(l.shape)),
                                  ("path", .string(l.path)), ("window", .string(l.window)), ("layouts", .string(l.layouts)), ("macs", .int(l.macs)),
                                  ("executed_macs", .int(l.executedMACs)), ("ns_min", .number(l.minimum)), ("ns_p50", .number(l.median))])
                     }))])
        })),
    ])
}
