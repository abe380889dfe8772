@testable import DataSync
import Foundation
import KubeTesting
import ObjectStore
import SyncContract
import Testing

/// Version manifests against the real S3 server: what every successful push leaves under
/// `PREFIX/.stowage/versions/`, and pulls checked against it.
@Suite(.serialized, .tags(.integration, .s3), .timeLimit(.minutes(15))) struct VersionTests {
    let env: TestEnvironment
    let s3: S3Client
    let scratch: String

    init() throws {
        env = try TestEnvironment.shared()
        s3 = try env.smallPartsClient()
        scratch = try scratchDirectory("versions")
    }

    func sync(_ direction: SyncDirection, _ mode: AccessMode, _ bucket: String, _ dir: String, volume: String? = "datavolume/ns/results") async throws -> SyncReport {
        var options = SyncEngine.Options(direction: direction, mode: mode, bucket: bucket, prefix: "out", root: dir)
        options.concurrency = 4
        options.volume = volume
        return try await SyncEngine(client: s3, options: options).run()
    }

    func manifest(_ bucket: String, _ version: VersionSummary) async throws -> VersionManifest {
        try VersionManifest.decode(try await s3.getObject(bucket: bucket, key: version.key))
    }

    /// Two pushes with changes in between (a file edited, one added, one deleted by RWD)
    /// give two versions, listed newest first with their files, bytes and volume; a push
    /// that changed nothing writes no third one and reports the latest.
    @Test func twoPushesWithChangesInBetweenGiveTwoVersions() async throws {
        try await s3.withTemporaryBucket("ver-two") { b in
            let src = scratch + "/two"
            try writeFile(src, "a.txt", Data("first".utf8))
            try writeFile(src, "dir/b.bin", randomData(1000))
            let first = try await sync(.push, .readWriteDelete, b, src)
            try writeFile(src, "a.txt", Data("second, longer".utf8))
            try writeFile(src, "c.txt", Data("new".utf8))
            try FileManager.default.removeItem(atPath: src + "/dir/b.bin")
            let second = try await sync(.push, .readWriteDelete, b, src)
            let ids = [try #require(first.version), try #require(second.version)]
            #expect(ids[0] != ids[1])

            let versions = try await VersionListing.summaries(client: s3, bucket: b, prefix: "out")
            #expect(versions.map(\.id) == [ids[1], ids[0]])
            #expect(versions.map(\.files) == [2, 2])
            #expect(versions.map(\.bytes) == [Int64("second, longer".utf8.count + 3), Int64(5 + 1000)])
            #expect(versions.allSatisfy { $0.volume == "datavolume/ns/results" })
            // The manifest is what its identifier names, and the first still lists the deleted file.
            let old = try await manifest(b, versions[1])
            #expect(VersionManifest.id(of: try await s3.getObject(bucket: b, key: versions[1].key)) == ids[0])
            #expect(old.entries.map(\.path) == ["a.txt", "dir/b.bin"])
            #expect(try await manifest(b, versions[0]).entries.map(\.path) == ["a.txt", "c.txt"])

            let again = try await sync(.push, .readWriteDelete, b, src)
            #expect(again.version == ids[1] && again.uploaded == 0)
            #expect(try await VersionListing.summaries(client: s3, bucket: b, prefix: "out").count == 2)
            // The versions are Stowage's own: never pulled as files, never deleted by a mirror.
            let dst = scratch + "/two-pulled"
            let pulled = try await sync(.pull, .readOnly, b, dst)
            #expect(pulled.downloaded == 2 && pulled.warnings.isEmpty && pulled.version == nil)
            #expect(!FileManager.default.fileExists(atPath: dst + "/.stowage/versions"))
        }
    }

    /// Every entry's MD5, SHA-1 and SHA-256, in the version manifest and in the volume's
    /// own, equal what `md5sum`, `sha1sum` and `sha256sum` say of the file, for files pushed
    /// whole (one PUT) and in parts (hashed as they were sent); a pull of them records the same.
    @Test func everyEntryHasTheDigestsOfMd5sumSha1sumAndSha256sum() async throws {
        try await s3.withTemporaryBucket("ver-sums") { b in
            let src = scratch + "/sums"
            try writeFile(src, "small.txt", Data("hello\n".utf8))
            try writeFile(src, "empty", Data())
            try writeFile(src, "whole.bin", randomData(300 << 10))
            try writeFile(src, "parts/large.bin", randomData((11 << 20) + 12345))
            let report = try await sync(.push, .readWrite, b, src)
            let version = try #require(try await VersionListing.summaries(client: s3, bucket: b, prefix: "out").first)
            #expect(version.id == report.version)
            let pushed = try await manifest(b, version)
            #expect(pushed.entries.count == 4)
            // The large file went in parts: its object carries no digests of its own.
            let head = try #require(try await s3.headObject(bucket: b, key: "out/parts/large.bin"))
            #expect(head.etag.hasSuffix("-3") && head.metadata[SyncMetadata.sha256] == nil)
            #expect(try await s3.headObject(bucket: b, key: "out/whole.bin")?.metadata[SyncMetadata.sha256] != nil)

            let dst = scratch + "/sums-pulled"
            _ = try await sync(.pull, .readOnly, b, dst)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let volumes = try [src, dst].map { dir in
                try decoder.decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/" + Manifest.file))).entries
            }
            for entry in pushed.entries {
                let file = src + "/" + entry.path
                #expect(entry.md5 == (try coreutilsDigest("md5sum", file)), "\(entry.path)")
                #expect(entry.sha1 == (try coreutilsDigest("sha1sum", file)), "\(entry.path)")
                #expect(entry.sha256 == (try coreutilsDigest("sha256sum", file)), "\(entry.path)")
                for entries in volumes {
                    let local = entries.first { $0.path == entry.path }
                    #expect(local?.md5 == entry.md5 && local?.sha1 == entry.sha1 && local?.sha256 == entry.sha256, "\(entry.path)")
                }
            }
        }
    }

    /// A pull checks each object against the version manifest that recorded it: an object
    /// pushed in parts has no digest in its metadata, and bytes that do not match the recorded
    /// SHA-256 are refused, naming both digests, and leave no file.
    @Test func pullsAreCheckedAgainstTheVersionManifest() async throws {
        try await s3.withTemporaryBucket("ver-check") { b in
            let src = scratch + "/check"
            try writeFile(src, "large.bin", randomData((7 << 20) + 5))
            let report = try await sync(.push, .readWrite, b, src)
            let version = try #require(try await VersionListing.summaries(client: s3, bucket: b, prefix: "out").first)
            var forged = try await manifest(b, version)
            #expect(forged.entries.count == 1 && version.id == report.version)
            let truth = forged.entries[0].sha256
            forged.entries[0].sha256 = String(repeating: "0", count: 64)
            // A later manifest (as if written by hand) that recorded other bytes for the same object.
            let bytes = try forged.encoded()
            let key = VersionListing.key(VersionKey(time: Date().addingTimeInterval(60), id: VersionManifest.id(of: bytes)), keyPrefix: "out/")
            try await s3.putObject(bucket: b, key: key, data: bytes)
            let dst = scratch + "/check-pulled"
            await #expect { try await sync(.pull, .readOnly, b, dst) } throws: { error in
                let text = "\(error)"
                return (error as? SyncError)?.code == .transfersFailed && text.contains(truth) && text.contains("the version manifest says \(forged.entries[0].sha256)")
            }
            #expect(!FileManager.default.fileExists(atPath: dst + "/large.bin"))
            try await s3.deleteObject(bucket: b, key: key)
            let pulled = try await sync(.pull, .readOnly, b, dst)
            #expect(pulled.downloaded == 1)
            #expect(FileManager.default.contentsEqual(atPath: src + "/large.bin", andPath: dst + "/large.bin"))
        }
    }

    /// On a bucket with versioning, every entry names the object version it recorded (what
    /// the object's HEAD says), for files pushed whole and in parts; a file unchanged since
    /// keeps its version in the next manifest, an edited one gets a new one, and a pull
    /// records the same versions in the volume.
    @Test func onAVersionedBucketEveryEntryNamesItsObjectVersion() async throws {
        try await s3.withTemporaryBucket("ver-versioned") { b in
            try await s3.enableVersioning(b)
            let src = scratch + "/versioned"
            try writeFile(src, "small.txt", Data("one".utf8))
            try writeFile(src, "large.bin", randomData((7 << 20) + 3))
            _ = try await sync(.push, .readWrite, b, src)
            let first = try await manifest(b, try #require(try await VersionListing.summaries(client: s3, bucket: b, prefix: "out").first))
            for entry in first.entries {
                let head = try #require(try await s3.headObject(bucket: b, key: "out/" + entry.path))
                #expect(entry.versionID != nil && entry.versionID == head.versionID, "\(entry.path) on \(env.s3Server)")
            }
            try writeFile(src, "small.txt", Data("two".utf8))
            _ = try await sync(.push, .readWrite, b, src)
            let second = try await manifest(b, try #require(try await VersionListing.summaries(client: s3, bucket: b, prefix: "out").first))
            #expect(second.entries[0].path == "large.bin" && second.entries[0].versionID == first.entries[0].versionID)
            #expect(second.entries[1].path == "small.txt" && second.entries[1].versionID != first.entries[1].versionID)
            let dst = scratch + "/versioned-pulled"
            _ = try await sync(.pull, .readOnly, b, dst)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let pulled = try decoder.decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: dst + "/" + Manifest.file)))
            #expect(pulled.entries.map(\.versionID) == second.entries.map(\.versionID))
        }
    }

}
