@testable import DataSync
import Foundation
import ObjectStore
import SyncContract
import Testing

/// Valohai's rule for `status.warning` (issue 15, item 3): inputs changed only when a
/// previous sync of the same source saw them otherwise; never on a first pull.
extension SyncEngineTests {
    /// SHA-256 of the contents used below (`printf %s one | sha256sum`).
    static let digests = [
        "one": "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed",
        "ONE!": "24f1afcf33a8cc204a7f478c49d75c1fadb6f16321dedad65de39f57b83b2726",
        "three": "8b5b9db0c13db24256c829aa364aa90c6d2eba318b9232a4ab9313b954d3555f",
    ]
    func hex(_ text: String) -> String { Self.digests[text] ?? "" }

    @Test func inputsChangeOnlySinceAPreviousSyncOfTheSameSource() async throws {
        try await withBucket("inputs") { b in
            _ = try await s3.putObject(bucket: b, key: "in/a.csv", data: Data("one".utf8))
            _ = try await s3.putObject(bucket: b, key: "in/b.csv", data: Data("two".utf8))
            let dst = scratch + "/inputs"

            let first = try await sync(.pull, .readOnly, b, dst, prefix: "in")
            #expect(first.downloaded == 2)
            #expect(first.changedSinceLastSync.isEmpty, "a first pull changed nothing: it has nothing to compare with")
            #expect(first.changedSinceLastSync.changes.isEmpty)

            // One object rewritten, one added: the next pull names both, with digests.
            _ = try await s3.putObject(bucket: b, key: "in/a.csv", data: Data("ONE!".utf8))
            _ = try await s3.putObject(bucket: b, key: "in/c.csv", data: Data("three".utf8))
            let second = try await sync(.pull, .readOnly, b, dst, prefix: "in")
            #expect(second.downloaded == 2)
            #expect(second.changedSinceLastSync.modified == ["a.csv"])
            #expect(second.changedSinceLastSync.added == ["c.csv"])
            #expect(second.changedSinceLastSync.changes == [
                SyncReport.Change(path: "c.csv", previousSHA256: nil, sha256: hex("three")),
                SyncReport.Change(path: "a.csv", previousSHA256: hex("one"), sha256: hex("ONE!")),
            ])

            // Nothing changed: nothing to say.
            #expect(try await sync(.pull, .readOnly, b, dst, prefix: "in").changedSinceLastSync.isEmpty)

            // The same volume pulled from another source: a first pull of that source.
            _ = try await s3.putObject(bucket: b, key: "other/a.csv", data: Data("else".utf8))
            let moved = try await sync(.pull, .readOnly, b, dst, prefix: "other")
            #expect(moved.downloaded == 1)
            #expect(moved.changedSinceLastSync.isEmpty)
        }
    }
}
