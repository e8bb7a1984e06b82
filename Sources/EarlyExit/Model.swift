// A loaded and fully validated model: a read-only view over the caller's `.eem` bytes.

/// A validated `.eem` model whose constant data is used in place.
///
/// Loading checks every byte that the runtime will ever read (header, checksum, sections,
/// tensor records, operator arity and shapes, exits, metadata) and plans the arena, so that
/// inference itself cannot fail. A model is immutable and may be shared by interpreters on
/// several threads.
public final class Model {
    public let tensors: [TensorInfo]
    public let operators: [Operator]
    /// The exits in order of depth; the last one is the network's own head.
    public let exits: [ExitInfo]
    public let inputTensor: Int
    public let classCount: Int
    /// The policy and thresholds stored in the file.
    public let defaultPolicy: ExitPolicy
    public let metadata: ModelMetadata
    public let plan: ArenaPlan
    /// Multiply-accumulates of the whole schedule.
    public let totalMACs: Int
    public let versionMinor: Int

    /// Start of the model bytes; constant tensors are read at `base + dataOffset`.
    let base: UnsafeRawPointer
    public let byteCount: Int
    private let ownedStorage: UnsafeMutableRawPointer?
    /// Data derived at load for int8 operators (biases with the input zero point folded in).
    let prepared: UnsafeMutablePointer<Int32>

    /// Loads a model from a buffer the caller owns and keeps alive, without copying it.
    ///
    /// The buffer's base address must be 16-byte aligned (a memory-mapped file or a C array
    /// with `_Alignas(16)`); the model must not outlive the buffer.
    public init(borrowing buffer: UnsafeRawBufferPointer) throws(ModelError) {
        guard let base = buffer.baseAddress else { throw .truncated(what: "header", offset: 0, needed: EEMFormat.headerSize, available: 0) }
        let parsed = try ModelParser.parse(base: base, count: buffer.count)
        self.base = base
        self.byteCount = buffer.count
        self.ownedStorage = nil
        self.prepared = Model.copy(parsed.prepared)
        (tensors, operators, exits, inputTensor, classCount, defaultPolicy, metadata, plan, totalMACs, versionMinor) =
            (parsed.tensors, parsed.operators, parsed.exits, parsed.inputTensor, parsed.classCount, parsed.policy,
             parsed.metadata, parsed.plan, parsed.totalMACs, parsed.versionMinor)
    }

    /// Loads a model from bytes, copying them into aligned storage that the model owns.
    public init(bytes: [UInt8]) throws(ModelError) {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: EEMFormat.dataAlignment)
        bytes.withUnsafeBytes { raw in
            if let source = raw.baseAddress { storage.copyMemory(from: source, byteCount: raw.count) }
        }
        let parsed: ModelParser.Parsed
        do {
            parsed = try ModelParser.parse(base: UnsafeRawPointer(storage), count: bytes.count)
        } catch {
            storage.deallocate()
            throw error
        }
        self.base = UnsafeRawPointer(storage)
        self.byteCount = bytes.count
        self.ownedStorage = storage
        self.prepared = Model.copy(parsed.prepared)
        (tensors, operators, exits, inputTensor, classCount, defaultPolicy, metadata, plan, totalMACs, versionMinor) =
            (parsed.tensors, parsed.operators, parsed.exits, parsed.inputTensor, parsed.classCount, parsed.policy,
             parsed.metadata, parsed.plan, parsed.totalMACs, parsed.versionMinor)
    }

    deinit {
        ownedStorage?.deallocate()
        prepared.deallocate()
    }

    private static func copy(_ values: [Int32]) -> UnsafeMutablePointer<Int32> {
        let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: max(values.count, 1))
        for (index, value) in values.enumerated() { pointer[index] = value }
        return pointer
    }

    /// True when the model's exits (and so its arithmetic) are int8.
    public var isQuantized: Bool { tensors[exits[0].logitsTensor].dataType == .int8 }

    /// The number of exits before the final head.
    public var earlyExitCount: Int { exits.count - 1 }

    /// For every tensor, the index of the operator that writes it, or −1 (the input and constants).
    public func tensorProducers() -> [Int] { Int8Fusion.producers(operators, tensorCount: tensors.count) }

    /// The model's input tensor description.
    public var input: TensorInfo { tensors[inputTensor] }

    /// Bytes of constant data (weights, biases, quantization parameters).
    public var weightBytes: Int {
        var total = 0
        for tensor in tensors where tensor.isConstant { total += tensor.byteCount }
        return total
    }

    /// The constant data of a float32 tensor, in place in the model buffer.
    @inline(__always)
    func constantFloats(_ tensor: Int) -> UnsafePointer<Float> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Float.self)
    }

    /// The constant data of an int8 tensor, in place in the model buffer.
    @inline(__always)
    func constantInt8(_ tensor: Int) -> UnsafePointer<Int8> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Int8.self)
    }

    /// The constant data of an int32 tensor, in place in the model buffer (little-endian hosts).
    @inline(__always)
    func constantInt32(_ tensor: Int) -> UnsafePointer<Int32> {
        (base + tensors[tensor].dataOffset).assumingMemoryBound(to: Int32.self)
    }

    /// Calls `body` with a constant tensor's bytes, in place.
    public func withConstantBytes<R>(of tensor: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let info = tensors[tensor]
        return body(UnsafeRawBufferPointer(start: base + info.dataOffset, count: info.isConstant ? info.byteCount : 0))
    }

    /// Calls `body` with the whole model buffer.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }
}
