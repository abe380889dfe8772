import Foundation

/// How an `HTTPClient` connects: TLS material, timeouts and how many transfer threads.
public struct HTTPClientConfiguration: Sendable {
    public var tls = TLSConfiguration()
    public var connectTimeout: Duration = .seconds(10)
    /// Total time for a buffered request when the request sets none. Streams have no default
    /// limit: a watch may stay open for minutes.
    public var requestTimeout: Duration? = .seconds(60)
    /// Abort a transfer that moved fewer than `lowSpeedLimit` bytes/s for this long
    /// (catches dead peers on long downloads); nil disables it.
    public var lowSpeedTime: Duration? = nil
    public var lowSpeedLimit = 1
    /// Open connections per host; 0 leaves it to libcurl (no limit).
    public var maxConnectionsPerHost = 0
    /// Transfer threads. Each owns a libcurl multi handle and its connection pool; more than
    /// one only helps many parallel bulk transfers.
    public var transferThreads = 1
    /// Bytes of a streamed body buffered before the transfer is paused until the reader
    /// catches up.
    public var streamBufferLimit = 4 << 20

    public init() {}
}

/// TLS trust and client identity. Verification is on unless `insecureSkipVerify` is set.
public struct TLSConfiguration: Sendable, Hashable {
    /// PEM material, from a file path or in memory.
    public enum Source: Sendable, Hashable {
        case file(String)
        case pem(Data)
    }

    /// CA certificates to trust instead of the system's.
    public var trustRoots: Source?
    public var clientCertificate: Source?
    public var clientKey: Source?
    /// Skips peer and host verification: only ever from an explicit configuration setting.
    public var insecureSkipVerify = false

    public init(trustRoots: Source? = nil, clientCertificate: Source? = nil, clientKey: Source? = nil, insecureSkipVerify: Bool = false) {
        self.trustRoots = trustRoots
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }
}
