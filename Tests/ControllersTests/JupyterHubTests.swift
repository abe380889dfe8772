import Controllers
import Foundation
import HTTP
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// JupyterHub itself, not a pod that looks like KubeSpawner's: the hub (with KubeSpawner,
/// the Python proxy and `deploy/jupyterhub/values.yaml`) spawns and stops servers through its
/// REST API, as its service account, on the test environment's node; `stowage operator`
/// serves the webhook (registered as shipped) and runs the controllers.
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct JupyterHubTests {
    /// The operator's progress interval here (15 s by default): short, so a pull of a few
    /// seconds shows its progress.
    static let progressInterval = 1

    @Test func theHubSpawnsAlicesServerOnceHerDataIsInAndItsWorkIsPushedWhenTheHubStopsIt() async throws {
        let w = try await World.make("hub")
        let hub = try await JupyterHub.start(w)
        defer { hub.stop() }
        try await w.setConfig(w.homesConfig + "spawners:\n  trusted: [\"\(hub.identity)\"]\n")
        let op = try await OperatorProcess.start(w, arguments: ["--progress-interval", String(Self.progressInterval)])
        defer { op.stop() }
        do {
            try await story(w, hub)
        } catch {
            Issue.record("operator log:\n\(op.log.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            Issue.record("hub log:\n\(hub.log.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            throw error
        }
        // Before its directory (and the hub's pid file in it) goes.
        hub.stop()
        await w.cleanUp()
    }

    func story(_ w: World, _ hub: JupyterHub) async throws {
        // alice's home holds enough files for its pull to take a few seconds even on a quiet
        // machine (1,500 files were pulled within one progress interval there, and the spawn
        // page showed no progress line), and she has a thesis project attached to her pods.
        let files = 4000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in 0..<10 {
                group.addTask {
                    for i in stride(from: batch, to: files, by: 10) {
                        _ = try await w.s3.putObject(bucket: w.bucket, key: "homes/alice/data/part-\(i).csv", data: Data(repeating: UInt8(i % 251), count: 16_384))
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await w.s3.putObject(bucket: w.bucket, key: "thesis/chapter1.md", data: Data("# One\n".utf8))
        _ = try await w.dataVolumes.create(DataVolume(name: "thesis", spec: DataVolumeSpec(
            owner: "alice", size: "1Gi", source: w.source(prefix: "thesis"), access: .readWrite,
            mount: Mount(path: "/home/jovyan/thesis"), attachTo: AttachTo(users: ["alice"]))))
        try await eventually("the thesis is pulled", timeout: .seconds(90)) { try await w.dataVolumes.get("thesis").status?.phase == .ready }

        // alice logs in and starts her server: the hub's KubeSpawner makes the pod.
        #expect(try await hub.call(.post, "/users/alice").status == 201)
        let spawn = try await hub.call(.post, "/users/alice/server")
        #expect(spawn.status == 202, "\(spawn.status) \(spawn.text)")
        let shown = try await hub.progress("alice")
        #expect(try await hub.server("alice")?["ready"] as? Bool == true, "the hub reports alice's server ready: \(shown)")

        let pod = try await w.pods.get("jupyter-alice")
        let home = try #require(UserName.homeName(for: "alice"))
        let injected = pod.metadata.annotations?[StowageKeys.injected] ?? ""
        #expect(injected.contains("dv/\(home):rw") && injected.contains("dv/thesis:rw"), "\(injected)")
        #expect(pod.metadata.labels?["stowage.io/notebook"] == "true", "singleuser.extraLabels")
        #expect(pod.spec?.securityContext?.fsGroup == 100, "singleuser.fsGid")
        #expect(pod.spec?.containers.first?.securityContext?.runAsUser == 1000, "singleuser.uid")
        #expect(pod.spec?.initContainers?.first?.name == StowageWait.containerName)

        // The notebook started after its home's pull ended.
        let pull = try #require(try await w.dataVolumes.get(home).status?.lastSync)
        #expect(pull.direction == .pull && pull.result == .succeeded)
        let startedAt = try #require(pod.status?.containerStatuses?.first?["state"]?["running"]?["startedAt"]?.stringValue
            .flatMap { try? Date($0, strategy: .iso8601) })
        // The container's start time has whole seconds: compare at that precision.
        let pulledAt = try #require(pull.end).timeIntervalSince1970.rounded(.down)
        #expect(startedAt.timeIntervalSince1970 >= pulledAt, "the notebook started \(startedAt), the pull ended \(pull.end!)")

        // What the spawn page showed: the operator's Events on the pod, through KubeSpawner.
        let waiting = shown.filter { $0.contains("Stowage: waiting for") }
        #expect(!waiting.isEmpty, "\(shown)")
        #expect(waiting.contains { $0.contains("dv/\(home) pulling") && $0.contains("/\(files) files") }, "the pull's progress: \(shown)")
        // The thesis was in place: the pod waited for its home only, and was told once it is ready.
        let posted = try await stowageEvents(w, "jupyter-alice")
        let readyLine = "Stowage: volume ready (dv/\(home)); the notebook starts"
        let ready = posted.filter { $0.reason == SpawnProgress.readyReason }
        #expect(ready.map(\.message) == [readyLine], "\(posted.map(\.message))")
        // The page shows that line when it comes in time. JupyterHub stops reading
        // KubeSpawner's progress once the server answers, KubeSpawner reads Events once a
        // second, and the wait container starts the notebook as soon as the data is in place,
        // while the operator learns of the pull's end from its Job. So the line may come too
        // late for the page, never too early: missing from it, it was posted at most a
        // second before the notebook started (both times are whole seconds).
        if !shown.contains(where: { $0.contains(readyLine) }), let postedAt = ready.first?.firstTimestamp {
            #expect(postedAt.timeIntervalSince1970 >= startedAt.timeIntervalSince1970 - 2,
                    "posted at \(postedAt), the notebook started \(startedAt), and the page did not show it: \(shown)")
        }

        // The progress stops when the notebook starts: the Events came at least once per
        // interval while the pull ran, and none comes in three more.
        try await Task.sleep(for: .seconds(3 * Self.progressInterval + 2))
        #expect(try await stowageEvents(w, "jupyter-alice").count == posted.count)

        // She works, then stops her server through the hub: her changes are pushed.
        _ = try w.env.kubectl(["exec", "-n", w.namespace, "jupyter-alice", "-c", "notebook", "--", "sh", "-c",
                               "echo 'accuracy: 0.97' > /home/jovyan/results.txt && echo '# Two' > /home/jovyan/thesis/chapter2.md"])
        let stop = try await hub.call(.delete, "/users/alice/server")
        #expect([202, 204].contains(stop.status), "\(stop.status) \(stop.text)")
        try await eventually("the hub reports the server stopped", timeout: .seconds(90)) { try await hub.server("alice") == nil }
        for volume in [home, "thesis"] {
            try await eventually("\(volume) is pushed", timeout: .seconds(120)) {
                let status = try await w.dataVolumes.get(volume).status
                return status?.phase == .idle && status?.lastSync?.direction == .push && status?.lastSync?.result == .succeeded
            }
        }
        #expect(try await w.object("homes/alice/results.txt") == "accuracy: 0.97\n")
        #expect(try await w.object("thesis/chapter2.md") == "# Two\n")

        // A named server (hub.allowNamedServers) is its own pod with the same home, refreshed
        // from what the first one pushed.
        #expect(try await hub.call(.post, "/users/alice/servers/analysis").status == 202)
        let named = try await hub.progress("alice", server: "analysis")
        #expect(named.last?.hasPrefix("Server ready") == true, "\(named)")
        let second = try await w.pods.get("jupyter-alice--analysis")
        #expect(second.metadata.annotations?[StowageKeys.injected]?.contains("dv/\(home):rw") == true)
        let seen = try w.env.kubectl(["exec", "-n", w.namespace, "jupyter-alice--analysis", "-c", "notebook", "--", "cat", "/home/jovyan/results.txt"])
        #expect(seen == "accuracy: 0.97\n")
        #expect([202, 204].contains(try await hub.call(.delete, "/users/alice/servers/analysis").status))
        try await eventually("the named server's pod is gone", timeout: .seconds(90)) { (try? await w.pods.get("jupyter-alice--analysis")) == nil }

        // bob's server, which the hub's profile mounts alice's thesis claim into, is refused
        // by the webhook, and the hub says so.
        #expect(try await hub.call(.post, "/users/bob").status == 201)
        #expect(try await hub.call(.post, "/users/bob/server", ["profile": "thesis"]).status == 202)
        let failure = try await hub.progress("bob").last ?? ""
        #expect(failure.hasPrefix("Spawn failed") && failure.contains("denied the request") && failure.contains("dv-thesis"), "\(failure)")
        #expect(try await hub.server("bob") == nil)
        #expect((try? await w.pods.get("jupyter-bob")) == nil, "refused at creation")
    }

    func stowageEvents(_ w: World, _ pod: String) async throws -> [Event] {
        try await w.events(for: pod).filter { ($0.reason ?? "").hasPrefix("Stowage") }
    }
}
