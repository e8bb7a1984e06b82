// `early-exit run MODEL INPUT`: one inference, with the exit taken, class, gates and MACs.
import EarlyExit

enum RunCommand {
    static let spec = CommandSpec(
        name: "run", summary: "classify one input and report the exit taken, class, scores, gates and MACs",
        positionals: [("MODEL", "an .eem model file"), ("INPUT", "a float32 .npy tensor, or an IDX image file (plain or .gz) with --index")],
        options: [OptionSpec("--index", "N", "which image of an IDX file")] + PolicyOptions.options + [
            OptionSpec("--all-exits", nil, "run the full network and also report every exit's logits and gate"),
            OptionSpec("--json", nil, "print JSON"),
        ])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        let index = try arguments.int("--index", range: 0...Int(Int32.max))
        let input = try ModelFiles.loadInput(arguments.positionals[1], index: index, for: model)
        var policy = try PolicyOptions.policy(arguments, model: model)
        let allExits = arguments.flag("--all-exits")
        if allExits { policy = ExitPolicy(signal: .none, thresholds: policy.thresholds, combineSeenExits: policy.combineSeenExits) }
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(policy)
        let summary: RunSummary
        do { summary = try interpreter.run(input) } catch {
            throw ToolError("'\(arguments.positionals[1])'\(index.map { " image \($0)" } ?? "") through '\(arguments.positionals[0])': \(error)")
        }
        let scores = Array(interpreter.scores)
        let gates = (0..<summary.exitsEvaluated).map { interpreter.gate(exit: $0) }
        let className = summary.classIndex < model.metadata.classNames.count ? model.metadata.classNames[summary.classIndex] : ""

        if arguments.flag("--json") {
            var pairs: [(String, JSON)] = [
                ("exit", .int(summary.exitIndex)),
                ("exit_name", .string(exitName(summary.exitIndex, model))),
                ("early", .bool(summary.exitedEarly)),
                ("class", .int(summary.classIndex)),
                ("class_name", .string(className)),
                ("scores", .floats(scores)),
                ("gates", .floats(gates)),
                ("macs", .int(summary.macs)),
                ("macs_full", .int(summary.macsFull)),
                ("macs_saved", .int(summary.macsSaved)),
                ("policy", .string(policy.signal.name)),
            ]
            if allExits {
                pairs.append(("exits", .array((0..<model.exits.count).map { exit in
                    .object([("name", .string(exitName(exit, model))), ("logits", .floats(Array(interpreter.logits(exit: exit)))),
                             ("gate", .number(Double(interpreter.gate(exit: exit))))])
                })))
            }
            console.out(JSON.object(pairs).text)
            return
        }
        var text = "exit:    \(exitName(summary.exitIndex, model))"
        text += summary.exitedEarly ? " (early, \(summary.exitIndex + 1) of \(model.exits.count) exits evaluated)" : " (full network)"
        text += "\nclass:   \(summary.classIndex)\(className.isEmpty ? "" : " (\(className))")"
        text += "\nscores:  \(scores.map { format($0) }.joined(separator: " "))"
        text += "\ngates:   \(gates.enumerated().map { "\(exitName($0.offset, model))=\(model.exits[$0.offset].hasGate ? format($0.element) : "none")" }.joined(separator: " "))"
        text += "\nMACs:    \(summary.macs) of \(summary.macsFull) executed, \(summary.macsSaved) saved (\(percent(summary.macsSaved, summary.macsFull)))"
        if allExits {
            for exit in 0..<model.exits.count {
                text += "\n\(pad(exitName(exit, model), 7)) gate \(format(interpreter.gate(exit: exit))) logits \(interpreter.logits(exit: exit).map { format($0) }.joined(separator: " "))"
            }
        }
        console.out(text)
    }
}

/// A float with four decimals, for tables.
func format(_ value: Float) -> String {
    // Large values keep Float's own shortest form ("1e+20", not the Double digits of the Float).
    if value.isFinite && !(abs(value) < 9e14) { return "\(value)" }
    return format(Double(value), decimals: 4)
}

func format(_ value: Double, decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    // When value × 10^decimals does not fit an Int, the digits below cannot be formed: Swift's
    // shortest round-trip form (e.g. "1e+30") is exact and never traps.
    if !value.isFinite || !(abs(value) * scale < 9e18) { return "\(value)" }
    let rounded = (abs(value) * scale).rounded()
    let whole = Int(rounded / scale)
    var fraction = String(Int(rounded.truncatingRemainder(dividingBy: scale)))
    while fraction.count < decimals { fraction = "0" + fraction }
    let sign = value < 0 && rounded != 0 ? "-" : ""
    return decimals == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
}
