import Foundation
import HTTP
import KubeTesting
import Testing

/// The HTTP layer against the real kube-apiserver (TLS, tokens, client certificates,
/// watches) and SeaweedFS's filer (plain HTTP bulk bodies).
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct HTTPClientTests {
    let env: TestEnvironment
    let client: HTTPClient

    init() throws {
        env = try TestEnvironment.shared()
        var config = HTTPClientConfiguration()
        config.tls.trustRoots = .file(env.caFile)
        client = HTTPClient(configuration: config)
    }

    func get(_ path: String, token: String? = nil, timeout: Duration? = nil) -> HTTPRequest {
        var request = HTTPRequest(url: env.apiServer + path, timeout: timeout)
        request.headers["Authorization"] = "Bearer \(token ?? env.adminToken)"
        return request
    }

    @Test func versionAndNamespacesWithVerifiedTLSAndBearerToken() async throws {
        let version = try await client.execute(get("/version"))
        #expect(version.status == 200)
        let info = try JSONSerialization.jsonObject(with: version.body) as? [String: Any]
        #expect(info?["gitVersion"] as? String == "v1.20.2")

        let namespaces = try await client.execute(get("/api/v1/namespaces"))
        #expect(namespaces.status == 200)
        let list = try JSONSerialization.jsonObject(with: namespaces.body) as? [String: Any]
        let names = (list?["items"] as? [[String: Any]])?.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(names?.contains("default") == true)
        #expect(names?.contains("kube-system") == true)
    }

    @Test func wrongTokenIsUnauthorized() async throws {
        let response = try await client.execute(get("/api/v1/namespaces", token: "not-a-token"))
        #expect(response.status == 401)
    }

    @Test func unprivilegedUserIsForbidden() async throws {
        let response = try await client.execute(get("/api/v1/namespaces", token: env.unprivilegedToken))
        #expect(response.status == 403)
    }

    @Test func serverCertificateIsVerified() async throws {
        // The system trust store does not know the test apiserver's self-signed CA.
        let untrusting = HTTPClient()
        await #expect { try await untrusting.execute(get("/version")) } throws: { error in
            (error as? HTTPError)?.code == .tls
        }
        // Only an explicit setting skips verification.
        var insecure = HTTPClientConfiguration()
        insecure.tls.insecureSkipVerify = true
        #expect(try await HTTPClient(configuration: insecure).execute(get("/version")).status == 200)
    }

    @Test func caAndClientCertificateAsFilesOrPEMData() async throws {
        func pem(_ path: String) throws -> TLSConfiguration.Source { .pem(try Data(contentsOf: URL(fileURLWithPath: path))) }
        for tls in [
            TLSConfiguration(trustRoots: .file(env.caFile), clientCertificate: .file(env.clientCertificate), clientKey: .file(env.clientKey)),
            TLSConfiguration(trustRoots: try pem(env.caFile), clientCertificate: try pem(env.clientCertificate), clientKey: try pem(env.clientKey)),
        ] {
            var config = HTTPClientConfiguration()
            config.tls = tls
            let response = try await HTTPClient(configuration: config).execute(HTTPRequest(url: env.apiServer + "/api/v1/namespaces"))
            #expect(response.status == 200, "client certificate of system:masters should list namespaces")
        }
    }

    @Test func connectionsAreReused() async throws {
        let first = try await client.execute(get("/version"))
        let second = try await client.execute(get("/version"))
        #expect(first.newConnections + second.newConnections == 1)
        #expect(second.newConnections == 0)
    }

    @Test func requestBodiesFromMemoryAndFromFiles() async throws {
        let ns = "http-bodies-\(UInt32.random(in: 0...UInt32.max))"
        var create = HTTPRequest(method: .post, url: env.apiServer + "/api/v1/namespaces",
                                 headers: ["Content-Type": "application/json", "Authorization": "Bearer \(env.adminToken)"],
                                 body: .data(Data(#"{"metadata":{"name":"\#(ns)"}}"#.utf8)))
        #expect(try await client.execute(create).status == 201)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cm-\(ns).json").path
        let json = #"{"metadata":{"name":"from-file"},"data":{"k":"v"}}"#
        try ("GARBAGE" + json + "TRAILER").write(toFile: path, atomically: true, encoding: .utf8)
        let fd = open(path, O_RDONLY)
        defer { close(fd); unlink(path) }
        create.url = env.apiServer + "/api/v1/namespaces/\(ns)/configmaps"
        create.body = .file(descriptor: fd, offset: 7, length: Int64(json.utf8.count))
        #expect(try await client.execute(create).status == 201)

        let read = try await client.execute(get("/api/v1/namespaces/\(ns)/configmaps/from-file"))
        #expect(String(decoding: read.body, as: UTF8.self).contains(#""k":"v""#))
        var delete = get("/api/v1/namespaces/\(ns)")
        delete.method = .delete
        #expect(try await client.execute(delete).status == 200)
    }

    @Test func watchDeliversEachEventAsItHappens() async throws {
        let ns = "http-watch-\(UInt32.random(in: 0...UInt32.max))"
        let auth = "Bearer \(env.adminToken)"
        let post = HTTPRequest(method: .post, url: env.apiServer + "/api/v1/namespaces",
                               headers: ["Content-Type": "application/json", "Authorization": auth],
                               body: .data(Data(#"{"metadata":{"name":"\#(ns)"}}"#.utf8)))
        #expect(try await client.execute(post).status == 201)

        let (head, body) = try await client.stream(get("/api/v1/namespaces/\(ns)/configmaps?watch=1&timeoutSeconds=60&labelSelector=test%3Dwatch"))
        #expect(head.status == 200)
        var lines = body.lines.makeAsyncIterator()
        for i in 0..<3 {
            // Each event must arrive while the watch stays open: the next object is only
            // created after the previous event was read.
            var create = post
            create.url = env.apiServer + "/api/v1/namespaces/\(ns)/configmaps"
            create.body = .data(Data(#"{"metadata":{"name":"cm-\#(i)","labels":{"test":"watch"}}}"#.utf8))
            #expect(try await client.execute(create).status == 201)
            let line = try #require(try await lines.next())
            let event = try JSONSerialization.jsonObject(with: line) as? [String: Any]
            #expect(event?["type"] as? String == "ADDED")
            #expect(((event?["object"] as? [String: Any])?["metadata"] as? [String: Any])?["name"] as? String == "cm-\(i)")
        }
    }

    @Test func cancellingTheTaskAbortsAWatch() async throws {
        let task = Task {
            let (_, body) = try await client.stream(get("/api/v1/namespaces?watch=1&timeoutSeconds=300"))
            for try await _ in body {}
            return "ended"
        }
        try await Task.sleep(for: .milliseconds(500))
        let cancelled = ContinuousClock.now
        task.cancel()
        let result = await task.result
        // Without cancellation the watch would run for 300 s; the bound leaves room for a
        // loaded machine.
        let elapsed = ContinuousClock.now - cancelled
        #expect(elapsed < .seconds(30), "cancellation took \(elapsed)")
        if case .success(let value) = result { Issue.record("watch ended normally: \(value)") }
    }

    @Test func totalTimeoutEndsAHangingRequest() async throws {
        let started = ContinuousClock.now
        // The watch would stay open for the server's default of 30+ minutes.
        await #expect { try await client.execute(get("/api/v1/namespaces?watch=1", timeout: .seconds(1))) } throws: { error in
            (error as? HTTPError)?.code == .timedOut
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func connectionRefusedIsATransientError() async throws {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        close(socket) // nothing listens there now
        await #expect { try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/")) } throws: { error in
            guard let e = error as? HTTPError else { return false }
            return e.code == .connectFailed && e.isTransient
        }
    }

    @Test func bulkBodiesStreamWithBackPressureAndDownloadToFiles() async throws {
        // 16 MiB through a 64 KiB stream buffer: the transfer pauses and resumes hundreds of
        // times, and every byte must arrive in order.
        var rng = SystemRandomNumberGenerator()
        let words = (0..<(2 << 20)).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
        let payload = words.withUnsafeBytes { Data($0) }
        let url = env.filer + "/http-tests/blob-\(UInt32.random(in: 0...UInt32.max))"
        let put = try await HTTPClient().execute(HTTPRequest(method: .put, url: url, body: .data(payload), timeout: .seconds(60)))
        #expect((200..<300).contains(put.status))

        var config = HTTPClientConfiguration()
        config.streamBufferLimit = 64 << 10
        let slow = HTTPClient(configuration: config)
        let (head, body) = try await slow.stream(HTTPRequest(url: url))
        #expect(head.status == 200)
        var received = Data()
        var chunks = 0
        for try await chunk in body {
            received.append(chunk)
            chunks += 1
            if chunks % 64 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(received == payload)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dl-\(UUID())").path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd); unlink(path) }
        let download = try await slow.download(HTTPRequest(url: url), to: fd, offset: 100)
        #expect(download.status == 200)
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(onDisk.count == payload.count + 100)
        #expect(onDisk.suffix(from: 100) == payload)
    }

    @Test func malformedRequestsAreRejectedBeforeSending() async throws {
        await #expect(throws: HTTPError.self) {
            try await client.execute(HTTPRequest(url: env.apiServer, headers: ["X-Bad": "a\r\nInjected: yes"]))
        }
        await #expect(throws: HTTPError.self) {
            try await client.execute(HTTPRequest(method: .get, url: env.apiServer, body: .data(Data("x".utf8))))
        }
    }
}
