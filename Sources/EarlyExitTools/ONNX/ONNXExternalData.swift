// ONNX external data: tensors whose bytes live in side files next to the .onnx file.
//
// A tensor with `data_location = EXTERNAL` names its bytes with `external_data` entries:
// `location` (a path relative to the model file's folder), `offset` and `length` (bytes,
// both optional) and `checksum` (ignored). PyTorch's dynamo exporter writes every weight
// this way by default, into `<model>.onnx.data`. The resolver reads each side file once
// (memory-mapped) and checks every claim before a byte is used: the path stays inside the
// model's folder, the file exists and is readable, the range lies inside the file, the
// length matches the tensor's dims and type exactly, and no two tensors share bytes.

import Foundation

extension ONNXModel {
    /// Reads and decodes the `.onnx` file at `url` and loads the external data of its tensors
    /// from side files in the same folder.
    public init(contentsOf url: URL, loadingExternalData: Bool) throws(ONNXError) {
        try self.init(contentsOf: url)
        if loadingExternalData { try resolveExternalData(relativeTo: url.deletingLastPathComponent()) }
    }

    /// True when some initializer or Constant node tensor keeps its data in a side file.
    public var hasExternalData: Bool {
        graph.initializers.contains(where: \.usesExternalData)
            || graph.nodes.contains { node in node.attributes.contains { $0.t?.usesExternalData ?? false } }
    }

    /// Loads every external tensor's bytes into `rawData` (initializers and the `value` tensors
    /// of nodes), reading each side file once, from `folder` (the model file's folder).
    public mutating func resolveExternalData(relativeTo folder: URL) throws(ONNXError) {
        guard hasExternalData else { return }
        var loader = ExternalDataLoader(folder: folder)
        for index in graph.initializers.indices where graph.initializers[index].usesExternalData {
            try loader.load(&graph.initializers[index])
        }
        for nodeIndex in graph.nodes.indices {
            for attributeIndex in graph.nodes[nodeIndex].attributes.indices {
                guard var tensor = graph.nodes[nodeIndex].attributes[attributeIndex].t, tensor.usesExternalData else { continue }
                try loader.load(&tensor)
                graph.nodes[nodeIndex].attributes[attributeIndex].t = tensor
            }
        }
    }
}

/// Reads side files once each and hands out checked byte ranges of them.
struct ExternalDataLoader {
    let folder: URL
    /// The folder with symbolic links resolved, to check that files stay inside it.
    let resolvedFolder: String
    /// Each side file's bytes, by its `location` text.
    var files: [String: Data] = [:]
    /// The byte ranges already handed out per file, with the tensor that owns each.
    var claimed: [String: [(range: Range<Int>, tensor: String)]] = [:]

    init(folder: URL) {
        self.folder = folder.standardizedFileURL
        self.resolvedFolder = folder.standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Loads `tensor`'s external bytes into its `rawData` and marks it as internal.
    mutating func load(_ tensor: inout ONNXTensor) throws(ONNXError) {
        let name = tensor.name.isEmpty ? "<unnamed>" : tensor.name
        guard let location = tensor.externalData["location"], !location.isEmpty else {
            throw ONNXError(.invalidExternalData(tensor: name, file: "", detail: "data_location is EXTERNAL but no 'location' entry names the file"))
        }
        func fail(_ detail: String) -> ONNXError {
            ONNXError(.invalidExternalData(tensor: name, file: location, detail: detail))
        }
        let data = try file(location, fail: fail)
        let offset = try number("offset", of: tensor, default: 0, fail: fail)
        guard let width = tensor.dataType.byteWidth else {
            throw fail("data type \(tensor.dataType) cannot be read from external data")
        }
        let count: Int
        do { count = try tensor.elementCount() } catch { throw fail("\(error)") }
        let (needed, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else { throw fail("dims \(tensor.dims) of \(tensor.dataType) need more than \(Int.max) bytes") }
        let length = try number("length", of: tensor, default: needed, fail: fail)
        guard length == needed else {
            throw fail("length is \(length) bytes, but dims \(tensor.dims) of \(tensor.dataType) need \(needed)")
        }
        guard offset <= data.count, data.count - offset >= length else {
            throw fail("bytes \(offset)..<\(offset + length) lie outside the file, which has \(data.count) bytes")
        }
        let range = offset..<(offset + length)
        if !range.isEmpty, let other = claimed[location, default: []].first(where: { $0.range.overlaps(range) }) {
            throw fail("bytes \(range.lowerBound)..<\(range.upperBound) overlap bytes \(other.range.lowerBound)..<\(other.range.upperBound) of tensor \(other.tensor)")
        }
        claimed[location, default: []].append((range, name))
        tensor.rawData = [UInt8](data[data.startIndex + offset ..< data.startIndex + offset + length])
        tensor.usesExternalData = false
        tensor.externalData = [:]
    }

    /// A non-negative integer entry, or `fallback` when absent.
    private func number(_ key: String, of tensor: ONNXTensor, default fallback: Int,
                        fail: (String) -> ONNXError) throws(ONNXError) -> Int {
        guard let text = tensor.externalData[key] else { return fallback }
        guard let value = Int(text), value >= 0 else { throw fail("\(key) '\(text)' is not a non-negative byte count") }
        return value
    }

    /// The side file's bytes, read (memory-mapped) the first time it is named.
    private mutating func file(_ location: String, fail: (String) -> ONNXError) throws(ONNXError) -> Data {
        if let data = files[location] { return data }
        if location.hasPrefix("/") || location.hasPrefix("\\") || location.contains("\0") {
            throw fail("the location must be a path relative to the model's folder")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if components.contains("..") {
            throw fail("the location leaves the model's folder ('..' is not allowed)")
        }
        let url = folder.appendingPathComponent(location).standardizedFileURL
        let resolved = url.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(resolvedFolder.hasSuffix("/") ? resolvedFolder : resolvedFolder + "/") else {
            throw fail("the location resolves to \(resolved), outside the model's folder \(resolvedFolder)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw fail("no such file in \(folder.path)")
        }
        if isDirectory.boolValue { throw fail("is a directory, not a file") }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw fail("cannot be read: \(error.localizedDescription)")
        }
        files[location] = data
        return data
    }
}
