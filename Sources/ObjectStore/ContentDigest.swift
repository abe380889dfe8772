import CChecksum
import Crypto
import Foundation

/// MD5, SHA-1 and SHA-256 of some bytes: MD5 for S3's Content-MD5 and ETag checks, SHA-256
/// for the integrity manifest and signed payloads, and all three for the manifests (what
/// Valohai records of every input).
public struct ContentDigest: Sendable, Hashable, Codable {
    /// Lowercase hex; empty only from a `Hasher` told to skip it.
    public var md5: String
    /// Lowercase hex; empty only from a `Hasher` told to skip it.
    public var sha1: String
    /// Lowercase hex.
    public var sha256: String

    public init(md5: String, sha1: String = "", sha256: String) {
        self.md5 = md5
        self.sha1 = sha1
        self.sha256 = sha256
    }

    /// The digests computed beside SHA-256, which is always computed (it is the one
    /// downloads are checked against, and what names a manifest's content).
    public struct Algorithms: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let md5 = Algorithms(rawValue: 1)
        public static let sha1 = Algorithms(rawValue: 2)
        public static let all: Algorithms = [.md5, .sha1]
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
        ContentDigest(md5: SigV4Signer.hex(Insecure.MD5.hash(data: data)), sha1: SigV4Signer.hex(Insecure.SHA1.hash(data: data)),
                      sha256: SigV4Signer.hex(SHA256.hash(data: data)))
    }

    /// Calls `body` with consecutive chunks (up to 1 MiB) of `length` bytes from `offset`.
    static func read(_ descriptor: Int32, offset: Int64, length: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        // No bigger than the file: 16 transfers of small files need not hold 16 MiB.
        let chunk = Int(max(1, min(Int64(1 << 20), length)))
        let scratch = ReadBuffer(count: chunk)
        defer { scratch.release() }
        let buffer = scratch.bytes
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = try readChunk(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset + done, done: done, of: length)
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
        }
    }

    /// One `pread` into `buffer` (retried on EINTR); the bytes read, at least one. A file
    /// that ends early or cannot be read is an error saying how far the read of `length`
    /// bytes had come (`done`).
    static func readChunk(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, done: Int64, of length: Int64) throws -> Int {
        while true {
            let n = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw S3Error(.init(rawValue: "ReadFailed"), n == 0 ? "file ended after \(done) of \(length) bytes" : String(cString: strerror(errno)), operation: "digest")
            }
            return n
        }
    }

    /// SHA-256 and the chosen `Algorithms` fed incrementally, chunk by chunk; a digest not
    /// chosen is empty. MD5 is the slowest (about 600 MB/s here, against 1.4 GB/s for SHA-256
    /// and 2 GB/s for SHA-1 with the CPU's SHA extensions), so a download whose MD5 is vouched
    /// for skips it.
    public struct Hasher {
        private var md5: Insecure.MD5?
        private var sha1: Insecure.SHA1?
        private var sha = SHA256()

        public init(_ algorithms: Algorithms = .all) {
            md5 = algorithms.contains(.md5) ? Insecure.MD5() : nil
            sha1 = algorithms.contains(.sha1) ? Insecure.SHA1() : nil
        }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            md5?.update(bufferPointer: bytes)
            sha1?.update(bufferPointer: bytes)
            sha.update(bufferPointer: bytes)
        }

        public func finalize() -> ContentDigest {
            ContentDigest(md5: md5.map { SigV4Signer.hex($0.finalize()) } ?? "", sha1: sha1.map { SigV4Signer.hex($0.finalize()) } ?? "",
                          sha256: SigV4Signer.hex(sha.finalize()))
        }
    }
}

/// Memory that files are read into. The kernel's copy into a destination that is not 64-byte
/// aligned runs several times slower on some CPUs (AMD's `rep movsb`: 0.55 against 0.15 s of
/// system time per GiB read here), and malloc puts a large block 16 bytes into a page; an
/// aligned malloc of 1 MiB per file instead let glibc keep the blocks in its heap (peak RSS
/// of a 2 GiB pull 56 to 77 MiB). So a large buffer is a mapping of its own, page-aligned and
/// returned to the system when released; a small one (a small file's size) comes from malloc,
/// 64-byte aligned.
struct ReadBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    private let mapped: Bool

    init(count: Int) {
        if count >= 64 << 10, let base = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED {
            bytes = UnsafeMutableRawBufferPointer(start: base, count: count)
            mapped = true
        } else {
            bytes = .allocate(byteCount: count, alignment: 64)
            mapped = false
        }
    }

    func release() {
        if mapped { munmap(bytes.baseAddress, bytes.count) } else { bytes.deallocate() }
    }
}

/// The checksum of each part of a file as a multipart upload splits it (`partSize` bytes
/// each, the last one shorter), computed in the same read as the file's `ContentDigest`.
public struct PartDigests: Sendable, Hashable {
    public var partSize: Int64
    public var length: Int64
    public var checksum: PartChecksum
    /// Each part's checksum as its header carries it (base64).
    public var values: [String]
}

/// What each part of a multipart upload carries for the server to check before it accepts
/// the part.
public enum PartChecksum: String, Sendable, Hashable, CaseIterable {
    /// `x-amz-checksum-crc32c`, S3's flexible checksums (AWS; SeaweedFS, tested):
    /// computed with the CPU's CRC instruction, about a tenth of MD5's cost (perf of a large
    /// push here: 3.5 % of its CPU in CRC-32C, 45 % in MD5 over the same bytes).
    case crc32c
    /// `Content-MD5`, for servers that do not know flexible checksums.
    case md5

    /// The part's request header.
    var header: String {
        switch self {
        case .crc32c: "x-amz-checksum-crc32c"
        case .md5: "Content-MD5"
        }
    }

    /// CreateMultipartUpload's headers announcing the algorithm (S3 refuses part checksums
    /// the upload did not announce).
    var creationHeaders: [(String, String)] {
        switch self {
        case .crc32c: [("x-amz-checksum-algorithm", "CRC32C")]
        case .md5: []
        }
    }

    /// The element of CompleteMultipartUpload's `<Part>` that repeats the part's checksum.
    var completionElement: String? {
        switch self {
        case .crc32c: "ChecksumCRC32C"
        case .md5: nil
        }
    }

    /// One part's checksum, fed incrementally.
    struct Hasher {
        private enum State {
            case crc32c(UInt32)
            case md5(Insecure.MD5)
        }
        private var state: State

        init(_ checksum: PartChecksum) {
            switch checksum {
            case .crc32c: state = .crc32c(0)
            case .md5: state = .md5(Insecure.MD5())
            }
        }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            switch state {
            case .crc32c(let crc): state = .crc32c(stowage_crc32c(crc, bytes.baseAddress, bytes.count))
            case .md5(var md5):
                md5.update(bufferPointer: bytes)
                state = .md5(md5)
            }
        }

        /// Base64, as the header wants it.
        func finalize() -> String {
            switch state {
            case .crc32c(let crc): withUnsafeBytes(of: crc.bigEndian) { Data($0).base64EncodedString() }
            case .md5(let md5): Data(md5.finalize()).base64EncodedString()
            }
        }
    }
}
