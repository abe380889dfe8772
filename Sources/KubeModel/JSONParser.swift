import Foundation

/// Why a JSON text could not be parsed, and where: one error per document, thrown when the
/// first problem is found (the parser never throws and catches per value).
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public static let unexpectedEnd = Code(name: "unexpected end of input")
        public static let unexpectedByte = Code(name: "unexpected byte")
        public static let invalidEscape = Code(name: "invalid escape")
        public static let invalidUnicode = Code(name: "invalid Unicode")
        public static let invalidNumber = Code(name: "invalid number")
        public static let tooDeep = Code(name: "nesting too deep")
        public static let trailingData = Code(name: "data after the JSON value")
        public var description: String { name }
    }

    public var code: Code
    /// Offset in bytes from the start of the input.
    public var offset: Int
    public var detail: String

    public var description: String { "\(code) at byte \(offset): \(detail)" }
}

extension JSONValue {
    /// Parses UTF-8 JSON text (RFC 8259): any value at the top, objects and arrays nested at
    /// most `maxDepth` deep. Of duplicate keys the first wins, as in Foundation's JSONDecoder.
    public init(parsing data: Data, maxDepth: Int = 512) throws(JSONParseError) {
        let result: Result<JSONValue, JSONParseError> = data.withUnsafeBytes { raw in
            var parser = JSONParser(raw.bindMemory(to: UInt8.self), maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try parser.parseDocument() }
        }
        self = try result.get()
    }

    public init(parsing bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer, maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try parser.parseDocument() }
        }
        self = try result.get()
    }
}

/// A recursive-descent parser over a byte buffer that builds `JSONValue`s directly, without
/// `Decodable` and its per-value type probing.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0
    var depth = 0
    /// Reused for strings with escapes.
    var scratch: [UInt8] = []
    /// The members of the objects being parsed, innermost last.
    var members: [(String, JSONValue)] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipByteOrderMark()
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw error(.trailingData, "\(describe(bytes[index])) after the value") }
        return value
    }

    /// A UTF-8 byte order mark may be ignored (RFC 8259 section 8.1).
    mutating func skipByteOrderMark() {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
    }

    func error(_ code: JSONParseError.Code, _ detail: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(code: code, offset: offset ?? index, detail: detail)
    }

    func describe(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error(.unexpectedEnd, "expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case let byte: throw error(.unexpectedByte, "expected a value, found \(describe(byte))")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = index
        let count = word.utf8CodeUnitCount
        let text = word.utf8Start
        for i in 0..<count {
            guard index < bytes.count else { throw error(.unexpectedEnd, "in literal \(word)", at: start) }
            guard bytes[index] == text[i] else { throw error(.unexpectedByte, "expected \(word)", at: start) }
            index += 1
        }
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw error(.tooDeep, "more than \(maxDepth) nested arrays and objects") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        guard try openObject() else { return .object([:]) }
        // Members wait on a stack shared by all levels and go into a dictionary of their
        // final size at the end: one hash per key, no rehashing as it grows.
        let base = members.count
        defer { members.removeSubrange(base...) }
        repeat {
            try expectKey()
            let key = try parseString()
            try colon()
            members.append((key, try parseValue()))
        } while try nextMember()
        var object = [String: JSONValue](minimumCapacity: members.count - base)
        // Backwards, so that of duplicate keys the first is the one left.
        for (key, value) in members[base...].reversed() { object[key] = value }
        return .object(object)
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        var array: [JSONValue] = []
        guard try openArray() else { return .array(array) }
        repeat {
            array.append(try parseValue())
        } while try nextElement()
        return .array(array)
    }

    // MARK: the punctuation of objects and arrays, for the parser and `JSONReader`

    /// Past the `{` at the reader (one level deeper): false, past the `}` too, for an
    /// empty object.
    mutating func openObject() throws(JSONParseError) -> Bool { try open(closedBy: UInt8(ascii: "}")) }

    /// Past the `[` at the reader (one level deeper): false, past the `]` too, for an
    /// empty array.
    mutating func openArray() throws(JSONParseError) -> Bool { try open(closedBy: UInt8(ascii: "]")) }

    private mutating func open(closedBy closing: UInt8) throws(JSONParseError) -> Bool {
        try enter()
        index += 1  // { or [
        skipWhitespace()
        guard index < bytes.count, bytes[index] == closing else { return true }
        index += 1
        depth -= 1
        return false
    }

    /// Throws unless a key (a string) starts at the reader.
    mutating func expectKey() throws(JSONParseError) {
        guard index < bytes.count else { throw error(.unexpectedEnd, "expected a key") }
        guard bytes[index] == UInt8(ascii: "\"") else { throw error(.unexpectedByte, "expected a string key, found \(describe(bytes[index]))") }
    }

    /// The `:` after a key, and the whitespace around it.
    mutating func colon() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count else { throw error(.unexpectedEnd, "expected ':'") }
        guard bytes[index] == UInt8(ascii: ":") else { throw error(.unexpectedByte, "expected ':', found \(describe(bytes[index]))") }
        index += 1
        skipWhitespace()
    }

    /// After a member: true at `,` (and past it), false at the closing `}` (past it, one
    /// level up).
    mutating func nextMember() throws(JSONParseError) -> Bool { try next(closedBy: UInt8(ascii: "}")) }

    /// After an element: true at `,` (and past it), false at the closing `]` (past it, one
    /// level up).
    mutating func nextElement() throws(JSONParseError) -> Bool { try next(closedBy: UInt8(ascii: "]")) }

    private mutating func next(closedBy closing: UInt8) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw error(.unexpectedEnd, "expected ',' or '\(Character(Unicode.Scalar(closing)))'") }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            skipWhitespace()
            return true
        case closing:
            index += 1
            depth -= 1
            return false
        case let byte: throw error(.unexpectedByte, "expected ',' or '\(Character(Unicode.Scalar(closing)))', found \(describe(byte))")
        }
    }

    /// A string starting at the opening quote. Without escapes (nearly always) the bytes are
    /// validated as UTF-8 and copied once.
    mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        guard let (body, ascii) = try scanPlainString() else { return try parseEscapedString(start: start) }
        let bytes = UnsafeBufferPointer(rebasing: self.bytes[body])
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw error(.invalidUnicode, "string is not valid UTF-8", at: start)
        }
        return text
    }

    /// Passes over a string starting at its opening quote, checking it as `parseString`
    /// does (strings with escapes are decoded, to check them).
    mutating func skipString() throws(JSONParseError) {
        let start = index
        guard let (body, ascii) = try scanPlainString() else {
            _ = try parseEscapedString(start: start)
            return
        }
        if !ascii, String(validating: UnsafeBufferPointer(rebasing: bytes[body]), as: UTF8.self) == nil {
            throw error(.invalidUnicode, "string is not valid UTF-8", at: start)
        }
    }

    /// Past a string without escapes starting at its opening quote: its body, and whether
    /// that is all ASCII. Nil, the reader at the backslash, for a string with escapes.
    ///
    /// Eight bytes at a time (`JSONValue.escapes(in:)`, as the writer scans): a word with no
    /// quote, backslash or control character is passed whole, and one with such a byte up
    /// to that byte, which the byte step then handles. Byte by byte, this was the largest
    /// function of reading an admission review.
    mutating func scanPlainString() throws(JSONParseError) -> (body: Range<Int>, ascii: Bool)? {
        let start = index
        index += 1  // "
        var ascii = true
        let high: UInt64 = 0x8080_8080_8080_8080
        while index < bytes.count {
            if index + 8 <= bytes.count, let base = bytes.baseAddress {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                let marks = JSONValue.escapes(in: word)
                if marks == 0 {
                    if word & high != 0 { ascii = false }
                    index += 8
                    continue
                }
                let plain = marks.trailingZeroBitCount >> 3
                if plain > 0 {
                    if word & high & ((1 << (plain << 3)) - 1) != 0 { ascii = false }
                    index += plain
                }
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return ((start + 1)..<(index - 1), ascii)
            }
            if byte == UInt8(ascii: "\\") { return nil }
            if byte < 0x20 { throw error(.unexpectedByte, "control character \(describe(byte)) in a string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        throw error(.unexpectedEnd, "unterminated string", at: start)
    }

    mutating func parseEscapedString(start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: scratch, as: UTF8.self) else {
                    throw error(.invalidUnicode, "string is not valid UTF-8", at: start)
                }
                return text
            case UInt8(ascii: "\\"):
                let escape = index
                index += 1
                guard index < bytes.count else { break }
                let next = bytes[index]
                index += 1
                switch next {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(next)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(escape: escape)
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error(.invalidUnicode, "unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escape)
                        }
                        index += 2
                        let low = try hex4(escape: index - 2)
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw error(.invalidUnicode, "unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escape)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error(.invalidUnicode, "unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escape)
                    }
                    appendUTF8(scalar)
                default:
                    throw error(.invalidEscape, "\\\(Character(Unicode.Scalar(next))) is not a JSON escape", at: escape)
                }
            default:
                if byte < 0x20 { throw error(.unexpectedByte, "control character \(describe(byte)) in a string") }
                scratch.append(byte)
                index += 1
            }
        }
        throw error(.unexpectedEnd, "unterminated string", at: start)
    }

    mutating func hex4(escape: Int) throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw error(.unexpectedEnd, "in \\u escape", at: escape) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.invalidEscape, "\\u needs four hex digits", at: escape)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Integers that fit `Int64`
    /// (Kubernetes' counts, sizes and generations) are converted as they are scanned; any other
    /// number keeps its text, so that it is written back as it came (see `JSONNumber`).
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = index
        let (negative, magnitude, plain) = try scanNumber()
        if plain {
            if !negative, magnitude <= UInt64(Int64.max) { return JSONNumber(Int64(magnitude)) }
            // Not `-0`, which an integer would write as `0`.
            if negative, magnitude != 0, magnitude <= UInt64(Int64.max) + 1 { return JSONNumber(Int64(truncatingIfNeeded: 0 &- magnitude)) }
        }
        return JSONNumber(literal: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// Past a number, checking its syntax: its sign, and its magnitude when `plain` (an
    /// integer of at most 19 digits, so the magnitude is exact).
    mutating func scanNumber() throws(JSONParseError) -> (negative: Bool, magnitude: UInt64, plain: Bool) {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        guard index < bytes.count else { throw error(.unexpectedEnd, "in a number", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error(.invalidNumber, "leading zero", at: start) }
        } else if isDigit(bytes[index]) {
            while index < bytes.count, isDigit(bytes[index]) {
                mantissa = mantissa &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
        } else {
            throw error(.invalidNumber, "expected a digit, found \(describe(bytes[index]))")
        }
        var plain = digits <= 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            plain = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw index < bytes.count ? error(.invalidNumber, "expected a digit after '.'") : error(.unexpectedEnd, "in a number", at: start)
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            plain = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw index < bytes.count ? error(.invalidNumber, "expected a digit in the exponent") : error(.unexpectedEnd, "in a number", at: start)
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return (negative, mantissa, plain)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
}
