import KubeModel

/// The `stowage-wait` init container's contract, in one place: the admission webhook writes
/// its `--path` arguments, `stowage wait` reads them, and the operator reads them back from
/// a pod to tell its user what the pod is waiting for (`SpawnProgress`).
///
/// `--path PATH` waits for any completed sync of the volume mounted at PATH; `--path PATH:N`
/// for a pull numbered above N. Kubernetes mount paths cannot contain `:`.
public enum StowageWait {
    public static let containerName = "stowage-wait"

    /// One `--path` value.
    public struct Awaited: Sendable, Hashable {
        public var path: String
        /// A pull numbered above this; nil: any completed sync.
        public var pullAfter: Int?

        public init(path: String, pullAfter: Int?) {
            self.path = path
            self.pullAfter = pullAfter
        }

        public init(path: String, arrival: VolumeLifecycle.Arrival) {
            self.path = path
            if case .pull(let after) = arrival { pullAfter = after }
        }

        public init?(argument: String) {
            if let colon = argument.lastIndex(of: ":"), let n = Int(argument[argument.index(after: colon)...]), n >= 0 {
                path = String(argument[..<colon])
                pullAfter = n
            } else {
                path = argument
            }
            if path.isEmpty { return nil }
        }

        public var argument: String { pullAfter.map { "\(path):\($0)" } ?? path }

        /// Whether a volume whose last completed sync is this one satisfies the wait.
        public func isSatisfied(byLastSync last: (isPull: Bool, sequence: Int?)?) -> Bool {
            guard let last else { return false }
            guard let pullAfter else { return true }
            return last.isPull && (last.sequence ?? 0) > pullAfter
        }
    }

    /// What a pod's `stowage-wait` waits for, by the claim mounted at each awaited path.
    public static func awaited(in pod: Pod) -> [String: Awaited] {
        guard let wait = pod.spec?.initContainers?.first(where: { $0.name == containerName }) else { return [:] }
        let claims = Dictionary((pod.spec?.volumes ?? []).compactMap { v in v.persistentVolumeClaim.map { (v.name, $0.claimName) } },
                                uniquingKeysWith: { first, _ in first })
        let mounts = Dictionary((wait.volumeMounts ?? []).map { ($0.mountPath, $0.name) }, uniquingKeysWith: { first, _ in first })
        var result: [String: Awaited] = [:]
        let args = wait.args ?? []
        for (i, arg) in args.enumerated() where arg == "--path" && i + 1 < args.count {
            guard let awaited = Awaited(argument: args[i + 1]), let volume = mounts[awaited.path], let claim = claims[volume] else { continue }
            result[claim] = awaited
        }
        return result
    }
}
