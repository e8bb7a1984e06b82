// `early-exit run MODEL INPUT`: one inference, with the exit taken, class, probabilities, gates and MACs.
import EarlyExit
import Foundation

enum RunCommand {
    static let spec = CommandSpec(
        name: "run", summary: "classify one input and report the exit taken, class, probabilities, gates and MACs",
        positionals: [("MODEL", "an .eem model file"),
                      ("INPUT", "an IDX image file (plain or .gz) with --index, or an .npy array (see inputs below)")],
        options: [OptionSpec("--index", "N", "which image of an IDX file"),
                  OptionSpec("--pixels", nil, "the .npy holds 8-bit pixels (0-255), whatever its dtype: normalize them"),
                  OptionSpec("--normalized", nil, "the .npy holds the network's input as is, whatever its dtype")]
            + PolicyOptions.options + [
            OptionSpec("--all-exits", nil, "run the full network and also report every exit's logits and gate"),
            OptionSpec("--json", nil, "print JSON"),
        ],
        notes: """
            inputs:
              IDX image files hold 8-bit pixels: each is normalized with the model's stored mean and std,
              (x/255 - mean) / std, before the network sees it (`early-exit info` shows them).
              An .npy array's dtype says what it holds: integers (uint8, or any integer type with values
              0-255) are 8-bit pixels, normalized the same way; floats (float32, float64) are the network's
              input as is, already normalized. --pixels or --normalized overrides the dtype.
              A model that stores no mean/std refuses pixels: store them with `early-exit convert --mean --std`.
            output:
              probabilities: the softmax of the exit's logits when it exits early; at full depth (or with
              --combine) the softmax of eq. 9, the evaluated exits' log-probabilities weighted by a softmax over
              their gates. gates: each evaluated exit's tanh confidence, in [-1, 1]. --json also gives the raw
              log-probabilities ("log_probabilities") and says which of the two they are ("log_probabilities_of").
            """)

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let model = try ModelFiles.loadModel(arguments.positionals[0])
        let index = try arguments.int("--index", range: 0...Int(Int32.max))
        if arguments.flag("--pixels") && arguments.flag("--normalized") { throw UsageError("give --pixels or --normalized, not both") }
        let meaning: InputMeaning? = arguments.flag("--pixels") ? .pixels : arguments.flag("--normalized") ? .normalized : nil
        let loaded = try ModelFiles.loadInput(arguments.positionals[1], index: index, for: model, as: meaning)
        var policy = try PolicyOptions.policy(arguments, model: model)
        let allExits = arguments.flag("--all-exits")
        if allExits { policy = ExitPolicy(signal: .none, thresholds: policy.thresholds, combineSeenExits: policy.combineSeenExits) }
        let interpreter = Interpreter(model: model)
        try interpreter.setPolicy(policy)
        let summary: RunSummary
        do { summary = try interpreter.run(loaded.values) } catch {
            throw ToolError("'\(arguments.positionals[1])'\(index.map { " image \($0)" } ?? "") through '\(arguments.positionals[0])': \(error)")
        }
        let scores = Array(interpreter.scores)
        let probabilities = softmax(scores)
        let gates = (0..<summary.exitsEvaluated).map { interpreter.gate(exit: $0) }
        let className = summary.classIndex < model.metadata.classNames.count ? model.metadata.classNames[summary.classIndex] : ""
        let combined = !summary.exitedEarly || policy.combineSeenExits
        let source = combined
            ? "eq. 9 over exits 1-\(summary.exitsEvaluated): their log-probabilities weighted by a softmax over their gates"
            : "\(exitName(summary.exitIndex, model))'s logits"
        let inputText = loaded.meaning == .pixels
            ? "8-bit pixels (\(loaded.dtype)), normalized with the model's mean and std"
            : "the network's input as is (\(loaded.dtype))"

        if arguments.flag("--json") {
            var pairs: [(String, JSON)] = [
                ("input", .string(loaded.meaning.rawValue)),
                ("exit", .int(summary.exitIndex)),
                ("exit_name", .string(exitName(summary.exitIndex, model))),
                ("early", .bool(summary.exitedEarly)),
                ("class", .int(summary.classIndex)),
                ("class_name", .string(className)),
                ("probability", .number(Double(probabilities[summary.classIndex]))),
                ("probabilities", .floats(probabilities)),
                ("log_probabilities", .floats(scores)),
                ("log_probabilities_of", .string(combined ? "eq9_combination" : "exit_log_softmax")),
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
        var text = "input:   \(inputText)"
        text += "\nexit:    \(exitName(summary.exitIndex, model))"
        text += summary.exitedEarly ? " (early, \(summary.exitIndex + 1) of \(model.exits.count) exits evaluated)" : " (full network)"
        text += "\nclass:   \(summary.classIndex)\(className.isEmpty ? "" : " (\(className))"), probability \(format(probabilities[summary.classIndex]))"
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
        let shown = order.prefix(10)
        text += "\nprobabilities (softmax of \(source)), highest first:"
        let nameWidth = shown.map { model.metadata.classNames.indices.contains($0) ? model.metadata.classNames[$0].count : 0 }.max() ?? 0
        for c in shown {
            let name = c < model.metadata.classNames.count ? model.metadata.classNames[c] : ""
            text += "\n  \(pad(String(c), 4)) \(nameWidth > 0 ? pad(name, nameWidth) + "  " : "")\(format(probabilities[c]))"
        }
        if order.count > shown.count {
            text += "\n  (\(order.count - shown.count) more classes, each at most \(format(probabilities[order[shown.count]])))"
        }
        text += "\ngates:   \(gates.enumerated().map { "\(exitName($0.offset, model))=\(model.exits[$0.offset].hasGate ? format($0.element) : "none")" }.joined(separator: " "))"
        text += " (tanh confidence in [-1, 1])"
        if policy.signal != .none {
            text += "\npolicy:  \((0..<model.earlyExitCount).map { "\(exitName($0, model)): \(PolicyDescription.rule(policy, exit: $0))" }.joined(separator: "; "))"
        } else {
            text += "\npolicy:  none (full network)"
        }
        text += "\nMACs:    \(summary.macs) of \(summary.macsFull) executed, \(summary.macsSaved) saved (\(percent(summary.macsSaved, summary.macsFull)))"
        if allExits {
            for exit in 0..<model.exits.count {
                text += "\n\(pad(exitName(exit, model), 7)) gate \(format(interpreter.gate(exit: exit))) logits \(interpreter.logits(exit: exit).map { format($0) }.joined(separator: " "))"
            }
        }
        console.out(text)
    }

    /// The softmax of `scores`, computed in Double: exp(s − max) / Σ exp(s − max).
    static func softmax(_ scores: [Float]) -> [Float] {
        guard let peak = scores.max() else { return [] }
        let exps = scores.map { Foundation.exp(Double($0) - Double(peak)) }
        let total = exps.reduce(0, +)
        return exps.map { Float($0 / total) }
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
