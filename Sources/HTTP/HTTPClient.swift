import Foundation
import Synchronization

/// An HTTP/1.1 and HTTP/2 client on libcurl, for the Kubernetes API and S3.
///
/// Requests are async; their transfers run on the client's own threads (never on Swift's
/// cooperative pool), and connections are pooled and reused. Cancelling the calling task
/// aborts the transfer. Create one client per server identity and keep it: a client's
/// connection pool is its value.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let loops: [CurlLoop]

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.configuration = configuration
        loops = (0..<max(1, configuration.transferThreads)).map {
            CurlLoop(name: "stowage-http-\($0)", maxConnectionsPerHost: configuration.maxConnectionsPerHost)
        }
    }

    deinit {
        for loop in loops { loop.submit(.shutdown) }
    }

    /// libcurl's version and features, for diagnostics.
    public static var libraryVersion: String { CurlGlobal.version }

    /// Sends `request` and returns the whole response; HTTP error statuses are responses,
    /// not thrown errors.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transfer = try Transfer(request, configuration: configuration, streaming: false)
        return try await run(transfer) { .collect($0) }
    }

    /// Sends `request` and writes the response body to `descriptor` starting at `offset`
    /// (written on the transfer thread, so bulk downloads never cross into Swift tasks).
    /// The returned response has an empty `body`. On a non-2xx status the error body is
    /// written the same way; check `status` before trusting the file.
    public func download(_ request: HTTPRequest, to descriptor: Int32, offset: Int64 = 0) async throws -> HTTPResponse {
        let transfer = try Transfer(request, configuration: configuration, streaming: false)
        return try await run(transfer) { .file(descriptor: descriptor, offset: offset, $0) }
    }

    /// Sends `request` and writes the response body to `descriptor` where `place` says, which
    /// is called once, on the transfer thread, with the final response's head (after any
    /// redirects) before a byte of the body is written: a resumed download answered `206`
    /// appends, one answered `200` starts over, an error page is dropped. `received` is told
    /// of the body's bytes as they are written. The returned response has an empty `body`.
    public func download(_ request: HTTPRequest, to descriptor: Int32, placing place: @escaping @Sendable (HTTPResponseHead) -> HTTPBodyPlacement,
                         received: (@Sendable (Int) -> Void)? = nil) async throws -> HTTPResponse {
        let transfer = try Transfer(request, configuration: configuration, streaming: false)
        return try await run(transfer) { .placedFile(descriptor: descriptor, place: place, received: received, $0) }
    }

    /// Sends `request` and returns as soon as the response head is in; the body arrives
    /// through the returned stream as the server sends it (a watch stays open for minutes).
    public func stream(_ request: HTTPRequest) async throws -> (head: HTTPResponseHead, body: HTTPBody) {
        let transfer = try Transfer(request, configuration: configuration, streaming: true)
        let loop = pickLoop()
        let flow = FlowControl(limit: configuration.streamBufferLimit) { [loop] in loop.submit(.resume(transfer)) }
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        continuation.onTermination = { [loop] reason in
            if case .cancelled = reason {
                transfer.requestCancel()
                loop.submit(.cancel(transfer))
            }
        }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (headContinuation: CheckedContinuation<HTTPResponseHead, any Error>) in
                transfer.delivery = .stream(head: headContinuation, body: continuation, flow: flow)
                loop.submit(.add(transfer))
            }
        } onCancel: {
            transfer.requestCancel()
            loop.submit(.cancel(transfer))
        }
        return (head, HTTPBody(stream: stream, flow: flow))
    }

    private func run(_ transfer: Transfer, _ delivery: @escaping (CheckedContinuation<HTTPResponse, any Error>) -> Transfer.Delivery) async throws -> HTTPResponse {
        let loop = pickLoop()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.delivery = delivery(continuation)
                loop.submit(.add(transfer))
            }
        } onCancel: {
            transfer.requestCancel()
            loop.submit(.cancel(transfer))
        }
    }

    private func pickLoop() -> CurlLoop {
        loops.count == 1 ? loops[0] : loops.min { $0.activeCount < $1.activeCount }!
    }
}
