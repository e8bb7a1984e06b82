// Runs per-image work on several threads, one private state (an interpreter) per thread.
import Foundation

/// Image-parallel loops: each thread builds its own state once (an `Interpreter`, scratch rows),
/// images are handed out one at a time from a shared counter, and every result is written at
/// its image's index, so the outcome does not depend on the thread count.
public enum Parallel {
    /// The default `--threads`: every core the process may use.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body(&state, image)` for every image in 0..<count on `threads` threads (at most
    /// `count`), with `state` from `makeState()` once per thread; `progress(done, count)` is called
    /// under a lock as images finish. The first error thrown stops the other threads and is rethrown.
    public static func forEach<State>(count: Int, threads: Int, progress: ((Int, Int) -> Void)? = nil,
                                      makeState: () throws -> State, _ body: (inout State, Int) throws -> Void) throws {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            var state = try makeState()
            for image in 0..<count {
                try body(&state, image)
                progress?(image + 1, count)
            }
            return
        }
        let shared = SharedCounter()
        nonisolated(unsafe) let makeState = makeState
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let progress = progress
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var state: State
            do { state = try makeState() } catch { shared.fail(error); return }
            while let image = shared.next(limit: count) {
                do { try body(&state, image) } catch { shared.fail(error); return }
                shared.finished(count: count, progress: progress)
            }
        }
        if let error = shared.error { throw error }
    }

    /// The value of `--threads N` (1 … 1024), or every core.
    static func threads(_ arguments: ParsedArguments) throws -> Int {
        try arguments.int("--threads", default: defaultThreads, range: 1...1024)!
    }

    static let option = OptionSpec("--threads", "N", "images processed in parallel, one interpreter per thread (default: all cores); results do not depend on it")
}

/// The shared image counter, finished count and first error of `Parallel.forEach`.
private final class SharedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var nextImage = 0
    private var done = 0
    private(set) var error: Error?

    func next(limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        if error != nil || nextImage >= limit { return nil }
        nextImage += 1
        return nextImage - 1
    }

    func finished(count: Int, progress: ((Int, Int) -> Void)?) {
        lock.lock(); defer { lock.unlock() }
        done += 1
        progress?(done, count)
    }

    func fail(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if self.error == nil { self.error = error }
    }
}
