import Crypto
import Foundation
import ObjectStore

/// The immutable record a successful push leaves in object storage, under
/// `PREFIX/.stowage/versions/`: every file of the volume as pushed, with its size, mtime,
/// MD5, SHA-1, SHA-256, the object's ETag and, on a bucket with versioning, its version id.
///
/// Its identifier is the SHA-256 of its bytes (`id`), so it names the content and where it
/// came from, not the time: a push that changed nothing makes the same manifest as the one
/// before it and writes no new version. The time of a version is in its key
/// (`VersionKey`), which sorts by it; a manifest is written once, in one PUT, after every
/// transfer and deletion of its push succeeded, and never rewritten.
public struct VersionManifest: Sendable, Codable, Hashable {
    public var format = 1
    /// `s3://BUCKET/PREFIX/` the files were pushed to.
    public var source: String
    /// The volume that pushed it (`KIND/NAMESPACE/NAME`, as `stowage sync --volume` was
    /// told), when known.
    public var volume: String?
    /// Sorted by path.
    public var entries: [ManifestEntry]

    public init(source: String, volume: String?, entries: [ManifestEntry]) {
        self.source = source
        self.volume = volume
        self.entries = entries.sorted { $0.path < $1.path }
    }

    public var files: Int { entries.count }
    public var bytes: Int64 { entries.reduce(0) { $0 + $1.size } }

    /// JSON with sorted keys, one entry per line, as the volume's manifest is written.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data("{\n".utf8)
        try ManifestJSON.list("entries", entries, into: &out, encoder: encoder)
        out += Data("  \"format\": \(format),\n".utf8)
        out += Data("  \"source\": ".utf8) + (try encoder.encode(source))
        if let volume { out += Data(",\n  \"volume\": ".utf8) + (try encoder.encode(volume)) }
        out += Data("\n}\n".utf8)
        return out
    }

    /// The identifier of the manifest `bytes`: their SHA-256 in hex.
    public static func id(of bytes: Data) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    public static func decode(_ data: Data) throws -> VersionManifest {
        try JSONDecoder().decode(VersionManifest.self, from: data)
    }
}

/// Where a version manifest lives: `PREFIX/.stowage/versions/TIME-ID.json`, TIME in UTC as
/// `20261202T061530.123Z`, so keys sort by time and the latest version is the last key.
public struct VersionKey: Sendable, Hashable, Comparable {
    public static let directory = ".stowage/versions/"

    public var time: Date
    public var id: String

    public init(time: Date, id: String) {
        self.time = time
        self.id = id
    }

    /// The key's name below `PREFIX/.stowage/versions/`.
    public var name: String { "\(Self.format(time))-\(id).json" }

    /// Reads a key's name below the versions directory; nil for anything else.
    public init?(name: String) {
        guard name.hasSuffix(".json"), let dash = name.firstIndex(of: "-") else { return nil }
        let id = String(name[name.index(after: dash)...].dropLast(5))
        guard let time = Self.parse(String(name[..<dash])), id.utf8.count == 64,
              id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        self.init(time: time, id: id)
    }

    public static func < (a: VersionKey, b: VersionKey) -> Bool { (a.time, a.id) < (b.time, b.id) }

    static func format(_ time: Date) -> String {
        let millis = Int64((time.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(millis % 1000))
    }

    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 20, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "."), b[19] == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? { S3Time.digits(b, from, count) }
        guard let year = number(0, 4), let month = number(4, 2), let day = number(6, 2), let hour = number(9, 2),
              let minute = number(11, 2), let second = number(13, 2), let millis = number(16, 3) else { return nil }
        return S3Time.utc(year, month, day, hour, minute, second) + Double(millis) / 1000
    }
}

/// The versions of one prefix, as a listing of it shows them.
public struct VersionListing: Sendable {
    /// Oldest first.
    public var keys: [VersionKey]
    public var latest: VersionKey? { keys.last }

    /// The versions among `objects` (a listing of `keyPrefix`, the sync prefix with its `/`).
    public init(objects: [S3Object], keyPrefix: String) {
        let directory = keyPrefix + VersionKey.directory
        keys = objects.compactMap { object in
            object.key.hasPrefix(directory) ? VersionKey(name: String(object.key.dropFirst(directory.count))) : nil
        }.sorted()
    }

    public static func key(_ version: VersionKey, keyPrefix: String) -> String { keyPrefix + VersionKey.directory + version.name }
}

/// Object metadata of a version manifest, so `stowage versions` reads a version's summary
/// with a HEAD instead of the whole manifest.
public enum VersionMetadata {
    public static let files = "files"
    public static let bytes = "bytes"
    public static let volume = "volume"
}

/// One version as `stowage versions` lists it.
public struct VersionSummary: Sendable, Hashable, Codable {
    public var time: Date
    public var id: String
    public var files: Int
    public var bytes: Int64
    public var volume: String?
    /// The manifest's key in the bucket.
    public var key: String
}

extension VersionListing {
    /// The versions under `s3://bucket/prefix`, newest first, each summarised from its
    /// manifest's metadata (a HEAD each, 8 at a time), or from the manifest itself where the
    /// metadata is missing.
    public static func summaries(client: S3Client, bucket: String, prefix: String) async throws -> [VersionSummary] {
        let keyPrefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        let objects = try await client.listObjects(bucket: bucket, prefix: keyPrefix + VersionKey.directory)
        let keys = VersionListing(objects: objects, keyPrefix: keyPrefix).keys
        let summaries = try await withThrowingTaskGroup(of: VersionSummary.self) { group in
            var results: [VersionSummary] = []
            var next = 0
            func add() {
                let version = keys[next]
                next += 1
                group.addTask {
                    let key = VersionListing.key(version, keyPrefix: keyPrefix)
                    let metadata = try await client.headObject(bucket: bucket, key: key)?.metadata ?? [:]
                    if let files = metadata[VersionMetadata.files].flatMap(Int.init), let bytes = metadata[VersionMetadata.bytes].flatMap(Int64.init) {
                        return VersionSummary(time: version.time, id: version.id, files: files, bytes: bytes, volume: metadata[VersionMetadata.volume], key: key)
                    }
                    let manifest = try VersionManifest.decode(try await client.getObject(bucket: bucket, key: key))
                    return VersionSummary(time: version.time, id: version.id, files: manifest.files, bytes: manifest.bytes, volume: manifest.volume, key: key)
                }
            }
            while next < min(keys.count, 8) { add() }
            while let summary = try await group.next() {
                results.append(summary)
                if next < keys.count { add() }
            }
            return results
        }
        return summaries.sorted { VersionKey(time: $0.time, id: $0.id) > VersionKey(time: $1.time, id: $1.id) }
    }
}
