// The `early-exit` command line; all logic lives in EarlyExitTools.
import EarlyExitTools
import Foundation

// A write past a file size limit fails with EFBIG and is reported like a full disk (the command
// removes its temporary file and exits 1) instead of killing the process half way.
signal(SIGXFSZ, SIG_IGN)
exit(EarlyExitCLI.main(Array(CommandLine.arguments.dropFirst())))
