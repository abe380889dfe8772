import Controllers
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import ServiceLifecycle
import StowageAPI

/// The webhook's own view of the cluster: DataVolumes and SharedVolumes of all namespaces
/// and the access-level configuration, kept current by watches so that every replica
/// answers from memory, with no API call on the request path.
///
/// A `Service`: `run()` watches until cancelled or gracefully shut down. Not behind leader
/// election: every replica serves admission requests. `isReady` turns true once each
/// watch has its first full list.
public final class WebhookCaches: VolumeSource, Service {
    public let dataVolumes: Store<DataVolume>
    public let sharedVolumes: Store<SharedVolume>
    /// The access-level configuration: the last valid version of the ConfigMap.
    public let configHolder: ConfigHolder
    private let configMaps = Store<ConfigMap>()
    private let client: KubeClient
    private let logger: Logger

    /// Index of DataVolumes by `<namespace>/<user>` for the owner and `attachTo.users`, and
    /// by `<namespace>/*` for those with a pod selector: the candidates for one user's pod
    /// without scanning every volume of a namespace.
    static let attachIndex = "attach"
    /// Index of SharedVolumes by `<namespace>/level:<level>`, `<namespace>/user:<member>` and
    /// `<namespace>/group:<member group>`: a user's candidates are the shares of levels that
    /// can grant non-members plus the shares naming the user or one of their groups.
    static let accessIndex = "access"

    /// Watches the volumes of all namespaces and the ConfigMap `configName` in
    /// `configNamespace` (the operator's namespace).
    public init(client: KubeClient, configNamespace: String, configName: String = StowageConfig.configMapName,
                logger: Logger) {
        self.client = client
        self.logger = logger
        configHolder = ConfigHolder(namespace: configNamespace, name: configName)
        // Each volume also as the webhook reads it (`CachedVolume`), made once per version.
        dataVolumes = Store<DataVolume>(indexes: [Self.attachIndex: { volume in
            let ns = volume.metadata.namespace ?? ""
            var keys = Set((volume.spec.attachTo?.users ?? []) + (volume.spec.owner.map { [$0] } ?? [])).map { "\(ns)/\($0)" }
            if let selector = volume.spec.attachTo?.podSelector, !selector.isEmpty { keys.append("\(ns)/*") }
            return keys
        }], derive: { CachedVolume($0) })
        sharedVolumes = Store<SharedVolume>(indexes: [Self.accessIndex: { share in
            let ns = share.metadata.namespace ?? ""
            var keys: Set<String> = ["\(ns)/level:\(share.spec.accessLevel)"]
            for member in share.spec.members ?? [] {
                if let user = member.user { keys.insert("\(ns)/user:\(user)") }
                if let group = member.group { keys.insert("\(ns)/group:\(group)") }
            }
            return Array(keys)
        }], derive: { CachedVolume($0) })
    }

    public var isReady: Bool { dataVolumes.isSynced && sharedVolumes.isSynced && configMaps.isSynced }

    public func waitUntilSynced() async {
        await dataVolumes.waitUntilSynced()
        await sharedVolumes.waitUntilSynced()
        await configMaps.waitUntilSynced()
    }

    public var config: StowageConfig { configHolder.current }

    public func run() async throws {
        do {
            try await watch()
        } catch where Task.isShuttingDownGracefully {
            // SIGTERM: the watches stopped because the drain cancelled them, which is not a
            // failure (the operator exits 0 after a clean drain).
        }
    }

    private func watch() async throws {
        let holder = configHolder
        let log = logger
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Watcher(self.client.resource(DataVolume.self), store: self.dataVolumes, logger: log).run { _ in }
                }
                group.addTask {
                    try await Watcher(self.client.resource(SharedVolume.self), store: self.sharedVolumes, logger: log).run { _ in }
                }
                group.addTask {
                    let maps = self.client.resource(ConfigMap.self, namespace: holder.namespace)
                    try await Watcher(maps, store: self.configMaps, logger: log).run { event in
                        let seen: [ConfigMap]
                        switch event {
                        case .relisted(let current, _): seen = current
                        case .applied(let map): seen = [map]
                        // A deleted ConfigMap keeps the last valid configuration in force.
                        case .deleted: seen = []
                        }
                        for map in seen where map.metadata.name == holder.name {
                            switch holder.take(map) {
                            case .applied:
                                log.info("webhook: access-level configuration applied",
                                         metadata: ["levels": "\(holder.current.levels.keys.sorted())"])
                            case .refused(let error):
                                log.warning("webhook: access-level configuration refused; the previous one stays in force",
                                            metadata: ["error": "\(error)"])
                            case .unchanged:
                                break
                            }
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    public func mutationSnapshot(namespace: String, identity: PodIdentity) -> VolumeSnapshot {
        let config = configHolder.current
        guard let user = identity.user, !user.isEmpty else { return VolumeSnapshot(config: config) }
        // References to the stores' `CachedVolume`s: no volume is copied.
        var candidates = dataVolumes.derived(byIndex: Self.attachIndex, anyOf: ["\(namespace)/\(user)", "\(namespace)/*"],
                                             as: CachedVolume<DataVolume>.self)
        if let home = UserName.homeName(for: user), !candidates.contains(where: { $0.name == home }),
           let volume = dataVolumes.derived(namespace: namespace, name: home, as: CachedVolume<DataVolume>.self) {
            candidates.append(volume)
        }
        var keys = config.levels.filter { !$0.value.grantsMembersOnly }.map { "\(namespace)/level:\($0.key)" }
        keys.append("\(namespace)/user:\(user)")
        keys += config.groups(of: user, reported: identity.groups).map { "\(namespace)/group:\($0)" }
        return VolumeSnapshot(config: config, cachedDataVolumes: candidates,
                              cachedSharedVolumes: sharedVolumes.derived(byIndex: Self.accessIndex, anyOf: keys,
                                                                         as: CachedVolume<SharedVolume>.self))
    }

    public func validationSnapshot(namespace: String, dataVolumes names: [String], sharedVolumes shares: [String]) -> VolumeSnapshot {
        VolumeSnapshot(config: configHolder.current,
                       cachedDataVolumes: names.compactMap { dataVolumes.derived(namespace: namespace, name: $0, as: CachedVolume<DataVolume>.self) },
                       cachedSharedVolumes: shares.compactMap { sharedVolumes.derived(namespace: namespace, name: $0, as: CachedVolume<SharedVolume>.self) })
    }
}

extension WebhookCaches {
    /// The caches as a source that is ready by decree, for caches filled by hand
    /// (`Store.wrote`) rather than by watches, which therefore never see a list: what the
    /// benchmarks and the unit tests decide from.
    public struct FilledByHand: VolumeSource {
        public let caches: WebhookCaches
        public init(_ caches: WebhookCaches) { self.caches = caches }
        public var isReady: Bool { true }
        public var config: StowageConfig { caches.config }
        public func mutationSnapshot(namespace: String, identity: PodIdentity) -> VolumeSnapshot {
            caches.mutationSnapshot(namespace: namespace, identity: identity)
        }
        public func validationSnapshot(namespace: String, dataVolumes: [String], sharedVolumes: [String]) -> VolumeSnapshot {
            caches.validationSnapshot(namespace: namespace, dataVolumes: dataVolumes, sharedVolumes: sharedVolumes)
        }
    }
}
