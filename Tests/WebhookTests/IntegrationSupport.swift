import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import StowageAPI
import Testing
@testable import Webhook

/// admissionregistration.k8s.io/v1 MutatingWebhookConfiguration; webhooks stay untyped.
struct MutatingWebhookConfiguration: KubeResource {
    static let apiVersion = "admissionregistration.k8s.io/v1"
    static let kind = "MutatingWebhookConfiguration"
    static let plural = "mutatingwebhookconfigurations"
    static var namespaced: Bool { false }
    var apiVersion = Self.apiVersion
    var kind = Self.kind
    var metadata: ObjectMeta
    var webhooks: [JSONValue]
    var original = Original()
}

/// admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration.
struct ValidatingWebhookConfiguration: KubeResource {
    static let apiVersion = "admissionregistration.k8s.io/v1"
    static let kind = "ValidatingWebhookConfiguration"
    static let plural = "validatingwebhookconfigurations"
    static var namespaced: Bool { false }
    var apiVersion = Self.apiVersion
    var kind = Self.kind
    var metadata: ObjectMeta
    var webhooks: [JSONValue]
    var original = Original()
}

/// rbac.authorization.k8s.io/v1 RoleBinding, to let `alice` create pods in a namespace.
struct RoleBinding: KubeResource {
    static let apiVersion = "rbac.authorization.k8s.io/v1"
    static let kind = "RoleBinding"
    static let plural = "rolebindings"
    var apiVersion = Self.apiVersion
    var kind = Self.kind
    var metadata: ObjectMeta
    var roleRef: JSONValue
    var subjects: [JSONValue]
    var original = Original()
}

/// The HTTP status and body of a POST to the webhook, through curl (TLS verified against the CA).
func curlPost(port: Int, path: String, body: String, tls: TLSMaterial) throws -> (status: Int, body: String) {
    let output = try run("/usr/bin/curl", ["-sS", "--cacert", tls.caCertificate, "-X", "POST", "-H", "Content-Type: application/json",
                                           "--data-binary", "@-", "-w", "\n%{http_code}", "https://127.0.0.1:\(port)\(path)"], input: body)
    let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

func installCRDs(_ env: TestEnvironment) async throws { try await env.installStowageCRDs() }

@discardableResult
func kubectl(_ env: TestEnvironment, _ arguments: [String]) throws -> String { try env.kubectl(arguments) }

/// A KubeClient for the admin user (`admin`, the trusted spawner in these tests) or, with
/// `token`, for another user.
func client(_ env: TestEnvironment, token: String? = nil) throws -> KubeClient {
    var connection = try KubeConfig.load(path: env.kubeconfig).connection()
    if let token { connection.credentials = .token(token) }
    var options = KubeClient.Options()
    options.qps = 200
    options.burst = 200
    return KubeClient(connection: connection, options: options)
}
