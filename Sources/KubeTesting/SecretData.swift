import KubeModel

/// A core/v1 Secret with its data: test support only (tests create the credentials Secrets
/// that sync pods read through `secretKeyRef`; the operator never reads a Secret, and its
/// model has no such type).
public struct SecretData: KubeResource {
    public static let apiVersion = "v1"
    public static let kind = "Secret"
    public static let plural = "secrets"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    /// Base64 values, as the API returns them.
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?
    public var original = Original()

    public init(name: String, namespace: String? = nil, stringData: [String: String]) {
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.stringData = stringData
    }
}
