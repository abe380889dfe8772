import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The admission webhook's HTTPS endpoint: AdmissionReview v1 at `/mutate-pods`,
/// `/validate-pods` and `/validate-volumes`, plus `/healthz` and `/readyz` (see
/// `AdmissionHandler` for the routes and answers).
///
/// TLS comes from PEM files, re-read when they change (`CertificateReloader`): no restart on
/// rotation. Bodies over `maxBodyBytes` get 413 and the connection is closed.
///
/// A `Service`: `run()` serves until the task is cancelled or the service group shuts down
/// gracefully; then it stops accepting, gives open connections `shutdownGrace` to finish
/// the request in flight, and closes them. Not behind leader election: every replica serves.
public struct WebhookServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var certificatePath: String
        public var keyPath: String
        /// Kubernetes caps admission objects well below this; larger bodies are refused.
        public var maxBodyBytes: Int
        public var shutdownGrace: Duration

        public init(certificatePath: String, keyPath: String, host: String = "0.0.0.0", port: Int = 8443,
                    maxBodyBytes: Int = 3 * 1024 * 1024, shutdownGrace: Duration = .seconds(2)) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.shutdownGrace = shutdownGrace
        }
    }

    public let configuration: Configuration
    public let handler: AdmissionHandler
    let certificates: CertificateReloader
    let logger: Logger
    private let bound = PortPromise()

    /// Loads the certificate at once, so a bad one fails startup rather than the first request.
    public init(configuration: Configuration, handler: AdmissionHandler, logger: Logger) throws(WebhookError) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        certificates = try CertificateReloader(certificatePath: configuration.certificatePath,
                                               keyPath: configuration.keyPath, logger: logger)
    }

    /// The port the server listens on once `run()` has bound it (useful with port 0).
    public var boundPort: Int {
        get async throws { try await bound.wait() }
    }

    /// How often a changed certificate pair was loaded.
    public var certificateReloads: Int { certificates.reloads }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let certificates = self.certificates
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = NIOSSLServerHandler(context: certificates.context())
                        try channel.pipeline.syncOperations.addHandler(tls)
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let failure = WebhookError(.bind, "cannot listen on \(configuration.host):\(configuration.port): \(error)")
            bound.fail(failure)
            throw failure
        }
        let port = server.channel.localAddress?.port ?? configuration.port
        bound.set(port)
        logger.info("webhook listening", metadata: ["webhook.host": "\(configuration.host)", "webhook.port": "\(port)"])

        let grace = configuration.shutdownGrace
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    } catch {
                        // The accept loop ends when the listening socket closes or on cancellation.
                    }
                    // No longer accepting: requests in flight get the grace period, then
                    // every connection (idle keep-alives included) is closed.
                    try? await Task.sleep(for: grace)
                    group.cancelAll()
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        logger.info("webhook stopped", metadata: ["webhook.port": "\(port)"])
    }

    private func serve(_ connection: Connection) async {
        let limit = configuration.maxBodyBytes
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        body.clear()
                        tooLarge = h.headers.first(name: "content-length").flatMap(Int.init).map { $0 > limit } ?? false
                    case .body(var chunk):
                        guard !tooLarge else { continue }
                        if body.readableBytes + chunk.readableBytes > limit {
                            tooLarge = true
                            body.clear()
                        } else {
                            body.writeBuffer(&chunk)
                        }
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let reply = tooLarge
                            ? WebhookReply.text(413, "request body exceeds \(limit) bytes")
                            : handler.handle(method: request.method.rawValue, uri: request.uri,
                                             body: Data(body.readableBytesView))
                        let keepAlive = request.isKeepAlive && !tooLarge
                        try await write(reply, version: request.version, keepAlive: keepAlive, to: outbound)
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("webhook connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func write(_ reply: WebhookReply, version: HTTPVersion, keepAlive: Bool,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: String(reply.body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        try await outbound.write(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: reply.body))))
        try await outbound.write(.end(nil))
    }
}

/// The bound port, for callers waiting on it from other tasks.
final class PortPromise: Sendable {
    private struct State {
        var result: Result<Int, WebhookError>?
        var waiters: [CheckedContinuation<Int, any Error>] = []
    }

    private let state = Mutex(State())

    func set(_ port: Int) { finish(.success(port)) }
    func fail(_ error: WebhookError) { finish(.failure(error)) }

    private func finish(_ result: Result<Int, WebhookError>) {
        let waiters = state.withLock { s in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
            let ready = state.withLock { s -> Result<Int, WebhookError>? in
                if let result = s.result { return result }
                s.waiters.append(c)
                return nil
            }
            if let ready { c.resume(with: ready.mapError { $0 as any Error }) }
        }
    }
}
