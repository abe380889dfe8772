import HTTP
import KubeClient
import KubeModel
import KubeTesting
import Logging
import Synchronization
import Testing
@testable import KubeRuntime

/// The process-wide cache registry, without a watch: stores filled as a watcher fills them.
@Suite struct SharedCachesTests {
    static func registry() -> SharedCaches {
        let connection = ClusterConnection(server: "https://127.0.0.1:1", contextName: "none", namespace: "default",
                                           tls: TLSConfiguration(), credentials: .none)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return SharedCaches(client: KubeClient(connection: connection), logger: logger)
    }

    func map(_ name: String, namespace: String = "a", version: String = "1", labels: [String: String]? = nil) -> ConfigMap {
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        metadata.resourceVersion = version
        return ConfigMap(metadata: metadata, data: ["v": version])
    }

    @Test func theSameKeyGivesTheSameStoreAndAnotherKeyAnother() {
        let caches = Self.registry()
        let first = caches.informer(ConfigMap.self, namespace: "a")
        let again = caches.informer(ConfigMap.self, namespace: "a")
        #expect(first === again)
        #expect(first.store === again.store)
        #expect(caches.informer(ConfigMap.self, namespace: "b").store !== first.store)
        #expect(caches.informer(ConfigMap.self, namespace: "a", labelSelector: "x=y").store !== first.store)
        #expect(caches.informer(ConfigMap.self).store !== first.store)
        // A cluster-scoped kind has one cache whatever namespace a caller names.
        #expect(caches.informer(Namespace.self, namespace: "a").store === caches.informer(Namespace.self).store)
        #expect(caches.keys.count == 5)
    }

    @Test func twoSubscribersBothSeeAnEventAndAnUnsubscribedOneNoLonger() async {
        let informer = Self.registry().informer(ConfigMap.self, namespace: "a")
        let seen = Mutex<[String]>([])
        let one = informer.subscribe { event in seen.withLock { $0 += event.objects.map { "one:\($0.metadata.name ?? "")" } } }
        _ = informer.subscribe { event in seen.withLock { $0 += event.objects.map { "two:\($0.metadata.name ?? "")" } } }
        await informer.publish(.applied(map("x")))
        #expect(seen.withLock { $0 } == ["one:x", "two:x"])
        informer.unsubscribe(one)
        await informer.publish(.deleted(map("y")))
        // The second subscriber saw "y": the first would have had its turn before it.
        #expect(seen.withLock { $0 } == ["one:x", "two:x", "two:y"])
    }

    @Test func anIndexRegisteredByTwoUsersIsOneIndexAndALaterOneFilesWhatIsStored() {
        let caches = Self.registry()
        let byTeam: Store<ConfigMap>.IndexFunction = { [$0.metadata.labels?["team"] ?? ""] }
        let store = caches.informer(ConfigMap.self, namespace: "a", indexes: ["team": byTeam]).store
        store.replace([map("x", labels: ["team": "red", "tier": "web"]), map("y", labels: ["team": "blue"])])
        // A second user asks for the same index and one more, after objects are in.
        let same = caches.informer(ConfigMap.self, namespace: "a", indexes: [
            "team": byTeam,
            "tier": { [$0.metadata.labels?["tier"] ?? ""] },
        ]).store
        #expect(same === store)
        #expect(store.indexNames == [Store<ConfigMap>.namespaceIndex, Store<ConfigMap>.ownerIndex, "team", "tier"])
        #expect(store.byIndex("team", "red").map(\.metadata.name) == ["x"])
        #expect(store.byIndex("tier", "web").map(\.metadata.name) == ["x"])
        // Kept up to date for both users' indexes.
        store.apply(map("x", version: "2", labels: ["team": "blue"]))
        #expect(store.byIndex("team", "red").isEmpty)
        #expect(Set(store.byIndex("team", "blue").compactMap(\.metadata.name)) == ["x", "y"])
        #expect(store.byIndex("tier", "web").isEmpty)
    }

    @Test func originalsAreKeptWhenAnyUserAsksForThem() {
        let caches = Self.registry()
        let store = caches.informer(ConfigMap.self, namespace: "a", keepsOriginal: false).store
        #expect(!store.keepsOriginal)
        _ = caches.informer(ConfigMap.self, namespace: "a", keepsOriginal: true)
        #expect(store.keepsOriginal)
        _ = caches.informer(ConfigMap.self, namespace: "a", keepsOriginal: false)
        #expect(store.keepsOriginal)
    }

    @Test func onlyCachesSomeoneNeedsCountForSync() {
        let caches = Self.registry()
        let needed = caches.informer(ConfigMap.self, namespace: "a")
        let idle = caches.informer(ConfigMap.self, namespace: "b")
        needed.acquire()
        #expect(!caches.isSynced)
        needed.store.replace([])
        #expect(caches.isSynced, "the idle cache, never listed, does not hold readiness back")
        idle.acquire()
        #expect(!caches.isSynced)
        idle.release()
        #expect(idle.users == 0 && needed.users == 1)
        #expect(caches.isSynced)
    }

    /// Two controllers on one registry read one store, and a controller that starts when
    /// that store is already synced (another user keeps it) reconciles every object in it.
    @Test func controllersShareAStoreAndOneStartingLateMissesNothing() async throws {
        let caches = Self.registry()
        let client = caches.client
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let reconciled = Mutex<Set<String>>([])
        let roots = Controller<ConfigMap>(name: "roots", client: client, namespace: "a", caches: caches, logger: logger) { _ in .done }
        let late = Controller<Lease>(name: "late", client: client, namespace: "a", caches: caches, logger: logger) { lease in
            reconciled.withLock { _ = $0.insert(lease.key) }
            return .done
        }
        let maps = late.watches(ConfigMap.self) { map in ["a/lease-of-\(map.metadata.name ?? "")"] }
        #expect(maps === roots.store)
        #expect(caches.keys.count == 2)
        // Both caches listed before the late controller runs (nothing will publish again).
        maps.replace([map("x")])
        let leases = ["s", "lease-of-x"].map { name in
            var lease = Lease(metadata: ObjectMeta(name: name, namespace: "a"))
            lease.metadata.resourceVersion = "1"
            return lease
        }
        caches.informer(Lease.self, namespace: "a").store.replace(leases)
        let running = Task { try await late.run() }
        defer { running.cancel() }
        try await eventually("the late controller reconciled what the caches held", timeout: .seconds(60)) {
            reconciled.withLock { $0 } == ["a/s", "a/lease-of-x"]
        }
        #expect(caches.informer(ConfigMap.self, namespace: "a").users == 1, "the running controller needs the cache watched")
        running.cancel()
        _ = await running.result
        #expect(caches.informer(ConfigMap.self, namespace: "a").users == 0, "a stopped controller no longer does")
    }
}
