import Foundation
import HTTP
import KubeClient
import KubeModel
import KubeTesting
import Testing
@testable import KubeRuntime

/// A controller keeps converging across a kube-apiserver restart and an expired
/// resourceVersion, on a control plane of its own.
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct ResilienceTests {
    @Test func survivesAnAPIServerRestartAndACompactedResourceVersion() async throws {
        // Without the watch cache, watches read etcd directly, so compaction expires them.
        let dir = TestEnvironment.packageRoot + "/.testenv/resilience-\(getpid())"
        let env = try TestEnvironment.start(directory: dir, apiServerFlags: ["--watch-cache=false"])
        defer {
            try? env.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let client = try runtimeClient(env)
        let ns = try await makeNamespace(client, "resilience")
        let cms = client.resource(ConfigMap.self, namespace: ns)
        let metrics = MetricsRegistry()
        let controller = sampleController(client: client, namespace: ns, metrics: metrics, tally: Tally())
        let running = Task { try await controller.run() }
        defer { running.cancel() }

        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "before", labels: ["sample": "root"]), data: ["v": "1"]))
        try await eventually("the first child exists") { try await cms.get("before-child").data == ["v": "1"] }

        // Move etcd past every version the watchers hold, then compact it: when they
        // reconnect after the restart, their resourceVersion is gone.
        for i in 0..<5 { _ = try await client.resource(Namespace.self).create(Namespace(name: "\(ns)-pad-\(i)")) }
        try await compact(etcd: env.etcd)
        try env.restartAPIServer()

        // Changes after the restart, to a known and to a new root: no final state is missed.
        _ = try await cms.patch("before", .merge, ["data": ["v": "2"]])
        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "after", labels: ["sample": "root"]), data: ["v": "3"]))
        try await eventually("the known root re-converges", timeout: .seconds(60)) { try await cms.get("before-child").data == ["v": "2"] }
        try await eventually("the new root converges", timeout: .seconds(60)) { try await cms.get("after-child").data == ["v": "3"] }

        let series = metrics.render()
        #expect(series.contains("reason=\"expired\""), "the watchers should have re-listed after Gone:\n\(series)")
        #expect(!running.isCancelled)
    }

    func compact(etcd: String) async throws {
        let http = HTTPClient()
        let range = try await http.execute(HTTPRequest(method: .post, url: etcd + "/v3/kv/range", body: .data(Data(#"{"key":"YQ=="}"#.utf8))))
        let revision = try #require(try JSONDecoder().decode(JSONValue.self, from: range.body)["header"]?["revision"]?.stringValue)
        let done = try await http.execute(HTTPRequest(method: .post, url: etcd + "/v3/kv/compaction",
                                                      body: .data(Data(#"{"revision":"\#(revision)","physical":true}"#.utf8))))
        #expect(done.status == 200)
    }
}
