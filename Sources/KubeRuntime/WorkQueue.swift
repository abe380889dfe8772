import DequeModule
import HeapModule

/// The queue between watch events and reconcile workers, as client-go's workqueue:
/// a key is queued at most once, never handed to two workers at once (a key added while
/// being processed is queued again when its worker is done), with per-key exponential
/// backoff for failures, an overall rate limit on retries, delayed adds, and a draining
/// shutdown.
public actor WorkQueue {
    public struct Options: Sendable {
        /// Per-key failure backoff: base doubling to max (controller-runtime: 5 ms to 1000 s).
        public var baseDelay: Duration = .milliseconds(5)
        public var maxDelay: Duration = .seconds(1000)
        /// Overall limit on rate-limited (retry) adds.
        public var retryQPS: Double = 10
        public var retryBurst = 100
        public init() {}
    }

    private let options: Options
    private var queue = Deque<String>()
    private var dirty: Set<String> = []
    private var processing: Set<String> = []
    private var failures: [String: Int] = [:]
    private var addedAt: [String: ContinuousClock.Instant] = [:]
    private var delayed = Heap<Delayed>()
    private var waiters = Deque<CheckedContinuation<String?, Never>>()
    /// Wakes the timer loop: set when an earlier key may have arrived, consumed by the loop.
    private let timerSignal = Latch(false)
    private var shuttingDown = false
    private var retryTokens: Double
    private var retryRefill = ContinuousClock.now

    /// Observed queue wait of each key handed out, for metrics.
    private let onDequeue: (@Sendable (_ waited: Duration, _ depth: Int) -> Void)?

    public init(options: Options = Options(), onDequeue: (@Sendable (Duration, Int) -> Void)? = nil) {
        self.options = options
        retryTokens = Double(options.retryBurst)
        self.onDequeue = onDequeue
    }

    public var depth: Int { queue.count }

    /// Queues `key` unless it is already waiting.
    public func add(_ key: String) {
        guard !shuttingDown, !dirty.contains(key) else { return }
        dirty.insert(key)
        addedAt[key] = addedAt[key] ?? .now
        guard !processing.contains(key) else { return }
        if let waiter = waiters.popFirst() {
            handOut(key, to: waiter)
        } else {
            queue.append(key)
        }
    }

    /// Queues `key` after `delay`.
    public func add(_ key: String, after delay: Duration) {
        guard !shuttingDown else { return }
        guard delay > .zero else { return add(key) }
        delayed.insert(Delayed(deadline: .now + delay, key: key))
        timerSignal.withLock { $0 = true }
    }

    /// Queues `key` after its failure backoff and the overall retry limit.
    public func addRateLimited(_ key: String) {
        let n = failures[key, default: 0]
        failures[key] = n + 1
        let perKey = min(options.maxDelay, options.baseDelay * (1 << min(n, 30)))
        let now = ContinuousClock.now
        let elapsed = now - retryRefill
        retryRefill = now
        retryTokens = min(Double(options.retryBurst), retryTokens + elapsed / .seconds(1) * options.retryQPS)
        retryTokens -= 1
        let overall: Duration = retryTokens >= 0 ? .zero : .seconds(-retryTokens / options.retryQPS)
        add(key, after: max(perKey, overall))
    }

    /// Clears the failure count of `key` (after a success).
    public func forget(_ key: String) { failures[key] = nil }

    public func failureCount(_ key: String) -> Int { failures[key, default: 0] }

    /// The next key to work on; nil once shut down and drained.
    public func next() async -> String? {
        if let key = queue.popFirst() { return take(key) }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Marks `key` finished; if it was added meanwhile it is queued again.
    public func done(_ key: String) {
        processing.remove(key)
        guard dirty.contains(key) else { return }
        if let waiter = waiters.popFirst() {
            handOut(key, to: waiter)
        } else {
            queue.append(key)
        }
    }

    /// Stops taking new keys; workers get the keys already queued, then nil.
    public func shutDown() {
        shuttingDown = true
        delayed = Heap()
        timerSignal.withLock { $0 = true }
        if queue.isEmpty {
            for waiter in waiters { waiter.resume(returning: nil) }
            waiters.removeAll()
        }
    }

    private func take(_ key: String) -> String {
        dirty.remove(key)
        processing.insert(key)
        if let added = addedAt.removeValue(forKey: key) { onDequeue?(.now - added, depth) }
        return key
    }

    private func handOut(_ key: String, to waiter: CheckedContinuation<String?, Never>) {
        waiter.resume(returning: take(key))
    }

    /// Moves delayed keys into the queue when due; runs until shutdown (one per queue, in
    /// the controller's task group). With nothing delayed it sleeps until woken, so an idle
    /// queue costs no CPU.
    public func runTimers() async {
        while !shuttingDown && !Task.isCancelled {
            let now = ContinuousClock.now
            while let first = delayed.min, first.deadline <= now {
                delayed.removeMin()
                add(first.key)
            }
            let deadline = delayed.min?.deadline
            let signal = timerSignal
            // Wake at the earliest deadline, or sooner when an earlier key arrives.
            await withTaskGroup(of: Void.self) { group in
                if let deadline {
                    group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
                }
                group.addTask {
                    _ = try? await signal.wait { woken -> Void? in
                        guard woken else { return nil }
                        woken = false
                        return ()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

/// A key queued for later; the heap keeps the earliest first.
private struct Delayed: Comparable {
    let deadline: ContinuousClock.Instant
    let key: String

    static func < (a: Delayed, b: Delayed) -> Bool { a.deadline < b.deadline }
}
