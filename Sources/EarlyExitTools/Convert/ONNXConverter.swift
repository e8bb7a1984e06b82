// Converts an ONNX graph that follows the exit naming convention into an `.eem` model.
import EarlyExit
import Foundation

/// Options of a conversion: metadata the ONNX file does not carry.
public struct ConversionOptions {
    public var classNames: [String] = []
    public var mean: [Float] = []
    public var std: [Float] = []
    public var name = ""
    /// Threshold stored for every early exit (gate signal) until `tune` chooses better ones.
    public var defaultGateThreshold: Float = 0.9
    /// Early exits named explicitly (`--exit`), in order of depth; empty: the naming convention.
    public var exits: [ExitNaming] = []
    /// The final head named explicitly (`--final`).
    public var final: ExitNaming?
    /// Where `mean`/`std` came from, in words (for the report); when they are empty the ONNX
    /// metadata_props are used if they record a normalization.
    public var normalizationSource = ""

    public init() {}
}

/// What a conversion did, for the CLI to report.
public struct ConversionReport {
    public var onnxNodes = 0
    public var operators = 0
    public var foldedBatchNorms = 0
    public var fusedActivations = 0
    public var foldedConstantNodes = 0
    public var removedNodes = 0
    public var exits: [String] = []
    /// Each exit's logits and gate value names, in order of depth.
    public var exitNamings: [ExitNaming] = []
    /// How the exits were found (convention, flags, plain classifier).
    public var exitsFoundBy = ""
    /// Graph outputs that are not exits (ignored when the exits are named explicitly).
    public var ignoredOutputs: [String] = []
    /// The stored exit signal and its threshold, in words.
    public var policy = ""
    /// The stored input normalization and where it came from (flags, ONNX metadata, none).
    public var mean: [Float] = []
    public var std: [Float] = []
    public var normalizationSource = ""
}

/// Lowers ONNX (opset 11–23, static shapes, batch 1) to the runtime's operators.
///
/// The steps: every node is turned into runtime operators over values with static shapes,
/// with constant subgraphs (Shape/Gather/Concat/Unsqueeze feeding Reshape, Constant) folded
/// on the spot; batch normalization is folded into the convolution before it where that
/// convolution's output feeds nothing else, and kept as a scale-and-shift operator
/// otherwise; ReLU is fused into the operator before it; the exits are found from the graph
/// outputs `exit{i}_logits`/`exit{i}_gate` (then `final_logits`/`final_gate`), and the
/// schedule is ordered exit by exit, so that each exit's operators run before anything only
/// later exits need. Nodes no output needs are dropped.
public struct ONNXConverter {
    public static let supportedOpsets: ClosedRange<Int64> = 11...23

    struct Value {
        var shape: [Int]
        var floats: [Float]?
        var ints: [Int64]?
        var isConstant: Bool { floats != nil || ints != nil }
    }

    struct Node {
        var kind: OperatorKind
        var inputs: [Int]
        var output: Int
        var attributes: [Int32]
        var activation: Activation
        var source: String
    }

    var values: [Value] = []
    var names: [String: Int] = [:]
    var nodes: [Node] = []
    var inputValue = -1
    var opset: Int64 = 13
    var report = ConversionReport()

    public init() {}

    // MARK: Entry point

    /// Converts ONNX bytes to `.eem` bytes (weights must be inside the bytes).
    public static func convert(onnx bytes: [UInt8], options: ConversionOptions) throws -> (bytes: [UInt8], report: ConversionReport) {
        let model = try ONNXModel.decode(bytes)
        var converter = ONNXConverter()
        return try converter.convert(model, options: options)
    }

    /// Converts an ONNX file to `.eem` bytes, loading external data from side files in its folder.
    public static func convert(onnxFile url: URL, options: ConversionOptions) throws -> (bytes: [UInt8], report: ConversionReport) {
        let model = try ONNXModel(contentsOf: url, loadingExternalData: true)
        var converter = ONNXConverter()
        return try converter.convert(model, options: options)
    }

    mutating func convert(_ model: ONNXModel, options: ConversionOptions) throws -> (bytes: [UInt8], report: ConversionReport) {
        for import_ in model.opsetImports where !(import_.domain.isEmpty || import_.domain == "ai.onnx") {
            // Other domains are fine as long as no node uses them; checked per node.
            _ = import_
        }
        guard let version = model.opsetVersion(domain: "") ?? model.opsetVersion(domain: "ai.onnx") else {
            throw ConversionError("the model imports no ai.onnx operator set")
        }
        if !ONNXConverter.supportedOpsets.contains(version) {
            throw ConversionError("operator set version \(version) is not supported (supported: \(ONNXConverter.supportedOpsets.lowerBound)...\(ONNXConverter.supportedOpsets.upperBound))")
        }
        opset = version
        let graph = model.graph
        for initializer in graph.initializers {
            names[initializer.name] = try addConstant(initializer, context: "initializer '\(initializer.name)'")
        }
        let realInputs = graph.inputs.filter { names[$0.name] == nil }
        guard realInputs.count == 1, let input = realInputs.first else {
            throw ConversionError("the graph must have exactly one non-constant input, it has \(realInputs.count) (\(realInputs.map(\.name).joined(separator: ", ")))")
        }
        if input.elementType != .float {
            throw ConversionError("graph input '\(input.name)' is \(input.elementType), float32 is required")
        }
        var inputShape: [Int] = []
        for (axis, dimension) in input.shape.enumerated() {
            guard case .value(let size) = dimension, size >= 1, size <= 1 << 20 else {
                throw ConversionError("graph input '\(input.name)' has a dynamic or invalid dimension \(axis) (\(dimension)); export with a static shape [1, C, H, W]")
            }
            inputShape.append(Int(size))
        }
        if inputShape.count != 4 || inputShape[0] != 1 {
            throw ConversionError("graph input '\(input.name)' has shape \(inputShape); [1, C, H, W] is required")
        }
        var options = options
        let normalization = try ONNXConverter.resolveNormalization(model, options: options, channels: inputShape[1])
        (options.mean, options.std) = (normalization.mean, normalization.std)
        (report.mean, report.std, report.normalizationSource) = normalization
        values.append(Value(shape: inputShape))
        inputValue = values.count - 1
        names[input.name] = inputValue
        report.onnxNodes = graph.nodes.count

        // Every node is tried, so that all unsupported operators are reported at once, together
        // with an exit naming problem; a node after a failed one is skipped (its inputs are unknown).
        var problems: [ConversionError] = []
        var unknown = Set<String>()
        for node in graph.nodes {
            // An operator type that is not supported at all is reported whatever its inputs (even
            // when they are unknown because of an earlier problem), so all of them show at once.
            if (node.domain.isEmpty || node.domain == "ai.onnx") && !ONNXConverter.supportedOperators.contains(node.opType) {
                var error = ConversionError(node: node.reportedName, opType: node.opType, ONNXConverter.unsupportedMessage(node.opType))
                error.isUnsupportedOperator = true
                problems.append(error)
                unknown.formUnion(node.outputs)
                continue
            }
            if node.inputs.contains(where: { unknown.contains($0) }) {
                unknown.formUnion(node.outputs)
                continue
            }
            do {
                try lower(node)
            } catch let error as ConversionError {
                problems.append(error)
                unknown.formUnion(node.outputs)
            } catch let error as ONNXError {
                // The node is named once, by the conversion error (the ONNX error's path names it too).
                let unwrapped = error.path.hasPrefix(node.displayName) ? ONNXError(error.reason, offset: error.offset) : error
                problems.append(ConversionError(node: node.reportedName, opType: node.opType, "\(unwrapped)"))
                unknown.formUnion(node.outputs)
            }
        }
        var named: NamedExits?
        do {
            named = try ONNXConverter.exitNames(graph, options: options)
        } catch let error as ConversionError {
            problems.append(error)
        }
        guard problems.isEmpty, let named else { throw ConversionError.gathering(problems) }
        let exits = try exitValues(named)
        report.exitNamings = named.exits.map(\.naming)
        report.exitsFoundBy = named.how
        report.ignoredOutputs = named.ignoredOutputs
        fuseBatchNorms(protecting: exits)
        fuseActivations(protecting: exits)
        let schedule = try scheduleByExit(exits)
        return try emit(schedule: schedule, exits: exits, options: options)
    }

    // MARK: Values

    mutating func addConstant(_ tensor: ONNXTensor, context: String) throws -> Int {
        var shape: [Int] = []
        for dim in tensor.dims {
            if dim < 0 || dim > 1 << 28 { throw ConversionError("\(context) has an invalid dimension \(dim)") }
            shape.append(Int(dim))
        }
        switch tensor.dataType {
        case .float:
            values.append(Value(shape: shape, floats: try tensor.floatValues()))
        case .double:
            values.append(Value(shape: shape, floats: try tensor.doubleValues().map { Float($0) }))
        case .int64:
            values.append(Value(shape: shape, ints: try tensor.int64Values()))
        case .int32:
            values.append(Value(shape: shape, ints: try tensor.int32Values().map { Int64($0) }))
        default:
            throw ConversionError("\(context) has data type \(tensor.dataType), which is not supported (float, double, int64, int32 are)")
        }
        let value = values[values.count - 1]
        let count = value.floats?.count ?? value.ints?.count ?? 0
        if count != shape.reduce(1, *) {
            throw ConversionError("\(context) has \(count) values for shape \(shape)")
        }
        return values.count - 1
    }

    mutating func newActivation(_ shape: [Int]) -> Int {
        values.append(Value(shape: shape))
        return values.count - 1
    }

    mutating func newConstant(_ shape: [Int], floats: [Float]) -> Int {
        values.append(Value(shape: shape, floats: floats))
        return values.count - 1
    }

    mutating func newConstant(_ shape: [Int], ints: [Int64]) -> Int {
        values.append(Value(shape: shape, ints: ints))
        return values.count - 1
    }

    @discardableResult
    mutating func emit(_ kind: OperatorKind, _ inputs: [Int], shape: [Int], attributes: [Int32] = [],
                       activation: Activation = .none, source: String) -> Int {
        let output = newActivation(shape)
        nodes.append(Node(kind: kind, inputs: inputs, output: output, attributes: attributes, activation: activation, source: source))
        return output
    }
}
