import Foundation
import KubeClient
import KubeModel
import Logging
import Synchronization

/// Runs reconcile passes for one root kind: a watcher keeps the root cache, child kinds it
/// `owns` map back to their owner through ownerReferences, other kinds it `watches` map
/// through a function, and `workers` reconcile keys from one work queue (never the same
/// key twice at once).
///
/// The reconciler reads the world each pass (level-based, STYLE.md habit 1) and returns a
/// `ReconcileAction`; throwing retries with backoff, a `TerminalError` waits for a change.
public final class Controller<R: KubeResource>: Sendable {
    public typealias Reconciler = @Sendable (R) async throws -> ReconcileAction

    public let name: String
    public let store: Store<R>
    public let queue: WorkQueue
    let client: KubeClient
    let namespace: String?
    let workers: Int
    let labelSelector: String?
    let reconciler: Reconciler
    let logger: Logger
    let metrics: ControllerMetrics?
    let cacheSyncTimeout: Duration
    private let sources = Mutex<[@Sendable (Controller<R>) async throws -> Void]>([])
    /// The caches of the kinds it watches besides the root, with their label selectors.
    private let caches = Mutex<[(cache: any SyncedCache, labelSelector: String?)]>([])

    /// `cacheSyncTimeout`: how long `run` waits for the first list of every watched kind
    /// before it fails with `CacheSyncTimeout` (controller-runtime's default, 2 minutes).
    public init(name: String, client: KubeClient, namespace: String? = nil, labelSelector: String? = nil,
                workers: Int = 2, metrics: MetricsRegistry? = nil, cacheSyncTimeout: Duration = .seconds(120), logger: Logger,
                reconcile: @escaping Reconciler) {
        self.name = name
        self.cacheSyncTimeout = cacheSyncTimeout
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.workers = workers
        self.reconciler = reconcile
        var logger = logger
        logger[metadataKey: "controller"] = "\(name)"
        self.logger = logger
        let metrics = metrics.map { ControllerMetrics(registry: $0, controller: name) }
        self.metrics = metrics
        store = Store()
        queue = WorkQueue(onDequeue: { waited, depth in metrics?.dequeued(waited: waited, depth: depth) })
    }

    /// Reconciles the owner when a `C` it controls changes (ownerReferences with the root's
    /// kind). Returns the child cache, for the reconciler to read.
    @discardableResult
    public func owns<C: KubeResource>(_ type: C.Type, labelSelector: String? = nil,
                                      indexes: [String: Store<C>.IndexFunction] = [:],
                                      keepsOriginal: Bool = true) -> Store<C> {
        watches(type, labelSelector: labelSelector, indexes: indexes, keepsOriginal: keepsOriginal) { child in
            (child.metadata.ownerReferences ?? [])
                .filter { $0.kind == R.kind && $0.apiVersion == R.apiVersion }
                .map { ref in
                    guard R.namespaced, let ns = child.metadata.namespace else { return ref.name }
                    return "\(ns)/\(ref.name)"
                }
        }
    }

    /// Reconciles the root keys `map` returns whenever a `C` changes. Returns the `C` cache,
    /// filed under `indexes` as well as by namespace and owner.
    @discardableResult
    public func watches<C: KubeResource>(_ type: C.Type, labelSelector: String? = nil,
                                         indexes: [String: Store<C>.IndexFunction] = [:],
                                         keepsOriginal: Bool = true,
                                         map: @escaping @Sendable (C) -> [String]) -> Store<C> {
        let store = Store<C>(indexes: indexes, keepsOriginal: keepsOriginal)
        let restarts = metrics.map { m in { @Sendable (reason: String) in m.watchRestarted(kind: C.kind, reason: reason) } }
        caches.withLock { $0.append((store, labelSelector)) }
        sources.withLock { list in
            list.append { controller in
                let watcher = Watcher(controller.client.resource(C.self, namespace: controller.namespace), store: store,
                                      labelSelector: labelSelector, logger: controller.logger, onRestart: restarts)
                try await watcher.run { event in
                    for object in event.objects {
                        for key in map(object) { await controller.queue.add(key) }
                    }
                }
            }
        }
        return store
    }

    /// Watches, reconciles, and returns when cancelled, after in-flight reconciles finish.
    /// Throws `CacheSyncTimeout` when a watched kind cannot be listed within
    /// `cacheSyncTimeout` (typically RBAC that forbids it): a process that exits saying so
    /// is easier to notice and fix than one that waits, ready to do nothing, forever.
    public func run() async throws {
        let restarts = metrics.map { m in { @Sendable (reason: String) in m.watchRestarted(kind: R.kind, reason: reason) } }
        let root = Watcher(client.resource(R.self, namespace: namespace), store: store, labelSelector: labelSelector,
                           logger: logger, onRestart: restarts)
        let extra = sources.withLock { $0 }
        logger.info("starting", metadata: ["workers": "\(workers)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            let queue = self.queue
            group.addTask {
                try await root.run { event in
                    for object in event.objects { await queue.add(object.key) }
                }
            }
            for source in extra { group.addTask { try await source(self) } }
            group.addTask { await queue.runTimers() }
            // Workers start once every cache is synced, so a first pass never sees an
            // empty world (a claim not listed yet would read as a claim that vanished).
            let caches = [(store, labelSelector)] + self.caches.withLock { $0 }
            if await !Self.waitForSync(of: caches.map(\.cache), timeout: cacheSyncTimeout), !Task.isCancelled {
                await queue.shutDown()
                group.cancelAll()
                let unsynced = caches.filter { !$0.cache.isSynced }
                let error = CacheSyncTimeout(controller: name, timeout: cacheSyncTimeout, unsynced: unsynced.map {
                    .init(kind: $0.cache.kind, labelSelector: $0.labelSelector, listFailure: $0.cache.listFailure)
                })
                logger.error("\(error)")
                throw error
            }
            if !Task.isCancelled {
                for _ in 0..<workers { group.addTask { await self.work() } }
            }
            do {
                try await withTaskCancellationHandler {
                    try await group.next()
                } onCancel: {
                    Task { await queue.shutDown() }
                }
            } catch {
                await queue.shutDown()
                group.cancelAll()
                throw error
            }
            await queue.shutDown()
            group.cancelAll()
        }
        logger.info("stopped")
    }

    /// True once every cache has its first list; false after `timeout` or when cancelled.
    private static func waitForSync(of caches: [any SyncedCache], timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for cache in caches { await cache.waitUntilSynced() }
                return caches.allSatisfy(\.isSynced)
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let synced = await group.next() ?? false
            group.cancelAll()
            return synced
        }
    }

    private func work() async {
        while let key = await queue.next() {
            await reconcile(key)
            await queue.done(key)
        }
    }

    private func reconcile(_ key: String) async {
        guard let object = store.get(key) else {
            // Gone from the cache: nothing to converge (finalizers keep objects that need
            // cleanup in the cache until they are done).
            await queue.forget(key)
            return
        }
        let started = ContinuousClock.now
        do {
            let action = try await reconciler(object)
            metrics?.reconciled(result: "success", duration: ContinuousClock.now - started)
            await queue.forget(key)
            if case .requeue(let delay) = action { await queue.add(key, after: delay) }
        } catch let error as TerminalError {
            metrics?.reconciled(result: "terminal_error", duration: ContinuousClock.now - started)
            logger.warning("reconcile failed; not retrying", metadata: ["key": "\(key)", "reason": "\(error.reason)", "error": "\(error.message)"])
            await queue.forget(key)
        } catch where Task.isCancelled {
            // Stopping (SIGTERM, lost leadership): the pass was cut short, not failed; the
            // next leader's first list brings the key back.
            logger.debug("reconcile cut short by shutdown", metadata: ["key": "\(key)"])
        } catch {
            metrics?.reconciled(result: "error", duration: ContinuousClock.now - started)
            logger.warning("reconcile failed; retrying", metadata: ["key": "\(key)", "error": "\(error)"])
            await queue.addRateLimited(key)
        }
    }
}

extension WatcherEvent {
    /// Every object the event names, without copying a re-list's (possibly large) arrays.
    var objects: FlattenSequence<[[R]]> {
        switch self {
        case .relisted(let current, let removed): [current, removed].joined()
        case .applied(let o), .deleted(let o): [[o]].joined()
        }
    }
}

/// The Prometheus series of one controller (names after controller-runtime's).
struct ControllerMetrics: Sendable {
    let registry: MetricsRegistry
    let controller: String

    func reconciled(result: String, duration: Duration) {
        registry.counter("stowage_reconcile_total", help: "Reconcile passes by result.",
                         labels: ["controller": controller, "result": result]).increment()
        if result != "success" {
            registry.counter("stowage_reconcile_errors_total", help: "Reconcile passes that failed.",
                             labels: ["controller": controller]).increment()
        }
        registry.histogram("stowage_reconcile_duration_seconds", help: "Time per reconcile pass.",
                           labels: ["controller": controller]).observe(duration / .seconds(1))
    }

    func dequeued(waited: Duration, depth: Int) {
        registry.histogram("stowage_workqueue_queue_duration_seconds", help: "Time a key waited in the queue.",
                           labels: ["controller": controller]).observe(waited / .seconds(1))
        registry.gauge("stowage_workqueue_depth", help: "Keys waiting in the queue.",
                       labels: ["controller": controller]).set(Double(depth))
    }

    func watchRestarted(kind: String, reason: String) {
        registry.counter("stowage_watch_restarts_total", help: "Watches restarted, by kind and reason.",
                         labels: ["controller": controller, "kind": kind, "reason": reason]).increment()
    }
}

/// A controller's caches did not get their first list in time: the kinds that are missing,
/// each with why its last list failed (e.g. Forbidden) when one did.
public struct CacheSyncTimeout: Error, CustomStringConvertible {
    public struct Cache: Sendable {
        public var kind: String
        public var labelSelector: String?
        public var listFailure: String?
    }

    public var controller: String
    public var timeout: Duration
    public var unsynced: [Cache]

    public var description: String {
        let caches = unsynced.map { cache in
            let selector = cache.labelSelector.map { " \($0)" } ?? ""
            return "\(cache.kind)\(selector) (\(cache.listFailure.map { "last list failed: \($0)" } ?? "no list answered yet"))"
        }
        return "controller \(controller): caches not synced after \(timeout.components.seconds) s: \(caches.joined(separator: "; "))"
    }
}
