/// The lifecycle of one volume. Declared here, below both the operator and the webhook, with
/// what both read (`Arrival`); the decision itself is Controllers' `VolumeLifecycle.decide`.
public enum VolumeLifecycle {}

extension VolumeLifecycle {
    /// What a pod that starts to mount a volume now must wait for before its containers run,
    /// from the volume's status, by the rules `decide` follows once that pod is a consumer:
    /// the admission webhook gives the pod a `stowage-wait` init container for it.
    public enum Arrival: Sendable, Hashable {
        /// The data is in place and no pull is owed: start at once.
        case inPlace
        /// A pull the operator starts (or has started) for this pod: it is numbered above
        /// `after`, the volume's sync count now (`stowage wait --path PATH:N`).
        case pull(after: Int)
        /// The last sync failed: whatever data a sync completed before (no new pull runs
        /// until the user acts).
        case anyCompletedSync
    }

    public static func arrival(hasSource: Bool, syncAllowed: Bool, onStart: Bool, status: VolumeStatus?) -> Arrival {
        guard hasSource && syncAllowed else { return .inPlace }
        guard let status, let phase = status.phase else { return .pull(after: 0) }
        let count = status.syncCount ?? 0
        switch phase {
        case .pending, .initializing:
            return .pull(after: count)
        case .idle:
            // Evicted (its claim and data gone): pulled again for this pod. Kept: refreshed
            // first with sync.onStart (rule 3), unless work waits to be pushed.
            if status.pulledGeneration == nil { return .pull(after: count) }
            return onStart && status.pendingPush != true ? .pull(after: count) : .inPlace
        case .failed:
            return .anyCompletedSync
        case .ready, .inUse, .finalizing, .terminating:
            // Pulled and unused, already used (no refresh while in use), or holding the
            // previous session's work being pushed: the pod uses the data as it is.
            return .inPlace
        }
    }
}
