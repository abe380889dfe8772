import KubeClient
import KubeModel
import KubeRuntime
import Logging
import ServiceLifecycle
import StowageAPI

/// The webhook's view of the cluster: DataVolumes and SharedVolumes of all namespaces and
/// the access-level configuration, kept current by watches so that every replica answers
/// from memory, with no API call on the request path.
///
/// Its stores live in `SharedCaches`: the process's registry when one is given (in
/// `stowage operator`, shared with the controllers and run as a service of its own), else
/// a private one that `run()` runs.
///
/// A `Service`: `run()` watches until cancelled or gracefully shut down (with shared
/// caches it only waits for the shutdown). Not behind leader election: every replica
/// serves admission requests. `isReady` turns true once each store has its first list.
public final class WebhookCaches: VolumeSource, Service {
    public let dataVolumes: Store<DataVolume>
    public let sharedVolumes: Store<SharedVolume>
    /// The access-level configuration: the last valid version of the ConfigMap.
    public let configHolder: ConfigHolder
    private let configMaps: Store<ConfigMap>
    /// The registry the stores live in, and whether `run()` runs it (a private one).
    public let caches: SharedCaches
    public let runsCaches: Bool

    /// Index of DataVolumes by `<namespace>/<user>` for the owner and `attachTo.users`, and
    /// by `<namespace>/*` for those with a pod selector: the candidates for one user's pod
    /// without scanning every volume of a namespace.
    static let attachIndex = "attach"
    /// Index of SharedVolumes by `<namespace>/level:<level>`, `<namespace>/user:<member>` and
    /// `<namespace>/group:<member group>`: a user's candidates are the shares of levels that
    /// can grant non-members plus the shares naming the user or one of their groups.
    static let accessIndex = "access"

    /// Watches the volumes of all namespaces and the ConfigMap `configName` in
    /// `configNamespace` (the operator's namespace), in `caches` when given. `config`: the
    /// process's holder (`stowage operator`'s, which its config controller also feeds and
    /// reports from), else a holder of the webhook's own.
    public init(client: KubeClient, configNamespace: String, configName: String = StowageConfig.configMapName,
                config: ConfigHolder? = nil, caches: SharedCaches? = nil, logger: Logger) {
        runsCaches = caches == nil
        let caches = caches ?? SharedCaches(client: client, name: "webhook", logger: logger)
        self.caches = caches
        let holder = config ?? ConfigHolder(namespace: configNamespace, name: configName)
        configHolder = holder
        // Each volume also as the webhook reads it (`CachedVolume`), made once per version.
        let volumes = caches.informer(DataVolume.self, indexes: [Self.attachIndex: { volume in
            let ns = volume.metadata.namespace ?? ""
            var keys = Set((volume.spec.attachTo?.users ?? []) + (volume.spec.owner.map { [$0] } ?? [])).map { "\(ns)/\($0)" }
            if let selector = volume.spec.attachTo?.podSelector, !selector.isEmpty { keys.append("\(ns)/*") }
            return keys
        }], derive: { CachedVolume($0) })
        let shares = caches.informer(SharedVolume.self, indexes: [Self.accessIndex: { share in
            let ns = share.metadata.namespace ?? ""
            var keys: Set<String> = ["\(ns)/level:\(share.spec.accessLevel)"]
            for member in share.spec.members ?? [] {
                if let user = member.user { keys.insert("\(ns)/user:\(user)") }
                if let group = member.group { keys.insert("\(ns)/group:\(group)") }
            }
            return Array(keys)
        }], derive: { CachedVolume($0) })
        let maps = caches.informer(ConfigMap.self, namespace: configNamespace)
        dataVolumes = volumes.store
        sharedVolumes = shares.store
        configMaps = maps.store
        // Every replica serves admission requests: its caches watch for the life of the process.
        volumes.acquire()
        shares.acquire()
        maps.acquire()
        // For the life of the process: every replica keeps its configuration current.
        _ = maps.subscribe { event in
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
                    logger.info("webhook: access-level configuration applied",
                                metadata: ["levels": "\(holder.current.levels.keys.sorted())"])
                case .refused(let error):
                    logger.warning("webhook: access-level configuration refused; the previous one stays in force",
                                   metadata: ["error": "\(error)"])
                case .unchanged:
                    break
                }
            }
        }
    }

    public var isReady: Bool { dataVolumes.isSynced && sharedVolumes.isSynced && configMaps.isSynced }

    public func waitUntilSynced() async {
        await dataVolumes.waitUntilSynced()
        await sharedVolumes.waitUntilSynced()
        await configMaps.waitUntilSynced()
    }

    public var config: StowageConfig { configHolder.current }

    public func run() async throws {
        if runsCaches {
            try await caches.run()
        } else {
            // Shared caches run as their own service; nothing of the webhook's to stop.
            try? await gracefulShutdown()
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
