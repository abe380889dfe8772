import Controllers
import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing

/// The bookkeeping a reconcile pass keeps in status (idle time, owed push, eviction, the
/// schedule, sync requests, finished syncs, stale Jobs), as pure functions: no API server.
@Suite struct VolumeBookkeepingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// A volume with a source, its claim bound and its data pulled, as a pass sees it.
    func seen(_ change: (inout VolumeLifecycle.Seen) -> Void = { _ in }) -> VolumeLifecycle.Seen {
        var seen = VolumeLifecycle.Seen()
        seen.facts.hasSource = true
        seen.facts.claimExists = true
        seen.claimMissing = false
        seen.claimRecorded = true
        seen.pullIdentity = "src-1"
        seen.now = t0
        change(&seen)
        return seen
    }

    func pulled(_ change: (inout VolumeStatus) -> Void = { _ in }) -> VolumeStatus {
        var status = VolumeStatus(claimName: "dv-x", observedGeneration: 1)
        status.pulledGeneration = 1
        status.pulledSource = "src-1"
        status.syncCount = 1
        status.lastSync = SyncRecord(direction: .pull, result: .succeeded)
        change(&status)
        return status
    }

    @Test func aConsumerOwesAPushOnceThePullIsDoneAndItsLeavingStartsIdleness() {
        var status = pulled()
        var plan = VolumeLifecycle.plan(seen { $0.consumers = ["ns/nb"] }, status: &status)
        #expect(plan.decision.step == .steady(recheckAfter: nil))
        #expect(status.pendingPush == true)
        #expect(status.consumers == ["ns/nb"])
        #expect(status.phase == .inUse && status.idleSince == nil)

        // The notebook leaves: idle from now, and the owed push starts.
        plan = VolumeLifecycle.plan(seen(), status: &status)
        #expect(status.idleSince == t0)
        #expect(status.consumers == nil)
        #expect(plan.decision == .init(step: .sync(.push, reason: "the last consumer left"), phase: .finalizing))
    }

    @Test func nothingIsOwedBeforeTheFirstPullNorByReadOnlyVolumesNorWhilePulling() {
        // The pod that made a new home mounts it before its first pull.
        var fresh = VolumeStatus()
        let first = VolumeLifecycle.plan(seen { $0.consumers = ["ns/nb"]; $0.claimRecorded = false }, status: &fresh)
        #expect(first.decision.step == .sync(.pull, reason: "initial pull") && first.pulling)
        #expect(fresh.pendingPush == nil)

        var ro = pulled()
        _ = VolumeLifecycle.plan(seen { $0.consumers = ["ns/nb"]; $0.facts.access = .readOnly }, status: &ro)
        #expect(ro.pendingPush == nil)

        // Refreshed on start (idle, sync.onStart): the refresh pull runs first, owing nothing.
        var idle = pulled { $0.idleSince = self.t0.addingTimeInterval(-60) }
        let refresh = VolumeLifecycle.plan(seen { $0.consumers = ["ns/nb"] }, status: &idle)
        #expect(refresh.decision.step == .sync(.pull, reason: "refresh before use (sync.onStart)"))
        #expect(idle.pendingPush == nil)
        #expect(idle.idleSince != nil, "the refresh pull ends idleness when it succeeds")
    }

    @Test func aConsumerEndsIdlenessAtOnceWhenNothingRefreshesOnStart() {
        var status = pulled { $0.idleSince = self.t0.addingTimeInterval(-60) }
        _ = VolumeLifecycle.plan(seen { $0.consumers = ["ns/nb"]; $0.facts.onStart = false }, status: &status)
        #expect(status.idleSince == nil)
    }

    @Test func aVanishedClaimTakesItsDataWithIt() {
        var status = pulled()
        let plan = VolumeLifecycle.plan(seen { $0.facts.claimExists = false; $0.claimMissing = true }, status: &status)
        #expect(status.pulledGeneration == nil && status.pulledSource == nil)
        #expect(plan.decision.step == .createClaim)
        // A claim being deleted is not missing yet: what it holds is not forgotten.
        var deleting = pulled()
        _ = VolumeLifecycle.plan(seen { $0.facts.claimExists = false; $0.claimMissing = false }, status: &deleting)
        #expect(deleting.pulledGeneration == 1)
    }

    @Test func theScheduleIsSetMovesOnOnlyOnceItsSyncStartsAndGoesWithTheSchedule() throws {
        let hourly = try CronSchedule(parsing: "0 * * * *")
        var status = pulled()
        var plan = VolumeLifecycle.plan(seen { $0.schedule = hourly }, status: &status)
        let next = try #require(status.nextScheduledSync)
        #expect(next > t0 && next <= t0.addingTimeInterval(3600))
        #expect(plan.decision.step == .steady(recheckAfter: nil))
        #expect(plan.onceStarted == .init())

        // Due: a sync starts, and the schedule moves on only when the step is done.
        plan = VolumeLifecycle.plan(seen { $0.schedule = hourly; $0.now = next }, status: &status)
        #expect(plan.decision.step == .sync(.pull, reason: "scheduled"))
        #expect(status.nextScheduledSync == next, "not moved before the sync starts")
        #expect(plan.onceStarted.advancesSchedule)
        plan.onceStarted.apply(to: &status)
        #expect(try #require(status.nextScheduledSync) > next)

        _ = VolumeLifecycle.plan(seen(), status: &status)
        #expect(status.nextScheduledSync == nil, "no schedule, no next time")
    }

    @Test func aSyncRequestIsHandledOnceItsSyncStarts() {
        var status = pulled()
        let plan = VolumeLifecycle.plan(seen { $0.syncRequest = "now-1" }, status: &status)
        #expect(plan.decision.step == .sync(.pull, reason: "requested with stowage.io/sync-now"))
        #expect(status.syncRequest == nil)
        var started = status
        plan.onceStarted.apply(to: &started)
        #expect(started.syncRequest == "now-1")
        // Handled: the same value asks for nothing more.
        let again = VolumeLifecycle.plan(seen { $0.syncRequest = "now-1" }, status: &started)
        #expect(again.decision.step == .steady(recheckAfter: nil))
    }

    @Test func theEditsThatRePullAreTheSourceAndTheAccessOnly() {
        var same = pulled()
        #expect(VolumeLifecycle.plan(seen { $0.generation = 2 }, status: &same).decision.step == .steady(recheckAfter: nil),
                "a new generation with the same pull identity (spec.size, spec.mount) pulls nothing")
        var changed = pulled()
        #expect(VolumeLifecycle.plan(seen { $0.pullIdentity = "src-2" }, status: &changed).decision.step
            == .sync(.pull, reason: "spec.source or spec.access changed since the last pull"))
        // A status from before pull identities compares generations, once.
        var old = pulled { $0.pulledSource = nil }
        #expect(VolumeLifecycle.plan(seen { $0.generation = 2 }, status: &old).decision.step
            == .sync(.pull, reason: "spec.source or spec.access changed since the last pull"))
    }

    @Test func aFinishedPullRecordsWhatTheClaimHolds() {
        var status = VolumeStatus()
        status.idleSince = t0
        var finished = VolumeLifecycle.Finished(record: SyncRecord(direction: .pull, result: .succeeded, files: 3, bytes: 30, deleted: 0),
                                                exitCode: 0, number: 4)
        finished.generation = 7
        finished.pullIdentity = "src-9"
        let notes = VolumeLifecycle.record(finished, consumers: 0, status: &status)
        #expect(status.syncCount == 4 && status.pulledGeneration == 7 && status.pulledSource == "src-9")
        #expect(status.idleSince == nil && status.warning == nil)
        #expect(notes == [.init(warning: false, reason: ConditionReason.syncSucceeded, message: "pull succeeded: 3 files, 30 bytes, 0 deleted")])

        var changed = finished
        changed.record.changedInputs = [ChangedInput(path: "a.csv", previousSHA256: "11", sha256: "22")]
        let warned = VolumeLifecycle.record(changed, consumers: 0, status: &status)
        #expect(status.warning != nil)
        #expect(warned.first == .init(warning: true, reason: ConditionReason.inputsChanged, message: status.warning ?? ""))
    }

    @Test func aPushClearsWhatIsOwedOnlyWhenNobodyUsesTheVolume() {
        let push = VolumeLifecycle.Finished(record: SyncRecord(direction: .push, result: .succeeded), exitCode: 0, number: 2)
        var inUse = pulled { $0.pendingPush = true }
        _ = VolumeLifecycle.record(push, consumers: 1, status: &inUse)
        #expect(inUse.pendingPush == true)
        var left = pulled { $0.pendingPush = true }
        _ = VolumeLifecycle.record(push, consumers: 0, status: &left)
        #expect(left.pendingPush == nil)
    }

    @Test func aGuardRefusalIsNamedInTheRecordAndTheEvent() {
        var status = pulled { $0.pendingPush = true }
        let refused = VolumeLifecycle.Finished(record: SyncRecord(direction: .push, result: .failed, message: "would delete 900 objects",
                                                                  reason: SyncExitCode.guardRefused.reason),
                                               exitCode: Int(SyncExitCode.guardRefused.rawValue), number: 2)
        let notes = VolumeLifecycle.record(refused, consumers: 0, status: &status)
        #expect(status.lastSync?.reason == ConditionReason.deleteGuard)
        #expect(status.lastSync?.message == "would delete 900 objects")
        #expect(status.pendingPush == true, "the work is still owed")
        #expect(notes == [.init(warning: true, reason: ConditionReason.deleteGuard, message: "push failed (exit 3): would delete 900 objects")])
        // Any other failure is a plain SyncFailed.
        let other = VolumeLifecycle.Finished(record: SyncRecord(direction: .push, result: .failed, message: "no such bucket",
                                                                reason: SyncExitCode.noSuchBucket.reason),
                                             exitCode: Int(SyncExitCode.noSuchBucket.rawValue), number: 2)
        #expect(VolumeLifecycle.record(other, consumers: 0, status: &status).map(\.reason) == [ConditionReason.syncFailed])
        // Numbered by the status when the Job has no number.
        let unnumbered = VolumeLifecycle.Finished(record: SyncRecord(direction: .pull, result: .failed), exitCode: 1, number: nil)
        _ = VolumeLifecycle.record(unnumbered, consumers: 0, status: &status)
        #expect(status.syncCount == 3)
    }

    @Test func staleJobsAreSortedOutFromTheCurrentOneAndTheLastRecorded() {
        func job(_ name: String, _ number: Int?) -> Job {
            Job(metadata: ObjectMeta(name: name, annotations: number.map { [SyncJob.numberAnnotation: String($0)] }),
                spec: Job.Spec(template: .init(spec: PodSpec(containers: []))))
        }
        let jobs = [job("j3", 3), job("j1", 1), job("j2", 2), job("stray", nil)]
        let (current, stale) = SyncJob.sortOut(jobs, recorded: 1)
        #expect(current?.metadata.name == "j3")
        #expect(stale.map(\.metadata.name) == ["j2", "stray"], "the last recorded (1) stays for kubectl logs")
        let recorded = SyncJob.sortOut(jobs, recorded: 3)
        #expect(recorded.current == nil)
        #expect(recorded.stale.map(\.metadata.name) == ["j1", "j2", "stray"])
    }
}
