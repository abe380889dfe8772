import Synchronization

/// A value under a lock that tasks can wait on: the one waiting primitive of the runtime
/// (leadership, a cache's first list, a bound port, a timer's wake-up, pending events).
///
/// A waiter says what it waits for as a function of the state, which returns nil while
/// the answer has not come; every change made through `withLock` asks each waiter again,
/// under the lock, and resumes those answered once the lock is released. The answer may
/// change the state (a wake-up that consumes a flag). Cancelling a waiting task ends its
/// wait at once with `CancellationError`.
public final class Latch<State: Sendable>: Sendable {
    private struct Waiter {
        /// Answers under the lock; returns how to resume, or nil to keep waiting.
        let attempt: @Sendable (inout State) -> (@Sendable () -> Void)?
        let cancel: @Sendable () -> Void
    }

    private struct Box {
        var state: State
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0

        mutating func takeAnswered() -> [@Sendable () -> Void] {
            guard !waiters.isEmpty else { return [] }
            var ready: [@Sendable () -> Void] = []
            for (id, waiter) in waiters.sorted(by: { $0.key < $1.key }) {
                if let resume = waiter.attempt(&state) {
                    ready.append(resume)
                    waiters[id] = nil
                }
            }
            return ready
        }
    }

    private let box: Mutex<Box>

    public init(_ state: State) {
        box = Mutex(Box(state: state))
    }

    /// The state now.
    public var value: State { box.withLock { $0.state } }

    /// How many tasks wait (for tests).
    var waiting: Int { box.withLock { $0.waiters.count } }

    /// Reads or changes the state; waiters whose answer has come are resumed afterwards,
    /// outside the lock.
    @discardableResult
    public func withLock<T>(_ body: (inout State) throws -> T) rethrows -> T {
        let (result, ready) = try box.withLock { b in
            let result = try body(&b.state)
            return (result, b.takeAnswered())
        }
        for resume in ready { resume() }
        return result
    }

    /// Returns the first non-nil answer of `answer`, asked now and after every change; an
    /// error it throws ends the wait with that error.
    public func wait<T: Sendable>(for answer: @escaping @Sendable (inout State) throws -> T?) async throws -> T {
        let id = box.withLock { b in
            defer { b.nextID += 1 }
            return b.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                let now: Result<T, any Error>? = box.withLock { b in
                    let first = Result { try answer(&b.state) }
                    if case .success(nil) = first {
                        // Checked under the lock: a cancellation handler that ran before we
                        // registered found nothing to resume.
                        if Task.isCancelled { return .failure(CancellationError()) }
                        b.waiters[id] = Waiter(attempt: { state in
                            switch Result(catching: { try answer(&state) }) {
                            case .success(nil): nil
                            case .success(let value?): { c.resume(returning: value) }
                            case .failure(let error): { c.resume(throwing: error) }
                            }
                        }, cancel: { c.resume(throwing: CancellationError()) })
                        return nil
                    }
                    return first.map { $0! }
                }
                if let now { c.resume(with: now) }
            }
        } onCancel: {
            box.withLock { $0.waiters.removeValue(forKey: id) }?.cancel()
        }
    }
}

/// A result that comes once, such as the port a server bound: waiters get the value or
/// the error.
extension Latch {
    /// Sets the result, unless one is set already.
    public func resolve<V>(_ result: Result<V, any Error>) where State == Result<V, any Error>? {
        withLock { state in
            if case .none = state { state = result }
        }
    }

    /// The result's value once it is set; its error, thrown, if it failed.
    public func result<V: Sendable>() async throws -> V where State == Result<V, any Error>? {
        try await wait { try $0?.get() }
    }
}
