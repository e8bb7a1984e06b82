// Exits without a gate: which policies they allow, and how the scores are formed without one.

extension Model {
    /// True when every exit has a gate tensor, so that eq. 9 can weigh the exits' hypotheses.
    /// When some exit has none, a run's scores are the log-softmax of the exit taken.
    public var exitsHaveGates: Bool {
        for exit in exits where !exit.hasGate { return false }
        return true
    }
}

extension ExitPolicy {
    /// Refuses a policy that needs gates the model does not have: the gate signal on an early
    /// exit without a gate, or eq. 9's combination when some exit has no gate.
    public func checkGates(_ exits: [ExitInfo]) throws(ModelError) {
        if signal != .none {
            for index in 0..<max(exits.count - 1, 0) where !exits[index].hasGate
                && (self.signal(exit: index) == .gate || secondSignal(exit: index) == .gate) {
                throw .badPolicy(reason: "exit \(index + 1) has no gate, so the gate signal cannot decide it; use maxprob, entropy or none")
            }
        }
        if combineSeenExits {
            for index in exits.indices where !exits[index].hasGate {
                throw .badPolicy(reason: "combining the exits seen (eq. 9) weighs them by their gates, and exit \(index + 1) has none; use the exit's own scores")
            }
        }
    }
}
