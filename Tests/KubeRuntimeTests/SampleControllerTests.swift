import Foundation
import KubeClient
import KubeModel
import KubeTesting
import Logging
import Synchronization
import Testing
@testable import KubeRuntime

final class Tally: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

/// A sample controller: a ConfigMap labelled `sample=root` owns a derived ConfigMap
/// `<name>-child` carrying the same data.
func sampleController(client: KubeClient, namespace: String, metrics: MetricsRegistry? = nil, cacheSyncTimeout: Duration = .seconds(120),
                      tally: Tally) -> Controller<ConfigMap> {
    var logger = Logger(label: "sample")
    logger.logLevel = .error
    let children = Mutex<Store<ConfigMap>?>(nil)
    let controller = Controller<ConfigMap>(name: "sample", client: client, namespace: namespace, labelSelector: "sample=root",
                                           workers: 2, metrics: metrics, cacheSyncTimeout: cacheSyncTimeout, logger: logger) { root in
        tally.add()
        let name = (root.metadata.name ?? "") + "-child"
        let api = client.resource(ConfigMap.self, namespace: root.metadata.namespace)
        if var child = children.withLock({ $0 })?.get(namespace: root.metadata.namespace, name: name) {
            guard child.data != root.data else { return .done }
            child.data = root.data
            _ = try await api.update(child)
        } else {
            var child = ConfigMap(metadata: ObjectMeta(name: name, labels: ["sample": "child"]), data: root.data)
            child.metadata.ownerReferences = [OwnerReference(controller: root)]
            _ = try await api.create(child)
        }
        return .done
    }
    let store = controller.owns(ConfigMap.self, labelSelector: "sample=child")
    children.withLock { $0 = store }
    return controller
}

func runtimeClient(_ env: TestEnvironment, qps: Double = 200) throws -> KubeClient {
    var options = KubeClient.Options()
    options.qps = qps
    options.burst = Int(qps)
    return KubeClient(connection: try KubeConfig.load(path: env.kubeconfig).connection(), options: options)
}

func makeNamespace(_ client: KubeClient, _ prefix: String) async throws -> String {
    let name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await client.resource(Namespace.self).create(Namespace(name: name))
    return name
}

@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct SampleControllerTests {
    @Test func convergesAndReconvergesAfterHandEdits() async throws {
        let env = try TestEnvironment.shared()
        let client = try runtimeClient(env)
        let ns = try await makeNamespace(client, "sample")
        let cms = client.resource(ConfigMap.self, namespace: ns)
        let controller = sampleController(client: client, namespace: ns, tally: Tally())
        let running = Task { try await controller.run() }
        defer { running.cancel() }

        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "r", labels: ["sample": "root"]), data: ["v": "1"]))
        try await eventually("the child exists") { try await cms.get("r-child").data == ["v": "1"] }
        let child = try await cms.get("r-child")
        #expect(child.metadata.ownerReferences?.first?.name == "r")
        #expect(child.metadata.ownerReferences?.first?.controller == true)

        // The root changes: the child follows.
        _ = try await cms.patch("r", .merge, ["data": ["v": "2"]])
        try await eventually("the child follows the root") { try await cms.get("r-child").data == ["v": "2"] }

        // Someone deletes the child: it comes back.
        try await cms.delete("r-child")
        try await eventually("the child is recreated") { try await cms.get("r-child").data == ["v": "2"] }

        // Someone edits the child by hand: it is put back.
        _ = try await cms.patch("r-child", .merge, ["data": ["v": "tampered"]])
        try await eventually("the hand edit is reverted") { try await cms.get("r-child").data == ["v": "2"] }
    }

    @Test func aBurstOfUpdatesCoalesces() async throws {
        let env = try TestEnvironment.shared()
        let client = try runtimeClient(env, qps: 2000)
        let ns = try await makeNamespace(client, "burst")
        let cms = client.resource(ConfigMap.self, namespace: ns)
        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "hot", labels: ["sample": "root"]), data: ["v": "0"]))
        let tally = Tally()
        let controller = sampleController(client: client, namespace: ns, tally: tally)
        let running = Task { try await controller.run() }
        defer { running.cancel() }
        try await eventually("the first child exists") { try await cms.get("hot-child").data == ["v": "0"] }

        let before = tally.count
        // 1000 updates from 10 writers at once, each writing the update's number (a small
        // object: the test is about coalescing, not about decoding ever larger objects).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<10 {
                group.addTask {
                    for i in stride(from: writer, to: 1000, by: 10) {
                        _ = try await cms.patch("hot", .merge, ["data": ["v": .string("\(i)"), "w\(writer)": .string("\(i)")]])
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await cms.get("hot").data
        #expect((0..<10).allSatisfy { final?["w\($0)"] == "\(990 + $0)" }, "every writer's last update landed")
        try await eventually("the child has the final data") { try await cms.get("hot-child").data == final }
        let reconciles = tally.count - before
        print("1000 updates -> \(reconciles) reconciles")
        #expect(reconciles < 500, "1000 updates caused \(reconciles) reconciles")
        #expect(reconciles >= 1)
    }

    /// An idle controller (caches synced, nothing to do) costs no measurable CPU: its watches
    /// wait on the network and its workers on the queue. Measured as this process's CPU time
    /// over 30 s; the suite runs in the one-at-a-time phase, so nothing else runs here.
    @Test func anIdleControllerUsesNoMeasurableCPU() async throws {
        let env = try TestEnvironment.shared()
        let client = try runtimeClient(env)
        let ns = try await makeNamespace(client, "idle")
        let cms = client.resource(ConfigMap.self, namespace: ns)
        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "calm", labels: ["sample": "root"]), data: ["v": "1"]))
        let tally = Tally()
        let controller = sampleController(client: client, namespace: ns, tally: tally)
        let running = Task { try await controller.run() }
        defer { running.cancel() }
        try await eventually("converged") { try await cms.get("calm-child").data == ["v": "1"] }
        try await Task.sleep(for: .seconds(1))

        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        let before = cpuSeconds(), reconciles = tally.count
        try await Task.sleep(for: .seconds(30))
        let used = cpuSeconds() - before
        print("idle for 30 s: \(String(format: "%.3f", used)) s CPU, \(tally.count - reconciles) reconciles")
        #expect(used < 0.3, "an idle controller used \(used) s of CPU in 30 s")
        #expect(tally.count == reconciles, "nothing changed, so nothing was reconciled")
    }

    /// A controller whose caches can never list (its user may not read ConfigMaps) starts no
    /// worker, and still stops at once when told to: shutdown never waits for a sync.
    @Test func aControllerThatCannotListStopsWhenCancelled() async throws {
        let env = try TestEnvironment.shared()
        var connection = try KubeConfig.load(path: env.kubeconfig).connection()
        connection.credentials = .token(env.unprivilegedToken)
        let tally = Tally()
        let controller = sampleController(client: KubeClient(connection: connection), namespace: "default", tally: tally)
        let running = Task { try await controller.run() }
        try await Task.sleep(for: .seconds(2))
        running.cancel()
        // Watched from outside, so a controller that never stops fails this test instead
        // of hanging it.
        let stopped = Tally()
        Task { _ = await running.result; stopped.add() }
        try await eventually("the controller stopped", timeout: .seconds(5)) { stopped.count == 1 }
        #expect(tally.count == 0)
    }

    /// The same controller with a short cache-sync timeout fails instead of waiting, and its
    /// error names the kind it could not list and the API's reason, for the admin to fix.
    @Test func aControllerThatCannotListFailsAfterItsCacheSyncTimeoutSayingWhy() async throws {
        let env = try TestEnvironment.shared()
        var connection = try KubeConfig.load(path: env.kubeconfig).connection()
        connection.credentials = .token(env.unprivilegedToken)
        let tally = Tally()
        let controller = sampleController(client: KubeClient(connection: connection), namespace: "default",
                                          cacheSyncTimeout: .seconds(2), tally: tally)
        let started = ContinuousClock.now
        let error = await #expect(throws: CacheSyncTimeout.self) { try await controller.run() }
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(error?.unsynced.map(\.labelSelector) == ["sample=root", "sample=child"])
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.hasPrefix("controller sample: caches not synced after 2 s: ConfigMap sample=root (last list failed: "), "\(message)")
        #expect(message.lowercased().contains("forbidden"), "\(message)")
        #expect(tally.count == 0)
    }
}
