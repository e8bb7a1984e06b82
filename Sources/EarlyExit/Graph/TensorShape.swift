// Tensor shapes of rank 1 to 4, stored inline.

/// The dimensions of a tensor, rank 1 to 4; dimensions past the rank are 1.
public struct TensorShape: Equatable, Sendable, CustomStringConvertible {
    public private(set) var rank: Int
    private var d0: Int, d1: Int, d2: Int, d3: Int

    /// Creates a shape from up to four dimensions; callers check the count.
    public init(_ dims: [Int]) {
        rank = dims.count
        d0 = dims.count > 0 ? dims[0] : 1
        d1 = dims.count > 1 ? dims[1] : 1
        d2 = dims.count > 2 ? dims[2] : 1
        d3 = dims.count > 3 ? dims[3] : 1
    }

    public subscript(axis: Int) -> Int {
        get {
            switch axis {
            case 0: return d0
            case 1: return d1
            case 2: return d2
            case 3: return d3
            default: return 1
            }
        }
        set {
            switch axis {
            case 0: d0 = newValue
            case 1: d1 = newValue
            case 2: d2 = newValue
            case 3: d3 = newValue
            default: break
            }
        }
    }

    public var dims: [Int] { (0..<rank).map { self[$0] } }

    /// The product of the dimensions; shapes are validated so this cannot overflow.
    public var elementCount: Int { d0 * d1 * d2 * d3 }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var result = [Int](repeating: 1, count: rank)
        var stride = 1
        var axis = rank - 1
        while axis >= 0 {
            result[axis] = stride
            stride *= self[axis]
            axis -= 1
        }
        return result
    }

    public var description: String {
        var text = "["
        for axis in 0..<rank {
            if axis > 0 { text += "," }
            text += "\(self[axis])"
        }
        return text + "]"
    }
}
