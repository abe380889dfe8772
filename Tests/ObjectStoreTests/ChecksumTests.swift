import CChecksum
import Foundation
@testable import ObjectStore
import Testing

/// CRC-32C and the part checksums of a multipart upload; no network.
@Suite struct ChecksumTests {
    func crc(_ bytes: [UInt8], portable: Bool = false) -> UInt32 {
        bytes.withUnsafeBytes { portable ? stowage_crc32c_portable(0, $0.baseAddress, $0.count) : stowage_crc32c(0, $0.baseAddress, $0.count) }
    }

    /// The check value of the CRC catalogue and the iSCSI vectors of RFC 3720, B.4.
    @Test func knownVectors() {
        let vectors: [([UInt8], UInt32)] = [
            (Array("123456789".utf8), 0xE306_9283),
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            ((0..<32).map { UInt8($0) }, 0x46DD_794E),
            ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
            ([], 0),
        ]
        for (input, expected) in vectors {
            #expect(crc(input) == expected, "\(input.count) bytes")
            #expect(crc(input, portable: true) == expected, "\(input.count) bytes, portable")
        }
    }

    /// The CPU instruction path and the table agree at every length and alignment around
    /// its 8-byte steps, and feeding in chunks gives the one-shot value.
    @Test func hardwareAndTableAgreeAtEveryLengthAlignmentAndChunking() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            for offset in 0..<8 {
                for length in 0..<80 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<offset + length])
                    #expect(stowage_crc32c(0, slice.baseAddress, length) == stowage_crc32c_portable(0, slice.baseAddress, length))
                }
            }
            let whole = stowage_crc32c(0, all.baseAddress, all.count)
            var chunked: UInt32 = 0
            var at = 0
            for size in [1, 7, 8, 9, 1000, 3071] {
                chunked = stowage_crc32c(chunked, all.baseAddress! + at, size)
                at += size
            }
            #expect(at == all.count)
            #expect(chunked == whole)
        }
    }

    /// Header values: CRC-32C big-endian in base64 (what x-amz-checksum-crc32c wants),
    /// MD5 in base64 (Content-MD5).
    @Test func partChecksumHeaderValues() {
        let bytes = Array("123456789".utf8)
        for checksum in PartChecksum.allCases {
            var hasher = PartChecksum.Hasher(checksum)
            bytes.withUnsafeBytes { hasher.update($0) }
            let expected = checksum == .crc32c ? "4waSgw==" : ContentDigest.of(Data(bytes)).md5Base64
            #expect(hasher.finalize() == expected)
        }
    }

    /// One read gives the whole-file digest and each part's checksum, at part counts on
    /// and around the edges, equal to checksumming each part on its own; from 8 MiB on, the
    /// read is shared by two threads, with parts that straddle its 256 KiB slots.
    @Test(arguments: [(1, 4096), (4096, 4096), (4096 * 3, 4096), (4096 * 3 + 1, 4096), (4096 * 4 - 1, 4096),
                      (8 << 20, 1 << 20), ((8 << 20) + 12345, (1 << 20) + 7), ((9 << 20) + (256 << 10), 3 << 20)])
    func onePassPartChecksumsMatchEachPartAlone(size: Int, partSize: Int) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parts-\(UUID().uuidString)").path
        // No period: chunks hashed out of order would change the digest.
        let data = Self.noise(size)
        FileManager.default.createFile(atPath: path, contents: data)
        let fd = open(path, O_RDONLY)
        defer { close(fd); unlink(path) }
        #expect(try await ContentDigest.of(file: fd, length: Int64(size)) == ContentDigest.of(data))
        for checksum in PartChecksum.allCases {
            let (digest, parts) = try await ContentDigest.of(file: fd, length: Int64(size), partSize: Int64(partSize), checksum: checksum)
            #expect(digest == ContentDigest.of(data))
            #expect(parts.values.count == (size + partSize - 1) / partSize)
            for (index, value) in parts.values.enumerated() {
                let start = index * partSize
                var alone = PartChecksum.Hasher(checksum)
                data[start..<min(start + partSize, size)].withUnsafeBytes { alone.update($0) }
                #expect(value == alone.finalize(), "\(checksum) part \(index)")
            }
            // As a multipart upload reads them: each part's checksum as soon as it is hashed,
            // asked for out of order, then the whole digest.
            let hashing = FileHashing(descriptor: fd, algorithms: .all, parts: PartHashing(partSize: Int64(partSize), length: Int64(size), checksum: checksum))
            hashing.start(length: Int64(size))
            for index in parts.values.indices.reversed() {
                #expect(try await hashing.partChecksum(index) == parts.values[index], "\(checksum) part \(index) as uploaded")
            }
            #expect(try await hashing.finish(length: Int64(size)).0 == digest)
        }
    }

    /// `count` bytes of xorshift64 output.
    static func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Data {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        return Data(bytes)
    }
}
