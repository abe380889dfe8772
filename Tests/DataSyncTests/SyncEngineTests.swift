@testable import DataSync
import Foundation
import HTTP
import KubeTesting
import ObjectStore
import SyncContract
import Testing

/// The sync engine against the real SeaweedFS S3 gateway: every mode, incremental runs,
/// guards, dry runs, interruption and interoperability. Each test has its own bucket and
/// directories.
@Suite(.serialized, .tags(.integration, .s3), .timeLimit(.minutes(15))) struct SyncEngineTests {
    let env: TestEnvironment
    let s3: S3Client
    let scratch: String

    init() throws {
        env = try TestEnvironment.shared()
        s3 = try env.smallPartsClient()
        scratch = try scratchDirectory("sync")
    }

    func withBucket(_ name: String, _ body: (String) async throws -> Void) async throws {
        try await s3.withTemporaryBucket("ds-\(name)", body)
    }

    func sync(_ direction: SyncDirection, _ mode: AccessMode, _ bucket: String, _ dir: String, prefix: String = "data/team one",
              _ adjust: (inout SyncEngine.Options) -> Void = { _ in }) async throws -> SyncReport {
        var options = SyncEngine.Options(direction: direction, mode: mode, bucket: bucket, prefix: prefix, root: dir)
        options.concurrency = 8
        adjust(&options)
        return try await SyncEngine(client: s3, options: options).run()
    }

    func write(_ dir: String, _ path: String, _ text: String) throws {
        let full = dir + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    func randomFile(_ dir: String, _ path: String, size: Int) throws {
        var data = Data(count: size)
        var generator = SystemRandomNumberGenerator()
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = generator.next() }
        }
        try data.write(to: URL(fileURLWithPath: dir + "/" + path))
    }

    /// Relative path to content of every regular file, `.stowage` excluded.
    func tree(_ dir: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: dir)!
        while let path = enumerator.nextObject() as? String {
            if path == ".stowage" { enumerator.skipDescendants(); continue }
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/" + path)
            if attributes[.type] as? FileAttributeType == .typeRegular { result[path] = FileManager.default.contents(atPath: dir + "/" + path) }
        }
        return result
    }

    func mtime(_ path: String) -> Int64 {
        var st = stat()
        lstat(path, &st)
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    /// The files' objects: the version manifests under `.stowage/` aside (`VersionTests`).
    func keys(_ bucket: String) async throws -> Set<String> { Set(try await s3.listObjects(bucket: bucket).map(\.key).filter { !$0.contains("/.stowage/") }) }

    @Test func pushRWThenPullIncrementallyWithAwkwardNamesMultipartAndSymlinks() async throws {
        try await withBucket("roundtrip") { b in
            let src = scratch + "/src"
            try write(src, "top.txt", "top")
            try write(src, "nested/deeper/with space.txt", "spaces")
            try write(src, "nested/ünïcødé 名前.md", "non-ascii")
            try randomFile(src, "nested/big.bin", size: 13 << 20)
            try FileManager.default.createSymbolicLink(atPath: src + "/escape", withDestinationPath: "/etc")
            try FileManager.default.createSymbolicLink(atPath: src + "/nested/link.txt", withDestinationPath: "../top.txt")

            let first = try await sync(.push, .readWrite, b, src)
            #expect(first.uploaded == 4)
            #expect(first.warnings.filter { $0.contains("symbolic link") }.count == 2)
            #expect(try await keys(b) == ["data/team one/top.txt", "data/team one/nested/deeper/with space.txt", "data/team one/nested/ünïcødé 名前.md", "data/team one/nested/big.bin"])
            let big = try await s3.listObjects(bucket: b, prefix: "data/team one/nested/big").first
            #expect(big?.etag.hasSuffix("-3") == true, "13 MiB at 5 MiB parts is a three-part upload")
            #expect(FileManager.default.fileExists(atPath: src + "/.stowage/manifest.json"))
            #expect(!FileManager.default.fileExists(atPath: src + "/.stowage/journal.jsonl"))

            let again = try await sync(.push, .readWrite, b, src)
            #expect(again.uploaded == 0)
            #expect(again.unchanged == 4)
            #expect(again.manifestDigest == first.manifestDigest)
            #expect(again.changedSinceLastSync.isEmpty)

            // A same-size edit: the mtime moves, so it is pushed (aws s3 sync's size+time rule misses
            // this when the edit lands in the same second as the object's upload time).
            try write(src, "top.txt", "TOP")
            let edited = try await sync(.push, .readWrite, b, src)
            #expect(edited.uploaded == 1)
            #expect(edited.changedSinceLastSync.modified == ["top.txt"])
            #expect(edited.manifestDigest != first.manifestDigest)

            let dst = scratch + "/dst"
            let pulled = try await sync(.pull, .readOnly, b, dst)
            #expect(pulled.downloaded == 4)
            let expected = try tree(src)
            #expect(try tree(dst) == expected)
            #expect(expected["top.txt"] == Data("TOP".utf8))
            for path in expected.keys { #expect(mtime(dst + "/" + path) == mtime(src + "/" + path), "\(path) keeps its mtime") }
            #expect(pulled.manifestDigest == edited.manifestDigest, "same content, same digest on both sides")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dst + "/.stowage/tmp").isEmpty)

            let repull = try await sync(.pull, .readOnly, b, dst)
            #expect(repull.downloaded == 0)
            #expect(repull.unchanged == 4)
        }
    }

    @Test func rwNeverDeletesRemoteAndRWDMirrorsDeletions() async throws {
        try await withBucket("modes") { b in
            let dir = scratch + "/vol"
            for name in ["a", "b", "c"] { try write(dir, "\(name).txt", name) }
            _ = try await sync(.push, .readWriteDelete, b, dir)
            try await s3.putObject(bucket: b, key: "data/team one/someone-elses.txt", data: Data("theirs".utf8))
            try FileManager.default.removeItem(atPath: dir + "/a.txt")

            let rw = try await sync(.push, .readWrite, b, dir)
            #expect(rw.deletedRemote == 0)
            #expect(try await keys(b).contains("data/team one/a.txt"))

            let rwd = try await sync(.push, .readWriteDelete, b, dir)
            #expect(rwd.deletedRemote == 1)
            #expect(try await keys(b) == ["data/team one/b.txt", "data/team one/c.txt", "data/team one/someone-elses.txt"])
        }
    }

    @Test func rwdGuardsRefuseAndChangeNothing() async throws {
        try await withBucket("guards") { b in
            let dir = scratch + "/vol"
            for i in 0..<5 { try write(dir, "f\(i).txt", "\(i)") }
            _ = try await sync(.push, .readWriteDelete, b, dir)
            for i in 0..<4 { try FileManager.default.removeItem(atPath: dir + "/f\(i).txt") }
            try write(dir, "new.txt", "new")

            await #expect { try await sync(.push, .readWriteDelete, b, dir) { $0.maxDeletes = 3 } } throws: { ($0 as? SyncError)?.code == .deletionGuard }
            #expect(try await keys(b).count == 5, "nothing deleted")
            #expect(!(try await keys(b)).contains("data/team one/new.txt"), "nothing uploaded either")

            let emptyDir = scratch + "/empty"
            try FileManager.default.createDirectory(atPath: emptyDir, withIntermediateDirectories: true)
            await #expect { try await sync(.push, .readWriteDelete, b, emptyDir) } throws: { ($0 as? SyncError)?.code == .deletionGuard }
            #expect(try await keys(b).count == 5)

            let allowed = try await sync(.push, .readWriteDelete, b, dir) { $0.maxDeletes = 4 }
            #expect(allowed.deletedRemote == 4)
            #expect(try await keys(b) == ["data/team one/f4.txt", "data/team one/new.txt"])
        }
    }

    @Test func dryRunChangesNothing() async throws {
        try await withBucket("dryrun") { b in
            let dir = scratch + "/vol"
            try write(dir, "x/y.txt", "y")
            let push = try await sync(.push, .readWrite, b, dir) { $0.dryRun = true }
            #expect(push.planned == ["upload x/y.txt"])
            #expect(try await keys(b).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir + "/.stowage"))

            try await s3.putObject(bucket: b, key: "data/team one/remote.txt", data: Data("r".utf8))
            let fresh = scratch + "/fresh"
            let pull = try await sync(.pull, .readOnly, b, fresh) { $0.dryRun = true }
            #expect(pull.planned == ["download remote.txt"])
            #expect(!FileManager.default.fileExists(atPath: fresh))
        }
    }

    @Test func roPullMirrorsAndRWPullKeepsLocalWork() async throws {
        try await withBucket("pullmodes") { b in
            for name in ["one", "two"] { try await s3.putObject(bucket: b, key: "data/team one/\(name).txt", data: Data(name.utf8)) }
            let dir = scratch + "/vol"
            _ = try await sync(.pull, .readWrite, b, dir)
            try write(dir, "one.txt", "local edit")
            try write(dir, "mine.txt", "new here")

            let rw = try await sync(.pull, .readWrite, b, dir)
            #expect(rw.downloaded == 0)
            #expect(rw.conflicts.count == 1)
            #expect(try tree(dir) == ["one.txt": Data("local edit".utf8), "two.txt": Data("two".utf8), "mine.txt": Data("new here".utf8)])
            // The kept edit is still pending: a push sends it.
            #expect(try await sync(.push, .readWrite, b, dir).uploaded == 2)

            await #expect { try await sync(.push, .readOnly, b, dir) } throws: { ($0 as? SyncError)?.code == .invalidRequest }
            try await s3.putObject(bucket: b, key: "data/team one/one.txt", data: Data("remote wins in RO".utf8))
            let ro = try await sync(.pull, .readOnly, b, dir) { $0.maxDeletes = 0 }
            #expect(ro.downloaded == 1, "only the object changed since the push")
            #expect(try tree(dir)["one.txt"] == Data("remote wins in RO".utf8))
            let mirror = scratch + "/mirror"
            try write(mirror, "stray.txt", "not in the bucket")
            let roMirror = try await sync(.pull, .readOnly, b, mirror)
            #expect(roMirror.deletedLocal == 1)
            #expect(try tree(mirror).keys.sorted() == ["mine.txt", "one.txt", "two.txt"])
            #expect(try tree(mirror)["one.txt"] == Data("remote wins in RO".utf8))
        }
    }

    @Test func checksumModeFindsEditsThatKeepSizeAndMtime() async throws {
        try await withBucket("checksum") { b in
            let dir = scratch + "/vol"
            try write(dir, "f.txt", "aaaa")
            _ = try await sync(.push, .readWrite, b, dir)
            let before = mtime(dir + "/f.txt")
            try write(dir, "f.txt", "bbbb")
            var times = [timespec(tv_sec: Int(before / 1_000_000_000), tv_nsec: Int(before % 1_000_000_000)), timespec(tv_sec: Int(before / 1_000_000_000), tv_nsec: Int(before % 1_000_000_000))]
            #expect(utimensat(AT_FDCWD, dir + "/f.txt", &times, 0) == 0)
            #expect(try await sync(.push, .readWrite, b, dir).uploaded == 0, "size and mtime cannot see it")
            #expect(try await sync(.push, .readWrite, b, dir) { $0.checksum = true }.uploaded == 1)
            #expect(try await s3.getObject(bucket: b, key: "data/team one/f.txt") == Data("bbbb".utf8))
        }
    }

    /// An object Stowage pushed, in parts (11 MiB) or whole (300 KiB, one GET), is pulled
    /// with SHA-256 only, its MD5 and SHA-1 taken from the version manifest (in parts: the
    /// object has no digests of its own) or the metadata (whole); an object whose bytes do
    /// not match the recorded SHA-256 is refused, MD5 or not.
    @Test(arguments: [11 << 20, 300 << 10])
    func pullsTrustTheRecordedMD5OnlyWhenTheSHA256Matches(size: Int) async throws {
        try await withBucket("trusted-md5") { b in
            let src = scratch + "/md5-src"
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            try randomFile(src, "big.bin", size: size)
            _ = try await sync(.push, .readWrite, b, src)
            let head = try #require(try await s3.headObject(bucket: b, key: "data/team one/big.bin"))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: src + "/big.bin"))
            let truth = ContentDigest.of(bytes)
            let whole = size < 6 << 20
            #expect(head.metadata[SyncMetadata.md5] == (whole ? truth.md5 : nil) && head.metadata[SyncMetadata.sha256] == (whole ? truth.sha256 : nil))
            #expect(head.metadata[SyncMetadata.sha1] == (whole ? truth.sha1 : nil))

            let dst = scratch + "/md5-dst"
            _ = try await sync(.pull, .readOnly, b, dst)
            let manifest = try String(contentsOfFile: dst + "/.stowage/manifest.json", encoding: .utf8)
            #expect(manifest.contains(truth.md5) && manifest.contains(truth.sha1) && manifest.contains(truth.sha256))

            // Other bytes under the same recorded digests (an object written by hand).
            var forged = bytes
            forged[forged.count / 2] ^= 0xFF
            try forged.write(to: URL(fileURLWithPath: scratch + "/forged.bin"))
            let fd = open(scratch + "/forged.bin", O_RDONLY)
            defer { close(fd) }
            _ = try await s3.upload(bucket: b, key: "data/team one/forged.bin", from: fd, length: Int64(forged.count),
                                    metadata: [SyncMetadata.sha256: truth.sha256, SyncMetadata.md5: truth.md5])
            await #expect { try await sync(.pull, .readOnly, b, dst) } throws: { error in
                (error as? SyncError)?.code == .transfersFailed && "\(error)".contains("SHA-256")
            }
            #expect(!FileManager.default.fileExists(atPath: dst + "/forged.bin"))
        }
    }

    @Test func cancelledRunLeavesNoPartialFileAndTheNextRunFinishesTheRest() async throws {
        try await withBucket("resume") { b in
            let src = scratch + "/src"
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            for i in 0..<40 { try randomFile(src, "f\(i).bin", size: 256 << 10) }
            _ = try await sync(.push, .readWrite, b, src)

            let dst = scratch + "/dst"
            let progress = SyncProgress()
            var options = SyncEngine.Options(direction: .pull, mode: .readOnly, bucket: b, prefix: "data/team one", root: dst)
            options.concurrency = 2
            let engine = SyncEngine(client: s3, options: options, progress: progress)
            let task = Task { try await engine.run() }
            while progress.filesDone < 5 { try await Task.sleep(for: .milliseconds(2)) }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }

            let partial = try tree(dst)
            #expect(partial.count >= 5 && partial.count < 40, "stopped part-way (\(partial.count) files)")
            let source = try tree(src)
            for (path, data) in partial { #expect(data == source[path], "\(path) is complete, never partial") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dst + "/.stowage/tmp").isEmpty)

            let rest = try await sync(.pull, .readOnly, b, dst)
            #expect(rest.downloaded == 40 - partial.count, "completed files are not downloaded again")
            #expect(try tree(dst) == source)
        }
    }

    /// Downloads are committed in batches (`DownloadCommitter.batchFiles`): a pull of more
    /// files than one batch lands whole, with every file in the manifest; partial downloads
    /// a killed run left next to their destination are never pushed and are removed by the
    /// next run.
    @Test func pullLargerThanACommitBatchAndLeftoverPartialsAreNeverSynced() async throws {
        try await withBucket("batch") { b in
            let src = scratch + "/src"
            let count = DownloadCommitter.batchFiles + 37
            for i in 0..<count { try write(src, "d\(i % 7)/f\(i).txt", "file \(i)") }
            #expect(try await sync(.push, .readWrite, b, src).uploaded == count)

            let dst = scratch + "/dst"
            let pulled = try await sync(.pull, .readOnly, b, dst)
            #expect(pulled.downloaded == count)
            #expect(try tree(dst) == tree(src))
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dst + "/.stowage/manifest.json"))) as? [String: Any]
            #expect((manifest?["entries"] as? [Any])?.count == count)

            // What a run killed mid-download leaves behind.
            try write(dst, "d1/" + LocalTree.partialPrefix + "left-over", "half a file")
            try write(src, "d2/" + LocalTree.partialPrefix + "left-over", "half a file")
            #expect(try await sync(.push, .readWrite, b, src).uploaded == 0, "a partial download is never uploaded")
            #expect(try await keys(b).allSatisfy { !$0.contains(LocalTree.partialPrefix) })
            #expect(try await sync(.pull, .readOnly, b, dst).downloaded == 0)
            #expect(!FileManager.default.fileExists(atPath: dst + "/d1/" + LocalTree.partialPrefix + "left-over"), "removed by the next run")
            #expect(try tree(dst) == tree(src).filter { !$0.key.contains(LocalTree.partialPrefix) })
        }
    }

    @Test func wrongCredentialsMissingBucketAndUnreachableEndpointFailBeforeTouchingTheVolume() async throws {
        try await withBucket("errors") { b in
            let dir = scratch + "/vol"
            func engine(_ config: S3Configuration, bucket: String) throws -> SyncEngine {
                SyncEngine(client: try S3Client(configuration: config), options: .init(direction: .pull, mode: .readOnly, bucket: bucket, prefix: "", root: dir))
            }
            // moto accepts any credentials (`S3Server.checksCredentials`).
            if env.s3Server.checksCredentials {
                var wrong = s3.configuration
                wrong.credentials.secretAccessKey = "wrong"
                await #expect { try await engine(wrong, bucket: b).run() } throws: { ($0 as? S3Error)?.code == .signatureDoesNotMatch }
            }
            await #expect { try await engine(s3.configuration, bucket: "missing-\(UInt32.random(in: 0...UInt32.max))").run() } throws: { ($0 as? S3Error)?.code == .noSuchBucket }
            var unreachable = s3.configuration
            unreachable.endpoint = "http://127.0.0.1:1"
            unreachable.maxAttempts = 1
            await #expect { try await engine(unreachable, bucket: b).run() } throws: { ($0 as? HTTPError)?.code == .connectFailed }
            #expect(!FileManager.default.fileExists(atPath: dir))
        }
    }

    @Test func awsCLIReadsWhatStowagePushesAndStowageReadsWhatAWSPushes() async throws {
        try await withBucket("interop") { b in
            let src = scratch + "/src"
            try write(src, "a/ü b.txt", "from stowage")
            try randomFile(src, "a/big.bin", size: 7 << 20)
            _ = try await sync(.push, .readWrite, b, src, prefix: "x")

            let fromStowage = scratch + "/aws-down"
            try aws(["s3", "sync", "s3://\(b)/x", fromStowage])
            #expect(try tree(fromStowage) == tree(src))

            let awsSrc = scratch + "/aws-src"
            try write(awsSrc, "deep/nested/ñ.txt", "from aws")
            try randomFile(awsSrc, "deep/large.bin", size: 9 << 20)
            try aws(["s3", "sync", awsSrc, "s3://\(b)/y"])
            let fromAWS = scratch + "/stowage-down"
            let report = try await sync(.pull, .readOnly, b, fromAWS, prefix: "y")
            #expect(report.downloaded == 2)
            #expect(try tree(fromAWS) == tree(awsSrc))
        }
    }

    func aws(_ arguments: [String]) throws {
        // STOWAGE_TESTENV_BIN is a PATH-style list of the test environment's tool directories.
        let directories = (ProcessInfo.processInfo.environment["STOWAGE_TESTENV_BIN"] ?? "").split(separator: ":").map(String.init)
            + [NSHomeDirectory() + "/.cache/stowage/testenv/venv/bin"]
        let bin = try #require(directories.first { FileManager.default.isExecutableFile(atPath: $0 + "/aws") }, "the aws CLI of the test environment")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin + "/aws")
        process.arguments = ["--endpoint-url", env.s3Endpoint, "--only-show-errors"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = env.s3AccessKey
        environment["AWS_SECRET_ACCESS_KEY"] = env.s3SecretKey
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "aws \(arguments.joined(separator: " "))")
    }
}
