// Running on 8-bit pixels: the model's stored normalization applied on the way into the arena.
//
// The arithmetic is the one the tools apply to IDX images (`ModelFiles.normalize` calls
// `Model.normalizePixel`), so a run on pixels and a run on the tools' normalized floats
// execute on identical input values, bit for bit.

extension Model {
    /// True when the model records the normalization that turns 8-bit pixels into its input
    /// (a mean and a standard deviation, one value or one per channel). Without it the meaning
    /// of a pixel is unknown and pixel input is refused.
    public var normalizesPixels: Bool { !metadata.mean.isEmpty && metadata.mean.count == metadata.std.count }

    /// The number of input channels: dimension 1 of the input shape (NCHW), or 1.
    public var inputChannels: Int {
        let shape = input.shape
        return shape.rank >= 2 ? max(shape[1], 1) : 1
    }

    /// The network input for one 8-bit pixel of channel `channel`:
    /// `(Float(pixel) / 255 − mean[c]) / std[c]`, with `c` = 0 when the model stores one value.
    /// Requires `normalizesPixels`.
    @inline(__always)
    public func normalizedPixel(_ pixel: UInt8, channel: Int, mean: [Float], std: [Float]) -> Float {
        let c = mean.count == 1 ? 0 : min(channel, mean.count - 1)
        let scaled = Float(pixel) / 255
        return (scaled - mean[c]) / std[c]
    }

    /// Normalizes `count` pixels laid out as the input tensor (NCHW) into `out`. Requires
    /// `normalizesPixels`; `count` must be the input's element count. Returns the index of the
    /// first value that is not finite (a standard deviation so small that the quotient
    /// overflows), or nil.
    public func normalizePixels(_ pixels: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<Float>) -> Int? {
        let metadata = self.metadata
        let mean = metadata.mean, std = metadata.std
        let perChannel = max(count / inputChannels, 1)
        var bad: Int?
        for offset in 0..<count {
            let value = normalizedPixel(pixels[offset], channel: offset / perChannel, mean: mean, std: std)
            out[offset] = value
            if bad == nil && !value.isFinite { bad = offset }
        }
        return bad
    }
}

extension Interpreter {
    /// Runs one inference on 8-bit pixels laid out as the input tensor (NCHW, one byte per
    /// element): each pixel is normalized with the model's stored mean and standard deviation
    /// (`Model.normalizedPixel`) straight into the arena's input tensor, and for an int8 model
    /// quantized there as `run(_: UnsafeBufferPointer<Float>)` quantizes a float input. The
    /// decisions and results equal those of `run` on the normalized floats. Does not allocate,
    /// except for the message of a refused input.
    ///
    /// Refused (`ModelError.badInput`): a model that records no normalization
    /// (`model.normalizesPixels` is false), a wrong pixel count, or a normalization that
    /// overflows float32.
    public func run(pixels: UnsafeBufferPointer<UInt8>) throws(ModelError) -> RunSummary {
        let info = model.input
        if !model.normalizesPixels {
            throw .badInput(reason: "the model records no input normalization (mean and std), so 8-bit pixels have no defined meaning; "
                + "store one with `early-exit convert --mean M --std S`, or pass the network's input as float32 values")
        }
        if pixels.count != info.elementCount {
            throw .badInput(reason: "\(pixels.count) pixels given, the input tensor \(info.shape) has \(info.elementCount)")
        }
        guard let source = pixels.baseAddress else { throw .badInput(reason: "empty input") }
        if info.dataType == .int8 {
            // Normalize one value at a time and quantize it exactly as a float input is.
            let target = int8s(model.inputTensor)
            let q = info.quantization
            let metadata = model.metadata
            let mean = metadata.mean, std = metadata.std
            let perChannel = max(pixels.count / model.inputChannels, 1)
            for i in 0..<pixels.count {
                let value = model.normalizedPixel(source[i], channel: i / perChannel, mean: mean, std: std)
                if !value.isFinite { throw .badInput(reason: "pixel \(i) normalizes to a value that is not finite (the stored std is too small)") }
                target[i] = FloatMath.quantize(value, scale: q.scale, zeroPoint: q.zeroPoint)
            }
        } else if let bad = model.normalizePixels(source, count: pixels.count, into: floats(model.inputTensor)) {
            throw .badInput(reason: "pixel \(bad) normalizes to a value that is not finite (the stored std is too small)")
        }
        let summary = execute()
        if quantizedExits == nil, let bad = firstNonFiniteExit(summary) {
            lastRun = nil
            throw .nonFiniteOutput(exit: bad)
        }
        lastRun = summary
        return summary
    }

    /// Runs on an array of pixels (a convenience over the buffer form).
    public func run(pixels: [UInt8]) throws(ModelError) -> RunSummary {
        var result: Result<RunSummary, ModelError> = .failure(.badInput(reason: "empty input"))
        pixels.withUnsafeBufferPointer { buffer in
            do throws(ModelError) { result = .success(try run(pixels: buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
