import Controllers
import Crypto
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// The notebook user's story as it happens on a cluster: `stowage operator` (controllers and
/// admission webhook in one process, registered with the shipped webhook configuration), the
/// trusted spawner creating a pod with no volumes, sync pods and the notebook running as
/// containers on the test environment's nodes.
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct NotebookStoryTests {
    static let spawnerConfig = "spawners:\n  trusted: [admin]\n"

    @Test func theNotebookNeverStartsBeforeItsDataAndItsWorkIsPushedByteForByte() async throws {
        let w = try await World.make("story")
        try await w.setConfig(w.homesConfig + Self.spawnerConfig)
        let op = try await OperatorProcess.start(w)
        defer { op.stop() }
        do {
            try await story(w, op)
        } catch {
            Issue.record("operator log:\n\(op.log.split(separator: "\n").suffix(60).joined(separator: "\n"))")
            throw error
        }
        await w.cleanUp()
    }

    func story(_ w: World, _ op: OperatorProcess) async throws {

        _ = try await w.s3.putObject(bucket: w.bucket, key: "homes/alice/notebooks/analysis.ipynb", data: Data("v1\n".utf8))
        _ = try await w.s3.putObject(bucket: w.bucket, key: "homes/alice/data/raw.csv", data: Data("1,2,3\n".utf8))
        _ = try await w.s3.putObject(bucket: w.bucket, key: "iris/iris.csv", data: Data("5.1,3.5,setosa\n".utf8))
        // A dataset attached to alice's pods, evicted from its claim two seconds after use.
        _ = try await w.dataVolumes.create(DataVolume(name: "iris", spec: DataVolumeSpec(
            size: "1Gi", source: w.source(prefix: "iris"), access: .readOnly, mount: Mount(path: "/data/iris"),
            attachTo: AttachTo(users: ["alice"]), cache: CachePolicy(ttlAfterIdle: "2s"))))
        try await eventually("the dataset is Ready", timeout: .seconds(90)) { try await w.dataVolumes.get("iris").status?.phase == .ready }

        // Session 1: the home does not exist yet. The spawner's pod names no volume.
        let home = try #require(UserName.homeName(for: "alice"))
        let first = try await session(w, op, name: "jupyter-alice", script: """
            echo "$(id -u):$(id -g)" > whoami.txt
            mkdir -p results
            { cat notebooks/analysis.ipynb; cat data/raw.csv; cat /data/iris/iris.csv; } > results/first-read.txt
            head -c 300000 /dev/urandom > results/blob.bin
            sha256sum results/blob.bin | cut -d' ' -f1 > results/blob.sha256
            echo "edited in session 1" >> notebooks/analysis.ipynb
            """, awaiting: [home])
        #expect(first.injected.contains("dv/\(home):rw") && first.injected.contains("dv/iris:ro"), "\(first.injected)")
        let claim = try #require(try await w.dataVolumes.get(home).status?.claimName)
        #expect(await w.read(claim, "whoami.txt") == "1000:100\n", "the notebook runs as jovyan")
        #expect(await w.read(claim, "results/first-read.txt") == "v1\n1,2,3\n5.1,3.5,setosa\n", "the pulled data was there at the first command")

        // The pod stops: its work is pushed by a sync container, byte for byte.
        try await stop(w, "jupyter-alice", home: home)
        let root = try await w.directory(claim: claim)
        let blob = try Data(contentsOf: URL(fileURLWithPath: root + "/results/blob.bin"))
        #expect(blob.count == 300_000)
        let pushed = try await w.s3.getObject(bucket: w.bucket, key: "homes/alice/results/blob.bin")
        #expect(pushed == blob, "the object is what the notebook wrote")
        let digest = SHA256.hash(data: pushed).map { String(format: "%02x", $0) }.joined()
        #expect(await w.read(claim, "results/blob.sha256") == digest + "\n", "and what the notebook hashed")
        #expect(try await w.object("homes/alice/notebooks/analysis.ipynb") == "v1\nedited in session 1\n")

        // Between sessions an object is added; the dataset's claim is evicted (ttlAfterIdle).
        _ = try await w.s3.putObject(bucket: w.bucket, key: "homes/alice/data/added.csv", data: Data("4,5,6\n".utf8))
        _ = try await w.s3.putObject(bucket: w.bucket, key: "iris/extra.csv", data: Data("6.3,3.3,virginica\n".utf8))
        try await eventually("the dataset's claim is evicted") {
            let status = try await w.dataVolumes.get("iris").status
            let gone = (try? await w.claims.get("dv-iris")) == nil
            return gone && status?.phase == .idle && status?.pulledGeneration == nil
        }

        // Session 2: the home is refreshed (sync.onStart) and the dataset pulled into a new
        // claim, both before the notebook's first command.
        let second = try await session(w, op, name: "jupyter-alice-2", script: """
            { cat data/added.csv; cat /data/iris/extra.csv; } > results/second-read.txt
            """, awaiting: [home, "iris"])
        #expect(second.injected.contains("dv/\(home):rw"))
        #expect(await w.read(claim, "results/second-read.txt") == "4,5,6\n6.3,3.3,virginica\n")
        try await stop(w, "jupyter-alice-2", home: home)
        #expect(try await w.object("homes/alice/results/second-read.txt") == "4,5,6\n6.3,3.3,virginica\n")
    }

    struct Session {
        var injected: String
    }

    /// Starts the spawner's pod for alice and waits until its notebook runs; checks that the
    /// wait container held it until each awaited volume's pull completed, and that each pull
    /// ran on the notebook's node (the claims are ReadWriteOnce).
    func session(_ w: World, _ op: OperatorProcess, name: String, script: String, awaiting: [String]) async throws -> Session {
        // A volume that does not exist yet (the home, at first login) has synced 0 times.
        let counts = await awaiting.asyncMap { (try? await w.dataVolumes.get($0).status?.syncCount) ?? 0 }
        var pod = w.notebookPod(user: "alice", claims: [], script: script)
        pod.metadata.name = name
        pod.metadata.annotations?[StowageKeys.user] = nil
        let created = try await w.pods.create(pod)
        let injected = created.metadata.annotations?[StowageKeys.injected] ?? ""
        let wait = try #require(created.spec?.initContainers?.first, "the pod waits for its data: \(injected)")
        #expect(wait.name == "stowage-wait" && wait.image == w.env.image)
        #expect(wait.args?.contains("/home/jovyan:\(counts[0])") == true, "\(wait.args ?? [])")

        // While the pod waits, the pulls run in containers next to it.
        var pullNodes: [String: String] = [:]
        try await eventually("the notebook container runs", timeout: .seconds(120)) {
            for syncPod in try await w.syncPods(.pull) {
                if let volume = syncPod.metadata.labels?[StowageKeys.dataVolume], let node = syncPod.spec?.nodeName { pullNodes[volume] = node }
            }
            let state = try await w.pods.get(name).status?.containerStatuses?.first?["state"]
            if let terminated = state?["terminated"] { throw NotebookFailed(state: "\(terminated)", log: op.log) }
            return state?["running"] != nil
        }
        let running = try await w.pods.get(name)
        let node = try #require(running.spec?.nodeName)
        let startedAt = try #require(running.status?.containerStatuses?.first?["state"]?["running"]?["startedAt"]?.stringValue
            .flatMap { try? Date($0, strategy: .iso8601) })
        for (volume, count) in zip(awaiting, counts) {
            // The sync pod's manifest releases the wait; the operator records the Job after.
            try await eventually("\(volume)'s pull for this pod is recorded") {
                let status = try await w.dataVolumes.get(volume).status
                return (status?.syncCount ?? 0) > count && status?.lastSync?.direction == .pull
            }
            let pull = try #require(try await w.dataVolumes.get(volume).status?.lastSync)
            #expect(pull.result == .succeeded, "\(volume) was pulled for this pod")
            // The container's start time has whole seconds: compare at that precision.
            let pulledAt = try #require(pull.end).timeIntervalSince1970.rounded(.down)
            if startedAt.timeIntervalSince1970 < pulledAt {
                // Seen once under load (8 s early): say what released the wait and how many
                // pods the pull's Job ran, for whoever looks next.
                let root = try? await w.directory(claim: ChildNames.claimName(kind: .dataVolume, name: volume))
                let manifest = root.flatMap { try? String(contentsOfFile: $0 + "/" + ".stowage/manifest.json", encoding: .utf8) }
                let pulls = (try? await w.syncPods(.pull))?.filter { $0.metadata.labels?[StowageKeys.dataVolume] == volume }
                Issue.record("""
                    \(volume): notebook started \(startedAt), pull ended \(pull.end!) (started \(pull.start.map { "\($0)" } ?? "?"));
                    its pull pods: \(pulls?.map { "\($0.metadata.name ?? "?") \($0.status?.phase ?? "?")" } ?? []);
                    manifest: \(manifest?.prefix(300) ?? "unreadable")
                    """)
            }
            #expect(pullNodes[volume] == node, "\(volume)'s pull ran on the notebook's node \(node): \(pullNodes)")
        }
        return Session(injected: injected)
    }

    /// Deletes the pod and waits until its home's final push is recorded.
    func stop(_ w: World, _ name: String, home: String) async throws {
        let pushes = try await w.syncsStarted(.push, volume: home)
        try await w.pods.delete(name)
        try await eventually("the final push ran and the home is Idle", timeout: .seconds(90)) {
            let status = try await w.dataVolumes.get(home).status
            return status?.phase == .idle && status?.lastSync?.direction == .push && status?.lastSync?.result == .succeeded
        }
        #expect(try await w.syncsStarted(.push, volume: home) == pushes + 1)
    }
}

struct NotebookFailed: Error, CustomStringConvertible {
    var state: String
    var log: String
    var description: String { "the notebook container ended: \(state)\noperator log:\n\(log)" }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// `stowage operator` as a process watching one world's namespace, serving the admission
/// webhook on loopback TLS, with the shipped webhook configuration registered for that
/// namespace only (so other tests' pods never reach it).
final class OperatorProcess: @unchecked Sendable {
    let process: Process
    let logPath: String
    let configurationName: String
    let env: TestEnvironment
    let tls: TLSMaterial

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    init(process: Process, logPath: String, configurationName: String, env: TestEnvironment, tls: TLSMaterial) {
        self.process = process
        self.logPath = logPath
        self.configurationName = configurationName
        self.env = env
        self.tls = tls
    }

    /// `healthPort`: where `/metrics`, `/healthz` and `/readyz` are served (0: any free port);
    /// `arguments`: more flags of `stowage operator`.
    static func start(_ w: World, healthPort: Int = 0, arguments: [String] = []) async throws -> OperatorProcess {
        let tls = try TLSMaterial.make()
        let port = try freePort()
        let logPath = w.root + "/operator.log"
        let process = try startLogged(World.binary, [
            "operator", "--kubeconfig", w.env.kubeconfig, "--namespace", w.namespace,
            "--watch-namespace", w.namespace, "--no-leader-elect", "--health-port", String(healthPort),
            "--image", w.env.image, "--sync-backoff-limit", "0", "--log-level", "info",
            "--webhook-port", String(port), "--tls-cert", tls.certificate, "--tls-key", tls.key,
            // The test environment's admin runs the operator here: its Jobs are the operator's.
            "--operator-user", "admin",
        ] + arguments, log: logPath)
        let op = OperatorProcess(process: process, logPath: logPath, configurationName: "stowage-e2e-\(w.namespace)", env: w.env, tls: tls)
        do {
            try await op.register(port: port, namespace: w.namespace, client: w.client)
        } catch {
            op.stop()
            throw error
        }
        return op
    }

    /// deploy/webhook.yaml as shipped, pointed at this process and narrowed to one namespace.
    func register(port: Int, namespace: String, client: KubeClient) async throws {
        try env.kubectl(["label", "namespace", namespace, "stowage.io/e2e=\(namespace)"])
        let shipped = try String(contentsOfFile: TestEnvironment.packageRoot + "/deploy/webhook.yaml", encoding: .utf8)
        var items: [[String: Any]] = []
        for document in shipped.components(separatedBy: "\n---\n") {
            let json = try run("/usr/bin/kubectl", ["create", "--dry-run=client", "-o", "json", "-f", "-"], input: document)
            items.append(try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]))
        }
        for i in items.indices {
            var metadata = items[i]["metadata"] as? [String: Any] ?? [:]
            metadata["name"] = configurationName
            metadata["annotations"] = nil
            items[i]["metadata"] = metadata
            var hooks = items[i]["webhooks"] as? [[String: Any]] ?? []
            for j in hooks.indices {
                var client = hooks[j]["clientConfig"] as? [String: Any] ?? [:]
                let path = (client["service"] as? [String: Any])?["path"] as? String ?? ""
                client = ["url": "https://127.0.0.1:\(port)\(path)", "caBundle": tls.caBundle]
                hooks[j]["clientConfig"] = client
                hooks[j]["namespaceSelector"] = ["matchLabels": ["stowage.io/e2e": namespace]]
            }
            items[i]["webhooks"] = hooks
        }
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": items]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self)
        _ = try run("/usr/bin/kubectl", ["--kubeconfig", env.kubeconfig, "apply", "-f", "-"], input: json)

        // The API server picks configurations up from a watch, and the webhook's caches must
        // have synced: probe until a forged identity is stripped and a foreign claim refused.
        var probe = 0
        let pods = client.resource(Pod.self, namespace: namespace)
        try await eventually("the webhook is in force", timeout: .seconds(60)) {
            probe += 1
            let pod = Pod(metadata: ObjectMeta(name: "probe-\(probe)", annotations: [StowageKeys.user: "forged"]),
                          spec: PodSpec(containers: [Container(name: "c", image: self.env.notebookImage)]))
            let created = try await pods.create(pod)
            try? await pods.delete(created.metadata.name ?? "")
            return created.metadata.annotations?[StowageKeys.user] == nil
        }
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        _ = try? env.kubectl(["delete", "mutatingwebhookconfiguration,validatingwebhookconfiguration", configurationName, "--ignore-not-found"])
        tls.remove()
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CommandFailed(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
