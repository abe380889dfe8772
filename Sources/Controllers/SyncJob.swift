import Foundation
import KubeModel
import StowageAPI
import SyncContract

/// How the operator's sync pods run: the image, the identity and the limits an admin sets
/// once for the whole installation (flags of `stowage operator`).
public struct SyncPodSettings: Sendable, Hashable {
    /// The operator's own image: it carries the `stowage` binary sync pods run.
    public var image = "stowage:latest"
    /// The program the container starts (the image's `stowage`).
    public var command = "stowage"
    /// Default uid/gid of sync pods (`spec.sync.runAsUser`/`runAsGroup` override them),
    /// so files keep the ownership notebooks expect (jovyan is 1000:100).
    public var runAsUser: Int64 = 1000
    public var runAsGroup: Int64 = 100
    /// Pod retries inside one sync Job.
    public var backoffLimit = 2
    public var resources: ResourceRequirements? = ResourceRequirements(
        requests: ["cpu": "100m", "memory": "64Mi"], limits: ["memory": "512Mi"])
    /// Where the volume is mounted inside the sync pod.
    public var mountPath = "/data"
    /// Seconds between the progress lines a sync pod logs, which the operator reads back
    /// for the users of notebooks that wait for a pull (`SpawnProgress`).
    public var progressIntervalSeconds = 15
    /// The sync container's `imagePullPolicy`; nil leaves Kubernetes' default.
    public var imagePullPolicy: String?

    public init() {}
}

/// What one sync Job does, decided by the reconciler.
public struct SyncJobRequest: Sendable, Hashable {
    public var name: String
    /// Which sync of the volume this is: the reconciler records it when the Job finishes.
    public var number: Int
    public var namespace: String
    public var owner: OwnerReference
    /// Labels that tie the Job (and its pod) to the volume, e.g. `stowage.io/datavolume`.
    public var labels: [String: String]
    public var claimName: String
    public var direction: SyncDirection
    public var access: AccessMode
    /// The S3 location; nil when the files come from `http`.
    public var source: S3Source?
    /// Files at HTTP(S) URLs, pulled read-only instead of an S3 location.
    public var http: HTTPSource?
    public var sync: SyncPolicy
    /// The volume's generation when the Job was made: a successful pull records it.
    public var generation: Int64
    /// What the pull brings in (`PullIdentity`): a successful pull records it.
    public var pullIdentity: String?
    public var reason: String
    /// The version a pull is pinned to (`spec.source.version`), if any.
    public var version: String?
    /// The node the sync pod must run on: where the pod that mounts a ReadWriteOnce claim
    /// runs (elsewhere it would wait forever to attach the volume). Nil: anywhere.
    public var node: String?

    public init(name: String, number: Int, namespace: String, owner: OwnerReference, labels: [String: String], claimName: String,
                direction: SyncDirection, access: AccessMode, source: S3Source?, sync: SyncPolicy, generation: Int64, reason: String) {
        self.name = name
        self.number = number
        self.namespace = namespace
        self.owner = owner
        self.labels = labels
        self.claimName = claimName
        self.direction = direction
        self.access = access
        self.source = source
        self.sync = sync
        self.generation = generation
        self.reason = reason
    }
}

/// Builds sync Jobs: `stowage sync` from the operator's image against the volume's claim.
///
/// The pod meets the Restricted pod security standard (non-root, no privilege escalation,
/// every capability dropped, RuntimeDefault seccomp, read-only root filesystem), gets the
/// object-storage credentials only through `secretKeyRef` (the operator never reads them),
/// has no service-account token, and reports its result through its termination message,
/// where the reconciler reads it from the pod status.
public enum SyncJob {
    public static let generationAnnotation = "stowage.io/generation"
    public static let pullIdentityAnnotation = "stowage.io/pull-identity"
    public static let reasonAnnotation = "stowage.io/sync-reason"
    public static let terminationMessagePath = "/dev/termination-log"
    static let caMountPath = "/etc/stowage/ca"
    /// The sync pod's one container (`kubectl logs job/NAME -c sync`).
    public static let containerName = "sync"

    /// Annotation on sync Jobs: which sync of the volume this is (1, 2, ...).
    public static let numberAnnotation = "stowage.io/sync-number"

    /// The operator's sync Jobs of one volume sorted out against the last recorded number:
    /// the newest unrecorded one (`current`, to observe), and those to delete (recorded
    /// before the last one, superseded, or unnumbered). The last recorded Job is neither.
    public static func sortOut(_ jobs: [Job], recorded: Int) -> (current: Job?, stale: [Job]) {
        let newest = jobs.filter { (number($0) ?? 0) > recorded }.max { (number($0) ?? 0) < (number($1) ?? 0) }
        let stale = jobs.filter { $0.metadata.name != newest?.metadata.name && number($0) != recorded }
        return (newest, stale)
    }

    /// The n of a sync Job, from its annotation.
    public static func number(_ job: Job) -> Int? {
        job.metadata.annotations?[numberAnnotation].flatMap { Int($0) }
    }

    public static func build(_ request: SyncJobRequest, settings: SyncPodSettings) -> Job {
        // Only S3 needs credentials; HTTP(S) URLs are fetched as they are.
        let env = request.source.map { source in
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map {
                EnvVar(name: $0, secret: SecretKeySelector(name: source.credentialsSecretRef.name, key: $0))
            }
        }
        return job(request, arguments: arguments(request, settings: settings), env: env, settings: settings)
    }

    /// What the sync pod's `stowage sync` is told: the source, the volume's directory, the
    /// mode, the options of the volume's sync policy and the pod's own summary file,
    /// sequence, progress interval and CA bundle.
    public static func arguments(_ request: SyncJobRequest, settings: SyncPodSettings) -> SyncArguments {
        var arguments = request.source.map { s3Arguments(request, $0, settings: settings) } ?? httpArguments(request, settings: settings)
        arguments.summaryFile = terminationMessagePath
        arguments.sequence = request.number
        arguments.progressInterval = settings.progressIntervalSeconds
        if let ca = caBundle(request) { arguments.caBundle = "\(caMountPath)/\(ca.key)" }
        return arguments
    }

    static func s3Arguments(_ request: SyncJobRequest, _ source: S3Source, settings: SyncPodSettings) -> SyncArguments {
        var arguments = SyncArguments(direction: request.direction, source: .s3(s3URL(source)), directory: settings.mountPath,
                                      mode: mode(request.direction, request.access))
        arguments.endpoint = source.endpoint
        arguments.region = source.region ?? "us-east-1"
        arguments.virtualHosted = source.pathStyle == false
        arguments.partChecksum = source.partChecksum ?? .crc32c
        arguments.checksum = request.sync.effectiveVerify == .checksum
        switch request.direction {
        case .pull:
            arguments.version = request.version
        case .push:
            arguments.volume = "\(request.owner.kind.lowercased())/\(request.namespace)/\(request.owner.name)"
            if request.access.propagatesDeletes { arguments.maxDeletes = request.sync.effectiveMaxDeletes }
            arguments.keepVersions = request.sync.effectiveKeepVersions
        }
        return arguments
    }

    /// The arguments of a volume whose files come from HTTP(S) URLs: `stowage sync pull DIR
    /// --mode RO --http URL...`, each value an `HTTPFile.argument` (the type `stowage sync`
    /// parses back).
    static func httpArguments(_ request: SyncJobRequest, settings: SyncPodSettings) -> SyncArguments {
        SyncArguments(direction: .pull, source: .http((request.http?.urls ?? []).map(\.argument)), directory: settings.mountPath,
                      mode: .readOnly)
    }

    /// The Secret key of the CA bundle to trust, whatever the source.
    static func caBundle(_ request: SyncJobRequest) -> SecretKeySelector? {
        request.source?.caBundleSecretRef ?? request.http?.caBundleSecretRef
    }

    /// The Job around a sync container running `stowage` with `arguments`: the claim and
    /// the CA bundle (when set) mounted, the pod's security, placement and bookkeeping, the
    /// same whatever the source.
    static func job(_ request: SyncJobRequest, arguments: SyncArguments, env: [EnvVar]?, settings: SyncPodSettings) -> Job {
        var labels = request.labels
        labels[StowageKeys.managedBy] = StowageKeys.managedByValue
        labels[StowageKeys.syncDirection] = request.direction.rawValue
        var volumes = [Volume(name: "data", claimName: request.claimName)]
        var mounts = [VolumeMount(name: "data", mountPath: settings.mountPath)]
        if let ca = caBundle(request) {
            mounts.append(VolumeMount(name: "ca", mountPath: caMountPath, readOnly: true))
            volumes.append(Volume(name: "ca", secretName: ca.name, items: [ca.key: ca.key]))
        }
        var container = Container(name: containerName, image: settings.image, command: [settings.command], args: arguments.commandLine)
        container.imagePullPolicy = settings.imagePullPolicy
        container.env = env
        container.volumeMounts = mounts
        container.resources = settings.resources
        container.terminationMessagePath = terminationMessagePath
        container.terminationMessagePolicy = "FallbackToLogsOnError"
        var security = SecurityContext()
        security.allowPrivilegeEscalation = false
        security.runAsNonRoot = true
        security.readOnlyRootFilesystem = true
        security.capabilities = .init(drop: ["ALL"])
        container.securityContext = security

        var pod = PodSpec(containers: [container], volumes: volumes, restartPolicy: "Never")
        pod.automountServiceAccountToken = false
        if let node = request.node {
            // As DaemonSets pin their pods: by the node's name, through the scheduler.
            pod.affinity = ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [
                ["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node)]]]],
            ]]]]
        }
        var podSecurity = PodSecurityContext()
        podSecurity.runAsNonRoot = true
        podSecurity.runAsUser = request.sync.runAsUser ?? settings.runAsUser
        podSecurity.runAsGroup = request.sync.runAsGroup ?? settings.runAsGroup
        podSecurity.fsGroup = podSecurity.runAsGroup
        podSecurity.seccompProfile = SeccompProfile(type: "RuntimeDefault")
        pod.securityContext = podSecurity

        var annotations = [generationAnnotation: String(request.generation), reasonAnnotation: request.reason,
                           numberAnnotation: String(request.number)]
        annotations[pullIdentityAnnotation] = request.pullIdentity
        var metadata = ObjectMeta(name: request.name, namespace: request.namespace, labels: labels, annotations: annotations)
        metadata.ownerReferences = [request.owner]
        let template = Job.PodTemplate(metadata: ObjectMeta(labels: labels), spec: pod)
        return Job(metadata: metadata, spec: Job.Spec(template: template, backoffLimit: settings.backoffLimit))
    }

    /// Pulls of RW and RWD volumes keep local work (`RW`); RO pulls mirror exactly.
    static func mode(_ direction: SyncDirection, _ access: AccessMode) -> AccessMode {
        direction == .pull && access != .readOnly ? .readWrite : access
    }

    static func s3URL(_ source: S3Source) -> String {
        let prefix = (source.prefix ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return prefix.isEmpty ? "s3://\(source.bucket)" : "s3://\(source.bucket)/\(prefix)"
    }
}

/// A sync Job as the reconciler sees it: running, or finished with the record its pod left.
public enum SyncJobState: Sendable, Hashable {
    case running(SyncDirection)
    case finished(SyncRecord, exitCode: Int?)

    /// Waiting reasons of a sync container that no retry of the kubelet's will cure: the
    /// Job would wait for ever, so the sync counts as failed with that reason.
    public static let stuckReasons: Set<String> = [
        "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
    ]

    /// Reads a Job and its pods. The record comes from the termination message of the last
    /// finished pod (`stowage sync --summary-file`); a pod that died without one yields a
    /// failed record with the pod's reason (OOMKilled, say); a pod stuck before its container
    /// could start (an image that cannot be pulled, a missing Secret key) fails the sync.
    public static func observe(_ job: Job, pods: [Pod]) -> SyncJobState {
        let direction = job.metadata.labels?[StowageKeys.syncDirection].flatMap(SyncDirection.init(rawValue:)) ?? .pull
        let conditions = job.status?.conditions ?? []
        func has(_ type: String) -> Bool {
            conditions.contains { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }
        }
        let complete = has("Complete"), failed = has("Failed")
        guard complete || failed else {
            for pod in pods {
                for status in (pod.status?.initContainerStatuses ?? []) + (pod.status?.containerStatuses ?? []) {
                    guard let waiting = status["state"]?["waiting"], let reason = waiting["reason"]?.stringValue,
                          stuckReasons.contains(reason) else { continue }
                    var record = SyncRecord(direction: direction, result: .failed, start: job.status?.startTime, end: Date())
                    record.message = "\(reason): \(waiting["message"]?.stringValue ?? "the sync container cannot start")"
                    record.reason = reason
                    return .finished(record, exitCode: nil)
                }
            }
            return .running(direction)
        }

        let finishedPods = pods.filter { ["Succeeded", "Failed"].contains($0.status?.phase ?? "") }
        let wanted = complete ? "Succeeded" : "Failed"
        let pod = finishedPods.last { $0.status?.phase == wanted } ?? finishedPods.last
        let terminated = pod?.status?.containerStatuses?.first?["state"]?["terminated"]
        let exitCode = terminated?["exitCode"]?.int64Value.map { Int($0) }
        let message = terminated?["message"]?.stringValue
        var record = message.flatMap(SyncRecord.init(terminationMessage:))
            ?? SyncRecord(direction: direction, result: complete ? .succeeded : .failed)
        record.direction = direction
        record.result = complete ? .succeeded : .failed
        // A pod without a record still says why in a word: its exit code's, or its
        // container's (OOMKilled, say).
        record.reason = complete ? nil : record.reason
            ?? exitCode.flatMap { SyncExitCode(rawValue: Int32($0)) }?.reason ?? terminated?["reason"]?.stringValue
        if failed && record.message == nil {
            // No record: the container died before writing one (killed, out of memory), and
            // its last log lines may stand in the message (FallbackToLogsOnError).
            let jobWhy = conditions.first { $0["type"]?.stringValue == "Failed" }?["message"]?.stringValue ?? "the sync Job failed"
            let reason = terminated?["reason"]?.stringValue
            var why = [reason.map { "sync container \($0)\(exitCode.map { " (exit \($0))" } ?? "")" }, jobWhy].compactMap { $0 }.joined(separator: "; ")
            if let message, !message.isEmpty { why += ": " + String(message.suffix(500)) }
            record.message = why
        }
        record.start = record.start ?? job.status?.startTime
        record.end = record.end ?? job.status?.completionTime ?? Date()
        return .finished(record, exitCode: exitCode)
    }
}
