import Foundation
import HTTP
import KubeModel

/// The Kubernetes API client: one connection, rate limited, with retries for idempotent
/// requests. Typed access goes through `resource(_:namespace:)`.
public final class KubeClient: Sendable {
    public struct Options: Sendable {
        /// Client-side rate limit, as client-go's `QPS` and `Burst`.
        public var qps: Double = 50
        public var burst = 100
        /// Retries of idempotent requests after 429, 5xx or a transport failure.
        public var maxRetries = 4
        public var requestTimeout: Duration = .seconds(30)
        public var userAgent = "stowage"
        public init() {}
    }

    public let connection: ClusterConnection
    public let options: Options
    let http: HTTPClient
    let limiter: TokenBucket

    public init(connection: ClusterConnection, options: Options = Options()) {
        self.connection = connection
        self.options = options
        var config = connection.httpConfiguration
        config.requestTimeout = options.requestTimeout
        http = HTTPClient(configuration: config)
        limiter = TokenBucket(qps: options.qps, burst: options.burst)
    }

    /// In a pod: the service account; elsewhere: the kubeconfig (`path`, `$KUBECONFIG`, `~/.kube/config`).
    public static func fromEnvironment(kubeconfig path: String? = nil, options: Options = Options()) throws(KubeConfigError) -> KubeClient {
        if path == nil, ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] != nil,
           ProcessInfo.processInfo.environment["KUBECONFIG"] == nil {
            return KubeClient(connection: try .inCluster(), options: options)
        }
        return KubeClient(connection: try KubeConfig.load(path: path).connection(), options: options)
    }

    /// Typed operations on `R` in `namespace` (nil: all namespaces, or a cluster-scoped kind).
    public func resource<R: KubeResource>(_ type: R.Type, namespace: String? = nil) -> ResourceClient<R> {
        ResourceClient(client: self, namespace: R.namespaced ? namespace : nil)
    }

    // MARK: requests

    struct Call {
        var method: HTTPRequest.Method
        var path: String
        var query: [(String, String)] = []
        var body: Data?
        var contentType = "application/json"
        var timeout: Duration?

        /// GET, PUT (which carries a resourceVersion or replaces whole), DELETE and
        /// server-side apply can be repeated safely; POST and other PATCHes cannot.
        var idempotent: Bool {
            method == .get || method == .put || method == .delete || contentType == PatchKind.apply.contentType
        }
    }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return connection.server + path }
        return connection.server + path + "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func request(_ call: Call) throws(KubeClientError) -> HTTPRequest {
        var request = HTTPRequest(method: call.method, url: url(call.path, call.query), timeout: call.timeout)
        request.headers["Accept"] = "application/json"
        request.headers["User-Agent"] = options.userAgent
        if let body = call.body {
            request.headers["Content-Type"] = call.contentType
            request.body = .data(body)
        }
        do { try connection.authorize(&request) } catch { throw .configuration(error) }
        return request
    }

    /// Sends `call`; a 4xx/5xx answer becomes `KubeClientError.api`.
    func send(_ call: Call) async throws -> HTTPResponse {
        var attempt = 0
        while true {
            try await limiter.acquire()
            let delay: Duration
            do {
                let response = try await http.execute(try request(call))
                guard response.status >= 400 else { return response }
                let error = KubeAPIError(httpStatus: response.status, body: response.body, retryAfterHeader: response.headers["Retry-After"])
                guard call.idempotent, error.isRetryable, attempt < options.maxRetries else { throw KubeClientError.api(error) }
                delay = error.retryAfter ?? Self.backoff(attempt)
            } catch let error as HTTPError {
                guard call.idempotent, error.isTransient, attempt < options.maxRetries else { throw KubeClientError.transport(error) }
                delay = Self.backoff(attempt)
            }
            attempt += 1
            try await Task.sleep(for: delay)
        }
    }

    /// 200 ms doubling to at most 5 s, with jitter so retrying clients spread out.
    static func backoff(_ attempt: Int) -> Duration {
        let base = min(5000.0, 200.0 * pow(2, Double(attempt)))
        return .milliseconds(Int(base * Double.random(in: 0.8...1.2)))
    }

    func stream(_ call: Call) async throws -> HTTPBody {
        try await limiter.acquire()
        let (head, body) = try await withTransportErrors { try await http.stream(try request(call)) }
        guard head.status < 400 else {
            let data = (try? await body.collect(upTo: 1 << 20)) ?? Data()
            throw KubeClientError.api(KubeAPIError(httpStatus: head.status, body: data, retryAfterHeader: head.headers["Retry-After"]))
        }
        return body
    }

    func withTransportErrors<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as HTTPError { throw KubeClientError.transport(error) }
    }

    // MARK: discovery

    public struct ServerVersion: Codable, Sendable {
        public var major: String
        public var minor: String
        public var gitVersion: String
    }

    public func serverVersion() async throws -> ServerVersion {
        try decode(ServerVersion.self, from: try await send(Call(method: .get, path: "/version")).body, what: "/version")
    }

    /// Whether the server serves `resource` in `group`/`version` (for optional features and
    /// for waiting on a CRD).
    public func isServed(group: String, version: String, resource: String) async throws -> Bool {
        let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        do {
            let body = try await send(Call(method: .get, path: path)).body
            return try decode(ResourceListing.self, from: body, what: path).resources.contains { $0.name == resource }
        } catch KubeClientError.api(let e) where e.code == .notFound {
            return false
        }
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(KubeClientError) -> T {
        do { return try JSONDecoder.kube.decode(type, from: data) } catch {
            throw .decoding(what, underlying: "\(error)")
        }
    }
}

private struct ResourceListing: Decodable {
    var resources: [Entry]
    struct Entry: Decodable { var name: String }
}
