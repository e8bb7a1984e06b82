// `early-exit convert MODEL.onnx -o MODEL.eem`: ONNX in, validated `.eem` out.
import EarlyExit
import Foundation

enum ConvertCommand {
    static let spec = CommandSpec(
        name: "convert", summary: "convert an ONNX model that follows the exit naming convention to .eem",
        positionals: [("MODEL.onnx", "an ONNX file with outputs exit{i}_logits, exit{i}_gate, final_logits, final_gate")],
        options: [OptionSpec("-o", "FILE", "the .eem file to write (required)"),
                  OptionSpec("--classes", "FILE", "class names, one per line"),
                  OptionSpec("--mean", "M[,M...]", "input normalization mean (per channel or one value), applied after x/255"),
                  OptionSpec("--std", "S[,S...]", "input normalization standard deviation"),
                  OptionSpec("--name", "TEXT", "a model name stored in the file"),
                  OptionSpec("--threshold", "T", "the gate threshold stored for every early exit (default 0.9; tune chooses better ones)")])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let source = arguments.positionals[0]
        guard let output = arguments.value("-o") else { throw UsageError("convert needs -o FILE, the .eem file to write") }
        var options = ConversionOptions()
        options.name = arguments.value("--name") ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        if let path = arguments.value("--classes") {
            let text = String(decoding: try ModelFiles.readBytes(path, what: "class names file"), as: UTF8.self)
            options.classNames = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        options.mean = try arguments.doubles("--mean")?.map { Float($0) } ?? []
        options.std = try arguments.doubles("--std")?.map { Float($0) } ?? []
        if options.mean.count != options.std.count {
            throw UsageError("--mean has \(options.mean.count) values but --std has \(options.std.count)")
        }
        if options.std.contains(where: { $0 <= 0 }) { throw UsageError("--std values must be positive") }
        if let threshold = try arguments.double("--threshold") { options.defaultGateThreshold = Float(threshold) }
        let onnx = try ModelFiles.readBytes(source, what: "ONNX file")
        let result: (bytes: [UInt8], report: ConversionReport)
        do {
            result = try ONNXConverter.convert(onnx: onnx, options: options)
        } catch let error as ONNXError {
            throw ToolError("'\(source)' is not a readable ONNX file: \(error)")
        } catch let error as ConversionError {
            throw ToolError("cannot convert '\(source)': \(error)")
        }
        let model = try Model(bytes: result.bytes)
        if !options.classNames.isEmpty && options.classNames.count != model.classCount {
            throw ToolError("the class names file has \(options.classNames.count) names, the model has \(model.classCount) classes")
        }
        try ModelFiles.writeBytes(result.bytes, to: output, what: "model file")
        let r = result.report
        console.out("""
            converted \(source) -> \(output) (\(result.bytes.count) bytes)
              \(r.onnxNodes) ONNX nodes -> \(r.operators) operators (\(r.foldedBatchNorms) batch norms folded into convolutions, \(r.fusedActivations) ReLUs fused, \(r.foldedConstantNodes) constant nodes folded, \(r.removedNodes) unused removed)
              exits: \(r.exits.joined(separator: ", ")); \(model.totalMACs) MACs for the full network; arena \(model.plan.arenaBytes) bytes
            """)
    }
}
