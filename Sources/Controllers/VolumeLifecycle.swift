import Foundation
import StowageAPI
import SyncContract

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
///
/// The namespace itself and `Arrival`, which the webhook reads too, are in StowageAPI.
extension VolumeLifecycle {
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
    /// What one reconcile pass saw, as read from the caches: the raw facts from which
    /// `plan` derives the `Observation` and the operator's bookkeeping in status.
    public struct Seen: Sendable, Hashable {
        /// The spec, the claim and the running sync, as observed; `plan` fills in the
        /// fields that come from status (`pulled` to `scheduleDue`), the consumer count and
        /// the time, and ignores what is set there.
        public var facts = Observation()
        /// There is no claim object at all (not even one being deleted).
        public var claimMissing = true
        /// The status read at the start of the pass named a claim (it existed before).
        public var claimRecorded = false
        /// The pods that mount the claim, not the operator's own, still running (keys, sorted).
        public var consumers: [String] = []
        public var generation: Int64 = 1
        /// What a pull pulls now (`PullIdentity` of `spec.source` and `spec.access`).
        public var pullIdentity = ""
        /// The `stowage.io/sync-now` annotation's value.
        public var syncRequest: String?
        public var schedule: CronSchedule?
        public var now = Date()

        public init() {}

        var canSync: Bool { facts.hasSource && facts.syncAllowed }
    }

    /// The decision of a pass with its bookkeeping.
    public struct Plan: Sendable, Hashable {
        public var decision: Decision
        public var observation: Observation
        /// A pull runs or starts now (pods wait for it).
        public var pulling: Bool
        /// What status records once the step's sync has started, and only then (a sync
        /// request handled, the schedule moved on): a step that fails leaves them owed.
        public var onceStarted: Started

        public struct Started: Sendable, Hashable {
            /// The `stowage.io/sync-now` value the sync handles.
            public var syncRequest: String?
            /// The schedule moves on, to `nextScheduledSync` (nil: it has no next time).
            public var advancesSchedule = false
            public var nextScheduledSync: Date?

            public init() {}

            public func apply(to status: inout VolumeStatus) {
                if let syncRequest { status.syncRequest = syncRequest }
                if advancesSchedule { status.nextScheduledSync = nextScheduledSync }
            }
        }
    }

    /// One pass as a pure function: from what it saw and the status as read (with any
    /// finished sync already recorded), the step to take, and in `status` the bookkeeping
    /// the next pass relies on: when the volume became idle, whether a push is owed,
    /// whether the claim still holds pulled data, the schedule, the consumers, the phase.
    public static func plan(_ seen: Seen, status: inout VolumeStatus) -> Plan {
        let now = seen.now
        // Idle from the moment the last consumer left; a consumer ends it, unless the
        // volume is refreshed on start (the refresh pull ends it, rule 3).
        if seen.consumers.isEmpty && !(status.consumers ?? []).isEmpty && status.idleSince == nil { status.idleSince = now }
        if !seen.consumers.isEmpty && !(seen.canSync && seen.facts.onStart) { status.idleSince = nil }
        if seen.claimMissing && seen.claimRecorded && status.pulledGeneration != nil && seen.facts.runningSync == nil {
            // The claim vanished (evicted, or deleted by hand): its data is gone with it.
            status.forgetPull()
        }
        if let schedule = seen.schedule {
            if status.nextScheduledSync == nil { status.nextScheduledSync = schedule.next(after: now) }
        } else {
            status.nextScheduledSync = nil
        }

        var o = seen.facts
        o.consumers = seen.consumers.count
        o.pulled = status.pulledGeneration != nil
        // A status written before pulls were identified compares generations, as it did then.
        o.sourceChanged = status.pulledSource.map { $0 != seen.pullIdentity } ?? (status.pulledGeneration != seen.generation)
        o.pendingPush = status.pendingPush ?? false
        o.idleSince = status.idleSince
        // A failure sticks until the spec changes or a sync is requested.
        o.lastSyncFailed = status.lastSync?.result == .failed && (status.observedGeneration ?? seen.generation) == seen.generation
        o.syncRequested = seen.syncRequest != nil && seen.syncRequest != status.syncRequest
        o.scheduleDue = status.nextScheduledSync.map { $0 <= now } ?? false
        o.now = now
        let decision = decide(o)

        // Consumers may change the data, so a push is owed, but only once the refresh pull
        // before their use is done (a pull over unpushed work is never planned). A volume
        // whose data was never pulled owes nothing yet (a new home mounted by the pod that
        // made it must still get its first pull).
        var pulling = seen.facts.runningSync == .pull
        if case .sync(.pull, _) = decision.step { pulling = true }
        if !seen.consumers.isEmpty && seen.canSync && seen.facts.access.pushes && !pulling && seen.facts.claimExists && status.pulledGeneration != nil {
            status.pendingPush = true
        }
        status.consumers = seen.consumers.isEmpty ? nil : seen.consumers
        status.phase = decision.phase
        status.observedGeneration = seen.generation

        var started = Plan.Started()
        if case .sync = decision.step {
            if o.syncRequested { started.syncRequest = seen.syncRequest }
            if o.scheduleDue {
                started.advancesSchedule = true
                started.nextScheduledSync = seen.schedule?.next(after: now)
            }
        }
        return Plan(decision: decision, observation: o, pulling: pulling, onceStarted: started)
    }
}

extension VolumeLifecycle {
    /// A sync Job that ended, as its pod's summary and the Job's annotations tell it.
    public struct Finished: Sendable, Hashable {
        public var record: SyncRecord
        public var exitCode: Int?
        /// The Job's number (`stowage.io/sync-number`).
        public var number: Int?
        /// The spec generation and pull identity the Job was started for.
        public var generation: Int64?
        public var pullIdentity: String?

        public init(record: SyncRecord, exitCode: Int?, number: Int?) {
            self.record = record
            self.exitCode = exitCode
            self.number = number
        }
    }

    /// An Event a pass posts about its volume.
    public struct Note: Sendable, Hashable {
        public var warning: Bool
        public var reason: String
        public var message: String

        public init(warning: Bool, reason: String, message: String) {
            self.warning = warning
            self.reason = reason
            self.message = message
        }
    }

    /// Folds a finished sync into status: the last sync and its number; after a pull, what
    /// the claim now holds (and the end of idleness); after a push with nobody using the
    /// volume, nothing is owed any more. Returns the Events that report it.
    public static func record(_ finished: Finished, consumers: Int, status: inout VolumeStatus) -> [Note] {
        let record = finished.record
        status.lastSync = record
        status.syncCount = finished.number ?? (status.syncCount ?? 0) + 1
        let summary = "\(record.files ?? 0) files, \(record.bytes ?? 0) bytes, \(record.deleted ?? 0) deleted"
        var notes: [Note] = []
        switch (record.result, record.direction) {
        case (.succeeded, .pull):
            status.pulledGeneration = finished.generation
            status.pulledSource = finished.pullIdentity
            status.idleSince = nil
            status.warning = record.inputWarning
            if let warning = status.warning { notes.append(Note(warning: true, reason: ConditionReason.inputsChanged, message: warning)) }
            notes.append(Note(warning: false, reason: ConditionReason.syncSucceeded, message: "pull succeeded: \(summary)"))
        case (.succeeded, .push):
            if consumers == 0 { status.pendingPush = nil }
            notes.append(Note(warning: false, reason: ConditionReason.syncSucceeded, message: "push succeeded: \(summary)"))
        case (.failed, _):
            notes.append(Note(warning: true, reason: record.failureCondition,
                              message: "\(record.direction.rawValue) failed\(finished.exitCode.map { " (exit \($0))" } ?? ""): \(record.message ?? "no details")"))
        }
        return notes
    }
}
