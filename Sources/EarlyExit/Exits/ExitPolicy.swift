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

    /// The values the signal takes for `classCount` classes: gate [−1, 1], maxprob [0, 1]
    /// (at least 1/classes in fact), entropy [0, ln classes]; (0, 0) for `.none`.
    public func valueRange(classCount: Int) -> (lower: Float, upper: Float) {
        switch self {
        case .none: return (0, 0)
        case .gate: return (-1, 1)
        case .maxProbability: return (0, 1)
        case .entropy: return (0, FloatMath.log(Float(max(classCount, 1))))
        }
    }

    /// True when no value of the signal passes `threshold`: the "never exit here" a tuner
    /// stores (a gate or maxprob threshold above 1, an entropy threshold below 0).
    public func neverPasses(_ threshold: Float) -> Bool {
        switch self {
        case .none: return true
        case .gate, .maxProbability: return threshold > 1
        case .entropy: return threshold < 0
        }
    }
}

/// An exit policy: a signal and one threshold for each early exit (every exit but the final head),
/// optionally a signal of its own for each exit and a second condition that must hold as well
/// (for example "gate ≥ a and maxprob ≥ b").
public struct ExitPolicy: Equatable, Sendable {
    /// The signal of every early exit that does not name its own; `.none` never exits early.
    public var signal: ExitSignal
    /// One threshold per early exit, in order of depth, for that exit's signal.
    public var thresholds: [Float]
    /// When exiting early, combine the hypotheses of every exit seen so far with eq. 9
    /// instead of returning the exit's own log-probabilities.
    public var combineSeenExits: Bool
    /// Each early exit's own signal (never `.none`), or empty: every exit uses `signal`.
    public var exitSignals: [ExitSignal]
    /// Each early exit's second condition (`.none`: none), or empty: no exit has one. An exit is
    /// taken when its signal passes its threshold and its second signal passes `secondThresholds`.
    public var secondSignals: [ExitSignal]
    /// The thresholds of the second conditions (one per early exit when `secondSignals` is not empty).
    public var secondThresholds: [Float]

    public init(signal: ExitSignal, thresholds: [Float], combineSeenExits: Bool = false,
                exitSignals: [ExitSignal] = [], secondSignals: [ExitSignal] = [], secondThresholds: [Float] = []) {
        self.signal = signal
        self.thresholds = thresholds
        self.combineSeenExits = combineSeenExits
        self.exitSignals = exitSignals
        self.secondSignals = secondSignals
        self.secondThresholds = secondThresholds
    }

    /// The policy that never exits early.
    public static func fullNetwork(earlyExitCount: Int) -> ExitPolicy {
        ExitPolicy(signal: .none, thresholds: [Float](repeating: 0, count: earlyExitCount))
    }

    /// True when some exit has its own signal or a second condition (format 1.1 stores these).
    public var hasPerExitRules: Bool { !exitSignals.isEmpty || !secondSignals.isEmpty }

    /// The signal exit `index`'s threshold is compared with (`.none` when the policy never exits).
    @inline(__always)
    public func signal(exit index: Int) -> ExitSignal {
        if signal == .none || exitSignals.isEmpty { return signal }
        return exitSignals[index]
    }

    /// The second condition of exit `index`, `.none` when it has none.
    @inline(__always)
    public func secondSignal(exit index: Int) -> ExitSignal {
        secondSignals.isEmpty ? .none : secondSignals[index]
    }

    /// Checks that there is one finite threshold per early exit, and per-exit signals and second
    /// conditions, when given, for every early exit.
    public func validate(earlyExitCount: Int) throws(ModelError) {
        if thresholds.count != earlyExitCount {
            throw .badPolicy(reason: "\(thresholds.count) thresholds given, the model has \(earlyExitCount) early exits")
        }
        for (index, value) in thresholds.enumerated() where !value.isFinite {
            throw .badPolicy(reason: "threshold \(index + 1) is not a finite number")
        }
        if !exitSignals.isEmpty {
            if exitSignals.count != earlyExitCount {
                throw .badPolicy(reason: "\(exitSignals.count) per-exit signals given, the model has \(earlyExitCount) early exits")
            }
            for (index, value) in exitSignals.enumerated() where value == .none {
                throw .badPolicy(reason: "exit \(index + 1)'s own signal is 'none'; an exit that never fires has an unreachable threshold")
            }
        }
        if secondSignals.count != secondThresholds.count || (!secondSignals.isEmpty && secondSignals.count != earlyExitCount) {
            throw .badPolicy(reason: "\(secondSignals.count) second signals and \(secondThresholds.count) second thresholds given, the model has \(earlyExitCount) early exits")
        }
        for (index, value) in secondThresholds.enumerated() where !value.isFinite {
            throw .badPolicy(reason: "second threshold \(index + 1) is not a finite number")
        }
    }

    /// True when `value` of `signal` passes `threshold`.
    @inline(__always)
    static func passes(_ signal: ExitSignal, _ value: Float, threshold: Float) -> Bool {
        switch signal {
        case .none: return false
        case .gate, .maxProbability: return value >= threshold
        case .entropy: return value <= threshold
        }
    }

    /// True when `value` of this policy's signal passes `threshold`.
    @inline(__always)
    func passes(_ value: Float, threshold: Float) -> Bool {
        ExitPolicy.passes(signal, value, threshold: threshold)
    }
}
