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
    private let bound = BoundPort()

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
        get async throws { try await bound.wait() }
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
            bound.fail(error)
            throw error
        }
        let actualPort = server.channel.localAddress?.port ?? port
        bound.set(actualPort)
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

/// The port `run()` bound, for callers waiting on it from other tasks.
private final class BoundPort: Sendable {
    private struct State {
        var result: Result<Int, any Error>?
        var waiters: [UInt64: CheckedContinuation<Int, any Error>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    func set(_ port: Int) { finish(.success(port)) }
    func fail(_ error: any Error) { finish(.failure(error)) }

    private func finish(_ result: Result<Int, any Error>) {
        let waiters = state.withLock { s in
            s.result = result
            defer { s.waiters = [:] }
            return s.waiters.values
        }
        for w in waiters { w.resume(with: result) }
    }

    func wait() async throws -> Int {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
                let ready: Result<Int, any Error>? = state.withLock { s in
                    if let result = s.result { return result }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.waiters[id] = c
                    return nil
                }
                if let ready { c.resume(with: ready) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }
}
