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
}
