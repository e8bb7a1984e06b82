// Which graph values are exits: the naming convention, `--exit`/`--final`, or a plain classifier.

/// One exit named by the user: its logits value and, optionally, its gate value.
public struct ExitNaming: Equatable, Sendable {
    public var logits: String
    public var gate: String?

    public init(logits: String, gate: String? = nil) {
        self.logits = logits
        self.gate = gate
    }

    /// Parses `LOGITS[,GATE]`.
    public init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else { return nil }
        self.init(logits: parts[0], gate: parts.count == 2 ? parts[1] : nil)
    }

    var description: String { gate.map { "'\(logits)' (gate '\($0)')" } ?? "'\(logits)' (no gate)" }
}

/// The exits a conversion will use, by value name, in order of depth (the last is the final head).
struct NamedExits {
    var exits: [(name: String, naming: ExitNaming)]
    /// Graph outputs that are not exits (allowed only when the exits are named explicitly).
    var ignoredOutputs: [String]
    /// How the exits were found, for the conversion report.
    var how: String
}

extension ONNXConverter {
    /// Finds the exits by name only (before any node is lowered), so that a naming problem can
    /// be reported together with the graph's unsupported operators.
    static func exitNames(_ graph: ONNXGraph, options: ConversionOptions) throws -> NamedExits {
        let outputs = graph.outputs.map(\.name)
        let listed = outputs.isEmpty ? "none" : outputs.map { "'\($0)'" }.joined(separator: ", ")
        let hint = "name the exits with --exit LOGITS[,GATE] (repeated, in order of depth) and --final LOGITS[,GATE], or rename the graph outputs exit{i}_logits/exit{i}_gate (i = 1, 2, …) and final_logits/final_gate (each gate optional)"
        if !options.exits.isEmpty || options.final != nil {
            let known = Set(outputs).union(graph.nodes.flatMap(\.outputs))
            for (flag, naming) in options.exits.map({ ("--exit", $0) }) + (options.final.map { [("--final", $0)] } ?? []) {
                for value in [naming.logits] + (naming.gate.map { [$0] } ?? []) where !known.contains(value) {
                    throw ConversionError("\(flag) names '\(value)', which no node produces; graph outputs: \(listed)")
                }
            }
            var named = options.exits
            var how = "named by --exit/--final"
            if let final = options.final {
                named.append(final)
            } else if outputs.contains("final_logits") {
                named.append(ExitNaming(logits: "final_logits", gate: outputs.contains("final_gate") ? "final_gate" : nil))
                how = "named by --exit, final head final_logits by the convention"
            } else {
                let used = Set(options.exits.flatMap { [$0.logits] + ($0.gate.map { [$0] } ?? []) })
                let rest = outputs.filter { !used.contains($0) }
                guard rest.count == 1 else {
                    throw ConversionError("--exit names the early exits, but the final head is not named: the graph outputs not used by --exit are \(rest.isEmpty ? "none" : rest.map { "'\($0)'" }.joined(separator: ", ")); name it with --final LOGITS[,GATE]")
                }
                named.append(ExitNaming(logits: rest[0]))
                how = "named by --exit, the final head is the one other graph output"
            }
            var seen = Set<String>()
            for exit in named {
                for value in [exit.logits] + (exit.gate.map { [$0] } ?? []) {
                    guard seen.insert(value).inserted else { throw ConversionError("'\(value)' is named as more than one exit tensor") }
                }
            }
            let names = named.enumerated().map { index, naming in
                (name: index == named.count - 1 ? "final" : "exit\(index + 1)", naming: naming)
            }
            return NamedExits(exits: names, ignoredOutputs: outputs.filter { !seen.contains($0) }, how: how)
        }
        // The naming convention: exit{i}_logits[, exit{i}_gate], …, final_logits[, final_gate].
        let conventional = outputs.contains { $0 == "final_logits" || $0 == "final_gate" || ($0.hasPrefix("exit") && ($0.hasSuffix("_logits") || $0.hasSuffix("_gate"))) }
        if !conventional {
            guard outputs.count == 1 else {
                throw ConversionError("cannot tell which graph outputs are exits: the graph has \(outputs.count) outputs (\(listed)) and none follows the naming convention; \(hint)")
            }
            return NamedExits(exits: [(name: "final", naming: ExitNaming(logits: outputs[0]))], ignoredOutputs: [],
                              how: "a plain classifier, its only output is the final head")
        }
        var exits: [(name: String, naming: ExitNaming)] = []
        var index = 1
        while outputs.contains("exit\(index)_logits") || outputs.contains("exit\(index)_gate") {
            let logits = "exit\(index)_logits", gate = "exit\(index)_gate"
            guard outputs.contains(logits) else {
                throw ConversionError("graph output '\(gate)' has no '\(logits)' beside it; \(hint)")
            }
            exits.append((name: "exit\(index)", naming: ExitNaming(logits: logits, gate: outputs.contains(gate) ? gate : nil)))
            index += 1
        }
        guard outputs.contains("final_logits") else {
            throw ConversionError("the graph outputs must include 'final_logits' (and optionally 'final_gate'); found: \(listed); \(hint)")
        }
        exits.append((name: "final", naming: ExitNaming(logits: "final_logits", gate: outputs.contains("final_gate") ? "final_gate" : nil)))
        let known = Set(exits.flatMap { [$0.naming.logits] + ($0.naming.gate.map { [$0] } ?? []) })
        let stray = outputs.filter { !known.contains($0) }
        if !stray.isEmpty {
            throw ConversionError("graph output\(stray.count == 1 ? "" : "s") \(stray.map { "'\($0)'" }.joined(separator: ", ")) do\(stray.count == 1 ? "es" : "") not follow the exit naming convention (exit{i}_logits, exit{i}_gate for i = 1, 2, … without gaps, then final_logits, final_gate); \(hint)")
        }
        return NamedExits(exits: exits, ignoredOutputs: [], how: "by the naming convention")
    }

    /// The exits' values after lowering, with their shapes checked.
    func exitValues(_ named: NamedExits) throws -> [ExitValues] {
        func value(_ name: String, _ role: String) throws -> Int {
            guard let value = names[name] else { throw ConversionError("\(role) '\(name)' is not produced by any node") }
            if values[value].isConstant { throw ConversionError("\(role) '\(name)' is a constant") }
            return value
        }
        var exits: [ExitValues] = []
        for (name, naming) in named.exits {
            let logits = try value(naming.logits, "the logits of \(name)")
            let gate = try naming.gate.map { try value($0, "the gate of \(name)") }
            let shape = values[logits].shape
            if shape.count != 2 || shape[0] != 1 || shape[1] < 2 {
                throw ConversionError("the logits of \(name), '\(naming.logits)', have shape \(shape); [1, classes] with at least 2 classes is required")
            }
            if let gate, values[gate].shape.reduce(1, *) != 1 {
                throw ConversionError("the gate of \(name), '\(naming.gate!)', has shape \(values[gate].shape); one element ([1, 1]) is required")
            }
            if let first = exits.first, shape[1] != values[first.logits].shape[1] {
                throw ConversionError("the logits of \(name) have \(shape[1]) classes, those of \(first.name) have \(values[first.logits].shape[1])")
            }
            exits.append(ExitValues(name: name, logits: logits, gate: gate))
        }
        return exits
    }
}
