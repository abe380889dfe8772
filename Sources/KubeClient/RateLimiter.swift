import Synchronization

/// Client-side rate limiting, as client-go's token bucket: `qps` tokens a second, at most
/// `burst` saved up. Callers wait (without blocking a thread) for a token.
public final class TokenBucket: Sendable {
    public let qps: Double
    public let burst: Int
    private let state: Mutex<(tokens: Double, last: ContinuousClock.Instant)>

    public init(qps: Double, burst: Int) {
        precondition(qps > 0 && burst > 0, "qps and burst must be positive")
        self.qps = qps
        self.burst = burst
        state = Mutex((Double(burst), ContinuousClock.now))
    }

    /// Takes a token, waiting as long as needed; the reservation is made at once so waiters
    /// are served in order.
    public func acquire() async throws {
        let wait: Duration = state.withLock { s in
            let now = ContinuousClock.now
            let elapsed = now - s.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            s.tokens = min(Double(burst), s.tokens + seconds * qps)
            s.last = now
            s.tokens -= 1
            return s.tokens >= 0 ? .zero : .milliseconds(Int((-s.tokens / qps) * 1000))
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
