import Foundation
import KubeClient
import KubeModel
import KubeTesting
import SyncContract
import Testing
import YAML
@testable import StowageAPI

/// Installs the CRDs from `crds/` in the real kube-apiserver, creates every sample, and checks
/// the server kept every field that was sent (nothing pruned by the schema) and applied the
/// schema's defaults.
@Suite(.serialized, .tags(.integration), .timeLimit(.minutes(15))) struct CRDRoundTripTests {
    @Test func samplesSurviveTheAPIServer() async throws {
        let env = try TestEnvironment.shared()
        let client = KubeClient(connection: try KubeConfig.load(path: env.kubeconfig).connection())
        let crds = client.resource(CustomResourceDefinition.self)
        for file in ["datavolumes.yaml", "sharedvolumes.yaml"] {
            let text = try String(contentsOfFile: packageRoot + "/crds/" + file, encoding: .utf8)
            let crd = try YAMLDecoder().decode(CustomResourceDefinition.self, from: text)
            let name = try #require(crd.metadata.name)
            do {
                _ = try await crds.create(crd)
            } catch KubeClientError.api(let e) where e.code == .alreadyExists {
                var current = try await crds.get(name)
                current.spec = crd.spec
                _ = try await crds.update(current)
            }
            try await waitEstablished(crds, name)
        }

        let namespace = "api-\(UInt32.random(in: 0...UInt32.max))"
        _ = try await client.resource(Namespace.self).create(Namespace(name: namespace))
        let dvs = client.resource(DataVolume.self, namespace: namespace)
        let shvs = client.resource(SharedVolume.self, namespace: namespace)
        var created = 0
        for path in try samplePaths() {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let file = URL(fileURLWithPath: path).lastPathComponent
            switch try YAMLDecoder().decode(JSONValue.self, from: text)["kind"]?.stringValue {
            case "DataVolume":
                var dv = try YAMLDecoder().decode(DataVolume.self, from: text)
                dv.metadata.namespace = namespace
                let sent = try JSONValue(encoding: dv)
                _ = try await dvs.create(dv)
                let back = try await dvs.get(dv.metadata.name ?? "")
                let json = try #require(back.original.json)
                #expect(missing(sent, in: json).isEmpty, "\(file): pruned \(missing(sent, in: json))")
                if dv.spec.access == nil { #expect(json["spec"]?["access"] == "RW", "\(file)") }
                if dv.spec.accessModes == nil { #expect(json["spec"]?["accessModes"] == ["ReadWriteOnce"], "\(file)") }
                if dv.spec.reclaimPolicy == nil { #expect(back.spec.reclaimPolicy == .delete, "\(file)") }
                if let sync = dv.spec.sync {
                    if sync.onStop == nil { #expect(back.spec.sync?.onStop == true, "\(file)") }
                    if sync.maxDeletes == nil { #expect(back.spec.sync?.maxDeletes == 1000, "\(file)") }
                    if sync.verify == nil { #expect(back.spec.sync?.verify == .size, "\(file)") }
                }
                if let cache = dv.spec.cache, cache.retain == nil { #expect(back.spec.cache?.retain == true, "\(file)") }
                created += 1
            case "SharedVolume":
                var shv = try YAMLDecoder().decode(SharedVolume.self, from: text)
                shv.metadata.namespace = namespace
                let sent = try JSONValue(encoding: shv)
                _ = try await shvs.create(shv)
                let back = try await shvs.get(shv.metadata.name ?? "")
                let json = try #require(back.original.json)
                #expect(missing(sent, in: json).isEmpty, "\(file): pruned \(missing(sent, in: json))")
                if shv.spec.purpose == nil { #expect(back.spec.purpose == .data, "\(file)") }
                if shv.spec.access == nil { #expect(back.spec.access == .readWrite, "\(file)") }
                if shv.spec.reclaimPolicy == nil { #expect(back.spec.reclaimPolicy == .delete, "\(file)") }
                created += 1
            default:
                continue
            }
        }
        #expect(created == 10)

        // The status subresource keeps every status field too.
        var dv = try await dvs.get("alice-home")
        var status = VolumeStatus(phase: .inUse, conditions: [Condition(type: ConditionType.ready, status: true,
            reason: ConditionReason.ready, message: "ok", observedGeneration: 1, at: Date(timeIntervalSince1970: 1_700_000_000))], claimName: "dv-alice-home", observedGeneration: 1)
        status.consumers = ["\(namespace)/jupyter-alice"]
        status.lastSync = SyncRecord(direction: .pull, result: .succeeded, start: Date(timeIntervalSince1970: 1_700_000_000),
                                     end: Date(timeIntervalSince1970: 1_700_000_060), files: 3, bytes: 1 << 40, deleted: 0,
                                     manifestDigest: "sha256:00", message: "pulled", changedInputs: [ChangedInput(path: "a.csv", previousSHA256: "01", sha256: "02"),
                                                                                         ChangedInput(path: "new.csv", previousSHA256: nil, sha256: "03")])
        status.warning = "w"
        status.pulledGeneration = 1
        status.pendingPush = true
        status.idleSince = Date(timeIntervalSince1970: 1_700_000_100)
        status.nextScheduledSync = Date(timeIntervalSince1970: 1_700_000_200)
        status.syncRequest = "2024-06-01T12:00:00Z"
        status.syncCount = 2
        dv.status = status
        let written = try await dvs.updateStatus(dv)
        #expect(written.status == status)
        let sentStatus = try JSONValue(encoding: status)
        #expect(missing(sentStatus, in: try #require(written.original.json?["status"])).isEmpty)

        var shv = try await shvs.get("modules")
        var shvStatus = VolumeStatus(phase: .ready, claimName: "shv-modules", observedGeneration: 1, level: "private")
        shvStatus.consumers = ["a/b"]
        shvStatus.pendingPush = false
        shv.status = shvStatus
        #expect(try await shvs.updateStatus(shv).status == shvStatus)

        // The schema refuses what validation would (a sample of structural rules).
        var bad = try YAMLDecoder().decode(DataVolume.self, from: String(contentsOfFile: packageRoot + "/samples/datavolume-scratch.yaml", encoding: .utf8))
        bad.metadata.namespace = namespace
        bad.metadata.name = "bad-size"
        bad.spec.size = "lots"
        await #expect(throws: (any Error).self) { try await dvs.create(bad) }
        var member = try await shvs.get("modules")
        member.metadata.resourceVersion = nil
        member.metadata.name = "bad-member"
        member.metadata.uid = nil
        member.metadata.creationTimestamp = nil
        member.original = Original()
        member.spec.members = [Member(user: "x", access: .readOnly)]
        member.spec.members?[0].group = "y"
        await #expect(throws: (any Error).self) { try await shvs.create(member) }

        try await client.resource(Namespace.self).delete(namespace)
    }

    private func waitEstablished(_ crds: ResourceClient<CustomResourceDefinition>, _ name: String) async throws {
        for _ in 0..<100 {
            if try await crds.get(name).isEstablished { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(name) was not established")
    }

    /// Paths present in `sent` but absent or different in `stored`.
    private func missing(_ sent: JSONValue, in stored: JSONValue, at path: String = "") -> [String] {
        switch (sent, stored) {
        case (.object(let s), .object(let t)):
            return s.flatMap { key, value in
                guard let other = t[key] else { return ["\(path).\(key)"] }
                return missing(value, in: other, at: "\(path).\(key)")
            }
        case (.array(let s), .array(let t)) where s.count == t.count:
            return zip(s, t).enumerated().flatMap { missing($1.0, in: $1.1, at: "\(path)[\($0)]") }
        default:
            return sent == stored ? [] : [path]
        }
    }
}
