import Crypto
import Foundation

/// MD5 and SHA-256 of some bytes: MD5 for S3's Content-MD5 and ETag checks, SHA-256 for
/// the integrity manifest and signed payloads.
public struct ContentDigest: Sendable, Hashable, Codable {
    /// Lowercase hex.
    public var md5: String
    /// Lowercase hex.
    public var sha256: String

    public init(md5: String, sha256: String) {
        self.md5 = md5
        self.sha256 = sha256
    }

    /// The MD5 in base64, as `Content-MD5` wants it.
    public var md5Base64: String {
        var bytes = [UInt8]()
        let utf8 = Array(md5.utf8)
        for i in stride(from: 0, to: utf8.count - 1, by: 2) {
            bytes.append(UInt8(hexValue(utf8[i]) << 4 | hexValue(utf8[i + 1])))
        }
        return Data(bytes).base64EncodedString()
    }

    private func hexValue(_ c: UInt8) -> UInt8 {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: 0
        }
    }

    public static func of(_ data: Data) -> ContentDigest {
        ContentDigest(md5: SigV4Signer.hex(Insecure.MD5.hash(data: data)), sha256: SigV4Signer.hex(SHA256.hash(data: data)))
    }

    /// Digest of `length` bytes of `descriptor` from `offset`, read in 1 MiB chunks with
    /// `pread` (so it never moves the descriptor's offset and never holds the file in memory).
    public static func of(descriptor: Int32, offset: Int64 = 0, length: Int64) throws -> ContentDigest {
        var md5 = Insecure.MD5()
        var sha = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = pread(descriptor, buffer.baseAddress, want, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw S3Error(.init(rawValue: "ReadFailed"), n == 0 ? "file ended after \(done) of \(length) bytes" : String(cString: strerror(errno)), operation: "digest")
            }
            let slice = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            md5.update(bufferPointer: slice)
            sha.update(bufferPointer: slice)
            done += Int64(n)
        }
        return ContentDigest(md5: SigV4Signer.hex(md5.finalize()), sha256: SigV4Signer.hex(sha.finalize()))
    }

    /// MD5 only (a multipart part's Content-MD5), cheaper than both.
    static func md5(descriptor: Int32, offset: Int64, length: Int64) throws -> Data {
        var md5 = Insecure.MD5()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = pread(descriptor, buffer.baseAddress, want, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw S3Error(.init(rawValue: "ReadFailed"), n == 0 ? "file ended after \(done) of \(length) bytes" : String(cString: strerror(errno)), operation: "digest")
            }
            md5.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
        }
        return Data(md5.finalize())
    }
}
