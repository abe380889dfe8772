@testable import DataSync
import Foundation
import ObjectStore
import SyncContract
import Testing

/// The planning rules, without I/O.
@Suite struct SyncPlannerTests {
    let md5A = String(repeating: "a", count: 32)
    let md5B = String(repeating: "b", count: 32)

    func local(_ path: String, size: Int64 = 10, mtime: Int64 = 1000) -> LocalFile { LocalFile(path: path, size: size, mtime: mtime) }
    func remote(_ path: String, size: Int64 = 10, etag: String? = nil) -> RemoteFile {
        RemoteFile(path: path, key: "p/" + path, size: size, etag: etag ?? md5A, lastModified: Date(timeIntervalSince1970: 0))
    }
    func entry(_ path: String, size: Int64 = 10, mtime: Int64 = 1000, etag: String? = nil, sha: String = "s1") -> ManifestEntry {
        ManifestEntry(path: path, size: size, mtime: mtime, md5: md5A, sha1: String(repeating: "c", count: 40), sha256: sha, etag: etag ?? md5A)
    }
    func plan(_ direction: SyncDirection, _ mode: AccessMode, local: [LocalFile], remote: [RemoteFile], previous: [ManifestEntry] = [], checksum: Bool = false, maxDeletes: Int? = nil) -> SyncPlan {
        SyncPlanner.plan(local: local, remote: remote, previous: Dictionary(uniqueKeysWithValues: previous.map { ($0.path, $0) }),
                         options: .init(direction: direction, mode: mode, checksum: checksum, maxDeletes: maxDeletes))
    }

    @Test func pushUploadsNewAndChangedAndSkipsWhatMatchesTheManifest() {
        let p = plan(.push, .readWrite, local: [local("new"), local("same"), local("edited", mtime: 2000), local("grown", size: 11)],
                     remote: [remote("same"), remote("edited"), remote("grown")],
                     previous: [entry("same"), entry("edited"), entry("grown")])
        #expect(p.uploads.map(\.path) == ["edited", "grown", "new"])
        #expect(p.unchanged.map(\.path) == ["same"])
        #expect(p.remoteDeletes.isEmpty)
    }

    @Test func sameSizeEditWithOldMtimeIsCaughtByTheRemoteETag() {
        // Someone else rewrote the object with same-size content: the ETag moved.
        let p = plan(.pull, .readOnly, local: [local("f")], remote: [remote("f", etag: md5B)], previous: [entry("f")])
        #expect(p.downloads.map(\.path) == ["f"])
    }

    @Test func withoutAManifestEqualSizesAreNotTrusted() {
        let p = plan(.push, .readWrite, local: [local("f")], remote: [remote("f")])
        #expect(p.uploads.map(\.path) == ["f"])
    }

    @Test func rwPushNeverDeletes() {
        let p = plan(.push, .readWrite, local: [local("kept")], remote: [remote("kept"), remote("gone")], previous: [entry("kept"), entry("gone")])
        #expect(p.remoteDeletes.isEmpty)
        #expect(p.refusal == nil)
    }

    @Test func rwdPushDeletesOnlyWhatTheVolumeHadAndDeleted() {
        let p = plan(.push, .readWriteDelete, local: [local("kept")], remote: [remote("kept"), remote("gone"), remote("foreign"), remote("gone-but-changed", etag: md5B)],
                     previous: [entry("kept"), entry("gone"), entry("gone-but-changed")])
        #expect(p.remoteDeletes.map(\.path) == ["gone"])
        #expect(p.conflicts.count == 1)
    }

    @Test func rwdGuards() {
        let tooMany = plan(.push, .readWriteDelete, local: [local("a")], remote: [remote("a"), remote("b"), remote("c")], previous: [entry("a"), entry("b"), entry("c")], maxDeletes: 1)
        #expect(tooMany.refusal?.contains("--max-deletes 1") == true)
        let empty = plan(.push, .readWriteDelete, local: [], remote: [remote("a")], previous: [entry("a")])
        #expect(empty.refusal?.contains("empty") == true)
        let withinLimit = plan(.push, .readWriteDelete, local: [local("a")], remote: [remote("a"), remote("b")], previous: [entry("a"), entry("b")], maxDeletes: 1)
        #expect(withinLimit.refusal == nil)
    }

    @Test func roIsNeverPushed() {
        #expect(plan(.push, .readOnly, local: [local("a")], remote: []).refusal != nil)
    }

    @Test func roPullMirrorsAndOverwritesLocalEdits() {
        let p = plan(.pull, .readOnly, local: [local("edited", mtime: 5), local("extra")], remote: [remote("edited"), remote("new")], previous: [entry("edited")])
        #expect(p.downloads.map(\.path) == ["edited", "new"])
        #expect(p.localDeletes.map(\.path) == ["extra"])
    }

    @Test func rwPullKeepsUnpushedLocalWorkAndNewLocalFiles() {
        let p = plan(.pull, .readWrite, local: [local("edited", mtime: 5), local("mine"), local("removed-remotely")],
                     remote: [remote("edited")], previous: [entry("edited"), entry("removed-remotely")])
        #expect(p.downloads.isEmpty)
        #expect(p.unchanged.map(\.path) == ["edited"])
        #expect(p.conflicts.first?.hasPrefix("edited:") == true)
        #expect(p.localDeletes.map(\.path) == ["removed-remotely"])
    }

    @Test func pullRefusesToEmptyTheVolumeFromAnEmptyPrefix() {
        let p = plan(.pull, .readOnly, local: [local("a")], remote: [])
        #expect(p.refusal != nil)
    }

    @Test func checksumModeComparesContent() {
        var same = local("f")
        same.digest = ContentDigest(md5: md5A, sha256: "s1")
        var differs = local("g")
        differs.digest = ContentDigest(md5: md5B, sha256: "s2")
        // No manifest: the remote single-part ETag is the MD5.
        let p = plan(.push, .readWrite, local: [same, differs], remote: [remote("f"), remote("g")], checksum: true)
        #expect(p.unchanged.map(\.path) == ["f"])
        #expect(p.uploads.map(\.path) == ["g"])
        // Same size and mtime as the manifest but other content: only checksum mode sees it.
        var sneaky = local("h")
        sneaky.digest = ContentDigest(md5: md5B, sha256: "other")
        let bySize = plan(.push, .readWrite, local: [local("h")], remote: [remote("h", etag: "x-2")], previous: [entry("h", etag: "x-2")])
        #expect(bySize.uploads.isEmpty)
        let byContent = plan(.push, .readWrite, local: [sneaky], remote: [remote("h", etag: "x-2")], previous: [entry("h", etag: "x-2")], checksum: true)
        #expect(byContent.uploads.map(\.path) == ["h"])
    }

    @Test func mtimeMetadataRoundTrips() {
        #expect(SyncMetadata.format(mtime: 1_700_000_000_123_456_789) == "1700000000.123456789")
        #expect(SyncMetadata.format(mtime: 5_000_000_007) == "5.000000007")
        #expect(SyncMetadata.parse(mtime: "1700000000.123456789") == 1_700_000_000_123_456_789)
        #expect(SyncMetadata.parse(mtime: "12.5") == 12_500_000_000)
        #expect(SyncMetadata.parse(mtime: "12") == 12_000_000_000)
        #expect(SyncMetadata.parse(mtime: "x") == nil)
    }

    @Test func unsafeKeysAreNotPaths() {
        #expect(LocalTree.isSafe("a/b c/ü.txt"))
        for bad in ["", "a/", "../x", "a/../b", "a//b", "./a", ".stowage/manifest.json"] { #expect(!LocalTree.isSafe(bad), "\(bad)") }
    }

    @Test func manifestDigestNamesContentNotTimes() {
        let a = Manifest(direction: .push, source: "s3://b/", completed: Date(), entries: [entry("x", mtime: 1), entry("y")])
        let b = Manifest(direction: .pull, source: "s3://b/", completed: Date(), entries: [entry("y"), entry("x", mtime: 99)])
        let c = Manifest(direction: .pull, source: "s3://b/", completed: Date(), entries: [entry("y"), entry("x", sha: "s2")])
        #expect(a.digest == b.digest)
        #expect(a.digest != c.digest)
        let changes = SyncReport.changes(from: ["x": entry("x"), "gone": entry("gone")], to: [entry("x", sha: "s2"), entry("new")])
        #expect(changes.modified == ["x"])
        #expect(changes.added == ["new"])
        #expect(changes.removed == ["gone"])
        // Each with the digest it had and has: what status.warning names.
        #expect(changes.changes == [
            SyncReport.Change(path: "new", previousSHA256: nil, sha256: entry("new").sha256),
            SyncReport.Change(path: "x", previousSHA256: entry("x").sha256, sha256: "s2"),
            SyncReport.Change(path: "gone", previousSHA256: entry("gone").sha256, sha256: nil),
        ])
    }
}

extension SyncPlannerTests {
    @Test func rwRemembersLocalDeletionsForALaterRWD() {
        let p = plan(.push, .readWrite, local: [], remote: [remote("gone")], previous: [entry("gone")])
        #expect(p.retained.map(\.path) == ["gone"])
        #expect(p.remoteDeletes.isEmpty)
    }
}
