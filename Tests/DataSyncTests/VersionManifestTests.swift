@testable import DataSync
import Foundation
import ObjectStore
import Testing

/// Version manifests, their keys and what a download computes: no network.
@Suite struct VersionManifestTests {
    func entry(_ path: String, sha1: String? = String(repeating: "c", count: 40)) -> ManifestEntry {
        ManifestEntry(path: path, size: 3, mtime: 1_795_449_118_061_154_219, md5: String(repeating: "a", count: 32), sha1: sha1,
                      sha256: String(repeating: "b", count: 64), etag: "etag", versionID: "v1")
    }

    /// The identifier names the content: the same files in any order give the same one,
    /// and one changed mtime or another volume gives another.
    @Test func theIdentifierIsTheDigestOfTheManifest() throws {
        let a = VersionManifest(source: "s3://b/p/", volume: "datavolume/ns/v", entries: [entry("z"), entry("a")])
        let b = VersionManifest(source: "s3://b/p/", volume: "datavolume/ns/v", entries: [entry("a"), entry("z")])
        let bytes = try a.encoded()
        #expect(bytes == (try b.encoded()))
        #expect(VersionManifest.id(of: bytes).count == 64)
        #expect(try VersionManifest.decode(bytes) == a)
        var touched = entry("a")
        touched.mtime += 1
        #expect(VersionManifest.id(of: try VersionManifest(source: "s3://b/p/", volume: "datavolume/ns/v", entries: [touched, entry("z")]).encoded()) != VersionManifest.id(of: bytes))
        #expect(VersionManifest.id(of: try VersionManifest(source: "s3://b/p/", volume: nil, entries: [entry("a"), entry("z")]).encoded()) != VersionManifest.id(of: bytes))
        // One entry per line, keys sorted, as the volume's manifest.
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.split(separator: "\n").filter { $0.contains("\"path\"") }.count == 2)
        #expect(text.contains(#""versionId":"v1""#))
    }

    /// Keys sort by time, the latest last; anything else in the directory is not a version.
    @Test func keysSortByTimeAndReadBack() {
        let id = String(repeating: "d", count: 64)
        let key = VersionKey(time: Date(timeIntervalSince1970: 1_795_449_118.125), id: id)
        #expect(key.name == "20261123T155158.125Z-\(id).json")
        #expect(VersionKey(name: key.name) == key)
        let later = VersionKey(time: key.time.addingTimeInterval(0.001), id: String(repeating: "0", count: 64))
        let objects = [later, key].map { S3Object(key: "p/.stowage/versions/" + $0.name, size: 1, etag: "e", lastModified: Date()) }
            + [S3Object(key: "p/.stowage/versions/notes.txt", size: 1, etag: "e", lastModified: Date()),
               S3Object(key: "p/data.csv", size: 1, etag: "e", lastModified: Date())]
        let listing = VersionListing(objects: objects, keyPrefix: "p/")
        #expect(listing.keys == [key, later] && listing.latest == later)
        #expect(VersionKey(name: "20261123T155158.125Z-short.json") == nil)
    }

    /// A download computes SHA-256 always, and MD5 and SHA-1 only where nothing vouches for
    /// them, or where the ETag is an MD5 other than the recorded one.
    @Test func aDownloadComputesOnlyWhatIsNotRecorded() throws {
        let md5 = String(repeating: "a", count: 32)
        let recorded = RecordedDigest.version(entry("f"))
        #expect(RecordedDigest.algorithms(nil, etag: md5, etagIsMD5: true) == .all)
        #expect(RecordedDigest.algorithms(recorded, etag: "x-2", etagIsMD5: false) == [])
        #expect(RecordedDigest.algorithms(recorded, etag: md5, etagIsMD5: true) == [])
        #expect(RecordedDigest.algorithms(recorded, etag: String(repeating: "e", count: 32), etagIsMD5: true) == .md5)
        #expect(RecordedDigest.algorithms(RecordedDigest.version(entry("f", sha1: nil)), etag: "x-2", etagIsMD5: false) == .sha1)
        let computed = ContentDigest(md5: "", sha1: "", sha256: recorded.sha256)
        #expect(try RecordedDigest.verify(computed, against: recorded, etag: "x-2", etagIsMD5: false)
                == ContentDigest(md5: md5, sha1: String(repeating: "c", count: 40), sha256: recorded.sha256))
        #expect(throws: SyncError.self) {
            try RecordedDigest.verify(ContentDigest(md5: "", sha256: "other"), against: recorded, etag: "x-2", etagIsMD5: false)
        }
        #expect(RecordedDigest.metadata(["sha256": "s", "md5": "not-hex"])?.md5 == nil)
    }

    @Test func aPinIsAnIdentifierOrLatest() {
        #expect(PinnedVersion.isValid("latest") && PinnedVersion.isValid(String(repeating: "0a", count: 32)))
        for bad in ["LATEST", String(repeating: "0A", count: 32), String(repeating: "0", count: 63), "", "v1"] {
            #expect(!PinnedVersion.isValid(bad), "\(bad)")
        }
    }

    /// A file in sync stays so for a pinned pull only with the version's SHA-256; a file of
    /// the version that changed on a bucket without versioning fails the pull only if the
    /// pull needs it, named with every other such file.
    @Test func aPinnedPullNeedsTheRecordedContentAndNamesWhatItCannotRead() throws {
        var other = entry("b.txt")
        other.sha256 = String(repeating: "d", count: 64)
        let version = [entry("a.txt"), entry("b.txt"), entry("c.txt")]
        let remote = version.map { RemoteFile(path: $0.path, key: "p/" + $0.path, size: $0.size, etag: $0.etag, lastModified: Date()) }
        let pinned = PinnedVersion(key: VersionKey(time: Date(), id: String(repeating: "1", count: 64)),
                                   manifest: VersionManifest(source: "s3://b/p/", volume: nil, entries: version), remote: remote,
                                   recorded: Dictionary(uniqueKeysWithValues: version.map { ($0.path, $0) }),
                                   changed: ["c.txt": "c.txt (deleted)", "b.txt": "b.txt (changed)"])
        var plan = SyncPlan()
        plan.unchanged = [entry("a.txt"), other, entry("c.txt")]
        SyncEngine.requireRecordedContent(&plan, pinned)
        #expect(plan.unchanged.map(\.path) == ["a.txt", "c.txt"] && plan.downloads.map(\.path) == ["b.txt"])
        #expect(throws: SyncError.self) { try pinned.requireAvailable(plan.downloads) }
        do {
            try pinned.requireAvailable(remote)
            Issue.record("c.txt and b.txt cannot be read")
        } catch let error as SyncError {
            #expect(error.code == .versionUnavailable && error.message.contains("2 of its files changed") && error.message.contains("b.txt (changed), c.txt (deleted)"))
        }
        try pinned.requireAvailable([remote[0]])
    }

    /// keepVersions sends again the files in sync whose entries name no object version.
    @Test func keepVersionsUploadsWhatNamesNoVersion() {
        var plain = entry("old.txt")
        plain.versionID = nil
        var plan = SyncPlan()
        plan.unchanged = [entry("new.txt"), plain]
        SyncEngine.uploadUnversioned(&plan, local: [LocalFile(path: "new.txt", size: 3, mtime: 1), LocalFile(path: "old.txt", size: 3, mtime: 1)])
        #expect(plan.unchanged.map(\.path) == ["new.txt"] && plan.uploads.map(\.path) == ["old.txt"])
    }
}
