// When to stop: the exit signals and their per-exit thresholds.

/// The confidence signal an exit is judged by.
public enum ExitSignal: UInt8, Sendable, CaseIterable {
    /// Never exit early: run the full network.
    case none = 0
    /// The exit's gate `c = tanh(·)` at or above the threshold (the default).
    case gate = 1
    /// The largest softmax probability of the exit's logits at or above the threshold.
    case maxProbability = 2
    /// The entropy (natural log) of the exit's softmax at or below the threshold (BranchyNet).
    case entropy = 3

    public var name: String {
        switch self {
        case .none: return "none"
        case .gate: return "gate"
        case .maxProbability: return "maxprob"
        case .entropy: return "entropy"
        }
    }

    /// Parses the names used by the CLI and the C API.
    public init?(name: String) {
        switch name {
        case "none": self = .none
        case "gate": self = .gate
        case "maxprob": self = .maxProbability
        case "entropy": self = .entropy
        default: return nil
        }
    }

    /// True when a larger signal value means more confident.
    public var higherIsConfident: Bool { self != .entropy }
}

/// An exit policy: a signal and one threshold for each early exit (every exit but the final head).
public struct ExitPolicy: Equatable, Sendable {
    public var signal: ExitSignal
    /// One threshold per early exit, in order of depth.
    public var thresholds: [Float]
    /// When exiting early, combine the hypotheses of every exit seen so far with eq. 9
    /// instead of returning the exit's own log-probabilities.
    public var combineSeenExits: Bool

    public init(signal: ExitSignal, thresholds: [Float], combineSeenExits: Bool = false) {
        self.signal = signal
        self.thresholds = thresholds
        self.combineSeenExits = combineSeenExits
    }

    /// The policy that never exits early.
    public static func fullNetwork(earlyExitCount: Int) -> ExitPolicy {
        ExitPolicy(signal: .none, thresholds: [Float](repeating: 0, count: earlyExitCount))
    }

    /// Checks that there is one finite threshold per early exit.
    public func validate(earlyExitCount: Int) throws(ModelError) {
        if thresholds.count != earlyExitCount {
            throw .badPolicy(reason: "\(thresholds.count) thresholds given, the model has \(earlyExitCount) early exits")
        }
        for (index, value) in thresholds.enumerated() where !value.isFinite {
            throw .badPolicy(reason: "threshold \(index + 1) is not a finite number")
        }
    }

    /// True when `value` of this policy's signal passes `threshold`.
    @inline(__always)
    func passes(_ value: Float, threshold: Float) -> Bool {
        switch signal {
        case .none: return false
        case .gate, .maxProbability: return value >= threshold
        case .entropy: return value <= threshold
        }
    }
}
