import StowageAPI

/// The part of the caches one admission decision reads: the configuration in force and
/// the volumes of the pod's namespace. A value, so the decisions are pure functions that
/// unit tests feed directly.
public struct VolumeSnapshot: Sendable {
    public var config: StowageConfig
    /// DataVolumes of the namespace (the caches pass only the candidates for one user).
    public var dataVolumes: [DataVolume]
    public var sharedVolumes: [SharedVolume]

    public init(config: StowageConfig, dataVolumes: [DataVolume] = [], sharedVolumes: [SharedVolume] = []) {
        self.config = config
        self.dataVolumes = dataVolumes
        self.sharedVolumes = sharedVolumes
    }

    public func dataVolume(named name: String) -> DataVolume? {
        dataVolumes.first { $0.metadata.name == name }
    }

    public func sharedVolume(named name: String) -> SharedVolume? {
        sharedVolumes.first { $0.metadata.name == name }
    }
}

/// Where the admission handler gets its snapshots: the watch caches in production, fixed
/// values in tests. Implementations answer from memory, never from the API server.
public protocol VolumeSource: Sendable {
    /// True once every cache has its first full list; until then requests are refused.
    var isReady: Bool { get }
    var config: StowageConfig { get }
    /// The volumes the mutator may inject for `user` in `namespace`: DataVolumes that could
    /// attach to the user's pods (at least those), and every SharedVolume of the namespace.
    func mutationSnapshot(namespace: String, user: String?) -> VolumeSnapshot
    /// The volumes whose claims a pod names (`dv-<name>`, `shv-<name>`), looked up by name.
    func validationSnapshot(namespace: String, dataVolumes: [String], sharedVolumes: [String]) -> VolumeSnapshot
}

extension DataVolume {
    /// Whether the volume's data is in place for a new consumer: always without a source
    /// (nothing to pull), else once the initial pull is done.
    var dataInPlace: Bool { spec.source == nil || status?.phase?.dataInPlace == true }

    var isTerminating: Bool { metadata.deletionTimestamp != nil || status?.phase == .terminating }
}

extension SharedVolume {
    var dataInPlace: Bool { spec.source == nil || status?.phase?.dataInPlace == true }
    var isTerminating: Bool { metadata.deletionTimestamp != nil || status?.phase == .terminating }
}
