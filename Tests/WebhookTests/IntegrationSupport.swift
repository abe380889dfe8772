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

/// Runs a command and returns its standard output; throws with its output when it fails.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

struct CommandFailed: Error, CustomStringConvertible { var description: String }

/// A CA and a serving certificate for 127.0.0.1 (IP SAN), made with openssl.
struct TLSMaterial {
    let directory: String
    var caCertificate: String { directory + "/ca.crt" }
    var certificate: String { directory + "/tls.crt" }
    var key: String { directory + "/tls.key" }

    static func make() throws -> TLSMaterial {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-webhook-tls-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt",
                                     "-days", "2", "-subj", "/CN=stowage-test-webhook-ca"])
        let material = TLSMaterial(directory: dir)
        try material.issue(commonName: "stowage-webhook", into: material.certificate, key: material.key)
        return material
    }

    /// A new serving certificate signed by the CA, written to `certificate` and `key`
    /// (each through a rename, as a Secret volume update would swap them).
    func issue(commonName: String, into certificate: String, key: String) throws {
        let stem = directory + "/" + commonName
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n".write(toFile: stem + ".ext", atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", stem + ".key", "-out", stem + ".csr",
                                     "-subj", "/CN=\(commonName)"])
        try run("/usr/bin/openssl", ["x509", "-req", "-in", stem + ".csr", "-CA", caCertificate, "-CAkey", directory + "/ca.key",
                                     "-CAcreateserial", "-out", stem + ".crt", "-days", "2", "-extfile", stem + ".ext"])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = rename(stem + ".key", key)
        _ = rename(stem + ".crt", certificate)
    }

    /// The subject of the certificate a new TLS connection to `port` is served.
    func servedSubject(port: Int) throws -> String {
        let pem = try run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caCertificate], input: "")
        return try run("/usr/bin/openssl", ["x509", "-noout", "-subject"], input: pem)
    }

    var caBundle: String { (try? Data(contentsOf: URL(fileURLWithPath: caCertificate)).base64EncodedString()) ?? "" }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
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

/// Polls `check` until it holds (for assertions only: the code under test never polls).
func eventually(_ what: String, timeout: Duration = .seconds(30), _ check: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await check()) == true { return }
        try await Task.sleep(for: .milliseconds(200))
    }
    Issue.record("timed out waiting until \(what)")
    throw CommandFailed(description: "timed out waiting until \(what)")
}

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
