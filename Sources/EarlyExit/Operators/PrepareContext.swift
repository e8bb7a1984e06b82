// What preparing one operator can see and allocate: the validated graph and model-owned storage.

/// Memory that prepared operators own for the model's lifetime (folded biases, lookup tables,
/// packed weights). Allocated while the model loads, never during `run`, and freed with the model.
final class PreparedStorage {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Bytes allocated so far, for `Model.preparedBytes`.
    private(set) var byteCount = 0
    private var zeroFloats: UnsafeMutablePointer<Float>?
    private var zeroFloatCount = 0

    /// At least `count` float zeros, shared by every operator (read-only: padding rows).
    func zeros(_ count: Int) -> UnsafePointer<Float> {
        if let zeroFloats, zeroFloatCount >= count { return UnsafePointer(zeroFloats) }
        let block = allocate(Float.self, count: count)
        block.initialize(repeating: 0, count: count)
        zeroFloats = block
        zeroFloatCount = count
        return UnsafePointer(block)
    }

    /// Uninitialized memory for `count` values of `type`, 64-byte aligned.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        blocks.append(block)
        byteCount += bytes
        return block.bindMemory(to: T.self, capacity: max(count, 1))
    }

    deinit {
        for block in blocks { block.deallocate() }
    }
}

/// The context of preparing operator `index` for execution: validated operators and tensors,
/// constant data in place, producers, and the storage where prepared data goes.
struct PrepareContext {
    let tensors: [TensorInfo]
    let operators: [Operator]
    let base: UnsafeRawPointer
    /// For every tensor, the index of the operator that writes it, or −1.
    let producers: [Int]
    let storage: PreparedStorage
    /// The kernels the model is prepared for (packing depends on their vector width).
    let kernels: KernelSet
    /// Every activation's layout (`TensorLayouts`).
    let layouts: [TensorLayout]

    func fail(_ index: Int, _ reason: String) -> ModelError {
        .badOperator(op: index, kind: operators[index].kind.name, reason: reason)
    }

    func constantFloats(_ tensor: Int) -> UnsafePointer<Float> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Float.self)
    }

    func constantInt8(_ tensor: Int) -> UnsafePointer<Int8> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Int8.self)
    }

    /// A constant int32 tensor in place (little-endian hosts).
    func constantInt32(_ tensor: Int) -> UnsafePointer<Int32> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Int32.self)
    }

    func zeroPoint(_ tensor: Int) -> Int32 { tensors[tensor].quantization.zeroPoint }

    /// Output requantization of an int8 operator: per-channel multipliers and shifts from its
    /// inputs 3 and 4, or a scalar pair, with the clamp bounds of its fused activation.
    func requantization(_ op: Operator, multiplier: Int32 = 0, shift: Int32 = 0, perChannel: Bool,
                        singleRounding: Bool) -> Requantization {
        let zp = zeroPoint(op.output)
        var q = Requantization(outputZeroPoint: zp, minimum: op.activation == .relu ? max(-128, zp) : -128,
                               maximum: 127, singleRounding: singleRounding)
        if perChannel {
            q.multipliers = constantInt32(op.inputs[3])
            q.shifts = constantInt32(op.inputs[4])
        } else {
            q.multiplier = multiplier
            q.shift = shift
        }
        return q
    }

    /// Checks an int8 operator's per-channel multipliers and shifts (inputs 3 and 4).
    func checkChannelRequantization(_ index: Int, channels: Int) throws(ModelError) {
        let op = operators[index]
        let multipliers = constantInt32(op.inputs[3]), shifts = constantInt32(op.inputs[4])
        for c in 0..<channels where multipliers[c] < 0 || shifts[c] < -31 || shifts[c] > 30 {
            throw fail(index, "channel \(c): requantization multiplier \(multipliers[c]) with shift \(shifts[c]) is invalid (multiplier ≥ 0, shift −31…30)")
        }
    }

    /// `bias[c] − zp_in · Σ_k W[c,k]` for every output channel, so that integer products can
    /// use raw int8 values; throws when a folded bias overflows int32.
    func foldedBias(_ index: Int, channels: Int) throws(ModelError) -> UnsafePointer<Int32> {
        let op = operators[index]
        let bias = constantInt32(op.inputs[2])
        let weights = constantInt8(op.inputs[1])
        let perChannel = tensors[op.inputs[1]].elementCount / channels
        let zeroPoint = Int64(tensors[op.inputs[0]].quantization.zeroPoint)
        let folded = storage.allocate(Int32.self, count: channels)
        for c in 0..<channels {
            var sum: Int64 = 0
            for k in 0..<perChannel { sum += Int64(weights[c * perChannel + k]) }
            let value = Int64(bias[c]) - zeroPoint * sum
            if value < Int64(Int32.min) || value > Int64(Int32.max) {
                throw fail(index, "channel \(c): bias \(bias[c]) with the input zero point folded in overflows int32")
            }
            folded[c] = Int32(value)
        }
        return UnsafePointer(folded)
    }
}
