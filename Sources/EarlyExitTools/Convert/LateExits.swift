// Early exits that cannot save much: those that must wait for most of the network's MACs.
import EarlyExit

/// Finds early exits whose cumulative MACs are most of the full network's, such as Learn To
/// Pay Attention's exits, which read the global feature computed at the network's end.
public enum LateExits {
    /// An early exit is flagged when taking it still costs at least this share of the full network.
    public static let shareLimit = 0.9

    /// The early exits (index, share of the full network's MACs) at or above `shareLimit`.
    public static func find(_ model: Model) -> [(exit: Int, share: Double)] {
        var late: [(exit: Int, share: Double)] = []
        for index in 0..<model.earlyExitCount {
            let share = Double(model.exits[index].cumulativeMACs) / Double(max(model.totalMACs, 1))
            if share >= shareLimit { late.append((index, share)) }
        }
        return late
    }

    /// One sentence per late exit, for convert, info and tune.
    public static func warnings(_ model: Model) -> [String] {
        find(model).map { exit, share in
            let percent = (share * 1000).rounded(.down) / 10
            let saved = ((1 - share) * 1000).rounded(.up) / 10
            return "exit\(exit + 1) cannot exit early in any useful sense: it must wait for \(percent)% of the network's MACs (it depends on values computed near the end), so taking it saves at most \(saved)%"
        }
    }
}
