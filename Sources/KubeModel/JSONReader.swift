import Foundation

/// Reads chosen fields of a JSON document straight from its bytes, without building a
/// `JSONValue` tree: for a request path that needs a few fields of a large document (the
/// admission webhook reads a pod's volumes and mounts, not its environment or tolerations).
///
/// The caller walks the document (`members`, `elements`, `string`, ...) and leaves alone what
/// it does not ask for: those values are skipped, but checked as `JSONValue(parsing:)`
/// checks them (syntax, escapes, UTF-8, nesting depth), so a document the reader accepts is
/// one the parser accepts. Anything not as the caller expects (a type it did not ask for, a
/// field it reads given twice, a field name written with escapes) is thrown as
/// `JSONParseError` with code `unexpectedType` or `unsupported`: the caller is expected to
/// fall back to the parser and `Decodable`, which say precisely what is wrong. Duplicate
/// fields are refused because the parser keeps the first of them, and a reader that saw the
/// second one first could not know.
public struct JSONReader {
    var parser: JSONParser
    /// Where the field names consumed in the objects being read start and end, innermost
    /// object last: to refuse a field given twice.
    private var consumed: [Range<Int>] = []

    /// A field name as it appears in the document, compared without making a `String`.
    public struct Key {
        let bytes: UnsafeBufferPointer<UInt8>

        public static func ~= (pattern: StaticString, key: Key) -> Bool {
            pattern.utf8CodeUnitCount == key.bytes.count
                && memcmp(pattern.utf8Start, key.bytes.baseAddress!, key.bytes.count) == 0
        }
    }

    /// Reads `data` as one JSON value with `body`, which must consume it; data after the
    /// value is an error, as for the parser.
    public static func read<T>(_ data: Data, maxDepth: Int = 512,
                               _ body: (inout JSONReader) throws(JSONParseError) -> T) throws(JSONParseError) -> T {
        let result: Result<T, JSONParseError> = data.withUnsafeBytes { raw in
            var reader = JSONReader(parser: JSONParser(raw.bindMemory(to: UInt8.self), maxDepth: maxDepth))
            return Result { () throws(JSONParseError) in
                reader.parser.skipByteOrderMark()
                reader.parser.skipWhitespace()
                let value = try body(&reader)
                reader.parser.skipWhitespace()
                if reader.parser.index < reader.parser.bytes.count {
                    throw reader.parser.error(.trailingData, "\(reader.parser.describe(reader.parser.bytes[reader.parser.index])) after the value")
                }
                return value
            }
        }
        return try result.get()
    }

    /// Offset in bytes of the next value, for `reread(at:_:)`.
    public var offset: Int { parser.index }

    /// Reads the value at `offset` (one this reader passed already, at the current nesting
    /// level or deeper) with `body`, then carries on from where it was.
    public mutating func reread<T>(at offset: Int, _ body: (inout JSONReader) throws(JSONParseError) -> T) throws(JSONParseError) -> T {
        let resume = parser.index
        parser.index = offset
        defer { parser.index = resume }
        return try body(&self)
    }

    // MARK: values

    /// True, having consumed it, when the next value is `null`.
    public mutating func null() throws(JSONParseError) -> Bool {
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "n") else { return false }
        try parser.literal("null")
        return true
    }

    public mutating func string() throws(JSONParseError) -> String {
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else { throw mismatch("a string") }
        return try parser.parseString()
    }

    /// A string, or nil for `null`.
    public mutating func optionalString() throws(JSONParseError) -> String? {
        try null() ? nil : string()
    }

    /// A boolean, or nil for `null`.
    public mutating func optionalBool() throws(JSONParseError) -> Bool? {
        guard parser.index < parser.bytes.count else { throw parser.error(.unexpectedEnd, "expected a value") }
        switch parser.bytes[parser.index] {
        case UInt8(ascii: "t"): try parser.literal("true"); return true
        case UInt8(ascii: "f"): try parser.literal("false"); return false
        case UInt8(ascii: "n"): try parser.literal("null"); return nil
        default: throw mismatch("a boolean")
        }
    }

    /// An object of strings (labels, annotations), or nil for `null`. Of duplicate keys the
    /// first wins, as in the parser.
    public mutating func optionalStringMap() throws(JSONParseError) -> [String: String]? {
        if try null() { return nil }
        var map: [String: String] = [:]
        try object { parser throws(JSONParseError) in
            let key = try parser.parseString()
            try parser.colon()
            guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                throw JSONReader.mismatch("a string", at: parser.index)
            }
            let value = try parser.parseString()
            if map[key] == nil { map[key] = value }
        }
        return map
    }

    /// The next value as a tree, for a small part better read by `Decodable`.
    public mutating func value() throws(JSONParseError) -> JSONValue {
        try parser.parseValue()
    }

    /// Passes over the next value, checking it as the parser would.
    public mutating func skip() throws(JSONParseError) {
        try parser.skipValue()
    }

    // MARK: containers

    /// Reads an object: `body` gets each field name, with the reader at its value, and reads
    /// the value or leaves it (it is then skipped). A field read twice, or a field name
    /// with escapes, is refused.
    public mutating func members(_ body: (Key, inout JSONReader) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else { throw mismatch("an object") }
        guard try parser.openObject() else { return }
        let base = consumed.count
        defer { consumed.removeSubrange(base...) }
        repeat {
            let name = try parser.plainKey()
            try parser.colon()
            let start = parser.index
            try body(Key(bytes: UnsafeBufferPointer(rebasing: parser.bytes[name])), &self)
            if parser.index == start {
                try parser.skipValue()
            } else {
                for earlier in consumed[base...] where parser.bytes[earlier].elementsEqual(parser.bytes[name]) {
                    throw JSONParseError(code: .unsupported, offset: name.lowerBound - 1, detail: "field given twice")
                }
                consumed.append(name)
            }
        } while try parser.nextMember()
    }

    /// Reads an array, `body` reading each element.
    public mutating func elements(_ body: (inout JSONReader) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "[") else { throw mismatch("an array") }
        guard try parser.openArray() else { return }
        repeat {
            let start = parser.index
            try body(&self)
            if parser.index == start { try parser.skipValue() }
        } while try parser.nextElement()
    }

    /// Reads an object member by member with the parser itself: `member` reads one key, its
    /// colon and its value.
    private mutating func object(_ member: (inout JSONParser) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else { throw mismatch("an object") }
        guard try parser.openObject() else { return }
        repeat {
            try parser.expectKey()
            try member(&parser)
        } while try parser.nextMember()
    }

    /// An error for what the caller finds not as it expects (a required field missing), at
    /// the reader's offset or `offset`.
    public func unexpected(_ detail: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(code: .unexpectedType, offset: offset ?? parser.index, detail: detail)
    }

    func mismatch(_ expected: String) -> JSONParseError { Self.mismatch(expected, at: parser.index) }

    static func mismatch(_ expected: String, at offset: Int) -> JSONParseError {
        JSONParseError(code: .unexpectedType, offset: offset, detail: "expected \(expected)")
    }
}

extension JSONParseError.Code {
    /// The value is well-formed but not of the type the reader asked for.
    public static let unexpectedType = JSONParseError.Code(name: "unexpected type")
    /// Well-formed JSON that `JSONReader` leaves to the parser (a field given twice, a field
    /// name with escapes).
    public static let unsupported = JSONParseError.Code(name: "left to the parser")
}

extension JSONParser {
    /// The bytes of a field name without escapes, the reader past it.
    mutating func plainKey() throws(JSONParseError) -> Range<Int> {
        try expectKey()
        let start = index + 1
        try skipString()
        let end = index - 1
        if bytes[start..<end].contains(UInt8(ascii: "\\")) {
            throw JSONParseError(code: .unsupported, offset: start - 1, detail: "field name with escapes")
        }
        return start..<end
    }

    /// Passes over one value, checking it as `parseValue` would, without building it.
    mutating func skipValue() throws(JSONParseError) {
        guard index < bytes.count else { throw error(.unexpectedEnd, "expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "{"):
            guard try openObject() else { return }
            repeat {
                try expectKey()
                try skipString()
                try colon()
                try skipValue()
            } while try nextMember()
        case UInt8(ascii: "["):
            guard try openArray() else { return }
            repeat {
                try skipValue()
            } while try nextElement()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        case let byte: throw error(.unexpectedByte, "expected a value, found \(describe(byte))")
        }
    }
}
