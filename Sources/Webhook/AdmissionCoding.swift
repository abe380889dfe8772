import Foundation
import KubeModel
import StowageAPI

/// An AdmissionReview as received, with the object decoded straight into `Object` (no
/// intermediate `JSONValue`, which keeps the request path cheap).
struct ReviewEnvelope<Object: Decodable & Sendable>: Decodable, Sendable {
    var apiVersion: String?
    var kind: String?
    var request: Request?

    struct Request: Decodable, Sendable {
        var uid: String
        var kind: AdmissionReview.GroupVersionKind
        var name: String?
        var namespace: String?
        var operation: String
        var userInfo: AdmissionReview.UserInfo
        var object: Object?
        var oldObject: Object?
        var dryRun: Bool?
    }
}

/// Decodes anything and keeps nothing: to read a review's envelope when its object is not
/// what the path expects.
struct Ignored: Decodable, Sendable {
    init(from decoder: any Decoder) throws {}
}

/// The object of a review on `/validate-pods`: a Pod, or a Job whose template is judged.
enum Workload: Decodable, Sendable {
    case pod(Pod)
    case job(Job)

    private enum Keys: String, CodingKey { case kind }

    init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: Keys.self).decodeIfPresent(String.self, forKey: .kind)
        self = kind == Job.kind ? .job(try Job(from: decoder)) : .pod(try Pod(from: decoder))
    }
}

/// The object of a review on `/validate-volumes`.
enum StowageVolume: Decodable, Sendable {
    case dataVolume(DataVolume)
    case sharedVolume(SharedVolume)

    private enum Keys: String, CodingKey { case kind }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case DataVolume.kind: self = .dataVolume(try DataVolume(from: decoder))
        case SharedVolume.kind: self = .sharedVolume(try SharedVolume(from: decoder))
        default: throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "expected DataVolume or SharedVolume, got \(kind)")
        }
    }

    var spec: AnyHashable {
        switch self {
        case .dataVolume(let v): AnyHashable(v.spec)
        case .sharedVolume(let v): AnyHashable(v.spec)
        }
    }

    var isDeleting: Bool {
        switch self {
        case .dataVolume(let v): v.metadata.deletionTimestamp != nil
        case .sharedVolume(let v): v.metadata.deletionTimestamp != nil
        }
    }
}

/// The AdmissionReview the webhook answers with. Own types rather than KubeModel's, whose
/// `Status.Details` cannot be built outside that module.
struct ReviewReply: Encodable, Sendable {
    var apiVersion = "admission.k8s.io/v1"
    var kind = "AdmissionReview"
    var response: Response

    struct Response: Encodable, Sendable {
        var uid: String
        var allowed: Bool
        var status: ReplyStatus?
        var patchType: String?
        /// Base64 of the JSON Patch.
        var patch: String?
        var warnings: [String]?
    }

    struct ReplyStatus: Encodable, Sendable {
        var status = "Failure"
        var code: Int
        var reason: String
        var message: String
        var details: Details?
    }

    struct Details: Encodable, Sendable {
        var name: String?
        var kind: String?
        var causes: [Cause]
    }

    struct Cause: Encodable, Sendable {
        var reason = "FieldValueInvalid"
        var field: String
        var message: String
    }

    static func allow(uid: String, warnings: [String] = []) -> ReviewReply {
        ReviewReply(response: Response(uid: uid, allowed: true, warnings: warnings.isEmpty ? nil : warnings))
    }

    static func deny(uid: String, code: Int, reason: String, message: String, causes: [FieldError] = [],
                     kind: String? = nil, name: String? = nil) -> ReviewReply {
        let details = causes.isEmpty ? nil
            : Details(name: name, kind: kind, causes: causes.map { Cause(field: $0.field, message: $0.message) })
        return ReviewReply(response: Response(uid: uid, allowed: false,
                                              status: ReplyStatus(code: code, reason: reason, message: message, details: details)))
    }
}

extension DecodingError {
    /// One line naming where the JSON went wrong (`request.object.spec.containers[0]: ...`).
    var summary: String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "(top level)" : text)
        }
        switch self {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): required field missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            let detail = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return "\(path(context.codingPath)): \(detail ?? context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}
