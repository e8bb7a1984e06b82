// The policy options shared by run, bench and the C example: --policy, --threshold(s), --combine.
import EarlyExit
import Foundation

enum PolicyOptions {
    static let options = [
        OptionSpec("--policy", "SIGNAL", "exit signal: gate (default), maxprob, entropy, or none (full network)"),
        OptionSpec("--threshold", "T", "one threshold for every early exit, within the signal's range (gate -1..1, maxprob 0..1, entropy 0..ln classes), or 'never'"),
        OptionSpec("--thresholds", "T1,T2,...", "a threshold per early exit, in order of depth (each a value in range or 'never')"),
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
            // A signal named on the command line applies to every exit: per-exit rules are dropped.
            policy.exitSignals = []
            policy.secondSignals = []
            policy.secondThresholds = []
        }
        if arguments.value("--threshold") != nil && arguments.value("--thresholds") != nil {
            throw UsageError("give either --threshold or --thresholds, not both")
        }
        var given: [String]?
        if let value = arguments.value("--threshold") { given = [String](repeating: value, count: model.earlyExitCount) }
        if let values = arguments.value("--thresholds") {
            given = values.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if given!.count != model.earlyExitCount {
                throw UsageError("--thresholds has \(given!.count) values; the model has \(model.earlyExitCount) early exits")
            }
        }
        if let given {
            let option = arguments.value("--threshold") != nil ? "--threshold" : "--thresholds"
            var thresholds: [Float] = []
            for (index, text) in given.enumerated() {
                let signal = policy.signal(exit: index)
                if text == "never" {
                    thresholds.append(signal == .entropy ? -1 : 2)
                    continue
                }
                guard let value = Double(text), value.isFinite else {
                    throw UsageError("\(option): '\(text)' is not a number or 'never'")
                }
                let range = signal.valueRange(classCount: model.classCount)
                if signal != .none && !(Float(value) >= range.lower && Float(value) <= range.upper) {
                    throw UsageError("\(option): threshold \(text) for exit \(index + 1) is outside the \(signal.name) signal's range [\(range.lower), \(range.upper)] (it would mean always or never exit; write 'never' for an exit that should never fire)")
                }
                thresholds.append(Float(value))
            }
            policy.thresholds = thresholds
        }
        if arguments.flag("--combine") { policy.combineSeenExits = true }
        try policy.validate(earlyExitCount: model.earlyExitCount)
        return policy
    }
}
