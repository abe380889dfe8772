import KubeModel
import StowageAPI

/// The validating webhook's answer.
public struct Verdict: Sendable, Hashable {
    public var allowed: Bool
    /// Why it was denied: one sentence per offending volume or field.
    public var reasons: [String]
    /// Field errors for `Status.details.causes` (volume validation).
    public var causes: [FieldError]

    public static let allow = Verdict(allowed: true, reasons: [], causes: [])

    public static func deny(_ reasons: [String], causes: [FieldError] = []) -> Verdict {
        Verdict(allowed: false, reasons: reasons, causes: causes)
    }

    public var message: String { reasons.joined(separator: "; ") }
}

/// What the pod spec of a pod (or of a Job's pod template) asks of Stowage volumes, and who
/// asks: the input of `PodValidator`.
public struct WorkloadRequest: Sendable {
    public var kind: String
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    /// A Job's pod template labels (the labels its pods will have); empty for a pod.
    public var templateLabels: [String: String]
    /// A pod's annotations, or a Job's pod template annotations.
    public var annotations: [String: String]
    public var ownerReferences: [OwnerReference]
    public var spec: PodSpec?

    public init(pod: Pod, namespace: String) {
        kind = "Pod"
        name = pod.metadata.name ?? pod.metadata.generateName ?? ""
        self.namespace = pod.metadata.namespace ?? namespace
        labels = pod.metadata.labels ?? [:]
        templateLabels = [:]
        annotations = pod.metadata.annotations ?? [:]
        ownerReferences = pod.metadata.ownerReferences ?? []
        spec = pod.spec
    }

    /// A Job is judged by its pod template, with the Job's creator as the creator: the pods
    /// the Job controller makes from it later are then trusted (see `AdmissionSettings`).
    public init(job: Job, namespace: String) {
        kind = "Job"
        name = job.metadata.name ?? job.metadata.generateName ?? ""
        self.namespace = job.metadata.namespace ?? namespace
        labels = job.metadata.labels ?? [:]
        templateLabels = job.spec?.template.metadata?.labels ?? [:]
        annotations = job.spec?.template.metadata?.annotations ?? [:]
        ownerReferences = []
        spec = job.spec?.template.spec
    }

    init(_ workload: Workload, namespace: String) {
        switch workload {
        case .pod(let pod): self.init(pod: pod, namespace: namespace)
        case .job(let job): self.init(job: job, namespace: namespace)
        }
    }

    /// Claims named like a Stowage claim, with whether the pod could write through them.
    public typealias StowageClaim = (claim: String, kind: ChildNames.Kind, name: String, readWrite: Bool)

    var stowageClaims: [StowageClaim] {
        guard let spec else { return [] }
        let allMounts = (spec.containers + (spec.initContainers ?? [])).flatMap { $0.volumeMounts ?? [] }
        return (spec.volumes ?? []).compactMap { volume in
            // The prefixes are reserved: a pod naming such a claim is judged as mounting that volume.
            guard let source = volume.persistentVolumeClaim, let parsed = ChildNames.volume(ofClaim: source.claimName) else { return nil }
            let readWrite = source.readOnly != true
                || allMounts.contains { $0.name == volume.name && $0.readOnly != true }
            return (source.claimName, parsed.kind, parsed.name, readWrite)
        }
    }
}

/// Refuses pods (and Jobs) that mount a Stowage volume their user may not use. A pure
/// function of the request, its identity and a snapshot of the caches.
///
/// - Allowed outright: pods sent by the Job controller for a Job (their template was judged
///   when the Job was created).
/// - Refused: objects carrying `stowage.io/user` or `stowage.io/managed-by` the webhook did
///   not establish (`ReservedKeys`).
/// - Allowed then: objects labelled `stowage.io/managed-by=stowage` and sent by an operator
///   identity (sync pods and Jobs).
/// - Every volume whose claim is `dv-<name>` or `shv-<name>` is checked: the pod's user (from
///   a trusted spawner only) needs the volume's entitlement, readWrite unless the claim
///   source and every mount of it are `readOnly: true`.
/// - A reserved claim with no volume behind it is refused, except the user's own home, which
///   the operator is about to create: otherwise a pending pod could name a volume before it
///   exists and receive its data once it does.
public enum PodValidator {
    /// `claims`: `request.stowageClaims`, when the caller has worked them out already (the
    /// handler has, to look the volumes up).
    public static func validate(_ request: WorkloadRequest, identity: PodIdentity, snapshot: VolumeSnapshot,
                                settings: AdmissionSettings, claims: [WorkloadRequest.StowageClaim]? = nil) -> Verdict {
        if request.kind == "Pod", settings.jobControllerUsers.contains(identity.creator),
           request.ownerReferences.contains(where: { $0.kind == "Job" && $0.apiVersion == "batch/v1" && $0.controller == true }) {
            return .allow
        }
        let config = snapshot.config
        let reserved = ReservedKeys.creationProblems(request, identity: identity, settings: settings,
                                                     userAnnotation: config.spawners.userAnnotation)
        guard reserved.isEmpty else { return .deny(reserved) }
        if settings.operatorUsers.contains(identity.creator),
           request.labels[StowageKeys.managedBy] == StowageKeys.managedByValue {
            return .allow
        }
        let claims = claims ?? request.stowageClaims
        guard !claims.isEmpty else { return .allow }
        var reasons: [String] = []
        for item in claims {
            let entitlement: Entitlement
            // What a denial names: put in words only for a denial, since most pods are allowed.
            let subject: Subject
            switch item.kind {
            case .dataVolume:
                if let cached = snapshot.dataVolume(named: item.name) {
                    entitlement = cached.volume.entitlement(user: identity.user, podLabels: request.labels)
                    subject = .dataVolume(owner: cached.volume.spec.owner)
                } else if let home = ownHome(named: item.name, identity: identity, config: config, namespace: request.namespace) {
                    entitlement = home.mountsReadOnly ? .read : .readWrite
                    subject = .home
                } else {
                    reasons.append("\(request.kind.lowercased()) mounts claim \(item.claim), which is reserved for DataVolume \"\(item.name)\": there is no such DataVolume in namespace \(request.namespace)")
                    continue
                }
            case .sharedVolume:
                guard let share = snapshot.sharedVolume(named: item.name)?.volume else {
                    reasons.append("\(request.kind.lowercased()) mounts claim \(item.claim), which is reserved for SharedVolume \"\(item.name)\": there is no such SharedVolume in namespace \(request.namespace)")
                    continue
                }
                entitlement = config.entitlement(user: identity.user, groups: identity.groups, to: share)
                subject = .sharedVolume(level: share.spec.accessLevel)
            }
            func what() -> String { "\(request.kind.lowercased()) mounts \(subject.words(name: item.name, claim: item.claim))" }
            guard let user = identity.user else {
                reasons.append("\(what()): \(identity.anonymousReason)")
                continue
            }
            if entitlement == .none {
                reasons.append("\(what()): user \"\(user)\" is not entitled")
            } else if entitlement == .read && item.readWrite {
                reasons.append("\(what()) read-write: user \"\(user)\" may only read it (set readOnly: true on the volume's persistentVolumeClaim and on every mount of it)")
            }
        }
        return reasons.isEmpty ? .allow : .deny(reasons)
    }

    /// The volume behind a claim, as a denial names it.
    private enum Subject {
        case dataVolume(owner: String?)
        case home
        case sharedVolume(level: String)

        func words(name: String, claim: String) -> String {
            switch self {
            case .dataVolume(let owner): "DataVolume \"\(name)\" (claim \(claim))" + (owner.map { " of user \"\($0)\"" } ?? "")
            case .home: "the home DataVolume \"\(name)\" (claim \(claim))"
            case .sharedVolume(let level): "SharedVolume \"\(name)\" (claim \(claim), access level \"\(level)\")"
            }
        }
    }

    /// The home `name` would be for the pod's own user, when homes are on.
    static func ownHome(named name: String, identity: PodIdentity, config: StowageConfig, namespace: String) -> DataVolume? {
        guard let user = identity.user, UserName.homeName(for: user) == name else { return nil }
        return config.homes.dataVolume(for: user, namespace: namespace)
    }
}
