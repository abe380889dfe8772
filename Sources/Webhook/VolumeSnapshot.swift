import KubeModel
import StowageAPI

/// The part of the caches one admission decision reads: the configuration in force and
/// the volumes of the pod's namespace. A value, so the decisions are pure functions that
/// unit tests feed directly.
///
/// The volumes are held as the caches hold them (`CachedVolume`), shared and read in place.
public struct VolumeSnapshot: Sendable {
    public var config: StowageConfig
    /// DataVolumes of the namespace (the caches pass only the candidates for one user).
    var cachedDataVolumes: [CachedVolume<DataVolume>]
    var cachedSharedVolumes: [CachedVolume<SharedVolume>]

    public init(config: StowageConfig, dataVolumes: [DataVolume] = [], sharedVolumes: [SharedVolume] = []) {
        self.init(config: config, cachedDataVolumes: dataVolumes.map(CachedVolume.init),
                  cachedSharedVolumes: sharedVolumes.map(CachedVolume.init))
    }

    init(config: StowageConfig, cachedDataVolumes: [CachedVolume<DataVolume>],
         cachedSharedVolumes: [CachedVolume<SharedVolume>]) {
        self.config = config
        self.cachedDataVolumes = cachedDataVolumes
        self.cachedSharedVolumes = cachedSharedVolumes
    }

    /// The DataVolumes, as values (for tests that build or extend a snapshot).
    public var dataVolumes: [DataVolume] {
        get { cachedDataVolumes.map(\.volume) }
        set { cachedDataVolumes = newValue.map(CachedVolume.init) }
    }

    public var sharedVolumes: [SharedVolume] {
        get { cachedSharedVolumes.map(\.volume) }
        set { cachedSharedVolumes = newValue.map(CachedVolume.init) }
    }

    func dataVolume(named name: String) -> CachedVolume<DataVolume>? {
        cachedDataVolumes.first { $0.name == name }
    }

    func sharedVolume(named name: String) -> CachedVolume<SharedVolume>? {
        cachedSharedVolumes.first { $0.name == name }
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
    var isTerminating: Bool { metadata.deletionTimestamp != nil || status?.phase == .terminating }
}
