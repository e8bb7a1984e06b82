// Writing output so that no failure goes unnoticed: files replaced atomically (temporary file,
// flush, rename) and standard output written with every error checked.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File and descriptor writes whose every failure is reported.
public enum FileOutput {
    /// The text of an errno value.
    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Writes all of `bytes` to `descriptor`, retrying short writes and EINTR; returns 0 or the errno.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }
            offset += written
        }
        return 0
    }

    /// See `ModelFiles.writeBytes`.
    static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        func fail(_ reason: String) -> ToolError { ToolError("cannot write \(what) '\(path)': \(reason)") }
        var target = path
        var existing = stat()
        var mode: mode_t = 0o666
        var replacesExisting = false
        if stat(path, &existing) == 0 {
            let type = existing.st_mode & S_IFMT
            if type == S_IFDIR { throw fail("it is a directory") }
            if type != S_IFREG { return try writeInPlace(bytes, to: path, fail: fail) }
            // A symbolic link to a regular file: replace the file it points to, keep the link.
            if let resolved = realpath(path, nil) {
                target = String(cString: resolved)
                free(resolved)
            }
            mode = existing.st_mode & 0o7777
            replacesExisting = true
        }
        let url = URL(fileURLWithPath: target)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        var temporary = ""
        var descriptor: Int32 = -1
        for attempt in 0..<100 {
            temporary = directory + "/." + name + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).\(attempt).tmp"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) // the umask applies to new files
            if descriptor >= 0 || errno != EEXIST { break }
        }
        if descriptor < 0 { throw fail(describe(errno) + " (creating a temporary file in '\(directory)')") }
        var problem: Int32 = bytes.withUnsafeBytes { writeAll($0, to: descriptor) }
        if problem == 0 && replacesExisting && fchmod(descriptor, mode) != 0 { problem = errno }
        if problem == 0 && fsync(descriptor) != 0 && errno != EINVAL && errno != EROFS { problem = errno }
        if close(descriptor) != 0 && problem == 0 { problem = errno }
        if problem == 0 && rename(temporary, target) != 0 { problem = errno }
        if problem != 0 {
            unlink(temporary)
            throw fail(describe(problem) + (replacesExisting ? "; the existing file is unchanged" : "; nothing was written"))
        }
    }

    /// Writes to something that is not a regular file (a device, a pipe), checking every step.
    private static func writeInPlace(_ bytes: [UInt8], to path: String, fail: (String) -> ToolError) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        if descriptor < 0 { throw fail(describe(errno)) }
        var problem: Int32 = bytes.withUnsafeBytes { writeAll($0, to: descriptor) }
        if close(descriptor) != 0 && problem == 0 { problem = errno }
        if problem != 0 { throw fail(describe(problem)) }
    }
}

/// Writes lines to a file descriptor and remembers the first failure (a closed pipe, a full
/// disk, /dev/full), so that the command can end with status 1 instead of reporting success.
final class DescriptorWriter: @unchecked Sendable {
    let descriptor: Int32
    private(set) var failure: Int32 = 0

    init(descriptor: Int32) { self.descriptor = descriptor }

    func write(line: String) {
        guard failure == 0 else { return }
        var text = line
        text += "\n"
        failure = text.utf8.withContiguousStorageIfAvailable { FileOutput.writeAll(UnsafeRawBufferPointer($0), to: descriptor) }
            ?? Array(text.utf8).withUnsafeBytes { FileOutput.writeAll($0, to: descriptor) }
    }

    /// A description of the first failure, or nil.
    var error: String? { failure == 0 ? nil : FileOutput.describe(failure) }
}
