// The error thrown by the data readers (gzip/DEFLATE, IDX, NPY).

/// A failure to read or decode a data file. `source` names the file (or the buffer's role)
/// and `message` says what was wrong and, where it applies, at which byte.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public let source: String
    public let message: String

    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
