import Foundation
import ObjectStore

/// Which way data moves.
public enum SyncDirection: String, Sendable, Codable, CaseIterable {
    /// Object storage into the volume.
    case pull
    /// The volume into object storage.
    case push
}

/// The access mode of a volume, after the OVHcloud AI Training model.
public enum SyncMode: String, Sendable, Codable, CaseIterable {
    /// Read-only: pulled as an exact mirror of object storage, never pushed.
    case RO
    /// Read-write: new and changed files are pushed; deletions are not propagated.
    case RW
    /// Read-write-delete: as RW, and files deleted in the volume are deleted remotely.
    case RWD
}

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
    /// SHA-256 matches takes the MD5 from here instead of computing it (see `trustedMD5`).
    public static let md5 = "md5"

    /// The MD5 an object's metadata vouches for: only with a SHA-256 beside it (which the
    /// download checks, so the bytes are the ones both were computed from) and only if it
    /// looks like an MD5.
    public static func trustedMD5(_ metadata: [String: String]) -> String? {
        guard metadata[sha256] != nil, let md5 = metadata[md5], md5.utf8.count == 32,
              md5.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return md5
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
