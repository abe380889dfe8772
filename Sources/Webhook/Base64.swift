/// Standard base64 with padding and no line breaks, as Foundation's `base64EncodedString()`
/// writes it: the mutation's patch goes into its answer so. Written in one pass into a
/// string of its final size (Foundation's goes through `Data` and a second copy).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    /// The two characters of every 12-bit value, in output order: a lookup and a 2-byte copy
    /// per pair, half the lookups of one character at a time (47k to 33k instructions for a
    /// mutation's patch).
    private static let pairs: [UInt8] = (0..<4096).flatMap { [alphabet[$0 >> 6], alphabet[$0 & 63]] }

    static func encode(_ bytes: [UInt8]) -> String {
        let length = (bytes.count + 2) / 3 * 4
        guard length > 0 else { return "" }
        return String(unsafeUninitializedCapacity: length) { buffer in
            pairs.withUnsafeBytes { pairs in
                bytes.withUnsafeBufferPointer { input in
                    // Unchecked pointers: every index below is within the sizes worked out above.
                    let (table, from, to) = (pairs.baseAddress!, input.baseAddress!, UnsafeMutableRawPointer(buffer.baseAddress!))
                    var (i, o) = (0, 0)
                    let whole = input.count - input.count % 3
                    while i < whole {
                        let n = Int(from[i]) << 16 | Int(from[i + 1]) << 8 | Int(from[i + 2])
                        to.storeBytes(of: table.loadUnaligned(fromByteOffset: (n >> 12) << 1, as: UInt16.self), toByteOffset: o, as: UInt16.self)
                        to.storeBytes(of: table.loadUnaligned(fromByteOffset: (n & 4095) << 1, as: UInt16.self), toByteOffset: o + 2, as: UInt16.self)
                        i += 3
                        o += 4
                    }
                    let rest = input.count - whole
                    guard rest > 0 else { return }
                    let n = Int(from[i]) << 16 | (rest == 2 ? Int(from[i + 1]) << 8 : 0)
                    let out = buffer.baseAddress!
                    out[o] = alphabet[n >> 18]
                    out[o + 1] = alphabet[n >> 12 & 63]
                    out[o + 2] = rest == 2 ? alphabet[n >> 6 & 63] : UInt8(ascii: "=")
                    out[o + 3] = UInt8(ascii: "=")
                }
            }
            return length
        }
    }
}
