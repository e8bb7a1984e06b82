// `early-exit convert MODEL.onnx -o MODEL.eem`: ONNX in, validated `.eem` out.
import EarlyExit
import Foundation

enum ConvertCommand {
    static let spec = CommandSpec(
        name: "convert", summary: "convert an ONNX model to .eem (exits by the naming convention, by --exit/--final, or a plain classifier's only output)",
        positionals: [("MODEL.onnx", "an ONNX file (external data side files are read from its folder)")],
        options: [OptionSpec("-o", "FILE", "the .eem file to write (required)"),
                  OptionSpec("--exit", "LOGITS[,GATE]", "an early exit's logits (and gate) value names; repeat in order of depth", repeatable: true),
                  OptionSpec("--final", "LOGITS[,GATE]", "the final head's logits (and gate) value names"),
                  OptionSpec("--classes", "FILE", "class names, one per line"),
                  OptionSpec("--mean", "M[,M...]", "input normalization mean (per channel or one value), applied after x/255; overrides the ONNX metadata"),
                  OptionSpec("--std", "S[,S...]", "input normalization standard deviation; overrides the ONNX metadata"),
                  OptionSpec("--plain-pixels", nil, "the network takes x/255 in [0, 1] without normalization"),
                  OptionSpec("--name", "TEXT", "a model name stored in the file"),
                  OptionSpec("--threshold", "T", "the threshold stored for every early exit (default 0.9; tune chooses better ones)")])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let source = arguments.positionals[0]
        guard let output = arguments.value("-o") else { throw UsageError("convert needs -o FILE, the .eem file to write") }
        var options = ConversionOptions()
        options.name = arguments.value("--name") ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        if let path = arguments.value("--classes") {
            let text = String(decoding: try ModelFiles.readBytes(path, what: "class names file"), as: UTF8.self)
            options.classNames = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        for text in arguments.repeatedValues["--exit"] ?? [] {
            guard let naming = ExitNaming(argument: text) else { throw UsageError("--exit '\(text)' is not LOGITS or LOGITS,GATE (graph value names)") }
            options.exits.append(naming)
        }
        if let text = arguments.value("--final") {
            guard let naming = ExitNaming(argument: text) else { throw UsageError("--final '\(text)' is not LOGITS or LOGITS,GATE (graph value names)") }
            options.final = naming
        }
        options.mean = try arguments.doubles("--mean")?.map { Float($0) } ?? []
        options.std = try arguments.doubles("--std")?.map { Float($0) } ?? []
        if options.mean.count != options.std.count {
            throw UsageError("--mean has \(options.mean.count) values but --std has \(options.std.count)")
        }
        if options.std.contains(where: { $0 <= 0 }) { throw UsageError("--std values must be positive") }
        if !options.mean.isEmpty { options.normalizationSource = "from --mean/--std" }
        if arguments.flag("--plain-pixels") {
            if !options.mean.isEmpty { throw UsageError("--plain-pixels and --mean/--std exclude each other") }
            (options.mean, options.std) = ([0], [1])
            options.normalizationSource = "--plain-pixels: x/255 in [0, 1], not normalized"
        }
        if let threshold = try arguments.double("--threshold") { options.defaultGateThreshold = Float(threshold) }
        let result: (bytes: [UInt8], report: ConversionReport)
        do {
            result = try ONNXConverter.convert(onnxFile: URL(fileURLWithPath: source), options: options)
        } catch let error as ONNXError {
            if case .unreadableFile = error.reason { throw ToolError("cannot read ONNX file '\(source)': \(error)") }
            let hint = ModelFiles.startsWithModelMagic(source) ? " (it is an EarlyExit .eem model already: convert reads ONNX; use info, run or bench on it)" : ""
            throw ToolError("'\(source)' is not a readable ONNX file: \(error)\(hint)")
        } catch let error as ConversionError {
            throw ToolError("cannot convert '\(source)': \(error)")
        }
        let model = try Model(bytes: result.bytes)
        if !options.classNames.isEmpty && options.classNames.count != model.classCount {
            throw ToolError("the class names file has \(options.classNames.count) names, the model has \(model.classCount) classes")
        }
        try ModelFiles.writeBytes(result.bytes, to: output, what: "model file")
        let r = result.report
        var text = """
            converted \(source) -> \(output) (\(result.bytes.count) bytes)
              \(r.onnxNodes) ONNX nodes -> \(r.operators) operators (\(r.foldedBatchNorms) batch norms folded into convolutions, \(r.fusedActivations) ReLUs fused, \(r.foldedConstantNodes) constant nodes folded, \(r.removedNodes) unused removed)
              exits: \(r.exits.joined(separator: ", ")); \(model.totalMACs) MACs for the full network; arena \(model.plan.arenaBytes) bytes
            """
        text += "\n  exit tensors (\(r.exitsFoundBy)): " + zip(r.exits, r.exitNamings).map { "\($0) = \($1.description)" }.joined(separator: ", ")
        if !r.ignoredOutputs.isEmpty { text += "\n  graph outputs that are not exits (ignored): \(r.ignoredOutputs.joined(separator: ", "))" }
        text += "\n  stored policy: \(r.policy)"
        text += "\n  input normalization: " + normalizationLine(r)
        for line in LateExits.warnings(model) { text += "\n  warning: \(line)" }
        console.out(text)
    }

    static func normalizationLine(_ r: ConversionReport) -> String {
        if r.mean.isEmpty {
            return "none recorded (neither --mean/--std nor ONNX metadata_props \(ONNXConverter.meanKey)/\(ONNXConverter.stdKey)): float32 .npy inputs are used as they are, but 8-bit images (IDX) will be refused until the model is converted with --mean/--std, or --plain-pixels if it takes x/255 in [0, 1]"
        }
        let values = "mean \(r.mean.map { "\($0)" }.joined(separator: ",")), std \(r.std.map { "\($0)" }.joined(separator: ","))"
        return "\(values), \(r.normalizationSource)"
    }
}
