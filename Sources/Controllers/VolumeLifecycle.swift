import Foundation
import StowageAPI

/// The lifecycle of one volume (a DataVolume or a SharedVolume) as a pure decision: from
/// what a reconcile pass observed, what the operator does next and which phase the volume
/// is in. No I/O, so every rule of DESIGN.md's lifecycle has a unit test.
///
/// The rules, in order of precedence:
/// 1. A sync Job in flight is waited for; nothing else starts beside it.
/// 2. The claim must exist while the volume is not deleted, except while it is evicted
///    (`cache.retain: false` or `ttlAfterIdle`) and nobody uses it; and it must be bound
///    before a sync pod mounts it (unless its StorageClass binds at the first consumer,
///    which the sync pod then is).
/// 3. A source is pulled before first use, again when what is pulled changes (`spec.source`
///    or `spec.access`; no other edit, such as `spec.size` or `spec.mount`, re-pulls), and
///    again when a consumer arrives if `sync.onStart` is set and the volume holds no
///    unpushed work.
/// 4. Work in the volume (`pendingPush`) is pushed when the last consumer leaves (RW, RWD;
///    never RO), when the user asks (`stowage.io/sync-now`), or on the schedule.
/// 5. A volume is never evicted or deleted while it holds unpushed work: a failing push
///    keeps the claim until it succeeds or the user turns `sync.onStop` off.
/// 6. A failed sync is not retried by the operator (the Job has its own retries) until the
///    spec changes or the user requests a sync.
public enum VolumeLifecycle {
    /// What the pass observed.
    public struct Observation: Sendable, Hashable {
        public var deleting = false
        public var hasSource = false
        public var access: AccessMode = .readWrite
        /// False when the access level forbids syncing (a `secret` level, say).
        public var syncAllowed = true
        public var onStart = true
        public var onStop = true
        public var retain = true
        public var ttlAfterIdle: Duration?
        public var claimExists = false
        /// The claim is bound, or binds when its first pod is scheduled (WaitForFirstConsumer).
        public var claimBindable = true
        public var consumers = 0
        /// The sync Job of this volume that has not been recorded yet, if any.
        public var runningSync: SyncDirection?
        // Bookkeeping from status.
        /// The claim holds the data of a successful pull (it was not created or evicted since).
        public var pulled = false
        /// The source or access mode differs from those of the last successful pull.
        public var sourceChanged = false
        public var pendingPush = false
        public var idleSince: Date?
        /// The last recorded sync failed, at the current generation.
        public var lastSyncFailed = false
        /// The user asked for a sync (`stowage.io/sync-now` differs from the handled value).
        public var syncRequested = false
        /// The schedule says an intermediate sync is due.
        public var scheduleDue = false
        public var now = Date()

        public init() {}
    }

    public enum Step: Sendable, Hashable {
        /// Create the claim (it is missing and needed).
        case createClaim
        /// Start a sync Job.
        case sync(SyncDirection, reason: String)
        /// A sync Job runs; its completion wakes the controller.
        case waitForSync
        /// Delete the claim: evicted from the cache, or the volume is deleted with `Delete`.
        case deleteClaim(reason: String)
        /// The volume is being deleted and everything is done: let it go (the claim is
        /// deleted or released per `reclaimPolicy` by the caller first).
        case finish
        /// Being deleted and still in use: wait for the consumers to leave.
        case waitForConsumers
        /// Nothing to do; look again after the delay if one is given.
        case steady(recheckAfter: Duration?)
    }

    public struct Decision: Sendable, Hashable {
        public var step: Step
        public var phase: VolumePhase

        public init(step: Step, phase: VolumePhase) {
            self.step = step
            self.phase = phase
        }
    }

    public static func decide(_ o: Observation) -> Decision {
        let canPull = o.hasSource && o.syncAllowed
        let canPush = canPull && o.access.pushes
        let unpushed = canPush && o.pendingPush
        let pushDue = unpushed && o.onStop && o.consumers == 0
        let idlePhase: VolumePhase = o.idleSince != nil ? .idle : .ready

        if let running = o.runningSync {
            let phase: VolumePhase = o.deleting ? .terminating
                : running == .pull ? .initializing
                : o.consumers > 0 ? .inUse : .finalizing
            return Decision(step: .waitForSync, phase: phase)
        }

        if o.deleting {
            if o.consumers > 0 { return Decision(step: .waitForConsumers, phase: .terminating) }
            if pushDue && o.claimExists {
                // A failed final push keeps the volume (and its data) until the user acts.
                if o.lastSyncFailed && !o.syncRequested { return Decision(step: .steady(recheckAfter: nil), phase: .terminating) }
                return Decision(step: .sync(.push, reason: "final sync before deletion"), phase: .terminating)
            }
            return Decision(step: .finish, phase: .terminating)
        }

        // An evicted claim comes back only for a consumer.
        let evicted = !o.claimExists && !o.pulled && o.idleSince != nil && canPull
        if !o.claimExists {
            if evicted && o.consumers == 0 { return Decision(step: .steady(recheckAfter: nil), phase: .idle) }
            return Decision(step: .createClaim, phase: o.lastSyncFailed ? .failed : .pending)
        }

        if o.lastSyncFailed && !o.syncRequested {
            return Decision(step: .steady(recheckAfter: nil), phase: .failed)
        }
        // Nothing mounts a claim that has no volume yet; the claim's binding wakes us, and the
        // recheck catches why it does not bind (its events are not watched).
        if !o.claimBindable { return Decision(step: .steady(recheckAfter: .seconds(15)), phase: .pending) }

        if canPull && (!o.pulled || o.sourceChanged) && !unpushed {
            let why = o.pulled ? "spec.source or spec.access changed since the last pull" : "initial pull"
            return Decision(step: .sync(.pull, reason: why), phase: .initializing)
        }
        if canPull && o.consumers > 0 && o.idleSince != nil && o.onStart && !unpushed {
            return Decision(step: .sync(.pull, reason: "refresh before use (sync.onStart)"), phase: .initializing)
        }
        if pushDue {
            return Decision(step: .sync(.push, reason: "the last consumer left"), phase: .finalizing)
        }
        if o.syncRequested || o.scheduleDue {
            let why = o.syncRequested ? "requested with stowage.io/sync-now" : "scheduled"
            if canPush && (o.pendingPush || o.consumers > 0) {
                return Decision(step: .sync(.push, reason: why), phase: o.consumers > 0 ? .inUse : .finalizing)
            }
            if canPull && !unpushed {
                return Decision(step: .sync(.pull, reason: why), phase: o.consumers > 0 ? .inUse : .initializing)
            }
        }

        if o.consumers > 0 { return Decision(step: .steady(recheckAfter: nil), phase: .inUse) }

        // Eviction: the data is safe in object storage and nobody uses the claim.
        if canPull && !unpushed {
            if !o.retain && o.idleSince != nil {
                return Decision(step: .deleteClaim(reason: "cache.retain is false and the final sync succeeded"), phase: .idle)
            }
            if let ttl = o.ttlAfterIdle, let since = o.idleSince {
                let left = since.addingTimeInterval(ttl / .seconds(1)).timeIntervalSince(o.now)
                if left <= 0 { return Decision(step: .deleteClaim(reason: "idle for longer than cache.ttlAfterIdle"), phase: .idle) }
                return Decision(step: .steady(recheckAfter: .milliseconds(Int64(left * 1000) + 1)), phase: .idle)
            }
        }
        return Decision(step: .steady(recheckAfter: nil), phase: idlePhase)
    }
}

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
