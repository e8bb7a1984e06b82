// `early-exit info MODEL`: operators, tensors, exits with cumulative MACs, arena and weights.
import EarlyExit

enum InfoCommand {
    static let spec = CommandSpec(
        name: "info", summary: "describe a model: operators, exits and their cumulative MACs, arena and weight bytes",
        positionals: [("MODEL", "an .eem model file")],
        options: [OptionSpec("--json", nil, "print JSON instead of text"),
                  OptionSpec("--operators", nil, "list every operator (text output)")])

    static func run(_ arguments: ParsedArguments, _ console: Console) throws {
        let path = arguments.positionals[0]
        let model = try ModelFiles.loadModel(path)
        if arguments.flag("--json") {
            console.out(json(model, path: path).text)
            return
        }
        let plan = model.plan
        var text = "model:      \(model.metadata.name.isEmpty ? path : model.metadata.name) (\(model.byteCount) bytes, format 1.\(model.versionMinor))\n"
        text += "input:      \(model.input.shape) \(model.input.dataType.name)"
        if !model.metadata.mean.isEmpty {
            text += ", normalized (x/255 - \(model.metadata.mean.map { "\($0)" }.joined(separator: ","))) / \(model.metadata.std.map { "\($0)" }.joined(separator: ","))"
        } else {
            text += ", no normalization recorded (8-bit images are refused; .npy tensors are used as they are)"
        }
        text += "\nclasses:    \(model.classCount)"
        if !model.metadata.classNames.isEmpty { text += " (\(model.metadata.classNames.joined(separator: ", ")))" }
        let weightTypes = Set(model.tensors.filter(\.isConstant).map(\.dataType.name)).sorted().joined(separator: "+")
        text += "\ntensors:    \(model.tensors.count) (\(model.tensors.filter(\.isConstant).count) constant)"
        text += "\noperators:  \(model.operators.count)"
        text += "\nweights:    \(model.weightBytes) bytes (\(weightTypes))"
        text += "\nprepared:   \(model.preparedBytes) bytes allocated at load for the kernels (weights packed for them, Winograd-transformed filters, folded biases, indirection tables)"
        text += "\nkernels:    \(model.kernels.description)"
        text += "\narena:      \(plan.arenaBytes) bytes = \(plan.persistentBytes) persistent (exit results) + \(plan.plannedBytes) planned"
        text += "\n            (with the persistent part: every buffer on its own would take \(plan.naiveBytes + plan.persistentBytes) bytes; "
        text += "no plan can take less than \(plan.lowerBoundBytes + plan.persistentBytes), the most bytes live at once)"
        text += "\n            scratch: \(plan.scratchBytes) bytes over all operators, the working memory of the convolutions (input copies, image-to-column rows, Winograd tiles) and of the int8 attention pooling, each live "
        text += "during its own operator only; part of the naive sum, not added to the arena"
        text += "\nMACs:       \(model.totalMACs) for the full network"
        text += "\npolicy:     \(PolicyDescription.summary(model.defaultPolicy))"
        text += "\n\nexits:\n  \(pad("exit", 8)) \(pad("after op", 9)) \(pad("cumulative MACs", 16)) \(pad("% of full", 10)) exit when"
        for (index, exit) in model.exits.enumerated() {
            let share = percent(exit.cumulativeMACs, model.totalMACs)
            let threshold = index < model.earlyExitCount ? PolicyDescription.rule(model.defaultPolicy, exit: index) : "-"
            text += "\n  \(pad(exitName(index, model), 8)) \(pad("\(exit.afterOperator)", 9)) \(pad("\(exit.cumulativeMACs)", 16)) \(pad(share, 10)) \(threshold)"
            if !exit.hasGate { text += " (no gate)" }
        }
        for line in LateExits.warnings(model) { text += "\n  warning: \(line)" }
        if arguments.flag("--operators") {
            text += "\n\noperators:\n  \(pad("#", 5)) \(pad("kind", 16)) \(pad("inputs -> output", 22)) \(pad("output shape", 16)) MACs"
            for (index, op) in model.operators.enumerated() {
                let io = op.inputs.map(String.init).joined(separator: ",") + " -> \(op.output)"
                let kind = op.kind.name + (op.activation == .relu ? "+relu" : "")
                text += "\n  \(pad("\(index)", 5)) \(pad(kind, 16)) \(pad(io, 22)) \(pad("\(model.tensors[op.output].shape)", 16)) \(op.macs)"
            }
        }
        console.out(text)
    }

    static func json(_ model: Model, path: String) -> JSON {
        let plan = model.plan
        return .object([
            ("name", .string(model.metadata.name)),
            ("bytes", .int(model.byteCount)),
            ("input_shape", .array(model.input.shape.dims.map { .int($0) })),
            ("input_type", .string(model.input.dataType.name)),
            ("classes", .array(model.metadata.classNames.map { .string($0) })),
            ("class_count", .int(model.classCount)),
            ("tensors", .int(model.tensors.count)),
            ("operators", .int(model.operators.count)),
            ("weight_bytes", .int(model.weightBytes)),
            ("prepared_bytes", .int(model.preparedBytes)),
            ("kernels", .string(model.kernels.name)),
            ("arena_bytes", .int(plan.arenaBytes)),
            ("arena_persistent_bytes", .int(plan.persistentBytes)),
            ("arena_planned_bytes", .int(plan.plannedBytes)),
            ("arena_naive_bytes", .int(plan.naiveBytes + plan.persistentBytes)),
            ("arena_lower_bound_bytes", .int(plan.lowerBoundBytes + plan.persistentBytes)),
            ("scratch_bytes", .int(plan.scratchBytes)),
            ("macs_full", .int(model.totalMACs)),
            ("policy", .string(model.defaultPolicy.signal.name)),
            ("thresholds", .floats(model.defaultPolicy.thresholds)),
            ("exit_rules", .array((0..<model.earlyExitCount).map { index in
                let policy = model.defaultPolicy
                let second = policy.secondSignal(exit: index)
                let never = policy.signal == .none || policy.signal(exit: index).neverPasses(policy.thresholds[index])
                    || (second != .none && second.neverPasses(policy.secondThresholds[index]))
                var pairs: [(String, JSON)] = [("signal", .string(policy.signal(exit: index).name)),
                                               ("threshold", .number(Double(policy.thresholds[index]))),
                                               ("never", .bool(never)), ("rule", .string(PolicyDescription.rule(policy, exit: index)))]
                if policy.secondSignal(exit: index) != .none {
                    pairs += [("second_signal", .string(policy.secondSignal(exit: index).name)),
                              ("second_threshold", .number(Double(policy.secondThresholds[index])))]
                }
                return .object(pairs)
            })),
            ("exits", .array(model.exits.enumerated().map { index, exit in
                .object([("name", .string(exitName(index, model))), ("after_operator", .int(exit.afterOperator)),
                         ("cumulative_macs", .int(exit.cumulativeMACs)),
                         ("fraction_of_full", .number(Double(exit.cumulativeMACs) / Double(max(model.totalMACs, 1)))),
                         ("has_gate", .bool(exit.hasGate)),
                         ("late", .bool(LateExits.find(model).contains { $0.exit == index }))])
            })),
        ])
    }
}

/// "exit1", "exit2", …, and "final" for the network's own head.
func exitName(_ index: Int, _ model: Model) -> String {
    index == model.exits.count - 1 ? "final" : "exit\(index + 1)"
}

func percent(_ part: Int, _ whole: Int) -> String {
    percent(Double(part) / Double(max(whole, 1)))
}

func percent(_ fraction: Double) -> String {
    let value = (fraction * 1000).rounded() / 10
    return "\(value)%"
}
