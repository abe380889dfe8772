import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The operator's probe and scrape endpoint: `GET /healthz` (liveness: 200 while the process
/// serves), `GET /readyz` (200 or 503 from a readiness check, e.g. caches synced) and
/// `GET /metrics` (the registry in Prometheus text format 0.0.4); anything else is 404.
///
/// A `Service`: `run()` serves until the service group shuts down gracefully or the task is
/// cancelled, then closes the listening socket and every open connection. With port 0 the
/// system picks a free port; `boundPort` tells which.
public struct HealthServer: Service {
    public let host: String
    public let port: Int
    let registry: MetricsRegistry
    let isReady: @Sendable () -> Bool
    let logger: Logger
    private let bound = Latch<Result<Int, any Error>?>(nil)

    public init(host: String = "0.0.0.0", port: Int = 8080, registry: MetricsRegistry,
                isReady: @escaping @Sendable () -> Bool = { true }, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.logger = logger
    }

    /// The port the server listens on, once `run()` has bound it; throws the bind error if
    /// binding failed.
    public var boundPort: Int {
        get async throws { try await bound.result() }
    }

    public func run() async throws {
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            bound.resolve(.failure(error))
            throw error
        }
        let actualPort = server.channel.localAddress?.port ?? port
        bound.resolve(.success(actualPort))
        logger.info("health server listening", metadata: ["health.host": "\(host)", "health.port": "\(actualPort)"])

        // Cancelling the task group ends the accept loop and every connection's read loop;
        // `executeThenClose` then closes their channels.
        try await cancelWhenGracefulShutdown {
            try await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    } catch {
                        // Accepting ends with cancellation or a closed socket; either way we are done.
                    }
                }
            }
        }
        logger.info("health server stopped", metadata: ["health.port": "\(actualPort)"])
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                    case .body:
                        continue
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let reply = respond(to: request)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: reply.contentType)
                        headers.add(name: "Content-Length", value: "\(reply.body.utf8.count)")
                        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: reply.status, headers: headers)))
                        if request.method != .HEAD {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: reply.body))))
                        }
                        try await outbound.write(.end(nil))
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("health connection ended", metadata: ["error": "\(error)"])
        }
    }

    struct Reply {
        var status: HTTPResponseStatus
        var contentType = "text/plain; charset=utf-8"
        var body: String
    }

    func respond(to request: HTTPRequestHead) -> Reply {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let known = ["/healthz", "/readyz", "/metrics"]
        guard known.contains(path) else { return Reply(status: .notFound, body: "not found\n") }
        guard request.method == .GET || request.method == .HEAD else {
            return Reply(status: .methodNotAllowed, body: "method not allowed\n")
        }
        switch path {
        case "/healthz":
            return Reply(status: .ok, body: "ok\n")
        case "/readyz":
            return isReady() ? Reply(status: .ok, body: "ok\n") : Reply(status: .serviceUnavailable, body: "not ready\n")
        default:
            return Reply(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.render())
        }
    }
}
