// Errors of the host-side tools that are not about the model bytes themselves.

/// A file or data problem found by a tool, with the path or item it concerns.
public struct ToolError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
