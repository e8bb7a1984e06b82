// An ONNX ModelProto: the root of a .onnx file, and the entry points that decode one.

import Foundation

/// One `opset_import` entry: an operator set domain and its version.
public struct ONNXOperatorSetID: Equatable, Hashable, Sendable {
    /// The domain; empty (or `ai.onnx`) is the default ONNX operator set.
    public var domain: String
    /// The operator set version.
    public var version: Int64

    /// Creates an operator set reference.
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A decoded ONNX model: version information, operator sets and the main graph.
///
/// Only the parts a lowering needs (and `metadata_props`) are decoded; every other field (doc
/// strings, functions, training info) is skipped safely. For a singular message field that appears more
/// than once, the last occurrence wins (protobuf would merge them; exporters never do this).
public struct ONNXModel: Equatable, Sendable {
    /// The IR version (`ir_version`).
    public var irVersion: Int64
    /// The exporting tool's name, such as `pytorch`.
    public var producerName: String
    /// The exporting tool's version.
    public var producerVersion: String
    /// The operator sets the model uses.
    public var opsetImports: [ONNXOperatorSetID]
    /// The main graph.
    public var graph: ONNXGraph
    /// `metadata_props`: free key/value text, such as the input normalization `Training/export.py`
    /// writes (`earlyexit.mean`, `earlyexit.std`); for a key given twice the last value wins.
    public var metadataProps: [String: String] = [:]

    /// Creates a model.
    public init(
        irVersion: Int64 = 0, producerName: String = "", producerVersion: String = "",
        opsetImports: [ONNXOperatorSetID] = [], graph: ONNXGraph = ONNXGraph()
    ) {
        self.irVersion = irVersion
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.opsetImports = opsetImports
        self.graph = graph
    }

    /// The imported version of the default (`ai.onnx`) operator set, or nil.
    public var defaultOpsetVersion: Int64? {
        opsetVersion(domain: "")
    }

    /// The imported version of `domain`'s operator set; `""` and `ai.onnx` are the same domain.
    public func opsetVersion(domain: String) -> Int64? {
        let wanted = domain == "ai.onnx" ? "" : domain
        return opsetImports.last { ($0.domain == "ai.onnx" ? "" : $0.domain) == wanted }?.version
    }

    // MARK: Entry points

    /// Decodes a model from the bytes of a `.onnx` file.
    public static func decode(_ bytes: [UInt8]) throws(ONNXError) -> ONNXModel {
        var reader = ProtobufReader(bytes)
        do throws(ONNXError) {
            return try ONNXModel(decoding: &reader)
        } catch {
            throw error.within("ModelProto")
        }
    }

    /// Reads and decodes the `.onnx` file at `url`.
    public init(contentsOf url: URL) throws(ONNXError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ONNXError(.unreadableFile(path: url.path, detail: error.localizedDescription))
        }
        self = try Self.decode([UInt8](data))
    }

    // MARK: Decoding

    /// Decodes a `ModelProto` message; its `graph` is required.
    init(decoding reader: inout ProtobufReader) throws(ONNXError) {
        self.init()
        var sawGraph = false
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: irVersion = try reader.readInt64(tag)
            case 2: producerName = try reader.readString(tag)
            case 3: producerVersion = try reader.readString(tag)
            case 7:
                graph = try reader.readMessage(tag, path: ".graph", ONNXGraph.init(decoding:))
                sawGraph = true
            case 14:
                let entry = try reader.readMessage(
                    tag, path: ".metadata_props[\(metadataProps.count)]", ONNXTensor.decodeStringEntry)
                metadataProps[entry.key] = entry.value
            case 8:
                let opset = try reader.readMessage(
                    tag, path: ".opset_import[\(opsetImports.count)]", Self.decodeOperatorSetID)
                opsetImports.append(opset)
            default: try reader.skip(tag)
            }
        }
        guard sawGraph else { throw ONNXError(.missingField("graph")) }
    }

    /// Decodes an `OperatorSetIdProto`.
    private static func decodeOperatorSetID(_ reader: inout ProtobufReader) throws(ONNXError) -> ONNXOperatorSetID {
        var opset = ONNXOperatorSetID(domain: "", version: 0)
        while let tag = try reader.nextTag() {
            switch tag.field {
            case 1: opset.domain = try reader.readString(tag)
            case 2: opset.version = try reader.readInt64(tag)
            default: try reader.skip(tag)
            }
        }
        return opset
    }
}
