import Foundation
import KubeClient
import KubeModel
import KubeTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import KubeRuntime

/// A client of the shared test cluster and a fresh namespace, for the leader election,
/// event and finalizer tests.
struct RuntimeTestCluster {
    let env: TestEnvironment
    let client: KubeClient
    let namespace: String

    init(_ prefix: String) async throws {
        env = try TestEnvironment.shared()
        client = KubeClient(connection: try KubeConfig.load(path: env.kubeconfig).connection())
        namespace = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        _ = try await client.resource(Namespace.self).create(Namespace(name: namespace))
    }

    func resource<R: KubeResource>(_ type: R.Type) -> ResourceClient<R> { client.resource(type, namespace: namespace) }
}

/// A count shared between a test and the tasks it starts.
final class RuntimeTestTally: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

@Suite struct LeaderElectionMachineTests {
    typealias M = LeaderElectionMachine
    let config = M.Configuration(identity: "me", namespace: "ns", name: "lock", leaseDuration: .seconds(15), renewDeadline: .seconds(10), retryPeriod: .seconds(2))
    let t0 = ContinuousClock.now
    let wall = Date(timeIntervalSince1970: 1_700_000_000)

    func lease(holder: String?, duration: Int = 15, transitions: Int = 0, renew: TimeInterval = 0, version: String = "1") -> Lease {
        var l = Lease(metadata: ObjectMeta(name: "lock", namespace: "ns"))
        l.metadata.resourceVersion = version
        var spec = Lease.Spec()
        spec.holderIdentity = holder
        spec.leaseDurationSeconds = duration
        spec.renewTime = MicroTime(wall.addingTimeInterval(renew))
        spec.acquireTime = MicroTime(wall)
        spec.leaseTransitions = transitions
        l.spec = spec
        return l
    }

    func written(_ action: M.Action) -> Lease {
        switch action {
        case .create(let l), .update(let l): l
        default: Lease(metadata: ObjectMeta())
        }
    }

    @Test func createsAMissingLease() {
        var m = M(config)
        let action = m.on(.read(nil, at: t0, wallClock: wall))
        guard case .create(let l) = action else { Issue.record("expected create, got \(action)"); return }
        #expect(l.metadata.name == "lock" && l.metadata.namespace == "ns")
        #expect(l.spec?.holderIdentity == "me")
        #expect(l.spec?.leaseDurationSeconds == 15)
        #expect(l.spec?.leaseTransitions == 0)
        #expect(l.spec?.renewTime == MicroTime(wall))
        #expect(!m.isLeader, "not leading before the write succeeds")
        #expect(m.on(.written(l, at: t0)) == .wait(.seconds(2)))
        #expect(m.isLeader)
    }

    @Test func waitsOutAnotherHoldersLeaseByLocalObservationTime() {
        var m = M(config)
        // The holder's renewTime is a year old by our clock: irrelevant, only what we see counts.
        let held = lease(holder: "other", renew: -365 * 86400)
        #expect(m.on(.read(held, at: t0, wallClock: wall)) == .wait(.seconds(2)))
        #expect(m.on(.waited(at: t0 + .seconds(2))) == .read)
        #expect(m.on(.read(held, at: t0 + .seconds(14), wallClock: wall)) == .wait(.seconds(2)), "unchanged for 14 s of 15: still valid")
        let action = m.on(.read(held, at: t0 + .seconds(15), wallClock: wall.addingTimeInterval(15)))
        guard case .update(let l) = action else { Issue.record("expected takeover, got \(action)"); return }
        #expect(l.spec?.holderIdentity == "me")
        #expect(l.spec?.leaseTransitions == 1)
        #expect(l.spec?.acquireTime == MicroTime(wall.addingTimeInterval(15)))
        #expect(l.metadata.resourceVersion == "1", "the write is guarded by the version read")
    }

    @Test func aRenewingHolderStaysValid() {
        var m = M(config)
        for i in 0..<20 {
            // Each read shows a new renewTime: the 15 s start again from each observation.
            let action = m.on(.read(lease(holder: "other", renew: Double(i) * 2, version: "\(i)"), at: t0 + .seconds(2 * i), wallClock: wall))
            #expect(action == .wait(.seconds(2)))
        }
        #expect(!m.isLeader)
    }

    @Test func usesTheLeasesOwnDuration() {
        var m = M(config)
        let short = lease(holder: "other", duration: 1)
        #expect(m.on(.read(short, at: t0, wallClock: wall)) == .wait(.seconds(2)))
        guard case .update = m.on(.read(short, at: t0 + .seconds(1), wallClock: wall)) else {
            Issue.record("a 1 s lease seen unchanged for 1 s is expired"); return
        }
    }

    @Test func takesAReleasedLeaseAtOnce() {
        var m = M(config)
        let released = lease(holder: "", duration: 1, transitions: 3)
        let action = m.on(.read(released, at: t0, wallClock: wall))
        guard case .update(let l) = action else { Issue.record("expected takeover, got \(action)"); return }
        #expect(l.spec?.leaseTransitions == 4)
    }

    @Test func renewKeepsAcquireTimeAndTransitions() {
        var m = M(config)
        let mine = lease(holder: "me", transitions: 7)
        _ = m.on(.written(mine, at: t0))
        #expect(m.on(.waited(at: t0 + .seconds(2))) == .read)
        let action = m.on(.read(mine, at: t0 + .seconds(2), wallClock: wall.addingTimeInterval(2)))
        let l = written(action)
        #expect(l.spec?.acquireTime == MicroTime(wall))
        #expect(l.spec?.renewTime == MicroTime(wall.addingTimeInterval(2)))
        #expect(l.spec?.leaseTransitions == 7)
        #expect(m.isLeader)
    }

    @Test func conflictMeansSomeoneElseWonAndTheLeaderSeesIt() {
        var m = M(config)
        _ = m.on(.written(lease(holder: "me"), at: t0))
        #expect(m.on(.writeConflicted(at: t0 + .seconds(2))) == .wait(.seconds(2)))
        #expect(m.isLeader, "one conflict within the renew deadline does not end leadership")
        // The next read shows the winner: stop leading at once.
        #expect(m.on(.read(lease(holder: "other", version: "9"), at: t0 + .seconds(4), wallClock: wall)) == .wait(.seconds(2)))
        #expect(!m.isLeader)
    }

    @Test func stepsDownWhenItCannotRenewWithinTheDeadline() {
        var m = M(config)
        _ = m.on(.written(lease(holder: "me"), at: t0))
        #expect(m.timeLeft(at: t0 + .seconds(3)) == .seconds(7))
        _ = m.on(.readFailed(at: t0 + .seconds(4)))
        _ = m.on(.writeFailed(at: t0 + .seconds(8)))
        #expect(m.isLeader)
        _ = m.on(.readFailed(at: t0 + .seconds(10)))
        #expect(!m.isLeader)
        #expect(m.timeLeft(at: t0 + .seconds(10)) == nil, "followers have no deadline")
    }

    @Test func followersNeverBecomeLeaderWithoutAWrite() {
        var m = M(config)
        _ = m.on(.read(nil, at: t0, wallClock: wall))
        _ = m.on(.writeConflicted(at: t0))
        _ = m.on(.waited(at: t0 + .seconds(2)))
        _ = m.on(.readFailed(at: t0 + .seconds(3)))
        #expect(!m.isLeader)
    }

    @Test func releaseClearsTheHolderOnlyIfItHoldsTheLease() {
        var m = M(config)
        _ = m.on(.written(lease(holder: "me", transitions: 2, version: "5"), at: t0))
        let released = m.release(now: wall)
        #expect(released?.spec?.holderIdentity == "")
        #expect(released?.spec?.leaseDurationSeconds == 1)
        #expect(released?.spec?.leaseTransitions == 2)
        #expect(released?.metadata.resourceVersion == "5")
        #expect(!m.isLeader)

        var follower = M(config)
        _ = follower.on(.read(lease(holder: "other"), at: t0, wallClock: wall))
        #expect(follower.release(now: wall) == nil)
    }
}

@Suite(.serialized, .tags(.integration, .timing), .timeLimit(.minutes(15))) struct LeaderElectionTests {
    static let logger = Logger(label: "leader-election-test")

    func elector(_ cluster: RuntimeTestCluster, _ identity: String, release: Bool = true) -> LeaderElector {
        LeaderElector(client: cluster.client, namespace: cluster.namespace, name: "stowage-lock", identity: identity,
                      leaseDuration: .seconds(3), renewDeadline: .seconds(2), retryPeriod: .milliseconds(500),
                      releaseOnShutdown: release, logger: Self.logger)
    }

    func holder(_ cluster: RuntimeTestCluster) async throws -> Lease.Spec? {
        try await cluster.resource(Lease.self).get("stowage-lock").spec
    }

    @Test func onlyOneLeadsAndAKilledLeaderIsReplacedWithinTheLeaseDuration() async throws {
        let cluster = try await RuntimeTestCluster("le-kill")
        let a = elector(cluster, "a"), b = elector(cluster, "b")
        try await withThrowingTaskGroup(of: Void.self) { outer in
            try await withThrowingTaskGroup(of: Void.self) { inner in
                inner.addTask { try await a.run() }
                try await eventually("a leads", timeout: .seconds(5), every: .milliseconds(20)) { a.isLeader }
                outer.addTask { try await b.run() }

                // For 4 s (longer than the lease): never two leaders, and b never takes a
                // lease a keeps renewing.
                let start = ContinuousClock.now
                var samples = 0, wrong = 0
                while ContinuousClock.now - start < .seconds(4) {
                    samples += 1
                    if !a.isLeader || b.isLeader { wrong += 1 }
                    try await Task.sleep(for: .milliseconds(25))
                }
                #expect(wrong == 0, "\(wrong) of \(samples) samples did not show a alone leading")
                #expect(try await holder(cluster)?.holderIdentity == "a")
                // SIGKILL: a's task ends without writing anything.
                inner.cancelAll()
            }
            let killed = ContinuousClock.now
            #expect(!a.isLeader)
            #expect(try await holder(cluster)?.holderIdentity == "a", "a killed leader does not release")

            let handover = try await eventually("b takes over", timeout: .seconds(6), every: .milliseconds(20)) { b.isLeader }
            // b judges expiry from when it last saw a renew (at most ~1.1 s before the kill),
            // so the takeover comes after most of the 3 s lease and within it plus one poll.
            #expect(handover >= .milliseconds(1500), "b took over a lease that had not expired: \(handover)")
            #expect(handover <= .seconds(3) + .milliseconds(600) + .milliseconds(500), "handover took \(handover)")
            _ = killed
            let spec = try await holder(cluster)
            #expect(spec?.holderIdentity == "b")
            #expect(spec?.leaseTransitions == 1)
            #expect(spec?.leaseDurationSeconds == 3)
            outer.cancelAll()
        }
    }

    @Test func aGracefullyStoppedLeaderHandsOverAtOnce() async throws {
        let cluster = try await RuntimeTestCluster("le-term")
        let a = elector(cluster, "a"), b = elector(cluster, "b")
        let groupA = ServiceGroup(services: [a], logger: Self.logger)
        let groupB = ServiceGroup(services: [b], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await groupA.run() }
            try await eventually("a leads", timeout: .seconds(5), every: .milliseconds(20)) { a.isLeader }
            group.addTask { try await groupB.run() }
            try await Task.sleep(for: .seconds(1))
            #expect(a.isLeader && !b.isLeader)

            // SIGTERM: the service group shuts a down gracefully, and a releases the lease.
            await groupA.triggerGracefulShutdown()
            let handover = try await eventually("b takes over", timeout: .seconds(4), every: .milliseconds(20)) { b.isLeader }
            #expect(!a.isLeader)
            // One poll of b (0.5 s, up to 20 % jitter) and a request, not a lease duration.
            #expect(handover < .milliseconds(1200), "handover took \(handover)")
            let spec = try await holder(cluster)
            #expect(spec?.holderIdentity == "b")
            #expect(spec?.leaseTransitions == 1)

            await groupB.triggerGracefulShutdown()
            try await group.waitForAll()
            let released = try await holder(cluster)
            #expect(released?.holderIdentity == "")
            #expect(released?.leaseDurationSeconds == 1)
        }
    }

    @Test func whileLeadingCancelsTheWorkWhenLeadershipIsLost() async throws {
        let cluster = try await RuntimeTestCluster("le-work")
        let a = elector(cluster, "a")
        let starts = RuntimeTestTally(), cancels = RuntimeTestTally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await a.run() }
            group.addTask {
                try await a.whileLeading {
                    starts.add()
                    do {
                        try await Task.sleep(for: .seconds(3600))
                    } catch {
                        cancels.add()
                        throw error
                    }
                }
            }
            try await eventually("the work starts under leadership", timeout: .seconds(5), every: .milliseconds(20)) { starts.value == 1 }

            // Another party takes the lease by force (as a replica on the far side of a
            // partition would once a's renewals stopped reaching the server).
            _ = try await cluster.resource(Lease.self).patch("stowage-lock", .merge, [
                "spec": ["holderIdentity": "intruder", "leaseDurationSeconds": 2, "renewTime": .string(MicroTime(Date()).text)],
            ])
            try await eventually("the work is cancelled", timeout: .seconds(2), every: .milliseconds(20)) { cancels.value == 1 }
            #expect(!a.isLeader)

            // The intruder never renews: after its 2 s a leads again and the work restarts.
            try await eventually("the work restarts", timeout: .seconds(5), every: .milliseconds(20)) { starts.value == 2 }
            #expect(a.isLeader)
            // The intruder wrote no transition of its own; a's takeover from it counts one.
            #expect(try await holder(cluster)?.leaseTransitions == 1)

            group.cancelAll()
            try? await group.waitForAll()
        }
    }

    @Test func whileLeadingReturnsWhenTheElectorStops() async throws {
        let cluster = try await RuntimeTestCluster("le-stop")
        let a = elector(cluster, "a")
        let serviceGroup = ServiceGroup(services: [a], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            try await eventually("a leads", timeout: .seconds(5), every: .milliseconds(20)) { a.isLeader }
            await serviceGroup.triggerGracefulShutdown()
            try await group.waitForAll()
            // Called after the elector stopped: nothing to wait for.
            try await a.whileLeading { Issue.record("ran without leadership") }
        }
    }
}

@Suite struct LeaseTimeTests {
    @Test func microTimeHasSixFractionDigitsAndUTC() {
        #expect(MicroTime(Date(timeIntervalSince1970: 1_700_000_005.25)).text == "2023-11-14T22:13:25.250000Z")
        #expect(MicroTime(Date(timeIntervalSince1970: 1_700_000_000)).text == "2023-11-14T22:13:20.000000Z")
        // Just below a whole second: rounded down, never written as the next second's .000000.
        #expect(MicroTime(Date(timeIntervalSince1970: 1_700_000_000.999_999_6)).text == "2023-11-14T22:13:20.999999Z")
    }

    @Test func microTimeReadsBackWhatItWrites() throws {
        let time = MicroTime(Date(timeIntervalSince1970: 1_700_000_005.123456))
        let decoded = try JSONDecoder().decode(MicroTime.self, from: Data("\"\(time.text)\"".utf8))
        #expect(abs(decoded.date.timeIntervalSince1970 - 1_700_000_005.123456) < 1e-6)
    }
}
