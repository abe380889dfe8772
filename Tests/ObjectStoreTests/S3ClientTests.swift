import CChecksum
import Foundation
import HTTP
import KubeTesting
@testable import ObjectStore
import Synchronization
import Testing

/// The S3 client against the real SeaweedFS S3 gateway of the test environment; every
/// test works in a bucket of its own.
@Suite(.serialized, .tags(.integration, .s3), .timeLimit(.minutes(15))) struct S3ClientTests {
    let env: TestEnvironment

    init() throws { env = try TestEnvironment.shared() }

    func client(secret: String? = nil, key: String? = nil, _ adjust: (inout S3Configuration) -> Void = { _ in }) throws -> S3Client {
        var config = S3Configuration(endpoint: env.s3Endpoint, credentials: S3Credentials(accessKeyID: key ?? env.s3AccessKey, secretAccessKey: secret ?? env.s3SecretKey))
        config.maxAttempts = 2
        adjust(&config)
        return try S3Client(configuration: config)
    }

    /// Uploads `source` as `key`; returns what was stored and the bytes progress reported
    /// for each part, smallest first.
    func uploadCountingParts(_ s3: S3Client, bucket: String, key: String, _ source: (path: String, fd: Int32, data: Data),
                             metadata: [String: String] = [:]) async throws -> (UploadedObject, [Int64]) {
        let pieces = Mutex<[Int64]>([])
        let uploaded = try await s3.upload(bucket: bucket, key: key, from: source.fd, length: Int64(source.data.count), metadata: metadata,
                                           moved: { bytes in pieces.withLock { $0.append(bytes) } })
        return (uploaded, pieces.withLock { $0.sorted() })
    }

    func withBucket(_ s3: S3Client, _ name: String, _ body: (String) async throws -> Void) async throws {
        try await s3.withTemporaryBucket("os-\(name)", body)
    }

    /// A temporary file of `size` pseudo-random bytes, open for reading and writing.
    func tempFile(size: Int) throws -> (path: String, fd: Int32, data: Data) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("s3test-\(UUID().uuidString)").path
        var data = Data(count: size)
        var generator = SystemRandomNumberGenerator()
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = generator.next() }
        }
        FileManager.default.createFile(atPath: path, contents: data)
        let fd = open(path, O_RDWR)
        return (path, fd, data)
    }

    @Test func putHeadGetListDeleteWithAwkwardNames() async throws {
        let s3 = try client()
        try await withBucket(s3, "basic") { bucket in
            let keys = ["plain.txt", "dir/with space/ü名前 & co+=.bin", "dir/deeper/x?y#z%.txt"]
            for (i, key) in keys.enumerated() {
                let etag = try await s3.putObject(bucket: bucket, key: key, data: Data("content \(i)".utf8), metadata: ["mtime": "\(i).5"])
                #expect(etag == ContentDigest.of(Data("content \(i)".utf8)).md5)
            }
            let info = try #require(try await s3.headObject(bucket: bucket, key: keys[1]))
            #expect(info.size == 9)
            #expect(info.metadata["mtime"] == "1.5")
            #expect(try await s3.headObject(bucket: bucket, key: "missing") == nil)
            #expect(try await s3.getObject(bucket: bucket, key: keys[2]) == Data("content 2".utf8))

            let listed = try await s3.listObjects(bucket: bucket)
            #expect(Set(listed.map(\.key)) == Set(keys))
            #expect(try await s3.listObjects(bucket: bucket, prefix: "dir/").count == 2)

            let failed = try await s3.deleteObjects(bucket: bucket, keys: [keys[0], keys[1], "never-existed"])
            #expect(failed.isEmpty)
            #expect(try await s3.listObjects(bucket: bucket).map(\.key) == [keys[2]])
        }
    }

    @Test func listingFollowsContinuationTokens() async throws {
        let s3 = try client()
        try await withBucket(s3, "paging") { bucket in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<25 { group.addTask { try await s3.putObject(bucket: bucket, key: String(format: "p/%03d", i), data: Data([UInt8(i)])) } }
                try await group.waitForAll()
            }
            let listed = try await s3.listObjects(bucket: bucket, prefix: "p/", pageSize: 10)
            #expect(listed.map(\.key) == (0..<25).map { String(format: "p/%03d", $0) })
            #expect(listed.allSatisfy { $0.size == 1 && $0.etagIsMD5 })
        }
    }

    @Test func singlePutAndGetThroughFiles() async throws {
        let s3 = try client()
        try await withBucket(s3, "file") { bucket in
            let source = try tempFile(size: 300_000)
            defer { close(source.fd); unlink(source.path) }
            let etag = try await s3.upload(bucket: bucket, key: "f.bin", from: source.fd, length: Int64(source.data.count), metadata: ["mtime": "42"]).etag
            #expect(etag == ContentDigest.of(source.data).md5)

            let target = try tempFile(size: 0)
            defer { close(target.fd); unlink(target.path) }
            let info = try await s3.download(bucket: bucket, key: "f.bin", to: target.fd, size: 300_000, etag: etag)
            #expect(info.metadata["mtime"] == "42")
            #expect(FileManager.default.contents(atPath: target.path) == source.data)
        }
    }

    @Test func multipartUploadAndParallelRangedDownload() async throws {
        let s3 = try client { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.partConcurrency = 3 }
        try await withBucket(s3, "multipart") { bucket in
            let size = 25 << 20 + 12345
            let source = try tempFile(size: size)
            defer { close(source.fd); unlink(source.path) }
            // Hashed as it is sent: the digest of the bytes stored comes back with the ETag.
            let (uploaded, parts) = try await uploadCountingParts(s3, bucket: bucket, key: "big/file.bin", source, metadata: ["mtime": "7"])
            let etag = uploaded.etag
            #expect(etag.hasSuffix("-6"), "six parts make a multipart ETag, got \(etag)")
            #expect(uploaded.digest == ContentDigest.of(source.data))
            // Progress moves part by part, and adds up to the file.
            let fiveMiB: Int64 = 5 << 20
            #expect(parts == [12345, fiveMiB, fiveMiB, fiveMiB, fiveMiB, fiveMiB])
            let listed = try await s3.listObjects(bucket: bucket)
            #expect(listed.map(\.size) == [Int64(size)])

            let target = try tempFile(size: 0)
            defer { close(target.fd); unlink(target.path) }
            let pieces = Mutex<[Int64]>([])
            let (info, _) = try await s3.downloadWithDigest(bucket: bucket, key: "big/file.bin", to: target.fd, size: Int64(size), etag: listed[0].etag,
                                                            moved: { bytes in pieces.withLock { $0.append(bytes) } })
            #expect(info.size == Int64(size))
            #expect(info.metadata["mtime"] == "7")
            // A download splits the object its own way: in four, in whole MiB.
            let ranges: [Int64] = [4 << 20 + 12345, 7 << 20, 7 << 20, 7 << 20]
            #expect(pieces.withLock { $0.sorted() } == ranges)
            #expect(FileManager.default.contents(atPath: target.path) == source.data)
        }
    }

    /// Part counts at the edges (exactly N parts, N parts and one byte, one byte short):
    /// the one-pass part checksums feed the upload, and the parallel ranged download with its
    /// in-order hashing assembles the same bytes and the same MD5 and SHA-256.
    @Test(arguments: [10 << 20, 10 << 20 + 1, 15 << 20 - 1])
    func partEdgesUploadWithOnePassDigestsAndDownloadWithDigest(size: Int) async throws {
        let s3 = try client { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.partConcurrency = 2 }
        try await withBucket(s3, "edges") { bucket in
            let source = try tempFile(size: size)
            defer { close(source.fd); unlink(source.path) }
            let (digest, parts) = try await ContentDigest.of(file: source.fd, length: Int64(size), partSize: 5 << 20, checksum: .crc32c)
            #expect(digest == ContentDigest.of(source.data))
            #expect(parts.values.count == (size + (5 << 20) - 1) / (5 << 20))
            let lastPart = Data(source.data.suffix(from: (parts.values.count - 1) * (5 << 20)))
            #expect(parts.values.last == lastPart.withUnsafeBytes { bytes in
                withUnsafeBytes(of: stowage_crc32c_portable(0, bytes.baseAddress, bytes.count).bigEndian) { Data($0).base64EncodedString() }
            })
            let etag = try await s3.upload(bucket: bucket, key: "e.bin", from: source.fd, length: Int64(size), digest: digest, parts: parts).etag
            #expect(etag.hasSuffix("-\(parts.values.count)"), "\(etag)")

            let target = try tempFile(size: 0)
            defer { close(target.fd); unlink(target.path) }
            let (info, got) = try await s3.downloadWithDigest(bucket: bucket, key: "e.bin", to: target.fd, size: Int64(size), etag: etag, writeBehind: true)
            #expect(info.size == Int64(size))
            #expect(got == digest)
            #expect(FileManager.default.contents(atPath: target.path) == source.data)
        }
    }

    /// A file that changes between hashing and sending (the part checksums come from the
    /// same read as the SHA-256 in the object's metadata) is refused part by part, with
    /// either checksum: the upload is aborted and no object appears whose metadata
    /// describes other bytes. Without hashed parts, each part is checksummed as it is sent.
    @Test(arguments: PartChecksum.allCases)
    func aPartChangedAfterHashingIsRefused(checksum: PartChecksum) async throws {
        let s3 = try client { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.partConcurrency = 2; $0.partChecksum = checksum }
        try await withBucket(s3, "changed-\(checksum)") { bucket in
            let size = 12 << 20
            let source = try tempFile(size: size)
            defer { close(source.fd); unlink(source.path) }
            let (digest, parts) = try await ContentDigest.of(file: source.fd, length: Int64(size), partSize: 5 << 20, checksum: checksum)
            var flipped = ~source.data[6 << 20]
            #expect(pwrite(source.fd, &flipped, 1, off_t(6 << 20)) == 1)
            guard env.s3Server.verifiesChecksums else {
                // moto stores the changed part: there, the sync engine's size and mtime
                // check (before and after the upload) is all that catches such a change.
                let stored = try await s3.upload(bucket: bucket, key: "c.bin", from: source.fd, length: Int64(size), digest: digest, parts: parts)
                #expect(stored.etag.hasSuffix("-3"))
                return
            }
            await #expect { try await s3.upload(bucket: bucket, key: "c.bin", from: source.fd, length: Int64(size), digest: digest, parts: parts) }
                throws: { ($0 as? S3Error)?.code == .badDigest }
            #expect(try await s3.headObject(bucket: bucket, key: "c.bin") == nil)
            #expect(try await s3.listMultipartUploads(bucket: bucket).isEmpty)

            let etag = try await s3.upload(bucket: bucket, key: "c.bin", from: source.fd, length: Int64(size)).etag
            #expect(etag.hasSuffix("-3"), "\(etag)")
            let target = try tempFile(size: 0)
            defer { close(target.fd); unlink(target.path) }
            try await s3.download(bucket: bucket, key: "c.bin", to: target.fd, size: Int64(size), etag: etag)
            #expect(FileManager.default.contents(atPath: target.path) == FileManager.default.contents(atPath: source.path))
        }
    }

    /// A single GET is hashed once complete, both hashes or, when `md5` says so for the
    /// object's head, SHA-256 alone; on both hashing paths (inline under 8 MiB, threads of
    /// its own from 8 MiB).
    @Test(arguments: [(5 << 20) + 3, (9 << 20) + 5])
    func singleGetIsHashedWithTheMD5OnlyWhenAsked(size: Int) async throws {
        let s3 = try client()
        try await withBucket(s3, "hash") { bucket in
            let source = try tempFile(size: size)
            defer { close(source.fd); unlink(source.path) }
            let etag = try await s3.upload(bucket: bucket, key: "s.bin", from: source.fd, length: Int64(source.data.count), metadata: ["k": "v"]).etag
            let truth = ContentDigest.of(source.data)
            for md5 in [true, false] {
                let target = try tempFile(size: 0)
                defer { close(target.fd); unlink(target.path) }
                let asked = Mutex(0)
                let (_, digest) = try await s3.downloadWithDigest(bucket: bucket, key: "s.bin", to: target.fd, size: Int64(source.data.count), etag: etag,
                                                                  algorithms: { head in asked.withLock { $0 += 1 }; return md5 && head.metadata["k"] == "v" ? .all : [] })
                #expect(asked.withLock { $0 } == 1)
                #expect(digest.sha256 == truth.sha256)
                #expect(digest.md5 == (md5 ? etag : ""))
                #expect(digest.sha1 == (md5 ? truth.sha1 : ""))
                #expect(FileManager.default.contents(atPath: target.path) == source.data)
            }
        }
    }

    /// A file too large for 10,000 parts of `partSize` goes in larger parts (here: two of
    /// 9 MiB where 5 MiB parts would make four), and one larger than S3 takes at all is
    /// refused before any request (a sparse file of 5 TiB and a byte).
    @Test func partsGrowToFitThePartCountAndAnObjectOver5TiBIsRefused() async throws {
        let s3 = try client { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.maxPartCount = 2 }
        try await withBucket(s3, "part-count") { bucket in
            let size = 17 << 20 + 12345
            let source = try tempFile(size: size)
            defer { close(source.fd); unlink(source.path) }
            let (uploaded, parts) = try await uploadCountingParts(s3, bucket: bucket, key: "two.bin", source)
            let etag = uploaded.etag
            #expect(etag.hasSuffix("-2"), "two parts make the ETag, got \(etag)")
            let twoParts: [Int64] = [8 << 20 + 12345, 9 << 20]
            #expect(parts == twoParts)
            let target = try tempFile(size: 0)
            defer { close(target.fd); unlink(target.path) }
            try await s3.download(bucket: bucket, key: "two.bin", to: target.fd, size: Int64(size), etag: etag)
            #expect(FileManager.default.contents(atPath: target.path) == source.data)

            let huge = try tempFile(size: 0)
            defer { close(huge.fd); unlink(huge.path) }
            #expect(ftruncate(huge.fd, off_t(S3Configuration.largestObject + 1)) == 0)
            let refused = await #expect(throws: S3Error.self) {
                try await s3.upload(bucket: bucket, key: "huge.bin", from: huge.fd, length: S3Configuration.largestObject + 1)
            }
            #expect(refused?.code == .entityTooLarge)
            #expect(refused?.description.contains("5497558138881 bytes") == true, "\(String(describing: refused))")
            #expect(try await s3.listMultipartUploads(bucket: bucket).isEmpty)
            #expect(try await s3.listObjects(bucket: bucket).map(\.key) == ["two.bin"])
        }
    }

    @Test func failedMultipartUploadIsAbortedAndLeavesNoObject() async throws {
        let s3 = try client { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20; $0.partConcurrency = 2 }
        try await withBucket(s3, "abort") { bucket in
            let source = try tempFile(size: 12 << 20)
            defer { close(source.fd); unlink(source.path) }
            // Claiming more bytes than the file has makes the last part's read fail mid-upload.
            await #expect(throws: (any Error).self) {
                try await s3.upload(bucket: bucket, key: "partial.bin", from: source.fd, length: 20 << 20)
            }
            #expect(try await s3.listObjects(bucket: bucket).isEmpty)
            #expect(try await s3.headObject(bucket: bucket, key: "partial.bin") == nil)
            #expect(try await s3.listMultipartUploads(bucket: bucket).isEmpty)
        }
    }

    /// Where the server verifies `Content-MD5` (SeaweedFS, AWS), a body corrupted on the way
    /// is refused; moto stores it, which is why downloads are checked against the recorded
    /// SHA-256 too.
    @Test func contentMD5MismatchIsRefused() async throws {
        let s3 = try client()
        try await withBucket(s3, "digest") { bucket in
            let wrong = ContentDigest.of(Data("other".utf8))
            let call = S3Client.Call(operation: "PutObject", method: .put, bucket: bucket, key: "k", headers: [("Content-MD5", wrong.md5Base64)],
                                     body: .data(Data("payload".utf8)), payloadHash: SigV4Signer.unsignedPayload)
            var refusal: S3Error?
            do { _ = try await s3.send(call) } catch { refusal = error as? S3Error }
            let stored = try await s3.headObject(bucket: bucket, key: "k")
            guard env.s3Server.verifiesChecksums else {
                #expect(refusal == nil && stored != nil, "\(env.s3Server) stores a body whose Content-MD5 is wrong")
                return
            }
            #expect(refusal?.code == .badDigest || refusal?.code == .init(rawValue: "InvalidDigest"), "got \(String(describing: refusal))")
            #expect(stored == nil)
        }
    }

    /// On moto, which accepts any credentials, only the missing bucket is an error: Stowage
    /// maps what the server answers (exit 4 for refused credentials) and checks nothing itself.
    @Test func wrongSecretWrongKeyAndMissingBucketAreTyped() async throws {
        let good = try client()
        try await withBucket(good, "auth") { bucket in
            if env.s3Server.checksCredentials {
                await #expect { try await client(secret: "not-the-secret").checkBucket(bucket) } throws: { ($0 as? S3Error)?.code == .signatureDoesNotMatch }
                await #expect { try await client(key: "AKIANOBODY").checkBucket(bucket) } throws: { ($0 as? S3Error)?.code == .invalidAccessKeyId }
            } else {
                try await client(secret: "not-the-secret").checkBucket(bucket)
            }
            await #expect { try await good.checkBucket("no-such-bucket-\(UInt32.random(in: 0...UInt32.max))") } throws: { ($0 as? S3Error)?.code == .noSuchBucket }
        }
    }

    @Test func unreachableEndpointIsATransportError() async throws {
        var config = S3Configuration(endpoint: "http://127.0.0.1:1", credentials: S3Credentials(accessKeyID: "a", secretAccessKey: "b"))
        config.maxAttempts = 2
        config.retryBaseDelay = .milliseconds(10)
        let s3 = try S3Client(configuration: config)
        await #expect { try await s3.checkBucket("any") } throws: { ($0 as? HTTPError)?.code == .connectFailed }
    }

    @Test func presignedURLDownloadsWithPlainCurl() async throws {
        let s3 = try client()
        try await withBucket(s3, "presign") { bucket in
            try await s3.putObject(bucket: bucket, key: "shared/report ü.txt", data: Data("for outside eyes".utf8))
            let url = try s3.presignedURL(bucket: bucket, key: "shared/report ü.txt", expires: .seconds(3600))
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-sS", "--fail", url]
            let pipe = Pipe()
            curl.standardOutput = pipe
            try curl.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            curl.waitUntilExit()
            #expect(curl.terminationStatus == 0)
            #expect(output == Data("for outside eyes".utf8))

            // Tampering with the signed URL must be refused.
            let tampered = url.replacingOccurrences(of: "X-Amz-Expires=3600", with: "X-Amz-Expires=7200")
            let bad = Process()
            bad.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            bad.arguments = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered]
            let badPipe = Pipe()
            bad.standardOutput = badPipe
            try bad.run()
            let code = String(decoding: badPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            bad.waitUntilExit()
            // Stowage relies on the server for this: a link is as safe as the server's checks.
            #expect(code == (env.s3Server.checksCredentials ? "403" : "200"), "\(env.s3Server) answers a tampered link with \(code)")
        }
    }
}
