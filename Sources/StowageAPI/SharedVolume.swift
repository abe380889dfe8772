import Foundation
import KubeModel
import SyncContract

/// A ReadWriteMany volume shared between users under an admin-defined access level
/// (`stowage.io/v1alpha1`, short name `shv`).
public struct SharedVolume: HasStatus {
    public static let apiVersion = StowageGroup.apiVersion
    public static let kind = "SharedVolume"
    public static let plural = "sharedvolumes"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: SharedVolumeSpec
    public var status: VolumeStatus?
    public var original = Original()

    public init(metadata: ObjectMeta, spec: SharedVolumeSpec, status: VolumeStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(name: String, namespace: String? = nil, spec: SharedVolumeSpec) {
        self.init(metadata: ObjectMeta(name: name, namespace: namespace), spec: spec)
    }

    /// Shared volumes are always ReadWriteMany: the storage class must offer it.
    public static let accessModes = ["ReadWriteMany"]

    /// The mount path pods get: `spec.mount.path`, else `/shared/<metadata.name>`.
    public var effectiveMountPath: String { spec.mount?.path ?? "/shared/\(metadata.name ?? "")" }

    /// Software shares, RO shares and `mount.readOnly: true` are mounted read-only for everyone.
    public var mountsReadOnly: Bool {
        spec.effectivePurpose == .software || spec.effectiveAccess == .readOnly || spec.mount?.readOnly == true
    }
}

public struct SharedVolumeSpec: Codable, Sendable, Hashable {
    public var size: String
    /// Must offer ReadWriteMany.
    public var storageClassName: String?
    public var mount: Mount?
    /// A level name from the access-level ConfigMap (`public`, `private`, `secret`, ...).
    public var accessLevel: String
    public var members: [Member]?
    /// Default `data`.
    public var purpose: Purpose?
    public var source: DataSource?
    /// The sync mode for the source, as on DataVolume; default `RW`.
    public var access: AccessMode?
    public var sync: SyncPolicy?
    /// What happens to the PVC when the SharedVolume is deleted; default `Delete`.
    public var reclaimPolicy: ReclaimPolicy?

    public init(size: String, storageClassName: String? = nil, mount: Mount? = nil, accessLevel: String,
                members: [Member]? = nil, purpose: Purpose? = nil, source: DataSource? = nil,
                access: AccessMode? = nil, sync: SyncPolicy? = nil, reclaimPolicy: ReclaimPolicy? = nil) {
        self.size = size
        self.storageClassName = storageClassName
        self.mount = mount
        self.accessLevel = accessLevel
        self.members = members
        self.purpose = purpose
        self.source = source
        self.access = access
        self.sync = sync
        self.reclaimPolicy = reclaimPolicy
    }

    public var effectivePurpose: Purpose { purpose ?? .data }
    public var effectiveAccess: AccessMode { access ?? .default }
    public var effectiveReclaimPolicy: ReclaimPolicy { reclaimPolicy ?? .default }
    public var effectiveSync: SyncPolicy { sync ?? SyncPolicy() }
}

/// A grant to one user or one group.
public struct Member: Codable, Sendable, Hashable {
    public var user: String?
    public var group: String?
    public var access: MemberAccess

    public init(user: String, access: MemberAccess) {
        self.user = user
        self.access = access
    }

    public init(group: String, access: MemberAccess) {
        self.group = group
        self.access = access
    }
}

public enum MemberAccess: String, Codable, Sendable, Hashable, CaseIterable {
    case readOnly = "ReadOnly"
    case readWrite = "ReadWrite"
}

/// What a share holds, which decides how it is mounted.
public enum Purpose: String, Codable, Sendable, Hashable, CaseIterable {
    case data
    case notebooks
    /// Mounted read-only, and its path is added to `MODULEPATH` (Lmod module trees).
    case software
}
