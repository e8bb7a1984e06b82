// Exit discovery, operator fusion and the exit-ordered schedule of a lowered graph.
import EarlyExit

extension ONNXConverter {
    /// An exit found from the graph outputs: its values and the output names.
    struct ExitValues {
        var name: String
        var logits: Int
        /// The gate value; nil for an exit without a gate.
        var gate: Int?
    }

    /// How many nodes read each value, plus one for each exit output that is that value.
    func readers(protecting exits: [ExitValues]) -> [Int] {
        var count = [Int](repeating: 0, count: values.count)
        for node in nodes { for input in node.inputs { count[input] += 1 } }
        for exit in exits {
            count[exit.logits] += 1
            if let gate = exit.gate { count[gate] += 1 }
        }
        return count
    }

    /// Folds a batch normalization into the convolution before it, when the convolution's
    /// output feeds nothing else: W'[o] = W[o]·s[o], b'[o] = b[o]·s[o] + t[o].
    mutating func fuseBatchNorms(protecting exits: [ExitValues]) {
        var count = readers(protecting: exits)
        var producer = [Int](repeating: -1, count: values.count)
        for (index, node) in nodes.enumerated() { producer[node.output] = index }
        var removed = Set<Int>()
        for (index, node) in nodes.enumerated() where node.kind == .batchNorm {
            let source = producer[node.inputs[0]]
            guard source >= 0, nodes[source].kind == .conv2d, nodes[source].activation == .none, count[node.inputs[0]] == 1,
                  let scale = values[node.inputs[1]].floats, let shift = values[node.inputs[2]].floats,
                  let weights = values[nodes[source].inputs[1]].floats else { continue }
            let outChannels = scale.count
            let perChannel = weights.count / outChannels
            var folded = weights
            for o in 0..<outChannels { for i in 0..<perChannel { folded[o * perChannel + i] *= scale[o] } }
            var bias = [Float](repeating: 0, count: outChannels)
            if nodes[source].inputs.count == 3, let old = values[nodes[source].inputs[2]].floats { bias = old }
            for o in 0..<outChannels { bias[o] = bias[o] * scale[o] + shift[o] }
            let w = newConstant(values[nodes[source].inputs[1]].shape, floats: folded)
            let b = newConstant([outChannels], floats: bias)
            nodes[source].inputs = [nodes[source].inputs[0], w, b]
            count[nodes[source].output] -= 1
            nodes[source].output = node.output
            removed.insert(index)
            report.foldedBatchNorms += 1
        }
        nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Fuses a ReLU into the conv, fully connected, add or batch norm before it, when that
    /// operator's output feeds nothing else.
    mutating func fuseActivations(protecting exits: [ExitValues]) {
        let count = readers(protecting: exits)
        var producer = [Int](repeating: -1, count: values.count)
        for (index, node) in nodes.enumerated() { producer[node.output] = index }
        var removed = Set<Int>()
        for (index, node) in nodes.enumerated() where node.kind == .relu {
            let source = producer[node.inputs[0]]
            guard source >= 0, count[node.inputs[0]] == 1, nodes[source].activation == .none else { continue }
            switch nodes[source].kind {
            case .conv2d, .fullyConnected, .add, .batchNorm:
                nodes[source].activation = .relu
                nodes[source].output = node.output
                producer[node.output] = source
                removed.insert(index)
                report.fusedActivations += 1
            default:
                continue
            }
        }
        nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Orders the nodes exit by exit: for each exit, the not yet scheduled nodes its outputs
    /// depend on, in their original (topological) order. Returns the node order and, for
    /// each exit, the position of its last node.
    func scheduleByExit(_ exits: [ExitValues]) throws -> (order: [Int], exitEnds: [Int]) {
        var producer = [Int](repeating: -1, count: values.count)
        for (index, node) in nodes.enumerated() { producer[node.output] = index }
        var scheduled = [Bool](repeating: false, count: nodes.count)
        var order: [Int] = []
        var exitEnds: [Int] = []
        for exit in exits {
            var needed = [Bool](repeating: false, count: nodes.count)
            var stack = [exit.logits] + (exit.gate.map { [$0] } ?? [])
            while let value = stack.popLast() {
                let node = producer[value]
                if node < 0 || needed[node] || scheduled[node] { continue }
                needed[node] = true
                stack.append(contentsOf: nodes[node].inputs)
            }
            let segment = needed.indices.filter { needed[$0] }
            if segment.isEmpty {
                throw ConversionError("exit '\(exit.name)' needs no operator beyond the previous exit; exits must be at increasing depths")
            }
            for node in segment { scheduled[node] = true; order.append(node) }
            exitEnds.append(order.count - 1)
        }
        return (order, exitEnds)
    }

    /// Writes the scheduled operators, constants and exits with the model builder.
    mutating func emit(schedule: (order: [Int], exitEnds: [Int]), exits: [ExitValues],
                       options: ConversionOptions) throws -> (bytes: [UInt8], report: ConversionReport) {
        var builder = ModelBuilder()
        var tensorOf = [Int](repeating: -1, count: values.count)
        tensorOf[inputValue] = builder.addInput(shape: values[inputValue].shape)
        for position in schedule.order {
            let node = nodes[position]
            var inputs: [Int] = []
            for value in node.inputs {
                if tensorOf[value] < 0 {
                    guard let floats = values[value].floats else {
                        throw ConversionError(node: node.source, opType: node.kind.name, "input is an integer constant where float data is needed")
                    }
                    tensorOf[value] = builder.addConstant(floats, shape: values[value].shape.isEmpty ? [1] : values[value].shape)
                }
                inputs.append(tensorOf[value])
            }
            let output = builder.addActivation(shape: values[node.output].shape)
            tensorOf[node.output] = output
            builder.addOperator(node.kind, inputs: inputs, output: output, attributes: node.attributes, activation: node.activation)
            if let exit = schedule.exitEnds.firstIndex(of: builder.operatorCount - 1) {
                builder.addExit(logits: tensorOf[exits[exit].logits], gate: exits[exit].gate.map { tensorOf[$0] } ?? ExitInfo.noGate)
            }
        }
        // The gate signal when every early exit has a gate; maxprob when one has none; none
        // for a network without early exits. The threshold waits for `tune`.
        let early = exits.dropLast()
        builder.signal = early.isEmpty ? .none : early.allSatisfy({ $0.gate != nil }) ? .gate : .maxProbability
        builder.thresholds = [Float](repeating: options.defaultGateThreshold, count: exits.count - 1)
        switch builder.signal {
        case .none: report.policy = "none (no early exit)"
        case .gate: report.policy = "gate ≥ \(options.defaultGateThreshold) at every early exit"
        default:
            let gateless = early.filter { $0.gate == nil }.map(\.name).joined(separator: ", ")
            report.policy = "maxprob ≥ \(options.defaultGateThreshold) at every early exit (\(gateless) ha\(early.filter { $0.gate == nil }.count == 1 ? "s" : "ve") no gate)"
        }
        builder.metadata = ModelMetadata(mean: options.mean, std: options.std, classNames: options.classNames, name: options.name)
        report.operators = builder.operatorCount
        report.removedNodes = nodes.count - schedule.order.count
        report.exits = exits.map(\.name)
        do {
            return (try builder.serialize(), report)
        } catch let error as ModelError {
            throw ConversionError("the converted model does not validate: \(error)")
        }
    }
}
