import KubeModel
import Testing
@testable import KubeRuntime

@Suite struct StoreTests {
    func map(_ name: String, version: String, data: String = "") -> ConfigMap {
        var metadata = ObjectMeta(name: name, namespace: "ns")
        metadata.resourceVersion = version
        return ConfigMap(metadata: metadata, data: ["v": data])
    }

    @Test func aWriteIsReadBackBeforeTheWatchCatchesUp() {
        let store = Store<ConfigMap>()
        store.replace([map("a", version: "10", data: "listed")])
        store.wrote(map("a", version: "12", data: "written"))
        #expect(store.get("ns/a")?.data?["v"] == "written")
        // The watch delivers the events in between, then the write itself, then later ones.
        store.apply(map("a", version: "11", data: "older"))
        #expect(store.get("ns/a")?.data?["v"] == "written")
        store.apply(map("a", version: "12", data: "written"))
        store.apply(map("a", version: "13", data: "newer"))
        #expect(store.get("ns/a")?.data?["v"] == "newer")
        // A write answered before a newer event was seen does not go back in time.
        store.wrote(map("a", version: "12", data: "written"))
        #expect(store.get("ns/a")?.data?["v"] == "newer")
    }

    @Test func aWriteDoesNotBringBackADeletedObject() {
        let store = Store<ConfigMap>()
        store.apply(map("a", version: "5"))
        store.delete(map("a", version: "7"))
        store.wrote(map("a", version: "6"))
        #expect(store.get("ns/a") == nil)
        // Created again later: a newer version is taken.
        store.wrote(map("a", version: "9", data: "again"))
        #expect(store.get("ns/a")?.data?["v"] == "again")
    }

    @Test func versionsThatAreNotIntegersAreNotCompared() {
        let store = Store<ConfigMap>()
        store.apply(map("a", version: "b-2", data: "first"))
        store.apply(map("a", version: "a-1", data: "second"))
        #expect(store.get("ns/a")?.data?["v"] == "second", "the newest event wins")
    }

    @Test func indexesFollowTheWrittenVersion() {
        let store = Store<ConfigMap>(indexes: ["v": { [$0.data?["v"] ?? ""] }])
        store.apply(map("a", version: "1", data: "x"))
        store.wrote(map("a", version: "2", data: "y"))
        #expect(store.byIndex("v", "x").isEmpty)
        #expect(store.byIndex("v", "y").map(\.key) == ["ns/a"])
    }

    @Test func objectsUnderAnyOfSeveralIndexValuesComeOnceInTheOrderAsked() {
        // Index "tag": every word of the data.
        let store = Store<ConfigMap>(indexes: ["tag": { ($0.data?["v"] ?? "").split(separator: " ").map(String.init) }])
        store.replace([map("a", version: "1", data: "x y"), map("b", version: "1", data: "y"), map("c", version: "1", data: "z")])
        #expect(store.byIndex("tag", anyOf: ["z", "x", "y"]).map(\.key) == ["ns/c", "ns/a", "ns/b"])
        #expect(Set(store.byIndex("tag", anyOf: ["y", "x"]).map(\.key)) == ["ns/a", "ns/b"])
        #expect(store.byIndex("tag", anyOf: ["y", "x"]).count == 2, "an object under two values comes once")
        #expect(store.byIndex("tag", anyOf: ["none"]).isEmpty)
        #expect(store.byIndex("missing index", anyOf: ["x"]).isEmpty)
    }

    /// What a store with `derive` keeps beside each object: the data of the version it holds.
    final class Words: Sendable {
        let data: String
        init(_ map: ConfigMap) { data = map.data?["v"] ?? "" }
    }
    final class Other: Sendable {}

    @Test func derivedValuesFollowTheStoredVersion() {
        let store = Store<ConfigMap>(indexes: ["tag": { ($0.data?["v"] ?? "").split(separator: " ").map(String.init) }],
                                     derive: { Words($0) })
        store.replace([map("a", version: "1", data: "x y"), map("b", version: "1", data: "y"), map("c", version: "1", data: "z")])
        #expect(store.derived(byIndex: "tag", anyOf: ["z", "x", "y"], as: Words.self).map(\.data) == ["z", "x y", "y"],
                "once each, in the order asked, as byIndex finds the objects")
        #expect(store.derived(namespace: "ns", name: "b", as: Words.self)?.data == "y")
        // A newer version is derived again; an older one leaves the value as it was.
        store.apply(map("b", version: "3", data: "w"))
        store.apply(map("b", version: "2", data: "older"))
        #expect(store.derived("ns/b", as: Words.self)?.data == "w")
        #expect(store.derived(byIndex: "tag", anyOf: ["y"], as: Words.self).map(\.data) == ["x y"])
        store.wrote(map("c", version: "4", data: "written"))
        #expect(store.derived("ns/c", as: Words.self)?.data == "written")
        // Gone with the object, and after a re-list only what the list holds.
        store.delete(map("a", version: "5"))
        #expect(store.derived("ns/a", as: Words.self) == nil)
        store.replace([map("d", version: "6", data: "x")])
        #expect(store.derived("ns/b", as: Words.self) == nil)
        #expect(store.derived(byIndex: "tag", anyOf: ["x", "w"], as: Words.self).map(\.data) == ["x"])
        // Asked as another type, or from a store without `derive`: nothing.
        #expect(store.derived("ns/d", as: Words.self)?.data == "x")
        #expect(store.derived("ns/d", as: Other.self) == nil)
        #expect(Store<ConfigMap>().derived(byIndex: "namespace", anyOf: ["ns"], as: Words.self).isEmpty)
    }

    @Test func managedFieldsAreNotKept() throws {
        var object = map("a", version: "1", data: "x")
        object.metadata.managedFields = [["manager": "kubectl", "operation": "Update"]]
        object.original = Original(["metadata": ["name": "a", "namespace": "ns", "managedFields": [["manager": "kubectl"]]],
                                    "data": ["v": "x"], "extra": "kept"])
        let store = Store<ConfigMap>()
        store.apply(object)
        let cached = try #require(store.get("ns/a"))
        #expect(cached.metadata.managedFields == nil)
        #expect(cached.original.json?["metadata"]?["managedFields"] == nil)
        #expect(cached.original.json?["metadata"]?["name"] == "a")
        #expect(cached.original.json?["extra"] == "kept", "unknown fields survive")
    }

    @Test func aStoreThatKeepsNoOriginalDropsItAndKeepsTheTypedObject() {
        var object = map("a", version: "1", data: "x")
        object.original = Original(["metadata": ["name": "a"], "data": ["v": "x"], "extra": "unmodelled"])
        let lean = Store<ConfigMap>(keepsOriginal: false)
        lean.apply(object)
        #expect(lean.get("ns/a")?.original.json == nil)
        #expect(lean.get("ns/a")?.data?["v"] == "x")
        let full = Store<ConfigMap>()
        full.apply(object)
        #expect(full.get("ns/a")?.original.json?["extra"] == "unmodelled")
    }

    @Test func waitingForASyncThatNeverComesEndsWhenCancelled() async throws {
        let store = Store<ConfigMap>()
        let returned = Tally()
        let waiter = Task { await store.waitUntilSynced(); returned.add() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(returned.count == 0)
        waiter.cancel()
        try await until { returned.count == 1 }
        #expect(!store.isSynced)

        let later = Task { await store.waitUntilSynced(); returned.add() }
        store.replace([])
        try await until { returned.count == 2 }
        #expect(store.isSynced)
        _ = later
    }

    /// Polls for up to 5 s, so a wait that never returns fails the test instead of hanging it.
    func until(_ check: () -> Bool) async throws {
        for _ in 0..<500 where !check() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(check())
    }
}
