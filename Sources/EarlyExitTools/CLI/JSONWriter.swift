// A minimal JSON value and writer with deterministic key order and shortest float output.

/// A JSON value; objects keep their keys in insertion order.
public indirect enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func floats(_ values: [Float]) -> JSON { .array(values.map { .number(Double($0)) }) }

    /// The compact JSON text.
    public var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .number(let value):
            if !value.isFinite {
                out += "null"
            } else if value == value.rounded() && abs(value) < 1e15 {
                out += String(Int(value))
            } else {
                // Float-origin values print with their shortest round-trip form.
                let single = Float(value)
                out += Double(single) == value ? single.description : value.description
            }
        case .string(let value): out += JSON.quote(value)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out += "," }
                out += JSON.quote(pair.0) + ":"
                pair.1.write(into: &out)
            }
            out += "}"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hexDigits = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hexDigits.count) + hexDigits
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
