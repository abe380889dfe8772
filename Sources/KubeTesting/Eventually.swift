/// Polls `check` until it holds, for assertions only (the code under test never polls);
/// returns how long that took. A check that throws counts as not yet; when `timeout`
/// passes, `eventually` throws `TimedOut`, naming what it waited for and the check's last
/// error, which fails the test.
///
/// The default allows for real pods on two loaded cores (each sync is a pod to schedule,
/// start and stop, beside every other suite's); tests that measure a deadline pass theirs.
@discardableResult
public func eventually(_ what: String, timeout: Duration = .seconds(120), every interval: Duration = .milliseconds(200),
                       _ check: () async throws -> Bool) async throws -> Duration {
    let start = ContinuousClock.now
    var lastError: (any Error)?
    while true {
        do {
            if try await check() { return ContinuousClock.now - start }
            lastError = nil
        } catch {
            lastError = error
        }
        guard ContinuousClock.now - start < timeout else { break }
        try await Task.sleep(for: interval)
    }
    throw TimedOut(what: what, timeout: timeout, lastError: lastError.map { "\($0)" })
}

/// `eventually` gave up.
public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public var timeout: Duration
    /// The check's error on its last try, if it threw.
    public var lastError: String?

    public var description: String {
        "timed out after \(timeout) waiting until \(what)" + (lastError.map { " (last error: \($0))" } ?? "")
    }
}
