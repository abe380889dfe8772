import Foundation
import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import Synchronization

/// Makes one operator replica out of many the active one, through a coordination.k8s.io/v1
/// Lease (client-go `leaderelection`), so that two replicas never reconcile at once.
///
/// Run it as a `Service` in the operator's `ServiceGroup`, listed before the controllers
/// (the group stops services in reverse order, so controllers drain before the lease goes).
/// Controllers wrap their work in `whileLeading(_:)`.
///
/// - A replica acquires the lease when it is free, released, or expired. Expiry is judged by
///   when this replica last *saw* the lease change plus the lease's duration, never by
///   comparing the holder's `renewTime` with the local clock, so clock skew between nodes
///   cannot cause two leaders.
/// - The leader renews every `retryPeriod`; if it cannot renew for `renewDeadline` it stops
///   leading (before the others may consider the lease expired, as `renewDeadline <
///   leaseDuration`).
/// - Every write carries the lease's `resourceVersion`: a conflict means another replica
///   wrote first, and this one backs off.
/// - On graceful shutdown the leader releases the lease (empty holder, 1 s duration) so a
///   successor takes over at its next poll. If the task is cancelled instead, nothing is
///   written (a cancelled task cannot make requests, as after SIGKILL) and the lease
///   expires after `leaseDuration`.
public final class LeaderElector: Service, Sendable {
    public let identity: String
    public let namespace: String
    public let name: String
    let configuration: LeaderElectionMachine.Configuration
    let leases: ResourceClient<Lease>
    let releaseOnShutdown: Bool
    let logger: Logger
    private let signal = LeadershipSignal()

    /// - Parameter releaseOnShutdown: release the lease on graceful shutdown (tests turn this
    ///   off to act like a killed process).
    public init(client: KubeClient, namespace: String, name: String, identity: String,
                leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2), releaseOnShutdown: Bool = true, logger: Logger) {
        precondition(leaseDuration > renewDeadline, "leaseDuration must be greater than renewDeadline")
        precondition(renewDeadline > retryPeriod * 1.2, "renewDeadline must be greater than retryPeriod with its jitter")
        precondition(leaseDuration >= .seconds(1), "a Lease counts its duration in whole seconds")
        self.identity = identity
        self.namespace = namespace
        self.name = name
        configuration = .init(identity: identity, namespace: namespace, name: name, leaseDuration: leaseDuration, renewDeadline: renewDeadline, retryPeriod: retryPeriod)
        leases = client.resource(Lease.self, namespace: namespace)
        self.releaseOnShutdown = releaseOnShutdown
        var logger = logger
        logger[metadataKey: "lease.name"] = "\(namespace)/\(name)"
        logger[metadataKey: "lease.identity"] = "\(identity)"
        self.logger = logger
    }

    /// Whether this replica leads now.
    public var isLeader: Bool { signal.isLeading }

    /// Runs `body` whenever this replica leads: waits for leadership, runs `body`, cancels it
    /// when leadership is lost and waits to lead again. Returns when `body` returns or the
    /// elector has stopped; throws what `body` throws while leading, or `CancellationError`.
    public func whileLeading(_ body: @Sendable @escaping () async throws -> Void) async throws {
        enum Outcome: Sendable { case finished, lost }
        while true {
            guard let term = try await signal.waitToLead() else { return }
            let outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    try await body()
                    return .finished
                }
                group.addTask {
                    try await self.signal.waitForLoss(of: term)
                    return .lost
                }
                let first = await group.nextResult()!
                group.cancelAll()
                switch first {
                case .success(.lost):
                    // The body's way of ending after cancellation is no news.
                    while await group.nextResult() != nil {}
                    return Outcome.lost
                case .success(.finished):
                    return .finished
                case .failure(let error):
                    throw error
                }
            }
            if outcome == .finished { return }
            logger.info("leadership lost; work stopped until this replica leads again")
        }
    }

    public func run() async throws {
        defer { signal.stop() }
        let machine = await cancelWhenGracefulShutdown { await self.campaign() }
        signal.set(leading: false)
        // Graceful shutdown (not cancellation): tell the successor at once.
        guard releaseOnShutdown, !Task.isCancelled else { return }
        var final = machine
        guard let released = final.release(now: Date()) else { return }
        do {
            do {
                _ = try await update(released)
            } catch let error as KubeClientError where error.apiCode == .conflict {
                // A renew the shutdown interrupted may still have landed, newer than the lease
                // held here: release what the server has, if it still names this replica.
                var current = try await leases.get(name)
                guard current.spec?.holderIdentity == identity else { throw error }
                current.spec = released.spec
                _ = try await update(current)
            }
            logger.info("lease released")
        } catch {
            // Someone else holds it already, or the API is unreachable: it expires on its own.
            logger.info("lease not released; it expires on its own", metadata: ["error": "\(error)"])
        }
    }

    /// Acquires and renews until cancelled; returns the last state, for the release.
    private func campaign() async -> LeaderElectionMachine {
        var machine = LeaderElectionMachine(configuration)
        var action = LeaderElectionMachine.Action.read
        logger.info("campaigning for leadership")
        do {
            while true {
                let event: LeaderElectionMachine.Event
                switch action {
                case .wait(let delay):
                    // Followers poll with jitter so that they do not all write at once.
                    let jittered = machine.isLeader ? delay : delay * Double.random(in: 1...1.2)
                    try await Task.sleep(for: jittered)
                    event = .waited(at: .now)
                case .read:
                    event = try await attempt(machine.timeLeft(at: .now), timedOut: .readFailed(at: .now)) {
                        do {
                            return .read(try await self.leases.get(self.name), at: .now, wallClock: Date())
                        } catch let error as KubeClientError where error.apiCode == .notFound {
                            return .read(nil, at: .now, wallClock: Date())
                        } catch {
                            try Task.checkCancellation()
                            self.logger.debug("cannot read the lease", metadata: ["error": "\(error)"])
                            return .readFailed(at: .now)
                        }
                    }
                case .create(let lease), .update(let lease):
                    let isCreate = if case .create = action { true } else { false }
                    event = try await attempt(machine.timeLeft(at: .now), timedOut: .writeFailed(at: .now)) {
                        do {
                            let written = isCreate ? try await self.create(lease) : try await self.update(lease)
                            return .written(written, at: .now)
                        } catch let error as KubeClientError where error.apiCode == .conflict || error.apiCode == .alreadyExists {
                            return .writeConflicted(at: .now)
                        } catch {
                            try Task.checkCancellation()
                            self.logger.debug("cannot write the lease", metadata: ["error": "\(error)"])
                            return .writeFailed(at: .now)
                        }
                    }
                }
                let wasLeader = machine.isLeader
                action = machine.on(event)
                if machine.isLeader != wasLeader {
                    logger.info(machine.isLeader ? "became leader" : "stopped leading",
                                metadata: ["lease.holder": "\(machine.observedHolder ?? "")"])
                }
                signal.set(leading: machine.isLeader)
            }
        } catch {
            // Only cancellation ends the loop: every request error became an event.
        }
        return machine
    }

    // Lease writes go through JSON built here rather than `MicroTime`'s encoder, which at
    // this commit drops the last digit of the seconds and the API server refuses the time.
    // The update is a merge patch carrying the resourceVersion read, which the server
    // checks like an update's: a stale version is a conflict.

    private func create(_ lease: Lease) async throws -> Lease {
        var bare = lease
        bare.spec?.acquireTime = nil
        bare.spec?.renewTime = nil
        let created = try await leases.create(bare)
        return try await update(Lease(metadata: created.metadata, spec: lease.spec))
    }

    private func update(_ lease: Lease) async throws -> Lease {
        let spec = lease.spec ?? Lease.Spec()
        var fields: [String: JSONValue] = [
            "holderIdentity": .string(spec.holderIdentity ?? ""),
            "leaseDurationSeconds": .number(JSONNumber(spec.leaseDurationSeconds ?? 0)),
            "leaseTransitions": .number(JSONNumber(spec.leaseTransitions ?? 0)),
        ]
        if let t = spec.acquireTime { fields["acquireTime"] = .string(t.text) }
        if let t = spec.renewTime { fields["renewTime"] = .string(t.text) }
        let body: JSONValue = .object([
            "metadata": .object(["resourceVersion": lease.metadata.resourceVersion.map(JSONValue.string) ?? .null]),
            "spec": .object(fields),
        ])
        return try await leases.patch(name, .merge, body)
    }

    /// Runs one request, giving up when the leader's renew deadline passes (a hung request
    /// must not keep a replica leading past its deadline).
    private func attempt(_ limit: Duration?, timedOut: @autoclosure @Sendable () -> LeaderElectionMachine.Event,
                         _ request: @Sendable @escaping () async throws -> LeaderElectionMachine.Event) async throws -> LeaderElectionMachine.Event {
        guard let limit else { return try await request() }
        return try await withThrowingTaskGroup(of: LeaderElectionMachine.Event?.self) { group in
            group.addTask { try await request() }
            group.addTask {
                try await Task.sleep(for: max(limit, .zero))
                return nil
            }
            defer { group.cancelAll() }
            if let first = try await group.next(), let event = first { return event }
            return timedOut()
        }
    }
}

/// The decisions of leader election, without I/O (STYLE.md habit 11): the elector performs
/// the action returned for each event and reports back what happened.
struct LeaderElectionMachine: Sendable {
    typealias Instant = ContinuousClock.Instant

    struct Configuration: Sendable {
        var identity: String
        var namespace: String
        var name: String
        var leaseDuration: Duration
        var renewDeadline: Duration
        var retryPeriod: Duration
    }

    enum Event: Sendable {
        /// The lease as read; nil when it does not exist.
        case read(Lease?, at: Instant, wallClock: Date)
        case readFailed(at: Instant)
        /// A create or update succeeded: this replica holds the lease.
        case written(Lease, at: Instant)
        /// Someone else wrote first (update conflict, or create found it existing).
        case writeConflicted(at: Instant)
        case writeFailed(at: Instant)
        case waited(at: Instant)
    }

    enum Action: Sendable, Equatable {
        case read
        case create(Lease)
        case update(Lease)
        case wait(Duration)

        static func == (a: Action, b: Action) -> Bool {
            switch (a, b) {
            case (.read, .read): true
            case (.create(let x), .create(let y)), (.update(let x), .update(let y)): x.metadata == y.metadata && x.spec == y.spec
            case (.wait(let x), .wait(let y)): x == y
            default: false
            }
        }
    }

    let configuration: Configuration
    /// The lease as last read or written (its resourceVersion guards the next write).
    private(set) var observed: Lease?
    /// When the lease's spec last changed as seen from here: the start of its validity.
    private(set) var observedAt: Instant?
    /// When this replica last wrote the lease successfully, while it leads.
    private(set) var renewedAt: Instant?
    /// The Lease's wall-clock time to write with the next action.
    private var wallClock = Date()

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    var isLeader: Bool { renewedAt != nil }
    var observedHolder: String? { observed?.spec?.holderIdentity }

    /// While leading, how long until the renew deadline; nil for followers (no deadline).
    func timeLeft(at now: Instant) -> Duration? {
        renewedAt.map { $0 + configuration.renewDeadline - now }
    }

    mutating func on(_ event: Event) -> Action {
        switch event {
        case .read(let lease, let now, let wall):
            wallClock = wall
            guard let lease else {
                stepDownIfOverdue(now)
                return .create(newLease(from: nil))
            }
            if lease.spec != observed?.spec { observedAt = now }
            observed = lease
            let holder = lease.spec?.holderIdentity ?? ""
            if !holder.isEmpty, holder != configuration.identity, isValid(at: now) {
                // Someone else holds a live lease; if we thought we led, we no longer do.
                renewedAt = nil
                return .wait(configuration.retryPeriod)
            }
            stepDownIfOverdue(now)
            return .update(newLease(from: lease))

        case .written(let lease, let now):
            observed = lease
            observedAt = now
            renewedAt = now
            return .wait(configuration.retryPeriod)

        case .readFailed(let now), .writeConflicted(let now), .writeFailed(let now):
            stepDownIfOverdue(now)
            return .wait(configuration.retryPeriod)

        case .waited(let now):
            stepDownIfOverdue(now)
            return .read
        }
    }

    /// The write that gives the lease up, if this replica holds it; steps down either way.
    mutating func release(now: Date) -> Lease? {
        renewedAt = nil
        guard var lease = observed, lease.spec?.holderIdentity == configuration.identity else { return nil }
        var spec = Lease.Spec()
        spec.holderIdentity = ""
        spec.leaseDurationSeconds = 1
        spec.acquireTime = MicroTime(now)
        spec.renewTime = MicroTime(now)
        spec.leaseTransitions = lease.spec?.leaseTransitions
        lease.spec = spec
        return lease
    }

    /// Whether the observed lease is still valid: seen changed within its duration.
    private func isValid(at now: Instant) -> Bool {
        guard let observedAt else { return false }
        let seconds = observed?.spec?.leaseDurationSeconds ?? 0
        let duration = seconds > 0 ? Duration.seconds(seconds) : configuration.leaseDuration
        return observedAt + duration > now
    }

    private mutating func stepDownIfOverdue(_ now: Instant) {
        if let renewedAt, now - renewedAt >= configuration.renewDeadline { self.renewedAt = nil }
    }

    /// The lease naming this replica holder, renewed now; a takeover restarts `acquireTime`
    /// and counts a transition.
    private func newLease(from current: Lease?) -> Lease {
        var lease = current ?? Lease(metadata: ObjectMeta(name: configuration.name, namespace: configuration.namespace))
        let old = current?.spec
        var spec = Lease.Spec()
        spec.holderIdentity = configuration.identity
        spec.leaseDurationSeconds = Int((configuration.leaseDuration / .seconds(1)).rounded(.up))
        spec.renewTime = MicroTime(wallClock)
        if let old, old.holderIdentity == configuration.identity {
            spec.acquireTime = old.acquireTime ?? MicroTime(wallClock)
            spec.leaseTransitions = old.leaseTransitions ?? 0
        } else {
            spec.acquireTime = MicroTime(wallClock)
            spec.leaseTransitions = current == nil ? 0 : (old?.leaseTransitions ?? 0) + 1
        }
        lease.spec = spec
        return lease
    }
}

/// Leadership as the elector publishes it, for tasks waiting on a change.
final class LeadershipSignal: Sendable {
    private struct State {
        var leading = false
        /// Counts terms, so a waiter can tell a new term from the one it started in.
        var term: UInt64 = 0
        var stopped = false
    }

    private let state = Latch(State())

    var isLeading: Bool { state.value.leading }

    func set(leading: Bool) {
        state.withLock { s in
            guard s.leading != leading else { return }
            s.leading = leading
            if leading { s.term += 1 }
        }
    }

    /// The elector has stopped: nobody leads through it any more.
    func stop() {
        state.withLock { s in
            s.leading = false
            s.stopped = true
        }
    }

    /// The term once this replica leads; nil once the elector has stopped.
    func waitToLead() async throws -> UInt64? {
        try await state.wait { s -> UInt64?? in
            if s.stopped { return .some(nil) }
            return s.leading ? .some(s.term) : nil
        }
    }

    func waitForLoss(of term: UInt64) async throws {
        try await state.wait { s in (s.stopped || !s.leading || s.term != term) ? () : nil }
    }
}
