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
        // By index, as below: a copy of a volume retains every part of it.
        let volumes = snapshot.dataVolumes
        let attached = volumes.indices.filter { volumes[$0].attaches(toPodOf: user, labels: podLabels) }
        for i in attached.sorted(by: { (volumes[$0].metadata.name ?? "") < (volumes[$1].metadata.name ?? "") }) {
            guard let name = volumes[i].metadata.name, !seen.contains(name) else { continue }
            seen.insert(name)
            if volumes[i].isTerminating {
                skipped.append("dv/\(name): the DataVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(volumes[i], entitlement: volumes[i].entitlement(user: user, podLabels: podLabels),
                                         arrival: volumes[i].arrival))
        }

        let groups = config.groups(of: user, reported: identity.groups)
        let membershipOnly = config.levels.mapValues(\.grantsMembersOnly)
        let shares = snapshot.sharedVolumes
        let entitled = shares.indices.compactMap { i -> (share: Int, entitlement: Entitlement)? in
            // Most shares of a large namespace grant by membership only: skip non-members
            // before the full decision, which builds group sets per call.
            guard let onlyMembers = membershipOnly[shares[i].spec.accessLevel] else { return nil }
            if onlyMembers, !(shares[i].spec.members ?? []).contains(where: { $0.user == user || $0.group.map(groups.contains) == true }) {
                return nil
            }
            let entitlement = config.entitlement(user: user, groups: groups, to: shares[i])
            return entitlement > .none ? (i, entitlement) : nil
        }
        for (i, entitlement) in entitled.sorted(by: { (shares[$0.share].metadata.name ?? "") < (shares[$1.share].metadata.name ?? "") }) {
            guard let name = shares[i].metadata.name else { continue }
            if shares[i].isTerminating {
                skipped.append("shv/\(name): the SharedVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(shares[i], entitlement: entitlement, config: config))
        }
        return (planned, skipped)
    }
}
