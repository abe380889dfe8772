import Foundation
import KubeClient
import KubeModel
import KubeTesting
import StowageAPI
import SyncContract
import Testing

/// The `stowage` executable as an admin runs it (issue 15, item 6): `version` without a
/// cluster, and `operator` ending a SIGTERM drain.
@Suite("stowage commands", .tags(.integration), .timeLimit(.minutes(15)))
struct CommandTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stowage").path

    /// A started `stowage` process whose output goes to files (a chatty child never blocks
    /// on a full pipe).
    struct Child {
        let process: Process
        let directory: String

        init(_ arguments: [String], environment: [String: String]? = nil) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-cmd-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: directory + "/out", contents: nil)
            _ = FileManager.default.createFile(atPath: directory + "/err", contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: CommandTests.binary)
            process.arguments = arguments
            if let environment { process.environment = environment }
            process.standardOutput = FileHandle(forWritingAtPath: directory + "/out")
            process.standardError = FileHandle(forWritingAtPath: directory + "/err")
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "" }
        var errors: String { (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? "" }

        /// Waits (polling: this is the test, not the code under test) for the exit status.
        func exitStatus(within timeout: Duration = .seconds(60)) async throws -> Int32 {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                guard ContinuousClock.now < deadline else {
                    process.interrupt()
                    throw CommandFailed(description: "stowage \(process.arguments ?? []) still running after \(timeout)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            return process.terminationStatus
        }

        /// Kills the process if it still runs (a failed check must not leave an operator
        /// behind), and removes its output.
        func remove() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// An environment in which no kubeconfig can be found.
    static func noCluster() throws -> [String: String] {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-nohome-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        return ["HOME": home, "PATH": "/usr/bin:/bin", "KUBECONFIG": home + "/absent-kubeconfig"]
    }

    @Test func versionWithoutAClusterPrintsItsOwnAndSaysTheServerWasNotReachable() async throws {
        let child = try Child(["version"], environment: try Self.noCluster())
        defer { child.remove() }
        #expect(try await child.exitStatus() == 0, "\(child.errors)")
        let lines = child.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "stowage 0.1.0-dev")
        #expect(lines.contains { $0.hasPrefix("libcurl ") } && lines.contains { $0.hasPrefix("libyaml ") })
        let server = try #require(lines.last)
        #expect(server.hasPrefix("kubernetes: not reachable: "), "\(server)")
        #expect(server.contains("absent-kubeconfig"), "the reason names what was missing: \(server)")
        #expect(!child.errors.contains("Error"), "\(child.errors)")
    }

    @Test func operatorRefusesABadWaitTimeoutByName() async throws {
        let child = try Child(["operator", "--wait-timeout", "0"], environment: try Self.noCluster())
        defer { child.remove() }
        #expect(try await child.exitStatus() != 0)
        #expect(child.errors.contains("--wait-timeout must be at least 1 (seconds), got 0"), "\(child.errors)")
    }

    @Test func versionWithAClusterThatDoesNotAnswerSaysSo() async throws {
        // A kubeconfig naming a port nothing listens on (port 1 on loopback).
        let environment = try Self.noCluster()
        let kubeconfig = environment["KUBECONFIG"]!
        try """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: t}}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let child = try Child(["version"], environment: environment)
        defer { child.remove() }
        #expect(try await child.exitStatus() == 0, "\(child.errors)")
        #expect(child.output.hasPrefix("stowage 0.1.0-dev\n"))
        #expect(child.output.split(separator: "\n").last?.hasPrefix("kubernetes: not reachable: ") == true, "\(child.output)")
        // With --client the cluster is not even tried.
        let clientOnly = try Child(["version", "--client"], environment: environment)
        defer { clientOnly.remove() }
        #expect(try await clientOnly.exitStatus() == 0)
        #expect(!clientOnly.output.contains("kubernetes"))
        #expect(clientOnly.output.hasPrefix("stowage 0.1.0-dev\n"))
    }

    /// The operator with its webhook on, leading, then SIGTERM: exit 0 and no error line.
    @Test func operatorExitsZeroQuietlyAfterASIGTERMDrain() async throws {
        let env = try TestEnvironment.shared()
        try await env.installStowageCRDs()
        let admin = try client(env)
        let namespace = "operator-exit-\(UInt32.random(in: 0...UInt32.max))"
        _ = try await admin.resource(Namespace.self).create(Namespace(name: namespace))
        defer { _ = try? kubectl(env, ["delete", "namespace", namespace, "--wait=false"]) }
        _ = try await admin.resource(ConfigMap.self, namespace: namespace).create(ConfigMap(
            metadata: ObjectMeta(name: StowageConfig.configMapName), data: [StowageConfig.configMapKey: WebhookWorld.config]))
        // Not pulled yet (its endpoint answers nothing): nina's pods wait for it.
        _ = try await admin.resource(DataVolume.self, namespace: namespace).create(DataVolume(name: "raw", spec: DataVolumeSpec(
            owner: "nina", size: "1Gi",
            source: DataSource(s3: S3Source(endpoint: "http://127.0.0.1:1", bucket: "raw", credentialsSecretRef: LocalObjectReference(name: "creds"))),
            access: .readOnly, mount: Mount(path: "/data/raw"))))
        let tls = try TLSMaterial.make()
        defer { tls.remove() }

        let port = Int.random(in: 20000...40000)
        let child = try Child(["operator", "--kubeconfig", env.kubeconfig, "--namespace", namespace, "--watch-namespace", namespace,
                               "--health-port", "0", "--webhook-port", String(port), "--tls-cert", tls.certificate, "--tls-key", tls.key,
                               "--lease-name", "exit-test", "--wait-image", "registry.example.org/stowage-wait:1", "--wait-timeout", "42"])
        defer { child.remove() }
        // Leading means every service is up: the health server, the webhook, the controllers.
        let leases = admin.resource(Lease.self, namespace: namespace)
        try await eventually("the operator leads", timeout: .seconds(60)) {
            guard child.process.isRunning else { return true }
            return try await leases.get("exit-test").spec?.holderIdentity != nil
        }
        #expect(child.process.isRunning, "\(child.errors)")
        // The webhook builds the wait container from --wait-image and --wait-timeout.
        var pod = Pod(metadata: ObjectMeta(name: "jupyter-nina", namespace: namespace, annotations: ["hub.jupyter.org/username": "nina"]),
                      spec: PodSpec(containers: [Container(name: "notebook", image: "jupyter/minimal-notebook")]))
        pod.spec?.restartPolicy = "Always"
        let review = String(decoding: try reviewBody(kind: "Pod", user: "admin", namespace: namespace, object: pod), as: UTF8.self)
        var patch = ""
        try await eventually("the operator's webhook injects the wait container", timeout: .seconds(30)) {
            let reply = try curlPost(port: port, path: "/mutate-pods", body: review, tls: tls)
            guard reply.status == 200, let answer = try? JSONDecoder.kube.decode(JSONValue.self, from: Data(reply.body.utf8)),
                  let encoded = answer["response"]?["patch"]?.stringValue, let data = Data(base64Encoded: encoded) else { return false }
            patch = String(decoding: data, as: UTF8.self)
            return patch.contains("stowage-wait")
        }
        #expect(patch.contains(#""image":"registry.example.org/stowage-wait:1""#), "\(patch)")
        #expect(patch.contains(#""--timeout","42""#), "\(patch)")

        // One configuration per process: the webhook's watch and the config controller feed
        // the same holder, and the leader still reports each change and each refusal once.
        let events = admin.resource(Event.self, namespace: namespace)
        func reasons() async throws -> [String] {
            try await events.listAll().items.filter { $0.involvedObject.name == StowageConfig.configMapName }
                .sorted { ($0.firstTimestamp ?? .distantPast) < ($1.firstTimestamp ?? .distantPast) }.compactMap(\.reason)
        }
        try await eventually("the leader reports the configuration in force") { try await reasons() == ["ConfigApplied"] }
        let maps = admin.resource(ConfigMap.self, namespace: namespace)
        _ = try await maps.patch(StowageConfig.configMapName, .merge,
                                 ["data": [StowageConfig.configMapKey: .string("levels:\n  public: {read: [evryone]}\n")]])
        try await eventually("a refused edit is reported") { try await reasons().contains("InvalidConfig") }
        _ = try await maps.patch(StowageConfig.configMapName, .merge,
                                 ["data": [StowageConfig.configMapKey: .string(WebhookWorld.config + "\n# edited\n")]])
        _ = try await maps.patch(StowageConfig.configMapName, .merge,
                                 ["data": [StowageConfig.configMapKey: .string("levels:\n  public: {read: [\"*\"], write: []}\n")]])
        try await eventually("the new levels are reported as in force") {
            try await events.listAll().items.contains { $0.reason == "ConfigApplied" && $0.message == "access levels in force: public" }
        }
        // A comment is no change of what is in force; the refusal was said once.
        #expect(try await reasons().filter { $0 == "InvalidConfig" }.count == 1)
        child.process.terminate()   // SIGTERM
        let status = try await child.exitStatus()
        #expect(status == 0, "\(child.errors)")
        let lines = (child.output + child.errors).split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("Error:") }, "\(child.errors)")
        #expect(!lines.contains { $0.contains("CancellationError") }, "\(child.errors)")
        // The drain released the lease for a successor.
        #expect(try await leases.get("exit-test").spec?.holderIdentity.map { $0.isEmpty } ?? true)
    }
}
