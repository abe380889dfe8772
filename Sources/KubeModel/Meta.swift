import Foundation

/// A Kubernetes object type the client can read and write.
public protocol KubeResource: Codable, Sendable {
    /// `v1`, `batch/v1`, `stowage.io/v1alpha1`.
    static var apiVersion: String { get }
    static var kind: String { get }
    /// The URL segment: `configmaps`, `datavolumes`.
    static var plural: String { get }
    static var namespaced: Bool { get }

    var metadata: ObjectMeta { get set }
    /// The JSON this object was read as (see `Original`).
    var original: Original { get set }
}

extension KubeResource {
    public static var namespaced: Bool { true }
    public static var group: String { apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : "" }
    public static var version: String { String(apiVersion.split(separator: "/").last!) }
    /// `namespace/name`, or `name` for cluster-scoped objects: the key controllers queue.
    public var key: String { metadata.namespace.map { "\($0)/\(metadata.name ?? "")" } ?? (metadata.name ?? "") }
}

/// A resource with a status subresource.
public protocol HasStatus: KubeResource {
    associatedtype Status: Codable & Sendable
    var status: Status? { get set }
}

/// Standard object metadata (`metav1.ObjectMeta`).
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: Date?
    public var deletionTimestamp: Date?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [JSONValue]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

/// A pointer from a dependent object to its owner (garbage collection, controller mapping).
public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = true, blockOwnerDeletion: Bool? = true) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    /// A controller reference to `owner`.
    public init<R: KubeResource>(controller owner: R) {
        self.init(apiVersion: R.apiVersion, kind: R.kind, name: owner.metadata.name ?? "", uid: owner.metadata.uid ?? "")
    }
}

public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
}

/// A page of a list.
public struct ResourceList<R: KubeResource>: Codable, Sendable {
    public var metadata: ListMeta
    public var items: [R]
}

/// `metav1.Status`: the body of an API error.
public struct Status: Codable, Sendable, Hashable, Error {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: Details?

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }
}

/// `metav1.Condition`: one aspect of an object's state, with constant types and reasons.
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var observedGeneration: Int64?
    public var lastTransitionTime: Date?
    public var reason: String
    public var message: String

    public init(type: String, status: Bool, reason: String, message: String = "", observedGeneration: Int64? = nil, at time: Date = Date()) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = time
    }
}

extension Condition {
    enum CodingKeys: String, CodingKey {
        case type, status, observedGeneration, lastTransitionTime, reason, message
    }

    /// A missing message reads as empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        status = try c.decode(String.self, forKey: .status)
        observedGeneration = try c.decodeIfPresent(Int64.self, forKey: .observedGeneration)
        lastTransitionTime = try c.decodeIfPresent(Date.self, forKey: .lastTransitionTime)
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
    }

    /// An empty message is left out: kube-apiserver 1.20 built with current json-iterator
    /// reads `""` in a custom resource as null and refuses it (a string field must not be
    /// null), and an absent message means the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(observedGeneration, forKey: .observedGeneration)
        try c.encodeIfPresent(lastTransitionTime, forKey: .lastTransitionTime)
        try c.encode(reason, forKey: .reason)
        if !message.isEmpty { try c.encode(message, forKey: .message) }
    }
}

extension [Condition] {
    /// Sets `condition`, keeping `lastTransitionTime` when the status did not change.
    public mutating func set(_ condition: Condition) {
        guard let i = firstIndex(where: { $0.type == condition.type }) else {
            append(condition)
            return
        }
        var updated = condition
        if self[i].status == condition.status { updated.lastTransitionTime = self[i].lastTransitionTime }
        self[i] = updated
    }

    public subscript(type type: String) -> Condition? { first { $0.type == type } }
}

extension Optional where Wrapped == [Condition] {
    /// Sets `condition` on a status's optional condition list, creating the list if needed.
    public mutating func set(_ condition: Condition) {
        var list = self ?? []
        list.set(condition)
        self = list
    }

    public subscript(type type: String) -> Condition? { self?[type: type] }
}
