// Errors of ONNX conversion, naming the node and its operator type.

/// Why an ONNX graph cannot be converted, and where.
public struct ConversionError: Error, CustomStringConvertible {
    /// The node's name (or its first output when unnamed), empty for graph-level problems.
    public let node: String
    public let opType: String
    public let message: String

    public init(node: String = "", opType: String = "", _ message: String) {
        self.node = node
        self.opType = opType
        self.message = message
    }

    public var description: String {
        node.isEmpty && opType.isEmpty ? message : "node '\(node)' (\(opType)): \(message)"
    }
}
