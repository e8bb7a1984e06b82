// The `early-exit` command line; all logic lives in EarlyExitTools.
import EarlyExitTools
import Foundation

exit(EarlyExitCLI.main(Array(CommandLine.arguments.dropFirst())))
