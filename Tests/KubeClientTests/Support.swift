import Foundation
import HTTP
import KubeClient
import KubeModel
import KubeTesting

/// A client of the shared test cluster and a fresh namespace for one test.
struct Cluster {
    let env: TestEnvironment
    let client: KubeClient
    let namespace: String

    init(_ prefix: String, env: TestEnvironment? = nil) async throws {
        self.env = try env ?? TestEnvironment.shared()
        client = KubeClient(connection: try KubeConfig.load(path: self.env.kubeconfig).connection())
        namespace = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        _ = try await client.resource(Namespace.self).create(Namespace(name: namespace))
    }

    func configMaps() -> ResourceClient<ConfigMap> { client.resource(ConfigMap.self, namespace: namespace) }

    /// The object as the server stores it, untyped.
    func raw(_ path: String) async throws -> JSONValue {
        var request = HTTPRequest(url: env.apiServer + path)
        request.headers["Authorization"] = "Bearer \(env.adminToken)"
        var config = HTTPClientConfiguration()
        config.tls.trustRoots = .file(env.caFile)
        let response = try await HTTPClient(configuration: config).execute(request)
        return try JSONDecoder().decode(JSONValue.self, from: response.body)
    }
}

/// A custom resource from a CRD the tests install (`widgets.test.stowage.io`).
struct Widget: HasStatus {
    static let apiVersion = "test.stowage.io/v1"
    static let kind = "Widget"
    static let plural = "widgets"
    var apiVersion = Self.apiVersion
    var kind = Self.kind
    var metadata: ObjectMeta
    var spec: Spec
    var status: Status?
    var original = Original()

    struct Spec: Codable, Sendable, Hashable {
        var size: String
        var replicas: Int?
    }

    struct Status: Codable, Sendable, Hashable {
        var phase: String?
        var conditions: [Condition]?
    }

    static let definition = CustomResourceDefinition(
        metadata: ObjectMeta(name: "widgets.test.stowage.io"),
        spec: [
            "group": "test.stowage.io",
            "scope": "Namespaced",
            "names": ["plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]],
            "versions": [[
                "name": "v1", "served": true, "storage": true,
                "subresources": ["status": [:]],
                "schema": ["openAPIV3Schema": [
                    "type": "object",
                    "properties": [
                        "spec": ["type": "object", "required": ["size"], "properties": [
                            "size": ["type": "string", "pattern": "^[0-9]+Gi$"],
                            "replicas": ["type": "integer", "minimum": 0],
                            "color": ["type": "string"],
                        ]],
                        "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                    ],
                ]],
            ]],
        ])
}
