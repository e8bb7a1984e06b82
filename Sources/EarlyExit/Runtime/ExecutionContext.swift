// The addresses a prepared operator reads and writes while the interpreter runs it.

/// Binds tensor indices to memory during `run`: activations and scratch in the interpreter's
/// arena (at the plan's offsets), constants in place in the model buffer.
struct ExecutionContext {
    let arena: UnsafeMutableRawPointer
    unowned(unsafe) let model: Model
    /// Integer exit tables of an int8 model (gate layers write their accumulators there).
    let quantizedExits: QuantizedExits?
    /// True during a run with an observer: fused operators then run unfused, so that every
    /// tensor is written (`Fusion`).
    var observed = false

    /// The arena address of a float32 activation, or the model address of a float32 constant.
    @inline(__always)
    func floats(_ tensor: Int) -> UnsafeMutablePointer<Float> {
        let offset = model.plan.tensorOffsets[tensor]
        if offset < 0 { return UnsafeMutablePointer(mutating: model.constantFloats(tensor)) }
        return (arena + offset).assumingMemoryBound(to: Float.self)
    }

    /// The arena address of an int8 activation, or the model address of an int8 constant.
    @inline(__always)
    func int8s(_ tensor: Int) -> UnsafeMutablePointer<Int8> {
        let offset = model.plan.tensorOffsets[tensor]
        if offset < 0 { return UnsafeMutablePointer(mutating: model.constantInt8(tensor)) }
        return (arena + offset).assumingMemoryBound(to: Int8.self)
    }

    /// The scratch buffer the plan gave operator `index` (only valid when it asked for one).
    @inline(__always)
    func scratch(_ index: Int) -> UnsafeMutableRawPointer { arena + model.plan.scratchOffsets[index] }
}
