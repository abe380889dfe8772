import Foundation
import KubeTesting
import ObjectStore
import Testing

/// `stowage sync pull DIR --mode RO --http URL#checksum=...` as sync pods run it, against a
/// server on loopback: exit codes, the one-line error, and the summary the operator reads.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct HTTPPullCommandTests {
    let server: TestHTTPServer
    let scratch: String
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stowage").path

    init() throws {
        server = try TestHTTPServer()
        scratch = try scratchDirectory("httpcli")
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        #expect(FileManager.default.isExecutableFile(atPath: binary), "stowage binary at \(binary)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func summary(_ path: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func aPullIsVerifiedAndAChangedInputReachesTheSummary() async throws {
        defer { server.stop() }
        let before = Data("x".utf8), after = Data("x,y".utf8)
        server.set("/ds/train.csv", before)
        let dir = scratch + "/vol", record = scratch + "/summary.json"
        let pinned = "\(server.url("/ds/train.csv"))#checksum=sha256:\(ContentDigest.of(before).sha256)&path=data%2Ftrain.csv"
        let first = try run(["sync", "pull", dir, "--mode", "RO", "--http", pinned, "--summary-file", record, "--sequence", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/data/train.csv") == before)
        #expect(try summary(record)["result"] as? String == "Succeeded")
        #expect(try summary(record)["files"] as? Int == 1)
        #expect(try summary(record)["changedInputs"] == nil)

        // The server's file changes; unpinned, it is pulled and flagged.
        server.set("/ds/train.csv", after)
        let unpinned = "\(server.url("/ds/train.csv"))#path=data/train.csv"
        let second = try run(["sync", "pull", dir, "--mode", "RO", "--http", unpinned, "--summary-file", record])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("inputs changed since the last sync: 0 added, 1 modified, 0 removed"), "\(second.stderr)")
        let changed = try #require(try summary(record)["changedInputs"] as? [[String: String]])
        #expect(changed == [["path": "data/train.csv", "previousSHA256": ContentDigest.of(before).sha256, "sha256": ContentDigest.of(after).sha256]])
    }

    @Test func aWrongChecksumExitsTwoWithBothDigestsOnOneLine() async throws {
        defer { server.stop() }
        let data = Data("payload".utf8)
        server.set("/p.bin", data)
        let dir = scratch + "/vol", record = scratch + "/summary.json"
        let wrong = String(repeating: "0", count: 64)
        let result = try run(["sync", "pull", dir, "--mode", "RO", "--http", server.url("/p.bin") + "#checksum=sha256:\(wrong)", "--summary-file", record])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("sha256:\(ContentDigest.of(data).sha256)") && result.stderr.contains("sha256:\(wrong)"), "\(result.stderr)")
        #expect(try summary(record)["result"] as? String == "Failed")
        #expect((try summary(record)["message"] as? String)?.contains("sha256:\(wrong)") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "/p.bin"))
    }

    /// A sync pod killed mid-download (SIGKILL: no chance to clean up) leaves its bytes
    /// staged; the next pod's pull asks for the rest and completes the file.
    @Test func aKilledPullIsResumedByTheNextOne() async throws {
        defer { server.stop() }
        var words = (0..<(4 << 20) / 8).map { _ in UInt64.random(in: .min ... .max) }
        let blob = words.withUnsafeMutableBytes { Data($0) }
        server.set("/big.bin", blob)
        // The server sends a quarter of the file, then holds the connection open.
        server.holdNext("/big.bin", after: blob.count / 4)
        let dir = scratch + "/vol"
        let value = server.url("/big.bin") + "#checksum=sha256:\(ContentDigest.of(blob).sha256)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["sync", "pull", dir, "--mode", "RO", "--http", value]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let staged = dir + "/.stowage/partial"
        func stagedBytes() -> Int {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: staged)) ?? []
            return names.filter { !$0.hasSuffix(".json") }.reduce(0) { total, name in
                var st = stat()
                return total + (stat(staged + "/" + name, &st) == 0 ? Int(st.st_size) : 0)
            }
        }
        // Killed mid-download, once the quarter is staged.
        let deadline = ContinuousClock.now + .seconds(120)
        while stagedBytes() < blob.count / 4 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        server.release()
        #expect(stagedBytes() == blob.count / 4, "requests: \(server.requests)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/big.bin"))

        let next = try run(["sync", "pull", dir, "--mode", "RO", "--http", value])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/big.bin") == blob)
        let range = try #require(server.requests(for: "/big.bin").last?.headers["range"])
        #expect(range == "bytes=\(blob.count / 4)-")
        #expect(server.requests(for: "/big.bin").last?.headers["if-range"] == server.etag("/big.bin"))
    }

    @Test func commandLinesThatCannotWorkAreRefused() throws {
        defer { server.stop() }
        let url = server.url("/a.csv")
        let refused: [([String], String)] = [
            (["sync", "pull", scratch, "--http", url], "--mode RO"),
            (["sync", "push", scratch, "--mode", "RO", "--http", url], "only pulled"),
            (["sync", "pull", "s3://bucket/p", scratch, "--mode", "RO", "--http", url], "the volume directory alone"),
            (["sync", "pull", scratch, "--mode", "RO", "--http", url + "#checksum=sha256:abc"], "is not a checksum"),
            (["sync", "pull", scratch, "--mode", "RO", "--http", url + "#size=3"], "expected checksum=ALGORITHM:HEX or path=NAME"),
            (["sync", "pull", scratch, "--mode", "RO", "--http", server.url("/")], "names no file"),
            (["sync", "pull", scratch, "--mode", "RO", "--http", "ftp://host/a"], "is not an http:// or https:// URL"),
            (["sync", "pull", "s3://bucket/p"], "missing the volume directory"),
        ]
        for (arguments, message) in refused {
            let result = try run(arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(server.requests.isEmpty, "nothing was fetched")
    }
}
