import Foundation
import KubeRuntime
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
/// Requests are answered on the connection's event loop, as they arrive: a decision is a
/// pure function of memory that takes microseconds, so handing each request to a task and
/// its answer back to the loop (two thread hops and their wake-ups) would cost more than
/// the decision itself.
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
    private let bound = Latch<Result<Int, any Error>?>(nil)

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
        get async throws { try await bound.result() }
    }

    /// How often a changed certificate pair was loaded.
    public var certificateReloads: Int { certificates.reloads }

    public func run() async throws {
        let certificates = self.certificates
        let handler = self.handler
        let limit = configuration.maxBodyBytes
        let logger = self.logger
        let server: NIOAsyncChannel<any Channel, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = NIOSSLServerHandler(context: certificates.context())
                        try channel.pipeline.syncOperations.addHandler(tls)
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            AdmissionChannelHandler(handler: handler, maxBodyBytes: limit, logger: logger))
                        return channel as any Channel
                    }
                }
        } catch {
            let failure = WebhookError(.bind, "cannot listen on \(configuration.host):\(configuration.port): \(error)")
            bound.resolve(.failure(failure))
            throw failure
        }
        let port = server.channel.localAddress?.port ?? configuration.port
        bound.resolve(.success(port))
        logger.info("webhook listening", metadata: ["webhook.host": "\(configuration.host)", "webhook.port": "\(port)"])

        let open = OpenConnections()
        let grace = configuration.shutdownGrace
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                do {
                    for try await connection in connections { open.insert(connection) }
                } catch {
                    // The accept loop ends when the listening socket closes or on cancellation.
                }
                // No longer accepting: requests in flight get the grace period, then every
                // connection (idle keep-alives included) is closed.
                await open.closeAll(after: grace)
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        logger.info("webhook stopped", metadata: ["webhook.port": "\(port)"])
    }
}

/// One connection's HTTP requests, answered on its event loop: the body is gathered up to
/// the limit, `AdmissionHandler` decides, and the answer is written and flushed at once.
final class AdmissionChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: AdmissionHandler
    private let limit: Int
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false

    init(handler: AdmissionHandler, maxBodyBytes: Int, logger: Logger) {
        self.handler = handler
        limit = maxBodyBytes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            tooLarge = h.headers.first(name: "content-length").flatMap(Int.init).map { $0 > limit } ?? false
        case .body(var chunk):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > limit {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let request = head else { return }
            head = nil
            let reply = tooLarge
                ? WebhookReply.text(413, "request body exceeds \(limit) bytes")
                : handler.handle(method: request.method.rawValue, uri: request.uri,
                                 body: body.map { Data($0.readableBytesView) } ?? Data())
            body = nil
            let keepAlive = request.isKeepAlive && !tooLarge
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: reply.contentType)
            headers.add(name: "Content-Length", value: String(reply.body.count))
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: reply.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
                          promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
            if keepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("webhook connection ended", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// The connections a server has accepted and not yet seen closed, to close at shutdown.
final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        // Fires at once for a channel already closed.
        channel.closeFuture.whenComplete { [self] _ in channels.withLock { _ = $0.removeValue(forKey: id) } }
    }

    var count: Int { channels.withLock { $0.count } }

    /// Waits until every connection has closed or `grace` has passed (at once when the
    /// task is cancelled), then closes those still open and waits for them to close.
    func closeAll(after grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        while count > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
        }
        let remaining = channels.withLock { Array($0.values) }
        for channel in remaining { channel.close(promise: nil) }
        for channel in remaining { try? await channel.closeFuture.get() }
    }
}
