import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI

/// Everything `stowage operator` runs while it leads: the access-level configuration, the
/// DataVolume and SharedVolume reconcilers, and per-user homes.
public struct Operator: Sendable {
    public let config: ConfigHolder
    public let dataVolumes: VolumeReconciler<DataVolume>
    public let sharedVolumes: VolumeReconciler<SharedVolume>
    let configController: Controller<ConfigMap>
    let homes: Controller<Pod>
    /// The caches every controller here reads; `run` runs them when they are its own.
    let caches: SharedCaches
    let runsCaches: Bool
    let client: KubeClient
    let events: EventRecorder
    let logger: Logger

    /// `cacheSyncTimeout`: how long each controller waits for the first lists of its caches
    /// before `run` fails naming the kinds it could not list.
    /// `caches`: the process's shared caches, run as a service of their own; without them the
    /// controllers share caches that `run` runs for as long as it runs.
    public init(client: KubeClient, watchNamespace: String?, settings: SyncPodSettings, config: ConfigHolder,
                events: EventRecorder, metrics: MetricsRegistry?, workers: Int = 4, cacheSyncTimeout: Duration = .seconds(120),
                caches: SharedCaches? = nil, logger: Logger) {
        runsCaches = caches == nil
        let caches = caches ?? SharedCaches(client: client, metrics: metrics, logger: logger)
        self.caches = caches
        self.client = client
        self.events = events
        self.config = config
        self.logger = logger
        // One report per waiting notebook, whichever kinds of volume it waits for.
        let progress = SpawnProgress(interval: .seconds(settings.progressIntervalSeconds))
        dataVolumes = VolumeReconciler(client: client, namespace: watchNamespace, settings: settings, config: config, events: events,
                                       metrics: metrics, spawnProgress: progress, logger: logger, workers: workers, cacheSyncTimeout: cacheSyncTimeout,
                                       caches: caches)
        sharedVolumes = VolumeReconciler(client: client, namespace: watchNamespace, settings: settings, config: config, events: events,
                                         metrics: metrics, spawnProgress: progress, logger: logger, workers: workers, cacheSyncTimeout: cacheSyncTimeout,
                                         caches: caches)
        configController = config.controller(client: client, events: events, cacheSyncTimeout: cacheSyncTimeout, caches: caches, logger: logger)
        homes = HomeController.make(client: client, namespace: watchNamespace, config: config,
                                    dataVolumes: dataVolumes.controller.store, cacheSyncTimeout: cacheSyncTimeout, caches: caches, logger: logger)
        let shares = sharedVolumes
        let homeVolumes = dataVolumes.controller.store
        config.onChange { [config] in
            await shares.requeueAll()
            // A larger homes.size reaches the homes that exist (they only grow).
            for home in homeVolumes.all { await HomeController.growIfSmaller(home, homes: config.current.homes, client: client, logger: logger) }
        }
    }

    /// Loads the configuration, then runs every controller until cancelled. The Events they
    /// post are written by the recorder's own service, which outlives a leadership term.
    public func run() async throws {
        try await config.load(client: client, events: events, logger: logger)
        // Stopped (leadership lost, shutdown): the next leader reports the volumes.
        defer {
            dataVolumes.volumeMetrics?.forgetAll()
            sharedVolumes.volumeMetrics?.forgetAll()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if runsCaches { group.addTask { [caches] in try await caches.run() } }
            group.addTask { try await configController.run() }
            group.addTask { try await dataVolumes.controller.run() }
            group.addTask { try await sharedVolumes.controller.run() }
            group.addTask { try await homes.run() }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Creates a user's home DataVolume the first time a notebook pod of that user appears,
/// from the `homes` template of the access-level configuration.
///
/// The user is the identity the webhook established (`homeUser(of:spawners:)`), never
/// whatever a pod says. Creating a home grants nothing: mounting it still takes the
/// entitlement the validating webhook checks.
enum HomeController {
    static func make(client: KubeClient, namespace: String?, config: ConfigHolder,
                     dataVolumes: Store<DataVolume>, cacheSyncTimeout: Duration, caches: SharedCaches? = nil, logger: Logger) -> Controller<Pod> {
        // Pods are only read here: the cache the volume reconcilers share needs no `original`.
        Controller<Pod>(name: "homes", client: client, namespace: namespace, workers: 2, cacheSyncTimeout: cacheSyncTimeout,
                        caches: caches, keepsOriginal: false, logger: logger) { pod in
            let current = config.current
            let homes = current.homes
            guard homes.enabled, pod.metadata.deletionTimestamp == nil,
                  let user = homeUser(of: pod, spawners: current.spawners), let ns = pod.metadata.namespace,
                  let home = homes.dataVolume(for: user, namespace: ns), let name = home.metadata.name
            else { return .done }
            if let existing = dataVolumes.get(namespace: ns, name: name) {
                await growIfSmaller(existing, homes: homes, client: client, logger: logger)
                return .done
            }
            do {
                _ = try await client.resource(DataVolume.self, namespace: ns).create(home)
                logger.info("home created", metadata: ["user": "\(user)", "dv": "\(ns)/\(name)"])
            } catch let error as KubeClientError where error.apiCode == .alreadyExists {}
            return .done
        }
    }

    /// Raises a home's `spec.size` to `homes.size` when the admin raised it (z2jh#1346):
    /// the DataVolume's reconciler then expands its claim. Only homes the operator made
    /// (labelled so, and named for their owner), and never downwards.
    static func growIfSmaller(_ home: DataVolume, homes: HomesConfig, client: KubeClient, logger: Logger) async {
        guard homes.enabled, home.metadata.deletionTimestamp == nil,
              home.metadata.labels?[StowageKeys.managedBy] == StowageKeys.managedByValue,
              let owner = home.spec.owner, let ns = home.metadata.namespace, let name = home.metadata.name,
              homes.dataVolume(for: owner, namespace: ns)?.metadata.name == name,
              let has = Quantity.value(home.spec.size), let wanted = Quantity.value(homes.size), wanted > has
        else { return }
        do {
            _ = try await client.resource(DataVolume.self, namespace: ns).patch(name, .merge, ["spec": ["size": .string(homes.size)]])
            logger.info("home grown", metadata: ["dv": "\(ns)/\(name)", "from": "\(home.spec.size)", "to": "\(homes.size)"])
        } catch {
            logger.warning("home not grown", metadata: ["dv": "\(ns)/\(name)", "to": "\(homes.size)", "error": "\(error)"])
        }
    }

    /// The user whose home `pod` calls for, or nil. That is `stowage.io/user`, which only
    /// Stowage writes: the mutating webhook sets it on trusted spawners' pods and removes it
    /// from all others, and the validating webhook refuses any other value, at creation and
    /// on update, in every namespace it covers (docs/webhook.md, *Reserved keys*). It must
    /// also agree with the spawner's own user annotation, as it does whenever the webhook
    /// set it; the operator's own pods (`stowage.io/managed-by`) never call for a home.
    static func homeUser(of pod: Pod, spawners: SpawnerConfig) -> String? {
        guard pod.metadata.labels?[StowageKeys.managedBy] == nil,
              let annotations = pod.metadata.annotations, let user = annotations[StowageKeys.user], !user.isEmpty,
              annotations[spawners.userAnnotation] == user else { return nil }
        return user
    }
}
