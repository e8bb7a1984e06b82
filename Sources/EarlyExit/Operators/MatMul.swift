// matmul: batched matrix products of two activations, float32 and int8 (with the fused
// int8 attention pooling).

import EarlyExitNativeKernels

/// A prepared matrix product `A (B?,M,K) · B (B?,K,N) -> C (B,M,N)`, batch axes broadcast.
///
/// Attribute words: int8 only: 0–1 the output multiplier and shift.
///
/// The int8 attention pooling `matmul(softmax(a), V)` runs from the softmax's input `a`, so
/// that the masks are not rounded to int8 before they weight V (`Int8Kernels.attentionPooling`):
/// when A is the output of an int8 softmax, `pooledSoftmax` names that softmax and the model
/// keeps `a` alive until this operator (`additionalRead`).
struct MatMul {
    let lhs: Int, rhs: Int, output: Int
    let lhsShape: TensorShape, rhsShape: TensorShape, outputShape: TensorShape
    let requantization: Requantization?
    let zeroPointA: Int32, zeroPointB: Int32
    /// int8 attention pooling: the softmax operator whose input this operator reads, or −1.
    let pooledSoftmax: Int
    let softmaxInput: Int
    let softmaxTable: UnsafePointer<Int32>?
    let softmaxInverseOutputScale: Int32
    /// The attention pooling on the native C kernel (x86-64 AVX2 and up): its vector width code
    /// (`Int8KernelTable.poolingISA`), its requantization (one entry) and scratch, or nil.
    let nativePooling: NativePooling?
    let kernels: KernelSet.Float32Path

    struct NativePooling {
        let isa: Int32
        let multiplier: UnsafePointer<Int32>, leftShift: UnsafePointer<Int32>, rightShift: UnsafePointer<Int32>,
            shift: UnsafePointer<Int32>
        let zeroPoint: Int32, minimum: Int32, maximum: Int32
        let sumsOffset: Int
        let scratchBytes: Int
    }

    static func validate(_ v: inout OperatorValidation) throws(ModelError) {
        try v.arity(2...2)
        try v.attributesZero(from: v.quantized ? 2 : 0)
        if v.quantized { try v.multiplier(v.attributes[0], v.attributes[1]) }
        let lhs = v.tensors[v.op.inputs[0]].shape
        let rhs = v.tensors[v.op.inputs[1]].shape
        if lhs.rank < 2 || rhs.rank < 2 || lhs.rank != rhs.rank {
            throw v.fail("input shapes \(lhs) and \(rhs) must have the same rank, at least 2")
        }
        let rank = lhs.rank
        let m = lhs[rank - 2], k = lhs[rank - 1], n = rhs[rank - 1]
        if rhs[rank - 2] != k { throw v.fail("inner dimensions differ: \(lhs) × \(rhs)") }
        var dims: [Int] = []
        var batch = 1
        for axis in 0..<(rank - 2) {
            if lhs[axis] != rhs[axis] && lhs[axis] != 1 && rhs[axis] != 1 {
                throw v.fail("batch dimensions of \(lhs) and \(rhs) do not broadcast")
            }
            dims.append(max(lhs[axis], rhs[axis]))
            batch *= max(lhs[axis], rhs[axis])
        }
        dims.append(m); dims.append(n)
        try v.expectShape(TensorShape(dims))
        v.op.macs = batch * m * n * k
    }

    static func prepare(_ p: PrepareContext, _ index: Int) -> MatMul {
        let op = p.operators[index]
        let quantized = p.tensors[op.output].dataType == .int8
        var pooled = -1
        if quantized, p.producers[op.inputs[0]] >= 0 {
            let source = p.operators[p.producers[op.inputs[0]]]
            if source.kind == .softmax && source.inputs.count == 2 { pooled = p.producers[op.inputs[0]] }
        }
        let softmax = pooled >= 0 ? p.operators[pooled] : nil
        var native: NativePooling?
        if softmax != nil && Int8KernelTable.hasNativeElementwise(p.kernels.int8) {
            let lhs = p.tensors[op.inputs[0]].shape, rhs = p.tensors[op.inputs[1]].shape
            let k = lhs[lhs.rank - 1], n = rhs[rhs.rank - 1]
            let values = p.storage.allocate(Int32.self, count: 4)
            values[0] = op.attributes[0]
            values[1] = min(max(op.attributes[1], 0), 31)
            values[2] = -min(max(op.attributes[1], -31), 0)
            values[3] = op.attributes[1]
            let zp = p.zeroPoint(op.output)
            // The vector sums split each exponential in 12-bit halves: they stay in int32 while
            // k · 4096 · 255 < 2^31; longer rows take the plain C loop (same results).
            let isa = k * 4096 * 255 < Int(Int32.max) ? Int8KernelTable.poolingISA(p.kernels.int8) : 0
            let sumsOffset = (k * 4 + 63) / 64 * 64
            native = NativePooling(isa: isa, multiplier: values, leftShift: values + 1, rightShift: values + 2, shift: values + 3,
                                   zeroPoint: zp, minimum: -128, maximum: 127, sumsOffset: sumsOffset, scratchBytes: sumsOffset + n * 8)
        }
        return MatMul(lhs: op.inputs[0], rhs: op.inputs[1], output: op.output, lhsShape: p.tensors[op.inputs[0]].shape,
                      rhsShape: p.tensors[op.inputs[1]].shape, outputShape: p.tensors[op.output].shape,
                      requantization: quantized ? p.requantization(op, multiplier: op.attributes[0], shift: op.attributes[1],
                                                                   perChannel: false, singleRounding: false) : nil,
                      zeroPointA: quantized ? p.zeroPoint(op.inputs[0]) : 0, zeroPointB: quantized ? p.zeroPoint(op.inputs[1]) : 0,
                      pooledSoftmax: pooled, softmaxInput: softmax?.inputs[0] ?? -1,
                      softmaxTable: softmax.map { p.constantInt32($0.inputs[1]) }, softmaxInverseOutputScale: softmax?.attributes[1] ?? 0,
                      nativePooling: native, kernels: p.kernels.float32)
    }

    /// A tensor this operator reads besides its inputs (the pooled softmax's input), or −1.
    var additionalRead: Int { softmaxInput }

    var scratchBytes: Int { nativePooling?.scratchBytes ?? 0 }

    func evaluate(_ x: ExecutionContext, operator index: Int) {
        if let native = nativePooling, let softmaxTable {
            var q = ee_requantization(multipliers: native.multiplier, left_shifts: native.leftShift, right_shifts: native.rightShift,
                                      shifts: native.shift, output_zero_point: native.zeroPoint, minimum: native.minimum,
                                      maximum: native.maximum, single_rounding: 0)
            let batch = BatchedMatrices(lhs: lhsShape, rhs: rhsShape, out: outputShape)
            let scratch = x.scratch(index)
            let a = x.int8s(softmaxInput), v = x.int8s(rhs), c = x.int8s(output)
            batch.forEach { aOffset, vOffset, cOffset in
                ee_qs8_attention_pooling(native.isa, a + aOffset, softmaxTable, softmaxInverseOutputScale, v + vOffset, zeroPointB,
                                         batch.m, batch.k, batch.n, &q, c + cOffset, scratch.assumingMemoryBound(to: Int32.self),
                                         (scratch + native.sumsOffset).assumingMemoryBound(to: Int64.self))
            }
            return
        }
        guard let requantization else {
            let batch = BatchedMatrices(lhs: lhsShape, rhs: rhsShape, out: outputShape)
            let a = x.floats(lhs), b = x.floats(rhs), c = x.floats(output)
            batch.forEach { aOffset, bOffset, cOffset in
                FloatKernelTable.matmulRows(kernels, a + aOffset, b + bOffset, c: c + cOffset, m: batch.m, k: batch.k, n: batch.n)
            }
            return
        }
        if let softmaxTable {
            Int8Kernels.attentionPooling(x.int8s(softmaxInput), table: softmaxTable, inverseOutputScale: softmaxInverseOutputScale,
                                         x.int8s(rhs), zeroPointV: zeroPointB, c: x.int8s(output), lhs: lhsShape, rhs: rhsShape,
                                         out: outputShape, requantization: requantization)
        } else {
            Int8Kernels.matmul(x.int8s(lhs), zeroPointA: zeroPointA, x.int8s(rhs), zeroPointB: zeroPointB, c: x.int8s(output),
                               lhs: lhsShape, rhs: rhsShape, out: outputShape, requantization: requantization)
        }
    }
}
