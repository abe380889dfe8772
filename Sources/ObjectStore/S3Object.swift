import Foundation

/// One object as a listing shows it.
public struct S3Object: Sendable, Hashable {
    public var key: String
    public var size: Int64
    /// The entity tag without quotes: the MD5 in hex for single-part uploads, `md5-N` for
    /// multipart ones.
    public var etag: String
    public var lastModified: Date

    public init(key: String, size: Int64, etag: String, lastModified: Date) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }

    /// Whether `etag` is the MD5 of the content (it is not for multipart uploads).
    public var etagIsMD5: Bool { etag.utf8.count == 32 && !etag.contains("-") }
}

/// An object's head: size, tag, time and user metadata (`x-amz-meta-*`, names lowercased
/// without the prefix).
public struct S3ObjectInfo: Sendable, Hashable {
    public var size: Int64
    public var etag: String
    public var lastModified: Date?
    public var metadata: [String: String]
    /// `x-amz-version-id`, on a bucket with versioning.
    public var versionID: String? = nil
}

/// What an upload stored.
public struct UploadedObject: Sendable, Hashable {
    public var etag: String
    /// `x-amz-version-id` of the new object, on a bucket with versioning.
    public var versionID: String?
    /// The digest of the bytes stored.
    public var digest: ContentDigest
}

/// Times as S3 and Stowage's own keys write them, read without a formatter (which matters
/// when a listing has a million of them).
public enum S3Time {
    /// Parses S3's ISO 8601 times (`2024-05-01T12:00:00.000Z`).
    static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard let year = digits(bytes, 0, 4), let month = digits(bytes, 5, 2), let day = digits(bytes, 8, 2),
              let hour = digits(bytes, 11, 2), let minute = digits(bytes, 14, 2), let second = digits(bytes, 17, 2) else { return nil }
        var fraction = 0.0
        if bytes.count > 20, bytes[19] == UInt8(ascii: ".") {
            var scale = 0.1
            for b in bytes[20...] where b >= 48 && b <= 57 {
                fraction += Double(b - 48) * scale
                scale /= 10
            }
        }
        return utc(year, month, day, hour, minute, second) + fraction
    }

    /// Parses an HTTP date (`Wed, 01 May 2024 12:00:00 GMT`).
    static func parseHTTPDate(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count == 6, let day = Int(fields[1]), let month = months.firstIndex(of: String(fields[2])),
              let year = Int(fields[3]) else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        return utc(year, month + 1, day, clock[0], clock[1], clock[2])
    }

    /// The number `count` ASCII digits of `bytes` from `from` spell; nil if one is not a
    /// digit or they run past the end.
    public static func digits(_ bytes: [UInt8], _ from: Int, _ count: Int) -> Int? {
        guard from + count <= bytes.count else { return nil }
        var value = 0
        for b in bytes[from..<from + count] {
            guard b >= 48, b <= 57 else { return nil }
            value = value * 10 + Int(b - 48)
        }
        return value
    }

    /// The moment a UTC calendar date and time name (month from 1).
    public static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date {
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: Double(timegm(&parts)))
    }
}

/// Told the byte count of each piece of a transfer as it completes (a part, or a whole
/// small object); called from the transferring task, never concurrently for one transfer.
public typealias TransferProgress = @Sendable (Int64) -> Void
