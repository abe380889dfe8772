extension JSONValue {
    /// Compact JSON text, object keys sorted (as `JSONEncoder.kube` writes them), so equal
    /// values give equal text. Written directly: generic `Codable` recursion per node costs
    /// several times more.
    public var text: String {
        var out: [UInt8] = []
        Self.write(self, to: &out)
        // Of the exact size: texts that are kept (a cache's `Original`s) waste nothing.
        return String(decoding: out, as: UTF8.self)
    }

    /// The same text as UTF-8 bytes, for a request body.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        Self.write(self, to: &out)
        return out
    }

    public static func write(_ value: JSONValue, to out: inout String) {
        var bytes: [UInt8] = []
        write(value, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    public static func write(string: String, to out: inout String) {
        var bytes: [UInt8] = []
        write(string: string, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the value's compact JSON text as UTF-8: bytes, because appending to a
    /// `String` piece by piece costs more than all the rest of writing a document.
    public static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let b): append(b ? "true" : "false", to: &out)
        case .number(let n):
            switch n.storage {
            case .integer(let i): write(integer: i, to: &out)
            case .literal(let text): out += text.utf8
            }
        case .string(let s): write(string: s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Members sorted as pairs: sorting the keys and looking each up again hashed
            // every key once more.
            for (i, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(string: member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends the decimal digits of `i`, without making a `String` of them.
    static func write(integer i: Int64, to out: inout [UInt8]) {
        if i < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = i.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Appends `string` as a JSON string: quoted, with `"`, `\` and control characters
    /// escaped; runs that need no escape (nearly all of every string) are copied whole.
    ///
    /// Scanned eight bytes at a time while none of them may need an escape: byte by byte,
    /// the scan was a sixth of a pod mutation's instructions (its patch, then the patch
    /// again as base64 in the review, some 10 KB).
    public static func write(string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var plain = 0
            var i = 0
            while i < bytes.count {
                if i + 8 <= bytes.count, let base = bytes.baseAddress,
                   !mayNeedEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                    i += 8
                    continue
                }
                let byte = bytes[i]
                defer { i += 1 }
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if plain < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain..<i])) }
                switch byte {
                case UInt8(ascii: "\""): append("\\\"", to: &out)
                case UInt8(ascii: "\\"): append("\\\\", to: &out)
                case UInt8(ascii: "\n"): append("\\n", to: &out)
                case UInt8(ascii: "\r"): append("\\r", to: &out)
                case UInt8(ascii: "\t"): append("\\t", to: &out)
                default:
                    let hex = String(byte, radix: 16)
                    out += ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8
                }
                plain = i + 1
            }
            if plain < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// False when none of the eight bytes of `word` is a control character, `"` or `\`.
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool { escapes(in: word) != 0 }

    /// The high bit of each byte of `word` (read little-endian: the first byte lowest) that
    /// is a control character, `"` or `\`, and maybe of bytes after the first such one. A
    /// byte below 0x20 or equal to one of them is always marked; the borrow of the
    /// subtractions only ever carries from a marked byte into the ones after it, so the
    /// lowest mark is exact: `trailingZeroBitCount / 8` plain bytes come first.
    @inline(__always)
    static func escapes(in word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func below(_ v: UInt64, _ n: UInt64) -> UInt64 { (v &- ones &* n) & ~v & high }
        return below(word, 0x20) | below(word ^ (ones &* 0x22), 1) | below(word ^ (ones &* 0x5C), 1)
    }

    /// Appends literal text.
    @inline(__always)
    public static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
