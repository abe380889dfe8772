import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// A Job that only claims to be a volume's sync Job (its labels, its owner reference and a
/// sync number can all be written by anyone with `edit`) neither blocks nor feeds the
/// volume's syncs: the operator's own carry stowage.io/managed-by, which the validating
/// webhook reserves to the operator.
extension EndToEndTests {
    @Test func aJobThatOnlyClaimsToBeASyncJobIsIgnored() async throws {
        try await withWorld("forgedjob") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "ds/a.csv", data: Data("a".utf8))
            _ = try await w.dataVolumes.create(dv(w, "data", access: .readOnly, prefix: "ds"))
            try await eventually("Ready") { try await phase(w, "data") == .ready }
            let volume = try await w.dataVolumes.get("data")
            let pulls = volume.status?.syncCount ?? 0

            // Everything a sync Job has, but the operator's label; its pod never finishes (its
            // image cannot be pulled on the test nodes), so were it taken for the current
            // sync Job it would hold every later sync back.
            let template = Job.PodTemplate(spec: PodSpec(containers: [Container(name: "c", image: "busybox", command: ["sleep", "3600"])],
                                                         restartPolicy: "Never"))
            var forged = Job(metadata: ObjectMeta(name: "not-a-sync-job",
                                                  labels: [StowageKeys.dataVolume: "data", StowageKeys.syncDirection: "push"],
                                                  annotations: [SyncJob.numberAnnotation: "99"]),
                             spec: Job.Spec(template: template))
            forged.metadata.ownerReferences = [OwnerReference(controller: volume)]
            _ = try await w.client.resource(Job.self, namespace: w.namespace).create(forged)

            // A requested sync still runs and is recorded as the next one, not as number 99.
            _ = try await w.dataVolumes.patch("data", .merge, ["metadata": ["annotations": [StowageKeys.syncNow: "1"]]])
            try await eventually("the requested pull ran") {
                let status = try await w.dataVolumes.get("data").status
                return (status?.syncCount ?? 0) > pulls && status?.phase == .ready
            }
            let status = try #require(try await w.dataVolumes.get("data").status)
            #expect(status.syncCount == pulls + 1)
            #expect(status.lastSync?.direction == .pull)
            // And the operator left the stranger's Job alone.
            #expect(try await w.client.resource(Job.self, namespace: w.namespace).get("not-a-sync-job").metadata.name == "not-a-sync-job")
        }
    }
}
