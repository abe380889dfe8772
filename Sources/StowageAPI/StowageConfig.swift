import Foundation
import KubeModel
import SyncContract

/// The cluster admin's access-level configuration: groups, access levels, per-user homes
/// and trusted spawners, read from key `config.yaml` of the ConfigMap `stowage-config` in
/// the operator's namespace (see docs/api.md for the format).
///
/// A bad ConfigMap never replaces a good one: `parse(yaml:)` either returns a complete
/// configuration or throws a `ConfigError` with the line and column to fix.
public struct StowageConfig: Sendable, Hashable {
    public static let configMapName = "stowage-config"
    public static let configMapKey = "config.yaml"

    /// Group name to member user names.
    public var groups: [String: Set<String>]
    public var levels: [String: AccessLevel]
    public var homes: HomesConfig
    public var spawners: SpawnerConfig

    public init(groups: [String: Set<String>] = [:], levels: [String: AccessLevel] = [:],
                homes: HomesConfig = HomesConfig(), spawners: SpawnerConfig = SpawnerConfig()) {
        self.groups = groups
        self.levels = levels
        self.homes = homes
        self.spawners = spawners
    }

    /// The configuration in force when there is no ConfigMap: no groups, no levels (so no
    /// SharedVolume grants anything), homes off, no trusted spawners.
    public static let empty = StowageConfig()

    /// Problems with `share` that depend on this configuration: an undefined level, or a
    /// source on a level that forbids sync.
    public func validate(_ share: SharedVolume) -> [FieldError] {
        guard let level = levels[share.spec.accessLevel] else {
            let known = levels.keys.sorted().joined(separator: ", ")
            return [FieldError("spec.accessLevel", "unknown access level \"\(share.spec.accessLevel)\" (defined: \(known.isEmpty ? "none" : known))")]
        }
        if !level.sync && share.spec.source != nil {
            return [FieldError("spec.source", "access level \"\(share.spec.accessLevel)\" does not allow sync with object storage")]
        }
        return []
    }
}

/// Who may read and who may write the SharedVolumes of one level.
public struct AccessLevel: Sendable, Hashable {
    public var read: [AccessRule]
    public var write: [AccessRule]
    /// Whether volumes of this level may have a source (false keeps data in the cluster).
    public var sync: Bool

    public init(read: [AccessRule] = [], write: [AccessRule] = [], sync: Bool = true) {
        self.read = read
        self.write = write
        self.sync = sync
    }
}

/// One entry of a level's `read` or `write` list.
public enum AccessRule: Sendable, Hashable, CustomStringConvertible {
    /// `*`: any identified user.
    case anyUser
    /// `members`: any member of the volume, whatever their access.
    case members
    /// `members:ReadWrite`: members granted ReadWrite.
    case readWriteMembers
    /// `group:NAME`
    case group(String)
    /// `user:NAME`
    case user(String)

    public static let grammar = "*, members, members:ReadWrite, group:NAME or user:NAME"

    public init?(parsing text: String) {
        switch text {
        case "*": self = .anyUser
        case "members": self = .members
        case "members:ReadWrite": self = .readWriteMembers
        default:
            if text.hasPrefix("group:"), text.count > 6 { self = .group(String(text.dropFirst(6))) }
            else if text.hasPrefix("user:"), text.count > 5 { self = .user(String(text.dropFirst(5))) }
            else { return nil }
        }
    }

    public var description: String {
        switch self {
        case .anyUser: "*"
        case .members: "members"
        case .readWriteMembers: "members:ReadWrite"
        case .group(let g): "group:\(g)"
        case .user(let u): "user:\(u)"
        }
    }
}

/// Per-user home volumes, created the first time a notebook pod of a user appears.
public struct HomesConfig: Sendable, Hashable {
    public var enabled: Bool
    public var size: String
    public var storageClassName: String?
    public var mountPath: String
    public var access: AccessMode
    /// Where homes live in object storage; the S3 prefix must contain `{username}`.
    public var source: DataSource?

    public static let placeholder = "{username}"

    public init(enabled: Bool = false, size: String = "10Gi", storageClassName: String? = nil,
                mountPath: String = "/home/jovyan", access: AccessMode = .readWrite, source: DataSource? = nil) {
        self.enabled = enabled
        self.size = size
        self.storageClassName = storageClassName
        self.mountPath = mountPath
        self.access = access
        self.source = source
    }

    /// The home DataVolume of `user` in `namespace`, or nil when homes are off or the user
    /// name is empty. `{username}` in the prefix becomes the escaped user name
    /// (`UserName.escape`), so a user name can never reach another user's prefix (`../bob`).
    public func dataVolume(for user: String, namespace: String) -> DataVolume? {
        guard enabled, let name = UserName.homeName(for: user) else { return nil }
        var source = self.source
        if let prefix = source?.s3?.prefix {
            source?.s3?.prefix = prefix.replacingOccurrences(of: Self.placeholder, with: UserName.escape(user))
        }
        let spec = DataVolumeSpec(
            owner: user, size: size, storageClassName: storageClassName, source: source, access: access,
            mount: Mount(path: mountPath), attachTo: AttachTo(users: [user]))
        var volume = DataVolume(name: name, namespace: namespace, spec: spec)
        volume.metadata.labels = [
            StowageKeys.managedBy: StowageKeys.managedByValue,
            StowageKeys.user: UserName.labelValue(user),
        ]
        return volume
    }
}

/// Which pod creators are trusted to say who a pod belongs to, and where they say it.
public struct SpawnerConfig: Sendable, Hashable {
    /// Kubernetes user names (`system:serviceaccount:jhub:hub`) whose pods carry identities.
    public var trusted: [String]
    /// The pod annotation holding the user name.
    public var userAnnotation: String
    /// The pod annotation holding the user's groups, comma-separated.
    public var groupsAnnotation: String

    public init(trusted: [String] = [], userAnnotation: String = "hub.jupyter.org/username",
                groupsAnnotation: String = "stowage.io/groups") {
        self.trusted = trusted
        self.userAnnotation = userAnnotation
        self.groupsAnnotation = groupsAnnotation
    }

    /// The user and groups a pod's annotations name, if `creator` (the admission request's
    /// user) is trusted; an untrusted creator's pod identifies nobody.
    public func identity(creator: String, annotations: [String: String]) -> (user: String?, groups: Set<String>) {
        guard trusted.contains(creator), let user = annotations[userAnnotation], !user.isEmpty else { return (nil, []) }
        let groups = (annotations[groupsAnnotation] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (user, Set(groups))
    }
}
