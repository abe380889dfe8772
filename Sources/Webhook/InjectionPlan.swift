import KubeModel
import StowageAPI

/// One volume the mutator means to give a pod, before conflicts with the pod are checked.
struct PlannedVolume: Sendable, Hashable {
    /// `dv/home-alice`, `shv/tools`.
    var reference: String
    /// `dv/home-alice:rw`, `shv/tools:ro`: the entry in `stowage.io/injected`.
    var label: String
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

    /// From the cache's view of the volume: nothing here is worked out per request (an
    /// interpolated label was 1,500 instructions, a mutation plans a dozen volumes).
    init<Volume>(_ cached: CachedVolume<Volume>, entitlement: Entitlement, config: StowageConfig) {
        readOnly = entitlement < .readWrite
        reference = cached.reference
        label = readOnly ? cached.injectedReadOnly : cached.injectedReadWrite
        claimName = cached.claimName
        podVolumeName = cached.podVolumeName
        mountPath = cached.mountPath
        software = cached.isSoftware
        arrival = cached.arrival(config: config)
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
                let entitlement = home.volume.entitlement(user: user, podLabels: podLabels)
                if home.isTerminating {
                    skipped.append("dv/\(homeName): the home DataVolume is being deleted")
                } else if entitlement == .none {
                    skipped.append("dv/\(homeName): the home DataVolume exists but user \"\(user)\" is not entitled to it")
                } else {
                    planned.append(PlannedVolume(home, entitlement: entitlement, config: config))
                }
            } else if let home = config.homes.dataVolume(for: user, namespace: namespace) {
                // The operator creates the home when this pod appears; without a source there
                // is nothing to pull, with one the wait container holds the pod until it is in.
                let entitlement: Entitlement = home.mountsReadOnly ? .read : .readWrite
                planned.append(PlannedVolume(CachedVolume(home), entitlement: entitlement, config: config))
            }
        }

        // Filter first, then sort the few that attach: namespaces hold thousands of volumes.
        // The volumes are the cache's own (`CachedVolume`), read in place and never copied.
        let attached = snapshot.cachedDataVolumes.filter { $0.volume.attaches(toPodOf: user, labels: podLabels) }
        for cached in attached.sorted(by: { $0.name < $1.name }) where !cached.name.isEmpty && !seen.contains(cached.name) {
            seen.insert(cached.name)
            if cached.isTerminating {
                skipped.append("dv/\(cached.name): the DataVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(cached, entitlement: cached.volume.entitlement(user: user, podLabels: podLabels),
                                         config: config))
        }

        // The user's groups once: the entitlement of each share reads them.
        let groups = config.groups(of: user, reported: identity.groups)
        let membershipOnly = config.levels.mapValues(\.grantsMembersOnly)
        let entitled = snapshot.cachedSharedVolumes.compactMap { cached -> (share: CachedVolume<SharedVolume>, entitlement: Entitlement)? in
            // Most shares of a large namespace grant by membership only: skip non-members
            // before the full decision.
            guard let onlyMembers = membershipOnly[cached.volume.spec.accessLevel] else { return nil }
            if onlyMembers, !(cached.volume.spec.members ?? []).contains(where: { $0.user == user || $0.group.map(groups.contains) == true }) {
                return nil
            }
            let entitlement = config.entitlement(user: user, resolvedGroups: groups, to: cached.volume)
            return entitlement > .none ? (cached, entitlement) : nil
        }
        for (share, entitlement) in entitled.sorted(by: { $0.share.name < $1.share.name }) where !share.name.isEmpty {
            if share.isTerminating {
                skipped.append("shv/\(share.name): the SharedVolume is being deleted")
                continue
            }
            planned.append(PlannedVolume(share, entitlement: entitlement, config: config))
        }
        return (planned, skipped)
    }
}
