import Controllers
import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing

/// Where sync pods go and when a claim can take one: pure decisions, no cluster.
@Suite struct SyncPlacementTests {
    func claim(_ modes: [String], bound: [String]? = nil) -> PersistentVolumeClaim {
        var claim = PersistentVolumeClaim(metadata: ObjectMeta(name: "dv-home", namespace: "ns"), spec: .init(accessModes: modes, storage: "1Gi"))
        if let bound {
            claim.status = .init()
            claim.status?.phase = "Bound"
            claim.status?.accessModes = bound
        }
        return claim
    }

    func pod(_ name: String, node: String?, terminating: Bool = false) -> Pod {
        var metadata = ObjectMeta(name: name, namespace: "ns")
        if terminating { metadata.deletionTimestamp = Date() }
        var spec = PodSpec(containers: [Container(name: "c")])
        spec.nodeName = node
        return Pod(metadata: metadata, spec: spec)
    }

    @Test func aReadWriteOnceClaimInUseSyncsOnItsConsumersNode() {
        let rwo = claim(["ReadWriteOnce"])
        #expect(SyncPlacement.decide(claim: rwo, consumers: [pod("nb", node: "node-b")]) == .node("node-b"))
        // Not yet scheduled: wait, since anywhere else the volume could not attach.
        #expect(SyncPlacement.decide(claim: rwo, consumers: [pod("nb", node: nil)]) == .waitForScheduling(pod: "ns/nb"))
        // A pod on its way out still holds the volume where it runs.
        #expect(SyncPlacement.decide(claim: rwo, consumers: [pod("old", node: "node-a", terminating: true), pod("new", node: nil)]) == .node("node-a"))
        // Nobody mounts it: anywhere.
        #expect(SyncPlacement.decide(claim: rwo, consumers: []) == .anywhere)
    }

    @Test func sharedClaimsSyncAnywhere() {
        #expect(SyncPlacement.decide(claim: claim(["ReadWriteMany"]), consumers: [pod("nb", node: "node-b")]) == .anywhere)
        // What the bound volume grants wins over what was asked.
        #expect(SyncPlacement.decide(claim: claim(["ReadWriteOnce"], bound: ["ReadWriteOnce", "ReadWriteMany"]),
                                     consumers: [pod("nb", node: "node-b")]) == .anywhere)
        #expect(SyncPlacement.decide(claim: nil, consumers: [pod("nb", node: "node-b")]) == .anywhere)
    }

    @Test func aClaimIsBindableWhenBoundOrBoundByItsFirstConsumer() {
        typealias E = ClaimBinding.ClaimEvent
        #expect(ClaimBinding(claim: "c", phase: "Bound", newestEvent: nil) == .bound)
        let wffc = ClaimBinding(claim: "c", phase: "Pending", newestEvent: E(warning: false, reason: "WaitForFirstConsumer", message: "waiting"))
        #expect(wffc == .waitForFirstConsumer && wffc.bindable)
        let provisioning = ClaimBinding(claim: "c", phase: "Pending",
                                        newestEvent: E(warning: false, reason: "ExternalProvisioning", message: "waiting for a volume to be created"))
        #expect(!provisioning.bindable && provisioning.reason == ConditionReason.claimPending)
        #expect(provisioning.message.contains("waiting for a volume to be created"))
        let failing = ClaimBinding(claim: "c", phase: "Pending",
                                   newestEvent: E(warning: true, reason: "ProvisioningFailed", message: #"storageclass.storage.k8s.io "fast" not found"#))
        #expect(!failing.bindable && failing.reason == "ProvisioningFailed" && failing.message.contains(#""fast" not found"#))
        #expect(ClaimBinding(claim: "c", phase: "Lost", newestEvent: nil).reason == "ClaimLost")
    }

    @Test func theSyncPodIsPinnedByNodeNameAndNumbersItsManifest() throws {
        let owner = OwnerReference(apiVersion: StowageGroup.apiVersion, kind: "DataVolume", name: "home", uid: "u1")
        var request = SyncJobRequest(
            name: "dv-home-pull-1", number: 7, namespace: "ns", owner: owner, labels: [:], claimName: "dv-home", direction: .pull,
            access: .readWrite, source: S3Source(endpoint: "http://s3", bucket: "b", credentialsSecretRef: LocalObjectReference(name: "s")),
            sync: SyncPolicy(), generation: 1, reason: "initial pull")
        let anywhere = SyncJob.build(request, settings: SyncPodSettings())
        #expect(anywhere.spec?.template.spec.affinity == nil)
        let args = try #require(anywhere.spec?.template.spec.containers.first?.args)
        let at = try #require(args.firstIndex(of: "--sequence"))
        #expect(args[at + 1] == "7")

        request.node = "node-b"
        let pinned = SyncJob.build(request, settings: SyncPodSettings())
        let term = pinned.spec?.template.spec.affinity?["nodeAffinity"]?["requiredDuringSchedulingIgnoredDuringExecution"]?["nodeSelectorTerms"]?[0]
        let field = term?["matchFields"]?[0]
        #expect(field?["key"]?.stringValue == "metadata.name" && field?["operator"]?.stringValue == "In")
        #expect(field?["values"]?[0]?.stringValue == "node-b")
    }
}
