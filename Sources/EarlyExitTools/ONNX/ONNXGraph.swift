// An ONNX GraphProto: nodes in file order, constant initializers and declared values.

/// A computation graph: its nodes, initializers, inputs, outputs and intermediate value types.
public struct ONNXGraph: Equatable, Sendable {
    /// The graph's name.
    public var name: String
    /// The nodes, in file order (ONNX requires topological order).
    public var nodes: [ONNXNode]
    /// The constant tensors (weights, biases, shapes).
    public var initializers: [ONNXTensor]
    /// The graph inputs; exporters may list initializers here too.
    public var inputs: [ONNXValueInfo]
    /// The graph outputs.
    public var outputs: [ONNXValueInfo]
    /// Types of intermediate values, when the exporter or shape inference recorded them.
    public var valueInfo: [ONNXValueInfo]

    /// Creates a graph.
    public init(
        name: String = "", nodes: [ONNXNode] = [], initializers: [ONNXTensor] = [], inputs: [ONNXValueInfo] = [],
        outputs: [ONNXValueInfo] = [], valueInfo: [ONNXValueInfo] = []
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
    }

    /// The initializer called `name`, or nil.
    public func initializer(named name: String) -> ONNXTensor? {
        initializers.first { $0.name == name }
    }

    // MARK: Decoding

    /// Decodes a `GraphProto` message (sparse initializers and annotations are skipped).
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1:
                nodes.append(try reader.readMessage(tag, path: ".node[\(nodes.count)]", ONNXNode.init(decoding:)))
            case 2:
                name = try reader.readString(tag)
            case 5:
                let tensor = try reader.readMessage(
                    tag, path: ".initializer[\(initializers.count)]", ONNXTensor.init(decoding:))
                initializers.append(tensor)
            case 11:
                inputs.append(try reader.readMessage(tag, path: ".input[\(inputs.count)]", ONNXValueInfo.init(decoding:)))
            case 12:
                let output = try reader.readMessage(tag, path: ".output[\(outputs.count)]", ONNXValueInfo.init(decoding:))
                outputs.append(output)
            case 13:
                let info = try reader.readMessage(
                    tag, path: ".value_info[\(valueInfo.count)]", ONNXValueInfo.init(decoding:))
                valueInfo.append(info)
            default:
                try reader.skip(tag)
            }
        }
    }
}
