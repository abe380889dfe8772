import Foundation
import HTTP

/// Where an `S3Client` connects and how it moves data.
public struct S3Configuration: Sendable {
    /// How bucket names go into URLs.
    public enum Addressing: String, Sendable, Hashable {
        /// `https://endpoint/bucket/key`: what most self-hosted servers (MinIO, SeaweedFS, Ceph) expect.
        case path
        /// `https://bucket.endpoint/key`: AWS's preferred form; needs DNS for every bucket.
        case virtualHosted
    }

    /// Scheme, host and optional port, e.g. `http://127.0.0.1:8333`.
    public var endpoint: String
    public var region: String
    public var credentials: S3Credentials
    public var addressing: Addressing
    /// PEM file of CA certificates to trust instead of the system's.
    public var caBundle: String?
    public var insecureSkipVerify = false

    /// Objects at least this large move in parts (multipart upload, parallel ranged GETs).
    public var multipartThreshold: Int64 = 64 << 20
    /// Bytes per part; S3 needs at least 5 MiB for all but the last part. A file too large
    /// for `maxPartCount` such parts gets larger ones (`uploadPartSize(for:)`).
    public var partSize: Int64 = 16 << 20
    /// Parts one multipart upload may have: S3 allows 10,000, so 16 MiB parts reach 156 GiB.
    public var maxPartCount = 10_000
    /// Parts of one object in flight at once.
    public var partConcurrency = 8
    /// The largest range one GET of a parallel download asks for (`downloadRange(for:)`).
    /// A download is free to choose its ranges, whatever parts the object was uploaded in:
    /// fewer, larger ones cost the server fewer requests (moto copies the whole object for
    /// each one). s5cmd uses 50 MiB.
    public var maxDownloadRange: Int64 = 48 << 20
    /// What each uploaded part carries for the server to verify: CRC-32C where the server
    /// knows S3's flexible checksums, `.md5` (Content-MD5) for one that does not.
    public var partChecksum: PartChecksum = .crc32c
    /// Attempts for a request that fails transiently (connection lost, 5xx, SlowDown).
    public var maxAttempts = 5
    /// First retry delay; each further retry doubles it, with jitter, up to `maxRetryDelay`.
    public var retryBaseDelay: Duration = .milliseconds(100)
    public var maxRetryDelay: Duration = .seconds(5)
    /// Time limit of a control request (list, head, delete, multipart bookkeeping).
    public var controlTimeout: Duration = .seconds(60)
    /// A data transfer that moves less than 1 byte/s for this long is abandoned (and retried).
    public var stallTimeout: Duration = .seconds(60)
    /// libcurl transfer threads; more than one helps many parallel bulk transfers.
    public var transferThreads = 2

    public init(endpoint: String, region: String = "us-east-1", credentials: S3Credentials, addressing: Addressing = .path, caBundle: String? = nil) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.region = region
        self.credentials = credentials
        self.addressing = addressing
        self.caBundle = caBundle
    }

    /// S3's largest object, 5 TiB, and largest part, 5 GiB: `S3Client.upload` refuses
    /// more before it sends anything.
    public static let largestObject: Int64 = 5 << 40
    public static let largestPart: Int64 = 5 << 30

    /// The part size of a multipart upload of `length` bytes: `partSize`, or the least whole
    /// MiB that fits the file in `maxPartCount` parts (525 MiB for 5 TiB).
    public func uploadPartSize(for length: Int64) -> Int64 {
        max(partSize, Self.wholeMiB(length, dividedBy: Int64(max(1, maxPartCount))))
    }

    /// The bytes each ranged GET of a `size`-byte object asks for: a quarter of the object
    /// in whole MiB, none smaller than `partSize` nor larger than `maxDownloadRange`. Four
    /// ranges of a medium object overlap one request's latency with the others' bytes; a
    /// large one moves in the largest ranges, `partConcurrency` at a time.
    public func downloadRange(for size: Int64) -> Int64 {
        max(partSize, min(maxDownloadRange, Self.wholeMiB(size, dividedBy: 4)))
    }

    /// The least whole number of MiB that `pieces` pieces of that size cover `bytes` with.
    private static func wholeMiB(_ bytes: Int64, dividedBy pieces: Int64) -> Int64 {
        let mib: Int64 = 1 << 20
        let piece = (bytes + pieces - 1) / pieces
        return (piece + mib - 1) / mib * mib
    }

    var httpConfiguration: HTTPClientConfiguration {
        var config = HTTPClientConfiguration()
        config.tls.trustRoots = caBundle.map { .file($0) }
        config.tls.insecureSkipVerify = insecureSkipVerify
        config.connectTimeout = .seconds(10)
        // Every request sets its own limit: control requests a total, transfers a stall limit.
        config.requestTimeout = nil
        config.lowSpeedTime = stallTimeout
        config.transferThreads = transferThreads
        return config
    }
}
