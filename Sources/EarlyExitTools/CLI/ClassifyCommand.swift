// `early-exit classify MODEL --images IDX`: one `index exit class macs` line per image, then
// totals, exactly as the C example (Examples/c/classify.c) prints them, for comparison.
import EarlyExit

enum ClassifyCommand {
    static let spec = CommandSpec(
        name: "classify", summary: "classify an IDX image file: one 'index exit class macs' line per image, then totals",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--images", "IDX", "an IDX image file, plain or .gz (required)"),
                  OptionSpec("--labels", "IDX", "the matching IDX label file, to report accuracy"),
                  OptionSpec("--limit", "N", "classify only the first N images"), Parallel.option] + PolicyOptions.options)

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        guard let imagesPath = arguments.value("--images") else { throw UsageError("classify needs --images IDX") }
        let limit = try arguments.int("--limit", range: 0...Int(Int32.max))
        let policy = try PolicyOptions.policy(arguments, model: model)
        let threads = try Parallel.threads(arguments)

        var inputs: [[Float]]
        var labels: [Int]?
        if let labelsPath = arguments.value("--labels") {
            let dataset = try ModelFiles.loadDataset(images: imagesPath, labels: labelsPath, for: model, limit: limit)
            inputs = dataset.inputs
            labels = dataset.labels
        } else {
            let images = try IDXFile.parse(try ModelFiles.readBytes(imagesPath, what: "image file"), source: imagesPath)
            try ModelFiles.requirePixelNormalization(model, pixels: imagesPath)
            if images.itemSize != model.input.elementCount {
                throw ToolError("images in '\(imagesPath)' have \(images.itemSize) pixels; the model's input \(model.input.shape) needs \(model.input.elementCount)")
            }
            let count = min(images.count, limit ?? images.count)
            inputs = (0..<count).map { ModelFiles.normalize(images.item($0), for: model) }
        }

        var lines: [String] = []
        lines.reserveCapacity(inputs.count + 3)
        var totalMACs: UInt64 = 0
        var correct: UInt64 = 0
        // One interpreter per thread; each image's summary lands at its index, printed in order.
        var summaries = [RunSummary](repeating: RunSummary(exitIndex: 0, classIndex: 0, exitsEvaluated: 0, macs: 0, macsFull: 0, exitedEarly: false),
                                     count: inputs.count)
        try summaries.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            try Parallel.forEach(count: inputs.count, threads: threads, makeState: { () throws -> Interpreter in
                let interpreter = Interpreter(model: model)
                try interpreter.setPolicy(policy)
                return interpreter
            }) { interpreter, index in
                out[index] = try interpreter.run(inputs[index])
            }
        }
        for (index, summary) in summaries.enumerated() {
            lines.append("\(index) \(summary.exitIndex) \(summary.classIndex) \(summary.macs)")
            totalMACs += UInt64(summary.macs)
            if let labels, labels[index] == summary.classIndex { correct += 1 }
        }
        lines.append(contentsOf: totals(images: UInt64(inputs.count), correct: labels == nil ? nil : correct,
                                        totalMACs: totalMACs, fullMACs: UInt64(model.totalMACs)))
        console.out(lines.joined(separator: "\n"))
    }

    /// The totals lines, with the C example's integer arithmetic (rounded half up).
    static func totals(images n: UInt64, correct: UInt64?, totalMACs: UInt64, fullMACs: UInt64) -> [String] {
        var lines = ["images: \(n)"]
        guard n > 0 else { return lines }
        if let correct {
            let accuracy = (correct * 10000 + n / 2) / n
            lines.append("accuracy: \(accuracy / 100).\(twoDigits(accuracy % 100))% (\(correct) of \(n))")
        }
        let mean = (totalMACs * 100 + n / 2) / n
        let fullTotal = fullMACs * n
        let saved = fullTotal > 0 ? ((fullTotal - totalMACs) * 10000 + fullTotal / 2) / fullTotal : 0
        lines.append("mean MACs: \(mean / 100).\(twoDigits(mean % 100)) of \(fullMACs) (\(saved / 100).\(twoDigits(saved % 100))% saved)")
        return lines
    }

    static func twoDigits(_ value: UInt64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
