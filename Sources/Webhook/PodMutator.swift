import KubeModel
import StowageAPI

/// What the mutating webhook does to one pod.
public struct MutationResult: Sendable, Hashable {
    /// The patch's operations as the mutator made them (`PatchStep`).
    var steps: [PatchStep]
    /// JSON Patch against the pod as it was sent; empty when the pod needs no change.
    public var patch: [JSONPatchOperation] { steps.map(\.operation) }
    /// The patch as UTF-8 JSON text, written straight from the steps: the same bytes as
    /// `patch` written by `JSONText.bytes`.
    public var patchText: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 * steps.count)
        out.append(UInt8(ascii: "["))
        for (i, step) in steps.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            step.write(to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
    /// The Stowage volumes the pod has after the patch (`dv/home-alice:rw`, `shv/tools:ro`).
    public var injected: [String]
    /// Volumes left out because the pod's own definitions conflict, for the response's
    /// `warnings` (the API server shows them to the client, e.g. kubectl).
    public var warnings: [String]
}

/// Adds to a pod the volumes its user is entitled to, as a JSON Patch. A pure function of
/// the pod, its identity and a snapshot of the caches.
///
/// - Identity: `stowage.io/user` is set to the user of a trusted spawner's pod and removed
///   from every other pod, since the homes controller trusts it.
/// - Volumes: the home, attached DataVolumes and entitled SharedVolumes, each as a PVC
///   volume and a mount in every container; read-only (source and mounts) where only read
///   is granted. Software shares extend `MODULEPATH` in every container.
/// - Data not yet in place, or to be refreshed for this pod (`VolumeLifecycle.arrival`: a
///   first pull, `sync.onStart` after idle, a claim evicted by `ttlAfterIdle`): one init
///   container `stowage-wait`, first in line, mounting those volumes read-only and running
///   `stowage wait --path <mount>[:<sync count>]... --timeout <s>`, which returns once a pull
///   numbered above that count has completed in each.
/// - Conflicts: the pod's own definitions win. A Stowage volume whose pod-volume name, claim
///   or mount path the pod already uses is skipped, with a warning and a `skipped:` note in
///   `stowage.io/injected`; between Stowage volumes, the earlier in plan order wins.
/// - Idempotent: a volume already present with its claim, mounts already at their path, an
///   existing `stowage-wait`, `MODULEPATH` already listing the path and annotations with
///   their values produce no operation, so a second pass over the result yields no patch.
public enum PodMutator {
    public static let waitContainerName = StowageWait.containerName
    static let modulePath = "MODULEPATH"

    public static func mutate(_ pod: Pod, identity: PodIdentity, snapshot: VolumeSnapshot,
                              settings: AdmissionSettings) -> MutationResult {
        let labels = pod.metadata.labels ?? [:]
        let namespace = pod.metadata.namespace ?? ""
        let (planned, skippedByPlan) = InjectionPlan.volumes(for: identity, podLabels: labels, namespace: namespace, snapshot: snapshot)
        var builder = PatchBuilder(pod: pod, settings: settings)
        var skipped = skippedByPlan
        for volume in planned {
            if let conflict = builder.conflict(for: volume) {
                skipped.append("\(volume.reference): \(conflict)")
            } else {
                builder.add(volume)
            }
        }
        builder.finishVolumes()
        builder.finishModulePath()

        var summary = builder.injected.joined(separator: ",")
        if !skipped.isEmpty { summary += (summary.isEmpty ? "" : " ") + "skipped: " + skipped.joined(separator: "; ") }
        builder.setAnnotations([
            StowageKeys.user: identity.user,
            StowageKeys.injected: summary.isEmpty ? nil : summary,
        ])
        return MutationResult(steps: builder.operations, injected: builder.injected,
                              warnings: skipped.map { "stowage: skipped \($0)" } + builder.warnings)
    }
}

/// Accumulates the patch for one pod, tracking what the pod has (its own definitions and
/// what this pass added) so that conflicts and repeats are seen.
struct PatchBuilder {
    let pod: Pod
    let settings: AdmissionSettings
    private(set) var operations: [PatchStep] = []
    private(set) var injected: [String] = []
    private(set) var warnings: [String] = []

    // Scanned, not hashed: a pod has a few volumes and mounts, and comparing a few strings
    // costs less than hashing one (these were 80 dictionary lookups a mutation, 14 % of
    // its instructions).
    /// The pod's volumes as sent: name and claim (nil for non-PVC volumes).
    private let podVolumes: [(name: String, claim: String?)]
    /// Mount path and volume name, per container, including mounts added in this pass.
    private var mounts: [[(path: String, name: String)]]
    private var newVolumes: [PatchValue] = []
    private var newMounts: [[PatchValue]]
    private var waiting: [PlannedVolume] = []
    private var modulePaths: [String] = []

    init(pod: Pod, settings: AdmissionSettings) {
        self.pod = pod
        self.settings = settings
        let volumes = pod.spec?.volumes ?? []
        podVolumes = volumes.map { ($0.name, $0.persistentVolumeClaim?.claimName) }
        let containers = pod.spec?.containers ?? []
        mounts = containers.map { c in (c.volumeMounts ?? []).map { ($0.mountPath, $0.name) } }
        newMounts = containers.map { _ in [] }
    }

    /// Why `volume` cannot be added, or nil when it can (including when it is already there).
    func conflict(for volume: PlannedVolume) -> String? {
        // The first of a name, claim or path counts, as it would have in a dictionary built
        // first-wins.
        if let existing = podVolumes.first(where: { $0.name == volume.podVolumeName }) {
            if existing.claim != volume.claimName { return "the pod already has a volume named \(volume.podVolumeName)" }
        } else if let other = podVolumes.first(where: { $0.claim == volume.claimName }) {
            return "the pod already mounts claim \(volume.claimName) as volume \(other.name)"
        }
        let containers = pod.spec?.containers ?? []
        for (i, byPath) in mounts.enumerated() {
            if let user = byPath.first(where: { $0.path == volume.mountPath })?.name, user != volume.podVolumeName {
                return "mount path \(volume.mountPath) is already used by volume \(user) in container \(containers[i].name)"
            }
        }
        return nil
    }

    mutating func add(_ volume: PlannedVolume) {
        if !podVolumes.contains(where: { $0.name == volume.podVolumeName }) {
            newVolumes.append(.volume(name: volume.podVolumeName, claim: volume.claimName, readOnly: volume.readOnly))
        }
        for i in mounts.indices where !mounts[i].contains(where: { $0.path == volume.mountPath }) {
            mounts[i].append((volume.mountPath, volume.podVolumeName))
            newMounts[i].append(.mount(name: volume.podVolumeName, path: volume.mountPath, readOnly: volume.readOnly))
        }
        injected.append(volume.label)
        if volume.software { modulePaths.append(volume.mountPath) }
        if volume.arrival != .inPlace { waiting.append(volume) }
    }

    /// Emits the volume and mount additions, then the wait init container.
    mutating func finishVolumes() {
        appendAll(newVolumes, to: "/spec/volumes", exists: pod.spec?.volumes != nil)
        for (i, added) in newMounts.enumerated() {
            appendAll(added, to: "/spec/containers/\(i)/volumeMounts", exists: pod.spec?.containers[i].volumeMounts != nil)
        }
        let inits = pod.spec?.initContainers
        guard !waiting.isEmpty, !(inits ?? []).contains(where: { $0.name == PodMutator.waitContainerName }) else { return }
        let container = waitContainer(waiting)
        if inits == nil {
            operations.append(.add("/spec/initContainers", .array([container])))
        } else {
            // First, so other init containers already find the data.
            operations.append(.add("/spec/initContainers/0", container))
        }
    }

    /// The init container that holds the pod until every volume in `volumes` has its data.
    /// Restricted-profile friendly: no privilege escalation, no capabilities, read-only root.
    /// (Its resources and security context: `PatchValue.waitResources`, `waitSecurityContext`.)
    func waitContainer(_ volumes: [PlannedVolume]) -> PatchValue {
        var args = ["wait"]
        args.reserveCapacity(2 * volumes.count + 3)
        for volume in volumes {
            args += ["--path", StowageWait.Awaited(path: volume.mountPath, arrival: volume.arrival).argument]
        }
        args += ["--timeout", String(settings.waitTimeoutSeconds)]
        return .waitContainer(.init(image: settings.waitImage, command: settings.waitCommand, args: args,
                                    mounts: volumes.map { .init(name: $0.podVolumeName, path: $0.mountPath) }))
    }

    /// Adds the software shares' mount paths to `MODULEPATH` in every container, keeping
    /// what is there.
    mutating func finishModulePath() {
        guard !modulePaths.isEmpty else { return }
        for (i, container) in (pod.spec?.containers ?? []).enumerated() {
            let env = container.env ?? []
            if let j = env.firstIndex(where: { $0.name == PodMutator.modulePath }) {
                guard env[j].valueFrom == nil else {
                    warnings.append("stowage: MODULEPATH of container \(container.name) comes from valueFrom; not extended with \(modulePaths.joined(separator: ":"))")
                    continue
                }
                let current = env[j].value ?? ""
                let parts = current.split(separator: ":").map(String.init)
                let missing = modulePaths.filter { !parts.contains($0) }
                guard !missing.isEmpty else { continue }
                operations.append(.add("/spec/containers/\(i)/env/\(j)/value", .string((parts + missing).joined(separator: ":"))))
            } else {
                let variable = PatchValue.variable(name: PodMutator.modulePath, value: modulePaths.joined(separator: ":"))
                appendAll([variable], to: "/spec/containers/\(i)/env", exists: container.env != nil)
            }
        }
    }

    /// Sets (non-nil) or removes (nil) annotations, touching only those that differ.
    mutating func setAnnotations(_ wanted: [String: String?]) {
        let current = pod.metadata.annotations
        var additions: [String: String] = [:]
        for (key, value) in wanted.sorted(by: { $0.key < $1.key }) {
            switch (value, current?[key]) {
            case (nil, .some(_)):
                operations.append(.remove("/metadata/annotations/\(JSONPatchOperation.escape(key))"))
            case (let value?, let existing) where existing != value:
                additions[key] = value
            default:
                break
            }
        }
        guard !additions.isEmpty else { return }
        if current == nil {
            operations.append(.add("/metadata/annotations", .annotations(additions)))
        } else {
            for (key, value) in additions.sorted(by: { $0.key < $1.key }) {
                operations.append(.add("/metadata/annotations/\(JSONPatchOperation.escape(key))", .string(value)))
            }
        }
    }

    /// Appends `items` to the array at `path`, creating it when the pod has none.
    private mutating func appendAll(_ items: [PatchValue], to path: String, exists: Bool) {
        guard !items.isEmpty else { return }
        if exists {
            operations += items.map { .append(to: path, $0) }
        } else {
            operations.append(.add(path, .array(items)))
        }
    }
}
