// A loaded, validated and prepared model: a read-only view over the caller's `.eem` bytes.

/// A validated `.eem` model whose constant data is used in place.
///
/// Loading checks every byte that the runtime will ever read (header, checksum, sections,
/// tensor records, operator arity and shapes, exits, metadata), prepares every operator for
/// execution (typed parameters, derived constants) and plans the arena, so that inference
/// itself cannot fail. A model is immutable and may be shared by interpreters on several
/// threads.
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
    /// Every operator prepared for execution (`OperatorTable`).
    let prepared: [PreparedOperator]
    /// Memory the prepared operators own (folded biases, tables).
    private let preparedStorage: PreparedStorage
    /// For every operator: true when nothing the run needs reads its output (an int8 softmax
    /// whose every reader is a fused attention pooling, and which no exit reads): `run` skips
    /// it unless an observer watches (`run(_:afterEachOperator:)`), so tools still see it.
    let observedOnly: [Bool]
    /// For every tensor, the operator that writes it; −1 for the input and constants.
    private let producers: [Int]
    /// The microkernels this model was prepared for and runs with.
    public let kernels: KernelSet
    /// Every tensor's layout in the arena (`TensorLayouts`); constants are standard.
    public let layouts: [TensorLayout]

    /// Loads a model from a buffer the caller owns and keeps alive, without copying it.
    ///
    /// The buffer's base address must be 16-byte aligned (a memory-mapped file or a C array
    /// with `_Alignas(16)`); the model must not outlive the buffer.
    ///
    /// `kernels` selects the microkernels the model is prepared for (weights are packed for
    /// them); nil takes `KernelSet.selected()`: `EARLYEXIT_KERNELS` when set, else the best
    /// the CPU supports.
    ///
    /// `fusion` (default true) lets a convolution perform the residual add that reads it in its
    /// epilogue (unobserved runs only; see `Fusion`); false prepares every operator on its own.
    public convenience init(borrowing buffer: UnsafeRawBufferPointer, kernels: KernelSet? = nil, fusion: Bool = true) throws(ModelError) {
        guard let base = buffer.baseAddress else { throw .truncated(what: "header", offset: 0, needed: EEMFormat.headerSize, available: 0) }
        let loaded = try Model.load(base: base, count: buffer.count, kernels: kernels, fuse: fusion)
        self.init(loaded: loaded, base: base, byteCount: buffer.count, ownedStorage: nil)
    }

    /// Loads a model from bytes, copying them into aligned storage that the model owns; see
    /// `init(borrowing:kernels:)` for `kernels`.
    public convenience init(bytes: [UInt8], kernels: KernelSet? = nil, fusion: Bool = true) throws(ModelError) {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: EEMFormat.dataAlignment)
        bytes.withUnsafeBytes { raw in
            if let source = raw.baseAddress { storage.copyMemory(from: source, byteCount: raw.count) }
        }
        let loaded: Loaded
        do {
            loaded = try Model.load(base: UnsafeRawPointer(storage), count: bytes.count, kernels: kernels, fuse: fusion)
        } catch {
            storage.deallocate()
            throw error
        }
        self.init(loaded: loaded, base: UnsafeRawPointer(storage), byteCount: bytes.count, ownedStorage: storage)
    }

    /// Stores a loaded model. The public initializers validate first and delegate here, so that
    /// the object is allocated only once nothing can fail: in Embedded Swift, a designated
    /// initializer that throws leaks the object it was called on (found by the C API misuse
    /// suite under AddressSanitizer: every refused model leaked its 240-byte object).
    private init(loaded: Loaded, base: UnsafeRawPointer, byteCount: Int, ownedStorage: UnsafeMutableRawPointer?) {
        self.base = base
        self.byteCount = byteCount
        self.ownedStorage = ownedStorage
        (tensors, operators, exits, inputTensor, classCount, defaultPolicy, metadata, totalMACs, versionMinor) =
            (loaded.parsed.tensors, loaded.parsed.operators, loaded.parsed.exits, loaded.parsed.inputTensor, loaded.parsed.classCount,
             loaded.parsed.policy, loaded.parsed.metadata, loaded.parsed.totalMACs, loaded.parsed.versionMinor)
        (prepared, preparedStorage, plan, producers) = (loaded.prepared, loaded.storage, loaded.plan, loaded.parsed.producers)
        (self.kernels, layouts, observedOnly) = (loaded.kernels, loaded.layouts, loaded.observedOnly)
    }

    deinit {
        ownedStorage?.deallocate()
    }

    private struct Loaded {
        var parsed: ModelParser.Parsed
        var prepared: [PreparedOperator]
        var storage: PreparedStorage
        var plan: ArenaPlan
        var kernels: KernelSet
        var layouts: [TensorLayout]
        var observedOnly: [Bool]
    }

    /// Parses and validates the buffer, prepares every operator, and plans the arena.
    private static func load(base: UnsafeRawPointer, count: Int, kernels requested: KernelSet?, fuse: Bool) throws(ModelError) -> Loaded {
        let kernels: KernelSet
        if let requested {
            if !requested.isSupported { _ = try KernelSet.require(requested.name) }
            kernels = requested
        } else {
            kernels = try KernelSet.selected()
        }
        let parsed = try ModelParser.parse(base: base, count: count)
        let quantized = parsed.tensors[parsed.exits[0].logitsTensor].dataType == .int8
        let layouts = TensorLayouts.assign(tensors: parsed.tensors, operators: parsed.operators, inputTensor: parsed.inputTensor,
                                           quantized: quantized, kernels: kernels)
        let storage = PreparedStorage()
        let context = PrepareContext(tensors: parsed.tensors, operators: parsed.operators, base: base,
                                     producers: parsed.producers, storage: storage, kernels: kernels, layouts: layouts)
        var prepared: [PreparedOperator] = []
        prepared.reserveCapacity(parsed.operators.count)
        for index in parsed.operators.indices { prepared.append(try OperatorTable.prepare(context, index)) }
        let fusions = fuse ? Fusion.residualAdds(tensors: parsed.tensors, operators: parsed.operators, prepared: prepared,
                                                 exits: parsed.exits, producers: parsed.producers) : [:]
        for (convolution, fusion) in fusions {
            if case var .conv2d(op) = prepared[convolution] {
                op.fusion = fusion
                prepared[convolution] = .conv2d(op)
            }
        }
        let buffers = BufferLifetimes.buffers(tensors: parsed.tensors, operators: parsed.operators, prepared: prepared,
                                              exits: parsed.exits, inputTensor: parsed.inputTensor, fusions: fusions)
        let plan = ArenaPlan(buffers: buffers, persistentBytes: ArenaLayout.byteCount(exitCount: parsed.exits.count, classCount: parsed.classCount),
                             tensorCount: parsed.tensors.count, operatorCount: parsed.operators.count)
        // Softmaxes read only through fused poolings.
        var observedOnly = [Bool](repeating: false, count: parsed.operators.count)
        var readers = [Int](repeating: 0, count: parsed.tensors.count)
        for op in parsed.operators { for input in op.inputs { readers[input] += 1 } }
        for exit in parsed.exits { readers[exit.logitsTensor] += 1; if exit.hasGate { readers[exit.gateTensor] += 1 } }
        var pooledReads = [Int](repeating: 0, count: parsed.tensors.count)
        for (index, op) in prepared.enumerated() where op.pooledSoftmaxIndex >= 0 {
            _ = index
            pooledReads[parsed.operators[op.pooledSoftmaxIndex].output] += 1
        }
        for (index, op) in parsed.operators.enumerated() where op.kind == .softmax {
            observedOnly[index] = pooledReads[op.output] > 0 && pooledReads[op.output] == readers[op.output]
        }
        // Residual adds a convolution performs in its epilogue.
        for fusion in fusions.values { observedOnly[fusion.add] = true }
        return Loaded(parsed: parsed, prepared: prepared, storage: storage, plan: plan, kernels: kernels, layouts: layouts,
                      observedOnly: observedOnly)
    }

    /// True when the model's exits (and so its arithmetic) are int8.
    public var isQuantized: Bool { tensors[exits[0].logitsTensor].dataType == .int8 }

    /// The number of exits before the final head.
    public var earlyExitCount: Int { exits.count - 1 }

    /// For every tensor, the index of the operator that writes it, or −1 (the input and constants).
    public func tensorProducers() -> [Int] { producers }

    /// The model's input tensor description.
    public var input: TensorInfo { tensors[inputTensor] }

    /// Bytes of constant data (weights, biases, quantization parameters).
    public var weightBytes: Int {
        var total = 0
        for tensor in tensors where tensor.isConstant { total += tensor.byteCount }
        return total
    }

    /// Bytes the model allocated at load for prepared operator data (folded biases, tables,
    /// packed weights), on top of the file's own bytes.
    public var preparedBytes: Int { preparedStorage.byteCount }

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

extension Model {
    /// How convolution `index` is executed under this model's preparation, or nil for other operators.
    public func convolutionPath(of index: Int) -> ConvolutionPath? {
        if case let .conv2d(op) = prepared[index] { return op.path }
        return nil
    }

    /// Arena bytes of scratch operator `index` needs while it runs (planned in the arena).
    public func scratchBytes(of index: Int) -> Int { prepared[index].scratchBytes }
}

extension Model {
    /// Multiply-accumulates the kernels of operator `index` execute: the nominal `macs` except
    /// for Winograd convolutions, which execute 16 products per 2×2 output tile and channel pair
    /// instead of 36. MAC accounting (`RunSummary.macs`, exits) always uses the nominal count.
    public func executedMACs(of index: Int) -> Int {
        if case let .conv2d(op) = prepared[index], let fast = op.fast { return fast.executedMACs }
        return operators[index].macs
    }
}
