import Foundation
import KubeModel
import SyncContract
import Testing
@testable import StowageAPI

@Suite struct DefaultsTests {
    @Test func dataVolumeDefaults() {
        let dv = DataVolume(name: "scratch", spec: DataVolumeSpec(size: "1Gi"))
        #expect(dv.spec.effectiveAccess == .readWrite)
        #expect(dv.spec.effectiveAccessModes == ["ReadWriteOnce"])
        #expect(dv.spec.effectiveReclaimPolicy == .delete)
        #expect(dv.spec.effectiveSync.effectiveOnStart)
        #expect(dv.spec.effectiveSync.effectiveOnStop)
        #expect(dv.spec.effectiveSync.effectiveMaxDeletes == 1000)
        #expect(dv.spec.effectiveSync.effectiveVerify == .size)
        #expect(dv.spec.effectiveCache.effectiveRetain)
        #expect(dv.spec.effectiveCache.ttlAfterIdleDuration == nil)
        #expect(dv.effectiveMountPath == "/data/scratch")
        #expect(!dv.mountsReadOnly)
        #expect(DataVolume.apiVersion == "stowage.io/v1alpha1" && DataVolume.plural == "datavolumes" && DataVolume.namespaced)
    }

    @Test func readOnlyAccessMountsReadOnly() {
        let dv = DataVolume(name: "d", spec: DataVolumeSpec(size: "1Gi", source: s3Source(), access: .readOnly))
        #expect(dv.mountsReadOnly)
        #expect(!AccessMode.readOnly.pushes && AccessMode.readWrite.pushes && !AccessMode.readWrite.propagatesDeletes)
        #expect(AccessMode.readWriteDelete.propagatesDeletes)
    }

    @Test func sharedVolumeDefaults() {
        let shv = SharedVolume(name: "team", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "private"))
        #expect(shv.spec.effectivePurpose == .data)
        #expect(shv.spec.effectiveAccess == .readWrite)
        #expect(shv.spec.effectiveReclaimPolicy == .delete)
        #expect(shv.effectiveMountPath == "/shared/team")
        #expect(!shv.mountsReadOnly)
        #expect(SharedVolume.plural == "sharedvolumes" && SharedVolume.accessModes == ["ReadWriteMany"])
        var software = shv
        software.spec.purpose = .software
        #expect(software.mountsReadOnly)
    }

    @Test func cacheTTLParses() {
        #expect(CachePolicy(ttlAfterIdle: "1h30m").ttlAfterIdleDuration == .seconds(5400))
        #expect(SyncPolicy(schedule: "@daily").cronSchedule != nil)
        #expect(SyncPolicy(schedule: "nope").cronSchedule == nil)
    }

    @Test func dataVolumeJSONRoundTrip() throws {
        var dv = DataVolume(name: "alice-home", namespace: "jhub", spec: DataVolumeSpec(
            owner: "alice", size: "10Gi", storageClassName: "standard", accessModes: ["ReadWriteOnce"],
            source: DataSource(s3: S3Source(endpoint: "https://s3.example.org", region: "eu-west-1", bucket: "homes",
                                            prefix: "users/alice", credentialsSecretRef: .init(name: "creds"),
                                            caBundleSecretRef: .init(name: "ca", key: "ca.crt"), pathStyle: true)),
            access: .readWriteDelete, mount: Mount(path: "/home/jovyan", readOnly: false),
            attachTo: AttachTo(users: ["alice"], podSelector: LabelSelector(
                matchLabels: ["app": "nb"], matchExpressions: [.init(key: "tier", operator: .notIn, values: ["x"])])),
            sync: SyncPolicy(onStart: true, onStop: false, schedule: "*/15 * * * *", maxDeletes: 5, verify: .checksum,
                             runAsUser: 1000, runAsGroup: 100),
            cache: CachePolicy(retain: false, ttlAfterIdle: "2h"), reclaimPolicy: .retain))
        var status = VolumeStatus(phase: .inUse, claimName: "dv-alice-home", observedGeneration: 3)
        status.conditions = [Condition(type: ConditionType.ready, status: true, reason: ConditionReason.ready,
                                       at: Date(timeIntervalSince1970: 1_700_000_000))]
        status.consumers = ["jhub/jupyter-alice"]
        status.lastSync = SyncRecord(direction: .push, result: .succeeded, start: Date(timeIntervalSince1970: 1_700_000_100),
                                     end: Date(timeIntervalSince1970: 1_700_000_160), files: 12, bytes: 4096, deleted: 1,
                                     manifestDigest: "sha256:abc", message: "ok", changedInputs: [ChangedInput(path: "a.csv", previousSHA256: "01", sha256: "02")])
        status.warning = "inputs changed"
        status.pulledGeneration = 2
        status.pendingPush = true
        status.idleSince = Date(timeIntervalSince1970: 1_700_000_200)
        status.nextScheduledSync = Date(timeIntervalSince1970: 1_700_000_800)
        status.syncRequest = "1"
        status.syncCount = 4
        dv.status = status

        let data = try JSONEncoder.kube.encode(dv)
        let back = try JSONDecoder.kube.decode(DataVolume.self, from: data)
        #expect(back.spec == dv.spec)
        #expect(back.status == dv.status)
        #expect(back.metadata == dv.metadata)
        let json = try JSONDecoder.kube.decode(JSONValue.self, from: data)
        #expect(json["spec"]?["access"] == "RWD")
        #expect(json["status"]?["lastSync"]?["result"] == "Succeeded")
        #expect(json["apiVersion"] == "stowage.io/v1alpha1" && json["kind"] == "DataVolume")
    }

    @Test func sharedVolumeJSONRoundTrip() throws {
        var shv = SharedVolume(name: "modules", spec: SharedVolumeSpec(
            size: "30Gi", accessLevel: "private", members: [Member(group: "team-a", access: .readOnly), Member(user: "root", access: .readWrite)],
            purpose: .software, access: .readOnly, reclaimPolicy: .retain))
        shv.status = VolumeStatus(phase: .ready, claimName: "shv-modules", observedGeneration: 1, level: "private")
        let back = try JSONDecoder.kube.decode(SharedVolume.self, from: JSONEncoder.kube.encode(shv))
        #expect(back.spec == shv.spec && back.status == shv.status)
    }

    @Test func quantities() {
        #expect(Quantity.value("10Gi") == 10 * 0x1p30)
        #expect(Quantity.value("500M") == 5e8)
        #expect(Quantity.value("1.5Ti") == 1.5 * 0x1p40)
        #expect(Quantity.value("1e3") == 1000)
        #expect(Quantity.value(".5k") == 500)
        for bad in ["", "Gi", "10GB", "10 Gi", "1.2.3", ".", "10gi", "1e", "0x10"] {
            #expect(Quantity.value(bad) == nil, "\(bad)")
        }
    }

    /// A status written by an operator before changedInputs carried digests (paths as
    /// strings) still decodes: one old volume must not stop the caches from listing all.
    @Test func changedInputsOfAnOlderOperatorStillDecode() throws {
        let old = #"{"direction":"pull","result":"Succeeded","changedInputs":["a.csv","b/c.csv"]}"#
        let record = try JSONDecoder.kube.decode(SyncRecord.self, from: Data(old.utf8))
        #expect(record.changedInputs == [ChangedInput(path: "a.csv", previousSHA256: nil, sha256: nil),
                                         ChangedInput(path: "b/c.csv", previousSHA256: nil, sha256: nil)])
        let new = #"{"direction":"pull","result":"Succeeded","changedInputs":[{"path":"a.csv","previousSHA256":"01","sha256":"02"}]}"#
        #expect(try JSONDecoder.kube.decode(SyncRecord.self, from: Data(new.utf8)).changedInputs?.first?.previousSHA256 == "01")
    }
}
