// Reading models and inputs from files for the CLI and benchmarks.
import EarlyExit
import Foundation

/// Loads models and input tensors from paths, with errors that name the file.
public enum ModelFiles {
    /// Reads a whole file, or throws a `ToolError` naming it.
    public static func readBytes(_ path: String, what: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ToolError("\(what) '\(path)' does not exist")
        }
        if isDirectory.boolValue { throw ToolError("\(what) '\(path)' is a directory, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ToolError("\(what) '\(path)' cannot be read (not a regular file, or permission denied)")
        }
        return [UInt8](data)
    }

    /// Writes bytes to a file, or throws a `ToolError` naming it. A regular file (new or
    /// existing) is written to a temporary file in the same folder, flushed to disk and renamed
    /// over the target, so that the target is either its old contents or the complete new ones,
    /// never half written; the temporary file is removed on failure. Anything else that exists
    /// (a device such as /dev/stdout, a pipe) is written in place. Every failed write, flush or
    /// close is an error (a full disk, /dev/full).
    public static func writeBytes(_ bytes: [UInt8], to path: String, what: String) throws {
        try FileOutput.write(bytes, to: path, what: what)
    }

    /// The kernel set the global `--kernels` option chose, or nil: `KernelSet.selected()`
    /// (EARLYEXIT_KERNELS, else the best this CPU has).
    nonisolated(unsafe) public static var kernels: KernelSet?

    /// `kernels`, else `KernelSet.selected()`; a bad EARLYEXIT_KERNELS is an error of its own,
    /// not one of the model file's.
    public static func kernelSet() throws -> KernelSet {
        if let kernels { return kernels }
        do {
            return try KernelSet.selected()
        } catch {
            throw ToolError("\(error)")
        }
    }

    /// Loads and validates an `.eem` model file, prepared for `kernels`.
    public static func loadModel(_ path: String) throws -> Model {
        try loadModelAndBytes(path).model
    }

    /// `loadModel`, and the file's bytes (for commands that also write them out).
    static func loadModelAndBytes(_ path: String) throws -> (model: Model, bytes: [UInt8]) {
        let set = try kernelSet()
        let bytes = try readBytes(path, what: "model file")
        do {
            return (try Model(bytes: bytes, kernels: set), bytes)
        } catch {
            // An ONNX file where an .eem is expected: say what to do with it.
            var hint = ""
            if case ModelError.badMagic = error, path.lowercased().hasSuffix(".onnx") || bytes.first == 0x08 {
                hint = " (this looks like an ONNX file: convert it first, `early-exit convert '\(path)' -o MODEL.eem`)"
            }
            throw ToolError("model file '\(path)' is invalid: \(error)\(hint)")
        }
    }

    /// True when the file at `path` starts with the `.eem` magic bytes (`EEMFormat.magic`).
    static func startsWithModelMagic(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let magic = EEMFormat.magic
        return (try? handle.read(upToCount: 4)).map(Array.init) == [magic.0, magic.1, magic.2, magic.3]
    }

    /// Refuses to turn 8-bit pixels into the input of a model that records no normalization
    /// (converted without --mean/--std, --plain-pixels or normalization in the ONNX metadata):
    /// its input would be silently wrong. Float32 `.npy` inputs do not need it.
    public static func requirePixelNormalization(_ model: Model, pixels source: String) throws {
        guard model.metadata.mean.isEmpty else { return }
        let name = model.metadata.name.isEmpty ? "the model" : "model '\(model.metadata.name)'"
        throw ToolError("\(name) records no input normalization, so the 8-bit pixels of '\(source)' cannot be turned into its input: convert it again with --mean M[,M...] --std S[,S...] (the values the network was trained with, applied after x/255), or with --plain-pixels if it takes x/255 in [0, 1] as it is; float32 .npy inputs are used as they are (and `run --normalized` uses any .npy as it is)")
    }

    /// Converts 8-bit pixels (laid out as the input tensor, NCHW) to the model's input:
    /// `(x/255 − mean[c]) / std[c]` with the model's stored normalization, computed by the core
    /// (`Model.normalizePixels`, the arithmetic of `Interpreter.run(pixels:)` and of the C API's
    /// `ee_interpreter_run_pixels`). Callers refuse models without a normalization first
    /// (`requirePixelNormalization`); for those this returns x/255.
    public static func normalize(_ pixels: ArraySlice<UInt8>, for model: Model) -> [Float] {
        guard model.normalizesPixels else { return pixels.map { Float($0) / 255 } }
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                if let from = source.baseAddress, let to = target.baseAddress {
                    _ = model.normalizePixels(from, count: source.count, into: to)
                }
            }
        }
        return out
    }

    /// Reads one input: item `index` of an IDX image file (plain or gzip: 8-bit pixels), or an
    /// .npy tensor, whose dtype says what it holds unless `meaning` overrides it: integers
    /// (uint8, or any integer type with values 0...255) are pixels, floats are the network's
    /// input as is. Pixels are normalized with the model's stored mean and std, as IDX images are.
    public static func loadInput(_ path: String, index: Int?, for model: Model, as meaning: InputMeaning? = nil) throws -> LoadedInput {
        let bytes = try readBytes(path, what: "input file")
        let expected = model.input.elementCount
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {
            if index != nil { throw UsageError("--index applies to IDX image files, '\(path)' is an .npy tensor") }
            let (array, descr) = try NPYArray.parseWithType(bytes, source: path)
            // The shape must be the input's, with or without leading 1s (a batch of one).
            let wanted = Array(model.input.shape.dims.drop { $0 == 1 })
            let given = Array(array.shape.drop { $0 == 1 })
            if array.values.count != expected || given != wanted {
                throw ToolError("input '\(path)' has shape \(array.shape) (\(array.values.count) values); the model's input is \(model.input.shape)")
            }
            let isInteger = !descr.contains("f")
            let kind = meaning ?? (isInteger ? .pixels : .normalized)
            if kind == .normalized {
                return LoadedInput(values: array.values, meaning: .normalized, dtype: descr)
            }
            var pixels = [UInt8](repeating: 0, count: array.values.count)
            for (offset, value) in array.values.enumerated() {
                guard value >= 0 && value <= 255 && value == value.rounded() else {
                    throw ToolError("""
                        input '\(path)' (\(descr)) is read as 8-bit pixels\(meaning == .pixels ? " (--pixels)" : " (an integer array)"), \
                        but value \(offset) is \(value), not a whole number from 0 to 255\(meaning == .pixels ? "" : "; if it is the network's input as is, add --normalized")
                        """)
                }
                pixels[offset] = UInt8(value)
            }
            try requirePixelNormalization(model, pixels: path)
            return LoadedInput(values: normalize(pixels[...], for: model), meaning: .pixels, dtype: descr)
        }
        if meaning == .normalized {
            throw UsageError("--normalized applies to .npy inputs; '\(path)' is not one (IDX image files hold 8-bit pixels)")
        }
        let images = try IDXFile.parse(bytes, source: path)
        try requirePixelNormalization(model, pixels: path)
        guard let index else { throw UsageError("'\(path)' is an IDX file with \(images.count) images: choose one with --index N") }
        if index < 0 || index >= images.count {
            throw UsageError("--index \(index) is out of range: '\(path)' has \(images.count) images (0...\(max(images.count - 1, 0)))")
        }
        if images.itemSize != expected {
            throw ToolError("images in '\(path)' have \(images.itemSize) pixels; the model's input \(model.input.shape) needs \(expected)")
        }
        return LoadedInput(values: normalize(images.item(index), for: model), meaning: .pixels, dtype: "IDX unsigned bytes")
    }

    /// Reads a labelled image set: an IDX image file and an IDX label file of the same count.
    public static func loadDataset(images imagesPath: String, labels labelsPath: String, for model: Model, limit: Int? = nil) throws -> Dataset {
        let images = try IDXFile.parse(try readBytes(imagesPath, what: "image file"), source: imagesPath)
        let labels = try IDXFile.parse(try readBytes(labelsPath, what: "label file"), source: labelsPath)
        try requirePixelNormalization(model, pixels: imagesPath)
        if images.count != labels.count {
            throw ToolError("'\(imagesPath)' has \(images.count) images but '\(labelsPath)' has \(labels.count) labels")
        }
        if labels.itemSize != 1 { throw ToolError("'\(labelsPath)' is not a label file: each item has \(labels.itemSize) bytes") }
        if images.itemSize != model.input.elementCount {
            throw ToolError("images in '\(imagesPath)' have \(images.itemSize) pixels; the model's input \(model.input.shape) needs \(model.input.elementCount)")
        }
        let count = min(images.count, limit ?? images.count)
        var inputs: [[Float]] = []
        var targets: [Int] = []
        inputs.reserveCapacity(count)
        for index in 0..<count {
            let label = Int(labels.item(index).first ?? 0)
            if label >= model.classCount {
                throw ToolError("label \(label) of item \(index) in '\(labelsPath)' is not a class of the model (\(model.classCount) classes)")
            }
            inputs.append(normalize(images.item(index), for: model))
            targets.append(label)
        }
        return Dataset(inputs: inputs, labels: targets)
    }
}

/// Normalized inputs with their labels.
public struct Dataset {
    public var inputs: [[Float]]
    public var labels: [Int]
    public var count: Int { inputs.count }

    public init(inputs: [[Float]], labels: [Int]) {
        self.inputs = inputs
        self.labels = labels
    }
}

/// What an input file's numbers are: 8-bit pixels (normalized with the model's stored mean and
/// std on the way in) or the network's input itself.
public enum InputMeaning: String, Sendable {
    case pixels
    case normalized
}

/// An input read by `ModelFiles.loadInput`: the network's input values, and what the file held.
public struct LoadedInput {
    public var values: [Float]
    public var meaning: InputMeaning
    /// The .npy dtype ('<f4', '|u1', ...) or "IDX unsigned bytes".
    public var dtype: String
}
