// `early-exit quantize MODEL.eem --calibration IMAGES -o MODEL-int8.eem`: post-training int8 quantization.
import EarlyExit

enum QuantizeCommand {
    static let spec = CommandSpec(
        name: "quantize", summary: "quantize a float32 model to int8 (TFLite scheme), calibrating on real images",
        positionals: [("MODEL", "a float32 .eem model")],
        options: [OptionSpec("--calibration", "IDX", "calibration images (IDX, plain or .gz): the validation split, never the test set"),
                  OptionSpec("--count", "N", "how many calibration images to use (default 500)"),
                  OptionSpec("--method", "METHOD", "activation ranges: minmax (default), percentile or mse"),
                  OptionSpec("--bias-correction", "N", "passes of empirical bias correction against the float model (default 1; 0 = none)"),
                  OptionSpec("-o", "FILE", "the int8 .eem file to write (required)"), Parallel.option])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        guard let images = arguments.value("--calibration") else { throw UsageError("quantize needs --calibration IDX (calibration images)") }
        guard let output = arguments.value("-o") else { throw UsageError("quantize needs -o FILE, the int8 model to write") }
        let count = try arguments.int("--count", default: 500, range: 1...1_000_000)!
        let passes = try arguments.int("--bias-correction", default: 1, range: 0...8)!
        let threads = try Parallel.threads(arguments)
        let methodName = arguments.value("--method") ?? "minmax"
        guard let method = CalibrationMethod(rawValue: methodName) else {
            throw UsageError("unknown calibration method '\(methodName)'; use minmax, percentile or mse")
        }
        let file = try IDXFile.parse(try ModelFiles.readBytes(images, what: "calibration image file"), source: images)
        try ModelFiles.requirePixelNormalization(model, pixels: images)
        if file.itemSize != model.input.elementCount {
            throw ToolError("images in '\(images)' have \(file.itemSize) pixels; the model's input \(model.input.shape) needs \(model.input.elementCount)")
        }
        let inputs = (0..<min(count, file.count)).map { ModelFiles.normalize(file.item($0), for: model) }
        var bar = ProgressBar(console: console, label: "calibrating")
        let result: (bytes: [UInt8], report: QuantizationReport)
        do {
            result = try Quantizer.quantize(model: model, calibration: inputs, method: method, biasCorrectionPasses: passes,
                                            threads: threads, progress: { bar.update($0, $1) })
        } catch let error as QuantizationError {
            throw ToolError("cannot quantize '\(arguments.positionals[0])': \(error)")
        }
        try ModelFiles.writeBytes(result.bytes, to: output, what: "model file")
        let r = result.report
        console.out("""
            quantized \(arguments.positionals[0]) -> \(output) (\(result.bytes.count) bytes), \(method.rawValue) ranges from \(r.calibrationImages) images
              bias correction: \(r.biasCorrectionPasses == 0 ? "none" : "\(r.biasCorrectedOperators) operators, \(r.biasCorrectionPasses) passes on the calibration images")
              weights: \(r.floatWeightBytes) bytes float32 -> \(r.int8WeightBytes) bytes int8 (+ per-channel scales, biases, multipliers): \(format(Double(r.floatWeightBytes) / Double(max(r.int8WeightBytes, 1)), decimals: 2))× smaller
            """)
    }
}
