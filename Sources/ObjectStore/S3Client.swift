import Foundation
import HTTP

/// An S3 client: signs requests with SigV4, sends them over `HTTPClient`, retries what is
/// transient and turns error answers into `S3Error`.
///
/// One client per endpoint and credentials; keep it for the whole run, since its HTTP
/// connection pool is what makes many small requests cheap.
public final class S3Client: Sendable {
    public let configuration: S3Configuration
    let http: HTTPClient
    let signer: SigV4Signer
    private let scheme: String
    private let authority: String

    public init(configuration: S3Configuration) throws {
        self.configuration = configuration
        guard let url = URLComponents(string: configuration.endpoint), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw S3Error(.invalidEndpoint, "endpoint \(configuration.endpoint) is not an http(s) URL", operation: "configure")
        }
        self.scheme = scheme
        authority = url.port.map { "\(host):\($0)" } ?? host
        http = HTTPClient(configuration: configuration.httpConfiguration)
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
    }

    /// One S3 operation before signing: what `send` needs to build, sign, retry and
    /// explain a request.
    struct Call {
        var operation: String
        var method: HTTPRequest.Method
        var bucket: String?
        var key: String?
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: HTTPRequest.Body?
        var payloadHash = SigV4Signer.emptyPayloadHash
        /// Data transfers have no total limit (the stall timeout guards them).
        var isDataTransfer = false
        /// libcurl's buffer for this transfer (`HTTPRequest.bufferSize`); large bodies only.
        var bufferSize: Int?
    }

    /// The buffer a data transfer of `bytes` gets: libcurl's default for small bodies (so
    /// many small transfers in flight stay cheap), 1 MiB for large ones (16 to 64 times
    /// fewer callbacks and system calls).
    static func bufferSize(for bytes: Int64?) -> Int? {
        guard let bytes, bytes >= 4 << 20 else { return nil }
        return 1 << 20
    }

    /// Host and encoded path of an object (or bucket, or the service when both are nil).
    func location(bucket: String?, key: String?) -> (host: String, path: String) {
        let encodedKey = key.map { SigV4Signer.encode($0, keepSlash: true) }
        guard let bucket else { return (authority, "/") }
        switch configuration.addressing {
        case .path:
            return (authority, "/\(bucket)" + (encodedKey.map { "/" + $0 } ?? ""))
        case .virtualHosted:
            return ("\(bucket).\(authority)", "/" + (encodedKey ?? ""))
        }
    }

    func makeRequest(_ call: Call, date: Date = Date()) -> HTTPRequest {
        let (host, path) = location(bucket: call.bucket, key: call.key)
        var headers = [("host", host)] + call.headers
        signer.sign(method: call.method.rawValue, path: path, query: call.query, headers: &headers, payloadHash: call.payloadHash, date: date)
        let query = SigV4Signer.canonicalQuery(call.query)
        let url = "\(scheme)://\(host)\(path)" + (query.isEmpty ? "" : "?" + query)
        var request = HTTPRequest(method: call.method, url: url, headers: HTTPHeaders(headers), body: call.body,
                                  timeout: call.isDataTransfer ? nil : configuration.controlTimeout)
        request.bufferSize = call.bufferSize
        return request
    }

    /// A pre-signed URL that lets anyone holding it `GET` the object, or with `method` PUT
    /// upload it (`curl -T FILE URL`), until it expires.
    public func presignedURL(bucket: String, key: String, expires: Duration, method: HTTPRequest.Method = .get, date: Date = Date()) throws -> String {
        let seconds = Int(expires.components.seconds)
        guard seconds >= 1, seconds <= 7 * 24 * 3600 else {
            throw S3Error(.init(rawValue: "InvalidExpires"), "expiry must be between 1 second and 7 days, not \(seconds) s", operation: "Presign", bucket: bucket, key: key)
        }
        let (host, path) = location(bucket: bucket, key: key)
        let query = signer.presignedQuery(method: method.rawValue, path: path, host: host, expires: seconds, date: date)
        return "\(scheme)://\(host)\(path)?\(query)"
    }

    /// Sends `call` with buffered bodies; returns the 2xx answer or throws its `S3Error`.
    func send(_ call: Call) async throws -> HTTPResponse {
        try await perform(call) { try await self.http.execute($0) }
    }

    /// Sends `call`, retrying transient failures with exponential backoff and jitter.
    /// `transport` runs one attempt; for non-2xx answers its `body` must hold the error
    /// document.
    func perform(_ call: Call, _ transport: (HTTPRequest) async throws -> HTTPResponse) async throws -> HTTPResponse {
        var attempt = 1
        while true {
            try Task.checkCancellation()
            let failure: any Error
            do {
                let response = try await transport(makeRequest(call))
                if (200..<300).contains(response.status) { return response }
                let error = S3Error.from(status: response.status, body: response.body, operation: call.operation, bucket: call.bucket, key: call.key)
                guard error.isRetryable else { throw error }
                failure = error
            } catch let error as HTTPError where error.isTransient {
                failure = error
            }
            guard attempt < configuration.maxAttempts else { throw failure }
            try await Task.sleep(for: backoff(attempt: attempt))
            attempt += 1
        }
    }

    func backoff(attempt: Int) -> Duration {
        let base = configuration.retryBaseDelay * (1 << min(attempt - 1, 16))
        let capped = min(base, configuration.maxRetryDelay)
        // Full jitter between half and all of the delay, so parallel retries spread out.
        return capped * Double.random(in: 0.5...1.0)
    }
}
