import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI
import SyncContract

/// Reconciles DataVolumes or SharedVolumes: the claim, the init, intermediate and final
/// sync Jobs, consumers, phases and conditions, and the finalizer that completes a pending
/// final sync before deletion (DESIGN.md's lifecycle).
///
/// Each pass reads the world from the caches (the volume, its claim, its Jobs and the pods
/// that mount the claim), records a finished Job, asks `VolumeLifecycle` what comes next,
/// does that one step, and writes status once. It never waits inside a pass: a running
/// Job or a consumer leaving wakes the controller through the watches.
public final class VolumeReconciler<V: ManagedVolume>: Sendable {
    public let controller: Controller<V>
    let client: KubeClient
    let claims: Store<PersistentVolumeClaim>
    let jobs: Store<Job>
    let pods: Store<Pod>
    let events: EventRecorder
    let settings: SyncPodSettings
    let config: ConfigHolder
    /// Per-volume sync series; nil without a registry.
    let volumeMetrics: VolumeMetrics?
    /// Tells waiting notebooks' users how their volumes stand; shared by the reconcilers.
    let spawnProgress: SpawnProgress?
    let logger: Logger

    static var claimIndex: String { "claim" }
    static var jobIndex: String { "job-name" }

    public init(client: KubeClient, namespace: String?, settings: SyncPodSettings, config: ConfigHolder,
                events: EventRecorder, metrics: MetricsRegistry?, spawnProgress: SpawnProgress? = nil, logger: Logger, workers: Int = 4,
                cacheSyncTimeout: Duration = .seconds(120), caches: SharedCaches? = nil) {
        self.client = client
        self.spawnProgress = spawnProgress
        self.settings = settings
        self.config = config
        self.events = events
        self.logger = logger
        volumeMetrics = metrics.map { VolumeMetrics(registry: $0, kind: V.kind) }
        // `reconcile` is bound after every stored property is set.
        let box = ReconcilerBox<V>()
        controller = Controller<V>(name: V.plural, client: client, namespace: namespace, workers: workers,
                                   metrics: metrics, cacheSyncTimeout: cacheSyncTimeout, caches: caches, logger: logger) { volume in try await box.reconcile(volume) }
        let ownerLabel = V.ownerLabel
        // Children and pods are only read, created, patched or deleted, never updated from
        // the cache: their caches need not keep the JSON they were read as.
        let claims = controller.owns(PersistentVolumeClaim.self, labelSelector: ownerLabel, keepsOriginal: false)
        self.claims = claims
        jobs = controller.owns(Job.self, labelSelector: ownerLabel, keepsOriginal: false)
        // Pods map to the volume whose claim they mount: consumers and sync pods alike. With
        // shared caches, both reconcilers and the homes controller read one pod cache.
        pods = controller.watches(Pod.self, indexes: [
            Self.claimIndex: { pod in
                (pod.spec?.volumes ?? []).compactMap { $0.persistentVolumeClaim.map { "\(pod.metadata.namespace ?? "")/\($0.claimName)" } }
            },
            Self.jobIndex: { pod in pod.metadata.labels?["job-name"].map { ["\(pod.metadata.namespace ?? "")/\($0)"] } ?? [] },
        ], keepsOriginal: false) { pod in
            let ns = pod.metadata.namespace ?? ""
            return (pod.spec?.volumes ?? []).flatMap { volume -> [String] in
                guard let claim = volume.persistentVolumeClaim?.claimName else { return [] }
                if let owners = claims.get("\(ns)/\(claim)")?.metadata.ownerReferences {
                    return owners.filter { $0.kind == V.kind }.map { "\(ns)/\($0.name)" }
                }
                // No claim (yet, or evicted): the pod that names it is what brings it back.
                guard let owner = ChildNames.volume(ofClaim: claim), owner.kind == V.childKind else { return [] }
                return ["\(ns)/\(owner.name)"]
            }
        }
        box.reconciler = self
    }

    /// Re-queues every volume (the access-level configuration changed).
    public func requeueAll() async {
        for volume in controller.store.all { await controller.queue.add(volume.key) }
    }

    func reconcile(_ volume: V) async throws -> ReconcileAction {
        let api = client.resource(V.self, namespace: volume.namespace)
        let store = controller.store
        return try await finalizer(api, name: StowageKeys.finalizer, object: volume,
                                   apply: { store.wrote($0); return try await self.pass($0) },
                                   cleanup: { try await self.pass($0) })
    }

    /// One level-based pass. Returns `.done` during deletion only when the volume may go.
    func pass(_ volume: V) async throws -> ReconcileAction {
        var logger = logger
        logger[metadataKey: "\(V.kind.lowercased())"] = "\(volume.key)"
        let deleting = volume.metadata.deletionTimestamp != nil
        var status = volume.status ?? VolumeStatus()
        let before = status
        let generation = volume.metadata.generation ?? 1
        let now = Date()
        status.claimName = volume.claimName

        // Invalid specs stop here (the webhook rejects them earlier where it is installed).
        let errors = volume.validationErrors()
        let share = volume as? SharedVolume
        let level = share.flatMap { config.current.levels[$0.spec.accessLevel] }
        if errors.isEmpty && !deleting {
            status.conditions.set(Condition(type: ConditionType.valid, status: true, reason: ConditionReason.validSpec, observedGeneration: generation))
        } else if !errors.isEmpty {
            let message = errors.joined(separator: "; ")
            status.conditions.set(Condition(type: ConditionType.valid, status: false, reason: ConditionReason.invalidSpec,
                                            message: message, observedGeneration: generation))
            if !deleting {
                status.phase = .failed
                status.observedGeneration = generation
                try await write(volume, status, before: before)
                if before.conditions[type: ConditionType.valid]?.status != "False" {
                    events.post(volume, type: .warning, reason: ConditionReason.invalidSpec, message: message)
                }
                return .done
            }
        }
        if let share {
            if level != nil {
                status.level = share.spec.accessLevel
                status.conditions.set(Condition(type: ConditionType.accessLevelResolved, status: true, reason: "LevelFound",
                                                message: "level \(share.spec.accessLevel)", observedGeneration: generation))
            } else {
                status.conditions.set(Condition(type: ConditionType.accessLevelResolved, status: false, reason: ConditionReason.unknownAccessLevel,
                                                message: "no access level \"\(share.spec.accessLevel)\" in the access-level configuration",
                                                observedGeneration: generation))
            }
        }

        // Observe.
        let claimKey = "\(volume.namespace)/\(volume.claimName)"
        let claim = claims.get(claimKey)
        var binding: ClaimBinding?
        if let claim { binding = await self.binding(of: claim) }
        let consumerPods = pods.byIndex(Self.claimIndex, claimKey)
            .filter { $0.metadata.labels?[StowageKeys.managedBy] == nil && !["Succeeded", "Failed"].contains($0.status?.phase ?? "") }
        let consumers = consumerPods.map(\.key).sorted()
        // Only the operator's own Jobs: anyone may label a Job and point it at the volume, but
        // the validating webhook reserves stowage.io/managed-by to the operator.
        let ownJobs = jobs.byIndex(Store<Job>.ownerIndex, volume.metadata.uid ?? "")
            .filter { $0.metadata.labels?[StowageKeys.managedBy] == StowageKeys.managedByValue }
        let (current, stale) = SyncJob.sortOut(ownJobs, recorded: status.syncCount ?? 0)

        // Record a finished Job, then plan without it.
        var running: SyncDirection?
        var syncPod: Pod?
        var notes: [VolumeLifecycle.Note] = []
        if let job = current {
            // Its pods carry the operator's label too (a pod someone labels job-name=... does not).
            let jobPods = pods.byIndex(Self.jobIndex, "\(volume.namespace)/\(job.metadata.name ?? "")")
                .filter { $0.metadata.labels?[StowageKeys.managedBy] == StowageKeys.managedByValue }
            switch SyncJobState.observe(job, pods: jobPods) {
            case .running(let direction):
                running = direction
                syncPod = jobPods.last { $0.status?.phase == "Running" } ?? jobPods.last
            case .finished(let record, let exitCode):
                let annotations = job.metadata.annotations ?? [:]
                var finished = VolumeLifecycle.Finished(record: record, exitCode: exitCode, number: SyncJob.number(job))
                finished.generation = annotations[SyncJob.generationAnnotation].flatMap { Int64($0) } ?? volume.metadata.generation
                finished.pullIdentity = annotations[SyncJob.pullIdentityAnnotation] ?? volume.pullIdentity
                notes = VolumeLifecycle.record(finished, consumers: consumers.count, status: &status)
                volumeMetrics?.finished(namespace: volume.namespace, name: volume.metadata.name ?? "", status.lastSync ?? record)
            }
        }

        if let claim, claim.metadata.deletionTimestamp == nil, !deleting {
            try await resize(volume, claim: claim, status: &status, before: before, generation: generation)
        }

        var seen = VolumeLifecycle.Seen()
        seen.facts.deleting = deleting
        seen.facts.hasSource = volume.dataSource != nil
        seen.facts.access = volume.accessMode
        seen.facts.syncAllowed = level?.sync ?? true
        seen.facts.onStart = volume.syncPolicy.effectiveOnStart
        seen.facts.onStop = volume.syncPolicy.effectiveOnStop
        seen.facts.retain = volume.cachePolicy.effectiveRetain
        seen.facts.ttlAfterIdle = volume.cachePolicy.ttlAfterIdleDuration
        seen.facts.claimExists = claim != nil && claim?.metadata.deletionTimestamp == nil
        seen.claimMissing = claim == nil
        seen.facts.claimBindable = binding?.bindable ?? true
        seen.claimRecorded = before.claimName != nil
        seen.consumers = consumers
        seen.facts.runningSync = running
        seen.generation = generation
        seen.pullIdentity = volume.pullIdentity
        seen.syncRequest = volume.metadata.annotations?[StowageKeys.syncNow]
        seen.schedule = volume.syncPolicy.cronSchedule
        seen.now = now
        let plan = VolumeLifecycle.plan(seen, status: &status)
        let decision = plan.decision

        // Do the step; whatever happens, write what was observed, and let the step's own
        // error (not a failed status write) decide the retry.
        var action = ReconcileAction.done
        var stepError: (any Error)?
        do {
            // Recorded before the last one, or superseded: clean up. The last recorded Job
            // stays, so `kubectl logs job/NAME` shows how the last sync went.
            for job in stale { try await deleteJob(job) }
            let placement = SyncPlacement.decide(claim: claim, consumers: consumerPods)
            action = try await perform(decision.step, volume: volume, claim: claim, placement: placement, status: &status)
            plan.onceStarted.apply(to: &status)
        } catch {
            stepError = error
        }
        if await reportSpawnProgress(volume, consumers: consumerPods, pulling: plan.pulling, syncPod: running == .pull ? syncPod : nil,
                                     status: status, now: now), action == .done {
            // A pull that pods wait for: look again to tell them how far it is.
            action = .requeue(after: spawnProgress?.interval ?? .seconds(15))
        }
        if let next = status.nextScheduledSync, action == .done {
            action = .requeue(after: .milliseconds(max(1000, Int64(next.timeIntervalSince(now) * 1000))))
        }
        setConditions(&status, decision: decision, claimExists: claim != nil, generation: generation)
        reportBinding(binding ?? .pending(message: "there is no claim \(volume.claimName)"), volume: volume, status: &status,
                      before: before, generation: generation)
        for note in notes { events.post(volume, type: note.warning ? .warning : .normal, reason: note.reason, message: note.message) }
        if let stepError {
            try? await write(volume, status, before: before)
            throw stepError
        }
        if deleting && decision.step == .finish {
            // The finalizer goes next, and the volume with it.
            volumeMetrics?.forget(namespace: volume.namespace, name: volume.metadata.name ?? "")
            return .done
        }
        if deleting {
            // Anything but `.done` keeps the finalizer; Job and pod events wake us first.
            action = .requeue(after: .seconds(300))
        }
        try await write(volume, status, before: before)
        volumeMetrics?.observe(namespace: volume.namespace, name: volume.metadata.name ?? "", status: status, schedule: seen.schedule, now: now)
        if before.phase != status.phase, let phase = status.phase {
            logger.info("phase", metadata: ["from": "\(before.phase?.rawValue ?? "-")", "to": "\(phase.rawValue)"])
        }
        return action
    }

    // MARK: - Steps

    /// Does what the lifecycle decided; returns when to look again.
    func perform(_ step: VolumeLifecycle.Step, volume: V, claim: PersistentVolumeClaim?, placement: SyncPlacement,
                 status: inout VolumeStatus) async throws -> ReconcileAction {
        switch step {
        case .createClaim:
            try await createClaim(volume)
            status.forgetPull()
        case .sync(let direction, let reason):
            guard let source = volume.dataSource, source.s3 != nil || source.http != nil else { break }
            switch placement {
            case .waitForScheduling:
                // The pod that mounts the claim is not on a node yet; its binding wakes us.
                break
            case .anywhere:
                try await startSync(volume, direction: direction, reason: reason, source: source, node: nil, status: &status)
            case .node(let node):
                try await startSync(volume, direction: direction, reason: reason, source: source, node: node, status: &status)
            }
        case .deleteClaim(let reason):
            try await deleteClaim(volume, reason: reason)
            status.forgetPull()
        case .finish:
            try await releaseClaim(volume, claim: claim)
        case .waitForSync, .waitForConsumers:
            break
        case .steady(let recheck):
            if let recheck { return .requeue(after: recheck) }
        }
        return .done
    }

    // MARK: - Spawn progress

    /// Tells each consumer pod that `stowage-wait` holds for this volume how the volume stands
    /// (`SpawnProgress`): an Event on the pod, which KubeSpawner shows on the spawn page.
    /// Returns whether a pull runs that pods wait for (the pass looks again for its progress).
    func reportSpawnProgress(_ volume: V, consumers: [Pod], pulling: Bool, syncPod: Pod?, status: VolumeStatus, now: Date) async -> Bool {
        guard let spawnProgress else { return false }
        let claim = volume.claimName
        // Pods that wait, and pods told they wait that have started since: their wait
        // container released them before this pass saw the pull's Job end (a loaded node), and
        // the end of the report is still owed to them.
        let waiting = consumers.compactMap { pod -> (pod: Pod, awaited: StowageWait.Awaited, volumes: [String], started: Bool)? in
            guard pod.metadata.deletionTimestamp == nil else { return nil }
            let started = pod.status?.phase != "Pending"
            guard !started || spawnProgress.isReporting(pod: pod.key) else { return nil }
            let awaited = StowageWait.awaited(in: pod)
            guard let mine = awaited[claim] else { return nil }
            let names = awaited.keys.sorted().compactMap { ChildNames.volume(ofClaim: $0).map { "\($0.kind.rawValue)/\($0.name)" } }
            return (pod, mine, names, started)
        }
        guard !waiting.isEmpty else { return false }
        let name = "\(V.childKind.rawValue)/\(volume.metadata.name ?? "")"
        var line: SyncProgressLine?
        if let syncPod, let podName = syncPod.metadata.name, spawnProgress.progressDue(volume: volume.key, now: now) {
            let log = try? await client.resource(Pod.self, namespace: volume.namespace).log(podName, container: SyncJob.containerName, tailLines: 20)
            line = log.flatMap(SyncProgressLine.last(inLog:))
        }
        let last = status.lastSync.map { (isPull: $0.direction == .pull && $0.result == .succeeded, sequence: status.syncCount) }
        for w in waiting {
            let state: SpawnProgress.VolumeState
            if w.started || (!pulling && w.awaited.isSatisfied(byLastSync: last)) {
                // A started pod's wait container ended, which it does only once the data is in.
                state = .ready
            } else if status.phase == .failed {
                state = .failed(status.lastSync?.message ?? "kubectl describe \(name) says why")
            } else if pulling {
                state = .pulling(line)
            } else {
                state = .waiting(status.conditions[type: ConditionType.claimBound]?.status == "False" ? "waiting for its claim to bind" : "waiting for its pull to start")
            }
            if let note = spawnProgress.report(volume: name, state, pods: [(w.pod.key, w.volumes)], now: now)[w.pod.key] {
                events.post(w.pod, type: note.warning ? .warning : .normal, reason: note.reason, message: note.message)
            }
        }
        return pulling
    }

    func createClaim(_ volume: V) async throws {
        var metadata = ObjectMeta(name: volume.claimName, namespace: volume.namespace, labels: volume.childLabels)
        metadata.ownerReferences = [OwnerReference(controller: volume)]
        do {
            claims.wrote(try await client.resource(PersistentVolumeClaim.self, namespace: volume.namespace)
                .create(PersistentVolumeClaim(metadata: metadata, spec: volume.claimSpec)))
            events.post(volume, type: .normal, reason: ConditionReason.claimCreated, message: "created claim \(volume.claimName)")
        } catch let error as KubeClientError where error.apiCode == .alreadyExists {
            // A stale cache: the claim is there already.
        }
    }

    func deleteClaim(_ volume: V, reason: String) async throws {
        // The kept last sync Job's pod names the claim, and the claim's protection
        // finalizer waits for every pod that names it: those go first.
        for job in jobs.byIndex(Store<Job>.ownerIndex, volume.metadata.uid ?? "") { try await deleteJob(job) }
        do {
            try await client.resource(PersistentVolumeClaim.self, namespace: volume.namespace).delete(volume.claimName)
            events.post(volume, type: .normal, reason: "ClaimReleased", message: "deleted claim \(volume.claimName): \(reason)")
        } catch let error as KubeClientError where error.apiCode == .notFound {}
    }

    /// On deletion: `Retain` drops the claim's owner reference so garbage collection keeps
    /// it; `Delete` deletes it.
    func releaseClaim(_ volume: V, claim: PersistentVolumeClaim?) async throws {
        guard claim != nil else { return }
        switch volume.reclaimPolicy {
        case .retain:
            do {
                _ = try await client.resource(PersistentVolumeClaim.self, namespace: volume.namespace)
                    .patch(volume.claimName, .merge, ["metadata": ["ownerReferences": nil, "labels": [V.ownerLabel: nil]]])
                events.post(volume, type: .normal, reason: "ClaimRetained", message: "kept claim \(volume.claimName) (reclaimPolicy Retain)")
            } catch let error as KubeClientError where error.apiCode == .notFound {}
        case .delete:
            try await deleteClaim(volume, reason: "the \(V.kind) was deleted (reclaimPolicy Delete)")
        }
    }

    func startSync(_ volume: V, direction: SyncDirection, reason: String, source: DataSource, node: String?,
                   status: inout VolumeStatus) async throws {
        let number = (status.syncCount ?? 0) + 1
        let name = ChildNames.syncJobName(kind: V.childKind, name: volume.metadata.name ?? "", direction: direction,
                                          token: "\(volume.metadata.uid ?? "")/\(number)")
        var request = SyncJobRequest(
            name: name, number: number, namespace: volume.namespace,
            owner: OwnerReference(controller: volume), labels: volume.childLabels, claimName: volume.claimName,
            direction: direction, access: volume.accessMode, source: source.s3, sync: volume.syncPolicy,
            generation: volume.metadata.generation ?? 1, reason: reason)
        request.http = source.http
        request.pullIdentity = volume.pullIdentity
        request.version = volume.dataSource?.version
        request.node = node
        do {
            _ = try await client.resource(Job.self, namespace: volume.namespace).create(SyncJob.build(request, settings: settings))
            events.post(volume, type: .normal, reason: "SyncStarted", message: "\(direction.rawValue) started: \(reason)")
        } catch let error as KubeClientError where error.apiCode == .alreadyExists {
            // Created by a pass whose status write was lost: it is the current Job.
        }
    }

    func deleteJob(_ job: Job) async throws {
        guard let name = job.metadata.name else { return }
        do {
            try await client.resource(Job.self, namespace: job.metadata.namespace).delete(name, propagation: .background)
        } catch let error as KubeClientError where error.apiCode == .notFound {}
    }

    func setConditions(_ status: inout VolumeStatus, decision: VolumeLifecycle.Decision, claimExists: Bool, generation: Int64) {
        func set(_ type: String, _ value: Bool, _ reason: String, _ message: String = "") {
            status.conditions.set(Condition(type: type, status: value, reason: reason, message: message, observedGeneration: generation))
        }
        set(ConditionType.claimCreated, claimExists, claimExists ? ConditionReason.claimCreated : ConditionReason.claimPending)
        let ready = [.ready, .inUse, .idle].contains(decision.phase) && claimExists
        set(ConditionType.ready, ready, ready ? "DataInPlace" : "Phase\(decision.phase.rawValue)")
        let consumers = status.consumers ?? []
        set(ConditionType.inUse, !consumers.isEmpty, consumers.isEmpty ? ConditionReason.idle : ConditionReason.consumersPresent,
            consumers.joined(separator: ", "))
        if let last = status.lastSync {
            if last.result == .failed {
                set(ConditionType.synced, false, last.failureCondition, last.message ?? "")
            } else if status.pendingPush == true {
                set(ConditionType.synced, false, "ChangesPending", "the volume may hold changes not yet pushed")
            } else {
                set(ConditionType.synced, true, ConditionReason.syncSucceeded)
            }
        }
    }

    /// Brings the claim to `spec.size` (it only grows), and says how that goes in the
    /// ClaimResized condition, which appears once `spec.size` differs from the claim. A
    /// refused expansion is tried again only after the spec changes.
    func resize(_ volume: V, claim: PersistentVolumeClaim, status: inout VolumeStatus, before: VolumeStatus, generation: Int64) async throws {
        let wanted = volume.claimSpec.resources?.requests?["storage"] ?? ""
        let previous = before.conditions[type: ConditionType.claimResized]
        func report(_ resized: Bool, _ reason: String, _ message: String, warn: Bool = false) {
            status.conditions.set(Condition(type: ConditionType.claimResized, status: resized, reason: reason, message: message,
                                            observedGeneration: generation))
            if previous?.reason != reason || previous?.message != message {
                events.post(volume, type: warn ? .warning : .normal, reason: reason, message: message)
            }
        }
        switch ClaimSizing.decide(wanted: wanted, requested: claim.spec?.resources?.requests?["storage"],
                                  capacity: claim.status?.capacity?["storage"]) {
        case .fits:
            // Only a claim that was resized reports it; the others never needed to.
            if previous != nil { report(true, ConditionReason.resized, "claim \(volume.claimName) has \(wanted)") }
        case .expand(let from, let to):
            if let previous, previous.reason == ConditionReason.expansionRefused, previous.observedGeneration == generation {
                status.conditions.set(previous)
                return
            }
            do {
                let body: JSONValue = ["spec": ["resources": ["requests": ["storage": .string(to)]]]]
                claims.wrote(try await client.resource(PersistentVolumeClaim.self, namespace: volume.namespace)
                    .patch(volume.claimName, .merge, body))
                report(false, ConditionReason.expanding, "asked for claim \(volume.claimName) to grow from \(from) to \(to)")
            } catch let error as KubeClientError where error.apiCode == .forbidden || error.apiCode == .invalid {
                // What the API server says, e.g. that the claim's StorageClass does not allow expansion.
                let why = if case .api(let api) = error { api.message } else { "\(error)" }
                report(false, ConditionReason.expansionRefused, "claim \(volume.claimName) cannot grow from \(from) to \(to): \(why)", warn: true)
            }
        case .expanding(let to, let capacity):
            report(false, ConditionReason.expanding,
                   "claim \(volume.claimName) asks for \(to); the storage provider has provided \(capacity ?? "nothing") so far")
        case .shrinkRefused(let size, let has):
            report(false, ConditionReason.shrinkRefused,
                   "spec.size \(size) is smaller than claim \(volume.claimName) (\(has)): a claim cannot shrink; it keeps \(has)", warn: true)
        }
    }

    /// Whether a claim is bound and, while it is not, why: the newest event the volume
    /// controller or the provisioner posted on it (ProvisioningFailed, ExternalProvisioning,
    /// WaitForFirstConsumer). Events are read only for a claim that is not bound.
    func binding(of claim: PersistentVolumeClaim) async -> ClaimBinding {
        if claim.status?.phase == "Bound" { return .bound }
        let name = claim.metadata.name ?? ""
        let selector = "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=\(name)"
        let events = (try? await client.resource(Event.self, namespace: claim.metadata.namespace)
            .list(ListOptions(fieldSelector: selector)).items) ?? []
        let newest = events.filter { $0.involvedObject.uid == nil || $0.involvedObject.uid == claim.metadata.uid }
            .max { ($0.lastTimestamp ?? .distantPast) < ($1.lastTimestamp ?? .distantPast) }
        return ClaimBinding(claim: name, phase: claim.status?.phase,
                            newestEvent: newest.map { ClaimBinding.ClaimEvent(warning: $0.type == "Warning", reason: $0.reason ?? "", message: $0.message ?? "") })
    }

    /// The ClaimBound condition, and a Warning event when the claim cannot be provisioned.
    func reportBinding(_ binding: ClaimBinding, volume: V, status: inout VolumeStatus, before: VolumeStatus, generation: Int64) {
        let condition = Condition(type: ConditionType.claimBound, status: binding == .bound, reason: binding.reason,
                                  message: binding.message, observedGeneration: generation)
        status.conditions.set(condition)
        let previous = before.conditions[type: ConditionType.claimBound]
        if case .failing = binding, previous?.reason != condition.reason || previous?.message != condition.message {
            events.post(volume, type: .warning, reason: binding.reason, message: binding.message)
        }
    }

    /// Writes status through the status subresource, once per pass and only on change.
    func write(_ volume: V, _ status: VolumeStatus, before: VolumeStatus) async throws {
        guard status != before else { return }
        var updated = volume
        updated.status = status
        controller.store.wrote(try await client.resource(V.self, namespace: volume.namespace).updateStatus(updated))
    }
}

/// Lets the controller's closure reach the reconciler that owns the controller.
final class ReconcilerBox<V: ManagedVolume>: @unchecked Sendable {
    // Set once in `VolumeReconciler.init`, before the controller runs; read-only after.
    nonisolated(unsafe) weak var reconciler: VolumeReconciler<V>?

    func reconcile(_ volume: V) async throws -> ReconcileAction {
        guard let reconciler else { return .done }
        return try await reconciler.reconcile(volume)
    }
}
