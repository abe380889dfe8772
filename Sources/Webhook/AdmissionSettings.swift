import StowageAPI

/// What the webhook needs beyond the access-level configuration: who the operator is (its
/// sync pods are allowed to mount any volume) and how the wait init container is built.
/// Flags of `stowage operator` / `stowage webhook`, fixed for the life of the process.
public struct AdmissionSettings: Sendable, Hashable {
    /// Kubernetes user names of the operator (`system:serviceaccount:stowage-system:stowage`):
    /// pods and Jobs they create with label `stowage.io/managed-by=stowage` may mount any
    /// Stowage volume, since sync pods must read and write every volume.
    public var operatorUsers: [String]
    /// Identities the Job controller creates pods as. Their pods are allowed when a Job
    /// owns them, because that Job's pod template was validated when it was created (the
    /// validating webhook must cover `batch/jobs` for this to hold; see docs/webhook.md).
    public var jobControllerUsers: [String]
    /// The image of the `stowage-wait` init container (the operator's own image).
    public var waitImage: String
    /// The program inside `waitImage`.
    public var waitCommand: String
    /// How long `stowage wait` waits for a volume's data before failing the pod.
    public var waitTimeoutSeconds: Int

    public static let defaultJobControllerUsers = [
        "system:serviceaccount:kube-system:job-controller",
        "system:kube-controller-manager",
    ]

    public init(operatorUsers: [String] = [], jobControllerUsers: [String] = AdmissionSettings.defaultJobControllerUsers,
                waitImage: String = "stowage:latest", waitCommand: String = "stowage", waitTimeoutSeconds: Int = 600) {
        self.operatorUsers = operatorUsers
        self.jobControllerUsers = jobControllerUsers
        self.waitImage = waitImage
        self.waitCommand = waitCommand
        self.waitTimeoutSeconds = waitTimeoutSeconds
    }
}
