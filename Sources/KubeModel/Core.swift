import Foundation

public struct Namespace: KubeResource {
    public static let apiVersion = "v1"
    public static let kind = "Namespace"
    public static let plural = "namespaces"
    public static let namespaced = false
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var original = Original()

    public init(name: String, labels: [String: String]? = nil) {
        metadata = ObjectMeta(name: name, labels: labels)
    }
}

public struct ConfigMap: KubeResource {
    public static let apiVersion = "v1"
    public static let kind = "ConfigMap"
    public static let plural = "configmaps"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var binaryData: [String: Data]?
    public var original = Original()

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

/// A key of a Secret, by reference: Stowage passes these to pods and never reads Secrets.
public struct SecretKeySelector: Codable, Sendable, Hashable {
    public var name: String
    public var key: String
    public var optional: Bool?

    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }
}

public struct LocalObjectReference: Codable, Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct Event: KubeResource {
    public static let apiVersion = "v1"
    public static let kind = "Event"
    public static let plural = "events"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    /// `Normal` or `Warning`.
    public var type: String?
    public var count: Int?
    public var firstTimestamp: Date?
    public var lastTimestamp: Date?
    public var source: Source?
    public var reportingComponent: String?
    public var reportingInstance: String?
    public var original = Original()

    public struct Source: Codable, Sendable, Hashable {
        public var component: String?
        public var host: String?
        public init(component: String?) { self.component = component }
    }

    public init(metadata: ObjectMeta, involvedObject: ObjectReference) {
        self.metadata = metadata
        self.involvedObject = involvedObject
    }
}

public struct ObjectReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?

    public init<R: KubeResource>(_ object: R) {
        apiVersion = R.apiVersion
        kind = R.kind
        name = object.metadata.name
        namespace = object.metadata.namespace
        uid = object.metadata.uid
    }
}

/// A coordination.k8s.io/v1 Lease, the lock of leader election.
public struct Lease: KubeResource {
    public static let apiVersion = "coordination.k8s.io/v1"
    public static let kind = "Lease"
    public static let plural = "leases"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var original = Original()

    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: MicroTime?
        public var renewTime: MicroTime?
        public var leaseTransitions: Int?
        public init() {}
    }

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `metav1.MicroTime`: RFC 3339 with microseconds, as Leases need.
public struct MicroTime: Codable, Sendable, Hashable {
    public var date: Date
    public init(_ date: Date) { self.date = date }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = RFC3339Time.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MicroTime: \(text)"))
        }
        self.date = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    /// RFC 3339 in UTC with microseconds (rounded down, so a time never moves to the next
    /// second): `2026-12-02T14:05:09.123456Z`.
    public var text: String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let seconds = Date(timeIntervalSince1970: TimeInterval(micros / 1_000_000))
        let base = seconds.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day()
            .dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
        // The style with its own time zone writes no designator: the Z comes after the fraction.
        return base.replacingOccurrences(of: "Z", with: "") + String(format: ".%06dZ", Int(micros % 1_000_000))
    }
}

/// apiextensions.k8s.io/v1 CustomResourceDefinition; the schema stays untyped.
public struct CustomResourceDefinition: KubeResource {
    public static let apiVersion = "apiextensions.k8s.io/v1"
    public static let kind = "CustomResourceDefinition"
    public static let plural = "customresourcedefinitions"
    public static let namespaced = false
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: JSONValue
    public var status: JSONValue?
    public var original = Original()

    public init(metadata: ObjectMeta, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }

    /// True once the API server serves the resource (condition `Established`).
    public var isEstablished: Bool {
        guard case .array(let conditions)? = status?["conditions"] else { return false }
        return conditions.contains { $0["type"] == "Established" && $0["status"] == "True" }
    }
}
