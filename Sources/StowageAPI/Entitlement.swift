/// What a user may do with a volume: the answer the mutating webhook uses to decide what to
/// inject (and whether read-only) and the validating webhook uses to refuse pods.
public enum Entitlement: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case none
    case read
    case readWrite

    public static func < (a: Entitlement, b: Entitlement) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .none: "none"
        case .read: "read"
        case .readWrite: "readWrite"
        }
    }
}

extension StowageConfig {
    /// The groups `user` belongs to: those the spawner reported and those of this
    /// configuration that list the user.
    public func groups(of user: String, reported: Set<String> = []) -> Set<String> {
        reported.union(groups.compactMap { $0.value.contains(user) ? $0.key : nil })
    }

    /// What `user` may do with `share` under its access level.
    ///
    /// A write rule that matches gives readWrite (writing implies reading), else a read rule
    /// that matches gives read, else none. An unidentified user (nil or empty), an unknown
    /// level and a rule list that matches nobody all give none; software shares cap at read.
    public func entitlement(user: String?, groups reported: Set<String>, to share: SharedVolume) -> Entitlement {
        guard let user, !user.isEmpty else { return .none }
        return entitlement(user: user, resolvedGroups: groups(of: user, reported: reported), to: share)
    }

    /// `entitlement(user:groups:to:)` for groups already resolved by `groups(of:reported:)`,
    /// for a caller that judges many shares for one user (resolving walks every group).
    public func entitlement(user: String, resolvedGroups groups: Set<String>, to share: SharedVolume) -> Entitlement {
        guard !user.isEmpty, let level = levels[share.spec.accessLevel] else { return .none }
        var membership: MemberAccess?
        for member in share.spec.members ?? [] {
            let matches = member.user.map { $0 == user } ?? member.group.map(groups.contains) ?? false
            // A member with both or neither of user and group is invalid and grants nothing.
            guard matches, (member.user == nil) != (member.group == nil) else { continue }
            if membership != .readWrite { membership = member.access }
        }
        func matches(_ rule: AccessRule) -> Bool {
            switch rule {
            case .anyUser: true
            case .members: membership != nil
            case .readWriteMembers: membership == .readWrite
            case .group(let g): groups.contains(g)
            case .user(let u): u == user
            }
        }
        let granted: Entitlement = level.write.contains(where: matches) ? .readWrite
            : level.read.contains(where: matches) ? .read : .none
        return share.mountsReadOnly ? min(granted, .read) : granted
    }
}

extension DataVolume {
    /// What the pod of `user` with `podLabels` may do with this volume.
    ///
    /// - The owner and the users in `attachTo.users` get readWrite.
    /// - `attachTo.podSelector` grants readWrite to matching pods only when the volume has no
    ///   owner, or the pod's user is the owner: labels are set by whoever creates the pod,
    ///   so a selector alone must never hand one user's volume to another user.
    /// - RO volumes and `mount.readOnly` cap the result at read.
    /// - A pod with no identified user gets none.
    public func entitlement(user: String?, podLabels: [String: String]) -> Entitlement {
        guard let user, !user.isEmpty else { return .none }
        var granted = Entitlement.none
        if spec.owner == user || (spec.attachTo?.users ?? []).contains(user) {
            granted = .readWrite
        } else if spec.owner == nil, let selector = spec.attachTo?.podSelector, !selector.isEmpty,
                  selector.matches(labels: podLabels) {
            granted = .readWrite
        }
        return mountsReadOnly ? min(granted, .read) : granted
    }

    /// Whether the mutating webhook injects this volume into the pod of `user` with
    /// `podLabels`: users listed in `attachTo.users` always; pods matching
    /// `attachTo.podSelector` when entitled; and, with no `attachTo` at all, the owner's pods.
    public func attaches(toPodOf user: String?, labels podLabels: [String: String]) -> Bool {
        guard let user, !user.isEmpty, entitlement(user: user, podLabels: podLabels) > .none else { return false }
        guard let attach = spec.attachTo else { return spec.owner == user }
        if (attach.users ?? []).contains(user) { return true }
        if let selector = attach.podSelector, !selector.isEmpty { return selector.matches(labels: podLabels) }
        return false
    }
}

extension SharedVolume {
    /// Whether the webhook injects this share into a pod: every pod whose user is entitled.
    public func attaches(toPodOf user: String?, groups: Set<String>, config: StowageConfig) -> Bool {
        config.entitlement(user: user, groups: groups, to: self) > .none
    }
}
