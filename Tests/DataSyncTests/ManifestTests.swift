@testable import DataSync
import Foundation
import SyncContract
import Testing

/// The manifest's hand-assembled JSON (no network).
@Suite struct ManifestTests {
    func entry(_ path: String, size: Int64 = 16_384) -> ManifestEntry {
        ManifestEntry(path: path, size: size, mtime: 1_795_449_118_061_154_219, md5: String(repeating: "a", count: 32),
                      sha1: String(repeating: "c", count: 40), sha256: String(repeating: "b", count: 64), etag: "etag-2", versionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
    }

    func decode(_ data: Data) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(Manifest.self, from: data)
    }

    @Test func encodedManifestsReadBackExactly() throws {
        let completed = Date(timeIntervalSince1970: 1_795_449_140)
        let awkward = ["plain.txt", "with space/ünïcødé 名前.md", "quote\"and\\backslash", "new\nline", "slash/in/path"]
        let full = Manifest(direction: .push, source: "s3://bucket/prefix \"x\"/", completed: completed,
                            entries: awkward.map { entry($0) }, deletedLocally: [entry("gone.bin", size: 0)])
        let read = try decode(try full.encoded())
        #expect(read.entries == full.entries && read.deletedLocally == full.deletedLocally)
        #expect(read.source == full.source && read.direction == .push && read.completed == completed && read.version == 1)
        #expect(read.digest == full.digest)

        var empty = Manifest(direction: .pull, source: "s3://b/", completed: completed, entries: [])
        let readEmpty = try decode(try empty.encoded())
        #expect(readEmpty.entries.isEmpty && readEmpty.deletedLocally.isEmpty && readEmpty.direction == .pull)
        #expect(readEmpty.sequence == nil)
        empty.sequence = 12
        #expect(try decode(try empty.encoded()).sequence == 12)
    }

    @Test func theLastCompletedSyncIsReadFromTheManifest() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/.stowage/tmp", withIntermediateDirectories: true)
        #expect(Manifest.lastCompleted(root: root) == nil, "never synced")
        var manifest = Manifest(direction: .pull, source: "s3://b/", completed: Date(), entries: [entry("a")])
        manifest.sequence = 4
        try manifest.write(root: root)
        let last = try #require(Manifest.lastCompleted(root: root))
        #expect(last.direction == .pull && last.sequence == 4)
    }

    @Test func oneEntryPerLineWithSortedKeys() throws {
        let manifest = Manifest(direction: .push, source: "s3://b/p/", completed: Date(timeIntervalSince1970: 0),
                                entries: [entry("b"), entry("a")])
        let lines = String(decoding: try manifest.encoded(), as: UTF8.self).split(separator: "\n")
        let entryLines = lines.filter { $0.hasPrefix("    {") }
        #expect(entryLines.count == 2)
        #expect(entryLines.first?.hasPrefix(#"    {"etag":"etag-2","md5":"#) == true)
        #expect(entryLines.first?.contains(#""path":"a""#) == true, "entries sorted by path")
        #expect(lines.contains(#"  "completed": "1970-01-01T00:00:00Z","#))
    }
}
