/// Standard base64 with padding and no line breaks, as Foundation's `base64EncodedString()`
/// writes it: the mutation's patch goes into its answer so. Written in one pass into a
/// string of its final size (Foundation's goes through `Data` and a second copy).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        let length = (bytes.count + 2) / 3 * 4
        guard length > 0 else { return "" }
        return String(unsafeUninitializedCapacity: length) { buffer in
            alphabet.withUnsafeBufferPointer { alphabet in
                bytes.withUnsafeBufferPointer { input in
                    // Unchecked pointers: every index below is within the sizes worked out above.
                    let (table, from, to) = (alphabet.baseAddress!, input.baseAddress!, buffer.baseAddress!)
                    var (i, o) = (0, 0)
                    let whole = input.count - input.count % 3
                    while i < whole {
                        let n = UInt32(from[i]) << 16 | UInt32(from[i + 1]) << 8 | UInt32(from[i + 2])
                        to[o] = table[Int(n >> 18)]
                        to[o + 1] = table[Int(n >> 12 & 63)]
                        to[o + 2] = table[Int(n >> 6 & 63)]
                        to[o + 3] = table[Int(n & 63)]
                        i += 3
                        o += 4
                    }
                    let rest = input.count - whole
                    guard rest > 0 else { return }
                    let n = UInt32(from[i]) << 16 | (rest == 2 ? UInt32(from[i + 1]) << 8 : 0)
                    to[o] = table[Int(n >> 18)]
                    to[o + 1] = table[Int(n >> 12 & 63)]
                    to[o + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
                    to[o + 3] = UInt8(ascii: "=")
                }
            }
            return length
        }
    }
}
