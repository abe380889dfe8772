import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// Issue 15, item 3, end to end: a first pull carries no warning; a pull after an object
/// changed names the path and both digests, in status and in an event.
extension EndToEndTests {
    /// SHA-256 of the object's two contents (`printf %s x | sha256sum`).
    static let before = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    static let after = "968e772cf168b7f17f3fbd00e6e1c8b4afb8db2f0c1548d9928f3c3d7a758a75"

    @Test func aPullWarnsOnlyAboutInputsChangedSinceThePreviousPull() async throws {
        try await withWorld("inputs") { w in
            _ = try await w.s3.putObject(bucket: w.bucket, key: "ds/train.csv", data: Data("x".utf8))
            _ = try await w.s3.putObject(bucket: w.bucket, key: "ds/labels.csv", data: Data("l".utf8))
            _ = try await w.dataVolumes.create(dv(w, "dataset", access: .readOnly, prefix: "ds"))
            try await eventually("Ready") { try await phase(w, "dataset") == .ready }
            let first = try #require(try await w.dataVolumes.get("dataset").status)
            #expect(first.lastSync?.direction == .pull && first.lastSync?.files == 2, "the first pull is recorded")
            #expect(first.warning == nil)
            #expect(first.lastSync?.changedInputs == nil)
            #expect(try await w.events(for: "dataset").contains { $0.reason == ConditionReason.syncSucceeded })
            #expect(!(try await w.events(for: "dataset").contains { $0.reason == ConditionReason.inputsChanged }))

            // The object changes in the bucket; a requested sync pulls again.
            _ = try await w.s3.putObject(bucket: w.bucket, key: "ds/train.csv", data: Data("x,y".utf8))
            _ = try await w.dataVolumes.patch("dataset", .merge, ["metadata": ["annotations": [StowageKeys.syncNow: "1"]]])
            try await eventually("the second pull is recorded") {
                // Times have whole seconds: the Job count says a new pull ran, the phase that it ended.
                let status = try await w.dataVolumes.get("dataset").status
                return (status?.syncCount ?? 0) > (first.syncCount ?? 0) && status?.phase == .ready
            }
            let second = try #require(try await w.dataVolumes.get("dataset").status)
            let expected = "inputs changed since the previous sync of this source: train.csv sha256:\(Self.before) -> sha256:\(Self.after)"
            #expect(second.warning == expected)
            #expect(second.lastSync?.changedInputs == [ChangedInput(path: "train.csv", previousSHA256: Self.before, sha256: Self.after)])
            #expect(await w.read("dv-dataset", "train.csv") == "x,y")
            let warned = try await w.events(for: "dataset").filter { $0.reason == ConditionReason.inputsChanged }
            #expect(warned.compactMap(\.message) == [expected])
            #expect(warned.first?.type == "Warning")
        }
    }
}
