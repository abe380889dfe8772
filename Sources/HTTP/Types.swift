import Foundation

/// One HTTP request: what to send and how long to wait for it.
public struct HTTPRequest: Sendable {
    public var method: Method
    public var url: String
    public var headers: HTTPHeaders
    public var body: Body?
    /// Total time for the whole transfer; nil means the client's default (none for streams).
    public var timeout: Duration?
    /// Bytes libcurl moves per read or write callback (its receive and upload buffers); nil
    /// keeps libcurl's defaults (16 KiB and 64 KiB). Bulk transfers of large bodies set a
    /// larger one: fewer callbacks and system calls per byte, at that much memory per
    /// transfer in flight.
    public var bufferSize: Int?
    /// Redirects (301, 302, 303, 307, 308) followed, to http or https URLs only; 0 (the
    /// default) returns the redirect itself as the response.
    public var maxRedirects = 0

    public init(method: Method = .get, url: String, headers: HTTPHeaders = [:], body: Body? = nil, timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    public struct Method: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }

        public static let get: Method = "GET"
        public static let head: Method = "HEAD"
        public static let put: Method = "PUT"
        public static let post: Method = "POST"
        public static let patch: Method = "PATCH"
        public static let delete: Method = "DELETE"
    }

    /// A request body: bytes in memory, or a range of an open file read as it is sent (so
    /// large uploads never sit in memory).
    public enum Body: Sendable {
        case data(Data)
        /// `length` bytes of `descriptor` from `offset`; the caller keeps the descriptor open
        /// until the request completes.
        case file(descriptor: Int32, offset: Int64, length: Int64)

        var length: Int64 {
            switch self {
            case .data(let d): Int64(d.count)
            case .file(_, _, let length): length
            }
        }
    }
}

/// Header fields in order, compared without regard to case.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(String, String)] = []) { self.fields = fields.map { (name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value for `name`.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value }
        set {
            fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            if let newValue { fields.append((name, newValue)) }
        }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.elementsEqual(b.fields) { $0.name.lowercased() == $1.name.lowercased() && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for f in fields { hasher.combine(f.name.lowercased()); hasher.combine(f.value) }
    }

    /// Authorization values are redacted so headers can be logged.
    public var description: String {
        fields.map { f in
            let secret = ["authorization", "x-amz-security-token"].contains(f.name.lowercased())
            return "\(f.name): \(secret ? "<redacted>" : f.value)"
        }.joined(separator: "\n")
    }
}

/// The status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// "1.1" or "2".
    public var version: String
}

/// Where a download's body goes, decided from the final response's head before any of it
/// is written (`HTTPClient.download(_:to:placing:received:)`).
public enum HTTPBodyPlacement: Sendable, Hashable {
    /// Written to the file from this offset on.
    case at(Int64)
    /// Read and dropped (an error page, a body the caller did not ask for).
    case discard
}

/// A complete response with its body in memory.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: Data
    /// Connections this transfer had to open: 0 when it reused one from the pool.
    public var newConnections: Int

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
}

/// A failure to complete an HTTP exchange (not an HTTP error status, which is a response).
///
/// A struct wrapping a `Code` so new kinds can be added without breaking callers.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let invalidRequest = Code(name: "invalidRequest")
        public static let resolveFailed = Code(name: "resolveFailed")
        public static let connectFailed = Code(name: "connectFailed")
        public static let timedOut = Code(name: "timedOut")
        public static let tls = Code(name: "tls")
        /// The connection broke while sending or receiving.
        public static let connectionLost = Code(name: "connectionLost")
        public static let bodySourceFailed = Code(name: "bodySourceFailed")
        public static let bodySinkFailed = Code(name: "bodySinkFailed")
        public static let other = Code(name: "other")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// libcurl's code, when the failure came from libcurl.
    public var curlCode: Int?

    public init(_ code: Code, _ message: String, curlCode: Int? = nil) {
        self.code = code
        self.message = message
        self.curlCode = curlCode
    }

    /// Errors worth retrying on an idempotent request.
    public var isTransient: Bool {
        [.connectFailed, .timedOut, .connectionLost, .resolveFailed].contains(code)
    }

    public var description: String { "\(code): \(message)" }
}
