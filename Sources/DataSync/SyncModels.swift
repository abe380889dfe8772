import Foundation
import ObjectStore

/// A regular file of the volume, as the local scan saw it.
public struct LocalFile: Sendable, Hashable {
    /// Relative to the volume root, `/`-separated.
    public var path: String
    public var size: Int64
    /// Modification time in nanoseconds since the epoch.
    public var mtime: Int64
    /// Filled only in checksum mode, for files that exist on both sides.
    public var digest: ContentDigest?

    public init(path: String, size: Int64, mtime: Int64, digest: ContentDigest? = nil) {
        self.path = path
        self.size = size
        self.mtime = mtime
        self.digest = digest
    }
}

/// An object under the sync prefix, keyed by its path relative to the prefix.
public struct RemoteFile: Sendable, Hashable {
    public var path: String
    public var key: String
    public var size: Int64
    public var etag: String
    public var lastModified: Date
    /// The object version to read (`GetObject ?versionId=`), set by a pinned pull on a
    /// bucket with versioning; nil reads the current one.
    public var versionID: String?

    public init(path: String, key: String, size: Int64, etag: String, lastModified: Date) {
        self.path = path
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }

    var etagIsMD5: Bool { etag.utf8.count == 32 && !etag.contains("-") }
}

/// Object metadata Stowage writes on upload (`x-amz-meta-*`).
public enum SyncMetadata {
    /// The file's modification time as decimal seconds with nanoseconds, the format
    /// rclone uses for the same key, so either tool can read the other's times.
    public static let mtime = "mtime"
    /// SHA-256 of the content in hex, which multipart ETags cannot provide.
    public static let sha256 = "sha256"
    /// MD5 of the content in hex, recorded with `sha256` at upload. A download whose
    /// SHA-256 matches takes the MD5 from here instead of computing it (see `RecordedDigest`).
    public static let md5 = "md5"
    /// SHA-1 of the content in hex, recorded and trusted as `md5` is.
    public static let sha1 = "sha1"

    /// The metadata of a single PUT: its digests are known before the request. (A multipart
    /// upload is hashed as it is sent, so its object has none: the version manifest holds them.)
    public static func digests(_ digest: ContentDigest) -> [String: String] {
        [sha256: digest.sha256, md5: digest.md5, sha1: digest.sha1]
    }

    /// `value` if it is `count` lowercase hex digits.
    static func hex(_ value: String?, count: Int) -> String? {
        guard let value, value.utf8.count == count, value.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return value
    }

    public static func format(mtime nanoseconds: Int64) -> String {
        let seconds = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        let (whole, fraction) = seconds.remainder < 0 ? (seconds.quotient - 1, seconds.remainder + 1_000_000_000) : seconds
        return "\(whole)." + String(repeating: "0", count: 9 - String(fraction).count) + String(fraction)
    }

    public static func parse(mtime text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard let first = parts.first, let whole = Int64(first) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = String(parts[1].prefix(9))
            guard let value = Int64(digits) else { return nil }
            fraction = value * Int64(pow(10.0, Double(9 - digits.count)))
        }
        return whole * 1_000_000_000 + (whole < 0 ? -fraction : fraction)
    }
}

/// What a download's bytes must hash to (SHA-256) and the other digests recorded with it.
///
/// A download whose SHA-256 matches takes the recorded MD5 and SHA-1 instead of computing
/// them: equal SHA-256 means the very bytes they were computed from. MD5 is the costliest
/// of the three (600 MB/s here against 1.4 GB/s for SHA-256), so a pull of what Stowage
/// pushed computes SHA-256 alone. An ETag that is an MD5 differing from the recorded one is
/// checked by computing the MD5 (`algorithms`).
struct RecordedDigest: Sendable, Hashable {
    var sha256: String
    var md5: String?
    var sha1: String?
    /// Where the digests were recorded, as error messages name it.
    var origin: String

    /// The digests in an object's metadata (`x-amz-meta-sha256`, `-md5`, `-sha1`, written
    /// with single PUTs), or nil without a SHA-256 there.
    static func metadata(_ metadata: [String: String]) -> RecordedDigest? {
        guard let sha256 = metadata[SyncMetadata.sha256] else { return nil }
        return RecordedDigest(sha256: sha256, md5: SyncMetadata.hex(metadata[SyncMetadata.md5], count: 32),
                              sha1: SyncMetadata.hex(metadata[SyncMetadata.sha1], count: 40), origin: "the object's metadata")
    }

    /// The digests a version manifest recorded for the object.
    static func version(_ entry: ManifestEntry) -> RecordedDigest {
        RecordedDigest(sha256: entry.sha256, md5: SyncMetadata.hex(entry.md5, count: 32), sha1: SyncMetadata.hex(entry.sha1, count: 40),
                       origin: "the version manifest")
    }

    /// What a download must compute beside SHA-256 for an object whose ETag is `etag`.
    static func algorithms(_ recorded: RecordedDigest?, etag: String, etagIsMD5: Bool) -> ContentDigest.Algorithms {
        guard let recorded else { return .all }
        var algorithms: ContentDigest.Algorithms = []
        if recorded.md5 == nil || (etagIsMD5 && recorded.md5 != etag) { algorithms.insert(.md5) }
        if recorded.sha1 == nil { algorithms.insert(.sha1) }
        return algorithms
    }

    /// `computed` checked against `recorded` and the ETag, completed with the recorded
    /// digests it did not compute.
    static func verify(_ computed: ContentDigest, against recorded: RecordedDigest?, etag: String, etagIsMD5: Bool) throws -> ContentDigest {
        if etagIsMD5 && !computed.md5.isEmpty && computed.md5 != etag {
            throw SyncError(.transfersFailed, "downloaded content has MD5 \(computed.md5), the object's ETag is \(etag)")
        }
        var digest = computed
        guard let recorded else { return digest }
        guard recorded.sha256 == computed.sha256 else {
            throw SyncError(.transfersFailed, "downloaded content has SHA-256 \(computed.sha256), \(recorded.origin) says \(recorded.sha256)")
        }
        if digest.md5.isEmpty, let md5 = recorded.md5 { digest.md5 = md5 }
        if digest.sha1.isEmpty, let sha1 = recorded.sha1 { digest.sha1 = sha1 }
        guard !digest.md5.isEmpty, !digest.sha1.isEmpty else {
            throw SyncError(.transfersFailed, "a digest was neither computed nor recorded")
        }
        return digest
    }
}
