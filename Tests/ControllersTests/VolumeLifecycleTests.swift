import Controllers
import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing

/// The lifecycle rules as a pure function: no API server, no S3.
@Suite struct VolumeLifecycleTests {
    typealias O = VolumeLifecycle.Observation

    /// A volume with a source whose claim exists and whose data was pulled.
    func settled(_ change: (inout O) -> Void = { _ in }) -> VolumeLifecycle.Decision {
        var o = O()
        o.hasSource = true
        o.claimExists = true
        o.pulled = true
        change(&o)
        return VolumeLifecycle.decide(o)
    }

    @Test func aNewVolumeGetsItsClaimThenItsInitialPull() {
        var o = O()
        o.hasSource = true
        #expect(VolumeLifecycle.decide(o) == .init(step: .createClaim, phase: .pending))
        o.claimExists = true
        #expect(VolumeLifecycle.decide(o) == .init(step: .sync(.pull, reason: "initial pull"), phase: .initializing))
        o.runningSync = .pull
        #expect(VolumeLifecycle.decide(o) == .init(step: .waitForSync, phase: .initializing))
    }

    @Test func nothingSyncsIntoAClaimThatIsNotBound() {
        var o = O()
        o.hasSource = true
        o.claimExists = true
        o.claimBindable = false
        #expect(VolumeLifecycle.decide(o) == .init(step: .steady(recheckAfter: .seconds(15)), phase: .pending))
        o.hasSource = false
        #expect(VolumeLifecycle.decide(o).phase == .pending, "nor is it Ready to mount")
        // Bound (or bound by its first consumer): the initial pull starts.
        o.hasSource = true
        o.claimBindable = true
        #expect(VolumeLifecycle.decide(o).step == .sync(.pull, reason: "initial pull"))
    }

    @Test func aVolumeWithoutSourceIsReadyOnceItHasAClaim() {
        var o = O()
        o.claimExists = true
        #expect(VolumeLifecycle.decide(o) == .init(step: .steady(recheckAfter: nil), phase: .ready))
        o.consumers = 1
        #expect(VolumeLifecycle.decide(o).phase == .inUse)
    }

    @Test func theLastConsumerLeavingPushesRWAndRWDButNeverRO() {
        for access in [AccessMode.readWrite, .readWriteDelete] {
            let d = settled { $0.access = access; $0.pendingPush = true }
            #expect(d == .init(step: .sync(.push, reason: "the last consumer left"), phase: .finalizing))
        }
        let ro = settled { $0.access = .readOnly; $0.pendingPush = true }
        #expect(ro.step == .steady(recheckAfter: nil))
        let offOnStop = settled { $0.pendingPush = true; $0.sync(onStop: false) }
        #expect(offOnStop.step == .steady(recheckAfter: nil))
        let inUse = settled { $0.pendingPush = true; $0.consumers = 2 }
        #expect(inUse == .init(step: .steady(recheckAfter: nil), phase: .inUse))
    }

    @Test func aSecretLevelNeverSyncs() {
        let d = settled { $0.syncAllowed = false; $0.pendingPush = true; $0.pulled = false }
        #expect(d.step == .steady(recheckAfter: nil))
    }

    @Test func aSourceChangeRepullsButNeverOverUnpushedWork() {
        let why = "spec.source or spec.access changed since the last pull"
        #expect(settled { $0.sourceChanged = true }.step == .sync(.pull, reason: why))
        #expect(settled { $0.sourceChanged = true; $0.pendingPush = true }.step == .sync(.push, reason: "the last consumer left"))
        // Any other edit leaves the pulled data alone.
        #expect(settled { _ in }.step == .steady(recheckAfter: nil))
    }

    @Test func thePullIdentityCoversTheSourceAndTheAccessModeOnly() throws {
        let source = DataSource(s3: S3Source(endpoint: "https://s3.example", bucket: "b", prefix: "p",
                                             credentialsSecretRef: LocalObjectReference(name: "creds")))
        let base = PullIdentity.of(source: source, access: .readWrite)
        #expect(base == PullIdentity.of(source: source, access: .readWrite))
        #expect(base.count == 16)
        var prefix = source
        prefix.s3?.prefix = "q"
        var secret = source
        secret.s3?.credentialsSecretRef = LocalObjectReference(name: "other")
        // A new pin (`spec.source.version`) is a new pull; an unpinned source keeps the
        // identity it had before the field existed (nil is not encoded).
        var pinned = source
        pinned.version = "latest"
        let others = [PullIdentity.of(source: prefix, access: .readWrite), PullIdentity.of(source: secret, access: .readWrite),
                      PullIdentity.of(source: source, access: .readOnly), PullIdentity.of(source: nil, access: .readWrite),
                      PullIdentity.of(source: pinned, access: .readWrite)]
        #expect(Set(others + [base]).count == 6)
        let (withPin, without) = (String(decoding: try JSONEncoder().encode(pinned), as: UTF8.self), String(decoding: try JSONEncoder().encode(source), as: UTF8.self))
        #expect(withPin.contains("\"version\"") && !without.contains("\"version\""))
    }

    @Test(arguments: [
        ("10Gi", "10Gi", "10Gi", ClaimSizing.fits),
        ("10Gi", "10Gi", nil, .fits),                                    // not bound yet: provisioned at that size
        ("20Gi", "10Gi", "10Gi", .expand(from: "10Gi", to: "20Gi")),
        ("20Gi", "20Gi", "10Gi", .expanding(to: "20Gi", capacity: "10Gi")),
        ("10G", "10Gi", "10Gi", .shrinkRefused(size: "10G", claim: "10Gi")),
        ("10737418240", "10Gi", "10Gi", .fits),                          // the same bytes, spelled otherwise
        ("11Gi", "10Gi", "11Gi", .expand(from: "10Gi", to: "11Gi")),     // the request decides, not a larger capacity
        ("lots", "10Gi", "10Gi", .fits),                                 // invalid: validation reports it
    ] as [(String, String, String?, ClaimSizing)])
    func aClaimOnlyGrows(wanted: String, requested: String, capacity: String?, expected: ClaimSizing) {
        #expect(ClaimSizing.decide(wanted: wanted, requested: requested, capacity: capacity) == expected)
    }

    @Test func aReturningConsumerRefreshesWhenOnStartIsSet() {
        let refresh = settled { $0.consumers = 1; $0.idleSince = Date() }
        #expect(refresh == .init(step: .sync(.pull, reason: "refresh before use (sync.onStart)"), phase: .initializing))
        #expect(settled { $0.consumers = 1; $0.idleSince = Date(); $0.onStart = false }.phase == .inUse)
        #expect(settled { $0.consumers = 1; $0.idleSince = nil }.phase == .inUse)
    }

    @Test func aFailedSyncSticksUntilRequested() {
        let failed = settled { $0.pendingPush = true; $0.lastSyncFailed = true }
        #expect(failed == .init(step: .steady(recheckAfter: nil), phase: .failed))
        let retried = settled { $0.pendingPush = true; $0.lastSyncFailed = true; $0.syncRequested = true }
        #expect(retried.step == .sync(.push, reason: "the last consumer left"))
    }

    @Test func syncNowAndScheduleRunIntermediateSyncs() {
        let push = settled { $0.consumers = 1; $0.syncRequested = true }
        #expect(push == .init(step: .sync(.push, reason: "requested with stowage.io/sync-now"), phase: .inUse))
        let pullRO = settled { $0.access = .readOnly; $0.scheduleDue = true }
        #expect(pullRO.step == .sync(.pull, reason: "scheduled"))
    }

    @Test func evictionNeverDropsUnpushedWork() {
        let now = Date()
        let expired = settled { $0.ttlAfterIdle = .seconds(60); $0.idleSince = now.addingTimeInterval(-61); $0.now = now }
        #expect(expired.step == .deleteClaim(reason: "idle for longer than cache.ttlAfterIdle"))
        let waiting = settled { $0.ttlAfterIdle = .seconds(60); $0.idleSince = now.addingTimeInterval(-30); $0.now = now }
        #expect(waiting.phase == .idle)
        if case .steady(let after?) = waiting.step { #expect(after > .seconds(29) && after <= .seconds(31)) } else { Issue.record("\(waiting)") }
        let unpushed = settled { $0.ttlAfterIdle = .seconds(60); $0.idleSince = now.addingTimeInterval(-61); $0.now = now; $0.pendingPush = true; $0.lastSyncFailed = true }
        #expect(unpushed.step == .steady(recheckAfter: nil))
        let noRetain = settled { $0.retain = false; $0.idleSince = now }
        #expect(noRetain.step == .deleteClaim(reason: "cache.retain is false and the final sync succeeded"))
        // Evicted: the claim comes back only for a consumer.
        let evicted = settled { $0.claimExists = false; $0.pulled = false; $0.idleSince = now }
        #expect(evicted == .init(step: .steady(recheckAfter: nil), phase: .idle))
        #expect(settled { $0.claimExists = false; $0.pulled = false; $0.idleSince = now; $0.consumers = 1 }.step == .createClaim)
    }

    @Test func deletionWaitsForConsumersThenForTheFinalSync() {
        #expect(settled { $0.deleting = true; $0.consumers = 1; $0.pendingPush = true } == .init(step: .waitForConsumers, phase: .terminating))
        #expect(settled { $0.deleting = true; $0.pendingPush = true }.step == .sync(.push, reason: "final sync before deletion"))
        #expect(settled { $0.deleting = true; $0.runningSync = .push }.step == .waitForSync)
        #expect(settled { $0.deleting = true }.step == .finish)
        // A failed final push keeps the volume until the user acts.
        #expect(settled { $0.deleting = true; $0.pendingPush = true; $0.lastSyncFailed = true }.step == .steady(recheckAfter: nil))
        #expect(settled { $0.deleting = true; $0.pendingPush = true; $0.access = .readOnly }.step == .finish)
    }
}

extension VolumeLifecycle.Observation {
    mutating func sync(onStop: Bool) { self.onStop = onStop }
}

/// Sync Jobs: what the pod runs and the security it runs with.
@Suite struct SyncJobTests {
    func request(access: AccessMode = .readWriteDelete, direction: SyncDirection = .push) -> SyncJobRequest {
        SyncJobRequest(
            name: "stowage-dv-home-push-0123abcd", number: 3, namespace: "ns",
            owner: OwnerReference(apiVersion: "stowage.io/v1alpha1", kind: "DataVolume", name: "home", uid: "u1"),
            labels: ["stowage.io/datavolume": "home"], claimName: "dv-home", direction: direction, access: access,
            source: S3Source(endpoint: "https://s3.example.org", bucket: "homes", prefix: "/users/alice/",
                             credentialsSecretRef: LocalObjectReference(name: "creds"),
                             caBundleSecretRef: SecretKeySelector(name: "ca", key: "ca.crt")),
            sync: SyncPolicy(maxDeletes: 7, verify: .checksum, runAsUser: 1234),
            generation: 5, reason: "test")
    }

    @Test func theCommandLineFollowsTheSpec() throws {
        let job = SyncJob.build(request(), settings: SyncPodSettings())
        let container = try #require(job.spec?.template.spec.containers.first)
        #expect(container.command == ["stowage"])
        #expect(container.args == ["sync", "push", "s3://homes/users/alice", "/data", "--mode", "RWD",
                                   "--endpoint", "https://s3.example.org", "--region", "us-east-1",
                                   "--ca-bundle", "/etc/stowage/ca/ca.crt", "--checksum", "--max-deletes", "7",
                                   "--progress-interval", "15", "--summary-file", "/dev/termination-log", "--sequence", "3",
                                   "--volume", "datavolume/ns/home"])
        #expect(container.args == SyncJob.arguments(request(), settings: SyncPodSettings()).commandLine)
        // An RW volume's pull keeps local work; an RO pull mirrors.
        let pull = SyncJob.arguments(request(access: .readWriteDelete, direction: .pull), settings: SyncPodSettings())
        #expect(pull.mode == .readWrite && pull.maxDeletes == nil)
        #expect(SyncJob.arguments(request(access: .readOnly, direction: .pull), settings: SyncPodSettings()).mode == .readOnly)
        // Only a push leaves a version, which names the volume that pushed it.
        #expect(pull.volume == nil)
        #expect(job.metadata.annotations?[SyncJob.generationAnnotation] == "5")
        #expect(job.metadata.labels?[StowageKeys.syncDirection] == "push")
        #expect(SyncJob.number(job) == 3)
    }

    /// The part checksum is passed on only when the source sets one (crc32c is the default).
    @Test func aSourcesPartChecksumReachesTheCommandLine() throws {
        var md5 = request()
        md5.source?.partChecksum = .md5
        #expect(SyncJob.arguments(md5, settings: SyncPodSettings()).partChecksum == .md5)
        #expect(SyncJob.arguments(request(), settings: SyncPodSettings()).partChecksum == .crc32c)
        #expect(SyncJob.build(request(), settings: SyncPodSettings()).spec?.template.spec.containers.first?.args?.contains("--part-checksum") == false)
    }

    /// `spec.source.version` reaches pulls only, `spec.sync.keepVersions` pushes only.
    @Test func aPinnedVersionAndKeepVersionsReachTheCommandLine() throws {
        func arguments(_ request: SyncJobRequest) -> SyncArguments { SyncJob.arguments(request, settings: SyncPodSettings()) }
        let id = String(repeating: "0f", count: 32)
        var pull = request(access: .readOnly, direction: .pull)
        pull.version = id
        pull.sync.keepVersions = true
        #expect(arguments(pull).version == id && !arguments(pull).keepVersions)
        var push = request()
        push.version = id
        push.sync.keepVersions = true
        #expect(arguments(push).keepVersions && arguments(push).version == nil)
        #expect(!arguments(request()).keepVersions && arguments(request(access: .readOnly, direction: .pull)).version == nil)
    }

    @Test func aFinishedJobYieldsTheRecordItsPodLeft() throws {
        var job = SyncJob.build(request(), settings: SyncPodSettings())
        #expect(SyncJobState.observe(job, pods: []) == .running(.push))
        job.status = try JSONValue.object(["conditions": [["type": "Failed", "status": "True", "message": "BackoffLimitExceeded"]]]).decode(as: Job.Status.self)
        var pod = Pod(metadata: ObjectMeta(name: "p"), spec: PodSpec(containers: []))
        pod.status = PodStatus(phase: "Failed")
        pod.status?.containerStatuses = [["state": ["terminated": ["exitCode": 3, "message": #"{"direction":"push","result":"Failed","message":"refused: 9 deletions exceed --max-deletes 7"}"#]]]]
        guard case .finished(let record, let exitCode) = SyncJobState.observe(job, pods: [pod]) else {
            Issue.record("not finished")
            return
        }
        #expect(exitCode == 3)
        #expect(record.result == .failed)
        #expect(record.message?.contains("max-deletes") == true)
        // An older pod's record has no reason: its exit code gives it.
        #expect(record.reason == SyncExitCode.guardRefused.reason)
    }

    @Test func aSyncPodThatCannotStartOrDiesWithoutARecordFailsWithItsReason() throws {
        var job = SyncJob.build(request(), settings: SyncPodSettings())
        var pod = Pod(metadata: ObjectMeta(name: "p"), spec: PodSpec(containers: []))
        pod.status = PodStatus(phase: "Pending")
        // The first pull attempt may be a hiccup; the back-off after it is not.
        pod.status?.containerStatuses = [["state": ["waiting": ["reason": "ErrImagePull", "message": "not found"]]]]
        #expect(SyncJobState.observe(job, pods: [pod]) == .running(.push))
        pod.status?.containerStatuses = [["state": ["waiting": ["reason": "ImagePullBackOff", "message": #"Back-off pulling image "stowage:nope""#]]]]
        guard case .finished(let stuck, nil) = SyncJobState.observe(job, pods: [pod]) else {
            Issue.record("a sync pod that cannot pull its image must fail the sync")
            return
        }
        #expect(stuck.result == .failed && stuck.message == #"ImagePullBackOff: Back-off pulling image "stowage:nope""#)
        #expect(stuck.reason == "ImagePullBackOff")

        // Killed for memory: no termination message, the kernel's reason instead.
        job.status = try JSONValue.object(["conditions": [["type": "Failed", "status": "True", "message": "Job has reached the specified backoff limit"]]]).decode(as: Job.Status.self)
        pod.status = PodStatus(phase: "Failed")
        pod.status?.containerStatuses = [["state": ["terminated": ["exitCode": 137, "reason": "OOMKilled"]]]]
        guard case .finished(let oom, 137) = SyncJobState.observe(job, pods: [pod]) else {
            Issue.record("not finished")
            return
        }
        #expect(oom.message == "sync container OOMKilled (exit 137); Job has reached the specified backoff limit")
        #expect(oom.reason == "OOMKilled")
    }
}
