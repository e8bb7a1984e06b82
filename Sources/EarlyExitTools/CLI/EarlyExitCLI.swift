// The `early-exit` command line: dispatch to subcommands, error reporting and exit status.
import EarlyExit
import Foundation

/// Where a command writes: standard output and standard error, replaceable in tests.
public struct Console {
    public var out: (String) -> Void
    public var err: (String) -> Void
    /// True when standard error is a terminal (progress bars are shown only then).
    public var isTerminal: Bool

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void, isTerminal: Bool = false) {
        self.out = out
        self.err = err
        self.isTerminal = isTerminal
    }

    public static var standard: Console {
        Console(out: { print($0) },
                err: { FileHandle.standardError.write(($0 + "\n").data(using: .utf8) ?? Data()) },
                isTerminal: isatty(2) == 1)
    }
}

/// The `early-exit` tool's entry point.
public enum EarlyExitCLI {
    struct Command {
        let spec: CommandSpec
        let run: (ParsedArguments, Console) throws -> Void
    }

    static var commands: [Command] {
        [
            Command(spec: InfoCommand.spec, run: InfoCommand.run),
            Command(spec: RunCommand.spec, run: RunCommand.run),
            Command(spec: BenchCommand.spec, run: BenchCommand.run),
            Command(spec: TuneCommand.spec, run: TuneCommand.run),
            Command(spec: ConvertCommand.spec, run: ConvertCommand.run),
            Command(spec: ClassifyCommand.spec, run: ClassifyCommand.run),
            Command(spec: ExportCCommand.spec, run: ExportCCommand.run),
            Command(spec: QuantizeCommand.spec, run: QuantizeCommand.run),
            Command(spec: ExplainCommand.spec, run: ExplainCommand.run),
        ]
    }

    static var usage: String {
        var text = "early-exit: run attention-augmented CNNs that stop as soon as they are confident\n\nusage: early-exit COMMAND [arguments] [options]\n\ncommands:\n"
        for command in commands { text += "  \(pad(command.spec.name, 10)) \(command.spec.summary)\n" }
        text += "\nRun 'early-exit COMMAND --help' for a command's arguments and options."
        return text
    }

    /// Runs a command line (without the program name) and returns the exit status:
    /// 0 success, 1 a failure (bad file, invalid model), 2 a usage mistake.
    public static func main(_ arguments: [String], console: Console = .standard) -> Int32 {
        guard let name = arguments.first else {
            console.err(usage)
            return 2
        }
        if name == "--help" || name == "-h" || name == "help" {
            console.out(usage)
            return 0
        }
        guard let command = commands.first(where: { $0.spec.name == name }) else {
            console.err("error: unknown command '\(name)'\n\n\(usage)")
            return 2
        }
        do {
            let parsed = try command.spec.parse(Array(arguments.dropFirst()))
            if parsed.helpRequested {
                console.out(command.spec.usage)
                return 0
            }
            try command.run(parsed, console)
            return 0
        } catch let error as UsageError {
            console.err("error: \(error)\n\n\(command.spec.usage)")
            return 2
        } catch {
            console.err("error: \(error)")
            return 1
        }
    }
}
