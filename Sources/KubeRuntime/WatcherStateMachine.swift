/// The decisions of a watcher (list, then watch, resume, re-list on Gone, back off on
/// failure) as a pure state machine, tested without I/O (STYLE.md habit 11).
///
/// Backoff grows from 0.8 s to 30 s and resets after `quietPeriod` of healthy watching,
/// like kube-rs's default watcher backoff.
public struct WatcherStateMachine: Sendable {
    public enum Event: Sendable, Equatable {
        case start
        /// A full list succeeded at this resourceVersion.
        case listed(resourceVersion: String)
        case listFailed
        /// The watch ended as servers end watches (its timeout): resume from the last version.
        case watchEnded(healthyFor: Duration)
        /// The resourceVersion is too old (410 Gone / Expired).
        case watchExpired
        case watchFailed(healthyFor: Duration)
        /// An event or bookmark moved the version forward.
        case progressed(resourceVersion: String)
    }

    public enum Action: Sendable, Equatable {
        case list(after: Duration)
        case watch(from: String, after: Duration)
        case none
    }

    public var initialBackoff: Duration = .milliseconds(800)
    public var maxBackoff: Duration = .seconds(30)
    public var quietPeriod: Duration = .seconds(120)

    public private(set) var resourceVersion: String?
    private var failures = 0

    public init() {}

    var backoff: Duration {
        guard failures > 0 else { return .zero }
        let factor = 1 << min(failures - 1, 16)
        return min(maxBackoff, initialBackoff * factor)
    }

    public mutating func on(_ event: Event) -> Action {
        switch event {
        case .start:
            return .list(after: .zero)
        case .listed(let version):
            resourceVersion = version
            return .watch(from: version, after: .zero)
        case .listFailed:
            failures += 1
            return .list(after: backoff)
        case .progressed(let version):
            resourceVersion = version
            return .none
        case .watchEnded(let healthy):
            if healthy >= quietPeriod { failures = 0 }
            guard let resourceVersion else { return .list(after: backoff) }
            return .watch(from: resourceVersion, after: failures == 0 ? .zero : backoff)
        case .watchExpired:
            // Gone is routine after a long disconnection: re-list at once the first time,
            // but back off if the server keeps answering Gone.
            failures += 1
            resourceVersion = nil
            return .list(after: failures == 1 ? .zero : backoff)
        case .watchFailed(let healthy):
            if healthy >= quietPeriod { failures = 0 }
            failures += 1
            guard let resourceVersion else { return .list(after: backoff) }
            return .watch(from: resourceVersion, after: backoff)
        }
    }

    /// A list succeeding proves the server healthy again.
    public mutating func resetBackoff() { failures = 0 }
}
