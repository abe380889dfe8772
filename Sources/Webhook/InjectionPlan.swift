import Controllers
import KubeModel
import StowageAPI

/// One volume the mutator means to give a pod, before conflicts with the pod are checked.
struct PlannedVolume: Sendable, Hashable {
    var kind: ChildNames.Kind
    /// The DataVolume or SharedVolume name.
    var name: String
    var claimName: String
    /// The name of the pod volume (`dv-<name>`, hashed when needed).
    var podVolumeName: String
    var mountPath: String
    var readOnly: Bool
    /// `purpose: software`: the mount path joins `MODULEPATH`.
    var software: Bool
    /// What the pod waits for before it starts: unless `.inPlace`, the wait init container
    /// mounts the volume.
    var arrival: VolumeLifecycle.Arrival

    /// `dv/home-alice:rw`, `shv/tools:ro`: the entry in `stowage.io/injected`.
    var label: String { "\(kind.rawValue)/\(name):\(readOnly ? "ro" : "rw")" }
    var reference: String { "\(kind.rawValue)/\(name)" }

    init(_ volume: DataVolume, entitlement: Entitlement, arrival: VolumeLifecycle.Arrival) {
        let name = volume.metadata.name ?? ""
        kind = .dataVolume
        self.name = name
        claimName = volume.claimName
        podVolumeName = ChildNames.podVolumeName(kind: .dataVolume, name: name)
        mountPath = volume.effectiveMountPath
        readOnly = entitlement < .readWrite
        software = false
        self.arrival = arrival
    }

    init(_ share: SharedVolume, entitlement: Entitlement, config: StowageConfig) {
        let name = share.metadata.name ?? ""
        kind = .sharedVolume
        self.name = name
        claimName = share.claimName
        podVolumeName = ChildNames.podVolumeName(kind: .sharedVolume, name: name)
        mountPath = share.effectiveMountPath
        readOnly = entitlement < .readWrite
        software = share.spec.effectivePurpose == .software
        arrival = share.arrival(config: config)
    }
}

/// Which volumes a user's pod is entitled to, in a fixed order (home, DataVolumes by name,
/// SharedVolumes by name) so that conflicts between Stowage's own volumes resolve the same
/// way every time: the earlier one wins.
enum InjectionPlan {
    static func volumes(for identity: PodIdentity, podLabels: [String: String], namespace: String,
                        snapshot: VolumeSnapshot) -> (planned: [PlannedVolume], skipped: [String]) {
        guard let user = identity.user, !user.isEmpty else { return ([], []) }
        var planned: [PlannedVolume] = []
        var skipped: [String] = []
        var seen = Set<String>()
        let config = snapshot.config

        if config.homes.enabled, let homeName = UserName.homeName(for: user) {
            seen.insert(homeName)
            if let home = snapshot.dataVolume(named: homeName) {
                let entitlement = home.entitlement(user: user, podLabels: podLabels)
                if home.isTerminating {
                    skipped.append("dv/\(homeName): the home DataVolume is being deleted")
                } else if entitlement == .none {
                    skipped.append("dv/\(homeName): the home DataVolume exists but user \"\(user)\" is not entitled to it")
                } else {
                    planned.append(PlannedVolume(home, entitlement: entitlement, arrival: home.arrival))
                }
            } else if let home = config.homes.dataVolume(for: user, namespace: namespace) {
                // The operator creates the home when this pod appears; without a source there
                // is nothing to pull, with one the wait container holds the pod until it is in.
                let entitlement: Entitlement = home.mountsReadOnly ? .read : .readWrite
                planned.append(PlannedVolume(home, entitlement: entitlement, arrival: home.arrival))
            }
        }

        // Filter first, then sort the few that attach: namespaces hold thousands of volumes.
        let attached = snapshot.dataVolumes.filter { $0.attaches(toPodOf: user, labels: podLabels) }
        for volume in attached.sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
            guard let name = volume.metadata.name, !seen.contains(name) else { continue }
            seen.insert(name)
            if volume.isTerminating {
                skipped.append("dv/\(name): the DataVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(volume, entitlement: volume.entitlement(user: user, podLabels: podLabels),
                                         arrival: volume.arrival))
        }

        let groups = config.groups(of: user, reported: identity.groups)
        let membershipOnly = config.levels.mapValues(\.grantsMembersOnly)
        let entitled = snapshot.sharedVolumes.compactMap { share -> (SharedVolume, Entitlement)? in
            // Most shares of a large namespace grant by membership only: skip non-members
            // before the full decision, which builds group sets per call.
            guard let onlyMembers = membershipOnly[share.spec.accessLevel] else { return nil }
            if onlyMembers, !(share.spec.members ?? []).contains(where: { $0.user == user || $0.group.map(groups.contains) == true }) {
                return nil
            }
            let entitlement = config.entitlement(user: user, groups: groups, to: share)
            return entitlement > .none ? (share, entitlement) : nil
        }
        // Sort by name without moving whole volumes around.
        let order = entitled.indices.sorted { (entitled[$0].0.metadata.name ?? "") < (entitled[$1].0.metadata.name ?? "") }
        for (share, entitlement) in order.map({ entitled[$0] }) {
            guard let name = share.metadata.name else { continue }
            if share.isTerminating {
                skipped.append("shv/\(name): the SharedVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(share, entitlement: entitlement, config: config))
        }
        return (planned, skipped)
    }
}
