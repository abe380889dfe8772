import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI
import Webhook

/// `stowage-bench webhook-cost DIR [ROUNDS]`: the CPU one admission decision costs, without
/// TLS or sockets. `bench/webhook.sh`'s objects (DIR/objects.json, from
/// `bench/webhook/fixtures.py objects`) go into the real `WebhookCaches`, filled directly
/// rather than by watches, and its review bodies (DIR/bodies) are handed to
/// `AdmissionHandler.handle` ROUNDS times each, path by path. Prints one JSON line: thread
/// CPU microseconds per review by path (and for pods naming no Stowage claim, which the
/// load leaves out), and for the load's mix (50 % mutate, 45 % validate pods, 5 % validate
/// volumes).
func webhookCost(directory dir: String, rounds: Int) throws {
    let handler = try benchHandler(directory: dir)
    let bodies = dir + "/bodies"
    let names = try FileManager.default.contentsOfDirectory(atPath: bodies).sorted()
    func load(_ prefix: String) throws -> [Data] {
        try names.filter { $0.hasPrefix(prefix) }.map { try Data(contentsOf: URL(fileURLWithPath: bodies + "/" + $0)) }
    }
    var micros: [String: Double] = [:]
    let kinds = [("/mutate-pods", "/mutate-pods", "mutate-"), ("/validate-pods", "/validate-pods", "validate-"),
                 ("/validate-volumes", "/validate-volumes", "volume-"), ("/validate-pods", "/validate-pods, no claim", "plain-")]
    for (path, label, prefix) in kinds {
        let reviews = try load(prefix)
        guard !reviews.isEmpty else { continue }
        for body in reviews {  // warm-up, and every review must be answered
            let reply = handler.handle(method: "POST", uri: path, body: body)
            guard reply.status == 200 else { fail("\(path): HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))") }
        }
        let start = threadCPU()
        for _ in 0..<rounds {
            for body in reviews { _ = handler.handle(method: "POST", uri: path, body: body) }
        }
        micros[label] = seconds(threadCPU() - start) * 1e6 / Double(rounds * reviews.count)
    }
    let mix = 0.50 * (micros["/mutate-pods"] ?? 0) + 0.45 * (micros["/validate-pods"] ?? 0) + 0.05 * (micros["/validate-volumes"] ?? 0)
    let fields = micros.keys.sorted().map { String(format: "\"%@\":%.1f", $0, micros[$0]!) }.joined(separator: ",")
    print(#"{"command":"webhook-cost","rounds":\#(rounds),"cpu_us":{\#(fields)},"cpu_us_mix":\#(String(format: "%.1f", mix))}"#)
}

/// `stowage-bench webhook-serve DIR PORT`: the same handler and caches as `webhook-cost`,
/// behind the real `WebhookServer` (TLS from DIR/tls.crt and DIR/tls.key) on 127.0.0.1, until
/// DIR/stop exists: the whole request path, TLS and HTTP included, without a cluster, for
/// `BENCH_TLS=1 bench/webhook-cost.sh`.
func webhookServe(directory dir: String, port: Int) async throws {
    var logger = Logger(label: "stowage-bench")
    logger.logLevel = .warning
    let server = try WebhookServer(
        configuration: .init(certificatePath: dir + "/tls.crt", keyPath: dir + "/tls.key", host: "127.0.0.1", port: port),
        handler: try benchHandler(directory: dir), logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        while !FileManager.default.fileExists(atPath: dir + "/stop") {
            try await Task.sleep(for: .milliseconds(200))
        }
        group.cancelAll()
    }
}

/// An admission handler over the real `WebhookCaches`, filled from DIR/objects.json
/// (`bench/webhook/fixtures.py objects`) directly rather than by watches.
private func benchHandler(directory dir: String) throws -> AdmissionHandler {
    // Never used to connect: the stores are filled below and no watch runs.
    let kubeconfig = dir + "/cost-kubeconfig"
    try """
        apiVersion: v1
        kind: Config
        clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: none, user: {}}]
        contexts: [{name: none, context: {cluster: none, user: none}}]
        current-context: none
        """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
    var logger = Logger(label: "stowage-bench")
    logger.logLevel = .warning
    let caches = WebhookCaches(client: try KubeClient.fromEnvironment(kubeconfig: kubeconfig),
                               configNamespace: "stowage-system", logger: logger)
    let list = try JSONValue(parsing: Data(contentsOf: URL(fileURLWithPath: dir + "/objects.json")))
    guard case .array(let items)? = list["items"] else { fail("\(dir)/objects.json is not a List") }
    for item in items {
        switch item["kind"]?.stringValue {
        case DataVolume.kind: caches.dataVolumes.wrote(try item.decode(as: DataVolume.self))
        case SharedVolume.kind: caches.sharedVolumes.wrote(try item.decode(as: SharedVolume.self))
        case ConfigMap.kind:
            guard caches.configHolder.take(try item.decode(as: ConfigMap.self)) == .applied else { fail("configuration refused") }
        default: break
        }
    }
    return AdmissionHandler(source: WebhookCaches.FilledByHand(caches),
                            settings: AdmissionSettings(operatorUsers: ["system:serviceaccount:stowage-system:stowage"]),
                            metrics: MetricsRegistry(), logger: logger)
}

private func threadCPU() -> Duration {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec)
}
