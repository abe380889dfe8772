import Foundation
import KubeClient
import KubeModel
import Logging
import Synchronization

/// Runs reconcile passes for one root kind: the root cache, child kinds it `owns` map back
/// to their owner through ownerReferences, other kinds it `watches` map through a function,
/// and `workers` reconcile keys from one work queue (never the same key twice at once).
///
/// The caches come from `SharedCaches`: the process's registry when one is given (run as a
/// service of its own, shared with other controllers and the webhook), else a private one
/// that `run` starts and stops with the controller.
///
/// The reconciler reads the world each pass (level-based, STYLE.md habit 1) and returns a
/// `ReconcileAction`; throwing retries with backoff, a `TerminalError` waits for a change.
public final class Controller<R: KubeResource>: Sendable {
    public typealias Reconciler = @Sendable (R) async throws -> ReconcileAction

    public let name: String
    public let store: Store<R>
    public let queue: WorkQueue
    let workers: Int
    let reconciler: Reconciler
    let logger: Logger
    let metrics: ControllerMetrics?
    let cacheSyncTimeout: Duration
    /// The registry its caches live in, and whether it runs them itself (a private one).
    let caches: SharedCaches
    let runsCaches: Bool
    let namespace: String?
    /// Each cache it reads, with how a change there maps to root keys: subscribed to and
    /// watched (acquired) for a run, and read once synced so that a run starting on caches
    /// that another user keeps synced misses nothing.
    private let sources = Mutex<[Source]>([])

    private struct Source: Sendable {
        let cache: any SyncedCache
        let labelSelector: String?
        let subscribe: @Sendable (WorkQueue) -> @Sendable () -> Void
        let enqueueAll: @Sendable (WorkQueue) async -> Void
    }

    /// `cacheSyncTimeout`: how long `run` waits for the first list of every watched kind
    /// before it fails with `CacheSyncTimeout` (controller-runtime's default, 2 minutes).
    /// `keepsOriginal`: see `Store.init` (false for a root never updated from the cache).
    public init(name: String, client: KubeClient, namespace: String? = nil, labelSelector: String? = nil,
                workers: Int = 2, metrics: MetricsRegistry? = nil, cacheSyncTimeout: Duration = .seconds(120),
                caches: SharedCaches? = nil, keepsOriginal: Bool = true, logger: Logger,
                reconcile: @escaping Reconciler) {
        self.name = name
        self.cacheSyncTimeout = cacheSyncTimeout
        self.namespace = namespace
        self.workers = workers
        self.reconciler = reconcile
        var logger = logger
        logger[metadataKey: "controller"] = "\(name)"
        self.logger = logger
        let metrics = metrics.map { ControllerMetrics(registry: $0, controller: name) }
        self.metrics = metrics
        self.caches = caches ?? SharedCaches(client: client, name: name, metrics: metrics?.registry, logger: logger)
        runsCaches = caches == nil
        queue = WorkQueue(onDequeue: { waited, depth in metrics?.dequeued(waited: waited, depth: depth) })
        let root = self.caches.informer(R.self, namespace: namespace, labelSelector: labelSelector, keepsOriginal: keepsOriginal)
        store = root.store
        addSource(root, labelSelector: labelSelector) { [$0.key] }
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
        let informer = caches.informer(C.self, namespace: namespace, labelSelector: labelSelector, indexes: indexes,
                                       keepsOriginal: keepsOriginal)
        addSource(informer, labelSelector: labelSelector, map: map)
        return informer.store
    }

    private func addSource<C: KubeResource>(_ informer: Informer<C>, labelSelector: String?,
                                            map: @escaping @Sendable (C) -> [String]) {
        let store = informer.store
        let enqueue: @Sendable (any Sequence<C>, WorkQueue) async -> Void = { objects, queue in
            for object in objects {
                for key in map(object) { await queue.add(key) }
            }
        }
        sources.withLock { list in
            list.append(Source(cache: store, labelSelector: labelSelector, subscribe: { queue in
                let subscription = informer.subscribe { event in await enqueue(event.objects, queue) }
                informer.acquire()
                return {
                    informer.release()
                    informer.unsubscribe(subscription)
                }
            }, enqueueAll: { queue in await enqueue(store.all, queue) }))
        }
    }

    /// Reconciles, and returns when cancelled, after in-flight reconciles finish.
    /// Throws `CacheSyncTimeout` when a watched kind cannot be listed within
    /// `cacheSyncTimeout` (typically RBAC that forbids it): a process that exits saying so
    /// is easier to notice and fix than one that waits, ready to do nothing, forever.
    public func run() async throws {
        let sources = self.sources.withLock { $0 }
        let queue = self.queue
        let unsubscribe = sources.map { $0.subscribe(queue) }
        defer { for end in unsubscribe { end() } }
        logger.info("starting", metadata: ["workers": "\(workers)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            if runsCaches { group.addTask { try await self.caches.run() } }
            group.addTask { await queue.runTimers() }
            // Workers start once every cache is synced, so a first pass never sees an
            // empty world (a claim not listed yet would read as a claim that vanished).
            if await !Self.waitForSync(of: sources.map(\.cache), timeout: cacheSyncTimeout), !Task.isCancelled {
                await queue.shutDown()
                group.cancelAll()
                let unsynced = sources.filter { !$0.cache.isSynced }
                let error = CacheSyncTimeout(controller: name, timeout: cacheSyncTimeout, unsynced: unsynced.map {
                    .init(kind: $0.cache.kind, labelSelector: $0.labelSelector, listFailure: $0.cache.listFailure)
                })
                logger.error("\(error)")
                throw error
            }
            // Shared caches may have listed before this run subscribed: every object they
            // hold is a change this run has not seen (the queue merges keys already added).
            for source in sources { await source.enqueueAll(queue) }
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
