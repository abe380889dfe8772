import KubeModel
import SyncContract

/// What the lifecycle reconciler needs of a volume kind: DataVolume and SharedVolume share
/// one reconciler (claim, sync Jobs, consumers, finalizer) and differ only here. Here, below
/// the operator and the webhook, which reads the same names.
public protocol ManagedVolume: HasStatus where Status == VolumeStatus {
    /// The label that ties children (claim, Jobs, pods) to the volume.
    static var ownerLabel: String { get }
    /// The kind's part of child names: `dv` or `shv`.
    static var childKind: ChildNames.Kind { get }

    var claimSpec: PersistentVolumeClaim.Spec { get }
    var dataSource: DataSource? { get }
    var accessMode: AccessMode { get }
    var syncPolicy: SyncPolicy { get }
    var cachePolicy: CachePolicy { get }
    var reclaimPolicy: ReclaimPolicy { get }
    func validationErrors() -> [String]
}

extension ManagedVolume {
    /// The claim's deterministic name (a DataVolume `home` has `dv-home`).
    public var claimName: String { ChildNames.claimName(kind: Self.childKind, name: metadata.name ?? "") }
}

extension DataVolume: ManagedVolume {
    public static var ownerLabel: String { StowageKeys.dataVolume }
    public static var childKind: ChildNames.Kind { .dataVolume }

    public var claimSpec: PersistentVolumeClaim.Spec {
        PersistentVolumeClaim.Spec(accessModes: spec.effectiveAccessModes, storage: spec.size, storageClassName: spec.storageClassName)
    }
    public var dataSource: DataSource? { spec.source }
    public var accessMode: AccessMode { spec.effectiveAccess }
    public var syncPolicy: SyncPolicy { spec.effectiveSync }
    public var cachePolicy: CachePolicy { spec.effectiveCache }
    public var reclaimPolicy: ReclaimPolicy { spec.effectiveReclaimPolicy }
    public func validationErrors() -> [String] { validate().map(\.description) }
}

extension SharedVolume: ManagedVolume {
    public static var ownerLabel: String { StowageKeys.sharedVolume }
    public static var childKind: ChildNames.Kind { .sharedVolume }

    public var claimSpec: PersistentVolumeClaim.Spec {
        PersistentVolumeClaim.Spec(accessModes: Self.accessModes, storage: spec.size, storageClassName: spec.storageClassName)
    }
    public var dataSource: DataSource? { spec.source }
    public var accessMode: AccessMode { spec.effectiveAccess }
    public var syncPolicy: SyncPolicy { spec.effectiveSync }
    /// A share is never evicted: several users rely on it at unrelated times.
    public var cachePolicy: CachePolicy { CachePolicy(retain: true) }
    public var reclaimPolicy: ReclaimPolicy { spec.effectiveReclaimPolicy }
    public func validationErrors() -> [String] { validate().map(\.description) }
}
