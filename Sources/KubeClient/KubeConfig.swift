import Foundation
import HTTP
import Synchronization
import YAML

/// A kubeconfig file: clusters, users and the contexts that pair them.
public struct KubeConfig: Decodable, Sendable {
    public var currentContext: String?
    public var clusters: [Named<Cluster>]
    public var contexts: [Named<Context>]
    public var users: [Named<User>]
    /// The file it came from; relative paths inside it are relative to its folder.
    public var path: String = ""

    public struct Named<Value: Decodable & Sendable>: Decodable, Sendable {
        public var name: String
        public var value: Value

        enum CodingKeys: String, CodingKey { case name, cluster, context, user }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            let key: CodingKeys = Value.self == Cluster.self ? .cluster : Value.self == Context.self ? .context : .user
            value = try c.decode(Value.self, forKey: key)
        }
    }

    public struct Cluster: Decodable, Sendable {
        public var server: String
        public var certificateAuthority: String?
        public var certificateAuthorityData: Data?
        public var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    public struct Context: Decodable, Sendable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    public struct User: Decodable, Sendable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: Data?
        public var clientKey: String?
        public var clientKeyData: Data?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }

    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context"
        case clusters, contexts, users
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        currentContext = try c.decodeIfPresent(String.self, forKey: .currentContext)
        clusters = try c.decodeIfPresent([Named<Cluster>].self, forKey: .clusters) ?? []
        contexts = try c.decodeIfPresent([Named<Context>].self, forKey: .contexts) ?? []
        users = try c.decodeIfPresent([Named<User>].self, forKey: .users) ?? []
    }

    /// Parses kubeconfig text; `path` names the file in errors and anchors relative paths.
    public static func parse(_ text: String, path: String) throws(KubeConfigError) -> KubeConfig {
        do {
            var config = try YAMLDecoder().decode(KubeConfig.self, from: text)
            config.path = path
            return config
        } catch {
            throw KubeConfigError(file: path, "\(error)")
        }
    }

    /// Loads `path`, else the first file of `$KUBECONFIG` that exists, else `~/.kube/config`.
    public static func load(path: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws(KubeConfigError) -> KubeConfig {
        let candidates: [String]
        if let path {
            candidates = [path]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            candidates = list.split(separator: ":").map(String.init)
        } else {
            candidates = [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        }
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw KubeConfigError(file: candidates.joined(separator: ":"), "no kubeconfig file found")
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw KubeConfigError(file: file, "cannot read the file")
        }
        return try parse(text, path: file)
    }

    /// How to reach the cluster of `context` (default: `current-context`).
    public func connection(context name: String? = nil) throws(KubeConfigError) -> ClusterConnection {
        guard let contextName = name ?? currentContext, !contextName.isEmpty else {
            throw KubeConfigError(file: path, "no context given and no current-context set")
        }
        guard let context = contexts.first(where: { $0.name == contextName })?.value else {
            throw KubeConfigError(file: path, "context \"\(contextName)\" is not in contexts")
        }
        guard let cluster = clusters.first(where: { $0.name == context.cluster })?.value else {
            throw KubeConfigError(file: path, "cluster \"\(context.cluster)\" of context \"\(contextName)\" is not in clusters")
        }
        var user = User()
        if let userName = context.user {
            guard let found = users.first(where: { $0.name == userName })?.value else {
                throw KubeConfigError(file: path, "user \"\(userName)\" of context \"\(contextName)\" is not in users")
            }
            user = found
        }
        var tls = TLSConfiguration(insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false)
        if let data = cluster.certificateAuthorityData { tls.trustRoots = .pem(data) }
        else if let file = cluster.certificateAuthority { tls.trustRoots = .file(resolve(file)) }
        if let data = user.clientCertificateData { tls.clientCertificate = .pem(data) }
        else if let file = user.clientCertificate { tls.clientCertificate = .file(resolve(file)) }
        if let data = user.clientKeyData { tls.clientKey = .pem(data) }
        else if let file = user.clientKey { tls.clientKey = .file(resolve(file)) }
        if (tls.clientCertificate == nil) != (tls.clientKey == nil) {
            throw KubeConfigError(file: path, "user \"\(context.user ?? "")\" has a client certificate without a key, or a key without a certificate")
        }
        let credentials: ClusterConnection.Credentials
        if let token = user.token { credentials = .token(token) }
        else if let file = user.tokenFile { credentials = .tokenFile(TokenFile(path: resolve(file))) }
        else { credentials = .none }
        guard cluster.server.hasPrefix("https://") || cluster.server.hasPrefix("http://") else {
            throw KubeConfigError(file: path, "cluster \"\(context.cluster)\" has server \"\(cluster.server)\", which is not an http(s) URL")
        }
        return ClusterConnection(server: Self.trimSlash(cluster.server), contextName: contextName,
                                 namespace: context.namespace ?? "default", tls: tls, credentials: credentials)
    }

    private func resolve(_ file: String) -> String {
        guard !file.hasPrefix("/"), !path.isEmpty else { return file }
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(file).path
    }

    static func trimSlash(_ s: String) -> String { s.hasSuffix("/") ? String(s.dropLast()) : s }
}

/// Everything needed to talk to one API server as one identity.
public struct ClusterConnection: Sendable {
    public var server: String
    public var contextName: String
    /// The namespace the context names, or `default` (in cluster: the pod's namespace).
    public var namespace: String
    public var tls: TLSConfiguration
    public var credentials: Credentials

    public enum Credentials: Sendable {
        case none
        case token(String)
        /// A token re-read when the file changes (projected service-account tokens rotate).
        case tokenFile(TokenFile)
    }

    public init(server: String, contextName: String, namespace: String, tls: TLSConfiguration, credentials: Credentials) {
        self.server = server
        self.contextName = contextName
        self.namespace = namespace
        self.tls = tls
        self.credentials = credentials
    }

    /// An HTTP configuration carrying this connection's TLS settings.
    public var httpConfiguration: HTTPClientConfiguration {
        var config = HTTPClientConfiguration()
        config.tls = tls
        return config
    }

    /// Adds the `Authorization` header, if this connection uses a token.
    public func authorize(_ request: inout HTTPRequest) throws(KubeConfigError) {
        switch credentials {
        case .none: break
        case .token(let token): request.headers["Authorization"] = "Bearer \(token)"
        case .tokenFile(let file): request.headers["Authorization"] = "Bearer \(try file.token())"
        }
    }

    /// The pod's own service account, as client-go's `rest.InClusterConfig` finds it.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(KubeConfigError) -> ClusterConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw KubeConfigError(file: "environment", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set to run in a cluster")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        let file = TokenFile(path: tokenPath)
        _ = try file.token()
        let caPath = serviceAccountDirectory + "/ca.crt"
        guard FileManager.default.isReadableFile(atPath: caPath) else {
            throw KubeConfigError(file: caPath, "the service-account CA certificate is missing")
        }
        let namespace = (try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClusterConnection(server: "https://\(hostPart):\(port)", contextName: "in-cluster",
                                 namespace: namespace ?? "default", tls: TLSConfiguration(trustRoots: .file(caPath)),
                                 credentials: .tokenFile(file))
    }
}

/// A bearer token kept in a file that may be replaced while we run; re-read at most once a
/// minute, or at once when the file's modification time changes.
public final class TokenFile: Sendable {
    public let path: String
    private let cache = Mutex<(token: String, modified: Date, readAt: ContinuousClock.Instant)?>(nil)

    public init(path: String) { self.path = path }

    public func token() throws(KubeConfigError) -> String {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0 }), cached.modified == modified, now - cached.readAt < .seconds(60) {
            return cached.token
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KubeConfigError(file: path, "cannot read the token file")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw KubeConfigError(file: path, "the token file is empty") }
        cache.withLock { $0 = (token, modified ?? .distantPast, now) }
        return token
    }
}

/// A kubeconfig or in-cluster configuration that cannot be used, naming the file and why.
public struct KubeConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
