import Crypto
import Foundation
import ObjectStore
import SyncContract

/// One file of the integrity manifest: what the volume and object storage agreed on when
/// the file was last synced.
public struct ManifestEntry: Sendable, Hashable, Codable {
    public var path: String
    public var size: Int64
    /// Local modification time, nanoseconds since the epoch.
    public var mtime: Int64
    public var md5: String
    /// Nil only in entries written before SHA-1 was recorded.
    public var sha1: String?
    public var sha256: String
    /// The object's ETag at that moment; a different ETag later means the object changed.
    public var etag: String
    /// The object's version on a bucket with versioning (`x-amz-version-id`).
    public var versionID: String?
    /// HTTP sources: the URL the file came from, and the server's `Last-Modified` for it (its
    /// `ETag`, quotes and all, is in `etag`, empty when the server sent none).
    public var url: String?
    public var lastModified: String?

    public init(path: String, size: Int64, mtime: Int64, md5: String, sha1: String?, sha256: String, etag: String, versionID: String? = nil) {
        self.path = path
        self.size = size
        self.mtime = mtime
        self.md5 = md5
        self.sha1 = sha1
        self.sha256 = sha256
        self.etag = etag
        self.versionID = versionID
    }

    public init(path: String, size: Int64, mtime: Int64, digest: ContentDigest, etag: String, versionID: String? = nil) {
        self.init(path: path, size: size, mtime: mtime, md5: digest.md5, sha1: digest.sha1, sha256: digest.sha256, etag: etag, versionID: versionID)
    }

    enum CodingKeys: String, CodingKey {
        case path, size, mtime, md5, sha1, sha256, etag
        case versionID = "versionId"
        case url, lastModified
    }
}

/// The integrity manifest in `.stowage/manifest.json`: every file in sync after the last
/// completed run, and the digest that identifies that content.
///
/// A journal (`.stowage/journal.jsonl`) records each transfer as it completes, so a killed
/// run's finished work counts as in sync on the next run and is not transferred again.
public struct Manifest: Sendable, Codable {
    public var version = 1
    public var direction: SyncDirection
    public var source: String
    public var completed: Date
    /// The operator's number for this sync of the volume (`stowage sync --sequence`), if any.
    public var sequence: Int?
    public var entries: [ManifestEntry]
    /// Files deleted in the volume while their objects stay (RW never deletes): not part of
    /// the volume or its digest, kept so a later RWD push knows to delete them.
    public var deletedLocally: [ManifestEntry]

    public init(direction: SyncDirection, source: String, completed: Date, entries: [ManifestEntry], deletedLocally: [ManifestEntry] = []) {
        self.direction = direction
        self.source = source
        self.completed = completed
        self.entries = entries.sorted { $0.path < $1.path }
        self.deletedLocally = deletedLocally.sorted { $0.path < $1.path }
    }

    /// SHA-256 over the sorted `path, size, sha256` lines: it names the content, not the
    /// times, so two volumes with the same files have the same digest.
    public var digest: String {
        var hash = SHA256()
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            hash.update(data: Data("\(entry.path)\t\(entry.size)\t\(entry.sha256)\n".utf8))
        }
        return "sha256:" + hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public static let directory = ".stowage"
    /// Where the manifest lives, relative to the volume's root.
    public static let file = ".stowage/manifest.json"
    static let journal = ".stowage/journal.jsonl"
    static let temporary = ".stowage/tmp"

    /// Which sync last completed in the volume at `root` (its manifest's direction and
    /// number), or nil when none did. Reads only those fields.
    public static func lastCompleted(root: String) -> (direction: SyncDirection, sequence: Int?)? {
        struct Head: Decodable {
            var direction: SyncDirection
            var sequence: Int?
        }
        guard let data = FileManager.default.contents(atPath: root + "/" + file),
              let head = try? JSONDecoder().decode(Head.self, from: data) else { return nil }
        return (head.direction, head.sequence)
    }

    /// What the volume remembers of earlier runs.
    struct Previous {
        /// The entries of the last completed run, updated with the journal of an interrupted
        /// one. Empty when the volume was never synced.
        var entries: [String: ManifestEntry] = [:]
        /// The source of the last completed run; nil when no run completed (a first pull, even
        /// one resumed from a journal, has no previous sync to compare with).
        var source: String?
    }

    static func loadPrevious(root: String) throws -> Previous {
        var previous = Previous()
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let data = FileManager.default.contents(atPath: root + "/" + file) {
            do {
                let manifest = try decoder.decode(Manifest.self, from: data)
                for entry in manifest.deletedLocally + manifest.entries { previous.entries[entry.path] = entry }
                previous.source = manifest.source
            } catch {
                throw SyncError(.localIO, "the manifest \(root)/\(file) is unreadable (\(error)); move it away to sync from scratch")
            }
        }
        if let journal = FileManager.default.contents(atPath: root + "/" + Manifest.journal) {
            // A line cut short by a kill is simply ignored: its transfer is redone.
            for line in journal.split(separator: UInt8(ascii: "\n")) {
                if let entry = try? decoder.decode(ManifestEntry.self, from: Data(line)) { previous.entries[entry.path] = entry }
            }
        }
        return previous
    }

    /// Writes the manifest through a temporary file, fsync and rename, then drops the
    /// journal it supersedes.
    func write(root: String) throws {
        try DurableFile.write(try encoded(), to: root + "/" + Self.file, temporaryDirectory: root + "/" + Self.temporary)
        unlink(root + "/" + Self.journal)
    }

    /// The manifest as JSON, keys sorted, one entry per line (easy to read, grep and diff).
    /// Entries are encoded one at a time into one buffer: encoding the whole manifest at once
    /// builds Foundation's tree of 10,000 entries first (most of a no-change sync's memory).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ value: some Encodable) throws -> Data { try encoder.encode(value) }
        var out = Data()
        out.reserveCapacity(256 * (entries.count + deletedLocally.count + 8))
        func list(_ name: String, _ items: [ManifestEntry]) throws { try ManifestJSON.list(name, items, into: &out, encoder: encoder) }
        out += Data("{\n  \"completed\": ".utf8) + (try json(completed.formatted(.iso8601))) + Data(",\n".utf8)
        try list("deletedLocally", deletedLocally)
        out += Data("  \"direction\": ".utf8) + (try json(direction)) + Data(",\n".utf8)
        try list("entries", entries)
        if let sequence { out += Data("  \"sequence\": \(sequence),\n".utf8) }
        out += Data("  \"source\": ".utf8) + (try json(source)) + Data(",\n".utf8)
        out += Data("  \"version\": \(version)\n}\n".utf8)
        return out
    }
}

/// The manifests' JSON, written by hand: one entry per line.
enum ManifestJSON {
    /// `"name": [` and the entries, one per line, then `],`.
    static func list(_ name: String, _ items: [ManifestEntry], into out: inout Data, encoder: JSONEncoder) throws {
        out += Data("  \"\(name)\": [".utf8)
        for (i, entry) in items.enumerated() {
            out += Data((i == 0 ? "\n    " : ",\n    ").utf8)
            out += try encoder.encode(entry)
        }
        out += Data((items.isEmpty ? "],\n" : "\n  ],\n").utf8)
    }
}

/// Appends manifest entries to the journal as transfers complete; safe from any task.
final class Journal: Sendable {
    private let descriptor: Int32

    init(root: String) throws {
        descriptor = open(root + "/" + Manifest.journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SyncError(.localIO, "cannot open \(root)/\(Manifest.journal): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// One `write` per line: O_APPEND makes each line land whole even from parallel tasks.
    func record(_ entry: ManifestEntry) {
        guard var line = try? JSONEncoder().encode(entry) else { return }
        line.append(UInt8(ascii: "\n"))
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    func sync() { fsync(descriptor) }
}

/// Durable file replacement: temporary file, fsync, rename, fsync of the directory.
enum DurableFile {
    static func write(_ data: Data, to path: String, temporaryDirectory: String) throws {
        let temp = temporaryDirectory + "/" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SyncError(.localIO, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temp, path) == 0 else {
            unlink(temp)
            throw SyncError(.localIO, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
