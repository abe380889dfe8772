import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// DESIGN.md's lifecycle end to end: real kube-apiserver, kube-controller-manager (the Job
/// controller, the volume binder, garbage collection), kube-scheduler, kubelets with
/// containerd, and SeaweedFS; sync pods run the stowage image in containers, notebooks run
/// the notebook image as 1000:100.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct EndToEndTests {
    func withWorld(_ prefix: String, config: String? = nil, _ body: (World) async throws -> Void) async throws {
        try await World.with(prefix, config: config, { _ in }, body)
    }

    func dv(_ w: World, _ name: String, access: AccessMode = .readWrite, sync: SyncPolicy? = nil,
            reclaim: ReclaimPolicy? = nil, prefix: String? = nil) -> DataVolume {
        DataVolume(name: name, spec: DataVolumeSpec(
            owner: "alice", size: "1Gi", source: w.source(prefix: prefix ?? "users/\(name)"), access: access,
            sync: sync, reclaimPolicy: reclaim))
    }

    func phase(_ w: World, _ name: String) async throws -> VolumePhase? { try await w.dataVolumes.get(name).status?.phase }


    @Test func theNotebookUsersStory() async throws {
        try await withWorld("story") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "users/home/notebooks/analysis.ipynb", data: Data("v1".utf8))
            _ = try await w.s3.putObject(bucket: w.bucket, key: "users/home/data/raw.csv", data: Data("1,2,3".utf8))
            _ = try await w.dataVolumes.create(dv(w, "home"))
            let claim = "dv-home"

            // Created: claim, then the initial pull, then Ready with the data in place.
            try await eventually("the volume is Ready") { try await phase(w, "home") == .ready }
            #expect(await w.read(claim, "notebooks/analysis.ipynb") == "v1")
            let pvc = try await w.claims.get(claim)
            #expect(pvc.metadata.ownerReferences?.first?.kind == "DataVolume")
            var status = try #require(try await w.dataVolumes.get("home").status)
            #expect(status.lastSync?.direction == .pull && status.lastSync?.result == .succeeded)
            #expect(status.lastSync?.files == 2)
            #expect(status.claimName == claim)
            #expect(status.lastSync?.manifestDigest?.isEmpty == false)

            // The notebook starts: InUse, with the pod as consumer.
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
            try await eventually("the volume is InUse") { try await phase(w, "home") == .inUse }
            status = try #require(try await w.dataVolumes.get("home").status)
            #expect(status.consumers == ["\(w.namespace)/jupyter-alice"])

            // The notebook edits a file and writes a new one, then stops.
            try await w.write(claim, "notebooks/analysis.ipynb", "v2 edited in the notebook")
            try await w.write(claim, "results/plot.png", "png")
            try await w.pods.delete("jupyter-alice")
            try await eventually("the final sync ran and the volume is Idle") { try await phase(w, "home") == .idle }
            #expect(try await w.object("users/home/notebooks/analysis.ipynb") == "v2 edited in the notebook")
            #expect(try await w.object("users/home/results/plot.png") == "png")
            status = try #require(try await w.dataVolumes.get("home").status)
            #expect(status.lastSync?.direction == .push && status.lastSync?.files == 2)
            #expect(try await w.syncsStarted(.push) == 1)

            // Someone changes one object in the bucket; the second session reuses the cached
            // claim and pulls only that change before the notebook starts.
            _ = try await w.s3.putObject(bucket: w.bucket, key: "users/home/data/raw.csv", data: Data("4,5,6".utf8))
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
            try await eventually("the refresh pull ran and the volume is InUse") {
                let s = try await w.dataVolumes.get("home").status
                return s?.phase == .inUse && s?.lastSync?.direction == .pull
            }
            status = try #require(try await w.dataVolumes.get("home").status)
            #expect(status.lastSync?.files == 1, "only the changed object is pulled")
            #expect(await w.read(claim, "data/raw.csv") == "4,5,6")
            #expect(await w.read(claim, "results/plot.png") == "png", "local work survives the refresh")
            #expect(try await w.claims.get(claim).metadata.uid == pvc.metadata.uid, "the claim is reused")

            let reasons = Set(try await w.events(for: "home").compactMap(\.reason))
            #expect(reasons.isSuperset(of: ["ClaimCreated", "SyncStarted", "SyncSucceeded"]))
        }
    }

    @Test func rwdPropagatesDeletionsAndItsGuardStopsAMassDeletion() async throws {
        try await withWorld("rwd") { w in
            for i in 0..<5 { _ = try await w.s3.putObject(bucket: w.bucket, key: "m/f\(i).txt", data: Data("\(i)".utf8)) }
            _ = try await w.dataVolumes.create(dv(w, "mirror", access: .readWriteDelete, sync: SyncPolicy(maxDeletes: 2), prefix: "m"))
            let claim = "dv-mirror"
            try await eventually("Ready") { try await phase(w, "mirror") == .ready }

            // One deletion: mirrored.
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
            try await eventually("InUse") { try await phase(w, "mirror") == .inUse }
            try await w.remove(claim, "f0.txt")
            try await w.pods.delete("jupyter-alice")
            try await eventually("Idle after the mirror") { try await phase(w, "mirror") == .idle }
            #expect(try await w.object("m/f0.txt") == nil, "the deletion reached object storage")
            #expect(try await w.dataVolumes.get("mirror").status?.lastSync?.deleted == 1)

            // Three deletions with maxDeletes 2: refused, Failed, nothing deleted, an event.
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
            try await eventually("InUse again") { try await phase(w, "mirror") == .inUse }
            for i in 1...3 { try await w.remove(claim, "f\(i).txt") }
            try await w.pods.delete("jupyter-alice")
            try await eventually("Failed by the guard") { try await phase(w, "mirror") == .failed }
            for i in 1...3 { #expect(try await w.object("m/f\(i).txt") == "\(i)") }
            let status = try #require(try await w.dataVolumes.get("mirror").status)
            #expect(status.conditions?[type: ConditionType.synced]?.status == "False")
            #expect(status.lastSync?.result == .failed)
            let events = try await w.events(for: "mirror")
            #expect(events.contains { $0.reason == ConditionReason.deleteGuard && $0.type == "Warning" }, "\(events.map(\.reason))")
            #expect(try await w.claims.get(claim).metadata.deletionTimestamp == nil, "unpushed work keeps its claim")
        }
    }

    @Test func roNeverPushes() async throws {
        try await withWorld("ro") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "ds/train.csv", data: Data("x".utf8))
            _ = try await w.dataVolumes.create(dv(w, "dataset", access: .readOnly, prefix: "ds"))
            try await eventually("Ready") { try await phase(w, "dataset") == .ready }
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: ["dv-dataset"]))
            try await eventually("InUse") { try await phase(w, "dataset") == .inUse }
            try await w.write("dv-dataset", "scribble.txt", "should never leave the volume")
            try await w.pods.delete("jupyter-alice")
            try await eventually("no consumers") { try await w.dataVolumes.get("dataset").status?.consumers == nil }
            try await Task.sleep(for: .seconds(2))
            #expect(try await w.syncsStarted(.pull) == 1, "the witness: the operator handled the volume")
            #expect(try await w.syncsStarted(.push) == 0)
            #expect(try await w.object("ds/scribble.txt") == nil)
            #expect(try await w.dataVolumes.get("dataset").status?.pendingPush == nil)
        }
    }

    @Test func deletingAVolumeInUseWaitsForItsFinalSyncAndRetainKeepsTheClaim() async throws {
        try await withWorld("delete") { w in
            _ = try await w.dataVolumes.create(dv(w, "keep", reclaim: .retain))
            _ = try await w.dataVolumes.create(dv(w, "drop"))
            try await eventually("both Ready") {
                let keep = try await phase(w, "keep"), drop = try await phase(w, "drop")
                return keep == .ready && drop == .ready
            }
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: ["dv-keep", "dv-drop"]))
            try await eventually("InUse") {
                let keep = try await phase(w, "keep"), drop = try await phase(w, "drop")
                return keep == .inUse && drop == .inUse
            }
            try await w.write("dv-keep", "work.txt", "keep me")
            try await w.write("dv-drop", "work.txt", "push me before you go")

            try await w.dataVolumes.delete("keep")
            try await w.dataVolumes.delete("drop")
            try await Task.sleep(for: .seconds(2))
            #expect(try await phase(w, "keep") == .terminating, "deletion waits while the notebook runs")
            #expect(try await w.syncsStarted(.push) == 0)

            try await w.pods.delete("jupyter-alice")
            try await eventually("both are gone") {
                let names = try await w.dataVolumes.listAll().items.map(\.metadata.name)
                return names.isEmpty
            }
            #expect(try await w.object("users/keep/work.txt") == "keep me")
            #expect(try await w.object("users/drop/work.txt") == "push me before you go")
            let kept = try await w.claims.get("dv-keep")
            #expect(kept.metadata.ownerReferences == nil, "Retain releases the claim from garbage collection")
            try await eventually("the Delete claim is gone") {
                do { _ = try await w.claims.get("dv-drop"); return false } catch let e as KubeClientError where e.apiCode == .notFound { return true }
            }
        }
    }

    @Test func invalidVolumesAreRejectedOrFailedNamingTheField() async throws {
        try await withWorld("invalid") { w in
            // By the schema: kubectl gets the field in the error.
            let manifest = """
            apiVersion: stowage.io/v1alpha1
            kind: DataVolume
            metadata: {name: bad, namespace: \(w.namespace)}
            spec: {size: 1Gi, access: RWX}
            """
            let file = w.root + "-bad.yaml"
            try Data(manifest.utf8).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            #expect {
                try runKubectl(w.env, ["apply", "-f", file])
            } throws: { error in
                "\(error)".contains("spec.access")
            }

            // By validation the webhook will share: RWD without a source.
            _ = try await w.dataVolumes.create(DataVolume(name: "nosource", spec: DataVolumeSpec(size: "1Gi", access: .readWriteDelete)))
            try await eventually("Failed") { try await phase(w, "nosource") == .failed }
            let valid = try await w.dataVolumes.get("nosource").status?.conditions?[type: ConditionType.valid]
            #expect(valid?.status == "False")
            #expect(valid?.message.contains("spec.source") == true, "\(valid?.message ?? "")")
        }
    }

    @Test func aBrokenAccessLevelConfigMapKeepsThePreviousLevels() async throws {
        let good = """
        levels:
          public: {read: ["*"], write: ["members:ReadWrite"]}
        """
        try await withWorld("config", config: good) { w in
            let share = SharedVolume(name: "team", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "public"))
            _ = try await w.sharedVolumes.create(share)
            try await eventually("the share is Ready with its level") {
                let s = try await w.sharedVolumes.get("team").status
                return s?.phase == .ready && s?.level == "public"
            }
            #expect(try await w.claims.get("shv-team").spec?.accessModes == ["ReadWriteMany"])

            // A typo on line 3: refused with a Warning naming the line; "public" stays.
            try await w.setConfig("""
            levels:
              public: {read: ["*"], write: ["members:ReadWrite"]}
              private: {read: ["memebers"]}
            """)
            try await eventually("a Warning names the line") {
                try await w.events(for: StowageConfig.configMapName).contains {
                    $0.type == "Warning" && ($0.message ?? "").contains("line 3")
                }
            }
            _ = try await w.sharedVolumes.create(SharedVolume(name: "second", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "public")))
            try await eventually("a new share still resolves the old level") {
                try await w.sharedVolumes.get("second").status?.level == "public"
            }

            // A valid edit takes effect without a restart.
            try await w.setConfig("""
            levels:
              private: {read: ["members"], write: ["members:ReadWrite"]}
            """)
            try await eventually("the share loses its level") {
                let c = try await w.sharedVolumes.get("team").status?.conditions?[type: ConditionType.accessLevelResolved]
                return c?.status == "False"
            }
        }
    }

    @Test func aUsersFirstNotebookPodCreatesTheirHomeFromTheTemplate() async throws {
        try await withWorld("homes") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "homes/\(UserName.escape("B.ob"))/.bashrc", data: Data("export A=1".utf8))
            try await w.setConfig("""
            homes:
              enabled: true
              size: 2Gi
              mountPath: /home/jovyan
              source: {s3: {endpoint: "\(w.env.s3Endpoint)", bucket: \(w.bucket), prefix: "homes/{username}", credentialsSecretRef: {name: s3-creds}, pathStyle: true}}
            """)
            let home = try #require(UserName.homeName(for: "B.ob"))
            try await eventually("the configuration is in force") {
                try await w.events(for: StowageConfig.configMapName).contains { $0.reason == "ConfigApplied" }
            }
            _ = try await w.pods.create(w.notebookPod(user: "B.ob", claims: []))
            try await eventually("the home exists and is Ready") { try await phase(w, home) == .ready }
            let dv = try await w.dataVolumes.get(home)
            #expect(dv.spec.owner == "B.ob")
            #expect(dv.spec.size == "2Gi")
            #expect(dv.spec.source?.s3?.prefix == "homes/\(UserName.escape("B.ob"))")
            #expect(await w.read(dv.claimName, ".bashrc") == "export A=1")
            // A second pod of the same user creates nothing new.
            // A real pod takes its grace period to go; the hub waits for it, as here.
            try await w.pods.delete("jupyter-\(UserName.escape("B.ob"))")
            try await eventually("the first pod is gone") { (try? await w.pods.get("jupyter-\(UserName.escape("B.ob"))")) == nil }
            _ = try await w.pods.create(w.notebookPod(user: "B.ob", claims: []))
            try await Task.sleep(for: .seconds(1))
            #expect(try await w.dataVolumes.listAll().items.count == 1)
        }
    }

    @Test func sharedVolumesArePopulatedUnlessTheirLevelForbidsSync() async throws {
        let config = """
        levels:
          public: {read: ["*"], write: ["members:ReadWrite"]}
          secret: {read: ["members"], write: [], sync: false}
        """
        try await withWorld("shares", config: config) { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "modules/gcc/12.lua", data: Data("whatis('gcc')".utf8))
            _ = try await w.sharedVolumes.create(SharedVolume(name: "modules", spec: SharedVolumeSpec(
                size: "1Gi", accessLevel: "public", purpose: .software, source: w.source(prefix: "modules"))))
            _ = try await w.sharedVolumes.create(SharedVolume(name: "vault", spec: SharedVolumeSpec(
                size: "1Gi", accessLevel: "secret", source: w.source(prefix: "vault"))))
            try await eventually("the software share is pulled and Ready") {
                let s = try await w.sharedVolumes.get("modules").status
                return s?.phase == .ready && s?.lastSync?.direction == .pull
            }
            #expect(await w.read("shv-modules", "gcc/12.lua") == "whatis('gcc')")
            try await eventually("the secret share is Ready without a sync") { try await w.sharedVolumes.get("vault").status?.phase == .ready }
            #expect(try await w.sharedVolumes.get("vault").status?.lastSync == nil)
            #expect(try await w.syncsStarted(.pull, volume: "vault") == 0)
        }
    }

    @Test func syncNowPushesWhileTheNotebookRuns() async throws {
        try await withWorld("syncnow") { w in
            _ = try await w.dataVolumes.create(dv(w, "live"))
            try await eventually("Ready") { try await phase(w, "live") == .ready }
            _ = try await w.pods.create(w.notebookPod(user: "alice", claims: ["dv-live"]))
            try await eventually("InUse") { try await phase(w, "live") == .inUse }
            try await w.write("dv-live", "checkpoint.pt", "epoch 3")
            _ = try await w.dataVolumes.patch("live", .merge, ["metadata": ["annotations": [StowageKeys.syncNow: "1"]]])
            try await eventually("the requested push ran") { try await w.object("users/live/checkpoint.pt") == "epoch 3" }
            try await eventually("recorded, still InUse") {
                let s = try await w.dataVolumes.get("live").status
                return s?.lastSync?.direction == .push && s?.phase == .inUse && s?.syncRequest == "1"
            }
            // Still in use: the push is owed again when the notebook stops.
            #expect(try await w.dataVolumes.get("live").status?.pendingPush == true)
            try await Task.sleep(for: .seconds(1))
            #expect(try await w.syncsStarted(.push) == 1, "the same request value is handled once")
        }
    }
}

