import Foundation

/// Decodes `Decodable` values from YAML, with errors that name the field and its line and
/// column.
///
/// Scalars are typed by the type asked for: a `Bool` accepts the YAML 1.1 words Kubernetes
/// users write (`yes`, `on`, `true`, ...) only when unquoted; a `String` accepts any scalar's
/// text, so `version: 1.20` or `enabled: yes` read into a String field keep what was
/// written rather than failing. Duplicate keys are an error, as in `kubectl`'s strict mode.
/// `Data` reads base64 and `Date` reads RFC 3339, the encodings of the Kubernetes API.
public struct YAMLDecoder: Sendable {
    public var parser = YAMLParser()

    public init() {}

    /// Decodes the single document in `text`.
    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws(YAMLError) -> T {
        try decode(type, from: parser.parseDocument(text))
    }

    /// Decodes each non-empty document of a `---`-separated stream (empty ones are skipped,
    /// as `kubectl apply` skips them).
    public func decodeAll<T: Decodable>(_ type: T.Type, from text: String) throws(YAMLError) -> [T] {
        var values: [T] = []
        for document in try parser.parseStream(text) where !document.isNull {
            values.append(try decode(type, from: document))
        }
        return values
    }

    /// Decodes an already parsed node.
    public func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode) throws(YAMLError) -> T {
        do {
            return try NodeDecoder(node: node, codingPath: []).decodeValue(type)
        } catch let error as DecodingError {
            throw Self.describe(error, root: node)
        } catch let error as YAMLError {
            throw error
        } catch {
            throw YAMLError(.invalidValue, "\(error)", mark: node.mark)
        }
    }

    /// Turns a `DecodingError` (ours, or one thrown by a type's own `init(from:)`) into a
    /// `YAMLError` pointing at the node its coding path leads to.
    static func describe(_ error: DecodingError, root: YAMLNode) -> YAMLError {
        switch error {
        case .keyNotFound(let key, let context):
            let container = root.node(at: context.codingPath)
            return YAMLError(.missingKey, "missing required key \"\(key.stringValue)\"",
                             mark: container.mark, path: pathString(context.codingPath + [key]))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return YAMLError(.typeMismatch, context.debugDescription,
                             mark: root.node(at: context.codingPath).mark, path: pathString(context.codingPath))
        case .dataCorrupted(let context):
            return YAMLError(.invalidValue, context.debugDescription,
                             mark: root.node(at: context.codingPath).mark, path: pathString(context.codingPath))
        @unknown default:
            return YAMLError(.invalidValue, "\(error)", mark: root.mark)
        }
    }

    /// `spec.members[2].access`
    static func pathString(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue, key.stringValue == "\(index)" || key.stringValue.hasPrefix("Index ") {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }
}

extension YAMLNode {
    /// The deepest node along `path` (for error positions).
    func node(at path: [any CodingKey]) -> YAMLNode {
        var current = self
        for key in path {
            switch current {
            case .sequence(let items, _):
                guard let i = key.intValue, items.indices.contains(i) else { return current }
                current = items[i]
            case .mapping:
                guard let next = current[key.stringValue] else { return current }
                current = next
            case .scalar:
                return current
            }
        }
        return current
    }

    var kindName: String {
        switch self {
        case .scalar(let s): s.resolved == .null ? "null" : "a scalar"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String
    init(_ index: Int) { intValue = index; stringValue = "\(index)" }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { nil }
}

private struct NodeDecoder: Decoder {
    let node: YAMLNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch node {
        case .mapping(let pairs, _):
            var values: [String: YAMLNode] = [:]
            for pair in pairs {
                guard let key = pair.key.scalarValue else {
                    throw DecodingError.typeMismatch(String.self, .init(codingPath: codingPath,
                        debugDescription: "mapping keys must be scalars (at \(pair.key.mark))"))
                }
                guard values.updateValue(pair.value, forKey: key) == nil else {
                    throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                        debugDescription: "duplicate key \"\(key)\" at \(pair.key.mark)"))
                }
            }
            return KeyedDecodingContainer(Keyed<Key>(values: values, order: pairs.compactMap(\.key.scalarValue), codingPath: codingPath))
        case _ where node.isNull:
            return KeyedDecodingContainer(Keyed<Key>(values: [:], order: [], codingPath: codingPath))
        default:
            throw mismatch("a mapping")
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch node {
        case .sequence(let items, _): return Unkeyed(items: items, codingPath: codingPath)
        case _ where node.isNull: return Unkeyed(items: [], codingPath: codingPath)
        default: throw mismatch("a list")
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    func mismatch(_ expected: String) -> DecodingError {
        let found: String
        if case .scalar(let s) = node, s.resolved != .null { found = "\"\(s.value)\"" } else { found = node.kindName }
        return .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(found)"))
    }

    var scalar: YAMLNode.Scalar? {
        if case .scalar(let s) = node { return s }
        return nil
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if type == YAMLNode.self { return node as! T }
        if type == Data.self {
            guard let s = scalar, let data = Data(base64Encoded: s.value) else { throw mismatch("base64 data") }
            return data as! T
        }
        if type == Date.self {
            guard let s = scalar, let date = RFC3339.parse(s.value) else { throw mismatch("an RFC 3339 time") }
            return date as! T
        }
        return try T(from: self)
    }

    func decodeString() throws -> String {
        guard let s = scalar, s.resolved != .null || !s.isPlain else { throw mismatch("a string") }
        return s.value
    }

    func decodeBool() throws -> Bool {
        guard let s = scalar, case .bool(let b) = s.resolved else {
            if let s = scalar, !s.isPlain, YAMLScalarRules.bool(s.value) != nil {
                throw mismatch("a boolean (write it without quotes)")
            }
            throw mismatch("a boolean")
        }
        return b
    }

    func decodeInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard let s = scalar, case .int(let i) = s.resolved else { throw mismatch("an integer") }
        guard let v = I(exactly: i) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(i) does not fit in \(I.self)"))
        }
        return v
    }

    func decodeUnsigned64() throws -> UInt64 {
        // UInt64 values above Int64.max are still integers.
        if let s = scalar, s.isPlain, let v = UInt64(s.value.replacingOccurrences(of: "_", with: "")) { return v }
        return try decodeInteger(UInt64.self)
    }

    func decodeDouble() throws -> Double {
        guard let s = scalar else { throw mismatch("a number") }
        switch s.resolved {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: throw mismatch("a number")
        }
    }
}

private struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: [String: YAMLNode]
    let order: [String]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { order.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    func child(_ key: Key) throws -> NodeDecoder {
        guard let node = values[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing key \"\(key.stringValue)\""))
        }
        return NodeDecoder(node: node, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { values[key.stringValue]?.isNull ?? true }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).decodeDouble()) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeUnsigned64() }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { NodeDecoder(node: .mapping([], Mark(line: 0, column: 0)), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct Unkeyed: UnkeyedDecodingContainer {
    let items: [YAMLNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [YAMLNode], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the list has only \(items.count) items"))
        }
        defer { currentIndex += 1 }
        return NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next().decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeDouble() }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try next().decodeDouble()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeInteger(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeInteger(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeInteger(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeInteger(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeInteger(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeInteger(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeInteger(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeInteger(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeInteger(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeUnsigned64() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct Single: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.node.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decoder.decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decoder.decodeDouble() }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.decodeDouble()) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.decodeInteger(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeInteger(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeInteger(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeInteger(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeInteger(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeInteger(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeUnsigned64() }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}

/// RFC 3339 times as the Kubernetes API writes them (`2026-11-22T03:18:00Z`, with optional
/// fractional seconds).
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let plain = Date.ISO8601FormatStyle()
        if let d = try? plain.parse(text) { return d }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }
}
