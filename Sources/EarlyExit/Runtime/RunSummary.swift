// The result of one inference: the exit taken, the class, and the work executed.

/// What one inference did: the exit taken, the class, and the work executed.
public struct RunSummary: Equatable, Sendable {
    /// The exit whose decision ended the run; `exits.count − 1` is the final head.
    public var exitIndex: Int
    /// The predicted class: the arg-max of the scores.
    public var classIndex: Int
    /// How many exits were evaluated (`exitIndex + 1`).
    public var exitsEvaluated: Int
    /// Multiply-accumulates executed.
    public var macs: Int
    /// Multiply-accumulates of the full network.
    public var macsFull: Int
    /// True when the run stopped before the final head.
    public var exitedEarly: Bool

    public init(exitIndex: Int, classIndex: Int, exitsEvaluated: Int, macs: Int, macsFull: Int, exitedEarly: Bool) {
        self.exitIndex = exitIndex
        self.classIndex = classIndex
        self.exitsEvaluated = exitsEvaluated
        self.macs = macs
        self.macsFull = macsFull
        self.exitedEarly = exitedEarly
    }

    /// MACs not executed thanks to the early exit.
    public var macsSaved: Int { macsFull - macs }
}
