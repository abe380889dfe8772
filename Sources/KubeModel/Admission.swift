/// admission.k8s.io/v1 AdmissionReview, as a webhook receives and answers it.
public struct AdmissionReview: Codable, Sendable {
    public var apiVersion = "admission.k8s.io/v1"
    public var kind = "AdmissionReview"
    public var request: Request?
    public var response: Response?

    public struct Request: Codable, Sendable {
        public var uid: String
        public var kind: GroupVersionKind
        public var resource: GroupVersionResource?
        public var name: String?
        public var namespace: String?
        /// CREATE, UPDATE, DELETE, CONNECT.
        public var operation: String
        public var userInfo: UserInfo
        public var object: JSONValue?
        public var oldObject: JSONValue?
        public var dryRun: Bool?
    }

    public struct UserInfo: Codable, Sendable, Hashable {
        public var username: String?
        public var uid: String?
        public var groups: [String]?

        public init(username: String? = nil, uid: String? = nil, groups: [String]? = nil) {
            self.username = username
            self.uid = uid
            self.groups = groups
        }
    }

    public struct GroupVersionKind: Codable, Sendable, Hashable {
        public var group: String
        public var version: String
        public var kind: String

        public init(group: String, version: String, kind: String) {
            self.group = group
            self.version = version
            self.kind = kind
        }
    }

    public struct GroupVersionResource: Codable, Sendable, Hashable {
        public var group: String
        public var version: String
        public var resource: String
    }

    public struct Response: Codable, Sendable {
        public var uid: String
        public var allowed: Bool
        public var status: Status?
        /// Base64 of a JSON patch, with `patchType: JSONPatch`.
        public var patch: String?
        public var patchType: String?
        public var warnings: [String]?

        public init(uid: String, allowed: Bool) {
            self.uid = uid
            self.allowed = allowed
        }
    }
}
