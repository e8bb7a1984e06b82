// An ONNX NodeProto: one operator application, with typed look-ups of its attributes.

/// One node of an ONNX graph: an operator, its input and output value names and attributes.
///
/// The typed helpers (`int(_:)`, `ints(_:)`, ...) return nil when the attribute is absent and
/// throw `attributeTypeMismatch` when it is present with another type, so a caller can write
/// `try node.int("axis") ?? 1`.
public struct ONNXNode: Equatable, Sendable {
    /// The node's name (may be empty).
    public var name: String
    /// The operator, such as `Conv`.
    public var opType: String
    /// The operator set domain; empty means the default `ai.onnx` domain.
    public var domain: String
    /// The input value names; an empty name marks an omitted optional input.
    public var inputs: [String]
    /// The output value names.
    public var outputs: [String]
    /// The attributes, in file order.
    public var attributes: [ONNXAttribute]

    /// Creates a node.
    public init(
        name: String = "", opType: String = "", domain: String = "", inputs: [String] = [], outputs: [String] = [],
        attributes: [ONNXAttribute] = []
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    // MARK: Attribute look-up

    /// The first attribute called `name`, or nil.
    public func attribute(named name: String) -> ONNXAttribute? {
        attributes.first { $0.name == name }
    }

    /// The INT attribute `name`, or nil when absent.
    public func int(_ name: String) throws(ONNXError) -> Int64? {
        try typedAttribute(name, .int)?.i
    }

    /// The INTS attribute `name`, or nil when absent.
    public func ints(_ name: String) throws(ONNXError) -> [Int64]? {
        try typedAttribute(name, .ints)?.ints
    }

    /// The FLOAT attribute `name`, or nil when absent.
    public func float(_ name: String) throws(ONNXError) -> Float? {
        try typedAttribute(name, .float)?.f
    }

    /// The FLOATS attribute `name`, or nil when absent.
    public func floats(_ name: String) throws(ONNXError) -> [Float]? {
        try typedAttribute(name, .floats)?.floats
    }

    /// The STRING attribute `name` as UTF-8 text, or nil when absent.
    public func string(_ name: String) throws(ONNXError) -> String? {
        guard let attribute = try typedAttribute(name, .string) else { return nil }
        guard let text = attribute.stringValue else {
            throw ONNXError(.invalidUTF8(field: 4), path: "\(displayName).attribute '\(name)'")
        }
        return text
    }

    /// The STRINGS attribute `name` as UTF-8 texts, or nil when absent.
    public func strings(_ name: String) throws(ONNXError) -> [String]? {
        guard let attribute = try typedAttribute(name, .strings) else { return nil }
        guard let texts = attribute.stringValues else {
            throw ONNXError(.invalidUTF8(field: 9), path: "\(displayName).attribute '\(name)'")
        }
        return texts
    }

    /// The TENSOR attribute `name`, or nil when absent.
    public func tensor(_ name: String) throws(ONNXError) -> ONNXTensor? {
        try typedAttribute(name, .tensor)?.t
    }

    /// The GRAPH attribute `name`, or nil when absent.
    public func graph(_ name: String) throws(ONNXError) -> ONNXGraph? {
        try typedAttribute(name, .graph)?.g
    }

    /// The node's name, or its first output's name when it has none (exporters leave some unnamed).
    public var reportedName: String {
        name.isEmpty ? (outputs.first { !$0.isEmpty } ?? "") : name
    }

    /// How errors name this node: `node 'conv1' (Conv)`.
    public var displayName: String {
        "node '\(name)' (\(domain.isEmpty ? opType : domain + "." + opType))"
    }

    /// The attribute `name` if present, after checking it has type `expected`.
    private func typedAttribute(_ name: String, _ expected: ONNXAttributeType) throws(ONNXError) -> ONNXAttribute? {
        guard let attribute = attribute(named: name) else { return nil }
        guard attribute.type == expected else {
            throw ONNXError(
                .attributeTypeMismatch(name: name, actual: attribute.type, expected: expected), path: displayName)
        }
        return attribute
    }

    // MARK: Decoding

    /// Decodes a `NodeProto` message.
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: inputs.append(try reader.readString(tag))
            case 2: outputs.append(try reader.readString(tag))
            case 3: name = try reader.readString(tag)
            case 4: opType = try reader.readString(tag)
            case 5:
                let attribute = try reader.readMessage(
                    tag, path: ".attribute[\(attributes.count)]", ONNXAttribute.init(decoding:))
                attributes.append(attribute)
            case 7: domain = try reader.readString(tag)
            default: try reader.skip(tag)
            }
        }
    }
}
