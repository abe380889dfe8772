import Foundation
import KubeModel
import SyncContract

/// A volume for one user or one job, optionally backed by an object-storage location
/// (`stowage.io/v1alpha1`, short name `dv`).
public struct DataVolume: HasStatus {
    public static let apiVersion = StowageGroup.apiVersion
    public static let kind = "DataVolume"
    public static let plural = "datavolumes"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: DataVolumeSpec
    public var status: VolumeStatus?
    public var original = Original()

    public init(metadata: ObjectMeta, spec: DataVolumeSpec, status: VolumeStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// `name` in `namespace`, for tests and builders.
    public init(name: String, namespace: String? = nil, spec: DataVolumeSpec) {
        self.init(metadata: ObjectMeta(name: name, namespace: namespace), spec: spec)
    }

    /// The mount path pods get: `spec.mount.path`, else `/data/<metadata.name>`.
    public var effectiveMountPath: String { spec.mount?.path ?? "/data/\(metadata.name ?? "")" }

    /// Whether pods mount it read-only whatever their entitlement: RO volumes and
    /// `mount.readOnly: true`.
    public var mountsReadOnly: Bool { spec.effectiveAccess == .readOnly || spec.mount?.readOnly == true }
}

public struct DataVolumeSpec: Codable, Sendable, Hashable {
    /// The user the volume belongs to (as the spawner identifies users).
    public var owner: String?
    /// A Kubernetes quantity: `10Gi`, `500M`.
    public var size: String
    public var storageClassName: String?
    /// PVC access modes; default `[ReadWriteOnce]`.
    public var accessModes: [String]?
    public var source: DataSource?
    /// The sync mode; default `RW`.
    public var access: AccessMode?
    public var mount: Mount?
    public var attachTo: AttachTo?
    public var sync: SyncPolicy?
    public var cache: CachePolicy?
    /// What happens to the PVC when the DataVolume is deleted; default `Delete`.
    public var reclaimPolicy: ReclaimPolicy?

    public init(owner: String? = nil, size: String, storageClassName: String? = nil, accessModes: [String]? = nil,
                source: DataSource? = nil, access: AccessMode? = nil, mount: Mount? = nil, attachTo: AttachTo? = nil,
                sync: SyncPolicy? = nil, cache: CachePolicy? = nil, reclaimPolicy: ReclaimPolicy? = nil) {
        self.owner = owner
        self.size = size
        self.storageClassName = storageClassName
        self.accessModes = accessModes
        self.source = source
        self.access = access
        self.mount = mount
        self.attachTo = attachTo
        self.sync = sync
        self.cache = cache
        self.reclaimPolicy = reclaimPolicy
    }

    public static let defaultAccessModes = ["ReadWriteOnce"]

    public var effectiveAccessModes: [String] { accessModes ?? Self.defaultAccessModes }
    public var effectiveAccess: AccessMode { access ?? .default }
    public var effectiveReclaimPolicy: ReclaimPolicy { reclaimPolicy ?? .default }
    /// The sync policy with every field at its default when `spec.sync` is absent.
    public var effectiveSync: SyncPolicy { sync ?? SyncPolicy() }
    public var effectiveCache: CachePolicy { cache ?? CachePolicy() }
}

/// Which pods a DataVolume is injected into (see `DataVolume.attaches(toPodOf:labels:)`).
public struct AttachTo: Codable, Sendable, Hashable {
    /// Users whose notebook pods get the volume (read-write unless the volume is RO).
    public var users: [String]?
    /// Pods whose labels match; see the entitlement rules for whose pods qualify.
    public var podSelector: LabelSelector?

    public init(users: [String]? = nil, podSelector: LabelSelector? = nil) {
        self.users = users
        self.podSelector = podSelector
    }
}
