@testable import DataSync
import Foundation
import HTTP
import KubeTesting
import ObjectStore
import Testing

/// HTTP(S) sources (issue 17, item 5) against a real HTTP server on loopback
/// (`TestHTTPServer`: ETags, Last-Modified, conditional and ranged requests, redirects, and
/// connections it drops mid-body): pulled and verified, a wrong checksum fails naming both
/// digests and leaves no file, a changed source is flagged on the next pull, and an
/// interrupted download resumes with `Range`.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct HTTPPullTests {
    let server: TestHTTPServer
    let root: String

    init() throws {
        server = try TestHTTPServer()
        root = try scratchDirectory("httppull") + "/vol"
    }

    func pull(_ files: [HTTPPullFile], retries: Int = 3, sequence: Int? = nil) async throws -> SyncReport {
        var options = HTTPPullEngine.Options(files: files, root: root)
        options.retries = retries
        options.retryDelay = .milliseconds(20)
        options.sequence = sequence
        return try await HTTPPullEngine(client: HTTPPullEngine.client(stall: .seconds(10)), options: options).run()
    }

    func file(_ path: String, as local: String? = nil, _ checksum: HTTPPullFile.Checksum? = nil) -> HTTPPullFile {
        HTTPPullFile(url: server.url(path), path: local ?? String(path.split(separator: "/").last!), checksum: checksum)
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: root + "/" + path) }

    func manifest() throws -> [String: ManifestEntry] {
        let data = try #require(FileManager.default.contents(atPath: root + "/" + Manifest.file))
        struct Entries: Decodable { var entries: [ManifestEntry] }
        return Dictionary(uniqueKeysWithValues: try JSONDecoder().decode(Entries.self, from: data).entries.map { ($0.path, $0) })
    }

    static func random(_ count: Int) -> Data {
        var words = (0..<(count + 7) / 8).map { _ in UInt64.random(in: .min ... .max) }
        return words.withUnsafeMutableBytes { Data($0.prefix(count)) }
    }

    func stagedFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + HTTPPullEngine.partialDirectory)) ?? []
    }

    @Test func filesArePulledVerifiedAndRecordedWithTheirValidators() async throws {
        defer { server.stop() }
        let csv = Data("a,b\n1,2\n".utf8)
        let blob = Self.random(3 << 20)
        server.set("/data/train.csv", csv)
        server.set("/releases/v1/model.bin", blob)
        // A redirect is followed (as release downloads usually are).
        server.redirect("/latest/model.bin", to: "/releases/v1/model.bin")
        let pinned = HTTPPullFile.Checksum(algorithm: .sha256, hex: ContentDigest.of(csv).sha256)
        let files = [file("/data/train.csv", pinned), file("/latest/model.bin", as: "models/model.bin")]

        let first = try await pull(files, sequence: 4)
        #expect(first.downloaded == 2 && first.unchanged == 0 && first.failures.isEmpty)
        #expect(first.bytesTransferred == Int64(csv.count + blob.count))
        #expect(first.changedSinceLastSync.isEmpty, "a first pull has nothing to compare with")
        #expect(contents("train.csv") == csv)
        #expect(contents("models/model.bin") == blob)
        #expect(stagedFiles().isEmpty, "nothing is left staged after a pull that succeeded")

        let entries = try manifest()
        for (path, source) in [("train.csv", "/data/train.csv"), ("models/model.bin", "/latest/model.bin")] {
            let entry = try #require(entries[path])
            let onDisk = root + "/" + path
            #expect(entry.sha256 == (try coreutilsDigest("sha256sum", onDisk)))
            #expect(entry.sha1 == (try coreutilsDigest("sha1sum", onDisk)))
            #expect(entry.md5 == (try coreutilsDigest("md5sum", onDisk)))
            #expect(entry.url == server.url(source))
            #expect(entry.lastModified?.hasSuffix("GMT") == true)
        }
        #expect(entries["train.csv"]?.etag == server.etag("/data/train.csv"))
        #expect(entries["models/model.bin"]?.etag == server.etag("/releases/v1/model.bin"), "the redirect's target's ETag")
        // The file's mtime is the server's Last-Modified, as `wget -N` and rclone keep it.
        let attributes = try FileManager.default.attributesOfItem(atPath: root + "/train.csv")
        let expectedDate = try #require(entries["train.csv"]?.lastModified.flatMap(HTTPPullEngine.httpDate))
        #expect((attributes[.modificationDate] as? Date) == expectedDate)
        #expect(Manifest.lastCompleted(root: root)?.sequence == 4, "`stowage wait` sees this pull")

        // Nothing changed: each file is asked for conditionally and kept on 304.
        let second = try await pull(files)
        #expect(second.downloaded == 0 && second.unchanged == 2 && second.bytesTransferred == 0)
        let asked = server.requests(for: "/data/train.csv").last
        #expect(asked?.headers["if-none-match"] == server.etag("/data/train.csv"))
        #expect(asked?.headers["if-modified-since"] == entries["train.csv"]?.lastModified)
        #expect(try manifest() == entries)
    }

    @Test func aWrongChecksumFailsThePullNamingBothDigestsAndLeavesNoFile() async throws {
        defer { server.stop() }
        let data = Data("the real content\n".utf8)
        server.set("/d/real.txt", data)
        let actual = ContentDigest.of(data)
        let wrong = String(repeating: "ab", count: 32)
        do {
            _ = try await pull([file("/d/real.txt", HTTPPullFile.Checksum(algorithm: .sha256, hex: wrong))])
            Issue.record("a wrong checksum must fail the pull")
        } catch let error as SyncError {
            #expect(error.code == .transfersFailed)
            #expect(error.message.contains("sha256:\(actual.sha256)"), "\(error)")
            #expect(error.message.contains("sha256:\(wrong)"), "\(error)")
            #expect(error.report?.downloaded == 0)
        }
        #expect(contents("real.txt") == nil, "no file in the volume")
        #expect(stagedFiles().isEmpty, "the download that failed its checksum is deleted, not kept for a resume")
        #expect(!FileManager.default.fileExists(atPath: root + "/" + Manifest.file))

        // MD5 and SHA-1 checksums are checked the same way; the right one passes.
        let md5 = HTTPPullFile.Checksum(algorithm: .md5, hex: actual.md5.uppercased())
        await #expect(throws: SyncError.self) {
            try await pull([file("/d/real.txt", HTTPPullFile.Checksum(algorithm: .sha1, hex: String(repeating: "0", count: 40)))])
        }
        #expect(try await pull([file("/d/real.txt", md5)]).downloaded == 1)
        #expect(contents("real.txt") == data)
    }

    @Test func aChangedSourceIsFlaggedOnTheNextPull() async throws {
        defer { server.stop() }
        server.set("/in/a.csv", Data("one".utf8))
        server.set("/in/b.csv", Data("two".utf8))
        let files = [file("/in/a.csv"), file("/in/b.csv")]
        let first = try await pull(files)
        #expect(first.downloaded == 2 && first.changedSinceLastSync.isEmpty)

        // The server's a.csv changes (new ETag and date): the next pull fetches it and names it.
        server.set("/in/a.csv", Data("ONE!".utf8))
        let second = try await pull(files)
        #expect(second.downloaded == 1 && second.unchanged == 1)
        #expect(second.changedSinceLastSync.modified == ["a.csv"])
        #expect(second.changedSinceLastSync.changes == [SyncReport.Change(
            path: "a.csv", previousSHA256: ContentDigest.of(Data("one".utf8)).sha256, sha256: ContentDigest.of(Data("ONE!".utf8)).sha256)])
        #expect(contents("a.csv") == Data("ONE!".utf8))
        #expect(try manifest()["a.csv"]?.etag == server.etag("/in/a.csv"))

        // New validators, same bytes: fetched again, but no input changed.
        server.set("/in/b.csv", Data("two".utf8))
        let third = try await pull(files)
        #expect(third.downloaded == 1 && third.changedSinceLastSync.isEmpty)

        // A URL added to the list is the spec's change, not the input's; one removed leaves
        // the volume (an RO mirror).
        server.set("/in/c.csv", Data("three".utf8))
        let fourth = try await pull([file("/in/a.csv"), file("/in/c.csv")])
        #expect(fourth.downloaded == 1 && fourth.deletedLocal == 1 && fourth.changedSinceLastSync.isEmpty)
        #expect(contents("b.csv") == nil && contents("c.csv") == Data("three".utf8))
    }

    @Test func aDroppedConnectionIsResumedWithARangeRequest() async throws {
        defer { server.stop() }
        let blob = Self.random(2 << 20)
        server.set("/big.bin", blob)
        server.dropNext("/big.bin", after: 700_000)
        let report = try await pull([file("/big.bin", HTTPPullFile.Checksum(algorithm: .sha256, hex: ContentDigest.of(blob).sha256))])
        #expect(report.downloaded == 1 && contents("big.bin") == blob)
        let asked = server.requests(for: "/big.bin")
        #expect(asked.count == 2)
        #expect(asked.first?.headers["range"] == nil)
        #expect(asked.last?.headers["range"] == "bytes=700000-")
        #expect(asked.last?.headers["if-range"] == server.etag("/big.bin"))
        #expect(report.bytesTransferred == Int64(blob.count), "the first 700,000 bytes are not fetched twice")
    }

    @Test func aFailedPullLeavesItsBytesForTheNextOneToResume() async throws {
        defer { server.stop() }
        let blob = Self.random(1 << 20)
        server.set("/big.bin", blob)
        server.dropNext("/big.bin", after: 400_000)
        // No retries: the pull fails, as one killed mid-download would end.
        await #expect(throws: SyncError.self) { try await pull([file("/big.bin")], retries: 0) }
        #expect(contents("big.bin") == nil, "a partial download is never in the volume")
        #expect(stagedFiles().count == 2, "the bytes and the note of their validators: \(stagedFiles())")

        let next = try await pull([file("/big.bin")], retries: 0)
        #expect(next.downloaded == 1 && contents("big.bin") == blob)
        #expect(server.requests(for: "/big.bin").last?.headers["range"] == "bytes=400000-")
        #expect(next.bytesTransferred == Int64(blob.count - 400_000))
        #expect(stagedFiles().isEmpty)
    }

    @Test func aResumeNeverSplicesTwoVersionsOfAFile() async throws {
        defer { server.stop() }
        server.set("/f.bin", Self.random(1 << 20))
        server.dropNext("/f.bin", after: 300_000)
        await #expect(throws: SyncError.self) { try await pull([file("/f.bin")], retries: 0) }
        // The file changes before the next pull: If-Range does not match, the server sends
        // the whole new file, and that is what the volume gets.
        let changed = Self.random(1 << 20)
        server.set("/f.bin", changed)
        let next = try await pull([file("/f.bin")], retries: 0)
        #expect(server.requests(for: "/f.bin").last?.headers["range"] == "bytes=300000-")
        #expect(contents("f.bin") == changed)
        #expect(next.bytesTransferred == Int64(changed.count))
    }

    @Test func serverErrorsAndRedirectLoopsFailNamingTheURL() async throws {
        defer { server.stop() }
        server.set("/ok.txt", Data("ok".utf8))
        server.redirect("/loop", to: "/loop")
        do {
            _ = try await pull([file("/ok.txt"), file("/missing.txt")], retries: 0)
            Issue.record("a 404 must fail the pull")
        } catch let error as SyncError {
            #expect(error.message.contains("GET \(server.url("/missing.txt")): HTTP 404"), "\(error)")
        }
        #expect(contents("ok.txt") == Data("ok".utf8), "what did download is kept (nothing was deleted)")
        await #expect(throws: SyncError.self) { try await pull([file("/loop", as: "loop")], retries: 0) }
        #expect(server.requests(for: "/loop").count == 11, "one request and at most 10 redirects")
    }

    @Test func oneURLMayGiveTwoFilesAndAFileMayBeEmpty() async throws {
        defer { server.stop() }
        let blob = Self.random(1 << 20)
        server.set("/shared.bin", blob)
        server.set("/empty", Data())
        let report = try await pull([file("/shared.bin", as: "a/copy.bin"), file("/shared.bin", as: "b/copy.bin"), file("/empty")])
        #expect(report.downloaded == 3 && contents("a/copy.bin") == blob && contents("b/copy.bin") == blob)
        let entries = try manifest()
        #expect(contents("empty") == Data() && entries["empty"]?.sha256 == ContentDigest.of(Data()).sha256)
    }

    @Test func listedPathsMustBeSafeAndDistinct() async throws {
        defer { server.stop() }
        for files in [[HTTPPullFile(url: server.url("/a"), path: "../a")],
                      [HTTPPullFile(url: server.url("/a"), path: "x"), HTTPPullFile(url: server.url("/b"), path: "x")],
                      [HTTPPullFile(url: server.url("/a"), path: ".stowage/manifest.json")]] {
            await #expect { try await pull(files) } throws: { ($0 as? SyncError)?.code == .invalidRequest }
        }
    }
}
