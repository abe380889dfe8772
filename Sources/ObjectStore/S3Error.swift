import Foundation

/// An error answer from an S3 server, with the operation and object it concerned.
///
/// A struct wrapping a `Code` so new codes can be recognised without breaking callers;
/// codes the client has no constant for still arrive, with S3's own name.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let noSuchBucket = Code(rawValue: "NoSuchBucket")
        public static let noSuchKey = Code(rawValue: "NoSuchKey")
        public static let noSuchUpload = Code(rawValue: "NoSuchUpload")
        public static let accessDenied = Code(rawValue: "AccessDenied")
        public static let invalidAccessKeyId = Code(rawValue: "InvalidAccessKeyId")
        public static let signatureDoesNotMatch = Code(rawValue: "SignatureDoesNotMatch")
        public static let slowDown = Code(rawValue: "SlowDown")
        public static let internalError = Code(rawValue: "InternalError")
        public static let serviceUnavailable = Code(rawValue: "ServiceUnavailable")
        public static let requestTimeout = Code(rawValue: "RequestTimeout")
        public static let badDigest = Code(rawValue: "BadDigest")
        public static let preconditionFailed = Code(rawValue: "PreconditionFailed")
        public static let invalidRange = Code(rawValue: "InvalidRange")
        /// Too large for S3 (5 TiB an object, 5 GiB a part).
        public static let entityTooLarge = Code(rawValue: "EntityTooLarge")
        /// HEAD answers carry no body: a 404 there is this.
        public static let notFound = Code(rawValue: "NotFound")
        /// The answer did not have the shape the operation expects (a client-side check).
        public static let invalidResponse = Code(rawValue: "InvalidResponse")
        /// The configured endpoint is not an http(s) URL (a client-side check).
        public static let invalidEndpoint = Code(rawValue: "InvalidEndpoint")

        public var description: String { rawValue }

        /// The credentials were refused: wrong key, wrong secret, or no permission.
        public var isAuthorization: Bool { [.accessDenied, .invalidAccessKeyId, .signatureDoesNotMatch].contains(self) }
    }

    public var code: Code
    public var message: String
    /// The HTTP status, 0 for client-side checks.
    public var status: Int
    /// The operation that failed, e.g. "PutObject".
    public var operation: String
    public var bucket: String?
    public var key: String?
    public var requestID: String?

    public init(_ code: Code, _ message: String, status: Int = 0, operation: String, bucket: String? = nil, key: String? = nil, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.requestID = requestID
    }

    /// Worth retrying: the server said so (503 SlowDown, 500 InternalError, ...).
    public var isRetryable: Bool {
        [.slowDown, .internalError, .serviceUnavailable, .requestTimeout].contains(code) || [500, 502, 503, 504].contains(status)
    }

    public var description: String {
        var target = bucket.map { "s3://\($0)" } ?? ""
        if let key { target += "/" + key }
        let text = message.isEmpty ? "" : ": \(message)"
        return "\(operation) \(target) failed: \(code)\(text)\(status > 0 ? " (HTTP \(status))" : "")"
    }

    /// The error of an S3 answer with status `status` and body `body` (the XML `<Error>`
    /// document, or nothing for HEAD).
    static func from(status: Int, body: Data, operation: String, bucket: String?, key: String?) -> S3Error {
        if let root = try? XMLNode.parse(body), root.name == "Error" {
            let code = root["Code"]?.text ?? "HTTP\(status)"
            return S3Error(Code(rawValue: code), root["Message"]?.text ?? "", status: status, operation: operation, bucket: bucket, key: key, requestID: root["RequestId"]?.text)
        }
        let code: Code = switch status {
        case 403: .accessDenied
        case 404: key == nil ? .noSuchBucket : .notFound
        case 412: .preconditionFailed
        case 416: .invalidRange
        case 503: .slowDown
        default: Code(rawValue: "HTTP\(status)")
        }
        return S3Error(code, "", status: status, operation: operation, bucket: bucket, key: key)
    }
}
