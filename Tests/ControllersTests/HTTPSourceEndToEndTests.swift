import Controllers
import Crypto
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import StowageAPI
import SyncContract
import Testing

/// Issue 17, item 5, end to end: a DataVolume with `spec.source.http` reaches Ready through
/// a real sync pod that fetches from a server this test runs on the environment's bridge
/// gateway (where pods reach this machine); a changed file is flagged in status on the next
/// pull; a wrong checksum fails the volume naming both digests, with no file in the claim.
extension EndToEndTests {
    static func sha256(_ text: String) -> String { SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined() }

    @Test func aVolumeFromHTTPURLsIsPulledVerifiedAndWarnsOfAChangedFile() async throws {
        let env = try TestEnvironment.shared()
        let server = try TestHTTPServer(host: try #require(env.gateway, "the environment's bridge gateway"))
        defer { server.stop() }
        server.set("/iris/iris.data", Data("5.1,3.5,1.4,0.2,setosa\n".utf8))
        server.set("/iris/iris.names", Data("Iris Plants Database\n".utf8))
        try await withWorld("http") { w in
            let urls = [HTTPFile(url: server.url("/iris/iris.data"), checksum: "sha256:\(Self.sha256("5.1,3.5,1.4,0.2,setosa\n"))", path: "iris.csv"),
                        HTTPFile(url: server.url("/iris/iris.names"))]
            _ = try await w.dataVolumes.create(DataVolume(name: "iris", spec: DataVolumeSpec(
                owner: "alice", size: "1Gi", source: DataSource(http: HTTPSource(urls: urls)), access: .readOnly)))
            try await eventually("Ready") { try await phase(w, "iris") == .ready }
            let first = try #require(try await w.dataVolumes.get("iris").status)
            #expect(first.lastSync?.direction == .pull && first.lastSync?.result == .succeeded && first.lastSync?.files == 2)
            #expect(first.lastSync?.manifestDigest?.hasPrefix("sha256:") == true)
            #expect(first.warning == nil)
            #expect(await w.read("dv-iris", "iris.csv") == "5.1,3.5,1.4,0.2,setosa\n")
            #expect(await w.read("dv-iris", "iris.names") == "Iris Plants Database\n")
            #expect(await w.read("dv-iris", ".stowage/manifest.json")?.contains(server.url("/iris/iris.names")) == true)

            // The unpinned file changes on the server; a requested sync pulls it and says so.
            server.set("/iris/iris.names", Data("Iris Plants Database, 2nd edition\n".utf8))
            _ = try await w.dataVolumes.patch("iris", .merge, ["metadata": ["annotations": [StowageKeys.syncNow: "1"]]])
            try await eventually("the second pull is recorded") {
                let status = try await w.dataVolumes.get("iris").status
                return (status?.syncCount ?? 0) > (first.syncCount ?? 0) && status?.phase == .ready
            }
            let second = try #require(try await w.dataVolumes.get("iris").status)
            let expected = "inputs changed since the previous sync of this source: iris.names sha256:\(Self.sha256("Iris Plants Database\n")) -> sha256:\(Self.sha256("Iris Plants Database, 2nd edition\n"))"
            #expect(second.warning == expected)
            #expect(second.lastSync?.files == 1, "the pinned file was unchanged (304)")
            #expect(await w.read("dv-iris", "iris.names") == "Iris Plants Database, 2nd edition\n")
            #expect(try await w.events(for: "iris").contains { $0.reason == ConditionReason.inputsChanged && $0.message == expected })

            // A checksum the server's bytes do not match: the volume fails, naming both digests.
            let wrong = String(repeating: "0", count: 64)
            _ = try await w.dataVolumes.create(DataVolume(name: "wrong", spec: DataVolumeSpec(
                owner: "alice", size: "1Gi", source: DataSource(http: HTTPSource(urls: [
                    HTTPFile(url: server.url("/iris/iris.data"), checksum: "sha256:\(wrong)")])), access: .readOnly)))
            try await eventually("Failed") { try await phase(w, "wrong") == .failed }
            let failed = try #require(try await w.dataVolumes.get("wrong").status?.lastSync)
            #expect(failed.result == .failed)
            #expect(failed.message?.contains("sha256:\(wrong)") == true && failed.message?.contains("sha256:\(Self.sha256("5.1,3.5,1.4,0.2,setosa\n"))") == true,
                    "\(failed.message ?? "")")
            #expect(await w.read("dv-wrong", "iris.data") == nil, "nothing of the download is in the volume")
        }
    }
}
