// The one place that maps operator kinds to their validate, prepare and evaluate steps.

/// An operator prepared for execution: the operator file's own type with its typed parameters.
enum PreparedOperator {
    case conv2d(Conv2D)
    case fullyConnected(FullyConnected)
    case binary(ElementwiseBinary)
    case function(ElementwiseFunction)
    case batchNorm(BatchNorm)
    case pool(Pool)
    case globalAveragePool(GlobalAveragePool)
    case softmax(Softmax)
    case matmul(MatMul)
    case transpose(Transpose)
    case reshape(Reshape)
    case concat(Concat)
    case piecewise(PiecewiseActivation)
    case reduce(Reduce)
    case expand(Expand)
    case slice(Slice)
    case pad(Pad)
    case resize(Resize)
    case subtractDivide(SubtractDivide)

    /// Arena bytes of scratch the operator needs while it runs.
    var scratchBytes: Int {
        switch self {
        case let .conv2d(op): return op.scratchBytes
        case let .matmul(op): return op.scratchBytes
        case let .globalAveragePool(op): return op.scratchBytes
        default: return 0
        }
    }

    /// For a softmax: true when the model only reads its output through fused int8 attention
    /// poolings (which read the softmax's input): the interpreter then skips it unless an
    /// observer watches the run (`Model.observedOnly`).
    var pooledSoftmaxIndex: Int {
        switch self {
        case let .matmul(op): return op.pooledSoftmax
        default: return -1
        }
    }

    /// A tensor the operator reads besides its inputs, or −1 (the planner keeps it alive).
    var additionalRead: Int {
        switch self {
        case let .matmul(op): return op.additionalRead
        default: return -1
        }
    }

    /// Runs operator `index`. Everything was validated and prepared at load: this cannot fail.
    @inline(__always)
    func evaluate(_ x: ExecutionContext, operator index: Int) {
        switch self {
        case let .conv2d(op): op.evaluate(x, operator: index)
        case let .fullyConnected(op): op.evaluate(x, operator: index)
        case let .binary(op): op.evaluate(x)
        case let .function(op): op.evaluate(x)
        case let .batchNorm(op): op.evaluate(x)
        case let .pool(op): op.evaluate(x)
        case let .globalAveragePool(op): op.evaluate(x, operator: index)
        case let .softmax(op): op.evaluate(x)
        case let .matmul(op): op.evaluate(x, operator: index)
        case let .transpose(op): op.evaluate(x)
        case let .reshape(op): op.evaluate(x)
        case let .concat(op): op.evaluate(x)
        case let .piecewise(op): op.evaluate(x)
        case let .reduce(op): op.evaluate(x)
        case let .expand(op): op.evaluate(x)
        case let .slice(op): op.evaluate(x)
        case let .pad(op): op.evaluate(x)
        case let .resize(op): op.evaluate(x)
        case let .subtractDivide(op): op.evaluate(x)
        }
    }
}

/// Validation and preparation of every operator kind.
enum OperatorTable {
    /// Validates operator `index` in schedule order: the checks every kind shares (inputs
    /// produced earlier, one producer per output, element types, fused activation), then the
    /// kind's own. Returns the operator with its MACs and geometry filled in.
    static func validate(_ op: Operator, index: Int, tensors: [TensorInfo], producer: inout [Int]) throws(ModelError) -> Operator {
        let name = op.kind.name
        func fail(_ reason: String) -> ModelError { .badOperator(op: index, kind: name, reason: reason) }
        // Every input must exist by now: a constant, the model input, or an earlier operator's output.
        for tensor in op.inputs where !tensors[tensor].isConstant && producer[tensor] == -2 {
            throw .readBeforeWrite(op: index, kind: name, tensor: tensor)
        }
        let out = op.output
        if tensors[out].isConstant { throw fail("output tensor \(out) is a constant") }
        if producer[out] != -2 {
            throw fail(producer[out] == -1 ? "output tensor \(out) is the model input" : "output tensor \(out) is already produced by operator \(producer[out])")
        }
        // float32 operators read and write float32; int8 operators read int8 activations
        // (per-tensor quantized) plus constant parameters checked per operator.
        let quantized = tensors[out].dataType == .int8
        if quantized {
            if tensors[out].quantization.kind != .perTensor { throw fail("output tensor \(out) needs per-tensor quantization") }
            for tensor in op.inputs where !tensors[tensor].isConstant {
                if tensors[tensor].dataType != .int8 || tensors[tensor].quantization.kind != .perTensor {
                    throw fail("input tensor \(tensor) is \(tensors[tensor].dataType.name); an int8 operator reads per-tensor quantized int8 activations")
                }
            }
        } else {
            for tensor in op.inputs + op.outputs where tensors[tensor].dataType != .float32 {
                throw fail("tensor \(tensor) is \(tensors[tensor].dataType.name); this operator takes float32")
            }
        }
        switch op.kind {
        case .conv2d, .fullyConnected, .add, .batchNorm: break
        default: if op.activation != .none { throw fail("a fused activation is not supported on this operator") }
        }
        var v = OperatorValidation(index: index, op: op, tensors: tensors, quantized: quantized)
        switch op.kind {
        case .conv2d: try Conv2D.validate(&v)
        case .fullyConnected: try FullyConnected.validate(&v)
        case .add, .mul: try ElementwiseBinary.validate(&v)
        case .relu, .tanh, .sigmoid: try ElementwiseFunction.validate(&v)
        case .batchNorm: try BatchNorm.validate(&v)
        case .maxPool, .avgPool: try Pool.validate(&v)
        case .globalAvgPool: try GlobalAveragePool.validate(&v)
        case .softmax: try Softmax.validate(&v)
        case .matmul: try MatMul.validate(&v)
        case .transpose: try Transpose.validate(&v)
        case .reshape: try Reshape.validate(&v)
        case .concat: try Concat.validate(&v)
        case .clip, .hardSigmoid, .hardSwish, .leakyRelu: try PiecewiseActivation.validate(&v)
        case .reduceSum, .reduceMax: try Reduce.validate(&v)
        case .expand: try Expand.validate(&v)
        case .slice: try Slice.validate(&v)
        case .pad: try Pad.validate(&v)
        case .resize: try Resize.validate(&v)
        case .sub, .div: try SubtractDivide.validate(&v)
        }
        producer[out] = index
        return v.op
    }

    /// Prepares operator `index`: typed parameters, checks of constant values, prepared data.
    static func prepare(_ p: PrepareContext, _ index: Int) throws(ModelError) -> PreparedOperator {
        switch p.operators[index].kind {
        case .conv2d: return .conv2d(try Conv2D.prepare(p, index))
        case .fullyConnected: return .fullyConnected(try FullyConnected.prepare(p, index))
        case .add, .mul: return .binary(try ElementwiseBinary.prepare(p, index))
        case .relu, .tanh, .sigmoid: return .function(ElementwiseFunction.prepare(p, index))
        case .batchNorm: return .batchNorm(try BatchNorm.prepare(p, index))
        case .maxPool, .avgPool: return .pool(Pool.prepare(p, index))
        case .globalAvgPool: return .globalAveragePool(GlobalAveragePool.prepare(p, index))
        case .softmax: return .softmax(try Softmax.prepare(p, index))
        case .matmul: return .matmul(MatMul.prepare(p, index))
        case .transpose: return .transpose(Transpose.prepare(p, index))
        case .reshape: return .reshape(Reshape.prepare(p, index))
        case .concat: return .concat(Concat.prepare(p, index))
        case .clip, .hardSigmoid, .hardSwish, .leakyRelu: return .piecewise(PiecewiseActivation.prepare(p, index))
        case .reduceSum, .reduceMax: return .reduce(Reduce.prepare(p, index))
        case .expand: return .expand(Expand.prepare(p, index))
        case .slice: return .slice(Slice.prepare(p, index))
        case .pad: return .pad(Pad.prepare(p, index))
        case .resize: return .resize(Resize.prepare(p, index))
        case .sub, .div: return .subtractDivide(SubtractDivide.prepare(p, index))
        }
    }
}
