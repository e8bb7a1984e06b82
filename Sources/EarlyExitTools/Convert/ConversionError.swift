// Errors of ONNX conversion, naming the node and its operator type.

/// Why an ONNX graph cannot be converted, and where.
///
/// A conversion reports every problem it can find in one error: each node it cannot lower
/// (an unsupported operator names the node, its type and, where one exists, a rewrite) and
/// the exit naming problem, together; `problems` lists them one by one.
public struct ConversionError: Error, CustomStringConvertible {
    /// The node's name (or its first output when unnamed), empty for graph-level problems.
    public let node: String
    public let opType: String
    public let message: String
    /// True when the node's operator type is not supported at all (not merely its attributes).
    public var isUnsupportedOperator = false
    /// For an error that gathers several problems: each of them; empty otherwise.
    public var problems: [ConversionError] = []

    public init(node: String = "", opType: String = "", _ message: String) {
        self.node = node
        self.opType = opType
        self.message = message
    }

    /// One error reporting all of `problems` (which must not be empty), or the only one.
    public static func gathering(_ problems: [ConversionError]) -> ConversionError {
        if problems.count == 1 { return problems[0] }
        // Nodes of one unsupported operator type are listed together, under one message.
        var lines: [String] = []
        var grouped: [String: Int] = [:]
        var nodesOf: [[String]] = []
        for problem in problems {
            if problem.isUnsupportedOperator {
                if let line = grouped[problem.opType] {
                    nodesOf[line].append(problem.node)
                    continue
                }
                grouped[problem.opType] = lines.count
                lines.append(problem.message)
                nodesOf.append([problem.node])
            } else {
                lines.append(problem.description)
                nodesOf.append([])
            }
        }
        var text = lines.count == 1 ? "1 problem:" : "\(lines.count) problems:"
        for (line, nodes) in zip(lines, nodesOf) {
            if nodes.isEmpty {
                text += "\n  - \(line)"
            } else {
                let shown = nodes.prefix(4).map { "'\($0)'" }.joined(separator: ", ")
                let more = nodes.count > 4 ? " and \(nodes.count - 4) more" : ""
                text += "\n  - node\(nodes.count == 1 ? "" : "s") \(shown)\(more): \(line)"
            }
        }
        if !grouped.isEmpty { text += "\n  supported operators: \(ONNXConverter.supportedOperators.joined(separator: ", "))" }
        var error = ConversionError(text)
        error.problems = problems
        return error
    }

    /// Every problem this error reports: itself, or the ones it gathers.
    public var allProblems: [ConversionError] { problems.isEmpty ? [self] : problems }

    /// The operator types reported as unsupported, in order, without repeats.
    public var unsupportedOperators: [String] {
        var seen: [String] = []
        for problem in allProblems where problem.isUnsupportedOperator && !seen.contains(problem.opType) { seen.append(problem.opType) }
        return seen
    }

    public var description: String {
        let supported = isUnsupportedOperator ? " (supported: \(ONNXConverter.supportedOperators.joined(separator: ", ")))" : ""
        return node.isEmpty && opType.isEmpty ? message : "node '\(node)' (\(opType)): \(message)\(supported)"
    }
}
