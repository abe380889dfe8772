import Controllers
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
    /// The volumes the mutator may inject for a pod of `identity` in `namespace`: at least
    /// the DataVolumes that could attach to the user's pods and the SharedVolumes that could
    /// grant the user access (more is fine: the mutator decides).
    func mutationSnapshot(namespace: String, identity: PodIdentity) -> VolumeSnapshot
    /// The volumes whose claims a pod names (`dv-<name>`, `shv-<name>`), looked up by name.
    func validationSnapshot(namespace: String, dataVolumes: [String], sharedVolumes: [String]) -> VolumeSnapshot
}

extension DataVolume {
    /// What a new consumer waits for (nothing without a source: nothing to pull).
    var arrival: VolumeLifecycle.Arrival {
        VolumeLifecycle.arrival(hasSource: spec.source != nil, syncAllowed: true, onStart: syncPolicy.effectiveOnStart, status: status)
    }

    var isTerminating: Bool { metadata.deletionTimestamp != nil || status?.phase == .terminating }
}

extension AccessLevel {
    /// True when only members of a share can match the level's rules (`members`,
    /// `members:ReadWrite`), so a share of this level grants nothing to a non-member.
    var grantsMembersOnly: Bool {
        (read + write).allSatisfy { $0 == .members || $0 == .readWriteMembers }
    }
}

extension SharedVolume {
    func arrival(config: StowageConfig) -> VolumeLifecycle.Arrival {
        VolumeLifecycle.arrival(hasSource: spec.source != nil, syncAllowed: config.levels[spec.accessLevel]?.sync ?? true,
                                onStart: syncPolicy.effectiveOnStart, status: status)
    }
    var isTerminating: Bool { metadata.deletionTimestamp != nil || status?.phase == .terminating }
}
