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
    /// Every thread's state is built before any image runs, so that no thread's set-up overlaps
    /// another's measurements.
    ///
    /// `prepare`, when given, runs on each thread before it waits for the others (warm-up runs:
    /// whatever a thread allocates on its first runs happens before any thread measures).
    public static func forEach<State>(count: Int, threads: Int, progress: ((Int, Int) -> Void)? = nil,
                                      makeState: () throws -> State, prepare: ((inout State) throws -> Void)? = nil,
                                      _ body: @escaping (inout State, Int) throws -> Void) throws {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            var state = try makeState()
            try prepare?(&state)
            for image in 0..<count {
                try body(&state, image)
                progress?(image + 1, count)
            }
            return
        }
        let states = try (0..<workers).map { _ in StateBox(try makeState()) }
        let shared = SharedCounter()
        try run(workers: workers, count: count, states: states, shared: shared, progress: progress, prepare: prepare, body)
    }

    /// The threads of `forEach`.
    private static func run<State>(workers: Int, count: Int, states: [StateBox<State>], shared: SharedCounter,
                                   progress: ((Int, Int) -> Void)?, prepare: ((inout State) throws -> Void)?,
                                   _ body: @escaping (inout State, Int) throws -> Void) throws {
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let prepare = prepare
        nonisolated(unsafe) let progress = progress
        // Threads of our own (a dispatch pool may run fewer at once than asked), which all start
        // on their images together, once every thread is up: a thread's start-up never overlaps
        // another's measured runs (bench counts heap allocations around each run).
        let work: @Sendable (Int) -> Void = { worker in
            let box = states[worker]
            do { try prepare?(&box.value) } catch { shared.fail(error) }
            shared.arrive(workers)
            if shared.error != nil { shared.arrive(workers); return }
            while let image = shared.next(limit: count) {
                do { try body(&box.value, image) } catch { shared.fail(error); break }
                shared.finished(count: count, progress: progress)
            }
            shared.arrive(workers)
        }
        let finished = DispatchSemaphore(value: 0)
        for worker in 1..<workers {
            let thread = Thread {
                work(worker)
                finished.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        work(0)
        for _ in 1..<workers { finished.wait() }
        if let error = shared.error { throw error }
    }

    /// Like `forEach`, and returns every thread's final state, for per-thread accumulators whose
    /// merge does not depend on which images each thread ran (minima, integer counts).
    public static func states<State>(count: Int, threads: Int, progress: ((Int, Int) -> Void)? = nil,
                                     makeState: () throws -> State, _ body: @escaping (inout State, Int) throws -> Void) throws -> [State] {
        let collected = StateList<State>()
        nonisolated(unsafe) let makeState = makeState
        try forEach(count: count, threads: threads, progress: progress, makeState: { () throws -> StateBox<State> in
            let box = StateBox(try makeState())
            collected.append(box)
            return box
        }) { box, image in try body(&box.value, image) }
        return collected.values
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
    private var firstError: Error?

    /// The first error any thread reported, read under the lock: a thread checks it after the
    /// start barrier while another may be failing in `body` at the same moment.
    var error: Error? {
        lock.lock(); defer { lock.unlock() }
        return firstError
    }

    func next(limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        if firstError != nil || nextImage >= limit { return nil }
        nextImage += 1
        return nextImage - 1
    }

    func finished(count: Int, progress: ((Int, Int) -> Void)?) {
        lock.lock(); defer { lock.unlock() }
        done += 1
        progress?(done, count)
    }

    private let ready = NSCondition()
    private var arrived = 0

    /// Waits until `workers` threads have called this (every one of them is a running thread);
    /// called once at the start and once at the end of each thread's images (threads are created
    /// and torn down outside the time any of them runs images).
    func arrive(_ workers: Int) {
        ready.lock()
        arrived += 1
        let target = arrived <= workers ? workers : 2 * workers
        if arrived == target { ready.broadcast() }
        while arrived < target { ready.wait() }
        ready.unlock()
    }

    func fail(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if firstError == nil { firstError = error }
    }
}

/// A reference to one thread's state.
private final class StateBox<State>: @unchecked Sendable {
    var value: State
    init(_ value: State) { self.value = value }
}

/// The boxes of every thread's state.
private final class StateList<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var boxes: [StateBox<State>] = []

    func append(_ box: StateBox<State>) {
        lock.lock(); defer { lock.unlock() }
        boxes.append(box)
    }

    var values: [State] {
        lock.lock(); defer { lock.unlock() }
        return boxes.map(\.value)
    }
}
