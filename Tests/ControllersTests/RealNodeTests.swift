import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// What only a real node shows: where sync pods run, what reaches the status from inside a
/// container, and how a pod that cannot run is reported.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct RealNodeTests {
    func withWorld(_ prefix: String, _ adjust: (inout SyncPodSettings) -> Void = { _ in },
                   _ body: (World) async throws -> Void) async throws {
        try await World.with(prefix, adjust, body)
    }

    func dv(_ w: World, _ name: String, access: AccessMode = .readWrite, storageClass: String? = nil) -> DataVolume {
        DataVolume(name: name, spec: DataVolumeSpec(owner: "alice", size: "1Gi", storageClassName: storageClass,
                                                    source: w.source(prefix: name), access: access))
    }

    /// On a cluster a sync pod on another node than the pod that mounts a ReadWriteOnce
    /// claim would wait for ever to attach it: each sync-now push runs where the notebook runs.
    @Test func syncPodsOfAReadWriteOnceClaimInUseRunOnItsPodsNode() async throws {
        try await withWorld("rwo") { w in
            #expect(w.env.nodes.count >= 2, "the test environment has two nodes: \(w.env.nodes)")
            _ = try await w.dataVolumes.create(dv(w, "live"))
            try await eventually("Ready") { try await w.dataVolumes.get("live").status?.phase == .ready }
            #expect(try await w.claims.get("dv-live").spec?.accessModes == ["ReadWriteOnce"])
            for (i, node) in w.env.nodes.enumerated() {
                var pod = w.notebookPod(user: "alice", claims: ["dv-live"], node: node)
                pod.metadata.name = "jupyter-alice-\(i)"
                _ = try await w.pods.create(pod)
                try await eventually("the notebook runs on \(node)") {
                    try await w.pods.get("jupyter-alice-\(i)").status?.phase == "Running"
                }
                try await w.write("dv-live", "checkpoint-\(i).pt", "epoch \(i)")
                // Earlier pushes' pods stay (the last recorded Job is kept): only the new one counts.
                let earlier = Set(try await w.syncPods(.push).compactMap(\.metadata.name))
                _ = try await w.dataVolumes.patch("live", .merge, ["metadata": ["annotations": [StowageKeys.syncNow: .string("n\(i)")]]])
                var ranOn: String?
                try await eventually("the requested push ran", timeout: .seconds(90)) {
                    for p in try await w.syncPods(.push) where p.spec?.nodeName != nil && !earlier.contains(p.metadata.name ?? "") {
                        ranOn = p.spec?.nodeName
                    }
                    return try await w.object("live/checkpoint-\(i).pt") == "epoch \(i)"
                }
                #expect(ranOn == node, "the push for a notebook on \(node) ran on \(ranOn ?? "-")")
                try await w.pods.delete("jupyter-alice-\(i)")
                try await eventually("Idle again", timeout: .seconds(90)) { try await w.dataVolumes.get("live").status?.phase == .idle }
            }
        }
    }

    /// The result of a sync in a container reaches status.lastSync through the termination
    /// message, within its 4096 bytes, also when thousands of files change.
    @Test func aPullOfThousandsOfFilesIsReportedInFull() async throws {
        try await withWorld("many") { w in
            let count = 3000
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<30 {
                    group.addTask {
                        for i in stride(from: batch, to: count, by: 30) {
                            _ = try await w.s3.putObject(bucket: w.bucket, key: "many/dir\(i % 7)/file-\(i).txt", data: Data("\(i)\n".utf8))
                        }
                    }
                }
                try await group.waitForAll()
            }
            _ = try await w.dataVolumes.create(dv(w, "many", access: .readOnly))
            try await eventually("Ready", timeout: .seconds(180)) { try await w.dataVolumes.get("many").status?.phase == .ready }
            let status = try #require(try await w.dataVolumes.get("many").status)
            let bytes = (0..<count).reduce(0) { $0 + "\($1)\n".utf8.count }
            #expect(status.lastSync?.files == count && status.lastSync?.bytes == Int64(bytes), "\(String(describing: status.lastSync))")
            #expect(status.lastSync?.manifestDigest?.hasPrefix("sha256:") == true)
            #expect(await w.read("dv-many", "dir3/file-2999.txt") == "2999\n")
            let events = try await w.events(for: "many")
            #expect(events.contains { ($0.message ?? "").contains("pull succeeded: \(count) files") }, "\(events.compactMap(\.message))")
        }
    }

    /// A claim no provisioner can serve: Pending, with the provisioning failure as the
    /// ClaimBound condition and an event, and no sync pod.
    @Test func aClaimThatCannotBeProvisionedSaysWhy() async throws {
        try await withWorld("noclass") { w in
            _ = try await w.dataVolumes.create(dv(w, "orphan", storageClass: "no-such-class"))
            try await eventually("the ClaimBound condition names the failure", timeout: .seconds(60)) {
                let c = try await w.dataVolumes.get("orphan").status?.conditions?[type: ConditionType.claimBound]
                return c?.status == "False" && c?.reason == "ProvisioningFailed"
            }
            let status = try #require(try await w.dataVolumes.get("orphan").status)
            #expect(status.phase == .pending)
            #expect(status.conditions?[type: ConditionType.claimBound]?.message.contains("no-such-class") == true)
            try await eventually("a Warning event on the volume") {
                try await w.events(for: "orphan").contains { $0.type == "Warning" && $0.reason == "ProvisioningFailed" }
            }
            #expect(try await w.syncsStarted(.pull) == 0, "nothing mounts a claim that has no volume")
        }
    }

    /// A sync pod whose image is not there never starts: the volume fails with the reason.
    @Test func aSyncPodThatCannotGetItsImageFailsTheVolume() async throws {
        try await withWorld("noimage", { settings in
            settings.image = "stowage.test/not-built-here:0"
            settings.imagePullPolicy = "Never"
        }) { w in
            _ = try await w.dataVolumes.create(dv(w, "stuck"))
            try await eventually("Failed", timeout: .seconds(90)) { try await w.dataVolumes.get("stuck").status?.phase == .failed }
            let synced = try #require(try await w.dataVolumes.get("stuck").status?.conditions?[type: ConditionType.synced])
            #expect(synced.status == "False" && synced.message.contains("ErrImageNeverPull"), "\(synced.message)")
            try await eventually("a SyncFailed event") {
                try await w.events(for: "stuck").contains { $0.reason == ConditionReason.syncFailed && ($0.message ?? "").contains("ErrImageNeverPull") }
            }
        }
    }

    /// A sync container over its memory limit is killed by the kernel: the volume fails
    /// with OOMKilled, in its condition and an event, rather than waiting in Initializing.
    /// The sync engine streams file contents, so its memory grows with the keys it lists
    /// and plans, not with file sizes. Measured on this node: 2,000 keys of 815 bytes
    /// (deep paths) peak at 16 MiB of anonymous memory, an empty pull at 3.8 MiB; with an
    /// 8 MiB limit the container starts (runc needs less) and is killed within a second of
    /// its first listing page, every time. (Short keys make memory grow slowly, and near the
    /// limit the kernel evicts the binary's pages for minutes before it kills: no test.)
    @Test func anOOMKilledSyncContainerFailsTheVolumeWithItsReason() async throws {
        try await withWorld("oom", { settings in
            settings.resources = ResourceRequirements(requests: ["memory": "8Mi"], limits: ["memory": "8Mi"])
        }) { w in
            let segment = String(repeating: "s", count: 200)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<20 {
                    group.addTask {
                        for i in stride(from: batch, to: 2000, by: 20) {
                            let key = "deep/\(segment)\(i % 10)/\(segment)/\(segment)/\(segment)/f\(i).txt"
                            _ = try await w.s3.putObject(bucket: w.bucket, key: key, data: Data("x".utf8))
                        }
                    }
                }
                try await group.waitForAll()
            }
            _ = try await w.dataVolumes.create(dv(w, "deep", access: .readOnly))
            try await eventually("Failed") { try await w.dataVolumes.get("deep").status?.phase == .failed }
            let status = try #require(try await w.dataVolumes.get("deep").status)
            let synced = try #require(status.conditions?[type: ConditionType.synced])
            #expect(synced.status == "False" && synced.message.contains("sync container OOMKilled (exit 137)"), "\(synced.message)")
            #expect(status.lastSync?.result == .failed && status.lastSync?.direction == .pull)
            try await eventually("a SyncFailed event") {
                try await w.events(for: "deep").contains { $0.reason == ConditionReason.syncFailed && ($0.message ?? "").contains("OOMKilled") }
            }
        }
    }

    /// A sync container killed through the runtime in the middle of a push: object storage
    /// holds only whole objects, and the Job's next pod completes the push.
    @Test func aSyncContainerKilledMidTransferLeavesOnlyWholeObjectsAndTheRetryCompletes() async throws {
        try await withWorld("killed", { $0.backoffLimit = 1 }) { w in
            _ = try await w.dataVolumes.create(dv(w, "big"))
            try await eventually("Ready") { try await w.dataVolumes.get("big").status?.phase == .ready }
            var pod = w.notebookPod(user: "alice", claims: ["dv-big"], node: w.env.nodes[0])
            pod.metadata.name = "jupyter-big"
            _ = try await w.pods.create(pod)
            try await eventually("InUse") { try await w.dataVolumes.get("big").status?.phase == .inUse }
            // Parts of a multipart upload in flight when the kill comes (8 MiB parts).
            let size = 48 << 20, count = 6
            let root = try await w.directory(claim: "dv-big")
            var files: [String: Data] = [:]
            for i in 0..<count {
                var data = Data(count: size)
                data.withUnsafeMutableBytes { raw in
                    for j in stride(from: 0, to: raw.count, by: 8) { raw.storeBytes(of: UInt64.random(in: 0...UInt64.max), toByteOffset: j, as: UInt64.self) }
                }
                files["f\(i).bin"] = data
                try data.write(to: URL(fileURLWithPath: "\(root)/f\(i).bin"))
                chown("\(root)/f\(i).bin", World.notebookUser.uid, World.notebookUser.gid)
            }
            try await w.pods.delete("jupyter-big")

            // The push starts the moment its container runs and may take only seconds: watch
            // the nodes' runtimes themselves (the notebook is gone, so the push may run on
            // either node), and kill the container as soon as it has a task. The pull's
            // container has exited: killing it fails, so only a live one counts.
            var killed = false
            let deadline = ContinuousClock.now + .seconds(180)
            while !killed && ContinuousClock.now < deadline {
                for node in w.env.nodes {
                    for id in try w.env.runtimeContainers(namespace: w.namespace, container: "sync", node: node) {
                        if (try? w.env.killContainer(id, node: node)) != nil { killed = true }
                    }
                }
                if !killed { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(killed, "the push container ran and was killed")
            try await eventually("the killed pod failed") {
                try await w.syncPods(.push).contains { $0.status?.phase == "Failed" }
            }
            // Before the retry runs (the Job waits 10 s): whatever is in the bucket is whole.
            let partial = try await w.s3.listObjects(bucket: w.bucket, prefix: "big/").filter { !$0.key.contains("/.stowage/") }
            #expect(partial.count < count, "the kill came before the push was done (\(partial.count) objects)")
            for object in partial { #expect(object.size == Int64(size), "\(object.key) is whole") }

            try await eventually("the Job's next pod completed the push", timeout: .seconds(120)) {
                let s = try await w.dataVolumes.get("big").status
                return s?.phase == .idle && s?.lastSync?.direction == .push && s?.lastSync?.result == .succeeded
            }
            for (name, data) in files { #expect(try await w.s3.getObject(bucket: w.bucket, key: "big/\(name)") == data, "\(name)") }
            #expect(try await w.syncsStarted(.push) == 1, "one Job, two pods")
        }
    }
}
