import Foundation
import HTTP
import KubeModel

/// A request the API server answered with an error status, typed by its `metav1.Status`.
///
/// A struct wrapping a `Code` (closed sets of reasons grow between Kubernetes releases).
public struct KubeAPIError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let badRequest = Code(name: "BadRequest")
        public static let unauthorized = Code(name: "Unauthorized")
        public static let forbidden = Code(name: "Forbidden")
        public static let notFound = Code(name: "NotFound")
        public static let alreadyExists = Code(name: "AlreadyExists")
        /// A stale resourceVersion, or a server-side apply field conflict.
        public static let conflict = Code(name: "Conflict")
        /// Validation failed; see `causes` for the fields.
        public static let invalid = Code(name: "Invalid")
        /// The resourceVersion is too old (410): re-list.
        public static let gone = Code(name: "Gone")
        public static let tooManyRequests = Code(name: "TooManyRequests")
        public static let timeout = Code(name: "Timeout")
        public static let serverError = Code(name: "InternalError")
        public static let unsupportedMediaType = Code(name: "UnsupportedMediaType")
        public static let other = Code(name: "Unknown")
        public var description: String { name }
    }

    public var code: Code
    public var httpStatus: Int
    public var status: Status
    /// From `Retry-After` or `details.retryAfterSeconds`.
    public var retryAfter: Duration?

    public var message: String { status.message ?? "HTTP \(httpStatus)" }
    public var causes: [Status.Cause] { status.details?.causes ?? [] }

    init(httpStatus: Int, body: Data, retryAfterHeader: String?) {
        self.httpStatus = httpStatus
        let decoded = try? JSONDecoder.kube.decode(Status.self, from: body)
        status = decoded ?? Status(status: "Failure", message: String(decoding: body.prefix(512), as: UTF8.self), code: httpStatus)
        code = Self.code(httpStatus: httpStatus, reason: status.reason)
        if let seconds = retryAfterHeader.flatMap(Int.init) ?? status.details?.retryAfterSeconds {
            retryAfter = .seconds(seconds)
        }
    }

    static func code(httpStatus: Int, reason: String?) -> Code {
        switch (httpStatus, reason) {
        case (_, "Expired"), (410, _): .gone
        case (_, "AlreadyExists"): .alreadyExists
        case (_, "Invalid"), (422, _): .invalid
        case (_, "Timeout"), (504, _): .timeout
        case (400, _): .badRequest
        case (401, _): .unauthorized
        case (403, _): .forbidden
        case (404, _): .notFound
        case (409, _): .conflict
        case (415, _): .unsupportedMediaType
        case (429, _): .tooManyRequests
        case (500..., _): .serverError
        default: .other
        }
    }

    /// Worth retrying an idempotent request for.
    var isRetryable: Bool { code == .tooManyRequests || code == .serverError || code == .timeout || httpStatus == 503 }

    public var description: String {
        var text = "\(code) (HTTP \(httpStatus)): \(message)"
        let fields = causes.compactMap { c in c.field.map { "\($0): \(c.message ?? c.reason ?? "")" } }
        if !fields.isEmpty { text += " [" + fields.joined(separator: "; ") + "]" }
        return text
    }
}

/// Any failure of the Kubernetes client: an API error, a transport failure, or a body that
/// does not decode.
public enum KubeClientError: Error, Sendable, CustomStringConvertible {
    case api(KubeAPIError)
    case transport(HTTPError)
    case decoding(String, underlying: String)
    case configuration(KubeConfigError)

    /// The API error's code, if this is one.
    public var apiCode: KubeAPIError.Code? {
        if case .api(let e) = self { return e.code }
        return nil
    }

    public var description: String {
        switch self {
        case .api(let e): "\(e)"
        case .transport(let e): "transport: \(e)"
        case .decoding(let what, let underlying): "cannot decode \(what): \(underlying)"
        case .configuration(let e): "configuration: \(e)"
        }
    }
}
