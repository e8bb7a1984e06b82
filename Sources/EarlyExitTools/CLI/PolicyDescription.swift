// How an exit policy reads to a person: each exit's condition, with stored "never" thresholds named.
import EarlyExit

enum PolicyDescription {
    /// One condition, "gate ≥ 0.9", "entropy ≤ 0.2", or "never (gate threshold 2.0)" when no
    /// value of the signal passes the threshold.
    static func condition(_ signal: ExitSignal, _ threshold: Float) -> String {
        if signal.neverPasses(threshold) { return "never (\(signal.name) threshold \(threshold))" }
        return "\(signal.name) \(signal.higherIsConfident ? "≥" : "≤") \(threshold)"
    }

    /// Early exit `index`'s rule under `policy`: its condition and its second condition, if any.
    static func rule(_ policy: ExitPolicy, exit index: Int) -> String {
        if policy.signal == .none { return "never (policy none)" }
        let first = policy.signal(exit: index)
        let second = policy.secondSignal(exit: index)
        if first.neverPasses(policy.thresholds[index]) { return condition(first, policy.thresholds[index]) }
        if second == .none { return condition(first, policy.thresholds[index]) }
        if second.neverPasses(policy.secondThresholds[index]) { return condition(second, policy.secondThresholds[index]) }
        return "\(condition(first, policy.thresholds[index])) and \(condition(second, policy.secondThresholds[index]))"
    }

    /// The policy in one line: "gate" or "per exit", with "combining" when it combines exits.
    static func summary(_ policy: ExitPolicy) -> String {
        var text = policy.hasPerExitRules && policy.signal != .none ? "per exit" : policy.signal.name
        if policy.combineSeenExits { text += ", combining the exits seen (eq. 9)" }
        return text
    }
}
