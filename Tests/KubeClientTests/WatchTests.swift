import Foundation
import HTTP
import KubeTesting
import Testing
@testable import KubeClient
@testable import KubeModel

@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct WatchTests {
    @Test func addedModifiedDeletedInOrderThenABookmark() async throws {
        let cluster = try await Cluster("watch")
        let cms = cluster.configMaps()
        var resourceVersion = try await cms.list(ListOptions(labelSelector: "w=1")).metadata.resourceVersion
        var options = WatchOptions(resourceVersion: resourceVersion, labelSelector: "w=1")
        options.timeoutSeconds = 12
        var events = try await cms.watch(options)

        var cm = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "a", labels: ["w": "1"]), data: ["v": "1"]))
        cm.data = ["v": "2"]
        _ = try await cms.update(cm)
        try await cms.delete("a")

        // The server ends each watch at timeoutSeconds, sending a bookmark shortly before; on
        // a loaded machine the three changes may outlast one watch, so watch again from the
        // last version seen, as a reflector does, until all three and a bookmark have come.
        var seen: [String] = []
        var bookmarks = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while seen.count < 3 || bookmarks == 0, ContinuousClock.now < deadline {
            for try await event in events {
                switch event {
                case .added(let o): seen.append("ADDED \(o.data?["v"] ?? "")"); resourceVersion = o.metadata.resourceVersion
                case .modified(let o): seen.append("MODIFIED \(o.data?["v"] ?? "")"); resourceVersion = o.metadata.resourceVersion
                case .deleted(let o): seen.append("DELETED \(o.metadata.name ?? "")"); resourceVersion = o.metadata.resourceVersion
                case .bookmark(let rv): bookmarks += 1; #expect(!rv.isEmpty); resourceVersion = rv
                }
            }
            options.resourceVersion = resourceVersion
            if seen.count < 3 || bookmarks == 0 { events = try await cms.watch(options) }
        }
        #expect(seen == ["ADDED 1", "MODIFIED 2", "DELETED a"])
        #expect(bookmarks >= 1)
    }

    @Test func watchFromACompactedVersionIsGone() async throws {
        // The watch cache would serve an old version from memory; without it the watch goes
        // to etcd, whose compaction expires old versions, as a long-idle cluster does.
        let dir = TestEnvironment.packageRoot + "/.testenv/compaction-\(getpid())"
        let env = try TestEnvironment.start(directory: dir, apiServerFlags: ["--watch-cache=false"])
        defer {
            try? env.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let cluster = try await Cluster("compact", env: env)
        let cms = cluster.configMaps()
        let old = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "first"))).metadata.resourceVersion!
        for i in 0..<5 { _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "later-\(i)"))) }
        try await compact(etcd: env.etcd)

        do {
            for try await _ in try await cms.watch(WatchOptions(resourceVersion: old)) {}
            Issue.record("the watch from a compacted version ended without an error")
        } catch KubeClientError.api(let e) {
            #expect(e.code == .gone, "\(e)")
        }
    }

    /// Compacts etcd to its current revision through its JSON gateway.
    func compact(etcd: String) async throws {
        let http = HTTPClient()
        let range = try await http.execute(HTTPRequest(method: .post, url: etcd + "/v3/kv/range", body: .data(Data(#"{"key":"YQ=="}"#.utf8))))
        let revision = try #require(try JSONDecoder().decode(JSONValue.self, from: range.body)["header"]?["revision"]?.stringValue)
        let compacted = try await http.execute(HTTPRequest(method: .post, url: etcd + "/v3/kv/compaction",
                                                           body: .data(Data(#"{"revision":"\#(revision)","physical":true}"#.utf8))))
        #expect(compacted.status == 200)
    }
}
