import Foundation

/// Any JSON value: for fields Stowage does not model (CRD schemas, patches) and for keeping
/// an object's original form so that writes never drop what the types do not know.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    /// Kept exactly as written (see `JSONNumber`).
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        // From a tree (the client's path) the value is already there.
        if let tree = decoder as? JSONValueDecoder {
            self = tree.value
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
            return
        }
        // Other decoders (Foundation's, or YAML's, which reads any scalar as a string) can
        // only be asked for a type and fail: probed narrowest first.
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .number(JSONNumber(i)) }
        else if let i = try? c.decode(UInt64.self) { self = .number(JSONNumber(i)) }
        else if let n = try? c.decode(Double.self) { self = .number(JSONNumber(n)) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let o = try? c.decode([String: JSONValue].self) { self = .object(o) }
        else { self = .array(try c.decode([JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        // An encoder takes a number only as a Swift type: exact for integers of 64 bits,
        // the nearest `Double` for the rest (`JSONValue.text` writes every one exactly).
        case .number(let n):
            if let i = n.int64 { try c.encode(i) } else if let u = n.exactly(UInt64.self) { try c.encode(u) } else { try c.encode(n.double) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The nearest `Double` to a number.
    public var numberValue: Double? {
        if case .number(let n) = self { return n.double }
        return nil
    }

    /// A number that is an integer in `Int64`'s range, exactly.
    public var int64Value: Int64? {
        if case .number(let n) = self { return n.int64 }
        return nil
    }

    /// Encodes any `Encodable` value into a `JSONValue`.
    public init(encoding value: some Encodable) throws {
        self = try JSONValue(parsing: JSONEncoder.kube.encode(value))
    }

    /// Decodes this value as `T`, by the rules of `JSONDecoder.kube`, straight from the tree.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONValueDecoder(value: self, path: .root).decode(type)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements) { $1 }) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONDecoder {
    /// A decoder for Kubernetes JSON (RFC 3339 times, with or without fractional seconds).
    public static var kube: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339Time.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
            }
            return date
        }
        return d
    }
}

extension JSONEncoder {
    /// An encoder for Kubernetes JSON (RFC 3339 times in whole seconds, stable key order).
    public static var kube: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(date.formatted(Date.ISO8601FormatStyle()))
        }
        return e
    }
}

/// RFC 3339 times as Kubernetes writes them (`2026-11-22T03:18:00Z`, optionally with
/// fractional seconds or an offset). The common shapes are read by hand, as the format
/// styles are slow enough to show in a list of thousands of objects; anything else goes to
/// them.
enum RFC3339Time {
    static func parse(_ text: String) -> Date? {
        var text = text
        if let date = text.withUTF8({ fast($0) }) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    static func fast(_ b: UnsafeBufferPointer<UInt8>) -> Date? {
        guard b.count >= 20 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for i in at..<(at + count) {
                let d = b[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                value = value * 10 + Int(d)
            }
            return value
        }
        guard b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
              let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60 else { return nil }
        var i = 19
        var fraction = 0.0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            var value = 0
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 {
                value = value * 10 + Int(b[i] - UInt8(ascii: "0"))
                i += 1
            }
            let count = i - start
            guard count >= 1, count <= 9 else { return nil }
            var scale = 1
            for _ in 0..<count { scale *= 10 }
            fraction = Double(value) / Double(scale)
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard i + 6 == b.count, b[i + 3] == UInt8(ascii: ":"),
                  let h = digits(i + 1, 2), let m = digits(i + 4, 2), h < 24, m < 60 else { return nil }
            offset = (h * 3600 + m * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

// MARK: - Decoding typed values from a tree

/// Where a value sits in the tree, built only as far as decoding goes and turned into a
/// coding path only for an error.
indirect enum JSONPath: Sendable {
    case root
    case key(JSONPath, String)
    case index(JSONPath, Int)

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node = self
        while true {
            switch node {
            case .root: return keys.reversed()
            case .key(let parent, let key): keys.append(JSONKey(stringValue: key)); node = parent
            case .index(let parent, let index): keys.append(JSONKey(intValue: index)); node = parent
            }
        }
    }
}

struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { self.stringValue = "Index \(intValue)"; self.intValue = intValue }
}

/// A `Decoder` over a `JSONValue`, with the rules of `JSONDecoder.kube` (RFC 3339 dates,
/// base64 data, numbers must fit the integer type exactly): the client parses bytes once
/// into a tree, keeps the tree as the object's `Original` and decodes the typed object from
/// it, so strings are shared rather than copied and `JSONValue` fields cost nothing.
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let path: JSONPath

    var codingPath: [any CodingKey] { path.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch([String: JSONValue].self) }
        return KeyedDecodingContainer(KeyedContainer(object: object, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = value else { throw mismatch([JSONValue].self) }
        return UnkeyedContainer(array: array, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func mismatch(_ type: Any.Type) -> DecodingError {
        let found = switch value {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "a string"
        case .array: "an array"
        case .object: "a dictionary"
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if type == JSONValue.self { return value as! T }
        if type == String.self { return try decodeString() as! T }
        if type == Date.self {
            let text = try decodeString()
            guard let date = RFC3339Time.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
            }
            return date as! T
        }
        if type == Data.self {
            guard let data = Data(base64Encoded: try decodeString()) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Encountered Data is not valid Base64."))
            }
            return data as! T
        }
        if type == URL.self {
            guard let url = URL(string: try decodeString()) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Invalid URL string."))
            }
            return url as! T
        }
        if type == Decimal.self {
            let n = try decodeNumber()
            return (Decimal(string: n.text, locale: Locale(identifier: "en_US_POSIX")) ?? Decimal(n.double)) as! T
        }
        // Labels, annotations, command lines: read straight from the tree when every member
        // is a string; otherwise `Decodable` says which one is not.
        if type == [String: String].self, case .object(let object) = value {
            var strings = [String: String](minimumCapacity: object.count)
            for (key, member) in object {
                guard case .string(let s) = member else { return try T(from: self) }
                strings[key] = s
            }
            return strings as! T
        }
        if type == [String].self, case .array(let array) = value {
            var strings: [String] = []
            strings.reserveCapacity(array.count)
            for member in array {
                guard case .string(let s) = member else { return try T(from: self) }
                strings.append(s)
            }
            return strings as! T
        }
        return try T(from: self)
    }

    func decodeString() throws -> String {
        guard case .string(let s) = value else { throw value == .null ? null(String.self) : mismatch(String.self) }
        return s
    }

    func decodeNumber() throws -> JSONNumber {
        guard case .number(let n) = value else { throw value == .null ? null(Double.self) : mismatch(Double.self) }
        return n
    }

    func decodeDouble() throws -> Double { try decodeNumber().double }

    func decodeInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let n = try decodeNumber()
        guard let i = n.exactly(I.self) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Number \(n) is not representable in Swift as \(I.self)."))
        }
        return i
    }

    func null(_ type: Any.Type) -> DecodingError {
        .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) value but found null instead."))
    }
}

extension JSONValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw value == .null ? null(Bool.self) : mismatch(Bool.self) }
        return b
    }
    func decode(_ type: String.Type) throws -> String { try decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decodeDouble() }
    func decode(_ type: Float.Type) throws -> Float {
        let n = try decodeDouble()
        guard abs(n) <= Double(Float.greatestFiniteMagnitude) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Number \(n) does not fit in Float."))
        }
        return Float(n)
    }
    func decode(_ type: Int.Type) throws -> Int { try decodeInteger(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeInteger(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeInteger(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeInteger(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeInteger(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeInteger(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeInteger(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeInteger(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeInteger(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeInteger(type) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: JSONValue]
    let path: JSONPath

    var codingPath: [any CodingKey] { path.codingPath }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    func child(_ key: Key) throws -> JSONValueDecoder {
        guard let value = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return JSONValueDecoder(value: value, path: .key(path, key.stringValue))
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).value == .null }
    // Values of the expected type are read straight from the object; anything else goes
    // through a child decoder, which builds the coding path and throws the error.
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        if case .bool(let b)? = object[key.stringValue] { return b }
        return try child(key).decode(type)
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        if case .string(let s)? = object[key.stringValue] { return s }
        return try child(key).decodeString()
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeInteger(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }

    // Absent and null both read as nil, without building a decoder for either.
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        switch object[key.stringValue] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: return try child(key).decodeString()
        }
    }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        switch object[key.stringValue] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: return try child(key).decode(type)
        }
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        switch object[key.stringValue] {
        case nil, .null?: return nil
        case .number(let n)?: return n.double
        default: return try child(key).decodeDouble()
        }
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try integerIfPresent(type, forKey: key) }

    private func integerIfPresent<I: FixedWidthInteger>(_ type: I.Type, forKey key: Key) throws -> I? {
        switch object[key.stringValue] {
        case nil, .null?: return nil
        case .number(let n)?: if let i = n.exactly(I.self) { return i }
        default: break
        }
        return try child(key).decodeInteger(type)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        switch object[key.stringValue] {
        case nil, .null?: return nil
        case let value?: return try JSONValueDecoder(value: value, path: .key(path, key.stringValue)).decode(type)
        }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder {
        JSONValueDecoder(value: object["super"] ?? .null, path: .key(path, "super"))
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoder(value: object[key.stringValue] ?? .null, path: .key(path, key.stringValue))
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let path: JSONPath
    var currentIndex = 0

    init(array: [JSONValue], path: JSONPath) {
        self.array = array
        self.path = path
    }

    var codingPath: [any CodingKey] { path.codingPath }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    mutating func next(_ type: Any.Type) throws -> JSONValueDecoder {
        guard currentIndex < array.count else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path.codingPath + [JSONKey(intValue: currentIndex)],
                                                          debugDescription: "Unkeyed container is at end."))
        }
        return JSONValueDecoder(value: array[currentIndex], path: .index(path, currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < array.count else { _ = try next(JSONValue.self); return false }
        if array[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try next(type).decode(type)
        currentIndex += 1
        return value
    }
    mutating func decode(_ type: String.Type) throws -> String {
        if currentIndex < array.count, case .string(let s) = array[currentIndex] {
            currentIndex += 1
            return s
        }
        return try decodeScalar { try $0.decodeString() }
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeScalar { try $0.decode(type) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeScalar { try $0.decodeDouble() } }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeScalar { try $0.decode(type) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeScalar { try $0.decodeInteger(type) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeScalar { try $0.decodeInteger(type) } }

    mutating func decodeScalar<T>(_ read: (JSONValueDecoder) throws -> T) throws -> T {
        let value = try read(try next(T.self))
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try next([String: JSONValue].self).container(keyedBy: type)
        currentIndex += 1
        return container
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try next([JSONValue].self).unkeyedContainer()
        currentIndex += 1
        return container
    }
    mutating func superDecoder() throws -> any Decoder {
        let decoder = try next(JSONValue.self)
        currentIndex += 1
        return decoder
    }
}
