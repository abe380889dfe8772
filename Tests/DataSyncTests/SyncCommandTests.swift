import Foundation
import KubeTesting
import ObjectStore
import Testing

/// The `stowage sync` executable as sync pods run it: exit codes, one-line errors, and
/// surviving SIGKILL and SIGTERM. The binary is the one `swift build --build-tests` put
/// next to the test bundle.
@Suite(.serialized, .tags(.integration, .timing, .s3), .timeLimit(.minutes(15))) struct SyncCommandTests {
    let env: TestEnvironment
    let s3: S3Client
    let scratch: String
    let binary: String

    init() throws {
        env = try TestEnvironment.shared()
        s3 = try S3Client(configuration: S3Configuration(endpoint: env.s3Endpoint, credentials: S3Credentials(accessKeyID: env.s3AccessKey, secretAccessKey: env.s3SecretKey)))
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("synccli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stowage").path
    }

    func withBucket(_ name: String, _ body: (String) async throws -> Void) async throws {
        try await s3.withTemporaryBucket("cli-\(name)", body)
    }

    func start(_ arguments: [String], secret: String? = nil) throws -> (Process, Pipe, Pipe) {
        #expect(FileManager.default.isExecutableFile(atPath: binary), "stowage binary at \(binary)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = env.s3AccessKey
        environment["AWS_SECRET_ACCESS_KEY"] = secret ?? env.s3SecretKey
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    func run(_ arguments: [String], secret: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let (process, out, err) = try start(arguments, secret: secret)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// The files' objects under the bucket: the version manifests under `.stowage/` aside.
    func objects(_ bucket: String) async throws -> [S3Object] {
        try await s3.listObjects(bucket: bucket).filter { !$0.key.contains("/.stowage/") }
    }

    func files(_ dir: String, count: Int, size: Int) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 0..<count {
            var data = Data(count: (size + 7) / 8 * 8)
            data.withUnsafeMutableBytes { raw in for j in stride(from: 0, to: raw.count, by: 8) { raw.storeBytes(of: UInt64.random(in: 0...UInt64.max), toByteOffset: j, as: UInt64.self) } }
            data = data.prefix(size)
            try data.write(to: URL(fileURLWithPath: "\(dir)/f\(i).bin"))
        }
    }

    @Test func failuresGiveOneLineAndDistinctExitCodes() async throws {
        try await withBucket("codes") { b in
            let dir = scratch + "/vol"
            // moto accepts any credentials (`S3Server.checksCredentials`).
            if env.s3Server.checksCredentials {
                let wrong = try run(["sync", "pull", "s3://\(b)/p", dir, "--mode", "RO", "--endpoint", env.s3Endpoint], secret: "wrong")
                #expect(wrong.status == 4)
                #expect(wrong.stderr.split(separator: "\n").count == 1 && wrong.stderr.contains("SignatureDoesNotMatch"), "\(wrong.stderr)")
            }
            let missing = try run(["sync", "pull", "s3://no-such-\(b)/p", dir, "--mode", "RO", "--endpoint", env.s3Endpoint])
            #expect(missing.status == 5)
            #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("NoSuchBucket"))
            let unreachable = try run(["sync", "pull", "s3://\(b)/p", dir, "--mode", "RO", "--endpoint", "http://127.0.0.1:1"])
            #expect(unreachable.status == 6)
            #expect(unreachable.stderr.split(separator: "\n").count == 1 && unreachable.stderr.contains("connect"))
            #expect(!FileManager.default.fileExists(atPath: dir))

            try files(dir, count: 3, size: 10)
            let pushed = try run(["sync", "push", "s3://\(b)/p", dir, "--mode", "RWD", "--endpoint", env.s3Endpoint])
            #expect(pushed.status == 0)
            let summary = try JSONSerialization.jsonObject(with: Data(pushed.stdout.utf8)) as? [String: Any]
            #expect(summary?["uploaded"] as? Int == 3)
            #expect((summary?["manifestDigest"] as? String)?.hasPrefix("sha256:") == true)
            for i in 0..<3 { try FileManager.default.removeItem(atPath: "\(dir)/f\(i).bin") }
            let guarded = try run(["sync", "push", "s3://\(b)/p", dir, "--mode", "RWD", "--endpoint", env.s3Endpoint])
            #expect(guarded.status == 3)
            #expect(try await objects(b).count == 3)
            let readOnly = try run(["sync", "push", "s3://\(b)/p", dir, "--mode", "RO", "--endpoint", env.s3Endpoint])
            #expect(readOnly.status == 7)
        }
    }

    /// SIGKILL in the middle of a push leaves only whole objects, and the next run sends only
    /// what was not finished. With `--keep-versions` (a versioned bucket) every object version
    /// is whole, and no more than the files in flight at the kill have a second one.
    @Test(arguments: [false, true])
    func killedPushLeavesOnlyWholeObjectsAndTheNextRunCompletes(keepVersions: Bool) async throws {
        try await withBucket("kill") { b in
            if keepVersions { try await s3.enableVersioning(b) }
            let keep = keepVersions ? ["--keep-versions"] : []
            let dir = scratch + "/vol-\(keepVersions)"
            // Enough files that the kill lands mid-way even when the listing that watches for
            // the first five is slow (the parallel test phase loads both cores): with 60,
            // a loaded run once saw all of them finish first.
            let count = 240
            try files(dir, count: count, size: 512 << 10)
            let (process, _, _) = try start(["sync", "push", "s3://\(b)/p", dir, "--mode", "RW", "--endpoint", env.s3Endpoint, "--concurrency", "2"] + keep)
            var seen = 0
            for _ in 0..<2000 where seen < 5 {
                try await Task.sleep(for: .milliseconds(5))
                seen = try await objects(b).count
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let partial = try await objects(b)
            #expect(partial.count >= 5 && partial.count < count, "killed part-way (\(partial.count) objects)")
            for object in partial {
                let local = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + object.key.dropFirst(2)))
                #expect(object.size == Int64(local.count) && object.etag == ContentDigest.of(local).md5, "\(object.key) is whole")
            }

            #expect(try await s3.listObjects(bucket: b, prefix: "p/.stowage/").isEmpty, "a killed push writes no version")
            let resumed = try run(["sync", "push", "s3://\(b)/p", dir, "--mode", "RW", "--endpoint", env.s3Endpoint] + keep)
            #expect(resumed.status == 0)
            let summary = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
            let uploaded = try #require(summary?["uploaded"] as? Int)
            #expect(uploaded < count && uploaded >= count - partial.count, "journaled uploads are not redone (\(uploaded))")
            #expect(try await objects(b).count == count)
            if keepVersions {
                // A file whose PUT the server finished as the kill came was not journaled yet, and
                // is sent again: at most the two in flight (--concurrency 2).
                let stored = try await s3.listObjectVersions(bucket: b, prefix: "p/f")
                let keys = Set(stored.map(\.key))
                #expect(keys.count == count && stored.count <= count + 2 && stored.allSatisfy { !$0.isDeleteMarker },
                        "about one version per file (\(stored.count) versions of \(keys.count) files)")
                for version in stored {
                    let local = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + version.key.dropFirst(2)))
                    #expect(version.size == Int64(local.count) && version.etag == ContentDigest.of(local).md5, "\(version.key) is whole")
                }
            }
            let again = try run(["sync", "push", "s3://\(b)/p", dir, "--mode", "RW", "--endpoint", env.s3Endpoint] + keep)
            #expect((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["uploaded"] as? Int == 0)
        }
    }

    @Test func sigtermStopsAPullCleanly() async throws {
        try await withBucket("term") { b in
            let src = scratch + "/src"
            try files(src, count: 60, size: 512 << 10)
            #expect(try run(["sync", "push", "s3://\(b)/p", src, "--endpoint", env.s3Endpoint]).status == 0)
            let dst = scratch + "/dst"
            let (process, _, err) = try start(["sync", "pull", "s3://\(b)/p", dst, "--mode", "RO", "--endpoint", env.s3Endpoint, "--concurrency", "2"])
            for _ in 0..<2000 {
                try await Task.sleep(for: .milliseconds(5))
                if ((try? FileManager.default.contentsOfDirectory(atPath: dst))?.count ?? 0) > 5 { break }
            }
            kill(process.processIdentifier, SIGTERM)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 143, "\(stderr)")
            let names = try FileManager.default.contentsOfDirectory(atPath: dst).filter { $0 != ".stowage" }
            #expect(names.count < 60)
            for name in names {
                #expect(try Data(contentsOf: URL(fileURLWithPath: dst + "/" + name)) == Data(contentsOf: URL(fileURLWithPath: src + "/" + name)), "\(name) is whole")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dst + "/.stowage/tmp").isEmpty)
            #expect(try run(["sync", "pull", "s3://\(b)/p", dst, "--mode", "RO", "--endpoint", env.s3Endpoint]).status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dst).filter { $0 != ".stowage" }.count == 60)
        }
    }

    /// The kubelet bind-mounts the termination-message file: the summary must be written into
    /// that file, not renamed over it (which would leave the bind-mounted file empty).
    @Test func theSummaryIsWrittenInPlaceAndTheManifestCarriesTheSequence() async throws {
        try await withBucket("summary") { b in
            let src = scratch + "/summary-src", dst = scratch + "/summary-dst", log = scratch + "/termination-log"
            try files(src, count: 2, size: 100)
            #expect(try run(["sync", "push", "s3://\(b)/p", src, "--mode", "RW", "--endpoint", env.s3Endpoint]).status == 0)
            FileManager.default.createFile(atPath: log, contents: Data("stale".utf8))
            let inode = try #require(try FileManager.default.attributesOfItem(atPath: log)[.systemFileNumber] as? UInt64)
            let pulled = try run(["sync", "pull", "s3://\(b)/p", dst, "--mode", "RO", "--endpoint", env.s3Endpoint,
                                  "--summary-file", log, "--sequence", "5"])
            #expect(pulled.status == 0, "\(pulled.stderr)")
            #expect(try FileManager.default.attributesOfItem(atPath: log)[.systemFileNumber] as? UInt64 == inode, "the same file, written in place")
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log))) as? [String: Any]
            #expect(record?["files"] as? Int == 2 && record?["direction"] as? String == "pull")
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dst + "/.stowage/manifest.json"))) as? [String: Any]
            #expect(manifest?["sequence"] as? Int == 5)
        }
    }

    /// `stowage versions` lists what two pushes left, newest first, with the volume that
    /// pushed; the push's summary and termination record carry the version.
    @Test func versionsListsEveryPush() async throws {
        try await withBucket("versions") { b in
            let src = scratch + "/versions-src", log = scratch + "/versions-log"
            try files(src, count: 2, size: 100)
            let push = ["sync", "push", "s3://\(b)/p", src, "--mode", "RW", "--endpoint", env.s3Endpoint, "--volume", "datavolume/ns/v"]
            let first = try run(push + ["--summary-file", log])
            #expect(first.status == 0, "\(first.stderr)")
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log))) as? [String: Any]
            let firstID = try #require(record?["version"] as? String)
            try files(src, count: 3, size: 100)
            let second = try run(push)
            let secondID = try #require((try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])?["version"] as? String)
            #expect(second.stderr.contains("version \(secondID)"))
            let listed = try run(["versions", "s3://\(b)/p", "--endpoint", env.s3Endpoint])
            #expect(listed.status == 0, "\(listed.stderr)")
            let lines = listed.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            #expect(lines.count == 3 && lines.first == ["TIME", "VERSION", "FILES", "BYTES", "VOLUME"])
            #expect(lines.dropFirst().map { $0[1] } == [secondID, firstID])
            #expect(lines.dropFirst().map { $0[2] } == ["3", "2"] && lines.dropFirst().map { $0[3] } == ["300", "200"])
            #expect(lines.dropFirst().allSatisfy { $0[4] == "datavolume/ns/v" })
            let bad = try run(["versions", "not-a-url", "--endpoint", env.s3Endpoint])
            #expect(bad.status == 7 && bad.stderr.contains("not an s3://"), "\(bad.stderr)")
        }
    }

    /// Write-once outputs from the command line: `--keep-versions` refuses a bucket without
    /// versioning in one line (exit 7) and pushes nothing; with versioning, a pull of the first
    /// version after a second push overwrote and deleted files gives its bytes exactly;
    /// `purge --keep 1 --dry-run` lists what only the first version names and changes nothing;
    /// `purge --keep 1` removes it, and the latest version still pulls whole.
    @Test func writeOnceOutputsKeepEverythingUntilPurge() async throws {
        try await withBucket("purge") { b in
            let src = scratch + "/purge-src"
            func read(_ dir: String) throws -> [String: Data] {
                Dictionary(uniqueKeysWithValues: try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != ".stowage" }.map {
                    ($0, try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)))
                })
            }
            func version(_ result: (status: Int32, stdout: String, stderr: String)) throws -> String {
                #expect(result.status == 0, "\(result.stderr)")
                return try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["version"] as? String)
            }
            func versions() async throws -> Set<String> {
                Set(try await s3.listObjectVersions(bucket: b, prefix: "").map { "\($0.key) \($0.versionID)" })
            }
            try files(src, count: 3, size: 1000)
            let endpoint = ["--endpoint", env.s3Endpoint]
            let push = ["sync", "push", "s3://\(b)/p", src, "--mode", "RWD", "--keep-versions"] + endpoint
            let refused = try run(push)
            #expect(refused.status == 7, "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("keepVersions needs object versioning on bucket \(b)"), "\(refused.stderr)")
            #expect(try await s3.listObjects(bucket: b).isEmpty)

            try await s3.enableVersioning(b)
            let first = try version(try run(push))
            let firstFiles = try read(src)
            try files(src, count: 2, size: 1000)
            try FileManager.default.removeItem(atPath: src + "/f2.bin")
            let second = try version(try run(push))
            let secondFiles = try read(src)
            #expect(first != second && firstFiles.count == 3 && secondFiles.count == 2 && firstFiles["f0.bin"] != secondFiles["f0.bin"])

            let pull = { (dir: String, id: String) in try self.run(["sync", "pull", "s3://\(b)/p", dir, "--mode", "RO", "--version", id] + endpoint) }
            let old = try pull(scratch + "/purge-old", first)
            #expect(old.status == 0 && old.stderr.contains("version \(first)"), "\(old.stderr)")
            #expect(try read(scratch + "/purge-old") == firstFiles, "the first version's bytes exactly")

            let before = try await versions()
            let dry = try run(["purge", "s3://\(b)/p", "--keep", "1", "--dry-run"] + endpoint)
            #expect(dry.status == 0, "\(dry.stderr)")
            let planned = dry.stdout.split(separator: "\n").map(String.init)
            #expect(planned.filter { $0.hasPrefix("would remove object version p/f") }.count == 3, "\(dry.stdout)")
            #expect(planned.contains { $0.hasPrefix("would remove delete marker p/f2.bin ") }, "\(dry.stdout)")
            #expect(planned.contains { $0.hasPrefix("would remove version manifest p/.stowage/versions/") && $0.contains(first) }, "\(dry.stdout)")
            #expect(planned.last?.hasPrefix("dry run: 1 versions kept (latest \(second)), 1 purged: 5 removals") == true, "\(dry.stdout)")
            #expect(try await versions() == before, "a dry run changes nothing")

            let purged = try run(["purge", "s3://\(b)/p", "--keep", "1"] + endpoint)
            #expect(purged.status == 0, "\(purged.stderr)")
            #expect(purged.stdout.split(separator: "\n").filter { $0.hasPrefix("remove ") }.count == 5, "\(purged.stdout)")
            let after = try await versions()
            #expect(after.isSubset(of: before) && before.count - after.count == 5)
            let latest = try pull(scratch + "/purge-latest", second)
            #expect(latest.status == 0, "\(latest.stderr)")
            #expect(try read(scratch + "/purge-latest") == secondFiles, "the latest version is whole")
            let gone = try pull(scratch + "/purge-gone", first)
            #expect(gone.status == 8 && gone.stderr.contains("is not under"), "\(gone.stderr)")
            let listed = try run(["versions", "s3://\(b)/p"] + endpoint)
            #expect(listed.stdout.split(separator: "\n").count == 2 && listed.stdout.contains(second))
            #expect(try run(["purge", "s3://\(b)/p", "--keep", "0"] + endpoint).status == 64)
        }
    }

    /// Someone outside the cluster uploads with plain `curl -T` to a pre-signed PUT link
    /// (Nuvla's upload action), and `stowage sync pull` then fetches the object, checked
    /// against its MD5 ETag. A method other than GET or PUT is a command-line error.
    @Test func aPresignedPutUploadsWithCurlAndAPullFetchesIt() async throws {
        try await withBucket("presign-put") { b in
            let src = scratch + "/presign-src", dst = scratch + "/presign-dst"
            try files(src, count: 1, size: 300 << 10)
            let link = try run(["presign", "--method", "PUT", "s3://\(b)/inbox/upload.bin", "--expires", "1h", "--endpoint", env.s3Endpoint])
            #expect(link.status == 0, "\(link.stderr)")
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-sS", "--fail", "-T", src + "/f0.bin", link.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]
            try curl.run()
            curl.waitUntilExit()
            #expect(curl.terminationStatus == 0)
            let pulled = try run(["sync", "pull", "s3://\(b)/inbox", dst, "--mode", "RO", "--endpoint", env.s3Endpoint])
            #expect(pulled.status == 0, "\(pulled.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: src + "/f0.bin", andPath: dst + "/upload.bin"))
            let wrong = try run(["presign", "--method", "DELETE", "s3://\(b)/inbox/upload.bin", "--endpoint", env.s3Endpoint])
            #expect(wrong.status == 64 && wrong.stderr.contains("DELETE"), "\(wrong.stderr)")
        }
    }

    /// `stowage wait --path DIR:N` returns for a pull numbered above N, not for an older one
    /// nor for a push, and times out with exit 1.
    @Test func waitReturnsForTheAwaitedPullOnly() async throws {
        try await withBucket("wait") { b in
            let src = scratch + "/wait-src", dst = scratch + "/wait-dst"
            try files(src, count: 1, size: 10)
            try FileManager.default.createDirectory(atPath: dst, withIntermediateDirectories: true)
            #expect(try run(["sync", "push", "s3://\(b)/p", src, "--mode", "RW", "--endpoint", env.s3Endpoint]).status == 0)
            #expect(try run(["wait", "--path", dst, "--timeout", "1"]).status == 1, "nothing synced yet: times out")

            let (waiter, _, err) = try start(["wait", "--path", "\(dst):5", "--timeout", "60", "--recheck", "1"])
            let pull = ["sync", "pull", "s3://\(b)/p", dst, "--mode", "RW", "--endpoint", env.s3Endpoint]
            #expect(try run(pull + ["--sequence", "5"]).status == 0)
            #expect(try run(["sync", "push", "s3://\(b)/p", dst, "--mode", "RW", "--endpoint", env.s3Endpoint, "--sequence", "6"]).status == 0)
            // The witness: both syncs completed and the waiter re-checked since (1 s).
            #expect(try run(["wait", "--path", dst, "--timeout", "5"]).status == 0, "a completed sync is there")
            try await Task.sleep(for: .seconds(2))
            #expect(waiter.isRunning, "pull 5 and push 6 are not a pull above 5")
            #expect(try run(pull + ["--sequence", "7"]).status == 0)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            waiter.waitUntilExit()
            #expect(waiter.terminationStatus == 0, "\(stderr)")
            #expect(stderr.contains("a pull numbered above 5"))
        }
    }
}
