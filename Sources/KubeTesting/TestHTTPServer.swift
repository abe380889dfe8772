import Foundation
import Synchronization

/// A small HTTP/1.1 file server for tests of HTTP sources, on POSIX sockets and threads:
/// files in memory with strong ETags and Last-Modified dates, conditional requests
/// (`If-None-Match`, `If-Modified-Since`), ranges (`Range`, `If-Range`, `206`, `416`),
/// redirects, and faults a test arms (a connection dropped after so many body bytes).
/// Every request is logged, so a test can see what a client sent.
///
/// It listens on `host` (loopback by default; a test whose pods must reach it passes the
/// test environment's bridge gateway) on a free port, and stops with `stop()`.
public final class TestHTTPServer: Sendable {
    /// A request as it arrived: header names lowercased.
    public struct Request: Sendable, Hashable {
        public var method: String
        public var path: String
        public var headers: [String: String]
    }

    struct File: Sendable {
        var data: Data
        var etag: String
        var lastModified: Date
    }

    private struct State: Sendable {
        var files: [String: File] = [:]
        var redirects: [String: String] = [:]
        /// Path: how many body bytes the next full or ranged answer sends before it closes.
        var drops: [String: Int] = [:]
        /// Path: how many body bytes the next answer sends before it waits for `release()`.
        var holds: [String: Int] = [:]
        var requests: [Request] = []
        var connections: Set<Int32> = []
        var stopped = false
        var generation = 0
    }

    public let host: String
    public let port: Int
    private let listener: Int32
    private let state = Mutex(State())
    private let released = DispatchSemaphore(value: 0)

    public init(host: String = "127.0.0.1") throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestEnvironmentError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw TestEnvironmentError("\(host) is not an IPv4 address")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TestEnvironmentError("cannot listen on \(host): \(reason)")
        }
        self.host = host
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// `http://HOST:PORT`.
    public var baseURL: String { "http://\(host):\(port)" }

    public func url(_ path: String) -> String { baseURL + path }

    /// Serves `data` at `path` (a new ETag and Last-Modified each time it changes).
    public func set(_ path: String, _ data: Data, lastModified: Date? = nil) {
        state.withLock { s in
            s.generation += 1
            let modified = lastModified ?? Date(timeIntervalSince1970: 1_700_000_000 + Double(s.generation) * 60)
            s.files[path] = File(data: data, etag: "\"\(s.generation)-\(data.count)\"", lastModified: modified)
        }
    }

    public func remove(_ path: String) { state.withLock { _ = $0.files.removeValue(forKey: path) } }

    /// Answers `from` with `302 Found` to `to` (a path or a URL).
    public func redirect(_ from: String, to: String) { state.withLock { $0.redirects[from] = to } }

    /// The next answer with a body for `path` sends `bytes` of it and closes the connection.
    public func dropNext(_ path: String, after bytes: Int) { state.withLock { $0.drops[path] = bytes } }

    /// The next answer with a body for `path` sends `bytes` of it, then waits until
    /// `release()` (or `stop()`) and closes the connection: a client stays mid-download for
    /// as long as a test needs, to be killed there.
    public func holdNext(_ path: String, after bytes: Int) { state.withLock { $0.holds[path] = bytes } }

    /// Ends the answer `holdNext` holds.
    public func release() { released.signal() }

    public var requests: [Request] { state.withLock { $0.requests } }

    public func requests(for path: String) -> [Request] { requests.filter { $0.path == path } }

    /// The ETag `path` is served with.
    public func etag(_ path: String) -> String? { state.withLock { $0.files[path]?.etag } }

    /// Stops accepting and ends every open connection. A descriptor is closed only by the
    /// thread that uses it, and a connection's under the lock: tests run in parallel in one
    /// process, so a number closed here could already be another test's socket (its listener
    /// or a connection) by the time a thread still holding the old number used it.
    public func stop() {
        let first = state.withLock { s in
            guard !s.stopped else { return false }
            s.stopped = true
            for fd in s.connections { shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        released.signal()
        // Wakes the accept loop (accept fails with EINVAL), which closes the listener.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    // MARK: connections (their own threads)

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            // Not inherited by the processes tests start (a child holding it keeps it open).
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let open = state.withLock { s in
                if !s.stopped { s.connections.insert(fd) }
                return !s.stopped
            }
            guard open else {
                close(fd)
                return
            }
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { s in
                s.connections.remove(fd)
                close(fd)
            }
        }
        var buffer = Data()
        while true {
            // One request head; bodies are not expected (GET and HEAD).
            while buffer.range(of: Data("\r\n\r\n".utf8)) == nil {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let end = buffer.range(of: Data("\r\n\r\n".utf8))!
            let head = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
            buffer = Data(buffer[end.upperBound...])
            let lines = head.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2 else { return }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let request = Request(method: String(parts[0]), path: String(parts[1]), headers: headers)
            state.withLock { $0.requests.append(request) }
            guard respond(to: request, on: fd) else { return }
        }
    }

    /// Writes the answer; false when the connection must close (a dropped body).
    private func respond(to request: Request, on fd: Int32) -> Bool {
        let (file, redirect) = state.withLock { ($0.files[request.path], $0.redirects[request.path]) }
        if let redirect {
            return send(fd, status: "302 Found", headers: ["Location": redirect], body: Data(), head: request.method == "HEAD")
        }
        guard let file else {
            return send(fd, status: "404 Not Found", headers: [:], body: Data("no such file\n".utf8), head: request.method == "HEAD")
        }
        let lastModified = Self.httpDate(file.lastModified)
        var headers = ["ETag": file.etag, "Last-Modified": lastModified, "Accept-Ranges": "bytes"]
        // RFC 9110 13.2.2: If-None-Match, else If-Modified-Since; then Range with If-Range.
        if let tags = request.headers["if-none-match"] {
            if tags.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).contains(where: { $0 == file.etag || $0 == "*" }) {
                return send(fd, status: "304 Not Modified", headers: headers, body: Data(), head: true)
            }
        } else if let since = request.headers["if-modified-since"], let date = Self.parseHTTPDate(since),
                  Int(file.lastModified.timeIntervalSince1970) <= Int(date.timeIntervalSince1970) {
            return send(fd, status: "304 Not Modified", headers: headers, body: Data(), head: true)
        }
        var status = "200 OK"
        var body = file.data
        if let range = request.headers["range"], range.hasPrefix("bytes="),
           request.headers["if-range"].map({ $0 == file.etag || $0 == lastModified }) ?? true {
            let spec = range.dropFirst(6)
            let bounds = spec.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 2, let start = Int(bounds[0]) {
                let last = Int(bounds[1]) ?? (file.data.count - 1)
                guard start < file.data.count else {
                    headers["Content-Range"] = "bytes */\(file.data.count)"
                    return send(fd, status: "416 Range Not Satisfiable", headers: headers, body: Data(), head: request.method == "HEAD")
                }
                let end = min(last, file.data.count - 1)
                status = "206 Partial Content"
                headers["Content-Range"] = "bytes \(start)-\(end)/\(file.data.count)"
                body = file.data.subdata(in: start..<(end + 1))
            }
        }
        let (cut, hold) = request.method == "HEAD" ? (nil, nil)
            : state.withLock { ($0.drops.removeValue(forKey: request.path), $0.holds.removeValue(forKey: request.path)) }
        if let hold {
            _ = send(fd, status: status, headers: headers, body: body.prefix(hold), head: false, length: body.count)
            released.wait()
            return false
        }
        if let cut {
            _ = send(fd, status: status, headers: headers, body: body.prefix(cut), head: false, length: body.count)
            return false
        }
        return send(fd, status: status, headers: headers, body: body, head: request.method == "HEAD")
    }

    /// Sends a head with `Content-Length: length ?? body.count`, then the body unless `head`.
    private func send(_ fd: Int32, status: String, headers: [String: String], body: Data, head: Bool, length: Int? = nil) -> Bool {
        var text = "HTTP/1.1 \(status)\r\n"
        var headers = headers
        if !status.hasPrefix("304") { headers["Content-Length"] = String(length ?? body.count) }
        headers["Date"] = Self.httpDate(Date())
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var bytes = Data(text.utf8)
        if !head { bytes.append(body) }
        return write(fd, bytes)
    }

    private func write(_ fd: Int32, _ bytes: Data) -> Bool {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a client that went away is EPIPE here, not a SIGPIPE that kills the tests.
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    static func httpDate(_ date: Date) -> String { formatter().string(from: date) }
    static func parseHTTPDate(_ text: String) -> Date? { formatter().date(from: text) }

    private static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }
}

extension TestEnvironment {
    /// The gateway address of the environment's CNI bridge, where its pods reach this
    /// machine: a server that sync pods must reach listens there (`scripts/testenv up` writes
    /// it to `DIR/gateway`).
    public var gateway: String? {
        (try? String(contentsOfFile: directory + "/gateway", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
