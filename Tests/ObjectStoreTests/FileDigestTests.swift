import Foundation
@testable import ObjectStore
import KubeTesting
import Testing

/// Hashing a large file on threads of its own: failures and cancellation; no network.
/// (That its digests equal the one-shot ones: `ChecksumTests.onePassPartChecksumsMatchEachPartAlone`.)
@Suite(.tags(.timing)) struct FileDigestTests {
    /// A file of `size` bytes (sparse: holes read as zeros), open for reading and writing.
    func withFile<T>(size: Int64, _ body: (Int32) async throws -> T) async throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString)").path
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        try #require(ftruncate(fd, off_t(size)) == 0)
        return try await body(fd)
    }

    /// A sync pod told to stop while it hashes a 64 GiB checkpoint stops at once, instead of
    /// after the minutes the whole file would take.
    @Test func cancellingStopsTheHashingOfALargeFile() async throws {
        try await withFile(size: 64 << 30) { fd in
            let hashing = Task { try await ContentDigest.of(file: fd, length: 64 << 30, partSize: 16 << 20, checksum: .crc32c) }
            try await Task.sleep(for: .milliseconds(300))
            let cancelled = ContinuousClock.now
            hashing.cancel()
            await #expect(throws: CancellationError.self) { _ = try await hashing.value }
            // Reading and hashing 64 GiB takes over a minute here.
            #expect(ContinuousClock.now - cancelled < .seconds(10))
        }
    }

    /// A file that ends before the length it was announced with (truncated between `stat`
    /// and the read) is an error naming how far the read came, on both hashing paths.
    @Test(arguments: [Int64(1 << 20), 9 << 20])
    func aFileShorterThanItsLengthIsAnError(size: Int64) async throws {
        try await withFile(size: size) { fd in
            let error = await #expect(throws: S3Error.self) {
                _ = try await ContentDigest.of(file: fd, length: size + 4096)
            }
            #expect(error?.message == "file ended after \(size) of \(size + 4096) bytes")
        }
    }

    /// A parallel download's hashing reads only what `advance` made final. The file has its
    /// full size from the start (as when a later part lands first) and is filled piece by
    /// piece: a read ahead would hash zeros.
    @Test(arguments: [true, false])
    func hashingFollowsAFileAsItIsWritten(md5: Bool) async throws {
        let data = ChecksumTests.noise((9 << 20) + 777)
        try await withFile(size: Int64(data.count)) { fd in
            let hashing = FileHashing(descriptor: fd, algorithms: md5 ? .all : [])
            var written = 0
            for piece in [1 << 20, (3 << 20) + 5, (5 << 20) + 772] {
                let n = data[written..<written + piece].withUnsafeBytes { pwrite(fd, $0.baseAddress, piece, off_t(written)) }
                try #require(n == piece)
                written += piece
                hashing.advance(to: Int64(written))
                try await Task.sleep(for: .milliseconds(20))
            }
            let (digest, parts) = try await hashing.finish(length: Int64(data.count))
            let expected = ContentDigest.of(data)
            #expect(digest.sha256 == expected.sha256)
            #expect(digest.md5 == (md5 ? expected.md5 : ""))
            #expect(digest.sha1 == (md5 ? expected.sha1 : ""))
            #expect(parts == nil)
        }
    }

    /// A hashing left waiting for bytes that will not come (its download failed) ends when
    /// cancelled.
    @Test func aHashingWaitingForBytesEndsWhenCancelled() async throws {
        try await withFile(size: 1 << 20) { fd in
            let hashing = FileHashing(descriptor: fd, algorithms: .all)
            hashing.advance(to: 1 << 20)
            try await Task.sleep(for: .milliseconds(100))
            hashing.cancel()
            await #expect(throws: CancellationError.self) { _ = try await hashing.finish(length: 2 << 20) }
        }
    }
}
