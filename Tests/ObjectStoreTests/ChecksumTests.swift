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
    /// and around the edges, equal to checksumming each part on its own.
    @Test(arguments: [1, 4096, 4096 * 3, 4096 * 3 + 1, 4096 * 4 - 1])
    func onePassPartChecksumsMatchEachPartAlone(size: Int) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parts-\(UUID().uuidString)").path
        let data = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
        FileManager.default.createFile(atPath: path, contents: data)
        let fd = open(path, O_RDONLY)
        defer { close(fd); unlink(path) }
        for checksum in PartChecksum.allCases {
            let (digest, parts) = try ContentDigest.of(descriptor: fd, length: Int64(size), partSize: 4096, checksum: checksum)
            #expect(digest == ContentDigest.of(data))
            #expect(parts.values.count == (size + 4095) / 4096)
            for (index, value) in parts.values.enumerated() {
                let length = min(4096, size - index * 4096)
                #expect(try value == checksum.of(descriptor: fd, offset: Int64(index * 4096), length: Int64(length)), "\(checksum) part \(index)")
            }
        }
    }
}
