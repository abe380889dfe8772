@testable import DataSync
import Foundation
import KubeTesting
import ObjectStore
import SyncContract
import Testing

/// Pinned pulls and write-once pushes against the real S3 servers (SeaweedFS, and moto with
/// `STOWAGE_TEST_S3_SERVER=moto`): a pull of one version reads the object versions its
/// manifest recorded, fails naming the files where a bucket without versioning lost them, and
/// puts nothing in the volume unless every file came and matched.
@Suite(.serialized, .tags(.integration, .s3), .timeLimit(.minutes(15))) struct PinnedVersionTests {
    let env: TestEnvironment
    let s3: S3Client
    let scratch: String

    init() throws {
        env = try TestEnvironment.shared()
        s3 = try env.smallPartsClient()
        scratch = try scratchDirectory("pinned")
    }

    func sync(_ direction: SyncDirection, _ mode: AccessMode, _ bucket: String, _ dir: String, version: String? = nil,
              keepVersions: Bool = false) async throws -> SyncReport {
        var options = SyncEngine.Options(direction: direction, mode: mode, bucket: bucket, prefix: "data", root: dir)
        options.concurrency = 4
        options.version = version
        options.keepVersions = keepVersions
        return try await SyncEngine(client: s3, options: options).run()
    }

    /// Every file of `dir` (Stowage's own `.stowage/` aside) with its bytes.
    func contents(_ dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return files }
        while let path = walker.nextObject() as? String {
            if path == ".stowage" { walker.skipDescendants(); continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))
            }
        }
        return files
    }

    /// On a versioned bucket, after a second push overwrote a small and a multipart file and
    /// deleted another, a pull pinned to the first version gives its bytes exactly, and one
    /// pinned to `latest` the second's; the same volume goes back and forth between them.
    @Test func aPinnedPullGivesTheFirstVersionsBytesAfterTheSecondPushReplacedThem() async throws {
        try await s3.withTemporaryBucket("pin-versioned") { b in
            try await s3.enableVersioning(b)
            let src = scratch + "/versioned"
            try writeFile(src, "a.txt", Data("first".utf8))
            try writeFile(src, "dir/b.bin", randomData(1000))
            try writeFile(src, "large.bin", randomData((7 << 20) + 11))
            // A one-character name (NSString.deletingLastPathComponent crashed on it).
            try writeFile(src, "x", Data("1".utf8))
            let first = try await sync(.push, .readWriteDelete, b, src, keepVersions: true)
            let firstFiles = try contents(src)
            try writeFile(src, "a.txt", Data("second, longer".utf8))
            try writeFile(src, "large.bin", randomData((6 << 20) + 77))
            try FileManager.default.removeItem(atPath: src + "/dir")
            try writeFile(src, "c.txt", Data("new".utf8))
            let second = try await sync(.push, .readWriteDelete, b, src, keepVersions: true)
            let secondFiles = try contents(src)
            let ids = [try #require(first.version), try #require(second.version)]
            #expect(ids[0] != ids[1] && second.uploaded == 3 && second.deletedRemote == 1)
            #expect(try await VersionListing.summaries(client: s3, bucket: b, prefix: "data").map(\.id) == [ids[1], ids[0]])

            let dst = scratch + "/versioned-pulled"
            let pulled = try await sync(.pull, .readOnly, b, dst, version: ids[0])
            #expect(pulled.version == ids[0] && pulled.downloaded == 4)
            #expect(try contents(dst) == firstFiles, "the first version's bytes, on \(env.s3Server)")
            let latest = try await sync(.pull, .readOnly, b, dst, version: "latest")
            #expect(latest.version == ids[1])
            #expect(try contents(dst) == secondFiles)
            #expect(!FileManager.default.fileExists(atPath: dst + "/dir"), "b.bin's directory went with it")
            _ = try await sync(.pull, .readOnly, b, dst, version: ids[0])
            #expect(try contents(dst) == firstFiles)
            // The volume's manifest names the object versions it holds.
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let manifest = try decoder.decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: dst + "/" + Manifest.file)))
            #expect(manifest.entries.count == 4 && manifest.entries.allSatisfy { $0.versionID != nil })

            // A version that is not there is named, with the latest one.
            let missing = String(repeating: "0", count: 64)
            await #expect { try await sync(.pull, .readOnly, b, scratch + "/none", version: missing) } throws: { error in
                (error as? SyncError)?.code == .versionUnavailable && "\(error)".contains(missing) && "\(error)".contains("the latest \(ids[1])")
            }
            await #expect { try await sync(.pull, .readWrite, b, scratch + "/rw", version: ids[0]) } throws: { error in
                (error as? SyncError)?.code == .invalidRequest && "\(error)".contains("--mode RO")
            }
        }
    }

    /// On a bucket without versioning a pin works while its objects are as recorded (the
    /// witness), and once a push changed one and deleted another it fails naming both, before
    /// anything is downloaded: a new volume stays empty, one that held the version keeps it.
    @Test func aPinOnAnUnversionedBucketWhoseObjectsChangedFailsNamingTheFiles() async throws {
        try await s3.withTemporaryBucket("pin-plain") { b in
            #expect(try await s3.bucketVersioning(b) == .off)
            let src = scratch + "/plain"
            try writeFile(src, "a.txt", Data("kept".utf8))
            try writeFile(src, "b.txt", Data("will change".utf8))
            try writeFile(src, "c.txt", Data("will go".utf8))
            try writeFile(src, "large.bin", randomData((7 << 20) + 5))
            let first = try #require(try await sync(.push, .readWriteDelete, b, src).version)
            let firstFiles = try contents(src)
            let held = scratch + "/plain-held"
            #expect(try await sync(.pull, .readOnly, b, held, version: first).downloaded == 4)
            #expect(try contents(held) == firstFiles)

            try writeFile(src, "b.txt", Data("changed".utf8))
            try FileManager.default.removeItem(atPath: src + "/c.txt")
            _ = try await sync(.push, .readWriteDelete, b, src)
            let dst = scratch + "/plain-new"
            await #expect { try await sync(.pull, .readOnly, b, dst, version: first) } throws: { error in
                let text = "\(error)"
                return (error as? SyncError)?.code == .versionUnavailable && text.contains("2 of its files changed")
                    && text.contains("b.txt (changed)") && text.contains("c.txt (deleted)") && !text.contains("a.txt") && !text.contains("large.bin")
            }
            #expect(try contents(dst).isEmpty, "nothing half-pulled: not even the unchanged a.txt and large.bin")
            // A volume that already holds the version exactly still does: nothing to fetch.
            let again = try await sync(.pull, .readOnly, b, held, version: first)
            #expect(again.downloaded == 0 && again.unchanged == 4)
            #expect(try contents(held) == firstFiles)
        }
    }

    /// A pinned pull stages every download and puts them in place only once all of them
    /// came and matched the manifest's SHA-256: one file whose bytes differ from the recorded
    /// digest fails the pull, naming both digests, and the volume keeps the version it held.
    @Test func aPinnedPullThatFailsHalfWayLeavesTheVolumeAsItWas() async throws {
        try await s3.withTemporaryBucket("pin-staged") { b in
            let src = scratch + "/staged"
            try writeFile(src, "a.txt", Data("one".utf8))
            try writeFile(src, "large.bin", randomData((7 << 20) + 3))
            let first = try #require(try await sync(.push, .readWrite, b, src).version)
            let dst = scratch + "/staged-pulled"
            _ = try await sync(.pull, .readOnly, b, dst, version: first)
            let held = try contents(dst)
            #expect(held.count == 2)

            try writeFile(src, "a.txt", Data("two, and more".utf8))
            try writeFile(src, "new.bin", randomData(300 << 10))
            _ = try await sync(.push, .readWrite, b, src)
            var forged = try VersionManifest.decode(try await s3.getObject(bucket: b, key: try #require(
                try await VersionListing.summaries(client: s3, bucket: b, prefix: "data").first).key))
            let index = try #require(forged.entries.firstIndex { $0.path == "new.bin" })
            let truth = forged.entries[index].sha256
            forged.entries[index].sha256 = String(repeating: "e", count: 64)
            let bytes = try forged.encoded()
            let id = VersionManifest.id(of: bytes)
            try await s3.putObject(bucket: b, key: VersionListing.key(VersionKey(time: Date().addingTimeInterval(60), id: id), keyPrefix: "data/"), data: bytes)

            await #expect { try await sync(.pull, .readOnly, b, dst, version: id) } throws: { error in
                let text = "\(error)"
                return (error as? SyncError)?.code == .transfersFailed && text.contains(truth) && text.contains("the volume is as it was")
            }
            #expect(try contents(dst) == held, "a.txt was downloaded fine, and is not put in place either")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dst).filter { $0.hasPrefix(LocalTree.partialPrefix) }.isEmpty)
        }
    }

    /// keepVersions refuses a bucket without versioning before anything moves, in one line
    /// that says what to do; with versioning, every object version an older manifest names is
    /// still there after pushes that overwrote and deleted its files.
    @Test func keepVersionsNeedsVersioningAndLosesNothing() async throws {
        try await s3.withTemporaryBucket("keep") { b in
            let src = scratch + "/keep"
            try writeFile(src, "a.txt", Data("one".utf8))
            try writeFile(src, "b.txt", Data("doomed".utf8))
            await #expect { try await sync(.push, .readWriteDelete, b, src, keepVersions: true) } throws: { error in
                let text = "\(error)"
                return (error as? SyncError)?.code == .invalidRequest && !text.contains("\n")
                    && text.contains("keepVersions needs object versioning on bucket \(b)") && text.contains("Status=Enabled")
            }
            #expect(try await s3.listObjects(bucket: b).isEmpty, "nothing was pushed")

            try await s3.enableVersioning(b)
            #expect(try await s3.bucketVersioning(b) == .enabled)
            var ids: [String] = []
            ids.append(try #require(try await sync(.push, .readWriteDelete, b, src, keepVersions: true).version))
            try writeFile(src, "a.txt", Data("two".utf8))
            try FileManager.default.removeItem(atPath: src + "/b.txt")
            ids.append(try #require(try await sync(.push, .readWriteDelete, b, src, keepVersions: true).version))
            try writeFile(src, "a.txt", Data("three".utf8))
            ids.append(try #require(try await sync(.push, .readWriteDelete, b, src, keepVersions: true).version))
            let stored = Set(try await s3.listObjectVersions(bucket: b, prefix: "data/").filter { !$0.isDeleteMarker }.map { "\($0.key) \($0.versionID)" })
            for summary in try await VersionListing.summaries(client: s3, bucket: b, prefix: "data") {
                let manifest = try VersionManifest.decode(try await s3.getObject(bucket: b, key: summary.key))
                for entry in manifest.entries {
                    #expect(stored.contains("data/\(entry.path) \(try #require(entry.versionID))"), "\(entry.path) of \(summary.id)")
                }
            }
            #expect(Set(ids).count == 3 && stored.filter { $0.hasPrefix("data/a.txt ") }.count == 3 && stored.contains { $0.hasPrefix("data/b.txt ") })
        }
    }

    /// purge never removes an object's current version, even one only an older manifest
    /// names (an RW push keeps the object of a file the volume deleted, and its version no
    /// longer lists it), nor an object version no manifest names.
    @Test func purgeKeepsCurrentObjectsAndWhatNoManifestNames() async throws {
        try await s3.withTemporaryBucket("purge-rw") { b in
            try await s3.enableVersioning(b)
            let src = scratch + "/purge-rw"
            try writeFile(src, "a.txt", Data("one".utf8))
            try writeFile(src, "kept-remotely.txt", Data("RW keeps me".utf8))
            _ = try await sync(.push, .readWrite, b, src, keepVersions: true)
            try writeFile(src, "a.txt", Data("two".utf8))
            try FileManager.default.removeItem(atPath: src + "/kept-remotely.txt")
            _ = try await sync(.push, .readWrite, b, src, keepVersions: true)
            // Someone else's object under the prefix, overwritten once: two versions no manifest names.
            try await s3.putObject(bucket: b, key: "data/theirs.txt", data: Data("old".utf8))
            try await s3.putObject(bucket: b, key: "data/theirs.txt", data: Data("new".utf8))
            let before = try await s3.listObjectVersions(bucket: b, prefix: "data/")

            let plan = try await VersionPurge.plan(client: s3, bucket: b, prefix: "data", keep: 1)
            #expect(plan.kept.count == 1 && plan.purged.count == 1)
            let objects = plan.removals.filter { $0.kind == .object }
            #expect(objects.map(\.key) == ["data/a.txt"], "only a.txt's first version: \(plan.removals.map(\.line))")
            #expect(plan.removals.filter { $0.kind == .manifest }.count == 1 && plan.removals.count == 2)
            #expect(try await VersionPurge.run(plan, client: s3, bucket: b).isEmpty)
            let after = try await s3.listObjectVersions(bucket: b, prefix: "data/")
            #expect(after.count == before.count - 2)
            #expect(try await s3.getObject(bucket: b, key: "data/kept-remotely.txt") == Data("RW keeps me".utf8))
            #expect(after.filter { $0.key == "data/theirs.txt" }.count == 2)
            let pulled = scratch + "/purge-rw-latest"
            _ = try await sync(.pull, .readOnly, b, pulled, version: "latest")
            #expect(try contents(pulled) == ["a.txt": Data("two".utf8)])
        }
    }

    /// A keepVersions push re-uploads files in sync whose entries name no object version
    /// (pushed before the bucket had versioning), so its manifest names a version for each.
    @Test func keepVersionsGivesEveryEntryAVersion() async throws {
        try await s3.withTemporaryBucket("keep-late") { b in
            let src = scratch + "/late"
            try writeFile(src, "a.txt", Data("before versioning".utf8))
            _ = try await sync(.push, .readWrite, b, src)
            try await s3.enableVersioning(b)
            let report = try await sync(.push, .readWrite, b, src, keepVersions: true)
            #expect(report.uploaded == 1)
            let latest = try #require(try await VersionListing.summaries(client: s3, bucket: b, prefix: "data").first)
            let manifest = try VersionManifest.decode(try await s3.getObject(bucket: b, key: latest.key))
            #expect(manifest.entries.count == 1 && manifest.entries[0].versionID != nil)
            #expect(try await sync(.push, .readWrite, b, src, keepVersions: true).uploaded == 0)
        }
    }
}
