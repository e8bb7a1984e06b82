// The `early-exit` command line: dispatch to subcommands, error reporting and exit status.
import EarlyExit
import Foundation

/// Where a command writes: standard output and standard error, replaceable in tests.
public struct Console {
    public var out: (String) -> Void
    public var err: (String) -> Void
    /// True when standard error is a terminal (progress bars are shown only then).
    public var isTerminal: Bool
    /// The first failed write to `out` (for example "No space left on device"), or nil: a
    /// command whose output was lost ends with status 1, not 0.
    public var outputError: () -> String?

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void, isTerminal: Bool = false,
                outputError: @escaping () -> String? = { nil }) {
        self.out = out
        self.err = err
        self.isTerminal = isTerminal
        self.outputError = outputError
    }

    /// Lines written to file descriptors (`out` for results, `err` for messages), every write
    /// checked.
    public static func descriptors(out: Int32, err: Int32, isTerminal: Bool = false) -> Console {
        let output = DescriptorWriter(descriptor: out), errors = DescriptorWriter(descriptor: err)
        return Console(out: { output.write(line: $0) }, err: { errors.write(line: $0) }, isTerminal: isTerminal,
                       outputError: { output.error })
    }

    public static var standard: Console { descriptors(out: 1, err: 2, isTerminal: isatty(2) == 1) }
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
        text += "\nRun 'early-exit COMMAND --help' for a command's arguments and options, 'early-exit --version' for the version.\n"
        text += "\nGlobal option (any command): --kernels NAME runs on that kernel set instead of the best this CPU has\n"
        text += "(sse2, avx2, avx2-vnni, avx512f, avx512 on x86-64; neon, neon-dotprod on arm64; add -direct for 3x3\n"
        text += "convolutions without Winograd); the environment variable EARLYEXIT_KERNELS does the same."
        return text
    }

    /// Runs a command line (without the program name) and returns the exit status:
    /// 0 success, 1 a failure (bad file, invalid model, output that could not be written),
    /// 2 a usage mistake.
    public static func main(_ arguments: [String], console: Console = .standard) -> Int32 {
        let status = dispatch(arguments, console: console)
        if let problem = console.outputError() {
            console.err("error: cannot write to standard output: \(problem)")
            return status == 0 ? 1 : status
        }
        return status
    }

    static func dispatch(_ arguments: [String], console: Console) -> Int32 {
        var arguments = arguments
        // The global --kernels option, anywhere on the line: checked against this CPU, then
        // applied like EARLYEXIT_KERNELS to every model the command loads.
        if let position = arguments.firstIndex(of: "--kernels") {
            guard position + 1 < arguments.count else {
                console.err("error: --kernels needs a kernel set name (this CPU supports: \(KernelSet.supported.map(\.name).joined(separator: ", ")))")
                return 2
            }
            let name = arguments[position + 1]
            if arguments[(position + 2)...].contains("--kernels") { console.err("error: --kernels is given twice"); return 2 }
            do {
                _ = try KernelSet.require(name)
            } catch {
                console.err("error: --kernels: \(error)")
                return 2
            }
            ModelFiles.kernels = KernelSet.named(name)
            arguments.removeSubrange(position...(position + 1))
        }
        guard let name = arguments.first else {
            console.err(usage)
            return 2
        }
        if name == "--help" || name == "-h" || name == "help" {
            console.out(usage)
            return 0
        }
        if name == "--version" || name == "-V" || name == "version" {
            if arguments.count > 1 { console.err("error: --version takes no arguments"); return 2 }
            console.out(VersionInfo.text)
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
