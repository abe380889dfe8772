import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import Synchronization

/// One cache per (kind, namespace, label selector) per process, shared by every controller
/// and the admission webhook, as controller-runtime's cache and kube-rs's reflector
/// `Store` are: one list and one watch feed one `Store`, whose events every subscriber gets.
///
/// Users register what they need before `run` starts: `informer(...)` returns the same
/// informer for the same key, adding the caller's indexes to it (an index of the same name
/// is shared), keeping `original` JSON when any user asks for it, and taking a derive
/// function (one per store). Controllers subscribe to the events for their mapping to
/// reconcile keys; the webhook reads the stores.
///
/// A cache watches only while someone needs it (`Informer.acquire`): the webhook for as long
/// as the process lives, a controller while it runs (on a standby replica, only while it
/// leads), as a controller with caches of its own did. A cache that stopped keeps what it
/// held; when it starts again its first list replaces that.
///
/// A `Service`: `run()` watches every registered kind until cancelled or gracefully shut
/// down; it may run again after it returned (a controller with caches of its own runs
/// them once per leadership term). `isSynced` turns true once every store has its first list.
public final class SharedCaches: Service, Sendable {
    let client: KubeClient
    let logger: Logger
    /// The `controller` label of `stowage_watch_restarts_total`.
    let name: String
    let metrics: MetricsRegistry?

    private struct State {
        var informers: [CacheKey: any RunnableInformer] = [:]
        /// Keys in registration order, so that runs and diagnostics are deterministic.
        var order: [CacheKey] = []
        var running = false
    }

    private let state = Mutex(State())

    public init(client: KubeClient, name: String = "caches", metrics: MetricsRegistry? = nil, logger: Logger) {
        self.client = client
        self.name = name
        self.metrics = metrics
        self.logger = logger
    }

    /// The informer of `R` in `namespace` (nil: all namespaces) with `labelSelector`:
    /// created on first use, then the same one for every caller. Before `run` starts.
    public func informer<R: KubeResource>(_ type: R.Type, namespace: String? = nil, labelSelector: String? = nil,
                                          indexes: [String: Store<R>.IndexFunction] = [:], keepsOriginal: Bool = true,
                                          derive: Store<R>.DeriveFunction? = nil) -> Informer<R> {
        let key = CacheKey(apiVersion: R.apiVersion, kind: R.kind, namespace: R.namespaced ? namespace : nil,
                           labelSelector: labelSelector)
        let informer: Informer<R> = state.withLock { s in
            if let existing = s.informers[key] {
                guard let typed = existing as? Informer<R> else {
                    preconditionFailure("SharedCaches: \(key) registered as \(Swift.type(of: existing)), asked for as \(R.self)")
                }
                precondition(!s.running || keepsOriginal == false || typed.store.keepsOriginal,
                             "SharedCaches: \(key) asked to keep originals after the caches started")
                return typed
            }
            precondition(!s.running, "SharedCaches: \(key) registered after the caches started")
            let made = Informer<R>(key: key, store: Store(keepsOriginal: keepsOriginal))
            s.informers[key] = made
            s.order.append(key)
            return made
        }
        informer.store.addIndexes(indexes)
        if keepsOriginal { informer.store.keepOriginals() }
        if let derive {
            precondition(informer.store.setDerive(derive), "SharedCaches: \(key) has a derive function already")
        }
        return informer
    }

    /// Every registered cache, in registration order.
    public var keys: [CacheKey] { state.withLock { $0.order } }

    /// True once every store someone needs watched has its first list.
    public var isSynced: Bool { needed.allSatisfy(\.isSynced) }

    /// Returns once every store someone needs watched has its first list, or when the
    /// waiting task is cancelled.
    public func waitUntilSynced() async {
        for cache in needed { await cache.waitUntilSynced() }
    }

    private var needed: [any SyncedCache] {
        state.withLock { s in s.order.compactMap { s.informers[$0] }.filter { $0.users > 0 }.map(\.cache) }
    }

    /// Watches every registered kind until cancelled; on graceful shutdown it returns
    /// without an error (the drain cancelled the watches, which is not a failure).
    public func run() async throws {
        let informers: [any RunnableInformer] = state.withLock { s in
            precondition(!s.running, "SharedCaches: run while running")
            s.running = true
            return s.order.compactMap { s.informers[$0] }
        }
        defer { state.withLock { $0.running = false } }
        logger.debug("caches starting", metadata: ["caches": "\(informers.map(\.key))"])
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for informer in informers {
                        group.addTask { try await informer.run(in: self) }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch where Task.isShuttingDownGracefully {}
    }
}

/// What identifies a shared cache.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public var apiVersion: String
    public var kind: String
    /// nil: all namespaces (always nil for cluster-scoped kinds).
    public var namespace: String?
    public var labelSelector: String?

    public var description: String {
        "\(kind) in \(namespace ?? "all namespaces")" + (labelSelector.map { " (\($0))" } ?? "")
    }
}

/// The shared cache of one key: its store, and the subscribers its watcher's events go to.
public final class Informer<R: KubeResource>: Sendable {
    public typealias Handler = @Sendable (WatcherEvent<R>) async -> Void

    public let key: CacheKey
    public let store: Store<R>
    /// How many users need it watched now.
    private let demand = Latch(0)
    private let subscribers = Mutex<(next: UInt64, handlers: [UInt64: Handler])>((0, [:]))

    init(key: CacheKey, store: Store<R>) {
        self.key = key
        self.store = store
    }

    /// Calls `handler` after each store update from now on, until `unsubscribe`. Events
    /// before the subscription are not replayed: a subscriber that needs every object
    /// reads the store once it is synced (as `Controller.run` does).
    public func subscribe(_ handler: @escaping Handler) -> Subscription {
        let id = subscribers.withLock { s in
            let id = s.next
            s.next += 1
            s.handlers[id] = handler
            return id
        }
        return Subscription(id: id)
    }

    public func unsubscribe(_ subscription: Subscription) {
        _ = subscribers.withLock { $0.handlers.removeValue(forKey: subscription.id) }
    }

    public struct Subscription: Sendable {
        let id: UInt64
    }

    /// Asks for the cache to be watched (when its registry runs) until a matching `release`.
    public func acquire() { demand.withLock { $0 += 1 } }

    public func release() { demand.withLock { $0 -= 1 } }

    /// How many users need it watched now (for tests and diagnostics).
    public var users: Int { demand.value }

    /// Hands `event` to every subscriber, in subscription order (the watcher does after
    /// each store update; also what unit tests feed without a watch).
    func publish(_ event: WatcherEvent<R>) async {
        let handlers = subscribers.withLock { s in s.handlers.sorted { $0.key < $1.key }.map(\.value) }
        for handler in handlers { await handler(event) }
    }
}

/// An informer whatever its kind, for the registry to run.
protocol RunnableInformer: Sendable {
    var key: CacheKey { get }
    var users: Int { get }
    var cache: any SyncedCache { get }
    func run(in caches: SharedCaches) async throws
}

extension Informer: RunnableInformer {
    var cache: any SyncedCache { store }

    func run(in caches: SharedCaches) async throws {
        let restarts = caches.metrics.map { registry in
            { @Sendable (reason: String) in
                ControllerMetrics(registry: registry, controller: caches.name).watchRestarted(kind: R.kind, reason: reason)
            }
        }
        let watcher = Watcher(caches.client.resource(R.self, namespace: key.namespace), store: store,
                              labelSelector: key.labelSelector, logger: caches.logger, onRestart: restarts)
        while true {
            try await demand.wait { $0 > 0 ? () : nil }
            // Watches until nobody needs it (or the watcher fails, which it does only when cancelled).
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await watcher.run { event in await self.publish(event) } }
                group.addTask { try await self.demand.wait { $0 <= 0 ? () : nil } }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
