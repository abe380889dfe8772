import KubeModel
import StowageAPI

/// Whether a volume's claim can take a sync pod, and why not: read from the claim's phase
/// and the newest event Kubernetes posted on it.
public enum ClaimBinding: Sendable, Hashable {
    case bound
    /// Its StorageClass binds at the first pod scheduled with it: the sync pod may be that pod.
    case waitForFirstConsumer
    /// Not bound yet, and nothing reported wrong (being provisioned).
    case pending(message: String)
    /// The provisioner or the volume controller reported a failure, or the volume is lost.
    case failing(reason: String, message: String)

    /// The newest Event on a claim, as `VolumeLifecycle.Note` holds one.
    public typealias ClaimEvent = VolumeLifecycle.Note

    public init(claim: String, phase: String?, newestEvent: ClaimEvent?) {
        switch phase {
        case "Bound":
            self = .bound
        case "Lost":
            self = .failing(reason: "ClaimLost", message: "claim \(claim) lost its volume: its data is gone")
        default:
            if let event = newestEvent, event.reason == "WaitForFirstConsumer" {
                self = .waitForFirstConsumer
            } else if let event = newestEvent, event.warning {
                self = .failing(reason: event.reason, message: "claim \(claim) is not bound: \(event.message)")
            } else {
                self = .pending(message: "claim \(claim) is not bound to a volume yet" + (newestEvent.map { ": \($0.message)" } ?? ""))
            }
        }
    }

    /// A sync pod may mount the claim now.
    public var bindable: Bool {
        switch self {
        case .bound, .waitForFirstConsumer: true
        case .pending, .failing: false
        }
    }

    /// The `ClaimBound` condition's reason and message.
    public var reason: String {
        switch self {
        case .bound: ConditionReason.claimBound
        case .waitForFirstConsumer: "WaitForFirstConsumer"
        case .pending: ConditionReason.claimPending
        case .failing(let reason, _): reason
        }
    }

    public var message: String {
        switch self {
        case .bound: ""
        case .waitForFirstConsumer: "the claim binds when its first pod is scheduled"
        case .pending(let message), .failing(_, let message): message
        }
    }
}

/// Where a volume's sync pod runs.
///
/// A ReadWriteOnce claim attaches to one node at a time: while a pod mounts it, a sync pod
/// elsewhere would wait forever to attach (Multi-Attach). So the sync pod goes to that pod's
/// node, and waits to be created until that pod has one.
public enum SyncPlacement: Sendable, Hashable {
    case anywhere
    case node(String)
    /// A pod mounts the ReadWriteOnce claim but is not scheduled yet.
    case waitForScheduling(pod: String)

    public static func decide(claim: PersistentVolumeClaim?, consumers: [Pod]) -> SyncPlacement {
        let modes = claim?.status?.accessModes ?? claim?.spec?.accessModes ?? []
        guard modes.contains("ReadWriteOnce"), !modes.contains("ReadWriteMany"), !modes.contains("ReadOnlyMany") else { return .anywhere }
        let live = consumers.filter { $0.metadata.deletionTimestamp == nil }.sorted { $0.key < $1.key }
        if let node = (live + consumers).lazy.compactMap(\.spec?.nodeName).first { return .node(node) }
        if let waiting = live.first { return .waitForScheduling(pod: waiting.key) }
        return .anywhere
    }
}
