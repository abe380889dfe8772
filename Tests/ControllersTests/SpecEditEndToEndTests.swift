import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// Issue 15, item 4, end to end: only a change of what is pulled re-pulls; a larger
/// `spec.size` grows the claim where its StorageClass allows it and says why not elsewhere;
/// a larger `homes.size` reaches the homes that exist.
extension EndToEndTests {
    func storage(_ w: World, _ claim: String) async throws -> (requested: String?, capacity: String?) {
        let pvc = try await w.claims.get(claim)
        return (pvc.spec?.resources?.requests?["storage"], pvc.status?.capacity?["storage"])
    }

    func resized(_ w: World, _ name: String) async throws -> Condition? {
        try await w.dataVolumes.get(name).status?.conditions?[type: ConditionType.claimResized]
    }

    /// The operator handled the spec of `generation` (the witness that an edit was seen).
    func handled(_ w: World, _ name: String, generation: Int64) async throws -> Bool {
        let volume = try await w.dataVolumes.get(name)
        return volume.metadata.generation == generation && volume.status?.observedGeneration == generation
    }

    @Test func onlyAChangeOfWhatIsPulledRepullsAndALargerSizeGrowsTheClaim() async throws {
        try await withWorld("edits") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "a/one.txt", data: Data("1".utf8))
            _ = try await w.s3.putObject(bucket: w.bucket, key: "b/two.txt", data: Data("2".utf8))
            _ = try await w.dataVolumes.create(dv(w, "data", prefix: "a"))
            try await eventually("Ready") { try await phase(w, "data") == .ready }
            #expect(try await w.syncsStarted(.pull, volume: "data") == 1)
            #expect(try await resized(w, "data") == nil, "a claim that was never resized has no ClaimResized condition")

            // A larger size: the claim grows (stowage-local allows expansion), nothing is pulled.
            _ = try await w.dataVolumes.patch("data", .merge, ["spec": ["size": "2Gi"]])
            try await eventually("the claim has 2Gi") { try await storage(w, "dv-data") == ("2Gi", "2Gi") }
            try await eventually("ClaimResized is True") { try await resized(w, "data")?.status == "True" }
            #expect(try await resized(w, "data")?.reason == ConditionReason.resized)
            #expect(try await w.events(for: "data").contains { $0.reason == ConditionReason.expanding && $0.type == "Normal" })

            // A new mount path and another user to attach to: nothing is pulled either.
            _ = try await w.dataVolumes.patch("data", .merge, ["spec": ["mount": ["path": "/data"], "attachTo": ["users": ["bob"]]]])
            try await eventually("the operator saw generation 3") { try await handled(w, "data", generation: 3) }
            #expect(try await phase(w, "data") == .ready)
            #expect(try await w.syncsStarted(.pull, volume: "data") == 1, "size, mount and attachTo edits re-pull nothing")

            // A new prefix is a new source: pulled.
            _ = try await w.dataVolumes.patch("data", .merge, ["spec": ["source": ["s3": ["prefix": "b"]]]])
            try await eventually("the new prefix is pulled") { await w.read("dv-data", "two.txt") == "2" }
            #expect(try await w.syncsStarted(.pull, volume: "data") == 2)
            #expect(try await w.events(for: "data").contains { $0.message == "pull started: spec.source or spec.access changed since the last pull" })
        }
    }

    @Test func aClaimThatCannotGrowOrShrinkSaysWhy() async throws {
        try await withWorld("fixed") { w in
            // A class of the same provisioner that does not allow expansion.
            let provisioner = try w.env.kubectl(["get", "storageclass", w.env.storageClass, "-o", "jsonpath={.provisioner}"])
            let fixed = "\(w.namespace)-fixed"
            let manifest = FileManager.default.temporaryDirectory.appendingPathComponent("\(fixed).yaml")
            try "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: \(fixed)}\nprovisioner: \(provisioner)\nallowVolumeExpansion: false\n"
                .write(to: manifest, atomically: true, encoding: .utf8)
            _ = try w.env.kubectl(["apply", "-f", manifest.path])
            defer { _ = try? w.env.kubectl(["delete", "storageclass", fixed, "--wait=false"]) }

            _ = try await w.dataVolumes.create(DataVolume(name: "scratch", spec: DataVolumeSpec(owner: "alice", size: "1Gi", storageClassName: fixed)))
            try await eventually("Ready") { try await phase(w, "scratch") == .ready }
            try await eventually("the claim is bound at 1Gi") { try await storage(w, "dv-scratch") == ("1Gi", "1Gi") }

            _ = try await w.dataVolumes.patch("scratch", .merge, ["spec": ["size": "3Gi"]])
            try await eventually("ClaimResized says the expansion was refused") {
                try await resized(w, "scratch")?.reason == ConditionReason.expansionRefused
            }
            let refused = try #require(try await resized(w, "scratch"))
            #expect(refused.status == "False")
            #expect(refused.message.contains("claim dv-scratch cannot grow from 1Gi to 3Gi"), "\(refused.message)")
            #expect(refused.message.contains("storageclass"), "the API server's reason is quoted: \(refused.message)")
            let warnings = try await w.events(for: "scratch").filter { $0.reason == ConditionReason.expansionRefused }
            #expect(warnings.first?.type == "Warning")
            #expect(try await storage(w, "dv-scratch") == ("1Gi", "1Gi"))
            #expect(try await phase(w, "scratch") == .ready, "the volume stays usable at its size")

            // Smaller than the claim (no webhook here to refuse it): reported, never acted on.
            _ = try await w.dataVolumes.patch("scratch", .merge, ["spec": ["size": "500Mi"]])
            try await eventually("ClaimResized says a claim cannot shrink") {
                try await resized(w, "scratch")?.reason == ConditionReason.shrinkRefused
            }
            #expect(try await resized(w, "scratch")?.message == "spec.size 500Mi is smaller than claim dv-scratch (1Gi): a claim cannot shrink; it keeps 1Gi")
            #expect(try await storage(w, "dv-scratch") == ("1Gi", "1Gi"))
            let refusals = try await w.events(for: "scratch").filter { $0.reason == ConditionReason.expansionRefused }
            #expect(refusals.count == 1 && refusals.first?.count ?? 1 == 1, "the refusal was posted once")
        }
    }

    @Test func aLargerHomesSizeGrowsTheHomesThatExist() async throws {
        try await withWorld("homesize") { w in
            func config(size: String) -> String {
                "homes:\n  enabled: true\n  size: \(size)\n  mountPath: /home/jovyan\n"
            }
            try await w.setConfig(config(size: "1Gi"))
            try await eventually("the configuration is in force") {
                try await w.events(for: StowageConfig.configMapName).contains { $0.reason == "ConfigApplied" }
            }
            let home = try #require(UserName.homeName(for: "carol"))
            _ = try await w.pods.create(w.notebookPod(user: "carol", claims: []))
            try await eventually("carol's home is Ready") { try await phase(w, home) == .ready }
            let claim = try await w.dataVolumes.get(home).claimName
            try await eventually("the home's claim is bound at 1Gi") { try await storage(w, claim) == ("1Gi", "1Gi") }

            try await w.setConfig(config(size: "4Gi"))
            try await eventually("the home asks for 4Gi") { try await w.dataVolumes.get(home).spec.size == "4Gi" }
            try await eventually("the home's claim has 4Gi") { try await storage(w, claim) == ("4Gi", "4Gi") }

            // Lowering homes.size shrinks nothing; a new user's home (the witness that the
            // lower size is in force) gets it.
            try await w.setConfig(config(size: "2Gi"))
            let newcomer = try #require(UserName.homeName(for: "dave"))
            _ = try await w.pods.create(w.notebookPod(user: "dave", claims: []))
            try await eventually("dave's home is Ready") { try await phase(w, newcomer) == .ready }
            #expect(try await w.dataVolumes.get(newcomer).spec.size == "2Gi")
            #expect(try await w.dataVolumes.get(home).spec.size == "4Gi")
            #expect(try await storage(w, claim) == ("4Gi", "4Gi"))
        }
    }
}
