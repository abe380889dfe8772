import Foundation
import KubeClient
import KubeTesting
import Logging
import Testing
@testable import Webhook

/// Runs the webhook standalone for `bench/webhook.sh` until the benchmark says stop: the
/// stand-in for `stowage webhook` while that subcommand does not exist. Skipped unless
/// `STOWAGE_WEBHOOK_BENCH_DIR` is set (a directory with kubeconfig, tls.crt, tls.key; the
/// benchmark creates `stop` in it when done).
@Suite("Benchmark host")
struct BenchmarkHost {
    static let directory = ProcessInfo.processInfo.environment["STOWAGE_WEBHOOK_BENCH_DIR"]

    @Test(.enabled(if: directory != nil))
    func serveForTheBenchmark() async throws {
        let dir = try #require(Self.directory)
        let environment = ProcessInfo.processInfo.environment
        let port = Int(environment["STOWAGE_WEBHOOK_BENCH_PORT"] ?? "") ?? 8443
        var logger = Logger(label: "webhook-bench")
        logger.logLevel = .warning
        let client = try KubeClient.fromEnvironment(kubeconfig: dir + "/kubeconfig")
        let runner = try WebhookRunner(
            client: client, configNamespace: environment["STOWAGE_WEBHOOK_BENCH_CONFIG_NAMESPACE"] ?? "stowage-system",
            server: .init(certificatePath: dir + "/tls.crt", keyPath: dir + "/tls.key", host: "127.0.0.1", port: port),
            settings: AdmissionSettings(operatorUsers: ["system:serviceaccount:stowage-system:stowage"]), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.caches.run() }
            group.addTask { try await runner.server.run() }
            while !FileManager.default.fileExists(atPath: dir + "/stop") {
                try await Task.sleep(for: .milliseconds(500))
            }
            group.cancelAll()
        }
    }
}
