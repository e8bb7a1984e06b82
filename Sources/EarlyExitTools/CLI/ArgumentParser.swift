// A small command-line argument parser: positionals, `--name value` options and flags.
import Foundation

/// A command-line mistake; the CLI prints it with the command's usage and exits with status 2.
public struct UsageError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One option of a command.
public struct OptionSpec: Sendable {
    public let name: String
    /// The placeholder of the option's value, or nil for a flag.
    public let valueName: String?
    public let help: String
    /// True for an option that may be given more than once (its values are kept in order).
    public var repeatable = false

    public init(_ name: String, _ valueName: String? = nil, _ help: String, repeatable: Bool = false) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.repeatable = repeatable
    }
}

/// A command: its name, positional arguments and options, and the text of `--help`.
public struct CommandSpec: Sendable {
    public let name: String
    public let summary: String
    public let positionals: [(name: String, help: String)]
    public let options: [OptionSpec]
    /// Paragraphs printed after the options by `--help` (what inputs mean, what is printed).
    public let notes: String

    public init(name: String, summary: String, positionals: [(name: String, help: String)], options: [OptionSpec], notes: String = "") {
        self.name = name
        self.summary = summary
        self.positionals = positionals
        self.options = options
        self.notes = notes
    }

    public var usage: String {
        var line = "usage: early-exit \(name)"
        for positional in positionals { line += " \(positional.name)" }
        if !options.isEmpty { line += " [options]" }
        var text = "\(summary)\n\n\(line)\n"
        if !positionals.isEmpty {
            text += "\narguments:\n"
            for positional in positionals { text += "  \(pad(positional.name, 26)) \(positional.help)\n" }
        }
        text += "\noptions:\n"
        for option in options + [OptionSpec("--help", nil, "show this help")] {
            let head = option.valueName.map { "\(option.name) \($0)" } ?? option.name
            text += "  \(pad(head, 26)) \(option.help)\n"
        }
        if !notes.isEmpty { text += "\n" + notes + (notes.hasSuffix("\n") ? "" : "\n") }
        return text
    }

    /// Parses arguments (without the command name); `--help` is reported as `.help`.
    public func parse(_ arguments: [String]) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--help" || argument == "-h" {
                parsed.helpRequested = true
                return parsed
            }
            if argument.hasPrefix("-") && argument.count > 1 && Double(argument) == nil {
                var name = argument
                var inlineValue: String?
                if let equals = argument.firstIndex(of: "=") {
                    name = String(argument[..<equals])
                    inlineValue = String(argument[argument.index(after: equals)...])
                }
                guard let option = options.first(where: { $0.name == name }) else {
                    throw UsageError("unknown option '\(name)' for '\(self.name)'")
                }
                if option.valueName != nil {
                    if parsed.values[name] != nil && !option.repeatable { throw UsageError("option '\(name)' is given twice") }
                    if let inlineValue {
                        parsed.values[name] = inlineValue
                    } else {
                        guard index + 1 < arguments.count else { throw UsageError("option '\(name)' needs a value (\(option.valueName!))") }
                        parsed.values[name] = arguments[index + 1]
                        index += 1
                    }
                    parsed.repeatedValues[name, default: []].append(parsed.values[name]!)
                } else {
                    if inlineValue != nil { throw UsageError("option '\(name)' takes no value") }
                    parsed.flags.insert(name)
                }
            } else {
                parsed.positionals.append(argument)
            }
            index += 1
        }
        if parsed.positionals.count != positionals.count {
            let names = positionals.map(\.name).joined(separator: " ")
            if parsed.positionals.count < positionals.count {
                throw UsageError("'\(name)' needs \(positionals.count) argument\(positionals.count == 1 ? "" : "s") (\(names)), got \(parsed.positionals.count)")
            }
            throw UsageError("unexpected argument '\(parsed.positionals[positionals.count])' for '\(name)'")
        }
        return parsed
    }
}

/// The result of parsing: positionals in order, option values by name, flags present.
public struct ParsedArguments {
    public var positionals: [String] = []
    public var values: [String: String] = [:]
    /// Every value of each option, in order (several only for repeatable options).
    public var repeatedValues: [String: [String]] = [:]
    public var flags: Set<String> = []
    public var helpRequested = false

    public func flag(_ name: String) -> Bool { flags.contains(name) }
    public func value(_ name: String) -> String? { values[name] }

    public func int(_ name: String, default fallback: Int? = nil, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else { throw UsageError("option '\(name)' needs a whole number, got '\(text)'") }
        if let range, !range.contains(value) {
            throw UsageError("option '\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    public func double(_ name: String, default fallback: Double? = nil, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value.isFinite else { throw UsageError("option '\(name)' needs a number, got '\(text)'") }
        if let range, !range.contains(value) {
            throw UsageError("option '\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// A comma-separated list of numbers.
    public func doubles(_ name: String) throws -> [Double]? {
        guard let text = values[name] else { return nil }
        var result: [Double] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Double(part.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw UsageError("option '\(name)' needs comma-separated numbers, '\(part)' is not one")
            }
            result.append(value)
        }
        return result
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// `text` broken into lines of at most `width` characters at spaces.
func wrapped(_ text: String, width: Int) -> String {
    var lines: [String] = [], line = ""
    for word in text.split(separator: " ") {
        if !line.isEmpty && line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines.joined(separator: "\n")
}
