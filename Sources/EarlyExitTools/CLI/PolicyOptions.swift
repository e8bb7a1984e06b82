// The policy options shared by run, bench and the C example: --policy, --threshold(s), --combine.
import EarlyExit

enum PolicyOptions {
    static let options = [
        OptionSpec("--policy", "SIGNAL", "exit signal: gate (default), maxprob, entropy, or none (full network)"),
        OptionSpec("--threshold", "T", "one threshold for every early exit"),
        OptionSpec("--thresholds", "T1,T2,...", "a threshold per early exit, in order of depth"),
        OptionSpec("--combine", nil, "when exiting early, combine the exits seen so far with eq. 9"),
    ]

    /// The policy the options select, starting from the model's stored policy.
    static func policy(_ arguments: ParsedArguments, model: Model) throws -> ExitPolicy {
        var policy = model.defaultPolicy
        if let name = arguments.value("--policy") {
            guard let signal = ExitSignal(name: name) else {
                throw UsageError("unknown policy '\(name)'; use gate, maxprob, entropy or none")
            }
            if signal != policy.signal && signal != .none && arguments.value("--threshold") == nil && arguments.value("--thresholds") == nil {
                throw UsageError("policy '\(name)' needs --threshold or --thresholds (the model stores thresholds for '\(policy.signal.name)')")
            }
            policy.signal = signal
        }
        if arguments.value("--threshold") != nil && arguments.value("--thresholds") != nil {
            throw UsageError("give either --threshold or --thresholds, not both")
        }
        if let value = try arguments.double("--threshold") {
            policy.thresholds = [Float](repeating: Float(value), count: model.earlyExitCount)
        }
        if let values = try arguments.doubles("--thresholds") {
            if values.count != model.earlyExitCount {
                throw UsageError("--thresholds has \(values.count) values; the model has \(model.earlyExitCount) early exits")
            }
            policy.thresholds = values.map { Float($0) }
        }
        if arguments.flag("--combine") { policy.combineSeenExits = true }
        try policy.validate(earlyExitCount: model.earlyExitCount)
        return policy
    }
}
