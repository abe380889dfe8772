/// What a reconcile pass asks for next (kube-rs `Action`, controller-runtime `Result`).
///
/// Returning is success; throwing is failure: an ordinary error is retried with the queue's
/// per-key exponential backoff, a `TerminalError` is not retried until the object changes.
public enum ReconcileAction: Sendable, Equatable {
    /// The object is where it should be; wait for the next change.
    case done
    /// Look again after `delay` even if nothing changes (a sync schedule, a TTL).
    case requeue(after: Duration)
}

/// An error that retrying cannot fix (bad spec, refused configuration): reported, not retried.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var message: String

    public init(reason: String, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason): \(message)" }
}
