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
    /// Bytes per part; S3 needs at least 5 MiB for all but the last part.
    public var partSize: Int64 = 16 << 20
    /// Parts of one object in flight at once.
    public var partConcurrency = 8
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
