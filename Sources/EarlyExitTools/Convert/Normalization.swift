// Input normalization that travels with the network: ONNX metadata_props written by export.py.

extension ONNXConverter {
    /// The `metadata_props` keys of the input normalization: comma-separated per-channel (or
    /// single) values, applied to 8-bit pixels after x/255 as (x − mean) / std.
    public static let meanKey = "earlyexit.mean"
    public static let stdKey = "earlyexit.std"

    /// The normalization recorded in the ONNX file's metadata, or nil when it records none.
    static func metadataNormalization(_ model: ONNXModel) throws -> (mean: [Float], std: [Float])? {
        let meanText = model.metadataProps[meanKey], stdText = model.metadataProps[stdKey]
        if meanText == nil && stdText == nil { return nil }
        guard let meanText, let stdText else {
            throw ConversionError("the ONNX metadata_props have '\(meanText == nil ? stdKey : meanKey)' but not '\(meanText == nil ? meanKey : stdKey)'")
        }
        func parse(_ text: String, _ key: String) throws -> [Float] {
            let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw ConversionError("the ONNX metadata_props '\(key)' = '\(text)' is not a comma-separated list of numbers")
            }
            return values.map { $0! }
        }
        let mean = try parse(meanText, meanKey), std = try parse(stdText, stdKey)
        if mean.count != std.count {
            throw ConversionError("the ONNX metadata_props '\(meanKey)' has \(mean.count) values but '\(stdKey)' has \(std.count)")
        }
        if std.contains(where: { $0 <= 0 }) { throw ConversionError("the ONNX metadata_props '\(stdKey)' = '\(stdText)' has a value that is not positive") }
        return (mean, std)
    }

    /// Chooses the normalization to store: the options' (flags) when given, else the metadata's;
    /// checks its count against the input's channels. Returns the values and, in words, where they came from.
    static func resolveNormalization(_ model: ONNXModel, options: ConversionOptions, channels: Int) throws -> (mean: [Float], std: [Float], source: String) {
        var mean = options.mean, std = options.std
        var source = options.normalizationSource.isEmpty ? "given" : options.normalizationSource
        if mean.isEmpty, let recorded = try metadataNormalization(model) {
            (mean, std) = recorded
            source = "from the ONNX metadata_props (\(meanKey), \(stdKey))"
        } else if !mean.isEmpty, let recorded = try? metadataNormalization(model), recorded.mean != mean || recorded.std != std {
            source += "; overriding the ONNX metadata_props (mean \(recorded.mean.map { "\($0)" }.joined(separator: ",")), std \(recorded.std.map { "\($0)" }.joined(separator: ",")))"
        }
        if !mean.isEmpty && mean.count != 1 && mean.count != channels {
            throw ConversionError("the normalization has \(mean.count) values; the input has \(channels) channels (give 1 or \(channels))")
        }
        if mean.isEmpty { source = "none recorded" }
        return (mean, std, source)
    }
}

import Foundation
