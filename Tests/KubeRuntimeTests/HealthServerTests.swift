import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import KubeTesting
import Testing
@testable import KubeRuntime

@Suite(.tags(.timing)) struct HealthServerTests {
    @Test func endpointsOverLoopback() async throws {
        let registry = MetricsRegistry()
        registry.counter("stowage_reconcile_total", help: "Reconcile passes.", labels: ["controller": "dv"]).increment(by: 3)
        let ready = Mutex(false)
        let server = HealthServer(host: "127.0.0.1", port: 0, registry: registry, isReady: { ready.withLock { $0 } }, logger: Logger(label: "test"))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.boundPort
            #expect(port > 0)
            let base = "http://127.0.0.1:\(port)"

            let health = try await HealthCurl.get(base + "/healthz")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")

            #expect(try await HealthCurl.get(base + "/readyz").status == 503)
            ready.withLock { $0 = true }
            #expect(try await HealthCurl.get(base + "/readyz").status == 200)

            let metrics = try await HealthCurl.get(base + "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.contentType.hasPrefix("text/plain; version=0.0.4"))
            #expect(metrics.body.contains("# TYPE stowage_reconcile_total counter\n"))
            #expect(metrics.body.contains(#"stowage_reconcile_total{controller="dv"} 3"#))

            #expect(try await HealthCurl.get(base + "/nope").status == 404)
            #expect(try await HealthCurl.get(base + "/healthz", method: "POST").status == 405)

            // Keep-alive: curl reuses one connection for several URLs.
            let twice = try await HealthCurl.run(["-s", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", base + "/healthz", base + "/readyz"])
            #expect(twice == "200 1\n200 0\n")

            group.cancelAll()
            try await group.waitForAll()
        }
    }

    @Test func gracefulShutdownClosesTheSocket() async throws {
        let server = HealthServer(host: "127.0.0.1", port: 0, registry: MetricsRegistry(), logger: Logger(label: "test"))
        let serviceGroup = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            let port = try await server.boundPort
            #expect(try await HealthCurl.get("http://127.0.0.1:\(port)/healthz").status == 200)
            await serviceGroup.triggerGracefulShutdown()
            try await group.waitForAll()
            // Nothing listens any more: curl cannot connect (exit status 7, no HTTP code).
            #expect(try await HealthCurl.get("http://127.0.0.1:\(port)/healthz").status == 0)
        }
    }

    @Test func bindFailureReachesBoundPortWaiters() async throws {
        let first = HealthServer(host: "127.0.0.1", port: 0, registry: MetricsRegistry(), logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            let port = try await first.boundPort
            // SO_REUSEADDR does not let a second listener take a port in LISTEN state.
            let second = HealthServer(host: "127.0.0.1", port: port, registry: MetricsRegistry(), logger: Logger(label: "test"))
            await #expect(throws: (any Error).self) { try await second.run() }
            await #expect(throws: (any Error).self) { try await second.boundPort }
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// Loopback HTTP through the curl command (the test target has no HTTP client dependency).
enum HealthCurl {
    struct Response {
        var status: Int
        var contentType: String
        var body: String
    }

    static func get(_ url: String, method: String = "GET") async throws -> Response {
        let marker = "\n--curl-meta--"
        let out = try await run(["-s", "-X", method, "-w", marker + "%{http_code} %{content_type}", url])
        guard let range = out.range(of: marker, options: .backwards) else { return Response(status: 0, contentType: "", body: out) }
        let meta = out[range.upperBound...].split(separator: " ", maxSplits: 1)
        return Response(status: Int(meta.first ?? "") ?? 0, contentType: meta.count > 1 ? String(meta[1]) : "",
                        body: String(out[..<range.lowerBound]))
    }

    static func run(_ arguments: [String]) async throws -> String {
        // Output goes to a file and the exit is awaited through the termination handler, so
        // no cooperative thread blocks on curl while the server under test needs one.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("health-curl-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try FileHandle(forWritingTo: file)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["--max-time", "5"] + arguments
        process.standardOutput = output
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            process.terminationHandler = { _ in done.resume() }
            do { try process.run() } catch { done.resume() }
        }
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }
}
